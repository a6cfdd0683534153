"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it accepts.

In a thread for most tests (the ``smtp`` fixture), or as a process of its own
for the crash tests and the benchmark::

    python tests/smtp_sink.py PORT OUT.jsonl [--hold STAGE:N] [--control FILE]
                              [--reply ADDRESS=CODE TEXT ...]

Each accepted message is one JSON line in OUT ({"rcpt": [...], "data": base64}),
flushed before the server answers 250.  ``--hold STAGE:N`` makes the server stop
answering at the Nth EHLO, MAIL, RCPT, DATA-before-keeping ('data-before') or
DATA-after-keeping ('data-after'), once, after writing 'held STAGE:N' to the
control file; the client sees a server that has gone quiet at that point.
``--reply`` answers RCPT for one address with a fixed reply, such as '550 5.1.1
no such user'.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import signal
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

STAGES = ("ehlo", "mail", "rcpt", "data-before", "data-after")


def free_port() -> int:
    """A port free on 127.0.0.1 now (aiosmtpd cannot be given port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    rcpt: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Sink:
    """The aiosmtpd handler: records messages, answers as told, holds where told."""

    out: Path | None = None
    control: Path | None = None
    hold: tuple[str, int] | None = None
    replies: dict[str, str] = field(default_factory=dict)  # RCPT address -> reply
    data_reply: str | None = None  # answer DATA with this instead of 250
    received: list[Received] = field(default_factory=list)
    _counts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self.replies.clear()
            self.data_reply = None

    async def _maybe_hold(self, stage: str) -> None:
        self._counts[stage] = self._counts.get(stage, 0) + 1
        if self.hold == (stage, self._counts[stage]):
            self.hold = None
            if self.control is not None:
                with self.control.open("a") as f:
                    f.write(f"held {stage}:{self._counts[stage]}\n")
            await asyncio.sleep(3600)

    async def handle_EHLO(  # noqa: N802 - aiosmtpd names the hooks
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        await self._maybe_hold("ehlo")
        session.host_name = hostname
        return responses

    async def handle_MAIL(  # noqa: N802 - aiosmtpd names the hooks
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        await self._maybe_hold("mail")
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802 - aiosmtpd names the hooks
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        await self._maybe_hold("rcpt")
        reply = self.replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd names the hooks
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        await self._maybe_hold("data-before")
        if self.data_reply is not None:
            return self.data_reply
        received = Received(list(envelope.rcpt_tos), bytes(envelope.original_content))
        with self._lock:
            self.received.append(received)
            if self.out is not None:
                line = {"rcpt": received.rcpt, "data": base64.b64encode(received.data).decode()}
                with self.out.open("a") as f:
                    f.write(json.dumps(line) + "\n")
                    f.flush()
        await self._maybe_hold("data-after")
        return "250 OK: queued"


def read_messages(path: Path) -> list[Received]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            item = json.loads(line)
            out.append(Received(item["rcpt"], base64.b64decode(item["data"])))
    return out


class SMTPServer:
    """A Sink served on a free port of 127.0.0.1 from a thread."""

    def __init__(self, sink: Sink, *, login: tuple[str, str] | None = None) -> None:
        self.sink = sink
        self.port = free_port()
        kwargs: dict[str, Any] = {}
        if login is not None:

            def authenticate(
                server: Any, session: Any, envelope: Any, mechanism: str, data: Any
            ) -> AuthResult:
                ok = (
                    isinstance(data, LoginPassword)
                    and (
                        data.login.decode(),
                        data.password.decode(),
                    )
                    == login
                )
                return AuthResult(success=ok, handled=False)

            kwargs = {
                "authenticator": authenticate,
                "auth_required": True,
                "auth_require_tls": False,
            }
        self.controller = Controller(sink, hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()

    @property
    def messages(self) -> list[Received]:
        with self.sink._lock:
            return list(self.sink.received)

    def stop(self) -> None:
        self.controller.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--control", type=Path)
    parser.add_argument("--hold", help="STAGE:N, STAGE one of " + ", ".join(STAGES))
    parser.add_argument("--reply", action="append", default=[], help="ADDRESS=REPLY")
    args = parser.parse_args(argv)
    hold = None
    if args.hold:
        stage, _, n = args.hold.partition(":")
        hold = (stage, int(n))
    replies = dict(r.split("=", 1) for r in args.reply)
    sink = Sink(out=args.out, control=args.control, hold=hold, replies=replies)
    controller = Controller(sink, hostname="127.0.0.1", port=args.port)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
