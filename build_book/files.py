"""Names and places every command needs before it reads anything: kept in a module that imports
nothing heavy, so that a command with nothing to do (a build or check of an unchanged book) starts fast."""

from __future__ import annotations

import re
from pathlib import Path

CONFIG_NAME = "book.yml"
QUARTO_NAME = "_quarto.yml"   # a Quarto book project, read where there is no book.yml
BOOKDOWN_NAME = "_bookdown.yml"   # a bookdown book (with its index.Rmd), read where there is neither
BOOKDOWN_INDEX = "index.Rmd"      # a bookdown book's first chapter, whose front matter is the book's
_BOOKDOWN_SITE = re.compile(r"\A---[ \t]*\n(?:(?!(?:---|\.\.\.)[ \t]*\n).*\n)*?site:\s*[\"']?bookdown::", re.M)


def bookdown_book(folder: Path) -> bool:
    """Is ``folder`` a bookdown book's: with a _bookdown.yml, or an index.Rmd whose front matter says
    ``site: bookdown::bookdown_site``?"""
    try:
        if (folder / BOOKDOWN_NAME).is_file():
            return True
        index = folder / BOOKDOWN_INDEX
        if not index.is_file():
            return False
        with index.open(encoding="utf-8-sig", errors="replace") as text:   # (a BOM before its ---)
            return _BOOKDOWN_SITE.search(text.read(20_000).replace("\r\n", "\n")) is not None
    except OSError:
        return False


def quarto_book(path: Path) -> bool:
    """Is ``path`` the _quarto.yml of a Quarto book project (``project: type: book``)?"""
    try:
        if not path.is_file():
            return False
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    if re.search(r"^project:\s*\n(?:[ \t]+.*\n|\s*\n)*?[ \t]+type:\s*[\"']?book[\"']?\s*(#.*)?$", text, re.M):
        return True
    if not re.search(r"^project:.*\bbook\b", text, re.M | re.S):
        return False
    import yaml     # written otherwise ('project: {type: book}'): as YAML reads it

    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError, ValueError):
        return False
    project = data.get("project") if isinstance(data, dict) else None
    return isinstance(project, dict) and project.get("type") == "book"


def package_templates() -> Path:
    """build_book's own templates: package data in an installed wheel, the checkout's templates/ otherwise."""
    here = Path(__file__).resolve().parent
    installed = here / "templates"                      # a wheel puts them inside the package
    return installed if installed.is_dir() else here.parent / "templates"   # a checkout (editable install)
