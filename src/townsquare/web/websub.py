"""The website's side of WebSub: the callback hubs talk to, and our own hub.

    GET  /websub/callback/<key>   a hub checks a request of ours: the challenge
                                  echoed, or 404 for anything we did not ask
    POST /websub/callback/<key>   a hub sends new content: 403 unless signed
                                  with the subscription's secret; then ingested
    POST /websub/hub              a subscriber asks our hub: 202, then checked
                                  with its callback after the answer is sent

Every answer is one line of plain text.  The work is in ``townsquare.websub``.
Each check our hub makes is a request to an address a stranger gave, so a
process makes at most ``MAX_CHECKS`` at once (through the network guard).
"""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ..errors import InputError
from ..websub import hub as our_hub
from ..websub import protocol, subscriber
from ..websub.protocol import Answer
from .site import Site

MAX_CHECKS = 50  # our hub's checks with callbacks under way at once, per process


def _text(answer: Answer, background: BackgroundTask | None = None) -> Response:
    return PlainTextResponse(answer.text + "\n", answer.status, background=background)


async def _body(request: Request, limit: int) -> bytes | None:
    """The request's body, or None if it is longer than ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def callback(request: Request) -> Response:
    site: Site = request.app.state.site
    key = request.path_params["key"]
    if request.method == "GET":
        params = dict(reversed(request.query_params.multi_items()))  # the first one wins
        return _text(subscriber.confirm(site.store, site.config, key, params))
    body = await _body(request, site.config.max_body_bytes)
    if body is None:
        return _text(Answer(413, "The content is larger than this site accepts."))
    headers = dict(request.headers.items())  # names in lower case
    links = request.headers.getlist("link")
    return _text(await subscriber.receive(site.store, site.config, key, body, headers, links))


async def hub(request: Request) -> Response:
    site: Site = request.app.state.site
    if site.config.websub_hub != "self":
        return _text(Answer(404, "This site does not run a WebSub hub."))
    body = await _body(request, protocol.MAX_FORM)
    if body is None:
        return _text(Answer(413, "The request is too long."))
    try:
        fields = protocol.read_form(body)
    except InputError as exc:
        return _text(Answer(400, str(exc)[:1].upper() + str(exc)[1:] + "."))
    checked = our_hub.check_request(site.store, site.config, fields)
    if isinstance(checked, Answer):
        return _text(checked)
    if site.hub_checks >= MAX_CHECKS:
        busy = Answer(429, "The hub is busy. Try again in a minute.")
        return PlainTextResponse(busy.text + "\n", busy.status, {"Retry-After": "60"})

    async def check(request: our_hub.HubRequest) -> None:
        # Counted while it runs: a check that never starts (the client hung up) holds nothing.
        site.hub_checks += 1
        try:
            await our_hub.verify(site.store, site.config, request)
        finally:
            site.hub_checks -= 1

    return _text(
        Answer(202, "Accepted: the hub will now check with the callback."),
        BackgroundTask(check, checked),
    )
