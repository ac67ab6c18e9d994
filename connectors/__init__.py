"""Destination connectors, one package per vendor (HubSpot, Salesforce, Slack), behind syncer's batch-first
destination interface. They arrive with the delivery work; the sandbox (`syncer.sandbox`) is what they are tested
against."""
