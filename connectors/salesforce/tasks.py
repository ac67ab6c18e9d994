"""Salesforce Tasks for the account owner, created at most once per dedupe key (:class:`TaskDestination`).

Where the dedupe key lives: a custom Activity field ``Syncer_Dedupe_Key__c`` (Text 255, External ID, Unique, case
sensitive), which an admin creates once (:meth:`SalesforceTaskDestination.setup` says so; syncer cannot deploy
metadata). Rather than a marker line in ``Description``, because:

- ``Description`` is a long text area, which SOQL cannot filter on; a marker in ``Subject`` would show in every
  rep's task list and be lost when a rep renames the task.
- An External ID field is indexed, so ``WHERE Syncer_Dedupe_Key__c IN (...)`` stays fast on an org with millions of
  activities, and a Unique one makes Salesforce refuse a second task with the same key (``DUPLICATE_VALUE``), so
  two senders racing cannot make two tasks.

:meth:`create_tasks` queries the keys first and inserts only the tasks not found, with sObject Collections
(``POST /composite/sobjects``, 200 a call, ``allOrNone: false``). A record refused with ``DUPLICATE_VALUE`` (created
by another sender in between) is queried again and answered as already existing. Other record errors (an unknown
Account, an inactive or unknown owner) are that task's rejection with Salesforce's code and message; whole-request
failures are raised through :mod:`connectors.salesforce.errors`. Nothing here waits or retries: every call goes
through the pacer the engine sets (:meth:`SalesforceTaskDestination.set_pacer`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceResourceNotFound
from simple_salesforce.format import format_soql

from connectors.salesforce.auth import DEFAULT_TIMEOUT_S
from connectors.salesforce.capabilities import COLLECTION_MAX, EFFECT_LIMITS
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.describe import picklist_checks
from connectors.salesforce.errors import record_result
from connectors.salesforce.settings import SalesforceSettings
from syncer.contract.destination import EffectLimits, FieldCheck, RecordStatus
from syncer.contract.effects import EffectResult, Paced, TaskRequest, create_once
from syncer.contract.errors import BatchRejectedError, DestinationStoppedError, TransientError

T = TypeVar("T")

KEY_FIELD = "Syncer_Dedupe_Key__c"
# A query travels in the URL, which Salesforce limits to 16,384 characters: values per query are capped by count
# and by their total length.
QUERY_VALUES_MAX = COLLECTION_MAX
QUERY_CHARS_MAX = 8_000
NOT_STARTED = "Not Started"
SETUP_STEP = (
    f"Create the Activity custom field {KEY_FIELD} (Text 255, External ID, Unique, case sensitive) "
    "and give the integration user edit access: syncer stores each task's dedupe key there so a task is "
    "never created twice"
)


def open_task_destination(settings: SalesforceSettings) -> SalesforceTaskDestination:
    """Log in and return the task destination; raises DestinationStoppedError for bad credentials."""
    return SalesforceTaskDestination(settings)


class SalesforceTaskDestination:
    """Tasks in one Salesforce org. Not thread-safe (nor is :class:`SalesforceClient`)."""

    def __init__(self, settings: SalesforceSettings, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.client = SalesforceClient(settings, timeout_s)
        self._pace: Paced | None = None

    # -- pacing -----------------------------------------------------------------------------------------------
    @property
    def limits(self) -> EffectLimits:
        """One limiter for the org's calls, 200 tasks a call (:data:`connectors.salesforce.capabilities
        .EFFECT_LIMITS`)."""
        return EFFECT_LIMITS

    def set_pacer(self, pace: Paced) -> None:
        self._pace = pace

    # -- owners -----------------------------------------------------------------------------------------------
    def owner_ids(self, emails: Sequence[str]) -> Mapping[str, str]:
        """Active Users by e-mail (SOQL compares text case-insensitively); when several active Users share an
        e-mail, the one with the lowest Id wins, the same on every run."""
        wanted = sorted({email.strip().lower() for email in emails if email.strip()})
        users: dict[str, str] = {}
        for chunk in _chunks(wanted):
            soql = format_soql("SELECT Id, Email FROM User WHERE IsActive = true AND Email IN {} ORDER BY Id", chunk)
            for row in self._query("look up Users by e-mail", soql):
                users.setdefault(str(row.get("Email") or "").strip().lower(), str(row["Id"]))
        known = {email: users.get(email.strip().lower()) for email in emails}
        return {email: user for email, user in known.items() if user is not None}

    # -- finding ----------------------------------------------------------------------------------------------
    def find_tasks(self, dedupe_keys: Sequence[str]) -> Mapping[str, str]:
        """Tasks (not deleted) holding these keys, by SOQL on the key field."""
        keys = sorted({k for k in dedupe_keys if k})
        found: dict[str, str] = {}
        wanted = set(keys)
        for chunk in _chunks(keys):
            soql = format_soql(f"SELECT Id, {KEY_FIELD} FROM Task WHERE {KEY_FIELD} IN {{}}", chunk)
            try:
                rows = self._query("find Tasks by dedupe key", soql)
            except BatchRejectedError as exc:
                if exc.code == "INVALID_FIELD":
                    raise DestinationStoppedError(
                        f"Salesforce Tasks lack {KEY_FIELD}: {SETUP_STEP}", "INVALID_FIELD"
                    ) from None
                raise
            for row in rows:
                # SOQL compares text case-insensitively; the field is unique case-sensitively, so keep exact matches.
                stored = str(row.get(KEY_FIELD) or "")
                if stored in wanted:
                    found[stored] = str(row["Id"])
        return found

    # -- creating ---------------------------------------------------------------------------------------------
    def create_tasks(self, tasks: Sequence[TaskRequest]) -> list[EffectResult]:
        """One result per task in input order (:func:`syncer.contract.effects.create_once`)."""
        return create_once(tasks, self.find_tasks, self._insert, COLLECTION_MAX)

    def _insert(self, tasks: list[TaskRequest]) -> dict[str, EffectResult]:
        """One Collections insert of at most 200 Tasks."""
        body = {"allOrNone": False, "records": [_record(t) for t in tasks]}
        reply = self._paced("insert", lambda: self.client.rest("insert Task", "POST", "composite/sobjects", body))
        if not isinstance(reply, list) or len(reply) != len(tasks) or not all(isinstance(r, dict) for r in reply):
            raise TransientError("insert Task: Salesforce's reply did not hold one result per record", "BAD_REPLY")
        results: dict[str, EffectResult] = {}
        raced: list[TaskRequest] = []
        for task, item in zip(tasks, reply, strict=True):
            errors = item.get("errors") or []
            if item.get("success"):
                results[task.dedupe_key] = EffectResult(RecordStatus.CONFIRMED, str(item.get("id")))
            elif any(e.get("statusCode") == "DUPLICATE_VALUE" and KEY_FIELD in str(e.get("message")) for e in errors):
                raced.append(task)
            else:
                refused = record_result(errors)
                results[task.dedupe_key] = EffectResult(refused.status, code=refused.code, message=refused.message)
        if raced:
            # Another sender made these since find_tasks: theirs are the tasks.
            found = self.find_tasks([t.dedupe_key for t in raced])
            for task in raced:
                task_id = found.get(task.dedupe_key)
                results[task.dedupe_key] = (
                    EffectResult(RecordStatus.CONFIRMED, task_id, already_existed=True)
                    if task_id
                    else EffectResult(
                        RecordStatus.RETRYABLE,
                        code="DUPLICATE_VALUE",
                        message=f"a Task with this {KEY_FIELD} exists but was not found",
                    )
                )
        return results

    # -- setup, close -----------------------------------------------------------------------------------------
    def check(self, priorities: Collection[str]) -> list[FieldCheck]:
        """The task priorities a mapping uses, and the status syncer sets, against Task's picklists (case included:
        ``HIGH`` is not ``High``). The key field is :meth:`setup`'s."""
        described = self._describe()
        if described is None:
            return [FieldCheck("task", "this org has no Task object: enable Activities")]
        fields = {str(f.get("name")): f for f in described.get("fields") or []}
        findings = []
        for name, values in (("Priority", frozenset(priorities)), ("Status", frozenset({NOT_STARTED}))):
            spec = fields.get(name)
            if spec is not None:
                findings += [
                    FieldCheck(f"task {name.lower()}", f.problem)
                    for f in picklist_checks(spec, f"Task.{name}", name, values)
                ]
        return findings

    def _describe(self) -> dict[str, Any] | None:
        def describe(sf: Salesforce) -> dict[str, Any] | None:
            try:
                found = sf.restful("sobjects/Task/describe")
                return found if isinstance(found, dict) else None
            except SalesforceResourceNotFound:
                return None

        return self._paced("describe", lambda: self.client.call("describe Task", describe))

    def setup(self) -> list[str]:
        """What an admin must create for tasks: the key field, when Task lacks it."""
        described = self._describe()
        if described is None:
            return ["Enable Activities (Tasks) in this org"]
        fields = {str(f.get("name")): f for f in described.get("fields") or []}
        key_field = fields.get(KEY_FIELD)
        if key_field is None or not all(key_field.get(f) for f in ("externalId", "unique", "caseSensitive")):
            return [SETUP_STEP]
        return []

    def close(self) -> None:
        self.client.close()

    def _query(self, doing: str, soql: str) -> list[dict[str, Any]]:
        return self._paced("query", lambda: self.client.call(doing, lambda sf: list(sf.query_all(soql)["records"])))

    def _paced(self, name: str, request: Callable[[], T]) -> T:
        """One vendor call, named for the pacer (:data:`connectors.salesforce.capabilities.TASK_CALLS`)."""
        return request() if self._pace is None else self._pace(name, "", request)


def _record(task: TaskRequest) -> dict[str, Any]:
    """One Task of a Collections insert; no OwnerId means Salesforce assigns the integration user."""
    record: dict[str, Any] = {
        "attributes": {"type": "Task"},
        "WhatId": task.record_id,
        "Subject": task.subject,
        "Description": task.body,
        "ActivityDate": task.due.isoformat(),
        "Priority": task.priority,
        "Status": NOT_STARTED,
        KEY_FIELD: task.dedupe_key,
    }
    if task.owner_id:
        record["OwnerId"] = task.owner_id
    return record


def _chunks(values: list[str]) -> Iterator[list[str]]:
    """``values`` in groups that fit one query's URL."""
    chunk: list[str] = []
    size = 0
    for value in values:
        if chunk and (len(chunk) >= QUERY_VALUES_MAX or size + len(value) + 3 > QUERY_CHARS_MAX):
            yield chunk
            chunk, size = [], 0
        chunk.append(value)
        size += len(value) + 3  # quotes and a comma
    if chunk:
        yield chunk
