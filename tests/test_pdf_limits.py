"""The PDF's layout is bounded: a time and a memory limit, each a located error (exit 1), never a hang."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from .conftest import REPO, copy_book


def build_pdf(root, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "build_book", "pdf", "--book", str(root)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env={**os.environ, **env})


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    return copy_book("mini", tmp_path_factory)


def test_a_layout_past_its_time_limit_is_a_located_error(book):
    started = time.monotonic()
    result = build_pdf(book, BUILD_BOOK_PDF_TIMEOUT="0.05")
    assert time.monotonic() - started < 60
    assert result.returncode == 1, result.stderr
    assert "book.yml:1:1: error[pdf-timeout]: laying out the PDF" in result.stderr
    assert "after 0.05 seconds" in result.stderr and "BUILD_BOOK_PDF_TIMEOUT" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (book / "build" / "alliances-in-miniature.pdf").exists()


@pytest.mark.parametrize("pieces", ["1", "0"])
def test_a_layout_past_its_memory_limit_is_a_located_error(book, pieces):
    # 64M: less than WeasyPrint's layout process takes to start (forked from the build, or, for the
    # pieces, from the small server, whose pieces of this little book lay out within 200M)
    result = build_pdf(book, BUILD_BOOK_PDF_MEMORY="64M", BUILD_BOOK_PDF_PIECES=pieces)
    assert result.returncode == 1, result.stderr
    assert "book.yml:1:1: error[pdf-memory]:" in result.stderr and "64 MB" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_limits_are_located_at_a_print_stylesheet_override(book, tmp_path):
    css = book / "templates" / "pdf" / "print.css"
    css.parent.mkdir(parents=True, exist_ok=True)
    css.write_text((REPO / "templates" / "pdf" / "print.css").read_text(encoding="utf-8")
                   + "\n@page { size: 156mm 234mm; }\n", encoding="utf-8")
    try:
        result = build_pdf(book, BUILD_BOOK_PDF_TIMEOUT="0.05")
        assert result.returncode == 1, result.stderr
        assert "templates/pdf/print.css:1:1: error[pdf-timeout]:" in result.stderr
        assert "templates/pdf/print.css" in result.stderr.split("hint:")[1]
    finally:
        css.unlink()


def test_within_its_limits_the_pdf_is_written_and_no_layout_process_is_left(book):
    result = build_pdf(book, BUILD_BOOK_PDF_TIMEOUT="600", BUILD_BOOK_PDF_MEMORY="6G")
    assert result.returncode == 0, result.stderr
    assert (book / "build" / "alliances-in-miniature.pdf").stat().st_size > 10_000
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(os.getpid())], capture_output=True, text=True)
    assert len(children.stdout.split()) <= 1   # the ps itself


def test_layout_processes_can_ask_the_build_and_wait_for_each_other():
    """limits.run with answer: each child asks, and an answer that needs what a child started
    earlier has said waits (NotYet) until it has; the children's results come back in order."""
    from build_book.render import limits

    said: dict[int, int] = {}

    def answer(number, value):
        said[number] = value
        if any(n < number and n not in said for n in range(3)):
            raise limits.NotYet()
        return sum(said[n] for n in range(number))      # what the children before it said

    def task(number):
        def run(ask):
            time.sleep(0.3 * (3 - number))               # the first child speaks last
            return (number, ask(10 * (number + 1)))
        return run

    assert limits.run([task(n) for n in range(3)], 3, 30, 2**30, answer) == [(0, 0), (1, 10), (2, 30)]


def test_a_child_waiting_for_an_earlier_one_is_answered_as_soon_as_that_one_has_asked():
    """The second child asks first and waits; when the first asks, both are answered then, not when
    a child ends (the first goes on for seconds: a piece laid out after its pages are counted)."""
    from build_book.render import limits

    said: dict[int, int] = {}

    def answer(number, value):
        said[number] = value
        if number == 1 and 0 not in said:
            raise limits.NotYet()
        return value

    def task(number):
        def run(ask):
            time.sleep(0.5 if number == 0 else 0)
            ask(number)
            answered = time.monotonic()
            time.sleep(3 if number == 0 else 0)
            return answered
        return run

    start = time.monotonic()
    first, second = limits.run([task(0), task(1)], 2, 60, 2**30, answer)
    assert second - start < 2, "the waiting child was answered only when the other ended"
    with pytest.raises(limits.ChildFailed):
        limits.run([lambda ask: 1 / 0], 1, 30, 2**30, answer)


@pytest.mark.parametrize("together", [1, 0])
def test_the_last_task_starts_with_the_last_jobs_ones_when_asked(together):
    """With together=1, five tasks on two jobs run two, two, then the last three at once (the last
    does not run alone at the end); without, two, two, then the last when one of those ends."""
    from build_book.render import limits

    def task(ask):
        started = time.monotonic()
        time.sleep(0.4)
        return started, time.monotonic()

    times = limits.run([task] * 5, 2, 60, 2**30, lambda number, question: None, together=together)
    # the last starts before the two before it end, or when one of them has ended
    assert (times[4][0] < min(times[2][1], times[3][1])) == bool(together)
    assert limits.run([task] * 2, 2, 60, 2**30, lambda n, q: None, together=1)   # no more tasks than jobs


def test_done_is_told_of_each_task_as_it_ends():
    """``done``, for the progress of a long layout: each task's number and result, when it ends, in
    the order they end (the second task here ends first); not for a task that failed."""
    from build_book.render import limits

    def task(seconds, value):
        def run():
            time.sleep(seconds)
            return value
        return run

    told = []
    results = limits.run([task(1.2, "slow"), task(0.0, "quick")], 2, 60, 2**30,
                         done=lambda number, result: told.append((number, result, time.monotonic())))
    assert results == ["slow", "quick"]
    assert [(n, r) for n, r, _ in told] == [(1, "quick"), (0, "slow")]
    assert told[1][2] - told[0][2] > 0.5      # each told when it ended, not all at the end
    told.clear()
    with pytest.raises(limits.ChildFailed):
        limits.run([lambda: 1 / 0], 1, 30, 2**30, done=lambda number, result: told.append(number))
    assert told == []


def test_a_done_that_raises_stops_the_run_and_its_other_tasks():
    """A progress line that cannot be written (``done`` raising) ends the run as any failure does:
    the exception reaches the caller, and the tasks still running are stopped, not left behind."""
    from build_book.render import limits

    def quick():
        return os.getpid()

    def slow():
        time.sleep(30)

    def done(number, result):
        raise BrokenPipeError(32, "Broken pipe")

    before = set(_children())
    start = time.monotonic()
    with pytest.raises(BrokenPipeError):
        limits.run([slow, quick], 2, 60, 2**30, done=done)
    assert time.monotonic() - start < 10
    time.sleep(0.2)
    assert set(_children()) <= before       # the slow one was killed (and reaped)


def _children() -> list[int]:
    """The pids of this process's children, alive or not yet reaped."""
    try:
        with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children", encoding="ascii") as f:
            return [int(pid) for pid in f.read().split()]
    except OSError:
        return []
