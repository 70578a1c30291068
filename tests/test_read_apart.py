"""A book read apart (load.read_apart): a cold build of the print edition reads the book in a child process
that fills the caches, and loads it from them, each chapter's blocks read when first used (by the processes
that format the citations, which then let them go). What it builds is what a build that reads the book
itself builds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from build_book import build, load, model

from .conftest import REPO, copy_book
from .pdfinfo import Pdf
from .test_pdf_pieces import same

SLUG = "alliances-in-miniature"
ENV = {**os.environ, "SOURCE_DATE_EPOCH": "1600000000",
       "BUILD_BOOK_PDF_TIMEOUT": os.environ.get("BUILD_BOOK_PDF_TIMEOUT", "600")}   # a busy machine
APART = {**ENV, load.APART_ENV: "0"}    # any book is read apart


def read_apart(root: Path, env: dict) -> str:
    """load.read_apart in a process of its own (it forks only a process that runs no other thread)."""
    code = "import sys; from pathlib import Path; from build_book import load; print(load.read_apart(Path(sys.argv[1])))"
    result = subprocess.run([sys.executable, "-c", code, str(root)], cwd=REPO, capture_output=True, text=True,
                            timeout=600, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_small_book_is_read_in_the_build(tmp_path_factory):
    root = copy_book("mini", tmp_path_factory)
    assert read_apart(root, ENV) == "False"        # a few KB of chapters: not worth a process
    assert not (root / "build").exists()


def test_the_book_read_apart_is_the_book_read_in_the_build(tmp_path_factory):
    here, apart = copy_book("mini", tmp_path_factory), copy_book("mini", tmp_path_factory)
    assert read_apart(apart, APART) == "True"
    documents = list((apart / "build" / ".cache" / "ast").iterdir())
    read, loaded = build._check(here), build._check(apart)
    assert loaded.book is not None and read.book is not None
    assert len(documents) == len(read.book.chapters) == 4    # every chapter's document, in the parse cache
    # loaded from the caches: a chapter's blocks are read only if a check needs them (raw HTML to clean)
    assert any(type(c.__dict__["_blocks"]) is model.Lazy for c in loaded.book.chapters)
    assert all(type(c.__dict__["_blocks"]) is list for c in read.book.chapters)
    assert [(d.severity, d.code, d.message, d.location) for d in loaded.diagnostics] == \
        [(d.severity, d.code, d.message, d.location) for d in read.diagnostics]
    assert sorted(loaded.index.labels) == sorted(read.index.labels)
    for a, b in zip(read.book.chapters, loaded.book.chapters):
        assert (a.label, a.title, a.matter, a.part, a.targets, a.digest) == \
            (b.label, b.title, b.matter, b.part, b.targets, b.digest)
        assert json.dumps(b.blocks) == json.dumps(a.blocks)
        # let go, and read again alike when next asked for
        model.release(b)
        assert type(b.__dict__["_blocks"]) is model.Lazy
        assert json.dumps(b.blocks) == json.dumps(a.blocks)
    # blocks given as a list are the chapter's own: release keeps them
    model.release(read.book.chapters[0])
    assert type(read.book.chapters[0].__dict__["_blocks"]) is list


def test_editions_built_from_the_book_read_apart_are_those_of_the_book_read_in_the_build(tmp_path_factory):
    here, apart = copy_book("mini", tmp_path_factory), copy_book("mini", tmp_path_factory)
    for root, env in ((here, ENV), (apart, APART)):
        result = subprocess.run([sys.executable, "-m", "build_book", "all", "--book", str(root), "--jobs", "2"],
                                cwd=REPO, capture_output=True, text=True, timeout=600, env=env)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    same(Pdf(here / "build" / f"{SLUG}.pdf"), Pdf(apart / "build" / f"{SLUG}.pdf"))

    def pages(root: Path) -> dict[str, bytes]:
        folder = root / "build" / "html"
        return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

    def epub(root: Path) -> dict[str, bytes]:
        with zipfile.ZipFile(root / "build" / f"{SLUG}.epub") as archive:
            return {n: archive.read(n) for n in archive.namelist()}

    assert pages(here) == pages(apart)
    assert epub(here) == epub(apart)
