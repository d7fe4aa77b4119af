"""Renderers on hand-built plans: exact text, exact Markdown."""

from __future__ import annotations

from groupsync.changes import Change
from groupsync.plan import Plan
from groupsync.render import plan_markdown, plan_text, privileges_text
from groupsync.vocabulary import AREAS

from .helpers import change

NONE = {a: "none" for a in AREAS}
DESK = {**NONE, "clients": "view", "scheduling": "full"}


def _plan(changes: list[Change], warnings: list[str] | None = None) -> Plan:
    return Plan(lineage="lin-1", revision=7, changes=changes,
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
    assert ("\x1b[33;1mWarning: \x1b[0mthis plan removes 1 object, more than --max-removals 0; "
            "apply will refuse it unless --max-removals is raised") in text
    assert plan_text(_plan([])) == "No changes. The store matches the file.\n"


def test_plan_markdown_exact() -> None:
    assert plan_markdown(_plan(CHANGES, ["a | b"]), max_removals=0) == """\
### groupsync plan: 1 to add, 3 to change, 1 to remove

Store `lin-1` at revision 7.

| kind | to add | to change | to remove |
|---|---:|---:|---:|
| Practice Set-up | 0 | 1 | 0 |
| usernames | 1 | 0 | 0 |
| joins | 0 | 0 | 1 |
| privileges | 0 | 1 | 0 |
| billing codes | 0 | 1 | 0 |

**Warnings**

- :warning: a \\| b
- :warning: this plan removes 1 object, more than --max-removals 0; apply will refuse it

**Privilege changes**

| account | username | area | before | after | flag |
|---|---|---|---|---|---|
| 100482 | desk | clients | — | view |  |
| 100482 | desk | scheduling | — | full |  |
| 100517 | desk | scheduling | full | view |  |
| 100517 | desk | billing | none | view |  |
| 100517 | old-temp | clients | view | — |  |
| 100517 | old-temp | scheduling | full | — |  |

<details><summary>account 100482 (smith): 1 to add, 2 to change, 0 to remove</summary>

| | change |
|---|---|
| `~` | Practice Set-up: practice\\_name: (none) → "Riverside"; tin: (none) → "12-3456789" |
| `+` | username desk (home; full on scheduling; view on clients; none elsewhere) |
| `~` | billing\\_codes 90837: fee: "150.00" → "155.00" |

</details>

<details><summary>account 100517 (jones): 0 to add, 1 to change, 1 to remove</summary>

| | change |
|---|---|
| `~` | privileges desk: scheduling: full → view; billing: none → view |
| `-` | join old-temp (had full on scheduling; view on clients; none elsewhere) |

</details>

_Plan: 1 to add, 3 to change, 1 to remove._
"""


HOSTILE = [
    change("add", "code", "100482", file="diagnosis_codes", key="F41.1",
           after={"code": "F41.1", "description": "<b>bold</b> <img src=x onerror=alert(1)> "
                                                  "*new* [click](https://evil.example) | cell"}),
    change("add", "join", "100517", username="desk", after={**DESK, "notes": "full"}),
    change("add", "join", "100517", username="admin", after={a: "full" for a in AREAS}),
]


def test_markdown_shows_values_as_written_in_a_real_renderer() -> None:
    from markdown_it import MarkdownIt

    plan = _plan(HOSTILE)
    plan.homes = {"desk": "100482", "admin": "100482"}
    html = MarkdownIt("commonmark").enable("table").enable("strikethrough").render(
        plan_markdown(plan))
    # the description arrives as text: no tag, no emphasis, no link, no extra cell
    assert "<b>bold</b>" not in html and "<img" not in html and "<em>new</em>" not in html
    assert "<a href" not in html
    assert ("description &quot;&lt;b&gt;bold&lt;/b&gt; &lt;img src=x onerror=alert(1)&gt; "
            "*new* [click](https://evil.example) | cell&quot;") in html
    # the summary table counts codes too, with right plurals
    assert "<td>diagnosis codes</td>\n<td style=\"text-align:right\">1</td>" in html
    assert "Privilege changes (1 risky grant)" in html
    # the risky grant is flagged on its row; the master's full grants are not
    assert "<td>desk</td>\n<td>notes</td>\n<td>—</td>\n<td>full</td>\n" \
           "<td>:warning: full notes outside its home</td>" in html
    assert html.count(":warning: full") == 1


def test_markdown_neither_mentions_nor_links_issues_and_fits_a_comment() -> None:
    from markdown_it import MarkdownIt

    plan = _plan([change("add", "code", "100482", file="insurance_payers", key="Team",
                         after={"name": "Team", "payer_id": "@billing-team #42",
                                "claims": "electronic"})])
    plan.accounts = {"100482": "chen_lee"}
    html = MarkdownIt("commonmark").enable("table").render(plan_markdown(plan))
    # GitHub links mentions and #refs after rendering: a zero-width space breaks both
    assert "@\u200bbilling-team #\u200b42" in html
    assert "<summary>account 100482 (chen_lee): 1 to add" in html  # no stray backslash
    big = _plan([change("add", "code", f"{100000 + i // 60}", file="diagnosis_codes",
                        key=f"F{i % 60:02d}.1", after={"code": f"F{i % 60:02d}.1",
                                                       # each account its own: no grouping
                                                       "description": f"{i // 60}" + "x" * 200})
                 for i in range(60 * 40)])
    text = plan_markdown(big)
    assert len(text) < 65_536
    assert "more sections left out to fit a pull-request comment" in text
    assert text.endswith("_Plan: 2400 to add, 0 to change, 0 to remove._\n")


def test_every_change_kind_has_its_order_label_and_text_lines() -> None:
    from groupsync.changes import CHANGE_CLASSES, TYPE_ORDER
    from groupsync.render import has_renderer

    # the plan order the contract's examples show, read from the kinds themselves
    assert TYPE_ORDER == ("practice_setup", "username", "password", "join", "privileges",
                          "code")
    for tag, kind in CHANGE_CLASSES.items():
        assert has_renderer(kind), tag
        assert kind.LABEL and isinstance(kind.ORDER, int), tag
    assert len({kind.ORDER for kind in CHANGE_CLASSES.values()}) == len(CHANGE_CLASSES)


def test_every_action_a_change_kind_admits_has_an_apply_step() -> None:
    from typing import get_args

    from groupsync.applier import applied_kinds
    from groupsync.changes import CHANGE_CLASSES

    steps = applied_kinds()
    for tag, kind in CHANGE_CLASSES.items():
        actions = get_args(kind.model_fields["action"].annotation)
        assert actions, tag
        for action in actions:
            assert (kind, action) in steps, (tag, action)
