"""The README's steps run as written: "Running a shared store" creates the role, the database
and a schema, then the stores, against the machine's PostgreSQL."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .conftest import PG_BASE, REQUIRED, ROOT

# Where PostgreSQL is: the one variable every test honours (conftest.PG_BASE's host and port).
_PG = urlsplit(PG_BASE)
ADMIN = ["-h", _PG.hostname or "localhost", "-p", str(_PG.port or 5432), "-U",
         _PG.username or "postgres"]
# The README's steps, run under names of this run's own: the role and database it tells
# admins to create are `groupsync`, and a test must never drop what a user made.
NAME = f"gs_readme_{uuid.uuid4().hex[:10]}"


def _shared_store_steps() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Running a shared store"):]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    steps = block.group(1)
    steps = steps[:steps.index("# 3.")]  # step 3 serves until stopped
    assert "groupsync@localhost/groupsync" in steps and "--owner groupsync groupsync" in steps
    host = f"{ADMIN[1]}:{ADMIN[3]}"
    steps = (steps.replace("groupsync@localhost/groupsync", f"{NAME}@{host}/{NAME}")
             .replace("ROLE groupsync", f"ROLE {NAME}")
             .replace("--owner groupsync groupsync", f"--owner {NAME} {NAME}")
             .replace("-d groupsync", f"-d {NAME}")
             .replace("AUTHORIZATION groupsync", f"AUTHORIZATION {NAME}")
             .replace("-h localhost -U postgres", " ".join(ADMIN)))
    assert "groupsync " not in steps.replace("groupsync store init", ""), steps
    return steps


def _psql(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["psql", *ADMIN, "-v", "ON_ERROR_STOP=1", *args],
                          capture_output=True, text=True, timeout=60)


def _clean() -> None:
    """Drops only what this run made (its own unique names)."""
    _psql("-d", _PG.path.lstrip("/") or "test", "-c", f"DROP DATABASE IF EXISTS {NAME}")
    _psql("-d", _PG.path.lstrip("/") or "test", "-c", f"DROP ROLE IF EXISTS {NAME}")


def test_running_a_shared_store_steps_run_verbatim(tmp_path: Path) -> None:
    if shutil.which("psql") is None or _psql("-d", _PG.path.lstrip("/") or "test", "-c",
                                             "SELECT 1").returncode != 0:
        if REQUIRED:
            pytest.fail("PostgreSQL is required (GROUPSYNC_REQUIRE_CLIENTS) but not reachable")
        pytest.skip("no PostgreSQL with trust auth at GROUPSYNC_TEST_POSTGRES")
    _clean()
    try:
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        done = subprocess.run(["bash", "-eo", "pipefail", "-c", _shared_store_steps()],
                              cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        created = re.findall(r"^Created store (\S+) \(lineage", done.stdout, re.M)
        host = f"{ADMIN[1]}:{ADMIN[3]}"
        assert created == [f"postgresql://{NAME}@{host}/{NAME}",
                           f"postgresql://{NAME}@{host}/{NAME}?options=-csearch_path%3D"
                           "practice_a"]
        tables = _psql("-d", NAME, "-tA", "-c",
                       "SELECT table_schema FROM information_schema.tables "
                       "WHERE table_name = 'accounts' ORDER BY 1").stdout.split()
        assert tables == ["practice_a", "public"]
    finally:
        _clean()
