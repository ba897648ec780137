"""Field paths as Kubernetes prints them in validation errors.

Decides the spelling of a path: dotted children (``spec.issuerRef.name``), list indices in
brackets (``spec.dnsNames[0]``) and map keys in brackets (``spec.additionalOutputFormats[type]``).
Error texts must equal cert-manager's word for word, so the path is built the same way
rather than by ad-hoc string formatting at each rule.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Path"]


@dataclass(frozen=True)
class Path:
    """An immutable field path; every step returns a new path."""

    text: str

    @classmethod
    def root(cls, *names: str) -> Path:
        """Start a path at ``names[0]`` and descend through the rest."""
        if not names:
            raise ValueError("a path needs at least one name")
        return cls(names[0]).child(*names[1:])

    def child(self, *names: str) -> Path:
        """Descend into named fields: ``Path("spec").child("a", "b")`` is ``spec.a.b``."""
        text = self.text
        for name in names:
            text = f"{text}.{name}" if text else name
        return Path(text)

    def index(self, position: int) -> Path:
        """Select a list element: ``spec.dnsNames[0]``."""
        return Path(f"{self.text}[{position}]")

    def key(self, name: str) -> Path:
        """Select a map entry (or a list keyed by a field): ``spec.x[name]``."""
        return Path(f"{self.text}[{name}]")

    def __str__(self) -> str:
        return self.text
