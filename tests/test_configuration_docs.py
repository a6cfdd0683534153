"""docs/configuration.md lists every setting, with its variable and default."""

from __future__ import annotations

from pathlib import Path

from townsquare.config import SETTINGS

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_every_setting_is_documented() -> None:
    rows = {
        line.split("|")[1].strip().strip("`"): line
        for line in DOC.read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
    }
    missing = [s.name for s in SETTINGS if s.name not in rows]
    assert missing == []
    for setting in SETTINGS:
        row = rows[setting.name]
        assert f"`{setting.env}`" in row and setting.help in row, setting.name
    assert set(rows) == {s.name for s in SETTINGS}  # and nothing that is not a setting
