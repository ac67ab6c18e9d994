"""The render budget of every template (syncer.core.templates): what exhausts a process is refused with the limit it
went past, at the limit exactly and not before; what ordinary templates do renders as Jinja's sandbox renders it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import StrictUndefined, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from syncer.alerts.templates import AlertTemplateError, render_marked
from syncer.contract.alerts import MarkedText
from syncer.core.template_checks import printed_size
from syncer.core.templates import DEFAULT_BUDGET, RenderBudgetError, compile_template, template_columns
from syncer.planning.render import register_functions
from syncer.state.workspace import prepare_workspace

ROW = {
    "name": "Acme",
    "score": 91,
    "seats": [3, 5, 8],
    "tree": {"name": "a", "children": [{"name": "b", "children": []}]},
}
BIG = "{% set s = 'a' * 60000 %}"

REFUSED = [
    ("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}", "calls nested more than 32 deep"),
    ("{{ 'a' * 10**9 }}", "repeating a value 1000000000 times"),
    ("{{ [1, 2] * 10**9 }}", "repeating a value 1000000000 times"),
    (
        "{% for i in range(99999) %}{% for j in range(99999) %}x{% endfor %}{% endfor %}",
        "range() of more than 10000 numbers",
    ),
    ("{% for i in range(5000) %}{% for j in range(5000) %}{% endfor %}{% endfor %}", "more than 10000 loop iterations"),
    (
        "{% set s = 'ab' * 30000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
        "more than 10000 loop iterations",
    ),
    ("{% for x in [1] recursive %}{{ loop(range(9000)) }}{% endfor %}", "calls nested more than 32 deep"),
    (
        "{% macro a(n) %}{% if n %}{{ a(n - 1) }}{{ a(n - 1) }}{% endif %}{% endmacro %}{{ a(30) }}",
        "more than 10000 calls",
    ),
    ("{{ 'a'.ljust(10**9) }}", "str.ljust width 1000000000 is more than 65536"),
    ("{{ 'a'.center(10**9) }}", "str.center width"),
    ("{{ 'a'.zfill(10**9) }}", "str.zfill width"),
    ("{{ ('\t' * 1000).expandtabs(1000) }}", "expanding tabs"),
    ("{{ '{:>999999999}'.format(1) }}", "a format width or precision of 999999999"),
    ("{{ '{:{}}'.format('x', 999999999) }}", "a format width or precision of 999999999"),
    ("{{ '%999999999d' % 1 }}", "a format width or precision of 999999999"),
    ("{{ '%*d' % (999999999, 1) }}", "a format width or precision of 999999999"),
    ("{{ '%.999999999f'|format(1.0) }}", "a format width or precision of 999999999"),
    ("{{ 7 ** 9999999 }}", "a power of more than 65536 digits"),
    (BIG + "{{ range(9999)|join(s) }}", "joining 9999 items"),
    (BIG + "{{ s.join(range(9999)|map('string')) }}", "joining 9999 items"),
    (BIG + "{{ s|replace('', s) }}", "a replacement that makes more than 65536 characters"),
    (BIG + "{{ s.replace('a', 'bb') }}", "a replacement that makes more than 65536 characters"),
    (BIG + "{{ [s] * 60000 }}", "repeating a value 60000 times"),
    (BIG + "{{ s + s }}", "the result of '+' larger than 65536 characters"),
    (BIG + "{{ s ~ s }}", "a concatenation larger than 65536 characters"),
    (
        "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "a concatenation larger than 65536 characters",
    ),
    (
        "{% set ns = namespace(n=3) %}{% for i in range(64) %}{% set ns.n = ns.n * ns.n %}{% endfor %}",
        "a product of more than 65536 digits",
    ),
    (
        "{% macro m() %}{% for i in range(9000) %}{{ 'a' * 60000 }}{% endfor %}{% endmacro %}{{ m()|length }}",
        "more than 65536 characters of output",
    ),
    ("{{ 'a'|center(999999999) }}", "center width 999999999"),
    ("{{ ('x\n' * 1000)|indent(1000) }}", "indenting makes more than 65536 characters"),
    ("{{ [1]|batch(999999999, 'x')|list }}", "batch size 999999999"),
    ("{{ [1]|slice(999999999)|list }}", "slice count 999999999"),
    ("{{ ('a' * 9000)|wordwrap(1, wrapstring='x' * 100) }}", "wrapping makes more than 65536 characters"),
    ("{{ seats|tojson(indent=10**6) }}", "tojson indent 1000000 is more than 16"),
    ("{{ {}.fromkeys(range(9000), 'a' * 60000) }}", "a call's result larger than 65536 characters"),
]


@pytest.mark.parametrize(("source", "limit"), REFUSED, ids=[f"refused{i}" for i in range(len(REFUSED))])
def test_what_would_exhaust_the_process_is_refused_naming_the_limit(source: str, limit: str) -> None:
    with pytest.raises(RenderBudgetError) as refused:
        compile_template(source).render(ROW)
    assert str(refused.value).startswith("render budget exceeded: ")
    assert limit in str(refused.value)


ORDINARY = [
    "{{ name|upper }} scored {{ score }}{% if score > 90 %} (hot){% endif %}",
    "{% for s in seats %}{{ loop.index }}/{{ loop.length }}:{{ s }}{% if not loop.last %}, {% endif %}{% endfor %}",
    "{% for x in [] %}x{% else %}none{% endfor %}",
    "{% for node in [tree] recursive %}{{ node.name }}({{ loop(node.children) }}){% endfor %}",
    "{% macro row(k, v) %}{{ k }}={{ v }}{% endmacro %}{% for k in ['a', 'b'] %}{{ row(k, loop.index) }};{% endfor %}",
    "{{ seats|join(', ') }} {{ name|replace('A', 'a') }} {{ '%05.1f'|format(3.14159) }} {{ name|center(10) }}|",
    "{{ '%s has %d seats' % (name, seats|sum) }} {{ '{:>8}|{}'.format(name, score) }} {{ 'x'.ljust(5) }}|",
    "{{ seats|tojson }} {{ seats|batch(2)|list }} {{ seats|slice(2)|list }} {{ 'a b c'|wordwrap(2) }}",
    "{{ 'ab' * 3 }} {{ [0] * 3 }} {{ 2 ** 10 }} {{ name ~ '!' }} {{ name + '?' }} {{ 7 % 3 }} {{ range(3)|list }}",
    "{% set ns = namespace(total=0) %}{% for s in seats %}{% set ns.total = ns.total + s %}{% endfor %}{{ ns.total }}",
    "{% filter upper %}{{ name }}{% endfilter %}{% set block %}{{ score }}{% endset %}[{{ block }}]",
    "{% block title %}{{ name }}{% endblock %} {{ self.title() }}",
    "{{ ('x\n' * 3)|indent(2) }} {{ {'b': 1, 'a': 2}|dictsort }} {{ 'a-b'.split('-') }} {{ name.zfill(6) }}",
]


@pytest.mark.parametrize("source", ORDINARY, ids=[f"ordinary{i}" for i in range(len(ORDINARY))])
def test_ordinary_templates_render_as_in_jinjas_sandbox(source: str) -> None:
    plain = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    assert compile_template(source).render(ROW) == plain.from_string(source).render(ROW)


def _render(source: str, **row: Any) -> str:
    return compile_template(source).render(row)


def test_each_limit_holds_exactly_at_its_value() -> None:
    loops, output, depth = DEFAULT_BUDGET.loop_iterations, DEFAULT_BUDGET.output_chars, DEFAULT_BUDGET.depth
    nested = "{% for i in range(n) %}{% for j in range(m) %}{% endfor %}{% endfor %}"
    assert _render(nested, n=100, m=loops // 100 - 1) == ""  # 100 outer + 9,900 inner iterations
    with pytest.raises(RenderBudgetError, match=f"more than {loops} loop iterations"):
        _render(nested, n=100, m=loops // 100)
    assert len(_render("{{ 'a' * n }}", n=output)) == output
    with pytest.raises(RenderBudgetError, match="repeating a value"):
        _render("{{ 'a' * n }}", n=output + 1)
    assert len(_render("{{ 'a' * n }}{{ 'b' * n }}", n=output // 2)) == output
    with pytest.raises(RenderBudgetError, match=f"more than {output} characters of output"):
        _render("{{ 'a' * n }}x{{ 'b' * n }}", n=output // 2)
    chain = "{% macro m(n) %}{% if n %}{{ m(n - 1) }}{% else %}end{% endif %}{% endmacro %}{{ m(k) }}"
    assert _render(chain, k=depth - 1) == "end"  # depth calls of m, nested
    with pytest.raises(RenderBudgetError, match=f"nested more than {depth} deep"):
        _render(chain, k=depth)


def test_the_budget_is_per_render() -> None:
    template = compile_template("{% for i in range(9000) %}{% endfor %}{{ 'a' * 60000 }}")
    for _ in range(3):
        assert len(template.render()) == 60000


def test_a_template_too_deeply_nested_to_compile_is_a_syntax_error() -> None:
    deep = "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"
    with pytest.raises(TemplateSyntaxError, match="nested too deeply"):
        compile_template(deep)
    with pytest.raises(TemplateSyntaxError, match="nested too deeply"):
        template_columns(deep)


def test_data_nested_past_pythons_recursion_limit_is_refused_not_crashed() -> None:
    nested: list[Any] = []
    for _ in range(100_000):
        nested = [nested]
    with pytest.raises(RenderBudgetError, match="nested too deeply"):
        compile_template("{{ data }}").render(data=nested)


def test_html_helpers_whose_output_grows_with_their_arguments_are_gone() -> None:
    with pytest.raises(TemplateSyntaxError, match="No filter named 'urlize'"):
        compile_template("{{ name|urlize }}")
    with pytest.raises(Exception, match="'lipsum' is undefined"):
        compile_template("{{ lipsum(10**6) }}").render()


def test_alert_templates_render_under_the_same_budget() -> None:
    with pytest.raises(AlertTemplateError, match="render budget exceeded: calls nested more than 32 deep"):
        render_marked("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", {"name": "x"})
    # the warehouse's value stays marked as data (the connector escapes exactly the data)
    assert render_marked("*{{ name }}*", {"name": "<!channel>"}) == MarkedText.of(
        ("*", False), ("<!channel>", True), ("*", False)
    )


@given(st.integers(0, 3 * DEFAULT_BUDGET.output_chars), st.sampled_from(["ab", "abc", "x"]))
def test_a_repeated_string_is_refused_exactly_when_it_would_pass_the_limit(times: int, text: str) -> None:
    limit = DEFAULT_BUDGET.output_chars
    template = compile_template("{{ (text * times)|length }}")
    if len(text) * times <= limit:
        assert template.render(text=text, times=times) == str(len(text) * times)
    else:
        with pytest.raises(RenderBudgetError):
            template.render(text=text, times=times)


@given(
    st.recursive(
        st.none() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=5),
        max_leaves=40,
    )
)
def test_printed_size_bounds_the_length_printed_of_json_like_values(value: Any) -> None:
    # Printing a container adds quotes, commas and spaces, and escapes an unprintable character in up to 10
    # (``\U0001f600``): a bounded factor, and what is written is counted exactly as output anyway.
    assert len(str(value)) <= 10 * printed_size(value, 10**9) + 4


def test_a_call_may_hand_back_a_large_value_from_the_warehouse_but_not_build_one() -> None:
    events = [f"event {i}" for i in range(20_000)]  # about 200,000 characters, as a JSON column may hold
    assert _render("{{ signals.get('events')|length }}", signals={"events": events}) == "20000"
    with pytest.raises(RenderBudgetError, match="a call's result larger than 65536 characters"):
        _render("{{ {}.fromkeys(range(9000), 'a' * 60000)|length }}")


def test_the_workspace_render_function_gives_each_failing_row_its_reason(tmp_path: Path) -> None:
    con = duckdb.connect()
    try:
        prepare_workspace(con, "256MB", tmp_path)
        register_functions(con)  # what the planner does on its workspace
        deep = '{"x": ' + "[" * 50_000 + "]" * 50_000 + "}"
        rendered = con.execute(
            "SELECT syncer_render('{{ x }}', ?), syncer_render(?, '{}'), syncer_render('{{ a }}', '{\"a\": 1}')",
            [deep, "{{ 'a' * 10**9 }}"],
        ).fetchall()[0]
    finally:
        con.close()
    assert rendered[0] == {"value": None, "error": "the row is nested too deeply to read"}
    assert rendered[1]["value"] is None and rendered[1]["error"].startswith("render budget exceeded: repeating")
    assert rendered[2] == {"value": "1", "error": None}
