"""CriticMarkup: editors' marks in a chapter's Markdown.

    {++added++}   {--deleted--}   {~~old~>new~~}   {==highlighted==}   {>>comment<<}

pandoc has no CriticMarkup reader, so :func:`to_pandoc` turns the marks into pandoc spans
(``[text]{.critic-ins}``) or, for a mark whose delimiters stand alone on their lines, divs
(``::: {.critic-ins}``), before pandoc reads the chapter. It never adds or removes a line, so
every line number pandoc or the checks give stays the author's. Marks inside code (fenced or
indented code blocks, in list items and block quotes too, and `inline code`), math ($...$) and HTML
comments are left alone: pandoc reads no mark there, and none would be printed.

:func:`marks` finds the open marks (each with its line and column) for ``check`` and for the
public build, which refuses to print them; :func:`resolve` accepts or rejects them all, for
``python -m build_book accept|reject FILE...``. A mark ends in the paragraph it begins in (or, with its
delimiters alone on their lines, covers whole paragraphs) and holds no other: an opening that begins no
mark so is an error (``critic-malformed``), left as written, and no file holding one is resolved.
"""

from __future__ import annotations

import bisect
import os
import re
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from .diagnostics import Diagnostic, Location, error, warning
from .early import FRONT_MATTER_END, FRONT_MATTER_OPEN
from .scan import DISPLAY_MATH, INLINE_MATH

# kind -> (opening, closing); a substitution has its separator ~> as well
KINDS = {
    "ins": ("{++", "++}"),
    "del": ("{--", "--}"),
    "sub": ("{~~", "~~}"),
    "mark": ("{==", "==}"),
    "comment": ("{>>", "<<}"),
}
WORDS = {"ins": "insertion", "del": "deletion", "sub": "substitution", "mark": "highlight", "comment": "comment"}
OPENING = re.compile(r"\{(?:\+\+|--|~~|==|>>)")
OPENED = {opening: kind for kind, (opening, _) in KINDS.items()}
FENCE_LINE = re.compile(r"[ \t]*(`{3,}|~{3,})(?:(?<=`)[^`]*|(?<=~).*)$")   # (no backtick in a ``` fence's info)
QUOTE = re.compile(r" {0,3}> ?")
QUOTES = re.compile(r"^(?:[ \t]*>)*")     # a line's block quote marks
QUOTES_ONLY = re.compile(r"(?:[ \t]*>)*[ \t]*")
LINE_END = re.compile(r"[ \t\r]*(?:\n|$)")
BRACKET = re.compile(r"\\[\s\S]|`+|[\[\]]")
# what begins a list item, a note or a definition; then the spaces before its text
ITEM = re.compile(r"([-*+]|\(?(?:\d{1,9}|[a-zA-Z]|[ivxlcdmIVXLCDM]{1,8}|#|@[\w-]*)[.)]|\[\^[^\]\s]+\]:|:)([ \t]+|$)")
BLANK_LINE = re.compile(r"\n(?:[ \t\r]*>)*[ \t\r]*(?:\n|$)")   # a paragraph's end (in a block quote too)
INLINE = re.compile(r"\\[\s\S]|`+|<!--|\$\$?")


@dataclass(frozen=True)
class Mark:
    kind: str          # ins, del, sub, mark, comment
    start: int         # offset of the opening delimiter in the text
    end: int           # offset just after the closing delimiter
    line: int
    column: int
    text: str          # what stands between the delimiters (for sub: "old~>new")

    @property
    def old_new(self) -> tuple[str, str]:
        """A substitution's old and new text (any other mark: its text twice)."""
        if self.kind != "sub":
            return self.text, self.text
        old, _, new = self.text.partition("~>")
        return old, new

    def excerpt(self, most: int = 40) -> str:
        text = " ".join(self.text.split())
        return text if len(text) <= most else text[: most - 1] + "…"


def _not_text(text: str) -> list[tuple[int, int]]:
    """Offsets of code blocks and code spans, math and HTML comments, where a mark is no mark."""
    blocks = _code_blocks(text)[0]
    return blocks + _inline(text, blocks)


def _indent(text: str) -> int:
    """The column a line's text begins at (a tab to the next multiple of four)."""
    column = 0
    for ch in text:
        if ch == " ":
            column += 1
        elif ch == "\t":
            column += 4 - column % 4
        else:
            break
    return column


def _code_blocks(text: str) -> tuple[list[tuple[int, int]], dict[int, int]]:
    """Offsets of the code blocks as pandoc reads them: fenced (``` or ~~~, in a list item or a block quote
    too), and indented by four columns past the list item (or note, or definition) the line belongs to,
    after a blank line or a heading; a line indented so in a list item is the item's paragraph, not code.
    Also each line's column that its list item's text begins at (by the offset where the line begins)."""
    ranges: list[tuple[int, int]] = []
    bases: dict[int, int] = {}
    fence: tuple[str, int] | None = None    # the open fence's character and length, its quote depth, where it began
    fence_depth = fence_start = 0
    code: list[int] | None = None      # an indented code block: where it began and where its last line ends
    items: list[int] = []              # the columns the text of the list items open here begins at
    before, depth_before = "blank", 0  # the line above: blank, para(graph), code or other (a heading, a fence)
    offset = 0
    for line in text.splitlines(keepends=True):
        start, offset = offset, offset + len(line)
        depth, at = 0, 0
        while (quote := QUOTE.match(line, at)) is not None:
            depth, at = depth + 1, quote.end()
        rest = line[at:].rstrip("\n")
        if fence is not None:
            if depth < fence_depth and rest.strip():      # the block quote it stood in ended
                ranges.append((fence_start, start))
                fence = None
            else:
                closing = FENCE_LINE.match(rest)
                if closing and closing.group(1)[0] == fence[0] and len(closing.group(1)) >= fence[1]:
                    ranges.append((fence_start, offset))
                    fence, before = None, "other"
                continue
        if not rest.strip():
            before = "code" if code is not None else "blank"
            continue
        if depth != depth_before:
            items = []
        depth_before = depth
        column = _indent(rest)
        item = ITEM.match(rest, len(rest) - len(rest.lstrip(" \t")))
        if item is not None or before != "para":      # (a line right under a paragraph's line continues it)
            while items and column < items[-1]:
                items.pop()
        base = items[-1] if items else 0
        bases[start] = base
        if column >= base + 4 and before in ("blank", "code", "other"):
            if code is None:
                code = [start, offset]
            code[1] = offset
            before = "code"
            continue
        if code is not None:
            ranges.append((code[0], code[1]))
            code = None
        opener = FENCE_LINE.match(rest)
        if opener is not None and before != "para":
            fence, fence_depth, fence_start = (opener.group(1)[0], len(opener.group(1))), depth, start
            continue
        if item is not None:
            marker = column + len(item.group(1))
            spaces = _indent(" " * marker + item.group(2)) - marker
            if item.group(1)[0] in "[:":      # a note's or a definition's blocks are indented by four
                items.append(column + 4)
            else:
                items.append(marker + (spaces if 0 < spaces <= 4 else 1))
            before = "para"
        else:
            before = "other" if rest.lstrip().startswith(("#", ":::")) else "para"
    if code is not None:
        ranges.append((code[0], code[1]))
    if fence is not None:
        ranges.append((fence_start, len(text)))
    return ranges, bases


def _inline(text: str, blocks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Offsets of the code spans, math and HTML comments outside ``blocks``, as pandoc reads them: a run of
    backticks is closed by the next run of the same length in its paragraph (never across a blank line),
    math by the next '$' (or '$$') in it that may close it; what is not closed is text."""
    ranges: list[tuple[int, int]] = []
    ends = _paragraph_ends(text)
    at = 0
    while (found := INLINE.search(text, at)) is not None:
        start, at, what = found.start(), found.end(), found.group()
        block = _within(blocks, start)
        if block is not None:
            at = block[1]
            continue
        if what == "<!--":
            end = text.find("-->", at)
            closed = None if end < 0 else end + 3
        else:
            stop = _paragraph_end(ends, at, len(text))
            if what[0] == "`":
                close = re.compile(r"(?<!`)`{%d}(?!`)" % len(what)).search(text, at, stop)
            elif what == "$$":
                close = DISPLAY_MATH.search(text, at, stop)
            elif what == "$":
                close = INLINE_MATH.match(text, start, stop)
            else:       # (an escaped character)
                close = None
            closed = None if close is None else close.end()
        if closed is not None:
            ranges.append((start, closed))
            at = closed
    return ranges


def _paragraph_ends(text: str) -> list[int]:
    return [m.start() for m in BLANK_LINE.finditer(text)]


def _paragraph_end(ends: list[int], at: int, default: int) -> int:
    """Where the paragraph that ``at`` is in ends (``ends``: :func:`_paragraph_ends`)."""
    i = bisect.bisect_left(ends, at)
    return ends[i] if i < len(ends) else default


def _within(ranges: list[tuple[int, int]], at: int) -> tuple[int, int] | None:
    """The range of ``ranges`` (sorted, none overlapping) that ``at`` is in, if any."""
    i = bisect.bisect_right(ranges, (at, float("inf"))) - 1
    return ranges[i] if i >= 0 and ranges[i][0] <= at < ranges[i][1] else None


@dataclass(frozen=True)
class Flaw:
    """An opening no mark can be read from: never closed (before its paragraph ends), or inside another mark."""
    kind: str
    line: int
    column: int
    message: str
    hint: str


def marks(text: str, first_line: int = 1) -> list[Mark]:
    """Every mark in ``text`` outside code, in order; lines count from ``first_line``."""
    return read_marks(text, first_line)[0]


def read_marks(text: str, first_line: int = 1, markdown: bool = True) -> tuple[list[Mark], list[Flaw]]:
    """Every mark in ``text`` outside code, math and comments, in order, and every opening that begins none
    (see :class:`Flaw`), which is left as it is written. A mark ends before a blank line, unless its
    delimiters stand alone on their lines (a mark over whole paragraphs): an opening never closed once took
    the text up to the next mark's closing with it. ``markdown``: False for a front matter's YAML, where
    no code is looked for."""
    if OPENING.search(text) is None:   # (most chapters: then where the code is need not be found)
        return [], []
    skipped = sorted(_not_text(text)) if markdown else []
    openings = [m for m in OPENING.finditer(text)
                if _within(skipped, m.start()) is None and not _escaped(text, m.start())]
    ends = _paragraph_ends(text)
    newlines = [m.start() for m in re.finditer("\n", text)]
    closings = {kind: [m.start() for m in re.finditer(re.escape(closing), text)] for kind, (_, closing) in KINDS.items()}

    def closed(kind: str, at: int, stop: int) -> int:
        """Where the first closing delimiter of ``kind`` from ``at`` on (before ``stop``) is, or -1."""
        found = closings[kind]
        i = bisect.bisect_left(found, at)
        return found[i] if i < len(found) and found[i] < stop else -1

    def place(at: int) -> tuple[int, int]:
        line = bisect.bisect_left(newlines, at)
        return line + first_line, at - (newlines[line - 1] + 1 if line else 0) + 1

    def line_of(at: int) -> int:
        line = bisect.bisect_left(newlines, at)
        return newlines[line - 1] + 1 if line else 0

    found: list[Mark] = []
    flaws: list[Flaw] = []
    i = 0
    while i < len(openings):
        opening = openings[i]
        kind = OPENED[opening.group()]
        closing = KINDS[kind][1]
        word = WORDS[kind]
        close = closed(kind, opening.end(), _paragraph_end(ends, opening.end(), len(text)))
        if close < 0 and LINE_END.match(text, opening.end()) \
                and QUOTES_ONLY.fullmatch(text, line_of(opening.start()), opening.start()):
            far = closed(kind, opening.end(), len(text))    # a mark over whole paragraphs
            close = far if far >= 0 and _alone(text, opening.start(), far + len(closing), kind) else -1
        inner = openings[i + 1] if close >= 0 and i + 1 < len(openings) and openings[i + 1].start() < close else None
        if close < 0:
            excerpt = " ".join(text[opening.end():opening.end() + 40].split("\n\n")[0].split())
            flaws.append(Flaw(kind, *place(opening.start()),
                              f"this editor's {word} '{opening.group()}{excerpt}' is not closed before its "
                              "paragraph ends",
                              f"close it with '{closing}' before the blank line (a mark over whole paragraphs has "
                              f"its '{opening.group()}' and '{closing}' each alone on a line), or delete the "
                              f"'{opening.group()}'; to print the characters themselves, write "
                              f"'{_escape_all(opening.group())}'"))
        elif inner is not None:
            line, column = place(opening.start())
            flaws.append(Flaw(OPENED[inner.group()], *place(inner.start()),
                              f"an editor's {WORDS[OPENED[inner.group()]]} inside the {word} opened at "
                              f"{line}:{column}: marks do not nest", "write the two marks one after the other"))
        else:
            line, column = place(opening.start())
            found.append(Mark(kind, opening.start(), close + len(closing), line, column,
                              text[opening.end():close]))
            while i < len(openings) and openings[i].start() < close + len(closing):
                i += 1
            continue
        i += 1
    return found, flaws


def _escape_all(text: str) -> str:
    """``text`` with each character escaped ('{--' as '\\{\\-\\-'): printed as written, not as a dash or a
    subscript."""
    return "".join("\\" + ch for ch in text)


def _escaped(text: str, at: int) -> bool:
    """Is the character at ``at`` escaped ('\\{++': the characters themselves, as pandoc prints them)?"""
    start = at
    while start > 0 and text[start - 1] == "\\":
        start -= 1
    return (at - start) % 2 == 1


def split(text: str) -> tuple[str, str, int]:
    """A chapter's text as its front matter (the YAML between its '---' lines, with them) and its body, and
    the line its body begins on (as load.py splits it)."""
    opening = FRONT_MATTER_OPEN.match(text)
    end = FRONT_MATTER_END.search(text, opening.end()) if opening else None
    if end is None:
        return "", text, 1
    return text[:end.end() + 1], text[end.end() + 1:], text.count("\n", 0, end.end()) + 2


def diagnostics(text: str, path: str, first_line: int = 1, markdown: bool = True) -> list[Diagnostic]:
    """For ``check``: each open mark, as a warning at its place; an error at each opening that begins none."""
    from .cli import prog_name

    found, flaws = read_marks(text, first_line, markdown)
    return sorted([warning("critic-mark", f"an open editor's {WORDS[m.kind]}: '{m.excerpt()}'",
                           Location(path, m.line, m.column),
                           f"accept or reject it before publication ({prog_name()} accept|reject FILE)")
                   for m in found] + flaw_diagnostics(flaws, path),
                  key=lambda d: (d.location.line, d.location.column))


def flaw_diagnostics(flaws: list[Flaw], path: str) -> list[Diagnostic]:
    return [error("critic-malformed", f.message, Location(path, f.line, f.column), f.hint) for f in flaws]


def unresolved(root: Path, paths: list[str]) -> list[Diagnostic]:
    """For the public build: an error at every open mark in the chapter files ``paths``."""
    from .cli import prog_name

    found, prog = [], prog_name()
    for path in paths:
        try:
            text = (root / path).read_text(encoding="utf-8").removeprefix("\ufeff").replace("\r\n", "\n")
        except (OSError, UnicodeDecodeError):
            continue   # reported by loading
        found += [error("critic-unresolved", f"the editor's {WORDS[m.kind]} '{m.excerpt()}' is not resolved: "
                        "a public edition cannot print it", Location(path, m.line, m.column),
                        f"accept or reject the marks ({prog} accept|reject {path}), or build a proof "
                        f"({prog} proof), which shows them")
                  for m in _file_marks(text)]
    return found


def _file_marks(text: str) -> list[Mark]:
    return read_file(text)[0]


def read_file(text: str) -> tuple[list[Mark], list[Flaw]]:
    """:func:`read_marks` of a chapter file's text: its front matter's (an abstract's marks), then its body's."""
    front, body, body_line = split(text)
    found, flaws = read_marks(front, markdown=False)
    more, wrong = read_marks(body, body_line)
    shift = len(front)
    return found + [replace(m, start=m.start + shift, end=m.end + shift) for m in more], flaws + wrong


def for_public(diags: list[Diagnostic], root: Path, book) -> list[Diagnostic]:
    """A public build's diagnostics: each open mark an error rather than a warning."""
    from .quarto import included   # the files chapters include (Quarto's {{< include >}}) are text of the book too
    paths = [c.path for c in book.chapters]
    paths += sorted(included(book.chapters) - set(paths))
    return [d for d in diags if d.code != "critic-mark"] + unresolved(root, paths)


# ---------------------------------------------------------------- for pandoc

def _alone(text: str, start: int, end: int, kind: str) -> bool:
    """Do the mark's opening and closing delimiters each stand alone on their own line?"""
    opening, closing = KINDS[kind]
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    first = text[line_start:text.find("\n", start) if "\n" in text[start:end] else end]
    last = text[text.rfind("\n", start, end) + 1:line_end]
    return "\n" in text[start:end] and QUOTES.sub("", first).strip() == opening \
        and QUOTES.sub("", last).strip() == closing


def _span(inner: str, classes: str) -> str:
    """``inner`` as spans, one per paragraph (a span cannot cross a blank line); newlines kept."""
    pieces = re.split(r"(\n[ \t]*\n\s*)", inner)
    out = []
    for piece in pieces:
        if not piece.strip():
            out.append(piece)
        else:
            # pandoc drops spaces at a span's edges: keep them outside it ("{++word ++}next")
            core = _brackets(piece.strip())
            lead, trail = piece[: len(piece) - len(piece.lstrip())], piece[len(piece.rstrip()):]
            out.append(f"{lead}[{core}]{{{classes}}}{trail}")
    return "".join(out)


def _brackets(text: str) -> str:
    """``text`` with each bracket that pairs with none escaped, so that it cannot end the span it is put in
    ('{++a) and b] here++}'); brackets in code spans, and escaped ones, are left as they are."""
    opened: list[int] = []
    lone: list[int] = []
    at = 0
    while (found := BRACKET.search(text, at)) is not None:
        at = found.end()
        what = found.group()
        if what[0] == "`":
            close = re.compile(r"(?<!`)`{%d}(?!`)" % len(what)).search(text, at)
            at = close.end() if close else at
        elif what == "[":
            opened.append(found.start())
        elif what == "]":
            if opened:
                opened.pop()
            else:
                lone.append(found.start())
    for i in sorted(lone + opened, reverse=True):
        text = text[:i] + "\\" + text[i:]
    return text


def _fence_indent(line_start: str, base: int) -> str:
    """What stands before a block mark's delimiter on its line (``line_start``: its block quote marks and
    indent), with the indent made that of the list item the line is in: pandoc reads a ::: fence only there."""
    at = 0
    while (quote := QUOTE.match(line_start, at)) is not None:
        at = quote.end()
    return line_start[:at] + " " * base


def to_pandoc(text: str) -> str:
    """The marks as pandoc spans and divs with classes ``critic-ins`` (``-del``, ``-mark``,
    ``-comment``); no line is added or removed."""
    out: list[str] = []
    at = 0
    bases: dict[int, int] | None = None
    for mark in marks(text):
        out.append(text[at:mark.start])
        at = mark.end
        if mark.kind == "comment":
            # a comment stays one inline note: a blank line in it becomes a line break, keeping the lines
            note = re.sub(r"\n(?=[ \t]*\n)", "\n\\\\", _brackets(mark.text))
            out.append(f'[{note}]{{.critic-comment tabindex="0"}}')
            continue
        if mark.kind in ("ins", "del", "mark") and _alone(text, mark.start, mark.end, mark.kind):
            bases = _code_blocks(text)[1] if bases is None else bases
            first, last = text.rfind("\n", 0, mark.start) + 1, text.rfind("\n", 0, mark.end) + 1
            head, _, rest = mark.text.partition("\n")
            inner, _, tail = rest.rpartition("\n")
            out[-1] = out[-1][:len(out[-1]) - (mark.start - first)] + _fence_indent(text[first:mark.start],
                                                                                     bases.get(first, 0))
            tail = _fence_indent(tail, bases.get(last, 0))
            out.append(f"::: {{.critic-{mark.kind}}}{head}\n{inner}\n{tail}:::")
            continue
        if mark.kind == "sub":
            old, new = mark.old_new
            out.append(_span(old, ".critic-del") + _span(new, ".critic-ins"))
        else:
            out.append(_span(mark.text, f".critic-{mark.kind}"))
    out.append(text[at:])
    return "".join(out)


def read(body: str, path: str, first_line: int) -> tuple[str, list[Diagnostic]]:
    """For loading: a chapter's body as pandoc should read it, a warning at each open mark and an error at
    each opening that begins none (see :func:`read_marks`)."""
    if "{" not in body or not OPENING.search(body):   # no mark at all (where code stands does not matter then)
        return body, []
    return to_pandoc(body), diagnostics(body, path, first_line)


# ---------------------------------------------------------------- accept and reject

class Unresolvable(Exception):
    """Marks that cannot be resolved as written (``args[0]``: the :class:`Flaw` list); nothing was changed."""


def resolve(text: str, accept: bool) -> tuple[str, dict[str, int]]:
    """``text`` with every mark accepted (or rejected), and how many of each kind there were; Unresolvable
    if an opening begins no mark (never closed, or inside another), which would take text with it."""
    found, flaws = read_file(text)
    if flaws:
        raise Unresolvable(flaws)
    counts: dict[str, int] = {}
    out: list[str] = []
    at = 0
    for mark in found:
        counts[mark.kind] = counts.get(mark.kind, 0) + 1
        out.append(text[at:mark.start])
        at = mark.end
        old, new = mark.old_new
        if mark.kind == "comment":
            kept = ""
        elif mark.kind == "mark":
            kept = mark.text
        elif mark.kind == "ins":
            kept = mark.text if accept else ""
        elif mark.kind == "del":
            kept = "" if accept else mark.text
        else:
            kept = new if accept else old
        if not kept and out[-1].endswith(" ") and text[at:at + 1] in (" ", ""):
            out[-1] = out[-1][:-1]        # "a {--b--} c" becomes "a c", not "a  c"
        out.append(kept)
    out.append(text[at:])
    return "".join(out), counts


def resolve_file(path: Path, accept: bool) -> tuple[dict[str, int], Path | None]:
    """Resolve every mark in the file at ``path`` in place (atomically), keeping the old text beside it;
    return the counts and the backup (nothing is written when there are no marks; Unresolvable, nothing
    written, when an opening begins none). The backup is ``<name>.bak``; a ``<name>.bak`` already there
    (an earlier accept or reject) is kept, so that it holds the text as it was before the first, and the
    text before this one goes to ``<name>.bak.2`` (``.3``, ...)."""
    raw = path.read_bytes()
    text = raw.decode("utf-8")
    new, counts = resolve(text, accept)
    if not counts:
        return counts, None
    mode = path.stat().st_mode & 0o7777
    backup = _backup(path, raw, mode)
    _replace(path, new.encode("utf-8"), mode)    # (written to a new file, then renamed over the name)
    return counts, backup


def _backup(path: Path, data: bytes, mode: int) -> Path:
    """``data`` in the first of <name>.bak, <name>.bak.2, ... that is not there. A link planted at <name>.bak
    (to ~/.bashrc, say) is replaced, never written through; a new name is made at once (O_EXCL), so that
    a file put there meanwhile is not overwritten."""
    for n in range(1, 10_000):
        backup = path.with_name(path.name + ".bak" + (f".{n}" if n > 1 else ""))
        if n == 1 and backup.is_symlink():
            _replace(backup, data, mode)
            return backup
        try:
            fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(backup, mode)
        return backup
    raise FileExistsError(f"{path.name}.bak to {path.name}.bak.9999 are all taken")


def _replace(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def describe(counts: dict[str, int]) -> str:
    if not counts:
        return "no marks"
    parts = []
    for kind in KINDS:
        n = counts.get(kind, 0)
        if n:
            parts.append(f"{n} {WORDS[kind]}{'s' * (n != 1)}")
    return ", ".join(parts)
