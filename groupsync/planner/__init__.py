"""The planner: desired practice + the store's state -> Plan, pure, no I/O.

One class made of one part per concern (checks, Practice Set-up, access, passwords, code
files), each in its own module; `run` is the explicit order of the steps. The steps share
only what PlannerBase holds. Who acts and who sets a password are rules.py's, which the
applier reads too.
"""

from __future__ import annotations

from groupsync.plan import Plan
from groupsync.planner.access import AccessSteps
from groupsync.planner.acting import ActingSteps
from groupsync.planner.checks import Checks
from groupsync.planner.codes import CodeSteps
from groupsync.planner.passwords import PasswordSteps
from groupsync.planner.policy import PolicySteps
from groupsync.planner.setup import PracticeSetupSteps


class Planner(Checks, ActingSteps, PracticeSetupSteps, AccessSteps, PasswordSteps, CodeSteps,
              PolicySteps):
    def run(self) -> Plan:
        self._check_acting()
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
        self._check_policies()
        self._check_rights()
        actor, acting = self._actors()
        return Plan(
            lineage=self.s.lineage, revision=self.s.revision, basis=self._basis(),
            changes=self.changes, warnings=self.warnings, actor=actor,
            master=self.d.master.username, acting=acting, sealed=self.d.sealed,
            acting_until=self._acting_until(),
            persons=self._persons(sorted({actor, acting or self.d.master.username,
                                          *self.credentials})),
            credentials=dict(sorted(self.credentials.items())),
            code_master=self.d.codes.master if self.d.codes else None,
            accounts={p.account_id: p.key for p in self.d.providers.values()},
            logins={p.account_id: p.login for p in self.d.providers.values()},
            homes=self._homes(), waiting=self.waiting,
            guests=sorted({u.username for u in self.d.staff.values() if u.guest
                           and any(c.username == u.username for c in self.changes
                                   if c.type == "join" and c.action == "add")}),
        )
