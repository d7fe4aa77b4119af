"""What one hostile request costs `groupsync serve` (docs/contracts.md, "No single request
starves the others (the edge)"): for each, the growth of the service's RSS while it is sent and
refused, the worst /v1/health latency meanwhile, and the answer. Targets: at most 256 MiB growth and
under 1 s health latency. Loopback only; every loop is bounded and stops by itself.

    python benchmarks/hostile.py [--backend sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from groupsync.vocabulary import AREAS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "practice.yaml"
DEMO_ENV = ROOT / "examples" / "demo.env"
MiB = 1 << 20


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def _serve(store: str, folder: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.endswith("_PASSWORD")}
    log = (folder / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "groupsync", "serve", "--store", store,
                             "--listen", f"127.0.0.1:{port}"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                break
        time.sleep(0.1)
    try:
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(10)


def _measure(url: str, pid: int, attack: Callable[[], str]) -> tuple[float, float, str]:
    """(RSS growth in MiB, worst health latency in s, the attack's answer)."""
    stop = threading.Event()
    worst = [0.0]
    peak = [_rss(pid)]
    base = peak[0]

    def watch() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    ok = client.get(f"{url}/v1/health").status_code == 200
                except httpx.TransportError:
                    ok = False
                took = time.perf_counter() - started
                worst[0] = max(worst[0], took if ok else 30.0)
                peak[0] = max(peak[0], _rss(pid))
                time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        answer = attack()
        time.sleep(0.3)
    finally:
        stop.set()
        watcher.join()
    return (peak[0] - base) / MiB, worst[0], answer


def _env() -> dict[str, str]:
    return dict(line.split("=", 1) for line in DEMO_ENV.read_text().splitlines()
                if line and not line.startswith("#"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    pw = _env()
    folder = Path(tempfile.mkdtemp(prefix="groupsync-hostile-"))
    if args.backend == "sqlite":
        store = str(folder / "store.db")
    else:
        import psycopg

        base = os.environ.get("GROUPSYNC_TEST_POSTGRES",
                              "postgresql://postgres@127.0.0.1:5432/test")
        schema = f"gs_hostile_{os.getpid()}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        store = f"{base}?options=-csearch_path%3D{schema}"
    cli = [sys.executable, "-m", "groupsync"]
    files = ["-f", str(EXAMPLE), "--env-file", str(DEMO_ENV), "--store", store]
    subprocess.run([*cli, "sandbox", *files], check=True, capture_output=True)
    subprocess.run([*cli, "apply", "--auto-approve", *files], check=True, capture_output=True)
    rows = []
    try:
        with _serve(store, folder) as (url, proc):
            def token(name: str, password: str) -> dict[str, str]:
                r = httpx.post(f"{url}/v1/login", json={"username": name, "password": password})
                return {"Authorization": f"Bearer {r.json()['token']}",
                        "Content-Type": "application/json"}

            staff = token("frontdesk", pw["FRONTDESK_PASSWORD"])

            def post(path: str, body: bytes, headers: dict[str, str]) -> str:
                r = httpx.post(f"{url}{path}", content=body, headers=headers, timeout=120)
                return f"{r.status_code} {r.json().get('error', '')}"

            junk16 = json.dumps({"practice": "providers: [" + "a, " * (5 * MiB) + "a]"}).encode()
            junk4 = json.dumps({"practice": "providers: [" + "a, " * (1300 * 1024) + "a]"}
                               ).encode()
            plan_junk = json.dumps({"plan": {"changes": [[0] * 64] * 60_000},
                                    "passwords": {}}).encode()
            # a plan of junk under the value limit: strings, not numbers
            plan_strings = json.dumps({"plan": {"changes": [["x" * 200] * 40] * 1_300},
                                       "passwords": {}}).encode()
            hires = {f"hire{i:04d}": f"a-long-new-password-{i}" for i in range(600)}
            state = httpx.get(f"{url}/v1/state", headers=staff).json()
            hire_plan = json.dumps({"plan": {
                "lineage": state["lineage"], "revision": state["revision"],
                "write_count": state["write_count"], "actor": "frontdesk",
                "master": "frontdesk",
                "credentials": {"frontdesk": "F_PASSWORD", **{u: "H_PASSWORD" for u in hires}},
                "changes": [{"action": "add", "type": "username", "account": "100482",
                             "username": u, "before": None,
                             "after": {"home": "100482", "privileges": {
                                 a: "none" for a in AREAS}}} for u in hires]},
                "passwords": {"frontdesk": pw["FRONTDESK_PASSWORD"], **hires}}).encode()
            big = b'{"plan": ' + b" " * (60 * MiB) + b"}"

            def many_bodies() -> str:
                answers: list[str] = []

                def one() -> None:
                    answers.append(post("/v1/apply", plan_strings, staff))

                threads = [threading.Thread(target=one) for _ in range(16)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                return ", ".join(sorted(set(answers)))

            def half_open() -> str:
                held = []
                host, port = url.removeprefix("http://").split(":")
                for a in range(2, 20):  # 18 loopback addresses x 60 half-sent heads
                    for _ in range(60):
                        s = socket.socket()
                        with contextlib.suppress(OSError):
                            s.bind((f"127.0.0.{a}", 0))
                            s.connect((host, int(port)))
                            s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
                        held.append(s)
                ok = 0
                for _ in range(64):
                    with contextlib.suppress(httpx.TransportError):
                        ok += httpx.get(f"{url}/v1/health", timeout=2).status_code == 200
                for s in held:
                    s.close()
                return f"{ok}/64 health checks answered 200"

            attacks: list[tuple[str, Callable[[], str]]] = [
                ("/v1/plan, 16 MiB practice of junk", lambda: post("/v1/plan", junk16, staff)),
                ("/v1/plan, 3.9 MiB practice of junk (node limit)",
                 lambda: post("/v1/plan", junk4, staff)),
                ("/v1/apply, 60 MiB JSON body", lambda: post("/v1/apply", big, staff)),
                (f"/v1/apply, {len(plan_junk) / MiB:.1f} MiB plan of junk",
                 lambda: post("/v1/apply", plan_junk, staff)),
                ("/v1/apply, 600 new passwords, no rights",
                 lambda: post("/v1/apply", hire_plan, staff)),
                (f"/v1/apply, {len(plan_strings) / MiB:.1f} MiB plan of junk strings",
                 lambda: post("/v1/apply", plan_strings, staff)),
                (f"16 x /v1/apply, {len(plan_strings) / MiB:.1f} MiB of strings each, at once",
                 many_bodies),
                ("18 addresses x 60 half-sent heads", half_open),
            ]
            for name, attack in attacks:
                growth, worst, answer = _measure(url, proc.pid, attack)
                rows.append((name, growth, worst, answer))
    finally:
        if args.backend == "postgresql":
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
    print(f"hostile requests against groupsync serve ({args.backend}); targets: RSS growth "
          "<= 256 MiB, worst health < 1 s")
    print(f"{'request':52} {'RSS +MiB':>9} {'health s':>9}  answer")
    for name, growth, worst, answer in rows:
        flag = "" if growth <= 256 and worst < 1 else "  <-- over target"
        print(f"{name:52} {growth:9.0f} {worst:9.3f}  {answer}{flag}")


if __name__ == "__main__":
    main()
