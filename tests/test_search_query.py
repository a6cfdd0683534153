"""The search box's language and the highlighting of matches: pure functions."""

from __future__ import annotations

from datetime import date

import pytest

from townsquare.search import Query, Sort, parse_query
from townsquare.search.highlight import END, START, marked_html, unmarked
from townsquare.search.query import MAX_TERMS


def test_words_phrases_and_exclusions() -> None:
    q = parse_query('digital "Digital identity"  -blockchain -"web 3" identity')
    assert q.words == ("digital", "identity")
    assert q.phrases == ("Digital identity",)
    assert q.excluded == ("blockchain", "web 3")


def test_filters_dates_and_sort() -> None:
    q = parse_query(
        'FOI blog:northshire Category:"Local government" author:"Ann Lee" '
        "after:2026-01-01 before:2026-06-30 sort:date"
    )
    assert q.words == ("FOI",)
    assert q.blogs == ("northshire",)
    assert q.categories == ("Local government",)
    assert q.authors == ("Ann Lee",)
    assert (q.after, q.before) == (date(2026, 1, 1), date(2026, 6, 30))
    assert q.sort is Sort.DATE
    assert str(q) == (
        'FOI blog:northshire category:"Local government" author:"Ann Lee" '
        "after:2026-01-01 before:2026-06-30 sort:date"
    )


@pytest.mark.parametrize(
    ("text", "after", "before"),
    [
        ("from:2026 to:2026", date(2026, 1, 1), date(2026, 12, 31)),
        ("after:2026-02 before:2026-02", date(2026, 2, 1), date(2026, 2, 28)),
        ("after:1/3/2026 before:31/03/2026", date(2026, 3, 1), date(2026, 3, 31)),
        ("after:2026-06-30 before:2026-01-01", date(2026, 1, 1), date(2026, 6, 30)),  # swapped
    ],
)
def test_dates(text: str, after: date, before: date) -> None:
    q = parse_query(text)
    assert (q.after, q.before) == (after, before)


@pytest.mark.parametrize(
    ("text", "words", "phrases"),
    [
        ('"digital identity', ("digital", "identity"), ()),  # a stray quote
        ('digital "identity', ("digital", "identity"), ()),
        ("NEAR(digital* identity)", ("NEAR", "digital", "identity"), ()),
        ("^digital OR (identity)", ("digital", "OR", "identity"), ()),
        ("blog:", ("blog",), ()),  # a lone operator is a word
        ("blog: council", ("blog", "council"), ()),
        ("after:yesterday", ("after", "yesterday"), ()),
        ("after:2026-02-30", ("after", "2026-02-30"), ()),
        ("sort:funny", ("sort", "funny"), ()),
        ("title:council", ("title", "council"), ()),  # an operator we do not have
        ("e-mail gov.uk O'Neill", ("e-mail", "gov.uk", "O'Neill"), ()),
        ("- -- * : ( ) \" ''", (), ()),
        ('"" "  " -""', (), ()),
        ("“curly quotes”", (), ("curly quotes",)),
    ],
)
def test_malformed_text_falls_back_to_plain_words(
    text: str, words: tuple[str, ...], phrases: tuple[str, ...]
) -> None:
    q = parse_query(text)
    assert (q.words, q.phrases) == (words, phrases)
    assert not (q.blogs or q.categories or q.authors or q.after or q.before)


def test_a_negated_filter_is_an_excluded_phrase() -> None:
    assert parse_query("council -blog:parking").excluded == ("blog parking",)


def test_empty_and_oversized_queries() -> None:
    assert parse_query("").is_empty
    assert parse_query("   ").is_empty
    assert parse_query("*** ((( ^^^").is_empty
    assert not parse_query("-parking").is_empty
    huge = parse_query(" ".join(f"word{i}" for i in range(1000)))
    assert len(huge.words) == MAX_TERMS


def test_repeats_are_dropped() -> None:
    assert parse_query("council council blog:a blog:a").words == ("council",)
    assert parse_query("blog:a blog:a").blogs == ("a",)


def test_query_is_frozen_and_comparable() -> None:
    assert parse_query("a b") == Query(words=("a", "b"))


def test_marked_html_escapes_then_marks() -> None:
    text = f"<script>alert(1)</script> & {START}digital{END} {START}identity{END}"
    assert marked_html(text) == (
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp; <mark>digital</mark> <mark>identity</mark>"
    )
    assert unmarked(text) == "<script>alert(1)</script> & digital identity"


def test_marked_html_is_always_balanced() -> None:
    assert marked_html(f"a {START}b") == "a <mark>b</mark>"
    assert marked_html(f"{START}{END}a") == "a"
    assert marked_html("no marks") == "no marks"
