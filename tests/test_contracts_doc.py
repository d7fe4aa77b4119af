"""Every citation of docs/contracts.md in the code names a section that exists, and nothing
cites a document outside the repository."""

from __future__ import annotations

import re

from .conftest import ROOT

CITATION = re.compile(r'docs/contracts\.md,\s+(?:#\s+)?"([^"]+)"')


def _sources() -> list[tuple[str, str]]:
    paths = [*ROOT.glob("groupsync/**/*.py"), *ROOT.glob("tests/*.py"),
             *ROOT.glob("benchmarks/*.py")]
    return [(str(p.relative_to(ROOT)), p.read_text()) for p in sorted(paths)]


def test_every_cited_section_exists() -> None:
    headings = {m.group(1).strip() for m in
                re.finditer(r"^#+ (.+)$", (ROOT / "docs/contracts.md").read_text(), re.M)}
    cited: dict[str, str] = {}
    for name, text in _sources():
        # a citation may wrap: join comment and docstring continuation lines first
        flat = re.sub(r"\n\s*(?:#\s*)?", " ", text)
        for m in CITATION.finditer(flat):
            cited.setdefault(m.group(1), name)
    assert len(cited) >= 8, cited  # the code does cite it
    missing = {section: name for section, name in cited.items() if section not in headings}
    assert missing == {}


def test_nothing_cites_a_document_outside_the_repository() -> None:
    for name, text in _sources():
        if name == "tests/test_contracts_doc.py":
            continue
        assert "DESIGN §" not in text and "../shared" not in text, name
