"""`syncer --help` and the command line's import stay light: the heavy libraries load inside the commands that use
them. Checked on ``sys.modules`` in a fresh interpreter, never on a timing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "pyarrow",
    "numpy",
    "duckdb",
    "slack_sdk",
    "hubspot",
    "simple_salesforce",
    "apscheduler",
    "uvicorn",
    "starlette",
    "httpx",
    "jinja2",
    "sqlalchemy",
    "psycopg",
)


def _loaded_after(code: str) -> list[str]:
    probe = (
        f"import json, sys\n{code}\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY)!r}))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def test_importing_the_command_line_loads_no_heavy_library() -> None:
    assert _loaded_after("import syncer.cli") == []


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["validate", "--help"]])
def test_help_loads_no_heavy_library(argv: list[str]) -> None:
    code = (
        f"sys.argv = ['syncer', *{argv!r}]\nfrom syncer.cli import main\ntry:\n    main()\n"
        "except SystemExit as exc:\n    assert exc.code in (0, None), exc.code"
    )
    assert _loaded_after(code) == []
