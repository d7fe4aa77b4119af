"""plan(desired, state): change lists, counting, warnings, pruning (docs/contracts.md, "Plans,
counting and JSON")."""

from __future__ import annotations

from pathlib import Path

import pytest

from groupsync.errors import PlanError
from groupsync.plan import make_plan
from groupsync.vocabulary import AREAS

from .helpers import MASTER_PW, converge, kinds, plan_for, practice, sandboxed

FULL = {a: "full" for a in AREAS}
SMITH, JONES, GARCIA, CHEN = "100482", "100517", "100533", "100561"


def test_first_plan_counts_every_change_once(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    plan = plan_for(system, desired)
    # 4 Practice Set-ups; 3 usernames (their home privileges inside the add); 3 x 3 joins
    # (privileges inside); 19 records x 4 accounts.
    assert plan.summary() == {"add": 3 + 9 + 76, "change": 4, "remove": 0}
    by_type: dict[str, int] = {}
    for c in plan.changes:
        by_type[c.type] = by_type.get(c.type, 0) + 1
    assert by_type == {"practice_setup": 4, "username": 3, "join": 9, "code": 76}
    first = plan.changes[:4]
    assert kinds(plan)[:4] == [
        ("change", "practice_setup", SMITH, None),
        ("add", "username", SMITH, "billing"),
        ("add", "username", SMITH, "frontdesk"),
        ("add", "username", SMITH, "riverside-admin"),
    ]
    assert first[0].before == {"provider_name": "Jane Smith, PhD", "practice_name": None,
                               "tin": None, "bills_electronically": False}
    assert first[0].after == {"provider_name": "Jane Smith, PhD",
                              "practice_name": "Riverside Counseling Group",
                              "tin": "12-3456789", "bills_electronically": True}
    assert first[3].after == {"home": SMITH, "privileges": FULL}
    garcia_billing = next(c for c in plan.changes
                          if c.type == "join" and c.account == GARCIA and c.username == "billing")
    assert garcia_billing.after["claims"] == "view"
    assert garcia_billing.after["notes"] == "none"
    assert plan.actor == "jsmith" and plan.master == "riverside-admin"
    assert plan.credentials == {
        "billing": "BILLING_PASSWORD", "dchen": "CHEN_PASSWORD",
        "frontdesk": "FRONTDESK_PASSWORD", "jsmith": "SMITH_PASSWORD",
        "mgarcia": "GARCIA_PASSWORD", "riverside-admin": "MASTER_PASSWORD",
        "rjones": "JONES_PASSWORD",
    }


def test_plan_after_apply_is_empty_and_plans_are_deterministic(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    state = system.read_state()
    assert make_plan(desired, state).to_json() == make_plan(desired, state).to_json()
    converge(system, desired)
    again = plan_for(system, desired)
    assert again.changes == [] and again.warnings == []
    assert again.actor == "riverside-admin"
    assert again.credentials == {"riverside-admin": "MASTER_PASSWORD"}  # nothing else needed


def test_drift_in_privileges_shows_area_by_area(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    converge(system, desired)
    with system.session("riverside-admin", MASTER_PW) as s:
        s.set_privileges(JONES, "frontdesk", {"notes": "full", "billing": "view"})
    plan = plan_for(system, desired)
    assert kinds(plan) == [("change", "privileges", JONES, "frontdesk")]
    c = plan.changes[0]
    assert {a for a in AREAS if c.before[a] != c.after[a]} == {"notes", "billing"}
    assert c.after["notes"] == "none"


def test_fee_change_is_one_change_per_account(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    converge(system, desired)
    desired = practice(tmp_path, ('fee: "150.00"', 'fee: "155.00"'))
    plan = plan_for(system, desired)
    assert kinds(plan) == [("change", "code", a, "90837") for a in (SMITH, JONES, GARCIA, CHEN)]
    assert plan.changes[0].before["fee"] == "150.00"
    assert plan.changes[0].after["fee"] == "155.00"


def test_master_file_is_the_source_without_inline_records(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    converge(system, desired)
    with system.session("riverside-admin", MASTER_PW) as s:
        s.put_codes(SMITH, "diagnosis_codes", [{"code": "F40.10", "description": "Social phobia"}])
    text = (tmp_path / "practice.yaml").read_text()
    start = text.index("  diagnosis_codes:")
    end = text.index("  billing_codes:")
    (tmp_path / "practice.yaml").write_text(text[:start] + text[end:])
    from groupsync.config import load_file

    plan = plan_for(system, load_file(tmp_path / "practice.yaml"))
    assert kinds(plan) == [("add", "code", a, "F40.10") for a in (JONES, GARCIA, CHEN)]


def test_undeclared_usernames_and_joins_warn_and_stay_without_prune(
    tmp_path: Path, store: str
) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    converge(system, desired)
    with system.session("riverside-admin", MASTER_PW) as s:
        s.allow_access(JONES, "temp-helper", "pw-test-2026", {"clients": "view"})
        s.join("temp-helper", CHEN, "dchen", "demo-only-chen-8a4f")
        s.put_codes(CHEN, "diagnosis_codes", [{"code": "F99"}])
    plan = plan_for(system, desired)
    assert plan.changes == []
    # a join gives full everywhere: the built-in policy says so, once per risky area
    risky = [w for w in plan.warnings if w.startswith('policy "risky-grants"')]
    assert risky == [f'policy "risky-grants": temp-helper holds full on {area} in account '
                     f"{CHEN} (chen)" for area in ("notes", "account_access")]
    assert [w for w in plan.warnings if w not in risky] == [
        f"username temp-helper (home {JONES} (jones)) is not in {desired.source}; it keeps its "
        "access because prune.usernames is off",
        f"temp-helper (home {JONES} (jones)) can open account {CHEN} (chen) but is not in "
        f"{desired.source}; it keeps that access because prune.joins is off",
        # docs/contracts.md, "The group's lifecycle": a record kept only because prune.codes is off
        # is said, as above
        f"diagnosis_codes F99 in account {CHEN} (chen) is not in {desired.source}; it stays "
        "because prune.codes is off",
    ]


def test_prune_switches_remove_what_the_file_does_not_declare(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    converge(system, desired)
    with system.session("riverside-admin", MASTER_PW) as s:
        s.allow_access(JONES, "temp-helper", "pw-test-2026", {"clients": "view"})
        s.join("temp-helper", CHEN, "dchen", "demo-only-chen-8a4f")
        s.allow_access(CHEN, "chen-assistant", "pw-test-2026", {"clients": "view"})
        s.join("chen-assistant", SMITH, "jsmith", "demo-only-smith-7f3a")
        s.put_codes(CHEN, "diagnosis_codes", [{"code": "F99"}])
        s.put_codes(SMITH, "diagnosis_codes", [{"code": "F98.0"}])
    pruned = practice(tmp_path, ("  usernames: false", "  usernames: true"),
                      ("  codes: false", "  codes: true"))
    plan = plan_for(system, pruned)
    assert kinds(plan) == [
        ("remove", "code", SMITH, "F98.0"),
        ("remove", "username", JONES, "temp-helper"),
        ("remove", "username", CHEN, "chen-assistant"),
        ("remove", "code", CHEN, "F99"),
    ]
    assert plan.changes[1].before["access"] == {
        JONES: {**{a: "none" for a in AREAS}, "clients": "view"},
        CHEN: FULL,  # joined with dchen's login: dchen's privileges, full
    }
    joins_only = practice(tmp_path, ("  joins: false", "  joins: true"))
    assert kinds(plan_for(system, joins_only)) == [
        ("remove", "join", SMITH, "chen-assistant"),
        ("remove", "join", CHEN, "temp-helper"),
    ]


def test_a_provider_login_joined_elsewhere_is_never_pruned(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    converge(system, desired)
    with system.session("riverside-admin", MASTER_PW) as s:
        s.join("dchen", SMITH, "jsmith", "demo-only-smith-7f3a")
    pruned = practice(tmp_path, ("  joins: false", "  joins: true"),
                      ("  usernames: false", "  usernames: true"))
    assert plan_for(system, pruned).changes == []


def test_staff_with_an_extra_join_keeps_it_with_a_warning(tmp_path: Path, store: str) -> None:
    desired = practice(tmp_path, ("    home: smith\n    accounts: all\n  billing:",
                                  "    home: smith\n    accounts: [jones]\n  billing:"))
    system, _ = sandboxed(tmp_path, desired, store=store)
    converge(system, desired)
    with system.session("riverside-admin", MASTER_PW) as s:
        s.join("frontdesk", CHEN, "dchen", "demo-only-chen-8a4f")  # full, via dchen
    plan = plan_for(system, desired)
    # its privileges there are still managed: least privilege from the file
    assert kinds(plan) == [("change", "privileges", CHEN, "frontdesk")]
    assert plan.changes[0].after["notes"] == "none"
    assert plan.warnings == [
        f"frontdesk can also open account {CHEN} (chen), which its accounts don't list; it "
        "keeps that access because prune.joins is off"
    ]


def test_plan_refuses_what_it_cannot_reach(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    other = practice(tmp_path, ('account_id: "100561"', 'account_id: "100999"'))
    with pytest.raises(PlanError, match="provider chen's account 100999 does not exist"):
        plan_for(system, other)
    with system.session("rjones", "demo-only-jones-2b9c") as s:
        s.allow_access(JONES, "FrontDesk", "pw-test-2026", {})
    with pytest.raises(PlanError, match=f"username frontdesk can't move from account {JONES} "
                                        f"\\(jones\\) to {SMITH} \\(smith\\): the master "
                                        "riverside-admin deletes it there, and it doesn't "
                                        "exist yet; keep that home for the first apply"):
        plan_for(system, desired)


def test_a_name_taken_in_another_practice_is_said_without_where(
    tmp_path: Path, store: str
) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    system.signup("Other Practice Provider", "Billing", "pw-other-2026", "300001")
    with pytest.raises(PlanError) as caught:
        plan_for(system, desired)
    assert str(caught.value) == ("username billing is taken; usernames are unique across the "
                                 "store, so choose another")


def test_master_privilege_overrides(tmp_path: Path, store: str) -> None:
    desired = practice(tmp_path, extra="")
    text = (tmp_path / "practice.yaml").read_text().replace(
        "privileges:\n", "privileges:\n  riverside-admin: {garcia: {notes: none}}\n", 1)
    (tmp_path / "practice.yaml").write_text(text)
    from groupsync.config import load_file

    desired = load_file(tmp_path / "practice.yaml")
    system, _ = sandboxed(tmp_path, desired, store=store)
    plan = plan_for(system, desired)
    join = next(c for c in plan.changes if c.type == "join" and c.account == GARCIA
                and c.username == "riverside-admin")
    assert join.after == {**FULL, "notes": "none"}
    converge(system, desired)
    assert system.read_state().access[("riverside-admin", GARCIA)]["notes"] == "none"
    assert plan_for(system, desired).changes == []


def test_a_username_of_another_practice_in_our_account_is_warned_without_its_home(
    tmp_path: Path, store: str
) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    system.signup("Other Practice Provider", "other-login", "pw-other-2026", "300001")
    with system.session("other-login", "pw-other-2026") as s:
        s.join("other-login", JONES, "rjones", "demo-only-jones-2b9c")
    warnings = [w for w in plan_for(system, desired).warnings
                if "other-login" in w and "risky-grants" not in w]
    assert warnings == [f"other-login can open account {JONES} (jones) but is not in "
                        f"{desired.source}; it keeps that access because prune.joins is off"]
    assert "300001" not in " ".join(warnings)
