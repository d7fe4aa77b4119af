"""An API client generated from the service's own OpenAPI document, as an integrator makes
one (openapi-python-client), used against a real `groupsync serve` (docs/contracts.md, "Clients and
the editor schema"): bearer authentication, typed state and audit answers, POST /v1/plan then POST
/v1/apply."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from groupsync.accounts import create_system
from groupsync.server import create_app

from .conftest import DEMO_ENV, EXAMPLE, demo_env
from .support import serving

FILES = ("-f", str(EXAMPLE), "--env-file", str(DEMO_ENV))


def _generate(tmp_path: Path) -> Any:
    document = create_app(create_system(str(tmp_path / "doc.db"))).app.openapi()
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(document))
    generator = Path(sys.executable).with_name("openapi-python-client")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run([str(generator), "generate", "--path", str(spec), "--output-path",
                           str(tmp_path / "gs_api"), "--meta", "none"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout, done.stdout  # every schema understood
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module("gs_api")
    finally:
        sys.path.remove(str(tmp_path))


def test_a_generated_client_plans_and_applies_with_its_token(run: Any, tmp_path: Path) -> None:
    api = _generate(tmp_path)
    from gs_api.api.default import (  # type: ignore[import-not-found]
        apply_v1_apply_post,
        audit_v1_audit_get,
        login_v1_login_post,
        plan_v1_plan_post,
        state_v1_state_get,
    )
    from gs_api.models import (  # type: ignore[import-not-found]
        ApplyRequest,
        ApplyRequestPasswords,
        LoginRequest,
        PlanRequest,
    )

    assert run("sandbox", *FILES).code == 0
    assert run("apply", *FILES, "--auto-approve").code == 0
    demo = demo_env()
    with serving(str(tmp_path / "groupsync.db"), tmp_path) as (url, _proc):
        anonymous = api.Client(base_url=url)
        login = login_v1_login_post.sync(client=anonymous, body=LoginRequest(
            username="riverside-admin", password=demo["MASTER_PASSWORD"]))
        assert login.token_type == "bearer" and login.expires_in == 900
        # without the token: 401 in the one error shape, not an empty header sent by default
        refused = state_v1_state_get.sync_detailed(client=anonymous)
        assert refused.status_code == 401
        assert json.loads(refused.content)["error"] == "login_required"

        client = api.AuthenticatedClient(base_url=url, token=login.token)
        state = state_v1_state_get.sync(client=client)
        assert sorted(a.account_id for a in state.accounts) == ["100482", "100517", "100533",
                                                                "100561"]
        smith = next(a for a in state.accounts if a.account_id == "100482")
        assert (smith.provider_name, smith.tin) == ("Jane Smith, PhD", "12-3456789")
        assert {c.file for c in state.codes} == {"diagnosis_codes", "billing_codes",
                                                 "insurance_payers"}

        renamed = EXAMPLE.read_text().replace("Robert Jones, LCSW", "Robert Jones, PhD")
        planned = plan_v1_plan_post.sync(client=client, body=PlanRequest(practice=renamed))
        assert (planned.summary.add, planned.summary.change, planned.summary.remove) == (0, 1, 0)
        assert planned.changes[0]["after"]["provider_name"] == "Robert Jones, PhD"
        saved = planned.saved_plan
        passwords = ApplyRequestPasswords.from_dict(
            {user: demo[var] for user, var in saved.credentials.to_dict().items()})
        applied = apply_v1_apply_post.sync(client=client, body=ApplyRequest(
            plan=saved, passwords=passwords, note="from a generated client"))
        assert applied.revision == state.revision + 1 and applied.changes == 1

        audit = audit_v1_audit_get.sync(client=client, limit=1)
        entry = audit.entries[0]
        assert (entry.type_, entry.account, entry.actor) == ("practice_setup", "100517",
                                                            "riverside-admin")
        assert entry.detail["note"] == "from a generated client"
        # an invalid practice is a 422 in the one error shape, naming lines, not content
        bad = httpx.post(f"{url}/v1/plan", headers={"Authorization": f"Bearer {login.token}"},
                         json={"practice": "version: 1\nsecret: hunter2\n"})
        assert bad.status_code == 422 and "hunter2" not in bad.text
        assert set(bad.json()) == {"detail", "error", "problems"}
        assert all(set(p) == {"line", "column", "message"} for p in bad.json()["problems"])
