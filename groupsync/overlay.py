"""What a workspace adds to each of its practices' files before the file is checked
(docs/contracts.md, "Running many practices"): the shared file's roles, policies and inline
code records, and the workspace's own usernames.

The merge is done on the loaded document, before the schema and the cross-checks run, so a
practice with shared entries is checked exactly as if it had written them itself, and every
problem still names the file, line and column where the entry was written: the marks of
what is merged in are grafted from its own document, with its file's name.

- Roles and policies of the same name, and code records of the same key (a payer's ignoring
  case), are the practice's own: they replace the shared ones, in the shared one's place.
- Shared records of a code file the practice's `codes.files` leaves out are not merged.
- A workspace username is a staff username (`elsewhere: true`) in its home practice, a
  guest in every other practice it names; a practice may not declare it again.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import yaml

from groupsync.accounts.model import ukey
from groupsync.errors import Problem
from groupsync.vocabulary import CODE_FILE_SPECS, CODE_FILES
from groupsync.yamlload import Document, Path


@dataclass(frozen=True)
class Person:
    """A workspace username as one practice sees it."""

    name: str  # as the workspace writes it
    home: str | None  # its provider key, in its home practice; None where it is a guest
    accounts: Any  # "all" or a list of provider keys (as written)


@dataclass(frozen=True)
class Overlay:
    shared: Document | None = None
    shared_name: str = ""
    workspace: Document | None = None
    workspace_name: str = ""
    practice: str = ""  # the practice's name in the workspace
    people: tuple[Person, ...] = field(default=())
    others: tuple[str, ...] = field(default=())  # workspace usernames not naming it

    def apply(self, doc: Document, name: str) -> tuple[Document, list[Problem]]:
        """`doc` (a practice's file, named `name`) with the overlay merged in, and the
        problems of the merge itself (a workspace username the practice declares too)."""
        if not isinstance(doc.data, dict):
            return doc, []
        out = Document(data=dict(doc.data), marks=dict(doc.marks),
                       key_marks=dict(doc.key_marks), origins=dict(doc.origins))
        if self.shared is not None and isinstance(self.shared.data, dict):
            _merge_named(out, doc, self.shared, self.shared_name, "roles")
            _merge_listed(out, doc, self.shared, self.shared_name, ("policies",),
                          lambda item: _text(item.get("name")))
            _merge_codes(out, doc, self.shared, self.shared_name)
        problems: list[Problem] = []
        if self.workspace is not None:
            rules: dict[Path, Path] = {}
            # the practice's own names, once: each workspace username is checked against
            # them, and what is added is added once, so 10,000 usernames cost 10,000 steps
            own = {section: {ukey(str(k)): str(k) for k in value}
                   for section in ("usernames", "guests", "privileges")
                   if isinstance(value := doc.data.get(section, {}) or {}, dict)}
            added: dict[str, dict[str, Any]] = {s: {} for s in own}
            for person in self.people:
                problems += self._person(out, name, person, own, added, rules)
            for section, entries in added.items():
                if entries:
                    out.data[section] = {**(doc.data.get(section) or {}), **entries}
            problems += self._not_here(out, name)
            out.graft(self.workspace, rules, self.workspace_name)  # one pass for them all
        return out, problems

    def _person(self, out: Document, name: str, person: Person, own: dict[str, dict[str, str]],
                added: dict[str, dict[str, Any]], rules: dict[Path, Path]) -> list[Problem]:
        ws = self.workspace
        assert ws is not None
        src: Path = ("usernames", person.name)
        entry = ws.data["usernames"][person.name]
        k = ukey(person.name)
        section = "usernames" if person.home is not None else "guests"
        for mine in ("usernames", "guests"):
            other = own.get(mine, {}).get(k)
            if other is not None:
                line, _col = ws.mark(src, key=True)
                return [out.problem(name, (mine, other), (
                    f"{other} is declared by the workspace ({self.workspace_name}, line "
                    f"{line}); remove it here, or from the workspace"), key=True)]
        if section not in own:
            return []  # the practice's own section is wrong: the schema says so, untouched
        given: dict[str, Any] = {"password": entry.get("password"), "accounts": person.accounts}
        if person.home is not None:
            given.update(home=person.home, elsewhere="true")
        if entry.get("person") is not None:
            given["person"] = entry["person"]
        added[section][person.name] = given
        rules[src] = (section, person.name)
        rules[(*src, "practices", self.practice)] = (section, person.name, "accounts")
        # the practice's own privileges entry for it, if any, replaces the workspace's (its
        # provider keys are this practice's)
        if "privileges" in own and k not in own["privileges"]:
            added["privileges"][person.name] = entry.get("privileges")
            rules[(*src, "privileges")] = ("privileges", person.name)
        return []

    def _not_here(self, out: Document, name: str) -> list[Problem]:
        """A workspace username is "taken" in the practices it doesn't name: one of them may
        not make it its guest either."""
        ws = self.workspace
        assert ws is not None
        guests = out.data.get("guests")
        theirs = {ukey(n): n for n in self.others}
        problems = []
        for other in (guests if isinstance(guests, dict) else ()):
            found = theirs.get(ukey(str(other)))
            if found is not None:
                line, _col = ws.mark(("usernames", found), key=True)
                problems.append(out.problem(name, ("guests", other), (
                    f"{other} is the workspace's username ({self.workspace_name}, line "
                    f"{line}), which doesn't name this practice: add it under its practices "
                    "there instead"), key=True))
        return problems


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) else None


def _merge_named(out: Document, doc: Document, shared: Document, shared_name: str,
                 section: str) -> None:
    """A mapping by name (roles): the shared entries the practice doesn't name, first."""
    theirs = shared.data.get(section)
    if not isinstance(theirs, dict) or not theirs:
        return
    mine = doc.data.get(section)
    if mine is None:
        out.data[section] = dict(theirs)
        out.graft(shared, {(section,): (section,)}, shared_name)
        return
    if not isinstance(mine, dict):
        return  # the schema says what is wrong with it
    out.data[section] = {**{k: v for k, v in theirs.items() if k not in mine}, **mine}
    out.graft(shared, {(section, k): (section, k) for k in theirs if k not in mine},
              shared_name)


def _merge_listed(out: Document, doc: Document, shared: Document, shared_name: str,
                  at: Path, key_of: Any, folds: bool = False) -> None:
    """A list of entries with a key (policies by name, code records by their key): the
    shared ones in order, each replaced by the practice's entry of the same key, then the
    practice's other entries. Every entry's marks move with it."""
    theirs = _get(shared.data, at)
    if not isinstance(theirs, list) or not theirs:
        return
    mine = _get(doc.data, at)
    if mine is None:
        _put(out.data, at, list(theirs))
        out.graft(shared, {at: at}, shared_name)
        return
    if not isinstance(mine, list):
        return

    def key(item: Any) -> str | None:
        found = key_of(item) if isinstance(item, dict) else None
        return found.casefold() if found is not None and folds else found

    own = {key(item): i for i, item in enumerate(mine) if key(item) is not None}
    merged: list[Any] = []
    from_mine: dict[Path, Path] = {}
    from_theirs: dict[Path, Path] = {}
    taken: set[int] = set()
    for j, item in enumerate(theirs):
        i = own.get(key(item)) if key(item) is not None else None
        if i is not None and i not in taken:
            taken.add(i)
            from_mine[(*at, i)] = (*at, len(merged))
            merged.append(mine[i])
        else:
            from_theirs[(*at, j)] = (*at, len(merged))
            merged.append(theirs[j])
    for i, item in enumerate(mine):
        if i not in taken:
            from_mine[(*at, i)] = (*at, len(merged))
            merged.append(item)
    depth = len(at)
    for marks in (out.marks, out.key_marks):
        for path in [p for p in marks if len(p) > depth and p[:depth] == at]:
            del marks[path]
    _put(out.data, at, merged)
    out.graft(doc, from_mine, None)
    out.graft(shared, from_theirs, shared_name)


def _merge_codes(out: Document, doc: Document, shared: Document, shared_name: str) -> None:
    theirs = shared.data.get("codes")
    if not isinstance(theirs, dict) or not theirs:
        return
    mine = doc.data.get("codes")
    if mine is None:
        out.data["codes"] = copy.copy(theirs)
        out.graft(shared, {("codes",): ("codes",)}, shared_name)
        return
    if not isinstance(mine, dict):
        return
    out.data["codes"] = dict(mine)
    files = mine.get("files")
    for file, spec in CODE_FILE_SPECS.items():
        if isinstance(files, list) and file not in files:
            continue  # the practice doesn't manage that file: nothing of it is merged
        key_field = CODE_FILES[file][0]
        _merge_listed(out, doc, shared, shared_name, ("codes", file),
                      lambda item, f=key_field: _text(item.get(f)),
                      folds=spec.key_folds_case)


def _get(data: Any, at: Path) -> Any:
    for part in at:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _put(data: dict[str, Any], at: Path, value: Any) -> None:
    for part in at[:-1]:
        data = data[part]  # type: ignore[index]
    data[at[-1]] = value  # type: ignore[index]


def dump(data: Any) -> str:
    """The merged practice as a practice file, for a service that re-plans from its text:
    every value stays the text it was (strings are quoted where YAML would read them as
    anything else), so the service loads what was checked here."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1_000_000)
