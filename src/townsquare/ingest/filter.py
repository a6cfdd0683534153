"""Filter: which of a blog's posts the site shows, by the curator's rules.

    clean | extract | filter | store

A rule shows only, or leaves out, the posts whose title, text or tags hold
any of its words (whole words, in any case; a tag must match whole).  With
several rules a post must pass every one; the first rule it fails is the one
that left it out, and its reason is shown on the blog's status page.

A post left out is still stored, hidden with the rule's reason, so the
status page can count and list it and a changed rule can bring it back.
``verdict`` is pure; the pipeline asks it about every fetched post, and
``refilter`` asks it again about a blog's stored posts when its rules change.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from functools import lru_cache

from ..model import CleanPost, FilterAction, FilterField, PostFilter, Verdict
from ..store import Store
from .clean import text_of


def _quoted(words: Sequence[str]) -> str:
    quoted = [f"“{w}”" for w in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _which(rule: PostFilter) -> str:
    words = _quoted(rule.words)
    if rule.field is FilterField.TITLE:
        return f"posts with {words} in the title"
    if rule.field is FilterField.TAGS:
        return f"posts tagged {words}"
    return f"posts that mention {words}"


def describe(rule: PostFilter) -> str:
    """The rule as the curator and readers see it: 'Show only posts tagged “work”'."""
    if rule.action is FilterAction.INCLUDE:
        return f"Show only {_which(rule)}"
    return f"Leave out {_which(rule)}"


def reason(rule: PostFilter) -> str:
    """Why a post this rule fails is not shown, for the blog's status page."""
    if rule.action is FilterAction.INCLUDE:
        return f"The blog's filter shows only {_which(rule)}."
    return f"The blog's filter leaves out {_which(rule)}."


@lru_cache(maxsize=512)
def _pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(" ".join(w.split())).replace(r"\ ", r"\s+") for w in words)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def _matches(rule: PostFilter, title: str, text: str, tags: Sequence[str]) -> bool:
    if not rule.words:
        return False
    if rule.field is FilterField.TAGS:
        wanted = {w.casefold() for w in rule.words}
        return any(tag.casefold() in wanted for tag in tags)
    pattern = _pattern(rule.words)
    if pattern.search(title):
        return True
    return rule.field is FilterField.TEXT and bool(pattern.search(text))


def verdict(
    rules: Sequence[PostFilter], title: str, text: str, tags: Sequence[str]
) -> Verdict | None:
    """None when the post passes every rule; else the first rule it fails, and why.
    ``text`` is the post's words (``clean.text_of`` its HTML)."""
    for rule in rules:
        hit = _matches(rule, title, text, tags)
        if hit != (rule.action is FilterAction.INCLUDE):
            return Verdict(rule.id, reason(rule))
    return None


def filter_posts(posts: list[CleanPost], rules: Sequence[PostFilter]) -> list[CleanPost]:
    """The posts, each with the rules' verdict on it."""
    if not rules:
        return posts
    return [replace(p, left_out=verdict(rules, p.title, p.text, p.categories)) for p in posts]


def refilter(store: Store, source_id: int, now: datetime) -> int:
    """Apply a blog's rules, as they are now, to its stored posts; gives how many changed.

    Posts the curator took down stay down whatever the rules say.
    """
    rules = store.filters_of(source_id)
    changes = {}
    for post in store.filterable_posts(source_id):
        if post.taken_down:
            continue
        found = verdict(rules, post.title, text_of(post.content_html), post.tags)
        if (found.filter_id if found else None) != post.filter_id:
            changes[post.id] = found
    if changes:
        store.set_left_out(changes, now)
    return len(changes)
