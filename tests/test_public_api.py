"""The public API: `groupsync.__all__` names what a library caller may use, each name loads on
first use, and the README's library example runs as written."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import groupsync

from .conftest import DEMO_ENV, EXAMPLE, ROOT, demo_env


def test_every_public_name_resolves_to_its_owner() -> None:
    assert "__version__" in groupsync.__all__
    for name in groupsync.__all__:
        assert getattr(groupsync, name) is not None, name
    assert groupsync.apply.__module__ == "groupsync.engine"
    assert groupsync.read_plan_file.__module__ == "groupsync.planfile"


def test_the_readme_library_example_runs(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## As a library", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block is not None
    shutil.copy(EXAMPLE, tmp_path / "practice.yaml")
    shutil.copy(DEMO_ENV, tmp_path / "secrets.env")
    env = {"PATH": "/usr/bin:/bin", "GROUPSYNC_NOW": "2026-03-02T12:00:00"}
    subprocess.run([sys.executable, "-m", "groupsync", "sandbox", "--store", "groupsync.db",
                    "--env-file", "secrets.env"], cwd=tmp_path, env=env, check=True,
                   capture_output=True)
    done = subprocess.run([sys.executable, "-c", block.group(1)], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("Plan: 88 to add, 4 to change, 0 to remove.")
    again = subprocess.run([sys.executable, "-m", "groupsync", "plan", "--store",
                            "groupsync.db", "--env-file", "secrets.env"], cwd=tmp_path,
                           env=env, capture_output=True, text=True)
    assert again.stdout.endswith("No changes. The store matches the file.\n"), again.stdout
    assert not set(demo_env().values()) & set(done.stdout.split())
