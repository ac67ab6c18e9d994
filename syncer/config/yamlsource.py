"""YAML loading that remembers where every key and value stood, and expands ``${ENV_VAR}`` references
(``${ENV_VAR:-default}`` when a default is fine).

PyYAML's composer keeps a start mark on every node; we build plain Python values from the node tree and a table from
key path (``("fields", "pql_score", "round")``) to line number, so a validation error deep in a model can still name the
line RevOps must edit.
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


@dataclass
class YamlDocument:
    """A parsed YAML file: its data, its name for messages and the line of every key path."""

    file: str
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

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


def load_yaml(path: Path, environ: Mapping[str, str] | None = None,
              name: str | None = None) -> tuple[YamlDocument | None, list[Problem]]:
    """Parse ``path`` (called ``name`` in messages); return the document and the problems found.

    A syntax error yields no document, only its problem.
    """
    name = name or display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [Problem(name, 0, "", f"cannot read file: {exc.strerror}")]
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        context = f" ({exc.context} at line {exc.context_mark.line + 1})" if exc.context and exc.context_mark else ""
        return None, [Problem(name, line, "", f"invalid YAML: {exc.problem}{context}")]
    doc = YamlDocument(name, None)
    problems: list[Problem] = []
    env = os.environ if environ is None else environ
    doc.data = _build(node, (), doc, problems, env) if node is not None else {}
    return doc, problems


def _build(node: yaml.Node, path: KeyPath, doc: YamlDocument, problems: list[Problem], env: Mapping[str, str]) -> Any:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            if key in result:
                problems.append(Problem(doc.file, key_node.start_mark.line + 1, format_path(child), "duplicate key"))
            doc.lines[child] = key_node.start_mark.line + 1
            result[key] = _build(value_node, child, doc, problems, env)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), doc, problems, env) for i, item in enumerate(node.value)]
    value = yaml.constructor.SafeConstructor().construct_object(node)
    if isinstance(value, str):
        return _expand_env(value, path, doc, problems, env)
    return value


def _expand_env(value: str, path: KeyPath, doc: YamlDocument, problems: list[Problem], env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name not in env and default is not None:
            return default
        if name not in env:
            problems.append(doc.problem(path, f"environment variable {name} is not set"))
            return ""
        return env[name]

    return _ENV_REF.sub(replace, value)
