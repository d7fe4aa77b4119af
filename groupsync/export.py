"""Adopt an existing group: write a practice.yaml that describes what the store holds now.

Scope: the accounts a master username can open, or the home accounts of a list of provider
logins. Every password is a ${VARIABLE} named predictably (MASTER_PASSWORD, <KEY>_PASSWORD,
<USERNAME>_PASSWORD), listed at the end; no value is ever read or written. The file is built
so that `plan` on it says `No changes.` where the store allows (the notes in the file say
where it can't, e.g. accounts whose Practice Set-up disagree).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from groupsync.accounts.model import State, User, ukey
from groupsync.errors import PlanError
from groupsync.vocabulary import AREAS, CODE_FILES, LEVELS


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid YAML scalar


def _var(name: str, used: set[str]) -> str:
    """A variable name for `name`'s password, unique in this file: `a.b` and `a-b` (or a
    provider keyed `master`) must not share one, or one password would silently serve two
    logins."""
    base = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper() or "LOGIN"
    var, n = f"{base}_PASSWORD", 2
    while var in used:
        var, n = f"{base}_{n}_PASSWORD", n + 1
    used.add(var)
    return var


def _key(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_") or "provider"
    if not base[0].isalnum():
        base = "p" + base
    if base == "all":
        base = "all-provider"
    key, n = base, 2
    while key in taken:
        key, n = f"{base}-{n}", n + 1
    taken.add(key)
    return key


def _levels(levels: dict[str, str]) -> str:
    return "{" + ", ".join(f"{a}: {lvl}" for a, lvl in levels.items()) + "}"


def _compress(by_account: dict[str, dict[str, str]], base: str, first: str
              ) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """`all` from the first account, overrides for the areas other accounts differ in, so
    that base + all + override gives each account's privileges exactly."""
    everywhere = {a: lvl for a, lvl in by_account[first].items() if lvl != base}
    expected = {a: everywhere.get(a, base) for a in AREAS}
    overrides = {}
    for acct, privs in by_account.items():
        diff = {a: privs[a] for a in AREAS if privs[a] != expected[a]}
        if diff:
            overrides[acct] = diff
    return everywhere, overrides


@dataclass
class Export:
    text: str
    variables: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def export(state: State, master: str | None = None, logins: list[str] | None = None,
           declared: set[str] | None = None, persons: dict[str, str] | None = None) -> Export:
    """The practice file for what the store holds. With `declared` (the account ids of the
    current practice file), accounts outside it are left out: a provider who left is not
    brought back by an export. `persons` (casefolded username -> person, from the current
    practice file) are kept: the store knows usernames, not the people behind them."""
    people = persons or {}

    def person(username: str) -> str:
        found = people.get(ukey(username))
        return f", person: {_q(found)}" if found else ""

    if master is None and not logins:
        raise PlanError("export needs --master USERNAME or at least one --login USERNAME")
    notes: list[str] = []
    if master is not None:
        m = state.user(master)
        if m is None:
            raise PlanError(f"username {master} does not exist in the store")
        accounts = state.accounts_of(m.username)
        master_name, master_home = m.username, m.home
        if declared is not None:
            left = [a for a in accounts if a not in declared and a != m.home]
            accounts = [a for a in accounts if a not in left]
            if left:
                notes.append(f"left out account{'s' if len(left) > 1 else ''} "
                             f"{', '.join(left)}: not in the current practice file (a "
                             f"provider who left); {master_name} can still open "
                             f"{'them' if len(left) > 1 else 'it'} until prune.joins removes "
                             "that access")
    else:
        accounts = []
        for login in logins or []:
            u = state.user(login)
            if u is None:
                raise PlanError(f"username {login} does not exist in the store")
            accounts.append(u.home)
        accounts = sorted(set(accounts))
        found = _existing_master(state, accounts)
        if found is not None:
            master_name, master_home = found.username, found.home
            notes.append(f"{master_name} can open every one of these accounts with full "
                         "account_access, so it is this file's master")
            if master_home not in accounts:
                accounts.append(master_home)
                accounts.sort()
        else:
            master_name = _free_name(state, "groupsync-admin")
            master_home = accounts[0]
            notes.append(f"no master username was given or found: {master_name} will be "
                         f"created in account {master_home} and joined everywhere on the "
                         "first apply")
    taken: set[str] = set()
    keys = {acct: _key(state.accounts[acct].signup_username, taken) for acct in accounts}
    variables: list[str] = []
    used = {"MASTER_PASSWORD"}  # the master's, whatever the providers are called

    def var(name: str) -> str:
        variables.append(name)
        return f'"${{{name}}}"'

    home = state.accounts[master_home]
    names = {(state.accounts[a].practice_name, state.accounts[a].tin) for a in accounts}
    if len(names) > 1:
        notes.append("the accounts' Practice Set-ups disagree on name or TIN; this file uses "
                     f"account {master_home}'s, and plan will change the others")
    out = ["# Exported by groupsync from the store: review it, then keep it in git.",
           "version: 1", "practice:",
           f"  name: {_q(home.practice_name or 'CHANGE ME: practice name')}",
           f"  tin: {_q(home.tin or '00-0000000')}", "providers:"]
    if not home.practice_name or not home.tin:
        notes.append(f"account {master_home} has no practice name or TIN yet: fill them in")
    for acct in accounts:
        a = state.accounts[acct]
        out += [f"  {keys[acct]}:", f"    name: {_q(a.provider_name)}",
                f"    account_id: {_q(acct)}",
                f"    bills_electronically: {'true' if a.bills_electronically else 'false'}",
                f"    login: {{username: {_q(a.signup_username)}, "
                f"password: {var(_var(keys[acct], used))}{person(a.signup_username)}}}"]
    out += ["master:", f"  username: {_q(master_name)}", f"  password: {var('MASTER_PASSWORD')}",
            f"  home: {keys[master_home]}"]
    if people.get(ukey(master_name)):
        out.append(f"  person: {_q(people[ukey(master_name)])}")

    signups = {ukey(state.accounts[a].signup_username) for a in state.accounts}
    exported = set(accounts)
    staff = sorted(
        (u for k, u in state.users.items()
         if u.home in exported and k not in signups and k != ukey(master_name)),
        key=lambda u: u.username.casefold(),
    )
    privileges: list[str] = []
    if staff:
        out.append("usernames:")
    shapes: dict[str, tuple[dict[str, str], dict[str, dict[str, str]]]] = {}
    for u in staff:
        k = ukey(u.username)
        opens = [a for a in state.accounts_of(u.username) if a in exported]
        listed = "all" if set(opens) == exported else (
            "[" + ", ".join(keys[a] for a in opens) + "]")
        out.append(f"  {_q(u.username)}: {{password: {var(_var(u.username, used))}, "
                   f"home: {keys[u.home]}, accounts: {listed}{person(u.username)}}}")
        by_account = {a: state.access[(k, a)] for a in opens}
        first = u.home if u.home in by_account else sorted(by_account)[0]
        shapes[u.username] = _compress(by_account, "none", first)
    roles = _roles(shapes, notes)
    for u in staff:
        everywhere, overrides = shapes[u.username]
        role = roles.get(u.username)
        parts = [f"all: {role or _levels(everywhere)}"]
        parts += [f"{keys[a]}: {_levels(levels)}" for a, levels in sorted(overrides.items())]
        privileges.append(f"  {_q(u.username)}: {{{', '.join(parts)}}}")
    if state.user(master_name) is not None:
        k = ukey(master_name)
        by_account = {a: state.access[(k, a)] for a in accounts if (k, a) in state.access}
        if any(p != {a: "full" for a in AREAS} for p in by_account.values()):
            privileges.insert(0, _privileges_entry(master_name, by_account, "full", master_home,
                                                   keys))
    if roles:
        out.append("roles:")
        for name in sorted(set(roles.values())):
            holder = next(u for u, r in roles.items() if r == name)
            out.append(f"  {name}: {_levels(shapes[holder][0])}")
    if privileges:
        out += ["privileges:", *privileges]
    out += _codes(state, master_home, accounts, keys)
    out += ["prune:", "  usernames: false", "  joins: false", "  codes: false"]
    out += ["", "# Variables this file needs (set them in the environment or an --env-file):"]
    out += [f"#   {name}" for name in variables]
    for note in notes:
        out.append(f"# NOTE: {note}")
    return Export(text="\n".join(out) + "\n", variables=variables, notes=notes)


ROLE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _roles(shapes: dict[str, tuple[dict[str, str], dict[str, dict[str, str]]]],
           notes: list[str]) -> dict[str, str]:
    """A role for every set of levels that several staff usernames hold everywhere, named by
    its holders (`frontdesk-intake`); a plain mapping stays where only one holds it. A name
    that can't be made from the holders is `shared-N`, and a NOTE asks for one."""
    groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for username, (everywhere, _overrides) in shapes.items():
        if everywhere:
            groups.setdefault(tuple(sorted(everywhere.items())), []).append(username)
    out: dict[str, str] = {}
    taken: set[str] = {*LEVELS, "all"}
    n = 0
    for holders in groups.values():
        if len(holders) < 2:
            continue
        name = re.sub(r"[^a-z0-9_-]+", "-", "-".join(h.lower() for h in holders)).strip("-_")
        if not ROLE_NAME.fullmatch(name) or name in taken:
            n += 1
            name = f"shared-{n}"
            notes.append(f"role {name} is the levels {', '.join(holders)} share; give it a "
                         "name that says the job (and keep privileges in step)")
        taken.add(name)
        for holder in holders:
            out[holder] = name
    if out:
        notes.append("roles were made from usernames that hold the same levels everywhere, "
                     "named by their holders: rename them after the job they describe")
    return out


def _existing_master(state: State, accounts: list[str]) -> User | None:
    """A username, not a provider's own, that can open every one of `accounts` with full
    account_access: the group's master already, so an export must not invent another."""
    signups = {ukey(a.signup_username) for a in state.accounts.values()}
    candidates = [
        state.users[k] for k in sorted(state.by_account.get(accounts[0], ()))
        if k not in signups and all(
            state.access.get((k, a), {}).get("account_access") == "full" for a in accounts)
    ]
    return candidates[0] if candidates else None


def _free_name(state: State, name: str) -> str:
    out, n = name, 2
    while state.user(out) is not None:
        out, n = f"{name}-{n}", n + 1
    return out


def _privileges_entry(username: str, by_account: dict[str, dict[str, str]], base: str,
                      home: str, keys: dict[str, str]) -> str:
    first = home if home in by_account else sorted(by_account)[0]
    everywhere, overrides = _compress(by_account, base, first)
    parts = [f"all: {_levels(everywhere)}"]
    parts += [f"{keys[a]}: {_levels(levels)}" for a, levels in sorted(overrides.items())]
    return f"  {_q(username)}: {{{', '.join(parts)}}}"


def _codes(state: State, master: str, accounts: list[str], keys: dict[str, str]) -> list[str]:
    source = state.codes.get(master, {})
    if not any(source.get(f) for f in CODE_FILES):
        return []
    # Copy only to accounts that already hold every master record, so the file changes
    # nothing; the others can be added to copy_to by hand when the admin wants them synced.
    def holds_all(account: str) -> bool:
        return all(state.file(account, f).get(k) == rec
                   for f in CODE_FILES for k, rec in source.get(f, {}).items())

    targets = [a for a in accounts if a != master and holds_all(a)]
    out = ["codes:", f"  master: {keys[master]}",
           "  copy_to: [" + ", ".join(keys[a] for a in targets) + "]"]
    for file, (_key_field, fields) in CODE_FILES.items():
        records = source.get(file, {})
        out.append(f"  {file}:" + ("" if records else " []"))
        for key in sorted(records):
            rec = records[key]
            items = ", ".join(f"{f}: {_q(rec[f])}" for f in fields if rec.get(f) != "")
            out.append(f"    - {{{items}}}")
    return out
