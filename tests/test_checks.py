"""Checks: the 'broken' fixture book carries one of every fault; its diagnostics are golden.

Refresh the golden file after an intended change with:
    UPDATE_GOLDENS=1 scripts/test tests/test_checks.py
and read the diff before committing it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from .conftest import BOOKS, copy_book, run_cli

GOLDEN = BOOKS / "broken" / "expected-diagnostics.json"
TEMPLATES = Path(__file__).parent.parent / "templates"


def _checked(root: Path, chapter: str, bib: str | None = None, config: str = "") -> list[dict]:
    """check --format json of a book in ``root`` of one chapter, a.md (and refs.bib, if ``bib``; ``config``:
    more lines of book.yml)."""
    (root / "book.yml").write_text("title: T\n" + ("bibliography: refs.bib\n" if bib else "") + config +
                                   "chapters: [a.md]\n", encoding="utf-8")
    if bib:
        (root / "refs.bib").write_text(bib, encoding="utf-8")
    (root / "a.md").write_text(chapter, encoding="utf-8")
    return json.loads(run_cli("check", "--book", str(root), "--format", "json").stdout)


@pytest.fixture(scope="module")
def broken_json(tmp_path_factory):
    root = copy_book("broken", tmp_path_factory)
    result = run_cli("check", "--book", str(root), "--format", "json")
    assert result.returncode == 1, result.stderr
    return json.loads(result.stdout)


def test_diagnostics_match_the_golden_file(broken_json):
    found = [[d["path"], d["line"], d["column"], d["severity"], d["code"]] for d in broken_json]
    if os.environ.get("UPDATE_GOLDENS"):
        GOLDEN.write_text("[\n" + ",\n".join(json.dumps(row) for row in found) + "\n]\n", encoding="utf-8")
    assert found == json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_every_kind_of_fault_is_caught(broken_json):
    codes = {d["code"] for d in broken_json}
    assert codes >= {
        "bib-syntax", "bib-missing-field", "bib-bad-year", "bib-duplicate-key", "bib-duplicate-work", "bib-unused",
        "config-unknown-key", "unknown-contributor", "missing-chapter", "chapter-not-listed",
        "citation-unknown", "xref-unknown", "xref-kind", "xref-unnumbered", "label-duplicate", "label-kind",
        "label-unreferenced", "image-missing", "image-format", "link-missing", "link-anchor", "url-malformed",
        "front-matter", "encoding", "chapter-no-title", "citation-suffix-empty",
    }


def test_diagnostics_say_what_and_how(broken_json):
    by_code = {}
    for d in broken_json:
        by_code.setdefault(d["code"], []).append(d)
    typo = by_code["citation-unknown"][0]
    assert typo["message"] == "no bibliography entry for citation key '@walt1986'"
    assert typo["hint"] == "did you mean @walt1987?"
    assert (typo["path"], typo["line"], typo["column"]) == ("chapters/01-first.md", 8, 17)
    # citations are found in footnotes, captions and table cells too
    assert {d["line"] for d in by_code["citation-unknown"]} == {8, 13, 19, 26}
    # a duplicate is reported at both places
    assert len(by_code["bib-duplicate-key"]) == 2 and len(by_code["label-duplicate"]) == 2
    assert {d["path"] for d in by_code["label-duplicate"]} == {"chapters/01-first.md", "chapters/02-second.md"}
    encoding = by_code["encoding"][0]
    assert "byte 35" in encoding["message"] and (encoding["line"], encoding["column"]) == (3, 4)
    # a lone ',' or an invisible character after a key prints as '(Walt 1987,)'; a locator, a space and code do not
    comma, invisible = by_code["citation-suffix-empty"]
    assert comma["message"] == ("'@walt1987' is followed by ',' and nothing else, which the printed citation shows "
                                "after a comma, as in '(Walt 1987,)'") and comma["hint"] == "delete it, or give the locator: [@walt1987, 45]"
    assert "an invisible ZERO WIDTH SPACE (U+200B)" in invisible["message"]


def test_a_citation_with_nothing_after_its_key_is_reported_only_where_pandoc_reads_one(tmp_path):
    """A no-break or ideographic space is reported too (it is not a space pandoc drops), and a comma whose
    ']' is on the next line; '(as in @key);',
    a citation in a link's text, an indented code block and <pre> are not (pandoc reads no suffix there)."""
    found = _checked(
        tmp_path, "# A\n\nRealists [@walt1987] hold it (as in @walt1987); others do not.\n\n"
        "See [the book (@walt1987)](https://example.org/walt).\n\n    [@walt1987,] in code\n\n"
        "<pre>\n[@walt1987,]\n</pre>\n\nA [@walt1987\u00a0] and [@walt1987\u3000] and [@walt1987, 12].\n\n"
        "Broken [@walt1987,\n] over a line, and [@walt1987,\np. 12] with its locator there.\n",
        bib="@book{walt1987, author={Walt, Stephen M.}, title={The Origins of Alliances}, year={1987}, "
            "publisher={Cornell University Press}}\n")
    empty = [(d["line"], d["column"]) for d in found if d["code"] == "citation-suffix-empty"]
    assert empty == [(13, 4), (13, 21), (15, 9)], found


def test_a_space_or_invisible_character_before_a_locators_comma_is_reported(tmp_path):
    """'[@key , 12]' and '[@key<U+200B>, 12]' print '(Walt 1987 , 12)' and leave the locator unread: a warning
    at the key, in a group too; not for a citation outside brackets, in code, or a cross-reference."""
    found = _checked(
        tmp_path, "# A {#sec-a}\n\nA [@walt1987\u200b, 12] and [see @walt1987 , 7; @walt1987\t, 9].\n\n"
        "As @walt1987 , says, and `[@walt1987 , 2]`, and [@walt1987, 3] and [@sec-a , 2].\n\n    [@walt1987 , 4]\n\n"
        "In a span [@walt1987 , 5]{.smallcaps} and a link [@walt1987 , 6](https://example.org).\n\n"
        "Escaped \\@nokey, and a backslash \\\\@nokey1999 before a citation.\n",
        bib="@book{walt1987, author={Walt, Stephen M.}, title={The Origins of Alliances}, year={1987}, "
            "publisher={Cornell University Press}}\n")
    spaced = [(d["line"], d["column"], d["message"].split(" before")[0]) for d in found
              if d["code"] == "citation-locator-spaced"]
    assert spaced == [(3, 4, "'@walt1987' is followed by an invisible ZERO WIDTH SPACE (U+200B)"),
                      (3, 29, "'@walt1987' is followed by a space"), (3, 44, "'@walt1987' is followed by a space")], found
    # '\\@key' is a citation, and is reported where it is; '\@key' is none
    assert [(d["line"], d["column"]) for d in found if d["code"] == "citation-unknown"] == [(11, 36)], found


def test_an_id_given_twice_in_a_chapter_is_an_error(tmp_path):
    """Two spans, code blocks or theorem divs of one id would make one page hold two elements of that id
    (EPUBCheck's RSC-005): an error at the second, once; a heading's label given twice is reported as it
    was; content for some editions only may give each edition an element of the id."""
    found = _checked(tmp_path, "# A {#sec-a}\n\n[x]{#foo} and [y]{#foo}.\n\n```{#lst-x .r}\nx\n```\n\n"
                     "## Sub {#lst-x}\n\n::: {#thm-a}\nA\n:::\n\n::: {#thm-a}\nB\n:::\n\n## S {#sec-s}\n\n"
                     "## T {#sec-s}\n\n[once]{#bar}\n")
    twice = [(d["line"], d["column"], d["message"].split(" (")[0]) for d in found if d["code"] == "label-duplicate"]
    assert twice == [(3, 19, "the id 'foo' is given again here"), (9, 9, "the id 'lst-x' is given again here"),
                     (15, 6, "the id 'thm-a' is given again here"),
                     (19, 7, "label 'sec-s' is defined again at a.md:21:7"), (21, 7, "label 'sec-s' is defined twice")], found
    both = _checked(tmp_path, "# A {#sec-a}\n\n::: {.content-visible when-format=\"html\"}\n[x]{#foo}\n:::\n\n"
                    "::: {.content-visible when-format=\"pdf\"}\n[y]{#foo}\n:::\n")
    assert [d for d in both if d["code"] == "label-duplicate"] == []
    # ids no edition prints (an index mark's, a link's to a file that is no page) are no duplicates; an
    # editor's deletion and insertion of one id are (a proof prints both), told so; a third is a second report
    kept = _checked(tmp_path, "# A {#sec-a}\n\n[Term]{#t .index} and [Term]{#t .index}. [h](h.pdf){#h} [h](h.pdf){#h}.\n\n"
                    "{--See [the map]{#m}.--} {++See [the map]{#m}.++}\n\n[a]{#z} [b]{#z} [c]{#z}\n")
    assert [(d["line"], d["column"], d["hint"][:20]) for d in kept if d["code"] == "label-duplicate"] == [
        (5, 43, "an editor's change h"), (7, 13, "ids must be unique: "), (7, 21, "ids must be unique: ")], kept


def test_an_id_an_edition_gives_an_element_of_its_own_on_the_page_is_an_error(tmp_path):
    """An author's id that pandoc gives a note, its call, the notes' list or a highlighted code block's line,
    build_book a code block without an id (not pandoc's cb1, which no edition prints), or its templates an
    element of the page (the web page's body, the print edition's contents, a
    bibliography entry), would stand twice on one page: an error at the author's id, and only where that
    element is printed (no note, no such line, no highlighting, no such code block: no error)."""
    found = _checked(
        tmp_path, "# A {#sec-a}\n\nText.[^n] See @walt1987. [a]{#fn1} [b]{#fnref1} [c]{#fn2} [d]{#content}\n\n"
        "::: {#footnotes}\nx\n:::\n\n```{#x .python}\none\ntwo\n```\n\n[e]{#x-2} [f]{#x-3} [g]{#ref-walt1987}\n\n"
        "```{.nosuchlanguage}\nz\n```\n\n```py\nq\n```\n\n[h]{#sec-a-code-1-1} [i]{#sec-a-code-2} [j]{#sec-a-code-2-1} "
        "[k]{#sec-a-code-3} [cb]{#cb1} [cb]{#cb2-1}\n\n"
        "[l]{#contents} [m]{#list-of-figures} [n]{#ref-nokey} [o]{#bibliography}\n\n[^n]: A note.\n",
        bib="@book{walt1987, author={Walt, Stephen M.}, title={The Origins of Alliances}, year={1987}, "
            "publisher={Cornell University Press}}\n")
    taken = [(d["line"], d["column"], d["message"].split(": the page")[0].split(" is also the id of ")[1])
             for d in found if d["code"] == "label-duplicate"]
    assert taken == [
        (3, 30, "the chapter's note 1 as pandoc writes it in the web edition and the EPUB"),
        (3, 40, "the call of the chapter's note 1 as pandoc writes it in the web edition and the EPUB"),
        (3, 63, "the web edition's page body"),
        (5, 6, "the list of the chapter's notes that pandoc writes in the web edition and the EPUB"),
        (14, 5, "line 2 of the code block 'x' as pandoc highlights it"),
        (14, 25, "the entry of 'walt1987' in the print edition's bibliography"),
        (24, 26, "a code block without an id of its own, which build_book names so"),
        (24, 45, "line 1 of the code block 'sec-a-code-2' as pandoc highlights it"),
        (26, 5, "the print edition's contents"),
        (26, 58, "the print edition's bibliography")], found
    # without notes, 'fn1' and 'footnotes' are no one's; in a note style, a citation is a note
    plain = _checked(tmp_path, "# A {#sec-a}\n\n[a]{#fn1} [b]{#footnotes} [c]{#x-1}\n\n```{#x}\ncode\n```\n")
    assert [d for d in plain if d["code"] == "label-duplicate"] == [], plain
    (tmp_path / "notes.csl").write_text('<?xml version="1.0" encoding="utf-8"?>\n<style xmlns="http://purl.org/net/'
                                        'xbiblio/csl" class="note" version="1.0"></style>\n', encoding="utf-8")
    noted = _checked(tmp_path, "# A {#sec-a}\n\nSee @walt1987. [a]{#fn1} [b]{#fn2}\n",
                     bib="@book{walt1987, title={T}, year={1987}}\n", config="csl: notes.csl\n")
    assert [(d["line"], d["column"]) for d in noted if d["code"] == "label-duplicate"] == [(3, 20)], noted


def test_ids_an_edition_makes_are_known_as_it_makes_them(tmp_path):
    """What the review of the id check found, each case built and counted in the editions: a note or citation
    in an image's alt text makes none; a code block's lines are numbered from its startFrom; build_book's own
    ids (a code block without an id, an index mark, a chapter's own reference list) collide, and another
    chapter's in the print edition, which holds every chapter; an id written id="..." or in raw HTML is
    reported where it is; content for some editions only, a bibliography nothing cites and a style that
    cannot be found raise nothing here (the style its own error, not a crash)."""
    (tmp_path / "refs.bib").write_text("@book{walt1987, title={T}, year={1987}}\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("# B {#sec-b}\n\n```{#y .python}\nb\n```\n\n```python\nc\n```\n\n"
                                   "[a]{#x-100} [b]{#sec-a-code-1}\n", encoding="utf-8")
    (tmp_path / "a.md").write_text(
        "# A {#sec-a}\n\nText.[^a] See @walt1987.\n\n![A figure.[^d] [@walt1987]](f.svg){#fig-f}\n\n"
        "[g]{#fnref2} [h]{#fn3} [i]{id=\"fn1\"} <span id=\"footnotes\">j</span>\n\n"
        "```{#x .python startFrom=\"100\"}\none\ntwo\n```\n\n```r\nz\n```\n\n"
        "[k]{#x-1} [l]{#x-101} [m]{#sec-a-code-1} [n]{#y-1} [o]{#sec-b-code-1-1} [p]{#ix-1-1} [q]{#ix-1-2}\n\n"
        "[an alliance]{.index} and [r]{#refs-sec-a} [s]{#ref-sec-a-walt1987} [t]{#bibliography}\n\n"
        "[^a]: A note.\n[^d]: In the alt text too.\n", encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: T\nbibliography: refs.bib\nbibliography-scope: chapter\n"
                                       "chapters: [a.md, b.md]\n", encoding="utf-8")
    found = json.loads(run_cli("check", "--book", str(tmp_path), "--format", "json").stdout)
    taken = [(d["path"], d["line"], d["column"], d["message"].split(" is also the id of ")[1].split(": the page")[0])
             for d in found if d["code"] == "label-duplicate"]
    print_edition = ", in the print edition (one document of every chapter)"
    assert taken == [
        ("a.md", 7, 5, "the call of the chapter's note 2 as pandoc writes it in the web edition and the EPUB"),
        ("a.md", 7, 28, "the chapter's note 1 as pandoc writes it in the web edition and the EPUB"),
        ("a.md", 7, 44, "the list of the chapter's notes that pandoc writes in the web edition and the EPUB"),
        ("a.md", 18, 15, "line 101 of the code block 'x' as pandoc highlights it"),
        ("a.md", 18, 27, "a code block without an id of its own, which build_book names so"),
        ("a.md", 18, 46, "line 1 of the code block 'y' as pandoc highlights it" + print_edition),
        ("a.md", 18, 56, "line 1 of the code block 'sec-b-code-1' as pandoc highlights it" + print_edition),
        ("a.md", 18, 77, "an index term's mark, which build_book names so"),
        ("a.md", 20, 31, "an element of the chapter's own reference list"),
        ("a.md", 20, 48, "an element of the chapter's own reference list"),
        ("b.md", 11, 5, "line 100 of the code block 'x' as pandoc highlights it" + print_edition),
        ("b.md", 11, 17, "a code block without an id of its own, which build_book names so" + print_edition)], found
    (tmp_path / "book.yml").write_text("title: T\nbibliography: refs.bib\ncsl: no-such-style\nchapters: [a.md]\n",
                                       encoding="utf-8")
    (tmp_path / "a.md").write_text("# A {#sec-a}\n\nSee @walt1987.[^n] [x]{#fn2} [y]{#bibliography}\n\n"
                                   "::: {.content-visible when-format=\"pdf\"}\nPrint.[^b] [z]{#content}\n:::\n\n"
                                   "[^n]: A note.\n[^b]: Another.\n", encoding="utf-8")
    result = run_cli("check", "--book", str(tmp_path), "--format", "json")
    assert "internal error" not in result.stderr and result.returncode == 1, result.stderr
    assert {d["code"] for d in json.loads(result.stdout)} == {"csl-unknown", "bib-missing-field"}, result.stdout


def test_an_id_in_a_file_included_twice_is_reported_with_the_includes(tmp_path):
    """An id written once in a file that a chapter includes twice, or two chapters include, stands twice in the
    book: reported once, at the id, naming where the file is included (not "first at" its own place)."""
    (tmp_path / "_part.md").write_text("## Shared {#sec-shared}\n\nA paragraph with [a span]{#shared}.\n",
                                       encoding="utf-8")
    (tmp_path / "b.md").write_text("# B {#sec-b}\n\n{{< include _part.md >}}\n", encoding="utf-8")
    found = _checked(tmp_path, "# A {#sec-a}\n\n{{< include _part.md >}}\n\nMiddle.\n\n{{< include _part.md >}}\n")
    def twice(found):
        return [(d["path"], d["line"], d["column"], re.split(r": (?:the page|a reference)", d["message"])[0])
                for d in found if d["code"] == "label-duplicate"]

    assert twice(found) == [
        ("_part.md", 1, 12, "the label 'sec-shared' is given twice on the page of a.md, which includes this file "
                            "more than once (a.md:3 and a.md:7)"),
        ("_part.md", 3, 27, "the id 'shared' is given twice on the page of a.md, which includes this file more "
                            "than once (a.md:3 and a.md:7)")], found
    (tmp_path / "a.md").write_text("# A {#sec-a}\n\nFirst.\n\n{{< include _part.md >}}\n", encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: T\nchapters: [a.md, b.md]\n", encoding="utf-8")
    found = json.loads(run_cli("check", "--book", str(tmp_path), "--format", "json").stdout)
    assert twice(found) == [
        ("_part.md", 1, 12, "the label 'sec-shared' is given in two chapters, a.md and b.md, which both include "
                            "this file (a.md:5 and b.md:3)")], found
    # the span's id, twice in the print edition's one document of every chapter, where a link to it leads to either
    (tmp_path / "b.md").write_text("# B {#sec-b}\n\n{{< include _part.md >}}\n\nSee [the span](#shared).\n",
                                   encoding="utf-8")
    found = json.loads(run_cli("check", "--book", str(tmp_path), "--format", "json").stdout)
    assert twice(found)[1:] == [
        ("_part.md", 3, 27, "the id 'shared' is given in two chapters, a.md and b.md, which both include this file "
                            "(a.md:5 and b.md:3)")], found


def test_every_id_of_a_template_a_chapter_shares_a_page_with_is_known_to_the_check():
    """PAGE_IDS (checks.py) lists the ids the web edition's chapter page and the print edition's one document
    give elements of their own: a template's new id must be added there, or an author's id could meet it."""
    from build_book.checks import PAGE_IDS
    shared = [TEMPLATES / "html" / name for name in ("base.html.j2", "chapter.html.j2", "sidebar.html.j2",
                                                     "macros.html.j2")] + sorted((TEMPLATES / "pdf").glob("*.j2"))
    literal = {m for path in shared for m in re.findall(r'\bid="([^"{}]+)"', path.read_text(encoding="utf-8"))}
    assert literal and literal <= set(PAGE_IDS), literal - set(PAGE_IDS)


def test_a_capital_marker_before_one_space_in_a_list_of_them_is_reported(tmp_path):
    """'I. One' then 'II. Two' print as a paragraph, 'V. Five' under 'IV. Four' as part of that item, and each
    as a paragraph in a loose list (pandoc reads a capital and a full stop before one space as an initial): a
    warning at the marker, once, in a block quote too; not for names ('A. Smith' then 'B. Jones'), two spaces,
    tables or code."""
    found = _checked(tmp_path, "# A {#sec-a}\n\nPara.\n\nI. One\nII. Two\nIII. Three\n\nText.\n\n"
                     "II. Two\nIII. Three\nIV. Four\nV. Five\nVI. Six\n\nA. Smith and\nB. Jones wrote.\n\n"
                     "I.  One\nII. Two\nIII. Three\nIV. Four\nV.  Five\n\n```\nI. One\nII. Two\n```\n\n"
                     "    I. code\n    II. code\n\n"
                     # a simple table; initials in a list item, and under one; <pre>: none of them
                     "Part      Title\n--------  ------\nI. One    Origins\nII. Two   Cases\n\n"
                     "- Edited by\n  A. Smith and\n  B. Jones.\n\nA.  An item citing\n   B. Russell.\n\n"
                     "<pre>\nI. One\nII. Two\n</pre>\n\n"
                     # lines an editor wrapped between the markers; in a div opened with braces
                     "III. Three\nIV. Four, long\nwrapped.\nV. Five\n\nI. One, long\nwrapped.\nII. Two\n\n"
                     "::: {.callout-note}\nI. One\nII. Two\n:::\n\n::: {.callout-note}\nThe parts:\n- one\n- two\n:::\n"
                     # loose lists (a blank line between items); names in paragraphs; a heading between
                     "\nI. One\n\nII. Two\n\nLoose.\n\nIII.  Three\n\nIV. Four\n\nV. Five\n\nVI. Six\n\n"
                     "A. Smith wrote this.\n\nB. Jones wrote that.\n\nIX.  Nine\n\n## Heading\n\nX. Ten\n\n"
                     # a tab after a marker is as good as two spaces
                     "A.\tOne\nB. Two\n\nI. One\nII.\tTwo\n\n"
                     # in block quotes (a treaty quoted), a quote in a quote; not names, nor quoted code
                     "> I. The Parties undertake.\n> II. In order more effectively.\n\n> > IV.  Four\n> > V. Five\n\n"
                     ">I. Tight\n>II. Two\n\n> A. Smith and\n> B. Jones wrote.\n\n```\n> I. code\n> II. code\n```\n\n"
                     # quote lines right under a paragraph's line are its text (pandoc wants a blank line first)
                     "Some text right before\n> I. The Parties\n> II. In order\n")
    said = [(d["line"], d["column"], d["code"], d["message"].split(":")[0]) for d in found if "list" in d["code"]]
    one, joins = "these lines print as one paragraph, not as a list", \
        "this line prints as part of the list item above, not as an item of its own"
    apart = "this line prints as a paragraph, not as an item of the list it stands in"
    assert said == [(5, 1, "list-marker-one-space", one), (14, 1, "list-marker-one-space", joins),
                    (54, 1, "list-marker-one-space", joins), (56, 1, "list-marker-one-space", one),
                    (61, 1, "list-marker-one-space", one),
                    (67, 1, "list-needs-blank-line", "these lines print as part of the paragraph above, not as a list"),
                    (71, 1, "list-marker-one-space", apart), (81, 1, "list-marker-one-space", apart),
                    (96, 1, "list-marker-one-space", joins), (98, 1, "list-marker-one-space", one),
                    (101, 3, "list-marker-one-space", one), (105, 5, "list-marker-one-space", joins),
                    (107, 2, "list-marker-one-space", one)], found


def test_text_format_and_summary(tmp_path_factory):
    root = copy_book("broken", tmp_path_factory)
    result = run_cli("check", "--book", str(root))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert ("bibliography/refs.bib:8:1: error[bib-syntax]: this BibTeX entry does not parse: "
            "@book{broken,") in lines
    assert "    hint: did you mean @walt1987?" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert "chapters/01-first.md: 14 errors, 3 warnings" in result.stderr


def test_a_failed_build_writes_nothing_and_keeps_old_outputs(tmp_path_factory):
    root = copy_book("broken", tmp_path_factory)
    old = root / "build" / "a-book-with-every-fault.pdf"
    old.parent.mkdir()
    old.write_bytes(b"%PDF previous good output")
    result = run_cli("pdf", "--book", str(root))
    assert result.returncode == 1
    assert "nothing was written" in result.stderr
    assert old.read_bytes() == b"%PDF previous good output"
    assert sorted(p.name for p in (root / "build").iterdir() if p.name != ".cache") == [old.name]


def test_clean_book_reports_nothing(mini):
    result = run_cli("check", "--book", str(mini.root), "--strict", "--format", "json")
    assert result.returncode == 0 and json.loads(result.stdout) == []


def test_the_volume_itself_checks_clean_under_strict():
    result = run_cli("check", "--strict", cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 0, result.stdout + result.stderr


# Fixture books of one class of fault each, with golden diagnostics beside them.
FAULT_BOOKS = sorted(p.parent.name for p in BOOKS.glob("*/expected-diagnostics.json") if p.parent.name != "broken")


@pytest.mark.parametrize("name", FAULT_BOOKS)
def test_fault_books_report_their_golden_diagnostics(name, tmp_path_factory):
    root = copy_book(name, tmp_path_factory)
    result = run_cli("check", "--book", str(root), "--format", "json")
    assert "Traceback" not in result.stderr and result.returncode == 1, result.stderr
    found = [[d["path"], d["line"], d["column"], d["severity"], d["code"]] for d in json.loads(result.stdout)]
    golden = BOOKS / name / "expected-diagnostics.json"
    if os.environ.get("UPDATE_GOLDENS"):
        golden.write_text("[\n" + ",\n".join(json.dumps(row) for row in found) + "\n]\n", encoding="utf-8")
    assert found == json.loads(golden.read_text(encoding="utf-8"))


def test_wrong_types_name_the_type_expected(tmp_path_factory):
    root = copy_book("bad-yaml", tmp_path_factory)
    out = run_cli("check", "--book", str(root)).stdout
    assert "book.yml:2:1: error[config-type]: 'title' must be text, not a list" in out
    assert "'date': '2012-02-30' is not a date on the calendar" in out
    assert "'page-references' must be true or false, not the text 'true'" in out
    assert "'chapter-not-listd' is no diagnostic code\n    hint: did you mean 'chapter-not-listed'?" in out
    assert "chapters/02-two.md:2:7: error[front-matter]: an alias refers to the value that contains it" in out
    assert "chapters/03-three.md:2:11: error[front-matter]: YAML value error: timestamp value '2012-02-30'" in out
    # a part whose title is wrong still brings its chapters: nothing is reported as left out of the book
    assert "warning[chapter-not-listed]" not in out


def test_a_wrong_capital_in_book_yml_is_one_error(tmp_path_factory):
    root = copy_book("bad-content", tmp_path_factory)
    out = run_cli("check", "--book", str(root)).stdout
    assert "error[missing-chapter]: chapter file 'chapters/02-Second.md' does not exist\n" \
           "    hint: did you mean 'chapters/02-second.md'?" in out
    # the references into it, the work only it cites and the file itself are not reported again
    for consequence in ("@Sec-second", "@fig-second", "snyder1997", "chapter-not-listed"):
        assert consequence not in out
    assert "[^ju-art9] is never written" in out and "did you mean [^ju-art99]?" in out
    assert "U+0007" in out and "U+FFFE" in out and "no equation in the book" in out


def test_adjusted_diagnostics(tmp_path_factory):
    root = copy_book("mini", tmp_path_factory)
    yml = root / "book.yml"
    yml.write_text(yml.read_text(encoding="utf-8") + "diagnostics:\n  bib-unused: error\n", encoding="utf-8")
    bib = root / "bibliography" / "refs.bib"
    bib.write_text(bib.read_text(encoding="utf-8") + "\n@book{never, author={A, B}, title={T}, publisher={P},"
                   " year={2000}}\n", encoding="utf-8")
    assert "error[bib-unused]" in run_cli("check", "--book", str(root)).stdout
    yml.write_text(yml.read_text(encoding="utf-8").replace("bib-unused: error", "bib-unused: off"),
                   encoding="utf-8")
    result = run_cli("check", "--book", str(root), "--strict")
    assert result.returncode == 0 and "bib-unused" not in result.stdout


def test_lines_pandoc_takes_for_metadata_in_a_chapter_are_reported(tmp_path):
    """'---', a line of the form 'key: value', '---' in the middle of a chapter: pandoc reads a YAML
    mapping there as metadata and no edition prints it. A rule before other text, or the same lines in a
    code block, are printed, and not reported."""
    found = [(d["code"], d["line"], d["column"]) for d in _checked(
        tmp_path, "---\ntitle: A\n---\n\n# A\n\nThe table ends here.\n\n---\nSource: Ministry of Defense annual report.\n"
        "---\n\nA rule, then a sentence:\n\n---\nJust a sentence here.\n---\n\n```\n---\nkey: value\n---\n```\n")]
    assert found == [("metadata-block-unprinted", 9, 1)], found
    text = run_cli("check", "--book", str(tmp_path)).stdout
    assert "as metadata (Source): no edition prints them" in text


def test_a_refused_chapter_is_one_error_not_one_in_every_chapter_that_refers_to_it(tmp_path):
    """A chapter that cannot be read (a byte that is not UTF-8, quotations nested 5,000 deep) is its own
    error; the references to its labels elsewhere, and the works only it cites, are not reported again."""
    (tmp_path / "refs.bib").write_text("@book{walt1987, author = {Walt, Stephen M.}, title = {The Origins of "
                                       "Alliances}, year = 1987, publisher = {Cornell}}\n", encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: T\nbibliography: refs.bib\nchapters: [a.md, b.md]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("# First {#sec-first}\n\nAs @sec-second shows.\n", encoding="utf-8")
    for name, body in (("utf-8", b"bad \xff byte"), ("nesting", b"> " * 5000 + b"deep")):
        (tmp_path / "b.md").write_bytes(b"# Second {#sec-second}\n\n" + body + b" [@walt1987].\n")
        found = json.loads(run_cli("check", "--book", str(tmp_path), "--format", "json").stdout)
        assert [(d["path"], d["code"]) for d in found] in ([("b.md", "encoding")], [("b.md", "nesting-too-deep")]), \
            (name, found)


def test_an_image_written_as_a_data_address_is_checked_as_a_file_is(tmp_path):
    """A 400-megapixel PNG, or a damaged one, written into the chapter (data:image/png;base64,...) was
    published in the HTML and the EPUB and left out of the PDF without a word."""
    import base64
    import struct
    import zlib

    def png(width: int, height: int) -> bytes:
        def chunk(kind: bytes, body: bytes) -> bytes:
            return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        rows = zlib.compress(b"\0\0" * 1)      # (the header is read first: the pixels are never decoded)
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)) + \
            chunk(b"IDAT", rows) + chunk(b"IEND", b"")

    bomb = base64.b64encode(png(20000, 20000)).decode()
    found = _checked(
        tmp_path, f"# A\n\n![Bomb](data:image/png;base64,{bomb}){{#fig-bomb}}\n\n"
        "![Broken](data:image/png;base64,iVBORw0KGgo=){#fig-broken}\n\n"
        "![Fine](data:image/svg+xml;base64,"
        + base64.b64encode(b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>').decode() + "){#fig-fine}\n")
    found = [d for d in found if d["code"].startswith("image")]
    assert [(d["code"], d["line"]) for d in found] == [("image-too-large", 3), ("image-corrupt", 5)], found
    assert "20,000 x 20,000 pixels" in found[0]["message"] and "data:image/png;base64," in found[0]["message"]


def test_a_footnote_written_twice_is_reported_where_it_is_written_again(tmp_path):
    found = _checked(tmp_path, "# A\n\nText[^d].\n\n[^d]: The first note.\n\n[^d]: The second note.\n")
    assert [(d["code"], d["line"], d["column"]) for d in found] == [("footnote-written-twice", 7, 1)], found
    assert "the text at line 5 is lost" in found[0]["message"]


def test_a_div_never_closed_or_a_closing_fence_with_no_div_is_reported(tmp_path):
    found = _checked(
        tmp_path, "# A\n\n::: {.callout-note}\nA note.\n:::\n\nText.\n\n:::\n\n```\n::: {.in-code}\n```\n\n"
        "::: {.callout-warning}\nNever closed.\n\n## A heading swallowed\n")
    assert [(d["code"], d["line"], d["column"]) for d in found] == [("div-stray", 9, 1), ("div-unclosed", 15, 1)], found


def test_a_footnote_called_inside_another_is_reported(tmp_path):
    found = _checked(
        tmp_path, "# A\n\nText[^a] and ^[an inline note with inner[^b] words] end.\n\nMore[^c].\n\n"
        "[^a]: A note that calls [^c] inside it.\n\n    A second paragraph of the note.\n\n"
        "[^b]: B.\n\n[^c]: C, called from the text, where it belongs.\n\nThe text again[^d].\n\n[^d]: D.\n")
    assert [(d["code"], d["line"], d["column"]) for d in found] == [
        ("footnote-in-footnote", 3, 41), ("footnote-in-footnote", 7, 25)], found


def test_html_tags_opened_and_never_closed_by_the_thousand_are_refused_at_their_place(tmp_path):
    """'<a ' 10,000 times in a paragraph: pandoc's time grows with the square of their number (3,000 take
    5 s), and the check ran past its limit (twice). Refused at once, at the tag past the limit."""
    import time

    started = time.monotonic()
    found = _checked(tmp_path, "# A\n\nFine <span>HTML</span> and a < b.\n\n" + "<a " * 10000 + "\n")
    assert time.monotonic() - started < 30
    assert [(d["code"], d["line"], d["column"]) for d in found] == [("input-limit", 5, 1501)], found
    assert found[0]["hint"] == "write a < that opens no HTML tag as \\<"


def test_blocks_nested_too_deep_are_reported_where_they_pass_the_limit_not_where_they_end(tmp_path):
    lines = ["- item" if n == 0 else "  " * n + "- item" for n in range(300)]     # a list 300 deep, a level a line
    found = _checked(tmp_path, "# A\n\n" + "\n".join(lines) + "\n")
    deep = [d for d in found if d["code"] == "nesting-too-deep"]
    assert deep and deep[0]["line"] < 150, deep      # (at the end: line 302)


def test_a_link_target_with_backslash_escapes_is_found_where_it_is_written(tmp_path):
    """pandoc reads '\\\\server\\share' in a link's target as '\\server\\share' (and '\\_' as '_'): the source
    map reads it so too, so the missing file is reported at the link, not at 1:1."""
    found = _checked(tmp_path, "# A\n\nA [unc](\\\\\\\\server\\\\share\\\\x.md) and ![img](fig\\_1.png).\n")
    assert [(d["code"], d["line"], d["column"]) for d in found] == [("link-missing", 3, 9), ("image-missing", 3, 45)]
    assert "'\\\\server\\share\\x.md'" in found[0]["message"] and "'fig_1.png'" in found[1]["message"]


def test_a_title_that_repeats_its_label_is_told_the_label_the_book_prints(tmp_path):
    """In a Japanese book the label printed above a chapter's title is 第N章, not 'Chapter N'."""
    found = _checked(tmp_path, "# 第一章　同盟の起源 {#sec-a}\n\nText.\n", config="lang: ja\n")
    repeats = [d for d in found if d["code"] == "title-repeats-label"]
    assert len(repeats) == 1 and "build_book prints above it already ('第N章')" in repeats[0]["message"], found
    assert "'# 同盟の起源'" in repeats[0]["hint"], repeats


def test_a_part_or_an_entry_with_no_chapter_is_named_not_silently_left_out(tmp_path):
    """'- part: Title' with 'chapters: []' (or, in a Quarto book, no chapters at all) prints nothing: a warning at
    the part, with its title (before, the title was lost and nothing was said)."""
    (tmp_path / "a.md").write_text("# A\n\nText.\n", encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: T\nchapters:\n  - a.md\n  - part: Later\n    chapters: []\n",
                                       encoding="utf-8")
    out = run_cli("check", "--book", str(tmp_path)).stdout
    assert "book.yml:4:5: warning[part-empty]: the part 'Later' has no chapters, so no edition prints it" in out, out
    # nor numbers it: the parts after it are numbered as printed
    (tmp_path / "book.yml").write_text("title: T\nchapters:\n  - part: Empty\n    chapters: []\n  - part: Full\n"
                                       "    chapters: [a.md]\n", encoding="utf-8")
    assert run_cli("html", "--book", str(tmp_path)).returncode == 0
    assert "Part I: Full" in (tmp_path / "build" / "html" / "index.html").read_text(encoding="utf-8")
    # after an entry found wrong, each entry is still reported where it is written (they were one entry early)
    (tmp_path / "book.yml").write_text("title: T\nchapters:\n  - {title: no part}\n  - part: P\n    chapters: [[x], a.md]"
                                       "\n  - part: Q\n    chapters: []\nappendices: [[y], a.md]\n", encoding="utf-8")
    out = run_cli("check", "--book", str(tmp_path)).stdout
    assert re.findall(r"^book.yml:(\d+):(\d+): \w+\[([\w-]+)\]", out, re.M) == [
        ("3", "5", "config-value"), ("5", "16", "config-type"), ("6", "5", "part-empty"), ("8", "14", "config-type"),
        ("8", "19", "duplicate-chapter")], out
    assert "'a.md' is listed twice\n    hint: it is already listed at line 5" in out
    (tmp_path / "book.yml").unlink()
    (tmp_path / "_quarto.yml").write_text("project:\n  type: book\nbook:\n  title: T\n  chapters:\n    - a.md\n"
                                          "    - part: \"Soon\"\n", encoding="utf-8")
    out = run_cli("check", "--book", str(tmp_path)).stdout
    assert "_quarto.yml:7:7: warning[part-empty]: the part 'Soon' has no chapters" in out, out
    # an empty '-' (a chapter's name deleted) was dropped without a word; the chapters around it are read
    (tmp_path / "b.md").write_text("# B\n\nMore.\n", encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: T\nchapters:\n  - a.md\n  -\n  - part: P\n    chapters:\n      -\n"
                                       "      - b.md\n", encoding="utf-8")
    out = run_cli("check", "--book", str(tmp_path)).stdout
    assert re.findall(r"^book.yml:(\d+):(\d+): \w+\[([\w-]+)\]", out, re.M) == [
        ("4", "4", "chapter-entry-empty"), ("7", "8", "chapter-entry-empty")], out
    assert run_cli("html", "--book", str(tmp_path)).returncode == 0
    assert (tmp_path / "build" / "html" / "b.html").exists()


def test_a_label_with_no_name_is_named_and_its_id_left_out(tmp_path):
    """'{#thm-}' (a real Quarto book numbers its theorems so, three times in a chapter) was 'label-duplicate', an
    error; '{#fig:}' a figure label no one can refer to. Each is now a warning at its place, and the page has no
    such id (two of them would be one id twice: an invalid EPUB); a heading of one gets an id of its own."""
    found = _checked(tmp_path, "# A\n\n::: {#thm-}\nOne.\n:::\n\n::: {#thm-}\nTwo.\n:::\n\n## Sec {#sec-}\n\n"
                               "| a |\n|---|\n| 1 |\n\n: Cap {#tbl:}\n\n$$ x = 1 $$ {#eq-}\n")
    assert [(d["line"], d["column"], d["code"], d["severity"]) for d in found] == [
        (3, 6, "label-empty", "warning"), (7, 6, "label-empty", "warning"), (11, 9, "label-empty", "warning"),
        (17, 8, "label-empty", "warning"), (19, 14, "label-empty", "warning")], found   # (no math-error)
    assert found[0]["message"] == ("'{#thm-}' is a label with no name, so nothing can refer to it: build_book "
                                   "leaves the id out (build_book does not number theorems)")
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "build" / "html" / "a.html").read_text(encoding="utf-8")
    assert re.findall(r' id="(?:thm|sec|tbl)[-:]"', page) == [] and '<h2 id="sec-a-sec">' in page
    # shown in a code block indented by four spaces (as a chapter about Quarto does), it labels nothing
    found = _checked(tmp_path, "# A {#sec-}\n\nWrite it so:\n\n    ![Map](map.png){#fig-}\n\n    $$ x $$ {#eq-}\n\n"
                               "::: {#thm-}\nOne.\n:::\n")
    assert [(d["line"], d["column"], d["code"]) for d in found] == [(1, 6, "label-empty"), (9, 6, "label-empty")], found


def test_an_image_named_with_a_web_query_is_named_with_the_file_it_means(tmp_path):
    """'a.png?v=2' (a converted web page's) is no file: image-missing says which file it means, without also
    calling it a wrong format; a file whose name holds '#' (written %23) is found."""
    from PIL import Image

    for name in ("x.png", "f#1.png"):
        Image.new("RGB", (8, 8), "red").save(tmp_path / name)
    found = _checked(tmp_path, "# A\n\n![Cap](x.png?v=2)\n\n<img src=\"x.png#top\" alt=\"y\">\n\n![Cap](f%231.png)\n")
    assert [(d["line"], d["code"], d["message"], d["hint"][:31]) for d in found if d["code"] != "raw-html"] == [
        (3, "image-missing", "image 'x.png?v=2' does not exist: a file's name has no '?v=2'",
         "write the file's name alone: 'x"),
        (5, "image-missing", "image 'x.png#top' does not exist: a file's name has no '#top'",
         "write the file's name alone: 'x")], found


def test_ids_that_collide_across_chapters_or_with_a_chapters_list_are_reported(tmp_path):
    """An author's id that is another chapter's label, or another chapter's element's id, is two elements of
    one id in the print edition's one document (its contents linked to the wrong chapter), where a link to it
    could lead to either (an id in two chapters that nothing links to is harmless: each is a page of its own on
    the web and in the EPUB); one that is the id of the heading of the chapter's own list (bibliography-scope:
    both) is two on its page too. A heading's id
    build_book gives from its words is reported at the heading, not at the chapter's start."""
    (tmp_path / "refs.bib").write_text("@book{w, author={W, A}, title={T}, publisher={P}, year={2001}}\n",
                                       encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: T\nbibliography: refs.bib\nbibliography-scope: both\n"
                                       "chapters: [c1.md, c2.md]\n", encoding="utf-8")
    (tmp_path / "c1.md").write_text("# First {#sec-first}\n\nSpan [here]{#sec-second} and [x]{#shared} [@w].\n\n"
                                    "## Introduction\n\nPara.\n\n::: {#sec-first-references}\nDiv.\n:::\n",
                                    encoding="utf-8")
    (tmp_path / "c2.md").write_text("# Second {#sec-second}\n\nText [y]{#shared}.\n\n## X {#sec-first-introduction}\n\n"
                                    "[to it](#shared) [@w] and [a span]{#unlinked}.\n\n## References\n",
                                    encoding="utf-8")
    (tmp_path / "c1.md").write_text((tmp_path / "c1.md").read_text(encoding="utf-8") + "\n[b]{#unlinked}\n",
                                    encoding="utf-8")
    found = json.loads(run_cli("check", "--book", str(tmp_path), "--format", "json").stdout)
    assert [(d["path"], d["line"], d["column"], d["code"]) for d in found] == [
        ("c1.md", 3, 13, "label-duplicate"), ("c1.md", 5, 1, "label-duplicate"), ("c1.md", 9, 6, "label-duplicate"),
        ("c2.md", 3, 10, "label-duplicate"), ("c2.md", 5, 7, "label-duplicate")], found
    messages = [d["message"].split(":")[0] for d in found]
    assert messages[0] == ("the id 'sec-second' is also the id of the chapter 'Second' of c2.md, in the print "
                           "edition (one document of every chapter)")
    assert messages[1] == ("the id 'sec-first-introduction', which build_book gives this heading from its words, is "
                           "defined again at c2.md")
    assert messages[2] == "the id 'sec-first-references' is also the id of an element of the chapter's own reference list"
    assert messages[3] == ("the id 'shared' is also the id of an element of c1.md, in the print edition (one document "
                           "of every chapter)")


def test_a_link_to_a_span_or_div_id_is_no_error_and_leads_to_its_page(tmp_path):
    """'[to it](#box)' with '::: {#box}' in the chapter, or 'b.md#box' from another, is valid pandoc: it was
    error[link-anchor] ('no label in the book'), which stopped the build. It is a link to that id's page now; a
    link to an id only another chapter has, written without its file, is still an error."""
    (tmp_path / "book.yml").write_text("title: T\nchapters: [a.md, b.md]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("# A {#sec-a}\n\n[there](b.md#box), [here](#mine) [x]{#mine}, [lost](#box).\n",
                                   encoding="utf-8")
    (tmp_path / "b.md").write_text("# B {#sec-b}\n\n::: {#box}\nIn a box.\n:::\n\n[the box](#box)\n", encoding="utf-8")
    found = json.loads(run_cli("check", "--book", str(tmp_path), "--format", "json").stdout)
    assert [(d["line"], d["column"], d["code"], d["message"]) for d in found] == [
        (3, 53, "link-anchor", "link to '#box', which is no label in the book, nor an id of this chapter")], found
    (tmp_path / "a.md").write_text("# A {#sec-a}\n\n[there](b.md#box), [here](#mine) [x]{#mine}.\n", encoding="utf-8")
    assert run_cli("html", "--book", str(tmp_path)).returncode == 0
    html = {n: (tmp_path / "build" / "html" / f"{n}.html").read_text(encoding="utf-8") for n in "ab"}
    assert '<a href="b.html#box">there</a>' in html["a"] and '<a href="#mine">here</a>' in html["a"]
    assert '<a href="#box">the box</a>' in html["b"]


def test_a_link_to_a_label_in_pandoc_crossrefs_spelling_leads_to_it(tmp_path):
    """'[the map](#fig:map)' (pandoc-crossref labels so, and build_book reads '{#fig:map}' as 'fig-map') was
    error[link-anchor]; it leads to the figure now, from another chapter too. A wrong one is located."""
    (tmp_path / "book.yml").write_text("title: T\nchapters: [a.md, b.md]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("# A {#sec:a}\n\n| a |\n|---|\n| 1 |\n\n: Cap {#tbl:t}\n\n$$ x $$ {#eq:e}\n\n"
                                   "See [it](#tbl:t), [this](#eq:e), @tbl:t and @eq:e.\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("# B\n\nSee [the table](a.md#tbl:t), [A](a.md#sec:a) and [nothing](a.md#tbl:x).\n",
                                   encoding="utf-8")
    found = json.loads(run_cli("check", "--book", str(tmp_path), "--format", "json").stdout)
    assert [(d["path"], d["line"], d["column"], d["code"]) for d in found] == [("b.md", 3, 60, "link-anchor")], found
    assert found[0]["message"] == "link to '#tbl:x', which is no label in the book, nor an id of a.md"
    (tmp_path / "b.md").write_text("# B\n\nSee [the table](a.md#tbl:t) and [A](a.md#sec:a).\n", encoding="utf-8")
    assert run_cli("html", "--book", str(tmp_path)).returncode == 0
    html = {n: (tmp_path / "build" / "html" / f"{n}.html").read_text(encoding="utf-8") for n in "ab"}
    assert '<a href="#tbl-t">it</a>' in html["a"] and '<a href="#eq-e">this</a>' in html["a"]
    assert '<a href="a.html#tbl-t">the table</a>' in html["b"] and '<a href="a.html#sec-a">A</a>' in html["b"]


def test_a_heading_whose_given_id_is_taken_is_found_however_it_is_written(tmp_path):
    """The heading whose id build_book gives from its words is found for its label-duplicate when it is the
    second of its words, a setext heading, one with attributes or one in a quotation (they were at 1:1)."""
    (tmp_path / "book.yml").write_text("title: T\nchapters: [a.md, b.md]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("# Alpha {#sec-a}\n\n## Background\n\n## Background\n\nMethod\n------\n\n"
                                   "## Notes {.unnumbered}\n\n> ## Quoted\n\n````sh\n# One\n`````\n\n<!--\n## One\n-->\n\n"
                                   "## Two {#sec-two}\n\n## Two\n\n## One\n\n## Alpha\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("# Beta {#sec-b}\n\n## X1 {#sec-a-background-2}\n\n## X2 {#sec-a-method}\n\n"
                                   "## X3 {#sec-a-notes}\n\n## X4 {#sec-a-quoted}\n\n## X5 {#sec-a-two}\n\n"
                                   "## X6 {#sec-a-one}\n\n## X7 {#sec-a-alpha}\n", encoding="utf-8")
    found = json.loads(run_cli("check", "--book", str(tmp_path), "--format", "json").stdout)
    # (not a heading in code or a comment, one with an id of its own, nor the chapter's title)
    assert [(d["line"], d["column"]) for d in found if d["path"] == "a.md"] == [
        (5, 1), (7, 1), (10, 1), (12, 1), (24, 1), (26, 1), (28, 1)], found


def test_a_link_to_where_a_list_goes_or_to_an_id_some_editions_lack(tmp_path):
    """'[the list](#refs)' leads to the chapter's own list (its '::: {#refs}' is replaced by it, with an id of its
    own: the link led nowhere, an invalid EPUB); a link to an id in content for some editions only, which the
    others lack, is link-anchor (it was accepted, and broken in those)."""
    (tmp_path / "refs.bib").write_text("@book{w, author={W, A}, title={T}, publisher={P}, year={2001}}\n",
                                       encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: T\nbibliography: refs.bib\nchapters: [one.md, two.md]\n",
                                       encoding="utf-8")
    (tmp_path / "one.md").write_text("# One {#sec-one}\n\nCites @w; [the list](#refs).\n\n::: {#refs}\n:::\n\n"
                                     "::: {.content-visible when-format=\"pdf\"}\n[print]{#printonly}\n:::\n",
                                     encoding="utf-8")
    (tmp_path / "two.md").write_text("# Two {#sec-two}\n\n[theirs](one.md#refs), [p](one.md#printonly).\n",
                                     encoding="utf-8")
    found = json.loads(run_cli("check", "--book", str(tmp_path), "--format", "json").stdout)
    assert [(d["path"], d["line"], d["column"], d["code"]) for d in found] == [("two.md", 3, 28, "link-anchor")], found
    (tmp_path / "two.md").write_text("# Two {#sec-two}\n\n[theirs](one.md#refs).\n", encoding="utf-8")
    assert run_cli("html", "--book", str(tmp_path)).returncode == 0
    html = {n: (tmp_path / "build" / "html" / f"{n}.html").read_text(encoding="utf-8") for n in ("one", "two")}
    assert '<a href="#refs-sec-one">the list</a>' in html["one"] and 'id="refs-sec-one"' in html["one"]
    assert '<a href="one.html#refs-sec-one">theirs</a>' in html["two"]


def test_a_second_level_1_heading_is_a_section_and_named(tmp_path):
    """A second '# ' heading in a chapter (a real Quarto book's, which Quarto prints on the chapter's page)
    was error[chapter-two-titles], which stopped the build. It is printed as a section now, the headings
    after it one level down, and named."""
    found = _checked(tmp_path, "# Title\n\n## A\n\nText.\n\n# Second\n\n## B\n\nMore.\n")
    assert [(d["line"], d["column"], d["severity"], d["code"]) for d in found] == [
        (7, 1, "warning", "chapter-two-titles")], found
    assert run_cli("html", "--book", str(tmp_path)).returncode == 0
    page = (tmp_path / "build" / "html" / "a.html").read_text(encoding="utf-8")
    assert re.findall(r"<h(\d)[^>]*>(?:<span[^>]*>([\d.]+)</span> )?([^<]*)</h\1>", page)[1:4] == [
        ("2", "1.1", "A"), ("2", "1.2", "Second"), ("3", "1.2.1", "B")], page
