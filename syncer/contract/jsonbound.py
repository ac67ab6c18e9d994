"""JSON from untrusted input, parsed only when its nesting is bounded.

``json.loads`` recurses once per level of nesting: 5,000 ``[`` raise ``RecursionError`` (not a ``ValueError``), which
escapes every ``except ValueError`` written around it. :func:`loads_bounded` counts the nesting first, with a scan
that does not recurse, and refuses a document deeper than ``max_depth`` with a :class:`JsonTooDeepError`, a
``ValueError`` like any other malformed JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_JSON_DEPTH = 64  # chat vendors' interaction payloads nest about 8 deep; nothing legitimate comes near 64

# A JSON string (escapes included), or one bracket: strings are skipped whole, so a bracket inside one is not counted.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)


class JsonTooDeepError(ValueError):
    """The document nests deeper than allowed."""


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text`` (brackets inside strings do not count); linear time."""
    depth = deepest = 0
    for token in _TOKENS.finditer(text):
        char = token.group()[0]
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def loads_bounded(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads(text)`` when ``text`` nests at most ``max_depth`` deep.

    Raises ``ValueError`` for anything that is not such a document: :class:`JsonTooDeepError` when it nests
    deeper, ``json.JSONDecodeError`` when it is malformed, ``UnicodeDecodeError`` for bytes that are not UTF-8.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    depth = nesting_depth(text)
    if depth > max_depth:
        raise JsonTooDeepError(f"JSON nests {depth} levels deep (at most {max_depth} allowed)")
    return json.loads(text)
