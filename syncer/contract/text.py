"""Display text: what may reach a human's screen through a chat message or a CRM task.

Warehouse values are someone else's data. A NUL byte, a terminal escape or a bidi override (U+202E turns
``exe.pdf`` into ``fdp.exe`` on screen) must not reach an alert's header or a task subject as it is. Stored field
values are never cleaned: this is for the text a person reads, not for what is written to a CRM field.
"""

from __future__ import annotations

import re

# C0 controls except TAB and LF, DEL, C1 controls; the bidi embeddings, overrides and isolates; the implicit marks
# (LRM, RLM, ALM) that can reorder neighbouring text as well.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def display_text(text: str) -> str:
    """``text`` without control characters and bidi controls; TAB and LF are kept, CR LF becomes LF."""
    return _UNSAFE.sub("", text.replace("\r\n", "\n"))


def display_line(text: str) -> str:
    """``text`` as one line (headers, subjects): :func:`display_text` with every run of whitespace made one space."""
    return " ".join(display_text(text).split())
