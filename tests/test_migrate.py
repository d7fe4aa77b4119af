"""`groupsync store migrate` on a schema-1 store written by groupsync v1 (kept as fixtures:
tests/data/schema1/store.db for SQLite, postgresql.sql for PostgreSQL), on both backends."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import DEMO_ENV, EXAMPLE, Result

Run = Callable[..., Result]
FILES = ("-f", str(EXAMPLE), "--env-file", str(DEMO_ENV))
SCHEMA1 = Path(__file__).parent / "data" / "schema1"


def _schema1_store(store: str, tmp_path: Path) -> str:
    """The v1 fixture, laid where the `store` fixture points (a file, or a fresh schema)."""
    if not store.startswith("postgresql://"):
        shutil.copy(SCHEMA1 / "store.db", store)
        return store
    import psycopg

    schema = store.rsplit("%3D", 1)[1]
    sql = (SCHEMA1 / "postgresql.sql").read_text().replace("gs_schema1", schema)
    with psycopg.connect(store, autocommit=True) as conn:
        conn.execute(sql.encode())
    return store


def test_a_schema_1_store_is_refused_until_migrated_then_works(
    run: Run, tmp_path: Path, store: str
) -> None:
    store = _schema1_store(store, tmp_path)
    r = run("plan", *FILES, "--store", store)
    assert r.code == 1
    assert r.err.endswith("has schema version 1, older than this groupsync's (7); run "
                          "'groupsync store migrate'\n")
    assert "store migrate" in r.err and r.out == ""
    r = run("store", "migrate", "--store", store)
    assert r.code == 0, r.err
    assert "from schema version 1 to 7" in r.out
    # the v1 apply's work is all there: nothing to do, and the same revision
    r = run("plan", *FILES, "--store", store)
    assert (r.code, r.out.splitlines()[-1]) == (0, "No changes. The store matches the file."), r
    r = run("show", "--json", *FILES, "--store", store)
    assert '"revision": 5' in r.out
    # and it takes new work: a fee change applies as revision 6
    text = EXAMPLE.read_text().replace('fee: "150.00"', 'fee: "155.00"')
    (tmp_path / "p.yaml").write_text(text)
    r = run("apply", "--auto-approve", "-f", str(tmp_path / "p.yaml"), "--env-file",
            str(DEMO_ENV), "--store", store)
    assert r.code == 0, r.err
    assert r.out.rstrip().endswith("is at revision 6.")
    r = run("store", "migrate", "--store", store)
    assert "at schema version 7, the current one; nothing to do" in r.out


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_failed_logins_after_migration_are_throttled_per_address(
    run: Run, tmp_path: Path, store: str
) -> None:
    store = _schema1_store(store, tmp_path)
    assert run("store", "migrate", "--store", store).code == 0
    env = {"MASTER_PASSWORD": "wrong-password-1"}
    for _ in range(5):
        r = run("plan", "-f", str(EXAMPLE), "--store", store, env=env)
        assert r.code == 1 and "login failed" in r.err, r.err
    r = run("plan", *FILES, "--store", store)
    assert r.code == 1 and "from this address is locked" in r.err
