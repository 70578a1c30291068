"""A tagged PDF written in time linear in its pages: pydyf's page references made once per page count
(render/pagerefs.py)."""

from __future__ import annotations

import pikepdf
import pydyf
import pytest

from build_book.render import pagerefs, pdf


@pytest.fixture(scope="module")
def references():
    """pydyf's own ``page_references`` and the kept one (pydyf as it was afterwards)."""
    before = pydyf.PDF.page_references
    pagerefs.install()
    yield pydyf.PDF.page_references.fget.original, pydyf.PDF.page_references
    pydyf.PDF.page_references = before


def _pdf(pages: int) -> pydyf.PDF:
    document = pydyf.PDF()
    for _ in range(pages):
        document.add_page(pydyf.Dictionary({"Type": "/Page"}))
    return document


def test_the_references_are_made_once_for_each_number_of_pages(references):
    original, kept = references
    document = _pdf(3)
    assert original.fget(document) is not original.fget(document), (
        "pydyf now keeps its page references: render/pagerefs.py may not be needed")
    first = document.page_references
    assert first is document.page_references        # made once, not at every call
    assert first == original.fget(document) and len(first) == 3
    document.add_page(pydyf.Dictionary({"Type": "/Page"}))
    assert document.page_references == original.fget(document) and len(document.page_references) == 4
    other = _pdf(2)
    assert other.page_references == original.fget(other) != document.page_references


def test_a_tagged_pdf_is_written_as_pydyf_alone_writes_it(references, tmp_path):
    """Byte for byte: a document of 30 pages, with links to other pages, an outline (each entry with
    its page) and the structure tree of a tagged PDF, each element with its page."""
    from weasyprint import HTML

    original, kept = references
    sections = "".join(f'<h2 id="s{n}">Section {n}</h2><p>See <a href="#s{(n * 7) % 30}">section '
                       f'{(n * 7) % 30}</a>.</p><ul><li>one</li><li>two</li></ul>' for n in range(30))
    html = f'<html lang="en"><style>h2 {{ break-before: page }}</style><body>{sections}</body></html>'
    document = HTML(string=html).render()
    assert len(document.pages) == 30
    written = {}
    for name, prop in (("pydyf", original), ("kept", kept)):
        pydyf.PDF.page_references = prop
        try:
            pdf.write(document, tmp_path / f"{name}.pdf")
        finally:
            pydyf.PDF.page_references = kept
        written[name] = (tmp_path / f"{name}.pdf").read_bytes()
    assert written["kept"] == written["pydyf"]
    with pikepdf.open(tmp_path / "kept.pdf") as opened:
        tree = opened.Root.StructTreeRoot      # a tagged PDF, whose elements name their pages
        assert len(opened.pages) == 30 and "/K" in tree
        assert sum(1 for _ in _with_page(tree.K)) > 60


def _with_page(node):
    """The structure elements under ``node`` that name their page (/Pg)."""
    if isinstance(node, pikepdf.Array):
        for item in node:
            yield from _with_page(item)
    elif isinstance(node, pikepdf.Dictionary):
        if "/Pg" in node:
            yield node
        if "/K" in node:
            yield from _with_page(node.K)
