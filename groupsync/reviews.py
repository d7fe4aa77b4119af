"""Access reviews that leave evidence (docs/contracts.md, "Reviews"): `access --attest`
records who reviewed which matrix (its SHA-256 digest) and why; `access --since-review`
shows what changed since; plans warn when the last review is older than
`review.every_days` and about break-glass applies nobody has reviewed yet."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime

from groupsync.access import Row
from groupsync.accounts.storage import AuditEntry
from groupsync.vocabulary import AREAS, LEVEL_RANK


def grants(items: list[Row]) -> dict[str, dict[str, dict[str, str]]]:
    """account -> username -> levels: the matrix as reviewed (no log-in times: a review
    attests who can open what, which a log-in doesn't change)."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for r in items:
        out.setdefault(r.account, {})[r.username] = dict(zip(AREAS, r.levels, strict=True))
    return out


def digest(items: list[Row]) -> str:
    """SHA-256 of the matrix shown, canonical JSON: the same grants give the same digest."""
    text = json.dumps(grants(items), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Difference:
    kind: str  # added | raised | lowered | changed (some areas up, some down) | removed
    username: str
    account: str
    areas: tuple[tuple[str, str, str], ...]  # (area, before, after) that differ


def since(items: list[Row], reviewed: dict[str, AuditEntry]) -> list[Difference]:
    """What differs between the reviewed grants of each account and its grants now. An
    account never reviewed counts every grant as added."""
    now = grants(items)
    out: list[Difference] = []
    for account in sorted(set(now) | set(reviewed)):
        entry = reviewed.get(account)
        then: dict[str, dict[str, str]] = dict(entry.detail.get("grants", {})) if entry else {}
        here = now.get(account, {})
        for name in sorted(set(then) | set(here), key=str.casefold):
            b, a = then.get(name), here.get(name)
            if b == a:
                continue
            if b is None or a is None:
                shown = a if a is not None else b or {}
                diff = tuple((x, "none" if b is None else shown[x],
                              "none" if a is None else shown[x]) for x in AREAS
                             if shown.get(x, "none") != "none")
                out.append(Difference("added" if b is None else "removed", name, account, diff))
                continue
            diff = tuple((x, b.get(x, "none"), a.get(x, "none")) for x in AREAS
                         if b.get(x) != a.get(x))
            up = any(LEVEL_RANK[y] > LEVEL_RANK[x] for _, x, y in diff)
            down = any(LEVEL_RANK[y] < LEVEL_RANK[x] for _, x, y in diff)
            kind = "changed" if up and down else "raised" if up else "lowered"
            out.append(Difference(kind, name, account, diff))
    return out


_SIGN = {"added": "+", "raised": "^", "lowered": "v", "changed": "~", "removed": "-"}


def since_text(differences: list[Difference], last: AuditEntry | None,
               glass: list[AuditEntry], labels: dict[str, str]) -> str:
    lines = []
    if last is None:
        lines.append("No access review is recorded for these accounts: every grant is new "
                     "to a review (record one with groupsync access --attest --note TEXT).")
    else:
        lines.append(f"Since the last access review, r{last.detail.get('revision')} "
                     f"({last.at}, by {_who(last)}; note: {last.detail.get('note', '')}):")
    lines.append("")
    for d in differences:
        where = labels.get(d.account, d.account)
        lines.append(f"  {_SIGN[d.kind]} {d.kind} {d.username} in {where}: "
                     + ", ".join(f"{area} {b} -> {a}" for area, b, a in d.areas))
    applies = break_glass_applies(glass)
    for e in applies:
        lines.append(f"  ! break-glass apply r{e.revision} ({e.at}) by {_who(e)}: "
                     f"{e.detail.get('note', '')}")
    if not differences and not applies:
        lines.append("  nothing has changed.")
    lines += ["", f"{len(differences)} grant change{'s' if len(differences) != 1 else ''}, "
                  f"{len(applies)} break-glass appl{'ies' if len(applies) != 1 else 'y'} "
                  "since the review."]
    return "\n".join(lines) + "\n"


def break_glass_applies(markers: list[AuditEntry]) -> list[AuditEntry]:
    """One per apply (its markers are one per account it touched), oldest first."""
    seen: dict[int, AuditEntry] = {}
    for e in markers:
        seen.setdefault(e.revision, e)
    return [seen[r] for r in sorted(seen)]


def _who(e: AuditEntry) -> str:
    person = e.detail.get("person")
    return f"{e.actor} ({person})" if person else e.actor


def plan_warnings(every_days: int | None, last: AuditEntry | None,
                  glass: list[AuditEntry], today: date) -> list[str]:
    out = []
    if every_days is not None:
        if last is None:
            out.append(f"no access review is recorded, and review.every_days is {every_days}; "
                       "record one with groupsync access --attest --note TEXT")
        else:
            day = datetime.fromisoformat(last.at.replace("Z", "+00:00")).date()
            age = (today - day).days
            if age > every_days:
                out.append(f"the last access review was {day} ({age} days ago), more than "
                           f"review.every_days {every_days}; review with groupsync access "
                           "--attest --note TEXT")
    for e in break_glass_applies(glass):
        out.append(f"break-glass apply r{e.revision} ({e.at}) by {_who(e)} has not been "
                   f"reviewed (note: {e.detail.get('note', '')}); review with groupsync "
                   "access --since-review, then --attest")
    return out
