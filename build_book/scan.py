"""Find where labels, citations, images and links stand in an author's file.

pandoc's Markdown reader keeps no source positions, so build_book reads the
text once more, lightly, to point diagnostics at the author's own line and
column. What is cited and defined comes from pandoc's document; this module
only says where.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import NamedTuple

FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
# inline code an engine runs: knitr's '`r expr`', Quarto's '`{r} expr`' ('`{python} expr`', ...)
INLINE_EXPRESSION = re.compile(r"(?<!`)`((?:r|\{(?:r|python|julia|ojs)\}) [^`]*[^`\s])`(?!`)")
COMMENT = re.compile(r"<!--.*?-->", re.S)
LABEL = re.compile(r"\{[^{}\n]*?#([A-Za-z][\w:.\-]*)")
QUOTED = re.compile(r'"[^"\n]*"' + r"|'[^'\n]*'")
# what follows a citation's key up to the end of its citation: no letter or digit (a lone ',', an
# invisible character), so nothing a reader could use as a locator
EMPTY_SUFFIX = re.compile(r"([^\w\];@\[()]{1,20})[\];]")
SUFFIX_AT_END = re.compile(r"([^\w\];@\[()]{1,20})$")     # ... with the ']' or ';' on the next line:
CLOSES = re.compile(r"[ \t>]*[\];]")
# '[@walt1987 , 12]', '[@walt1987<U+200B>, 12]': spaces or invisible characters between a key and its comma
SPACED_LOCATOR = re.compile(r"([ \t\u00a0\u2000-\u200f\u202f\u2060\ufeff]+),")
PRE_TAG = re.compile(r"</?pre\b", re.I)
# pandoc citation keys: start with a letter, digit or _, may hold internal punctuation ('\@' is no citation, '\\@key' one).
CITE = re.compile(r"(?<![\w@])(?<!(?<!\\)\\)(?:-(?=@))?@(?:\{([^}\s]+)\}|([\w](?:[\w]|[:.#$%&\-+?<>~/](?=\w))*))")
IMAGE = re.compile(r"!\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(?:<([^>\n]+)>|([^)\s]+))")
LINK = re.compile(r"(?<!!)\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(?:<([^>\n]*)>|([^)\s]*))")
AUTOLINK = re.compile(r"<((?:https?|ftp|mailto|javascript|vbscript|data|file|smb|tel):[^>\s]+)>", re.I)
# a reference-style link's definition: '[name]: target' (not a note's '[^name]:')
LINK_DEFINITION = re.compile(r"^ {0,3}\[(?!\^)[^\]]+\]:[ \t]*<?([^\s>]+)")
RAW_HTML_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})\s*\{\s*=\s*html5?\s*\}", re.I)
HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?::[A-Za-z][A-Za-z0-9]*)?(?:\s[^<>]*)?/?>")
ATTRIBUTES = re.compile(r"\{[^{}\n]*\}")  # pandoc's {#id .class key=value}
ATTRIBUTE = re.compile(r"""(?<![\w:.-])([A-Za-z_:][\w:.\-]*)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>}]*)""")
NOTE_DEFINITION = re.compile(r"^ {0,3}\[\^([^\s\[\]]+)\]:")
NOTE_REFERENCE = re.compile(r"\[\^([^\s\[\]]+)\](?!:)")
# what nests blocks on one line: quotation marks, list markers, div fences
QUOTE_OR_LIST = re.compile(r"[ \t]*(?:>|[-*+](?=[ \t])|\d{1,9}[.)](?=[ \t]))")
BRACKETS = re.compile(r"\\.|[\[\]]")
BACKTICKS = re.compile(r"`{%d,}" % (33,))
MAX_BRACKETS = 6      # [ inside [ inside [ ...: pandoc slows sixfold with every two levels past this
MAX_BACKTICKS = 32    # one run of backticks: pandoc slows with the square of its length
MAX_DEEPER = 64       # (the depths whose first line is kept: past the loader's limit of 50)
MAX_OPEN_TAGS = 500   # '<a ' never closed by '>', in one paragraph: pandoc slows with the square of their number
TAG_EDGE = re.compile(r"<[A-Za-z/!]|>")
# raw TeX: a command ('\\newpage', not the escape '\\\\'), outside math ($...$, $$...$$, \\(...\\));
# raw blocks and spans (```{=latex}, `...`{=latex})
TEX_COMMAND = re.compile(r"(?<!\\)(?:\\\\)*\\([A-Za-z]+)")
MATH = re.compile(r"\$\$.*?\$\$|(?<![\\$])\$(?=\S)(?:[^$\\]|\\.)*?(?<=\S)\$(?!\d)|\\\(.*?\\\)|\\\[.*?\\\]")
RAW_TEX_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})\s*\{\s*=\s*(la)?tex\s*\}", re.I)
RAW_TEX_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1\{=(?:la)?tex\}", re.I)
HTML_ID = re.compile(r"""<div\s(?:[^<>]*\s)?id\s*=\s*["']?((?:fig|tbl|sec)[:-][\w:.\-]+)""", re.I)
DIV_FENCE = re.compile(r"^ {0,3}(:{3,})[ \t]*(\S*)")
# TeX math as pandoc reads it: $$...$$ (may span lines), and $...$ with no space inside either dollar
# and no digit right after the closing one
DISPLAY_MATH = re.compile(r"(?<!\\)\$\$")
INLINE_MATH = re.compile(r"(?<![\\$])\$(?![\s$])((?:[^$\\]|\\.)*?)(?<![\s\\])\$(?!\d)")
# a line that would start a list item, and lines that start a block of their own kind (not a paragraph)
# (pandoc's fancy lists too: 'a)', '(iv)', '#.', '(@)'; a capital letter and a full stop start an item
# only before two spaces: 'B. Russell' is a name)
_ROMAN = r"m{0,4}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"     # (upper(): in capitals)
_NUMERAL = rf"(?:\d{{1,9}}|#|@[\w-]*|(?=[ivxlcdm]){_ROMAN}|(?=[IVXLCDM]){_ROMAN.upper()}|[a-zA-Z])"
LIST_ITEM = re.compile(rf"^ {{0,3}}(?:[-*+][ \t]|\(?{_NUMERAL}\)[ \t]|(?![A-Z]\.){_NUMERAL}\.[ \t]|[A-Z]\.(?:\t|  ))"
                       r"[ \t]*\S")
# a wrapped line of prose that begins with a year ('... in September\n1951. Then ...'), not a list meant
# (unless the paragraph's line above ends with a colon: 'Timeline:' over '1950. Korea begins.' is a list meant)
# a list marker followed by an ideographic (full-width) space, as Japanese text is typed ('-　例えば'): pandoc
# takes a marker only before a space or a tab, so the line prints as text, its '-' or '1.' and all
WIDE_SPACE_MARKER = re.compile(r"^( {0,3})(?:[-*+]|\d{1,9}[.)])\u3000")
YEAR_START = re.compile(r" {0,3}\(?(?:1[0-9]{3}|20[0-9]{2})[.)]")
# a label in a LaTeX math environment's formula: \label{eq:x}, or bookdown's (\#eq:x) (compat.py, math.py)
TEX_LABEL = re.compile(r"\\label\{([^{}]*)\}|\(\\#([^()\s]*)\)")
# bookdown's reference (labels.BOOKDOWN_REF), or LaTeX's, which build_book reads as it (compat.TEX_REF)
BOOKDOWN_REF = re.compile(r"\\@ref\(([^()\s]+)\)|\\(?:eq|auto)?ref\{([^{}\s]+)\}")
SETEXT = re.compile(r"^ {0,3}(?:=+|-+) *$")   # a setext heading's underline
TABLE_RULE = re.compile(r"^ {0,3}-{2,}(?: +-{2,})+ *$")   # a simple table's rule: '--------  -----'
# an upper-case letter or Roman numeral and a full stop at a line's start ('A. ', 'IV. '), and what follows
CAPITAL_MARKER = re.compile(r"^ {0,3}([A-Z]|(?=[IVXLCDM])" + _ROMAN.upper() + r")\.([ \t]+)\S")
QUOTE_PREFIX = re.compile(r" {0,3}> ?")   # a block quote's line: what pandoc takes off it
# ('----' alone begins a rule, or a table without a header, that a '- item' line may follow: not a paragraph)
NOT_PARAGRAPH = re.compile(r"^ {0,3}(?:#|>|\||:{3,}|<|\[\^|Table:|: |(?:[-*_] *){3,}$)|^(?: {4}|\t)")

Position = tuple[int, int]


@dataclass
class SourceMap:
    labels: dict[str, list[Position]] = field(default_factory=dict)
    cites: dict[str, list[Position]] = field(default_factory=dict)
    images: list[tuple[str, Position]] = field(default_factory=list)
    links: list[tuple[str, Position]] = field(default_factory=list)
    html_tags: list[tuple[str, Position]] = field(default_factory=list)
    attributes: list[tuple[str, str, Position]] = field(default_factory=list)  # name, value, in {...} or <tag>
    titles: list[int] = field(default_factory=list)            # lines of level-1 headings ('# ...')
    url_cites: dict[str, Position] = field(default_factory=dict)  # '@key' right after a '/' (a web address?)
    # '[@key,]', '[@key, ]', '[@key<U+200B>]': a citation whose suffix holds no letter or digit, which
    # citeproc prints all the same ('(Walt 1987,)'); the key, what follows it, where the key is
    empty_suffixes: list[tuple[str, str, Position]] = field(default_factory=list)
    # '[@key , 12]', '[@key<U+200B>, 12]': the key, what stands before the comma, where the key is
    spaced_locators: list[tuple[str, str, Position]] = field(default_factory=list)
    note_refs: dict[str, list[Position]] = field(default_factory=dict)     # [^id] where a note is called
    note_defs: dict[str, Position] = field(default_factory=dict)           # [^id]: where a note is written
    note_again: list[tuple[str, Position]] = field(default_factory=list)   # [^id]: written again (pandoc keeps the last)
    notes_in_notes: list[tuple[str, Position]] = field(default_factory=list)   # [^id] called inside a note
    deepest: tuple[int, Position] = (0, (1, 1))   # the deepest nesting a line opens, and where
    deeper: list[Position] = field(default_factory=list)   # where nesting first reached 1, 2, ... (up to 64) deep
    # what pandoc's Markdown reader takes exponential time over: (what, limit, where)
    pathological: list[tuple[str, int, Position]] = field(default_factory=list)
    # list items written right under a paragraph's line, with no blank line: pandoc reads them as the
    # paragraph's text ('... vignettes: - Shipped with - Accessible via ...'); where the first one is
    lazy_lists: list[Position] = field(default_factory=list)
    # a single capital and a full stop before one space where a list of such markers goes on ('I. One' then
    # 'II. Two'; 'IV. Four' then 'V. Five'): pandoc takes it for a name's initial ('B. Russell'), not a list
    # marker; where, and what becomes of it: 'paragraph' (it began one: no list at all), 'joins' (the item
    # above) or 'apart' (a paragraph of its own between a loose list's items: 'IV. Four', blank, 'V. Five')
    capital_markers: list[tuple[Position, str]] = field(default_factory=list)
    # a list marker before a full-width space ('-　例えば', '1.　まず'): text to pandoc, not a list item
    wide_space_markers: list[Position] = field(default_factory=list)
    divs_unclosed: list[Position] = field(default_factory=list)   # '::: {.x}' never closed (all the rest is in it)
    divs_stray: list[Position] = field(default_factory=list)      # ':::' with no div open (printed as text)
    # raw TeX as pandoc may read it: ('\\name' or '{=latex}' for a raw block or span), outside code and math
    tex: list[tuple[str, Position]] = field(default_factory=list)
    maths: list[tuple[str, Position]] = field(default_factory=list)  # TeX of each $...$ and $$...$$, where
    # inline code Quarto or knitr runs ('`r nrow(df)`', '`{python} 1 + 1`'; in a .qmd or .Rmd file): what, where
    expressions: list[tuple[str, Position]] = field(default_factory=list)
    origins: object = None   # a quarto.LineMap when the chapter includes other files: where its lines came from

    def label_at(self, label: str) -> Position | None:
        found = self.labels.get(label)
        return found[0] if found else None

    def cite_at(self, key: str) -> list[Position]:
        return self.cites.get(key, [])


def to_json(found: SourceMap) -> dict:
    """A source map (its ``origins`` aside) as JSON data, for the loader's cache: every field, its tuples
    and dictionaries tagged so that :func:`from_json` gives back exactly what :func:`scan` made."""
    def encode(value):
        if isinstance(value, bool) or value is None or isinstance(value, (int, float, str)):
            return value
        if isinstance(value, tuple):
            return {"t": [encode(v) for v in value]}
        if isinstance(value, list):
            return [encode(v) for v in value]
        if isinstance(value, dict):
            return {"d": [[encode(k), encode(v)] for k, v in value.items()]}
        raise TypeError(f"cannot cache a {type(value).__name__}")

    return {f.name: encode(getattr(found, f.name)) for f in fields(SourceMap) if f.name != "origins"}


def from_json(data: dict) -> SourceMap:
    """The source map :func:`to_json` wrote; raises on anything else (then the text is scanned again)."""
    def decode(value):
        if isinstance(value, list):
            return [decode(v) for v in value]
        if isinstance(value, dict):
            if set(value) == {"t"}:
                return tuple(decode(v) for v in value["t"])
            if set(value) == {"d"}:
                return {decode(k): decode(v) for k, v in value["d"]}
            raise ValueError("not a source map")
        return value

    names = {f.name for f in fields(SourceMap)} - {"origins"}
    if set(data) != names:
        raise ValueError("not a source map of this version")
    return SourceMap(**{name: _DECODE.get(name, decode)(value) for name, value in data.items()})


# the fields' own decoders (as decode above would read them, only faster): every chapter's map is read
# on every check
def _position(value) -> Position:
    line, column = value["t"]
    return (line, column)


def _places(value) -> dict:
    return {key: [_position(p) for p in places] for key, places in value["d"]}


def _positions(value) -> list[Position]:
    return [_position(p) for p in value]


def _named(value) -> list:
    return [(item["t"][0], _position(item["t"][1])) for item in value]


_DECODE = {
    "labels": _places, "cites": _places, "note_refs": _places,
    "images": _named, "links": _named, "html_tags": _named, "tex": _named, "maths": _named, "note_again": _named,
    "notes_in_notes": _named,
    "url_cites": lambda value: {key: _position(p) for key, p in value["d"]},
    "note_defs": lambda value: {key: _position(p) for key, p in value["d"]},
    "titles": lambda value: [int(line) for line in value],
    "lazy_lists": _positions, "wide_space_markers": _positions, "deeper": _positions, "divs_unclosed": _positions,
    "divs_stray": _positions,
}


class _Marker(NamedTuple):
    """A line's capital marker ('IV', 'B'), as :func:`scan` keeps it for ``capital_markers``."""
    text: str
    at: Position
    initial: bool     # one capital and one space: pandoc reads an initial ('B. Russell'), not a list marker
    began: bool       # it began its paragraph, at the line's start


def _capital_marker(line: str, lineno: int, before: _Marker | None, block: str, found: list) -> _Marker | None:
    """The capital marker of a line of a paragraph or list (``before``: the marker the block had last), or
    None; what it shows goes to ``found`` (``capital_markers``)."""
    m = CAPITAL_MARKER.match(line)
    if m is None:
        return None
    here = _Marker(m.group(1), (lineno, m.start(1) + 1), len(m.group(1)) == 1 and m.group(2) == " ",
                   before is None and block == "para" and m.start(1) == 0)
    if before is not None and _follows(before.text, here.text) and not (found and found[-1][0][0] >= before.at[0]):
        if before.initial and before.began and len(here.text) > 1:   # 'I. One' began the paragraph, 'II. Two'
            found.append((before.at, "paragraph"))    # under it: no list at all ('A. Smith', 'B. Jones': names)
        elif here.initial and block == "list" and not before.initial and before.at[1] == here.at[1]:
            found.append((here.at, "joins"))   # 'V. Five' under the item 'IV. Four': part of it (not 'B. Russell'
    return here                              # under 'A.  An item citing', nor initials under initials)


def _apart(line: str, lineno: int, previous, found: list):
    """A loose list's item that pandoc reads as a paragraph of its own (``found``): 'I. One' when the next
    block begins 'II. Two', or 'V. Five' when the one before began 'IV. Four' (``previous``: that block's
    first line's capital marker, as :func:`_capital_marker` keeps it, and its number of lines). Returns
    what _capital_marker keeps of ``line``."""
    here = _capital_marker(line, lineno, None, "para", [])
    if here is None or previous is None or previous[0] is None or not _follows(previous[0].text, here.text):
        return here
    before, lines = previous
    if before.initial and before.began and lines == 1 and len(here.text) > 1:    # 'I. One', blank, 'II. Two'
        found.append((before.at, "apart"))
    elif here.initial and here.began and not before.initial and before.at[1] == here.at[1]:   # 'IV.', blank, 'V.'
        found.append((here.at, "apart"))
    return here


def _follows(one: str, two: str) -> bool:
    """Whether marker ``two`` comes after ``one`` in a list of letters or of Roman numerals."""
    if len(one) == len(two) == 1 and ord(two) == ord(one) + 1:
        return True
    values = [_roman(x) for x in (one, two)]
    return None not in values and values[1] == values[0] + 1


def _roman(text: str) -> int | None:
    """The value of an upper-case Roman numeral, or None."""
    if not re.fullmatch(_ROMAN.upper(), text) or not text:
        return None
    worth = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
    total = 0
    for i, ch in enumerate(text):
        value = worth[ch]
        total += -value if i + 1 < len(text) and worth[text[i + 1]] > value else value
    return total


def _open_brackets(line: str, at: int) -> bool:
    """Whether a '[' before ``at`` in ``line`` is still open there (the citation at ``at`` is in brackets)."""
    before = ESCAPED.sub("", line[:at])
    return before.count("[") > before.count("]")


def _span_or_link(line: str, at: int) -> bool:
    """Whether the bracket open at ``at`` closes as a span's or a link's ('[@key , 12]{.smallcaps}')."""
    close = line.find("]", at)
    return close >= 0 and line[close + 1:close + 2] in ("{", "(", "[")


def _inline_notes(line: str) -> list[tuple[int, int]]:
    """The spans of the inline notes (^[...]) of a line."""
    spans, at = [], line.find("^[")
    while at >= 0:
        depth, end = 0, None
        for i in range(at + 1, len(line)):
            if line[i] == "[" and line[i - 1] != "\\":
                depth += 1
            elif line[i] == "]" and line[i - 1] != "\\":
                depth -= 1
                if depth == 0:
                    end = i
                    break
        spans.append((at, end if end is not None else len(line)))
        at = line.find("^[", (end or len(line)) + 1)
    return spans


def _filled(match: re.Match) -> str:
    """Inline code as letters, its columns kept: where it stands in a formula (see :func:`_maths`)."""
    return "x" * len(match.group(0))


def _blank(match: re.Match) -> str:
    # keep line breaks and columns, drop the content
    return "".join("\n" if ch == "\n" else " " for ch in match.group(0))


ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def _as_pandoc_url(target: str) -> str:
    """A link or image target as pandoc reads it: a backslash escapes punctuation ('\\\\server' is
    '\\server'), and a space is written %20; so does the source map."""
    if "\\" in target:
        target = ESCAPED.sub(r"\1", target)
    return target.replace(" ", "%20")


def scan(text: str, first_line: int = 1, quotes: int = 0) -> SourceMap:
    """Scan Markdown ``text`` whose first line is line ``first_line`` of the file (``quotes``: the block quotes
    it stands in, when it is one's text: see _quoted_markers)."""
    text = COMMENT.sub(_blank, text)
    found = SourceMap()
    fence: str | None = None
    raw_html = False     # the open fence is a {=html} block
    divs = 0
    open_divs: list[Position] = []
    brackets = 0      # '[' open in the current paragraph
    open_tags = 0     # '<a' and the like not closed by '>' in the current paragraph
    # a $$ display formula open over several lines: its text so far, where it opens, its lines as read
    display: tuple[list[str], Position, list[tuple[str, int]]] | None = None
    block = None      # what the current block began as: 'para', 'list' or 'other' (None between blocks)
    items: list[Position] = []   # list items met one after another in a paragraph
    capital = None    # the block's line before: its capital marker ('IV', 'B'), with where and how it was written
    first = None      # the block's first line's capital marker, and how many lines the block has
    previous = None   # the same of the block before the blank line above
    note_open, blank_before = False, False     # in a note's definition ([^a]: and its indented paragraphs)
    in_pre = False    # inside <pre> ... </pre>
    quoted: list[tuple[int, int]] = []   # each line of a block quote: its offset, and the length of its '> '
    lines = text.split("\n")
    for offset, line in enumerate(lines):
        lineno = first_line + offset
        if not line.strip():
            blank_before = True
            if display is not None:   # the paragraph ends: a $$ still open was never a formula
                _unclosed(display, found.maths)
                display = None
        else:
            if note_open and blank_before and not line.startswith(("    ", "\t")):
                note_open = False
            blank_before = False
        opener = FENCE.match(line)
        if "pre" in line:
            tags = PRE_TAG.findall(line)
            in_pre = tags[-1] == "<pre" if tags else in_pre
        if ">" in line and not fence and not opener and not in_pre and (quote := QUOTE_PREFIX.match(line)) and (
                block is None or quoted and quoted[-1][0] == offset - 1):   # (not under a paragraph's line: its text)
            quoted.append((offset, quote.end()))
        if not line.strip():
            brackets = open_tags = 0
        began = block is None     # (this line begins a block, if it is one's)
        if fence or opener or not line.strip():
            if fence or opener:
                previous = None
            elif block is not None:     # a block ends: the next may go on with its list
                previous = first
            block, items, capital, first = None, [], None, None
        elif block is None:
            block = "list" if LIST_ITEM.match(line) else "other" if NOT_PARAGRAPH.match(line) else "para"
            block = None if line.lstrip().startswith(("#", ":::")) else block   # one-line blocks
            if block in ("para", "list") and not in_pre:
                first = [_apart(line, lineno, previous, found.capital_markers), 0]
            previous = None
        elif block == "para" and TABLE_RULE.match(line):    # a simple table's rule: a table, not a paragraph
            block = "other"
        elif block == "para" and SETEXT.match(line):   # the paragraph's line was a heading: a list may follow it
            block, items, first = None, [], None
        elif block == "para" and display is None:   # (not inside a $$ formula over several lines)
            items = items + [(lineno, len(line) - len(line.lstrip()) + 1)] if LIST_ITEM.match(line) and (
                items or not YEAR_START.match(line) or lines[offset - 1].rstrip().endswith(":")) else []
            if len(items) == 2:   # two in a row: a list meant, not a dash that wrapped to the line's start
                found.lazy_lists.append(items[0])
                block = "other"
        # (not a paragraph of that one line alone: it prints as typed, '1.　はじめに', which may be what is meant)
        if block in ("para", "list") and not fence and not opener and not in_pre and "\u3000" in line \
                and WIDE_SPACE_MARKER.match(line.lstrip(" ") if block == "list" else line) \
                and not (began and block == "para" and not (offset + 1 < len(lines) and lines[offset + 1].strip())):
            found.wide_space_markers.append((lineno, len(line) - len(line.lstrip(" ")) + 1))
        if block in ("para", "list") and not fence and not opener and not in_pre:
            told = len(found.capital_markers)
            capital = _capital_marker(line, lineno, capital, block, found.capital_markers) or capital
            if first is not None:
                first[1] += 1
            if len(found.capital_markers) > told and found.capital_markers[-1][1] == "paragraph":
                block = "other"     # (one warning for the paragraph: not list-needs-blank-line too)
        ticks = None if fence or "`" not in line else BACKTICKS.search(line)
        if ticks:
            found.pathological.append((f"a run of {len(ticks.group())} backticks", MAX_BACKTICKS,
                                       (lineno, ticks.start() + 1)))
            continue
        if not fence and line.strip():   # a blank line (or a comment blanked out) opens nothing
            div = DIV_FENCE.match(line)
            if div:
                divs = divs + 1 if div.group(2) else max(0, divs - 1)
                if div.group(2):
                    open_divs.append((lineno, div.start(1) + 1))
                elif open_divs:
                    open_divs.pop()
                else:
                    found.divs_stray.append((lineno, div.start(1) + 1))
            markers, end = 0, 0     # the '>' and list markers the line begins with, one after another
            marker = QUOTE_OR_LIST.match(line)     # (match, not finditer: that would search the whole line)
            while marker:
                markers, end = markers + 1, marker.end()
                marker = QUOTE_OR_LIST.match(line, end)
            indent = len(line) - len(line.lstrip(" \t"))
            nesting = divs + markers + indent // 4
            if nesting > found.deepest[0]:
                found.deepest = (nesting, (lineno, 1))
                while len(found.deeper) < min(nesting, MAX_DEEPER):
                    found.deeper.append((lineno, 1))
        if fence:
            if opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence):
                fence, raw_html = None, False
            elif raw_html:    # a {=html} block's tags, where the sanitizer's findings about them are placed
                found.html_tags.extend((m.group(0), (lineno, m.start() + 1)) for m in HTML_TAG.finditer(line))
            continue
        if opener:
            # a code block's {#lst-x .python}, not a '#' in an attribute's value (code-summary="see #x")
            for m in LABEL.finditer(QUOTED.sub(_blank, line)) if "{" in line else ():
                found.labels.setdefault(m.group(1), []).append((lineno, m.start(1)))
            fence = opener.group(1)
            raw_html = bool(RAW_HTML_FENCE.match(line))
            if RAW_TEX_FENCE.match(line):
                found.tex.append(("{=latex}", (lineno, opener.start(1) + 1)))
            continue
        # (each pattern below is looked for only in a line holding the characters it needs)
        for m in BRACKETS.finditer(line) if ("[" in line or "]" in line or "\\" in line) else ():
            if m.group() == "[":
                brackets += 1
                if brackets > MAX_BRACKETS:
                    found.pathological.append((f"brackets nested more than {MAX_BRACKETS} deep", MAX_BRACKETS,
                                               (lineno, m.start() + 1)))
                    break
            elif m.group() == "]":
                brackets = max(0, brackets - 1)
        if brackets > MAX_BRACKETS:
            continue
        for m in TAG_EDGE.finditer(line) if "<" in line else ():
            if m.group() != ">":
                open_tags += 1
                if open_tags > MAX_OPEN_TAGS:
                    found.pathological.append((f"more than {MAX_OPEN_TAGS} HTML tags opened ('<') and never closed "
                                               "('>') in one paragraph", MAX_OPEN_TAGS, (lineno, m.start() + 1)))
                    break
            else:
                open_tags = max(0, open_tags - 1)
        if open_tags > MAX_OPEN_TAGS:
            continue
        if "`" in line:
            for m in RAW_TEX_SPAN.finditer(line):
                found.tex.append(("{=latex}", (lineno, m.start() + 1)))
            for m in INLINE_EXPRESSION.finditer(line) if not in_pre else ():
                found.expressions.append((m.group(1), (lineno, m.start() + 1)))
            filled = INLINE_CODE.sub(_filled, line)
            line = INLINE_CODE.sub(_blank, line)
        else:
            filled = line
        in_display = display is not None   # inside a $$ display formula begun on an earlier line
        # (inline code inside a formula, '$x = `r x`$', stands in it as letters: as spaces, it would end the
        # formula on a space, where no formula ends)
        display = _maths(filled, lineno, display, found.maths)
        if "\\" in line:
            for m in TEX_COMMAND.finditer(_outside_math(line, in_display)):
                found.tex.append(("\\" + m.group(1), (lineno, m.start(1))))
        if re.match(r"#(\s|$)", line):
            found.titles.append(lineno)
        for m in LABEL.finditer(line) if "{" in line else ():
            found.labels.setdefault(m.group(1), []).append((lineno, m.start(1)))  # column of '#'
        for m in TEX_LABEL.finditer(line) if "\\" in line else ():   # (an equation's, in a LaTeX math environment)
            if re.match(r"eq[:-]\S", label := m.group(1) or m.group(2)):
                found.labels.setdefault(label, []).append((lineno, m.start() + 1))
            elif m.group(2) and re.match(r"(fig|tab):\S", label):    # bookdown's, in a caption: '(\#tab:x)'
                found.labels.setdefault(("tbl" if label[0] == "t" else "fig") + "-" + label[4:], []).append(
                    (lineno, m.start() + 1))
        for m in BOOKDOWN_REF.finditer(line) if "ref" in line and "\\" in line else ():   # '\@ref(x)', '\ref{x}'
            key = f"@ref({m.group(1)})" if m.group(1) else f"@ref{{{m.group(2)}}}"
            found.cites.setdefault(key, []).append((lineno, m.start() + 1))
        as_code = in_pre or (not note_open and line.startswith(("    ", "\t")))   # (indented, or in <pre>)
        for m in CITE.finditer(line) if "@" in line else ():
            key = m.group(1) or m.group(2)
            found.cites.setdefault(key, []).append((lineno, m.start() + 1 + (line[m.start()] == "-")))
            if m.start() and line[m.start() - 1] == "/":
                found.url_cites.setdefault(key, (lineno, m.start() + 1))
            bare = EMPTY_SUFFIX.match(line, m.end()) or (
                offset + 1 < len(lines) and CLOSES.match(lines[offset + 1]) and SUFFIX_AT_END.match(line, m.end()))
            if bare and bare.group(1).strip(" \t") and "[" in line[:m.start()] and not as_code:
                found.empty_suffixes.append((key, bare.group(1), (lineno, m.start() + 1)))
            spaced = SPACED_LOCATOR.match(line, m.end()) if not bare else None
            if spaced and _open_brackets(line, m.start()) and not _span_or_link(line, m.end()) and not as_code:
                found.spaced_locators.append((key, spaced.group(1), (lineno, m.start() + 1)))
        for m in IMAGE.finditer(line) if "![" in line else ():
            group = 1 if m.group(1) is not None else 2
            found.images.append((_as_pandoc_url(m.group(group)), (lineno, m.start(group) + 1)))
        for m in LINK.finditer(line) if "](" in line else ():
            group = 1 if m.group(1) is not None else 2
            found.links.append((_as_pandoc_url(m.group(group)), (lineno, m.start(group) + 1)))
        for m in AUTOLINK.finditer(line) if "<" in line else ():
            found.links.append((m.group(1), (lineno, m.start(1) + 1)))
        defined = LINK_DEFINITION.match(line) if "]:" in line else None
        if defined:
            found.links.append((_as_pandoc_url(defined.group(1)), (lineno, defined.start(1) + 1)))
        definition = NOTE_DEFINITION.match(line) if "[^" in line else None
        if definition:
            if definition.group(1) in found.note_defs:
                found.note_again.append((definition.group(1), (lineno, definition.start(1) - 1)))
            found.note_defs.setdefault(definition.group(1), (lineno, definition.start(1) - 1))
            note_open = True
        inline = _inline_notes(line) if "^[" in line else []
        for m in NOTE_REFERENCE.finditer(line, definition.end() if definition else 0) if "[^" in line else ():
            found.note_refs.setdefault(m.group(1), []).append((lineno, m.start() + 1))
            if note_open or any(a < m.start() < b for a, b in inline):
                found.notes_in_notes.append((m.group(1), (lineno, m.start() + 1)))
        for m in HTML_TAG.finditer(line) if "<" in line else ():
            if not AUTOLINK.match(line, m.start()):
                found.html_tags.append((m.group(0), (lineno, m.start() + 1)))
                ident = HTML_ID.match(m.group(0))   # pandoc-crossref's <div id="fig:x">
                if ident:
                    found.labels.setdefault(ident.group(1), []).append((lineno, m.start() + ident.start(1)))
        if "{" not in line and "<" not in line:
            continue
        written = list(ATTRIBUTES.finditer(line)) + [t for t in HTML_TAG.finditer(line)
                                                     if not AUTOLINK.match(line, t.start())]
        for braces in sorted(written, key=lambda b: b.start()):    # (not 'block': the paragraph's kind, above)
            for a in ATTRIBUTE.finditer(braces.group(0)):
                value = a.group(2)[1:-1] if a.group(2)[:1] in "\"'" and len(a.group(2)) > 1 else a.group(2)
                found.attributes.append((a.group(1), value, (lineno, braces.start() + a.start() + 1)))
    if display is not None:
        _unclosed(display, found.maths)
    found.divs_unclosed = open_divs
    if quoted and quotes < MAX_QUOTES:
        _quoted_markers(lines, quoted, first_line, quotes + 1, found.capital_markers)
    return found


MAX_QUOTES = 3   # block quotes in block quotes whose capital markers are looked for (each is scanned again)


def _quoted_markers(lines: list[str], quoted: list[tuple[int, int]], first_line: int, quotes: int,
                    found: list) -> None:
    """``capital_markers`` in block quotes ('> I. The Parties ...', as a treaty is quoted): each run of quoted
    lines scanned as a text of its own, its '>' taken off (a quote in a quote in its turn, to MAX_QUOTES deep),
    each place found put back at the column where it was written."""
    runs: list[list[tuple[int, int]]] = []
    for offset, taken in quoted:
        if runs and runs[-1][-1][0] == offset - 1:
            runs[-1].append((offset, taken))
        else:
            runs.append([(offset, taken)])
    for run in runs:
        inner = scan("\n".join(lines[offset][taken:] for offset, taken in run), first_line + run[0][0], quotes)
        taken_off = {first_line + offset: taken for offset, taken in run}
        found.extend(((line, column + taken_off[line]), becomes) for (line, column), becomes in inner.capital_markers)


def _maths(line: str, lineno: int, display, found: list) -> tuple | None:
    """Record the formulas of one line in ``found``; return the display formula still open at its end."""
    if display is None and "$" not in line:
        return None       # the quick answer for most lines: every formula is between dollars
    position = 0
    if display is not None:
        end = DISPLAY_MATH.search(line)
        if end is None:
            display[0].append(line)
            display[2].append((line, lineno))
            return display
        display[0].append(line[:end.start()])
        found.append(("\n".join(display[0]), display[1]))
        position = end.end()
    while True:
        start = DISPLAY_MATH.search(line, position)
        inline = INLINE_MATH.search(line, position, start.start() if start else len(line))
        if inline is not None:
            found.append((inline.group(1), (lineno, inline.start() + 1)))
            position = inline.end()
            continue
        if start is None:
            return None
        end = DISPLAY_MATH.search(line, start.end())
        if end is None:
            return [line[start.end():]], (lineno, start.start() + 1), [(" " * start.end() + line[start.end():], lineno)]
        found.append((line[start.end():end.start()], (lineno, start.start() + 1)))
        position = end.end()


def _unclosed(display, found: list) -> None:
    """A $$ never closed in its paragraph is no formula (pandoc prints the dollars): the formulas between
    single dollars after it, on the lines ``display`` kept, are found as on any line."""
    again = None
    for line, lineno in display[2]:
        again = _maths(line, lineno, again, found)
    if again is not None:
        _unclosed(again, found)


def _outside_math(line: str, in_display: bool) -> str:
    """``line`` with its formulas blanked (columns kept): those on the line, the rest of a display formula
    begun on an earlier line (``in_display``), and the start of one that goes on to the next."""
    if in_display:
        end = DISPLAY_MATH.search(line)
        cut = end.end() if end else len(line)
        line = " " * cut + line[cut:]
    line = re.sub(r"(?<!\\)\$\$.*?(?<!\\)\$\$", _blank, line)
    opened = DISPLAY_MATH.search(line)
    if opened is not None:
        line = line[:opened.start()] + " " * (len(line) - opened.start())
    return MATH.sub(_blank, line)
