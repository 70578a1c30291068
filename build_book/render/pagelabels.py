"""PDF page labels: a viewer's page numbers match the printed folios.

WeasyPrint numbers the front matter in roman and restarts in arabic at the first page of the
main matter (templates/pdf/print.css), but writes no /PageLabels, so a viewer would call folio 1
"page 11". :func:`finisher` adds them to the PDF WeasyPrint is about to write: roman from the
first page, arabic from 1 at the first page of the page group ``body``.
"""

from __future__ import annotations

MAIN_MATTER = "body"   # the page name print.css gives the main matter


def first_main_page(document) -> int | None:
    """The index of the first page of the main matter, None if there is none."""
    for number, page in enumerate(document.pages):
        page_type = getattr(page._page_box, "page_type", None)
        if page_type is not None and page_type.name == MAIN_MATTER:
            return number
    return None


def labels(document) -> list:
    """The /Nums array: page index, then the style of the pages from there."""
    import pydyf

    first = first_main_page(document)
    nums: list = []
    if first != 0:
        nums += [0, pydyf.Dictionary({"S": "/r"})]
    if first is not None:
        nums += [first, pydyf.Dictionary({"S": "/D", "St": 1})]
    return nums


def finisher(document, pdf) -> None:
    """For ``write_pdf(finisher=...)``: add /PageLabels to the catalogue."""
    import pydyf

    pdf.catalog["PageLabels"] = pydyf.Dictionary({"Nums": pydyf.Array(labels(document))})
