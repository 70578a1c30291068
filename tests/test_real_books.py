"""What trying build_book on real pandoc and Quarto books written by others turned up, each reproduced on a small
book written here: valid input that was refused (false alarms) or misread, now read as the author meant it."""

from __future__ import annotations

import html
import json
import re
import subprocess
from datetime import date

import pytest

from build_book.config import load_config

from .conftest import run_cli


def _quarto_book(root, date: str, chapter: str) -> None:
    (root / "_quarto.yml").write_text(
        "project:\n  type: book\nbook:\n  title: Stories\n  author: Ann Writer\n"
        f"  date: \"{date}\"\n  chapters:\n    - index.qmd\n", encoding="utf-8")
    (root / "index.qmd").write_text(chapter, encoding="utf-8")


def _check(root) -> tuple[int, list[dict]]:
    result = run_cli("check", "--book", str(root), "--format", "json")
    return result.returncode, json.loads(result.stdout or "[]")


def test_a_long_comment_line_is_no_deep_nesting(tmp_path):
    """An HTML comment is blanked out before nesting is measured: a 300-character commented-out paragraph
    became 300 spaces, read as indentation 75 levels deep (error nesting-too-deep, the chapter not built)."""
    comment = "<!-- " + "a commented-out paragraph " * 12 + "-->"
    _quarto_book(tmp_path, "2023-05-19", f"# Remarks\n\nText before.\n\n{comment}\n\nText after.\n")
    status, found = _check(tmp_path)
    assert status == 0, found
    assert not [d for d in found if d["code"] == "nesting-too-deep"]
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "build" / "html" / "index.html").read_text(encoding="utf-8")
    chapters = " ".join(p.read_text(encoding="utf-8") for p in (tmp_path / "build" / "html").glob("*.html"))
    assert "Text before." in chapters and "Text after." in chapters and "commented-out" not in chapters
    assert "Stories" in page


def test_deep_nesting_is_still_refused(tmp_path):
    _quarto_book(tmp_path, "2023", "# Deep\n\n" + "> " * 60 + "quoted\n")
    status, found = _check(tmp_path)
    assert status == 1
    assert [(d["path"], d["line"]) for d in found if d["code"] == "nesting-too-deep"] == [("index.qmd", 3)]


@pytest.mark.parametrize("written, read", [
    ("19 May 2023", "2023-05-19"), ("May 19, 2023", "2023-05-19"), ("5/19/2023", "2023-05-19"),
    ("Sep 3 2021", "2021-09-03"), ("March 2020", "2020-03"), ("2022", "2022"), ("today", "today"),
])
def test_quarto_dates_as_quarto_reads_them(tmp_path, written, read):
    """Quarto books write their date as people do ('19 May 2023'); it was refused as not ISO."""
    before = date.today().isoformat()   # 'today' is the day the book is read (a run may cross midnight)
    _quarto_book(tmp_path, written, "# One\n\nText.\n")
    status, found = _check(tmp_path)
    assert status == 0, found
    assert not [d for d in found if d["severity"] == "error"]
    config, _ = load_config(tmp_path)
    assert config.date in ({before, date.today().isoformat()} if read == "today" else {read})


def test_a_date_quarto_cannot_read_is_a_located_error(tmp_path):
    _quarto_book(tmp_path, "the spring of 2023", "# One\n\nText.\n")
    status, found = _check(tmp_path)
    assert status == 1
    assert [(d["path"], d["line"], d["code"]) for d in found if d["severity"] == "error"] == \
        [("_quarto.yml", 6, "config-value")]


def test_template_keys_in_a_chapters_front_matter_are_left_alone(tmp_path):
    """A pandoc book's chapters carry keys for its own template (prev-url:, page-title:): left alone with one
    warning, where they were errors; a key that looks like a misspelt one of build_book's is still an error."""
    (tmp_path / "book.yml").write_text("title: Basics\nchapters: [one.md, two.md]\n", encoding="utf-8")
    (tmp_path / "one.md").write_text(
        "---\nprev-chapter: \"Start\"\nprev-url: \"00-start.html\"\npage-title: One\ntags: [a, b]\n---\n\n"
        "# One\n\nText.\n", encoding="utf-8")
    (tmp_path / "two.md").write_text("---\nabstarct: A summary.\n---\n\n# Two\n\nText.\n", encoding="utf-8")
    status, found = _check(tmp_path)
    assert status == 1
    got = [(d["path"], d["line"], d["severity"], d["code"]) for d in found]
    assert got == [("one.md", 2, "warning", "front-matter-ignored"), ("two.md", 2, "error", "front-matter-key")]
    ignored = next(d for d in found if d["code"] == "front-matter-ignored")
    assert re.search(r"prev-chapter, prev-url, page-title, tags$", ignored["message"])
    assert "did you mean 'abstract'" in next(d for d in found if d["code"] == "front-matter-key")["hint"]


def test_quarto_authors_affiliations_by_reference(tmp_path):
    """Quarto's authors name their affiliations: as a list, often by ref: to the project's affiliations:; they
    were dropped (and the top-level affiliations: reported as a key build_book does not use)."""
    (tmp_path / "_quarto.yml").write_text(
        "affiliations:\n  - id: epi\n    name: Division of Epidemiology, Example University\n    city: Davis\n"
        "project:\n  type: book\nbook:\n  title: Manual\n  author:\n"
        "    - name: Ann Writer\n      affiliations:\n        - ref: epi\n      email: ann@example.org\n"
        "    - name: Ben Other\n      affiliations: [Example College, {name: Example Lab}]\n"
        "  date: last-modified\n  chapters: [one.qmd]\n", encoding="utf-8")
    (tmp_path / "one.qmd").write_text("# One\n\nText.\n", encoding="utf-8")
    before = date.today().isoformat()
    config, found = load_config(tmp_path)
    assert [(c.name, c.affiliation) for c in config.contributors.values()] == [
        ("Ann Writer", "Division of Epidemiology, Example University"),
        ("Ben Other", "Example College; Example Lab")]
    assert config.date in {before, date.today().isoformat()}
    assert not [d for d in found if d.code == "quarto-ignored" and "affiliations" in d.message]


LAZY = """# Layout

**Vignettes** (`vignettes/*.Rmd`):
- Shipped with the package
- Accessible via `vignette()`

## A heading
- a list right under a heading is a list
- and prints as one

A sentence that wraps with a dash
- at the start of one line only, which is a dash.

1. An item
   - with a sublist
   - right under it

Text before a fence:

```
a paragraph line
- inside code
- is code
```

Steps:
1. first
2. second

A formula over lines:
$$
a
- b
- c
$$

Conditions:
(a) first condition
(b) second condition

(1) one
(2) two
1. three
2. four

A. Smith wrote to
B. Jones, who replied.

Prose wrapped by an editor, the treaty signed in September
1951. Then came the crisis of
1952. It was short. As reported by Smith
(1951) and by Jones
(1952) the alliance held. In a book of
1951) and in another of
1952) it held again.

Timeline:
1950. Korea begins.
1951. Treaty signed.

----
- a row of a table without a header, as pandoc reads it
- and another
----

***
- a list after a rule
- is a list

A setext heading
----------------
- a list right under it
- is a list
"""


def test_list_items_right_under_a_paragraph_line_are_warned_about(tmp_path):
    """pandoc starts a list only after a blank line: items written right under a paragraph's line print as its
    text (' - Shipped with the package - Accessible via ...'); a lab manual had five such lists, silently run
    together. Lists after headings, sublists and a single dash at a line's start are not warned about."""
    _quarto_book(tmp_path, "2024", LAZY)
    status, found = _check(tmp_path)
    assert status == 0, found
    assert [(d["line"], d["column"]) for d in found if d["code"] == "list-needs-blank-line"] == [
        (4, 1), (27, 1), (38, 1), (58, 1)]     # ('(a)' is a list marker too; '(1)' then '1.' two lists; 'B. Jones'
    # a name; a year at a wrapped line's start is prose, unless the line above ends with a colon)
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    page = " ".join(p.read_text(encoding="utf-8") for p in (tmp_path / "build" / "html").glob("*.html"))
    assert "- Shipped with the package - Accessible via" in re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page))
    assert "<li>a list right under a heading is a list</li>" in page and "<li>with a sublist</li>" in page
    assert "Steps: 1. first 2. second" in re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page))
    assert "Conditions: (a) first condition (b) second condition" in re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page))
    assert "<li>three</li>" in page and "A. Smith wrote to B. Jones" in re.sub(r"\s+", " ", page)
    assert "September 1951. Then came the crisis of 1952. It was short." in re.sub(r"\s+", " ", page)
    # a line of dashes begins a rule or a table, not a paragraph: what follows it is not its text
    assert "<li>a list after a rule</li>" in page and re.search(r"<td[^>]*>- and another</td>", page)
    assert "<li>a list right under it</li>" in page


CELLS_IN_A_LIST = """# Exercises

1.  Why does this code not work?

    ```{r}
    #| error: true

    my_variable <- 10
    my_varlable
    ```

    Look carefully!

2.  Run this:

    ```{python}
    print(1)
    ```
"""


def test_executable_cells_inside_list_items_are_code(tmp_path):
    """Quarto books put cells in exercises, fenced four spaces in under a list item: they were printed as a
    paragraph of literal text ('```{r} #| error: true my_variable <- 10 ...'), not read as cells."""
    _quarto_book(tmp_path, "2024", CELLS_IN_A_LIST)
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "this chapter has 2 executable code cells" in result.stderr
    page = " ".join(p.read_text(encoding="utf-8") for p in (tmp_path / "build" / "html").glob("*.html"))
    text = re.sub(r"<[^>]+>", "", page)
    assert "```" not in text and "#|" not in text and "{r}" not in text
    codes = re.findall(r"<pre[^>]*>(.*?)</pre>", page, re.S)
    assert [re.sub(r"<[^>]+>", "", c).strip().splitlines() for c in codes] == [
        ["my_variable &lt;- 10", "my_varlable"], ["print(1)"]]
    assert "Look carefully!" in text


CELLS_AS_QUARTO_SHOWS_THEM = """# Basics {#sec-basics}

```{r}
#| echo: false

source("_common.R")
```

The environment tab lists your objects:

```{r}
#| echo: false
#| fig-alt: |
#|   The environment tab, which shows x and y
#|   in the global environment.

knitr::include_graphics("shots/env.png")
```

As @fig-pane shows, panes can move.

```{r}
#| label: fig-pane
#| fig-cap: "The \\"Pane\\" layout [options]"
#| fig-alt: A dialog box.
#| echo: false

knitr::include_graphics('shots/pane.png')
```

```{r}
#| eval: false
x <- 1
```

```{r setup, include=FALSE}
library(hidden)
```
"""


def test_cells_as_quarto_shows_them(tmp_path):
    """A cell with echo: false shows nothing (its code was printed: 'source("_common.R")' opened every chapter
    of an R book); a cell that only includes an image (knitr::include_graphics) shows the image, with its
    fig-alt as alt text and, labelled fig-... with a fig-cap, as a numbered figure @fig-... refers to."""
    _quarto_book(tmp_path, "2024", CELLS_AS_QUARTO_SHOWS_THEM)
    from PIL import Image
    (tmp_path / "shots").mkdir()
    for name in ("env", "pane"):
        Image.new("RGB", (40, 20), (200, 220, 240)).save(tmp_path / "shots" / f"{name}.png")
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "this chapter has 2 executable code cells" in result.stderr   # the image cells are shown as Quarto does
    # (and the eval: false cell, which Quarto would not run either, is not counted)
    page = " ".join(p.read_text(encoding="utf-8") for p in (tmp_path / "build" / "html").glob("*.html"))
    assert "_common" not in page and "library" not in page and "include_graphics" not in page and "#|" not in page
    assert re.search(r'<img (?=[^>]*src="[^"]*env\.png")[^>]*alt="The environment tab, which shows x and y in the global '
                     r'environment\."', page)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page))
    assert "As Figure 1.1 shows" in text
    assert 'Figure 1.1 The “Pane” layout [options]' in text.replace(":", "")   # (Markdown, as in Quarto)
    assert re.search(r'<img (?=[^>]*src="[^"]*pane\.png")[^>]*alt="A dialog box\."', page)
    assert [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<pre[^>]*>(.*?)</pre>", page, re.S)] == ["x &lt;- 1"]


def test_an_r_markdown_cells_header_gives_its_figures_caption_and_label(tmp_path):
    """R Markdown writes a cell's caption and label in its header ('```{r logo, echo=FALSE, fig.cap="..."}'), as
    bookdown's books do: the image it includes was printed bare, its caption lost and '\\@ref(fig:logo)' unknown."""
    _quarto_book(tmp_path, "2024", "# Knitr\n\nSee Figure \\@ref(fig:logo), @fig-map and \\@ref(fig:opt); \\@ref(fig:built).\n\n"
                                   "```{r logo, echo=FALSE, fig.cap='The *knitr* logo, \\'small\\', as in Figure "
                                   "\\\\@ref(fig:opt).', out.width='20%'}\nknitr::include_graphics('shots/logo.png')\n```\n\n"
                                   "```{r, label=\"map\", fig.cap=\"A map\", fig.alt=\"Coasts in grey.\"}\n"
                                   "knitr::include_graphics(\"shots/map.png\")\n```\n\n"
                                   "```{r opt}\n#| fig-cap: \"1. A caption from the options\"\n"
                                   "knitr::include_graphics(\"shots/map.png\")\n```\n\n"
                                   "```{r built, fig.cap=paste(\"Made\", \"in R\")}\n"
                                   "knitr::include_graphics(\"shots/map.png\")\n```\n\n"
                                   "```{r none, fig.cap=NULL}\nknitr::include_graphics(\"shots/logo.png\")\n```\n\n"
                                   "```{r braced, fig.cap=\"Set {A, B} drawn\"}\nknitr::include_graphics(\"shots/map.png\")\n"
                                   "```\n\nAnd \\@ref(fig:braced).\n")
    from PIL import Image
    (tmp_path / "shots").mkdir()
    for name in ("logo", "map"):
        Image.new("RGB", (40, 20), (200, 220, 240)).save(tmp_path / "shots" / f"{name}.png")
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    # a caption given as R code is named: build_book does not run it; its figure keeps its label (NULL, no
    # caption, is no problem)
    assert re.findall(r"^(index.qmd:\d+:\d+): warning\[([\w-]+)\]: (.*)", result.stderr, re.M) == [
        ("index.qmd:18:1", "code-not-executed", "this cell's fig.cap is R code (paste(\"Made\", \"in R\")), which "
                                               "build_book does not run: its figure is printed without it")], result.stderr
    page = (tmp_path / "build" / "html" / "chapter-index.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page)))
    assert "See Figure 1.1, Figure 1.2 and 1.3; 1.4." in text, text
    # the caption is Markdown, as a chunk's caption is to knitr: emphasis, a reference
    assert "Figure 1.1: The knitr logo, ‘small’, as in Figure 1.3." in text and "<em>knitr</em>" in page
    assert "Figure 1.2: A map" in text and "Figure 1.3: 1. A caption from the options" in text, text
    assert "NULL" not in text and "paste" not in text
    assert "Figure 1.5: Set {A, B} drawn" in text and "And 1.5." in text, text   # (a brace in a quoted caption)
    assert re.search(r'<img (?=[^>]*src="[^"]*map\.png")[^>]*alt="Coasts in grey\."', page)


def test_options_in_knitrs_own_syntax_in_the_cell_are_read(tmp_path):
    """knitr also takes a header's options in the cell, one or more a line ('#| echo = FALSE,'), as bookdown books
    write them (TMwR's every figure): they were not YAML, so they were all ignored: the figure printed bare,
    its caption and label lost ('\\@ref(fig:plan)' unknown, the book not built) and a hidden cell's code shown."""
    _quarto_book(tmp_path, "2024", "# Knitr\n\nThe plan is in Figure \\@ref(fig:plan).\n\n"
                                   "```{r plan}\n#| echo = FALSE,\n#| out.width = '85%',\n"
                                   "#| fig.cap = \"The plan: two\n#|   stages, drawn.\",\n"
                                   "#| fig.alt = \"Two boxes, joined.\"\nknitr::include_graphics(\"shots/plan.png\")\n```\n\n"
                                   "```{r}\n#| echo = FALSE\nhidden_setup()\n```\n\n"
                                   "```{r}\n#| echo: false\n#| fig-cap: \"a = b, as YAML\"\nalso_hidden()\n```\n\n"
                                   "```{r}\n#| eval = FALSE\nshown_code()\n```\n")
    from PIL import Image
    (tmp_path / "shots").mkdir()
    Image.new("RGB", (40, 20), (200, 220, 240)).save(tmp_path / "shots" / "plan.png")
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "build" / "html" / "chapter-index.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page)))
    assert "The plan is in Figure 1.1." in text, text
    assert "Figure 1.1: The plan: two stages, drawn." in text, text
    assert re.search(r'<img (?=[^>]*src="[^"]*plan\.png")[^>]*alt="Two boxes, joined\."', page)
    assert "hidden_setup" not in page and "also_hidden" not in page and "include_graphics" not in page
    assert "shown_code()" in text and "#|" not in text


def test_inline_code_knitr_would_run_inside_a_formula(tmp_path):
    """knitr writes an inline expression's value into a formula before pandoc reads it ('$\\bar{x} = `r xbar`$',
    ModernDive's chapters): the backticks made a math-error, at 1:1, and the book was not built. In a .qmd or
    .Rmd chapter the expression is printed as its words, as outside formulas; in a .md chapter, where
    nothing runs it, the formula is still an error, located at its '$'."""
    _quarto_book(tmp_path, "2024", "# Estimates\n\nThe mean is $\\bar{x} = `r xbar`$ grams, and\n\n"
                                   "$$SE = \\frac{`r sigma`}{\\sqrt{100}} = `r ci[[\"lower\"]] |> round(4)`$$\n")
    (tmp_path / "_quarto.yml").write_text((tmp_path / "_quarto.yml").read_text(encoding="utf-8") + "    - b.md\n",
                                          encoding="utf-8")
    (tmp_path / "b.md").write_text("# B\n\nText.\n\nThen $y = `r y`$ here.\n", encoding="utf-8")
    code, found = _check(tmp_path)
    assert [(d["path"], d["line"], d["column"], d["code"]) for d in found] == [
        ("b.md", 5, 6, "math-error"), ("index.qmd", 3, 24, "code-not-executed")], found
    (tmp_path / "_quarto.yml").write_text((tmp_path / "_quarto.yml").read_text(encoding="utf-8").replace(
        "    - b.md\n", ""), encoding="utf-8")
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    page = html.unescape((tmp_path / "build" / "html" / "chapter-index.html").read_text(encoding="utf-8"))
    shown = re.findall(r"<mtext[^>]*>([^<]*)</mtext>", page)
    assert shown == ["r xbar", "r sigma", 'r ci[["lower"]] |> round(4)'], shown


def test_inline_code_quarto_would_run_is_named(tmp_path):
    """'`r quarto_version`' in a .qmd chapter (a real book's preface: "rendered using quarto `r quarto_version`")
    printed as code, with no word said; in a .md chapter, which Quarto does not run, it is code and not named."""
    _quarto_book(tmp_path, "2024", "# Preface\n\nRendered with R `r R.version.string` and `{python} 1+1`; `r` alone,"
                                   " ``r x``.\n\n```\n`r in_a_fence`\n```\n")
    (tmp_path / "_quarto.yml").write_text((tmp_path / "_quarto.yml").read_text(encoding="utf-8") + "    - b.md\n",
                                          encoding="utf-8")
    (tmp_path / "b.md").write_text("# B\n\nknitr writes `r nrow(df)`.\n", encoding="utf-8")
    code, found = _check(tmp_path)
    assert [(d["path"], d["line"], d["column"], d["code"]) for d in found] == [
        ("index.qmd", 3, 17, "code-not-executed")], found
    assert found[0]["message"].startswith("this chapter has 2 inline code expressions (`r R.version.string`, "
                                          "`{python} 1+1`): build_book prints them as code")


def test_bookdowns_theorem_and_proof_cells_are_text(tmp_path):
    """bookdown writes theorems, proofs and boxes as cells ('```{theorem, pyth, name="..."}'): they were
    counted as code not run and printed as code, their '$c$' as written. They are the Markdown they hold,
    headed as bookdown heads them, labelled as Quarto labels a theorem."""
    _quarto_book(tmp_path, "2024", "# Proofs\n\n```{theorem, pyth, name=\"Pythagorean theorem\"}\nFor a right "
                                   "triangle, with hypotenuse $c$,\n$$a^2 + b^2 = c^2$$\n```\n\n```{proof}\nLeft as an "
                                   "exercise.\n```\n\n```{block2, type='rmdnote'}\n- A list first.\n```\n\n"
                                   "```{r}\nx <- 1\n```\n")
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "1 executable code cell " in result.stderr and "label-kind-unsupported" in result.stderr
    page = (tmp_path / "build" / "html" / "chapter-index.html").read_text(encoding="utf-8")
    assert re.search(r'<div id="thm-pyth" class="theorem">\s*<p><strong>Theorem \(Pythagorean theorem\)\.</strong> '
                     r'For a right triangle, with hypotenuse <math', page), page
    assert '<p><em>Proof.</em> Left as an exercise.</p>' in page and '<div class="block2 rmdnote">' in page
    assert [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<pre[^>]*>(.*?)</pre>", page, re.S)] == ["x &lt;- 1"]
    # what is found in a theorem's first line is found where it is written (its heading is not in the line)
    _quarto_book(tmp_path, "2024", "# Proofs\n\n```{theorem, pyth, name=\"Pythagoras\"}\nBy [@nokey].\n```\n")
    code, found = _check(tmp_path)
    assert [(d["line"], d["column"]) for d in found if d["code"] == "citation-unknown"] == [(4, 5)], found


def test_a_cell_left_open_at_the_end_is_shown_as_code(tmp_path):
    _quarto_book(tmp_path, "2024", "# Open\n\nText.\n\n```{r}\n#| echo: true\nx <- 1\n")
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    page = " ".join(p.read_text(encoding="utf-8") for p in (tmp_path / "build" / "html").glob("*.html"))
    assert [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<pre[^>]*>(.*?)</pre>", page, re.S)] == ["x &lt;- 1"]
    assert "{r}" not in page
    # and named: what follows it, headings and text, is printed as its code
    assert re.findall(r"^(index.qmd:\d+:\d+): warning\[cell-unclosed\]", result.stderr, re.M) == ["index.qmd:5:1"]


def test_a_knitr_child_document_is_its_text_in_the_cells_place(tmp_path):
    """knitr's '```{r, child="_part.Rmd"}' puts the child's text in the cell's place (as bookdown's books and theses
    split a chapter): it was left out, text and figures, with only the chapter's code-not-executed count to say so.
    It is now read as an include is: nested, relative to the file that names it, its problems located in it."""
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "_child.Rmd").write_text("## From the child\n\nChild text [@nobody].\n\n"
                                                   "```{r, child=\"more.Rmd\"}\n```\n", encoding="utf-8")
    (tmp_path / "parts" / "more.Rmd").write_text("Grandchild text.\n", encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: T\nchapters: [a.Rmd]\n", encoding="utf-8")
    (tmp_path / "a.Rmd").write_text("# A\n\nBefore.\n\n```{r, child=\"parts/_child.Rmd\"}\n```\n\n"
                                    "```{r both, child=c(\"parts/more.Rmd\", 'gone.Rmd')}\n```\n\nAfter.\n",
                                    encoding="utf-8")
    status, found = _check(tmp_path)
    assert status == 1 and [(d["path"], d["line"], d["code"]) for d in found] == [
        ("a.Rmd", 8, "include-missing"), ("parts/_child.Rmd", 3, "citation-unknown")], found
    (tmp_path / "a.Rmd").write_text((tmp_path / "a.Rmd").read_text("utf-8").replace(", 'gone.Rmd'", ""), "utf-8")
    (tmp_path / "parts" / "_child.Rmd").write_text(
        (tmp_path / "parts" / "_child.Rmd").read_text("utf-8").replace(" [@nobody]", ""), "utf-8")
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
    prose = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", (tmp_path / "build" / "html" / "a.html").read_text("utf-8")))
    assert "Before. 1.1 From the child Child text. Grandchild text. Grandchild text. After." in prose, prose


def test_a_knitr_child_of_a_cell_not_run_is_left_out(tmp_path):
    """knitr knits no child of a cell it would not run ('```{r child="draft.Rmd", eval=FALSE}', as authors keep
    a draft out of the book): its text was printed all the same, and its labels, given again by another cell
    that names the same child, were error[label-duplicate]."""
    from build_book import quarto
    (tmp_path / "_draft.Rmd").write_text("Draft words.\n", encoding="utf-8")
    for header in ('{r child="_draft.Rmd", eval=FALSE}', "{r, child = '_draft.Rmd', eval = F}",
                   '{r}\n#| child: _draft.Rmd\n#| eval: false'):
        expanded = quarto.expand(tmp_path, "a.Rmd", f"# A\n\n```{header}\n```\n\nAfter.\n", 1)
        assert "Draft words." not in expanded.text and "After." in expanded.text, header
        assert expanded.diagnostics == [], header
    expanded = quarto.expand(tmp_path, "a.Rmd", '# A\n\n```{r child="_draft.Rmd", eval=TRUE}\n```\n', 1)
    assert "Draft words." in expanded.text


def test_a_numbered_formula_as_wide_as_the_line_keeps_its_number_in_print(tmp_path):
    """A display formula as wide as the text pushed its number off the page: '(2.8)' was missing from the PDF
    of a real book while the web edition had it. The number now goes under the formula, at the right."""
    wide = " + ".join(f"\\frac{{\\log M_\\theta(c_{i}^w, y_{i}^w \\mid x_{i})}}{{|c_{i}^w| + |y_{i}^w|}}"
                      for i in range(5))
    (tmp_path / "book.yml").write_text("title: Wide\nchapters: [one.md]\n", encoding="utf-8")
    (tmp_path / "one.md").write_text(
        f"# One\n\nNarrow:\n\n$$ a = b $$ {{#eq:narrow}}\n\nWide:\n\n$$\n{wide}\n$$ {{#eq:wide}}\n\n"
        "See @eq:narrow and @eq:wide.\n", encoding="utf-8")
    result = run_cli("pdf", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    pdf = next((tmp_path / "build").glob("*.pdf"))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "(1.1)" in text and "(1.2)" in text, text


def test_a_bibliography_and_language_given_under_a_format_are_read(tmp_path):
    """Quarto reads 'format: html: bibliography:' (and lang) too; a Japanese Quarto book put them there, and
    every citation was reported as having no entry, the book built as English. Now read when the top has none."""
    (tmp_path / "_quarto.yml").write_text(
        "project:\n  type: book\nbook:\n  title: 統計\n  chapters:\n    - index.qmd\nformat:\n  html:\n"
        "    bibliography: references.bib\n    lang: ja_JP.UTF-8\n    theme: cosmo\n", encoding="utf-8")
    (tmp_path / "references.bib").write_text("@book{2020現代数理統計学, author={竹村, 彰通}, title={現代数理統計学}, "
                                             "year={2020}, publisher={学術図書出版社}}\n", encoding="utf-8")
    (tmp_path / "index.qmd").write_text("# はじめに\n\n詳しくは [@2020現代数理統計学, 第3章] を参照．\n", encoding="utf-8")
    status, found = _check(tmp_path)
    assert status == 0 and "citation-unknown" not in {d["code"] for d in found}, found
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "build" / "html" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="ja-JP">' in page and "竹村" in (tmp_path / "build" / "html" / "bibliography.html").read_text()


def test_code_hidden_as_quarto_and_knitr_hide_it_is_not_printed(tmp_path):
    """Cells print no code where Quarto or knitr would show none: execute: echo: false in _quarto.yml or a
    chapter's front matter, or knitr's opts_chunk$set(echo = FALSE) in a cell before (bookdown's books set
    it in their first chapter, for all). Each printed every cell's code; a cell may still say echo: true."""
    (tmp_path / "_quarto.yml").write_text("project:\n  type: book\nbook:\n  title: T\n  chapters: [index.qmd, b.qmd, "
                                          "c.Rmd, d.Rmd]\nexecute:\n  echo: false\n", encoding="utf-8")
    (tmp_path / "index.qmd").write_text("# Intro\n\n```{r}\nhidden_by_the_project <- 1\n```\n\n```{r}\n#| echo: true\n"
                                        "shown_by_its_option <- 1\n```\n", encoding="utf-8")
    (tmp_path / "b.qmd").write_text("---\nexecute:\n  echo: true\n---\n\n# B\n\n```{r}\nshown_by_the_chapter <- 1\n```\n",
                                    encoding="utf-8")
    (tmp_path / "c.Rmd").write_text("# C\n\n```{r setup, include=FALSE}\nknitr::opts_chunk$set(echo = TRUE)\n```\n\n"
                                    "```{r}\nshown_by_knitr <- 1\n```\n", encoding="utf-8")
    (tmp_path / "d.Rmd").write_text("# D\n\n```{r}\nshown_by_knitr_before <- 1\n```\n\n```{r}\n"
                                    "knitr::opts_chunk$set(echo = FALSE)\n```\n\n```{r}\nhidden_by_knitr <- 1\n```\n\n"
                                    "```{r, echo=TRUE}\nshown_by_its_header <- 1\n```\n", encoding="utf-8")
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0 and "quarto-ignored" not in result.stderr, result.stderr
    pages = " ".join(p.read_text(encoding="utf-8") for p in (tmp_path / "build" / "html").glob("*.html"))
    assert sorted(set(re.findall(r"(?:shown|hidden)_by_\w+", pages))) == [
        "shown_by_its_header", "shown_by_its_option", "shown_by_knitr", "shown_by_knitr_before",
        "shown_by_the_chapter"]


def test_knitrs_echo_is_read_only_where_knitr_runs_it(tmp_path):
    """opts_chunk$set(echo = ...) counts only in an R cell knitr runs: not in an R Markdown file quoted in a
    code block, a cell in an HTML comment, an R comment or an eval=FALSE cell; it carries to later R
    Markdown chapters (bookdown knits them in one session), not to a Quarto chapter (run on its own)."""
    (tmp_path / "book.yml").write_text("title: T\nexecute: {echo: false}\nchapters: [a.Rmd, b.Rmd, c.qmd]\n",
                                       encoding="utf-8")
    (tmp_path / "a.Rmd").write_text(
        "# A\n\n````markdown\n```{r setup}\nknitr::opts_chunk$set(echo = TRUE)\n```\n````\n\n"
        "```{r}\n#| echo: fenced\nshown_fenced <- 1\n```\n\n<!--\n```{r}\nknitr::opts_chunk$set(echo = TRUE)\n```\n-->\n\n"
        "```{r, eval=FALSE}\nknitr::opts_chunk$set(echo = TRUE)\n```\n\n```{r}\nhidden_still <- 1\n```\n\n"
        "```{r}\n# knitr::opts_chunk$set(echo = FALSE)\nknitr::opts_chunk$set(fig.width = c(6), echo = TRUE)\n```\n\n"
        "```{r}\nshown_by_knitr <- 1\n```\n", encoding="utf-8")
    (tmp_path / "b.Rmd").write_text("# B\n\n```{r}\nshown_carried <- 1\n```\n", encoding="utf-8")
    (tmp_path / "c.qmd").write_text("# C\n\n```{r}\nhidden_in_its_own_session <- 1\n```\n", encoding="utf-8")
    assert run_cli("html", "--book", str(tmp_path)).returncode == 0
    pages = " ".join(p.read_text(encoding="utf-8") for p in (tmp_path / "build" / "html").glob("*.html"))
    assert sorted(set(re.findall(r"(?:shown|hidden)_\w+", pages))) == ["shown_by_knitr", "shown_carried",
                                                                         "shown_fenced"]


def test_a_figure_a_code_cell_would_draw_is_numbered_and_captioned_over_a_placeholder(tmp_path):
    """A cell labelled as a figure ('#| label: fig-x', or bookdown's captioned cell) draws its figure when Quarto or
    knitr runs it; build_book runs no code, and every reference to such a figure was error[xref-unknown], which
    stopped the build of any book with a plot. The figure is now numbered and captioned, over a placeholder that
    says why it is empty, its code shown before it unless hidden; the chapter's warning says so."""
    _quarto_book(tmp_path, "2024", "# Plots\n\nSee @fig-shown, @fig-hidden and \\@ref(fig:knit).\n\n"
                                   "```{r}\n#| label: fig-shown\n#| fig-cap: \"A *plot* of squares\"\n"
                                   "plot((1:10)^2)\n```\n\n"
                                   "```{r}\n#| label: fig-hidden\n#| echo: false\n#| fig-cap: Hidden code\n"
                                   "hist(rnorm(100))\n```\n\n"
                                   "```{r knit, echo=FALSE, fig.cap='Drawn by knitr'}\nbarplot(1:3)\n```\n\n"
                                   "```{r made, fig.cap=paste('Computed')}\nplot(1)\n```\n\n"
                                   "```{r}\n#| label: tbl-a-table\nplot(2)\n```\n\n"
                                   "```{r}\n#| label: fig-included-not\n#| include: false\nplot(3)\n```\n\n"
                                   "```{r unrun, eval=FALSE, fig.cap='Never run'}\nplot(4)\n```\n")
    status, found = _check(tmp_path)
    assert status == 0, found
    assert [(d["line"], d["code"]) for d in found] == [(5, "code-not-executed"), (22, "code-not-executed"),
                                                       (22, "label-unreferenced"), (27, "label-unreferenced")], found
    assert "5 of them are labelled as figures or tables, printed with their captions and numbers over placeholders" in \
        found[0]["message"]
    assert "fig.cap is R code (paste('Computed'))" in found[1]["message"]
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "build" / "html" / "index.html").read_text(encoding="utf-8")
    chapter = next(p for p in (tmp_path / "build" / "html").glob("*.html") if "fig-shown" in p.read_text("utf-8"))
    text = chapter.read_text(encoding="utf-8")
    assert "Stories" in page
    prose = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text))
    assert "See Figure 1.1, Figure 1.2 and 1.3." in prose, prose
    assert "Figure 1.1: A plot of squares" in prose and "Figure 1.2: Hidden code" in prose
    assert "Figure 1.3: Drawn by knitr" in prose and "Figure 1.4" in prose and "Figure 1.5" not in prose, prose
    figures = re.findall(r'<figure id="(fig-[\w-]+)">\s*<div class="unmade-figure">\s*<p>Not drawn: its R code was '
                         r'not run\.</p>', text)
    assert figures == ["fig-shown", "fig-hidden", "fig-knit", "fig-made"], text
    # (a cell knitr would not include, or not run, makes no figure, nor a placeholder)
    assert "fig-included-not" not in text and "fig-unrun" not in text and "Never run" not in text
    assert prose.index("plot((1:10)^2)") < prose.index("Figure 1.1: A plot")     # the code shown, then its figure
    assert "rnorm" not in prose and "barplot" not in prose and "plot(2)" in prose


def test_a_figure_cell_not_run_is_not_counted_among_the_cells_run(tmp_path):
    """A figure cell with 'eval: false' is not among the chapter's executable cells (knitr would not run it either),
    but it was counted among those labelled as figures: 'this chapter has 1 executable code cell ...; 2 of them
    are labelled as figures or tables'."""
    from build_book import quarto
    body = ("# A\n\n```{r}\n#| label: fig-run\n#| fig-cap: Run\nplot(1)\n```\n\n"
            "```{r}\n#| label: fig-kept\n#| fig-cap: Kept\n#| eval: false\nplot(2)\n```\n\n"
            "```{r}\nx <- 1\n```\n")
    [warned] = quarto.expand(tmp_path, "a.qmd", body, 1).diagnostics
    assert "has 2 executable code cells" in warned.message and "1 of them is labelled as" in warned.message, warned
    [warned] = quarto.expand(tmp_path, "a.qmd", body.replace("```{r}\n#| label: fig-run", "```{r}\n#| label: x"),
                             1).diagnostics
    assert "has 2 executable code cells" in warned.message and "labelled" not in warned.message, warned


def _bookdown(root, setup: str | None, index_front: str, files: dict[str, str]) -> None:
    if setup is not None:
        (root / "_bookdown.yml").write_text(setup, encoding="utf-8")
    (root / "index.Rmd").write_text(f"---\n{index_front}---\n\n# Preface {{-}}\n\nWhy this book [@ann2020].\n",
                                    encoding="utf-8")
    (root / "book.bib").write_text("@book{ann2020, author={Writer, Ann}, title={Stories}, publisher={P}, "
                                   "year={2020}}\n", encoding="utf-8")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


def test_a_bookdown_book_is_read_from_its_bookdown_yml_and_index_rmd(tmp_path):
    """A bookdown book has no book.yml: its chapters are listed in _bookdown.yml (rmd_files) and its title, authors,
    date and bibliography are in index.Rmd's front matter, which is the book's, not the first chapter's. Such a book
    was 'no book.yml here'; with a book.yml written for it, index.Rmd's title was the first chapter's."""
    _bookdown(tmp_path, "book_filename: stories\nrmd_files: [\"index.Rmd\", \"chapters/intro.Rmd\", \"refs.Rmd\"]\n"
              "language:\n  label:\n    fig: \"Abb. \"\n  ui:\n    chapter_name: \"Kapitel \"\n",
              "title: \"Telling Stories\"\nauthor:\n  - Ann Writer\n  - Bo Reader\ndate: \"`r Sys.Date()`\"\n"
              "site: bookdown::bookdown_site\ndocumentclass: book\nbibliography: [book.bib]\n"
              "biblio-style: apalike\nlink-citations: yes\n",
              {"chapters/intro.Rmd": "# Introduction {#intro}\n\nAs Chapter \\@ref(intro) and Figure \\@ref(fig:p) "
                                     "show.\n\n```{r p, echo=FALSE, fig.cap='A plot'}\nplot(1)\n```\n",
               "refs.Rmd": "# References {-}\n", "_unused.Rmd": "# Not listed\n"})
    config, problems = load_config(tmp_path)
    assert config.title == "Telling Stories" and config.date == date.today().isoformat()
    assert [p.name for p in config.contributors.values()] == ["Ann Writer", "Bo Reader"]
    assert [c.path for c in config.chapters] == ["index.Rmd", "chapters/intro.Rmd", "refs.Rmd"]
    assert [(d.location.path, d.location.line, d.code) for d in problems] == [
        ("index.Rmd", 8, "bookdown-ignored"), ("_bookdown.yml", 1, "bookdown-ignored")], problems
    assert "documentclass, biblio-style, link-citations" in problems[0].message
    assert "book_filename" in problems[1].message
    result = run_cli("html", "--book", str(tmp_path / "chapters"))     # (a folder inside the book finds it)
    assert result.returncode == 0, result.stderr
    assert "front-matter-ignored" not in result.stderr and "error[" not in result.stderr, result.stderr
    html_dir = tmp_path / "build" / "html"
    contents = (html_dir / "index.html").read_text(encoding="utf-8")
    assert "Telling Stories" in contents and "Ann Writer" in contents
    pages = {p.name: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", p.read_text("utf-8"))) for p in html_dir.glob("*.html")}
    preface = next(t for t in pages.values() if "Why this book" in t)
    assert "Preface" in preface and "Telling Stories" in preface      # (the book's title, in its page's title only)
    assert "As Chapter 1 and Figure 1.1 show." in pages["intro.html"] and "Abb. 1.1: A plot" in pages["intro.html"]
    assert "Kapitel 1" in pages["intro.html"], pages["intro.html"]
    assert "Writer, Ann. 2020" in pages["refs.html"] and not (html_dir / "bibliography.html").exists()
    assert "Not listed" not in " ".join(pages.values())
    # a chapter _bookdown.yml lists that is not there: located in its list
    (tmp_path / "_bookdown.yml").write_text("rmd_files:\n  - index.Rmd\n  - gone.Rmd\n", encoding="utf-8")
    status, found = _check(tmp_path)
    assert status == 1 and [(d["path"], d["line"], d["code"]) for d in found if d["severity"] == "error"] == [
        ("_bookdown.yml", 3, "missing-chapter")], found


def test_a_bookdown_book_without_bookdown_yml_merges_its_rmd_files_as_bookdown_does(tmp_path):
    """Without _bookdown.yml, index.Rmd's 'site: bookdown::bookdown_site' marks the book; its chapters are every
    .Rmd file of the folder, index.Rmd first, the others by name, but those beginning with '_'."""
    _bookdown(tmp_path, None, "title: Plain\nsite: bookdown::bookdown_site\nbibliography: book.bib\n",
              {"02-b.Rmd": "# Second\n", "01-a.Rmd": "# First\n", "_common.Rmd": "# Setup\n", "notes.md": "# Notes\n"})
    config, problems = load_config(tmp_path)
    assert problems == [] and config.title == "Plain"
    assert [c.path for c in config.chapters] == ["index.Rmd", "01-a.Rmd", "02-b.Rmd"]
    result = run_cli("check", "--book", str(tmp_path))
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr


def test_a_table_a_code_cell_would_make_is_numbered_and_captioned_over_a_placeholder(tmp_path):
    """A cell labelled as a table ('#| label: tbl-x' with 'tbl-cap'), or in an R Markdown chapter knitr's
    'kable(df, caption = ...)' in a cell labelled x (bookdown's tab:x), makes its table when run: every reference
    to one was error[xref-unknown]. It is now numbered and captioned over a placeholder row; kable without a
    caption (which knitr does not label) and kable in a Quarto chapter (which Quarto labels only by 'tbl-') are
    no tables."""
    (tmp_path / "book.yml").write_text("title: T\nchapters: [a.Rmd, b.qmd]\n", encoding="utf-8")
    (tmp_path / "a.Rmd").write_text(
        "# A\n\nSee @tbl-sum, \\@ref(tab:kab) and \\@ref(tab:own).\n\n"
        "```{r}\n#| label: tbl-sum\n#| tbl-cap: \"A *summary*\"\nsummary(x)\n```\n\n"
        "```{r kab, echo=FALSE}\nknitr::kable(head(iris), caption = 'Iris \"rows\"', booktabs = TRUE)\n```\n\n"
        "```{r other}\nkable(df, label = \"own\",\n      caption = paste(\"Made\", 1))\n```\n\n"
        "```{r plain}\nkable(df)\n```\n", encoding="utf-8")
    (tmp_path / "b.qmd").write_text("# B\n\n```{r kab2}\nknitr::kable(df, caption = 'Quarto')\n```\n",
                                    encoding="utf-8")
    status, found = _check(tmp_path)
    assert status == 0, found
    assert [(d["path"], d["line"], d["code"]) for d in found] == [
        ("a.Rmd", 5, "code-not-executed"), ("a.Rmd", 15, "code-not-executed"), ("b.qmd", 3, "code-not-executed")], found
    assert "3 of them are labelled as figures or tables" in found[0]["message"]
    assert "table caption is R code (paste(\"Made\", 1))" in found[1]["message"]
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "build" / "html" / "a.html").read_text(encoding="utf-8")
    prose = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text))
    assert "See Table 1.1, 1.2 and 1.3." in prose, prose
    assert re.findall(r'<table id="(tbl-[\w-]+)" class="unmade-table">\s*<caption>(.*?)</caption>', text) == [
        ("tbl-sum", '<span class="caption-label">Table 1.1:</span> A <em>summary</em>'),
        ("tbl-kab", '<span class="caption-label">Table 1.2:</span> Iris “rows”'),
        ("tbl-own", '<span class="caption-label">Table 1.3</span>')], text
    assert prose.count("Not made: its R code was not run.") == 3 and "summary(x)" in prose and "iris" not in prose
    assert "unmade-table" not in (tmp_path / "build" / "html" / "b.html").read_text(encoding="utf-8")


def test_a_caption_outside_the_kable_call_makes_no_table(tmp_path):
    """Only kable's own arguments say whether knitr labels its table: a 'caption =' of another call in the same
    cell ('labs(caption = "Data: cars")' after 'kable(head(cars))') made a table that knitr does not label,
    numbered and captioned with the plot's words."""
    from build_book import quarto
    for code, tables in [('kable(head(cars))\np <- ggplot(cars) + labs(caption = "Data: cars")', []),
                         ('kable(head(cars), col.names = c("a (b)", "c)"))\nlabs(caption = "x")', []),
                         ('kable(head(cars), col.names = c("a (b)", "c)"), caption = "Kept")\nlabs(caption = "x")',
                          ["tbl-t3"]),
                         ('kable(f(x, y = g(1)),\n      caption = "Kept")', ["tbl-t3"])]:
        text = quarto.expand(tmp_path, "a.Rmd", f"# A\n\n```{{r t3}}\n{code}\n```\n", 1).text
        assert re.findall(r"#(tbl-[\w-]+)", text) == tables, (code, text)
        assert ("\nKept\n" in text) == bool(tables) and "\nData: cars\n" not in text and "\nx\n" not in text, text


def test_text_r_writes_for_the_web_edition_alone_is_read_as_written(tmp_path):
    """bookdown's books head their references chapter with inline R that writes the heading for the web only
    ('`r if (knitr::is_html_output()) "\\n# References {-}\\n"`'): the chapter had no title (error
    chapter-no-title, the build stopped). The text is read as knitr writes it for the web; other inline R is not
    run, and named."""
    (tmp_path / "refs.bib").write_text("@book{a, author={Writer, Ann}, title={T}, publisher={P}, year={2020}}\n",
                                       encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: T\nbibliography: refs.bib\nchapters: [a.Rmd, refs.Rmd]\n", encoding="utf-8")
    (tmp_path / "a.Rmd").write_text("# A\n\nAs @a says.\n\n`r if (knitr::is_latex_output()) '\\\\appendix'`\n",
                                    encoding="utf-8")
    (tmp_path / "refs.Rmd").write_text("`r if (knitr:::is_html_output()) '\\n# References {-}\\n'`\n", encoding="utf-8")
    status, found = _check(tmp_path)
    assert status == 0 and [(d["path"], d["line"], d["code"]) for d in found] == [("a.Rmd", 5, "code-not-executed")], found
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    listed = (tmp_path / "build" / "html" / "refs.html").read_text(encoding="utf-8")
    assert '<h1 class="chapter-title">References</h1>' in listed and 'id="ref-a"' in listed
def test_a_bookdown_book_s_r_code_values_are_named_not_refused(tmp_path):
    """bookdown's manual writes a label as R code ('chapter_name: !expr function(i) ...'), and R Markdown's front
    matter takes '!r' values ('date: !r Sys.Date()'): both were error[config-yaml] ('could not determine a
    constructor for the tag'), which stopped the build of a valid book. Such a value is now named as R code build_book
    does not run (bookdown-ignored), the rest of the book read."""
    _bookdown(tmp_path, "rmd_files: [index.Rmd]\nlanguage:\n  label:\n    fig: !expr function(i) paste('Fig', i)\n"
              "  ui:\n    chapter_name: \"Kapitel \"\n",
              "title: Computed\ndate: !r Sys.Date()\nbibliography: book.bib\n", {})
    config, problems = load_config(tmp_path)
    assert config.title == "Computed" and not config.date and config.words.get("chapter") == "Kapitel"
    assert [(d.location.path, d.location.line, d.code) for d in problems] == [
        ("index.Rmd", 3, "bookdown-ignored"), ("_bookdown.yml", 4, "bookdown-ignored")], problems
    assert "date" in problems[0].message and "language: label: fig" in problems[1].message
    assert "R code" in problems[1].hint
    status, found = _check(tmp_path)
    assert status == 0 and not [d for d in found if d["severity"] == "error"], found


def test_a_bookdown_book_s_rmd_files_as_one_name_or_index_listed_late_are_read_as_bookdown_reads_them(tmp_path):
    """'rmd_files: "index.Rmd"' (R reads a text as a list of one) was taken as no list at all: every .Rmd file of
    the folder became a chapter. And bookdown puts index.Rmd first wherever rmd_files lists it: listed after a
    chapter, that chapter's front matter was read as the book's ('title' missing, the chapter's title lost)."""
    _bookdown(tmp_path, 'rmd_files: "index.Rmd"\n', "title: One\nbibliography: book.bib\n",
              {"01-a.Rmd": "# Stray\n\nNot in the book.\n"})
    config, problems = load_config(tmp_path)
    assert [c.path for c in config.chapters] == ["index.Rmd"] and problems == [], problems
    (tmp_path / "_bookdown.yml").write_text("rmd_files:\n  - 01-a.Rmd\n  - gone.Rmd\n  - index.Rmd\n", encoding="utf-8")
    config, problems = load_config(tmp_path)
    assert config.title == "One" and [c.path for c in config.chapters] == ["index.Rmd", "01-a.Rmd", "gone.Rmd"]
    assert [(d.location.path, d.location.line, d.code) for d in problems] == [("_bookdown.yml", 3, "missing-chapter")]


def test_a_bookdown_book_s_rmd_subdir_as_bookdown_reads_it(tmp_path):
    """'rmd_subdir: chapters' (a folder's name, as bookdown's manual writes it) was ignored: that folder's chapters
    were silently not in the book. A subfolder's chapters come after the folder's own, as bookdown merges them (they
    were sorted in among them); a folder outside the book was an internal error (ValueError) or left out silently."""
    _bookdown(tmp_path, "rmd_subdir: chapters\n", "title: Sub\nbibliography: book.bib\n",
              {"01-a.Rmd": "# A\n", "z.Rmd": "# Z\n", "chapters/02-b.Rmd": "# B\n", "chapters/_skip.Rmd": "# S\n"})
    config, problems = load_config(tmp_path)
    assert [c.path for c in config.chapters] == ["index.Rmd", "01-a.Rmd", "z.Rmd", "chapters/02-b.Rmd"], problems
    assert problems == []
    (tmp_path / "_bookdown.yml").write_text("rmd_subdir: [chapters, /etc, ../..]\n", encoding="utf-8")
    config, problems = load_config(tmp_path)
    assert [c.path for c in config.chapters] == ["index.Rmd", "01-a.Rmd", "z.Rmd", "chapters/02-b.Rmd"]
    assert [(d.location.line, d.location.column, d.code) for d in problems] == [
        (1, 24, "path-outside-book"), (1, 30, "path-outside-book")], problems


def test_a_bookdown_book_without_a_title_is_told_so_in_index_rmd(tmp_path):
    """A bookdown book's title is in index.Rmd's front matter; without one, check said "required key 'title' is
    missing from _bookdown.yml" at _bookdown.yml:1:1, with the hint to add a line 'title: ...' there, where
    bookdown reads no title. It is now located in index.Rmd, where the title goes."""
    _bookdown(tmp_path, "rmd_files: [index.Rmd]\n", "author: Ann\nbibliography: book.bib\n", {})
    status, found = _check(tmp_path)
    assert status == 1 and [(d["path"], d["line"], d["code"]) for d in found if d["severity"] == "error"] == [
        ("index.Rmd", 1, "config-missing-key")], found
    assert "index.Rmd" in found[0]["hint"] and "_bookdown.yml" not in found[0]["message"]
    _bookdown(tmp_path, "rmd_files: [index.Rmd]\n", "author: Ann\ntitle:\nbibliography: book.bib\n", {})
    config, problems = load_config(tmp_path)
    assert [(d.location.path, d.location.line, d.code) for d in problems] == [("index.Rmd", 3, "config-missing-key")]
    assert "_bookdown.yml" not in problems[0].message


def test_a_bookdown_book_beside_a_quarto_yml_that_is_no_book_is_the_book(tmp_path):
    """A _quarto.yml that is not a book's (a website's, a leftover) beside a bookdown book's _bookdown.yml: the
    folder was found as the bookdown book's, and then read as a Quarto book's, error[config-missing] 'its _quarto.yml
    is not a Quarto book project'. A Quarto book's _quarto.yml still wins over a _bookdown.yml."""
    _bookdown(tmp_path, "rmd_files: [index.Rmd]\n", "title: Beside\nbibliography: book.bib\n", {})
    (tmp_path / "_quarto.yml").write_text("project:\n  type: website\n", encoding="utf-8")
    status, found = _check(tmp_path)
    assert status == 0 and not [d for d in found if d["severity"] == "error"], found
    assert load_config(tmp_path)[0].title == "Beside"
    (tmp_path / "_quarto.yml").write_text("project:\n  type: book\nbook:\n  title: Quarto's\n  chapters: [index.Rmd]\n",
                                          encoding="utf-8")
    assert load_config(tmp_path)[0].title == "Quarto's"


def test_a_bookdown_book_s_index_rmd_saved_with_a_bom_marks_the_book(tmp_path):
    """An index.Rmd saved with a byte order mark (as Windows editors save UTF-8) and 'site: bookdown::bookdown_site',
    without _bookdown.yml: the mark before its '---' hid the front matter, and the folder was 'no book.yml here'."""
    _bookdown(tmp_path, None, "title: Marked\nsite: bookdown::bookdown_site\nbibliography: book.bib\n", {})
    index = tmp_path / "index.Rmd"
    index.write_bytes(b"\xef\xbb\xbf" + index.read_bytes().replace(b"\n", b"\r\n"))
    result = run_cli("check", "--book", str(tmp_path))
    assert result.returncode == 0 and "error" not in result.stderr, result.stderr


def test_a_bookdown_books_language_words_it_cannot_read_are_named(tmp_path):
    """_bookdown.yml's language: of a wrong shape ('language: x', 'label: [1]', 'fig: 3') was ignored without a word;
    two words around the number (['第', '章']) are read as bookdown reads them."""
    for written, found in (('language: "x"', [(1, "'language' must be a mapping")]),
                           ("language: {label: [1]}", [(1, "'language → label' must be a mapping")]),
                           ("language:\n  label:\n    fig: 3\n", [(3, "'language → label → fig' must be a word")]),
                           ('language: {ui: {chapter_name: ["第", "章"]}}', [])):
        _bookdown(tmp_path, written, "title: T\nsite: bookdown::bookdown_site\n", {"01-a.Rmd": "# A\n"})
        config, problems = load_config(tmp_path)
        assert [(d.location.path, d.location.line, d.code, d.severity) for d in problems] == [
            ("_bookdown.yml", line, "config-type", "warning") for line, _ in found], problems
        assert all(text in d.message for d, (_, text) in zip(problems, found)), problems
    assert config.words["chapter"] == "第%s章"


def test_a_bookdown_chapter_name_in_japanese_in_a_book_without_lang_leaves_the_title_whole(tmp_path):
    """chapter_name: ["第", "章"] in a book that says no lang: (English): the label "第2章", its Japanese words
    wrapped in <span lang="ja">, was cut from the title at the first of those spans' ends, so that the title
    heading printed "2章" before the title, with a '</span>' no element opened."""
    _bookdown(tmp_path, 'language:\n  ui:\n    chapter_name: ["第", "章"]\nrmd_files: [index.Rmd, 01-a.Rmd]\n',
              "title: Lessons\nbibliography: book.bib\n", {"01-a.Rmd": "# 記述統計\n\nSome words.\n"})
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "build" / "html" / "01-a.html").read_text(encoding="utf-8")
    head = re.search(r'<header class="chapter-head">(.*?)</header>', page, re.S).group(1)
    assert re.sub(r"<[^>]+>", "", head.split("<h1")[0]).strip() == "第1章", head     # (the label, above the title)
    title = re.search(r'<h1 class="chapter-title">(.*?)</h1>', head, re.S).group(1)
    assert re.sub(r"<[^>]+>", "", title) == "記述統計", title
    assert title.count("<span") == title.count("</span>"), title


def test_a_cell_knitr_would_not_run_either_is_not_counted_as_code_not_run(tmp_path):
    """```{r eval=FALSE} (or '#| eval: false') shows its code and runs nothing, in bookdown as in build_book: nothing
    of it is missing. A chapter of such cells (an R course's 'try this at home' code) was told that its cells
    were not run and what they compute was not in the book (code-not-executed), and they were counted."""
    _bookdown(tmp_path, "rmd_files: [index.Rmd, 01-a.Rmd, 02-b.Rmd]\n", "title: Lessons\nbibliography: book.bib\n",
              {"01-a.Rmd": "# Setup\n\n``` {r eval=FALSE}\ninstall.packages('x')\n```\n\n"
                           "```{r}\n#| eval: false\nlibrary(x)\n```\n",
               "02-b.Rmd": "# Work\n\n```{r, eval = F}\nshow(1)\n```\n\n```{r}\nsummary(cars)\n```\n"})
    status, found = _check(tmp_path)
    assert status == 0, found
    notes = [(d["path"], d["line"], d["message"]) for d in found if d["code"] == "code-not-executed"]
    assert [(p, line) for p, line, _ in notes] == [("02-b.Rmd", 7)], notes
    assert "has 1 executable code cell " in notes[0][2], notes
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "build" / "html" / "01-a.html").read_text(encoding="utf-8")
    assert "install.packages" in text and "library" in text      # (their code still shown)


def test_a_bookdown_book_s_missing_files_are_hinted_at_in_its_own_terms(tmp_path):
    """A bookdown book has no book.yml: a missing bibliography was 'relative to the folder holding book.yml', and
    a chapter _bookdown.yml lists with a wrong capital ('01-Intro.Rmd' for 01-intro.Rmd) had no 'did you mean', the
    near names being looked for among .md files only."""
    _bookdown(tmp_path, "rmd_files: [index.Rmd, 01-Intro.Rmd]\n", "title: T\nbibliography: [book.bib, refs.bib]\n",
              {"01-intro.Rmd": "# Intro\n"})
    status, found = _check(tmp_path)
    got = {d["code"]: d["hint"] for d in found if d["severity"] == "error"}
    assert status == 1 and set(got) == {"missing-chapter", "missing-file"}, found
    assert got["missing-chapter"] == "did you mean '01-intro.Rmd'?", got
    assert "book.yml" not in got["missing-file"] and "index.Rmd" in got["missing-file"], got


def test_a_bookdown_book_s_bibliography_its_r_code_writes_is_not_an_error(tmp_path):
    """bookdown-demo's index.Rmd lists packages.bib, which its own R code writes (knitr::write_bib), and many books
    keep that file out of git: build_book, which runs no R, stopped at error[missing-file]. It is now named as what
    R would have written (code-not-executed, a warning, at the bibliography and naming the line of the call), and the
    book is built without it; a .bib missing that no R code writes is still an error."""
    _bookdown(tmp_path, "rmd_files: [index.Rmd, 01-a.Rmd]\n",
              "title: T\nbibliography: [book.bib, packages.bib]\nsite: bookdown::bookdown_site\n",
              {"01-a.Rmd": "# A\n\nText.\n\n```{r include=FALSE}\nknitr::write_bib(c(\n  .packages(), 'bookdown'\n"
                           "), 'packages.bib')\n```\n"})
    status, found = _check(tmp_path)
    assert status == 0, found
    said = [d for d in found if "packages.bib" in d["message"]]
    assert [(d["path"], d["line"], d["severity"], d["code"]) for d in said] == [
        ("index.Rmd", 3, "warning", "code-not-executed")], found
    assert "01-a.Rmd:6" in said[0]["message"], said
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "Writer, Ann. 2020" in (tmp_path / "build" / "html" / "index.html").read_text(encoding="utf-8") or \
        any("Writer, Ann" in p.read_text(encoding="utf-8") for p in (tmp_path / "build" / "html").glob("*.html"))
    # written only in code shown (a plain code block, an R comment, a cell not run), or nowhere: still an error
    for text in ("# A\n\nText.\n", "# A\n\n```r\nknitr::write_bib(.packages(), 'packages.bib')\n```\n",
                 "# A\n\n```{r}\n# knitr::write_bib(.packages(), 'packages.bib')\n```\n",
                 "# A\n\n```{r, eval=FALSE}\nknitr::write_bib(.packages(), 'packages.bib')\n```\n"):
        (tmp_path / "01-a.Rmd").write_text(text, encoding="utf-8")
        status, found = _check(tmp_path)
        assert status == 1 and [(d["code"], d["severity"]) for d in found if "packages.bib" in d["message"]] == [
            ("missing-file", "error")], (text, found)


def test_a_bookdown_book_s_part_headings_are_its_parts(tmp_path):
    """bookdown's '# (PART) Title {-}' begins a part of the chapters from the one after it, '# (APPENDIX) ...'
    makes those after it appendices, and a file of a part heading alone is no chapter. A bookdown book, which has
    no book.yml to list parts in, printed no part at all: each heading was warning[bookdown-part], 'build_book
    reads the book's parts from book.yml', and the appendices were numbered chapters."""
    _bookdown(tmp_path, "rmd_files: [index.Rmd, 01-a.Rmd, 05-part.Rmd, 02-b.Rmd, 03-c.Rmd]\n",
              "title: T\nbibliography: book.bib\n",
              {"01-a.Rmd": "# (PART) Opening Moves {.unnumbered}\n\n# Alpha\n\nText.\n",
               "05-part.Rmd": "<!-- the middle -->\n# (PART\\*) Unused Heading {-}\n",
               "02-b.Rmd": "# (PART) Closing Moves {-}\n\n# Beta\n\n```md\n# (PART) Not A Part {-}\n```\n\n"
                           "# (APPENDIX) Extra Matter {-}\n",
               "03-c.Rmd": "# Gamma {#gam}\n\nSee Appendix \\@ref(gam) and Chapter \\@ref(alpha).\n"})
    config, problems = load_config(tmp_path)
    assert [p.title for p in config.parts] == ["Opening Moves", "Closing Moves"], config.parts
    assert [(c.path, c.part, c.appendix) for c in config.chapters] == [
        ("index.Rmd", None, False), ("01-a.Rmd", 0, False), ("02-b.Rmd", 1, False), ("03-c.Rmd", None, True)]
    status, found = _check(tmp_path)
    assert status == 0 and not [d for d in found if d["code"] == "bookdown-part"], found
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    html_dir = tmp_path / "build" / "html"
    contents = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", (html_dir / "index.html").read_text(encoding="utf-8")))
    assert re.search(r"Part I: Opening Moves Chapter 1 Alpha Part II: Closing Moves Chapter 2 Beta Appendix A "
                     r"Gamma", contents), contents
    assert "Unused Heading" not in contents and "Not A Part" in (html_dir / "02-b.html").read_text(encoding="utf-8")
    gamma = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", (html_dir / "gam.html").read_text(encoding="utf-8")))
    assert "See Appendix A and Chapter 1." in gamma, gamma


def test_pandocs_implicit_header_references_link_to_their_headings(tmp_path):
    """Pandoc links '[Topic One]' to the heading of that text (its implicit header references; bookdown books'
    placeholders '[topic 1]' under a '## TOPIC 1' heading too). build_book reads without pandoc's automatic ids,
    so such a link had no target: error[link-empty] 'a link with an empty target' at the chapter's first line,
    for text the author wrote no link in (and, by the length of the book's path, sometimes '#', no error)."""
    _bookdown(tmp_path, "rmd_files: [index.Rmd, 01-a.Rmd]\n", "title: T\nbibliography: book.bib\n",
              {"01-a.Rmd": "# Alpha\n\nSee [topic one], [Other words] and [Historical  background].\n\n"
                           "##\tTOPIC ONE\n\nx\n\n## Historical Background {#history}\n\ny\n"})
    status, found = _check(tmp_path)
    assert status == 0 and not [d for d in found if d["code"] == "link-empty"], found
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "build" / "html" / "01-a.html").read_text(encoding="utf-8")
    heading = re.search(r'<h2 id="([^"]+)"><span class="section-number">1\.1</span> TOPIC ONE', page)
    assert heading, page
    assert f'See <a href="#{heading.group(1)}">topic one</a>, [Other words] and <a href="#history">Historical ' \
           'background</a>.' in page, page


def test_an_implicit_header_reference_to_a_heading_whose_id_looks_like_a_label(tmp_path):
    """A heading whose text begins as a label does ('## Sec One', '## Fig trees') has an automatic id that looks
    like one ('sec-one'): '[Sec One]', pandoc's link to it, was error[link-anchor] "link to '#sec-one', which is no
    label in the book" at the chapter's line 1, a link the author never wrote. It links to its heading."""
    (tmp_path / "book.yml").write_text("title: T\nchapters: [a.md]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("# Alpha\n\nSee [Sec One], [Fig trees] and [x](#sec-one).\n\n## Sec One\n\n"
                                   "## Fig trees\n\nSee [y](#sec-nowhere).\n", encoding="utf-8")
    status, found = _check(tmp_path)
    assert [(d["line"], d["code"]) for d in found] == [(9, "link-anchor")], found
    (tmp_path / "a.md").write_text((tmp_path / "a.md").read_text("utf-8").replace("See [y](#sec-nowhere).", "y"),
                                   encoding="utf-8")
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "build" / "html" / "a.html").read_text(encoding="utf-8")
    ids = re.findall(r'<h2 id="([^"]+)"><span class="section-number">', page)
    assert len(ids) == 2 and f'See <a href="#{ids[0]}">Sec One</a>, <a href="#{ids[1]}">Fig trees</a> and ' \
        f'<a href="#{ids[0]}">x</a>.' in page, page


def test_a_bookdown_book_s_url_with_its_colon_escaped_is_read_as_pandoc_reads_it(tmp_path):
    """bookdown-demo's index.Rmd wrote its url as 'https\\://bookdown.org/...' (pandoc reads metadata as Markdown,
    where '\\:' is a colon), and books made from it keep it: error[config-value] "'url' must be a web address
    starting with https:// or http://". It is now read as pandoc reads it."""
    _bookdown(tmp_path, "rmd_files: [index.Rmd]\n",
              "title: T\nbibliography: book.bib\nurl: 'https\\://example.org/book/'\n", {})
    config, problems = load_config(tmp_path)
    assert config.url == "https://example.org/book/" and not problems, (config.url, problems)


def test_a_list_marker_before_a_full_width_space_is_warned_about(tmp_path):
    """A Japanese book's sublist item typed '-　例えば' (a full-width space after the dash, as a Japanese input
    method types it) printed as text at the end of the item above ('避けるべき。 -　例えば、...'), with no word
    from check; so did lines of a paragraph begun so. A paragraph of one such line alone ('1.　はじめに', which
    prints as typed), code and a marker before an ordinary space are not warned about."""
    (tmp_path / "book.yml").write_text("title: T\nlang: ja\nchapters: [a.md]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("# 章\n\n- 一つ目の項目。\n  -　入れ子の項目\n- 二つ目\n\n1.　はじめに\n\n"
                                   "本文の行\n-　続きの行\n\n```\n-　コード\n```\n\n- 普通の項目\n", encoding="utf-8")
    status, found = _check(tmp_path)
    assert status == 0, found
    assert [(d["line"], d["column"]) for d in found if d["code"] == "list-marker-wide-space"] == [(4, 3), (10, 1)]
