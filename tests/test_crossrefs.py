"""One label model: the same references, numbered once, rendered in all three editions."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from build_book.build import check

from .conftest import run_cli
from .pdfinfo import Pdf, destination_page, link_destinations
from .xmlcheck import text_of

# reference in 01-origins.md -> (target id, text, page in the HTML site)
EXPECTED = {
    "@Sec-cases": ("sec-cases", "Chapter 2", "cases"),
    "@sec-cases-japan": ("sec-cases-japan", "Section 2.1", "cases"),
    "@tbl-dates": ("tbl-dates", "Table A.1", "appendix-data"),
    "@sec-appendix-data": ("sec-appendix-data", "Appendix A", "appendix-data"),
    "@Fig-map": ("fig-map", "Figure 1.1", "origins"),
}


def links(markup: str) -> list[tuple[str, str]]:
    return [(href, text_of(inner)) for href, inner in re.findall(r'<a href="([^"]+)"[^>]*>(.*?)</a>', markup, re.S)]


def test_html_links_each_reference_to_its_page_and_anchor(mini):
    origins = links((mini.html / "origins.html").read_text(encoding="utf-8"))
    for target, text, page in EXPECTED.values():
        href = f"#{target}" if page == "origins" else f"{page}.html#{target}"
        assert (href, text) in origins, (href, text)
    assert ("index.html#sec-part-cases", "Part II") in origins
    assert ("#fig-map", "1.1") in origins                  # [-@fig-map]: the bare number


def test_epub_links_each_reference_to_its_file_and_anchor(mini):
    with zipfile.ZipFile(mini.epub) as archive:
        origins = links(archive.read("EPUB/origins.xhtml").decode())
        cases = archive.read("EPUB/cases.xhtml").decode()
    for target, text, page in EXPECTED.values():
        href = f"#{target}" if page == "origins" else f"{page}.xhtml#{target}"
        assert (href, text) in origins, (href, text)
    assert ("part-2.xhtml#sec-part-cases", "Part II") in origins
    assert 'id="sec-cases-japan"' in cases and 'id="tbl-members"' in cases


def test_a_references_word_and_number_are_never_parted_by_a_line_break(mini):
    raw = {"HTML": (mini.html / "origins.html").read_text(encoding="utf-8")}
    with zipfile.ZipFile(mini.epub) as archive:
        raw["EPUB"] = archive.read("EPUB/origins.xhtml").decode()
    for edition, markup in raw.items():
        shown = [re.sub(r"<[^>]+>", "", inner) for inner in re.findall(r'<a [^>]*class="xref[^"]*"[^>]*>(.*?)</a>', markup, re.S)]
        for _, text, _ in EXPECTED.values():
            assert text.replace(" ", "\u00a0") in shown or text.replace(" ", "&#160;") in shown, (edition, text, shown)


@pytest.fixture(scope="module")
def pdf(mini):
    return Pdf(mini.pdf)


def test_pdf_link_destinations(pdf):
    start = pdf.page_of("applies these ideas")
    end = pdf.page_of("Cases of Alliance Jane Smith")
    dests = set().union(*(link_destinations(pdf, i) for i in range(start, end)))
    for target, _, _ in EXPECTED.values():
        assert target in dests, target
    assert "sec-part-cases" in dests and "ref-walt1987" in dests
    assert destination_page(pdf, "sec-cases") == pdf.page_of("Cases of Alliance Jane Smith")
    assert destination_page(pdf, "tbl-dates") == pdf.page_of("Table A.1: Treaty dates")
    assert destination_page(pdf, "sec-part-cases") == pdf.page_of("Part II Cases")


def test_lists_of_figures_and_tables_in_every_edition(mini, pdf):
    index = (mini.html / "index.html").read_text(encoding="utf-8")
    # (a caption's citation as the chapter prints it)
    assert '<a href="origins.html#fig-map">Figure 1.1</a> A map of the alliance members (see Morrow 1991).' in index
    assert '<a href="appendix-data.html#tbl-dates">Table A.1</a> Treaty dates' in index
    with zipfile.ZipFile(mini.epub) as archive:
        lists = archive.read("EPUB/lists.xhtml").decode()
    assert 'href="cases.xhtml#tbl-members">Table 2.1</a>' in lists
    tables = pdf.flat(pdf.page_of("Tables Table 2.1"))
    assert re.search(r"Table A\.1 Treaty dates[ .]*\d+", tables)


def test_a_list_of_figures_takes_each_figures_own_caption(tmp_path):
    """A figure with sub-figures is listed with its own caption, not its first sub-figure's; one without a caption
    with none, not the next figure's (the list finds captions in the chapter's page: one that refers reads so)."""
    root = write_book(tmp_path / "book", "title: T\nchapters: [chapters/a.md, chapters/b.md]\n", {
        "a.md": "# A {#sec-a}\n\nSee @fig-sub, @fig-nocap, @fig-next.\n\n::: {#fig-sub layout-ncol=2}\n"
                "![Left part, after @sec-b](f.svg){#fig-sub-a}\n\n![Right part](f.svg){#fig-sub-b}\n\n"
                "Two panels (see @sec-b)\n:::\n\n::: {#fig-nocap}\n![](f.svg)\n:::\n\n"
                "![Next figure, as in @sec-b](f.svg){#fig-next}\n",
        "b.md": "# B {#sec-b}\n\nText.\n"})
    (root / "chapters" / "f.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>\n')
    result = run_cli("html", "--book", str(root))
    assert result.returncode == 0, result.stderr
    listed = re.findall(r'>(Figure 1\.\d)</a> ([^<]*)</li>', (root / "build" / "html" / "index.html").read_text())
    assert listed == [("Figure 1.1", "Two panels (see Chapter 2)"), ("Figure 1.2", ""),
                      ("Figure 1.3", "Next figure, as in Chapter 2")], listed


def write_book(root: Path, yml: str, chapters: dict[str, str]) -> Path:
    (root / "chapters").mkdir(parents=True)
    (root / "book.yml").write_text(yml, encoding="utf-8")
    for name, text in chapters.items():
        (root / "chapters" / name).write_text(text, encoding="utf-8")
    return root


def numbers(root: Path) -> dict[str, str | None]:
    result = check(root)
    assert [d for d in result.diagnostics if d.severity == "error"] == []
    return {label.id: label.number for label in result.index.labels.values()}


def test_numbering_follows_parts_appendices_and_section_depth(tmp_path):
    root = write_book(tmp_path, """title: T
section-depth: 1
chapters:
  - chapters/p.md
  - part: One
    id: sec-part-one
    chapters: [chapters/a.md, chapters/b.md]
  - chapters/c.md
appendices: [chapters/x.md, chapters/y.md]
""", {
        "p.md": "# Preface {#sec-p .unnumbered}\n\n## Note {#sec-p-note}\n",
        "a.md": "# A {#sec-a}\n\n## One {#sec-a-1}\n\n### Deep {#sec-a-1-deep}\n\n## Two {.unnumbered #sec-a-u}\n\n"
                "## Three {#sec-a-3}\n\n![F](f.png){#fig-a1}\n\n![G](f.png){#fig-a2}\n",
        "b.md": "# B {#sec-b}\n\n| x |\n|---|\n| 1 |\n\n: T {#tbl-b}\n",
        "c.md": "# C {#sec-c}\n",
        "x.md": "# X {#sec-x}\n\n## X1 {#sec-x-1}\n\n| x |\n|---|\n| 1 |\n\n: T {#tbl-x}\n",
        "y.md": "# Y {#sec-y}\n",
    })
    from PIL import Image
    Image.new("RGB", (2, 2)).save(root / "chapters" / "f.png")   # a real picture: a stub fails image-corrupt
    got = numbers(root)
    assert got["sec-p"] is None and got["sec-p-note"] is None
    assert got["sec-part-one"] == "I"
    assert (got["sec-a"], got["sec-b"], got["sec-c"]) == ("1", "2", "3")
    assert got["sec-a-1"] == "1.1" and got["sec-a-3"] == "1.2" and got["sec-a-u"] is None
    assert got["sec-a-1-deep"] is None                                  # deeper than section-depth
    assert (got["fig-a1"], got["fig-a2"], got["tbl-b"]) == ("1.1", "1.2", "2.1")
    assert (got["sec-x"], got["sec-x-1"], got["tbl-x"], got["sec-y"]) == ("A", "A.1", "A.1", "B")


def test_words_come_from_the_language_and_can_be_overridden(tmp_path):
    from build_book.load import load_book
    from build_book.labels import build_index

    root = write_book(tmp_path, "title: T\nlang: ja\ncrossref:\n  figure: Fig.\nchapters: [chapters/a.md]\n",
                      {"a.md": "# A {#sec-a}\n"})
    book = load_book(root).book
    index = build_index(book)
    label = index.get("sec-a")
    assert index.reference_text(label, book.config.words) == "第1章"
    assert book.config.words["figure"] == "Fig."


def test_chapter_pages_never_take_the_names_of_generated_pages():
    from build_book.model import Chapter
    from build_book.render.common import page_name

    def name(label):
        return page_name(Chapter(index=0, path="c.md", label=label, title="T", blocks=[]), ".html")

    assert name("sec-japan-us") == "japan-us.html"
    assert name("sec-index") == "chapter-index.html"
    assert name("sec-bibliography") == "chapter-bibliography.html"
    assert name("sec-part-1") == "chapter-part-1.html"


def _referred(root: Path, text: str) -> tuple[str, list[tuple[str, str]]]:
    """``text`` as the book's references word it: plain text, and each link's (target, text)."""
    import json

    import pypandoc

    from build_book.transform import resolve_crossrefs
    from build_book.walk import elements, inline_text

    result = check(root)
    doc = json.loads(pypandoc.convert_text(text, "json", format="markdown"))
    doc["blocks"] = resolve_crossrefs(doc["blocks"], result.book, result.index)
    found = [(e["c"][2][0], inline_text(e["c"][1])) for e in elements(doc["blocks"]) if e["t"] == "Link"]
    return pypandoc.convert_text(json.dumps(doc), "plain", format="json", extra_args=["--wrap=none"]).strip(), found


GROUPED = {"a.md": "# A {#sec-a}\n\n![F](f.png){#fig-a1}\n\n![G](f.png){#fig-a2}\n\n![H](f.png){#fig-a3}\n",
           "b.md": "# B {#sec-b}\n", "c.md": "# C {#sec-c}\n\n| x |\n|---|\n| 1 |\n\n: T {#tbl-x}\n"}


def test_references_of_one_kind_in_one_bracket_share_their_word(tmp_path):
    root = write_book(tmp_path, "title: T\nchapters: [chapters/a.md, chapters/b.md, chapters/c.md]\n", GROUPED)
    from PIL import Image
    Image.new("RGB", (2, 2)).save(root / "chapters" / "f.png")
    text, found = _referred(root, "[@fig-a1; @fig-a2] [see @fig-a1; @Fig-a2; @fig-a3, above] [@Sec-b; @sec-c] "
                                  "[@fig-a1; @sec-b; @fig-a2] [-@fig-a1; @fig-a2] [@fig-a1, p. 2; @fig-a2]")
    nbsp = "\u00a0"
    assert text == (f"Figures{nbsp}1.1 and 1.2 see Figures{nbsp}1.1, 1.2, and 1.3, above Chapters{nbsp}2 and 3 "
                    f"Figure{nbsp}1.1; Chapter{nbsp}2; Figure{nbsp}1.2 1.1; Figure{nbsp}1.2 "
                    f"Figure{nbsp}1.1, p.{nbsp}2; Figure{nbsp}1.2")
    assert found[:5] == [("#fig-a1", f"Figures{nbsp}1.1"), ("#fig-a2", "1.2"), ("#fig-a1", f"Figures{nbsp}1.1"),
                         ("#fig-a2", "1.2"), ("#fig-a3", "1.3")]     # each number a link, the first with the word
    # a word the book changes without giving its plural is not made plural; a word with %s (Japanese) neither
    (root / "book.yml").write_text("title: T\ncrossref: {figure: Fig.}\nchapters: [chapters/a.md, chapters/b.md, "
                                   "chapters/c.md]\n", encoding="utf-8")
    assert _referred(root, "[@fig-a1; @fig-a2] [@sec-b; @sec-c]")[0] == \
        f"Fig.{nbsp}1.1; Fig.{nbsp}1.2 Chapters{nbsp}2 and 3"
    (root / "book.yml").write_text("title: T\nlang: ja\nchapters: [chapters/a.md, chapters/b.md, chapters/c.md]\n",
                                   encoding="utf-8")
    assert _referred(root, "[@sec-b; @sec-c]")[0] == "第2章、第3章"     # (the ideographic comma between them)
    # another language's words without its 'and'; the same label twice (the author's slip, shown as written)
    (root / "book.yml").write_text("title: T\nlang: de\ncrossref: {figure: Abbildung, figures: Abbildungen}\n"
                                   "chapters: [chapters/a.md, chapters/b.md, chapters/c.md]\n", encoding="utf-8")
    assert _referred(root, "[@fig-a1; @fig-a2]")[0] == f"Abbildung{nbsp}1.1; Abbildung{nbsp}1.2"
    (root / "book.yml").write_text("title: T\nlang: de\ncrossref: {figure: Abbildung, figures: Abbildungen, and: und}\n"
                                   "chapters: [chapters/a.md, chapters/b.md, chapters/c.md]\n", encoding="utf-8")
    assert _referred(root, "[@fig-a1; @fig-a2; @fig-a1]")[0] == f"Abbildungen{nbsp}1.1 und 1.2; Abbildung{nbsp}1.1"


def test_bookdowns_references_and_labels_are_read(tmp_path):
    r"""bookdown's '\@ref(fig:x)' printed as '@ref(fig:x)', and its caption labels ('Table: (\#tab:x) ...') as
    text, with no word said: they are the bare numbers and labels they are in bookdown, checked as any other."""
    png = Path(__file__).parent / "books" / "hostile-html" / "chapters" / "figures" / "fine.png"
    root = write_book(tmp_path, "title: T\nchapters: [chapters/a.md, chapters/b.md]\n", {
        "a.md": "# Introduction {#intro}\n\nFigure \\@ref(fig:map), Table \\@ref(tab:t) and (\\@ref(eq:e)), in Chapter "
                "\\@ref(later); Section \\@ref(sec:x), and `\\@ref(code)`.\n\n![(\\#fig:map) A map](m.png)\n\n"
                "## X {#sec:x}\n\nTable: (\\#tab:t) A table.\n\n| a |\n|---|\n| 1 |\n\n\\begin{equation}\n"
                "y = 2 (\\#eq:e)\n\\end{equation}\n\n$$ z = 3 (\\#eq:g) $$\n\nSee \\@ref(eq:g); as LaTeX writes it, "
                "Equation~\\ref{eq:g}, \\eqref{eq:e} and \\autoref{fig:map}.\n",
        "b.md": "# Later {#later}\n\nBack to \\@ref(intro), \\@ref(fig:mapp), \\@ref(intr) and \\@ref(tab:map), "
                "\\ref{eq:nope}.\n"})
    (root / "chapters" / "m.png").write_bytes(png.read_bytes())
    found = json.loads(run_cli("check", "--book", str(root), "--format", "json").stdout)
    assert [(d["path"], d["line"], d["column"], d["code"], d["message"]) for d in found] == [
        ("chapters/b.md", 3, 23, "xref-unknown", "cross-reference '\\@ref(fig:mapp)' points to no figure in the book"),
        ("chapters/b.md", 3, 40, "xref-unknown", "cross-reference '\\@ref(intr)' points to no section, chapter, part "
                                                 "or appendix in the book"),
        ("chapters/b.md", 3, 56, "xref-unknown", "cross-reference '\\@ref(tab:map)' points to no table in the book"),
        ("chapters/b.md", 3, 72, "xref-unknown", "cross-reference '\\ref{eq:nope}' points to no equation in the book")], found
    assert [d["hint"] for d in found[:2]] == ["did you mean \\@ref(fig:map)?", "did you mean \\@ref(intro)?"]
    # a label in raw TeX, which build_book leaves out, labels nothing: the hint says so
    (root / "chapters" / "c.md").write_text("# C\n\n\\section{Background}\\label{sec:bg}\n\nSee \\ref{sec:bg}.\n",
                                            encoding="utf-8")
    (root / "book.yml").write_text("title: T\nchapters: [chapters/c.md]\n", encoding="utf-8")
    found = [d for d in json.loads(run_cli("check", "--book", str(root), "--format", "json").stdout)
             if d["path"] == "chapters/c.md"]
    assert [(d["line"], d["column"], d["code"]) for d in found] == [(3, 1, "raw-tex-dropped"), (5, 5, "xref-unknown")]
    assert found[1]["hint"].startswith("a \\label{sec:bg} in raw TeX (a \\section, a table environment) labels "
                                       "nothing"), found[1]
    (root / "book.yml").write_text("title: T\nchapters: [chapters/a.md, chapters/b.md]\n", encoding="utf-8")
    # a heading written without an id is referred to by pandoc's id for it, as in bookdown
    # (one that two chapters have is named as bookdown names it in the whole book: 'methods', 'methods-1')
    (root / "book.yml").write_text("title: T\nchapters: [chapters/a.md, chapters/b.md, chapters/c.md, chapters/d.md]\n",
                                   encoding="utf-8")
    (root / "chapters" / "b.md").write_text("# Later {#later}\n\nBack to \\@ref(intro), on to \\@ref(methods) and "
                                            "\\@ref(an-auto-heading); \\@ref(methods-1).\n", encoding="utf-8")
    (root / "chapters" / "c.md").write_text("# Methods\n\n## An Auto Heading\n\nText.\n", encoding="utf-8")
    (root / "chapters" / "d.md").write_text("# D\n\n## Methods\n\nText.\n", encoding="utf-8")
    assert run_cli("html", "--book", str(root)).returncode == 0
    page = text_of((root / "build" / "html" / "intro.html").read_text(encoding="utf-8"))
    assert ("Figure 1.1, Table 1.1 and (1.1), in Chapter 2; Section 1.1, and \\@ref(code)." in page
            and "Figure 1.1: A map" in page and "Table 1.1: A table." in page), page
    assert "See 1.2; as LaTeX writes it, Equation 1.2, (1.1) and Figure 1.1." in page, page
    assert 'Equation\u00a0<a href="#eq-g"' in (root / "build" / "html" / "intro.html").read_text(encoding="utf-8")
    assert "(#" not in page and "@ref(" not in page.replace("\\@ref(code)", "")
    later = (root / "build" / "html" / "later.html").read_text(encoding="utf-8")
    assert "Back to 1, on to 3 and 3.1; 4.1." in text_of(later) and 'href="c.html#sec-c-an-auto-heading"' in later


def test_bookdowns_part_headings_are_named_not_printed_as_chapters(tmp_path):
    """bookdown begins a part with '# (PART) Title {-}' in a chapter's file, and the appendices with '# (APPENDIX)
    ... {-}': build_book read the heading as the chapter's title, '(PART) Foundations', and the chapter's own
    as a second title (chapter-two-titles, which stopped the build). The heading is taken out and named, with
    how book.yml says it."""
    root = write_book(tmp_path, "title: T\nchapters: [chapters/a.md, chapters/b.md, chapters/c.md]\n", {
        "a.md": "# (PART) Foundations {-}\n\n# Intro {#intro}\n\nSee \\@ref(methods) and \\@ref(data).\n",
        "b.md": "# Methods\n\nText.\n\n# (PART\\*) Cases {-}\n",
        "c.md": "# (APPENDIX) Appendix {-}\n\n# Data\n\nText.\n"})
    result = run_cli("html", "--book", str(root))
    assert result.returncode == 0, result.stderr
    assert re.findall(r"^(chapters/\w\.md:\d+:\d+): warning\[bookdown-part\]: (.*)", result.stderr, re.M) == [
        ("chapters/a.md:1:1", "bookdown's part heading 'Foundations' is not printed: build_book reads the book's "
                              "parts from book.yml"),
        ("chapters/b.md:5:1", "bookdown's part heading 'Cases' is not printed: build_book reads the book's parts "
                              "from book.yml"),
        ("chapters/c.md:1:1", "bookdown's heading that begins the appendices is not printed: build_book reads them "
                              "from book.yml")], result.stderr
    page = text_of((root / "build" / "html" / "intro.html").read_text(encoding="utf-8"))
    assert "Chapter 1: Intro" in page and "See 2 and 3." in page and "PART" not in page, page
    # the headings after a part heading are found where they are written (they took the line of the one before)
    (root / "chapters" / "e.md").write_text("# (PART) P {-}\n\n# One {-}\n\ntext.\n\n# Two\n\ntext\n\n# Three\n",
                                            encoding="utf-8")
    (root / "book.yml").write_text("title: T\nchapters: [chapters/e.md]\n", encoding="utf-8")
    found = [d for d in json.loads(run_cli("check", "--book", str(root), "--format", "json").stdout)
             if d["path"] == "chapters/e.md"]
    assert [(d["line"], d["code"]) for d in found] == [(1, "bookdown-part"), (7, "chapter-two-titles"),
                                                       (11, "chapter-two-titles")], found
    (root / "chapters" / "e.md").unlink()
    # a file of a part heading alone (as bookdown's books often give each part) is an unnumbered chapter of it
    (root / "chapters" / "p.md").write_text("# (PART) Cases {-}\n", encoding="utf-8")
    (root / "book.yml").write_text("title: T\nchapters: [chapters/p.md, chapters/a.md]\n", encoding="utf-8")
    (root / "chapters" / "a.md").write_text("# Intro {#intro}\n\nText.\n", encoding="utf-8")
    result = run_cli("html", "--book", str(root))
    assert result.returncode == 0 and "error[" not in result.stderr, result.stderr
    assert "chapters/p.md:1:1: warning[bookdown-part]: bookdown's part heading 'Cases' is printed as an unnumbered " \
           "chapter" in result.stderr
    assert '<h1 class="chapter-title">Cases</h1>' in (root / "build" / "html" / "p.html").read_text(encoding="utf-8")
