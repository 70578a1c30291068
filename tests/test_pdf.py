"""The print edition of the 'mini' fixture book, read back from the PDF."""

from __future__ import annotations

import re

import pytest

from .pdfinfo import Pdf


@pytest.fixture(scope="module")
def pdf(mini) -> Pdf:
    return Pdf(mini.pdf)


def test_title_pages_and_contributors(pdf):
    assert "Alliances in Miniature" in pdf.pages[0]  # half-title
    text = pdf.flat()
    assert "A Test Volume" in text
    assert "Edited by TANAKA Hanako" in text
    assert "Jane Smith" in text and "Lecturer, Department of War Studies, Example College" in text
    assert "Example Academic Press" in text


def test_chapters_open_with_their_authors_and_affiliations(pdf):
    opening = pdf.page_of("Cases of Alliance Jane Smith")
    page = pdf.flat(opening)
    assert "Chapter 2" in page
    assert "Lecturer, Department of War Studies, Example College" in page
    assert "TANAKA Hanako Professor, Faculty of Law, Example University" in page
    assert opening % 2 == 0, "chapters open on a right-hand (odd, counting from 1) page"


def test_citations_and_bibliography_are_formatted(pdf):
    text = pdf.flat()
    assert "(Walt 1987, 5)" in text
    assert "Snyder (1997) describes" in text
    assert "(see Morrow 1991)" in text                     # in a figure caption
    assert "(Snyder 1997, 180–85)" in text                 # in a footnote
    assert "(Walt 1987, 30)" in text                       # in a table cell
    bibliography = pdf.flat(pdf.page_of("Walt, Stephen M. 1987."))
    assert "Walt, Stephen M. 1987. The Origins of Alliances. Cornell University Press." in bibliography
    assert "Funabashi Yōichi, ed. 2001." in bibliography   # a Japanese work: family name first
    assert "同盟の比較研究" in bibliography
    assert "[@" not in text and "??" not in text


def test_cross_references_are_numbered_and_give_pages(pdf):
    text = pdf.flat()
    chapter2_page = pdf.folio(pdf.page_of("Cases of Alliance Jane Smith"))
    assert f"Chapter 2 on page {chapter2_page} applies these ideas" in text      # @Sec-cases, capitalised
    assert "Section 2.1 on page" in text                                         # @sec-cases-japan
    assert "Table A.1 on page" in text and "Appendix A on page" in text
    assert "Part II on page" in text
    assert "Figure 1.1 is also reachable as Figure 1.1 on page" in text         # [-@fig-map] and @fig:map
    assert "Figure 1.1: A map of the alliance members" in text
    assert "Table 2.1: Two alliances and their founding" in text
    assert "Table A.1: Treaty dates" in text
    assert "1.1.1 Asymmetry" in text and "2.1 Japan" in text
    assert pdf.internal_links(pdf.page_of("applies these ideas")) >= 5


def test_contents_gives_the_printed_page_numbers(pdf):
    contents = pdf.flat(pdf.page_of("Contents"))
    for title in ("Origins of Alliances", "Cases of Alliance", "Data on Alliances"):
        printed = pdf.folio(pdf.page_of(title, start=pdf.page_of("Contents") + 1))
        assert re.search(re.escape(title) + r"[ .]*" + printed + r"\b", contents), (title, printed, contents)
    assert re.search(r"Preface[ .]*[ivx]+\b", contents), "front matter is numbered in roman"
    first_chapter = pdf.page_of("Origins of Alliances TANAKA Hanako")
    assert pdf.folio(first_chapter) == "3", "arabic numbering starts at the main matter (after Part I)"


def test_footnotes_stand_at_the_foot_of_their_page(pdf):
    call = pdf.page_of("security dilemma.1")
    page = pdf.pages[call]
    assert "On the dilemma see also" in page
    assert page.index("On the dilemma see also") > page.index("security dilemma")


def test_running_heads(pdf):
    start = pdf.page_of("Origins of Alliances TANAKA Hanako")
    # the body text never names the book or repeats the chapter title: these are the heads
    assert "Alliances in Miniature" in pdf.pages[start + 1]       # verso: the book's title
    assert "Origins of Alliances" in pdf.pages[start + 2]         # recto: the chapter's title
    assert pdf.pages[start].count("Origins of Alliances") == 1, "no running head on an opening page"


def test_fonts_are_embedded_and_japanese_has_real_glyphs(pdf):
    fonts = pdf.fonts
    assert fonts and all(info["embedded"] for info in fonts.values()), fonts.keys()
    japanese = [name for name, info in fonts.items() if {"日", "米", "同", "盟"} <= info["unicode"]]
    assert japanese, "no embedded font carries glyphs for 日米同盟"
    assert any("CJK" in name for name in japanese)


def test_outline_lists_parts_and_chapters(pdf):
    outline = pdf.outline()
    titles = [title for title, _ in outline]
    assert any("Contents" in t for t in titles)
    assert "Part I: Foundations" in titles and "Part II: Cases" in titles
    children = dict(outline)
    assert [t for t, _ in children["Part I: Foundations"]] == ["Chapter 1: Origins of Alliances"]
    assert [t for t, _ in children["Part II: Cases"]] == ["Chapter 2: Cases of Alliance"]
    assert "Appendix A: Data on Alliances" in titles and "Preface" in titles
    assert "Bibliography" in titles
    sections = dict(children["Part I: Foundations"])["Chapter 1: Origins of Alliances"]
    assert [t for t, _ in sections] == ["1.1 Balancing and Bandwagoning"]


def test_metadata(pdf):
    info = pdf.reader.metadata
    assert info.title.startswith("Alliances in Miniature")
    assert "TANAKA Hanako" in info.author and "Jane Smith" in info.author
    assert pdf.reader.trailer["/Root"].get("/Lang") == "en"
