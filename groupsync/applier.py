"""Plan -> calls on the account system, all inside one session (one write transaction).

The session re-reads the store and refuses if it is not exactly the state the plan was computed
from. Changes are applied in an order that never loses a right still needed: the master is
created and joined first, its own privileges are raised early and reduced last; removals come
after everything that adds.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from groupsync.accounts import AccountSystem, Session
from groupsync.accounts.model import State, User, ukey
from groupsync.accounts.service import LOCAL
from groupsync.accounts.storage import Scope
from groupsync.changes import (
    CodeChange,
    JoinChange,
    PasswordChange,
    PracticeSetupChange,
    PrivilegesChange,
    UsernameChange,
)
from groupsync.clock import today
from groupsync.config import Desired, Secrets
from groupsync.errors import (
    GroupsyncError,
    PermissionDenied,
    PlanError,
    PolicyError,
    StaleError,
    UsageError,
)
from groupsync.plan import Plan, make_plan
from groupsync.planner.rules import password_setter
from groupsync.vocabulary import AREAS, LEVEL_RANK

Progress = Callable[[int, int], None]


def login_secrets(plan: Plan, secrets: Secrets,
                  where: dict[str, str] | None = None) -> dict[str, str]:
    """Every password the apply will use, by username; raises SecretError naming the first
    variable that is missing (and where the file references it, when known)."""
    where = where or {}
    return {
        user: secrets.get(var, f"the password of {user}", where.get(var))
        for user, var in plan.credentials.items()
    }


def scope_for(desired: Desired) -> Scope:
    """The rows a plan for `desired` reads (and its apply re-reads): the declared accounts,
    the usernames that can open them, and every username the file names, wherever it lives
    (a name the file would create must be seen if it is taken)."""
    names = {ukey(desired.master.username), *desired.staff,
             *(ukey(p.login) for p in desired.providers.values())}
    return Scope(accounts=frozenset(desired.by_account), usernames=frozenset(names))


def scope_for_plan(plan: Plan) -> Scope:
    """The rows a saved plan's apply reads: every account and username it names."""
    accounts = {*plan.accounts, *(c.account for c in plan.changes)}
    if plan.code_master:
        accounts.add(plan.code_master)
    names = {plan.actor, plan.master, plan.executor, *plan.credentials, *plan.logins.values(),
             *(c.username for c in plan.changes if c.username)}
    return Scope(accounts=frozenset(accounts), usernames=frozenset(ukey(n) for n in names))


def check_seal(plan: Plan, sealed: bool, break_glass: bool, note: str | None,
               needs_note: bool = True) -> None:
    """Nobody acts as a sealed master but with --break-glass and a --note saying why
    (docs/contracts.md, "People and who acts"); everyone else acts as themselves (--as)."""
    if sealed and plan.acts_as_master():
        _break_glass(plan.master, break_glass, note, needs_note)


def _break_glass(master: str, break_glass: bool, note: str | None,
                 needs_note: bool = True) -> None:
    if not break_glass:
        raise PermissionDenied(
            f"the master {master} is sealed (master.sealed in the practice file): act as "
            "yourself with --as USERNAME, or break the glass with --break-glass and a --note "
            "saying why; nothing was changed")
    if needs_note and not (note and note.strip()):
        raise UsageError("--break-glass needs a --note saying why the sealed master acts; "
                         "nothing was changed")


def people_of(desired: Desired) -> dict[str, tuple[str | None, bool]]:
    """What an apply of `desired` keeps of each username it declares: its person, and
    whether it is a sealed master."""
    facts: dict[str, tuple[str | None, bool]] = {
        desired.master.username: (desired.master.person, desired.sealed)}
    facts.update({u.username: (u.person, False) for u in desired.staff.values()})
    facts.update({p.login: (p.person, False) for p in desired.providers.values()})
    return facts


def _max(a: dict[str, str], b: dict[str, str]) -> dict[str, str]:
    return {area: max(a[area], b[area], key=LEVEL_RANK.__getitem__) for area in AREAS}


MAX_NEW_PASSWORDS = 2_500  # per apply: a size-L practice's first apply makes ~2,000


def apply_plan(
    system: AccountSystem, plan: Plan, passwords: dict[str, str],
    desired: Desired | None = None, progress: Progress | None = None, address: str = LOCAL,
    note: str | None = None, reach: Reach | None = None, break_glass: bool = False,
) -> int:
    """Apply every change of `plan` in one transaction; return the store's new revision.

    With `desired` (a plan just made from the file and shown), the plan is made again inside
    the write transaction and must come out the same: other practices' applies in a shared
    store don't make it stale, any change to what it would do does. Without it (a saved plan)
    the store must be the one the plan was made from (its lineage) and no row the plan was
    made from may have been written since (the versions of its basis).
    `note` (`apply --note`) is kept on every audit entry the apply writes, with the acting
    username's person and, with `break_glass`, `break_glass: true`.

    `reach` (the service's applies) is what the request's verified logins can open: the
    re-plan reads only those accounts, every other declared account is refused before any of
    it is read, in the words used whether it exists or not, and nothing of the re-plan is
    said (docs/contracts.md, "The service answers from what the caller may see").
    """
    check_seal(plan, plan.sealed or (desired is not None and desired.sealed), break_glass, note)
    if plan.acting_until and today().isoformat() > plan.acting_until:
        # a plan saved before the acting username's last day is not applied after it
        raise PermissionDenied(f"{plan.acting}'s access ended after {plan.acting_until} (its "
                               "until): it can't act; nothing was changed")
    missing = sorted(u for u in plan.needed_passwords() if not passwords.get(u))
    if missing:
        # a hand-made request or plan can leave one out: refused whole, before any log-in
        raise PlanError(f"the apply needs the password of {', '.join(missing)}, which was not "
                        "given; nothing was changed")
    if reach is not None and desired is not None:
        outside = sorted(set(desired.by_account) - reach.accounts)
        if outside:
            raise PermissionDenied(f"{plan.actor} can't open account {outside[0]}")
        # The re-plan reads the rows the file declares; the request's logins must be able to
        # see them (view on practice_setup, account_access and codes), or its answer would
        # tell whether a guessed TIN, fee or privilege is right.
        unread = sorted(set(desired.by_account) - reach.readable)
        if unread:
            raise PermissionDenied(
                f"{plan.actor} needs view on practice_setup, account_access and codes in "
                f"account {unread[0]} to apply a practice there (the logins of this request "
                "can't see it); send the saved plan alone")
    scope = scope_for(desired) if desired is not None else scope_for_plan(plan)
    if reach is not None:
        # never read an account the request can't open: a change naming one is refused by
        # the rules in the same words as one that doesn't exist, and its rows cost nothing
        scope = dataclasses.replace(scope, accounts=scope.accounts & reach.accounts)
    new = {u: passwords[u] for u in plan.new_passwords() if u in passwords}
    if len(new) > MAX_NEW_PASSWORDS:
        raise PlanError(f"the plan sets {len(new)} new passwords, more than "
                        f"{MAX_NEW_PASSWORDS} in one apply; apply it in parts (or locally). "
                        "Nothing was changed")
    if reach is not None:
        # Rights before hashing: every account where a password is set must be one where a
        # login of this request administers accounts, or the argon2 work would be spent for
        # a refusal (the session's rules still decide; this only refuses early).
        for c in plan.changes:
            if c.username in new and c.account not in reach.administered:
                raise PermissionDenied(f"{plan.actor} can't open account {c.account}"
                                       if c.account not in reach.accounts else
                                       f"{plan.actor} needs full on account_access in account "
                                       f"{c.account} to set {c.username}'s password")
    # argon2 for new usernames before the transaction: it holds the lock for SQL only
    prehashed = system.prehash(new)
    with system.session(plan.actor, passwords[plan.actor], address, scope,
                        prehashed, note, None, break_glass) as session:
        # The seal and the people are the store's (what the last applied file said), never
        # what a plan or a request says of itself: a sealed master logs in, first or later,
        # only with the glass broken.
        stored = session.stored_people({plan.actor, plan.executor, *plan.credentials})
        for name in {plan.actor, plan.executor}:
            if stored.get(ukey(name), (None, False))[1]:
                _break_glass(name, break_glass, note)
        session.persons = {k: p for k, (p, _) in stored.items() if p}
        if desired is None:
            basis = plan.basis
            if reach is not None:
                # A service's caller learns whether a row moved only for accounts its logins
                # open: a basis naming another account is refused in the words used for one
                # that doesn't exist, and usernames' versions (which a plan made on a local
                # store keeps) are not compared: the rules check those names as they apply.
                for key in sorted(basis):
                    kind, _, name = key.partition(":")
                    if kind == "a" and name not in reach.accounts:
                        raise PermissionDenied(f"{plan.actor} can't open account {name}")
                basis = {k: v for k, v in basis.items() if k.startswith("a:")}
            unversioned = sorted({c.account for c in plan.changes} - {
                k[2:] for k in plan.basis if k.startswith("a:")})
            if unversioned:
                # a hand-made plan without a basis would never be stale: refused instead
                raise StaleError(f"the plan doesn't say which version of account "
                                 f"{unversioned[0]} it was made from; run plan again. "
                                 "Nothing was changed")
            session.expect(plan.lineage, basis)
        else:
            session.expect(plan.lineage)  # the same store; any revision, the plan decides
            seen = session.state if reach is None else planning_view(session.state, reach)
            try:
                again = make_plan(desired, seen, rotate=plan.rotated, today=today(),
                                  acting=plan.acting or None)
            except PolicyError:
                raise  # about the declared accounts, which the request can see: said as is
            except GroupsyncError:
                if reach is None:
                    raise
                again = None  # the re-plan's words are about rows: not said to a service
            if again is None or again.changes != plan.changes:
                raise StaleError(
                    "the store changed since the plan was made, and the plan would now be "
                    "different; run plan again. Nothing was changed"
                )
            # this apply's file says who the people are: its entries and the store keep it
            session.persons = {ukey(k): v for k, v in again.persons.items()}
        _Applier(session, plan, passwords, progress).run()
        if desired is not None:
            session.keep_people(people_of(desired))
    return session.state.revision  # raised by the commit when anything changed


@dataclass(frozen=True)
class Reach:
    """What the verified logins of one request can open (`accounts`), and where at least
    one of them holds full account_access (`administered`)."""

    accounts: frozenset[str]
    administered: frozenset[str]
    readable: frozenset[str] = frozenset()  # where they see all a plan reads


def planning_view(state: State, reach: Reach) -> State:
    """The state as a plan made through the service sees it: a username whose home is an
    account the request can't open is known only as taken, with no home (as /v1/plan's
    reader shows it), so the re-plan can't say where another practice's usernames live."""
    users = {k: (u if u.home in reach.accounts
                 else User(username=u.username, home="", password_hash="", id=u.id))
             for k, u in state.users.items()}
    return dataclasses.replace(state, users=users, by_account=dict(state.by_account),
                               by_user=dict(state.by_user))


StepFn = Callable[["_Applier", list[Any]], None]


@dataclass(frozen=True)
class _Step:
    kind: type | None  # None: a step of the apply itself (acting as the master, the move)
    action: str
    master: bool  # the master's own changes of this kind, or everyone else's
    fn: StepFn


# The apply's order, one row per step, in the order they are declared below with `@step`:
# a change kind's apply steps are the functions registered for it (for its add, change and
# remove, the master's and the rest), and nothing else dispatches on kinds.
_STEPS: list[_Step] = []


def step(kind: type | None, action: str = "", *, master: bool = False
         ) -> Callable[[StepFn], StepFn]:
    def register(fn: StepFn) -> StepFn:
        _STEPS.append(_Step(kind, action, master, fn))
        return fn

    return register


def applied_kinds() -> set[tuple[type, str]]:
    """Every (kind, action) some step applies: each one a change may hold has one."""
    return {(st.kind, st.action) for st in _STEPS if st.kind is not None}


class _Applier:
    def __init__(self, session: Session, plan: Plan, passwords: dict[str, str],
                 progress: Progress | None) -> None:
        self.s = session
        self.plan = plan
        self.pw = passwords
        self.progress = progress
        self.done = 0
        # the acting username (the master, or --as): its own changes get the steps marked
        # master=True, raised first and reduced last, since it acts with them
        self.master = ukey(plan.executor)
        self.moved = plan.moves()
        self.final_master: dict[str, dict[str, str]] = {}  # account -> privileges, set last
        self.finished: set[int] = set()  # removals done early (a move), not to do again
        self.guests = set(plan.guests)
        self.by: dict[tuple[type, str, bool], list[Any]] = defaultdict(list)
        for c in plan.changes:
            is_master = c.username is not None and ukey(c.username) == self.master
            self.by[(type(c), c.action, is_master)].append(c)

    def tick(self, n: int = 1) -> None:
        self.done += n
        if self.progress:
            self.progress(self.done, len(self.plan.changes))

    def of(self, kind: type, action: str, master: bool = False) -> list[Any]:
        return self.by[(kind, action, master)]

    def run(self) -> None:
        for st in _STEPS:
            st.fn(self, [] if st.kind is None else self.of(st.kind, st.action, st.master))
        if self.done != len(self.plan.changes):
            # A saved plan edited by hand (or written by another version) can hold a change no
            # step performs; applying the rest would report success for less than the plan
            # said, so the whole transaction is refused instead.
            raise PlanError(f"the plan holds {len(self.plan.changes) - self.done} change(s) "
                            "groupsync can't apply (such as removing the master's own "
                            "access); nothing was changed")

    def act_as_master(self) -> None:
        if ukey(self.s.actor) != self.master:
            self.s.act_as(self.plan.executor, self.pw[self.plan.executor])

    def leave(self, c: JoinChange) -> None:
        if id(c) in self.finished:
            return
        self.s.leave(c.username or "", c.account)
        self.finished.add(id(c))
        self.tick()

    def delete(self, c: UsernameChange) -> None:
        if id(c) in self.finished:
            return
        # one the actor may act on, or refused as a missing name would be: a username of
        # another practice is neither located nor confirmed
        user = self.s.user(c.username)
        if user.home != c.account:
            # what the plan shows is what happens: a hand-made plan can't delete one
            # username while saying another account
            raise PlanError(f"the plan deletes {c.username} from account {c.account}, but "
                            "that is not its home; nothing was changed")
        self.s.delete_username(c.username)
        self.finished.add(id(c))
        self.tick()

    def need(self, account: str, area: str, level: str) -> None:
        """The master may hold less than an operation needs (the file gives it `codes: view`
        somewhere, yet that account's codes must be copied). Where it holds full
        account_access it raises itself for this apply, and the end of the apply puts back
        what the file says, as it does for the master's own reductions."""
        if ukey(self.s.actor) != self.master:
            return
        have = self.s.state.access.get((self.master, account))
        if have is None or LEVEL_RANK[have[area]] >= LEVEL_RANK[level]:
            return
        if have["account_access"] != "full":
            return  # it can't; the account system's refusal says why
        self.final_master.setdefault(account, dict(have))
        self.s.set_privileges(account, self.plan.executor, {**have, area: level})

    def password(self, username: str) -> str:
        password = self.pw.get(username)
        if not password:
            raise PlanError(f"the apply needs the password of {username}, which was not "
                            "given; nothing was changed")
        return password

    def login(self, account: str) -> str:
        login = self.plan.logins.get(account)
        if login is None:
            raise PlanError(f"the plan names no provider login for account {account}; "
                            "nothing was changed")
        return login

    def join(self, c: JoinChange) -> None:
        login = self.login(c.account)
        name = c.username or ""
        if name in self.guests and ukey(name) != ukey(self.s.actor):
            # a guest joins itself: the acting username can't reach its home to do it
            self.s.act_as(name, self.password(name))
            self.s.join(name, c.account, login, self.password(login))
            self.act_as_master()
            return
        self.s.join(name, c.account, login, self.password(login))
        if ukey(c.username or "") == self.master:
            # Keep what the master needs to finish this apply; reduced to the plan's at the end.
            self.s.set_privileges(c.account, c.username or "",
                                  _max(self.s.state.access[(self.master, c.account)],
                                       c.after or {}))


# -- 0. Passwords (--rotate), before anything logs in with them ---------------------------


@step(PasswordChange, "change", master=True)
def _rotate_master(a: _Applier, changes: list[PasswordChange]) -> None:
    # the master's by its home's provider login, the actor at this point
    for c in changes:
        a.s.set_password(c.username, a.password(c.username))
        a.tick()


@step(PasswordChange, "change")
def _rotate(a: _Applier, changes: list[PasswordChange]) -> None:
    # the planner's rule, read again: the master, or the home's provider login while the
    # master's own is set in this apply
    master_rotated = bool(a.of(PasswordChange, "change", master=True))
    for c in changes:
        setter = password_setter(False, master_rotated, a.plan.executor,
                                 a.login(c.account) if master_rotated else None)
        if setter is None:  # not for a plan's own logins: login() refuses first
            raise PlanError(f"nobody can set {c.username}'s password; nothing was changed")
        if ukey(a.s.actor) != ukey(setter):
            a.s.act_as(setter, a.password(setter))
        a.s.set_password(c.username, a.password(c.username))
        a.tick()


@step(None)
def _move_master(a: _Applier, _: list[Any]) -> None:
    """The master moves home (its home provider left, or the file says another): first, as
    the old master, everything only its current rights allow (access to accounts the group
    no longer declares, usernames that move with it out of the old home); then it deletes
    itself, and the new home's provider login makes it again (the next step)."""
    move = a.moved.get(a.master)
    if move is None:
        return
    declared = set(a.plan.accounts)
    a.act_as_master()
    for c in a.of(JoinChange, "remove"):
        if c.account not in declared:
            a.leave(c)
    for c in a.of(UsernameChange, "remove"):
        if ukey(c.username) in a.moved or c.account not in declared:
            a.delete(c)
    for c in a.of(UsernameChange, "remove", master=True):
        a.delete(c)
    login = a.login(move.new)
    a.s.act_as(login, a.password(login))


# -- 1. The master: created (with full rights for now), then acting, then joined ----------


@step(UsernameChange, "add", master=True)
def _make_master(a: _Applier, changes: list[UsernameChange]) -> None:
    for c in changes:
        a.s.allow_access(c.account, c.username, a.pw[a.plan.executor], {x: "full" for x in AREAS})
        a.final_master[c.account] = c.after["privileges"] if c.after else {}
        a.tick()
    a.act_as_master()


@step(JoinChange, "add", master=True)
def _join_master(a: _Applier, changes: list[JoinChange]) -> None:
    for c in changes:
        a.join(c)
        a.final_master[c.account] = c.after or {}
        a.tick()


@step(PrivilegesChange, "change", master=True)
def _raise_master(a: _Applier, changes: list[PrivilegesChange]) -> None:
    # raised now, reduced to the plan's at the very end
    for c in changes:
        raised = _max(c.before, c.after)
        if c.before["account_access"] != "full" and a.plan.acts_as_master():
            # The master can't raise itself where it lost account_access: the account's own
            # provider login does, as an admin would in the product's screens. Never for a
            # username acting with --as: it changes itself with its own rights, or is refused.
            login = a.login(c.account)
            a.s.act_as(login, a.password(login))
            a.s.set_privileges(c.account, a.plan.executor, raised)
            a.act_as_master()
        else:
            a.s.set_privileges(c.account, c.username, raised)
        a.final_master[c.account] = c.after
        a.tick()


# -- 2. What the master now can do everywhere ---------------------------------------------


@step(PracticeSetupChange, "change")
def _setup(a: _Applier, changes: list[PracticeSetupChange]) -> None:
    for c in changes:
        a.need(c.account, "practice_setup", "full")
        a.s.set_practice_setup(c.account, c.after["practice_name"], c.after["tin"],
                               c.after["bills_electronically"], c.after.get("provider_name"))
        a.tick()


@step(None)
def _delete_moved(a: _Applier, _: list[Any]) -> None:
    # a replaced username: the old one goes before the new one comes
    for c in a.of(UsernameChange, "remove"):
        if ukey(c.username) in a.moved:
            a.delete(c)


@step(UsernameChange, "add")
def _make_usernames(a: _Applier, changes: list[UsernameChange]) -> None:
    for c in changes:
        a.s.allow_access(c.account, c.username, a.password(c.username),
                         c.after["privileges"] if c.after else {})
        a.tick()


@step(JoinChange, "add")
def _joins(a: _Applier, changes: list[JoinChange]) -> None:
    for c in changes:
        a.join(c)
        a.s.set_privileges(c.account, c.username, c.after or {})
        a.tick()


@step(PrivilegesChange, "change")
def _privileges(a: _Applier, changes: list[PrivilegesChange]) -> None:
    for c in changes:
        a.s.set_privileges(c.account, c.username, c.after)
        a.tick()


@step(CodeChange, "add")
def _put_codes(a: _Applier, changes: list[CodeChange]) -> None:
    # adds and changes in one pass: a record's copy carries either
    changes = changes + a.of(CodeChange, "change")
    master = a.plan.code_master
    puts: dict[tuple[str, str], list[CodeChange]] = defaultdict(list)
    for c in changes:
        puts[(c.account, c.file)].append(c)
    # The master account's own file first, so copies carry the new records.
    for (account, file), batch in sorted(puts.items(), key=lambda kv: kv[0][0] != master):
        if account == master or master is None:
            a.need(account, "codes", "full")
            a.s.put_codes(account, file, [c.after for c in batch if c.after])
        else:
            a.need(master, "codes", "view")
            a.need(account, "codes", "full")
            a.s.copy_codes(master, account, file, [c.key for c in batch])
        a.tick(len(batch))


@step(CodeChange, "change")
def _changed_codes(a: _Applier, changes: list[CodeChange]) -> None:
    pass  # applied with the adds, above: registered so the kind's every action has a step


@step(CodeChange, "remove")
def _remove_codes(a: _Applier, changes: list[CodeChange]) -> None:
    removes: dict[tuple[str, str], list[str]] = defaultdict(list)
    for c in changes:
        removes[(c.account, c.file)].append(c.key)
    for (account, file), keys in removes.items():
        a.need(account, "codes", "full")
        a.s.remove_codes(account, file, keys)
        a.tick(len(keys))


# -- 3. Removals, then the master's own: its joins to accounts the group left, and its
# reductions -------------------------------------------------------------------------------


@step(JoinChange, "remove")
def _leave(a: _Applier, changes: list[JoinChange]) -> None:
    for c in changes:
        a.leave(c)


@step(UsernameChange, "remove")
def _delete(a: _Applier, changes: list[UsernameChange]) -> None:
    for c in changes:
        a.delete(c)


@step(JoinChange, "remove", master=True)
def _leave_master(a: _Applier, changes: list[JoinChange]) -> None:
    for c in changes:
        a.leave(c)


@step(None)
def _reduce_master(a: _Applier, _: list[Any]) -> None:
    for account, privs in a.final_master.items():
        a.s.set_privileges(account, a.plan.executor, privs)
