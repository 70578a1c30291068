"""Names and places every command needs before it reads anything: kept in a module that imports
nothing heavy, so that a command with nothing to do (a build or check of an unchanged book) starts fast."""

from __future__ import annotations

from pathlib import Path

CONFIG_NAME = "book.yml"
QUARTO_NAME = "_quarto.yml"   # a Quarto book project, read where there is no book.yml


def package_templates() -> Path:
    """build_book's own templates: package data in an installed wheel, the checkout's templates/ otherwise."""
    here = Path(__file__).resolve().parent
    installed = here / "templates"                      # a wheel puts them inside the package
    return installed if installed.is_dir() else here.parent / "templates"   # a checkout (editable install)
