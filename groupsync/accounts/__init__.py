"""The account system: accounts, usernames, joins, privileges, code files and the audit trail.

Public surface: `open_system(store)` / `create_system(store)` give an `AccountSystem`; its
`session()` is one logged-in username in one transaction. Storage backends live behind
`storage.Storage`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from groupsync.accounts.model import AREAS, CODE_FILE_NAMES, LEVELS, State, state_digest
from groupsync.accounts.service import AccountSystem, Session
from groupsync.accounts.storage import AuditEntry, SqliteStorage
from groupsync.errors import StoreError


def store_path(store: str) -> Path:
    """Where a --store value points: a path, or a URL as SQLAlchemy reads it."""
    if store.startswith("sqlite://"):
        rest = store[len("sqlite://"):]
        if not rest.startswith("/") or rest == "/":
            raise StoreError(f"bad store URL {store!r}: use sqlite:///relative.db or "
                             "sqlite:////absolute.db")
        return Path(rest[1:])  # sqlite:///x -> x (relative); sqlite:////x -> /x
    if "://" in store:
        scheme = store.split("://", 1)[0]
        raise StoreError(
            f"store {store!r}: {scheme} stores are not supported by this version of groupsync "
            "(use a SQLite path or sqlite:/// URL)"
        )
    return Path(store)


def open_system(store: str, on_wait: Callable[[str], None] | None = None) -> AccountSystem:
    """Open an existing store; `on_wait` is told once if a write must wait for a lock."""
    return AccountSystem(SqliteStorage.open(store_path(store), on_wait))


def create_system(store: str) -> AccountSystem:
    return AccountSystem(SqliteStorage.create(store_path(store)))


__all__ = [
    "AREAS",
    "CODE_FILE_NAMES",
    "LEVELS",
    "AccountSystem",
    "AuditEntry",
    "Session",
    "State",
    "create_system",
    "open_system",
    "state_digest",
    "store_path",
]
