"""The print edition laid out a piece at a time, then assembled into one PDF.

WeasyPrint's time and memory grow faster than the number of pages. So the front matter, each part
page, each chapter and the bibliography are each laid out as a document of their own, several at
once (forked processes, :mod:`.limits`), and the pieces are joined into one PDF (pikepdf) whose pages,
folios, running heads, contents, page references, links, named destinations and outline are those
of the book laid out as one document:

- every piece after the front matter opens on a right-hand page: when the pieces before it end on a
  right-hand page, the blank verso ``break-before: right`` makes in one document is laid out with the
  piece before it (which ends with an empty block that breaks to the next recto: ``piece_end`` in
  templates/pdf/book.html.j2), so that it shows what it shows there (a proof's line);
- each piece is given the folio its first page has in the book, the book's title for the running
  heads, and, for every link to another piece, the folio the target has (``data-page``, shown
  instead of ``target-counter()``, which sees only its own document);
- links to another piece are written as links to a placeholder address, and made links to the
  book's named destinations when the pieces are joined; the outline is made from every piece's
  bookmarks by WeasyPrint's own algorithm, as if they were one document's; a tagged PDF's structure
  trees become one; each font's subsets in the pieces are joined into one embedded font.

A piece's folios appear only in its margin boxes, which WeasyPrint makes after paginating it. So the
pieces are laid out in the book's order with a guessed first folio; each tells the build how many
pages it has, and is told its true first folio once the pieces before it have said theirs, before its
margin boxes are made (``lay_out``); so are the named strings (``string-set``: running heads, a
proof's status line) as the pieces before it leave them, which its margin boxes show where it has set
none itself (a part page shows the status of the chapter before it). A piece showing page numbers of other pieces (the contents,
page references) is laid out again if these turn out different (as LaTeX runs twice); the front
matter waits for the others. Each piece's PDF is cached in ``build/.cache/pdf-pieces/`` by its HTML
(with the page numbers it shows), its stylesheets and its first folio, so an edit to one chapter lays
out that chapter again, and the pieces whose page numbers its new length changes.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import cache as cachefile
from .. import index as book_index
from .. import templating
from . import pagemap

FORMAT = "build_book-pdf-piece 1"
SERVER = "build_book.render.pieceserver"     # what the layout processes are forked from
PREPARE_ENV = "BUILD_BOOK_PDF_PREPARE"       # read there: the book's root, print.css and language
FOLDER = "pdf-pieces"
MAX_PASSES = 5   # the body, again for its page numbers, the front matter, what shows the front's named strings
XREF = "build-book-piece:"     # the placeholder address of a link to another piece

# What a piece needs besides print.css (only with build_book's own print.css: see ``applies``).
PIECE_CSS = """
.main-matter[data-book-title] { string-set: book-title attr(data-book-title); }
.toc-list a[data-page]::after, .list-of a[data-page]::after
  { content: leader(" . ") attr(data-page); }
.toc-front a[data-page]::after, .toc-list .front-ref[data-page]::after, .list-of a.front-ref[data-page]::after
  { content: leader(" . ") attr(data-page); }
a.page-ref[data-page]::after, a.page-ref.front-ref[data-page]::after
  { content: " " attr(data-page-word) "\\a0" attr(data-page); }
.piece-end { break-before: right; }
"""
PIECE_END = '<div class="piece-end"></div>'   # see templates/pdf/book.html.j2 (piece_end)

LINK = re.compile(r'<a\b([^>]*?)\bhref="#([^"]+)"([^>]*)>')
LOCAL_FILE = re.compile(r'="(file://[^"]+)"')


def applies(root: Path) -> bool:
    """Pieces need build_book's own PDF templates and stylesheet: a book that overrides any of
    them is laid out as one document (what an override does across pages cannot be known)."""
    return not any(p.relative_to(root / templating.BOOK_TEMPLATES).parts[:1] == ("pdf",)
                   for p in templating.overrides(root))


@dataclass
class Piece:
    unit: object                   # 'front', 'bibliography', ('part', n), ('chapter', n)
    html: str                      # without page numbers
    ids: set[str]
    key: str = ""                  # of the last version laid out or looked up
    result: dict | None = None     # pages, anchors (name -> page), bookmarks, refused, attachments
    path: Path | None = None       # its PDF (in the cache folder, or the staging folder)

    @property
    def body(self) -> bool:
        return self.unit != "front"


def roman(n: int) -> str:
    out = ""
    for value, letters in ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
                           (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
        while n >= value:
            out += letters
            n -= value
    return out


@dataclass
class Plan:
    pieces: list[Piece]
    estimates: dict[int, dict] = field(default_factory=dict)  # piece number -> pages, anchors (last time)
    reported: dict[int, int] = field(default_factory=dict)    # pages of the pieces being laid out
    reported_strings: dict[int, dict] = field(default_factory=dict)   # and the named strings they set
    reported_anchors: dict[int, dict] = field(default_factory=dict)   # and the page of each anchor in them
    laid_out: int = 0     # how many pieces this build laid out (the others came from the cache)

    def pages(self, n: int) -> int:
        if n in self.reported:
            return self.reported[n]
        piece = self.pieces[n]
        return (piece.result or self.estimates[n])["pages"]

    def entries(self) -> list[dict[str, str]]:
        """The value of each named string (``string-set``: running heads, a proof's status) where
        each piece starts, as the pieces before it leave them (``_enter_strings``)."""
        out, now = [], {}
        for n, piece in enumerate(self.pieces):
            out.append(dict(now))
            now.update(self.reported_strings[n] if n in self.reported_strings
                       else (piece.result or self.estimates[n]).get("strings", {}))
        return out

    def entered(self, n: int, entries: list[dict[str, str]]) -> dict:
        """The values given to piece ``n`` that its margin boxes show (as it was last laid out)."""
        names = (self.pieces[n].result or self.estimates[n]).get("entered", {})
        return {name: entries[n].get(name) for name in names}

    def starts(self) -> list[int]:
        """The index in the book of each piece's first page (each after the first on a right-hand page)."""
        starts, at = [], 0
        for n in range(len(self.pieces)):
            if n and at % 2:
                at += 1
            starts.append(at)
            at += self.pages(n)
        return starts

    def total(self) -> int:
        return self.starts()[-1] + self.pages(len(self.pieces) - 1)

    def folios(self) -> tuple[list[int], dict[str, str]]:
        """Each piece's first folio (its page counter), and each anchor's folio as printed."""
        starts = self.starts()
        body_start = next((starts[n] for n, p in enumerate(self.pieces) if p.body), 0)
        first = [s + 1 if not p.body else s - body_start + 1 for s, p in zip(starts, self.pieces)]
        where: dict[str, tuple[bool, int]] = {}
        for n, piece in enumerate(self.pieces):
            known = self.reported_anchors.get(n, (piece.result or self.estimates[n]).get("anchors", {}))
            for name in piece.ids:
                where.setdefault(name, (piece.body, first[n] + known.get(name, 0)))
        return first, {name: (str(c) if body else "r" + str(c)) for name, (body, c) in where.items()}


def with_pages(html: str, ids: set[str], pages: dict[str, str], front: bool) -> str:
    """``html`` with the folio of each link's target, where that target is in another piece."""

    def fix(match: re.Match) -> str:
        before, target, after = match.groups()
        if target in ids or not (front or "page-ref" in before + after):
            return match.group(0)   # in this piece, or a link that shows no page number
        value = pages.get(target, "?")
        if value.startswith("r"):   # front matter: roman where print.css would print it so
            counter = int(value[1:])
            value = roman(counter) if "front-ref" in before + after or _is_front_toc(match) else str(counter)
        return f'<a{before}href="#{target}" data-page="{value}"{after}>'

    return LINK.sub(fix, html)


def _shows_all(piece: Piece) -> bool:
    """Whether a piece shows the page numbers of all the others: the front matter (its contents), the index."""
    return not piece.body or piece.unit == "index"


def _numbered(piece: Piece, pages: dict[str, str]) -> str:
    """The piece's text with the page numbers ``pages`` (anchor -> folio, :meth:`Plan.folios`) it shows."""
    html = with_pages(piece.html, piece.ids, pages, not piece.body)
    if piece.unit == "index":   # the index's page numbers written out (index.py)
        html = book_index.fill_locators(html, lambda name: _folio(pages.get(name)))
    return html


def _is_front_toc(match: re.Match) -> bool:
    return match.string.rfind('<li class="toc-front">', 0, match.start()) > match.string.rfind("</li>", 0, match.start())


def piece_css(first_folio: int, body: bool) -> str:
    if not body:
        return PIECE_CSS
    return PIECE_CSS + f"@page :nth(1 of body) {{ counter-reset: page {first_folio}; }}\n"


class LostContent(Exception):
    """Footnotes (or the rest of a float) a piece would lose, deferred past its last page (their
    text): the book must be laid out as one document."""

    def __init__(self, notes: list[str]):
        super().__init__(notes)
        self.notes = notes


class _Again(Exception):
    """A piece's first folio was not the one guessed, and page numbers within it depend on it."""

    def __init__(self, folio: int):
        super().__init__(folio)
        self.folio = folio


class _ArraysOfAnyLength:
    """WeasyPrint's cffi module as weasyprint.pdf.fonts sees it, but for ``new("T[n]", values)`` (as it makes
    each font subset's arrays of glyphs) made as ``new("T[]", values)``, the same array: cffi parses each
    spelling of a type once per process (some 3 ms, with pycparser), and every n is new, so writing a
    piece's PDF spent some 30 ms of CPU parsing ten of them (0.4 s for the benchmark's book)."""

    ARRAY = re.compile(r"(\w+)\[(\d+)\]")

    def __init__(self, ffi):
        self._ffi = ffi

    def __getattr__(self, name):
        return getattr(self._ffi, name)

    def new(self, cdecl, init=None):
        found = self.ARRAY.fullmatch(cdecl) if isinstance(cdecl, str) else None
        if found is not None and isinstance(init, (list, tuple)) and len(init) == int(found.group(2)):
            return self._ffi.new(found.group(1) + "[]", init)
        return self._ffi.new(cdecl, init)


def _arrays_of_any_length() -> None:
    """Give weasyprint.pdf.fonts :class:`_ArraysOfAnyLength` (once per process)."""
    try:
        from weasyprint.pdf import fonts
    except ImportError:
        return
    ffi = getattr(fonts, "ffi", None)
    if ffi is not None and not isinstance(ffi, _ArraysOfAnyLength):
        fonts.ffi = _ArraysOfAnyLength(ffi)


# WeasyPrint's font configuration and print.css, parsed once in the server process the layout
# processes are forked from (see ``prepare``, render/pieceserver.py): each piece then starts at once
SHARED: dict = {}


def prepare(root: Path, stylesheet: Path, lang: str) -> None:
    """Parse print.css and load what every layout needs (fonts, the hyphenation dictionary,
    WeasyPrint's C bindings) once, in this process (the server, render/pieceserver.py): the
    processes forked from it share them."""
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    from .pdf import book_fetcher, print_stylesheet

    _arrays_of_any_length()
    key_ = (str(root), str(stylesheet), stylesheet.stat().st_mtime_ns if stylesheet.exists() else 0)
    if SHARED.get("key") == key_:
        return
    fonts = FontConfiguration()
    fetcher = book_fetcher(root)
    sheets, counters = print_stylesheet(stylesheet, fonts, fetcher)
    SHARED.clear()
    SHARED.update(key=key_, fonts=fonts, fetcher=fetcher, sheets=sheets, counters=counters)
    sample = (f'<html lang="{lang}"><body><p>Hyphenation prepares its dictionary; '
              f'<i>italic</i> <b>bold</b> <span style="font-variant: small-caps">Small Caps</span> 0123456789.</p>'
              '</body></html>')
    try:
        HTML(string=sample).render(stylesheets=sheets, font_config=fonts, counter_style=counters).write_pdf()
    except Exception:  # noqa: BLE001 - only a warm-up: the pieces' layouts report what fails
        pass
    # The sample breaks no word, so WeasyPrint has not loaded the hyphenation dictionary: pyphen keeps
    # each dictionary it reads for its process (and those forked from it), and WeasyPrint finds it there
    # (some 0.15 s of each piece's layout otherwise: about 2 s of CPU for the benchmark's 14 pieces).
    try:
        import pyphen

        language = pyphen.language_fallback(lang)     # as WeasyPrint finds the dictionary of a lang
        if language:
            pyphen.Pyphen(lang=language)
    except Exception:  # noqa: BLE001 - a layout loads it itself
        pass


LANG = re.compile(r'<html\b[^>]*\blang="([^"]*)"')


def start_server(root: Path, stylesheet: Path, lang: str) -> None:
    """Start the server the layout processes are forked from (render/pieceserver.py) before the
    pieces are ready, so that it loads WeasyPrint, the fonts and print.css (some 1.5 s) while the
    build writes the HTML."""
    from . import limits

    os.environ[PREPARE_ENV] = json.dumps([str(root), str(stylesheet), lang])
    limits.start_server([SERVER])


def lay_out(root: Path, html: str | None, stylesheet: Path, folio: int, body: bool, self_refs: bool,
            target: Path, ask) -> dict:
    """In a child process: lay out one piece and write its PDF; what the assembly needs to know.

    A piece that shows the page numbers of all the others (the front matter, the index) is started
    without its ``html``, and asks for it: it is given it when the others are laid out, as each tells
    the build (where its anchors fall) before it is written.

    The piece is paginated with ``folio`` (a guess) as its first folio; then it tells the build its
    number of pages (``ask``) and is told its true first folio, which the pieces before it decide.
    With its number of pages it tells the named strings it sets last, and is told those the pieces
    before it leave (``_enter_strings``). The folios and named strings only appear in the margin
    boxes, made after pagination, so they are set right then, without laying out again; unless page numbers within the piece's text depend on them
    (``self_refs``), when the piece is laid out again with its true first folio."""
    import weasyprint.layout as layout
    from weasyprint import CSS, HTML

    from . import footnotes, pdf
    from .pdf import _QuietRefusals, _drop_attachments, book_fetcher, print_stylesheet

    pdf.corrected_weasyprint()
    _arrays_of_any_length()
    if html is None:
        html = ask(("text", None))

    if SHARED.get("key", ("",))[0] == str(root) and SHARED["key"][1] == str(stylesheet):
        fonts, fetcher, sheets, counters = SHARED["fonts"], SHARED["fetcher"], SHARED["sheets"], SHARED["counters"]
    else:
        from weasyprint.text.fonts import FontConfiguration
        fonts, fetcher = FontConfiguration(), book_fetcher(root)
        sheets, counters = print_stylesheet(stylesheet, fonts, fetcher)
    original, told, content, own, used = layout.make_margin_boxes, [], [], {}, set()
    ends = PIECE_END in html    # a page for the end block, after a blank verso if the piece ends on a recto

    def margin_boxes(context, page, state):
        if not told:    # the first margin box of the piece: its pages are all laid out
            content.append(_content_pages(context.page_maker, ends))
            own.update(_last_strings(context))
            told.append(ask(("paginated", (content[0], own))))
            if told[0][0] != folio:
                if self_refs:
                    raise _Again(told[0][0])
                _shift_folios(context.page_maker, told[0][0] - folio)
        if not getattr(context, ENTERED, False):   # (again after _Again: a new layout, a new context)
            _enter_strings(context, told[0][1], used)
        return original(context, page, state)

    quiet = _QuietRefusals()
    logging.getLogger("weasyprint").addFilter(quiet)
    layout.make_margin_boxes = margin_boxes
    try:
        while True:
            try:
                document = HTML(string=html, base_url=root.as_uri() + "/", url_fetcher=fetcher).render(
                    stylesheets=[*sheets, CSS(string=piece_css(folio, body), font_config=fonts)], font_config=fonts,
                    counter_style=counters)
                break
            except _Again as again:
                folio = again.folio
        if not told:    # no page made a margin box: the build still waits to hear how many pages
            content.append(len(document.pages))
            told.append(ask(("paginated", (content[0], own))))
        pages = content[0]
        spilled = []
        if ends and len(document.pages) > pages:
            # the end block's page goes; the blank verso before it (if any) is kept, for the assembly
            spilled = _printed(document.pages[-1])
            document.pages = document.pages[:-1]
        # a note deferred from the piece's last page to the dropped page of its end block (or the rest
        # of a float broken there): in one document it is on the next piece's first page, which a
        # piece cannot do
        lost = footnotes.lost(document) or ([" ".join(spilled)] if spilled else [])
        attachments = _drop_attachments(document)
        anchors: dict[str, int] = {}
        for number, page in enumerate(document.pages):
            for name in page.anchors:
                anchors.setdefault(name, number)
        ask(("laid out", anchors))      # (the front matter may start, while this piece is written)
        bookmarks = []
        pdf.plain_bookmarks(document)
        for number, page in enumerate(document.pages):
            # a link to another piece: to a placeholder address, made a link to the book's
            # destination when the pieces are joined
            page.links = [(XREF_KIND, XREF + link[1], *link[2:]) if link[0] == "internal" and link[1] not in anchors
                          else link for link in page.links]
            bookmarks += [[number, level, label, [x, y], state] for level, label, (x, y), state in page.bookmarks]
        heights = [page.height for page in document.pages]
        starts = pagemap.page_starts(document)[:pages]   # for the EPUB's page list
        write = getattr(pdf, "write", None)   # the print edition's writer (tagged PDF, XMP), where there is one
        if write is not None:
            write(document, target)
        else:
            document.write_pdf(target)
    finally:
        layout.make_margin_boxes = original
        logging.getLogger("weasyprint").removeFilter(quiet)
    return {"pages": pages, "anchors": anchors, "bookmarks": bookmarks, "heights": heights,
            "refused": list(fetcher.refused), "attachments": attachments, "first": told[0][0] if document.pages else folio,
            "starts": starts, "strings": own, "entered": {name: told[0][1].get(name) for name in sorted(used)},
            "lost": lost}


ENTERED = "_build_book_entered_strings"


def _last_strings(context) -> dict[str, str]:
    """The value each named string (``string-set``) has at the end of the piece, where it is set in it."""
    out = {}
    for name, pages in context.string_set.items():
        values = [values for _, values in sorted(pages.items()) if values]
        if values:
            out[name] = values[-1][-1]
    return out


def _enter_strings(context, entry: dict[str, str], used: set[str]) -> None:
    """Make ``string()`` in the piece's margin boxes see, where nothing in the piece has set a named
    string yet, the value it has there in the book laid out as one document (``entry``: the value
    the pieces before this one left it with); the names whose value comes from ``entry`` go in ``used``."""
    resolve = context.get_string_set_for

    def get_string_set_for(page, name, keyword="first"):
        found = resolve(page, name, keyword)
        if found or keyword == "all-once" or (
                keyword == "first-except" and context.current_page in context.string_set.get(name, {})):
            return found
        used.add(name)   # (also when the pieces before set no value: one of them may, once laid out)
        return (entry[name],) if name in entry else found

    context.get_string_set_for = get_string_set_for
    setattr(context, ENTERED, True)


def _printed(page) -> list[str]:
    """The text and images on a page, outside its margin boxes."""
    from weasyprint.formatting_structure import boxes

    out = []
    for child in page._page_box.children:
        if isinstance(child, boxes.MarginBox):
            continue
        for box in child.descendants():
            if isinstance(box, boxes.TextBox) and box.text.strip():
                out.append(box.text.strip())
            elif isinstance(box, boxes.ReplacedBox):
                out.append(f"[{box.element_tag}]")
    return out


def _content_pages(page_maker, ends: bool) -> int:
    """The pages of a piece, without the page of its end block and the blank verso before it."""
    total = len(page_maker) - 1
    if not ends or total < 2:
        return total
    _, next_page, right_page, _, _ = page_maker[total - 2]   # as weasyprint.layout.page.remake_page decides
    blank = next_page["break"] in ("right", "recto") and not right_page
    return total - 2 if blank else total - 1


def _shift_folios(page_maker, delta: int) -> None:
    """Add ``delta`` to the page counter every page's margin boxes will show."""
    for item in page_maker:
        counters = item[3][1]
        if counters.get("page"):
            counters["page"] = [*counters["page"][:-1], counters["page"][-1] + delta]


XREF_KIND = "external"


def key(piece_html: str, stylesheet: Path, extra_css: str, entered: dict | None = None) -> str:
    files = []
    for url in sorted(set(LOCAL_FILE.findall(piece_html))):
        from urllib.parse import unquote
        path = Path(unquote(url.removeprefix("file://")))
        try:
            st = path.stat()
            files.append([url, st.st_size, st.st_mtime_ns])
        except OSError:
            files.append([url, None])
    try:
        css = stylesheet.read_bytes()
    except OSError:
        css = b""
    return cachefile.digest(cachefile.version_key(), FORMAT, piece_html, css, extra_css, files,
                            sorted((entered or {}).items()))


def cached(folder: Path | None, key_: str) -> dict | None:
    if folder is None or not (folder / f"{key_}.pdf").is_file():
        return None
    meta = cachefile.get_text(folder, key_, FORMAT, ".json")
    try:
        return json.loads(meta) if meta is not None else None
    except ValueError:
        return None


def build(root: Path, render_piece, units: list, stylesheet: Path, folder: Path | None, scratch: Path,
          jobs: int, seconds: float, memory: int, progress, names: list[str] | None = None
          ) -> tuple[Plan, dict[int, bytes]]:
    """Lay out every piece (those not cached), as many passes as page numbers need; the plan and
    each piece's PDF.

    The pieces are laid out in the book's order, ``jobs`` at once; each learns its first folio when
    the pieces before it have been paginated (``lay_out``), so a piece is laid out again only when
    the page numbers its text shows (the contents, page references to other pieces) have changed.
    The front matter, whose contents show every piece's page numbers, and the index wait for the
    others to be laid out (the index for the front matter too: its entries in a preface), and are
    laid out while those are written; the last ones are laid out together (``limits.run``'s
    ``together``), so that none is left alone on a core at the end.

    ``progress`` is told of each piece as it is laid out, by its name in ``names`` (a chapter's file)."""
    import time

    from . import limits

    deadline = time.monotonic() + seconds
    pieces = []
    for unit in units:
        html = render_piece(unit)
        pieces.append(Piece(unit, html, set(pagemap.ID.findall(html))))
    plan = Plan(pieces, {n: _estimate(p, folder) for n, p in enumerate(pieces)})
    pdfs: dict[int, bytes] = {}
    laid_out = 0
    for number in range(MAX_PASSES):
        first, pages = plan.folios()
        entries = plan.entries()
        todo = []
        for n, piece in enumerate(pieces):
            html = _numbered(piece, pages)
            k = key(html, stylesheet, piece_css(first[n], piece.body), plan.entered(n, entries))
            if piece.key == k:
                continue
            hit = cached(folder, k)
            body = cachefile.get(folder, k, FORMAT, ".pdf") if hit is not None else None
            if body is not None:
                piece.result, piece.key, pdfs[n] = hit, k, body
                continue
            todo.append((n, html, first[n]))
        if not todo:
            break
        # The front matter and the index show the page numbers of the others: laid out beside them, each
        # is given its text when they have all been laid out (their anchors' pages known), and starts
        # while they are written
        waiting = {n for n, _, _ in todo if _shows_all(pieces[n])}
        if len(waiting) == len(todo):
            # only they are laid out: the index still waits for the front matter (its entries in a
            # preface); else there is nothing to wait for
            waiting = {n for n in waiting if pieces[n].body} if len(waiting) > 1 else set()
        todo.sort(key=lambda t: t[0] in waiting)    # last; the others in the book's order
        given: dict[int, str] = {}      # the text each of them was given
        found = LANG.search(pieces[0].html)
        # what the server the layout processes are forked from loads once (render/pieceserver.py)
        os.environ[PREPARE_ENV] = json.dumps([str(root), str(stylesheet), found.group(1) if found else "en"])
        progress.step(f"laying out {len(todo)} of {len(pieces)} pieces of the PDF (WeasyPrint, "
                      f"{min(jobs, len(todo))} at once{', pass ' + str(number + 1) if number else ''})")
        plan.reported, plan.reported_strings, plan.reported_anchors = {}, {}, {}
        order = [n for n, _, _ in todo]

        def answer(i: int, question: tuple[str, object]) -> object:
            """What the i-th piece laid out asks (see ``lay_out``): "paginated", its number of pages and
            the named strings it sets last, answered with its true first folio and the named strings'
            values where it starts, once the pieces before it are paginated; "laid out", the page of
            each of its anchors; "text", of a piece that shows the others' page numbers, answered with
            its text when they are all laid out."""
            n = order[i]
            kind, value = question
            if kind == "laid out":
                if n not in waiting or not pieces[n].body:     # (the front matter's: the index waits for them)
                    plan.reported_anchors[n] = value
                return None
            if kind == "text":
                # the front matter is given the pages of all the others but its own and the index's;
                # the index waits for the front matter's too (its entries in a preface): neither is given
                # estimates, nor what one ends first
                if any(m not in plan.reported_anchors for m in order
                       if m not in waiting or (pieces[n].body and not pieces[m].body)):
                    raise limits.NotYet()
                given[n] = _numbered(pieces[n], plan.folios()[1])
                return given[n]
            plan.reported[n], strings = value
            if n not in waiting:    # (the others have all been answered when these are paginated)
                plan.reported_strings[n] = strings
            if any(m < n and m not in plan.reported for m in order if m not in waiting):
                raise limits.NotYet()
            return plan.folios()[0][n], plan.entries()[n]

        def done(i: int, result: dict) -> None:
            n = order[i]
            finished.append(n)
            name = names[n] if names else str(pieces[n].unit)
            progress.step(f"laid out {name}: {result['pages']} page{'s' if result['pages'] != 1 else ''} "
                          f"({len(finished)} of {len(todo)})")

        finished: list[int] = []
        tasks = [_task(root, None if n in waiting else html, stylesheet, guess, pieces[n].body,
                       _refers_to_itself(pieces[n].html, pieces[n].ids), scratch / f"{n}-{number}.pdf")
                 for n, html, guess in todo]
        left = deadline - time.monotonic()
        if left <= 0:
            raise limits.OutOfTime(seconds)
        try:
            results = limits.run(tasks, jobs, left, memory, answer, server=[SERVER], together=1 + len(waiting),
                                  done=done)
        except limits.OutOfTime:
            raise limits.OutOfTime(seconds) from None
        finally:
            plan.reported, plan.reported_strings, plan.reported_anchors = {}, {}, {}
        for (n, html, _), result, task in zip(todo, results, tasks):
            html = given.get(n, html)
            k = key(html, stylesheet, piece_css(result["first"], pieces[n].body), result["entered"])
            path = task.target
            pieces[n].result, pieces[n].key, pdfs[n] = result, k, path.read_bytes()
            laid_out += 1
            if folder is not None:
                cachefile.put(folder, k, json.dumps(result), FORMAT, ".json")
                cachefile.put(folder, k, pdfs[n], FORMAT, ".pdf")
                known = json.dumps({key_: result[key_] for key_ in ("pages", "anchors", "strings", "entered")})
                for estimate in _estimate_keys(pieces[n]):
                    cachefile.put(folder, estimate, known, FORMAT, ".json")
            path.unlink(missing_ok=True)
    plan.laid_out = laid_out
    limits.stop_server()    # its memory is the join's
    if folder is not None:
        used = {p.key for p in pieces} | {k for p in pieces for k in _estimate_keys(p)}
        cachefile.prune(folder, used, ".json")
        cachefile.prune(folder, used, ".pdf")
    lost = [note for piece in pieces for note in piece.result.get("lost", [])]
    if lost:
        raise LostContent(lost)
    return plan, pdfs


def _folio(value: str | None) -> str | None:
    """A folio as :meth:`Plan.folios` gives it ('12', 'r3' in the front matter) as printed."""
    if value is None:
        return None
    return roman(int(value[1:])) if value.startswith("r") else value


def _refers_to_itself(html: str, ids: set[str]) -> bool:
    """Whether the piece shows the page number of a place within itself (target-counter())."""
    return any(target in ids and "page-ref" in before + after for before, target, after in LINK.findall(html))


class _Task:
    def __init__(self, root, html, stylesheet, folio, body, self_refs, target):
        self.args = (root, html, stylesheet, folio, body, self_refs, target)
        self.target = target

    def __call__(self, ask):
        return lay_out(*self.args, ask)


_task = _Task


CHARACTERS_PER_PAGE = 2000


def _estimate_keys(piece: Piece) -> list[str]:
    """Where what a piece took last time is kept: by its text, and by its place in the book (an
    edited chapter most often keeps its number of pages)."""
    return [cachefile.digest(cachefile.version_key(), FORMAT, "estimate", piece.html),
            cachefile.digest(cachefile.version_key(), FORMAT, "estimate of", repr(piece.unit))]


def _estimate(piece: Piece, folder: Path | None) -> dict:
    """How many pages a piece will take and where its anchors fall: as last time, else from its length."""
    for estimate in _estimate_keys(piece) if folder else []:
        known = cachefile.get_text(folder, estimate, FORMAT, ".json")
        try:
            found = json.loads(known) if known else None
            if found:
                return {"pages": int(found["pages"]), "anchors": dict(found["anchors"]),
                        "strings": dict(found.get("strings", {})), "entered": dict(found.get("entered", {}))}
        except (ValueError, KeyError, TypeError):
            pass
    return {"pages": len(piece.html) // CHARACTERS_PER_PAGE + 1, "anchors": {}}


def assemble(plan: Plan, pdfs: dict[int, bytes], target: Path, folder: Path | None = None, jobs: int = 1) -> int:
    """Join the pieces' PDFs into ``target``; the number of pages of the front matter. The fonts joined
    from the pieces' subsets (``jobs`` at once) are cached in ``folder``.

    With pikepdf (qpdf, in C++): it reads the pieces' object streams and writes the book some ten
    times faster than a PDF library in Python, which took longer to join the pieces than the layout
    of an edited chapter took."""
    import io
    import warnings

    import pikepdf
    from pikepdf import Array, Dictionary, Name, String

    out = pikepdf.new()
    starts = plan.starts()
    destinations: dict[str, tuple[int, object, object]] = {}
    structure = _Structure(out)
    sources = [pikepdf.open(io.BytesIO(pdfs[n])) for n in range(len(plan.pieces))]
    try:
        fonts: set[str] = set()
        shared = _share_fonts(out, sources, folder, fonts, jobs)
        for n, piece in enumerate(plan.pieces):
            source = sources[n]
            if n == 0:
                info = source.trailer.get("/Info")
                if info is not None:
                    out.trailer.Info = out.make_indirect(Dictionary({k: _copy(out, v) for k, v in info.items()}))
                catalog = source.Root
                for name in ("/Lang", "/MarkInfo", "/ViewerPreferences", "/Metadata"):   # /Metadata: the XMP packet
                    if name in catalog:
                        out.Root[name] = _copy(out, catalog[name])
            while len(out.pages) < starts[n]:     # a piece laid out without its end block
                box = out.pages[-1].mediabox
                structure.blank(out.add_blank_page(page_size=(float(box[2]) - float(box[0]),
                                                              float(box[3]) - float(box[1]))))
            # its pages, and the blank verso the next piece starts after (laid out with this one's end block)
            kept = piece.result["pages"] + (1 if n + 1 < len(starts) and starts[n + 1] > starts[n] + piece.result["pages"]
                                            else 0)
            first = len(out.pages)
            with warnings.catch_warnings():   # named destinations and links: see below
                warnings.simplefilter("ignore", pikepdf.PageCopyWarning)
                out.pages.extend(source.pages[:kept])
            added = list(out.pages[first:])
            structure.add(source, added)
            numbers = {page.obj.objgen: i for i, page in enumerate(source.pages)}
            dests = source.Root.get("/Names", {}).get("/Dests")
            for name, dest in (pikepdf.NameTree(dests).items() if dests is not None else ()):
                if isinstance(dest, Dictionary):
                    dest = dest.get("/D")
                if not isinstance(dest, Array) or len(dest) < 2 or dest[0].objgen not in numbers:
                    continue
                left = dest[2] if len(dest) > 2 and dest[1] == Name.XYZ else None
                top = dest[3] if len(dest) > 3 and dest[1] == Name.XYZ else None
                destinations[str(name)] = (starts[n] + numbers[dest[0].objgen], left, top)
        structure.finish()
        if shared:
            _use_shared_fonts(out, shared)
        # links to another piece: to the book's named destination
        for page in out.pages:
            for annot in page.obj.get("/Annots") or []:
                action = annot.get("/A")
                uri = str(action.get("/URI", "")) if action is not None else ""
                if uri.startswith(XREF):
                    del annot["/A"]
                    annot.Dest = String(uri[len(XREF):])
        # each page's object looked up once: out.pages[n] took 1.6 ms a call on a 464-page book (1.3 s
        # for its 823 destinations)
        page_objects = [page.obj for page in out.pages]
        entries = []
        for name in sorted(destinations):
            page_number, left, top = destinations[name]
            entries += [String(name), Array([page_objects[page_number], Name.XYZ, left or 0, top or 0, 0])]
        names = Array(entries)
        if len(names):
            out.Root.Names = out.make_indirect(Dictionary(Dests=out.make_indirect(Dictionary(Names=names))))
        # the outline: every piece's bookmarks, made a tree as WeasyPrint makes one document's
        pages = [_Page() for _ in range(len(out.pages))]
        for n, piece in enumerate(plan.pieces):
            for number, level, label, (x, y), state in piece.result["bookmarks"]:
                page = pages[starts[n] + number]
                page.height = piece.result["heights"][number]
                page.bookmarks.append((level, label, (x, y), state))
        root: list = []
        skipped, last_by_depth, previous = [], [root], 0
        for number, page in enumerate(pages):
            previous = _page_bookmark_tree(page, skipped, last_by_depth, previous, number)
        _outlines(out, root, page_objects)
        # page labels as render/pagelabels.py writes them for one document: roman, then arabic from 1
        front_pages = next((s for s, p in zip(starts, plan.pieces) if p.body), len(out.pages))
        nums = Array()
        if front_pages:
            nums.extend([0, Dictionary(S=Name.r)])
        if front_pages < len(out.pages):
            nums.extend([front_pages, Dictionary(S=Name.D, St=1)])
        out.Root.PageLabels = Dictionary(Nums=nums)
        version = max([s.pdf_version for s in sources], default="1.7")
        # object streams, as the pieces have (a third of the size); the XMP packet as it was
        out.save(target, min_version=version, object_stream_mode=pikepdf.ObjectStreamMode.generate,
                 fix_metadata_version=False, deterministic_id=True)
    finally:
        for source in sources:
            source.close()
        out.close()
    if folder is not None:
        cachefile.prune(folder, fonts, FONT)
    return front_pages


def _copy(out, value):
    """``value`` (of a piece's PDF) as an object of ``out``: indirect objects copied once per piece
    (qpdf keeps, for each piece, what it has copied, so references between copies are kept)."""
    import pikepdf

    if isinstance(value, pikepdf.Object) and value.is_indirect:
        return out.copy_foreign(value)
    if isinstance(value, pikepdf.Array):
        return pikepdf.Array([_copy(out, item) for item in value])
    if isinstance(value, pikepdf.Dictionary):
        return pikepdf.Dictionary({k: _copy(out, v) for k, v in value.items()})
    return value


def _outlines(out, bookmarks: list, pages: list, parent=None) -> tuple[list, int]:
    """The outline's items for a bookmark tree: weasyprint.pdf.anchors.add_outlines (WeasyPrint 70, BSD
    licence), so that the joined book's outline is written as one document's would be."""
    from pikepdf import Array, Dictionary, Name, String

    count, outlines = len(bookmarks), []
    for title, (page, x, y), children, state in bookmarks:
        outline = out.make_indirect(Dictionary(
            Title=String(title), Dest=Array([pages[page], Name.XYZ, x, y, 0])))
        children_outlines, children_count = _outlines(out, children, pages, parent=outline)
        outline.Count = -children_count if state == "closed" else children_count
        if state != "closed":
            count += children_count
        if outlines:
            outline.Prev = outlines[-1]
            outlines[-1].Next = outline
        if children_outlines:
            outline.First, outline.Last = children_outlines[0], children_outlines[-1]
        if parent is not None:
            outline.Parent = parent
        outlines.append(outline)
    if parent is None and outlines:
        dictionary = out.make_indirect(Dictionary(Count=count, First=outlines[0], Last=outlines[-1]))
        for outline in outlines:
            outline.Parent = dictionary
        out.Root.Outlines = dictionary
    return outlines, count


def _share_fonts(out, sources, folder: Path | None, keys: set[str], jobs: int = 1) -> dict:
    """One font for each font the pieces share, not one per piece: font name -> the joined font.

    WeasyPrint embeds in each piece a subset of each font with the glyphs that piece uses, each shown
    by its glyph id in the whole font (the subset keeps that glyph id, or, in a CID-keyed font cut by
    HarfBuzz, that CID: ``_glyph_names``), under a name that depends on the font only. The
    subsets of one font are joined into one (each glyph from a subset that has it: fontTools), with
    the widths and the ToUnicode map of all the pieces; every page's font resource is then made to
    point to it (``_use_shared_fonts``). TrueType subsets are joined glyph by glyph as well
    (``_joined_outlines``). A font whose subsets cannot be joined so (neither CFF-based OpenType nor
    TrueType with Identity encoding, glyph orders that differ) is left as it is, a copy per piece.
    The fonts are joined ``jobs`` at once (_join_all). A joined font is cached in ``folder`` by the subsets
    it is joined from (``keys``: those used)."""
    found: dict[str, list] = {}
    seen: set = set()
    for number, source in enumerate(sources):
        for page in source.pages:
            for font in (page.obj.get("/Resources") or {}).get("/Font", {}).values():
                if (number, font.objgen) in seen and font.is_indirect:
                    continue
                seen.add((number, font.objgen))
                found.setdefault(str(font.get("/BaseFont")), []).append(font)
    parts = {}
    for name, fonts in found.items():
        if len(fonts) > 1:
            try:
                read = _font_parts(fonts)
            except Exception:  # noqa: BLE001 - a font that cannot be joined stays one per piece
                read = None
            if read is not None:
                parts[name] = read
    programs = {name: _programs(read) for name, read in parts.items()}
    keys_of = {name: _joined_key(subsets) for name, subsets in programs.items()}
    data: dict[str, bytes | None] = {}
    todo = []
    for name, subsets in programs.items():
        if len(subsets) == 1:
            data[name] = next(iter(subsets))
        else:
            data[name] = cachefile.get(folder, keys_of[name], FORMAT, FONT) if folder is not None else None
            if data[name] is None:
                todo.append(name)
    for name, joined in zip(todo, _join_all([programs[name] for name in todo], jobs)):
        data[name] = joined
        if joined is not None and folder is not None:
            cachefile.put(folder, keys_of[name], joined, FORMAT, FONT)
    shared = {}
    for name, read in parts.items():
        if data[name] is None:
            continue
        if keys is not None and len(programs[name]) > 1:
            keys.add(keys_of[name])
        try:
            shared[name] = _embedded_font(out, read, data[name])
        except Exception:  # noqa: BLE001 - as above
            pass
    return shared


def _use_shared_fonts(out, shared: dict) -> None:
    done: set = set()
    for page in out.pages:
        resources = (page.obj.get("/Resources") or {}).get("/Font")
        if resources is None or (resources.is_indirect and resources.objgen in done):
            continue
        if resources.is_indirect:
            done.add(resources.objgen)
        for key in list(resources.keys()):
            name = str(resources[key].get("/BaseFont"))
            if name in shared:
                resources[key] = shared[name]


CMAP_ENTRY = re.compile(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>")


FONT = ".otf"    # the suffix of a joined font in the cache


def _font_parts(fonts: list) -> list | None:
    """What the subsets ``fonts`` of one font are made of (each: the font, its CID font, its descriptor, its
    program, its widths, its ToUnicode entries); None if they cannot be joined (see _share_fonts)."""
    from pikepdf import Name

    parts = []
    for font in fonts:
        if font.get("/Subtype") != Name.Type0 or font.get("/Encoding") != Name("/Identity-H"):
            return None
        cid = font["/DescendantFonts"][0]
        if cid.get("/CIDToGIDMap", Name.Identity) != Name.Identity:
            return None
        descriptor = cid["/FontDescriptor"]
        if cid.get("/Subtype") == Name.CIDFontType0:        # CFF-based OpenType
            program = descriptor.get("/FontFile3")
            if program is None or program.get("/Subtype") != Name.OpenType:
                return None
        elif cid.get("/Subtype") == Name.CIDFontType2:      # TrueType (glyf)
            program = descriptor.get("/FontFile2")
            if program is None:
                return None
        else:
            return None
        widths = _widths(cid.get("/W") or [])
        unicode = font.get("/ToUnicode")
        entries = dict(CMAP_ENTRY.findall(unicode.read_bytes())) if unicode is not None else {}
        parts.append((font, cid, descriptor, program.read_bytes(), widths, entries))
    return parts


def _programs(parts: list) -> dict[bytes, set]:
    """Each different font program of ``parts``, with the glyphs (codes) shown by it."""
    programs: dict[bytes, set] = {}
    for part in parts:
        programs.setdefault(part[3], set()).update(part[4])
    return programs


def _joined_key(programs: dict[bytes, set]) -> str:
    return cachefile.digest(cachefile.version_key(), FORMAT, "joined font",
                            *[part for program, used in programs.items() for part in (program, sorted(used))])


def _join_all(todo: list[dict[bytes, set]], jobs: int = 1) -> list[bytes | None]:
    """:func:`_joined_program` of each of ``todo``: ``jobs`` at once, in processes forked for it, where there
    are several fonts (each is fontTools' Python, 0.1-0.4 s a font for the benchmark's book, at the end of
    the build, when nothing else runs); else, or if no process could be forked or one died, in this one."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    workers = min(len(todo), jobs)
    if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        from fontTools.ttLib import TTFont  # noqa: F401 - imported once, here, not in each process
        from fontTools.ttLib.tables import C_F_F_  # noqa: F401
        try:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                # the largest first, so that no process is left with a large font at the end
                order = sorted(range(len(todo)), key=lambda n: -sum(len(p) for p in todo[n]))
                done = dict(zip(order, pool.map(_joined_program, [todo[n] for n in order])))
                return [done[n] for n in range(len(todo))]
        except (OSError, BrokenProcessPool):     # (joined here)
            pass
    return [_joined_program(programs) for programs in todo]


def _joined_program(programs: dict[bytes, set]) -> bytes | None:
    """One font program with every glyph of ``programs`` (subsets of one font: program -> the glyphs shown
    by it), each glyph from a subset that has it; None if they cannot be joined so."""
    import io

    from fontTools.ttLib import TTFont

    try:
        loaded = [(TTFont(io.BytesIO(program), recalcBBoxes=False, recalcTimestamp=False), used)
                  for program, used in programs.items()]
        base, _ = max(loaded, key=lambda item: len(item[0].getGlyphOrder()))
        joined = _joined_outlines if "glyf" in base else _joined_charstrings
        if not joined(base, loaded):
            return None
        buffer = io.BytesIO()
        base.save(buffer)
    except Exception:  # noqa: BLE001 - a font that cannot be joined stays one per piece
        return None
    return buffer.getvalue()


def _joined_charstrings(base, loaded: list) -> bool:
    """Join CFF subsets into ``base`` (the one with the most glyph ids): each glyph a piece shows, by
    its name (``_glyph_names``), from the subset whose charstring draws it. False if a piece's glyphs
    cannot be matched to the base's."""
    order = base.getGlyphOrder()
    charstrings = base["CFF "].cff.topDictIndex[0].CharStrings
    metrics = base["hmtx"].metrics
    for other, used in loaded:
        if other is base:
            continue
        names, keyed = _glyph_names(other, used), _cid_keyed(other)
        if names is None or keyed != _cid_keyed(base) or any(n not in charstrings for n in names.values()):
            return False
        if not keyed and other.getGlyphOrder() != order[:len(other.getGlyphOrder())]:
            return False    # the same glyph ids must be the same glyphs
        theirs = other["CFF "].cff.topDictIndex[0].CharStrings
        for code in sorted(used):
            name = names[code]
            mine, given = charstrings[name], theirs[name]
            for charstring in (mine, given):
                if charstring.bytecode is None:
                    charstring.compile()
            if len(given.bytecode) > len(mine.bytecode):
                charstrings[name] = given
                metrics[name] = other["hmtx"].metrics[name]
    return True


def _joined_outlines(base, loaded: list) -> bool:
    """Join TrueType subsets into ``base`` (the one with the most glyph ids). The PDF shows a glyph by
    its id in the whole font (CIDToGIDMap Identity), and a piece's subset keeps each glyph it shows
    at that id; not the glyphs a composite is made of: WeasyPrint cuts a subset twice, the second
    time keeping the ids up to the highest shown and moving any part above it (an accented
    letter's accent, in DejaVu Sans) to the ids after it, which another piece may show. So each
    glyph a piece shows is drawn from that piece's subset with its parts drawn into it (a simple
    glyph: hinting is not kept anyway; a scaled part's points rounded to the font's units, half a
    unit at most), with its advance, at its id in ``base``; every other id is left empty. By id,
    not by name: fontTools names a subset's glyphs from its own cmap, which differs from piece to
    piece. False if a piece shows an id ``base`` lacks, or for a variable font (its glyphs'
    variations would not follow them)."""
    from fontTools.pens.recordingPen import DecomposingRecordingPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    if "gvar" in base:
        return False
    order = base.getGlyphOrder()
    drawn: dict[int, tuple] = {}
    for font, used in loaded:
        names = font.getGlyphOrder()
        if "glyf" not in font or any(gid >= len(names) or gid >= len(order) for gid in used):
            return False
        glyphs, advances = font.getGlyphSet(), font["hmtx"].metrics
        for gid in sorted(used):
            if gid in drawn:
                continue
            recording = DecomposingRecordingPen(glyphs)
            glyphs[names[gid]].draw(recording)
            pen = TTGlyphPen(None)
            recording.replay(pen)
            drawn[gid] = (pen.glyph(), advances[names[gid]])
    glyf, metrics = base["glyf"], base["hmtx"].metrics
    for gid, name in enumerate(order):
        glyph, advance = drawn.get(gid) or (TTGlyphPen(None).glyph(), (0, 0))
        glyf[name], metrics[name] = glyph, advance
    for tag in ("hdmx", "LTSH", "VDMX"):    # device metrics of the base's own glyphs: optional, dropped
        if tag in base:
            del base[tag]
    base.recalcBBoxes = True                # (each glyph's box, the font's, maxp's largest glyph)
    return True


def _embedded_font(out, parts: list, data: bytes):
    """One Type0 font in ``out`` for the subsets ``parts`` (see _font_parts) of one font, with the font
    program ``data``, the widths and the ToUnicode map of all of them."""
    import pikepdf
    from pikepdf import Array, Dictionary, Name

    first_font, first_cid, first_descriptor = parts[0][:3]
    program = pikepdf.Stream(out, data)
    kind = "/FontFile2" if "/FontFile2" in first_descriptor else "/FontFile3"
    if kind == "/FontFile3":
        program.Subtype = Name.OpenType
    else:
        program.Length1 = len(data)     # (TrueType: the length of the font program itself)
    descriptor = Dictionary({k: _copy(out, v) for k, v in first_descriptor.items() if k != kind})
    descriptor[kind] = program
    boxes = [[float(n) for n in part[2].get("/FontBBox", [])] for part in parts]
    if all(len(box) == 4 for box in boxes):     # (WeasyPrint's box is that of the glyphs a piece shows)
        descriptor.FontBBox = Array([_number(min(box[i] for box in boxes)) for i in (0, 1)]
                                    + [_number(max(box[i] for box in boxes)) for i in (2, 3)])
    widths: dict[int, float] = {}
    entries: dict[bytes, bytes] = {}
    for part in parts:
        widths.update(part[4])
        entries.update(part[5])
    cid = Dictionary({k: _copy(out, v) for k, v in first_cid.items() if k not in ("/W", "/FontDescriptor")})
    cid.FontDescriptor = out.make_indirect(descriptor)
    cid.W = Array(_width_array(widths))
    font = Dictionary({k: _copy(out, v) for k, v in first_font.items() if k not in ("/DescendantFonts", "/ToUnicode")})
    font.DescendantFonts = Array([out.make_indirect(cid)])
    if entries:
        font.ToUnicode = pikepdf.Stream(out, _to_unicode(entries))
    return out.make_indirect(font)


def _cid_keyed(font) -> bool:
    return hasattr(font["CFF "].cff.topDictIndex[0], "ROS")


def _glyph_names(font, codes) -> dict[int, str] | None:
    """The name of the glyph each of ``codes`` (the character codes the PDF shows it by) selects in a
    piece's subset ``font``; None if one is missing. In a CID-keyed font a code is a CID, and fontTools
    names the glyph of CID n ``cid%05d``: HarfBuzz's subsets keep each glyph's CID but may move it to
    another glyph id (fontTools' keep both). In a name-keyed font a code is a glyph id."""
    charstrings = font["CFF "].cff.topDictIndex[0].CharStrings
    if _cid_keyed(font):
        names = {code: f"cid{code:05d}" for code in codes}
    else:
        order = font.getGlyphOrder()
        if any(code >= len(order) for code in codes):
            return None
        names = {code: order[code] for code in codes}
    return names if all(name in charstrings for name in names.values()) else None


def _widths(array) -> dict[int, float]:
    """A /W array as glyph id -> width."""
    import pikepdf

    out: dict[int, float] = {}
    i = 0
    while i < len(array):
        first = int(array[i])
        if i + 1 < len(array) and isinstance(array[i + 1], pikepdf.Array):
            for offset, width in enumerate(array[i + 1]):
                out[first + offset] = float(width)
            i += 2
        else:
            for gid in range(first, int(array[i + 1]) + 1):
                out[gid] = float(array[i + 2])
            i += 3
    return out


def _width_array(widths: dict[int, float]) -> list:
    import pikepdf

    out: list = []
    run: list = []
    start = previous = None
    for gid in sorted(widths):
        if previous is not None and gid == previous + 1:
            run.append(widths[gid])
        else:
            if run:
                out += [start, pikepdf.Array([_number(w) for w in run])]
            start, run = gid, [widths[gid]]
        previous = gid
    if run:
        out += [start, pikepdf.Array([_number(w) for w in run])]
    return out


def _number(value: float):
    return int(value) if value == int(value) else value


def _to_unicode(entries: dict[bytes, bytes]) -> bytes:
    """A ToUnicode CMap as WeasyPrint writes one, for glyph id -> text entries (hex)."""
    items = sorted(entries.items(), key=lambda item: int(item[0], 16))
    blocks = []
    for i in range(0, len(items), 100):     # at most 100 entries to a block
        chunk = items[i:i + 100]
        blocks.append(b"%d beginbfchar\n" % len(chunk) + b"".join(b"<%s> <%s>\n" % item for item in chunk)
                      + b"endbfchar\n")
    return (b"/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo\n"
            b"<< /Registry (Adobe)\n/Ordering (UCS)\n/Supplement 0\n>> def\n/CMapName /Adobe-Identity-UCS def\n"
            b"/CMapType 2 def\n1 begincodespacerange\n<0000> <ffff>\nendcodespacerange\n" + b"".join(blocks)
            + b"endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend")


class _Structure:
    """The structure trees of tagged pieces (PDF/UA) joined as one: every piece's structure elements
    under one Document element, in the book's order; their parent trees renumbered into one, and each
    page's /StructParents and each annotation's /StructParent moved with them."""

    def __init__(self, out):
        self.out = out
        self.kids: list = []
        self.nums: list = []
        self.next_key = 0
        self.role_map: dict = {}
        self.document = None

    def add(self, source, added) -> None:
        from pikepdf import Dictionary, Name

        tree = source.Root.get("/StructTreeRoot")
        if tree is None:
            return
        out, offset = self.out, self.next_key
        if self.document is None:
            self.document = out.make_indirect(Dictionary(Type=Name.StructElem, S=Name.Document))
        for new in added:     # copies of the piece's pages: their numbers in its parent tree, moved
            if "/StructParents" in new.obj:
                new.obj.StructParents = int(new.obj.StructParents) + offset
            for annot in new.obj.get("/Annots") or []:
                if "/StructParent" in annot:
                    annot.StructParent = int(annot.StructParent) + offset
        for element in _items(tree.get("/K")):
            children = _items(element.get("/K")) if isinstance(element, Dictionary) and \
                element.get("/S") == Name.Document else [element]
            for child in children:
                self.kids.append(self._clone(child))
        keys = []
        # copied as a whole (in C++), after the elements its values point to
        for number, value in _numbers(_copy(out, tree.get("/ParentTree"))):
            self.nums += [number + offset, value]
            keys.append(number + offset)
        self.next_key = max([self.next_key, *[k + 1 for k in keys]])
        for name, value in (tree.get("/RoleMap") or {}).items():
            self.role_map.setdefault(name, _copy(out, value))

    def blank(self, page) -> None:
        """A blank page put between tagged pieces: no marked content, as in one document."""
        from pikepdf import Array

        if self.document is not None:
            page.obj.StructParents = self.next_key
            self.nums += [self.next_key, Array()]
            self.next_key += 1

    def _clone(self, element):
        """A copy of a structure element (and all below it) in the book, its parent the Document."""
        from pikepdf import Dictionary

        parent = element.get("/P") if isinstance(element, Dictionary) else None
        if parent is not None:   # not the piece's own tree above it
            del element["/P"]
        try:
            copy = _copy(self.out, element)
        finally:
            if parent is not None:
                element.P = parent
        if isinstance(copy, Dictionary):
            copy.P = self.document
        return copy

    def finish(self) -> None:
        from pikepdf import Array, Dictionary, Name

        if self.document is None:
            return
        out = self.out
        root = out.make_indirect(Dictionary(
            Type=Name.StructTreeRoot, K=Array([self.document]),
            ParentTree=out.make_indirect(Dictionary(Nums=Array(self.nums))), ParentTreeNextKey=self.next_key))
        if self.role_map:
            root.RoleMap = Dictionary(self.role_map)
        self.document.P = root
        self.document.K = Array(self.kids)
        out.Root.StructTreeRoot = root


def _items(value) -> list:
    import pikepdf

    if value is None:
        return []
    return list(value) if isinstance(value, pikepdf.Array) else [value]


def _numbers(tree):
    """The (number, value) pairs of a number tree (/Nums, and /Kids below)."""
    if tree is None:
        return
    nums = tree.get("/Nums") or []
    for i in range(0, len(nums) - 1, 2):
        yield int(nums[i]), nums[i + 1]
    for kid in tree.get("/Kids") or []:
        yield from _numbers(kid)


class _Page:
    def __init__(self):
        self.bookmarks: list = []
        self.height = 0.0


def _page_bookmark_tree(page: _Page, skipped_levels: list, last_by_depth: list, previous_level: int,
                        page_number: int) -> int:
    """The bookmarks of a page added to the outline's tree: weasyprint.anchors.make_page_bookmark_tree
    (WeasyPrint 70, BSD licence), with its CSS pixels to PDF points transform (0.75, y from the foot)
    written out, so that the build need not load WeasyPrint to join the pieces."""
    for level, label, (point_x, point_y), state in page.bookmarks:
        if level > previous_level:
            skipped_levels.append(level - previous_level - 1)
        else:
            temp = level
            while temp < previous_level:
                temp += 1 + skipped_levels.pop()
            if temp > previous_level:
                skipped_levels.append(temp - previous_level - 1)
        previous_level = level
        depth = level - sum(skipped_levels)
        children: list = []
        subtree = (label, (page_number, point_x * 0.75, page.height * 0.75 - point_y * 0.75), children, state)
        last_by_depth[depth - 1].append(subtree)
        del last_by_depth[depth:]
        last_by_depth.append(children)
    return previous_level
