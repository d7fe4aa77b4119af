"""Saved plans: what `plan --out` writes and `apply PLANFILE` (or `POST /v1/apply`) reads.

A saved plan is its own format (`groupsync-saved-plan`, version 3), not the `plan --json`
view: it carries what applying needs (who acts, which variables hold the passwords) and is
treated as written by someone hostile when it comes back.

- Its shape is checked against the same typed change classes the planner makes (changes.py),
  so a malformed or hand-made plan is refused with a clear message before anything runs.
- It is authenticated: an HMAC-SHA256 over the canonical plan, keyed by argon2id from *every*
  password the apply will use (each login the plan names) and the store's lineage. An edited
  file fails the check. Every password, not only the acting login's: an apply switches to the
  master and to provider logins with passwords from the environment, so a plan keyed by one
  low-privilege password could be forged by its holder to act with the others. To forge a
  plan one must know every password it uses, and then one could act as those usernames
  anyway. The key never lives in a file, and argon2id makes the tag as costly to brute-force
  offline as the store's own password hashes.
- It holds no secret: only the names of the variables the apply will read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Annotated, Any

from argon2.low_level import Type, hash_secret_raw
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    StringConstraints,
    ValidationError,
    model_validator,
)

from groupsync.accounts.model import ukey
from groupsync.accounts.passwords import MEMORY_KIB, PARALLELISM, TIME_COST
from groupsync.changes import (
    Change,
    Text,
    change_adapter,
    describe,
)
from groupsync.errors import PlanError
from groupsync.files import ReadProblem, read_regular
from groupsync.plan import Plan
from groupsync.vocabulary import (
    ACCOUNT_ID_PATTERN,
    DAY_PATTERN,
    PROVIDER_KEY_PATTERN,
    USERNAME_PATTERN,
    VAR_NAME_PATTERN,
    UsernameText,
)
from groupsync.vocabulary import AccountIdText as AccountId

FORMAT = "groupsync-saved-plan"
FORMAT_VERSION = 3  # 3: a basis of row versions, not the store-wide write count
MAX_BYTES = 256 * 1024 * 1024  # a size-L first apply (340,000 code records) is ~120 MiB

# the file's own patterns: a plan saved from any valid file reads back
VarName = Annotated[str, StringConstraints(pattern=VAR_NAME_PATTERN)]
ProviderKey = Annotated[str, StringConstraints(pattern=PROVIDER_KEY_PATTERN)]
Lineage = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f-]{27}$")]
# a row version's key: 'a:' + an account id or 'u:' + a casefolded username
BasisKey = Annotated[str, StringConstraints(
    pattern=f"^(a:{ACCOUNT_ID_PATTERN[1:-1]}|u:{USERNAME_PATTERN[1:-1].replace('A-Z', '')})$")]


class SavedPlan(BaseModel):
    """A plan as it travels: in a saved plan file and in `POST /v1/apply`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lineage: Lineage
    revision: NonNegativeInt
    basis: Annotated[dict[BasisKey, NonNegativeInt], Field(max_length=100_000)] = {}
    changes: list[Change]
    warnings: Annotated[list[Text], Field(max_length=10_000)] = []
    actor: UsernameText
    master: UsernameText
    acting: Annotated[str, StringConstraints(pattern=f"^$|{USERNAME_PATTERN}")] = ""
    acting_until: Annotated[str, StringConstraints(pattern=f"^$|{DAY_PATTERN}")] = ""
    sealed: bool = False
    persons: Annotated[dict[UsernameText, Text], Field(max_length=10_000)] = {}
    credentials: dict[UsernameText, VarName]
    code_master: AccountId | None = None
    accounts: dict[AccountId, ProviderKey] = {}
    logins: dict[AccountId, UsernameText] = {}
    guests: Annotated[list[UsernameText], Field(max_length=10_000)] = []

    @model_validator(mode="before")
    @classmethod
    def _changes_one_by_one(cls, data: Any) -> Any:
        """Changes are checked one at a time, stopping at the tenth bad one: a hostile plan of
        two million `{}` would otherwise make two million error records (gigabytes) before
        the answer."""
        if not isinstance(data, dict) or not isinstance(data.get("changes"), list):
            return data
        checked, problems = [], []
        for i, raw in enumerate(data["changes"]):
            try:
                checked.append(change_adapter.validate_python(raw))
            except ValidationError as exc:
                problems.append(describe(exc, f"changes.{i}"))
                if len(problems) == 10:
                    problems.append("(stopped at ten bad changes)")
                    break
        if problems:
            raise ValueError("; ".join(problems))
        return {**data, "changes": checked}

    @model_validator(mode="after")
    def _consistent(self) -> SavedPlan:
        named = {ukey(u) for u in self.credentials}
        if ukey(self.actor) not in named or ukey(self.acting or self.master) not in named:
            raise ValueError("credentials must name the variables of the actor and of the "
                             "username that acts")
        return self

    @classmethod
    def of(cls, plan: Plan) -> SavedPlan:
        # every field of a Plan that travels, by name: a field added to Plan is saved too
        # (a test checks the two lists agree, homes, waiting and drift aside: recomputed)
        return cls.model_construct(**{name: _copy(getattr(plan, name))
                                      for name in cls.model_fields})

    def to_plan(self) -> Plan:
        return Plan(**{name: _copy(getattr(self, name)) for name in type(self).model_fields})


def _copy(value: Any) -> Any:
    return type(value)(value) if isinstance(value, list | dict) else value


def parse_plan(data: Any, where: str = "plan") -> Plan:
    """A plan from outside (already JSON-decoded), checked in full; PlanError if it isn't one."""
    try:
        return SavedPlan.model_validate(data).to_plan()
    except ValidationError as exc:
        raise PlanError(f"{where} is not a valid groupsync plan: {describe(exc)}") from None


def plan_data(plan: Plan) -> dict[str, Any]:
    return SavedPlan.of(plan).model_dump(mode="json")


def _canonical(plan: dict[str, Any]) -> bytes:
    return json.dumps(plan, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _key_material(plan: dict[str, Any], passwords: dict[str, str]) -> bytes:
    """Every password the plan's credentials name, in a fixed order; a missing one fails the
    check rather than the apply (PlanError, before anything runs)."""
    credentials = plan.get("credentials")
    if not isinstance(credentials, dict) or not credentials:
        raise PlanError("the plan names no credentials; refused")
    parts = []
    for username in sorted(credentials, key=ukey):
        password = passwords.get(username)
        if not password:
            raise PlanError(f"the apply needs the password of {username}; refused")
        parts.append(f"{ukey(username)}\x00{password}")
    return "\x00\x00".join(parts).encode()


def _tag(plan: dict[str, Any], passwords: dict[str, str], salt: bytes) -> str:
    key = hash_secret_raw(
        _key_material(plan, passwords), salt + str(plan.get("lineage", "")).encode(),
        time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=PARALLELISM, hash_len=32,
        type=Type.ID,
    )
    message = f"{FORMAT}/{FORMAT_VERSION}\n".encode() + _canonical(plan)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def dumps(plan: Plan, passwords: dict[str, str]) -> str:
    """The saved plan file's text, authenticated with every password the apply will use."""
    data = plan_data(plan)
    salt = secrets.token_bytes(16)
    return json.dumps({
        "format": FORMAT, "format_version": FORMAT_VERSION, "plan": data,
        "mac": {"alg": "hmac-sha256/argon2id", "salt": salt.hex(),
                "tag": _tag(data, passwords, salt)},
    }, indent=1, ensure_ascii=False) + "\n"


class Unverified:
    """A saved plan read and shape-checked, not yet authenticated: its credentials say which
    passwords `verify` needs; nothing else of it may be used before."""

    def __init__(self, name: str, plan: Plan, data: dict[str, Any], salt: bytes,
                 tag: str) -> None:
        self.name = name
        self.plan = plan
        self._data = data
        self._salt = salt
        self._tag = tag

    def verify(self, passwords: dict[str, str]) -> Plan:
        """The plan, if its tag matches the passwords its credentials name."""
        if not hmac.compare_digest(_tag(self._data, passwords, self._salt), self._tag):
            raise PlanError(
                f"{self.name} was changed after groupsync wrote it (or the passwords it was "
                "written with have changed); refused, nothing was changed. Run plan --out again"
            )
        return self.plan


def read(path: str) -> Unverified:
    """Read and shape-check a saved plan file; raises PlanError with one clear line."""
    try:
        raw = read_regular(path, MAX_BYTES)
    except FileNotFoundError:
        raise PlanError(f"plan file {path} not found") from None
    except IsADirectoryError:
        raise PlanError(f"plan file {path} is a directory") from None
    except ReadProblem as exc:
        if "larger" in str(exc):
            raise PlanError(f"{path} is larger than any groupsync plan ({MAX_BYTES >> 20} MiB)") \
                from None
        raise PlanError(f"plan file {path} {exc}") from None
    except OSError as exc:
        raise PlanError(f"can't read plan file {path}: {exc.strerror}") from None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # not UTF-8, not JSON, an integer of 4,300+ digits
        raise PlanError(f"{path} is not a groupsync plan file (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        if isinstance(doc, dict) and doc.get("format_version") == "1":
            raise PlanError(f"{path} was saved by an older groupsync (unauthenticated plan "
                            "format 1); run plan --out again")
        raise PlanError(f"{path} is not a groupsync plan file")
    version = doc.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        shown = version if isinstance(version, int) and abs(version) < 10**6 else "other"
        raise PlanError(f"{path} has plan format version {shown!r}; this groupsync reads "
                        f"version {FORMAT_VERSION} (the number)")
    mac = doc.get("mac")
    data = doc.get("plan")
    if (not isinstance(mac, dict) or not isinstance(mac.get("tag"), str)
            or not isinstance(mac.get("salt"), str) or not isinstance(data, dict)):
        raise PlanError(f"{path} is not an authenticated groupsync plan file; refused")
    try:
        salt = bytes.fromhex(mac["salt"])
    except ValueError:
        raise PlanError(f"{path} is not an authenticated groupsync plan file; refused") from None
    if len(salt) < 16:
        raise PlanError(f"{path} is not an authenticated groupsync plan file; refused")
    plan = parse_plan(data, path)
    return Unverified(path, plan, data, salt, mac["tag"])

