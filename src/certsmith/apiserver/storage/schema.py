"""The SQLite schema and connection settings of the object store.

Three tables, kine style:

``log``
    One row per create, update and delete, keyed by ``revision`` (the resourceVersion).
    ``value`` is the object's JSON as it was after the change (for a delete: the last state
    carrying the deletion's revision); ``prev_revision`` points at the row it superseded
    (0 for a creation). Compaction removes superseded rows and tombstones at or below the
    compacted revision, so any revision from the compacted one on can still be read exactly.
``current``
    The live objects, clustered by key, for fast get and latest-state lists.
``meta``
    ``revision`` (the last committed revision: compaction may delete the newest log row, a
    tombstone, so ``max(log.revision)`` alone could move backwards), ``compacted`` and
    ``schema``.

The file is created 0600 before SQLite opens it; SQLite gives its ``-wal`` and ``-shm``
files the database file's mode. WAL lets readers run beside the single writer.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Final

from certsmith.apiserver.storage.options import Synchronous

DB_FILE: Final = "store.sqlite3"
LOCK_FILE: Final = "store.lock"
SCHEMA_VERSION: Final = 1

EVENT_ADDED: Final = 0
EVENT_MODIFIED: Final = 1
EVENT_DELETED: Final = 2

_DDL: Final = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log (
    revision      INTEGER PRIMARY KEY,
    grp           TEXT NOT NULL,
    resource      TEXT NOT NULL,
    namespace     TEXT NOT NULL,
    name          TEXT NOT NULL,
    event         INTEGER NOT NULL,
    value         BLOB NOT NULL,
    prev_revision INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS log_by_key ON log (grp, resource, namespace, name, revision);
CREATE TABLE IF NOT EXISTS current (
    grp       TEXT NOT NULL,
    resource  TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    revision  INTEGER NOT NULL,
    value     BLOB NOT NULL,
    PRIMARY KEY (grp, resource, namespace, name)
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', 1), ('revision', 0), ('compacted', 0);
"""


class SchemaError(RuntimeError):
    """The database file was written by an incompatible version of certsmith."""


def db_path(data_dir: Path) -> Path:
    """The database file inside a data directory."""
    return data_dir / DB_FILE


def create_private_file(path: Path) -> None:
    """Create ``path`` readable by its owner only, if it does not exist; tighten it if it does."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def connect_writer(path: Path, synchronous: Synchronous) -> sqlite3.Connection:
    """Open the one write connection, switch the file to WAL and create the schema.

    Raises:
        SchemaError: the file has a schema version this code does not know.
        sqlite3.Error: SQLite could not open or set up the file.
    """
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise SchemaError(f"{path}: SQLite refused WAL mode (got {mode})")
        conn.execute(f"PRAGMA synchronous={synchronous.value}")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.executescript(_DDL)
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise SchemaError(f"{path}: schema version {version}, expected {SCHEMA_VERSION}")
    except BaseException:
        conn.close()
        raise
    return conn


def connect_reader(path: Path) -> sqlite3.Connection:
    """Open a read-only connection (one per reader thread).

    Raises:
        sqlite3.Error: SQLite could not open the file.
    """
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA query_only=1")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def read_counters(conn: sqlite3.Connection) -> tuple[int, int]:
    """``(revision, compacted)``: the last committed revision and the compacted one."""
    rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('revision', 'compacted')"))
    (max_logged,) = conn.execute("SELECT coalesce(max(revision), 0) FROM log").fetchone()
    return max(int(rows["revision"]), int(max_logged)), int(rows["compacted"])
