"""What the engine knows about a kind of connector, without knowing the vendor.

``connectors/__init__.py`` lists one :class:`ConnectorType` per ``type:`` in ``syncer.yaml``. Everything a
connector type says about itself is either plain data imported up front (its settings model, and its
:class:`~syncer.contract.destination.Capabilities`, declared once in ``connectors/<vendor>/capabilities.py`` and
derived from the settings) or a typed factory that imports the vendor's code, and its SDK, only when called, so
loading the configuration stays light.

What a sync may target (modes, objects) is read from the capabilities, so a connector declares it in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from syncer.contract.destination import Capabilities, Destination, Target
from syncer.contract.effects import AlertChannel, TaskDestination
from syncer.contract.enums import SyncMode
from syncer.contract.interactions import InteractionHandler, SeenRequests

S = TypeVar("S", bound=BaseModel)


@dataclass(frozen=True)
class ConnectorType(Generic[S]):
    """One kind of connector, typed by its settings model ``S``.

    ``settings``: the pydantic model of its entry in ``syncer.yaml`` (with ``type: Literal[name]``).
    ``capabilities``: what it can do for given settings (batch sizes, rate, modes, objects).
    ``destination``: opens a :class:`Destination` for ``(settings, target)``; ``None`` for a connector that takes
    no field writes (a chat connector: alerts only).
    ``tasks`` / ``alerts``: open the connector's task destination (CRM tasks) / alert channel (chat alerts), the
    interfaces of :mod:`syncer.contract.effects`; ``None``: it offers no such effect.
    ``interactions``: opens the connector's handler of interactive requests (a button press on an alert) for
    ``(settings, seen requests)``; it may answer None when those settings take none (no signing secret). The
    daemon finds it here and knows no vendor.
    ``path_settings``: settings that are file paths, resolved against the project directory.
    ``quiet_loggers``: loggers of the vendor's SDK that log every request at INFO; the daemon keeps them at WARNING.
    """

    name: str
    settings: type[S]
    capabilities: Callable[[S], Capabilities]
    destination: Callable[[S, Target], Destination] | None = None
    tasks: Callable[[S], TaskDestination] | None = None
    alerts: Callable[[S], AlertChannel] | None = None
    interactions: Callable[[S, SeenRequests], InteractionHandler | None] | None = None
    path_settings: tuple[str, ...] = ()
    quiet_loggers: tuple[str, ...] = ()

    def resolve_paths(self, settings: S, root: Path) -> S:
        """``settings`` with its relative path settings made absolute under ``root``."""
        changes = {
            name: str(root / value)
            for name in self.path_settings
            if isinstance(value := getattr(settings, name, None), str) and not Path(value).is_absolute()
        }
        return settings.model_copy(update=changes) if changes else settings

    def target_problems(
        self, settings: S, object_name: str, mode: SyncMode, *, adopt: bool = False, owner: bool = False
    ) -> list[tuple[str, str]]:
        """What is wrong with targeting ``object_name`` in ``mode`` with these settings: ``(key, message)`` pairs.
        ``adopt``/``owner``: the destination adopts existing records / sets record owners."""
        declared = self.capabilities(settings)
        problems = []
        if adopt and not declared.adopts:
            problems.append(("adopt_by", f"a {self.name} destination cannot look up existing records to adopt"))
        if owner and declared.owner_field is None:
            problems.append(("owner", f"a {self.name} destination's records have no owner to set"))
        if declared.objects is not None and object_name not in declared.objects:
            problems.append(
                ("object", f"a {self.name} destination's object must be one of {', '.join(sorted(declared.objects))}")
            )
        if mode not in declared.modes:
            problems.append(
                (
                    "mode",
                    f"a {self.name} destination supports mode {', '.join(sorted(m.value for m in declared.modes))}",
                )
            )
        return problems

    def open(self, settings: S, target: Target) -> Destination:
        if self.destination is None:
            raise ValueError(f"a {self.name} connector takes no field writes")
        return self.destination(settings, target)

    def open_tasks(self, settings: S) -> TaskDestination:
        if self.tasks is None:
            raise ValueError(f"a {self.name} connector creates no tasks")
        return self.tasks(settings)

    def open_alerts(self, settings: S) -> AlertChannel:
        if self.alerts is None:
            raise ValueError(f"a {self.name} connector posts no alerts")
        return self.alerts(settings)

    def open_interactions(self, settings: S, seen: SeenRequests) -> InteractionHandler | None:
        """The handler of interaction requests for ``settings``; None when the connector or its settings take none."""
        return self.interactions(settings, seen) if self.interactions is not None else None


Registry = Mapping[str, ConnectorType[Any]]
