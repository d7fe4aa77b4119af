"""`groupsync serve` and `--store http://`: a real service process on loopback, the real CLI.

Also a bounded schemathesis run against the OpenAPI document (no 5xx, every response as
documented) and SIGKILL of the service in the middle of an apply.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from benchmarks.generate import Shape, generate
from groupsync.accounts import AccountSystem, open_system, state_digest
from groupsync.config import Secrets, load_env_file, load_file
from groupsync.engine import sandbox
from groupsync.plan import make_plan
from groupsync.server import create_app

from .conftest import DEMO_ENV, EXAMPLE, Result, demo_env
from .helpers import budget
from .support import kill_at, serving

Run = Callable[..., Result]
FILES = ("-f", str(EXAMPLE), "--env-file", str(DEMO_ENV))






def test_plan_apply_show_log_through_the_service(run: Run, tmp_path: Path, store: str) -> None:
    assert run("sandbox", *FILES, "--store", store).code == 0
    with serving(store, tmp_path) as (url, _proc):
        r = run("plan", *FILES, "--store", url, "--detailed-exitcode")
        assert r.code == 2 and r.out.endswith("Plan: 88 to add, 4 to change, 0 to remove.\n")
        r = run("plan", *FILES, "--store", url, "--out", "remote.plan")
        r = run("apply", "remote.plan", *FILES, "--store", url)
        assert r.code == 0, r.err
        assert r.out.endswith(f"Store {url} is at revision 5.\n")
        r = run("apply", "remote.plan", *FILES, "--store", url)  # the same plan again: stale
        assert (r.code, r.err) == (1, "Error: the store changed since the plan was made ("
                                      "account 100482 changed, and 3 more accounts or usernames)"
                                      "; run plan again. Nothing was changed\n")
        r = run("plan", *FILES, "--store", url, "--detailed-exitcode")
        assert (r.code, r.out) == (0, "No changes. The store matches the file.\n")
        shown = json.loads(run("show", *FILES, "--store", url, "--json").out)
        assert shown["revision"] == 5 and len(shown["accounts"]) == 4
        assert run("log", *FILES, "--store", url, "--limit", "1").out.startswith("r5  ")
        # once the master exists it alone reads (one log-in); a provider's password is then
        # needed only for a join, as locally
        assert run("plan", *FILES, "--store", url, env={"JONES_PASSWORD": "nope"}).code == 0
        wrong = run("plan", *FILES, "--store", url, env={"MASTER_PASSWORD": "nope"})
        assert (wrong.code, wrong.err) == (1, "Error: login failed: unknown username or wrong "
                                              "password (riverside-admin)\n")


def test_each_request_sees_only_what_its_username_can_open(run: Run, tmp_path: Path) -> None:
    assert run("sandbox", *FILES).code == 0
    assert run("apply", *FILES, "--auto-approve").code == 0
    store = str(tmp_path / "groupsync.db")
    demo = demo_env()
    with serving(store, tmp_path) as (url, _proc):
        assert httpx.get(f"{url}/v1/state").status_code == 401
        token = httpx.post(f"{url}/v1/login", json={"username": "rjones",
                                                   "password": demo["JONES_PASSWORD"]}).json()
        seen = httpx.get(f"{url}/v1/state",
                         headers={"Authorization": f"Bearer {token['token']}"}).json()
        assert [a["account_id"] for a in seen["accounts"]] == ["100517"]
        assert "password_hash" not in json.dumps(seen) and "$argon2" not in json.dumps(seen)
        # a plan acting as the master can't be applied with rjones's token
        assert run("plan", *FILES, "--out", "saved.plan").code == 0
        plan = json.loads((tmp_path / "saved.plan").read_text())["plan"]
        refused = httpx.post(f"{url}/v1/apply", json={"plan": plan, "passwords": {}},
                             headers={"Authorization": f"Bearer {token['token']}"})
        assert refused.status_code == 403
        assert refused.json() == {"detail": "this plan acts as riverside-admin; log in as "
                                            "riverside-admin to apply it",
                                  "error": "permission_denied"}
        bad = httpx.post(f"{url}/v1/login", json={"username": "rjones", "password": "nope"})
        ghost = httpx.post(f"{url}/v1/login", json={"username": "ghost", "password": "nope"})
        assert bad.status_code == ghost.status_code == 401
        assert bad.json()["detail"].replace("rjones", "X") == ghost.json()["detail"].replace(
            "ghost", "X")
    log = next(tmp_path.glob("serve-*.log")).read_text()
    for secret in demo.values():
        assert secret not in log
    assert token["token"] not in log


def test_sigkill_of_the_service_mid_apply(run: Run, tmp_path: Path) -> None:
    shape = Shape(providers=10, staff=24, accounts_per_staff=4, diagnosis=150, billing=40,
                  payers=40)
    text, env_text = generate(shape)
    (tmp_path / "p.yaml").write_text(text)
    (tmp_path / "p.env").write_text(env_text)
    files = ("-f", str(tmp_path / "p.yaml"), "--env-file", str(tmp_path / "p.env"))
    store = tmp_path / "store.db"
    sandbox(str(store), load_file(tmp_path / "p.yaml"),
            Secrets(load_env_file(tmp_path / "p.env"), environ={}))
    pristine = tmp_path / "pristine.db"
    shutil.copyfile(store, pristine)
    old = open_system(str(store)).read_state()
    outcomes = {"old": 0, "new": 0}
    # Each kill of the service is anchored at the apply's own progress in the store: while
    # its transaction holds the write lock, and right after its commit became durable.
    # (The apply hashes and checks its logins before its transaction, so the locked window is
    # short: the kills land at once or within milliseconds of the marker.)
    for marker, delay in (("lock", 0.0), ("lock", 0.0), ("lock", 0.005), ("committed", 0.0)):
        shutil.copyfile(pristine, store)
        with serving(str(store), tmp_path) as (url, proc):
            client = subprocess.Popen(
                [sys.executable, "-m", "groupsync", "apply", "--auto-approve", *files,
                 "--store", url], cwd=tmp_path, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, text=True,
                env={k: v for k, v in os.environ.items() if not k.endswith("_PASSWORD")})
            landed = kill_at(proc, store, marker, delay)
            _, err = client.communicate(timeout=120)
        assert landed, f"the apply ended before {marker}"
        state = open_system(str(store)).read_state()
        if client.returncode != 0:  # the service died under it: one clear line
            assert len(err.splitlines()) == 1 and "Traceback" not in err, err
            assert err.startswith("Error: lost the groupsync service at ")
        else:  # the answer left just before the kill: then the apply is in the store
            assert state.revision == old.revision + 1
        if state.revision == old.revision:
            assert state_digest(state) == state_digest(old)
            outcomes["old"] += 1
        else:
            assert state.revision == old.revision + 1
            assert make_plan(load_file(tmp_path / "p.yaml"), state).changes == []
            outcomes["new"] += 1
    assert outcomes["old"] >= 2 and outcomes["new"] >= 1, outcomes
    with serving(str(store), tmp_path) as (url, _proc):  # a re-run converges
        r = run("apply", "--auto-approve", *files, "--store", url)
        assert r.code == 0, r.err
        # (the generated practice gives some staff full notes where they are joined: the
        # built-in risky-grants policy says so, and the plan is still empty)
        assert run("plan", *files, "--store", url).out.endswith(
            "\nNo changes. The store matches the file.\n")


# -- schemathesis against the OpenAPI document (bounded) ---------------------------------------

class _StoreOnFirstUse:
    """The account system behind the app, signed up on first use: schemathesis needs the app
    (for its OpenAPI document) when the module is collected, but the store and its argon2
    hashes are made only when a case is run, so collecting or deselecting costs neither."""

    def __init__(self) -> None:
        self._system: AccountSystem | None = None

    def get(self) -> AccountSystem:
        if self._system is None:
            folder = Path(tempfile.mkdtemp(prefix="groupsync-schemathesis-"))
            atexit.register(shutil.rmtree, folder, True)
            self._system, _ = sandbox(str(folder / "store.db"), load_file(EXAMPLE),
                                      Secrets(demo_env(), environ={}))
        return self._system

    def __getattr__(self, name: str) -> Any:
        if callable(getattr(AccountSystem, name, None)):  # a method the app binds early
            return lambda *args, **kwargs: getattr(self.get(), name)(*args, **kwargs)
        return getattr(self.get(), name)


_lazy = _StoreOnFirstUse()
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_lazy))  # type: ignore[arg-type]


@schema.auth(refresh_interval=None)
class _FreshToken:
    """A fresh token for every case, from a real log-in: no case runs on an expired token,
    and schemathesis knows which header is the credential (its auth checks take it away)."""

    def get(self, case: schemathesis.Case, context: object) -> str:
        # Issued by the account system, not by a log-in through the app: schemathesis's own
        # /v1/login cases fail from the same client address ("testclient"), and once they
        # pass the address limit (50 in 15 minutes) a log-in here is refused, schemathesis
        # goes on without a token, and the case meets `login_required` (the flake's cause).
        system = _lazy.get()
        return system.issue_token(system.user("jsmith"), 900)

    def set(self, case: schemathesis.Case, data: str, context: object) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schema.parametrize()
@settings(max_examples=budget(30), suppress_health_check=list(HealthCheck))
def test_the_api_never_fails_and_matches_its_schema(case: schemathesis.Case) -> None:
    # A saved plan has rules across fields that no JSON Schema states (the actor's variable is
    # named, records match their keys), and /v1/plan's body is a practice.yaml whose rules are
    # `validate`'s: a schema-valid request may still be refused with 422, so "schema-valid
    # data is accepted" can't hold for those two; every other check does.
    excluded = ([positive_data_acceptance] if case.operation.path in ("/v1/apply", "/v1/plan")
                else [])
    response = case.call_and_validate(excluded_checks=excluded)
    if case.operation.path == "/v1/login":
        return
    if case.operation.schema.is_security_param_negated(case):
        assert response.status_code == 401  # the negative case schemathesis made on purpose
    else:
        # every other case carries a fresh, valid token: refusing it would mean the run
        # tested nothing past the door
        assert response.status_code != 401 or response.json()["error"] != "login_required", \
            (case.operation.path, response.text)
