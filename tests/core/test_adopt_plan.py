"""Planning for a populated CRM: ``create_when`` skips creates, the adopt value travels with a create, and the owner
is a field like any other (resolved once per e-mail, never emptied by an unresolved owner, required if asked)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from syncer.commit import commit_all
from syncer.config.sync import SyncConfig
from syncer.contract.destination import Operation
from syncer.delivery.records import write_records
from syncer.planning.planner import PlanError, plan_sync
from syncer.state import StateStore
from syncer.warehouse.base import Warehouse
from tests.helpers import NOW, sync_config, write_table

COLUMNS = "id VARCHAR, tier VARCHAR, domain VARCHAR, owner_email VARCHAR"


class Directory:
    """A CRM's active users by e-mail, answering as a connector's owner lookup does; counts what it was asked."""

    field = "owner_id"

    def __init__(self, users: Mapping[str, str]) -> None:
        self.users = dict(users)
        self.asked: list[list[str]] = []

    def resolve(self, emails: Sequence[str]) -> Mapping[str, tuple[str | None, str]]:
        self.asked.append(sorted(emails))
        return {e: (self.users[e], "") if e in self.users else (None, f"no active user {e}") for e in emails}


def _sync(**destination: Any) -> SyncConfig:
    return sync_config(
        fields={"tier": "tier"},
        destination={
            "connector": "crm",
            "object": "companies",
            "mode": "upsert",
            "match": {"column": "id", "field": "external_id"},
            **destination,
        },
    )


def test_rows_failing_create_when_are_skipped_not_created_nor_rejected(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    sync = _sync(create_when="new.tier IN ('hot', 'warm')")
    write_table(
        warehouse_path,
        "accounts",
        COLUMNS,
        [("a", "hot", None, None), ("b", "cold", None, None), ("c", None, None, None)],
    )
    plan = plan_sync(sync, store, warehouse)
    assert (plan.counts.create, plan.counts.skipped, plan.counts.unchanged, plan.rejected_total) == (1, 2, 0, 0)
    assert [row["key"] for row in plan.rows("create")] == ["a"]
    assert plan.summary()["skipped_create_when"] == 2
    commit_all(store, sync.name, plan.changes, NOW)
    # Once synced, a row that falls out of create_when still updates its record.
    write_table(
        warehouse_path,
        "accounts",
        COLUMNS,
        [("a", "cold", None, None), ("b", "warm", None, None), ("c", None, None, None)],
    )
    again = plan_sync(sync, store, warehouse)
    assert (again.counts.create, again.counts.update, again.counts.skipped) == (1, 1, 1)
    assert {row["key"]: row["op"] for row in again.rows()} == {"a": "update", "b": "create"}


def test_a_create_carries_its_adopt_value_and_an_update_does_not(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    sync = _sync(adopt_by="domain")
    write_table(warehouse_path, "accounts", COLUMNS, [("a", "hot", " Acme.example ", None)])
    plan = plan_sync(sync, store, warehouse)
    [record] = write_records(Operation.CREATE, plan.changes.to_table("create"))
    assert (record.match, record.adopt) == ("a", "Acme.example")  # normalised as keys are: trimmed
    commit_all(store, sync.name, plan.changes, NOW)
    write_table(warehouse_path, "accounts", COLUMNS, [("a", "warm", "acme.example", None)])
    [update] = write_records(Operation.UPDATE, plan_sync(sync, store, warehouse).changes.to_table("update"))
    assert update.adopt is None


def test_the_owner_is_resolved_once_per_email_and_sent_like_a_field(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    sync = _sync(owner="owner_email")
    users = Directory({"dana@yourco.com": "u1", "marco@yourco.com": "u2"})
    write_table(
        warehouse_path,
        "accounts",
        COLUMNS,
        [
            ("a", "hot", None, " Dana@YourCo.com"),
            ("b", "hot", None, "dana@yourco.com"),
            ("c", "hot", None, "gone@yourco.com"),
            ("d", "hot", None, None),
        ],
    )
    plan = plan_sync(sync, store, warehouse, owners=users)
    assert users.asked == [["dana@yourco.com", "gone@yourco.com"]]
    rows = {row["key"]: row for row in plan.rows("create")}
    assert rows["a"]["values"]["owner_id"] == rows["b"]["values"]["owner_id"] == "u1"
    assert "owner_id" not in rows["c"]["changed"] and "owner_id" not in rows["d"]["changed"]
    owners = plan.meta["owners"]
    assert owners["unresolved"] == 2
    assert {item["reason"] for item in owners["reasons"]} == {
        "gone@yourco.com: no active user gone@yourco.com",
        "the owner column owner_email is empty",
    }
    commit_all(store, sync.name, plan.changes, NOW)
    # Dana leaves: her records keep their owner (an unresolved owner is never sent as empty); a reassignment is sent.
    users.users = {"marco@yourco.com": "u2"}
    write_table(
        warehouse_path,
        "accounts",
        COLUMNS,
        [
            ("a", "hot", None, "dana@yourco.com"),
            ("b", "hot", None, "marco@yourco.com"),
            ("c", "hot", None, "gone@yourco.com"),
            ("d", "hot", None, None),
        ],
    )
    again = plan_sync(sync, store, warehouse, owners=users)
    changes = {row["key"]: (row["op"], row["changed"]) for row in again.rows()}
    assert changes["b"] == ("update", ["owner_id"])
    assert changes.get("a", ("refresh", []))[1] == []  # nothing sent for a: no empty owner


def test_a_required_owner_rejects_the_row_with_the_reason(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    sync = _sync(owner={"column": "owner_email", "required": True})
    write_table(
        warehouse_path,
        "accounts",
        COLUMNS,
        [("a", "hot", None, "dana@yourco.com"), ("b", "hot", None, "gone@yourco.com")],
    )
    plan = plan_sync(sync, store, warehouse, owners=Directory({"dana@yourco.com": "u1"}))
    assert [row["key"] for row in plan.rows("create")] == ["a"]
    [rejected] = plan.rejected
    assert (rejected.key, rejected.reason) == ("b", "owner required: gone@yourco.com: no active user gone@yourco.com")


def test_an_owner_needs_the_destinations_owner_lookup(
    store: StateStore, warehouse: Warehouse, warehouse_path: Path
) -> None:
    write_table(warehouse_path, "accounts", COLUMNS, [("a", "hot", None, "dana@yourco.com")])
    with pytest.raises(PlanError, match="no owner lookup"):
        plan_sync(_sync(owner="owner_email"), store, warehouse)


@pytest.mark.parametrize(
    ("destination", "message"),
    [
        ({"mode": "update", "adopt_by": "domain"}, "mode 'update' never creates a record: 'adopt_by'"),
        ({"mode": "update", "create_when": "true"}, "mode 'update' never creates a record: 'create_when'"),
        ({"match": {"column": "id", "field": "id"}, "adopt_by": "domain"}, "needs a match field other than the record"),
    ],
)
def test_adoption_and_create_when_need_a_mode_that_creates(destination: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _sync(**destination)


def test_short_forms_expand() -> None:
    sync = _sync(adopt_by="domain", owner="owner_email")
    assert sync.destination is not None and sync.destination.adopt_by is not None
    assert (sync.destination.adopt_by.column, sync.destination.adopt_by.field) == ("domain", "domain")
    assert sync.destination.owner is not None and not sync.destination.owner.required
