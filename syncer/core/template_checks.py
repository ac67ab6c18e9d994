"""The size checks of the render budget (:mod:`syncer.core.templates`): no single step of a template may build a
value larger than the budget allows, and the check happens *before* the step allocates it.

Every value a template computes stays about ``limit`` characters or less as printed (:func:`printed_size`). An
operation that can multiply its inputs (``'a' * 10**9``, ``s.ljust(10**9)``, ``'%999999999d' % 1``,
``range(9999)|join(s)``, ``s|replace('', s)``) is estimated from its arguments first and refused when the estimate
is past the limit; operations that at most add up their inputs are checked on the result. Both raise
:class:`RenderBudgetError`, a ``jinja2.TemplateError``, so callers that reject a row on a template error reject it
on an exceeded budget too.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from typing import Any

from jinja2.exceptions import SecurityError

_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[diouxXeEfFgGcrsa%]")
_DIGITS = re.compile(r"\d+")
_BITS_PER_DIGIT = 3.33  # a decimal digit carries log2(10) bits


class RenderBudgetError(SecurityError):
    """A template went past its render budget; the message says which limit (``render budget exceeded: ...``)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"render budget exceeded: {what}")


def printed_size(value: Any, limit: int) -> int:
    """About how many characters ``value`` prints as; counting stops once past ``limit`` (the result is then some
    number above it). Containers count every element each time it occurs, so ``[s] * 1000`` is 1000 copies of
    ``s``, as printing it would be; printing a container may still add a bounded factor (punctuation, and escapes
    of unprintable characters, up to 10 characters each), which output counting then sees exactly. Iterative: a
    deeply nested value cannot exhaust the stack."""
    total, pending = 0, [value]
    while pending and total <= limit:
        item = pending.pop()
        if isinstance(item, str | bytes | bytearray):
            total += max(1, len(item))
        elif isinstance(item, Mapping):
            total += 2 + len(item)
            if total <= limit:  # past it, there is no need to look inside
                pending += [*item.keys(), *item.values()]
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + len(item)
            if total <= limit:
                pending += item
        elif isinstance(item, int) and not isinstance(item, bool):
            total += 1 + int(item.bit_length() / _BITS_PER_DIGIT)
        else:
            total += 8  # a float, None, a date: short when printed
    return total


def check_size(value: Any, limit: int, what: str = "a value") -> Any:
    """``value`` when it prints within ``limit`` characters, else :class:`RenderBudgetError`."""
    if isinstance(value, str | list | tuple | dict | set | frozenset | int) and printed_size(value, limit) > limit:
        raise RenderBudgetError(f"{what} larger than {limit} characters")
    return value


def check_call_result(result: Any, inputs: Iterable[Any], limit: int) -> Any:
    """``result`` of a call on ``inputs`` (the callable's owner and the arguments), refused when it prints past
    ``limit`` characters and past what its inputs print as: a call may hand back a large value the warehouse gave
    (``signals.get('events')``), never build one (``{}.fromkeys(range(9000), s)``)."""
    size = printed_size(result, limit)
    if size > limit and sum(printed_size(value, size) for value in inputs) < size:
        raise RenderBudgetError(f"a call's result larger than {limit} characters")
    return result


def at_most(number: Any, limit: int, what: str) -> None:
    """Refuse an integer argument (a width, a count) above ``limit``."""
    if isinstance(number, int) and not isinstance(number, bool) and number > limit:
        raise RenderBudgetError(f"{what} {number} is more than {limit}")


def check_binop(operator: str, left: Any, right: Any, limit: int) -> None:
    """Refuse ``left <operator> right`` when its result would print past ``limit`` characters (before computing)."""
    if operator == "*":
        for sequence, times in ((left, right), (right, left)):
            if (
                isinstance(sequence, str | list | tuple)
                and isinstance(times, int)
                and times > 0
                and printed_size(sequence, limit) * times > limit
            ):
                raise RenderBudgetError(f"repeating a value {times} times makes more than {limit} characters")
        if _integers(left, right) and left.bit_length() + right.bit_length() > limit * _BITS_PER_DIGIT:
            raise RenderBudgetError(f"a product of more than {limit} digits")
    elif operator == "**":
        if (
            _integers(left, right)
            and right > 0
            and abs(left) > 1
            and left.bit_length() * right > limit * _BITS_PER_DIGIT
        ):
            raise RenderBudgetError(f"a power of more than {limit} digits")
    elif operator == "%" and isinstance(left, str):
        check_printf(left, right if isinstance(right, tuple) else (right,), limit)


def check_printf(template: str, args: Iterable[Any], limit: int) -> None:
    """Refuse ``template % args`` when a width or precision (``%999999999d``, or ``%*d`` with a large argument)
    is past ``limit``."""
    starred = False
    for spec in _PRINTF_SPEC.finditer(template):
        for number in spec.groups():
            starred |= number == "*"
            if number and number != "*" and (len(number) > 9 or int(number) > limit):
                raise RenderBudgetError(f"a format width or precision of {number}, more than {limit}")
    if starred:
        for arg in args:
            at_most(arg, limit, "a format width or precision of")


def check_format(template: str, args: Iterable[Any], kwargs: Mapping[str, Any], limit: int) -> None:
    """Refuse ``template.format(...)`` when a field's width or precision (``{:>999999999}``, or one given by an
    argument, ``{:{}}``) is past ``limit``."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return  # the call itself reports the malformed format
    nested = False
    for _, _, spec, _ in fields:
        if not spec:
            continue
        nested |= "{" in spec
        for number in _DIGITS.findall(spec):
            if len(number) > 9 or int(number) > limit:
                raise RenderBudgetError(f"a format width or precision of {number}, more than {limit}")
    if nested:
        for arg in [*args, *kwargs.values()]:
            at_most(arg, limit, "a format width or precision of")


def check_replace(text: Any, old: Any, new: Any, count: Any, limit: int) -> None:
    """Refuse ``text.replace(old, new, count)`` when the result would be past ``limit`` characters."""
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return
    found = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    if len(text) + found * (len(new) - len(old)) > limit:
        raise RenderBudgetError(f"a replacement that makes more than {limit} characters")


def check_join(separator: Any, items: list[Any], limit: int) -> None:
    """Refuse joining ``items`` with ``separator`` when the result would be past ``limit`` characters."""
    size = len(str(separator)) * max(0, len(items) - 1) + printed_size(items, limit)
    if size > limit:
        raise RenderBudgetError(f"joining {len(items)} items makes more than {limit} characters")


def check_str_method(
    text: str, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int
) -> tuple[Any, ...]:
    """Refuse a call of the ``str`` method ``name`` on ``text`` that would build more than ``limit`` characters;
    returns the arguments to call it with (an iterable to join is read once, here)."""
    first = args[0] if args else None
    if name in ("center", "ljust", "rjust", "zfill"):
        at_most(kwargs.get("width", first), limit, f"str.{name} width")
    elif name == "expandtabs":
        size = kwargs.get("tabsize", first if args else 8)
        if isinstance(size, int) and len(text) + text.count("\t") * size > limit:
            raise RenderBudgetError(f"expanding tabs makes more than {limit} characters")
    elif name == "replace" and len(args) >= 2:
        check_replace(text, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count", -1), limit)
    elif name == "join" and args:
        items = list(args[0])
        check_join(text, items, limit)
        return (items, *args[1:])
    elif name in ("format", "format_map"):
        mapping = first if name == "format_map" and isinstance(first, Mapping) else kwargs
        check_format(text, args if name == "format" else (), mapping, limit)
    return args


def _integers(left: Any, right: Any) -> bool:
    return all(isinstance(x, int) and not isinstance(x, bool) for x in (left, right))
