"""A wheel of build_book carries its templates and builds a book without the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO, copy_book


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """build_book built into a wheel (from a copy of the sources, so the checkout gets no build/ or
    egg-info) and unpacked with pip into a folder of its own."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(REPO / name, source / name)
    for name in ("build_book", "templates"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    built = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(work / "dist"),
                            str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (work / "dist").glob("build_book-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for template in (REPO / "templates").rglob("*"):
        if template.is_file():
            assert f"build_book/templates/{template.relative_to(REPO / 'templates').as_posix()}" in names
    target = work / "site"
    done = subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return target


def test_installed_wheel_builds_the_html_edition(installed, tmp_path_factory):
    book = copy_book("mini", tmp_path_factory)
    outside = tmp_path_factory.mktemp("elsewhere")            # a cwd from which the checkout is not importable
    env = {**os.environ, "PYTHONPATH": str(installed)}
    env.pop("BUILD_BOOK_DEBUG", None)
    where = subprocess.run([sys.executable, "-c", "import build_book, build_book.templating as t; "
                            "print(build_book.__file__); print(t.PACKAGE_TEMPLATES)"],
                           cwd=outside, env=env, capture_output=True, text=True, timeout=60)
    module, templates = where.stdout.split("\n")[:2]
    assert Path(module).is_relative_to(installed), where.stdout + where.stderr
    assert Path(templates) == installed / "build_book" / "templates"
    result = subprocess.run([sys.executable, "-m", "build_book", "html", "--book", str(book), "-q"],
                            cwd=outside, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    index = book / "build" / "html" / "index.html"
    assert index.is_file() and (book / "build" / "html" / "style.css").is_file()
    assert "Alliances in Miniature" in index.read_text(encoding="utf-8")


def test_checkout_uses_the_top_level_templates():
    from build_book import templating

    assert templating.PACKAGE_TEMPLATES == REPO / "templates"
