"""Identity and scope (docs/contracts.md, "Identity and scope"): usernames known by id, reads that
honour levels, names taken elsewhere said without where, and log-in bookkeeping that never waits
behind an apply."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from groupsync.accounts import create_system, open_system
from groupsync.errors import LoginFailed, LoginLocked
from groupsync.server import create_app

from .conftest import DEMO_ENV, EXAMPLE, Result

Run = Callable[..., Result]
FILES = ("-f", str(EXAMPLE), "--env-file", str(DEMO_ENV))


def test_a_name_deleted_and_made_again_inherits_nothing(store: str) -> None:
    system = create_system(store)
    system.signup("Alice Able", "alice", "pw-alice-2026", "100001")
    system.signup("Bob Baker", "bob", "pw-bob-2026", "100002")
    with system.session("alice", "pw-alice-2026") as s:
        s.allow_access("100001", "frontdesk", "pw-desk-2026", {"clients": "view"})
    old = system.login("frontdesk", "pw-desk-2026")
    token = system.issue_token(old, 900)
    assert system.token_user(token) == "frontdesk"
    with system.session("frontdesk", "pw-desk-2026"):
        pass  # a log-in: an entry by the old frontdesk
    for _ in range(5):  # and a lock on it from one address
        with pytest.raises(LoginFailed):
            system.login("frontdesk", "guess-guess", "203.0.113.9")
    with pytest.raises(LoginLocked):
        system.login("frontdesk", "pw-desk-2026", "203.0.113.9")
    with system.session("alice", "pw-alice-2026") as s:
        s.delete_username("frontdesk")
    assert system.token_user(token) is None  # its token ended with it
    with system.session("bob", "pw-bob-2026") as s:  # another practice takes the name
        s.allow_access("100002", "FrontDesk", "pw-new-desk-2026", {"clients": "view"})
    new = system.login("FrontDesk", "pw-new-desk-2026", "203.0.113.9")  # no lock inherited
    assert new.id != old.id
    assert system.token_user(token) is None  # nor the old token
    seen = system.visible_audit("FrontDesk")
    assert seen and all(e.account != "100001" for e in seen)
    assert all(e.actor_id in (None, new.id, system.login("bob", "pw-bob-2026").id)
               for e in seen)
    assert not [e for e in seen if e.username_id == old.id or e.actor_id == old.id]


@pytest.mark.parametrize("level", ["full", "view", "none"])
@pytest.mark.parametrize("area", ["practice_setup", "account_access", "codes"])
def test_reads_honour_levels(tmp_path: Path, area: str, level: str) -> None:
    system = create_system(str(tmp_path / "store.db"))
    system.signup("Alice Able", "alice", "pw-alice-2026", "100001")
    with system.session("alice", "pw-alice-2026") as s:
        s.set_practice_setup("100001", "Riverside", "12-3456789", True)
        s.put_codes("100001", "diagnosis_codes", [{"code": "F41.1", "description": "GAD"}])
        s.allow_access("100001", "desk", "pw-desk-2026", {area: level})
    seen = system.visible_state("desk")
    account = seen.accounts["100001"]
    assert account.provider_name == "Alice Able"  # the account itself: always
    assert ("desk", "100001") in seen.access  # its own row: always
    shown = {
        "practice_setup": account.tin == "12-3456789" and account.practice_name == "Riverside",
        "account_access": ("alice", "100001") in seen.access and "alice" in seen.users,
        "codes": bool(seen.file("100001", "diagnosis_codes")),
    }
    assert shown[area] == (level != "none")
    for other in set(shown) - {area}:
        assert shown[other] is False, other  # `none` on every area it wasn't given
    # the audit trail of the account: with view on account_access; its own entries always
    entries = system.visible_audit("desk")
    about_account = [e for e in entries if e.account == "100001" and e.username != "desk"]
    assert bool(about_account) == (area == "account_access" and level != "none")
    # and the service says the same
    client = TestClient(create_app(system))
    token = client.post("/v1/login", json={"username": "desk", "password": "pw-desk-2026"})
    auth = {"Authorization": f"Bearer {token.json()['token']}"}
    wire = client.get("/v1/state", headers=auth).json()
    assert (wire["accounts"][0]["tin"] == "12-3456789") == shown["practice_setup"]
    assert bool(wire["codes"]) == shown["codes"]
    assert ({u["username"] for u in wire["usernames"]} == {"alice", "desk"}) == \
        shown["account_access"]
    audit = client.get("/v1/audit", headers=auth).json()["entries"]
    assert len(audit) == len(entries)


def test_a_taken_name_is_said_at_plan_time_through_the_service(
    run: Run, tmp_path: Path
) -> None:
    from .support import serving

    assert run("sandbox", *FILES).code == 0
    store = str(tmp_path / "groupsync.db")
    open_system(store).signup("Other Practice", "Billing", "pw-other-2026", "300001")
    with serving(store, tmp_path) as (url, _proc):
        r = run("plan", *FILES, "--store", url)
    assert r.code == 1
    assert r.err == ("Error: username billing is taken; usernames are unique across the "
                     "store, so choose another\n")
    assert "300001" not in r.err


def test_a_failed_login_during_a_long_apply_is_answered_and_counted(store: str) -> None:
    """On PostgreSQL the bookkeeping never waits for an apply's lock; on SQLite it waits a
    bounded time, so an apply shorter than that doesn't cost the count."""
    system = create_system(store)
    system.signup("Alice Able", "alice", "pw-alice-2026", "100001")
    holding = threading.Event()
    release = threading.Event()

    def long_apply() -> None:
        with system.session("alice", "pw-alice-2026") as s:
            s.set_practice_setup("100001", "Riverside", "12-3456789", False)
            holding.set()
            release.wait(timeout=30)

    writer = threading.Thread(target=long_apply)
    writer.start()
    assert holding.wait(timeout=30)
    other = open_system(store)
    started = time.monotonic()
    if store.startswith("postgresql://"):
        with pytest.raises(LoginFailed):
            other.login("alice", "guess-guess", "203.0.113.9")
        waited = time.monotonic() - started
        release.set()
        assert waited < 3, waited  # the apply still held its lock: no wait for it
    else:
        threading.Timer(1.0, release.set).start()  # the apply ends within the bounded wait
        with pytest.raises(LoginFailed):
            other.login("alice", "guess-guess", "203.0.113.9")
    writer.join(timeout=30)
    failed = [e for e in open_system(store).audit() if e.action == "login_failed"]
    assert [e.detail["address"] for e in failed] == ["203.0.113.9"]
    assert open_system(store).read_state().accounts["100001"].practice_name == "Riverside"


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_two_services_over_one_database_behave_as_one(run: Run, tmp_path: Path,
                                                       store: str) -> None:
    import httpx

    from .support import serving

    assert run("sandbox", *FILES, "--store", store).code == 0
    assert run("apply", *FILES, "--store", store, "--auto-approve").code == 0
    with serving(store, tmp_path) as (one, _a), serving(store, tmp_path) as (two, _b):
        token = httpx.post(f"{one}/v1/login", json={
            "username": "frontdesk", "password": "demo-only-frontdesk-9e2d"}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{two}/v1/state", headers=auth).status_code == 200
        # frontdesk is deleted (through the first service): both refuse its token at once
        gone = EXAMPLE.read_text().replace("  usernames: false", "  usernames: true", 1)
        start = gone.index("  frontdesk:\n    person")
        end = gone.index("  billing:\n    person")
        gone = gone[:start] + gone[end:]
        gone = gone.replace("  frontdesk: front-desk\n", "", 1)
        (tmp_path / "gone.yaml").write_text(gone)
        r = run("apply", "-f", str(tmp_path / "gone.yaml"), "--env-file", str(DEMO_ENV),
                "--store", one, "--auto-approve")
        assert r.code == 0, r.err
        assert httpx.get(f"{one}/v1/state", headers=auth).status_code == 401
        assert httpx.get(f"{two}/v1/state", headers=auth).status_code == 401


def test_another_practices_username_is_neither_located_nor_confirmed(store: str) -> None:
    """From the second review: deleting, joining, leaving or setting privileges of a username
    of another practice answered with that username's home account; now every such answer
    reads exactly as it does for a name that doesn't exist."""
    from groupsync.errors import GroupsyncError

    system = create_system(store)
    system.signup("Alice Able", "alice", "pw-alice-2026", "100001")
    system.signup("Bob Baker", "bob", "pw-bob-2026", "200001")
    with system.session("bob", "pw-bob-2026") as s:
        s.allow_access("200001", "bdesk", "pw-bdesk-2026", {"clients": "view"})
    operations = {
        "delete": lambda s, name: s.delete_username(name),
        "join": lambda s, name: s.join(name, "100001", "alice", "pw-alice-2026"),
        "leave": lambda s, name: s.leave(name, "100001"),
        "privileges": lambda s, name: s.set_privileges("100001", name, {"notes": "view"}),
    }
    for op in operations.values():
        answers = []
        for name in ("bdesk", "nobody-here"):
            with pytest.raises(GroupsyncError) as caught:
                with system.session("alice", "pw-alice-2026") as s:
                    op(s, name)
            answers.append((type(caught.value), str(caught.value).replace(name, "X")))
        assert answers[0] == answers[1]
        assert "200001" not in answers[0][1]
    assert system.login("bdesk", "pw-bdesk-2026").home == "200001"  # untouched


def test_several_logins_views_merge_without_losing_homes(run: Run, tmp_path: Path) -> None:
    """Found by the load benchmark: read through every provider login, a staff username is
    seen by one login with its home and by another without (that login can't open the home);
    the merged view must keep the home, or the plan calls the practice's own staff taken."""
    from groupsync.config import Secrets, load_env_file, load_file
    from groupsync.engine import prepare
    from groupsync.remote import RemoteSystem

    from .support import serving

    assert run("sandbox", *FILES).code == 0
    assert run("apply", *FILES, "--auto-approve").code == 0
    desired = load_file(EXAMPLE)
    secrets = Secrets(load_env_file(DEMO_ENV), environ={})
    with serving(str(tmp_path / "groupsync.db"), tmp_path) as (url, _proc):
        remote = RemoteSystem(url)
        try:
            remote.authenticate({p.login: secrets.get(p.password_var, "")
                                 for p in desired.providers.values()})
            assert prepare(remote, desired, secrets).plan.changes == []
        finally:
            remote.close()


def test_a_log_in_keeps_its_time_and_token_and_expired_tokens_are_swept(store: str) -> None:
    """A log-in through the service records its time and stores its token (with its
    throttle's settling, in one transaction); expired tokens go: the username's own at each
    of its log-ins, everyone's at the log-ins whose token hash starts with one of four
    bytes (1 in 64)."""
    clock = [1_800_000_000.0]
    system = create_system(store)
    system.clock = lambda: clock[0]
    system.signup("Alice Able", "alice", "pw-alice-2026", "100001")
    system.signup("Bob Baker", "bob", "pw-bob-2026", "100002")
    old_alice = system.login_for_token("alice", "pw-alice-2026", "203.0.113.9", 60)[1]
    old_bob = system.login_for_token("bob", "pw-bob-2026", "203.0.113.9", 60)[1]
    clock[0] += 120  # both tokens have expired
    assert system.token_user(old_alice) is None and system.token_user(old_bob) is None

    def rows() -> int:
        with system.storage._reader() as conn:  # type: ignore[attr-defined]
            return int(conn.execute("SELECT count(*) FROM tokens").fetchone()[0])

    user, token = system.login_for_token("alice", "pw-alice-2026", "203.0.113.9", 60)
    assert system.token_user(token) == "alice" == user.username
    assert rows() == 2  # alice's expired token went; bob's waits for a sweep
    bob = system.user("bob")
    system.storage.issue_token("00" + "f" * 62, bob.id, "c", clock[0] + 60, clock[0])
    assert rows() == 2  # bob's expired one swept, the new one kept beside alice's
    assert system.token_user(old_bob) is None and system.token_user(token) == "alice"
    with system.storage._reader() as conn:  # type: ignore[attr-defined]
        seen = conn.execute("SELECT at FROM last_logins WHERE user_id = ?",
                            (user.id,)).fetchone()[0]
    assert seen == "2027-01-15T08:02:00Z"  # the log-in's time, kept for idle policies
