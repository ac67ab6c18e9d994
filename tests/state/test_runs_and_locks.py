"""Runs survive kills and concurrency: killed runs are found and marked, one run per sync at a time, on both
backends, with real second processes and connections."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from syncer.state import RunLockedError, RunStatus, StateStore, StateUnavailableError, open_state
from syncer.state.runs import KILLED_MESSAGE
from tests.helpers import NOW
from tests.state.conftest import Opener

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextmanager
def _holder(code: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A second process running ``code``, which prints one line when it holds what it holds, then sleeps."""
    proc = _python(textwrap.dedent(code) + "\nimport time\nprint('ready', flush=True)\ntime.sleep(120)\n")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "ready", proc.stderr.read() if proc.stderr else line
        yield proc, line
    finally:
        proc.kill()
        proc.communicate()  # waits, and closes its pipes


def _wait_until(condition: object, what: str) -> None:
    """Poll for what the test cannot be told about (a server noticing a dead client); bounded, no timing asserted."""
    for _ in range(400):
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def test_a_killed_run_is_marked_killed_and_its_workspace_removed(
    state_url: str, tmp_path: Path, open_store: Opener
) -> None:
    victim = _python(f"""
        import os, signal
        from pathlib import Path
        from syncer.state import open_state
        from tests.helpers import NOW
        store = open_state({state_url!r}, Path({str(tmp_path)!r}))
        run_id = store.runs.start("s", dry_run=False, now=NOW)
        print(run_id, store._workspace_dir, getattr(store, "_session", "-").split(":")[0], flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # dies mid-run: nothing is closed or finished
    """)
    out, err = victim.communicate()
    assert victim.returncode == -signal.SIGKILL, err
    run_id, workspace, backend = out.split()
    assert Path(workspace).is_dir()  # left behind by the dead process
    if backend != "-":  # PostgreSQL: the server drops the session once it notices the client is gone
        with psycopg.connect(state_url, autocommit=True) as conn:
            _wait_until(
                lambda: not conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (int(backend),)).fetchall(),
                "the dead session is gone",
            )
    store = open_store()
    (run,) = store.runs.recent("s")
    assert (run.id, run.status, run.error) == (int(run_id), RunStatus.KILLED, KILLED_MESSAGE)
    assert run.finished_at is not None
    assert not Path(workspace).exists()
    assert store.runs.mark_killed(NOW) == []  # found once


def test_a_live_run_of_this_process_is_not_marked_killed(store: StateStore) -> None:
    run_id = store.runs.start("s", dry_run=False, now=NOW)
    assert store.runs.mark_killed(NOW) == []
    assert store.runs.recent("s")[0].id == run_id
    assert store.runs.recent("s")[0].status == RunStatus.RUNNING


def test_runs_of_one_sync_exclude_each_other_in_one_process(store: StateStore) -> None:
    with store.runs.lock("s", 0):
        with pytest.raises(RunLockedError, match="sync 's' is already running"), store.runs.lock("s", 0):
            pass
        with store.runs.lock("other", 0):
            pass
    with store.runs.lock("s", 0):
        pass


def test_a_duckdb_state_held_by_another_process_is_refused_clearly(tmp_path: Path) -> None:
    code = f"""
        from pathlib import Path
        from syncer.state import open_state
        store = open_state("duckdb:///state.duckdb", Path({str(tmp_path)!r}))
    """
    with _holder(code) as (proc, _), pytest.raises(StateUnavailableError) as caught:
        open_state("duckdb:///state.duckdb", tmp_path)
    message = str(caught.value)
    assert f"in use by another process (PID {proc.pid}), most likely another syncer" in message
    assert "\n" not in message
    open_state("duckdb:///state.duckdb", tmp_path).close()  # the holder exited: open again


def test_postgres_runs_of_one_sync_exclude_each_other_across_connections(pg_url: str, tmp_path: Path) -> None:
    first, second = open_state(pg_url, tmp_path), open_state(pg_url, tmp_path)
    try:
        with first.runs.lock("companies", 0):
            with (
                pytest.raises(RunLockedError, match="sync 'companies' is already running"),
                second.runs.lock("companies", 0),
            ):
                pass
            with second.runs.lock("contacts", 0):  # another sync is free
                pass
        with second.runs.lock("companies", 0):
            pass
    finally:
        first.close()
        second.close()


def test_postgres_lock_is_released_when_its_process_dies(pg_url: str, tmp_path: Path) -> None:
    code = f"""
        from pathlib import Path
        from syncer.state import open_state
        store = open_state({pg_url!r}, Path({str(tmp_path)!r}))
        lock = store.runs.lock("companies", 0)
        lock.__enter__()  # referenced, so held until the process dies
    """
    store = open_state(pg_url, tmp_path)
    try:
        with _holder(code) as (proc, _):
            with pytest.raises(RunLockedError), store.runs.lock("companies", 0):
                pass
            os.kill(proc.pid, signal.SIGKILL)

        def free() -> bool:
            try:
                with store.runs.lock("companies", 0):
                    return True
            except RunLockedError:
                return False

        _wait_until(free, "the dead holder's lock is released")
    finally:
        store.close()


def test_postgres_waits_for_the_lock_up_to_the_configured_time(pg_url: str, tmp_path: Path) -> None:
    holder, waiter = open_state(pg_url, tmp_path), open_state(pg_url, tmp_path)
    got: list[bool] = []

    def wait() -> None:
        with waiter.runs.lock("companies", 600):
            got.append(True)

    try:
        with holder.runs.lock("companies", 0):
            thread = threading.Thread(target=wait)
            thread.start()
            with psycopg.connect(pg_url, autocommit=True) as conn:
                _wait_until(
                    lambda: conn.execute("SELECT 1 FROM pg_stat_activity WHERE wait_event = 'advisory'").fetchall(),
                    "the second run waits on the lock",
                )
            assert got == []
        thread.join()
        assert got == [True]
    finally:
        holder.close()
        waiter.close()
