"""The account system's rules (docs/contracts.md), each with its refusal, on a real SQLite store."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from groupsync.accounts import AccountSystem, create_system, open_system
from groupsync.accounts.passwords import MEMORY_KIB, PARALLELISM, TIME_COST
from groupsync.errors import (
    Conflict,
    LockoutError,
    LoginFailed,
    LoginLocked,
    NotFound,
    PermissionDenied,
    RuleError,
    StaleError,
    StoreError,
    StoreNotFound,
)
from groupsync.vocabulary import AREAS

from .conftest import raw_sql

FULL = {a: "full" for a in AREAS}
NO_ACCESS = dict.fromkeys(AREAS, "none")


# -- sign-up, lineage, revision ------------------------------------------------------------

def test_signup_creates_account_and_provider_with_full_everywhere(system: AccountSystem) -> None:
    account = system.signup("Alice Able, PhD", "alice", "pw-alice-2026", "100001")
    state = system.read_state()
    assert account == "100001"
    assert state.accounts["100001"].provider_name == "Alice Able, PhD"
    assert state.accounts["100001"].practice_setup() == {
        "practice_name": None, "tin": None, "bills_electronically": False}
    assert state.users["alice"].home == "100001"
    assert state.access[("alice", "100001")] == FULL
    assert state.revision == 1


def test_signup_without_id_gives_digits(system: AccountSystem) -> None:
    account = system.signup("Carol", "carol", "pw-test-2026")
    assert account.isdigit() and len(account) == 6


def test_signup_refuses_taken_username_ignoring_case(two_accounts: AccountSystem) -> None:
    with pytest.raises(Conflict, match="already taken"):
        two_accounts.signup("Another", "ALICE", "pw-test-2026", "100003")
    with pytest.raises(Conflict, match="account 100001 already exists"):
        two_accounts.signup("Another", "someone", "pw-test-2026", "100001")
    with pytest.raises(RuleError, match="must be 1-20 digits"):
        two_accounts.signup("Another", "someone", "pw-test-2026", "10x")
    assert two_accounts.read_state().revision == 2


def test_lineage_is_random_per_store(tmp_path: Path) -> None:
    a = create_system(str(tmp_path / "a.db")).read_state().lineage
    b = create_system(str(tmp_path / "b.db")).read_state().lineage
    assert a != b and len(a) == 36


def test_session_with_nothing_done_changes_no_revision(two_accounts: AccountSystem) -> None:
    with two_accounts.session("alice", "pw-alice-2026"):
        pass
    assert two_accounts.read_state().revision == 2
    assert len(two_accounts.audit()) == 2


# -- log in ----------------------------------------------------------------------------------

def test_login_unknown_user_and_wrong_password_give_the_same_message(
    two_accounts: AccountSystem,
) -> None:
    with pytest.raises(LoginFailed) as wrong:
        with two_accounts.session("alice", "nope"):
            pass
    with pytest.raises(LoginFailed) as unknown:
        with two_accounts.session("nobody", "nope"):
            pass
    assert str(wrong.value).replace("alice", "X") == str(unknown.value).replace("nobody", "X")


def test_login_is_case_insensitive(two_accounts: AccountSystem) -> None:
    with two_accounts.session("ALICE", "pw-alice-2026") as s:
        assert s.actor == "alice"


def test_passwords_stored_as_argon2id_with_parameters(two_accounts: AccountSystem) -> None:
    stored = two_accounts.read_state().users["alice"].password_hash
    assert stored.startswith("$argon2id$")
    assert f"m={MEMORY_KIB},t={TIME_COST},p={PARALLELISM}" in stored
    assert MEMORY_KIB >= 19 * 1024 and TIME_COST >= 2 and PARALLELISM >= 1
    assert "pw-alice-2026" not in stored


# -- Practice Set-up -------------------------------------------------------------------------

def test_practice_setup_normalizes_tin_and_needs_full(two_accounts: AccountSystem) -> None:
    with two_accounts.session("alice", "pw-alice-2026") as s:
        s.set_practice_setup("100001", "Riverside", "123456789", True)
    assert two_accounts.read_state().accounts["100001"].practice_setup() == {
        "practice_name": "Riverside", "tin": "12-3456789", "bills_electronically": True}
    with pytest.raises(PermissionDenied, match=r"alice can.t open account 100002"):
        with two_accounts.session("alice", "pw-alice-2026") as s:
            s.set_practice_setup("100002", "Riverside", "12-3456789", True)
    with pytest.raises(RuleError, match="not 9 digits"):
        with two_accounts.session("alice", "pw-alice-2026") as s:
            s.set_practice_setup("100001", "Riverside", "12-345", True)


# -- Allow Account Access ----------------------------------------------------------------------

def test_allow_access_creates_username_with_given_privileges(two_accounts: AccountSystem) -> None:
    with two_accounts.session("alice", "pw-alice-2026") as s:
        s.allow_access("100001", "desk", "pw-dana-2026", {"scheduling": "full"})
    state = two_accounts.read_state()
    assert state.users["desk"].home == "100001"
    assert state.access[("desk", "100001")] == {**NO_ACCESS, "scheduling": "full"}


def test_allow_access_refusals(two_accounts: AccountSystem) -> None:
    with two_accounts.session("alice", "pw-alice-2026") as s:
        s.allow_access("100001", "desk", "pw-dana-2026", {"scheduling": "full"})
    cases = [
        (lambda s: s.allow_access("100002", "x-user", "pw-test-2026", {}), PermissionDenied,
         "alice can.t open account 100002"),
        (lambda s: s.allow_access("100001", "DESK", "pw-test-2026", {}), Conflict, "already taken"),
        (lambda s: s.allow_access("100001", "a b", "pw-test-2026", {}), RuleError, "3-64 letters"),
        (lambda s: s.allow_access("100001", "xy", "pw-test-2026", {}), RuleError, "3-64 letters"),
        (lambda s: s.allow_access("100001", "new1", "pw-test-2026", {"notes": "maybe"}), RuleError,
         "unknown privilege level"),
        (lambda s: s.allow_access("100001", "new1", "pw-test-2026", {"payroll": "full"}), RuleError,
         "unknown privilege area"),
    ]
    for op, error, message in cases:
        with pytest.raises(error, match=message):
            with two_accounts.session("alice", "pw-alice-2026") as s:
                op(s)
    # a username without full account_access can't add usernames either
    with pytest.raises(PermissionDenied):
        with two_accounts.session("desk", "pw-dana-2026") as s:
            s.allow_access("100001", "other", "pw-test-2026", {})
    assert two_accounts.read_state().revision == 3


# -- Access Other Accounts (join) ---------------------------------------------------------------

def _desk(system: AccountSystem, privileges: dict[str, str] | None = None) -> None:
    with system.session("alice", "pw-alice-2026") as s:
        s.allow_access("100001", "desk", "pw-dana-2026", privileges or {"scheduling": "full"})


def test_join_gets_exactly_the_logins_privileges(two_accounts: AccountSystem) -> None:
    _desk(two_accounts)
    with two_accounts.session("bob", "pw-bob-2026") as s:
        s.allow_access("100002", "bob-view", "pw-bv-2026x", {"clients": "view"})
    with two_accounts.session("desk", "pw-dana-2026") as s:
        s.join("desk", "100002", "bob-view", "pw-bv-2026x")
    assert two_accounts.read_state().access[("desk", "100002")] == {**NO_ACCESS, "clients": "view"}


def test_join_by_admin_of_home_and_refusals(two_accounts: AccountSystem) -> None:
    _desk(two_accounts)
    with two_accounts.session("alice", "pw-alice-2026") as s:  # full account_access in desk's home
        s.join("desk", "100002", "bob", "pw-bob-2026")
    assert two_accounts.read_state().access[("desk", "100002")] == FULL
    cases = [
        (lambda s: s.join("desk", "100002", "bob", "pw-bob-2026"), Conflict, "already has access"),
        (lambda s: s.join("alice", "100002", "bob", "wrong"), LoginFailed, "login failed"),
        (lambda s: s.join("alice", "100002", "desk", "pw-dana-2026"), RuleError,
         "not a login of account 100002"),
        (lambda s: s.join("alice", "999999", "bob", "pw-bob-2026"), RuleError,
         "not a login of account 999999"),
    ]
    for op, error, message in cases:
        with pytest.raises(error, match=message):
            with two_accounts.session("alice", "pw-alice-2026") as s:
                op(s)
    # bob has no rights in alice's account, so he can't join alice's usernames anywhere
    with pytest.raises(PermissionDenied, match=r"bob can.t open account 100001"):
        with two_accounts.session("bob", "pw-bob-2026") as s:
            s.allow_access("100002", "bob2", "pw-test-2026", {})
            s.join("desk", "100002", "bob2", "pw-test-2026")
    assert "bob2" not in two_accounts.read_state().users  # the whole session rolled back


# -- Username Privileges and the lockout guard ------------------------------------------------

def test_set_privileges_needs_full_account_access(two_accounts: AccountSystem) -> None:
    _desk(two_accounts)
    with two_accounts.session("alice", "pw-alice-2026") as s:
        s.set_privileges("100001", "desk", {"notes": "view"})
    assert two_accounts.read_state().access[("desk", "100001")]["notes"] == "view"
    with pytest.raises(PermissionDenied):
        with two_accounts.session("desk", "pw-dana-2026") as s:
            s.set_privileges("100001", "desk", {"account_access": "full"})
    with pytest.raises(NotFound, match=r"username .desk. is not one bob can act on"):
        with two_accounts.session("bob", "pw-bob-2026") as s:
            s.set_privileges("100002", "desk", {"notes": "view"})


def test_lockout_guard_refuses_losing_the_last_full_account_access(
    two_accounts: AccountSystem,
) -> None:
    with pytest.raises(LockoutError, match="without any username holding full account_access"):
        with two_accounts.session("alice", "pw-alice-2026") as s:
            s.set_privileges("100001", "alice", {"account_access": "view"})
    # with a second admin in place the same change is fine
    with two_accounts.session("alice", "pw-alice-2026") as s:
        s.allow_access("100001", "admin2", "pw-test-2026", FULL)
        s.set_privileges("100001", "alice", {"account_access": "view"})
    assert two_accounts.read_state().access[("alice", "100001")]["account_access"] == "view"


# -- leave and delete ------------------------------------------------------------------------

def test_leave_rules(two_accounts: AccountSystem) -> None:
    _desk(two_accounts)
    with two_accounts.session("alice", "pw-alice-2026") as s:
        s.join("desk", "100002", "bob", "pw-bob-2026")
    with pytest.raises(RuleError, match="it is its home"):
        with two_accounts.session("alice", "pw-alice-2026") as s:
            s.leave("desk", "100001")
    with pytest.raises(PermissionDenied, match=r"can.t open account 100002"):
        with two_accounts.session("alice", "pw-alice-2026") as s:
            s.leave("desk", "100002")  # alice has no rights in bob's account
    with two_accounts.session("bob", "pw-bob-2026") as s:
        s.leave("desk", "100002")
    assert ("desk", "100002") not in two_accounts.read_state().access


def test_leave_refused_when_it_would_lock_the_account_out(two_accounts: AccountSystem) -> None:
    with two_accounts.session("alice", "pw-alice-2026") as s:
        s.join("alice", "100002", "bob", "pw-bob-2026")
    with two_accounts.session("alice", "pw-alice-2026") as s:
        s.set_privileges("100002", "bob", {"account_access": "view"})
    with pytest.raises(LockoutError):
        with two_accounts.session("alice", "pw-alice-2026") as s:
            s.leave("alice", "100002")


def test_delete_rules(two_accounts: AccountSystem) -> None:
    _desk(two_accounts)
    with two_accounts.session("alice", "pw-alice-2026") as s:
        s.join("desk", "100002", "bob", "pw-bob-2026")
    with two_accounts.session("alice", "pw-alice-2026") as s:
        s.allow_access("100001", "admin2", "pw-test-2026", FULL)
    with pytest.raises(RuleError, match="sign-up username and can't be deleted"):
        with two_accounts.session("admin2", "pw-test-2026") as s:
            s.delete_username("alice")
    # A username may delete itself (a master moving home does); then it acts as nobody.
    with pytest.raises(PermissionDenied, match="admin2 can't open account 100001"):
        with two_accounts.session("admin2", "pw-test-2026") as s:
            s.delete_username("admin2")
            s.set_privileges("100001", "alice", FULL)
    assert two_accounts.read_state().user("admin2") is not None  # that session rolled back
    with two_accounts.session("admin2", "pw-test-2026") as s:
        s.delete_username("admin2")
    assert two_accounts.read_state().user("admin2") is None
    entry = two_accounts.audit(1)[0]
    assert (entry.action, entry.actor, entry.username) == ("remove", "admin2", "admin2")
    assert entry.actor_id == entry.username_id is not None
    with pytest.raises(PermissionDenied, match=r"can.t open account 100001"):
        with two_accounts.session("bob", "pw-bob-2026") as s:
            s.delete_username("desk")
    # bob keeps full account_access in 100002, so deleting desk locks nobody out
    with two_accounts.session("alice", "pw-alice-2026") as s:
        s.delete_username("desk")
    state = two_accounts.read_state()
    assert "desk" not in state.users
    assert not [k for k in state.access if k[0] == "desk"]


def test_delete_refused_when_it_would_lock_an_account_out(two_accounts: AccountSystem) -> None:
    _desk(two_accounts, FULL)
    with two_accounts.session("alice", "pw-alice-2026") as s:
        s.join("desk", "100002", "bob", "pw-bob-2026")
    with two_accounts.session("desk", "pw-dana-2026") as s:
        s.set_privileges("100002", "bob", {"account_access": "view"})
    with pytest.raises(LockoutError, match="account 100002"):
        with two_accounts.session("alice", "pw-alice-2026") as s:
            s.delete_username("desk")


# -- code files ------------------------------------------------------------------------------

def test_code_records_validated_and_normalized(two_accounts: AccountSystem) -> None:
    with two_accounts.session("alice", "pw-alice-2026") as s:
        s.put_codes("100001", "billing_codes", [{"code": "90837", "fee": "150"}])
        s.put_codes("100001", "diagnosis_codes", [{"code": "F41.1", "description": "GAD"}])
        s.put_codes("100001", "insurance_payers", [{"name": "Aetna", "payer_id": "60054",
                                                    "claims": "electronic"}])
    codes = two_accounts.read_state().codes["100001"]
    assert codes["billing_codes"]["90837"] == {"code": "90837", "description": "", "fee": "150.00"}
    assert codes["insurance_payers"]["Aetna"]["claims"] == "electronic"
    bad = [
        ("billing_codes", {"code": "9083"}, "not a 5-character code"),
        ("billing_codes", {"code": "90837", "fee": "-1"}, "not an amount of money"),
        ("billing_codes", {"code": "90837", "fee": "1.234"}, "not an amount of money"),
        ("diagnosis_codes", {"code": "f41.1"}, "not an ICD-10-CM code"),
        ("diagnosis_codes", {"code": "F41.12345"}, "not an ICD-10-CM code"),
        ("insurance_payers", {"name": "Cigna", "claims": "electronic"}, "needs a payer_id"),
        ("insurance_payers", {"name": "Cigna", "claims": "fax"}, "electronic or paper"),
        ("insurance_payers", {"name": "Cigna", "color": "red"}, "unknown field"),
    ]
    for file, record, message in bad:
        with pytest.raises(RuleError, match=message):
            with two_accounts.session("alice", "pw-alice-2026") as s:
                s.put_codes("100001", file, [record])


def test_codes_need_full_on_codes(two_accounts: AccountSystem) -> None:
    _desk(two_accounts, {"codes": "view"})
    with pytest.raises(PermissionDenied, match="needs full on codes"):
        with two_accounts.session("desk", "pw-dana-2026") as s:
            s.put_codes("100001", "diagnosis_codes", [{"code": "F41.1"}])
    with two_accounts.session("alice", "pw-alice-2026") as s:
        s.put_codes("100001", "diagnosis_codes", [{"code": "F41.1"}])
    with pytest.raises(PermissionDenied, match="needs full on codes"):
        with two_accounts.session("desk", "pw-dana-2026") as s:
            s.remove_codes("100001", "diagnosis_codes", ["F41.1"])
    with pytest.raises(NotFound):
        with two_accounts.session("alice", "pw-alice-2026") as s:
            s.remove_codes("100001", "diagnosis_codes", ["F99"])
    with two_accounts.session("alice", "pw-alice-2026") as s:
        s.remove_codes("100001", "diagnosis_codes", ["F41.1"])
    assert two_accounts.read_state().file("100001", "diagnosis_codes") == {}


def test_copy_codes_adds_or_overwrites_and_touches_nothing_else(
    two_accounts: AccountSystem,
) -> None:
    with two_accounts.session("alice", "pw-alice-2026") as s:
        s.join("alice", "100002", "bob", "pw-bob-2026")
        s.put_codes("100001", "billing_codes", [
            {"code": "90834", "fee": "120"}, {"code": "90837", "fee": "150"}])
        s.put_codes("100002", "billing_codes", [
            {"code": "90837", "fee": "99"}, {"code": "90853", "fee": "60"}])
        s.copy_codes("100001", "100002", "billing_codes")
    target = two_accounts.read_state().file("100002", "billing_codes")
    assert {k: v["fee"] for k, v in target.items()} == {
        "90834": "120.00", "90837": "150.00", "90853": "60.00"}


def test_copy_codes_privileges(two_accounts: AccountSystem) -> None:
    _desk(two_accounts, {"codes": "view"})
    with two_accounts.session("alice", "pw-alice-2026") as s:
        s.put_codes("100001", "diagnosis_codes", [{"code": "F41.1"}])
        s.join("desk", "100002", "bob", "pw-bob-2026")  # full in 100002, via bob's login
    with two_accounts.session("desk", "pw-dana-2026") as s:  # view in From, full in To: allowed
        s.copy_codes("100001", "100002", "diagnosis_codes")
    with pytest.raises(PermissionDenied, match="needs full on codes in account 100001"):
        with two_accounts.session("desk", "pw-dana-2026") as s:  # view in To: refused
            s.copy_codes("100002", "100001", "diagnosis_codes")
    with pytest.raises(RuleError, match="different accounts"):
        with two_accounts.session("alice", "pw-alice-2026") as s:
            s.copy_codes("100001", "100001", "diagnosis_codes")


# -- audit trail, transactions, the store file ------------------------------------------------

def test_every_change_is_audited_without_secrets(two_accounts: AccountSystem, store: str) -> None:
    with two_accounts.session("alice", "pw-alice-2026") as s:
        s.allow_access("100001", "desk", "secret-desk-pw", {"scheduling": "full"})
        s.set_privileges("100001", "desk", {"clients": "view"})
    entries = two_accounts.audit()
    # what the session did as a whole: one add, with the levels it ended at
    assert [(e.revision, e.actor, e.action, e.type) for e in entries[:2]] == [
        (3, "alice", "add", "username"), (2, "bob", "add", "account")]
    assert entries[0].detail["after"]["privileges"]["clients"] == "view"
    assert entries[0].detail["after"]["privileges"]["scheduling"] == "full"
    if not store.startswith("postgresql://"):
        assert b"secret-desk-pw" not in Path(store).read_bytes()


def test_audit_rows_cannot_be_updated_or_deleted(two_accounts: AccountSystem, store: str) -> None:
    for sql in ("UPDATE audit SET actor = 'mallory'", "DELETE FROM audit"):
        with pytest.raises(Exception, match="append-only"):
            raw_sql(store, sql)
    if store.startswith("postgresql://"):
        with pytest.raises(Exception, match="append-only"):
            raw_sql(store, "TRUNCATE audit")
    assert len(two_accounts.audit()) == 2


def test_a_failed_operation_rolls_back_the_whole_session(two_accounts: AccountSystem) -> None:
    before = two_accounts.read_state()
    with pytest.raises(PermissionDenied):
        with two_accounts.session("alice", "pw-alice-2026") as s:
            s.allow_access("100001", "desk", "pw-test-2026", {})
            s.set_practice_setup("100001", "X", "12-3456789", True)
            s.set_practice_setup("100002", "X", "12-3456789", True)  # refused
    after = two_accounts.read_state()
    assert after.revision == before.revision
    assert after.users.keys() == before.users.keys()
    assert after.accounts["100001"].practice_name is None


def test_expect_refuses_a_changed_store(two_accounts: AccountSystem) -> None:
    state = two_accounts.read_state()
    with two_accounts.session("alice", "pw-alice-2026") as s:
        s.expect(state.lineage, state.versions)
        s.set_practice_setup("100001", "Alice Therapy", None, False)
    # the account written since is named; a version of a row nobody wrote is 0
    with pytest.raises(StaleError, match=r"\(account 100001 changed\); run plan again"):
        with two_accounts.session("alice", "pw-alice-2026") as s:
            s.expect(state.lineage, state.versions)
    with two_accounts.session("alice", "pw-alice-2026") as s:
        s.expect(state.lineage, {"a:999999": 0})
    with pytest.raises(StaleError, match="another store"):
        with two_accounts.session("alice", "pw-alice-2026") as s:
            s.expect("other-lineage", state.versions)


def test_new_store_is_private_and_others_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    create_system(str(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with pytest.raises(StoreError, match="already exists"):
        create_system(str(path))
    with pytest.raises(StoreNotFound, match="groupsync sandbox"):
        open_system(str(tmp_path / "missing.db"))
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(StoreError, match="is not a groupsync store"):
        open_system(str(other))
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a database at all" * 100)
    with pytest.raises(StoreError, match="not a groupsync store"):
        open_system(str(text))


# -- log-in throttling -----------------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _fail(system: AccountSystem, username: str, times: int) -> None:
    for _ in range(times):
        with pytest.raises(LoginFailed):
            with system.session(username, "wrong-password-xyzzy"):
                pass


def test_failed_logins_lock_a_name_for_a_while_known_or_not(store: str) -> None:
    clock = FakeClock()
    system = create_system(store)
    system.clock = clock
    system.signup("Alice", "alice", "pw-alice-2026", "100001")
    _fail(system, "alice", 4)
    with system.session("alice", "pw-alice-2026"):  # a success in between resets the count
        pass
    _fail(system, "alice", 5)
    _fail(system, "nobody", 5)
    with pytest.raises(LoginLocked) as known:
        with system.session("alice", "pw-alice-2026"):  # even the right password is refused now
            pass
    with pytest.raises(LoginLocked) as unknown:
        with system.session("nobody", "pw-test-2026"):
            pass
    assert str(known.value) == ("login for alice from this address is locked after repeated "
                                "failed attempts; try again in 5 minutes")
    assert str(unknown.value) == str(known.value).replace("alice", "nobody")
    with pytest.raises(LoginLocked):  # plan's read-only log-in check honours the lock too
        system.verify_logins(system.read_state(), {"alice": "pw-alice-2026"})
    failures = [e for e in system.audit() if e.action == "login_failed"]
    assert len(failures) == 14
    assert failures[0].actor == "(unknown name)" and failures[0].detail["locked"] is True
    assert [e.detail["failures_in_a_row"] for e in failures if e.actor == "alice"][:5] == [
        5, 4, 3, 2, 1]
    assert {e.detail["address"] for e in failures} == {"local"}
    assert all("wrong-password" not in repr(e) for e in system.audit())
    clock.now += 301
    with system.session("alice", "pw-alice-2026") as s:
        assert s.actor == "alice"
    assert system.read_state().revision == 1  # log-ins are not changes
    # the two attempts refused during alice's lock: one entry with their count, not two
    refused = [e for e in system.audit() if e.action == "login_refused"]
    assert [(e.actor, e.detail) for e in refused] == [
        ("alice", {"address": "local", "refused_while_locked": 2})]


def test_attempts_counted_but_never_settled_stop_counting_after_a_locks_length(
        store: str) -> None:
    """Through the service an attempt is counted before its hash. A process killed during
    five hashes leaves five counted attempts and no lock: the name is refused from that
    address while they could still be under way, and answers again once the last of them is
    a lock's length old (it once stayed refused forever). Failures each within five minutes
    of the one before still lock."""
    from groupsync.accounts.service import LIMITS, throttle_subject

    clock = FakeClock()
    system = create_system(store)
    system.clock = clock
    system.signup("Alice", "alice", "pw-alice-2026", "100001")
    subject = throttle_subject(system.user("alice"), "alice")
    for _ in range(5):  # claimed, then the process died before the password was checked
        assert system.storage.claim_login_attempt(subject, "203.0.113.9", clock.now,
                                                  LIMITS) == 0.0
    clock.now += 60
    with pytest.raises(LoginLocked):  # five may still be under way
        system.login("alice", "pw-alice-2026", "203.0.113.9")
    clock.now += 241  # refused attempts marked nothing: the last admitted one is 301 s old
    assert system.login("alice", "pw-alice-2026", "203.0.113.9").username == "alice"
    for _ in range(4):  # four failures, each four minutes apart, and a fifth: locked
        with pytest.raises(LoginFailed):
            system.login("alice", "wrong-password-xyzzy", "203.0.113.9")
        clock.now += 240
    with pytest.raises(LoginFailed):
        system.login("alice", "wrong-password-xyzzy", "203.0.113.9")
    with pytest.raises(LoginLocked):
        system.login("alice", "pw-alice-2026", "203.0.113.9")


def test_a_lock_holds_only_for_the_address_that_failed(store: str) -> None:
    clock = FakeClock()
    system = create_system(store)
    system.clock = clock
    system.signup("Alice", "alice", "pw-alice-2026", "100001")
    for _ in range(5):  # a stranger at 203.0.113.9 tries alice's name
        with pytest.raises(LoginFailed):
            system.login("alice", "guess", "203.0.113.9")
    with pytest.raises(LoginLocked):
        system.login("alice", "pw-alice-2026", "203.0.113.9")
    assert system.login("alice", "pw-alice-2026", "198.51.100.7").username == "alice"
    assert system.login("alice", "pw-alice-2026").username == "alice"  # and the CLI on the store
    with system.session("alice", "pw-alice-2026") as s:
        assert s.actor == "alice"
    entries = [e for e in system.audit() if e.action == "login_failed"]
    assert [e.detail["address"] for e in entries] == ["203.0.113.9"] * 5
    assert entries[0].detail["locked"] is True


def test_one_address_spraying_many_names_is_stopped(store: str) -> None:
    clock = FakeClock()
    system = create_system(store)
    system.clock = clock
    system.signup("Alice", "alice", "pw-alice-2026", "100001")
    for i in range(50):  # one guess each at 50 names: no name reaches its own limit
        with pytest.raises(LoginFailed) as caught:
            system.login(f"user{i:02d}", "guess", "203.0.113.9")
        assert not isinstance(caught.value, LoginLocked)
    with pytest.raises(LoginLocked):  # now the address is refused for every name
        system.login("alice", "pw-alice-2026", "203.0.113.9")
    assert system.login("alice", "pw-alice-2026", "198.51.100.7").username == "alice"
    last = next(e for e in system.audit() if e.action == "login_failed")
    assert last.detail["address_locked"] is True and last.detail["address_failures"] == 50
    clock.now += 901
    assert system.login("alice", "pw-alice-2026", "203.0.113.9").username == "alice"


def test_hashes_made_with_stronger_parameters_still_verify(two_accounts: AccountSystem,
                                                         store: str) -> None:
    from argon2 import PasswordHasher

    stronger = PasswordHasher(time_cost=3, memory_cost=32 * 1024, parallelism=2).hash("pw-new-2026")
    raw_sql(store, "UPDATE usernames SET password_hash = ? WHERE ukey = 'bob'", (stronger,))
    with two_accounts.session("bob", "pw-new-2026") as s:
        assert s.actor == "bob"
    with pytest.raises(LoginFailed):
        with two_accounts.session("bob", "pw-bob-2026"):
            pass


def test_an_unknown_username_still_pays_for_one_hash_check(monkeypatch: pytest.MonkeyPatch) -> None:
    from groupsync.accounts import passwords

    calls: list[str] = []
    real = passwords._hasher

    class Counting:  # PasswordHasher has slots: wrap it rather than patch a method
        def verify(self, hash_: str, password: str) -> bool:
            calls.append(hash_)
            return real.verify(hash_, password)

        def hash(self, password: str) -> str:
            return real.hash(password)

    monkeypatch.setattr(passwords, "_hasher", Counting())
    assert passwords.verify_password(None, "guess") is False
    known = passwords.hash_password("right")
    assert passwords.verify_password(known, "wrong") is False
    assert len(calls) == 2 and calls[0].startswith("$argon2id$")  # same work either way
