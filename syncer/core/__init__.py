"""The pure planning core: builds SQL and plan values, imports no client, clock or environment."""
