"""Reading models from the warehouse: DuckDB natively, everything else through SQLAlchemy.

A model is read where it lives when it can be: a DuckDB warehouse file is attached read-only to the planning
workspace and the model's SQL runs there, so nothing is copied. Other warehouses stream the model in Arrow record
batches of ``batch_size`` rows into the workspace, so memory stays flat however large the model is.
"""

from syncer.warehouse.base import Warehouse
from syncer.warehouse.opener import open_warehouse

__all__ = ["Warehouse", "open_warehouse"]
