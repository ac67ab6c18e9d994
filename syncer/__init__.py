"""syncer: a reverse-ETL daemon that sends scored accounts from the warehouse to CRMs and chat channels."""

__version__ = "0.1.0"
