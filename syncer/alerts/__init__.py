"""Slack alerts reps trust: the pure policy (caps, priorities, cooldowns, quiet hours, digests), Block Kit rendering
with every warehouse value escaped, and verified feedback from Slack's interaction requests.

Nothing here does I/O or reads a clock: time is an argument, and the delivery step wires these into runs.
"""
