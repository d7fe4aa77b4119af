"""Practice Set-up: the practice's name and TIN, each provider's name and billing, per
account."""

from __future__ import annotations

from groupsync.changes import make as change
from groupsync.planner.base import PlannerBase


class PracticeSetupSteps(PlannerBase):
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
