"""Plan / State / audit trail -> text or JSON. Pure functions: data in, string out.

Text plans read like Terraform's: changes grouped by account, `+` add, `~` change, `-` remove,
privileges shown area by area, overwrites showing only the fields that differ, then the
summary line. Colour is ANSI, and only when the caller says the output is a terminal.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from groupsync.accounts.model import State, ukey
from groupsync.accounts.storage import AuditEntry
from groupsync.changes import (
    Change,
    CodeChange,
    JoinChange,
    PasswordChange,
    PracticeSetupChange,
    PrivilegesChange,
    UsernameChange,
)
from groupsync.plan import FORMAT_VERSION, Move, Plan
from groupsync.policies import is_risky
from groupsync.vocabulary import AREAS, CODE_FILE_NAMES, CODE_FILES

_SYMBOL = {"add": "+", "change": "~", "remove": "-"}
# JSON escapes C0 itself; C1 and bidi controls it leaves raw, so they are escaped here
_JSON_ESCAPES = {c: f"\\u{c:04x}" for c in [*range(0x7f, 0xa0), 0x2028, 0x2029,
                                             *range(0x202a, 0x202f), *range(0x2066, 0x206a)]}


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False).translate(_JSON_ESCAPES) + "\n"
_COLOR = {"add": "32", "change": "33", "remove": "31", "warn": "33;1", "bold": "1"}


class _Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, kind: str) -> str:
        if not self.color:
            return text
        return f"\x1b[{_COLOR[kind]}m{text}\x1b[0m"


def _q(value: Any) -> str:
    """A value as the YAML author would recognise it."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)


def summary_line(plan: Plan) -> str:
    if not plan.changes:
        return "No changes. The store matches the file."
    s = plan.summary()
    return f"Plan: {s['add']} to add, {s['change']} to change, {s['remove']} to remove."


def privileges_text(privs: dict[str, str]) -> str:
    """`full on scheduling; view on clients; none elsewhere` — short and exact."""
    levels = [privs[a] for a in AREAS]
    if len(set(levels)) == 1:
        return f"{levels[0]} on every area"
    parts = []
    for level in ("full", "view"):
        areas = [a for a in AREAS if privs[a] == level]
        if areas:
            parts.append(f"{level} on {', '.join(areas)}")
    if "none" in levels:
        parts.append("none elsewhere")
    return "; ".join(parts)


def _record_text(record: dict[str, str]) -> str:
    return ", ".join(f"{k} {_q(v)}" for k, v in record.items() if v != "")


def _changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Fields that differ, in the record's own order. Records are flat, so a key-by-key
    comparison says exactly what changed."""
    return [k for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]


# Each change kind's text lines, registered once per kind (`@renders(Kind)`): the text and
# Markdown plans dispatch on the kind, never on a chain of type tests.
_LINES: dict[type, Callable[[Any, str], list[str]]] = {}
RenderFn = TypeVar("RenderFn", bound=Callable[..., list[str]])


def renders(kind: type) -> Callable[[RenderFn], RenderFn]:
    def register(fn: RenderFn) -> RenderFn:
        _LINES[kind] = fn
        return fn

    return register


def has_renderer(kind: type) -> bool:
    return kind in _LINES


def _change_lines(c: Change, style: _Style, moves: dict[str, Move] | None = None) -> list[str]:
    sym = style(_SYMBOL[c.action], c.action)
    moved = (moves or {}).get(ukey(c.username or ""))
    if isinstance(c, UsernameChange) and moved is not None and c.after is not None:
        # a move is one concept made of two changes (a remove in the old home, this add in the
        # new), shown once, `-/+` (docs/contracts.md, "The group's lifecycle")
        sym = style("-", "remove") + style("/", "change") + style("+", "add")
        privs = (f"{c.role}: " if c.role else "") + privileges_text(c.after["privileges"])
        lost = f"; loses its access to {', '.join(moved.loses)}" if moved.loses else ""
        return [f"{sym} username {c.username} (home {moved.old} -> {moved.new}; {privs}{lost})"]
    return _LINES[type(c)](c, sym)


@renders(PasswordChange)
def _password_lines(c: PasswordChange, sym: str) -> list[str]:
    return [f"  {sym} password {c.username} (set from its variable; its tokens end)"]


@renders(PracticeSetupChange)
def _setup_lines(c: PracticeSetupChange, sym: str) -> list[str]:
    before, after = dict(c.before), dict(c.after)
    lines = [f"  {sym} Practice Set-up"]
    for k in _changed_fields(before, after):
        lines.append(f"      {k}: {_q(before.get(k))} -> {_q(after.get(k))}")
    return lines


@renders(UsernameChange)
def _username_lines(c: UsernameChange, sym: str) -> list[str]:
    if c.after is not None:
        privs = privileges_text(c.after["privileges"])
        role = f"{c.role}: " if c.role else ""
        return [f"  {sym} username {c.username} (home; {role}{privs})"]
    accounts = ", ".join(sorted(c.before["access"] if c.before else ())) or "none"
    return [f"  {sym} username {c.username} ({_expired(c)}deleted with its access to: "
            f"{accounts})"]


def _expired(c: UsernameChange | JoinChange | PrivilegesChange, alone: bool = False) -> str:
    """`expired DAY` where the change ends a grant on its date (docs/contracts.md, "Access
    that ends")."""
    if not c.expired:
        return ""
    return f" (expired {c.expired})" if alone else f"expired {c.expired}; "


@renders(JoinChange)
def _join_lines(c: JoinChange, sym: str) -> list[str]:
    if c.after is not None:
        role = f"{c.role}: " if c.role else ""
        return [f"  {sym} join {c.username} ({role}{privileges_text(c.after)})"]
    return [f"  {sym} join {c.username} ({_expired(c)}had {privileges_text(c.before or {})})"]


@renders(PrivilegesChange)
def _privileges_lines(c: PrivilegesChange, sym: str) -> list[str]:
    lines = [f"  {sym} privileges {c.username}" + (f" ({c.role})" if c.role else "")
             + _expired(c, alone=True)]
    for area in AREAS:
        if c.before[area] != c.after[area]:
            lines.append(f"      {area}: {c.before[area]} -> {c.after[area]}")
    return lines


@renders(CodeChange)
def _code_lines(c: CodeChange, sym: str) -> list[str]:
    label = f"{c.file} {c.key}"
    if c.before is None and c.after is not None:
        rest = {k: v for k, v in c.after.items() if k != CODE_FILES[c.file][0]}
        return [f"  {sym} {label} ({_record_text(rest)})"]
    if c.after is None or c.before is None:
        return [f"  {sym} {label}"]
    lines = [f"  {sym} {label}"]
    for k in _changed_fields(c.before, c.after):
        lines.append(f"      {k}: {_q(c.before.get(k))} -> {_q(c.after.get(k))}")
    return lines


MAX_GROUP_ACCOUNTS = 5  # accounts a grouped change names before "and N more"


def _grouped(plan: Plan, lines: dict[int, tuple[str, ...]]
             ) -> tuple[list[Change], list[tuple[list[str], list[Change]]]]:
    """The changes shown in their account, and those shown once for several accounts: a
    change whose lines are the same in two or more accounts (a fee change, a payer, a role's
    new level), grouped by the set of accounts they concern, in the plan's order."""
    where: dict[tuple[str, ...], list[str]] = {}
    for c in plan.changes:
        if id(c) in lines:
            where.setdefault(lines[id(c)], []).append(c.account)
    singles: list[Change] = []
    groups: dict[tuple[str, ...], list[Change]] = {}
    seen: set[tuple[str, ...]] = set()
    for c in plan.changes:
        if id(c) not in lines:
            continue
        accounts = where[lines[id(c)]]
        if len(set(accounts)) < 2:
            singles.append(c)
        elif lines[id(c)] not in seen:
            seen.add(lines[id(c)])
            groups.setdefault(tuple(accounts), []).append(c)
    return singles, [(list(accounts), changes) for accounts, changes in groups.items()]


def _accounts_text(plan: Plan, accounts: list[str]) -> str:
    named = [f"{a} ({plan.accounts[a]})" if a in plan.accounts else a
             for a in accounts[:MAX_GROUP_ACCOUNTS]]
    more = len(accounts) - MAX_GROUP_ACCOUNTS
    return ", ".join(named) + (f" and {more} more" if more > 0 else "")


def plan_text(plan: Plan, color: bool = False, max_removals: int | None = None,
              expand: bool = False) -> str:
    """The plan for people: each account's changes under it; a change that is the same in
    several accounts once, under `in N accounts: ...` (`expand`: in every account)."""
    style = _Style(color)
    out: list[str] = []
    moves = plan.moves()
    if plan.changes:
        out.append("groupsync will make these changes:")
        lines = {id(c): tuple(_change_lines(c, style, moves)) + _drift_lines(plan, i)
                 for i, c in enumerate(plan.changes)
                 if not (isinstance(c, UsernameChange) and c.before is not None
                         and ukey(c.username) in moves)}  # a move: shown once, as `-/+`
        singles, groups = ([c for c in plan.changes if id(c) in lines], []) if expand \
            else _grouped(plan, lines)
        current = None
        for c in singles:
            if c.account != current:
                current = c.account
                key = plan.accounts.get(c.account)
                name = f"account {c.account}" + (f" ({key})" if key else "")
                out.append("")
                out.append(style(name, "bold"))
            out.extend(lines[id(c)])
        for accounts, changes in groups:
            out.append("")
            out.append(style(f"in {len(accounts)} accounts: {_accounts_text(plan, accounts)}",
                             "bold"))
            for c in changes:
                out.extend(lines[id(c)])
        out.append("")
    warnings = plan.warnings + removal_warning(
        plan, max_removals, "apply will refuse it unless --max-removals is raised")
    for w in warnings:
        out.append(style("Warning: ", "warn") + w)
    if warnings:
        out.append("")
    out.append(style(summary_line(plan), "bold"))
    return "\n".join(out) + "\n"


def drift_text(d: dict[str, Any]) -> str:
    """`(changed by jsmith at r14, 2026-11-30T14:02Z)`: who made the difference a change
    undoes, in which revision, when (to the minute, UTC)."""
    at = str(d.get("at", ""))
    short = at[:16] + "Z" if len(at) >= 16 else at
    return f"(changed by {d.get('actor')} at r{d.get('revision')}, {short})"


def _drift_lines(plan: Plan, i: int) -> tuple[str, ...]:
    """Under a change that undoes a difference made outside the file: who made it, and when
    (drift.py)."""
    d = plan.drift.get(i)
    return (f"      {drift_text(d)}",) if d else ()


def plan_json(plan: Plan, max_removals: int | None = None) -> str:
    """The `plan --json` view: `warnings` holds every warning the text plan prints."""
    data = plan.to_json()
    data["warnings"] += removal_warning(
        plan, max_removals, "apply will refuse it unless --max-removals is raised")
    return _json(data)


# What can start markup inside a line: emphasis, code, links and images, a new table cell,
# strikethrough, and the autolinks GitHub makes of URLs, `www.` and e-mail addresses.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~]|:(?=//)|(?<=www)\.)")
# GitHub finds @mentions and #123 references after rendering, so escapes don't stop them: a
# zero-width space after the sign does (as Renovate and Dependabot do), and shows nothing.
_REFERENCE = re.compile(r"([@#])(?=[\w-])")
MAX_MARKDOWN = 60_000  # GitHub refuses comments over 65,536 characters
MAX_PRIVILEGE_ROWS = 300


def _md(text: str) -> str:
    """A value shown literally in GitHub/GitLab Markdown, in a paragraph or a table cell:
    HTML can't open a tag, Markdown punctuation can't make emphasis, a link or a new cell,
    and a newline can't end the row."""
    text = " ".join(text.split("\n"))
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _REFERENCE.sub("\\1&#8203;", text)


def _html(text: str) -> str:
    """Text inside raw HTML (a <summary>): Markdown escapes would show there, so only HTML's,
    and the same guard against mentions."""
    return _REFERENCE.sub("\\1&#8203;", html.escape(" ".join(text.split("\n"))))


def _n(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def _md_detail(c: Change) -> str:
    """One change as a short line for a Markdown table cell."""
    lines = _change_lines(c, _Style(False))
    head = lines[0].strip()[2:]  # drop the symbol: the table has its own column
    rest = [line.strip() for line in lines[1:]]
    return _md(head + (": " + "; ".join(rest) if rest else "")).replace(" -&gt; ", " → ")


def _access_sides(c: Change) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    """The privileges a change grants or takes, before and after (None: no access row)."""
    if isinstance(c, PrivilegesChange | JoinChange):
        return c.before, c.after
    if isinstance(c, UsernameChange) and c.after is not None:
        return None, c.after["privileges"]
    return None, None


def _rank(c: Change) -> tuple[int, int]:
    """Where a kind's row sits in the summary table: plan order, code files in file order."""
    return c.ORDER, CODE_FILE_NAMES.index(c.file) if isinstance(c, CodeChange) else 0


def removal_warning(plan: Plan, max_removals: int | None, refuse: str) -> list[str]:
    if max_removals is None or plan.removals <= max_removals:
        return []
    return [f"this plan removes {_n(plan.removals, 'object')}, more than --max-removals "
            f"{max_removals}; {refuse}"]


def plan_markdown(plan: Plan, max_removals: int | None = None, expand: bool = False) -> str:
    """For a pull-request comment: what kinds of change, warnings, the privilege changes
    (risky grants flagged), then each account in a collapsible section. Every value is shown
    as written (escaped), so the comment shows what will be applied."""
    s = plan.summary()
    out = [f"### groupsync plan: {s['add']} to add, {s['change']} to change, "
           f"{s['remove']} to remove" if plan.changes else "### groupsync plan: no changes"]
    out.append("")
    out.append(f"Store `{plan.lineage}` at revision {plan.revision}.")
    if plan.changes:
        counts: dict[str, dict[str, int]] = {}
        rank: dict[str, tuple[int, int]] = {}
        for c in plan.changes:
            counts.setdefault(c.label(), {"add": 0, "change": 0, "remove": 0})[c.action] += 1
            rank[c.label()] = _rank(c)
        out += ["", "| kind | to add | to change | to remove |", "|---|---:|---:|---:|"]
        out += [f"| {kind} | {counts[kind]['add']} | {counts[kind]['change']} | "
                f"{counts[kind]['remove']} |" for kind in sorted(counts, key=rank.__getitem__)]
    warnings = plan.warnings + removal_warning(plan, max_removals, "apply will refuse it")
    if warnings:
        out += ["", "**Warnings**", ""] + [f"- :warning: {_md(w)}" for w in warnings]
    rows: list[str] = []
    risky = 0
    for c in plan.changes:
        before, after = _access_sides(c)
        if before is None and after is None:
            continue
        name = c.username or ""
        home = plan.homes.get(name, c.account)
        is_master = ukey(name) == ukey(plan.master)
        role = getattr(c, "role", None)
        shown = f"{name} ({role})" if role else name
        if getattr(c, "expired", None):
            shown += f" (expired {c.expired})"  # type: ignore[union-attr]
        for area in AREAS:
            # a new or removed access row shows only the areas it grants
            b = before[area] if before else "none"
            a = after[area] if after else "none"
            if b != a:
                flag = ""
                if is_risky(area, a, c.account, home, is_master, c.account in plan.accounts):
                    flag = f":warning: full {area} outside its home"
                    risky += 1
                b, a = (b if before else "—"), (a if after else "—")
                rows.append(f"| {_md(c.account)} | {_md(shown)} | {area} | {b} | {a} | {flag} |")
    if len(rows) > MAX_PRIVILEGE_ROWS:
        rows = [*rows[:MAX_PRIVILEGE_ROWS],
                f"| … | {_n(len(rows) - MAX_PRIVILEGE_ROWS, 'more row')}: see `groupsync "
                "plan` | | | | |"]
    if rows:
        title = f"Privilege changes ({_n(risky, 'risky grant')})" if risky else \
            "Privilege changes"
        header = ["| account | username | area | before | after | flag |",
                  "|---|---|---|---|---|---|"]
        if len(rows) > 20:
            out += ["", f"<details><summary><b>{title}</b>: {_n(len(rows), 'row')}</summary>",
                    "", *header, *rows, "", "</details>"]
        else:
            out += ["", f"**{title}**", "", *header, *rows]
    drifted = {id(c): f" {_md(drift_text(plan.drift[i]))}" for i, c in enumerate(plan.changes)
               if i in plan.drift}
    details: dict[int, tuple[str, ...]] = {id(c): (_md_detail(c) + drifted.get(id(c), ""),)
                                          for c in plan.changes}
    singles, groups = (plan.changes, []) if expand else _grouped(plan, details)
    sections: list[tuple[str, list[Change], int]] = []  # title, changes, accounts each
    by_account: dict[str, list[Change]] = {}
    for c in singles:
        by_account.setdefault(c.account, []).append(c)
    for account, changes in by_account.items():
        key = plan.accounts.get(account)
        sections.append((f"account {account}" + (f" ({key})" if key else ""), changes, 1))
    for accounts, changes in groups:
        sections.append((f"in {len(accounts)} accounts: {_accounts_text(plan, accounts)}",
                         changes, len(accounts)))
    size = sum(len(line) + 1 for line in out)
    left_out = 0
    for heading, changes, each in sections:
        n = {"add": 0, "change": 0, "remove": 0}
        for c in changes:
            n[c.action] += each
        title = _html(heading)
        section = ["", f"<details><summary>{title}: {n['add']} to add, {n['change']} to "
                       f"change, {n['remove']} to remove</summary>", "",
                   "| | change |", "|---|---|"]
        section += [f"| `{_SYMBOL[c.action]}` | {details[id(c)][0]} |" for c in changes]
        section += ["", "</details>"]
        length = sum(len(line) + 1 for line in section)
        if left_out or size + length > MAX_MARKDOWN:
            left_out += 1  # a comment GitHub refuses would fail the whole CI job
            continue
        out += section
        size += length
    if left_out:
        out += ["", f"_{_n(left_out, 'more section')} left out to fit a pull-request comment; "
                    "`groupsync plan` shows the whole plan._"]
    out += ["", f"_{summary_line(plan)}_"]
    return "\n".join(out) + "\n"


# -- show ---------------------------------------------------------------------------------


def state_json_data(state: State) -> dict[str, Any]:
    accounts: dict[str, Any] = {}
    for acct in sorted(state.accounts):
        a = state.accounts[acct]
        access = {
            state.users[u].username: dict(state.access[(u, acct)])
            for u in sorted(state.by_account.get(acct, ()))
        }
        codes = {
            file: dict(sorted(state.file(acct, file).items())) for file in CODE_FILES
        }
        accounts[acct] = {
            "provider_name": a.provider_name, "practice_setup": a.practice_setup(),
            "access": access, "codes": codes,
        }
    return {
        "format_version": FORMAT_VERSION, "lineage": state.lineage, "revision": state.revision,
        # each username's last successful log-in (ISO, UTC; null if never), for reviews
        "usernames": {u.username: {"home": u.home, "last_login": u.last_login or None}
                      for _k, u in sorted(state.users.items())},
        "accounts": accounts,
    }


def state_json(state: State) -> str:
    return _json(state_json_data(state))


SHOWN_FEES = 20  # billing codes whose fee `show` prints per account


def state_text(state: State, color: bool = False) -> str:
    style = _Style(color)
    out = [f"store lineage {state.lineage}, revision {state.revision}, "
           f"{len(state.accounts)} accounts, {len(state.users)} usernames"]
    for acct in sorted(state.accounts):
        a = state.accounts[acct]
        out.append("")
        out.append(style(f"account {acct}: {a.provider_name}", "bold"))
        setup = a.practice_setup()
        out.append(f"  practice: {_q(setup['practice_name'])}, TIN {_q(setup['tin'])}, "
                   f"bills electronically: {_q(setup['bills_electronically'])}")
        for u in sorted(state.by_account.get(acct, ())):
            user = state.users[u]
            home = " (home)" if user.home == acct else ""
            out.append(f"  {user.username}{home}: {privileges_text(state.access[(u, acct)])}")
        counts = ", ".join(f"{len(state.file(acct, f))} {f}" for f in CODE_FILES)
        out.append(f"  codes: {counts}")
        fees = state.file(acct, "billing_codes")
        if fees:  # what a fee change is checked against; `show --json` has every record
            shown = [f"{code} {fees[code]['fee']}" for code in sorted(fees)[:SHOWN_FEES]]
            more = len(fees) - len(shown)
            out.append(f"  fees: {', '.join(shown)}" + (f", and {more} more" if more else ""))
    return "\n".join(out) + "\n"


# -- log ----------------------------------------------------------------------------------


def _audit_fields(e: AuditEntry) -> dict[str, Any]:
    return {"id": e.id, "revision": e.revision, "at": e.at, "actor": e.actor,
            "action": e.action, "type": e.type, "account": e.account, "username": e.username,
            **e.detail}


def audit_json(entries: list[AuditEntry]) -> str:
    return _json({"format_version": FORMAT_VERSION,
                  "entries": [_audit_fields(e) for e in entries]})


def audit_jsonl(entries: list[AuditEntry]) -> str:
    """One entry a line, each with every field `log --json` gives it (for a SIEM)."""
    return "".join(json.dumps(_audit_fields(e), sort_keys=True, ensure_ascii=True) + "\n"
                   for e in entries)


def audit_text(entries: list[AuditEntry], filtered: bool = False) -> str:
    """One line per entry, then what changed (before -> after, as a plan shows it) and the
    apply's note (who did it and why) where it is news."""
    if not entries:
        return "No audit entry matches.\n" if filtered else "The audit trail is empty.\n"
    lines = []
    shown: tuple[int, str] | None = None  # the (revision, note) the last note line gave
    for e in entries:
        what = e.type
        if e.type == "code":
            what = f"{e.detail.get('file')} {e.detail.get('key')}"
        elif e.username:
            what = f"{e.type} {e.username}"
        where = f" in {e.account}" if e.account else ""
        # who acted: the username, the person the practice file named for it, and a
        # break-glass apply as a sealed master (docs/contracts.md, "People and who acts")
        who = e.actor + (f" ({e.detail['person']})" if e.detail.get("person") else "")
        if e.detail.get("break_glass"):
            who += " [break glass]"
        lines.append(f"r{e.revision}  {e.at}  {who}: {_SYMBOL.get(e.action, '*')} "
                     f"{e.action} {what}{where}")
        lines += [f"      {line}" for line in _audit_detail(e)]
        note = e.detail.get("note")
        # under every entry where it is news: the first of an apply's run of entries, and
        # again after another apply's entries (or a filter) came between
        if note and shown != (e.revision, note):
            lines.append(f"      note: {note}")
        shown = (e.revision, note) if note else None
    return "\n".join(lines) + "\n"


AuditFn = Callable[[Any, Any, dict[str, Any]], list[str]]
# What `log` prints under an entry, by the entry's type tag (a change kind's, or the account
# system's own: login, signup, token): stored entries are data, so the tag is the key, looked
# up once, never an if-chain.
_AUDIT_LINES: dict[str, AuditFn] = {}


def audits(*types: str) -> Callable[[AuditFn], AuditFn]:
    def register(fn: AuditFn) -> AuditFn:
        for t in types:
            _AUDIT_LINES[t] = fn
        return fn

    return register


def _audit_detail(e: AuditEntry) -> list[str]:
    before, after = e.detail.get("before"), e.detail.get("after")
    lines = _AUDIT_LINES.get(e.type, _fields_audit)(before, after, e.detail)
    return lines


def _fields_audit(before: Any, after: Any, _: dict[str, Any]) -> list[str]:
    # any entry with two records: the fields that differ (Practice Set-up, a code record)
    if isinstance(before, dict) and isinstance(after, dict):
        return [f"{k}: {_q(before.get(k))} -> {_q(after.get(k))}"
                for k in _changed_fields(before, after)]
    return []


@audits("privileges", "join")
def _access_audit(before: Any, after: Any, detail: dict[str, Any]) -> list[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        return [f"{a}: {before.get(a)} -> {after.get(a)}" for a in AREAS
                if before.get(a) != after.get(a)]
    if isinstance(after, dict) and set(after) == set(AREAS):
        return [privileges_text(after)]
    return []


@audits("username")
def _username_audit(before: Any, after: Any, detail: dict[str, Any]) -> list[str]:
    if isinstance(after, dict) and isinstance(after.get("privileges"), dict):
        return [privileges_text(after["privileges"])]
    return _fields_audit(before, after, detail)


@audits("code")
def _code_audit(before: Any, after: Any, detail: dict[str, Any]) -> list[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        return _fields_audit(before, after, detail)
    return [_record_text(after)] if isinstance(after, dict) else []


@audits("login")
def _login_audit(before: Any, after: Any, detail: dict[str, Any]) -> list[str]:
    return [f"from {detail['address']}"] if detail.get("address") else []


# -- fleets (docs/contracts.md, "Running many practices") ---------------------------------


def fleet_totals(plans: list[Plan]) -> tuple[int, dict[str, int]]:
    """How many of a fleet's plans have changes, and their counts summed (one reading for the
    text summary line and the Markdown comment)."""
    total = {"add": 0, "change": 0, "remove": 0}
    for p in plans:
        for key, n in p.summary().items():
            total[key] += n
    return sum(1 for p in plans if p.changes), total


def fleet_json(plans: dict[str, Plan], failed: dict[str, str],
               max_removals: int | None = None) -> str:
    """`plan --json` on a workspace: each practice's `plan --json` under its name, and each
    failed practice's message."""
    return _json({"format_version": "1",
                  "practices": {name: json.loads(plan_json(p, max_removals))
                                for name, p in plans.items()},
                  "failed": failed})


def fleet_markdown(plans: dict[str, Plan], failed: dict[str, str],
                   max_removals: int | None = None) -> str:
    """One pull-request comment for a fleet: a table of practices first (changes or the
    failure), then each practice's plan in a collapsible section, as many as fit under
    GitHub's limit; the table always does."""
    names = [*plans, *(n for n in failed if n not in plans)]
    changed, total = fleet_totals(list(plans.values()))
    out = [f"### groupsync fleet plan: {_n(len(names), 'practice')}, {changed} with changes"
           + (f", {len(failed)} failed" if failed else ""), "",
           "| practice | to add | to change | to remove | status |", "|---|---:|---:|---:|---|"]
    for name in names:
        if name in failed:
            first = failed[name].splitlines()[0] if failed[name] else ""
            out.append(f"| {_md(name)} | | | | :x: {_md(first[:300])} |")
            continue
        s = plans[name].summary()
        status = "changes" if plans[name].changes else "no changes"
        if plans[name].warnings:
            status += f", :warning: {_n(len(plans[name].warnings), 'warning')}"
        out.append(f"| {_md(name)} | {s['add']} | {s['change']} | {s['remove']} | {status} |")
    size = sum(len(line) + 1 for line in out)
    left_out = 0
    for name, p in plans.items():
        if not p.changes and not p.warnings:
            continue
        body = plan_markdown(p, max_removals).replace("### groupsync plan", "#### plan")
        section = ["", f"<details><summary><b>{_html(name)}</b></summary>", "", body,
                   "</details>"]
        length = sum(len(line) + 1 for line in section)
        if left_out or size + length > MAX_MARKDOWN:
            left_out += 1
            continue
        out += section
        size += length
    if left_out:
        out += ["", f"_{_n(left_out, 'more practice')} left out to fit a pull-request "
                    "comment; `groupsync plan --practice NAME` shows each._"]
    out += ["", f"_Fleet: {_n(len(names), 'practice')}, {changed} with changes: "
                f"{total['add']} to add, {total['change']} to change, {total['remove']} to "
                f"remove" + (f", {len(failed)} failed" if failed else "") + "._"]
    return "\n".join(out) + "\n"
