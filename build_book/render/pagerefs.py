"""Writing a tagged PDF in time linear in its pages: pydyf's page references, made once.

WeasyPrint (70) writes a tagged PDF (PDF/UA, which build_book's print edition is) by giving each
element of the structure tree its page: ``pdf.page_references[page_number]``, once per element
(``weasyprint.pdf.tags``), and once per outline entry (``weasyprint.pdf.anchors``). pydyf (0.13)
makes ``page_references`` anew at every call, a tuple of every page's reference: the time to write
the tags grows with elements × pages. For the benchmark's book laid out as one document (464 pages,
35,000 calls: 16 million references encoded) that was 2.4 s of a 13.8 s write; a piece of 35 pages
pays a thirteenth of it per element.

:func:`install` makes the tuple once for each number of pages: pages are only ever added to a
``pydyf.PDF`` (``add_page`` extends its ``/Kids``), so the tuple made when the PDF had as many pages
is the one the original would make now."""

from __future__ import annotations


def install() -> None:
    """Replace ``pydyf.PDF.page_references`` by one that keeps its tuple; once."""
    import pydyf

    original = pydyf.PDF.page_references
    if not isinstance(original, property) or getattr(original.fget, "kept", False):
        return      # (a pydyf that made it otherwise: left as it is)

    def page_references(pdf) -> tuple:
        kids = pdf.pages["Kids"]
        kept = pdf.__dict__.get("_build_book_page_references")
        if kept is None or kept[0] is not kids or kept[1] != len(kids):
            kept = (kids, len(kids), original.fget(pdf))
            pdf.__dict__["_build_book_page_references"] = kept
        return kept[2]

    page_references.kept = True
    page_references.original = original
    pydyf.PDF.page_references = property(page_references)
