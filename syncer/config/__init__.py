"""The configuration floor: reads ``syncer.yaml`` and ``mappings/*.yaml`` into validated settings.

Imports only :mod:`syncer.contract` of the engine; the connector registry is handed to the loader as a parameter.
"""
