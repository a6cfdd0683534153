"""The admin area and the public forms in a real browser (Debian's chromium through
Playwright): signing in, adding a blog with its preview, the moderation queue, a takedown
and its undo; and axe-core finds nothing wrong on any admin page or public form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright

from conftest import FeedServer, Response
from helpers import Item, rss
from townsquare.store import ItemState

from .browsing import ARGS, CHROMIUM
from .conftest import CURATOR, PASSWORD, Curated

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="browser tests need Debian's chromium at /usr/bin/chromium: "
        "apt-get install -y chromium",
    ),
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


def _page(chromium: Browser, width: int = 1280) -> Page:
    context = chromium.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(15_000)
    return context.new_page()


def _sign_in(page: Page, curated: Curated, path: str = "/admin") -> None:
    page.goto(curated.site.url.rstrip("/") + path)
    page.get_by_label("Username").fill(CURATOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as")).to_be_visible()


def _site(server: FeedServer, title: str) -> str:
    date = format_datetime(datetime.now(UTC), usegmt=True)
    server.feed("/feed", rss([Item("Our first post", guid="1", date=date)], title=title))
    head = '<html><head><link rel="alternate" type="application/rss+xml" href="/feed"></head>'
    return server.respond("/", Response(200, head.encode(), {"Content-Type": "text/html"}))


def test_signing_in_and_out(chromium: Browser, curated: Curated) -> None:
    page = _page(chromium)
    try:
        page.goto(curated.site.url.rstrip("/") + "/admin/blogs")
        expect(page).to_have_url(re.compile(r"/admin/login\?next=/admin/blogs$"))
        page.get_by_label("Username").fill(CURATOR)
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        summary = page.locator(".error-summary")
        expect(summary).to_contain_text("Enter a correct username and password")
        summary.get_by_role("link").click()  # the summary's link moves to the field
        expect(page.get_by_label("Username")).to_be_focused()
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(r"/admin/blogs$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Blogs")
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("status")).to_have_text("You have signed out.")
        page.goto(curated.site.url.rstrip("/") + "/admin")
        expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    finally:
        page.context.close()


def test_adding_a_blog_with_its_preview(
    chromium: Browser, curated: Curated, server: FeedServer
) -> None:
    address = _site(server, "Borough digital team")
    page = _page(chromium)
    try:
        _sign_in(page, curated)
        page.get_by_role("link", name="Blogs", exact=True).click()
        page.get_by_role("link", name="Add a blog").click()
        page.get_by_label("Add a blog").fill(address)
        page.get_by_role("button", name="Find the feed").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Check the blog before adding it")
        expect(page.locator(".preview-posts")).to_contain_text("Our first post")
        expect(page.get_by_label("Name to show")).to_have_value("Borough digital team")
        page.get_by_label("Name to show").fill("Borough Digital")
        page.get_by_label("Digital", exact=True).check()
        page.get_by_role("button", name="Add blog").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Borough Digital")
        expect(page.get_by_role("status")).to_contain_text("Added Borough Digital.")
        page.get_by_role("button", name="Fetch now").click()
        expect(page.get_by_role("status")).to_have_text(
            "Fetched Borough Digital: 1 new, 0 updated, 0 unchanged."
        )
        expect(page.locator(".admin-posts")).to_contain_text("Our first post")
        source = curated.store.source_by_url(server.url("/feed"))
        assert source is not None and source.categories == ("Digital",)
    finally:
        page.context.close()


def test_the_moderation_queue(chromium: Browser, curated: Curated, server: FeedServer) -> None:
    address = _site(server, "Harbour council blog")
    public = _page(chromium)
    admin = _page(chromium)
    try:
        public.goto(curated.site.url.rstrip("/") + "/suggest")
        public.get_by_label("Address of the blog or its feed").fill(address)
        public.get_by_label("Your email address").fill("sam@example.org")
        public.get_by_role("button", name="Send suggestion").click()
        expect(public.get_by_role("heading", level=1)).to_have_text("Suggestion sent")

        _sign_in(admin, curated, "/admin/queue")
        item = curated.store.queue()[0]
        admin.get_by_role("link", name=re.compile("Suggested blog")).click()
        for _ in range(50):  # the checks run in the background
            if admin.get_by_text("Has recent posts: yes.").count():
                break
            admin.wait_for_timeout(200)
            admin.reload()
        expect(admin.locator(".checks")).to_contain_text("Has a feed that parses: yes.")
        admin.get_by_label("Local government").check()
        admin.get_by_role("button", name="Approve and add blog").click()
        expect(admin.get_by_role("status")).to_contain_text("Approved the suggestion of " + address)
        expect(admin.locator("main")).to_contain_text("Approved by ada")
        assert curated.store.item(item.id).state is ItemState.APPROVED
        source = curated.store.source_by_url(server.url("/feed"))
        assert source is not None and source.categories == ("Local government",)
    finally:
        public.context.close()
        admin.context.close()


def test_a_takedown_and_its_undo(chromium: Browser, curated: Curated) -> None:
    store = curated.store
    source = store.source_by_slug("northshire-council-communications-team")
    post = store.river(limit=1, source_id=source.id)[0]
    reader = _page(chromium)
    admin = _page(chromium)
    try:
        base = curated.site.url.rstrip("/")
        _sign_in(admin, curated, f"/admin/blogs/{source.id}")
        admin.get_by_role("link", name=f"Take down {post.title}").click()
        admin.get_by_label("Reason").fill("Removed at the author's request")
        admin.get_by_role("button", name="Take down post").click()
        expect(admin.get_by_role("status")).to_contain_text(f"Took down {post.title!r}")

        reader.goto(base + f"/blogs/{source.slug}/")
        expect(reader.locator("main")).not_to_contain_text(post.title)
        answer = reader.goto(base + f"/posts/{post.id}/")
        assert answer is not None and answer.status == 410
        expect(reader.get_by_role("heading", level=1)).to_have_text("This post has been removed")
        reader.goto(base + f"/blogs/{source.slug}/status/")
        expect(reader.locator(".left-out")).to_contain_text("Removed at the author's request")

        admin.get_by_role("link", name="Takedowns").click()
        admin.get_by_role("button", name=f"Show again {post.title}").click()
        expect(admin.get_by_role("status")).to_contain_text(f"Showed {post.title!r}")
        reader.goto(base + f"/blogs/{source.slug}/")
        expect(reader.locator("main article").first).to_contain_text(post.title)
    finally:
        reader.context.close()
        admin.context.close()


ADMIN_PAGES = [
    "/admin",
    "/admin/blogs",
    "/admin/blogs?state=healthy&sort=failures&order=desc",
    "/admin/blogs/add",
    "/admin/blogs/1",
    "/admin/blogs/1/delete",
    "/admin/health",
    "/admin/queue",
    "/admin/queue/1",
    "/admin/queue/2",
    "/admin/blocklist",
    "/admin/categories",
    "/admin/categories/1/rename",
    "/admin/categories/1/delete",
    "/admin/posts/1/hide",
    "/admin/takedowns",
    "/admin/audit",
]
PUBLIC_FORMS = ["/suggest", "/takedown", "/suggest/sent", "/admin/login"]
# The public forms sent empty, to check them again showing their errors, by their buttons.
SENT_EMPTY = {"/suggest": "Send suggestion", "/takedown": "Send request"}


@pytest.mark.parametrize("width", [1280, 375])
def test_axe_finds_nothing_on_the_admin_pages_and_public_forms(
    chromium: Browser, curated: Curated, width: int
) -> None:
    store = curated.store
    now = datetime.now(UTC)
    from townsquare.store import ItemKind

    store.add_item(ItemKind.SUGGESTION, "https://new.example/", "Sam", "s@example.org", "Hi", now)
    store.add_item(
        ItemKind.TAKEDOWN, store.river(limit=1)[0].link or "", "", "o@example.org", "Mine", now
    )
    store.block("spam.example", "Spam", now)
    axe = Axe()
    page = _page(chromium, width)
    problems = {}
    try:
        base = curated.site.url.rstrip("/")
        for path in PUBLIC_FORMS:
            page.goto(base + path)
            if path in SENT_EMPTY:
                send = page.get_by_role("button", name=SENT_EMPTY[path], exact=True)
                assert send.count() == 1, f"{path} has no button {SENT_EMPTY[path]!r}"
                send.click()  # empty, so with errors
                expect(page.locator(".error-summary")).to_be_visible()
            results = axe.run(page)
            if results.violations_count:
                problems[path] = results.generate_report()
        _sign_in(page, curated)
        for path in ADMIN_PAGES:
            page.goto(base + path)
            results = axe.run(page)
            if results.violations_count:
                problems[path] = results.generate_report()
            if width == 375:
                wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert wide <= 0, f"{path} is {wide} px too wide"
        page.goto(base + "/admin/blogs/1")
        page.get_by_role("button", name="Add filter").click()  # a form with errors
        results = axe.run(page)
        if results.violations_count:
            problems["filter errors"] = results.generate_report()
        assert not problems, "\n\n".join(f"{k}:\n{v}" for k, v in problems.items())
    finally:
        page.context.close()
