"""The book as plain data, shared by the checks and every renderer.

Nothing but these objects passes between stages. Each remembers where it came
from (``location``) so that any problem can be reported at the author's line.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from functools import cached_property

from typing import TYPE_CHECKING

from .config import BookConfig, Contributor
from .diagnostics import Location
from .facts import Facts
from .scan import SourceMap

if TYPE_CHECKING:
    from .bibliography import Bibliography

FRONT, BODY, APPENDIX = "front", "body", "appendix"


def is_external(target: str) -> bool:
    """Does a link or image target name a scheme (https:, mailto:, ...) rather than a file?"""
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target))


@dataclass(frozen=True)
class Targets:
    """What a chapter points at: citation keys (cross-references included), images, links."""

    cites: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    raw_html: list[str] = field(default_factory=list)   # raw HTML other than comments
    maths: list[tuple[str, bool]] = field(default_factory=list)   # each formula's TeX, and whether displayed
    stray_labels: list[str] = field(default_factory=list)   # text holding '{#eq-...}' (on no display formula)
    conditional: bool = False   # holds content for some editions only (Quarto's .content-visible/-hidden)
    callouts: bool | None = None   # holds a Quarto callout div (None: not looked at)

    @property
    def cites_works(self) -> bool:
        """Does it cite a work of the bibliography (a key that is no cross-reference)?"""
        from .labels import is_crossref
        return any(not is_crossref(key) for key in self.cites)

    @classmethod
    def of(cls, blocks: list) -> "Targets":
        """Collect them in one walk over pandoc's document, in reading order (see facts.py)."""
        from .facts import extract
        return extract(blocks)[0]


class Lazy:
    """A chapter's blocks not read yet: ``load()`` reads them (see :class:`_Blocks`)."""

    def __init__(self, load):
        self.load = load


class _Blocks:
    """``Chapter.blocks``: a list, or a :class:`Lazy` read on first use (and then kept), so that a pass that
    needs only the chapter's facts (``check``) never reads its document."""

    name = "_blocks"

    def __get__(self, chapter, owner=None):
        if chapter is None:
            return self
        value = chapter.__dict__[self.name]
        if type(value) is Lazy:
            with _LOADING:
                value = chapter.__dict__[self.name]
                if type(value) is Lazy:
                    chapter.__dict__[self.lazy] = value     # (see release)
                    value = value.load()
                    chapter.__dict__[self.name] = value
        return value

    def __set__(self, chapter, value):
        chapter.__dict__[self.name] = [] if isinstance(value, _Blocks) else value
        chapter.__dict__.pop(self.lazy, None)

    lazy = "_blocks_lazy"


_LOADING = threading.RLock()


def _fresh_lock() -> None:
    """In a forked process: a lock of its own (another thread may have held the build's at the fork)."""
    global _LOADING
    _LOADING = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_lock)


def release(chapter: "Chapter") -> None:
    """Forget ``chapter``'s blocks if they were read on first use (from a :class:`Lazy`): they are read
    again when next asked for. (A process that formats chapters one after another need not keep them all.)"""
    with _LOADING:
        lazy = chapter.__dict__.get(_Blocks.lazy)
        if lazy is not None:
            chapter.__dict__[_Blocks.name] = lazy


@dataclass(frozen=True)
class Chapter:
    index: int                 # position in reading order
    path: str                  # relative to the book, as listed in book.yml
    label: str                 # id of its level-1 heading, e.g. sec-japan-us
    title: str                 # plain text of the title
    # pandoc JSON blocks of the body (title heading included); given as a list or a Lazy (read on first use)
    blocks: list = field(default=_Blocks(), repr=False, compare=False)
    authors: tuple[str, ...] = ()
    abstract: str = ""
    abstract_location: Location | None = None   # where the front matter's abstract: is written
    status: str = ""           # draft, review, final, or "" when the front matter does not say
    numbered: bool = True
    matter: str = BODY         # front, body or appendix
    part: int | None = None    # index into Book.parts
    sources: SourceMap = field(default_factory=SourceMap)
    location: Location = Location("")
    author_locations: dict = field(default_factory=dict)  # author id -> Location in the front matter
    targets: Targets = field(default_factory=Targets)
    # a digest of everything the chapter as loaded (blocks, sources, targets) was made from: its file's
    # text, what pandoc read, its path and the heading ids given it; "" when not known (then a stage that
    # caches by the chapter digests its blocks instead)
    digest: str = ""
    facts: Facts | None = None   # what facts.py reads from the blocks (None: read from them when asked)
    # pandoc's automatic id of each heading without an id of its own ('methods') -> the id build_book gives it
    auto_ids: dict = field(default_factory=dict, repr=False, compare=False)
    # whether its code cells show their code unless they say otherwise, before its front matter says (see
    # load._echoes): what its text as scanned depends on (load.text_as_scanned)
    echo: bool = True



@dataclass(frozen=True)
class Part:
    index: int
    title: str
    label: str
    location: Location


@dataclass(frozen=True)
class Book:
    config: BookConfig
    chapters: tuple[Chapter, ...]
    parts: tuple[Part, ...]
    bibliography: Bibliography
    # the chapter where the book's reference list goes ('::: {#refs}' in a chapter that cites nothing, as Quarto's
    # references.qmd: load.py), in place of a bibliography of its own at the book's end; None if none
    references_chapter: int | None = None
    # works listed though not cited: pandoc's nocite (book.yml's, or a chapter's front matter's; '*': all), each
    # key with where it is first given
    nocite: dict[str, Location] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return self.config.title

    @property
    def bibliography_title(self) -> str:
        """The heading of the book's reference list at its end: book.yml's, or the language's word."""
        from .ui import reference_list
        return self.config.bibliography_title or reference_list(self.config.lang, "Bibliography")

    def nocite_keys(self) -> list[str]:
        """The bibliography's works that ``nocite`` lists, in the bibliography's order if it says '*'."""
        entries = self.bibliography.entries
        if "*" in self.nocite:
            return list(entries)
        return [key for key in self.nocite if key in entries]

    def contributor(self, cid: str) -> Contributor | None:
        return self.config.contributors.get(cid)

    def authors_of(self, chapter: Chapter) -> list[Contributor]:
        return [c for c in (self.contributor(a) for a in chapter.authors) if c is not None]

    @property
    def editors(self) -> list[Contributor]:
        return [c for c in (self.contributor(e) for e in self.config.editors) if c is not None]

    @property
    def book_authors(self) -> list[Contributor]:
        """The authors of an authored book (``authors:`` in book.yml); empty for an edited volume."""
        return [c for c in (self.contributor(a) for a in self.config.authors) if c is not None]

    @cached_property
    def has_index(self) -> bool:
        """Does any chapter mark index terms (then every edition ends with an index; see index.py)?"""
        from .index import has_marks
        return any(has_marks(facts_of(c)) for c in self.chapters)

    def chapters_in(self, part: Part) -> list[Chapter]:
        return [c for c in self.chapters if c.part == part.index]


def facts_of(chapter: Chapter) -> Facts:
    """The chapter's facts (facts.py): as loaded, or read from its blocks."""
    if chapter.facts is not None:
        return chapter.facts
    from .facts import extract
    return extract(chapter.blocks)[1]
