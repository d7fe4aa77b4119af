"""The policies on the state this plan would leave (policies.py decides; this step gives it
the plan's view): a violation the file declares or the plan creates refuses the whole plan,
one line each; the others are the plan's warnings."""

from __future__ import annotations

import json

from groupsync.errors import PolicyError
from groupsync.planner.base import PlannerBase
from groupsync.policies import Practice, Violation, after_access, check


class PolicySteps(PlannerBase):
    def _check_policies(self) -> None:
        if not self.d.policies:
            return
        d = self.d

        def role_of(k: str, acct: str) -> str | None:
            spec = d.spec_at(k, acct)
            return spec.role(acct) if spec else None

        practice = Practice(d.source, {p.account_id: p.key for p in d.providers.values()},
                            self.master_k, lambda k, a: d.spec_at(k, a) is not None, role_of,
                            lambda: [(k, a) for k, a, _ in d.managed_cells()])
        cells, names, homes = after_access(self.s, self.changes, self.d.by_account)
        # never logged in: counted from its creation (a username this plan makes has neither)
        last = ({k: u.last_login or u.created_at for k, u in self.s.users.items()}
                if any(p.rule == "idle" for p in self.d.policies) else None)
        found = check(self.d.policies, practice, self.s.access, cells, names, homes,
                      last_logins=last, today=self.today,
                      by_user=self.s.by_user if cells is self.s.access else None)
        refused = [v for v in found if v.blocking]
        if refused:
            raise PolicyError("\n".join(
                [*_capped(refused), f"the plan breaks policy {len(refused)} time"
                                    f"{'' if len(refused) == 1 else 's'} (severity deny); "
                                    "nothing was changed"]))
        self.warnings += _capped([v for v in found if not v.blocking])


MAX_POLICY_LINES = 20  # per policy: a role edit in a size-L practice can break it 10,000 times


def _capped(found: list[Violation]) -> list[str]:
    """Each policy's first lines, then how many more: a screenful says what is wrong, and
    the count says how much."""
    by_policy: dict[str, list[str]] = {}
    for v in found:
        by_policy.setdefault(v.policy, []).append(v.message)
    out: list[str] = []
    for name, messages in by_policy.items():
        out += messages[:MAX_POLICY_LINES]
        if len(messages) > MAX_POLICY_LINES:
            out.append(f"policy {json.dumps(name, ensure_ascii=False)}: … and "
                       f"{len(messages) - MAX_POLICY_LINES} more")
    return out
