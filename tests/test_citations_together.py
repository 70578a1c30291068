"""Chapters formatted together: one citeproc run for several chapters (a cold build) gives each chapter the
same blocks and HTML as a run of its own (an edit re-formats one chapter alone, and both must agree)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from build_book import build, pandoc, transform

from .conftest import copy_book

IBID_STYLE = "chicago-notes-bibliography-subsequent-ibid"


def _plan(root: Path, csl: str | None):
    if csl:
        config = root / "book.yml"
        text = "\n".join(line for line in config.read_text(encoding="utf-8").splitlines()
                         if not line.startswith("csl:"))
        config.write_text(text + f"\ncsl: {csl}\n", encoding="utf-8")
    result = build._check(root)
    assert result.book is not None, result.diagnostics
    plan = transform._Plan.of(result.book, result.index)
    plan.html = True
    return plan


def _runs(monkeypatch, rts: list | None = None) -> list:
    """The arguments of each citeproc run from now on (and its runtime options, in ``rts`` if given)."""
    runs: list = []
    real = pandoc._run_pandoc

    def counted(args, *rest, **options):
        if "--citeproc" in args:
            runs.append(args)
            if rts is not None:
                rts.append(list(options.get("rts", ())))
        return real(args, *rest, **options)

    monkeypatch.setattr(pandoc, "_run_pandoc", counted)
    return runs


@pytest.mark.parametrize("book, csl", [("per-chapter", None), ("per-chapter", "apa"), ("mini", None),
                                       ("mini", "ieee")])
def test_together_as_alone(book, csl, tmp_path_factory, monkeypatch):
    """Positions aside (see the next test), a run of all chapters formats each as its own run does: the
    texts (read back), and the HTML, byte for byte; 2001a/2001b across chapters (per-chapter) included."""
    root = copy_book(book, tmp_path_factory)
    plan = _plan(root, csl)
    numbers = [c.index for c in plan.book.chapters]
    cited = [n for n in numbers if plan.cited[n]]
    assert len(cited) >= 2
    assert transform._positions_free(plan.csl)
    runs = _runs(monkeypatch)
    alone = [plan.chapter(n) for n in numbers]
    assert len(runs) == len(cited)
    plan.together = True
    together = plan.chapters(numbers)
    assert len(runs) == len(cited) + 1          # one run for all of them
    for number, (text, html), (text2, html2) in zip(numbers, alone, together):
        assert json.loads(text) == json.loads(text2), plan.book.chapters[number].path
        assert html == html2, plan.book.chapters[number].path
    for cut in range(1, len(numbers)):          # and in runs of some of them (a process's share)
        parts = plan.chapters(numbers[:cut]) + plan.chapters(numbers[cut:])
        for number, (text, html), (text2, html2) in zip(numbers, alone, parts):
            assert json.loads(text) == json.loads(text2), (cut, plan.book.chapters[number].path)
            assert html == html2, (cut, plan.book.chapters[number].path)
    if book == "per-chapter":
        whole = "".join(html for _, html in together if html)
        assert "2001a" in whole and "2001b" in whole


def test_positions_keep_chapters_apart(tmp_path_factory):
    """A style whose citations depend on where they stand (ibid., subsequent forms, near-note) formats each
    chapter in its own run, after the hidden citations that make its positions those of the whole book."""
    root = copy_book("mini", tmp_path_factory)
    plan = _plan(root, IBID_STYLE)
    assert not transform._positions_free(plan.csl)
    assert transform._positions_free(None)       # pandoc's default, Chicago author-date
    todo = [c.index for c in plan.book.chapters]
    assert transform._tasks(plan, todo, 2, True) == [("chapters", (n,)) for n in todo] + [("references", None)]


def test_tasks_one_run_per_process(tmp_path_factory):
    """Chapters formatted together are split into neighbouring runs, one per process, each chapter once."""
    root = copy_book("mini", tmp_path_factory)
    plan = _plan(root, None)
    plan.together = True
    todo = [c.index for c in plan.book.chapters]
    for jobs in (1, 2, 3):
        tasks = transform._tasks(plan, todo, jobs, True)
        assert tasks[-1] == ("references", None)
        groups = [numbers for kind, numbers in tasks[:-1]]
        assert all(kind == "chapters" for kind, _ in tasks[:-1])
        assert [n for group in groups for n in group] == todo
        assert 1 <= len(groups) <= min(jobs, len(todo)) and all(groups)


def test_tasks_short_runs_for_the_print_edition(tmp_path_factory):
    """With ``run_bytes`` (RUN_BYTES, when the PDF is built too: the cold build's peak memory), chapters
    formatted together go in more runs than processes, none much longer than that, each chapter once."""
    root = copy_book("mini", tmp_path_factory)
    plan = _plan(root, None)
    plan.together = True
    todo = [c.index for c in plan.book.chapters]
    sizes = {n: transform._weight(plan, n) for n in todo}
    assert len(todo) > 2
    small = min(sizes.values())      # at most about one chapter per run
    tasks = transform._tasks(plan, todo, 2, False, run_bytes=small)
    groups = [numbers for kind, numbers in tasks]
    assert [n for group in groups for n in group] == todo and all(groups)
    assert len(groups) > 2
    # without it, one run per process, as before
    assert len(transform._tasks(plan, todo, 2, False)) == min(2, len(todo))


TRICKY = """---
authors: [smith]
---

# Citations Everywhere {#sec-tricky}

@walt1987 [p. 5] argues; @snyder1997 [-@snyder1997, 12] agrees [see @morrow1991, pp. 3-5; also @walt1987].
As "the balance of threat" has it [@walt1987]. Again [@walt1987, chap. 3]! And [-@morrow1991].
Global affixes [compare | @walt1987; @snyder1997 | and the rest]. Twice, alike: [@walt1987].
In a note, too.^[See @morrow1991, 7. And [@snyder1997; @walt1987].] Then @funabashi2001 on Japan.

: Treaties cited in a caption [@snyder1997, 40] {#tbl-tricky}

| Treaty | Source |
|:--|:--|
| One | [@walt1987] |

> A quotation [@morrow1991, 9].

- a list item @snyder1997
- *emphasis [@funabashi2001]*

A work whose author is written in Japanese script, cited in an English book [@sakamoto2000, 12].
"""

# (its citation prints the name in Japanese script, which the book marks as Japanese: transform.mark_japanese)
SAKAMOTO = """
@book{sakamoto2000,
  author = {坂元, 一哉},
  title = {日米同盟の絆},
  publisher = {有斐閣},
  address = {東京},
  year = {2000}
}
"""


def _copy_volume(tmp_path_factory) -> Path:
    from .conftest import REPO
    import shutil
    root = tmp_path_factory.mktemp("volume-citations") / "volume"
    root.mkdir()
    for name in ("book.yml", "chapters", "bibliography", "style"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        elif source.exists():
            shutil.copyfile(source, root / name)
    return root


@pytest.mark.parametrize("book, csl, apart", [("per-chapter", None, True), ("per-chapter", "apa", True),
                                              ("tricky", None, True), ("tricky", "apa", True),
                                              ("mini", None, True), ("japanese", None, True),
                                              ("volume", None, True),
                                              ("bib-real", None, True), ("mini", "ieee", False),
                                              ("mini", IBID_STYLE, False)])
def test_citations_alone_as_in_chapters(book, csl, apart, tmp_path_factory, monkeypatch):
    """With an in-text style whose citations do not depend on where they stand (pandoc's default, APA, the
    volume's Chicago author-date), the citations of every chapter are formatted in one citeproc run of their
    own, apart from the chapters, and put back: each chapter's text is that of a citeproc run over the whole
    chapter, and its HTML that pandoc writes of it (a numbered style, or one with ibid., is not formatted so)."""
    if book == "volume":
        root = _copy_volume(tmp_path_factory)
    elif book == "tricky":      # mini, with citations in every form and place an author may write them
        root = copy_book("mini", tmp_path_factory)
        (root / "chapters" / "a2-tricky.md").write_text(TRICKY, encoding="utf-8")
        with (root / "bibliography" / "refs.bib").open("a", encoding="utf-8") as bib:
            bib.write(SAKAMOTO)
        with (root / "book.yml").open("a", encoding="utf-8") as config:
            config.write("  - chapters/a2-tricky.md\n")
    else:
        root = copy_book(book, tmp_path_factory)
    plan = _plan(root, csl)
    numbers = [c.index for c in plan.book.chapters]
    whole = [plan.chapter(n) for n in numbers]       # each chapter through citeproc (citations_alone unset)
    cache = root / "build" / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    assert transform._reusable(plan, cache) is apart
    if not apart:
        return
    plan.citations_alone = True
    runs = _runs(monkeypatch)
    apart_out = plan.chapters(numbers)
    assert len(runs) == 1                             # one run for the citations of the whole book
    assert "--to=json" in " ".join(runs[0]) and len(runs[0]) < 12
    cited = 0
    for number, (text, html), (text2, html2) in zip(numbers, whole, apart_out):
        path = plan.book.chapters[number].path
        assert json.loads(text) == json.loads(text2), path
        if plan.cited[number]:
            cited += 1
            assert html2 is not None, path
            assert html2 == (html if html is not None else pandoc.write_html_blocks(text)), path
    assert cited >= 1
    # and the whole book's citation lists in one run, before the chapters are resolved (a cold build: see
    # transform._book_wide), with the reference list if it is formatted from the works as cited
    plan.together = transform._positions_free(plan.csl)
    first = plan.first_citations(numbers)
    if sum(1 for n in numbers if plan.cited[n]) < 2:
        assert first is None
        return
    assert first
    runs.clear()
    listed = plan.lists_as_cited()
    formatted, written_of, references = plan.book_wide(first, listed)
    assert len(runs) == 1
    assert (references is not None) is listed
    assert set(formatted) == set(first)           # every list put in place: no chapter formatted again
    # and the HTML of each, from the same run (but of one that prints Japanese, marked after the run)
    assert set(written_of) == {s for s, text in formatted.items()
                                    if not (transform.JAPANESE.search(text) and plan.book.config.lang == "en")}
    resolved = plan.resolved(numbers)                # (the chapters' HTML written with the citations marked)
    writes = []
    real_write = pandoc.write_html_divs
    monkeypatch.setattr(pandoc, "write_html_divs", lambda divs: writes.append(divs) or real_write(divs))
    book_wide = plan.filled(numbers, resolved, formatted, written_of)
    assert len(runs) == 1
    # the citations put into that HTML, without a pandoc run, but in a chapter where pandoc writes one
    # elsewhere too (mini's figure has one in its caption, which its image's alt text repeats)
    rewritten = {name for divs in writes for name in divs}
    assert len(rewritten) < cited
    if book == "per-chapter":
        assert not rewritten
    for number, (text, html), (text2, html2) in zip(numbers, apart_out, book_wide):
        path = plan.book.chapters[number].path
        assert json.loads(text) == json.loads(text2), path
        assert html == html2, path
    if listed:
        text, html = plan.references()
        assert json.loads(text) == json.loads(references[0]) and html == references[1]


@pytest.mark.parametrize("book, jobs", [("per-chapter", 2), ("per-chapter", 1), ("mini", 2)])
def test_cold_prepare_formats_the_book_in_one_run(book, jobs, tmp_path_factory, monkeypatch):
    """A cold build (every chapter to format, nothing from the last) formats every citation of the book in
    one citeproc run, in the build's process while worker processes resolve the chapters, with the
    reference list if it is formatted from the works as cited (per-chapter; mini's Japanese names are
    turned in its list: a run of its own); each chapter gets the text and HTML that a run of its own gives."""
    root = copy_book(book, tmp_path_factory)
    config = root / "book.yml"
    config.write_text(config.read_text(encoding="utf-8").replace("bibliography-scope: chapter", ""), encoding="utf-8")
    result = build._check(root)
    numbers = [c.index for c in result.book.chapters]
    plan = _plan(root, None)
    alone = [plan.chapter(n) for n in numbers]
    references = plan.references()
    together = plan.lists_as_cited()
    assert together is (book == "per-chapter")
    monkeypatch.setattr(transform, "_CHAPTER_MEMORY", {})    # (a live preview's, of an earlier test's book)
    rts: list = []
    runs = _runs(monkeypatch, rts)
    called = []
    real = transform._book_wide
    monkeypatch.setattr(transform, "_book_wide", lambda *a: called.append(a[2]) or real(*a))
    lowered = []    # the workers beside the book's citeproc run let it go first (see the test below)
    real_workers = transform._workers
    monkeypatch.setattr(transform, "_workers", lambda plan, count, behind=False: lowered.append(behind) or
                        real_workers(plan, count, behind))
    prepared = transform.prepare(result.book, result.index, jobs=jobs, html=True)
    assert called == [[n for n in numbers]]
    assert lowered == [True]
    assert rts.count(pandoc.WHOLE_BOOK_RTS) == 1     # the book's run, with a larger allocation area
    # this process's runs: the book's (and the list's, apart, with one job)
    assert len(runs) == (1 if together or jobs > 1 else 2)
    for number, (text, html) in zip(numbers, alone):
        path = result.book.chapters[number].path
        assert prepared.chapters[number] == json.loads(text), path
        if number in prepared.html:   # (or written from the text later, by write_fragments)
            assert prepared.html[number] == (html if html is not None else pandoc.write_html_blocks(text)), path
    assert prepared.html
    assert prepared.references == json.loads(references[0])
    assert prepared.references_html == references[1]


def test_the_workers_beside_the_book_wide_run_let_it_go_first(monkeypatch):
    """The worker processes that resolve the chapters while this process's citeproc run formats the whole
    book's citations run at a lower priority (transform.BEHIND): that run has a core of its own."""
    here = os.nice(0)
    if here >= 19:
        pytest.skip("this process runs at the lowest priority already")
    monkeypatch.setattr(transform, "_work", lambda task: ("ok", os.nice(0)))
    tasks = [("resolve", ()), ("resolve", ())]
    for behind, niceness in ((True, min(19, here + transform.BEHIND)), (False, here)):
        with transform._workers(object(), 2, behind=behind) as begin:
            assert begin(tasks)() == [("ok", niceness)] * 2
    assert os.nice(0) == here
