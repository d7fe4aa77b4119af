"""apply: one transaction, stale plans refused, nothing changed on any failure."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from groupsync import planfile
from groupsync.accounts import state_digest
from groupsync.applier import apply_plan
from groupsync.engine import prepare
from groupsync.errors import LoginFailed, StaleError

from .conftest import raw_sql
from .helpers import (
    MASTER_PW,
    change,
    converge,
    kinds,
    plan_for,
    practice,
    sandboxed,
    secrets,
)


def test_apply_is_one_revision_and_converges(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    assert system.read_state().revision == 4  # four sign-ups
    plan = converge(system, desired)
    state = system.read_state()
    assert state.revision == 5
    entries = system.audit()
    new = [e for e in entries if e.revision == 5]
    assert len(new) >= len(plan.changes)
    assert {e.actor for e in new} == {"jsmith", "riverside-admin"}
    assert plan_for(system, desired).changes == []
    converge(system, desired)  # an apply with nothing to do changes nothing
    assert system.read_state().revision == 5


def test_any_failure_leaves_the_store_exactly_as_it_was(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    prepared = prepare(system, desired, secrets())
    before = system.read_state()
    wrong = dict(prepared.passwords, mgarcia="not-garcias-password")
    with pytest.raises(LoginFailed):  # garcia's account comes third: work was done before
        apply_plan(system, prepared.plan, wrong)
    after = system.read_state()
    assert (after.revision, state_digest(after)) == (before.revision, state_digest(before))
    entries = system.audit()
    assert [(e.action, e.actor) for e in entries[:1]] == [("login_failed", "mgarcia")]
    assert len(entries) == 5  # four sign-ups and the failed log-in; nothing of the apply


def test_a_plan_made_before_another_apply_is_stale(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    prepared = prepare(system, desired, secrets())
    with system.session("rjones", "demo-only-jones-2b9c") as s:
        s.set_practice_setup("100517", "Jones Therapy", None, False)
    with pytest.raises(StaleError, match=r"the store changed since the plan was made "
                                         r"\(account 100517 changed\)"):
        apply_plan(system, prepared.plan, prepared.passwords)
    assert system.read_state().revision == 5


def test_a_change_behind_groupsyncs_back_makes_a_plan_stale(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    converge(system, desired)
    changed = practice(tmp_path, ('fee: "150.00"', 'fee: "155.00"'))
    prepared = prepare(system, changed, secrets())
    raw_sql(store, "UPDATE codes SET fee = '1.00' WHERE key = '90834'")  # no revision bump
    with pytest.raises(StaleError, match=r"the store changed since the plan was made "
                       r"\(account \d+ changed, and 3 more accounts or usernames\)"):
        apply_plan(system, prepared.plan, prepared.passwords)


def test_saved_plan_round_trips_without_secrets(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    prepared = prepare(system, desired, secrets())
    saved = tmp_path / "saved.plan"
    saved.write_text(planfile.dumps(prepared.plan, prepared.passwords))
    assert planfile.read(str(saved)).verify(prepared.passwords) == prepared.plan
    text = saved.read_text()
    for value in secrets()._file.values():
        assert value not in text


def test_master_keeps_its_rights_until_its_own_reductions_come_last(
    tmp_path: Path, store: str
) -> None:
    # The master will have only view on codes in the master account, yet the same apply
    # enters and copies every record: its reduction is applied after the work.
    text = (tmp_path / "practice.yaml")
    desired = practice(tmp_path)
    text.write_text(text.read_text().replace(
        "privileges:\n", "privileges:\n  riverside-admin: {all: {codes: view, notes: none}}\n", 1))
    from groupsync.config import load_file

    desired = load_file(text)
    system, _ = sandboxed(tmp_path, desired, store=store)
    converge(system, desired)
    state = system.read_state()
    assert state.access[("riverside-admin", "100482")]["codes"] == "view"
    assert len(state.file("100561", "billing_codes")) == 7
    assert plan_for(system, desired).changes == []
    # and the master can still manage access, so the next change goes through
    with system.session("riverside-admin", MASTER_PW) as s:
        s.set_privileges("100517", "frontdesk", {"reports": "view"})
    assert [c.type for c in plan_for(system, desired).changes] == ["privileges"]


def test_a_shown_plan_survives_unrelated_applies_but_not_relevant_ones(
    tmp_path: Path, store: str
) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    converge(system, desired)
    changed = practice(tmp_path, ('fee: "150.00"', 'fee: "155.00"'))
    prepared = prepare(system, changed, secrets())
    with system.session("riverside-admin", MASTER_PW) as s:  # not something the plan touches
        s.allow_access("100517", "temp-helper", "pw-test-2026", {"clients": "view"})
    revision = apply_plan(system, prepared.plan, prepared.passwords, changed)
    assert revision == 7
    prepared = prepare(system, practice(tmp_path, ('fee: "150.00"', 'fee: "160.00"')),
                       secrets())
    with system.session("riverside-admin", MASTER_PW) as s:  # something the plan touches
        s.put_codes("100482", "billing_codes", [{"code": "90837", "fee": "1"}])
    with pytest.raises(StaleError, match="the plan would now be different"):
        apply_plan(system, prepared.plan, prepared.passwords,
                   practice(tmp_path, ('fee: "150.00"', 'fee: "160.00"')))
    assert system.read_state().revision == 8


def test_a_plan_with_a_change_no_phase_performs_is_refused_whole(
    tmp_path: Path, store: str
) -> None:
    from groupsync.errors import PlanError

    system, desired = sandboxed(tmp_path, store=store)
    converge(system, desired)
    prepared = prepare(system, desired, secrets())
    tampered = copy.deepcopy(prepared.plan)
    tampered.changes = [
        change("change", "privileges", "100517", username="frontdesk",
               before=system.read_state().access[("frontdesk", "100517")],
               after={**system.read_state().access[("frontdesk", "100517")], "notes": "view"}),
        # the master is deleted only when it moves home (and then added again)
        change("remove", "username", "100482", username="riverside-admin",
               before={"home": "100482", "access": {}}),
    ]
    before = system.read_state().revision
    with pytest.raises(PlanError, match="1 change\\(s\\) groupsync can't apply"):
        apply_plan(system, tampered, prepared.passwords)
    assert system.read_state().revision == before
    assert system.read_state().access[("frontdesk", "100517")]["notes"] == "none"


def test_a_master_that_lost_account_access_is_restored_through_the_provider_login(
    tmp_path: Path, store: str
) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    converge(system, desired)
    with system.session("rjones", "demo-only-jones-2b9c") as s:  # drift: Jones demotes it
        s.set_privileges("100517", "riverside-admin", {"account_access": "view", "notes": "none"})
    plan = plan_for(system, desired)
    assert [(c.type, c.account, c.username) for c in plan.changes] == [
        ("privileges", "100517", "riverside-admin")]
    assert plan.credentials["rjones"] == "JONES_PASSWORD"  # needed to restore it
    converge(system, desired)
    assert system.read_state().access[("riverside-admin", "100517")]["account_access"] == "full"
    assert plan_for(system, desired).changes == []
    actors = [(e.actor, e.type) for e in system.audit(2)]
    assert ("rjones", "privileges") in actors


def test_a_master_with_view_on_codes_still_gets_the_codes_copied(
    tmp_path: Path, store: str
) -> None:
    """Found by `make fuzz`: the file gives the master `codes: view` in an account whose code
    file must change. The master raises itself for the apply (it holds full account_access
    there) and is put back to what the file says at the end."""
    limited = "privileges:\n  riverside-admin: {all: full, jones: {codes: view}}\n"
    desired = practice(tmp_path, ("privileges:\n", limited))
    system, _ = sandboxed(tmp_path, desired, store=store)
    converge(system, desired)
    jones = "100517"
    assert system.read_state().access[("riverside-admin", jones)]["codes"] == "view"
    fee_change = practice(tmp_path, ("privileges:\n", limited),
                          ('fee: "150.00"', 'fee: "155.00"'))
    plan = converge(system, fee_change)
    assert ("change", "code", jones, "90837") in kinds(plan)
    state = system.read_state()
    assert state.file(jones, "billing_codes")["90837"]["fee"] == "155.00"
    assert state.access[("riverside-admin", jones)]["codes"] == "view"
    assert plan_for(system, fee_change).changes == []
