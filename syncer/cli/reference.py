"""``docs/configuration.md``, generated from the JSON Schemas ``syncer schema`` writes, so it cannot drift from the
loader: ``python -m syncer.cli.reference`` rewrites it, and a test fails when it is not current.

One section per file kind, then one per model it uses, each a table of key, type, default and description.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from connectors import REGISTRY
from syncer.config.schema import json_schemas

DOCUMENT = Path(__file__).parents[2] / "docs" / "configuration.md"
HEADER = """\
# Configuration reference

Generated from the JSON Schemas (`syncer schema`) by `python -m syncer.cli.reference`; do not edit by hand
(`tests/daemon/test_parts.py` fails when this file is not current). Secrets (type *secret*) are written as
`${ENV_VAR}` references. See the README for a walk-through and docs/operations.md for running the daemon.
"""
_CONSTRAINTS = (
    ("minimum", "≥ {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "≤ {}"),
    ("exclusiveMaximum", "< {}"),
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
    ("minProperties", "at least {} entries"),
)


def render() -> str:
    """The whole document."""
    schemas = json_schemas(REGISTRY)
    parts = [HEADER]
    for filename, title in (("syncer.schema.json", "`syncer.yaml`"), ("mapping.schema.json", "Mapping files")):
        schema = schemas[filename]
        definitions: dict[str, Any] = schema.get("$defs", {})
        lead = _clean(schema.get("description", ""))
        parts.append(f"## {title}\n\n" + (f"{lead}\n\n" if lead else "") + _table(schema))
        for name in _reachable(schema, definitions):
            parts.append(f"### {name}\n\n{_section(definitions[name])}")
    return "\n".join(part.rstrip() + "\n" for part in parts)


def _reachable(schema: dict[str, Any], definitions: dict[str, Any]) -> list[str]:
    """Definitions in the order a reader meets them (breadth first from the file's top level)."""
    order: list[str] = []
    queue = _refs(schema.get("properties", {}))
    while queue:
        name = queue.pop(0)
        if name in order or name not in definitions:
            continue
        order.append(name)
        queue += _refs(definitions[name].get("properties", {}))
    return order


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.append(ref.rsplit("/", 1)[-1])
        for key, value in node.items():
            if key != "discriminator":
                found += _refs(value)
    elif isinstance(node, list):
        for item in node:
            found += _refs(item)
    return found


def _section(definition: dict[str, Any]) -> str:
    text = _clean(definition.get("description", ""))
    if "enum" in definition:
        return f"{text}\n\nOne of: {', '.join(f'`{v}`' for v in definition['enum'])}.".strip()
    if "anyOf" in definition:  # a model that also takes a shorthand
        body = next((d for d in definition["anyOf"] if "properties" in d), None)
        shorthand = [_clean(d.get("description", "")) for d in definition["anyOf"] if "properties" not in d]
        lead = f"{text}\n\nOr a string: {' '.join(shorthand)}".strip()
        return f"{lead}\n\n{_table(body)}" if body else lead
    return f"{text}\n\n{_table(definition)}".strip()


def _table(definition: dict[str, Any]) -> str:
    properties: dict[str, Any] = definition.get("properties", {})
    required = set(definition.get("required", []))
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for key, spec in properties.items():
        default = "*required*" if key in required else _default(spec)
        rows.append(f"| `{key}` | {_type(spec)} | {default} | {_describe(spec)} |")
    return "\n".join(rows)


def _type(spec: dict[str, Any]) -> str:
    if "$ref" in spec:
        name = spec["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    for union in ("anyOf", "oneOf"):
        if union in spec:
            return " or ".join(dict.fromkeys(_type(option) for option in spec[union]))
    if "enum" in spec:
        return " \\| ".join(f"`{value}`" for value in spec["enum"])
    if spec.get("format") == "password":
        return "secret"
    kind = spec.get("type")
    if kind == "array":
        return f"list of {_type(spec.get('items', {}))}"
    if kind == "object" and isinstance(spec.get("additionalProperties"), dict):
        return f"map of name to {_type(spec['additionalProperties'])}"
    if "const" in spec:
        return f"`{spec['const']}`"
    return str(kind or "any")


def _default(spec: dict[str, Any]) -> str:
    if "default" not in spec:
        return ""
    value = spec["default"]
    if isinstance(value, dict) and value:
        return "see its section"
    return f"`{json.dumps(value)}`".replace("|", "\\|")


def _describe(spec: dict[str, Any]) -> str:
    text = _clean(spec.get("description", ""))
    limits = [template.format(spec[key]) for key, template in _CONSTRAINTS if key in spec]
    limits = ["not empty" if limit == "at least 1 characters" else limit for limit in limits]
    if limits:
        text = f"{text} ({', '.join(limits)})".strip()
    return text.replace("|", "\\|")


def _clean(text: str) -> str:
    return " ".join(text.split()).replace("``", "`")


def main() -> None:
    """Rewrite ``docs/configuration.md``; with ``--check``, exit 1 when it is not current instead."""
    current = DOCUMENT.read_text(encoding="utf-8") if DOCUMENT.exists() else ""
    wanted = render()
    if "--check" in sys.argv[1:]:
        if current != wanted:
            print(f"{DOCUMENT} is not current: run python -m syncer.cli.reference", file=sys.stderr)
            sys.exit(1)
        return
    DOCUMENT.write_text(wanted, encoding="utf-8")


if __name__ == "__main__":
    main()
