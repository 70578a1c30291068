"""Figure divs and sub-figures, links to pandoc's own heading ids, raw TeX and highlighted code, in the
'quarto' fixture book (chapters/04-figures.qmd), built once per session in every edition."""

from __future__ import annotations

import html
import json
import re
import subprocess
import zipfile
from collections import Counter

import pytest

from build_book import compat, pandoc
from build_book.walk import elements, inline_text

from .conftest import BOOKS, REPO, run_cli
from .pdfinfo import Pdf, link_destinations
from .xmlcheck import anchors, broken_links, epubcheck, text_of

CHAPTER = "chapters/04-figures.qmd"
LONG_LINE = next(line for line in (BOOKS / "quarto" / CHAPTER).read_text(encoding="utf-8").splitlines()
                 if line.startswith("totals = "))


@pytest.fixture(scope="module")
def pages(quarto):
    """Every page of the HTML and EPUB editions (name -> markup), and the PDF."""
    html = {p.name: p.read_text(encoding="utf-8") for p in quarto.html.glob("*.html")}
    with zipfile.ZipFile(quarto.epub) as archive:
        epub = {n.rsplit("/", 1)[-1]: archive.read(n).decode("utf-8") for n in archive.namelist()
                if n.endswith(".xhtml")}
    return {"html": html, "epub": epub, "pdf": Pdf(quarto.pdf)}


@pytest.fixture(scope="module")
def number(pages):
    """The chapter's number (the fixture's other chapters decide it)."""
    found = re.search(r'class="chapter-label">Chapter (\d+)<', pages["html"]["figures.html"])
    assert found
    return found.group(1)


def _chapter(pages, kind):
    return pages[kind]["figures.html" if kind == "html" else "figures.xhtml"]


def test_a_figure_div_is_a_numbered_figure_with_its_caption(pages, number):
    for kind in ("html", "epub"):
        markup = _chapter(pages, kind)
        single = re.search(r'<figure id="fig-single">(.*?)</figure>', markup, re.S)
        assert single, kind
        # the image has no alt text of its own: the SVG's own title describes it (never the caption twice)
        assert re.search(r'<img [^>]*alt="Panel A\."', single.group(1)), kind
        assert re.search(rf'<figcaption><span class="caption-label">Figure {number}\.1:</span> A figure div holding',
                         single.group(1)), kind
        assert re.search(rf'<a href="[^"]*#fig-single"[^>]*>Figure\u00a0{number}\.1</a> holds one image', markup), kind
    flat = pages["pdf"].flat()
    assert f"Figure {number}.1: A figure div holding one image" in flat
    assert f"Figure {number}.1 holds one image" in flat


def test_sub_figures_are_lettered_under_themselves_and_referred_to_as_figure_n_a(pages, number):
    for kind in ("html", "epub"):
        markup = _chapter(pages, kind)
        panels = re.search(r'<figure id="fig-panels">\s*<div class="subfigures columns-2">(.*?)</div>\s*'
                           r'<figcaption><span class="caption-label">Figure (\d+)\.2:</span> Two panels', markup, re.S)
        assert panels and panels.group(2) == number, kind
        inner = panels.group(1)
        assert re.search(r'<figure id="fig-panel-left">\s*<img [^>]*alt="Panel A\."[^>]*>\s*<figcaption>'
                         r'<span class="caption-label">\(a\)</span> Left panel', inner), kind
        assert re.search(r'<figure id="fig-panel-right">.*?<span class="caption-label">\(b\)</span> Right panel',
                         inner, re.S), kind
        text = text_of(markup)
        assert f"of which Figure {number}.2(a) comes first and Figure {number}.2(b) second" in text, kind
        # pandoc-crossref's spelling: <div id="fig:x"> with {#fig:a} images, set in one row
        assert re.search(r'<figure id="fig-crossref">\s*<div class="subfigures columns-2">', markup), kind
        assert f"Figure {number}.3 and its second panel, Figure {number}.3(b)" in text, kind
        assert "fig:crossref" not in markup and "layout-ncol" not in markup
    flat = pages["pdf"].flat()
    assert f"of which Figure {number}.2(a) comes first and Figure {number}.2(b) second" in flat
    assert "(a) Left panel, in blue" in flat and f"Figure {number}.2: Two panels laid out side by side" in flat


def test_sub_figures_stand_side_by_side_in_print(quarto, pages):
    page = pages["pdf"].page_of("(a) Left panel, in blue") + 1
    layout = subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(quarto.pdf), "-"],
                            capture_output=True, text=True, check=True).stdout
    assert any("(a) Left panel" in line and "(b) Right panel" in line for line in layout.splitlines()), layout


def test_lists_of_figures_list_the_figure_not_its_sub_figures(pages, number):
    lists = text_of(pages["epub"]["lists.xhtml"])
    assert f"Figure {number}.2" in lists and f"{number}.2(a)" not in lists and f"{number}.3(b)" not in lists
    pdf = pages["pdf"]
    front = pdf.flat(pdf.page_of("Two panels laid out side by side"))   # the list of figures comes first
    assert f"{number}.2(a)" not in front


def test_links_to_pandocs_own_heading_ids_lead_to_the_headings(pages, quarto):
    for kind in ("html", "epub"):
        markup = _chapter(pages, kind)
        assert broken_links(pages[kind]) == [], kind
        heading = re.search(r'<h2 id="([^"]+)"><span class="section-number">\d+\.\d+</span> Fill out file headers',
                            markup)
        assert heading, kind
        found = re.findall(r'<a href="([^"]*)"[^>]*>(?:the next section|the same section through this file)</a>',
                           markup)
        assert found and all(h.endswith("#" + heading.group(1)) for h in found), (kind, found)
        preface = re.search(r'<a href="([^"]*)"[^>]*>the preface</a>', markup).group(1)
        target, _, fragment = preface.partition("#")
        assert fragment and fragment in anchors(pages[kind][target or "figures.html"]).ids
        # no id twice in one page
        ids = Counter(re.findall(r'\sid="([^"]+)"', markup))
        assert [i for i, n in ids.items() if n > 1] == [], kind
    pdf = pages["pdf"]
    on = pdf.page_of("Headings without a label keep the ids")
    heading_id = re.search(r'<h2 id="([^"]+)"><span class="section-number">\d+\.\d+</span> Fill out file',
                           _chapter(pages, "html")).group(1)
    assert {heading_id, "sec-index"} <= link_destinations(pdf, on)
    assert "link-anchor" not in quarto.stderr


def test_a_link_to_an_id_that_exists_nowhere_is_still_an_error(tmp_path):
    (tmp_path / "_quarto.yml").write_text("project:\n  type: book\nbook:\n  title: T\n  author: A\n"
                                          "  chapters: [a.qmd, b.qmd]\n", encoding="utf-8")
    (tmp_path / "a.qmd").write_text("# Alpha\n\n## Shared heading\n\n[ok](#shared-heading) [ok2](b.qmd#only-in-b) "
                                    "[ok3](#only-in-b)\n\n[bad](#no-such-heading)\n\n[bad2](b.qmd#shared-heading)\n",
                                    encoding="utf-8")
    (tmp_path / "b.qmd").write_text("# Beta\n\n## Only in B\n\nText.\n", encoding="utf-8")
    result = run_cli("check", "--book", str(tmp_path), "--format", "json")
    found = [(d["path"], d["line"], d["code"]) for d in json.loads(result.stdout) if d["code"].startswith("link")]
    assert sorted(found) == [("a.qmd", 7, "link-anchor"), ("a.qmd", 9, "link-anchor")], result.stdout


def test_automatic_ids_are_those_pandoc_gives(tmp_path):
    text = "\n\n".join([
        "# Fill out *file* headers", "## Fill out file headers", "## 1.2 Numbers first: `code` & \"quotes\"",
        "## Ōyama's café — naïve résumé", "## 日本の同盟", "## ???", "## Dots.and_under-scores  spaced",
        "## Fill out file headers {#explicit}", "## Fill out file headers", "## section", "## $x^2$ math",
        "## C++ and C#", "## [A link](http://x.org) and **strong** words", "## Über 1999"])
    ours = [auto for _, auto in compat.auto_ids(pandoc.read_markdown(text)["blocks"])]
    theirs = subprocess.run([pandoc._binary(), "--from=markdown", "--to=json"], input=text, capture_output=True,
                            text=True, check=True).stdout
    ids = [b["c"][1][0] for b in json.loads(theirs)["blocks"] if b["t"] == "Header"]
    assert ours == [i for i in ids if i != "explicit"]


def test_raw_tex_page_breaks_break_the_page_in_print_only(pages):
    pdf = pages["pdf"]
    before = pdf.page_of("Text before the raw page break")
    after = pdf.page_of("Text after the raw page break")
    assert after == before + 1
    for kind in ("html", "epub"):
        markup = _chapter(pages, kind)
        # (the EPUB's page list marks where the printed page starts: right there)
        assert re.search(r'raw page break\.</p>\s*<div class="page-break">\s*</div>\s*<p>'
                         r'(?:<span epub:type="pagebreak" [^>]*></span>)?Text after', markup), kind
    assert re.search(r'<p><span epub:type="pagebreak" role="doc-pagebreak" id="page-%s" aria-label="%s">'
                     r'</span>Text after' % ((pdf.reader.page_labels[after],) * 2), _chapter(pages, "epub"))


def test_other_raw_tex_is_left_out_with_a_located_warning(pages, quarto):
    warned = re.findall(r"^(\S+): warning\[raw-tex-dropped\]: (.*)$", quarto.stderr, re.M)
    assert [w[0] for w in warned] == [f"{CHAPTER}:46:36", f"{CHAPTER}:48:1"]
    assert "'\\vspace{2em}'" in warned[0][1] and "\\begin{center}" in warned[1][1]
    for kind in ("html", "epub"):
        text = text_of(_chapter(pages, kind))
        assert "vspace" not in text and "Centred for LaTeX" not in text and "\\" not in text, kind
    flat = pages["pdf"].flat()
    assert "vspace" not in flat and "Centred for LaTeX" not in flat and "\\newpage" not in flat


def test_raw_tex_is_found_beside_math_and_in_every_spelling(tmp_path):
    (tmp_path / "_quarto.yml").write_text("project:\n  type: book\nbook:\n  title: T\n  author: A\n"
                                          "  chapters: [a.qmd]\n", encoding="utf-8")
    (tmp_path / "a.qmd").write_text(
        "# Alpha\n\nMath $\\alpha + \\beta$ is no raw TeX, but \\alpha here is.\n\n\\clearpage\n\n"
        "Words \\pagebreak inside a paragraph.\n\n`\\hfill`{=latex}\n\n\\pagebreak\nText after.\n\n"
        "```{=tex}\n\\newpage\n```\n\nC:\\Users\\me\n", encoding="utf-8")
    result = run_cli("check", "--book", str(tmp_path), "--format", "json")
    found = [(d["line"], d["column"], d["message"]) for d in json.loads(result.stdout)
             if d["code"] == "raw-tex-dropped"]
    where = [(line, column) for line, column, _ in found]
    # '\\pagebreak' before a line of text and '\\newpage' in a ```{=tex} block are page breaks
    assert where == [(3, 42), (7, 7), (9, 1), (18, 3), (18, 9)], found
    assert "page break" in found[1][2] and "\\hfill" in found[2][2] and "\\Users" in found[3][2]


def test_code_is_highlighted_in_every_edition(pages, quarto):
    for kind in ("html", "epub"):
        markup = _chapter(pages, kind)
        assert re.search(r'<pre class="sourceCode python"><code class="sourceCode python">.*?'
                         r'<span class="kw">def</span> greet', markup, re.S), kind
        # Quarto's executable cells too
        intro = pages[kind]["intro.html" if kind == "html" else "intro.xhtml"]
        assert re.search(r'<code class="sourceCode r">.*?<span class="(?:ot|dv|fu|st)">', intro, re.S), kind
    styles = {"html": (quarto.html / "style.css").read_text(encoding="utf-8"),
              "pdf": (REPO / "templates" / "pdf" / "print.css").read_text(encoding="utf-8")}
    with zipfile.ZipFile(quarto.epub) as archive:
        styles["epub"] = "".join(archive.read(n).decode("utf-8") for n in archive.namelist() if n.endswith(".css"))
    for kind, css in styles.items():
        assert re.search(r"code span\.kw[^{]*\{[^}]*color", css), kind
        assert re.search(r"\npre \{[^}]*white-space: pre-wrap[^}]*overflow-wrap: anywhere", css), kind
    # in print, the keyword is drawn in the keyword's colour on the page of the code
    pdf = pages["pdf"]
    page = pdf.reader.pages[pdf.page_of("def greet(name: str)")]
    colours = re.findall(r"([\d.]+) ([\d.]+) ([\d.]+) rg", page.get_contents().get_data().decode("latin-1"))
    keyword = (0x1F / 255, 0x4E / 255, 0x8C / 255)
    assert any(all(abs(float(c) - k) < 0.01 for c, k in zip(rgb, keyword)) for rgb in colours)


def test_a_long_code_line_wraps_in_print_and_nothing_is_clipped(pages):
    assert len(LONG_LINE) == 200
    pdf = pages["pdf"]
    joined = "".join(pdf.text.split())
    assert "".join(LONG_LINE.split()) in joined
    # it wraps onto lines within the page, each drawn inside the text block
    page = pdf.page_of("compute_the_totals")
    lines = [line for line in pdf.pages[page].split("\n") if "compute_the_totals" in line or "abcdef" in line]
    assert len(lines) >= 2


def test_the_epub_stays_valid(quarto):
    messages = epubcheck(quarto.epub)
    assert [m for m in messages if m["severity"] in ("FATAL", "ERROR", "WARNING")] == []


def _figures(markdown: str) -> list:
    blocks = pandoc.read_markdown(markdown)["blocks"]
    compat.figure_divs(blocks)
    return blocks


def test_figure_divs_in_their_other_spellings():
    # sub-figures written as figure divs of their own, laid out in rows
    [outer] = _figures("::: {#fig-x layout-nrow=1}\n::: {#fig-a}\n![](a.png)\n\nCaption a\n:::\n\n"
                       "::: {#fig-b}\n![](b.png)\n\nCaption b\n:::\n\nWhole caption\n:::\n")
    assert outer["t"] == "Figure" and outer["c"][0] == ["fig-x", [], []]
    assert outer["c"][1][1] == [{"t": "Plain", "c": [{"t": "Str", "c": "Whole"}, {"t": "Space"},
                                                      {"t": "Str", "c": "caption"}]}]
    [grid] = outer["c"][2]
    assert grid["c"][0][1] == ["subfigures", "columns-2"]
    assert [f["c"][0][0] for f in compat.subfigures(outer)] == ["fig-a", "fig-b"]
    # one captioned image without a label is the figure's image, its words its alt text
    [single] = _figures("::: {#fig-y}\n![A blue panel](a.png)\n\nThe caption\n:::\n")
    [image_block] = single["c"][2]
    assert image_block["t"] == "Plain" and image_block["c"][0]["t"] == "Image"
    # two captioned images without labels keep their captions (nothing printed is lost), lettered as sub-figures
    # as pandoc-crossref letters them, given ids of their figure's
    [pair] = _figures("::: {#fig-z layout-ncol=2}\n![First](a.png)\n\n![Second](b.png)\n\nBoth\n:::\n")
    [grid] = pair["c"][2]
    assert [f["c"][0][0] for f in compat.subfigures(pair)] == ["fig-z-sub-1", "fig-z-sub-2"]
    assert [inline_text(f["c"][1][1][0]["c"]) for f in compat.subfigures(pair)] == ["First", "Second"]
    # so with one labelled, beside it: its caption was lost (printed as alt text), the other lettered (a)
    for written in ("![First](a.png)\n\n![Second](b.png){#fig-b}\n", "![First](a.png) ![Second](b.png){#fig-b}\n"):
        [mixed] = _figures(f"::: {{#fig-m layout-ncol=2}}\n{written}\nBoth\n:::\n")
        assert [(f["c"][0][0], inline_text(f["c"][1][1][0]["c"])) for f in compat.subfigures(mixed)] == [
            ("fig-m-sub-1", "First"), ("fig-b", "Second")], written
    # a layout div without a figure label sets its blocks side by side, figures kept as they are
    [layout] = _figures("::: {layout-ncol=3}\n![A](a.png){#fig-p}\n\n![B](b.png){#fig-q}\n\n![C](c.png)\n:::\n")
    assert layout["t"] == "Div" and layout["c"][0][1] == ["subfigures", "columns-3"]
    assert [b["t"] for b in layout["c"][1]] == ["Figure", "Figure", "Figure"]
    # a div with another id is left alone
    [other] = _figures("::: {#sec-note}\n![A](a.png)\n\nText\n:::\n")
    assert other["t"] == "Div"


def test_figure_divs_as_quarto_renders_and_real_books_write_them():
    # the caption in fig-cap=, the last block an image
    [cap] = _figures('::: {#fig-c layout-ncol=2 fig-cap="Start and end frames."}\n![](a.png)\n\n![](b.png)\n:::\n')
    assert inline_text(cap["c"][1][1][0]["c"]) == "Start and end frames."
    images = [n for n in elements(cap["c"][2]) if n["t"] == "Image"]
    assert [inline_text(i["c"][1]) for i in images] == ["Start and end frames."] * 2   # alt text
    # one captioned image and no caption paragraph: the image's caption is the figure's
    [lone] = _figures("::: {#fig-w}\n![Windows that overlap](w.png)\n:::\n")
    assert inline_text(lone["c"][1][1][0]["c"]) == "Windows that overlap"
    assert [b["t"] for b in lone["c"][2]] == ["Plain"]
    # Quarto's rendered Markdown: each sub-figure in a div of its own
    [cells] = _figures('::: {#fig-e .cell layout-ncol="2"}\n::: {.cell-output-display}\n![All six](a.png){#fig-e-1}\n'
                       ':::\n\n::: {.cell-output-display}\n![Three](b.png){#fig-e-2}\n:::\n\nModel fits\n:::\n')
    assert [f["c"][0][0] for f in compat.subfigures(cells)] == ["fig-e-1", "fig-e-2"]
    assert cells["c"][2][0]["c"][0][1] == ["subfigures", "columns-2"]


def test_a_quarto_table_div_is_the_table_labelled_and_captioned(tmp_path):
    """``::: {#tbl-q}``: a table and its caption as the div's last paragraph, as Quarto writes it (a table
    with a caption of its own keeps it)."""
    (tmp_path / "book.yml").write_text("title: T\nchapters: [a.md]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text(
        "# A {#sec-a}\n\nSee @tbl-q and @tbl-r.\n\n::: {#tbl-q}\n| Col | Val |\n|-----|-----|\n| a   | 1   |\n\n"
        "A caption for the div table.\n:::\n\n::: {#tbl-r}\n| Col | Val |\n|-----|-----|\n| b   | 2   |\n\n"
        ": Its own caption\n:::\n", encoding="utf-8")
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
    page = (tmp_path / "build" / "html" / "a.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "See Table\u00a01.1 and Table\u00a01.2." in text, text
    assert "Table 1.1: A caption for the div table." in text and "Table 1.2: Its own caption" in text, text
    assert re.search(r'<table[^>]*id="tbl-q"', page) or 'id="tbl-q"' in page
