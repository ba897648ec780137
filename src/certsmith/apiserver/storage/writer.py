"""The single writer thread: revisions, group commit and compaction.

Decisions made here:

* **One writer owns the revision counter.** Every create, update and delete gets the next
  integer, so committed revisions are dense (1, 2, 3, …) and strictly increasing across all
  resources. A batch that fails to commit gives its revisions back.
* **Group commit.** The thread takes one request, then drains whatever else is queued (up to
  ``max_batch``) and runs them all in one ``BEGIN IMMEDIATE … COMMIT``. While one commit's
  fsync runs, new requests pile up and become the next batch, so throughput grows with
  concurrency instead of being capped at one fsync per write. No request waits on a timer.
* **Acknowledge after commit.** Callers' futures are resolved only after ``COMMIT`` returned,
  in one ``call_soon_threadsafe`` per batch that also publishes the batch's events to
  watchers, first, in revision order. A caller that sees its write acknowledged and then
  starts a watch cannot miss it.
* A request that fails its own checks (NotFound, Conflict, unencodable object) changes
  nothing and fails alone; a SQLite error fails the whole batch, which is rolled back.
* **Compaction runs here too**, in chunks of ``compaction_chunk`` revisions per transaction;
  an unfinished compaction goes to the back of the queue so writes interleave with it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from certsmith.apiserver.storage.errors import (
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    StoreClosedError,
)
from certsmith.apiserver.storage.model import (
    EventType,
    JSONObject,
    ObjectKey,
    WatchEvent,
    decode,
    encode,
)
from certsmith.apiserver.storage.schema import EVENT_ADDED, EVENT_DELETED, EVENT_MODIFIED

log = logging.getLogger(__name__)

_KEY_WHERE: Final = "grp = ? AND resource = ? AND namespace = ? AND name = ?"
_INSERT_LOG: Final = (
    "INSERT INTO log (revision, grp, resource, namespace, name, event, value, prev_revision) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True, slots=True)
class Written:
    """A write's outcome: the stored JSON and its revision."""

    raw: bytes
    revision: int


Outcome: TypeAlias = "Written | int | BaseException"


@dataclass(eq=False)
class Request:
    """Base of the requests the writer runs; ``future`` lives on the store's loop."""

    future: asyncio.Future[Written | int]


@dataclass(eq=False)
class CreateRequest(Request):
    """Create ``key`` with ``obj``."""

    key: ObjectKey
    obj: JSONObject


@dataclass(eq=False)
class UpdateRequest(Request):
    """Replace ``key`` with ``obj`` if the stored revision is ``expected`` (or any if ``None``)."""

    key: ObjectKey
    obj: JSONObject
    expected: str | None


@dataclass(eq=False)
class DeleteRequest(Request):
    """Delete ``key`` if the stored revision is ``expected`` (or any if ``None``)."""

    key: ObjectKey
    expected: str | None


@dataclass(eq=False)
class CompactRequest(Request):
    """Compact history up to ``target``; resolves to the new compacted revision."""

    target: int


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one batch did, handed to the loop in one callback."""

    outcomes: list[tuple[Request, Outcome]]
    events: list[WatchEvent]
    revision: int
    compacted: int


_STOP: Final = object()


@dataclass(eq=False)
class Writer:
    """Runs requests on ``conn`` in a thread of its own; see the module docstring."""

    conn: sqlite3.Connection
    revision: int
    compacted: int
    loop: asyncio.AbstractEventLoop
    deliver: Callable[[BatchResult], None]
    max_batch: int
    compaction_chunk: int
    commits: int = 0
    """Write transactions committed so far (read from other threads: a statistic only)."""
    _queue: queue.SimpleQueue[object] = field(default_factory=queue.SimpleQueue)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="certsmith-store-writer")
        self._thread.start()

    def submit(self, request: Request) -> None:
        """Queue a request; its future resolves once it has been committed (or failed)."""
        self._queue.put(request)

    def stop(self) -> None:
        """Finish the queued requests, close the connection, end the thread (blocks)."""
        self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        try:
            stopping = False
            while not stopping:
                first = self._queue.get()
                if first is _STOP:
                    break
                batch: list[Request] = [first]  # type: ignore[list-item]
                while len(batch) < self.max_batch:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is _STOP:
                        stopping = True
                        break
                    batch.append(more)  # type: ignore[arg-type]
                writes = [r for r in batch if not isinstance(r, CompactRequest)]
                if writes:
                    self._publish(self._commit(writes))
                for request in batch:
                    if isinstance(request, CompactRequest):
                        self._publish(self._compact(request, requeue=not stopping))
        finally:
            self.conn.close()
            self._fail_leftovers()

    def _fail_leftovers(self) -> None:
        leftovers: list[tuple[Request, Outcome]] = []
        while True:
            try:
                request = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(request, Request):
                leftovers.append((request, StoreClosedError()))
        if leftovers:
            self._publish(BatchResult(leftovers, [], self.revision, self.compacted))

    def _publish(self, result: BatchResult) -> None:
        try:
            self.loop.call_soon_threadsafe(self.deliver, result)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            log.warning("store writer: event loop closed, %d results dropped", len(result.outcomes))

    def _commit(self, batch: list[Request]) -> BatchResult:
        base = self.revision
        outcomes: list[tuple[Request, Outcome]] = []
        events: list[WatchEvent] = []
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                for request in batch:
                    outcome, event = self._apply(request)
                    outcomes.append((request, outcome))
                    if event is not None:
                        events.append(event)
                if self.revision != base:
                    self.conn.execute(
                        "UPDATE meta SET value = ? WHERE key = 'revision'", (self.revision,)
                    )
                self.conn.execute("COMMIT")
                self.commits += 1
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        except Exception as exc:  # a SQLite failure: nothing of the batch was committed
            log.exception("store writer: batch of %d failed", len(batch))
            self.revision = base
            return BatchResult([(r, exc) for r in batch], [], base, self.compacted)
        return BatchResult(outcomes, events, self.revision, self.compacted)

    def _apply(self, request: Request) -> tuple[Outcome, WatchEvent | None]:
        """Check and apply one request inside the open transaction.

        Checks and encoding come first and may fail the request alone; the statements that
        change rows come last and any error there aborts the batch.
        """
        try:
            if isinstance(request, CreateRequest):
                return self._create(request)
            if isinstance(request, UpdateRequest):
                return self._update(request)
            if isinstance(request, DeleteRequest):
                return self._delete(request)
        except (NotFoundError, AlreadyExistsError, ConflictError, TypeError, ValueError) as exc:
            return exc, None
        raise AssertionError(f"unknown request {request!r}")

    def _row(self, key: ObjectKey) -> tuple[int, bytes] | None:
        row = self.conn.execute(
            f"SELECT revision, value FROM current WHERE {_KEY_WHERE}",  # noqa: S608
            (key.group, key.resource, key.namespace, key.name),
        ).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def _create(self, request: CreateRequest) -> tuple[Outcome, WatchEvent | None]:
        key = request.key
        if self._row(key) is not None:
            raise AlreadyExistsError(key)
        revision = self.revision + 1
        raw = encode(request.obj, str(revision))
        self.revision = revision
        parts = (key.group, key.resource, key.namespace, key.name)
        self.conn.execute(_INSERT_LOG, (revision, *parts, EVENT_ADDED, raw, 0))
        self.conn.execute(
            "INSERT INTO current (grp, resource, namespace, name, revision, value) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (*parts, revision, raw),
        )
        return Written(raw, revision), WatchEvent(EventType.ADDED, revision, key, raw)

    def _update(self, request: UpdateRequest) -> tuple[Outcome, WatchEvent | None]:
        key = request.key
        row = self._row(key)
        if row is None:
            raise NotFoundError(key)
        stored_revision, stored = row
        if request.expected and request.expected != str(stored_revision):
            raise ConflictError(key)
        if encode(request.obj, str(stored_revision)) == stored:
            return Written(stored, stored_revision), None  # a no-op keeps its revision
        revision = self.revision + 1
        raw = encode(request.obj, str(revision))
        self.revision = revision
        parts = (key.group, key.resource, key.namespace, key.name)
        self.conn.execute(_INSERT_LOG, (revision, *parts, EVENT_MODIFIED, raw, stored_revision))
        self.conn.execute(
            f"UPDATE current SET revision = ?, value = ? WHERE {_KEY_WHERE}",  # noqa: S608
            (revision, raw, *parts),
        )
        return Written(raw, revision), WatchEvent(EventType.MODIFIED, revision, key, raw, stored)

    def _delete(self, request: DeleteRequest) -> tuple[Outcome, WatchEvent | None]:
        key = request.key
        row = self._row(key)
        if row is None:
            raise NotFoundError(key)
        stored_revision, stored = row
        if request.expected and request.expected != str(stored_revision):
            raise ConflictError(key)
        revision = self.revision + 1
        raw = encode(decode(stored), str(revision))
        self.revision = revision
        parts = (key.group, key.resource, key.namespace, key.name)
        self.conn.execute(_INSERT_LOG, (revision, *parts, EVENT_DELETED, raw, stored_revision))
        self.conn.execute(f"DELETE FROM current WHERE {_KEY_WHERE}", parts)  # noqa: S608
        return Written(raw, revision), WatchEvent(EventType.DELETED, revision, key, raw, stored)

    def _compact(self, request: CompactRequest, *, requeue: bool) -> BatchResult:
        """Compact one chunk; requeue the request if the target is further away."""
        old = self.compacted
        target = min(request.target, self.revision)
        upto = min(target, old + self.compaction_chunk)
        if upto > old:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    # A row is superseded when a later row of its key, at or below `upto`,
                    # names it as prev_revision; tombstones at or below `upto` go too.
                    self.conn.execute(
                        "DELETE FROM log WHERE revision IN (SELECT prev_revision FROM log "
                        "WHERE revision > ? AND revision <= ? AND prev_revision > 0)",
                        (old, upto),
                    )
                    self.conn.execute(
                        "DELETE FROM log WHERE revision > ? AND revision <= ? AND event = ?",
                        (old, upto, EVENT_DELETED),
                    )
                    self.conn.execute("UPDATE meta SET value = ? WHERE key = 'compacted'", (upto,))
                    self.conn.execute("COMMIT")
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
            except Exception as exc:
                log.exception("store writer: compaction to %d failed", upto)
                return BatchResult([(request, exc)], [], self.revision, self.compacted)
            self.compacted = upto
        if upto < target and requeue:
            self._queue.put(request)
            return BatchResult([], [], self.revision, self.compacted)
        return BatchResult([(request, self.compacted)], [], self.revision, self.compacted)
