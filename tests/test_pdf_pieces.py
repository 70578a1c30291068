"""The PDF laid out in pieces (render/pieces.py) is the PDF laid out as one document, in all that
matters; an edit lays out again only the piece it touches."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from .conftest import REPO, copy_book
from .pdfinfo import Pdf, destination_page, link_destinations

SLUG = "alliances-in-miniature"


def build(root, *, one_document=False) -> subprocess.CompletedProcess:
    env = {**os.environ, "BUILD_BOOK_PDF_PIECES": "0" if one_document else "1"}
    result = subprocess.run([sys.executable, "-m", "build_book", "pdf", "--book", str(root)], cwd=REPO,
                            capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr
    return result


def laid_out(result) -> tuple[int, int]:
    found = re.search(r"joining (\d+) pieces \((\d+) laid out", result.stderr)
    assert found, result.stderr
    return int(found.group(1)), int(found.group(2))


def outline_pages(pdf: Pdf) -> list:
    def walk(items):
        out = []
        for item in items:
            if isinstance(item, list):
                out.append(walk(item))
            else:
                out.append((item.title, pdf.reader.get_destination_page_number(item)))
        return out
    return walk(pdf.reader.outline)


def same(a: Pdf, b: Pdf) -> None:
    assert len(a.pages) == len(b.pages)
    assert a.pages == b.pages                                  # every page's text, contents numbers included
    assert [a.folio(i) for i in range(len(a.pages))] == [b.folio(i) for i in range(len(b.pages))]
    assert outline_pages(a) == outline_pages(b)
    assert [link_destinations(a, i) for i in range(len(a.pages))] == \
        [link_destinations(b, i) for i in range(len(b.pages))]
    names = a.reader.named_destinations
    assert set(names) == set(b.reader.named_destinations)
    assert {n: destination_page(a, n) for n in names} == {n: destination_page(b, n) for n in names}
    assert a.reader.metadata == b.reader.metadata
    assert a.reader.page_labels == b.reader.page_labels


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    root = copy_book("mini", tmp_path_factory)
    assert "page-references: true" in (root / "book.yml").read_text(encoding="utf-8")
    one = tmp_path_factory.mktemp("one") / "mini"
    shutil.copytree(root, one)
    cold = build(root)
    build(one, one_document=True)
    return root, one, cold


def test_pieces_give_the_one_document_pdf(books):
    root, one, cold = books
    pieces, count = laid_out(cold)
    assert pieces == 7 and count >= pieces     # front, 2 parts, 3 chapters and an appendix... and bibliography
    a, b = Pdf(one / "build" / f"{SLUG}.pdf"), Pdf(root / "build" / f"{SLUG}.pdf")
    same(a, b)
    contents = b.flat(b.page_of("Contents"))
    assert re.search(r"Cases of Alliance[ .]*\d+", contents)
    assert "?" not in b.flat()


def test_an_edit_lays_out_one_chapter_again(books):
    root, one, _ = books
    chapter = root / "chapters" / "02-cases.md"
    text = chapter.read_text(encoding="utf-8")
    assert "This chapter builds on" in text
    for book in (root, one):
        (book / "chapters" / "02-cases.md").write_text(
            text.replace("This chapter builds on", "This chapter builds directly on", 1), encoding="utf-8")
    edited = build(root)
    _, count = laid_out(edited)
    assert count == 1, edited.stderr
    build(one, one_document=True)
    same(Pdf(one / "build" / f"{SLUG}.pdf"), Pdf(root / "build" / f"{SLUG}.pdf"))
    shutil.rmtree(root / "build")
    clean = build(root)
    assert laid_out(clean)[1] >= 7
    same(Pdf(one / "build" / f"{SLUG}.pdf"), Pdf(root / "build" / f"{SLUG}.pdf"))
