"""`make bench-scale`: does a question's cost follow the practice or the store? (issue 10)

Two stores per backend, measured in the same run:
- *alone*: a 3-provider practice, set up through the real CLI path (sandbox, apply);
- *vendor*: the same practice, in a store that also holds a 1,000-provider practice and
  20,000 five-provider practices (about 101,000 accounts, 200,000 usernames, 2 million code
  rows), bulk-inserted through the storage layer's own connection with one precomputed argon2
  hash (the benchmark measures reads and plans, not sign-ups).

For each: the practice's no-op plan and a fee-change plan + apply, locally and through a real
`groupsync serve` (in-process client, so process start-up is not in the figure), then the
argon2 ceiling of this machine (verifications per second on all cores), which bounds plans
per second through the service: each costs at least one log-in.

Prints a table and writes benchmarks/out/scale-<backend>.json. Targets: vendor / alone <= 1.5.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.generate import Shape, generate  # noqa: E402
from groupsync.accounts import create_system, open_system  # noqa: E402
from groupsync.accounts.memo import remembering_logins  # noqa: E402
from groupsync.accounts.passwords import hash_password, verify_password  # noqa: E402
from groupsync.applier import apply_plan  # noqa: E402
from groupsync.config import Secrets, load_env_file, load_text  # noqa: E402
from groupsync.engine import prepare, sandbox  # noqa: E402
from groupsync.vocabulary import AREAS  # noqa: E402

TARGET = Shape(providers=3, staff=4, accounts_per_staff=2, diagnosis=20, billing=10, payers=10,
               id_base=900000, prefix="t")
FULL = tuple("full" for _ in AREAS)
FILLER_PASSWORD = "filler-password-2026"


def _target_files(work: Path) -> tuple[Path, Path]:
    text, env = generate(TARGET, seed=7)
    yaml_path, env_path = work / "target.yaml", work / "target.env"
    yaml_path.write_text(text)
    env_path.write_text(env)
    return yaml_path, env_path


def fill(store: str, practices: int, big: int) -> dict[str, int]:
    """Bulk rows for `practices` five-provider practices and one `big`-provider practice:
    accounts, usernames (5 logins, a master, 4 staff each), access and 20 code rows per
    account. One write transaction, one hash for every password."""
    system = open_system(store)
    pw_hash = hash_password(FILLER_PASSWORD)
    counts = {"accounts": 0, "usernames": 0, "access": 0, "codes": 0}
    account_rows: list[tuple[Any, ...]] = []
    user_rows: list[tuple[Any, ...]] = []
    access_rows: list[tuple[Any, ...]] = []
    code_rows: list[tuple[Any, ...]] = []
    now = "2026-01-01T00:00:00Z"

    def practice(index: int, providers: int, staff: int) -> None:
        ids = [f"{3_000_000 + index * 10 + i}" for i in range(providers)] if providers < 1000 \
            else [f"{8_000_000 + i}" for i in range(providers)]
        for i, acct in enumerate(ids):
            login = f"p{index}-login{i}"
            account_rows.append((acct, f"Provider {index}/{i}", login, f"Practice {index}",
                                 "11-1111111", 0, now, "2026-02-01"))
            user_rows.append((login.lower(), login, acct, pw_hash, now, uuid.uuid4().hex))
            access_rows.append((login.lower(), acct, *FULL))
            for c in range(20):
                code_rows.append((acct, "diagnosis_codes", f"F{10 + c:02d}.{index % 10}",
                                  "generated", "", "", ""))
        master = f"p{index}-master"
        user_rows.append((master, master, ids[0], pw_hash, now, uuid.uuid4().hex))
        for acct in ids:
            access_rows.append((master, acct, *FULL))
        for s in range(staff):
            name = f"p{index}-staff{s}"
            home = ids[s % len(ids)]
            user_rows.append((name, name, home, pw_hash, now, uuid.uuid4().hex))
            for acct in {home, ids[(s + 1) % len(ids)]}:
                access_rows.append((name, acct, "view", "full", "none", "none", "none", "view",
                                    "none", "none", "none"))

    for index in range(practices):
        practice(index, 5, 4)
    if big:
        practice(practices, big, 2 * big)
    storage: Any = system.storage
    with storage.write() as tx:
        c = tx.conn
        c.executemany("INSERT INTO accounts VALUES (?,?,?,?,?,?,?,?)", account_rows)
        c.executemany("INSERT INTO usernames (ukey, username, home, password_hash, created_at, "
                      "user_id) VALUES (?,?,?,?,?,?)", user_rows)
        c.executemany(f"INSERT INTO access VALUES (?,?,{','.join('?' * len(AREAS))})",
                      access_rows)
        c.executemany("INSERT INTO codes VALUES (?,?,?,?,?,?,?)", code_rows)
    if store.startswith("postgresql://"):
        # statistics for the planner, as autovacuum would gather soon after a real load
        import psycopg

        with psycopg.connect(store, autocommit=True) as conn:
            conn.execute("ANALYZE")
    counts.update(accounts=len(account_rows), usernames=len(user_rows),
                  access=len(access_rows), codes=len(code_rows))
    return counts


def _median(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(store: str, yaml_path: Path, env_path: Path, runs: int) -> dict[str, float]:
    secrets = Secrets(load_env_file(env_path), environ={})
    text = yaml_path.read_text()
    desired = load_text(text.encode(), str(yaml_path))
    fees = [load_text(text.replace('fee: "', f'fee: "{n}', 1).encode(), str(yaml_path))
            for n in (1, 2)]
    system = open_system(store)

    def noop() -> None:
        with remembering_logins():
            prepared = prepare(system, desired, secrets)
        assert not prepared.plan.changes, "the practice is not converged"

    flip = [0]

    def fee_change() -> None:
        flip[0] ^= 1
        with remembering_logins():
            prepared = prepare(system, fees[flip[0]], secrets)
            apply_plan(system, prepared.plan, prepared.passwords, fees[flip[0]])

    out = {"noop_plan_s": _median(noop, runs), "fee_apply_s": _median(fee_change, runs)}
    with remembering_logins():  # leave the store as the file says
        prepared = prepare(system, desired, secrets)
        apply_plan(system, prepared.plan, prepared.passwords, desired)
    # through a real service on loopback, as the CLI's client reaches it
    from groupsync.remote import RemoteSystem

    port = 18000 + os.getpid() % 1000
    proc, url = start_service(store, port)
    try:
        master = desired.master
        password = secrets.get(master.password_var, "")

        def remote_noop() -> None:
            remote = RemoteSystem(url)
            try:
                remote.authenticate({master.username: password})
                prepared = prepare(remote, desired, secrets)
                assert not prepared.plan.changes, "the practice is not converged"
            finally:
                remote.close()

        out["serve_noop_plan_s"] = _median(remote_noop, runs)
        flip[0] = 0

        def remote_fee() -> None:
            flip[0] ^= 1
            remote = RemoteSystem(url)
            try:
                remote.authenticate({master.username: password})
                prepared = prepare(remote, fees[flip[0]], secrets)
                remote.apply(prepared.plan, prepared.passwords, fees[flip[0]])
            finally:
                remote.close()

        out["serve_fee_apply_s"] = _median(remote_fee, runs)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return out


def start_service(store: str, port: int) -> tuple[subprocess.Popen[bytes], str]:
    """A real `groupsync serve` on loopback, waited for (at most 30 s); no password in its
    environment. Shared by this benchmark and load.py."""
    import httpx

    env = {k: v for k, v in os.environ.items() if not k.endswith("_PASSWORD")}
    proc = subprocess.Popen([sys.executable, "-m", "groupsync", "serve", "--store", store,
                             "--listen", f"127.0.0.1:{port}"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    return proc, url


def _verify_many(n: int) -> int:
    target = hash_password("ceiling-password-2026")
    for _ in range(n):
        verify_password(target, "ceiling-password-2026")
    return n


def argon2_ceiling(seconds: float = 3.0) -> float:
    """argon2id verifications per second with every core busy."""
    cores = os.cpu_count() or 1
    started = time.perf_counter()
    done = 0
    with ProcessPoolExecutor(cores) as pool:
        while time.perf_counter() - started < seconds:
            done += sum(pool.map(_verify_many, [5] * cores))
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--practices", type=int, default=20_000)
    parser.add_argument("--big", type=int, default=1000, help="providers in the big practice")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--postgres", default=os.environ.get(
        "GROUPSYNC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="groupsync-scale-"))
    yaml_path, env_path = _target_files(work)
    secrets = Secrets(load_env_file(env_path), environ={})
    desired = load_text(yaml_path.read_bytes(), str(yaml_path))
    report: dict[str, Any] = {"backend": args.backend, "practices": args.practices,
                              "big": args.big}
    schemas: list[str] = []
    try:
        for kind in ("alone", "vendor"):
            if args.backend == "sqlite":
                store = str(work / f"{kind}.db")
            else:
                import psycopg

                schema = f"gs_scale_{kind}_{uuid.uuid4().hex[:8]}"
                with psycopg.connect(args.postgres, autocommit=True) as conn:
                    conn.execute(f"CREATE SCHEMA {schema}")
                schemas.append(schema)
                store = f"{args.postgres}?options=-csearch_path%3D{schema}"
            create_system(store)
            started = time.perf_counter()
            if kind == "vendor":
                report["vendor_rows"] = fill(store, args.practices, args.big)
            report[f"{kind}_build_s"] = round(time.perf_counter() - started, 1)
            sandbox(store, desired, secrets)
            with remembering_logins():
                system = open_system(store)
                prepared = prepare(system, desired, secrets)
                apply_plan(system, prepared.plan, prepared.passwords, desired)
            report[kind] = measure(store, yaml_path, env_path, args.runs)
            print(kind, json.dumps(report[kind]), flush=True)
        report["ratios"] = {k: round(report["vendor"][k] / report["alone"][k], 2)
                            for k in report["alone"]}
        report["argon2_verifications_per_s"] = round(argon2_ceiling(), 1)
    finally:
        if schemas:
            import psycopg

            with psycopg.connect(args.postgres, autocommit=True) as conn:
                for schema in schemas:
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")
        shutil.rmtree(work, ignore_errors=True)
    out = ROOT / "benchmarks" / "out" / f"scale-{args.backend}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
