"""The practice file's roles and policies (docs/contracts.md, "Roles and policies"): the part
of the resolver that reads `roles:`, a role where privileges take levels, and `policies:`.
A mixin of config._Resolver: it reports problems with the resolver's `fail`, at the node."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from groupsync.accounts.model import ukey
from groupsync.policies import RISKY_GRANTS, Policy, risky_grants
from groupsync.vocabulary import AREAS, LEVELS, PROVIDER_KEY_RE

if TYPE_CHECKING:
    from groupsync.config import DesiredProvider, PracticeFile


def unknown_provider(ref: str, keys: Iterable[str], all_too: bool = False) -> str:
    """The one wording for a reference to a provider key the file doesn't declare."""
    hint = difflib.get_close_matches(ref, sorted(keys), n=1)
    if hint:
        return f"unknown provider {ref!r} (did you mean {hint[0]!r}?)"
    what = "'all' or a key under providers" if all_too else "a key under providers"
    return f"unknown provider {ref!r} (use {what})"


class RolesAndPolicies:
    m: PracticeFile
    roles: dict[str, dict[str, str]]
    used_roles: set[str]
    declared_roles: set[str]
    declared_names: set[str]
    warnings: list[str]

    def where(self, path: tuple[Any, ...], key: bool = False) -> str:
        raise NotImplementedError  # the resolver's

    def fail(self, path: tuple[Any, ...], message: str, key: bool = False) -> None:
        raise NotImplementedError  # the resolver's

    def _roles(self) -> dict[str, dict[str, str]]:
        """`roles:`: each a level or an {area: level} mapping, expanded to all nine areas
        (areas it doesn't name are none), so a role in an account replaces every area."""
        roles: dict[str, dict[str, str]] = {}
        for name, value in self.m.roles.items():
            path = ("roles", name)
            if not isinstance(name, str) or not PROVIDER_KEY_RE.fullmatch(name) \
                    or len(name) > 64:
                self.fail(path, f"bad role name {name!r}: use a-z, 0-9, _ and - (at most 64)",
                          key=True)
                continue
            if name in (*LEVELS, "all"):
                self.fail(path, f"bad role name {name!r}: full, view, none and all are "
                                "reserved", key=True)
                continue
            self.declared_roles.add(name)  # refused below or not: never "unknown" where used
            if isinstance(value, dict) and "role" in value:
                self.fail((*path, "role"), "a role is levels, not another role", key=True)
                continue
            if not isinstance(value, str | dict):
                self.fail(path, "a role is a level (full, view, none) or a mapping of "
                                "area: level")
                continue
            levels = self._plain_levels(value, path)
            if levels is not None:
                roles[name] = {area: levels.get(area, "none") for area in AREAS}
        return roles

    def _levels(self, value: Any, path: tuple[Any, ...]
                ) -> tuple[dict[str, str] | None, str | None, bool]:
        """A level alone (every area), a role name, an {area: level} mapping, or a mapping
        with `role: NAME` beside areas that override the role's. Returns the levels, the
        role named (if any) and whether they replace every area (a level or a role) rather
        than merge over `all`."""
        if isinstance(value, str) and value not in LEVELS:
            role = self._role(value, path)
            return (dict(self.roles[role]) if role else None), role, True
        if isinstance(value, dict) and "role" in value:
            rest = {k: v for k, v in value.items() if k != "role"}
            ref = value["role"]
            role = self._role(ref, (*path, "role")) if isinstance(ref, str) else None
            if not isinstance(ref, str):
                self.fail((*path, "role"), "role must be the name of a role under roles")
            overrides = self._plain_levels(rest, path) if rest else {}
            if role is None or overrides is None:
                return None, None, True
            return {**self.roles[role], **overrides}, role, True
        return self._plain_levels(value, path), None, isinstance(value, str)

    def _role(self, name: str, path: tuple[Any, ...]) -> str | None:
        if name in self.roles:
            self.used_roles.add(name)
            return name
        if name in self.declared_roles:
            return None  # declared but refused: its own line says why
        if name in LEVELS:
            self.fail(path, f"{name} is a level, not a role: write the level alone, or "
                            f"{{role: NAME, AREA: {name}}}")
            return None
        if not self.m.roles:
            self.fail(path, f"unknown level {name!r} (levels: {', '.join(LEVELS)})")
            return None
        hint = difflib.get_close_matches(name, [*self.roles, *LEVELS], n=1)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        self.fail(path, f"unknown role {name!r}{extra} (roles: {', '.join(self.roles)}; "
                        f"levels: {', '.join(LEVELS)})")
        return None

    def _plain_levels(self, value: Any, path: tuple[Any, ...]) -> dict[str, str] | None:
        """A level alone (every area) or an {area: level} mapping."""
        if isinstance(value, str):
            if value not in LEVELS:
                self.fail(path, f"unknown level {value!r} (levels: {', '.join(LEVELS)})")
                return None
            return {area: value for area in AREAS}
        if isinstance(value, dict):
            out: dict[str, str] = {}
            for area, level in value.items():
                if area not in AREAS:
                    hint = difflib.get_close_matches(str(area), AREAS, n=1)
                    extra = f" (did you mean {hint[0]!r}?)" if hint else ""
                    self.fail((*path, area), f"unknown area {area!r}{extra}", key=True)
                elif level not in LEVELS:
                    self.fail((*path, area), f"unknown level {level!r} for {area} "
                                             f"(levels: {', '.join(LEVELS)})")
                else:
                    out[area] = level
            return out
        self.fail(path, "must be a level (full, view, none), a role, or a mapping of "
                        "area: level")
        return None

    def _policies(self, providers: dict[str, DesiredProvider]) -> tuple[Policy, ...]:
        """`policies:`, and the built-in risky-grants (at its default severity unless the
        file names it)."""
        out: list[Policy] = []
        seen: dict[str, int] = {}
        builtin = risky_grants()
        for i, p in enumerate(self.m.policies):
            path = ("policies", i)
            if p.name in seen:
                self.fail((*path, "name"), f"policy {p.name!r} is already policies.{seen[p.name]}")
                continue
            seen[p.name] = i
            rules = [r for r in ("deny", "require", "idle") if getattr(p, r) is not None]
            empty = [r for r in ("deny", "require", "idle")
                     if r in p.model_fields_set and getattr(p, r) is None]
            if empty:
                self.fail((*path, empty[0]), f"{empty[0]} is empty: give it a mapping "
                                             f"(see the policies in the contract)")
                continue
            if p.name == RISKY_GRANTS:
                if rules:
                    self.fail((*path, rules[0]), f"{RISKY_GRANTS} is built in: give it only "
                                                 "a severity (deny, warn or off)", key=True)
                builtin = risky_grants(p.severity)
                continue
            if len(rules) != 1:
                self.fail(path, "a policy has exactly one of deny, require or idle"
                                + (f" (this one has {' and '.join(rules)})" if rules else ""))
                continue

            def accounts(refs: list[str] | None, where: tuple[Any, ...]) -> frozenset[str] | None:
                if refs is None:
                    return None
                out_ids = set()
                for j, ref in enumerate(refs):
                    prov = providers.get(ref)
                    if prov is None:
                        self.fail((*where, "accounts", j), unknown_provider(ref, providers))
                    else:
                        out_ids.add(prov.account_id)
                return frozenset(out_ids)

            def names(values: list[str] | None) -> frozenset[str] | None:
                return None if values is None else frozenset(ukey(v) for v in values)

            for rule in (p.deny, p.idle):
                for name in ((rule.usernames or []) + rule.except_ if rule else []):
                    if ukey(name) not in self.declared_names:
                        hint = difflib.get_close_matches(name, sorted(self.declared_names), 1)
                        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
                        self.warnings.append(f"{self.where(path)}: policy {p.name!r} names "
                                             f"{name!r}, which this file doesn't declare"
                                             f"{extra}")
            if p.deny is not None:
                r = p.deny
                where = (*path, "deny")
                if not r.model_fields_set:
                    self.fail(where, "deny names no cells: give it usernames, a role, areas, "
                                     "accounts or outside_home (deny: {} would deny every "
                                     "grant, the master's too)")
                    continue
                if r.role is not None and r.role not in self.roles:
                    hint = difflib.get_close_matches(r.role, list(self.roles), n=1)
                    extra = f" (did you mean {hint[0]!r}?)" if hint else ""
                    self.fail((*where, "role"), f"unknown role {r.role!r}{extra}")
                out.append(Policy(p.name, "deny", p.severity, usernames=names(r.usernames),
                                  role=r.role, areas=tuple(r.areas or AREAS),
                                  at_least=r.at_least, accounts=accounts(r.accounts, where),
                                  outside_home=r.outside_home,
                                  exempt=names(r.except_) or frozenset()))
            elif p.require is not None:
                q = p.require
                out.append(Policy(p.name, "require", p.severity, areas=tuple(q.areas or AREAS),
                                  at_least=q.at_least, count=q.count,
                                  accounts=accounts(q.accounts, (*path, "require")),
                                  exempt=names(q.except_) or frozenset()))
            elif p.idle is not None:
                d = p.idle
                out.append(Policy(p.name, "idle", p.severity, usernames=names(d.usernames),
                                  days=d.days, exempt=names(d.except_) or frozenset()))
        return (builtin, *out)

