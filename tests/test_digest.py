"""Digests sent to a real SMTP server on 127.0.0.1: content, headers, DKIM, failures."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import dkim
import pytest

from conftest import DATA, FeedServer
from mail_helpers import Item, add_blog, fetch_all, parts, subscriber
from smtp_sink import Sink, SMTPServer
from townsquare.config import Config
from townsquare.errors import MailError
from townsquare.model import DeliveryStatus, Frequency
from townsquare.notify.compose import MAX_POSTS, DigestPost, group_posts, render_digest_body
from townsquare.notify.digest import SETTLE, period_of, send_digests
from townsquare.notify.mail import Mailer, Sent
from townsquare.notify.subscribe import Outcome, unsubscribe
from townsquare.store import Store

DKIM = DATA / "dkim"


@pytest.fixture
def blogs(store: Store, config: Config, server: FeedServer) -> None:
    add_blog(
        store,
        server,
        "/northshire",
        "Northshire digital",
        [
            Item("Weeknotes 12", "wn-12", published=datetime(2026, 11, 24, 10, tzinfo=UTC)),
            Item(
                "Fish & chips: 1 < 2",
                "fish",
                author="Bo Chen",
                published=datetime(2026, 11, 25, 9, tzinfo=UTC),
                body="<p>Why the <em>form</em> &amp; the <script>x()</script>chips matter.</p>",
            ),
        ],
        categories=["Digital", "Local government"],
    )
    add_blog(
        store,
        server,
        "/wexmoor",
        "Wexmoor NHS digital",
        [Item("Clinics online", "clinics", author="Dr Rao")],
        categories=["Health"],
    )
    add_blog(store, server, "/lone", "A lone blogger", [Item("Thoughts", "thoughts")])
    fetch_all(store, config)


def test_digest_content_and_headers(
    store: Store, mail_config: Config, smtp: SMTPServer, blogs: None
) -> None:
    sub = subscriber(store, "ann@example.org")
    report = send_digests(store, mail_config, Frequency.DAILY, now=soon())
    assert (report.planned, report.sent, report.empty) == (1, 1, 0)

    [received] = smtp.messages
    assert received.rcpt == ["ann@example.org"]
    message = received.message
    assert message["From"] == "Townsquare <digest@townsquare.example>"
    assert message["To"] == "ann@example.org"
    assert message["Subject"].startswith("New posts on Townsquare: 4 new posts on ")
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]

    # Leaving is one click: an HTTPS link and a mailto, and RFC 8058's one-click POST.
    unsubscribe_header = message["List-Unsubscribe"]
    links = re.findall(r"<([^>]+)>", unsubscribe_header)
    assert links[0].startswith("https://townsquare.example/email/unsubscribe/")
    assert links[1] == "mailto:digest@townsquare.example?subject=unsubscribe"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Id"] == "Townsquare daily email <daily.digest.townsquare.example>"
    assert "ann@example.org" not in unsubscribe_header  # links carry no address

    text, html = parts(message)
    assert '<html lang="en-GB"' in html
    assert "<title>New posts on Townsquare: 4 new posts" in html
    # Grouped by category (the curator's order), then blog; uncategorised blogs last.
    headings = re.findall(r"<h([1-4])[^>]*>(.*?)</h\1>", html, re.S)
    outline = [(level, re.sub(r"<[^>]+>", "", inner)) for level, inner in headings]
    assert outline == [
        ("1", "New posts on Townsquare"),
        ("2", "Digital"),
        ("3", "Northshire digital"),
        ("4", "Fish &amp; chips: 1 &lt; 2"),
        ("4", "Weeknotes 12"),
        ("2", "Health"),
        ("3", "Wexmoor NHS digital"),
        ("4", "Clinics online"),
        ("2", "Other blogs"),
        ("3", "A lone blogger"),
        ("4", "Thoughts"),
    ]
    # A post appears once, even though its blog is in two categories.
    assert html.count("https://northshire.example/fish") == 1
    assert '<a href="https://northshire.example/wn-12"' in html
    assert "Northshire digital · Bo Chen · 25 November 2026" in html
    assert "Why the form &amp; the chips matter." in html
    assert "<script" not in html and "x()" not in html
    # Nothing remote: no images, fonts, stylesheets or scripts to fetch.
    assert not re.search(r"<(img|link|script|iframe)\b|@import|url\(", html)
    assert f'href="{links[0]}"' in html
    assert "https://townsquare.example/email/preferences/" in html

    assert "Fish & chips: 1 < 2" in text  # plain text: nothing escaped
    assert "https://northshire.example/fish" in text
    assert "Unsubscribe:\n" + links[0] in text
    assert "<p>" not in text and "&amp;" not in text

    stored = store.subscriber(sub.id)
    assert stored is not None and stored.digest_through is not None
    assert store.delivery_counts(report.period) == {DeliveryStatus.SENT: 1}

    again = send_digests(store, mail_config, Frequency.DAILY, now=soon())
    assert (again.planned, again.sent) == (0, 0)
    assert len(smtp.messages) == 1


def test_chosen_categories_only(
    store: Store, mail_config: Config, smtp: SMTPServer, blogs: None
) -> None:
    subscriber(store, "health@example.org", categories=["Health"])
    subscriber(store, "council@example.org", categories=["Local government", "Health"])
    send_digests(store, mail_config, Frequency.DAILY, now=soon())
    by_rcpt = {m.rcpt[0]: parts(m.message)[1] for m in smtp.messages}
    assert "Clinics online" in by_rcpt["health@example.org"]
    assert "Weeknotes" not in by_rcpt["health@example.org"]
    council = by_rcpt["council@example.org"]
    assert ">Local government</h2>" in council and ">Digital</h2>" not in council
    assert council.index("Local government") < council.index(">Health</h2>")
    assert "Thoughts" not in council  # uncategorised blogs only for 'all categories'


def test_nothing_new_sends_nothing(
    store: Store, mail_config: Config, smtp: SMTPServer, blogs: None
) -> None:
    sub = subscriber(store, "late@example.org")
    weekly = subscriber(store, "weekly@example.org", frequency=Frequency.WEEKLY)
    first = send_digests(store, mail_config, Frequency.DAILY, now=soon())
    assert first.sent == 1
    tomorrow = soon(days=1)
    second = send_digests(store, mail_config, Frequency.DAILY, now=tomorrow)
    assert (second.planned, second.sent, second.empty) == (1, 0, 1)
    assert [m.rcpt for m in smtp.messages] == [["late@example.org"]]
    stored = store.subscriber(sub.id)
    assert stored is not None and stored.digest_through is not None
    assert stored.digest_through == (tomorrow - SETTLE).replace(microsecond=0)
    assert store.subscriber(weekly.id) is not None  # daily runs leave weekly subscribers be


def test_a_post_first_seen_in_the_second_of_confirmation_is_in_the_first_digest(
    store: Store, mail_config: Config, smtp: SMTPServer, server: FeedServer
) -> None:
    """Times are kept to the second: a post first seen in the second someone confirms is
    in their first digest, and in no later one."""
    add_blog(
        store, server, "/borough", "Borough digital", [Item("We rebuilt the bins page", "bins")]
    )
    fetch_all(store, mail_config)
    [post] = store.river()
    confirmed = post.first_seen.replace(microsecond=400_000)  # the same second, stored
    subscriber(store, "ann@example.org", confirmed=confirmed)

    first = send_digests(store, mail_config, Frequency.DAILY, now=confirmed + timedelta(days=1))
    assert (first.sent, first.empty) == (1, 0)
    [received] = smtp.messages
    assert "We rebuilt the bins page" in parts(received.message)[0]
    second = send_digests(store, mail_config, Frequency.DAILY, now=confirmed + timedelta(days=2))
    assert (second.planned, second.sent, second.empty) == (1, 0, 1)
    assert len(smtp.messages) == 1


def test_a_post_first_seen_in_the_second_a_digest_ends_is_in_the_next_one_only(
    store: Store, mail_config: Config, smtp: SMTPServer, server: FeedServer
) -> None:
    subscriber(store, "ann@example.org")
    add_blog(
        store, server, "/borough", "Borough digital", [Item("We rebuilt the bins page", "bins")]
    )
    fetch_all(store, mail_config)
    [post] = store.river()
    run = post.first_seen.replace(microsecond=600_000) + SETTLE  # covers up to that second
    first = send_digests(store, mail_config, Frequency.DAILY, now=run)
    second = send_digests(store, mail_config, Frequency.DAILY, now=run + timedelta(days=1))
    third = send_digests(store, mail_config, Frequency.DAILY, now=run + timedelta(days=2))
    # A digest leaves out the second its window ends with; the next one starts with it.
    assert [r.sent for r in (first, second, third)] == [0, 1, 0]
    [received] = smtp.messages
    assert "We rebuilt the bins page" in parts(received.message)[0]


def test_dkim_signature_covers_unsubscribe_headers(
    store: Store, mail_config: Config, smtp: SMTPServer, blogs: None
) -> None:
    subscriber(store, "ann@example.org")
    config = replace(mail_config, dkim_private_key=str(DKIM / "test-only.key"))
    send_digests(store, config, Frequency.DAILY, now=soon())
    [received] = smtp.messages
    record = (DKIM / "test-only.dns").read_bytes().strip()

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"townsquare._domainkey.townsquare.example."
        return record

    assert dkim.verify(received.data, dnsfunc=dns)
    signature = received.message["DKIM-Signature"]
    signed = {h.strip().lower() for h in re.search(r"h=([^;]+)", signature)[1].split(":")}
    assert {"from", "subject", "list-unsubscribe", "list-unsubscribe-post"} <= signed
    forged = received.data.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"X: y")
    assert not dkim.verify(forged, dnsfunc=dns)


def test_bad_dkim_key_is_named(mail_config: Config, store: Store, tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("not a key")
    with pytest.raises(MailError, match="is not a PEM RSA private key"):
        send_digests(store, replace(mail_config, dkim_private_key=str(key)), Frequency.DAILY)
    with pytest.raises(MailError, match="cannot read the DKIM private key"):
        send_digests(
            store, replace(mail_config, dkim_private_key=str(tmp_path / "no")), Frequency.DAILY
        )


def test_one_click_unsubscribe(
    store: Store, mail_config: Config, smtp: SMTPServer, blogs: None
) -> None:
    sub = subscriber(store, "ann@example.org")
    other = subscriber(store, "bo@example.org")
    send_digests(store, mail_config, Frequency.DAILY, now=soon())
    mine = next(m for m in smtp.messages if m.rcpt == ["ann@example.org"])
    url = re.findall(r"<([^>]+)>", mine.message["List-Unsubscribe"])[0]
    token = url.rsplit("/", 1)[1]
    now = datetime.now(UTC)

    assert unsubscribe(store, mail_config, token[:-2] + "xx", now=now).outcome is Outcome.BAD_LINK
    assert store.subscriber(sub.id) is not None
    assert unsubscribe(store, mail_config, token, now=now).outcome is Outcome.UNSUBSCRIBED
    assert store.subscriber(sub.id) is None  # the address is forgotten
    assert store.subscriber(other.id) is not None
    # Mail clients may POST twice: the answer is the same.
    assert unsubscribe(store, mail_config, token, now=now).outcome is Outcome.UNSUBSCRIBED

    tomorrow = soon(days=1)
    send_digests(store, mail_config, Frequency.DAILY, now=tomorrow)
    assert [m.rcpt for m in smtp.messages].count(["ann@example.org"]) == 1

    # An old link never acts on a later subscription of the same address.
    again = subscriber(store, "ann@example.org")
    assert unsubscribe(store, mail_config, token, now=now).outcome is Outcome.UNSUBSCRIBED
    assert store.subscriber(again.id) is not None


def test_temporary_failure_is_retried_next_run(
    store: Store, mail_config: Config, smtp: SMTPServer, blogs: None
) -> None:
    busy = subscriber(store, "busy@example.org")
    subscriber(store, "fine@example.org")
    smtp.sink.replies["busy@example.org"] = "451 4.2.1 Mailbox busy, try later"
    first = send_digests(store, mail_config, Frequency.DAILY, now=soon())
    assert (first.sent, first.retry) == (1, 1)
    assert first.errors == [
        f"digest {_delivery_id(store, first.period, busy.id)} (subscriber {busy.id}): "
        "will try again next run: 451 4.2.1 Mailbox busy, try later"
    ]
    assert [m.rcpt for m in smtp.messages] == [["fine@example.org"]]

    del smtp.sink.replies["busy@example.org"]
    second = send_digests(store, mail_config, Frequency.DAILY, now=soon())
    assert (second.planned, second.sent, second.retry) == (0, 1, 0)
    assert sorted(m.rcpt[0] for m in smtp.messages) == ["busy@example.org", "fine@example.org"]


def test_temporary_failure_carried_into_next_period(
    store: Store, mail_config: Config, smtp: SMTPServer, blogs: None
) -> None:
    subscriber(store, "busy@example.org")
    smtp.sink.replies["busy@example.org"] = "452 4.2.2 Mailbox full"
    today = send_digests(store, mail_config, Frequency.DAILY, now=soon())
    del smtp.sink.replies["busy@example.org"]
    tomorrow = send_digests(store, mail_config, Frequency.DAILY, now=soon(days=1))
    assert tomorrow.sent == 1
    assert store.delivery_counts(today.period) == {DeliveryStatus.SUPERSEDED: 1}
    [received] = smtp.messages
    assert "Clinics online" in parts(received.message)[1]  # yesterday's posts came along


def test_permanent_failures_pause_after_three(
    store: Store, mail_config: Config, smtp: SMTPServer, blogs: None
) -> None:
    gone = subscriber(store, "gone@example.org")
    subscriber(store, "fine@example.org")
    smtp.sink.replies["gone@example.org"] = "550 5.1.1 No such user"
    start = soon()
    reports = [
        send_digests(store, mail_config, Frequency.DAILY, now=start + timedelta(days=d))
        for d in range(4)
    ]
    assert [r.refused for r in reports] == [1, 1, 1, 0]
    assert [r.paused for r in reports] == [0, 0, 1, 0]
    assert "(subscriber paused): 550 5.1.1 No such user" in reports[2].errors[0]
    stored = store.subscriber(gone.id)
    assert stored is not None and stored.paused_at is not None
    assert stored.permanent_failures == 3
    assert stored.paused_reason == (
        "the mail server refused 3 digests in a row; last: 550 5.1.1 No such user"
    )
    assert reports[3].planned == 1  # only 'fine' now
    counts = store.subscriber_counts()
    assert (counts.confirmed[Frequency.DAILY], counts.paused) == (1, 1)


def test_success_resets_the_failure_count(
    store: Store, mail_config: Config, smtp: SMTPServer, server: FeedServer, blogs: None
) -> None:
    flaky = subscriber(store, "flaky@example.org")
    start = soon()
    smtp.sink.replies["flaky@example.org"] = "554 5.7.1 Rejected"
    send_digests(store, mail_config, Frequency.DAILY, now=start)
    send_digests(store, mail_config, Frequency.DAILY, now=start + timedelta(days=1))
    del smtp.sink.replies["flaky@example.org"]
    send_digests(store, mail_config, Frequency.DAILY, now=start + timedelta(days=2))
    stored = store.subscriber(flaky.id)
    assert stored is not None
    assert (stored.permanent_failures, stored.paused_at) == (0, None)
    [received] = smtp.messages
    assert "Clinics online" in parts(received.message)[1]  # refused posts came along


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login(store: Store, mail_config: Config, blogs: None) -> None:
    server = SMTPServer(Sink(), login=("digest", "s3cret"))
    try:
        subscriber(store, "ann@example.org")
        config = replace(mail_config, smtp_port=server.port, smtp_username="digest")
        with pytest.raises(MailError, match=r"refused the login 'digest': 535 .*check smtp_"):
            send_digests(store, replace(config, smtp_password="wrong"), Frequency.DAILY, now=soon())
        assert send_digests(
            store, replace(config, smtp_password="s3cret"), Frequency.DAILY, now=soon()
        ).sent
        assert len(server.messages) == 1
    finally:
        server.stop()


def test_password_never_crosses_the_network_in_clear(store: Store, mail_config: Config) -> None:
    config = replace(mail_config, smtp_host="mail.example.org", smtp_username="digest")
    with pytest.raises(MailError, match="would cross the network unencrypted"):
        send_digests(store, config, Frequency.DAILY, now=soon())


def test_periods() -> None:
    moment = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)  # a Thursday
    assert period_of(Frequency.DAILY, moment).key == "2026-11-26"
    weekly = period_of(Frequency.WEEKLY, moment)
    assert (weekly.key, weekly.start) == ("2026-W48", datetime(2026, 11, 23, tzinfo=UTC))
    new_year = period_of(Frequency.WEEKLY, datetime(2027, 1, 1, tzinfo=UTC))
    assert new_year.key == "2026-W53"


def soon(days: int = 0) -> datetime:
    """A moment whose digest covers the posts fetched just now (see digest.SETTLE)."""
    return datetime.now(UTC) + SETTLE + timedelta(minutes=1, days=days)


def _delivery_id(store: Store, period: str, subscriber_id: int) -> int:
    row = store.db.fetchone(
        "SELECT id FROM deliveries WHERE period = ? AND subscriber_id = ?", (period, subscriber_id)
    )
    assert row is not None
    return int(row["id"])


def test_long_digests_are_cut_to_the_newest(mail_config: Config) -> None:
    base = datetime(2026, 11, 1, tzinfo=UTC)
    posts = [
        DigestPost(
            f"Post {i}",
            f"https://a.example/{i}",
            None,
            base + timedelta(hours=i),
            "",
            source_id=i % 3,
            source_title=f"Blog {i % 3}",
            first_seen=base,
        )
        for i in range(MAX_POSTS + 5)
    ]
    groups, left_out = group_posts(posts, None, {}, {})
    assert left_out == 5
    kept = [p.title for g in groups for b in g.blogs for p in b.posts]
    assert len(kept) == MAX_POSTS and "Post 0" not in kept and f"Post {MAX_POSTS + 4}" in kept
    body = render_digest_body(mail_config, groups, left_out)
    assert body.count == MAX_POSTS + 5
    assert "And 5 more new posts: " in body.html
    assert "And 5 more new posts: see them all on Townsquare:" in body.text


def test_content_refused_at_data_counts_as_permanent(
    store: Store, mail_config: Config, smtp: SMTPServer, blogs: None
) -> None:
    subscriber(store, "ann@example.org")
    smtp.sink.data_reply = "554 5.7.1 Message rejected as spam"
    report = send_digests(store, mail_config, Frequency.DAILY, now=soon())
    assert (report.sent, report.refused) == (0, 1)
    assert report.errors[0].endswith("refused: 554 5.7.1 Message rejected as spam")


def test_a_digest_claimed_by_another_run_is_not_sent(
    store: Store, mail_config: Config, smtp: SMTPServer
) -> None:
    sub = subscriber(store, "ann@example.org")
    message = EmailMessage()
    message["From"] = mail_config.smtp_from
    message["To"] = sub.address
    message.set_content("hello")
    with Mailer(mail_config) as mailer:
        assert mailer.send(message, claim=lambda: False).outcome is Sent.NOT_CLAIMED
        assert mailer.send(message).outcome is Sent.SENT  # the connection is still good
    assert len(smtp.messages) == 1
