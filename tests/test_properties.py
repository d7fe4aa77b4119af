"""Properties over generated practices and generated starting states (hypothesis).

(1) after apply, a new plan is empty; (2) with every prune switch off, no plan removes
anything; (3) the same inputs give the same plan, in the same order; (4) no apply leaves an
account without a username holding full account_access; (5) no username ends up with a
privilege that neither the file nor what it already had gave it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from groupsync.accounts import AccountSystem, create_system, state_digest
from groupsync.accounts.model import ukey
from groupsync.applier import apply_plan
from groupsync.config import Desired, Secrets, load_text
from groupsync.engine import prepare
from groupsync.errors import GroupsyncError
from groupsync.plan import make_plan
from groupsync.vocabulary import AREAS, LEVELS

from .helpers import budget

IDS = ["100001", "100002", "100003"]
KEYS = ["alpha", "beta", "gamma"]
DIAG = ["F41.1", "F32.1", "F43.10", "Z63.0"]
BILL = ["90791", "90834", "90837"]

levels = st.sampled_from(LEVELS)
area_map = st.dictionaries(st.sampled_from(AREAS), levels, max_size=4)


@st.composite
def practices(draw: Any) -> dict[str, Any]:
    n = draw(st.integers(2, 3))
    keys = KEYS[:n]
    staff = {}
    for i in range(draw(st.integers(0, 2))):
        home = draw(st.sampled_from(keys))
        accounts = draw(st.lists(st.sampled_from(keys), max_size=n, unique=True))
        overrides = draw(st.dictionaries(st.sampled_from(sorted({home, *accounts})), area_map,
                                         max_size=2))
        staff[f"staff{i}"] = {"home": home, "accounts": accounts,
                              "all": draw(area_map), "per": overrides}
    master_all = draw(area_map)
    master_all.pop("account_access", None)
    return {
        "n": n, "keys": keys, "home": draw(st.sampled_from(keys)), "staff": staff,
        "master_all": master_all,
        "bills": [draw(st.booleans()) for _ in keys],
        "diag": draw(st.lists(st.sampled_from(DIAG), unique=True, max_size=3)),
        "fees": draw(st.dictionaries(st.sampled_from(BILL), st.integers(0, 300), max_size=3)),
        "copy": draw(st.booleans()),
        "prune": [draw(st.booleans()) for _ in range(3)],
    }


def _flow(d: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in d.items()) + "}"


def render_yaml(p: dict[str, Any]) -> str:
    out = ["version: 1", "practice: {name: Generated, tin: '12-3456789'}", "providers:"]
    for i, key in enumerate(p["keys"]):
        out.append(f"  {key}: {{name: Provider {key}, account_id: '{IDS[i]}', "
                   f"bills_electronically: {str(p['bills'][i]).lower()}, "
                   f"login: {{username: {key}-login, password: '${{PW}}'}}}}")
    out.append(f"master: {{username: the-master, password: '${{PW}}', home: {p['home']}}}")
    if p["staff"]:
        out.append("usernames:")
        for name, s in p["staff"].items():
            out.append(f"  {name}: {{password: '${{PW}}', home: {s['home']}, "
                       f"accounts: [{', '.join(s['accounts'])}]}}")
    out.append("privileges:")
    out.append(f"  the-master: {{all: {_flow(p['master_all'])}}}")
    for name, s in p["staff"].items():
        entries = {"all": _flow(s["all"]), **{k: _flow(v) for k, v in s["per"].items()}}
        out.append(f"  {name}: {_flow(entries)}")
    if p["copy"]:
        out.append("codes:")
        out.append("  diagnosis_codes: [" + ", ".join(f"{{code: {c}}}" for c in p["diag"]) + "]")
        out.append("  billing_codes: [" + ", ".join(
            f"{{code: '{c}', fee: '{f}'}}" for c, f in p["fees"].items()) + "]")
    prune = p["prune"]
    out.append(f"prune: {{usernames: {str(prune[0]).lower()}, joins: {str(prune[1]).lower()}, "
               f"codes: {str(prune[2]).lower()}}}")
    return "\n".join(out) + "\n"


# Drift made behind the file's back before the apply: each step is done as a provider login.
drift_step = st.one_of(
    st.tuples(st.just("extra"), st.integers(0, 2), area_map),
    st.tuples(st.just("join_extra"), st.integers(0, 2), st.integers(0, 2)),
    st.tuples(st.just("staff_early"), st.integers(0, 1), area_map),
    st.tuples(st.just("code"), st.integers(0, 2), st.sampled_from([*DIAG, "F99"])),
    st.tuples(st.just("login_privs"), st.integers(0, 2), area_map),
)


def _drift(system: AccountSystem, p: dict[str, Any], steps: list[Any]) -> list[str]:
    """Apply the drift steps the rules allow; returns the kinds that were applied, each of
    which is checked to have changed the store (a drift that changes nothing would make the
    properties below vacuous)."""
    n = p["n"]
    applied: list[str] = []
    for step in steps:
        kind, a = step[0], step[1] % n
        key, acct = p["keys"][a], IDS[a]
        before = state_digest(system.read_state())
        try:
            with system.session(f"{key}-login", "pw-test-2026") as s:
                if kind == "extra":
                    s.allow_access(acct, f"extra-{key}", "pw-test-2026", step[2])
                elif kind == "join_extra":
                    b = step[2] % n
                    if b != a:
                        s.join(f"extra-{key}", IDS[b], f"{p['keys'][b]}-login", "pw-test-2026")
                elif kind == "staff_early":
                    name = f"staff{step[1]}"
                    staff = p["staff"].get(name)
                    if staff and staff["home"] == key:
                        s.allow_access(acct, name, "pw-test-2026", step[2])
                elif kind == "code":
                    s.put_codes(acct, "diagnosis_codes", [{"code": step[2]}])
                elif kind == "login_privs":
                    s.set_privileges(acct, f"{key}-login", {**step[2], "account_access": "full"})
        except GroupsyncError:
            continue  # a drift step the rules refuse is simply not part of the starting state
        if state_digest(system.read_state()) != before:
            applied.append(kind)
    return applied


def _setup(p: dict[str, Any], steps: list[Any], folder: Path) -> tuple[AccountSystem, Desired]:
    desired = load_text(render_yaml(p).encode(), "generated.yaml")
    system = create_system(str(folder / "store.db"))
    for i, key in enumerate(p["keys"]):
        system.signup(f"Provider {key}", f"{key}-login", "pw-test-2026", IDS[i])
    applied = _drift(system, p, steps)
    event(f"drift steps applied: {len(applied)} of {len(steps)}")
    return system, desired


# One practice, fixed, and every kind of drift step: each must change the store, so that the
# properties above are tested on drifted stores and not only on pristine ones.
FIXED = {"n": 3, "keys": KEYS, "home": "alpha", "master_all": {"clients": "view"},
         "staff": {"staff0": {"home": "alpha", "accounts": ["beta"], "all": {"notes": "view"},
                              "per": {}}},
         "bills": [False, True, False], "diag": ["F41.1"], "fees": {"90834": 120},
         "copy": True, "prune": [False, False, False]}
EVERY_DRIFT = [("extra", 0, {"clients": "full"}), ("join_extra", 0, 1),
               ("staff_early", 0, {"billing": "view"}), ("code", 2, "F99"),
               ("login_privs", 1, {"reports": "view"})]


def test_every_kind_of_drift_step_changes_the_store(tmp_path: Path) -> None:
    desired = load_text(render_yaml(FIXED).encode(), "generated.yaml")
    assert desired.staff  # the fixed practice has the staff username staff_early drifts
    system = create_system(str(tmp_path / "store.db"))
    for i, key in enumerate(KEYS):
        system.signup(f"Provider {key}", f"{key}-login", "pw-test-2026", IDS[i])
    assert _drift(system, FIXED, EVERY_DRIFT) == [step[0] for step in EVERY_DRIFT]
    assert make_plan(desired, system.read_state()).changes  # and the plan sees drift to undo


SECRETS = Secrets({"PW": "pw-test-2026"}, environ={})


@settings(max_examples=budget(30),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(practices(), st.lists(drift_step, max_size=6))
def test_plan_and_apply_properties(p: dict[str, Any], steps: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        system, desired = _setup(p, steps, Path(folder))
        before = system.read_state()
        first = make_plan(desired, before)
        event(f"removals: {first.removals > 0}, other usernames: {len(before.users) - p['n']}")
        # (3) deterministic, including order
        assert first.to_json() == make_plan(desired, system.read_state()).to_json()
        # (2) nothing removed unless a prune switch is on
        if not any(p["prune"]):
            assert first.removals == 0
        prepared = prepare(system, desired, SECRETS)
        apply_plan(system, prepared.plan, prepared.passwords, desired)
        after = system.read_state()
        # (1) converged
        assert make_plan(desired, after).changes == []
        # (4) every account keeps someone with full account_access
        for acct in after.accounts:
            assert any(after.access[(u, acct)]["account_access"] == "full"
                       for u in after.by_account[acct]), acct
        # (5) managed usernames have exactly the file's privileges; everyone else exactly
        # what they had before (never more)
        declared = set(desired.by_account)
        for (u, acct), privs in after.access.items():
            spec = desired.privileges.get(u)
            if spec is not None and acct in declared:
                assert privs == spec.resolve(acct), (u, acct)
            else:
                assert privs == before.access[(u, acct)], (u, acct)
        # the master can open every declared account
        master = ukey(desired.master.username)
        assert all((master, acct) in after.access for acct in declared)


# Another practice in the same store, tangled with the first: its own accounts and usernames,
# one of its usernames joined to an account of the first, and a name of the first's taken.
neighbour_step = st.one_of(
    st.tuples(st.just("join_in"), st.integers(0, 2), area_map),
    st.tuples(st.just("take_name"), st.sampled_from(["staff0", "staff1", "the-master"])),
    st.tuples(st.just("codes"), st.sampled_from(DIAG)),
)


@settings(max_examples=budget(20),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(practices(), st.lists(drift_step, max_size=4), st.lists(neighbour_step, max_size=4))
def test_a_plan_from_the_practices_rows_equals_one_from_the_whole_store(
    p: dict[str, Any], steps: list[Any], neighbour: list[Any]
) -> None:
    from groupsync.applier import scope_for

    with tempfile.TemporaryDirectory() as folder:
        system, desired = _setup(p, steps, Path(folder))
        system.signup("Neighbour One", "n1-login", "pw-test-2026", "200001")
        system.signup("Neighbour Two", "n2-login", "pw-test-2026", "200002")
        for step in neighbour:
            try:
                if step[0] == "join_in":  # a neighbour's username can open our account
                    a = step[1] % p["n"]
                    with system.session("n1-login", "pw-test-2026") as s:
                        if s.state.user("n1-desk") is None:
                            s.allow_access("200001", "n1-desk", "pw-test-2026", {})
                        s.join("n1-desk", IDS[a], f"{p['keys'][a]}-login", "pw-test-2026")
                elif step[0] == "take_name":
                    with system.session("n2-login", "pw-test-2026") as s:
                        s.allow_access("200002", step[1], "pw-test-2026", {})
                else:
                    with system.session("n2-login", "pw-test-2026") as s:
                        s.put_codes("200002", "diagnosis_codes", [{"code": step[1]}])
            except GroupsyncError:
                pass
        whole = system.read_state()
        scoped = system.read_state(scope_for(desired))
        assert len(scoped.accounts) <= len(whole.accounts)
        try:
            expected = make_plan(desired, whole).to_json()
        except GroupsyncError as exc:
            with pytest.raises(type(exc)) as caught:
                make_plan(desired, scoped)
            assert str(caught.value) == str(exc)
            return
        assert make_plan(desired, scoped).to_json() == expected
