"""Driving Debian's chromium through Playwright: the launch settings, and a visitor that may
reach only the site under test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

NEEDS_BROWSER = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="browser tests need Debian's chromium at /usr/bin/chromium: "
        "apt-get install -y chromium",
    ),
]


def needs_browser(test: Callable[..., None]) -> Callable[..., None]:
    """Mark one test as a browser test (a module uses ``pytestmark = NEEDS_BROWSER``)."""
    for mark in NEEDS_BROWSER:
        test = mark(test)
    return test


class Visitor:
    """A browser page that may only reach the server at ``url``, and notes every request."""

    def __init__(self, browser: Browser, url: str, width: int, height: int = 900) -> None:
        self.origin = url.rstrip("/")
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.requests: list[tuple[str, str]] = []
        self.context.route("**/*", self._route)
        self.page: Page = self.context.new_page()

    def _route(self, route: Route) -> None:
        request = route.request
        self.requests.append((request.resource_type, request.url))
        if request.url.startswith(self.origin):
            route.continue_()
        else:
            route.abort()

    def open(self, path: str) -> Page:
        self.page.goto(self.origin + path, wait_until="load")
        return self.page

    def close(self) -> None:
        self.context.close()
