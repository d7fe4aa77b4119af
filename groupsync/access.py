"""Access review: who can do what, usernames x accounts x areas, as a table, CSV or HTML.

Rows are (username, account) pairs from one State. A row is flagged for what its role does
not need, so an auditor reads every flag instead of learning to skip them:

- `full` on `notes` (clinical records) or `account_access` (who gets in) in an account that
  is not the username's home, except for the group's master in the practice's own accounts
  (managing the group is its job: the practice file gives it full there);
- any access a username of the practice keeps to an account the practice file no longer
  declares (a provider who left, docs/contracts.md, "The group's lifecycle"): shown by default,
  because it is exactly what an offboarding review is for.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from groupsync.accounts.model import State, ukey
from groupsync.policies import is_risky
from groupsync.vocabulary import AREAS

if TYPE_CHECKING:
    from groupsync.config import Desired

_LETTER = {"full": "F", "view": "V", "none": "."}
OUTSIDE = "account not in the practice file"


@dataclass(frozen=True)
class Row:
    username: str
    home: str
    account: str
    provider: str
    levels: tuple[str, ...]  # in AREAS order
    flags: tuple[str, ...]  # risky areas with full outside the home (not needed by the role)
    outside: bool = False  # an account the practice file does not declare
    role: str = ""  # the role the practice file names for this cell
    off_role: bool = False  # its levels differ from what the file gives (changed outside it)
    last_login: str = ""  # the username's last successful log-in (UTC), "" if never
    person: str = ""  # the person the practice file names for the username

    def last_login_day(self) -> str:
        return self.last_login[:10] if self.last_login else "never"  # "unknown" in the past

    def flag_text(self) -> str:
        parts = []
        if self.flags:
            parts.append("full " + ", ".join(self.flags) + " outside home")
        if self.outside:
            parts.append(OUTSIDE)
        if self.off_role:
            parts.append(f"levels differ from role {self.role}")
        return "; ".join(parts)


@dataclass(frozen=True)
class Header:
    """What a printed or forwarded review must say about itself."""

    practice: str
    made_at: str  # UTC, to the minute
    revision: int
    lineage: str


Roles = dict[tuple[str, str], tuple[str, dict[str, str]]]


def roles_of(desired: Desired) -> Roles:
    """Each cell the file gives a role: (casefolded username, account) -> (role, the levels
    the file gives there, the role's with its overrides)."""
    out: Roles = {}
    for k, acct, spec in desired.managed_cells():
        role = spec.role(acct)
        if role:
            out[(k, acct)] = (role, spec.resolve(acct))
    return out


def persons_of(desired: Desired) -> dict[str, str]:
    """Casefolded username -> the person the file names for it."""
    names = [desired.master.username, *(u.username for u in desired.staff.values()),
             *(p.login for p in desired.providers.values())]
    return {ukey(n): d.person for n in names
            if (d := desired.declared(n)) is not None and d.person}


def rows(state: State, accounts: set[str] | None = None, master: str | None = None,
         members: set[str] | None = None, roles: Roles | None = None,
         persons: dict[str, str] | None = None) -> list[Row]:
    """Every access row of `accounts` (all when None), username then account. `master` is
    the practice's master (its full grants in declared accounts are its job, not a flag);
    `members` (casefolded names of the master and staff) also bring in their access to
    accounts outside `accounts`, flagged. `roles` (roles_of) names each cell's role and
    marks one whose levels are not the file's."""
    master_k = ukey(master) if master else None
    out = []
    for (k, acct), privs in state.access.items():
        outside = accounts is not None and acct not in accounts
        if outside and k not in (members or set()):
            continue
        user = state.users[k]
        if outside and acct == user.home:
            continue  # its own home: the move, if any, is the plan's business
        flags = tuple(a for a in AREAS if is_risky(a, privs[a], acct, user.home,
                                                   k == master_k, not outside))
        role, want = (roles or {}).get((k, acct), ("", None))
        # a home outside the accounts reviewed is another practice's account: not named
        home = user.home if accounts is None or user.home in accounts or outside else ""
        out.append(Row(user.username, home, acct, state.accounts[acct].provider_name,
                       tuple(privs[a] for a in AREAS), flags, outside, role,
                       want is not None and dict(privs) != want, user.last_login,
                       (persons or {}).get(k, "")))
    out.sort(key=lambda r: (r.username.casefold(), r.account))
    return out


def practice_rows(state: State, desired: Desired, accounts: set[str] | None) -> list[Row]:
    """The review of a practice file: its master and staff (their access outside `accounts`
    too, flagged), each cell's role and each username's person."""
    # a username that works elsewhere too (a workspace's) is reviewed in each practice for
    # that practice's accounts only: the others are theirs to show
    members = {ukey(desired.master.username),
               *(k for k, u in desired.staff.items() if not u.elsewhere)}
    return rows(state, accounts, desired.master.username, members, roles_of(desired),
                persons_of(desired))


def flagged(items: list[Row]) -> int:
    return sum(1 for r in items if r.flags or r.outside or r.off_role)


def table(items: list[Row]) -> str:
    """For a terminal: every area named in full (a column per area, its level as a letter)."""
    with_roles = any(r.role for r in items)
    with_people = any(r.person for r in items)
    head = ["username", *(["person"] if with_people else []), "account",
            *(["role"] if with_roles else []), *AREAS, "last_login", "flags"]
    body = [[r.username + ("" if r.account != r.home else " (home)"),
             *([r.person] if with_people else []), r.account,
             *([r.role + ("*" if r.off_role else "")] if with_roles else []),
             *(_LETTER[level] for level in r.levels), r.last_login_day(), r.flag_text()]
            for r in items]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=False)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
             for line in [head, *body]]
    legend = " A role marked * has levels that differ from it." if with_roles else ""
    lines += ["", f"F full, V view, . none.{legend} {len(items)} access rows, "
                  f"{flagged(items)} flagged."]
    return "\n".join(lines) + "\n"


# A cell a spreadsheet would read as a formula (OWASP's CSV injection list): written with a
# leading apostrophe, so `=HYPERLINK(…)` in a provider's name shows as text, never runs.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def to_csv(items: list[Row]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    # role columns last, so scripts that read the columns before them by position still do
    writer.writerow(["username", "home", "account", "provider", *AREAS, "flags", "outside",
                     "role", "role_differs", "last_login", "person"])
    for r in items:
        writer.writerow([csv_cell(str(v)) for v in (
            r.username, r.home, r.account, r.provider, *r.levels, ";".join(r.flags),
            "yes" if r.outside else "", r.role, "yes" if r.off_role else "", r.last_login,
            r.person)])
    return buf.getvalue()


# Colours read as risk: full is the strong (red) one, view amber, none quiet grey. At phone
# width the page never scrolls sideways: the matrix scrolls inside its own box, with the
# username column sticky so a row stays readable.
_STYLE = """
*, *::before, *::after { box-sizing: border-box; }
body { font: 14px system-ui, sans-serif; margin: 0; padding: 1rem; color: #1d2330;
       max-width: 100%; overflow-x: hidden; }
h1 { font-size: 1.3rem; margin: 0 0 .25rem; } .meta { color: #4a5261; margin: 0 0 .75rem; }
.filters { margin: .75rem 0; display: flex; flex-wrap: wrap; gap: .5rem 1rem; }
.filters label { display: flex; flex-direction: column; flex: 1 1 12rem; max-width: 20rem; }
input { padding: .3rem .5rem; font: inherit; width: 100%; }
.scroll { overflow-x: auto; max-width: 100%; border: 1px solid #d5d9e0; }
table { border-collapse: separate; border-spacing: 0; }
th, td { padding: .25rem .5rem; border-right: 1px solid #d5d9e0; border-bottom: 1px solid #d5d9e0;
         white-space: nowrap; background: #fff; }
th { background: #f3f5f8; position: sticky; top: 0; z-index: 1; }
.username { position: sticky; left: 0; z-index: 2; background: #fff; font-weight: 600;
            max-width: 9rem; overflow: hidden; text-overflow: ellipsis; }
th.username { background: #f3f5f8; z-index: 3; }
td.full { background: #f6c9c4; color: #6b1410; } td.view { background: #fdf0c2; }
td.none { color: #9aa3b0; }
td.risky { background: #b3261e; color: #fff; font-weight: 600; }
td.risky::after { content: " \\26A0"; }
tr.flagged td.username::after { content: " \\26A0"; color: #b3261e; }
td.flag { color: #8c1d18; white-space: normal; min-width: 12rem; }
td.off-role { background: #fdf0c2; font-style: italic; } td.off-role::after { content: " *"; }
.legend { display: flex; flex-wrap: wrap; gap: .25rem .75rem; align-items: center; }
.legend span { padding: .1rem .4rem; }
"""

# Filters read ?username=&account= too, so a link can open a filtered view (and a headless
# browser test can check that filtering works).
_SCRIPT = """
const params = new URLSearchParams(location.search);
const fu = document.getElementById('filter-username');
const fa = document.getElementById('filter-account');
fu.value = params.get('username') || ''; fa.value = params.get('account') || '';
function apply() {
  const u = fu.value.trim().toLowerCase(), a = fa.value.trim().toLowerCase();
  let shown = 0;
  for (const row of document.querySelectorAll('#matrix tbody tr')) {
    const ok = row.dataset.username.toLowerCase().includes(u) &&
      (row.dataset.account + ' ' + row.dataset.provider).toLowerCase().includes(a);
    row.hidden = !ok; if (ok) shown++;
  }
  document.getElementById('shown').textContent = shown;
}
fu.addEventListener('input', apply); fa.addEventListener('input', apply); apply();
"""


def to_html(items: list[Row], header: Header) -> str:
    """A self-contained page: no external files, scripts or fonts."""
    e = html.escape
    head = "".join(f"<th>{e(a)}</th>" for a in AREAS)
    body = []
    for r in items:
        cells = "".join(
            f'<td class="{lvl}{" risky" if a in r.flags else ""}" data-area="{a}">{lvl}</td>'
            for a, lvl in zip(AREAS, r.levels, strict=True))
        body.append(
            f'<tr class="{"flagged" if r.flags or r.outside or r.off_role else ""}" '
            f'data-username="{e(r.username)}" '
            f'data-account="{e(r.account)}" data-provider="{e(r.provider)}">'
            f'<td class="username" title="{e(r.username)}'
            f'{(": " + e(r.flag_text())) if r.flag_text() else ""}">{e(r.username)}</td>'
            f"<td>{e(r.person)}</td><td>{e(r.account)}</td>"
            f"<td>{e(r.provider)}</td><td>{'yes' if r.account == r.home else ''}</td>"
            f'<td class="{"off-role" if r.off_role else ""}">{e(r.role)}</td>'
            f"{cells}<td>{e(r.last_login_day())}</td>"
            f"<td class=\"flag\">{e(r.flag_text())}</td></tr>"
        )
    title = f"Access review: {header.practice}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title><style>{_STYLE}</style></head>
<body>
<h1>{e(title)}</h1>
<p class="meta">Made {e(header.made_at)} from store revision {header.revision}
(lineage {e(header.lineage)}) by groupsync access.</p>
<p class="legend"><span style="background:#b3261e;color:#fff">full, flagged</span>
<span class="full" style="background:#f6c9c4">full</span>
<span style="background:#fdf0c2">view</span><span style="color:#9aa3b0">none</span>
<span>&#9888; flagged: full on notes or account_access outside the username's home (the
master's own in the practice's accounts excepted), access to an account not in the
practice file, or levels that differ from the role the file names (marked *)
({flagged(items)} of {len(items)} rows).</span></p>
<div class="filters">
<label>Username <input id="filter-username" type="search" placeholder="filter"></label>
<label>Account <input id="filter-account" type="search" placeholder="id or provider"></label>
<span><span id="shown">{len(items)}</span> rows shown</span>
</div>
<div class="scroll">
<table id="matrix"><thead><tr><th class="username">username</th><th>person</th><th>account</th>
<th>provider</th><th>home</th><th>role</th>{head}<th>last login</th><th>flags</th></tr>
</thead>
<tbody>
{chr(10).join(body)}
</tbody></table>
</div>
<script>{_SCRIPT}</script>
</body></html>
"""
