"""The HTML edition: a multi-page site for the web (``build/html/``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from markupsafe import Markup

from .. import fonts, math, templating
from . import RenderContext
from .common import (anchor_pages, book_context, chapter_views, image_data, link_bodies, local_images,
                     references_html, relink, write_fragments)

INDEX, BIBLIOGRAPHY, BOOK_INDEX = "index.html", "bibliography.html", "genindex.html"


def render(ctx: RenderContext) -> list[Path]:
    book, index, root = ctx.book, ctx.index, ctx.book.config.root
    out = ctx.destination / "html"
    out.mkdir()
    fragments = write_fragments(book, ctx.prepared, footnotes_inline=False, edition="html")
    views = chapter_views(book, index, fragments, ".html")
    where = anchor_pages(book, index, ".html", BIBLIOGRAPHY, ctx.prepared)
    where.update({p.label: f"{INDEX}#{p.label}" for p in book.parts})
    context = book_context(book, index, views, ctx.proof)
    link_bodies(views, book, where)
    pages = [(INDEX, "html/index.html.j2", {"page_title": book.config.title})]
    for position, view in enumerate(views):
        pages.append((view.href, "html/chapter.html.j2", {
            "view": view, "page_title": view.full_title,
            "prev": views[position - 1] if position else None,
            "next": views[position + 1] if position + 1 < len(views) else None,
        }))
    if context["book_bibliography"]:
        refs = relink(str(references_html(ctx.prepared)), where, BIBLIOGRAPHY)
        pages.append((BIBLIOGRAPHY, "html/bibliography.html.j2", {
            "page_title": "Bibliography", "references": Markup(refs), "prev": views[-1] if views else None}))
    if context["book_index"]:
        pages.append((BOOK_INDEX, "html/book-index.html.j2", {"page_title": "Index"}))
    for name, template, extra in pages:
        html = templating.render(root, template, page=name, **context, **extra)
        (out / name).write_text(html, encoding="utf-8")
    css = templating.static_file(root, "html/style.css").read_text(encoding="utf-8")
    japanese = fonts.japanese_characters(p.read_text(encoding="utf-8") for p in out.glob("*.html"))
    font = fonts.subset(japanese, root, flavor="woff")
    if font is not None:
        (out / "fonts").mkdir()
        shutil.copyfile(font.path, out / "fonts" / "japanese.woff")
        css += "\n" + fonts.font_face_css(font, "fonts/japanese.woff")
    math_font = math.web_font((p.read_text(encoding="utf-8") for p in out.glob("*.html")), root, "woff2")
    if math_font is not None:   # the glyphs the formulas need, for browsers with no math font
        (out / "fonts").mkdir(exist_ok=True)
        (out / "fonts" / "math.woff2").write_bytes(math_font[0])
        css += "\n" + math_font[1]
    (out / "style.css").write_text(css, encoding="utf-8")
    for rel, source in local_images(book).items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(image_data(source))
    return [out]
