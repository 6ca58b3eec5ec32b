"""Wording helpers for what dailies prints: counts with the right plural."""

from __future__ import annotations


def plural(n: int | float, noun: str, many: str | None = None) -> str:
    """``noun`` in the number ``n`` asks for: ``plural(1, "shot") == "shot"``, ``plural(2, "shot") ==
    "shots"``, ``plural(0, "shot") == "shots"``. ``many`` overrides the plural form."""
    if n == 1:
        return noun
    if many:
        return many
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u", ""):
        return noun[:-1] + "ies"  # retry -> retries
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


def count(n: int | float, noun: str, many: str | None = None) -> str:
    """``n`` and its noun: ``count(1, "character") == "1 character"``, ``count(3, "occurrence") ==
    "3 occurrences"``, ``count(2, "retry") == "2 retries"``. Floats print as ``%g``."""
    number = f"{n:g}" if isinstance(n, float) else str(n)
    return f"{number} {plural(n, noun, many)}"
