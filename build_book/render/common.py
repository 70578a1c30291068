"""What every renderer shares: chapter fragments, the contents, link targets."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from html import escape as html_escape, unescape as html_unescape
from urllib.parse import quote

from markupsafe import Markup

from .. import cache as cachefile
from .. import index as book_index
from .. import math, pandoc, quarto, sandbox, sanitize, svgprint, ui
from ..config import Contributor
from ..labels import LabelIndex
from ..model import APPENDIX, BODY, FRONT, Book, Chapter, Part, is_external
from ..abstracts import abstract_views
from ..transform import Prepared, chapter_ref_id

# (spans inside it too: a label in another script than the book's, "第2章" in an English book, is wrapped in
# <span lang="ja">, whose end is not the label's)
LABEL_SPAN = re.compile(r'<span class="chapter-label">(?:(?!</?span\b).|<span\b[^>]*>(?:(?!</?span\b).)*</span>)*'
                        r'</span>', re.S)
TITLE_SPAN = re.compile(r'^<span class="title-text">(.*)</span>$', re.S)
HREF = re.compile(r'href="#([^"]+)"')
REFERS = re.compile(r'<span class="citation"|<a [^>]*\bclass="xref\b')
SECTION_NUMBER = re.compile(r'<span class="section-number">.*?</span>', re.S)
TAG = re.compile(r"<[^>]*>")
MATH_ELEMENT = re.compile(r"<math\b.*?</math>", re.S)
MATH_IMAGE = re.compile(r'<img class="math\b[^>]*?\balt="([^"]*)"[^>]*>')


@dataclass
class Section:
    id: str
    number: str | None
    title: str
    level: int


@dataclass
class ChapterView:
    chapter: Chapter
    number: str | None
    label_text: str            # "Chapter 3", "Appendix A" or ""
    title: str                 # plain text
    title_html: Markup
    body_html: Markup
    authors: list[Contributor]
    href: str = ""             # page of this chapter in a multi-page edition
    sections: list[Section] = field(default_factory=list)
    part: Part | None = None
    abstract_html: Markup = Markup("")   # the chapter's abstract, as printed
    abstract_text: str = ""              # ... as plain text (a page's description)

    @property
    def id(self) -> str:
        return self.chapter.label

    @property
    def full_title(self) -> str:
        return f"{self.label_text}: {self.title}" if self.label_text else self.title


@dataclass
class Float:
    id: str
    text: str      # "Figure 3.2"
    caption: str
    chapter: int


# pages the editions make themselves; a chapter never takes their names
RESERVED_PAGES = {"index", "genindex", "bibliography", "contributors", "title", "nav", "lists", "style"}


def page_name(chapter: Chapter, ext: str) -> str:
    name = chapter.label.removeprefix("sec-")
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or f"chapter-{chapter.index + 1}"
    if len(name) > 80:  # file systems allow 255 bytes; a long label keeps its start and a stable tail
        name = name[:70].rstrip("-.") + "-" + hashlib.sha1(name.encode()).hexdigest()[:8]
    if name in RESERVED_PAGES or name.startswith("part-"):
        name = f"chapter-{name}"
    return name + ext


FRAGMENT_FORMAT = "build_book-fragment 1"   # header of a cached HTML fragment (see cache.py)


def write_fragments(book: Book, prepared: Prepared, *, footnotes_inline: bool, edition: str = "") -> dict[int, str]:
    """Each chapter's prepared blocks as an HTML fragment, written once per build and kind, and
    cached (``build/.cache/fragments-<kind>/``) by the digest of the blocks it is written from, so only
    chapters whose blocks changed are written again, several at once.

    The HTML and EPUB editions share the fragments with footnotes at the end of
    the chapter; the PDF wants footnotes where they are called. A chapter with content for some
    editions only (Quarto's ``.content-visible``) is written for each ``edition`` apart."""
    key = "inline-notes" if footnotes_inline else "end-notes"
    memory = f"{key}-{edition}"
    if memory not in prepared.fragments:
        folder = prepared.cache / f"fragments-{key}" if prepared.cache else None
        if "conditional" not in prepared.fragments:   # found once per build, in the documents as read
            prepared.fragments["conditional"] = {c.index for c in book.chapters if c.targets.conditional}
        apart = prepared.fragments["conditional"]
        keys = {c.index: cachefile.digest(prepared.keys.get(c.index) or c.index, key,
                                          *([edition] if c.index in apart else [])) for c in book.chapters}
        kept = set(keys.values()) | {cachefile.digest(prepared.keys.get(i) or i, key, other)
                                     for i in apart for other in ("html", "epub", "pdf")}
        written: dict[int, str] = {}
        todo = []
        for chapter in book.chapters:
            text = cachefile.get_text(folder, keys[chapter.index], FRAGMENT_FORMAT, ".html") \
                if folder and chapter.index in prepared.keys else None
            if text is None:
                todo.append(chapter)
            else:
                written[chapter.index] = text

        text = getattr(prepared.chapters, "text", None)
        read = getattr(prepared.chapters, "once", None)

        def source(chapter: Chapter) -> str:
            """The chapter's blocks as JSON text: as they are (no need to parse them), or for ``edition``."""
            if chapter.index not in prepared.chapters:
                return "[]"
            if chapter.index not in apart:
                return text(chapter.index) if text is not None else json.dumps(prepared.chapters[chapter.index])
            blocks = read(chapter.index) if read is not None else prepared.chapters[chapter.index]
            return json.dumps(quarto.for_edition(blocks, edition), ensure_ascii=False)

        def write(chapter: Chapter) -> str:
            if footnotes_inline:
                # footnotes made spans where they are called, by a Lua filter: the blocks need no parse.
                # (A run per chapter: one run for several chapters holds them all, and the pandoc runs
                # of a book's halves took some 150 MB more between them than the build holds otherwise.)
                return pandoc.write_html_blocks(source(chapter), inline_notes=True)
            if chapter.index not in apart and chapter.index in prepared.html:
                return prepared.html[chapter.index]     # written with its citations (transform.prepare)
            # pandoc numbers footnotes per document and lists them at its end: one document per chapter
            return pandoc.write_html_blocks(source(chapter))

        with ThreadPoolExecutor(max_workers=max(1, prepared.jobs)) as pool:   # the work is pandoc's
            for chapter, html in zip(todo, pool.map(write, todo)):
                written[chapter.index] = html
                if folder and chapter.index in prepared.keys:
                    cachefile.put(folder, keys[chapter.index], html, FRAGMENT_FORMAT, ".html")
        if folder and prepared.keys:
            cachefile.prune(folder, kept, ".html")
        # TeX math: MathML on the web and in the EPUB, typeset SVG in print (math.py)
        written = math.for_print(written, book, prepared.cache) if edition == "pdf" else \
            {number: math.for_web(html) for number, html in written.items()}
        prepared.fragments[memory] = written
    return prepared.fragments[memory]


def references_html(prepared: Prepared) -> Markup:
    if not prepared.references:
        return Markup("")
    if "references" not in prepared.fragments:
        folder = prepared.cache / "fragments-references" if prepared.cache and prepared.references_key else None
        html = cachefile.get_text(folder, prepared.references_key, FRAGMENT_FORMAT, ".html") if folder else None
        if html is None:
            html = prepared.references_html     # written with its citations (transform.prepare), or now
            if html is None:
                html = pandoc.write_html(pandoc.document(prepared.references))
            html = math.for_web(html)   # no TeX annotation
            if folder:
                cachefile.put(folder, prepared.references_key, html, FRAGMENT_FORMAT, ".html")
                cachefile.prune(folder, {prepared.references_key}, ".html")
        prepared.fragments["references"] = html
    return Markup(prepared.fragments["references"])


def chapter_views(book: Book, index: LabelIndex, fragments: dict[int, str], ext: str = ".html",
                  proof: bool = False) -> list[ChapterView]:
    views = []
    abstracts = abstract_views([c.abstract for c in book.chapters if c.abstract], proof)
    for chapter in book.chapters:
        html = fragments[chapter.index]
        # the title heading, wherever it stands (a comment or an epigraph may come first)
        match = re.search(r'<h1[^>]*\bid="%s"[^>]*>(.*?)</h1>\s*' % re.escape(chapter.label), html, re.S)
        title_html, body = "", html
        if match:
            inner = LABEL_SPAN.sub("", match.group(1)).strip()
            title_only = TITLE_SPAN.match(inner)
            title_html = title_only.group(1) if title_only else inner
            body = html[:match.start()] + html[match.end():]
        label = index.get(chapter.label)
        number = index.chapter_numbers.get(chapter.index)
        label_text = index.reference_text(label, book.config.words) if label and number else ""
        refers = REFERS.search(body) is not None
        sections = [Section(lab.id, lab.number, _as_printed(_heading(body, lab.id), lab.title) if refers else lab.title,
                            2) for lab in index.labels.values()
                    if lab.kind == "section" and lab.chapter == chapter.index and lab.level == 2]
        part = book.parts[chapter.part] if chapter.part is not None else None
        abstract_html, abstract_text = abstracts.get(chapter.abstract, (Markup(""), ""))
        views.append(ChapterView(chapter, number, label_text, _as_printed(title_html, chapter.title),
                                 Markup(title_html), Markup(body),
                                 book.authors_of(chapter), page_name(chapter, ext), sections, part,
                                 abstract_html, abstract_text))
    return views


def _as_printed(html: str, plain: str) -> str:
    """A title's plain text (for the contents, running heads, a page's <title>) as the edition prints it, where
    it cites a work or refers to a label, which its ``plain`` text (walk.inline_text) leaves out or has not
    resolved yet: the text of its ``html`` (a formula's as math.plain would give it)."""
    html = _without_notes(html)
    if not REFERS.search(html):
        return plain
    html = MATH_ELEMENT.sub(lambda m: html_escape(math.plain_mathml(m.group(0))), SECTION_NUMBER.sub("", html))
    html = MATH_IMAGE.sub(lambda m: html_escape(math.plain(html_unescape(m.group(1)))), html)   # the print edition's
    return " ".join(html_unescape(TAG.sub("", html)).split())


def _without_notes(html: str) -> str:
    """``html`` without its notes' calls (the web's and the EPUB's) or notes (the print edition's, set where called)."""
    html = NOTE_CALL.sub("", html)
    while (at := html.find('<span class="footnote"')) >= 0:
        html = html[:at] + html[at + len(_element(html, at, "span")):]
    return html


NOTE_CALL = re.compile(r'<a [^>]*\bclass="footnote-ref"[^>]*>.*?</a>', re.S)


def _by_id(body: str, ident: str) -> tuple[str, str]:
    """The element of id ``ident`` in a chapter's HTML, whole, and its tag's name; ("", "") if there is none."""
    at = body.find(f' id="{ident}"') if body else -1
    start = body.rfind("<", 0, at)
    name = re.match(r"<([a-z][a-z0-9]*)", body[start:]) if at >= 0 else None
    return (_element(body, start, name.group(1)), name.group(1)) if name else ("", "")


def _element(html: str, start: int, name: str) -> str:
    """The element of tag ``name`` that begins at ``start`` in ``html``, its end tag included (balanced)."""
    depth = 0
    for edge in re.finditer(rf"<(/?){name}\b[^>]*>", html[start:]):
        depth += -1 if edge.group(1) else 1
        if depth == 0:
            return html[start:start + edge.end()]
    return html[start:]


def _heading(body: str, ident: str) -> str:
    """The inside of the heading of id ``ident`` in a chapter's HTML ("" if there is none)."""
    element, name = _by_id(body, ident)
    return element[element.index(">") + 1:element.rindex("<")] if re.fullmatch(r"h[1-6]", name) else ""


def floats(index: LabelIndex, kind: str, words: dict[str, str], views: list[ChapterView] = ()) -> list[Float]:
    """The numbered figures or tables of the book, for the lists in the front matter; a caption that cites or
    refers as its chapter's page (``views``) prints it (see _as_printed)."""
    bodies = {view.chapter.index: body for view in views if REFERS.search(body := str(view.body_html))}
    return [Float(lab.id, index.reference_text(lab, words),
                  short_caption(_as_printed(_caption(bodies.get(lab.chapter, ""), lab.id), lab.title)),
                  lab.chapter or 0)
            for lab in index.of_kind(kind) if lab.number and not lab.parent]   # sub-figures: their figure


def _caption(body: str, ident: str) -> str:
    """The inside of the caption of the figure or table of id ``ident`` in a chapter's HTML, without its label
    ("Figure 1.1:"); "" if there is none."""
    element, _ = _by_id(body, ident)
    while (inner := re.search(r"<(figure|table)\b", element[1:])) is not None:   # its sub-figures' own captions
        at = inner.start() + 1
        element = element[:at] + element[at + len(_element(element, at, inner.group(1))):]
    found = CAPTION.search(element)
    return CAPTION_LABEL.sub("", found.group(2), count=1) if found else ""


CAPTION = re.compile(r"<(figcaption|caption)\b[^>]*>(.*?)</\1>", re.S)
CAPTION_LABEL = re.compile(r'^\s*<span class="caption-label">.*?</span>\s*', re.S)


def short_caption(caption: str) -> str:
    """A caption's first sentence, as lists of figures and tables print it."""
    return re.split(r"(?<=[.!?])\s+(?=[A-Z])", caption.strip(), maxsplit=1)[0]


def anchor_pages(book: Book, index: LabelIndex, ext: str, bibliography_page: str,
                 prepared: Prepared | None = None) -> dict[str, str]:
    """Which page each anchor lives on, for multi-page editions: the book-wide reference list's
    entries on ``bibliography_page`` (unless the book has none), a chapter's own list on its page, an id an
    author gives (a span's, a div's) on its chapter's page if no other chapter gives it (a link to one that
    several do stays on its own page)."""
    pages = {c.index: page_name(c, ext) for c in book.chapters}
    where: dict[str, str] = {}
    own = {c.index: quarto.ids_in_every_edition(c) for c in book.chapters}
    given = Counter(ident for ids in own.values() for ident in ids)
    for number, ids in own.items():
        for ident in ids:
            if given[ident] == 1:
                where[ident] = pages[number]
    for label in index.labels.values():
        if label.chapter is not None:
            where[label.id] = pages[label.chapter]
    if has_book_bibliography(book, prepared) or book.references_chapter is not None:
        page = bibliography_page if book.references_chapter is None else pages[book.references_chapter]
        for key in book.bibliography.entries:
            where[f"ref-{key}"] = page
    for number, keys in (prepared.chapter_references if prepared else {}).items():
        chapter = book.chapters[number]
        where[f"{chapter.label}-references"] = where[f"refs-{chapter.label}"] = pages[number]
        for key in keys:
            where[chapter_ref_id(chapter, key)] = pages[number]
    return where


def has_book_bibliography(book: Book, prepared: Prepared | None = None) -> bool:
    """Does the book end with a bibliography of every work it cites (bibliography-scope book or both)? Not if
    it cites none (``prepared``'s reference list is empty): a page headed Bibliography with nothing under it."""
    if book.config.bibliography_scope == "chapter" or book.references_chapter is not None:
        return False    # (a chapter holds it: see Book.references_chapter)
    return prepared is None or any(block.get("t") != "Div" or block["c"][1] for block in prepared.references)


def link_bodies(views: list[ChapterView], book: Book, where: dict[str, str], finish=str) -> None:
    """For a multi-page edition: each chapter's images and cross-page links pointed at their
    place in the edition, then ``finish`` (the EPUB makes the HTML XHTML)."""
    for view in views:
        body = rewrite_images(str(view.body_html), view.chapter, book, "")
        view.body_html = Markup(finish(relink(body, where, view.href)))


def link_title(view: ChapterView, book: Book, where: dict[str, str]) -> None:
    """A chapter's title (which may cite, refer to another chapter or show an image) pointed as its body is
    by :func:`link_bodies` (once: a second time would take an image's path for one in the chapter's folder)."""
    if "<a " in view.title_html or "<img" in view.title_html:
        title = rewrite_images(str(view.title_html), view.chapter, book, "")
        view.title_html = Markup(relink(title, where, view.href))


def relink(html: str, where: dict[str, str], this_page: str) -> str:
    """Point '#id' links at the page that holds id, unless that is this page."""

    def fix(match: re.Match) -> str:
        anchor = match.group(1)
        page = where.get(anchor)
        if page is None or page == this_page:
            return match.group(0)
        if "#" in page:
            return f'href="{page}"'
        return f'href="{page}#{anchor}"'

    return HREF.sub(fix, html)



SRC = re.compile(r'(<img\b[^>]*?\bsrc=")([^"]+)(")')


def image_file(book: Book, chapter: Chapter, target: str) -> tuple[Path, str] | None:
    """The file an image target names, and the path it takes inside a multi-file edition
    (its path in the book). None for a web address, and for a file outside the book's
    folder (symbolic links resolved): no edition ever carries such a file."""
    if is_external(target):
        return None
    root = book.config.root.resolve()
    path = sandbox.inside_url(root, target, (root / chapter.path).parent)
    if path is None:
        return None
    rel = path.relative_to(root).as_posix()
    # names travel in URLs and zip files: no spaces or other characters that need escaping
    return path, re.sub(r"[^A-Za-z0-9._/-]+", "-", rel)


def local_images(book: Book) -> dict[str, Path]:
    """Path inside the edition -> file, for every local image (inside the book) the chapters show."""
    found: dict[str, Path] = {}
    for chapter in book.chapters:
        for target in chapter.targets.images:
            located = image_file(book, chapter, target)
            if located and sandbox.is_file(located[0]):
                found[located[1]] = located[0]
    return found


def image_data(source: Path) -> bytes:
    """An image file as the editions ship it: SVG cleaned of script and of anything it would
    load from elsewhere (the checks reported what went), other images as they are."""
    data = source.read_bytes()
    if source.suffix.lower() == ".svg":
        try:
            data, _ = sanitize.clean_svg(data)
        except sanitize.SvgError:   # the checks stop the build before this
            pass
    return data


def rewrite_images(html: str, chapter: Chapter, book: Book, prefix: str | None) -> str:
    """Point image sources at ``prefix`` + their path in the edition, or (prefix None)
    at the file itself, for the PDF (an SVG as its cleaned copy, redrawn where WeasyPrint would
    draw it otherwise than a browser (svgprint.for_print), inline as a data: URL)."""

    def fix(match: re.Match) -> str:
        located = image_file(book, chapter, html_unescape(match.group(2)))
        if located is None:
            return match.group(0)
        if prefix is None and located[0].suffix.lower() == ".svg" and sandbox.is_file(located[0]):
            data = base64.b64encode(svgprint.for_print(image_data(located[0]))).decode("ascii")
            return f"{match.group(1)}data:image/svg+xml;base64,{data}{match.group(3)}"
        url = located[0].as_uri() if prefix is None else prefix + quote(located[1])
        return f"{match.group(1)}{url}{match.group(3)}"

    return NO_ALT.sub(_described, SRC.sub(fix, html))


# an image written with no description ('![](x.png)'), which pandoc writes with no alt at all: HTML does not
# allow that, and screen readers answer it by reading out the file's name
NO_ALT = re.compile(r"<img\b(?![^>]*\salt=)[^>]*>")
FIG_ALT = re.compile(r'\sdata-fig-alt="([^"]*)"')


def _described(match: re.Match) -> str:
    """The image's alt text: Quarto's fig-alt, if it has one ('![](x.png){fig-alt="..."}'), else empty."""
    given = FIG_ALT.search(match.group(0))
    return match.group(0).replace("<img", f'<img alt="{given.group(1) if given else ""}"', 1)


@dataclass
class TocEntry:
    kind: str                      # "part" or "chapter"
    part: Part | None = None
    chapter: ChapterView | None = None
    chapters: list[ChapterView] = field(default_factory=list)


def contents(book: Book, index: LabelIndex, views: list[ChapterView]) -> list[TocEntry]:
    """The reading order grouped for a table of contents: chapters, and parts holding chapters."""
    entries: list[TocEntry] = []
    for view in views:
        part = view.part
        if part is not None:
            if not entries or entries[-1].part is not part:
                entries.append(TocEntry("part", part))
            entries[-1].chapters.append(view)
        else:
            entries.append(TocEntry("chapter", chapter=view))
    return entries


def book_context(book: Book, index: LabelIndex, views: list[ChapterView], proof=None,
                 prepared: Prepared | None = None) -> dict:
    """What every template of every edition may use."""
    words = book.config.words
    editors = book.editors
    return {
        "book": book,
        "_": ui.words(book.config.lang),      # build_book's own words, in the book's language (ui.py)
        "book_bibliography": has_book_bibliography(book, prepared),   # false with bibliography-scope: chapter
        "proof": proof,   # proofs only: status, marks and the proof line (proof.py)
        "config": book.config,
        "title": book.config.title,
        "subtitle": book.config.subtitle,
        "lang": book.config.lang,
        "editors": editors,
        "editor_names": ui.join_names([e.name for e in editors], book.config.lang),
        "book_authors": book.book_authors,
        "author_names": ui.join_names([a.name for a in book.book_authors], book.config.lang),
        "contributors": list(book.config.contributors.values()),
        "contributors_page": book.config.contributors_page and bool(book.config.contributors),
        "views": views,
        "front": [v for v in views if v.chapter.matter == FRONT],
        "body": [v for v in views if v.chapter.matter == BODY],
        "appendices": [v for v in views if v.chapter.matter == APPENDIX],
        "toc": contents(book, index, [v for v in views if v.chapter.matter != FRONT]),
        "figures": floats(index, "figure", words, views),
        "tables": floats(index, "table", words, views),
        "words": words,
        "year": book.config.year,
        "part_labels": {p.index: index.reference_text(index.get(p.label), words) for p in book.parts},
        "book_index": book_index.build(book, index) if book.has_index else None,   # index.py
    }


