"""Curation test fixtures: a real SMTP server, and settings that send email to it."""

from __future__ import annotations

import pytest

from smtp_mailbox import Mailbox, mailbox  # noqa: F401
from townsquare.config import Config, load


@pytest.fixture
def mail_config(db_path: str, mailbox: Mailbox) -> Config:  # noqa: F811
    return load(
        {
            "db": db_path,
            "smtp_host": "127.0.0.1",
            "smtp_port": mailbox.port,
            "smtp_from": "Townsquare <curator@blogs.example.org>",
            "curator_email": "curator@example.org",
            "site_name": "Public sector blogs",
            "base_url": "https://blogs.example.org/",
        },
        environ={"TOWNSQUARE_ALLOW_NETWORKS": "127.0.0.1/32"},
    )
