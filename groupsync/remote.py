"""The client of `groupsync serve`: the calls the engine makes, over HTTP (httpx).

It reads as the usernames it was given (each sees only the accounts it can open; their union
is the state a plan needs) and applies a plan as one request, so all-or-nothing survives the
network: the service's transaction either committed or it did not.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import ssl
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from groupsync.accounts.history import Past
from groupsync.accounts.model import State, check_text, ukey
from groupsync.accounts.storage import AuditEntry, AuditQuery, ChainCheck, ReviewStatus, Scope
from groupsync.accounts.urls import redact
from groupsync.config import Desired, Secrets
from groupsync.errors import (
    Conflict,
    LoginFailed,
    LoginLocked,
    RuleError,
    SecretError,
    StoreError,
    StoreNotFound,
    error_class,
)
from groupsync.plan import Plan

if TYPE_CHECKING:
    from groupsync.engine import Attested, Guards
from groupsync.planfile import plan_data
from groupsync.wire import audit_from_wire, merge_states, state_from_wire

TIMEOUT = httpx.Timeout(30.0, read=600.0)  # an apply at size L runs for a minute or more
LATEST_CELLS = 10_000  # cells a POST /v1/audit/latest carries: under 2.5 MB
# Accounts whose review status a state read brings along (`review=`): 500 ids are about 6 KB
# of query, well under what clients and proxies take in a URL.
REVIEW_ALONG = 500


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client of the process: building one reads the system's CA
    bundle (~20 ms of CPU), which a fleet's many practices would otherwise pay each time."""
    return ssl.create_default_context()


_CLIENTS: dict[str, httpx.Client] = {}
_CLIENTS_LOCK = threading.Lock()


def _client(base_url: str) -> httpx.Client:
    """One HTTP client (one pool of kept-alive connections) a service, for the process: a
    fleet's practices each made their own, and paid a client and a connection each. Nothing
    of a caller's is kept in it: tokens travel in each request's own header, and the service
    sets no cookies."""
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(base_url)
        if client is None or client.is_closed:
            # no cap on the pool: each client once had a pool of its own, and a library
            # caller's hundred concurrent applies must not wait for a free connection
            client = httpx.Client(base_url=base_url, timeout=TIMEOUT, verify=_tls(),
                                  limits=httpx.Limits(max_connections=None,
                                                      max_keepalive_connections=20))
            _CLIENTS[base_url] = client
    return client


class RemoteSystem:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.location = redact(self.base_url)  # what messages show: never the user-info
        self._client = _client(self.base_url)
        self._tokens: dict[str, str] = {}  # ukey -> bearer token
        # the last state read, and the logins it was read as: one command's steps (who reads,
        # what the plan reads) share one read until a log-in or a write
        self._read: tuple[tuple[str, ...], State] | None = None
        # the accounts whose review status a read brings along (a scope's, or the practice's
        # that `connect` read for), and what came: (readers, accounts, each answer)
        self.reviewing: tuple[str, ...] = ()
        self._review: tuple[tuple[str, ...], tuple[str, ...], list[Any]] | None = None

    # -- transport --------------------------------------------------------------------------

    def _call(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if method != "GET" and path not in ("/v1/login", "/v1/names", "/v1/audit/latest"):
            self._read = self._review = None  # a write: the next read is a new one
        try:
            response = self._client.request(method, path, headers=headers, **kw)
        except httpx.TimeoutException as exc:
            raise StoreError(f"the groupsync service at {self.location} did not answer in time "
                             f"({type(exc).__name__}); if this was an apply, the store is at "
                             "the old or the new revision: run plan to see which") from exc
        except httpx.TransportError as exc:
            raise StoreError(f"lost the groupsync service at {self.location} "
                             f"({type(exc).__name__}); if this was an apply, the store is at "
                             "the old or the new revision: run plan to see which") from exc
        if response.status_code < 400:
            try:
                return response.json()
            except ValueError:
                raise StoreError(f"the groupsync service at {self.location} answered "
                                 f"{response.status_code} with something that is not JSON") \
                    from None
        detail, kind = _error_of(response)
        error = error_class(kind)
        if error is None or error in (StoreError, StoreNotFound):
            raise StoreError(f"the groupsync service at {self.location} answered "
                             f"{response.status_code}: {detail}")
        raise error(detail)

    def login(self, username: str, password: str) -> str:
        try:
            data = self._call("POST", "/v1/login",
                              json={"username": username, "password": password})
        except LoginFailed as exc:
            # the service never repeats the name; the client knows which one it tried
            raise type(exc)(f"{exc} ({username})", username) from None
        token: str = data["token"]
        self._tokens[ukey(username)] = token
        return token

    def login_either(self, username: str, password: str, fallback: str,
                     fallback_password: str) -> str:
        """Log in as `username`, or as `fallback` when no such username exists (one log-in
        either way); returns the name logged in as."""
        body = {"username": username, "password": password,
                "or": {"username": fallback, "password": fallback_password}}
        try:
            data = self._call("POST", "/v1/login", json=body)
        except LoginFailed as exc:
            raise type(exc)(f"{exc} ({username} or {fallback})", username) from None
        name = str(data.get("username") or username)
        self._tokens[ukey(name)] = str(data["token"])
        return name

    # -- what the engine and the CLI call ----------------------------------------------------

    def authenticate(self, credentials: dict[str, str]) -> None:
        """Log in as each of these usernames, for reads."""
        for username, password in credentials.items():
            if ukey(username) not in self._tokens:
                self.login(username, password)

    def read_state(self, scope: Scope | None = None) -> State:
        """What the logged-in usernames may see (the service scopes every read itself). With a
        scope, the review status of its accounts comes in the same answers (`review=`), for
        the `review_status` a plan asks next: one request a practice fewer (without a scope,
        of the accounts `reviewing` names). A service that doesn't know `review=` ignores
        it, and `review_status` then asks as before."""
        if not self._tokens:
            raise StoreError("a remote store is read as a username: no login was given")
        readers = tuple(self._tokens)
        if self._read is not None and self._read[0] == readers:
            return self._read[1]
        review = sorted(scope.accounts) if scope is not None else list(self.reviewing)
        if len(review) > REVIEW_ALONG:
            review = []  # a URL of its own for them (review_status asks as before)
        params = {"review": review} if review else None
        answers = [self._call("GET", "/v1/state", token=t, params=params)
                   for t in self._tokens.values()]
        state = merge_states([state_from_wire(a) for a in answers])
        self._read = (readers, state)
        reviewed = [a.get("review") for a in answers]
        self._review = (readers, tuple(review), reviewed) \
            if review and all(isinstance(r, dict) for r in reviewed) else None
        return state

    def verify_logins(self, state: State, credentials: dict[str, str]) -> None:
        del state  # the service checks against its own state
        self.authenticate(credentials)

    def taken(self, usernames: list[str]) -> list[str]:
        token = next(iter(self._tokens.values()), None)
        if token is None:
            raise StoreError("a remote store is read as a username: no login was given")
        found = self._call("POST", "/v1/names", token=token, json={"usernames": usernames})
        return [str(u) for u in found["taken"]]

    def audit(self, limit: int | None = None,
              query: AuditQuery | None = None) -> list[AuditEntry]:
        """Every logged-in username's view of the trail, merged: each sees its own accounts'
        entries, and one entry seen by two is shown once. The service filters (`query`)."""
        if not self._tokens:
            raise StoreError("a remote store is read as a username: no login was given")
        params: dict[str, Any] = {"limit": limit} if limit else {}
        if query is not None:
            params.update({k: v for k, v in dataclasses.asdict(query).items()
                           if v is not None and k != "entry"})
        merged: dict[int, AuditEntry] = {}
        for token in self._tokens.values():
            for entry in audit_from_wire(self._call("GET", "/v1/audit", token=token,
                                                    params=params)["entries"]):
                merged[entry.id] = entry
        entries = sorted(merged.values(), key=lambda e: e.id, reverse=True)
        return entries[:limit] if limit else entries

    def latest_entries(self, cells: list[tuple[str, str]]) -> list[AuditEntry]:
        """The newest entry behind each (account, subject) that a logged-in username may
        read, merged (one request per login: the master's, for a group applied once)."""
        if not self._tokens or not cells:
            return []
        merged: dict[int, AuditEntry] = {}
        for token in self._tokens.values():
            # a first apply of a large practice asks of every record it adds: in bodies
            # under the route's cap (one query each on the service)
            for start in range(0, len(cells), LATEST_CELLS):
                batch = [list(c) for c in cells[start:start + LATEST_CELLS]]
                for e in audit_from_wire(self._call("POST", "/v1/audit/latest", token=token,
                                                    json={"cells": batch})["entries"]):
                    merged[e.id] = e
        return sorted(merged.values(), key=lambda e: e.id)

    def access_at(self, at: str, state: State, accounts: set[str]) -> Past:
        """The service rebuilds it, for what each login may review now (view on
        account_access): `state` and `accounts` are its to decide, not the client's."""
        del state, accounts
        if not self._tokens:
            raise StoreError("a remote store is read as a username: no login was given")
        answers = [self._call("GET", "/v1/access-at", token=t, params={"at": at})
                   for t in self._tokens.values()]
        merged = merge_states([state_from_wire(a["state"]) for a in answers])
        notes = sorted({str(n) for a in answers for n in a["notes"]})
        revision = int(answers[0]["revision"])
        merged.revision = revision
        return Past(merged, revision, set(), notes)

    def verify_audit(self) -> tuple[bool, int | None, ChainCheck | None]:
        """The service checks the chain: whether it holds, and the first broken entry where a
        logged-in username may read it (nothing more: the trail's size is not said)."""
        if not self._tokens:
            raise StoreError("a remote store is read as a username: no login was given")
        holds, broken = True, None
        for token in self._tokens.values():
            answer = self._call("GET", "/v1/audit/verify", token=token)
            holds = holds and bool(answer["holds"])
            if answer.get("broken") is not None:
                broken = int(answer["broken"])
        return holds, broken, None

    def apply(self, plan: Plan, passwords: dict[str, str], desired: Desired | None = None,
              progress: Callable[[int, int], None] | None = None,
              note: str | None = None, guards: Guards | None = None) -> int:
        """One request, one transaction on the service. With the practice (its file's text)
        the service re-plans inside it, as a local apply does; without, a saved plan's
        exact-revision rule holds. No progress to show: the work happens on the service."""
        del progress
        practice = desired.text if desired is not None else None
        token = self._tokens.get(ukey(plan.actor)) or self.login(plan.actor,
                                                                 passwords[plan.actor])
        body: dict[str, Any] = {"plan": plan_data(plan),
                                "passwords": {u: passwords[u] for u in plan.credentials}}
        if practice is not None:
            body["practice"] = practice
        if note:
            body["note"] = note
        if guards is not None:
            body["max_removals"] = guards.max_removals  # the service checks it too
            if guards.break_glass:
                body["break_glass"] = True
        result = self._call("POST", "/v1/apply", token=token, json=body)
        return int(result["revision"])

    def _reviews(self, accounts: list[str], grants: bool) -> list[dict[str, Any]]:
        if not self._tokens:
            raise StoreError("a remote store is read as a username: no login was given")
        params: dict[str, Any] = {"account": accounts}
        if grants:
            params["grants"] = "true"
        return [self._call("GET", "/v1/review-status", token=t, params=params)
                for t in self._tokens.values()]

    def review_status(self, accounts: list[str]) -> ReviewStatus:
        """Each logged-in username's answer, merged: the newest review any of them sees,
        and every break-glass marker after it."""
        held = self._review
        if held is not None and held[0] == tuple(self._tokens) \
                and held[1] == tuple(sorted(accounts)):
            answers = held[2]  # read with the state, moments ago
        else:
            answers = self._reviews(accounts, grants=False)
        lasts = [e for a in answers for e in audit_from_wire(a["last"])]
        last = max(lasts, key=lambda e: e.id, default=None)
        glass = {e.id: e for a in answers for e in audit_from_wire(a["break_glass"])
                 if last is None or e.id > last.id}
        return ReviewStatus(last, tuple(glass[i] for i in sorted(glass)))

    def reviews(self, accounts: list[str]) -> dict[str, AuditEntry]:
        out: dict[str, AuditEntry] = {}
        for answer in self._reviews(accounts, grants=True):
            for e in audit_from_wire(answer["latest"]):
                if e.account and (e.account not in out or out[e.account].id < e.id):
                    out[e.account] = e
        return out

    def attest(self, username: str, password: str, accounts: list[str], note: str,
               person: str | None, expected: str | None = None) -> Attested:
        """The service names the reviewer's person from its store, never from the request."""
        from groupsync.engine import Attested

        del person
        token = self._tokens.get(ukey(username)) or self.login(username, password)
        body: dict[str, Any] = {"accounts": accounts, "note": note}
        if expected:
            body["digest"] = expected
        data = self._call("POST", "/v1/reviews", token=token, json=body)
        return Attested(int(data["revision"]), str(data["digest"]), int(data["rows"]))

    def forget_logins(self) -> None:
        """Read as nobody until the next log-in (tokens end on their own at the service)."""
        self._tokens.clear()
        self._read = self._review = None

    def signup(self, provider_name: str, username: str, password: str,
               account_id: str | None) -> str:
        """The Free Trial sign-up through the service (no token; throttled per address)."""
        body: dict[str, Any] = {"provider_name": provider_name, "username": username,
                                "password": password}
        if account_id is not None:
            body["account_id"] = account_id
        return str(self._call("POST", "/v1/signup", json=body)["account_id"])

    def record_notice(self, username: str, password: str, practice_name: str, tin: str,
                      providers: list[dict[str, object]]) -> None:
        token = self._tokens.get(ukey(username)) or self.login(username, password)
        self._call("POST", "/v1/notices", token=token,
                   json={"practice_name": practice_name, "tin": tin, "providers": providers})

    def close(self) -> None:
        """Forget this client's tokens; the process's connections to the service stay
        pooled for its next client (they close when idle, or with the process)."""
        self._tokens.clear()
        self._read = self._review = None


def signup_missing(url: str, desired: Desired, passwords: dict[str, str]) -> list[str]:
    """`sandbox --store http://…`: sign up the file's provider accounts that don't exist yet,
    through the service's Free Trial sign-up. A login that works is an account that exists
    (and must be the declared one); one that doesn't is signed up. Returns the keys signed
    up now."""
    created = []
    system = RemoteSystem(url)
    try:
        for p in desired.providers.values():
            try:
                system.login(p.login, passwords[p.key])
            except LoginLocked:
                raise
            except LoginFailed:
                try:
                    system.signup(p.name, p.login, passwords[p.key], p.account_id)
                except Conflict:
                    raise RuleError(
                        f"can't sign up provider {p.key} (account {p.account_id}, login "
                        f"{p.login}): the service says that Account ID or username is taken, "
                        f"and {p.login} did not log in with ${{{p.password_var}}}; check the "
                        "file's account_id and login, and the password") from None
                created.append(p.key)
                continue
            home = system.read_state().user(p.login)
            if home is None or home.home != p.account_id:
                raise RuleError(f"provider {p.key}'s login {p.login} exists, but its account "
                                f"is not {p.account_id}; check the file's account_id")
            system.forget_logins()  # one login's view at a time
    finally:
        system.close()
    return created


def connect(url: str, desired: Desired, secrets: Secrets,
            rotate: Sequence[str] = (), acting: str | None = None) -> RemoteSystem:
    """A service store, read as a username: the master once it exists (it can open every
    declared account, so one log-in does), else each provider login (each sees its own
    account). A username being rotated (`--rotate`) has only its new password, which the
    service doesn't know yet: it is never the one that reads. The log-in policy lives here,
    once, for the CLI and the load benchmark alike."""
    fresh = {ukey(u) for u in rotate}
    logins = {}
    for p in desired.providers.values():
        if ukey(p.login) in fresh:
            continue
        with contextlib.suppress(SecretError):
            logins[p.login] = secrets.get(p.password_var, "")
    if not logins:
        raise SecretError("reading a remote store needs at least one provider login's "
                          "password (none of the providers' variables is set)")
    home_login = desired.by_account[desired.master.home].login
    first = home_login if home_login in logins else next(iter(logins))
    system = RemoteSystem(url)
    system.reviewing = tuple(sorted(desired.by_account))  # what its plan asks the status of
    declared = desired.declared(acting) if acting else None
    acting_var = declared.password_var if declared and declared.kind != "master" else None
    try:
        if acting_var is not None and acting is not None:
            # `--as`: read as that username, never as the master (a sealed master's password
            # is not even read), and as each provider login for what it can't open (a new
            # hire's account, or one it was never given)
            system.authenticate({acting: secrets.get(acting_var, f"the password of {acting}",
                                                     desired.var_where.get(acting_var))})
            # an account it can't open, or where it can't see who else can (no view on
            # account_access), is read as that account's own login too
            mine = system.read_state().access
            k = ukey(acting)
            system.authenticate({
                p.login: logins[p.login] for p in desired.providers.values()
                if p.login in logins and mine.get((k, p.account_id), {}).get(
                    "account_access", "none") == "none"})
            return system
        master = desired.master
        master_password = None
        if ukey(master.username) not in fresh:
            with contextlib.suppress(SecretError):
                master_password = secrets.get(master.password_var, "")
        if master_password is not None:
            # One log-in: as the master, or as the provider login when there is no master
            # yet (a first run). A master name that exists and doesn't take the password
            # (taken in another practice, or a wrong ${VAR}) goes the long way below, which
            # says why.
            with contextlib.suppress(LoginFailed):
                if ukey(system.login_either(master.username, master_password, first,
                                            logins[first])) == ukey(master.username):
                    _read_unseen_as_logins(system, desired, logins)
                    return system
                system.authenticate(logins)
                return system
        system.authenticate({first: logins[first]})
        # Log in as the master only when a provider login sees it (it is joined to their
        # accounts): a name taken in another practice gets no second failed log-in. Any
        # login will do: the home login may be the one being rotated.
        if (master_password is not None
                and system.read_state().user(master.username) is not None):
            system.forget_logins()  # the master's view alone (one connection still)
            system.authenticate({master.username: master_password})
            _read_unseen_as_logins(system, desired, logins)
            return system
        system.authenticate(logins)
    except BaseException:
        system.close()
        raise
    return system


def _read_unseen_as_logins(system: RemoteSystem, desired: Desired,
                           logins: dict[str, str]) -> None:
    """A provider hired since the last apply: the master can't open that account yet, so
    its own login reads it until the apply joins the master there."""
    seen = system.read_state().accounts
    system.authenticate({p.login: logins[p.login] for p in desired.providers.values()
                         if p.account_id not in seen and p.login in logins})


def _error_of(response: httpx.Response) -> tuple[str, str]:
    """The service's error, made safe to print: one line, no control characters, bounded
    (whatever answers at that URL may not be a groupsync service)."""
    try:
        data = response.json()
        detail, kind = str(data.get("detail")), str(data.get("error", ""))
    except (ValueError, AttributeError):
        detail, kind = response.reason_phrase or "error", ""
    detail = " ".join(detail.split())[:500]
    try:
        check_text(detail, "detail")
    except RuleError:
        detail = "".join(ch if ch.isprintable() else "?" for ch in detail)
    return detail, kind
