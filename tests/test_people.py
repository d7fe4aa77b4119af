"""People, who acts, and access that ends (docs/contracts.md, "People and who acts", "Access
that ends", "Reviews"): a person behind each username, an apply made as the admin who runs
it, a sealed master opened only with a reason, and grants that end on their day."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupsync.applier import apply_plan
from groupsync.config import load_file, load_text
from groupsync.engine import prepare
from groupsync.errors import ConfigError
from groupsync.plan import make_plan

from .conftest import EXAMPLE, Result, demo_env
from .helpers import budget, converge, practice, sandboxed, secrets

Run = Callable[..., Result]
FILES = ("-f", "practice.yaml", "--env-file", "demo.env")
SMITH, JONES, GARCIA, CHEN = "100482", "100517", "100533", "100561"
FRONTDESK = "    person: Sam Okafor\n"
UNTIL_PLACE = ("until stands on one account's entry (jones: {scheduling: full, until: "
               "YYYY-MM-DD}) or on the username under usernames, not on a whole entry")


def _write(tmp_path: Path, text: str) -> None:
    (tmp_path / "practice.yaml").write_text(text)
    (tmp_path / "demo.env").write_text("".join(f"{k}={v}\n" for k, v in demo_env().items()))


def _edited(*edits: tuple[str, str]) -> str:
    text = EXAMPLE.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    return text


def _problems(text: str) -> list[str]:
    try:
        load_text(text.encode(), "practice.yaml")
    except ConfigError as exc:
        return [str(p) for p in exc.problems]
    return []


def _at(monkeypatch: pytest.MonkeyPatch, day: str) -> None:
    monkeypatch.setenv("GROUPSYNC_NOW", f"{day}T12:00:00")


# -- person --------------------------------------------------------------------------------

def test_a_staff_username_without_a_person_is_warned_about_by_plan_and_validate(
        tmp_path: Path, run: Run) -> None:
    _write(tmp_path, _edited((FRONTDESK, "")))
    r = run("validate", "-f", "practice.yaml")
    assert r.code == 0
    assert ("Warning: practice.yaml:57:3: staff username frontdesk names no person; HIPAA's "
            "unique user identification needs one person behind each username (add person: "
            "NAME)") in r.err
    assert "billing names no person" not in r.err  # the example names Priya for billing
    assert run("sandbox", *FILES).code == 0
    plan = run("plan", *FILES, "--json")
    assert plan.code == 0
    assert [w for w in json.loads(plan.out)["warnings"] if "names no person" in w] == [
        "practice.yaml:57:3: staff username frontdesk names no person; HIPAA's unique user "
        "identification needs one person behind each username (add person: NAME)"]


def test_person_is_free_text_of_one_line() -> None:
    assert _problems(_edited((FRONTDESK, "    person: \"Sam\\nOkafor\"\n"))) == [
        "practice.yaml:58:13: usernames.frontdesk.person: must not contain control characters "
        "(newlines, tabs, escapes)"]
    assert _problems(_edited((FRONTDESK, "    person: \"  \"\n"))) == [
        "practice.yaml:58:13: usernames.frontdesk.person: is blank; it needs a name a reader "
        "can see"]


# -- until: the file ---------------------------------------------------------------------

@pytest.mark.parametrize(("edit", "problem"), [
    (("    home: smith\n    accounts: all\n  billing:",
      "    home: smith\n    accounts: all\n    until: 2026-02-30\n  billing:"),
     "practice.yaml:62:12: usernames.frontdesk.until: '2026-02-30' is not a day of the "
     "calendar"),
    (("    home: smith\n    accounts: all\n  billing:",
      "    home: smith\n    accounts: all\n    until: 1767225600\n  billing:"),
     "practice.yaml:62:12: usernames.frontdesk.until: '1767225600' is not a day (write "
     "YYYY-MM-DD)"),
    (("    home: smith\n    accounts: all\n  billing:",
      "    home: smith\n    accounts: [{provider: smith, until: 2026-12-24}]\n  billing:"),
     "practice.yaml:61:41: smith is frontdesk's home, which it can't leave; put until on the "
     "username to end it"),
    (("  frontdesk: front-desk\n", "  frontdesk: {role: front-desk, until: 2026-12-24}\n"),
     "practice.yaml:80:33: " + UNTIL_PLACE),
    (("  frontdesk: front-desk\n",
      "  frontdesk:\n    all: {role: front-desk, until: 2026-12-24}\n"),
     "practice.yaml:81:29: " + UNTIL_PLACE),
    (("  frontdesk: front-desk\n",
      "  frontdesk:\n    all: front-desk\n    jones: {until: 2026-12-24}\n"),
     "practice.yaml:82:12: until needs levels or a role beside it: the entry that applies "
     "until that day"),
])
def test_until_is_a_day_where_a_grant_can_end(edit: tuple[str, str], problem: str) -> None:
    assert _problems(_edited(edit)) == [problem]


# -- until: the plan -----------------------------------------------------------------------

LOCUM = ("  billing:\n    person: Priya Natarajan\n",
         "  locum:\n    person: Dana Whitfield (locum)\n    password: \"${FRONTDESK_PASSWORD}\"\n"
         "    home: jones\n    accounts: [{provider: garcia, until: 2026-03-06}]\n"
         "    until: 2026-03-10\n"
         "  billing:\n    person: Priya Natarajan\n")
LOCUM_PRIVS = ("  frontdesk: front-desk\n",
               "  frontdesk: front-desk\n  locum:\n    all: {clients: view, notes: full}\n"
               "    jones: {role: front-desk, notes: full, until: 2026-03-08}\n"
               "    garcia: {clients: full, until: 2026-03-20}\n")


def test_a_username_its_join_and_its_entry_end_on_their_days(
        tmp_path: Path, store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _at(monkeypatch, "2026-03-02")
    desired = practice(tmp_path, LOCUM, LOCUM_PRIVS)
    system, _ = sandboxed(tmp_path, desired, store=store)
    first = converge(system, desired)
    # a week ahead: each end is warned about, naming the username, the account and the day
    ending = [w for w in first.warnings if "ends after" in w or "deleted after" in w]
    assert ending == [
        "locum's access to account 100533 (garcia) ends after 2026-03-06 (4 days left)",
        "locum's privileges entry for account 100517 (jones) ends after 2026-03-08; then "
        "its all entry applies (6 days left)",
    ]  # the username's own end is 8 days off: not yet; garcia's entry ends with its join
    _at(monkeypatch, "2026-03-06")  # the join's last day: it holds
    plan = converge(system, desired)
    assert plan.changes == []
    assert "ends after 2026-03-06 (today is its last day)" in "\n".join(plan.warnings)
    assert "username locum is deleted after 2026-03-10 (4 days left)" in plan.warnings
    _at(monkeypatch, "2026-03-07")  # the day after: removed, prune.joins off
    plan = converge(system, desired)
    assert [(c.action, c.type, c.account, c.username, c.expired)  # type: ignore[union-attr]
            for c in plan.changes] == [("remove", "join", GARCIA, "locum", "2026-03-06")]
    _at(monkeypatch, "2026-03-09")  # the jones entry ended on the 8th: all applies
    plan = converge(system, desired)
    [c] = plan.changes
    assert (c.type, c.account, c.expired) == ("privileges", JONES, "2026-03-08")  # type: ignore
    assert (c.before["scheduling"], c.after["scheduling"]) == ("full", "none")  # type: ignore
    _at(monkeypatch, "2026-03-11")  # the username's end: deleted, prune.usernames off
    plan = converge(system, desired)
    assert [(c.action, c.type, c.username, c.expired)  # type: ignore[union-attr]
            for c in plan.changes] == [("remove", "username", "locum", "2026-03-10")]
    assert system.find_user("locum") is None
    assert converge(system, desired).changes == []  # and it stays gone


def test_an_expiry_is_shown_counted_and_guarded_like_any_removal(
        tmp_path: Path, run: Run) -> None:
    _write(tmp_path, practice(tmp_path, LOCUM, LOCUM_PRIVS).text)
    at = {"GROUPSYNC_NOW": "2026-03-02T08:00:00"}
    assert run("sandbox", *FILES, env=at).code == 0
    assert run("apply", *FILES, "--auto-approve", env=at).code == 0
    later = {"GROUPSYNC_NOW": "2026-03-11T00:00:00"}
    r = run("plan", *FILES, "--detailed-exitcode", env=later)
    assert r.code == 2, r.err
    assert "  - username locum (expired 2026-03-10; deleted with its access to: 100517, " \
           "100533)" in r.out
    assert "Plan: 0 to add, 0 to change, 1 to remove." in r.out
    data = json.loads(run("plan", *FILES, "--json", env=later).out)
    [c] = data["changes"]
    assert c["expired"] == "2026-03-10" and list(c)[-1] == "expired"
    md = run("plan", *FILES, "--format", "markdown", env=later).out
    assert "| `-` | username locum (expired 2026-03-10; deleted with its access to:" in md
    refused = run("apply", *FILES, "--auto-approve", "--max-removals", "0", env=later)
    assert refused.code == 1
    assert "the plan removes 1 objects, more than --max-removals 0" in refused.err


@settings(max_examples=budget(15), deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-5, 5)), min_size=3, max_size=3),
       st.integers(-3, 3))
def test_a_plan_never_keeps_a_grant_past_its_day_nor_ends_one_early(
        ends: list[int | None], shift: int) -> None:
    """Random until days (username, join, entry) around a random today: after the apply
    the store holds exactly the grants whose day has not passed."""
    import tempfile

    base = date(2026, 3, 2)
    user_end, join_end, entry_end = (None if e is None else base + timedelta(days=e)
                                     for e in ends)
    account = f"[{{provider: garcia, until: {join_end}}}]" if join_end else "[garcia]"
    text = _edited(
        ("  billing:\n    person: Priya Natarajan\n",
         "  locum:\n    person: Dana Whitfield\n    password: \"${FRONTDESK_PASSWORD}\"\n"
         f"    home: jones\n    accounts: {account}\n"
         + (f"    until: {user_end}\n" if user_end else "")
         + "  billing:\n    person: Priya Natarajan\n"),
        ("  frontdesk: front-desk\n",
         "  frontdesk: front-desk\n  locum:\n    all: {clients: view}\n"
         + (f"    jones: {{clients: full, until: {entry_end}}}\n" if entry_end
            else "    jones: {clients: full}\n")))
    today = base + timedelta(days=shift)
    with tempfile.TemporaryDirectory() as folder:  # a hypothesis example can't take tmp_path
        tmp = Path(folder)
        (tmp / "practice.yaml").write_text(text)
        desired = load_file(tmp / "practice.yaml")
        system, _ = sandboxed(tmp, desired)
        # made on the first day (everything not yet ended is granted), then planned `today`
        with pytest.MonkeyPatch.context() as mp:
            _at(mp, str(min(base, today) - timedelta(days=10)))
            converge(system, desired)
            _at(mp, str(today))
            prepared = prepare(system, desired, secrets())
            apply_plan(system, prepared.plan, prepared.passwords)
        state = system.read_state()
        user = state.user("locum")
        alive = user_end is None or user_end >= today
        assert (user is not None) == alive
        if alive:
            joined = ("locum", GARCIA) in {(state.users[k].username, a) for k, a in state.access}
            assert joined == (join_end is None or join_end >= today)
            clients = state.access[("locum", JONES)]["clients"]
            assert clients == ("full" if entry_end is None or entry_end >= today else "view")
        assert make_plan(desired, state, today=today).changes == []
