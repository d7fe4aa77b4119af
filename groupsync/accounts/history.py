"""Who could open what at a revision (docs/contracts.md, "Looking back"): the access of some
accounts as it stood at the end of revision N, rebuilt from the store as it is now and the
audit trail's before and after values of everything written since.

Pure: the caller reads the state (the accounts, the usernames that can open them) and the
entries after N that touched their access; `rewind` undoes those entries newest first. What
the trail can't answer (an account whose history starts after N without its sign-up, an
entry without the before value its undoing needs) is said, never guessed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

from groupsync.accounts.model import State, User, ukey
from groupsync.accounts.storage import AuditEntry

# the entry types that change who can open what, or whether an account exists
ACCESS_TYPES = ("username", "join", "privileges", "account", "practice_setup")
UNKNOWN = "unknown"  # a past last log-in


@dataclass
class Past:
    """The accounts' access at the end of a revision, and what history could not say."""

    state: State
    revision: int
    unknown: set[str] = field(default_factory=set)  # accounts whose access then isn't known
    notes: list[str] = field(default_factory=list)


def rewind(state: State, entries: Iterable[AuditEntry], accounts: set[str],
           revision: int, first_seen: dict[str, int]) -> Past:
    """`state` (now) with every entry after `revision` undone, for `accounts`. `entries`
    are newest first; `first_seen` gives each account's oldest entry's revision (its
    history's start)."""
    # a log-in is no write: the trail doesn't keep when each username last logged in
    users = {k: dataclasses.replace(u, last_login=UNKNOWN) for k, u in state.users.items()}
    access = {cell: dict(levels) for cell, levels in state.access.items()
              if cell[1] in accounts}
    kept = {a: dataclasses.replace(state.accounts[a]) for a in accounts if a in state.accounts}
    past = State(lineage=state.lineage, revision=revision, accounts=kept, users=users,
                 access=access)
    unknown: set[str] = set()
    missing: set[str] = set()  # accounts signed up after `revision`
    for e in entries:
        if e.revision <= revision:
            continue
        if not _undo(past, e, accounts, missing) and e.account in accounts:
            unknown.add(e.account or "")
    notes = []
    for a in sorted(missing):
        past.accounts.pop(a, None)
        for k in list(past.by_account.get(a, ())):
            past.drop_access(k, a)
        notes.append(f"account {a} did not exist yet at r{revision} (signed up later)")
    for a in sorted(accounts - missing - set(past.accounts)):
        notes.append(f"account {a} does not exist now; its history isn't rebuilt")
    for a in sorted(a for a in accounts - missing if a in past.accounts
                    and first_seen.get(a, 0) > revision):
        unknown.add(a)
    for a in sorted(unknown):
        if a in past.accounts:
            notes.append(f"account {a}'s history is incomplete before r{revision + 1}: its "
                         f"access at r{revision} is not known, so it is left out")
            past.accounts.pop(a)
            for k in list(past.by_account.get(a, ())):
                past.drop_access(k, a)
    # usernames that can open nothing of what is shown are not part of it
    past.users = {k: u for k, u in past.users.items() if past.by_user.get(k)}
    return Past(past, revision, unknown, notes)


def _undo(past: State, e: AuditEntry, accounts: set[str], missing: set[str]) -> bool:
    """Undo one entry in `past`; False when it lacks what undoing it needs."""
    account = e.account or ""
    name = e.username or ""
    before = e.detail.get("before")
    if e.type == "account" and e.action == "add":
        if account in accounts:
            missing.add(account)
        return True
    if e.type == "practice_setup":
        old = (before or {}).get("provider_name") if isinstance(before, dict) else None
        if old and account in past.accounts:
            past.accounts[account] = dataclasses.replace(past.accounts[account],
                                                         provider_name=old)
        return True
    if e.type == "username" and e.action == "add":
        if account in accounts:
            past.drop_access(name, account)
        past.users.pop(ukey(name), None)
        return True
    if e.type == "username" and e.action == "remove":
        if not isinstance(before, dict) or not isinstance(before.get("access"), dict):
            return False
        home = str(before.get("home", account))
        # a home outside the accounts shown is another practice's: not named
        past.users[ukey(name)] = User(username=name, home=home if home in accounts else "",
                                      password_hash="", id=e.username_id or "",
                                      last_login=UNKNOWN)
        for acct, levels in before["access"].items():
            if acct in accounts:
                past.set_access(name, acct, levels)
        return True
    if account not in accounts or e.type not in ("join", "privileges"):
        return True  # nothing of the accounts shown
    if e.action == "add":  # a join
        past.drop_access(name, account)
        return True
    if not isinstance(before, dict):
        return False
    if ukey(name) not in past.users:
        # it could open this account then, and nothing the practice reads now: known by
        # name only (its home, elsewhere, is not named)
        past.users[ukey(name)] = User(username=name, home="", password_hash="",
                                      id=e.username_id or "", last_login=UNKNOWN)
    past.set_access(name, account, before)  # a join removed, or levels changed
    return True
