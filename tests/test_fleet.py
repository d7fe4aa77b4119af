"""Fleets (docs/contracts.md, "Running many practices"): a workspace file naming practices,
each planned, checked and applied on its own; per-practice staleness; grouped plans."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import DEMO_ENV, EXAMPLE, Result
from .helpers import budget
from .support import serving

Run = Callable[..., Result]
LAKESIDE = EXAMPLE.parent / "fleet" / "lakeside.yaml"


def workspace(tmp_path: Path, *extra: str) -> tuple[str, ...]:
    """A workspace of the example practice (riverside) and lakeside in tmp_path; the
    options that point a command at it."""
    shutil.copy(EXAMPLE, tmp_path / "riverside.yaml")
    shutil.copy(LAKESIDE, tmp_path / "lakeside.yaml")
    (tmp_path / "groupsync.yaml").write_text(
        "version: 1\npractices:\n  riverside: riverside.yaml\n  lakeside: lakeside.yaml\n"
        + "".join(f"  {line}\n" for line in extra))
    return ("-f", "groupsync.yaml", "--env-file", str(DEMO_ENV))


def fee(tmp_path: Path, name: str, old: str, new: str) -> None:
    path = tmp_path / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_fleet_plans_and_applies_each_practice_and_sums_them(
        run: Run, tmp_path: Path, store: str) -> None:
    ws = workspace(tmp_path)
    r = run("sandbox", *ws, "--store", store)
    assert r.code == 0, r.err
    assert r.out.startswith("== riverside ==\nSigned up smith: account 100482, login jsmith\n")
    assert "\n== lakeside ==\nSigned up kim: account 200101, login akim\n" in r.out
    assert r.out.endswith("\nFleet: 2 practices.\n")
    r = run("plan", *ws, "--store", store, "--detailed-exitcode")
    assert r.code == 2, r.err
    assert "\n== lakeside ==\ngroupsync will make these changes:\n" in r.out
    assert r.out.endswith("Plan: 6 to add, 2 to change, 0 to remove.\n\n"
                          "Fleet: 2 practices, 2 with changes: 94 to add, 6 to change, "
                          "0 to remove.\n")
    r = run("apply", *ws, "--store", store)
    assert (r.code, r.err) == (1, "Error: apply on a workspace needs --auto-approve (review "
                                  "the fleet's plan first); nothing was changed\n")
    r = run("apply", *ws, "--store", store, "--auto-approve")
    assert r.code == 0, r.err
    assert r.out.endswith("Fleet: 2 practices, 2 with changes: 94 added, 6 changed, "
                          "0 removed.\n")
    r = run("plan", *ws, "--store", store, "--detailed-exitcode")
    assert (r.code, r.out) == (0, "== riverside ==\nNo changes. The store matches the file.\n\n"
                                  "== lakeside ==\nNo changes. The store matches the file.\n\n"
                                  "Fleet: 2 practices, 0 with changes: 0 to add, 0 to change, "
                                  "0 to remove.\n")
    r = run("plan", *ws, "--store", store, "--practice", "lakeside")
    assert r.out == ("== lakeside ==\nNo changes. The store matches the file.\n\n"
                     "Fleet: 1 practice, 0 with changes: 0 to add, 0 to change, 0 to remove.\n")
    r = run("plan", *ws, "--store", store, "--practice", "hillside")
    assert (r.code, r.err) == (1, "Error: --practice hillside: groupsync.yaml has no practice "
                                  "of that name (it has: riverside, lakeside)\n")
    r = run("plan", "-f", str(EXAMPLE), "--store", store, "--practice", "lakeside")
    assert (r.code, r.err) == (1, f"Error: --practice picks practices of a workspace file; "
                                  f"{EXAMPLE} is a practice file\n")


def test_a_broken_practice_fails_under_its_name_and_the_others_go_on(
        run: Run, tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    assert run("sandbox", *ws).code == 0
    fee(tmp_path, "lakeside.yaml", "home: kim", "home: kimm")
    r = run("plan", *ws, "--detailed-exitcode")
    assert r.code == 1
    assert "== riverside ==\ngroupsync will make these changes:\n" in r.out
    assert "\n== lakeside ==\nError: lakeside.yaml:" in r.out
    assert "unknown provider 'kimm'" in r.out
    assert r.out.endswith("Fleet: 2 practices, 1 with changes: 88 to add, 4 to change, "
                          "0 to remove, 1 failed.\n")
    assert r.err.startswith("Error: lakeside: lakeside.yaml:")
    data = json.loads(run("plan", *ws, "--json").out)
    assert data["format_version"] == "1"
    assert list(data["practices"]) == ["riverside"]
    assert data["practices"]["riverside"]["summary"] == {"add": 88, "change": 4, "remove": 0}
    assert list(data["failed"]) == ["lakeside"] and "kimm" in data["failed"]["lakeside"]
    # an apply applies the good practice and leaves the broken one, failing the run
    r = run("apply", *ws, "--auto-approve")
    assert r.code == 1
    assert r.out.endswith("Fleet: 2 practices, 1 with changes: 88 added, 4 changed, "
                          "0 removed, 1 failed.\n")
    r = run("plan", *ws, "--practice", "riverside", "--detailed-exitcode")
    assert r.code == 0, r.out
    markdown = run("plan", *ws, "--format", "markdown").out
    assert markdown.startswith("### groupsync fleet plan: 2 practices, 0 with changes, 1 failed"
                               "\n\n| practice | to add | to change | to remove | status |\n")
    assert "| riverside | 0 | 0 | 0 | no changes |" in markdown
    assert "| lakeside | | | | :x: lakeside.yaml:" in markdown


def test_a_workspace_file_is_checked_like_a_practice_file(run: Run, tmp_path: Path) -> None:
    (tmp_path / "groupsync.yaml").write_text("version: 1\npractices:\n  Bad Name: a.yaml\n"
                                             "practise: {}\n")
    r = run("validate", "-f", "groupsync.yaml")
    assert r.code == 1
    assert "Error: groupsync.yaml:4:1: unknown key 'practise' in the top level (did you mean " \
           "'practices'?)\n" in r.err
    assert ("Error: groupsync.yaml:3:13: practices.Bad Name: 'Bad Name' has the wrong "
            "form\n") in r.err


def test_a_saved_plan_stays_fresh_across_another_practices_apply(
        run: Run, tmp_path: Path, store: str) -> None:
    ws = workspace(tmp_path)
    assert run("sandbox", *ws, "--store", store).code == 0
    assert run("apply", *ws, "--store", store, "--auto-approve").code == 0
    fee(tmp_path, "lakeside.yaml", 'fee: "175.00"', 'fee: "180.00"')
    r = run("plan", *ws, "--store", store, "--practice", "lakeside", "--out", "lake.plan")
    assert r.code == 0, r.err
    fee(tmp_path, "riverside.yaml", 'fee: "150.00"', 'fee: "155.00"')
    r = run("apply", *ws, "--store", store, "--practice", "riverside", "--auto-approve")
    assert r.code == 0 and "0 added, 4 changed, 0 removed" in r.out, r.out + r.err
    # riverside's apply moved the store's revision; lakeside's rows didn't move
    r = run("apply", "lake.plan", "--store", store, "--env-file", str(DEMO_ENV))
    assert r.code == 0, r.err
    assert "Apply complete: 0 added, 2 changed, 0 removed." in r.out
    # and the same plan again is stale: its own rows moved
    r = run("apply", "lake.plan", "--store", store, "--env-file", str(DEMO_ENV))
    assert (r.code, r.err) == (1, "Error: the store changed since the plan was made (account "
                                  "200101 changed, and 1 more account or username); run plan "
                                  "again. Nothing was changed\n")


def test_a_saved_plan_stays_fresh_through_the_service(run: Run, tmp_path: Path,
                                                        store: str) -> None:
    ws = workspace(tmp_path)
    assert run("sandbox", *ws, "--store", store).code == 0
    assert run("apply", *ws, "--store", store, "--auto-approve").code == 0
    with serving(store, tmp_path) as (url, _proc):
        fee(tmp_path, "lakeside.yaml", 'fee: "175.00"', 'fee: "180.00"')
        r = run("plan", *ws, "--store", url, "--practice", "lakeside", "--out", "lake.plan")
        assert r.code == 0, r.err
        fee(tmp_path, "riverside.yaml", 'fee: "150.00"', 'fee: "155.00"')
        r = run("apply", *ws, "--store", url, "--practice", "riverside", "--auto-approve")
        assert r.code == 0, r.out + r.err
        r = run("apply", "lake.plan", "--store", url, "--env-file", str(DEMO_ENV))
        assert r.code == 0, r.err
        assert "Apply complete: 0 added, 2 changed, 0 removed." in r.out
        r = run("apply", "lake.plan", "--store", url, "--env-file", str(DEMO_ENV))
        assert r.code == 1 and "the store changed since the plan was made" in r.err


def test_a_fee_change_in_every_account_is_shown_once(run: Run, tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    assert run("sandbox", *ws, "--practice", "riverside").code == 0
    assert run("apply", *ws, "--practice", "riverside", "--auto-approve").code == 0
    fee(tmp_path, "riverside.yaml", 'fee: "150.00"', 'fee: "155.00"')
    r = run("plan", "-f", "riverside.yaml", "--env-file", str(DEMO_ENV))
    assert r.out == ("groupsync will make these changes:\n\n"
                     "in 4 accounts: 100482 (smith), 100517 (jones), 100533 (garcia), "
                     "100561 (chen)\n"
                     "  ~ billing_codes 90837\n"
                     '      fee: "150.00" -> "155.00"\n\n'
                     "Plan: 0 to add, 4 to change, 0 to remove.\n")
    expanded = run("plan", "-f", "riverside.yaml", "--env-file", str(DEMO_ENV), "--expand").out
    assert expanded.count('      fee: "150.00" -> "155.00"\n') == 4
    assert "\naccount 100561 (chen)\n  ~ billing_codes 90837\n" in expanded
    # counting and the JSON are the same either way
    data = json.loads(run("plan", "-f", "riverside.yaml", "--env-file", str(DEMO_ENV),
                          "--json").out)
    assert [c["account"] for c in data["changes"]] == ["100482", "100517", "100533", "100561"]
    markdown = run("plan", "-f", "riverside.yaml", "--env-file", str(DEMO_ENV),
                   "--format", "markdown").out
    assert ("<details><summary>in 4 accounts: 100482 (smith), 100517 (jones), 100533 "
            "(garcia), 100561 (chen): 0 to add, 4 to change, 0 to remove</summary>") in markdown
    assert markdown.count("billing\\_codes 90837") == 1


def test_the_readme_fleet_plan_is_real_output(run: Run, tmp_path: Path) -> None:
    readme = (EXAMPLE.parent.parent / "README.md").read_text()
    start = readme.index("$ groupsync plan -f examples/fleet/groupsync.yaml")
    shown = readme[readme.index("\n", start) + 1:readme.index("```", start)]
    shutil.copytree(EXAMPLE.parent, tmp_path / "examples")
    opts = ("-f", "examples/fleet/groupsync.yaml", "--env-file", "examples/demo.env")
    assert run("sandbox", *opts).code == 0
    assert run("apply", *opts, "--auto-approve").code == 0
    fee(tmp_path, "examples/practice.yaml", 'fee: "150.00"', 'fee: "155.00"')
    fee(tmp_path, "examples/fleet/lakeside.yaml", 'fee: "175.00"', 'fee: "180.00"')
    assert run("plan", *opts).out == shown


@settings(max_examples=budget(6), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(river_fee=st.sampled_from(["150.00", "151.00", "999.99"]),
       lake_fee=st.sampled_from(["175.00", "176.50"]),
       lake_broken=st.booleans(),
       chosen=st.sampled_from([(), ("riverside",), ("lakeside",), ("lakeside", "riverside")]))
def test_planning_a_fleet_is_planning_each_practice_alone(
        run: Run, tmp_path_factory: pytest.TempPathFactory, river_fee: str, lake_fee: str,
        lake_broken: bool, chosen: tuple[str, ...]) -> None:
    tmp_path = tmp_path_factory.mktemp("fleet")
    ws = workspace(tmp_path)
    assert run("sandbox", *ws, cwd=tmp_path).code == 0
    fee(tmp_path, "riverside.yaml", 'fee: "150.00"', f'fee: "{river_fee}"')
    fee(tmp_path, "lakeside.yaml", 'fee: "175.00"', f'fee: "{lake_fee}"')
    if lake_broken:
        fee(tmp_path, "lakeside.yaml", "home: kim", "home: nobody")
    picked = [arg for name in chosen for arg in ("--practice", name)]
    fleet = json.loads(run("plan", *ws, "--json", *picked, cwd=tmp_path).out)
    names = list(chosen) or ["riverside", "lakeside"]
    for name in names:
        alone = run("plan", "-f", f"{name}.yaml", "--env-file", str(DEMO_ENV), "--json",
                    cwd=tmp_path)
        if alone.code == 0:
            assert fleet["practices"][name] == json.loads(alone.out)
            assert name not in fleet["failed"]
        else:
            assert name not in fleet["practices"]
            assert fleet["failed"][name] == "\n".join(
                line.removeprefix("Error: ") for line in alone.err.splitlines())
    assert sorted([*fleet["practices"], *fleet["failed"]]) == sorted(names)


def test_a_fleet_runs_a_thread_a_core_locally_and_two_through_a_service_within_its_cap() -> None:
    """Through a service, a fleet's threads stay under a quarter of the connections the
    service takes from one address (more would be closed as they arrive: a 70-practice fleet
    on a 40-core runner failed 9 practices); never more threads than practices."""
    from groupsync.cli import fleet_workers
    from groupsync.defaults import MAX_CONNECTIONS_PER_ADDRESS

    assert [fleet_workers(200, 2, False), fleet_workers(200, 2, True)] == [2, 4]
    assert fleet_workers(200, 40, False) == 40
    assert fleet_workers(200, 40, True) == MAX_CONNECTIONS_PER_ADDRESS // 4 == 16
    assert [fleet_workers(3, 8, True), fleet_workers(0, 8, False)] == [3, 1]
