"""Delivery: the destination protocol, error classes, the limiter and the executor. Vendor-free."""
