"""Helpers several test modules share: a running service, a store's write lock, a real
terminal, the editor schema's verdict. Shared here so no test imports another test."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import yaml

from groupsync.schema import practice_schema


def _multiple_of(validator: Any, step: Any, instance: Any, _schema: Any) -> Iterator[Any]:
    # jsonschema divides floats (120.5 / 0.01 = 12049.999…) and so refuses valid fees; an
    # editor's validator normalises decimals. Decimal arithmetic is what the keyword means.
    if validator.is_type(instance, "number") and \
            Decimal(str(instance)) % Decimal(str(step)) != 0:
        yield jsonschema.ValidationError(f"{instance} is not a multiple of {step}")


Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator,
                                         {"multipleOf": _multiple_of})


def _revision(store: Path) -> int | None:
    conn = sqlite3.connect(store, timeout=0)
    try:
        return int(conn.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()[0])
    except sqlite3.OperationalError:
        return None  # the writer is committing right now
    finally:
        conn.close()



def schema_problems(text: str | bytes) -> list[str] | None:
    """What the schema says of a file as PyYAML reads it (None: not YAML at all)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return [e.message for e in Validator(practice_schema()).iter_errors(data)]


def on_terminal(tmp_path: Path, *args: str, answer: str | None = None,
                 color: bool = False, codes: list[int] | None = None) -> str:
    """Run groupsync on a real pseudo-terminal, answering its question if asked (the answer
    `^C` sends SIGINT instead, as Ctrl-C would); its exit code is appended to `codes`."""
    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_PASSWORD") and k != "NO_COLOR"}
    if not color:
        env["NO_COLOR"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "groupsync", *args],
                            cwd=tmp_path, stdin=secondary, stdout=secondary, stderr=secondary,
                            env=env)
    os.close(secondary)
    out = b""
    answered = answer is None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
            if not answered and b"Only 'yes' will be accepted" in out:
                if answer == "^C":
                    proc.send_signal(signal.SIGINT)
                else:
                    os.write(primary, (answer or "").encode() + b"\n")
                answered = True
        elif proc.poll() is not None:
            break
    code = proc.wait(timeout=30)
    if codes is not None:
        codes.append(code)
    os.close(primary)
    return out.decode().replace("\r\n", "\n")


def write_lock_held(store: Path) -> bool:
    """True while another connection holds the store's write lock (an apply's transaction,
    from its BEGIN IMMEDIATE to its COMMIT). Asks SQLite itself, without waiting."""
    conn = sqlite3.connect(store, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return True
        raise
    finally:
        conn.close()


def kill_at(proc: subprocess.Popen[Any], store: Path, marker: str, delay: float) -> bool:
    """SIGKILL `proc` `delay` seconds after `marker` is seen: "lock" (its write transaction is
    open), "journal" (it is writing: the rollback journal exists) or "committed" (the store's
    revision moved: the commit is durable, the command not yet finished). False when the
    process ended before the marker was seen: then the kill proved nothing."""
    journal = Path(f"{store}-journal")
    start = _revision(store)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if marker == "lock" and write_lock_held(store):
            break
        if marker == "journal" and journal.exists():
            break
        if marker == "committed" and (now := _revision(store)) is not None and now != start:
            break
        time.sleep(0.0005 if marker == "journal" else 0.002)
    else:
        return False
    time.sleep(delay)
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGKILL)
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(store: str, cwd: Path, *args: str, env: dict[str, str] | None = None,
            port: int | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = port or free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.endswith("_PASSWORD")}
    full_env.update(env or {})
    log = (cwd / f"serve-{port}.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "groupsync", "serve", "--store", store,
                             "--listen", f"127.0.0.1:{port}", *args], cwd=cwd, env=full_env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (cwd / f"serve-{port}.log").read_text()
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.1)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            if proc.poll() is None:
                proc.kill()
        log.close()
