"""The kinds of change a plan holds: one pydantic class per `type`, a discriminated union.

The planner builds them from data it already checked (`model_construct`, no second
validation on the hot path). Everything that arrives from outside — a saved plan file, a
request to `serve` — is validated against these same classes at the boundary, so a hand-made
plan is refused with a clear message before it reaches the account system: a wrong shape, an
unknown area or level, a code record that isn't one, an action a type doesn't have, a control
character in a text field. Render and apply dispatch on the class, never on strings.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, NotRequired, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from typing_extensions import TypedDict

from groupsync.accounts.model import check_text, normalize_record
from groupsync.errors import RuleError
from groupsync.vocabulary import (
    AREAS,
    CODE_FILES,
    LEVELS,
    PROVIDER_KEY_PATTERN,
    CodeFileName,
    DayText,
    NameText,
    TinText,
    UsernameText,
)
from groupsync.vocabulary import (
    AccountIdText as AccountId,
)

Action = Literal["add", "change", "remove"]
CodeFile = CodeFileName


def _all_nine(value: dict[str, str]) -> dict[str, str]:
    unknown = [a for a in value if a not in AREAS]
    if unknown:
        raise ValueError(f"unknown area (areas: {', '.join(AREAS)})")
    missing = [a for a in AREAS if a not in value]
    if missing:
        raise ValueError(f"privileges must name all nine areas; missing {', '.join(missing)}")
    if any(level not in LEVELS for level in value.values()):
        raise ValueError("a level is full, view or none")
    return {a: value[a] for a in AREAS}


def _plain_text(value: str | None) -> str | None:
    if value is not None:
        try:
            check_text(value, "text")
        except RuleError as exc:
            raise ValueError(str(exc)) from None
    return value


# Typed as str -> str for the code that reads them; the validator admits exactly the nine
# areas with a level each, and the schema says so.
Privileges = Annotated[
    dict[str, str], AfterValidator(_all_nine),
    Field(json_schema_extra={"propertyNames": {"enum": list(AREAS)},
                             "additionalProperties": {"enum": list(LEVELS)}}),
]
Text = Annotated[str, AfterValidator(_plain_text), StringConstraints(max_length=1000)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Before/after shapes are TypedDicts: validated like models, but plain dicts once made, so
# the plan --json view, render and tests read them as the data they are.
class PracticeSetup(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    # The provider's name is part of the account's Practice Set-up (docs/contracts.md, "The group's
    # lifecycle": a rename is this change). Optional so a plan saved before renames existed still
    # reads.
    provider_name: NotRequired[NameText]
    practice_name: NameText | None
    tin: TinText | None
    bills_electronically: bool


class UsernameAdded(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    home: AccountId
    privileges: Privileges


class UsernameRemoved(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    home: AccountId
    access: dict[AccountId, Privileges]


# The role the file names for a change's levels (docs/contracts.md, "Roles and policies"):
# shown by the plans and in `plan --json`, never used by the apply (the store keeps levels).
RoleText = Annotated[str, StringConstraints(pattern=PROVIDER_KEY_PATTERN, max_length=64)]


class _Change(_Model):
    """One change kind. Each subclass is the kind's one home for what the model knows of it:
    its `type` tag, its place in a plan (ORDER: within an account, kinds follow this), its
    label in summaries, and the fields its JSON view adds (json_extra). Its text lines are
    registered with render.py's `renders`, its apply step in applier.py's phases."""

    ORDER: ClassVar[int]
    LABEL: ClassVar[str]  # how a summary names a group of these: "joins", "Practice Set-up"

    action: Action
    account: AccountId
    username: UsernameText | None = None

    def label(self) -> str:
        return self.LABEL

    def sets_password(self) -> bool:
        """Whether applying this change sets its username's password (a new username, or
        `--rotate`): the one rule the policy check, the hashing cap and the log-in checks ask."""
        return False

    def json_extra(self) -> dict[str, Any]:
        """Fields of `plan --json` this kind adds after account and username."""
        return {}

    def json_tail(self) -> dict[str, Any]:
        """Fields it adds after before and after (the role a privilege change names): last,
        so a reader of the older shape finds every field where it was."""
        return {}

    def _shape(self, before: bool, after: bool) -> None:
        """`add` has only an after, `remove` only a before, `change` both."""
        want = {"add": (False, True), "change": (True, True), "remove": (True, False)}
        if (before, after) != want[self.action]:
            need = {"add": "an after and no before", "change": "a before and an after",
                    "remove": "a before and no after"}[self.action]
            raise ValueError(f"a {self.action} needs {need}")


def _tail(role: str | None, expired: str | None) -> dict[str, Any]:
    """The role a change's levels come from, and the day after which a grant ended (the
    change is its removal: docs/contracts.md, "Access that ends"), each only when there is
    one."""
    out: dict[str, Any] = {}
    if role:
        out["role"] = role
    if expired:
        out["expired"] = expired
    return out


class PracticeSetupChange(_Change):
    ORDER = 0
    LABEL = "Practice Set-up"
    type: Literal["practice_setup"] = "practice_setup"
    action: Literal["change"] = "change"
    before: PracticeSetup
    after: PracticeSetup


class UsernameChange(_Change):
    ORDER = 1
    LABEL = "usernames"
    type: Literal["username"] = "username"
    action: Literal["add", "remove"]
    username: UsernameText
    before: UsernameRemoved | None = None
    after: UsernameAdded | None = None
    role: RoleText | None = None
    expired: DayText | None = None

    def json_tail(self) -> dict[str, Any]:
        return _tail(self.role, self.expired)

    def sets_password(self) -> bool:
        return self.action == "add"

    @model_validator(mode="after")
    def _check(self) -> UsernameChange:
        self._shape(self.before is not None, self.after is not None)
        home = (self.after or self.before or {"home": ""})["home"]
        if home != self.account:
            raise ValueError("a username change's account is the username's home")
        return self


class JoinChange(_Change):
    ORDER = 3
    LABEL = "joins"
    type: Literal["join"] = "join"
    action: Literal["add", "remove"]
    username: UsernameText
    before: Privileges | None = None
    after: Privileges | None = None
    role: RoleText | None = None
    expired: DayText | None = None

    def json_tail(self) -> dict[str, Any]:
        return _tail(self.role, self.expired)

    @model_validator(mode="after")
    def _check(self) -> JoinChange:
        self._shape(self.before is not None, self.after is not None)
        return self


class PrivilegesChange(_Change):
    ORDER = 4
    LABEL = "privileges"
    type: Literal["privileges"] = "privileges"
    action: Literal["change"] = "change"
    username: UsernameText
    before: Privileges
    after: Privileges
    role: RoleText | None = None
    expired: DayText | None = None

    def json_tail(self) -> dict[str, Any]:
        return _tail(self.role, self.expired)


class PasswordChange(_Change):
    """`--rotate NAME`: set NAME's password to its variable's current value. The value never
    appears in a plan; before and after are null by contract (docs/contracts.md, "The group's
    lifecycle")."""

    ORDER = 2  # after the username is made, before anything logs in with it
    LABEL = "passwords"
    type: Literal["password"] = "password"
    action: Literal["change"] = "change"
    username: UsernameText
    before: None = None
    after: None = None

    def sets_password(self) -> bool:
        return True


class CodeChange(_Change):
    ORDER = 5
    LABEL = "code records"
    type: Literal["code"] = "code"
    file: CodeFile
    key: Text
    before: dict[str, Text] | None = None
    after: dict[str, Text] | None = None

    def label(self) -> str:
        return self.file.replace("_", " ")  # summaries count code records per file

    def json_extra(self) -> dict[str, Any]:
        return {"file": self.file, "key": self.key}

    @model_validator(mode="after")
    def _check(self) -> CodeChange:
        self._shape(self.before is not None, self.after is not None)
        key_field = CODE_FILES[self.file][0]
        for side in (self.before, self.after):
            if side is None:
                continue
            try:
                record = normalize_record(self.file, dict(side))
            except RuleError as exc:
                raise ValueError(str(exc)) from None
            if record != side:
                raise ValueError(f"a {self.file} record is written in full, in its canonical "
                                 "form (as plan writes it)")
            if record[key_field] != self.key:
                raise ValueError(f"the record's {key_field} is not the change's key")
        return self


Change = Annotated[
    PracticeSetupChange | UsernameChange | JoinChange | PrivilegesChange | CodeChange
    | PasswordChange,
    Field(discriminator="type"),
]
# Every kind, by its type tag, in plan order: read from the union, so a new kind is one class
# added to `Change` and nothing else here.
CHANGE_CLASSES: dict[str, type[_Change]] = {
    cls.model_fields["type"].default: cls
    for cls in sorted(get_args(get_args(Change)[0]), key=lambda cls: cls.ORDER)
}
TYPE_ORDER: tuple[str, ...] = tuple(CHANGE_CLASSES)
change_adapter: TypeAdapter[Change] = TypeAdapter(Change)


def make(action: str, type: str, account: str, *, username: str | None = None,
         file: str | None = None, key: str | None = None, before: Any = None,
         after: Any = None, role: str | None = None, expired: str | None = None) -> Change:
    """A change from trusted data (the planner's): built without re-validating."""
    cls = CHANGE_CLASSES[type]
    fields: dict[str, Any] = {"action": action, "type": type, "account": account,
                              "username": username, "before": before, "after": after}
    if cls is CodeChange:
        fields.update(file=file, key=key)
    if "role" in cls.model_fields:
        fields["role"] = role
    if "expired" in cls.model_fields:
        fields["expired"] = expired
    return cls.model_construct(**fields)  # type: ignore[return-value]


def to_json(change: Change, drift: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `plan --json` contract's shape of one change; `drift` (the audit entry it undoes,
    docs/contracts.md "Drift named") after before and after, ahead of the tail."""
    out: dict[str, Any] = {"action": change.action, "type": change.type,
                           "account": change.account, "username": change.username,
                           **change.json_extra()}
    out["before"] = _plain(change.before)
    out["after"] = _plain(change.after)
    if drift:
        out["drift"] = dict(drift)
    out.update(change.json_tail())
    return out


def _plain(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else value


def describe(exc: ValidationError, prefix: str = "") -> str:
    """A pydantic error as `where: what` lines without the input values (a plan or request
    may hold anything, including a password pasted into the wrong field)."""
    lines = []
    for err in exc.errors(include_input=False, include_url=False):
        parts = [str(p) for p in err["loc"] if not _is_tag(p)]
        where = ".".join([prefix, *parts] if prefix else parts)
        lines.append(f"{where}: {_message(err)}" if where else _message(err))
    shown = lines[:10]
    if len(lines) > 10:
        shown.append(f"… and {len(lines) - 10} more")
    return "; ".join(shown)


def _is_tag(part: Any) -> bool:
    # validator and union branch names pydantic adds to locations (`function-after[…]`)
    return isinstance(part, str) and "[" in part


def _message(err: Any) -> str:
    kind = err["type"]
    msg = str(err["msg"]).removeprefix("Value error, ")
    if kind == "union_tag_invalid":
        return f"type must be one of {', '.join(CHANGE_CLASSES)}"
    if kind == "union_tag_not_found":
        return "a change needs a type"
    if kind == "literal_error":
        return msg.replace("Input should be", "must be")
    if kind == "string_pattern_mismatch":
        return "has the wrong form"
    return msg
