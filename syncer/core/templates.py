"""Jinja templates (field values, CRM task subjects and bodies, chat alerts), rendered in Jinja's sandbox under a
render budget: RevOps' templates are not trusted code, and neither a careless nor a hostile one may exhaust the
process.

Every template in the engine compiles through :class:`BudgetedEnvironment`. Per render it allows at most
(:data:`DEFAULT_BUDGET`, the one place these numbers live):

- **10,000 loop iterations**, all ``for`` loops of the render together (nested loops multiply: two nested
  ``range(200)`` are 40,000), recursive loops included; ``range()`` itself refuses more numbers than that;
- **10,000 calls** (macros, methods, ``range``...), and calls nested at most **32** deep (a recursive macro stops
  there, long before Python's own recursion limit);
- **65,536 characters of output**, counted as it is written at any level (a macro's or ``{% set %}`` block's
  output counts when written and again when printed); and no value larger than that: ``'a' * 10**9``,
  ``s.ljust(10**9)``, ``'%999999999d' % 1``, ``10**10**9``, ``range(9999)|join(s)`` are refused *before* they
  allocate (:mod:`syncer.core.template_checks`).

Going past a limit raises :class:`RenderBudgetError` (a ``jinja2.TemplateError``) naming the limit: a field
template's row is rejected with it, a task or alert intent is refused with it, ``syncer validate`` reports it at the
template's ``file:line``. A template too deeply nested to compile is a ``TemplateSyntaxError``, and a render that
hits Python's recursion limit or runs out of memory anyway becomes a :class:`RenderBudgetError`, never a crash.
``lipsum`` and the ``urlize`` filter (HTML helpers whose output grows with their arguments) are not available.

The budget is counted by the compiled template itself: loops iterate through :meth:`BudgetedEnvironment.metered_loop`,
every output goes through :meth:`BudgetedEnvironment.metered_output`, and the counters live on the render's context
(a fresh one per render), so a budget is per render, shared by the macros and blocks it calls.
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable, Collection, Iterable, Iterator, MutableMapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2 import filters as jinja_filters
from jinja2.compiler import CodeGenerator, Frame
from jinja2.environment import Environment
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_environment, pass_eval_context

from syncer.core.template_checks import (
    RenderBudgetError,
    at_most,
    check_binop,
    check_call_result,
    check_join,
    check_printf,
    check_replace,
    check_size,
    check_str_method,
)

__all__ = [
    "DEFAULT_BUDGET",
    "BudgetedEnvironment",
    "RenderBudget",
    "RenderBudgetError",
    "compile_template",
    "template_columns",
    "template_value",
]

TOJSON_INDENT_MAX = 16


@dataclass(frozen=True)
class RenderBudget:
    """What one render may spend (see the module docstring)."""

    loop_iterations: int = 10_000
    calls: int = 10_000
    depth: int = 32
    output_chars: int = 65_536


DEFAULT_BUDGET = RenderBudget()


class _Meter:
    """One render's spending so far."""

    __slots__ = ("budget", "calls", "depth", "iterations", "output")

    def __init__(self, budget: RenderBudget) -> None:
        self.budget = budget
        self.iterations = self.calls = self.depth = self.output = 0

    def iterate(self) -> None:
        self.iterations += 1
        if self.iterations > self.budget.loop_iterations:
            raise RenderBudgetError(f"more than {self.budget.loop_iterations} loop iterations")

    def enter(self) -> None:
        self.calls += 1
        self.depth += 1
        if self.depth > self.budget.depth:
            raise RenderBudgetError(f"calls nested more than {self.budget.depth} deep (a recursive macro or loop?)")
        if self.calls > self.budget.calls:
            raise RenderBudgetError(f"more than {self.budget.calls} calls")

    def wrote(self, characters: int) -> None:
        self.output += characters
        if self.output > self.budget.output_chars:
            raise RenderBudgetError(f"more than {self.budget.output_chars} characters of output")


class _MeteredContext(Context):
    """A render's context, carrying its :class:`_Meter`; contexts derived from it (scoped blocks) share it."""

    def __init__(self, environment: Environment, *args: Any, **kwargs: Any) -> None:
        super().__init__(environment, *args, **kwargs)
        self.meter = _Meter(getattr(environment, "budget", DEFAULT_BUDGET))

    def derived(self, locals: dict[str, Any] | None = None) -> Context:
        context = super().derived(locals)
        context.meter = self.meter  # type: ignore[attr-defined]
        return context


def _meter(context: Context) -> _Meter:
    meter = getattr(context, "meter", None)
    if not isinstance(meter, _Meter):  # only a BudgetedEnvironment's compiled code calls here
        raise RenderBudgetError("a template rendered outside its budgeted environment")
    return meter


class _MeteredCodeGenerator(CodeGenerator):
    """Jinja's code generator, with every loop, output and ``~`` concatenation routed through the environment's
    meters (Jinja's documented ``code_generator_class`` extension point)."""

    _loop_iterables: set[int] | None = None

    def visit_For(self, node: nodes.For, frame: Frame) -> None:  # noqa: N802 (Jinja's visitor names)
        # The iterable is evaluated in the enclosing frame, as before; only its items now pass the meter (Jinja
        # allows no custom node types, so the iterable is recognised by identity when it is visited).
        if self._loop_iterables is None:
            self._loop_iterables = set()
        self._loop_iterables.add(id(node.iter))
        super().visit_For(node, frame)

    def visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        if self._loop_iterables is None or id(node) not in self._loop_iterables:
            return super().visit(node, *args, **kwargs)
        self.write("environment.metered_loop(context, ")
        result = super().visit(node, *args, **kwargs)
        self.write(")")
        return result

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802
        self.write("environment.checked_value(")
        super().visit_Concat(node, frame)
        self.write(")")

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        self.write("environment.metered_output(context, ")
        super()._output_child_pre(node, frame, finalize)

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        super()._output_child_post(node, frame, finalize)
        self.write(")")

    def _output_const_repr(self, group: Iterable[Any]) -> str:
        return f"environment.metered_output(context, {super()._output_const_repr(group)})"


class _BudgetedTemplate(Template):
    """A template whose render never ends in ``RecursionError`` or ``MemoryError``: both become
    :class:`RenderBudgetError` (the budget should stop a template first; this is the last line)."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        try:
            return super().render(*args, **kwargs)
        except RecursionError:
            raise RenderBudgetError("nested too deeply (Python's recursion limit)") from None
        except MemoryError:
            raise RenderBudgetError("out of memory") from None


class BudgetedEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox under a :class:`RenderBudget`; undefined names fail (``StrictUndefined``), nothing
    is HTML-escaped. ``options`` are Jinja's (the alert environment adds a ``finalize`` that escapes mrkdwn)."""

    code_generator_class = _MeteredCodeGenerator
    context_class = _MeteredContext
    template_class = _BudgetedTemplate
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, budget: RenderBudget = DEFAULT_BUDGET, **options: Any) -> None:
        options = {"undefined": StrictUndefined, "autoescape": False, "keep_trailing_newline": False, **options}
        super().__init__(**options)
        self.budget = budget
        self.globals["range"] = self.bounded_range
        self.globals.pop("lipsum", None)
        self.filters.pop("urlize", None)
        self.filters.update(_checked_filters(budget.output_chars))

    def from_string(
        self,
        source: str | nodes.Template,
        globals: MutableMapping[str, Any] | None = None,
        template_class: type[Template] | None = None,
    ) -> Template:
        """Compile ``source``; raises ``TemplateSyntaxError``, also for a template too deeply nested to compile."""
        try:
            return super().from_string(source, globals, template_class)
        except (RecursionError, MemoryError, SyntaxError) as exc:
            raise _too_complex(exc) from None

    def parse(self, source: str, name: str | None = None, filename: str | None = None) -> nodes.Template:
        try:
            return super().parse(source, name, filename)
        except (RecursionError, MemoryError) as exc:
            raise _too_complex(exc) from None

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 (Jinja's names)
        meter = _meter(__context)
        limit = __self.budget.output_chars
        meter.enter()
        try:
            if isinstance(__obj, LoopContext) and args:  # a recursive loop descending: its items count too
                args = (__self.metered_loop(__context, args[0]), *args[1:])
            method = getattr(__obj, "__wrapped__", __obj)  # the sandbox hands out str.format wrapped
            owner = getattr(method, "__self__", None)
            if isinstance(owner, str) and isinstance(method, types.BuiltinMethodType):
                args = check_str_method(owner, method.__name__, args, kwargs, limit)
            result = super().call(__context, __obj, *args, **kwargs)
        finally:
            meter.depth -= 1
        if isinstance(result, str | list | tuple | dict | set | frozenset):
            return check_call_result(result, [getattr(method, "__self__", None), *args, *kwargs.values()], limit)
        return result

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        limit = self.budget.output_chars
        check_binop(operator, left, right, limit)
        return check_size(super().call_binop(context, operator, left, right), limit, f"the result of '{operator}'")

    def metered_loop(self, context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
        """``iterable``'s items, each counted as one loop iteration of the render."""
        meter = _meter(context)
        limit = meter.budget.loop_iterations
        for item in iterable:
            meter.iterations += 1
            if meter.iterations > limit:  # inline: this runs for every item of every loop
                meter.iterate()
            yield item

    def metered_output(self, context: Context, text: str) -> str:
        """``text``, counted as output of the render."""
        _meter(context).wrote(len(text))
        return text

    def checked_value(self, value: Any) -> Any:
        return check_size(value, self.budget.output_chars, "a concatenation")

    def bounded_range(self, *args: int) -> range:
        """``range()``, refusing more numbers than a render may iterate over."""
        numbers = range(*args)
        limit = self.budget.loop_iterations
        try:
            size = len(numbers)
        except OverflowError:
            size = limit + 1
        if size > limit:
            raise RenderBudgetError(f"range() of more than {limit} numbers")
        return numbers


def _too_complex(exc: BaseException) -> TemplateSyntaxError:
    return TemplateSyntaxError(f"the template is nested too deeply or too large to compile ({type(exc).__name__})", 1)


def _checked_filters(limit: int) -> dict[str, Callable[..., Any]]:
    """Jinja's filters whose output can grow far past their input, each refusing arguments that would make it grow
    past ``limit`` characters (same signatures as Jinja's, which do the work)."""

    def center(value: str, width: int = 80) -> str:
        at_most(width, limit, "center width")
        return jinja_filters.do_center(value, width)

    def indent(s: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:  # noqa: FBT001, FBT002 (Jinja's filter: templates pass these positionally)
        size = len(width) if isinstance(width, str) else width
        if isinstance(size, int) and len(str(s)) + (str(s).count("\n") + 1) * size > limit:
            raise RenderBudgetError(f"indenting makes more than {limit} characters")
        return jinja_filters.do_indent(s, width, first, blank)

    def batch(value: Iterable[Any], linecount: int, fill_with: Any = None) -> Iterator[list[Any]]:
        at_most(linecount, limit, "batch size")
        batches: Iterator[list[Any]] = jinja_filters.do_batch(value, linecount, fill_with)
        return batches

    def slice_(value: Collection[Any], slices: int, fill_with: Any = None) -> Iterator[list[Any]]:
        at_most(slices, limit, "slice count")
        parts: Iterator[list[Any]] = jinja_filters.sync_do_slice(value, slices, fill_with)
        return parts

    @pass_eval_context
    def join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: str | int | None = None) -> str:
        items = list(value)
        check_join(d, items, limit)
        return str(jinja_filters.sync_do_join(eval_ctx, items, d, attribute))

    @pass_eval_context
    def replace(eval_ctx: Any, s: str, old: str, new: str, count: int | None = None) -> str:
        check_replace(str(s), str(old), str(new), -1 if count is None else count, limit)
        return jinja_filters.do_replace(eval_ctx, s, old, new, count)

    def format_(value: str, *args: Any, **kwargs: Any) -> str:
        check_printf(str(value), args, limit)
        return jinja_filters.do_format(value, *args, **kwargs)

    @pass_environment
    def wordwrap(
        environment: Environment,
        s: str,
        width: int = 79,
        break_long_words: bool = True,  # noqa: FBT001, FBT002 (Jinja's filter: templates pass these positionally)
        wrapstring: str | None = None,
        break_on_hyphens: bool = True,  # noqa: FBT001, FBT002 (Jinja's filter)
    ) -> str:
        joint = environment.newline_sequence if wrapstring is None else wrapstring
        if isinstance(width, int) and isinstance(joint, str):
            lines = len(s) // max(width, 1) + s.count("\n") + 1
            if len(s) + lines * len(joint) > limit:
                raise RenderBudgetError(f"wrapping makes more than {limit} characters")
        return jinja_filters.do_wordwrap(environment, s, width, break_long_words, wrapstring, break_on_hyphens)

    @pass_eval_context
    def tojson(eval_ctx: Any, value: Any, indent: int | None = None) -> Any:
        at_most(indent, TOJSON_INDENT_MAX, "tojson indent")
        return check_size(jinja_filters.do_tojson(eval_ctx, value, indent), limit, "tojson's output")

    return {
        "center": center,
        "indent": indent,
        "batch": batch,
        "slice": slice_,
        "join": join,
        "replace": replace,
        "format": format_,
        "wordwrap": wordwrap,
        "tojson": tojson,
    }


_ENV = BudgetedEnvironment()


@lru_cache(maxsize=256)
def compile_template(source: str) -> Template:
    """Compile once per distinct source (field and task templates); raises ``jinja2.TemplateSyntaxError``.
    Rendering raises :class:`RenderBudgetError` past the budget."""
    return _ENV.from_string(source)


def template_columns(source: str) -> frozenset[str]:
    """The top-level names a template reads (``{{ signals.seats }}`` reads ``signals``); raises
    ``jinja2.TemplateSyntaxError``."""
    return frozenset(meta.find_undeclared_variables(_ENV.parse(source)))


def template_value(value: Any) -> Any:
    """A row value as templates see it: JSON columns arrive as text, and templates want ``signals.seats``, so text
    that parses as a JSON object or list becomes one; anything else (also JSON nested too deeply to parse) is left
    as it is."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value
