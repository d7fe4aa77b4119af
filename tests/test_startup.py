"""A command imports only the stages it uses (docs/contracts.md, "The command line starts fast").

Checked by running the real console entry point in a fresh interpreter and listing what it
loaded: a local `plan` never loads the service or its client, `--version` and `--help` load
neither pydantic, PyYAML nor argon2. (How fast that makes them is `make bench-cli`'s job.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import DEMO_ENV, EXAMPLE

SERVICE = {"fastapi", "uvicorn", "starlette", "h11", "httpx", "httpcore", "anyio"}
HEAVY = {"pydantic", "pydantic_core", "yaml", "argon2", "psycopg", "zxcvbn", *SERVICE}

PROBE = """
import json, sys
from groupsync.cli import main
sys.argv = ["groupsync", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit:
    pass
loaded = sorted({m.split(".")[0] for m in sys.modules})
print("\\nLOADED " + json.dumps(loaded))
"""


def _loaded(args: list[str], cwd: Path) -> set[str]:
    env = {**os.environ, "GROUPSYNC_NOW": "2026-03-02T12:00:00"}
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], cwd=cwd, env=env,
                         capture_output=True, text=True, check=True).stdout
    line = out.rsplit("LOADED ", 1)[1]
    return set(json.loads(line))


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["plan", "--help"]])
def test_version_and_help_load_nothing_heavy(args: list[str], tmp_path: Path) -> None:
    assert _loaded(args, tmp_path) & HEAVY == set()


def test_a_local_plan_never_loads_the_service_or_its_client(tmp_path: Path) -> None:
    common = ["-f", str(EXAMPLE), "--env-file", str(DEMO_ENV), "--store", "s.db"]
    _loaded(["sandbox", *common], tmp_path)
    assert (tmp_path / "s.db").exists()
    loaded = _loaded(["plan", *common], tmp_path)
    assert "pydantic" in loaded and "argon2" in loaded  # it did plan, logging in
    assert loaded & SERVICE == set()


def test_validate_loads_no_store_and_no_service(tmp_path: Path) -> None:
    loaded = _loaded(["validate", "-f", str(EXAMPLE)], tmp_path)
    assert "yaml" in loaded
    assert loaded & (SERVICE | {"argon2", "psycopg", "sqlite3"}) == set()
