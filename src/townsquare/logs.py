"""Structured logs: one JSON object a line on standard error, through the stdlib.

    log.info("fetch", extra={"fields": {"source": 7, "outcome": "ok", "ms": 120}})

gives ``{"time": "...", "level": "info", "logger": "townsquare.fetch", "event": "fetch",
"source": 7, "outcome": "ok", "ms": 120}``.  A traceback, when there is one, is the
``error`` field, so every record stays one line.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def setup(level: str = "info") -> None:
    """Send every log record of the process, as JSON lines, to standard error."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("yoyo").setLevel(logging.WARNING)  # a line per migration step
