"""Curator accounts: argon2id passwords, sessions, rate limits and the audit log in the store
(SQLite and PostgreSQL), and `townsquare user`, which never takes a password as an argument."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import Result
from townsquare import cli
from townsquare.curation import limits
from townsquare.curation.passwords import check_username, hash_password, verify
from townsquare.errors import InputError, NotFoundError
from townsquare.store import Store, open_store

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


def test_passwords_are_hashed_with_argon2id(store: Store) -> None:
    hashed = hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    ada = store.add_curator("ada", hashed, NOW)
    assert verify(ada, PASSWORD)
    assert not verify(ada, PASSWORD + "!")
    assert not verify(None, PASSWORD)
    with pytest.raises(InputError, match="too short"):
        hash_password("short")
    with pytest.raises(InputError, match="already a curator called 'ada'"):
        store.add_curator("ada", hashed, NOW)
    with pytest.raises(InputError, match="bad username"):
        check_username("ada lovelace")


def test_sessions_expire_and_end(store: Store) -> None:
    ada = store.add_curator("ada", hash_password(PASSWORD), NOW)
    token = store.start_session(ada, NOW, timedelta(hours=12))
    session = store.session(token, NOW + timedelta(hours=11))
    assert session is not None and session.curator.username == "ada"
    assert len(session.csrf_token) >= 40
    assert token not in str(store.db.fetchall("SELECT * FROM sessions"))  # only its hash
    assert store.session(token, NOW + timedelta(hours=13)) is None
    assert store.session("made-up", NOW) is None

    store.set_flash(session.token_hash, "Blog added")
    assert store.session(token, NOW).flash == "Blog added"  # type: ignore[union-attr]
    other = store.start_session(ada, NOW, timedelta(hours=12))
    store.end_session(session.token_hash)
    assert store.session(token, NOW) is None
    assert store.session(other, NOW) is not None
    store.set_password("ada", hash_password("another long password"))  # ends every session
    assert store.session(other, NOW) is None
    store.remove_curator("ada")
    with pytest.raises(NotFoundError):
        store.remove_curator("ada")


def test_rate_limits_count_within_their_window(store: Store) -> None:
    limit = limits.SIGN_IN_NAME
    for minute in range(limit.most):
        assert not limits.reached(store, limit, "ada", NOW + timedelta(minutes=minute))
        limits.count(store, limit, "ada", NOW + timedelta(minutes=minute))
    assert limits.reached(store, limit, "ada", NOW + timedelta(minutes=5))
    assert not limits.reached(store, limit, "bob", NOW + timedelta(minutes=5))
    assert not limits.reached(store, limit, "ada", NOW + timedelta(minutes=16))  # window passed
    store.clear_events(limit.bucket, "ada")
    assert not limits.reached(store, limit, "ada", NOW + timedelta(minutes=5))


def test_the_audit_log_is_newest_first(store: Store) -> None:
    store.audit("ada", "Signed in", NOW)
    store.audit("ada", "Added the blog X", NOW + timedelta(minutes=1))
    store.audit("bob", "Signed in", NOW + timedelta(minutes=2))
    assert [(e.username, e.action) for e in store.audit_log(limit=2)] == [
        ("bob", "Signed in"),
        ("ada", "Added the blog X"),
    ]
    assert store.site_key("forms") == store.site_key("forms") != store.site_key("other")


# --- the command line --------------------------------------------------------------------


def test_user_command_asked_wrongly_makes_no_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "new.db"
    assert cli.main(["--db", str(db), "user", "add"]) == 1
    assert cli.main(["--db", str(db), "user", "remove", "ada", "--json"]) == 1
    err = capsys.readouterr().err
    assert "give the username: townsquare user add USERNAME" in err
    assert "--json goes with 'townsquare user list'" in err
    assert not db.exists()


def test_user_add_reads_the_password_from_standard_input(
    run: Callable[..., Result], db_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    added = run("user", "add", "ada")
    assert added.code == 0, added.err
    assert added.out.startswith("Added the curator ada: sign in at ")
    assert PASSWORD not in added.out + added.err
    with open_store(db_path) as store:
        ada = store.curator("ada")
        assert ada is not None and verify(ada, PASSWORD)
        assert store.audit_log()[0].action == "Curator account added on the command line"

    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert "the password is too short" in run("user", "add", "bob").err
    again = run("user", "add", "ada")
    assert again.code == 1 and "already a curator called 'ada'" in again.err

    monkeypatch.setattr(sys, "stdin", io.StringIO("a brand new long password\n"))
    assert run("user", "password", "ada").code == 0
    with open_store(db_path) as store:
        assert verify(store.curator("ada"), "a brand new long password")
    assert run("user", "list").out.startswith("ada  (added ")
    listed = json.loads(run("user", "list", "--json").out)
    assert [(c["username"], c["last_signed_in"]) for c in listed] == [("ada", None)]
    assert abs(datetime.fromisoformat(listed[0]["added"]) - datetime.now(UTC)) < timedelta(
        minutes=5
    )
    assert run("user", "remove", "ada", "--json").err.endswith(
        "--json goes with 'townsquare user list'\n"
    )
    assert run("user", "remove", "ada").out == "Removed the curator ada\n"
    assert json.loads(run("user", "list", "--json").out) == []
    assert run("user", "list").out.startswith("No curators yet.")
    assert "give the username" in run("user", "add").err


def test_a_password_cannot_be_given_as_an_argument(
    db_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["--db", db_path, "user", "add", "ada", PASSWORD])
    assert stopped.value.code == 2  # a usage mistake: nothing was added
    assert "unrecognized arguments" in capsys.readouterr().err
