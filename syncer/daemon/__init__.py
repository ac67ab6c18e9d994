"""``syncer daemon``: scheduler, replicas through PostgreSQL leases, HTTP server, metrics, operations alerts, logs.

Modules: :mod:`.service` (the daemon), :mod:`.slots` (when syncs are due), :mod:`.leases` (who runs what),
:mod:`.dispatch` (runs on threads, never overlapping), :mod:`.apps` (connections per thread), :mod:`.server` and
:mod:`.control` (HTTP), :mod:`.metrics`, :mod:`.health`, :mod:`.ops` (operations alerts), :mod:`.logs`,
:mod:`.watch` (reload).
"""
