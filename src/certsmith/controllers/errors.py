"""Errors a reconciler raises on purpose to be retried with the work queue's backoff.

The manager treats any exception as "retry with per-item exponential backoff" (SPEC §0.4).
:class:`RetryLater` is the planned form: raised after a reconcile has saved what it could, it is
logged at info level without a traceback. It lives in the runtime, which handles it.
"""

from __future__ import annotations

from certsmith.controllers.runtime.manager import RetryLater

__all__ = ["RetryLater"]
