"""Roles and policies (docs/contracts.md, "Roles and policies"): a role is only a name for
levels; a policy is checked on the state a plan would leave, by the one planner every caller
goes through, and a deny violation the file declares or the plan creates changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupsync.config import load_text
from groupsync.errors import PolicyError
from groupsync.policies import Practice, after_access, check

from .conftest import EXAMPLE, Result, demo_env
from .helpers import MASTER_PW, converge, plan_for, practice, sandboxed, secrets
from .helpers import load_problems as _load
from .support import serving

Run = Callable[..., Result]
FILES = ("-f", "practice.yaml", "--env-file", "demo.env")
SMITH, JONES, GARCIA, CHEN = "100482", "100517", "100533", "100561"
NO_NOTES = ("policies:\n  - name: billers never read notes\n    deny: {role: biller, "
            "areas: [notes]}\n")

# the example's privileges written out, with no role
WRITTEN_OUT = ('''privileges:
  frontdesk:
    all: {clients: view, scheduling: full}
  billing:
    all: {clients: view, billing: full, claims: full, codes: view, reports: view}
    garcia: {clients: view, billing: full, claims: view, codes: view, reports: view}
''')


def _privileges_block() -> str:
    text = EXAMPLE.read_text()
    start = text.index("privileges:\n  frontdesk: front-desk")
    return text[start:text.index("\n\n", start) + 1]


def _write(tmp_path: Path, text: str) -> None:
    (tmp_path / "practice.yaml").write_text(text)
    (tmp_path / "demo.env").write_text("".join(f"{k}={v}\n" for k, v in demo_env().items()))


# -- roles ---------------------------------------------------------------------------------


def test_roles_give_the_same_levels_as_writing_them_out(tmp_path: Path, store: str) -> None:
    system, with_roles = sandboxed(tmp_path, store=store)
    converge(system, with_roles)
    written = practice(tmp_path, (_privileges_block(), WRITTEN_OUT))
    assert all(spec.all_role is None for spec in written.privileges.values())
    assert plan_for(system, written).changes == []
    for k, spec in with_roles.privileges.items():
        for acct in with_roles.by_account:
            assert spec.resolve(acct) == written.privileges[k].resolve(acct), (k, acct)


def test_a_role_with_overrides_keeps_its_name_and_changes_only_those_areas() -> None:
    desired = load_text(EXAMPLE.read_bytes(), "practice.yaml")
    billing = desired.privileges["billing"]
    assert billing.role(GARCIA) == "biller" and billing.role(SMITH) == "biller"
    assert billing.resolve(GARCIA) == {**billing.resolve(SMITH), "claims": "view"}
    assert desired.privileges["frontdesk"].role(CHEN) == "front-desk"
    assert desired.privileges["riverside-admin"].role(CHEN) is None


@pytest.mark.parametrize(("old", "new", "problem"), [
    ("  frontdesk: front-desk", "  frontdesk: frontdesk",
     "unknown role 'frontdesk' (did you mean 'front-desk'?) (roles: front-desk, biller; "
     "levels: full, view, none)"),
    ("    all: biller", "    all: {role: billr, claims: view}",
     "unknown role 'billr' (did you mean 'biller'?) (roles: front-desk, biller; levels: "
     "full, view, none)"),
    ("  front-desk: {", "  full: {", "bad role name 'full': full, view, none and all are "
                                    "reserved"),
    ("  front-desk: {", "  all: {", "bad role name 'all': full, view, none and all are "
                                   "reserved"),
    ("  front-desk: {", "  Front_Desk: {",
     "bad role name 'Front_Desk': use a-z, 0-9, _ and - (at most 64)"),
    ("  biller: {clients: view,", "  biller: {role: front-desk, clients: view,",
     "a role is levels, not another role"),
    ("  frontdesk: front-desk", "  frontdesk: {notes: view}",
     "notes is an area; areas go under all or a provider key (write frontdesk: {all: "
     "{notes: ...}})"),
])
def test_unknown_and_reserved_role_names_are_pointed_at(old: str, new: str,
                                                        problem: str) -> None:
    text = EXAMPLE.read_text()
    assert old in text
    problems = _load(text.replace(old, new, 1))
    assert any(p.startswith("practice.yaml:") and p.endswith(problem) for p in problems), \
        problems
    line = int(next(p for p in problems if p.endswith(problem)).split(":")[1])
    assert new.strip().split(":")[0] in text.replace(old, new, 1).splitlines()[line - 1]


def test_a_role_nobody_holds_is_a_validate_warning(run: Run, tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("roles:\n", "roles:\n  auditor: view\n", 1)
    _write(tmp_path, text)
    r = run("validate", "-f", "practice.yaml")
    assert r.code == 0
    line = text.splitlines().index("  auditor: view") + 1
    assert r.err == f"Warning: practice.yaml:{line}:3: role 'auditor' is held by nobody\n"


def test_a_role_edit_changes_every_holder_and_the_plan_names_the_role(
        run: Run, tmp_path: Path) -> None:
    _write(tmp_path, EXAMPLE.read_text())
    assert run("sandbox", *FILES).code == 0
    assert run("apply", *FILES, "--auto-approve").code == 0
    _write(tmp_path, EXAMPLE.read_text().replace(
        "front-desk: {clients: view, scheduling: full}",
        "front-desk: {clients: view, scheduling: full, reports: view}"))
    r = run("plan", *FILES)
    assert r.code == 0
    # the same change in four accounts is shown once (`--expand`: in each)
    assert r.out.count("~ privileges frontdesk (front-desk)") == 1
    assert (f"in 4 accounts: {SMITH} (smith), {JONES} (jones), {GARCIA} (garcia), {CHEN} "
            "(chen)\n  ~ privileges frontdesk (front-desk)\n      reports: none -> view\n"
            ) in r.out
    assert r.out.endswith("Plan: 0 to add, 4 to change, 0 to remove.\n")
    r = run("plan", *FILES, "--expand")
    for acct in (SMITH, JONES, GARCIA, CHEN):
        section = r.out[r.out.index(f"account {acct} "):]
        assert section.index("  ~ privileges frontdesk (front-desk)\n      reports: none -> "
                             "view\n") < section.index("\n\n")
    assert r.out.count("~ privileges frontdesk (front-desk)") == 4
    data = json.loads(run("plan", *FILES, "--json").out)
    assert [(c["account"], c["role"]) for c in data["changes"]] == [
        (a, "front-desk") for a in (SMITH, JONES, GARCIA, CHEN)]
    assert list(data["changes"][0]) == ["action", "type", "account", "username", "before",
                                        "after", "role"]
    md = run("plan", *FILES, "--format", "markdown").out
    assert "| 100482 | frontdesk (front-desk) | reports | none | view |  |" in md
    assert run("apply", *FILES, "--auto-approve").code == 0
    assert run("plan", *FILES, "--detailed-exitcode").code == 0


# -- policies ------------------------------------------------------------------------------


def test_a_denied_plan_fails_names_each_violation_and_changes_nothing(
        tmp_path: Path, store: str) -> None:
    system, desired = sandboxed(tmp_path, store=store)
    converge(system, desired)
    before = system.read_state()
    bad = practice(tmp_path, ("biller: {clients: view,", "biller: {notes: view, clients: view,"))
    with pytest.raises(PolicyError) as caught:
        plan_for(system, bad)
    lines = str(caught.value).splitlines()
    assert lines[:4] == [f'policy "billers never read notes": billing holds view on notes in '
                         f"account {a} ({k}) (role biller)"
                         for a, k in ((SMITH, "smith"), (JONES, "jones"), (GARCIA, "garcia"),
                                      (CHEN, "chen"))]
    assert lines[4] == "the plan breaks policy 4 times (severity deny); nothing was changed"
    after = system.read_state()
    assert (after.revision, after.versions) == (before.revision, before.versions)


def test_the_cli_exits_1_on_a_denied_plan_and_apply(run: Run, tmp_path: Path) -> None:
    _write(tmp_path, EXAMPLE.read_text())
    assert run("sandbox", *FILES).code == 0
    assert run("apply", *FILES, "--auto-approve").code == 0
    _write(tmp_path, EXAMPLE.read_text().replace("biller: {clients: view,",
                                                 "biller: {notes: view, clients: view,"))
    for command in (("plan",), ("apply", "--auto-approve")):
        r = run(*command, *FILES)
        assert r.code == 1, r
        assert r.out == ""
        assert r.err.startswith('Error: policy "billers never read notes": billing holds view '
                                f"on notes in account {SMITH} (smith) (role biller)\n")
        assert "Traceback" not in r.err
    assert "Store" not in run("apply", *FILES, "--auto-approve").out


def test_a_hand_made_violation_is_only_a_warning_and_offboarding_goes_on(
        tmp_path: Path, store: str) -> None:
    deny = ("policies:\n  - name: nobody else reads notes\n    deny: {areas: [notes], "
            "except: [riverside-admin, jsmith, rjones, mgarcia, dchen]}\n")
    system, desired = sandboxed(tmp_path, practice(tmp_path, (NO_NOTES, deny)), store=store)
    converge(system, desired)
    with system.session("riverside-admin", MASTER_PW) as s:
        s.allow_access(JONES, "temp-helper", "pw-test-2026", {"notes": "view"})
    plan = plan_for(system, desired)
    assert plan.changes == []
    assert (f'policy "nobody else reads notes": temp-helper holds view on notes in account '
            f"{JONES} (jones), outside what {desired.source} manages; this plan leaves it as "
            "it is") in plan.warnings
    # the same username, declared by the file with those levels: the file asks for it
    declared = practice(tmp_path, (NO_NOTES, deny), extra="")
    text = Path(declared.source).read_text().replace(
        "usernames:\n", "usernames:\n  temp-helper:\n    password: \"${BILLING_PASSWORD}\"\n"
                        "    home: jones\n", 1).replace(
        "privileges:\n  frontdesk",
        "privileges:\n  temp-helper:\n    all: {notes: view}\n  frontdesk", 1)
    Path(declared.source).write_text(text)
    with pytest.raises(PolicyError, match="temp-helper holds view on notes in account 100517"):
        plan_for(system, load_text(text.encode(), declared.source))


def test_require_counts_holders_per_account_and_area(tmp_path: Path) -> None:
    two = ("policies:\n  - name: two administrators\n    require: {areas: [account_access], "
           "at_least: full, count: 2}\n  - name: three administrators\n    require: {areas: "
           "[account_access], at_least: full, count: 3}\n    severity: warn\n")
    system, desired = sandboxed(tmp_path, practice(tmp_path, (NO_NOTES, two)))
    plan = converge(system, desired)  # the provider login and the master: two
    assert not [w for w in plan.warnings if "two administrators" in w]
    plan = plan_for(system, desired)
    three = [w for w in plan.warnings if "three administrators" in w]
    assert three[0] == ('policy "three administrators": 2 usernames hold full on account_access '
                        f"in account {SMITH} (smith) (jsmith, riverside-admin), fewer than 3")
    assert len(three) == 4
    # a plan that takes the provider login's account_access away breaks the deny one
    lower = practice(tmp_path, (NO_NOTES, two), extra="")
    text = Path(lower.source).read_text().replace(
        "privileges:\n  frontdesk",
        "privileges:\n  jsmith:\n    all: {clients: full}\n  frontdesk", 1)
    with pytest.raises(PolicyError) as caught:
        plan_for(system, load_text(text.encode(), lower.source))
    assert str(caught.value).splitlines()[0] == (
        'policy "two administrators": 1 username holds full on account_access in account '
        f"{SMITH} (smith) (riverside-admin), fewer than 2")


def test_risky_grants_is_one_rule_in_text_json_and_markdown(run: Run, tmp_path: Path) -> None:
    risky = EXAMPLE.read_text().replace(
        "    garcia: {role: biller, claims: view}",
        "    garcia: {role: biller, claims: view, notes: full}")
    # the example denies billers notes: here it is the built-in that speaks, so that one goes
    risky = risky.replace(NO_NOTES, "")
    _write(tmp_path, risky)
    assert run("sandbox", *FILES).code == 0
    warning = (f'policy "risky-grants": billing holds full on notes in account {GARCIA} '
               "(garcia) (role biller)")
    text = run("plan", *FILES).out
    assert f"Warning: {warning}\n" in text
    data = json.loads(run("plan", *FILES, "--json").out)
    assert warning in data["warnings"]
    md = run("plan", *FILES, "--format", "markdown").out
    assert f"- :warning: {warning}" in md.replace("\\", "")
    assert "| 100533 | billing (biller) | notes | — | full | :warning: full notes outside " \
           "its home |" in md
    # named under policies it can deny, or be off
    _write(tmp_path, risky + "policies:\n  - name: risky-grants\n    severity: deny\n")
    r = run("plan", *FILES)
    assert r.code == 1 and r.err.startswith(f"Error: {warning}\n")
    _write(tmp_path, risky + "policies:\n  - name: risky-grants\n    severity: off\n")
    assert "risky-grants" not in run("plan", *FILES).out


def test_fail_on_warnings_gives_its_exit_codes(run: Run, tmp_path: Path) -> None:
    _write(tmp_path, EXAMPLE.read_text())
    assert run("sandbox", *FILES).code == 0
    assert run("plan", *FILES, "--detailed-exitcode", "--fail-on-warnings").code == 2
    assert run("apply", *FILES, "--auto-approve").code == 0
    assert run("plan", *FILES, "--detailed-exitcode", "--fail-on-warnings").code == 0
    warn = EXAMPLE.read_text().replace(NO_NOTES, NO_NOTES.replace(
        "areas: [notes]}", "areas: [billing]}\n    severity: warn"))
    _write(tmp_path, warn)
    assert run("plan", *FILES, "--detailed-exitcode").code == 0
    r = run("plan", *FILES, "--detailed-exitcode", "--fail-on-warnings", "--out", "x.plan")
    assert r.code == 1
    assert "Warning: policy" in r.out  # the plan is still shown
    assert r.err.endswith("Error: the plan has 4 warnings and --fail-on-warnings is set; the "
                          "plan was not saved\n")
    assert not (tmp_path / "x.plan").exists()


@pytest.mark.parametrize(("old", "new", "problem"), [
    ("deny: {role: biller, areas: [notes]}", "deny: {role: billr, areas: [notes]}",
     "unknown role 'billr' (did you mean 'biller'?)"),
    ("deny: {role: biller, areas: [notes]}", "deny: {accounts: [garica]}",
     "unknown provider 'garica' (did you mean 'garcia'?)"),
    ("    deny: {role: biller, areas: [notes]}",
     "    deny: {role: biller}\n    idle: {days: 9}",
     "a policy has exactly one of deny, require or idle (this one has deny and idle)"),
    ("  - name: billers never read notes\n    deny: {role: biller, areas: [notes]}",
     "  - name: risky-grants\n    deny: {areas: [notes]}",
     "risky-grants is built in: give it only a severity (deny, warn or off)"),
])
def test_bad_policies_are_pointed_at(old: str, new: str, problem: str) -> None:
    text = EXAMPLE.read_text()
    assert old in text
    problems = _load(text.replace(old, new))
    assert any(problem in p and p.startswith("practice.yaml:") for p in problems), problems


def test_denied_through_the_service_changes_nothing(run: Run, tmp_path: Path,
                                                    pg_store: str) -> None:
    _write(tmp_path, EXAMPLE.read_text())
    assert run("sandbox", *FILES, "--store", pg_store).code == 0
    assert run("apply", *FILES, "--store", pg_store, "--auto-approve").code == 0
    bad = EXAMPLE.read_text().replace("biller: {clients: view,",
                                      "biller: {notes: view, clients: view,")
    with serving(pg_store, tmp_path) as (url, _proc):
        _write(tmp_path, bad)
        for command in (("plan",), ("apply", "--auto-approve")):
            r = run(*command, *FILES, "--store", url)
            assert r.code == 1, r
            assert r.err.startswith('Error: policy "billers never read notes": billing holds '
                                    f"view on notes in account {SMITH} (smith) (role biller)\n")
        token = httpx.post(f"{url}/v1/login", json={
            "username": "riverside-admin", "password": MASTER_PW}).json()["token"]
        r = httpx.post(f"{url}/v1/plan", json={"practice": bad},
                       headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 422 and r.json()["error"] == "policy_denied", r.text
        _write(tmp_path, EXAMPLE.read_text())
        assert run("plan", *FILES, "--store", url, "--detailed-exitcode").code == 0


# -- the property --------------------------------------------------------------------------

LEVEL = st.sampled_from(["full", "view", "none"])
NAMES = ["frontdesk", "billing"]


@settings(deadline=None, max_examples=60)
@given(grants=st.dictionaries(st.sampled_from(NAMES),
                              st.fixed_dictionaries({"notes": LEVEL, "billing": LEVEL,
                                                     "account_access": LEVEL})),
       hand=st.dictionaries(st.sampled_from(["notes", "billing"]), LEVEL),
       area=st.sampled_from(["notes", "billing", "account_access"]),
       at_least=st.sampled_from(["view", "full"]))
def test_a_plan_that_passes_every_deny_policy_leaves_no_declared_violation(
        grants: dict[str, dict[str, str]], hand: dict[str, str], area: str,
        at_least: str) -> None:
    """For random privileges and a hand-made change in the store, a plan that the deny
    policy doesn't refuse leaves a state where no declared username violates it."""
    from groupsync.accounts.model import Account, State, User
    from groupsync.plan import make_plan
    from groupsync.vocabulary import AREAS

    text = EXAMPLE.read_text().replace(NO_NOTES, "")
    for name in NAMES:
        levels = grants.get(name, {})
        entry = "{all: {" + ", ".join(f"{a}: {v}" for a, v in levels.items()) + "}}" \
            if levels else "none"
        block = {"frontdesk": "  frontdesk: front-desk\n",
                 "billing": "  billing:\n    all: biller\n    garcia: {role: biller, claims: "
                            "view}\n"}[name]
        text = text.replace(block, f"  {name}: {entry}\n")
    text += (f"policies:\n  - name: p\n    deny: {{areas: [{area}], at_least: {at_least}, "
             "except: [riverside-admin, jsmith, rjones, mgarcia, dchen]}\n")
    desired = load_text(text.encode(), "practice.yaml")
    # the store: every declared username already there, with the hand-made levels
    state = State(lineage="00000000-0000-4000-8000-000000000000", revision=1)
    for p in desired.providers.values():
        state.accounts[p.account_id] = Account(p.account_id, p.name, p.login)
        state.users[p.login] = User(p.login, p.account_id, "x")
        state.set_access(p.login, p.account_id, {a: "full" for a in AREAS})
    for u in (desired.master, *desired.staff.values()):
        state.users[u.username] = User(u.username, u.home, "x")
        for acct in u.accounts:
            levels = {a: "full" if u.is_master else "none" for a in AREAS}
            if not u.is_master:
                levels.update(hand)
            state.set_access(u.username, acct, levels)
    try:
        plan = make_plan(desired, state)
    except PolicyError:
        return
    cells, names, homes = after_access(state, plan.changes, desired.by_account)
    managed = {(k, a) for k, a, _ in desired.managed_cells()}
    practice_view = Practice("practice.yaml", {p.account_id: p.key for p in
                                               desired.providers.values()},
                             "riverside-admin", lambda k, a: (k, a) in managed,
                             lambda k, a: None, lambda: managed)
    found = check(desired.policies, practice_view, state.access, cells, names, homes)
    declared = {"frontdesk", "billing"}
    assert not [v for v in found if v.policy == "p" and any(
        f"{n} holds" in v.message for n in declared)]


def test_secrets_stay_out_of_policy_messages(tmp_path: Path) -> None:
    system, desired = sandboxed(tmp_path)
    converge(system, desired)
    bad = practice(tmp_path, ("biller: {clients: view,", "biller: {notes: view, clients: view,"))
    with pytest.raises(PolicyError) as caught:
        plan_for(system, bad)
    for value in secrets()._file.values():
        assert value not in str(caught.value)


def test_the_example_policy_set_is_valid_and_the_example_practice_meets_it(
        tmp_path: Path) -> None:
    example = EXAMPLE.read_text()
    policies = (EXAMPLE.parent / "policies.yaml").read_text()
    start = example.index("policies:\n")
    text = (example[:start] + policies[policies.index("policies:\n"):]
            + example[example.index("\n\n", start):])
    desired = load_text(text.encode(), "practice.yaml")
    assert desired.policies[0].name == "risky-grants"
    assert next(p for p in desired.policies if p.name == "risky-grants").severity == "deny"
    system, desired = sandboxed(tmp_path, desired)
    plan = converge(system, desired)
    assert not [w for w in plan.warnings if w.startswith("policy")]
    # and it bites: the front desk given notes is refused
    with pytest.raises(PolicyError, match="front desk never reads clinical notes"):
        plan_for(system, load_text(text.replace(
            "front-desk: {clients: view, scheduling: full}",
            "front-desk: {clients: view, scheduling: full, notes: view}").encode(),
            "practice.yaml"))


def test_export_writes_a_role_for_levels_several_usernames_share(tmp_path: Path) -> None:
    from groupsync.export import export

    intake = ("usernames:\n", "usernames:\n  intake:\n    password: \"${FRONTDESK_PASSWORD}\"\n"
                              "    home: jones\n    accounts: all\n")
    held = ("  frontdesk: front-desk\n", "  frontdesk: front-desk\n  intake: front-desk\n")
    system, desired = sandboxed(tmp_path, practice(tmp_path, intake, held))
    converge(system, desired)
    out = export(system.read_state(), "riverside-admin")
    lines = out.text.splitlines()
    assert "roles:" in lines
    assert "  frontdesk-intake: {clients: view, scheduling: full}" in lines
    assert '  "frontdesk": {all: frontdesk-intake}' in lines
    assert '  "intake": {all: frontdesk-intake}' in lines
    # billing's levels are its own: written out, not a role
    assert any(line.startswith('  "billing": {all: {') for line in lines)
    assert any("rename them after the job" in n for n in out.notes)
    # and the exported file plans to nothing
    again = load_text(out.text.encode(), "exported.yaml")
    assert again.privileges["intake"].role(JONES) == "frontdesk-intake"
    names = {"JSMITH_PASSWORD": "SMITH_PASSWORD", "RJONES_PASSWORD": "JONES_PASSWORD",
             "MGARCIA_PASSWORD": "GARCIA_PASSWORD", "DCHEN_PASSWORD": "CHEN_PASSWORD",
             "INTAKE_PASSWORD": "FRONTDESK_PASSWORD"}
    from groupsync.config import Secrets
    from groupsync.engine import prepare

    env = {k: demo_env()[names.get(k, k)] for k in out.variables}
    assert prepare(system, again, Secrets(env, environ={})).plan.changes == []


def test_a_policy_broken_many_times_shows_a_screenful_and_the_count() -> None:
    from groupsync.planner.policy import MAX_POLICY_LINES, _capped
    from groupsync.policies import Violation

    found = [Violation("p", "warn", f"line {i}", False) for i in range(MAX_POLICY_LINES + 5)]
    found.append(Violation("q", "warn", "other", False))
    out = _capped(found)
    assert out[:MAX_POLICY_LINES] == [f"line {i}" for i in range(MAX_POLICY_LINES)]
    assert out[MAX_POLICY_LINES:] == ['policy "p": … and 5 more', "other"]


def test_idle_reads_last_log_ins_on_a_fixed_clock(tmp_path: Path, store: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    idle = ("policies:\n  - name: idle 60 days\n    idle: {days: 60, usernames: [frontdesk, "
            "billing]}\n    severity: warn\n")
    monkeypatch.setenv("GROUPSYNC_NOW", "2026-01-01T09:00:00")
    system, desired = sandboxed(tmp_path, practice(tmp_path, (NO_NOTES, idle)), store=store)
    converge(system, desired)
    monkeypatch.setenv("GROUPSYNC_NOW", "2026-03-01T10:30:00")
    system.login("frontdesk", demo_env()["FRONTDESK_PASSWORD"])
    state = system.read_state()
    assert state.user("frontdesk").last_login == "2026-03-01T10:30:00Z"  # type: ignore[union-attr]
    assert state.user("billing").last_login == ""  # type: ignore[union-attr]
    monkeypatch.setenv("GROUPSYNC_NOW", "2026-04-15T08:00:00")
    warnings = [w for w in plan_for(system, desired).warnings if "idle 60 days" in w]
    # billing never logged in: counted from its creation; frontdesk logged in 45 days ago
    assert warnings == [f'policy "idle 60 days": billing has not logged in for 104 days (more '
                        f"than 60); it can open account {SMITH} (smith)"]
    # a plan's own credential checks are not log-ins: plan stays read-only
    assert system.read_state().user("riverside-admin").last_login \
        == state.user("riverside-admin").last_login  # type: ignore[union-attr]
    denied = practice(tmp_path, (NO_NOTES, idle.replace("    severity: warn\n", "")))
    with pytest.raises(PolicyError, match="billing has not logged in for 104 days"):
        plan_for(system, denied)


@pytest.mark.parametrize(("old", "new", "problems"), [
    ("deny: {role: biller, areas: [notes]}", "deny: {role: biller, areas: []}",
     ["policies.0.deny.areas: List should have at least 1 item after validation, not 0"]),
    ("deny: {role: biller, areas: [notes]}", "deny: {zzz: 1}",
     ["unknown key 'zzz' in policies.0.deny (allowed: usernames, role, areas, at_least, "
      "accounts, outside_home, except)"]),
    ("deny: {role: biller, areas: [notes]}", "deny: {}",
     ["deny names no cells: give it usernames, a role, areas, accounts or outside_home "
      "(deny: {} would deny every grant, the master's too)"]),
    ("    deny: {role: biller, areas: [notes]}", "    deny:",
     ["deny is empty: give it a mapping (see the policies in the contract)"]),
    ("  front-desk: {clients: view, scheduling: full}", "  front-desk: [clients, scheduling]",
     ["a role is a level (full, view, none) or a mapping of area: level"]),
    ("    garcia: {role: biller, claims: view}", "    garcia: {role: full, claims: view}",
     ["full is a level, not a role: write the level alone, or {role: NAME, AREA: full}"]),
])
def test_policy_and_role_mistakes_get_one_line_each(old: str, new: str,
                                                    problems: list[str]) -> None:
    text = EXAMPLE.read_text()
    assert old in text
    found = _load(text.replace(old, new))
    assert [p.split(": ", 1)[1] for p in found] == problems, found


def test_a_provider_key_named_role_is_reserved() -> None:
    text = EXAMPLE.read_text().replace("  garcia:\n", "  role:\n", 1)
    assert any(p.endswith("bad provider key 'role': 'role' is reserved") for p in _load(text))


def test_a_policy_naming_a_username_the_file_lacks_is_a_warning(run: Run,
                                                               tmp_path: Path) -> None:
    _write(tmp_path, EXAMPLE.read_text().replace(
        "deny: {role: biller, areas: [notes]}",
        "deny: {usernames: [billng], areas: [notes]}"))
    r = run("validate", "-f", "practice.yaml")
    assert r.code == 0
    assert r.err.endswith("policy 'billers never read notes' names 'billng', which this "
                          "file doesn't declare (did you mean 'billing'?)\n")


def test_an_apply_keeps_the_last_log_in_of_who_it_logged_in_as(tmp_path: Path) -> None:
    system, desired = sandboxed(tmp_path)
    assert system.read_state().user("riverside-admin") is None
    converge(system, desired)  # made by jsmith's log-in, then acting as itself
    state = system.read_state()
    assert state.user("jsmith").last_login  # type: ignore[union-attr]
    before = state.user("billing").last_login  # type: ignore[union-attr]
    plan_for(system, desired)  # a plan's credential check is not a log-in
    assert system.read_state().user("billing").last_login == before  # type: ignore[union-attr]
