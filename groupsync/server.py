"""`groupsync serve`: the account system over HTTP/JSON (FastAPI on uvicorn).

Clients log in with a username and password and get a short-lived bearer token; every request
then acts as that username, so the account system's rules (what it may read, what it may
change) and log-in throttling apply unchanged. An apply travels as one request carrying the
saved plan and the passwords its logins need; the service applies it in one transaction or not
at all.

Every byte that arrives is treated as hostile (edge.py does the gatekeeping before any route
runs): bodies are capped and timed, the token is checked before a body is read, answers never
echo what was sent, and every refusal has one shape, `{"detail": "...", "error": "kind"}`.
Tokens (hashed) and throttling live in the store, so several `serve` processes over one
PostgreSQL database behave as one. Nothing here logs a request body or a header.
TLS is a reverse proxy's job (README: "Running a shared store").
"""

from __future__ import annotations

import logging
import re
import resource
from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
)
from starlette.exceptions import HTTPException as StarletteHTTPException

from groupsync.accounts import AccountSystem
from groupsync.accounts.model import User
from groupsync.accounts.service import LOGIN_FAILED
from groupsync.accounts.storage import AuditQuery, ReviewStatus
from groupsync.changes import CHANGE_CLASSES, PracticeSetup, UsernameAdded, UsernameRemoved
from groupsync.config import load_text
from groupsync.defaults import DEFAULT_MAX_BODY, DEFAULT_MAX_REMOVALS
from groupsync.edge import AUTHENTICATED_PATHS, Edge, error_body
from groupsync.engine import (
    NAMES_PER_HOUR,
    Guards,
    apply_as,
    attest_as,
    login_either,
    plan_as,
    review_status_as,
    reviews_as,
)
from groupsync.errors import (
    ConfigError,
    Conflict,
    GroupsyncError,
    LoginFailed,
    LoginLocked,
    RuleError,
    StaleError,
    StoreBusy,
    StoreError,
    Throttled,
    http_status,
)
from groupsync.planfile import SavedPlan
from groupsync.vocabulary import (
    MAX_NAME,
    PLAIN_TEXT,
    USERNAME_PATTERN,
    AccountIdText,
    CodeFileName,
    Level,
    NameText,
    TinText,
    UsernameText,
)
from groupsync.wire import audit_to_wire, state_to_wire

_M = TypeVar("_M", bound=BaseModel)
log = logging.getLogger("uvicorn.error")
# YAML nodes a practice sent to the service may hold: twice a size-L practice (70,000), so two
# parses at once (the edge's large-body slots) stay within the memory budget
SERVICE_MAX_NODES = 150_000
TOKEN_TTL_S = 900
MAX_PASSWORDS = 10_000  # one per login of a practice: a size-L practice has ~3,000


class LoginFallback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, StringConstraints(pattern=USERNAME_PATTERN)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class LoginRequest(BaseModel):
    # the username pattern, enforced at the door: a NUL, a long s (which casefolds to "s")
    # or any other character no username can hold is a 422, never a store error or a log-in
    # as someone else
    username: Annotated[str, StringConstraints(pattern=USERNAME_PATTERN)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    or_: LoginFallback | None = Field(default=None, alias="or", description=(
        "log in as this one instead when `username` doesn't exist (one look-up, counted as "
        "POST /v1/names counts them); the answer's `username` says which"))


class TokenResponse(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_in: int
    username: str


class ApplyRequest(BaseModel):
    plan: SavedPlan
    practice: Annotated[str, StringConstraints(max_length=16 * 1024 * 1024)] | None = Field(
        default=None,
        description="The practice.yaml the plan was made from. With it, the service makes the "
                    "plan again inside its transaction and applies only if it comes out the "
                    "same (applies to other practices don't make it stale). Without it, the "
                    "store must be at the plan's exact revision, as for a saved plan.")
    note: Annotated[str, StringConstraints(min_length=1, max_length=500,
                                           pattern=PLAIN_TEXT)] | None = Field(
        default=None, description="Kept on every audit entry of this apply (`apply --note`).")
    passwords: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=64)],
        Annotated[str, StringConstraints(min_length=1, max_length=1024)],
    ] = Field(max_length=MAX_PASSWORDS,
              description="username -> password for every login the plan names; used for "
                          "this request, never kept")
    max_removals: int = Field(
        default=DEFAULT_MAX_REMOVALS, ge=0, le=10_000_000,
        description="Refuse (4xx, nothing changed) a plan that removes more objects than "
                    "this, as `apply --max-removals` does.")
    break_glass: bool = Field(
        default=False, description="Act as a sealed master (`apply --break-glass`); needs a "
                                   "note, and marks every audit entry break_glass.")


# Names and notes are plain text, said in the document as a pattern, so a generated client
# knows it and a valid request is never refused (docs/contracts.md, "The service").
Name = NameText


class SignupRequest(BaseModel):
    """The Free Trial sign-up: a provider's account and its first username."""

    provider_name: Name
    username: Annotated[str, StringConstraints(pattern=USERNAME_PATTERN)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    account_id: AccountIdText | None = Field(
        default=None, description="The Account ID to create (a sandbox's declared id); "
                                  "the service picks one when absent.")


class SignupResponse(BaseModel):
    account_id: str
    username: str


class NoticeProvider(BaseModel):
    account_id: AccountIdText
    name: Name
    bills_electronically: bool


class NoticeRequest(BaseModel):
    """A group-rate notice recorded as sent (`notice --mark-sent`)."""

    practice_name: Name
    tin: TinText
    providers: list[NoticeProvider] = Field(max_length=10_000)


class NoticeResponse(BaseModel):
    recorded: int = Field(description="how many providers the recorded notice lists")




class NamesRequest(BaseModel):
    # a name no username could hold is never taken; refused at the door, so no character of
    # it reaches the store (a NUL is a driver error in PostgreSQL)
    usernames: list[Annotated[str, StringConstraints(pattern=USERNAME_PATTERN)]] = Field(
        max_length=NAMES_PER_HOUR)


class NamesResponse(BaseModel):
    taken: list[str] = Field(description="the names asked about that exist anywhere in the "
                                         "store; nothing about where")


class ApplyResponse(BaseModel):
    revision: int
    changes: int


# -- typed answers: what a generated client gets (the wire format of wire.py) ---------------

LevelName = Level


class WireAccount(BaseModel):
    account_id: str
    provider_name: str
    signup_username: str = Field(description="empty where the caller can't see usernames")
    practice_name: str | None
    tin: str | None
    bills_electronically: bool | None = Field(
        description="null where the caller may not see the Practice Set-up")
    created_at: str
    trial_ends: str | None


class WireUsername(BaseModel):
    username: str
    home: str = Field(description="empty when the home is an account the caller can't open")
    created_at: str
    last_login: str = Field(default="", description="its last successful log-in (UTC), "
                                                    "empty if never")


class WireAccess(BaseModel):
    username: str
    account: str
    privileges: dict[str, LevelName] = Field(description="area -> level, all nine areas")


class WireCodes(BaseModel):
    account: str
    file: CodeFileName
    records: list[dict[str, str]]


class WireNotice(BaseModel):
    id: int
    sent_at: str
    practice_name: str
    tin: str
    providers: list[dict[str, Any]]


class WireAuditEntry(BaseModel):
    id: int
    revision: int
    at: str
    actor: str
    action: str
    type: str
    account: str | None
    username: str | None
    detail: dict[str, Any] = Field(description="before/after, file/key, note; never a secret")


class AuditResponse(BaseModel):
    entries: list[WireAuditEntry]


# what an audit entry set in its account: a username's access, a code record, the set-up
SubjectText = Annotated[str, StringConstraints(pattern=r"^(u:[a-z0-9._@-]{3,64}|s:|"
                                                       r"c:[a-z_]{1,32}:[^\x00-\x1f]{1,200})$")]


class LatestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cells: list[tuple[AccountIdText, SubjectText]] = Field(max_length=100_000)


def _real_day(value: str) -> str:
    if "-" in value:
        date.fromisoformat(value)  # ValueError, a 422: not a day that exists
    return value


# A day (YYYY-MM-DD, one that exists) and `access --at`'s revision or day, as query
# parameters: checked as text, so `until=0` is no day (pydantic's lax dates would read it as
# 1970-01-01), and described as dates, so clients and fuzzers send real ones.
QueryDay = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
                     AfterValidator(_real_day), WithJsonSchema({"type": "string",
                                                                "format": "date"})]
QueryAt = Annotated[str, StringConstraints(pattern=r"^([0-9]{1,18}|[0-9-]{10})$"),
                    AfterValidator(_real_day), WithJsonSchema({"anyOf": [
                        {"type": "string", "pattern": "^[0-9]{1,18}$"},
                        {"type": "string", "format": "date"}]})]


class AccessAtResponse(BaseModel):
    revision: int
    state: StateResponse
    notes: list[str] = Field(description="what history could not say (incomplete accounts)")


class ChainResponse(BaseModel):
    holds: bool = Field(description="whether every entry's link in the hash chain is right")
    broken: int | None = Field(default=None, description=(
        "the first entry that breaks it, when the caller may read that entry"))


class ReviewRequest(BaseModel):
    accounts: list[AccountIdText] = Field(min_length=1, max_length=10_000,
                                          description="the accounts whose access was reviewed")
    note: Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=PLAIN_TEXT)]
    digest: Annotated[str, StringConstraints(pattern="^[0-9a-f]{64}$")] | None = Field(
        default=None, description="SHA-256 of the matrix the reviewer was shown: a matrix "
                                  "that changed since is refused (409), nothing recorded")


class ReviewResponse(BaseModel):
    revision: int
    digest: str = Field(description="SHA-256 of the access matrix reviewed")
    rows: int


class ReviewsResponse(BaseModel):
    last: list[WireAuditEntry] = Field(description="the newest review entry, if any")
    break_glass: list[WireAuditEntry] = Field(description="break-glass markers since it")
    latest: list[WireAuditEntry] = Field(
        default=[], description="with grants=true: each account's newest review entry")


class StateResponse(BaseModel):
    """What the caller may read (docs/contracts.md, "Identity and scope"), as plain rows."""

    lineage: str
    revision: int
    versions: dict[str, int] = Field(description="'a:' + account id -> the version of that "
                                     "account's rows, for the plan's staleness check")
    accounts: list[WireAccount]
    usernames: list[WireUsername]
    access: list[WireAccess]
    codes: list[WireCodes]
    notices: list[WireNotice]
    review: ReviewsResponse | None = Field(
        default=None, description="with review=ACCOUNT...: GET /v1/review-status's answer "
                                  "for those accounts, read in the same request")


class PlanRequest(BaseModel):
    practice: Annotated[str, StringConstraints(min_length=1, max_length=16 * 1024 * 1024)] = \
        Field(description="practice.yaml as text (passwords only as ${VARIABLE} references)")
    rotate: list[Annotated[str, StringConstraints(pattern=USERNAME_PATTERN)]] = Field(
        default=[], max_length=1000, description="usernames whose password the apply sets")
    acting: Annotated[str, StringConstraints(pattern=USERNAME_PATTERN)] | None = Field(
        default=None, description="`plan --as`: the declared username the apply acts as "
                                  "instead of the master (it logs in to apply the plan)")


class PlanSummary(BaseModel):
    add: int
    change: int
    remove: int


class PlanResponse(BaseModel):
    """The plan as `plan --json` shows it, and the same plan ready for `POST /v1/apply`."""

    format_version: str
    lineage: str
    revision: int
    summary: PlanSummary
    changes: list[dict[str, Any]] = Field(description="as in `plan --json` (the contract)")
    warnings: list[str]
    saved_plan: SavedPlan = Field(description="send as `plan` to POST /v1/apply, with the "
                                              "passwords of its `credentials`")


class ErrorResponse(BaseModel):
    detail: str
    error: str


class PracticeProblem(BaseModel):
    line: int
    column: int
    message: str = Field(description="names the key or the rule, never the value")


class InvalidPracticeResponse(BaseModel):
    """422 from /v1/plan and /v1/apply for a practice that doesn't validate."""

    detail: str
    error: str
    problems: list[PracticeProblem]


_BEARER = HTTPBearer(auto_error=False, description="A token from POST /v1/login")


def caller(request: Request, _token: Annotated[Any, Depends(_BEARER)]) -> str:
    """The id of the logged-in username. The edge checked the token before the body was read
    and again after; this dependency is here so the OpenAPI document declares the bearer
    scheme on every route that needs one."""
    return str(_checked(request).id)


def caller_user(request: Request, _token: Annotated[Any, Depends(_BEARER)]) -> User:
    """The logged-in username as the edge's token check read it (after the body, when there
    is one), for a route that checks its id against what it reads itself (GET /v1/state):
    it need not read the username first."""
    return _checked(request)


def _checked(request: Request) -> User:
    user: User | None = request.scope.get("state", {}).get("user")
    if user is None:  # pragma: no cover - the edge refuses these first
        raise StarletteHTTPException(401, "log in first: POST /v1/login gives a bearer token",
                                     headers={"WWW-Authenticate": "Bearer"})
    return user


CallerUser = Annotated[User, Depends(caller_user)]


def _review_body(status: ReviewStatus) -> dict[str, Any]:
    return {"last": audit_to_wire([status.last] if status.last else []),
            "break_glass": audit_to_wire(list(status.break_glass))}


def address(request: Request) -> str:
    return str(request.scope.get("state", {}).get("client_address", "unknown"))


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)
}
_PRACTICE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS, 422: {"model": InvalidPracticeResponse | ErrorResponse}}
def _ref(model: str) -> str:
    return f"#/components/schemas/{model}"


# JSON values one body may hold before it is parsed at all: a saved plan's change is about 15
# values in 300 bytes, so a 16 MiB plan of real changes holds under a million; a body of junk
# (`[0,0,0,…]`, two bytes a value) would cost ~100 bytes of memory a value once parsed.
MAX_JSON_VALUES = 1_000_000


def _parse(model: type[_M], request: Request) -> _M:
    """The request's body (read by the edge) validated as `model`, in this thread. Its values
    are counted first, at the speed of a byte search (a comma, bracket or brace in a string
    counts too: the count can only be high), so junk is refused before any of it is built."""
    raw: bytes = request.scope.get("state", {}).get("body", b"")
    values = raw.count(b",") + raw.count(b"[") + raw.count(b"{")
    if values > MAX_JSON_VALUES:
        raise StarletteHTTPException(413, f"the body holds more than {MAX_JSON_VALUES:,} JSON "
                                          "values; apply a plan that large locally")
    try:
        return model.model_validate_json(raw or b"null")
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_input=False)]
        ) from None


def _document_bodies(app: FastAPI, models: list[type[BaseModel]]) -> None:
    """Put the bodies that routes validate themselves (`_parse`) into the OpenAPI document,
    so a generated client and schemathesis know them as if FastAPI had parsed them."""
    made = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = made()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for model in models:
            # one schema per model (the app is made with separate_input_output_schemas off),
            # so a model FastAPI already put there is the same one: kept, not duplicated
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in schema.pop("$defs", {}).items():
                schemas.setdefault(name, sub)
            schemas.setdefault(model.__name__, schema)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _minutes(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return _n(minutes, "minute")


_QUOTED_VALUE = re.compile("'[^']*'|\"[^\"]*\"")


def _no_values(message: str) -> str:
    """A validation message with whatever it quotes of the file taken out: the rule and the
    key stay, a value (possibly a password in the wrong place) never comes back."""
    return _QUOTED_VALUE.sub("…", message)[:300]


def create_app(system: AccountSystem, token_ttl: float = TOKEN_TTL_S,
               max_body: int = DEFAULT_MAX_BODY, trusted_proxy: str | None = None) -> Any:
    """The service as an ASGI app: the FastAPI routes behind the edge's gatekeeping."""
    app = FastAPI(
        title="groupsync", version="2",
        description="The groupsync account system over HTTP: log in for a bearer token, read "
                    "what that username may see, apply saved plans in one transaction. Every "
                    "refusal has one shape: {\"detail\": text, \"error\": kind}.",
        # No docs page: Swagger UI and ReDoc load their code from a CDN. The document itself
        # is at /openapi.json for any client or local viewer.
        docs_url=None, redoc_url=None,
        redirect_slashes=False,  # a redirect would echo the Host header; a 404 says enough
        separate_input_output_schemas=False,  # see _document_bodies
    )

    @app.exception_handler(GroupsyncError)
    async def _groupsync_error(_request: Request, exc: GroupsyncError) -> JSONResponse:
        status, kind = http_status(exc)
        message = str(exc)
        headers = None
        content: dict[str, Any]
        if isinstance(exc, LoginLocked):
            # never the name as typed (it may be a password typed in the wrong box); how long
            # is the lock actually in force (a name's 5 minutes or an address's 15)
            wait = max(1, int(exc.retry_after + 0.999))
            message = ("this log-in is locked from your address after repeated failed "
                       f"attempts; try again in {_minutes(wait)}")
            headers = {"Retry-After": str(wait)}
        elif isinstance(exc, LoginFailed):
            message = LOGIN_FAILED
        elif isinstance(exc, Throttled):
            headers = {"Retry-After": str(max(1, int(exc.retry_after + 0.999)))}
        elif isinstance(exc, StoreError) and not isinstance(exc, StoreBusy | StaleError):
            # the store's own words name its user, host and database: not the caller's
            # business (the operator has them in the log)
            log.warning("store error answered as 503: %s", message)
            message = "the store could not answer; nothing was changed, try again later"
        content = error_body(message, kind)
        if isinstance(exc, ConfigError):
            # every problem with its place; the message names the key or the rule, never
            # what the practice holds there
            problems = [{"line": p.line, "column": p.column, "message": _no_values(p.message)}
                        for p in exc.problems[:200]]
            message = (f"the practice is invalid: {_n(len(exc.problems), 'problem')}; "
                       "each is in `problems` with its line and column")
            content = {**error_body(message, kind), "problems": problems}
        return JSONResponse(status_code=status, content=content, headers=headers)

    @app.exception_handler(Exception)
    async def _bug(_request: Request, exc: Exception) -> JSONResponse:
        # A bug, not the client's doing: still the one error shape, and nothing of the input.
        # (Every write is one transaction, so nothing was changed.)
        return JSONResponse(status_code=500, content=error_body(
            f"internal error ({type(exc).__name__}); nothing was changed", "internal"))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422,
                            content=error_body(_validation_text(exc.errors()), "invalid"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {401: "login_required", 404: "not_found", 405: "method_not_allowed",
                413: "too_large"}.get(
            exc.status_code, "http")
        return JSONResponse(status_code=exc.status_code, content=error_body(str(exc.detail), kind),
                            headers=getattr(exc, "headers", None))

    @app.get("/v1/health", summary="Liveness", response_model=dict[str, str])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/login", response_model=TokenResponse, responses=_ERRORS,
              summary="Log in; returns a short-lived bearer token")
    def login(body: LoginRequest, request: Request) -> TokenResponse:
        fallback = (body.or_.username, body.or_.password) if body.or_ else None
        user, token = login_either(system, body.username, body.password, fallback,
                                   address(request), token_ttl)
        return TokenResponse(token=token, expires_in=int(token_ttl), username=user.username)

    def me(user_id: str) -> User:
        """The token's username, by the id the token named (a name deleted and made again
        between the token check and now is another id: refused as logged out)."""
        return system.user_by_id(user_id)

    # State and audit answers are built as plain data and sent as they are: the models above
    # document them (and type generated clients) without re-validating 340,000 code records.
    @app.get("/v1/state", responses=_ERRORS, response_model=StateResponse,
             summary="The accounts the caller can open, with their usernames and code files")
    def state(user: CallerUser,
              review: Annotated[list[AccountIdText],
                                Query(default_factory=list, max_length=10_000)]) -> JSONResponse:
        # visible_state refuses the user if its id is no longer the name's (deleted since
        # the token's check, and perhaps made again)
        body = state_to_wire(system.visible_state(user.username, user))
        if review:  # GET /v1/review-status's answer for these accounts, in the same request
            body["review"] = _review_body(review_status_as(system, user, review))
        return JSONResponse(body)

    @app.get("/v1/audit", responses=_ERRORS, response_model=AuditResponse,
             summary="Audit entries about the caller's accounts, newest first")
    def audit(user_id: str = Depends(caller),
              limit: int | None = Query(default=None, ge=1, le=100_000),
              since: QueryDay | None = None, until: QueryDay | None = None,
              username: UsernameText | None = None, account: AccountIdText | None = None,
              revision: int | None = Query(default=None, ge=0, le=2**62)) -> JSONResponse:
        query = AuditQuery(since=since, until=until, username=username, account=account,
                           revision=revision)
        entries = system.visible_audit(me(user_id).username, limit, query)
        return JSONResponse({"entries": audit_to_wire(entries)})

    @app.get("/v1/access-at", responses=_ERRORS, response_model=AccessAtResponse,
             summary="The caller's reviewable accounts' access at a past revision or day")
    def access_at(at: QueryAt, user_id: str = Depends(caller)) -> JSONResponse:
        past = system.visible_access_at(me(user_id).username, at)
        return JSONResponse({"revision": past.revision, "state": state_to_wire(past.state),
                             "notes": past.notes})

    @app.post("/v1/audit/latest", responses=_ERRORS, response_model=AuditResponse,
              summary="The newest entry behind each (account, subject): a plan's drift")
    def latest(body: LatestRequest, user_id: str = Depends(caller)) -> JSONResponse:
        cells = [(account, subject) for account, subject in body.cells]
        entries = system.visible_latest(me(user_id).username, cells)
        return JSONResponse({"entries": audit_to_wire(entries)})

    @app.get("/v1/audit/verify", responses=_ERRORS, response_model=ChainResponse,
             summary="Whether the audit trail's hash chain holds")
    def verify_audit(user_id: str = Depends(caller)) -> ChainResponse:
        holds, broken = system.visible_chain_check(me(user_id).username)
        return ChainResponse(holds=holds, broken=broken)

    @app.get("/v1/review-status", responses=_ERRORS, response_model=ReviewsResponse,
             summary="The last access review of these accounts, and break-glass applies since")
    def reviews(account: Annotated[list[AccountIdText],
                                   Query(default_factory=list, max_length=10_000)],
                user_id: str = Depends(caller), grants: bool = False) -> JSONResponse:
        user = me(user_id)
        body = _review_body(review_status_as(system, user, account))
        if grants:
            body["latest"] = audit_to_wire(list(reviews_as(system, user, account).values()))
        return JSONResponse(body)

    @app.post("/v1/reviews", response_model=ReviewResponse, responses=_ERRORS,
              status_code=201, summary="Record an access review (`access --attest`)")
    def attest(body: ReviewRequest, user_id: str = Depends(caller)) -> ReviewResponse:
        if not body.note.strip():
            raise RuleError("a review needs a note saying what was reviewed and why")
        done = attest_as(system, me(user_id), body.accounts, body.note, None, body.digest)
        return ReviewResponse(revision=done.revision, digest=done.digest, rows=done.rows)

    @app.post("/v1/plan", response_model=PlanResponse, responses=_PRACTICE_ERRORS,
              summary="Plan a practice against what the caller can see (changes nothing)")
    def plan(body: PlanRequest, user_id: str = Depends(caller)) -> PlanResponse:
        desired = load_text(body.practice.encode("utf-8", "replace"), "practice", SERVICE_MAX_NODES)
        made = plan_as(system, me(user_id), desired, body.rotate, body.acting)
        return PlanResponse(**made.to_json(), saved_plan=SavedPlan.of(made))

    @app.post("/v1/signup", response_model=SignupResponse, responses=_ERRORS, status_code=201,
              summary="Free Trial sign-up: a new provider account (throttled per address)")
    def signup(body: SignupRequest, request: Request) -> SignupResponse:
        try:
            account_id = system.signup(body.provider_name, body.username, body.password,
                                       body.account_id, address=address(request))
        except Conflict:
            # Which of the two is taken is not said. (With a name nobody has, a 409 does say
            # the id exists: the per-address throttle keeps that a slow question, as any
            # sign-up screen's "that name is taken" is.)
            raise Conflict("that Account ID or username is taken") from None
        except Throttled:
            raise
        except RuleError as exc:
            # the rule's words may quote the request (a password typed as the username):
            # said by field, never by value (docs/contracts.md, the service)
            raise RuleError("the sign-up was refused: the password must be at least 8 "
                            "characters, not the username and not a common password; the "
                            f"provider's name plain text of at most {MAX_NAME} characters") from exc
        return SignupResponse(account_id=account_id, username=body.username)

    @app.post("/v1/notices", response_model=NoticeResponse, responses=_ERRORS,
              status_code=201, summary="Record a group-rate notice as sent")
    def notices(body: NoticeRequest, user_id: str = Depends(caller)) -> NoticeResponse:
        providers: list[dict[str, object]] = [p.model_dump() for p in body.providers]
        recorded = system.record_notice_as(me(user_id), body.practice_name, body.tin,
                                           providers)
        return NoticeResponse(recorded=recorded)

    @app.post("/v1/names", response_model=NamesResponse, responses=_ERRORS,
              summary="Which of these usernames are taken (as a sign-up screen would say)")
    def names(body: NamesRequest, user_id: str = Depends(caller)) -> NamesResponse:
        system.claim_name_lookups(me(user_id), len(body.usernames), NAMES_PER_HOUR)
        return NamesResponse(taken=system.taken(body.usernames))

    @app.post("/v1/apply", response_model=ApplyResponse, responses=_PRACTICE_ERRORS,
              summary="Apply a saved plan in one transaction, as the plan's acting username",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": {"$ref": _ref("ApplyRequest")}}}}})
    def apply(request: Request, user_id: str = Depends(caller)) -> ApplyResponse:
        # Parsed and validated here, in the thread pool, never on the event loop: a large
        # body can't stall /v1/health or the other requests (docs/contracts.md, the edge).
        body = _parse(ApplyRequest, request)
        desired = (load_text(body.practice.encode("utf-8", "replace"), "practice",
                             SERVICE_MAX_NODES) if body.practice is not None else None)
        plan = body.plan.to_plan()
        revision = apply_as(system, me(user_id), plan, body.passwords, desired,
                            address=address(request), note=body.note,
                            guards=Guards(max_removals=body.max_removals,
                                          break_glass=body.break_glass))
        return ApplyResponse(revision=revision, changes=len(plan.changes))

    _document_bodies(app, [ApplyRequest])
    assert {"/v1/state", "/v1/audit", "/v1/apply", "/v1/plan"} <= AUTHENTICATED_PATHS
    return Edge(app, token_owner=system.token_owner, max_body=max_body,
                trusted_proxy=trusted_proxy)


def _declared_names(*shapes: type) -> set[str]:
    """The field names models and TypedDicts declare: the location parts an error may show
    (a dict key a client chose shows as `*`). Read from the shapes, so a new field shows."""
    names: set[str] = set()
    for shape in shapes:
        fields = getattr(shape, "model_fields", None)
        names |= set(fields if fields is not None else getattr(shape, "__annotations__", {}))
    return names


_SHOWN_LOC_PARTS = {
    "body", "query", "path", "header",
    "usernames", "max_removals", "rotate", "limit", "account", "grants",  # query parameters
    *_declared_names(LoginRequest, SignupRequest, NoticeRequest, NoticeProvider, ApplyRequest,
                     ReviewRequest,
                     SavedPlan, PracticeSetup, UsernameAdded, UsernameRemoved,
                     *CHANGE_CLASSES.values()),
}


_QUOTED = re.compile("'[^']*'|\"[^\"]*\"")


def _validation_text(errors: Any) -> str:
    """Where and what, never the value: a password sent in the wrong field must not come back
    in the answer. Location parts that are not field names (dict keys a client chose) show
    as `*`."""
    lines = []
    for err in errors:
        parts = [str(p) if isinstance(p, int) or p in _SHOWN_LOC_PARTS else "*"
                 for p in err.get("loc", ()) if not (isinstance(p, str) and "[" in p)]
        kind = err.get("type", "")
        if kind == "extra_forbidden":
            parts = parts[:-1]
            what = "has a field that is not allowed here"
        elif kind == "union_tag_invalid":
            what = "type is not a change type this service knows"
        elif kind in ("json_invalid", "json_type"):
            what = "is not valid JSON"
        else:
            what = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
            if "Input should be" in what and "'" in what and kind != "literal_error":
                what = "has the wrong type or form"
            elif kind != "literal_error":
                what = _QUOTED.sub("…", what)  # a rule's words may quote the value: not here
        lines.append(f"{'.'.join(parts) or 'body'}: {what}")
    shown = lines[:10]
    if len(lines) > 10:
        shown.append(f"and {len(lines) - 10} more")
    return "; ".join(shown) or "the request is invalid"


def serve(system: AccountSystem, host: str, port: int, max_body: int = DEFAULT_MAX_BODY,
          trusted_proxy: str | None = None) -> None:
    import uvicorn

    from groupsync.edge import MAX_CONNECTIONS, GuardedH11, bind_socket

    # Slow clients hold a descriptor each until they time out: use every one the system allows.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sock = bind_socket(host, port)  # fails here, as one line, if the port is taken
    protocol = type("ServeH11", (GuardedH11,),
                    {"exempt": frozenset({trusted_proxy} if trusted_proxy else ())})
    config = uvicorn.Config(
        create_app(system, max_body=max_body, trusted_proxy=trusted_proxy),
        http=protocol, log_level="info", server_header=False, date_header=True,
        # the client address is decided by the edge (--trusted-proxy), never by uvicorn's
        # own X-Forwarded-For handling, which trusts loopback by default
        proxy_headers=False,
        limit_concurrency=MAX_CONNECTIONS, timeout_keep_alive=5,
        # Access logs carry method, path and status only: no body, no header, no secret.
    )
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    # uvicorn says nothing of where it listens when handed a socket: said here, once, after
    # the bind succeeded (so a port in use is the only line a failed start prints)
    log.info("groupsync serve listening on http://%s:%d", shown, bound_port)
    uvicorn.Server(config).run(sockets=[sock])
