"""The account system's vocabulary: areas, levels, code files, and the in-memory State.

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

# Contract order (DESIGN §2): rendering, storage columns and JSON all follow it.
AREAS: Final = (
    "clients",
    "scheduling",
    "notes",
    "billing",
    "claims",
    "codes",
    "reports",
    "practice_setup",
    "account_access",
)
LEVELS: Final = ("full", "view", "none")
LEVEL_RANK: Final = {"none": 0, "view": 1, "full": 2}

Privileges = dict[str, str]  # area -> level, always all nine areas
Record = dict[str, str]  # one code record, every field as text

FULL: Final[Privileges] = {area: "full" for area in AREAS}
NONE: Final[Privileges] = {area: "none" for area in AREAS}

# Code files: their key field and the fields a record holds, in display order.
CODE_FILES: Final = {
    "diagnosis_codes": ("code", ("code", "description")),
    "billing_codes": ("code", ("code", "description", "fee")),
    "insurance_payers": ("name", ("name", "payer_id", "claims")),
}
CODE_FILE_NAMES: Final = tuple(CODE_FILES)

# ICD-10-CM: a letter (U is reserved for special use but valid), two characters, then an
# optional dot and one to four more. Upper case only, as the code set prints them.
ICD10_RE: Final = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
# CPT / HCPCS: five characters; CPT Category II/III end in F/T, HCPCS start with a letter.
BILLING_RE: Final = re.compile(r"^[0-9A-Z]{5}$")
# Anchored for JSON Schema and pydantic; in Python always used with fullmatch, because `$`
# also matches before a trailing newline (`riverside-admin\n` must not be a username).
USERNAME_PATTERN: Final = r"^[A-Za-z0-9._@-]{3,64}$"
USERNAME_RE: Final = re.compile(USERNAME_PATTERN)
ACCOUNT_ID_RE: Final = re.compile(r"^[0-9]{1,20}$")
TIN_RE: Final = re.compile(r"^([0-9]{2})-?([0-9]{7})$")


# C0 and C1 control characters (newline, tab and ESC among them) and the bidirectional
# overrides: in a name or description they would let a value rewrite a terminal line
# (`\e[1A\e[2K… No changes.`), forge a line of a notice, or display reversed.
# As a character class in escaped form, so the editor schema (ECMA regex) and the service's
# request models (pydantic) refuse exactly what this module does.
CONTROL_CLASS: Final = r"\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_CONTROL_RE: Final = re.compile(f"[{CONTROL_CLASS}]")


def is_blank(text: str) -> bool:
    """Nothing a reader would see: spaces of any kind and invisible format characters
    (zero-width spaces, joiners) only."""
    return all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in text)


def check_text(value: str, what: str) -> str:
    """Refuse control characters in a text field; returns the value unchanged."""
    if _CONTROL_RE.search(value):
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
    return f"{m.group(1)}-{m.group(2)}"


def normalize_fee(fee: str) -> str:
    """A fee as text with exactly two decimals; never a float on the way."""
    text = fee.strip()
    # at most 12 digits of dollars: past that it is no fee (and Decimal's 28-digit context
    # would refuse to round it)
    if not re.fullmatch(r"[0-9]{1,12}(\.[0-9]{1,2})?", text):
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

    record: Record = {}
    key = text(key_field)
    if not key:
        raise RuleError(f"{file} record needs a {key_field}")
    if file == "diagnosis_codes":
        if not ICD10_RE.fullmatch(key):
            raise RuleError(f"diagnosis code {key!r} is not an ICD-10-CM code (like F41.1)")
        record = {"code": key, "description": text("description")}
    elif file == "billing_codes":
        if not BILLING_RE.fullmatch(key):
            raise RuleError(f"billing code {key!r} is not a 5-character code (like 90837)")
        fee = text("fee")
        record = {
            "code": key,
            "description": text("description"),
            "fee": normalize_fee(fee) if fee else "0.00",
        }
    else:
        claims = text("claims") or "paper"
        if claims not in ("electronic", "paper"):
            raise RuleError(f"claims must be electronic or paper, not {claims!r}")
        payer_id = text("payer_id")
        if claims == "electronic" and not payer_id:
            raise RuleError(f"payer {key!r} has claims: electronic and needs a payer_id")
        record = {"name": key, "payer_id": payer_id, "claims": claims}
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


def ukey(username: str) -> str:
    """The case-insensitive identity of a username."""
    return username.casefold()


@dataclass
class State:
    """One consistent snapshot of the store, as read in bulk."""

    lineage: str
    revision: int
    write_count: int = 0  # rows ever written to the state tables; moved by any writer
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
    store's write count, which costs nothing to read."""
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
