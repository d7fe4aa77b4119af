"""The log-ins one command (or one request) has already verified.

Its own module, with nothing heavy imported, because the command line opens this scope around
every command before it knows whether the command will log in at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

# (hash, password) pairs that already verified during one command: the same password against
# the same stored hash can't give another answer, so a `plan` + `apply` verifies each login
# once. Set only inside `remembering_logins()`, so no password outlives the command (or the
# request) that brought it.
_memo: ContextVar[dict[str, tuple[str, str]] | None] = ContextVar("login_memo", default=None)


@contextlib.contextmanager
def remembering_logins() -> Iterator[None]:
    token = _memo.set({})
    try:
        yield
    finally:
        memo = _memo.get()
        if memo is not None:
            memo.clear()
        _memo.reset(token)


@contextlib.contextmanager
def forgetting_logins() -> Iterator[None]:
    """No memo at all: what each of a service's requests starts from. `serve` runs inside
    its command's scope, and every request's context is copied from it: without this, one
    dict of verified passwords would outlive every request, for the life of the process."""
    token = _memo.set(None)
    try:
        yield
    finally:
        _memo.reset(token)


def login_memo() -> dict[str, tuple[str, str]] | None:
    """This command's verified log-ins, or None outside `remembering_logins()`."""
    return _memo.get()
