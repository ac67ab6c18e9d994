"""``GET /query?q=...`` and its paging (``GET /query/01g...-2000``).

A result larger than the batch size (2,000 by default, or ``batchSize`` from the ``Sforce-Query-Options`` header,
200 to 2,000) returns ``done: false`` and a ``nextRecordsUrl`` whose locator names the query cursor and the offset
of the next batch. Cursors hold the result as of the first call and expire after 15 idle minutes of emulator clock,
after which the locator is ``INVALID_QUERY_LOCATOR``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.responses import Response
from starlette.routing import Route

from connectors.salesforce.sandbox import soql
from connectors.salesforce.sandbox.api import ApiContext, api_routes
from connectors.salesforce.sandbox.errors import ApiError
from connectors.salesforce.sandbox.ids import make_id
from connectors.salesforce.sandbox.rest import reply

if TYPE_CHECKING:
    from connectors.salesforce.sandbox.emulator import SalesforceEmulator

_BATCH_OPTION = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


@dataclass
class Cursor:
    """The rows of one query still to be fetched."""

    rows: list[dict[str, Any]]
    batch_size: int
    last_used: float


class CursorTable:
    """Open query cursors by locator id."""

    def __init__(self) -> None:
        self._cursors: dict[str, Cursor] = {}
        self._sequence = 0

    def open(self, cursor: Cursor) -> str:
        self._sequence += 1
        locator = make_id("01g", self._sequence)
        self._cursors[locator] = cursor
        return locator

    def get(self, locator: str, now: float, idle_seconds: float) -> Cursor | None:
        for key in [k for k, c in self._cursors.items() if now - c.last_used > idle_seconds]:
            del self._cursors[key]
        cursor = self._cursors.get(locator)
        if cursor:
            cursor.last_used = now
        return cursor

    def clear(self) -> None:
        self._cursors.clear()


def _batch_size(ctx: ApiContext) -> int:
    limits = ctx.emulator.limits
    match = _BATCH_OPTION.search(ctx.request.headers.get("sforce-query-options", ""))
    if not match:
        return limits.query_batch_size
    return max(limits.query_min_batch_size, min(limits.query_batch_size, int(match.group(1))))


def _page(ctx: ApiContext, locator: str, cursor: Cursor, offset: int) -> Response:
    batch = cursor.rows[offset : offset + cursor.batch_size]
    body: dict[str, Any] = {"totalSize": len(cursor.rows), "done": offset + len(batch) >= len(cursor.rows)}
    if not body["done"]:
        body["nextRecordsUrl"] = f"/services/data/v{ctx.version}/query/{locator}-{offset + len(batch)}"
    body["records"] = batch
    return reply(body)


def run_query(ctx: ApiContext) -> Response:
    text = ctx.request.query_params.get("q")
    if not text:
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    emulator = ctx.emulator
    store = emulator.store
    parsed = soql.parse(text, store.spec)
    matched = soql.execute(parsed, list(store.tables[parsed.spec.name].values()))
    if parsed.count_only:
        return reply({"totalSize": len(matched), "done": True, "records": []})
    rows = [store.view(parsed.spec, rec, parsed.fields, ctx.version) for rec in matched]
    cursor = Cursor(rows, _batch_size(ctx), emulator.clock())
    if len(rows) <= cursor.batch_size:
        return _page(ctx, "", cursor, 0)
    return _page(ctx, emulator.cursors.open(cursor), cursor, 0)


def more(ctx: ApiContext) -> Response:
    locator, _, offset = str(ctx.params["locator"]).partition("-")
    cursor = ctx.emulator.cursors.get(locator, ctx.emulator.clock(), ctx.emulator.limits.query_locator_idle_seconds)
    if cursor is None or not offset.isdigit() or int(offset) > len(cursor.rows):
        raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    return _page(ctx, locator, cursor, int(offset))


def routes(emulator: SalesforceEmulator) -> list[Route]:
    return api_routes(
        emulator,
        [
            ("query", ["GET"], run_query, 20.0),
            ("queryAll", ["GET"], run_query, 20.0),
            ("query/{locator}", ["GET"], more, 20.0),
            ("queryAll/{locator}", ["GET"], more, 20.0),
        ],
    )
