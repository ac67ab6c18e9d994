"""The import contracts of ``make lint`` (``[tool.importlinter]`` in pyproject.toml): kept by the tree, broken by a
forbidden import, and covering every package of ``syncer``, so a new floor has to be placed before it lints.

The failing cases copy ``syncer/`` and ``connectors/`` to a temporary directory, add one forbidden import there and
run ``lint-imports`` on the copy, so the tree itself is never touched.
"""

from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import connectors
import syncer

REPO = Path(__file__).parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
CONTRACTS: dict[str, dict[str, Any]] = {c["id"]: c for c in PYPROJECT["tool"]["importlinter"]["contracts"]}
EDGES = {"syncer.app", "syncer.cli", "syncer.daemon", "syncer.demo"}  # may import connectors (the registry)


def _lint(root: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the packages under ``root`` (its own pyproject.toml), limited to ``contracts``."""
    selected = [arg for contract in contracts for arg in ("--contract", contract)]
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", *selected],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _children() -> set[str]:
    """Every module and package directly under ``syncer``."""
    return {f"syncer.{info.name}" for info in pkgutil.iter_modules(syncer.__path__)}


def test_the_tree_keeps_every_contract() -> None:
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


@pytest.fixture(scope="module")
def copy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the packages and the contracts, to break."""
    root = tmp_path_factory.mktemp("tree")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("syncer", "connectors"):
        shutil.copytree(REPO / package, root / package, ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


BREAKS = [
    # (module to add, its one import, the contract it breaks, a line of the report naming the forbidden import)
    (
        "connectors/hubspot/shortcut.py",
        "import syncer.state.base",
        "connectors-use-the-contract",
        "connectors.hubspot.shortcut -> syncer.state.base",
    ),
    (
        "connectors/slack/sandbox/shortcut.py",
        "import syncer.delivery.pacer",
        "connectors-use-the-contract",
        "connectors.slack.sandbox.shortcut -> syncer.delivery.pacer",
    ),
    (
        "syncer/contract/shortcut.py",
        "import syncer.config.sync",
        "contract-is-the-bottom",
        "syncer.contract.shortcut -> syncer.config.sync",
    ),
    (
        "syncer/config/shortcut.py",
        "import syncer.delivery.executor",
        "floors",
        "syncer.config.shortcut -> syncer.delivery.executor",
    ),
    (
        "syncer/core/shortcut.py",
        "import syncer.planning.planner",
        "floors",
        "syncer.core.shortcut -> syncer.planning.planner",
    ),
    (
        "syncer/effects/shortcut.py",
        "import connectors.slack.channel",
        "engine-knows-no-vendor",
        "syncer.effects.shortcut -> connectors.slack.channel",
    ),
    (
        "connectors/sandbox/core/shortcut.py",
        "import syncer.contract.text",
        "sandbox-core-stands-alone",
        "connectors.sandbox.core.shortcut -> syncer.contract.text",
    ),
    (
        "connectors/sandbox/core/vendor.py",
        "import connectors.slack.sandbox.store",
        "sandbox-core-stands-alone",
        "connectors.sandbox.core.vendor -> connectors.slack.sandbox.store",
    ),
]


@pytest.mark.parametrize(("path", "line", "contract", "named"), BREAKS, ids=[b[2] + ":" + b[0] for b in BREAKS])
def test_a_forbidden_import_breaks_its_contract(
    copy_root: Path, path: str, line: str, contract: str, named: str
) -> None:
    added = copy_root / path
    added.write_text(f'"""A deliberate breach of {contract}."""\n\n{line}\n', encoding="utf-8")
    try:
        result = _lint(copy_root, contract)
    finally:
        added.unlink()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "0 kept, 1 broken." in result.stdout
    assert named in result.stdout


def test_a_cycle_breaks_the_acyclic_contract(copy_root: Path) -> None:
    """The warehouse interface importing its opener back (the cycle the opener module removed) is reported."""
    base = copy_root / "syncer" / "warehouse" / "base.py"
    original = base.read_text(encoding="utf-8")
    base.write_text(
        original + "\n\ndef _opener() -> object:\n    from syncer.warehouse import opener\n\n    return opener\n",
        encoding="utf-8",
    )
    try:
        result = _lint(copy_root, "no-cycles")
    finally:
        base.write_text(original, encoding="utf-8")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "No cycles are allowed in syncer.warehouse." in result.stdout


def test_every_package_of_syncer_is_placed_on_a_floor() -> None:
    """A new package or top-level module must be given its floor (and its place in the forbidden lists)."""
    children = _children()
    layers = {f"syncer.{layer.strip('()')}" for entry in CONTRACTS["floors"]["layers"] for layer in entry.split(" | ")}
    assert children <= layers, "place it in the floors contract"
    engine = children - {"syncer.contract"}
    assert set(CONTRACTS["connectors-use-the-contract"]["forbidden_modules"]) == engine
    assert set(CONTRACTS["contract-is-the-bottom"]["forbidden_modules"]) == engine | {"connectors"}
    assert set(CONTRACTS["engine-knows-no-vendor"]["source_modules"]) == children - EDGES
    vendors = {f"connectors.{info.name}" for info in pkgutil.iter_modules(connectors.__path__)} - {"connectors.sandbox"}
    assert set(CONTRACTS["sandbox-core-stands-alone"]["forbidden_modules"]) == {"syncer"} | vendors
