"""`groupsync schema` agrees with `validate` (docs/contracts.md, "Clients and the editor schema"):
it accepts every file validate accepts and rejects every shape error a JSON Schema can express.
Checked with a real JSON Schema validator over the examples, valid variants and the whole bad
corpus, and with the real YAML language server (the client editors run), driven over LSP."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from groupsync.config import load_text
from groupsync.errors import ConfigError

from .conftest import EXAMPLE, REQUIRED, ROOT
from .lsp import LanguageServer
from .support import schema_problems

BAD = Path(__file__).parent / "data" / "bad"






def validate_accepts(text: str) -> bool:
    try:
        load_text(text.encode(), "practice.yaml")
    except ConfigError:
        return False
    return True


# Valid files an editor must not mark: how people write them (unquoted TIN, CPT codes, ids,
# fees; booleans in any YAML 1.2 spelling).
EDITS = {
    "unquoted tin": ('tin: "12-3456789"', "tin: 123456789"),
    "unquoted billing code": ('{code: "90837"', "{code: 90837"),
    "unquoted account id": ('account_id: "100482"', "account_id: 100482"),
    "unquoted fee": ('fee: "150.00"', "fee: 150.00"),
    "fee with one decimal": ('fee: "120.00"', "fee: 120.5"),
    "fee without decimals": ('fee: "200.00"', "fee: 200"),
    # 0.07 / 0.01 is 7.000000000000001 in floats: a validator that divides refuses it; the
    # editor's (and this test's) decimal arithmetic doesn't
    "fee with cents": ('fee: "85.00"', "fee: 0.07"),
    "empty description": ("description: Psychiatric diagnostic evaluation,", "description: ,"),
    "null description": ('"Psychotherapy, 30 minutes"', "null"),
    "empty fee": ('fee: "130.00"', "fee: "),
    "all-digit username": ("username: riverside-admin", "username: 007"),
    "number-like username": ("  frontdesk:\n    person", "  1234.5:\n    person"),
    "capitalised boolean": ("bills_electronically: true\n    login: {username: jsmith",
                            "bills_electronically: True\n    login: {username: jsmith"),
    "quoted boolean": ("bills_electronically: true\n    login: {username: rjones",
                       'bills_electronically: "true"\n    login: {username: rjones'),
}


@pytest.mark.parametrize("name", EDITS)
def test_the_schema_accepts_what_validate_accepts(name: str) -> None:
    old, new = EDITS[name]
    text = EXAMPLE.read_text()
    assert old in text
    text = text.replace(old, new)
    if name == "number-like username":
        text = text.replace("  frontdesk: front-desk", "  1234.5: front-desk")
    assert validate_accepts(text), name
    assert schema_problems(text) == [], name


REFUSED = {
    "bidi override in a name": ("name: Jane Smith, PhD ", 'name: "Jane\\u202eSmith" '),
    "line separator in a name": ("name: Jane Smith, PhD ", 'name: "Jane\\u2028Smith" '),
    "blank name": ("name: Jane Smith, PhD ", 'name: "   " '),
    "account id of 21 digits": ('account_id: "100482"', "account_id: 123456789012345678901"),
    "fee of three decimals": ('fee: "150.00"', "fee: 1.234"),
    "negative fee": ('fee: "150.00"', "fee: -5"),
}


@pytest.mark.parametrize("name", REFUSED)
def test_the_schema_refuses_what_validate_refuses(name: str) -> None:
    old, new = REFUSED[name]
    text = EXAMPLE.read_text()
    assert old in text
    text = text.replace(old, new)
    assert not validate_accepts(text), name
    assert schema_problems(text), name


def test_the_examples_match_the_schema() -> None:
    example = EXAMPLE.read_text()
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        text = path.read_text()
        if path.name == "policies.yaml":
            # a set to paste into a practice file: checked where it goes, in the example
            start = example.index("policies:\n")
            text = (example[:start] + text[text.index("policies:\n"):]
                    + example[example.index("\n\n", start):])
        assert schema_problems(text) == [], path.name


# What only `validate` can say: it needs more than one field at a time, or the bytes of the
# file rather than the data a YAML parser makes of them. Every other file of the bad corpus
# must be refused by the schema too (the test below fails on a new file until it is one or
# the other).
# Corpus files that are not YAML a parser accepts (syntax errors, tags, bytes that aren't
# UTF-8): refused before any schema applies, and listed so that no other file can pass
# unexamined.
NOT_YAML = {"custom_tag", "not_utf8", "python_object_apply", "python_tag", "syntax_bad_indent",
            "syntax_tab_indent", "syntax_unclosed_bracket", "syntax_unclosed_quote"}
VALIDATE_ONLY = {
    "codes_file_not_listed": "records given for a file codes.files leaves out (two fields)",
    "copy_to_master": "copy_to names the codes master (two fields)",
    "duplicate_account_id": "two providers with one Account ID (across entries)",
    "duplicate_area_key": "a duplicate key: YAML parsers keep one of the two silently",
    "duplicate_code_record": "two records with one key (across entries)",
    "duplicate_provider_key": "a duplicate key: YAML parsers keep one of the two silently",
    "duplicate_top_key": "a duplicate key: YAML parsers keep one of the two silently",
    "duplicate_username_case": "usernames equal ignoring case (across entries)",
    "fee_leading_dot": "`.5` is the number 0.5 to a YAML parser; only the text says how it "
                       "was written",
    "master_loses_account_access": "the master's resolved privileges (all + overrides)",
    "privileges_unknown_username": "a privileges key that names no declared username",
    # a word of the role pattern may be a role: which roles exist is the file's own list
    "privileges_level_alone_bad": "neither a level nor a role the file declares (a reference)",
    "privileges_unknown_username_bad_level": "neither a level nor a role the file declares "
                                             "(a reference)",
    "staff_without_privileges": "a staff username without a privileges entry (two sections)",
    "unknown_reference_codes_master": "a provider key that doesn't exist (a reference)",
    "unknown_reference_copy_to": "a provider key that doesn't exist (a reference)",
    "unknown_reference_master_home": "a provider key that doesn't exist (a reference)",
    "unknown_reference_privileges_provider": "a provider key that doesn't exist (a reference)",
    "unknown_reference_staff_accounts": "a provider key that doesn't exist (a reference)",
    "unknown_reference_staff_home": "a provider key that doesn't exist (a reference)",
    "utf16": "the file's encoding (a parser decodes UTF-16 before the schema sees data)",
    # PyYAML reads YAML 1.1, where `yes` is true; editors read YAML 1.2, where it is the
    # string "yes", which the schema refuses (the language server test below checks that).
    "wrong_type_bills_yes": "YAML 1.1 vs 1.2: refused by editors, not by PyYAML's reading",
}


@pytest.mark.parametrize("path", sorted(BAD.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_bad_file_is_refused_by_the_schema_or_listed(path: Path) -> None:
    problems = schema_problems(path.read_bytes())
    with pytest.raises(ConfigError):
        load_text(path.read_bytes(), path.name)
    if path.stem in NOT_YAML:
        # no editor gets as far as the schema: the YAML itself is what is refused
        assert problems is None, f"{path.stem} reads as YAML now: drop it from NOT_YAML"
    elif path.stem in VALIDATE_ONLY:
        assert problems == [], f"{path.stem} is refused by the schema now: drop it from the table"
    else:
        assert problems, f"the schema accepts {path.name}"


# -- the real YAML language server, over LSP ------------------------------------------------

def _language_server() -> list[str]:
    found = shutil.which("yaml-language-server")
    if found is None:
        if REQUIRED:
            pytest.fail("yaml-language-server is not installed (.ci/run installs it from npm)")
        pytest.skip("yaml-language-server is not installed (npm install -g "
                    "yaml-language-server; .ci/run does)")
    return [found, "--stdio"]


@pytest.fixture(scope="module")
def editor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LanguageServer, Path]]:
    root = tmp_path_factory.mktemp("editor")
    (root / "practice.schema.json").write_text(
        (ROOT / "examples" / "practice.schema.json").read_text())
    server = LanguageServer(_language_server(), {"yaml": {
        "validate": True, "hover": True, "completion": True, "schemaStore": {"enable": False}}})
    server.start(root)
    yield server, root
    server.close()


def _document(root: Path, name: str, *edits: tuple[str, str]) -> Path:
    text = EXAMPLE.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = root / f"{name}.yaml"
    path.write_text(text)
    return path


def test_the_editor_accepts_the_example_and_how_people_write_it(
    editor: tuple[LanguageServer, Path],
) -> None:
    server, root = editor
    assert server.open(_document(root, "example")) == []
    written = _document(root, "unquoted", *EDITS.values(), ("  garcia:\n", "  2024:\n"),
                        ("  frontdesk: front-desk", "  1234.5: front-desk"),
                        ("garcia: {role: biller", "2024: {role: biller"))
    assert validate_accepts(written.read_text())
    assert server.open(written) == []


def test_the_editor_marks_what_validate_refuses(editor: tuple[LanguageServer, Path]) -> None:
    server, root = editor
    cases = {
        "fee_precision": ('fee: "150.00"', "fee: 1.234"),
        "provider_key_caps": ("  smith:\n", "  Smith:\n"),
        "provider_key_all": ("  chen:\n", "  all:\n"),
        "empty_name": ("name: Jane Smith, PhD ", 'name: "" '),
        "bills_yes": ("bills_electronically: true\n    login: {username: jsmith",
                      "bills_electronically: yes\n    login: {username: jsmith"),
        "bad_level": ("scheduling: full}", "scheduling: admin}"),
        "unknown_area": ("{clients: view, scheduling: full}", "{clients: view, diary: full}"),
    }
    for name, edit in cases.items():
        path = _document(root, name, edit)
        assert not validate_accepts(path.read_text()), name
        diagnostics = server.open(path)
        assert diagnostics, name
        line = next(n for n, text in enumerate(path.read_text().splitlines())
                    if edit[1].strip().split("\n")[0] in text)
        assert any(d["range"]["start"]["line"] == line for d in diagnostics), (name,
                                                                               diagnostics)


def test_hover_and_completion_read_like_the_file(editor: tuple[LanguageServer, Path]) -> None:
    server, root = editor
    path = _document(root, "hover")
    assert server.open(path) == []
    lines = path.read_text().splitlines()
    at = next(n for n, text in enumerate(lines) if 'account_id: "100482"' in text)
    hover = server.hover(path, at, 6)["contents"]["value"]
    assert hover.startswith("#### Account Id\n") and "||" not in hover
    at = next(n for n, text in enumerate(lines) if "bills_electronically: true" in text)
    labels = sorted(item["label"] for item in server.completion(
        path, at, len("    bills_electronically: ")))
    assert labels == ["false", "true"]
