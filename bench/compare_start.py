"""What ``import syncer.cli`` costs and which packages make it up (``python -X importtime``)."""

from __future__ import annotations

import re
import subprocess
import sys

_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def import_times(module: str = "syncer.cli", top: int = 8) -> tuple[float, list[tuple[str, float]]]:
    """``python -X importtime -c 'import MODULE'``: the module's cumulative import seconds and the ``top``
    packages it pulls in by cumulative time (first-level names only, each counted once at its outermost import)."""
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True, text=True, check=True
    ).stderr
    total, root = 0.0, module.split(".", maxsplit=1)[0]
    packages: dict[str, float] = {}
    for line in err.splitlines():
        match = _IMPORT_LINE.match(line)
        if not match:
            continue
        cumulative, depth, name = int(match.group(2)) / 1e6, len(match.group(3)), match.group(4)
        head = name.split(".", maxsplit=1)[0]
        if depth == 0 and head == root:  # the package, then the module, side by side at the top
            total += cumulative
        if head != root and depth > 0:  # a package's outermost import holds the rest of it in its cumulative
            packages[head] = max(packages.get(head, 0.0), cumulative)
    return total, sorted(packages.items(), key=lambda item: -item[1])[:top]
