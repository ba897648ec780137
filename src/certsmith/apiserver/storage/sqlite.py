"""The object store: durable JSON objects with resourceVersions, lists and watches, on SQLite.

This is certsmith's etcd (kube-apiserver's ``storage.Interface``). It knows nothing of uid,
generation, status or finalizers: it stores the objects it is handed under their keys and
gives every change the next revision of one global counter.

Decisions made here (details in the modules named):

* **Durability:** WAL with ``synchronous=FULL`` by default: a write is acknowledged only after
  its commit's fsync, so it survives ``kill -9`` and power loss. Group commit
  (:mod:`~certsmith.apiserver.storage.writer`) pays one fsync for every write that was
  waiting, so FULL costs latency, not throughput.
* **Threads:** one writer thread owns the only write connection and the revision counter;
  a small pool of reader threads, each with its own connection, serves get, list and watch
  catch-up. The event loop never runs a SQLite statement.
* **Namespaces in memory:** every namespaced create asks whether its Namespace exists, so the
  current Namespaces (a handful of small objects) are also kept in a dict, loaded at open and
  updated on the loop from each committed batch before it is acknowledged; a get of a
  Namespace reads it there, without a hop to a reader thread (profiled: that hop was ~5% of
  ``serve``'s time creating CertificateRequests). It sees exactly what a reader would after
  the acknowledgement, because acknowledgements come after the update.
* **One store per data directory:** an exclusive ``flock`` on ``store.lock``; the kernel drops
  it when the process dies, so a killed process never leaves a stale lock behind.
* **Compaction:** a background task compacts what the
  :class:`~certsmith.apiserver.storage.options.CompactionPolicy` lets go (by default keeping
  the last 10,000 revisions and the last 5 minutes).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import fcntl
import functools
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Concatenate, Final, ParamSpec, Self, TypeVar

import orjson

from certsmith.apiserver.storage import reads, schema
from certsmith.apiserver.storage.errors import (
    ConflictError,
    GoneError,
    InvalidArgumentError,
    NotFoundError,
    StoreClosedError,
    StoreLockedError,
    TooLargeResourceVersionError,
)
from certsmith.apiserver.storage.model import (
    Continuation,
    EventType,
    JSONObject,
    ListResult,
    ObjectKey,
    ResourcePrefix,
    ResourceVersionMatch,
    WatchEvent,
    decode,
    parse_revision,
)
from certsmith.apiserver.storage.options import StoreOptions, compaction_target
from certsmith.apiserver.storage.reads import Predicate
from certsmith.apiserver.storage.watch import EventHub, Watch
from certsmith.apiserver.storage.writer import (
    BatchResult,
    CompactRequest,
    CreateRequest,
    DeleteRequest,
    Request,
    UpdateRequest,
    Writer,
    Written,
)

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

UpdateFunc = Callable[[JSONObject], JSONObject | None]
"""Given the current object (a private copy), return the new one, or ``None`` for no change."""

_GUARANTEED_UPDATE_ATTEMPTS: Final = 16
_IN_MEMORY: Final = (("", "namespaces"),)
"""(group, resource) whose current objects the store also keeps in memory (module docstring)."""

_Memory = dict[tuple[str, str], dict[tuple[str, str], bytes]]


def _load_memory(conn: sqlite3.Connection) -> _Memory:
    """The current objects of the :data:`_IN_MEMORY` resources, by (namespace, name)."""
    memory: _Memory = {}
    for group, resource in _IN_MEMORY:
        rows = conn.execute(
            "SELECT namespace, name, value FROM current WHERE grp = ? AND resource = ?",
            (group, resource),
        )
        memory[(group, resource)] = {(ns, name): bytes(value) for ns, name, value in rows}
    return memory


class _Readers:
    """A thread pool whose threads each keep one read-only connection."""

    def __init__(self, path: Path, size: int) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(size, thread_name_prefix="certsmith-store-read")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = schema.connect_reader(self._path)
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def _call(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        return fn(self._conn(), *args, **kwargs)

    async def run(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        loop = asyncio.get_running_loop()
        call = functools.partial(self._call, fn, *args, **kwargs)
        return await loop.run_in_executor(self._executor, call)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()


def _check_object(key: ObjectKey, obj: JSONObject) -> None:
    if not isinstance(key, ObjectKey):
        raise TypeError(f"key must be an ObjectKey, not {type(key).__name__}")
    if not isinstance(obj, dict):
        raise TypeError(f"obj must be a dict, not {type(obj).__name__}")
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        raise ValueError("obj.metadata must be an object")
    if metadata.get("name") != key.name:
        raise ValueError(
            f"obj.metadata.name {metadata.get('name')!r} is not the key's {key.name!r}"
        )
    if (metadata.get("namespace") or "") != key.namespace:
        raise ValueError(
            f"obj.metadata.namespace {metadata.get('namespace')!r} is not the key's "
            f"{key.namespace!r}"
        )


def _lock_data_dir(data_dir: Path) -> int:
    fd = os.open(data_dir / schema.LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreLockedError(str(data_dir)) from None
    return fd


class Store:
    """The durable object store. Open with :meth:`open`, close with :meth:`close`.

    All methods must be called from the event loop the store was opened on.
    """

    def __init__(
        self,
        *,
        data_dir: Path,
        options: StoreOptions,
        lock_fd: int,
        conn: sqlite3.Connection,
        revision: int,
        compacted: int,
        memory: _Memory,
    ) -> None:
        """Use :meth:`open`; this wires already-opened parts together."""
        loop = asyncio.get_running_loop()
        self._memory = memory
        self._data_dir = data_dir
        self._options = options
        self._lock_fd = lock_fd
        self._closed = False
        self._readers = _Readers(schema.db_path(data_dir), options.readers)
        self._hub = EventHub(revision, compacted, options.watch_cache_events, self._read_events)
        self._writer = Writer(
            conn=conn,
            revision=revision,
            compacted=compacted,
            loop=loop,
            deliver=self._deliver,
            max_batch=options.max_batch,
            compaction_chunk=options.compaction_chunk,
        )
        self._writer.start()
        self._compactor: asyncio.Task[None] | None = None
        if options.compaction.enabled:
            self._compactor = loop.create_task(self._compact_periodically())

    @classmethod
    async def open(
        cls, data_dir: str | os.PathLike[str], *, options: StoreOptions | None = None
    ) -> Self:
        """Open (creating if needed) the store in ``data_dir``.

        The directory is created 0700, the database file 0600. Reopening continues from the
        last committed revision.

        Args:
            data_dir: the directory that holds ``store.sqlite3`` and ``store.lock``.
            options: tunables; the defaults suit a server.

        Returns:
            The open store.

        Raises:
            StoreLockedError: another store has the directory open.
            certsmith.apiserver.storage.schema.SchemaError: the file is from an unknown version.
            sqlite3.Error: SQLite could not open the file.
            OSError: the directory cannot be created or locked.
        """
        opts = options or StoreOptions()
        path = Path(data_dir)

        def setup() -> tuple[int, sqlite3.Connection, int, int, _Memory]:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            lock_fd = _lock_data_dir(path)
            try:
                db = schema.db_path(path)
                schema.create_private_file(db)
                conn = schema.connect_writer(db, opts.synchronous)
                try:
                    revision, compacted = schema.read_counters(conn)
                    memory = _load_memory(conn)
                except BaseException:
                    conn.close()
                    raise
            except BaseException:
                os.close(lock_fd)
                raise
            return lock_fd, conn, revision, compacted, memory

        lock_fd, conn, revision, compacted, memory = await asyncio.to_thread(setup)
        return cls(
            data_dir=path,
            options=opts,
            lock_fd=lock_fd,
            conn=conn,
            revision=revision,
            compacted=compacted,
            memory=memory,
        )

    # -- writes ------------------------------------------------------------------------------

    async def create(self, key: ObjectKey, obj: JSONObject) -> JSONObject:
        """Store a new object; returns it as stored, with its ``metadata.resourceVersion``.

        Raises:
            AlreadyExistsError: ``key`` exists.
            StoreClosedError: the store is closed.
            TypeError: ``obj`` is not a JSON object or holds something JSON cannot express.
            ValueError: ``obj.metadata`` is missing or names another key.
        """
        _check_object(key, obj)
        written = await self._write(lambda f: CreateRequest(f, key, obj))
        return decode(written.raw)

    async def update(
        self, key: ObjectKey, obj: JSONObject, *, expected_rv: str | None = None
    ) -> JSONObject:
        """Replace an object; returns it as stored.

        If ``obj`` equals the stored object (its own resourceVersion aside) nothing is written
        and the stored object, with its unchanged resourceVersion, is returned.

        Args:
            key: the object.
            obj: the new object; its ``metadata.resourceVersion`` is ignored and replaced.
            expected_rv: the resourceVersion the caller read; ``None`` or ``""`` for any.

        Raises:
            NotFoundError: ``key`` does not exist.
            ConflictError: the stored resourceVersion is not ``expected_rv``.
            StoreClosedError: the store is closed.
            TypeError: ``obj`` is not a JSON object or holds something JSON cannot express.
            ValueError: ``obj.metadata`` is missing or names another key.
        """
        _check_object(key, obj)
        written = await self._write(lambda f: UpdateRequest(f, key, obj, expected_rv))
        return decode(written.raw)

    async def delete(self, key: ObjectKey, *, expected_rv: str | None = None) -> JSONObject:
        """Remove an object; returns its last state carrying the deletion's new resourceVersion.

        Raises:
            NotFoundError: ``key`` does not exist.
            ConflictError: the stored resourceVersion is not ``expected_rv``.
            StoreClosedError: the store is closed.
        """
        if not isinstance(key, ObjectKey):
            raise TypeError(f"key must be an ObjectKey, not {type(key).__name__}")
        written = await self._write(lambda f: DeleteRequest(f, key, expected_rv))
        return decode(written.raw)

    async def guaranteed_update(
        self,
        key: ObjectKey,
        fn: UpdateFunc,
        *,
        max_attempts: int = _GUARANTEED_UPDATE_ATTEMPTS,
    ) -> JSONObject:
        """Read, let ``fn`` change, and write back, retrying when another writer got in between.

        ``fn`` runs on the event loop and may run several times; it receives a private copy it
        may modify and return. Returning ``None`` (or an equal object) writes nothing.

        Raises:
            NotFoundError: ``key`` does not exist.
            ConflictError: ``max_attempts`` attempts all lost a race.
            StoreClosedError: the store is closed.
            Exception: whatever ``fn`` raises, unchanged.
        """
        for _ in range(max_attempts):
            raw = await self._get_raw(key)
            current = decode(raw)
            expected = current["metadata"]["resourceVersion"]
            changed = fn(current)
            if changed is None:
                return decode(raw)
            try:
                return await self.update(key, changed, expected_rv=expected)
            except ConflictError:
                continue
        raise ConflictError(key)

    async def _write(self, make: Callable[[asyncio.Future[Written | int]], Request]) -> Written:
        self._check_open()
        future: asyncio.Future[Written | int] = asyncio.get_running_loop().create_future()
        self._writer.submit(make(future))
        result = await future
        assert isinstance(result, Written)
        return result

    def _deliver(self, batch: BatchResult) -> None:
        """Runs on the loop: publish events first, then acknowledge, so acks imply visibility."""
        for event in batch.events:
            key = event.key
            table = None if key is None else self._memory.get((key.group, key.resource))
            if table is None or key is None:
                continue
            if event.type is EventType.DELETED:
                table.pop((key.namespace, key.name), None)
            else:
                table[(key.namespace, key.name)] = event.raw
        self._hub.publish(batch.events, batch.revision, batch.compacted)
        for request, outcome in batch.outcomes:
            if request.future.done():
                continue
            if isinstance(outcome, BaseException):
                request.future.set_exception(outcome)
            else:
                request.future.set_result(outcome)

    # -- reads -------------------------------------------------------------------------------

    async def get(self, key: ObjectKey) -> JSONObject:
        """The latest state of one object.

        Raises:
            NotFoundError: ``key`` does not exist.
            StoreClosedError: the store is closed.
        """
        return decode(await self._get_raw(key))

    async def _get_raw(self, key: ObjectKey) -> bytes:
        self._check_open()
        table = self._memory.get((key.group, key.resource))
        if table is not None:
            raw = table.get((key.namespace, key.name))
        else:
            raw = await self._readers.run(reads.get, key)
        if raw is None:
            raise NotFoundError(key)
        return raw

    def current_revision(self) -> int:
        """The newest revision whose write has been acknowledged (0 for an empty store)."""
        return self._hub.revision

    def write_transactions(self) -> int:
        """How many write transactions have committed since open (a statistic).

        With group commit this is usually far below the number of writes.
        """
        return self._writer.commits

    def compacted_revision(self) -> int:
        """The oldest revision lists and watches can still start from."""
        return self._hub.compacted

    async def watch(
        self,
        prefix: ResourcePrefix,
        *,
        from_rv: str | None = None,
        initial_events: bool = False,
    ) -> Watch:
        """Start watching the changes under ``prefix``.

        For kube's ``watch`` semantics the HTTP layer calls:

        * ``resourceVersion`` unset or ``"0"``: ``watch(prefix, initial_events=True)`` (and drops
          the closing ``BOOKMARK`` unless ``sendInitialEvents`` asked for it);
        * ``resourceVersion=N``: ``watch(prefix, from_rv="N")``: every change after N.

        Args:
            prefix: which keys.
            from_rv: deliver the changes with a revision above this one; ``None``, ``""`` or
                ``"0"`` mean "from now".
            initial_events: first yield ``ADDED`` for every object under ``prefix`` (in key
                order, at one consistent revision R), then a ``BOOKMARK`` at R, then every
                change after R. ``from_rv`` then only has to be at most the current revision.

        Returns:
            The watch; iterate it with ``async for``.

        Raises:
            GoneError: ``from_rv`` is older than the compacted revision.
            TooLargeResourceVersionError: ``from_rv`` is ahead of the store with ``initial_events``.
            InvalidArgumentError: ``from_rv`` is not a revision.
            StoreClosedError: the store is closed.
        """
        self._check_open()
        start = None if from_rv in (None, "", "0") else parse_revision(str(from_rv))
        if initial_events:
            if start is not None and start > self._hub.revision:
                raise TooLargeResourceVersionError(start, self._hub.revision)
            page = await self._readers.run(
                reads.list_page,
                prefix,
                at=None,
                after=None,
                limit=None,
                predicate=None,
                continuing=False,
            )
            initial = [
                WatchEvent(
                    EventType.ADDED,
                    int(obj["metadata"]["resourceVersion"]),
                    ObjectKey(prefix.group, prefix.resource, namespace, name),
                    raw,
                )
                for obj, raw, (namespace, name) in zip(
                    page.items, page.raws, page.keys, strict=True
                )
            ]
            bookmark = {"metadata": {"resourceVersion": str(page.revision)}}
            initial.append(
                WatchEvent(EventType.BOOKMARK, page.revision, None, orjson.dumps(bookmark))
            )
            return Watch(self._hub, prefix, page.revision, initial)
        if start is None:
            start = self._hub.revision
        elif start < self._hub.compacted:
            raise GoneError(start, self._hub.compacted)
        return Watch(self._hub, prefix, start, [])

    async def _read_events(
        self, prefix: ResourcePrefix, after: int, upper: int, limit: int
    ) -> builtins.list[WatchEvent]:
        return await self._readers.run(reads.events, prefix, after, upper, limit)

    # -- compaction --------------------------------------------------------------------------

    async def compact(self, revision: int) -> int:
        """Forget history at or below ``revision`` that no newer state needs.

        Afterwards every object's state at any revision from ``revision`` on can still be read
        and watched; older revisions answer 410. Compacting to or below the current compacted
        revision does nothing.

        Returns:
            The compacted revision after the call.

        Raises:
            ValueError: ``revision`` is negative or beyond the current revision.
            StoreClosedError: the store is closed.
        """
        if revision < 0 or revision > self._hub.revision:
            raise ValueError(
                f"cannot compact to revision {revision}: current revision is {self._hub.revision}"
            )
        self._check_open()
        if revision <= self._hub.compacted:
            return self._hub.compacted
        future: asyncio.Future[Written | int] = asyncio.get_running_loop().create_future()
        self._writer.submit(CompactRequest(future, revision))
        result = await future
        assert isinstance(result, int)
        return result

    async def _compact_periodically(self) -> None:
        policy = self._options.compaction
        samples: deque[tuple[float, int]] = deque([(time.monotonic(), self._hub.revision)])
        while True:
            await asyncio.sleep(policy.interval_seconds)
            now = time.monotonic()
            samples.append((now, self._hub.revision))
            while len(samples) > 1 and now - samples[1][0] >= policy.keep_seconds:
                samples.popleft()
            target = compaction_target(policy, self._hub.revision, samples, now)
            if target <= self._hub.compacted:
                continue
            try:
                await self.compact(target)
            except StoreClosedError:
                return
            except Exception:
                log.exception("background compaction to %d failed", target)

    # -- lifecycle ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError

    async def close(self) -> None:
        """Finish queued writes, end every watch, close all connections and the lock.

        Calling it again does nothing.
        """
        if self._closed:
            return
        self._closed = True
        if self._compactor is not None:
            self._compactor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._compactor
        await asyncio.to_thread(self._writer.stop)
        self._hub.close()
        await asyncio.to_thread(self._readers.close)
        os.close(self._lock_fd)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # `list` comes last: below it, the name means this method, not the builtin.
    async def list(
        self,
        prefix: ResourcePrefix,
        *,
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: str | None = None,
        resource_version_match: ResourceVersionMatch | None = None,
        predicate: Predicate | None = None,
    ) -> ListResult:
        """One page of the objects under ``prefix``, ordered by (namespace, name).

        Every page of a paginated list is read at the revision of the first page, however
        many writes happen in between.

        Args:
            prefix: which keys.
            limit: most items per page; ``None`` or 0 for all.
            continue_token: the previous page's ``continue_token``.
            resource_version: ``None``, ``""`` or ``"0"``: the latest state. ``"N"`` with
                ``resource_version_match`` ``None`` or ``NotOlderThan``: the latest state,
                which must be at least N. ``"N"`` with ``Exact``: the state at revision N.
            resource_version_match: see ``resource_version``.
            predicate: keep only matching objects (it runs in a reader thread and must be
                pure); a page still holds up to ``limit`` matches, and no
                ``remaining_item_count`` is given.

        Returns:
            The page.

        Raises:
            ContinueExpiredError: the continue token's revision was compacted.
            GoneError: an ``Exact`` revision was compacted.
            TooLargeResourceVersionError: the revision asked for is ahead of the store.
            InvalidArgumentError: a malformed resourceVersion or continue token, or both given.
            StoreClosedError: the store is closed.
            ValueError: a negative ``limit``.
        """
        self._check_open()
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        at: int | None = None
        after: tuple[str, str] | None = None
        continuing = False
        if continue_token:
            if resource_version not in (None, "", "0"):
                raise InvalidArgumentError(
                    "specifying resource version is not allowed when using continue"
                )
            token = Continuation.decode(continue_token)
            if (token.group, token.resource) != (prefix.group, prefix.resource) or (
                prefix.namespace is not None and token.namespace != prefix.namespace
            ):
                raise InvalidArgumentError("invalid continue token: it belongs to another list")
            at, after, continuing = token.revision, (token.namespace, token.name), True
        elif resource_version not in (None, ""):
            wanted = parse_revision(str(resource_version))
            if resource_version_match == ResourceVersionMatch.EXACT:
                if wanted == 0:
                    raise InvalidArgumentError(
                        'resourceVersionMatch "Exact" is forbidden for resourceVersion "0"'
                    )
                at = wanted
            elif wanted > self._hub.revision:
                raise TooLargeResourceVersionError(wanted, self._hub.revision)
        page = await self._readers.run(
            reads.list_page,
            prefix,
            at=at,
            after=after,
            limit=limit or None,
            predicate=predicate,
            continuing=continuing,
        )
        token_out = None
        if page.last is not None:
            token_out = Continuation(
                page.revision, prefix.group, prefix.resource, *page.last
            ).encode()
        return ListResult(
            items=page.items,
            raw_items=page.raws,
            resource_version=str(page.revision),
            continue_token=token_out,
            remaining_item_count=page.remaining,
        )
