"""Owner routing: the owner column's e-mail to a chat member (with time zone) or a CRM owner id, cached.

Lookups go through the control store's owner cache first (keyed by connector name and normalised e-mail, so case
and surrounding spaces do not matter); what the cache lacks or holds stale is asked of the vendor in one call per
connector and remembered. An e-mail the vendor does not know is cached too, for a shorter time, so a run does not
ask again for every alert, while a rep added to the chat workspace today is found within the hour.

Cache keys name the kind of directory and the connector: ``chat:<connector>`` for an alert channel's members,
``crm:<connector>`` for a CRM's owners.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from syncer.contract.effects import AlertChannel, TaskDestination
from syncer.state.base import StateStore
from syncer.state.owner_cache import normalise_email

KNOWN_FOR = timedelta(hours=24)
UNKNOWN_FOR = timedelta(hours=1)
CHAT, CRM = "chat", "crm"  # owner-cache key prefixes (migration 8 renamed the chat members' from the vendor's name)


@dataclass(frozen=True)
class Owner:
    """A resolved recipient: ``id`` is the vendor's (chat member id, CRM owner id), or None with ``reason``."""

    email: str | None
    id: str | None
    time_zone: str | None = None
    reason: str = ""


class OwnerDirectory:
    """Resolves owners for one run; the vendor is asked lazily, once per connector and e-mail."""

    def __init__(self, store: StateStore, now: datetime) -> None:
        self._store, self._now = store, now

    def chat(
        self,
        connector: str,
        channel: Callable[[], AlertChannel],
        emails: Sequence[str | None],
    ) -> dict[str | None, Owner]:
        """The chat member of each e-mail (keyed as given) in the alert channel ``connector``'s workspace; raises the
        channel's delivery errors."""

        def ask(wanted: list[str]) -> dict[str, tuple[str | None, str | None]]:
            users = channel().lookup_users(wanted)
            return {email: (users[email].id, users[email].tz) if email in users else (None, None) for email in wanted}

        return self._resolve(f"{CHAT}:{connector}", emails, ask, f"the {connector} connector knows no user")

    def crm(
        self,
        connector: str,
        tasks: Callable[[], TaskDestination],
        emails: Sequence[str | None],
    ) -> dict[str | None, Owner]:
        """The CRM owner id of each e-mail (keyed as given); raises the destination's delivery errors."""

        def ask(wanted: list[str]) -> dict[str, tuple[str | None, str | None]]:
            ids = {normalise_email(email): owner for email, owner in tasks().owner_ids(wanted).items()}
            return {email: (ids.get(email), None) for email in wanted}

        return self._resolve(f"{CRM}:{connector}", emails, ask, f"{connector} has no active user")

    def _resolve(
        self,
        vendor: str,
        emails: Sequence[str | None],
        ask: Callable[[list[str]], dict[str, tuple[str | None, str | None]]],
        unknown: str,
    ) -> dict[str | None, Owner]:
        wanted = sorted({normalise_email(e) for e in emails if e and e.strip()})
        cached = self._store.owners.get(vendor, wanted, KNOWN_FOR, self._now)
        fresh = {
            email: (entry.owner_id, entry.tz)
            for email, entry in cached.items()
            if entry.owner_id is not None or entry.resolved_at >= self._now - UNKNOWN_FOR
        }
        missing = [email for email in wanted if email not in fresh]
        if missing:
            answered = ask(missing)
            self._store.owners.put(vendor, answered, self._now)
            fresh |= answered
        resolved: dict[str | None, Owner] = {}
        for email in emails:
            if not email or not email.strip():
                resolved[email] = Owner(email, None, None, "the owner column is empty")
                continue
            owner_id, tz = fresh.get(normalise_email(email), (None, None))
            reason = "" if owner_id else f"{unknown} {normalise_email(email)}"
            resolved[email] = Owner(email, owner_id, tz, reason)
        return resolved


class CrmOwnerLookup:
    """A destination's owners for planning (:class:`syncer.planning.planner.OwnerLookup`): e-mails to active CRM users
    through the cached directory; the task destination that asks the CRM is opened at most once, on first need, and
    closed by :meth:`close`."""

    def __init__(
        self, field: str, directory: OwnerDirectory, connector: str, open_tasks: Callable[[], TaskDestination]
    ) -> None:
        self._field, self._directory, self._connector, self._open = field, directory, connector, open_tasks
        self._tasks: TaskDestination | None = None

    @property
    def field(self) -> str:
        return self._field

    def _destination(self) -> TaskDestination:
        if self._tasks is None:
            self._tasks = self._open()
        return self._tasks

    def resolve(self, emails: Sequence[str]) -> Mapping[str, tuple[str | None, str]]:
        try:
            owners = self._directory.crm(self._connector, self._destination, list(emails))
        finally:
            self.close()
        return {email: (owner.id, owner.reason) for email, owner in owners.items() if email is not None}

    def close(self) -> None:
        if self._tasks is not None:
            self._tasks.close()
            self._tasks = None
