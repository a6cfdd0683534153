"""A raw TCP server on a loopback address, for servers that misbehave below HTTP.

``RawServer(handler)`` calls ``handler(conn)`` with each accepted socket in
its own thread, so a test can drip bytes, lie about lengths or never answer.
With no handler it only watches: it records every connection and every byte
received, which is how a test proves that nothing reached it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

Handler = Callable[[socket.socket], None]


class RawServer:
    def __init__(self, handler: Handler | None = None, host: str = "127.0.0.1", port: int = 0):
        self.handler = handler
        self.connections = 0
        self.received = b""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(128)
        self._sock.settimeout(0.1)
        self.host = host
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, path: str = "/") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            if self.handler is not None:
                with contextlib.suppress(OSError):  # the client hung up, as it should
                    self.handler(conn)
                return
            conn.settimeout(2)
            try:
                while data := conn.recv(65536):
                    with self._lock:
                        self.received += data
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=2)


def read_request(conn: socket.socket) -> bytes:
    """Read one request's head (up to the blank line)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data
