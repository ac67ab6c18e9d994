"""HubSpot tasks for the account owner, created at most once per dedupe key (:class:`TaskDestination`).

Where the dedupe key lives: a custom task property ``syncer_dedupe_key`` (plain text), created by
:meth:`HubSpotTaskDestination.setup`. HubSpot documents unique-value properties for companies, contacts, deals,
tickets and custom objects, not for tasks, so the key cannot be unique and HubSpot will not refuse a second task
with the same key: syncer must find the task itself before creating one.

How a task is found: through its company. :meth:`create_tasks` reads the tasks associated with the tasks' companies
(associations v4 ``batch/read``, 100 companies a call), then those tasks' key property (``batch/read`` by id, 100 a
call), and creates only the tasks whose key none of them holds. Both reads see every write at once. Search is not
used for this: it reads an index that lags writes by seconds, so a search right after a create whose reply was lost
would miss the task and create it again; search also has its own 5 requests/s limit.
:meth:`find_tasks` without the companies falls back to reading by the key (``idProperty``, on a portal that made it
unique) or to a search with an ``IN`` filter on it, exposed to that lag.

A 409 on create (a portal whose key property is unique, and another sender created one in between) reads again and
creates the rest. Tasks are created with ``batch/create`` (100 per call), each associated with its company (type 192,
task to company) and assigned to its owner.

A whole batch that HubSpot refuses with a 400 is usually one task whose company does not exist (HubSpot checks
associations before it creates anything): the companies are read, the tasks of missing ones are rejected with
HubSpot's own not-found reason and the rest are sent again. Other whole-request failures are raised through
:mod:`connectors.hubspot.errors`. Nothing here waits or retries: every call goes through the pacer the engine sets
(:meth:`HubSpotTaskDestination.set_pacer`), named as :data:`connectors.hubspot.capabilities.TASK_CALLS` declares.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, time
from typing import Any

from connectors.hubspot.capabilities import BATCH_MAX, effect_limits
from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.errors import Reply, classify, vendor_reason
from connectors.hubspot.properties import option_checks
from connectors.hubspot.settings import HubSpotSettings
from syncer.contract.destination import EffectLimits, FieldCheck, RecordStatus
from syncer.contract.effects import EffectResult, Paced, TaskRequest, create_once
from syncer.contract.errors import DestinationStoppedError

KEY_PROPERTY = "syncer_dedupe_key"
STATUS = "NOT_STARTED"  # every task is created open
TASK_TO_COMPANY = 192  # HUBSPOT_DEFINED association type, task -> company
OWNERS_PAGE = 500  # the owners API's largest page
SEARCH_PAGE = 200  # search's largest page
# Due dates are sent as noon UTC: the same calendar day for a rep anywhere from UTC-11 to UTC+11.
DUE_TIME = time(12, 0, tzinfo=UTC)
KEY_DEFINITION = {
    "name": KEY_PROPERTY,
    "label": "syncer dedupe key",
    "type": "string",
    "fieldType": "text",
    "groupName": "task",
    "description": "Set by syncer: identifies the trigger firing that created this task, so it is never created twice.",
}


def open_task_destination(settings: HubSpotSettings) -> HubSpotTaskDestination:
    """The registry's factory for HubSpot tasks."""
    return HubSpotTaskDestination(settings)


class _TaskClient(HubSpotClient):
    """The task calls, plus the owners and companies reads they need, on the connector's one SDK instance."""

    def __init__(self, settings: HubSpotSettings) -> None:
        super().__init__(settings, "tasks")
        self._owners = self.sdk.crm.owners.owners_api
        self._companies = self.sdk.crm.companies.batch_api
        self._associations = self.sdk.crm.associations.v4.batch_api

    def read(self, body: dict[str, Any]) -> Reply:
        """``POST /crm/v3/objects/tasks/batch/read``; a 400 (the key property missing) is returned, not raised."""
        return self._send(self._batch.read, body, keep=frozenset({400}))

    def create(self, inputs: list[dict[str, Any]]) -> Reply:
        """``batch/create``; a 400 or 409 for the whole batch is returned, not raised."""
        return self._send(self._batch.create, {"inputs": inputs}, keep=frozenset({400, 409}))

    def associated_tasks(self, company_ids: list[str]) -> Reply:
        """``POST /crm/v4/associations/companies/tasks/batch/read``: the task ids of each company (a company with
        none comes back in the 207's errors)."""
        body = {"inputs": [{"id": i} for i in company_ids]}
        return self._send(lambda **options: self._associations.get_page("companies", "tasks", body, **options))

    def read_companies(self, ids: list[str]) -> Reply:
        body = {"inputs": [{"id": i} for i in ids], "properties": ["hs_object_id"], "propertiesWithHistory": []}
        return self._send(self._companies.read, body)

    def owners_page(self, after: str | None) -> Reply:
        paging: dict[str, Any] = {"limit": OWNERS_PAGE, **({"after": after} if after else {})}
        return self._send(lambda **sdk_options: self._owners.get_page(**paging, **sdk_options))

    def close(self) -> None:
        for api in (self._owners, self._companies, self._associations):
            api.api_client.rest_client.pool_manager.clear()
            api.api_client.close()
        super().close()


class HubSpotTaskDestination:
    """Tasks in one HubSpot portal. Not thread-safe (the owners cache is filled on first use)."""

    def __init__(self, settings: HubSpotSettings, client: HubSpotClient | None = None) -> None:
        self._client = client if isinstance(client, _TaskClient) else _TaskClient(settings)
        self._owners: dict[str, str] | None = None
        self._unique_key = True  # until HubSpot says the key property is not an idProperty
        self._limits = effect_limits(settings)
        self._pace: Paced | None = None
        self.calls = 0  # HTTP requests made, for the caller's accounting and the tests

    # -- pacing -----------------------------------------------------------------------------------------------
    @property
    def limits(self) -> EffectLimits:
        """The portal's window for task calls, search's own, 100 tasks a call
        (:func:`connectors.hubspot.capabilities.effect_limits`)."""
        return self._limits

    def set_pacer(self, pace: Paced) -> None:
        self._pace = pace

    # -- owners -----------------------------------------------------------------------------------------------
    def owner_ids(self, emails: Sequence[str]) -> Mapping[str, str]:
        """Every owner is read once per instance (one call per 500 owners, not one per e-mail)."""
        if self._owners is None:
            owners: dict[str, str] = {}
            after: str | None = None
            while True:
                reply = self._call("owners.page", self._client.owners_page, after)
                for owner in reply.body.get("results") or []:
                    if owner.get("email") and owner.get("id"):
                        owners.setdefault(str(owner["email"]).strip().lower(), str(owner["id"]))
                after = ((reply.body.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
            self._owners = owners
        known = {email: self._owners.get(email.strip().lower()) for email in emails}
        return {email: owner for email, owner in known.items() if owner is not None}

    # -- finding ----------------------------------------------------------------------------------------------
    def find_tasks(self, dedupe_keys: Sequence[str], companies: Mapping[str, str] | None = None) -> Mapping[str, str]:
        """Live tasks holding these keys. With ``companies`` (each key's company id): the companies' associated
        tasks are read, which sees every write at once (see the module). Without: read by the key property where
        the portal made it unique (100 keys a call), else searched for (100 keys a search, 200 results a page)."""
        keys = list(dict.fromkeys(k for k in dedupe_keys if k))
        if companies is not None and all(k in companies for k in keys):
            return self._find_through_companies(keys, companies)
        found: dict[str, str] = {}
        for start in range(0, len(keys), BATCH_MAX):
            chunk = keys[start : start + BATCH_MAX]
            tasks = self._read_keys(chunk) if self._unique_key else None
            for task in tasks if tasks is not None else self._search_keys(chunk):
                key = (task.get("properties") or {}).get(KEY_PROPERTY)
                if key in chunk and task.get("id"):
                    found.setdefault(str(key), str(task["id"]))
        return found

    def _find_through_companies(self, keys: list[str], companies: Mapping[str, str]) -> dict[str, str]:
        """The tasks associated with the keys' companies whose key property holds one of ``keys``."""
        wanted = set(keys)
        company_ids = list(dict.fromkeys(companies[k] for k in keys))
        task_ids: list[str] = []
        for start in range(0, len(company_ids), BATCH_MAX):
            chunk = company_ids[start : start + BATCH_MAX]
            reply = self._call("associations.read", self._client.associated_tasks, chunk)
            for result in reply.body.get("results") or []:
                task_ids += [str(to["toObjectId"]) for to in result.get("to") or [] if to.get("toObjectId")]
        found: dict[str, str] = {}
        task_ids = list(dict.fromkeys(task_ids))
        for start in range(0, len(task_ids), BATCH_MAX):
            inputs = [{"id": i} for i in task_ids[start : start + BATCH_MAX]]
            body = {"inputs": inputs, "properties": [KEY_PROPERTY], "propertiesWithHistory": []}
            reply = self._call("tasks.read", self._client.read, body)
            if reply.status == 400:
                raise classify(reply)
            for task in reply.body.get("results") or []:
                key = (task.get("properties") or {}).get(KEY_PROPERTY)
                if key in wanted and task.get("id"):
                    found.setdefault(str(key), str(task["id"]))
        return found

    def _read_keys(self, keys: list[str]) -> list[dict[str, Any]] | None:
        """The tasks with these keys by ``batch/read``; None when the property is not unique (search instead)."""
        body = {
            "inputs": [{"id": k} for k in keys],
            "idProperty": KEY_PROPERTY,
            "properties": [KEY_PROPERTY],
            "propertiesWithHistory": [],
        }
        reply = self._call("tasks.read", self._client.read, body)
        if reply.status == 400:
            if vendor_reason(reply.body)[0] == "PROPERTY_DOESNT_EXIST":
                raise DestinationStoppedError(
                    f"{reply.describe()} HubSpot tasks need the {KEY_PROPERTY} property; run `syncer setup`.",
                    "PROPERTY_DOESNT_EXIST",
                )
            self._unique_key = False  # not an idProperty: remembered for this instance
            return None
        return list(reply.body.get("results") or [])

    def _search_keys(self, keys: list[str]) -> list[dict[str, Any]]:
        """The tasks with these keys by search: it reads an index that lags writes by seconds (see the module)."""
        tasks: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            body: dict[str, Any] = {
                "filterGroups": [{"filters": [{"propertyName": KEY_PROPERTY, "operator": "IN", "values": keys}]}],
                "properties": [KEY_PROPERTY],
                "limit": SEARCH_PAGE,
                **({"after": after} if after else {}),
            }
            reply = self._call("tasks.search", self._client.search, body)
            tasks.extend(reply.body.get("results") or [])
            after = ((reply.body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return tasks

    # -- creating ---------------------------------------------------------------------------------------------
    def create_tasks(self, tasks: Sequence[TaskRequest]) -> list[EffectResult]:
        """One result per task in input order (:func:`syncer.contract.effects.create_once`)."""
        companies = {t.dedupe_key: t.record_id for t in tasks}
        return create_once(
            tasks,
            lambda keys: self.find_tasks(keys, companies),
            lambda batch: self._create(batch, retry_conflict=True),
            BATCH_MAX,
        )

    def _create(self, tasks: list[TaskRequest], *, retry_conflict: bool) -> dict[str, EffectResult]:
        """One ``batch/create`` of at most 100 tasks (plus what isolating a refusal takes)."""
        reply = self._call("tasks.create", self._client.create, [_input(i, t) for i, t in enumerate(tasks)])
        if reply.status == 409 and retry_conflict:
            # Another sender created some of these since find_tasks: take theirs, create the rest.
            found = self.find_tasks([t.dedupe_key for t in tasks], {t.dedupe_key: t.record_id for t in tasks})
            results = {k: EffectResult(RecordStatus.CONFIRMED, v, already_existed=True) for k, v in found.items()}
            rest = [t for t in tasks if t.dedupe_key not in found]
            return results | (self._create(rest, retry_conflict=False) if rest else {})
        if reply.status == 400:
            return self._isolate(tasks, reply)
        if reply.status == 409:
            raise classify(reply)
        results = {}
        for task in reply.body.get("results") or []:
            key = (task.get("properties") or {}).get(KEY_PROPERTY)
            if key:
                results[str(key)] = EffectResult(RecordStatus.CONFIRMED, str(task.get("id")))
        for error in reply.body.get("errors") or []:
            code, message = vendor_reason(error)
            for trace in (error.get("context") or {}).get("objectWriteTraceId") or []:
                if str(trace).isdigit() and int(trace) < len(tasks):
                    results[tasks[int(trace)].dedupe_key] = EffectResult(
                        RecordStatus.REJECTED, code=code, message=message
                    )
        return results

    def _isolate(self, tasks: list[TaskRequest], reply: Reply) -> dict[str, EffectResult]:
        """A whole-batch 400: reject a lone task with HubSpot's reason; else reject the tasks whose company does
        not exist and send the others again. Raises BatchRejectedError when that does not explain the refusal."""
        if len(tasks) == 1:
            code, message = vendor_reason(reply.body)
            return {tasks[0].dedupe_key: EffectResult(RecordStatus.REJECTED, code=code, message=message)}
        ids = list(dict.fromkeys(t.record_id for t in tasks))
        read = self._call("companies.read", self._client.read_companies, ids)
        present = {str(c.get("id")) for c in read.body.get("results") or []}
        missing = [t for t in tasks if t.record_id not in present]
        if not missing:
            raise classify(reply)
        code, message = "OBJECT_NOT_FOUND", reply.message
        for error in read.body.get("errors") or []:
            code, message = vendor_reason(error)
        results = {
            t.dedupe_key: EffectResult(RecordStatus.REJECTED, code=code, message=f"company {t.record_id}: {message}")
            for t in missing
        }
        rest = [t for t in tasks if t.record_id in present]
        return results | (self._create(rest, retry_conflict=True) if rest else {})

    # -- check, setup, close -----------------------------------------------------------------------------------------
    def check(self, priorities: Collection[str]) -> list[FieldCheck]:
        """The task priorities a mapping uses, and the status syncer sets, against the task properties' options
        (case included: ``High`` is not ``HIGH``). The key property is :meth:`setup`'s."""
        reply = self._call("tasks.properties", self._client.properties)
        options = {
            str(p.get("name")): tuple(str(o.get("value")) for o in p.get("options") or [])
            for p in reply.body.get("results") or []
        }
        findings: list[FieldCheck] = []
        for name, values in (("hs_task_priority", frozenset(priorities)), ("hs_task_status", frozenset({STATUS}))):
            if options.get(name):
                label = "task priority" if name == "hs_task_priority" else "task status"
                findings += [
                    FieldCheck(label, f.problem) for f in option_checks(f"tasks.{name}", name, values, options[name])
                ]
        return findings

    def setup(self) -> list[str]:
        """Create the ``syncer_dedupe_key`` task property when the portal lacks it (plain text: HubSpot offers no
        unique task properties); say what was done."""
        reply = self._call("tasks.properties", self._client.properties)
        names = {str(p.get("name")) for p in reply.body.get("results") or []}
        if KEY_PROPERTY in names:
            return []
        self._call("tasks.create_property", self._client.create_property, KEY_DEFINITION)
        return [
            f"created task property {KEY_PROPERTY} (string/text): tasks are found through their company's "
            "associations, which see every write at once"
        ]

    def close(self) -> None:
        self._client.close()

    def _call(self, name: str, method: Any, *args: Any) -> Reply:
        """One vendor call, named for the pacer (:data:`connectors.hubspot.capabilities.TASK_CALLS`)."""
        self.calls += 1
        if self._pace is None:
            reply: Reply = method(*args)
            return reply
        paced: Reply = self._pace(name, "", lambda: method(*args))
        return paced


def _input(index: int, task: TaskRequest) -> dict[str, Any]:
    """One ``batch/create`` input: the task's properties and its association to the company."""
    properties = {
        "hs_timestamp": datetime.combine(task.due, DUE_TIME).isoformat().replace("+00:00", "Z"),
        "hs_task_subject": task.subject,
        "hs_task_body": task.body,
        "hs_task_status": STATUS,
        "hs_task_priority": task.priority,
        KEY_PROPERTY: task.dedupe_key,
    }
    if task.owner_id:
        properties["hubspot_owner_id"] = task.owner_id
    association = {
        "to": {"id": task.record_id},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": TASK_TO_COMPANY}],
    }
    # The trace id brings a per-input validation error (a bad owner) back to its task in a 207.
    return {"properties": properties, "associations": [association], "objectWriteTraceId": str(index)}
