"""Chapters formatted together: one citeproc run for several chapters (a cold build) gives each chapter the
same blocks and HTML as a run of its own (an edit re-formats one chapter alone, and both must agree)."""

from __future__ import annotations

import json
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


def _runs(monkeypatch) -> list:
    runs: list = []
    real = pandoc._run_pandoc

    def counted(args, *rest, **options):
        if "--citeproc" in args:
            runs.append(args)
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
