"""Export, schema, access review, Markdown plans, progress and help: the tools around plan/apply."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from benchmarks.generate import SIZES, generate
from groupsync.config import load_file
from groupsync.schema import practice_schema
from groupsync.vocabulary import AREAS

from .conftest import DEMO_ENV, EXAMPLE, FIXED_NOW, REQUIRED, ROOT, Result, demo_env
from .support import on_terminal, schema_problems

Run = Callable[..., Result]
FILES = ("-f", str(EXAMPLE), "--env-file", str(DEMO_ENV))
BAD = Path(__file__).parent / "data" / "bad"


def applied(run: Run) -> None:
    assert run("sandbox", *FILES).code == 0
    assert run("apply", *FILES, "--auto-approve").code == 0


# -- export ---------------------------------------------------------------------------------

def test_export_then_plan_says_no_changes(run: Run, tmp_path: Path) -> None:
    applied(run)
    # the current practice file beside it: its people are kept
    r = run("export", "-f", str(EXAMPLE), "--master", "riverside-admin", "--out",
            "exported.yaml")
    assert r.code == 0, r.err
    assert r.out == ("Wrote exported.yaml. It needs these variables: JSMITH_PASSWORD, "
                     "RJONES_PASSWORD, MGARCIA_PASSWORD, DCHEN_PASSWORD, MASTER_PASSWORD, "
                     "BILLING_PASSWORD, FRONTDESK_PASSWORD\n")
    text = (tmp_path / "exported.yaml").read_text()
    for secret in demo_env().values():
        assert secret not in text
    assert "#   MASTER_PASSWORD" in text  # the variables are listed at the end
    assert '  person: "Alex Rivera (practice manager)"' in text
    assert 'accounts: all, person: "Sam Okafor"}' in text
    demo = demo_env()
    env = {"JSMITH_PASSWORD": demo["SMITH_PASSWORD"], "RJONES_PASSWORD": demo["JONES_PASSWORD"],
           "MGARCIA_PASSWORD": demo["GARCIA_PASSWORD"], "DCHEN_PASSWORD": demo["CHEN_PASSWORD"],
           "MASTER_PASSWORD": demo["MASTER_PASSWORD"],
           "BILLING_PASSWORD": demo["BILLING_PASSWORD"],
           "FRONTDESK_PASSWORD": demo["FRONTDESK_PASSWORD"]}
    r = run("plan", "-f", "exported.yaml", "--detailed-exitcode", env=env)
    assert (r.code, r.out, r.err) == (0, "No changes. The store matches the file.\n", "")


def test_export_keeps_per_account_privileges_and_drifted_copies(run: Run, tmp_path: Path) -> None:
    applied(run)
    from groupsync.accounts import open_system
    from groupsync.export import export

    system = open_system(str(tmp_path / "groupsync.db"))
    with system.session("riverside-admin", demo_env()["MASTER_PASSWORD"]) as s:
        s.set_privileges("100533", "frontdesk", {"reports": "view", "scheduling": "view"})
        s.set_privileges("100517", "riverside-admin", {"notes": "none"})
        s.put_codes("100561", "billing_codes", [{"code": "90837", "fee": "1"}])
    result = export(system.read_state(), master="riverside-admin")
    path = tmp_path / "again.yaml"
    path.write_text(result.text)
    desired = load_file(path)
    assert desired.privileges["frontdesk"].resolve("100533")["reports"] == "view"
    assert desired.privileges["riverside-admin"].resolve("100517")["notes"] == "none"
    assert desired.codes is not None and "100561" not in desired.codes.copy_to
    from groupsync.plan import make_plan

    assert make_plan(desired, system.read_state()).changes == []


def test_export_needs_a_scope(run: Run) -> None:
    applied(run)
    r = run("export")
    assert (r.code, r.err) == (1, "Error: export needs --master USERNAME or at least one --login "
                                  "USERNAME\n")
    r = run("export", "--login", "nobody")
    assert (r.code, r.err) == (1, "Error: username nobody does not exist in the store\n")
    r = run("export", "--login", "jsmith", "--login", "rjones")
    # the group's existing master is kept, never a second one invented
    assert r.code == 0 and "groupsync-admin" not in r.out
    assert '\nmaster:\n  username: "riverside-admin"\n  password: "${MASTER_PASSWORD}"\n' \
           '  home: jsmith\n' in r.out
    r = run("sandbox", "--store", "fresh.db", "-f", str(EXAMPLE), "--env-file", str(DEMO_ENV))
    r = run("export", "--login", "jsmith", "--login", "rjones", "--store", "fresh.db")
    assert r.code == 0 and "no master username was given or found: groupsync-admin will be " \
                           "created in account 100482" in r.out


def test_export_variable_names_are_unique_and_never_the_masters(tmp_path: Path) -> None:
    from groupsync.accounts.model import Account, State, User
    from groupsync.export import export

    state = State(lineage="l", revision=1)
    for acct, login in (("1", "master"), ("2", "a.b"), ("3", "a-b")):
        state.accounts[acct] = Account(acct, f"Provider {acct}", login)
        state.users[login] = User(login, acct, "")
        state.set_access(login, acct, {a: "full" for a in AREAS})
    for acct in ("1", "2", "3"):
        state.set_access("boss", acct, {a: "full" for a in AREAS})
    state.users["boss"] = User("boss", "1", "")
    result = export(state, logins=["master", "a.b", "a-b"])
    assert result.variables == ["MASTER_2_PASSWORD", "A_B_PASSWORD", "A_B_2_PASSWORD",
                                "MASTER_PASSWORD"]
    assert len(set(result.variables)) == 4


# -- schema ---------------------------------------------------------------------------------

def test_schema_command_and_the_example(run: Run, tmp_path: Path) -> None:
    r = run("schema")
    assert r.code == 0
    schema = json.loads(r.out)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema == practice_schema()
    first = EXAMPLE.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=./practice.schema.json"
    assert json.loads((ROOT / "examples" / "practice.schema.json").read_text()) == schema
    assert schema_problems(EXAMPLE.read_text()) == []
    for size in ("S", "M"):
        generated = tmp_path / f"{size}.yaml"
        generated.write_text(generate(SIZES[size])[0])
        assert schema_problems(generated.read_text()) == [], size


# -- access review ----------------------------------------------------------------------------

def test_access_table_and_csv_flag_risky_grants(run: Run, tmp_path: Path) -> None:
    applied(run)
    from groupsync.accounts import open_system

    system = open_system(str(tmp_path / "groupsync.db"))
    with system.session("riverside-admin", demo_env()["MASTER_PASSWORD"]) as s:
        s.set_privileges("100533", "billing", {"notes": "full"})
    r = run("access", "-f", str(EXAMPLE))
    assert r.code == 0
    lines = r.out.splitlines()
    # every area named in full (docs/contracts.md, "Clients and the editor schema")
    assert lines[0].split() == ["username", "person", "account", "role", *AREAS, "last_login",
                                "flags"]
    # the cell is the role's no more: marked * and said in the flags
    assert any(line.startswith("billing ") and "100533" in line and " biller* " in line
               and line.endswith("full notes outside home; levels differ from role biller")
               for line in lines)
    assert any(line.startswith("billing ") and "100517" in line and " biller " in line
               and not line.endswith("biller") for line in lines)
    # the master's full grants in the practice's accounts are its job, not a flag
    assert lines[-1] == ("F full, V view, . none. A role marked * has levels that differ "
                         "from it. 16 access rows, 1 flagged.")
    rows = list(csv.DictReader(io.StringIO(run("access", "-f", str(EXAMPLE), "--format",
                                               "csv").out)))
    assert len(rows) == 16
    flagged = {(r["username"], r["account"]): r["flags"] for r in rows if r["flags"]}
    assert flagged == {("billing", "100533"): "notes"}
    roles = {(r["username"], r["account"]): (r["role"], r["role_differs"]) for r in rows
             if r["role"]}
    assert roles[("billing", "100533")] == ("biller", "yes")
    assert roles[("billing", "100517")] == ("biller", "")
    assert roles[("frontdesk", "100482")] == ("front-desk", "")
    # last log-ins: the master logged in (the apply, then this test's session); the staff
    # never did
    last = {r["username"]: r["last_login"] for r in rows}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", last["riverside-admin"])
    assert last["billing"] == ""
    # the person the file names, beside the username (CSV: the last column)
    assert {r["username"]: r["person"] for r in rows} == {
        "riverside-admin": "Alex Rivera (practice manager)", "frontdesk": "Sam Okafor",
        "billing": "Priya Natarajan", "jsmith": "", "rjones": "", "mgarcia": "", "dchen": ""}
    assert list(rows[0])[-1] == "person"
    assert any(line.startswith("billing ") and " never " in line for line in lines)
    assert ("riverside-admin", "100482") not in roles  # a level, not a role


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_access_html_in_a_real_browser(run: Run, tmp_path: Path) -> None:
    """The review page in real Chromium (Debian's, driven by Playwright): filters work, the
    page says what it shows, and at a 420 px phone width it never scrolls sideways."""
    browser_path = _chromium()
    if browser_path is None:
        if REQUIRED:
            pytest.fail("chromium is required in CI (.ci/run installs Debian's chromium)")
        pytest.skip("no chromium on this machine (.ci/run installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    applied(run)
    from groupsync.accounts import open_system

    system = open_system(str(tmp_path / "groupsync.db"))
    with system.session("riverside-admin", demo_env()["MASTER_PASSWORD"]) as s:
        s.set_privileges("100533", "billing", {"notes": "full"})  # one risky grant
        s.allow_access("100517", "a" * 64, "pw-long-name-2026", {"clients": "view"})
    r = run("access", "-f", str(EXAMPLE), "--format", "html", "--out", "review.html")
    assert r.code == 0
    page_file = tmp_path / "review.html"
    html = page_file.read_text()
    assert "<script src" not in html and "<link" not in html and "http" not in html

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def visible(query: str) -> list[list[str]]:
                page.goto(f"file://{page_file}{query}")
                return [row.locator("td").all_inner_texts()
                        for row in page.locator("#matrix tbody tr:visible").all()]

            assert len(visible("")) == 17
            desk = visible("?username=frontdesk")
            assert [row[1] for row in desk] == ["Sam Okafor"] * 4  # the person, then
            assert [row[2] for row in desk] == ["100482", "100517", "100533", "100561"]
            assert desk[0][5] == "front-desk"  # the role the file names, then the levels
            assert desk[0][6:15] == ["view", "full", "none", "none", "none", "none", "none",
                                     "none", "none"]
            garcia = visible("?account=garcia")
            assert {row[2] for row in garcia} == {"100533"} and len(garcia) == 4
            header = page.locator("h1").inner_text() + page.locator(".meta").inner_text()
            assert "Riverside Counseling Group" in header
            assert f"Made {FIXED_NOW[:10]}" in header and "store revision 6" in header
            # full reads as risk (never green), and a flagged grant is the strongest of all
            full = page.locator("td.full:not(.risky)").first.evaluate(
                "e => getComputedStyle(e).backgroundColor")
            assert full == "rgb(246, 201, 196)"
            risky = page.locator("td.risky")
            assert risky.count() == 1 and risky.get_attribute("data-area") == "notes"
            assert risky.evaluate("e => getComputedStyle(e).backgroundColor") == \
                "rgb(179, 38, 30)"

            page.set_viewport_size({"width": 420, "height": 900})
            page.goto(f"file://{page_file}")
            widths = page.evaluate("""() => ({
                page: document.documentElement.scrollWidth,
                body: document.body.scrollWidth,
                view: window.innerWidth,
                box: document.querySelector('.scroll').scrollWidth,
                boxView: document.querySelector('.scroll').clientWidth,
                filter: document.getElementById('filter-account').getBoundingClientRect().right,
            })""")
            assert widths["page"] <= widths["view"] == 420, widths
            assert widths["body"] <= 420 and widths["filter"] <= 420, widths
            assert widths["box"] > widths["boxView"], widths  # the matrix scrolls in its box
            # a 64-character username is cut (whole in its title), not a wall over the areas
            longest = page.locator("#matrix tbody td.username", has_text="a" * 20).first
            box = longest.bounding_box()
            assert box is not None and box["width"] <= 160, box
            assert longest.get_attribute("title") == "a" * 64
            name = page.locator("#matrix tbody td.username").first
            before = name.bounding_box()
            page.locator(".scroll").evaluate("e => e.scrollLeft = 400")
            after = name.bounding_box()
            assert before is not None and after is not None and before["x"] == after["x"]
        finally:
            browser.close()


# -- progress, help ------------------------------------------------------------------------------

def test_progress_bar_only_on_a_terminal(run: Run, tmp_path: Path) -> None:
    assert run("sandbox", *FILES).code == 0
    shown = on_terminal(tmp_path, "apply", *FILES, "--auto-approve")
    assert "Applying" in shown and "Apply complete" in shown
    run("sandbox", *FILES, "--store", "other.db")
    piped = run("apply", *FILES, "--auto-approve", "--store", "other.db")
    assert piped.code == 0 and "Applying" not in piped.out + piped.err


COMMANDS = ["validate", "plan", "apply", "show", "log", "sandbox", "schema", "access", "export",
            "notice", "serve", "store init", "store migrate"]


def test_every_command_has_a_summary_an_example_and_a_readme_entry(run: Run) -> None:
    listing = run("--help").out
    readme = (ROOT / "README.md").read_text()
    listed = re.findall(r"^  (\w+)\s", listing.split("Commands:")[1], re.M)
    assert sorted(listed) == sorted({c.split()[0] for c in COMMANDS})
    for command in COMMANDS:
        r = run(*command.split(), "--help")
        assert r.code == 0
        summary = r.out.split("\n\n")[1].strip()
        assert summary and "\n" not in summary, command
        assert re.search(rf"Example: groupsync {command}\b", r.out), command
        assert f"groupsync {command}" in readme, command


# -- group-rate notices -----------------------------------------------------------------------

def test_notice_marks_added_and_cancelled_providers(run: Run, tmp_path: Path) -> None:
    applied(run)
    today = FIXED_NOW[:10]
    r = run("notice", *FILES)
    assert r.code == 0
    assert r.out == f"""GROUP PRACTICE NOTICE

Date: {today}
Practice: Riverside Counseling Group
TIN: 12-3456789

The following providers bill under this TIN as one group practice:

  Provider            Account ID  Bills electronically  Status
  Jane Smith, PhD     100482      yes
  Robert Jones, LCSW  100517      yes
  Maria Garcia, LMFT  100533      no
  David Chen, LPC     100561      yes

This is the practice's first notice.
"""
    r = run("notice", *FILES, "--mark-sent")
    assert r.code == 0 and r.out.endswith("Recorded this notice as sent (4 providers).\n")
    # Chen leaves, a new provider joins
    text = EXAMPLE.read_text()
    start = text.index("  chen:")
    end = text.index("# The master username")
    newer = text[:start] + """  patel:
    name: Priya Patel, PsyD
    account_id: "100588"
    login: {username: ppatel, password: "${PATEL_PASSWORD}"}

""" + text[end:]
    changed = tmp_path / "changed.yaml"
    changed.write_text(newer)
    r = run("notice", "-f", str(changed), "--env-file", str(DEMO_ENV), "--json")
    data = json.loads(r.out)
    assert [(p["account_id"], p["status"]) for p in data["providers"]] == [
        ("100482", ""), ("100517", ""), ("100533", ""), ("100588", "added"),
        ("100561", "cancelled")]
    entries = json.loads(run("log", "--json", "--limit", "1").out)["entries"]
    assert entries[0]["type"] == "notice" and entries[0]["actor"] == "riverside-admin"


def test_plan_warns_about_trials_ending_without_a_sent_notice(run: Run, tmp_path: Path) -> None:
    import sqlite3

    applied(run)
    soon = "2026-03-07"  # five days after the tests' fixed clock (FIXED_NOW)
    conn = sqlite3.connect(tmp_path / "groupsync.db")
    conn.execute("UPDATE accounts SET trial_ends = ? WHERE account_id = '100517'", (soon,))
    conn.commit()
    conn.close()
    r = run("plan", *FILES)
    assert r.out == (
        "Warning: provider jones's free trial ends on " + soon + " (in 5 days) and no sent "
        "notice includes account 100517; print it with 'groupsync notice', send it, then "
        "record it with 'groupsync notice --mark-sent'\n\nNo changes. The store matches the "
        "file.\n")
    assert run("notice", *FILES, "--mark-sent").code == 0
    assert run("plan", *FILES).out == "No changes. The store matches the file.\n"
