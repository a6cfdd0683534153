"""Townsquare as the hub of its own feeds, over real HTTP: subscribers are checked before
they are subscribed, and get new posts signed, retried with backoff when they fail."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest

from townsquare.websub import WebSub, protocol
from townsquare.websub.hub import Round

from .conftest import Blog, Instance, Stub, in_thread, wait_for

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def listed(make: Callable[..., Instance], blog: Blog, **settings: object) -> Instance:
    """An instance following ``blog`` (in a category), with its first post in."""
    site = make("a", **settings)
    site.store.add_source(
        blog.url, "Kelbrook news", categories=["Local government"], now=datetime.now(UTC)
    )
    blog.write("Bins on Tuesdays")
    site.ingest()
    tick(site)  # the news of that first post, heard by no one yet
    return site


def ask(site: Instance, **fields: str) -> tuple[int, str]:
    answer = site.request("POST", "/websub/hub", protocol.form(fields), FORM)
    return answer.status, answer.text.strip()


def subscribe(site: Instance, stub: Stub, topic: str | None = None, **extra: str) -> None:
    status, text = ask(
        site,
        **{
            "hub.mode": "subscribe",
            "hub.topic": topic or site.feed,
            "hub.callback": stub.url + "cb?id=7",
            **extra,
        },
    )
    assert (status, text) == (202, "Accepted: the hub will now check with the callback.")
    wait_for(lambda: site.store.hub_subscriptions(datetime.now(UTC)))


def tick(site: Instance, now: datetime | None = None) -> Round:
    async def run() -> Round:
        async with WebSub(site.store, site.config) as websub:
            return await websub.tick(now)

    return in_thread(run)


def test_a_subscriber_is_checked_then_sent_new_posts_signed(
    instances: Callable[..., Instance], blog: Blog, stub: Stub
) -> None:
    site = listed(instances, blog)
    subscribe(site, stub, **{"hub.secret": "s3cret", "hub.lease_seconds": "3600"})

    [check] = stub.of("GET")
    assert check.path == "/cb" and check.query["id"] == "7"  # the callback's own query kept
    assert check.query["hub.mode"] == "subscribe" and check.query["hub.topic"] == site.feed
    assert check.query["hub.lease_seconds"] == "3600" and len(check.query["hub.challenge"]) >= 32
    [held] = site.store.hub_subscriptions(datetime.now(UTC))
    assert (held.topic, held.secret, held.lease_seconds) == (site.feed, "s3cret", 3600)

    site.start_websub()
    blog.write("Libraries open on Sundays")
    site.ingest()
    [push] = wait_for(lambda: stub.of("POST"))
    assert push.path == "/cb" and push.query == {"id": "7"}
    assert push.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert f'<{site.hub}>; rel="hub"' in push.headers["link"]
    assert f'<{site.feed}>; rel="self"' in push.headers["link"]
    assert protocol.signature_problem("s3cret", push.body, push.headers["x-hub-signature"]) is None
    assert push.headers["x-hub-signature"].startswith("sha256=")
    assert b"Libraries open on Sundays" in push.body and b"Bins on Tuesdays" in push.body

    time.sleep(0.2)
    assert len(stub.of("POST")) == 1  # once per change, not once per look


def test_a_subscriber_without_a_secret_gets_unsigned_posts(
    instances: Callable[..., Instance], blog: Blog, stub: Stub
) -> None:
    site = listed(instances, blog)
    subscribe(site, stub, topic=site.url + "blogs/kelbrook-news/feed.json")
    blog.write("Libraries open on Sundays")
    site.ingest()
    assert tick(site).delivered == 1
    [push] = stub.of("POST")
    assert "x-hub-signature" not in push.headers
    assert push.headers["content-type"] == "application/feed+json; charset=utf-8"


def test_a_callback_that_does_not_echo_the_challenge_is_not_subscribed(
    instances: Callable[..., Instance], blog: Blog, stub: Stub, caplog: pytest.LogCaptureFixture
) -> None:
    site = listed(instances, blog)
    caplog.set_level(logging.INFO, "townsquare.websub.hub")
    stub.echo = False
    status, _ = ask(
        site, **{"hub.mode": "subscribe", "hub.topic": site.feed, "hub.callback": stub.url}
    )
    assert status == 202
    wait_for(lambda: f"not confirmed by {stub.url}" in caplog.text)  # the hub has decided
    [check] = stub.of("GET")
    assert check.query["hub.mode"] == "subscribe" and check.query["hub.challenge"]
    assert site.store.hub_subscriptions(datetime.now(UTC)) == []


def test_the_check_goes_through_the_network_guard(
    instances: Callable[..., Instance], stub: Stub, caplog: pytest.LogCaptureFixture
) -> None:
    site = instances("a", allow_networks="")
    caplog.set_level(logging.INFO, "townsquare.websub.hub")
    status, _ = ask(
        site, **{"hub.mode": "subscribe", "hub.topic": site.feed, "hub.callback": stub.url}
    )
    assert status == 202
    wait_for(lambda: "refused to connect to 127.0.0.1" in caplog.text)
    assert stub.received == [] and site.store.hub_subscriptions(datetime.now(UTC)) == []


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"hub.mode": "publish"}, "hub.mode must be subscribe or unsubscribe."),
        ({"hub.topic": "https://elsewhere.example/feed.atom"}, "hub.topic must be one of"),
        ({"hub.topic": "{site}blogs/no-such-blog/feed.atom"}, "hub.topic must be one of"),
        ({"hub.topic": "{site}posts/1"}, "hub.topic must be one of"),
        ({"hub.callback": "javascript:alert(1)"}, "hub.callback must be an http or https"),
        ({"hub.callback": ""}, "hub.callback must be an http or https"),
        ({"hub.secret": "x" * 200}, "hub.secret must be at most 199 bytes."),
    ],
)
def test_requests_our_hub_cannot_take_are_refused_with_the_reason(
    instances: Callable[..., Instance], stub: Stub, fields: dict[str, str], reason: str
) -> None:
    site = instances("a")
    request = {"hub.mode": "subscribe", "hub.topic": site.feed, "hub.callback": stub.url}
    request.update({k: v.replace("{site}", site.url) for k, v in fields.items()})
    status, text = ask(site, **request)
    assert status == 400 and text.startswith(reason)
    time.sleep(0.1)
    assert stub.received == []


def test_our_hub_takes_only_forms_posted_to_it(instances: Callable[..., Instance]) -> None:
    site = instances("a")
    assert site.get("/websub/hub").status == 405
    answer = site.request("POST", "/websub/hub", b"x" * (protocol.MAX_FORM + 1), FORM)
    assert answer.status == 413
    answer = site.request("POST", "/websub/hub", b"hub.mode=%ff", FORM)
    assert (answer.status, answer.text) == (400, "The request is not a form Townsquare can read.\n")
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"


def test_a_busy_hub_asks_subscribers_to_come_back(
    instances: Callable[..., Instance], stub: Stub, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = instances("a")
    monkeypatch.setattr("townsquare.web.websub.MAX_CHECKS", 0)
    answer = site.request(
        "POST",
        "/websub/hub",
        protocol.form({"hub.mode": "subscribe", "hub.topic": site.feed, "hub.callback": stub.url}),
        FORM,
    )
    assert (answer.status, answer.headers["retry-after"]) == (429, "60")
    assert answer.text == "The hub is busy. Try again in a minute.\n"
    time.sleep(0.1)
    assert stub.received == []


def test_a_site_that_names_no_hub_runs_none(instances: Callable[..., Instance]) -> None:
    site = instances("a", websub_hub="none")
    assert ask(site, **{"hub.mode": "subscribe"}) == (404, "This site does not run a WebSub hub.")
    assert b'rel="hub"' not in site.get("/feed.atom").body


def test_failed_deliveries_are_retried_with_backoff(
    instances: Callable[..., Instance], blog: Blog, stub: Stub
) -> None:
    site = listed(instances, blog)
    subscribe(site, stub)
    stub.statuses = [500, 503]
    blog.write("Libraries open on Sundays")
    site.ingest()
    now = datetime.now(UTC)
    assert (tick(site, now).failed, len(stub.of("POST"))) == (1, 1)
    assert (tick(site, now + timedelta(seconds=9)).failed, len(stub.of("POST"))) == (0, 1)
    assert (tick(site, now + timedelta(seconds=11)).failed, len(stub.of("POST"))) == (1, 2)
    later = now + timedelta(seconds=11 + 19)
    assert (tick(site, later).delivered, len(stub.of("POST"))) == (0, 2)
    later = now + timedelta(seconds=11 + 21)
    assert (tick(site, later).delivered, len(stub.of("POST"))) == (1, 3)
    assert tick(site, later + timedelta(hours=1)).delivered == 0  # sent: nothing waits


def test_a_subscriber_that_answers_gone_is_dropped(
    instances: Callable[..., Instance], blog: Blog, stub: Stub
) -> None:
    site = listed(instances, blog)
    subscribe(site, stub)
    stub.statuses = [410]
    blog.write("Libraries open on Sundays")
    site.ingest()
    assert tick(site).failed == 1
    assert site.store.hub_subscriptions(datetime.now(UTC)) == []


def test_unsubscribing_is_checked_too(
    instances: Callable[..., Instance], blog: Blog, stub: Stub
) -> None:
    site = listed(instances, blog)
    subscribe(site, stub)
    status, _ = ask(
        site,
        **{"hub.mode": "unsubscribe", "hub.topic": site.feed, "hub.callback": stub.url + "cb?id=7"},
    )
    assert status == 202
    wait_for(lambda: not site.store.hub_subscriptions(datetime.now(UTC)))
    assert stub.of("GET")[-1].query["hub.mode"] == "unsubscribe"
    assert "hub.lease_seconds" not in stub.of("GET")[-1].query


def test_another_hub_is_told_of_every_feed_with_new_posts(
    instances: Callable[..., Instance], blog: Blog, stub: Stub
) -> None:
    site = listed(instances, blog, websub_hub=stub.url)
    feed = site.get("/feed.atom")
    assert f'<link rel="hub" href="{stub.url}"/>' in feed.text
    assert feed.headers["link"] == f'<{stub.url}>; rel="hub", <{site.feed}>; rel="self"'
    stub.received.clear()  # the first post's news
    blog.write("Libraries open on Sundays")
    site.ingest()
    assert tick(site).pinged == 9
    pings = [parse_qs(p.body.decode()) for p in stub.of("POST")]
    assert all(p["hub.mode"] == ["publish"] for p in pings)
    told = {p["hub.url"][0].removeprefix(site.url) for p in pings}
    assert told == {
        f"{folder}feed.{ext}"
        for folder in ("", "blogs/kelbrook-news/", "categories/local-government/")
        for ext in ("atom", "rss", "json")
    }
    assert tick(site).pinged == 0  # told once
