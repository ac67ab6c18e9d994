"""Alert templates, rendered by the engine into text whose warehouse values are marked as data.

RevOps writes an alert's text as a Jinja template in the alert channel's markup (``*{{ account_name }}* is hot``).
The template's own text is trusted; every value it prints comes from the warehouse and is not. Rendering happens
here, in the same sandboxed environment as field and task templates (:mod:`syncer.core.templates`, with whatever
budget it enforces), through an overlay whose ``finalize`` wraps each printed value in two private-use
delimiters. Splitting the output at them gives :class:`~syncer.contract.alerts.MarkedText`: the connector escapes
the data parts for its markup and leaves the template's text as written. The delimiters are removed from values
and templates first, so data cannot forge a boundary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from jinja2 import Environment, Template, TemplateError, TemplateSyntaxError

from syncer.contract.alerts import MarkedText, TextPart
from syncer.core.templates import compile_template, template_columns, template_value

OPEN, CLOSE = "\ue000", "\ue001"  # private-use characters: never meaningful text
ALERT_TEXT_MAX = 3000  # the most of an alert's text a chat channel shows in one block
_DELIMITERS = str.maketrans({OPEN: None, CLOSE: None})


class AlertTemplateError(ValueError):
    """The template could not be rendered for this row (the message names the reason in one line)."""


def _mark(value: object) -> str:
    text = "" if value is None else str(value)
    return OPEN + text.translate(_DELIMITERS) + CLOSE


@lru_cache(maxsize=1)
def _marking_environment() -> Environment:
    # An overlay shares the field templates' sandbox, its settings and any limits they carry.
    return compile_template("").environment.overlay(finalize=_mark)


@lru_cache(maxsize=256)
def compile_alert_template(source: str) -> Template:
    """Compile once per distinct source; raises ``jinja2.TemplateSyntaxError``."""
    return _marking_environment().from_string(source.translate(_DELIMITERS))


def split_marked(rendered: str) -> MarkedText:
    """The rendered output cut at the delimiters into template text and data."""
    parts: list[TextPart] = []
    rest = rendered
    while rest:
        start = rest.find(OPEN)
        if start < 0:
            parts.append(TextPart(rest, data=False))
            break
        end = rest.find(CLOSE, start)
        if start:
            parts.append(TextPart(rest[:start], data=False))
        parts.append(TextPart(rest[start + 1 : end], data=True))
        rest = rest[end + 1 :]
    return MarkedText(tuple(part for part in parts if part.text))


def template_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The template's variables: the row, with JSON text parsed so ``{{ signals.seats }}`` works."""
    return {name: template_value(value) for name, value in row.items()}


def render_marked(template: str, row: Mapping[str, Any]) -> MarkedText:
    """The template rendered over ``row``, its values marked as data; raises :class:`AlertTemplateError`."""
    try:
        return split_marked(compile_alert_template(template).render(template_row(row))).strip()
    except (TemplateError, ArithmeticError, TypeError, ValueError) as exc:
        raise AlertTemplateError(f"alert template: {_one_line(exc)}") from exc


def check_template(template: str, columns: Sequence[str], sample: Mapping[str, Any] | None = None) -> list[str]:
    """Problems with an alert template: syntax, variables that are not model columns, and on a sample row (when
    given) rendering errors and the channel's length limit. Empty when the template is fine."""
    try:
        used = template_columns(template)
    except TemplateSyntaxError as exc:
        return [f"template syntax error on line {exc.lineno}: {exc.message}"]
    shown = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
    problems = [
        f"template variable '{name}' is not a column of the model (it has: {shown})"
        for name in sorted(used - set(columns))
    ]
    if problems or sample is None:
        return problems
    try:
        text = render_marked(template, sample)
    except AlertTemplateError as exc:
        return [f"{exc} (on the sample row)"]
    if not len(text):
        problems.append("alert template renders to nothing on the sample row")
    if len(text) > ALERT_TEXT_MAX:
        problems.append(
            f"alert template renders to {len(text)} characters on the sample row; an alert shows at "
            f"most {ALERT_TEXT_MAX} in one block, so it would be cut"
        )
    return problems


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__
