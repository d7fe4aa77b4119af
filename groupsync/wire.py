"""State and audit entries as JSON for the HTTP service and its client: everything a plan
reads, never a password hash or a log-in counter."""

from __future__ import annotations

from typing import Any

from groupsync.accounts.model import Account, Notice, State, User, ukey
from groupsync.accounts.storage import AuditEntry


def state_to_wire(state: State) -> dict[str, Any]:
    return {
        "lineage": state.lineage, "revision": state.revision,
        "versions": state.versions,
        "accounts": [
            {"account_id": a.account_id, "provider_name": a.provider_name,
             "signup_username": a.signup_username, "practice_name": a.practice_name,
             "tin": a.tin,
             # null, not false, where the caller may not see the Practice Set-up
             "bills_electronically": a.bills_electronically if a.setup_visible else None,
             "created_at": a.created_at, "trial_ends": a.trial_ends}
            for a in state.accounts.values()
        ],
        "usernames": [{"username": u.username, "home": u.home, "created_at": u.created_at,
                       "last_login": u.last_login}
                      for u in state.users.values()],
        "access": [{"username": state.users[k].username, "account": acct, "privileges": p}
                   for (k, acct), p in state.access.items()],
        "codes": [{"account": acct, "file": file, "records": list(records.values())}
                  for acct, files in state.codes.items() for file, records in files.items()],
        "notices": [{"id": n.id, "sent_at": n.sent_at, "practice_name": n.practice_name,
                     "tin": n.tin, "providers": n.providers} for n in state.notices],
    }


def state_from_wire(data: dict[str, Any]) -> State:
    from groupsync.vocabulary import CODE_FILES

    state = State(lineage=data["lineage"], revision=int(data["revision"]),
                  versions={str(k): int(v) for k, v in data.get("versions", {}).items()})
    for a in data["accounts"]:
        hidden = a["bills_electronically"] is None
        state.accounts[a["account_id"]] = Account(
            **{**a, "bills_electronically": bool(a["bills_electronically"])},
            setup_visible=not hidden)
    for u in data["usernames"]:
        # no hash crosses the wire: log-ins are checked by the service
        state.users[ukey(u["username"])] = User(username=u["username"], home=u["home"],
                                                password_hash="", created_at=u["created_at"],
                                                last_login=str(u.get("last_login") or ""))
    for row in data["access"]:
        state.set_access(row["username"], row["account"], dict(row["privileges"]))
    for group in data["codes"]:
        key_field = CODE_FILES[group["file"]][0]
        target = state.codes.setdefault(group["account"], {}).setdefault(group["file"], {})
        for rec in group["records"]:
            target[rec[key_field]] = dict(rec)
    state.notices = [Notice(**n) for n in data["notices"]]
    return state


def merge_states(states: list[State]) -> State:
    """The union of what several usernames can see (reads for a plan before the master
    exists go through each provider login)."""
    merged = states[0]
    for other in states[1:]:
        merged.accounts.update(other.accounts)
        for k, user in other.users.items():
            # a username seen by one login with its home and by another without (a home that
            # login can't open is not named to it) keeps the home
            if k not in merged.users or not merged.users[k].home:
                merged.users[k] = user
        for (k, acct), privs in other.access.items():
            merged.set_access(other.users[k].username, acct, privs)
        for acct, files in other.codes.items():
            merged.codes.setdefault(acct, {}).update(files)
        for key, version in other.versions.items():
            # two reads a moment apart: the older version, so a write between them can
            # only make the plan stale, never wrongly fresh
            merged.versions[key] = min(version, merged.versions.get(key, version))
        known = {n.id for n in merged.notices}
        merged.notices += [n for n in other.notices if n.id not in known]
    return merged


def audit_to_wire(entries: list[AuditEntry]) -> list[dict[str, Any]]:
    return [{"id": e.id, "revision": e.revision, "at": e.at, "actor": e.actor,
             "action": e.action, "type": e.type, "account": e.account, "username": e.username,
             "detail": e.detail} for e in entries]


def audit_from_wire(rows: list[dict[str, Any]]) -> list[AuditEntry]:
    return [AuditEntry(**row) for row in rows]
