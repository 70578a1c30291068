"""The bibliography checks agree with what pandoc reads and prints.

'bib-real' is written the way real bibliographies are and must check without errors and build;
'bib-hostile' holds what made build_book hang or pass bad data on: its diagnostics are golden, and
``check`` must end quickly.

Refresh the golden file after an intended change with:
    UPDATE_GOLDENS=1 scripts/test tests/test_checks.py   (tests/test_checks.py compares every golden file)
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from build_book import bibliography as bib

from .conftest import BOOKS, REPO, copy_book, run_cli



def rows(diagnostics: list[dict]) -> list[list]:
    return [[d["path"], d["line"], d["column"], d["severity"], d["code"]] for d in diagnostics]


# --- a bibliography as scholars write them ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def real(tmp_path_factory):
    root = copy_book("bib-real", tmp_path_factory)
    checked = run_cli("check", "--book", str(root), "--format", "json")
    built = run_cli("html", "--book", str(root), "-q")
    page = (root / "build" / "html" / "bibliography.html").read_text(encoding="utf-8") \
        if built.returncode == 0 else ""
    references = {key: " ".join(html.unescape(re.sub(r"<[^>]+>", "", body)).split())
                  for key, body in re.findall(r'<div id="ref-([^"]+)"[^>]*>(.*?)</div>', page, re.S)}
    return checked, built, page, references


def test_real_bibliography_checks_with_only_the_expected_warnings(real):
    checked, _, _, _ = real
    assert checked.returncode == 0, checked.stdout + checked.stderr
    found = json.loads(checked.stdout)
    assert rows(found) == [
        ["bibliography/references.bib", 113, 1, "warning", "bib-missing-field"],
        ["bibliography/references.bib", 113, 1, "warning", "bib-unused"],
    ]
    assert "'later2020' (@book) has no 'publisher'" in found[0]["message"]
    assert "not cited" in found[0]["message"]


def test_real_bibliography_is_printed_as_written(real):
    _, built, page, refs = real
    assert built.returncode == 0, built.stderr
    assert set(refs) == {"walt1987", "snyder1984", "snyder1997", "reviewer1997", "morrow1991", "waltz1986",
                         "ruggie1986", "funabashi1997", "muenkler2007", "nato1949", "eric2009", "wiki2021",
                         "circa2004"}
    # @string abbreviations and month macros resolved, never printed as words
    assert refs["walt1987"] == "Walt, Stephen M. 1987. The Origins of Alliances. Cornell University Press."
    assert "World Politics 36 (4): 461–95. https://doi.org/10.2307/2010183." in refs["snyder1984"]
    assert "American Journal of Political Science 35 (4): 904–33." in refs["morrow1991"]
    assert "(October)" in refs["reviewer1997"]
    # the paper and the review sharing a title are both printed
    assert refs["reviewer1997"].startswith("Reviewer, Rita. 1997. “Alliance Politics.”")
    assert refs["snyder1997"].startswith("Snyder, Glenn H. 1997. Alliance Politics.")
    # crossref children are chapters in their parent volume, which is not listed on its own
    assert ("“Reflections on Theory of International Politics: A Response to My Critics.” In Neorealism and "
            "Its Critics, edited by Robert O. Keohane") in refs["waltz1986"]
    assert "In Neorealism and Its Critics" in refs["ruggie1986"] and "keohane1986" not in refs
    # accents and protected words
    assert refs["funabashi1997"].startswith("Funabashi, Yōichi. 1997. Dōmei")
    assert refs["muenkler2007"].startswith("Münkler, Herfried. 2007. Empires:")
    assert "Ancient Rome to the United States" in refs["muenkler2007"]
    # web pages: undated, with query strings kept whole
    assert refs["nato1949"].startswith("“The North Atlantic Treaty.” n.d.")
    assert 'href="https://eric.ed.gov/?id=ED509862&amp;clustered=false"' in page
    # a date with its time of day, as Zotero exports a web page's (it was error[bib-bad-date]), and an approximate one
    assert "2021. “Timeline of the 20th century.” August 9." in refs["wiki2021"]
    assert refs["circa2004"] == "Old, Olga. [2004?]. An Undated Pamphlet. Self."
    assert 'href="https://www.nato.int/cps/en/natohq/official_texts_17120.htm?selectedLocale=en"' in page


# --- a bibliography that fights back ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = copy_book("bib-hostile", tmp_path_factory)
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "build_book", "check", "--book", str(root), "--format", "json"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    return root, result, time.monotonic() - start


def test_hostile_check_ends_quickly_without_a_traceback(hostile):
    _, result, seconds = hostile
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert seconds < 60


def test_hostile_diagnostics_say_what_and_where(hostile):
    by_code: dict[str, list[dict]] = {}
    for d in json.loads(hostile[1].stdout):
        by_code.setdefault(d["code"], []).append(d)
    loops = [d["message"] for d in by_code["bib-crossref-cycle"]]
    assert "entry 'selfref' takes its fields from itself: 'selfref' (crossref) → 'selfref'" in loops
    assert any("'loopa' (crossref) → 'loopb' (crossref) → 'loopa'" in m for m in loops)
    assert any("'xa' (xdata) → 'xb' (xdata) → 'xa'" in m for m in loops)
    assert any(m.startswith("entry 'xself'") for m in loops)
    long, deep = by_code["bib-field-limit"]
    assert "100,002 characters" in long["message"] and "20,000" in long["message"]
    assert "nested 41 deep" in deep["message"]
    bell, nonchar = by_code["control-character"]
    assert "U+0007" in bell["message"] and "U+FDD0" in nonchar["message"] and bell["hint"]
    assert nonchar["line"] == 74  # the line of the character, inside a field that spans two lines
    assert {d["message"].split("'")[1] for d in by_code["bib-url"]} == {"urlspace", "urljs", "urlbare"}
    assert by_code["bib-doi"][0]["message"].startswith("entry 'doispace'")
    assert [d["hint"] for d in by_code["bib-doi-form"]] == ["write doi = {10.1000/182}", "write doi = {10.1000/183}"]
    assert by_code["bib-undefined-string"][0]["hint"].startswith("put the value in braces (journal = {jir})")
    assert by_code["bib-crossref"][0]["hint"] == "keys are case-sensitive: did you mean {volume2012}?"


def test_hostile_build_stops_quickly_and_writes_nothing(tmp_path_factory):
    root = copy_book("bib-hostile", tmp_path_factory)
    result = subprocess.run([sys.executable, "-m", "build_book", "html", "--book", str(root)], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert not (root / "build" / "html").exists()


def test_pandoc_is_never_handed_a_file_it_would_hang_on(tmp_path):
    done: list = []
    worker = threading.Thread(target=lambda: done.append(bib.check_with_pandoc(
        BOOKS / "bib-hostile", ("bibliography/hostile.bib",), tmp_path)), daemon=True)
    worker.start()
    worker.join(30)
    assert done == [[]]
    assert not list(tmp_path.glob("bib-ok-*"))  # and it is not marked as read


# --- the rules, one by one --------------------------------------------------------------------------------------

def read(tmp_path: Path, text: str, newline: str = "\n") -> bib.Bibliography:
    (tmp_path / "refs.bib").write_bytes(text.replace("\n", newline).encode("utf-8"))
    return bib.load(tmp_path, ("refs.bib",))


def codes(diagnostics) -> list[tuple[str, str]]:
    return [(d.severity, d.code) for d in diagnostics]


def test_values_are_resolved_as_bibtex_reads_them(tmp_path):
    loaded = read(tmp_path, '@string{jpr = "Journal of Peace Research"}\n@string{JIA = {Journal} # " of " # ia}\n'
                            '@string{ia = {International Affairs}}\n'
                            '@article{k, title = "A {NATO} Study", journal = JPR # {, Special Issue}, year = 2001,\n'
                            '  month = mar, url = {https://example.org/?a=b&c=d#x}, note = {{Nested} and {not}}}\n')
    fields = loaded.entries["k"].fields
    assert fields["journal"] == "Journal of Peace Research, Special Issue"
    assert fields["title"] == "A {NATO} Study" and fields["year"] == "2001" and fields["month"] == "3"
    assert fields["url"] == "https://example.org/?a=b&c=d#x"
    assert fields["note"] == "{Nested} and {not}"
    # an @string is only known after its definition, as in BibTeX
    assert [(d.code, d.message.split("'")[1]) for d in loaded.diagnostics] == [("bib-undefined-string", "ia")]


def test_crlf_files_have_no_control_characters(tmp_path):
    loaded = read(tmp_path, "@book{k, author = {A, B},\n  title = {Two\n  Lines}, year = {2000},\n"
                            "  publisher = {P}}\n", newline="\r\n")
    assert loaded.diagnostics == ()


def test_missing_fields_are_errors_only_for_cited_entries(tmp_path):
    loaded = read(tmp_path, "@article{a, author = {A, B}, title = {T}, year = {2000}}\n"
                            "@online{w, title = {A Page}}\n@online{u, title = {Undated}, url = {https://a.org}}\n"
                            "@misc{m, title = {A Treaty}}\n@book{anon, title = {Anonymous}, year = {1900},"
                            " publisher = {P}}\n@book{nd, title = {Undated}, year = {n.d.}, publisher = {P}}\n")
    cited = bib.check_entries(loaded.entries, {"a", "w", "u", "m", "anon", "nd"})
    assert [(d.severity, d.message) for d in cited] == [
        ("error", "entry 'a' (@article) has no 'journaltitle' or 'journal'"),
        ("error", "entry 'w' (@online) has no 'url'"),
    ]
    assert codes(bib.check_entries(loaded.entries, set())) == [("warning", "bib-missing-field")] * 2
    # the fields entries lack are kept with the file's reading: read again (from the cache), the same findings
    again = bib.load(tmp_path, ("refs.bib",))
    assert again.lacking == loaded.lacking and len(again.lacking) == 2
    for keys in ({"a", "w", "u", "m", "anon", "nd"}, set(), {"w"}):
        assert bib.check_entries(again.entries, keys, again.lacking) == bib.check_entries(again.entries, keys)


def test_a_chapter_takes_its_booktitle_only_from_a_collection(tmp_path):
    loaded = read(tmp_path, "@book{vol, editor = {E, F}, title = {V}, year = {2000}, publisher = {P}}\n"
                            "@incollection{ch, author = {A, B}, title = {C}, crossref = {vol}}\n"
                            "@collection{coll, editor = {E, F}, title = {V}, year = {2000}, publisher = {P}}\n"
                            "@incollection{ok, author = {A, B}, title = {C2}, crossref = {coll}}\n")
    found = bib.check_entries(loaded.entries, {"ch", "ok"})
    assert [d.message for d in found] == ["entry 'ch' (@incollection) has no 'booktitle'"]
    assert "parent 'vol' is a @book" in found[0].hint and "@collection" in found[0].hint
    assert bib.inherited(loaded.entries["ok"], loaded.entries)["booktitle"] == "V"


def test_same_work_needs_same_doi_or_same_title_year_and_authors(tmp_path):
    loaded = read(tmp_path, "@book{a, author = {Walt, Stephen M.}, title = {Origins}, year = {1987}, publisher = {P}}\n"
                            "@book{b, author = {Walt, Stephen}, title = {Origins}, year = {1987}, publisher = {Q}}\n"
                            "@article{c, author = {Other, O.}, title = {Origins}, journal = {J}, year = {1987}}\n"
                            "@article{d, author = {X, Y}, title = {One}, journal = {J}, year = {1990},"
                            " doi = {10.1/x}}\n@article{e, author = {Z, W}, title = {Two}, journal = {J},"
                            " year = {1991}, doi = {https://doi.org/10.1/X}}\n")
    same = [d.message for d in loaded.diagnostics if d.code == "bib-duplicate-work"]
    assert same == ["entries 'a' and 'b' describe the same work (the same title, year and authors)",
                    "entries 'd' and 'e' describe the same work (the same DOI)"]


def test_loops_do_not_hang_the_helpers(tmp_path):
    loaded = read(tmp_path, "@book{a, title = {A}, crossref = {b}, xdata = {a}}\n@book{b, title = {B},"
                            " crossref = {a}, publisher = {P}}\n")
    assert bib.inherited(loaded.entries["a"], loaded.entries)["publisher"] == "P"
    loops = sorted((d.location.line, d.message) for d in loaded.diagnostics if d.code == "bib-crossref-cycle")
    assert loops == [(1, "entry 'a' takes its fields from itself: 'a' (crossref) → 'b' (crossref) → 'a'"),
                     (1, "entry 'a' takes its fields from itself: 'a' (xdata) → 'a'"),
                     (2, "entry 'b' takes its fields from itself: 'a' (crossref) → 'b' (crossref) → 'a'")]


def test_big_bibliographies_are_read_in_linear_time(tmp_path):
    entries = "".join(f"@book{{k{i}, author = {{{' and '.join(f'Name{j}, A.' for j in range(20))}}},"
                      f" title = {{Title {i}}}, year = {{2000}}, publisher = {{P}}, note = {{{'word ' * 2000}}}}}\n"
                      for i in range(2000))
    # CPU time of this process, not the clock: a quadratic reading takes minutes; a loaded machine (the
    # suite runs beside other work) slows the clock, not the work done
    start = time.process_time()
    loaded = read(tmp_path, entries)
    assert len(loaded.entries) == 2000 and loaded.diagnostics == ()
    assert time.process_time() - start < 20


def test_string_abbreviations_made_of_each_other_are_refused_before_they_are_written_out():
    """@string s1 = s0 # s0 # s0, and so on 30 times: 10**15 characters written out, which ran the check out of
    memory. Each abbreviation past the limit is an error at its line, at once."""
    from build_book import bibliography

    lines = ['@string{s0 = "xxxxxxxxxx"}'] + [f"@string{{s{n} = s{n - 1} # s{n - 1} # s{n - 1}}}" for n in range(1, 30)]
    lines.append("@book{bomb, author = {A, B}, title = s29, year = 2000, publisher = {P}}")
    started = time.monotonic()
    read = bibliography._parse("refs.bib", "\n".join(lines) + "\n")
    assert time.monotonic() - started < 5
    limits = [d for d in read.diagnostics if d.code == "bib-field-limit"]
    assert limits and limits[0].location.line == 8           # s7 = 3 × s6 (21,870 characters) is the first
    assert "with its @string abbreviations written out" in limits[0].message
    assert all(len(entry.fields.get("title", "")) <= 20_001 for entry in read.entries)


def test_works_listed_though_not_cited_as_pandocs_nocite_says(tmp_path):
    """pandoc's nocite lists works no chapter cites: in a chapter's front matter (bookdown's index.Rmd says so for
    the whole book) it was ignored, each such work left out of the list and called unused; book.yml had none."""
    (tmp_path / "refs.bib").write_text(
        "@book{walt1987, author={Walt, Stephen M.}, title={The Origins of Alliances}, year={1987}, publisher={P}}\n"
        "@book{snyder1997, author={Snyder, Glenn H.}, title={Alliance Politics}, year={1997}, publisher={P}}\n"
        "@book{morrow1991, author={Morrow, James D.}, title={Alliances}, year={1991}, publisher={P}}\n", encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: T\nbibliography: refs.bib\nchapters: [index.Rmd]\n", encoding="utf-8")
    (tmp_path / "index.Rmd").write_text("---\nnocite: |\n  @snyder1997\n---\n\n# Intro\n\nText [@walt1987].\n",
                                        encoding="utf-8")

    def listed() -> tuple[list[str], str]:
        result = run_cli("html", "--book", str(tmp_path))
        assert result.returncode == 0, result.stderr
        page = (tmp_path / "build" / "html" / "bibliography.html").read_text(encoding="utf-8")
        return re.findall(r'<div id="ref-(\w+)"', page), result.stderr

    works, said = listed()
    assert works == ["snyder1997", "walt1987"] and "front-matter-ignored" not in said, said
    assert re.findall(r"warning\[bib-unused\]: bibliography entry '(\w+)'", said) == ["morrow1991"]
    # book.yml's nocite: '@*' lists every work
    (tmp_path / "book.yml").write_text("title: T\nbibliography: refs.bib\nnocite: '@*'\nchapters: [index.Rmd]\n",
                                       encoding="utf-8")
    works, said = listed()
    assert works == ["morrow1991", "snyder1997", "walt1987"] and "bib-unused" not in said, said
    # a key no entry has is named where it is written (pandoc lists nothing for it, and says nothing)
    (tmp_path / "book.yml").write_text("title: T\nbibliography: refs.bib\nnocite:\n  - '@snyder1997'\n"
                                       "  - '@moro1991'\nchapters: [index.Rmd]\n", encoding="utf-8")
    (tmp_path / "index.Rmd").write_text("---\nnocite: |\n  @snyder1997,\n  @waltz1979\n---\n\n# Intro\n\nText.\n",
                                        encoding="utf-8")
    works, said = listed()
    assert works == ["snyder1997"], works
    assert re.findall(r"^(\S+): warning\[nocite-unknown\].*'@(\w+)'", said, re.M) == [
        ("book.yml:5:6", "moro1991"), ("index.Rmd:4:3", "waltz1979")], said
    assert "did you mean @morrow1991?" in said


def test_a_comment_written_after_at_comment_is_named_at_each_line(tmp_path):
    """jecon.bst's example .bib writes notes as '@Comment この文献は...' (text after '@Comment', no braces), which
    BibTeX skips and pandoc cannot read: check said only "unexpected '\\12371'" (pandoc's way of writing 'こ')
    with a hint about quotes, at the first such line alone."""
    (tmp_path / "refs.bib").write_text("@Comment この文献には巻がない\n@book{a, author = {山田, 太郎}, title = {題}, "
                                       "year = 2001, publisher = {有斐閣}}\n@comment{fine}\n"
                                       "@Comment DOI 付きの文献\n@book{b, author = {Sato, Ken}, title = {Title}, "
                                       "year = 2002, publisher = {P}}\n", encoding="utf-8")
    found = bib.check_with_pandoc(tmp_path, ("refs.bib",), tmp_path / "cache")
    assert [(d.code, d.location.line) for d in found] == [("bib-syntax", 1), ("bib-syntax", 4)], found
    assert "'@comment'" in found[0].message and "この文献には巻がない" in found[0].message, found[0]
    assert "%" in found[0].hint and "\\12371" not in found[0].message


def test_tex_math_in_a_bib_field_is_math_in_every_edition(tmp_path):
    """'The {$\\epsilon$}-net method' (TeX math, as CS and statistics titles write it) printed as '$\\Epsilon$-Net'
    (pandoc's CSL JSON keeps it as text, and title case capitalised it); pandoc on the .bib itself prints math.
    An escaped dollar ('\\$5') is no math; the EPUB declares the MathML its bibliography page then holds."""
    (tmp_path / "refs.bib").write_text(
        "@book{a, author={Writer, Ann}, title={The {$\\epsilon$}-net method and $O(n^2)$ bounds}, publisher={P}, "
        "year={2020}}\n@book{b, author={Writer, Bo}, title={Aid of \\$5 and \\$10 a head}, publisher={P}, year={2021}}\n",
        encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: T\nbibliography: refs.bib\nchapters: [a.md]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("# A\n\n@a and @b.\n", encoding="utf-8")
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
    page = (tmp_path / "build" / "html" / "bibliography.html").read_text(encoding="utf-8")
    entry_a = page[page.index('id="ref-a"'):page.index('id="ref-b"')]
    assert "$" not in entry_a and entry_a.count("<math") == 2 and "<mi>ϵ</mi>" in entry_a, entry_a
    assert "Aid of $5 and $10 a Head" in re.sub(r"<[^>]+>", "", page[page.index('id="ref-b"'):])
    result = run_cli("epub", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(next((tmp_path / "build").glob("*.epub"))) as archive:
        opf = archive.read("EPUB/package.opf").decode("utf-8")
    assert re.search(r'<item [^>]*href="bibliography.xhtml"[^>]*properties="mathml"', opf), opf

def test_tex_math_in_a_bib_field_keeps_its_less_than_and_ampersand(tmp_path):
    """Math in a .bib field with '<', '>' or '&' ('$a < b \\& c > d$') is hidden from citeproc's markup as
    entities, which citeproc keeps as written: it printed as '$a &lt; b \\&amp; c &gt; d$', not math."""
    (tmp_path / "refs.bib").write_text(
        "@book{ann, author={Writer, Ann}, title={Bounds $a < b \\& c > d$ hold}, publisher={P}, year={2020}}\n",
        encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: T\nbibliography: refs.bib\nchapters: [a.md]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("# A\n\nAs @ann shows.\n", encoding="utf-8")
    result = run_cli("html", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "build" / "html" / "bibliography.html").read_text(encoding="utf-8")
    entry = page[page.index('id="ref-ann"'):]
    assert "&amp;lt;" not in entry and "$" not in entry and entry.count("<math") == 1, entry
    assert "<mo>&lt;</mo>" in entry and "<mo>&gt;</mo>" in entry and "&amp;" in entry, entry


def test_a_title_pandoc_reads_to_nothing_is_named(tmp_path):
    """A title with a dollar that opens TeX math never closed ('$5 more', 'Unbalanced $x here') is read by pandoc as
    nothing: the work printed with no title, and nothing said so. An escaped dollar is text, and no warning."""
    (tmp_path / "refs.bib").write_text(
        "@book{a, author={Writer, Ann}, title={Costs \\$5 and \\$10 and $5 more}, publisher={P}, year={2020}}\n"
        "@book{b,\n  author={Writer, Bo},\n  title={Unbalanced $x here},\n  publisher={P}, year={2021}}\n"
        "@book{c, author={Writer, Cy}, title={Fine \\$5 title}, publisher={P}, year={2021}}\n", encoding="utf-8")
    found = bib.check_with_pandoc(tmp_path, ("refs.bib",), tmp_path / "cache")
    assert [(d.code, d.location.line, d.message.split(":")[0]) for d in found] == [
        ("bib-field-unread", 1, "entry 'a'"), ("bib-field-unread", 4, "entry 'b'")], found
    assert "\\$" in found[0].hint


def test_a_paragraph_beginning_with_a_key_and_a_full_stop_is_named(tmp_path):
    """'@walt1987. argues ...' at a paragraph's start is, to pandoc, an example list's item labelled walt1987: the
    citation was lost without a word, and 'See @walt1987' elsewhere in the chapter printed 'See 1.'."""
    (tmp_path / "refs.bib").write_text("@book{walt1987, author={Walt, Stephen M.}, title={Origins}, year={1987}, "
                                       "publisher={P}}\n", encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: T\nbibliography: refs.bib\nchapters: [a.md]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("# A\n\nSee @walt1987.\n\n@walt1987. argues this.\n", encoding="utf-8")
    found = json.loads(run_cli("check", "--book", str(tmp_path), "--format", "json").stdout)
    assert [(d["path"], d["line"], d["column"], d["code"]) for d in found if d["code"] != "bib-unused"] == [
        ("a.md", 5, 1, "citation-example-list")], found
    # cited as a citation, the same words are no example
    (tmp_path / "a.md").write_text("# A\n\nSee @walt1987.\n\n[@walt1987] argues this. @walt1987 too.\n", encoding="utf-8")
    found = json.loads(run_cli("check", "--book", str(tmp_path), "--format", "json").stdout)
    assert found == [], found
