"""The enums config, planning and connectors share: how a sync writes and what a field holds.

They live on the contract floor because a connector reads them (a destination is opened for a mode and checks its
fields' types) and the configuration validates them; both may import this module, and it imports nothing of syncer.
"""

from __future__ import annotations

from enum import StrEnum


class SyncMode(StrEnum):
    """How rows reach the destination: existing records only, create-or-update, or mirror (upsert, clear on removal)."""

    UPDATE = "update"
    UPSERT = "upsert"
    MIRROR = "mirror"


class OnRemove(StrEnum):
    """What to do when a key leaves the model. syncer never deletes CRM records."""

    CLEAR = "clear"
    IGNORE = "ignore"


class OutOfRange(StrEnum):
    """What a number outside a field's ``min``/``max`` does: reject the row (with the value and the bound) or clamp."""

    REJECT = "reject"
    CLAMP = "clamp"


class Overwrite(StrEnum):
    """When syncer may write a field over what the CRM holds: always; only while the CRM's value is empty; or unless
    a human changed it since syncer last confirmed it (the snapshot's value), which is then kept and reported."""

    ALWAYS = "always"
    IF_EMPTY = "if_empty"
    UNLESS_CHANGED_IN_CRM = "unless_changed_in_crm"


class FieldType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    DATE = "date"
    JSON = "json"
