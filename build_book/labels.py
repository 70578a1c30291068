"""One label model for the whole book.

Every chapter, part, appendix, section, figure and table that can be referred
to is numbered here, once, in reading order. The checks and all three
renderers read the same :class:`LabelIndex`; nothing is numbered twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .diagnostics import Location
from .model import APPENDIX, Book, Chapter, facts_of

# a footnote holds no numbered section, figure or table (facts.py reads none there)
SKIP_FLOATS = frozenset(("Note",))

ROMAN = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"), (40, "XL"),
         (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]


def roman(n: int) -> str:
    out = ""
    for value, letters in ROMAN:
        while n >= value:
            out += letters
            n -= value
    return out


def letter(n: int) -> str:
    out = ""
    while n > 0:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


@dataclass(frozen=True)
class Label:
    id: str
    kind: str                  # chapter, appendix, part, section, figure, table, equation
    number: str | None         # "3", "A", "II", "3.2", "A.1"; None when unnumbered
    chapter: int | None        # index of the chapter it stands in; None for parts
    title: str
    location: Location
    level: int = 0             # heading level for chapters (1) and sections (2, 3, ...)
    parent: str | None = None  # for a sub-figure ("3.1(a)"), the label of its figure

    @property
    def prefix(self) -> str:
        return self.id.split("-", 1)[0]


@dataclass
class LabelIndex:
    labels: dict[str, Label] = field(default_factory=dict)
    duplicates: list[tuple[str, Location, Location]] = field(default_factory=list)
    chapter_numbers: dict[int, str | None] = field(default_factory=dict)
    # pandoc's automatic id of a heading, as bookdown gives it in the whole book -> its label: what
    # bookdown's '\@ref(methods)' refers to a heading written without an id by
    aliases: dict[str, str] = field(default_factory=dict)

    def get(self, label: str) -> Label | None:
        found = self.labels.get(label)
        return found if found is not None or label not in self.aliases else self.labels.get(self.aliases[label])

    def of_kind(self, *kinds: str) -> list[Label]:
        return [lab for lab in self.labels.values() if lab.kind in kinds]

    def add(self, label: Label) -> None:
        if label.id in self.labels:
            self.duplicates.append((label.id, self.labels[label.id].location, label.location))
            return
        self.labels[label.id] = label

    def reference_text(self, label: Label, words: dict[str, str], bare: bool = False, space: str = " ") -> str:
        """'Chapter 3', 'Figure 3.2', 'Part II', or just '3.2' when ``bare``; ``space`` between the word
        and the number (a no-break space in running text, where a line must not part them)."""
        number = label.number or ""
        if bare:
            return number
        word = words.get(label.kind, label.kind.title())
        if "%s" in word:
            return word.replace("%s", number)
        return f"{word}{space}{number}".strip()


# Quarto's cross-reference prefixes (pandoc-crossref's fig, sec, tbl, eq, lst among them): a citation
# key starting with one of them is a cross-reference, never a bibliography key
PREFIX_WORDS = {
    "sec": "section, chapter, part or appendix", "fig": "figure", "tbl": "table", "eq": "equation",
    "lst": "code listing", "thm": "theorem", "lem": "lemma", "cor": "corollary", "prp": "proposition",
    "cnj": "conjecture", "def": "definition", "exm": "example", "exr": "exercise", "sol": "solution",
    "rem": "remark", "tip": "tip", "nte": "note", "wrn": "warning", "imp": "important note", "cau": "caution",
}
CROSSREF = re.compile(r"(%s)[-:](?=.)" % "|".join(PREFIX_WORDS), re.I)
# a label of one of those kinds with no name after its prefix ('{#thm-}'): nothing can refer to it, and
# two of them in a chapter would be two elements of one id, so build_book drops it (label-empty)
EMPTY_LABEL = re.compile(r"(%s)[-:]" % "|".join(PREFIX_WORDS))


NUMBERED = ("sec", "fig", "tbl", "eq")     # the kinds build_book numbers


def unnumbered_kind(label: str) -> str | None:
    """The prefix of a label of a kind Quarto numbers and build_book does not ('thm' for 'thm-x' or
    'thm:x'), else None (for 'fig-x', 'Thm-x', 'x')."""
    found = CROSSREF.match(label)
    prefix = found.group(1) if found else None     # (Quarto numbers '#thm-x', not '#Thm-x')
    return prefix if prefix is not None and prefix.islower() and prefix not in NUMBERED else None


# bookdown's reference, '\@ref(fig:map)', or '\@ref(intro)' to a heading's id: the number alone (as Quarto's
# '[-@fig-map]'). compat.py reads it as a citation, number only, of the key '@ref(fig:map)'; its labels are
# written '(\#fig:map)' and '(\#tab:x)' (a table: build_book's 'tbl-x')
BOOKDOWN_REF = "@ref("
TEX_REF = "@ref{"     # (LaTeX's '\ref{fig:map}', read as bookdown's reference: compat.py)
BOOKDOWN_PREFIXES = {"tab": "tbl"}


def bookdown_label(label: str) -> str:
    """A bookdown label ('tab:x', 'fig:x', 'intro') as build_book spells it ('tbl-x', 'fig-x', 'intro')."""
    prefix, colon, name = label.partition(":")
    prefix = BOOKDOWN_PREFIXES.get(prefix, prefix)
    return f"{prefix}-{name}" if colon and name and prefix in PREFIX_WORDS else label


def as_bookdown(label_id: str) -> str:
    """A label as bookdown writes it ('tbl-x' as 'tab:x', 'fig-x' as 'fig:x'; a heading's id as it is)."""
    prefix, dash, name = label_id.partition("-")
    if not dash or prefix not in PREFIX_WORDS or prefix == "sec":
        return label_id
    return {"tbl": "tab"}.get(prefix, prefix) + ":" + name


def is_crossref(key: str) -> bool:
    """Is a pandoc citation id a cross-reference (Quarto, pandoc-crossref or bookdown spelling)?"""
    return CROSSREF.match(key) is not None or key.startswith((BOOKDOWN_REF, TEX_REF))


def ref_prefix(key: str) -> str:
    """The prefix of the kind a cross-reference ``key`` refers to ('fig' for '@fig-x'): 'sec' for bookdown's
    reference to a heading's id ('\\@ref(intro)')."""
    prefix = normal_ref(key)[0].split("-", 1)[0]
    return prefix if prefix in PREFIX_WORDS else "sec"


def as_written(key: str) -> str:
    """A cross-reference ``key`` as its author wrote it: '@fig-x', '\\@ref(fig:x)', '\\ref{fig:x}'."""
    if key.startswith(TEX_REF):
        return "\\" + key[1:]
    return "\\" + key if key.startswith(BOOKDOWN_REF) else "@" + key


def normal_ref(key: str) -> tuple[str, bool]:
    """Return (label id, capitalised?) for a reference key such as 'Fig-x', 'fig:x' or '@ref(fig:x)'."""
    if key.startswith((BOOKDOWN_REF, TEX_REF)):
        return bookdown_label(key[len(BOOKDOWN_REF):-1]), False
    found = CROSSREF.match(key)
    capital = key[0].isupper()
    if found is None:
        return key, capital
    return found.group(1).lower() + "-" + key[found.end():], capital


def build_index(book: Book) -> LabelIndex:
    index = LabelIndex()
    for part in book.parts:
        number = roman(part.index + 1)
        index.add(Label(part.label, "part", number, None, part.title, part.location))
    body = appendix = 0
    unnumbered_floats = {"figure": 0, "table": 0, "equation": 0}  # in unnumbered chapters: 1, 2, ... book-wide
    for chapter in book.chapters:
        if not chapter.numbered:
            number = None
        elif chapter.matter == APPENDIX:
            appendix += 1
            number = letter(appendix)
        else:
            body += 1
            number = str(body)
        index.chapter_numbers[chapter.index] = number
        kind = "appendix" if chapter.matter == APPENDIX else "chapter"
        index.add(Label(chapter.label, kind, number, chapter.index, chapter.title, _where(chapter, chapter.label), 1))
        floats = {"figure": 0, "table": 0, "equation": 0} if number else unnumbered_floats
        _walk(chapter, facts_of(chapter).labels, number, book.config.section_depth, index, [0] * 6, floats)
    # as bookdown, which reads the chapters as one document, names them: a heading's id taken by an earlier
    # chapter's is given '-1' ('methods-1'), '-2', ...
    for chapter in book.chapters:
        for auto, ident in chapter.auto_ids.items():
            name, n = auto, 0
            while name in index.aliases or name in index.labels:
                n += 1
                name = f"{auto}-{n}"
            index.aliases[name] = ident
    return index


def _where(chapter: Chapter, label: str, index: LabelIndex | None = None) -> Location:
    """Where ``label`` is defined in ``chapter``: its first definition there, or, if the index
    already holds it from this chapter, the next one (so that both copies of a duplicate show)."""
    places = [pos for key, found in chapter.sources.labels.items() if key.replace(":", "-", 1) == label
              for pos in found]
    places.sort()
    nth = 0
    if index is not None:
        first = index.labels.get(label)
        nth = int(first is not None and first.location.path == chapter.path)
        nth += sum(1 for dup, _, again in index.duplicates if dup == label and again.path == chapter.path)
    return Location(chapter.path, *places[nth]) if nth < len(places) else chapter.location


def _walk(chapter, events, number, depth, index, counters, floats):
    """Number the sections, figures, tables and equations of one chapter, wherever they stand (``events``:
    what facts.py read from its document, in reading order)."""
    subs: dict[str, tuple[str, str]] = {}     # sub-figure -> (its figure's label, its number "3.1(a)")
    for event in events:
        kind = event[0]
        if kind == "h":
            _, level, ident, unnumbered, title = event
            numbered = number is not None and not unnumbered and level - 1 <= depth
            if numbered:
                counters[level - 2] += 1
                for deeper in range(level - 1, len(counters)):
                    counters[deeper] = 0
                sec_number = ".".join([number] + [str(c) for c in counters[: level - 1]])
            else:
                sec_number = None
            if ident:
                index.add(Label(ident, "section", sec_number, chapter.index, title,
                                _where(chapter, ident, index), level))
        elif kind == "f":
            _, what, ident, subfigures, text = event
            parent = None
            if ident in subs:       # a sub-figure: its figure's number and a letter
                parent, n = subs[ident]
            else:
                floats[what] += 1
                n = f"{number}.{floats[what]}" if number else str(floats[what])
            if what == "figure" and parent is None:
                for nth, sub in enumerate(subfigures, 1):
                    subs.setdefault(sub, (ident, f"{n}({letter(nth).lower()})"))
            index.add(Label(ident, what, n, chapter.index, text, _where(chapter, ident, index), parent=parent))
        elif kind == "e":
            _, label_id, tex = event
            floats["equation"] += 1
            n = f"{number}.{floats['equation']}" if number else str(floats["equation"])
            index.add(Label(label_id, "equation", n, chapter.index, tex, _where(chapter, label_id, index)))
