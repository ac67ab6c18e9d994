"""Structured logs: one JSON object per line when stderr is not a terminal (a container, a service manager), a short
readable line on a terminal. Every line passes through :func:`syncer.config.errors.redact`, so a secret read from
the environment never reaches a log, wherever it ended up (a driver's error, a URL).

Events are logged with :func:`event`: a name and fields, e.g. ``event(log, "run", sync="companies", status=...)``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from syncer.config.errors import redact, redact_data

_FIELDS = "syncer_fields"


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log the event ``name`` with ``fields`` (values JSON-able, or shown with ``str``)."""
    logger.log(level, name, extra={_FIELDS: fields})


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "event", ...fields}`` on one line; an exception as ``error`` (its last line)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        line.update(getattr(record, _FIELDS, {}))
        if record.exc_info and record.exc_info[1] is not None:
            line["error"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        return json.dumps(redact_data(json.loads(json.dumps(line, default=str))), separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """``HH:MM:SS level event key=value ...`` for a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{key}={_short(value)}" for key, value in getattr(record, _FIELDS, {}).items())
        when = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        text = f"{when} {record.levelname.lower():<7} {record.getMessage()} {fields}".rstrip()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" error={type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        return redact(text)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return json.dumps(text) if " " in text else text


def configure_logging(*, as_json: bool | None = None, level: int = logging.INFO) -> None:
    """Send every logger's records to stderr: JSON unless stderr is a terminal (``SYNCER_LOG_FORMAT=json|text``
    decides when set; ``as_json`` decides when given)."""
    if as_json is None:
        chosen = os.environ.get("SYNCER_LOG_FORMAT", "").lower()
        as_json = chosen == "json" or (chosen != "text" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    quiet(("apscheduler", "uvicorn.access", "httpx", "httpcore", "urllib3"))


def quiet(loggers: Iterable[str]) -> None:
    """Keep ``loggers`` (libraries that log every request: HTTP clients, vendor SDKs) at WARNING."""
    for name in loggers:
        logging.getLogger(name).setLevel(logging.WARNING)
