"""Jinja templates for field values, rendered in Jinja's sandbox (RevOps' templates are not trusted code)."""

from __future__ import annotations

from functools import lru_cache

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
