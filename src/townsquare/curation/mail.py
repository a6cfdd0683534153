"""The curator's emails (the weekly health email, decisions on suggestions and requests):
plain text, sent one at a time through the same ``notify.mail.Mailer`` as the digests
(the same settings, security and DKIM signing).

Every failure is a ``MailError`` whose message says what to do; nothing is
retried: a decision's email that could not be sent is noted in the queue.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from ..config import Config
from ..errors import MailError
from ..notify.mail import Mailer, Sent


def message(config: Config, to: str, subject: str, body: str) -> EmailMessage:
    """A plain-text email from the site to ``to``."""
    mail = EmailMessage()
    mail["From"] = config.smtp_from
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = format_datetime(datetime.now(UTC))
    domain = parseaddr(config.smtp_from)[1].rpartition("@")[2] or None
    mail["Message-ID"] = make_msgid(idstring="curator", domain=domain)
    mail.set_content(body)
    return mail


def send(config: Config, mail: EmailMessage) -> None:
    """Hand ``mail`` to the mail server; ``MailError`` unless it took it."""
    with Mailer(config) as mailer:
        result = mailer.send(mail)
    if result.outcome is not Sent.SENT:
        raise MailError(
            f"the mail server did not take the email to {mail['To']}: "
            f"{result.reply or result.outcome.value}"
        )
