"""Shared fixtures: real SQLite stores in temporary folders and the real account system."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from groupsync.accounts import AccountSystem, create_system
from groupsync.accounts.model import AREAS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "practice.yaml"
DEMO_ENV = ROOT / "examples" / "demo.env"
FULL = {a: "full" for a in AREAS}


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "store.db")


@pytest.fixture
def system(store: str) -> AccountSystem:
    return create_system(store)


@pytest.fixture
def two_accounts(system: AccountSystem) -> AccountSystem:
    """Two signed-up providers: 100001 (alice/pw-a) and 100002 (bob/pw-b)."""
    system.signup("Alice Able, PhD", "alice", "pw-a", "100001")
    system.signup("Bob Baker, LCSW", "bob", "pw-b", "100002")
    return system


@dataclass
class Result:
    code: int
    out: str
    err: str


def demo_env() -> dict[str, str]:
    env = {}
    for line in DEMO_ENV.read_text().splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.partition("=")
            env[k] = v
    return env


@pytest.fixture
def run(tmp_path: Path) -> Callable[..., Result]:
    """Run the real `groupsync` command in tmp_path; returns exit code, stdout, stderr."""

    def _run(*args: str, env: dict[str, str] | None = None, input: str | None = None,
             cwd: Path | None = None) -> Result:
        full_env = {k: v for k, v in os.environ.items()
                    if not k.endswith("_PASSWORD") and not k.startswith("GROUPSYNC_")}
        full_env["NO_COLOR"] = "1"
        full_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "groupsync", *args], cwd=cwd or tmp_path, env=full_env,
            input=input, capture_output=True, text=True, timeout=120,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return _run
