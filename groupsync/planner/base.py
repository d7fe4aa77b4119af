"""What every planning step shares: the file, the store's state, the changes and warnings
made so far, and the lookups the steps ask (is a username there and staying, what does the
file give it in an account)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from groupsync.accounts.model import State, ukey
from groupsync.changes import TYPE_ORDER, Change
from groupsync.config import Desired, DesiredUsername
from groupsync.expiry import Expired, as_of
from groupsync.vocabulary import CODE_FILES

ACTION_ORDER = ("add", "change", "remove")


class PlannerBase:
    def __init__(self, desired: Desired, state: State, rotate: Sequence[str] = (),
                 taken: Iterable[str] = (), today: date | None = None,
                 acting: str | None = None) -> None:
        self.source = desired  # the file as written; `d` is the file as it applies today
        self.s = state
        self.today = today  # for idle policies; without it they are not checked
        self.taken = {ukey(name) for name in taken}  # held out of sight: taken, no home
        self.changes: list[Change] = []
        self.warnings: list[str] = list(desired.file_warnings)
        self.expired = Expired()
        if today is not None:
            desired, self.expired, ending = as_of(desired, today)
            self.warnings += ending
        self.d = desired
        self.credentials: dict[str, str] = {}
        self.order = {p.account_id: i for i, p in enumerate(desired.providers.values())}
        self.logins = desired.provider_logins()
        self.master_k = ukey(desired.master.username)
        # who acts once logged in (docs/contracts.md, "People and who acts"): `--as`, else
        # the master; every rule that says "the master deletes, sets, raises" means this one
        self.acting_k = ukey(acting) if acting else self.master_k
        self.acting_given = acting or desired.master.username
        self.as_master = self.acting_k == self.master_k
        self.rotate = list(dict.fromkeys(rotate))
        self.rotate_keys = {ukey(n) for n in self.rotate}
        self.moved: dict[str, str] = {}  # ukey -> the home it leaves
        self.gone: set[str] = set()  # usernames this plan deletes (pruned or moved)
        self.kept_codes: dict[tuple[str, str, str], list[str]] = {}  # (file, key, why) -> ids
        self.case_clashes: list[str] = []
        self.waiting: list[str] = []  # guests not made yet by their home

    def exists(self, username: str) -> bool:
        """The username is in the store and stays there (not deleted or moved by this plan)."""
        return self.s.user(username) is not None and ukey(username) not in self.gone

    def label(self, account_id: str) -> str:
        prov = self.d.by_account.get(account_id)
        return f"{account_id} ({prov.key})" if prov else account_id

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

    def _basis(self) -> dict[str, int]:
        """The versions of the rows this plan was made from, as the read gave them: its
        declared accounts (and any other a change names), and every username it names."""
        accounts = {*self.d.by_account, *(c.account for c in self.changes)}
        if self.d.codes and self.d.codes.master:
            accounts.add(self.d.codes.master)
        names = {ukey(self.d.master.username), *self.d.staff,
                 *(ukey(p.login) for p in self.d.providers.values()),
                 *(ukey(c.username) for c in self.changes if c.username)}
        wanted = [f"a:{a}" for a in accounts] + [f"u:{u}" for u in names]
        return {k: self.s.versions[k] for k in sorted(wanted) if k in self.s.versions}

    def _sort_key(self, c: Change) -> tuple[Any, ...]:
        file = getattr(c, "file", None)
        file_rank = list(CODE_FILES).index(file) if file else -1
        return (
            self.order.get(c.account, len(self.order)), c.account, TYPE_ORDER.index(c.type),
            ukey(c.username or ""), file_rank, getattr(c, "key", ""), ACTION_ORDER.index(c.action),
        )

    def _desired_privs(self, username: str, account_id: str) -> dict[str, str] | None:
        spec = self.d.privileges.get(ukey(username))
        return spec.resolve(account_id) if spec else None

    def _role(self, username: str, account_id: str) -> str | None:
        """The role the file names for the username in the account, for the plan to show."""
        spec = self.d.privileges.get(ukey(username))
        return spec.role(account_id) if spec else None

    def _need_login(self, account_id: str) -> None:
        prov = self.d.by_account[account_id]
        self.credentials[prov.login] = prov.password_var

    def acting_name(self) -> str:
        """The acting username as the file writes it."""
        declared = self.source.declared(self.acting_k)
        return declared.username if declared else self.acting_given

    def _declared(self, username: str) -> DesiredUsername | None:
        k = ukey(username)
        if k == ukey(self.d.master.username):
            return self.d.master
        return self.d.staff.get(k)
