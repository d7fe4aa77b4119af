"""The group's lifecycle (docs/contracts.md, "The group's lifecycle"): providers leave, homes move,
passwords change, providers are renamed, records drop out of the file. Plan tests on change lists,
account-system tests on the new rule, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from groupsync.applier import apply_plan
from groupsync.config import Desired, Secrets
from groupsync.engine import prepare
from groupsync.errors import LoginFailed, PermissionDenied, PlanError, SecretError
from groupsync.render import plan_text
from groupsync.vocabulary import AREAS

from .conftest import demo_env
from .helpers import (
    CHEN_BLOCK,
    MASTER_PW,
    PRUNE_JOINS,
    SMITH_BLOCK,
    converge,
    kinds,
    plan_for,
    practice,
    sandboxed,
)

FULL = {a: "full" for a in AREAS}
SMITH, JONES, GARCIA, CHEN = "100482", "100517", "100533", "100561"



def secrets(**changed: str) -> Secrets:
    return Secrets({**demo_env(), **changed}, environ={})


def apply_with(system: object, desired: Desired, rotate: tuple[str, ...] = (),
               **changed: str) -> None:
    prepared = prepare(system, desired, secrets(**changed), rotate)  # type: ignore[arg-type]
    apply_plan(system, prepared.plan, prepared.passwords)  # type: ignore[arg-type]


# -- a provider leaves -----------------------------------------------------------------------

def test_a_provider_who_leaves_is_warned_about_then_pruned(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    converge(system, desired)
    left = practice(tmp_path, (CHEN_BLOCK, ""))
    plan = plan_for(system, left)
    assert plan.changes == []
    assert plan.warnings == [
        f"account {CHEN} is not in {left.source}, but riverside-admin, frontdesk, billing can "
        "still open it; they keep that access because prune.joins is off (set prune.joins: "
        "true to remove it)"]

    pruned = practice(tmp_path, (CHEN_BLOCK, ""), PRUNE_JOINS)
    plan = plan_for(system, pruned)
    assert kinds(plan) == [("remove", "join", CHEN, "billing"),
                           ("remove", "join", CHEN, "frontdesk"),
                           ("remove", "join", CHEN, "riverside-admin")]
    assert plan.summary() == {"add": 0, "change": 0, "remove": 3}
    converge(system, pruned)
    state = system.read_state()
    assert sorted(u for (u, a) in state.access if a == CHEN) == ["dchen"]
    assert state.access[("dchen", CHEN)] == FULL  # the account stays the provider's
    assert len(state.file(CHEN, "billing_codes")) == 7
    assert plan_for(system, pruned).changes == []


def test_the_master_home_provider_leaves(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    converge(system, desired)
    old_master = system.read_state().user("riverside-admin")
    assert old_master is not None
    moved = practice(tmp_path, (SMITH_BLOCK, ""), ("home: smith", "home: jones"),
                     ("  master: smith", "  master: jones"), PRUNE_JOINS)
    prepared = prepare(system, moved, secrets())
    plan = prepared.plan
    assert plan.summary() == {"add": 9, "change": 0, "remove": 3}
    assert {k: (m.old, m.new) for k, m in plan.moves().items()} == {
        "riverside-admin": (SMITH, JONES), "frontdesk": (SMITH, JONES),
        "billing": (SMITH, JONES)}
    assert plan.moves()["frontdesk"].loses == (SMITH,)
    # the departed provider's login is not needed: the master deletes itself there
    assert "jsmith" not in plan.credentials
    text = plan_text(plan)
    assert (f"-/+ username riverside-admin (home {SMITH} -> {JONES}; full on every area; "
            f"loses its access to {SMITH})") in text
    assert f"-/+ username frontdesk (home {SMITH} -> {JONES}; front-desk: full on " \
           f"scheduling; view on clients; none elsewhere; loses its access to {SMITH})" in text
    assert f"account {SMITH}\n" not in text  # the old home's removals are the -/+ lines
    assert text.endswith("Plan: 9 to add, 0 to change, 3 to remove.\n")
    apply_plan(system, plan, prepared.passwords)
    state = system.read_state()
    master = state.user("riverside-admin")
    assert master is not None and master.home == JONES and master.id != old_master.id
    assert sorted(a for (u, a) in state.access if u == "riverside-admin") == [JONES, GARCIA,
                                                                              CHEN]
    assert sorted(u for (u, a) in state.access if a == SMITH) == ["jsmith"]
    assert state.user("frontdesk").home == JONES  # type: ignore[union-attr]
    assert plan_for(system, moved).changes == []
    system.login("riverside-admin", MASTER_PW)


def test_a_staff_username_moves_home(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    converge(system, desired)
    moved = practice(tmp_path, ("    password: \"${FRONTDESK_PASSWORD}\"\n    home: smith",
                                "    password: \"${FRONTDESK_PASSWORD}\"\n    home: garcia"))
    plan = plan_for(system, moved)
    assert kinds(plan) == [("remove", "username", SMITH, "frontdesk"),
                           ("add", "join", SMITH, "frontdesk"),
                           ("add", "join", JONES, "frontdesk"),
                           ("add", "username", GARCIA, "frontdesk"),
                           ("add", "join", CHEN, "frontdesk")]
    assert plan.credentials["frontdesk"] == "FRONTDESK_PASSWORD"  # made again: needs it
    converge(system, moved)
    assert system.read_state().user("frontdesk").home == GARCIA  # type: ignore[union-attr]
    assert plan_for(system, moved).changes == []


def test_each_problem_is_its_own_line(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    system.signup("Other Practice", "frontdesk", "pw-other-2026", "300001")
    system.signup("Other Practice 2", "billing", "pw-other-2026", "300002")
    with pytest.raises(PlanError) as caught:
        plan_for(system, desired)
    assert str(caught.value).splitlines() == [
        "username frontdesk is taken; usernames are unique across the store, so choose another",
        "username billing is taken; usernames are unique across the store, so choose another"]


# -- passwords change ----------------------------------------------------------------------

def test_rotating_staff_and_provider_logins(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    converge(system, desired)
    new = {"FRONTDESK_PASSWORD": "fresh-frontdesk-2026", "CHEN_PASSWORD": "fresh-chen-2026"}
    prepared = prepare(system, desired, secrets(**new), ["frontdesk", "DChen"])
    assert kinds(prepared.plan) == [("change", "password", SMITH, "frontdesk"),
                                    ("change", "password", CHEN, "dchen")]
    assert [c.before for c in prepared.plan.changes] == [None, None]
    assert prepared.plan.to_json()["changes"][0] == {
        "action": "change", "type": "password", "account": SMITH, "username": "frontdesk",
        "before": None, "after": None}
    apply_plan(system, prepared.plan, prepared.passwords)
    system.login("frontdesk", "fresh-frontdesk-2026")
    system.login("dchen", "fresh-chen-2026")
    with pytest.raises(LoginFailed):
        system.login("dchen", demo_env()["CHEN_PASSWORD"])
    entry = next(e for e in system.audit() if e.type == "password" and e.username == "dchen")
    assert (entry.action, entry.actor, entry.account) == ("change", "riverside-admin", CHEN)
    for secret in new.values():
        assert secret not in repr(system.audit())
    # the plan after: nothing to do, and the new passwords verify
    assert plan_for_with(system, desired, **new).changes == []


def plan_for_with(system: object, desired: Desired, **changed: str) -> object:
    return prepare(system, desired, secrets(**changed)).plan  # type: ignore[arg-type]


def test_rotating_the_master_goes_through_its_home_login(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    converge(system, desired)
    prepared = prepare(system, desired, secrets(MASTER_PASSWORD="fresh-master-2026"),
                       ["riverside-admin"])
    assert prepared.plan.actor == "jsmith"
    assert kinds(prepared.plan) == [("change", "password", SMITH, "riverside-admin")]
    apply_plan(system, prepared.plan, prepared.passwords)
    system.login("riverside-admin", "fresh-master-2026")
    entry = system.audit(1)[0]
    assert (entry.type, entry.actor, entry.username) == ("password", "jsmith",
                                                         "riverside-admin")


def test_rotations_that_cannot_work_say_why(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    with pytest.raises(PlanError) as caught:
        prepare(system, desired, secrets(), ["frontdesk", "nobody"])
    assert str(caught.value).splitlines() == [
        "--rotate frontdesk: frontdesk doesn't exist yet; it is created with the current value "
        "of ${FRONTDESK_PASSWORD}, so drop --rotate",
        f"--rotate nobody: not a username {desired.source} declares (the master, a staff "
        "username or a provider login)"]
    converge(system, desired)
    with pytest.raises(PlanError, match="--rotate riverside-admin: its password is set by "
                                        "jsmith, which is rotated too; rotate one, apply, then "
                                        "the other"):
        prepare(system, desired, secrets(), ["riverside-admin", "jsmith"])
    with pytest.raises(SecretError, match="new password of frontdesk"):
        prepare(system, desired, secrets(FRONTDESK_PASSWORD="password"), ["frontdesk"])


def test_set_password_rule(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    converge(system, desired)
    # by itself, logged in with its old password
    with system.session("frontdesk", demo_env()["FRONTDESK_PASSWORD"]) as s:
        s.set_password("frontdesk", "mine-now-2026")
    # not by a username without full account_access in its home
    with pytest.raises(PermissionDenied, match="billing needs full on account_access in "
                                               f"account {SMITH} to set frontdesk's password"):
        with system.session("billing", demo_env()["BILLING_PASSWORD"]) as s:
            s.set_password("frontdesk", "theirs-now-2026")
    # tokens end and locks clear when the password is set
    user = system.login("frontdesk", "mine-now-2026")
    token = system.issue_token(user, 900)
    assert system.token_user(token) == "frontdesk"
    for _ in range(5):
        with pytest.raises(LoginFailed):
            system.login("frontdesk", "wrong-guess", address="203.0.113.9")
    with pytest.raises(LoginFailed, match="locked"):
        system.login("frontdesk", "mine-now-2026", address="203.0.113.9")
    with system.session("riverside-admin", MASTER_PW) as s:
        s.set_password("frontdesk", "admin-set-2026")
    assert system.token_user(token) is None
    system.login("frontdesk", "admin-set-2026", address="203.0.113.9")


# -- renames and dropped records -------------------------------------------------------------

def test_a_provider_rename_is_a_practice_setup_change(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    converge(system, desired)
    renamed = practice(tmp_path, ("name: Robert Jones, LCSW", "name: Robert Jones, PhD"))
    plan = plan_for(system, renamed)
    assert kinds(plan) == [("change", "practice_setup", JONES, None)]
    assert plan.changes[0].before["provider_name"] == "Robert Jones, LCSW"
    assert plan.changes[0].after["provider_name"] == "Robert Jones, PhD"
    assert '      provider_name: "Robert Jones, LCSW" -> "Robert Jones, PhD"\n' in plan_text(plan)
    converge(system, renamed)
    assert system.read_state().accounts[JONES].provider_name == "Robert Jones, PhD"
    assert plan_for(system, renamed).changes == []


def test_a_record_dropped_from_the_file_is_warned_about(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    converge(system, desired)
    dropped = practice(tmp_path, ("    - {code: F41.1, description: Generalized anxiety "
                                  "disorder}\n", ""))
    plan = plan_for(system, dropped)
    assert plan.changes == []
    assert plan.warnings == [
        f"diagnosis_codes F41.1 in accounts {SMITH} (smith), {JONES} (jones), {GARCIA} "
        f"(garcia), {CHEN} (chen) is not in {dropped.source}; it stays because prune.codes "
        "is off"]


def test_rotating_the_master_and_staff_together(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    converge(system, desired)
    new = {"MASTER_PASSWORD": "fresh-master-2026", "FRONTDESK_PASSWORD": "fresh-desk-2026"}
    prepared = prepare(system, desired, secrets(**new), ["riverside-admin", "frontdesk"])
    # jsmith sets both: the master's (its home) and frontdesk's (its home too), as the
    # master can't while its own password is being set
    assert prepared.plan.actor == "jsmith"
    apply_plan(system, prepared.plan, prepared.passwords)
    system.login("riverside-admin", "fresh-master-2026")
    system.login("frontdesk", "fresh-desk-2026")
    setters = {e.username: e.actor for e in system.audit(2)}
    assert setters == {"riverside-admin": "jsmith", "frontdesk": "jsmith"}


def test_a_hand_made_password_change_without_its_password_is_refused(
    tmp_path: Path, store: str,
) -> None:
    from .helpers import change

    system, desired = sandboxed(tmp_path, store=store)
    converge(system, desired)
    prepared = prepare(system, desired, secrets())
    forged = prepared.plan
    forged.changes = [change("change", "password", SMITH, username="billing")]
    before = system.read_state().revision
    with pytest.raises(PlanError, match="the apply needs the password of billing, which was "
                                        "not given; nothing was changed"):
        apply_plan(system, forged, {"riverside-admin": MASTER_PW})
    assert system.read_state().revision == before


def test_a_move_says_what_access_it_loses(tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    converge(system, desired)
    system.signup("Other Practice", "alee", "pw-other-2026", "200001")
    with system.session("riverside-admin", MASTER_PW) as s:
        s.join("frontdesk", "200001", "alee", "pw-other-2026")
    moved = practice(tmp_path, ("    password: \"${FRONTDESK_PASSWORD}\"\n    home: smith",
                                "    password: \"${FRONTDESK_PASSWORD}\"\n    home: jones"))
    plan = plan_for(system, moved)
    assert (f"frontdesk moves home, so it loses its access to account 200001, which "
            f"{moved.source} doesn't declare (a username made again starts with only what "
            "the file gives it)") in plan.warnings
    assert (f"-/+ username frontdesk (home {SMITH} -> {JONES}; front-desk: full on "
            "scheduling; view on clients; none elsewhere; loses its access to 200001)") \
        in plan_text(plan)


def test_names_longer_than_the_file_allows_are_refused_by_the_rules(
    tmp_path: Path, store: str,
) -> None:
    from groupsync.errors import RuleError

    system, _desired = sandboxed(tmp_path, store=store)
    with pytest.raises(RuleError, match="a provider's name is longer than 200 characters"):
        with system.session("jsmith", demo_env()["SMITH_PASSWORD"]) as s:
            s.set_practice_setup(SMITH, "Riverside", "12-3456789", True, "x" * 201)
    with pytest.raises(RuleError, match="a provider's name is longer than 200 characters"):
        system.signup("y" * 201, "newdoc", "pw-newdoc-2026")
