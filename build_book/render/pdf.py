"""The print edition: one HTML document laid out by WeasyPrint (``build/<slug>.pdf``).

Pages, running heads, roman and arabic folios, footnotes, the contents with
page numbers and the PDF outline all come from ``templates/pdf/print.css``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
from html import escape, unescape
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from markupsafe import Markup

from .. import index as book_index
from .. import glyphs, sandbox, templating
from ..diagnostics import Diagnostic, Location, error, line_column, warning
from ..files import BOOKDOWN_NAME, CONFIG_NAME, QUARTO_NAME
from . import RenderContext, limits, pagelabels, pagemap, pieces, site
from .common import book_context, chapter_views, image_file, references_html, rewrite_images, write_fragments

# WeasyPrint reports CSS it does not support through logging; our CSS is ours to keep clean.
logging.getLogger("weasyprint").setLevel(logging.ERROR)
logging.getLogger("fontTools").setLevel(logging.ERROR)


def print_document(ctx: RenderContext) -> tuple[str, dict, Markup, list[str], str | None]:
    """The print edition as one HTML document; the template context, references, authors, and the
    index's HTML (laid out again once the pages are known)."""
    book, index, root = ctx.book, ctx.index, ctx.book.config.root
    fragments = write_fragments(book, ctx.prepared, footnotes_inline=True, edition="pdf")
    views = chapter_views(book, index, fragments, proof=ctx.proof is not None)
    for view in views:
        view.href = "#" + view.id
        body = rewrite_images(str(view.body_html), view.chapter, book, None)
        view.body_html = Markup(kept_ranges(soft_breaks(list_starts(site.figure_alts(body, root, required=True)))))
        if "<img" in view.title_html:     # (an image in a title: its path as the text's)
            view.title_html = Markup(rewrite_images(str(view.title_html), view.chapter, book, None))
    context = book_context(book, index, views, ctx.proof, ctx.prepared)
    references, authors = Markup(kept_ranges(soft_breaks(str(references_html(ctx.prepared))))), _all_authors(book)
    html = templating.render(root, "pdf/book.html.j2", references=references, authors=authors, **context)
    index_html = templating.render(root, "pdf/book.html.j2", unit="index", references=references, authors=authors,
                                   **context) if context["book_index"] else None   # laid out again: index.relaid
    return html, context, references, authors, index_html


def render(ctx: RenderContext) -> list[Path]:
    book, root = ctx.book, ctx.book.config.root
    html, context, references, authors, index_html = print_document(ctx)
    stylesheet = templating.static_file(root, "pdf/print.css")
    target = ctx.destination / f"{book.config.slug}.pdf"
    bodies = {view.chapter.index: str(view.body_html) for view in context["views"]}
    expected = expected_pages(html)
    seconds, memory = limits.timeout(expected), limits.memory_limit()
    lost: list[str] = []
    try:
        whole = not in_pieces(root)
        if not whole:
            try:
                refused, attachments, pages = _in_pieces(ctx, context, references, authors, stylesheet, target,
                                                         seconds, memory)
                page_map = {"labels": pagemap.labels(pages, LAST["front_pages"]), "starts": LAST.pop("starts")}
            except pieces.LostContent as exc:
                # a footnote (or a proof's comment) deferred past the end of a piece: in one document
                # it is on the next page, the next piece's first
                ctx.progress.step(f"a note deferred past the end of a piece ('{_clip(exc.notes[0], 40)}'): "
                                  "laying the PDF out as one document")
                whole = True
        if whole:
            ctx.progress.step("laying out pages (WeasyPrint)")
            import weasyprint  # noqa: F401 - loaded here, shared by the layout process forked from this one
            [(refused, attachments, pages, page_map, lost)] = limits.run(
                [lambda: _lay_out_and_write(root, html, stylesheet, target, index_html, ctx.progress)], 1, seconds,
                memory)
    except limits.LimitExceeded as exc:
        ctx.diagnostics.append(limit_exceeded(book, exc, expected))
        return []
    # where each page starts, for the EPUB's page list (render/pagemap.py)
    pagemap.store(ctx.prepared.cache, pagemap.key(html, stylesheet), page_map, ctx.proof is not None)
    ctx.progress.step(f"wrote {pages} pages")
    ctx.diagnostics.extend(_report(book, refused, attachments, bodies))
    ctx.diagnostics.extend(_lost_footnotes(book, lost))
    ctx.diagnostics.extend(_missing_glyphs(book, html))
    return [target]


PIECES_ENV = "BUILD_BOOK_PDF_PIECES"


def in_pieces(root: Path) -> bool:
    """Lay the book out a piece at a time (render/pieces.py), unless BUILD_BOOK_PDF_PIECES=0 asks for
    one document or the book overrides the PDF templates."""
    return os.environ.get(PIECES_ENV, "").strip().lower() not in ("0", "no", "false") and pieces.applies(root)


def start_layout(book) -> bool:
    """If the PDF will be laid out in pieces: start what its layout processes are forked from now
    (``pieces.start_server``), while the build does other work. Whether it was started."""
    root = book.config.root
    if not in_pieces(root) or "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    try:
        pieces.start_server(root, templating.static_file(root, "pdf/print.css"), book.config.lang or "en")
    except (OSError, ValueError):   # only a head start: the layout starts it when it needs it
        return False
    return True


def _in_pieces(ctx: RenderContext, context: dict, references, authors, stylesheet: Path, target: Path,
               seconds: float, memory: int) -> tuple[list, list, int]:
    book, root = ctx.book, ctx.book.config.root
    units: list = ["front"]
    for entry in context["toc"]:
        if entry.kind == "part":
            units.append(("part", entry.part.index))
            units += [("chapter", view.chapter.index) for view in entry.chapters]
        else:
            units.append(("chapter", entry.chapter.chapter.index))
    if context["book_bibliography"]:    # bibliography-scope: chapter leaves it out
        units.append("bibliography")
    if context["book_index"]:
        units.append("index")

    def render_piece(unit) -> str:
        return templating.render(root, "pdf/book.html.j2", unit=unit, piece_end=unit != units[-1],
                                 references=references, authors=authors, **context)

    folder = ctx.prepared.cache / pieces.FOLDER if ctx.prepared.cache else None
    plan, pdfs = pieces.build(root, render_piece, units, stylesheet, folder, ctx.destination,
                              max(1, ctx.prepared.jobs), seconds, memory, ctx.progress,
                              names=[_piece_name(book, unit) for unit in units])
    ctx.progress.step(f"joining {len(units)} pieces ({plan.laid_out} laid out, the others as cached)")
    front_pages = pieces.assemble(plan, pdfs, target, folder, max(1, ctx.prepared.jobs))
    LAST["front_pages"], LAST["laid_out"] = front_pages, plan.laid_out
    LAST["starts"] = pagemap.join_pieces(plan)
    refused = [url for p in plan.pieces for url in p.result["refused"]]
    attachments = list(dict.fromkeys(url for p in plan.pieces for url in p.result["attachments"]))
    return refused, attachments, plan.total()


def _piece_name(book, unit) -> str:
    """A piece of the PDF as the progress names it: a chapter by its file."""
    if isinstance(unit, tuple):
        kind, number = unit
        if kind == "chapter":
            return book.chapters[number].path
        return f"the title page of part '{_clip(book.parts[number].title, 40)}'"
    return {"front": "the front matter", "bibliography": "the bibliography", "index": "the index"}.get(unit, str(unit))


# what the last PDF made in pieces was: its front matter's pages (page labels), the pieces laid out
LAST: dict[str, int] = {}


def corrected_weasyprint() -> None:
    """Install build_book's corrections of WeasyPrint's layout and writing, in a process that lays out
    the print edition (once; as one document or a piece)."""
    from . import footnotes, linebreak, pagerefs

    footnotes.install()     # a footnote deferred to the next page is not lost when pages are made again
    linebreak.install()     # no line of one word where the words fit (a trailing space hangs)
    pagerefs.install()      # the tags of a PDF of n pages written in time linear in n, not n squared


def _lay_out_and_write(root: Path, html: str, stylesheet: Path, target: Path | None,
                       index_html: str | None = None, progress=None) -> tuple[list, list, int, dict, list[str]]:
    """In a child process: lay out ``html`` and write the PDF (unless ``target`` is None). What was
    refused, the attachments dropped, the number of pages, the page map (render/pagemap.py), and the
    text of each footnote whose call is printed and whose note is not (``footnotes.lost``). With
    ``progress``, it is told how the layout goes (:class:`_LayoutProgress`)."""
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    from . import footnotes

    corrected_weasyprint()
    fonts = FontConfiguration()
    fetcher = book_fetcher(root)
    sheets, counters = print_stylesheet(stylesheet, fonts, fetcher)
    quiet = _QuietRefusals()
    logging.getLogger("weasyprint").addFilter(quiet)
    told = _LayoutProgress.attach(progress)
    try:
        document = HTML(string=html, base_url=root.as_uri() + "/", url_fetcher=fetcher).render(
            stylesheets=sheets, font_config=fonts, counter_style=counters)
        document = book_index.relaid(document, index_html, sheets, fonts, fetcher, root.as_uri() + "/", counters)
        lost = footnotes.lost(document)
        attachments = _drop_attachments(document)
        plain_bookmarks(document)
        first_main = pagelabels.first_main_page(document)
        page_map = {"labels": pagemap.labels(len(document.pages), len(document.pages) if first_main is None
                                             else first_main), "starts": pagemap.page_starts(document)}
        if target is not None:
            if told is not None:
                told.tell(f"writing the PDF ({len(document.pages)} pages)")
            write(document, target, finisher=pagelabels.finisher)  # viewers number pages as printed
    finally:
        logging.getLogger("weasyprint").removeFilter(quiet)
        _LayoutProgress.detach(told)
    return fetcher.refused, attachments, len(document.pages), page_map, lost


def _lost_footnotes(book, notes: list[str]) -> list[Diagnostic]:
    """An error for each footnote the layout lost, at the chapter whose text holds its first words."""
    diags = []
    for note in notes:
        words = note.split()
        candidates = [" ".join(words[:n]) for n in (8, 5, 3) if len(words) >= n] or [note]
        where = _in_chapters(book, book.chapters, candidates) or Location("book.yml", 1, 1)
        diags.append(error("pdf-footnote-lost", f"the PDF prints the number of the footnote '{_clip(note)}' "
                           "but not the note (a WeasyPrint layout fault)", where,
                           "reword the paragraph that calls it, or move the call, so that the page breaks "
                           "elsewhere; the HTML and EPUB editions have the note"))
    return diags


def _missing_glyphs(book, html: str) -> list[Diagnostic]:
    """``glyph-missing`` for each character the print edition prints (``html``) that no font has, where it is
    first written: in a chapter, the bibliography or book.yml."""
    diags = []
    config = next((name for name in (CONFIG_NAME, QUARTO_NAME, BOOKDOWN_NAME) if (book.config.root / name).is_file()),
                  CONFIG_NAME)
    files = [c.path for c in book.chapters] + list(book.config.bibliography) + [config]
    for ch in glyphs.missing(glyphs.printed_characters(html)):
        where = _in_files(book, files, ch) or Location(config, 1, 1)
        diags.append(warning("glyph-missing", f"'{ch}' ({glyphs.name(ch)}) is in no font the print edition can "
                             "use: the PDF prints a box in its place", where,
                             "install a font that has it (emoji: fonts-noto-color-emoji), or write it otherwise; "
                             "the web and EPUB editions show it in the reader's own fonts"))
    return diags


def _in_files(book, files: list[str], text: str) -> Location | None:
    """Where ``text`` first stands in the first of the book's ``files`` that holds it."""
    for name in dict.fromkeys(files):
        path = sandbox.inside(book.config.root, name)
        try:
            found = path.read_text(encoding="utf-8", errors="replace") if path else ""
        except OSError:
            continue
        at = found.find(text)
        if at >= 0:
            return Location(name, *line_column(found, at))
    return None


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[:width - 1].rstrip() + "…"


# The print edition is a tagged PDF (PDF/UA-1): a structure tree (Document, H1..., P, Figure with the
# image's alt text, Table, Caption, L), /Lang, /MarkInfo and a title the viewer shows (DisplayDocTitle).
PRINT_OPTIONS = {"pdf_variant": "pdf/ua-1"}


def write(document, target: Path, finisher=None) -> None:
    """Write a laid-out WeasyPrint document as the print edition: tagged (:data:`PRINT_OPTIONS`),
    with the book's XMP metadata (:func:`xmp_metadata`)."""
    xmp_metadata(document.metadata)
    document.write_pdf(target, finisher=finisher, **PRINT_OPTIONS)


# <meta name=...> of templates/pdf/book.html.j2 that WeasyPrint keeps as custom metadata, and the
# Dublin Core property each becomes in the XMP packet
XMP_DC = {"dc.publisher": "publisher", "dc.rights": "rights", "dc.identifier": "identifier"}


def xmp_metadata(metadata) -> None:
    """Complete the XMP packet WeasyPrint writes (dc:title, dc:creator, dc:description,
    xmp:CreateDate, pdfuaid:part) with dc:language, dc:date, dc:publisher, dc:rights and
    dc:identifier, taken from the document's metadata (<html lang>, <meta name=dc.*>)."""
    from xml.etree.ElementTree import SubElement, fromstring, tostring

    rdf_ns, dc_ns = "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "http://purl.org/dc/elements/1.1/"
    wrapped = metadata.generate_rdf_metadata
    if getattr(wrapped, "build_book", False):
        return

    def generate(variant, version, conformance):
        rdf = fromstring(wrapped(variant, version, conformance))
        description = SubElement(rdf, f"{{{rdf_ns}}}Description", {f"{{{rdf_ns}}}about": ""})

        def add(name: str, container: str, value: str, lang: bool = False) -> None:
            items = SubElement(SubElement(description, f"{{{dc_ns}}}{name}"), f"{{{rdf_ns}}}{container}")
            item = SubElement(items, f"{{{rdf_ns}}}li")
            if lang:
                item.set("xml:lang", "x-default")
            item.text = value

        if metadata.lang:
            add("language", "Bag", metadata.lang)
        if metadata.created:
            add("date", "Seq", metadata.created)
        for name, dc in XMP_DC.items():
            value = metadata.custom.get(name)
            if value and dc == "identifier":
                SubElement(description, f"{{{dc_ns}}}identifier").text = value
            elif value:
                add(dc, "Alt" if dc == "rights" else "Bag", value, lang=dc == "rights")
        return tostring(rdf, encoding="utf-8")

    generate.build_book = True
    metadata.generate_rdf_metadata = generate


# what keeps its text as it is: code blocks, and markup that is not running text (an SVG's or MathML's text)
PRE = re.compile(r"(<(?:pre|svg|math|script|style)\b.*?</(?:pre|svg|math|script|style)>)", re.S | re.I)
BREAKABLE = re.compile(r"(<(code|a)\b[^>]*>)(.*?)(</\2>)", re.S | re.I)
AFTER_PUNCTUATION = re.compile(r"([/._:=&?#,;(\[{@\\]+)(?=[^\s/._:=&?#,;)\]}@\\])")
CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
SOFT_BREAK = "\u200b"   # zero width space: a line may break here; WeasyPrint draws and extracts nothing


def soft_breaks(html: str) -> str:
    """Let inline code and web addresses break after their punctuation (``/``, ``.``, ``_``, ``=``, ...)
    and between camelCase words: WeasyPrint breaks lines only at spaces and hyphens (its
    ``word-break: break-all`` acts only on a word wider than the whole line), so a long code span or
    address would leave the justified line before it stretched. Code blocks (<pre>) keep their text.

    An address written bare in the text (pandoc links only ``<https://...>``) is set as a linked one is:
    in a ``span.uri``, which print.css never hyphenates (a hyphen added to an address changes it)."""

    def text_only(inner: str) -> str:
        parts = re.split(r"(<[^>]*>)", inner)
        for i in range(0, len(parts), 2):
            text = unescape(parts[i])
            text = CAMEL.sub(SOFT_BREAK, AFTER_PUNCTUATION.sub(lambda m: m.group(1) + SOFT_BREAK, text))
            parts[i] = escape(text, quote=False)
        return "".join(parts)

    def fix(match: re.Match) -> str:
        opening, tag, inner, closing = match.groups()
        if tag.lower() == "a":
            shown = re.sub(r"<[^>]*>", "", inner).strip()
            if not re.match(r"(https?://|www\.|doi:|10\.\d{4,}/)", shown, re.I):
                return match.group(0)
        return opening + text_only(inner) + closing

    def bare(segment: str) -> str:
        if "://" not in segment and "www." not in segment:
            return segment
        parts = re.split(r"(<[^>]*>)", segment)
        for i in range(0, len(parts), 2):
            if "://" in parts[i] or "www." in parts[i]:
                parts[i] = BARE_ADDRESS.sub(lambda m: _bare_address(m.group(), text_only), parts[i])
        return "".join(parts)

    def outside_pre(piece: str) -> str:
        out, at = [], 0
        for match in BREAKABLE.finditer(piece):
            out += [bare(piece[at:match.start()]), fix(match)]
            at = match.end()
        return "".join(out) + bare(piece[at:])

    pieces = PRE.split(html)
    return "".join(piece if i % 2 else outside_pre(piece) for i, piece in enumerate(pieces))


# a web address in the text, as escaped in HTML (to its first space, '<' or quote)
BARE_ADDRESS = re.compile(r"(?<![\w/.@-])(?:https?://|www\.)[^\s<>\"\u200b]+", re.I)


def _bare_address(found: str, text_only) -> str:
    """A bare address in a ``span.uri`` with its soft breaks; the punctuation after it (a sentence's full stop,
    a closing parenthesis it did not open) left out."""
    address = found.rstrip(".,;:!?'\u2019\u201d")
    while address.endswith(")") and address.count("(") < address.count(")"):
        address = address[:-1].rstrip(".,;:!?'\u2019\u201d")
    while address.endswith(("&quot;", "&#x27;", "&#39;")):
        address = address[:address.rindex("&")]
    if address.lower() in ("www.", "http://", "https://") or address.endswith("://"):
        return found
    return f'<span class="uri">{text_only(address)}</span>{found[len(address):]}'


RANGE_DASH = re.compile(r"(?<=\d)\u2013(?=\d)")
WORD_JOINER = "\u2060"   # no line break here; WeasyPrint draws and extracts nothing


OL_START = re.compile(r'<ol\b([^>]*?)\sstart="(-?\d+)"([^>]*)>')


def print_stylesheet(stylesheet: Path, fonts, fetcher) -> tuple[list, object]:
    """(the stylesheets: print.css and the counter styles of lists numbered '1)' and '(a)' (compat.py's
    PAREN_LIST_CSS), parsed; those counter styles). WeasyPrint keeps a stylesheet's @counter-style rules in
    a dictionary given to the stylesheet as it is parsed, which each layout using it must be given too:
    without it, such a list is numbered '1.'."""
    from weasyprint import CSS
    from weasyprint.css.counters import CounterStyle

    from ..compat import PAREN_LIST_CSS

    counters = CounterStyle()
    return [CSS(filename=str(stylesheet), font_config=fonts, url_fetcher=fetcher, counter_style=counters),
            CSS(string=PAREN_LIST_CSS, font_config=fonts, counter_style=counters)], counters


def list_starts(html: str) -> str:
    """A list numbered from where the author began it (``5.`` then ``6.``: ``<ol start="5">``), as a browser
    numbers it. WeasyPrint reads ``start`` only among HTML's presentational hints, which the print edition
    leaves off (they would also size images and tables by their attributes); so the list is given the
    counter those hints give it (the CSS Lists 3 UA stylesheet)."""
    def fix(match: re.Match) -> str:
        attributes, start = match.group(1) + match.group(3), int(match.group(2))
        counter = f"counter-reset: list-item {start}; counter-increment: list-item -1"
        if ' style="' in attributes:
            attributes = attributes.replace(' style="', f' style="{counter}; ', 1)
        else:
            attributes += f' style="{counter}"'
        return f'<ol{attributes} start="{start}">'

    return OL_START.sub(fix, html) if "<ol" in html else html


def plain_bookmarks(document) -> None:
    """The PDF outline's entries without the soft breaks and word joiners :func:`soft_breaks` and
    :func:`kept_ranges` put in a heading's text: invisible on the page, they are characters in a viewer's
    outline (a search there for 'example.org' would not find 'example.\u200borg')."""
    invisible = dict.fromkeys(map(ord, SOFT_BREAK + WORD_JOINER))
    for page in document.pages:
        page.bookmarks = [(level, label.translate(invisible), *rest) for level, label, *rest in page.bookmarks]


def kept_ranges(html: str) -> str:
    """A range of numbers (pages '123–60', years '1950–53') on one line: a line may break after an en
    dash, and the bibliography's page ranges were broken there ('123– / 60')."""
    parts = re.split(r"(<[^>]*>)", html)
    return "".join(part if i % 2 else RANGE_DASH.sub("\u2013" + WORD_JOINER, part) for i, part in enumerate(parts))


CHARACTERS_PER_PAGE = 2000   # of the HTML laid out, on a page of the print edition (roughly)


def expected_pages(html: str) -> int:
    return len(html) // CHARACTERS_PER_PAGE + 1


def limit_exceeded(book, exc: limits.LimitExceeded, expected: int) -> Diagnostic:
    """A located error for a layout stopped at its time or memory limit: at the book's print
    stylesheet if it overrides build_book's (the likeliest cause), else at book.yml."""
    root = book.config.root
    override = root / templating.BOOK_TEMPLATES / "pdf" / "print.css"
    overridden = override in templating.overrides(root)   # (not build_book's own, in its checkout)
    where = Location(override.relative_to(root).as_posix(), 1, 1) if overridden else Location("book.yml", 1, 1)
    css_hint = ("look for absurd page sizes, margins or font sizes in templates/pdf/print.css; "
                if overridden else "")
    if isinstance(exc, limits.OutOfTime):
        return error("pdf-timeout", f"laying out the PDF (about {expected} pages expected) was stopped after "
                     f"{exc.seconds:g} seconds, its time limit", where,
                     css_hint + f"set {limits.TIMEOUT_ENV} (seconds) to allow more time for a large book")
    return error("pdf-memory", f"laying out the PDF (about {expected} pages expected) needed more memory than "
                 f"its limit of {limits.shown_bytes(exc.limit)} and was stopped", where,
                 css_hint + f"set {limits.MEMORY_ENV} (for example 8G) to allow more memory for a large book")


# the types of what a book may show (not the mimetypes module: it reads the system's tables)
MEDIA_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".webp": "image/webp", ".css": "text/css", ".woff": "font/woff",
               ".woff2": "font/woff2", ".otf": "font/otf", ".ttf": "font/ttf"}
REFUSED = "build_book reads only the book's own files, and nothing from the network"


def book_fetcher(root: Path):
    """A WeasyPrint URL fetcher that serves the book's own files and build_book's templates only.

    Every other URL (a file outside the book, after resolving symbolic links; http:, https:,
    ftp: and any other scheme) is refused and remembered, so that it can be reported; data:
    URLs are decoded in memory. Nothing is ever fetched from the network."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    folders = (root.resolve(), templating.PACKAGE_TEMPLATES)

    class BookFetcher(URLFetcher):
        def __init__(self):
            super().__init__(timeout=1, allow_redirects=False)
            self.refused: list[str] = []

        def fetch(self, url, headers=None):
            scheme = url.partition(":")[0].lower()
            if scheme == "data":
                return super().fetch(url, headers)  # decoded by urllib's data: handler, in memory
            if scheme == "file":
                parts = urlsplit(url)
                if parts.netloc in ("", "localhost"):
                    path = sandbox.resolve(Path("/"), url2pathname(parts.path))
                    if any(sandbox.within(path, folder) for folder in folders) and path.is_file():
                        kind = MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
                        return URLFetcherResponse(path.as_uri(), path.read_bytes(), {"Content-Type": kind})
            self.refused.append(url)
            raise ValueError(f"{REFUSED}: {url}")

    return BookFetcher()


class _LayoutProgress(logging.Handler):
    """The layout of one document, told as progress lines: every :data:`EVERY` pages, each further
    pass over the pages, and the writing (from WeasyPrint's ``weasyprint.progress`` log, which logs
    a page as it starts to lay it out). Only progress: a line that cannot be written (a closed pipe)
    stops the telling, not the layout."""

    EVERY = 50
    LOGGER = "weasyprint.progress"
    PAGE = re.compile(r"Step 5 - Creating layout - Page (\d+)$")     # made (not kept: "(up-to-date)")
    AGAIN = re.compile(r"Step 5 - Creating layout - Repagination #(\d+)")

    def __init__(self, progress, logger: logging.Logger):
        super().__init__(logging.INFO)
        self.progress = progress
        self.before = (logger.level, logger.propagate)

    @classmethod
    def attach(cls, progress) -> _LayoutProgress | None:
        if progress is None or not progress.enabled:
            return None
        logger = logging.getLogger(cls.LOGGER)
        handler = cls(progress, logger)
        logger.setLevel(logging.INFO)
        logger.propagate = False    # (WeasyPrint's own log stays as quiet as it was)
        logger.addHandler(handler)
        return handler

    @classmethod
    def detach(cls, handler: _LayoutProgress | None) -> None:
        if handler is not None:
            logger = logging.getLogger(cls.LOGGER)
            logger.removeHandler(handler)
            logger.setLevel(handler.before[0])
            logger.propagate = handler.before[1]

    def tell(self, message: str) -> None:
        if self.progress is None:
            return
        try:
            self.progress.step(message)
        except Exception:  # noqa: BLE001 - stderr closed (a pipe): the layout goes on, untold
            self.progress = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - only progress
            return
        if (found := self.PAGE.match(message)) and int(found.group(1)) % self.EVERY == 0:
            self.tell(f"laying out page {found.group(1)}")
        elif found := self.AGAIN.match(message):
            self.tell(f"pass {int(found.group(1)) + 1} over the pages, for the page numbers they show")


class _QuietRefusals(logging.Filter):
    """WeasyPrint logs each refused URL; build_book reports them itself, at the author's line."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            return REFUSED not in record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is WeasyPrint's to show
            return True


def _drop_attachments(document) -> list[str]:
    """Take every file attachment (<link rel=attachment>, <a rel=attachment>) out of the PDF:
    an attachment would carry a file into the edition unseen. Their URLs, for the report."""
    dropped = [_attachment_url(a) for a in document.metadata.attachments]
    document.metadata.attachments = []
    for page in document.pages:
        dropped += [link[1] for link in page.links if link[0] == "attachment"]
        page.links = [link for link in page.links if link[0] != "attachment"]
    return list(dict.fromkeys(dropped))


def _attachment_url(attachment) -> str:
    """The URL a <link rel=attachment> named (WeasyPrint keeps it in the unopened source)."""
    source = getattr(attachment, "source", None)
    args = getattr(source, "args", ()) or ()
    url = args[2] if len(args) > 2 else (getattr(source, "kwds", None) or {}).get("url")
    return str(url or "an attachment")


def _report(book, refused: list[str], attachments: list[str], bodies: dict[int, str]) -> list[Diagnostic]:
    diags = []
    for url in dict.fromkeys(refused):
        diags.append(warning("pdf-resource-refused", f"the PDF leaves out '{_shown(url)}': {REFUSED}",
                             _locate(book, url, bodies),
                             "put the file in the book's folder and refer to it by a relative path; "
                             "web resources cannot be used in the print edition"))
    for url in attachments:
        diags.append(warning("pdf-attachment", f"the file attachment '{_shown(url)}' is not embedded in the PDF",
                             _locate(book, url, bodies), "link to the file's web address instead of attaching it"))
    return diags


def _shown(url: str) -> str:
    """A URL as the author would recognise it: a file of the book by its path in the book."""
    return unquote(url.removeprefix("file://")) if url.startswith("file:") else url


def _locate(book, url: str, bodies: dict[int, str]) -> Location:
    """Where the author named ``url`` (or the file it points to), as best it can be found: a chapter
    whose text as printed still holds it, an SVG figure, a template override, else any chapter."""
    shown = _shown(url)
    candidates = [url, shown, shown.rstrip("/").rsplit("/", 1)[-1]]
    printed = [c for c in book.chapters if any(x and x in bodies.get(c.index, "") for x in candidates[:2])]
    rest = [c for c in book.chapters if c not in printed]
    return (_in_chapters(book, printed, candidates) or _in_templates_or_figures(book, candidates)
            or _in_chapters(book, rest, candidates) or Location("book.yml", 1, 1))


def _in_chapters(book, chapters, candidates: list[str]) -> Location | None:
    for chapter in chapters:
        path = sandbox.inside(book.config.root, chapter.path)
        try:
            text = path.read_text(encoding="utf-8", errors="replace") if path else ""
        except OSError:
            continue
        for candidate in candidates:
            at = text.find(candidate) if candidate else -1
            if at >= 0:
                return Location(chapter.path, *line_column(text, at))
    return None


def _all_authors(book) -> list[str]:
    names = [a.name for a in book.book_authors] + [e.name for e in book.editors if e not in book.book_authors]
    for chapter in book.chapters:
        for person in book.authors_of(chapter):
            if person.name not in names:
                names.append(person.name)
    return names


def _in_templates_or_figures(book, candidates: list[str]) -> Location | None:
    """The first template override, else SVG figure, that names one of ``candidates``."""
    root = book.config.root
    for template in templating.overrides(root):
        try:
            text = template.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for candidate in candidates:
            at = text.find(candidate) if candidate else -1
            if at >= 0:
                return Location(template.relative_to(root).as_posix(), text.count("\n", 0, at) + 1, 1)
    for chapter in book.chapters:
        for target in dict.fromkeys(chapter.targets.images):
            located = image_file(book, chapter, target)
            if located is None or located[0].suffix.lower() != ".svg" or not sandbox.is_file(located[0]):
                continue
            text = located[0].read_text(encoding="utf-8", errors="replace")
            for candidate in candidates:
                at = text.find(candidate) if candidate else -1
                if at >= 0:
                    return Location(located[0].relative_to(root).as_posix(), text.count("\n", 0, at) + 1, 1)
    return None
