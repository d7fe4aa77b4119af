"""Faults: SIGKILL mid-apply, concurrent applies, unusable stores. Real processes, real files."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.generate import Shape, generate
from groupsync.accounts import open_system, state_digest
from groupsync.accounts.sqlite import SqliteStorage
from groupsync.config import Secrets, load_env_file, load_file
from groupsync.engine import prepare, sandbox
from groupsync.errors import GroupsyncError, StoreError
from groupsync.plan import make_plan

from .helpers import converge, plan_for, sandboxed, secrets
from .support import kill_at, write_lock_held

FAULT_SHAPE = Shape(providers=10, staff=24, accounts_per_staff=4, diagnosis=150, billing=40,
                    payers=40)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_PASSWORD") and not k.startswith("GROUPSYNC_")}
    env["NO_COLOR"] = "1"
    return env


def _practice(tmp_path: Path, shape: Shape, name: str = "practice") -> tuple[Path, Path]:
    text, env = generate(shape)
    yaml_path, env_path = tmp_path / f"{name}.yaml", tmp_path / f"{name}.env"
    yaml_path.write_text(text)
    env_path.write_text(env)
    return yaml_path, env_path


def _apply_cmd(yaml_path: Path, env_path: Path, store: Path | str) -> list[str]:
    return [sys.executable, "-m", "groupsync", "apply", "--auto-approve", "-f", str(yaml_path),
            "--env-file", str(env_path), "--store", str(store)]


def _check_store(store: Path) -> None:
    conn = sqlite3.connect(store)  # a hot journal left by the kill is rolled back here
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()






def test_sigkill_anywhere_in_an_apply_leaves_old_or_new_revision(tmp_path: Path) -> None:
    yaml_path, env_path = _practice(tmp_path, FAULT_SHAPE)
    desired = load_file(yaml_path)
    secrets_ = Secrets(load_env_file(env_path), environ={})
    store = tmp_path / "store.db"
    sandbox(str(store), desired, secrets_)
    pristine = tmp_path / "pristine.db"
    shutil.copyfile(store, pristine)
    old = open_system(str(store)).read_state()
    old_digest = state_digest(old)

    # Measure how long one apply holds the write lock, then kill inside that window.
    proc = subprocess.Popen(_apply_cmd(yaml_path, env_path, store), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while proc.poll() is None and not write_lock_held(store):
        time.sleep(0.005)
    locked_at = time.monotonic()
    assert proc.wait(timeout=300) == 0
    window = time.monotonic() - locked_at
    new_revision = old.revision + 1
    new_digest = state_digest(open_system(str(store)).read_state())

    # Every kill is anchored at a marker of the apply's own progress, so it lands inside it:
    # across the locked window, during the flush, and right after the commit is durable.
    points = [("lock", window * f) for f in (0.0, 0.2, 0.4, 0.6, 0.8)]
    points += [("journal", d) for d in (0.0, 0.002, 0.01)]
    points += [("committed", 0.0)]
    outcomes = {"old": 0, "new": 0}
    for marker, delay in points:
        shutil.copyfile(pristine, store)
        proc = subprocess.Popen(_apply_cmd(yaml_path, env_path, store), env=_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert kill_at(proc, store, marker, delay), f"the apply ended before {marker}"
        proc.wait(timeout=60)
        assert proc.stderr is not None
        assert b"Traceback" not in proc.stderr.read()
        proc.stderr.close()
        _check_store(store)
        state = open_system(str(store)).read_state()
        if state.revision == old.revision:
            assert state_digest(state) == old_digest, (marker, delay)
            outcomes["old"] += 1
        else:
            assert state.revision == new_revision, (marker, delay)
            assert state_digest(state) == new_digest, (marker, delay)
            outcomes["new"] += 1
    print("sigkill outcomes:", outcomes, f"write lock held {window:.2f}s")
    # killed inside the transaction: the old revision; after the commit: the new one
    assert outcomes["old"] >= 5 and outcomes["new"] >= 1, outcomes
    # and a re-run after the last kill converges
    again = subprocess.run(_apply_cmd(yaml_path, env_path, store), env=_env(),
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    final = open_system(str(store)).read_state()
    assert make_plan(desired, final).changes == []


def _small_practices(tmp_path: Path, store: str, prefixes: str,
                     id_base: int) -> list[tuple[Path, Path]]:
    """One signed-up 3-provider practice per prefix, on disjoint accounts: (yaml, env)."""
    files = []
    for i, prefix in enumerate(prefixes):
        shape = Shape(providers=3, staff=4, accounts_per_staff=2, diagnosis=20, billing=5,
                      payers=5, id_base=id_base + 1000 * i, prefix=prefix)
        yaml_path, env_path = _practice(tmp_path, shape, name=prefix)
        sandbox(str(store), load_file(yaml_path), Secrets(load_env_file(env_path), environ={}))
        files.append((yaml_path, env_path))
    return files


def test_three_concurrent_applies_on_disjoint_practices_all_land(tmp_path: Path,
                                                                 store: str) -> None:
    files = _small_practices(tmp_path, store, "abc", 300000)
    before = open_system(str(store)).read_state().revision
    procs = [subprocess.Popen(_apply_cmd(y, e, store), env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for y, e in files]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    for code, out, err in results:
        assert code == 0, err
        assert "Apply complete" in out
        for line in err.splitlines():
            assert line.startswith("waiting for another groupsync process to finish writing")
    state = open_system(str(store)).read_state()
    assert state.revision == before + 3  # no update lost, none applied twice
    for yaml_path, _ in files:
        assert make_plan(load_file(yaml_path), state).changes == []
    assert open_system(str(store)).verify_audit().broken is None  # one unbroken chain
    if not store.startswith("postgresql://"):
        _check_store(Path(store))


def test_concurrent_applies_and_failed_log_ins_keep_one_chain(tmp_path: Path,
                                                                store: str) -> None:
    """Failed log-ins write their entries outside the writers' lock (they are counted at
    once, even during a long apply): the chain's own lock keeps every append on the head."""
    files = _small_practices(tmp_path, store, "de", 400000)
    procs = [subprocess.Popen(_apply_cmd(y, e, store), env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for y, e in files]
    system = open_system(str(store))
    for n in range(20):  # wrong passwords, each an audited failure, while the applies run
        with contextlib.suppress(GroupsyncError):
            system.login(f"nobody{n}", "wrong", f"10.0.0.{n}")
    for p in procs:
        code, _out, err = p.wait(timeout=300), *p.communicate()
        assert code == 0, err
    check = open_system(str(store)).verify_audit()
    assert check.broken is None, check
    failures = [e for e in open_system(str(store)).audit() if e.type == "login"]
    assert len(failures) >= 20


def test_three_concurrent_applies_of_one_file_apply_once(tmp_path: Path, store: str) -> None:
    yaml_path, env_path = _practice(tmp_path, Shape(providers=4, staff=6, accounts_per_staff=3,
                                                    diagnosis=30, billing=7, payers=8))
    sandbox(str(store), load_file(yaml_path), Secrets(load_env_file(env_path), environ={}))
    before = open_system(str(store)).read_state().revision
    procs = [subprocess.Popen(_apply_cmd(yaml_path, env_path, store), env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    applied = [r for r in results if r[0] == 0 and "Apply complete" in r[1]]
    assert len(applied) == 1
    for code, out, err in results:
        assert "Traceback" not in err
        if (code, out, err) in applied:
            continue
        refused = err.endswith("Error: the store changed since the plan was made, and the plan "
                               "would now be different; run plan again. Nothing was changed\n")
        assert (code == 1 and refused) or (code == 0 and "No changes." in out), (code, out, err)
    assert open_system(str(store)).read_state().revision == before + 1
    assert open_system(str(store)).verify_audit().broken is None
    if not store.startswith("postgresql://"):
        _check_store(Path(store))


# -- stores that can't be used -------------------------------------------------------------

def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    from .conftest import DEMO_ENV, EXAMPLE

    return subprocess.run([sys.executable, "-m", "groupsync", *args, "-f", str(EXAMPLE),
                           "--env-file", str(DEMO_ENV)], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=120)


def test_store_from_a_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    sandboxed(tmp_path)
    store = tmp_path / "store.db"
    conn = sqlite3.connect(store)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    before = store.read_bytes()
    r = _cli(tmp_path, "apply", "--auto-approve", "--store", str(store))
    assert r.returncode == 1
    assert r.stderr == (f"Error: store {store} has schema version 99, newer than this groupsync "
                        "understands (7); upgrade groupsync\n")
    assert store.read_bytes() == before


@contextlib.contextmanager
def _immutable(path: Path) -> Iterator[None]:
    """Make a file read-only even for root (chattr +i), or by mode for anyone else."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None or subprocess.run(
                ["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("running as root and this filesystem has no immutable files (chattr)")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        path.chmod(0o400)
        yield


def test_read_only_store_gives_one_clear_error(tmp_path: Path) -> None:
    sandboxed(tmp_path)
    store = tmp_path / "store.db"
    before = store.read_bytes()
    with _immutable(store):
        r = _cli(tmp_path, "apply", "--auto-approve", "--store", str(store))
        assert r.returncode == 1
        assert r.stderr == f"Error: store {store} is read-only; nothing was changed\n"
        shown = _cli(tmp_path, "show", "--store", str(store))
        assert shown.returncode == 0  # reading still works
    assert store.read_bytes() == before


class _TinyStorage(SqliteStorage):
    """A store whose file can't grow: SQLite's own 'database or disk is full' (SQLITE_FULL)."""

    def _connect(self) -> sqlite3.Connection:
        conn = super()._connect()
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn


def test_a_full_disk_during_apply_changes_nothing(tmp_path: Path) -> None:
    from groupsync.accounts import AccountSystem
    from groupsync.applier import apply_plan

    system, desired = sandboxed(tmp_path)
    prepared = prepare(system, desired, secrets())
    before = system.read_state()
    tiny = AccountSystem(_TinyStorage.open(tmp_path / "store.db"))
    with pytest.raises(StoreError, match="database or disk is full; nothing was changed"):
        apply_plan(tiny, prepared.plan, prepared.passwords)
    after = system.read_state()
    assert (after.revision, state_digest(after)) == (before.revision, state_digest(before))
    converge(system, desired)  # with room again, the same apply goes through
    assert plan_for(system, desired).changes == []


def test_a_really_full_filesystem_changes_nothing(tmp_path: Path) -> None:
    mount = tmp_path / "tiny"
    mount.mkdir()
    ok = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)],
        capture_output=True).returncode == 0
    if not ok:
        pytest.skip("needs root and mount to make a tiny filesystem; the injected-failure test "
                    "above covers SQLITE_FULL")
    try:
        sandboxed(mount)[0].close()  # nothing of this process holds the file open
        store = mount / "store.db"
        filler = mount / "filler"
        with contextlib.suppress(OSError), filler.open("wb") as fh:
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()
        before = store.read_bytes()
        r = _cli(tmp_path, "apply", "--auto-approve", "--store", str(store))
        assert r.returncode == 1
        assert r.stderr.startswith(f"Error: store {store}: ")
        assert "full" in r.stderr and "nothing was changed" in r.stderr
        assert len(r.stderr.splitlines()) == 1
        filler.unlink()
        _check_store(store)
        assert store.read_bytes() == before
    finally:
        done = subprocess.run(["umount", str(mount)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


def test_a_damaged_store_says_what_is_wrong_whatever_the_read(tmp_path: Path) -> None:
    """An error of the database during a read (a table gone, another file swapped in) is one
    line naming the store, on the read that meets it, and the kept connection is opened
    afresh for the next read (never "internal error")."""
    system, _desired = sandboxed(tmp_path)
    store = tmp_path / "store.db"
    conn = sqlite3.connect(store)
    conn.execute("DROP TABLE codes")
    conn.commit()
    conn.close()
    r = _cli(tmp_path, "plan", "--store", str(store))
    assert (r.returncode, r.stderr) == (1, f"Error: store {store}: no such table: codes\n")
    with pytest.raises(StoreError, match=r"no such table: codes"):
        system.read_state()  # the library's kept connection: the same error, then again
    with pytest.raises(StoreError, match=r"no such table: codes"):
        system.read_state()
    assert system.user("jsmith").username == "jsmith"  # reads that need no codes go on
    system.close()
