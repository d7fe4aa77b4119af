"""The README's steps run as written: "Running a shared store" creates the role, the database
and a schema, then the stores, against the machine's PostgreSQL."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

ADMIN = ["-h", "localhost", "-U", "postgres"]


def _shared_store_steps() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Running a shared store"):]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    steps = block.group(1)
    return steps[:steps.index("# 3.")]  # step 3 serves until stopped


def _psql(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["psql", *ADMIN, "-v", "ON_ERROR_STOP=1", *args],
                          capture_output=True, text=True, timeout=60)


def _clean() -> None:
    _psql("-d", "test", "-c", "DROP DATABASE IF EXISTS groupsync")
    _psql("-d", "test", "-c", "DROP ROLE IF EXISTS groupsync")


def test_running_a_shared_store_steps_run_verbatim(tmp_path: Path) -> None:
    if shutil.which("psql") is None or _psql("-d", "test", "-c", "SELECT 1").returncode != 0:
        if os.environ.get("GROUPSYNC_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL is required (GROUPSYNC_REQUIRE_POSTGRES) but not reachable")
        pytest.skip("no PostgreSQL on localhost:5432 with trust auth")
    _clean()
    try:
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        done = subprocess.run(["bash", "-eo", "pipefail", "-c", _shared_store_steps()],
                              cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        created = re.findall(r"^Created store (\S+) \(lineage", done.stdout, re.M)
        assert created == ["postgresql://groupsync@localhost/groupsync",
                           "postgresql://groupsync@localhost/groupsync?options=-csearch_path%3D"
                           "practice_a"]
        tables = _psql("-d", "groupsync", "-tA", "-c",
                       "SELECT table_schema FROM information_schema.tables "
                       "WHERE table_name = 'accounts' ORDER BY 1").stdout.split()
        assert tables == ["practice_a", "public"]
    finally:
        _clean()
