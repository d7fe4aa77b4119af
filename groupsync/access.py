"""Access review: who can do what, usernames x accounts x areas, as a table, CSV or HTML.

Rows are (username, account) pairs from one State; flagged rows are those where a username
holds `full` on `notes` (clinical records) or `account_access` (who gets in) in an account
that is not its home — the grants an auditor should look at first.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass

from groupsync.accounts.model import AREAS, State

RISKY_AREAS = ("notes", "account_access")
_LETTER = {"full": "F", "view": "V", "none": "."}


@dataclass(frozen=True)
class Row:
    username: str
    home: str
    account: str
    provider: str
    levels: tuple[str, ...]  # in AREAS order
    flags: tuple[str, ...]  # areas with full outside the home


def rows(state: State, accounts: set[str] | None = None) -> list[Row]:
    """Every access row, for the given accounts (all when None), username then account."""
    out = []
    for (k, acct), privs in state.access.items():
        if accounts is not None and acct not in accounts:
            continue
        user = state.users[k]
        flags = tuple(a for a in RISKY_AREAS if privs[a] == "full" and acct != user.home)
        out.append(Row(user.username, user.home, acct, state.accounts[acct].provider_name,
                       tuple(privs[a] for a in AREAS), flags))
    out.sort(key=lambda r: (r.username.casefold(), r.account))
    return out


def table(items: list[Row]) -> str:
    head = ["username", "account", *(a[:6] for a in AREAS), "flags"]
    body = [[r.username + ("" if r.account != r.home else " (home)"), r.account,
             *(_LETTER[level] for level in r.levels),
             ("full " + ", ".join(r.flags) + " outside home") if r.flags else ""]
            for r in items]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=False)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
             for line in [head, *body]]
    flagged = sum(1 for r in items if r.flags)
    lines += ["", f"F full, V view, . none. {len(items)} access rows, {flagged} flagged."]
    return "\n".join(lines) + "\n"


def to_csv(items: list[Row]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["username", "home", "account", "provider", *AREAS, "flags"])
    for r in items:
        writer.writerow([r.username, r.home, r.account, r.provider, *r.levels,
                         ";".join(r.flags)])
    return buf.getvalue()


_STYLE = """
body { font: 14px system-ui, sans-serif; margin: 1.5rem; color: #1d2330; }
h1 { font-size: 1.3rem; } .filters { margin: 1rem 0; display: flex; gap: 1rem; }
input { padding: .3rem .5rem; font: inherit; }
table { border-collapse: collapse; } th, td { padding: .25rem .5rem; border: 1px solid #d5d9e0; }
th { background: #f3f5f8; position: sticky; top: 0; }
td.full { background: #c8ecd0; } td.view { background: #fdf0c2; } td.none { color: #9aa3b0; }
tr.flagged td.username::after { content: " \\26A0"; color: #b3261e; }
tr.flagged { outline: 2px solid #e4a0a0; }
.legend span { padding: .1rem .4rem; margin-right: .5rem; }
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


def to_html(items: list[Row], title: str) -> str:
    """A self-contained page: no external files, scripts or fonts."""
    e = html.escape
    head = "".join(f"<th>{e(a)}</th>" for a in AREAS)
    body = []
    for r in items:
        cells = "".join(f'<td class="{lvl}" data-area="{a}">{lvl}</td>'
                        for a, lvl in zip(AREAS, r.levels, strict=True))
        flag = ("full " + ", ".join(r.flags) + " outside home") if r.flags else ""
        body.append(
            f'<tr class="{"flagged" if r.flags else ""}" data-username="{e(r.username)}" '
            f'data-account="{e(r.account)}" data-provider="{e(r.provider)}">'
            f'<td class="username">{e(r.username)}</td><td>{e(r.account)}</td>'
            f"<td>{e(r.provider)}</td><td>{'yes' if r.account == r.home else ''}</td>"
            f"{cells}<td class=\"flag\">{e(flag)}</td></tr>"
        )
    flagged = sum(1 for r in items if r.flags)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title><style>{_STYLE}</style></head>
<body>
<h1>{e(title)}</h1>
<p class="legend"><span class="full" style="background:#c8ecd0">full</span>
<span style="background:#fdf0c2">view</span><span style="color:#9aa3b0">none</span>
&#9888; full on notes or account_access outside the username's home
({flagged} of {len(items)} rows).</p>
<div class="filters">
<label>Username <input id="filter-username" type="search" placeholder="filter"></label>
<label>Account <input id="filter-account" type="search" placeholder="id or provider"></label>
<span><span id="shown">{len(items)}</span> rows shown</span>
</div>
<table id="matrix"><thead><tr><th>username</th><th>account</th><th>provider</th><th>home</th>
{head}<th>flags</th></tr></thead>
<tbody>
{chr(10).join(body)}
</tbody></table>
<script>{_SCRIPT}</script>
</body></html>
"""
