"""History you can trust (docs/contracts.md, "The audit trail"): `log`'s filters and its
stream, and the hash chain `log --verify` checks, against every way a row can be changed."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import DEMO_ENV, EXAMPLE, Result
from .helpers import budget
from .support import serving
from .test_migrate import _schema1_store

Run = Callable[..., Result]
FILES = ("-f", "practice.yaml", "--env-file", str(DEMO_ENV))


def _applied_twice(run: Run, tmp_path: Path, store: str) -> None:
    """The example applied on 2026-03-02 (the tests' clock), then a fee change on 03-05."""
    shutil.copy(EXAMPLE, tmp_path / "practice.yaml")
    assert run("sandbox", *FILES, "--store", store).code == 0
    assert run("apply", *FILES, "--store", store, "--auto-approve", "--note",
               "first apply").code == 0
    text = (tmp_path / "practice.yaml").read_text()
    (tmp_path / "practice.yaml").write_text(text.replace('fee: "150.00"', 'fee: "155.00"'))
    r = run("apply", *FILES, "--store", store, "--auto-approve", "--note", "fee change",
            env={"GROUPSYNC_NOW": "2026-03-05T09:30:00"})
    assert r.code == 0, r.err


def _entries(run: Run, *args: str) -> list[dict[str, Any]]:
    r = run("log", *args, "--format", "json")
    assert r.code == 0, r.err
    entries: list[dict[str, Any]] = json.loads(r.out)["entries"]
    return entries


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)  # the same SQL on both
def test_log_filters_combine_locally_and_through_the_service(
        run: Run, tmp_path: Path, store: str) -> None:
    _applied_twice(run, tmp_path, store)
    everything = _entries(run, "--store", store)
    fee_day = _entries(run, "--store", store, "--since", "2026-03-05")
    assert [e["at"][:10] for e in fee_day] == ["2026-03-05"] * 4
    assert {e["account"] for e in fee_day} == {"100482", "100517", "100533", "100561"}
    first_day = _entries(run, "--store", store, "--until", "2026-03-02")
    assert first_day and all(e["at"].startswith("2026-03-02") for e in first_day)
    assert len(first_day) + len(fee_day) == len(everything)
    assert _entries(run, "--store", store, "--since", "2026-03-03", "--until", "2026-03-04") \
        == []
    # by or about a name, as written, ignoring its case
    frontdesk = _entries(run, "--store", store, "--username", "FrontDesk")
    assert frontdesk and all("frontdesk" in (e["actor"], e["username"]) for e in frontdesk)
    assert len(frontdesk) == sum(1 for e in everything
                                 if "frontdesk" in (e["actor"], e["username"]))
    revision = fee_day[0]["revision"]
    one = _entries(run, "--store", store, "--account", "100533", "--revision", str(revision))
    assert [(e["file"], e["key"], e["after"]["fee"]) for e in one] == \
        [("billing_codes", "90837", "155.00")]
    # the stream: one entry a line, every field --json gives it
    lines = run("log", "--store", store, "--since", "2026-03-05", "--format", "jsonl").out
    assert [json.loads(line) for line in lines.splitlines()] == fee_day
    r = run("log", "--store", store, "--username", "nobody-at-all")
    assert (r.code, r.out) == (0, "No audit entry matches.\n")
    r = run("log", "--store", store, "--since", "2026-03-05", "--until", "2026-03-01")
    assert (r.code, r.err) == (1, "Error: --since 2026-03-05 is after --until 2026-03-01\n")
    # the note is under the first entry of the apply's run, and again wherever another
    # apply's entry came between
    text = run("log", "--store", store, "--revision", str(revision)).out
    assert text.count("      note: fee change\n") == 1
    mixed = run("log", "--store", store, "--account", "100533", "--limit", "3").out
    assert mixed.count("note: fee change") == 1 and mixed.count("note: first apply") == 1
    with serving(store, tmp_path) as (url, _proc):
        remote = _entries(run, *FILES, "--store", url, "--since", "2026-03-05")
        assert remote == fee_day
        remote = _entries(run, *FILES, "--store", url, "--account", "100533", "--revision",
                          str(revision))
        assert remote == one
        assert _entries(run, *FILES, "--store", url, "--username", "frontdesk") == frontdesk
        r = run("log", *FILES, "--store", url, "--verify")
        assert (r.code, r.out) == (0, "The audit trail's hash chain holds (checked by the "
                                      "service).\n")


@contextlib.contextmanager
def _raw(store: str) -> Iterator[Callable[[str], None]]:
    """SQL on the store behind groupsync's back, with the append-only triggers dropped (as
    the database's owner could)."""
    if store.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(store, autocommit=True) as pg:
            pg.execute("ALTER TABLE audit DISABLE TRIGGER USER")
            yield lambda sql: pg.execute(sql.encode())
            pg.execute("ALTER TABLE audit ENABLE TRIGGER USER")
        return
    conn = sqlite3.connect(store, isolation_level=None)
    try:
        triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                "AND tbl_name = 'audit'").fetchall()
        for name, _sql in triggers:
            conn.execute(f"DROP TRIGGER {name}")
        yield conn.execute
        for _name, sql in triggers:
            conn.execute(sql)
    finally:
        conn.close()


def _verify(run: Run, store: str) -> Result:
    return run("log", "--store", store, "--verify")


_CHAIN = ("revision, at, actor, action, type, account, username, detail, actor_id, "
          "username_id, chain")


def test_log_verify_names_the_first_entry_each_kind_of_tampering_breaks(
        run: Run, tmp_path: Path, store: str) -> None:
    """An edited, deleted, inserted and moved row, each written with the triggers dropped:
    each is found at the first entry it breaks, and once put back the chain holds again."""
    _applied_twice(run, tmp_path, store)
    r = _verify(run, store)
    total = len(_entries(run, "--store", store))
    assert (r.code, r.err) == (0, "")
    assert r.out.startswith(f"The audit trail's hash chain holds: {total:,} entries, ending "
                            "at link ")
    ids = sorted(e["id"] for e in _entries(run, "--store", store))
    k = ids[len(ids) // 2]
    nxt = ids[ids.index(k) + 1]
    copy = f"SELECT {{}}, {_CHAIN} FROM audit WHERE id = {k}"
    swap = [f"UPDATE audit SET id = -1 WHERE id = {k}",
            f"UPDATE audit SET id = {k} WHERE id = {nxt}",
            f"UPDATE audit SET id = {nxt} WHERE id = -1"]
    tampers = {
        "edited": ([f"UPDATE audit SET actor = 'mallory' WHERE id = {k}"], k,
                   [f"UPDATE audit SET actor = (SELECT actor FROM audit_copy) WHERE id = {k}"]),
        "deleted": ([f"DELETE FROM audit WHERE id = {k}"], nxt,
                    [f"INSERT INTO audit (id, {_CHAIN}) SELECT * FROM audit_copy"]),
        # a forged entry at the end, with a link that looks like one
        "inserted": ([f"INSERT INTO audit (id, {_CHAIN}) SELECT {ids[-1] + 1}, revision, at, "
                      "actor, action, type, account, username, detail, actor_id, "
                      f"username_id, '{'0' * 64}' FROM audit_copy"], ids[-1] + 1,
                     [f"DELETE FROM audit WHERE id = {ids[-1] + 1}"]),
        "moved": (swap, k, swap),  # two entries swap places, links and all
        # below every id groupsync gives, where a check from id 1 up would never look
        "inserted first": ([f"INSERT INTO audit (id, {_CHAIN}) SELECT 0, revision, at, actor, "
                            "action, type, account, username, detail, actor_id, username_id, "
                            "chain FROM audit_copy"], 0, ["DELETE FROM audit WHERE id = 0"]),
        # a value no entry holds: named as a break, not an internal error
        "garbled": ([f"UPDATE audit SET revision = 16.5 WHERE id = {k}"], k,
                    [f"UPDATE audit SET revision = (SELECT revision FROM audit_copy) "
                     f"WHERE id = {k}"]),
    }
    with _raw(store) as sql:
        sql(f"CREATE TABLE audit_copy AS {copy.format('id')}")
    for what, (tamper, broken, repair) in tampers.items():
        with _raw(store) as sql:
            for statement in tamper:
                sql(statement)
        r = _verify(run, store)
        assert r.code == 1 and r.out == "", what
        assert r.err.startswith(f"Error: the audit trail's hash chain breaks at entry "
                                f"{broken}: "), (what, r.err)
        if what == "edited":
            with serving(store, tmp_path) as (url, _proc):
                r = run("log", *FILES, "--store", url, "--verify")
                assert r.code == 1
                assert r.err == (f"Error: the audit trail's hash chain breaks at entry "
                                 f"{broken} (said by the service)\n"), r.err
        with _raw(store) as sql:
            for statement in repair:
                sql(statement)
        assert _verify(run, store).code == 0, what


def test_a_migrated_v1_trail_is_chained_and_its_tampering_found(
        run: Run, tmp_path: Path, store: str) -> None:
    store = _schema1_store(store, tmp_path)
    assert run("store", "migrate", "--store", store).code == 0
    # entries written before usernames had ids still rebuild the past: at its last revision
    # the access shown now, before its first sign-up nothing (and said so)
    shutil.copy(EXAMPLE, tmp_path / "practice.yaml")
    now = run("access", *FILES, "--store", store, "--format", "csv")
    then = run("access", *FILES, "--store", store, "--format", "csv", "--at", "5")
    assert then.code == 0 and _without_last_login(then.out) == _without_last_login(now.out)
    first = run("access", *FILES, "--store", store, "--format", "csv", "--at", "0")
    assert len(first.out.splitlines()) == 1 and "did not exist yet at r0" in first.err
    before = _entries(run, "--store", store)
    r = _verify(run, store)
    assert (r.code, r.err) == (0, ""), r.err
    assert f"holds: {len(before):,} entries" in r.out
    # new entries join the same chain
    text = EXAMPLE.read_text().replace('fee: "150.00"', 'fee: "151.00"')
    (tmp_path / "practice.yaml").write_text(text)
    assert run("apply", *FILES, "--store", store, "--auto-approve").code == 0
    assert _verify(run, store).code == 0
    oldest = min(e["id"] for e in before)
    with _raw(store) as sql:
        sql(f"UPDATE audit SET detail = '{{}}' WHERE id = {oldest}")
    r = _verify(run, store)
    assert r.code == 1 and f"breaks at entry {oldest}:" in r.err


def _by_hand(store: str, login: str, password: str, act: Callable[[Any], None]) -> None:
    """A change made behind the file's back, as a provider logged in to the product."""
    from groupsync.accounts import open_system

    with open_system(store).session(login, password) as session:
        act(session)


def test_a_plan_names_the_entry_that_made_each_difference_it_undoes(
        run: Run, tmp_path: Path, store: str) -> None:
    _applied_twice(run, tmp_path, store)

    def widen(session: Any) -> None:
        levels = dict(session.state.access[("frontdesk", "100482")])
        session.set_privileges("100482", "frontdesk", {**levels, "notes": "full"})

    # an apply of another file: the same master, another fee
    other = (tmp_path / "practice.yaml").read_text().replace('fee: "155.00"', 'fee: "160.00"')
    (tmp_path / "other.yaml").write_text(other)
    r = run("apply", "-f", "other.yaml", "--env-file", str(DEMO_ENV), "--store", store,
            "--auto-approve", env={"GROUPSYNC_NOW": "2026-03-06T10:15:00"})
    assert r.code == 0, r.err
    # and two providers in the product's screens
    _by_hand(store, "jsmith", "demo-only-smith-7f3a", widen)
    _by_hand(store, "rjones", "demo-only-jones-2b9c",
             lambda session: session.leave("billing", "100517"))
    # and a change the file itself asks for names nothing
    text = (tmp_path / "practice.yaml").read_text()
    (tmp_path / "practice.yaml").write_text(text.replace('fee: "85.00"', 'fee: "90.00"'))
    entries = _entries(run, "--store", store)
    widened = next(e for e in entries if e["type"] == "privileges" and e["actor"] == "jsmith")
    left = next(e for e in entries if e["type"] == "join" and e["action"] == "remove")
    fee = next(e for e in entries if e["type"] == "code" and e["at"].startswith("2026-03-06"))
    r = run("plan", *FILES, "--store", store, "--json")
    assert r.code == 0, r.err
    drift = {(c["type"], c["account"], c.get("key")): c.get("drift")
             for c in json.loads(r.out)["changes"]}
    assert drift[("privileges", "100482", None)] == {
        "revision": widened["revision"], "actor": "jsmith", "at": widened["at"]}
    assert drift[("join", "100517", None)] == {
        "revision": left["revision"], "actor": "rjones", "at": left["at"]}
    assert drift[("code", "100533", "90837")] == {
        "revision": fee["revision"], "actor": "riverside-admin", "at": "2026-03-06T10:15:00Z"}
    assert drift[("code", "100533", "90832")] is None  # the file's own new fee
    text = run("plan", *FILES, "--store", store).out
    assert ("      notes: full -> none\n"
            f"      (changed by jsmith at r{widened['revision']}, {widened['at'][:16]}Z)\n"
            ) in text
    assert f"(changed by riverside-admin at r{fee['revision']}, 2026-03-06T10:15Z)" in text
    markdown = run("plan", *FILES, "--store", store, "--format", "markdown").out
    assert f"(changed by jsmith at r{widened['revision']}, " in markdown
    with serving(store, tmp_path) as (url, _proc):
        r = run("plan", *FILES, "--store", url, "--json")
        assert r.code == 0, r.err
        assert {(c["type"], c["account"], c.get("key")): c.get("drift")
                for c in json.loads(r.out)["changes"]} == drift


def _without_last_login(csv_text: str) -> list[list[str]]:
    """The access CSV's rows without the last log-in (a log-in is no write, so the past
    doesn't keep it: `--at` says unknown)."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(csv_text)))
    drop = rows[0].index("last_login")
    return [row[:drop] + row[drop + 1:] for row in rows]


_FRONTDESK = ["front-desk", "view", "{all: front-desk, jones: {scheduling: view}}"]
_BILLING = ["all", "[smith, jones]", "[smith]"]


def _variant(frontdesk: int, billing: int, intake: bool) -> str:
    """The example, with frontdesk's levels, billing's accounts and an intake username
    chosen; prune on, so what leaves the file leaves the store."""
    text = EXAMPLE.read_text()
    text = text.replace("  frontdesk: front-desk\n", f"  frontdesk: {_FRONTDESK[frontdesk]}\n")
    head, tail = text.split("  billing:\n", 1)
    tail = tail.replace("    accounts: all\n", f"    accounts: {_BILLING[billing]}\n", 1)
    text = head + "  billing:\n" + tail
    text = text.replace("    garcia: {role: biller, claims: view}", "") if billing else text
    if intake:
        text = text.replace("# Roles:", "  intake:\n    person: Ida Intake\n    password: "
                            "\"${FRONTDESK_PASSWORD}\"\n    home: jones\n    accounts: [jones, "
                            "chen]\n\n# Roles:", 1)
        text = text.replace("  frontdesk: ", "  intake: view\n  frontdesk: ", 1)
    return text.replace("  usernames: false\n  joins: false\n",
                        "  usernames: true\n  joins: true\n")


@settings(max_examples=budget(3), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.booleans(),
                                st.booleans()), min_size=2, max_size=3))
def test_access_at_a_revision_is_the_access_shown_right_after_it(
        run: Run, tmp_path_factory: pytest.TempPathFactory,
        steps: list[tuple[int, int, bool, bool]]) -> None:
    tmp_path = tmp_path_factory.mktemp("history")
    store = str(tmp_path / "store.db")
    (tmp_path / "practice.yaml").write_text(_variant(0, 0, False))
    assert run("sandbox", *FILES, "--store", store, cwd=tmp_path).code == 0
    saved: list[tuple[int, str, str]] = []  # revision, the file then, its access CSV
    for i, (frontdesk, billing, intake, by_hand) in enumerate(steps):
        text = _variant(frontdesk, billing, intake)
        (tmp_path / f"p{i}.yaml").write_text(text)
        opts = ("-f", f"p{i}.yaml", "--env-file", str(DEMO_ENV), "--store", store)
        r = run("apply", *opts, "--auto-approve", cwd=tmp_path)
        assert r.code == 0, r.out + r.err
        if by_hand:  # and a provider changes something in the product's screens
            def widen(session: Any) -> None:
                levels = dict(session.state.access[("frontdesk", "100482")])
                session.set_privileges("100482", "frontdesk", {**levels, "notes": "view"})

            _by_hand(store, "jsmith", "demo-only-smith-7f3a", widen)
        revision = json.loads(run("show", "--json", "--store", store, cwd=tmp_path).out
                              )["revision"]
        now = run("access", *opts, "--format", "csv", cwd=tmp_path)
        assert now.code == 0, now.err
        saved.append((revision, f"p{i}.yaml", now.out))
    for revision, file, shown in saved:
        opts = ("-f", file, "--env-file", str(DEMO_ENV), "--store", store)
        past = run("access", *opts, "--format", "csv", "--at", str(revision), cwd=tmp_path)
        assert past.code == 0, past.err
        assert _without_last_login(past.out) == _without_last_login(shown), revision


def test_access_at_a_day_locally_and_through_the_service(run: Run, tmp_path: Path,
                                                          store: str) -> None:
    _applied_twice(run, tmp_path, store)
    _by_hand(store, "rjones", "demo-only-jones-2b9c",
             lambda session: session.leave("billing", "100517"))
    # the end of 2026-03-02: billing could still open jones's account
    r = run("access", *FILES, "--store", store, "--format", "csv", "--at", "2026-03-02")
    assert r.code == 0, r.err
    assert any(row[:3] == ["billing", "100482", "100517"]
               for row in _without_last_login(r.out)), r.out
    now = run("access", *FILES, "--store", store, "--format", "csv")
    assert not any(row[:3] == ["billing", "100482", "100517"]
                   for row in _without_last_login(now.out))
    # before the first sign-up: nothing, and said so
    r = run("access", *FILES, "--store", store, "--at", "2026-03-01")
    assert r.code == 0
    assert "Note: account 100482 did not exist yet at r0 (signed up later)\n" in r.err
    assert "0 access rows" in r.out
    r = run("access", *FILES, "--store", store, "--at", "2026-02-30")
    assert (r.code, r.err) == (1, "Error: --at '2026-02-30': give a revision (as `groupsync "
                                  "log` shows, r12 is 12) or a day, YYYY-MM-DD\n")
    with serving(store, tmp_path) as (url, _proc):
        for at in ("2026-03-02", "r3"):
            local = run("access", *FILES, "--store", store, "--format", "csv", "--at", at)
            remote = run("access", *FILES, "--store", url, "--format", "csv", "--at", at)
            assert remote.code == 0, remote.err
            assert _without_last_login(remote.out) == _without_last_login(local.out), at


def test_rewind_restores_a_username_the_present_no_longer_shows_without_its_home() -> None:
    """One that could open the account then and nothing the practice reads now (another
    practice's username, its join since removed) comes back by name, its home not named."""
    from groupsync.accounts.history import rewind
    from groupsync.accounts.model import Account, State, User
    from groupsync.accounts.storage import AuditEntry
    from groupsync.vocabulary import AREAS

    full = {a: "full" for a in AREAS}
    now = State(lineage="l", revision=10, accounts={"200101": Account("200101", "Kim", "akim")},
                users={"akim": User("akim", "200101", "")}, access={("akim", "200101"): full})
    left = AuditEntry("remove", "join", "akim", account="200101", username="frontdesk",
                      detail={"before": {**full, "notes": "none"}}, revision=10, id=5)
    deleted = AuditEntry("remove", "username", "x", account="100482", username="billing",
                         detail={"before": {"home": "100482", "access": {"200101": full}}},
                         revision=10, id=4)
    past = rewind(now, [left, deleted], {"200101"}, 9, {"200101": 1})
    assert past.state.access[("frontdesk", "200101")]["notes"] == "none"
    assert past.state.users["frontdesk"].home == ""
    assert past.state.users["billing"].home == ""  # riverside's account: not named
    assert past.notes == []
