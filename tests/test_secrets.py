"""No password in any output, plan file, audit entry, log, or the bytes of the store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .conftest import EXAMPLE, Result, demo_env

Run = Callable[..., Result]


def test_no_secret_leaves_the_process_or_reaches_the_store(run: Run, tmp_path: Path) -> None:
    secrets = {k: f"Zq7-{k.lower()}-UNIQUE-SECRET-{i:03d}" for i, k in enumerate(demo_env())}
    env_file = tmp_path / "secrets.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in secrets.items()))
    common = ("-f", str(EXAMPLE), "--env-file", str(env_file))
    seen: list[str] = []

    def step(*args: str, env: dict[str, str] | None = None) -> Result:
        r = run(*args, env=env)
        seen.extend([r.out, r.err])
        return r

    assert step("sandbox", *common).code == 0
    assert step("validate", *common).code == 0
    assert step("plan", *common, "--out", "saved.plan").code == 0
    assert step("plan", *common, "--json").code == 0
    assert step("apply", "saved.plan", *common).code == 0
    assert step("plan", *common, "--detailed-exitcode").code == 0
    assert step("show", *common).code == 0
    assert step("show", *common, "--json").code == 0
    assert step("log", *common).code == 0
    assert step("log", *common, "--json").code == 0
    # failures too: a wrong password, a second use of the saved plan, a broken env file
    wrong = dict(secrets, MASTER_PASSWORD=secrets["MASTER_PASSWORD"] + "-typo")
    assert step("plan", *common, env=wrong).code == 1
    assert step("apply", "saved.plan", *common).code == 1
    broken = tmp_path / "broken.env"
    broken.write_text(f"this is not an assignment {secrets['CHEN_PASSWORD']}\n")
    assert step("plan", "-f", str(EXAMPLE), "--env-file", str(broken)).code == 1
    assert step("log", *common, "--json").code == 0  # the failed log-in is audited

    files = [tmp_path / "saved.plan", tmp_path / "groupsync.db"]
    blobs = [p.read_bytes() for p in files] + [s.encode() for s in seen]
    for name, value in secrets.items():
        for blob in blobs:
            assert value.encode() not in blob, name
    assert any("login_failed" in s for s in seen)  # the audit trail did record the failure
    assert b"$argon2id$" in (tmp_path / "groupsync.db").read_bytes()  # hashes only
