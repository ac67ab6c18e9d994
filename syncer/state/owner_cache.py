"""The owner cache: e-mail -> a vendor's owner id and time zone, so runs skip lookups they made recently."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from syncer.contract.clock import aware_utc, naive_utc
from syncer.state.sql import Database


@dataclass(frozen=True)
class CachedOwner:
    """A resolved owner: ``owner_id`` None means the vendor knows no such e-mail (cached too, to skip lookups)."""

    owner_id: str | None
    tz: str | None
    resolved_at: datetime


def normalise_email(email: str) -> str:
    return email.strip().lower()


class OwnerCache(ABC):
    """Owners by vendor and normalised e-mail (:func:`normalise_email`)."""

    @abstractmethod
    def get(self, vendor: str, emails: Sequence[str], max_age: timedelta, now: datetime) -> dict[str, CachedOwner]:
        """Entries resolved within ``max_age`` before ``now``, by normalised e-mail; stale or unknown: absent."""

    @abstractmethod
    def put(self, vendor: str, owners: Mapping[str, tuple[str | None, str | None]], now: datetime) -> None:
        """Remember ``{email: (owner id or None, time zone)}`` as resolved at ``now`` (replacing older entries)."""


class SqlOwnerCache(OwnerCache):
    """:class:`OwnerCache` in the ``owner_cache`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, vendor: str, emails: Sequence[str], max_age: timedelta, now: datetime) -> dict[str, CachedOwner]:
        fresh_from = naive_utc(now) - max_age
        found: dict[str, CachedOwner] = {}
        sql = self._db.sql(
            "SELECT email, owner_id, tz, resolved_at FROM {owner_cache} "
            "WHERE vendor = ? AND email = ? AND resolved_at >= ?"
        )
        for email in dict.fromkeys(normalise_email(e) for e in emails):
            for row in self._db.query(sql, (vendor, email, fresh_from)):
                found[str(row[0])] = CachedOwner(row[1], row[2], aware_utc(row[3]))
        return found

    def put(self, vendor: str, owners: Mapping[str, tuple[str | None, str | None]], now: datetime) -> None:
        rows = {normalise_email(email): value for email, value in owners.items()}
        stamp = naive_utc(now)
        with self._db.transaction() as query:
            for email, (owner_id, tz) in rows.items():
                query(self._db.sql("DELETE FROM {owner_cache} WHERE vendor = ? AND email = ?"), (vendor, email))
                query(
                    self._db.sql(
                        "INSERT INTO {owner_cache} (vendor, email, owner_id, tz, resolved_at) VALUES (?, ?, ?, ?, ?)"
                    ),
                    (vendor, email, owner_id, tz, stamp),
                )
