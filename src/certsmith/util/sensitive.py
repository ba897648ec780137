"""A wrapper for secrets (private keys, tokens) that never prints its contents.

Private keys must not reach logs, events or error text. Carrying them as
``Sensitive[bytes]`` makes the accidental ``f"{key}"`` harmless.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")

REDACTED = "<redacted>"


class Sensitive(Generic[T]):
    """Holds a secret value; ``repr`` and ``str`` show ``<redacted>``."""

    __slots__ = ("_value",)

    def __init__(self, value: T) -> None:
        self._value = value

    def reveal(self) -> T:
        """Return the secret itself; call only where it is really used."""
        return self._value

    def __repr__(self) -> str:
        return f"Sensitive({REDACTED})"

    def __str__(self) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sensitive) and bool(self._value == other._value)

    def __hash__(self) -> int:
        return hash(self._value)
