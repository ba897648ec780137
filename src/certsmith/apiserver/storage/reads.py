"""The read queries of the object store, run in reader threads on their own connections.

Each read that needs more than one statement runs in one read transaction, so it sees one
WAL snapshot: the revision it reports, the compacted revision it checks and the rows it
returns all belong together.

Latest-state lists read ``current``. A list at an older revision (a continue token whose
list was overtaken by writes, or ``resourceVersionMatch=Exact``) reads the newest ``log`` row
of each key at or below that revision, walking the ``(grp, resource, namespace, name,
revision)`` index in key order, so pages come out ordered without a sort.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from certsmith.apiserver.storage.errors import (
    ContinueExpiredError,
    GoneError,
    TooLargeResourceVersionError,
)
from certsmith.apiserver.storage.model import (
    EventType,
    JSONObject,
    ObjectKey,
    ResourcePrefix,
    WatchEvent,
    decode,
)
from certsmith.apiserver.storage.schema import EVENT_ADDED, EVENT_DELETED, EVENT_MODIFIED

Predicate = Callable[[JSONObject], bool]

_EVENT_TYPES = {
    EVENT_ADDED: EventType.ADDED,
    EVENT_MODIFIED: EventType.MODIFIED,
    EVENT_DELETED: EventType.DELETED,
}


@dataclass(frozen=True, slots=True)
class Page:
    """What :func:`list_page` found."""

    revision: int
    items: list[JSONObject]
    raws: list[bytes]
    keys: list[tuple[str, str]]
    last: tuple[str, str] | None
    """The last key returned, when more keys follow it."""
    remaining: int | None


def get(conn: sqlite3.Connection, key: ObjectKey) -> bytes | None:
    """The stored JSON of ``key``, or ``None``."""
    row = conn.execute(
        "SELECT value FROM current WHERE grp = ? AND resource = ? AND namespace = ? AND name = ?",
        (key.group, key.resource, key.namespace, key.name),
    ).fetchone()
    return None if row is None else bytes(row[0])


def _counters(conn: sqlite3.Connection) -> tuple[int, int]:
    rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('revision', 'compacted')"))
    return int(rows["revision"]), int(rows["compacted"])


def _where(
    prefix: ResourcePrefix, after: tuple[str, str] | None, table: str = ""
) -> tuple[str, list[Any]]:
    clauses = [f"{table}grp = ?", f"{table}resource = ?"]
    params: list[Any] = [prefix.group, prefix.resource]
    if prefix.namespace is not None:
        clauses.append(f"{table}namespace = ?")
        params.append(prefix.namespace)
    if after is not None:
        clauses.append(f"({table}namespace, {table}name) > (?, ?)")
        params.extend(after)
    return " AND ".join(clauses), params


def _list_sql(
    prefix: ResourcePrefix, after: tuple[str, str] | None, at: int | None, *, count: bool
) -> tuple[str, list[Any]]:
    where, params = _where(prefix, after)
    if at is None:
        if count:
            return f"SELECT count(*) FROM current WHERE {where}", params  # noqa: S608
        return (
            f"SELECT namespace, name, value FROM current WHERE {where} "  # noqa: S608
            "ORDER BY namespace, name",
            params,
        )
    # The newest row per key at or below `at` (SQLite takes bare columns from the max() row);
    # a key whose newest row is a tombstone did not exist then.
    newest = (
        "SELECT namespace, name, event, value, max(revision) FROM log "  # noqa: S608
        f"WHERE {where} AND revision <= ? GROUP BY namespace, name"
    )
    params.append(at)
    if count:
        return f"SELECT count(*) FROM ({newest}) WHERE event != {EVENT_DELETED}", params  # noqa: S608
    return (
        f"SELECT namespace, name, value FROM ({newest}) WHERE event != {EVENT_DELETED} "  # noqa: S608
        "ORDER BY namespace, name",
        params,
    )


def list_page(
    conn: sqlite3.Connection,
    prefix: ResourcePrefix,
    *,
    at: int | None,
    after: tuple[str, str] | None,
    limit: int | None,
    predicate: Predicate | None,
    continuing: bool,
) -> Page:
    """Read one page of ``prefix`` ordered by (namespace, name), as of revision ``at``.

    Args:
        conn: a reader connection.
        prefix: which keys.
        at: the revision to read at; ``None`` for the latest.
        after: start after this (namespace, name).
        limit: most items to return; ``None`` for all.
        predicate: keep only the objects it accepts; pages still hold up to ``limit`` of them.
        continuing: whether ``at`` comes from a continue token (selects the 410 message).

    Raises:
        TooLargeResourceVersionError: ``at`` is beyond the last committed revision.
        ContinueExpiredError: ``at`` was compacted and ``continuing`` is set.
        GoneError: ``at`` was compacted.
    """
    conn.execute("BEGIN")
    try:
        revision, compacted = _counters(conn)
        if at is not None:
            if at > revision:
                raise TooLargeResourceVersionError(at, revision)
            if at < compacted:
                if continuing:
                    raise ContinueExpiredError(at, compacted)
                raise GoneError(at, compacted)
            if at == revision:
                at = None  # `current` is exactly the state at `revision`: the fast path
            else:
                revision = at
        sql, params = _list_sql(prefix, after, at, count=False)
        items: list[JSONObject] = []
        raws: list[bytes] = []
        keys: list[tuple[str, str]] = []
        last: tuple[str, str] | None = None
        cursor = conn.execute(sql, params)
        try:
            for namespace, name, value in cursor:
                raw = bytes(value)
                obj = decode(raw)
                if predicate is not None and not predicate(obj):
                    continue
                items.append(obj)
                raws.append(raw)
                keys.append((namespace, name))
                if limit is not None and len(items) >= limit:
                    if cursor.fetchone() is not None:
                        last = (namespace, name)
                    break
        finally:
            cursor.close()
        remaining: int | None = None
        if last is not None and predicate is None:
            sql, params = _list_sql(prefix, last, at, count=True)
            (remaining,) = conn.execute(sql, params).fetchone()
        return Page(revision, items, raws, keys, last, remaining)
    finally:
        conn.execute("COMMIT")


def events(
    conn: sqlite3.Connection, prefix: ResourcePrefix, after: int, upper: int, limit: int
) -> list[WatchEvent]:
    """The logged changes under ``prefix`` with ``after < revision <= upper``, oldest first.

    Raises:
        GoneError: changes just after ``after`` have been compacted away.
    """
    conn.execute("BEGIN")
    try:
        _, compacted = _counters(conn)
        if after < compacted:
            raise GoneError(after, compacted)
        where, params = _where(prefix, None, "l.")
        rows = conn.execute(
            "SELECT l.revision, l.namespace, l.name, l.event, l.value, p.value "  # noqa: S608
            "FROM log AS l LEFT JOIN log AS p ON p.revision = l.prev_revision "
            f"WHERE l.revision > ? AND l.revision <= ? AND {where} ORDER BY l.revision LIMIT ?",
            [after, upper, *params, limit],
        ).fetchall()
    finally:
        conn.execute("COMMIT")
    return [
        WatchEvent(
            _EVENT_TYPES[event],
            revision,
            ObjectKey(prefix.group, prefix.resource, namespace, name),
            bytes(value),
            None if prev is None else bytes(prev),
        )
        for revision, namespace, name, event, value, prev in rows
    ]
