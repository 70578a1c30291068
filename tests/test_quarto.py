"""Books written in Quarto's syntax: the 'quarto' fixture is built once in every edition, and the
'quarto-broken' fixture's diagnostics (includes gone wrong, problems inside included files) are golden.

Refresh the golden file after an intended change with:
    UPDATE_GOLDENS=1 scripts/test tests/test_checks.py   (one runner compares every golden file)
"""

from __future__ import annotations

import json
import re
import zipfile

import pytest

from .conftest import copy_book, run_cli
from .pdfinfo import Pdf
from .xmlcheck import epubcheck, nu_validate



@pytest.fixture(scope="module")
def editions(quarto):
    """The text of every edition's chapter about includes: html, epub (XHTML) and pdf."""
    html = (quarto.html / "intro.html").read_text(encoding="utf-8")
    with zipfile.ZipFile(quarto.epub) as archive:
        xhtml = "".join(archive.read(n).decode("utf-8") for n in archive.namelist() if n.endswith(".xhtml"))
    return {"html": html, "epub": xhtml, "pdf": Pdf(quarto.pdf)}


def _text(markup: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup))


def test_included_text_is_in_every_edition_in_place(editions):
    for kind in ("html", "epub"):
        text = _text(editions[kind])
        first, included, nested, after = (text.index(s) for s in (
            "Opening words of the introduction", "Included background text about alliances",
            "Nested detail paragraph from the second level", "After the included background"))
        assert first < included < nested < after, kind
    flat = editions["pdf"].flat()
    assert "Included background text about alliances" in flat and "Nested detail paragraph" in flat


def test_no_shortcode_is_printed(editions):
    for kind in ("html", "epub"):
        assert "{{&lt;" not in editions[kind] and "{{<" not in editions[kind], kind
    assert "{{<" not in editions["pdf"].text
    assert "example.com/v.mp4" not in editions["pdf"].text


def test_pagebreak_breaks_the_page_in_print_only(editions, quarto):
    pdf = editions["pdf"]
    before = pdf.page_of("After the included background")
    assert pdf.page_of("Text after the page break") == before + 1
    # in HTML and EPUB it is an empty div that shows nothing
    assert re.search(r'<div class="page-break">\s*</div>', editions["html"])



def test_an_unsupported_shortcode_is_a_located_warning(quarto):
    assert "chapters/01-intro.qmd:13:3: warning[quarto-shortcode]" in quarto.stderr


@pytest.fixture(scope="module")
def broken_json(tmp_path_factory):
    root = copy_book("quarto-broken", tmp_path_factory)
    result = run_cli("check", "--book", str(root), "--format", "json")
    assert result.returncode == 1, result.stderr
    return json.loads(result.stdout)


def test_problems_in_included_text_point_at_the_included_file(broken_json):
    at = {(d["path"], d["line"], d["code"]) for d in broken_json}
    assert ("chapters/sub/_b.qmd", 1, "citation-unknown") in at     # nested two deep
    assert ("chapters/_a.qmd", 5, "xref-unknown") in at            # after a nested include
    assert ("chapters/01-loop.qmd", 13, "citation-unknown") in at  # the chapter's own lines after includes
    assert ("chapters/sub/_b.qmd", 3, "include-cycle") in at
    assert ("chapters/01-loop.qmd", 7, "include-missing") in at
    unprinted, = (d for d in broken_json if d["code"] == "footnote-block-unprinted")  # at the note in _a.qmd
    assert (unprinted["path"], unprinted["line"], unprinted["column"]) == ("chapters/_a.qmd", 7, 9)
    assert ("chapters/01-loop.qmd", 9, "path-outside-book") in at


def test_included_files_are_not_reported_as_unlisted_chapters(quarto):
    assert "chapter-not-listed" not in quarto.stderr  # chapters/parts/_detail.md is included, not listed


def test_callouts_are_titled_boxes_in_every_edition(editions):
    for kind in ("html", "epub"):
        markup = editions[kind]
        for box, label, title in (("note", "Note: A heading that titles a note", "A heading that titles a note"),
                                  ("warning", "Warning: Mind the gap", "Mind the gap"), ("tip", "Tip", "Tip")):
            found = re.search(rf'<div class="callout callout-{box}" role="note" aria-label="{label}">\s*'
                              rf'<div class="callout-title">\s*{title}\s*</div>', markup)
            assert found, (kind, box)
        assert "The body of the warning callout" in markup
        # the heading that titles the note is no section: not a heading, not numbered, not counted
        assert not re.search(r"<h\d[^>]*>[^<]*(<span[^>]*>[^<]*</span>)?\s*A heading that titles", markup)
        assert re.search(r'<span class="section-number">1\.3</span> After the callouts', markup), kind
    flat = editions["pdf"].flat()
    assert "A heading that titles a note The body of the note callout" in flat
    assert "Mind the gap The body of the warning callout" in flat
    assert "1.3 After the callouts" in flat and "1.3 A heading" not in flat
    outline = str(editions["pdf"].outline())
    assert "After the callouts" in outline and "A heading that titles" not in outline


def test_callout_styles_draw_a_box(quarto):
    css = (quarto.html / "style.css").read_text(encoding="utf-8")
    assert re.search(r"\.callout \{[^}]*border", css)


def test_the_editions_stay_valid(quarto):
    messages = epubcheck(quarto.epub)
    assert [m for m in messages if m["severity"] in ("FATAL", "ERROR", "WARNING")] == []
    result = nu_validate(quarto.html)
    assert result.returncode == 0, result.stdout + result.stderr


CONDITIONAL = {  # Quarto's aliases: 'html' is every HTML format and EPUB, 'html:js' the web only
    "Seen on screens: web and EPUB alike": {"html", "epub"},
    "Seen on the web page only": {"html"},
    "Seen in print only": {"pdf"},
    "Hidden from the EPUB only": {"html", "pdf"},
    "Never seen in print": {"html", "epub"},
    "a web aside": {"html"},
    "a print aside": {"pdf"},
}


def test_conditional_content_is_in_the_right_editions_only(editions):
    texts = {"html": _text(editions["html"]), "epub": _text(editions["epub"]), "pdf": editions["pdf"].flat()}
    for phrase, where in CONDITIONAL.items():
        for kind, text in texts.items():
            assert (phrase in text) == (kind in where), (phrase, kind)


def test_an_executable_cell_is_shown_as_code_without_its_options(editions, quarto):
    for kind in ("html", "epub"):
        markup = editions[kind]
        code = re.search(r'<pre class="sourceCode r[^"]*"><code[^>]*>(.*?)</code></pre>', markup, re.S)
        assert code, kind
        shown = re.sub(r"<[^>]+>", "", code.group(1))
        assert "# Counting alliances" in shown and "length(alliances)" in shown
        assert "#|" not in markup and "echo: true" not in markup
        assert not re.search(r"<h\d[^>]*>[^<]*Counting alliances", markup)   # a comment is no heading
    flat = editions["pdf"].flat()
    assert "# Counting alliances" in flat and "length(alliances)" in flat and "#|" not in flat
    assert "Counting alliances" not in str(editions["pdf"].outline())
    warned = re.findall(r"^(\S+): warning\[code-not-executed\]", quarto.stderr, re.M)
    assert warned == ["chapters/01-intro.qmd:61:1"]


def test_a_quarto_project_is_read_from_its_quarto_yml(quarto):
    assert not (quarto.root / "book.yml").exists()
    index = _text((quarto.html / "index.html").read_text(encoding="utf-8"))
    for phrase in ("Quarto Habits", "A Book Written for Quarto", "Ada Lee", "Ben Ito", "Example University"):
        assert phrase in index, phrase
    flat = Pdf(quarto.pdf).flat()
    for phrase in ("Part I: Habits", "Part II: Tools of the Trade", "1 Introduction", "2 Tools", "A Extra Material"):
        assert phrase in flat, phrase
    assert "1 Preface" not in flat   # index.qmd, marked {.unnumbered} as in Quarto's template, is front matter
    # a Quarto book is an authored book: "by ...", the affiliations on the title page, no contributors page
    assert "by Ada Lee and Ben Ito" in index and "Edited by" not in index and "Contributors" not in index
    assert "Edited by" not in flat and "Contributors" not in flat
    assert "Ada Lee and Ben Ito" in flat and "Example University" in flat
    opf = zipfile.ZipFile(quarto.epub).read("EPUB/package.opf").decode()
    assert re.search(r'<dc:creator id="book-author-1">Ada Lee</dc:creator>\s*<meta refines="#book-author-1" '
                     r'property="role" scheme="marc:relators">aut</meta>', opf)
    assert "contributors.xhtml" not in opf and "edt" not in opf
    # the keys build_book leaves to Quarto are named once, at the first of them
    ignored = re.findall(r"^_quarto.yml:(\d+):\d+: warning\[quarto-ignored\]: (.*)$", quarto.stderr, re.M)
    assert ignored == [("13", "build_book does not use these keys of _quarto.yml: book: repo-url, format, "
                              "project: output-dir")]


def test_a_quarto_project_is_found_from_a_folder_inside_it(quarto):
    result = run_cli("check", cwd=quarto.root / "chapters" / "parts")
    assert result.returncode == 0, result.stderr
    assert f"checking the book in {quarto.root}" in result.stderr


def test_a_quarto_yml_of_another_project_type_is_no_book(tmp_path):
    (tmp_path / "_quarto.yml").write_text("project:\n  type: website\n", encoding="utf-8")
    result = run_cli("check", "--book", str(tmp_path))
    assert result.returncode == 1
    assert "book.yml" in result.stderr


def test_includes_that_multiply_are_stopped_with_a_located_error(tmp_path):
    """Each file includes the next one twice, twenty-two deep: four million copies, refused quickly."""
    (tmp_path / "c").mkdir()
    for i in range(22):
        (tmp_path / "c" / f"f{i}.qmd").write_text(f"x{i}\n\n{{{{< include f{i + 1}.qmd >}}}}\n\n"
                                                  f"{{{{< include f{i + 1}.qmd >}}}}\n", encoding="utf-8")
    (tmp_path / "c" / "f22.qmd").write_text("end\n", encoding="utf-8")
    (tmp_path / "c" / "ch.qmd").write_text("# Ch\n\n{{< include f0.qmd >}}\n", encoding="utf-8")
    (tmp_path / "_quarto.yml").write_text(
        "project:\n  type: book\nbook:\n  title: Bomb\n  author: [{name: {given: A, family: B}}, 7]\n"
        "  chapters: [c/ch.qmd]\n", encoding="utf-8")
    result = run_cli("check", "--book", str(tmp_path), "--format", "json")
    assert result.returncode == 1, result.stderr
    found = json.loads(result.stdout)
    limits = [d for d in found if d["code"] == "input-limit"]
    assert len(limits) == 1 and limits[0]["path"].startswith("c/f")
    assert {d["code"] for d in found} <= {"input-limit", "include-cycle"}


def test_a_monograph_and_titles_that_repeat_their_label(tmp_path):
    """authors: in book.yml makes an authored book; 'Part I: ...' and 'Chapter 2: ...' titles are warned about;
    pandoc's and Quarto's own front matter keys are read (title, execute: echo:) or named once (format)."""
    (tmp_path / "chapters").mkdir()
    (tmp_path / "book.yml").write_text(
        "title: A Monograph\nauthors: [lee]\ncontributors:\n  lee: {name: Ada Lee, affiliation: Example University}\n"
        "chapters:\n  - chapters/01.md\n  - part: 'Part I: Foundations'\n    chapters: [chapters/02.md]\n"
        "  - chapters/03.md\n", encoding="utf-8")
    (tmp_path / "chapters" / "01.md").write_text(
        "---\ntitle: Getting *Started*\nexecute:\n  echo: false\nformat: html\n---\n\nSome text.\n", encoding="utf-8")
    (tmp_path / "chapters" / "02.md").write_text("# Chapter 2: Surface {#sec-surface}\n\nText.\n", encoding="utf-8")
    (tmp_path / "chapters" / "03.md").write_text("# Partnerships in Asia\n\nChapter 3 of nothing.\n", encoding="utf-8")
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    found = re.findall(r"^(\S+): warning\[([a-z-]+)\]", result.stderr, re.M)
    assert found == [("book.yml:7:5", "title-repeats-label"), ("chapters/01.md:5:1", "front-matter-ignored"),
                     ("chapters/02.md:1:1", "title-repeats-label")], result.stderr
    assert "hint: give the title alone (part: Foundations)" in result.stderr
    assert "hint: give the title alone: '# Surface'" in result.stderr
    assert "front matter keys of pandoc or Quarto: format\n" in result.stderr
    index = _text((tmp_path / "build" / "html" / "index.html").read_text(encoding="utf-8"))
    assert "by Ada Lee" in index and "Example University" in index and "Contributors" not in index
    assert "Getting Started" in index   # the front matter's title is the chapter's title
    # read as Markdown, as pandoc reads a heading: emphasis, not asterisks, in the text and the metadata
    page = (tmp_path / "build" / "html" / "01.html").read_text(encoding="utf-8")
    assert re.search(r'<h1 class="chapter-title">Getting <em>Started</em></h1>', page)
    assert "*" not in index and "<title>Chapter 1: Getting Started " in page
    # asked for, the contributors page is there
    book = (tmp_path / "book.yml").read_text(encoding="utf-8")
    (tmp_path / "book.yml").write_text(book.replace("authors: [lee]", "authors: [lee]\ncontributors-page: true"))
    assert run_cli("html", "--book", str(tmp_path)).returncode == 0
    assert "Contributors" in _text((tmp_path / "build" / "html" / "index.html").read_text(encoding="utf-8"))


def test_house_style_and_editors_marks_see_included_text(tmp_path):
    """Text pasted in by {{< include >}} is the chapter's text for the house style, --fix-style and CriticMarkup:
    reported at the included file's own line, fixed in that file, refused by a public build."""
    (tmp_path / "chapters").mkdir()
    (tmp_path / "style").mkdir()
    (tmp_path / "book.yml").write_text("title: Includes\nstyle: style/house.yml\nchapters: [chapters/01.qmd]\n")
    (tmp_path / "style" / "house.yml").write_text("terms:\n  US: [U.S.]\n")
    (tmp_path / "chapters" / "01.qmd").write_text(
        "---\nstatus: draft\n---\n\n# One\n\nIntro text about the US.\n\n{{< include _part.qmd >}}\n\nEnd.\n")
    part = tmp_path / "chapters" / "_part.qmd"
    part.write_text("First line of the part.\n\nThe U.S. alliance {++grew++} here.\n")
    checked = run_cli("check", "--book", str(tmp_path))
    assert "chapters/_part.qmd:3:5: warning[style-term]: the house style writes 'US', not 'U.S.'" in checked.stdout + checked.stderr
    assert "chapters/_part.qmd:3:19: warning[critic-mark]" in checked.stdout + checked.stderr
    fixed = run_cli("check", "--fix-style", "--book", str(tmp_path))
    assert "fixed chapters/_part.qmd:3:5: 'U.S.' -> 'US'" in fixed.stdout + fixed.stderr, fixed.stderr
    assert part.read_text() == "First line of the part.\n\nThe US alliance {++grew++} here.\n"
    assert "U.S." not in (tmp_path / "chapters" / "01.qmd").read_text() and "US." in (tmp_path / "chapters" / "01.qmd").read_text()
    public = run_cli("html", "--book", str(tmp_path))
    assert public.returncode == 1
    assert "chapters/_part.qmd:3:17: error[critic-unresolved]" in public.stdout + public.stderr


def test_blocks_quarto_numbers_and_build_book_does_not_are_named(tmp_path):
    """A theorem, a code listing or a callout labelled for Quarto's numbering is printed without its number
    (and a listing without its caption): a warning at its label says so, unless a reference to it is
    already an error; a section labelled with such a prefix is a section like any other."""
    (tmp_path / "chapters").mkdir()
    (tmp_path / "book.yml").write_text("title: Kinds\nchapters: [chapters/a.md]\n", encoding="utf-8")
    (tmp_path / "chapters" / "a.md").write_text(
        "# Kinds {#sec-kinds}\n\nText.\n\n::: {#thm-line}\n## Pythagoras\n\n$a^2 + b^2 = c^2$.\n:::\n\n"
        "```{#lst-hello .python lst-cap=\"Saying hello\"}\nprint('hello')\n```\n\n"
        "::: {.callout-tip #tip-first}\nA tip.\n:::\n\n::: {#exm-two}\nAn example, see @exm-two.\n:::\n\n"
        "## Terms {#def-terms}\n\nSee @def-terms.\n\n"
        # no warning: a span or link (Quarto numbers only blocks), a heading, a '#' in an attribute's value
        "[span]{#thm-span} and [link](https://example.org){#tip-link}.\n\n## Proof {#thm:x}\n\n"
        "```{.python code-summary=\"see #tip-summary\"}\nx = 1\n```\n\n::: {#Thm-Upper}\nNot Quarto's.\n:::\n",
        encoding="utf-8")
    result = run_cli("check", "--book", str(tmp_path), "--format", "json")
    found = [(d["line"], d["column"], d["severity"], d["code"]) for d in json.loads(result.stdout)]
    assert found == [(5, 6, "warning", "label-kind-unsupported"), (11, 5, "warning", "label-kind-unsupported"),
                     (15, 19, "warning", "label-kind-unsupported"), (20, 17, "error", "xref-unknown"),
                     (25, 5, "error", "xref-kind")], found
    said = {d["line"]: d for d in json.loads(result.stdout)}
    assert "without 'Theorem 1.2'" in said[5]["message"] and "lst-cap" in said[11]["message"]
    assert said[15]["message"].startswith("'tip-first' labels a tip, which Quarto numbers")


def test_a_front_matter_title_pandoc_would_read_oddly_is_printed_as_written():
    """A title with raw TeX or a Windows path keeps its backslashes (no raw TeX is dropped unsaid); one nested
    absurdly deep or written to make pandoc slow is its words, at once."""
    from build_book.load import _title_inlines
    from build_book.walk import inline_text, words

    for title in ("Typesetting with \\LaTeX and C:\\Users\\me", "*_" * 300 + "x" + "_*" * 300, "[" * 22 + "x",
                  "<b>Bold</b> claims"):
        assert inline_text(_title_inlines(title)) == title, title
    assert _title_inlines("A *Deep* Title") == [*words("A"), {"t": "Space"}, {"t": "Emph", "c": words("Deep")},
                                                 {"t": "Space"}, *words("Title")]


def test_a_problem_in_a_front_matter_title_is_reported_where_the_title_writes_it(tmp_path):
    """A citation, cross-reference, image or formula in the front matter's title (the chapter's title when it
    has no '# ' heading) is located in the title's own line and column, whether the title is plain, quoted or
    a '|' / '>' block running over lines; not at the file's first line."""
    (tmp_path / "chapters").mkdir()
    titles = {"a.md": 'title: Data [@nokey] on @sec-none',
              "b.md": "title: 'It''s [@nokey]\n    and @sec-none'",
              "c.md": 'title: "A \\"q\\" [@nokey]\n  and @sec-none"',
              "d.md": "title: >\n  Data ![map](none.png) $\\frac{1}{$\n  and @sec-none [@nokey]"}
    for name, title in titles.items():
        (tmp_path / "chapters" / name).write_text(f"---\n{title}\n---\n\nText [@nokey].\n", encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: Titles\nchapters: [chapters/a.md, chapters/b.md, chapters/c.md, "
                                       "chapters/d.md]\n", encoding="utf-8")
    result = run_cli("check", "--book", str(tmp_path), "--format", "json")
    found = {(d["path"][-4:], d["line"], d["column"], d["code"]) for d in json.loads(result.stdout)}
    assert found == {("a.md", 2, 14, "citation-unknown"), ("a.md", 2, 25, "xref-unknown"), ("a.md", 5, 7, "citation-unknown"),
                     ("b.md", 2, 16, "citation-unknown"), ("b.md", 3, 9, "xref-unknown"), ("b.md", 6, 7, "citation-unknown"),
                     ("c.md", 2, 18, "citation-unknown"), ("c.md", 3, 7, "xref-unknown"), ("c.md", 6, 7, "citation-unknown"),
                     ("d.md", 3, 15, "image-missing"), ("d.md", 3, 25, "math-error"), ("d.md", 4, 7, "xref-unknown"),
                     ("d.md", 4, 18, "citation-unknown"), ("d.md", 7, 7, "citation-unknown")}, sorted(found)


def test_a_cell_labelled_as_a_listing_is_named_at_its_option(tmp_path):
    """A cell with '#| lst-label:' (or '#| label: lst-...') and '#| lst-cap:' is a code listing to Quarto:
    printed here as its code without number or caption, it gets the warning a fenced '{#lst-x lst-cap=...}'
    block gets, at the label in its option line; referred to, the reference is the error."""
    (tmp_path / "chapters").mkdir()
    (tmp_path / "book.yml").write_text("title: Cells\nchapters: [chapters/a.qmd]\n", encoding="utf-8")
    (tmp_path / "chapters" / "a.qmd").write_text(
        "# Cells {#sec-cells}\n\nSee @lst-three.\n\n```{python}\n#| lst-label: lst-hello\n#| lst-cap: \"Saying hello\"\n"
        "print('hello')\n```\n\n  ```{r}\n  #| echo: true\n  #| label: 'lst-two'\n  x <- 1\n  ```\n\n"
        "```{r}\n#| label: lst-three\nx\n```\n\n```{r}\n#| label: fig-plot\nplot(1)\n```\n", encoding="utf-8")
    result = run_cli("check", "--book", str(tmp_path), "--format", "json")
    found = [(d["line"], d["column"], d["code"], "lst-cap" in d["message"]) for d in json.loads(result.stdout)]
    assert found == [(3, 5, "xref-unknown", False), (5, 1, "code-not-executed", False),
                     (6, 15, "label-kind-unsupported", True), (13, 14, "label-kind-unsupported", False),
                     (23, 11, "label-unreferenced", False)], found     # (a figure: its code is not run)
    assert run_cli("html", "--book", str(tmp_path)).returncode == 1      # (the reference)


def test_a_front_matter_title_not_read_as_markdown_is_not_where_problems_are(tmp_path):
    """A front matter title the chapter does not use (it has a setext heading), one printed as its words
    (pandoc reads it as a heading), an escaped '\\@' in one and a note called from one (the title cannot
    call it) add no place to the body's diagnostics, and hide none of them."""
    (tmp_path / "chapters").mkdir()
    body = "\n\nText [@nokey] and @sec-zz.\n\n[^n]: The note.\n"
    titles = {"a.md": "title: Front [@nokey] @sec-zz\n---\n\nReal Title\n==========",
              "b.md": "title: '# About [@nokey] @sec-zz'\n---\n",
              "c.md": 'title: "About \\\\@nokey it"\n---\n', "d.md": "title: 'About[^n] it'\n---\n"}
    for name, front in titles.items():
        (tmp_path / "chapters" / name).write_text(f"---\n{front}{body}", encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: Titles\nchapters: [chapters/a.md, chapters/b.md, chapters/c.md, "
                                       "chapters/d.md]\n", encoding="utf-8")
    for _ in range(2):      # and the same again from the caches
        result = run_cli("check", "--book", str(tmp_path), "--format", "json")
        found = sorted((d["path"][-4:], d["line"], d["column"], d["code"]) for d in json.loads(result.stdout))
        assert found == sorted([(name, line + 2, column, code) for name, line in (("a.md", 6), ("b.md", 4),
                                                                                ("c.md", 4), ("d.md", 4))
                                for column, code in ((7, "citation-unknown"), (19, "xref-unknown"))]
                               + [(name, line + 4, 1, "footnote-unused") for name, line in (("a.md", 6), ("b.md", 4),
                                                                                          ("c.md", 4), ("d.md", 4))]
                               + [("a.md", 2, 8, "front-matter-ignored")]), found    # (its title is not printed)


def test_a_front_matter_title_yaml_reads_as_a_number_is_the_title_as_written(tmp_path):
    """'title: 1984' and 'title: 1.10' are titles (YAML reads numbers), kept as written, not '1.1' (and
    without a YAML anchor or tag written before it)."""
    (tmp_path / "chapters").mkdir()
    for name, title in (("a", "&year !!int 1984"), ("b", "1.10")):
        (tmp_path / "chapters" / f"{name}.md").write_text(f"---\ntitle: {title}\n---\n\nText.\n", encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: Numbers\nchapters: [chapters/a.md, chapters/b.md]\n", encoding="utf-8")
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    pages = [(tmp_path / "build" / "html" / f"{n}.html").read_text(encoding="utf-8") for n in "ab"]
    assert ['<h1 class="chapter-title">1984</h1>' in pages[0], '<h1 class="chapter-title">1.10</h1>' in pages[1]] == [True] * 2


def test_a_part_files_text_after_its_title_is_named_not_lost(tmp_path):
    """A Quarto part file ('- part: parts/one.qmd') gives the part its title; text after the title is printed by
    Quarto on the part's page, and by build_book nowhere: a warning at the text (none for a file of a title alone)."""
    (tmp_path / "_quarto.yml").write_text(
        "project:\n  type: book\nbook:\n  title: T\n  chapters:\n    - index.qmd\n    - part: parts/one.qmd\n"
        "      chapters: [a.qmd]\n    - part: parts/two.qmd\n      chapters: [b.qmd]\n", encoding="utf-8")
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "one.qmd").write_text("# Statistics 101\n\nThis part covers averages.\n", encoding="utf-8")
    (tmp_path / "parts" / "two.qmd").write_text("---\ntitle: \"Robust\"\n---\n\n<!-- nothing else -->\n", encoding="utf-8")
    for name in ("index", "a", "b"):
        (tmp_path / f"{name}.qmd").write_text(f"# {name.upper()}\n\nText.\n", encoding="utf-8")
    result = run_cli("check", "--book", str(tmp_path))
    found = [line for line in result.stdout.splitlines() if "quarto-part-text" in line]
    assert found == ["parts/one.qmd:3:1: warning[quarto-part-text]: the part file's text after its title is not "
                     "printed: build_book prints a part ('Statistics 101') as its title alone"], result.stdout


def test_a_part_files_label_is_the_parts_and_a_flow_style_project_is_found(tmp_path):
    """'# Numeric Overview {#sec-numeric}' in a part file is the part's label, as Quarto reads it (a reference
    to it was xref-unknown, whose hint said to write the label that was there); a _quarto.yml written
    'project: {type: book}' is found as a book's, as 'project:' over 'type: book' is."""
    (tmp_path / "_quarto.yml").write_text(
        "project: {type: book}\nbook:\n  title: T\n  chapters:\n    - index.qmd\n    - part: numeric.qmd\n"
        "      chapters: [logs.qmd]\n    - part: other.qmd\n      chapters: [b.qmd]\n", encoding="utf-8")
    (tmp_path / "index.qmd").write_text("# Preface {.unnumbered}\n\nSee @sec-numeric, @sec-other and @sec-logs.\n",
                                        encoding="utf-8")
    (tmp_path / "numeric.qmd").write_text("# Numeric Overview {#sec-numeric}\n", encoding="utf-8")
    (tmp_path / "other.qmd").write_text("---\ntitle: Other\n---\n\n# Other {.unnumbered #sec:other}\n", encoding="utf-8")
    (tmp_path / "logs.qmd").write_text("# Logarithms {#sec-logs}\n\nText.\n", encoding="utf-8")
    (tmp_path / "b.qmd").write_text("# B\n\nText.\n", encoding="utf-8")
    result = run_cli("html", cwd=tmp_path)
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
    page = (tmp_path / "build" / "html" / "chapter-index.html").read_text(encoding="utf-8")
    assert re.findall(r'<a href="([^"]+)" class="xref"[^>]*>([^<]+)</a>', page) == [
        ("index.html#sec-numeric", "Part\u00a0I"), ("index.html#sec-other", "Part\u00a0II"),
        ("logs.html#sec-logs", "Chapter\u00a01")]


def test_a_title_over_level_1_headings_is_the_chapters_and_they_are_its_sections(tmp_path):
    """A pandoc document's 'title:' over text and '# ' headings (a dissertation's chapter, written so) was lost
    without a word, the first '# ' heading made the title and the rest 'chapter-two-titles'; it is the chapter's
    title now, and the headings are its numbered sections. A 'title:' over the chapter's one '# ' heading, first
    in it, is not printed, and is named only if it differs."""
    (tmp_path / "book.yml").write_text("title: T\nchapters: [a.md, b.md, c.md]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("---\ntitle: \"The Strategic Balance\"\n---\n\nIntro.\n\n# Dictators\n\nBody.\n\n"
                                   "# Second\n\n## Sub\n\nText.\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("---\ntitle: Same\n---\n\n<!-- a comment -->\n\n# Same\n\nBody.\n", encoding="utf-8")
    (tmp_path / "c.md").write_text("---\ntitle: Short\n---\n\n# Long Title\n\nBody.\n", encoding="utf-8")
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if "warning[" in line] == [
        "c.md:2:8: warning[front-matter-ignored]: the front matter's title 'Short' is not printed: the chapter's "
        "title is its '# ' heading, 'Long Title'"], result.stderr
    page = (tmp_path / "build" / "html" / "a.html").read_text(encoding="utf-8")
    assert re.findall(r"<h(\d)[^>]*>(.*?)</h\1>", page)[:4] == [
        ("1", "The Strategic Balance"), ("2", '<span class="section-number">1.1</span> Dictators'),
        ("2", '<span class="section-number">1.2</span> Second'), ("3", '<span class="section-number">1.2.1</span> Sub')]
    assert "Intro." in page
    titles = [re.search(r'<h1 class="chapter-title">(.*?)</h1>', (tmp_path / "build" / "html" / f"{n}.html").read_text(
        encoding="utf-8")).group(1) for n in "bc"]
    assert titles == ["Same", "Long Title"]


def test_quartos_references_chapter_is_the_place_of_the_books_list(quarto):
    """Quarto's references.qmd ('# References {.unnumbered}' over an empty '::: {#refs}') printed as an empty
    chapter, the list following as 'Bibliography'. The book's list is now in that chapter, under its title, in
    every edition: the citations link there, and there is no other bibliography."""
    assert not (quarto.html / "bibliography.html").exists()
    page = (quarto.html / "references.html").read_text(encoding="utf-8")
    assert '<h1 class="chapter-title">References</h1>' in page and re.search(r'<div id="ref-[a-z]+\d{4}"', page)
    assert "Bibliography" not in (quarto.html / "index.html").read_text(encoding="utf-8")
    assert re.search(r'href="references\.html#ref-[a-z]+\d{4}"', (quarto.html / "intro.html").read_text(encoding="utf-8"))
    with zipfile.ZipFile(quarto.epub) as archive:
        nav = archive.read("EPUB/nav.xhtml").decode("utf-8")
        chapter = archive.read("EPUB/references.xhtml").decode("utf-8")
    assert ">References</a>" in nav and "Bibliography" not in nav and 'id="ref-' in chapter
    assert '<div class="book-references" role="doc-bibliography">' in chapter     # as the book's own list page
    assert '<a epub:type="bibliography" href="references.xhtml">References</a>' in nav     # (a landmark)
    pdf = Pdf(quarto.pdf)
    assert "Bibliography" not in pdf.text and re.search(r"References( \.)+ *\d+", pdf.flat()), pdf.flat()[:3000]
    assert [title for title, _ in pdf.outline() if "Refer" in title or "Biblio" in title] == ["References"]
    listed = pdf.page_of("References", pdf.page_of("Contents") + 1)
    assert re.search(r"[A-Z][a-z]+, [A-Z][A-Za-z. ]+ \d{4}\. ", pdf.flat(listed)), pdf.flat(listed)


def test_bookdowns_references_chapter_a_heading_alone_is_the_place_of_the_books_list(tmp_path):
    """bookdown's references.Rmd is '# References {-}' alone (bookdown puts the list after it): it printed as an
    empty chapter, the book's list after it as 'Bibliography'. An empty chapter of another title stays one."""
    (tmp_path / "refs.bib").write_text("@book{walt1987, author={Walt, Stephen M.}, title={Origins}, year={1987}, "
                                       "publisher={P}}\n", encoding="utf-8")
    (tmp_path / "a.Rmd").write_text("# A\n\nAs @walt1987 argues.\n", encoding="utf-8")
    (tmp_path / "later.Rmd").write_text("# Conclusion {-}\n", encoding="utf-8")
    (tmp_path / "refs.Rmd").write_text("<!-- the list -->\n\n# 参考文献 {-}\n", encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: T\nbibliography: refs.bib\nchapters: [a.Rmd, later.Rmd, refs.Rmd]\n",
                                       encoding="utf-8")
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
    html = tmp_path / "build" / "html"
    assert not (html / "bibliography.html").exists()
    listed = (html / "refs.html").read_text(encoding="utf-8")
    assert '<h1 class="chapter-title"><span lang="ja">参考文献</span></h1>' in listed and 'id="ref-walt1987"' in listed, listed
    assert 'href="refs.html#ref-walt1987"' in (html / "a.html").read_text(encoding="utf-8")
    assert "ref-walt1987" not in (html / "later.html").read_text(encoding="utf-8")


def test_the_books_list_is_headed_as_reference_section_title_says_or_in_the_books_language(tmp_path):
    """pandoc's 'reference-section-title' heads the book's list; without it, 'Bibliography', or 参考文献 in a
    Japanese book."""
    (tmp_path / "refs.bib").write_text("@book{a, author={A, B}, title={T}, publisher={P}, year={2001}}\n",
                                       encoding="utf-8")
    (tmp_path / "a.md").write_text("# A\n\nText [@a].\n", encoding="utf-8")
    for extra, heading in (("reference-section-title: Works Cited\n", "Works Cited"), ("lang: ja\n", "参考文献")):
        (tmp_path / "book.yml").write_text(f"title: T\nbibliography: refs.bib\n{extra}chapters: [a.md]\n",
                                           encoding="utf-8")
        result = run_cli("html", "--book", str(tmp_path))
        assert result.returncode == 0, result.stderr
        page = (tmp_path / "build" / "html" / "bibliography.html").read_text(encoding="utf-8")
        assert f'<h1 class="chapter-title">{heading}</h1>' in page, heading


def test_a_references_chapter_keeps_its_text_and_label_and_is_named_with_scope_chapter(tmp_path):
    """The chapter that holds the book's list keeps what else it says (it was printed empty, the list apart), and a
    reference or a link to it leads there (it read '??sec-refs', unreported). With bibliography-scope: chapter,
    which has no book-wide list, its '::: {#refs}' is named."""
    (tmp_path / "refs.bib").write_text("@book{walt1987, author={Walt, Stephen M.}, title={Origins}, year={1987}, "
                                       "publisher={P}}\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("# A\n\nSee @walt1987, @sec-refs and [the list](refs.md).\n", encoding="utf-8")
    (tmp_path / "refs.md").write_text("# References {#sec-refs .unnumbered}\n\nEvery work cited.\n\n::: {#refs}\n:::\n",
                                      encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: T\nbibliography: refs.bib\nchapters: [a.md, refs.md]\n", encoding="utf-8")
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0 and "error[" not in result.stderr, result.stderr
    page = (tmp_path / "build" / "html" / "a.html").read_text(encoding="utf-8")
    assert 'href="refs.html#ref-walt1987"' in page and '<a href="refs.html#sec-refs" class="xref"' in page, page
    assert '<a href="refs.html#sec-refs">the list</a>' in page and "??" not in page
    listed = (tmp_path / "build" / "html" / "refs.html").read_text(encoding="utf-8")
    assert listed.index("Every work cited.") < listed.index('id="ref-walt1987"')
    assert not (tmp_path / "build" / "html" / "bibliography.html").exists()
    # a second such chapter: its '::: {#refs}' prints nothing, and says so
    (tmp_path / "more.md").write_text("# More {.unnumbered}\n\n::: {#refs}\n:::\n", encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: T\nbibliography: refs.bib\nchapters: [a.md, refs.md, more.md]\n",
                                       encoding="utf-8")
    found = json.loads(run_cli("check", "--book", str(tmp_path), "--format", "json").stdout)
    assert [(d["path"], d["line"], d["code"]) for d in found if d["code"] == "references-chapter"] == [
        ("more.md", 3, "references-chapter")], found
    (tmp_path / "book.yml").write_text("title: T\nbibliography: refs.bib\nbibliography-scope: chapter\n"
                                       "chapters: [a.md, refs.md]\n", encoding="utf-8")
    found = json.loads(run_cli("check", "--book", str(tmp_path), "--format", "json").stdout)
    assert [(d["path"], d["line"], d["column"], d["code"]) for d in found if d["severity"] == "warning" and
            d["code"] != "xref-unnumbered"] == [("refs.md", 5, 6, "references-chapter")], found
