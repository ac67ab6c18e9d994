"""The webhook sandbox: a receiver that verifies signatures, deduplicates by idempotency key and stores records.

``WebhookReceiver`` serves ``POST /hook``; point a webhook destination's ``url`` at ``server.url + "/hook"``.
"""

from connectors.webhook.sandbox.emulator import DEFAULT_SECRET, HOOK_PATH, WebhookReceiver

__all__ = ["DEFAULT_SECRET", "HOOK_PATH", "WebhookReceiver"]
