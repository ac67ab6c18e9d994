"""The nearest of some names to a misspelt one, for findings that suggest what was meant (difflib's ratio)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def nearest(wanted: str, known: Iterable[str]) -> str | None:
    """The known name most like ``wanted`` (case-insensitive, so ``Hot`` finds ``hot``), or None when none is close."""
    names = list(known)
    by_fold = {name.casefold(): name for name in reversed(names)}
    found = difflib.get_close_matches(wanted.casefold(), list(by_fold), n=1, cutoff=0.6)
    return by_fold[found[0]] if found else None


def did_you_mean(wanted: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest known name, or an empty string."""
    found = nearest(wanted, known)
    return f" (did you mean {found!r}?)" if found is not None else ""
