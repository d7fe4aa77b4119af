"""Drift named (docs/contracts.md, "Drift named"): a plan's change that undoes a difference
made outside its file names the audit entry that made it.

For each change, the newest entry that set the same thing (a username's access in an
account, a code record, an account's Practice Set-up) is looked up, all in one indexed query
(`Reader.latest_entries`). The change undoes that entry when what the entry overwrote is
what the change puts back: a privilege someone widened by hand goes back to what it was, a
record someone deleted comes back, a join someone else added goes away. A change the file
itself asks for (a new fee) puts something new and names nothing, and neither does the
removal of what the file's own acting username added (a username that left the file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from groupsync.accounts.model import ukey
from groupsync.accounts.storage import AuditEntry, audit_subject
from groupsync.changes import Change
from groupsync.plan import Plan


def subject_of(c: Change) -> str | None:
    """What in its account a change sets, in the words audit entries are indexed by."""
    if c.type == "password":
        return None  # a password is no access: nothing to undo
    return audit_subject(c.type, c.username,
                         {"file": getattr(c, "file", None), "key": getattr(c, "key", None)})


def cells(plan: Plan) -> list[tuple[str, str]]:
    """The (account, subject) of every change a drift could be behind."""
    out = {(c.account, s) for c in plan.changes if c.action in ("add", "change", "remove")
           and (s := subject_of(c)) is not None}
    return sorted(out)


def _overwritten(e: AuditEntry) -> Any:
    """What the entry replaced there: None where it added what wasn't."""
    if e.action == "add":
        return None
    before = e.detail.get("before")
    if e.type == "username" and isinstance(before, dict):
        return (before.get("access") or {}).get(e.account or "")
    return before


def _put_back(c: Change) -> Any:
    """What the change makes it: None where it removes."""
    after = c.after
    if c.type == "username" and isinstance(after, dict):
        return after.get("privileges")
    return dict(after) if isinstance(after, dict) else after


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        keys = set(a) | set(b)
        return all(a.get(k) == b.get(k) for k in keys)
    return bool(a == b)


def name_drift(plan: Plan, latest: Callable[[list[tuple[str, str]]], Iterable[AuditEntry]]
               ) -> None:
    """Fill `plan.drift`: change index -> {revision, actor, at} of the entry it undoes."""
    wanted = cells(plan)
    if not wanted:
        return  # a plan without changes asks nothing (a no-op plan costs no query)
    found = {(e.account or "", audit_subject(e.type, e.username, e.detail)): e
             for e in latest(wanted)}
    own = {ukey(plan.master), ukey(plan.executor)}
    for i, c in enumerate(plan.changes):
        subject = subject_of(c)
        e = found.get((c.account, subject)) if subject else None
        if e is None:
            continue
        if c.action == "remove" and ukey(e.actor) in own:
            # what the file's own acting username added, the file now removes (a username
            # that left, an entry that expired): its own doing, not a difference
            continue
        if _same(_overwritten(e), _put_back(c)):
            plan.drift[i] = {"revision": e.revision, "actor": e.actor, "at": e.at}
