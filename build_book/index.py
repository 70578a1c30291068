r"""The back-of-book index: terms marked in the chapters, sorted, for all three editions.

Authors mark a term where the text discusses it (README, "Index")::

    [alliance asymmetry]{.index}                     the span's text is the term
    [Yoshida]{index="Yoshida Shigeru"}               the term is given
    [asymmetry]{index="Alliances!asymmetry"}         a sub-entry: '!' separates levels, as in makeindex
    []{index="Hub and spokes|see San Francisco system"}          a cross-reference (also |see{...})
    [spokes]{index="Hub and spokes|seealso Alliances"}           (also |seealso{...}, index-see=, index-seealso=)
    ::: {index="Suez crisis"} ... :::                a range: the div's first to its last page
    Yoshida\index{Yoshida Shigeru}                   LaTeX's \index{...}, as Quarto and bookdown books write it

:func:`marks` finds them with one walk over each chapter (walk.py), in reading order; the transform
gives each occurrence an anchor (:func:`anchor`), at the span, or at a div's start and end. :func:`build`
sorts them into entries: case-insensitively, letters with macrons and other diacritics with their
base letters (Ohira, then Ōhira), word by word, under letter headings. The print edition prints page
numbers (``target-counter()``, then the numbers themselves once the pages are known:
:func:`fill_locators`, so that a term marked twice on a page shows the page once and a range that
ends on the page where it began shows one number); the HTML and EPUB editions link to every
occurrence, labelled by its section ("3.2"). :func:`check` reports terms written two ways.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from .diagnostics import Diagnostic, Location, line_column, warning
from .model import FRONT, Book, Chapter, facts_of
from .walk import Span, elements, inline_text

CLASS = "index"                    # [term]{.index}
ATTRIBUTE = "index"                # [text]{index="term"}, ::: {index="term"}
SEE, SEE_ALSO = "index-see", "index-seealso"
LEVELS = "!"                       # makeindex's level separator
SORT_AS = "@"                      # makeindex's sort key: index="Gaulle, Charles de@de Gaulle, Charles"
ANCHOR_PREFIX = "ix-"
ENTRY_PREFIX = "term-"
SEE_WORDS = re.compile(r"^\s*(see\s*also|seealso|see)\s*(?:\{(.*)\}|(.*))$", re.I | re.S)


@dataclass(frozen=True)
class Mark:
    """One place a term is marked."""

    chapter: int                   # index of the chapter
    number: int                    # its position among the chapter's marks (reading order), from 1
    path: tuple[str, ...]          # the term's levels, as written ("Alliances", "asymmetry")
    see: tuple[str, ...] = ()      # cross-references, each a term written as index= writes it
    see_also: tuple[str, ...] = ()
    where: str = ""                # the section it stands in, as the web editions label it ("3.2")
    front: bool = False            # in the front matter (roman page numbers)
    span: bool = False             # a div: a range of pages
    written: str = ""              # the term as the author wrote it (for the checks)
    empty: bool = False            # a span with no text ([]{index="X|see Y"}): it marks no place
    location: Location = Location("")

    @property
    def id(self) -> str:
        return f"{ANCHOR_PREFIX}{self.chapter + 1}-{self.number}"

    @property
    def end_id(self) -> str:
        return self.id + "-end"


TEX_INDEX = re.compile(r"\\index\{((?:[^{}]|\{[^{}]*\})*)\}")   # LaTeX's \index{term}, as Quarto books write it


def tex_term(node: dict) -> str | None:
    """The term of a LaTeX ``\\index{...}`` (pandoc reads it as raw TeX), else None."""
    if node["t"] != "RawInline" or node["c"][0].lower() not in ("tex", "latex"):
        return None
    m = TEX_INDEX.fullmatch(node["c"][1].strip())
    return m.group(1) if m else None


def _is_mark(node: dict) -> bool:
    if node["t"] == "RawInline":
        return tex_term(node) is not None
    if node["t"] not in ("Span", "Div"):
        return False
    _, classes, attrs = node["c"][0]
    return CLASS in classes or any(k in (ATTRIBUTE, SEE, SEE_ALSO) for k, _ in attrs)


def has_marks(facts) -> bool:
    """Does a chapter (its facts.Facts) mark any term (a mark naming none, which the checks report, does
    not count)?"""
    return any(event[0] == "m" and all(parse(event[3])[0]) for event in facts.marks)


def _written(node: dict) -> str:
    """The term of a mark as written: index="...", the span's text, or \\index{...}'s argument."""
    if node["t"] == "RawInline":
        return tex_term(node) or ""
    value = dict(node["c"][0][2]).get(ATTRIBUTE)
    if value is None:
        return inline_text(node["c"][1]) if node["t"] == "Span" else ""
    return value


def _clean(text: str) -> str:
    return " ".join(text.split())


def parse(value: str) -> tuple[tuple[str, ...], list[str], list[str]]:
    """'Alliances!asymmetry|see Hub and spokes' -> (('Alliances', 'asymmetry'), ['Hub and spokes'], [])."""
    term, bar, rest = value.partition("|")
    see: list[str] = []
    also: list[str] = []
    if bar:
        m = SEE_WORDS.match(rest)
        if m:
            target = _clean(m.group(2) if m.group(2) is not None else m.group(3))
            if target:
                (also if "also" in m.group(1).lower() else see).append(target)
    path = tuple(_clean(level) for level in term.split(LEVELS))
    return path, see, also


def marks(book: Book, index=None) -> list[Mark]:
    """Every mark of the book, in reading order (``index``, the LabelIndex, names the sections)."""
    found: list[Mark] = []
    for chapter in book.chapters:
        found += chapter_marks(chapter, index, book.config.root)
    return found


def chapter_marks(chapter: Chapter, index=None, root=None) -> list[Mark]:
    out: list[Mark] = []
    events = facts_of(chapter).marks
    if not events:
        return out
    places = _source_places(chapter, root)
    chapter_number = index.chapter_numbers.get(chapter.index) if index is not None else None
    where = chapter_number or chapter.title
    for event in events:     # its headings and marks, in reading order (facts.py)
        if event[0] == "h":
            _, level, ident = event
            label = index.get(ident) if index is not None else None
            if level == 1:
                where = chapter_number or chapter.title
            elif label is not None and label.number:
                where = label.number
            continue
        _, kind, attrs, written, empty = event
        values = dict(attrs)
        path, see, also = parse(written)
        see += [_clean(values[SEE])] if values.get(SEE, "").strip() else []
        also += [_clean(values[SEE_ALSO])] if values.get(SEE_ALSO, "").strip() else []
        out.append(Mark(chapter.index, len(out) + 1, path, tuple(see), tuple(also), where, chapter.matter == FRONT,
                        kind == "Div", written, empty, _place(places, written, chapter)))
    return out


# --- where a mark stands in the author's file ------------------------------------------------------

SPAN_TEXT = re.compile(r"\[((?:[^\[\]]|\[[^\]]*\])*)\]\{[^{}\n]*?(?<![\w-])\.index(?![\w-])")


def _source_places(chapter: Chapter, root) -> dict[str, list[tuple[int, int]]]:
    """Term as written -> where it is marked, in the file's order (for the diagnostics)."""
    places: dict[str, list[tuple[int, int]]] = {}
    for name, value, position in chapter.sources.attributes:
        if name == ATTRIBUTE:
            places.setdefault(_clean(value), []).append(position)
    try:
        text = (root / chapter.path).read_text(encoding="utf-8", errors="replace") if root is not None else ""
    except OSError:
        text = ""
    for m in TEX_INDEX.finditer(text) if "\\index{" in text else ():
        places.setdefault(_clean(m.group(1)), []).append(line_column(text, m.start()))
    if ".index" in text:
        for m in SPAN_TEXT.finditer(text):
            plain = re.sub(r"[*_`]|\{[^}]*\}|\[|\]", "", m.group(1))
            places.setdefault(_clean(plain), []).append(line_column(text, m.start()))
    for value in places.values():
        value.sort()
    return places


def _place(places: dict, written: str, chapter: Chapter) -> Location:
    """The next place ``written`` is marked at (the last one stays for any further marks)."""
    found = places.get(_clean(written))
    if found:
        line, column = found.pop(0) if len(found) > 1 else found[0]
        return Location(chapter.path, line, column)
    return chapter.location


# --- sorting ---------------------------------------------------------------------------------------

def fold(text: str) -> str:
    """A term as compared: without diacritics (ō -> o), case or punctuation; words kept apart."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    plain = plain.replace("ß", "ss").replace("æ", "ae").replace("ø", "o").replace("ł", "l").casefold()
    return " ".join(re.sub(r"[^\w]+|_", " ", plain).split())


def sort_key(text: str) -> tuple:
    """Word by word, letters with their base letters, case and accents breaking ties (plain first)."""
    shown = text.split(SORT_AS, 1)[0] if SORT_AS in text else text
    accents = unicodedata.normalize("NFKD", shown) != shown
    return (fold(shown), accents, shown.casefold(), shown)


def display(level: str) -> str:
    return level.split(SORT_AS, 1)[1] if SORT_AS in level else level


def letter(text: str) -> str:
    """The heading an entry is listed under: its first letter (A-Z), '0–9', or its first character."""
    first = (fold(text.split(SORT_AS, 1)[0] if SORT_AS in text else text) or "?")[0]
    if "a" <= first <= "z":
        return first.upper()
    if first.isdigit():
        return "0–9"
    return first.upper()


# --- the index -------------------------------------------------------------------------------------

@dataclass
class Locator:
    mark: Mark
    label: str                   # what the web editions print: "3.2", "3.2 (2)"

    @property
    def id(self) -> str:
        return self.mark.id

    @property
    def end_id(self) -> str | None:
        return self.mark.end_id if self.mark.span else None

    @property
    def chapter(self) -> int:
        return self.mark.chapter

    @property
    def front(self) -> bool:
        return self.mark.front


@dataclass
class CrossRef:
    text: str                    # as printed: "Alliances: asymmetry"
    id: str | None               # the entry it names, None if no term is so written


@dataclass
class Entry:
    path: tuple[str, ...]
    id: str = ""
    locators: list[Locator] = field(default_factory=list)
    see: list[CrossRef] = field(default_factory=list)
    see_also: list[CrossRef] = field(default_factory=list)
    children: list["Entry"] = field(default_factory=list)

    @property
    def term(self) -> str:
        return display(self.path[-1])

    @property
    def level(self) -> int:
        return len(self.path)


@dataclass
class Group:
    letter: str
    entries: list[Entry]


@dataclass
class BookIndex:
    groups: list[Group]
    marks: list[Mark]

    def __bool__(self) -> bool:
        return bool(self.groups)

    def entries(self) -> list[Entry]:
        out: list[Entry] = []
        stack = [e for g in reversed(self.groups) for e in reversed(g.entries)]
        while stack:
            entry = stack.pop()
            out.append(entry)
            stack.extend(reversed(entry.children))
        return out


def build(book: Book, index=None) -> BookIndex:
    """The book's index: groups of entries (sub-entries nested), each with its locators in reading order."""
    found = [m for m in marks(book, index) if m.path and all(m.path)]
    entries: dict[tuple[str, ...], Entry] = {}

    def entry(path: tuple[str, ...]) -> Entry:
        if path not in entries:
            if len(path) > 1:
                entry(path[:-1])
            entries[path] = Entry(path)
        return entries[path]

    seen_in: Counter = Counter()
    for mark in found:
        e = entry(mark.path)
        if mark.see or mark.see_also:
            for target in mark.see:
                if target not in [x.text for x in e.see]:
                    e.see.append(CrossRef(target, None))
            for target in mark.see_also:
                if target not in [x.text for x in e.see_also]:
                    e.see_also.append(CrossRef(target, None))
        if mark.see or mark.empty:
            continue   # as in makeindex, 'see' takes the place of the page number
        seen_in[(mark.path, mark.where)] += 1
        n = seen_in[(mark.path, mark.where)]
        e.locators.append(Locator(mark, mark.where if n == 1 else f"{mark.where} ({n})"))
    used: set[str] = set()
    for path, e in entries.items():
        base = ENTRY_PREFIX + (re.sub(r"[^a-z0-9]+", "-", fold(" ".join(path)).replace(" ", "-")).strip("-")
                               or "term")
        ident, n = base, 1
        while ident in used:
            n += 1
            ident = f"{base}-{n}"
        used.add(ident)
        e.id = ident
    for e in entries.values():
        for ref in e.see + e.see_also:
            target = entries.get(tuple(_clean(x) for x in ref.text.split(LEVELS)))
            ref.id = target.id if target else None
            ref.text = ": ".join(display(_clean(x)) for x in ref.text.split(LEVELS))
    top: list[Entry] = []
    for path, e in entries.items():
        (entries[path[:-1]].children if len(path) > 1 else top).append(e)
    for e in entries.values():
        e.children.sort(key=lambda c: sort_key(c.path[-1]))
    top.sort(key=lambda e: sort_key(e.path[0]))
    groups: list[Group] = []
    for e in top:
        heading = letter(e.path[0])
        if not groups or groups[-1].letter != heading:
            groups.append(Group(heading, []))
        groups[-1].entries.append(e)
    return BookIndex(groups, found)


# --- anchors in the chapters -----------------------------------------------------------------------

def anchor(blocks: list, chapter: Chapter) -> list:
    """Give every mark of ``blocks`` (a chapter's, in place) its anchor: the span's or div's id, and for a
    div a second, empty anchor at its end; the marking attributes are dropped (they are not content)."""
    number = 0
    for node in list(elements(blocks)):
        if not _is_mark(node):
            continue
        number += 1
        ident = f"{ANCHOR_PREFIX}{chapter.index + 1}-{number}"
        if node["t"] == "RawInline":    # \index{...}: an empty span marks its place
            node["t"], node["c"] = "Span", [[ident, ["index-term"], []], []]
            continue
        attr = node["c"][0]
        classes = [c for c in attr[1] if c != CLASS] + ["index-term"]
        node["c"][0] = [ident, classes, [[k, v] for k, v in attr[2] if k not in (ATTRIBUTE, SEE, SEE_ALSO)]]
        if node["t"] == "Div":
            content = node["c"][1]
            end = Span(["index-end"], [], ident=ident + "-end")
            if content and content[-1]["t"] in ("Para", "Plain"):
                content[-1]["c"].append(end)
            else:
                content.append({"t": "Plain", "c": [end]})
    return blocks


# --- print: page numbers ---------------------------------------------------------------------------

LOCATORS = re.compile(r'<span class="index-locators">(.*?)</span><!--/locators-->', re.S)
LOCATOR = re.compile(r'<a class="index-page([^"]*)" href="#([^"]+)"></a>(?:–<a class="index-page[^"]*" href="#([^"]+)"></a>)?')


def fill_locators(html: str, folio) -> str:
    """The print index with its page numbers written out: ``folio(anchor)`` gives the page number of an
    anchor as printed ("45", "xii"), or None if unknown (then the CSS's target-counter() stays). A page
    listed twice in a row is listed once; a range that ends on the page where it began is one page."""

    def one(match: re.Match) -> str:
        parts: list[tuple[str, str, str]] = []   # (text, href, classes)
        for loc in LOCATOR.finditer(match.group(1)):
            classes, start, end = loc.group(1), loc.group(2), loc.group(3)
            first = folio(start)
            if first is None:
                return match.group(0)
            text = first
            if end:
                last = folio(end)
                if last is None:
                    return match.group(0)
                if last != first:
                    text = f"{first}–{last}"
            if parts and (parts[-1][0] == text or _within(text, parts[-1][0])):
                continue
            parts.append((text, start, classes))
        shown = ", ".join(f'<a class="index-folio{c}" href="#{h}">{t}</a>' for t, h, c in parts)
        return f'<span class="index-locators"> {shown}</span><!--/locators-->'

    return LOCATORS.sub(one, html)


def _within(page: str, before: str) -> bool:
    """Is page '45' inside the range '44–47' listed just before it?"""
    first, dash, last = before.partition("–")
    return bool(dash) and page.isdigit() and first.isdigit() and last.isdigit() and int(first) <= int(page) <= int(last)


def roman(n: int) -> str:
    from .labels import roman as upper
    return upper(n).lower()


def relaid(document, index_html: str | None, stylesheets: list, fonts, fetcher, base_url: str, counters=None):
    """The laid-out book (WeasyPrint ``document``) with its index pages laid out again from
    ``index_html`` (the index alone, see templates/pdf/book.html.j2) with the page numbers written
    out. The index is the last thing in the book, so no page before it moves."""
    if not index_html:
        return document
    from weasyprint import CSS, HTML

    from .render.pagelabels import first_main_page

    where: dict[str, int] = {}
    for number, page in enumerate(document.pages):
        for name in page.anchors:
            where.setdefault(name, number)
    start = where.get("book-index")
    if start is None:
        return document
    body = first_main_page(document)

    def folio(name: str) -> str | None:
        page = where.get(name)
        if page is None:
            return None
        if body is None or page < body:
            return roman(page + 1)
        return str(page - body + 1)

    first = folio("book-index")
    if not first.isdigit():     # an index in the front matter (a book of front matter only): as laid out
        return document
    html = fill_locators(index_html, folio)
    extra = CSS(string=".main-matter[data-book-title] { string-set: book-title attr(data-book-title); }\n"
                f"@page :nth(1 of body) {{ counter-reset: page {first}; }}\n", font_config=fonts)
    again = HTML(string=html, base_url=base_url, url_fetcher=fetcher).render(
        stylesheets=list(stylesheets) + [extra], font_config=fonts, counter_style=counters)
    return document.copy(document.pages[:start] + again.pages)


# --- checks ----------------------------------------------------------------------------------------

def check(book: Book) -> list[Diagnostic]:
    """Terms written two ways (case, accents, punctuation, word order), cross-references to no term,
    and marks that name no term."""
    found = marks(book)
    diags: list[Diagnostic] = []
    for mark in found:
        if not mark.path or not all(mark.path):
            diags.append(warning(
                "index-empty", f"this index mark names no term ('{mark.written}'), so it is left out of the index",
                mark.location, "write the term as the span's text, [term]{.index}, or give it: "
                "[text]{index=\"Term\"}, with '!' between an entry and its sub-entry"))
    good = [m for m in found if m.path and all(m.path)]
    # the same term written two ways: at each level of every term, by its folded form
    forms: dict[tuple, Counter] = {}
    first: dict[tuple, Mark] = {}
    for mark in good:
        for depth in range(1, len(mark.path) + 1):
            written = tuple(display(x) for x in mark.path[:depth])
            key = tuple(_variant_key(x) for x in written[:-1]) + (_variant_key(written[-1]),)
            forms.setdefault(key, Counter())[written] += 1
            first.setdefault(written, mark)
    reported: set = set()
    for key, counter in forms.items():
        if len(counter) < 2:
            continue
        ranked = sorted(counter, key=lambda w: (-counter[w], first[w].chapter, first[w].number))
        usual = ranked[0]
        for other in ranked[1:]:
            if other[:-1] != usual[:-1] and any(o[:-1] == other[:-1] for o in reported):
                continue
            if other in reported:
                continue
            reported.add(other)
            mark = first[other]
            diags.append(warning(
                "index-variant", f"the index term '{' ! '.join(other)}' is written '{' ! '.join(usual)}' elsewhere "
                f"({counter[usual]} time{'s' if counter[usual] != 1 else ''}); the index would list them as two "
                "entries", mark.location, f"write it as the other places do: index=\"{LEVELS.join(usual)}\""))
    terms = {m.path[:d] for m in good for d in range(1, len(m.path) + 1)}
    folded = {tuple(fold(x) for x in t): t for t in terms}
    for mark in good:
        for target in mark.see + mark.see_also:
            path = tuple(_clean(x) for x in target.split(LEVELS))
            if path in terms:
                continue
            near = folded.get(tuple(fold(x) for x in path))
            if near is None:
                close = difflib.get_close_matches(fold(" ".join(path)), [fold(" ".join(t)) for t in folded.values()],
                                                  n=1, cutoff=0.8)
                near = next((t for t in folded.values() if close and fold(" ".join(t)) == close[0]), None)
            hint = (f"did you mean '{LEVELS.join(near)}'?" if near else
                    "mark the term it points to somewhere in the book, or point to a term that is marked")
            diags.append(warning("index-see-missing", f"the index cross-reference to '{target}' names no term of "
                                 "the index", mark.location, hint))
    return diags


def _variant_key(text: str) -> str:
    """Forms that are one term: without case, accents or punctuation, and with the words of a short
    name in any order ("Yoshida Shigeru", "Shigeru Yoshida")."""
    words = fold(text).split()
    if 2 <= len(words) <= 3 and all(w.isalpha() for w in words):
        words = sorted(words)
    return " ".join(words)
