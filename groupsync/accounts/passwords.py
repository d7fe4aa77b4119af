"""Password hashing: argon2id at OWASP's minimum or above, parameters kept in the hash.

argon2-cffi puts m, t and p inside the encoded hash and verifies with those, so raising the
parameters below later never breaks a hash stored earlier. Verification is constant-time
inside libargon2.
"""

from __future__ import annotations

import os
import threading
from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP Password Storage Cheat Sheet minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
MEMORY_KIB = 19 * 1024
TIME_COST = 2
PARALLELISM = 1

_hasher = PasswordHasher(
    time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=PARALLELISM, type=Type.ID
)


@cache
def _dummy_hash() -> str:
    """A fixed hash to verify against when the username is unknown, so an unknown username
    costs the same time as a wrong password and the two can't be told apart by timing."""
    return _hasher.hash("groupsync-no-such-user")


# Each argon2 call takes 19 MiB and a core. In a threaded server, more of them at once than
# there are cores buys no speed, and every extra one leaves a 19 MiB block in some malloc
# arena for good; so they queue here.
_slots = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))


def hash_password(password: str) -> str:
    with _slots:
        return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; an unknown user (hash None) still pays for one check."""
    target = password_hash or _dummy_hash()
    try:
        with _slots:
            matched = _hasher.verify(target, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return matched and password_hash is not None


# A new password's policy (docs/contracts.md, "Hardening: saved plans, passwords and text"): long
# enough, not the username, not a common password.
MIN_LENGTH = 8


def password_problem(password: str, username: str) -> str | None:
    """Why `password` can't be a new password for `username`, or None. The answer never
    repeats the password."""
    if len(password) < MIN_LENGTH:
        return f"is shorter than {MIN_LENGTH} characters"
    if password.casefold() == username.casefold():
        return "is the username itself"
    if password.casefold() in _common_passwords():
        return "is one of the 30,000 most common passwords"
    return None


@cache
def _common_passwords() -> frozenset[str]:
    """zxcvbn's list of the 30,000 most common passwords (from leaked password sets), which it
    ships and keeps; loaded only when a new password is checked."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])
