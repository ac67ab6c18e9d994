"""Planning: runs the pure core against a warehouse and the snapshot, in a DuckDB workspace, and validates a project
against the warehouse (columns, trigger conditions, templates). Nothing here sends or commits."""
