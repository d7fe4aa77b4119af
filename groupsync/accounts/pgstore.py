"""A groupsync store in PostgreSQL: the same tables, rules above it and guarantees as SQLite.

- One transaction per apply, the state re-read inside it; writers serialize on a
  transaction-level advisory lock (waiting a bounded time, and saying so), so no update is lost.
- The audit trail and sent notices are append-only in the database itself (triggers refuse
  UPDATE, DELETE and TRUNCATE).
- Every row written to the state tables moves the version of the account and username it is
  about (schema 6, sql.py), whoever writes it; a saved plan compares the versions it was made
  from. groupsync's own flush moves each key once, not once per row (see `_versioned`).
- Tables live in the connection's search_path: `?options=-csearch_path%3Dname` in the URL
  keeps several stores (or test runs) apart in one database.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from groupsync.accounts.model import State
from groupsync.accounts.sql import (
    BUMP_VERSION,
    MIGRATION_ROWS,
    MIGRATIONS,
    Conn,
    SqlStorage,
    SqlWrite,
    _load,
    schema_ddl,
    tables_ddl,
    version_keys,
)
from groupsync.accounts.storage import (
    BUSY_TIMEOUT_S,
    SCHEMA_VERSION,
    Dirty,
    Scope,
    WaitCallback,
    check_schema_version,
    utcnow,
)
from groupsync.accounts.urls import redact, redact_text
from groupsync.errors import StoreBusy, StoreError, StoreNotFound

LOCK_KEY = 0x47535943  # pg_advisory_xact_lock key: "GSYC"

_TRIGGERS = "\n".join(
    f"CREATE TRIGGER {t}_counts AFTER INSERT OR UPDATE OR DELETE ON {t} "
    "FOR EACH ROW EXECUTE FUNCTION groupsync_count_write();"
    for t in ("accounts", "usernames", "access", "codes")
)

_V1 = tables_ddl("postgresql") + f"""
CREATE SEQUENCE write_count_seq;
CREATE FUNCTION groupsync_count_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM nextval('write_count_seq'); RETURN NULL; END $$;
{_TRIGGERS}
CREATE FUNCTION groupsync_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION groupsync_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION groupsync_append_only();
CREATE TRIGGER notices_append_only BEFORE UPDATE OR DELETE ON notices
    FOR EACH ROW EXECUTE FUNCTION groupsync_append_only();
CREATE TRIGGER notices_no_truncate BEFORE TRUNCATE ON notices
    FOR EACH STATEMENT EXECUTE FUNCTION groupsync_append_only();
"""
SCHEMA = schema_ddl("postgresql", _V1)


class _PgConn:
    """psycopg behind the `?` placeholders the shared SQL is written with."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.raw = conn

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self.raw.execute(sql.replace("?", "%s"), params or None)

    def batch(self, statements: list[tuple[str, tuple[object, ...]]]) -> list[Any]:
        """Statements independent of one another in one round trip (pipeline mode); their
        cursors hold every row once it ends."""
        with self.raw.pipeline():
            cursors = [self.raw.execute(sql.replace("?", "%s"), params or None)
                       for sql, params in statements]
        return cursors

    def executemany(self, sql: str, rows: Any) -> Any:
        rows = list(rows)
        if not rows:
            return None
        with self.raw.cursor() as cur:
            cur.executemany(sql.replace("?", "%s"), rows)
        return None


class PgWrite(SqlWrite):
    @contextlib.contextmanager
    def _versioned(self, dirty: Dirty) -> Iterator[None]:
        """The row trigger stands aside while the flush writes (`groupsync.versioned`, for
        this transaction only), then every key the flush touched moves once."""
        self.conn.execute("SELECT set_config('groupsync.versioned', 'on', true)")
        yield
        self.conn.execute("SELECT set_config('groupsync.versioned', 'off', true)")
        self.conn.executemany(BUMP_VERSION, [(k,) for k in version_keys(dirty)])


class PostgresStorage(SqlStorage):
    def __init__(self, url: str, on_wait: WaitCallback | None = None) -> None:
        self._local = threading.local()
        self.url = url
        self.location = redact(url)
        self.on_wait = on_wait

    def _error(self, exc: Exception) -> StoreError:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        text = redact_text(text, self.url)
        if isinstance(exc, psycopg.errors.LockNotAvailable):
            return StoreBusy(f"store {self.location} is locked by another groupsync process "
                             f"(waited {BUSY_TIMEOUT_S:.0f}s); try again when it has finished")
        read_only = (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege)
        if isinstance(exc, read_only):
            return StoreError(f"store {self.location} is read-only for this user ({text}); "
                              "nothing was changed")
        if isinstance(exc, psycopg.errors.DiskFull):
            return StoreError(f"store {self.location}: the database's disk is full; "
                              "nothing was changed")
        return StoreError(f"store {self.location}: {text}")

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(f"can't connect to store {self.location}: "
                             f"{redact_text(str(exc).strip().splitlines()[0], self.url)}") \
                from exc

    # -- creating and opening --------------------------------------------------------------

    def schema_version(self) -> int | None:
        """The store's schema version, or None when this database holds no groupsync store."""
        with self._reader() as conn:
            found = conn.execute("SELECT to_regclass('meta')").fetchone()[0]
            if found is None:
                return None
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("application") != "groupsync":
            raise StoreError(f"{self.location} has a meta table that is not a groupsync store's")
        return int(meta.get("schema_version", 0))

    @classmethod
    def create(cls, url: str) -> PostgresStorage:
        store = cls(url)
        if store.schema_version() is not None:
            raise StoreError(f"{store.location} already holds a groupsync store")
        try:
            with contextlib.closing(store._connect()) as conn, conn.transaction():
                conn.execute(SCHEMA)
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES ('application', 'groupsync'), "
                    "('schema_version', %s), ('lineage', %s), ('revision', '0'), "
                    "('created_at', %s)",
                    (str(SCHEMA_VERSION), str(uuid.uuid4()), utcnow()),
                )
        except psycopg.Error as exc:
            raise store._error(exc) from exc
        return store

    def migrate(self) -> int:
        """Apply every schema step after the store's own, in one write transaction (holding
        the writers' lock); returns the version found."""
        with self.write() as tx:
            row = tx.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'"
                                  ).fetchone()
            found = int(row[0]) if row else 0
            for version in range(found + 1, SCHEMA_VERSION + 1):
                tx.conn.execute(tables_ddl("postgresql", MIGRATIONS[version]))
                if version in MIGRATION_ROWS:
                    tx.conn.execute("ALTER TABLE audit DISABLE TRIGGER audit_append_only")
                    MIGRATION_ROWS[version](tx.conn)
                    tx.conn.execute("ALTER TABLE audit ENABLE TRIGGER audit_append_only")
                tx.conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                                (str(version),))
        return found

    _RETRYABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)

    @contextlib.contextmanager
    def _bookkeeping(self) -> Iterator[Conn]:
        """Log-in bookkeeping in its own short transaction, without the writers' advisory
        lock: a failed log-in is counted at once, even while a long apply holds that lock.
        Row locks on the throttle rows keep concurrent counts right."""
        conn = self._held()
        try:
            # in pipeline mode: the statements whose rows nothing reads yet go out together,
            # with the BEGIN before them and the COMMIT after (a log-in's two transactions
            # were 17 round trips)
            with conn.pipeline(), conn.transaction():
                yield _PgConn(conn)
        except psycopg.Error as exc:
            self._drop()
            raise self._error(exc) from exc

    @classmethod
    def open(cls, url: str, on_wait: WaitCallback | None = None) -> PostgresStorage:
        store = cls(url, on_wait)
        version = store.schema_version()
        if version is None:
            raise StoreNotFound(
                f"no groupsync store in {store.location}; create one with 'groupsync store "
                "init' (or 'groupsync sandbox' to try things)"
            )
        check_schema_version(store.location, version)
        return store

    # -- reading and writing ----------------------------------------------------------------

    @contextlib.contextmanager
    def _reader(self) -> Iterator[Conn]:
        conn = self._held()
        try:
            yield _PgConn(conn)
        except psycopg.Error as exc:
            self._drop()
            raise self._error(exc) from exc
        finally:
            if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
                try:
                    conn.execute("ROLLBACK")
                except psycopg.Error:
                    self._drop()

    def _held(self) -> psycopg.Connection[Any]:
        """This thread's connection for reads and log-in bookkeeping, made once and kept: a
        PostgreSQL connection is a server process, and `serve` answers every request with a
        few short reads, so opening one per read would cost more than the reads."""
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's kept connection (another thread's closes when it ends)."""
        self._drop()

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def read_state(self, scope: Scope | None = None) -> State:
        with self._reader() as conn:
            # one snapshot for every table, as SQLite's read transaction gives; begun and
            # ended in the read's first and last round trips (a failure between them is
            # rolled back by _reader)
            return _load(conn, scope, ("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", ()),
                         ("COMMIT", ()))

    @contextlib.contextmanager
    def write(self) -> Iterator[SqlWrite]:
        conn = self._connect()
        try:
            conn.execute("BEGIN")
            self._lock(conn)
            tx = PgWrite(_PgConn(conn))
            try:
                yield tx
            except BaseException:
                with contextlib.suppress(psycopg.Error):
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except psycopg.Error as exc:
            with contextlib.suppress(psycopg.Error):
                conn.execute("ROLLBACK")
            raise self._error(exc) from exc
        finally:
            conn.close()

    def _lock(self, conn: psycopg.Connection[Any]) -> None:
        """Serialize writers on one advisory lock held to the end of the transaction."""
        got = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (LOCK_KEY,)).fetchone()
        if got and got[0]:
            return
        if self.on_wait is not None:
            self.on_wait(f"waiting for another groupsync process to finish writing "
                         f"{self.location} (up to {BUSY_TIMEOUT_S:.0f}s)")
        conn.execute(f"SET LOCAL lock_timeout = '{int(BUSY_TIMEOUT_S * 1000)}ms'")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        conn.execute("SET LOCAL lock_timeout = 0")
