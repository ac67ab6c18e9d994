"""The effects engine: trigger firings become CRM tasks and chat alerts, exactly once, under the alert policy."""
