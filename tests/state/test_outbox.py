"""Outbox, alert ledger and owner cache on both state backends: idempotent intents, the send state machine, crash
recovery, ledger rows read back as the alert policy's entries, caps held across two stores, and cache expiry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from syncer.config.alerts import AlertPolicy, Caps, OverflowPolicy
from syncer.core.alerts import Candidate, Decision, DedupeKey, LedgerEntry, Outcome, decide, record
from syncer.state import StateStore
from syncer.state.ledger import rep_lock_id
from syncer.state.outbox import EffectKind, OutboxItem, OutboxStatus
from tests.state.conftest import Opener

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 15:00 UTC: outside the default quiet hours


def item(account: str, firing: str = "f1", kind: EffectKind = EffectKind.ALERT, sync: str = "accounts") -> OutboxItem:
    key = DedupeKey(sync, "went_hot", account, firing).token()
    return OutboxItem(key, sync, "went_hot", account, kind, {"text": f"{account} went hot", "score": 91})


def candidate(account: str, rep: str | None = "U_DANA", firing: str = "f1", tier: str | None = "hot") -> Candidate:
    return Candidate(DedupeKey("accounts", "went_hot", account, firing), rep, "UTC", tier, 90.0, 1, NOW)


def test_the_effects_migrations_are_applied(store: StateStore) -> None:
    assert {4, 5} <= set(store.schema_versions())
    assert store.ledger.log_version() == (0, 0)


def test_adding_an_intent_twice_is_a_no_op(store: StateStore) -> None:
    a, b = item("acc_1"), item("acc_2")
    assert store.outbox.add([a, b], NOW) == [a.dedupe_key, b.dedupe_key]
    assert store.outbox.add([a, item("acc_3"), a], NOW + timedelta(minutes=1)) == [item("acc_3").dedupe_key]
    pending = store.outbox.pending()
    assert [r.key for r in pending] == ["acc_1", "acc_2", "acc_3"]
    assert pending[0].payload == {"text": "acc_1 went hot", "score": 91}
    assert (pending[0].status, pending[0].attempts, pending[0].created_at) == (OutboxStatus.PENDING, 0, NOW)
    # A new firing of the same trigger and account is a new intent.
    assert store.outbox.add([item("acc_1", firing="f2")], NOW) == [item("acc_1", firing="f2").dedupe_key]


def test_state_machine_pending_sending_done_and_failed(store: StateStore) -> None:
    a, b, c = item("acc_1"), item("acc_2", kind=EffectKind.TASK), item("acc_3")
    store.outbox.add([a, b, c], NOW)
    later = NOW + timedelta(seconds=5)
    assert store.outbox.mark_sending([a.dedupe_key, b.dedupe_key, "unknown"], later) == [a.dedupe_key, b.dedupe_key]
    assert [r.key for r in store.outbox.pending()] == ["acc_3"]
    assert store.outbox.done(a.dedupe_key, "1732370000.000100", later)
    assert not store.outbox.done(a.dedupe_key, "other", later)  # done is final
    assert store.outbox.mark_sending([a.dedupe_key], later) == []
    # A retryable failure returns the intent to pending with its attempt counted; a final one parks it.
    assert store.outbox.failed(b.dedupe_key, "503 from the CRM", later, retryable=True)
    assert store.outbox.failed(c.dedupe_key, "channel_not_found", later, retryable=False)
    got = store.outbox.get([a.dedupe_key, b.dedupe_key, c.dedupe_key])
    assert (got[a.dedupe_key].status, got[a.dedupe_key].external_id, got[a.dedupe_key].updated_at) == (
        OutboxStatus.DONE,
        "1732370000.000100",
        later,
    )
    assert (got[b.dedupe_key].status, got[b.dedupe_key].attempts, got[b.dedupe_key].error) == (
        OutboxStatus.PENDING,
        1,
        "503 from the CRM",
    )
    assert (got[c.dedupe_key].status, got[c.dedupe_key].error) == (OutboxStatus.FAILED, "channel_not_found")
    assert [r.key for r in store.outbox.pending()] == ["acc_2"]
    assert store.outbox.mark_sending([c.dedupe_key], later) == []  # failed for good
    assert store.outbox.mark_sending([b.dedupe_key], later) == [b.dedupe_key]
    assert store.outbox.get([b.dedupe_key])[b.dedupe_key].attempts == 2


def test_a_crash_between_sending_and_done_leaves_the_intent_for_recovery(open_store: Opener) -> None:
    first = open_store()
    a, b = item("acc_1"), item("acc_2", sync="other")
    first.outbox.add([a, b], NOW)
    first.outbox.mark_sending([a.dedupe_key], NOW)
    first.close()  # the process dies before the reply is recorded
    second = open_store()
    assert [r.key for r in second.outbox.pending("accounts")] == []
    recovering = second.outbox.pending("accounts", include_sending=True)
    assert [(r.dedupe_key, r.status, r.attempts) for r in recovering] == [(a.dedupe_key, OutboxStatus.SENDING, 1)]
    # The destination held the effect already: recovery marks it done without sending again.
    assert second.outbox.done(a.dedupe_key, "T-42", NOW + timedelta(minutes=1))
    assert second.outbox.pending("accounts", include_sending=True) == []
    assert [r.sync for r in second.outbox.pending(include_sending=True)] == ["other"]


def test_thousands_of_intents_and_decisions_are_recorded_as_sets(store: StateStore) -> None:
    """One statement per call (staged rows): every row lands with its values, NULLs included, and a deferred
    intent is still the only kind a second add replaces."""
    items = [item(f"acc_{i}") for i in range(1_000)]
    assert store.outbox.add(items, NOW) == [i.dedupe_key for i in items]
    later = NOW + timedelta(days=1)
    deferred = [
        replace(item(f"late_{i}"), status=OutboxStatus.DEFERRED, not_before=later, error="quiet hours")
        for i in range(300)
    ]
    assert store.outbox.add(deferred, NOW) == [d.dedupe_key for d in deferred]
    again = [replace(d, status=OutboxStatus.PENDING, not_before=None, error=None) for d in deferred] + items[:10]
    assert store.outbox.add(again, NOW + timedelta(hours=1)) == [d.dedupe_key for d in deferred]
    records = store.outbox.get([i.dedupe_key for i in items] + [d.dedupe_key for d in deferred])
    assert len(records) == 1_300
    assert {(r.status, r.not_before, r.error, r.attempts) for r in records.values()} == {
        (OutboxStatus.PENDING, None, None, 0)
    }
    assert records[items[7].dedupe_key].payload == {"text": "acc_7 went hot", "score": 91}

    decisions = [
        Decision(
            candidate(f"acc_{i}", rep=None if i % 3 == 0 else f"U_{i % 7}", tier=None if i % 2 else "hot"),
            Outcome.SEND,
            "sent",
            NOW,
        )
        for i in range(1_000)
    ]
    assert store.ledger.add(decisions) == 1_000
    assert store.ledger.since(since=NOW - timedelta(days=1)) == sorted(record(decisions), key=lambda e: (e.at, e.key))
    rows = store.ledger.log_rows()
    assert len(rows) == 1_000 and {row["priority"] for row in rows} == {90.0}


def test_ledger_rows_come_back_as_the_policy_entries_and_hold_caps(store: StateStore) -> None:
    policy = AlertPolicy(caps=Caps(per_day=2, per_week=10), overflow=OverflowPolicy.DROP, quiet_hours=None)
    first = decide([candidate("acc_1"), candidate("acc_2")], [], policy, NOW)
    assert [d.outcome for d in first] == [Outcome.SEND, Outcome.SEND]
    assert store.ledger.add(first) == 2
    read = store.ledger.since("U_DANA", NOW - timedelta(days=7))
    assert read == sorted(record(first), key=lambda e: (e.at, e.key))
    # The next run, reading the ledger back from the store, finds the day's cap full.
    [third] = decide([candidate("acc_3")], read, policy, NOW + timedelta(hours=1))
    assert third.outcome is Outcome.CAPPED_DAY
    # Another rep's entries and older ones are not read.
    store.ledger.add([Decision(candidate("acc_9", rep="U_LEE"), Outcome.SEND, "sent", NOW)])
    assert {e.rep for e in store.ledger.since("U_DANA", NOW - timedelta(days=7))} == {"U_DANA"}
    assert store.ledger.since("U_DANA", NOW + timedelta(minutes=1)) == []
    # A key decided long ago is still found by its key, so the policy drops a repeat.
    token = candidate("acc_1").key.token()
    old = store.ledger.since("U_DANA", NOW + timedelta(days=30), keys=[token])
    assert [e.key.account for e in old] == ["acc_1"]
    [again] = decide([candidate("acc_1")], old, policy, NOW + timedelta(hours=2))
    assert again.outcome is Outcome.DROPPED


def test_deferrals_snoozes_feedback_and_sent_at_round_trip(store: StateStore) -> None:
    until = NOW + timedelta(days=7)
    snooze = LedgerEntry(
        DedupeKey("accounts", "went_hot", "acc_1", "f0"),
        "U_DANA",
        Outcome.SNOOZED,
        NOW - timedelta(days=30),
        "hot",
        not_before=until,
    )
    deferred = Decision(
        candidate("acc_2"), Outcome.DEFER_QUIET_HOURS, "quiet", NOW, not_before=NOW + timedelta(hours=9)
    )
    store.ledger.add([snooze, deferred])
    read = store.ledger.since("U_DANA", NOW - timedelta(days=7))  # the snooze still runs, so it is read
    assert read == [snooze, record([deferred])[0]]
    assert store.ledger.feedback(snooze.key.token(), "snooze_7d", NOW) == 1
    assert store.ledger.feedback("no:such:key:here", "snooze_7d", NOW) == 0
    sent = Decision(candidate("acc_3"), Outcome.SEND, "sent to U_DANA", NOW)
    store.ledger.add([sent])
    token = sent.candidate.key.token()
    store.outbox.add([OutboxItem(token, "accounts", "went_hot", "acc_3", EffectKind.ALERT, {})], NOW)
    store.outbox.mark_sending([token], NOW)
    assert store.outbox.done(token, "1732370000.1", NOW + timedelta(seconds=2))
    stamped = store.db.query(store.db.sql("SELECT dedupe_key, sent_at FROM {alert_ledger} WHERE sent_at IS NOT NULL"))
    assert stamped == [(token, (NOW + timedelta(seconds=2)).replace(tzinfo=None))]


def test_ledger_decide_reads_decides_and_records_in_one_step(store: StateStore) -> None:
    policy = AlertPolicy(caps=Caps(per_day=1, per_week=5), overflow=OverflowPolicy.DROP, quiet_hours=None)
    first = store.ledger.decide(
        ["U_DANA"], NOW - timedelta(days=7), lambda ledger: decide([candidate("acc_1")], ledger, policy, NOW)
    )
    # The next decision for Dana (any replica) reads the first one's send.
    second = store.ledger.decide(
        ["U_DANA"], NOW - timedelta(days=7), lambda ledger: decide([candidate("acc_2")], ledger, policy, NOW)
    )
    assert [d.outcome for d in first + second] == [Outcome.SEND, Outcome.CAPPED_DAY]
    # A key decided before the window read is found by its key: deciding it again drops it.
    [repeat] = store.ledger.decide(
        ["U_DANA"],
        NOW + timedelta(days=1),
        lambda ledger: decide([candidate("acc_1")], ledger, policy, NOW),
        keys=[candidate("acc_1").key.token()],
    )
    assert repeat.outcome is Outcome.DROPPED
    assert len(store.ledger.since("U_DANA", NOW - timedelta(days=1))) == 3
    # A decide that fails records nothing.
    with pytest.raises(RuntimeError):
        store.ledger.decide(["U_DANA"], NOW, lambda ledger: _fail())
    assert len(store.ledger.since("U_DANA", NOW - timedelta(days=1))) == 3


def _fail() -> list[Decision]:
    raise RuntimeError("decide failed")


def test_ledger_decide_holds_the_reps_postgres_lock_while_deciding(open_store: Opener, state_url: str) -> None:
    if state_url.startswith("duckdb"):
        pytest.skip("a DuckDB state serves one process; the per-rep lock matters where replicas share PostgreSQL")
    one = open_store()
    seen: dict[str, bool] = {}

    with psycopg.connect(state_url, autocommit=True) as other:  # another replica's session

        def try_lock(rep: str) -> bool:
            got = bool(other.execute("SELECT pg_try_advisory_lock(%s)", (rep_lock_id(rep),)).fetchall()[0][0])
            if got:
                other.execute("SELECT pg_advisory_unlock(%s)", (rep_lock_id(rep),))
            return got

        def deciding(ledger: list[LedgerEntry]) -> list[Decision]:
            seen["dana"], seen["lee"] = try_lock("U_DANA"), try_lock("U_LEE")
            return [Decision(candidate("acc_1"), Outcome.SEND, "sent", NOW)]

        one.ledger.decide(["U_DANA"], NOW - timedelta(days=7), deciding)
        assert seen == {"dana": False, "lee": True}  # Dana's decisions wait for this one; Lee's do not
        assert try_lock("U_DANA")  # released at commit


def test_owner_cache_normalises_emails_and_expires(store: StateStore) -> None:
    store.owners.put(
        "hubspot", {" Dana.Kim@Example.com ": ("101", "Europe/Berlin"), "gone@example.com": (None, None)}, NOW
    )
    day = timedelta(days=1)
    found = store.owners.get(
        "hubspot", ["dana.kim@example.com", "GONE@example.com", "new@example.com"], day, NOW + timedelta(hours=23)
    )
    assert {email: (o.owner_id, o.tz) for email, o in found.items()} == {
        "dana.kim@example.com": ("101", "Europe/Berlin"),
        "gone@example.com": (None, None),
    }
    assert store.owners.get("salesforce", ["dana.kim@example.com"], day, NOW) == {}
    assert store.owners.get("hubspot", ["dana.kim@example.com"], day, NOW + timedelta(hours=25)) == {}
    store.owners.put("hubspot", {"DANA.KIM@example.com": ("202", None)}, NOW + timedelta(hours=25))
    refreshed = store.owners.get("hubspot", ["dana.kim@example.com"], day, NOW + timedelta(hours=26))
    assert (refreshed["dana.kim@example.com"].owner_id, refreshed["dana.kim@example.com"].resolved_at) == (
        "202",
        NOW + timedelta(hours=25),
    )


def test_a_press_is_recorded_with_its_actor_and_its_hold_is_the_reps(store: StateStore) -> None:
    assert 7 in store.schema_versions()
    sent = Decision(candidate("acc_9"), Outcome.SEND, "sent to U_DANA", NOW)
    store.ledger.add([sent])
    token = sent.candidate.key.token()
    hold = LedgerEntry(sent.candidate.key, "U_DANA", Outcome.SNOOZED, NOW, None, NOW + timedelta(days=7))
    assert store.ledger.feedback(token, "snooze_7d", NOW, "U_RAVI", hold) == 2  # the decision and the hold
    rows = [(r["rep"], r["outcome"], r["feedback"], r["feedback_by"]) for r in store.ledger.log_rows()]
    assert rows == [("U_DANA", "send", "snooze_7d", "U_RAVI"), ("U_DANA", "snoozed", "snooze_7d", "U_RAVI")]
    assert [e.rep for e in store.ledger.since(None, NOW - timedelta(days=1))] == ["U_DANA", "U_DANA"]
    assert store.ledger.feedback("no:such:key:here", "claim", NOW, "U_RAVI") == 0
