"""Load on `groupsync serve` over PostgreSQL, loopback only, bounded in time and count.

20 clients make plans and 5 make applies, each on a practice of its own, for --seconds
(default 60) against one service. Each applier alternates its practice between two fee
schedules, so every apply has work; a stale-plan refusal is the only error allowed. At the end
every applier's practice must match the last variant it applied (no lost update), and the
service's memory is sampled throughout.

    python benchmarks/load.py [--seconds 60] [--planners 20] [--appliers 5]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.generate import Shape, generate  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
PG = os.environ.get("GROUPSYNC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
MAX_REQUESTS_PER_CLIENT = 100_000  # a bound on the loops besides the clock


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    import psycopg

    from groupsync.config import Secrets, load_env_file, load_file
    from groupsync.engine import prepare, sandbox
    from groupsync.errors import StaleError
    from groupsync.plan import make_plan
    from groupsync.remote import RemoteSystem, connect

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--planners", type=int, default=20)
    ap.add_argument("--appliers", type=int, default=5)
    ap.add_argument("--vendor", type=int, default=0,
                    help="first fill the store with this many five-provider practices and a "
                         "1,000-provider one (benchmarks/scale.py), to load a vendor-sized store")
    args = ap.parse_args()

    schema = f"gs_load_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    store = f"{PG}?options=-csearch_path%3D{schema}"
    work = OUT / "load"
    work.mkdir(parents=True, exist_ok=True)
    if args.vendor:
        from benchmarks.scale import fill
        from groupsync.accounts import create_system

        create_system(store)
        print(f"filling the store with {args.vendor} practices...", file=sys.stderr)
        fill(store, args.vendor, 1000)
    clients = args.planners + args.appliers
    practices = []
    print(f"setting up {clients} practices in {schema}...", file=sys.stderr)
    for i in range(clients):
        shape = Shape(providers=4, staff=6, accounts_per_staff=3, diagnosis=30, billing=7,
                      payers=8, id_base=500000 + 100 * i, prefix=f"c{i:02d}")
        text, env = generate(shape, seed=i + 1)
        variants = []
        for v, fee in enumerate(("150.00", "175.00")):
            path = work / f"c{i:02d}-{v}.yaml"
            fee_line = next(line for line in text.splitlines() if "fee:" in line)
            path.write_text(text.replace(fee_line, fee_line.split('fee: "')[0]
                                         + f'fee: "{fee}"}}'))
            variants.append(path)
        (work / f"c{i:02d}.env").write_text(env)
        secrets = Secrets(load_env_file(work / f"c{i:02d}.env"), environ={})
        sandbox(store, load_file(variants[0]), secrets)
        practices.append((variants, secrets))

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from benchmarks.scale import start_service

    server, url = start_service(store, port)

    results: dict[str, list[float]] = {"plan": [], "apply": []}
    stale = [0]
    errors: list[str] = []
    last_applied: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + args.seconds

    def remote_for(i: int) -> tuple[RemoteSystem, Any]:
        variants, secrets = practices[i]
        return connect(url, load_file(variants[0]), secrets), secrets

    def planner(i: int) -> None:
        remote, secrets = remote_for(i)
        desired = load_file(practices[i][0][0])
        for _ in range(MAX_REQUESTS_PER_CLIENT):
            if time.monotonic() >= deadline:
                return
            t0 = time.perf_counter()
            try:
                prepare(remote, desired, secrets)
            except Exception as exc:
                with lock:
                    errors.append(f"plan {i}: {type(exc).__name__}: {exc}")
                return
            with lock:
                results["plan"].append(time.perf_counter() - t0)

    def applier(i: int) -> None:
        remote, secrets = remote_for(i)
        variants = practices[i][0]
        desireds = [load_file(v) for v in variants]
        for n in range(MAX_REQUESTS_PER_CLIENT):
            if time.monotonic() >= deadline:
                return
            v = n % 2
            t0 = time.perf_counter()
            try:
                prepared = prepare(remote, desireds[v], secrets)
                remote.apply(prepared.plan, prepared.passwords, desireds[v])
            except StaleError:
                with lock:
                    stale[0] += 1
                continue
            except Exception as exc:
                with lock:
                    errors.append(f"apply {i}: {type(exc).__name__}: {exc}")
                return
            with lock:
                results["apply"].append(time.perf_counter() - t0)
                last_applied[i] = v

    memory: list[tuple[float, float]] = []
    threads = [threading.Thread(target=planner, args=(i,)) for i in range(args.planners)]
    threads += [threading.Thread(target=applier, args=(args.planners + j,))
                for j in range(args.appliers)]
    start = time.monotonic()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        memory.append((time.monotonic() - start, _rss_mb(server.pid)))
        time.sleep(1.0)
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)

    # No lost update: every applier's practice is at the last variant it applied.
    from groupsync.accounts import open_system

    state = open_system(store).read_state()
    lost = [i for i, v in last_applied.items()
            if make_plan(load_file(practices[i][0][v]), state).changes]
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")

    rss = [m for _t, m in memory]
    from benchmarks.scale import argon2_ceiling

    ceiling = argon2_ceiling()
    report = {
        "vendor_practices": args.vendor,
        "argon2_verifications_per_s": round(ceiling, 1),
        "plans_per_s_over_argon2_ceiling": round(len(results["plan"]) / elapsed / ceiling, 2),
        "seconds": round(elapsed, 1), "planners": args.planners, "appliers": args.appliers,
        "plans": len(results["plan"]), "applies": len(results["apply"]),
        "plans_per_s": round(len(results["plan"]) / elapsed, 2),
        "applies_per_s": round(len(results["apply"]) / elapsed, 2),
        "plan_p50_ms": round(_pct(results["plan"], 0.5) * 1000),
        "plan_p99_ms": round(_pct(results["plan"], 0.99) * 1000),
        "apply_p50_ms": round(_pct(results["apply"], 0.5) * 1000),
        "apply_p99_ms": round(_pct(results["apply"], 0.99) * 1000),
        "stale_refusals": stale[0], "errors": errors, "lost_updates": lost,
        "service_rss_mb": {"first": round(rss[0]) if rss else None,
                           "max": round(max(rss)) if rss else None,
                           "last": round(rss[-1]) if rss else None,
                           "median": round(statistics.median(rss)) if rss else None,
                           "every_10s": [round(m) for t, m in memory if int(t) % 10 == 0]},
    }
    name = f"load-vendor-{args.vendor}.json" if args.vendor else "load.json"
    (OUT / name).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    if errors or lost:
        raise SystemExit("load run failed: errors or lost updates (see above)")


if __name__ == "__main__":
    main()
