"""Benchmark runner: `make bench SIZE=S|M|L` (default M).

Each operation runs in a fresh child process (so its peak RSS is its own) and is timed inside
that process around the library calls the CLI makes (interpreter start-up excluded), median of
--runs runs. Floors are measured in the same run:
  (a) reading every row of the store with plain sqlite3 + loading the YAML with libyaml;
  (b) DeepDiff of the whole actual state against the whole desired state as nested dicts.
Prints one table and writes the same figures to benchmarks/out/results-SIZE.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.generate import SIZES, generate  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
CACHE = OUT / "cache"
OPERATIONS = [
    "validate", "plan_empty", "first_apply", "noop_plan", "noop_plan_policies",
    "drift_plan_apply", "fee_apply",
    "codes10_apply", "access", "access_at", "floor_a", "floor_a_state", "floor_b",
]
LABELS = {
    "validate": "validate",
    "plan_empty": "plan, just-sandboxed store",
    "first_apply": "first apply (plan + apply)",
    "noop_plan": "no-op plan",
    "noop_plan_policies": "no-op plan, example's roles + 10 policies",
    "drift_plan_apply": "1% drift: plan + apply",
    "fee_apply": "one fee, all accounts: plan + apply",
    "codes10_apply": "10 diagnosis codes, all accounts: plan + apply",
    "access": "access review (100 revisions of history)",
    "access_at": "access --at, 50 revisions back",
    "floor_a": "floor (a): sqlite3 read all + libyaml load",
    "floor_a_state": "floor (a state): same, without the audit trail",
    "floor_b": "floor (b): DeepDiff actual vs desired",
}


# -- inputs -----------------------------------------------------------------------------------

def inputs(size: str, seed: int) -> dict[str, Path]:
    """The practice files for a size, and the cached sandbox/applied stores."""
    text, env = generate(SIZES[size], seed)
    key = hashlib.sha256((text + _code_version()).encode()).hexdigest()[:12]
    folder = CACHE / f"{size}-{seed}-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "yaml": folder / "practice.yaml", "env": folder / "practice.env",
        "fee_yaml": folder / "fee.yaml", "codes10_yaml": folder / "codes10.yaml",
        "sandbox": folder / "sandbox.db", "applied": folder / "applied.db",
        "policies_yaml": folder / "policies.yaml", "history": folder / "history.db",
    }
    files["policies_yaml"].write_text(_with_policies(text))
    files["yaml"].write_text(text)
    files["env"].write_text(env)
    fee_line = next(line for line in text.splitlines() if "fee:" in line)
    files["fee_yaml"].write_text(text.replace(fee_line, fee_line.replace('fee: "', 'fee: "1')))
    extra = "".join(f'    - {{code: "Z{70 + i}.{i}", description: "Added {i}"}}\n'
                    for i in range(10))
    files["codes10_yaml"].write_text(text.replace("  billing_codes:\n", extra +
                                                  "  billing_codes:\n"))
    return files


def _with_policies(text: str) -> str:
    """The practice with the example's roles and ten policies that the generated practice
    meets (a no-op plan stays one): each is still checked over every cell."""
    master = text.split("master:\n", 1)[1].split("username:", 1)[1].split("\n", 1)[0].strip()
    first = text.split("providers:\n", 1)[1].split(":", 1)[0].strip()
    roles = ("roles:\n  front-desk: {clients: view, scheduling: full}\n"
             "  biller: {clients: view, billing: full, claims: full, codes: view, "
             "reports: view}\n")
    policies = f"""policies:
  - name: front desk never reads notes
    deny: {{role: front-desk, areas: [notes]}}
  - name: billers never read notes
    deny: {{role: biller, areas: [notes]}}
  - name: only the master administers other accounts
    deny: {{areas: [account_access], at_least: full, outside_home: true, except: [{master}]}}
  - name: only the master sets up other accounts
    deny: {{areas: [practice_setup], at_least: full, outside_home: true, except: [{master}]}}
  - name: an administrator in every account
    require: {{areas: [account_access], at_least: full, count: 1}}
  - name: someone sees the clients
    require: {{areas: [clients], at_least: view, count: 1}}
  - name: a retired login holds nothing
    deny: {{usernames: [retired-login], areas: [notes, billing]}}
  - name: notes stay home in the first account
    deny: {{areas: [notes], at_least: full, accounts: [{first}], outside_home: true}}
    severity: warn
  - name: no username idle for 90 days
    idle: {{days: 90}}
    severity: warn
  - name: risky-grants
    severity: warn
"""
    return text.replace("privileges:\n", roles + "privileges:\n", 1) + policies


def _code_version() -> str:
    """Cached stores are rebuilt whenever the store's schema changes."""
    from groupsync.accounts import sqlite, storage

    return hashlib.sha256(f"{storage.SCHEMA_VERSION}{sqlite._SCHEMA}".encode()).hexdigest()


# -- one operation, in a child process --------------------------------------------------------

def child(op: str, size: str, seed: int, work: Path) -> dict[str, Any]:
    from groupsync.accounts.memo import remembering_logins

    # as the CLI runs every command: each login verified once per command
    with remembering_logins():
        return _child(op, size, seed, work)


def _child(op: str, size: str, seed: int, work: Path) -> dict[str, Any]:
    from groupsync.accounts import open_system, passwords, service
    from groupsync.applier import apply_plan
    from groupsync.config import Secrets, load_env_file, load_file
    from groupsync.engine import prepare

    files = inputs(size, seed)
    counts = {"hash": 0, "verify": 0}
    real_hash, real_verify = passwords.hash_password, passwords.verify_password

    def counting_hash(pw: str) -> str:
        counts["hash"] += 1
        return real_hash(pw)

    def counting_verify(h: str | None, pw: str) -> bool:
        counts["verify"] += 1
        return real_verify(h, pw)

    service.hash_password = counting_hash  # type: ignore[assignment]
    service.verify_password = counting_verify  # type: ignore[assignment]
    secrets = Secrets(load_env_file(files["env"]), environ={})
    store = work / "store.db"

    def fresh(source: Path) -> None:
        shutil.copyfile(source, store)
        store.chmod(0o600)

    extra: dict[str, Any] = {}
    t0 = time.perf_counter()
    if op == "validate":
        t0 = time.perf_counter()
        load_file(files["yaml"])
    elif op == "plan_empty":
        fresh(files["sandbox"])
        t0 = time.perf_counter()
        p = prepare(open_system(str(store)), load_file(files["yaml"]), secrets).plan
        extra["changes"] = len(p.changes)
    elif op == "first_apply":
        fresh(files["sandbox"])
        counts.update(hash=0, verify=0)
        t0 = time.perf_counter()
        system = open_system(str(store))
        desired = load_file(files["yaml"])
        prepared = prepare(system, desired, secrets)
        apply_plan(system, prepared.plan, prepared.passwords, desired)
        extra["changes"] = len(prepared.plan.changes)
    elif op in ("noop_plan", "noop_plan_policies", "drift_plan_apply", "fee_apply",
                "codes10_apply"):
        fresh(files["applied"])
        yaml_file = {"fee_apply": files["fee_yaml"], "codes10_apply": files["codes10_yaml"],
                     "noop_plan_policies": files["policies_yaml"]}.get(op, files["yaml"])
        if op == "drift_plan_apply":
            extra["drifted"] = _drift(store)
        t0 = time.perf_counter()
        system = open_system(str(store))
        desired = load_file(yaml_file)
        prepared = prepare(system, desired, secrets)
        if op not in ("noop_plan", "noop_plan_policies"):
            apply_plan(system, prepared.plan, prepared.passwords, desired)
        extra["changes"] = len(prepared.plan.changes)
    elif op in ("access", "access_at"):
        from groupsync import access as review
        from groupsync.applier import scope_for

        fresh(files["history"])
        t0 = time.perf_counter()
        system = open_system(str(store))
        desired = load_file(files["yaml"])
        state = system.read_state(scope_for(desired))
        if op == "access_at":
            past = system.access_at(str(state.revision - HISTORY // 2), state,
                                    set(desired.by_account))
            state = past.state
        items = review.practice_rows(state, desired, set(desired.by_account))
        review.table(items)
        extra["rows"] = len(items)
    elif op in ("floor_a", "floor_a_state"):
        import yaml

        fresh(files["applied"])
        t0 = time.perf_counter()
        conn = sqlite3.connect(store)
        rows = 0
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            if op == "floor_a_state" and table in ("audit", "sqlite_sequence"):
                continue  # a plan never reads the audit trail
            rows += len(conn.execute(f"SELECT * FROM {table}").fetchall())
        conn.close()
        with files["yaml"].open("rb") as fh:
            yaml.load(fh, Loader=yaml.CSafeLoader)
        extra["rows"] = rows
    elif op == "floor_b":
        from deepdiff import DeepDiff

        from groupsync.render import state_json_data

        fresh(files["applied"])
        actual = state_json_data(open_system(str(store)).read_state())["accounts"]
        desired_nested = _desired_nested(load_file(files["fee_yaml"]), actual)
        t0 = time.perf_counter()
        diff = DeepDiff(actual, desired_nested)
        extra["differences"] = sum(len(v) for v in diff.values())
    else:
        raise SystemExit(f"unknown operation {op}")
    seconds = time.perf_counter() - t0
    peak_mb = _peak_rss_mb()
    return {"seconds": seconds, "peak_mb": peak_mb, "hashes": counts["hash"],
            "verifies": counts["verify"], **extra}


def _peak_rss_mb() -> float:
    """This process's peak resident set. ru_maxrss survives execve on Linux (it would report
    the parent's peak), so read VmHWM, which belongs to the new address space."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _drift(store: Path) -> dict[str, int]:
    """1% of staff privilege rows and 1% of copied code records changed behind groupsync's back."""
    conn = sqlite3.connect(store)
    staff = conn.execute("SELECT ukey, account_id FROM access WHERE ukey LIKE '%staff%' "
                         "ORDER BY ukey, account_id").fetchall()
    chosen = staff[:: 100]
    conn.executemany("UPDATE access SET notes = CASE notes WHEN 'full' THEN 'none' ELSE 'full' "
                     "END WHERE ukey = ? AND account_id = ?", chosen)
    master = conn.execute("SELECT account_id FROM accounts ORDER BY account_id LIMIT 1").fetchone()
    codes = conn.execute("SELECT account_id, file, key FROM codes WHERE account_id != ? "
                         "ORDER BY account_id, file, key", master).fetchall()
    picked = codes[:: 100]
    # a field each file shows: descriptions for codes, the payer id for payers
    conn.executemany("UPDATE codes SET description = description || ' (edited)', "
                     "payer_id = CASE file WHEN 'insurance_payers' THEN payer_id || '9' "
                     "ELSE payer_id END WHERE account_id = ? AND file = ? AND key = ?", picked)
    conn.commit()
    conn.close()
    return {"privilege_rows": len(chosen), "code_records": len(picked)}


def _desired_nested(desired: Any, actual: dict[str, Any]) -> dict[str, Any]:
    """What a first implementation would diff: the whole desired state as nested dicts."""
    out: dict[str, Any] = {}
    codes = desired.codes
    for p in desired.providers.values():
        access = dict(actual[p.account_id]["access"])
        for k, spec in desired.privileges.items():
            name = desired.master.username if k == desired.master.username.casefold() else (
                desired.staff[k].username if k in desired.staff else None)
            if name and p.account_id in (desired.master.accounts if name == desired.master.username
                                         else desired.staff[k].accounts):
                access[name] = spec.resolve(p.account_id)
        out[p.account_id] = {
            "provider_name": actual[p.account_id]["provider_name"],
            "practice_setup": {"practice_name": desired.practice_name, "tin": desired.tin,
                               "bills_electronically": p.bills_electronically},
            "access": access,
            "codes": {f: dict(codes.inline.get(f, {})) for f in codes.files},
        }
    return out


# -- the parent: run, aggregate, print ---------------------------------------------------------

def setup(files: dict[str, Path]) -> float:
    """Build (or reuse) the sandboxed and the applied store; cached between runs."""
    from groupsync.accounts import open_system
    from groupsync.applier import apply_plan
    from groupsync.config import Secrets, load_env_file, load_file
    from groupsync.engine import prepare, sandbox

    t0 = time.perf_counter()
    desired = load_file(files["yaml"])
    secrets = Secrets(load_env_file(files["env"]), environ={})
    if not files["sandbox"].exists():
        print("setting up the sandbox store (cached for later runs)...", file=sys.stderr)
        sandbox(str(files["sandbox"]), desired, secrets)
    if not files["applied"].exists():
        print("setting up the applied store (cached for later runs)...", file=sys.stderr)
        tmp = files["applied"].with_suffix(".tmp")
        shutil.copyfile(files["sandbox"], tmp)
        system = open_system(str(tmp))
        from groupsync.accounts.memo import remembering_logins

        with remembering_logins():  # as the CLI: each login verified once
            prepared = prepare(system, desired, secrets)
            apply_plan(system, prepared.plan, prepared.passwords, desired)
        tmp.rename(files["applied"])
    return time.perf_counter() - t0


HISTORY = 100  # revisions of history in the access benchmarks' store


def history(files: dict[str, Path]) -> None:
    """The applied store with HISTORY revisions after it: in each, the master widens or
    narrows one staff username's notes in one account and changes one fee, as a practice
    busy for months would."""
    from groupsync.accounts import open_system
    from groupsync.accounts.storage import Scope
    from groupsync.config import Secrets, load_env_file, load_file

    if files["history"].exists():
        return
    print("setting up the store with history (cached for later runs)...", file=sys.stderr)
    desired = load_file(files["yaml"])
    secrets = Secrets(load_env_file(files["env"]), environ={})
    password = secrets.get(desired.master.password_var, "the master's password")
    tmp = files["history"].with_suffix(".tmp")
    shutil.copyfile(files["applied"], tmp)
    system = open_system(str(tmp))
    cells = sorted((k, a) for k, a in system.read_state().access if "staff" in k)
    accounts = sorted(desired.by_account)
    for i in range(HISTORY):
        k, account = cells[(i * 7919) % len(cells)]
        fee = accounts[i % len(accounts)]
        scope = Scope(accounts=frozenset({account, fee}), usernames=frozenset({k}))
        with system.session(desired.master.username, password, scope=scope) as s:
            levels = dict(s.state.access[(k, account)])
            levels["notes"] = "none" if levels["notes"] != "none" else "view"
            s.set_privileges(account, k, levels)
            record = dict(next(iter(s.state.file(fee, "billing_codes").values())))
            record["fee"] = f"{100 + i}.00"
            s.put_codes(fee, "billing_codes", [record])
    tmp.rename(files["history"])


def run_op(op: str, size: str, seed: int, timeout: float) -> dict[str, Any] | None:
    work = OUT / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", op, "--size", size,
           "--seed", str(seed), "--work", str(work)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              cwd=ROOT)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        raise SystemExit(f"{op} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default=os.environ.get("SIZE", "M"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", nargs="*", choices=OPERATIONS)
    ap.add_argument("--floor-b-timeout", type=float, default=600.0)
    ap.add_argument("--child")
    ap.add_argument("--work", type=Path)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.size, args.seed, args.work)))
        return

    files = inputs(args.size, args.seed)
    shape = SIZES[args.size]
    setup_s = setup(files)
    history(files)
    results: dict[str, Any] = {}
    ops = args.only or OPERATIONS
    # Round robin, not one operation's runs in a row: ratios between operations (policies
    # vs none, against the floors) then see the same machine, not one drifting over minutes.
    all_runs: dict[str, list[dict[str, Any]]] = {op: [] for op in ops}
    for i in range(args.runs):
        for op in ops:
            if op in results or (op == "floor_b" and i > 0):
                continue
            timeout = args.floor_b_timeout if op == "floor_b" else 3600.0
            r = run_op(op, args.size, args.seed, timeout)
            if r is None:
                results[op] = {"did_not_finish_s": timeout}
                continue
            all_runs[op].append(r)
    for op in ops:
        runs = all_runs[op]
        if runs and op not in results:
            results[op] = {
                **runs[-1],
                "seconds": statistics.median(r["seconds"] for r in runs),
                "peak_mb": max(r["peak_mb"] for r in runs),
                "runs": len(runs),
            }
    floor_a = results.get("floor_a", {}).get("seconds")
    floor_a_state = results.get("floor_a_state", {}).get("seconds")
    floor_b = results.get("floor_b", {}).get("seconds")
    for r in results.values():
        if "seconds" in r:
            r["x_floor_a"] = r["seconds"] / floor_a if floor_a else None
            r["x_floor_a_state"] = r["seconds"] / floor_a_state if floor_a_state else None
            r["floor_b_over"] = floor_b / r["seconds"] if floor_b else None
    report = {
        "size": args.size, "seed": args.seed, "shape": shape.__dict__, "setup_s": setup_s,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "processor": platform.processor()},
        "operations": results,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    out_file = OUT / f"results-{args.size}.json"
    out_file.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    now, then = (results.get(op, {}).get("seconds") for op in ("access", "access_at"))
    if now and then:
        print(f"\nhistory: access --at 50 revisions back is {then / now:.2f}x today's access "
              f"of the same store (target <= 3)")
    plain = results.get("noop_plan", {}).get("seconds")
    with_policies = results.get("noop_plan_policies", {}).get("seconds")
    if plain and with_policies:
        print(f"\npolicies: the no-op plan with roles and 10 policies is "
              f"{with_policies / plain:.2f}x the same plan without them (target <= 1.10)")
    print(f"\nfigures written to {out_file.relative_to(ROOT)}")


def table(report: dict[str, Any]) -> str:
    lines = [
        f"size {report['size']} (seed {report['seed']}): {report['shape']['providers']} providers, "
        f"{report['shape']['staff']} staff; {report['machine']['cpus']} CPUs, "
        f"Python {report['machine']['python']}",
        "",
        f"{'operation':<48} {'median s':>9} {'peak MB':>8} {'x floor a':>9} "
        f"{'x a state':>9} {'floor b /':>9}  notes",
    ]
    for op, r in report["operations"].items():
        if "seconds" not in r:
            dnf = f"did not finish in {r['did_not_finish_s']:.0f} s"
            lines.append(f"{LABELS[op]:<48} {dnf:>38}")
            continue
        notes = []
        if r.get("changes") is not None:
            notes.append(f"{r['changes']} changes")
        if r.get("hashes") or r.get("verifies"):
            notes.append(f"{r['hashes']} hashings, {r['verifies']} verifications")
        if "drifted" in r:
            notes.append(f"drifted {r['drifted']['privilege_rows']} privilege rows, "
                         f"{r['drifted']['code_records']} code records")
        if "rows" in r:
            notes.append(f"{r['rows']} rows")
        xa = f"{r['x_floor_a']:.2f}" if r.get("x_floor_a") else "-"
        xs = f"{r['x_floor_a_state']:.2f}" if r.get("x_floor_a_state") else "-"
        fb = r.get("floor_b_over")
        xb = "-" if not fb else (f"{fb:.0f}x" if fb >= 10 else f"{fb:.2f}x")
        lines.append(f"{LABELS[op]:<48} {r['seconds']:>9.3f} {r['peak_mb']:>8.0f} {xa:>9} "
                     f"{xs:>9} {xb:>9}  {'; '.join(notes)}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
