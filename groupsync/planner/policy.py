"""The policies on the state this plan would leave (policies.py decides; this step gives it
the plan's view): a violation the file declares or the plan creates refuses the whole plan,
one line each; the others are the plan's warnings."""

from __future__ import annotations

from groupsync.errors import PolicyError
from groupsync.planner.base import PlannerBase
from groupsync.policies import Practice, after_access, check


class PolicySteps(PlannerBase):
    def _check_policies(self) -> None:
        if not self.d.policies:
            return
        managed: set[tuple[str, str]] = set()
        roles: dict[tuple[str, str], str] = {}
        for k, acct, spec in self.d.managed_cells():
            managed.add((k, acct))
            role = spec.role(acct)
            if role:
                roles[(k, acct)] = role
        practice = Practice(self.d.source,
                            {p.account_id: p.key for p in self.d.providers.values()},
                            frozenset(managed), roles, self.master_k)
        cells, names, homes = after_access(self.s, self.changes, self.d.by_account)
        found = check(self.d.policies, practice, self.s.access, cells, names, homes)
        refused = [v.message for v in found if v.blocking]
        if refused:
            raise PolicyError("\n".join(
                [*refused, f"the plan breaks policy {len(refused)} time"
                           f"{'' if len(refused) == 1 else 's'} (severity deny); nothing "
                           "was changed"]))
        self.warnings += [v.message for v in found if not v.blocking]
