"""An HTTP client for the admin area's tests: keeps cookies, sends forms, finds tokens."""

from __future__ import annotations

import http.client
import re
from dataclasses import dataclass, field
from html import unescape
from urllib.parse import urlencode, urlsplit

_TOKEN = re.compile(r'<input type="hidden" name="csrf" value="([^"]*)">')

Fields = dict[str, str] | list[tuple[str, str]]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    set_cookies: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    @property
    def location(self) -> str:
        return self.headers.get("location", "")

    def token(self) -> str:
        """The first form's CSRF token on the page."""
        found = _TOKEN.search(self.text)
        assert found, "the page has no form with a token"
        return unescape(found.group(1))


class Client:
    """A browser without a browser: one cookie jar, no redirects followed."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.host = parts.hostname or ""
        self.port = parts.port
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        fields: Fields | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if fields is not None:
            body = urlencode(fields)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            data = response.read()
            raw = response.getheaders()
        finally:
            conn.close()
        cookies = [v for k, v in raw if k.lower() == "set-cookie"]
        for line in cookies:
            name, _, value = line.split(";")[0].partition("=")
            if value in ("", '""') or "max-age=0" in line.lower():
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return Reply(response.status, {k.lower(): v for k, v in raw}, data, cookies)

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post(self, path: str, fields: Fields) -> Reply:
        return self.request("POST", path, fields)

    def send_form(self, page: str, action: str, fields: dict[str, str]) -> Reply:
        """Open ``page``, then send a form to ``action`` with the page's token."""
        token = self.get(page).token()
        return self.post(action, {"csrf": token, **fields})

    def sign_in(self, username: str, password: str) -> Reply:
        return self.send_form(
            "/admin/login", "/admin/login", {"username": username, "password": password}
        )
