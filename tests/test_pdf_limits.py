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


def test_a_layout_past_its_memory_limit_is_a_located_error(book):
    result = build_pdf(book, BUILD_BOOK_PDF_MEMORY="200M")
    assert result.returncode == 1, result.stderr
    assert "book.yml:1:1: error[pdf-memory]:" in result.stderr and "200 MB" in result.stderr
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
