"""The volume itself: every edition builds, validates, and every reference in it resolves."""

from __future__ import annotations

import re
import zipfile

from .pdfinfo import Pdf
from .xmlcheck import broken_links, epubcheck, nu_validate, text_of


def test_epub_passes_epubcheck(volume):
    assert [m for m in epubcheck(volume.epub) if m["severity"] in ("FATAL", "ERROR", "WARNING")] == []


def test_html_is_valid_and_every_link_resolves(volume):
    result = nu_validate(volume.html)
    assert result.returncode == 0, result.stdout + result.stderr
    pages = {p.name: p.read_text(encoding="utf-8") for p in volume.html.glob("*.html")}
    assert broken_links(pages, volume.html) == []
    assert len(pages) == 17  # index, 13 chapter pages (appendix included), bibliography, the book's index, 404
    assert all("xref-missing" not in page for page in pages.values())


def test_epub_links_resolve(volume):
    with zipfile.ZipFile(volume.epub) as archive:
        pages = {n.removeprefix("EPUB/"): archive.read(n).decode() for n in archive.namelist() if n.endswith(".xhtml")}
    assert broken_links(pages) == []


def test_every_kind_of_reference_is_used_and_rendered(volume):
    japan = text_of((volume.html / "japan-us.html").read_text(encoding="utf-8"))
    conclusion = text_of((volume.html / "conclusion.html").read_text(encoding="utf-8"))
    whole = " ".join(text_of(p.read_text(encoding="utf-8")) for p in volume.html.glob("*.html"))
    for phrase in ("Part II", "Appendix A", "Table A.1", "Figure 2.1", "Section 2.", "Chapter 4"):
        assert phrase in whole, phrase
    assert "Table 2.1" in japan                                   # written @tbl:japan-us-guidelines
    assert re.search(r"Figures 1\.1 and 2\.1", conclusion)         # bare numbers [-@fig-...]


def test_pdf_has_real_japanese_glyphs_and_no_unresolved_reference(volume):
    pdf = Pdf(volume.pdf)
    assert all(info["embedded"] for info in pdf.fonts.values())
    assert any({"日", "米"} <= info["unicode"] for name, info in pdf.fonts.items() if "CJK" in name)
    text = pdf.flat()
    assert "??" not in text and "[@" not in text
    assert "KUBO Fumiaki" in text and "Principal US Alliance Treaties" in text


def test_pdf_lines_break_where_an_editor_would(volume):
    """No range of numbers broken after its dash (the bibliography's '123– / 60'), no word under six letters
    hyphenated ('Ja- / pan'), no cross-reference's word parted from its number."""
    lines = [line.strip() for page in Pdf(volume.pdf).pages for line in page.splitlines()]
    assert [line for line in lines if re.search(r"\d\u2013$", line)] == []
    pairs = list(zip(lines, lines[1:]))
    assert [(a, b) for a, b in pairs if re.search(r"(^|\s)Ja-$", a) and re.match(r"pan\b", b)] == []   # Japan: 5 letters
    assert [line for line in lines if re.search(r"\b(Chapter|Section|Table|Figure|Part|Appendix)$", line)
            and not re.match(r"[A-Z]?\.?\d", line)] == []     # (a heading "A.2 Notes on the Table" ends so)
    assert sum(len(re.findall(r"\d\u2013\d", line)) for line in lines) > 20     # (the dash is kept)


def test_pdf_embeds_each_font_once(volume):
    """The pieces' subsets of each font are joined into one embedded font: Linux Libertine's (CFF,
    name-keyed), Noto Serif CJK's (CFF, CID-keyed, whose subsets HarfBuzz may number differently) and
    DejaVu Sans's (TrueType, in the figures of two chapters)."""
    pdf = Pdf(volume.pdf)
    copies: dict[str, set] = {}
    for page in pdf.reader.pages:
        for ref in ((page.get("/Resources") or {}).get("/Font") or {}).values():
            font = ref.get_object()
            descendant = font.get("/DescendantFonts")
            descriptor = descendant[0].get_object()["/FontDescriptor"] if descendant else font.get("/FontDescriptor")
            for kind in ("/FontFile3", "/FontFile2"):
                program = descriptor.get_object().get(kind)
                if program is not None:
                    copies.setdefault(str(font["/BaseFont"]), set()).add(program.indirect_reference.idnum)
    assert any("CJK" in name for name in copies) and any("Libertine" in name for name in copies)
    assert any("DejaVu-Sans" in name for name in copies)
    assert {name: len(found) for name, found in copies.items() if len(found) > 1} == {}


def test_a_cold_build_lays_out_each_piece_of_the_pdf_once(volume):
    """The volume's index has entries in its preface (the front matter): the index is given its text
    when the front matter is laid out too, not with the front matter's pages as estimated and laid
    out again in a second pass (as it was, in every cold build)."""
    found = re.search(r"joining (\d+) pieces \((\d+) laid out", volume.stderr)
    assert found and found.group(1) == found.group(2), volume.stderr
    assert "laid out the index" in volume.stderr and "pass 2" not in volume.stderr


def test_an_index_entry_added_to_the_preface_lays_out_the_front_matter_and_the_index_once(volume, tmp_path):
    """Only the front matter and the index change: the index still waits for the front matter's pages
    (where it used to be laid out beside it, with its pages as estimated, and then again)."""
    import shutil

    from .conftest import run_cli

    root = tmp_path / "volume"
    shutil.copytree(volume.root, root)
    preface = root / "chapters" / "00-preface.md"
    text = preface.read_text(encoding="utf-8")
    assert "The chapters that follow" in text
    preface.write_text(text.replace("The chapters that follow",
                                    'The [chapters]{index="chapters of this volume"} that follow'), encoding="utf-8")
    result = run_cli("pdf", "--book", str(root), "--strict")
    assert result.returncode == 0, result.stderr
    assert "laying out 2 of 18 pieces" in result.stderr and "pass 2" not in result.stderr, result.stderr
    assert re.search(r"\(2 laid out", result.stderr), result.stderr
    pdf = Pdf(root / "build" / volume.pdf.name)
    index = " ".join(pdf.flat(i) for i in range(pdf.page_of("Adenauer, Konrad"), len(pdf.pages)))
    assert re.search(r"chapters of this volume, xi\b", index), index
