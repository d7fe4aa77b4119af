"""The words groupsync and the account system share, each declared once.

Areas, levels, code files and their fields, and the patterns and limits of every identifier
and text field. The practice file's models, the change kinds, the service's request models,
the editor schema and the SQL all import them from here, so a new area or a wider limit is one
edit (docs/contracts.md, "The practice file").

The words are plain Python; the pydantic types built from them sit at the end. The command
line's start-up (`--version`, `--help`) imports neither.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal, get_args

# The portions of the system a privilege covers, in contract order: rendering, storage
# columns and JSON all follow it.
Area = Literal["clients", "scheduling", "notes", "billing", "claims", "codes", "reports",
               "practice_setup", "account_access"]
AREAS: Final[tuple[str, ...]] = get_args(Area)

Level = Literal["full", "view", "none"]
LEVELS: Final[tuple[str, ...]] = get_args(Level)
LEVEL_RANK: Final = {"none": 0, "view": 1, "full": 2}

# Grants the access review and the plans flag: clinical notes and the power to grant access,
# held at full outside the username's home account (the master excepted).
RISKY_AREAS: Final = ("notes", "account_access")

# C0 and C1 control characters (newline, tab and ESC among them), the line and paragraph
# separators and the bidirectional overrides: in a name or description they would let a
# value rewrite a terminal line (`\e[1A\e[2K… No changes.`), forge a line of a notice, or
# display reversed. Written as an escaped character class so the editor schema (ECMA regex),
# the service's request models (pydantic) and Python refuse exactly the same characters.
CONTROL_CLASS: Final = r"\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069"
CONTROL_RE: Final = re.compile(f"[{CONTROL_CLASS}]")
PLAIN_TEXT: Final = f"^[^{CONTROL_CLASS}]*$"
# a name also holds something besides spaces (the loader strips them, then needs a value)
NAME_TEXT: Final = f"^[^{CONTROL_CLASS}]*[^\\s{CONTROL_CLASS}][^{CONTROL_CLASS}]*$"
MAX_NAME: Final = 200  # practice and provider names, descriptions: characters

# Identifiers. Patterns are anchored for JSON Schema and pydantic; in Python they are always
# used with fullmatch, because `$` also matches before a trailing newline.
USERNAME_PATTERN: Final = r"^[A-Za-z0-9._@-]{3,64}$"
USERNAME_RE: Final = re.compile(USERNAME_PATTERN)
MAX_ACCOUNT_ID_DIGITS: Final = 20
ACCOUNT_ID_PATTERN: Final = f"^[0-9]{{1,{MAX_ACCOUNT_ID_DIGITS}}}$"
ACCOUNT_ID_RE: Final = re.compile(ACCOUNT_ID_PATTERN)
PROVIDER_KEY_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]*$"
PROVIDER_KEY_RE: Final = re.compile(PROVIDER_KEY_PATTERN)
VAR_NAME: Final = r"[A-Za-z_][A-Za-z0-9_]*"  # an environment variable's name
VAR_NAME_PATTERN: Final = f"^{VAR_NAME}$"
VAR_NAME_RE: Final = re.compile(VAR_NAME)
SECRET_RE: Final = re.compile(f"^\\$\\{{({VAR_NAME})\\}}$")
# An employer identification number: nine digits, written NN-NNNNNNN (a space or nothing
# between the parts is read the same). The IRS has never issued a prefix of 00.
TIN_FORM: Final = r"([0-9]{2})[- ]?([0-9]{7})"  # the shape; the loader names a 00 prefix
TIN_PATTERN: Final = f"^(?!00){TIN_FORM}$"
# A day (`until:`, a review's date): whole days in UTC, written YYYY-MM-DD
DAY_PATTERN: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DAY_RE: Final = re.compile(DAY_PATTERN)
EXPIRY_WARNING_DAYS: Final = 7  # plan warns this many days before an `until` day
TIN_RE: Final = re.compile(TIN_FORM)
# A TIN as the store keeps it and plans and requests carry it: always with its dash (stores
# written before the 00 rule may hold one, so the rule is the loader's, not this form's).
TIN_STORED_PATTERN: Final = r"^[0-9]{2}-[0-9]{7}$"

# Money: at most 12 digits of dollars and two decimals; never a float on the way.
MONEY_PATTERN: Final = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"
MONEY_RE: Final = re.compile(MONEY_PATTERN)
# ICD-10-CM: a letter (U is reserved for special use but valid), two characters, then an
# optional dot and one to four more. Upper case only, as the code set prints them.
ICD10_RE: Final = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
# CPT / HCPCS: five characters; CPT Category II/III end in F/T, HCPCS start with a letter.
BILLING_RE: Final = re.compile(r"^[0-9A-Z]{5}$")


@dataclass(frozen=True)
class RecordField:
    """One field of a code record: how it is checked and what an editor is told."""

    name: str
    kind: Literal["text", "money", "choice"] = "text"
    pattern: re.Pattern[str] | None = None  # for the key: what a valid one looks like
    example: str = ""  # "an ICD-10-CM code (like F41.1)"
    choices: tuple[str, ...] = ()
    default: str = ""


@dataclass(frozen=True)
class CodeFileSpec:
    """One master code file: its key field, its fields in display order, and how its keys
    compare (payer names are one payer whatever their case)."""

    name: str
    key: str
    fields: tuple[RecordField, ...]
    label: str  # "diagnosis code": what one record is called in a message
    key_folds_case: bool = False
    # (field, value, needed): a record whose `field` is `value` must give `needed`
    requires: tuple[tuple[str, str, str], ...] = ()

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


CodeFileName = Literal["diagnosis_codes", "billing_codes", "insurance_payers"]
CODE_FILE_SPECS: Final[dict[str, CodeFileSpec]] = {
    "diagnosis_codes": CodeFileSpec(
        "diagnosis_codes", "code",
        (RecordField("code", pattern=ICD10_RE, example="an ICD-10-CM code (like F41.1)"),
         RecordField("description")),
        "diagnosis code"),
    "billing_codes": CodeFileSpec(
        "billing_codes", "code",
        (RecordField("code", pattern=BILLING_RE, example="a 5-character code (like 90837)"),
         RecordField("description"), RecordField("fee", kind="money", default="0.00")),
        "billing code"),
    "insurance_payers": CodeFileSpec(
        "insurance_payers", "name",
        (RecordField("name"), RecordField("payer_id"),
         RecordField("claims", kind="choice", choices=("electronic", "paper"), default="paper")),
        "payer", key_folds_case=True, requires=(("claims", "electronic", "payer_id"),)),
}
CODE_FILE_NAMES: Final[tuple[str, ...]] = get_args(CodeFileName)
if tuple(CODE_FILE_SPECS) != CODE_FILE_NAMES:  # the Literal and the table name the same files
    raise RuntimeError("CODE_FILE_SPECS and CodeFileName disagree")
# file -> (key field, fields in display order): the shape the store and the views read
CODE_FILES: Final = {name: (spec.key, spec.field_names)
                     for name, spec in CODE_FILE_SPECS.items()}


# -- the same words as pydantic types, for the change kinds and the service's requests -------
# (pydantic is imported here, after everything above: every module that validates with these
# has imported it already, and the command line's start-up imports neither)

from typing import Annotated  # noqa: E402

from pydantic import StringConstraints  # noqa: E402

UsernameText = Annotated[str, StringConstraints(pattern=USERNAME_PATTERN)]
TinText = Annotated[str, StringConstraints(pattern=TIN_STORED_PATTERN)]
AccountIdText = Annotated[str, StringConstraints(pattern=ACCOUNT_ID_PATTERN)]
DayText = Annotated[str, StringConstraints(pattern=DAY_PATTERN)]

NameText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME,
                                            pattern=PLAIN_TEXT)]

