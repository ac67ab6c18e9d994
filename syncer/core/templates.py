"""Jinja templates for field values, rendered in Jinja's sandbox (RevOps' templates are not trusted code)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@lru_cache(maxsize=256)
def compile_template(source: str) -> Template:
    """Compile once per distinct source; raises ``jinja2.TemplateSyntaxError``."""
    return _ENV.from_string(source)


def template_columns(source: str) -> frozenset[str]:
    """The top-level names a template reads (``{{ signals.seats }}`` reads ``signals``)."""
    return frozenset(meta.find_undeclared_variables(_ENV.parse(source)))


def template_value(value: Any) -> Any:
    """A row value as templates see it: JSON columns arrive as text, and templates want ``signals.seats``, so text
    that parses as a JSON object or list becomes one; anything else is left as it is."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
