"""The service's edge: what every request meets before a route runs.

- The client address is the socket's peer, or, only when that peer is the one trusted reverse
  proxy (`serve --trusted-proxy`), the last address that proxy put in X-Forwarded-For.
  Throttling is per (name, address), so this decides who a stranger can and can't lock out.
- Routes that need a token have it checked *before* the body is read: a stranger's 48 MiB
  body is refused with 401 after reading its headers only.
- Bodies are capped: LOGIN_BODY bytes without a token, `--max-body` with one. A declared
  Content-Length over the cap gets 413 at once; a chunked body is counted as it arrives and
  cut off at the cap. Either way the rest is never read and the connection is closed.
- A body must arrive in time (BODY_IDLE_TIMEOUT between chunks, BODY_TOTAL_TIMEOUT in all);
  a request head must arrive within HEADER_TIMEOUT of connecting (GuardedH11). One client
  address holds at most MAX_CONNECTIONS_PER_ADDRESS connections (more are closed on
  arrival), so one slow client can't starve the rest; past MAX_CONNECTIONS in all uvicorn
  answers 503 at once.
- Bodies with content must be JSON (415 otherwise).

Every refusal here has the same shape as the routes': `{"detail": ..., "error": ...}`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import socket
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import h11
from starlette.concurrency import run_in_threadpool
from uvicorn.protocols.http.h11_impl import H11Protocol

from groupsync.errors import UsageError

LOGIN_BODY = 8 * 1024  # a log-in is under 1 KiB; nothing unauthenticated needs more
# Large enough for a size-L practice's apply (its plan and practice.yaml); larger plans (a
# first apply of 340,000 code records) are applied locally or with a raised --max-body.
DEFAULT_MAX_BODY = 64 * 1024 * 1024


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
MAX_CONNECTIONS = 1024  # in all, per process: past it uvicorn answers 503 at once
MAX_CONNECTIONS_PER_ADDRESS = 64  # one client address (a reverse proxy is exempt)
LINGER_SECONDS = 2.0
MAX_TOKEN_CHARS = 256
AUTHENTICATED_PATHS = frozenset({"/v1/state", "/v1/audit", "/v1/apply", "/v1/names",
                                 "/v1/notices", "/v1/plan"})

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def error_body(message: str, kind: str) -> dict[str, str]:
    return {"detail": message, "error": kind}


class Edge:
    """ASGI middleware in front of the routes (see the module's docstring)."""

    def __init__(self, app: Any, *, token_owner: Callable[[str], str | None],
                 max_body: int = DEFAULT_MAX_BODY, trusted_proxy: str | None = None) -> None:
        self.app = app
        self.token_owner = token_owner
        self.max_body = max_body
        self.trusted_proxy = _ip(trusted_proxy) if trusted_proxy else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for name, value in scope.get("headers", ()):
            headers.setdefault(name.lower(), value)
        state = scope.setdefault("state", {})
        state["client_address"] = self._client_address(scope, headers)
        username = await self._token_owner(headers.get(b"authorization"))
        state["username"] = username
        if scope.get("path") in AUTHENTICATED_PATHS and username is None:
            await _refuse(send, 401, "log in first: POST /v1/login gives a bearer token "
                                     "(valid for 15 minutes)", "login_required",
                          [(b"www-authenticate", b"Bearer")])
            return
        cap = self.max_body if username is not None else LOGIN_BODY
        length = headers.get(b"content-length")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        if length is not None:
            if not length.isdigit() or len(length) > 18:
                await _refuse(send, 400, "Content-Length is not a number", "bad_request")
                return
            if int(length) > cap:
                await _refuse(send, 413, _too_large(cap, username), "too_large")
                return
        if (length is None or int(length) == 0) and not chunked:
            await self.app(scope, receive, send)  # no body: nothing to cap or wait for
            return
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if content_type != b"application/json":
            await _refuse(send, 415, "send the body as JSON (Content-Type: application/json)",
                          "unsupported_media_type")
            return
        body = await _read_body(receive, send, cap, username)
        if body is None:
            return
        await self.app(scope, _replay(body, receive), send)

    def _client_address(self, scope: Scope, headers: dict[bytes, bytes]) -> str:
        peer = scope.get("client")
        address = str(peer[0]) if peer else "unknown"
        if self.trusted_proxy is not None and _ip(address) == self.trusted_proxy:
            forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
            # The proxy appends the address it saw; anything before it the client wrote.
            last = forwarded.rsplit(",", 1)[-1].strip()
            found = _ip(last)
            if found is not None:
                return str(found)
        return address

    async def _token_owner(self, authorization: bytes | None) -> str | None:
        if not authorization:
            return None
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS:
            return None
        return await run_in_threadpool(self.token_owner, token)


def _too_large(cap: int, username: str | None) -> str:
    if username is None:
        return f"the body is larger than {cap} bytes, the limit before logging in"
    return f"the body is larger than {cap} bytes (serve --max-body)"


async def _read_body(receive: Receive, send: Send, cap: int,
                     username: str | None) -> bytes | None:
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
            await _refuse(send, 413, _too_large(cap, username), "too_large")
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

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
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

    def _awaiting_head(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _head_too_slow(self) -> None:
        if self._awaiting_head() and not self.transport.is_closing():
            self.transport.close()

    def handle_events(self) -> None:
        super().handle_events()
        if not self._awaiting_head() and self._head_deadline is not None:
            self._head_deadline.cancel()  # a whole head arrived: the body has its own limits
            self._head_deadline = None

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
