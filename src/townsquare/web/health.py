"""For the people and machines that run the site: ``/healthz`` and ``/metrics``.

``/healthz`` answers 200 when the store answers, 503 when it does not (the
details go to the log, not to whoever asked).  ``/metrics`` is Prometheus's text
format (see ``townsquare.metrics``).  Neither is ever cached.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ..errors import StoreError
from ..metrics import CONTENT_TYPE, exposition
from .site import Site

log = logging.getLogger("townsquare.web")
NO_STORE = {"Cache-Control": "no-store"}


async def healthz(request: Request) -> Response:
    site: Site = request.app.state.site
    try:
        await run_in_threadpool(site.store.ping)
    except StoreError as exc:
        log.warning("unhealthy", extra={"fields": {"error": str(exc)}})
        return PlainTextResponse(
            "unhealthy: the database cannot be reached\n", 503, headers=NO_STORE
        )
    return PlainTextResponse("ok\n", headers=NO_STORE)


async def metrics(request: Request) -> Response:
    site: Site = request.app.state.site
    body = await run_in_threadpool(exposition, site.store)
    return Response(body, headers=NO_STORE, media_type=CONTENT_TYPE)
