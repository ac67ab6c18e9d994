"""The sample company's sales reps, shared by the sample warehouse and the sandbox seed data.

Both sides must agree on e-mail addresses: the warehouse names an account's owner by e-mail, and the sandbox
knows the same people as Salesforce users, HubSpot owners and Slack members.
"""

from __future__ import annotations

from dataclasses import dataclass

REP_DOMAIN = "yourco.com"

_FIRST = [
    "Dana",
    "Ravi",
    "Lena",
    "Marco",
    "Aisha",
    "Tom",
    "Yuki",
    "Sofia",
    "Omar",
    "Grace",
    "Jonas",
    "Priya",
    "Diego",
    "Hana",
    "Lucas",
    "Maya",
    "Felix",
    "Zara",
    "Noah",
    "Ines",
    "Kofi",
    "Elena",
    "Sam",
    "Mei",
]
_LAST = [
    "Kim",
    "Patel",
    "Novak",
    "Rossi",
    "Bello",
    "Walsh",
    "Sato",
    "Garcia",
    "Haddad",
    "Chen",
    "Berg",
    "Nair",
    "Lopez",
    "Ito",
    "Silva",
    "Cohen",
    "Weber",
    "Ali",
    "Brown",
    "Costa",
    "Mensah",
    "Popova",
    "Reid",
    "Lin",
]
_ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
]
_ROLES = ["ae", "ae", "growth", "growth", "growth", "csm"]


@dataclass(frozen=True)
class Rep:
    """One sales rep: the same person in the warehouse, the CRMs and Slack."""

    index: int
    first_name: str
    last_name: str
    email: str
    tz: str
    role: str  # "ae" (account executive), "growth" (product-growth rep) or "csm"

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def slack_id(self) -> str:
        return f"U{1000 + self.index:010d}"  # U and 10 digits: the shape of a Slack member id

    @property
    def hubspot_owner_id(self) -> str:
        return str(70_000_000 + self.index)

    @property
    def salesforce_user_id(self) -> str:
        return f"005{self.index:015d}"[:18]


def sample_reps(count: int = 24) -> list[Rep]:
    """Return ``count`` deterministic reps (at most 24), identical on every call."""
    reps = []
    for i in range(min(count, len(_FIRST))):
        first, last = _FIRST[i], _LAST[i]
        reps.append(
            Rep(
                i,
                first,
                last,
                f"{first.lower()}.{last.lower()}@{REP_DOMAIN}",
                _ZONES[i % len(_ZONES)],
                _ROLES[i % len(_ROLES)],
            )
        )
    return reps


def departed_rep() -> Rep:
    """A rep who left: an archived HubSpot owner and an inactive Salesforce user in the sandboxes (never a Slack
    member), so records and tasks assigned to them meet what the vendors answer for a departed user."""
    return Rep(90, "Pat", "Gone", f"pat.gone@{REP_DOMAIN}", _ZONES[0], "ae")
