"""Associations between CRM records (v4 semantics), stored in both directions.

HubSpot's default (``HUBSPOT_DEFINED``) association type ids for the emulated pairs come from the associations v4
guide: task->company 192 (company->task 191), task->contact 204 (contact->task 203), contact->company 279
(company->contact 280), with 1/2 the *primary* company<->contact types (labelled "Primary"). Creating an association
in one direction creates its inverse, as HubSpot does. ``USER_DEFINED`` labels can be added per pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# (from, to) -> [(typeId, inverse typeId, label or None)]; the first entry is the pair's default (unlabelled) type.
_HUBSPOT_DEFINED: dict[tuple[str, str], list[tuple[int, int, str | None]]] = {
    ("tasks", "companies"): [(192, 191, None)],
    ("tasks", "contacts"): [(204, 203, None)],
    ("contacts", "companies"): [(279, 280, None), (1, 2, "Primary")],
}


@dataclass(frozen=True)
class AssociationType:
    category: str
    type_id: int
    inverse_id: int
    label: str | None

    def as_json(self) -> dict[str, Any]:
        return {"category": self.category, "typeId": self.type_id, "label": self.label}


def _registry() -> dict[tuple[str, str], list[AssociationType]]:
    types: dict[tuple[str, str], list[AssociationType]] = {}
    for (a, b), entries in _HUBSPOT_DEFINED.items():
        for type_id, inverse, label in entries:
            types.setdefault((a, b), []).append(AssociationType("HUBSPOT_DEFINED", type_id, inverse, label))
            types.setdefault((b, a), []).append(AssociationType("HUBSPOT_DEFINED", inverse, type_id, label))
    return types


@dataclass
class AssociationStore:
    """Edges ``(from_type, from_id, to_type, to_id) -> {(category, typeId)}``. Callers hold the emulator's lock."""

    types: dict[tuple[str, str], list[AssociationType]] = field(default_factory=_registry)
    edges: dict[tuple[str, str, str, str], set[tuple[str, int]]] = field(default_factory=dict)
    _next_label_id: int = 1000

    def default_type(self, from_type: str, to_type: str) -> AssociationType | None:
        known = self.types.get((from_type, to_type))
        return known[0] if known else None

    def find_type(self, from_type: str, to_type: str, category: str, type_id: int) -> AssociationType | None:
        for candidate in self.types.get((from_type, to_type), []):
            if candidate.category == category and candidate.type_id == type_id:
                return candidate
        return None

    def to_type_of(self, from_type: str, category: str, type_id: int) -> str | None:
        """Which object type a type id from ``from_type`` points at (how v3 create infers the target)."""
        for (source, target), candidates in self.types.items():
            if source == from_type and any(c.category == category and c.type_id == type_id for c in candidates):
                return target
        return None

    def add_label(self, from_type: str, to_type: str, label: str) -> AssociationType:
        """Define a ``USER_DEFINED`` label between two object types (both directions share the label)."""
        forward, backward = self._next_label_id, self._next_label_id + 1
        self._next_label_id += 2
        created = AssociationType("USER_DEFINED", forward, backward, label)
        self.types.setdefault((from_type, to_type), []).append(created)
        if from_type != to_type:
            self.types.setdefault((to_type, from_type), []).append(
                AssociationType("USER_DEFINED", backward, forward, label)
            )
        return created

    def link(self, from_type: str, from_id: str, to_type: str, to_id: str, kind: AssociationType) -> None:
        self.edges.setdefault((from_type, from_id, to_type, to_id), set()).add((kind.category, kind.type_id))
        inverse_category = kind.category
        self.edges.setdefault((to_type, to_id, from_type, from_id), set()).add((inverse_category, kind.inverse_id))

    def unlink(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        self.edges.pop((from_type, from_id, to_type, to_id), None)
        self.edges.pop((to_type, to_id, from_type, from_id), None)

    def targets(self, from_type: str, from_id: str, to_type: str) -> list[tuple[str, list[AssociationType]]]:
        """``[(to_id, [types])]`` in ascending id order."""
        found = []
        for (source_type, source_id, target_type, target_id), kinds in self.edges.items():
            if (source_type, source_id, target_type) == (from_type, from_id, to_type) and kinds:
                described = [self._describe(from_type, to_type, c, t) for c, t in sorted(kinds)]
                found.append((target_id, described))
        return sorted(found, key=lambda item: int(item[0]))

    def _describe(self, from_type: str, to_type: str, category: str, type_id: int) -> AssociationType:
        known = self.find_type(from_type, to_type, category, type_id)
        return known or AssociationType(category, type_id, type_id, None)

    def labels(self, from_type: str, from_id: str, to_type: str, to_id: str) -> list[str]:
        kinds = self.edges.get((from_type, from_id, to_type, to_id), set())
        described = [self._describe(from_type, to_type, c, t) for c, t in sorted(kinds)]
        return [k.label for k in described if k.label]

    def as_json(self) -> list[dict[str, Any]]:
        return [
            {
                "fromObjectType": a,
                "fromObjectId": b,
                "toObjectType": c,
                "toObjectId": d,
                "types": [{"category": cat, "typeId": tid} for cat, tid in sorted(kinds)],
            }
            for (a, b, c, d), kinds in sorted(self.edges.items())
            if kinds
        ]
