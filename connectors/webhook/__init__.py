"""Webhook connector: JSON batches to any URL, HMAC-signed, honouring 429 and Retry-After."""
