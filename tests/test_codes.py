"""The diagnostic catalogue: every code build_book reports is listed once, with a description."""

from __future__ import annotations

import re
from pathlib import Path

from build_book.codes import CATALOGUE

PACKAGE = Path(__file__).resolve().parent.parent / "build_book"
USE = re.compile(r"""\b(?:error|warning|report)\(\s*["']([a-z][a-z0-9-]*)["']""")


def codes_in_source() -> set[str]:
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        found.update(USE.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_code_in_the_source_is_catalogued():
    used = codes_in_source()
    assert used, "the pattern found no diagnostics at all"
    assert sorted(used - set(CATALOGUE)) == []


def test_catalogue_has_no_stale_codes():
    source = "".join(p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py") if p.name != "codes.py")
    assert sorted(code for code in CATALOGUE if f'"{code}"' not in source) == []


def test_every_code_is_described():
    for code in CATALOGUE.values():
        assert code.severity in ("error", "warning")
        assert code.summary and not code.summary.endswith(".")
