"""Salesforce record ids: 15-character case-sensitive bodies with the 3-character case-insensitive suffix.

Every id starts with its object's key prefix (``001`` Account, ``00Q`` Lead, ...). The 18-character form appends a
checksum that encodes which of the first 15 characters are upper case, so that the id survives case-insensitive
systems; the API accepts either form and always answers with 18 characters.
"""

from __future__ import annotations

import re
import string

_SUFFIX_ALPHABET = string.ascii_uppercase + "012345"
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
ID_PATTERN = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")


def checksum_suffix(body15: str) -> str:
    """The 3-character suffix Salesforce appends to a 15-character id."""
    suffix = ""
    for chunk in range(3):
        bits = 0
        for position, char in enumerate(body15[chunk * 5 : chunk * 5 + 5]):
            if char.isupper():
                bits |= 1 << position
        suffix += _SUFFIX_ALPHABET[bits]
    return suffix


def make_id(prefix: str, number: int, pod: str = "8d") -> str:
    """An 18-character id: key prefix, a pod marker, the base-62 ``number`` and the checksum."""
    digits = ""
    while True:
        number, remainder = divmod(number, 62)
        digits = _BASE62[remainder] + digits
        if number == 0:
            break
    body = prefix + pod + digits.rjust(15 - len(prefix) - len(pod), "0")
    return body + checksum_suffix(body)


def is_well_formed(value: object) -> bool:
    """Whether ``value`` has the shape of a record id (15 or 18 alphanumerics)."""
    return isinstance(value, str) and bool(ID_PATTERN.match(value))
