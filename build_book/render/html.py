"""The HTML edition: a multi-page site for the web (``build/html/``).

The pages are rendered from the templates in ``templates/html/``; site.py adds what makes them a
published web edition (pop-ups, alt text, citation files, the search index, the sitemap). The order:

1. the chapter fragments, relinked across pages, with accessible back-links, alt text and pop-ups;
2. the downloads (the PDF and EPUB of this build), copied into ``downloads/``; the chapters'
   citations (``cite/``);
3. every page, with its metadata (``citation_*``, Dublin Core, Open Graph, canonical link);
4. the stylesheet with the book's fonts cut to the characters the pages use, the images, the icon,
   ``404.html``, ``sitemap.xml`` (with ``url:``), the script and the full-text index (Pagefind).
"""

from __future__ import annotations

import functools
import multiprocessing
import shutil
import threading
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from html import unescape
from pathlib import Path

from markupsafe import Markup

from .. import cache as cachefile
from .. import build as pipeline
from .. import fonts, math, templating, ui
from ..compat import PAREN_LIST_CSS
from . import RenderContext, site
from .common import (FRAGMENT_FORMAT, anchor_pages, book_context, chapter_views, image_data, link_bodies, link_title,
                     local_images, page_name, references_html, relink, write_fragments)

INDEX, BIBLIOGRAPHY, BOOK_INDEX, NOT_FOUND = "index.html", "bibliography.html", "genindex.html", "404.html"
SCRIPT = "site.js"
SCRIPT_TAG = f'<script src="{SCRIPT}" defer></script>'   # the one script of the site: build_book's own, never an author's


def render(ctx: RenderContext) -> list[Path]:
    book = ctx.book
    base = _base(book.config)
    book_meta = _book_meta(book)
    if ctx.started is not None:    # (see start)
        return _render(ctx, base, book_meta, ctx.started)
    # the chapters' own citations are formatted (by pandoc) while this thread makes the pages
    with ThreadPoolExecutor(max_workers=1) as citing:
        citations = citing.submit(site.chapter_citations, *_citing(book, ctx.prepared.cache, ctx.prepared.jobs))
        return _render(ctx, base, book_meta, citations)


def start(book) -> Future:
    """The chapters' own citations ("Cite this chapter"), begun as soon as the book is checked (build.py), in
    one pandoc run: it formats them while the chapters are prepared, on the core the checks leave idle,
    instead of while the pages are made, which a cold build's took less time than (render waited for them).

    In a process forked for it, where it can: in a thread of the build, each step of its pandoc run (writing
    its input, reading what it writes) waited for the build's other threads to let go of Python's lock,
    which they hold through each long JSON reading and writing: its 0.15 s of pandoc took 1.9 s in a cold
    build of the benchmark's book, and the pages waited for it."""
    args = _citing(book, book.config.root / "build" / ".cache", 1)
    if "fork" in multiprocessing.get_all_start_methods():
        try:
            return _apart(args)
        except OSError:     # no process to be had: in a thread, as below
            pass
    citing = ThreadPoolExecutor(max_workers=1)
    try:
        return citing.submit(site.chapter_citations, *args)
    finally:
        citing.shutdown(wait=False)


def _apart(args: tuple) -> Future:
    """site.chapter_citations(*args) in a process forked for it: its result, or pandoc's failure raised again."""
    from .. import pandoc

    child = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
    try:
        done = child.submit(_citations_apart, args)
    finally:
        child.shutdown(wait=False)
    out: Future = Future()

    def hand_over(finished: Future) -> None:
        try:
            status, value = finished.result()
        except BaseException as exc:   # noqa: BLE001 - the child died: the citations fail as pandoc's would
            status, value = "error", f"the process formatting the chapters' citations failed ({exc})"
        if status == "ok":
            out.set_result(value)
        else:
            out.set_exception(pandoc.raised(status, value))
    done.add_done_callback(hand_over)
    return out


def _citations_apart(args: tuple) -> tuple[str, object]:
    """In the forked process: ("ok", site.chapter_citations' result), or pandoc's failure (pandoc.failure)."""
    from .. import pandoc

    try:
        return "ok", site.chapter_citations(*args)
    except pandoc.PandocError as exc:
        return pandoc.failure(exc)


def _base(config) -> str:
    """The address the site is published under, ending in "/" ("" if book.yml gives none)."""
    return config.url.rstrip("/") + "/" if config.url else ""


def _book_meta(book) -> dict:
    config = book.config
    return {"title": config.title + (f": {config.subtitle}" if config.subtitle else ""),
            "editors": [e.name for e in book.editors], "publisher": config.publisher, "date": config.date,
            "lang": config.lang}


def _citing(book, cache: Path | None, jobs: int, titles: dict[str, str] | None = None) -> tuple:
    """site.chapter_citations' arguments: for every chapter, or for those ``titles`` gives a title."""
    config = book.config
    base = _base(config)
    return ([{"id": c.label, "title": titles[c.label] if titles else c.title,
              "authors": [a.name for a in book.authors_of(c) or book.book_authors],
              "url": base + page_name(c, ".html") if base else ""}
             for c in book.chapters if titles is None or c.label in titles],
            _book_meta(book), config.csl, config.root, cache, jobs)


def _render(ctx: RenderContext, base: str, book_meta: dict, citing: Future) -> list[Path]:
    book, index, root = ctx.book, ctx.index, ctx.book.config.root
    config = book.config
    out = ctx.destination / "html"
    out.mkdir()
    fragments = write_fragments(book, ctx.prepared, footnotes_inline=False, edition="html")
    views = chapter_views(book, index, fragments, ".html", ctx.proof is not None)
    where = anchor_pages(book, index, ".html", BIBLIOGRAPHY, ctx.prepared)
    where.update({p.label: f"{INDEX}#{p.label}" for p in book.parts})
    context = book_context(book, index, views, ctx.proof, ctx.prepared)
    say = context["_"]
    for rel, source in local_images(book).items():     # first: the alt text reads SVG figures' descriptions
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(image_data(source))
    references = str(references_html(ctx.prepared))
    entries = site.reference_entries(references)
    same = cachefile.digest(sorted(where.items()), references)
    kept: dict[str, str] = {}
    for view in views:
        view.body_html = Markup(_finish_body(view, book, where, entries, same, out, kept))
        link_title(view, book, where)
    _BODIES.clear()
    _BODIES.update(kept)

    downloads = _downloads(ctx, out)
    pdf = next((d for d in downloads if d["kind"] == "pdf"), None)
    search = site.pagefind_binary() is not None
    citations = citing.result()
    # a title that cites or refers reads as printed only now (see common._as_printed): formatted again, uncached
    retitled = {view.id: view.title for view in views if view.title != view.chapter.title}
    if retitled:
        citations = {**citations, **site.chapter_citations(*_citing(book, None, 1, retitled))}
    (out / "cite").mkdir()
    common = {"downloads": downloads, "search": search, "script_tag": Markup(SCRIPT_TAG), "meta": [],
              "open_graph": [], "canonical": "", "description": "", "base_href": "",
              "page_authors": book.book_authors or book.editors, "indexed": True}

    def page_meta(name: str, title: str, kind: str, description: str = "") -> dict:
        og = [("og:title", title), ("og:type", kind), ("og:site_name", config.title)]
        if base:
            og.append(("og:url", base + ("" if name == INDEX else name)))
        if description:
            og.append(("og:description", description))
        og.append(("og:locale", config.lang.replace("-", "_")))
        return {"open_graph": og, "canonical": base + ("" if name == INDEX else name) if base else "",
                "description": description}

    kind_of_book = "A book" if book.book_authors and not book.editors else "An edited volume"
    cover = config.subtitle or (f"{kind_of_book} published by {config.publisher}" if config.publisher else "")
    pages = [(INDEX, "html/index.html.j2", {
        "page_title": config.title, **page_meta(INDEX, config.title, "book", cover),
        "meta": _dublin_core(config.title, [p.name for p in book.book_authors or book.editors], config,
                             "author" if book.book_authors else "editor")})]
    for position, view in enumerate(views):
        cite = citations[view.id]
        stem = view.href.removesuffix(".html")
        (out / "cite" / f"{stem}.bib").write_text(cite.bibtex, encoding="utf-8")
        (out / "cite" / f"{stem}.ris").write_text(cite.ris, encoding="utf-8", newline="")
        abstract = view.abstract_text
        authors = view.authors or book.book_authors   # a monograph's chapters are its authors'
        pages.append((view.href, "html/chapter.html.j2", {
            "view": view, "page_title": view.full_title,
            "prev": views[position - 1] if position else None,
            "next": views[position + 1] if position + 1 < len(views) else None,
            "page_authors": view.authors or book.book_authors or book.editors,
            "citation": {"html": Markup(cite.html), "bib_href": f"cite/{stem}.bib",
                         "ris_href": f"cite/{stem}.ris"},
            **page_meta(view.href, view.full_title, "article", abstract),
            "meta": _scholar(view, authors, book_meta, config, base, pdf) + _dublin_core(
                view.title, [a.name for a in authors], config, "author", part_of=book_meta["title"],
                identifier=base + view.href if base else ""),
        }))
    if context["book_bibliography"]:
        refs = relink(references, where, BIBLIOGRAPHY)
        pages.append((BIBLIOGRAPHY, "html/bibliography.html.j2", {
            "page_title": book.bibliography_title, "references": Markup(refs), "prev": views[-1] if views else None,
            **page_meta(BIBLIOGRAPHY, book.bibliography_title, "website")}))
    if context["book_index"]:
        pages.append((BOOK_INDEX, "html/book-index.html.j2", {"page_title": say("Index"),
                                                              **page_meta(BOOK_INDEX, say("Index"), "website")}))
    pages.append((NOT_FOUND, "html/404.html.j2", {"page_title": say("Page not found"), "indexed": False,
                                                   "base_href": base}))
    for name, template, extra in pages:
        html = templating.render(root, template, page=name, **context, **{**common, **extra})
        (out / name).write_text(html, encoding="utf-8")

    # a live preview reloads with the last build's index, and indexes the new pages after (serve.py);
    # else Pagefind indexes the pages (its own process) from now on, while this one does the rest
    # (only from a web edition a build published: build/ may hold one the book brought, scripts and all)
    deferred = search and ctx.deferred is not None and pipeline.published_site(root) and \
        site.reuse_index(root / "build" / "html" / "pagefind", out)
    if deferred:
        ctx.deferred.add("search")
    indexing = _Indexing(out) if search and not deferred else None
    try:
        css = templating.static_file(root, "html/style.css").read_text(encoding="utf-8") + "\n" + PAREN_LIST_CSS
        texts = [p.read_text(encoding="utf-8") for p in out.glob("*.html")]
        # the fonts are cut in other processes while this one cuts the math font
        japanese, latin = _characters(texts)
        cutting = fonts.start_web_fonts(japanese, latin, root, "woff2", ctx.prepared.jobs)
        math_font = math.web_font(texts, root, "woff2")
        css += _fonts(out, *cutting())
        if math_font is not None:   # the glyphs the formulas need, for browsers with no math font
            (out / "fonts").mkdir(exist_ok=True)
            (out / "fonts" / "math.woff2").write_bytes(math_font[0])
            css += "\n" + math_font[1]
        (out / "style.css").write_text(css, encoding="utf-8")
        (out / "icon.svg").write_text(site.icon(config.title), encoding="utf-8")
        if base:
            (out / "sitemap.xml").write_text(site.sitemap(base, [n for n, _, _ in pages if n != NOT_FOUND],
                                                          config.date if len(config.date) == 10 else ""),
                                             encoding="utf-8")
        if search:
            # build_book's own script, never a book's override: no script of an author's reaches the site
            shutil.copyfile(templating.PACKAGE_TEMPLATES / "html" / SCRIPT, out / SCRIPT)
    finally:
        failed = indexing.wait() if indexing is not None else None   # never left writing into out
    if failed is not None:
        from ..diagnostics import Location, warning
        ctx.diagnostics.append(warning("search-index", f"the web edition has no search: Pagefind failed ({failed})",
                                       Location("book.yml"), "run the build again; report it if it persists"))
    return [out]


# A body without images comes out of _finish_body as it did the last time from the same fragment, links
# and reference list: a live preview keeps the last build's bodies (most chapters are not edited), and a
# build gets those of the chapters taken from the cache ready while pandoc formats the edited ones.
_BODIES: dict[str, str] = {}


def _finish_body(view, book, where: dict, entries: dict, same: str, out: Path, kept: dict) -> str:
    """A chapter's body with its links pointed at their pages, its images at their files, accessible
    back-links, alt text and pop-ups (``same``: the digest of ``where`` and the reference list)."""
    raw = str(view.body_html)
    memo = cachefile.digest(raw, view.href, same) if "<img" not in raw and "<figure" not in raw else None
    body = _BODIES.get(memo) if memo else None
    if body is None:
        link_bodies([view], book, where)
        body = site.figure_alts(site.backlinks(str(view.body_html)), out)
        # a chapter's own reference list (bibliography-scope: chapter or both) holds its entries too
        body = site.popups(body, {**entries, **site.reference_entries(body)})
    if memo:
        kept[memo] = body
    return body


def get_ready(book, index, prepared) -> None:
    """While pandoc formats the edited chapters' citations: the bodies of the chapters taken from the cache
    (``prepared`` holds those alone), finished as _render will want them, if their fragments are cached."""
    if prepared.cache is None or book.config.bibliography_scope != "book" or not prepared.references_key:
        return    # (a chapter's own reference list changes its blocks and key after this)
    references = cachefile.get_text(prepared.cache / "fragments-references", prepared.references_key,
                                    FRAGMENT_FORMAT, ".html")
    if references is None:
        return
    fragments = {}
    for chapter in book.chapters:
        if chapter.index in prepared.chapters and not chapter.targets.conditional:
            html = cachefile.get_text(prepared.cache / "fragments-end-notes",
                                      cachefile.digest(prepared.keys[chapter.index], "end-notes"),
                                      FRAGMENT_FORMAT, ".html")
            if html is not None:
                fragments[chapter.index] = math.for_web(html)   # as write_fragments makes them
    where = anchor_pages(book, index, ".html", BIBLIOGRAPHY, prepared)
    where.update({p.label: f"{INDEX}#{p.label}" for p in book.parts})
    entries = site.reference_entries(references)
    same = cachefile.digest(sorted(where.items()), references)
    views = chapter_views(book, index, {c.index: fragments.get(c.index, "") for c in book.chapters}, ".html")
    for view in views:
        raw = str(view.body_html)
        if view.chapter.index in fragments and "<img" not in raw and "<figure" not in raw:
            _finish_body(view, book, where, entries, same, Path(), _BODIES)   # (no figure: no file read)


def _characters(texts: list[str]) -> tuple[str, str]:
    """fonts.japanese_characters and fonts.latin_characters (of the pages' text) of ``texts``, each page's
    characters remembered (a live preview writes the same pages again and again)."""
    japanese: set[str] = set()
    latin: set[str] = set()
    for text in texts:
        page_japanese, page_latin = _page_characters(text)
        japanese |= page_japanese
        latin |= page_latin
    return fonts.japanese_characters(["".join(japanese)]), fonts.latin_characters(["".join(latin)])


@functools.lru_cache(maxsize=64)
def _page_characters(text: str) -> tuple[frozenset, frozenset]:
    """The characters fonts.japanese_characters finds in the page, and the characters beyond ASCII of its
    text (site.plain): latin_characters takes all of printable ASCII anyway and no ASCII control, so
    these give the same subsets, from the page's few characters beyond ASCII (site.wide) rather than
    from scans of the whole page."""
    wide = site.wide(text)
    japanese = frozenset(c for c in wide if c != "\u3000" and fonts.JAPANESE.match(c))
    # a character beyond ASCII in the text is one in the page, or a character reference (&...;)
    latin = frozenset(site.wide(unescape(site.TAG.sub(" ", text)))) if wide or "&" in text else frozenset()
    return japanese, latin


class _Indexing:
    """Pagefind indexing the pages written in ``out`` (its own process), while this one goes on."""

    def __init__(self, out: Path):
        self.failed: site.SearchIndexError | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(out,), daemon=True)
        self.thread.start()

    def _run(self, out: Path) -> None:
        try:
            site.search_index(out)
        except site.SearchIndexError as exc:
            self.failed = exc
        except BaseException as exc:   # handed to the build when it waits
            self.error = exc

    def wait(self) -> site.SearchIndexError | None:
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.failed


def _fonts(out: Path, font, faces) -> str:
    """The book's Latin faces and the Japanese glyphs as WOFF2 subsets in fonts/; their @font-face rules."""
    css = ""
    if font is not None or faces:
        (out / "fonts").mkdir()
    if faces:
        for face in faces:
            shutil.copyfile(face.font.path, out / "fonts" / fonts.latin_file_name(face))
        css += "\n" + fonts.latin_face_css(faces, "fonts")
        css += f':root {{ --serif: "{fonts.LATIN_FAMILY}", ' + "var(--serif-fallback); }\n"
    if font is not None:
        shutil.copyfile(font.path, out / "fonts" / "japanese.woff2")
        css += "\n" + fonts.font_face_css(font, "fonts/japanese.woff2")
    return css


DOWNLOADS = (("pdf", ".pdf", "application/pdf", "PDF (print edition)"),
             ("epub", ".epub", "application/epub+zip", "EPUB (e-book)"))


def _downloads(ctx: RenderContext, out: Path) -> list[dict]:
    """The PDF and EPUB this build made (``all``; a proof round), copied into ``downloads/``. The web
    edition depends on the sources alone: ``html`` by itself links neither, even if ``build/`` holds
    them from an earlier build (they may be older than the pages)."""
    found = []
    slug = ctx.book.config.slug
    for kind, ext, mime, label in DOWNLOADS:
        name = f"{slug}{ext}"
        # all: in this build's staging folder; a proof: beside the proof's web edition
        for candidate in (ctx.destination.parent / kind / name, ctx.destination.parent / name):
            if candidate.is_file():
                (out / "downloads").mkdir(exist_ok=True)
                shutil.copyfile(candidate, out / "downloads" / name)
                found.append({"kind": kind, "href": f"downloads/{name}", "type": mime,
                              "label": ui.words(ctx.book.config.lang)(label),
                              "size": _size(candidate.stat().st_size)})
                break
    return found


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 1_000_000 else f"{max(1, round(n / 1000))} kB"


def _scholar(view, authors, book_meta: dict, config, base: str, pdf: dict | None) -> list[tuple[str, str]]:
    """Google Scholar's citation_* tags for a chapter in an edited book."""
    meta = [("citation_title", view.title)]
    meta += [("citation_author", site.person(a.name).inverted) for a in authors]
    meta.append(("citation_inbook_title", book_meta["title"]))
    meta += [("citation_editor", site.person(e).inverted) for e in book_meta["editors"]]
    if config.date:
        meta.append(("citation_publication_date", config.date.replace("-", "/")))
    if config.publisher:
        meta.append(("citation_publisher", config.publisher))
    meta.append(("citation_language", config.lang))
    if base:
        meta.append(("citation_abstract_html_url", base + view.href))
        if pdf:
            meta.append(("citation_pdf_url", base + pdf["href"]))
    return meta


def _dublin_core(title: str, creators: list[str], config, role: str, part_of: str = "",
                 identifier: str = "") -> list[tuple[str, str]]:
    meta = [("DC.title", title)]
    meta += [("DC.creator" if role == "author" else "DC.contributor", site.person(c).inverted) for c in creators]
    if config.publisher:
        meta.append(("DC.publisher", config.publisher))
    if config.date:
        meta.append(("DC.date", config.date))
    meta += [("DC.language", config.lang), ("DC.type", "Text")]
    if part_of:
        meta.append(("DC.relation", part_of))
    if config.rights:
        meta.append(("DC.rights", config.rights))
    if identifier or config.url:
        meta.append(("DC.identifier", identifier or config.url))
    return meta
