"""The account system: the product's rules, enforced here whoever calls.

A `Session` is one logged-in username inside one write transaction: every operation checks its
rule against the state read inside that transaction, changes the in-memory state, and records
an audit entry; leaving the `with` block writes every touched row in bulk and raises the
revision once, or, on any error, rolls everything back. The engine's apply is one session, so a
plan is applied whole or not at all, and a rule can't be skipped by calling the store directly.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import date, timedelta
from typing import Any

from groupsync.accounts.history import Past, rewind
from groupsync.accounts.memo import login_memo
from groupsync.accounts.model import (
    Account,
    Privileges,
    Record,
    State,
    User,
    check_text,
    full_privileges,
    is_blank,
    normalize_privileges,
    normalize_record,
    normalize_tin,
    ukey,
)
from groupsync.accounts.passwords import hash_password, password_problem, verify_password
from groupsync.accounts.storage import (
    AuditEntry,
    AuditQuery,
    ChainCheck,
    Dirty,
    LoggedIn,
    ReviewStatus,
    Scope,
    Storage,
    ThrottleLimits,
    WriteTransaction,
    credential_of,
    day_end,
    utcnow,
)
from groupsync.clock import now, today
from groupsync.errors import (
    Conflict,
    LockoutError,
    LoginFailed,
    LoginLocked,
    NotFound,
    PermissionDenied,
    RuleError,
    StaleError,
    Throttled,
)
from groupsync.vocabulary import ACCOUNT_ID_RE, AREAS, CODE_FILES, LEVEL_RANK, MAX_NAME, USERNAME_RE

LOGIN_FAILED = "login failed: unknown username or wrong password"
# Throttling, per (name, client address): after MAX_FAILURES failed log-ins in a row from one
# address the name is locked *from that address* for LOCK_SECONDS, so a stranger can't lock
# the master out of everyone else's reach. One address failing ADDRESS_MAX_FAILURES times in
# ADDRESS_WINDOW, across any names, is locked for every name (password spraying). Every name
# tried is counted, known or not, so a lock says nothing about existence.
MAX_FAILURES = 5
LOCK_SECONDS = 300
LIMITS = ThrottleLimits(max_failures=MAX_FAILURES, lock_seconds=LOCK_SECONDS,
                        address_max_failures=50, address_window=900, address_lock_seconds=900)
LOCAL = "local"  # the client address of the CLI working on a local store
TRIAL_DAYS = 30  # a Free Trial sign-up's length
# Free Trial sign-ups through the service, per client address: enough for a hiring wave,
# not for filling the store (or probing account ids) from one address.
SIGNUPS_PER_WINDOW = 20
SIGNUP_WINDOW_S = 3600.0

def _check_login(user: User | None, username: str, password: str, locked_until: float,
                 now: float) -> User:
    """One log-in check: refused while locked (said alike for known and unknown names), then
    the password against the stored hash (an unknown name costs a hash too)."""
    k = ukey(username)
    if locked_until > now:
        minutes = max(1, round((locked_until - now) / 60))
        raise LoginLocked(
            f"login for {username} from this address is locked after repeated failed "
            f"attempts; try again in {minutes} minute{'s' if minutes > 1 else ''}",
            username, locked_until - now,
        )
    memo = login_memo()
    if user is not None and memo is not None and k in memo:
        known_hash, known_password = memo[k]
        if known_hash == user.password_hash and hmac.compare_digest(
                known_password.encode(), password.encode()):
            return user
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise LoginFailed(f"{LOGIN_FAILED} ({username})", username)
    if memo is not None:
        memo[k] = (user.password_hash, password)
    return user


class AccountSystem:
    """Entry point: sign-ups, read-only views, and logged-in sessions over one store."""

    def __init__(self, storage: Storage, clock: Callable[[], float] = now) -> None:
        self.storage = storage
        self.clock = clock  # injectable so tests can step past a lock without sleeping

    def close(self) -> None:
        """Close the store's connections this thread holds (a library caller done with it;
        the command line's process ends instead)."""
        self.storage.close()

    def read_state(self, scope: Scope | None = None) -> State:
        """The whole store (local admin tools), or the rows of one scope."""
        return self.storage.read_state(scope)

    def audit(self, limit: int | None = None,
              query: AuditQuery | None = None) -> list[AuditEntry]:
        return self.storage.read_audit(limit, None, query)

    def verify_audit(self) -> ChainCheck:
        """The audit trail's hash chain, recomputed over every entry (`log --verify`)."""
        return self.storage.verify_chain()

    def login(self, username: str, password: str, address: str = LOCAL) -> User:
        """Check one log-in from `address` (throttled, audited and cleared like every
        other); reads that username and its throttle rows, nothing else."""
        return self._login(username, password, address, None)[0]

    def login_for_token(self, username: str, password: str, address: str, ttl: float,
                        found: User | None = None) -> tuple[User, str]:
        """A log-in, as `login`, and a bearer token for it (`issue_token`), written with the
        log-in's own bookkeeping in one transaction. `found`: the username as the caller has
        just read it by this name (not read again)."""
        user, token = self._login(username, password, address, ttl, found)
        assert token is not None
        return user, token

    def _login(self, username: str, password: str, address: str, ttl: float | None,
               found: User | None = None) -> tuple[User, str | None]:
        user = found if found is not None and ukey(found.username) == ukey(username) \
            else self.storage.read_user(ukey(username))
        # A log-in of the person (the service's /v1/login, a library caller): its time is
        # kept for idle policies. A plan's check of the credentials its apply will use is
        # not one, so `plan` stays read-only and never waits for a writer.
        token = secrets.token_urlsafe(32) if ttl is not None else None
        now = self.clock()
        logged_in = None if user is None else LoggedIn(
            user.id, utcnow(now), _token_hash(token) if token else None,
            credential_of(user.password_hash), now + (ttl or 0.0))
        self._verify(user, username, password, address, logged_in)
        assert user is not None  # _verify raised otherwise
        return user, token

    def record_review(self, user: User, grants: dict[str, dict[str, dict[str, str]]],
                      detail: dict[str, Any]) -> int:
        """Record an access review by `user` (logged in): one `review` entry per account it
        covers, each holding `detail` (the revision, the digest of the matrix shown, the
        note) and that account's grants as reviewed (username -> levels), so a later
        `--since-review` compares against exactly what was seen. The reviewer must see the
        access it attests: view on account_access in every account. Returns the revision."""
        rights = self.storage.access_of(ukey(user.username))
        for account in sorted(grants):
            if account not in rights:
                raise PermissionDenied(f"{user.username} can't open account {account}")
            if not _at_least(rights[account]["account_access"], "view"):
                raise PermissionDenied(
                    f"{user.username} needs view on account_access in account {account} to "
                    f"review its access (has {rights[account]['account_access']})")
        return self.storage.record_entries([
            AuditEntry("add", "review", actor=user.username, actor_id=user.id, account=a,
                       detail={**detail, "grants": grants[a]})
            for a in sorted(grants)])

    def review_status(self, accounts: Iterable[str]) -> ReviewStatus:
        """Per account: its last access review and the break-glass applies after it. `last`
        is the oldest of those reviews (None while an account was never reviewed), so a
        review of one account never speaks for the others."""
        wanted = sorted(set(accounts))
        latest = self.reviews(wanted)
        since = min((e.id for e in latest.values()), default=0) \
            if len(latest) == len(wanted) else 0
        glass = tuple(e for e in self.storage.entries_of_type("break_glass", wanted, since)
                      if e.account not in latest or e.id > latest[e.account].id)
        last = min(latest.values(), key=lambda e: e.id) \
            if wanted and len(latest) == len(wanted) else None
        return ReviewStatus(last, glass)

    def reviews(self, accounts: Iterable[str]) -> dict[str, AuditEntry]:
        """Each account's newest review entry."""
        return self.storage.latest_of_type("review", sorted(set(accounts)))

    def person_of(self, user: User) -> str | None:
        """The person the last applied practice file named for `user`."""
        fact = self.storage.people([user.id]).get(user.id)
        return fact[0] if fact else None

    def user(self, username: str) -> User:
        """One username by name (a token's owner), or LoginFailed as for an unknown name."""
        user = self.storage.read_user(ukey(username))
        if user is None:
            raise LoginFailed(f"{LOGIN_FAILED} ({username})", username)
        return user

    def visible_state(self, username: str, user: User | None = None) -> State:
        """What `username` may read, as the product's screens show it (docs/contracts.md, "Identity
        and scope"): in each account it can open, the account itself (id, provider name); the
        Practice Set-up with at least view on practice_setup; the usernames and their privileges
        with at least view on account_access; the code files with at least view on codes. Its own
        row always. Read from the rows of those accounts only."""
        k = ukey(username)
        if user is None or ukey(user.username) != k:  # `user`: as a token's check just read it
            user = self.storage.read_user(k)
        if user is None:
            raise LoginFailed(f"{LOGIN_FAILED} ({username})", username)
        mine = self.storage.read_state(Scope(accounts=frozenset(
            self.storage.accounts_of(k)), usernames=frozenset({k}), closure=False))
        # the versions of the accounts shown: a plan made from this view is stale only
        # when one of them moves (the service's callers see no other key)
        row = mine.users.get(k)
        if row is None or row.id != user.id:
            # deleted (and perhaps made again) since `user` was read, by the token's check or
            # above: its read is another username's, refused as logged out
            raise LoginFailed(f"{LOGIN_FAILED} ({username})", username)
        seen = State(lineage=mine.lineage, revision=mine.revision,
                     versions={k: v for k, v in mine.versions.items() if k.startswith("a:")})
        seen.users[k] = row
        for acct in sorted(mine.by_user.get(k, ())):
            levels = mine.access[(k, acct)]
            account = mine.accounts[acct]
            usernames_visible = _at_least(levels["account_access"], "view")
            if _at_least(levels["practice_setup"], "view") and usernames_visible:
                seen.accounts[acct] = account
            else:  # the account (id, provider name), and only what the levels show
                setup = _at_least(levels["practice_setup"], "view")
                seen.accounts[acct] = Account(
                    account_id=acct, provider_name=account.provider_name,
                    signup_username=account.signup_username if usernames_visible else "",
                    practice_name=account.practice_name if setup else None,
                    tin=account.tin if setup else None,
                    bills_electronically=account.bills_electronically if setup else False,
                    setup_visible=setup)
            if usernames_visible:
                opened = set(mine.by_user.get(k, ()))
                for u in mine.by_account.get(acct, ()):
                    other = mine.users[u]
                    # a home the caller can't open is not named (another practice's account)
                    seen.users[u] = other if other.home in opened else User(
                        username=other.username, home="", password_hash="", id=other.id)
                    seen.set_access(other.username, acct, mine.access[(u, acct)])
            else:
                seen.set_access(user.username, acct, levels)
            if _at_least(levels["codes"], "view") and acct in mine.codes:
                seen.codes[acct] = mine.codes[acct]
        setups = {a for a, acct in seen.accounts.items() if acct.tin is not None
                  or _at_least(mine.access[(k, a)]["practice_setup"], "view")}
        seen.notices = [n for n in mine.notices
                        if setups & {str(p["account_id"]) for p in n.providers}]
        return seen

    def visible_audit(self, username: str, limit: int | None = None,
                      query: AuditQuery | None = None) -> list[AuditEntry]:
        """Audit entries about the accounts where `username` has at least view on
        account_access, and those by or about it (by its id: a name deleted and made again
        sees none of the old one's), narrowed by `query`."""
        k = ukey(username)
        user = self.storage.read_user(k)
        if user is None:
            return []
        accounts = sorted(a for a, levels in self.storage.access_of(k).items()
                          if _at_least(levels["account_access"], "view"))
        return self.storage.read_audit(limit, about=(accounts, user.id), query=query)

    def revision_of(self, at: str) -> int:
        """`--at`: a revision as given, or the last one of a day (UTC), from the trail."""
        if at.isascii() and at.isdigit():
            return int(at)
        return self.storage.revision_at(day_end(date.fromisoformat(at).isoformat()))

    def access_at(self, at: str, state: State, accounts: set[str]) -> Past:
        """These accounts' access at the end of `at` (a revision or a day), rebuilt from
        `state` (now, as read for them) and the trail since (docs/contracts.md, "Looking
        back")."""
        revision = self.revision_of(at)
        if revision >= state.revision:
            now = rewind(state, [], accounts, state.revision, {})
            if revision > state.revision:
                now.notes.append(f"r{revision} is after the store's revision "
                                 f"{state.revision}: this is the access now")
            return now
        entries, first = self.storage.read_history(sorted(accounts), revision)
        return rewind(state, entries, accounts, revision, first)

    def visible_access_at(self, username: str, at: str) -> Past:
        """`access_at` for the accounts `username` can open now with view on
        account_access: what it may review today is what it may look back on."""
        state = self.visible_state(username)
        rights = self.storage.access_of(ukey(username))
        mine = {a for a, levels in rights.items() if _at_least(levels["account_access"], "view")
                and a in state.accounts}
        return self.access_at(at, state, mine)

    def latest_entries(self, cells: list[tuple[str, str]]) -> list[AuditEntry]:
        """The newest entry that set each (account, subject): what a plan's drift names."""
        return self.storage.latest_entries(cells)

    def visible_latest(self, username: str, cells: list[tuple[str, str]]) -> list[AuditEntry]:
        """`latest_entries` for the accounts where `username` has view on account_access
        (whose trail it may read); the other cells are not looked at."""
        rights = self.storage.access_of(ukey(username))
        mine = [cell for cell in cells if cell[0] in rights
                and _at_least(rights[cell[0]]["account_access"], "view")]
        return self.storage.latest_entries(mine)

    def visible_chain_check(self, username: str) -> tuple[bool, int | None]:
        """Whether the whole chain holds, and the first broken entry's id only where
        `username` may read that entry (docs/contracts.md, "The audit trail")."""
        check = self.storage.verify_chain()
        if check.broken is None:
            return True, None
        seen = self.visible_audit(username, 1, AuditQuery(entry=check.broken))
        return False, check.broken if seen else None

    def rights_of(self, usernames: Iterable[str]) -> dict[str, dict[str, Privileges]]:
        """account -> casefolded username -> privileges, for the accounts these usernames can
        open (their own access rows only)."""
        found: dict[str, dict[str, Privileges]] = {}
        for name in dict.fromkeys(ukey(u) for u in usernames):
            for account, levels in self.storage.access_of(name).items():
                found.setdefault(account, {})[name] = levels
        return found

    def find_user(self, username: str) -> User | None:
        """One username by name, or None (reads that row only)."""
        return self.storage.read_user(ukey(username))

    def user_by_id(self, user_id: str) -> User:
        """The username with this id (a token's owner, as it is spelled now), or LoginFailed
        as for an unknown name."""
        user = self.storage.read_user_by_id(user_id)
        if user is None:
            raise LoginFailed(LOGIN_FAILED, "")
        return user

    def taken(self, usernames: list[str]) -> list[str]:
        """Which of these names exist anywhere in the store (nothing about where)."""
        found = self.storage.existing_usernames([ukey(u) for u in usernames])
        return [u for u in usernames if ukey(u) in found]

    def issue_token(self, user: User, ttl: float) -> str:
        """A bearer token for `user`, kept in the store as a hash only. It ends after `ttl`
        seconds, when the username is deleted, or when its password is set."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        self.storage.issue_token(_token_hash(token), user.id, credential_of(user.password_hash),
                                 now + ttl, now)
        return token

    def token_user(self, token: str) -> str | None:
        """The username a live token belongs to (as spelled now); None for anything else."""
        user = self.storage.token_owner(_token_hash(token), self.clock())
        return user.username if user else None

    def token_owner(self, token: str) -> User | None:
        """The username a live token belongs to, as its row is now (the service acts on its
        id: a name can be deleted and made again, an id can't); None for anything else."""
        return self.storage.token_owner(_token_hash(token), self.clock())

    def prehash(self, passwords: dict[str, str]) -> dict[str, tuple[str, str]]:
        """argon2 hashes of new usernames' passwords, made *before* a write transaction opens,
        so the transaction holds the store's lock for SQL only (docs/contracts.md, "Identity and
        scope": log-ins never wait behind an apply's hashing). Keyed by casefolded name; policy
        still applies to the password itself when the username is made."""
        return {ukey(u): (hash_password(pw), _fingerprint(pw)) for u, pw in passwords.items()
                if password_problem(pw, u) is None}

    def verify_existing_logins(self, credentials: dict[str, str], address: str) -> list[str]:
        """Check, before an apply's transaction, every login (each reads its own row): inside
        `remembering_logins()` the transaction's own checks are then free. A name that
        doesn't exist fails as a wrong password does, hashed and counted, so listing names
        in a request says nothing about which exist. Returns the usernames verified."""
        verified = []
        for username, password in credentials.items():
            user = self.storage.read_user(ukey(username))
            self._verify(user, username, password, address)
            assert user is not None  # _verify raised otherwise
            verified.append(user.username)
        return verified

    def verify_logins(self, state: State, credentials: dict[str, str],
                      address: str = LOCAL) -> None:
        """Check several logins against a state (for `plan`); only failures are written."""
        for username, password in credentials.items():
            self._verify(state.user(username), username, password, address)

    def _verify(self, user: User | None, username: str, password: str, address: str,
                logged_in: LoggedIn | None = None) -> None:
        k = throttle_subject(user, username)
        now = self.clock()
        # Through the service, an attempt is counted before its password is checked, so
        # concurrent guesses can't all slip past the lock; the CLI on a local store checks
        # its logins one after another and writes only failures.
        claimed = address != LOCAL
        if claimed:
            locked_until = self.storage.claim_login_attempt(k, address, now, LIMITS)
            counted = True
        else:
            locked_until, counted = self.storage.login_throttle(k, address, now)
        try:
            _check_login(user, username, password, locked_until, now)
        except LoginFailed as exc:
            if not isinstance(exc, LoginLocked) or not claimed:  # a claim counted refusals
                self._login_failed(exc, user, address, claimed)
            raise
        if counted or logged_in is not None:
            self.storage.login_succeeded(k, address, now, _login_entry(user, username),
                                         claimed, counted, logged_in)

    def _login_failed(self, exc: LoginFailed, user: User | None, address: str,
                      claimed: bool = False) -> None:
        """Count and audit a failed log-in with its address; never the password, never
        whether the name exists."""
        k = throttle_subject(user, exc.username)
        if isinstance(exc, LoginLocked):
            self.storage.record_login_refused(k, address)
            return
        entry = _login_entry(user, exc.username)
        entry.action = "login_failed"
        self.storage.record_login_failure(k, address, entry, self.clock(), LIMITS, claimed)

    def signup(
        self, provider_name: str, username: str, password: str, account_id: str | None = None,
        address: str = LOCAL,
    ) -> str:
        """Free Trial sign-up: a new account and its provider username with full everywhere.
        From a client address (through the service) it is throttled per address."""
        if address != LOCAL:
            wait = self.storage.claim_signup(address, self.clock(), SIGNUPS_PER_WINDOW,
                                             SIGNUP_WINDOW_S)
            if wait:
                raise Throttled(f"too many sign-ups from your address; try again in "
                                f"{int(wait) // 60 + 1} minutes", wait)
        if account_id is not None and not ACCOUNT_ID_RE.fullmatch(account_id):
            raise RuleError(f"Account ID {account_id!r} must be 1-20 digits")
        if not USERNAME_RE.fullmatch(username):
            raise RuleError(f"username {username!r} must be 3-64 letters, digits or . _ @ -")
        _check_new_password(username, password)
        _check_name(provider_name, "a provider's name")
        # argon2 before the write transaction: the store's lock is held for SQL only, so a
        # wave of sign-ups never makes applies and log-ins wait behind its hashing
        password_hash = hash_password(password)
        with self.storage.write() as tx:
            if account_id is None:
                account_id = _new_account_id(tx)
            # one account and one name: a sign-up reads nothing else of the store
            state = tx.load_state(Scope(accounts=frozenset({account_id}),
                                        usernames=frozenset({ukey(username)}), closure=False))
            if account_id in state.accounts:
                raise Conflict(f"account {account_id} already exists")
            _check_new_username(state, username)
            now = utcnow(self.clock())
            trial_ends = (today(self.clock()) + timedelta(days=TRIAL_DAYS)).isoformat()
            state.accounts[account_id] = Account(
                account_id=account_id, provider_name=provider_name.strip(),
                signup_username=username, created_at=now, trial_ends=trial_ends,
            )
            state.users[ukey(username)] = User(
                username=username, home=account_id, password_hash=password_hash,
                created_at=now, id=new_user_id(),
            )
            state.set_access(username, account_id, full_privileges())
            dirty = Dirty(accounts={account_id}, users={ukey(username)},
                          access={(ukey(username), account_id)})
            user_id = state.users[ukey(username)].id
            entry = AuditEntry(
                action="add", type="account", actor=username, account=account_id,
                username=username, actor_id=user_id, username_id=user_id,
                detail={"after": {"provider_name": provider_name.strip(), "signup": username}},
            )
            tx.flush(state, dirty, [entry], state.revision + 1)
        return account_id

    def record_notice(self, username: str, password: str, practice_name: str, tin: str,
                      providers: list[dict[str, object]], address: str = LOCAL) -> None:
        """Record a group-rate notice as sent, as a logged-in username (audited)."""
        self.record_notice_as(self.login(username, password, address), practice_name, tin,
                              providers)

    def record_notice_as(self, user: User, practice_name: str, tin: str,
                         providers: list[dict[str, object]]) -> int:
        """Record a notice as sent by `user` (a token's owner). It needs full practice_setup
        in every account it lists (the notice speaks for their Practice Set-up), so no
        practice writes into another's notices and a front desk can't forge the "last sent"
        one; each account is listed once. Returns how many providers it lists."""
        rights = self.storage.access_of(ukey(user.username))
        listed: dict[str, dict[str, object]] = {}
        for provider in providers:
            listed.setdefault(str(provider.get("account_id")), provider)
        for account in sorted(listed):
            if account not in rights:
                raise PermissionDenied(f"{user.username} can't open account {account}")
            if rights[account]["practice_setup"] != "full":
                raise PermissionDenied(
                    f"{user.username} needs full on practice_setup in account {account} to "
                    f"record a notice for it (has {rights[account]['practice_setup']})")
        check_text(practice_name, "a practice name")
        for provider in listed.values():
            check_text(str(provider.get("name", "")), "a provider's name")
        kept = list(listed.values())
        entry = AuditEntry("add", "notice", actor=user.username, actor_id=user.id,
                           detail={"after": {"practice_name": practice_name, "tin": tin,
                                             "providers": kept}})
        self.storage.record_notice(practice_name, tin, kept, entry)
        return len(kept)

    def claim_name_lookups(self, user: User, count: int, per_hour: int) -> None:
        """Count `count` "is this name taken" questions for `user` (kept in the store, so
        every serve process shares it); Throttled past `per_hour` in an hour."""
        wait = self.storage.claim_quota("names", f"id:{user.id}", self.clock(), per_hour,
                                        3600.0, count)
        if wait:
            raise Throttled(f"more than {per_hour:,} username look-ups in an hour; try again "
                            f"in {int(wait) // 60 + 1} minutes", wait)

    @contextlib.contextmanager
    def session(self, username: str, password: str, address: str = LOCAL,
                scope: Scope | None = None,
                prehashed: dict[str, tuple[str, str]] | None = None,
                note: str | None = None, persons: dict[str, str] | None = None,
                break_glass: bool = False) -> Iterator[Session]:
        """Log in and open one write transaction; committed when the block ends cleanly. With
        a scope, the transaction reads (and can change) only those rows."""
        state: State | None = None
        if scope is not None:
            scope = Scope(accounts=scope.accounts,
                          usernames=scope.usernames | {ukey(username)}, closure=True)
        try:
            with self.storage.write() as tx:
                state = tx.load_state(scope)
                session = Session(tx, state, username, password, self.clock(), address,
                                  prehashed or {}, note, persons, break_glass)
                yield session
                session._commit()
        except LoginFailed as exc:
            # The session rolled back; the failure itself is recorded on its own.
            if state is not None:
                self._login_failed(exc, state.user(exc.username), address)
            raise


def _as_a_whole(entries: list[AuditEntry]) -> list[AuditEntry]:
    """The trail of one session as what it did, not the steps it took: for each (username,
    account), an add (a new username or a join) followed by privilege changes is one add with
    the levels it ends at, and several privilege changes are one, from the first before to
    the last after (none when they cancel out). The engine raises the master's rights for the
    length of an apply and joins with the login's levels before narrowing them; an auditor
    must never read a moment of `full` that nobody could use."""
    folded: list[AuditEntry | None] = []
    first: dict[tuple[str, str], int] = {}  # (username id, account) -> index in `folded`
    for entry in entries:
        key = (entry.username_id or "", entry.account or "")
        if entry.type == "privileges" and entry.action == "change" and key in first:
            earlier = folded[first[key]]
            assert earlier is not None
            after = entry.detail["after"]
            if earlier.type == "join":
                earlier.detail = {**earlier.detail, "after": after}
            elif earlier.type == "username":
                earlier.detail = {**earlier.detail, "after": {
                    **earlier.detail["after"], "privileges": after}}
            else:
                earlier.detail = {**earlier.detail, "after": after}
            continue
        if entry.action == "remove" or entry.type not in ("join", "username", "privileges"):
            first.pop(key, None)
        elif entry.username_id and entry.account:
            first[key] = len(folded)
        folded.append(entry)
    return [e for e in folded if e is not None and not (
        e.type == "privileges" and e.action == "change"
        and e.detail.get("before") == e.detail.get("after"))]




def _check_name(name: str, what: str) -> None:
    """A provider's or practice's name: plain text, not blank, at most MAX_NAME characters
    (the rule is here, so a hand-made plan or request can't store what the file can't)."""
    if is_blank(name):
        raise RuleError(f"{what} can't be empty")
    if len(name) > MAX_NAME:
        raise RuleError(f"{what} is longer than {MAX_NAME} characters")
    check_text(name, what)


def _at_least(level: str, wanted: str) -> bool:
    return LEVEL_RANK[level] >= LEVEL_RANK[wanted]


def throttle_subject(user: User | None, username: str) -> str:
    """Whose failures a throttle row counts: the username's id, so a name deleted and made
    again starts clean. A name that doesn't exist is counted by a hash of its spelling: what
    someone typed as a username (a password, as often as not) is never stored as typed."""
    if user is not None:
        return f"id:{user.id}"
    return "name:" + hashlib.sha256(ukey(username).encode()).hexdigest()[:32]


def new_user_id() -> str:
    return uuid.uuid4().hex


# Which password a hash made ahead of time was made for: a keyed digest, the key random per
# process, so an apply can match a prehashed password in microseconds without keeping it.
_FINGERPRINT_KEY = secrets.token_bytes(32)


def _fingerprint(password: str) -> str:
    return hmac.new(_FINGERPRINT_KEY, password.encode(), hashlib.sha256).hexdigest()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _login_entry(user: User | None, username: str) -> AuditEntry:
    return AuditEntry("login", "login", actor=user.username if user else "(unknown name)",
                      username=user.username if user else None,
                      actor_id=user.id if user else None, username_id=user.id if user else None)


def _new_account_id(tx: WriteTransaction) -> str:
    while True:
        candidate = str(100000 + secrets.randbelow(900000))
        if not tx.find_account(candidate):
            return candidate


def _check_new_password(username: str, password: str) -> None:
    problem = password_problem(password, username)
    if problem is not None:
        raise RuleError(f"the new password for {username} {problem}; choose another")


def _check_new_username(state: State, username: str) -> None:
    if not USERNAME_RE.fullmatch(username):
        raise RuleError(
            f"username {username!r} must be 3-64 letters, digits or . _ @ -"
        )
    if state.user(username) is not None:
        raise Conflict(f"username {username!r} is already taken (usernames ignore case)")


class Session:
    """One logged-in username inside one write transaction."""

    def __init__(self, tx: WriteTransaction, state: State, username: str, password: str,
                 now: float, address: str,
                 prehashed: dict[str, tuple[str, str]] | None = None,
                 note: str | None = None, persons: dict[str, str] | None = None,
                 break_glass: bool = False) -> None:
        self._tx = tx
        self._prehashed = prehashed or {}
        self.note = note  # `apply --note`: kept on every audit entry of this session
        # the person behind each acting username, as the practice file names it, and
        # whether this is a break-glass apply as a sealed master: kept on every entry
        self.persons = {ukey(k): v for k, v in (persons or {}).items()}
        self.break_glass = break_glass
        self.state = state
        self._now = now
        self.address = address
        self._logins_ok: dict[str, AuditEntry] = {}  # failure counters to clear on commit
        self._logged_in: set[str] = set()  # username ids: their last log-in, kept on commit
        self._dirty = Dirty()
        self._audit: list[AuditEntry] = []
        self.actor = self.verify_login(username, password).username

    # -- logins ----------------------------------------------------------------------------

    def verify_login(self, username: str, password: str) -> User:
        """Check a login against the state inside this transaction."""
        known = self.state.user(username)
        k = throttle_subject(known, username)
        locked_until, counted = self._tx.login_throttle(k, self.address, self._now)
        user = _check_login(known, username, password, locked_until, self._now)
        self._logged_in.add(user.id)
        if counted:
            self._logins_ok[k] = _login_entry(user, username)
        return user

    def stored_people(self, usernames: Iterable[str]) -> dict[str, tuple[str | None, bool]]:
        """Casefolded username -> (person, sealed), as the last applied practice file said."""
        ids = {u.id: ukey(u.username) for name in usernames
               if (u := self.state.user(name)) is not None}
        return {ids[i]: fact for i, fact in self._tx.people(sorted(ids)).items()}

    def keep_people(self, facts: dict[str, tuple[str | None, bool]]) -> None:
        """Keep what the applied file says of each username it declares that exists."""
        rows = [(u.id, person, sealed) for name, (person, sealed) in facts.items()
                if (u := self.state.user(name)) is not None]
        self._tx.keep_people(rows)

    def act_as(self, username: str, password: str) -> None:
        """Switch the acting username (e.g. to a master username created in this session)."""
        self.actor = self.verify_login(username, password).username

    def expect(self, lineage: str, basis: dict[str, int] | None = None) -> None:
        """Refuse unless the store is the one a plan was computed from and, with `basis`
        (a saved plan's versions of the rows it was made from), none of those rows has
        been written since, by anyone (docs/contracts.md, "Saved plans")."""
        if self.state.lineage != lineage:
            raise StaleError(
                f"the plan was made for another store (lineage {lineage}, "
                f"this store is {self.state.lineage}); nothing was changed"
            )
        if basis is None:
            return
        now = self._tx.versions(sorted(basis))
        moved = sorted(k for k, v in basis.items() if now[k] != v)
        if moved:
            kind, _, key = moved[0].partition(":")
            what = f"account {key}" if kind == "a" else f"username {key}"
            more = (f", and {len(moved) - 1} more account{'s' if len(moved) > 2 else ''} or "
                    f"username{'s' if len(moved) > 2 else ''}" if len(moved) > 1 else "")
            raise StaleError(
                f"the store changed since the plan was made ({what} changed{more}); run "
                "plan again. Nothing was changed"
            )

    # -- rule helpers ----------------------------------------------------------------------

    def _require(self, account_id: str, area: str, level: str, doing: str) -> None:
        if (ukey(self.actor), account_id) not in self.state.access:
            # the same words whether the account exists or not: an account the actor can't
            # open is not described to it (docs/contracts.md, "Identity and scope")
            raise PermissionDenied(f"{self.actor} can't open account {account_id}")
        have = self.state.level(self.actor, account_id, area)
        if LEVEL_RANK[have] < LEVEL_RANK[level]:
            raise PermissionDenied(
                f"{self.actor} needs {level} on {area} in account {account_id} to {doing} "
                f"(has {have})"
            )

    def _guard(self, account_id: str, doing: str) -> None:
        """Lockout guard: someone must keep full account_access in the account."""
        for u in self.state.by_account.get(account_id, ()):
            if self.state.access[(u, account_id)]["account_access"] == "full":
                return
        raise LockoutError(
            f"{doing} would leave account {account_id} without any username holding full "
            "account_access; refused"
        )

    def user(self, username: str) -> User:
        """A username the actor may act on (see `_user`): NotFound for any other."""
        return self._user(username)

    def _user(self, username: str) -> User:
        """A username the actor may act on: one that can open an account the actor can open
        (or the actor itself). Any other, and one that doesn't exist, get the same words: a
        username of another practice is neither located nor confirmed (docs/contracts.md, "Identity
        and scope")."""
        user = self.state.user(username)
        if user is not None and (ukey(user.username) == ukey(self.actor)
                                 or self.state.by_user.get(ukey(self.actor), set())
                                 & self.state.by_user.get(ukey(user.username), set())):
            return user
        raise NotFound(f"username {username!r} is not one {self.actor} can act on")

    def _record(self, entry: AuditEntry, username_id: str | None = None) -> None:
        entry.actor = self.actor
        actor = self.state.user(self.actor)
        entry.actor_id = actor.id if actor else None
        if username_id is None and entry.username:
            about = self.state.user(entry.username)
            username_id = about.id if about else None
        entry.username_id = username_id
        marks = self._marks()
        if marks:
            entry.detail = {**entry.detail, **marks}
        self._audit.append(entry)

    def _marks(self) -> dict[str, Any]:
        """What every entry of this session carries: the acting username's person, a
        break-glass apply's mark, the apply's note."""
        marks: dict[str, Any] = {}
        person = self.persons.get(ukey(self.actor))
        if person:
            marks["person"] = person
        if self.break_glass:
            marks["break_glass"] = True
        if self.note:
            marks["note"] = self.note
        return marks

    def _hash_for(self, username: str, password: str) -> str:
        """The argon2 hash of a new password: made before the transaction when it could be
        (prehashed for exactly this password), else now."""
        ready = self._prehashed.get(ukey(username))
        if ready is not None and hmac.compare_digest(ready[1], _fingerprint(password)):
            return ready[0]
        return hash_password(password)

    # -- Practice Set-up -------------------------------------------------------------------

    def set_practice_setup(
        self, account_id: str, practice_name: str | None, tin: str | None,
        bills_electronically: bool, provider_name: str | None = None,
    ) -> None:
        """Practice Set-up: practice name, TIN, electronic billing and (when given) the
        provider's name, which the product keeps on the same screen."""
        self._require(account_id, "practice_setup", "full", "change its Practice Set-up")
        if practice_name:
            _check_name(practice_name, "a practice name")
        if provider_name is not None:
            _check_name(provider_name, "a provider's name")
        account = self.state.accounts[account_id]
        before = {"provider_name": account.provider_name, **account.practice_setup()}
        if provider_name is not None:
            account.provider_name = provider_name.strip()
        account.practice_name = practice_name.strip() if practice_name else None
        account.tin = normalize_tin(tin) if tin else None
        account.bills_electronically = bool(bills_electronically)
        after = {"provider_name": account.provider_name, **account.practice_setup()}
        if after != before:
            self._dirty.accounts.add(account_id)
            self._record(AuditEntry(
                "change", "practice_setup", self.actor, account=account_id,
                detail={"before": before, "after": after},
            ))

    # -- usernames and joins ---------------------------------------------------------------

    def allow_access(
        self, account_id: str, username: str, password: str, privileges: dict[str, str] | None
    ) -> None:
        """Allow Account Access: a new username whose home is this account."""
        self._require(account_id, "account_access", "full", "add a username")
        _check_new_username(self.state, username)
        deleted_here = ukey(username) in self._dirty.users  # and not in state: gone now
        if (self.state.scope is not None and not deleted_here
                and self._tx.find_user(ukey(username))):
            # taken outside the rows this apply read: said as a sign-up screen says it, not
            # where it lives
            raise Conflict(f"username {username} is taken")
        _check_new_password(username, password)
        privs = normalize_privileges(privileges)
        k = ukey(username)
        made = self._hash_for(username, password)
        self.state.users[k] = User(
            username=username, home=account_id, password_hash=made,
            created_at=utcnow(self._now), id=new_user_id(),
        )
        self.state.set_access(username, account_id, privs)
        self._dirty.users.add(k)
        self._dirty.access.add((k, account_id))
        self._record(AuditEntry(
            "add", "username", self.actor, account=account_id, username=username,
            detail={"after": {"home": account_id, "privileges": privs}},
        ))

    def join(
        self, username: str, account_id: str, login_username: str, login_password: str
    ) -> None:
        """Access Other Accounts: join with the login of a username whose home is the account.

        The joined username gets exactly that login's privileges there, never more.
        """
        user = self._user(username)
        # Whether the account exists is not said here: only a login whose home it is can
        # join it, so a wrong account reads as a wrong login (no probing for account ids).
        if ukey(self.actor) != ukey(username):
            self._require(user.home, "account_access", "full", f"join {username} to other accounts")
        login = self.verify_login(login_username, login_password)
        if login.home != account_id:
            raise RuleError(
                f"{login.username} is not a login of account {account_id} "
                f"(its home is {login.home}); join with that account's own login"
            )
        k = ukey(username)
        if (k, account_id) in self.state.access:
            raise Conflict(f"{username} already has access to account {account_id}")
        privs = dict(self.state.access.get((ukey(login.username), account_id)) or {})
        privs = normalize_privileges(privs)
        self.state.set_access(username, account_id, privs)
        self._dirty.access.add((k, account_id))
        self._record(AuditEntry(
            "add", "join", self.actor, account=account_id, username=username,
            detail={"after": privs, "login": login.username},
        ))

    def set_privileges(self, account_id: str, username: str, privileges: dict[str, str]) -> None:
        """Username Privileges for one username in one account (all nine areas)."""
        self._require(account_id, "account_access", "full", "set Username Privileges")
        k = ukey(self._user(username).username)
        before = self.state.access.get((k, account_id))
        if before is None:
            raise NotFound(f"{username} has no access to account {account_id}")
        after = normalize_privileges({**before, **privileges})
        if after == before:
            return
        self.state.set_access(username, account_id, after)
        self._guard(account_id, f"setting {username}'s privileges")
        self._dirty.access.add((k, account_id))
        self._record(AuditEntry(
            "change", "privileges", self.actor, account=account_id, username=username,
            detail={"before": before, "after": after},
        ))

    def leave(self, username: str, account_id: str) -> None:
        """Remove a username's access to an account other than its home."""
        user = self._user(username)
        self._require(account_id, "account_access", "full", f"remove {username}'s access")
        if user.home == account_id:
            raise RuleError(f"{username} can't leave account {account_id}: it is its home")
        k = ukey(user.username)
        before = self.state.access.get((k, account_id))
        if before is None:
            raise NotFound(f"{username} has no access to account {account_id}")
        self.state.drop_access(username, account_id)
        self._guard(account_id, f"removing {username}'s access")
        self._dirty.access.add((k, account_id))
        self._record(AuditEntry(
            "remove", "join", self.actor, account=account_id, username=username,
            detail={"before": before},
        ))

    def delete_username(self, username: str) -> None:
        """Delete an unused username: all its access goes with it."""
        user = self._user(username)
        self._require(user.home, "account_access", "full", f"delete {username}")
        k = ukey(user.username)
        # A username may delete itself (a master moving home does, last of all in the old
        # home); the session then acts as nobody until act_as names another login.
        if any(ukey(a.signup_username) == k for a in self.state.accounts.values()):
            raise RuleError(f"{username} is a provider's sign-up username and can't be deleted")
        accounts = self.state.accounts_of(username)
        before = {acct: self.state.access[(k, acct)] for acct in accounts}
        for acct in accounts:
            self.state.drop_access(username, acct)
            self._dirty.access.add((k, acct))
        for acct in accounts:
            self._guard(acct, f"deleting {username}")
        # recorded before the row goes, so a self-deletion still names its actor's id
        self._record(AuditEntry(
            "remove", "username", self.actor, account=user.home, username=user.username,
            detail={"before": {"home": user.home, "access": before}},
        ), username_id=user.id)
        del self.state.users[k]
        self._dirty.gone_ids.add(user.id)
        self._dirty.users.add(k)

    def set_password(self, username: str, password: str) -> None:
        """Set a username's password: by the username itself (logged in with its old one) or
        by a username with full account_access in its home. Its tokens end and its log-in
        locks are cleared; the audit says who and when, never the value."""
        user = self._user(username)
        if ukey(user.username) != ukey(self.actor):
            self._require(user.home, "account_access", "full", f"set {username}'s password")
        _check_new_password(user.username, password)
        k = ukey(user.username)
        self.state.users[k] = User(username=user.username, home=user.home,
                                   password_hash=self._hash_for(user.username, password),
                                   created_at=user.created_at, id=user.id)
        self._dirty.users.add(k)
        self._dirty.reset_ids.add(user.id)
        self._record(AuditEntry("change", "password", self.actor, account=user.home,
                                username=user.username), username_id=user.id)

    # -- code files ------------------------------------------------------------------------

    def _file(self, account_id: str, file: str) -> dict[str, Record]:
        if file not in CODE_FILES:
            raise RuleError(f"unknown code file {file!r}")
        return self.state.codes.setdefault(account_id, {}).setdefault(file, {})

    def _put(self, account_id: str, file: str, record: Record, via: str | None = None) -> None:
        records = self._file(account_id, file)
        key = record[CODE_FILES[file][0]]
        before = records.get(key)
        if before == record:
            return
        records[key] = dict(record)
        self._dirty.codes.add((account_id, file, key))
        detail: dict[str, Any] = {"file": file, "key": key, "before": before, "after": record}
        if via:
            detail["copied_from"] = via
        self._record(AuditEntry(
            "change" if before else "add", "code", self.actor, account=account_id, detail=detail,
        ))

    def put_codes(self, account_id: str, file: str, records: Iterable[dict[str, Any]]) -> None:
        """Enter records into an account's code file (add, or overwrite the same key)."""
        self._require(account_id, "codes", "full", f"enter {file}")
        for raw in records:
            self._put(account_id, file, normalize_record(file, raw))

    def remove_codes(self, account_id: str, file: str, keys: Iterable[str]) -> None:
        self._require(account_id, "codes", "full", f"remove {file} records")
        records = self._file(account_id, file)
        for key in keys:
            before = records.pop(key, None)
            if before is None:
                raise NotFound(f"{file} has no record {key!r} in account {account_id}")
            self._dirty.codes.add((account_id, file, key))
            self._record(AuditEntry(
                "remove", "code", self.actor, account=account_id,
                detail={"file": file, "key": key, "before": before},
            ))

    def copy_codes(
        self, from_account: str, to_account: str, file: str, keys: Iterable[str] | None = None
    ) -> None:
        """Copy Codes to Another Account: add or overwrite by key; nothing else is touched."""
        if from_account == to_account:
            raise RuleError("Copy From and Copy To must be different accounts")
        self._require(from_account, "codes", "view", f"copy {file} from it")
        self._require(to_account, "codes", "full", f"copy {file} into it")
        source = self._file(from_account, file)
        chosen = source.keys() if keys is None else keys
        for key in list(chosen):
            record = source.get(key)
            if record is None:
                raise NotFound(f"{file} has no record {key!r} in account {from_account}")
            self._put(to_account, file, record, via=from_account)

    # -- commit ----------------------------------------------------------------------------

    def _commit(self) -> None:
        if self._logins_ok:
            self._tx.clear_login_throttle(self._logins_ok, self.address, self._now)
        if self._logged_in:
            self._tx.record_logins(sorted(self._logged_in), utcnow(self._now))
        if not self._dirty:
            return  # nothing changed: neither the revision nor the audit trail moves
        revision = self.state.revision + 1
        audit = _as_a_whole(self._audit)
        if self.break_glass:
            # one marker per account the apply touched, found by the next plans' warning
            # (docs/contracts.md, "Reviews") through the audit's type index
            touched = sorted({e.account for e in audit if e.account})
            actor = self.state.user(self.actor)
            audit += [AuditEntry("change", "break_glass", self.actor, account=a,
                                 actor_id=actor.id if actor else None, detail=self._marks())
                      for a in touched]
        self._tx.flush(self.state, self._dirty, audit, revision)
        self.state.revision = revision
        self._dirty = Dirty()
        self._audit = []


__all__ = ["AREAS", "AccountSystem", "Privileges", "Session"]
