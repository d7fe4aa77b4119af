"""Usernames, joins and privileges: made, moved, joined, changed, pruned, and the warnings
for access the file no longer manages."""

from __future__ import annotations

from groupsync.accounts.model import ukey
from groupsync.changes import make as change
from groupsync.config import DesiredUsername
from groupsync.errors import PlanError
from groupsync.planner.base import PlannerBase


class AccessSteps(PlannerBase):
    def _usernames(self, deleted: set[str]) -> None:
        for u in (self.d.master, *self.d.staff.values()):
            k = ukey(u.username)
            targets = sorted(u.accounts, key=lambda a: self.order[a])
            if u.guest:
                self._guest_joins(u, targets)
                continue
            if not self.exists(u.username):
                self.changes.append(change(
                    "add", "username", u.home, username=u.username,
                    after={"home": u.home, "privileges": self._desired_privs(u.username, u.home)},
                    role=self._role(u.username, u.home),
                ))
                if not u.is_master or not self.as_master:
                    # made by the acting username: the new one's password is needed (the
                    # master's own, when it acts, is the actor's: _actors)
                    self.credentials[u.username] = u.password_var
            for acct in targets:
                if acct == u.home or ((k, acct) in self.s.access and k not in self.gone):
                    continue
                self.changes.append(change("add", "join", acct, username=u.username,
                                           after=self._desired_privs(u.username, acct),
                                           role=self._role(u.username, acct)))
                self._need_login(acct)
        # Privileges of every declared account a managed username can already open.
        for k, spec in self.d.privileges.items():
            if k in deleted:
                continue
            for acct in sorted(self.s.by_user.get(k, ()), key=lambda a: self.order.get(a, -1)):
                if acct not in self.d.by_account:
                    continue
                declared = self._declared(spec.username)
                if declared and acct not in declared.accounts and (
                        self.d.prune_joins or self.expired.of_join(spec.username, acct)):
                    continue  # the join itself is removed below
                before = self.s.access[(k, acct)]
                after = spec.resolve(acct)
                if k == self.master_k and self.as_master and \
                        before["account_access"] != "full":
                    # The master lost its own right to fix this (drift): the account's
                    # provider login restores it, so the apply needs that login too. Only the
                    # master: a username acting with --as raises itself with its own rights
                    # or not at all (planner/acting.py).
                    self._need_login(acct)
                if before != after:
                    ended = self.expired.of_entry(k, acct)
                    self.changes.append(change("change", "privileges", acct,
                                               username=self.s.users[k].username,
                                               before=before, after=after,
                                               role=self._role(k, acct),
                                               expired=ended.isoformat() if ended else None))
        self._undeclared_joins(deleted)

    def _guest_joins(self, u: DesiredUsername, targets: list[str]) -> None:
        """A guest joins itself (only a username's own home can join it elsewhere): with its
        password and each account's provider login (docs/contracts.md, "Guests")."""
        k = ukey(u.username)
        if self.s.user(u.username) is None and k not in self.taken:
            # nothing to join yet: planned once its home has made it, so this practice's
            # apply never waits on (or fails for) another practice's
            self.waiting.append(u.username)
            self.warnings.append(
                f"guest {u.username} doesn't exist yet: it is joined here once its home, "
                "outside this practice, has made it (a workspace apply applies its home "
                "practice first, then this one again)")
            return
        for acct in targets:
            if (k, acct) in self.s.access:
                continue
            self.changes.append(change("add", "join", acct, username=u.username,
                                       after=self._desired_privs(u.username, acct),
                                       role=self._role(u.username, acct)))
            self._need_login(acct)
            self.credentials[u.username] = u.password_var

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
                ended = (self.expired.of_join(user.username, acct)
                         or self.expired.of_username(user.username))  # homed elsewhere
                if self.d.prune_joins or ended:
                    # an expiry is a declared removal: made whatever prune.joins says
                    self.changes.append(change("remove", "join", acct, username=user.username,
                                               before=self.s.access[(k, acct)],
                                               expired=ended.isoformat() if ended else None))
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
            if lost and declared is not None and declared.elsewhere:
                # its other practices' accounts are theirs to name: not said here
                self.warnings.append(
                    f"{user.username} moves home, so it loses its access outside this "
                    "practice until the other practices' applies join it again (a workspace "
                    "apply does)")
            elif lost and not self.d.prune_joins:
                self.warnings.append(
                    f"{user.username} moves home, so it loses its access to account"
                    f"{'s' if len(lost) > 1 else ''} {', '.join(lost)}, which {self.d.source} "
                    "doesn't declare (a username made again starts with only what the file "
                    "gives it)")
            if declared is not None and (not declared.is_master or not self.as_master):
                # made again: its password is needed (and checked by the policy) once more
                self.credentials[declared.username] = declared.password_var

    def _left_accounts(self) -> None:
        """Offboarding (docs/contracts.md, "The group's lifecycle"): joins that the master or a
        staff username holds to an account the file no longer declares. Removed under prune.joins,
        else warned about, one warning per account naming everyone who can still open it."""
        stay: dict[str, list[str]] = {}
        for u in (self.d.master, *self.d.staff.values()):
            k = ukey(u.username)
            if k in self.gone or u.elsewhere:
                continue  # its other accounts are its other practices' (a guest's too)
            for acct in sorted(self.s.by_user.get(k, ())):
                if acct in self.d.by_account or acct == self.s.users[k].home:
                    continue
                if not self.d.prune_joins:
                    stay.setdefault(acct, []).append(self.s.users[k].username)
                    continue
                master = self.s.access.get((self.acting_k, acct))
                if master is None or master["account_access"] != "full":
                    raise PlanError(
                        f"prune.joins would remove {u.username}'s access to account {acct}, "
                        f"which {self.acting_name()} can't do: it needs full "
                        f"account_access there. Ask that account's provider to remove it, "
                        "or set prune.joins to false for now")
                self.changes.append(change("remove", "join", acct, username=u.username,
                                           before=self.s.access[(k, acct)]))
        for acct, names in sorted(stay.items()):
            self.warnings.append(
                f"account {acct} is not in {self.d.source}, but {', '.join(names)} can still "
                f"open it; {'they keep' if len(names) > 1 else 'it keeps'} that access "
                "because prune.joins is off (set prune.joins: true to remove it)")

    def _prune_usernames(self) -> set[str]:
        keep = {ukey(self.d.master.username), *self.d.staff, *self.logins}
        keep.update(ukey(a.signup_username) for a in self.s.accounts.values())
        deleted: set[str] = set()
        for k in sorted(self.s.users):
            user = self.s.users[k]
            if user.home not in self.d.by_account or k in keep:
                continue
            ended = self.expired.of_username(user.username)
            if self.d.prune_usernames or ended:
                # an expiry is a declared removal: made whatever prune.usernames says
                access = {a: self.s.access[(k, a)] for a in sorted(self.s.by_user.get(k, ()))}
                self.changes.append(change("remove", "username", user.home,
                                           username=user.username,
                                           before={"home": user.home, "access": access},
                                           expired=ended.isoformat() if ended else None))
                deleted.add(k)
            elif k not in self.d.privileges:
                self.warnings.append(
                    f"username {user.username} (home {self.label(user.home)}) is not in "
                    f"{self.d.source}; it keeps its access because prune.usernames is off"
                )
        return deleted
