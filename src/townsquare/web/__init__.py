"""The public website: the river, blogs, categories, archives, status pages and a JSON API.

app.py        create_app: the route table and the one place errors become responses
pages.py      the HTML pages, one small handler each
api.py        the JSON API; openapi.py describes it
health.py     /healthz and /metrics, for whoever runs the site
site.py       state shared by handlers: store, templates, page cache, index
index.py      the blogs and categories, read once per store revision
views.py      what a page shows of a post
content.py    a post's stored HTML inside a page (heading levels), excerpts
status.py     a blog's status in plain words; words.py: times and counts
responses.py  ETag, Last-Modified, 304, gzip, the page cache
live.py       the live river: Server-Sent Events about new posts
websub.py     WebSub: the callback hubs talk to, and our own hub
security.py   security headers on every response
paths.py      every address on the site
render.py     Jinja2 templates (autoescaped) and static files
serve.py      running it with uvicorn
"""

from .app import create_app

__all__ = ["create_app"]
