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
from groupsync.config import load_file
from groupsync.engine import prepare
from groupsync.plan import make_plan

from .conftest import EXAMPLE, Result, demo_env
from .helpers import budget, converge, practice, sandboxed, secrets
from .helpers import load_problems as _problems

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


# -- --as and the sealed master ------------------------------------------------------------

OFFICE = ("  billing:\n    person: Priya Natarajan\n",
          "  office:\n    person: Jordan Lee\n    password: \"${OFFICE_PASSWORD}\"\n"
          "    home: smith\n    accounts: all\n"
          "  billing:\n    person: Priya Natarajan\n")
OFFICE_PRIVS = ("  frontdesk: front-desk\n",
                "  frontdesk: front-desk\n  office:\n    all: {practice_setup: full, "
                "account_access: full, codes: full, scheduling: full}\n")
SEALED = ("  home: smith\n\n", "  home: smith\n  sealed: true\n\n")
OFFICE_PW = "office-demo-pw-4821"
NO_RISKY = ("policies:\n", "policies:\n  - {name: risky-grants, severity: off}\n")
FEE = ('fee: "150.00"', 'fee: "155.00"')


def _staffed(tmp_path: Path, run: Run, *edits: tuple[str, str]) -> dict[str, str]:
    """The example with an office manager (full account_access and codes everywhere),
    applied once as the master; returns the env without the master's password."""
    _write(tmp_path, _edited(OFFICE, OFFICE_PRIVS, NO_RISKY))
    with (tmp_path / "demo.env").open("a") as f:
        f.write(f"OFFICE_PASSWORD={OFFICE_PW}\n")
    assert run("sandbox", *FILES).code == 0
    r = run("apply", *FILES, "--auto-approve")
    assert r.code == 0, r.err
    _write_env_without_master(tmp_path)
    if edits:
        (tmp_path / "practice.yaml").write_text(_edited(OFFICE, OFFICE_PRIVS, NO_RISKY, *edits))
    return {}


def _write_env_without_master(tmp_path: Path) -> None:
    lines = (tmp_path / "demo.env").read_text().splitlines()
    (tmp_path / "admin.env").write_text(
        "".join(f"{ln}\n" for ln in lines if not ln.startswith("MASTER_PASSWORD=")))


AS_OFFICE = ("-f", "practice.yaml", "--env-file", "admin.env", "--as", "office")


def test_an_admin_acts_as_itself_without_the_masters_password(tmp_path: Path, run: Run) -> None:
    _staffed(tmp_path, run, FEE)
    plan = run("plan", *AS_OFFICE, "--detailed-exitcode")
    assert plan.code == 2, plan.err
    assert "Plan: 0 to add, 4 to change, 0 to remove." in plan.out
    r = run("apply", *AS_OFFICE, "--auto-approve", "--note", "new fee schedule")
    assert r.code == 0, r.err
    entries = json.loads(run("log", "--json", "--limit", "4", *FILES).out)["entries"]
    assert {(e["actor"], e.get("person"), e["note"]) for e in entries} == {
        ("office", "Jordan Lee", "new fee schedule")}
    assert "r6  2026-03-02T12:00:00Z  office (Jordan Lee): ~ change billing_codes 90837 in " \
           "100561" in run("log", "--limit", "4", *FILES).out
    # GROUPSYNC_AS does the same as --as
    (tmp_path / "practice.yaml").write_text(
        _edited(OFFICE, OFFICE_PRIVS, NO_RISKY, ('fee: "150.00"', 'fee: "160.00"')))
    env = {"GROUPSYNC_AS": "office"}
    r = run("apply", "-f", "practice.yaml", "--env-file", "admin.env", "--auto-approve",
            env=env)
    assert r.code == 0, r.err
    assert json.loads(run("log", "--json", "--limit", "1", *FILES).out)["entries"][0][
        "actor"] == "office"


def test_a_username_acting_without_the_rights_its_changes_need_is_refused_per_right(
        tmp_path: Path, run: Run) -> None:
    _staffed(tmp_path, run, FEE)
    r = run("plan", "-f", "practice.yaml", "--env-file", "admin.env", "--as", "billing")
    assert r.code == 1
    assert r.err == "".join(
        f"Error: --as billing: it needs full on codes in {acct} to {doing} billing_codes (it "
        "holds view there after this plan)\n"
        for acct, doing in ((f"{SMITH} (smith)", "enter"), (f"{JONES} (jones)", "copy"),
                            (f"{GARCIA} (garcia)", "copy"), (f"{CHEN} (chen)", "copy")))
    assert run("plan", *FILES, "--as", "nobody").err == (
        "Error: --as nobody: not a username practice.yaml declares (the master, a staff "
        "username or a provider login)\n")
    assert run("plan", *AS_OFFICE, "--rotate", "office").err == (
        "Error: --as office: its own password can't be set while it acts; rotate it acting "
        "as another username\n")


def test_a_sealed_master_acts_only_when_the_glass_is_broken_with_a_reason(
        tmp_path: Path, run: Run) -> None:
    _staffed(tmp_path, run, SEALED, FEE)
    sealed = ("Error: the master riverside-admin is sealed (master.sealed in the practice "
              "file): act as yourself with --as USERNAME, or break the glass with "
              "--break-glass and a --note saying why; nothing was changed\n")
    assert run("plan", *FILES).err == sealed
    assert run("apply", *FILES, "--auto-approve").err == sealed
    assert run("plan", *FILES, "--as", "riverside-admin").err == sealed
    no_note = run("apply", *FILES, "--auto-approve", "--break-glass")
    assert (no_note.code, no_note.err) == (1, "Error: --break-glass needs a --note saying why "
                                              "the sealed master acts; nothing was changed\n")
    # a CI's own note (its commit) is not a reason
    ci = run("apply", *FILES, "--auto-approve", "--break-glass", env={"GITHUB_SHA": "abc"})
    assert ci.code == 1 and "--break-glass needs a --note" in ci.err
    ok = run("apply", *FILES, "--auto-approve", "--break-glass", "--note", "office locked out")
    assert ok.code == 0, ok.err
    entries = json.loads(run("log", "--json", "--limit", "10", *FILES).out)["entries"]
    changed = [e for e in entries if e["revision"] == 6]
    assert changed and all(e["break_glass"] is True and e["note"] == "office locked out"
                           for e in changed)
    assert "riverside-admin (Alex Rivera (practice manager)) [break glass]: ~ change " \
           "billing_codes 90837" in run("log", "--limit", "10", *FILES).out
    # every plan after it warns, until an access review
    warned = run("plan", *AS_OFFICE)
    assert ("Warning: break-glass apply r6 (2026-03-02T12:00:00Z) by riverside-admin (Alex "
            "Rivera (practice manager)) has not been reviewed (note: office locked out); "
            "review with groupsync access --since-review, then --attest") in warned.out
    assert run("access", *AS_OFFICE, "--attest", "--note", "after the lock-out").code == 0
    assert "break-glass" not in run("plan", *AS_OFFICE).out


def test_a_saved_plan_acts_as_it_was_made(tmp_path: Path, run: Run) -> None:
    _staffed(tmp_path, run, SEALED, FEE)
    assert run("plan", *AS_OFFICE, "--out", "fee.plan").code == 0
    saved = json.loads((tmp_path / "fee.plan").read_text())["plan"]
    assert (saved["actor"], saved["acting"], saved["sealed"]) == ("office", "office", True)
    assert "riverside-admin" not in saved["credentials"]  # the master's password isn't used
    refused = run("apply", "fee.plan", "--env-file", "admin.env", "--as", "billing")
    assert "--as belongs to the plan" in refused.err
    r = run("apply", "fee.plan", "--env-file", "admin.env")
    assert r.code == 0, r.err
    assert json.loads(run("log", "--json", "--limit", "1", *FILES).out)["entries"][0][
        "actor"] == "office"


# -- reviews -------------------------------------------------------------------------------

def test_an_attested_review_is_evidence_and_since_review_shows_what_changed(
        tmp_path: Path, run: Run) -> None:
    _staffed(tmp_path, run)
    first = run("access", *AS_OFFICE, "--since-review")
    assert first.out.startswith("No access review is recorded for these accounts")
    r = run("access", *AS_OFFICE, "--attest", "--note", "Q1 review")
    assert r.code == 0, r.err
    [done] = [ln for ln in r.out.splitlines() if ln.startswith("Recorded")]
    digest = done.rsplit(" ", 1)[1].rstrip(".")
    assert done == (f"Recorded the access review of 4 accounts (20 access rows) as office "
                    f"(Jordan Lee) at revision 5; SHA-256 {digest}.")
    assert len(digest) == 64
    entries = json.loads(run("log", "--json", "--limit", "4", *FILES).out)["entries"]
    assert {(e["type"], e["actor"], e["revision"], e["digest"], e["note"]) for e in entries} \
        == {("review", "office", 5, digest, "Q1 review")}
    assert sorted(e["account"] for e in entries) == sorted([SMITH, JONES, GARCIA, CHEN])
    # a review is a fact, not a change: the store's revision doesn't move
    assert run("plan", *AS_OFFICE, "--json").code == 0
    assert json.loads(run("plan", *AS_OFFICE, "--json").out)["revision"] == 5
    # grants change outside the review: raised, lowered, added
    (tmp_path / "practice.yaml").write_text(_edited(
        OFFICE, OFFICE_PRIVS, NO_RISKY,
        ("  frontdesk: front-desk\n", "  frontdesk:\n    all: front-desk\n"
                                      "    jones: {role: front-desk, notes: view}\n"),
        ("    garcia: {role: biller, claims: view}", "    garcia: {role: biller, claims: none}")))
    assert run("apply", *AS_OFFICE, "--auto-approve").code == 0
    since = run("access", *AS_OFFICE, "--since-review")
    assert since.out == (
        "Since the last access review, r5 (2026-03-02T12:00:00Z, by office (Jordan Lee); "
        "note: Q1 review):\n\n"
        f"  ^ raised frontdesk in {JONES} (jones): notes none -> view\n"
        f"  v lowered billing in {GARCIA} (garcia): claims view -> none\n\n"
        "2 grant changes, 0 break-glass applies since the review.\n")


def test_a_plan_warns_when_the_last_review_is_older_than_review_every_days(
        tmp_path: Path, run: Run) -> None:
    _staffed(tmp_path, run, ("prune:\n", "review:\n  every_days: 90\n\nprune:\n"))
    never = run("plan", *AS_OFFICE)
    assert ("Warning: no access review is recorded, and review.every_days is 90; record one "
            "with groupsync access --attest --note TEXT") in never.out
    assert run("access", *AS_OFFICE, "--attest", "--note", "first").code == 0
    assert "review" not in run("plan", *AS_OFFICE).out
    day_90 = {"GROUPSYNC_NOW": "2026-05-31T23:00:00"}
    assert "access review" not in run("plan", *AS_OFFICE, env=day_90).out
    day_91 = {"GROUPSYNC_NOW": "2026-06-01T00:00:00"}
    assert ("Warning: the last access review was 2026-03-02 (91 days ago), more than "
            "review.every_days 90; review with groupsync access --attest --note TEXT"
            ) in run("plan", *AS_OFFICE, env=day_91).out


def test_attest_needs_a_note_and_a_reviewer_who_can_see_the_access(
        tmp_path: Path, run: Run) -> None:
    _staffed(tmp_path, run)
    assert run("access", *AS_OFFICE, "--attest").err == (
        "Error: --attest needs a --note saying what was reviewed and why\n")
    r = run("access", "-f", "practice.yaml", "--env-file", "admin.env", "--as", "frontdesk",
            "--attest", "--note", "x")
    assert r.code == 1
    assert r.err == (f"Error: frontdesk needs view on account_access in account {SMITH} to "
                     "review its access (has none)\n")
    assert run("log", "--json", *FILES).out.count('"type": "review"') == 0


# -- through serve -------------------------------------------------------------------------

def test_acting_sealing_and_reviews_work_the_same_through_serve(
        tmp_path: Path, run: Run, store: str) -> None:
    """On both backends: a plan and apply --as, a refused sealed master, a break-glass
    apply, an attested review and --since-review, all through one `serve`."""
    import httpx

    from groupsync.plan import Plan
    from groupsync.planfile import plan_data

    from .conftest import FIXED_NOW
    from .helpers import change
    from .support import serving

    _write(tmp_path, _edited(OFFICE, OFFICE_PRIVS, NO_RISKY, SEALED))
    with (tmp_path / "demo.env").open("a") as f:
        f.write(f"OFFICE_PASSWORD={OFFICE_PW}\n")
    _write_env_without_master(tmp_path)
    assert run("sandbox", *FILES, "--store", store).code == 0
    first = run("apply", *FILES, "--store", store, "--auto-approve", "--break-glass", "--note",
                "first set-up")
    assert first.code == 0, first.err
    with serving(store, tmp_path, env={"GROUPSYNC_NOW": FIXED_NOW}) as (url, _proc):
        via = ("--store", url)
        assert "is sealed" in run("plan", *FILES, *via).err
        (tmp_path / "practice.yaml").write_text(
            _edited(OFFICE, OFFICE_PRIVS, NO_RISKY, SEALED, FEE))
        r = run("apply", *AS_OFFICE, *via, "--auto-approve", "--note", "fee via serve")
        assert r.code == 0, r.err
        assert "Warning: break-glass apply r1" not in r.out  # the first set-up was r5
        log = json.loads(run("log", "--json", "--limit", "1", *AS_OFFICE, *via).out)
        assert (log["entries"][0]["actor"], log["entries"][0]["person"]) == ("office",
                                                                            "Jordan Lee")
        warned = run("plan", *AS_OFFICE, *via)
        assert "has not been reviewed (note: first set-up)" in warned.out
        attest = run("access", *AS_OFFICE, *via, "--attest", "--note", "via serve")
        assert attest.code == 0, attest.err
        assert "has not been reviewed" not in run("plan", *AS_OFFICE, *via).out
        assert run("access", *AS_OFFICE, *via, "--since-review").out.endswith(
            "0 grant changes, 0 break-glass applies since the review.\n")
        # a hand-made plan can't make billing do what its own rights don't allow: raising
        # its own account_access is Username Privileges, which need full account_access
        token = httpx.post(f"{url}/v1/login", json={
            "username": "billing", "password": demo_env()["BILLING_PASSWORD"]}).json()["token"]
        state = httpx.get(f"{url}/v1/state",
                          headers={"Authorization": f"Bearer {token}"}).json()
        levels = {a: "full" for a in ("clients", "scheduling", "notes", "billing", "claims",
                                      "codes", "reports", "practice_setup", "account_access")}
        before = {**levels, "scheduling": "none", "notes": "none", "practice_setup": "none",
                  "account_access": "none"}
        before.update(clients="view", codes="view", reports="view")
        forged = Plan(lineage=state["lineage"], revision=state["revision"],
                      basis=state["versions"], actor="billing", master="billing",
                      acting="billing", credentials={"billing": "BILLING_PASSWORD"},
                      changes=[change("change", "privileges", SMITH, username="frontdesk",
                                      before=before, after=levels)])
        r = httpx.post(f"{url}/v1/apply", headers={"Authorization": f"Bearer {token}"},
                       json={"plan": plan_data(forged),
                             "passwords": {"billing": demo_env()["BILLING_PASSWORD"]}})
        assert r.status_code == 403, r.text
        assert r.json()["detail"] == (f"billing needs full on account_access in account "
                                      f"{SMITH} to set Username Privileges (has none)")
        # and a hand-made plan acting as a sealed master, sent with the practice, is refused
        # without break_glass however the plan says it is sealed
        master = httpx.post(f"{url}/v1/login", json={
            "username": "riverside-admin", "password": demo_env()["MASTER_PASSWORD"]}
        ).json()["token"]
        unsealed = Plan(lineage=state["lineage"], revision=state["revision"] + 1,
                        actor="riverside-admin", master="riverside-admin",
                        credentials={"riverside-admin": "MASTER_PASSWORD"}, changes=[])
        r = httpx.post(f"{url}/v1/apply", headers={"Authorization": f"Bearer {master}"},
                       json={"plan": plan_data(unsealed),
                             "practice": (tmp_path / "practice.yaml").read_text(),
                             "passwords": {"riverside-admin": demo_env()["MASTER_PASSWORD"]}})
        assert r.status_code == 403 and "is sealed" in r.json()["detail"], r.text
        # the store knows the seal: a plan that says it isn't sealed, or names another
        # master, is still refused without break_glass, and without the practice too
        made = httpx.post(f"{url}/v1/plan", headers={"Authorization": f"Bearer {master}"},
                          json={"practice": (tmp_path / "practice.yaml").read_text()}).json()
        for forged_plan in (dict(made["saved_plan"], sealed=False),
                            dict(made["saved_plan"], sealed=False, master="office",
                                 acting="riverside-admin")):
            r = httpx.post(f"{url}/v1/apply", headers={"Authorization": f"Bearer {master}"},
                           json={"plan": forged_plan, "passwords": {
                               "riverside-admin": demo_env()["MASTER_PASSWORD"],
                               "office": OFFICE_PW}})
            assert r.status_code == 403 and "is sealed" in r.json()["detail"], r.text
        # and a blank note doesn't break the glass
        r = httpx.post(f"{url}/v1/apply", headers={"Authorization": f"Bearer {master}"},
                       json={"plan": made["saved_plan"], "break_glass": True, "note": " ",
                             "passwords": {"riverside-admin": demo_env()["MASTER_PASSWORD"]}})
        assert r.status_code >= 400 and "needs a --note" in r.json()["detail"], r.text
        # the people in the trail are the store's: a plan claiming another person for its
        # actor is applied under the person the applied file named
        office = httpx.post(f"{url}/v1/login", json={"username": "office",
                                                     "password": OFFICE_PW}).json()["token"]
        (tmp_path / "practice.yaml").write_text(_edited(
            OFFICE, OFFICE_PRIVS, NO_RISKY, SEALED, ('fee: "150.00"', 'fee: "165.00"')))
        mine = httpx.post(f"{url}/v1/plan", headers={"Authorization": f"Bearer {office}"},
                          json={"practice": (tmp_path / "practice.yaml").read_text(),
                                "acting": "office"}).json()["saved_plan"]
        r = httpx.post(f"{url}/v1/apply", headers={"Authorization": f"Bearer {office}"},
                       json={"plan": dict(mine, persons={"office": "Somebody Else"}),
                             "passwords": {"office": OFFICE_PW}})
        assert r.status_code == 200, r.text
        last = json.loads(run("log", "--json", "--limit", "1", *AS_OFFICE, *via).out)
        assert last["entries"][0]["person"] == "Jordan Lee"


def test_a_notice_is_recorded_as_the_acting_username_never_a_sealed_master(
        tmp_path: Path, run: Run) -> None:
    _staffed(tmp_path, run, SEALED)
    refused = run("notice", *FILES, "--mark-sent")
    assert (refused.code, refused.err) == (1, (
        "Error: the master riverside-admin is sealed (master.sealed in the practice file): "
        "record notices as yourself with --as USERNAME\n"))
    r = run("notice", *AS_OFFICE, "--mark-sent")
    assert r.code == 0, r.err
    assert r.out.endswith("Recorded this notice as sent (4 providers).\n")
    entry = json.loads(run("log", "--json", "--limit", "1", *FILES).out)["entries"][0]
    assert (entry["type"], entry["actor"]) == ("notice", "office")



def test_an_acting_username_never_raises_itself_through_a_provider_login(
        tmp_path: Path, run: Run) -> None:
    _staffed(tmp_path, run, ("  frontdesk: front-desk\n", "  frontdesk: full\n"))
    r = run("plan", "-f", "practice.yaml", "--env-file", "admin.env", "--as", "frontdesk")
    assert r.code == 1
    assert (f"Error: --as frontdesk: it needs full on account_access in {SMITH} (smith) to "
            "change its own Username Privileges (it holds none there now)") in r.err
    assert run("log", "--json", *FILES).out.count('"revision": 6') == 0


def test_a_review_of_one_account_never_clears_anothers_break_glass(
        tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    from groupsync.accounts import open_system
    from groupsync.engine import attest_as
    from groupsync.errors import StaleError

    _staffed(tmp_path, run, SEALED, FEE)
    assert run("apply", *FILES, "--auto-approve", "--break-glass", "--note", "fees").code == 0
    system = open_system(str(tmp_path / "groupsync.db"))
    office = system.login("office", OFFICE_PW)
    attest_as(system, office, [SMITH], "smith only")
    warned = run("plan", *AS_OFFICE).out
    assert "break-glass apply r6" in warned  # jones, garcia and chen were not reviewed
    since = run("access", *AS_OFFICE, "--since-review").out
    assert since.startswith("No access review is recorded")  # not every account has one
    assert "1 break-glass apply since the review." in since
    # a matrix that is not the one shown is refused, and nothing is recorded
    with pytest.raises(StaleError):
        attest_as(system, office, [JONES], "stale", expected="0" * 64)
    assert len(system.reviews([JONES])) == 0


def test_a_saved_plan_does_not_act_past_its_usernames_until(tmp_path: Path, run: Run) -> None:
    _staffed(tmp_path, run, FEE, ("    home: smith\n    accounts: all\n  billing:",
                                  "    home: smith\n    accounts: all\n    until: 2026-03-05\n"
                                  "  billing:"))
    made = run("plan", *AS_OFFICE, "--out", "o.plan",
               env={"GROUPSYNC_NOW": "2026-03-05T23:00:00"})
    assert made.code == 0, made.err
    late = run("apply", "o.plan", "--env-file", "admin.env",
               env={"GROUPSYNC_NOW": "2026-03-06T00:00:01"})
    assert (late.code, late.err) == (1, "Error: office's access ended after 2026-03-05 (its "
                                        "until): it can't act; nothing was changed\n")
