"""Renderers on hand-built plans: exact text, exact Markdown."""

from __future__ import annotations

from groupsync.accounts.model import AREAS
from groupsync.changes import Change
from groupsync.plan import Plan
from groupsync.render import plan_markdown, plan_text, privileges_text

from .helpers import change

NONE = {a: "none" for a in AREAS}
DESK = {**NONE, "clients": "view", "scheduling": "full"}


def _plan(changes: list[Change], warnings: list[str] | None = None) -> Plan:
    return Plan(lineage="lin-1", revision=7, write_count=3, changes=changes,
                warnings=warnings or [], actor="admin", master="admin",
                accounts={"100482": "smith", "100517": "jones"})


CHANGES = [
    change("change", "practice_setup", "100482",
           before={"practice_name": None, "tin": None, "bills_electronically": False},
           after={"practice_name": "Riverside", "tin": "12-3456789",
                  "bills_electronically": False}),
    change("add", "username", "100482", username="desk",
           after={"home": "100482", "privileges": DESK}),
    change("change", "code", "100482", file="billing_codes", key="90837",
           before={"code": "90837", "description": "Psychotherapy", "fee": "150.00"},
           after={"code": "90837", "description": "Psychotherapy", "fee": "155.00"}),
    change("change", "privileges", "100517", username="desk", before=DESK,
           after={**DESK, "billing": "view", "scheduling": "view"}),
    change("remove", "join", "100517", username="old-temp", before=DESK),
]


def test_privileges_text() -> None:
    assert privileges_text({a: "full" for a in AREAS}) == "full on every area"
    assert privileges_text(NONE) == "none on every area"
    assert privileges_text(DESK) == "full on scheduling; view on clients; none elsewhere"


def test_plan_text_exact() -> None:
    assert plan_text(_plan(CHANGES, ["x can also open account 100517"])) == """\
groupsync will make these changes:

account 100482 (smith)
  ~ Practice Set-up
      practice_name: (none) -> "Riverside"
      tin: (none) -> "12-3456789"
  + username desk (home; full on scheduling; view on clients; none elsewhere)
  ~ billing_codes 90837
      fee: "150.00" -> "155.00"

account 100517 (jones)
  ~ privileges desk
      scheduling: full -> view
      billing: none -> view
  - join old-temp (had full on scheduling; view on clients; none elsewhere)

Warning: x can also open account 100517

Plan: 1 to add, 3 to change, 1 to remove.
"""


def test_plan_text_colour_and_removal_warning() -> None:
    text = plan_text(_plan(CHANGES), color=True, max_removals=0)
    assert "\x1b[32m+\x1b[0m username desk" in text
    assert "\x1b[31m-\x1b[0m join old-temp" in text
    assert ("\x1b[33;1mWarning: \x1b[0mthis plan removes 1 objects, more than --max-removals 0; "
            "apply will refuse it unless --max-removals is raised") in text
    assert plan_text(_plan([])) == "No changes. The store matches the file.\n"


def test_plan_markdown_exact() -> None:
    assert plan_markdown(_plan(CHANGES, ["a | b"])) == """\
### groupsync plan: 1 to add, 3 to change, 1 to remove

Store `lin-1` at revision 7.

**Warnings**

- :warning: a \\| b

**Privilege changes**

| account | username | area | before | after |
|---|---|---|---|---|
| 100482 | desk | clients | — | view |
| 100482 | desk | scheduling | — | full |
| 100517 | desk | scheduling | full | view |
| 100517 | desk | billing | none | view |
| 100517 | old-temp | clients | view | — |
| 100517 | old-temp | scheduling | full | — |

<details><summary>account 100482 (smith): 1 to add, 2 to change, 0 to remove</summary>

| | change |
|---|---|
| `~` | Practice Set-up: practice_name: (none) -> "Riverside"; tin: (none) -> "12-3456789" |
| `+` | username desk (home; full on scheduling; view on clients; none elsewhere) |
| `~` | billing_codes 90837: fee: "150.00" -> "155.00" |

</details>

<details><summary>account 100517 (jones): 0 to add, 1 to change, 1 to remove</summary>

| | change |
|---|---|
| `~` | privileges desk: scheduling: full -> view; billing: none -> view |
| `-` | join old-temp (had full on scheduling; view on clients; none elsewhere) |

</details>

_Plan: 1 to add, 3 to change, 1 to remove._
"""
