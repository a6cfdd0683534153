"""Curators' passwords: argon2id with OWASP's first choice of cost (46 MiB of memory, one
pass, one lane: about 50 ms here), so a sign-in does not hold a web process's core for long.
A hash made with other costs is made again at the next sign-in (``needs_rehash``).

``verify`` takes the same time whether or not the account exists, so the
sign-in form does not tell which usernames are real.
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import InputError
from ..store import Curator

MIN_LENGTH = 12
MAX_LENGTH = 1000
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,49}")
_HASHER = PasswordHasher(time_cost=1, memory_cost=47104, parallelism=1)
_DUMMY = _HASHER.hash("a password nobody has, to spend the same time")


def check_username(username: str) -> str:
    if not _USERNAME.fullmatch(username):
        raise InputError(
            f"bad username {username!r}: use 1 to 50 letters, digits, dots, dashes, "
            "underscores or @, starting with a letter or digit"
        )
    return username


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise InputError(
            f"the password is too short: use at least {MIN_LENGTH} characters "
            "(three random words make a good one)"
        )
    if len(password) > MAX_LENGTH:
        raise InputError(f"the password is too long: use at most {MAX_LENGTH} characters")
    return _HASHER.hash(password)


def needs_rehash(curator: Curator) -> bool:
    return _HASHER.check_needs_rehash(curator.password_hash)


def verify(curator: Curator | None, password: str) -> bool:
    """Whether ``password`` is the curator's; spends the same time for no curator."""
    try:
        right = _HASHER.verify(curator.password_hash if curator else _DUMMY, password[:MAX_LENGTH])
    except (VerificationError, InvalidHashError):
        return False
    return right and curator is not None
