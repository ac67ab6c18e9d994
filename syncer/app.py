"""The project as the CLI and the daemon use it: configuration, state and warehouse, opened on demand."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors import REGISTRY
from syncer.config.errors import ConfigError
from syncer.config.loader import Project, load_project
from syncer.config.sync import SyncConfig
from syncer.contract import clock
from syncer.contract.destination import AdoptionFinder, Destination, Operation, Target
from syncer.contract.enums import FieldType
from syncer.contract.errors import DeliveryError
from syncer.contract.registry import ConnectorType
from syncer.effects.owners import CrmOwnerLookup, OwnerDirectory
from syncer.state import StateStore, StateUnavailableError, open_state
from syncer.warehouse import Warehouse, open_warehouse

if TYPE_CHECKING:  # the runner and the effects engine load when a run needs them: `syncer validate` stays fast
    from syncer.contract.effects import AlertChannel, TaskDestination
    from syncer.core.plan import Plan
    from syncer.effects.engine import EffectsContext
    from syncer.effects.preview import EffectPreview
    from syncer.runner import Pacing, RunOptions, RunOutcome


class StateConnectionLostError(StateUnavailableError):
    """The state store went away in the middle of a run (its server restarted, the session was terminated)."""


@dataclass
class App:
    """Opens what a command needs, once, and closes it all at the end. Raises ``ConfigError`` on bad config.

    The project loads even when secrets are missing from the environment (see ``Project.missing_secrets``); what
    needs them refuses here: the state and the warehouse when they are opened, the destinations through
    :meth:`require_destinations`, which commands that talk to destinations call first.
    """

    root: Path
    environ: Mapping[str, str] | None = None
    _project: Project | None = field(default=None, init=False)
    _store: StateStore | None = field(default=None, init=False)
    _warehouse: Warehouse | None = field(default=None, init=False)

    @classmethod
    def with_project(cls, root: Path, project: Project, environ: Mapping[str, str] | None = None) -> App:
        """An app over an already loaded and validated ``project`` (the daemon's, kept until a reload succeeds)."""
        app = cls(root, environ)
        app._project = project
        return app

    @property
    def project(self) -> Project:
        if self._project is None:
            self._project = load_project(self.root, REGISTRY, self.environ)
        return self._project

    @property
    def store(self) -> StateStore:
        if self._store is None:
            self._require(("state",))
            state = self.project.config.state
            self._store = open_state(
                state.url.get_secret_value(),
                self.root,
                state.memory_limit,
                lock_wait_s=state.lock_timeout_s,
                park_after=state.row_errors.park_after,
            )
        return self._store

    @property
    def warehouse(self) -> Warehouse:
        if self._warehouse is None:
            self._require(("warehouse",))
            self._warehouse = open_warehouse(self.project.config.warehouse.url.get_secret_value(), self.root)
        return self._warehouse

    @property
    def batch_size(self) -> int:
        return self.project.config.warehouse.batch_size

    def open_destination(self, sync: SyncConfig, field_types: dict[str, FieldType] | None = None) -> Destination | None:
        """The destination ``sync`` writes to, opened through the connector registry; ``None`` for a connector
        that takes no field writes (a chat connector: alerts only). ``field_types`` default to the declared ones."""
        dest = sync.destination
        if dest is None:  # a watch: nothing is written
            return None
        kind = REGISTRY[self.project.config.connectors[dest.connector].type]
        settings = kind.resolve_paths(self.project.connectors[dest.connector], self.root)
        if kind.destination is None:
            return None
        types = field_types or {name: spec.type or FieldType.STRING for name, spec in sync.fields.items()}
        values = {name: known for name, spec in sync.fields.items() if (known := spec.known_values())}
        adopt_field = dest.adopt_by.field if dest.adopt_by is not None else None
        return kind.open(
            settings,
            Target(dest.object, dest.mode, dest.match.field, types, adopt_field, sync=sync.name, values=values),
        )

    def owner_lookup(self, sync: SyncConfig) -> CrmOwnerLookup | None:
        """The owners of ``sync``'s destination, for its ``owner:`` (None without one): the connector's owner field,
        resolved through the state's owner cache and the connector's task destination."""
        dest = sync.destination
        if dest is None or dest.owner is None:
            return None
        kind = self.connector_type(dest.connector)
        field = kind.capabilities(kind.resolve_paths(self.project.connectors[dest.connector], self.root)).owner_field
        if field is None:
            raise ValueError(f"a {kind.name} destination's records have no owner to set")
        directory = OwnerDirectory(self.store, clock.aware_utc(clock.naive_now()))
        connector = dest.connector
        return CrmOwnerLookup(field, directory, connector, lambda: self.open_task_destination(connector))

    def connector_type(self, name: str) -> ConnectorType[Any]:
        """The registry entry of the connector ``name`` of ``syncer.yaml``."""
        return REGISTRY[self.project.config.connectors[name].type]

    def open_task_destination(self, connector: str) -> TaskDestination:
        """CRM tasks through the connector ``connector``; raises ``ValueError`` when it creates no tasks."""
        kind = self.connector_type(connector)
        tasks: TaskDestination = kind.open_tasks(kind.resolve_paths(self.project.connectors[connector], self.root))
        return tasks

    def open_alert_channel(self, connector: str) -> AlertChannel:
        """The alert channel of the connector ``connector``; raises ``ValueError`` when it posts no alerts."""
        kind = self.connector_type(connector)
        channel: AlertChannel = kind.open_alerts(kind.resolve_paths(self.project.connectors[connector], self.root))
        return channel

    def require_destinations(self, syncs: list[SyncConfig]) -> None:
        """Raise ``ConfigError`` naming every unset variable the connectors of ``syncs`` need."""
        self._require(*(("connectors", name) for name in self.project.connectors_of(syncs)))

    def run_options(self, *, allow_mass_change: bool = False, stop: Callable[[], bool] | None = None) -> RunOptions:
        """The options a run of this project takes: its batch size and guards, plus the caller's choices."""
        from syncer.runner import RunOptions

        return RunOptions(
            batch_size=self.batch_size,
            allow_mass_change=allow_mass_change,
            guards=self.project.config.defaults.guards,
            stop=stop,
            owners=self.owner_lookup,
        )

    def run(
        self,
        sync: SyncConfig,
        options: RunOptions,
        progress: Callable[[int], None] | None = None,
        now: Callable[[], datetime] = clock.naive_now,
        pacing: Pacing | None = None,
    ) -> RunOutcome:
        """One run of ``sync`` (see :func:`syncer.runner.run_sync`) with this project's state, warehouse,
        destinations and effects; the CLI and the daemon both run syncs through here."""
        from syncer.runner import Pacing, run_sync

        pacing = pacing or Pacing()
        store = self.store
        try:
            return run_sync(
                sync,
                store,
                self.warehouse,
                now,
                self.open_destination,
                options,
                pacing,
                progress,
                self.effects_context(pacing),
            )
        except StateUnavailableError:
            raise
        except Exception as exc:
            if _answers(store):  # the state is fine: a fault of something else, shown as it is
                raise
            # The run could not even be recorded as failed: its row stays 'running' until the state is next
            # opened, which marks it killed (its session is gone). One line, not the driver's two tracebacks.
            raise StateConnectionLostError(
                f"lost the state store connection ({_first_cause(exc)}); the run will be marked killed"
            ) from None

    def preview_adoption(self, sync: SyncConfig, plan: Plan) -> dict[str, Any] | str | None:
        """For ``syncer plan``: how ``plan``'s creates split into create, adopt and ambiguous
        (:class:`syncer.planning.adoption.AdoptionPreview` as a dict), asking the destination read-only; a sentence
        saying why it could not be asked (its secrets are missing, it refused); ``None`` when the sync does not adopt
        or plans no create."""
        from syncer.planning.adoption import preview_adoption

        dest = sync.destination
        if dest is None or dest.adopt_by is None or plan.counts.create == 0:
            return None
        if missing := self.project.missing_under(("connectors", dest.connector)):
            return f"{missing[0].problem} (the destination is not asked without its secrets)"
        try:
            destination = self.open_destination(sync)
        except DeliveryError as error:
            return f"the destination refused: {error}"
        if destination is None:
            return None
        try:
            if not isinstance(destination, AdoptionFinder):
                return f"the {dest.connector} connector cannot look records up before creating"
            batch = destination.capabilities.max_batch[Operation.CREATE]
            return preview_adoption(plan, destination, batch).as_dict()
        except DeliveryError as error:
            return f"the destination refused the lookup: {error}"
        finally:
            destination.close()

    def preview_effects(self, sync: SyncConfig, plan: Plan) -> list[EffectPreview]:
        """The tasks and alerts ``plan`` would cause, after the policy (an alert channel is asked only with its
        secrets)."""
        from syncer.effects.preview import preview_effects
        from syncer.runner import Pacing

        connectors = [t.alert.connector for t in sync.triggers if t.alert is not None]
        can_look_up = not any(self.project.missing_under(("connectors", name)) for name in connectors)
        return preview_effects(
            sync, plan, self.store, self.effects_context(Pacing()), clock.now(), can_look_up=can_look_up
        )

    def effects_context(self, pacing: Pacing) -> EffectsContext:
        """What the effects engine needs: the alert policy, the task and alert openers, the log's writer."""
        from syncer.effects.engine import EffectsContext
        from syncer.effects.log import ALERT_LOG_TABLE

        return EffectsContext(
            self.project.config.alerts,
            self.open_alert_channel,
            self.open_task_destination,
            pacing.clock,
            pacing.sleep,
            lambda table: self.warehouse.replace_table(ALERT_LOG_TABLE, table),
            task_fallback_owner=self.project.config.tasks.fallback_owner,
        )

    def _require(self, *prefixes: tuple[str | int, ...]) -> None:
        missing = self.project.missing_under(*prefixes)
        if missing:
            raise ConfigError([variable.problem for variable in missing])

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        if self._warehouse is not None:
            self._warehouse.close()


def _answers(store: StateStore) -> bool:
    """Whether the state store still answers a query."""
    try:
        store.schema_versions()
    except Exception:
        return False
    return True


def _first_cause(exc: BaseException) -> str:
    """The first line of the error that began the chain (the driver's own words), e.g. "terminating connection
    due to administrator command" rather than the "connection is closed" of the attempts that followed."""
    first = exc
    while first.__context__ is not None:
        first = first.__context__
    text = str(first).strip() or str(exc).strip() or type(first).__name__
    return text.splitlines()[0]
