"""`groupsync serve`: the account system over HTTP/JSON (FastAPI on uvicorn).

Clients log in with a username and password and get a short-lived bearer token; every request
then acts as that username, so the account system's rules (what it may read, what it may
change) and log-in throttling apply unchanged. An apply travels as one request carrying the
saved plan (which names the lineage, revision and write count it was made from) and the
passwords its logins need; the service applies it in one transaction or not at all.

Nothing here logs a request body or a header: no password and no token reaches a log. TLS is a
reverse proxy's job (README: "Running a shared store").
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from typing import Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from groupsync.accounts import AccountSystem
from groupsync.accounts.model import ukey
from groupsync.apply import apply_plan
from groupsync.errors import (
    GroupsyncError,
    LoginFailed,
    RuleError,
    StaleError,
    StoreBusy,
    StoreError,
)
from groupsync.plan import Plan
from groupsync.wire import audit_to_wire, desired_from_wire, state_to_wire

TOKEN_TTL_S = 900


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_in: int
    username: str


class ChangeBody(BaseModel):
    action: Literal["add", "change", "remove"]
    type: Literal["practice_setup", "username", "join", "privileges", "code"]
    account: str
    username: str | None = None
    file: Literal["diagnosis_codes", "billing_codes", "insurance_payers"] | None = None
    key: str | None = None
    before: Any = None
    after: Any = None


class PlanBody(BaseModel):
    """A saved plan, as `groupsync plan --out` writes it."""

    format_version: Literal["1"]
    lineage: str
    revision: int
    write_count: int
    changes: list[ChangeBody]
    actor: str
    master: str
    credentials: dict[str, str]
    code_master: str | None = None
    accounts: dict[str, str] = Field(default_factory=dict)
    logins: dict[str, str] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    summary: dict[str, int] = Field(default_factory=dict)


class ProviderBody(BaseModel):
    key: str
    name: str
    account_id: str
    bills_electronically: bool
    login: str
    password_var: str


class UsernameBody(BaseModel):
    username: str
    password_var: str
    home: str
    accounts: list[str]
    is_master: bool = False


class PrivilegeBody(BaseModel):
    username: str
    base: Literal["full", "view", "none"]
    all: dict[str, Literal["full", "view", "none"]]
    per_account: dict[str, dict[str, Literal["full", "view", "none"]]]


class CodesBody(BaseModel):
    master: str
    copy_to: list[str]
    files: list[Literal["diagnosis_codes", "billing_codes", "insurance_payers"]]
    inline: dict[str, dict[str, dict[str, str]]]


class PruneBody(BaseModel):
    usernames: bool
    joins: bool
    codes: bool


class DesiredBody(BaseModel):
    """The practice a plan was made from (variable names only, never a secret)."""

    source: str
    practice_name: str
    tin: str
    providers: list[ProviderBody]
    master: UsernameBody
    staff: list[UsernameBody]
    privileges: list[PrivilegeBody]
    codes: CodesBody | None
    prune: PruneBody


class ApplyRequest(BaseModel):
    plan: PlanBody
    desired: DesiredBody | None = Field(
        default=None,
        description="With the practice the plan was made from, the service makes the plan "
                    "again inside its transaction and applies only if it comes out the same "
                    "(applies to other practices don't make it stale). Without it, the store "
                    "must be at the plan's exact revision, as for a saved plan.")
    passwords: dict[str, str] = Field(
        description="username -> password for every login the plan names; used, never kept")


class ApplyResponse(BaseModel):
    revision: int
    changes: int


class ErrorResponse(BaseModel):
    detail: str


class Tokens:
    """Bearer tokens in memory only, stored as hashes; a restart logs everyone out."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}

    def issue(self, username: str) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            self._tokens = {k: v for k, v in self._tokens.items() if v[1] > now}
            self._tokens[hashlib.sha256(token.encode()).hexdigest()] = (username, now + self.ttl)
        return token

    def username(self, token: str) -> str | None:
        with self._lock:
            found = self._tokens.get(hashlib.sha256(token.encode()).hexdigest())
        if found is None or found[1] <= time.monotonic():
            return None
        return found[0]


_ERRORS = {401: ErrorResponse, 403: ErrorResponse, 409: ErrorResponse, 400: ErrorResponse,
           503: ErrorResponse}


def _status(exc: GroupsyncError) -> int:
    if isinstance(exc, LoginFailed):
        return 401
    if isinstance(exc, StaleError):
        return 409
    if isinstance(exc, StoreBusy | StoreError):
        return 503
    if isinstance(exc, RuleError):
        return 403
    return 400


def create_app(system: AccountSystem, token_ttl: float = TOKEN_TTL_S) -> FastAPI:
    tokens = Tokens(token_ttl)
    app = FastAPI(
        title="groupsync", version="1",
        description="The groupsync account system over HTTP: log in for a bearer token, read "
                    "what that username may see, apply saved plans in one transaction.",
    )

    @app.exception_handler(GroupsyncError)
    async def _groupsync_error(_request: Any, exc: GroupsyncError) -> JSONResponse:
        return JSONResponse(status_code=_status(exc), content={"detail": str(exc)})

    def caller(authorization: str = Header(default="", description="Bearer TOKEN")) -> str:
        scheme, _, token = authorization.partition(" ")
        username = tokens.username(token.strip()) if scheme.lower() == "bearer" else None
        if username is None:
            raise HTTPException(status_code=401, detail="log in first: POST /v1/login gives a "
                                                        "bearer token (valid for 15 minutes)",
                                headers={"WWW-Authenticate": "Bearer"})
        return username

    @app.get("/v1/health", summary="Liveness")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/login", response_model=TokenResponse,
              responses={400: {"model": ErrorResponse}, 401: {"model": ErrorResponse}},
              summary="Log in; returns a short-lived bearer token")
    def login(body: LoginRequest) -> TokenResponse:
        user = system.login(body.username, body.password)
        return TokenResponse(token=tokens.issue(user.username), expires_in=int(tokens.ttl),
                             username=user.username)

    @app.get("/v1/state", responses={401: {"model": ErrorResponse},
                                     503: {"model": ErrorResponse}},
             summary="The accounts the caller can open, with their usernames and code files")
    def state(username: str = Depends(caller)) -> dict[str, Any]:
        return state_to_wire(system.visible_state(username))

    @app.get("/v1/audit", responses={401: {"model": ErrorResponse}},
             summary="Audit entries about the caller's accounts, newest first")
    def audit(username: str = Depends(caller),
              limit: int | None = Query(default=None, ge=1, le=100_000)) -> dict[str, Any]:
        return {"entries": audit_to_wire(system.visible_audit(username, limit))}

    @app.post("/v1/apply", response_model=ApplyResponse,
              responses={code: {"model": model} for code, model in _ERRORS.items()},
              summary="Apply a saved plan in one transaction, as the plan's acting username")
    def apply(body: ApplyRequest, username: str = Depends(caller)) -> ApplyResponse:
        plan = Plan.from_json(body.plan.model_dump())
        if ukey(plan.actor) != ukey(username):
            raise RuleError(f"this plan acts as {plan.actor}; log in as {plan.actor} to apply "
                            "it")
        missing = [u for u in plan.credentials if u not in body.passwords]
        if missing:
            raise LoginFailed(f"the request lacks the passwords of: {', '.join(sorted(missing))}")
        desired = desired_from_wire(body.desired.model_dump()) if body.desired else None
        revision = apply_plan(system, plan, body.passwords, desired)
        return ApplyResponse(revision=revision, changes=len(plan.changes))

    return app


def serve(system: AccountSystem, host: str, port: int) -> None:
    import uvicorn

    # Access logs carry method, path and status only: no body, no header, so no secret.
    uvicorn.run(create_app(system), host=host, port=port, log_level="info",
                server_header=False)
