"""The account system: accounts, usernames, joins, privileges, code files and the audit trail.

Public surface: `open_system(store)` / `create_system(store)` give an `AccountSystem`; its
`session()` is one logged-in username in one transaction. Storage backends live behind
`storage.Storage`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from groupsync.accounts.urls import is_postgres_url, redact
from groupsync.errors import StoreError, StoreNotFound

if TYPE_CHECKING:
    from groupsync.accounts.model import State, state_digest
    from groupsync.accounts.service import AccountSystem, Session
    from groupsync.accounts.storage import AuditEntry, Storage

# Loaded on first use (PEP 562), so that importing a light submodule (urls, memo) does not
# import the whole account system: the command line's start-up depends on it.
_LAZY = {"AccountSystem": "service", "Session": "service", "State": "model",
         "state_digest": "model", "AuditEntry": "storage"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"groupsync.accounts.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def store_path(store: str) -> Path:
    """Where a SQLite --store value points: a path, or a URL as SQLAlchemy reads it."""
    if store.startswith("sqlite://"):
        rest = store[len("sqlite://"):]
        if not rest.startswith("/") or rest == "/":
            raise StoreError(f"bad store URL {store!r}: use sqlite:///relative.db or "
                             "sqlite:////absolute.db")
        return Path(rest[1:])  # sqlite:///x -> x (relative); sqlite:////x -> /x
    if "://" in store:
        scheme = store.split("://", 1)[0]
        raise StoreError(
            f"store {redact(store)}: {scheme} stores are not supported (use a SQLite path, "
            "sqlite:///file.db or postgresql://user@host/database)"
        )
    return Path(store)


def _storage(store: str, on_wait: Callable[[str], None] | None = None) -> Storage:
    from groupsync.accounts.sqlite import SqliteStorage

    if is_postgres_url(store):
        from groupsync.accounts.pgstore import PostgresStorage

        return PostgresStorage.open(store, on_wait)
    return SqliteStorage.open(store_path(store), on_wait)


def open_system(store: str, on_wait: Callable[[str], None] | None = None) -> AccountSystem:
    """Open an existing store; `on_wait` is told once if a write must wait for a lock."""
    from groupsync.accounts.service import AccountSystem

    return AccountSystem(_storage(store, on_wait))


def store_exists(store: str) -> bool:
    if is_postgres_url(store):
        from groupsync.accounts.pgstore import PostgresStorage

        return PostgresStorage(store).schema_version() is not None
    return store_path(store).exists()


def create_system(store: str) -> AccountSystem:
    """Create the store (`groupsync store init`); refuses one that exists."""
    from groupsync.accounts.service import AccountSystem
    from groupsync.accounts.sqlite import SqliteStorage

    if is_postgres_url(store):
        from groupsync.accounts.pgstore import PostgresStorage

        return AccountSystem(PostgresStorage.create(store))
    return AccountSystem(SqliteStorage.create(store_path(store)))


def migrate_store(store: str) -> str:
    """Move an older store's schema forward (`groupsync store migrate`); says what it did."""
    from groupsync.accounts.sqlite import SqliteStorage
    from groupsync.accounts.storage import SCHEMA_VERSION, check_schema_version

    if is_postgres_url(store):
        from groupsync.accounts.pgstore import PostgresStorage

        found = PostgresStorage(store).schema_version()
        location = redact(store)
        if found is None:
            raise StoreNotFound(f"no groupsync store in {location}; create one with "
                                "'groupsync store init'")
    else:
        path = store_path(store)
        if not path.exists():
            raise StoreNotFound(f"no store at {path}; create one with 'groupsync store init'")
        found, location = SqliteStorage.version_of(path), str(path)
    if not check_schema_version(location, found, migrating=True):
        return f"store {location} is at schema version {found}, the current one; nothing to do"
    if is_postgres_url(store):
        from groupsync.accounts.pgstore import PostgresStorage

        PostgresStorage(store).migrate()
    else:
        SqliteStorage(store_path(store)).migrate()
    said = {2: "log-in throttling is now per name and client address; tokens are kept in "
               "the store",
            3: "sent notices list their accounts as rows, read per account",
            4: "each username's last log-in is kept, for idle policies",
            5: "access reviews and break-glass applies are found by an index",
            6: "each account and username has a version, so a saved plan is stale only when "
               "a row it was made from changed",
            7: "the audit trail is a hash chain (groupsync log --verify checks it), and log's "
               "filters are indexed"}
    what = "; ".join(said[v] for v in range(found + 1, SCHEMA_VERSION + 1) if v in said)
    return (f"migrated store {location} from schema version {found} to {SCHEMA_VERSION} "
            f"({what})")


__all__ = [
    "AccountSystem",
    "AuditEntry",
    "Session",
    "State",
    "create_system",
    "migrate_store",
    "open_system",
    "state_digest",
    "store_exists",
    "store_path",
]
