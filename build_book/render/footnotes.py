"""Footnotes WeasyPrint would lose, kept; and a check that every footnote called was laid out.

WeasyPrint (70) lays a document out again, page by page, while page numbers it shows
(``target-counter()``: the contents, "on page N") are settling; a page whose content did not change is
kept as it was. A footnote whose call sits at the foot of a page, where the note does not fit, is
deferred to the next page: it is carried from one page to the next in ``context.reported_footnotes``,
which WeasyPrint does not keep with the page it came from. So when the page with the call is kept and
the next page is made again (it shows a page number that changed), the deferred note is not carried
to it, and is in no page of the PDF: its call is printed, the note is lost, and the pages after it
are laid out with the room it should have taken. The rest of a float broken across the foot of a page
(``context.broken_out_of_flow``: a proof's margin comment) is lost in the same way. (No upstream report
found for WeasyPrint 70.)

:func:`install` keeps, for each page made, the notes and the rests of floats carried into the page
after it, and carries them into that page again when it is made again without the page before it. :func:`lost` finds the notes
whose call is laid out and whose body is not, so that no such loss goes unnoticed."""

from __future__ import annotations

CARRIED = "_build_book_carried_footnotes"


def install() -> None:
    """Patch ``weasyprint.layout.page.remake_page`` (called by name from ``make_all_pages``); once."""
    import weasyprint.layout.page as page

    original = page.remake_page
    if getattr(original, "keeps_footnotes", False):
        return

    def remake_page(index, context, root_box, html):
        carried = context.__dict__.setdefault(CARRIED, {})
        if index in carried:
            # as the page before left them, whether it was made now or kept from an earlier pass
            notes, floats = carried[index]
            for footnote in notes:   # make_page puts each back in the waiting list before laying it out
                while footnote in context.footnotes:
                    context.footnotes.remove(footnote)
            context.reported_footnotes = list(notes)
            context.broken_out_of_flow = dict(floats)
        result = original(index, context, root_box, html)
        carried[index + 1] = (list(context.reported_footnotes), dict(context.broken_out_of_flow))
        return result

    remake_page.keeps_footnotes = True
    remake_page.original = original
    page.remake_page = remake_page


def lost(document) -> list[str]:
    """The text of each footnote whose call is on a page of ``document`` (a laid-out WeasyPrint
    document) and whose body is on none."""
    from weasyprint.formatting_structure import boxes

    called: dict[int, object] = {}
    placed: set[int] = set()
    for page in document.pages:
        for box in page._page_box.descendants():
            if isinstance(box, boxes.FootnoteAreaBox):
                for note in box.children:
                    placed.add(id(note.element))
            elif getattr(box, "footnote", None) is not None:
                called.setdefault(id(box.footnote.element), box.footnote)
    return [_text(note) for key, note in called.items() if key not in placed]


def _text(box) -> str:
    """The note's text as printed, without its number."""
    text = " ".join(b.text for b in box.descendants() if getattr(b, "text", "")
                    and not (b.element_tag or "").endswith("::footnote-marker"))
    return " ".join(text.split())
