"""The contract floor: the only part of the engine a connector imports.

Everything here is vendor-neutral and imports nothing else of ``syncer``: the enums shared by config, planning and
delivery, the destination protocol with its record and result types, the effect interfaces (what to say, not how a
vendor renders it), the delivery error tree, the connector registry's types, and small helpers every connector needs
(display text cleaning).
"""
