"""What a new admin meets first: each small fix of the doorstep, run as the admin would.

Every test here runs the real command (or the real loader) on a real file and checks the exact
line the admin reads.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from groupsync.config import load_env_file, load_file
from groupsync.errors import ConfigError

from .conftest import DEMO_ENV, EXAMPLE, Result, demo_env


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    text = EXAMPLE.read_text()
    assert old in text, old
    path = tmp_path / "practice.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_file(path)
    return [str(p) for p in caught.value.problems]


def test_an_env_file_saved_with_a_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    path.write_bytes("\ufeffMASTER_PASSWORD=s3cret-Master-2026\nOTHER=x\n".encode())
    assert load_env_file(path) == {"MASTER_PASSWORD": "s3cret-Master-2026", "OTHER": "x"}


def test_a_tab_where_a_key_should_start_gets_the_spaces_hint(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\npractice:\n\tname: x\n")
    assert _problems(path) == [f"{path}:3:1: a tab is used to indent; YAML indents with "
                               "spaces only (YAML parser: found character that cannot start "
                               "any token)"]


def test_a_mistyped_provider_gets_a_did_you_mean_and_an_unknown_one_says_what_fits(
        tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    home = re.search(r"^  home: (\w+)$", text, re.M)
    assert home is not None
    key = home.group(1)
    path = _variant(tmp_path, f"  home: {key}\n", f"  home: {key[:-1]}x\n")
    assert any(p.endswith(f"unknown provider '{key[:-1]}x' (did you mean '{key}'?)")
               for p in _problems(path))
    path = _variant(tmp_path, f"  home: {key}\n", "  home: zzzzzz\n")
    assert any(p.endswith("unknown provider 'zzzzzz' (use a key under providers)")
               for p in _problems(path))


def test_a_shell_style_reference_suggests_the_braces(tmp_path: Path) -> None:
    path = _variant(tmp_path, 'password: "${MASTER_PASSWORD}"', "password: $MASTER_PASSWORD")
    problems = _problems(path)
    assert any(p.endswith("master.password: a ${VARIABLE} reference needs its braces: write "
                          "${NAME}, not $NAME") for p in problems)
    # never quoted back: a password that starts with `$` must not reach a CI log
    path = _variant(tmp_path, 'password: "${MASTER_PASSWORD}"', 'password: "$Summer2024x"')
    assert not any("Summer2024x" in p for p in _problems(path))


@pytest.mark.parametrize(("fee", "hint"), [('"$150"', "150.00"), ('"1,500.00"', "1500.00"),
                                           ('"$1,500"', "1500.00"), ('"$ 150"', "150.00")])
def test_a_fee_written_with_a_dollar_sign_or_a_separator_says_how(
        tmp_path: Path, fee: str, hint: str) -> None:
    text = EXAMPLE.read_text()
    m = re.search(r"fee: ([^,}\n]+)", text)
    assert m is not None
    path = _variant(tmp_path, m.group(0), f"fee: {fee}")
    assert any(p.endswith(f"write the amount alone, like {hint}") for p in _problems(path))


def test_a_tin_with_a_space_is_read_and_one_starting_00_is_refused(tmp_path: Path) -> None:
    m = re.search(r"tin: \"?([0-9-]+)\"?", EXAMPLE.read_text())
    assert m is not None
    path = _variant(tmp_path, m.group(0), 'tin: "47 1234567"')
    assert load_file(path).tin == "47-1234567"
    path = _variant(tmp_path, m.group(0), 'tin: "00-1234567"')
    assert any("starts with 00, which no TIN does" in p for p in _problems(path))


def test_two_payers_that_differ_only_in_case_are_one_payer(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    text = EXAMPLE.read_text()
    payer = "    - {name: Aetna, "
    assert payer in text
    path.write_text(text.replace(payer, "    - {name: AETNA}\n" + payer, 1))
    assert any(p.endswith("duplicate insurance_payers record 'Aetna': it is 'AETNA' written "
                          "in another case") for p in _problems(path))


def test_sandbox_names_every_unset_variable_at_once_and_none_for_existing_accounts(
        run: Callable[..., Result], tmp_path: Path) -> None:
    store = str(tmp_path / "s.db")
    from groupsync.config import load_file

    logins = [p.password_var for p in load_file(EXAMPLE).providers.values()]
    bare = tmp_path / "none.env"
    bare.write_text("")
    r = run("sandbox", "-f", str(EXAMPLE), "--env-file", str(bare), "--store", store,
                    env={k: "" for k in demo_env()})
    assert r.code == 1
    unset = [line for line in r.err.splitlines() if "is not set" in line]
    assert len(unset) == len(logins) >= 2, r.err
    assert not Path(store).exists()  # refused before the store was made
    assert run("sandbox", "-f", str(EXAMPLE), "--env-file", str(DEMO_ENV), "--store",
               store).code == 0
    again = run("sandbox", "-f", str(EXAMPLE), "--env-file", str(bare), "--store", store,
                env={k: "" for k in demo_env()})
    assert again.code == 0, again.err  # every account exists: no password is needed
    assert again.out.endswith("(0 new).\n")
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT count(*) FROM accounts").fetchone()[0] == len(logins)


@pytest.mark.parametrize("command", ["schema", "serve", "store init", "store migrate"])
def test_commands_that_read_no_practice_file_offer_no_file_options(
        run: Callable[..., Result], command: str) -> None:
    shown = run(*command.split(), "--help").out
    assert "--file" not in shown and "--env-file" not in shown
    assert ("--store" in shown) == (command != "schema")
    assert "http(s)://" not in shown  # none of them works through a service


def test_sandbox_help_says_it_works_through_a_service_too(run: Callable[..., Result]) -> None:
    shown = run("sandbox", "--help").out
    assert "through a service" in shown and "Free Trial sign-up" in shown


def test_show_prints_the_fees(run: Callable[..., Result], tmp_path: Path) -> None:
    files = ("-f", str(EXAMPLE), "--env-file", str(DEMO_ENV))
    assert run("sandbox", *files).code == 0
    assert run("apply", "--auto-approve", *files).code == 0
    shown = run("show", *files).out
    fees = re.findall(r'code: "([0-9A-Z]{5})",.*fee: "([0-9.]+)"', EXAMPLE.read_text())
    assert len(fees) >= 3
    listed = " ".join(f"{code} {fee}" for code, fee in sorted(fees))
    lines = [line for line in shown.splitlines() if line.startswith("  fees: ")]
    # every account the codes are copied to shows the same fees
    assert lines and all(line.replace(",", "") == f"  fees: {listed}" for line in lines)


def test_serve_says_where_it_listens(tmp_path: Path) -> None:
    from .support import serving

    store = str(tmp_path / "s.db")
    from groupsync.accounts import create_system

    create_system(store)
    with serving(store, tmp_path) as (url, _proc):
        port = url.rsplit(":", 1)[1]
        log = tmp_path / f"serve-{port}.log"
        assert f"groupsync serve listening on {url}" in log.read_text()


@pytest.mark.parametrize("fee", ['"1,50"', '"1,5,0"', '",150"', '"150,"', '"150$"'])
def test_a_fee_that_is_not_a_written_amount_gets_no_guess(tmp_path: Path, fee: str) -> None:
    m = re.search(r"fee: ([^,}\n]+)", EXAMPLE.read_text())
    assert m is not None
    problems = _problems(_variant(tmp_path, m.group(0), f"fee: {fee}"))
    assert problems and not any("like" in p for p in problems), problems


def test_scripts_that_pass_the_unlisted_options_still_run(run: Callable[..., Result]) -> None:
    r = run("schema", "-f", str(EXAMPLE), "--env-file", str(DEMO_ENV))
    assert r.code == 0 and r.out.startswith("{")


def test_a_payer_held_in_another_case_is_refused_not_added_twice(
        run: Callable[..., Result], tmp_path: Path) -> None:
    files = ("--env-file", str(DEMO_ENV))
    assert run("sandbox", "-f", str(EXAMPLE), *files).code == 0
    assert run("apply", "--auto-approve", "-f", str(EXAMPLE), *files).code == 0
    before = run("show", "--json", "-f", str(EXAMPLE), *files).out
    path = _variant(tmp_path, "{name: Aetna,", "{name: AETNA,")
    r = run("plan", "-f", str(path), *files)
    assert r.code == 1
    assert "Error: insurance_payers 'AETNA' is 'Aetna' in account 100482 (smith): payer names " \
           "are one payer whatever their case; write it as 'Aetna', or remove 'Aetna' there " \
           "first" in r.err, r.err
    assert run("show", "--json", "-f", str(EXAMPLE), *files).out == before
    # with prune.codes the old spelling goes in the same apply: one payer after
    pruned = path.read_text().replace("codes: false", "codes: true")
    assert pruned != path.read_text()
    path.write_text(pruned)
    r = run("apply", "--auto-approve", "-f", str(path), *files)
    assert r.code == 0, r.err
    shown = json.loads(run("show", "--json", "-f", str(path), *files).out)
    names = [name for acct in shown["accounts"].values()
             for name in acct["codes"]["insurance_payers"]]
    assert "AETNA" in names and "Aetna" not in names
