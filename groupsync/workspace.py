"""A workspace file (`groupsync.yaml`): many practices, one repository (docs/contracts.md,
"Running many practices").

A workspace names its practices, each by its practice file (relative to the workspace). The
commands that read a practice file run on each practice of a workspace on its own: its own
plan, checks and transaction, its failure its own. This module only reads the workspace and
says which practice files it names; cli.py runs the commands over them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from groupsync import yamlload
from groupsync.accounts.model import ukey
from groupsync.config import (
    Person as PersonName,
)
from groupsync.config import (
    PolicyEntry,
    ProviderRef,
    SecretRef,
    pydantic_problems,
)
from groupsync.errors import ConfigError, Problem, UsageError
from groupsync.files import ReadProblem, read_regular
from groupsync.overlay import Overlay, Person
from groupsync.vocabulary import PROVIDER_KEY_PATTERN, USERNAME_RE

PRACTICE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
MAX_PRACTICES = 10_000
# a workspace is told from a practice file by its top-level `practices:` key
_WORKSPACE_KEY = re.compile(rb"^practices[ \t]*:", re.MULTILINE)

PracticeName = Annotated[str, StringConstraints(pattern=PRACTICE_NAME_PATTERN)]
PracticePath = Annotated[str, StringConstraints(min_length=1, max_length=4096)]
# a workspace username's home: PRACTICE/PROVIDER
HomeRef = Annotated[str, StringConstraints(
    pattern=f"^{PRACTICE_NAME_PATTERN[1:-1]}/{PROVIDER_KEY_PATTERN[1:-1]}$")]
ProviderList = Literal["all"] | Annotated[list[ProviderRef], Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class WorkspaceUsername(_Strict):
    """A billing service's own username: homed in one practice, joined in others."""

    password: SecretRef
    home: HomeRef
    practices: Annotated[dict[PracticeName, ProviderList], Field(min_length=1)]
    privileges: Any
    person: PersonName | None = None


class WorkspaceFile(_Strict):
    """groupsync.yaml, version 1."""

    version: Literal["1"]
    practices: Annotated[dict[PracticeName, PracticePath],
                         Field(min_length=1, max_length=MAX_PRACTICES)]
    shared: PracticePath | None = None
    usernames: Annotated[dict[str, WorkspaceUsername], Field(max_length=10_000)] = {}


class SharedCodes(_Strict):
    diagnosis_codes: list[dict[str, Any]] | None = None
    billing_codes: list[dict[str, Any]] | None = None
    insurance_payers: list[dict[str, Any]] | None = None


class SharedFile(_Strict):
    """The workspace's shared file: what every practice starts from."""

    version: Literal["1"] | None = None
    roles: dict[str, Any] = {}
    policies: Annotated[list[PolicyEntry], Field(max_length=1000)] = []
    codes: SharedCodes | None = None


@dataclass(frozen=True)
class Workspace:
    path: str
    practices: dict[str, str]  # name -> its practice file's path, in the workspace's order
    shared: tuple[str, yamlload.Document] | None = None  # its path and document
    document: yamlload.Document | None = None  # the workspace's, when it has usernames
    usernames: dict[str, WorkspaceUsername] = field(default_factory=dict)
    # what is wrong with the shared file: every practice starts from it, so each one fails
    # with these, under its name (a fleet's JSON and Markdown still say so)
    broken: tuple[Problem, ...] = ()

    def select(self, names: tuple[str, ...]) -> dict[str, str]:
        """The practices `--practice NAME` (repeatable) targets; all of them without it."""
        if not names:
            return dict(self.practices)
        unknown = sorted(set(names) - set(self.practices))
        if unknown:
            raise UsageError(f"--practice {unknown[0]}: {self.path} has no practice of that "
                             f"name (it has: {', '.join(self.practices)})")
        return {n: p for n, p in self.practices.items() if n in names}

    def apply_order(self, chosen: dict[str, str]) -> dict[str, str]:
        """`chosen` with the home practices of the workspace's usernames first: a guest is
        joined only once its home has made it."""
        homes = {u.home.partition("/")[0] for u in self.usernames.values()}
        first = {n: p for n, p in chosen.items() if n in homes}
        return {**first, **{n: p for n, p in chosen.items() if n not in homes}}

    def overlay(self, practice: str) -> Overlay | None:
        """What the workspace adds to `practice`'s file (None: nothing); ConfigError when
        its shared file is broken."""
        if self.broken:
            raise ConfigError(list(self.broken))
        people, others = [], []
        for name, u in self.usernames.items():
            home, _, key = u.home.partition("/")
            if home == practice:
                people.append(Person(name, key, u.practices.get(practice, [])))
            elif practice in u.practices:
                people.append(Person(name, None, u.practices[practice]))
            else:
                others.append(name)
        if self.shared is None and not self.usernames:
            return None
        return Overlay(shared=self.shared[1] if self.shared else None,
                       shared_name=self.shared[0] if self.shared else "",
                       workspace=self.document, workspace_name=self.path, practice=practice,
                       people=tuple(people), others=tuple(others))


def is_workspace(raw: bytes) -> bool:
    return _WORKSPACE_KEY.search(raw) is not None


def read(path: str) -> bytes | None:
    """The file's bytes, or None when it can't be read (the practice loader then says why,
    in its own words)."""
    try:
        return read_regular(path, yamlload.MAX_FILE_BYTES)
    except (OSError, ReadProblem):
        return None


def load_workspace(path: str, raw: bytes) -> Workspace:
    """The workspace file (and its shared file), checked; ConfigError naming FILE:LINE:COL
    for each problem."""
    doc = _document(path, raw, "the workspace must be a mapping")
    try:
        model = WorkspaceFile.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(pydantic_problems(exc, doc, path, WorkspaceFile)) from None
    base = Path(path).parent
    problems = _username_problems(model, doc, path)
    if problems:
        raise ConfigError(problems)
    shared = None
    broken: tuple[Problem, ...] = ()
    if model.shared is not None:
        shared_path = os.path.normpath(base / model.shared)
        try:
            shared = (shared_path, _shared(shared_path, doc, path))
        except ConfigError as exc:
            broken = tuple(exc.problems)
    return Workspace(path, {name: os.path.normpath(base / file)
                            for name, file in model.practices.items()},
                     shared=shared, document=doc if model.usernames else None,
                     usernames=dict(model.usernames), broken=broken)


def _document(path: str, raw: bytes, not_a_mapping: str) -> yamlload.Document:
    doc, problems = yamlload.load(raw, path)
    if doc is None or problems:
        raise ConfigError(problems)
    if not isinstance(doc.data, dict):
        raise ConfigError([Problem(path, 1, 1, not_a_mapping)])
    return doc


def _username_problems(model: WorkspaceFile, doc: yamlload.Document,
                       path: str) -> list[Problem]:
    problems = []
    seen: dict[str, str] = {}
    for name, u in model.usernames.items():
        at = ("usernames", name)
        if not USERNAME_RE.fullmatch(name):
            problems.append(doc.problem(path, at, f"bad username {name!r}: 3-64 letters, "
                                                  "digits or . _ @ -", key=True))
        if ukey(name) in seen:
            problems.append(doc.problem(path, at, f"username {name!r} is already declared as "
                                                  f"{seen[ukey(name)]!r} (usernames are "
                                                  "unique ignoring case)", key=True))
        seen.setdefault(ukey(name), name)
        home = u.home.partition("/")[0]
        if home not in model.practices:
            problems.append(doc.problem(path, (*at, "home"), f"{name}'s home {u.home}: the "
                                        f"workspace has no practice {home!r}"))
        for practice in u.practices:
            if practice not in model.practices:
                problems.append(doc.problem(path, (*at, "practices", practice),
                                            f"the workspace has no practice {practice!r}",
                                            key=True))
        if u.privileges is None:
            problems.append(doc.problem(path, (*at, "privileges"),
                                        f"usernames.{name}.privileges is empty; it needs a "
                                        "role, a level or a mapping", key=True))
    return problems


def _shared(shared_path: str, workspace: yamlload.Document, path: str) -> yamlload.Document:
    try:
        raw = read_regular(shared_path, yamlload.MAX_FILE_BYTES)
    except FileNotFoundError:
        raise ConfigError([workspace.problem(path, ("shared",), f"shared file {shared_path} "
                                                               "not found")]) from None
    except (OSError, ReadProblem) as exc:
        raise ConfigError([workspace.problem(path, ("shared",), f"shared file {shared_path} "
                                             f"can't be read: {exc}")]) from None
    doc = _document(shared_path, raw, "the shared file must be a mapping (roles:, policies:, "
                                      "codes:)")
    try:
        SharedFile.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(pydantic_problems(exc, doc, shared_path, SharedFile)) from None
    return doc
