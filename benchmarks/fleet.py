"""Fleet benchmark: `make bench-fleet` (docs/contracts.md, "Running many practices").

Builds a workspace of N practices (default 200) of three providers each, signs them up and
applies them, on SQLite and on PostgreSQL, then times with the real CLI (process start
included, median of --runs):
  - the fleet's no-op plan, locally and through `serve` (warmed up by one untimed plan);
  - a fee change across the fleet: plan + apply;
  - the argon2 floor, in the same run: one argon2id verification per practice (every no-op
    plan of a practice must verify at least its acting login), spread over the cores;
  - the peak memory (max RSS) of the local no-op fleet plan.
Prints one table and writes benchmarks/out/fleet.json. The package's bytecode is compiled
first, as an installed wheel's is.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import serving  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def build(folder: Path, practices: int, providers: int) -> tuple[Path, Path]:
    """The workspace and its env file: practice i has providers p0..p{providers-1}."""
    env: list[str] = []
    names: list[str] = []
    for i in range(practices):
        name = f"practice{i:03d}"
        names.append(name)
        lines = ["version: 1", f"practice: {{name: Practice {i}, tin: \"{10 + i % 89:02d}-"
                 f"{1000000 + i:07d}\"}}", "providers:"]
        for j in range(providers):
            var = f"P{i}_{j}_PASSWORD"
            env.append(f"{var}=fleet-bench-{i}-{j}-pw")
            lines += [f"  p{j}:", f"    name: Provider {i}-{j}",
                      f"    account_id: \"{500000 + i * 10 + j}\"",
                      f"    login: {{username: login{i}-{j}, password: \"${{{var}}}\", "
                      f"person: Provider {i}-{j}}}"]
        env.append(f"M{i}_PASSWORD=fleet-bench-master-{i}-pw")
        lines += ["master:", f"  username: master{i}", f"  person: Manager {i}",
                  f"  password: \"${{M{i}_PASSWORD}}\"", "  home: p0",
                  "codes:", "  master: p0", "  billing_codes:",
                  "    - {code: \"90834\", description: \"Psychotherapy, 45 minutes\", "
                  "fee: \"120.00\"}",
                  "    - {code: \"90837\", description: \"Psychotherapy, 60 minutes\", "
                  "fee: \"150.00\"}"]
        (folder / f"{name}.yaml").write_text("\n".join(lines) + "\n")
    ws = folder / "groupsync.yaml"
    ws.write_text("version: 1\npractices:\n" + "".join(f"  {n}: {n}.yaml\n" for n in names))
    env_file = folder / "fleet.env"
    env_file.write_text("\n".join(env) + "\n")
    return ws, env_file


def groupsync(*args: str, cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "groupsync", *args], cwd=cwd,
                          capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    return time.perf_counter() - start, proc


def must(proc: subprocess.CompletedProcess[str], codes: tuple[int, ...] = (0,)) -> None:
    if proc.returncode not in codes:
        raise SystemExit(f"groupsync {proc.args[3:]} exited {proc.returncode}:\n"
                         f"{proc.stderr[-2000:]}")


def peak_rss_mb(*args: str, cwd: Path) -> float:
    """The max RSS of one groupsync run, in its own watcher process (so nothing else this
    script ran counts)."""
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], "
            "capture_output=True); print(resource.getrusage(resource.RUSAGE_CHILDREN)"
            ".ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "groupsync",
                          *args], cwd=cwd, capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


def argon2_floor(practices: int) -> float:
    """One argon2id verification per practice with the store's parameters, on every core."""
    from groupsync.accounts.passwords import hash_password, verify_password

    stored = hash_password("fleet-bench-floor-pw")
    workers = os.cpu_count() or 1
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        assert all(pool.map(lambda _: verify_password(stored, "fleet-bench-floor-pw"),
                            range(practices)))
    return time.perf_counter() - start


def median(times: list[float]) -> float:
    return statistics.median(times)


def one_backend(backend: str, practices: int, providers: int, runs: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"groupsync-fleet-{backend}-"))
    ws, env_file = build(folder, practices, providers)
    if backend == "sqlite":
        store = str(folder / "fleet.db")
    else:
        schema = f"fleet_{uuid.uuid4().hex[:10]}"
        subprocess.run(["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "test", "-c",
                        f"CREATE SCHEMA {schema}"], check=True)
        store = f"{PG_URL}?options=-csearch_path%3D{schema}"
    opts = ("-f", str(ws), "--env-file", str(env_file), "--store", store)
    must(groupsync("sandbox", *opts, cwd=folder)[1])
    must(groupsync("apply", *opts, "--auto-approve", cwd=folder)[1])
    result: dict[str, Any] = {"practices": practices, "providers": providers}
    floors, noop, served = [], [], []
    for _ in range(runs):
        floors.append(argon2_floor(practices))
        seconds, proc = groupsync("plan", *opts, "--detailed-exitcode", cwd=folder)
        must(proc)
        noop.append(seconds)
    result["argon2_floor_s"] = median(floors)
    result["noop_plan_s"] = median(noop)
    result["noop_plan_peak_mb"] = peak_rss_mb("plan", *opts, cwd=folder)
    with serving(store, folder) as (url, _proc):
        remote = ("-f", str(ws), "--env-file", str(env_file), "--store", url)
        # a service runs for days: its first answers (imports, first connections) are not
        # what a fleet's plan meets, so one plan warms it up, untimed
        must(groupsync("plan", *remote, cwd=folder)[1])
        for _ in range(runs):
            seconds, proc = groupsync("plan", *remote, "--detailed-exitcode", cwd=folder)
            must(proc)
            served.append(seconds)
    result["noop_plan_serve_s"] = median(served)
    for path in folder.glob("practice*.yaml"):
        path.write_text(path.read_text().replace('fee: "150.00"', 'fee: "155.00"'))
    seconds, proc = groupsync("plan", *opts, "--detailed-exitcode", cwd=folder)
    must(proc, (2,))
    result["fee_plan_s"] = seconds
    seconds, proc = groupsync("apply", *opts, "--auto-approve", cwd=folder)
    must(proc)
    result["fee_apply_s"] = seconds
    result["fee_changes"] = practices * providers
    if backend == "postgresql":  # the run's own schema goes with it
        subprocess.run(["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "test", "-c",
                        f"DROP SCHEMA {schema} CASCADE"], check=True, capture_output=True)
    result["noop_vs_floor"] = result["noop_plan_s"] / result["argon2_floor_s"]
    result["serve_vs_floor"] = result["noop_plan_serve_s"] / result["argon2_floor_s"]
    return result


def compile_package() -> None:
    """Bytecode for the package, as a wheel install has (pip compiles it): this machine sets
    PYTHONDONTWRITEBYTECODE, and an editable install then compiles groupsync's modules again
    at every run (about 0.1 s of each)."""
    import compileall

    compileall.compile_dir(str(ROOT / "groupsync"), quiet=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--practices", type=int, default=200)
    ap.add_argument("--providers", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = ap.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    compile_package()
    results = {b: one_backend(b, args.practices, args.providers, args.runs) for b in backends}
    print(f"fleet of {args.practices} practices x {args.providers} providers, "
          f"{os.cpu_count()} cores, median of {args.runs}")
    rows = [("argon2 floor (1 verification per practice)", "argon2_floor_s", "s"),
            ("no-op fleet plan, local", "noop_plan_s", "s"),
            ("  vs the floor", "noop_vs_floor", "x"),
            ("no-op fleet plan, through serve", "noop_plan_serve_s", "s"),
            ("  vs the floor", "serve_vs_floor", "x"),
            ("fee change across the fleet: plan", "fee_plan_s", "s"),
            ("fee change across the fleet: apply", "fee_apply_s", "s"),
            ("peak memory, local no-op fleet plan", "noop_plan_peak_mb", "MB")]
    print(f"{'':45}" + "".join(f"{b:>14}" for b in backends))
    for label, key, unit in rows:
        print(f"{label:45}" + "".join(f"{results[b][key]:>12.2f}{unit:>2}" for b in backends))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "fleet.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
