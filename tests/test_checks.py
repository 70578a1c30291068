"""Checks: the 'broken' fixture book carries one of every fault; its diagnostics are golden.

Refresh the golden file after an intended change with:
    UPDATE_GOLDENS=1 scripts/test tests/test_checks.py
and read the diff before committing it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import BOOKS, copy_book, run_cli

GOLDEN = BOOKS / "broken" / "expected-diagnostics.json"


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
        "front-matter", "encoding", "chapter-no-title",
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
