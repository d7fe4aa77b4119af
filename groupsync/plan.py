"""plan(desired, state) -> Plan: pure set arithmetic on stable keys, no I/O.

A Plan is plain data: a list of Changes (what to add, change or remove, with before/after),
the warnings an admin should read, and what applying it needs: the store it was computed from
(lineage, revision, write count) and the *names* of the variables holding the passwords of every
login the apply will use. Rendering (render.py) and applying (apply.py) are separate consumers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from groupsync.accounts.model import CODE_FILES, Record, State, ukey
from groupsync.changes import Change
from groupsync.changes import make as change
from groupsync.changes import to_json as change_json
from groupsync.config import Desired, DesiredUsername
from groupsync.errors import PlanError

FORMAT_VERSION = "1"
TYPE_ORDER = ("practice_setup", "username", "join", "privileges", "code")
ACTION_ORDER = ("add", "change", "remove")


@dataclass
class Plan:
    lineage: str
    revision: int
    write_count: int  # the store's row-write counter when the plan was made
    changes: list[Change]
    warnings: list[str] = field(default_factory=list)
    actor: str = ""  # who the apply logs in as first
    master: str = ""  # who it acts as once the master exists
    credentials: dict[str, str] = field(default_factory=dict)  # username -> variable name
    code_master: str | None = None  # the Copy From account
    accounts: dict[str, str] = field(default_factory=dict)  # account id -> provider key
    logins: dict[str, str] = field(default_factory=dict)  # account id -> its provider login

    def summary(self) -> dict[str, int]:
        counts = {"add": 0, "change": 0, "remove": 0}
        for c in self.changes:
            counts[c.action] += 1
        return counts

    @property
    def removals(self) -> int:
        return self.summary()["remove"]

    def to_json(self) -> dict[str, Any]:
        """The `plan --json` view (contract). A saved plan file is another format, written by
        planfile.py: this view is for machines to read, not for apply to trust."""
        return {
            "format_version": FORMAT_VERSION,
            "lineage": self.lineage,
            "revision": self.revision,
            "summary": self.summary(),
            "changes": [change_json(c) for c in self.changes],
            "warnings": list(self.warnings),
        }


def make_plan(desired: Desired, state: State, today: date | None = None) -> Plan:
    """Compare the desired practice with the store's state; raise PlanError if it can't be
    reached at all (an account that was never signed up, a username with another home).

    With `today`, the plan also warns about free trials ending without a sent notice (the
    date is a parameter so the same inputs always give the same plan)."""
    plan = _Planner(desired, state).run()
    if today is not None:
        from groupsync.notice import trial_warnings

        plan.warnings += trial_warnings(desired, state, today)
    return plan


class _Planner:
    def __init__(self, desired: Desired, state: State) -> None:
        self.d = desired
        self.s = state
        self.changes: list[Change] = []
        self.warnings: list[str] = []
        self.credentials: dict[str, str] = {}
        self.order = {p.account_id: i for i, p in enumerate(desired.providers.values())}
        self.logins = desired.provider_logins()

    def label(self, account_id: str) -> str:
        prov = self.d.by_account.get(account_id)
        return f"{account_id} ({prov.key})" if prov else account_id

    def run(self) -> Plan:
        self._check_accounts()
        self._practice_setup()
        deleted = self._prune_usernames()
        self._usernames(deleted)
        self._codes()
        self.changes.sort(key=self._sort_key)
        actor, master = self._actors()
        return Plan(
            lineage=self.s.lineage, revision=self.s.revision, write_count=self.s.write_count,
            changes=self.changes, warnings=self.warnings, actor=actor, master=master,
            credentials=dict(sorted(self.credentials.items())),
            code_master=self.d.codes.master if self.d.codes else None,
            accounts={p.account_id: p.key for p in self.d.providers.values()},
            logins={p.account_id: p.login for p in self.d.providers.values()},
        )

    def _sort_key(self, c: Change) -> tuple[Any, ...]:
        file = getattr(c, "file", None)
        file_rank = list(CODE_FILES).index(file) if file else -1
        return (
            self.order.get(c.account, len(self.order)), c.account, TYPE_ORDER.index(c.type),
            ukey(c.username or ""), file_rank, getattr(c, "key", ""), ACTION_ORDER.index(c.action),
        )

    # -- checks ------------------------------------------------------------------------------

    def _check_accounts(self) -> None:
        problems = []
        for p in self.d.providers.values():
            if p.account_id not in self.s.accounts:
                problems.append(
                    f"provider {p.key}'s account {p.account_id} does not exist in the store "
                    "(accounts are created by Free Trial sign-up; try 'groupsync sandbox')"
                )
                continue
            login = self.s.user(p.login)
            if login is None:
                problems.append(f"provider {p.key}'s login {p.login} does not exist")
            elif login.home != p.account_id:
                problems.append(f"provider {p.key}'s login {p.login} is another account's "
                                f"username, not a login of {p.account_id}")
        for u in (self.d.master, *self.d.staff.values()):
            existing = self.s.user(u.username)
            if existing is None or existing.home == u.home:
                continue
            if existing.home in self.d.by_account:
                problems.append(
                    f"username {u.username} already exists with home account "
                    f"{self.label(existing.home)}, not {self.label(u.home)}"
                )
            else:
                # Held outside this practice: said as a sign-up screen says it, never where
                # (DESIGN §7.1: no error names an account the caller can't open).
                problems.append(f"username {u.username} is taken; usernames are unique across "
                                "the store, so choose another")
        if problems:
            raise PlanError("; ".join(problems))

    def _actors(self) -> tuple[str, str]:
        master = self.d.master
        self.credentials[master.username] = master.password_var
        if self.s.user(master.username) is not None:
            return master.username, master.username
        home = self.d.by_account[master.home]
        self.credentials[home.login] = home.password_var
        return home.login, master.username

    # -- Practice Set-up ---------------------------------------------------------------------

    def _practice_setup(self) -> None:
        for p in self.d.providers.values():
            before = self.s.accounts[p.account_id].practice_setup()
            after = {"practice_name": self.d.practice_name, "tin": self.d.tin,
                     "bills_electronically": p.bills_electronically}
            if before != after:
                self.changes.append(change("change", "practice_setup", p.account_id,
                                           before=before, after=after))

    # -- usernames, joins, privileges --------------------------------------------------------

    def _desired_privs(self, username: str, account_id: str) -> dict[str, str] | None:
        spec = self.d.privileges.get(ukey(username))
        return spec.resolve(account_id) if spec else None

    def _need_login(self, account_id: str) -> None:
        prov = self.d.by_account[account_id]
        self.credentials[prov.login] = prov.password_var

    def _declared(self, username: str) -> DesiredUsername | None:
        k = ukey(username)
        if k == ukey(self.d.master.username):
            return self.d.master
        return self.d.staff.get(k)

    def _usernames(self, deleted: set[str]) -> None:
        for u in (self.d.master, *self.d.staff.values()):
            k = ukey(u.username)
            targets = sorted(u.accounts, key=lambda a: self.order[a])
            if self.s.user(u.username) is None:
                self.changes.append(change(
                    "add", "username", u.home, username=u.username,
                    after={"home": u.home, "privileges": self._desired_privs(u.username, u.home)},
                ))
                if not u.is_master:
                    self.credentials[u.username] = u.password_var
            for acct in targets:
                if acct == u.home or (k, acct) in self.s.access:
                    continue
                self.changes.append(change("add", "join", acct, username=u.username,
                                           after=self._desired_privs(u.username, acct)))
                self._need_login(acct)
        # Privileges of every declared account a managed username can already open.
        for k, spec in self.d.privileges.items():
            if k in deleted:
                continue
            for acct in sorted(self.s.by_user.get(k, ()), key=lambda a: self.order.get(a, -1)):
                if acct not in self.d.by_account:
                    continue
                declared = self._declared(spec.username)
                if (declared and acct not in declared.accounts and self.d.prune_joins):
                    continue  # the join itself is removed below
                before = self.s.access[(k, acct)]
                after = spec.resolve(acct)
                if k == ukey(self.d.master.username) and before["account_access"] != "full":
                    # The master lost its own right to fix this (drift): the account's
                    # provider login restores it, so the apply needs that login too.
                    self._need_login(acct)
                if before != after:
                    self.changes.append(change("change", "privileges", acct,
                                               username=self.s.users[k].username,
                                               before=before, after=after))
        self._undeclared_joins(deleted)

    def _undeclared_joins(self, deleted: set[str]) -> None:
        logins = set(self.logins)
        for acct in self.d.by_account:
            for k in sorted(self.s.by_account.get(acct, ())):
                user = self.s.users[k]
                if user.home == acct or k in deleted or k in logins:
                    continue
                declared = self._declared(user.username)
                if declared is not None and acct in declared.accounts:
                    continue
                if self.d.prune_joins:
                    self.changes.append(change("remove", "join", acct, username=user.username,
                                               before=self.s.access[(k, acct)]))
                elif declared is not None:
                    self.warnings.append(
                        f"{user.username} can also open account {self.label(acct)}, which its "
                        "accounts don't list; it keeps that access because prune.joins is off"
                    )
                elif k not in self.d.privileges:
                    home = (f" (home {self.label(user.home)})" if user.home in self.d.by_account
                            else "")  # another practice's account is not named
                    self.warnings.append(
                        f"{user.username}{home} can open account "
                        f"{self.label(acct)} but is not in {self.d.source}; it keeps that "
                        "access because prune.joins is off"
                    )

    def _prune_usernames(self) -> set[str]:
        keep = {ukey(self.d.master.username), *self.d.staff, *self.logins}
        keep.update(ukey(a.signup_username) for a in self.s.accounts.values())
        deleted: set[str] = set()
        for k in sorted(self.s.users):
            user = self.s.users[k]
            if user.home not in self.d.by_account or k in keep:
                continue
            if self.d.prune_usernames:
                access = {a: self.s.access[(k, a)] for a in sorted(self.s.by_user.get(k, ()))}
                self.changes.append(change("remove", "username", user.home,
                                           username=user.username,
                                           before={"home": user.home, "access": access}))
                deleted.add(k)
            elif k not in self.d.privileges:
                self.warnings.append(
                    f"username {user.username} (home {self.label(user.home)}) is not in "
                    f"{self.d.source}; it keeps its access because prune.usernames is off"
                )
        return deleted

    # -- code files --------------------------------------------------------------------------

    def _codes(self) -> None:
        codes = self.d.codes
        if codes is None:
            return
        for file in codes.files:
            actual_master = self.s.file(codes.master, file)
            if file in codes.inline:
                source = codes.inline[file]
                self._sync_file(codes.master, file, source, actual_master)
            else:
                source = actual_master
            for target in codes.copy_to:
                self._sync_file(target, file, source, self.s.file(target, file))

    def _sync_file(
        self, account_id: str, file: str, want: dict[str, Record], have: dict[str, Record]
    ) -> None:
        for key, record in want.items():
            current = have.get(key)
            if current is None:
                self.changes.append(change("add", "code", account_id, file=file, key=key,
                                           after=record))
            elif current != record:
                self.changes.append(change("change", "code", account_id, file=file, key=key,
                                           before=current, after=record))
        if self.d.prune_codes:
            for key in have.keys() - want.keys():
                self.changes.append(change("remove", "code", account_id, file=file, key=key,
                                           before=have[key]))
