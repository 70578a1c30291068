"""The book as plain data, shared by the checks and every renderer.

Nothing but these objects passes between stages. Each remembers where it came
from (``location``) so that any problem can be reported at the author's line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from .bibliography import Bibliography
from .config import BookConfig, Contributor
from .diagnostics import Location
from .scan import SourceMap
from .walk import elements

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

    @classmethod
    def of(cls, blocks: list) -> "Targets":
        """Collect them in one walk over pandoc's document, in reading order."""
        from .quarto import CONDITIONAL

        cites, images, links, raw_html, maths, stray_labels = [], [], [], [], [], []
        conditional = callouts = False
        for node in elements(blocks):
            kind = node["t"]
            if kind in ("Div", "Span", "CodeBlock"):
                classes = node["c"][0][1]
                if classes:
                    conditional = conditional or any(c in CONDITIONAL for c in classes)
                    callouts = callouts or (kind == "Div" and any(c.startswith("callout-") for c in classes))
            elif kind == "Cite":
                cites.extend(c["citationId"] for c in node["c"][0])
            elif kind == "Image":
                images.append(node["c"][2][0])
            elif kind == "Link":
                links.append(node["c"][2][0])
            elif kind in ("RawBlock", "RawInline"):
                fmt, text = node["c"]
                if fmt == "html" and not text.lstrip().startswith("<!--"):
                    raw_html.append(text)
            elif kind == "Math":
                maths.append((node["c"][1], node["c"][0]["t"] == "DisplayMath"))
            elif kind == "Str" and "{#eq" in node["c"]:
                stray_labels.append(node["c"])
        return cls(cites, images, links, raw_html, maths, stray_labels, conditional, callouts)


@dataclass(frozen=True)
class Chapter:
    index: int                 # position in reading order
    path: str                  # relative to the book, as listed in book.yml
    label: str                 # id of its level-1 heading, e.g. sec-japan-us
    title: str                 # plain text of the title
    blocks: list               # pandoc JSON blocks of the body (title heading included)
    authors: tuple[str, ...] = ()
    abstract: str = ""
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

    @property
    def title(self) -> str:
        return self.config.title

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
        return any(has_marks(c.blocks) for c in self.chapters)

    def chapters_in(self, part: Part) -> list[Chapter]:
        return [c for c in self.chapters if c.part == part.index]
