"""The JSON Schema of practice.yaml (`groupsync schema`), for editors and linters.

Contract (docs/contracts.md, "Clients and the editor schema"): it accepts every file `validate`
accepts and rejects the shape errors
`validate` rejects that a schema can express. Two facts shape it:

- The loader reads every scalar as the text written, so `account_id: 100482`, `tin: 123456789`,
  `code: 90837` and `fee: 150.00` are fine; an editor's YAML language server types those
  (integer, number, boolean) before checking. So a text field is `type: [string, integer, …]`
  with its `pattern` (which JSON Schema applies to strings only) and, for the digits-only
  fields, a numeric range (which applies to numbers only). One flat node, no `anyOf`: an
  editor then shows one title on hover and offers only real values on completion.
- What needs more than one field at a time (references to provider keys, duplicate keys,
  the master's rights, a payer's id for electronic claims is the exception) only `validate`
  can say; tests/test_schema.py keeps the table of those.
"""

from __future__ import annotations

from typing import Any

from groupsync.config import PracticeFile
from groupsync.vocabulary import (
    ACCOUNT_ID_RE,
    AREAS,
    BILLING_RE,
    CODE_FILE_SPECS,
    DAY_PATTERN,
    LEVELS,
    MONEY_PATTERN,
    NAME_TEXT,
    PLAIN_TEXT,
    PROVIDER_KEY_RE,
    SECRET_RE,
    TIN_PATTERN,
    USERNAME_PATTERN,
    CodeFileSpec,
)

SCHEMA_ID = "https://groupsync.dev/schema/practice-v1.json"
# Text fields refuse what the loader refuses (docs/contracts.md, "Hardening: saved plans, passwords
# and text"): C0, DEL and C1 controls, the line and paragraph separators and the bidi overrides (one
# class, accounts.model.CONTROL_CLASS).
_SCALARS = ["string", "number", "integer", "boolean"]  # any YAML scalar, read as its text

# Digits-only fields an editor sees as integers when unquoted: their range as numbers.
_DIGITS: dict[str, tuple[int, int | None]] = {
    ACCOUNT_ID_RE.pattern: (0, 10**20 - 1),
    TIN_PATTERN: (0, 999_999_999),
    BILLING_RE.pattern: (0, 99_999),
    PROVIDER_KEY_RE.pattern: (0, None),  # `home: 2024` is the key "2024"
    USERNAME_PATTERN: (0, None),  # `007` is the integer 7 to an editor, "007" to the loader
}

_LEVEL = {"enum": list(LEVELS)}
_AREA_LEVELS = {
    "type": "object",
    "properties": {area: _LEVEL for area in AREAS},
    "additionalProperties": False,
}
_PROVIDER_KEY = {"pattern": PROVIDER_KEY_RE.pattern,
                 "not": {"const": "all"}}
# A static schema can't list the roles a file declares: a role reference is a name of the
# role pattern (the loader says which names exist, with a did-you-mean).
_ROLE_NAME = {"type": "string", "pattern": PROVIDER_KEY_RE.pattern, "maxLength": 64,
              "not": {"enum": [*LEVELS, "all"]},
              "description": "a role declared under roles"}
_ROLE_WITH = {"type": "object", "required": ["role"], "additionalProperties": False,
              "description": "a role, with areas that override its levels",
              "properties": {"role": _ROLE_NAME, **{area: _LEVEL for area in AREAS}}}
_GRANT = {"anyOf": [_LEVEL, _ROLE_NAME, _AREA_LEVELS, _ROLE_WITH]}
# one account's entry may end on a day (docs/contracts.md, "Access that ends"); `all` can't
_UNTIL = {"type": "string", "pattern": DAY_PATTERN,
          "description": "the entry's last day (YYYY-MM-DD, UTC); then all, or none, applies"}
_DATED_GRANT = {"anyOf": [
    _LEVEL, _ROLE_NAME,
    {**_AREA_LEVELS, "properties": {**{area: _LEVEL for area in AREAS}, "until": _UNTIL}},
    {**_ROLE_WITH, "properties": {"role": _ROLE_NAME, **{area: _LEVEL for area in AREAS},
                                  "until": _UNTIL}},
]}
_PRIVILEGES = {
    "type": "object",
    "description": "username -> a level for every area, a role, or {all: ..., PROVIDER: ...} "
                   "where each value is a level, a role, an {area: level} mapping or "
                   "{role: NAME, area: level, ...}",
    "propertyNames": {"pattern": USERNAME_PATTERN},
    "additionalProperties": {
        "anyOf": [
            _LEVEL, _ROLE_NAME, _ROLE_WITH,
            {"type": "object", "properties": {"all": _GRANT},
             "additionalProperties": _DATED_GRANT,
             "propertyNames": {"pattern": PROVIDER_KEY_RE.pattern}},
        ]
    },
}
_ROLES = {
    "type": "object",
    "description": "named privilege sets: a level for every area, or an {area: level} mapping "
                   "(areas it doesn't name are none)",
    "propertyNames": {"pattern": PROVIDER_KEY_RE.pattern, "maxLength": 64,
                      "not": {"enum": [*LEVELS, "all"]}},
    "additionalProperties": {"anyOf": [_LEVEL, _AREA_LEVELS]},
}


def optional(node: dict[str, Any]) -> dict[str, Any]:
    """A record field that may be left empty (`description:`), which the loader reads as no
    value."""
    return {**node, "type": [*node["type"], "null"]}


def text(pattern: str | None = None, **limits: Any) -> dict[str, Any]:
    """A scalar read as text: a string matching `pattern` (and `limits`, e.g. minLength), or,
    for a digits-only field, the integer an editor makes of it."""
    if pattern is None:
        named = limits.get("minLength", 0) > 0
        return {"type": list(_SCALARS), "pattern": NAME_TEXT if named else PLAIN_TEXT,
                **limits}
    node: dict[str, Any] = {"type": "string", "pattern": pattern, **limits}
    if pattern in _DIGITS:
        low, high = _DIGITS[pattern]
        # a username may be all digits with a dot, too (`1234.5` is a number to an editor)
        node["type"] = ["string", "integer", "number"] if pattern == USERNAME_PATTERN \
            else ["string", "integer"]
        node["minimum"] = low
        if high is not None:
            node["maximum"] = high
    return node


_BOOLEAN = {"type": ["boolean", "string"],
            # the spellings YAML 1.2 makes booleans, should one be quoted
            "pattern": "^(true|True|TRUE|false|False|FALSE)$"}
_FEE = {"type": ["string", "number", "null"], "pattern": MONEY_PATTERN, "minimum": 0,
        "multipleOf": 0.01, "description": "money: at most two decimals, never negative"}


def _record(spec: CodeFileSpec) -> dict[str, Any]:
    """One code file's record, from the vocabulary's table (as the loader checks it)."""
    properties: dict[str, Any] = {}
    for f in spec.fields:
        if f.name == spec.key:
            properties[f.name] = (text(f.pattern.pattern, description=f.example)
                                  if f.pattern else text(minLength=1))
        elif f.kind == "money":
            properties[f.name] = _FEE
        elif f.kind == "choice":
            properties[f.name] = {"enum": list(f.choices)}
        else:
            properties[f.name] = optional(text())
    node: dict[str, Any] = {"type": "object", "required": [spec.key],
                            "additionalProperties": False, "properties": properties}
    for when, value, needed in spec.requires:
        node["if"] = {"properties": {when: {"const": value}}, "required": [when]}
        node["then"] = {"required": [needed]}
    return node


_RECORDS = {name: _record(spec) for name, spec in CODE_FILE_SPECS.items()}
_KEEP = ("title", "description", "default", "minLength", "maxLength")


def _widen(node: Any) -> Any:
    """Walk the generated schema: text scalars and booleans become what the loader reads."""
    if isinstance(node, list):
        return [_widen(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _widen(v) for k, v in node.items()}
    if node.get("type") == "string" and "enum" not in node and "const" not in node:
        limits = {k: node[k] for k in _KEEP if k in node}
        return text(node.get("pattern"), **limits)
    if node.get("type") == "boolean":
        return {**_BOOLEAN, **{k: v for k, v in node.items() if k in ("title", "default")}}
    # pydantic's Optional[X]: anyOf [X, null] where X is now one node: keep it flat
    options = node.get("anyOf")
    if isinstance(options, list) and len(options) == 1 and isinstance(options[0], dict):
        return {**options[0], **{k: v for k, v in node.items() if k != "anyOf"}}
    return node


def practice_schema() -> dict[str, Any]:
    schema = _widen(PracticeFile.model_json_schema())
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    props = schema["properties"]
    props["version"] = {"enum": [1, "1"], "description": "the file format version"}
    props["privileges"] = _PRIVILEGES
    props["roles"] = _ROLES
    props["providers"]["propertyNames"] = _PROVIDER_KEY
    props["usernames"]["propertyNames"] = {"pattern": USERNAME_PATTERN}
    defs = schema["$defs"]
    defs["Practice"]["properties"]["tin"] = text(TIN_PATTERN, title="Tin",
                                                 description="9 digits, dash optional")
    refs = {"type": "array", "items": text(PROVIDER_KEY_RE.pattern)}
    defs["Codes"]["properties"]["copy_to"]["anyOf"][1] = refs
    defs["StaffUsername"]["properties"]["accounts"]["anyOf"][1] = {
        "type": "array", "items": {"anyOf": [text(PROVIDER_KEY_RE.pattern),
                                             {"$ref": "#/$defs/AccountEntry"}]}}
    defs["Login"]["properties"]["password"] = defs["Master"]["properties"]["password"] = {
        "type": "string", "pattern": SECRET_RE.pattern, "title": "Password",
        "description": "a ${VARIABLE} reference, never the password"}
    codes = defs["Codes"]["properties"]
    for file, record in _RECORDS.items():
        codes[file] = {"anyOf": [{"type": "array", "items": record}, {"type": "null"}]}
    return dict(schema)
