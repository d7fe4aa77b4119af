"""practice.yaml loading: the schema, FILE:LINE:COL errors, YAML traps, secrets."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from groupsync.config import Secrets, load_env_file, load_file, load_text
from groupsync.errors import ConfigError, SecretError

from .conftest import EXAMPLE

BASE = """\
version: 1
practice:
  name: Riverside
  tin: "123456789"
providers:
  smith:
    name: Jane Smith
    account_id: "100482"
    login: {username: jsmith, password: "${SMITH_PASSWORD}"}
  jones:
    name: Bob Jones
    account_id: "100517"
    login: {username: rjones, password: "${JONES_PASSWORD}"}
master:
  username: admin
  password: "${MASTER_PASSWORD}"
  home: smith
"""


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_text(textwrap.dedent(text).encode(), "p.yaml")
    return [str(p) for p in exc.value.problems]


def test_example_loads() -> None:
    d = load_file(EXAMPLE)
    assert [p.key for p in d.providers.values()] == ["smith", "jones", "garcia", "chen"]
    assert d.master.username == "riverside-admin"
    assert d.tin == "12-3456789"
    assert d.codes is not None and d.codes.copy_to == ("100517", "100533", "100561")
    billing = d.privileges["billing"]
    assert billing.resolve("100533")["claims"] == "view"
    assert billing.resolve("100517")["claims"] == "full"
    assert billing.resolve("100517")["notes"] == "none"  # named nowhere: least privilege


def test_scalars_are_read_as_written() -> None:
    d = load_text((BASE.replace('"100482"', "0755") + textwrap.dedent("""\
        usernames:
          desk: {password: "${D}", home: smith}
        privileges:
          desk: none
        codes:
          billing_codes:
            - {code: 90837, fee: 150.10}
            - {code: 90791, fee: 150}
        """)).encode(), "p.yaml")
    assert d.providers["smith"].account_id == "0755"
    assert d.codes is not None
    fees = {k: r["fee"] for k, r in d.codes.inline["billing_codes"].items()}
    assert fees == {"90837": "150.10", "90791": "150.00"}


def test_master_defaults_to_full_and_must_keep_account_access() -> None:
    d = load_text(BASE.encode(), "p.yaml")
    assert d.privileges["admin"].resolve("100517") == {a: "full" for a in d.privileges[
        "admin"].resolve("100517")}
    assert errors(BASE + "privileges:\n  admin: {jones: {account_access: view}}\n") == [
        "p.yaml:19:10: the master username admin must keep full account_access in every account"
    ]
    partial = load_text((BASE + "privileges:\n  admin: {all: {notes: none}}\n").encode(), "p")
    assert partial.privileges["admin"].resolve("100482")["notes"] == "none"
    assert partial.privileges["admin"].resolve("100482")["billing"] == "full"


def test_every_problem_reported_with_line_and_column() -> None:
    assert errors("""\
        version: 1
        practice:
          nmae: Riverside
          tin: "12-34"
        providers:
          smith:
            name: Jane
            account_id: "10a"
            bills_electronically: NO
            login: {username: jsmith, password: hunter2}
        master: {username: admin, password: "${M}", home: smith}
        """) == [
        "p.yaml:3:3: missing required key 'name' in practice",
        "p.yaml:3:3: unknown key 'nmae' in practice (did you mean 'name'?)",
        "p.yaml:4:8: practice.tin: TIN '12-34' is not 9 digits (NN-NNNNNNN)",
        "p.yaml:8:17: providers.smith.account_id: '10a' is not an Account ID (digits)",
        "p.yaml:9:27: providers.smith.bills_electronically: must be true or false, not 'NO'",
        "p.yaml:10:41: providers.smith.login.password: a password must be a ${VARIABLE} "
        "reference, never the password itself",
    ]


def test_cross_reference_errors() -> None:
    assert errors(BASE.replace("home: smith", "home: smyth") + textwrap.dedent("""\
        usernames:
          JSMITH: {password: "${X}", home: jones, accounts: [smith, nobody]}
          desk: {password: "${D}", home: smith}
        privileges:
          ghost: full
          desk: {jones: view, all: {payroll: full}}
        codes:
          copy_to: [jones, jones]
          billing_codes:
            - {code: "9083"}
            - {code: "90837", fee: "-1"}
        """)) == [
        "p.yaml:17:9: unknown provider 'smyth' (did you mean 'smith'?)",
        "p.yaml:19:3: staff username 'JSMITH' needs an entry under privileges",
        "p.yaml:19:11: username 'JSMITH' is already used at providers.smith.login.username "
        "(usernames are unique ignoring case)",
        "p.yaml:19:61: unknown provider 'nobody' (use a key under providers)",
        "p.yaml:22:3: privileges for 'ghost', which is not the master, a staff username or a "
        "provider login",
        "p.yaml:23:10: desk can't access jones's account 100517; add it to its accounts",
        "p.yaml:23:29: unknown area 'payroll'",
        "p.yaml:27:7: billing code '9083' is not a 5-character code (like 90837)",
        "p.yaml:28:7: fee '-1' is not an amount of money (digits, at most two decimals, not "
        "negative, under a trillion)",
    ]


def test_duplicate_keys_are_errors_not_silently_dropped() -> None:
    assert errors(BASE + "master: {username: other}\n") == [
        "p.yaml:18:1: duplicate key 'master' (first at line 14)"]


@pytest.mark.parametrize("text, message", [
    ("", "p.yaml:1:1: file is empty"),
    ("# only a comment\n", "p.yaml:1:1: file is empty"),
    ("- a\n- b\n", "p.yaml:1:1: the file must be a mapping (version:, practice:, providers:, …)"),
    ("version: [1\n", "p.yaml:1:10: this [ list is never closed with ] (YAML parser: did "
                      "not find expected ',' or ']')"),
    ("version: 1\npractice: {name: 'Dr. O'Brien', tin: x}\n",
     "p.yaml:2:25: expected a comma or } here: a comma missing between two items, or a quote "
     "inside a quoted value? (YAML parser: did not find expected ',' or '}')"),
    ("version: 1\npractice:\n  name: 'Dr. O'Brien'\n  tin: x\n",
     "p.yaml:3:16: YAML can't read what follows a value on this line: a quote inside a quoted "
     "value (write '' for ' inside '…', \\\" inside \"…\"), text after a closing quote, or a "
     "missing colon (YAML parser: did not find expected key)"),
    ("version: 1\npractice:\n  name: x\n   tin: y\n",
     "p.yaml:4:7: a colon here starts a key where there can't be one: check this line's "
     "indentation, or quote a value that contains ': ' (YAML parser: mapping values are not "
     "allowed in this context)"),
    ("version: 1\nlist:\n  - a\n - b\n",
     "p.yaml:4:2: this line's indentation doesn't match the lines above it (the keys of one "
     "mapping line up exactly) (YAML parser: did not find expected key)"),
    ("version: 1\nlist:\n  - a\n  b: c\n",
     "p.yaml:4:3: the items of a list line up: put each `- ` at the same column as the first "
     "(YAML parser: did not find expected '-' indicator)"),
    ("version: !!python/object/apply:os.system [echo]\n",
     "p.yaml:1:10: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed "
     "(only plain YAML data)"),
    ("version: !custom 1\n", "p.yaml:1:10: tag '!custom' is not allowed (only plain YAML data)"),
    ("a: &a [*a]\n", "p.yaml:1:4: recursive alias"),
])
def test_yaml_traps(text: str, message: str) -> None:
    assert errors(text) == [message]


def test_null_in_any_spelling_is_a_missing_value() -> None:
    # libyaml marks a plain scalar's style '' where PyYAML's own parser says None: both are
    # plain, and `~`/`null` there is no text
    for spelling in ("~", "null", "Null", "NULL", ""):
        found = errors(BASE.replace("name: Riverside", f"name: {spelling}"))
        assert [f.split(":", 3)[3] for f in found] == [
            " practice.name: is empty; it needs a value"], spelling
    d = load_text(BASE.replace("name: Riverside", 'name: "~"').encode(), "p.yaml")
    assert d.practice_name == "~"  # quoted, it is text


@pytest.mark.parametrize("name", ["   ", "\\u200b", "\\u00a0", "\\u2060\\u200d"])
def test_a_name_nobody_could_read_is_blank(name: str) -> None:
    found = errors(BASE.replace("name: Riverside", f'name: "{name}"'))
    assert [f.split(":", 3)[3] for f in found] == [
        " practice.name: is blank; it needs a name a reader can see"], name


def test_an_enormous_fee_is_refused_not_a_crash() -> None:
    found = errors(BASE + 'codes:\n  billing_codes:\n    - {code: "90837", fee: '
                          '12345678901234567890123456789}\n')
    assert found == ["p.yaml:20:7: fee '12345678901234567890123456789' is not an amount of "
                     "money (digits, at most two decimals, not negative, under a trillion)"]


def test_alias_bomb_refused_quickly() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    found = errors("\n".join(lines) + "\n")
    assert len(found) == 1 and "aliases expand to more than 10000 nodes" in found[0]


def test_merge_keys_work_and_explicit_keys_win() -> None:
    d = load_text((BASE + textwrap.dedent("""\
        usernames:
          desk: {password: "${D}", home: smith, accounts: all}
        privileges:
          desk:
            all: &staff {clients: view, scheduling: full}
            jones: {<<: *staff, scheduling: view}
        """)).encode(), "p.yaml")
    assert d.privileges["desk"].resolve("100517")["scheduling"] == "view"
    assert d.privileges["desk"].resolve("100517")["clients"] == "view"


def test_not_utf8() -> None:
    with pytest.raises(ConfigError, match=r"p.yaml:2:7: file is not UTF-8 text"):
        load_text(b"version: 1\nname: \xff\xfe\n", "p.yaml")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: file not found"):
        load_file(tmp_path / "nope.yaml")


def test_env_file_and_secrets(tmp_path: Path) -> None:
    env = tmp_path / "x.env"
    env.write_text("# comment\nexport A=one\nB='two words'\n\nC=\"q\"\n")
    values = load_env_file(env)
    assert values == {"A": "one", "B": "two words", "C": "q"}
    secrets = Secrets(values, environ={"A": "from-env"})
    assert secrets.get("A", "x") == "from-env"  # the environment wins
    assert secrets.get("B", "x") == "two words"
    with pytest.raises(SecretError, match=r"\$\{D\} is not set \(the master's login\)"):
        secrets.get("D", "the master's login")
    bad = tmp_path / "bad.env"
    bad.write_text("GOOD=1\nthis line has hunter2 in it\n")
    with pytest.raises(ConfigError) as exc:
        load_env_file(bad)
    assert str(exc.value) == f"{bad}:2:1: expected NAME=value"


def test_reference_typos_are_reported_with_shape_errors() -> None:
    found = errors(BASE.replace("home: smith", "home: smyth").replace(
        "  name: Riverside", "  nmae: Riverside"))
    assert "p.yaml:17:9: unknown provider 'smyth' (did you mean 'smith'?)" in found
    assert "p.yaml:3:3: unknown key 'nmae' in practice (did you mean 'name'?)" in found
