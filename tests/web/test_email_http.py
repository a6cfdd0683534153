"""The email pages over HTTP, through the real website on uvicorn, sending to a real SMTP
server: subscribing, the pages links in emails lead to, and what each refuses."""

from __future__ import annotations

import http.client
import re
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import html as lxml_html
from starlette.routing import Route

from mail_helpers import parts
from smtp_sink import SMTPServer, free_port
from townsquare.model import Frequency
from townsquare.notify.subscribe import CLIENT_LIMIT, SubscriptionForm, subscribe
from townsquare.publish.static_site import build_site
from townsquare.web.app import ROUTES

from .client import Client, Reply
from .conftest import Curated, Emailing, LiveSite

BASE = "http://blogs.example.org"
FORM = "/email/subscribe"


def _ask(
    client: Client,
    address: str,
    frequency: str = "daily",
    categories: tuple[str, ...] = ("all",),
    **extra: str,
) -> Reply:
    """Fill in the form to subscribe, as a browser would: open it, then send it."""
    token = client.get(FORM).token()
    fields = [("csrf", token), ("address", address), ("frequency", frequency)]
    fields += [("categories", c) for c in categories] + list(extra.items())
    return client.post(FORM, fields)


def _link(smtp: SMTPServer, purpose: str, index: int = -1) -> str:
    """The path of the link of one purpose in an email the server took."""
    text, html = parts(smtp.messages[index].message)
    found = re.findall(rf"{BASE}(/email/{purpose}/[\w.-]+)", text)
    assert found and found[0] in html
    return str(found[0])


def _main(reply: Reply) -> str:
    """The words of the headings, paragraphs and buttons in the page's <main>."""
    blocks = lxml_html.fromstring(reply.body).xpath(
        "//main//*[self::h1 or self::h2 or self::p or self::li or self::button]"
    )
    return " ".join(" ".join(b.text_content().split()) for b in blocks)


def _subscribed(site: Emailing, address: str, categories: tuple[str, ...] = ("all",)) -> Client:
    """Someone who subscribed and confirmed, through the pages."""
    client = site.client()
    assert _ask(client, address, categories=categories).status == 200
    link = _link(site.smtp, "confirm")
    assert client.post(link, {"csrf": client.get(link).token()}).status == 200
    return client


@pytest.fixture
def site(emailing: Emailing) -> Emailing:
    return emailing


def test_subscribing_and_confirming(site: Emailing, smtp: SMTPServer) -> None:
    client = site.client()
    form = client.get(FORM)
    assert form.status == 200 and form.headers["cache-control"] == "no-store"
    assert site.client().request("HEAD", FORM).status == 200
    doc = lxml_html.fromstring(form.body)
    assert doc.xpath("//h1/text()") == ["Get posts by email"]
    boxes = doc.xpath("//input[@name='categories']/@value")
    assert boxes[:3] == ["all", "local-government", "comms"] and "digital" in boxes
    assert doc.xpath("//div[@class='trap']//input/@name") == ["website"]
    assert "townsquare_form=" in form.headers["set-cookie"]

    answer = _ask(client, "Ann@Example.org", "weekly", ("digital", "health"))
    assert answer.status == 200
    assert _main(answer).startswith("Check your email We have sent an email to Ann@Example.org.")
    [received] = smtp.messages
    assert received.rcpt == ["Ann@example.org"]  # the domain in lower case
    confirm = _link(smtp, "confirm")
    store = site.store
    assert store.subscriber_counts().unconfirmed == 1

    page = client.get(confirm)
    assert page.status == 200 and "noindex" in page.text
    assert _main(page).startswith(
        "Confirm you want emails Press the button to start getting the weekly email"
    )
    assert store.subscriber_counts().unconfirmed == 1  # looking changes nothing
    done = client.post(confirm, {"csrf": page.token()})
    assert done.status == 200
    assert _main(done).startswith("Subscription confirmed You will get the weekly email")
    counts = store.subscriber_counts()
    assert counts.confirmed[Frequency.WEEKLY] == 1 and counts.unconfirmed == 0
    assert counts.by_category["Health"][Frequency.WEEKLY] == 1
    assert counts.by_category["Comms"][Frequency.WEEKLY] == 0
    again = client.post(confirm, {"csrf": page.token()})
    assert again.status == 200 and "Subscription confirmed" in again.text
    assert client.get(confirm).text.count("Subscription confirmed") == 2  # title and heading


def test_the_answer_is_the_same_for_known_and_unknown_addresses(
    site: Emailing, smtp: SMTPServer
) -> None:
    _subscribed(site, "ann@example.org")
    client = site.client()
    client.get(FORM)
    known = _ask(client, "ann@example.org")
    unknown = _ask(client, "bo@example.org")
    assert known.status == unknown.status == 200
    varies = ("date", "content-length")
    assert {k: v for k, v in known.headers.items() if k not in varies} == {
        k: v for k, v in unknown.headers.items() if k not in varies
    }
    assert known.text.replace("ann@", "bo@") == unknown.text
    # Each was sent its email: the known address a note with its own links.
    note, welcome = smtp.messages[-2:]
    assert note.message["Subject"] == "You already get emails from Public sector blogs"
    assert welcome.message["Subject"] == "Confirm your email from Public sector blogs"


def test_the_form_refuses_a_request_without_its_token(site: Emailing, smtp: SMTPServer) -> None:
    fields = {"address": "ann@example.org", "frequency": "daily", "categories": "all"}
    stranger = site.client()
    assert stranger.post(FORM, fields).status == 403  # no cookie, no token
    mallory, alice = site.client(), site.client()
    token = mallory.get(FORM).token()
    alice.get(FORM)
    refused = alice.post(FORM, {**fields, "csrf": token})  # a token not for her cookie
    assert refused.status == 403 and "This form has expired" in refused.text
    assert smtp.messages == [] and site.store.subscriber_counts().unconfirmed == 0


def test_every_email_form_but_unsubscribing_needs_the_token(site: Emailing) -> None:
    """From the route table, so that a new form cannot forget it."""
    posts = [
        r.path for r in ROUTES
        if isinstance(r, Route) and r.path.startswith("/email/") and "POST" in (r.methods or ())
    ]  # fmt: skip
    answers = {path: site.client().post(path.replace("{token}", "x"), {}).status for path in posts}
    assert answers == {
        "/email/subscribe": 403,
        "/email/confirm/{token}": 403,
        "/email/unsubscribe/{token}": 404,  # no token needed: the link itself does not work
        "/email/preferences/{token}": 403,
    }


def test_a_robot_that_fills_in_the_hidden_field_is_told_what_a_person_would_be(
    site: Emailing, smtp: SMTPServer
) -> None:
    client = site.client()
    robot = _ask(client, "bot@example.org", website="https://spam.example/")
    person = _ask(client, "bot@example.org")
    assert robot.status == 200 and robot.text == person.text
    assert [m.rcpt for m in smtp.messages] == [["bot@example.org"]]  # the person's only


def test_what_is_wrong_with_the_form_is_said_plainly(site: Emailing, smtp: SMTPServer) -> None:
    client = site.client()
    token = client.get(FORM).token()
    reply = client.post(FORM, [("csrf", token), ("address", "<b>ann</b>"), ("categories", "x")])
    assert reply.status == 400
    doc = lxml_html.fromstring(reply.body)
    assert doc.xpath("//title/text()")[0].startswith("Error: Get posts by email")
    summary = doc.xpath("//div[@class='error-summary']//a")
    assert [(a.get("href"), a.text) for a in summary] == [
        ("#address", "Enter an email address in the correct format, like name@example.com"),
        ("#frequency", "Choose how often you want emails: daily or weekly"),
        ("#categories", "Choose at least one category, or all categories"),
    ]
    assert doc.xpath("//input[@id='address']/@aria-describedby") == ["address-error"]
    assert doc.xpath("//input[@id='address']/@value") == ["<b>ann</b>"]  # kept, escaped:
    assert "<b>ann</b>" not in reply.text and "&lt;b&gt;ann&lt;/b&gt;" in reply.text
    assert doc.xpath("//fieldset[.//input[@name='frequency']]/@aria-describedby") == [
        "frequency-hint frequency-error"
    ]
    ids = doc.xpath("//@id")
    assert len(ids) == len(set(ids))
    # What was chosen is kept when the form comes back.
    again = client.post(
        FORM, [("csrf", token), ("address", ""), ("frequency", "weekly"), ("categories", "data")]
    )
    doc = lxml_html.fromstring(again.body)
    assert [a.text for a in doc.xpath("//div[@class='error-summary']//a")] == [
        "Enter your email address"
    ]
    assert doc.xpath("//input[@checked]/@value") == ["weekly", "data"]
    assert smtp.messages == []


def test_one_client_may_ask_only_so_often(site: Emailing, smtp: SMTPServer) -> None:
    now = datetime.now(UTC)
    if now.minute == 59 and now.second > 30:  # the limit counts by clock hour
        time.sleep(60 - now.second)
    client = site.client()
    for i in range(CLIENT_LIMIT):
        assert _ask(client, f"p{i}@example.org").status == 200
    refused = _ask(client, "late@example.org")
    assert refused.status == 429
    assert "You have sent this form too many times. Wait an hour and try again" in refused.text
    assert len(smtp.messages) == CLIENT_LIMIT


def _one_click(site: LiveSite, path: str, body: bytes, content_type: str) -> Reply:
    """A mail client's one-click unsubscribe (RFC 8058): a POST with no cookie."""
    parts_ = urlsplit(site.url)
    conn = http.client.HTTPConnection(parts_.hostname or "", parts_.port, timeout=10)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": content_type})
        response = conn.getresponse()
        return Reply(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        conn.close()


def test_one_click_unsubscribe_needs_no_cookie_and_can_be_repeated(
    site: Emailing, smtp: SMTPServer
) -> None:
    links = []
    for address in ("ann@example.org", "bo@example.org"):
        client = _subscribed(site, address)
        _ask(client, address)  # the note to a subscriber has its links
        links.append(_link(smtp, "unsubscribe"))
    ann, bo = links
    store = site.store
    form = "application/x-www-form-urlencoded"
    first = _one_click(site.site, ann, b"List-Unsubscribe=One-Click", form)
    assert first.status == 200 and "set-cookie" not in first.headers
    assert _main(first).startswith("You have unsubscribed We have deleted your email address.")
    assert store.subscriber_by_address("ann@example.org") is None
    again = _one_click(site.site, ann, b"List-Unsubscribe=One-Click", form)
    assert (again.status, _main(again)) == (200, _main(first))
    # RFC 8058 prefers multipart/form-data.
    multipart = (
        b'--b\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        b"One-Click\r\n--b--\r\n"
    )
    gone = _one_click(site.site, bo, multipart, "multipart/form-data; boundary=b")
    assert gone.status == 200 and store.subscriber_by_address("bo@example.org") is None
    assert store.subscriber_counts().confirmed == {Frequency.DAILY: 0, Frequency.WEEKLY: 0}


def test_following_a_link_changes_nothing(site: Emailing, smtp: SMTPServer) -> None:
    client = site.client()
    _ask(client, "ann@example.org")
    confirm = _link(smtp, "confirm")
    _subscribed(site, "bo@example.org")
    _ask(client, "bo@example.org")
    leave, choose = _link(smtp, "unsubscribe"), _link(smtp, "preferences")
    store = site.store
    before = (
        store.subscriber_by_address("ann@example.org"),
        store.subscriber_by_address("bo@example.org"),
    )
    stranger = site.client()
    for path in (confirm, leave, choose):
        for method in ("GET", "HEAD"):
            assert stranger.request(method, path).status == 200, (method, path)
    page = stranger.get(leave)
    assert _main(page).startswith("Unsubscribe from emails Press the button to stop getting")
    assert 'name="csrf"' not in page.text  # the button needs no token
    after = (
        store.subscriber_by_address("ann@example.org"),
        store.subscriber_by_address("bo@example.org"),
    )
    assert before == after and after[0] is not None and after[0].confirmed_at is None


def test_confirming_and_saving_preferences_need_the_token(site: Emailing, smtp: SMTPServer) -> None:
    client = site.client()
    _ask(client, "ann@example.org")
    confirm = _link(smtp, "confirm")
    _subscribed(site, "bo@example.org")
    _ask(client, "bo@example.org")
    choose = _link(smtp, "preferences")
    stranger = site.client()
    assert stranger.post(confirm, {}).status == 403
    assert stranger.post(choose, {"frequency": "weekly", "categories": "all"}).status == 403
    ann = site.store.subscriber_by_address("ann@example.org")
    bo = site.store.subscriber_by_address("bo@example.org")
    assert ann is not None and ann.confirmed_at is None
    assert bo is not None and bo.frequency is Frequency.DAILY


def test_preferences(site: Emailing, smtp: SMTPServer) -> None:
    client = _subscribed(site, "ann@example.org", ("digital",))
    _ask(client, "ann@example.org")
    path = _link(smtp, "preferences")
    store = site.store
    page = client.get(path)
    doc = lxml_html.fromstring(page.body)
    assert doc.xpath("//h1/text()") == ["Your email preferences"]
    assert doc.xpath("//input[@checked]/@value") == ["daily", "digital"]
    assert "ann@example.org" not in page.text  # the page does not show the address

    wrong = client.post(path, {"csrf": page.token(), "frequency": "weekly"})
    assert wrong.status == 400
    assert "Choose at least one category, or all categories" in _main(wrong)
    assert lxml_html.fromstring(wrong.body).xpath("//input[@checked]/@value") == ["weekly"]

    saved = client.post(
        path,
        [("csrf", page.token()), ("frequency", "weekly"), ("categories", "health"),
         ("categories", "housing")],
    )  # fmt: skip
    assert saved.status == 200
    doc = lxml_html.fromstring(saved.body)
    assert doc.xpath("//div[@role='status']//text()") == ["Your preferences have been saved."]
    assert doc.xpath("//input[@checked]/@value") == ["weekly", "health", "housing"]
    sub = store.subscriber_by_address("ann@example.org")
    assert sub is not None and sub.frequency is Frequency.WEEKLY
    assert sorted(store.subscriber_counts().by_category[n][Frequency.WEEKLY]
                  for n in ("Health", "Housing", "Digital")) == [0, 1, 1]  # fmt: skip

    # A paused subscriber is told why, and saving starts the emails again.
    store.db.execute(
        "UPDATE subscribers SET paused_at = ?, paused_reason = 'refused' WHERE id = ?",
        (datetime.now(UTC), sub.id),
    )
    paused = client.get(path)
    assert "your email provider refused them 3 times in a row" in _main(paused)
    client.post(path, {"csrf": page.token(), "frequency": "daily", "categories": "all"})
    resumed = store.subscriber_by_address("ann@example.org")
    assert resumed is not None and resumed.paused_at is None and resumed.category_ids is None
    assert "refused" not in _main(client.get(path))

    # Leaving from the preferences page: its button posts to the unsubscribe link.
    leave = lxml_html.fromstring(client.get(path).body).xpath("//form[2]/@action")[0]
    assert leave.startswith("/email/unsubscribe/")
    left = site.client().request("POST", leave)
    assert left.status == 200 and "You have unsubscribed" in left.text
    assert store.subscriber_by_address("ann@example.org") is None
    after = client.get(path)
    assert after.status == 200 and "You have unsubscribed" in after.text


def test_links_that_do_not_work_say_what_to_do(site: Emailing, smtp: SMTPServer) -> None:
    client = site.client()
    for purpose in ("confirm", "unsubscribe", "preferences"):
        for method in ("GET", "POST"):
            fields = {"csrf": client.get(FORM).token()} if method == "POST" else None
            reply = client.request(method, f"/email/{purpose}/not-a-real-link", fields)
            assert reply.status == 404, (purpose, method)
            assert _main(reply).startswith("This link does not work It may have been cut short")
    advice = _main(client.get("/email/unsubscribe/WzEsIngiXQ.nope"))
    assert "Or use the link in the most recent email you got from us." in advice
    advice = _main(client.get("/email/confirm/WzEsIngiXQ.nope"))
    assert "Or subscribe again to get a new link." in advice

    # A link to confirm made 49 hours ago has expired.
    long_ago = datetime.now(UTC) - timedelta(hours=49)
    form = SubscriptionForm("cy@example.org", "daily", ["all"])
    subscribe(site.store, site.config, form, client="203.0.113.9", now=long_ago)
    expired = client.get(_link(smtp, "confirm"))
    assert expired.status == 410
    assert _main(expired) == (
        "This link has expired Links to confirm your email work for 48 hours. "
        "Subscribe again to get a new link. "
        "If you still need help, contact curator@example.org."
    )
    lost = client.post(_link(smtp, "confirm"), {"csrf": client.get(FORM).token()})
    assert lost.status == 410
    cy = site.store.subscriber_by_address("cy@example.org")
    assert cy is not None and cy.confirmed_at is None


def test_the_pages_offer_email(site: Emailing) -> None:
    client = site.client()
    for path in ("/", "/blogs/", "/about/", "/archive/", FORM):
        reply = client.get(path)
        links = lxml_html.fromstring(reply.body).xpath("//footer//a[@href='/email/subscribe']")
        assert [a.text for a in links] == ["Get posts by email"], path
    about = lxml_html.fromstring(client.get("/about/").body)
    assert about.xpath("//h2[@id='email']/text()") == ["Get posts by email"]
    blogs = client.get("/blogs/").text
    assert 'daily or weekly, <a href="/email/subscribe">get posts by email</a>' in blogs


def test_without_email_set_up_the_pages_say_so(curated: Curated) -> None:
    client = curated.client()
    for path in ("/", "/about/", "/blogs/"):
        assert "/email/" not in client.get(path).text, path
    page = client.get(FORM)
    assert page.status == 200
    assert _main(page).startswith(
        "Emails are not available Public sector blogs does not send emails of new posts"
    )
    assert client.post(FORM, {"address": "ann@example.org"}).status == 503
    assert client.get("/email/unsubscribe/WzEsIngiXQ.nope").status == 404
    assert "Emails are not available" in client.get("/email/preferences/x").text


def test_a_mail_server_that_fails_is_said_plainly(emailing: Emailing) -> None:
    down = replace(emailing.config, smtp_port=free_port())
    site = LiveSite(down, emailing.store)
    try:
        client = Client(site.url)
        reply = _ask(client, "ann@example.org")
        assert reply.status == 503
        assert _main(reply) == (
            "Sorry, we could not send your email There is a problem with our email service. "
            "Try again in a few minutes. Go back to the form"
        )
    finally:
        site.close()


def test_the_static_build_leaves_the_email_pages_out(emailing: Emailing, tmp_path: Path) -> None:
    out = tmp_path / "public"
    build_site(emailing.store, emailing.config, out)
    assert (out / "about" / "index.html").exists()
    assert not (out / "email").exists()
    pages = list(out.rglob("*.html"))
    assert pages and not [p for p in pages if "/email/" in p.read_text()]
