"""The print edition laid out a piece at a time, then assembled into one PDF.

WeasyPrint's time and memory grow faster than the number of pages. So the front matter, each part
page, each chapter and the bibliography are each laid out as a document of their own, several at
once (forked processes, :mod:`.limits`), and the pieces are joined into one PDF (pypdf) whose pages,
folios, running heads, contents, page references, links, named destinations and outline are those
of the book laid out as one document:

- every piece after the front matter opens on a right-hand page: a blank verso is put before it when
  the pieces before it end on a right-hand page (as ``break-before: right`` does in one document);
- each piece is given the folio its first page has in the book (``counter-reset`` on its first page),
  the book's title for the running heads, and, for every link to another piece, the folio the target
  has (``data-page``, shown instead of ``target-counter()``, which sees only its own document);
- links to another piece are written as links to a placeholder address, and made links to the
  book's named destinations when the pieces are joined; the outline is made from every piece's
  bookmarks by WeasyPrint's own algorithm, as if they were one document's.

Where page numbers are not yet known (a cold build), pieces are laid out with estimates, and those
whose folios or references turn out different are laid out again (as LaTeX runs twice). Each piece's
PDF is cached in ``build/.cache/pdf-pieces/`` by its HTML (with the page numbers it shows), its
stylesheets and its first folio, so an edit to one chapter lays out that chapter again, and the
pieces whose page numbers its new length changes.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import cache as cachefile
from .. import index as book_index
from .. import templating

FORMAT = "build_book-pdf-piece 1"
FOLDER = "pdf-pieces"
MAX_PASSES = 4
XREF = "build-book-piece:"     # the placeholder address of a link to another piece

# What a piece needs besides print.css (only with build_book's own print.css: see ``applies``).
PIECE_CSS = """
.main-matter[data-book-title] { string-set: book-title attr(data-book-title); }
.toc-list a[data-page]::after, .list-of a[data-page]::after
  { content: leader(" . ") attr(data-page); }
.toc-front a[data-page]::after, .toc-list .front-ref[data-page]::after, .list-of a.front-ref[data-page]::after
  { content: leader(" . ") attr(data-page); }
a.page-ref[data-page]::after, a.page-ref.front-ref[data-page]::after
  { content: " " attr(data-page-word) " " attr(data-page); }
"""

ID = re.compile(r'\bid="([^"]+)"')
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
    laid_out: int = 0     # how many pieces this build laid out (the others came from the cache)

    def pages(self, n: int) -> int:
        piece = self.pieces[n]
        return (piece.result or self.estimates[n])["pages"]

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
            known = (piece.result or self.estimates[n]).get("anchors", {})
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


def _is_front_toc(match: re.Match) -> bool:
    return match.string.rfind('<li class="toc-front">', 0, match.start()) > match.string.rfind("</li>", 0, match.start())


def piece_css(first_folio: int, body: bool) -> str:
    if not body:
        return PIECE_CSS
    return PIECE_CSS + f"@page :nth(1 of body) {{ counter-reset: page {first_folio}; }}\n"


def lay_out(root: Path, html: str, stylesheet: Path, extra_css: str, target: Path) -> dict:
    """In a child process: lay out one piece and write its PDF; what the assembly needs to know."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    from .pdf import _QuietRefusals, _drop_attachments, book_fetcher

    fonts = FontConfiguration()
    fetcher = book_fetcher(root)
    css = [CSS(filename=str(stylesheet), font_config=fonts, url_fetcher=fetcher),
           CSS(string=extra_css, font_config=fonts)]
    quiet = _QuietRefusals()
    logging.getLogger("weasyprint").addFilter(quiet)
    try:
        document = HTML(string=html, base_url=root.as_uri() + "/", url_fetcher=fetcher).render(
            stylesheets=css, font_config=fonts)
        attachments = _drop_attachments(document)
        anchors: dict[str, int] = {}
        for number, page in enumerate(document.pages):
            for name in page.anchors:
                anchors.setdefault(name, number)
        bookmarks = []
        for number, page in enumerate(document.pages):
            # a link to another piece: to a placeholder address, made a link to the book's
            # destination when the pieces are joined
            page.links = [(XREF_KIND, XREF + link[1], *link[2:]) if link[0] == "internal" and link[1] not in anchors
                          else link for link in page.links]
            bookmarks += [[number, level, label, [x, y], state] for level, label, (x, y), state in page.bookmarks]
        heights = [page.height for page in document.pages]
        document.write_pdf(target)
    finally:
        logging.getLogger("weasyprint").removeFilter(quiet)
    return {"pages": len(document.pages), "anchors": anchors, "bookmarks": bookmarks, "heights": heights,
            "refused": fetcher.refused, "attachments": attachments}


XREF_KIND = "external"


def key(piece_html: str, stylesheet: Path, extra_css: str) -> str:
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
    return cachefile.digest(cachefile.version_key(), FORMAT, piece_html, css, extra_css, files)


def cached(folder: Path | None, key_: str) -> dict | None:
    if folder is None or not (folder / f"{key_}.pdf").is_file():
        return None
    meta = cachefile.get_text(folder, key_, FORMAT, ".json")
    try:
        return json.loads(meta) if meta is not None else None
    except ValueError:
        return None


def build(root: Path, render_piece, units: list, stylesheet: Path, folder: Path | None, scratch: Path,
          jobs: int, seconds: float, memory: int, progress) -> tuple[Plan, dict[int, bytes]]:
    """Lay out every piece (those not cached), as many passes as page numbers need; the plan and
    each piece's PDF."""
    import time

    from . import limits

    deadline = time.monotonic() + seconds
    pieces = []
    for unit in units:
        html = render_piece(unit)
        pieces.append(Piece(unit, html, set(ID.findall(html))))
    plan = Plan(pieces, {n: _estimate(p, folder) for n, p in enumerate(pieces)})
    pdfs: dict[int, bytes] = {}
    laid_out = 0
    for number in range(MAX_PASSES):
        first, pages = plan.folios()
        todo = []
        for n, piece in enumerate(pieces):
            html = with_pages(piece.html, piece.ids, pages, not piece.body)
            if piece.unit == "index":   # the index's page numbers written out (index.py)
                html = book_index.fill_locators(html, lambda name: _folio(pages.get(name)))
            extra = piece_css(first[n], piece.body)
            k = key(html, stylesheet, extra)
            if piece.key == k:
                continue
            hit = cached(folder, k)
            body = cachefile.get(folder, k, FORMAT, ".pdf") if hit is not None else None
            if body is not None:
                piece.result, piece.key, pdfs[n] = hit, k, body
                continue
            todo.append((n, html, extra, k))
        if not todo:
            break
        unknown = {n for n in range(1, len(pieces)) if pieces[n].result is None and "known" not in plan.estimates[n]}
        if unknown:
            # the page counts of some pieces are not known yet: lay out those first, the others (whose
            # numbers depend on them, the contents among them) in the next pass
            todo = [t for t in todo if t[0] in unknown]
        progress.step(f"laying out {len(todo)} of {len(pieces)} pieces of the PDF (WeasyPrint, "
                      f"{min(jobs, len(todo))} at once{', pass ' + str(number + 1) if number else ''})")
        tasks = [_task(root, html, stylesheet, extra, scratch / f"{k}.pdf") for n, html, extra, k in todo]
        left = deadline - time.monotonic()
        if left <= 0:
            raise limits.OutOfTime(seconds)
        try:
            results = limits.run(tasks, jobs, left, memory)
        except limits.OutOfTime:
            raise limits.OutOfTime(seconds) from None
        for (n, html, extra, k), result in zip(todo, results):
            path = scratch / f"{k}.pdf"
            pieces[n].result, pieces[n].key, pdfs[n] = result, k, path.read_bytes()
            laid_out += 1
            if folder is not None:
                cachefile.put(folder, k, json.dumps(result), FORMAT, ".json")
                cachefile.put(folder, k, pdfs[n], FORMAT, ".pdf")
                cachefile.put(folder, _estimate_key(pieces[n]), json.dumps(
                    {"pages": result["pages"], "anchors": result["anchors"]}), FORMAT, ".json")
            path.unlink(missing_ok=True)
    plan.laid_out = laid_out
    if folder is not None:
        used = {p.key for p in pieces} | {_estimate_key(p) for p in pieces}
        cachefile.prune(folder, used, ".json")
        cachefile.prune(folder, used, ".pdf")
    return plan, pdfs


def _folio(value: str | None) -> str | None:
    """A folio as :meth:`Plan.folios` gives it ('12', 'r3' in the front matter) as printed."""
    if value is None:
        return None
    return roman(int(value[1:])) if value.startswith("r") else value


def _task(root, html, stylesheet, extra, target):
    return lambda: lay_out(root, html, stylesheet, extra, target)


CHARACTERS_PER_PAGE = 2000


def _estimate_key(piece: Piece) -> str:
    return cachefile.digest(cachefile.version_key(), FORMAT, "estimate", piece.html)


def _estimate(piece: Piece, folder: Path | None) -> dict:
    """How many pages a piece will take and where its anchors fall: as last time, else from its length."""
    known = cachefile.get_text(folder, _estimate_key(piece), FORMAT, ".json") if folder else None
    if known:
        try:
            found = json.loads(known)
            return {"pages": int(found["pages"]), "anchors": dict(found["anchors"]), "known": True}
        except (ValueError, KeyError, TypeError):
            pass
    return {"pages": len(piece.html) // CHARACTERS_PER_PAGE + 1, "anchors": {}}


def assemble(plan: Plan, pdfs: dict[int, bytes], target: Path) -> int:
    """Join the pieces' PDFs into ``target``; the number of pages of the front matter."""
    import io

    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import (ArrayObject, DictionaryObject, FloatObject, NameObject, NumberObject,
                               TextStringObject)
    from weasyprint.anchors import make_page_bookmark_tree
    from weasyprint.matrix import Matrix

    writer = PdfWriter()
    starts = plan.starts()
    destinations: dict[str, tuple[int, object]] = {}
    for n, piece in enumerate(plan.pieces):
        reader = PdfReader(io.BytesIO(pdfs[n]))
        if n == 0:
            writer.add_metadata({k: v for k, v in (reader.metadata or {}).items()})
            if "/Lang" in reader.trailer["/Root"]:
                writer._root_object[NameObject("/Lang")] = reader.trailer["/Root"]["/Lang"]
        while len(writer.pages) < starts[n]:
            box = writer.pages[-1].mediabox
            writer.add_blank_page(box.width, box.height)
        for page in reader.pages:
            writer.add_page(page)
        for name, dest in reader.named_destinations.items():
            destinations[name] = (starts[n] + reader.get_destination_page_number(dest), dest)
    # links to another piece: to the book's named destination
    for page in writer.pages:
        for annot in page.get("/Annots") or []:
            annot = annot.get_object()
            action = annot.get("/A")
            uri = str(action.get_object().get("/URI", "")) if action is not None else ""
            if uri.startswith(XREF):
                del annot[NameObject("/A")]
                annot[NameObject("/Dest")] = TextStringObject(uri[len(XREF):])
    names = ArrayObject()
    for name in sorted(destinations):
        page_number, dest = destinations[name]
        names += [TextStringObject(name), ArrayObject([
            writer.pages[page_number].indirect_reference, NameObject("/XYZ"),
            FloatObject(dest.left or 0), FloatObject(dest.top or 0), NumberObject(0)])]
    if names:
        tree = DictionaryObject({NameObject("/Dests"): writer._add_object(DictionaryObject(
            {NameObject("/Names"): names}))})
        writer._root_object[NameObject("/Names")] = writer._add_object(tree)
    # the outline: every piece's bookmarks, made a tree as WeasyPrint makes one document's
    pages = [_Page() for _ in range(len(writer.pages))]
    for n, piece in enumerate(plan.pieces):
        for number, level, label, (x, y), state in piece.result["bookmarks"]:
            page = pages[starts[n] + number]
            page.height = piece.result["heights"][number]
            page.bookmarks.append((level, label, (x, y), state))
    root: list = []
    skipped, last_by_depth, previous = [], [root], 0
    for number, page in enumerate(pages):
        previous = make_page_bookmark_tree(page, skipped, last_by_depth, previous, number,
                                           Matrix(a=0.75, d=-0.75, f=page.height * 0.75))

    def add(items, parent):
        for label, (number, x, y), children, state in items:
            from pypdf.generic import Fit
            item = writer.add_outline_item(label, number, parent, fit=Fit.xyz(x, y, 0),
                                           is_open=state != "closed")
            add(children, item)

    add(root, None)
    # page labels as render/pagelabels.py writes them for one document: roman, then arabic from 1
    front_pages = next((s for s, p in zip(starts, plan.pieces) if p.body), len(writer.pages))
    nums = ArrayObject()
    if front_pages:
        nums += [NumberObject(0), DictionaryObject({NameObject("/S"): NameObject("/r")})]
    if front_pages < len(writer.pages):
        nums += [NumberObject(front_pages), DictionaryObject({NameObject("/S"): NameObject("/D"),
                                                              NameObject("/St"): NumberObject(1)})]
    writer._root_object[NameObject("/PageLabels")] = DictionaryObject({NameObject("/Nums"): nums})
    with open(target, "wb") as out:
        writer.write(out)
    return front_pages


class _Page:
    def __init__(self):
        self.bookmarks: list = []
        self.height = 0.0
