"""The service and the command line are one engine (docs/contracts.md, "One engine"): what a
security review found when two practices shared one PostgreSQL store behind one `serve`, each
with the hostile input itself, through a real `serve`."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from groupsync.accounts import create_system, open_system
from groupsync.config import load_text
from groupsync.engine import sandbox
from groupsync.planfile import plan_data
from groupsync.vocabulary import AREAS

from .conftest import DEMO_ENV, EXAMPLE, FIXED_NOW, Result, demo_env
from .support import serving

Run = Callable[..., Result]
FILES = ("-f", str(EXAMPLE), "--env-file", str(DEMO_ENV))
PW = demo_env()
NONE = {a: "none" for a in AREAS}

LAKESIDE = """\
version: 1
practice: {name: Lakeside Therapy, tin: "98-7654321"}
providers:
  kim:
    name: Ann Kim, PsyD
    account_id: "200001"
    login: {username: akim, password: "${KIM_PASSWORD}"}
master: {username: lakeside-admin, password: "${LAKE_MASTER_PASSWORD}", home: kim}
"""
LAKE_ENV = {"KIM_PASSWORD": "lake-kim-pw-2026", "LAKE_MASTER_PASSWORD": "lake-master-pw-2026"}


@pytest.fixture
def two_practices(run: Run, pg_store: str, tmp_path: Path) -> Iterator[str]:
    """Riverside (the example, applied) and Lakeside (signed up) in one PostgreSQL store,
    behind one `serve`; yields the service's URL."""
    (tmp_path / "lake.yaml").write_text(LAKESIDE)
    assert run("sandbox", *FILES, "--store", pg_store).code == 0
    assert run("apply", *FILES, "--store", pg_store, "--auto-approve").code == 0
    sandbox(pg_store, load_text(LAKESIDE.encode(), "lake.yaml"), _lake_secrets())
    with serving(pg_store, tmp_path, env={"GROUPSYNC_NOW": FIXED_NOW}) as (url, _proc):
        yield url


def _lake_secrets() -> Any:
    from groupsync.config import Secrets

    return Secrets(LAKE_ENV, environ={})


def _token(url: str, username: str, password: str) -> str:
    r = httpx.post(f"{url}/v1/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _empty_plan(url: str, token: str, actor: str) -> dict[str, Any]:
    """A hand-made plan of nothing, acting as `actor`, for the store behind `url`."""
    from groupsync.plan import Plan

    state = httpx.get(f"{url}/v1/state", headers=_bearer(token)).json()
    return plan_data(Plan(lineage=state["lineage"], revision=state["revision"],
                          basis=state["versions"], changes=[], actor=actor,
                          master=actor, credentials={actor: "X_PASSWORD"}))


def _practice_declaring(account_id: str, login: str, tin: str) -> str:
    return (f"version: 1\npractice: {{name: Lakeside Therapy, tin: \"{tin}\"}}\n"
            f"providers:\n  kim:\n    name: Ann Kim, PsyD\n    account_id: \"{account_id}\"\n"
            f"    login: {{username: {login}, password: \"${{KIM_PASSWORD}}\"}}\n"
            "master: {username: dchen, password: \"${CHEN_PASSWORD}\", home: kim}\n")


def test_an_apply_with_a_practice_never_describes_another_practice(two_practices: str) -> None:
    url = two_practices
    token = _token(url, "dchen", PW["CHEN_PASSWORD"])  # a riverside provider
    plan = _empty_plan(url, token, "dchen")
    answers = []
    # Lakeside's real account with its real login and TIN, a wrong TIN, and an account that
    # doesn't exist: each must get the very same answer, before anything of it is read.
    for account_id, login, tin in (("200001", "akim", "98-7654321"),
                                   ("200001", "akim", "11-1111111"),
                                   ("299999", "nobody1", "98-7654321")):
        r = httpx.post(f"{url}/v1/apply", headers=_bearer(token), json={
            "plan": plan, "passwords": {"dchen": PW["CHEN_PASSWORD"]},
            "practice": _practice_declaring(account_id, login, tin)})
        answers.append((r.status_code, r.json()["detail"].replace(account_id, "ID")))
    assert answers == [(403, "dchen can't open account ID")] * 3


def test_a_hand_made_delete_of_another_practice_username_reads_as_a_missing_name(
        two_practices: str) -> None:
    url = two_practices
    token = _token(url, "riverside-admin", PW["MASTER_PASSWORD"])
    base = _empty_plan(url, token, "riverside-admin")
    base["credentials"] = {"riverside-admin": "MASTER_PASSWORD"}
    answers = []
    for name in ("lakeside-admin", "akim", "no-such-name"):
        plan = {**base, "changes": [{"action": "remove", "type": "username", "account": "100482",
                                     "username": name, "before": {"home": "100482", "access": {}},
                                     "after": None}]}
        r = httpx.post(f"{url}/v1/apply", headers=_bearer(token), json={
            "plan": plan, "passwords": {"riverside-admin": PW["MASTER_PASSWORD"]}})
        answers.append((r.status_code, r.json()["detail"].replace(name, "NAME")))
    assert answers == [(404, "username 'NAME' is not one riverside-admin can act on")] * 3


def test_the_removal_limit_holds_through_the_service(two_practices: str) -> None:
    url = two_practices
    token = _token(url, "riverside-admin", PW["MASTER_PASSWORD"])
    plan = _empty_plan(url, token, "riverside-admin")
    plan["changes"] = [{"action": "remove", "type": "code", "account": "100482",
                        "file": "diagnosis_codes", "key": f"F{i:02d}.1",
                        "before": {"code": f"F{i:02d}.1", "description": "x"},
                        "after": None} for i in range(11)]
    body = {"plan": plan, "passwords": {"riverside-admin": PW["MASTER_PASSWORD"]}}
    r = httpx.post(f"{url}/v1/apply", headers=_bearer(token), json=body)
    assert (r.status_code, r.json()) == (400, {
        "detail": "the plan removes 11 objects, more than --max-removals 10; nothing was "
                  "changed", "error": "plan"})
    r = httpx.post(f"{url}/v1/apply", headers=_bearer(token), json={**body, "max_removals": 3})
    assert "more than --max-removals 3" in r.json()["detail"]


def test_rights_come_before_any_password_is_hashed(two_practices: str) -> None:
    url = two_practices
    token = _token(url, "frontdesk", PW["FRONTDESK_PASSWORD"])  # none on account_access
    plan = _empty_plan(url, token, "frontdesk")
    plan["changes"] = [{"action": "add", "type": "username", "account": "100482",
                        "username": f"hire{i:04d}", "before": None,
                        "after": {"home": "100482", "privileges": NONE}} for i in range(600)]
    plan["credentials"] = {"frontdesk": "FRONTDESK_PASSWORD",
                           **{f"hire{i:04d}": f"HIRE{i}_PASSWORD" for i in range(600)}}
    passwords = {"frontdesk": PW["FRONTDESK_PASSWORD"],
                 **{f"hire{i:04d}": f"a-long-new-password-{i}" for i in range(600)}}
    r = httpx.post(f"{url}/v1/apply", headers=_bearer(token), json={
        "plan": plan, "passwords": passwords}, timeout=30)
    assert r.status_code == 403, r.text
    assert r.json()["detail"] == ("frontdesk needs full on account_access in account 100482 "
                                  "to set hire0000's password")


def test_a_notice_needs_full_practice_setup_and_lists_each_account_once(
        two_practices: str) -> None:
    url = two_practices
    provider = {"account_id": "100482", "name": "Jane Smith, PhD", "bills_electronically": True}
    body = {"practice_name": "Riverside Counseling Group", "tin": "12-3456789",
            "providers": [provider, provider, provider]}
    r = httpx.post(f"{url}/v1/notices", json=body,
                   headers=_bearer(_token(url, "frontdesk", PW["FRONTDESK_PASSWORD"])))
    assert (r.status_code, r.json()["detail"]) == (
        403, "frontdesk needs full on practice_setup in account 100482 to record a notice for "
             "it (has none)")
    r = httpx.post(f"{url}/v1/notices", json=body,
                   headers=_bearer(_token(url, "riverside-admin", PW["MASTER_PASSWORD"])))
    assert (r.status_code, r.json()) == (201, {"recorded": 1})
    # Lakeside reads none of Riverside's notices (and the read is per account, in SQL)
    lake = httpx.get(f"{url}/v1/state", headers=_bearer(
        _token(url, "akim", LAKE_ENV["KIM_PASSWORD"]))).json()
    assert lake["notices"] == []


def test_name_lookups_are_limited_per_username(two_practices: str) -> None:
    url = two_practices
    headers = _bearer(_token(url, "dchen", PW["CHEN_PASSWORD"]))
    names = [f"guess{i:05d}" for i in range(10_000)]
    r = httpx.post(f"{url}/v1/names", json={"usernames": names}, headers=headers)
    assert r.status_code == 200
    r = httpx.post(f"{url}/v1/names", json={"usernames": ["akim"]}, headers=headers)
    assert r.status_code == 429
    assert r.json()["error"] == "throttled"
    assert 3000 < int(r.headers["retry-after"]) <= 3601


def test_log_in_names_must_match_the_username_pattern(two_practices: str) -> None:
    url = two_practices
    for name in ("js\u0000mith", "j\u017fmith", "jsmith\n"):  # NUL, long s, a newline
        r = httpx.post(f"{url}/v1/login", json={"username": name,
                                                "password": PW["SMITH_PASSWORD"]})
        assert r.status_code == 422, (name, r.text)
        assert r.json()["error"] == "invalid"
        assert "postgres" not in r.text
    headers = _bearer(_token(url, "dchen", PW["CHEN_PASSWORD"]))
    r = httpx.post(f"{url}/v1/names", json={"usernames": ["a\u0000b"]}, headers=headers)
    assert r.status_code == 422 and "postgres" not in r.text


def test_concurrent_log_ins_of_one_name_from_one_address_never_get_5xx(
        two_practices: str) -> None:
    url = two_practices
    statuses: list[int] = []

    def attempt(i: int) -> None:
        password = PW["SMITH_PASSWORD"] if i % 3 else "wrong-password-here"
        with httpx.Client(timeout=60) as client:
            statuses.append(client.post(f"{url}/v1/login", json={
                "username": "jsmith", "password": password}).status_code)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(statuses) == 30
    assert all(s < 500 for s in statuses), sorted(statuses)
    assert set(statuses) <= {200, 401, 429}


def test_a_locked_log_in_says_how_long_and_retry_after_matches(two_practices: str) -> None:
    url = two_practices
    for _ in range(5):
        httpx.post(f"{url}/v1/login", json={"username": "mgarcia", "password": "nope-nope"})
    r = httpx.post(f"{url}/v1/login", json={"username": "mgarcia",
                                            "password": PW["GARCIA_PASSWORD"]})
    assert r.status_code == 429
    assert r.json()["detail"].endswith("try again in 5 minutes")
    assert r.headers["retry-after"] == "300"  # the clock is fixed (GROUPSYNC_NOW)


def test_an_invalid_practice_gets_every_problem_with_its_place_never_its_value(
        two_practices: str) -> None:
    url = two_practices
    headers = _bearer(_token(url, "riverside-admin", PW["MASTER_PASSWORD"]))
    practice = EXAMPLE.read_text().replace('tin: "12-3456789"', 'tin: "hunter2-secret"')
    practice = practice.replace('account_id: "100517"', 'account_id: "x100517"')
    r = httpx.post(f"{url}/v1/plan", json={"practice": practice}, headers=headers)
    assert r.status_code == 422
    data = r.json()
    assert data["error"] == "invalid_practice"
    assert [(p["line"], p["column"]) for p in data["problems"]] == [(16, 8), (29, 17)]
    assert "hunter2" not in r.text and "x100517" not in r.text
    assert data["detail"] == ("the practice is invalid: 2 problems; each is in `problems` "
                              "with its line and column")


def test_a_token_ended_while_its_body_arrives_is_refused(two_practices: str,
                                                         pg_store: str) -> None:
    url = two_practices
    token = _token(url, "riverside-admin", PW["MASTER_PASSWORD"])
    body = json.dumps({"usernames": ["akim"]}).encode()

    def slowly() -> Iterator[bytes]:
        yield body[:5]
        # meanwhile the username's password is set (a --rotate elsewhere): its tokens end
        system = open_system(pg_store)
        with system.session("jsmith", PW["SMITH_PASSWORD"]) as s:
            s.set_password("riverside-admin", "a-fresh-master-2026")
        yield body[5:]

    r = httpx.post(f"{url}/v1/names", content=slowly(), headers={
        **_bearer(token), "Content-Type": "application/json"})
    assert r.status_code == 401
    assert r.json()["error"] == "login_required"


def test_hiring_and_rotating_the_master_home_login_through_the_service(
        run: Run, pg_store: str, tmp_path: Path) -> None:
    create_system(pg_store)
    with serving(pg_store, tmp_path) as (url, _proc):
        assert run("sandbox", *FILES, "--store", url).code == 0
        assert run("apply", *FILES, "--store", url, "--auto-approve").code == 0
        # a new provider: signed up through the service, then planned and applied while the
        # master can't open the new account yet
        hired = tmp_path / "hired.yaml"
        hired.write_text(EXAMPLE.read_text().replace("\nmaster:", (
            "\n  patel:\n    name: Priya Patel, LCSW\n    account_id: \"100588\"\n"
            "    login: {username: ppatel, password: \"${PATEL_PASSWORD}\"}\n\nmaster:"), 1))
        files = ("-f", str(hired), "--env-file", str(DEMO_ENV))
        env = {"PATEL_PASSWORD": "demo-only-patel-4c2a"}
        r = run("sandbox", *files, "--store", url, env=env)
        assert r.out.endswith("(1 new).\n"), r.out + r.err
        r = run("plan", *files, "--store", url, env=env)
        assert r.code == 0, r.err
        assert "account 100588 (patel)" in r.out
        r = run("apply", *files, "--store", url, "--auto-approve", env=env)
        assert r.code == 0, r.err
        assert run("plan", *files, "--store", url, env=env).out.startswith("No changes.")
        # the master's home provider login rotated through the service, as locally
        env = {**env, "SMITH_PASSWORD": "fresh-smith-2026-pw"}
        r = run("apply", *files, "--store", url, "--rotate", "jsmith", "--auto-approve",
                env=env)
        assert r.code == 0, r.err
        assert "~ password jsmith" in r.out
        assert run("plan", *files, "--store", url, env=env).out.startswith("No changes.")


def test_the_audit_trail_says_what_an_apply_did_as_a_whole(run: Run, tmp_path: Path) -> None:
    store = str(tmp_path / "s.db")
    assert run("sandbox", *FILES, "--store", store).code == 0
    assert run("apply", *FILES, "--store", store, "--auto-approve").code == 0
    entries = json.loads(run("log", *FILES, "--store", store, "--json").out)["entries"]
    about = [e for e in entries if e["username"] == "frontdesk" and e["account"] == "100517"]
    assert [(e["action"], e["type"]) for e in about] == [("add", "join")]
    assert about[0]["after"]["notes"] == "none"  # the levels it was left with, never full
    # the master's temporary raises and their undoing leave no entry at all
    assert not [e for e in entries if e["type"] == "privileges"
                and e.get("before") == e.get("after")]


def test_one_clock_fixes_every_time_the_program_writes(run: Run, tmp_path: Path) -> None:
    store = str(tmp_path / "s.db")
    env = {"GROUPSYNC_NOW": "2026-07-04T09:30:00"}
    assert run("sandbox", *FILES, "--store", store, env=env).code == 0
    assert run("apply", *FILES, "--store", store, "--auto-approve", env=env).code == 0
    entries = json.loads(run("log", *FILES, "--store", store, "--json", env=env).out)["entries"]
    assert {e["at"] for e in entries} == {"2026-07-04T09:30:00Z"}


def test_files_are_files(run: Run, tmp_path: Path) -> None:
    r = run("validate", "-f", "/dev/zero")
    assert (r.code, r.err) == (1, "Error: /dev/zero: is not a regular file (a FIFO, a device "
                                  "or a socket)\n")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    r = run("validate", "-f", str(fifo))  # refused at once: the run's timeout would catch a hang
    assert r.code == 1 and "is not a regular file" in r.err
    store = str(tmp_path / "s.db")
    assert run("sandbox", *FILES, "--store", store).code == 0
    r = run("plan", *FILES[:2], "--env-file", str(fifo), "--store", store)
    assert r.code == 1 and "env file is not a regular file" in r.err
    r = run("apply", str(fifo), "--store", store)
    assert r.code == 1 and "is not a regular file" in r.err
    r = run("plan", *FILES, "--store", store, "--out", str(fifo))
    assert r.code == 1
    assert r.err == f"Error: {fifo} exists and is not a regular file; refusing to replace it " \
                    "(give a file name)\n"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_csv_cells_a_spreadsheet_would_run_are_text(run: Run, tmp_path: Path) -> None:
    store = str(tmp_path / "s.db")
    hostile = tmp_path / "p.yaml"
    hostile.write_text(EXAMPLE.read_text().replace(
        "name: Jane Smith, PhD", 'name: "=HYPERLINK(\\"http://x.test\\",\\"Jane\\")"'))
    files = ("-f", str(hostile), "--env-file", str(DEMO_ENV))
    assert run("sandbox", *files, "--store", store).code == 0
    assert run("apply", *files, "--store", store, "--auto-approve").code == 0
    out = run("access", *files, "--store", store, "--format", "csv").out
    assert "'=HYPERLINK(" in out
    assert not [line for line in out.splitlines() if ",=" in line or line.startswith("=")]


def test_serve_says_once_when_it_looks_behind_a_proxy_it_does_not_trust(
        pg_store: str, tmp_path: Path) -> None:
    create_system(pg_store)
    with serving(pg_store, tmp_path) as (url, proc):
        for _ in range(3):
            httpx.get(f"{url}/v1/health", headers={"X-Forwarded-For": "203.0.113.9"})
        port = url.rsplit(":", 1)[1]
    log = (tmp_path / f"serve-{port}.log").read_text()
    assert log.count("carry X-Forwarded-For, but serve doesn't trust 127.0.0.1") == 1
    assert "--trusted-proxy 127.0.0.1" in log
    assert "203.0.113.9" not in log
    del proc


def test_a_practice_of_junk_is_refused_by_node_count(run: Run, tmp_path: Path) -> None:
    junk = tmp_path / "junk.yaml"
    junk.write_text("providers: [" + "a, " * 400_000 + "a]\n")
    r = run("validate", "-f", str(junk))
    assert r.code == 1
    assert r.err.startswith(f"Error: {junk}:1:")
    assert "holds more than 300,000 YAML nodes" in r.err


def test_the_readme_proxy_examples_are_safe_as_written() -> None:
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = text[text.index("## Running a shared store"):]
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in section
    serve = [line for line in section.split("```sh", 1)[1].split("```", 1)[0].splitlines()
             if "groupsync serve" in line or line.strip().startswith("--trusted-proxy")]
    assert serve and "--trusted-proxy 127.0.0.1" in "".join(serve)


def test_sign_up_hashes_outside_the_write_transaction(tmp_path: Path) -> None:
    """Hashing is the slow part of a sign-up: it must be done before the store's lock is
    taken (checked here by the store's own lock: held while the sign-up hashes, a write lock
    would make this concurrent write wait for the whole hash)."""
    import groupsync.accounts.service as service

    system = create_system(str(tmp_path / "s.db"))
    seen: list[bool] = []
    real = service.hash_password

    def observed(password: str) -> str:
        from .support import write_lock_held

        seen.append(write_lock_held(tmp_path / "s.db"))
        return real(password)

    service.hash_password = observed  # type: ignore[assignment]
    try:
        system.signup("Ann Kim, PsyD", "akim", "lake-kim-pw-2026", "200001")
    finally:
        service.hash_password = real  # type: ignore[assignment]
    assert seen == [False]


def test_an_apply_with_a_practice_never_confirms_values_its_logins_cannot_see(
        two_practices: str) -> None:
    """frontdesk opens Riverside's accounts but sees neither their TIN nor their codes: a
    practice sent with its apply is refused whole, the true file and a wrong guess alike."""
    url = two_practices
    token = _token(url, "frontdesk", PW["FRONTDESK_PASSWORD"])
    plan = _empty_plan(url, token, "frontdesk")
    answers = set()
    for practice in (EXAMPLE.read_text(),
                     EXAMPLE.read_text().replace("12-3456789", "12-3456788")):
        r = httpx.post(f"{url}/v1/apply", headers=_bearer(token), json={
            "plan": plan, "passwords": {"frontdesk": PW["FRONTDESK_PASSWORD"]},
            "practice": practice})
        answers.add((r.status_code, r.json()["detail"]))
    assert answers == {(403, "frontdesk needs view on practice_setup, account_access and "
                             "codes in account 100482 to apply a practice there (the logins "
                             "of this request can't see it); send the saved plan alone")}


def test_credentials_of_names_that_do_not_exist_fail_like_wrong_passwords(
        two_practices: str) -> None:
    url = two_practices
    token = _token(url, "dchen", PW["CHEN_PASSWORD"])
    answers = []
    for name in ("akim", "nosuchuser1"):  # another practice's login, and nobody
        plan = _empty_plan(url, token, "dchen")
        plan["credentials"] = {"dchen": "A_PASSWORD", name: "B_PASSWORD"}
        r = httpx.post(f"{url}/v1/apply", headers=_bearer(token), json={
            "plan": plan, "passwords": {"dchen": PW["CHEN_PASSWORD"], name: "wrong-guess-1"}})
        answers.append((r.status_code, r.json()["detail"]))
    assert answers == [(401, "login failed: unknown username or wrong password")] * 2


def test_names_a_plan_asks_about_count_against_the_hourly_look_ups(two_practices: str) -> None:
    url = two_practices
    headers = _bearer(_token(url, "dchen", PW["CHEN_PASSWORD"]))
    r = httpx.post(f"{url}/v1/names", json={"usernames": [f"g{i:05d}" for i in range(9_999)]},
                   headers=headers)
    assert r.status_code == 200
    r = httpx.post(f"{url}/v1/plan", json={"practice": EXAMPLE.read_text()}, headers=headers)
    assert r.status_code == 429 and r.json()["error"] == "throttled"
