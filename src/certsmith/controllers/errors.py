"""Errors a reconciler raises on purpose to be retried with the work queue's backoff.

The manager treats any exception as "retry with per-item exponential backoff" (SPEC §0.4). A
reconciler that has finished its work for now (written a Pending status, say) but must look again
later raises :class:`RetryLater` after its write; the message says why, without internals.
"""

from __future__ import annotations

from certsmith.api.errors import CertsmithError


class RetryLater(CertsmithError):  # noqa: N818 - an instruction to the manager, not a failure
    """Retry this key with backoff; the reconcile has already saved what it could."""
