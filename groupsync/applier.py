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
from groupsync.config import Desired, Secrets
from groupsync.errors import GroupsyncError, PermissionDenied, PlanError, StaleError
from groupsync.plan import Plan, make_plan
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
    names = {plan.actor, plan.master, *plan.credentials, *plan.logins.values(),
             *(c.username for c in plan.changes if c.username)}
    return Scope(accounts=frozenset(accounts), usernames=frozenset(ukey(n) for n in names))


def _max(a: dict[str, str], b: dict[str, str]) -> dict[str, str]:
    return {area: max(a[area], b[area], key=LEVEL_RANK.__getitem__) for area in AREAS}


MAX_NEW_PASSWORDS = 2_500  # per apply: a size-L practice's first apply makes ~2,000


def apply_plan(
    system: AccountSystem, plan: Plan, passwords: dict[str, str],
    desired: Desired | None = None, progress: Progress | None = None, address: str = LOCAL,
    note: str | None = None, reach: Reach | None = None,
) -> int:
    """Apply every change of `plan` in one transaction; return the store's new revision.

    With `desired` (a plan just made from the file and shown), the plan is made again inside
    the write transaction and must come out the same: other practices' applies in a shared
    store don't make it stale, any change to what it would do does. Without it (a saved plan)
    the store must be exactly the one the plan was made from: lineage, revision and write count.
    `note` (`apply --note`) is kept on every audit entry the apply writes.

    `reach` (the service's applies) is what the request's verified logins can open: the
    re-plan reads only those accounts, every other declared account is refused before any of
    it is read, in the words used whether it exists or not, and nothing of the re-plan is
    said (docs/contracts.md, "The service answers from what the caller may see").
    """
    missing = sorted(u for u in {plan.actor, plan.master, *plan.credentials, *plan.rotated}
                     if not passwords.get(u))
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
                        prehashed, note) as session:
        if desired is None:
            session.expect(plan.lineage, plan.revision, plan.write_count)
        else:
            session.expect(plan.lineage)  # the same store; any revision, the plan decides
            seen = session.state if reach is None else planning_view(session.state, reach)
            try:
                again = make_plan(desired, seen, rotate=plan.rotated)
            except GroupsyncError:
                if reach is None:
                    raise
                again = None  # the re-plan's words are about rows: not said to a service
            if again is None or again.changes != plan.changes:
                raise StaleError(
                    "the store changed since the plan was made, and the plan would now be "
                    "different; run plan again. Nothing was changed"
                )
        _Applier(session, plan, passwords, progress).run()
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


class _Applier:
    def __init__(self, session: Session, plan: Plan, passwords: dict[str, str],
                 progress: Progress | None) -> None:
        self.s = session
        self.plan = plan
        self.pw = passwords
        self.progress = progress
        self.done = 0
        self.master = ukey(plan.master)
        self.final_master: dict[str, dict[str, str]] = {}  # account -> privileges, set last
        self.finished: set[int] = set()  # removals done early (a move), not to do again

    def tick(self, n: int = 1) -> None:
        self.done += n
        if self.progress:
            self.progress(self.done, len(self.plan.changes))

    def run(self) -> None:
        by: dict[tuple[str, type, bool], list[Any]] = defaultdict(list)
        for c in self.plan.changes:
            is_master = c.username is not None and ukey(c.username) == self.master
            by[(c.action, type(c), is_master)].append(c)
        moved = self.plan.moves()

        # 0. Passwords (--rotate): the master's by its home's provider login (the actor then),
        # everyone else's by the master, before anything logs in with them.
        master_rotated = bool(by[("change", PasswordChange, True)])
        for c in by[("change", PasswordChange, True)]:
            self.s.set_password(c.username, self._password(c.username))
            self.tick()
        for c in by[("change", PasswordChange, False)]:
            # the master sets it; when the master's own is being set in this apply, the
            # provider login of the username's home does (docs/contracts.md, "The group's
            # lifecycle": never one rotated)
            setter = self._login(c.account) if master_rotated else self.plan.master
            if ukey(self.s.actor) != ukey(setter):
                self.s.act_as(setter, self._password(setter))
            self.s.set_password(c.username, self._password(c.username))
            self.tick()
        if self.master in moved:
            self._move_master(by, moved)

        # 1. The master: created (with full rights for now), then acting, then joined.
        for c in by[("add", UsernameChange, True)]:
            self.s.allow_access(c.account, c.username, self.pw[self.plan.master],
                                {a: "full" for a in AREAS})
            self.final_master[c.account] = c.after["privileges"]
            self.tick()
        if ukey(self.s.actor) != self.master:
            self.s.act_as(self.plan.master, self.pw[self.plan.master])
        for c in by[("add", JoinChange, True)]:
            self._join(c)
            self.final_master[c.account] = c.after
            self.tick()
        for c in by[("change", PrivilegesChange, True)]:
            raised = _max(c.before, c.after)
            if c.before["account_access"] != "full":
                # The master can't raise itself where it lost account_access: the account's
                # own provider login does, as an admin would in the product's screens.
                login = self._login(c.account)
                self.s.act_as(login, self._password(login))
                self.s.set_privileges(c.account, self.plan.master, raised)
                self.s.act_as(self.plan.master, self.pw[self.plan.master])
            else:
                self.s.set_privileges(c.account, c.username or "", raised)
            self.final_master[c.account] = c.after
            self.tick()

        # 2. What the master now can do everywhere.
        for c in by[("change", PracticeSetupChange, False)]:
            self._need(c.account, "practice_setup", "full")
            self.s.set_practice_setup(c.account, c.after["practice_name"], c.after["tin"],
                                      c.after["bills_electronically"],
                                      c.after.get("provider_name"))
            self.tick()
        for c in by[("remove", UsernameChange, False)]:
            if ukey(c.username) in moved:  # replaced: the old one goes before the new comes
                self._delete(c)
        for c in by[("add", UsernameChange, False)]:
            self.s.allow_access(c.account, c.username, self._password(c.username),
                                c.after["privileges"])
            self.tick()
        for c in by[("add", JoinChange, False)]:
            self._join(c)
            self.s.set_privileges(c.account, c.username, c.after)
            self.tick()
        for c in by[("change", PrivilegesChange, False)]:
            self.s.set_privileges(c.account, c.username or "", c.after)
            self.tick()
        self._codes(by)

        # 3. Removals, then the master's own: its joins to accounts the group left, and its
        # reductions.
        for c in by[("remove", JoinChange, False)]:
            self._leave(c)
        for c in by[("remove", UsernameChange, False)]:
            self._delete(c)
        for c in by[("remove", JoinChange, True)]:
            self._leave(c)
        for account, privs in self.final_master.items():
            self.s.set_privileges(account, self.plan.master, privs)
        if self.done != len(self.plan.changes):
            # A saved plan edited by hand (or written by another version) can hold a change no
            # phase above performs; applying the rest would report success for less than the
            # plan said, so the whole transaction is refused instead.
            raise PlanError(f"the plan holds {len(self.plan.changes) - self.done} change(s) "
                            "groupsync can't apply (such as removing the master's own "
                            "access); nothing was changed")

    def _leave(self, c: JoinChange) -> None:
        if id(c) in self.finished:
            return
        self.s.leave(c.username or "", c.account)
        self.finished.add(id(c))
        self.tick()

    def _delete(self, c: UsernameChange) -> None:
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

    def _move_master(self, by: dict[tuple[str, type, bool], list[Any]],
                     moved: dict[str, tuple[str, str]]) -> None:
        """The master moves home (its home provider left, or the file says another): first,
        as the old master, everything only its current rights allow (access to accounts the
        group no longer declares, usernames that move with it out of the old home); then it
        deletes itself, and the new home's provider login makes it again (phase 1)."""
        declared = set(self.plan.accounts)
        if ukey(self.s.actor) != self.master:
            self.s.act_as(self.plan.master, self.pw[self.plan.master])
        for c in by[("remove", JoinChange, False)]:
            if c.account not in declared:
                self._leave(c)
        for c in by[("remove", UsernameChange, False)]:
            if ukey(c.username) in moved or c.account not in declared:
                self._delete(c)
        for c in by[("remove", UsernameChange, True)]:
            self._delete(c)
        login = self._login(moved[self.master][1])
        self.s.act_as(login, self._password(login))

    def _need(self, account: str, area: str, level: str) -> None:
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
        self.s.set_privileges(account, self.plan.master, {**have, area: level})

    def _password(self, username: str) -> str:
        password = self.pw.get(username)
        if not password:
            raise PlanError(f"the apply needs the password of {username}, which was not "
                            "given; nothing was changed")
        return password

    def _login(self, account: str) -> str:
        login = self.plan.logins.get(account)
        if login is None:
            raise PlanError(f"the plan names no provider login for account {account}; "
                            "nothing was changed")
        return login

    def _join(self, c: JoinChange) -> None:
        login = self._login(c.account)
        self.s.join(c.username or "", c.account, login, self._password(login))
        if ukey(c.username or "") == self.master:
            # Keep what the master needs to finish this apply; reduced to the plan's at the end.
            self.s.set_privileges(c.account, c.username or "",
                                  _max(self.s.state.access[(self.master, c.account)],
                                       c.after or {}))

    def _codes(self, by: dict[tuple[str, type, bool], list[Any]]) -> None:
        master = self.plan.code_master
        puts: dict[tuple[str, str], list[CodeChange]] = defaultdict(list)
        for c in by[("add", CodeChange, False)] + by[("change", CodeChange, False)]:
            puts[(c.account, c.file)].append(c)
        # The master account's own file first, so copies carry the new records.
        for (account, file), changes in sorted(puts.items(), key=lambda kv: kv[0][0] != master):
            if account == master or master is None:
                self._need(account, "codes", "full")
                self.s.put_codes(account, file, [c.after for c in changes if c.after])
            else:
                self._need(master, "codes", "view")
                self._need(account, "codes", "full")
                self.s.copy_codes(master, account, file, [c.key for c in changes])
            self.tick(len(changes))
        removes: dict[tuple[str, str], list[str]] = defaultdict(list)
        for c in by[("remove", CodeChange, False)]:
            removes[(c.account, c.file)].append(c.key)
        for (account, file), keys in removes.items():
            self._need(account, "codes", "full")
            self.s.remove_codes(account, file, keys)
            self.tick(len(keys))
