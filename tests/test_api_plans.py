"""Plans through POST /v1/apply: real plans made from real practices, and the same plans with
one field made hostile. Every answer is a 2xx or a 4xx in the one error shape, never a 5xx,
and a refused request changes nothing. The run must reach the account system's apply (some
answers are 200), or it tested only the door."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from groupsync.accounts.memo import remembering_logins
from groupsync.config import Secrets, load_text
from groupsync.engine import prepare, sandbox
from groupsync.planfile import plan_data
from groupsync.server import create_app

from .conftest import EXAMPLE, demo_env
from .helpers import budget

HOSTILE: list[Any] = [None, "", "x" * 5000, -1, 2**70, {"a": 1}, [1], "\x1b[2K", True,
                      "../../etc/passwd", 1.5, "riverside-admin\n"]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


def test_real_and_hostile_plans_through_the_api() -> None:
    folder = Path(tempfile.mkdtemp(prefix="groupsync-api-plans-"))
    secrets = Secrets(demo_env(), environ={})
    system, _ = sandbox(str(folder / "store.db"), load_text(EXAMPLE.read_bytes(), "p.yaml"),
                        secrets)
    client = TestClient(create_app(system), raise_server_exceptions=False)
    statuses: Counter[int] = Counter()

    @settings(max_examples=budget(25))
    @given(fee=st.integers(1, 99_999), level=st.sampled_from(["full", "view", "none"]),
           mutate=st.none() | st.tuples(st.integers(0, 10**6), st.sampled_from(HOSTILE)))
    def one(fee: int, level: str, mutate: tuple[int, Any] | None) -> None:
        text = EXAMPLE.read_text().replace('fee: "150.00"', f'fee: "{fee / 100:.2f}"')
        text = text.replace("all: {scheduling: full, clients: view}",
                            f"all: {{scheduling: full, clients: {level}}}")
        with remembering_logins():
            prepared = prepare(system, load_text(text.encode(), "p.yaml"), secrets)
        data = plan_data(prepared.plan)
        if mutate is not None:
            paths = _paths(data)
            _set(data, paths[mutate[0] % len(paths)], mutate[1])
        login = client.post("/v1/login", json={"username": prepared.plan.actor,
                                               "password": prepared.passwords[prepared.plan.actor]})
        assert login.status_code == 200, login.text
        before = system.read_state().revision
        r = client.post("/v1/apply", json={"plan": data, "passwords": prepared.passwords},
                        headers={"Authorization": f"Bearer {login.json()['token']}"})
        statuses[r.status_code] += 1
        assert r.status_code < 500, r.text
        body = r.json()
        if r.status_code == 200:
            assert body["revision"] == before + (1 if prepared.plan.changes else 0)
        else:
            assert set(body) == {"detail", "error"}, body
            assert system.read_state().revision == before

    one()
    refused = sum(n for status, n in statuses.items() if 400 <= status < 500)
    print("api plan statuses:", dict(statuses))
    assert statuses[200] >= 3 and refused >= 3, statuses
