"""Hardening (docs/contracts.md, "Hardening: saved plans, passwords and text"): saved plans that
were edited, hostile plans, safe file writes, secrets in store URLs and driver messages, control
characters, usernames in full."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from groupsync import planfile
from groupsync.accounts import AccountSystem, create_system
from groupsync.accounts.urls import redact, redact_text
from groupsync.errors import RuleError

from .conftest import DEMO_ENV, EXAMPLE, FULL, Result, demo_env

Run = Callable[..., Result]
FILES = ("-f", str(EXAMPLE), "--env-file", str(DEMO_ENV))
DEMO = demo_env()


@pytest.fixture
def planned(run: Run, tmp_path: Path) -> Path:
    """A sandbox store and a saved plan for the example practice."""
    assert run("sandbox", *FILES).code == 0
    r = run("plan", *FILES, "--out", "riverside.plan")
    assert r.code == 0, r.err
    return tmp_path / "riverside.plan"


def _store_bytes(tmp_path: Path) -> bytes:
    return (tmp_path / "groupsync.db").read_bytes()


# -- saved plans ---------------------------------------------------------------------------

def test_a_saved_plan_is_private_and_authenticated(planned: Path) -> None:
    assert stat.S_IMODE(planned.stat().st_mode) == 0o600
    doc = json.loads(planned.read_text())
    assert doc["format"] == "groupsync-saved-plan" and doc["format_version"] == 3
    assert set(doc["mac"]) == {"alg", "salt", "tag"}
    for secret in DEMO.values():
        assert secret not in planned.read_text()


@pytest.mark.parametrize("edit", ["fee", "evil-username", "credentials", "warning"])
def test_an_edited_saved_plan_is_refused_and_changes_nothing(
    run: Run, planned: Path, tmp_path: Path, edit: str
) -> None:
    doc = json.loads(planned.read_text())
    plan = doc["plan"]
    if edit == "fee":
        code = next(c for c in plan["changes"] if c["type"] == "code" and c["after"].get("fee"))
        code["after"]["fee"] = "1.00"
    elif edit == "evil-username":  # the attack from the security review
        plan["changes"].append({"action": "add", "type": "username", "account": "100482",
                                "username": "evil", "before": None,
                                "after": {"home": "100482", "privileges": FULL}})
        plan["credentials"]["evil"] = "HOME"
    elif edit == "credentials":
        plan["credentials"]["frontdesk"] = "HOME"
    else:
        plan["warnings"].append("all fine")
    planned.write_text(json.dumps(doc))
    before = _store_bytes(tmp_path)
    r = run("apply", str(planned), *FILES)
    assert r.code == 1 and r.out == ""
    assert r.err == (f"Error: {planned} was changed after groupsync wrote it (or the passwords "
                     "it was written with have changed); refused, nothing was changed. Run plan "
                     "--out again\n")
    assert _store_bytes(tmp_path) == before


def test_the_untouched_saved_plan_applies(run: Run, planned: Path) -> None:
    r = run("apply", str(planned), *FILES)
    assert r.code == 0, r.err
    assert "Apply complete: 88 added, 4 changed, 0 removed." in r.out


@pytest.mark.parametrize(("content", "message"), [
    ("not json at all", "is not a groupsync plan file (not JSON)"),
    ("[1, 2]", "is not a groupsync plan file"),
    ('{"format_version": "1", "changes": []}',
     "was saved by an older groupsync (unauthenticated plan format 1); run plan --out again"),
    ('{"format": "groupsync-saved-plan", "format_version": 2}',
     "has plan format version 2; this groupsync reads version 3 (the number)"),
    ('{"format": "groupsync-saved-plan", "format_version": 3, "plan": {"revision": 1' + '0' * 5000
     + '}}', "is not a groupsync plan file (not JSON)"),
    ('{"format": "groupsync-saved-plan", "format_version": 3, "plan": {}}',
     "is not an authenticated groupsync plan file; refused"),
])
def test_files_that_are_not_saved_plans_are_refused(
    run: Run, planned: Path, tmp_path: Path, content: str, message: str
) -> None:
    bad = tmp_path / "bad.plan"
    bad.write_text(content)
    r = run("apply", str(bad), *FILES)
    assert (r.code, r.err) == (1, f"Error: {bad} {message}\n")


def test_a_hand_made_plan_signed_with_the_right_password_is_still_checked(
    run: Run, planned: Path, tmp_path: Path
) -> None:
    """Someone who knows the password can sign anything; the shape is still checked at the
    boundary, so a plan that passes the MAC can't reach apply with `after: null`."""
    doc = json.loads(planned.read_text())
    setup = next(c for c in doc["plan"]["changes"] if c["type"] == "practice_setup")
    setup["after"] = None
    salt = bytes.fromhex(doc["mac"]["salt"])
    doc["mac"]["tag"] = planfile._tag(doc["plan"], _passwords(doc), salt)
    planned.write_text(json.dumps(doc))
    before = _store_bytes(tmp_path)
    r = run("apply", str(planned), *FILES)
    assert r.code == 1
    assert r.err == (f"Error: {planned} is not a valid groupsync plan: changes.0.practice_setup."
                     "after: Input should be a valid dictionary\n")
    assert _store_bytes(tmp_path) == before


def _passwords(doc: dict[str, object]) -> dict[str, str]:
    plan = doc["plan"]
    assert isinstance(plan, dict)
    return {user: DEMO[var] for user, var in plan["credentials"].items()}


def test_one_low_privilege_password_cannot_forge_a_plan(run: Run, planned: Path,
                                                        tmp_path: Path) -> None:
    """From the security review: the key must come from every password the apply uses, or
    the holder of frontdesk's password could sign a plan that acts as frontdesk and then as
    the master, with the master's password from CI's environment."""
    assert run("apply", str(planned), *FILES).code == 0  # frontdesk exists now
    assert run("plan", *FILES, "--out", "noop.plan").code == 0
    doc = json.loads((tmp_path / "noop.plan").read_text())
    plan = doc["plan"]
    plan["actor"] = "frontdesk"
    plan["credentials"]["frontdesk"] = "FRONTDESK_PASSWORD"
    state = json.loads(run("show", "--json", *FILES).out)
    for account in ("100482", "100517"):
        plan["changes"].append({"action": "change", "type": "privileges", "account": account,
                                "username": "frontdesk",
                                "before": state["accounts"][account]["access"]["frontdesk"],
                                "after": FULL})
    known = {"frontdesk": DEMO["FRONTDESK_PASSWORD"]}  # all the forger knows
    for guess in ("riverside-admin", "jsmith"):
        known[guess] = "a-guess-2026"
    doc["mac"]["tag"] = planfile._tag(plan, known, bytes.fromhex(doc["mac"]["salt"]))
    (tmp_path / "forged.plan").write_text(json.dumps(doc))
    before = _store_bytes(tmp_path)
    r = run("apply", "forged.plan", *FILES)
    assert r.code == 1 and "was changed after groupsync wrote it" in r.err, r
    assert _store_bytes(tmp_path) == before


# -- safe writes ---------------------------------------------------------------------------

def test_plan_out_never_writes_through_a_planted_link(run: Run, tmp_path: Path) -> None:
    assert run("sandbox", *FILES).code == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (tmp_path / ".riverside.plan.tmp").symlink_to(victim)  # v1's predictable temp name
    (tmp_path / "out.plan").symlink_to(victim)  # and a link at the target itself
    assert run("plan", *FILES, "--out", "riverside.plan").code == 0
    assert run("plan", *FILES, "--out", "out.plan").code == 0
    assert victim.read_text() == "keep me\n"
    assert not (tmp_path / "out.plan").is_symlink()
    assert stat.S_IMODE((tmp_path / "out.plan").stat().st_mode) == 0o600
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == [".riverside.plan.tmp"]  # ours are gone; the planted one untouched


def test_export_out_refuses_to_overwrite_without_force(run: Run, tmp_path: Path) -> None:
    assert run("sandbox", *FILES).code == 0
    assert run("apply", *FILES, "--auto-approve").code == 0
    mine = tmp_path / "practice.yaml"
    mine.write_text("# my hand-commented practice file\n")
    r = run("export", "--master", "riverside-admin", "--out", "practice.yaml", *FILES)
    assert (r.code, r.err) == (1, "Error: practice.yaml already exists; refusing to overwrite "
                                  "it (use --force)\n")
    assert mine.read_text() == "# my hand-commented practice file\n"
    r = run("export", "--master", "riverside-admin", "--out", "practice.yaml", "--force",
            *FILES)
    assert r.code == 0 and "riverside-admin" in mine.read_text()


# -- secrets in store URLs -------------------------------------------------------------------

@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://u:p@ss@db/groupsync", "postgresql://u:***@db/groupsync"),
    ("postgresql://u:pa%zzSECRET@db/g", "postgresql://u:***@db/g"),
    ("postgresql://u@db/g?password=SECRET&sslmode=require",
     "postgresql://u@db/g?password=***&sslmode=require"),
    ("postgres://db/g?sslpassword=SECRET", "postgres://db/g?sslpassword=***"),
    ("http://admin:SECRET@service:8750", "http://admin:***@service:8750"),
    ("postgresql://u:pa#SECRET@db/g", "postgresql://u:***@db/g"),
    ("postgresql://u:pa?SECRET@db/g", "postgresql://u:***@db/g"),
    ("postgresql://u:SECRET/@db/g", "postgresql://u:***@db/g"),
    ("http://SECRET-TOKEN@service:8750", "http://***@service:8750"),
    ("sqlite:///x.db?password=SECRET", "sqlite:///x.db?password=***"),
    ("https://service.example/groupsync", "https://service.example/groupsync"),
    ("sqlite:///relative.db", "sqlite:///relative.db"),
    ("/var/lib/groupsync.db", "/var/lib/groupsync.db"),
])
def test_store_urls_are_shown_without_their_secrets(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_driver_messages_are_redacted_against_the_url() -> None:
    url = "postgresql://u:pa%zzSECRET@db/g"
    assert redact_text('invalid percent-encoded token: "pa%zzSECRET"', url) == \
        'invalid percent-encoded token: "***"'
    assert "SECR" not in redact_text('bad token near "zzSECRE"', url)
    assert redact_text("connection refused", url) == "connection refused"


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_no_command_prints_a_store_password(run: Run, store: str) -> None:
    with_password = store.replace("postgres@", "postgres:Pa55-SECRET@") + "&password=SECRET2"
    outputs = [run("store", "init", "--store", with_password),
               run("sandbox", *FILES, "--store", with_password),
               run("apply", *FILES, "--store", with_password, "--auto-approve"),
               run("store", "init", "--store", with_password),  # exists: an error message
               run("plan", *FILES, "--store", "postgresql://u:pa%zzSECRET@127.0.0.1:1/x")]
    assert outputs[0].code == 0 and "postgres:***@" in outputs[0].out
    assert outputs[2].code == 0 and "password=***" in outputs[2].out
    assert outputs[3].code == 1 and outputs[4].code == 1
    for r in outputs:
        assert "SECRET" not in r.out + r.err and "Pa55" not in r.out + r.err, r


def test_a_service_url_with_user_info_is_never_printed(run: Run) -> None:
    r = run("plan", *FILES, "--store", "http://admin:SECRET@127.0.0.1:9/")
    assert r.code == 1 and "SECRET" not in r.err and "admin:***@" in r.err


# -- text fields and usernames ----------------------------------------------------------------

@pytest.mark.parametrize("field", ["practice_name", "provider", "payer", "description"])
def test_control_characters_are_refused_in_the_file(run: Run, tmp_path: Path,
                                                    field: str) -> None:
    text = EXAMPLE.read_text()
    old, new = {
        "practice_name": ("name: Riverside Counseling Group",
                          'name: "Riverside\\e[1A\\e[2KNo changes."'),
        "provider": ("name: Jane Smith, PhD", 'name: "Jane Smith\\nTIN: 99-9999999"'),
        "payer": ("{name: Aetna,", '{name: "Aetna\\u009b2K",'),
        "description": ("description: Generalized anxiety disorder",
                        'description: "Generalized\\tanxiety"'),
    }[field]
    assert old in text, old
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(old, new, 1))
    r = run("validate", "-f", str(bad))
    assert r.code == 1
    assert len(r.err.splitlines()) == 1 and "must not contain control characters" in r.err
    assert r.err.startswith(f"Error: {bad}:") and "\x1b" not in r.err


def test_the_account_system_refuses_control_characters_and_partial_usernames(
    system: AccountSystem
) -> None:
    system.signup("Alice Able", "alice", "pw-alice-2026", "100001")
    with pytest.raises(RuleError, match="control characters"):
        system.signup("Bob\x1b[2K", "bob", "pw-bob-2026", "100002")
    with pytest.raises(RuleError, match="must be 3-64 letters"):
        system.signup("Bob", "bob\n", "pw-bob-2026", "100002")
    with system.session("alice", "pw-alice-2026") as s:
        with pytest.raises(RuleError, match="must be 3-64 letters"):
            s.allow_access("100001", "riverside-admin\n", "pw-admin-2026", FULL)
        with pytest.raises(RuleError, match="control characters"):
            s.set_practice_setup("100001", "Riverside\nTIN: 1", "12-3456789", False)
        with pytest.raises(RuleError, match="control characters"):
            s.put_codes("100001", "insurance_payers", [{"name": "Cigna\x1b[1A"}])
    assert system.read_state().revision == 1


@pytest.mark.parametrize(("password", "why"), [
    ("", "is shorter than 8 characters"),
    ("Q7z", "is shorter than 8 characters"),
    ("Frontdesk", "is the username itself"),
    ("password1", "is one of the 30,000 most common passwords"),
    ("Password123", "is one of the 30,000 most common passwords"),
])
def test_weak_new_passwords_are_refused_by_name_never_by_value(
    run: Run, tmp_path: Path, password: str, why: str
) -> None:
    assert run("sandbox", *FILES).code == 0
    env = {**DEMO, "FRONTDESK_PASSWORD": password}
    r = run("plan", "-f", str(EXAMPLE), env=env)
    assert r.code == 1
    if password:
        assert r.err == (f"Error: {EXAMPLE}:59:15: ${{FRONTDESK_PASSWORD}} (the new password "
                         f"of frontdesk) {why}; choose another\n")
        assert password not in r.err
    else:  # empty is unset
        assert "${FRONTDESK_PASSWORD} is not set" in r.err
    system = create_system(str(tmp_path / "other.db"))
    with pytest.raises(RuleError, match=why.replace("(", r"\(")) as caught:
        system.signup("Front Desk", "frontdesk", password, "100001")
    assert password == "" or password not in str(caught.value)


def test_log_limit_out_of_range_is_a_usage_error(run: Run) -> None:
    assert run("sandbox", *FILES).code == 0
    r = run("log", "--limit", "99999999999999999999", *FILES)
    assert r.code == 1 and "Traceback" not in r.err and "internal error" not in r.err
    assert "Invalid value for '--limit'" in r.err


def test_no_plain_password_outlives_a_command() -> None:
    from groupsync.accounts.memo import login_memo, remembering_logins

    assert not hasattr(AccountSystem, "_verified")
    assert login_memo() is None  # set only inside a command's remembering_logins()
    with remembering_logins():
        assert login_memo() == {}
    assert login_memo() is None




def test_control_characters_already_in_a_store_never_reach_the_terminal(
    run: Run, tmp_path: Path
) -> None:
    """A v1 store (or another tool) may hold them: output shows U+FFFD, JSON escapes them."""
    import sqlite3

    assert run("sandbox", *FILES).code == 0
    conn = sqlite3.connect(tmp_path / "groupsync.db")
    conn.execute("UPDATE accounts SET provider_name = ? WHERE account_id = '100517'",
                 ("Robert\x1b[1A\x1b[2KJones\x9b",))
    conn.commit()
    conn.close()
    shown = run("show", *FILES)
    assert shown.code == 0
    assert "\x1b" not in shown.out and "\x9b" not in shown.out
    assert "Robert\ufffd[1A\ufffd[2KJones\ufffd" in shown.out
    as_json = run("show", "--json", *FILES)
    assert "\x9b" not in as_json.out and "\\u009b" in as_json.out
    assert json.loads(as_json.out)["accounts"]["100517"]["provider_name"] == \
        "Robert\x1b[1A\x1b[2KJones\x9b"


def test_a_saved_plan_carries_every_field_of_a_plan_but_what_is_recomputed() -> None:
    import dataclasses

    from groupsync.plan import Plan
    from groupsync.planfile import SavedPlan

    saved = set(SavedPlan.model_fields)
    plan_fields = {f.name for f in dataclasses.fields(Plan)}
    assert plan_fields - saved == {"homes", "waiting", "drift"}
    assert saved <= plan_fields
