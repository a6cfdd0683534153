"""The website in a real browser (Debian's chromium through Playwright), checked by axe-core.

Every kind of page has zero axe violations at 1280 and 375 pixels wide; the
river can be read with the keyboard alone; nothing scrolls sideways at 320
pixels or at 200 % zoom; the site makes no requests of its own to other hosts.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from townsquare.store import Store

from .browsing import NEEDS_BROWSER, Visitor
from .conftest import LiveSite

FOCUS = "rgb(255, 221, 0)"

pytestmark = NEEDS_BROWSER


@pytest.fixture(scope="module")
def page_types(demo_site: LiveSite, demo_store: Store) -> dict[str, str]:
    post = demo_store.river(limit=1)[0]
    from townsquare.web.paths import post_slug

    return {
        "river": "/",
        "river page 2": "/page/2/",
        "post": f"/posts/{post.id}-{post_slug(post.title)}/",
        "blogs": "/blogs/",
        "blog": "/blogs/hana-okafor-weeknotes/",
        "excerpts blog": "/blogs/carers-link-north-news-and-blog/",
        "blog status": "/blogs/hana-okafor-weeknotes/status/",
        "category": "/categories/digital/",
        "archive": "/archive/",
        "month": "/archive/2026/11/",
        "about": "/about/",
        "search": "/search",
        "search results": "/search?q=council",
        "no search results": "/search?q=zyxwvut",
        "not found": "/no-such-page",
    }


def test_axe_does_find_problems(browser: Browser, axe: Axe) -> None:
    """The check below can fail: a page with an unlabelled image and no language fails it."""
    page = browser.new_page()
    try:
        page.set_content("<title>x</title><main><img src='data:,'><a href='#'></a></main>")
        rules = {v["id"] for v in axe.run(page).response["violations"]}
        assert {"image-alt", "html-has-lang", "link-name"} <= rules
    finally:
        page.close()


@pytest.mark.parametrize("width", [1280, 375])
def test_axe_finds_nothing_on_any_page(
    browser: Browser, demo_site: LiveSite, page_types: dict[str, str], axe: Axe, width: int
) -> None:
    visitor = Visitor(browser, demo_site.url, width)
    try:
        problems = {}
        for kind, path in page_types.items():
            results = axe.run(visitor.open(path))
            if results.violations_count:
                problems[kind] = results.generate_report()
        assert not problems, "\n\n".join(f"{k}:\n{v}" for k, v in problems.items())
        own = [
            (kind, url)
            for kind, url in visitor.requests
            if kind != "image" and not url.startswith(visitor.origin)
        ]
        assert own == [], "the site asked another host for its own files"
        assert not [url for kind, url in visitor.requests if kind == "font"]
    finally:
        visitor.close()


@pytest.mark.parametrize("width", [320, 640])
def test_nothing_scrolls_sideways(
    browser: Browser, demo_site: LiveSite, page_types: dict[str, str], width: int
) -> None:
    """320 px is the WCAG reflow width; 640 px is a 1280 px window at 200 % zoom."""
    visitor = Visitor(browser, demo_site.url, width)
    try:
        for kind, path in page_types.items():
            page = visitor.open(path)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{kind} is {overflow} px too wide at {width} px"
    finally:
        visitor.close()


def _focused(page: Page) -> dict[str, str]:
    result: dict[str, str] = page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            const box = el.getBoundingClientRect();
            return {tag: el.tagName.toLowerCase(), id: el.id, text: el.textContent.trim(),
                    href: el.getAttribute('href') || '', background: style.backgroundColor,
                    visible: String(box.width > 0 && box.height > 0 && box.bottom > 0
                                    && box.top < window.innerHeight)};
        }"""
    )
    return result


def test_the_river_with_the_keyboard_alone(
    browser: Browser, demo_site: LiveSite, demo_store: Store
) -> None:
    visitor = Visitor(browser, demo_site.url, 1280)
    try:
        page = visitor.open("/")
        page.keyboard.press("Tab")
        skip = _focused(page)
        assert (skip["text"], skip["visible"], skip["background"]) == (
            "Skip to main content",
            "true",
            FOCUS,
        )
        page.keyboard.press("Enter")
        assert _focused(page)["id"] == "main"

        expected = page.eval_on_selector_all(
            "main a[href], main summary", "els => els.map(e => e.getAttribute('href') || '')"
        )
        walked = []
        for _ in range(len(expected)):
            page.keyboard.press("Tab")
            now = _focused(page)
            assert now["visible"] == "true", f"{now['text']!r} is focused out of sight"
            assert now["background"] == FOCUS, f"{now['text']!r} shows no focus"
            walked.append(now["href"])
        assert walked == expected  # every link in reading order, nothing skipped or trapped
        newest = demo_store.river(limit=1)[0]
        assert walked[0] == newest.link
        assert walked[-1] == "/page/2/"

        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/page/2/$"))
        assert page.inner_text("h1").replace("\n", " ") == "Latest posts page 2"
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        assert _focused(page)["text"] == "Public sector blogs"  # the site's name, to go home
    finally:
        visitor.close()


def test_a_reader_searches_from_the_header_and_reads_on(
    browser: Browser, demo_site: LiveSite, axe: Axe
) -> None:
    visitor = Visitor(browser, demo_site.url, 1280)
    try:
        page = visitor.open("/blogs/")
        page.get_by_role("search").get_by_label("Search every blog").fill("council")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/search\?q=council$"))
        assert page.inner_text("h1") == "Search every blog"
        assert page.input_value("main input[name=q]") == "council"
        assert page.inner_text(".count").startswith("27 results")
        results = page.locator("ol.results > li")
        assert results.count() == 20
        marks = page.locator("ol.results mark")
        assert marks.count() >= 20
        assert {m.lower() for m in marks.all_inner_texts()} <= {"council", "councils"}
        # A mark stands out: its background is not the page's.
        background = marks.first.evaluate("m => getComputedStyle(m).backgroundColor")
        assert background not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)")
        results_on_1 = page.locator("ol.results h2").all_inner_texts()
        problems = axe.run(page)
        assert not problems.violations_count, problems.generate_report()

        page.get_by_role("navigation", name="Pages of results").get_by_role(
            "link", name="Next page of results"
        ).click()
        page.wait_for_url(re.compile(r"/search\?q=council&page=2$"))
        assert page.locator("ol.results > li").count() == 7
        assert page.get_attribute("ol.results", "start") == "21"
        assert not set(page.locator("ol.results h2").all_inner_texts()) & set(results_on_1)
        assert "Page 2 of 2" in page.inner_text("nav[aria-label='Pages of results']")
        problems = axe.run(page)
        assert not problems.violations_count, problems.generate_report()

        page.locator("ol.results h2 a").first.click()
        assert page.inner_text("h1") == page.title().rsplit(" – ", 1)[0]
    finally:
        visitor.close()


def test_every_page_reads_without_javascript(
    browser: Browser, demo_site: LiveSite, page_types: dict[str, str]
) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        for kind, path in page_types.items():
            page.goto(demo_site.url.rstrip("/") + path)
            assert page.inner_text("h1"), kind
        page.goto(demo_site.url)
        assert page.locator("main article").count() == 10
        assert urlsplit(page.url).path == "/"
    finally:
        context.close()
