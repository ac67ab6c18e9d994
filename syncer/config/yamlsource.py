"""YAML loading that remembers where every key and value stood, and expands ``${ENV_VAR}`` references
(``${ENV_VAR:-default}`` when a default is fine; the default also replaces an empty value, as in the shell).

PyYAML's composer keeps a start mark on every node; we build plain Python values from the node tree and a table from
key path (``("fields", "pql_score", "round")``) to line number, so a validation error deep in a model can still name the
line RevOps must edit.

Hostile or broken input is refused with a problem, never an exception: bytes that are not UTF-8, files over
:data:`MAX_FILE_BYTES`, nesting deeper than :data:`MAX_DEPTH` (bounded while composing, before Python's recursion
limit), and alias bombs ("billion laughs": a few lines whose aliases expand to billions of nodes), which are stopped
after :data:`MAX_ALIAS_EXPANSIONS` values built again through aliases, in bounded time and memory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from syncer.config.errors import Problem, display_path

KeyPath = tuple[str | int, ...]
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")  # ${NAME} or ${NAME:-default}

MAX_FILE_BYTES = 1024 * 1024  # a mapping is a few kilobytes; anything this large is not one
MAX_DEPTH = 64  # real files nest five or six levels
MAX_ALIAS_EXPANSIONS = 10_000  # values built again through an alias (each one inside an expanded anchor counts)

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_CORE + name for name in ("str", "int", "float", "bool", "null", "timestamp")}
_COLLECTION_TAGS = {_CORE + "map", _CORE + "seq"}


@dataclass
class YamlDocument:
    """A parsed YAML file: its data, its name for messages and the line of every key path.

    ``environment``: the value of every variable a ``${NAME}`` reference read (a default is not one), for redaction.
    ``missing``: the variables referenced without a default that are not set, with where; their reference text stays
    in place as a placeholder, and the caller decides whether that is an error (see :mod:`syncer.config.loader`).
    """

    file: str
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    missing: list[tuple[str, KeyPath]] = field(default_factory=list)

    def line_of(self, path: KeyPath) -> int:
        """The line of ``path``, or of its nearest ancestor that has one (1 for the document itself)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return 1

    def problem(self, path: KeyPath, message: str) -> Problem:
        return Problem(self.file, self.line_of(path), format_path(path), message)


def format_path(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _RefusedError(Exception):
    """Building stopped: the document is too deep or expands too far (one problem says why)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with a bound on nesting, checked while composing (the composer recurses per level)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_yaml(
    path: Path, environ: Mapping[str, str] | None = None, name: str | None = None
) -> tuple[YamlDocument | None, list[Problem]]:
    """Parse ``path`` (called ``name`` in messages); return the document and the problems found.

    A file that cannot be read, decoded or parsed yields no document, only its problem.
    """
    name = name or display_path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, [Problem(name, 0, "", f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")]
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(name, 0, "", f"cannot read file: {exc.strerror or exc}")]
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark some Windows editors write is not content
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [
            Problem(
                name, line, "", f"not UTF-8 text (byte 0x{raw[exc.start]:02x} on this line): save the file as UTF-8"
            )
        ]
    try:
        node = yaml.compose(text, Loader=_BoundedLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        context = f" ({exc.context} at line {exc.context_mark.line + 1})" if exc.context and exc.context_mark else ""
        return None, [Problem(name, line, "", f"invalid YAML: {exc.problem}{context}")]
    except yaml.reader.ReaderError as exc:  # a control character: not a marked error, but it has a position
        line = text[: exc.position].count("\n") + 1
        code = ord(exc.character) if isinstance(exc.character, str) else exc.character
        return None, [Problem(name, line, "", f"invalid YAML: control character #x{code:04x} is not allowed")]
    except yaml.YAMLError as exc:
        return None, [Problem(name, 0, "", f"invalid YAML: {exc}")]
    doc = YamlDocument(name, None)
    builder = _Builder(doc, os.environ if environ is None else environ)
    try:
        doc.data = builder.build(node, ()) if node is not None else None
    except _RefusedError as refused:
        return None, [refused.problem]
    return doc, builder.problems


class _Builder:
    """Builds plain values from a composed node tree, recording lines, expanding references, counting aliases."""

    def __init__(self, doc: YamlDocument, environ: Mapping[str, str]) -> None:
        self.doc, self.environ = doc, environ
        self.problems: list[Problem] = []
        self.seen: set[int] = set()
        self.expansions = 0

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        # A node reached a second time is being expanded again through an alias: count every such value (those
        # inside a wide anchor too), so nine aliases of nine aliases of ... stop here instead of filling memory.
        # Depth only grows past MAX_DEPTH through aliases (the composer bounds the rest), and a recursive alias
        # (&a [*a]) grows it forever.
        if id(node) in self.seen:
            self.expansions += 1
            if self.expansions > MAX_ALIAS_EXPANSIONS:
                raise _RefusedError(
                    self.doc.problem(
                        path, f"aliases expand more than {MAX_ALIAS_EXPANSIONS} times (a YAML alias bomb?)"
                    )
                )
        self.seen.add(id(node))
        if len(path) > MAX_DEPTH:  # named by its top-level key: the full path would be MAX_DEPTH parts long
            raise _RefusedError(self.doc.problem(path[:1], f"nested deeper than {MAX_DEPTH} levels (through aliases)"))
        self.doc.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _COLLECTION_TAGS:
            self.problems.append(self.doc.problem(path, f"YAML tag '{node.tag}' is not supported"))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(Problem(self.doc.file, line, format_path(path), "a key must be plain text"))
                continue
            key = str(key_node.value)
            child = (*path, key)
            if key in result:
                self.problems.append(Problem(self.doc.file, line, format_path(child), "duplicate key"))
            self.doc.lines[child] = line
            result[key] = self.build(value_node, child)
        return result

    def _scalar(self, node: yaml.Node, path: KeyPath) -> Any:
        # After a problem the text as written stands in, so validation adds no second complaint about a None.
        if node.tag not in _SCALAR_TAGS:
            self.problems.append(self.doc.problem(path, f"YAML tag '{node.tag}' is not supported"))
            return str(node.value)
        try:
            value = yaml.constructor.SafeConstructor().construct_object(node)
        except (yaml.YAMLError, ValueError, OverflowError):
            kind = node.tag.removeprefix(_CORE)
            self.problems.append(
                self.doc.problem(path, f"'{node.value}' is not a valid {kind} (quote it if it is text)")
            )
            return str(node.value)
        if isinstance(value, str):
            return self._expand(value, path)
        return value

    def _expand(self, value: str, path: KeyPath) -> str:
        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            found = self.environ.get(name)
            if not found and default is not None:
                return default
            if found is None:
                self.doc.missing.append((name, path))
                return match.group(0)  # the reference itself stands in: plainly not a real value
            if not found:
                self.problems.append(self.doc.problem(path, f"environment variable {name} is set but empty"))
                return found
            self.doc.environment[name] = found
            return found

        return _ENV_REF.sub(replace, value)
