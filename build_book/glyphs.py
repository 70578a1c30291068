"""Characters the print edition cannot draw: no font it may use has them, and WeasyPrint sets a box (☐).

WeasyPrint finds its fonts, the stylesheet's and any other that has a character they lack, through
fontconfig, which lists what every installed font covers (``fc-list``). A printed character that none
covers is named where it is written (``glyph-missing``), rather than left for a reader of the proofs to
find. (The web and EPUB editions leave such a character to the reader's own fonts.) Without ``fc-list``
nothing is said.
"""

from __future__ import annotations

import bisect
import functools
import re
import shutil
import subprocess
import unicodedata
from html import unescape

# what the text of the print edition's HTML is not: elements drawn otherwise (formulas as outlines,
# drawings) or not at all, comments and tags
NOT_TEXT = re.compile(r"<(math|svg|style|script)\b.*?</\1>|<!--.*?-->|<[^>]*>", re.S | re.I)
COMMON = 0x250      # Latin, to Latin Extended-B: in the book's own fonts
# variation selectors, which choose a form of the character before them and are not drawn themselves
SELECTORS = ((0xFE00, 0xFE0F), (0xE0100, 0xE01EF), (0x180B, 0x180F))


def printed_characters(html: str) -> set[str]:
    """The characters of the text ``html`` prints, beyond Latin, that are drawn (not spaces, controls or
    other invisible characters)."""
    text = unescape(NOT_TEXT.sub(" ", html))
    return {ch for ch in set(text) if ord(ch) >= COMMON and _drawn(ch)}


def _drawn(ch: str) -> bool:
    code = ord(ch)
    if any(lo <= code <= hi for lo, hi in SELECTORS):
        return False
    return unicodedata.category(ch)[0] not in "CZ" or unicodedata.category(ch) == "Co"   # (private use: drawn)


def missing(characters: set[str]) -> list[str]:
    """Those of ``characters`` that no installed font has, in code point order ([] if fontconfig cannot say)."""
    coverage = _coverage() if characters else None
    if coverage is None:
        return []
    starts, ends = coverage
    out = []
    for ch in sorted(characters):
        at = bisect.bisect_right(starts, ord(ch)) - 1
        if at < 0 or ord(ch) > ends[at]:
            out.append(ch)
    return out


@functools.cache
def _coverage() -> tuple[list[int], list[int]] | None:
    """The code points some installed font has, as sorted, disjoint ranges (their starts and their ends);
    None if ``fc-list`` is not there or fails."""
    if shutil.which("fc-list") is None:
        return None
    try:
        listed = subprocess.run(["fc-list", "--format", "%{charset}\n"], capture_output=True, text=True,
                                timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    ranges = []
    for token in set(listed.split()):
        low, _, high = token.partition("-")
        try:
            ranges.append((int(low, 16), int(high or low, 16)))
        except ValueError:
            continue
    if not ranges:
        return None
    starts: list[int] = []
    ends: list[int] = []
    for low, high in sorted(ranges):
        if ends and low <= ends[-1] + 1:
            ends[-1] = max(ends[-1], high)
        else:
            starts.append(low)
            ends.append(high)
    return starts, ends


def name(ch: str) -> str:
    """'U+1F3D7 BUILDING CONSTRUCTION'."""
    return f"U+{ord(ch):04X}" + (f" {unicodedata.name(ch)}" if unicodedata.name(ch, "") else "")
