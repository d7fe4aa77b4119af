"""A corpus of broken practice files: each fails with exit 1, FILE:LINE pointers, no traceback,
and the store untouched. Plus a bounded fuzz run of the loader."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from groupsync.config import load_file, load_text
from groupsync.errors import ConfigError

from .conftest import DEMO_ENV, EXAMPLE, Result, demo_env
from .helpers import budget

BAD = Path(__file__).parent / "data" / "bad"
CORPUS = sorted(BAD.glob("*.yaml"))
Run = Callable[..., Result]


# What each broken file is meant to show: every problem's message, after FILE:LINE:COL.
EXPECTED: dict[str, list[str]] = json.loads((BAD / "expected.json").read_text())


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 40
    assert sorted(EXPECTED) == [p.name for p in CORPUS]


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_each_broken_file_shows_the_problem_it_is_for(path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_file(path)
    assert [str(p).split(": ", 1)[1] for p in caught.value.problems] == EXPECTED[path.name]


@pytest.fixture
def store(run: Run, tmp_path: Path) -> Path:
    assert run("sandbox", "-f", str(EXAMPLE), "--env-file", str(DEMO_ENV)).code == 0
    return tmp_path / "groupsync.db"


def _check_refused(run: Run, store: Path, path: Path, env: dict[str, str] | None = None) -> str:
    before = store.read_bytes()
    r = run("apply", "--auto-approve", "-f", str(path), env=env if env is not None
            else {**demo_env(), "FRONTDESK_PASSWORD": "x"})
    assert r.code == 1, (path.name, r.out, r.err)
    assert r.out == ""
    assert "Traceback" not in r.err
    lines = r.err.splitlines()
    assert lines, path.name
    pointer = re.compile(rf"^Error: {re.escape(str(path))}:\d+:\d+: \S")
    for line in lines:
        assert pointer.match(line), (path.name, line)
    assert store.read_bytes() == before, path.name
    return r.err


def test_every_broken_file_is_refused_with_a_pointer(run: Run, store: Path) -> None:
    for path in CORPUS:
        _check_refused(run, store, path)


def test_an_enormous_file_is_refused(run: Run, store: Path, tmp_path: Path) -> None:
    big = tmp_path / "enormous.yaml"
    with big.open("w") as fh:
        fh.write("version: 1\nx:\n")
        line = "  - " + "a" * 1000 + "\n"
        for _ in range(17 * 1024):
            fh.write(line)
    err = _check_refused(run, store, big)
    assert err == f"Error: {big}:1:1: file is larger than 16 MiB\n"


def test_an_unset_variable_names_where_it_is_used(run: Run, store: Path) -> None:
    env = demo_env()
    del env["FRONTDESK_PASSWORD"]
    err = _check_refused(run, store, EXAMPLE, env=env)
    assert err == (f"Error: {EXAMPLE}:59:15: ${{FRONTDESK_PASSWORD}} is not set (the password of "
                   "frontdesk); set it in the environment or an --env-file\n")


# -- a bounded fuzz of the loader: nothing but ConfigError may come out ------------------------

VALID = EXAMPLE.read_bytes()
# Keys spelled like pydantic's union-branch tags once crashed the loader (IndexError) or put
# the problem at the wrong key; found by the fuzz tests below.
TAG_LIKE_KEYS = ["str", "bool", "list[x", "function-after[x]", "literal['all']", "dict[str,str]"]


def _load_problems(data: bytes) -> list[str]:
    try:
        load_text(data, "fuzz.yaml")
    except ConfigError as exc:
        assert exc.problems and all(str(p).startswith("fuzz.yaml") for p in exc.problems)
        return [str(p) for p in exc.problems]
    return []


@pytest.mark.parametrize("key", TAG_LIKE_KEYS)
def test_a_top_level_key_spelled_like_a_type_is_an_unknown_key(key: str) -> None:
    problems = _load_problems(VALID + f"{key!r}: 1\n".encode())
    last_line = VALID.count(b"\n") + 1
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"fuzz.yaml:{last_line}:1: unknown key {key!r} in the top "
                                  "level ("), problems


@pytest.mark.parametrize("key", TAG_LIKE_KEYS)
def test_a_username_spelled_like_a_type_is_reported_at_its_own_field(key: str) -> None:
    text = VALID.replace(b"  frontdesk:\n    person: Sam Okafor\n    password:",
                         f"  {key!r}:\n    person: Sam Okafor\n    password:".encode())
    text = text.replace(b"${FRONTDESK_PASSWORD}", b"literal")
    problems = _load_problems(text)
    assert any(f"usernames.{key}.password: a password must be a ${{VARIABLE}} reference" in p
               for p in problems), problems


@settings(max_examples=budget(300))
@given(st.binary(max_size=400))
@example(b"version: 1\nstr: 1\n")
@example(b"version: 1\nfunction-after[x]: 1\n")
def test_fuzz_random_bytes(data: bytes) -> None:
    _load_problems(data)


@settings(max_examples=budget(300))
@given(st.integers(0, len(VALID) - 1), st.integers(0, 40), st.text(max_size=12))
@example(0, 0, "str: 1\n")
@example(0, 0, "bool: 1\n")
@example(0, 0, "list[x: 1\n")
def test_fuzz_mutations_of_a_valid_file(at: int, cut: int, insert: str) -> None:
    _load_problems(VALID[:at] + insert.encode() + VALID[at + cut:])
