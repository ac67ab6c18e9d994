"""``response_url``: the URL Slack puts in every interaction payload, for replying to that one interaction.

Slack documents it (api.slack.com, "Handling user interaction"): POST JSON to it up to five times within 30 minutes
of the interaction; ``"replace_original": true`` replaces the message the button was on, ``"delete_original": true``
deletes it, and ``"response_type": "ephemeral"`` (the default) shows a new message only to the member who acted.
The emulator issues one per interaction it generates (:meth:`ResponseUrls.issue`, under
``/actions/<team>/<id>/<token>`` like Slack's ``https://hooks.slack.com/actions/...``) and records every POST.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

USES = 5
LIFETIME_S = 30 * 60


@dataclass
class Issued:
    """One interaction's response URL: where the button was, who pressed it, when, and what was posted to it."""

    channel: str
    ts: str
    user: str
    issued_at: float
    posts: list[dict[str, Any]] = field(default_factory=list)


class ResponseUrls:
    """The response URLs issued so far, by their path."""

    def __init__(self, team_id: str, wall_clock: Callable[[], float]) -> None:
        self.team_id = team_id
        self.wall_clock = wall_clock
        self.issued: dict[str, Issued] = {}

    def issue(self, channel: str, ts: str, user: str) -> str:
        """A new path (``/actions/T.../<id>/<token>``) for an interaction by ``user`` on message ``ts``."""
        path = f"/actions/{self.team_id}/{secrets.randbelow(10**12):012d}/{secrets.token_urlsafe(18)}"
        self.issued[path] = Issued(channel, ts, user, self.wall_clock())
        return path

    def accept(self, path: str, body: dict[str, Any]) -> tuple[Issued | None, str | None]:
        """Record ``body`` posted to ``path``: ``(issued, None)``, or ``(None, error)`` for an unknown, expired or
        used-up URL."""
        issued = self.issued.get(path)
        if issued is None:
            return None, "no_such_url"
        if self.wall_clock() - issued.issued_at > LIFETIME_S:
            return None, "expired_url"
        if len(issued.posts) >= USES:
            return None, "used_url"
        issued.posts.append(body)
        return issued, None
