"""The use cases: what the commands and the service do, without any printing or HTTP.

One engine for every caller (docs/contracts.md, "One engine"): the CLI, `groupsync serve` and
library callers plan and apply through these functions, so the guards (the removal limit), the
caller's scope and the order of checks are the same wherever a plan comes from.

- `prepare` reads the store, computes the plan and logs in with every credential the apply
  will need, so a wrong or missing password fails at plan time; `apply` checks the guards and
  applies it. Both work on a `Backend`: the local account system (`LocalBackend`) or a service
  (`remote.RemoteSystem`), with one shape, so the CLI never asks which it has.
- `plan_as` and `apply_as` are the same two steps for a logged-in caller of the service:
  planned against what that caller may see, applied over what the request's verified logins
  can open.
- `sandbox` signs up the file's provider accounts in a local store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from groupsync.accounts import AccountSystem, create_system, open_system, store_exists
from groupsync.accounts.history import Past
from groupsync.accounts.memo import remembering_logins
from groupsync.accounts.model import State, User, ukey
from groupsync.accounts.passwords import password_problem
from groupsync.accounts.storage import AuditEntry, AuditQuery, ChainCheck, ReviewStatus, Scope
from groupsync.accounts.urls import redact
from groupsync.applier import (
    Progress,
    Reach,
    apply_plan,
    check_seal,
    login_secrets,
    scope_for,
)
from groupsync.clock import today
from groupsync.config import Desired, Secrets
from groupsync.defaults import DEFAULT_MAX_REMOVALS
from groupsync.errors import (
    LoginFailed,
    PermissionDenied,
    PlanError,
    RuleError,
    SecretError,
    StaleError,
)
from groupsync.plan import Plan, make_plan

NAMES_PER_HOUR = 10_000  # "is this name taken" answers per username an hour, through serve


@dataclass(frozen=True)
class Guards:
    """What every apply is checked against before anything is changed, wherever it comes
    from: `apply --max-removals`, `POST /v1/apply`'s `max_removals`, a library call."""

    max_removals: int = DEFAULT_MAX_REMOVALS
    break_glass: bool = False  # `--break-glass`: the sealed master may act (with a note)


def check_guards(plan: Plan, guards: Guards, note: str | None = None) -> None:
    if plan.removals > guards.max_removals:
        raise PlanError(
            f"the plan removes {plan.removals} objects, more than --max-removals "
            f"{guards.max_removals}; nothing was changed"
        )
    check_seal(plan, plan.sealed, guards.break_glass, note)


@dataclass
class Prepared:
    plan: Plan
    passwords: dict[str, str]  # username -> password, in memory only


class Backend(Protocol):
    """What the commands need from a store, local or behind `groupsync serve`."""

    def read_state(self, scope: Scope | None = None) -> State: ...

    def verify_logins(self, state: State, credentials: dict[str, str]) -> None: ...

    def taken(self, usernames: list[str]) -> list[str]: ...

    def audit(self, limit: int | None = None,
              query: AuditQuery | None = None) -> list[AuditEntry]: ...

    def verify_audit(self) -> tuple[bool, int | None, ChainCheck | None]: ...

    def latest_entries(self, cells: list[tuple[str, str]]) -> list[AuditEntry]: ...

    def access_at(self, at: str, state: State, accounts: set[str]) -> Past: ...

    def apply(self, plan: Plan, passwords: dict[str, str], desired: Desired | None = None,
              progress: Progress | None = None, note: str | None = None,
              guards: Guards | None = None) -> int: ...

    def record_notice(self, username: str, password: str, practice_name: str, tin: str,
                      providers: list[dict[str, object]]) -> None: ...

    def review_status(self, accounts: list[str]) -> ReviewStatus: ...

    def reviews(self, accounts: list[str]) -> dict[str, AuditEntry]: ...

    def attest(self, username: str, password: str, accounts: list[str], note: str,
               person: str | None, expected: str | None = None) -> Attested: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Attested:
    revision: int
    digest: str
    rows: int


def attest_as(system: AccountSystem, user: User, accounts: list[str], note: str,
              person: str | None = None, expected: str | None = None) -> Attested:
    """`access --attest`, locally or `POST /v1/reviews`: `user` records that it reviewed the
    access matrix of `accounts` as it stands now. The rights come first (view on
    account_access in each, or refused in the words used whether the account exists or
    not), then the matrix is read and its digest kept with the note. With `expected` (the
    digest of the matrix the reviewer was shown), a matrix that changed since is refused and
    nothing is recorded. The person is the store's (the last applied file's), else the
    given one (a local caller reading its own file)."""
    from groupsync import access as review
    from groupsync import reviews

    wanted = sorted(set(accounts))
    rights = system.rights_of([user.username])
    for account in wanted:
        held = rights.get(account, {}).get(ukey(user.username))
        if held is None:
            raise PermissionDenied(f"{user.username} can't open account {account}")
        if held["account_access"] == "none":
            raise PermissionDenied(f"{user.username} needs view on account_access in account "
                                   f"{account} to review its access (has none)")
    state = system.read_state(Scope(accounts=frozenset(wanted)))
    items = review.rows(state, set(wanted))
    grants: dict[str, dict[str, dict[str, str]]] = {a: {} for a in wanted}
    grants.update(reviews.grants(items))
    digest = reviews.digest(items)
    if expected is not None and expected != digest:
        raise StaleError("the access changed between the matrix shown and this review (the "
                         "digests differ); nothing was recorded: run access again and review "
                         "what it shows")
    detail: dict[str, object] = {"revision": state.revision, "digest": digest, "note": note}
    person = system.person_of(user) or person
    if person:
        detail["person"] = person
    revision = system.record_review(user, grants, detail)
    return Attested(revision, digest, len(items))


def review_status_as(system: AccountSystem, user: User | None,
                     accounts: list[str]) -> ReviewStatus:
    """The review status of `accounts`; for a service's caller (`user`), only of those
    where it has view on account_access, as the trail it may read."""
    if user is not None:
        accounts = _reviewable(system, user, accounts)
    return system.review_status(accounts)


def reviews_as(system: AccountSystem, user: User | None,
               accounts: list[str]) -> dict[str, AuditEntry]:
    if user is not None:
        accounts = _reviewable(system, user, accounts)
    return system.reviews(accounts)


def _reviewable(system: AccountSystem, user: User, accounts: list[str]) -> list[str]:
    rights = system.rights_of([user.username])
    k = ukey(user.username)
    return [a for a in accounts
            if rights.get(a, {}).get(k, {}).get("account_access", "none") != "none"]


class LocalBackend:
    """The account system on a local store (SQLite or PostgreSQL) as a Backend."""

    def __init__(self, system: AccountSystem) -> None:
        self.system = system

    def read_state(self, scope: Scope | None = None) -> State:
        return self.system.read_state(scope)

    def verify_logins(self, state: State, credentials: dict[str, str]) -> None:
        self.system.verify_logins(state, credentials)

    def taken(self, usernames: list[str]) -> list[str]:
        return self.system.taken(usernames)

    def audit(self, limit: int | None = None,
              query: AuditQuery | None = None) -> list[AuditEntry]:
        return self.system.audit(limit, query)

    def verify_audit(self) -> tuple[bool, int | None, ChainCheck | None]:
        """Whether the chain holds, the first broken entry, and the whole check (a local
        store's owner sees it all)."""
        check = self.system.verify_audit()
        return check.broken is None, check.broken, check

    def apply(self, plan: Plan, passwords: dict[str, str], desired: Desired | None = None,
              progress: Progress | None = None, note: str | None = None,
              guards: Guards | None = None) -> int:
        guards = guards or Guards()
        check_guards(plan, guards, note)
        return apply_plan(self.system, plan, passwords, desired, progress=progress, note=note,
                          break_glass=guards.break_glass)

    def record_notice(self, username: str, password: str, practice_name: str, tin: str,
                      providers: list[dict[str, object]]) -> None:
        self.system.record_notice(username, password, practice_name, tin, providers)

    def review_status(self, accounts: list[str]) -> ReviewStatus:
        return review_status_as(self.system, None, accounts)

    def latest_entries(self, cells: list[tuple[str, str]]) -> list[AuditEntry]:
        return self.system.latest_entries(cells)

    def access_at(self, at: str, state: State, accounts: set[str]) -> Past:
        return self.system.access_at(at, state, accounts)

    def reviews(self, accounts: list[str]) -> dict[str, AuditEntry]:
        return reviews_as(self.system, None, accounts)

    def attest(self, username: str, password: str, accounts: list[str], note: str,
               person: str | None, expected: str | None = None) -> Attested:
        return attest_as(self.system, self.system.login(username, password), accounts, note,
                         person, expected)

    def close(self) -> None:
        """Nothing held open: every store call opens and closes its own connection."""


def apply(backend: Backend, plan: Plan, passwords: dict[str, str],
          desired: Desired | None = None, progress: Progress | None = None,
          note: str | None = None, guards: Guards | None = None) -> int:
    """Apply `plan` in one transaction (locally, or as one request to a service); returns the
    store's new revision. The guards come first. With `desired` the plan is made again inside
    the transaction and must come out the same; without, the store must be at the plan's exact
    revision."""
    guards = guards or Guards()
    check_guards(plan, guards, note)  # here, and again where the apply runs (a service too)
    return backend.apply(plan, passwords, desired, progress, note, guards)


class Reader(Protocol):
    """What making a plan reads: the practice's rows, whether names are taken, and the
    state of its access reviews."""

    def read_state(self, scope: Scope | None = None) -> State: ...

    def taken(self, usernames: list[str]) -> list[str]: ...

    def review_status(self, accounts: list[str]) -> ReviewStatus: ...

    def latest_entries(self, cells: list[tuple[str, str]]) -> list[AuditEntry]: ...


def login_either(system: AccountSystem, username: str, password: str,
                 fallback: tuple[str, str] | None, address: str,
                 ttl: float) -> tuple[User, str]:
    """`POST /v1/login`: as `username`, or, with `fallback` and no username of that name in
    the store, as the fallback instead. A client reading as a practice's master, which may
    not exist yet, then spends one log-in, not two (the provider login that could tell, then
    the master). Whether the name exists is learnt only by a caller whose fallback log-in
    succeeded, and is counted as one `POST /v1/names` look-up; a name that exists is checked
    (and its failures counted) as any log-in. Returns the username and its bearer token
    (good for `ttl` seconds)."""
    found = system.find_user(username) if fallback is not None else None
    if fallback is None or found is not None:
        return system.login_for_token(username, password, address, ttl, found)
    other, token = system.login_for_token(fallback[0], fallback[1], address, ttl)
    system.claim_name_lookups(other, 1, NAMES_PER_HOUR)
    return other, token


def plan_for(system: Reader, desired: Desired, rotate: Sequence[str] = (),
             acting: str | None = None) -> tuple[Plan, State]:
    """The plan for `desired` against what `system` shows, logging in with nothing (the
    service's `POST /v1/plan`, and the first half of `prepare`)."""
    state = system.read_state(scope_for(desired))  # the practice's rows, not the store's
    named = [desired.master.username, *(u.username for u in desired.staff.values()),
             *(p.login for p in desired.providers.values())]
    unseen = [name for name in named if state.user(name) is None]
    # A name held where the caller can't see (through a service) is still taken: known now,
    # at plan time, and known as nothing more than taken (no home, no account).
    taken = system.taken(unseen) if unseen else []
    day = today()
    plan = make_plan(desired, state, today=day, rotate=rotate, taken=taken, acting=acting)
    from groupsync.drift import name_drift
    from groupsync.reviews import plan_warnings

    name_drift(plan, system.latest_entries)  # one query, and none for a plan of no changes

    status = system.review_status(sorted(desired.by_account))
    plan.warnings += plan_warnings(desired.review_every_days, status.last,
                                   list(status.break_glass), day)
    return plan, state


class _Visible:
    """The account system as one logged-in username sees it (a service's caller)."""

    def __init__(self, system: AccountSystem, user: User) -> None:
        self.system = system
        self.user = user

    def read_state(self, scope: Scope | None = None) -> State:
        del scope  # what the caller may see is the scope
        return self.system.visible_state(self.user.username)

    def taken(self, usernames: list[str]) -> list[str]:
        # the names a plan asks about count against the caller's hourly look-ups, as
        # POST /v1/names does: a practice of 25,000 names is no way around that limit
        self.system.claim_name_lookups(self.user, len(usernames), NAMES_PER_HOUR)
        return self.system.taken(usernames)

    def review_status(self, accounts: list[str]) -> ReviewStatus:
        return review_status_as(self.system, self.user, accounts)

    def latest_entries(self, cells: list[tuple[str, str]]) -> list[AuditEntry]:
        return self.system.visible_latest(self.user.username, cells)


def plan_as(system: AccountSystem, caller: User, desired: Desired,
            rotate: Sequence[str] = (), acting: str | None = None) -> Plan:
    """`POST /v1/plan`: the plan for `desired` against what `caller` may see; logs in with
    nothing (the apply verifies every login). `acting` is `--as`."""
    return plan_for(_Visible(system, caller), desired, rotate, acting)[0]


def apply_as(system: AccountSystem, caller: User, plan: Plan, passwords: dict[str, str],
             desired: Desired | None = None, *, address: str, note: str | None = None,
             guards: Guards | None = None) -> int:
    """`POST /v1/apply`: `plan` applied as `caller` (who must be the plan's actor), checked
    in this order, each before anything costlier: the guards; every password the plan needs
    is given; every login verified, an unknown name failing as a wrong password does (each
    costs one argon2 verification); then
    `apply_plan` over what those logins can open, rights before any new password is hashed."""
    if ukey(plan.actor) != ukey(caller.username):
        raise PermissionDenied(f"this plan acts as {plan.actor}; log in as {plan.actor} "
                               "to apply it")
    guards = guards or Guards()
    check_guards(plan, guards, note)
    missing = sorted(u for u in plan.needed_passwords() if u not in passwords)
    if missing:
        raise LoginFailed(f"the request lacks the passwords of: {', '.join(missing)}")
    # every login the plan uses, checked once before the transaction; not the names it
    # creates (a taken one is refused as taken, not counted as someone's failed log-in)
    created = {ukey(u) for u in plan.new_passwords()}  # their new passwords don't log in yet
    logins = {u: pw for u, pw in passwords.items()
              if ukey(u) in {ukey(n) for n in plan.credentials} and ukey(u) not in created}
    with remembering_logins():
        verified = system.verify_existing_logins(logins, address)
        rights = system.rights_of([caller.username, *verified])
        administered = {a for a, held in rights.items()
                        if any(p["account_access"] == "full" for p in held.values())}
        # A username whose password this apply sets acts with its new one: it speaks for
        # the request when a verified login administers its home (the one that sets it).
        vouched = [u.username for name in plan.rotated
                   if (u := system.find_user(name)) is not None and u.home in administered]
        if vouched:
            rights = system.rights_of([caller.username, *verified, *vouched])
            administered = {a for a, held in rights.items()
                            if any(p["account_access"] == "full" for p in held.values())}
        seen = ("practice_setup", "account_access", "codes")
        readable = {a for a, held in rights.items()
                    if any(all(p[area] != "none" for area in seen) for p in held.values())}
        reach = Reach(accounts=frozenset(rights), administered=frozenset(administered),
                      readable=frozenset(readable))
        return apply_plan(system, plan, passwords, desired, address=address, note=note,
                          reach=reach, break_glass=guards.break_glass)


def prepare(system: Backend, desired: Desired, secrets: Secrets,
            rotate: Sequence[str] = (), acting: str | None = None,
            break_glass: bool = False) -> Prepared:
    """Plan, then read and check every password the apply will use: `acting` is `--as`; a
    sealed master is refused here, before its password is read or used, unless
    `break_glass` (the apply asks for the note)."""
    plan, state = plan_for(system, desired, rotate, acting)
    check_seal(plan, desired.sealed, break_glass, None, needs_note=False)
    passwords = login_secrets(plan, secrets, desired.var_where)
    check_new_passwords(plan, passwords, desired.var_where)
    # Usernames the apply will create (or give a new password) have nothing to log in with
    # yet; every other login is checked now, once, so `plan` fails where `apply` would.
    fresh = {ukey(u) for u in plan.rotated}
    system.verify_logins(state, {u: pw for u, pw in passwords.items()
                                 if state.user(u) and ukey(u) not in fresh})
    return Prepared(plan, passwords)


def check_new_passwords(plan: Plan, passwords: dict[str, str],
                        where: dict[str, str]) -> None:
    """Every password the apply will set must pass the policy; a weak one fails at plan time,
    naming its variable and where the file references it, never the value."""
    for username in plan.new_passwords():
        var = plan.credentials.get(username, "")
        _policy(passwords.get(username, ""), username, var, where.get(var))


def _policy(password: str, username: str, var: str, where: str | None) -> None:
    problem = password_problem(password, username)
    if problem is not None:
        place = f"{where}: " if where else ""
        raise SecretError(f"{place}${{{var}}} (the new password of {username}) {problem}; "
                          "choose another")


def sandbox_passwords(desired: Desired, secrets: Secrets,
                      keys: Sequence[str] | None = None) -> dict[str, str]:
    """The provider logins' passwords (provider key -> password) for `keys` (every provider
    when None), each checked against the password policy: a sign-up would refuse a weak one,
    so it is refused first, by name. Every unset variable is named in one error, not one per
    run."""
    wanted = [desired.providers[k] for k in keys] if keys is not None \
        else list(desired.providers.values())
    passwords: dict[str, str] = {}
    missing: list[str] = []
    for p in wanted:
        try:
            passwords[p.key] = secrets.get(p.password_var, f"provider {p.key}'s login",
                                           desired.var_where.get(p.password_var))
        except SecretError as exc:
            missing.append(str(exc))
    if missing:
        raise SecretError("\n".join(missing))
    for p in wanted:
        _policy(passwords[p.key], p.login, p.password_var, desired.var_where.get(p.password_var))
    return passwords


def sandbox(store: str, desired: Desired, secrets: Secrets) -> tuple[AccountSystem, list[str]]:
    """Sign up every provider account the file declares, with its id and login; idempotent.
    Returns the system and the provider keys signed up now."""
    existing = open_system(store) if store_exists(store) else None
    state = existing.read_state(Scope(accounts=frozenset(desired.by_account), closure=False)) \
        if existing is not None else None
    missing = []
    for p in desired.providers.values():
        account = state.accounts.get(p.account_id) if state is not None else None
        if account is None:
            missing.append(p.key)
        elif account.signup_username.casefold() != p.login.casefold():
            raise RuleError(
                f"account {p.account_id} already exists in {redact(store)} with sign-up "
                f"username {account.signup_username}, not {p.login}"
            )
    # passwords only for the accounts signed up now: an account that exists needs none
    passwords = sandbox_passwords(desired, secrets, missing)
    system = existing if existing is not None else create_system(store)
    for key in missing:
        p = desired.providers[key]
        system.signup(p.name, p.login, passwords[key], account_id=p.account_id)
    return system, missing
