"""The state store's roles over one connection, on both backends: typed outbox queries (no SQL from callers), the
run log's finished runs, the digest lock, and statuses bound from the enums rather than written into statements."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from syncer.core.alerts import DedupeKey, Outcome
from syncer.state import RunStatus, StateStore
from syncer.state.outbox import EffectKind, OutboxItem, OutboxStatus
from syncer.state.records import FINISHED_STATUSES

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
STATE = Path(__file__).resolve().parents[2] / "syncer" / "state"


def intent(
    account: str,
    *,
    sync: str = "accounts",
    kind: EffectKind = EffectKind.ALERT,
    status: OutboxStatus = OutboxStatus.PENDING,
) -> OutboxItem:
    key = DedupeKey(sync, "went_hot", account, f"{kind.value}-1").token()
    return OutboxItem(key, sync, "went_hot", account, kind, {"account": account}, status)


def test_the_roles_share_the_stores_one_connection(store: StateStore) -> None:
    roles = (store.snapshot, store.runs, store.row_errors, store.outbox, store.ledger, store.owners)
    assert all(getattr(role, "_db") is store.db for role in roles)  # noqa: B009 (the private link is the point)


def test_outbox_records_filter_by_sync_kind_status_and_row_key(store: StateStore) -> None:
    items = [
        intent("a1"),
        intent("a2", status=OutboxStatus.HELD),
        intent("a3", kind=EffectKind.TASK),
        intent("b1", sync="other"),
        intent("a4", status=OutboxStatus.SUPPRESSED),
    ]
    store.outbox.add(items, NOW)
    store.outbox.mark_sending([items[0].dedupe_key], NOW)
    store.outbox.done(items[0].dedupe_key, "ts-1", NOW + timedelta(seconds=1))

    def accounts(**filters: object) -> list[str]:
        return sorted(r.key for r in store.outbox.records(**filters))  # type: ignore[arg-type]

    assert accounts() == ["a1", "a2", "a3", "a4", "b1"] == sorted(r.key for r in store.outbox.all())
    assert accounts(sync="accounts") == ["a1", "a2", "a3", "a4"]
    assert accounts(kinds=(EffectKind.TASK,)) == ["a3"]
    assert accounts(statuses=(OutboxStatus.DONE,)) == ["a1"]
    assert accounts(kinds=(EffectKind.ALERT,), statuses=(OutboxStatus.HELD, OutboxStatus.SUPPRESSED)) == ["a2", "a4"]
    assert accounts(sync="accounts", keys=["a1", "a3", "b1"]) == ["a1", "a3"]
    assert accounts(keys=[]) == []  # no keys asked for: none found (not every row)
    assert accounts(sync="other", statuses=(OutboxStatus.DONE,)) == []


def test_outbox_records_by_key_read_more_keys_than_one_statement_takes(store: StateStore) -> None:
    many = [intent(f"k{i:04d}") for i in range(450)]
    store.outbox.add(many, NOW)
    found = store.outbox.records(
        sync="accounts", statuses=(OutboxStatus.PENDING,), keys=[f"k{i:04d}" for i in range(0, 450, 2)] + ["missing"]
    )
    assert [r.key for r in found] == [f"k{i:04d}" for i in range(0, 450, 2)]  # oldest first, then by dedupe key


def test_pending_and_due_read_statuses_from_the_enum(store: StateStore) -> None:
    sending, waiting = intent("s1"), intent("w1", status=OutboxStatus.DEFERRED)
    store.outbox.add([sending, waiting, intent("p1")], NOW)
    store.outbox.mark_sending([sending.dedupe_key], NOW)
    assert [r.key for r in store.outbox.pending()] == ["p1"]
    assert sorted(r.key for r in store.outbox.pending(include_sending=True)) == ["p1", "s1"]
    assert [r.key for r in store.outbox.due(NOW, statuses=(OutboxStatus.DEFERRED,))] == ["w1"]
    assert store.outbox.failed(sending.dedupe_key, "channel_not_found", NOW, retryable=False)
    assert store.outbox.get([sending.dedupe_key])[sending.dedupe_key].status is OutboxStatus.FAILED


def test_the_run_log_counts_only_real_runs_that_finished(store: StateStore) -> None:
    naive = NOW.replace(tzinfo=None)
    assert not store.runs.has_finished("s")
    dry = store.runs.start("s", dry_run=True, now=naive)
    store.runs.finish(dry, RunStatus.SUCCEEDED, naive)
    failed = store.runs.start("s", dry_run=False, now=naive)
    store.runs.finish(failed, RunStatus.FAILED, naive)
    assert not store.runs.has_finished("s")  # a dry run and a failure are not a finished run
    partial = store.runs.start("s", dry_run=False, now=naive)
    store.runs.finish(partial, RunStatus.PARTIAL, naive)
    assert store.runs.has_finished("s") and not store.runs.has_finished("other")
    assert [r.status for r in store.runs.recent("s")] == ["partial", "failed", "succeeded"]
    assert set(FINISHED_STATUSES) == {RunStatus.SUCCEEDED, RunStatus.PARTIAL}


_STATUS_WORDS = {s.value for s in (*OutboxStatus, *RunStatus, *Outcome, *EffectKind)}


def test_no_statement_in_the_state_package_spells_a_status() -> None:
    """Statuses, outcomes and kinds are bound parameters (``?``) taken from the enums, never quoted into SQL."""
    quoted = re.compile(r"'([a-z_]+)'")
    found = []
    for path in sorted(STATE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found += [f"{path.name}: '{word}'" for word in quoted.findall(node.value) if word in _STATUS_WORDS]
    assert found == []
