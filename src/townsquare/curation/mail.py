"""Sending the curator's emails (the weekly health email, decisions on suggestions and
requests) through the mail server in the settings.

Plain SMTP, upgraded with STARTTLS whenever the server offers it.  Every
failure is a ``MailError`` whose message says what to do; nothing is
retried: a decision's email that could not be sent is noted in the queue.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ..config import Config
from ..errors import MailError

TIMEOUT = 30.0


def message(config: Config, to: str, subject: str, body: str) -> EmailMessage:
    """A plain-text email from the site."""
    if not config.smtp_from:
        raise MailError("no email sent: set smtp_from to the address emails come from")
    mail = EmailMessage()
    mail["From"] = config.smtp_from
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = make_msgid(domain=config.smtp_from.rpartition("@")[2].strip(">"))
    mail.set_content(body)
    return mail


def send(config: Config, mail: EmailMessage) -> None:
    """Hand ``mail`` to the mail server; ``MailError`` if it is not taken."""
    if not config.smtp_host:
        raise MailError("no email sent: set smtp_host to your mail server to send email")
    where = f"{config.smtp_host}:{config.smtp_port}"
    try:
        with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=TIMEOUT) as smtp:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            smtp.send_message(mail)
    except smtplib.SMTPRecipientsRefused as exc:
        refused = ", ".join(exc.recipients)
        raise MailError(f"the mail server at {where} refused the address {refused}") from None
    except smtplib.SMTPResponseException as exc:
        reply = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        raise MailError(
            f"the mail server at {where} answered {exc.smtp_code} {' '.join(reply.split())}"
        ) from None
    except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
        raise MailError(f"could not send email through {where}: {exc}") from None
