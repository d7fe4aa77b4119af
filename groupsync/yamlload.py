"""Safe YAML to plain data with a mark for every node.

PyYAML's loaders silently keep the last of two duplicate keys, type `NO` as false and `0755` as
an octal number, and expand aliases without limit. We compose the node graph instead (with the
libyaml C composer when present), then build plain data ourselves:

- every scalar stays the text that was written (the schema types it later); `null`, `~` and
  empty values become None;
- duplicate keys, non-scalar keys and any tag outside YAML's core schema are errors;
- merge keys (`<<`) work, explicit keys win over merged ones;
- aliases may expand to at most MAX_ALIAS_NODES nodes in all, and recursion is refused;
- a document holds at most MAX_NODES nodes, counted before the graph is built.

Marks are 1-based (line, column) keyed by the path of the value (`marks`) and of the key
(`key_marks`), so later validation can say FILE:LINE:COL for any place in the document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from groupsync.errors import Problem

try:  # the C composer is ~10x faster; the pure-Python one behaves the same
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_FILE_BYTES = 16 * 1024 * 1024  # a 1,000-provider practice is under 1 MiB
MAX_ALIAS_NODES = 10_000
# Nodes a document may hold (a size-L practice has about 70,000): counted on the parser's
# event stream before anything is composed, so a file of junk costs the parser's time and
# never the memory of its node graph (about 300 bytes a node).
MAX_NODES = 300_000
MAX_DEPTH = 64

Path = tuple[str | int, ...]
Mark = tuple[int, int]

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_NULL_TAG = _CORE + "null"
_MERGE_TAG = _CORE + "merge"


@dataclass
class Document:
    data: Any
    marks: dict[Path, Mark] = field(default_factory=dict)
    key_marks: dict[Path, Mark] = field(default_factory=dict)
    # path -> the file the value there (and all below it) was written in, where that is not
    # the document's own: a workspace's shared file and usernames, merged into a practice's
    origins: dict[Path, str] = field(default_factory=dict)

    def file(self, path: Path, default: str) -> str:
        """The file the value at `path` was written in."""
        if self.origins:
            p = path
            while p:
                if p in self.origins:
                    return self.origins[p]
                p = p[:-1]
            return self.origins.get((), default)
        return default

    def problem(self, default: str, path: Path, message: str, key: bool = False) -> Problem:
        """A problem at `path`, named FILE:LINE:COL of the file it was written in."""
        line, col = self.mark(path, key=key)
        return Problem(self.file(path, default), line, col, message)

    def graft(self, source: Document, rules: dict[Path, Path], origin: str | None) -> None:
        """Take `source`'s marks under each rule's source path, re-rooted at its path here,
        and say the values there were written in `origin` (None: this document's own file).
        One pass over `source`'s marks, whatever the number of rules."""
        depths = sorted({len(p) for p in rules}, reverse=True)
        for own, theirs in ((self.marks, source.marks), (self.key_marks, source.key_marks)):
            for path, mark in theirs.items():
                for depth in depths:
                    dst = rules.get(path[:depth]) if len(path) >= depth else None
                    if dst is not None:
                        own[(*dst, *path[depth:])] = mark
                        break
        for dst in rules.values():
            if origin is None:
                self.origins.pop(dst, None)
            else:
                self.origins[dst] = origin

    def mark(self, path: Path, key: bool = False) -> Mark:
        """The nearest known mark: of the key when asked and known, else of the value, else
        of the closest enclosing node."""
        if key and path in self.key_marks:
            return self.key_marks[path]
        p = path
        while p:
            if p in self.marks:
                return self.marks[p]
            if p in self.key_marks:
                return self.key_marks[p]
            p = p[:-1]
        return self.marks.get((), (1, 1))


class _Fail(Exception):
    def __init__(self, mark: Mark, message: str) -> None:
        self.mark = mark
        self.message = message


def _mark(node: yaml.Node) -> Mark:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def load(text: bytes, filename: str,
         max_nodes: int = MAX_NODES) -> tuple[Document | None, list[Problem]]:
    """Parse `text`: the document (None if it could not be built) and every problem found."""
    if len(text) > MAX_FILE_BYTES:
        return None, [Problem(filename, 1, 1, f"file is larger than {MAX_FILE_BYTES >> 20} MiB")]
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = text[: exc.start].count(b"\n") + 1
        col = exc.start - (text.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, [Problem(filename, line, col, "file is not UTF-8 text")]
    if decoded.startswith("\ufeff"):
        decoded = decoded[1:]
    if not decoded.strip():
        return None, [Problem(filename, 1, 1, "file is empty")]
    try:
        too_many = _count_nodes(decoded, max_nodes)
        if too_many is not None:
            return None, [Problem(filename, too_many[0], too_many[1],
                                  f"the file holds more than {max_nodes:,} YAML nodes; "
                                  "a practice needs far fewer")]
        loader = _Loader(decoded)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        line, col, message = _syntax_problem(exc, decoded)
        return None, [Problem(filename, line, col, message)]
    except yaml.YAMLError as exc:
        return None, [Problem(filename, 1, 1, f"invalid YAML: {exc}")]
    except RecursionError:
        return None, [Problem(filename, 1, 1, "invalid YAML: nested too deeply")]
    if node is None:
        return None, [Problem(filename, 1, 1, "file is empty")]
    doc = Document(data=None)
    builder = _Builder(doc)
    try:
        doc.data = builder.build(node, ())
    except _Fail as fail:
        return None, [Problem(filename, fail.mark[0], fail.mark[1], fail.message)]
    # Duplicate keys don't stop the load: the caller goes on validating, so every problem in
    # the file is reported at once.
    return doc, [Problem(filename, m[0], m[1], msg) for m, msg in builder.problems]


_NODE_EVENTS = (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent,
                yaml.AliasEvent)


def _count_nodes(text: str, max_nodes: int = MAX_NODES) -> Mark | None:
    """Where the document passes MAX_NODES nodes, or None when it holds fewer. Parses events
    one at a time and keeps none (a syntax error is left to the composer, which says it
    better)."""
    loader = _Loader(text)
    count = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, _NODE_EVENTS):
                count += 1
                if count > max_nodes:
                    mark = event.start_mark
                    return (mark.line + 1, mark.column + 1) if mark else (1, 1)
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    return None


_VALUE_QUOTE = re.compile(r"""(?:^\s*-\s+|:\s+|[\[{,]\s*)(["'])""")
_CLOSED = {'"': re.compile(r'(?:[^"\\]|\\.)*"'), "'": re.compile(r"(?:[^']|'')*'")}


def _unclosed_quote(line: str) -> tuple[int, str] | None:
    """Where a quoted value opens on `line` and is not closed on it (column, quote), if so."""
    for match in _VALUE_QUOTE.finditer(line):
        quote = match.group(1)
        if not _CLOSED[quote].match(line, match.end()):
            return match.start(1) + 1, quote
    return None


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str) -> tuple[int, int, str]:
    """A YAML syntax error as an admin would want it: what is wrong, where it really is, and
    the parser's own words as a detail. The parser often notices a problem lines after it
    starts (an unclosed quote swallows the lines after it), so the likely cause is looked
    for between where the parser's context began and where it gave up."""
    problem = exc.problem or exc.context or "invalid YAML"
    context = exc.context or ""
    m = exc.problem_mark or exc.context_mark
    line, col = (m.line + 1, m.column + 1) if m else (1, 1)
    detail = f" (YAML parser: {problem})"
    lines = text.splitlines()
    start = exc.context_mark.line if exc.context_mark else max(0, line - 1)
    for n in range(start, min(line, len(lines))):
        opened = _unclosed_quote(lines[n])
        if opened is not None:
            at, quote = opened
            return n + 1, at, f"this quoted value is never closed: add the closing {quote}{detail}"
    c = exc.context_mark
    for flow, opener, closer in (("flow sequence", "[", "]"), ("flow mapping", "{", "}")):
        if flow not in context or c is None:
            continue
        if m is not None and m.line == c.line and "expected ','" in problem:
            # still on the opening line: not unclosed, something between two items
            return line, col, (f"expected a comma or {closer} here: a comma missing between "
                               f"two items, or a quote inside a quoted value?{detail}")
        return c.line + 1, c.column + 1, (f"this {opener} {'list' if opener == '[' else 'mapping'}"
                                          f" is never closed with {closer}{detail}")
    at_tab = m is not None and m.line < len(lines) and lines[m.line][m.column:m.column + 1] == "\t"
    if "tab" in problem or at_tab:
        return line, col, f"a tab is used to indent; YAML indents with spaces only{detail}"
    if "mapping values are not allowed" in problem:
        return line, col, ("a colon here starts a key where there can't be one: check this "
                           f"line's indentation, or quote a value that contains ': '{detail}")
    if "expected '-' indicator" in problem:
        return line, col, ("the items of a list line up: put each `- ` at the same column as "
                           f"the first{detail}")
    if ("block mapping" in context or "block sequence" in context) and m is not None:
        indent = len(lines[m.line]) - len(lines[m.line].lstrip(" ")) if m.line < len(lines) \
            else 0
        if c is not None and indent != c.column:
            return line, col, ("this line's indentation doesn't match the lines above it "
                               f"(the keys of one mapping line up exactly){detail}")
        return line, col, ("YAML can't read what follows a value on this line: a quote inside "
                           "a quoted value (write '' for ' inside '…', \\\" inside \"…\"), "
                           f"text after a closing quote, or a missing colon{detail}")
    return line, col, f"invalid YAML: {problem}"


class _Builder:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.seen: set[int] = set()
        self.alias_budget = MAX_ALIAS_NODES
        self.active: set[int] = set()
        self.problems: list[tuple[Mark, str]] = []

    def build(self, node: yaml.Node, path: Path, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise _Fail(_mark(node), f"nested more than {MAX_DEPTH} levels deep")
        ident = id(node)
        if ident in self.active:
            raise _Fail(_mark(node), "recursive alias")
        if ident in self.seen:
            # Second and later visits are alias expansions: they spend the budget, so a
            # "billion laughs" document fails fast instead of eating memory.
            self.alias_budget -= 1
            if self.alias_budget < 0:
                raise _Fail(_mark(node), f"aliases expand to more than {MAX_ALIAS_NODES} nodes")
        self.seen.add(ident)
        if path not in self.doc.marks:
            self.doc.marks[path] = _mark(node)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        self.active.add(ident)
        try:
            if isinstance(node, yaml.SequenceNode):
                self._tag(node, _CORE + "seq")
                items = enumerate(node.value)
                return [self.build(item, (*path, i), depth + 1) for i, item in items]
            if isinstance(node, yaml.MappingNode):
                self._tag(node, _CORE + "map")
                return self._mapping(node, path, depth)
        finally:
            self.active.discard(ident)
        raise _Fail(_mark(node), "unsupported YAML node")  # pragma: no cover

    def _tag(self, node: yaml.Node, expected: str) -> None:
        if node.tag != expected:
            raise _Fail(_mark(node), f"tag {node.tag!r} is not allowed (only plain YAML data)")

    def _scalar(self, node: yaml.ScalarNode) -> str | None:
        if node.tag not in _SCALAR_TAGS:
            raise _Fail(_mark(node), f"tag {node.tag!r} is not allowed (only plain YAML data)")
        # A plain (unquoted) null: libyaml's loader marks plain scalars with style '' where the
        # pure-Python one uses None, so both are plain here; `"~"` quoted stays text.
        if node.tag == _NULL_TAG and node.style in (None, ""):
            return None
        value: str = node.value
        return value if value != "" else None

    def _mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        explicit: set[str] = set()
        merged: list[dict[str, Any]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(self._merge_sources(value_node, path, depth))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Fail(_mark(key_node), "a key must be plain text")
            key = self._scalar(key_node)
            if key is None:
                raise _Fail(_mark(key_node), "a key must not be empty")
            if key in explicit:
                first = self.doc.key_marks[(*path, key)]
                self.problems.append(
                    (_mark(key_node), f"duplicate key {key!r} (first at line {first[0]})")
                )
                continue
            explicit.add(key)
            self.doc.key_marks[(*path, key)] = _mark(key_node)
            result[key] = self.build(value_node, (*path, key), depth + 1)
        for source in merged:
            for key, value in source.items():
                result.setdefault(key, value)
        return result

    def _merge_sources(self, node: yaml.Node, path: Path, depth: int) -> list[dict[str, Any]]:
        nodes = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out = []
        for n in nodes:
            if not isinstance(n, yaml.MappingNode):
                raise _Fail(_mark(n), "a merge key (<<) needs a mapping or a list of mappings")
            value = self.build(n, path, depth + 1)
            out.append(value)
        return out
