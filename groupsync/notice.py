"""The group-rate notice: the written list the vendor asks a group practice for.

It names the practice and its TIN, and every provider with whether they bill electronically
and their Account ID, marking providers added or cancelled since the last notice sent.
`trial_warnings` feeds `plan`: a provider whose free trial ends within TRIAL_WARNING_DAYS and
who is in no sent notice would lose the group rate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from groupsync.accounts.model import Notice, State
from groupsync.accounts.service import TRIAL_DAYS
from groupsync.config import Desired

TRIAL_WARNING_DAYS = 7


@dataclass(frozen=True)
class NoticeLine:
    account_id: str
    name: str
    bills_electronically: bool
    status: str  # "" | "added" | "cancelled" | "changed"
    was: str = ""  # for "changed": what the last notice said


@dataclass(frozen=True)
class Draft:
    practice_name: str
    tin: str
    lines: list[NoticeLine]
    last_sent: Notice | None
    # what the vendor must re-key since the last notice sent: field -> (was, now)
    changed: dict[str, tuple[str, str]]

    def providers(self) -> list[dict[str, Any]]:
        """What a sent notice records: the providers it lists (cancelled ones excluded)."""
        return [{"account_id": ln.account_id, "name": ln.name,
                 "bills_electronically": ln.bills_electronically}
                for ln in self.lines if ln.status != "cancelled"]


def trial_end(state: State, account_id: str) -> date:
    account = state.accounts[account_id]
    if account.trial_ends:
        return date.fromisoformat(account.trial_ends[:10])
    return date.fromisoformat(account.created_at[:10]) + timedelta(days=TRIAL_DAYS)


def draft(desired: Desired, state: State) -> Draft:
    last = state.notices[-1] if state.notices else None
    before = {str(p["account_id"]): p for p in last.providers} if last else {}
    lines = []
    for p in desired.providers.values():
        status, was = "", ""
        if last is not None and p.account_id not in before:
            status = "added"
        elif last is not None:
            sent = before[p.account_id]
            diffs = []
            if str(sent.get("name")) != p.name:
                diffs.append(f"name {sent.get('name')}")
            if bool(sent.get("bills_electronically")) != p.bills_electronically:
                diffs.append("bills electronically: "
                             f"{'yes' if sent.get('bills_electronically') else 'no'}")
            if diffs:
                status, was = "changed", "; ".join(diffs)
        lines.append(NoticeLine(p.account_id, p.name, p.bills_electronically, status, was))
    declared = {p.account_id for p in desired.providers.values()}
    lines += [
        NoticeLine(str(acct), str(p["name"]), bool(p["bills_electronically"]), "cancelled")
        for acct, p in before.items() if acct not in declared
    ]
    changed = {}
    if last is not None:
        if last.practice_name != desired.practice_name:
            changed["practice_name"] = (last.practice_name, desired.practice_name)
        if last.tin != desired.tin:
            changed["tin"] = (last.tin, desired.tin)
    return Draft(desired.practice_name, desired.tin, lines, last, changed)


def notice_text(d: Draft, today: date) -> str:
    out = [
        "GROUP PRACTICE NOTICE",
        "",
        f"Date: {today.isoformat()}",
        f"Practice: {d.practice_name}" + _was(d, "practice_name"),
        f"TIN: {d.tin}" + _was(d, "tin"),
        "",
        "The following providers bill under this TIN as one group practice:",
        "",
    ]
    width = max((len(ln.name) for ln in d.lines), default=10)
    out.append(f"  {'Provider':<{width}}  {'Account ID':<10}  {'Bills electronically':<20}  Status")
    for ln in d.lines:
        status = {"added": "ADDED since the last notice",
                  "cancelled": "CANCELLED since the last notice",
                  "changed": f"CHANGED since the last notice (was: {ln.was})"}.get(
                      ln.status, "")
        out.append(f"  {ln.name:<{width}}  {ln.account_id:<10}  "
                   f"{'yes' if ln.bills_electronically else 'no':<20}  {status}".rstrip())
    out.append("")
    if d.last_sent is None:
        out.append("This is the practice's first notice.")
    else:
        out.append(f"The last notice was sent on {d.last_sent.sent_at[:10]}.")
    return "\n".join(out) + "\n"


def _was(d: Draft, field: str) -> str:
    if field not in d.changed:
        return ""
    return f"   (CHANGED since the last notice; was: {d.changed[field][0]})"


def notice_json(d: Draft, today: date) -> str:
    return json.dumps({
        "format_version": "1", "date": today.isoformat(), "practice_name": d.practice_name,
        "tin": d.tin,
        "providers": [{"account_id": ln.account_id, "name": ln.name,
                       "bills_electronically": ln.bills_electronically, "status": ln.status,
                       **({"was": ln.was} if ln.status == "changed" else {})}
                      for ln in d.lines],
        "changed": {k: {"before": was, "after": now} for k, (was, now) in d.changed.items()},
        "last_sent": d.last_sent.sent_at if d.last_sent else None,
    }, indent=2) + "\n"


def trial_warnings(desired: Desired, state: State, today: date) -> list[str]:
    noticed = {p["account_id"] for n in state.notices for p in n.providers}
    out = []
    for p in desired.providers.values():
        if p.account_id not in state.accounts or p.account_id in noticed:
            continue
        ends = trial_end(state, p.account_id)
        days = (ends - today).days
        if days <= TRIAL_WARNING_DAYS:
            when = (f"ends on {ends} (in {days} day{'s' if days != 1 else ''})" if days >= 0
                    else f"ended on {ends}")
            out.append(
                f"provider {p.key}'s free trial {when} and no sent notice includes account "
                f"{p.account_id}; print it with 'groupsync notice', send it, then record it "
                "with 'groupsync notice --mark-sent'"
            )
    return out
