"""Per-blog filters: the rules in words, what they match, and posts through the real
pipeline (clean → filter → store) on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

import pytest

from conftest import FeedServer
from helpers import run_pass
from townsquare.config import Config
from townsquare.ingest.clean import text_of
from townsquare.ingest.filter import describe, reason, refilter, verdict
from townsquare.model import FilterAction, FilterField, PostFilter
from townsquare.store import Store

NOW = datetime.now(UTC)


def rule(action: str, field: str, *words: str, rule_id: int = 1) -> PostFilter:
    return PostFilter(rule_id, 1, FilterAction(action), FilterField(field), words)


def feed(items: list[tuple[str, str, list[str]]]) -> str:
    """RSS with (title, text, tags) items; guids are the titles."""
    parts = []
    for title, text, tags in items:
        cats = "".join(f"<category>{escape(t)}</category>" for t in tags)
        parts.append(
            f"<item><title>{escape(title)}</title><guid isPermaLink='false'>{escape(title)}</guid>"
            f"<link>https://blog.example/{len(parts)}</link>"
            f"<pubDate>Fri, 0{len(parts) + 1} Nov 2026 10:00:00 GMT</pubDate>{cats}"
            f"<description>{escape(text)}</description></item>"
        )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Personal blog</title>'
        + "".join(parts)
        + "</channel></rss>"
    )


# --- the rules in words ------------------------------------------------------------------


def test_rules_read_as_plain_sentences() -> None:
    assert describe(rule("include", "tags", "work")) == "Show only posts tagged “work”"
    assert (
        describe(rule("exclude", "title", "weeknote", "sprint"))
        == "Leave out posts with “weeknote” or “sprint” in the title"
    )
    assert (
        describe(rule("exclude", "text", "a", "b", "c"))
        == "Leave out posts that mention “a”, “b” or “c”"
    )
    assert (
        reason(rule("include", "tags", "work"))
        == "The blog's filter shows only posts tagged “work”."
    )
    assert reason(rule("exclude", "text", "cats")) == (
        "The blog's filter leaves out posts that mention “cats”."
    )


# --- what matches ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("the_rule", "title", "html", "tags", "left_out"),
    [
        (rule("include", "tags", "work"), "A", "<p>x</p>", ["Work", "Life"], False),
        (rule("include", "tags", "work"), "A", "<p>work</p>", ["Homework"], True),
        (rule("exclude", "title", "weeknote"), "My Weeknote 12", "", [], True),
        (rule("exclude", "title", "weeknote"), "Weeknotes", "", [], False),  # whole words
        (rule("exclude", "title", "weeknote"), "Hello", "<p>weeknote</p>", [], False),
        (rule("exclude", "text", "weeknote"), "Hello", "<p>A <b>weeknote</b>.</p>", [], True),
        (rule("exclude", "text", "data ethics"), "Hi", "<p>On data\n  ethics</p>", [], True),
        (rule("exclude", "text", "c++"), "Hi", "<p>I like C++ a lot</p>", [], True),
        (rule("include", "text", "nhs"), "NHS app", "", [], False),
        (rule("exclude", "text", "script"), "Hi", "<p>&lt;script&gt; tags</p>", [], True),
    ],
)
def test_what_a_rule_leaves_out(
    the_rule: PostFilter, title: str, html: str, tags: list[str], left_out: bool
) -> None:
    assert (verdict([the_rule], title, text_of(html), tags) is not None) == left_out


def test_a_post_must_pass_every_rule_and_the_first_it_fails_is_named() -> None:
    rules = [
        rule("include", "tags", "work", rule_id=1),
        rule("exclude", "title", "draft", rule_id=2),
    ]
    assert verdict(rules, "Plan", "", ["work"]) is None
    assert verdict(rules, "Plan", "", ["life"]).filter_id == 1  # type: ignore[union-attr]
    assert verdict(rules, "Draft plan", "", ["work"]).filter_id == 2  # type: ignore[union-attr]
    assert verdict(rules, "Draft plan", "", []).filter_id == 1  # type: ignore[union-attr]


# --- through the pipeline ----------------------------------------------------------------


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


ITEMS = [
    ("Sprint review", "<p>What the team shipped.</p>", ["work"]),
    ("Sourdough, again", "<p>Bread.</p>", ["life"]),
    ("Hiring a designer", "<p>Come and work with us.</p>", ["Work", "jobs"]),
]


def _shown(store: Store) -> list[str]:
    return sorted(p.title for p in store.river(limit=50))


def test_filters_apply_at_ingest_and_left_out_posts_keep_their_reason(
    server: FeedServer, store: Store, config: Config
) -> None:
    url = server.feed("/feed", feed(ITEMS))
    source = store.add_source(url, "Personal blog", now=NOW)
    only_work = store.add_filter(source.id, FilterAction.INCLUDE, FilterField.TAGS, ["work"], NOW)
    report = run_pass(store, config)
    assert report.new == 3  # every post is stored, so the status page can say why
    assert _shown(store) == ["Hiring a designer", "Sprint review"]
    left_out = store.left_out_posts(source.id)
    assert [(p.title, p.hidden_reason) for p in left_out] == [
        ("Sourdough, again", "The blog's filter shows only posts tagged “work”.")
    ]
    assert store.left_out_counts(source.id) == {only_work.id: 1}


def test_a_new_rule_applies_to_stored_posts_and_removing_it_brings_them_back(
    server: FeedServer, store: Store, config: Config
) -> None:
    url = server.feed("/feed", feed(ITEMS))
    source = store.add_source(url, "Personal blog", now=NOW)
    run_pass(store, config)
    assert len(_shown(store)) == 3
    exclude = store.add_filter(source.id, FilterAction.EXCLUDE, FilterField.TEXT, ["bread"], NOW)
    assert refilter(store, source.id, NOW) == 1
    assert "Sourdough, again" not in _shown(store)
    store.remove_filter(exclude.id)
    assert refilter(store, source.id, NOW) == 1
    assert len(_shown(store)) == 3
    assert store.left_out_posts(source.id) == []


def test_a_later_fetch_decides_again_but_never_undoes_a_takedown(
    server: FeedServer, store: Store, config: Config
) -> None:
    url = server.feed("/feed", feed(ITEMS))
    source = store.add_source(url, "Personal blog", now=NOW)
    rule_ = store.add_filter(source.id, FilterAction.EXCLUDE, FilterField.TITLE, ["sprint"], NOW)
    run_pass(store, config)
    taken = next(p for p in store.river(limit=10) if p.title == "Hiring a designer")
    store.hide_post(taken.id, "Removed at the author's request", NOW)
    store.remove_filter(rule_.id)
    # The feed changes (an edit), so every post is written again by the next fetch.
    server.feed("/feed", feed([(t, h + "<p>Edited.</p>", tags) for t, h, tags in ITEMS]))
    run_pass(store, config, force=True)
    assert _shown(store) == ["Sourdough, again", "Sprint review"]
    assert refilter(store, source.id, NOW) == 0
    assert [(p.title, p.hidden_reason) for p in store.left_out_posts(source.id)] == [
        ("Hiring a designer", "Removed at the author's request")
    ]
