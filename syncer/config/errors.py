"""Configuration problems, reported all at once with file, line and key path; and the redaction of secret values.

Every value the configuration read from an environment variable is remembered (:func:`remember_secrets`) and
:func:`redact` replaces it by ``***`` in any text about to be shown (once the project validates, only those that are
part of a secret-typed setting: :func:`keep_secret_values_only`): a token put in ``base_url`` or a database URL
and echoed by a validator, a driver or the warehouse never reaches the terminal or a log. The set is process-wide
because secrets are a property of the process's environment, and because errors are displayed far from where the
values were read (by the CLI's output, later by the daemon's logs).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Shorter values cannot be told apart from ordinary words and digits in a message ("1", "yes", "GB"); redacting them
# would mangle every message while hiding nothing a secret is made of.
MIN_SECRET_LENGTH = 4
_secret_values: set[str] = set()


def remember_secrets(values: Iterable[str]) -> None:
    """Add ``values`` (read from the environment) to what :func:`redact` hides."""
    _secret_values.update(value for value in values if len(value) >= MIN_SECRET_LENGTH)


def keep_secret_values_only(secrets: Iterable[str]) -> None:
    """Stop hiding remembered values that occur in none of ``secrets``, the values of the project's secret-typed
    settings: a port or a table name read from the environment is shown as it is, while a variable holding a
    password inside a database URL stays hidden. Called once a project validated; until then (and when it does
    not) every value read from the environment stays hidden, since a validator may echo any of them."""
    texts = list(secrets)
    _secret_values.intersection_update({value for value in _secret_values if any(value in text for text in texts)})


def redact(text: str) -> str:
    """``text`` with every remembered secret value replaced by ``***`` (longest first, so no part of one survives)."""
    for value in sorted(_secret_values, key=len, reverse=True):
        if value in text:
            text = text.replace(value, "***")
    return text


def redact_data(data: Any) -> Any:
    """:func:`redact` applied to every string inside lists and dicts (keys too), for JSON output."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {redact_data(key): redact_data(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [redact_data(item) for item in data]
    return data


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in one file: ``file:line: key.path: message``."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        """The one-line form, secrets redacted (the fields keep what was found)."""
        where = f"{self.file}:{self.line}" if self.line else self.file
        return redact(f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}")

    def as_dict(self) -> dict[str, Any]:
        """The problem for JSON output, secrets redacted."""
        return {"file": self.file, "line": self.line, "path": self.path, "message": redact(self.message)}


class ConfigError(Exception):
    """Raised with every :class:`Problem` found, never just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def display_path(path: Path) -> str:
    """A path relative to the working directory when it lies below it (shorter, and what RevOps typed)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)
