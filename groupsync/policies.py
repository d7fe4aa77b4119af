"""Policies: rules about who may hold what, checked on the state a plan would leave
(docs/contracts.md, "Roles and policies").

Pure: a Policy is data the practice file declares (or the built-in `risky-grants`), and
`check` reads the store's state, the plan's changes and the file, and answers what fails the
plan and what is only a warning. The planner calls it, so the command line, the service and
library callers enforce the same policies through the same code.

Which violations fail a plan (`severity: deny`): one the file declares (a cell whose levels
the file manages) or one the plan would create (it is not in the store now). One that is in
the store now, outside what the file manages, and that the plan leaves as it is, is a warning:
offboarding must never be blocked by a hand-made problem the plan doesn't touch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from groupsync.accounts.model import State, ukey
from groupsync.vocabulary import AREAS, LEVEL_RANK, RISKY_AREAS

Severity = Literal["deny", "warn", "off"]
RISKY_GRANTS = "risky-grants"


@dataclass(frozen=True)
class Policy:
    """One policy. `rule` is deny (cells that must not hold `at_least` on `areas`), require
    (at least `count` holders per account and area) or idle (log-ins older than `days`)."""

    name: str
    rule: Literal["deny", "require", "idle"]
    severity: Severity = "deny"
    usernames: frozenset[str] | None = None  # casefolded; None: every username
    role: str | None = None
    areas: tuple[str, ...] = AREAS
    at_least: str = "view"
    accounts: frozenset[str] | None = None  # account ids; None: every declared account
    outside_home: bool = False
    exempt: frozenset[str] = frozenset()  # casefolded usernames (`except`)
    count: int = 0
    days: int = 0
    # the built-in risky-grants: the master's own grants in declared accounts are its job
    master_excepted: bool = False


def risky_grants(severity: Severity = "warn") -> Policy:
    """The built-in: full on clinical notes or on who gets in, outside the username's home
    (the master's own in the practice's accounts excepted). The access review flags the same
    cells with `is_risky`."""
    return Policy(RISKY_GRANTS, "deny", severity, areas=RISKY_AREAS, at_least="full",
                  outside_home=True, master_excepted=True)


def is_risky(area: str, level: str, account: str, home: str, is_master: bool,
             declared: bool) -> bool:
    """The risky-grants rule for one cell: the one definition the plans and the review use."""
    if is_master and declared:
        return False
    return area in RISKY_AREAS and level == "full" and account != home


@dataclass(frozen=True)
class Violation:
    policy: str
    severity: Severity
    message: str
    blocking: bool  # fails the plan (declared, or created by it) rather than a warning


Access = Mapping[tuple[str, str], Mapping[str, str]]


@dataclass(frozen=True)
class Practice:
    """What a check needs to know of the practice file: its accounts, the master, and, asked
    only for the cells a policy matches (a size-L file sets 20,000), whether the file sets a
    cell's levels and the role it names there."""

    source: str
    accounts: Mapping[str, str]  # account id -> provider key
    master: str  # ukey
    manages: Callable[[str, str], bool]  # (ukey, account): the file sets its levels
    role_of: Callable[[str, str], str | None]  # (ukey, account) -> the role it names
    managed_cells: Callable[[], Iterable[tuple[str, str]]]  # every cell the file sets


def check(policies: Iterable[Policy], practice: Practice, before: Access, after: Access,
          names: Mapping[str, str], homes: Mapping[str, str],
          last_logins: Mapping[str, str] | None = None,
          today: date | None = None,
          by_user: Mapping[str, Iterable[str]] | None = None) -> list[Violation]:
    """Every violation of `policies` in the practice's accounts of `after` (the state the
    plan leaves). `before` is the store now; `names` and `homes` give each username's
    spelling and home (after the plan), by casefolded name; `last_logins` each username's
    last log-in (or creation), for `idle`."""
    out: list[Violation] = []
    for policy in policies:
        if policy.severity == "off":
            continue
        if policy.rule == "deny":
            out.extend(_deny(policy, practice, before, after, names, homes, by_user))
        elif policy.rule == "require":
            out.extend(_require(policy, practice, before, after, names))
        elif last_logins is not None and today is not None:
            out.extend(_idle(policy, practice, after, names, last_logins, today))
    return out


def _at_least(need: int) -> tuple[str, ...]:
    """The levels that hold at least rank `need` (`at_least: none` is any cell at all)."""
    return tuple(level for level, rank in LEVEL_RANK.items() if rank >= need)


def _quoted(name: str) -> str:
    """A policy's name in double quotes, its own quotes escaped (`"say \\"hi\\""`)."""
    return json.dumps(name, ensure_ascii=False)


def _where(practice: Practice, account: str) -> str:
    key = practice.accounts.get(account)
    return f"account {account} ({key})" if key else f"account {account}"


def _cells(policy: Policy, practice: Practice, after: Access,
           by_user: Mapping[str, Iterable[str]] | None) -> Iterable[tuple[tuple[str, str],
                                                                           Mapping[str, str]]]:
    """The cells a deny policy can match, narrowed first by what it names: a role's cells
    come from the file, a list of usernames' from the index of who opens what."""
    if policy.role is not None:
        keys: Iterable[tuple[str, str]] = [c for c in practice.managed_cells()
                                           if practice.role_of(*c) == policy.role]
    elif policy.usernames is not None and by_user is not None:
        keys = [(k, a) for k in policy.usernames for a in by_user.get(k, ())]
    else:
        return after.items()
    return [(c, after[c]) for c in keys if c in after]


def _deny(policy: Policy, practice: Practice, before: Access, after: Access,
          names: Mapping[str, str], homes: Mapping[str, str],
          by_user: Mapping[str, Iterable[str]] | None = None) -> Iterator[Violation]:
    # The hot loop of a plan's policy check (every cell of a size-L practice, per policy):
    # the level test comes first, as a comprehension, before any other lookup.
    need = LEVEL_RANK[policy.at_least]
    shown = _at_least(need)
    areas = policy.areas
    order = {a: i for i, a in enumerate(practice.accounts)}
    accounts = practice.accounts if policy.accounts is None else policy.accounts
    found: list[tuple[tuple[int, str], Violation]] = []
    one = areas[0] if len(areas) == 1 else None
    for (k, account), levels in _cells(policy, practice, after, by_user):
        if one is not None:
            if levels[one] not in shown:
                continue
            hit = [one]
        else:
            hit = [a for a in areas if levels[a] in shown]
            if not hit:
                continue
        if account not in accounts or account not in order:
            continue
        if k in policy.exempt or (policy.usernames is not None and k not in policy.usernames):
            continue
        role = practice.role_of(k, account)
        if policy.role is not None and role != policy.role:
            continue
        if policy.outside_home and account == homes.get(k, ""):
            continue
        if policy.master_excepted and k == practice.master:
            continue
        had = before.get((k, account))
        managed = practice.manages(k, account)
        for area in hit:
            level = levels[area]
            created = had is None or LEVEL_RANK[had[area]] < need
            blocking = policy.severity == "deny" and (managed or created)
            name = names.get(k, k)
            held = f"{name} holds {level} on {area} in {_where(practice, account)}"
            if role:
                held += f" (role {role})"
            if blocking or policy.severity == "warn":
                message = f"policy {_quoted(policy.name)}: {held}"
            else:
                message = (f"policy {_quoted(policy.name)}: {held}, outside what "
                           f"{practice.source} "
                           "manages; this plan leaves it as it is")
            found.append(((order[account], k),
                          Violation(policy.name, policy.severity, message, blocking)))
    found.sort(key=lambda item: item[0])  # the file's account order, then username
    yield from (v for _, v in found)


def _require(policy: Policy, practice: Practice, before: Access, after: Access,
             names: Mapping[str, str]) -> Iterator[Violation]:
    need = LEVEL_RANK[policy.at_least]

    shown = _at_least(need)
    accounts = practice.accounts if policy.accounts is None else policy.accounts

    def holders(access: Access) -> dict[tuple[str, str], int]:
        # counted, not listed: names are looked up only for the accounts that fall short
        out: dict[tuple[str, str], int] = {}
        for (k, account), levels in access.items():
            if account not in accounts or k in policy.exempt:
                continue
            for area in policy.areas:
                if levels[area] in shown:
                    out[(account, area)] = out.get((account, area), 0) + 1
        return out

    index: dict[str, list[tuple[str, Mapping[str, str]]]] = {}

    def who(account: str, area: str) -> list[str]:
        if not index:  # built once, at the first shortfall
            for (k, a), levels in after.items():
                if a in accounts and k not in policy.exempt:
                    index.setdefault(a, []).append((k, levels))
        return [k for k, levels in index.get(account, ()) if levels[area] in shown]

    now = holders(after)
    then = now if after is before else holders(before)
    for account in practice.accounts:
        if policy.accounts is not None and account not in policy.accounts:
            continue
        for area in policy.areas:
            count = now.get((account, area), 0)
            if count >= policy.count:
                continue
            held = who(account, area)
            had = then.get((account, area), 0)
            # the plan made it so, or made it worse; one it leaves as it is only warns
            blocking = policy.severity == "deny" and (had >= policy.count or len(held) < had)
            listed = ", ".join(sorted(names.get(k, k) for k in held)) or "nobody"
            verb = "username holds" if len(held) == 1 else "usernames hold"
            message = (f"policy {_quoted(policy.name)}: "
                           f'{len(held)} {verb} {policy.at_least} on '
                       f"{area} in {_where(practice, account)} ({listed}), fewer than "
                       f"{policy.count}")
            if not blocking and policy.severity == "deny":
                message += "; this plan leaves it as it is"
            yield Violation(policy.name, policy.severity, message, blocking)


def _idle(policy: Policy, practice: Practice, after: Access, names: Mapping[str, str],
          last_logins: Mapping[str, str], today: date) -> Iterator[Violation]:
    seen: set[str] = set()
    for (k, account) in sorted(after):
        if account not in practice.accounts or k in seen or k in policy.exempt:
            continue
        if policy.usernames is not None and k not in policy.usernames:
            continue
        seen.add(k)
        last = last_logins.get(k)
        if not last:
            continue  # made by this plan: not idle yet
        days = (today - datetime.fromisoformat(last.replace("Z", "+00:00")).date()).days
        if days > policy.days:
            name = names.get(k, k)
            message = (f"policy {_quoted(policy.name)}: "
                           f'{name} has not logged in for {days} days '
                       f"(more than {policy.days}); it can open {_where(practice, account)}")
            # idleness is the username's, not the plan's: it fails only a deny policy, and
            # only for a username the file declares
            declared = any(practice.manages(k, a) for a in practice.accounts)
            yield Violation(policy.name, policy.severity, message,
                            policy.severity == "deny" and declared)


def after_access(state: State, changes: Iterable[object],
                 accounts: Iterable[str]) -> tuple[dict[tuple[str, str], dict[str, str]],
                                                   dict[str, str], dict[str, str]]:
    """The practice's cells as a plan would leave them, with every username's spelling and
    home after it: removals first (a move deletes before it adds), then additions and
    changes. Only the given accounts' cells are kept."""
    from groupsync.changes import JoinChange, PrivilegesChange, UsernameChange

    declared = set(accounts)
    names = {k: u.username for k, u in state.users.items()}
    homes = {k: u.home for k, u in state.users.items()}
    todo = [c for c in changes if isinstance(c, UsernameChange | JoinChange | PrivilegesChange)]
    if not todo:
        # nothing about access changes (a no-op plan): the state is the state after, read
        # as it is (the checks skip accounts the practice doesn't declare)
        return state.access, names, homes
    cells: dict[tuple[str, str], dict[str, str]] = {}
    for acct in declared:
        for k in state.by_account.get(acct, ()):
            cells[(k, acct)] = state.access[(k, acct)]  # read-only: replaced, never edited
    for c in todo:
        if isinstance(c, UsernameChange) and c.action == "remove":
            k = ukey(c.username)
            for acct in declared:
                cells.pop((k, acct), None)
            homes.pop(k, None)
        elif isinstance(c, JoinChange) and c.action == "remove":
            cells.pop((ukey(c.username), c.account), None)
    for c in todo:
        if isinstance(c, UsernameChange) and c.action == "add" and c.after is not None:
            k = ukey(c.username)
            names[k], homes[k] = c.username, c.account
            if c.account in declared:
                cells[(k, c.account)] = dict(c.after["privileges"])
        elif (isinstance(c, JoinChange | PrivilegesChange) and c.action != "remove"
              and c.account in declared and c.after is not None):
            cells[(ukey(c.username), c.account)] = dict(c.after)
    return cells, names, homes
