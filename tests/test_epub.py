"""The EPUB edition of the 'mini' fixture book."""

from __future__ import annotations

import zipfile
from xml.etree import ElementTree

import pytest

from .xmlcheck import anchors, broken_links, epubcheck, text_of

OPF = "{http://www.idpf.org/2007/opf}"
DC = "{http://purl.org/dc/elements/1.1/}"


@pytest.fixture(scope="module")
def epub(mini):
    with zipfile.ZipFile(mini.epub) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture(scope="module")
def opf(epub):
    return ElementTree.fromstring(epub["EPUB/package.opf"])


def test_epubcheck_reports_nothing(mini):
    messages = epubcheck(mini.epub)
    assert [m for m in messages if m["severity"] in ("FATAL", "ERROR", "WARNING")] == []


def test_container_layout(mini):
    with zipfile.ZipFile(mini.epub) as archive:
        first = archive.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert archive.read("mimetype") == b"application/epub+zip"


def test_metadata(opf):
    meta = opf.find(f"{OPF}metadata")
    assert meta.find(f"{DC}title").text == "Alliances in Miniature"
    assert meta.find(f"{DC}language").text == "en"
    assert meta.find(f"{DC}date").text == "2020-01-15"
    assert meta.find(f"{DC}publisher").text == "Example Academic Press"
    assert meta.find(f"{DC}identifier").text.startswith("urn:uuid:")
    creators = [e.text for e in meta.findall(f"{DC}creator")]
    contributors = [e.text for e in meta.findall(f"{DC}contributor")]
    assert creators == ["TANAKA Hanako"]
    assert "Jane Smith" in contributors
    roles = {m.get("refines"): m.text for m in meta.findall(f"{OPF}meta") if m.get("property") == "role"}
    assert "edt" in roles.values() and "aut" in roles.values()


def test_one_file_per_chapter_in_reading_order(epub, opf):
    manifest = {i.get("id"): i.get("href") for i in opf.find(f"{OPF}manifest")}
    spine = [manifest[i.get("idref")] for i in opf.find(f"{OPF}spine")]
    assert spine[:3] == ["cover.xhtml", "title.xhtml", "nav.xhtml"]
    chapters = [s for s in spine if s in ("preface.xhtml", "origins.xhtml", "cases.xhtml", "appendix-data.xhtml")]
    assert chapters == ["preface.xhtml", "origins.xhtml", "cases.xhtml", "appendix-data.xhtml"]
    assert spine.index("part-1.xhtml") < spine.index("origins.xhtml") < spine.index("part-2.xhtml")
    assert spine[-1] == "bibliography.xhtml"
    assert "EPUB/style.css" in epub and "EPUB/chapters/figures/map.svg" in epub


def test_navigation_has_parts_chapters_and_sections(epub):
    nav = epub["EPUB/nav.xhtml"].decode()
    for text in ("Part I: Foundations", "Chapter 1: Origins of Alliances", "Part II: Cases",
                 "Appendix A: Data on Alliances", "1.1 Balancing and Bandwagoning", "Contributors"):
        assert text in nav, text


def test_chapter_pages(epub):
    origins = epub["EPUB/origins.xhtml"].decode()
    assert "TANAKA Hanako" in origins and "Professor, Faculty of Law, Example University" in origins
    assert "(Walt 1987, 5)" in text_of(origins)
    assert 'href="cases.xhtml#sec-cases"' in origins              # a reference to another file
    assert 'href="appendix-data.xhtml#tbl-dates"' in origins
    assert 'href="part-2.xhtml#sec-part-cases"' in origins
    assert 'href="bibliography.xhtml#ref-walt1987"' in origins
    assert "Figure 1.1:" in origins
    assert "日米同盟" in epub["EPUB/cases.xhtml"].decode()
    contributors = epub["EPUB/contributors.xhtml"].decode()
    assert "Lecturer, Department of War Studies, Example College" in contributors


def test_every_internal_link_resolves(epub):
    pages = {name.removeprefix("EPUB/"): data.decode() for name, data in epub.items() if name.endswith(".xhtml")}
    assert broken_links(pages) == []
    assert anchors(pages["origins.xhtml"]).lang == "en"


def test_japanese_is_marked_and_its_glyphs_travel_with_the_book(epub, opf):
    import io

    from fontTools.ttLib import TTFont

    assert '<span lang="ja">日米同盟</span>' in epub["EPUB/cases.xhtml"].decode()
    manifest = {i.get("href"): i.get("media-type") for i in opf.find(f"{OPF}manifest")}
    assert manifest["fonts/japanese.otf"] == "font/otf"
    cmap = TTFont(io.BytesIO(epub["EPUB/fonts/japanese.otf"])).getBestCmap()
    assert all(ord(ch) in cmap for ch in "日米同盟の比較研究")
    assert 'url("fonts/japanese.otf")' in epub["EPUB/style.css"].decode()


def test_a_page_that_starts_after_the_last_text_is_marked_inside_the_body():
    """A chapter whose last printed page holds only an image: its page's marker goes where the text ends, before
    </body>, not after </html> (EPUBCheck's FATAL RSC-016, and the page list's link led nowhere)."""
    from build_book.render import pagemap
    page = pagemap.scan("a.xhtml", '<?xml version="1.0"?>\n<html><body><section><p>Text.</p>'
                                   '<img src="a.png" alt=""/></section>\n</body>\n</html>\n')
    marked = pagemap.insert(page.text, [(page.end, "3")])
    assert marked.index('id="page-3"') < marked.index("</body>"), marked
