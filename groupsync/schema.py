"""The JSON Schema of practice.yaml, generated from the pydantic models, for editors.

The loader reads every scalar as the text written, so `account_id: 100482`, `version: 1` and
`fee: 150` are fine; an editor's YAML language server types them (integer, number, boolean)
before checking. The generated schema is therefore widened where the loader is: text fields
also accept the YAML types whose text the loader would take. Parts the models keep loose
(privileges, code records) are described here by hand.
"""

from __future__ import annotations

import re
from typing import Any

from groupsync.accounts.model import AREAS, BILLING_RE, ICD10_RE, LEVELS
from groupsync.config import PracticeFile

SCHEMA_ID = "https://groupsync.dev/schema/practice-v1.json"
_YAML_BOOL_TEXT = ["true", "True", "TRUE", "false", "False", "FALSE"]
_LEVEL = {"enum": list(LEVELS)}
_AREA_LEVELS = {
    "type": "object",
    "properties": {area: _LEVEL for area in AREAS},
    "additionalProperties": False,
}
_LEVEL_OR_AREAS = {"anyOf": [_LEVEL, _AREA_LEVELS]}
_PRIVILEGES = {
    "type": "object",
    "description": "username -> a level for every area, or {all: ..., PROVIDER: ...} where "
                   "each value is a level or an {area: level} mapping",
    "additionalProperties": {
        "anyOf": [
            _LEVEL,
            {"type": "object", "additionalProperties": _LEVEL_OR_AREAS,
             "propertyNames": {"pattern": "^[a-z0-9][a-z0-9_-]*$"}},
        ]
    },
}


def _text(pattern: str | None = None) -> dict[str, Any]:
    """A scalar read as text: a string (matching `pattern`), or a YAML-typed scalar whose text
    would match."""
    if pattern is None:
        return {"type": ["string", "number", "integer", "boolean"]}
    options: list[dict[str, Any]] = [{"type": "string", "pattern": pattern}]
    if re.search(pattern, "123"):
        options.append({"type": "integer", "minimum": 0})
    return {"anyOf": options}


_FEE = {"anyOf": [{"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,2})?$"},
                  {"type": "number", "minimum": 0}]}
_RECORDS = {
    "diagnosis_codes": {
        "type": "object", "required": ["code"], "additionalProperties": False,
        "properties": {"code": {"type": "string", "pattern": ICD10_RE.pattern},
                       "description": _text()},
    },
    "billing_codes": {
        "type": "object", "required": ["code"], "additionalProperties": False,
        "properties": {"code": _text(BILLING_RE.pattern), "description": _text(),
                       "fee": _FEE},
    },
    "insurance_payers": {
        "type": "object", "required": ["name"], "additionalProperties": False,
        "properties": {"name": _text(), "payer_id": _text(),
                       "claims": {"enum": ["electronic", "paper"]}},
        "if": {"properties": {"claims": {"const": "electronic"}}, "required": ["claims"]},
        "then": {"required": ["payer_id"]},
    },
}


def _widen(node: Any) -> Any:
    """Walk the generated schema, widening text scalars and booleans the way the loader reads
    them."""
    if isinstance(node, list):
        return [_widen(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _widen(v) for k, v in node.items()}
    if node.get("type") == "string" and "enum" not in node and "const" not in node:
        widened = _text(node.get("pattern"))
        widened.update({k: node[k] for k in ("title", "description", "default") if k in node})
        return widened
    if node.get("type") == "boolean":
        return {"anyOf": [{"type": "boolean"}, {"enum": _YAML_BOOL_TEXT}],
                **{k: v for k, v in node.items() if k in ("title", "default")}}
    return node


def practice_schema() -> dict[str, Any]:
    schema = _widen(PracticeFile.model_json_schema())
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    props = schema["properties"]
    props["version"] = {"enum": [1, "1"], "description": "the file format version"}
    props["privileges"] = _PRIVILEGES
    codes = schema["$defs"]["Codes"]["properties"]
    for file, record in _RECORDS.items():
        codes[file] = {"anyOf": [{"type": "array", "items": record}, {"type": "null"}]}
    return dict(schema)
