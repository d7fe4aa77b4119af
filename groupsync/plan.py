"""plan(desired, state) -> Plan: pure set arithmetic on stable keys, no I/O.

A Plan is plain data: a list of Changes (what to add, change or remove, with before/after),
the warnings an admin should read, and what applying it needs: the store it was computed from
(lineage, and the versions of the rows it was made from) and the *names* of the variables
holding the passwords of every login the apply will use. Rendering (render.py) and applying
(applier.py) are separate consumers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from groupsync.accounts.model import State, ukey
from groupsync.changes import Change
from groupsync.changes import to_json as change_json
from groupsync.config import Desired

FORMAT_VERSION = "1"



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
    changes: list[Change]
    warnings: list[str] = field(default_factory=list)
    actor: str = ""  # who the apply logs in as first
    master: str = ""  # the file's master username: who it acts as once that exists
    # `--as USERNAME`: the declared username the apply acts as throughout instead of the
    # master ("" = the master acts); docs/contracts.md, "People and who acts"
    acting: str = ""
    acting_until: str = ""  # the acting username's last day (YYYY-MM-DD), if it has one
    sealed: bool = False  # master.sealed: acting as the master needs --break-glass
    # the person the file names for each username the apply logs in as: the audit trail
    # keeps it beside the actor
    persons: dict[str, str] = field(default_factory=dict)
    credentials: dict[str, str] = field(default_factory=dict)  # username -> variable name
    code_master: str | None = None  # the Copy From account
    accounts: dict[str, str] = field(default_factory=dict)  # account id -> provider key
    logins: dict[str, str] = field(default_factory=dict)  # account id -> its provider login
    # username -> its home after the apply, for the usernames the changes name (renderers
    # flag a risky grant outside a home); not part of a saved plan
    homes: dict[str, str] = field(default_factory=dict, compare=False)
    # the versions of the rows the plan was made from ('a:' + account, 'u:' + username): a
    # saved plan is stale only when one of them has moved (docs/contracts.md, "Saved plans")
    basis: dict[str, int] = field(default_factory=dict)
    # the guests the changes join (homed outside the practice): each joins itself, with its
    # own password, since only a username's home can join it elsewhere
    guests: list[str] = field(default_factory=list)
    # guests this plan could not join yet (not made by their home): a workspace apply
    # plans the practice again once their home practice has applied; not part of a saved plan
    waiting: list[str] = field(default_factory=list, compare=False)
    # change index -> {revision, actor, at}: the audit entry a change undoes (drift.py),
    # looked up once the plan is made; shown by the renderers, never trusted by an apply
    drift: dict[int, dict[str, Any]] = field(default_factory=dict, compare=False)

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

    @property
    def executor(self) -> str:
        """The username this plan's apply acts as once it has logged in: `--as`, else the
        master."""
        return self.acting or self.master

    def acts_as_master(self) -> bool:
        return ukey(self.executor) == ukey(self.master)

    def needed_passwords(self) -> set[str]:
        """Every password an apply of this plan must be given: its actor's, the acting
        username's, every login it uses and every password it sets (the master's only when
        it acts, or is made, or is given a new one)."""
        return {self.actor, self.executor, *self.credentials, *self.rotated}

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
            "changes": [change_json(c, self.drift.get(i)) for i, c in enumerate(self.changes)],
            "warnings": list(self.warnings),
        }


def make_plan(desired: Desired, state: State, today: date | None = None,
              rotate: Sequence[str] = (), taken: Iterable[str] = (),
              acting: str | None = None) -> Plan:
    """Compare the desired practice with the store's state; raise PlanError if it can't be
    reached at all (an account that was never signed up, a username taken elsewhere, a move
    or rotation nobody may make), one line per problem.

    `rotate` names usernames whose password is set to their variable's current value.
    `today` (the clock's, GROUPSYNC_NOW included, when not given) is the day the plan is made
    for: what expired before it is removed, what ends within a week and free trials ending
    without a sent notice are warned about (a parameter, so the same inputs always give the
    same plan).

    `taken` names usernames the file declares that exist where `state` can't show them (a
    service's caller sees only the accounts it can open): they are taken, nothing more.

    `acting` (`--as`) names the declared username the apply acts as instead of the master;
    the plan fails, one line per missing right, when it can't make every change."""
    from groupsync.clock import today as clock_today
    from groupsync.notice import trial_warnings
    from groupsync.planner import Planner  # it builds Plans: imported when first used

    day = today if today is not None else clock_today()
    plan = Planner(desired, state, rotate, taken, day, acting).run()
    if today is not None:  # a caller's day: a hand-built state may carry no sign-up dates
        plan.warnings += trial_warnings(desired, state, day)
    return plan
