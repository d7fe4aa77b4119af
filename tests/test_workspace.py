"""What a workspace adds to its practices (docs/contracts.md, "Running many practices"): the
shared file's roles, policies and codes, and a billing service's own usernames, joined as
guests in the practices they name."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from groupsync.config import load_file
from groupsync.workspace import load_workspace

from .conftest import DEMO_ENV, EXAMPLE, Result
from .support import serving

Run = Callable[..., Result]
LAKESIDE = EXAMPLE.parent / "fleet" / "lakeside.yaml"

SHARED = """\
roles:
  biller: {billing: full, claims: full, codes: view}   # riverside has its own biller
  auditor: view
policies:
  - name: billers never read notes
    deny: {role: biller, areas: [notes, clients]}
  - name: nobody holds full reports
    deny: {areas: [reports], at_least: full, except: [riverside-admin, lakeside-admin]}
    severity: warn
codes:
  insurance_payers:
    - {name: AETNA, payer_id: "99999", claims: electronic}
    - {name: Tricare, payer_id: "99726", claims: electronic}
"""

BILLER = """\
usernames:
  acme-biller:
    password: "${{ACME_BILLER_PASSWORD}}"
    person: Dana Ruiz
    home: riverside/jones
    practices: {practices}
    privileges: {privileges}
"""


def workspace(tmp_path: Path, shared: str | None = SHARED, people: str = "") -> tuple[str, ...]:
    shutil.copy(EXAMPLE, tmp_path / "riverside.yaml")
    shutil.copy(LAKESIDE, tmp_path / "lakeside.yaml")
    text = "version: 1\npractices:\n  riverside: riverside.yaml\n  lakeside: lakeside.yaml\n"
    if shared is not None:
        (tmp_path / "shared.yaml").write_text(shared)
        text += "shared: shared.yaml\n"
    (tmp_path / "groupsync.yaml").write_text(text + people)
    return ("-f", "groupsync.yaml", "--env-file", str(DEMO_ENV))


def edit(tmp_path: Path, name: str, old: str, new: str) -> None:
    path = tmp_path / name
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_a_practice_starts_from_the_shared_file_and_its_own_entries_win(
        run: Run, tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    assert run("sandbox", *ws).code == 0
    data = json.loads(run("plan", *ws, "--json").out)
    lake = {(c["type"], c.get("key"), c["account"]): c for c in
            data["practices"]["lakeside"]["changes"]}
    # lakeside has no payers of its own: it gets the shared ones
    assert lake[("code", "AETNA", "200101")]["after"]["payer_id"] == "99999"
    assert ("code", "Tricare", "200102") in lake
    river = {(c["type"], c.get("key"), c["account"]): c for c in
             data["practices"]["riverside"]["changes"]}
    # riverside's Aetna is the same payer (a payer's name ignores case): its own wins
    assert river[("code", "Aetna", "100482")]["after"]["payer_id"] == "60054"
    assert ("code", "AETNA", "100482") not in river
    assert ("code", "Tricare", "100482") in river
    # riverside's own biller role (view on clients) replaces the shared one
    billing = next(c for c in data["practices"]["riverside"]["changes"]
                   if c.get("username") == "billing" and c["account"] == "100517")
    assert billing["after"]["clients"] == "view"
    # riverside's own policy of the same name replaces the shared one (which would deny its
    # biller's view on clients); the shared policy neither names applies in both
    for name in ("riverside", "lakeside"):
        warnings = data["practices"][name]["warnings"]
        assert any(w.startswith('policy "nobody holds full reports"') for w in warnings), name
        assert not any("billers never read notes" in w for w in warnings), name


def test_a_shared_file_s_errors_name_it(run: Run, tmp_path: Path) -> None:
    ws = workspace(tmp_path, shared="rolez: {}\n")
    r = run("validate", *ws)
    problem = "shared.yaml:1:1: unknown key 'rolez' in the top level (did you mean 'roles'?)"
    # every practice starts from it, so each fails with it, under its name
    assert (r.code, r.err) == (1, f"Error: riverside: {problem}\nError: lakeside: {problem}\n")
    data = json.loads(run("plan", *ws, "--json").out)
    assert data["practices"] == {} and data["failed"] == {"riverside": problem,
                                                          "lakeside": problem}
    # a problem only a practice can see (its provider keys) names the shared file's line,
    # in every practice it concerns
    ws = workspace(tmp_path, shared="policies:\n  - name: no notes\n    deny:\n"
                                    "      areas: [notes]\n      accounts: [smith]\n")
    r = run("validate", *ws)
    assert r.code == 1
    assert r.out.count("shared.yaml:5:18: unknown provider 'smith'") == 1, r.out
    assert "== riverside ==\nriverside.yaml is valid" in r.out
    assert "== lakeside ==\nError: shared.yaml:5:18: unknown provider 'smith'" in r.out
    # a role the shared file declares is held by nobody in a practice: no warning there
    ws = workspace(tmp_path)
    r = run("validate", *ws)
    assert r.code == 0 and "auditor" not in r.out + r.err, r.out + r.err


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)  # no SQL of its own
def test_a_billing_service_username_across_two_practices_with_prune_in_one(
        run: Run, tmp_path: Path, store: str) -> None:
    ws = workspace(tmp_path, people=BILLER.format(
        practices="{riverside: [chen], lakeside: [kim]}", privileges="biller"))
    # prune everything in lakeside: the workspace's guest is never pruned there
    edit(tmp_path, "lakeside.yaml", "codes:\n", "prune: {usernames: true, joins: true}\n\n"
                                                "codes:\n")
    # and joins in riverside, its home: its lakeside access is never pruned there either
    edit(tmp_path, "riverside.yaml", "  joins: false\n", "  joins: true\n")
    assert run("sandbox", *ws, "--store", store).code == 0
    r = run("plan", *ws, "--store", store)
    assert r.code == 0, r.err
    # a role is the practice's: riverside's own biller, lakeside's the shared one
    assert ("\naccount 100517 (jones)\n  + username acme-biller (home; biller: full on "
            "billing, claims; view on clients, codes, reports; none elsewhere)\n") in r.out
    # lakeside can't join it before riverside has made it: said, not planned
    assert "join acme-biller" not in r.out.split("== lakeside ==")[1]
    assert ("Warning: guest acme-biller doesn't exist yet: it is joined here once its home, "
            "outside this practice, has made it (a workspace apply applies its home practice "
            "first, then this one again)") in r.out
    # an apply applies its home practice first, whatever the workspace's order
    (tmp_path / "groupsync.yaml").write_text(
        (tmp_path / "groupsync.yaml").read_text().replace(
            "  riverside: riverside.yaml\n  lakeside: lakeside.yaml\n",
            "  lakeside: lakeside.yaml\n  riverside: riverside.yaml\n"))
    r = run("apply", *ws, "--store", store, "--auto-approve")
    assert r.code == 0, r.out + r.err
    assert r.out.index("== riverside ==") < r.out.index("== lakeside ==")
    # by then riverside has made it: lakeside's apply joins it, with lakeside's biller
    assert ("  + join acme-biller (biller: full on billing, claims; view on codes; none "
            "elsewhere)\n") in r.out.split("== lakeside ==")[1]
    r = run("plan", *ws, "--store", store, "--detailed-exitcode")
    assert r.code == 0, r.out
    assert "acme-biller" not in r.out
    review = run("access", *ws, "--store", store, "--format", "csv", "--practice", "lakeside")
    assert review.code == 0, review.err
    # lakeside's review shows the guest in lakeside's accounts, not in riverside's
    guest = [line for line in review.out.splitlines() if line.startswith("acme-biller,")]
    assert len(guest) == 1 and ",200101," in guest[0], review.out
    # the guest joined itself, with kim's login, and the master set its privileges
    log = run("log", "--store", store, "--json").out
    joins = [e for e in json.loads(log)["entries"]
             if e["type"] == "join" and e.get("username") == "acme-biller"]
    assert {(e["account"], e["actor"]) for e in joins} == {("200101", "acme-biller"),
                                                           ("100561", "riverside-admin")}
    # dropping lakeside from its practices removes it there (prune.joins is on), not
    # elsewhere
    edit(tmp_path, "groupsync.yaml", "{riverside: [chen], lakeside: [kim]}",
         "{riverside: [chen]}")
    r = run("plan", *ws, "--store", store)
    assert r.code == 0, r.err
    assert "  - join acme-biller" in r.out.split("== lakeside ==")[1]
    assert "- join acme-biller" not in r.out.split("== lakeside ==")[0]
    # and a practice the workspace doesn't name it in may not declare it: it is taken there
    edit(tmp_path, "lakeside.yaml", "master:\n", "usernames:\n  acme-biller:\n"
         "    password: \"${KIM_PASSWORD}\"\n    person: Someone\n    home: kim\n"
         "privileges:\n  acme-biller: view\n\nmaster:\n")
    r = run("plan", *ws, "--store", store, "--practice", "lakeside")
    assert r.code == 1
    assert "Error: username acme-biller is taken; usernames are unique across the store, " \
           "so choose another" in r.out


def test_two_billing_usernames_each_a_guest_in_the_other_s_home_apply_in_one_run(
        run: Run, tmp_path: Path) -> None:
    """Each practice's apply makes its own and joins the other's, which doesn't exist yet:
    the join waits (no failed log-in, no failed apply), and the practice is applied again
    once the other's home has made it."""
    ws = workspace(tmp_path, shared=None, people=BILLER.format(
        practices="{riverside: [chen], lakeside: [kim]}", privileges="view") + (
        "  lake-biller:\n    password: \"${ACME_BILLER_PASSWORD}\"\n    person: Lee Park\n"
        "    home: lakeside/patel\n    practices: {riverside: [garcia], lakeside: [kim]}\n"
        "    privileges: view\n"))
    assert run("sandbox", *ws).code == 0
    r = run("apply", *ws, "--auto-approve")
    assert r.code == 0, r.out + r.err
    assert [line for line in r.out.splitlines() if line.startswith("==")] == [
        "== riverside ==", "== lakeside ==", "== riverside (again: its guests now exist) =="]
    assert "login failed" not in r.out + r.err
    r = run("plan", *ws, "--detailed-exitcode")
    assert r.code == 0, r.out


def test_a_practice_s_own_sections_and_privileges_stay_its_own(run: Run,
                                                              tmp_path: Path) -> None:
    ws = workspace(tmp_path, shared=None, people=BILLER.format(
        practices="{riverside: [chen], lakeside: [kim]}", privileges="{all: view, chen: full}"))
    # chen is riverside's provider: lakeside gives the biller its own levels instead
    edit(tmp_path, "lakeside.yaml", "master:\n", "privileges:\n  acme-biller: {kim: "
                                                 "{billing: full}}\n\nmaster:\n")
    r = run("validate", *ws)
    assert r.code == 0, r.out + r.err
    # a section of the practice's own that is wrong is reported as it is, not replaced
    edit(tmp_path, "lakeside.yaml", "privileges:\n  acme-biller: {kim: {billing: full}}\n",
         "guests: [whoever]\n")
    r = run("validate", *ws, "--practice", "lakeside")
    assert r.code == 1
    assert "lakeside.yaml:19:9: guests: must be a mapping, not a list" in r.out, r.out
    # and a practice the workspace doesn't name may not make it its guest
    edit(tmp_path, "groupsync.yaml", "{riverside: [chen], lakeside: [kim]}",
         "{riverside: [chen]}")
    edit(tmp_path, "lakeside.yaml", "guests: [whoever]\n", "guests:\n  acme-biller: "
         "{password: \"${ACME_BILLER_PASSWORD}\", accounts: all}\nprivileges:\n"
         "  acme-biller: full\n")
    r = run("validate", *ws, "--practice", "lakeside")
    assert r.code == 1
    assert ("Error: lakeside.yaml:20:3: acme-biller is the workspace's username "
            "(groupsync.yaml, line 6), which doesn't name this practice: add it under its "
            "practices there instead\n") in r.out, r.out


def test_a_practice_may_not_declare_a_workspace_username_again(run: Run,
                                                                tmp_path: Path) -> None:
    ws = workspace(tmp_path, shared=None, people=BILLER.format(
        practices="{lakeside: [kim]}", privileges="view"))
    edit(tmp_path, "lakeside.yaml", "master:\n", "guests:\n  Acme-Biller: {password: "
                                                 "\"${KIM_PASSWORD}\", accounts: all}\n\n"
                                                 "master:\n")
    r = run("validate", *ws, "--practice", "lakeside")
    assert r.code == 1
    assert ("Error: lakeside.yaml:20:3: Acme-Biller is declared by the workspace "
            "(groupsync.yaml, line 6); remove it here, or from the workspace\n") in r.out, r.out


def test_a_workspace_username_s_errors_name_the_workspace(run: Run, tmp_path: Path) -> None:
    ws = workspace(tmp_path, shared=None, people=BILLER.format(
        practices="{lakeside: [kimm], hillside: all}", privileges="biller"))
    r = run("validate", *ws)
    assert (r.code, r.err) == (1, "Error: groupsync.yaml:10:35: the workspace has no practice "
                                  "'hillside'\n")
    ws = workspace(tmp_path, shared=None, people=BILLER.format(
        practices="{lakeside: [kimm]}", privileges="nobody"))
    r = run("validate", *ws, "--practice", "lakeside")
    assert r.code == 1
    assert r.out == ("== lakeside ==\n"
                     "Error: groupsync.yaml:10:28: unknown provider 'kimm' (did you mean 'kim'?)\n"
                     "Error: groupsync.yaml:11:17: unknown level 'nobody' (levels: full, view, "
                     "none)\n\nFleet: 1 practice, 1 failed.\n")


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)  # no SQL of its own
def test_the_merged_practice_plans_as_the_fleet_does_and_through_serve(
        run: Run, tmp_path: Path, store: str) -> None:
    """What a service re-plans from (the merged file's text) is what was checked here: the
    fleet's plan of each practice equals the plan of its merged text, alone."""
    ws = workspace(tmp_path, people=BILLER.format(
        practices="{riverside: all, lakeside: [kim, patel]}", privileges="auditor"))
    assert run("sandbox", *ws, "--store", store).code == 0
    fleet = json.loads(run("plan", *ws, "--store", store, "--json").out)
    loaded = load_workspace(str(tmp_path / "groupsync.yaml"),
                            (tmp_path / "groupsync.yaml").read_bytes())
    for name, path in loaded.practices.items():
        merged = load_file(path, loaded.overlay(name))
        (tmp_path / f"{name}.merged.yaml").write_text(merged.text)
        alone = run("plan", "-f", f"{name}.merged.yaml", "--env-file", str(DEMO_ENV),
                    "--store", store, "--json")
        assert alone.code == 0, alone.err
        got = json.loads(alone.out)
        # the warnings name the file they come from; the changes are the same
        assert got["changes"] == fleet["practices"][name]["changes"], name
    with serving(store, tmp_path) as (url, _proc):
        r = run("apply", *ws, "--store", url, "--auto-approve")
        assert r.code == 0, r.out + r.err
        r = run("plan", *ws, "--store", url, "--detailed-exitcode")
        assert r.code == 0, r.out + r.err
    r = run("plan", *ws, "--store", store, "--detailed-exitcode")
    assert r.code == 0, r.out
