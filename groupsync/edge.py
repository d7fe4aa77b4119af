"""The service's edge: what every request meets before a route runs.

- The client address is the socket's peer, or, only when that peer is the one trusted reverse
  proxy (`serve --trusted-proxy`), the last address that proxy put in X-Forwarded-For.
  Throttling is per (name, address), so this decides who a stranger can and can't lock out.
- Routes that need a token have it checked *before* the body is read: a stranger's 48 MiB
  body is refused with 401 after reading its headers only.
- Bodies are capped per route (ROUTE_BODY: a practice needs a few MiB, a saved plan more, up
  to `--max-body`), and at LOGIN_BODY bytes without a token. A declared Content-Length over
  the cap gets 413 at once; a chunked body is counted as it arrives and cut off at the cap.
  Either way the rest is never read and the connection is closed. Bodies over LARGE_BODY
  take one of LARGE_BODIES_IN_FLIGHT slots while they are read and answered, so many large
  requests at once queue instead of holding gigabytes.
- The token is checked again once the body is in: a token ended (a --rotate, a deleted
  username) while a slow body arrived is refused, and the route acts on the username id the
  token named, never on a name.
- A body must arrive in time (BODY_IDLE_TIMEOUT between chunks, BODY_TOTAL_TIMEOUT in all);
  a request head must arrive within HEADER_TIMEOUT of connecting (GuardedH11). One client
  address holds at most MAX_CONNECTIONS_PER_ADDRESS connections (more are closed on
  arrival), and at most MAX_PENDING_HEADS connections in all may wait for a head: past it the
  one that has waited longest is closed, so half-sent heads from many addresses can't take
  the serving budget (MAX_CONNECTIONS, past which uvicorn answers 503) from clients that
  send whole requests.
- Misconfigured proxies are said once in the log: X-Forwarded-For from a peer that isn't
  `--trusted-proxy` (every client then counts as that peer), or the trusted proxy sending
  none (every client counts as the proxy).
- Bodies with content must be JSON (415 otherwise).

Every refusal here has the same shape as the routes': `{"detail": ..., "error": ...}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import socket
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import h11
from starlette.concurrency import run_in_threadpool
from uvicorn.protocols.http.h11_impl import H11Protocol

from groupsync.accounts.memo import forgetting_logins
from groupsync.accounts.model import User
from groupsync.defaults import DEFAULT_MAX_BODY, LOGIN_BODY, MAX_CONNECTIONS_PER_ADDRESS
from groupsync.errors import UsageError

MiB = 1024 * 1024
# Every other authenticated route's own cap (a size-L practice.yaml is 0.54 MB); a route not
# named here takes LOGIN_BODY.
ROUTE_BODY = {"/v1/plan": 4 * MiB, "/v1/notices": 2 * MiB, "/v1/names": 1 * MiB,
              "/v1/reviews": 1 * MiB, "/v1/audit/latest": 4 * MiB}
# A body above this takes a slot: 64 KiB of YAML flow sequences can be 30,000 nodes (about
# 15 MB once parsed), so practices and plans of any real size are counted, logins never.
LARGE_BODY = 64 * 1024
LARGE_BODIES_IN_FLIGHT = 2
LARGE_BODY_WAIT = 30.0  # seconds a large body may wait for a slot before a 503
log = logging.getLogger("uvicorn.error")


def _seconds(name: str, default: float) -> float:
    """A timeout, adjustable from the environment (tests shorten them; a deployment on a slow
    network may lengthen them)."""
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


HEADER_TIMEOUT = _seconds("GROUPSYNC_HEADER_TIMEOUT", 10.0)
BODY_IDLE_TIMEOUT = _seconds("GROUPSYNC_BODY_IDLE_TIMEOUT", 15.0)
BODY_TOTAL_TIMEOUT = _seconds("GROUPSYNC_BODY_TIMEOUT", 120.0)
MAX_CONNECTIONS = 4096  # in all, per process: past it uvicorn answers 503 at once
MAX_PENDING_HEADS = 512  # connections waiting for a request head, in all
LINGER_SECONDS = 2.0
MAX_TOKEN_CHARS = 256
AUTHENTICATED_PATHS = frozenset({"/v1/state", "/v1/audit", "/v1/apply", "/v1/names",
                                 "/v1/notices", "/v1/plan", "/v1/reviews",
                                 "/v1/review-status", "/v1/audit/verify",
                                 "/v1/audit/latest", "/v1/access-at"})

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def error_body(message: str, kind: str) -> dict[str, str]:
    return {"detail": message, "error": kind}


class Edge:
    """ASGI middleware in front of the routes (see the module's docstring)."""

    def __init__(self, app: Any, *, token_owner: Callable[[str], User | None],
                 max_body: int = DEFAULT_MAX_BODY, trusted_proxy: str | None = None) -> None:
        self.app = app
        self.token_owner = token_owner  # token -> its username, or None
        self.max_body = max_body
        self.trusted_proxy = _ip(trusted_proxy) if trusted_proxy else None
        self._large: asyncio.Semaphore | None = None
        self._warned: set[str] = set()

    def _cap(self, path: str, user_id: str | None) -> int:
        if user_id is None:
            return LOGIN_BODY
        if path == "/v1/apply":
            return self.max_body
        return ROUTE_BODY.get(path, LOGIN_BODY)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with forgetting_logins():  # a request knows no other request's log-ins
            await self._request(scope, receive, send)

    async def _request(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for name, value in scope.get("headers", ()):
            headers.setdefault(name.lower(), value)
        state = scope.setdefault("state", {})
        state["client_address"] = self._client_address(scope, headers)
        authorization = headers.get(b"authorization")
        owner = await self._token_owner(authorization)
        user_id = owner.id if owner is not None else None
        state["user_id"] = user_id
        # as the token's row read it: a route may take it instead of reading it again, if it
        # checks the id against what it reads itself (GET /v1/state does)
        state["user"] = owner
        path = scope.get("path", "")
        if path in AUTHENTICATED_PATHS and user_id is None:
            await _refuse(send, 401, "log in first: POST /v1/login gives a bearer token "
                                     "(valid for 15 minutes)", "login_required",
                          [(b"www-authenticate", b"Bearer")])
            return
        cap = self._cap(path, user_id)
        length = headers.get(b"content-length")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        if length is not None:
            if not length.isdigit() or len(length) > 18:
                await _refuse(send, 400, "Content-Length is not a number", "bad_request")
                return
            if int(length) > cap:
                await _refuse(send, 413, _too_large(cap, user_id, path), "too_large")
                return
        if (length is None or int(length) == 0) and not chunked:
            await self.app(scope, receive, send)  # no body: nothing to cap or wait for
            return
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if content_type != b"application/json":
            await _refuse(send, 415, "send the body as JSON (Content-Type: application/json)",
                          "unsupported_media_type")
            return
        large = (chunked and cap > LARGE_BODY) or (length is not None and int(length) > LARGE_BODY)
        if not large:
            await self._serve(scope, receive, send, cap, user_id, authorization)
            return
        if self._large is None:
            self._large = asyncio.Semaphore(LARGE_BODIES_IN_FLIGHT)
        try:
            await asyncio.wait_for(self._large.acquire(), LARGE_BODY_WAIT)
        except TimeoutError:
            await _refuse(send, 503, "too many large requests at once; try again shortly",
                          "busy", [(b"retry-after", b"5")])
            return
        try:
            await self._serve(scope, receive, send, cap, user_id, authorization)
        finally:
            self._large.release()

    async def _serve(self, scope: Scope, receive: Receive, send: Send, cap: int,
                     user_id: str | None, authorization: bytes | None) -> None:
        body = await _read_body(receive, send, cap, user_id, scope.get("path", ""))
        if body is None:
            return
        again = await self._token_owner(authorization) if user_id is not None else None
        if again is not None:
            scope["state"]["user"] = again  # as it is now, after the body
        if user_id is not None and (again.id if again is not None else None) != user_id:
            # ended while the body arrived: this request is refused like any later one
            await _refuse(send, 401, "the token ended while the request was sent; log in "
                                     "again", "login_required", [(b"www-authenticate", b"Bearer")])
            return
        scope["state"]["body"] = body  # for routes that validate in the thread pool
        await self.app(scope, _replay(body, receive), send)

    def _client_address(self, scope: Scope, headers: dict[bytes, bytes]) -> str:
        peer = scope.get("client")
        address = str(peer[0]) if peer else "unknown"
        forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
        if self.trusted_proxy is not None and _ip(address) == self.trusted_proxy:
            # The proxy sets the address it saw (README: `X-Forwarded-For $remote_addr`); with
            # `$proxy_add_x_forwarded_for` it appends it: either way the last one is its own.
            last = forwarded.rsplit(",", 1)[-1].strip()
            found = _ip(last)
            if found is not None:
                return str(found)
            self._warn_once("no-forwarded", (
                f"the trusted proxy {address} sent a request without X-Forwarded-For: every "
                "client behind it counts as one address for log-in throttling; have it set "
                "'proxy_set_header X-Forwarded-For $remote_addr;'"))
        elif forwarded:
            self._warn_once("untrusted-forwarded", (
                f"requests from {address} carry X-Forwarded-For, but serve doesn't trust "
                f"{address}: if it is your reverse proxy, every client behind it counts as "
                f"one address for log-in throttling; run serve with --trusted-proxy "
                f"{address}"))
        return address

    def _warn_once(self, kind: str, message: str) -> None:
        """A misconfiguration said once per process in the log (never a header's value)."""
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning(message)

    async def _token_owner(self, authorization: bytes | None) -> User | None:
        if not authorization:
            return None
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS:
            return None
        return await run_in_threadpool(self.token_owner, token)


def _too_large(cap: int, user_id: str | None, path: str) -> str:
    if user_id is None:
        return f"the body is larger than {cap} bytes, the limit before logging in"
    if path == "/v1/apply":
        return f"the body is larger than {cap} bytes (serve --max-body)"
    return f"the body is larger than {cap} bytes, the limit of {path}"


async def _read_body(receive: Receive, send: Send, cap: int,
                     username: str | None, path: str) -> bytes | None:
    """The whole body, or None after refusing it (413 over the cap, 408 too slow)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BODY_TOTAL_TIMEOUT
    body = bytearray()
    while True:
        wait = min(BODY_IDLE_TIMEOUT, deadline - loop.time())
        try:
            if wait <= 0:
                raise TimeoutError
            message = await asyncio.wait_for(receive(), wait)
        except TimeoutError:
            await _refuse(send, 408, "the request body did not arrive in time", "timeout")
            return None
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if len(body) > cap:
            await _refuse(send, 413, _too_large(cap, username, path), "too_large")
            return None
        if not message.get("more_body", False):
            return bytes(body)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(send: Send, status: int, message: str, kind: str,
                  extra: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = json.dumps(error_body(message, kind)).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"), *(extra or []),
    ]})
    await send({"type": "http.response.body", "body": payload})


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


class GuardedH11(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with two guards.

    - A deadline for every request head: uvicorn's keep-alive timer is cancelled by any byte
      that arrives, so a client that trickles its headers (slowloris) would hold a connection
      forever. The deadline here runs from the moment a head is awaited (on connecting, and
      after each answer) until a complete head has arrived, whatever trickles in meanwhile.
    - A lingering close: closing a socket whose client is still sending (a refused 48 MiB
      body) makes the kernel reset the connection and drop the answer not yet delivered, so
      the client sees "connection reset" instead of 413. The service half-closes instead
      (the answer, then FIN), discards what still arrives, and closes LINGER_SECONDS later.
    """

    # open connections per client address, in this process (transient: connections end with
    # it); addresses exempt from the per-address cap (the trusted reverse proxy)
    open_by_address: ClassVar[Counter[str]] = Counter()
    exempt: ClassVar[frozenset[str]] = frozenset()
    # connections waiting for a request head, oldest first (insertion order)
    pending: ClassVar[OrderedDict[GuardedH11, None]] = OrderedDict()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # An answer is written as its head, then its body: with Nagle's algorithm on, the
        # body waits for the client's delayed ACK of the head (40 ms on Linux) on every
        # request of a kept-alive connection after the first.
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._address = self.client[0] if self.client else ""
        GuardedH11.open_by_address[self._address] += 1
        if (self._address not in self.exempt
                and GuardedH11.open_by_address[self._address] > MAX_CONNECTIONS_PER_ADDRESS):
            self._lingering = True
            transport.close()
            return
        self._head_deadline: asyncio.TimerHandle | None = None
        self._arm_head_deadline()
        self._lingering = False
        real_close = transport.close

        def close() -> None:
            if self._lingering or not transport.can_write_eof():
                real_close()
                return
            self._lingering = True
            try:
                transport.write_eof()  # after what is buffered: the answer goes out whole
            except (OSError, RuntimeError):
                real_close()
                return
            self.loop.call_later(LINGER_SECONDS, real_close)

        transport.close = close  # type: ignore[method-assign]

    def _arm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
        self._head_deadline = self.loop.call_later(HEADER_TIMEOUT, self._head_too_slow)
        GuardedH11.pending[self] = None
        GuardedH11.pending.move_to_end(self)
        while len(GuardedH11.pending) > MAX_PENDING_HEADS:
            # the one that has waited longest for its head: a client that sends whole
            # requests answers in milliseconds and is never the oldest for long
            oldest, _ = GuardedH11.pending.popitem(last=False)
            if not oldest.transport.is_closing():
                oldest.transport.close()

    def _head_arrived(self) -> None:
        GuardedH11.pending.pop(self, None)
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _awaiting_head(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _head_too_slow(self) -> None:
        if self._awaiting_head() and not self.transport.is_closing():
            self.transport.close()

    def handle_events(self) -> None:
        super().handle_events()
        if not self._awaiting_head() and self._head_deadline is not None:
            self._head_arrived()  # a whole head arrived: the body has its own limits

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self._awaiting_head():
            self._arm_head_deadline()

    def send_400_response(self, msg: str) -> None:
        """A request h11 can't parse (a bad Content-Length, a smuggling-shaped
        Transfer-Encoding): answered in the one error shape, not uvicorn's plain text."""
        del msg  # uvicorn's words; ours say the same without its formatting
        payload = json.dumps(error_body("the request is not valid HTTP/1.1", "bad_request"))
        event = h11.Response(status_code=400, reason=b"Bad Request", headers=[
            (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
            (b"connection", b"close")])
        self.transport.write(self.conn.send(event) or b"")
        self.transport.write(self.conn.send(h11.Data(data=payload.encode())) or b"")
        self.transport.write(self.conn.send(h11.EndOfMessage()) or b"")
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if getattr(self, "_head_deadline", None) is not None:
            self._head_deadline.cancel()  # type: ignore[union-attr]
        GuardedH11.pending.pop(self, None)
        GuardedH11.open_by_address[self._address] -= 1
        if GuardedH11.open_by_address[self._address] <= 0:
            del GuardedH11.open_by_address[self._address]
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # after the answer: dropped unread, never parsed or kept
        super().data_received(data)


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the server starts so that a port in use is one
    clear error (exit 1), not a log line from inside uvicorn."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"can't listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
