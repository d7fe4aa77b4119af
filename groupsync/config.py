"""practice.yaml → Desired: the schema (pydantic), cross-checks, and ${VAR} secrets.

Loading is three steps, each collecting every problem before failing:
1. `yamlload` turns the text into plain data (every scalar as written) with marks;
2. the pydantic models below check shape and types;
3. `_resolve` checks what one field can't see alone (references, duplicates, the master's
   rights) and builds the `Desired` the planner consumes.
Every problem is reported as FILE:LINE:COL: message, all of them at once.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from groupsync import yamlload
from groupsync.accounts.model import (
    Record,
    check_text,
    is_blank,
    normalize_record,
    normalize_tin,
    ukey,
)
from groupsync.config_roles import RolesAndPolicies, unknown_provider

# re-exported: callers of the file's loader read secrets beside it
from groupsync.envfile import Secrets as Secrets
from groupsync.envfile import load_env_file as load_env_file
from groupsync.errors import ConfigError, Problem, RuleError
from groupsync.files import ReadProblem, read_regular
from groupsync.overlay import Overlay, dump
from groupsync.policies import Policy
from groupsync.vocabulary import (
    ACCOUNT_ID_RE,
    AREAS,
    CODE_FILE_NAMES,
    CODE_FILE_SPECS,
    CODE_FILES,
    DAY_RE,
    MAX_NAME,
    PROVIDER_KEY_RE,
    SECRET_RE,
    TIN_PATTERN,
    USERNAME_RE,
    VAR_NAME,
    Area,
    CodeFileName,
    Level,
)

# YAML 1.2 core booleans only: `yes`, `no`, `on`, `off` are errors, never silently booleans.
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}


def _bool(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ValueError(f"must be true or false, not {value!r}")
    return value


def _text(pattern: re.Pattern[str] | None, what: str) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, str) and pattern is not None and not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return BeforeValidator(check)


def _plain_text(value: Any) -> Any:
    if isinstance(value, str):
        try:
            check_text(value, "text")
        except RuleError:
            raise ValueError("must not contain control characters (newlines, tabs, "
                             "escapes)") from None
    return value


def _secret(value: Any) -> Any:
    if isinstance(value, str) and not SECRET_RE.fullmatch(value):
        if re.fullmatch(f"\\${VAR_NAME}", value.strip()):
            # `$BILLER_PASSWORD`, as a shell writes it; never quoted back, since the value may
            # be a password that happens to start with `$`
            raise ValueError("a ${VARIABLE} reference needs its braces: write ${NAME}, not "
                             "$NAME")
        raise ValueError(
            "a password must be a ${VARIABLE} reference, never the password itself"
        )
    return value


def _tin(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return normalize_tin(value)
        except RuleError as exc:
            raise ValueError(str(exc)) from exc
    return value


def _pattern(regex: re.Pattern[str], description: str) -> Any:
    """The pattern for `groupsync schema` only: the BeforeValidators above do the checking,
    with messages a person can act on."""
    return Field(json_schema_extra={"pattern": regex.pattern}, description=description)


YamlBool = Annotated[bool, BeforeValidator(_bool)]
SecretRef = Annotated[str, BeforeValidator(_secret),
                      _pattern(SECRET_RE, "a ${VARIABLE} reference, never the password")]
Username = Annotated[str, _text(USERNAME_RE, "a username (3-64 letters, digits or . _ @ -)"),
                     _pattern(USERNAME_RE, "3-64 letters, digits or . _ @ -")]
AccountId = Annotated[str, _text(ACCOUNT_ID_RE, "an Account ID (digits)"),
                      _pattern(ACCOUNT_ID_RE, "the Account ID: digits")]
Tin = Annotated[str, BeforeValidator(_tin),
                Field(json_schema_extra={"pattern": TIN_PATTERN},
                      description="9 digits, dash optional")]
def _visible(value: Any) -> Any:
    if isinstance(value, str) and value and is_blank(value):
        raise ValueError("is blank; it needs a name a reader can see")
    return value


Name = Annotated[str, BeforeValidator(_visible), BeforeValidator(_plain_text),
                 Field(min_length=1, max_length=MAX_NAME)]
ProviderRef = Annotated[str, _pattern(PROVIDER_KEY_RE, "a key under providers")]
AllOr = Literal["all"] | list[str]


def _day(value: Any) -> Any:
    """A calendar day written YYYY-MM-DD (the loader keeps scalars as text: never a number
    of seconds or a date and time, which would say more than a whole day in UTC)."""
    if isinstance(value, str):
        if not DAY_RE.fullmatch(value):
            raise ValueError(f"{value!r} is not a day (write YYYY-MM-DD)")
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a day of the calendar") from None
    return value


Day = Annotated[str, BeforeValidator(_day), _pattern(DAY_RE, "a day, YYYY-MM-DD (UTC)")]
# the one person behind a username: free text, a name a reader can see
Person = Name



class _Strict(BaseModel):
    # defer_build: each model's validator is built once, inside PracticeFile's on first use,
    # rather than once per class at import (a quarter of `validate`'s start-up)
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True,
                              defer_build=True)


class Login(_Strict):
    username: Username
    password: SecretRef
    person: Person | None = None


class Provider(_Strict):
    name: Name
    account_id: AccountId
    bills_electronically: YamlBool = False
    login: Login


class Practice(_Strict):
    name: Name
    tin: Tin


class Master(_Strict):
    username: Username
    password: SecretRef
    home: ProviderRef
    person: Person | None = None
    # nobody acts as the master but with --break-glass and a --note (docs/contracts.md,
    # "People and who acts")
    sealed: YamlBool = False


class AccountEntry(_Strict):
    """One of a staff username's accounts, joined until a day: {provider: KEY, until: DAY}."""

    provider: ProviderRef
    until: Day


AccountList = Literal["all"] | list[ProviderRef | AccountEntry]


class StaffUsername(_Strict):
    password: SecretRef
    home: ProviderRef
    accounts: AccountList = Field(default_factory=list)
    person: Person | None = None
    until: Day | None = None  # deleted after this day (UTC)
    # it also works in accounts outside this practice (a workspace's username, in its home
    # practice): its access there is left to those practices, never pruned or warned about
    elsewhere: YamlBool = False


class GuestUsername(_Strict):
    """A username whose home is outside this practice (a billing service's biller), joined to
    the accounts named here with their providers' logins (docs/contracts.md, "Guests")."""

    password: SecretRef
    accounts: Literal["all"] | Annotated[list[ProviderRef], Field(min_length=1)]
    person: Person | None = None


class Codes(_Strict):
    master: ProviderRef | None = None
    copy_to: AllOr = "all"
    files: list[CodeFileName] | None = None
    diagnosis_codes: list[dict[str, Any]] | None = None
    billing_codes: list[dict[str, Any]] | None = None
    insurance_payers: list[dict[str, Any]] | None = None


class Prune(_Strict):
    usernames: YamlBool = False
    joins: YamlBool = False
    codes: YamlBool = False


AreaLevels = dict[str, Level]
PrivilegeEntry = Level | dict[str, Level | AreaLevels]
RoleName = Annotated[str, Field(max_length=64)]
# names in a policy: usernames (the file's pattern), at most 1000 of them
NameList = Annotated[list[Username], Field(max_length=1000)]
AreaList = Annotated[list[Area], Field(min_length=1)]  # `areas: []` would mean nothing
# a count as the loader reads it: `2` or `"2"` (the editor schema says so too)
_COUNTING: dict[str, Any] = {"type": ["integer", "string"], "pattern": "^[0-9]+$"}


class DenyRule(_Strict):
    usernames: NameList | None = None
    role: RoleName | None = None
    areas: AreaList | None = None
    at_least: Level = "view"
    accounts: list[ProviderRef] | None = None
    outside_home: YamlBool = False
    except_: NameList = Field(default_factory=list, alias="except")


class RequireRule(_Strict):
    areas: AreaList | None = None
    at_least: Level = "view"
    count: Annotated[int, Field(ge=1, le=1000, json_schema_extra=_COUNTING)]
    accounts: list[ProviderRef] | None = None
    except_: NameList = Field(default_factory=list, alias="except")


class IdleRule(_Strict):
    days: Annotated[int, Field(ge=1, le=36500, json_schema_extra=_COUNTING)]
    usernames: NameList | None = None
    except_: NameList = Field(default_factory=list, alias="except")


class PolicyEntry(_Strict):
    name: Name
    deny: DenyRule | None = None
    require: RequireRule | None = None
    idle: IdleRule | None = None
    severity: Literal["deny", "warn", "off"] = "deny"


class Review(_Strict):
    every_days: Annotated[int, Field(ge=1, le=3650, json_schema_extra=_COUNTING)]


class PracticeFile(_Strict):
    """practice.yaml, version 1."""

    version: Literal["1"]
    practice: Practice
    providers: Annotated[dict[str, Provider], Field(min_length=1)]
    master: Master
    usernames: dict[str, StaffUsername] = Field(default_factory=dict)
    guests: dict[str, GuestUsername] = Field(default_factory=dict)
    roles: dict[str, Any] = Field(default_factory=dict)
    privileges: dict[str, Any] = Field(default_factory=dict)
    policies: Annotated[list[PolicyEntry], Field(max_length=1000)] = Field(default_factory=list)
    codes: Codes | None = None
    prune: Prune = Field(default_factory=Prune)
    review: Review | None = None


# -- Desired: what the planner consumes ---------------------------------------------------


@dataclass(frozen=True)
class DesiredProvider:
    key: str
    name: str
    account_id: str
    bills_electronically: bool
    login: str
    password_var: str
    person: str | None = None  # the login's


@dataclass(frozen=True)
class DesiredUsername:
    username: str
    password_var: str
    home: str  # account id
    accounts: frozenset[str]  # account ids, home included
    is_master: bool = False
    person: str | None = None
    until: date | None = None  # the username's last day
    # account id -> the last day of that join (never the home: the username's own until is)
    join_until: dict[str, date] = field(default_factory=dict, compare=False, hash=False)
    # homed outside this practice (`guests:`): joined here, never made, moved or deleted;
    # `home` is then ""
    guest: bool = False
    elsewhere: bool = False  # `elsewhere: true` (and every guest): other accounts are not ours


@dataclass(frozen=True)
class Declared:
    username: str
    password_var: str
    person: str | None
    kind: str  # master | staff | login


@dataclass(frozen=True)
class PrivilegeSpec:
    """A username's managed privileges: base level, then `all`, then per-account overrides."""

    username: str
    base: str  # "none" for least privilege, "full" for the master
    all: dict[str, str]
    per_account: dict[str, dict[str, str]]
    all_role: str | None = None  # the role `all` (or the whole entry) names
    # account id -> the role its entry names, or None where its entry replaces every area
    # without one (a level alone); an account absent here keeps all_role
    account_roles: dict[str, str | None] = field(default_factory=dict)
    # account id -> the last day its per-account entry applies (then `all`, or none, does)
    account_until: dict[str, date] = field(default_factory=dict)

    def resolve(self, account_id: str) -> dict[str, str]:
        merged = {area: self.base for area in AREAS}
        merged.update(self.all)
        merged.update(self.per_account.get(account_id, {}))
        return merged

    def role(self, account_id: str) -> str | None:
        """The role this username holds in the account, as the file names it."""
        return self.account_roles.get(account_id, self.all_role)


@dataclass(frozen=True)
class DesiredCodes:
    master: str  # account id
    copy_to: tuple[str, ...]  # account ids
    files: tuple[str, ...]
    inline: dict[str, dict[str, Record]]  # file -> key -> record, only for inline files


@dataclass
class Desired:
    source: str
    practice_name: str
    tin: str
    providers: dict[str, DesiredProvider]  # key -> provider, in file order
    master: DesiredUsername
    staff: dict[str, DesiredUsername]  # ukey -> staff username
    privileges: dict[str, PrivilegeSpec]  # ukey -> spec
    codes: DesiredCodes | None
    roles: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> all nine areas
    policies: tuple[Policy, ...] = ()  # risky-grants included, as the file sets it
    warnings: list[str] = field(default_factory=list)  # for `validate`: roles nobody holds
    # about the file itself, repeated by every plan (and `validate`): a username no person
    # is named for
    file_warnings: list[str] = field(default_factory=list)
    prune_usernames: bool = False
    prune_joins: bool = False
    prune_codes: bool = False
    sealed: bool = False  # master.sealed
    review_every_days: int | None = None  # review.every_days
    # variable name -> FILE:LINE:COL of its first ${VAR} reference, for "is not set" errors
    var_where: dict[str, str] = field(default_factory=dict)
    by_account: dict[str, DesiredProvider] = field(default_factory=dict)
    text: str = ""  # the file as written (no secret: only ${VAR} references), for a service

    def __post_init__(self) -> None:
        self.by_account = {p.account_id: p for p in self.providers.values()}

    def provider_logins(self) -> dict[str, DesiredProvider]:
        return {ukey(p.login): p for p in self.providers.values()}

    def declared(self, username: str) -> Declared | None:
        """A username the file declares (the master, a staff username or a provider login),
        as one who can log in: its name as written, its password's variable, its person."""
        k = ukey(username)
        if k == ukey(self.master.username):
            m = self.master
            return Declared(m.username, m.password_var, m.person, "master")
        staff = self.staff.get(k)
        if staff is not None:
            return Declared(staff.username, staff.password_var, staff.person, "staff")
        login = self.provider_logins().get(k)
        if login is not None:
            return Declared(login.login, login.password_var, login.person, "login")
        return None

    def _managed_accounts(self, k: str) -> Iterable[str]:
        """Where the file sets a username's levels: the master everywhere, a staff username
        in its accounts, a provider login with an entry under privileges in its own."""
        declared = self.master if k == ukey(self.master.username) else self.staff.get(k)
        if declared is not None:
            return declared.accounts
        login = self.provider_logins().get(k)
        return (login.account_id,) if login else ()

    def spec_at(self, k: str, account_id: str) -> PrivilegeSpec | None:
        """The privileges entry that sets (casefolded username, account), or None."""
        spec = self.privileges.get(k)
        return spec if spec is not None and account_id in self._managed_accounts(k) else None

    def managed_cells(self) -> Iterable[tuple[str, str, PrivilegeSpec]]:
        """Every (username, account) whose levels the file sets, with its spec."""
        for k, spec in self.privileges.items():
            for acct in self._managed_accounts(k):
                yield k, acct, spec


# -- loading ------------------------------------------------------------------------------


def load_file(path: str | Path, overlay: Overlay | None = None) -> Desired:
    """Read and validate a practice file (with what its workspace adds, `overlay`); raise
    ConfigError listing every problem."""
    name = str(path)
    try:
        raw = read_regular(path, yamlload.MAX_FILE_BYTES)
    except FileNotFoundError:
        raise ConfigError([Problem(name, 0, 0, "file not found")]) from None
    except IsADirectoryError:
        raise ConfigError([Problem(name, 0, 0, "is a directory, not a file")]) from None
    except ReadProblem as exc:
        if "larger" in str(exc):  # as yamlload says it of text: at the file's start
            raise ConfigError([Problem(name, 1, 1, f"file {exc}")]) from None
        raise ConfigError([Problem(name, 0, 0, str(exc))]) from None
    except OSError as exc:
        raise ConfigError([Problem(name, 0, 0, f"can't read: {exc.strerror}")]) from None
    return load_text(raw, name, overlay=overlay)


def load_text(raw: bytes, name: str, max_nodes: int = yamlload.MAX_NODES,
              overlay: Overlay | None = None) -> Desired:
    doc, problems = yamlload.load(raw, name, max_nodes)
    if doc is None:
        raise ConfigError(problems)
    if not isinstance(doc.data, dict):
        top = Problem(name, 1, 1, "the file must be a mapping (version:, practice:, providers:, …)")
        raise ConfigError([*problems, top])
    if overlay is not None:
        doc, merged = overlay.apply(doc, name)
        if merged:
            raise ConfigError(problems + merged)
    try:
        model = PracticeFile.model_validate(doc.data)
    except ValidationError as exc:
        shape = pydantic_problems(exc, doc, name)
        seen = {(p.line, p.column) for p in shape}
        # The shape is wrong somewhere, so the full cross-checks can't run; the references to
        # provider keys still can, so a typo there is reported in the same run.
        refs = [p for p in _reference_problems(doc, name) if (p.line, p.column) not in seen]
        raise ConfigError(problems + shape + refs) from None
    try:
        desired = _Resolver(model, doc, name).resolve()
    except ConfigError as exc:
        raise ConfigError(problems + exc.problems) from None
    if problems:
        raise ConfigError(problems)
    # a service re-plans from the text: with a workspace's additions, the merged file's
    desired.text = raw.decode("utf-8") if overlay is None else dump(doc.data)
    return desired


def _reference_problems(doc: yamlload.Document, name: str) -> list[Problem]:
    """Unknown provider keys, checked on the raw data (used when the schema check failed)."""
    data = doc.data
    providers = data.get("providers")
    if not isinstance(providers, dict):
        return []
    keys = set(providers)
    out: list[Problem] = []

    def check(value: Any, path: tuple[Any, ...]) -> None:
        if isinstance(value, str) and value not in keys and value != "all":
            out.append(doc.problem(name, path, unknown_provider(value, keys)))

    master = data.get("master")
    if isinstance(master, dict):
        check(master.get("home"), ("master", "home"))
    staff = data.get("usernames")
    for username, entry in (staff.items() if isinstance(staff, dict) else ()):
        if not isinstance(entry, dict):
            continue
        check(entry.get("home"), ("usernames", username, "home"))
        accounts = entry.get("accounts")
        for i, ref in enumerate(accounts if isinstance(accounts, list) else ()):
            check(ref, ("usernames", username, "accounts", i))
    codes = data.get("codes")
    if isinstance(codes, dict):
        check(codes.get("master"), ("codes", "master"))
        copy_to = codes.get("copy_to")
        for i, ref in enumerate(copy_to if isinstance(copy_to, list) else ()):
            check(ref, ("codes", "copy_to", i))
    return out


_TYPE_WORDS = {
    "dict_type": "must be a mapping",
    "list_type": "must be a list",
    "string_type": "must be text",
    "model_type": "must be a mapping",
    "bool_type": "must be true or false",
}


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def pydantic_problems(exc: ValidationError, doc: yamlload.Document, name: str,
                      top: type[BaseModel] | None = None) -> list[Problem]:
    """Pydantic's errors as FILE:LINE:COL problems; `top` is the file's model (the practice
    file's unless given), for the keys an unknown key's hint offers."""
    problems: dict[tuple[Any, ...], Problem] = {}
    kinds_at: dict[tuple[Any, ...], set[str]] = {}
    located = [(err, _data_path(doc.data, err["loc"], err["type"])) for err in exc.errors()]
    for err, loc in located:
        kinds_at.setdefault(loc, set()).add(err["type"])
    for err, loc in located:
        kind = err["type"]
        if {"literal_error", "list_type"} <= kinds_at[loc]:
            # `accounts` / `copy_to`: one message for both branches of `all | [keys]`
            problems.setdefault(loc, doc.problem(
                name, loc, f"{'.'.join(str(x) for x in loc)}: must be 'all' or a list of "
                           f"provider keys, not {_describe(err.get('input'))}"))
            continue
        where = ".".join(str(x) for x in loc[:-1]) or "the top level"
        if kind == "extra_forbidden":
            key = str(loc[-1]) if loc else "?"
            allowed = _allowed_keys(loc[:-1], top or PracticeFile)
            hint = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            msg = f"unknown key {key!r} in {where}"
            msg += f" (did you mean {hint[0]!r}?)" if hint else f" (allowed: {', '.join(allowed)})"
            at_key = True
        elif kind == "missing":
            msg = f"missing required key {loc[-1] if loc else '?'!r} in {where}"
            at_key = True
        else:
            text = err["msg"].removeprefix("Value error, ")
            if (kind in _TYPE_WORDS and err.get("input") is None) or kind == "string_too_short":
                # an empty or null value is a missing one (docs/contracts.md, "The practice file")
                text = "is empty; it needs a value"
            elif kind in _TYPE_WORDS:
                text = f"{_TYPE_WORDS[kind]}, not {_describe(err.get('input'))}"
            elif kind == "literal_error" and "Input should be" in text:
                text = text.replace("Input should be", "must be")
                text += f", not {_describe(err.get('input'))}"
            elif kind == "string_pattern_mismatch":
                text = f"{err.get('input')!r} has the wrong form"
            field_name = ".".join(str(x) for x in loc) or "value"
            msg = f"{field_name}: {text}"
            at_key = False
        # Unions report one error per branch at the same place; keep the first.
        problems.setdefault(loc, doc.problem(name, loc, msg, key=at_key))
    return list(problems.values())


def _data_path(data: Any, loc: tuple[Any, ...], kind: str) -> tuple[Any, ...]:
    """Pydantic's error location as a path in the document: the parts that name a key or an
    index there. The others are union branch tags (`literal['all']`, `list[str]`, `str`, …),
    told apart by *where* they sit, not by how they are spelled, so a key that happens to be
    spelled like a tag (a username `bool`, a top-level key `str`) keeps its place. A missing
    key is the one part that can't be in the data: it is kept when it ends the location."""
    path: list[Any] = []
    node = data
    for i, part in enumerate(loc):
        in_dict = isinstance(node, dict) and part in node
        in_list = (isinstance(node, list) and isinstance(part, int)
                   and not isinstance(part, bool) and 0 <= part < len(node))
        if in_dict or in_list:
            node = node[part]
        elif i == len(loc) - 1 and kind == "missing":
            node = None
        else:
            continue  # a union branch's tag: not part of the document's path
        path.append(part)
    return tuple(path)


def _allowed_keys(loc: tuple[Any, ...], top: type[BaseModel]) -> list[str]:
    model: Any = top
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        fld = model.model_fields.get(part) if isinstance(part, str) else None
        if fld is None:
            # a key of a dict[str, Model] (provider key, username): stay on the value model
            continue
        model = _model_of(fld.annotation)
    # the key as the file writes it (`except`, not the attribute `except_`)
    return [f.alias or name for name, f in model.model_fields.items()] if model is not None \
        else []


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


class _Resolver(RolesAndPolicies):
    """Cross-field checks and the build of Desired."""

    roles: dict[str, dict[str, str]]

    def __init__(self, model: PracticeFile, doc: yamlload.Document, name: str) -> None:
        self.roles = {}
        self.used_roles: set[str] = set()
        self.declared_roles: set[str] = set()
        self.declared_names: set[str] = set()  # casefolded: master, staff, provider logins
        self.warnings: list[str] = []
        self.file_warnings: list[str] = []
        self.m = model
        self.doc = doc
        self.name = name
        self.problems: list[Problem] = []

    def where(self, path: tuple[Any, ...], key: bool = False) -> str:
        line, col = self.doc.mark(path, key=key)
        return f"{self.doc.file(path, self.name)}:{line}:{col}"

    def fail(self, path: tuple[Any, ...], message: str, key: bool = False) -> None:
        self.problems.append(self.doc.problem(self.name, path, message, key=key))

    def resolve(self) -> Desired:
        m = self.m
        providers: dict[str, DesiredProvider] = {}
        ids: dict[str, str] = {}
        names: dict[str, tuple[Any, ...]] = {}  # ukey -> path of first use

        def claim(username: str, path: tuple[Any, ...]) -> None:
            k = ukey(username)
            if k in names:
                first = ".".join(str(p) for p in names[k])
                self.fail(path, f"username {username!r} is already used at {first} "
                                "(usernames are unique ignoring case)")
            else:
                names[k] = path

        for key, p in m.providers.items():
            if not PROVIDER_KEY_RE.fullmatch(key) or key in ("all", "role"):
                # `all` and `role` are words of privileges entries, where provider keys go
                why = (f"{key!r} is reserved" if key in ("all", "role")
                       else "use a-z, 0-9, _ and -")
                self.fail(("providers", key), f"bad provider key {key!r}: {why}", key=True)
            if p.account_id in ids:
                self.fail(("providers", key, "account_id"),
                          f"Account ID {p.account_id} is already provider "
                          f"{ids[p.account_id]}'s account")
            ids[p.account_id] = key
            claim(p.login.username, ("providers", key, "login", "username"))
            providers[key] = DesiredProvider(
                key=key, name=p.name, account_id=p.account_id,
                bills_electronically=p.bills_electronically, login=p.login.username,
                password_var=_var(p.login.password), person=p.login.person,
            )

        def account(ref: str, path: tuple[Any, ...]) -> str | None:
            prov = providers.get(ref)
            if prov is None:
                self.fail(path, unknown_provider(ref, providers))
                return None
            return prov.account_id

        all_ids = frozenset(p.account_id for p in providers.values())
        claim(m.master.username, ("master", "username"))
        master_home = account(m.master.home, ("master", "home")) or ""
        master = DesiredUsername(
            username=m.master.username, password_var=_var(m.master.password),
            home=master_home, accounts=all_ids, is_master=True, person=m.master.person,
        )

        staff: dict[str, DesiredUsername] = {}
        with_privileges = {ukey(k) for k in m.privileges}
        for username, s in m.usernames.items():
            path = ("usernames", username)
            self._name_form(username, path)
            claim(username, path)
            home = account(s.home, (*path, "home"))
            join_until: dict[str, date] = {}
            if s.accounts == "all":
                accts = set(all_ids)
            else:
                accts = set()
                for i, ref in enumerate(s.accounts):
                    entry = ref if isinstance(ref, AccountEntry) else None
                    where = (*path, "accounts", i) if entry is None \
                        else (*path, "accounts", i, "provider")
                    a = account(entry.provider if entry else str(ref), where)
                    if not a:
                        continue
                    if a in accts:
                        self.fail(where, f"{username} lists {self._key_of(a, providers)} "
                                         "twice under accounts")
                    accts.add(a)
                    if entry is not None:
                        if a == home:
                            self.fail((*path, "accounts", i, "until"),
                                      f"{entry.provider} is {username}'s home, which it can't "
                                      "leave; put until on the username to end it")
                        else:
                            join_until[a] = date.fromisoformat(entry.until)
            if home:
                accts.add(home)
            staff[ukey(username)] = DesiredUsername(
                username=username, password_var=_var(s.password), home=home or "",
                accounts=frozenset(accts), person=s.person,
                until=date.fromisoformat(s.until) if s.until else None, join_until=join_until,
                elsewhere=s.elsewhere,
            )
            self._person_and_privileges("staff", username, s.person, path, with_privileges)

        for username, g in m.guests.items():
            path = ("guests", username)
            self._name_form(username, path)
            claim(username, path)
            if g.accounts == "all":
                accts = set(all_ids)
            else:
                accts = set()
                for i, ref in enumerate(g.accounts):
                    a = account(ref, (*path, "accounts", i))
                    if a and a in accts:
                        self.fail((*path, "accounts", i),
                                  f"{username} lists {ref} twice under accounts")
                    if a:
                        accts.add(a)
            staff[ukey(username)] = DesiredUsername(
                username=username, password_var=_var(g.password), home="",
                accounts=frozenset(accts), person=g.person, guest=True, elsewhere=True)
            self._person_and_privileges("guest", username, g.person, path, with_privileges)

        logins = {ukey(p.login): p for p in providers.values()}
        self.declared_names = {ukey(master.username), *staff, *logins}
        self.roles = self._roles()
        privileges = self._privileges(master, staff, logins, providers)
        policies = self._policies(providers)
        codes = self._codes(providers, master_home, all_ids)
        if self.problems:
            raise ConfigError(self.problems)
        return Desired(
            source=self.name, practice_name=m.practice.name, tin=m.practice.tin,
            providers=providers, master=master, staff=staff, privileges=privileges,
            codes=codes, roles=self.roles, policies=policies,
            warnings=[*(f"{self.where(('roles', name), key=True)}: role {name!r} is held by "
                        "nobody" for name in self.roles if name not in self.used_roles
                        # a shared role is every practice's to use, or not
                        and self.doc.file(("roles", name), self.name) == self.name),
                      *self.warnings],
            file_warnings=self.file_warnings,
            prune_usernames=m.prune.usernames, prune_joins=m.prune.joins,
            prune_codes=m.prune.codes, var_where=self._var_where(),
            sealed=m.master.sealed,
            review_every_days=m.review.every_days if m.review else None,
        )

    def _name_form(self, username: str, path: tuple[Any, ...]) -> None:
        if not USERNAME_RE.fullmatch(username):
            self.fail(path, f"bad username {username!r}: 3-64 letters, digits or . _ @ -",
                      key=True)

    def _person_and_privileges(self, kind: str, username: str, person: str | None,
                               path: tuple[Any, ...], with_privileges: set[str]) -> None:
        """A staff or guest username names its person (warned) and has privileges (an
        error)."""
        if person is None:
            self.file_warnings.append(
                f"{self.where(path, key=True)}: {kind} username {username} names no person; "
                "HIPAA's unique user identification needs one person behind each "
                "username (add person: NAME)")
        if ukey(username) not in with_privileges:
            self.fail(path, f"{kind} username {username!r} needs an entry under privileges",
                      key=True)

    @staticmethod
    def _key_of(account_id: str, providers: dict[str, DesiredProvider]) -> str:
        return next((k for k, p in providers.items() if p.account_id == account_id),
                    account_id)

    def _var_where(self) -> dict[str, str]:
        m = self.m
        refs: list[tuple[str, tuple[Any, ...]]] = [
            (p.login.password, ("providers", k, "login", "password"))
            for k, p in m.providers.items()
        ]
        refs.append((m.master.password, ("master", "password")))
        refs += [(s.password, ("usernames", u, "password")) for u, s in m.usernames.items()]
        refs += [(g.password, ("guests", u, "password")) for u, g in m.guests.items()]
        out: dict[str, str] = {}
        for ref, path in refs:
            out.setdefault(_var(ref), self.where(path))
        return out

    def _privileges(
        self,
        master: DesiredUsername,
        staff: dict[str, DesiredUsername],
        logins: dict[str, DesiredProvider],
        providers: dict[str, DesiredProvider],
    ) -> dict[str, PrivilegeSpec]:
        specs: dict[str, PrivilegeSpec] = {}
        for username, entry in self.m.privileges.items():
            path = ("privileges", username)
            k = ukey(username)
            can_access: set[str] | None
            if k == ukey(master.username):
                can_access, base = set(master.accounts), "full"
            elif k in staff:
                can_access, base = set(staff[k].accounts), "none"
            elif k in logins:
                can_access, base = {logins[k].account_id}, "none"
            else:
                self.fail(path, f"privileges for {username!r}, which is not the master, a staff "
                                "username or a provider login", key=True)
                # its levels are still checked, so every problem is reported at once
                can_access, base = None, "none"
            if entry is None:
                self.fail(path, "privileges entry is empty")
                continue
            everywhere: dict[str, str] = {}
            per_account: dict[str, dict[str, str]] = {}
            all_role: str | None = None
            account_roles: dict[str, str | None] = {}
            account_until: dict[str, date] = {}
            if isinstance(entry, dict) and "until" in entry:
                self.fail((*path, "until"), _UNTIL_PLACE, key=True)
                continue
            if isinstance(entry, str) or (isinstance(entry, dict) and "role" in entry):
                levels, all_role, _ = self._levels(entry, path)
                everywhere = levels or {}
            elif isinstance(entry, dict):
                for target, value in entry.items():
                    tpath = (*path, target)
                    until: date | None = None
                    if isinstance(value, dict) and "until" in value:
                        until = self._until(value["until"], (*tpath, "until"),
                                            target == "all")
                        value = {k: v for k, v in value.items() if k != "until"}
                        if not value:
                            self.fail(tpath, "until needs levels or a role beside it: the "
                                             "entry that applies until that day")
                            continue
                    if target in AREAS and target not in providers:
                        # `frontdesk: {notes: view}`: the keys here are accounts
                        self.fail(tpath, f"{target} is an area; areas go under all or a "
                                         f"provider key (write {username}: {{all: {{{target}: "
                                         "...}})", key=True)
                        continue
                    levels, role, replaces = self._levels(value, tpath)
                    if levels is None:
                        continue
                    if target == "all":
                        everywhere, all_role = levels, role
                        continue
                    prov = providers.get(target)
                    if can_access is None:
                        continue  # an unknown username: only its levels could be checked
                    if prov is None:
                        self.fail(tpath, unknown_provider(target, providers, all_too=True),
                                  key=True)
                    elif prov.account_id not in can_access:
                        self.fail(tpath, f"{username} can't access {target}'s account "
                                         f"{prov.account_id}; add it to its accounts", key=True)
                    else:
                        per_account[prov.account_id] = levels
                        if replaces:
                            account_roles[prov.account_id] = role
                        if until is not None:
                            account_until[prov.account_id] = until
            else:
                self.fail(path, "must be a level, a role or a mapping of all/provider keys")
                continue
            if can_access is None:
                continue
            spec = PrivilegeSpec(username=username, base=base, all=everywhere,
                                 per_account=per_account, all_role=all_role,
                                 account_roles=account_roles, account_until=account_until)
            if k == ukey(master.username):
                for acct in master.accounts:
                    if spec.resolve(acct)["account_access"] != "full":
                        self.fail(path, f"the master username {username} must keep full "
                                        "account_access in every account")
                        break
            specs[k] = spec
        if ukey(master.username) not in specs:
            specs[ukey(master.username)] = PrivilegeSpec(master.username, "full", {}, {})
        return specs

    def _until(self, value: Any, path: tuple[Any, ...], on_all: bool) -> date | None:
        if on_all:
            self.fail(path, _UNTIL_PLACE, key=True)
            return None
        if not isinstance(value, str) or not value:
            self.fail(path, "until needs a day, written YYYY-MM-DD")
            return None
        try:
            _day(value)
        except ValueError as exc:
            self.fail(path, str(exc))
            return None
        return date.fromisoformat(value)

    def _codes(
        self, providers: dict[str, DesiredProvider], master_home: str, all_ids: frozenset[str]
    ) -> DesiredCodes | None:
        c = self.m.codes
        if c is None:
            return None
        if c.master is None:
            source = master_home
        else:
            prov = providers.get(c.master)
            if prov is None:
                self.fail(("codes", "master"), unknown_provider(c.master, providers))
            source = prov.account_id if prov else ""
        if c.copy_to == "all":
            targets = [p.account_id for p in providers.values() if p.account_id != source]
        else:
            targets = []
            for i, ref in enumerate(c.copy_to):
                prov = providers.get(ref)
                if prov is None:
                    self.fail(("codes", "copy_to", i), unknown_provider(ref, providers))
                elif prov.account_id == source:
                    self.fail(("codes", "copy_to", i),
                              f"{ref} is the Copy From account; it can't also be copied to")
                elif prov.account_id not in targets:
                    targets.append(prov.account_id)
        files = tuple(c.files) if c.files is not None else CODE_FILE_NAMES
        inline: dict[str, dict[str, Record]] = {}
        for file in CODE_FILE_NAMES:
            records = getattr(c, file)
            if records is None:
                continue
            if file not in files:
                self.fail(("codes", file), f"{file} records are given but {file} is not in "
                                           "codes.files", key=True)
                continue
            key_field = CODE_FILES[file][0]
            out: dict[str, Record] = {}
            folds = CODE_FILE_SPECS[file].key_folds_case
            first: dict[str, str] = {}  # the key as compared -> as first written
            for i, raw in enumerate(records):
                path = ("codes", file, i)
                try:
                    rec = normalize_record(file, raw)
                except RuleError as exc:
                    self.fail(path, str(exc))
                    continue
                key = rec[key_field]
                compared = key.casefold() if folds else key
                if compared in first and first[compared] != key:
                    # `AETNA` and `Aetna` are one payer to a biller and to a claim
                    self.fail((*path, key_field), f"duplicate {file} record {key!r}: it is "
                                                  f"{first[compared]!r} written in another case")
                elif compared in first:
                    self.fail((*path, key_field), f"duplicate {file} record {key!r}")
                first.setdefault(compared, key)
                out[key] = rec
            inline[file] = out
        return DesiredCodes(master=source, copy_to=tuple(targets), files=files, inline=inline)


_UNTIL_PLACE = ("until stands on one account's entry (jones: {scheduling: full, until: "
                "YYYY-MM-DD}) or on the username under usernames, not on a whole entry")


def _var(ref: str) -> str:
    m = SECRET_RE.fullmatch(ref)
    return m.group(1) if m else ""
