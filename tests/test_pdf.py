"""The print edition of the 'mini' fixture book, read back from the PDF."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path
from xml.etree import ElementTree

import pytest

from build_book import svgprint
from build_book.render.pdf import soft_breaks
from build_book.sanitize import parse_svg

from .conftest import REPO, copy_book, run_cli
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


def test_ranges_of_numbers_are_kept_on_one_line():
    from build_book.render.pdf import WORD_JOINER, kept_ranges

    html = '<p title="1\u20132">pages 123\u201360 and 1950\u201353, not A\u2013B</p>'
    assert kept_ranges(html) == (f'<p title="1\u20132">pages 123\u2013{WORD_JOINER}60 and '
                                 f'1950\u2013{WORD_JOINER}53, not A\u2013B</p>')


def test_a_table_that_breaks_leaves_no_row_alone_on_a_page():
    """Table 10.1 of the volume left its last row alone on the next page, under the repeated header.
    With print.css, an 8-row table pushed down the page a line at a time never has one row on a page."""
    from weasyprint import CSS, HTML
    from weasyprint.formatting_structure import boxes

    from build_book import templating

    css = CSS(filename=str(templating.static_file(REPO, "pdf/print.css")))
    rows = "".join(f"<tr><td>{1950 + i}</td><td>Event {i}</td></tr>" for i in range(8))
    counts = []
    for lines in range(18, 42):
        filler = "".join(f"<p>Line {n} of the text before the table.</p>" for n in range(lines))
        html = (f'<html lang="en"><body><section class="chapter">{filler}<table><caption>Dates</caption><thead>'
                f"<tr><th>Year</th><th>Event</th></tr></thead><tbody>{rows}</tbody></table></section></body></html>")
        document = HTML(string=html).render(stylesheets=[css])
        counts.append([sum(1 for b in page._page_box.descendants() if isinstance(b, boxes.TableRowBox)
                           and b.children and b.children[0].element_tag == "td") for page in document.pages])
    assert any(sum(1 for n in c if n) == 2 for c in counts), counts      # the table does break, at some lengths
    assert not any(1 in c for c in counts), counts


def test_the_title_verso_prints_the_date_as_a_reader_reads_it(pdf):
    verso = pdf.flat(pdf.page_of("Published by"))
    assert "Published by Example Academic Press, 15 January 2020" in verso
    assert "urn:uuid" not in verso and "Identifier" not in verso     # (the EPUB's identifier, derived)


@pytest.mark.parametrize("date, lang, identifier, shown", [
    ("2012-03-31", "en", None, ("31 March 2012", "")), ("2012-03", "en", None, ("March 2012", "")),
    ("2012", "en", None, ("2012", "")), ("2012-03-31", "ja", None, ("2012年3月31日", "")),
    ("2012-03-31", "en", "urn:isbn:978-4-00-000000-0", ("31 March 2012", "ISBN 978-4-00-000000-0")),
    ("2012-03-31", "en", "doi:10.1000/xyz", ("31 March 2012", "doi:10.1000/xyz"))])
def test_shown_date_and_identifier(tmp_path, date, lang, identifier, shown):
    from build_book.config import load_config

    (tmp_path / "book.yml").write_text(f"title: T\nlang: {lang}\ndate: '{date}'\nchapters: [a.md]\n"
                                       + (f"identifier: '{identifier}'\n" if identifier else ""), encoding="utf-8")
    (tmp_path / "a.md").write_text("# A\n", encoding="utf-8")
    config, _ = load_config(tmp_path)
    assert (config.shown_date, config.shown_identifier) == shown


def test_metadata(pdf):
    info = pdf.reader.metadata
    assert info.title.startswith("Alliances in Miniature")
    assert "TANAKA Hanako" in info.author and "Jane Smith" in info.author
    assert pdf.reader.trailer["/Root"].get("/Lang") == "en"


# ---- a tagged PDF (PDF/UA-1) with XMP metadata ---------------------------------------------------

def _structure(reader) -> tuple[dict[str, int], list]:
    """Counts of the structure tree's element types, and the /Alt of every Figure."""
    counts: dict[str, int] = {}
    alts: list = []
    stack = [reader.trailer["/Root"]["/StructTreeRoot"]]
    while stack:
        element = stack.pop().get_object()
        kind = element.get("/S")
        if kind:
            counts[str(kind)] = counts.get(str(kind), 0) + 1
            if kind == "/Figure":
                alts.append(element.get("/Alt"))
        kids = element.get("/K")
        kids = kids.get_object() if hasattr(kids, "get_object") else kids
        for kid in kids if isinstance(kids, list) else [kids]:
            if hasattr(kid, "get_object") and isinstance(kid.get_object(), dict):
                stack.append(kid)
    return counts, alts


def test_the_pdf_is_tagged_with_a_structure_tree(pdf, mini):
    root = pdf.reader.trailer["/Root"]
    counts, alts = _structure(pdf.reader)
    assert counts.get("/Document") == 1
    for kind in ("/H1", "/H2", "/P", "/Figure", "/Table", "/TH", "/TD", "/Caption", "/L", "/LI", "/Link"):
        assert counts.get(kind), (kind, counts)
    assert alts and all(alt for alt in alts), alts                        # every figure has alt text
    assert str(alts[0]) == "Alliance members."    # the SVG's own <title>, as in the other editions: not the caption
    assert root["/Lang"] == "en"
    assert root["/MarkInfo"]["/Marked"].value is True
    assert root["/ViewerPreferences"]["/DisplayDocTitle"].value is True  # the title, not the file name
    info = subprocess.run(["pdfinfo", str(mini.pdf)], capture_output=True, text=True).stdout
    assert re.search(r"^Tagged:\s+yes$", info, re.M), info
    assert re.search(r"^PDF version:\s+1\.7$", info, re.M), info


def test_the_pdf_carries_xmp_metadata(pdf):
    xmp = pdf.reader.xmp_metadata
    assert xmp.dc_title == {"x-default": "Alliances in Miniature: A Test Volume"}
    assert xmp.dc_creator == ["TANAKA Hanako", "Jane Smith"]
    assert xmp.dc_language == ["en"]
    assert xmp.dc_publisher == ["Example Academic Press"]
    assert xmp.dc_rights == {"x-default": "© 2020 Example Academic Press"}
    assert [d.date().isoformat() for d in xmp.dc_date] == ["2020-01-15"]
    packet = pdf.reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode("utf-8")
    assert 'pdfuaid:part="1"' in packet and "<dc:identifier>urn:uuid:" in packet


def test_the_pdf_keeps_its_page_labels(pdf):
    labels = pdf.reader.page_labels
    assert labels[0] == "i" and "1" in labels


# ---- SVG figures in print (build_book/svgprint.py) ------------------------------------------------

def _svg(body: str, style: str = "") -> ElementTree.Element:
    return parse_svg(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
                     f'{"<style>" + style + "</style>" if style else ""}{body}</svg>'.encode())


def _texts(root) -> list[tuple[str, str]]:
    return [(el.get("id") or "", el.get("style") or "") for el in root.iter() if el.tag.endswith("}text")]


@pytest.mark.parametrize("value, first", [
    ("stroke", True), ("stroke fill", True), ("markers stroke", True), ("markers", False),
    ("normal", False), ("fill", False), ("fill stroke markers", False), (None, False), ("", False)])
def test_paint_order_stroke_first(value, first):
    assert svgprint.stroke_first(value) is first


@pytest.mark.parametrize("body, style", [
    ('<text id="t" x="1" y="5" fill="#000" stroke="#fff" paint-order="stroke">A</text>', ""),
    ('<text id="t" style="paint-order: stroke fill; stroke: white" fill="#000">A</text>', ""),
    ('<text id="t" class="halo" fill="#000">A</text>', ".halo { paint-order: stroke; stroke: #fff }"),
    ('<g paint-order="stroke" stroke="#fff"><text id="t" fill="#000">A</text></g>', ""),
])
def test_text_painted_stroke_first_becomes_a_stroke_copy_below_a_fill_copy(body, style):
    root = _svg(body, style)
    assert svgprint.split_paint_order(root) == 1
    (below_id, below), (above_id, above) = _texts(root)
    assert below.endswith("fill:none!important;") and "stroke:none" not in below
    assert above.endswith("stroke:none!important") and "fill:none" not in above
    assert (below_id, above_id) == ("", "t")                 # the id stays with the one drawn on top


def test_tspans_of_a_split_text_follow_their_copy():
    root = _svg('<text fill="#000" stroke="#fff" paint-order="stroke">A<tspan fill="#888">B</tspan></text>')
    svgprint.split_paint_order(root)
    spans = [el.get("style") for el in root.iter() if el.tag.endswith("}tspan")]
    assert spans == ["fill:none!important;", "stroke:none!important"]


@pytest.mark.parametrize("body, style", [
    ('<text fill="#000" stroke="#fff">A</text>', ""),                               # fill first
    ('<text fill="#000" paint-order="stroke">A</text>', ""),                        # no stroke
    ('<text fill="#000" stroke="none" paint-order="stroke">A</text>', ""),
    ('<text class="x" fill="#000" stroke="#fff" paint-order="stroke">A</text>', ".x { paint-order: normal }"),
    ('<text fill="#000" stroke="#fff" paint-order="stroke" style="paint-order: fill">A</text>', ""),
])
def test_text_painted_fill_first_is_left_alone(body, style):
    root = _svg(body, style)
    assert svgprint.split_paint_order(root) == 0
    assert len(_texts(root)) == 1


def test_a_shape_painted_stroke_first_is_split_and_keeps_its_markers_on_top():
    root = _svg('<path id="p" d="M0 0L5 5" fill="red" stroke="blue" stroke-width="3" paint-order="stroke" '
                'marker-end="url(#m)"/>')
    assert svgprint.split_paint_order(root) == 1
    below, above = [el for el in root.iter() if el.tag.endswith("}path")]
    assert "fill:none" in below.get("style") and "marker-end:none" in below.get("style") and not below.get("id")
    assert above.get("style") == "stroke:none!important" and above.get("id") == "p"


def test_for_print_leaves_a_figure_without_paint_order_byte_for_byte():
    data = (REPO / "chapters" / "figures" / "hub-and-spokes.svg").read_bytes()
    assert svgprint.for_print(data) == data


@pytest.mark.parametrize("body, found", [
    ('<foreignObject width="5" height="5"><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>',
     "<foreignObject>"),
    ('<defs><path id="a" d="M0 0L9 9"/></defs><text><textPath href="#a">x</textPath></text>', "<textPath>"),
    ('<defs><filter id="f"><feGaussianBlur stdDeviation="2"/></filter></defs><rect filter="url(#f)"/>',
     "<feGaussianBlur>"),
    ('<rect style="filter: blur(2px)"/>', "the CSS filter 'blur(2px)'"),
    ('<rect style="mix-blend-mode: multiply"/>', "mix-blend-mode: multiply"),
    ('<text writing-mode="tb">縦</text>', "vertical text"),
    ('<switch><text systemLanguage="ja">日本</text><text>Japan</text></switch>', "<switch>"),
])
def test_what_the_print_renderer_cannot_draw_is_named(body, found):
    assert any(found in thing for thing in svgprint.unsupported(_svg(body)))


@pytest.mark.parametrize("body", [
    '<defs><filter id="f"><feOffset dx="2" dy="2"/></filter></defs><rect filter="url(#f)"/>',   # drawn
    '<defs><filter id="f"><feGaussianBlur stdDeviation="2"/></filter></defs><rect/>',          # never used
    '<defs><mask id="m"><rect width="5" height="5" fill="white"/></mask></defs><rect mask="url(#m)"/>',
    '<text fill="#000" stroke="#fff" paint-order="stroke">drawn by for_print</text>',
    '<switch><foreignObject/><text>fallback</text></switch>',
    '<text writing-mode="lr">横</text>',
])
def test_what_the_print_renderer_draws_raises_no_alarm(body):
    assert svgprint.unsupported(_svg(body)) == []


def test_the_volumes_figures_raise_no_alarm():
    for figure in sorted((REPO / "chapters" / "figures").glob("*.svg")):
        assert svgprint.unsupported(parse_svg(figure.read_bytes())) == [], figure.name


def _words(path: Path, first: int | None = None, last: int | None = None) -> list[dict]:
    """Every word pdftotext finds, with its page (0-based), bounding box (points), line and block."""
    args = ["pdftotext", "-bbox-layout"] + (["-f", str(first + 1), "-l", str(last + 1)] if first is not None else [])
    out = subprocess.run(args + [str(path), "-"], capture_output=True, text=True, check=True).stdout
    out = re.sub(r"<!DOCTYPE[^>]*>", "", out).replace('xmlns="http://www.w3.org/1999/xhtml"', "")
    words, line_number, block_number = [], 0, 0
    for page_number, page in enumerate(ElementTree.fromstring(out).iter("page"), start=first or 0):
        for block in page.iter("block"):
            block_number += 1
            for line in block.iter("line"):
                line_number += 1
                for word in line.iter("word"):
                    words.append({"page": page_number, "text": word.text or "", "line": line_number,
                                  "block": block_number, "width": float(page.get("width")),
                                  **{k: float(word.get(k)) for k in ("xMin", "yMin", "xMax", "yMax")}})
    return words


def _ink(path: Path, words: list[dict], resolution: int = 150) -> dict[int, float]:
    """For each word (by index), the share of its box the rendered page paints dark."""
    from PIL import Image

    shares: dict[int, float] = {}
    scale = resolution / 72
    for page in sorted({w["page"] for w in words}):
        with tempfile.TemporaryDirectory() as folder:
            subprocess.run(["pdftoppm", "-png", "-r", str(resolution), "-f", str(page + 1), "-l", str(page + 1),
                            "-singlefile", str(path), f"{folder}/page"], check=True)
            image = Image.open(f"{folder}/page.png").convert("L")
            for i, w in enumerate(words):
                if w["page"] != page:
                    continue
                box = [round(w[k] * scale) for k in ("xMin", "yMin", "xMax", "yMax")]
                histogram = image.crop(box).histogram()
                shares[i] = sum(histogram[:150]) / max(1, sum(histogram))
    return shares


def _svg_strings(figure: Path) -> list[str]:
    """Each run of text of an SVG figure's <text> elements (a <tspan> is a run of its own)."""
    root = parse_svg(figure.read_bytes())
    return [" ".join(run.split()) for el in root.iter() if el.tag.endswith("}text")
            for run in el.itertext() if run.strip()]


def test_every_text_of_every_volume_figure_is_printed_and_visible(volume):
    text = subprocess.run(["pdftotext", str(volume.pdf), "-"], capture_output=True, text=True).stdout
    flat = " ".join(text.split())
    figures = sorted((REPO / "chapters" / "figures").glob("*.svg"))
    assert figures
    for figure in figures:
        strings = _svg_strings(figure)
        missing = [s for s in strings if s not in flat]
        assert not missing, (figure.name, missing)
    # where the labels are drawn: the page that has most of a figure's strings
    pages = Pdf(volume.pdf)
    for figure in figures:
        strings = _svg_strings(figure)
        page = max(range(len(pages.pages)), key=lambda i: sum(s in pages.flat(i) for s in strings))
        words = [w for w in _words(volume.pdf, page, page)]
        wanted = {word for s in strings for word in s.split() if len(word) > 3}
        label_words = [w for w in words if w["text"] in wanted]
        shares = _ink(volume.pdf, label_words)
        invisible = [label_words[i]["text"] for i, share in shares.items() if share < 0.04]
        assert len(label_words) > 20 and not invisible, (figure.name, invisible)


# ---- typesetting: the 'print' fixture book ---------------------------------------------------------

@pytest.fixture(scope="module")
def typeset(tmp_path_factory):
    root = copy_book("print", tmp_path_factory)
    result = run_cli("pdf", "--book", str(root))
    assert result.returncode == 0, result.stderr
    return root / "build" / "setting-alliances-in-type.pdf", result.stdout + result.stderr


def test_table_captions_stay_with_their_tables(typeset):
    pdf = Pdf(typeset[0])
    for t in range(1, 13):
        caption = pdf.page_of(f"Caption{t} of the table", start=pdf.page_of("This paragraph sets inline code"))
        assert f"T{t}row0" in pdf.pages[caption], f"table {t}'s caption is stranded on page {caption + 1}"


def test_widows_and_orphans(typeset):
    """No paragraph leaves a single line at the foot or the head of a page."""
    lines: dict[str, dict[int, set]] = {}
    for w in _words(typeset[0]):
        found = re.fullmatch(r"(p\d+)[a-l]+\.?", w["text"])
        if found:
            lines.setdefault(found.group(1), {}).setdefault(w["page"], set()).add(w["line"])
    split = {name: pages for name, pages in lines.items() if len(pages) > 1}
    assert split, "the fixture has paragraphs that run over a page"
    for name, pages in split.items():
        assert all(len(on_page) >= 2 for on_page in pages.values()), (name, pages)


MM = 72 / 25.4


def test_code_and_addresses_break_inside_the_text_block_without_stretching_lines(typeset):
    path = typeset[0]
    words = _words(path)
    first = Pdf(path).page_of("This paragraph sets inline code")
    body = [w for w in words if w["page"] >= first]
    for w in body:   # the text block: 17 mm from the outer edge, 21 mm from the inner
        assert 17 * MM - 1 <= w["xMin"] and w["xMax"] <= w["width"] - 17 * MM + 1, w
    for word in ("option", "ministry"):     # code and a linked address; an address written bare
        block = next(w["block"] for w in body if w["text"] == word)
        paragraph = [w for w in body if w["block"] == block]
        by_line: dict[int, list] = {}
        for w in paragraph:
            by_line.setdefault(w["line"], []).append(w)
        for number, line in list(by_line.items())[:-1]:      # the last line of a paragraph is not justified
            gaps = [b["xMin"] - a["xMax"] for a, b in zip(line, line[1:])]
            assert max(gaps, default=0) < 9, " ".join(w["text"] for w in line)
    flat = "".join(w["text"] for w in body)
    for code in ("alliance_management_configuration_parameter_value_for_the_treaty_organisation",
                 "treaty.signatories.united_states.department_of_state.office_of_the_legal_adviser",
                 "https://www.example.org/archives/treaties/1951/security-treaty-between-japan-and-the-united-states/"
                 "full-text-and-annexes.html",
                 "https://www.mofa.example.go.jp/policy/security/documents/treaty-of-mutual-cooperation-and-security-"
                 "between-japan-and-the-united-states.html,",      # no hyphen added where a line breaks
                 "treaty_text=load('" + "security-treaty-article-" * 8 + "v.txt')"):
        assert code in flat, code


def test_soft_breaks_go_into_inline_code_and_addresses_only():
    html = ('<p><code>a.b_c/dEf</code> <a href="https://x.org/y">https://x.org/y</a> <a href="#s">see s.t</a> '
            '<code>x&amp;y</code></p><pre><code>keep.as_is</code></pre>')
    z = "\u200b"
    assert soft_breaks(html) == (f'<p><code>a.{z}b_{z}c/{z}d{z}Ef</code> <a href="https://x.org/y">https://{z}x.'
                                 f'{z}org/{z}y</a> <a href="#s">see s.t</a> <code>x&amp;{z}y</code></p>'
                                 '<pre><code>keep.as_is</code></pre>')
    # a bare address: without the punctuation after it; never in an SVG's text, a <pre> or an attribute
    bare = ('<p title="https://t.org">(see https://w.org/a_(1)), www.x.org/q?a&amp;b. Or https://.</p>'
            '<pre>https://p.org/x</pre><svg><text>https://s.org/x</text></svg>')
    assert soft_breaks(bare) == (f'<p title="https://t.org">(see <span class="uri">https://{z}w.{z}org/{z}a_({z}1)'
                                 f'</span>), <span class="uri">www.{z}x.{z}org/{z}q?{z}a&amp;{z}b</span>. Or https://.'
                                 '</p><pre>https://p.org/x</pre><svg><text>https://s.org/x</text></svg>')


def test_the_outline_shows_a_heading_without_the_invisible_breaks_its_line_has(typeset):
    """A heading's inline code, address and range have soft breaks and word joiners (soft_breaks, kept_ranges):
    a viewer's outline shows them as characters, so they are left out of it."""
    titles = []
    pending = Pdf(typeset[0]).outline()
    while pending:
        title, children = pending.pop()
        titles.append(title)
        pending += children
    assert "1.1 Sources at www.archive.example.org and treaty.full_text, 1950–53" in titles, titles


def test_halo_labels_are_visible_and_unsupported_svg_is_reported_at_the_figure(typeset):
    path, output = typeset
    assert ("chapters/01-type.md:11:" in output and "warning[svg-print-unsupported]" in output
            and "'figures/effects.svg'" in output and "<feGaussianBlur>" in output and "<textPath>" in output
            and "<foreignObject>" in output), output
    assert "figures/halo.svg" not in output
    pdf = Pdf(path)
    page = pdf.page_of("Haloed label")
    words = [w for w in _words(path, page, page)
             if w["text"] in ("Haloed", "label", "stylesheet", "Grouped", "tspan")]
    assert len(words) >= 6
    shares = _ink(path, words)
    assert all(share > 0.04 for share in shares.values()), [(w["text"], shares[i]) for i, w in enumerate(words)]


def test_the_layout_of_one_document_is_told_every_fifty_pages():
    """A long layout as one document (a book that overrides the PDF templates) shows its progress:
    WeasyPrint's own log of each page it starts, told every 50 pages; the log as it was afterwards;
    and a line that cannot be written does not stop the layout."""
    import logging

    from weasyprint import HTML

    from build_book.render.pdf import _LayoutProgress

    class Told:
        enabled = True

        def __init__(self):
            self.lines = []

        def step(self, message):
            self.lines.append(message)

    logger = logging.getLogger(_LayoutProgress.LOGGER)
    before = (logger.level, logger.propagate, list(logger.handlers))
    told = Told()
    handler = _LayoutProgress.attach(told)
    try:
        HTML(string="<p style='break-after: page'>page</p>" * 120).render()
    finally:
        _LayoutProgress.detach(handler)
    assert told.lines == ["laying out page 50", "laying out page 100"]
    assert (logger.level, logger.propagate, list(logger.handlers)) == before
    quiet = Told()
    quiet.enabled = False                      # -q: nothing attached
    assert _LayoutProgress.attach(quiet) is None and _LayoutProgress.attach(None) is None

    class Closed(Told):                        # stderr a closed pipe: the layout goes on, untold
        def step(self, message):
            raise BrokenPipeError(32, "Broken pipe")

    handler = _LayoutProgress.attach(Closed())
    try:
        document = HTML(string="<p style='break-after: page'>page</p>" * 60).render()
    finally:
        _LayoutProgress.detach(handler)
    assert len(document.pages) == 60 and handler.progress is None


def test_a_table_wider_than_the_page_is_broken_into_its_cells_never_cut_at_the_edge(tmp_path):
    """A table of a country and the years 1991-2011 printed up to 2003: the rest fell past the page's
    edge, with no word. Its cells now break (overflow-wrap: anywhere); a table that fits is as it was."""
    from .conftest import run_cli

    years = list(range(1991, 2012))
    rows = ["| Country | " + " | ".join(map(str, years)) + " |", "|---" * (len(years) + 1) + "|",
            "| United Kingdom | " + " | ".join(f"{n % 7 + 1}.{n % 9}" for n in range(len(years))) + " |"]
    (tmp_path / "book.yml").write_text("title: T\nchapters: [a.md]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("# A\n\n" + "\n".join(rows) + "\n\n: Spending {#tbl-wide}\n\nSee @tbl-wide.\n",
                                   encoding="utf-8")
    built = run_cli("pdf", "--book", str(tmp_path))
    assert built.returncode == 0, built.stderr
    from pypdf import PdfReader

    for page in PdfReader(next((tmp_path / "build").glob("*.pdf"))).pages:
        width, starts = float(page.mediabox.width), []

        def visit(text, cm, tm, font, size):
            if text.strip():
                starts.append(tm[4] * cm[0] + tm[5] * cm[2] + cm[4])     # where each run of text starts, in page space

        page.extract_text(visitor_text=visit)
        assert all(x < width for x in starts), (max(starts), width)   # nothing set past the page's edge


LISTS_AND_NOTES = """# Lists and Notes {#sec-lists}

5. fifth item
6. sixth item

i. roman one
ii. roman two

A) upper one
B) upper two

Conditions, numbered as lawyers do:[^conditions]

(iv) paren four
(v) paren five

Wide markers stay in the text block:

(vii) wide seven
(viii) wide eight

VII.  upper seven
VIII.  upper eight

1. outer
    a. inner one
    b. inner two

- [ ] an open task
- [x] a done task

Plain Caps and [Small Caps]{.smallcaps} side by side.

## A section with a note^[Set as any note, never bold.]

| Key | Value[^cell] |
|-----|--------------|
| a   | b            |

[^cell]: A note called in a header cell.

[^conditions]: Two of them:

    a) note alpha
    b) note beta

    ::: {.paren-note}
    1. own div one
    :::
"""


@pytest.fixture(scope="module")
def lists_and_notes(tmp_path_factory):
    root = tmp_path_factory.mktemp("lists")
    (root / "book.yml").write_text("title: Lists\nchapters: [a.md]\n", encoding="utf-8")
    (root / "a.md").write_text(LISTS_AND_NOTES, encoding="utf-8")
    result = run_cli("all", "--book", str(root))
    assert result.returncode == 0, result.stderr
    return root / "build"


def test_lists_are_numbered_as_written_and_tasks_keep_their_text_beside_the_box(lists_and_notes):
    """A list begun at 5 or written i., A), a., (iv) is numbered so, in the text and in a note (WeasyPrint reads
    neither <ol start> nor type= without HTML's presentational hints, and pandoc's HTML has no way to say
    '1)' or '(1)'); a task's text stands on its box's line."""
    text = subprocess.run(["pdftotext", "-layout", str(lists_and_notes / "lists.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    for line in ("5. fifth item", "6. sixth item", "i. roman one", "ii. roman two", "A) upper one", "B) upper two",
                 "a. inner one", "b. inner two", "(iv) paren four", "(v) paren five", "a) note alpha",
                 "b) note beta", "1. own div one"):     # (an author's div named like build_book's is theirs)
        assert re.search(rf"^\s*{re.escape(line)}\s*$", text, re.M), (line, text)
    # the web and EPUB editions: the same counter styles, each list in a div of its style's class
    import zipfile
    page = (lists_and_notes / "html" / "chapter-lists.html").read_text(encoding="utf-8")
    with zipfile.ZipFile(lists_and_notes / "lists.epub") as epub:
        xhtml = epub.read("EPUB/chapter-lists.xhtml").decode("utf-8")
        epub_css = epub.read("EPUB/style.css").decode("utf-8")
    for markup, css in ((page, (lists_and_notes / "html" / "style.css").read_text(encoding="utf-8")),
                        (xhtml, epub_css)):
        assert re.search(r'<div class="paren-upper-alpha">\s*<ol type="A">\s*<li>upper one', markup)
        assert re.search(r'<div class="parens-lower-roman">\s*<ol start="4" type="i">', markup)
        assert '@counter-style parens-lower-roman { system: extends lower-roman; prefix: "("; suffix: ") "; }' in css
        assert ".parens-lower-roman > ol { list-style-type: parens-lower-roman; }" in css
    words = _words(lists_and_notes / "lists.pdf")
    open_task = [w for w in words if w["text"] in ("an", "open")]
    assert len({w["line"] for w in open_task}) == 1, open_task
    bullet = min(w["xMin"] for w in words if w["text"] == "roman")
    assert abs(open_task[0]["xMin"] - bullet) < 14, (open_task, bullet)     # the box stands where the bullet was
    # markers as wide as '(viii)' and 'VIII.' are not set in the margin (6mm of indent held no more than 'v.')
    edge = min(w["xMin"] for w in words if w["text"] == "Wide")
    assert min(w["xMin"] for w in words if w["text"] in ("(viii)", "VIII.")) >= edge - 0.5, words


def test_small_caps_and_notes_called_in_headings_keep_their_own_style(lists_and_notes):
    """[Small Caps]{.smallcaps} is set in small capitals; a note called in a heading or a table's header is set
    as any note (not bold), and the heading's outline entry has no note number."""
    from pypdf import PdfReader

    from PIL import Image

    pdf = lists_and_notes / "lists.pdf"
    plain, small = [w for w in _words(pdf) if w["text"] == "Caps"][:2]
    with tempfile.TemporaryDirectory() as folder:     # small capitals: no descender on the p
        subprocess.run(["pdftoppm", "-png", "-r", "300", "-f", str(plain["page"] + 1), "-l", str(plain["page"] + 1),
                        "-singlefile", str(pdf), f"{folder}/page"], check=True)
        image = Image.open(f"{folder}/page.png").convert("L")
    lowest = {}
    for name, w in (("plain", plain), ("small", small)):
        crop = image.crop([round(w[k] * 300 / 72) for k in ("xMin", "yMin", "xMax", "yMax")])
        rows = [y for y in range(crop.height) if crop.crop((0, y, crop.width, y + 1)).getextrema()[0] < 128]
        lowest[name] = max(rows) / crop.height
    assert lowest["small"] < lowest["plain"] - 0.1, lowest
    fonts: dict[str, set] = {}

    def seen(text, cm, tm, font, size):
        if font is not None and text.strip():
            fonts.setdefault(text.strip(), set()).add(str(font.get("/BaseFont")))

    for page in PdfReader(lists_and_notes / "lists.pdf").pages:
        page.extract_text(visitor_text=seen)
    heading = next(f for t, f in fonts.items() if "A section with a note" in t)
    assert all("Bold" in name or "Semibold" in name or "SB" in name for name in heading), fonts
    for note in ("Set as any note, never bold.", "A note called in a header cell."):
        found = next(f for t, f in fonts.items() if note in t)
        assert not any("Bold" in name or "Semibold" in name or "SB" in name for name in found), (note, fonts)
    outline = Pdf(pdf).outline()
    sections = [title for _, children in outline for title, _ in children]
    assert "1.1 A section with a note" in sections, outline      # the note's number is no part of its entry
    for css in ("html/style.css", "epub/style.css"):
        assert re.search(r"\.smallcaps\s*\{[^}]*font-variant: small-caps", (REPO / "templates" / css).read_text())


def test_a_book_that_cites_nothing_has_no_bibliography_in_any_edition(lists_and_notes):
    """No page headed Bibliography with nothing under it, no contents line, bookmark or link to one."""
    import zipfile

    from .xmlcheck import epubcheck

    text = subprocess.run(["pdftotext", str(lists_and_notes / "lists.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Bibliography" not in text and "Bibliography" not in str(Pdf(lists_and_notes / "lists.pdf").outline())
    html = lists_and_notes / "html"
    assert not (html / "bibliography.html").exists()
    assert not any("bibliography.html" in page.read_text(encoding="utf-8") for page in html.glob("*.html"))
    with zipfile.ZipFile(lists_and_notes / "lists.epub") as epub:
        assert not any("bibliography" in name for name in epub.namelist())
        assert not any(b"bibliography" in epub.read(name) for name in epub.namelist() if name.endswith(".xhtml"))
    assert epubcheck(lists_and_notes / "lists.epub") == []


def test_a_character_no_font_has_is_named_where_it_is_written(tmp_path):
    """A character no installed font has (an emoji, a rare script, a private-use one) printed as a box in the
    PDF, with no word said; it is named at its first place in the chapters, the bibliography or book.yml. One
    a font has (Japanese), an invisible one (a variation selector, a joiner) and a formula's are not."""
    from build_book import glyphs

    if glyphs._coverage() is None:
        pytest.skip("no fc-list to say what the installed fonts cover")
    (tmp_path / "refs.bib").write_text("@book{w, author={W, A}, title={On \U0010FFFC}, publisher={P}, year={2001}}\n",
                                       encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: T\nbibliography: refs.bib\nchapters: [a.md]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("# A\n\nA box: \U0010FFFD\ufe0f, 日本\u200d, again \U0010FFFD [@w].\n\n"
                                   "$$ \\mathbb{A} $$\n", encoding="utf-8")
    result = run_cli("pdf", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    found = re.findall(r"^(\S+): warning\[glyph-missing\]: '[^']+' \((U\+\w+)\)", result.stderr, re.M)
    assert found == [("a.md:3:8", "U+10FFFD"), ("refs.bib:1:35", "U+10FFFC")], result.stderr


def test_japanese_text_is_not_justified_by_its_few_spaces(tmp_path):
    """WeasyPrint justifies a line by widening its spaces: a Japanese line has few (one, between 'NATO' and
    'との'), which took the whole slack of the line, a gap of several characters. Japanese text is set flush
    left, as its lines may break after any character."""
    (tmp_path / "book.yml").write_text("title: T\nlang: ja\nchapters: [a.md]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("# 章\n\n" + "日米同盟は NATO との関係においても重要であり、文章がここに続きます。" * 8 + "\n",
                                   encoding="utf-8")
    assert run_cli("pdf", "--book", str(tmp_path)).returncode == 0
    path = next((tmp_path / "build").glob("*.pdf"))
    words = _words(path)
    gaps = [b["xMin"] - a["xMax"] for a, b in zip(words, words[1:])
            if a["line"] == b["line"] and a["text"].endswith("NATO")]
    assert len(gaps) >= 6 and max(gaps) < 6, gaps   # (a space is about 3 points)
