"""`--as USERNAME` (docs/contracts.md, "People and who acts"): the apply logs in as a
declared username and acts as it throughout, so the audit trail names a person. The plan
checks first that it can: the username exists and stays, and it holds, after what this plan
changes of its own access, every right the account system will ask of it, one line per
missing right."""

from __future__ import annotations

from groupsync.accounts.model import ukey
from groupsync.changes import (
    Change,
    CodeChange,
    JoinChange,
    PasswordChange,
    PracticeSetupChange,
    PrivilegesChange,
    UsernameChange,
)
from groupsync.errors import PlanError
from groupsync.planner.base import PlannerBase
from groupsync.vocabulary import LEVEL_RANK

Need = tuple[str, str, str, str]  # account, area, level, what it is needed for


class ActingSteps(PlannerBase):
    def _check_acting(self) -> None:
        """The acting username is one the file declares, exists, and is left alone by this
        plan (an apply can't act as a username it makes, deletes or gives a new password)."""
        if self.as_master:
            return
        k = self.acting_k
        name = self.acting_name()
        where = f"--as {name}"
        if k not in self.source.staff and k not in self.logins:
            raise PlanError(f"{where}: not a username {self.d.source} declares (the master, a "
                            "staff username or a provider login)")
        ended = self.expired.of_username(name)
        if ended is not None:
            raise PlanError(f"{where}: its access ended after {ended} (its until); act as "
                            "another username")
        if self.s.user(name) is None:
            raise PlanError(f"{where}: {name} doesn't exist yet; apply once acting as another "
                            "username (or the master) to make it")
        if k in self.rotate_keys:
            raise PlanError(f"{where}: its own password can't be set while it acts; rotate it "
                            "acting as another username")

    def _acting_until(self) -> str:
        """The acting username's own `until`, so a saved plan can't act past it."""
        declared = self.source.staff.get(self.acting_k)
        return declared.until.isoformat() if declared and declared.until and \
            not self.as_master else ""

    def _check_rights(self) -> None:
        if self.as_master:
            return
        name = self.acting_name()
        held = self._held_after()
        missing: list[str] = []
        now = {a: dict(self.s.access[(self.acting_k, a)])
               for a in self.s.by_user.get(self.acting_k, ())}
        for account, area, level, doing in dict.fromkeys(
                need for c in self.changes for need in self._needs(c)):
            # its own privileges are changed with what it holds before the change
            have = (now if doing.startswith("change its own") else held).get(account)
            if have is None:
                line = f"--as {name}: it can't open account {self.label(account)}, where it " \
                       f"needs {level} on {area} to {doing}"
            elif LEVEL_RANK[have[area]] < LEVEL_RANK[level]:
                when = "now" if doing.startswith("change its own") else "after this plan"
                line = f"--as {name}: it needs {level} on {area} in {self.label(account)} " \
                       f"to {doing} (it holds {have[area]} there {when})"
            else:
                continue
            missing.append(line)
        if missing:
            raise PlanError("\n".join(missing))

    def _held_after(self) -> dict[str, dict[str, str]]:
        """The acting username's levels per account once this plan's changes to it are made
        (its own changes come first in the apply)."""
        k = self.acting_k
        held = {a: dict(self.s.access[(k, a)]) for a in self.s.by_user.get(k, ())}
        for c in self.changes:
            if ukey(c.username or "") != k:
                continue
            if isinstance(c, PrivilegesChange) or (isinstance(c, JoinChange)
                                                   and c.after is not None):
                held[c.account] = dict(c.after or {})
            elif isinstance(c, JoinChange):
                held.pop(c.account, None)
        return held

    def _needs(self, c: Change) -> list[Need]:
        """What the account system asks of the acting username to make `c` (its own joins and
        privileges aside: it makes those with what it holds, or the account's provider login
        does, as for the master)."""
        mine = ukey(c.username or "") == self.acting_k
        if isinstance(c, PracticeSetupChange):
            return [(c.account, "practice_setup", "full", "change its Practice Set-up")]
        if isinstance(c, UsernameChange):
            doing = "add usernames" if c.action == "add" else "delete usernames"
            return [(c.account, "account_access", "full", doing)]
        if isinstance(c, JoinChange):
            if mine:
                return []
            if c.action == "remove":
                return [(c.account, "account_access", "full", "remove joins")]
            home = self._home_of(c.username or "")
            return [(home, "account_access", "full", "join its usernames to other accounts"),
                    (c.account, "account_access", "full", "set Username Privileges")]
        if isinstance(c, PrivilegesChange):
            # its own too: changing its own privileges is Username Privileges like any other,
            # checked on what it holds now (_check_rights), never done by a provider login
            return [(c.account, "account_access", "full",
                     "change its own Username Privileges" if mine else
                     "set Username Privileges")]
        if isinstance(c, PasswordChange):
            return [(c.account, "account_access", "full", "set passwords")]
        assert isinstance(c, CodeChange)  # the last kind: a new one needs its rule here
        master = self.d.codes.master if self.d.codes else None
        if c.action == "remove":
            return [(c.account, "codes", "full", f"remove {c.file} records")]
        if master is None or c.account == master:
            return [(c.account, "codes", "full", f"enter {c.file}")]
        return [(master, "codes", "view", f"copy {c.file} from it"),
                (c.account, "codes", "full", f"copy {c.file}")]

    def _home_of(self, username: str) -> str:
        declared = self._declared(username)
        if declared is not None:
            return declared.home
        user = self.s.user(username)
        return user.home if user else ""

    def _persons(self, names: list[str]) -> dict[str, str]:
        """The person the file names for each of these usernames, where it names one."""
        out = {}
        for name in names:
            declared = self.source.declared(name)
            if declared is not None and declared.person:
                out[name] = declared.person
        return out
