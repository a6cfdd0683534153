"""Email addresses typed into a form: checked for form only, never looked up."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from ..errors import InputError

MAX_LENGTH = 254


def check_address(raw: str) -> tuple[str, str]:
    """The address to send to and its key (lower case: one subscription per mailbox).

    Raises ``InputError`` with a message to show beside the field.
    """
    text = raw.strip()
    if not text:
        raise InputError("Enter your email address")
    if len(text) > MAX_LENGTH:
        raise InputError(f"Email address must be {MAX_LENGTH} characters or fewer")
    try:
        checked = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise InputError(
            "Enter an email address in the correct format, like name@example.com"
        ) from None
    address = checked.ascii_email or checked.normalized
    return address, address.lower()
