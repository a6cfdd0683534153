"""Settings: each one documented, each bad value named with its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from townsquare.config import SETTINGS, Setting, load
from townsquare.errors import ConfigError

DOC = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text("utf-8")


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented(setting: Setting) -> None:
    rows = [line for line in DOC.splitlines() if line.startswith(f"| `{setting.name}` |")]
    assert len(rows) == 1, f"docs/configuration.md has no row for {setting.name}"
    assert f"`{setting.env}`" in rows[0]
    assert setting.help in rows[0]


def test_the_documentation_lists_no_setting_that_does_not_exist() -> None:
    names = {s.name for s in SETTINGS}
    documented = {line.split("`")[1] for line in DOC.splitlines() if line.startswith("| `")}
    assert documented == names


BAD = {
    "allow_networks": "10.0.0.0/33",
    "fetch_concurrency": "lots",
    "fetch_per_host": "-1",
    "fetch_timeout": "0",
    "connect_timeout": "soon",
    "max_body_bytes": "10MB",
    "poll_interval": "1.5",
    "fetch_host_gap": "-1",
    "shutdown_grace": "nan",
    "feed_items": "0",
    "claim_lease": "ten minutes",
    "fetch_log_days": "0",
    "digest_time": "25:00",
    "port": "65536",
    "page_size": "0",
    "websub_hub": "ftp://hub.example/",
    "websub_subscribe": "maybe",
    "websub_lease": "30",
    "secret_key": "too short",
    "smtp_port": "0",
    "smtp_security": "ssl",
    "smtp_timeout": "0",
    "smtp_from": "nobody",
    "unsubscribe_address": "nobody at example.org",
    "curator_email": "curator",
}


def _checked(setting: Setting) -> bool:
    try:
        setting.parse("not a value?")
    except ValueError:
        return True
    return False


def test_every_checked_setting_has_a_bad_value_here() -> None:
    assert {s.name for s in SETTINGS if _checked(s)} == set(BAD)


@pytest.mark.parametrize(("name", "value"), BAD.items())
def test_a_bad_environment_value_names_the_key_and_the_value(
    name: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = "TOWNSQUARE_" + name.upper()
    with pytest.raises(ConfigError) as caught:
        load(environ={env: value})
    assert str(caught.value).startswith(f"bad setting {env}={value!r}: ")


def test_a_bad_file_value_names_the_key_and_the_value(tmp_path: Path) -> None:
    toml = tmp_path / "townsquare.toml"
    toml.write_text('poll_interval = "hourly"\n', "utf-8")
    with pytest.raises(ConfigError) as caught:
        load(config_file=toml, environ={})
    assert str(caught.value).startswith("bad setting poll_interval='hourly': ")


def test_an_unknown_file_key_is_named(tmp_path: Path) -> None:
    toml = tmp_path / "townsquare.toml"
    toml.write_text("poll_intervall = 60\n", "utf-8")
    with pytest.raises(ConfigError) as caught:
        load(config_file=toml, environ={})
    assert str(caught.value) == f"unknown setting 'poll_intervall' in '{toml}'"


def test_flag_beats_environment_beats_file_beats_default(tmp_path: Path) -> None:
    toml = tmp_path / "t.toml"
    toml.write_text('site_name = "From the file"\npoll_interval = 60\ncontact = "file"\n', "utf-8")
    env = {"TOWNSQUARE_SITE_NAME": "From the environment", "TOWNSQUARE_POLL_INTERVAL": "120"}
    config = load({"site_name": "From the flag"}, environ=env, config_file=toml)
    assert (config.site_name, config.poll_interval, config.contact) == (
        "From the flag",
        120,
        "file",
    )
    assert load(environ={}, config_file=toml).fetch_per_host == 2  # the default


def test_an_unreadable_settings_file_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("site_name = \n", "utf-8")
    with pytest.raises(ConfigError, match=r"^settings file '.*broken\.toml' is not valid TOML"):
        load(config_file=broken, environ={})
    with pytest.raises(ConfigError, match=r"^cannot read settings file '.*missing\.toml'"):
        load(config_file=tmp_path / "missing.toml", environ={})
