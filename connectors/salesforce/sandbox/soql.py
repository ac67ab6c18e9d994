"""The SOQL subset connectors use, parsed and evaluated the way Salesforce does.

Supported: ``SELECT f1, f2 | COUNT() FROM Obj [WHERE cond] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...]
[LIMIT n] [OFFSET n]`` where ``cond`` combines ``f op literal`` (``= != <> < <= > >=``), ``f [NOT] IN (...)`` and
``f LIKE 'pat%'`` with AND, OR, NOT and parentheses. Text comparisons are case-insensitive, as in SOQL; date and
datetime literals are unquoted (quoting them is an error, as on a real org). Problems raise :class:`ApiError`
with ``MALFORMED_QUERY``, ``INVALID_FIELD`` or ``INVALID_TYPE`` and Salesforce's located message
(``ERROR at Row:1:Column:8``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connectors.salesforce.sandbox.errors import ApiError
from connectors.salesforce.sandbox.schema import NUMBER_TYPES, TEXT_TYPES, FieldSpec, FieldType, ObjectSpec
from connectors.salesforce.sandbox.values import from_json

Record = dict[str, Any]
Predicate = Callable[[Record], bool]

_TOKENS = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
""",
    re.VERBOSE,
)
_KEYWORDS = {
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "LIKE",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "NULLS",
    "FIRST",
    "LAST",
    "LIMIT",
    "OFFSET",
    "TRUE",
    "FALSE",
    "NULL",
    "COUNT",
}
_HINT_FIELD = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the custom field "
    "name. Please reference your WSDL or the describe call for the appropriate names."
)
_HINT_TYPE = (
    "If you are attempting to use a custom object, be sure to append the '__c' after the entity name. "
    "Please reference your WSDL or the describe call for the appropriate names."
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int

    def is_keyword(self, *words: str) -> bool:
        return self.kind == "ident" and self.text.upper() in words


@dataclass
class Query:
    """A parsed query: the object, the selected fields (empty for COUNT()), filter, order and window."""

    spec: ObjectSpec
    fields: list[str]
    count_only: bool = False
    predicate: Predicate | None = None
    order: list[tuple[str, bool, bool]] = field(default_factory=list)  # (field, descending, nulls_last)
    limit: int | None = None
    offset: int = 0


def _located(query: str, pos: int, code: str, message: str) -> ApiError:
    row = query.count("\n", 0, pos) + 1
    column = pos - (query.rfind("\n", 0, pos) + 1) + 1
    line = query.splitlines()[row - 1] if query.splitlines() else query
    return ApiError(400, code, f"\n{line}\n{' ' * (column - 1)}^\nERROR at Row:{row}:Column:{column}\n{message}")


def tokenize(query: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(query):
        match = _TOKENS.match(query, pos)
        if not match:
            raise _located(query, pos, "MALFORMED_QUERY", f"unexpected token: '{query[pos]}'")
        kind = match.lastgroup or "space"
        if kind != "space":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("eof", "<EOF>", len(query)))
    return tokens


class _Parser:
    def __init__(self, query: str, resolve: Callable[[str], ObjectSpec | None]) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.at = 0
        self.resolve = resolve
        self.spec: ObjectSpec | None = None

    # -- token helpers ----------------------------------------------------------------------------------------
    def peek(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def unexpected(self, token: Token) -> ApiError:
        text = token.text if token.kind == "eof" else f"'{token.text}'"
        return _located(self.query, token.pos, "MALFORMED_QUERY", f"unexpected token: {text}")

    def expect_keyword(self, word: str) -> Token:
        token = self.take()
        if not token.is_keyword(word):
            raise self.unexpected(token)
        return token

    def expect(self, text: str) -> Token:
        token = self.take()
        if token.text != text:
            raise self.unexpected(token)
        return token

    def field(self, token: Token) -> FieldSpec:
        if token.kind != "ident" or token.text.upper() in _KEYWORDS - {"FIRST", "LAST"}:
            raise self.unexpected(token)
        assert self.spec is not None
        spec = self.spec.field_named(token.text)
        if spec is None:
            raise _located(
                self.query,
                token.pos,
                "INVALID_FIELD",
                f"No such column '{token.text}' on entity '{self.spec.name}'. {_HINT_FIELD}",
            )
        return spec

    # -- grammar ----------------------------------------------------------------------------------------------
    def parse(self) -> Query:
        self.expect_keyword("SELECT")
        count_only, field_tokens = False, []
        if self.peek().is_keyword("COUNT"):
            self.take()
            self.expect("(")
            self.expect(")")
            count_only = True
        else:
            field_tokens.append(self.select_item())
            while self.peek().text == ",":
                self.take()
                field_tokens.append(self.select_item())
        self.expect_keyword("FROM")
        object_token = self.take()
        if object_token.kind != "ident":
            raise self.unexpected(object_token)
        self.spec = self.resolve(object_token.text)
        if self.spec is None:
            raise _located(
                self.query,
                object_token.pos,
                "INVALID_TYPE",
                f"sObject type '{object_token.text}' is not supported. {_HINT_TYPE}",
            )
        query = Query(self.spec, [])
        for token in field_tokens:
            name = self.field(token).name
            if name not in query.fields:
                query.fields.append(name)
        query.count_only = count_only
        if self.peek().is_keyword("WHERE"):
            self.take()
            query.predicate = self.disjunction()
        if self.peek().is_keyword("ORDER"):
            self.take()
            self.expect_keyword("BY")
            query.order = self.order_list()
        if self.peek().is_keyword("LIMIT"):
            self.take()
            query.limit = self.integer()
        if self.peek().is_keyword("OFFSET"):
            self.take()
            query.offset = self.integer()
        if self.peek().kind != "eof":
            raise self.unexpected(self.peek())
        return query

    def select_item(self) -> Token:
        token = self.take()
        if token.kind != "ident" or token.is_keyword("FROM"):
            raise self.unexpected(token)
        return token

    def integer(self) -> int:
        token = self.take()
        if token.kind != "number" or not token.text.isdigit():
            raise self.unexpected(token)
        return int(token.text)

    def order_list(self) -> list[tuple[str, bool, bool]]:
        order = []
        while True:
            name = self.field(self.take()).name
            descending = False
            if self.peek().is_keyword("ASC", "DESC"):
                descending = self.take().text.upper() == "DESC"
            nulls_last = descending  # SOQL puts nulls first in ascending order, last in descending
            if self.peek().is_keyword("NULLS"):
                self.take()
                position = self.take()
                if not position.is_keyword("FIRST", "LAST"):
                    raise self.unexpected(position)
                nulls_last = position.text.upper() == "LAST"
            order.append((name, descending, nulls_last))
            if self.peek().text != ",":
                return order
            self.take()

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.peek().is_keyword("OR"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda rec: any(p(rec) for p in parts))

    def conjunction(self) -> Predicate:
        parts = [self.factor()]
        while self.peek().is_keyword("AND"):
            self.take()
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else (lambda rec: all(p(rec) for p in parts))

    def factor(self) -> Predicate:
        if self.peek().is_keyword("NOT"):
            self.take()
            inner = self.factor()
            return lambda rec: not inner(rec)
        if self.peek().text == "(":
            self.take()
            inner = self.disjunction()
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        spec = self.field(self.take())
        token = self.take()
        if token.is_keyword("NOT") or token.is_keyword("IN"):
            negate = token.is_keyword("NOT")
            if negate:
                self.expect_keyword("IN")
            self.expect("(")
            options = [self.literal(spec)]
            while self.peek().text == ",":
                self.take()
                options.append(self.literal(spec))
            self.expect(")")
            return lambda rec: _matches_any(spec, _get(self.spec, rec, spec), options) != negate
        if token.is_keyword("LIKE"):
            pattern = self.take()
            if pattern.kind != "string":
                raise self.unexpected(pattern)
            regex = _like_regex(_unquote(pattern.text))
            return lambda rec: bool(regex.match(str(_get(self.spec, rec, spec) or "")))
        if token.kind != "op":
            raise self.unexpected(token)
        value = self.literal(spec)
        return lambda rec: _compare(spec, _get(self.spec, rec, spec), token.text, value)

    def literal(self, spec: FieldSpec) -> Any:
        token = self.take()
        if token.is_keyword("NULL"):
            return None
        if token.kind not in {"string", "number", "date", "datetime"} and not token.is_keyword("TRUE", "FALSE"):
            raise self.unexpected(token)
        quoted = token.kind == "string"
        wants_quotes = spec.type in TEXT_TYPES or spec.type in {FieldType.ID, FieldType.REFERENCE}
        if quoted != wants_quotes:
            detail = "should be enclosed in quotes" if wants_quotes else "should not be enclosed in quotes"
            raise _located(
                self.query,
                token.pos,
                "INVALID_FIELD",
                f"value of filter criterion for field '{spec.name}' must be of type {spec.type.value} and {detail}",
            )
        raw: Any = _unquote(token.text) if quoted else token.text
        if spec.type is FieldType.DATE and token.kind != "date":
            raise self.unexpected(token)
        try:
            return from_json(spec, raw)
        except ValueError as exc:
            raise self.unexpected(token) from exc


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _like_regex(pattern: str) -> re.Pattern[str]:
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
    return re.compile("^" + "".join(parts) + "$", re.IGNORECASE | re.DOTALL)


def _get(spec: ObjectSpec | None, record: Record, field_spec: FieldSpec) -> Any:
    if spec is not None and spec.compound_name and field_spec.name == "Name":
        return " ".join(part for part in (record.get("FirstName"), record.get("LastName")) if part) or None
    return record.get(field_spec.name)


def _normal(spec: FieldSpec, value: Any) -> Any:
    if isinstance(value, str) and spec.type in TEXT_TYPES:
        return value.lower()
    if isinstance(value, str) and spec.type in {FieldType.ID, FieldType.REFERENCE}:
        return value[:15]  # 15- and 18-character forms of an id are the same record
    return value


def _matches_any(spec: FieldSpec, stored: Any, options: list[Any]) -> bool:
    return any(_compare(spec, stored, "=", option) for option in options)


def _compare(spec: FieldSpec, stored: Any, op: str, value: Any) -> bool:
    if value is None or stored is None:
        equal = stored is None and value is None
        return equal if op == "=" else (not equal if op in {"!=", "<>"} else False)
    left, right = _normal(spec, stored), _normal(spec, value)
    if spec.type in NUMBER_TYPES or spec.type is FieldType.INT:
        left, right = float(left), float(right)
    result: bool
    if op == "=":
        result = left == right
    elif op in {"!=", "<>"}:
        result = left != right
    elif op == "<":
        result = left < right
    elif op == "<=":
        result = left <= right
    elif op == ">":
        result = left > right
    else:
        result = left >= right
    return result


def parse(query: str, resolve: Callable[[str], ObjectSpec | None]) -> Query:
    """Parse ``query``; ``resolve`` maps an object name to its spec (None when the org has no such object)."""
    return _Parser(query, resolve).parse()


def _sort_key(object_spec: ObjectSpec, spec: FieldSpec) -> Callable[[Record], Any]:
    return lambda rec: _normal(spec, _get(object_spec, rec, spec))


def execute(query: Query, records: list[Record]) -> list[Record]:
    """The records ``query`` selects, filtered, ordered and windowed."""
    rows = [rec for rec in records if query.predicate is None or query.predicate(rec)]
    for name, descending, nulls_last in reversed(query.order):
        spec = query.spec.fields[name]
        present = [rec for rec in rows if _get(query.spec, rec, spec) is not None]
        absent = [rec for rec in rows if _get(query.spec, rec, spec) is None]
        present.sort(key=_sort_key(query.spec, spec), reverse=descending)
        rows = present + absent if nulls_last else absent + present
    rows = rows[query.offset :]
    return rows if query.limit is None else rows[: query.limit]
