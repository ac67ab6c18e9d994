"""Alert templates: RevOps' alert text rendered with every warehouse value marked as data, under the render budget.

The pure policy (caps, priorities, cooldowns, quiet hours, digests) and the ledger types are :mod:`syncer.core.alerts`;
its configuration is :mod:`syncer.config.alerts`. Drawing messages and taking button presses is the alert
connector's (``connectors/<vendor>/``), through :mod:`syncer.contract.alerts` and :mod:`syncer.contract.interactions`.
"""

from syncer.alerts.templates import AlertTemplateError, check_template, render_marked

__all__ = ["AlertTemplateError", "check_template", "render_marked"]
