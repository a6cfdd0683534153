"""The website over HTTP, on a real server, with the bundled sample blogs."""

from __future__ import annotations

import gzip
import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from lxml import html as lxml_html
from openapi_spec_validator import validate

from townsquare.demo.server import sample_blogs
from townsquare.store import Store

from .conftest import LiveSite

PAGES = [
    "/",
    "/page/2/",
    "/blogs/",
    "/blogs/hana-okafor-weeknotes/",
    "/blogs/hana-okafor-weeknotes/status/",
    "/categories/digital/",
    "/archive/",
    "/archive/2026/11/",
    "/about/",
]


def _doc(text: str) -> lxml_html.HtmlElement:
    return lxml_html.fromstring(text)


def _first_post_path(site: LiveSite) -> str:
    doc = _doc(site.get("/").text)
    return str(doc.xpath("//article//p[@class='permalink']/a/@href")[0])


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_one_h1_landmarks_and_a_skip_link(demo_site: LiveSite, path: str) -> None:
    answer = demo_site.get(path)
    assert answer.status == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    doc = _doc(answer.text)
    assert len(doc.xpath("//h1")) == 1
    assert doc.xpath("//a[@class='skip-link']/@href") == ["#main"]
    assert doc.xpath("//main/@id") == ["main"]
    assert doc.xpath("//header") and doc.xpath("//footer") and doc.xpath("//nav")
    levels = [int(h.tag[1]) for h in doc.iter("h1", "h2", "h3", "h4", "h5", "h6")]
    assert levels[0] == 1
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), levels
    # No inline script anywhere; the river's first page has the live river's, from our files.
    scripts = doc.xpath("//script")
    assert answer.text.count("<script") == len(scripts) == (1 if path == "/" else 0)
    for script in scripts:
        assert script.get("src").startswith("/static/live.") and not (script.text or "").strip()


def test_the_river_shows_posts_in_full_with_their_source(
    demo_site: LiveSite, demo_store: Store
) -> None:
    newest = demo_store.river(limit=1)[0]
    doc = _doc(demo_site.get("/").text)
    articles = doc.xpath("//main//article")
    assert len(articles) == 10
    first = articles[0]
    title = first.xpath(".//h2/a")[0]
    assert title.text_content() == newest.title and title.get("href") == newest.link
    day = f"{newest.published.day} {newest.published:%B %Y}"
    assert first.xpath(".//time")[0].text_content() == day
    assert newest.source_title in first.xpath(".//p[@class='meta']")[0].text_content()
    source = first.xpath(".//p[@class='source']")[0]
    assert source.text_content() == f"Original source – {newest.source_title}"
    assert source.xpath("./a/@href") == [newest.link]
    categories = first.xpath(".//ul[@class='tags']//a")
    assert [a.text_content() for a in categories] == list(
        demo_store.source(newest.source_id).categories
    )
    # the whole post is there, not a teaser
    text = first.xpath(".//div[@class='content']")[0].text_content()
    assert len(text) > 400


def test_a_blog_set_to_excerpts_shows_an_excerpt_and_a_link(demo_site: LiveSite) -> None:
    doc = _doc(demo_site.get("/blogs/carers-link-north-news-and-blog/").text)
    article = doc.xpath("//main//article")[0]
    link = article.xpath(".//p[@class='source']/a")[0]
    assert link.text_content() == "Continue reading on Carers Link North – News and blog"
    assert link.get("href") == article.xpath(".//h2/a/@href")[0]
    excerpt = article.xpath(".//div[@class='content']")[0].text_content()
    assert 50 < len(excerpt) <= 300
    assert not article.xpath(".//p[starts-with(normalize-space(.), 'Original source')]")


def test_pages_link_to_each_other_and_bad_page_numbers_are_not_found(
    demo_site: LiveSite, demo_store: Store
) -> None:
    doc = _doc(demo_site.get("/").text)
    assert doc.xpath("//nav[@aria-label='Pages']//a/@href") == ["/page/2/"]
    total = demo_store.count_posts()
    last = -(-total // 10)
    doc = _doc(demo_site.get(f"/page/{last}/").text)
    assert doc.xpath("//nav[@aria-label='Pages']//a/@href") == [f"/page/{last - 1}/"]
    assert demo_site.get(f"/page/{last + 1}/").status == 404
    for bad in ("/page/0/", "/page/01/", "/page/-1/", "/page/x/", "/page/99999999999/"):
        assert demo_site.get(bad).status == 404, bad
    first = demo_site.get("/page/1/")
    assert (first.status, first.headers["location"]) == (301, "/")


@pytest.mark.parametrize(
    "path",
    [
        "/nothing-here",
        "/blogs/no-such-blog/",
        "/blogs/no-such-blog/status/",
        "/categories/no-such-category/",
        "/posts/999999-gone/",
        "/posts/abc/",
        "/archive/2026/13/",
        "/archive/1999/01/",
        "/archive/26/11/",
        "/static/site.css",
    ],
)
def test_unknown_addresses_get_the_404_page(demo_site: LiveSite, path: str) -> None:
    answer = demo_site.get(path)
    assert answer.status == 404
    doc = _doc(answer.text)
    assert doc.xpath("//h1")[0].text_content() == "Page not found"
    assert doc.xpath("//a[@class='skip-link']")
    assert "Traceback" not in answer.text and "Error" not in answer.text


def test_a_post_page_points_search_engines_at_the_original(
    demo_site: LiveSite, demo_store: Store
) -> None:
    post = demo_store.river(limit=1)[0]
    path = _first_post_path(demo_site)
    doc = _doc(demo_site.get(path).text)
    assert doc.xpath("//link[@rel='canonical']/@href") == [post.link]
    assert doc.xpath("//h1")[0].text_content() == post.title
    wrong = demo_site.get(f"/posts/{post.id}-an-old-title/")
    assert (wrong.status, wrong.headers["location"]) == (301, path)


def test_the_blogs_page_groups_blogs_by_category(demo_site: LiveSite, demo_store: Store) -> None:
    doc = _doc(demo_site.get("/blogs/").text)
    groups = [h.text_content() for h in doc.xpath("//main//h2")]
    assert groups == [c.name for c in demo_store.categories()]
    section = doc.xpath("//section[h2='Health']")[0]
    names = [a.text_content() for a in section.xpath(".//h3/a")]
    health = demo_store.category_by_slug("health")
    assert names == [s.title for s in demo_store.sources(category_id=health.id)]
    item = section.xpath(".//li[h3]")[0]
    assert re.fullmatch(r"Latest post \d{1,2} [A-Z][a-z]+ \d{4}", item.xpath(".//p")[0].text)
    assert [a.text_content().split(" of ")[0] for a in item.xpath(".//ul/li/a")] == [
        "Website",
        "Feed",
        "Status",
    ]


def test_a_status_page_says_what_happened_in_plain_words(demo_site: LiveSite) -> None:
    doc = _doc(demo_site.get("/blogs/hana-okafor-weeknotes/status/").text)
    paragraphs = [p.text_content() for p in doc.xpath("//main/p")]
    assert re.match(r"Fetched (just now|\d+ minutes? ago), 6 new posts\.", paragraphs[1])
    assert re.fullmatch(
        r"In \d+ (minutes?|hours?) \(\d{1,2} [A-Z][a-z]+ \d{4} at \d.* UTC\)\.", paragraphs[2]
    )
    assert "None. Every post we have from this blog is shown." in paragraphs


def test_the_about_page_comes_from_the_settings(demo_site: LiveSite) -> None:
    doc = _doc(demo_site.get("/about/").text)
    assert doc.xpath("//h1")[0].text_content() == "About Public sector blogs"
    assert doc.xpath("//a[@href='mailto:curator@example.org']")
    assert doc.xpath("//h2[@id='accessibility']")[0].text_content() == "Accessibility statement"


def test_revalidation_gets_304(demo_site: LiveSite) -> None:
    first = demo_site.get("/")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert re.fullmatch(r'"[0-9a-f]{24}"', etag)
    again = demo_site.get("/", {"If-None-Match": etag})
    assert (again.status, again.body) == (304, b"")
    assert again.headers["etag"] == etag
    by_date = demo_site.get("/", {"If-Modified-Since": modified})
    assert by_date.status == 304
    earlier = format_datetime(datetime.now(UTC) - timedelta(days=3650), usegmt=True)
    assert demo_site.get("/", {"If-Modified-Since": earlier}).status == 200
    assert demo_site.get("/", {"If-None-Match": '"something-else"'}).status == 200
    # the compressed copy's tag revalidates too
    zipped = demo_site.get("/", {"Accept-Encoding": "gzip"})
    assert zipped.headers["etag"] == etag[:-1] + '-gzip"'
    assert demo_site.get("/", {"If-None-Match": zipped.headers["etag"]}).status == 304


def test_pages_are_compressed_for_clients_that_accept_it(demo_site: LiveSite) -> None:
    plain = demo_site.get("/")
    zipped = demo_site.get("/", {"Accept-Encoding": "gzip, deflate, br"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["vary"]
    assert gzip.decompress(zipped.body) == plain.body
    assert len(zipped.body) < len(plain.body) / 2
    assert "content-encoding" not in demo_site.get("/", {"Accept-Encoding": "gzip;q=0"}).headers


@pytest.mark.parametrize("path", ["/", "/nothing-here", "/api/posts", "/api/posts/99999"])
def test_security_headers_on_every_answer(demo_site: LiveSite, path: str) -> None:
    headers = demo_site.get(path).headers
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "script-src 'self';" in csp and "connect-src 'self';" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "server" not in headers


def test_own_css_and_js_are_small_and_kept_by_browsers(demo_site: LiveSite) -> None:
    doc = _doc(demo_site.get("/").text)
    sheets = doc.xpath("//link[@rel='stylesheet']/@href")
    scripts = doc.xpath("//script/@src")
    assert len(sheets) == 1 and sheets[0].startswith("/static/site.")
    assert len(scripts) == 1 and scripts[0].startswith("/static/live.")
    css = demo_site.get(sheets[0], {"Accept-Encoding": "gzip"})
    js = demo_site.get(scripts[0], {"Accept-Encoding": "gzip"})
    assert css.status == 200 and css.headers["content-type"] == "text/css; charset=utf-8"
    assert js.status == 200 and js.headers["content-type"] == "text/javascript; charset=utf-8"
    for answer in (css, js):
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert len(css.body) + len(js.body) < 20_000  # the budget, compressed
    text = gzip.decompress(css.body).decode()
    assert "@font-face" not in text and "@import" not in text and "url(" not in text


def test_head_requests(demo_site: LiveSite) -> None:
    answer = demo_site.get("/", method="HEAD")
    assert answer.status == 200 and answer.body == b"" and answer.headers["etag"]


def test_post_images_keep_their_size_and_load_lazily(demo_site: LiveSite) -> None:
    text = "".join(demo_site.get(f"/page/{n}/").text for n in range(2, 8))
    images = re.findall(r"<img\b[^>]*>", text)
    assert images
    assert all('loading="lazy"' in img for img in images)
    sized = [img for img in images if "width=" in img]
    assert sized and all('height="' in img for img in sized)


# --- the JSON API ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def openapi(demo_site: LiveSite) -> dict[str, object]:
    answer = demo_site.get("/api/openapi.json")
    assert answer.headers["content-type"] == "application/json"
    document: dict[str, object] = json.loads(answer.body)
    return document


def _check(document: dict[str, object], schema: str, value: object) -> None:
    root = {**document, "$ref": f"#/components/schemas/{schema}"}
    Draft202012Validator(root, format_checker=FormatChecker()).validate(value)


def test_the_openapi_document_is_valid(openapi: dict[str, object]) -> None:
    validate(openapi)  # type: ignore[arg-type]
    assert openapi["servers"] == [{"url": "https://blogs.example.org/api"}]


def test_the_api_answers_as_documented(
    demo_site: LiveSite, demo_store: Store, openapi: dict[str, object]
) -> None:
    page = json.loads(demo_site.get("/api/posts").body)
    _check(openapi, "PostPage", page)
    assert len(page["posts"]) == 50 and page["next"] == "/api/posts?page=2"
    assert page["posts"][0]["title"] == demo_store.river(limit=1)[0].title
    excerpts = [p for p in page["posts"] if p["blog"]["slug"] == "carers-link-north-news-and-blog"]
    assert excerpts and all(p["content_html"] is None and p["excerpt"] for p in excerpts)

    second = json.loads(demo_site.get("/api/posts?page=2").body)
    _check(openapi, "PostPage", second)
    assert second["previous"] == "/api/posts?page=1" and second["next"] is None

    one = json.loads(demo_site.get(f"/api/posts/{page['posts'][0]['id']}").body)
    _check(openapi, "Post", one)
    assert one == page["posts"][0]

    by_blog = json.loads(demo_site.get("/api/posts?blog=hana-okafor-weeknotes").body)
    assert {p["blog"]["slug"] for p in by_blog["posts"]} == {"hana-okafor-weeknotes"}
    by_category = json.loads(demo_site.get("/api/posts?category=health").body)
    assert by_category["posts"] and by_category["next"] is None
    assert all("Health" in p["categories"] for p in by_category["posts"])
    health = {b.title for b in sample_blogs() if "Health" in b.categories}
    assert len(health) == 2  # the NHS trust's digital team and the carers' charity
    assert {p["blog"]["title"] for p in by_category["posts"]} == health

    blogs = json.loads(demo_site.get("/api/blogs").body)
    for blog in blogs["blogs"]:
        _check(openapi, "Blog", blog)
    assert len(blogs["blogs"]) == 12
    blog = json.loads(demo_site.get("/api/blogs/hana-okafor-weeknotes").body)
    assert blog["posts"] == 6 and blog["categories"] == ["Local government", "Digital"]

    categories = json.loads(demo_site.get("/api/categories").body)
    for category in categories["categories"]:
        _check(openapi, "Category", category)
    assert [c["name"] for c in categories["categories"]] == [
        c.name for c in demo_store.categories()
    ]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/posts/999999", 404),
        ("/api/posts?page=0", 400),
        ("/api/posts?page=abc", 400),
        ("/api/posts?page=999", 404),
        ("/api/posts?blog=nobody", 404),
        ("/api/blogs/nobody", 404),
        ("/api/nothing", 404),
    ],
)
def test_api_errors_have_one_shape(
    demo_site: LiveSite, openapi: dict[str, object], path: str, status: int
) -> None:
    answer = demo_site.get(path)
    assert answer.status == status
    assert answer.headers["content-type"] == "application/json"
    error = json.loads(answer.body)
    _check(openapi, "Error", error)
    assert error["error"]["status"] == status and error["error"]["message"]
