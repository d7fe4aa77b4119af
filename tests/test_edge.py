"""The service's edge against real clients on loopback: oversized, slow, hostile and
replayed requests, and throttling per client address (docs/contracts.md, "Hardening: saved plans,
passwords and text").

Every test here runs a real `groupsync serve` process and talks to it over real sockets; the
service's memory is read from /proc, never assumed.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from groupsync.accounts import open_system

from .conftest import DEMO_ENV, EXAMPLE, Result, demo_env
from .support import free_port, serving

Run = Callable[..., Result]
FILES = ("-f", str(EXAMPLE), "--env-file", str(DEMO_ENV))
DEMO = demo_env()
MIB = 1024 * 1024


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _raw(port: int, head: bytes, body: bytes = b"", stream: int = 0,
         source: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    """One request over a plain socket: `head`, then `body`, then `stream` bytes of zeros
    sent from a thread (as a client that keeps sending after being refused would). Returns
    the status, headers and body of the answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30,
                                    source_address=(source, 0))

    def send() -> None:
        try:
            sock.sendall(head + body)
            chunk = b"0" * MIB
            for _ in range(stream // MIB):
                sock.sendall(chunk)
        except OSError:
            pass  # the service closed the connection: what we want

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            more = sock.recv(65536)
            if not more:
                break
            data += more
        header_block, _, rest = data.partition(b"\r\n\r\n")
        lines = header_block.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            more = sock.recv(65536)
            if not more:
                break
            rest += more
    finally:
        sock.close()
    sender.join(timeout=30)
    return int(lines[0].split()[1]), headers, rest


def _login(url: str, username: str, password: str, source: str = "127.0.0.1") -> httpx.Response:
    with httpx.Client(transport=httpx.HTTPTransport(local_address=source)) as client:
        return client.post(f"{url}/v1/login", json={"username": username, "password": password})


@pytest.fixture
def applied(run: Run, tmp_path: Path) -> str:
    """A SQLite store with the example practice applied (the master exists)."""
    assert run("sandbox", *FILES).code == 0
    assert run("apply", *FILES, "--auto-approve").code == 0
    return str(tmp_path / "groupsync.db")


def test_bodies_are_capped_before_they_are_read(applied: str, tmp_path: Path) -> None:
    with serving(applied, tmp_path, "--max-body", str(MIB)) as (url, proc):
        port = int(url.rsplit(":", 1)[1])
        _raw(port, b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        base = _rss_mib(proc.pid)
        json_head = ("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: {length}\r\n{extra}\r\n")
        # a stranger's 48 MiB apply: refused on its headers (no token), the body never read
        status, _, body = _raw(port, json_head.format(path="/v1/apply", length=48 * MIB,
                                                      extra="").encode(), stream=48 * MIB)
        assert status == 401 and json.loads(body)["error"] == "login_required"
        # 50 MB to the log-in, declared: 413 at once
        status, headers, body = _raw(port, json_head.format(path="/v1/login", length=50 * MIB,
                                                            extra="").encode(), stream=50 * MIB)
        assert status == 413 and headers["connection"] == "close"
        assert json.loads(body) == {"detail": "the body is larger than 8192 bytes, the limit "
                                              "before logging in", "error": "too_large"}
        # ... and chunked, with no length: cut off once past the cap
        chunked = (b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n")
        piece = b"%x\r\n%s\r\n" % (4096, b"a" * 4096)
        status, _, _ = _raw(port, chunked, body=piece * 4)
        assert status == 413
        # logged in: up to --max-body, not past it
        token = _login(url, "riverside-admin", DEMO["MASTER_PASSWORD"]).json()["token"]
        auth = f"Authorization: Bearer {token}\r\n"
        status, _, body = _raw(port, json_head.format(path="/v1/apply", length=2 * MIB,
                                                      extra=auth).encode(), stream=2 * MIB)
        assert status == 413 and "serve --max-body" in json.loads(body)["detail"]
        status, _, body = _raw(port, json_head.format(path="/v1/apply", length=2,
                                                      extra=auth).encode(), body=b"{}")
        assert status == 422  # under the cap: read, then refused for its content
        # bodies are JSON
        status, _, body = _raw(port, b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                     b"text/plain\r\nContent-Length: 2\r\n\r\n", body=b"hi")
        assert status == 415 and json.loads(body)["error"] == "unsupported_media_type"
        assert httpx.get(f"{url}/v1/health").status_code == 200
        grown = _rss_mib(proc.pid) - base
        assert grown < 20, f"the service grew by {grown:.0f} MiB refusing ~100 MiB of bodies"


def test_slow_clients_time_out_and_health_stays_up(applied: str, tmp_path: Path) -> None:
    timeouts = {"GROUPSYNC_HEADER_TIMEOUT": "2", "GROUPSYNC_BODY_IDLE_TIMEOUT": "2"}
    with serving(applied, tmp_path, env=timeouts) as (url, proc):
        port = int(url.rsplit(":", 1)[1])
        slow = []
        for _ in range(300):  # slowloris: connect, start a request head, never finish it
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slow.append(s)
        started = time.monotonic()  # another client is served at once
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as other:
            assert other.get(f"{url}/v1/health", timeout=5).status_code == 200
        assert time.monotonic() - started < 2
        token = _login(url, "riverside-admin", DEMO["MASTER_PASSWORD"],
                       source="127.0.0.3").json()["token"]
        # a slow body: the head and 10 of 100 promised bytes, then nothing
        body_sock = socket.create_connection(("127.0.0.1", port),
                                             source_address=("127.0.0.3", 0))
        body_sock.sendall(f"POST /v1/apply HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}"
                          "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                          '{"plan": {'.encode())
        time.sleep(3.5)
        closed = 0
        for s in slow:
            s.settimeout(1)
            try:
                closed += s.recv(1) == b""
            except ConnectionResetError:
                closed += 1
            except TimeoutError:
                pass  # still open: counted as not closed
            s.close()
        assert closed == 300, f"only {closed} of 300 slow connections were closed"
        body_sock.settimeout(5)
        answer = body_sock.recv(65536)
        body_sock.close()
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b'"error": "timeout"' in answer
        assert httpx.get(f"{url}/v1/health", timeout=5).status_code == 200
        assert proc.poll() is None


def test_a_stranger_cannot_lock_out_the_master(run: Run, applied: str, tmp_path: Path) -> None:
    with serving(applied, tmp_path) as (url, _proc):
        own = _login(url, "jsmith", DEMO["SMITH_PASSWORD"], source="127.0.0.2").json()["token"]
        for i in range(5):  # a stranger at 127.0.0.2 guesses the master's password
            r = _login(url, "riverside-admin", "guess-guess-guess", source="127.0.0.2")
            assert (r.status_code, r.json()["error"]) == (401, "login_failed")
            if i == 3:  # using a token it holds neither clears nor resets the count
                with httpx.Client(transport=httpx.HTTPTransport(
                        local_address="127.0.0.2")) as client:
                    assert client.get(f"{url}/v1/state", headers={
                        "Authorization": f"Bearer {own}"}).status_code == 200
        locked = _login(url, "riverside-admin", DEMO["MASTER_PASSWORD"], source="127.0.0.2")
        assert (locked.status_code, locked.json()["error"]) == (429, "login_locked")
        for _ in range(5):  # a name that does not exist locks the same way, with the same words
            r = _login(url, "nobody-here", "guess-guess-guess", source="127.0.0.2")
        ghost = _login(url, "nobody-here", "guess-guess-guess", source="127.0.0.2")
        assert ghost.status_code == 429
        assert ghost.json()["detail"].replace("nobody-here", "X") == \
            locked.json()["detail"].replace("riverside-admin", "X")
        # the master, from its own address, the CLI through the service, and the CLI on the
        # store itself are all unaffected
        assert _login(url, "riverside-admin", DEMO["MASTER_PASSWORD"]).status_code == 200
        r = run("plan", *FILES, "--store", url)
        assert r.code == 0 and r.out.endswith("No changes. The store matches the file.\n"), r.err
    r = run("plan", *FILES)
    assert r.code == 0, r.err
    entries = open_system(applied).audit()
    failed = [e for e in entries if e.action == "login_failed"]
    assert len(failed) == 10 and {e.detail["address"] for e in failed} == {"127.0.0.2"}
    assert sum(1 for e in failed if e.detail["locked"]) == 2  # one entry per lock


def test_the_trusted_proxy_names_the_client(applied: str, tmp_path: Path) -> None:
    with serving(applied, tmp_path, "--trusted-proxy", "127.0.0.1") as (url, _proc):
        with httpx.Client() as client:  # from the proxy: the last X-Forwarded-For address
            client.post(f"{url}/v1/login", json={"username": "jsmith", "password": "wrong-pw"},
                        headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.7"})
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as client:
            # not from the proxy: the header is the client's own words, and ignored
            client.post(f"{url}/v1/login", json={"username": "jsmith", "password": "wrong-pw"},
                        headers={"X-Forwarded-For": "203.0.113.8"})
    addresses = [e.detail["address"] for e in open_system(applied).audit()
                 if e.action == "login_failed"]
    assert addresses == ["127.0.0.2", "203.0.113.7"]


def test_no_answer_echoes_what_was_sent(applied: str, tmp_path: Path) -> None:
    secret = "S3cret-never-echo-me"
    with serving(applied, tmp_path) as (url, _proc):
        answers = [
            httpx.post(f"{url}/v1/login", json={"user": "jsmith", "password": secret}),
            httpx.post(f"{url}/v1/login", json={"username": "jsmith", "password": secret * 60}),
            httpx.post(f"{url}/v1/login", json={"username": secret, secret: secret}),
            httpx.post(f"{url}/v1/login", json={"username": secret, "password": secret}),
            httpx.post(f"{url}/v1/login", content=b'{"username": "' + secret.encode() + b'"',
                       headers={"Content-Type": "application/json"}),
        ]
        token = _login(url, "riverside-admin", DEMO["MASTER_PASSWORD"]).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        answers += [
            httpx.post(f"{url}/v1/apply", json={"passwords": {"riverside-admin": secret}},
                       headers=auth),
            httpx.post(f"{url}/v1/apply", headers=auth, json={
                "plan": {"changes": [{"type": secret, "action": "add"}]},
                "passwords": {secret: secret}}),
            httpx.get(f"{url}/v1/audit", params={"limit": secret}, headers=auth),
        ]
    for answer in answers:
        assert 400 <= answer.status_code < 500, answer.text
        assert set(answer.json()) == {"detail", "error"}, answer.text
        assert "S3cret" not in answer.text, answer.text
    # nor is a name typed at the log-in (a password in the wrong box) kept as typed
    assert b"s3cret" not in Path(applied).read_bytes().lower()


def test_a_busy_port_is_one_line_and_exit_1(run: Run, applied: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = run("serve", "--store", applied, "--listen", f"127.0.0.1:{port}")
    assert r.code == 1
    assert r.err == f"Error: can't listen on 127.0.0.1:{port}: Address already in use\n"


def test_tokens_live_in_the_store_and_outlive_a_restart(applied: str, tmp_path: Path) -> None:
    port = free_port()
    with serving(applied, tmp_path, port=port) as (url, _proc):
        token = _login(url, "jsmith", DEMO["SMITH_PASSWORD"]).json()["token"]
    with serving(applied, tmp_path) as (url, _proc):  # another process, same store
        seen = httpx.get(f"{url}/v1/state", headers={"Authorization": f"Bearer {token}"})
        assert seen.status_code == 200
        forged = httpx.get(f"{url}/v1/state", headers={"Authorization": f"Bearer {token}x"})
        assert forged.status_code == 401
    tokens = open_system(applied).storage
    assert token not in Path(applied).read_bytes().decode("latin-1")
    assert tokens.token_owner("0" * 64, time.time()) is None


def test_concurrent_guesses_cannot_slip_past_the_lock(applied: str, tmp_path: Path) -> None:
    """From the security review: 60 wrong passwords sent at once from one address. Each
    attempt is counted before its password is checked, so at most five are checked."""
    from concurrent.futures import ThreadPoolExecutor

    with serving(applied, tmp_path) as (url, _proc):
        with ThreadPoolExecutor(max_workers=30) as pool:
            answers = list(pool.map(
                lambda _: _login(url, "dchen", "guess-guess-guess", source="127.0.0.7"),
                range(60)))
    kinds = [a.json()["error"] for a in answers]
    assert kinds.count("login_failed") <= 5, kinds
    assert set(kinds) <= {"login_failed", "login_locked"}
    assert all(a.headers.get("retry-after") for a in answers if a.status_code == 429)
    checked = [e for e in open_system(applied).audit() if e.action == "login_failed"]
    assert len(checked) == kinds.count("login_failed")


def test_requests_http_cannot_parse_get_the_one_shape_and_no_proxy_is_trusted_by_default(
    applied: str, tmp_path: Path
) -> None:
    with serving(applied, tmp_path) as (url, _proc):
        port = int(url.rsplit(":", 1)[1])
        for head in (b"Content-Length: -5\r\n", b"Content-Length: 2\r\nContent-Length: 3\r\n",
                     b"Transfer-Encoding: gzip, chunked\r\n"):
            status, headers, body = _raw(port, b"POST /v1/login HTTP/1.1\r\nHost: x\r\n"
                                               b"Content-Type: application/json\r\n" + head
                                               + b"\r\n")
            assert (status, json.loads(body)["error"]) == (400, "bad_request"), head
            assert headers["content-type"] == "application/json"
        slash = httpx.get(f"{url}/v1/state/", headers={"Host": "evil.example"})
        assert slash.status_code in (401, 404) and "evil" not in slash.text
        # X-Forwarded-For from loopback, with no --trusted-proxy: ignored
        httpx.post(f"{url}/v1/login", json={"username": "jsmith", "password": "wrong-pw-1"},
                   headers={"X-Forwarded-For": "10.66.0.1"})
    failed = [e for e in open_system(applied).audit() if e.action == "login_failed"]
    assert [e.detail["address"] for e in failed] == ["127.0.0.1"]


def test_a_log_in_with_a_fallback_costs_one_log_in_and_falls_back_only_for_no_such_name(
        applied: str, tmp_path: Path) -> None:
    """`POST /v1/login` with `or`: the master when it exists, else the provider login, one
    log-in either way; a name that exists is never skipped for the fallback (a wrong
    password there fails and counts as any), and the fallback is a counted name look-up."""
    smith = {"username": "jsmith", "password": DEMO["SMITH_PASSWORD"]}
    with serving(applied, tmp_path) as (url, _proc), httpx.Client(base_url=url) as client:
        r = client.post("/v1/login", json={"username": "riverside-admin",
                                           "password": DEMO["MASTER_PASSWORD"], "or": smith})
        assert (r.status_code, r.json()["username"]) == (200, "riverside-admin")
        r = client.post("/v1/login", json={"username": "no-master-yet", "password": "x" * 12,
                                           "or": smith})
        assert (r.status_code, r.json()["username"]) == (200, "jsmith")
        r = client.post("/v1/login", json={"username": "riverside-admin",
                                           "password": "guess-guess-guess", "or": smith})
        assert (r.status_code, r.json()["error"]) == (401, "login_failed")
        r = client.post("/v1/login", json={"username": "no-master-yet", "password": "x" * 12,
                                           "or": {**smith, "password": "wrong-wrong"}})
        assert (r.status_code, r.json()["error"]) == (401, "login_failed")
        assert "jsmith" not in r.text and "no-master-yet" not in r.text
    failed = [e for e in open_system(applied).audit() if e.action == "login_failed"]
    assert sorted(e.actor for e in failed) == ["jsmith", "riverside-admin"]


def test_no_request_remembers_another_requests_password(applied: str) -> None:
    """`serve` runs inside its command's scope of verified log-ins, and every request's
    context is copied from the event loop's: each request must start with none, so no
    password outlives the request that brought it (and every log-in pays its own hash)."""
    import asyncio

    from groupsync.accounts.memo import login_memo, remembering_logins
    from groupsync.server import create_app

    app = create_app(open_system(applied))
    body = {"username": "riverside-admin", "password": DEMO["MASTER_PASSWORD"]}

    async def twice() -> list[int]:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://groupsync") as c:
            return [(await c.post("/v1/login", json=body)).status_code for _ in range(2)]

    with remembering_logins():  # as the `serve` command's body runs
        outer = login_memo()
        assert asyncio.run(twice()) == [200, 200]
        assert outer == {}


def test_a_plan_through_the_service_is_one_log_in_and_one_read(run: Run, applied: str,
                                                                  tmp_path: Path) -> None:
    """A no-op plan through `serve` costs one log-in and one state read, which brings the
    review status with it (`review=`); `GET /v1/review-status` answers alike for anyone who
    asks it alone."""
    with serving(applied, tmp_path) as (url, _proc):
        r = run("plan", *FILES, "--store", url, "--detailed-exitcode")
        assert (r.code, r.out) == (0, "No changes. The store matches the file.\n")
        token = _login(url, "riverside-admin", DEMO["MASTER_PASSWORD"]).json()["token"]
        accounts = sorted(open_system(applied).read_state().accounts)
        with httpx.Client(base_url=url, headers={"authorization": f"Bearer {token}"}) as c:
            alone = c.get("/v1/review-status", params={"account": accounts}).json()
            together = c.get("/v1/state", params={"review": accounts}).json()
            plain = c.get("/v1/state").json()
    assert together["review"] == {"last": alone["last"], "break_glass": alone["break_glass"]}
    assert "review" not in plain and {**together, "review": None} == {**plain, "review": None}
    log = (tmp_path / f"serve-{url.rsplit(':', 1)[1]}.log").read_text()
    requests = [line.split('"')[1].rsplit(" ", 1)[0] for line in log.splitlines()
                if 'HTTP/1.1" ' in line and "/v1/health" not in line]
    plan = requests[:requests.index("POST /v1/login", 1)]  # up to the test's own log-in
    assert [q.split("?")[0] for q in plan] == ["POST /v1/login", "GET /v1/state"]
    assert "review=" in plan[1]


@pytest.mark.parametrize("remade", [True, False])
def test_a_username_deleted_while_its_request_is_in_flight_is_logged_out(
        applied: str, remade: bool) -> None:
    """GET /v1/state takes the username its token's check read; deleted (and perhaps made
    again, another person with another id) between that check and the read, it is refused
    as logged out: never the new person's accounts, never a 500."""
    from starlette.testclient import TestClient

    from groupsync.server import create_app

    system = open_system(applied)
    checked = system.token_owner
    armed = [False]

    def check_then_delete(token: str) -> object:
        owner = checked(token)
        if armed[0]:
            armed[0] = False
            with system.session("riverside-admin", DEMO["MASTER_PASSWORD"]) as s:
                s.delete_username("frontdesk")
            if remade:
                system.signup("New Person", "frontdesk", "pw-new-frontdesk-2026", "300001")
        return owner

    system.token_owner = check_then_delete  # type: ignore[method-assign]
    client = TestClient(create_app(system), raise_server_exceptions=False)
    token = client.post("/v1/login", json={"username": "frontdesk",
                                           "password": DEMO["FRONTDESK_PASSWORD"]}).json()
    headers = {"authorization": f"Bearer {token['token']}"}
    assert client.get("/v1/state", headers=headers).status_code == 200
    armed[0] = True
    r = client.get("/v1/state", headers=headers, params={"review": ["300001"]})
    assert (r.status_code, r.json()["error"]) == (401, "login_failed")
    assert "300001" not in r.text
