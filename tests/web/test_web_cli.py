"""`townsquare serve` and `townsquare demo`, run as a person would, in their own process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lxml import html as lxml_html

SRC = str(Path(__file__).resolve().parents[2] / "src")


@contextmanager
def _running(*args: str, cwd: Path) -> Iterator[tuple[str, list[str]]]:
    """Start the command; yields the address it printed and the lines before it."""
    env = {**os.environ, "PYTHONPATH": SRC, "PYTHONUNBUFFERED": "1"}
    env.pop("TOWNSQUARE_DB", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "townsquare", *args],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            found = re.search(r"is at (http://127\.0\.0\.1:\d+/)", line)
            if found:
                yield found.group(1), lines
                return
        raise AssertionError("the command stopped without serving:\n" + "".join(lines))
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_serve_answers_on_the_address_it_prints(tmp_path: Path) -> None:
    db = str(tmp_path / "site.db")
    with (
        _running("--db", db, "serve", "--port", "0", cwd=tmp_path) as (url, _),
        urllib.request.urlopen(url) as response,
    ):
        page = response.read().decode()
    doc = lxml_html.fromstring(page)
    assert doc.xpath("//h1")[0].text_content() == "Latest posts"
    assert "No posts yet" in page


def test_the_demo_serves_the_sample_blogs_with_no_internet(tmp_path: Path) -> None:
    with _running("demo", "--port", "0", cwd=tmp_path) as (url, lines):
        with urllib.request.urlopen(url) as response:
            doc = lxml_html.fromstring(response.read())
        with urllib.request.urlopen(url + "blogs") as response:
            blogs = lxml_html.fromstring(response.read())
    assert "12 new" not in "".join(lines)  # the summary counts posts, not blogs
    assert re.search(r"Fetched 12 blogs in [\d.]+ s: 62 new, 0 updated, 0 unchanged, 0 failed",
                     "".join(lines))  # fmt: skip
    assert len(doc.xpath("//main//article")) == 10
    assert len(blogs.xpath("//main//h3")) >= 12
