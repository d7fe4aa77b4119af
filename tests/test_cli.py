"""The command line, run as a real process: exit codes and exact messages
(docs/contracts.md, "Commands and exit codes")."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import DEMO_ENV, EXAMPLE, Result, demo_env
from .support import on_terminal

Run = Callable[..., Result]
FILES = ("-f", str(EXAMPLE), "--env-file", str(DEMO_ENV))


def setup(run: Run) -> None:
    assert run("sandbox", *FILES).code == 0


def test_validate(run: Run, tmp_path: Path) -> None:
    r = run("validate", "-f", str(EXAMPLE))
    assert (r.code, r.err) == (0, "")
    assert r.out == (f"{EXAMPLE} is valid: 4 providers, 2 staff usernames, "
                     "19 inline code records.\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text().replace("  tin: \"12-3456789\"", "  tin: 12-34\n  tim: 1"))
    r = run("validate", "-f", str(bad))
    assert r.code == 1 and r.out == ""
    assert r.err == (f"Error: {bad}:16:8: practice.tin: TIN '12-34' is not 9 digits (NN-NNNNNNN)\n"
                     f"Error: {bad}:17:3: unknown key 'tim' in practice (did you mean 'tin'?)\n")


def test_file_from_environment_and_missing_file(run: Run) -> None:
    r = run("validate", env={"GROUPSYNC_FILE": str(EXAMPLE)})
    assert r.code == 0 and "is valid" in r.out
    r = run("validate")
    assert (r.code, r.err) == (1, "Error: practice.yaml: file not found\n")


def test_commands_other_than_sandbox_need_an_existing_store(run: Run, tmp_path: Path) -> None:
    for command in ("plan", "apply", "show", "log"):
        r = run(command, *FILES)
        assert r.code == 1, command
        assert r.err == ("Error: no store at groupsync.db; create one with 'groupsync sandbox' "
                         "or point --store / GROUPSYNC_STORE at an existing one\n")
    assert not (tmp_path / "groupsync.db").exists()


def test_the_main_job_end_to_end(run: Run, tmp_path: Path) -> None:
    r = run("sandbox", *FILES)
    assert r.code == 0
    assert r.out.splitlines()[-1] == "Sandbox store groupsync.db: 4 provider accounts (4 new)."
    again = run("sandbox", *FILES)  # idempotent
    assert again.out == "Sandbox store groupsync.db: 4 provider accounts (0 new).\n"

    r = run("plan", *FILES, "--detailed-exitcode")
    assert r.code == 2, r.err
    assert r.out.endswith("\nPlan: 88 to add, 4 to change, 0 to remove.\n")
    assert "  + join frontdesk (front-desk: full on scheduling; view on clients; none " \
           "elsewhere)\n" in r.out

    r = run("apply", *FILES, "--auto-approve")
    assert r.code == 0, r.err
    assert r.out.endswith("\nApply complete: 88 added, 4 changed, 0 removed. "
                          "Store groupsync.db is at revision 5.\n")

    r = run("plan", *FILES, "--detailed-exitcode")
    assert (r.code, r.out) == (0, "No changes. The store matches the file.\n")


def test_apply_without_a_terminal_needs_auto_approve(run: Run) -> None:
    setup(run)
    r = run("apply", *FILES, input="yes\n")
    assert r.code == 1
    assert r.err == ("Error: apply needs --auto-approve when not run from a terminal; "
                     "nothing was changed\n")
    assert json.loads(run("show", *FILES, "--json").out)["revision"] == 4




def test_apply_on_a_terminal_asks_and_only_yes_applies(run: Run, tmp_path: Path) -> None:
    setup(run)
    codes: list[int] = []
    out = on_terminal(tmp_path, "apply", *FILES, answer="no", codes=codes)
    # docs/contracts.md, "Commands and exit codes": an answer other than yes is an apply that did
    # not happen: exit 1
    assert out.endswith("Error: apply cancelled (the answer was not 'yes'); nothing was "
                        "changed\n")
    out = on_terminal(tmp_path, "apply", *FILES, answer="^C", codes=codes)
    assert out.endswith("Interrupted; nothing was changed.\n")
    assert codes == [1, 130]
    assert json.loads(run("show", *FILES, "--json").out)["revision"] == 4
    out = on_terminal(tmp_path, "apply", *FILES, answer="yes")
    assert "Apply complete: 88 added, 4 changed, 0 removed." in out
    assert json.loads(run("show", *FILES, "--json").out)["revision"] == 5


def test_saved_plan_applies_once_then_is_stale(run: Run, tmp_path: Path) -> None:
    setup(run)
    r = run("plan", *FILES, "--out", "riverside.plan")
    assert r.code == 0
    assert r.out.endswith("\nPlan: 88 to add, 4 to change, 0 to remove.\n")
    # the hint repeats the options the plan was made with, so it can be pasted as it is
    assert r.err == ("Saved the plan to riverside.plan; apply it with: "
                     f"groupsync apply riverside.plan --env-file {DEMO_ENV}\n")
    saved = (tmp_path / "riverside.plan").read_text()
    assert oct((tmp_path / "riverside.plan").stat().st_mode & 0o777) == "0o600"
    for secret in demo_env().values():
        assert secret not in saved
    # a saved plan needs no practice file, only the variables it names
    r = run("apply", "riverside.plan", env=demo_env())
    assert r.code == 0, r.err
    r = run("apply", "riverside.plan", env=demo_env())
    assert r.code == 1
    assert r.err == ("Error: the store changed since the plan was made (account 100482 changed, "
                     "and 6 more accounts or usernames); run plan again. Nothing was changed\n")


def test_saved_plan_for_another_store_is_refused(run: Run, tmp_path: Path) -> None:
    setup(run)
    assert run("plan", *FILES, "--out", "p.plan").code == 0
    other = tmp_path / "other"
    other.mkdir()
    assert run("sandbox", *FILES, cwd=other).code == 0
    r = run("apply", str(tmp_path / "p.plan"), *FILES, cwd=other)
    assert r.code == 1 and "the plan was made for another store" in r.err
    assert json.loads(run("show", *FILES, "--json", cwd=other).out)["revision"] == 4


def test_plan_json_contract(run: Run) -> None:
    setup(run)
    data = json.loads(run("plan", *FILES, "--json").out)
    assert data["format_version"] == "1"
    assert data["revision"] == 4 and len(data["lineage"]) == 36
    assert data["summary"] == {"add": 88, "change": 4, "remove": 0}
    join = next(c for c in data["changes"] if c["type"] == "join")
    assert list(join)[:6] == ["action", "type", "account", "username", "before", "after"]
    code = next(c for c in data["changes"] if c["type"] == "code")
    assert {"file", "key"} <= code.keys()
    assert {c["type"] for c in data["changes"]} == {"practice_setup", "username", "join", "code"}


def test_show_json_contract(run: Run) -> None:
    setup(run)
    run("apply", *FILES, "--auto-approve")
    data = json.loads(run("show", "--json").out)
    assert data["format_version"] == "1" and data["revision"] == 5
    assert data["usernames"]["frontdesk"] == {"home": "100482", "last_login": None}
    # the apply logged in as the master: its last log-in is kept (the fixed clock's time)
    assert data["usernames"]["riverside-admin"]["last_login"] == "2026-03-02T12:00:00Z"
    smith = data["accounts"]["100482"]
    assert smith["provider_name"] == "Jane Smith, PhD"
    assert smith["practice_setup"] == {"practice_name": "Riverside Counseling Group",
                                       "tin": "12-3456789", "bills_electronically": True}
    assert smith["access"]["frontdesk"]["scheduling"] == "full"
    assert smith["codes"]["billing_codes"]["90837"] == {
        "code": "90837", "description": "Psychotherapy, 60 minutes", "fee": "150.00"}
    assert smith["codes"]["insurance_payers"]["Aetna"] == {
        "name": "Aetna", "payer_id": "60054", "claims": "electronic"}


def test_log(run: Run) -> None:
    setup(run)
    data = json.loads(run("log", "--json", "--limit", "2").out)
    assert [e["revision"] for e in data["entries"]] == [4, 3]
    assert data["entries"][0]["actor"] == "dchen"
    r = run("log", "--limit", "1")
    assert r.code == 0 and r.out.startswith("r4  ") and "dchen: + add account dchen in 100561" \
        in r.out


def test_missing_and_wrong_passwords_fail_at_plan_time(run: Run) -> None:
    setup(run)
    env = demo_env()
    env.pop("MASTER_PASSWORD")
    r = run("plan", "-f", str(EXAMPLE), env=env)
    assert r.code == 1
    assert r.err == (f"Error: {EXAMPLE}:49:13: ${{MASTER_PASSWORD}} is not set (the password "
                     "of riverside-admin); set it in the environment or an --env-file\n")
    r = run("plan", *FILES, env={"JONES_PASSWORD": "wrong-password"})
    assert r.code == 1
    assert r.err == ("Error: login failed: unknown username or wrong password (rjones)\n")


def test_max_removals(run: Run, tmp_path: Path) -> None:
    setup(run)
    assert run("apply", *FILES, "--auto-approve").code == 0
    pruned = tmp_path / "pruned.yaml"
    text = EXAMPLE.read_text().replace("  codes: false", "  codes: true")
    start = text.index("    - {code: F32.1")  # keep F41.1 only: 6 records x 4 accounts go
    pruned.write_text(text[:start] + text[text.index("  billing_codes:"):])
    r = run("plan", "-f", str(pruned), "--env-file", str(DEMO_ENV))
    assert r.code == 0
    assert ("Warning: this plan removes 24 objects, more than --max-removals 10; apply will "
            "refuse it unless --max-removals is raised\n") in r.out
    r = run("apply", "-f", str(pruned), "--env-file", str(DEMO_ENV), "--auto-approve")
    assert r.code == 1
    assert r.err == ("Error: the plan removes 24 objects, more than --max-removals 10; "
                     "nothing was changed\n")
    r = run("apply", "-f", str(pruned), "--env-file", str(DEMO_ENV), "--auto-approve",
            "--max-removals", "24")
    assert r.code == 0 and "0 added, 0 changed, 24 removed" in r.out


def test_store_urls_and_environment(run: Run, tmp_path: Path) -> None:
    assert run("sandbox", *FILES, "--store", "sqlite:///rel.db").code == 0
    assert (tmp_path / "rel.db").exists()
    absolute = tmp_path / "abs.db"
    assert run("sandbox", *FILES, "--store", f"sqlite:///{absolute}").code == 0
    assert absolute.exists()
    r = run("show", env={"GROUPSYNC_STORE": str(absolute)})
    assert r.code == 0 and "4 accounts" in r.out.splitlines()[0]
    r = run("show", "--store", "mysql://db/x")
    assert r.code == 1 and "mysql stores are not supported" in r.err


def test_usage_errors_exit_1_without_traceback(run: Run) -> None:
    r = run("plan", "--no-such-option")
    assert r.code == 1
    # one line, like every other error
    assert r.err == ("Error: No such option '--no-such-option'. Did you mean '--no-color'? "
                     "(see 'groupsync plan --help')\n")
    r = run("log", "--limit", "0")
    assert r.code == 1 and "Traceback" not in r.err and len(r.err.splitlines()) == 1
    for args, message in [
        (("plan", "--json", "--format", "text"), "--json and --format text ask for two "
                                                 "formats; use one"),
        (("plan", "--out", ""), "--out is empty: give a file name"),
        (("access", "--out", " "), "--out is empty: give a file name"),
        (("export", "--master", "a", "--login", "b"), "--master and --login are two ways to "
                                                      "choose the accounts; use one"),
    ]:
        r = run(*args)
        assert (r.code, r.err) == (1, f"Error: {message}\n"), args


def test_help_lists_every_command(run: Run) -> None:
    r = run("--help")
    assert r.code == 0
    for command in ("validate", "plan", "apply", "show", "log", "sandbox"):
        assert f"  {command} " in r.out


def test_colour_only_on_a_terminal_and_never_with_no_color(run: Run, tmp_path: Path) -> None:
    setup(run)
    assert "\x1b[" not in run("plan", *FILES).out  # piped: plain
    coloured = on_terminal(tmp_path, "plan", *FILES, color=True)
    assert "\x1b[32m+\x1b[0m join frontdesk" in coloured
    assert "\x1b[" not in on_terminal(tmp_path, "plan", *FILES)  # NO_COLOR=1
    assert "\x1b[" not in on_terminal(tmp_path, "plan", *FILES, "--no-color", color=True)


def test_store_init_and_migrate(run: Run, tmp_path: Path) -> None:
    r = run("store", "init", "--store", "new.db")
    assert r.code == 0 and r.out.startswith("Created store new.db (lineage ")
    assert run("store", "init", "--store", "new.db").err == "Error: new.db already exists\n"
    r = run("store", "migrate", "--store", "new.db")
    assert r.out == "store new.db is at schema version 7, the current one; nothing to do\n"
    import sqlite3

    conn = sqlite3.connect(tmp_path / "new.db")
    conn.execute("PRAGMA user_version = 0")
    conn.commit()
    conn.close()
    r = run("show", "--store", "new.db")
    assert (r.code, r.err) == (1, "Error: store new.db has schema version 0, older than this "
                                  "groupsync's (7); run 'groupsync store migrate'\n")
    r = run("store", "migrate", "--store", "new.db")
    assert r.code == 1 and "no migration from it to 7" in r.err


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)  # SQLite: the tests above
def test_postgres_store_from_the_command_line(run: Run, store: str) -> None:
    with_password = store.replace("postgres@", "postgres:not-a-real-password@")
    r = run("show", "--store", with_password)
    assert r.code == 1 and "not-a-real-password" not in r.err and "***" in r.err
    assert "create one with 'groupsync store init'" in r.err
    assert run("store", "init", "--store", store).code == 0
    assert run("sandbox", *FILES, "--store", store).code == 0
    r = run("apply", *FILES, "--store", store, "--auto-approve")
    assert r.code == 0, r.err
    assert run("plan", *FILES, "--store", store, "--detailed-exitcode").code == 0
    assert json.loads(run("show", "--store", store, "--json").out)["revision"] == 5


def test_conflicting_format_flags_are_a_usage_error(run: Run) -> None:
    setup(run)
    r = run("plan", *FILES, "--json", "--format", "markdown")
    assert (r.code, r.out) == (1, "")
    assert r.err == "Error: --json and --format markdown ask for two formats; use one\n"
    assert run("plan", *FILES, "--json", "--format", "json").code == 0


def test_an_empty_store_is_a_usage_error(run: Run) -> None:
    r = run("show", "--store", "")
    assert (r.code, r.err) == (1, "Error: --store is empty: give a SQLite file, a "
                                  "postgresql:// URL or a service's https:// URL (or leave it "
                                  "out for groupsync.db)\n")


def test_every_warning_is_in_the_json_too(run: Run, tmp_path: Path) -> None:
    setup(run)
    assert run("apply", *FILES, "--auto-approve").code == 0
    assert json.loads(run("plan", *FILES, "--json", "--max-removals", "0").out)["warnings"] \
        == []
    file = tmp_path / "pruned.yaml"
    file.write_text(EXAMPLE.read_text().replace("  joins: false", "  joins: true").replace(
        "    accounts: all\n  billing:", "    accounts: [smith]\n  billing:"))
    files = ("-f", str(file), "--env-file", str(DEMO_ENV), "--max-removals", "2")
    data = json.loads(run("plan", *files, "--json").out)
    assert data["summary"]["remove"] == 3
    assert data["warnings"] == ["this plan removes 3 objects, more than --max-removals 2; "
                                "apply will refuse it unless --max-removals is raised"]
    # in the text plan, warnings always stand right above the summary line
    assert run("plan", *files).out.endswith(
        "Warning: this plan removes 3 objects, more than --max-removals 2; apply will refuse "
        "it unless --max-removals is raised\n\nPlan: 0 to add, 0 to change, 3 to remove.\n")
