"""Whether the plan can be made at all, and who acts: the accounts and logins the file names
exist, every declared username is free or this practice's own (a move when its home
changed), and the apply's actor and master."""

from __future__ import annotations

from groupsync.accounts.model import ukey
from groupsync.config import DesiredUsername
from groupsync.errors import PlanError
from groupsync.planner.base import PlannerBase


class Checks(PlannerBase):
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
            if u.guest:
                # homed elsewhere: made, moved and deleted there, never by this practice
                if existing is not None and existing.home in self.d.by_account:
                    problems.append(f"guest {u.username}'s home is account "
                                    f"{self.label(existing.home)} of this practice; declare it "
                                    "under usernames, not guests")
                continue
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
        # The acting username (the master, or --as) deletes a moved username (the master
        # itself too, when it moves and acts) before it is added again, so it needs full
        # account_access in the home being left.
        who = f"the master {self.d.master.username}" if self.as_master \
            else self.acting_name()
        if self.s.user(self.acting_name()) is None:
            return (f"{where}: {who} deletes it there, and it doesn't exist yet; keep that "
                    "home for the first apply, then move it")
        if not self.as_master and k == self.acting_k:
            return (f"{where}: it acts in this plan (--as), and can't delete itself; move it "
                    "acting as another username")
        held = self.s.access.get((self.acting_k, old))
        if held is None or held["account_access"] != "full":
            return (f"{where}: {who} needs full account_access in {self.label(old)} to "
                    "delete it there; give it that (the account's provider can), or choose "
                    "another username")
        for acct in sorted(self.s.by_user.get(k, ())):
            keepers = [v for v in self.s.by_account.get(acct, ()) if v != k
                       and self.s.access[(v, acct)]["account_access"] == "full"]
            if not keepers:
                return (f"{where}: deleting it would leave account {self.label(acct)} with no "
                        "username holding full account_access; give another username full "
                        "account_access there first")
        return None

    def _actors(self) -> tuple[str, str]:
        """Who the apply logs in as first, and who it then acts as ("" = the master). With
        `--as`, that username throughout. Else the master, unless it doesn't exist yet or its
        password is being set: then its home's provider login (which creates it, or sets its
        password). A master moving home logs in as itself, deletes itself last of all in the
        old home, and is made again by the new home's login."""
        if not self.as_master:
            declared = self.source.declared(self.acting_name())
            assert declared is not None  # _check_acting refused any other
            self.credentials[declared.username] = declared.password_var
            return declared.username, declared.username
        master = self.d.master
        self.credentials[master.username] = master.password_var
        home = self.d.by_account[master.home]
        if self.exists(master.username) and self.master_k not in self.rotate_keys:
            return master.username, ""
        self.credentials[home.login] = home.password_var
        if self.master_k in self.moved:
            return master.username, ""
        return home.login, ""

