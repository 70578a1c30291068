"""Property tests: whatever an author writes, ``check`` ends in exit 0 or in located diagnostics.

Generated chapter Markdown, front matter, book.yml and BibTeX (fragments of each
grammar mixed with random text, control characters and deep nesting) are written
into a small book and ``python -m build_book check`` is run on it in a subprocess
(in-process, a pandoc that never returns would hang the suite). Every run must: raise nothing (no traceback), exit 0 or 1
(never 3), print only located diagnostics (``path:line:col: error|warning[code]:
message``), their hints and the summary, and finish within TIME_LIMIT seconds.

The suite runs a few deterministic examples per property; a real fuzzing run:
    BUILD_BOOK_FUZZ_EXAMPLES=2000 scripts/fuzz
(random seeds, shrinking on, the failing example printed minimal).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, Phase, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("BUILD_BOOK_FUZZ_EXAMPLES", "0"))
FUZZING = EXAMPLES > 0
TIME_LIMIT = float(os.environ.get("BUILD_BOOK_FUZZ_TIME_LIMIT", "60" if FUZZING else "20"))

SETTINGS = settings(
    max_examples=EXAMPLES or 8,
    deadline=None,
    derandomize=not FUZZING,                      # the suite is deterministic; fuzzing is not
    database=None if not FUZZING else settings.default.database,
    # the suite: the explicit (known hostile) examples and a few generated ones, no slow shrinking; fuzzing:
    # generated examples only (the explicit ones are the suite's), shrunk to a minimal failing one
    phases=((Phase.reuse, Phase.generate, Phase.target, Phase.shrink) if FUZZING else (Phase.explicit, Phase.generate)),
    suppress_health_check=list(HealthCheck),
    print_blob=FUZZING,
)

DIAG = re.compile(r"^.+?:\d+:\d+: (error|warning)\[[A-Za-z0-9_.-]+\]: .+")
BENIGN = re.compile(r"^(    hint: .*|      +\S.*|checking the book in .*|\d+ errors?, \d+ warnings?|  .+: \d+ errors?, \d+ warnings?|no problems found)$")

# ---------------------------------------------------------------------------------------------------------------
# The book every example is written into
# ---------------------------------------------------------------------------------------------------------------

BOOK = {
    "title": "Fuzzed Volume",
    "lang": "en",
    "editors": ["ed"],
    "contributors": {"ed": {"name": "EDITOR Ed", "affiliation": "Somewhere"}, "au": "Ann Author"},
    "bibliography": "refs.bib",
    "chapters": ["chapters/one.md", {"part": "Part", "id": "sec-part-a", "chapters": ["chapters/two.md"]}],
}
CHAPTER = "---\nauthors: [au]\n---\n\n# One {#sec-one}\n\nText [@walt1987] and @sec-two.\n"
CHAPTER_TWO = "# Two {#sec-two}\n\n![A figure](pic.svg){#fig-pic}\n\nSee @fig-pic [@snyder1997, 3].\n"
BIB = ("@book{walt1987, author = {Walt, Stephen}, title = {Origins}, publisher = {P}, year = {1987}}\n"
       "@book{snyder1997, author = {Snyder, Glenn}, title = {Politics}, publisher = {P}, year = {1997}}\n")
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="5" height="5"/></svg>\n'


@pytest.fixture(scope="module")
def book_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "book"


def write_book(root: Path, *, book_yml: str | None = None, chapter: str | None = None,
               bib: str | None = None) -> None:
    (root / "chapters").mkdir(parents=True, exist_ok=True)
    files = {
        "book.yml": book_yml if book_yml is not None else yaml.safe_dump(BOOK, allow_unicode=True, sort_keys=False),
        "chapters/one.md": chapter if chapter is not None else CHAPTER,
        "chapters/two.md": CHAPTER_TWO,
        "chapters/pic.svg": SVG,
        "refs.bib": bib if bib is not None else BIB,
    }
    for rel, text in files.items():
        (root / rel).write_bytes(text.encode("utf-8", "surrogatepass"))


def run_check(root: Path) -> tuple[int | None, str, float]:
    """``python -m build_book check`` on ``root`` in a subprocess (pandoc may hang, so not in-process): exit code
    (None after TIME_LIMIT seconds, the whole process group then killed), output, seconds."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("BUILD_BOOK_DEBUG", None)
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "build_book", "check", "--book", str(root)], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=TIME_LIMIT)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        code = None
    return code, out.decode("utf-8", "replace"), time.monotonic() - start


def assert_robust(root: Path) -> None:
    """Run ``check`` on the book in ``root`` and assert build_book's robustness promise."""
    code, output, elapsed = run_check(root)
    assert code is not None, f"hang: check did not finish within {TIME_LIMIT:.0f} s"
    assert "Traceback" not in output, "a traceback for the author:\n" + output[-3000:]
    assert code in (0, 1), f"exit {code} (3 is an internal error):\n{output[-2000:]}"
    stray = [line for line in output.splitlines() if line.strip() and not DIAG.match(line) and not BENIGN.match(line)]
    assert not stray, "printed without path:line:col:\n" + "\n".join(stray[:10])
    if code == 1:
        assert any(DIAG.match(line) and "error[" in line for line in output.splitlines()), output[-2000:]
    assert elapsed < TIME_LIMIT


# ---------------------------------------------------------------------------------------------------------------
# Strategies: grammar fragments mixed with random text
# ---------------------------------------------------------------------------------------------------------------

any_char = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=("Cs",))
controls = st.sampled_from(["\x00", "\x01", "\x07", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\u2028", "\ufeff",
                            "\ufffe", "\uffff", "\U0001fffe", "\r", "\t", "\u202e", "\u0301"])
noise = st.text(any_char, max_size=12) | controls | st.text(st.sampled_from("[](){}<>*_`#@^~|:!-=&;%\\'\" \n"),
                                                            max_size=12)
word = st.from_regex(r"[A-Za-z][a-z]{0,8}", fullmatch=True)
key = st.sampled_from(["walt1987", "snyder1997", "nokey", "a", "a:b", "x y", ""]) | word
label = st.sampled_from(["sec-one", "sec-two", "fig-pic", "sec-part-a", "tbl-t", "fig-x", "sec-", "fig:pic"]) | \
    word.map(lambda w: f"sec-{w}")

inline_atom = st.one_of(
    word, noise,
    key.map(lambda k: f"[@{k}]"), key.map(lambda k: f"@{k}"), key.map(lambda k: f"[see @{k}, 4-5; @walt1987]"),
    label.map(lambda lab: f"@{lab}"), label.map(lambda lab: f"[-@{lab}]"), label.map(lambda lab: f"@{lab.capitalize()}"),
    word.map(lambda w: f"[^{w}]"),
    st.sampled_from(["![x](pic.svg)", "![](missing.png)", "![y](../chapters/pic.svg)", "![z](/etc/hostname)",
                     "[link](http://example.org)", "[c](one.md#sec-one)", "[d](two.md#nope)", "[e](javascript:x)",
                     "<span onclick='x'>s</span>", "<!-- a -- b -->", "<o:p></o:p>", "<br>", "&#0;", "&bogus;",
                     "$x^2$", "`code`", "<svg><circle r='1'/></svg>", "{#sec-x}", "{.unnumbered}", "\\", "%s"]),
)
inline = st.recursive(
    st.lists(inline_atom, max_size=6).map(" ".join),
    lambda inner: st.one_of(inner.map(lambda s: f"*{s}*"), inner.map(lambda s: f"**{s}**"),
                            inner.map(lambda s: f"[{s}]"), inner.map(lambda s: f"[{s}](pic.svg)"),
                            inner.map(lambda s: f"^[{s}]"), inner.map(lambda s: f"[{s}]{{.c}}")),
    max_leaves=12,
)
block_atom = st.one_of(
    inline,
    st.tuples(st.integers(1, 7), inline, label | st.just("")).map(
        lambda t: "#" * t[0] + f" {t[1]}" + (f" {{#{t[2]}}}" if t[2] else "")),
    st.tuples(inline, label).map(lambda t: f"![{t[0]}](pic.svg){{#{t[1]}}}"),
    st.tuples(word, inline).map(lambda t: f"[^{t[0]}]: {t[1]}"),
    st.tuples(inline, inline, label).map(lambda t: f"| a | b |\n|---|---|\n| {t[0]} | {t[1]} |\n\n: Cap {{#{t[2]}}}"),
    st.text(any_char, max_size=40).map(lambda s: f"```\n{s}\n```"),
    st.sampled_from(["---", "***", ":::", "```", "<div>", "</div>", "<!--", "$$", "| x |", "- ", "1. ", "> "]),
    st.integers(1, 400).map(lambda n: ">" * n + " deep"),
    st.integers(1, 300).map(lambda n: "\n".join("  " * i + "- x" for i in range(n))),
    st.integers(1, 200).map(lambda n: "::: {.d}\n" * n + "x\n" + ":::\n" * n),
    st.integers(1, 2000).map(lambda n: "[" * n + "x" + "]" * (n // 2)),
    st.integers(1, 300).map(lambda n: "*_" * n + "x" + "_*" * n),
)
block = st.recursive(block_atom, lambda inner: st.one_of(inner.map(lambda s: "> " + s.replace("\n", "\n> ")),
                                                          inner.map(lambda s: "- " + s.replace("\n", "\n  ")),
                                                          inner.map(lambda s: f"::: {{.x}}\n{s}\n:::")),
                     max_leaves=6)
markdown = st.lists(block, max_size=8).map("\n\n".join)

yaml_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(any_char, max_size=20), word,
    st.dates().map(str),
)
yaml_value = st.recursive(yaml_scalar, lambda inner: st.lists(inner, max_size=4) |
                          st.dictionaries(word | st.text(max_size=5), inner, max_size=4), max_leaves=10)
yaml_raw = st.one_of(
    st.sampled_from(["!!binary aGk=", "!!float 1", "!!int x", "!!timestamp 2001-01-01", "!!python/object:x {}",
                     "2012-02-30", "0000-01-01", "&a [*a]", "&b {x: *b}", "*undefined", "!!set {a}", ".nan", "~",
                     "[", "{", "'", '"', "|", ">", "- ", ": ", "? ", "%", "@", "`", "\t", "\x00", "<<: *a"]),
    noise,
)


def dump(value) -> str:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False)


def yaml_text(keys: list[str]):
    """A YAML mapping over ``keys`` (and others): dumped generated data, or raw lines with tags and anchors."""
    mapping = st.dictionaries(st.sampled_from(keys) | word, yaml_value, max_size=6).map(dump)
    raw_lines = st.lists(st.tuples(st.sampled_from(keys) | word, st.lists(yaml_raw, max_size=3).map(" ".join))
                         .map(lambda t: f"{t[0]}: {t[1]}"), max_size=6).map("\n".join)
    return st.one_of(mapping, raw_lines, st.text(any_char, max_size=60))


BIB_FIELDS = ["author", "editor", "title", "year", "date", "crossref", "xdata", "pages", "publisher", "journal",
              "month", "note", "url", "doi", "langid", "titleaddon"]
bib_value = st.one_of(
    inline.map(lambda s: "{" + s + "}"), st.text(any_char, max_size=30).map(lambda s: "{" + s + "}"),
    st.sampled_from(["{walt1987}", "{snyder1997}", "{a}", "jan", "undefinedmacro", "1987", "{2012-02-30}",
                     "{{{unbalanced}", "{}}", '"quoted"', "x # y", "{and and}", "{" + "x" * 5000 + "}"]),
)
bib_entry = st.tuples(
    st.sampled_from(["book", "article", "incollection", "xdata", "misc", "string", "comment", "preamble", "", "@"]),
    key, st.lists(st.tuples(st.sampled_from(BIB_FIELDS) | word, bib_value), max_size=6),
).map(lambda t: f"@{t[0]}{{{t[1]}, " + ", ".join(f"{f} = {v}" for f, v in t[2]) + "}")
bibtex = st.lists(bib_entry | noise, max_size=6).map("\n".join)


# ---------------------------------------------------------------------------------------------------------------
# The properties
# ---------------------------------------------------------------------------------------------------------------

@SETTINGS
@given(body=markdown)
@example(body="A claim.[^nt1]\n\n[^nt]: misspelled")
def test_chapter_markdown(book_dir, body):
    write_book(book_dir, chapter="---\nauthors: [au]\n---\n\n# One {#sec-one}\n\n" + body + "\n")
    assert_robust(book_dir)


@SETTINGS
@given(front=yaml_text(["authors", "abstract", "status"]), body=markdown)
@example(front="authors: &a [*a]", body="")
@example(front="authors: [au]\nabstract: 2012-02-30", body="")
def test_front_matter(book_dir, front, body):
    write_book(book_dir, chapter=f"---\n{front}\n---\n\n# One {{#sec-one}}\n\n{body}\n")
    assert_robust(book_dir)


BOOK_KEYS = ["title", "subtitle", "lang", "date", "publisher", "rights", "identifier", "slug", "editors",
             "contributors", "bibliography", "csl", "chapters", "appendices", "section-depth", "crossref",
             "page-references"]


@SETTINGS
@given(changes=st.dictionaries(st.sampled_from(BOOK_KEYS) | word, yaml_value, max_size=4),
       raw=st.one_of(st.just(""), yaml_text(BOOK_KEYS)))
@example(changes={}, raw="date: 2012-02-30")
@example(changes={}, raw="crossref: &c {figure: *c}")
def test_book_yml(book_dir, changes, raw):
    config = dict(BOOK)
    config.update(changes)
    text = dump(config)
    if raw:  # raw lines replace the keys they name, keeping the rest of a valid book
        named = {line.split(":", 1)[0] for line in raw.splitlines() if ":" in line}
        text = dump({k: v for k, v in config.items() if k not in named}) + raw + "\n"
    write_book(book_dir, book_yml=text)
    assert_robust(book_dir)


@SETTINGS
@given(bib=bibtex)
@example(bib="@book{a, crossref = {b}, title = {A}}\n@book{b, crossref = {a}, title = {B}}")
def test_bibtex(book_dir, bib):
    write_book(book_dir, bib=BIB + bib + "\n",
               chapter=CHAPTER + "\n[@a] [@b] [@self] [@snyder1997]\n")
    assert_robust(book_dir)
