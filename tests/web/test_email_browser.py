"""Getting posts by email in a real browser (Debian's chromium through Playwright), with a
real SMTP server: subscribe, take the link from the email, confirm; a digest is sent, and
its links work too.  axe-core finds nothing wrong on any of the email pages."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from conftest import FeedServer
from helpers import run_pass
from mail_helpers import Item, add_blog, parts, subscriber
from townsquare.model import Frequency
from townsquare.notify.digest import send_digests
from townsquare.notify.tokens import Purpose, Tokens

from .browsing import NEEDS_BROWSER, Visitor
from .conftest import Emailing

pytestmark = NEEDS_BROWSER

BASE = "http://blogs.example.org"  # the site's base_url, in the emails' links


class Checked:
    """A visitor's page, and what axe found wrong on each page it was asked to check."""

    def __init__(self, visitor: Visitor, axe: Axe) -> None:
        self.page = visitor.page
        self.origin = visitor.origin
        self.axe = axe
        self.problems: dict[str, str] = {}

    def check(self, name: str) -> None:
        results = self.axe.run(self.page)
        if results.violations_count:
            self.problems[name] = results.generate_report()

    def follow(self, link: str) -> Page:
        """Open a link from an email (made for base_url) on the site under test."""
        assert link.startswith(BASE + "/email/"), link
        self.page.goto(self.origin + link.removeprefix(BASE), wait_until="load")
        return self.page


def _heading(page: Page) -> str:
    return page.get_by_role("heading", level=1).inner_text()


def test_subscribe_confirm_get_a_digest_and_leave(
    browser: Browser, axe: Axe, emailing: Emailing, server: FeedServer
) -> None:
    store, config, smtp = emailing.store, emailing.config, emailing.smtp
    visitor = Visitor(browser, emailing.site.url, 1280)
    visitor.context.set_default_timeout(15_000)
    seen = Checked(visitor, axe)
    try:
        page = visitor.open("/")
        page.get_by_role("contentinfo").get_by_role("link", name="Get posts by email").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Get posts by email")
        seen.check("the form")

        page.get_by_role("button", name="Subscribe").click()
        summary = page.locator(".error-summary")
        expect(summary).to_contain_text("Enter your email address")
        expect(page).to_have_title(re.compile("^Error: Get posts by email"))
        seen.check("the form with errors")
        summary.get_by_role("link", name="Enter your email address").click()
        expect(page.get_by_label("Email address")).to_be_focused()

        page.get_by_label("Email address").fill("ann@example.org")
        page.get_by_label("Daily").check()
        page.get_by_label("Digital", exact=True).check()
        page.get_by_role("button", name="Subscribe").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
        expect(page.locator("main")).to_contain_text("We have sent an email to ann@example.org.")
        seen.check("check your email")

        [email] = smtp.messages
        assert email.rcpt == ["ann@example.org"]
        text, _ = parts(email.message)
        [confirm] = re.findall(r"http://\S+/email/confirm/\S+", text)
        seen.follow(confirm)
        expect(page.get_by_role("heading", level=1)).to_have_text("Confirm you want emails")
        seen.check("confirm")
        assert store.subscriber_counts().unconfirmed == 1  # opening the link changed nothing
        page.get_by_role("button", name="Confirm").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Subscription confirmed")
        expect(page.locator("main")).to_contain_text("You will get the daily email")
        seen.check("confirmed")
        counts = store.subscriber_counts()
        assert counts.by_category["Digital"][Frequency.DAILY] == 1 and counts.unconfirmed == 0

        # A new post in Digital, fetched through the pipeline (perhaps in the very second
        # of the confirmation), then tomorrow's digest run.
        published = datetime.now(UTC) - timedelta(hours=1)
        item = Item("We rebuilt the bins page", "bins", published=published)
        blog = add_blog(store, server, "/borough", "Borough digital team", [item], ["Digital"])
        with ThreadPoolExecutor(1) as pool:  # Playwright holds this thread's event loop
            fetched = pool.submit(run_pass, store, config, source_ids=[blog], force=True)
            assert fetched.result().new == 1
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        report = send_digests(store, config, Frequency.DAILY, now=tomorrow)
        assert (report.sent, report.errors) == (1, []), report
        digest = smtp.messages[-1].message
        text, _ = parts(digest)
        assert "We rebuilt the bins page" in text and "Borough digital team" in text
        [header] = re.findall(r"<(http://[^>]+)>", digest["List-Unsubscribe"])
        [preferences] = re.findall(r"http://\S+/email/preferences/\S+", text)
        [unsubscribe] = re.findall(r"http://\S+/email/unsubscribe/\S+", text)
        assert header == unsubscribe

        seen.follow(preferences)
        expect(page.get_by_role("heading", level=1)).to_have_text("Your email preferences")
        expect(page.get_by_label("Digital", exact=True)).to_be_checked()
        page.get_by_label("Weekly").check()
        page.get_by_role("button", name="Save preferences").click()
        expect(page.get_by_role("status")).to_have_text("Your preferences have been saved.")
        expect(page.get_by_label("Weekly")).to_be_checked()
        seen.check("preferences, saved")

        seen.follow(unsubscribe)
        expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribe from emails")
        seen.check("unsubscribe")
        page.get_by_role("button", name="Unsubscribe").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("You have unsubscribed")
        seen.check("unsubscribed")
        assert store.subscriber_by_address("ann@example.org") is None
        seen.follow(unsubscribe)  # the link again: still a page that says so
        assert _heading(page) == "You have unsubscribed"

        assert not seen.problems, "\n\n".join(f"{k}:\n{v}" for k, v in seen.problems.items())
        assert not [u for kind, u in visitor.requests if not u.startswith(visitor.origin)]
    finally:
        visitor.close()


@pytest.mark.parametrize("width", [375, 320])
def test_the_email_pages_at_phone_widths(
    browser: Browser, axe: Axe, emailing: Emailing, width: int
) -> None:
    """axe at a phone's width, and nothing wider than the window at 320 px (WCAG reflow)."""
    sub = subscriber(emailing.store, "a.very.long.address.for.testing.reflow@example.org")
    token = Tokens(emailing.config.secret_key).make(Purpose.PREFERENCES, sub)
    visitor = Visitor(browser, emailing.site.url, width)
    seen = Checked(visitor, axe)
    try:
        pages = {
            "the form": "/email/subscribe",
            "preferences": f"/email/preferences/{token}",
            "a broken link": "/email/confirm/not-a-link",
        }
        for name, path in pages.items():
            page = visitor.open(path)
            seen.check(name)
            wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert wide <= 0, f"{name} is {wide} px too wide at {width} px"
        page = visitor.open("/email/subscribe")
        page.get_by_label("Email address").fill(sub.address)
        page.get_by_label("Weekly").check()
        page.get_by_label("All categories").check()
        page.get_by_role("button", name="Subscribe").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
        seen.check("check your email")
        wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 0, f"check your email is {wide} px too wide at {width} px"
        assert not seen.problems, "\n\n".join(f"{k}:\n{v}" for k, v in seen.problems.items())
    finally:
        visitor.close()
