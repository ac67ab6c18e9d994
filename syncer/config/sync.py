"""One sync, as RevOps write it in ``mappings/<name>.yaml``.

A sync reads a *model* (SQL or a table), keyed by one column, and maps its columns onto fields of one destination
object. Each field is exactly one of ``source`` (a column), ``template`` (a sandboxed Jinja template over the row) or
``value`` (a constant), with an optional type cast, rounding, value map and length limit.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from syncer.contract.enums import FieldType, OnRemove, OutOfRange, Overwrite, SyncMode

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSource(_Strict):
    """Exactly one of ``sql`` or ``table``."""

    sql: str | None = None
    table: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ModelSource:
        if (self.sql is None) == (self.table is None):
            raise ValueError("give exactly one of 'sql' or 'table'")
        if self.table is not None and not all(_IDENTIFIER.match(part) for part in self.table.split(".")):
            raise ValueError(f"'{self.table}' is not a table name (use 'sql' for a query)")
        return self

    @property
    def query(self) -> str:
        """The model as one query. One trailing ``;`` (as SQL editors write it) is dropped, and the query ends in a
        newline, so that neither it nor a closing ``-- comment`` breaks the subquery the warehouse wraps it in."""
        if self.sql is None:
            return f"SELECT * FROM {self.table}"
        return self.sql.rstrip().removesuffix(";").rstrip() + "\n"


class MatchRule(_Strict):
    """How a model row finds its destination record: the model ``column`` equals the destination ``field``.

    ``field: id`` matches on the destination's own record id (the model knows it, e.g. ``crm_account_id``).
    """

    column: str
    field: str


class AdoptRule(_Strict):
    """How a new key finds a record that exists without its match value, before one is created: the model
    ``column`` equals the destination ``field`` (a HubSpot company's ``domain``, a Salesforce Account's
    ``Website``). ``adopt_by: domain`` is short for ``{column: domain, field: domain}``.

    Exactly one such record that holds no other match value is adopted: the row is written to it, with the match
    value, so later runs match it directly. Several are an ambiguity: the row is rejected naming them.
    """

    column: str = Field(description="The model column holding the value (e.g. domain).")
    field: str = Field(
        description="The destination field an existing record holds it in (domain, Website): "
        "exactly one record with it and no match value is adopted; several are "
        "rejected as ambiguous, naming them."
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"column": data, "field": data} if isinstance(data, str) else data


class OwnerRule(_Strict):
    """The record owner from an e-mail column: resolved to an active CRM user (HubSpot owner, Salesforce User) and
    written to the connector's owner field (``hubspot_owner_id``, ``OwnerId``) like any other field.
    ``owner: owner_email`` is short for ``{column: owner_email}``.

    An e-mail that resolves to no active user leaves the field unset (never emptied) and is counted in the run's
    summary with its reason; with ``required: true`` the row is rejected instead.
    """

    column: str = Field(
        description="The model column with the owner's e-mail; the connector's owner field "
        "(hubspot_owner_id, OwnerId) gets the active user's id, or stays unset."
    )
    required: bool = Field(default=False, description="Reject a row whose owner resolves to no active user.")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"column": data} if isinstance(data, str) else data


class DestinationConfig(_Strict):
    """Where a sync writes: a connector named in ``syncer.yaml``, one of its objects, a mode and a match rule."""

    connector: str
    object: str
    mode: SyncMode = SyncMode.UPSERT
    match: MatchRule
    adopt_by: AdoptRule | None = Field(
        None,
        description="Before creating, look for an existing record by this field (e.g. domain, Website) and adopt it.",
    )
    create_when: str | None = Field(
        None,
        description="SQL over new (the model row): rows failing it may update "
        "a record but never create one (planned as skipped).",
    )
    owner: OwnerRule | None = Field(None, description="Set the record owner from an e-mail column (active users only).")

    @model_validator(mode="after")
    def _may_create(self) -> DestinationConfig:
        if self.mode is SyncMode.UPDATE and (self.adopt_by is not None or self.create_when is not None):
            which = "adopt_by" if self.adopt_by is not None else "create_when"
            raise ValueError(f"mode 'update' never creates a record: '{which}' applies to upsert and mirror")
        if self.adopt_by is not None and self.match.field.lower() in {"id", "hs_object_id"}:
            raise ValueError(
                "adopt_by writes the match value onto the adopted record: it needs a match field "
                "other than the record id"
            )
        return self


class FieldSpec(_Strict):
    """One destination field. Exactly one of ``source``, ``template`` or ``value``."""

    source: str | None = None
    template: str | None = None
    value: str | int | float | bool | None = None
    type: FieldType | None = Field(None, description="Cast to this type; inferred from the column when omitted.")
    round: int | None = Field(None, ge=0, le=12, description="Decimal places for numbers.")
    map: dict[str, str | int | float | bool | None] | None = Field(None, description="Value map, after the cast.")
    map_default: str | None = Field(None, description="Value for anything the map does not name (default: unchanged).")
    max_length: int | None = Field(None, gt=0)
    truncate: bool = Field(default=False, description="Cut values longer than max_length instead of rejecting the row.")
    strict: bool = Field(default=False, description="Reject a value the value map does not name (needs 'map').")
    min: float | None = Field(None, description="Smallest number allowed (number and integer fields).")
    max: float | None = Field(None, description="Largest number allowed (number and integer fields).")
    out_of_range: OutOfRange = Field(OutOfRange.REJECT, description="Beyond min/max: reject the row, or clamp.")
    required: bool = Field(
        default=False, description="Reject the row when this field is empty or blank; never cleared."
    )
    clear: bool = Field(default=True, description="Empty this field in the destination when its row leaves the model.")
    overwrite: Overwrite = Field(
        Overwrite.ALWAYS,
        description="always; if_empty: only while the CRM's value is "
        "empty; unless_changed_in_crm: keep a value a human changed since syncer wrote it.",
    )

    def known_values(self) -> frozenset[str]:
        """The values this field is known to produce, as the text sent: a static value, a value map's results and
        its default (a column's or template's other values are the data's). ``check`` compares them with an
        enumeration's or picklist's options."""
        produced: list[str | int | float | bool | None] = [self.value] if "value" in self.model_fields_set else []
        produced += list((self.map or {}).values()) + ([self.map_default] if self.map_default is not None else [])
        return frozenset(_as_text(v) for v in produced if v is not None and v != "")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        # ``pql_score: pql_score`` is short for ``pql_score: {source: pql_score}``.
        return {"source": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        given = [name for name in ("source", "template", "value") if name in self.model_fields_set]
        if len(given) != 1:
            raise ValueError("give exactly one of 'source', 'template' or 'value'")
        if self.round is not None and self.type not in (None, FieldType.NUMBER, FieldType.INTEGER):
            raise ValueError("'round' applies to number and integer fields only")
        bounded = self.min is not None or self.max is not None
        if bounded and self.type not in (None, FieldType.NUMBER, FieldType.INTEGER):
            raise ValueError("'min' and 'max' apply to number and integer fields only")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"'min' ({self.min:g}) is greater than 'max' ({self.max:g})")
        if self.strict and not self.map:
            raise ValueError("'strict' applies to a value map: give 'map'")
        if self.strict and self.map_default is not None:
            raise ValueError("a 'strict' map rejects unnamed values; 'map_default' contradicts it")
        return self


def _as_text(value: str | int | float | bool) -> str:  # noqa: FBT001 (a YAML value, which may be a boolean)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class GuardOverrides(_Strict):
    """A mapping's ``guards:``: any of :class:`Guards`' limits, overriding ``defaults.guards`` of ``syncer.yaml``."""

    max_clear_percent: float | None = Field(None, ge=0, le=100)
    max_update_percent: float | None = Field(None, ge=0, le=100)
    max_create_percent: float | None = Field(None, ge=0)
    max_tasks_per_run: int | None = Field(None, ge=0)
    min_records: int | None = Field(None, ge=0)
    allow_empty_model: bool | None = None
    max_reject_percent: float | None = Field(None, ge=0, le=100)


class Guards(_Strict):
    """Mass-change guardrails: a run that would change more than these is refused before anything is sent.

    Percentages are of the synced records (the snapshot's present keys). Below ``min_records`` synced records the
    percentages do not apply (a 3-record sync may change 2, and a first sync, with nothing synced yet, may create
    every record); an empty model over a non-empty snapshot always trips unless ``allow_empty_model``. ``100``
    switches the clear and update percentages off. ``max_tasks_per_run`` applies whatever the sync's size.
    """

    max_clear_percent: float = Field(10, ge=0, le=100, description="Most of the synced records one run may clear.")
    max_update_percent: float = Field(50, ge=0, le=100, description="Most of the synced records one run may update.")
    max_create_percent: float = Field(
        100,
        ge=0,
        description="Most records one run may create, as a percentage of "
        "the synced records (100: the sync may double).",
    )
    max_tasks_per_run: int = Field(
        500,
        ge=0,
        description="Most CRM tasks one run may create (firings of triggers with a task, after the first-run policy).",
    )
    min_records: int = Field(20, ge=0, description="Synced records below which the percentages do not apply.")
    allow_empty_model: bool = Field(default=False, description="Allow a run whose model returned no rows at all.")
    max_reject_percent: float = Field(
        50,
        ge=0,
        le=100,
        description="Most of a run's rows (the model's rows, "
        "rejected ones included, and its clears) that may be rejected or parked: past "
        "it the run is failed, after delivery. From min_records rows; a run that "
        "rejects or parks every row fails whatever its size.",
    )

    def overridden(self, overrides: GuardOverrides) -> Guards:
        """These limits with every limit ``overrides`` sets replaced."""
        return self.model_copy(update=overrides.model_dump(exclude_none=True))


class TaskSpec(_Strict):
    """A CRM task for the account owner, created in the sync's destination CRM on the record the sync writes."""

    subject: str = Field(description="Jinja template over the model row (plain text).")
    body: str = Field("", description="Jinja template over the model row (plain text).")
    due_in_days: int = Field(2, ge=0)
    priority: str = Field(
        "Normal", description="The CRM's own word: HubSpot HIGH|MEDIUM|LOW, Salesforce High|Normal|Low."
    )
    fallback_owner: str | None = Field(
        None,
        description="E-mail of the user who gets the task when the row's owner "
        "resolves to no active user (default: tasks.fallback_owner "
        "of syncer.yaml); without one such a task is held, never "
        "created unassigned.",
    )


class AlertSpec(_Strict):
    """A chat alert to the account owner (a direct message), or to ``channel``."""

    connector: str = Field(description="A connector of syncer.yaml that posts alerts.")
    template: str = Field(description="Jinja template of the message (the channel's markup); data values are escaped.")
    priority: int = Field(2, ge=1, le=5, description="1 is the most urgent.")
    channel: str | None = Field(None, description="Post here instead of a DM to the account owner.")
    title: str = Field("{{ account_name }}", description="Jinja template of the header (the account's name).")
    signals_column: str | None = Field(
        None, description="A JSON column of the signals behind the score, shown as a list (e.g. signals)."
    )
    record_url: str | None = Field(
        None,
        description="Jinja template of the CRM record's URL (the button); it may "
        "use record_id, the destination's id of the record.",
    )


class Trigger(_Strict):
    """A condition on a change and what it causes (a CRM task, a chat alert), executed by the effects engine.

    ``when`` is a SQL condition over ``new`` (every model column and every mapped field, after this change) and
    ``old`` (the mapped fields as the destination last confirmed them, as text; all null for a new key).
    """

    name: str
    when: str
    owner_column: str = "owner_email"
    task: TaskSpec | None = None
    alert: AlertSpec | None = None

    @model_validator(mode="after")
    def _does_something(self) -> Trigger:
        if self.task is None and self.alert is None:
            raise ValueError("a trigger needs a 'task', an 'alert' or both")
        return self


class SyncConfig(_Strict):
    """The whole of one ``mappings/*.yaml`` file.

    Without ``destination`` the sync is a *watch*: nothing is written, its fields are tracked in the snapshot so
    that its triggers can compare new values with old, and its effects (alerts) are all it does.
    """

    name: str
    description: str = ""
    model: ModelSource
    key: str
    destination: DestinationConfig | None = Field(None, description="Where fields are written; omit for a watch.")
    fields: dict[str, FieldSpec] = Field(min_length=1)
    on_remove: OnRemove | None = Field(None, description="Default: clear for mirror, ignore otherwise.")
    triggers: list[Trigger] = Field(default_factory=list)
    schedule: str | None = Field(None, description="'every 15m' or a cron expression.")
    guards: GuardOverrides = Field(
        default_factory=GuardOverrides, description="Mass-change limits for this sync (default: defaults.guards)."
    )
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, name: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise ValueError("use lower-case letters, digits and underscores, starting with a letter")
        return name

    @model_validator(mode="after")
    def _mirror_clears(self) -> SyncConfig:
        if self.mode is SyncMode.MIRROR and self.on_remove is OnRemove.IGNORE:
            raise ValueError("mode 'mirror' clears fields of removed rows; 'on_remove: ignore' contradicts it")
        if self.destination is None and any(t.task is not None for t in self.triggers):
            raise ValueError("a task is created on the record a sync writes: a watch (no 'destination') can only alert")
        return self

    @property
    def is_watch(self) -> bool:
        """No destination: the sync only tracks its fields for its triggers."""
        return self.destination is None

    @property
    def mode(self) -> SyncMode:
        return SyncMode.UPSERT if self.destination is None else self.destination.mode

    @property
    def match(self) -> MatchRule:
        """How a row finds its record; a watch matches on its own key."""
        return MatchRule(column=self.key, field=self.key) if self.destination is None else self.destination.match

    @property
    def removal(self) -> OnRemove:
        if self.on_remove is not None:
            return self.on_remove
        return OnRemove.CLEAR if self.mode is SyncMode.MIRROR else OnRemove.IGNORE
