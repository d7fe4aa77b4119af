"""plan(desired, state) -> Plan: pure set arithmetic on stable keys, no I/O.

A Plan is plain data: a list of Changes (what to add, change or remove, with before/after),
the warnings an admin should read, and what applying it needs: the store it was computed from
(lineage, revision, write count) and the *names* of the variables holding the passwords of every
login the apply will use. Rendering (render.py) and applying (applier.py) are separate consumers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from groupsync.accounts.model import Record, State, ukey
from groupsync.changes import TYPE_ORDER, Change
from groupsync.changes import make as change
from groupsync.changes import to_json as change_json
from groupsync.config import Desired, DesiredUsername
from groupsync.errors import PlanError
from groupsync.vocabulary import CODE_FILE_NAMES, CODE_FILE_SPECS, CODE_FILES

FORMAT_VERSION = "1"

MAX_CODE_WARNINGS = 20  # a file without inline lists can keep thousands: the rest are counted
ACTION_ORDER = ("add", "change", "remove")


@dataclass(frozen=True)
class Move:
    """A username deleted in its old home and made again in its new one (the same name)."""

    username: str
    old: str  # the old home's account id
    new: str  # the new home's
    loses: tuple[str, ...]  # accounts it can open now and not after the apply


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
    # username -> its home after the apply, for the usernames the changes name (renderers
    # flag a risky grant outside a home); not part of a saved plan
    homes: dict[str, str] = field(default_factory=dict, compare=False)

    def summary(self) -> dict[str, int]:
        counts = {"add": 0, "change": 0, "remove": 0}
        for c in self.changes:
            counts[c.action] += 1
        return counts

    @property
    def removals(self) -> int:
        return self.summary()["remove"]

    def new_passwords(self) -> list[str]:
        """The usernames whose password this plan sets: those it creates and those rotated.
        None of them can log in with it until the apply commits."""
        return [c.username for c in self.changes if c.sets_password() and c.username]

    def needed_passwords(self) -> set[str]:
        """Every password an apply of this plan must be given: its actor's, the master's,
        every login it uses and every password it sets."""
        return {self.actor, self.master, *self.credentials, *self.rotated}

    @property
    def rotated(self) -> list[str]:
        """The usernames whose password this plan sets (`--rotate`)."""
        return [c.username or "" for c in self.changes if c.type == "password"]

    def moves(self) -> dict[str, Move]:
        """Usernames replaced in a new home, by casefolded name: a move is one concept made of
        two changes (the remove in the old home and the add in the new), which count and
        serialise as two (docs/contracts.md, "The group's lifecycle"); the text views show it
        once and the applier orders its halves from this one reading."""
        removed = {ukey(c.username or ""): c for c in self.changes
                   if c.type == "username" and c.action == "remove"}
        regained: dict[str, set[str]] = {}
        for c in self.changes:
            if c.action == "add" and c.type in ("username", "join"):
                regained.setdefault(ukey(c.username or ""), set()).add(c.account)
        out: dict[str, Move] = {}
        for c in self.changes:
            k = ukey(c.username or "")
            if c.type == "username" and c.action == "add" and k in removed:
                gone = removed[k]
                had = sorted(gone.before["access"]) if gone.before else []
                out[k] = Move(c.username or "", gone.account, c.account,
                              tuple(a for a in had if a not in regained.get(k, set())))
        return out

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


def make_plan(desired: Desired, state: State, today: date | None = None,
              rotate: Sequence[str] = (), taken: Iterable[str] = ()) -> Plan:
    """Compare the desired practice with the store's state; raise PlanError if it can't be
    reached at all (an account that was never signed up, a username taken elsewhere, a move
    or rotation nobody may make), one line per problem.

    `rotate` names usernames whose password is set to their variable's current value. With
    `today`, the plan also warns about free trials ending without a sent notice (the date is
    a parameter so the same inputs always give the same plan).

    `taken` names usernames the file declares that exist where `state` can't show them (a
    service's caller sees only the accounts it can open): they are taken, nothing more."""
    plan = _Planner(desired, state, rotate, taken).run()
    if today is not None:
        from groupsync.notice import trial_warnings

        plan.warnings += trial_warnings(desired, state, today)
    return plan


class _Planner:
    def __init__(self, desired: Desired, state: State, rotate: Sequence[str] = (),
                 taken: Iterable[str] = ()) -> None:
        self.d = desired
        self.s = state
        self.taken = {ukey(name) for name in taken}  # held out of sight: taken, no home
        self.changes: list[Change] = []
        self.warnings: list[str] = []
        self.credentials: dict[str, str] = {}
        self.order = {p.account_id: i for i, p in enumerate(desired.providers.values())}
        self.logins = desired.provider_logins()
        self.master_k = ukey(desired.master.username)
        self.rotate = list(dict.fromkeys(rotate))
        self.rotate_keys = {ukey(n) for n in self.rotate}
        self.moved: dict[str, str] = {}  # ukey -> the home it leaves
        self.gone: set[str] = set()  # usernames this plan deletes (pruned or moved)
        self.kept_codes: dict[tuple[str, str, str], list[str]] = {}  # (file, key, why) -> ids
        self.case_clashes: list[str] = []

    def exists(self, username: str) -> bool:
        """The username is in the store and stays there (not deleted or moved by this plan)."""
        return self.s.user(username) is not None and ukey(username) not in self.gone

    def label(self, account_id: str) -> str:
        prov = self.d.by_account.get(account_id)
        return f"{account_id} ({prov.key})" if prov else account_id

    def run(self) -> Plan:
        self._check_accounts()
        self._practice_setup()
        self.gone = self._prune_usernames()
        self._moves()
        self._usernames(self.gone)
        self._left_accounts()
        self._codes()
        self._code_warnings()
        self._rotations()
        self.changes.sort(key=self._sort_key)
        actor, master = self._actors()
        return Plan(
            lineage=self.s.lineage, revision=self.s.revision, write_count=self.s.write_count,
            changes=self.changes, warnings=self.warnings, actor=actor, master=master,
            credentials=dict(sorted(self.credentials.items())),
            code_master=self.d.codes.master if self.d.codes else None,
            accounts={p.account_id: p.key for p in self.d.providers.values()},
            logins={p.account_id: p.login for p in self.d.providers.values()},
            homes=self._homes(),
        )

    def _homes(self) -> dict[str, str]:
        homes = {}
        for c in self.changes:
            if c.username and c.username not in homes:
                declared = self._declared(c.username)
                user = self.s.user(c.username)
                home = declared.home if declared else (user.home if user else "")
                if home:
                    homes[c.username] = home
        return homes

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
            if login is None and ukey(p.login) not in self.taken:
                problems.append(f"provider {p.key}'s login {p.login} does not exist")
            elif login is None or login.home != p.account_id:
                problems.append(f"provider {p.key}'s login {p.login} is another account's "
                                f"username, not a login of {p.account_id}")
        for u in (self.d.master, *self.d.staff.values()):
            existing = self.s.user(u.username)
            if existing is None and ukey(u.username) not in self.taken:
                continue  # a name this plan creates
            if existing is not None and existing.home == u.home:
                continue
            if existing is not None and self._ours(u, existing.home):
                problem = self._move_problem(u, existing.home)
                if problem:
                    problems.append(problem)
                else:
                    self.moved[ukey(u.username)] = existing.home
            else:
                # Held outside this practice: said as a sign-up screen says it, never where
                # (docs/contracts.md, "Identity and scope": no error names an account the caller
                # can't open).
                problems.append(f"username {u.username} is taken; usernames are unique across "
                                "the store, so choose another")
        if problems:
            raise PlanError("\n".join(problems))

    def _ours(self, u: DesiredUsername, home: str) -> bool:
        """A username of this practice (docs/contracts.md, "The group's lifecycle"): its home is a
        declared account or one the group's master can open. The master's own home is one it can
        open by definition, so the master counts as ours when it can open a declared account."""
        if not home or home in self.d.by_account:
            return bool(home)
        if u.is_master:
            return any(a in self.d.by_account for a in self.s.by_user.get(self.master_k, ()))
        return (self.master_k, home) in self.s.access

    def _move_problem(self, u: DesiredUsername, old: str) -> str | None:
        """Why `u` can't be deleted from `old` and added in its declared home (None: it can),
        said with the way out."""
        k = ukey(u.username)
        where = (f"username {u.username} can't move from account {self.label(old)} to "
                 f"{self.label(u.home)}")
        account = self.s.accounts.get(old)
        if account is not None and ukey(account.signup_username) == k:
            return (f"{where}: it is that account's sign-up username, which can't be deleted; "
                    f"keep its home there, or choose another username")
        # The master deletes a moved username (itself too, when it moves) before it is added
        # again, so it needs full account_access in the home being left.
        if self.s.user(self.d.master.username) is None:
            return (f"{where}: the master {self.d.master.username} deletes it there, and it "
                    "doesn't exist yet; keep that home for the first apply, then move it")
        master = self.s.access.get((self.master_k, old))
        if master is None or master["account_access"] != "full":
            return (f"{where}: the master {self.d.master.username} needs full account_access "
                    f"in {self.label(old)} to delete it there; give it that (the account's "
                    "provider can), or choose another username")
        for acct in sorted(self.s.by_user.get(k, ())):
            keepers = [v for v in self.s.by_account.get(acct, ()) if v != k
                       and self.s.access[(v, acct)]["account_access"] == "full"]
            if not keepers:
                return (f"{where}: deleting it would leave account {self.label(acct)} with no "
                        "username holding full account_access; give another username full "
                        "account_access there first")
        return None

    def _actors(self) -> tuple[str, str]:
        """Who the apply logs in as first, and as whom it then acts. The master, unless it
        doesn't exist yet or its password is being set: then its home's provider login (which
        creates it, or sets its password). A master moving home logs in as itself, deletes
        itself last of all in the old home, and is made again by the new home's login."""
        master = self.d.master
        self.credentials[master.username] = master.password_var
        home = self.d.by_account[master.home]
        if self.exists(master.username) and self.master_k not in self.rotate_keys:
            return master.username, master.username
        self.credentials[home.login] = home.password_var
        if self.master_k in self.moved:
            return master.username, master.username
        return home.login, master.username

    # -- Practice Set-up ---------------------------------------------------------------------

    def _practice_setup(self) -> None:
        for p in self.d.providers.values():
            account = self.s.accounts[p.account_id]
            # the provider's name is part of the Practice Set-up: a rename is this change
            before = {"provider_name": account.provider_name, **account.practice_setup()}
            after = {"provider_name": p.name, "practice_name": self.d.practice_name,
                     "tin": self.d.tin, "bills_electronically": p.bills_electronically}
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
            if not self.exists(u.username):
                self.changes.append(change(
                    "add", "username", u.home, username=u.username,
                    after={"home": u.home, "privileges": self._desired_privs(u.username, u.home)},
                ))
                if not u.is_master:
                    self.credentials[u.username] = u.password_var
            for acct in targets:
                if acct == u.home or ((k, acct) in self.s.access and k not in self.gone):
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

    def _moves(self) -> None:
        """A username whose declared home differs from its home in the store is replaced:
        deleted there (with all its access) and added again in its new home, with its joins
        and privileges (docs/contracts.md, "The group's lifecycle"). Rendered as one `-/+` line,
        counted 1 remove + 1 add."""
        for k, old in sorted(self.moved.items()):
            user = self.s.users[k]
            access = {a: self.s.access[(k, a)] for a in sorted(self.s.by_user.get(k, ()))}
            self.changes.append(change("remove", "username", old, username=user.username,
                                       before={"home": old, "access": access}))
            self.gone.add(k)
            declared = self._declared(user.username)
            lost = sorted(a for a in access if a not in self.d.by_account)
            if lost and not self.d.prune_joins:
                self.warnings.append(
                    f"{user.username} moves home, so it loses its access to account"
                    f"{'s' if len(lost) > 1 else ''} {', '.join(lost)}, which {self.d.source} "
                    "doesn't declare (a username made again starts with only what the file "
                    "gives it)")
            if declared is not None and not declared.is_master:
                # made again: its password is needed (and checked by the policy) once more
                self.credentials[declared.username] = declared.password_var

    def _left_accounts(self) -> None:
        """Offboarding (docs/contracts.md, "The group's lifecycle"): joins that the master or a
        staff username holds to an account the file no longer declares. Removed under prune.joins,
        else warned about, one warning per account naming everyone who can still open it."""
        stay: dict[str, list[str]] = {}
        for u in (self.d.master, *self.d.staff.values()):
            k = ukey(u.username)
            if k in self.gone:
                continue
            for acct in sorted(self.s.by_user.get(k, ())):
                if acct in self.d.by_account or acct == self.s.users[k].home:
                    continue
                if not self.d.prune_joins:
                    stay.setdefault(acct, []).append(self.s.users[k].username)
                    continue
                master = self.s.access.get((self.master_k, acct))
                if master is None or master["account_access"] != "full":
                    raise PlanError(
                        f"prune.joins would remove {u.username}'s access to account {acct}, "
                        f"which {self.d.master.username} can't do: it needs full "
                        f"account_access there. Ask that account's provider to remove it, "
                        "or set prune.joins to false for now")
                self.changes.append(change("remove", "join", acct, username=u.username,
                                           before=self.s.access[(k, acct)]))
        for acct, names in sorted(stay.items()):
            self.warnings.append(
                f"account {acct} is not in {self.d.source}, but {', '.join(names)} can still "
                f"open it; {'they keep' if len(names) > 1 else 'it keeps'} that access "
                "because prune.joins is off (set prune.joins: true to remove it)")

    def _rotations(self) -> None:
        """`--rotate NAME`: one `password` change per username. The password is set by a
        username that holds full account_access in NAME's home and is not itself rotated:
        the master for everyone else, its home's provider login for the master."""
        problems = []
        declared = {self.master_k: self.d.master.username, **{k: u.username for k, u in
                                                              self.d.staff.items()},
                    **{k: p.login for k, p in self.logins.items()}}
        variables = {self.master_k: self.d.master.password_var,
                     **{k: u.password_var for k, u in self.d.staff.items()},
                     **{k: p.password_var for k, p in self.logins.items()}}
        master = self.d.master.username
        for name in self.rotate:
            k = ukey(name)
            user = self.s.user(name)
            if k not in declared:
                problems.append(f"--rotate {name}: not a username {self.d.source} declares "
                                "(the master, a staff username or a provider login)")
                continue
            name = declared[k]
            if user is None:
                problems.append(f"--rotate {name}: {name} doesn't exist yet; it is created "
                                f"with the current value of ${{{variables[k]}}}, so drop "
                                "--rotate")
                continue
            if k in self.moved:
                problems.append(f"--rotate {name}: {name} moves home in this plan and is made "
                                f"again with the current value of ${{{variables[k]}}}; drop "
                                "--rotate")
                continue
            # the master's is set by its home's provider login, everyone else's by the master
            # or, while the master's own is being set, by their home's provider login
            if k == self.master_k:
                setter = self.d.by_account[self.d.master.home].login
            elif self.master_k in self.rotate_keys:
                home = self.d.by_account.get(user.home)
                if home is None or ukey(home.login) == k:
                    problems.append(f"--rotate {name}: with the master's password also being "
                                    f"set, nobody this file names can set {name}'s; rotate "
                                    "the master first, apply, then the rest")
                    continue
                setter = home.login
            else:
                setter = master
            if self.master_k in self.moved and ukey(setter) == self.master_k:
                problems.append(f"--rotate {name}: its password is set by {setter}, which "
                                "moves home in this plan; rotate after this apply")
                continue
            if ukey(setter) in self.rotate_keys:
                problems.append(f"--rotate {name}: its password is set by {setter}, which is "
                                "rotated too; rotate one, apply, then the other")
                continue
            if not self.exists(setter):
                problems.append(f"--rotate {name}: its password is set by {setter}, which "
                                "doesn't exist yet; apply once without --rotate first")
                continue
            held = self.s.access.get((ukey(setter), user.home))
            if held is None or held["account_access"] != "full":
                problems.append(f"--rotate {name}: {setter} needs full account_access in "
                                f"account {self.label(user.home)} to set its password")
                continue
            self.credentials[name] = variables[k]
            self.credentials[setter] = variables[ukey(setter)]
            self.changes.append(change("change", "password", user.home, username=name))
        if problems:
            raise PlanError("\n".join(problems))

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
        if self.case_clashes:
            raise PlanError("\n".join(self.case_clashes))

    def _case_clashes(self, account_id: str, file: str, want: dict[str, Record],
                      have: dict[str, Record]) -> set[str]:
        """Payers the file names in another case than the account holds them (`AETNA`, held
        as `Aetna`): one payer to a biller, so adding one while the other stays (prune.codes
        off) would make two. Refused, with the way out, rather than planned; returns their
        keys. One pass over each side, whatever the sizes."""
        if not CODE_FILE_SPECS[file].key_folds_case or self.d.prune_codes:
            return set()  # with prune.codes the old spelling is removed: one payer after
        held = {k.casefold(): k for k in have}
        clashes = {key for key in want
                   if key not in have and held.get(key.casefold()) not in (None, key)}
        for key in sorted(clashes):
            old = held[key.casefold()]
            self.case_clashes.append(
                f"{file} {key!r} is {old!r} in account {self.label(account_id)}: payer names "
                f"are one payer whatever their case; write it as {old!r}, or remove {old!r} "
                "there first")
        return clashes

    def _sync_file(
        self, account_id: str, file: str, want: dict[str, Record], have: dict[str, Record]
    ) -> None:
        clashes = self._case_clashes(account_id, file, want, have)
        for key, record in want.items():
            current = have.get(key)
            if key in clashes:
                continue
            if current is None:
                self.changes.append(change("add", "code", account_id, file=file, key=key,
                                           after=record))
            elif current != record:
                self.changes.append(change("change", "code", account_id, file=file, key=key,
                                           before=current, after=record))
        extra = have.keys() - want.keys()
        if self.d.prune_codes:
            for key in extra:
                self.changes.append(change("remove", "code", account_id, file=file, key=key,
                                           before=have[key]))
            return
        codes = self.d.codes
        # the file's inline list is the source, or else the codes master's own file
        why = (f"not in {self.d.source}" if codes and file in codes.inline
               else f"not in the codes master {self.label(codes.master) if codes else ''}")
        for key in sorted(extra):
            self.kept_codes.setdefault((file, key, why), []).append(account_id)

    def _code_warnings(self) -> None:
        """Records kept only because prune.codes is off (docs/contracts.md, "The group's
        lifecycle"), as for usernames and joins: one warning per record, naming the accounts; past a
        screenful, counted."""
        items = sorted(self.kept_codes.items(), key=lambda kv: (
            CODE_FILE_NAMES.index(kv[0][0]), kv[0][1], kv[0][2]))
        for (file, key, why), accounts in items[:MAX_CODE_WARNINGS]:
            where = ", ".join(self.label(a) for a in accounts)
            self.warnings.append(
                f"{file} {key} in account{'s' if len(accounts) > 1 else ''} {where} is {why}; "
                "it stays because prune.codes is off")
        if len(items) > MAX_CODE_WARNINGS:
            self.warnings.append(
                f"… and {len(items) - MAX_CODE_WARNINGS} more code records that stay because "
                "prune.codes is off")
