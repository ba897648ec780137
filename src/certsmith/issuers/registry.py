"""Which issuer implementations exist: the built-in ones plus installed plugins.

Nothing registers itself at import time (cert-manager's side-effect imports make the set of
issuers depend on which packages happened to be imported). The built-ins are listed here, and
plugins come from the ``certsmith.issuers`` entry-point group when :func:`load` is called.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from importlib.metadata import entry_points

from certsmith.issuers.acme import AcmeIssuer
from certsmith.issuers.base import Issuer
from certsmith.issuers.ca import CAIssuer
from certsmith.issuers.selfsigned import SelfSignedIssuer

log = logging.getLogger(__name__)

BUILTIN: tuple[type[Issuer], ...] = (SelfSignedIssuer, CAIssuer, AcmeIssuer)
ENTRY_POINT_GROUP = "certsmith.issuers"


def build(classes: Iterable[type[Issuer]]) -> dict[str, Issuer]:
    """Instantiate issuers keyed by the Issuer spec key they own (``ca``, ``selfSigned``...).

    Raises:
        ValueError: two issuers claim the same spec key.
    """
    issuers: dict[str, Issuer] = {}
    for cls in classes:
        if cls.spec_key in issuers:
            raise ValueError(f"two issuers claim spec key {cls.spec_key!r}")
        issuers[cls.spec_key] = cls()
    return issuers


def load(*, plugins: bool = True) -> Mapping[str, Issuer]:
    """Return the built-in issuers and, unless disabled, the installed plugins.

    A plugin that fails to load or clashes with a known spec key is logged and skipped, so one
    broken package cannot stop the controllers.
    """
    issuers = build(BUILTIN)
    if not plugins:
        return issuers
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
            key = cls.spec_key
            if key in issuers:
                raise ValueError(f"spec key {key!r} is already served")
            issuers[key] = cls()
        except Exception:
            log.exception("skipping issuer plugin %s", ep.name)
    return issuers
