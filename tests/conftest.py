"""Shared fixtures: real SQLite stores in temporary folders and the real account system."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from groupsync.accounts import AccountSystem, create_system
from groupsync.vocabulary import AREAS

# Hypothesis profiles. `ci` (the default, used by `make test`) is derandomized: the same
# examples every run, so CI is repeatable. `fuzz` (`make fuzz`) draws new random examples each
# run and multiplies every test's example budget by GROUPSYNC_FUZZ_SCALE.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", derandomize=False, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "practice.yaml"
DEMO_ENV = ROOT / "examples" / "demo.env"
FULL = {a: "full" for a in AREAS}
FIXED_NOW = "2026-03-02T12:00:00"  # the CLI's clock in tests (GROUPSYNC_NOW)


# Where PostgreSQL is, for every test that needs one (stores, the README's steps).
PG_BASE = os.environ.get("GROUPSYNC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
# One switch makes every test of an outside part required (fail, not skip, without it):
# PostgreSQL, Chromium, the YAML language server. `.ci/run` sets it.
REQUIRED = os.environ.get("GROUPSYNC_REQUIRE_CLIENTS") == "1"


def _postgres_missing() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_BASE, connect_timeout=3):
            return None
    except Exception as exc:  # any failure to connect means: no server for these tests
        return f"no PostgreSQL at {PG_BASE} ({type(exc).__name__})"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store URL on each backend: a SQLite file, or a fresh PostgreSQL schema of its own.

    Without a server the PostgreSQL half skips and says why; CI sets
    GROUPSYNC_REQUIRE_CLIENTS=1 so that it fails instead."""
    if request.param == "sqlite":
        yield str(tmp_path / "store.db")
        return
    yield from _pg_schema()


@pytest.fixture
def pg_store() -> Iterator[str]:
    """A fresh PostgreSQL schema of its own (for findings made on a shared store)."""
    yield from _pg_schema()


def _pg_schema() -> Iterator[str]:
    missing = _postgres_missing()
    if missing:
        if REQUIRED:
            pytest.fail(missing)
        pytest.skip(missing)
    import psycopg

    schema = f"gs_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def raw_sql(store: str, sql: str, params: tuple[object, ...] = ()) -> None:
    """Change a store behind the account system's back, on either backend (for tests of what
    the store itself refuses or detects)."""
    if store.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(store, autocommit=True) as conn:
            conn.execute(sql.replace("?", "%s"), params or None)
        return
    conn = sqlite3.connect(store)
    try:
        conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


@pytest.fixture
def system(store: str) -> AccountSystem:
    return create_system(store)


@pytest.fixture
def two_accounts(system: AccountSystem) -> AccountSystem:
    """Two signed-up providers: 100001 (alice/pw-a) and 100002 (bob/pw-b)."""
    system.signup("Alice Able, PhD", "alice", "pw-alice-2026", "100001")
    system.signup("Bob Baker, LCSW", "bob", "pw-bob-2026", "100002")
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
        full_env["GROUPSYNC_NOW"] = FIXED_NOW  # every date-dependent answer is repeatable
        full_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "groupsync", *args], cwd=cwd or tmp_path, env=full_env,
            input=input, capture_output=True, text=True, timeout=120,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return _run
