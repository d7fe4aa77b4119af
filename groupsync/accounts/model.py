"""The account system's rules for values (names, TINs, fees, code records) and the in-memory
State. The words themselves (areas, levels, code files, patterns) are groupsync.vocabulary's.

State is what one bulk read of the store gives: every account, username, join (with its
privileges) and code record. The engine plans against it; the account system checks its rules
against it inside a transaction and writes back only what changed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Final

from groupsync.errors import RuleError
from groupsync.vocabulary import (
    AREAS,
    CODE_FILE_NAMES,
    CODE_FILE_SPECS,
    CODE_FILES,
    CONTROL_RE,
    LEVELS,
    MONEY_RE,
    TIN_RE,
)

Privileges = dict[str, str]  # area -> level, always all nine areas
Record = dict[str, str]  # one code record, every field as text

FULL: Final[Privileges] = {area: "full" for area in AREAS}

def is_blank(text: str) -> bool:
    """Nothing a reader would see: spaces of any kind and invisible format characters
    (zero-width spaces, joiners) only."""
    return all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in text)


def check_text(value: str, what: str) -> str:
    """Refuse control characters in a text field; returns the value unchanged."""
    if CONTROL_RE.search(value):
        raise RuleError(f"{what} must not contain control characters (newlines, tabs, escapes)")
    return value


def full_privileges() -> Privileges:
    return dict(FULL)


def normalize_privileges(given: dict[str, str] | None) -> Privileges:
    """All nine areas, `none` on any area not given; rejects unknown areas and levels."""
    given = given or {}
    for area, level in given.items():
        if area not in AREAS:
            raise RuleError(f"unknown privilege area {area!r} (areas: {', '.join(AREAS)})")
        if level not in LEVELS:
            raise RuleError(f"unknown privilege level {level!r} (levels: {', '.join(LEVELS)})")
    return {area: given.get(area, "none") for area in AREAS}


def normalize_tin(tin: str) -> str:
    m = TIN_RE.fullmatch(tin.strip())
    if not m:
        raise RuleError(f"TIN {tin!r} is not 9 digits (NN-NNNNNNN)")
    if m.group(1) == "00":
        raise RuleError(f"TIN {tin!r} starts with 00, which no TIN does: check its first "
                        "two digits")
    return f"{m.group(1)}-{m.group(2)}"


def normalize_fee(fee: str) -> str:
    """A fee as text with exactly two decimals; never a float on the way."""
    text = fee.strip()
    # at most 12 digits of dollars: past that it is no fee (and Decimal's 28-digit context
    # would refuse to round it)
    if not MONEY_RE.fullmatch(text):
        written = re.fullmatch(r"\$?\s*([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(\.[0-9]{1,2})?", text)
        digits = (written.group(1).replace(",", "") + (written.group(2) or "")) if written \
            else ""
        if written and digits != text and MONEY_RE.fullmatch(digits):
            # `fee: "$150"` or `"1,500.00"`: the amount is there, the punctuation is not
            raise RuleError(f"fee {fee!r}: write the amount alone, like "
                            f"{Decimal(digits).quantize(Decimal('0.01'))}")
        raise RuleError(
            f"fee {fee!r} is not an amount of money (digits, at most two decimals, not negative,"
            " under a trillion)"
        )
    try:
        value = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex already rules this out
        raise RuleError(f"fee {fee!r} is not an amount of money") from exc
    return f"{value.quantize(Decimal('0.01'))}"


def normalize_record(file: str, raw: dict[str, object]) -> Record:
    """Validate one code record and return it with every field as canonical text.

    Raises RuleError naming the field; the config loader turns that into FILE:LINE:COL.
    """
    if file not in CODE_FILES:
        raise RuleError(f"unknown code file {file!r} (files: {', '.join(CODE_FILE_NAMES)})")
    key_field, fields = CODE_FILES[file]
    unknown = [k for k in raw if k not in fields]
    if unknown and "fee" in raw and re.fullmatch(r"[0-9]{3}(\.[0-9]*)?", str(unknown[0])) \
            and raw[unknown[0]] is None:
        # `{…, fee: 1,500.00}`: in a flow mapping the comma ends the value
        raise RuleError(f"fee {raw['fee']},{unknown[0]}: write money without a thousands "
                        f"separator, like {raw['fee']}{unknown[0]}")
    if unknown:
        raise RuleError(f"unknown field {unknown[0]!r} in {file} (fields: {', '.join(fields)})")

    def text(name: str) -> str:
        value = raw.get(name)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise RuleError(f"{name} must be text")
        return check_text(value, name).strip()

    key = text(key_field)
    if not key:
        raise RuleError(f"{file} record needs a {key_field}")
    record: Record = {}
    for spec in CODE_FILE_SPECS[file].fields:
        value = key if spec.name == key_field else text(spec.name)
        if spec.pattern is not None and not spec.pattern.fullmatch(value):
            raise RuleError(f"{CODE_FILE_SPECS[file].label} {value!r} is not {spec.example}")
        if not value:
            value = spec.default
        elif spec.kind == "money":
            value = normalize_fee(value)
        elif spec.kind == "choice" and value not in spec.choices:
            raise RuleError(f"{spec.name} must be {' or '.join(spec.choices)}, not {value!r}")
        record[spec.name] = value
    for when, value, needed in CODE_FILE_SPECS[file].requires:
        if record[when] == value and not record[needed]:
            raise RuleError(f"{CODE_FILE_SPECS[file].label} {key!r} has {when}: {value} and "
                            f"needs a {needed}")
    return record


@dataclass
class Account:
    account_id: str
    provider_name: str
    signup_username: str
    practice_name: str | None = None
    tin: str | None = None
    bills_electronically: bool = False
    created_at: str = ""
    trial_ends: str | None = None  # ISO date; None means 30 days after created_at
    setup_visible: bool = True  # False in what a username without view on practice_setup sees

    def practice_setup(self) -> dict[str, object]:
        return {
            "practice_name": self.practice_name,
            "tin": self.tin,
            "bills_electronically": self.bills_electronically,
        }


@dataclass(frozen=True)
class Notice:
    """A group-rate notice recorded as sent: the providers it listed."""

    id: int
    sent_at: str
    practice_name: str
    tin: str
    providers: list[dict[str, object]]


@dataclass
class User:
    username: str  # as first written; compared case-insensitively everywhere
    home: str
    password_hash: str
    created_at: str = ""
    id: str = ""  # stable, made once, never reused: audit, tokens and throttling refer to it
    last_login: str = ""  # UTC, its last successful log-in (when read with the state)


def ukey(username: str) -> str:
    """The case-insensitive identity of a username."""
    return username.casefold()


@dataclass
class State:
    """One consistent snapshot of the store, as read in bulk."""

    lineage: str
    revision: int
    # 'a:' + account id or 'u:' + casefolded username -> its version (schema 6): moved by
    # every write to a row about it, 0 when never written. A scoped read has those of its
    # declared accounts and named usernames; what the service shows, those of its accounts.
    versions: dict[str, int] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)  # ukey -> User
    # (ukey, account_id) -> privileges; the home account is an access row like any other
    access: dict[tuple[str, str], Privileges] = field(default_factory=dict)
    # account_id -> file -> key -> record
    codes: dict[str, dict[str, dict[str, Record]]] = field(default_factory=dict)

    notices: list[Notice] = field(default_factory=list)  # sent group-rate notices, oldest first
    # Indexes over `access`, kept in step by set_access/drop_access, so rule checks and the
    # planner never scan every access row for one account or one username.
    by_account: dict[str, set[str]] = field(default_factory=dict)
    by_user: dict[str, set[str]] = field(default_factory=dict)
    # the storage.Scope this state was read for (None: the whole store). A scoped state
    # knows its accounts and the usernames around them, not every name in the store.
    scope: object = None

    def __post_init__(self) -> None:
        for (u, acct) in self.access:
            self.by_account.setdefault(acct, set()).add(u)
            self.by_user.setdefault(u, set()).add(acct)

    def set_access(self, username: str, account_id: str, privileges: Privileges) -> None:
        u = ukey(username)
        self.access[(u, account_id)] = dict(privileges)
        self.by_account.setdefault(account_id, set()).add(u)
        self.by_user.setdefault(u, set()).add(account_id)

    def drop_access(self, username: str, account_id: str) -> None:
        u = ukey(username)
        self.access.pop((u, account_id), None)
        self.by_account.get(account_id, set()).discard(u)
        self.by_user.get(u, set()).discard(account_id)

    def user(self, username: str) -> User | None:
        return self.users.get(ukey(username))

    def level(self, username: str, account_id: str, area: str) -> str:
        privs = self.access.get((ukey(username), account_id))
        return privs[area] if privs else "none"

    def accounts_of(self, username: str) -> list[str]:
        return sorted(self.by_user.get(ukey(username), ()))

    def file(self, account_id: str, file: str) -> dict[str, Record]:
        return self.codes.get(account_id, {}).get(file, {})


def state_digest(state: State) -> str:
    """A fingerprint of the state's content (not hashes, not the audit trail): equal digests
    mean equal accounts, usernames, access and codes. For checks and tests; staleness uses the
    versions of the rows a plan was made from, which cost one indexed read."""
    import hashlib

    h = hashlib.sha256()
    for acct in sorted(state.accounts):
        a = state.accounts[acct]
        h.update(repr((acct, a.provider_name, a.signup_username, a.practice_name, a.tin,
                       a.bills_electronically)).encode())
    for k in sorted(state.users):
        u = state.users[k]
        h.update(repr((k, u.username, u.home)).encode())
    for pair in sorted(state.access):
        privs = state.access[pair]
        h.update(repr((pair, tuple(privs[a] for a in AREAS))).encode())
    for acct in sorted(state.codes):
        for file in sorted(state.codes[acct]):
            records = state.codes[acct][file]
            for code in sorted(records):
                h.update(repr((acct, file, code, tuple(records[code].values()))).encode())
    return h.hexdigest()
