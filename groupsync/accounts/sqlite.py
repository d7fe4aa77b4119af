"""A groupsync store in one SQLite file: the backend under the shared SQL (sql.py)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from groupsync.accounts.model import State
from groupsync.accounts.sql import (
    _WRITE_COUNT_TRIGGERS,
    MIGRATION_ROWS,
    MIGRATIONS,
    Conn,
    SqlStorage,
    SqlWrite,
    _load,
    schema_ddl,
    tables_ddl,
)
from groupsync.accounts.storage import (
    BUSY_TIMEOUT_S,
    SCHEMA_VERSION,
    Scope,
    WaitCallback,
    check_schema_version,
    utcnow,
)
from groupsync.errors import StoreBusy, StoreError, StoreNotFound

# PRAGMA application_id marks a groupsync store, so an unrelated SQLite file is refused
# before anything reads or writes it.
APPLICATION_ID = 0x47535943  # "GSYC"

# Append-only tables, refused in the store itself, whoever writes to it.
_SQLITE_APPEND_ONLY = "\n".join(
    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;"
    for table in ("audit", "notices") for event in ("UPDATE", "DELETE")
)
_AUDIT_NO_UPDATE = next(t for t in _SQLITE_APPEND_ONLY.splitlines() if "audit_no_update" in t)
_SCHEMA = schema_ddl("sqlite", tables_ddl("sqlite") + _WRITE_COUNT_TRIGGERS + "\n"
                     + _SQLITE_APPEND_ONLY + "\n")

# One writer a file in this process: its threads (`serve`'s requests, a fleet's practices)
# queue on a lock that hands over the moment a transaction ends, instead of polling SQLite's
# file lock with sleeps of 20 ms and more, which cost a log-in as much as its password hash.
# Re-entrant, so a nested write on one thread fails on SQLite's lock as it always has.
_WRITERS: dict[str, threading.RLock] = {}
_WRITERS_LOCK = threading.Lock()


def _writer_lock(path: Path) -> threading.RLock:
    key = os.path.realpath(path)
    with _WRITERS_LOCK:
        lock = _WRITERS.get(key)
        if lock is None:
            lock = _WRITERS[key] = threading.RLock()
    return lock


def _store_error(location: str, exc: sqlite3.Error) -> StoreError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StoreBusy(
            f"store {location} is locked by another groupsync process "
            f"(waited {BUSY_TIMEOUT_S:.0f}s); try again when it has finished"
        )
    if "readonly" in text or "read-only" in text:
        return StoreError(f"store {location} is read-only; nothing was changed")
    if "disk is full" in text or "disk I/O error" in text:
        return StoreError(f"store {location}: {text}; nothing was changed")
    if "not a database" in text or "malformed" in text:
        return StoreError(f"{location} is not a groupsync store ({text})")
    return StoreError(f"store {location}: {text}")




def _statements(script: str) -> list[str]:
    """A script's statements one by one (executescript would commit the transaction
    first); sqlite3 says where each ends, comments with semicolons included."""
    out: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            out.append(buffer)
            buffer = ""
    if buffer.strip():
        out.append(buffer)
    return out


class SqliteStorage(SqlStorage):
    """A groupsync store in one SQLite file."""

    def __init__(self, path: Path, on_wait: WaitCallback | None = None) -> None:
        self.path = path
        self.location = str(path)
        # Told once when a write has to wait for another process's lock, so a user sees why
        # groupsync is idle instead of a silent hang.
        self.on_wait = on_wait
        self._local = threading.local()
        self._writers = _writer_lock(path)

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path) -> SqliteStorage:
        """Create a new, empty store readable by its owner only."""
        path = Path(path)
        try:
            # O_EXCL: never clobber an existing file; 0600: the store holds password hashes.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
        except FileExistsError as exc:
            raise StoreError(f"{path} already exists") from exc
        except OSError as exc:
            raise StoreError(f"can't create store {path}: {exc.strerror}") from exc
        store = cls(path)
        try:
            with contextlib.closing(store._connect()) as conn:
                # Schema, marks and meta rows in one transaction: a crash leaves an empty file
                # (refused as "not a groupsync store"), never a store without a lineage.
                lineage, now = str(uuid.uuid4()), utcnow()
                conn.executescript(
                    "BEGIN;"
                    + _SCHEMA
                    + f"PRAGMA application_id = {APPLICATION_ID};"
                    + f"PRAGMA user_version = {SCHEMA_VERSION};"
                    + "INSERT INTO meta(key, value) VALUES "
                    + f"('lineage', '{lineage}'), ('revision', '0'), "
                    + f"('created_at', '{now}');"
                    + "COMMIT;"
                )
        except sqlite3.Error as exc:
            path.unlink(missing_ok=True)
            raise _store_error(str(path), exc) from exc
        return store

    @classmethod
    def open(cls, path: Path, on_wait: WaitCallback | None = None) -> SqliteStorage:
        """Open an existing store, refusing files that are not one or are from a newer version."""
        path = Path(path)
        if not path.exists():
            raise StoreNotFound(
                f"no store at {path}; create one with 'groupsync sandbox' "
                "or point --store / GROUPSYNC_STORE at an existing one"
            )
        if path.is_dir():
            raise StoreError(f"{path} is a directory, not a groupsync store")
        store = cls(path, on_wait)
        store._check()
        return store

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN ourselves, so a transaction is exactly what we say.
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    @classmethod
    def version_of(cls, path: Path) -> int:
        """The schema version of a groupsync store file; refuses any other file."""
        location = str(path)
        try:
            with contextlib.closing(cls(path)._connect()) as conn:
                app_id = conn.execute("PRAGMA application_id").fetchone()[0]
                version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            raise _store_error(location, exc) from exc
        if app_id != APPLICATION_ID:
            raise StoreError(f"{location} is not a groupsync store")
        return version

    def migrate(self) -> int:
        """Apply every schema step after the store's own, in one write transaction; returns
        the version found."""
        with self.write() as tx:
            found = int(tx.conn.execute("PRAGMA user_version").fetchone()[0])
            for version in range(found + 1, SCHEMA_VERSION + 1):
                for statement in _statements(tables_ddl("sqlite", MIGRATIONS[version])):
                    tx.conn.execute(statement)
                if version in MIGRATION_ROWS:
                    tx.conn.execute("DROP TRIGGER audit_no_update")
                    MIGRATION_ROWS[version](tx.conn)
                    tx.conn.execute(_AUDIT_NO_UPDATE)
                tx.conn.execute(f"PRAGMA user_version = {int(version)}")
        return found

    def _check(self) -> None:
        check_schema_version(self.location, self.version_of(self.path))

    # -- reading ---------------------------------------------------------------------------

    def read_state(self, scope: Scope | None = None) -> State:
        with self._reader() as conn:
            conn.execute("BEGIN")  # one read transaction: a consistent snapshot
            try:
                return _load(conn, scope)
            finally:
                conn.execute("COMMIT")

    @contextlib.contextmanager
    def _reader(self) -> Iterator[Conn]:
        conn = self._held("read")
        try:
            yield conn
        except sqlite3.Error as exc:
            self._drop("read")  # closing it ends any read it had open
            raise _store_error(self.location, exc) from exc
        except BaseException:
            if conn.in_transaction:  # a read cut short by another error: never left open
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise

    def _held(self, use: str) -> sqlite3.Connection:
        """This thread's connection for reads, or for writes, made once and kept while the
        store is the same file: a fleet's plan and `serve` make a few short reads and writes
        a practice (a log-in's bookkeeping is three), and a new connection costs more than
        they do (it parses the schema again). Reads and writes never share one, so a read
        made inside a write transaction can't end it. A file replaced or removed under a
        long-running `serve` is opened afresh, as it would be without this."""
        try:
            seen = os.stat(self.path)
            identity: tuple[int, int] | None = (seen.st_dev, seen.st_ino)
        except OSError:
            identity = None
        held: tuple[sqlite3.Connection, tuple[int, int] | None] | None = \
            getattr(self._local, use, None)
        if held is not None:
            if identity is not None and held[1] == identity:
                return held[0]
            self._drop(use)
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            raise _store_error(self.location, exc) from exc
        setattr(self._local, use, (conn, identity))
        return conn

    def close(self) -> None:
        """Close this thread's kept connections (another thread's close when it ends, or
        when they are collected: an sqlite3 connection lives in a reference cycle with its
        own statement cache, so only close() frees its file at once)."""
        self._drop("read")
        self._drop("write")

    def _drop(self, use: str) -> None:
        held = getattr(self._local, use, None)
        setattr(self._local, use, None)
        if held is not None:
            with contextlib.suppress(sqlite3.Error):
                held[0].close()

    # -- writing ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def write(self) -> Iterator[SqlWrite]:
        """One exclusive write transaction: committed on success, rolled back on any error."""
        if not self._writers.acquire(timeout=BUSY_TIMEOUT_S):
            raise _store_error(self.location, sqlite3.OperationalError("database is locked"))
        conn = None
        own = False  # a connection of this write's own, closed after it
        try:
            held = self._held("write")
            if held.in_transaction:
                # a write inside a write on this thread: its own connection, which waits for
                # the outer one's lock and gives up, as it always has, never touching it
                own = True
                conn = self._connect()
            else:
                conn = held
            self._begin_immediate(conn)
            tx = SqlWrite(conn)
            try:
                yield tx
            except BaseException:
                # SQLite may already have rolled back by itself (SQLITE_FULL, I/O errors):
                # never let a failing ROLLBACK hide the error that caused it.
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn is not None and conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if not own:
                self._drop("write")  # an I/O error, a full disk: the next write starts clean
                conn = None
            raise _store_error(self.location, exc) from exc
        finally:
            if own and conn is not None:
                conn.close()
            elif conn is not None and conn.in_transaction:
                self._drop("write")  # a ROLLBACK that failed: closing it rolls back
            self._writers.release()

    def _begin_immediate(self, conn: sqlite3.Connection) -> None:
        """Take the write lock now (so the state we load can't change under us), waiting a
        bounded time for another writer and saying so."""
        conn.execute("PRAGMA busy_timeout = 0")
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        delay = 0.02
        told = False
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise
                if not told and self.on_wait is not None:
                    self.on_wait(f"waiting for another groupsync process to finish writing "
                                 f"{self.location} (up to {BUSY_TIMEOUT_S:.0f}s)")
                    told = True
                time.sleep(delay)
                delay = min(delay * 2, 0.25)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")


