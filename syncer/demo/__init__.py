"""The demo: a sample warehouse of scored accounts, and the command that shows syncer working on it."""
