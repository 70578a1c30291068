"""Fixture books are built once per test session, then many tests read the outputs."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

BOOKS = Path(__file__).parent / "books"
REPO = Path(__file__).resolve().parent.parent

# build_book keeps the key its cache entries are signed with, and its compiled templates, in
# $XDG_CACHE_HOME/build_book: the tests (and the builds they run) use a folder of their own, never the user's
USER_CACHE = tempfile.mkdtemp(prefix="build_book-tests-cache-")
os.environ["XDG_CACHE_HOME"] = USER_CACHE
atexit.register(shutil.rmtree, USER_CACHE, ignore_errors=True)


@dataclass
class Built:
    root: Path
    pdf: Path
    epub: Path
    html: Path
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "build_book", *args], cwd=cwd or REPO,
                          capture_output=True, text=True, timeout=600)


def copy_book(name: str, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp(name) / name
    shutil.copytree(BOOKS / name, target, ignore=shutil.ignore_patterns("build"))
    return target


def build_all(root: Path, slug: str, *options: str) -> Built:
    """Build every edition of the book in ``root`` through the command line, as a user would."""
    result = run_cli("all", "--book", str(root), *options)
    assert result.returncode == 0, result.stderr
    out = root / "build"
    return Built(root, out / f"{slug}.pdf", out / f"{slug}.epub", out / "html", result.stdout, result.stderr)


@pytest.fixture(scope="session")
def mini(tmp_path_factory) -> Built:
    """The 'mini' fixture book, built into all three editions once."""
    return build_all(copy_book("mini", tmp_path_factory), "alliances-in-miniature")


@pytest.fixture(scope="session")
def quarto(tmp_path_factory) -> Built:
    """The 'quarto' fixture book (a Quarto project, no book.yml), built into all three editions once."""
    return build_all(copy_book("quarto", tmp_path_factory), "quarto-habits")


@pytest.fixture(scope="session")
def volume(tmp_path_factory) -> Built:
    """The volume this repository holds, built into all three editions once."""
    root = tmp_path_factory.mktemp("volume")
    for name in ("book.yml", "chapters", "bibliography", "style"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            shutil.copyfile(source, root / name)
    return build_all(root, "the-place-of-alliances-in-us-foreign-policy", "--strict")


@pytest.fixture(scope="session")
def edge(tmp_path_factory) -> Built:
    """The 'edge' fixture book (awkward but legal manuscripts), built once."""
    return build_all(copy_book("edge", tmp_path_factory), "edge-cases-in-alliance-politics")
