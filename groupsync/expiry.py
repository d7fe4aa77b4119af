"""Access that ends on its date (docs/contracts.md, "Access that ends"): the practice as it
stands on a given day, and what ended before it.

`until: DAY` on a staff username, on one of its accounts entries, or on a per-account
privileges entry: the grant holds through that whole day (UTC) and is gone from the next.
`as_of` gives the planner the file as it applies today (expired usernames and joins left
out, expired per-account entries dropped so `all`, or none, applies) and what expired, so
the plan removes it whatever the prune switches say and says `(expired DAY)`; and the
warnings for what ends within a week.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date

from groupsync.accounts.model import ukey
from groupsync.config import Desired, DesiredUsername, PrivilegeSpec
from groupsync.vocabulary import EXPIRY_WARNING_DAYS


@dataclass(frozen=True)
class Expired:
    """What ended before today, each with its last day."""

    usernames: dict[str, date] = field(default_factory=dict)  # ukey -> day
    joins: dict[tuple[str, str], date] = field(default_factory=dict)  # (ukey, account)
    entries: dict[tuple[str, str], date] = field(default_factory=dict)  # privileges entries

    def of_username(self, username: str) -> date | None:
        return self.usernames.get(ukey(username))

    def of_join(self, username: str, account: str) -> date | None:
        return self.joins.get((ukey(username), account))

    def of_entry(self, username: str, account: str) -> date | None:
        return self.entries.get((ukey(username), account))


def as_of(desired: Desired, today: date) -> tuple[Desired, Expired, list[str]]:
    """The practice as it applies on `today`, what had expired by then, and the warnings
    for what ends within EXPIRY_WARNING_DAYS."""
    expired = Expired()
    soon: list[str] = []
    staff: dict[str, DesiredUsername] = {}
    label = {p.account_id: f"{p.account_id} ({p.key})" for p in desired.providers.values()}
    for k, u in desired.staff.items():
        if u.until is not None and u.until < today:
            expired.usernames[k] = u.until
            continue
        if u.until is not None:
            soon += _soon(f"username {u.username} is deleted after {u.until}", u.until, today)
        ended = {a: day for a, day in u.join_until.items() if day < today}
        for a, day in sorted(u.join_until.items()):
            if a in ended:
                expired.joins[(k, a)] = day
            elif u.until is None or day < u.until:
                soon += _soon(f"{u.username}'s access to account {label.get(a, a)} ends after "
                              f"{day}", day, today)
        staff[k] = dataclasses.replace(u, accounts=u.accounts - set(ended)) if ended else u
    privileges: dict[str, PrivilegeSpec] = {}
    for k, spec in desired.privileges.items():
        if k in expired.usernames:
            continue
        gone = {a for a, day in spec.account_until.items()
                if day < today or (k, a) in expired.joins}
        for a in sorted(gone):
            if (k, a) not in expired.joins:  # a join's end takes its entry with it, unsaid
                expired.entries[(k, a)] = spec.account_until[a]
        for a, day in sorted(spec.account_until.items()):
            if a not in gone:
                then = "its all entry applies" if spec.all else f"it holds {spec.base} there"
                soon += _soon(f"{spec.username}'s privileges entry for account "
                              f"{label.get(a, a)} ends after {day}; then {then}", day, today)
        if gone:
            spec = dataclasses.replace(
                spec, per_account={a: v for a, v in spec.per_account.items() if a not in gone},
                account_roles={a: v for a, v in spec.account_roles.items() if a not in gone},
                account_until={a: v for a, v in spec.account_until.items() if a not in gone})
        privileges[k] = spec
    if not (expired.usernames or expired.joins or expired.entries):
        return desired, expired, soon
    return dataclasses.replace(desired, staff=staff, privileges=privileges), expired, soon


def _soon(what: str, day: date, today: date) -> list[str]:
    left = (day - today).days
    if left > EXPIRY_WARNING_DAYS:
        return []
    when = "today is its last day" if left == 0 else \
        f"{left} day{'s' if left > 1 else ''} left"
    return [f"{what} ({when})"]
