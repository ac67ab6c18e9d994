"""``syncer validate`` tries each mapping on the data: a sample of the model's rows is planned exactly as a run
plans it, and every task and alert template is rendered on those rows.

The fields are cast, normalised, mapped and rendered by the planner itself (:func:`syncer.planning.planner.plan_sync`,
the same SQL and the same template function) over the sample, against a scratch state whose snapshot is empty, so
every sampled row is planned as a create and whatever a run would reject is rejected here, with the run's reason.
Nothing touches the project's state. Per field, the share of sampled rows it rejects is an error above
``max_reject_percent`` and a warning below; a template reading a JSON key no sampled row has
(``{{ signals.seets }}``) is an error naming the nearest key the rows do have.
"""

from __future__ import annotations

import datetime as dt
import difflib
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError, nodes

from syncer.config.errors import Problem
from syncer.config.loader import LoadedSync
from syncer.config.sync import ModelSource, SyncConfig
from syncer.config.yamlsource import YamlDocument
from syncer.core.templates import compile_template, template_value
from syncer.planning.planner import PlanError, plan_sync
from syncer.state import open_state
from syncer.warehouse.base import Warehouse, WarehouseError

KeyPath = tuple[str | int, ...]


@dataclass
class SampleReport:
    """What trying a sync on a sample found: ``errors`` stop ``validate`` (exit 2), ``warnings`` are shown."""

    rows: int = 0
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def judge(self, doc: YamlDocument, path: KeyPath, message: str, failed: int, total: int, limit: float) -> None:
        """``failed`` of ``total`` sampled rows, said by ``message`` at ``path``: an error past ``limit`` percent,
        else a warning."""
        if failed * 100 > limit * total:
            self.errors.append(doc.problem(path, f"{message} (more than {limit:g}%)"))
        elif failed:
            self.warnings.append(doc.problem(path, message))


@dataclass(frozen=True)
class _Sampled:
    """What the planner made of the sample: its rows, rejections (key, reason), and each valid key's field values."""

    model_rows: int
    rejected: list[tuple[str | None, str]]
    values: dict[str, dict[str, Any]]


def try_on_sample(
    loaded: LoadedSync, warehouse: Warehouse, sample_rows: int, max_reject_percent: float, rows: list[dict[str, Any]]
) -> SampleReport:
    """Plan ``sample_rows`` rows of the model of ``loaded`` as a first run would; render its task and alert templates
    on ``rows`` (the sampled model rows) and check the JSON keys they read. Never raises for what the data does."""
    report = SampleReport()
    try:
        sampled = _plan_sample(loaded.config, warehouse, sample_rows)
    except (PlanError, WarehouseError) as exc:
        report.errors.append(loaded.document.problem(("model",), f"the sample could not be planned: {exc}"))
        return report
    report.rows = sampled.model_rows
    if sampled.model_rows:
        _judge_rejections(loaded, sampled, max_reject_percent, report)
    if rows:
        _render_effects(loaded, sampled, rows, max_reject_percent, report)
    report.errors += _json_key_problems(loaded, rows)
    return report


def _plan_sample(sync: SyncConfig, warehouse: Warehouse, sample_rows: int) -> _Sampled:
    """The planner's plan of the first ``sample_rows`` model rows against an empty scratch state."""
    sampled = f"SELECT * FROM ({sync.model.query}) AS sampled LIMIT {int(sample_rows)}"
    # Triggers are not planned here (their templates are rendered on the rows below); without them only the columns
    # the fields read are staged, as at run time.
    update: dict[str, Any] = {"model": ModelSource(sql=sampled), "triggers": []}
    if sync.destination is not None and sync.destination.owner is not None:
        # Owners are users in the CRM, which validate does not ask (``check`` does): the sample plans without them.
        update["destination"] = sync.destination.model_copy(update={"owner": None})
    config = sync.model_copy(update=update)
    with tempfile.TemporaryDirectory(prefix="syncer-validate-") as scratch:
        store = open_state("duckdb:///sample.duckdb", Path(scratch), "256MB")
        try:
            plan = plan_sync(config, store, warehouse, batch_size=max(sample_rows, 1))
            values = {row["key"]: dict(row["values"] or {}) for row in plan.rows("create")}
            return _Sampled(plan.model_rows, [(row.key, row.reason) for row in plan.rejected], values)
        finally:
            store.close()


def _judge_rejections(loaded: LoadedSync, sampled: _Sampled, limit: float, report: SampleReport) -> None:
    """One problem per field (or the key) that rejects sampled rows: its share, an example key and reason."""
    fields = loaded.config.fields
    by_path: dict[KeyPath, list[tuple[str | None, str]]] = {}
    for key, reason in sampled.rejected:
        for part in reason.split("; "):
            name = part.split(":", 1)[0]
            path: KeyPath = ("fields", name) if ":" in part and name in fields else ("key",)
            by_path.setdefault(path, []).append((key, part))
    for path, found in by_path.items():
        failed = len({key for key, _ in found})
        key, reason = found[0]
        message = (
            f"{failed} of {sampled.model_rows} sampled rows ({100.0 * failed / sampled.model_rows:.3g}%) "
            f"would be rejected, e.g. row {key if key is not None else '(null key)'}: {reason}"
        )
        report.judge(loaded.document, path, message, failed, sampled.model_rows, limit)


def _render_effects(
    loaded: LoadedSync, sampled: _Sampled, rows: list[dict[str, Any]], limit: float, report: SampleReport
) -> None:
    """Every task and alert template rendered on every sampled row, as the effect would see it (the model's
    columns and the mapped fields' values); a share of failures is judged like a field's rejections."""
    sync = loaded.config
    seen = [_as_template_row(row, sync, sampled.values) for row in rows]
    for path, source in _templates(sync, fields=False):
        template = _compiled(source)
        if template is None:
            continue  # its syntax is reported by the template checks
        failures: list[tuple[Any, str]] = []
        for row in seen:
            try:
                template.render(row)
            except Exception as exc:  # validate reports whatever a template does, never crashes
                failures.append((row.get(sync.key), " ".join(str(exc).split())[:200] or type(exc).__name__))
        if failures:
            key, reason = failures[0]
            message = (
                f"fails on {len(failures)} of {len(seen)} sampled rows "
                f"({100.0 * len(failures) / len(seen):.3g}%), e.g. row {key}: {reason}"
            )
            report.judge(loaded.document, path, message, len(failures), len(seen), limit)


def _as_template_row(row: dict[str, Any], sync: SyncConfig, values: dict[str, dict[str, Any]]) -> dict[str, Any]:
    fields = values.get(str(row.get(sync.key)), {})
    merged = {name: fields.get(name) for name in sync.fields} | row
    return {name: template_value(run_time_value(value)) for name, value in merged.items()}


def _compiled(source: str) -> Any:
    try:
        return compile_template(source)
    except TemplateSyntaxError:
        return None


def json_key_typos(sync: SyncConfig, rows: list[dict[str, Any]]) -> list[tuple[KeyPath, str]]:
    """Templates reading ``column.key`` (or ``column['key']``) where ``column`` holds JSON objects in ``rows`` and
    none of them has ``key``: a typo, said with the nearest key the rows do have. ``(template's key path, message)``."""
    seen: dict[str, set[str]] = {}
    for row in rows:
        for name, raw in row.items():
            value = template_value(raw)
            if isinstance(value, dict):
                seen.setdefault(name, set()).update(str(key) for key in value)
    found: list[tuple[KeyPath, str]] = []
    for path, source in _templates(sync, fields=True):
        template = _compiled(source)
        if template is None:
            continue  # reported where syntax is checked
        for column, key in sorted(set(_json_reads(template.environment.parse(source)))):
            known = seen.get(column)
            if known is None or key in known:
                continue
            nearest = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"; did you mean '{nearest[0]}'?" if nearest else f"; the sampled rows have {_listed(known)}"
            found.append((path, f"'{column}.{key}': no sampled row's '{column}' has the key '{key}'{hint}"))
    return found


def _json_key_problems(loaded: LoadedSync, rows: list[dict[str, Any]]) -> list[Problem]:
    return [loaded.document.problem(path, message) for path, message in json_key_typos(loaded.config, rows)]


def _templates(sync: SyncConfig, *, fields: bool) -> Iterator[tuple[KeyPath, str]]:
    """Every template of ``sync`` with its key path: field templates when ``fields``, then tasks' and alerts'."""
    for name, spec in sync.fields.items():
        if fields and spec.template:
            yield ("fields", name, "template"), spec.template
    for i, trigger in enumerate(sync.triggers):
        if trigger.task is not None:
            for key in ("subject", "body"):
                source = getattr(trigger.task, key)
                if source:
                    yield ("triggers", i, "task", key), source
        if trigger.alert is not None:
            for key in ("template", "title", "record_url"):
                source = getattr(trigger.alert, key)
                if source:
                    yield ("triggers", i, "alert", key), source


def _json_reads(template: nodes.Template) -> Iterable[tuple[str, str]]:
    """``(column, key)`` for every ``column.key`` and ``column['key']`` a template reads (one level deep)."""
    for node in template.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
            yield node.node.name, node.attr
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.node, nodes.Name)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
        ):
            yield node.node.name, node.arg.value


def run_time_value(value: Any) -> Any:
    """A warehouse value as a template sees it at run time, where rows arrive as JSON: numbers are ints or floats,
    timestamps and dates ISO text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return value


def _listed(keys: set[str]) -> str:
    shown = sorted(keys)[:8]
    return ", ".join(f"'{key}'" for key in shown) + (", ..." if len(keys) > len(shown) else "")
