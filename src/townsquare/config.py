"""Settings, each declared once.

Precedence: command-line flag > ``TOWNSQUARE_*`` environment variable >
TOML file (``--config``, ``TOWNSQUARE_CONFIG`` or ``./townsquare.toml``) >
default.  A bad value raises ``ConfigError`` quoting the key and the value.
``docs/configuration.md`` lists every setting; a test keeps it in step.
"""

from __future__ import annotations

import email.utils
import ipaddress
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import time
from pathlib import Path
from typing import Any

from . import __version__
from .errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def _int(raw: object) -> int:
    if isinstance(raw, bool):
        raise ValueError("expected a whole number")
    value = int(str(raw).strip())
    if value < 0:
        raise ValueError("expected a whole number of 0 or more")
    return value


def _count(raw: object) -> int:
    value = _int(raw)
    if value < 1:
        raise ValueError("expected a whole number of 1 or more")
    return value


def _port(raw: object) -> int:
    value = _int(raw)
    if value > 65535:
        raise ValueError("expected a port number from 0 to 65535")
    return value


def _float(raw: object) -> float:
    value = float(str(raw).strip())
    if value <= 0:
        raise ValueError("expected a number above 0")
    return value


def _seconds(raw: object) -> float:
    value = float(str(raw).strip())
    if not value >= 0:  # also refuses nan
        raise ValueError("expected a number of seconds, 0 or more")
    return value


def _clock(raw: object) -> time:
    if isinstance(raw, time):  # a TOML time of day
        return raw.replace(second=0, microsecond=0)
    text = str(raw).strip()
    hours, sep, minutes = text.partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError("expected a time of day as HH:MM, like 07:15")
    return time(int(hours), int(minutes))  # raises for 25:00 or 07:60


def _str(raw: object) -> str:
    return str(raw).strip()


def _hub(raw: object) -> str:
    text = str(raw).strip()
    if text.lower() in ("self", "none"):
        return text.lower()
    if not text.startswith(("https://", "http://")) or " " in text:
        raise ValueError("expected 'self', 'none' or a hub's http(s) address")
    return text


def _lease(raw: object) -> int:
    value = _int(raw)
    if value < 60:
        raise ValueError("expected a number of seconds of 60 or more")
    return value


def _mail_port(raw: object) -> int:
    value = _int(raw)
    if not 1 <= value <= 65535:
        raise ValueError("expected a port number from 1 to 65535")
    return value


def _choice(*allowed: str) -> Callable[[object], str]:
    def parse(raw: object) -> str:
        text = str(raw).strip().lower()
        if text not in allowed:
            raise ValueError("expected one of " + ", ".join(allowed))
        return text

    return parse


def _mailbox(raw: object) -> str:
    text = str(raw).strip()
    if text and "@" not in email.utils.parseaddr(text)[1]:
        raise ValueError("expected an email address, like 'Townsquare <digest@example.org>'")
    return text


def _secret(raw: object) -> str:
    text = str(raw).strip()
    if text and len(text) < 32:
        raise ValueError("expected at least 32 random characters")
    return text


def _networks(raw: object) -> tuple[Network, ...]:
    items = raw if isinstance(raw, list) else str(raw).split(",")
    out: list[Network] = []
    for item in items:
        text = str(item).strip()
        if text:
            out.append(ipaddress.ip_network(text, strict=False))
    return tuple(out)


@dataclass(frozen=True)
class Setting:
    name: str
    parse: Callable[[object], Any]
    default: object
    help: str
    secret: bool = False

    @property
    def env(self) -> str:
        return "TOWNSQUARE_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("db", _str, "townsquare.db", "Database: a SQLite file path or a postgresql:// URL."),
    Setting("site_name", _str, "Townsquare", "The site's name, shown on every page."),
    Setting(
        "site_description",
        _str,
        "Posts from the blogs of people who work in and around public services.",
        "One sentence saying what the site gathers.",
    ),
    Setting("base_url", _str, "http://127.0.0.1:8080/", "The public address of the site."),
    Setting("contact", _str, "", "How to reach the curator (an email address or a URL)."),
    Setting(
        "about",
        _str,
        "",
        "A few sentences about the site and who runs it, shown on the about page.",
    ),
    Setting(
        "accessibility_statement",
        _str,
        "",
        "Known accessibility problems and when they will be fixed, added to the accessibility "
        "statement on the about page.",
    ),
    Setting(
        "host", _str, "127.0.0.1", "The address 'townsquare serve' and 'townsquare run' listen on."
    ),
    Setting(
        "port",
        _port,
        8080,
        "The port 'townsquare serve' and 'townsquare run' listen on (0: any free port).",
    ),
    Setting("page_size", _count, 10, "Posts on each page of the river, a blog or a category."),
    Setting(
        "allow_networks",
        _networks,
        (),
        "Comma-separated CIDR ranges that feeds may be fetched from even though they are "
        "private, for example 127.0.0.1/32 for tests. Everything non-public is refused otherwise.",
    ),
    Setting(
        "fetch_concurrency",
        _int,
        32,
        "How many feeds are fetched and read at once; times max_body_bytes, it bounds memory.",
    ),
    Setting("fetch_per_host", _int, 2, "How many requests go to one host at once."),
    Setting("fetch_timeout", _float, 30.0, "Seconds a whole fetch may take, redirects included."),
    Setting("connect_timeout", _float, 10.0, "Seconds to wait for a connection."),
    Setting("max_body_bytes", _int, 10_000_000, "Largest feed body read, after decompression."),
    Setting(
        "poll_interval",
        _int,
        3600,
        "Seconds between fetches of a blog whose posting rhythm is not known yet; once it is, "
        "each blog is fetched about four times in its typical gap between posts, from every 15 "
        "minutes to once a day.",
    ),
    Setting(
        "fetch_host_gap",
        _seconds,
        1.0,
        "Seconds between the starts of two scheduled fetches to the same host, in each process "
        "('townsquare run' and 'townsquare worker'); 0 for no gap.",
    ),
    Setting(
        "shutdown_grace",
        _seconds,
        20.0,
        "Seconds fetches already under way may take to finish when the service is asked to stop; "
        "after that they are abandoned, and fetched again later.",
    ),
    Setting(
        "claim_lease",
        _int,
        600,
        "Seconds a worker may hold a batch of blogs before another worker may take them over.",
    ),
    Setting(
        "fetch_log_days",
        _count,
        30,
        "Days each fetch is kept in a blog's fetch history; older ones are forgotten every day.",
    ),
    Setting("feed_items", _count, 50, "How many of the newest posts each published feed holds."),
    Setting(
        "websub_hub",
        _hub,
        "self",
        "The WebSub hub our feeds name, so feed readers hear of new posts at once: 'self' "
        "(Townsquare is its own hub, at <base_url>websub/hub), a hub's address (Townsquare "
        "tells it when new posts arrive) or 'none'.",
    ),
    Setting(
        "websub_subscribe",
        _bool,
        True,
        "Subscribe to the WebSub hubs blogs name, so their posts arrive at once; needs a "
        "base_url the hubs can reach.",
    ),
    Setting(
        "websub_lease",
        _lease,
        604800,
        "Seconds a WebSub subscription lasts before it is renewed: asked of other hubs, and "
        "given by ours when a subscriber asks for none.",
    ),
    Setting(
        "secret_key",
        _secret,
        "",
        "At least 32 random characters that sign the links in emails. Keep it secret: "
        "changing it stops every link in emails already sent from working.",
        secret=True,
    ),
    Setting(
        "smtp_host",
        _str,
        "",
        "The mail server that sends digests and confirmation emails. No email is sent "
        "while this is empty.",
    ),
    Setting(
        "digest_time",
        _clock,
        time(7, 15),
        "When 'townsquare run' sends the digests each day (UTC, HH:MM): the daily ones, and "
        "the weekly ones on the first run of the week. Only while email is set up.",
    ),
    Setting(
        "smtp_port", _mail_port, 587, "The mail server's port (587 for starttls, 465 for tls)."
    ),
    Setting(
        "smtp_security",
        _choice("starttls", "tls", "none"),
        "starttls",
        "starttls, tls, or none (only for a mail server on this machine).",
    ),
    Setting("smtp_username", _str, "", "The login for the mail server, if it needs one."),
    Setting("smtp_password", _str, "", "The password for the mail server login.", secret=True),
    Setting("smtp_timeout", _float, 30.0, "Seconds to wait for the mail server at each step."),
    Setting(
        "smtp_from",
        _mailbox,
        "",
        "The sender of every email, for example 'Townsquare <digest@example.org>'.",
    ),
    Setting(
        "unsubscribe_address",
        _mailbox,
        "",
        "Where mail clients send unsubscribe requests by email (List-Unsubscribe mailto). "
        "Default: the smtp_from address.",
    ),
    Setting(
        "dkim_private_key",
        _str,
        "",
        "A PEM file with the RSA private key that DKIM-signs every email. No signing "
        "while this is empty.",
    ),
    Setting("dkim_selector", _str, "townsquare", "The DKIM selector: its DNS record's name."),
    Setting(
        "dkim_domain", _str, "", "The domain of the DKIM signature. Default: smtp_from's domain."
    ),
    Setting(
        "curator_email",
        _mailbox,
        "",
        "Where the weekly health email goes (default: the contact setting, when it is an "
        "email address).",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Config:
    db: str
    site_name: str
    site_description: str
    base_url: str
    contact: str
    about: str
    accessibility_statement: str
    host: str
    port: int
    page_size: int
    allow_networks: tuple[Network, ...]
    fetch_concurrency: int
    fetch_per_host: int
    fetch_timeout: float
    connect_timeout: float
    max_body_bytes: int
    poll_interval: int
    fetch_host_gap: float
    shutdown_grace: float
    claim_lease: int
    fetch_log_days: int
    feed_items: int
    websub_hub: str
    websub_subscribe: bool
    websub_lease: int
    secret_key: str
    smtp_host: str
    digest_time: time
    smtp_port: int
    smtp_security: str
    smtp_username: str
    smtp_password: str
    smtp_timeout: float
    smtp_from: str
    unsubscribe_address: str
    dkim_private_key: str
    dkim_selector: str
    dkim_domain: str
    curator_email: str

    @property
    def user_agent(self) -> str:
        return f"Townsquare/{__version__} (+{self.base_url})"

    @property
    def curator_address(self) -> str:
        """Where mail for the curator goes: ``curator_email``, else ``contact`` if an address."""
        if self.curator_email:
            return self.curator_email
        contact = self.contact
        if "@" in contact and " " not in contact and "://" not in contact:
            return contact.removeprefix("mailto:")
        return ""


def default_value(name: str) -> object:
    return _BY_NAME[name].default


def _parse(setting: Setting, raw: object, where: str) -> object:
    try:
        return setting.parse(raw)
    except ValueError as exc:
        raise ConfigError(f"bad setting {where}={raw!r}: {exc}") from None


def load(
    overrides: Mapping[str, object] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config_file: str | Path | None = None,
) -> Config:
    """Build the settings from defaults, a TOML file, the environment and flags."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {s.name: s.default for s in SETTINGS}

    path = config_file or env.get("TOWNSQUARE_CONFIG")
    file = Path(path) if path else Path("townsquare.toml")
    if path or file.exists():
        try:
            table = tomllib.loads(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read settings file '{file}': {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"settings file '{file}' is not valid TOML: {exc}") from None
        for key, raw in table.items():
            if key not in _BY_NAME:
                raise ConfigError(f"unknown setting {key!r} in '{file}'")
            values[key] = _parse(_BY_NAME[key], raw, key)

    for setting in SETTINGS:
        if setting.env in env and env[setting.env] != "":
            values[setting.name] = _parse(setting, env[setting.env], setting.env)

    for key, raw in (overrides or {}).items():
        if raw is not None:
            values[key] = _parse(_BY_NAME[key], raw, "--" + key.replace("_", "-"))

    config = Config(**values)  # type: ignore[arg-type]
    if not config.base_url.endswith("/"):
        config = _replace(config, base_url=config.base_url + "/")
    return config


def _replace(config: Config, **changes: object) -> Config:
    current = {f.name: getattr(config, f.name) for f in fields(config)}
    current.update(changes)
    return Config(**current)
