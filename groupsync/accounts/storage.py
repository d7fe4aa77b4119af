"""Storage under the account system: the interface every backend speaks.

The account system (service.py) holds the rules; a backend only reads the rows a question
concerns (a `Scope`) and writes back the rows a transaction touched, in bulk. `sql.py` is the
SQL every backend shares; `sqlite.py` and `pgstore.py` are the two backends.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from groupsync import clock
from groupsync.accounts.model import Privileges, State, User, ukey

SCHEMA_VERSION = 7


def check_schema_version(location: str, found: int, migrating: bool = False) -> bool:
    """The one reading of a store's schema version, for opening (`migrating` False) and for
    `store migrate`: raises StoreError for one this groupsync can't use; True when a migration
    has work to do."""
    from groupsync.errors import StoreError

    if found > SCHEMA_VERSION:
        raise StoreError(f"store {location} has schema version {found}, newer than this "
                         f"groupsync understands ({SCHEMA_VERSION}); upgrade groupsync")
    if found < SCHEMA_VERSION and not migrating:
        raise StoreError(f"store {location} has schema version {found}, older than this "
                         f"groupsync's ({SCHEMA_VERSION}); run 'groupsync store migrate'")
    if found < 1:
        raise StoreError(f"store {location} has schema version {found}, which no released "
                         f"groupsync wrote; there is no migration from it to {SCHEMA_VERSION}")
    return found < SCHEMA_VERSION
BUSY_TIMEOUT_S = 10.0


WaitCallback = Callable[[str], None]  # told once when a write has to wait for a lock


def utcnow(seconds: float | None = None) -> str:
    """The time as the store writes it, from the one clock (`clock.now`: GROUPSYNC_NOW fixes
    it for audit entries, sign-ups and creation times as for tokens, trials and locks)."""
    moment = clock.now() if seconds is None else seconds
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class AuditEntry:
    action: str  # add | change | remove | signup | login_failed | ...
    type: str  # practice_setup | username | join | privileges | code | account | login
    actor: str
    account: str | None = None
    username: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)  # before/after/file/key; never a secret
    revision: int = 0
    at: str = ""
    id: int = 0
    actor_id: str | None = None  # the acting username's id (None for unknown names, v1 rows)
    username_id: str | None = None  # the id of the username the entry is about


def day_end(day: str) -> str:
    """What every time the store writes on `day` (YYYY-MM-DD) sorts before, and the next
    day's after: '…T23:59:59Z' < '…T99' < the next day (no date arithmetic, so 9999-12-31
    works too)."""
    return f"{day}T99"


@dataclass(frozen=True)
class AuditQuery:
    """`log`'s filters, combined (docs/contracts.md, "The audit trail"): each narrows the
    entries, in the query, over an index."""

    since: str | None = None  # YYYY-MM-DD: entries from the start of that day (UTC)
    until: str | None = None  # YYYY-MM-DD: entries to the end of that day (UTC)
    username: str | None = None  # entries by or about this name, ignoring case
    account: str | None = None
    revision: int | None = None
    entry: int | None = None  # one entry, by id

    def clauses(self) -> tuple[list[str], list[object]]:
        """SQL conditions (ANDed) and their parameters; both dialects."""
        where: list[str] = []
        params: list[object] = []
        if self.since:
            where.append("at >= ?")
            params.append(self.since)  # '2026-12-07T…' sorts after '2026-12-07'
        if self.until:
            where.append("at < ?")
            params.append(day_end(self.until))
        if self.username:
            # the name as the entry wrote it, whatever its id: a breach inquiry asks about a
            # name, and entries from before ids (schema 1) have only the name
            where.append("(lower(actor) = ? OR lower(username) = ?)")
            params += [self.username.lower(), self.username.lower()]
        if self.account:
            where.append("account = ?")
            params.append(self.account)
        if self.revision is not None:
            where.append("revision = ?")
            params.append(self.revision)
        if self.entry is not None:
            where.append("id = ?")
            params.append(self.entry)
        return where, params


def audit_subject(type: str, username: str | None, detail: dict[str, Any]) -> str | None:
    """What in its account an entry set: 'u:' + a username (its access there), 'c:FILE:KEY'
    (a code record), 's:' (the Practice Set-up); None for the rest."""
    if type in ("username", "join", "privileges") and username:
        return "u:" + ukey(username)
    if type == "code":
        return f"c:{detail.get('file')}:{detail.get('key')}"
    if type == "practice_setup":
        return "s:"
    return None



@dataclass(frozen=True)
class ChainCheck:
    """What `log --verify` found: the entries checked, and the first that breaks the chain
    (None when it holds), with why."""

    entries: int
    head: str  # the last entry's link (keep it: a trail cut short at its end is found by it)
    broken: int | None = None
    why: str = ""


@dataclass(frozen=True)
class LoggedIn:
    """What a person's successful log-in leaves in the store, with its throttle's settling,
    in one short transaction: when it was (for `idle` policies) and, through the service,
    the token it was given (its hash only)."""

    user_id: str
    at: str  # ISO time, UTC
    token_hash: str | None = None
    credential: str = ""  # the password's fingerprint the token is bound to
    expires_at: float = 0.0


@dataclass(frozen=True)
class ReviewStatus:
    """The newest access review of a practice's accounts, and the break-glass markers
    written since it (docs/contracts.md, "Reviews")."""

    last: AuditEntry | None = None
    break_glass: tuple[AuditEntry, ...] = ()


@dataclass
class Dirty:
    """Keys a transaction touched; flush writes their final state (or deletes them)."""

    accounts: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    access: set[tuple[str, str]] = field(default_factory=set)
    codes: set[tuple[str, str, str]] = field(default_factory=set)
    gone_ids: set[str] = field(default_factory=set)  # ids of usernames deleted: tokens end
    reset_ids: set[str] = field(default_factory=set)  # ids given a new password: tokens and
    # log-in locks end

    def __bool__(self) -> bool:
        return bool(self.accounts or self.users or self.access or self.codes)


class Storage(Protocol):
    """What the account system needs from a store."""

    location: str

    def close(self) -> None:
        """Close what this thread holds open (kept connections)."""
        ...

    def read_state(self, scope: Scope | None = None) -> State: ...

    def write(self) -> contextlib.AbstractContextManager[WriteTransaction]: ...

    def read_audit(self, limit: int | None,
                   about: tuple[list[str], str] | None = None,
                   query: AuditQuery | None = None) -> list[AuditEntry]: ...

    def verify_chain(self) -> ChainCheck: ...

    def latest_entries(self, cells: list[tuple[str, str]]) -> list[AuditEntry]: ...

    def read_history(self, accounts: list[str], after: int
                     ) -> tuple[list[AuditEntry], dict[str, int]]: ...

    def revision_at(self, day_end: str) -> int: ...

    def read_user(self, ukey: str) -> User | None: ...

    def read_user_by_id(self, user_id: str) -> User | None: ...

    def access_of(self, ukey: str) -> dict[str, Privileges]: ...

    def existing_usernames(self, ukeys: list[str]) -> set[str]: ...

    def accounts_of(self, ukey: str) -> list[str]: ...

    def login_throttle(self, ukey: str, address: str, now: float) -> tuple[float, bool]: ...

    def claim_login_attempt(self, subject: str, address: str, now: float,
                            limits: ThrottleLimits) -> float: ...

    def record_login_failure(self, ukey: str, address: str, entry: AuditEntry, now: float,
                             limits: ThrottleLimits, claimed: bool = False) -> bool: ...

    def record_login_refused(self, ukey: str, address: str) -> None: ...

    def claim_signup(self, address: str, now: float, limit: int, window: float) -> float: ...

    def claim_quota(self, kind: str, holder: str, now: float, limit: int, window: float,
                    amount: int = 1) -> float: ...

    def login_succeeded(self, ukey: str, address: str, now: float, entry: AuditEntry,
                        claimed: bool = False, counted: bool = True,
                        logged_in: LoggedIn | None = None) -> None: ...

    def issue_token(self, token_hash: str, user_id: str, credential: str,
                    expires_at: float, now: float) -> None: ...

    def token_owner(self, token_hash: str, now: float) -> User | None: ...

    def record_notice(self, practice_name: str, tin: str, providers: list[dict[str, object]],
                      entry: AuditEntry) -> None: ...

    def record_entries(self, entries: list[AuditEntry]) -> int: ...

    def latest_of_type(self, type: str, accounts: list[str]) -> dict[str, AuditEntry]: ...

    def people(self, user_ids: list[str]) -> dict[str, tuple[str | None, bool]]: ...

    def entries_of_type(self, type: str, accounts: list[str],
                        after_id: int = 0) -> list[AuditEntry]: ...


class WriteTransaction(Protocol):
    def load_state(self, scope: Scope | None = None) -> State: ...

    def versions(self, keys: list[str]) -> dict[str, int]: ...

    def find_user(self, ukey: str) -> bool: ...

    def find_account(self, account_id: str) -> bool: ...

    def login_throttle(self, ukey: str, address: str, now: float) -> tuple[float, bool]: ...

    def record_logins(self, user_ids: list[str], at: str) -> None: ...

    def people(self, user_ids: list[str]) -> dict[str, tuple[str | None, bool]]: ...

    def keep_people(self, rows: list[tuple[str, str | None, bool]]) -> None: ...

    def clear_login_throttle(self, subjects: dict[str, AuditEntry], address: str,
                             now: float) -> None: ...

    def flush(self, state: State, dirty: Dirty, audit: list[AuditEntry], revision: int) -> None: ...


@dataclass(frozen=True)
class Scope:
    """The rows a question concerns, so its cost follows the practice, not the store.

    `accounts` and the usernames that can open them; `usernames` (casefolded) named besides,
    wherever they live (a name the file would create must be seen if it is taken). With
    `closure`, also every account those usernames can open and everyone there, which is what
    a write needs: deleting a username checks the lockout guard in every account it could
    open. Code files are read for the accounts in scope."""

    accounts: frozenset[str]
    usernames: frozenset[str] = frozenset()
    closure: bool = True


@dataclass(frozen=True)
class ThrottleLimits:
    max_failures: int  # failed log-ins in a row from one address before the name is locked
    lock_seconds: float
    address_max_failures: int  # failed log-ins from one address, any names, in a window
    address_window: float
    address_lock_seconds: float


def credential_of(password_hash: str) -> str:
    """What a token remembers of the password it was issued against: a new password (or a
    username deleted and made again) changes it, so the token ends."""
    return hashlib.sha256(password_hash.encode()).hexdigest()



