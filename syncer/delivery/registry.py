"""What the engine knows about a kind of connector, without knowing the vendor.

``connectors/__init__.py`` lists one :class:`ConnectorType` per ``type:`` in ``syncer.yaml``. The vendor's code
(and its SDK) is imported only when a destination is opened, so loading the configuration stays light.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from syncer.config.sync import SyncMode
from syncer.contract.interactions import InteractionHandler, SeenRequests
from syncer.delivery.effects import AlertChannel, TaskDestination
from syncer.delivery.protocol import Destination, Target


@dataclass(frozen=True)
class ConnectorType:
    """One kind of connector.

    ``settings``: the pydantic model of its entry in ``syncer.yaml`` (with ``type: Literal[name]``).
    ``objects``/``modes``: what a sync may target (``None``: any object). ``factory``: ``"module:callable"``
    taking ``(settings, target)`` and returning a :class:`Destination`; ``None`` for connectors that take no
    field writes (Slack: alerts only). ``tasks``: ``"module:callable"`` taking ``(settings)`` and returning a
    :class:`~syncer.delivery.effects.TaskDestination` (CRM tasks); ``alerts``: the same for an
    :class:`~syncer.delivery.effects.AlertChannel` (Slack). ``None``: the connector offers no such effect.
    ``interactions``: ``"module:callable"`` taking ``(settings, seen requests)`` and returning an
    :class:`~syncer.contract.interactions.InteractionHandler` (None when those settings take no interactions).
    """

    name: str
    settings: type[BaseModel]
    modes: frozenset[SyncMode]
    objects: frozenset[str] | None = None
    factory: str | None = None
    path_settings: tuple[str, ...] = ()  # settings that are file paths, resolved against the project directory
    tasks: str | None = None
    alerts: str | None = None
    interactions: str | None = None

    def resolve_paths(self, settings: BaseModel, root: Path) -> BaseModel:
        """``settings`` with its relative path settings made absolute under ``root``."""
        changes = {name: str(root / value) for name in self.path_settings
                   if isinstance(value := getattr(settings, name, None), str) and not Path(value).is_absolute()}
        return settings.model_copy(update=changes) if changes else settings

    def target_problems(self, object_name: str, mode: SyncMode) -> list[tuple[str, str]]:
        """What is wrong with targeting ``object_name`` in ``mode``: ``(key, message)`` pairs."""
        problems = []
        if self.objects is not None and object_name not in self.objects:
            problems.append(("object", f"a {self.name} destination's object must be one of "
                                       f"{', '.join(sorted(self.objects))}"))
        if mode not in self.modes:
            problems.append(("mode", f"a {self.name} destination supports mode "
                                     f"{', '.join(sorted(m.value for m in self.modes))}"))
        return problems

    def open(self, settings: BaseModel, target: Target) -> Destination:
        if self.factory is None:
            raise ValueError(f"a {self.name} connector takes no field writes")
        destination: Destination = _load(self.factory)(settings, target)
        return destination

    def open_tasks(self, settings: BaseModel) -> TaskDestination:
        if self.tasks is None:
            raise ValueError(f"a {self.name} connector creates no tasks")
        tasks: TaskDestination = _load(self.tasks)(settings)
        return tasks

    def open_alerts(self, settings: BaseModel) -> AlertChannel:
        if self.alerts is None:
            raise ValueError(f"a {self.name} connector posts no alerts")
        channel: AlertChannel = _load(self.alerts)(settings)
        return channel


    def open_interactions(self, settings: BaseModel, seen: SeenRequests) -> InteractionHandler | None:
        """The handler of interaction requests (button presses) for ``settings``; None when it takes none."""
        if self.interactions is None:
            return None
        handler: InteractionHandler | None = _load(self.interactions)(settings, seen)
        return handler


def _load(reference: str) -> Any:
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


Registry = Mapping[str, ConnectorType]
