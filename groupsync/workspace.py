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
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from groupsync import yamlload
from groupsync.errors import ConfigError, Problem, UsageError
from groupsync.files import ReadProblem, read_regular

PRACTICE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
MAX_PRACTICES = 10_000
# a workspace is told from a practice file by its top-level `practices:` key
_WORKSPACE_KEY = re.compile(rb"^practices[ \t]*:", re.MULTILINE)

PracticeName = Annotated[str, StringConstraints(pattern=PRACTICE_NAME_PATTERN)]
PracticePath = Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class WorkspaceFile(BaseModel):
    """groupsync.yaml, version 1."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    version: Literal["1"]
    practices: Annotated[dict[PracticeName, PracticePath],
                         Field(min_length=1, max_length=MAX_PRACTICES)]


@dataclass(frozen=True)
class Workspace:
    path: str
    practices: dict[str, str]  # name -> its practice file's path, in the workspace's order

    def select(self, names: tuple[str, ...]) -> dict[str, str]:
        """The practices `--practice NAME` (repeatable) targets; all of them without it."""
        if not names:
            return dict(self.practices)
        unknown = sorted(set(names) - set(self.practices))
        if unknown:
            raise UsageError(f"--practice {unknown[0]}: {self.path} has no practice of that "
                             f"name (it has: {', '.join(self.practices)})")
        return {n: p for n, p in self.practices.items() if n in names}


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
    """The workspace file, checked; ConfigError naming FILE:LINE:COL for each problem."""
    from groupsync.config import pydantic_problems

    doc, problems = yamlload.load(raw, path)
    if doc is None:
        raise ConfigError(problems)
    if problems:
        raise ConfigError(problems)
    if not isinstance(doc.data, dict):
        raise ConfigError([Problem(path, 1, 1, "the workspace must be a mapping")])
    unsupported = [key for key in ("shared", "usernames") if key in doc.data]
    if unsupported:
        key = unsupported[0]
        line, col = doc.mark((key,), key=True)
        raise ConfigError([Problem(path, line, col, f"workspace {key}: is not supported by "
                                                    "this groupsync yet; put it in each "
                                                    "practice's file")])
    try:
        model = WorkspaceFile.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(pydantic_problems(exc, doc, path, WorkspaceFile)) from None
    base = Path(path).parent
    return Workspace(path, {name: os.path.normpath(base / file)
                            for name, file in model.practices.items()})
