"""Building practices and stores for engine tests: the real example, edited as text."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from groupsync.accounts import AccountSystem
from groupsync.applier import apply_plan
from groupsync.config import Desired, Secrets, load_file
from groupsync.engine import prepare, sandbox
from groupsync.plan import Plan

from .conftest import EXAMPLE, demo_env

MASTER_PW = demo_env()["MASTER_PASSWORD"]
# Blocks of the example practice, as written there: edits cut them out or put them back.
CHEN_BLOCK = ('  chen:\n    name: David Chen, LPC            # licensed professional counselor\n'
              '    account_id: "100561"\n    bills_electronically: true\n'
              '    login: {username: dchen, password: "${CHEN_PASSWORD}"}\n')
SMITH_BLOCK = ('  smith:\n    name: Jane Smith, PhD            # licensed psychologist\n'
               '    account_id: "100482"\n    bills_electronically: true\n'
               '    login: {username: jsmith, password: "${SMITH_PASSWORD}"}\n')
PRUNE_JOINS = ("  joins: false", "  joins: true")


def budget(examples: int) -> int:
    """A property test's example count, scaled up by `make fuzz` (GROUPSYNC_FUZZ_SCALE)."""
    return examples * max(1, int(os.environ.get("GROUPSYNC_FUZZ_SCALE", "1")))


def practice(tmp_path: Path, *edits: tuple[str, str], extra: str = "") -> Desired:
    """The example practice with text replacements (each must apply) and extra YAML."""
    text = EXAMPLE.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "practice.yaml"
    path.write_text(text + extra)
    return load_file(path)


def load_problems(text: str) -> list[str]:
    """The problems `text` loads with, as `FILE:LINE:COL: message` lines (none if valid)."""
    from groupsync.config import load_text
    from groupsync.errors import ConfigError

    try:
        load_text(text.encode(), "practice.yaml")
    except ConfigError as exc:
        return [str(p) for p in exc.problems]
    return []


def secrets() -> Secrets:
    return Secrets(demo_env(), environ={})


def sandboxed(tmp_path: Path, desired: Desired | None = None,
              store: str | None = None) -> tuple[AccountSystem, Desired]:
    """The example's accounts signed up in `store` (a SQLite file in tmp_path by default)."""
    desired = desired or practice(tmp_path)
    system, _ = sandbox(store or str(tmp_path / "store.db"), desired, secrets())
    return system, desired


def plan_for(system: AccountSystem, desired: Desired) -> Plan:
    return prepare(system, desired, secrets()).plan


def converge(system: AccountSystem, desired: Desired) -> Plan:
    prepared = prepare(system, desired, secrets())
    apply_plan(system, prepared.plan, prepared.passwords)
    return prepared.plan


def kinds(plan: Plan) -> list[tuple[str, str, str, str | None]]:
    return [(c.action, c.type, c.account, c.username or getattr(c, "key", None))
            for c in plan.changes]


def change(action: str, type: str, account: str, **fields: object) -> Any:
    """One change, validated as a plan from outside would be (changes.py)."""
    from groupsync.changes import change_adapter

    return change_adapter.validate_python({"action": action, "type": type, "account": account,
                                           **fields})
