"""The group's lifecycle end to end: the real command, its exit codes and exact messages,
locally and through a real `groupsync serve` (docs/contracts.md, "The group's lifecycle";
docs/contracts.md, "Commands and exit codes")."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from groupsync.accounts import create_system
from groupsync.accounts.service import SIGNUPS_PER_WINDOW
from groupsync.server import create_app

from .conftest import DEMO_ENV, EXAMPLE, Result, demo_env
from .helpers import CHEN_BLOCK
from .support import serving

Run = Callable[..., Result]
FILES = ("-f", str(EXAMPLE), "--env-file", str(DEMO_ENV))


def applied(run: Run, *files: str) -> None:
    files = files or FILES
    assert run("sandbox", *files).code == 0
    assert run("apply", *files, "--auto-approve").code == 0


def edited(tmp_path: Path, *edits: tuple[str, str], name: str = "practice.yaml") -> Path:
    text = EXAMPLE.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text)
    return path


def test_apply_note_is_on_every_entry_and_in_the_log(run: Run, tmp_path: Path) -> None:
    applied(run)
    renamed = edited(tmp_path, ("name: Robert Jones, LCSW", "name: Robert Jones, PhD"),
                     ("  frontdesk: front-desk\n",
                      "  frontdesk:\n    all: {clients: view, scheduling: view}\n"))
    files = ("-f", str(renamed), "--env-file", str(DEMO_ENV))
    r = run("apply", *files, "--auto-approve", "--note", "ticket 42: front desk is read-only")
    assert r.code == 0, r.err
    entries = json.loads(run("log", "--json", "--limit", "5").out)["entries"]
    assert len(entries) == 5 and {e["revision"] for e in entries} == {6}
    assert {e["note"] for e in entries} == {"ticket 42: front desk is read-only"}
    text = run("log", "--limit", "5").out
    assert "      note: ticket 42: front desk is read-only\n" in text
    assert text.count("note:") == 1  # once per revision
    assert "      scheduling: full -> view\n" in text
    assert '      provider_name: "Robert Jones, LCSW" -> "Robert Jones, PhD"\n' in text


def test_in_ci_the_note_is_the_commit_and_author(run: Run, tmp_path: Path) -> None:
    applied(run)
    first = edited(tmp_path, ("name: Robert Jones, LCSW", "name: Robert Jones, PhD"))
    r = run("apply", "-f", str(first), "--env-file", str(DEMO_ENV), "--auto-approve",
            env={"GITHUB_SHA": "0123456789abcdef0123", "GITHUB_ACTOR": "octocat"})
    assert r.code == 0, r.err
    assert json.loads(run("log", "--json", "--limit", "1").out)["entries"][0]["note"] == \
        "commit 0123456789ab by octocat"
    second = edited(tmp_path, ("name: Robert Jones, LCSW", "name: Robert Jones, MSW"))
    r = run("apply", "-f", str(second), "--env-file", str(DEMO_ENV), "--auto-approve",
            env={"CI_COMMIT_SHA": "fedcba9876543210", "GITLAB_USER_LOGIN": "maria"})
    assert json.loads(run("log", "--json", "--limit", "1").out)["entries"][0]["note"] == \
        "commit fedcba987654 by maria"
    r = run("apply", *FILES, "--auto-approve", "--note", "bad\x1b[2Jnote")
    assert (r.code, r.err) == (1, "Error: --note holds a control character; write it as "
                                  "plain text\n")


def test_rotate_from_the_command_line(run: Run, tmp_path: Path) -> None:
    applied(run)
    fresh = {"FRONTDESK_PASSWORD": "fresh-frontdesk-2026"}
    r = run("plan", *FILES, "--rotate", "frontdesk", "--detailed-exitcode", env=fresh)
    assert r.code == 2
    assert r.out == ("groupsync will make these changes:\n\naccount 100482 (smith)\n"
                     "  ~ password frontdesk (set from its variable; its tokens end)\n\n"
                     "Plan: 0 to add, 1 to change, 0 to remove.\n")
    r = run("plan", *FILES, "--rotate", "frontdesk", "--out", "rotate.plan", env=fresh)
    r = run("apply", "rotate.plan", "--rotate", "frontdesk", env=fresh)
    assert (r.code, r.err) == (1, "Error: --rotate belongs to the plan: give it to `plan "
                                  "--out`, not to `apply PLANFILE`\n")
    r = run("apply", "rotate.plan", env={**demo_env(), **fresh})
    assert r.code == 0, r.err
    assert "fresh-frontdesk-2026" not in (tmp_path / "rotate.plan").read_text()
    # without --rotate, the new value is simply the password now: nothing to change
    assert run("plan", *FILES, "--detailed-exitcode", env=fresh).code == 0


def test_a_departed_provider_in_access_and_export(run: Run, tmp_path: Path) -> None:
    applied(run)
    edited(tmp_path, (CHEN_BLOCK, ""))  # ./practice.yaml, the default file
    r = run("plan", "--env-file", str(DEMO_ENV))
    assert r.out.startswith("Warning: account 100561 is not in practice.yaml, but "
                            "riverside-admin, frontdesk, billing can still open it")
    r = run("access")
    rows = [line for line in r.out.splitlines() if "100561" in line]
    assert len(rows) == 3 and all(line.endswith("account not in the practice file")
                                  for line in rows)
    assert r.out.endswith("15 access rows, 3 flagged.\n")  # dchen is not the group's
    r = run("export", "--master", "riverside-admin")
    assert r.code == 0 and '"100561"' not in r.out and "dchen" not in r.out
    assert "# NOTE: left out account 100561: not in the current practice file" in r.out


def test_notice_flags_tin_and_name_changes(run: Run, tmp_path: Path) -> None:
    applied(run)
    assert run("notice", *FILES, "--mark-sent").code == 0
    changed = edited(tmp_path, ('tin: "12-3456789"', 'tin: "98-7654321"'),
                     ("name: Riverside Counseling Group", "name: Riverside Counseling LLC"),
                     ("name: Maria Garcia, LMFT", "name: Maria Garcia-Lopez, LMFT"),
                     name="changed.yaml")
    r = run("notice", "-f", str(changed), "--env-file", str(DEMO_ENV))
    assert "Practice: Riverside Counseling LLC   (CHANGED since the last notice; was: " \
           "Riverside Counseling Group)\n" in r.out
    assert "TIN: 98-7654321   (CHANGED since the last notice; was: 12-3456789)\n" in r.out
    assert "CHANGED since the last notice (was: name Maria Garcia, LMFT)" in r.out
    data = json.loads(run("notice", "-f", str(changed), "--env-file", str(DEMO_ENV),
                          "--json").out)
    assert data["changed"] == {
        "practice_name": {"before": "Riverside Counseling Group",
                          "after": "Riverside Counseling LLC"},
        "tin": {"before": "12-3456789", "after": "98-7654321"}}


def test_a_team_with_only_the_service(run: Run, tmp_path: Path) -> None:
    store = str(tmp_path / "shared.db")
    create_system(store)
    with serving(store, tmp_path) as (url, _proc):
        # hiring through the service: the free-trial sign-up, for what is missing
        r = run("sandbox", *FILES, "--store", url)
        assert r.code == 0, r.err
        assert r.out.endswith(f"Service {url}: 4 provider accounts (4 new).\n")
        r = run("sandbox", *FILES, "--store", url)
        assert r.out == f"Service {url}: 4 provider accounts (0 new).\n"
        assert run("apply", *FILES, "--store", url, "--auto-approve").code == 0
        # notices through the service
        r = run("notice", *FILES, "--store", url, "--mark-sent")
        assert r.code == 0, r.err
        assert r.out.endswith("Recorded this notice as sent (4 providers).\n")
        assert "This is the practice's first notice." in r.out
        r = run("notice", *FILES, "--store", url)
        assert "The last notice was sent on" in r.out
        # a saved plan needs nothing but itself and its passwords: no practice file here
        renamed = edited(tmp_path, ("name: Robert Jones, LCSW", "name: Robert Jones, PhD"))
        assert run("plan", "-f", str(renamed), "--env-file", str(DEMO_ENV), "--store", url,
                   "--out", "rename.plan").code == 0
        empty = tmp_path / "empty"
        empty.mkdir()
        (empty / "rename.plan").write_bytes((tmp_path / "rename.plan").read_bytes())
        r = run("apply", "rename.plan", "--store", url, env=demo_env(), cwd=empty)
        assert r.code == 0, r.err
        state = json.loads(run("show", *FILES, "--store", url, "--json").out)
        assert state["accounts"]["100517"]["provider_name"] == "Robert Jones, PhD"
        # rotating through the service: the master's password too (set by jsmith)
        fresh = {"MASTER_PASSWORD": "fresh-master-2026"}
        r = run("apply", *FILES, "--store", url, "--rotate", "riverside-admin",
                "--auto-approve", env=fresh)
        assert r.code == 0, r.err
        assert "  ~ password riverside-admin (set from its variable; its tokens end)\n" in r.out
        assert httpx.post(f"{url}/v1/login", json={"username": "riverside-admin", "password":
                                                   "fresh-master-2026"}).status_code == 200
        r = run("plan", *FILES, "--store", url, "--detailed-exitcode", env=fresh)
        assert (r.code, r.out) == (0, "No changes. The store matches the file.\n")
        # another practice can't record notices about accounts it can't open
        token = httpx.post(f"{url}/v1/login", json={"username": "dchen",
                                                   "password": demo_env()["CHEN_PASSWORD"]})
        refused = httpx.post(f"{url}/v1/notices", headers={
            "Authorization": f"Bearer {token.json()['token']}"}, json={
            "practice_name": "X", "tin": "12-3456789", "providers": [
                {"account_id": "100482", "name": "X", "bills_electronically": True}]})
        assert refused.status_code == 403
        assert refused.json() == {"detail": "dchen can't open account 100482",
                                  "error": "permission_denied"}


def test_signups_are_throttled_per_address_and_never_say_which_is_taken(
    tmp_path: Path,
) -> None:
    system = create_system(str(tmp_path / "s.db"))
    client = TestClient(create_app(system))
    for i in range(SIGNUPS_PER_WINDOW):
        r = client.post("/v1/signup", json={"provider_name": f"P {i}", "username": f"prov{i}",
                                            "password": "a-long-password-2026"})
        assert r.status_code == 201, r.text
    r = client.post("/v1/signup", json={"provider_name": "One more", "username": "provx",
                                        "password": "a-long-password-2026"})
    assert r.status_code == 429 and r.json()["error"] == "throttled"
    assert int(r.headers["retry-after"]) > 0
    other = TestClient(create_app(create_system(str(tmp_path / "t.db"))))
    other.post("/v1/signup", json={"provider_name": "A", "username": "alpha",
                                   "password": "a-long-password-2026", "account_id": "500"})
    taken_id = other.post("/v1/signup", json={"provider_name": "B", "username": "beta",
                                              "password": "a-long-password-2026",
                                              "account_id": "500"})
    taken_name = other.post("/v1/signup", json={"provider_name": "B", "username": "ALPHA",
                                                "password": "a-long-password-2026"})
    assert taken_id.json() == taken_name.json() == {
        "detail": "that Account ID or username is taken", "error": "conflict"}


def test_signup_refusals_never_repeat_the_request(tmp_path: Path) -> None:
    client = TestClient(create_app(create_system(str(tmp_path / "s.db"))))
    same = client.post("/v1/signup", json={"provider_name": "X Y", "username": "Str0ng-pass-771",
                                           "password": "Str0ng-pass-771"})
    assert same.status_code == 403 and "Str0ng" not in same.text
    assert same.json()["detail"].startswith("the sign-up was refused: the password must be")
    newline = client.post("/v1/signup", json={"provider_name": "X Y", "username": "new doc\n",
                                              "password": "a-long-password-2026"})
    assert newline.status_code == 422 and "new doc" not in newline.text
    long_name = client.post("/v1/signup", json={"provider_name": "n" * 201, "username": "newdoc",
                                                "password": "a-long-password-2026"})
    assert long_name.status_code == 422


def test_a_hand_made_password_change_is_a_4xx_through_the_service(tmp_path: Path) -> None:
    from groupsync.config import Secrets, load_file
    from groupsync.engine import sandbox

    desired = load_file(EXAMPLE)
    system, _ = sandbox(str(tmp_path / "s.db"), desired, Secrets(demo_env(), environ={}))
    client = TestClient(create_app(system))
    token = client.post("/v1/login", json={"username": "jsmith", "password":
                                           demo_env()["SMITH_PASSWORD"]}).json()["token"]
    state = client.get("/v1/state", headers={"Authorization": f"Bearer {token}"}).json()
    plan = {"lineage": state["lineage"], "revision": state["revision"],
            "basis": state["versions"], "actor": "jsmith", "master": "jsmith",
            "credentials": {"jsmith": "SMITH_PASSWORD"},
            "changes": [{"action": "change", "type": "password", "account": "100482",
                         "username": "jsmith", "before": None, "after": None}]}
    r = client.post("/v1/apply", headers={"Authorization": f"Bearer {token}"},
                    json={"plan": plan, "passwords": {"jsmith": demo_env()["SMITH_PASSWORD"]}})
    assert r.status_code == 200, r.text  # its own password, set by itself: its token ends
    token = client.post("/v1/login", json={"username": "jsmith", "password":
                                           demo_env()["SMITH_PASSWORD"]}).json()["token"]
    plan["revision"] = int(plan["revision"]) + 1  # type: ignore[call-overload]
    plan["changes"][0]["username"] = "billing"  # type: ignore[index]
    r = client.post("/v1/apply", headers={"Authorization": f"Bearer {token}"},
                    json={"plan": plan, "passwords": {"jsmith": demo_env()["SMITH_PASSWORD"]}})
    assert r.status_code == 401 and r.json()["error"] == "login_failed"


def test_access_over_the_whole_store_needs_no_practice_file(run: Run, tmp_path: Path) -> None:
    applied(run)
    r = run("access", "--all-accounts")  # no ./practice.yaml here
    assert r.code == 0, r.err
    assert r.out.endswith("F full, V view, . none. 16 access rows, 3 flagged.\n")


def test_each_problem_of_a_plan_is_its_own_error_line(run: Run, tmp_path: Path) -> None:
    applied(run)
    r = run("plan", *FILES, "--rotate", "nobody", "--rotate", "ghost")
    assert r.code == 1
    assert r.err == (f"Error: --rotate nobody: not a username {EXAMPLE} declares (the master, "
                     "a staff username or a provider login)\n"
                     f"Error: --rotate ghost: not a username {EXAMPLE} declares (the master, "
                     "a staff username or a provider login)\n")


def test_service_names_refuse_what_the_rules_refuse(tmp_path: Path) -> None:
    # one character class (accounts.model.CONTROL_CLASS) for the rules, the request models
    # and the editor schema: a bidi override is refused at the door, not only deeper in
    client = TestClient(create_app(create_system(str(tmp_path / "s.db"))))
    r = client.post("/v1/signup", json={"provider_name": "Jane\u202eSmith", "username": "jdoe1",
                                        "password": "a-long-password-2026"})
    assert r.status_code == 422 and "\u202e" not in r.text
