"""House style: the 'house-style' fixture book plants departures of every kind across its chapters, and the same
words inside quotations, code, web addresses, citation keys and the bibliography, where they must not be reported.
Its diagnostics are golden (tests/books/house-style/expected-diagnostics.json, checked by test_checks.py);
here: what the messages say, what is never reported, and what check --fix-style writes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from build_book import house_style
from build_book.house_style import PROSE, Unit, american, forms, undo_mojibake
from build_book.load import load_book

from .conftest import BOOKS, copy_book, run_cli


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    root = copy_book("house-style", tmp_path_factory)
    result = run_cli("check", "--book", str(root), "--format", "json")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout)


def at(found, path, line):
    return [d for d in found if d["path"] == path and d["line"] == line]


def test_an_edit_and_damaged_cache_entries_find_what_a_clean_check_finds(tmp_path_factory):
    """Each chapter's findings are cached (build/.cache/checks/house-style): after an edit of one chapter,
    with the other chapters' entries damaged, check reports what a check without caches reports, and
    makes the damaged entries again."""
    root = copy_book("house-style", tmp_path_factory)
    run_cli("check", "--book", str(root), "--format", "json")
    folder = root / "build" / ".cache" / "checks" / "house-style"
    entries = sorted(folder.iterdir())
    assert len(entries) == 3
    before = {entry: entry.read_bytes() for entry in entries}
    entries[0].write_bytes(before[entries[0]][: len(before[entries[0]]) // 2])
    entries[1].write_bytes(before[entries[1]].replace(b"1", b"2", 3))
    chapter = root / "chapters" / "03-marks.md"
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\nThe defence of colour and color.\n",
                       encoding="utf-8")
    edited = run_cli("check", "--book", str(root), "--format", "json")
    clean = copy_book("house-style", tmp_path_factory)
    shutil.copy(chapter, clean / "chapters" / "03-marks.md")
    assert edited.stdout == run_cli("check", "--book", str(clean), "--format", "json").stdout
    assert '"style-inconsistent"' in edited.stdout and "colour" in edited.stdout
    after = sorted(folder.iterdir())
    assert len(after) == 3
    assert sum(entry.read_bytes() == data for entry, data in before.items() if entry.exists()) == 2


def test_every_kind_of_departure_is_reported(found):
    codes = {d["code"] for d in found}
    assert codes >= {"style-term", "style-name", "style-mojibake", "style-quotes", "style-dash",
                     "style-inconsistent", "style-rule"}


def test_quotations_code_urls_citations_and_the_bibliography_are_never_reported(found):
    terms = "chapters/01-terms.md"
    for line in (13, 15, 16, 19):   # block quote, quoted text, code, <URL>, bare URL, citation key, code block
        assert at(found, terms, line) == [], at(found, terms, line)
    assert at(found, "chapters/02-names.md", 9) == []          # Ryukyu in a block quote
    assert at(found, "chapters/03-marks.md", 14) == []         # 'code', cafÃ© in code
    assert not [d for d in found if d["path"].startswith("bibliography")]
    # a proper name keeps its own spelling; a listed exception too; Gō and go, the Labour Party are not variants
    assert [d["column"] for d in at(found, terms, 8)] == [11, 20]
    assert at(found, terms, 10)[0]["code"] == "style-term" and len(at(found, terms, 10)) == 1   # arguably only
    assert at(found, "chapters/02-names.md", 11) == []
    # a deliberate en dash (Japan–Korea) and a range (1990--91) are no departures
    assert [d["column"] for d in at(found, "chapters/03-marks.md", 4)] == [8, 20]


def test_messages_say_what_and_how(found):
    by_place = {(d["path"], d["line"], d["column"]): d for d in found}
    us = by_place[("chapters/01-terms.md", 7, 5)]
    assert us["message"] == "the house style writes 'US', not 'U.S.'" and us["hint"] == "write 'US'"
    end = by_place[("chapters/01-terms.md", 22, 17)]
    assert end["hint"] == "write 'US.' (the full stop ends the sentence)"
    name = by_place[("book.yml", 7, 11)]
    assert name["code"] == "style-name" and "'HOSOYA Yuichi'" in name["message"]
    moji = by_place[("chapters/03-marks.md", 8, 28)]
    assert moji["severity"] == "error" and "'Â…'" in moji["message"] and moji["hint"] == "write '…'"
    assert by_place[("chapters/03-marks.md", 10, 34)]["code"] == "style-mojibake"   # damage, even when quoted
    vale = by_place[("chapters/01-terms.md", 11, 20)]
    assert vale["message"] == "Consider using 'to' instead of 'in order to'. [Vale rule Wordiness]"
    assert by_place[("chapters/01-terms.md", 10, 69)]["severity"] == "error"   # the Vale rule's level: error
    spelt = by_place[("chapters/02-names.md", 6, 42)]
    assert spelt["message"] == ("'behaviour' is spelt two ways in the book: 03-marks.md writes 'behavior' twice; "
                                "02-names.md writes 'behaviour' once")
    assert "most of the book writes 'behavior'" in spelt["hint"]
    assert by_place[("chapters/03-marks.md", 12, 5)]["code"] == "style-quotes"      # '90s read as a quote
    assert by_place[("chapters/01-terms.md", 2, 17)]["code"] == "style-quotes"      # abstract: printed as written
    ranges = [d for d in at(found, "chapters/03-marks.md", 20) + at(found, "chapters/03-marks.md", 21)]
    assert [(d["line"], d["column"], d["message"].split("'")[1]) for d in ranges] == \
        [(20, 17, "1950-53"), (20, 41, "24-25"), (20, 63, "12-15")]    # not a law, a vote, a date, a quotation
    assert ranges[0]["message"] == ("a hyphen joins the range '1950-53': the house style joins a range of numbers "
                                    "with an en dash (–)") and ranges[0]["hint"] == "write '1950–53' (or '1950--53' in Markdown)"


def test_fix_style_rewrites_the_prose_and_nothing_else(tmp_path_factory):
    root = copy_book("house-style", tmp_path_factory)
    before_bib = (root / "bibliography" / "refs.bib").read_text(encoding="utf-8")
    before_yml = (root / "book.yml").read_text(encoding="utf-8")
    result = run_cli("check", "--book", str(root), "--fix-style")
    assert "fixed chapters/01-terms.md:7:5: 'U.S.' -> 'US'" in result.stdout
    assert "--fix-style: 26 changes in 3 files" in result.stderr
    terms = (root / "chapters" / "01-terms.md").read_text(encoding="utf-8").splitlines()
    assert terms[1] == "abstract: Terms “as written” in an abstract, printed as they stand."
    assert terms[6] == "The US signed the treaty in 1951, and Japan-US ties deepened [@walt1987]."
    assert terms[7].startswith("Later the Japan-US defense guidelines")
    assert terms[10] == "need no more words to say so. We use the Japan-US treaty often."
    assert terms[12] == '> A quoted U.S. official spoke of "defence" and of the U.S.-Japan alliance.'
    assert terms[14:16] == ['He called it "the U.S. umbrella" and `U.S.` in code, at <https://example.org/U.S./defence>',
                            "and https://example.org/U.S.-Japan, with a key [@us1960]."]
    assert terms[18] == "U.S. defence in a code block" and terms[21] == "It ended in the US."
    names = (root / "chapters" / "02-names.md").read_text(encoding="utf-8")
    assert "The Ryūkyū Islands, which Hosoya Yuichi has written about, and Ryūkyū trade." in names
    assert "> Ryukyu in a quotation" in names
    marks = (root / "chapters" / "03-marks.md").read_text(encoding="utf-8")
    assert "The alliance—so it seemed—held, from 1990--91" in marks and "en dash—like this—is" in marks
    assert "preparedness… incomplete, and it’s café" in marks and '"preparedness… that' in marks
    assert "The ’90s were the decade of rock 'n' roll. The treaty—its critics said—was unequal." in marks
    assert "`cafÃ©`" in marks
    assert "The Korean War (1950–53), the crisis of 24–25 October and pp. 12–15 of the report, against Public Law\n" \
        "87-195, a 5-4 vote, the F-16, the 2012-03-31 entry, 1,000-2,000 troops and \"the war of 1950-53\"" in marks
    assert (root / "bibliography" / "refs.bib").read_text(encoding="utf-8") == before_bib
    assert (root / "book.yml").read_text(encoding="utf-8") == before_yml    # reported, never rewritten
    # what is left is what cannot be fixed safely; a second run changes nothing
    left = json.loads(run_cli("check", "--book", str(root), "--format", "json").stdout)
    assert sorted({d["code"] for d in left}) == ["style-inconsistent", "style-name", "style-quotes", "style-rule",
                                                  "style-term"]
    again = run_cli("check", "--book", str(root), "--fix-style")
    assert "fixed" not in again.stdout and "--fix-style: 0 changes in 0 files" in again.stderr


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.md"))}


def test_a_failed_fix_changes_no_file(tmp_path, monkeypatch):
    root = tmp_path / "book"
    shutil.copytree(BOOKS / "house-style", root)
    before = _snapshot(root)
    book = load_book(root).book
    changes = house_style.planned_changes(book)
    assert len({c.path for c in changes}) == 3
    # the second file cannot be replaced: the first, already replaced, is put back
    real, calls = os.replace, []

    def failing(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(house_style.os, "replace", failing)
    with pytest.raises(house_style.FixFailed, match="no file was changed"):
        house_style.apply_changes(root, changes)
    monkeypatch.undo()
    assert _snapshot(root) == before
    assert not [p for p in root.rglob("*.fix")]
    # a file edited since the check: nothing is written
    path = root / "chapters" / "03-marks.md"
    path.write_text("# Marks\n\nRewritten meanwhile.\n", encoding="utf-8")
    edited = _snapshot(root)
    with pytest.raises(house_style.FixFailed, match="changed while it was being checked"):
        house_style.apply_changes(root, changes)
    assert _snapshot(root) == edited


def test_mojibake_is_found_by_decoding_again():
    assert undo_mojibake("Â…") == "…"            # Windows-1252 ellipsis read as Latin-1 first
    assert undo_mojibake("â€™") == "’" and undo_mojibake("â€œ") == "“"
    assert undo_mojibake("Ã¼ber") == "über" and undo_mojibake("Ã©t") == "ét"
    assert undo_mojibake("Ã¢â‚¬â„¢") == "’"     # garbled twice
    assert undo_mojibake("æ—¥æœ¬") == "日本"
    for clean in ("café", "Ōsaka", "Ryūkyū", "naïve", "São Paulo", "1990–91", "Ã la", "Â "):
        assert undo_mojibake(clean) is None, clean


def test_words_spelt_two_ways_are_grouped_conservatively():
    assert american("defence") == "defense" and american("behaviours") == "behaviors"
    assert american("organised") == "organized" and american("analyse") == "analyze"
    assert american("travelled") == "traveled" and american("catalogue") == "catalog"
    for same in ("exercise", "compromise", "surprise", "filled", "four", "our", "there", "advise", "enterprise"):
        assert american(same) == same, same

    def keys(text):
        return {key: form for key, form, _, _ in forms(Unit(text, PROSE * len(text)))}

    assert "abbr:US" in keys("the U.S. and") and keys("the U.S. and")["abbr:US"] == "U.S."
    assert keys("Gō spoke")  .get("w:C:go") is None and keys("we go") .get("w:l:go") == "go"
    assert keys("then Gō spoke")["w:C:go"] == "Gō"
    assert "sp:labor" not in keys("The Labour Party won")     # a name, not a spelling


def test_style_option_is_validated(tmp_path_factory):
    root = copy_book("mini", tmp_path_factory)
    yml = root / "book.yml"
    text = yml.read_text(encoding="utf-8")
    yml.write_text(text + "style: 3\n", encoding="utf-8")
    out = run_cli("check", "--book", str(root)).stdout
    assert "error[config-type]" in out and "'style'" in out
    yml.write_text(text + "style: style/nowhere.yml\n", encoding="utf-8")
    result = run_cli("check", "--book", str(root))
    assert result.returncode == 1 and "error[missing-file]: style file 'style/nowhere.yml' does not exist" \
        in result.stdout
    (root / "style").mkdir()
    (root / "style" / "house.yml").write_text("terms:\n  US: [U.S.]\nquotes: maybe\nextra: 1\n", encoding="utf-8")
    yml.write_text(text + "style: style/house.yml\n", encoding="utf-8")
    out = run_cli("check", "--book", str(root)).stdout
    assert "style/house.yml:3:1: error[style-rule]: 'quotes' must be true or false" in out
    assert "style/house.yml:4:1: error[style-rule]: unknown key 'extra' in the house style" in out
    (root / "style" / "house.yml").write_text("extends: substitution\nswap:\n  '(unclosed': x\n", encoding="utf-8")
    out = run_cli("check", "--book", str(root)).stdout
    assert "error[style-rule]: the pattern '(unclosed' is not a regular expression" in out


def test_a_style_outside_the_book_is_refused(tmp_path_factory):
    root = copy_book("mini", tmp_path_factory)
    (root.parent / "outside.yml").write_text("terms:\n  US: [U.S.]\n", encoding="utf-8")
    yml = root / "book.yml"
    yml.write_text(yml.read_text(encoding="utf-8") + "style: ../outside.yml\n", encoding="utf-8")
    result = run_cli("check", "--book", str(root))
    assert result.returncode == 1 and "error[path-outside-book]: the style file '../outside.yml' lies outside" \
        in result.stdout


def test_a_fix_is_made_in_the_prose_never_where_the_same_words_stand_in_code(tmp_path):
    """'U.S. defence' in a code block, then in a span of prose: the finding is the span's, and --fix-style
    changes the span, not the code block, nor an identifier ({#sec-defence}) or a link's target."""
    (tmp_path / "style").mkdir()
    (tmp_path / "style" / "house.yml").write_text("terms:\n  US: [U.S.]\n  defense: [defence]\n", encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: T\nstyle: [style/house.yml]\nchapters: [a.md]\n", encoding="utf-8")
    source = ("# A {#sec-a}\n\n```\nU.S. defence in code\n```\n\nLater text, see [the heading](#sec-defence).\n\n"
              "[U.S. defence]{.smallcaps} end.\n\n## The heading {#sec-defence}\n")
    (tmp_path / "a.md").write_text(source, encoding="utf-8")
    result = run_cli("check", "--book", str(tmp_path), "--fix-style")
    assert "fixed a.md:9:2: 'U.S.' -> 'US'" in result.stdout and "fixed a.md:9:7: 'defence' -> 'defense'" in result.stdout
    assert (tmp_path / "a.md").read_text(encoding="utf-8") == source.replace("[U.S. defence]", "[US defense]")
    left = run_cli("check", "--book", str(tmp_path))
    assert "style-" not in left.stdout + left.stderr, left.stdout     # nothing reported in the code or the ids


def test_ranges_that_are_names_headings_and_quotations_are_left_as_written(tmp_path):
    """What a review found: a case or law number shaped like years (No. 2013-19, Loi n° 2016-41, §§ 1701-1706,
    ISSN 1945-2101) is no range; a heading with no {#id} is reported but not fixed (its address is made of
    its words: a link to it would break); a block quote that reads like the prose after it is never the
    place a finding in the prose is fixed; a quotation in an abstract is not reported."""
    shutil.copytree(BOOKS / "house-style" / "style", tmp_path / "style")
    (tmp_path / "book.yml").write_text("title: T\nchapters: [a.md]\nstyle: [style/house.yml]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text(
        "---\nabstract: Korea in 1993-94. As the envoy put it, \"the war of 1950-53 never ended\".\n---\n"
        "# A\n\n## The Crisis of 2002-03\n\nSee [the crisis](#the-crisis-of-2002-03), PCA Case No. 2013-19,\n"
        "Loi n° 2016-41, 50 U.S.C. §§ 1701-1706, ISSN 1945-2101 and 10-11 Sept. 2001.\n\n"
        "> In 1993-94 the alliance held.\n\nIn 1993-94 the alliance held.\n", encoding="utf-8")
    found = json.loads(run_cli("check", "--book", str(tmp_path), "--format", "json").stdout)
    ranges = sorted((d["line"], d["message"].split("'")[1]) for d in found if d["code"] == "style-dash")
    assert ranges == [(2, "1993-94"), (6, "2002-03"), (9, "10-11"), (13, "1993-94")], found
    result = run_cli("check", "--book", str(tmp_path), "--fix-style")
    text = (tmp_path / "a.md").read_text(encoding="utf-8")
    assert "## The Crisis of 2002-03\n" in text and "#the-crisis-of-2002-03" in text      # reported, not fixed
    assert "> In 1993-94 the alliance held.\n\nIn 1993–94 the alliance held." in text
    assert "10–11 Sept. 2001" in text and "No. 2013-19" in text and "§§ 1701-1706" in text
    assert "link-anchor" not in run_cli("check", "--book", str(tmp_path)).stdout, result.stdout


def test_a_finding_written_with_an_escape_is_fixed_where_it_is_not_in_a_quotation_elsewhere(tmp_path):
    """'1993\\-94' is pandoc's '1993-94': the finding is placed (and fixed) there, not on the same words
    in a quotation earlier; where it is written so that no occurrence matches (an entity), it is reported
    at the chapter and fixed nowhere."""
    shutil.copytree(BOOKS / "house-style" / "style", tmp_path / "style")
    (tmp_path / "book.yml").write_text("title: T\nchapters: [a.md, b.md]\nstyle: [style/house.yml]\n",
                                       encoding="utf-8")
    quoted = "# A\n\nThe minister spoke of 'the crisis of 1993-94' in his memoir.\n\n"
    (tmp_path / "a.md").write_text(quoted + "Talks stalled through 1993\\-94 while the inspectors waited.\n",
                                   encoding="utf-8")
    (tmp_path / "b.md").write_text(quoted.replace("# A", "# B") + "Talks stalled through 1993&#45;94 as before.\n",
                                   encoding="utf-8")
    found = json.loads(run_cli("check", "--book", str(tmp_path), "--format", "json").stdout)
    assert sorted((d["path"], d["line"], d["column"]) for d in found if d["code"] == "style-dash") == \
        [("a.md", 5, 23), ("b.md", 1, 1)], found
    result = run_cli("check", "--book", str(tmp_path), "--fix-style")
    assert "fixed a.md:5:23: '1993\\-94' -> '1993–94'" in result.stdout, result.stdout
    assert (tmp_path / "a.md").read_text(encoding="utf-8") == quoted + \
        "Talks stalled through 1993–94 while the inspectors waited.\n"
    assert "'the crisis of 1993-94'" in (tmp_path / "b.md").read_text(encoding="utf-8")


def _one_chapter(root: Path, text: str, newline: str | None = None) -> Path:
    """A book of one chapter, 01.md, whose house style is the reviewer's: US, defense, em dashes."""
    (root / "style").mkdir(parents=True)
    (root / "style" / "house.yml").write_text("terms: {US: [U.S.], defense: [defence]}\ndashes: em\n",
                                              encoding="utf-8")
    (root / "book.yml").write_text("title: T\nstyle: style/house.yml\nchapters: [01.md]\n", encoding="utf-8")
    path = root / "01.md"
    path.write_text(text, encoding="utf-8", newline=newline)
    return path


def _style_found(root: Path) -> list[tuple[int, int, str]]:
    result = run_cli("check", "--book", str(root), "--format", "json")
    assert "Traceback" not in result.stderr, result.stderr
    return sorted((d["line"], d["column"], d["message"].split("'")[3 if d["code"] == "style-term" else 1])
                  for d in json.loads(result.stdout) if d["code"].startswith("style-"))


def test_a_word_with_little_text_around_it_is_found_and_fixed_where_it_is_never_in_maths_or_an_address(tmp_path):
    """What a review found: a table cell or a one-word list item ('defence', '1993-94') was placed at the
    first other place its text stands, inside $...$ or a link definition's address, and --fix-style changed
    the formula and broke the link there, and found something new to 'fix' at every run. Each unit (cell,
    item, paragraph) is found in the source first, and the finding in its own letters."""
    source = ("# One {#sec-one}\n\nSee [the site][r] now, and [the archive][a].\n\n"
              "[r]: https://example.org/defence.html\n[a]: https://example.org/archive/1993-94\n\n"
              "The set $defence$ in math, $U.S. + defence - 1993-94$ and\n\n$$\nU.S. + defence\n$$\n\n"
              "- defence\n- 1993-94\n\n| A | B |\n|---|---|\n| defence | x |\n| 1993-94 | y |\n")
    path = _one_chapter(tmp_path, source)
    assert _style_found(tmp_path) == [(14, 3, "defence"), (15, 3, "1993-94"), (19, 3, "defence"),
                                      (20, 3, "1993-94")]
    result = run_cli("check", "--book", str(tmp_path), "--fix-style")
    assert "fixed 01.md:19:3: 'defence' -> 'defense'" in result.stdout, result.stdout
    assert path.read_text(encoding="utf-8") == source.replace("\n- defence\n- 1993-94", "\n- defense\n- 1993–94").replace("| defence |", "| defense |").replace("| 1993-94 |", "| 1993–94 |")
    again = run_cli("check", "--book", str(tmp_path), "--fix-style")
    assert "fixed" not in again.stdout and "--fix-style: 0 changes in 0 files" in again.stderr, again.stdout


def test_only_the_prose_is_fixed_wherever_the_same_words_stand_beside_it(tmp_path):
    """The same word in a link's text and its address, an image's caption and its file, a citation key, an
    identifier, a comment, code and prose on one line, a note (written below, or inline), a block quote:
    check places each finding on the prose exactly, --fix-style changes the prose alone, and a second run
    nothing."""
    source = ("# One\n\nAnd [defence](https://x.org/defence) too.[^1]\n\n"
              "![The defence line](defence.png)\n\n"
              "Cited [@defence2001] and @defence2001; see @sec-defence.\n\n<!-- defence in a comment -->\n\n"
              "`defence` and defence on one line <!-- defence -->.\n\nA note^[A defence of it.] here.\n\n"
              "## Defence today {#sec-defence}\n\n> A quoted defence.\n\n[^1]: defence\n\n"
              "    And U.S. in the note's second paragraph.\n")
    path = _one_chapter(tmp_path, source)
    (tmp_path / "references.bib").write_text("@book{defence2001, title={T}, author={A, B}, year={2001}}\n",
                                             encoding="utf-8")
    (tmp_path / "book.yml").write_text((tmp_path / "book.yml").read_text(encoding="utf-8") +
                                       "bibliography: references.bib\n", encoding="utf-8")
    (tmp_path / "defence.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    assert _style_found(tmp_path) == [(3, 6, "defence"), (5, 7, "defence"), (11, 15, "defence"),
                                      (13, 11, "defence"), (15, 4, "Defence"), (19, 7, "defence"),
                                      (21, 9, "U.S.")]
    run_cli("check", "--book", str(tmp_path), "--fix-style")
    assert path.read_text(encoding="utf-8") == source.replace("[defence](", "[defense](").replace(
        "The defence line", "The defense line").replace("` and defence on", "` and defense on").replace(
        "A defence of", "A defense of").replace("Defence today", "Defense today").replace(
        "[^1]: defence", "[^1]: defense").replace("And U.S. in", "And US in")
    again = run_cli("check", "--book", str(tmp_path), "--fix-style")
    assert "fixed" not in again.stdout and "--fix-style: 0 changes in 0 files" in again.stderr, again.stdout


def test_a_term_in_an_html_element_is_placed_at_its_text_not_its_attribute(tmp_path):
    """'<abbr title="U.S.">U.S.</abbr>': the finding is the element's text (it was reported at 1:1), and
    --fix-style leaves the title attribute as written."""
    path = _one_chapter(tmp_path, '# One\n\n<abbr title="U.S.">U.S.</abbr> here.\n')
    assert _style_found(tmp_path) == [(3, 20, "U.S.")]
    run_cli("check", "--book", str(tmp_path), "--fix-style")
    assert path.read_text(encoding="utf-8") == '# One\n\n<abbr title="U.S.">US</abbr> here.\n'


def test_a_fix_keeps_the_files_bom_and_line_endings(tmp_path):
    """--fix-style dropped a UTF-8 BOM and wrote every CRLF as LF: the whole file changed. Only the fixed
    words change now; CRLF, LF (both in one file) and the BOM are kept."""
    source = "\ufeff# One\r\n\r\nThe U.S. defence and --\r\nthe U.S.\r\n\r\nA line with LF: 1993-94.\nLast.\r\n"
    path = _one_chapter(tmp_path, source, newline="")
    result = run_cli("check", "--book", str(tmp_path), "--fix-style")
    assert "--fix-style: 5 changes in 1 file" in result.stderr, result.stdout + result.stderr
    assert path.read_bytes() == ("\ufeff# One\r\n\r\nThe US defense and—the US.\r\n\r\n"
                                 "A line with LF: 1993–94.\nLast.\r\n").encode("utf-8")


def test_a_cell_or_heading_ending_in_an_abbreviation_is_no_sentence(tmp_path):
    """'U.S.' at a sentence's end becomes 'US.' (the full stop ends the sentence); a table's cell or a
    heading ending 'U.S.' is no sentence, and becomes 'US' (it became 'US.')."""
    source = ("# One\n\n## Allies of the U.S. {#sec-allies}\n\nIt ended in the U.S.\n\n"
              "| Ally | Since |\n|---|---|\n| U.S. | 1951 |\n\nTable: Treaties of the U.S.\n")
    path = _one_chapter(tmp_path, source)
    run_cli("check", "--book", str(tmp_path), "--fix-style")
    assert path.read_text(encoding="utf-8") == ("# One\n\n## Allies of the US {#sec-allies}\n\nIt ended in the US.\n\n"
                                                "| Ally | Since |\n|---|---|\n| US | 1951 |\n\n"
                                                "Table: Treaties of the US.\n")


def test_a_reference_link_whose_text_is_its_label_is_reported_not_fixed(tmp_path):
    """'[defence][]' and '[defence]' lead to '[defence]: address': --fix-style wrote '[defense][]', a link to
    nothing. They are reported, with the definition in the hint, and left as written; '[the defence][d]',
    whose label is 'd', is fixed."""
    source = ("# One\n\nSee [defence][] and [defence] and [the defence][d].\n\n"
              "[defence]: https://example.org/a\n[d]: https://example.org/b\n")
    path = _one_chapter(tmp_path, source)
    run_cli("check", "--book", str(tmp_path), "--fix-style")
    assert path.read_text(encoding="utf-8") == source.replace("[the defence]", "[the defense]")
    left = [d for d in json.loads(run_cli("check", "--book", str(tmp_path), "--format", "json").stdout)
            if d["code"] == "style-term"]
    assert [(d["line"], d["column"]) for d in left] == [(3, 6), (3, 22)]
    assert "in the link's definition" in left[0]["hint"]
