"""`--rotate NAME`: who may set each rotated password (rules.password_setter), refused
whole when nobody can."""

from __future__ import annotations

from groupsync.accounts.model import ukey
from groupsync.changes import make as change
from groupsync.errors import PlanError
from groupsync.planner.base import PlannerBase
from groupsync.planner.rules import password_setter


class PasswordSteps(PlannerBase):
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
            guest = self.d.staff.get(k)
            if guest is not None and guest.guest:
                problems.append(f"--rotate {name}: a guest here; its password is set in its "
                                "home practice (rotate it there)")
                continue
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
            home = self.d.by_account.get(self.d.master.home if k == self.master_k
                                         else user.home)
            # `--as`: the acting username sets every password (its own is refused earlier)
            found = password_setter(k == self.master_k, self.master_k in self.rotate_keys,
                                    master, home.login if home else None) \
                if self.as_master else self.acting_name()
            if found is None or (k != self.master_k and ukey(found) == k):
                problems.append(f"--rotate {name}: with the master's password also being "
                                f"set, nobody this file names can set {name}'s; rotate "
                                "the master first, apply, then the rest")
                continue
            setter = found
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
