"""Tunables of the object store, and the compaction policy as a pure function.

Compaction decides how far back watches can resume and continue tokens stay valid. The
default keeps **at least the last 10,000 revisions and at least the last 5 minutes** of
history: a watcher that reconnects within five minutes, or after fewer than 10,000 changes,
resumes without a re-list (kube-apiserver compacts etcd every 5 minutes for the same reason).
The policy is a function of samples ``(monotonic time, revision)`` so tests need no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Synchronous(StrEnum):
    """SQLite's ``synchronous`` setting for the write connection.

    ``FULL`` (the default) fsyncs the WAL at every commit, so an acknowledged write survives
    power loss as well as ``kill -9``. ``NORMAL`` survives ``kill -9`` (the WAL is in the OS
    page cache) but may lose the last commits on power loss; only for throwaway stores.
    """

    FULL = "FULL"
    NORMAL = "NORMAL"


@dataclass(frozen=True, slots=True)
class CompactionPolicy:
    """How much history the background compactor keeps.

    Raises:
        ValueError: a negative or zero setting.
    """

    keep_revisions: int = 10_000
    keep_seconds: float = 300.0
    interval_seconds: float = 60.0
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.keep_revisions < 0:
            raise ValueError("CompactionPolicy.keep_revisions must be >= 0")
        if self.keep_seconds < 0:
            raise ValueError("CompactionPolicy.keep_seconds must be >= 0")
        if self.interval_seconds <= 0:
            raise ValueError("CompactionPolicy.interval_seconds must be > 0")


@dataclass(frozen=True, slots=True)
class StoreOptions:
    """Everything :meth:`Store.open` can be told.

    Raises:
        ValueError: a size below 1.
    """

    synchronous: Synchronous = Synchronous.FULL
    compaction: CompactionPolicy = field(default_factory=CompactionPolicy)
    readers: int = 4
    """Threads (each with its own SQLite connection) serving get, list and watch catch-up."""
    max_batch: int = 1_000
    """Most writes committed in one transaction (group commit)."""
    watch_cache_events: int = 10_000
    """Recent events kept in memory for watchers; older ones are read back from SQLite."""
    compaction_chunk: int = 5_000
    """Most revisions compacted per transaction, so writes are never held up for long."""

    def __post_init__(self) -> None:
        for name in ("readers", "max_batch", "watch_cache_events", "compaction_chunk"):
            if getattr(self, name) < 1:
                raise ValueError(f"StoreOptions.{name} must be >= 1")


def compaction_target(
    policy: CompactionPolicy,
    current: int,
    samples: Sequence[tuple[float, int]],
    now: float,
) -> int:
    """The revision up to which history may be compacted now (0 = nothing).

    Args:
        policy: what to keep.
        current: the store's current revision.
        samples: ``(monotonic time, revision)`` pairs the caller recorded, oldest first.
        now: the current monotonic time.

    Returns:
        The largest revision that is both ``keep_revisions`` behind ``current`` and was
        already reached ``keep_seconds`` ago.
    """
    by_count = current - policy.keep_revisions
    by_age = 0
    for when, revision in samples:
        if now - when >= policy.keep_seconds:
            by_age = revision
        else:
            break
    return max(0, min(by_count, by_age))
