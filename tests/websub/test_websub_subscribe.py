"""Our subscriber against our hub: two Townsquare instances chained over real HTTP.

B follows A's river.  A's feed names A's hub, so B subscribes there; A's new posts
reach B's river by push, through B's ingest pipeline, within a second.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import pytest

from conftest import FeedServer
from helpers import Item, rss
from townsquare import cli
from townsquare.publish.feeds import load_feed, render_feed
from townsquare.publish.paths import FeedFormat, FeedScope
from townsquare.store.websub import Subscription, SubscriptionState
from townsquare.websub import protocol

from .conftest import Blog, Instance, Stub, wait_for

SRC = str(Path(__file__).resolve().parents[2] / "src")
FIRST = "Bins on Tuesdays"
NEW = "Libraries open on Sundays"


def subscription(site: Instance) -> Subscription:
    [sub] = site.store.subscriptions()
    return sub


def chained(
    make: Callable[..., Instance], blog: Blog, *, start: bool = True, **b_settings: object
) -> tuple[Instance, Instance]:
    """A follows ``blog``; B follows A's river and is subscribed at A's hub."""
    a = make("a")
    a.store.add_source(blog.url, "Kelbrook news", now=datetime.now(UTC))
    blog.write(FIRST)
    a.ingest()
    b = make("b", **b_settings)
    b.store.add_source(a.feed, "Townsquare A", now=datetime.now(UTC))
    b.ingest()
    b.renew()
    wait_for(lambda: subscription(b).state is SubscriptionState.ACTIVE)
    wait_for(lambda: a.store.hub_subscriptions(datetime.now(UTC)))  # A stores it after B's yes
    if start:
        a.start_websub()
    return a, b


def test_a_post_reaches_the_next_townsquare_by_push_within_a_second(
    instances: Callable[..., Instance], blog: Blog, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = chained(instances, blog)
    assert FIRST in b.get("/").text and NEW not in b.get("/").text
    blog.write(NEW)
    a.ingest()
    entered = time.monotonic()
    wait_for(lambda: NEW in b.get("/").text, timeout=5, every=0.005)
    took = time.monotonic() - entered
    with capsys.disabled():
        print(f"\n  A's post on B's river page {took * 1000:.0f} ms after it entered A")
    assert took < 1.0

    [post] = [p for p in b.store.river(limit=5) if p.title == NEW]
    assert post.source_title == "Townsquare A"
    assert "Original source – <a" in post.content_html  # A's credit line, kept
    source = b.store.source(post.source_id)
    sub = subscription(b)
    assert sub.last_push_at is not None and source.push_until is not None
    assert source.next_due_at is not None
    assert source.next_due_at - datetime.now(UTC) > timedelta(hours=21)  # polled daily now


def test_the_subscription_has_its_own_secret_and_callback(
    instances: Callable[..., Instance], blog: Blog
) -> None:
    a, b = chained(instances, blog, start=False)
    sub = subscription(b)
    source = b.store.source(sub.source_id or 0)
    assert (sub.hub, sub.topic) == (a.hub, a.feed) == (source.hub_url, source.topic_url)
    assert sub.lease_seconds == b.config.websub_lease
    [theirs] = a.store.hub_subscriptions(datetime.now(UTC))
    assert theirs.callback == f"{b.url}websub/callback/{sub.callback_key}"
    assert theirs.secret == sub.secret and len(sub.secret) >= 40
    assert theirs.lease_seconds == b.config.websub_lease
    status = b.get(f"/blogs/{source.slug}/status/").text
    assert "Meanwhile its hub sends us each new post as it is published." in status


def _signed_body(a: Instance, blog: Blog) -> bytes:
    """A's river with a new post, as A's hub would send it."""
    blog.write(NEW)
    a.ingest()
    return render_feed(load_feed(a.store, a.config, FeedScope.river()), FeedFormat.ATOM).body


def _push(b: Instance, key: str, body: bytes, signature: str | None) -> tuple[int, str]:
    headers = {"Content-Type": "application/atom+xml"}
    if signature is not None:
        headers["X-Hub-Signature"] = signature
    answer = b.request("POST", f"/websub/callback/{key}", body, headers)
    return answer.status, answer.text.strip()


def test_pushes_not_signed_with_the_secret_are_refused(
    instances: Callable[..., Instance], blog: Blog
) -> None:
    a, b = chained(instances, blog, start=False, max_body_bytes=50_000)
    sub = subscription(b)
    body = _signed_body(a, blog)
    refused = {
        None: "The content was not signed.",
        "sha256=" + "0" * 64: "The signature does not match the content.",
        protocol.sign("not the secret", body): "The signature does not match the content.",
        protocol.sign(sub.secret, body + b"\n"): "The signature does not match the content.",
        "md5=0123": "The signature's method is not sha1, sha256, sha384 or sha512.",
    }
    for signature, reason in refused.items():
        assert _push(b, sub.callback_key, body, signature) == (403, reason)
    assert _push(b, "no-such-key", body, protocol.sign(sub.secret, body))[0] == 410
    too_long = body + b" " * 50_000
    assert _push(b, sub.callback_key, too_long, protocol.sign(sub.secret, too_long))[0] == 413
    assert NEW not in b.get("/").text and subscription(b).last_push_at is None

    assert _push(b, sub.callback_key, body, protocol.sign(sub.secret, body, "sha512")) == (
        200,
        "Received: 1 new, 0 updated.",
    )
    assert NEW in b.get("/").text
    for algorithm in ("sha1", "sha256", "sha384"):
        signed = protocol.sign(sub.secret, body, algorithm)
        assert _push(b, sub.callback_key, body, signed) == (200, "Received: 0 new, 0 updated.")

    b.store.update_source(sub.source_id or 0, enabled=False)  # the curator pauses the blog
    assert _push(b, sub.callback_key, body, protocol.sign(sub.secret, body)) == (
        410,
        "This site no longer takes posts from that blog.",
    )


def _check(b: Instance, key: str, **params: str) -> tuple[int, str, str]:
    answer = b.get(f"/websub/callback/{key}?{urlencode(params)}")
    return answer.status, answer.text.strip(), answer.headers["content-type"]


def test_a_check_of_a_request_we_did_not_make_is_refused(
    instances: Callable[..., Instance], blog: Blog
) -> None:
    a, b = chained(instances, blog, start=False)
    sub = subscription(b)
    ask = {"hub.mode": "subscribe", "hub.topic": a.feed, "hub.challenge": "c-1"}
    refused = "This site asked for no such subscription."
    assert _check(b, "no-such-key", **ask)[:2] == (404, refused)
    assert _check(b, sub.callback_key, **{**ask, "hub.topic": a.url + "feed.rss"})[:2] == (
        404,
        refused,
    )
    assert _check(b, sub.callback_key, **{**ask, "hub.mode": "unsubscribe"})[:2] == (
        404,
        "This site did not ask for that.",
    )
    assert _check(b, sub.callback_key, **{**ask, "hub.challenge": ""})[0] == 400
    assert subscription(b) == sub

    # The hub checking again a subscription we hold is answered, with the new lease.
    assert _check(b, sub.callback_key, **ask, **{"hub.lease_seconds": "7200"}) == (
        200,
        "c-1",
        "text/plain; charset=utf-8",
    )
    again = subscription(b)
    assert again.lease_seconds == 7200 and again.lease_expires is not None
    assert abs(again.lease_expires - datetime.now(UTC) - timedelta(hours=2)) < timedelta(minutes=1)


def _cli(site: Instance, monkeypatch: pytest.MonkeyPatch, *args: str) -> None:
    """The command line, in-process, on the instance's database and address."""
    monkeypatch.setenv("TOWNSQUARE_ALLOW_NETWORKS", "127.0.0.1/32")
    monkeypatch.setenv("TOWNSQUARE_BASE_URL", site.url)
    monkeypatch.delenv("TOWNSQUARE_DB", raising=False)
    assert cli.main(["--db", site.db, *args]) == 0


def test_an_expired_lease_is_renewed(
    instances: Callable[..., Instance],
    blog: Blog,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    a, b = chained(instances, blog, start=False)
    sub = subscription(b)
    past = datetime.now(UTC) - timedelta(minutes=5)
    b.store.update_subscription(sub.id, lease_expires=past, next_action_at=past)
    b.store.db.execute("UPDATE sources SET push_until = ?", (past,))
    [before] = a.store.hub_subscriptions(datetime.now(UTC))

    _cli(b, monkeypatch, "websub", "renew")
    out = capsys.readouterr().out
    assert out == "WebSub subscriptions: 1 asked of their hubs, 0 ended, 0 failed\n"
    renewed = wait_for(
        lambda: (s := subscription(b)).lease_expires is not None and s.lease_expires > past and s
    )
    assert renewed.state is SubscriptionState.ACTIVE and renewed.secret == sub.secret
    assert renewed.next_action_at > datetime.now(UTC) + timedelta(days=5)  # renewed ahead of time
    source = b.store.source(renewed.source_id or 0)
    assert source.push_until is not None and source.push_until > datetime.now(UTC)
    [after] = a.store.hub_subscriptions(datetime.now(UTC))
    assert after.id == before.id and after.expires_at >= before.expires_at

    _cli(b, monkeypatch, "websub", "renew")  # nothing due: nothing asked
    assert capsys.readouterr().out.startswith("WebSub subscriptions: 0 asked")


def test_removing_a_blog_tells_its_hub_to_stop(
    instances: Callable[..., Instance],
    blog: Blog,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    a, b = chained(instances, blog, start=False)
    sub = subscription(b)
    _cli(b, monkeypatch, "remove", str(sub.source_id))
    assert capsys.readouterr().out.startswith(f"Removed blog {sub.source_id}: Townsquare A")
    wait_for(lambda: not a.store.hub_subscriptions(datetime.now(UTC)))
    assert b.store.subscriptions() == []


def test_a_hub_that_refuses_leaves_the_blog_polled_as_usual(
    instances: Callable[..., Instance],
    blog: Blog,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    a, b = chained(instances, blog, start=False)
    sub = subscription(b)
    params = {"hub.mode": "denied", "hub.topic": a.feed, "hub.reason": "Too many subscribers"}
    assert _check(b, sub.callback_key, **params)[:2] == (200, "Noted.")
    denied = subscription(b)
    assert denied.state is SubscriptionState.FAILED
    assert denied.last_error == "the hub refused the subscription: Too many subscribers"
    assert denied.next_action_at > datetime.now(UTC) + timedelta(minutes=5)
    assert b.store.source(sub.source_id or 0).push_until is None

    _cli(b, monkeypatch, "websub", "status")
    out = capsys.readouterr().out
    assert "Townsquare A: failed (the hub refused the subscription: Too many subscribers)" in out
    assert out.endswith("This site's hub: 0 subscriptions to 0 feeds\n")
    _cli(a, monkeypatch, "websub", "status")
    assert capsys.readouterr().out == (
        "No blog's hub pushes its posts to this site yet.\n"
        "This site's hub: 1 subscription to 1 feed\n"
    )


def test_a_site_that_does_not_subscribe_asks_no_hub(
    instances: Callable[..., Instance], blog: Blog
) -> None:
    a = instances("a")
    b = instances("b", websub_subscribe=False)
    b.store.add_source(a.feed, "Townsquare A", now=datetime.now(UTC))
    b.ingest()
    assert b.store.sources()[0].hub_url == a.hub  # known...
    b.renew()
    assert b.store.subscriptions() == []  # ...but not asked
    assert a.store.hub_subscriptions(datetime.now(UTC)) == []


def test_a_hub_that_fails_us_is_asked_again_later(
    instances: Callable[..., Instance], server: FeedServer, stub: Stub
) -> None:
    topic = server.url("/topic")
    links = (
        f'<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="hub" href="{stub.url}"/>'
        f'<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="self" href="{topic}"/>'
    )
    feed = rss([Item(FIRST, "https://kelbrook.example/1")]).replace(
        "<channel>", "<channel>" + links
    )
    b = instances("b")
    b.store.add_source(server.feed("/blog.rss", feed), "Kelbrook news", now=datetime.now(UTC))
    b.ingest()
    now = datetime.now(UTC)
    stub.statuses = [202, 500]

    assert b.renew(now).asked == 1
    [asked] = stub.of("POST")
    form = {k: v[0] for k, v in parse_qs(asked.body.decode()).items()}
    sub = subscription(b)
    assert form == {
        "hub.mode": "subscribe",
        "hub.topic": topic,
        "hub.callback": f"{b.url}websub/callback/{sub.callback_key}",
        "hub.secret": sub.secret,
        "hub.lease_seconds": "604800",
    }
    assert sub.state is SubscriptionState.REQUESTED and sub.requested_at is not None

    # The hub said yes but never checked with us: a failure, tried again after a wait.
    assert b.renew(now + timedelta(minutes=29)).failed == []
    report = b.renew(now + timedelta(minutes=31))
    assert report.failed == [
        f"{stub.url} ({topic}): the hub did not check the subscription with us"
    ]
    failed = subscription(b)
    assert failed.state is SubscriptionState.FAILED and failed.failures == 1
    assert failed.next_action_at > now + timedelta(minutes=31 + 8)

    # Asked again; the hub fails outright: a longer wait.
    report = b.renew(failed.next_action_at)
    assert report.failed == [
        f"{stub.url} ({topic}): the hub refused the subscription: the server answered 500"
    ]
    assert len(stub.of("POST")) == 2
    again = subscription(b)
    assert again.failures == 2 and again.next_action_at > failed.next_action_at + timedelta(
        minutes=17
    )
    assert b.store.source(again.source_id or 0).push_until is None  # polled as usual


def test_websub_run_sends_new_posts_until_stopped(
    instances: Callable[..., Instance], blog: Blog
) -> None:
    a, b = chained(instances, blog, start=False)
    env = {
        **os.environ,
        "PYTHONPATH": SRC,
        "PYTHONUNBUFFERED": "1",
        "TOWNSQUARE_BASE_URL": a.url,
        "TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "townsquare", "--db", a.db, "websub", "run"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert (
            proc.stdout.readline() == "Sending and receiving WebSub pushes (press Ctrl+C to stop)\n"
        )
        blog.write(NEW)
        a.ingest()
        wait_for(lambda: NEW in b.get("/").text)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    assert (proc.returncode, out) == (0, "Stopped\n")


def test_the_service_fetches_and_pushes_new_posts_on_its_own(
    instances: Callable[..., Instance], blog: Blog
) -> None:
    """``townsquare run`` fetches the blog when it is due and pushes its post to B."""
    a, b = chained(instances, blog, start=False)
    env = {
        **os.environ,
        "PYTHONPATH": SRC,
        "TOWNSQUARE_BASE_URL": a.url,
        "TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "townsquare", "--db", a.db, "run", "--port", "0", "--idle", "0.2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert " is at http://127.0.0.1:" in proc.stdout.readline()
        blog.write(NEW)
        (source,) = a.store.sources()
        a.store.update_source(source.id, next_due_at=datetime.now(UTC))
        wait_for(lambda: NEW in b.get("/").text)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert (proc.returncode, out) == (0, "Stopped after fetching 1 blog\n")


def test_a_site_hubs_cannot_reach_asks_no_hub(
    instances: Callable[..., Instance],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    a = instances("a")
    b = instances("b")
    b.store.add_source(a.feed, "Townsquare A", now=datetime.now(UTC))
    b.ingest()
    monkeypatch.setenv("TOWNSQUARE_ALLOW_NETWORKS", "")  # as deployed: 127.0.0.1 is private
    monkeypatch.setenv("TOWNSQUARE_BASE_URL", b.url)
    assert cli.main(["--db", b.db, "websub", "renew"]) == 0
    assert capsys.readouterr().out == (
        f"Not asking blogs' hubs to push their posts: hubs cannot reach this site at {b.url}: "
        "set base_url to its public address\n"
        "WebSub subscriptions: 0 asked of their hubs, 0 ended, 0 failed\n"
    )
    assert b.store.subscriptions() == [] and a.store.hub_subscriptions(datetime.now(UTC)) == []
