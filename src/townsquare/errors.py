"""Errors a curator can act on.

Every error Townsquare raises on purpose is one of these; the command line
and the website show its message, never a traceback::

    TownsquareError
    ├── ConfigError             a setting has a bad value
    ├── StoreError              the database cannot be opened or written
    │   └── NotFoundError       no such source, post or category
    │       ├── SourceNotFoundError
    │       ├── CategoryNotFoundError
    │       └── PostGoneError   the curator took the post down
    ├── SourceExistsError       the feed is already listed
    ├── InputError              something a person typed is not usable
    ├── BusyError               too much is being asked at once: try again shortly
    ├── MailError               email cannot be sent: not set up, or the mail server failed
    └── FeedError               a feed could not be fetched or read
        ├── BlockedAddressError the address is not allowed (private network)
        ├── FetchError          network or HTTP failure
        ├── ParseError          the body is not a feed we can read
        └── NoFeedFoundError    a web page with no feed linked from it

Messages name the thing and the cause, for example
``feed not found: 'https://blog.example/feed': the server answered 404``.
"""

from __future__ import annotations


class TownsquareError(Exception):
    """Base of every error Townsquare raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(TownsquareError):
    """A setting has a value Townsquare cannot use."""


class StoreError(TownsquareError):
    """The database could not be opened, migrated or written."""


class NotFoundError(StoreError):
    """A thing asked for by id, URL or slug is not stored."""


class SourceNotFoundError(NotFoundError):
    def __init__(self, key: object) -> None:
        super().__init__(f"no such blog: {key!r}: run 'townsquare sources' to see the blogs listed")


class CategoryNotFoundError(NotFoundError):
    def __init__(self, key: object) -> None:
        super().__init__(f"no such category: {key!r}")


class PostGoneError(NotFoundError):
    """A post the site no longer shows (taken down, or left out by a filter)."""

    def __init__(self, post_id: int) -> None:
        super().__init__(f"post {post_id} has been removed from this site")


class SourceExistsError(TownsquareError):
    def __init__(self, url: str, title: str) -> None:
        super().__init__(f"blog already listed: {url!r} is '{title}'")


class InputError(TownsquareError):
    """Something typed on the command line or in a form is not usable."""


class BusyError(TownsquareError):
    """Too much is being asked of the site at once (searches); it can be asked again soon."""


class MailError(TownsquareError):
    """Email cannot be sent: it is not set up, or the mail server cannot be used."""


class FeedError(TownsquareError):
    """A feed could not be fetched or read."""


class BlockedAddressError(FeedError):
    """The URL resolves to an address Townsquare must not connect to."""


class FetchError(FeedError):
    """The network or the server failed."""


class ParseError(FeedError):
    """The body is not a feed Townsquare can read."""


class NoFeedFoundError(FeedError):
    """A web page that links to no feed."""
