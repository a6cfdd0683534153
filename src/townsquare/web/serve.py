"""Running the website with uvicorn, on a socket we bind first (so port 0 works)."""

from __future__ import annotations

import socket

import uvicorn
from starlette.types import ASGIApp
from uvicorn.config import LOGGING_CONFIG


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named outright: asyncio turns Nagle off only for sockets that say so,
    # and with Nagle on, a keep-alive client waits 40 ms for every answer.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def server(app: ASGIApp, *, configure_logging: bool = True) -> uvicorn.Server:
    """uvicorn over ``app``; without ``configure_logging`` its records go to the root
    logger as they are (``townsquare run`` writes them as JSON lines)."""
    # Open live-river streams would hold a shutdown forever: they get a few seconds.
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        server_header=False,
        lifespan="off",
        log_config=LOGGING_CONFIG if configure_logging else None,
        timeout_graceful_shutdown=3,
    )
    return uvicorn.Server(config)
