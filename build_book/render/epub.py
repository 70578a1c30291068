"""The EPUB 3 edition (``build/<slug>.epub``): one XHTML file per chapter.

It reuses the chapter fragments the HTML edition writes, wraps them in XHTML
pages, and adds the package document, the navigation document (parts,
chapters and their sections) and a stylesheet. The result is checked by
EPUBCheck in the tests.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import re
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from html import escape
from pathlib import Path
from xml.etree import ElementTree

from markupsafe import Markup

from .. import cache as cachefile
from .. import fonts, math, templating, ui
from ..compat import PAREN_LIST_CSS
from ..diagnostics import BuildError, Location, error
from . import RenderContext, cover, pagemap, site
from .common import (anchor_pages, book_context, chapter_views, image_data, link_bodies, link_title,
                     local_images, references_html, relink, write_fragments)

BIBLIOGRAPHY = "bibliography.xhtml"
COVER = "cover.xhtml"
MEDIA_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".webp": "image/webp", ".css": "text/css", ".xhtml": "application/xhtml+xml"}


@dataclass
class Item:
    id: str
    href: str
    media_type: str
    properties: str = ""
    in_spine: bool = True


class EpubError(Exception):
    pass


XHTML_NS = "http://www.w3.org/1999/xhtml"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
VOID = frozenset("area base br col embed hr img input link meta source track wbr".split())
XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class XhtmlError(Exception):
    """HTML that could not be written as well-formed XHTML."""


def xhtml(html: str) -> str:
    """An HTML fragment as well-formed XHTML: read as a browser reads it, written as XML.

    pandoc's HTML is nearly XML already; raw HTML an author wrote is what this is for:
    entities such as &nbsp;, unclosed tags, comments holding '--' (dropped: they are not
    content), word processors' tags such as <o:p> (their text kept) and attributes such as
    v:shape (dropped), inline <svg> and <math> (written in their own namespaces).
    tinyhtml5 is WeasyPrint's HTML parser. Raises :class:`XhtmlError` if the result is
    still not well-formed XML (it should not happen)."""
    body = _read_alike(html)
    if body is None:
        import tinyhtml5

        body = tinyhtml5.parse("<!DOCTYPE html><body>" + html + "</body>", namespace_html_elements=False).find("body")
    out: list[str] = [_text(body.text)]
    for child in body:
        _element(child, XHTML_NS, out)
    text = "".join(out)
    try:
        ElementTree.fromstring(f'<div xmlns="{XHTML_NS}">{text}</div>')
    except ElementTree.ParseError as exc:
        raise XhtmlError(str(exc)) from None
    return text


# Markup that an XML parser reads as an HTML parser does (see _read_alike): the elements pandoc writes,
# MathML (in its namespace) and little else.
MATHML_NS = "http://www.w3.org/1998/Math/MathML"
PHRASING = frozenset("a abbr b bdi bdo br cite code data del dfn em i img input ins kbd mark q s samp small "
                     "span strong sub sup time u var wbr".split())
BLOCKS = frozenset("address article aside blockquote caption col colgroup dd details div dl dt figcaption "
                   "figure footer h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table tbody "
                   "td tfoot th thead tr ul".split())
PHRASING_ONLY = frozenset("p h1 h2 h3 h4 h5 h6".split())    # an HTML parser closes them at a block's start tag
TABLE_PARTS = {"caption": "table", "colgroup": "table", "thead": "table", "tbody": "table", "tfoot": "table",
               "col": "colgroup", "tr": ("thead", "tbody", "tfoot"), "td": "tr", "th": "tr",
               "li": ("ul", "ol"), "dt": "dl", "dd": "dl"}    # ... and the parents they must have
TEXTLESS = frozenset("table colgroup thead tbody tfoot tr".split())   # text there is moved out of the table
# MathML's elements; HTML's among them (b, br, div, p, span, ...) would end the formula in an HTML parser
MATHML = frozenset("math maction maligngroup malignmark menclose merror mfenced mfrac mglyph mi mlabeledtr "
                   "mlongdiv mmultiscripts mn mo mover mpadded mphantom mprescripts mroot mrow ms mscarries "
                   "mscarry msgroup msline mspace msqrt msrow mstack mstyle msub msubsup msup mtable mtd mtext "
                   "mtr munder munderover none semantics annotation".split())
_NOT_ALIKE = re.compile(r"<!(?!--)|<\?|&#(?:x0*[89][0-9a-fA-F]|0*1(?:2[89]|[3-5][0-9]));"
                        r"""|=\s*(?:"[^"]*|'[^']*)[\t\n\r]""")
_SELF_CLOSED = re.compile(r"<([A-Za-z][^\s/>]*)[^<>]*/>")


def _read_alike(html: str):
    """The fragment ``html`` read by an XML parser (expat: fast), as a root element like tinyhtml5's body,
    if it is well-formed XML that an HTML parser reads the same way: only the elements of PHRASING and
    BLOCKS, and MathML in its namespace, in lower case; no block in a paragraph or heading, no link in a
    link, tables, lists and their parts as HTML has them (no text between rows, no part an HTML parser
    would supply itself), a void element empty and only a void or MathML element closed by "/>"; no
    CDATA, doctype or processing instruction, no character reference that HTML reads as Windows-1252, no
    line break or tab in an attribute value (XML reads it as a space), no newline opening a <pre>. Else
    None: tinyhtml5 reads it, as a browser does. (pandoc's HTML nearly always passes; raw HTML an author
    wrote may well not, and goes the slow way.)"""
    if _NOT_ALIKE.search(html) or any(m.group(1) not in VOID and m.group(1) not in MATHML
                                      for m in _SELF_CLOSED.finditer(html)):
        return None
    try:
        root = ElementTree.fromstring("<body>" + html + "</body>")
    except (ElementTree.ParseError, ValueError):
        return None
    return root if _alike(root, False, False) else None


def _alike(el, phrasing: bool, in_link: bool) -> bool:
    """Are the elements in ``el`` (a paragraph's or heading's if ``phrasing``, in a link if ``in_link``)
    read alike (see _read_alike)?"""
    for child in el:
        tag = child.tag
        if not isinstance(tag, str):
            return False
        if tag.startswith("{"):
            if tag != f"{{{MATHML_NS}}}math" or not _mathml(child):
                return False
            continue
        if tag not in PHRASING and (phrasing or tag not in BLOCKS):
            return False
        if any(not XML_NAME.match(key) or key != key.lower() for key in child.attrib):
            return False
        wanted = TABLE_PARTS.get(tag)
        if wanted is not None and el.tag not in ((wanted,) if isinstance(wanted, str) else wanted):
            return False
        if tag in TEXTLESS and ((child.text or "").strip() or any((c.tail or "").strip() for c in child)):
            return False
        if tag in VOID and (child.text or len(child)):
            return False
        if tag == "pre" and (child.text or "").startswith("\n"):
            return False
        if tag == "a" and in_link:
            return False
        if not _alike(child, phrasing or tag in PHRASING_ONLY, in_link or tag == "a"):
            return False
    return True


def _mathml(el) -> bool:
    """Is ``el`` and all it holds MathML's, with attributes as an HTML parser leaves them?"""
    for node in el.iter():
        tag = node.tag
        if not isinstance(tag, str) or not tag.startswith(f"{{{MATHML_NS}}}") or tag.partition("}")[2] not in MATHML:
            return False
        if any(key.startswith("{") or (key != key.lower() and key != "definitionURL") for key in node.attrib):
            return False
    return True


def _text(text: str | None) -> str:
    return escape(NOT_XML.sub("", text), quote=False) if text else ""


def _element(el, parent_ns: str, out: list[str]) -> None:
    tail = _text(el.tail)
    if not isinstance(el.tag, str):        # a comment or processing instruction: not content
        out.append(tail)
        return
    ns, _, name = el.tag[1:].partition("}") if el.tag.startswith("{") else (XHTML_NS, "", el.tag)
    if not XML_NAME.match(name):           # <o:p> and the like: keep what they hold
        out.append(_text(el.text))
        for child in el:
            _element(child, parent_ns, out)
        out.append(tail)
        return
    attrs = [] if ns == parent_ns else [("xmlns", ns)]
    for key, value in el.attrib.items():
        if key.startswith("{"):
            space, _, local = key[1:].partition("}")
            prefix = {XLINK_NS: "xlink", XML_NS: "xml"}.get(space)
            if prefix is None or not XML_NAME.match(local):
                continue
            if prefix == "xlink":
                attrs.append(("xmlns:xlink", XLINK_NS))
            attrs.append((f"{prefix}:{local}", value))
        elif key == "xml:lang" or XML_NAME.match(key):
            if key != "xmlns":
                attrs.append((key, value))
    seen: set[str] = set()
    written = []
    for key, value in attrs:
        if key not in seen:
            seen.add(key)
            written.append(f' {key}="{escape(NOT_XML.sub("", value), quote=True)}"')
    out.append(f"<{name}{''.join(written)}")
    if ns == XHTML_NS and name in VOID:
        out.append("/>" + tail)
        return
    out.append(">" + _text(el.text))
    for child in el:
        _element(child, ns, out)
    out.append(f"</{name}>{tail}")


def render(ctx: RenderContext) -> list[Path]:
    book, index, root = ctx.book, ctx.index, ctx.book.config.root
    fragments = write_fragments(book, ctx.prepared, footnotes_inline=False, edition="epub")
    views = chapter_views(book, index, fragments, ".xhtml", ctx.proof is not None)
    where = anchor_pages(book, index, ".xhtml", BIBLIOGRAPHY, ctx.prepared)
    part_files = {p.index: f"part-{p.index + 1}.xhtml" for p in book.parts}
    where.update({p.label: part_files[p.index] for p in book.parts})
    link_bodies(views, book, where)
    for view in views:
        link_title(view, book, where)
    problems = []
    folder = ctx.prepared.cache / "xhtml" if ctx.prepared.cache else None
    used: set[str] = set()
    converted = _cached_xhtml_all([str(v.body_html) for v in views] + [str(v.title_html) for v in views],
                                  folder, used, ctx.prepared.jobs)
    for view, body, title in zip(views, converted[:len(views)], converted[len(views):]):
        failed = next((x for x in (body, title) if isinstance(x, XhtmlError)), None)
        if failed is not None:
            problems.append(error("html-unconvertible", f"this chapter's raw HTML cannot be written as the "
                                  f"XHTML an EPUB needs ({failed})", view.chapter.location,
                                  "look for raw HTML in the chapter and write it in Markdown"))
            continue
        # figures' alt text as in the web edition: the author's, or the image's own description, never
        # the caption a second time
        view.body_html = Markup(epub_types(site.figure_alts(body, book.config.root)))
        view.title_html = Markup(title)
    if problems:
        raise BuildError(problems)
    if folder:
        cachefile.prune(folder, used, ".xhtml")
    context = book_context(book, index, views, ctx.proof, ctx.prepared)
    say = context["_"]
    modified = _modified(book.config.date)
    files: dict[str, bytes] = {}
    items: list[Item] = []

    def made(name: str, template: str, **extra) -> bytes:
        text = templating.render(root, template, page=name, part_files=part_files, **context, **extra)
        try:
            ElementTree.fromstring(text.encode("utf-8"))
        except ElementTree.ParseError as exc:
            blamed = _override_behind(root, template)
            if blamed is None:  # build_book's own templates: a bug in build_book, not in the book
                raise EpubError(f"{name} is not well-formed XHTML: {exc}") from None
            raise BuildError([error(
                "template-error", f"the EPUB page {name} made with this template is not well-formed XHTML ({exc})",
                Location(blamed, 1, 1), "an EPUB template must give XML: close every tag, write &amp;nbsp; "
                "as &#160;, and keep one root element")]) from None
        return text.encode("utf-8")

    def page(name: str, template: str, item_id: str, properties: str = "", **extra):
        files[name] = made(name, template, **extra)
        items.append(Item(item_id, name, MEDIA_TYPES[".xhtml"], properties))

    cover_image, cover_alt = _cover(ctx, files, items)
    page(COVER, "epub/cover.xhtml.j2", "cover", page_title=book.config.title, cover_image=cover_image,
         cover_alt=cover_alt)
    page("title.xhtml", "epub/title.xhtml.j2", "title-page", page_title=book.config.title)
    page("nav.xhtml", "epub/nav.xhtml.j2", "nav", "nav", page_title=say("Contents"), page_list=[])
    if context["contributors_page"]:
        page("contributors.xhtml", "epub/contributors.xhtml.j2", "contributors", page_title=say("Contributors"))
    if context["figures"] or context["tables"]:
        page("lists.xhtml", "epub/lists.xhtml.j2", "lists", page_title=say("Figures and Tables"))
    for view in views:
        if view.part is not None and part_files[view.part.index] not in files:
            page(part_files[view.part.index], "epub/part.xhtml.j2", f"part-{view.part.index + 1}",
                 page_title=view.part.title, part=view.part)
        page(view.href, "epub/chapter.xhtml.j2", "c-" + view.href.removesuffix(".xhtml"),
             _svg_property(str(view.title_html) + str(view.body_html)), page_title=view.full_title, view=view)
    if context["book_bibliography"]:
        refs = epub_types(xhtml(relink(str(references_html(ctx.prepared)), where, BIBLIOGRAPHY)))
        page(BIBLIOGRAPHY, "epub/bibliography.xhtml.j2", "bibliography", _svg_property(refs),
             page_title=book.bibliography_title, references=Markup(refs))
    if context["book_index"]:
        page("genindex.xhtml", "epub/book-index.xhtml.j2", "book-index", page_title=say("Index"))

    page_list = _page_list(ctx, files, items, lambda page_list: made(
        "nav.xhtml", "epub/nav.xhtml.j2", page_title=say("Contents"), page_list=page_list))
    a11y = _accessibility(book, files, items, page_list)

    css = templating.static_file(root, "epub/style.css").read_text(encoding="utf-8") + "\n" + PAREN_LIST_CSS
    japanese = fonts.japanese_characters(data.decode("utf-8") for name, data in files.items() if name.endswith(".xhtml"))
    font = fonts.subset(japanese, root, flavor=None)
    if font is not None:
        files["fonts/japanese.otf"] = font.path.read_bytes()
        items.append(Item("font-ja", "fonts/japanese.otf", "font/otf", in_spine=False))
        css += "\n" + fonts.font_face_css(font, "fonts/japanese.otf")
        ctx.progress.step(f"embedded {len(japanese)} Japanese characters from {font.source}")
    elif japanese:
        ctx.progress.step("no Japanese font found on this machine: the EPUB relies on the reader's fonts")
    math_font = math.web_font((data.decode("utf-8") for name, data in files.items() if name.endswith(".xhtml")),
                              root, None)
    if math_font is not None:   # the glyphs the formulas need, for reading systems with no math font
        files["fonts/math.ttf"] = math_font[0]
        items.append(Item("font-math", "fonts/math.ttf", "font/ttf", in_spine=False))
        css += "\n" + math_font[1]
    files["style.css"] = css.encode("utf-8")
    items.append(Item("css", "style.css", "text/css", in_spine=False))
    for number, (rel, source) in enumerate(sorted(local_images(book).items()), 1):
        media = MEDIA_TYPES.get(source.suffix.lower())
        if media is None:
            continue
        files[rel] = image_data(source)
        items.append(Item(f"img-{number}", rel, media, in_spine=False))

    opf = templating.render(root, "epub/package.opf.j2", items=items, modified=modified,
                            authors=_chapter_authors(book), a11y=a11y, **context)
    target = ctx.destination / f"{book.config.slug}.epub"
    _write_zip(target, opf, files)
    return [target]


def _cover(ctx: RenderContext, files: dict[str, bytes], items: list[Item]) -> tuple[str, str]:
    """The cover image into the EPUB: the file book.yml names (``cover:``), else one made from the
    title page (render/cover.py). Its path in the EPUB and its alternative text."""
    book = ctx.book
    config = book.config
    text = cover.CoverText(config.title, config.subtitle, ui.join_names([e.name for e in book.editors], config.lang),
                           config.publisher, config.year,
                           ui.join_names([a.name for a in book.book_authors], config.lang), config.lang)
    if config.cover:
        source = config.root / config.cover
        suffix = source.suffix.lower()
        name = "images/cover" + (".jpg" if suffix == ".jpeg" else suffix)
        files[name] = image_data(source)
        media = MEDIA_TYPES[suffix]
    else:
        name, media = "images/cover.png", "image/png"
        files[name] = cover.cover_png(text, ctx.prepared.cache / "cover" if ctx.prepared.cache else None)
    items.append(Item("cover-image", name, media, "cover-image", in_spine=False))
    return name, text.alt()


def _page_map(ctx: RenderContext) -> dict | None:
    """Where each page of the print edition starts (render/pagemap.py): the map the PDF's layout
    stored, if it was made from the print edition as it is now (the PDF built earlier in this run, as
    ``all`` does, or by an earlier build of the same text). None otherwise: the print edition is not
    laid out for the EPUB alone (that would take as long as the PDF), and the EPUB has no page list."""
    from . import pdf

    root, proof = ctx.book.config.root, ctx.proof is not None
    found = None
    if pagemap.stored(ctx.prepared.cache, proof):    # else no print HTML to make: there is no map to match
        html, *_ = pdf.print_document(ctx)
        stylesheet = templating.static_file(root, "pdf/print.css")
        found = pagemap.load(ctx.prepared.cache, pagemap.key(html, stylesheet), proof)
    if found is None:
        ctx.progress.step("no page list in the EPUB: the print edition of the book as it is now has not been "
                          "laid out (`all`, or `pdf` before `epub`, gives the EPUB its page list)")
    return found


def _page_list(ctx: RenderContext, files: dict[str, bytes], items: list[Item], nav) -> list[tuple[str, str]]:
    """Put a page-break marker where each printed page starts into the spine's pages, and the page
    list into the navigation document (``nav(page_list)`` makes it again); the list: (label, href)."""
    page_map = _page_map(ctx)
    if not page_map or not page_map["labels"]:
        return []
    names = [i.href for i in items if i.in_spine and i.href != COVER]

    scanned = [pagemap.scan(name, files[name].decode("utf-8")) for name in names]
    spots, approximate = pagemap.place(page_map, scanned)
    prefix = pagemap.marker_prefix((s.text for s in scanned), page_map["labels"])
    page_list = [(label, f"{names[n]}#{pagemap.marker_id(label, prefix)}") for label, (n, _) in zip(page_map["labels"], spots)]
    # the navigation document again, with the page list; markers are placed in it as before (its own
    # markers stand before the contents, which the page list follows)
    files["nav.xhtml"] = nav(page_list)
    if "nav.xhtml" in names:
        scanned[names.index("nav.xhtml")] = pagemap.scan("nav.xhtml", files["nav.xhtml"].decode("utf-8"))
        spots, approximate = pagemap.place(page_map, scanned)
    by_page: dict[int, list[tuple[int, str]]] = {}
    for label, (n, offset) in zip(page_map["labels"], spots):
        by_page.setdefault(n, []).append((offset, label))
    for n, spots_here in by_page.items():
        files[names[n]] = pagemap.insert(scanned[n].text, spots_here, prefix).encode("utf-8")
    note = f" ({approximate} placed just before the page after them: where they start is not in the EPUB)" \
        if approximate else ""
    ctx.progress.step(f"page list: {len(page_list)} pages of the print edition{note}")
    return page_list


IMG = re.compile(r"<img\b[^>]*>")
ALT = re.compile(r'\balt="([^"]*)"')


def _accessibility(book, files: dict[str, bytes], items: list[Item], page_list: list) -> dict:
    """The EPUB Accessibility 1.1 metadata, from what the EPUB holds."""
    pages = [files[i.href].decode("utf-8") for i in items if i.in_spine and i.href != COVER]
    images = [tag for text in pages for tag in IMG.findall(text)]
    described = all((ALT.search(tag) or [None, ""])[1].strip() for tag in images)
    has_math = any("<math" in text for text in pages)
    index = any(re.search(r'epub:type="[^"]*\bindex\b', text) for text in pages)   # an index page
    features = ["tableOfContents", "readingOrder", "structuralNavigation"]
    if page_list:
        features.append("pageNavigation")
    if index:
        features.append("index")
    if images and described:
        features.append("alternativeText")
    if has_math:
        features.append("MathML")
    modes = ["textual"] + (["visual"] if images else [])
    sufficient = (["textual"] if described else []) + (["textual,visual"] if images else [])
    summary = ["This publication conforms to EPUB Accessibility 1.1 and WCAG 2.1 Level AA.",
               "It has a table of contents, headings that structure every chapter, and a reading order that "
               "follows the printed book."]
    if page_list:
        summary.append(f"A page list leads to the {len(page_list)} pages of the print edition, so that its page "
                       "numbers can be cited.")
    if index:
        summary.append("It has an index.")
    if images:
        summary.append("Every figure has a text description." if described
                       else "Some figures have no text description.")
    if has_math:
        summary.append("Mathematics is written in MathML.")
    summary.append("It contains no flashing, sound or motion hazards.")
    config = book.config
    source = config.title + (f": {config.subtitle}" if config.subtitle else "") + ", print edition" + \
        (f" ({config.publisher}{', ' + config.year if config.year else ''})" if config.publisher else "")
    return {"modes": modes, "sufficient": sufficient, "features": features, "summary": " ".join(summary),
            "certified_by": config.publisher, "source": source if page_list else ""}


XHTML_FORMAT = "build_book-xhtml 1"


def _cached_xhtml_all(htmls: list[str], folder: Path | None, used: set[str], jobs: int) -> list:
    """:func:`xhtml` of each of ``htmls`` (an :class:`XhtmlError` in place of one that cannot be converted),
    cached by the digest of the HTML (only what changed is read again); those not cached are converted
    in up to ``jobs`` processes at once (tinyhtml5 is Python)."""
    keys = [cachefile.digest(cachefile.version_key(), html) for html in htmls] if folder else []
    out: list = [None] * len(htmls)
    todo: dict[str, list[int]] = {}     # HTML not cached -> where it stands
    for n, html in enumerate(htmls):
        text = None
        if folder:
            used.add(keys[n])
            text = cachefile.get_text(folder, keys[n], XHTML_FORMAT, ".xhtml")
        if text is None:
            todo.setdefault(html, []).append(n)
        else:
            out[n] = text
    work = sorted(todo, key=len, reverse=True)     # the longest first
    workers = min(jobs, len(work))
    if workers > 1 and sum(map(len, work)) > 50_000 and "fork" in multiprocessing.get_all_start_methods():
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            results = list(pool.map(_xhtml_or_error, work))
    else:
        results = [_xhtml_or_error(html) for html in work]
    for html, text in zip(work, results):
        for n in todo[html]:
            out[n] = text
        if folder and not isinstance(text, XhtmlError):
            cachefile.put(folder, keys[todo[html][0]], text, XHTML_FORMAT, ".xhtml")
    return out


def _xhtml_or_error(html: str):
    try:
        return xhtml(html)
    except XhtmlError as exc:
        return exc


def _override_behind(root: Path, template: str) -> str | None:
    """The book's own EPUB template to blame for a page that is not XML: the overridden template
    itself, else any EPUB template the book overrides (a base or an include); None if none is."""
    found = [p.relative_to(root).as_posix() for p in templating.overrides(root)
             if p.relative_to(root / "templates").as_posix().startswith("epub/")]
    own = [p for p in found if p.endswith("/" + template)]
    return (own or found or [None])[0]


# DPUB-ARIA roles pandoc writes, and the epub:type (EPUB 3 Structural Semantics) each goes with
EPUB_TYPES = {"doc-endnotes": "endnotes", "doc-noteref": "noteref", "doc-backlink": "backlink",
              "doc-biblioref": "biblioref", "doc-footnote": "footnote", "doc-pagebreak": "pagebreak"}
ROLE_WITHOUT_TYPE = re.compile(r'<([a-z]+)((?:(?!\bepub:type=)[^>])*?)\brole="(doc-[a-z]+)"')


def epub_types(xhtml_text: str) -> str:
    """Every element pandoc gave a DPUB-ARIA role (notes, note references, back links, citations) also
    gets the matching epub:type, as reading systems look for the one and assistive technology the other."""

    def add(match: re.Match) -> str:
        kind = EPUB_TYPES.get(match.group(3))
        if kind is None or "epub:type=" in match.group(0):
            return match.group(0)
        return f'<{match.group(1)}{match.group(2)}role="{match.group(3)}" epub:type="{kind}"'

    return ROLE_WITHOUT_TYPE.sub(add, xhtml_text)


def _svg_property(html: str) -> str:
    """The manifest properties of a page that holds inline SVG or MathML."""
    return " ".join(name for name, tag in (("mathml", "<math"), ("svg", "<svg")) if tag in html)


def _chapter_authors(book) -> list:
    seen: dict[str, object] = {}
    for chapter in book.chapters:
        for person in book.authors_of(chapter):
            seen.setdefault(person.id, person)
    return list(seen.values())


def _modified(date: str = "") -> str:
    """dcterms:modified: SOURCE_DATE_EPOCH if set, else the book's date (so that a rebuild of the same
    sources gives the same EPUB), else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        moment = dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc)
    elif date:
        year, month, day = (date.split("-") + ["01", "01"])[:3]
        moment = dt.datetime(int(year), int(month), int(day), tzinfo=dt.timezone.utc)
    else:
        moment = dt.datetime.now(dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_zip(target: Path, opf: str, files: dict[str, bytes]) -> None:
    container = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                 '<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">\n'
                 '  <rootfiles>\n'
                 '    <rootfile full-path="EPUB/package.opf" media-type="application/oebps-package+xml"/>\n'
                 '  </rootfiles>\n</container>\n')
    stamp = (1980, 1, 1, 0, 0, 0)

    def add(archive, name, data, compress=zipfile.ZIP_DEFLATED):
        info = zipfile.ZipInfo(name, stamp)
        info.compress_type = compress
        info.external_attr = 0o644 << 16
        archive.writestr(info, data)

    with zipfile.ZipFile(target, "w") as archive:
        add(archive, "mimetype", b"application/epub+zip", zipfile.ZIP_STORED)
        add(archive, "META-INF/container.xml", container.encode())
        add(archive, "EPUB/package.opf", opf.encode("utf-8"))
        for name, data in files.items():
            add(archive, f"EPUB/{name}", data)
