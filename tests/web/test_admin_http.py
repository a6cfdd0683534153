"""The admin area and the public forms over HTTP, on a real server: signing in, sessions,
CSRF tokens, rate limits, the audit log, and every admin action doing what it says."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest
from lxml import html as lxml_html
from starlette.routing import Route

from conftest import FeedServer, Response
from helpers import Item, rss
from townsquare.publish.opml import blogs_opml
from townsquare.publish.static_site import build_site
from townsquare.store import ItemKind, ItemState, open_store
from townsquare.web.app import ROUTES

from .client import Client
from .conftest import CURATOR, PASSWORD, Curated, LiveSite, site_config

ADMIN_ROUTES = [r for r in ROUTES if isinstance(r, Route) and r.path.startswith("/admin")]


def _path(route: Route) -> str:
    return re.sub(r"\{[a-z_]+:int\}", "1", route.path)


def _doc(text: str) -> lxml_html.HtmlElement:
    return lxml_html.fromstring(text)


def _messages(reply_text: str) -> list[str]:
    return [a.text_content() for a in _doc(reply_text).xpath("//div[@class='error-summary']//a")]


# --- signing in --------------------------------------------------------------------------


def test_every_admin_page_and_action_needs_a_curator_signed_in(curated: Curated) -> None:
    client = curated.client()
    checked = 0
    for route in ADMIN_ROUTES:
        path = _path(route)
        if path == "/admin/login":
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            if method == "GET":
                reply = client.get(path)
                assert reply.status == 303, path
                assert reply.location == "/admin/login?next=" + path
            else:
                reply = client.post(path, {"csrf": "x"})
                assert reply.status == 403, path
                assert "This form has expired" in reply.text
            checked += 1
    assert checked == 36
    assert curated.store.audit_log() == []  # nothing happened


def test_signing_in_sets_a_safe_session_cookie_and_goes_where_asked(curated: Curated) -> None:
    client = curated.client()
    first = client.get("/admin/blogs")
    assert first.location == "/admin/login?next=/admin/blogs"
    form = client.get(first.location)
    assert form.headers["cache-control"] == "no-store"
    (form_cookie,) = form.set_cookies
    assert "HttpOnly" in form_cookie and "SameSite=strict" in form_cookie
    reply = client.post(
        first.location, {"csrf": form.token(), "username": CURATOR, "password": PASSWORD}
    )
    assert (reply.status, reply.location) == (303, "/admin/blogs")
    (cookie,) = reply.set_cookies
    assert cookie.startswith("townsquare_session=")
    attributes = [a.strip().lower() for a in cookie.split(";")[1:]]
    assert {"httponly", "samesite=lax", "path=/admin"} <= set(attributes)
    assert "secure" not in attributes  # the site's address is http://
    page = client.get("/admin/blogs")
    assert page.status == 200 and "Signed in as" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "noindex" in page.headers["x-robots-tag"]
    # Only pages of the admin area are places to go after signing in.
    for elsewhere in ("https://evil.example/", "//evil.example/admin", "/blogs", "/admin\\x"):
        other = curated.client()
        other.get("/admin/login")
        sent = other.post(
            f"/admin/login?next={elsewhere}",
            {"csrf": other.get("/admin/login").token(), "username": CURATOR, "password": PASSWORD},
        )
        assert sent.location == "/admin", elsewhere


def test_the_session_cookie_is_secure_when_the_site_is_served_over_https(
    curated: Curated,
) -> None:
    config = site_config(curated.config.db, base_url="https://blogs.example.org/")
    site = LiveSite(config, curated.store)
    try:
        client = Client(site.url)
        form = client.get("/admin/login")
        assert "Secure" in form.set_cookies[0]
        reply = client.post(
            "/admin/login", {"csrf": form.token(), "username": CURATOR, "password": PASSWORD}
        )
        assert reply.status == 303
        assert "secure" in [a.strip().lower() for a in reply.set_cookies[0].split(";")]
    finally:
        site.close()


def test_sessions_are_shared_by_every_web_process(curated: Curated) -> None:
    """A second website over its own connection to the store honours the same session."""
    client = curated.signed_in()
    with open_store(curated.config.db) as store:
        other = LiveSite(curated.config, store)
        try:
            elsewhere = Client(other.url)
            elsewhere.cookies = dict(client.cookies)
            page = elsewhere.get("/admin/categories")
            assert page.status == 200 and "Signed in as" in page.text
            assert (
                elsewhere.post(
                    "/admin/categories", {"csrf": page.token(), "name": "Made elsewhere"}
                ).status
                == 303
            )
        finally:
            other.close()
    assert "Made elsewhere" in [c.name for c in curated.store.categories()]


def test_wrong_passwords_are_refused_without_saying_which_part_was_wrong(curated: Curated) -> None:
    client = curated.client()
    for username, password in ((CURATOR, "wrong password!"), ("nobody", PASSWORD)):
        reply = client.send_form(
            "/admin/login", "/admin/login", {"username": username, "password": password}
        )
        assert reply.status == 400
        assert _messages(reply.text) == ["Enter a correct username and password"]
        assert "townsquare_session" not in client.cookies
    empty = client.send_form("/admin/login", "/admin/login", {"username": "", "password": ""})
    assert _messages(empty.text) == ["Enter your username", "Enter your password"]
    actions = [e.action for e in curated.store.audit_log()]
    assert actions == [
        "Failed sign-in as 'nobody' from 127.0.0.1",
        "Failed sign-in as 'ada' from 127.0.0.1",
    ]


def test_signing_in_is_rate_limited_per_username(curated: Curated) -> None:
    client = curated.client()
    for _ in range(5):
        reply = client.send_form(
            "/admin/login", "/admin/login", {"username": CURATOR, "password": "guess"}
        )
        assert reply.status == 400
    right = client.send_form(
        "/admin/login", "/admin/login", {"username": CURATOR, "password": PASSWORD}
    )
    assert right.status == 429
    assert _messages(right.text) == [
        "Too many failed attempts to sign in. Wait 15 minutes and try again"
    ]
    assert "townsquare_session" not in client.cookies
    # The limit is kept in the store, so a second web process refuses too.
    other = LiveSite(curated.config, curated.store)
    try:
        again = Client(other.url).sign_in(CURATOR, PASSWORD)
        assert again.status == 429
    finally:
        other.close()


def test_signing_in_is_rate_limited_per_client(curated: Curated) -> None:
    client = curated.client()
    for n in range(20):
        reply = client.send_form(
            "/admin/login", "/admin/login", {"username": f"guess{n}", "password": "guess"}
        )
        assert reply.status == 400
    assert client.sign_in(CURATOR, PASSWORD).status == 429


def test_signing_out_ends_the_session_everywhere(curated: Curated) -> None:
    client = curated.signed_in()
    stolen = dict(client.cookies)
    out = client.post("/admin/logout", {"csrf": client.get("/admin").token()})
    assert (out.status, out.location) == (303, "/admin/login?out=1")
    assert "You have signed out." in client.get(out.location).text
    thief = curated.client()
    thief.cookies = stolen
    assert thief.get("/admin").status == 303
    assert [e.action for e in curated.store.audit_log()][:1] == ["Signed out"]


# --- CSRF --------------------------------------------------------------------------------


def test_admin_forms_need_the_sessions_own_token(curated: Curated) -> None:
    ada = curated.signed_in()
    other = curated.signed_in()
    mine = ada.get("/admin/categories").token()
    theirs = other.get("/admin/categories").token()
    assert mine != theirs
    for fields in (
        {"name": "Forged"},
        {"name": "Forged", "csrf": ""},
        {"name": "Forged", "csrf": theirs},
        {"name": "Forged", "csrf": mine[:-1]},
    ):
        reply = ada.post("/admin/categories", fields)
        assert reply.status == 403
        assert "This form has expired" in reply.text
    assert "Forged" not in [c.name for c in curated.store.categories()]
    done = ada.post("/admin/categories", {"name": "Real", "csrf": mine})
    assert done.status == 303
    assert "Real" in [c.name for c in curated.store.categories()]


def test_every_admin_action_refuses_a_missing_token(curated: Curated) -> None:
    client = curated.signed_in()
    for route in ADMIN_ROUTES:
        if "POST" in (route.methods or set()) and route.path not in ("/admin/login",):
            assert client.post(_path(route), {"name": "x"}).status == 403, route.path
    assert [e.action for e in curated.store.audit_log()] == ["Signed in from 127.0.0.1"]


def test_every_form_in_the_admin_area_carries_the_token(curated: Curated) -> None:
    client = curated.signed_in()
    token = client.get("/admin").token()
    pages = [
        "/admin",
        "/admin/blogs",
        "/admin/blogs/add",
        "/admin/blogs/1",
        "/admin/health",
        "/admin/categories",
        "/admin/blogs/1/delete",
        "/admin/posts/1/hide",
        "/admin/categories/1/rename",
        "/admin/categories/1/delete",
        "/admin/queue",
        "/admin/blocklist",
        "/admin/takedowns",
        "/admin/audit",
    ]
    forms = 0
    for path in pages:
        reply = client.get(path)
        assert reply.status == 200, path
        for form in _doc(reply.text).xpath("//form[@method='post']"):
            assert form.xpath(".//input[@name='csrf']/@value") == [token], path
            forms += 1
    assert forms > 20


def test_public_forms_need_a_signed_token_matching_their_cookie(
    curated: Curated, server: FeedServer
) -> None:
    fields = {"url": "blog.example.org", "email": "a@example.org", "note": ""}
    stranger = curated.client()
    assert stranger.post("/suggest", fields).status == 403  # no cookie, no token
    alice, mallory = curated.client(), curated.client()
    token = mallory.get("/suggest").token()
    alice.get("/suggest")
    assert alice.post("/suggest", {**fields, "csrf": token}).status == 403  # not her cookie
    mallory.cookies["townsquare_form"] = alice.cookies["townsquare_form"]
    assert mallory.post("/suggest", {**fields, "csrf": token}).status == 403
    assert curated.store.queue() == []
    login = curated.client()
    assert login.post("/admin/login", {"username": CURATOR, "password": PASSWORD}).status == 403


def test_a_form_too_large_is_refused(curated: Curated) -> None:
    client = curated.client()
    token = client.get("/suggest").token()
    reply = client.post("/suggest", {"csrf": token, "note": "x" * 70_000})
    assert reply.status == 413
    assert "What you sent is too large" in reply.text


# --- the audit log -----------------------------------------------------------------------


def test_the_audit_log_shows_who_did_what_and_when(curated: Curated) -> None:
    client = curated.signed_in()
    client.send_form("/admin/categories", "/admin/categories", {"name": "Charities and care"})
    page = client.get("/admin/audit")
    rows = [
        [td.text_content() for td in tr.xpath("td")]
        for tr in _doc(page.text).xpath("//main//tbody/tr")
    ]
    today = f"{datetime.now(UTC).day} {datetime.now(UTC):%B %Y}"
    assert [(who, what) for _, who, what in rows] == [
        (CURATOR, "Created the category Charities and care"),
        (CURATOR, "Signed in from 127.0.0.1"),
    ]
    assert all(when.startswith(today + " at ") for when, _, _ in rows)


# --- a post taken down -------------------------------------------------------------------


def _everywhere(curated: Curated, client: Client) -> str:
    """Every public page and answer a post could be in, joined."""
    get = curated.site.get
    parts = []
    for page in range(1, 10):
        answer = get("/" if page == 1 else f"/page/{page}")
        if answer.status != 200:
            break
        parts.append(answer.text)
    for path in (
        "/blogs/northshire-council-communications-team",
        "/categories/comms",
        "/categories/local-government",
        "/archive/2026/11",
        "/archive/2026/10",
    ):
        parts.append(get(path).text)
    for page in range(1, 4):
        parts.append(get(f"/api/posts?page={page}").text)
    parts.append(get("/api/posts?blog=northshire-council-communications-team").text)
    return "\n".join(parts)


def test_a_post_taken_down_appears_in_no_output_until_undone(
    curated: Curated, tmp_path: Path
) -> None:
    store = curated.store
    source = store.source_by_slug("northshire-council-communications-team")
    post = store.river(limit=1, source_id=source.id)[0]
    page = curated.site.get(f"/api/posts/{post.id}")
    assert page.status == 200
    client = curated.signed_in()
    before = _everywhere(curated, client)
    assert post.title.replace("’", "&#39;") in before or post.title in before

    reply = client.send_form(
        f"/admin/posts/{post.id}/hide",
        f"/admin/posts/{post.id}/hide",
        {"reason": "Removed at the author's request"},
    )
    assert (reply.status, reply.location) == (303, f"/admin/blogs/{source.id}")

    after = _everywhere(curated, client)
    assert post.link not in after and f'"id":{post.id},' not in after
    assert post.title not in after.replace("&#39;", "'")
    post_page = curated.site.get(f"/posts/{post.id}")
    assert post_page.status == 410
    assert "This post has been removed" in post_page.text
    api = curated.site.get(f"/api/posts/{post.id}")
    assert api.status == 410 and '"status": 410' in api.text
    status = curated.site.get(f"/blogs/{source.slug}/status").text
    left_out = _doc(status).xpath("//ul[@class='left-out']/li")
    assert len(left_out) == 1
    assert post.title in left_out[0].text_content()
    assert "Removed at the author's request" in left_out[0].text_content()
    out = tmp_path / "site"
    build_site(store, curated.config, out)
    built = "\n".join(p.read_text("utf-8") for p in out.rglob("*") if p.is_file())
    assert post.link not in built and post.title not in built
    assert source.title in built  # the blog is still listed in the OPML
    assert source.title in curated.site.get("/blogs").text  # the blog is still listed

    undo = client.post(f"/admin/posts/{post.id}/show", {"csrf": client.get("/admin").token()})
    assert undo.status == 303
    assert curated.site.get(f"/api/posts/{post.id}").status == 200
    assert post.link in _everywhere(curated, client)
    actions = [e.action for e in store.audit_log()]
    assert actions[0].startswith(f"Showed {post.title!r} from {source.title} again")
    assert actions[1] == (
        f"Took down {post.title!r} from {source.title}: Removed at the author's request"
    )


def test_a_takedown_needs_a_reason(curated: Curated) -> None:
    client = curated.signed_in()
    reply = client.send_form("/admin/posts/1/hide", "/admin/posts/1/hide", {"reason": " "})
    assert reply.status == 400
    assert _messages(reply.text) == ["Enter the reason readers will see on the blog's status page"]
    assert curated.store.taken_down() == []


# --- blogs -------------------------------------------------------------------------------


def test_adding_a_blog_shows_a_preview_before_saving(curated: Curated, server: FeedServer) -> None:
    feed = rss(
        [Item("Our first post", guid="1", content="<p>Hello from the team.</p>")],
        title="Borough digital team",
    )
    server.feed("/feed", feed)
    page = b'<html><head><link rel="alternate" type="application/rss+xml" href="/feed"></head>'
    server.respond("/", Response(200, page, {"Content-Type": "text/html"}))
    client = curated.signed_in()
    preview = client.send_form("/admin/blogs/add", "/admin/blogs/add", {"url": server.url("/")})
    assert preview.status == 200
    doc = _doc(preview.text)
    assert doc.xpath("//h1")[0].text_content() == "Check the blog before adding it"
    assert doc.xpath("//input[@name='name']/@value") == ["Borough digital team"]
    assert doc.xpath("//input[@name='feed_url']/@value") == [server.url("/feed")]
    assert "Our first post" in doc.xpath("//ul[@class='preview-posts']")[0].text_content()
    assert curated.store.source_by_url(server.url("/feed")) is None  # nothing saved yet
    digital = next(c for c in curated.store.categories() if c.name == "Digital")
    saved = client.post(
        "/admin/blogs/add/save",
        [
            ("csrf", preview.token()),
            ("feed_url", server.url("/feed")),
            ("site_url", ""),
            ("name", "Borough Digital"),
            ("category", str(digital.id)),
            ("excerpts_only", "yes"),
        ],
    )
    assert saved.status == 303
    source = curated.store.source_by_url(server.url("/feed"))
    assert source is not None
    assert (source.title, source.categories, source.excerpts_only) == (
        "Borough Digital",
        ("Digital",),
        True,
    )
    assert saved.location == f"/admin/blogs/{source.id}"
    assert "Added Borough Digital." in client.get(saved.location).text

    again = client.send_form("/admin/blogs/add", "/admin/blogs/add", {"url": server.url("/")})
    assert again.status == 400
    assert _messages(again.text) == [
        f"Its feed, {server.url('/feed')}, is already listed, as Borough Digital"
    ]
    nothing = client.send_form("/admin/blogs/add", "/admin/blogs/add", {"url": server.url("/x")})
    assert nothing.status == 400
    assert _messages(nothing.text)[0].startswith("We could not find a feed there: could not")


def test_fetch_now_runs_the_pipeline_for_that_blog(curated: Curated, server: FeedServer) -> None:
    url = server.feed("/feed", rss([Item("Fresh", guid="f", link="https://b.example/f")]))
    source = curated.store.add_source(url, "Fresh blog", now=datetime.now(UTC))
    client = curated.signed_in()
    reply = client.send_form(f"/admin/blogs/{source.id}", f"/admin/blogs/{source.id}/fetch", {})
    assert reply.status == 303
    page = client.get(reply.location).text
    assert "Fetched Fresh blog: 1 new, 0 updated, 0 unchanged." in page
    assert [p.title for p in curated.store.river(limit=1, source_id=source.id)] == ["Fresh"]
    # A sample blog's server has gone away: the failure is told in plain words.
    gone = curated.store.source_by_slug("hana-okafor-weeknotes")
    failed = client.send_form(f"/admin/blogs/{gone.id}", f"/admin/blogs/{gone.id}/fetch", {})
    text = client.get(failed.location).text
    assert "Fetched Hana Okafor – weeknotes: it failed. Could not connect to 127.0.0.1" in text


def test_editing_disabling_and_filters(curated: Curated) -> None:
    store = curated.store
    source = store.source_by_slug("hana-okafor-weeknotes")
    client = curated.signed_in()
    health = next(c for c in store.categories() if c.name == "Health")
    reply = client.send_form(
        f"/admin/blogs/{source.id}",
        f"/admin/blogs/{source.id}/edit",
        {"name": "Hana's weeknotes", "category": str(health.id), "extract_full": "yes"},
    )
    assert reply.status == 303
    after = store.source(source.id)
    assert (after.title, after.categories, after.extract_full) == (
        "Hana's weeknotes",
        ("Health",),
        True,
    )
    assert store.audit_log()[0].action.startswith(
        "Changed Hana's weeknotes: name from 'Hana Okafor – weeknotes' to \"Hana's weeknotes\""
    )
    client.send_form(f"/admin/blogs/{source.id}", f"/admin/blogs/{source.id}/disable", {})
    assert not store.source(source.id).enabled
    assert (
        "We have stopped fetching this blog"
        in curated.site.get(f"/blogs/{source.slug}/status").text
    )
    client.send_form(f"/admin/blogs/{source.id}", f"/admin/blogs/{source.id}/enable", {})
    assert store.source(source.id).enabled

    shown = len(store.river(limit=100, source_id=source.id))
    reply = client.send_form(
        f"/admin/blogs/{source.id}",
        f"/admin/blogs/{source.id}/filters",
        {
            "filter_action": "exclude",
            "filter_field": "title",
            "filter_words": "interviews, recruiting",
        },
    )
    assert reply.status == 303
    left = len(store.river(limit=100, source_id=source.id))
    assert left < shown
    status = _doc(curated.site.get(f"/blogs/{source.slug}/status").text)
    filters = [li.text_content() for li in status.xpath("//h2[.='Filters']/following::ul[1]/li")]
    assert shown - left == 2
    assert filters == [
        "Leave out posts with “interviews” or “recruiting” in the title: 2 posts left out"
    ]
    bad = client.send_form(f"/admin/blogs/{source.id}", f"/admin/blogs/{source.id}/filters", {})
    assert _messages(bad.text) == [
        "Select whether to show only these posts or leave them out",
        "Select where to look for the words",
        "Enter a word, or several separated by commas",
    ]
    (rule,) = store.filters_of(source.id)
    client.send_form(
        f"/admin/blogs/{source.id}", f"/admin/blogs/{source.id}/filters/{rule.id}/delete", {}
    )
    assert len(store.river(limit=100, source_id=source.id)) == shown


def test_deleting_a_blog_keeping_its_posts_retires_it(curated: Curated) -> None:
    store = curated.store
    source = store.source_by_slug("greenacre-homes-blog")
    posts = store.river(limit=100, source_id=source.id)
    client = curated.signed_in()
    asked = client.send_form(
        f"/admin/blogs/{source.id}/delete", f"/admin/blogs/{source.id}/delete", {}
    )
    assert _messages(asked.text) == ["Select whether to keep the blog's posts"]
    client.send_form(
        f"/admin/blogs/{source.id}/delete", f"/admin/blogs/{source.id}/delete", {"posts": "keep"}
    )
    retired = store.source(source.id)
    assert retired.retired and not retired.enabled
    assert source.title not in curated.site.get("/blogs").text
    assert f'"slug":"{source.slug}"' not in curated.site.get("/api/blogs").text
    assert curated.site.get(f"/posts/{posts[0].id}").status in (200, 301)
    blog_page = curated.site.get(f"/blogs/{source.slug}").text
    assert "We no longer follow this blog" in blog_page
    assert source.title not in blogs_opml(store, curated.config).body.decode()
    client.send_form(f"/admin/blogs/{source.id}", f"/admin/blogs/{source.id}/enable", {})
    assert not store.source(source.id).retired
    assert source.title in curated.site.get("/blogs").text

    client.send_form(
        f"/admin/blogs/{source.id}/delete",
        f"/admin/blogs/{source.id}/delete",
        {"posts": "remove"},
    )
    assert curated.site.get(f"/posts/{posts[0].id}").status == 404
    assert curated.site.get(f"/blogs/{source.slug}").status == 404


def test_the_blog_list_sorts_and_filters(curated: Curated) -> None:
    store = curated.store
    broken = store.source_by_slug("fieldmouse-digital-blog")
    store.db.execute(
        "UPDATE sources SET status = 'error', consecutive_failures = 4, last_error = ?"
        " WHERE id = ?",
        ("the server answered 500 Internal Server Error", broken.id),
    )
    client = curated.signed_in()

    def names(query: str) -> list[str]:
        doc = _doc(client.get("/admin/blogs" + query).text)
        return [a.text_content() for a in doc.xpath("//table//tbody/tr/td[1]/a")]

    everything = names("")
    assert len(everything) == 12 and everything == sorted(everything, key=str.casefold)
    assert names("?sort=name&order=desc") == everything[::-1]
    assert names("?sort=state")[0] == broken.title  # most urgent first
    assert names("?state=failing") == [broken.title]
    assert names("?q=fieldmouse") == [broken.title]
    assert names("?category=health") == [
        b
        for b in everything
        if "Health"
        in store.source_by_slug(next(s.slug for s in store.sources() if s.title == b)).categories
    ]
    row = _doc(client.get("/admin/blogs?state=failing").text).xpath("//tbody/tr")[0]
    assert "The server answered 500 Internal Server Error." in row.text_content()
    header = _doc(client.get("/admin/blogs?sort=failures").text).xpath("//th[@aria-sort]")
    assert [h.text_content() for h in header] == ["Failures in a row (sorted ascending)"]


def test_categories_are_created_renamed_ordered_and_deleted(curated: Curated) -> None:
    store = curated.store
    client = curated.signed_in()
    client.send_form("/admin/categories", "/admin/categories", {"name": "Policing"})
    dup = client.send_form("/admin/categories", "/admin/categories", {"name": "policing"})
    assert _messages(dup.text) == ["There is already a category called 'policing'"]
    police = next(c for c in store.categories() if c.name == "Policing")
    assert store.categories()[-1] == police
    client.send_form(
        "/admin/categories", f"/admin/categories/{police.id}/move", {"direction": "up"}
    )
    assert store.categories()[-2].name == "Policing"
    client.send_form(
        f"/admin/categories/{police.id}/rename",
        f"/admin/categories/{police.id}/rename",
        {"name": "Policing and justice"},
    )
    renamed = store.category(police.id)
    assert (renamed.name, renamed.slug) == ("Policing and justice", "policing")
    health = store.category_by_slug("health")
    blogs = {s.id for s in store.sources(category_id=health.id)}
    client.send_form(
        f"/admin/categories/{health.id}/delete", f"/admin/categories/{health.id}/delete", {}
    )
    assert "Health" not in [c.name for c in store.categories()]
    assert blogs <= {s.id for s in store.sources()}  # the blogs stay
    assert curated.site.get("/categories/health").status == 404


# --- the public's forms and the queue ----------------------------------------------------


def _wait_checked(curated: Curated, item_id: int) -> None:
    deadline = time.monotonic() + 15
    while not curated.store.item(item_id).checks:
        assert time.monotonic() < deadline, "the suggestion was not checked"
        time.sleep(0.05)


def test_a_suggestion_is_stored_checked_and_shown_in_the_queue(
    curated: Curated, server: FeedServer
) -> None:
    server.feed("/feed", rss([Item("Now", guid="n", date=_recent())], title="A new blog"))
    client = curated.client()
    page = client.get("/suggest")
    assert page.headers["cache-control"] == "no-store"
    reply = client.post(
        "/suggest",
        {
            "csrf": page.token(),
            "url": server.url("/feed"),
            "name": "Sam",
            "email": "sam@example.org",
            "note": "Good stuff",
            "homepage": "",
        },
    )
    assert (reply.status, reply.location) == (303, "/suggest/sent")
    assert "Suggestion sent" in client.get("/suggest/sent").text
    (item,) = curated.store.queue()
    assert (item.kind, item.url, item.name, item.email, item.note) == (
        ItemKind.SUGGESTION,
        server.url("/feed"),
        "Sam",
        "sam@example.org",
        "Good stuff",
    )
    _wait_checked(curated, item.id)
    checked = curated.store.item(item.id)
    assert all(c.passed for c in checked.checks) and checked.feed is not None
    admin = curated.signed_in()
    queue = admin.get("/admin/queue").text
    assert "Every check passed." in queue and server.url("/feed") in queue


def _recent() -> str:
    return format_datetime(datetime.now(UTC), usegmt=True)


def test_the_suggest_form_checks_what_was_typed(curated: Curated) -> None:
    client = curated.client()
    reply = client.send_form("/suggest", "/suggest", {"url": "not a web address", "email": "x"})
    assert reply.status == 400
    assert _messages(reply.text) == [
        "Enter a web address in the correct format, like blog.example.org",
        "Enter an email address in the correct format, like name@example.com",
    ]
    doc = _doc(reply.text)
    assert doc.xpath("//title")[0].text_content().startswith("Error: ")
    assert doc.xpath("//input[@id='url']/@aria-describedby") == ["url-hint url-error"]
    empty = client.send_form("/suggest", "/suggest", {})
    assert _messages(empty.text) == [
        "Enter the address of the blog or its feed",
        "Enter your email address, so we can tell you what we decide",
    ]
    assert curated.store.queue() == []


def test_the_honeypot_thanks_bots_and_keeps_nothing(curated: Curated) -> None:
    client = curated.client()
    reply = client.send_form(
        "/suggest",
        "/suggest",
        {"url": "spam.example", "email": "bot@spam.example", "homepage": "http://spam.example"},
    )
    assert (reply.status, reply.location) == (303, "/suggest/sent")
    assert curated.store.queue() == []


def test_the_public_forms_are_rate_limited(curated: Curated) -> None:
    client = curated.client()
    fields = {
        "kind": "takedown",
        "url": "https://blog.example/post",
        "email": "o@example.org",
        "note": "It is mine",
    }
    for _ in range(5):
        assert client.send_form("/takedown", "/takedown", fields).status == 303
    sixth = client.send_form("/takedown", "/takedown", fields)
    assert sixth.status == 429
    assert _messages(sixth.text) == [
        "You have sent this form too many times. Wait 60 minutes and try again"
    ]
    assert len(curated.store.queue()) == 5
    # the limit is per client and shared by both forms
    suggestion = client.send_form("/suggest", "/suggest", {"url": "a.example", "email": "a@b.co"})
    assert suggestion.status == 429


def test_a_takedown_request_is_approved_from_the_queue(curated: Curated) -> None:
    store = curated.store
    post = store.river(limit=1)[0]
    client = curated.client()
    reply = client.send_form(
        "/takedown",
        "/takedown",
        {"kind": "takedown", "url": post.link or "", "email": "o@example.org", "note": "Mine"},
    )
    assert reply.location == "/takedown/sent"
    (item,) = store.queue()
    admin = curated.signed_in()
    page = _doc(admin.get(f"/admin/queue/{item.id}").text)
    assert page.xpath("//input[@name='post']/@value") == [str(post.id)]
    approved = admin.send_form(
        f"/admin/queue/{item.id}",
        f"/admin/queue/{item.id}/approve",
        {"post": str(post.id), "reason": "Removed at the author's request"},
    )
    assert approved.status == 303
    assert store.item(item.id).state is ItemState.APPROVED
    assert curated.site.get(f"/api/posts/{post.id}").status == 410
    shown = admin.get(approved.location).text
    assert "Email is not set up: set smtp_host" in shown  # the decision stands, and says so
    declined = client.send_form(
        "/takedown",
        "/takedown",
        {
            "kind": "excerpts",
            "url": "https://nowhere.example/",
            "email": "o@example.org",
            "note": "Please",
        },
    )
    assert declined.status == 303
    other = store.queue()[0]
    no_reason = admin.send_form(f"/admin/queue/{other.id}", f"/admin/queue/{other.id}/decline", {})
    assert _messages(no_reason.text) == ["Enter the reason: the person who asked will be told it"]
    admin.send_form(
        f"/admin/queue/{other.id}",
        f"/admin/queue/{other.id}/decline",
        {"decline_reason": "We cannot find this blog on the site."},
    )
    assert store.item(other.id).state is ItemState.DECLINED
    assert store.queue() == []


@pytest.mark.parametrize("path", ["/suggest", "/takedown", "/admin/login"])
def test_public_forms_are_accessible_pages(curated: Curated, path: str) -> None:
    reply = curated.client().get(path)
    doc = _doc(reply.text)
    assert len(doc.xpath("//h1")) == 1
    for field in doc.xpath("//input[@type!='hidden'] | //textarea"):
        if field.get("type") in ("radio", "checkbox"):
            continue
        labels = doc.xpath(f"//label[@for='{field.get('id')}']")
        assert labels, field.get("name")
    assert not doc.xpath("//script")
