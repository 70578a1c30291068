"""The print edition: one HTML document laid out by WeasyPrint (``build/<slug>.pdf``).

Pages, running heads, roman and arabic folios, footnotes, the contents with
page numbers and the PDF outline all come from ``templates/pdf/print.css``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from markupsafe import Markup

from .. import templating
from . import RenderContext
from .common import book_context, chapter_views, references_html, rewrite_images, write_fragments

# WeasyPrint reports CSS it does not support through logging; our CSS is ours to keep clean.
logging.getLogger("weasyprint").setLevel(logging.ERROR)
logging.getLogger("fontTools").setLevel(logging.ERROR)


def render(ctx: RenderContext) -> list[Path]:
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    book, index, root = ctx.book, ctx.index, ctx.book.config.root
    fragments = write_fragments(book, ctx.prepared, footnotes_inline=True)
    views = chapter_views(book, index, fragments)
    for view in views:
        view.href = "#" + view.id
        view.body_html = Markup(rewrite_images(str(view.body_html), view.chapter, book, None))
    context = book_context(book, index, views)
    html = templating.render(root, "pdf/book.html.j2", references=references_html(ctx.prepared),
                             authors=_all_authors(book), **context)
    fonts = FontConfiguration()
    stylesheet = CSS(filename=str(templating.static_file(root, "pdf/print.css")), font_config=fonts)
    ctx.progress.step("laying out pages (WeasyPrint)")
    document = HTML(string=html, base_url=root.as_uri() + "/").render(stylesheets=[stylesheet], font_config=fonts)
    ctx.progress.step(f"writing {len(document.pages)} pages")
    target = ctx.destination / f"{book.config.slug}.pdf"
    document.write_pdf(target)
    return [target]


def _all_authors(book) -> list[str]:
    names = [e.name for e in book.editors]
    for chapter in book.chapters:
        for person in book.authors_of(chapter):
            if person.name not in names:
                names.append(person.name)
    return names
