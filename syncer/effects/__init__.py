"""The effects engine: trigger firings become CRM tasks and Slack alerts, exactly once, under the alert policy."""
