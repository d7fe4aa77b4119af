"""The CI examples (examples/ci/) as a user would copy them: they install groupsync from its
own repository, never by bare name from an index (docs/contracts.md, "Clients and the editor
schema"), and their groupsync steps run as written, in order, against a sandbox store."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import EXAMPLE, ROOT, demo_env

CI = ROOT / "examples" / "ci"
# steps that talk to the forge itself (a comment on the pull request): not ours to run here
_FORGE = re.compile(r"^\s*(gh |curl )", re.M)


# The practice as the examples expect it: a username of the pipeline's own, and a sealed master
CI_USERNAME = ('  billing:\n    person: Priya Natarajan\n',
               '  groupsync-ci:\n    person: Sam Ortiz (runs the pipeline)\n'
               '    password: "${CI_PASSWORD}"\n    home: smith\n    accounts: all\n'
               '  billing:\n    person: Priya Natarajan\n')
CI_RIGHTS = ("  frontdesk: front-desk\n",
             "  frontdesk: front-desk\n  groupsync-ci:\n    all: {practice_setup: full, "
             "account_access: full, codes: full}\n")
SEALED = ("  home: smith\n\n", "  home: smith\n  sealed: true\n\n")
QUIET = ("policies:\n", "policies:\n  - {name: risky-grants, severity: off}\n")
FEE = ('fee: "150.00"', 'fee: "155.00"')


def _practice(*edits: tuple[str, str]) -> str:
    text = EXAMPLE.read_text()
    for old, new in (CI_USERNAME, CI_RIGHTS, SEALED, QUIET, *edits):
        assert old in text, old
        text = text.replace(old, new)
    return text


def _workspace(tmp_path: Path) -> dict[str, str]:
    """A store set up as the examples say: the first apply is a person's break-glass apply
    (it creates the master); then a pull request changes a fee, and the pipeline acts as its
    own username without the master's password."""
    (tmp_path / "practice.yaml").write_text(_practice())
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_PASSWORD") and not k.startswith("GROUPSYNC_")}
    env.update(demo_env(), CI_PASSWORD="ci-demo-pw-7713")
    env.update(GROUPSYNC_FILE="practice.yaml", GROUPSYNC_STORE=str(tmp_path / "store.db"),
               NO_COLOR="1", PATH=f"{Path(sys.executable).parent}:{env['PATH']}",
               GITHUB_OUTPUT=str(tmp_path / "github-output"))
    for command in (["sandbox"], ["apply", "--auto-approve", "--break-glass", "--note",
                                  "first set-up"]):
        done = subprocess.run([sys.executable, "-m", "groupsync", *command], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    del env["MASTER_PASSWORD"]  # in no CI secret store
    (tmp_path / "practice.yaml").write_text(_practice(FEE))
    return env


def _run(script: str, tmp_path: Path, env: dict[str, str]) -> str:
    kept = "\n".join(line for line in script.splitlines() if not _FORGE.match(line))
    done = subprocess.run(["bash", "-eo", "pipefail", "-c", kept], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (kept, done.stdout, done.stderr)
    return done.stdout


def _installs(commands: list[str]) -> list[str]:
    return [c for c in commands if "pip install" in c]


def _check_installs(commands: list[str]) -> None:
    installs = _installs(commands)
    assert installs
    for command in installs:
        target = command.split("pip install", 1)[1].split()[-1]
        assert target.startswith("./"), f"installs {target!r} from an index: {command}"


def _groupsync_steps(commands: list[str]) -> list[str]:
    return [c for c in commands if "groupsync " in c and "pip install" not in c
            and "git " not in c]


def test_github_actions_example(tmp_path: Path) -> None:
    workflow: dict[str, Any] = yaml.safe_load((CI / "github-actions.yml").read_text())
    jobs = workflow["jobs"]
    assert set(jobs) == {"plan", "apply"}
    env = _workspace(tmp_path)
    every = [s.get("run", "") for job in jobs.values() for s in job["steps"]]
    _check_installs(every)
    for job in jobs.values():
        checkouts = [s for s in job["steps"] if str(s.get("uses", "")).startswith(
            "actions/checkout") and s.get("with", {}).get("path") == ".groupsync"]
        assert checkouts and checkouts[0]["with"]["ref"] == "${{ vars.GROUPSYNC_REF }}"
    # a plan never cancels an apply: they queue in different groups; forks never plan
    assert jobs["plan"]["concurrency"]["group"] != jobs["apply"]["concurrency"]["group"]
    assert jobs["apply"]["concurrency"]["cancel-in-progress"] is False
    assert "head.repo.full_name == github.repository" in jobs["plan"]["if"]
    assert "concurrency" not in workflow  # not one group for both
    # the pipeline acts as its own username, never as the sealed master; and runs daily
    assert workflow["env"]["GROUPSYNC_AS"] == "groupsync-ci"
    assert "MASTER_PASSWORD" not in workflow["env"]
    assert workflow[True]["schedule"]  # YAML 1.1 reads the key `on` as True
    assert "schedule" in jobs["apply"]["if"]
    env["GROUPSYNC_AS"] = workflow["env"]["GROUPSYNC_AS"]
    for name in ("plan", "apply"):  # a pull request, then its merge
        for step in _groupsync_steps([s.get("run", "") for s in jobs[name]["steps"]]):
            _run(step, tmp_path, env)
        if name == "plan":
            plan = (tmp_path / "plan.md").read_text()
            assert plan.startswith("### groupsync plan: 0 to add, 4 to change, 0 to remove")
            assert (tmp_path / "github-output").read_text() == "changes=yes\n"
    log = _run("groupsync log --limit 1", tmp_path, env)
    assert log.startswith("r6  ") and "groupsync-ci (Sam Ortiz (runs the pipeline)): " in log
    # merged again with nothing new: the apply job says so and succeeds
    assert "Nothing to apply." in "".join(
        _run(step, tmp_path, env) for step in _groupsync_steps(
            [s.get("run", "") for s in jobs["apply"]["steps"]]))


def test_gitlab_ci_example(tmp_path: Path) -> None:
    pipeline: dict[str, Any] = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    before = pipeline["default"]["before_script"]
    _check_installs(before)
    assert any("$GROUPSYNC_REF" in line for line in before)
    env = _workspace(tmp_path)
    env.update({k: str(v) for k, v in pipeline["variables"].items()
                if k not in ("GROUPSYNC_STORE",)})
    assert env["GROUPSYNC_AS"] == "groupsync-ci"
    assert any(r.get("if") == '$CI_PIPELINE_SOURCE == "schedule"'
               for r in pipeline["apply"]["rules"])
    for stage in pipeline["stages"]:
        job = pipeline[stage]
        _run("\n".join(job["script"]), tmp_path, env)
        if stage == "plan":
            assert (tmp_path / "plan.md").read_text().startswith(
                "### groupsync plan: 0 to add, 4 to change")
            assert (tmp_path / "note.json").exists()
    log = _run("groupsync log --limit 1", tmp_path, env)
    assert log.startswith("r6  ") and "groupsync-ci (Sam Ortiz (runs the pipeline)): " in log


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_no_example_installs_by_bare_name(name: str) -> None:
    text = (CI / name).read_text()
    assert not re.search(r"pip install (--\S+ )*groupsync\b", text)
