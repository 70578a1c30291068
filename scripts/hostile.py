#!/usr/bin/env python3
"""Hostile-input harness for build_book's robustness promise.

Every manuscript must end in a build or in located diagnostics
(``path:line:col: error|warning[code]: message``, exit 1), in bounded time:
never a Python traceback, never exit 3 ("internal error"), never a hang.

This script derives a few hundred small books from one minimal valid book,
each with one hostile or unusual change (a payload put in one place: chapter
text, a title, a footnote, a caption, a table cell, code, front matter,
book.yml, the .bib, a template, an image, a file name), runs
``python -m build_book check`` on each and, when the check passes,
``python -m build_book all -q``, and classifies the outcome:

  ok          exit 0
  diagnosed   exit 1, and every problem printed is a located diagnostic
  unlocated   exit 1, but something was printed without path:line:col
  traceback   the word "Traceback" in the output
  internal    exit 3 (build_book's "internal error")
  hang        the command did not finish within --timeout seconds
  crash       any other exit status (a signal, 2, ...)
  leak        a build succeeded, but the content of a file placed *outside*
              the book (a canary) appears in build/ (HTML, EPUB or PDF)
  script      a build succeeded, but build/html or the EPUB holds '<script',
              an 'on...=' event attribute or a 'javascript:' URL

usage:
  scripts/hostile.py                      run every case (2 workers)
  scripts/hostile.py --list               list the cases
  scripts/hostile.py --filter yaml        only cases whose category/name contains 'yaml'
  scripts/hostile.py --report build/hostile-report.json --timeout 60 --jobs 2

The exit status is 1 when any case is a traceback, an internal error or a
hang (``--fail-on`` changes the list), else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from html.parser import HTMLParser
import resource
import secrets
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
CLASSES = ("ok", "diagnosed", "unlocated", "traceback", "internal", "hang", "crash", "leak", "script")
DEFAULT_FAIL = ("traceback", "internal", "hang")

# --------------------------------------------------------------------------------------------------------------
# The minimal valid book.  @@SLOT@@ marks where payloads go; each slot has a default.
# --------------------------------------------------------------------------------------------------------------

BOOK_KEYS = {  # book.yml, one fragment per key, in this order
    "title": "title: @@BOOK_TITLE@@",
    "subtitle": "subtitle: @@SUBTITLE@@",
    "lang": "lang: en",
    "date": "date: 2020-01-15",
    "publisher": "publisher: @@PUBLISHER@@",
    "rights": 'rights: "© 2020 Test Press"',
    "identifier": "identifier: urn:uuid:0d4f3b5e-8a56-4b8e-9d3c-3f9e4f0a1b2c",
    "slug": "slug: hostile",
    "editors": "editors: [ed]",
    "contributors": ("contributors:\n  ed:\n    name: @@CONTRIB_NAME@@\n    affiliation: @@AFFILIATION@@\n"
                     "    role: Editor\n  au:\n    name: Ann Author\n    affiliation: Test College"),
    "bibliography": "bibliography: bibliography/refs.bib",
    "csl": "csl: chicago-author-date",
    "chapters": ("chapters:\n  - chapters/00-preface.md\n  - part: @@PART_TITLE@@\n    id: sec-part-first\n"
                 "    chapters:\n      - chapters/01-one.md"),
    "appendices": "appendices:\n  - chapters/a1-data.md",
    "section-depth": "section-depth: 2",
    "crossref": "crossref:\n  figure: Figure",
    "page-references": "page-references: false",
}

FRONT = "authors: [au]\nabstract: @@ABSTRACT@@\nstatus: draft"

CHAPTER_ONE = """\
---
@@FRONT@@
---

# @@TITLE@@ {#sec-one}

Alliances balance threats [@walt1987, 5].[^n1] See @fig-pic, @tbl-data and @sec-appendix.

@@TEXT@@

## @@HEADING@@ {#sec-one-more}

![@@CAPTION@@](@@IMAGE@@){#fig-pic}

| Alliance | Founded |
|:---------|:--------|
| NATO | @@CELL@@ |

: Founding dates {#tbl-data}

```
@@CODE@@
```

[^n1]: @@FOOTNOTE@@
"""

PREFACE = """\
---
authors: [ed]
---

# Preface {#sec-preface .unnumbered}

This volume tests the pipeline; it begins in @sec-one.
"""

APPENDIX = """\
# Data {#sec-appendix}

Dates come from @snyder1997.
"""

BIB = """\
@book{walt1987,
  author = {@@BIB_AUTHOR@@},
  title = {@@BIB_TITLE@@},
  publisher = {Cornell University Press},
  address = {Ithaca, NY},
  year = {1987}
}

@book{snyder1997,
  author = {Snyder, Glenn H.},
  title = {Alliance Politics},
  publisher = {Cornell University Press},
  year = {1997}
}
"""

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="60" viewBox="0 0 120 60">'
       '<rect x="5" y="5" width="110" height="50" fill="#8ab"/></svg>\n')

DEFAULTS = {
    "BOOK_TITLE": "Hostile Test Book", "SUBTITLE": "Probes", "PUBLISHER": "Test Press",
    "CONTRIB_NAME": "EDITOR Ed", "AFFILIATION": "Test University", "PART_TITLE": "First Things",
    "ABSTRACT": "Where alliances come from.", "TITLE": "Origins", "TEXT": "A plain paragraph.",
    "HEADING": "More", "CAPTION": "A picture [@snyder1997]", "IMAGE": "figures/pic.svg", "CELL": "1949",
    "CODE": "print('hello')", "FOOTNOTE": "A note [@snyder1997, 12].", "BIB_AUTHOR": "Walt, Stephen M.",
    "BIB_TITLE": "The Origins of Alliances", "FRONT": FRONT,
}
YAML_SLOTS = {"BOOK_TITLE", "SUBTITLE", "PUBLISHER", "CONTRIB_NAME", "AFFILIATION", "PART_TITLE", "ABSTRACT"}


@dataclass
class Case:
    name: str
    category: str
    slots: dict = field(default_factory=dict)        # slot -> text (YAML slots: already YAML)
    book_keys: dict = field(default_factory=dict)    # book.yml key -> fragment (None: leave the key out)
    book_extra: str = ""                             # appended to book.yml
    files: dict = field(default_factory=dict)        # path in the book -> str | bytes | None (delete)
    hook: Callable | None = None                     # hook(book, outside) after the files are written
    note: str = ""


def _encode(value) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def book_files(case: Case) -> dict[str, bytes]:
    slots = dict(DEFAULTS)
    slots.update(case.slots)
    keys = dict(BOOK_KEYS)
    keys.update(case.book_keys)
    book_yml = "\n".join(v for v in keys.values() if v is not None) + "\n" + case.book_extra
    files: dict[str, object] = {
        "book.yml": book_yml,
        "chapters/00-preface.md": PREFACE,
        "chapters/01-one.md": CHAPTER_ONE,
        "chapters/a1-data.md": APPENDIX,
        "chapters/figures/pic.svg": SVG,
        "bibliography/refs.bib": BIB,
    }

    def fill(text: str) -> str:
        # FRONT first: it holds the ABSTRACT slot
        text = text.replace("@@FRONT@@", slots["FRONT"])
        return re.sub(r"@@([A-Z_]+)@@", lambda m: slots[m.group(1)], text)

    out: dict[str, bytes] = {}
    for path, text in files.items():
        out[path] = _encode(fill(text))
    for path, content in case.files.items():
        if content is None:
            out.pop(path, None)
        else:
            out[path] = _encode(content)
    return out


# --------------------------------------------------------------------------------------------------------------
# Canary files outside the book: their content must never reach an edition.
# --------------------------------------------------------------------------------------------------------------

def _png(width: int, height: int, extra_chunks: bytes = b"") -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    comp = zlib.compressobj(9)
    row = b"\0" + b"\x80" * width  # filter byte + one grey byte a pixel
    data = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    head = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + extra_chunks + chunk(b"IDAT", data) + chunk(b"IEND", b"")


_BIG_PNG: bytes | None = None
_BIG_LOCK = threading.Lock()


def big_png() -> bytes:
    """A 20,000 x 20,000 pixel PNG: 400 MB of pixels, a few hundred kB on disk."""
    global _BIG_PNG
    with _BIG_LOCK:
        if _BIG_PNG is None:
            _BIG_PNG = _png(20000, 20000)
    return _BIG_PNG


def make_outside(outside: Path, token: str) -> None:
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "secret.txt").write_text(f"{token}\n")
    (outside / "secret.md").write_text(f"# Secret {{#sec-secret}}\n\n{token}\n")
    (outside / "secret.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="40">'
        f'<desc>{token}</desc><text x="5" y="25">{token}</text></svg>\n')
    (outside / "secret.bib").write_text(f"@book{{secret,\n  author = {{Secret, S.}},\n  title = {{{token}}},\n"
                                        "  publisher = {P},\n  year = {2000}\n}\n")
    (outside / "secret.css").write_text(f'/* {token} */ body::after {{ content: "{token}"; }}\n')
    (outside / "secret.png").write_bytes(_png(4, 4, b""))


# --------------------------------------------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------------------------------------------

TEXT_PAYLOADS = {
    "nul": "before\x00after",
    "c0-controls": "ctl:" + "".join(chr(i) for i in range(1, 32) if i not in (9, 10, 13)) + ":end",
    "del-c1": "a\x7fb\x80c\x85d\x9fe",
    "lone-cr": "one\rtwo",
    "vt-ff": "a\x0bb\x0cc",
    "ansi-escape": "\x1b[31mred\x1b[0m \x1b]0;title\x07",
    "line-separators": "a\u2028b\u2029c",
    "noncharacters": "x\ufffe\uffff\ufdd0\ufdef\U0001fffe\U0010ffffy",
    "lone-surrogate": "a\ud800b",
    "bom-inside": "\ufeffa\ufeffb",
    "bidi-override": "\u202eevil\u202c \u2066iso\u2069 \u200f",
    "zero-width": "a\u200b\u200c\u200d\u2060\u00adb",
    "combining-2000": "a" + "\u0301" * 2000,
    "astral": "\U0001f600 \U0001d54f \U00013000",
    "japanese-arabic": "日本語のテキスト العربية עברית",
    "long-word-100k": "x" * 100_000,
    "printf": "%s %d %(x)s %% %",
    "jinja": "{{ 7*7 }} {% if x %} {# c #} {{",
    "entities": "&#0; &#x1; &#xD800; &#1114112; &#xFFFE; &bogus; &amp",
    "xml-specials": "<>&\"' ]]> <![CDATA[x]]> <?xml?>",
    "latex": r"\begin{document}\end{x} \\ \input{/etc/passwd} $\frac{1}{0}$",
    "md-specials": "*_`[]{}#@^~|<>\\ ** __ ``",
    "cite-garbage": "[@] @ [@nokey] [-@] @{weird key} [@walt1987, @@]",
    "xref-garbage": "@fig- @sec- @tbl-nonexistent @Fig- @sec-one-more-x [-@]",
    "empty": "",
    "whitespace": "   \t  ",
    "html-script": "<script>alert(1)</script>",
    "html-onclick": '<span onclick="alert(1)">x</span>',
}
TEXT_PLACES = ("TEXT", "TITLE", "HEADING", "FOOTNOTE", "CAPTION", "CELL", "CODE", "ABSTRACT",
               "BOOK_TITLE", "SUBTITLE", "PART_TITLE", "CONTRIB_NAME", "BIB_TITLE", "BIB_AUTHOR")
INLINE_ONLY = {"TITLE", "HEADING", "CAPTION", "CELL"}  # a newline would end the construct


def place_payload(place: str, payload: str) -> str:
    if place in YAML_SLOTS:
        return json.dumps(payload, ensure_ascii=False)  # a YAML double-quoted string, escapes and all
    if place in INLINE_ONLY:
        return payload.replace("\n", " ")
    return payload


# every payload goes into these places; the most hostile few (FEW_PAYLOADS) into the others as well
FEW_PLACES = {"FOOTNOTE", "CELL", "ABSTRACT", "HEADING", "CODE", "SUBTITLE", "PART_TITLE", "CONTRIB_NAME",
              "BIB_AUTHOR"}
FEW_PAYLOADS = {"nul", "c0-controls", "noncharacters", "lone-surrogate", "long-word-100k", "jinja", "entities",
                "xml-specials", "empty"}


def text_cases() -> list[Case]:
    cases = [Case("valid-book", "baseline")]
    for pname, payload in TEXT_PAYLOADS.items():
        for place in TEXT_PLACES:
            if place in FEW_PLACES and pname not in FEW_PAYLOADS:
                continue
            cases.append(Case(f"{pname}@{place.lower()}", "text-payload", slots={place: place_payload(place, payload)}))
    # front matter written as an author would, not quoted: raw control characters in YAML
    for pname in ("nul", "c0-controls", "del-c1", "noncharacters", "lone-surrogate", "bom-inside", "ansi-escape"):
        raw = TEXT_PAYLOADS[pname]
        cases.append(Case(f"{pname}@abstract-raw", "text-payload", slots={"ABSTRACT": raw}))
        cases.append(Case(f"{pname}@book-title-raw", "text-payload", slots={"BOOK_TITLE": raw}))
    return cases


def _nested(open_: str, close: str, depth: int, inner: str = "x") -> str:
    return open_ * depth + inner + close * depth


MARKDOWN = {
    "nested-list-1000": "\n".join("  " * i + "- item" for i in range(1000)),
    "nested-ordered-list-300": "\n".join("   " * i + "1. item" for i in range(300)),
    "nested-quote-1000": ">" * 1000 + " deep",
    "nested-quote-lines-1000": "\n".join("> " * i + "q" for i in range(1, 1000)),
    "nested-div-1000": "::: {.d}\n" * 1000 + "x\n" + ":::\n" * 1000,
    "nested-div-unclosed": "::: {.d}\n" * 500 + "x\n",
    "nested-emphasis-500": _nested("*_", "_*", 500),
    "nested-strong-1000": _nested("**", "**", 1000),
    "nested-brackets-5000": _nested("[", "]", 5000),
    "open-brackets-10000": "[" * 10000,
    "nested-links-500": _nested("[", "](http://x.org)", 500),
    "nested-spans-1000": _nested("[", "]{.s}", 1000),
    "nested-footnotes": "x^[" * 500 + "y" + "]" * 500,
    "nested-html-1000": _nested("<div>", "</div>", 1000),
    "nested-html-span-3000": _nested("<span>", "</span>", 3000),
    "many-images-3000": " ".join("![](figures/pic.svg)" for _ in range(3000)),
    "many-missing-images-2000": " ".join(f"![](no{i}.png)" for i in range(2000)),
    "many-links-5000": " ".join("[a](http://example.org)" for _ in range(5000)),
    "many-footnotes-2000": " ".join(f"x[^f{i}]" for i in range(2000)) + "\n\n" +
                           "\n\n".join(f"[^f{i}]: note {i}" for i in range(2000)),
    "many-citations-3000": " ".join("[@walt1987]" for _ in range(3000)),
    "many-xrefs-3000": " ".join("@fig-pic" for _ in range(3000)),
    "many-headings-1000": "\n\n".join(f"## H{i}" for i in range(1000)),
    "many-unknown-keys-1000": " ".join(f"[@nokey{i}]" for i in range(1000)),
    "long-line-1mb": "word " * 200_000,
    "long-title-heading": "## " + "Long " * 20000,
    "heading-level-7": "####### seven\n\n######## eight",
    "math-deep": "$" + "x^{" * 2000 + "y" + "}" * 2000 + "$",
    "math-display": "$$\\begin{matrix} a & b \\\\ c & d \\end{matrix}$$\n\n$$\\undefinedmacro{x}$$",
    "math-unclosed": "$x + y",
    "grid-table-2000-cols": "|" + "a|" * 2000 + "\n|" + "-|" * 2000 + "\n|" + "1|" * 2000,
    "table-ragged": "| a | b |\n|---|\n| 1 | 2 | 3 |\n| 4 |",
    "table-caption-only": ": Lonely caption {#tbl-lonely}",
    "line-blocks": "\n".join("| " + "x" * i for i in range(200)),
    "definition-list": "Term\n:   def\n\n:   def2\n\nTerm2\n:",
    "example-lists": "(@) one\n(@good) two\n\nSee (@good) and (@missing).",
    "raw-html-comment-dashes": "<!-- a -- b -->\n\nText <!-- c -- d --> more.",
    "raw-html-unclosed-comment": "<!-- never closed\n\ntext",
    "raw-html-o-p": "<p class=MsoNormal>Word<o:p></o:p></p>",
    "raw-html-colon-attrs": '<span xml:lang="en" foo:bar="1" xmlns:o="urn:x">x</span>',
    "raw-html-svg": '<svg width="10" height="10"><circle r="4"/></svg>',
    "raw-html-math": "<math><mi>x</mi><mo>+</mo></math>",
    "raw-html-unclosed-div": "<div>\n\nunclosed",
    "raw-html-stray-close": "</div></section></body></html>",
    "raw-html-void": "a<br>b<hr>c<img src=figures/pic.svg>",
    "raw-html-entities": "&nbsp;&copy;&bogus;&#0;",
    "raw-html-bad-tag": "<1abc> <a <b> </ > <-x>",
    "raw-html-uppercase": "<DIV CLASS=X><P>Upper</DIV>",
    "raw-html-table": "<table><tr><td>cell<td>two</table>",
    "raw-block-html": "```{=html}\n<p>raw <b>bold</p>\n```",
    "raw-block-latex": "```{=latex}\n\\input{/etc/passwd}\n```",
    "raw-inline-openxml": "`<w:p/>`{=openxml}",
    "footnote-misspelled": "A claim.[^nt1]\n\n[^nt]: the note, misspelled",
    "footnote-undefined": "A claim.[^missing]",
    "footnote-duplicate": "A[^d] B[^d]\n\n[^d]: one\n\n[^d]: two",
    "footnote-self": "A[^s]\n\n[^s]: see[^s]",
    "footnote-unused": "[^unused]: never referenced",
    "footnote-with-heading": "A[^h]\n\n[^h]: note\n\n    # heading in a note {#sec-innote}",
    "label-unicode": "## 日本 {#sec-日本}\n\nSee @sec-日本.",
    "label-duplicate": "## Dup {#sec-one}\n\n## Dup2 {#fig-pic}",
    "label-empty": "## Empty {#}\n\n## Dash {#-}",
    "label-long": "## Long {#sec-" + "a" * 5000 + "}",
    "label-wrong-kind": "## Not a fig {#fig-heading}\n\nSee @fig-heading.",
    "figure-label-on-paragraph": "Text {#fig-para}\n\n![](figures/pic.svg){#tbl-img}",
    "xref-to-part-chapter-appendix": "@sec-part-first @sec-preface @sec-appendix @Sec-appendix [-@sec-one]",
    "xref-colon-spelling": "@fig:pic @tbl:data @sec:one @fig:nope",
    "citation-odd-keys": "[@walt1987; @walt1987; -@walt1987, p. ~~] [@a:b] [@{a b}] @walt1987[]",
    "link-to-chapter": "[a](00-preface.md) [b](00-preface.md#nope) [c](missing.md#x) [d](#nope) [e](01-one.md#sec-one)",
    "link-long-target": "[x](" + "a" * 5000 + ".md)",
    "link-nul-target": "[x](a\x00b.md)",
    "link-local-file": "[x](../bibliography/refs.bib) [y](../../../../etc/passwd)",
    "link-file-url": "[x](file:///etc/passwd)",
    "link-weird-schemes": "[a](mailto:x@y) [b](ftp://x) [c](data:text/plain,hi) [d](//host/x) [e](http://)",
    "image-long-name": "![x](" + "a" * 300 + ".png)",
    "image-long-path": "![x](" + "d/" * 3000 + "p.png)",
    "image-nul-path": "![x](fig\x00ures/pic.svg)",
    "image-remote": "![x](http://example.com/x.png)",
    "image-file-url": "![x](file:///etc/hostname)",
    "image-data-uri": "![x](data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=)",
    "image-percent": "![x](figures/pic%2Esvg) ![y](figures/%ZZ.svg) ![z](figures/pic.svg?x=1#y)",
    "image-dir": "![x](figures) ![y](.) ![z](/)",
    "image-empty-target": "![x]() ![]( )",
    "attr-garbage": '[x]{#id .cls key="val" data-x=1 style="color:red"}',
    "attrs-event": '[x]{onclick="alert(1)"} ![y](figures/pic.svg){onload=alert(1)}',
    "heading-attr-event": "## Evil {onmouseover=alert(1)}",
    "div-attr-event": "::: {onmouseover=alert(1)}\nhi\n:::",
    "js-link": "[click](javascript:alert(1)) [c2](JaVaScRiPt:alert(1)) [c3]( javascript:x)",
    "js-autolink": "<javascript:alert(1)>",
    "html-img-onerror": '<img src="x" onerror="alert(1)">',
    "html-iframe-style-base": "<iframe src=x></iframe><style>body{}</style><base href=http://x/>"
                              '<meta http-equiv="refresh" content="0;url=http://x">',
    "html-form": '<form action="http://x"><input name=a></form>',
    "svg-inline-script": "<svg><script>alert(1)</script></svg>",
    "yaml-block-in-body": "---\ntitle: inner\n---\n\nafter",
    "hr-dashes": "---\n\n***\n\n___",
    "tabs-and-cr": "a\tb\r\nc\rd",
    "unterminated-code": "```\nnever closed",
    "many-backticks": "`" * 10000,
    "emoji-heading": "## 😀 {#sec-emoji}",
}


def markdown_cases() -> list[Case]:
    cases = []
    for name, body in MARKDOWN.items():
        cases.append(Case(f"{name}@text", "markdown", slots={"TEXT": body}))
    for name in ("nested-quote-1000", "nested-list-1000", "nested-brackets-5000", "nested-emphasis-500",
                 "many-images-3000", "footnote-misspelled", "raw-html-comment-dashes", "raw-html-o-p",
                 "raw-html-svg", "raw-html-math", "js-link", "html-img-onerror", "math-deep"):
        cases.append(Case(f"{name}@footnote", "markdown", slots={"FOOTNOTE": MARKDOWN[name].replace("\n", " ")}))
    for name in ("nested-brackets-5000", "nested-emphasis-500", "many-images-3000", "raw-html-o-p",
                 "raw-html-svg", "js-link", "label-long", "math-deep"):
        one_line = MARKDOWN[name].replace("\n", " ")
        cases.append(Case(f"{name}@title", "markdown", slots={"TITLE": one_line}))
        cases.append(Case(f"{name}@caption", "markdown", slots={"CAPTION": one_line}))
    return cases


def front(body: str) -> dict:
    return {"FRONT": body}


FRONT_MATTER = {
    "tag-float": "authors: [au]\nabstract: !!float 1.5",
    "tag-int": "authors: [au]\nabstract: !!int 3",
    "tag-timestamp": "authors: [au]\nabstract: !!timestamp 2001-12-14t21:59:43.10-05:00",
    "tag-binary": "authors: [au]\nabstract: !!binary aGVsbG8=",
    "tag-binary-authors": "authors: !!binary aGVsbG8=",
    "tag-python-object": "authors: [au]\nabstract: !!python/object:os.system {}",
    "tag-python-apply": "authors: [au]\nabstract: !!python/object/apply:os.system ['echo pwned']",
    "tag-set": "authors: !!set {au, ed}",
    "tag-omap": "authors: !!omap [a: 1]",
    "tag-unknown": "authors: [au]\nabstract: !mytag x",
    "date-feb-30": "authors: [au]\nabstract: 2012-02-30",
    "date-year-0": "authors: [au]\nabstract: 0000-01-01",
    "date-month-13": "authors: [au]\nstatus: 2012-13-01",
    "status-date": "authors: [au]\nstatus: 2012-01-01",
    "status-int": "authors: [au]\nstatus: 5",
    "status-list": "authors: [au]\nstatus: [draft]",
    "status-map": "authors: [au]\nstatus: {draft: 1}",
    "status-null": "authors: [au]\nstatus:",
    "abstract-map": "authors: [au]\nabstract: {a: 1, b: [2]}",
    "abstract-list": "authors: [au]\nabstract: [1, 2]",
    "abstract-null": "authors: [au]\nabstract:",
    "abstract-nan": "authors: [au]\nabstract: .nan",
    "abstract-huge": "authors: [au]\nabstract: " + "a" * 200_000,
    "authors-map": "authors: {au: 1}",
    "authors-nested": "authors: [[au]]",
    "authors-int": "authors: 5",
    "authors-null": "authors:",
    "authors-empty-id": "authors: ['']",
    "authors-unknown": "authors: [nobody]",
    "recursive-alias-list": "authors: &a [*a]",
    "recursive-alias-map": "authors: [au]\nabstract: &a {x: *a}",
    "undefined-alias": "authors: *nope",
    "merge-key": "base: &b {x: 1}\nabstract:\n  <<: *b",
    "billion-laughs": ("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" +
                       "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n"
                               for i in range(8)) + "authors: *i"),
    "billion-laughs-abstract": ("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" +
                                "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n"
                                        for i in range(8)) + "abstract: *i"),
    "deep-flow-10000": "abstract: " + "[" * 10000 + "]" * 10000,
    "deep-block-500": "abstract:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(500)),
    "key-non-string": "? [a, b]\n: c\n1: x\nnull: y\ntrue: z\nauthors: [au]",
    "key-duplicate": "authors: [au]\nauthors: [ed]",
    "nul-raw": "authors: [au]\nabstract: a\x00b",
    "control-raw": "authors: [au]\nabstract: a\x01\x02\x1bb",
    "tab-indent": "authors:\n\t- au",
    "yaml-directive": "%YAML 1.1\n---\nauthors: [au]",
    "two-documents": "authors: [au]\n---\nabstract: x",
    "scalar": "just a string",
    "list": "- a\n- b",
    "empty": "",
    "unknown-keys": "authors: [au]\ntitle: T\nbibliography: x.bib\ndate: 2020-01-01",
    "bad-syntax": "authors: [au\nabstract: {",
    "huge-int": "authors: [au]\nabstract: " + "9" * 5000,
}


def front_matter_cases() -> list[Case]:
    cases = [Case(name, "front-matter", slots=front(body)) for name, body in FRONT_MATTER.items()]
    cases += [
        Case("unclosed", "front-matter", files={"chapters/01-one.md": "---\nauthors: [au]\n\n# T {#sec-one}\n"}),
        Case("only-front-matter", "front-matter", files={"chapters/01-one.md": "---\nauthors: [au]\n---\n"}),
        Case("dots-end", "front-matter", files={"chapters/01-one.md": "---\nauthors: [au]\n...\n\n# T {#sec-one}\n"}),
        Case("crlf", "front-matter", files={"chapters/01-one.md": "---\r\nauthors: [au]\r\n---\r\n\r\n# T {#sec-one}\r\n"}),
        Case("bom-then-front", "front-matter", files={"chapters/01-one.md": "\ufeff---\nauthors: [au]\n---\n\n# T {#sec-one}\n"}),
        Case("cr-only", "front-matter", files={"chapters/01-one.md": "---\rauthors: [au]\r---\r\r# T {#sec-one}\r"}),
    ]
    return cases


BAD_VALUES = {
    "null": "",
    "list": "[1, [2], {a: 3}]",
    "map": "{a: 1, b: [2]}",
    "int": "42",
    "float": "1.5",
    "bool": "true",
    "binary": "!!binary aGVsbG8=",
    "feb-30": "2012-02-30",
    "timestamp": "!!timestamp 2001-12-14t21:59:43.10-05:00",
    "nan": ".nan",
    "huge-int": "9" * 500,
    "empty-string": '""',
    "nul-escape": '"a\\0b"',
}
FEW_BAD_VALUES = {"null", "list", "map", "int", "binary", "feb-30"}  # for keys where text is expected


def book_yml_cases() -> list[Case]:
    cases = []
    for key in BOOK_KEYS:
        for vname, value in BAD_VALUES.items():
            if key in ("subtitle", "publisher", "rights", "identifier") and vname not in FEW_BAD_VALUES:
                continue
            cases.append(Case(f"{key}={vname}", "book.yml-type", book_keys={key: f"{key}: {value}".rstrip()}))
    chapters = BOOK_KEYS["chapters"]
    spec = {
        "title-missing": {"title": None},
        "chapters-missing": {"chapters": None},
        "chapters-empty": {"chapters": "chapters: []"},
        "title-long-300": {"title": "title: " + "Long " * 60, "slug": None},
        "title-long-2000": {"title": "title: " + "Longer " * 300, "slug": None},
        "title-symbols": {"title": "title: '!!! ???'", "slug": None},
        "title-japanese": {"title": "title: 日本の同盟", "slug": None},
        "slug-dotdot": {"slug": "slug: ../escape"},
        "slug-long": {"slug": "slug: " + "s" * 400},
        "slug-dots": {"slug": "slug: '...'"},
        "part-title-list": {"chapters": chapters.replace("part: @@PART_TITLE@@", "part: [a, b]")},
        "part-title-map": {"chapters": chapters.replace("part: @@PART_TITLE@@", "part: {a: 1}")},
        "part-title-null": {"chapters": chapters.replace("part: @@PART_TITLE@@", "part:")},
        "part-title-binary": {"chapters": chapters.replace("part: @@PART_TITLE@@", "part: !!binary aGk=")},
        "part-id-list": {"chapters": chapters.replace("id: sec-part-first", "id: [a]")},
        "part-id-int": {"chapters": chapters.replace("id: sec-part-first", "id: 5")},
        "part-id-dup-chapter": {"chapters": chapters.replace("id: sec-part-first", "id: sec-one")},
        "part-chapters-null": {"chapters": chapters.replace("chapters:\n      - chapters/01-one.md", "chapters:")},
        "part-chapters-map": {"chapters": chapters.replace("chapters:\n      - chapters/01-one.md",
                                                           "chapters: {a: 1}")},
        "part-nested": {"chapters": chapters.replace("      - chapters/01-one.md",
                                                     "      - part: Inner\n        chapters: [chapters/01-one.md]")},
        "chapter-entry-int": {"chapters": chapters + "\n  - 5"},
        "chapter-entry-null": {"chapters": chapters + "\n  -"},
        "chapter-entry-map": {"chapters": chapters + "\n  - {a: b}"},
        "chapter-entry-list": {"chapters": chapters + "\n  - [chapters/a1-data.md]"},
        "chapter-wrong-capital": {"chapters": chapters.replace("01-one.md", "01-One.md")},
        "chapter-dir": {"chapters": chapters + "\n  - chapters"},
        "chapter-dot": {"chapters": chapters + "\n  - ."},
        "chapter-empty-path": {"chapters": chapters + "\n  - ''"},
        "chapter-absolute": {"chapters": chapters + "\n  - /etc/hostname"},
        "chapter-outside": {"chapters": chapters + "\n  - ../outside/secret.md"},
        "chapter-nul": {"chapters": chapters + '\n  - "chapters/a\\0b.md"'},
        "chapter-long-path": {"chapters": chapters + "\n  - " + "c" * 5000 + ".md"},
        "chapter-long-name-300": {"chapters": chapters + "\n  - chapters/" + "c" * 300 + ".md"},
        "chapter-twice": {"chapters": chapters + "\n  - chapters/01-one.md"},
        "chapter-backslash": {"chapters": chapters.replace("chapters/00-preface.md", "chapters\\00-preface.md")},
        "chapter-bib-as-chapter": {"chapters": chapters + "\n  - bibliography/refs.bib"},
        "chapter-svg-as-chapter": {"chapters": chapters + "\n  - chapters/figures/pic.svg"},
        "appendix-also-chapter": {"appendices": "appendices: [chapters/a1-data.md, chapters/01-one.md]"},
        "contributor-name-empty": {"contributors": BOOK_KEYS["contributors"].replace("name: @@CONTRIB_NAME@@",
                                                                                     'name: ""')},
        "contributor-name-null": {"contributors": BOOK_KEYS["contributors"].replace("name: @@CONTRIB_NAME@@",
                                                                                    "name:")},
        "contributor-name-list": {"contributors": BOOK_KEYS["contributors"].replace("name: @@CONTRIB_NAME@@",
                                                                                    "name: [a, b]")},
        "contributor-name-int": {"contributors": BOOK_KEYS["contributors"].replace("name: @@CONTRIB_NAME@@",
                                                                                   "name: 5")},
        "contributor-affiliation-map": {"contributors": BOOK_KEYS["contributors"].replace(
            "affiliation: @@AFFILIATION@@", "affiliation: {a: 1}")},
        "contributor-role-list": {"contributors": BOOK_KEYS["contributors"].replace("role: Editor", "role: [a]")},
        "contributor-list": {"contributors": "contributors: [ed, au]"},
        "contributor-id-int": {"contributors": "contributors:\n  1: One\n  ed: Ed\n  au: Au"},
        "contributor-id-null": {"contributors": "contributors:\n  ~: One\n  ed: Ed\n  au: Au"},
        "contributor-string": {"contributors": "contributors:\n  ed: Ed\n  au: Au"},
        "contributor-null": {"contributors": "contributors:\n  ed:\n  au: Au"},
        "editors-int-list": {"editors": "editors: [1, 2]"},
        "editors-nested": {"editors": "editors: [[ed]]"},
        "crossref-printf": {"crossref": "crossref:\n  figure: 'Fig. %s %d'\n  table: '%'\n  page: '%(x)s'"},
        "crossref-percent-s": {"crossref": "crossref:\n  figure: '%s'\n  chapter: 'Ch. %s %s'"},
        "crossref-null-word": {"crossref": "crossref:\n  figure:"},
        "crossref-map-word": {"crossref": "crossref:\n  figure: {a: 1}"},
        "crossref-int-word": {"crossref": "crossref:\n  figure: 5"},
        "crossref-list": {"crossref": "crossref: [figure]"},
        "crossref-html": {"crossref": "crossref:\n  figure: '<script>alert(1)</script>'"},
        "crossref-long": {"crossref": "crossref:\n  figure: " + "F" * 10000},
        "section-depth-99": {"section-depth": "section-depth: 99"},
        "section-depth-neg": {"section-depth": "section-depth: -1"},
        "section-depth-str": {"section-depth": "section-depth: '2'"},
        "lang-empty": {"lang": "lang: ''"},
        "lang-garbage": {"lang": "lang: 'xx-!!!<>'"},
        "lang-ja": {"lang": "lang: ja"},
        "lang-path": {"lang": "lang: ../../etc"},
        "date-year-0": {"date": "date: 0000-01-01"},
        "date-9999": {"date": "date: 9999-12-31"},
        "date-string-13": {"date": "date: '2012-13-45'"},
        "date-with-time": {"date": "date: 2012-03-31 10:00:00"},
        "identifier-xml": {"identifier": "identifier: '<id>&\"'"},
        "identifier-long": {"identifier": "identifier: " + "i" * 10000},
        "csl-missing": {"csl": "csl: no-such-style"},
        "csl-absolute": {"csl": "csl: /etc/passwd"},
        "csl-outside": {"csl": "csl: ../outside/secret.txt"},
        "csl-dir": {"csl": "csl: chapters"},
        "csl-path-missing": {"csl": "csl: styles/none.csl"},
        "csl-traversal-name": {"csl": "csl: ../../../../etc/passwd"},
        "bibliography-missing": {"bibliography": "bibliography: none.bib"},
        "bibliography-dir": {"bibliography": "bibliography: bibliography"},
        "bibliography-outside": {"bibliography": "bibliography: ../outside/secret.bib"},
        "bibliography-absolute": {"bibliography": "bibliography: /etc/passwd"},
        "bibliography-twice": {"bibliography": "bibliography: [bibliography/refs.bib, bibliography/refs.bib]"},
        "bibliography-empty-list": {"bibliography": "bibliography: []"},
        "bibliography-the-chapter": {"bibliography": "bibliography: chapters/01-one.md"},
        "unknown-key": {"slug": "slug: hostile\ntitel: typo\n'': empty\n? [x]\n: complex"},
        "duplicate-key": {"slug": "slug: hostile\nslug: again"},
    }
    for name, keys in spec.items():
        cases.append(Case(name, "book.yml", book_keys=keys))
    cases += [
        Case("csl-bad-file", "book.yml", book_keys={"csl": "csl: style.csl"}, files={"style.csl": "<style><oops"}),
        Case("csl-binary-file", "book.yml", book_keys={"csl": "csl: style.csl"}, files={"style.csl": bytes(range(256))}),
        Case("csl-empty-file", "book.yml", book_keys={"csl": "csl: style.csl"}, files={"style.csl": ""}),
        Case("csl-xxe", "book.yml", book_keys={"csl": "csl: style.csl"}, files={"style.csl": XXE_CSL}),
        Case("chapter-binary", "book.yml", files={"chapters/01-one.md": bytes(range(256)) * 4}),
        Case("chapter-zero-bytes", "book.yml", files={"chapters/01-one.md": b""}),
        Case("chapter-latin1", "book.yml", files={"chapters/01-one.md": "# Caf\xe9 {#sec-one}\n".encode("latin-1")}),
        Case("chapter-utf16", "book.yml", files={"chapters/01-one.md": "# T {#sec-one}\n".encode("utf-16")}),
        Case("chapter-huge-5mb", "book.yml", files={"chapters/01-one.md": "# T {#sec-one}\n\n" +
                                                    ("Some words in a paragraph. " * 40 + "\n\n") * 4500}),
        Case("chapter-name-spaces-unicode", "book.yml",
             book_keys={"appendices": "appendices:\n  - 'chapters/a1 dätä ü.md'"},
             files={"chapters/a1-data.md": None, "chapters/a1 dätä ü.md": APPENDIX}),
        Case("chapter-name-dash", "book.yml", book_keys={"appendices": "appendices:\n  - -version.md"},
             files={"-version.md": APPENDIX}),
        Case("chapter-name-newline-colon", "book.yml", book_keys={"appendices": "appendices:\n  - \"a:1:2: b\\nc.md\""},
             files={"a:1:2: b\nc.md": APPENDIX}),
        Case("chapter-name-255", "book.yml", book_keys={"appendices": "appendices:\n  - " + "a" * 252 + ".md"},
             files={"a" * 252 + ".md": APPENDIX}),
        Case("chapter-symlink-outside", "book.yml", book_keys={"appendices": "appendices: [chapters/link.md]"},
             hook=lambda b, o: (b / "chapters/link.md").symlink_to(o / "secret.md")),
        Case("chapter-symlink-loop", "book.yml", book_keys={"appendices": "appendices: [chapters/loop.md]"},
             hook=lambda b, o: (b / "chapters/loop.md").symlink_to(b / "chapters/loop.md")),
        Case("chapter-symlink-dangling", "book.yml", book_keys={"appendices": "appendices: [chapters/dangle.md]"},
             hook=lambda b, o: (b / "chapters/dangle.md").symlink_to(b / "nowhere.md")),
        Case("chapter-unreadable", "book.yml", hook=lambda b, o: os.chmod(b / "chapters/a1-data.md", 0)),
        Case("bib-unreadable", "book.yml", hook=lambda b, o: os.chmod(b / "bibliography/refs.bib", 0)),
        Case("build-is-a-file", "book.yml", files={"build": "not a folder"}),
        Case("build-read-only", "book.yml", hook=lambda b, o: ((b / "build").mkdir(), os.chmod(b / "build", 0o555))),
    ]
    return cases


XXE_CSL = ('<?xml version="1.0"?>\n<!DOCTYPE style [<!ENTITY x SYSTEM "../outside/secret.txt">]>\n'
           '<style xmlns="http://purl.org/net/xbiblio/csl" class="in-text" version="1.0">'
           '<info><title>&x;</title><id>x</id><updated>2020-01-01T00:00:00+00:00</updated></info>'
           '<citation><layout><text value="&x;"/></layout></citation>'
           '<bibliography><layout><text variable="title"/><text value="&x;"/></layout></bibliography></style>\n')


def yaml_file_cases() -> list[Case]:
    laughs = ("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" +
              "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)))
    whole = {
        "empty-file": "",
        "only-comment": "# nothing\n",
        "a-list": "- title\n- chapters\n",
        "a-scalar": "just text\n",
        "nul-raw": BOOK_KEYS["title"].replace("@@BOOK_TITLE@@", "A\x00B"),
        "bom": "\ufefftitle: T\nchapters: [chapters/01-one.md]\n",
        "latin1": "title: Caf\xe9\nchapters: [chapters/01-one.md]\n".encode("latin-1"),
        "utf16": "title: T\nchapters: [chapters/01-one.md]\n".encode("utf-16"),
        "crlf": "title: T\r\nbibliography: bibliography/refs.bib\r\nchapters:\r\n  - chapters/01-one.md\r\n"
                "contributors: {au: Au}\r\n",
        "tabs": "title: T\nchapters:\n\t- chapters/01-one.md\n",
        "billion-laughs-title": laughs + "title: *i\nchapters: [chapters/01-one.md]\n",
        "billion-laughs-chapters": laughs + "title: T\nchapters: *i\n",
        "billion-laughs-unknown-key": laughs + "title: T\nchapters: [chapters/01-one.md]\n",
        "recursive-alias-chapters": "title: T\nchapters: &c [chapters/01-one.md, *c]\n",
        "recursive-alias-contributors": "title: T\nchapters: [chapters/01-one.md]\ncontributors: &c {au: *c}\n",
        "recursive-alias-crossref": "title: T\nchapters: [chapters/01-one.md]\ncrossref: &c {figure: *c}\n",
        "recursive-merge": "title: T\nchapters: [chapters/01-one.md]\nx: &x\n  <<: *x\n",
        "deep-flow-10000": "title: T\nchapters: " + "[" * 10000 + "]" * 10000 + "\n",
        "deep-block-1000": "title: T\nchapters: [chapters/01-one.md]\ncrossref:\n" +
                           "".join("  " * (i + 1) + f"k{i}:\n" for i in range(1000)),
        "huge-10mb": "title: T\nchapters: [chapters/01-one.md]\nrights: " + "r" * 10_000_000 + "\n",
        "many-keys-20000": "title: T\nchapters: [chapters/01-one.md]\n" + "".join(f"k{i}: v\n" for i in range(20000)),
        "python-apply": "!!python/object/apply:os.system ['echo pwned > /tmp/pwned']\n",
        "yaml-directive-1.2": "%YAML 1.2\n---\ntitle: T\nchapters: [chapters/01-one.md]\n",
        "two-documents": "title: T\nchapters: [chapters/01-one.md]\n---\ntitle: U\n",
        "anchor-on-key": "&k title: T\n*k : U\nchapters: [chapters/01-one.md]\n",
        "syntax-error": "title: [T\nchapters: {\n",
        "directory": None,
    }
    cases = []
    for name, content in whole.items():
        if content is None:
            cases.append(Case(name, "yaml-file", hook=lambda b, o: ((b / "book.yml").unlink(),
                                                                    (b / "book.yml").mkdir())))
        else:
            cases.append(Case(name, "yaml-file", files={"book.yml": content}))
    return cases


def bib_cases() -> list[Case]:
    head = BIB.replace("@@BIB_AUTHOR@@", "Walt, Stephen M.").replace("@@BIB_TITLE@@", "The Origins of Alliances")
    cite = "@snyder1997 [@walt1987] [@a] [@b] [@self]"
    bibs = {
        "crossref-self": "@book{self, crossref = {self}, title = {S}, year = {2000}}",
        "crossref-cycle": "@book{a, crossref = {b}, title = {A}}\n@book{b, crossref = {a}, title = {B}}",
        "crossref-missing": "@incollection{a, crossref = {nobody}, title = {A}, author = {X, Y}}",
        "crossref-chain-100": "\n".join(f"@book{{c{i}, crossref = {{c{i + 1}}}, title = {{T{i}}}}}" for i in range(100))
                              + "\n@book{c100, title = {End}, year = {1999}}",
        "xdata-self": "@book{self, xdata = {self}, title = {S}}",
        "xdata-cycle": "@xdata{a, xdata = {b}, publisher = {P}}\n@xdata{b, xdata = {a}, year = {1}}\n"
                       "@book{self, xdata = {a}, title = {S}}",
        "field-100k": "@book{a, author = {Long, L.}, title = {" + "t" * 100_000 + "}, year = {2000}}",
        "field-1m": "@book{a, author = {Long, L.}, note = {" + "n " * 500_000 + "}, year = {2000}}",
        "authors-5000": "@book{a, author = {" + " and ".join(f"Name{i}, A." for i in range(5000)) + "}, year = {1}}",
        "author-only-and": "@book{a, author = {and and and}, title = {T}, year = {1}}",
        "nested-braces-1000": "@book{a, title = {" + "{" * 1000 + "x" + "}" * 1000 + "}, year = {1}}",
        "unbalanced-open": "@book{a, title = {Oops, year = {1}\n",
        "unbalanced-close": "@book{a, title = {Oops}}}, year = {1}}\n",
        "no-key": "@book{, title = {T}}",
        "weird-key": "@book{a b:c/d#e, title = {T}}",
        "unicode-key": "@book{日本, title = {T}, year = {1}}",
        "duplicate-key": "@book{walt1987, title = {Again}}",
        "duplicate-field": "@book{a, title = {One}, title = {Two}, year = {1}}",
        "string-recursive": "@string{x = x # x}\n@book{a, title = x, year = {1}}",
        "string-undefined": "@book{a, title = undefinedmacro, month = foo, year = {1}}",
        "string-concat-bomb": "@string{a = {aaaaaaaaaa}}\n" + "".join(
            f"@string{{{chr(98 + i)} = {' # '.join([chr(97 + i)] * 10)}}}\n" for i in range(6))
            + "@book{a2, title = g, year = {1}}",
        "entry-type-weird": "@@@{a, title = {T}}\n@{b, title = {T}}\n@123{c, title = {T}}",
        "comment-unclosed": "@comment{never closed\n",
        "preamble": '@preamble{"\\newcommand{\\x}{y}"}',
        "year-huge": "@book{a, title = {T}, year = {99999999999999999999}}",
        "year-text": "@book{a, title = {T}, year = {circa sometime}, date = {2012-02-30}}",
        "date-garbage": "@book{a, title = {T}, date = {2012-13-45/../..}}",
        "pages-odd": "@article{a, title = {T}, pages = {--}, volume = {-1}, number = {\\relax}, year = {1}}",
        "latex-commands": r"@book{a, title = {\"{o}\verb|x| \url{http://x} \input{/etc/passwd} $x^2$ \\ \par}, year = {1}}",
        "url-javascript": "@misc{a, title = {T}, url = {javascript:alert(1)}, doi = {\"><script>alert(1)</script>}, year = {1}}",
        "html-in-title": "@book{a, title = {<script>alert(1)</script> <b onclick=x>b</b>}, year = {1}}",
        "nul-field": "@book{a, title = {a\x00b}, year = {1}}",
        "control-field": "@book{a, title = {a\x01\x1b\x7fb}, author = {\x0c, X}, year = {1}}",
        "noncharacter-field": "@book{a, title = {\ufffe\uffff\U0001fffe}, year = {1}}",
        "lone-surrogate-field": "@book{a, title = {a\ud800b}, year = {1}}",
        "many-entries-3000": "\n".join(f"@book{{e{i}, author = {{A{i}, B.}}, title = {{T{i}}}, year = {{{1900 + i % 100}}}}}"
                                       for i in range(3000)),
    }
    cases = []
    for name, extra in bibs.items():
        cases.append(Case(name, "bibtex", files={"bibliography/refs.bib": head + "\n" + extra + "\n"},
                          slots={"TEXT": cite}))
    cases += [
        Case("bib-empty", "bibtex", files={"bibliography/refs.bib": ""}),
        Case("bib-binary", "bibtex", files={"bibliography/refs.bib": bytes(range(256)) * 8}),
        Case("bib-latin1", "bibtex", files={"bibliography/refs.bib": head.replace("Walt", "W\xe4lt").encode("latin-1")}),
        Case("bib-utf16", "bibtex", files={"bibliography/refs.bib": head.encode("utf-16")}),
        Case("bib-symlink-outside", "bibtex",
             hook=lambda b, o: ((b / "bibliography/refs.bib").unlink(),
                                (b / "bibliography/refs.bib").symlink_to(o / "secret.bib"))),
    ]
    return cases


TEMPLATE_NAMES = ("pdf/book.html.j2", "epub/chapter.xhtml.j2", "html/chapter.html.j2", "html/base.html.j2")


def template_cases() -> list[Case]:
    bodies = {
        "syntax-error": "{% if %}broken{% endfor %}",
        "undefined-variable": "{{ no_such_variable.attribute }}",
        "undefined-filter": "{{ title | nosuchfilter }}",
        "missing-include": '{% include "no/such.j2" %}',
        "recursive-include": '{% include "@@SELF@@" %}',
        "binary": bytes(range(256)) * 4,
        "raise": "{{ 1 / 0 }}",
        "huge-loop": "{% for i in range(100000000) %}{% endfor %}",
        "not-xml": "<html><body><p>unclosed <b>tags &nbsp; <o:p></body>",
        "empty": "",
        "extends-self": '{% extends "@@SELF@@" %}',
    }
    cases = []
    everywhere = {"syntax-error", "undefined-variable", "recursive-include", "binary"}
    for name, body in bodies.items():
        for template in TEMPLATE_NAMES if name in everywhere else TEMPLATE_NAMES[:2]:
            text = body.replace("@@SELF@@", template) if isinstance(body, str) else body
            cases.append(Case(f"{name}@{template}", "template", files={f"templates/{template}": text}))
    css = {
        "garbage": "}}}{{{ @media ;;; body { color: red",
        "page-huge": "@page { size: 100000in 100000in; margin: 0 }",
        "page-zero": "@page { size: 0 0; margin: 0 }",
        "page-negative-margins": "@page { size: A4; margin: -1000in }",
        "margins-bigger-than-page": "@page { size: A6; margin: 80mm }",
        "font-huge": "* { font-size: 1e30px !important }",
        "font-big": "body, p { font-size: 2000pt !important }",
        "font-zero": "* { font-size: 0 !important }",
        "line-height-huge": "p { line-height: 1e9 }",
        "import-outside": '@import url("../../../outside/secret.css");',
        "import-file-url": '@import url("file:///etc/passwd");',
        "import-self": '@import url("print.css");',
        "font-face-missing": '@font-face { font-family: X; src: url("none.ttf") } body { font-family: X }',
        "content-attr": "p::before { content: attr(class) counter(page) }",
        "binary": bytes(range(256)) * 4,
        "deep-nesting": "@media print {" * 2000 + "}" * 2000,
    }
    for name, body in css.items():
        cases.append(Case(f"{name}@pdf/print.css", "template-css", files={"templates/pdf/print.css": body}))
    for name in ("garbage", "binary", "import-outside", "deep-nesting"):
        for sheet in ("epub/style.css", "html/style.css"):
            cases.append(Case(f"{name}@{sheet}", "template-css", files={f"templates/{sheet}": css[name]}))
    cases += [
        Case("templates-is-a-file", "template", files={"templates": "a file"}),
        Case("template-is-a-dir", "template", hook=lambda b, o: (b / "templates/pdf/book.html.j2").mkdir(parents=True)),
        Case("css-symlink-outside", "template",
             hook=lambda b, o: ((b / "templates/html").mkdir(parents=True),
                                (b / "templates/html/style.css").symlink_to(o / "secret.css"))),
    ]
    return cases


def image_cases() -> list[Case]:
    def image(name: str, content, note: str = "") -> Case:
        target = f"<figures/{name}>" if " " in name else f"figures/{name}"
        return Case(name, "image", slots={"IMAGE": target},
                    files={f"chapters/figures/{name}": content}, note=note)

    svg_head = '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="50">'
    cases = [
        image("zero.png", b""),
        image("zero.svg", b""),
        image("zero.jpg", b""),
        image("corrupt.png", b"\x89PNG\r\n\x1a\n" + os.urandom(200)),
        image("text.png", "this is not a PNG\n"),
        image("truncated.png", _png(64, 64)[:60]),
        image("huge-header.png", _png(1, 1).replace(struct.pack(">II", 1, 1), struct.pack(">II", 2**31 - 1, 2**31 - 1))),
        image("corrupt.jpg", b"\xff\xd8\xff\xe0" + os.urandom(100)),
        image("corrupt.gif", b"GIF89a" + os.urandom(50)),
        image("corrupt.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 " + os.urandom(20)),
        image("bad-xml.svg", svg_head + "<rect></svg"),
        image("not-svg.svg", "<html><body>hello</body></html>"),
        image("text.svg", "plain text, no XML at all"),
        image("entity-bomb.svg", '<?xml version="1.0"?>\n<!DOCTYPE svg [\n<!ENTITY a "aaaaaaaaaa">\n' +
              "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">\n' for i in range(8)) +
              f']>\n{svg_head}<text y="20">&i;</text></svg>'),
        image("xxe.svg", '<?xml version="1.0"?>\n<!DOCTYPE svg [<!ENTITY x SYSTEM "../../../outside/secret.txt">]>\n'
              f'{svg_head}<text y="20">&x;</text></svg>'),
        image("xxe-abs.svg", "@@XXE_ABS@@"),
        image("href-outside.svg", f'{svg_head}<image href="../../../outside/secret.svg" width="100" height="50"/></svg>'),
        image("href-file-url.svg", "@@HREF_FILE@@"),
        image("script.svg", f'{svg_head}<script>alert(1)</script><rect width="5" height="5" onclick="x()"/></svg>'),
        image("foreign-object.svg", f'{svg_head}<foreignObject><p xmlns="http://www.w3.org/1999/xhtml" '
              'onclick="x">hi</p></foreignObject></svg>'),
        image("huge-dimensions.svg", '<svg xmlns="http://www.w3.org/2000/svg" width="1e9" height="1e9">'
              '<rect width="1e9" height="1e9"/></svg>'),
        image("zero-dimensions.svg", '<svg xmlns="http://www.w3.org/2000/svg" width="0" height="0"/>'),
        image("deep-svg.svg", svg_head + "<g>" * 5000 + "</g>" * 5000 + "</svg>"),
        image("many-elements.svg", svg_head + '<rect width="1" height="1"/>' * 200_000 + "</svg>"),
        image("upper.SVG", SVG),
        image("noext", SVG),
        image("scan.tiff", b"II*\x00" + os.urandom(64)),
        image("name with spaces & ü.svg", SVG),
        image("pct%20name.svg", SVG),
    ]
    cases.append(Case("png-20000x20000", "image", slots={"IMAGE": "figures/big.png"},
                      hook=lambda b, o: (b / "chapters/figures/big.png").write_bytes(big_png())))
    cases.append(Case("image-is-dir", "image", slots={"IMAGE": "figures/dir.png"},
                      hook=lambda b, o: (b / "chapters/figures/dir.png").mkdir()))
    cases.append(Case("image-unreadable", "image", slots={"IMAGE": "figures/pic.svg"},
                      hook=lambda b, o: os.chmod(b / "chapters/figures/pic.svg", 0)))
    cases.append(Case("image-symlink-loop", "image", slots={"IMAGE": "figures/loop.svg"},
                      hook=lambda b, o: (b / "chapters/figures/loop.svg").symlink_to(b / "chapters/figures/loop.svg")))
    cases.append(Case("image-wrong-capital", "image", slots={"IMAGE": "figures/Pic.svg"}))
    return cases


def security_cases() -> list[Case]:
    def hook_link(name: str, target: str):
        return lambda b, o: (b / "chapters/figures" / name).symlink_to(o / target)

    cases = [
        Case("image-dotdot-outside", "security", slots={"IMAGE": "../../outside/secret.svg"}),
        Case("image-dotdot-png", "security", slots={"IMAGE": "../../outside/secret.png"}),
        Case("image-absolute-outside", "security", slots={"IMAGE": "@@OUTSIDE@@/secret.svg"}),
        Case("image-absolute-etc", "security", slots={"IMAGE": "/etc/hostname"}),
        Case("image-file-url-outside", "security", slots={"IMAGE": "file://@@OUTSIDE@@/secret.svg"}),
        Case("image-symlink-outside", "security", slots={"IMAGE": "figures/link.svg"},
             hook=hook_link("link.svg", "secret.svg")),
        Case("image-symlink-dir-outside", "security", slots={"IMAGE": "figures/out/secret.svg"},
             hook=lambda b, o: (b / "chapters/figures/out").symlink_to(o)),
        Case("image-dotdot-inside", "security", slots={"IMAGE": "../chapters/figures/pic.svg"}),
        Case("link-dotdot-outside", "security", slots={"TEXT": "[secret](../../outside/secret.txt)"}),
        Case("link-absolute-outside", "security", slots={"TEXT": "[secret](@@OUTSIDE@@/secret.txt)"}),
        Case("chapter-link-outside-md", "security", slots={"TEXT": "[secret](../../outside/secret.md#sec-secret)"}),
        Case("include-syntax", "security", slots={"TEXT": "!include ../../outside/secret.md\n\n{{< include ../../outside/secret.md >}}"}),
        Case("script-tag", "security", slots={"TEXT": "<script>alert(1)</script>"}),
        Case("script-uppercase", "security", slots={"TEXT": "<SCRIPT SRC=//x></SCRIPT>"}),
        Case("onclick-span", "security", slots={"TEXT": '<span onclick="alert(1)">x</span>'}),
        Case("onclick-attr-md", "security", slots={"TEXT": '[x]{onclick="alert(1)"}'}),
        Case("javascript-link", "security", slots={"TEXT": "[x](javascript:alert(1))"}),
        Case("javascript-link-entity", "security", slots={"TEXT": "[x](jav&#x61;script:alert(1))"}),
        Case("javascript-ref-link", "security", slots={"TEXT": "[x][r]\n\n[r]: javascript:alert(1)"}),
        Case("javascript-in-footnote", "security", slots={"FOOTNOTE": "[x](javascript:alert(1))"}),
        Case("javascript-in-caption", "security", slots={"CAPTION": "[x](javascript:alert(1))"}),
        Case("javascript-in-title", "security", slots={"TITLE": "[x](javascript:alert(1))"}),
        Case("script-in-book-title", "security", slots={"BOOK_TITLE": '"<script>alert(1)</script>"'}),
        Case("script-in-contributor", "security", slots={"CONTRIB_NAME": '"<img src=x onerror=alert(1)>"'}),
        Case("script-in-abstract", "security", slots={"ABSTRACT": '"<script>alert(1)</script>"'}),
        Case("script-in-part", "security", slots={"PART_TITLE": '"<script>alert(1)</script>"'}),
        Case("script-in-bib", "security", slots={"BIB_TITLE": "<script>alert(1)</script>"}),
        Case("svg-script-image", "security", slots={"IMAGE": "figures/s.svg"},
             files={"chapters/figures/s.svg": '<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9">'
                                              '<script>alert(1)</script></svg>'}),
        Case("template-symlink-outside", "security",
             hook=lambda b, o: ((b / "templates/html").mkdir(parents=True),
                                (b / "templates/html/chapter.html.j2").symlink_to(o / "secret.txt"))),
    ]
    return cases


def filename_cases() -> list[Case]:
    return [
        Case("image-path-4097", "filename", slots={"IMAGE": "figures/" + "x" * 4097 + ".png"}),
        Case("image-name-256", "filename", slots={"IMAGE": "figures/" + "x" * 256 + ".png"}),
        Case("image-nul", "filename", slots={"IMAGE": "figures/pic\x00.svg"}),
        Case("image-newline", "filename", slots={"IMAGE": "figures/pic\n.svg"}),
        Case("link-target-5000", "filename", slots={"TEXT": "[x](" + "y" * 5000 + ")"}),
        Case("link-target-nul", "filename", slots={"TEXT": "[x](a\x00b)"}),
        Case("link-chapter-long", "filename", slots={"TEXT": "[x](" + "c" * 300 + ".md#sec-x)"}),
        Case("title-long-derived-label", "filename", slots={"TITLE": "Word " * 200},
             files={"chapters/01-one.md": CHAPTER_ONE.replace("{#sec-one}", "")}),
        Case("heading-long-derived-id", "filename", slots={"HEADING": "Word " * 2000},
             files={"chapters/01-one.md": CHAPTER_ONE.replace("{#sec-one-more}", "")}),
        Case("chapter-label-300", "filename",
             files={"chapters/01-one.md": CHAPTER_ONE.replace("{#sec-one}", "{#sec-" + "l" * 300 + "}")
                    .replace("@sec-one", "@sec-" + "l" * 300)}),
        Case("chapter-label-reserved", "filename",
             files={"chapters/a1-data.md": APPENDIX.replace("sec-appendix", "sec-index")}),
        Case("chapter-label-slashes", "filename",
             files={"chapters/a1-data.md": APPENDIX.replace("{#sec-appendix}", "{#sec-../../x}")}),
    ]


def all_cases() -> list[Case]:
    cases = (text_cases() + markdown_cases() + front_matter_cases() + book_yml_cases() + yaml_file_cases()
             + bib_cases() + template_cases() + image_cases() + security_cases() + filename_cases())
    names = Counter((c.category, c.name) for c in cases)
    dup = [k for k, n in names.items() if n > 1]
    assert not dup, dup
    return cases


# --------------------------------------------------------------------------------------------------------------
# Running and classifying
# --------------------------------------------------------------------------------------------------------------

DIAG = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning)\[(?P<code>[A-Za-z0-9_.-]+)\]: .+")
BENIGN = [
    re.compile(r"^    hint: "),
    re.compile(r"^\d+ errors?, \d+ warnings?$"),
    re.compile(r"^  .+: \d+ errors?, \d+ warnings?$"),
    re.compile(r"^no problems found$"),
    re.compile(r"^build stopped: nothing was written"),
    re.compile(r"^      +\S"),                      # a hint's further lines
    re.compile(r"^checking the book in "),          # progress
    re.compile(r"^python -m build_book: .*(book\.yml|folder)"),   # no book to read: nothing to locate
    re.compile(r"^  (run the command|or name the book|title: and chapters|a book's book\.yml)"),
]
SCRIPT_PATTERN = re.compile(rb"<script|<[^>]*\son[a-z]+\s*=|javascript:", re.I)


class _Markup(HTMLParser):
    """What a browser would run: a <script> element, an on...= attribute, a javascript: address
    in an attribute (text that merely mentions them, escaped, is not script)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag.lower() == "script":
            self.found.append("<script>")
        for name, value in attrs:
            plain = re.sub(r"[\x00-\x20]", "", (value or "")).lower()
            if name.lower().startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            elif plain.startswith(("javascript:", "vbscript:")):
                self.found.append(f"<{tag} {name}={value[:30]!r}>")

    handle_startendtag = handle_starttag


class _Script:
    """SCRIPT.search(data): the first piece of script a browser would run in ``data``, or None."""

    @staticmethod
    def search(data: bytes):
        if not SCRIPT_PATTERN.search(data):  # quick: nothing that even looks like script
            return None
        parser = _Markup()
        try:
            parser.feed(data.decode("utf-8", errors="replace"))
            parser.close()
        except Exception:  # noqa: BLE001 - unparsable: fall back to the pattern
            return SCRIPT_PATTERN.search(data)
        if not parser.found:
            return None
        found = parser.found[0].encode()
        return re.search(re.escape(found), found)


SCRIPT = _Script()


@dataclass
class Phase:
    command: str
    exit: int | None
    seconds: float
    output: str
    stray: list[str]


def limit_memory(megabytes: int):
    def apply():
        os.setsid()
        if megabytes:
            # RLIMIT_DATA, not RLIMIT_AS: pandoc's Haskell runtime reserves a huge (unused) address space
            size = megabytes << 20
            resource.setrlimit(resource.RLIMIT_DATA, (size, size))
    return apply


def run(cmd: list[str], cwd: Path, timeout: float, memory_mb: int, env: dict) -> tuple[int | None, float, str]:
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            preexec_fn=limit_memory(memory_mb), stdin=subprocess.DEVNULL)
    try:
        out, _ = proc.communicate(timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole group: pandoc and WeasyPrint children too
        except ProcessLookupError:
            pass
        out, _ = proc.communicate()
        code = None
    return code, time.monotonic() - start, out.decode("utf-8", "replace")


def stray_lines(output: str, paths: set[str]) -> list[str]:
    """Lines that are neither a located diagnostic nor part of build_book's known summary."""
    stray = []
    for line in output.splitlines():
        if not line.strip() or DIAG.match(line) or any(p.match(line) for p in BENIGN) or line.strip() in paths:
            continue
        stray.append(line)
    return stray


def classify_phase(phase: Phase) -> str:
    if phase.exit is None:
        return "hang"
    if "Traceback" in phase.output:
        return "traceback"
    if phase.exit == 3:
        return "internal"
    if phase.exit == 0:
        return "ok"
    if phase.exit == 1:
        located = [line for line in phase.output.splitlines() if DIAG.match(line)]
        return "diagnosed" if located and not phase.stray else "unlocated"
    return "crash"


def cause_of(phase: Phase, cls: str) -> str:
    lines = [line for line in phase.output.splitlines() if line.strip()]
    if cls == "hang":
        return f"no result after {phase.seconds:.0f} s ({phase.command})"
    if cls == "traceback":
        frames = [line.strip() for line in lines if line.strip().startswith("File ") and "build_book" in line]
        last = next((line for line in reversed(lines) if re.match(r"^[\w.]+(Error|Exception|Exit|Interrupt)\b", line)
                     or re.match(r"^[\w.]+: ", line)), lines[-1] if lines else "")
        where = frames[-1].replace(str(REPO) + "/", "") if frames else ""
        return f"{last.strip()[:200]}  [{where[:160]}]"
    if cls == "internal":
        return next((line for line in lines if "internal error" in line), lines[-1] if lines else "")[:240]
    if cls == "unlocated":
        return (phase.stray[0] if phase.stray else "exit 1 with no located diagnostic")[:240]
    if cls == "crash":
        return f"exit {phase.exit}: {(lines[-1] if lines else '')[:200]}"
    return ""


def scan_outputs(build: Path, token: str) -> tuple[list[str], list[str]]:
    """(files where the canary appears, places where script appears) in the editions."""
    leaks, scripts = [], []
    if not build.is_dir():
        return leaks, scripts
    needle = token.encode()
    for path in build.rglob("*"):
        if not path.is_file() or ".cache" in path.parts or ".staging" in path.parts:
            continue
        rel = path.relative_to(build).as_posix()
        data = path.read_bytes()
        if needle in data:
            leaks.append(rel)
        if path.suffix == ".epub":
            try:
                with zipfile.ZipFile(path) as z:
                    for member in z.namelist():
                        content = z.read(member)
                        if needle in content:
                            leaks.append(f"{rel}!{member}")
                        if SCRIPT.search(content):
                            scripts.append(f"{rel}!{member}: {SCRIPT.search(content).group(0)[:60]!r}")
            except (zipfile.BadZipFile, OSError) as exc:
                leaks.append(f"{rel}: unreadable EPUB ({exc})")
        elif path.suffix == ".pdf":
            try:
                from pypdf import PdfReader
                reader = PdfReader(str(path))
                text = "".join((page.extract_text() or "") for page in reader.pages)
                if token in text:
                    leaks.append(f"{rel} (text)")
            except Exception:  # pypdf missing or the PDF unreadable: the raw bytes were searched
                pass
        elif rel.startswith("html/") and SCRIPT.search(data):
            scripts.append(f"{rel}: {SCRIPT.search(data).group(0)[:60]!r}")
    return leaks, scripts


def materialise(case: Case, book: Path, outside: Path) -> None:
    files = book_files(case)
    for rel, content in files.items():
        content = content.replace(b"@@OUTSIDE@@", str(outside).encode())
        content = content.replace(b"@@XXE_ABS@@", (
            f'<?xml version="1.0"?>\n<!DOCTYPE svg [<!ENTITY x SYSTEM "file://{outside}/secret.txt">]>\n'
            '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="50"><text y="20">&x;</text></svg>').encode())
        content = content.replace(b"@@HREF_FILE@@", (
            '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="50">'
            f'<image href="file://{outside}/secret.svg" width="100" height="50"/></svg>').encode())
        try:
            target = book / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        except (OSError, ValueError):
            pass  # a name the file system refuses: the book refers to a file that does not exist
    if case.hook:
        case.hook(book, outside)


def matches(case: Case, patterns: str) -> bool:
    """Does 'category/name' contain one of the comma-separated ``patterns`` (all match '')?"""
    where = f"{case.category}/{case.name}".lower()
    return any(p.strip().lower() in where for p in patterns.split(",")) if patterns else True


def run_case(case: Case, args) -> dict:
    token = "CANARY" + secrets.token_hex(8)
    tmp = Path(tempfile.mkdtemp(prefix="hostile-"))
    book, outside = tmp / "book", tmp / "outside"
    try:
        make_outside(outside, token)
        book.mkdir()
        materialise(case, book, outside)
        env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        env.pop("BUILD_BOOK_DEBUG", None)
        phases = []
        code, secs, out = run([args.python, "-m", "build_book", "check", "--book", str(book)],
                              tmp, args.timeout, args.memory, env)
        phases.append(Phase("check", code, secs, out, stray_lines(out, set())))
        cls = classify_phase(phases[-1])
        leaks: list[str] = []
        scripts: list[str] = []
        if cls == "ok" and not args.check_only and matches(case, args.build_filter):
            code, secs, out = run([args.python, "-m", "build_book", "all", "-q", "--book", str(book)],
                                  tmp, args.timeout, args.memory, env)
            written = {line.strip() for line in out.splitlines() if line.strip().startswith(str(book))}
            phases.append(Phase("all", code, secs, out, stray_lines(out, written)))
            cls = classify_phase(phases[-1])
            if cls == "ok":
                leaks, scripts = scan_outputs(book / "build", token)
                if leaks:
                    cls = "leak"
                elif scripts:
                    cls = "script"
        last = phases[-1]
        cause = cause_of(last, cls)
        if cls == "leak":
            cause = "canary from outside the book in " + ", ".join(leaks[:4])
        elif cls == "script":
            cause = "script in " + "; ".join(scripts[:3])
        noisy = [line[:200] for p in phases for line in p.stray][:5] if cls == "ok" else []
        tail = [line[:300] for line in last.output.replace(str(tmp), "<tmp>").splitlines()[-args.tail:]]
        return {
            "name": case.name, "category": case.category, "class": cls,
            "cause": cause.replace(str(tmp), "<tmp>"),
            "phases": [{"command": p.command, "exit": p.exit, "seconds": round(p.seconds, 2)} for p in phases],
            "stray_output_on_success": noisy, "tail": tail,
        }
    finally:
        _remove(tmp)


def _remove(tmp: Path) -> None:
    for path in [tmp, *tmp.rglob("*")]:  # chmod 0 files and read-only folders from the cases
        try:
            if not path.is_symlink():
                os.chmod(path, 0o700)
        except OSError:
            pass
    shutil.rmtree(tmp, ignore_errors=True)


def table(results: list[dict]) -> str:
    counts: dict[str, Counter] = defaultdict(Counter)
    for r in results:
        counts[r["category"]][r["class"]] += 1
    used = [c for c in CLASSES if any(counts[cat][c] for cat in counts)]
    width = max([len(c) for c in counts] + [8])
    lines = [f"{'category':<{width}}  " + "  ".join(f"{c:>9}" for c in used) + f"  {'total':>6}"]
    for cat in sorted(counts):
        lines.append(f"{cat:<{width}}  " + "  ".join(f"{counts[cat][c] or '':>9}" for c in used)
                     + f"  {sum(counts[cat].values()):>6}")
    total = Counter(r["class"] for r in results)
    lines.append(f"{'total':<{width}}  " + "  ".join(f"{total[c]:>9}" for c in used) + f"  {len(results):>6}")
    return "\n".join(lines)


def write_report(path: Path, results: list[dict], started: float, partial: bool) -> None:
    """The JSON report; rewritten after every case, so an interrupted run still leaves one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    summary = {cat: dict(Counter(r["class"] for r in results if r["category"] == cat))
               for cat in sorted({r["category"] for r in results})}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({
        "complete": not partial, "cases": len(results), "seconds": round(time.monotonic() - started, 1),
        "classes": dict(Counter(r["class"] for r in results)), "by_category": summary, "results": results,
    }, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--filter", default="",
                    help="only cases whose 'category/name' contains this text (several: comma-separated)")
    ap.add_argument("--build-filter", default="", metavar="PATTERNS",
                    help="run 'all' only for cases matching these comma-separated patterns (default: every case "
                         "whose check passes); the others run 'check' only")
    ap.add_argument("--jobs", type=int, default=2, help="cases run in parallel (default 2)")
    ap.add_argument("--timeout", type=float, default=60, help="seconds allowed for each command (default 60)")
    ap.add_argument("--memory", type=int, default=4096,
                    help="data-segment limit of each command in MB (RLIMIT_DATA; 0: none; default 4096)")
    ap.add_argument("--report", type=Path, default=REPO / "build" / "hostile-report.json", help="JSON report file")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--check-only", action="store_true", help="run only 'check', never 'all'")
    ap.add_argument("--fail-on", default=",".join(DEFAULT_FAIL),
                    help="classes that make the exit status 1 (default: traceback,internal,hang)")
    ap.add_argument("--python", default=sys.executable, help="the Python that runs build_book")
    ap.add_argument("--tail", type=int, default=12, help="output lines kept per case in the report")
    ap.add_argument("-q", "--quiet", action="store_true", help="no line per case")
    args = ap.parse_args(argv)

    cases = [c for c in all_cases() if matches(c, args.filter)]
    if args.list:
        for c in cases:
            print(f"{c.category}/{c.name!r}" if any(ch in c.name for ch in "\n\0") else f"{c.category}/{c.name}")
        print(f"{len(cases)} cases", file=sys.stderr)
        return 0
    fail_on = {c.strip() for c in args.fail_on.split(",") if c.strip()}
    results: list[dict] = []
    lock = threading.Lock()
    started = time.monotonic()

    def one(case: Case) -> dict:
        try:
            result = run_case(case, args)
        except Exception as exc:  # the harness itself failed on this case: report, do not stop
            result = {"name": case.name, "category": case.category, "class": "harness-error",
                      "cause": f"{type(exc).__name__}: {exc}", "phases": [], "stray_output_on_success": [],
                      "tail": []}
        with lock:
            results.append(result)
            write_report(args.report, results, started, partial=True)
            if not args.quiet:
                took = "+".join(f"{p['seconds']:.1f}" for p in result["phases"])
                print(f"[{len(results):>3}/{len(cases)}] {result['class']:<9} {case.category}/{case.name[:70]!s:<60} "
                      f"{took}s {result['cause'][:100] if result['class'] not in ('ok', 'diagnosed') else ''}",
                      flush=True)
        return result

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(one, cases))
    order = {(c.category, c.name): i for i, c in enumerate(cases)}
    results.sort(key=lambda r: order[(r["category"], r["name"])])
    print()
    print(table(results))
    failing = [r for r in results if r["class"] not in ("ok", "diagnosed")]
    if failing:
        print("\nnot ok:")
        for r in failing:
            print(f"  {r['class']:<9} {r['category']}/{r['name'][:80]!s}: {r['cause'][:200]}")
    write_report(args.report, results, started, partial=False)
    print(f"\nreport: {args.report}  ({len(results)} cases, {time.monotonic() - started:.0f} s)")
    bad = [r for r in results if r["class"] in fail_on or r["class"] == "harness-error"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
