"""TeX math in the 'quarto' fixture (chapters/03-math.qmd, an equation in the appendix), built once per
session: MathML in the HTML and EPUB editions, typeset vector drawings in the PDF, equation numbers and
"Equation 3.1" references everywhere, no raw TeX in any edition's text. The 'math-broken' fixture's
diagnostics are golden (tests/test_checks.py compares them); here, what they say."""

from __future__ import annotations

import html
import json
import re
import zipfile
from xml.etree import ElementTree

import pytest

from build_book import math
from build_book.scan import scan

from .conftest import copy_book, run_cli
from .pdfinfo import Pdf
from .xmlcheck import epubcheck

MATHML = "{http://www.w3.org/1998/Math/MathML}"
RAW_TEX = re.compile(r"\\frac|\\sum|\\begin|\$\$|\{#eq|\\alpha|\\pmatrix")


def _visible(markup: str) -> str:
    """What a reader sees of a page (with MathML, as its characters): tags dropped, spaces collapsed."""
    markup = re.sub(r"<(script|style|annotation)\b.*?</\1>", " ", markup, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", markup)))


@pytest.fixture(scope="module")
def pages(quarto):
    with zipfile.ZipFile(quarto.epub) as archive:
        epub = {n: archive.read(n).decode("utf-8") for n in archive.namelist() if n.endswith((".xhtml", ".opf"))}
    web = {p.name: p.read_text(encoding="utf-8") for p in quarto.html.glob("*.html")}
    return {"html": web, "epub": epub, "pdf": Pdf(quarto.pdf)}


def _chapter(files: dict[str, str], title: str) -> str:
    return next(text for name, text in files.items() if f">{title}<" in text and "<math" in text)


@pytest.mark.parametrize("edition", ["html", "epub"])
def test_formulas_are_mathml(pages, edition):
    page = _chapter(pages[edition], "Mathematics")
    if edition == "epub":
        formulas = list(ElementTree.fromstring(page).iter(MATHML + "math"))   # XHTML: the whole page is XML
    else:   # each formula is MathML, which is XML, in the HTML page
        formulas = [ElementTree.fromstring(m) for m in re.findall(r"<math\b.*?</math>", page, re.S)]
    assert all(m.tag == MATHML + "math" for m in formulas)
    inline = [m for m in formulas if m.get("display") == "inline"]
    block = [m for m in formulas if m.get("display") == "block"]
    assert len(block) == 4 and len(inline) >= 8     # (one a \begin{align} written without dollars)
    assert any(m.find(f".//{MATHML}mfrac") is not None for m in formulas)
    assert any(m.find(f".//{MATHML}mtable") is not None for m in block)       # aligned and the matrix
    assert any(m.find(f".//{MATHML}msqrt") is not None for m in inline)
    assert not any(m.find(f".//{MATHML}annotation") is not None for m in formulas)   # no TeX to print


def test_the_epub_declares_mathml_and_stays_valid(quarto, pages):
    opf = pages["epub"]["EPUB/package.opf"] if "EPUB/package.opf" in pages["epub"] else \
        next(t for n, t in pages["epub"].items() if n.endswith(".opf"))
    math_pages = {n.rsplit("/", 1)[-1] for n, t in pages["epub"].items() if n.endswith(".xhtml") and "<math" in t}
    assert len(math_pages) >= 2   # the chapter and the appendix
    for item in re.findall(r"<item [^>]*/>", opf):
        href = re.search(r'href="([^"]+)"', item).group(1).rsplit("/", 1)[-1]
        if href.endswith(".xhtml"):
            assert ('mathml' in item) == (href in math_pages), item
    messages = epubcheck(quarto.epub)
    assert [m for m in messages if m["severity"] in ("FATAL", "ERROR", "WARNING")] == []


def test_numbered_equations_and_references_in_every_edition(pages):
    web = _visible(_chapter(pages["html"], "Mathematics"))
    epub = _visible(_chapter(pages["epub"], "Mathematics"))
    pdf = pages["pdf"].flat()
    for text in (web, epub, pdf):
        assert "(3.1)" in text and "(3.2)" in text
        assert "By Equation 3.1 the sum" in text and "and 3.2 expands" in text and "Equation 3.1 is Gauss" in text
        assert "(3.3)" in text and "So Equation 3.3 sets both" in text
    appendix = [_visible(_chapter(pages[kind], "Extra Material")) for kind in ("html", "epub")] + [pdf]
    for text in appendix:
        assert "(A.1)" in text and "Equation A.1 follows Equation 3.1 from Chapter 3" in text
    page = _chapter(pages["html"], "Extra Material")
    assert re.search(r'<a href="math\.html#eq-gauss"[^>]*>Equation\u00a03\.1</a>', page)
    assert 'id="eq-gauss"' in _chapter(pages["html"], "Mathematics")
    assert 'id="eq-squares"' in _chapter(pages["html"], "Mathematics")     # {#eq:squares}, pandoc-crossref's


def test_no_raw_tex_in_any_edition(pages):
    for name, text in list(pages["html"].items()) + list(pages["epub"].items()):
        assert not RAW_TEX.search(_visible(text)), name
    assert not RAW_TEX.search(pages["pdf"].text)
    assert "A price of $5 and another of $6 is no formula" in pages["pdf"].flat()


def test_the_pdf_draws_formulas_as_vectors(pages):
    pdf = pages["pdf"]
    math_page = pdf.page_of("Inline formulas sit on the line")
    plain_page = pdf.page_of("A second chapter about tools")

    def curves(n: int) -> int:   # Bézier segments drawn on the page: glyph outlines, not text
        return len(re.findall(rb"\sc\n", pdf.reader.pages[n].get_contents().get_data()))

    assert curves(math_page) > 500 and curves(plain_page) < 50
    for n in (math_page, plain_page):
        xobjects = pdf.reader.pages[n]["/Resources"].get("/XObject") or {}
        assert not [x for x in xobjects.values() if x.get_object().get("/Subtype") == "/Image"]   # no bitmaps
    fonts = {name for name in pdf.fonts}
    assert not any("STIX" in name for name in fonts)   # glyphs are paths, not text in a math font


def test_each_formula_is_laid_out_once_and_cached(quarto):
    folder = quarto.root / "build" / ".cache" / "math"
    entries = list(folder.glob("*.json"))
    formulas = set()
    for path in (quarto.root / "chapters").glob("*.qmd"):
        text = path.read_text(encoding="utf-8")
        formulas |= {" ".join(t.split()) for t, _ in scan(text).maths}
        formulas |= set(re.findall(r"^\\begin\{.*?^\\end\{.*?\}", text, re.M | re.S))   # (written without $$)
    assert len(entries) == len(formulas)    # "$1$" written twice, laid out once


def test_inline_formulas_sit_on_the_baseline():
    squared = math.svg("<mi>x</mi>", False)          # no descender: its box ends at the baseline (and a margin)
    letter_g = math.svg("<mi>g</mi>", False)         # a descender: its box goes below it
    assert 0 < squared["depth"] < 0.1 < letter_g["depth"] < 0.4
    fraction = math.svg("<mfrac><mi>a</mi><mi>b</mi></mfrac>", True)
    assert fraction["depth"] > 0.3 and fraction["height"] > 1.2
    tag = math.image_tag(squared, False, r"x")
    assert f"vertical-align:{-squared['depth']:.3f}em" in tag and tag.startswith('<img class="math math-inline"')


def test_equation_labels_are_read_in_both_spellings():
    blocks = [{"t": "Para", "c": [{"t": "Math", "c": [{"t": "DisplayMath"}, "a=b"]}, {"t": "Space"},
                                  {"t": "Str", "c": "{#eq:one}"}]},
              {"t": "Para", "c": [{"t": "Math", "c": [{"t": "DisplayMath"}, "c"]}, {"t": "SoftBreak"},
                                  {"t": "Str", "c": "{#eq-two}"}]},
              {"t": "Para", "c": [{"t": "Math", "c": [{"t": "InlineMath"}, "d"]}, {"t": "Space"},
                                  {"t": "Str", "c": "{#eq-three}"}]}]
    math.label_equations(blocks)
    assert [b["c"][0]["c"][0][0] for b in blocks[:2]] == ["eq-one", "eq-two"]
    assert all(math.is_equation(b["c"][0]) for b in blocks[:2]) and len(blocks[0]["c"]) == 1
    assert blocks[2]["c"][-1] == {"t": "Str", "c": "{#eq-three}"}   # not on a display: reported by the check


def test_bad_tex_is_a_located_error(tmp_path_factory):
    root = copy_book("math-broken", tmp_path_factory)
    result = run_cli("check", "--book", str(root))
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "chapters/01-bad.qmd:3:36: error[math-error]: the formula '\\frac{a}{b' cannot be typeset: " \
           "unexpected eof" in out
    assert "chapters/01-bad.qmd:5:21: error[math-error]: the formula '\\foo{x}' cannot be typeset: " \
           "unexpected control sequence \\foo" in out
    assert "chapters/01-bad.qmd:7:1: error[math-error]" in out          # a display formula over several lines
    assert "chapters/01-bad.qmd:13:32: error[math-error]: the label '{#eq-lost}' follows no display" in out
    built = run_cli("pdf", "--book", str(root))
    assert built.returncode != 0 and not (root / "build" / "broken-formulas.pdf").exists()


def test_the_web_and_epub_editions_carry_the_math_glyphs(quarto):
    from fontTools.ttLib import TTFont

    font = TTFont(str(quarto.html / "fonts" / "math.woff2"))
    cmap = font.getBestCmap()
    assert "MATH" in font   # stretchy delimiters, large operators: what a browser needs to typeset
    assert {ord(c) for c in "∑=+√"} <= set(cmap) and 0x1D465 in cmap    # 𝑥, the italic of <mi>x</mi>
    assert ord("Ж") not in cmap                                            # a subset, not the whole font
    css = (quarto.html / "style.css").read_text(encoding="utf-8")
    assert 'url("fonts/math.woff2")' in css and re.search(r'math \{ font-family: "build_book Math"', css)
    with zipfile.ZipFile(quarto.epub) as archive:
        opf = next(archive.read(n).decode() for n in archive.namelist() if n.endswith(".opf"))
        ttf = next(n for n in archive.namelist() if n.endswith("fonts/math.ttf"))
        assert "MATH" in TTFont(archive.open(ttf))
    assert re.search(r'<item id="font-math" href="fonts/math.ttf" media-type="font/ttf"', opf)
    assert math.web_font(["<p>No formula here.</p>"], quarto.root, "woff2") is None


def test_a_heading_with_a_formula_reads_as_text_in_menus(pages):
    nav = next(t for n, t in pages["epub"].items() if n.endswith("nav.xhtml"))
    assert "3.1 The rule of α² and 1/2" in nav
    outline = []

    def walk(items):
        for item in items:
            walk(item) if isinstance(item, list) else outline.append(item.title)

    walk(pages["pdf"].reader.outline)
    assert "3.1 The rule of α² and 1/2" in outline


@pytest.mark.parametrize("tex, text", [(r"\alpha^2 + \beta_{ij}", "α² + βᵢⱼ"), (r"\frac{n(n+1)}{2}", "n(n+1)/2"),
                                       (r"\text{if } x \in \Omega", "if x ∈ Ω"), (r"\sum_{i=1}^{n} i", "∑ᵢ₌₁ⁿ i"),
                                       (r"x^{ab}", "x^(ab)"), (r"\mathbb{R}", "R")])
def test_formulas_as_plain_text(tex, text):
    assert math.plain(tex) == text


@pytest.mark.parametrize("tex, text", [(r"x_i^2", "xᵢ²"), (r"\sqrt[3]{x}", "√[3]x"), (r"\sum_{i=1}^{n}x_i", "∑ᵢ₌₁ⁿxᵢ"),
                                       (r"\alpha^2 < \beta_{ij}", "α² < βᵢⱼ"), (r"\hat{x}", "x"), (r"\frac{a}{b}", "a/b")])
def test_formulas_in_mathml_as_plain_text(tex, text):
    """A title's formula where only its MathML is at hand (the web edition's): as plain() gives its TeX."""
    import pypandoc
    mathml = re.search(r"<math.*?</math>", pypandoc.convert_text(f"${tex}$", "html", "markdown",
                                                                 extra_args=["--mathml"]), re.S).group(0)
    assert math.plain_mathml(mathml) == text


def test_a_heading_whose_formula_holds_a_less_than_sign_keeps_its_words_in_the_outline():
    """The outline's text of '## $a < b$ and *c*' was cut at the '<' (read as the start of a tag)."""
    html = '<h2 id="s">The <math display="inline" xmlns="http://www.w3.org/1998/Math/MathML"><semantics><mrow><mi>a</mi><mo>&lt;</mo><mi>b</mi></mrow><annotation ' \
           'encoding="application/x-tex">a &lt; b</annotation></semantics></math> and <em>c</em></h2>'
    assert 'data-bookmark="The a &lt; b and c"' in math.HEADING.sub(math._bookmark, html)


def test_formulas_are_found_in_the_source_and_are_not_raw_tex():
    text = "a $x^2$ costs $5 or $6 \\newpage\n\n$$\n\\sum_i \\frac{a}{b}\n$$ {#eq-x} \\clearpage\n\nx $$ \\alpha\n\\beta $$ \\foo"
    found = scan(text, 3)
    assert found.maths == [("x^2", (3, 3)), ("\n\\sum_i \\frac{a}{b}\n", (5, 1)), (" \\alpha\n\\beta ", (9, 3))]
    assert [name for name, _ in found.tex] == ["\\newpage", "\\clearpage", "\\foo"]


def test_formulas_after_a_dollar_pair_never_closed_are_found_where_they_stand():
    """A $$ with no partner in its paragraph is printed as two dollars; the formulas after it (on its line
    and the paragraph's next lines, not after the paragraph) were taken as its text, and their errors
    reported at 1:1."""
    text = "Unbalanced $$ x and $\\foo$ and\n$y^2$ end.\n\nBad $\\bar$ here.\n\nLast $$ one $z$"
    found = scan(text, 5)
    assert found.maths == [("\\foo", (5, 21)), ("y^2", (6, 1)), ("\\bar", (8, 5)), ("z", (10, 13))]


def test_a_formula_nested_past_the_limit_is_an_error_at_check_time(tmp_path):
    """'\\frac{1}{' 500 times: check said nothing, and the PDF failed with Python's 'maximum recursion depth'."""
    from .conftest import run_cli

    (tmp_path / "book.yml").write_text("title: T\nchapters: [a.md]\n", encoding="utf-8")
    deep = "\\frac{1}{" * 500 + "x" + "}" * 500
    (tmp_path / "a.md").write_text(f"# A\n\nFine $\\frac{{a}}{{\\sqrt{{b}}}}$ and\ndeep ${deep}$.\n", encoding="utf-8")
    found = json.loads(run_cli("check", "--book", str(tmp_path), "--format", "json").stdout)
    assert [(d["code"], d["line"], d["column"]) for d in found] == [("math-error", 4, 6)], found
    assert "nests its braces 500 deep" in found[0]["message"]


def test_labels_in_a_latex_environment_and_where_its_problems_are(tmp_path):
    """A LaTeX math environment written without dollars: bookdown's (\\#eq:x) labels it as \\label{eq:x} does;
    two labels, or one that is not eq:, are named, not silently dropped; a formula error in one quoted, and a label
    given twice, are located where written (they were at the chapter's start)."""
    (tmp_path / "book.yml").write_text("title: T\nchapters: [a.md]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text(
        "# A\n\n\\begin{align}\na &= b \\label{eq:one}\\\\\nc &= d \\label{eq:two}\n\\end{align}\n\n"
        "\\begin{equation}\nx \\label{zz}\n\\end{equation}\n\n\\begin{equation}\n(a+b)^2 (\\#eq:binom)\n\\end{equation}\n\n"
        "See @eq-binom.\n\n> \\begin{gather}\n> \\frac{1\n> \\end{gather}\n\n\\begin{equation}\ny \\label{eq:dup}\n"
        "\\end{equation}\n\n$$ z $$ {#eq-dup}\n", encoding="utf-8")
    found = json.loads(run_cli("check", "--book", str(tmp_path), "--format", "json").stdout)
    assert [(d["line"], d["column"], d["code"]) for d in found] == [
        (3, 1, "raw-tex-dropped"), (8, 1, "raw-tex-dropped"), (18, 3, "math-error"), (23, 3, "label-duplicate"),
        (26, 10, "label-duplicate")], found
    assert found[0]["message"].startswith("the labels 'eq:one, eq:two' of this formula were left out")


def test_amsmaths_notag_is_read_as_nonumber(tmp_path):
    r"""'\notag' (amsmath's, as bookdown's manual writes it) was a math-error that stopped the build, where its
    synonym '\nonumber' was accepted; a formula with one that has another fault is still found where written."""
    (tmp_path / "book.yml").write_text("title: T\nchapters: [a.md]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("# A\n\n\\begin{align}\na &= b \\notag \\\\\nc &= d\n\\end{align}\n\n"
                                   "$$ x = 1 \\notag $$\n\n\\begin{align}\na &= \\frac{b \\notag \\\\\nc &= d\n"
                                   "\\end{align}\n\n$$ \\frac{y \\notag $$\n", encoding="utf-8")
    found = json.loads(run_cli("check", "--book", str(tmp_path), "--format", "json").stdout)
    assert [(d["line"], d["column"], d["code"]) for d in found] == [(10, 1, "math-error"), (15, 1, "math-error")], found
    text = (tmp_path / "a.md").read_text(encoding="utf-8")
    (tmp_path / "a.md").write_text(text[:text.index("\\begin{align}\na &= \\frac")], encoding="utf-8")
    assert run_cli("html", "--book", str(tmp_path)).returncode == 0
    page = (tmp_path / "build" / "html" / "a.html").read_text(encoding="utf-8")
    assert page.count("<math") == 2 and "notag" not in page and "nonumber" not in page.split("<annotation")[0]


def test_binary_operators_are_spaced_in_print_as_tex_spaces_them():
    r"""'$a \cdot b$' was drawn 'a⋅b' in the PDF and '$a \times b$' all but so: ziamath's operator table (MathML
    2's) gives them no space, or a very thin one, where TeX sets a medium one on each side, as around '+'."""
    def space(operator: str) -> float:    # what stands around the operator, in em
        drawn = math.svg(f"<mi>a</mi><mo>{operator}</mo><mi>b</mi>", False)["width"]
        bare = math.svg(f'<mi>a</mi><mo lspace="0em" rspace="0em">{operator}</mo><mi>b</mi>', False)["width"]
        return drawn - bare

    plus = space("+")
    assert plus > 0.3, plus
    for operator in ("⋅", "×", "∗", "∩"):
        assert abs(space(operator) - plus) < 0.02, (operator, space(operator), plus)
    # at a formula's start it is an ordinary symbol, as in TeX: no space before it
    assert math.svg("<mo>×</mo><mn>3</mn>", False)["width"] < math.svg("<mn>2</mn><mo>×</mo><mn>3</mn>", False)["width"] - 0.6
