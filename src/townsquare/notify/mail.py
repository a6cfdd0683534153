"""Sending email over SMTP, with optional DKIM signing.

One ``Mailer`` keeps one connection open for many messages.  Each message is
sent step by step so that the caller knows what the server took:

    MAIL FROM   a 5xx here is our sender's fault: the run stops (MailError)
    RCPT TO     4xx: try again later; 5xx: this address is refused
    (claim)     the caller records SENDING; if it cannot, the message is dropped
    DATA        refused before the content: nothing was delivered (4xx/5xx as above);
                the connection lost after the content began: UNKNOWN, the server
                may have taken it
"""

from __future__ import annotations

import enum
import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import parseaddr
from ipaddress import ip_address
from pathlib import Path
from types import TracebackType

import dkim

from ..config import Config
from ..errors import MailError

# Reconnect after this many messages: some servers limit messages per connection.
MESSAGES_PER_CONNECTION = 100

# The headers the DKIM signature covers: RFC 8058 asks for both List-Unsubscribe ones.
SIGNED_HEADERS = (
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"MIME-Version",
    b"Content-Type",
    b"List-Id",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
)

_LEADING_DOT = re.compile(rb"(?m)^\.")


class Sent(enum.StrEnum):
    """How one message went."""

    SENT = "sent"
    TEMPORARY = "temporary"  # 4xx: nothing delivered; try again later
    PERMANENT = "permanent"  # 5xx: nothing delivered; the address or message is refused
    UNKNOWN = "unknown"  # the connection failed after the content began
    NOT_CLAIMED = "not_claimed"  # the caller's claim failed: nothing sent


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Sent
    reply: str = ""  # the server's answer or the failure, for the curator


def _reply(code: int, text: bytes | str) -> str:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(message.split())}".strip()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


class Mailer:
    """An SMTP connection set up from the settings; use it in a ``with`` block."""

    def __init__(self, config: Config) -> None:
        if not config.smtp_host:
            raise MailError(
                "email is not set up: set smtp_host (TOWNSQUARE_SMTP_HOST) to your mail server"
            )
        if not config.smtp_from:
            raise MailError(
                "email is not set up: set smtp_from (TOWNSQUARE_SMTP_FROM) to the address "
                "emails come from, like 'Townsquare <digest@example.org>'"
            )
        if (
            config.smtp_username
            and config.smtp_security == "none"
            and not _is_loopback(config.smtp_host)
        ):
            raise MailError(
                f"smtp_security is none, so the password for '{config.smtp_host}' would cross "
                "the network unencrypted: set smtp_security to starttls or tls"
            )
        self.config = config
        self.sender = parseaddr(config.smtp_from)[1]
        self.where = f"{config.smtp_host}:{config.smtp_port}"
        self._dkim_key: bytes | None = None
        self._dkim_domain = (config.dkim_domain or self.sender.rpartition("@")[2]).encode()
        if config.dkim_private_key:
            self._dkim_key = _read_dkim_key(config.dkim_private_key)
        self._smtp: smtplib.SMTP | None = None
        self._sent_on_connection = 0

    def __enter__(self) -> Mailer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def render(self, message: EmailMessage) -> bytes:
        """The bytes put on the wire, CRLF line ends, DKIM-signed when set up."""
        data = message.as_bytes(policy=SMTP)
        if self._dkim_key is None:
            return data
        present = {name.lower() for name in message.keys()}  # noqa: SIM118 - names, unparsed
        try:
            signature = dkim.sign(
                data,
                self.config.dkim_selector.encode(),
                self._dkim_domain,
                self._dkim_key,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=[h for h in SIGNED_HEADERS if h.decode().lower() in present],
            )
        except dkim.DKIMException as exc:
            raise MailError(f"cannot DKIM-sign email: {exc}") from None
        return bytes(signature) + data

    def send(self, message: EmailMessage, *, claim: Callable[[], bool] | None = None) -> SendResult:
        """Send one message to its To address; ``claim`` runs just before DATA."""
        recipient = parseaddr(str(message["To"]))[1]
        data = self.render(message)
        smtp = self._envelope_ready()
        try:
            code, text = smtp.mail(self.sender)
        except (smtplib.SMTPException, OSError):
            # The server may have closed an idle connection: a new one, once.
            self._drop()
            smtp = self._envelope_ready()
            try:
                code, text = smtp.mail(self.sender)
            except (smtplib.SMTPException, OSError) as exc:
                self._drop()
                raise MailError(
                    f"the mail server {self.where} closed the connection: {exc}"
                ) from None
        if code >= 500:
            self._drop()
            raise MailError(
                f"the mail server {self.where} refused the sender '{self.sender}': "
                f"{_reply(code, text)}: check smtp_from"
            )
        if code >= 400:
            return self._abandon(SendResult(Sent.TEMPORARY, _reply(code, text)))
        try:
            code, text = smtp.rcpt(recipient)
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            return SendResult(Sent.TEMPORARY, f"the connection failed: {exc}")
        if code >= 400:
            outcome = Sent.PERMANENT if code >= 500 else Sent.TEMPORARY
            return self._abandon(SendResult(outcome, _reply(code, text)))
        if claim is not None and not claim():
            return self._abandon(SendResult(Sent.NOT_CLAIMED))
        return self._data(smtp, data)

    def _abandon(self, result: SendResult) -> SendResult:
        """Reset the transaction (or drop a broken connection) and give the result."""
        if self._smtp is not None:
            try:
                self._smtp.rset()
            except (smtplib.SMTPException, OSError):
                self._drop()
        return result

    def _data(self, smtp: smtplib.SMTP, data: bytes) -> SendResult:
        try:
            code, text = smtp.docmd("DATA")
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            return SendResult(Sent.TEMPORARY, f"the connection failed before the message: {exc}")
        if code != 354:
            outcome = Sent.PERMANENT if code >= 500 else Sent.TEMPORARY
            return self._abandon(SendResult(outcome, _reply(code, text)))
        try:
            body = _LEADING_DOT.sub(b"..", data)
            if not body.endswith(b"\r\n"):
                body += b"\r\n"
            smtp.send(body + b".\r\n")
            code, text = smtp.getreply()
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            return SendResult(Sent.UNKNOWN, f"the connection failed during the message: {exc}")
        self._sent_on_connection += 1
        if code == 250:
            return SendResult(Sent.SENT, _reply(code, text))
        return SendResult(Sent.PERMANENT if code >= 500 else Sent.TEMPORARY, _reply(code, text))

    def _envelope_ready(self) -> smtplib.SMTP:
        if self._smtp is not None and self._sent_on_connection >= MESSAGES_PER_CONNECTION:
            self.close()
        if self._smtp is None:
            self._smtp = self._connect()
            self._sent_on_connection = 0
        return self._smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        smtp: smtplib.SMTP | None = None
        try:
            if c.smtp_security == "tls":
                smtp = smtplib.SMTP_SSL(
                    c.smtp_host,
                    c.smtp_port,
                    timeout=c.smtp_timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(c.smtp_host, c.smtp_port, timeout=c.smtp_timeout)
            smtp.ehlo()
            if c.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if c.smtp_username:
                smtp.login(c.smtp_username, c.smtp_password)
        except smtplib.SMTPAuthenticationError as exc:
            _close_quietly(smtp)
            raise MailError(
                f"the mail server {self.where} refused the login '{c.smtp_username}': "
                f"{_reply(exc.smtp_code, exc.smtp_error)}: check smtp_username and smtp_password"
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            _close_quietly(smtp)
            raise MailError(
                f"the mail server {self.where} does not offer what smtp_security or a login "
                f"needs: {exc}: check smtp_security"
            ) from None
        except ssl.SSLError as exc:
            _close_quietly(smtp)
            raise MailError(
                f"cannot make a secure connection to the mail server {self.where}: "
                f"{exc.reason or exc}: check smtp_security and smtp_port"
            ) from None
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            _close_quietly(smtp)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise MailError(
                f"cannot reach the mail server {self.where}: {reason or type(exc).__name__}: "
                "check smtp_host and smtp_port"
            ) from None
        return smtp


def _close_quietly(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        smtp.close()


def _read_dkim_key(path: str) -> bytes:
    try:
        key = Path(path).read_bytes()
    except OSError as exc:
        raise MailError(
            f"cannot read the DKIM private key '{path}': {exc.strerror}: check dkim_private_key"
        ) from None
    try:
        dkim.crypto.parse_pem_private_key(key)
    except (dkim.crypto.UnparsableKeyError, ValueError, IndexError) as exc:
        raise MailError(
            f"the DKIM private key '{path}' is not a PEM RSA private key "
            f"('BEGIN RSA PRIVATE KEY'): {exc}"
        ) from None
    return key
