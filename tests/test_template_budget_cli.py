"""The three template attacks (a recursive macro, ``'a' * 10**9``, two nested ``range(99999)`` loops) in each of the
three kinds of template (field, CRM task, Slack alert): ``syncer validate``, run as a real subprocess under a 2 GiB
address-space cap, exits 2 within seconds with the template's ``file:line`` and the limit it went past, and never
prints a traceback. Before the render budget each of these crashed validate (RecursionError, MemoryError) or hung."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.project import ENVIRONMENT, make_project

MAPPING = "mappings/companies.yaml"
MEMORY_CAP = 2 * 1024**3
SECONDS = 30  # generous on a shared, loaded machine: each attack is refused in milliseconds, the CLI starts in ~2 s

ATTACKS = {
    "recursive_macro": (
        "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}",
        "render budget exceeded: calls nested more than 32 deep",
    ),
    "huge_string": ("{{ 'a' * 10**9 }}", "render budget exceeded: repeating a value 1000000000 times"),
    "nested_ranges": (
        "{% for i in range(99999) %}{% for j in range(99999) %}x{% endfor %}{% endfor %}",
        "render budget exceeded: range() of more than 10000 numbers",
    ),
}


def _quoted(template: str) -> str:
    return '"' + template.replace('"', '\\"') + '"'


def _field(template: str) -> tuple[str, str]:
    return "  pql_tier: pql_tier\n", f"  pql_tier:\n    template: {_quoted(template)}\n"


def _task(template: str) -> tuple[str, str]:
    return "schedule: every 10m\n", (
        "schedule: every 10m\ntriggers:\n  - name: hot\n    when: new.pql_score > 90\n"
        f"    task:\n      subject: {_quoted(template)}\n"
    )


def _alert(template: str) -> tuple[str, str]:
    return "schedule: every 10m\n", (
        "schedule: every 10m\ntriggers:\n  - name: hot\n    when: new.pql_score > 90\n"
        f"    alert:\n      connector: slack\n      template: {_quoted(template)}\n"
    )


# where each kind's template sits in the edited mapping (tests/project.py's, 16 lines before the edit)
KINDS = {
    "field": (_field, 16, "fields.pql_tier.template"),
    "task": (_task, 21, "triggers[0].task.subject"),
    "alert": (_alert, 22, "triggers[0].alert.template"),
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("budget") / "project")


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_validate_refuses_each_template_attack_at_its_line(
    kind: str, attack: str, template: Path, tmp_path: Path
) -> None:
    root = tmp_path / "project"
    subprocess.run(["cp", "-r", str(template), str(root)], check=True)
    edit, line, key = KINDS[kind]
    source, expected = ATTACKS[attack]
    old, new = edit(source)
    text = (root / MAPPING).read_text()
    assert old in text
    (root / MAPPING).write_text(text.replace(old, new, 1))
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", "from syncer.cli import main; main()", "validate", "-p", str(root)],
        env={**os.environ, **ENVIRONMENT},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_cap_memory,
        check=False,
    )
    elapsed = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    (problem,) = [text for text in output.splitlines() if f"{MAPPING}:{line}: {key}: " in text]
    assert expected in problem, output
    assert "Traceback" not in output and "RecursionError" not in output and "MemoryError" not in output
    assert elapsed < SECONDS, f"validate took {elapsed:.1f} s"
