"""The SQL every backend shares: the tables and their steps, the scoped read, bulk writes,
the audit trail, log-in bookkeeping and notices. Backends (sqlite.py, pgstore.py) provide the
connection, the write transaction and their dialect's few words."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from groupsync.accounts.history import ACCESS_TYPES
from groupsync.accounts.model import Account, Notice, Privileges, Record, State, User
from groupsync.accounts.storage import (
    SCHEMA_VERSION,
    AuditEntry,
    AuditQuery,
    ChainCheck,
    Dirty,
    LoggedIn,
    Scope,
    ThrottleLimits,
    audit_subject,
    credential_of,
    utcnow,
)
from groupsync.errors import StoreError
from groupsync.vocabulary import AREAS, LEVELS

T = TypeVar("T")

# Schema 1-5: every row written to the state tables moved meta.write_count, one store-wide
# count (schema 6 replaces it with a version per account and per username, below).
_WRITE_COUNT_TRIGGERS = "\n".join(
    f"CREATE TRIGGER {table}_{event.lower()}_counts AFTER {event} ON {table} BEGIN "
    "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'write_count'; END;"
    for table in ("accounts", "usernames", "access", "codes")
    for event in ("INSERT", "UPDATE", "DELETE")
)

# The tables, written once for every backend; dialects fill in the few words that differ.
_LEVELS_SQL = ",".join(f"'{level}'" for level in LEVELS)
_TABLES = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE accounts (
    account_id TEXT PRIMARY KEY,
    provider_name TEXT NOT NULL,
    signup_username TEXT NOT NULL,
    practice_name TEXT,
    tin TEXT,
    bills_electronically INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    trial_ends TEXT                     -- free trial's last day; NULL = 30 days after created
);
CREATE TABLE usernames (
    ukey TEXT PRIMARY KEY,              -- casefolded: usernames are unique ignoring case
    username TEXT NOT NULL,
    home TEXT NOT NULL REFERENCES accounts(account_id),
    password_hash TEXT NOT NULL,        -- argon2id, parameters inside; never a password
    created_at TEXT NOT NULL
);
CREATE TABLE access (
    ukey TEXT NOT NULL REFERENCES usernames(ukey),
    account_id TEXT NOT NULL REFERENCES accounts(account_id),
    {", ".join(f"{a} TEXT NOT NULL CHECK ({a} IN ({_LEVELS_SQL}))" for a in AREAS)},
    PRIMARY KEY (ukey, account_id)
)@WITHOUT_ROWID@;
CREATE TABLE codes (
    account_id TEXT NOT NULL REFERENCES accounts(account_id),
    file TEXT NOT NULL,
    key TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    fee TEXT NOT NULL DEFAULT '',
    payer_id TEXT NOT NULL DEFAULT '',
    claims TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (account_id, file, key)
)@WITHOUT_ROWID@;
CREATE TABLE notices (                  -- group-rate notices recorded as sent
    id @AUTO_ID@,
    sent_at TEXT NOT NULL,
    practice_name TEXT NOT NULL,
    tin TEXT NOT NULL,
    providers TEXT NOT NULL             -- JSON list of account_id, name, bills_electronically
);
CREATE TABLE login_failures (
    ukey TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    locked_until @FLOAT@ NOT NULL
);
CREATE TABLE audit (
    id @AUTO_ID@,
    revision INTEGER NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    type TEXT NOT NULL,
    account TEXT,
    username TEXT,
    detail TEXT NOT NULL
);
"""
# Schema 2, as one step after schema 1's tables above: a new store is made by the same steps
# a migrated one went through, so the two can't differ.
# - Every username gets a stable internal id, made once and never reused: audit entries,
#   tokens and throttling refer to it, so a name deleted and created again (by anyone)
#   inherits no history, token or lock. Audit entries written before schema 2 keep their
#   names only: matching them to today's holder of a name is exactly the mistake ids end.
# - Throttling is per (subject, client address): the subject is a username's id, or the
#   casefolded name when no such username exists (every name tried is counted); the row with
#   subject '' is the address as a whole, which stops one address from spraying many names.
# - Tokens are kept hashed, in the store, so every `serve` process honours and ends the same.
# - Indexes for reads scoped to a practice: who can open an account, whose home it is, the
#   audit entries about an account or by/about a username.
_SCHEMA_2 = """
DROP TABLE login_failures;
CREATE TABLE login_throttle (
    subject TEXT NOT NULL,              -- 'id:' + username id, or 'name:' + casefolded name
    address TEXT NOT NULL,              -- client address; 'local' for the CLI on a local store
    failures INTEGER NOT NULL,          -- failed log-ins in a row (name) or in the window
    window_ends @FLOAT@ NOT NULL,       -- the address row's counting window, epoch seconds
    locked_until @FLOAT@ NOT NULL,      -- epoch seconds; 0 when not locked
    refused INTEGER NOT NULL,           -- attempts refused during the current lock
    PRIMARY KEY (subject, address)
);
CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,        -- sha256 of the bearer token; never the token
    user_id TEXT NOT NULL,
    credential TEXT NOT NULL,           -- sha256 of the password hash it was issued against
    expires_at @FLOAT@ NOT NULL
);
CREATE INDEX tokens_by_user ON tokens (user_id);
ALTER TABLE usernames ADD COLUMN user_id TEXT;
UPDATE usernames SET user_id = @RANDOM_ID@;
CREATE UNIQUE INDEX usernames_by_id ON usernames (user_id);
CREATE INDEX usernames_by_home ON usernames (home);
CREATE INDEX access_by_account ON access (account_id, ukey);
ALTER TABLE audit ADD COLUMN actor_id TEXT;
ALTER TABLE audit ADD COLUMN username_id TEXT;
CREATE INDEX audit_by_account ON audit (account, id);
CREATE INDEX audit_by_actor_id ON audit (actor_id, id);
CREATE INDEX audit_by_username_id ON audit (username_id, id);
"""

# Schema 3: the accounts each sent notice lists, as rows, so a read takes only the notices of
# the accounts it concerns (an index, not a scan of every notice in the store and a filter
# in Python). Existing notices are listed from their providers' JSON.
_SCHEMA_3 = """
CREATE TABLE notice_accounts (
    notice_id INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    PRIMARY KEY (account_id, notice_id)
);
INSERT INTO notice_accounts (notice_id, account_id) @NOTICE_ACCOUNTS@;
"""

# Schema 4: each username's last successful log-in, one row per username (replaced at each
# log-in, never a row per log-in), for `idle` policies. Its own table, outside the state
# tables' write-count triggers: a log-in is not a change, so it never makes a plan stale.
_SCHEMA_4 = """
CREATE TABLE last_logins (
    user_id TEXT PRIMARY KEY,
    at TEXT NOT NULL
);
"""

# Schema 5: audit entries by type, so the last access review and the break-glass applies
# since it are found by an index over those few entries, never a scan of the whole trail
# (every plan asks: docs/contracts.md, "Reviews").
_SCHEMA_5 = """
CREATE INDEX audit_by_type ON audit (type, id);
CREATE TABLE people (
    user_id TEXT PRIMARY KEY,
    person TEXT,
    sealed INTEGER NOT NULL DEFAULT 0
);
"""
# `people` (also schema 5): what the applied practice file says of each username it declares,
# kept by every apply of it: the person behind it, and whether it is a sealed master. The
# audit trail's people and the seal come from here, never from a request or a plan file, so
# a service refuses a sealed master however a plan sent to it describes itself. Outside the
# write-count triggers: it describes usernames, it changes no account.

# Schema 6: a version per account ('a:' + id) and per username ('u:' + casefolded name), moved
# by every write to a row about it, whoever writes it (groupsync or a hand-made UPDATE): an
# account's own row, its access rows and code records; a username's row and its access rows.
# A saved plan keeps the versions of the rows it was made from and is stale only when one of
# those moved (docs/contracts.md, "Saved plans"), so an apply to another practice in the same
# store never makes it stale, where the store-wide count of schema 1-5 did. A version row is
# never deleted: an account or a name deleted and made again goes on counting from where it
# was, so it can't come back at a version a plan saw.
_SCHEMA_6 = """
CREATE TABLE versions (
    key TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);
@VERSIONS@
"""

_ROW_KEYS = {"accounts": ("account_id",), "usernames": ("ukey",), "codes": ("account_id",),
             "access": ("account_id", "ukey")}
_PREFIX = {"account_id": "a:", "ukey": "u:"}
BUMP_VERSION = ("INSERT INTO versions (key, version) VALUES (?, 1) ON CONFLICT (key) "
         "DO UPDATE SET version = versions.version + 1")


def _sqlite_versions() -> str:
    """SQLite's step 6: the write-count triggers go, version triggers (one upsert per key a
    row is about, for the old and the new row) come."""
    out = [f"DROP TRIGGER {table}_{event.lower()}_counts;"
           for table in _ROW_KEYS for event in ("INSERT", "UPDATE", "DELETE")]
    out.append("DELETE FROM meta WHERE key = 'write_count';")
    for table, columns in _ROW_KEYS.items():
        for event, rows in (("INSERT", ("NEW",)), ("UPDATE", ("OLD", "NEW")),
                            ("DELETE", ("OLD",))):
            bumps = " ".join(BUMP_VERSION.replace("?", f"'{_PREFIX[col]}' || {row}.{col}") + ";"
                             for row in rows for col in columns)
            out.append(f"CREATE TRIGGER {table}_{event.lower()}_versions AFTER {event} ON "
                       f"{table} BEGIN {bumps} END;")
    return "\n".join(out)


# PostgreSQL's step 6: the same versions from one row trigger, except while groupsync's own
# flush writes (it sets groupsync.versioned for its statements and moves each key it touched
# once): a 340,000-row apply then leaves one new version per key, not 340,000 dead row
# versions of a thousand hot rows.
_PG_VERSIONS = """
DROP TRIGGER accounts_counts ON accounts;
DROP TRIGGER usernames_counts ON usernames;
DROP TRIGGER access_counts ON access;
DROP TRIGGER codes_counts ON codes;
DROP FUNCTION groupsync_count_write();
DROP SEQUENCE write_count_seq;
CREATE FUNCTION groupsync_bump(r jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF r ? 'account_id' THEN
        INSERT INTO versions (key, version) VALUES ('a:' || (r->>'account_id'), 1)
        ON CONFLICT (key) DO UPDATE SET version = versions.version + 1;
    END IF;
    IF r ? 'ukey' THEN
        INSERT INTO versions (key, version) VALUES ('u:' || (r->>'ukey'), 1)
        ON CONFLICT (key) DO UPDATE SET version = versions.version + 1;
    END IF;
END $$;
CREATE FUNCTION groupsync_version_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('groupsync.versioned', true) = 'on' THEN RETURN NULL; END IF;
    IF TG_OP <> 'INSERT' THEN PERFORM groupsync_bump(to_jsonb(OLD)); END IF;
    IF TG_OP <> 'DELETE' THEN PERFORM groupsync_bump(to_jsonb(NEW)); END IF;
    RETURN NULL;
END $$;
""" + "\n".join(
    f"CREATE TRIGGER {t}_versions AFTER INSERT OR UPDATE OR DELETE ON {t} "
    "FOR EACH ROW EXECUTE FUNCTION groupsync_version_write();" for t in _ROW_KEYS)

# Schema 7: history you can trust (docs/contracts.md, "The audit trail").
# - `chain`: each entry's SHA-256 over the previous entry's chain and its own canonical
#   content (`entry_digest`), one chain per store from its lineage, so an entry edited,
#   deleted, inserted or moved, even with the append-only triggers dropped, breaks the chain
#   at the first entry after it that `log --verify` recomputes. `store migrate` computes it
#   over the entries already there (`chain_existing`).
# - indexes for `log`'s filters: by day, revision and name (by or about, as written).
# - `subject`: what in its account an entry set (`audit_subject`: a username's access, a code
#   record, the Practice Set-up), derived from the entry and indexed with its account, so a
#   plan finds the latest entry behind each of its changes in one query (drift named).
_SCHEMA_7 = """
ALTER TABLE audit ADD COLUMN chain TEXT;
ALTER TABLE audit ADD COLUMN subject TEXT;
CREATE INDEX audit_by_subject ON audit (account, subject, id);
CREATE INDEX audit_by_at ON audit (at, id);
CREATE INDEX audit_by_revision ON audit (revision, id);
CREATE INDEX audit_by_actor_name ON audit (lower(actor), id);
CREATE INDEX audit_by_username_name ON audit (lower(username), id);
"""

# Each schema step, applied by `groupsync store migrate` (and by store creation) in one
# transaction with its version bump.
MIGRATIONS = {2: _SCHEMA_2, 3: _SCHEMA_3, 4: _SCHEMA_4, 5: _SCHEMA_5, 6: _SCHEMA_6,
              7: _SCHEMA_7}
# A step's work on the rows already there, after its DDL, with the append-only triggers
# standing aside (each backend knows its own triggers). Defined below.
MIGRATION_ROWS: dict[int, Callable[[Conn], None]] = {}

_LAST_LOGIN = ("INSERT INTO last_logins (user_id, at) VALUES (?, ?) ON CONFLICT (user_id) "
               "DO UPDATE SET at = excluded.at")

_DIALECT_WORDS = {
    "sqlite": {"@AUTO_ID@": "INTEGER PRIMARY KEY AUTOINCREMENT",
               "@WITHOUT_ROWID@": " WITHOUT ROWID", "@FLOAT@": "REAL",
               "@RANDOM_ID@": "lower(hex(randomblob(16)))",
               "@NOTICE_ACCOUNTS@": "SELECT DISTINCT n.id, json_extract(p.value, '$.account_id') "
                                    "FROM notices n, json_each(n.providers) p",
               "@VERSIONS@": _sqlite_versions()},
    "postgresql": {"@AUTO_ID@": "BIGSERIAL PRIMARY KEY", "@WITHOUT_ROWID@": "",
                   "@FLOAT@": "DOUBLE PRECISION",
                   "@RANDOM_ID@": "replace(gen_random_uuid()::text, '-', '')",
                   "@NOTICE_ACCOUNTS@": "SELECT DISTINCT n.id, p.value->>'account_id' FROM "
                                        "notices n, jsonb_array_elements(n.providers::jsonb) p",
                   "@VERSIONS@": _PG_VERSIONS},
}


def schema_ddl(dialect: str, tables: str) -> str:
    """Everything a new store is made of: schema 1's tables (and the dialect's `tables`
    extras such as triggers), then every later step in order."""
    return tables + "\n" + "\n".join(tables_ddl(dialect, MIGRATIONS[v])
                                      for v in range(2, SCHEMA_VERSION + 1))


def tables_ddl(dialect: str, ddl: str = _TABLES) -> str:
    for word, value in _DIALECT_WORDS[dialect].items():
        ddl = ddl.replace(word, value)
    return ddl


_CODE_COLUMNS = ("description", "fee", "payer_id", "claims")


class Cursor(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """The DB-API subset the shared SQL below uses; statements are written with `?`."""

    def execute(self, sql: str, params: Any = ...) -> Cursor: ...

    def executemany(self, sql: str, rows: Any) -> Any: ...


class SqlStorage:
    """What every SQL backend shares: the audit trail, log-in counters, notices. Backends
    provide `write()` (an exclusive write transaction) and `_reader()` (a connection)."""

    location: str

    def write(self) -> contextlib.AbstractContextManager[SqlWrite]:
        raise NotImplementedError

    def _reader(self) -> contextlib.AbstractContextManager[Conn]:
        raise NotImplementedError

    def read_audit(self, limit: int | None,
                   about: tuple[list[str], str] | None = None,
                   query: AuditQuery | None = None) -> list[AuditEntry]:
        """Newest first. `about=(accounts, user_id)` keeps entries about those accounts or by
        or about that username; `query` narrows them further (`log`'s filters): all in the
        query, over indexes (the trail grows forever)."""
        sql = f"SELECT {_AUDIT_COLUMNS} FROM audit"
        where, params = query.clauses() if query is not None else ([], [])
        if about is not None:
            accounts, user_id = about
            marks = ",".join("?" * len(accounts)) or "NULL"
            # by id, never by name: a name deleted and made again inherits no history
            where.insert(0, f"(account IN ({marks}) OR actor_id = ? OR username_id = ?)")
            params[:0] = [*accounts, user_id, user_id]
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._reader() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_audit_row(r) for r in rows]

    # -- log-in bookkeeping (throttling and tokens) ----------------------------------------

    def _bookkeeping(self) -> contextlib.AbstractContextManager[Conn]:
        """A short transaction for log-in bookkeeping. SQLite has one writer, so it is a
        write transaction; PostgreSQL overrides it with one that doesn't queue behind an
        apply's lock."""
        return _conn_of(self.write())

    # Errors of the database that mean "run the same short transaction again" (PostgreSQL's
    # deadlock and serialization failures); SQLite has one writer and none.
    _RETRYABLE: tuple[type[BaseException], ...] = ()

    def _bookkept(self, work: Callable[[Conn], T]) -> T:
        """`work` in one bookkeeping transaction, run again (up to 3 times) when the database
        aborted it to break a deadlock: a log-in never answers 5xx because another one of the
        same name ran at the same moment."""
        for attempt in range(3):
            try:
                with self._bookkeeping() as c:
                    return work(c)
            except StoreError as exc:
                if attempt == 2 or not isinstance(exc.__cause__, self._RETRYABLE):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def read_user(self, ukey: str) -> User | None:
        """One username by its casefolded name: what a log-in reads, and nothing else."""
        return self._user_where("ukey", ukey)

    def read_user_by_id(self, user_id: str) -> User | None:
        """One username by its id (a token's owner)."""
        return self._user_where("user_id", user_id)

    def _user_where(self, column: str, value: str) -> User | None:
        with self._reader() as conn:
            row = conn.execute("SELECT username, home, password_hash, created_at, user_id FROM "
                               f"usernames WHERE {column} = ?", (value,)).fetchone()
        return None if row is None else User(username=row[0], home=row[1],
                                             password_hash=row[2], created_at=row[3],
                                             id=row[4])

    def access_of(self, ukey: str) -> dict[str, Privileges]:
        """The accounts one username can open, with its privileges there (its rows only)."""
        with self._reader() as conn:
            rows = conn.execute(f"SELECT account_id, {', '.join(AREAS)} FROM access WHERE "
                                "ukey = ?", (ukey,)).fetchall()
        return {r[0]: dict(zip(AREAS, r[1:], strict=True)) for r in rows}

    def accounts_of(self, ukey: str) -> list[str]:
        return sorted(self.access_of(ukey))

    def existing_usernames(self, ukeys: list[str]) -> set[str]:
        with self._reader() as conn:
            rows = conn.execute(f"SELECT ukey FROM usernames WHERE ukey IN ({_set_of(conn)})",
                                (json.dumps(sorted(set(ukeys))),)).fetchall()
        return {r[0] for r in rows}

    def login_throttle(self, ukey: str, address: str, now: float) -> tuple[float, bool]:
        """(when the name's lock from this address, or the address's own lock, ends — 0 if
        neither is locked; whether this name has failures counted from there). Two rows."""
        with self._reader() as conn:
            return _throttle(conn, ukey, address, now)

    def claim_login_attempt(self, subject: str, address: str, now: float,
                            limits: ThrottleLimits) -> float:
        """Count an attempt *before* its password is checked, in one short transaction, so
        concurrent guesses can't all pass the lock check before any failure is written.
        Returns when the refusal ends if this attempt must be refused (locked, or as many
        attempts already under way as the limit allows), else 0. The count is kept if the
        attempt fails (`record_login_failure`) and taken back if it succeeds."""
        def claim(c: Conn) -> float:
            _count_attempt(c, subject, address, now, limits, None, admitted=False)
            rows = {r[0]: (int(r[1]), float(r[2])) for r in c.execute(
                "SELECT subject, failures, locked_until FROM login_throttle WHERE address = ? "
                "AND subject IN (?, '')", (address, subject))}
            (name_count, name_lock), (spray, address_lock) = rows[subject], rows[""]
            until = max(name_lock, address_lock)
            if until <= now and name_count <= limits.max_failures \
                    and spray <= limits.address_max_failures:
                _mark_attempt(c, subject, address, now, limits)  # a refused one marks nothing
                return 0.0
            # refused: not an attempt after all, but counted as one refused during a lock
            for who in ("", subject):  # the one lock order: the address's row first
                c.execute("UPDATE login_throttle SET failures = failures - 1, "
                          "refused = refused + 1 WHERE subject = ? AND address = ?",
                          (who, address))
            if until <= now:  # as many under way as allowed: refused for the lock's length
                until = now + limits.lock_seconds
            return until

        return self._bookkept(claim)

    def claim_signup(self, address: str, now: float, limit: int, window: float) -> float:
        """Count a Free Trial sign-up from `address`. Returns 0 if it may go ahead, else the
        seconds until the address's window ends."""
        return self.claim_quota("signup", address, now, limit, window)

    def claim_quota(self, kind: str, holder: str, now: float, limit: int, window: float,
                    amount: int = 1) -> float:
        """Count `amount` uses of a limited kind of request (sign-ups per client address,
        name look-ups per username) in one atomic upsert on a row of the throttle table, so
        every `serve` process shares the count. Returns 0 if the uses fit in the holder's
        window, else the seconds until that window ends (the uses are counted either way:
        asking again early does not help)."""
        row = self._bookkept(lambda c: c.execute(
            "INSERT INTO login_throttle(subject, address, failures, window_ends, "
            "locked_until, refused) VALUES (?, ?, ?, ?, 0, 0) "
            "ON CONFLICT (subject, address) DO UPDATE SET "
            "failures = CASE WHEN login_throttle.window_ends <= ? THEN excluded.failures "
            "ELSE login_throttle.failures + excluded.failures END, "
            "window_ends = CASE WHEN login_throttle.window_ends <= ? "
            "THEN excluded.window_ends ELSE login_throttle.window_ends END "
            "RETURNING failures, window_ends",
            (kind, holder, amount, now + window, now, now)).fetchone())
        count, ends = int(row[0]), float(row[1])
        return 0.0 if count <= limit else max(1.0, ends - now)

    def record_login_failure(self, ukey: str, address: str, entry: AuditEntry, now: float,
                             limits: ThrottleLimits, claimed: bool = False) -> bool:
        """Count a failed log-in for (name, address) and for the address (unless
        `claim_login_attempt` counted it already), audit it with the address, and lock after
        the limits. True if the name is now locked from there."""
        def record(c: Conn) -> bool:
            if not claimed:
                _count_attempt(c, ukey, address, now, limits, entry)
            else:
                _lock_rows(c, ukey, address, now, limits)
            failures = int(c.execute("SELECT failures FROM login_throttle WHERE subject = ? "
                                     "AND address = ?", (ukey, address)).fetchone()[0])
            locked = failures >= limits.max_failures
            if locked:
                c.execute("UPDATE login_throttle SET failures = 0, locked_until = ?, refused = 0 "
                          "WHERE subject = ? AND address = ?",
                          (now + limits.lock_seconds, ukey, address))
            spray = int(c.execute("SELECT failures FROM login_throttle WHERE subject = '' AND "
                                  "address = ?", (address,)).fetchone()[0])
            address_locked = spray >= limits.address_max_failures
            if address_locked:
                c.execute("UPDATE login_throttle SET failures = 0, window_ends = 0, "
                          "locked_until = ?, refused = 0 WHERE subject = '' AND address = ?",
                          (now + limits.address_lock_seconds, address))
            entry.detail = {**entry.detail, "address": address, "failures_in_a_row": failures,
                            "locked": locked}
            if address_locked:
                entry.detail["address_locked"] = True
                entry.detail["address_failures"] = spray
            _insert_audit(c, [entry], _revision(c))
            return locked

        return self._bookkept(record)

    def record_login_refused(self, ukey: str, address: str) -> None:
        """An attempt refused during a lock: counted on the lock's row, not audited one by one
        (a script hammering a locked name must not flood the trail). The count is audited in
        one entry when the lock is over (`_settle`)."""
        def refused(c: Conn) -> None:
            for who in ("", ukey):  # the one lock order: the address's row first
                c.execute("UPDATE login_throttle SET refused = refused + 1 WHERE subject = ? "
                          "AND address = ? AND locked_until > 0", (who, address))

        self._bookkept(refused)

    def login_succeeded(self, ukey: str, address: str, now: float, entry: AuditEntry,
                        claimed: bool = False, counted: bool = True,
                        logged_in: LoggedIn | None = None) -> None:
        """A good log-in ends the name's failure count from this address (only that one); a
        claimed attempt is taken back from the address's count too. A person's log-in
        (`logged_in`) also records its time and the token it was given: all in one
        transaction, so a log-in through the service costs two (the claim and this)."""
        def succeeded(c: Conn) -> None:
            if counted:
                _settle_success(c, ukey, address, now, entry, claimed)
            if logged_in is not None:
                c.execute(_LAST_LOGIN, (logged_in.user_id, logged_in.at))
                if logged_in.token_hash is not None:
                    _insert_token(c, logged_in.token_hash, logged_in.user_id,
                                  logged_in.credential, logged_in.expires_at, now)

        if counted or logged_in is not None:
            self._bookkept(succeeded)

    def issue_token(self, token_hash: str, user_id: str, credential: str,
                    expires_at: float, now: float) -> None:
        with self._bookkeeping() as c:
            _insert_token(c, token_hash, user_id, credential, expires_at, now)

    def token_owner(self, token_hash: str, now: float) -> User | None:
        """The username a live token was issued to; None when the token is unknown, expired,
        or its username was deleted (a name made again is another id) or given a new password
        since."""
        with self._reader() as conn:
            row = conn.execute(
                "SELECT u.username, u.home, u.password_hash, u.created_at, u.user_id, "
                "t.credential FROM tokens t JOIN usernames u ON u.user_id = t.user_id "
                "WHERE t.token_hash = ? AND t.expires_at > ?", (token_hash, now)).fetchone()
        if row is None or row[5] != credential_of(row[2]):
            return None
        return User(username=row[0], home=row[1], password_hash=row[2], created_at=row[3],
                    id=row[4])

    def record_entries(self, entries: list[AuditEntry]) -> int:
        """Audit entries that record a fact, not a change of the accounts (an access
        review): kept at the current revision, which doesn't move; returns it."""
        with self.write() as tx:
            revision = _revision(tx.conn)
            _insert_audit(tx.conn, entries, revision)
        return revision

    def people(self, user_ids: list[str]) -> dict[str, tuple[str | None, bool]]:
        with self._reader() as conn:
            return _people(conn, user_ids)

    def read_history(self, accounts: list[str], after: int
                     ) -> tuple[list[AuditEntry], dict[str, int]]:
        """What rebuilding these accounts' access at revision `after` needs, in one read: the
        entries after it that changed access there (and every username deleted since, its
        home anywhere), newest first; and each account's oldest entry's revision."""
        types = ",".join(f"'{t}'" for t in ACCESS_TYPES)
        with self._reader() as conn:
            rows = conn.execute(
                f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE revision > ? AND type IN ({types}) "
                f"AND (account IN ({_set_of(conn)}) OR (type = 'username' AND action = "
                "'remove')) ORDER BY id DESC", (after, json.dumps(sorted(accounts)))).fetchall()
            first = conn.execute(
                f"SELECT value, (SELECT revision FROM audit WHERE account = value ORDER BY id "
                f"LIMIT 1) FROM ({_set_of(conn)}) x", (json.dumps(sorted(accounts)),)
            ).fetchall()
        return ([_audit_row(r) for r in rows],
                {str(a): int(r) for a, r in first if r is not None})

    def revision_at(self, day_end: str) -> int:
        """The last revision with an entry written before `day_end` (0: none)."""
        with self._reader() as conn:
            row = conn.execute("SELECT MAX(revision) FROM audit WHERE at < ?",
                               (day_end,)).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def latest_entries(self, cells: list[tuple[str, str]]) -> list[AuditEntry]:
        with self._reader() as conn:
            return read_latest(conn, cells)

    def verify_chain(self) -> ChainCheck:
        """The whole audit chain recomputed, in one consistent read."""
        with self._reader() as conn:
            return verify_chain(conn)

    def latest_of_type(self, type: str, accounts: list[str]) -> dict[str, AuditEntry]:
        """Each account's newest entry of `type` (audit_by_type: only entries of that type
        are read)."""
        if not accounts:
            return {}
        marks = ",".join("?" * len(accounts))
        sql = (f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE id IN (SELECT MAX(id) FROM audit "
               f"WHERE type = ? AND account IN ({marks}) GROUP BY account)")
        with self._reader() as conn:
            rows = conn.execute(sql, [type, *accounts]).fetchall()
        return {e.account: e for e in map(_audit_row, rows) if e.account}

    def entries_of_type(self, type: str, accounts: list[str],
                        after_id: int = 0) -> list[AuditEntry]:
        """Entries of `type` about `accounts` with an id above `after_id`, newest first."""
        if not accounts:
            return []
        marks = ",".join("?" * len(accounts))
        sql = (f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE type = ? AND id > ? AND "
               f"account IN ({marks}) ORDER BY id DESC")
        with self._reader() as conn:
            rows = conn.execute(sql, [type, after_id, *accounts]).fetchall()
        return [_audit_row(r) for r in rows]

    def record_notice(self, practice_name: str, tin: str, providers: list[dict[str, object]],
                      entry: AuditEntry) -> None:
        """Record a notice as sent, with its audit entry; not a change of the accounts, so
        neither the revision nor the write count moves."""
        with self.write() as tx:
            c = tx.conn
            notice_id = c.execute(
                "INSERT INTO notices(sent_at, practice_name, tin, providers) "
                "VALUES (?, ?, ?, ?) RETURNING id",
                (utcnow(), practice_name, tin, json.dumps(providers, sort_keys=True))
            ).fetchone()[0]
            c.executemany("INSERT INTO notice_accounts (notice_id, account_id) VALUES (?, ?) "
                          "ON CONFLICT DO NOTHING",
                          [(notice_id, str(p.get("account_id"))) for p in providers])
            _insert_audit(c, [entry], _revision(c))


def _people(conn: Conn, user_ids: list[str]) -> dict[str, tuple[str | None, bool]]:
    """user id -> (person, sealed), for those the table knows."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = conn.execute(f"SELECT user_id, person, sealed FROM people WHERE user_id IN "
                        f"({marks})", ids).fetchall()
    return {r[0]: (r[1], bool(r[2])) for r in rows}


def _throttle(conn: Conn, ukey: str, address: str, now: float) -> tuple[float, bool]:
    rows = conn.execute("SELECT subject, locked_until FROM login_throttle WHERE address = ? "
                        "AND subject IN (?, '')", (address, ukey)).fetchall()
    until = max((float(r[1]) for r in rows), default=0.0)
    return (until if until > now else 0.0), any(r[0] == ukey for r in rows)


_SWEEP = {f"{n:02x}" for n in range(4)}  # 4 of the 256 first bytes of a sha256: 1 in 64


def _settle_success(c: Conn, ukey: str, address: str, now: float, entry: AuditEntry,
                    claimed: bool) -> None:
    if claimed:
        c.execute("UPDATE login_throttle SET failures = failures - 1 WHERE subject = '' "
                  "AND address = ? AND failures > 0", (address,))
    elif c.execute("SELECT 1 FROM login_throttle WHERE subject = ? AND address = ?",
                   (ukey, address)).fetchone() is None:
        return
    _settle(c, ukey, address, now, entry)
    c.execute("DELETE FROM login_throttle WHERE subject = ? AND address = ?", (ukey, address))


def _insert_token(c: Conn, token_hash: str, user_id: str, credential: str,
                  expires_at: float, now: float) -> None:
    # Expired tokens are never accepted (token_owner checks the time); deleting them is
    # housekeeping. This username's go at each log-in, over its index; the whole table's,
    # which no index serves, at one log-in in 64, picked by the new token's own random hash
    # (a scan of every live token at every log-in cost more than the rest of its SQL).
    c.execute("DELETE FROM tokens WHERE user_id = ? AND expires_at <= ?", (user_id, now))
    if token_hash[:2] in _SWEEP:
        c.execute("DELETE FROM tokens WHERE expires_at <= ?", (now,))
    c.execute("INSERT INTO tokens VALUES (?, ?, ?, ?)",
              (token_hash, user_id, credential, expires_at))


def _settle(c: Conn, ukey: str, address: str, now: float, entry: AuditEntry | None) -> None:
    """A lock that is over and refused attempts: one audit entry with their count (for the
    address as a whole, subject '', the entry names no username)."""
    _settle_rows(c, [ukey], address, now, entry)


def _settle_rows(c: Conn, subjects: list[str], address: str, now: float,
                 entry: AuditEntry | None) -> None:
    """`_settle` for several subjects of one address, read in one statement, settled in the
    order given (the address's row first, the one lock order)."""
    rows = {r[0]: r[1:] for r in c.execute(
        f"SELECT subject, refused, locked_until FROM login_throttle WHERE address = ? AND "
        f"subject IN ({', '.join('?' * len(subjects))})", (address, *subjects))}
    for ukey in subjects:
        row = rows.get(ukey)
        if row is None or not row[1] or float(row[1]) > now:
            continue
        if row[0]:
            summary = AuditEntry(
                "login_refused", "login",
                actor=entry.actor if entry and ukey else "(any name from this address)",
                username=entry.username if entry and ukey else None,
                actor_id=entry.actor_id if entry and ukey else None,
                username_id=entry.username_id if entry and ukey else None,
                detail={"address": address, "refused_while_locked": int(row[0])})
            _insert_audit(c, [summary], _revision(c))
        c.execute("UPDATE login_throttle SET refused = 0, locked_until = 0 WHERE subject = ? "
                  "AND address = ?", (ukey, address))


def _count_attempt(c: Conn, subject: str, address: str, now: float, limits: ThrottleLimits,
                   entry: AuditEntry | None, admitted: bool = True) -> None:
    """One more attempt for (subject, address) and for the address's window, after settling
    locks that are over. The UPDATEs take row locks held to the commit, so concurrent
    counts queue and each sees the one before.

    The name's count starts again when its last admitted attempt is a lock's length old
    (the row's window_ends, unused otherwise by a name's row): failures "in a row" are each
    within five minutes of the one before, which lets a guesser no more than the lock does;
    and an attempt counted before its hash whose process died before settling it stops
    counting then, instead of refusing that name from that address forever. `admitted`
    False (a claim not yet checked against the limits) leaves the mark for the caller."""
    _lock_rows(c, subject, address, now, limits)
    _settle_rows(c, ["", subject], address, now, entry)
    c.execute("UPDATE login_throttle SET failures = CASE WHEN window_ends > 0 AND "
              "window_ends <= ? THEN 1 ELSE failures + 1 END WHERE subject = ? AND "
              "address = ?", (now, subject, address))
    if admitted:
        _mark_attempt(c, subject, address, now, limits)
    c.execute("UPDATE login_throttle SET failures = CASE WHEN window_ends <= ? THEN 1 ELSE "
              "failures + 1 END, window_ends = CASE WHEN window_ends <= ? THEN ? ELSE "
              "window_ends END WHERE subject = '' AND address = ?",
              (now, now, now + limits.address_window, address))


def _mark_attempt(c: Conn, subject: str, address: str, now: float,
                  limits: ThrottleLimits) -> None:
    c.execute("UPDATE login_throttle SET window_ends = ? WHERE subject = ? AND address = ?",
              (now + limits.lock_seconds, subject, address))


def _lock_rows(c: Conn, subject: str, address: str, now: float, limits: ThrottleLimits) -> None:
    """Make sure the address's row and the subject's row exist, and lock them, in the one
    order every bookkeeping transaction takes them (the address's first): two log-ins of the
    same name from the same address then queue instead of deadlocking. An upsert, so a row
    deleted by a concurrent success is made again rather than found missing."""
    c.execute("INSERT INTO login_throttle VALUES ('', ?, 0, ?, 0, 0) ON CONFLICT "
              "(subject, address) DO UPDATE SET refused = login_throttle.refused",
              (address, now + limits.address_window))
    c.execute("INSERT INTO login_throttle VALUES (?, ?, 0, 0, 0, 0) ON CONFLICT "
              "(subject, address) DO UPDATE SET refused = login_throttle.refused",
              (subject, address))


@contextlib.contextmanager
def _conn_of(tx: contextlib.AbstractContextManager[SqlWrite]) -> Iterator[Conn]:
    with tx as write:
        yield write.conn


def _revision(c: Conn) -> int:
    return int(c.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()[0])


class SqlWrite:
    """The inside of one write transaction, on any SQL backend."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def load_state(self, scope: Scope | None = None) -> State:
        return _load(self.conn, scope)

    def versions(self, keys: list[str]) -> dict[str, int]:
        return read_versions(self.conn, keys)

    @contextlib.contextmanager
    def _versioned(self, dirty: Dirty) -> Iterator[None]:
        """Around a flush's writes: SQLite's triggers move the versions row by row."""
        del dirty
        yield

    def find_account(self, account_id: str) -> bool:
        return self.conn.execute("SELECT 1 FROM accounts WHERE account_id = ?",
                                 (account_id,)).fetchone() is not None

    def find_user(self, ukey: str) -> bool:
        """Whether a username exists anywhere (outside a scoped state too)."""
        return self.conn.execute("SELECT 1 FROM usernames WHERE ukey = ?",
                                 (ukey,)).fetchone() is not None

    def login_throttle(self, ukey: str, address: str, now: float) -> tuple[float, bool]:
        return _throttle(self.conn, ukey, address, now)

    def clear_login_throttle(self, subjects: dict[str, AuditEntry], address: str,
                             now: float) -> None:
        """Good log-ins inside this transaction: their counts from this address end (any
        refused attempts of an expired lock are audited first, on `entry`'s username)."""
        for k, entry in sorted(subjects.items()):
            _settle(self.conn, k, address, now, entry)
            self.conn.execute("DELETE FROM login_throttle WHERE subject = ? AND address = ?",
                              (k, address))


    def record_logins(self, user_ids: list[str], at: str) -> None:
        """The session's good log-ins: each username's last log-in, one row per username."""
        self.conn.executemany(_LAST_LOGIN, [(u, at) for u in user_ids])

    def people(self, user_ids: list[str]) -> dict[str, tuple[str | None, bool]]:
        return _people(self.conn, user_ids)

    def keep_people(self, rows: list[tuple[str, str | None, bool]]) -> None:
        """The applied file's word on each username it declares (see `people`)."""
        self.conn.executemany(
            "INSERT INTO people (user_id, person, sealed) VALUES (?, ?, ?) ON CONFLICT "
            "(user_id) DO UPDATE SET person = excluded.person, sealed = excluded.sealed",
            [(u, p, int(s)) for u, p, s in rows])

    def flush(self, state: State, dirty: Dirty, audit: list[AuditEntry], revision: int) -> None:
        with self._versioned(dirty):
            self._flush(state, dirty)
        _insert_audit(self.conn, audit, revision)
        self.conn.execute("UPDATE meta SET value=? WHERE key='revision'", (str(revision),))

    def _flush(self, state: State, dirty: Dirty) -> None:
        c = self.conn
        acct_rows = [
            (a.account_id, a.provider_name, a.signup_username, a.practice_name, a.tin,
             int(a.bills_electronically), a.created_at, a.trial_ends)
            for acct in sorted(dirty.accounts) if (a := state.accounts.get(acct))
        ]
        c.executemany(
            "INSERT INTO accounts VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(account_id) DO UPDATE SET "
            "provider_name=excluded.provider_name, practice_name=excluded.practice_name, "
            "tin=excluded.tin, bills_electronically=excluded.bills_electronically",
            acct_rows,
        )
        user_rows = [
            (k, u.username, u.home, u.password_hash, u.created_at, u.id)
            for k in sorted(dirty.users) if (u := state.users.get(k))
        ]
        c.executemany(
            "INSERT INTO usernames (ukey, username, home, password_hash, created_at, user_id) "
            "VALUES (?,?,?,?,?,?) ON CONFLICT(ukey) DO UPDATE SET "
            "username=excluded.username, home=excluded.home, "
            "password_hash=excluded.password_hash, created_at=excluded.created_at, "
            # a name deleted and made again in one transaction is a new id (docs/contracts.md,
            # "Identity and scope")
            "user_id=excluded.user_id",
            user_rows,
        )
        access_up, access_del = [], []
        for pair in sorted(dirty.access):
            privs = state.access.get(pair)
            if privs is None:
                access_del.append(pair)
            else:
                access_up.append((*pair, *(privs[a] for a in AREAS)))
        c.executemany("DELETE FROM access WHERE ukey=? AND account_id=?", access_del)
        c.executemany(
            f"INSERT INTO access VALUES (?,?,{','.join('?' * len(AREAS))}) "
            "ON CONFLICT (ukey, account_id) DO UPDATE SET "
            + ", ".join(f"{a} = excluded.{a}" for a in AREAS),
            access_up,
        )
        codes_up, codes_del = [], []
        for acct, file, key in sorted(dirty.codes):
            rec = state.codes.get(acct, {}).get(file, {}).get(key)
            if rec is None:
                codes_del.append((acct, file, key))
            else:
                codes_up.append((acct, file, key, *(rec.get(col, "") for col in _CODE_COLUMNS)))
        c.executemany("DELETE FROM codes WHERE account_id=? AND file=? AND key=?", codes_del)
        c.executemany(
            "INSERT INTO codes VALUES (?,?,?,?,?,?,?) ON CONFLICT (account_id, file, key) "
            "DO UPDATE SET description = excluded.description, fee = excluded.fee, "
            "payer_id = excluded.payer_id, claims = excluded.claims",
            codes_up,
        )
        gone_users = [(k,) for k in sorted(dirty.users) if k not in state.users]
        c.executemany("DELETE FROM usernames WHERE ukey=?", gone_users)
        gone_ids = [(i,) for i in sorted(dirty.gone_ids | dirty.reset_ids)]
        c.executemany("DELETE FROM tokens WHERE user_id=?", gone_ids)  # they end with it
        # a new password (or a name made again) starts with no lock and no failures counted
        c.executemany("DELETE FROM login_throttle WHERE subject=?",
                      [("id:" + i,) for (i,) in gone_ids])


_AUDIT_COLUMNS = ("id, revision, at, actor, action, type, account, username, detail, "
                  "actor_id, username_id")


def _audit_row(r: Any) -> AuditEntry:
    return AuditEntry(id=r[0], revision=r[1], at=r[2], actor=r[3], action=r[4], type=r[5],
                      account=r[6], username=r[7], detail=json.loads(r[8]), actor_id=r[9],
                      username_id=r[10])


# the audit chain's own advisory lock on PostgreSQL: log-in bookkeeping appends entries
# outside the writers' lock, and two appends must never start from the same head
CHAIN_LOCK_KEY = 0x47534348  # "GSCH"
_CHAIN_FIELDS = ("revision, at, actor, action, type, account, username, detail, actor_id, "
                 "username_id")


def entry_digest(previous: str, row: Sequence[Any]) -> str:
    """An entry's link in the chain: SHA-256 over the previous link and the entry's stored
    fields (`_CHAIN_FIELDS`, the detail as its stored JSON text), canonical JSON."""
    # the values as stored: a revision written as 16.5 behind groupsync's back is not 16
    content = json.dumps(list(row), ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(f"{previous}\n{content}".encode()).hexdigest()


def chain_start(conn: Conn) -> str:
    """The link before a store's first entry: its lineage, so no two stores share a chain."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'lineage'").fetchone()
    return f"groupsync-audit/{row[0] if row else ''}"


def _chain_head(c: Conn) -> str:
    if not isinstance(c, sqlite3.Connection):
        c.execute("SELECT pg_advisory_xact_lock(?)", (CHAIN_LOCK_KEY,))
    row = c.execute("SELECT chain FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    return str(row[0]) if row and row[0] else chain_start(c)


def _insert_audit(c: Conn, audit: list[AuditEntry], revision: int) -> None:
    if not audit:
        return
    now = utcnow()
    link = _chain_head(c)
    rows = []
    for e in audit:
        row = (revision, now, e.actor, e.action, e.type, e.account, e.username,
               json.dumps(e.detail, sort_keys=True), e.actor_id, e.username_id)
        link = entry_digest(link, row)
        rows.append((*row, link, audit_subject(e.type, e.username, e.detail)))
    c.executemany(f"INSERT INTO audit({_CHAIN_FIELDS}, chain, subject) "
                  "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)


def chain_existing(conn: Conn) -> None:
    """Schema 7's step over the entries already there: each one's link, in id order, and its
    subject (the append-only triggers stand aside for it, inside the migration's
    transaction)."""
    link = chain_start(conn)
    links = []
    for row in conn.execute(f"SELECT id, {_CHAIN_FIELDS} FROM audit ORDER BY id").fetchall():
        link = entry_digest(link, row[1:])
        links.append((link, audit_subject(row[5], row[7], json.loads(row[8])), row[0]))
    conn.executemany("UPDATE audit SET chain = ?, subject = ? WHERE id = ?", links)


def _cells(conn: Conn) -> str:
    """(account, subject) pairs from one JSON parameter, in each dialect."""
    if isinstance(conn, sqlite3.Connection):
        return ("SELECT json_extract(value, '$[0]') AS account, json_extract(value, '$[1]') "
                "AS subject FROM json_each(?)")
    return ("SELECT value->>0 AS account, value->>1 AS subject FROM "
            "json_array_elements(?::json)")


def read_latest(conn: Conn, cells: list[tuple[str, str]]) -> list[AuditEntry]:
    """The newest entry that set each (account, subject): one query, an index seek a cell."""
    if not cells:
        return []
    sql = (f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE id IN (SELECT (SELECT MAX(a.id) FROM "
           f"audit a WHERE a.account = c.account AND a.subject = c.subject) FROM "
           f"({_cells(conn)}) c)")
    rows = conn.execute(sql, (json.dumps([list(cell) for cell in cells]),)).fetchall()
    return [_audit_row(r) for r in rows]


MIGRATION_ROWS[7] = chain_existing


def verify_chain(conn: Conn, batch: int = 10_000) -> ChainCheck:
    """Recompute the chain over every entry, in id order, a batch at a time."""
    link = chain_start(conn)
    count, last = 0, -(2**63)  # ids at or below 0 are checked too: no row is out of sight
    while True:
        rows = conn.execute(f"SELECT id, {_CHAIN_FIELDS}, chain FROM audit WHERE id > ? "
                            "ORDER BY id LIMIT ?", (last, batch)).fetchall()
        for row in rows:
            count += 1
            if row[11] is None:
                return ChainCheck(count, link, int(row[0]), "it has no link (written "
                                  "without groupsync, or its link was removed)")
            try:
                expected = entry_digest(link, row[1:11])
            except (TypeError, ValueError):  # a value no entry holds (bytes, not JSON)
                expected = ""
            if row[11] != expected:
                return ChainCheck(count, link, int(row[0]), "its content or its place in the "
                                  "trail is not what was written (edited, or an entry before "
                                  "it was removed, inserted or moved)")
            link = expected
        if len(rows) < batch:
            return ChainCheck(count, link)
        last = int(rows[-1][0])


def read_versions(conn: Conn, keys: list[str]) -> dict[str, int]:
    """The versions of `keys` (0 for a key never written), by index."""
    found = dict(conn.execute(f"SELECT key, version FROM versions WHERE key IN ({_set_of(conn)})",
                              (json.dumps(sorted(set(keys))),)))
    return {k: int(found.get(k, 0)) for k in keys}


def version_keys(dirty: Dirty) -> list[str]:
    """Every version key the rows a transaction touched are about."""
    keys = {f"a:{a}" for a in dirty.accounts} | {f"u:{u}" for u in dirty.users}
    for u, a in dirty.access:
        keys |= {f"a:{a}", f"u:{u}"}
    keys |= {f"a:{a}" for a, _f, _k in dirty.codes}
    return sorted(keys)


def _set_of(conn: Conn) -> str:
    """A subquery yielding the values of one JSON-array parameter, in each dialect: one
    parameter however many accounts a practice has, and an index lookup per value."""
    if isinstance(conn, sqlite3.Connection):
        return "SELECT value FROM json_each(?)"
    return "SELECT value FROM json_array_elements_text(?::json)"


Statement = tuple[str, tuple[object, ...]]


def _meta_state(rows: Any) -> State:
    meta = dict(list(rows))
    missing = {"lineage", "revision"} - meta.keys()
    if missing:
        raise StoreError(f"the store is damaged: its meta table lacks {', '.join(sorted(missing))}")
    return State(lineage=meta["lineage"], revision=int(meta["revision"]))


def _batch(conn: Conn, statements: list[Statement]) -> list[Any]:
    """Statements whose results don't depend on one another, as cursors over their rows:
    PostgreSQL sends them in one round trip (its pipeline mode), SQLite runs them in turn."""
    batch = getattr(conn, "batch", None)
    if batch is not None:
        return list(batch(statements))
    return [conn.execute(sql, params) for sql, params in statements]


_SELECT_ACCOUNTS = ("SELECT account_id, provider_name, signup_username, practice_name, tin, "
                    "bills_electronically, created_at, trial_ends FROM accounts")
_SELECT_NOTICES = "SELECT id, sent_at, practice_name, tin, providers FROM notices"
_SELECT_USERS = ("SELECT ukey, username, home, password_hash, created_at, u.user_id, l.at FROM "
                 "usernames u LEFT JOIN last_logins l ON l.user_id = u.user_id")
_SELECT_CODES = "SELECT account_id, file, key, description, fee, payer_id, claims FROM codes"


def _load(conn: Conn, scope: Scope | None = None, opening: Statement | None = None,
          closing: Statement | None = None) -> State:
    """One consistent read: the whole store, or the rows of a scope (indexed lookups), with
    the versions of the scope's own accounts and usernames (every version, unscoped). In at
    most three batches of statements (one round trip each on PostgreSQL): the meta row and
    the scope's access rows; the accounts its usernames reach beyond it (a closure); then
    everything else, which depends on nothing but the accounts and usernames found.
    `opening` and `closing` (a backend's BEGIN and COMMIT) go in the first and last batch."""
    first, last = [opening] if opening else [], [closing] if closing else []

    def batch(statements: list[Statement], begins: bool, ends: bool) -> list[Any]:
        cursors = _batch(conn, [*(first if begins else []), *statements,
                                *(last if ends else [])])
        return cursors[len(first) if begins else 0:][:len(statements)]

    columns = f"ukey, account_id, {', '.join(AREAS)}"
    meta_sql: tuple[str, tuple[object, ...]] = ("SELECT key, value FROM meta", ())
    if scope is None:
        meta_rows, access_cur, account_cur, notice_cur, version_cur, user_cur, code_cur = \
            batch([meta_sql, (f"SELECT {columns} FROM access", ()),
                   (_SELECT_ACCOUNTS, ()), (f"{_SELECT_NOTICES} ORDER BY id", ()),
                   ("SELECT key, version FROM versions", ()), (_SELECT_USERS, ()),
                   (_SELECT_CODES, ())], True, True)
        access_rows: list[Any] = list(access_cur)
        state = _meta_state(meta_rows)
        state.versions = {str(k): int(v) for k, v in version_cur}
    else:
        inside = _set_of(conn)
        accounts = set(scope.accounts)
        by_account = f"SELECT {columns} FROM access WHERE account_id IN ({inside})"
        first_batch: list[Statement] = [meta_sql, (by_account, (json.dumps(sorted(accounts)),))]
        if scope.closure:
            # the accounts the scope's usernames reach: those of its accounts' access rows and
            # those it names, found in the same round trip
            first_batch.append((
                f"SELECT account_id FROM access WHERE ukey IN (SELECT ukey FROM access WHERE "
                f"account_id IN ({inside})) UNION SELECT account_id FROM access WHERE ukey IN "
                f"({inside})", (json.dumps(sorted(accounts)),
                                json.dumps(sorted(scope.usernames)))))
        meta_rows, access_cur, *reach = batch(first_batch, True, False)
        state = _meta_state(meta_rows)
        access_rows = list(access_cur)
        ukeys = {r[0] for r in access_rows} | set(scope.usernames)
        further = {r[0] for r in reach[0]} - accounts if reach else set()
        if further:
            access_rows += list(conn.execute(by_account, (json.dumps(sorted(further)),)))
            accounts |= further
        ukeys |= {r[0] for r in access_rows}
        in_accounts = (json.dumps(sorted(accounts)),)
        wanted = [*(f"a:{a}" for a in accounts), *(f"u:{u}" for u in scope.usernames)]
        account_cur, notice_cur, version_cur, user_cur, code_cur = batch([
            (f"{_SELECT_ACCOUNTS} WHERE account_id IN ({inside})", in_accounts),
            # only the notices that list an account of the scope that exists, by index
            (f"{_SELECT_NOTICES} WHERE id IN (SELECT notice_id FROM notice_accounts WHERE "
             f"account_id IN ({inside}) AND account_id IN (SELECT account_id FROM accounts)) "
             "ORDER BY id", in_accounts),
            (f"SELECT key, version FROM versions WHERE key IN ({inside})",
             (json.dumps(sorted(set(wanted))),)),
            (f"{_SELECT_USERS} WHERE ukey IN ({inside})", (json.dumps(sorted(ukeys)),)),
            (f"{_SELECT_CODES} WHERE account_id IN ({inside})", in_accounts),
        ], False, True)
    for row in account_cur:
        state.accounts[row[0]] = Account(
            account_id=row[0], provider_name=row[1], signup_username=row[2],
            practice_name=row[3], tin=row[4], bills_electronically=bool(row[5]),
            created_at=row[6], trial_ends=row[7],
        )
    if scope is not None:
        # every account read (the closure's too) and the usernames the scope names: 0 for a
        # key never written
        found = {str(k): int(v) for k, v in version_cur}
        keys = [*(f"a:{a}" for a in state.accounts), *(f"u:{u}" for u in scope.usernames)]
        state.versions = {k: found.get(k, 0) for k in keys}
    state.notices = [
        Notice(id=r[0], sent_at=r[1], practice_name=r[2], tin=r[3], providers=json.loads(r[4]))
        for r in notice_cur
    ]
    for k, name, home, pw_hash, created, user_id, last in user_cur:
        state.users[k] = User(username=name, home=home, password_hash=pw_hash, created_at=created,
                              id=user_id, last_login=last or "")
    access: dict[tuple[str, str], Privileges] = {}
    for row in access_rows:
        access[(row[0], row[1])] = dict(zip(AREAS, row[2:], strict=True))
    state.access = access
    state.__post_init__()  # build the indexes over the access rows just read
    state.scope = scope
    # The bulk of the rows (340,000 at size L): one scan in primary-key order, records built
    # as dict literals per file, the target dict looked up once per (account, file) run.
    codes = state.codes
    run_key: tuple[str, str] = ("", "")
    target: dict[str, Record] = {}
    for acct, file, key, desc, fee, payer_id, claims in code_cur:
        if (acct, file) != run_key:
            run_key = (acct, file)
            target = codes.setdefault(acct, {}).setdefault(file, {})
        if file == "diagnosis_codes":
            target[key] = {"code": key, "description": desc}
        elif file == "billing_codes":
            target[key] = {"code": key, "description": desc, "fee": fee}
        else:
            target[key] = {"name": key, "payer_id": payer_id, "claims": claims}
    return state
