"""Every error groupsync raises on purpose, in one tree.

    GroupsyncError                 anything a user can cause; the CLI prints it as one line
    ├── ConfigError                practice.yaml (or an env file) is invalid; holds every problem
    ├── SecretError                a ${VAR} reference is unset or empty when its value is needed
    ├── StoreError                 the store can't be used as asked
    │   ├── StoreNotFound          no store at that place (only `sandbox` creates one)
    │   ├── StoreBusy              another writer held the store past the wait limit
    │   └── StaleError             the store changed since the plan was made
    ├── RuleError                  the account system refused an operation (its rules)
    │   ├── LoginFailed            unknown username or wrong password: one message for both
    │   │   └── LoginLocked        too many failures in a row; said alike for unknown names
    │   ├── Throttled              too many sign-ups or name look-ups in the window (429)
    │   ├── PermissionDenied       the acting username lacks the privilege the rule asks for
    │   ├── LockoutError           the change would leave an account without full account_access
    │   └── NotFound / Conflict    the object named does not exist / already exists
    ├── PlanError                  the plan can't be made or applied as asked (e.g. --max-removals)
    │   └── PolicyError            it breaks a `severity: deny` policy: one line per violation
    ├── FileWriteError             an output file (--out) can't be written, or exists already
    └── UsageError                 conflicting options, a port in use: the command can't start

Over HTTP each error travels as its status and kind (HTTP_ERRORS, one table for the service
and its client), so the CLI raises the same class through `--store http://` as locally.

Library code raises these; only `cli.py` turns them into `Error: ...` and an exit code, so no
traceback reaches a user for anything the user did.
"""

from __future__ import annotations

from dataclasses import dataclass


class GroupsyncError(Exception):
    """Base of every error a user can cause."""


@dataclass(frozen=True, order=True)
class Problem:
    """One validation problem, pointing at FILE:LINE:COL (1-based) when the place is known."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        if self.line <= 0:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class ConfigError(GroupsyncError):
    """The configuration is invalid; `problems` lists every problem found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class SecretError(GroupsyncError):
    """A ${VAR} password reference has no value where one is needed."""


class StoreError(GroupsyncError):
    """The store can't be used as asked."""


class StoreNotFound(StoreError):
    """There is no store at the given place."""


class StoreBusy(StoreError):
    """Another process kept the store locked for longer than we wait."""


class StaleError(StoreError):
    """The store changed since the plan was computed."""


class RuleError(GroupsyncError):
    """The account system refused an operation."""


class LoginFailed(RuleError):
    """Unknown username or wrong password (deliberately indistinguishable)."""

    def __init__(self, message: str, username: str = "") -> None:
        super().__init__(message)
        self.username = username


class LoginLocked(LoginFailed):
    """Too many failed log-ins in a row for that name (said the same for unknown names)."""

    def __init__(self, message: str, username: str = "", retry_after: float = 0.0) -> None:
        super().__init__(message, username)
        self.retry_after = retry_after  # seconds until the lock in force ends


class Throttled(RuleError):
    """Too many requests of one kind: Free Trial sign-ups from one client address, or "is this
    name taken" look-ups by one username."""

    def __init__(self, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermissionDenied(RuleError):
    """The acting username lacks a privilege the rule requires."""


class LockoutError(RuleError):
    """The change would leave an account with nobody holding full account_access."""


class NotFound(RuleError):
    """The named account, username, join or record does not exist."""


class Conflict(RuleError):
    """The object already exists or the request contradicts the store."""


class PlanError(GroupsyncError):
    """The plan can't be made or applied as asked."""


class PolicyError(PlanError):
    """The plan breaks a `severity: deny` policy (docs/contracts.md, "Roles and policies")."""


class FileWriteError(GroupsyncError):
    """An output file can't be written as asked (or exists and may not be overwritten)."""


class UsageError(GroupsyncError):
    """The command can't run as given (conflicting options, a port already in use)."""


# (class, HTTP status, kind): most specific first. The service answers with status and kind;
# the client (remote.py) raises the class of the kind it got back.
HTTP_ERRORS: tuple[tuple[type[GroupsyncError], int, str], ...] = (
    (LoginLocked, 429, "login_locked"),
    (LoginFailed, 401, "login_failed"),
    (Throttled, 429, "throttled"),
    (PermissionDenied, 403, "permission_denied"),
    (LockoutError, 409, "lockout"),
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (RuleError, 403, "refused"),
    (StaleError, 409, "stale"),
    (StoreBusy, 503, "store_busy"),
    (StoreNotFound, 503, "store_not_found"),
    (StoreError, 503, "store"),
    (ConfigError, 422, "invalid_practice"),
    (SecretError, 400, "secret"),
    (PolicyError, 422, "policy_denied"),
    (PlanError, 400, "plan"),
    (FileWriteError, 400, "file"),
    (UsageError, 400, "usage"),
)


def http_status(exc: GroupsyncError) -> tuple[int, str]:
    for cls, status, kind in HTTP_ERRORS:
        if isinstance(exc, cls):
            return status, kind
    return 400, "error"


def error_class(kind: str) -> type[GroupsyncError] | None:
    """The class a kind names; ConfigError (which holds a list of problems) arrives as a
    PlanError with the service's one-line summary."""
    for cls, _status, name in HTTP_ERRORS:
        if name == kind:
            return PlanError if cls is ConfigError else cls
    return None
