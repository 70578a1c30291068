"""The book's folder is the limit: every file an author names must lie inside it.

CI builds every pushed change and publishes the web edition, so a chapter,
book.yml or a template override is untrusted input. Whatever path an author
writes (an image, a chapter, a .bib, a .csl, a resource in raw HTML) is
resolved here, symbolic links included, and used only if it lands inside the
book's root folder; otherwise the author gets a ``path-outside-book`` error at
the place the path was written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:
    from .diagnostics import Diagnostic, Location
# (diagnostics.py is imported where an error is made: early.py checks paths before anything else is loaded)

CODE = "path-outside-book"
HINT = ("the book's folder (the one holding book.yml) is the limit: copy the file into it and name it "
        "by a path relative to the file that uses it")


def resolve(base: Path, named: str | os.PathLike) -> Path:
    """``named`` (relative to ``base`` unless absolute) with '..' and symbolic links resolved."""
    text = os.fspath(named)
    try:
        return (Path(base) / text).resolve()
    except (OSError, RuntimeError, ValueError):
        # a symbolic link loop or a NUL byte: no file is there; judge the name as written ('..' applied),
        # and let the existence checks report it
        return Path(os.path.normpath(os.path.join(os.path.abspath(base), text)))


def is_file(path: Path) -> bool:
    """Is there a file at ``path``? False, not an exception, for a name too long for the file
    system or holding a NUL byte (an author can write either)."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def within(path: Path, folder: Path) -> bool:
    """Is the resolved ``path`` ``folder`` itself or inside it (``folder`` resolved too)?"""
    try:
        folder = Path(folder).resolve()
    except (OSError, RuntimeError):
        return False
    return path == folder or folder in path.parents


def inside(root: Path, named: str | os.PathLike, base: Path | None = None) -> Path | None:
    """The file ``named`` (relative to ``base``, default the root) resolved, if it lies in the book; else None."""
    path = resolve(base if base is not None else root, named)
    return path if within(path, root) else None


def inside_url(root: Path, named: str, base: Path | None = None) -> Path | None:
    """As :func:`inside`, for a target written as a URL path (percent-escapes decoded)."""
    return inside(root, unquote(named), base)


def outside(named: str, where: Location, what: str = "file") -> Diagnostic:
    """The error for a ``what`` named ``named`` at ``where`` that lies outside the book."""
    from .diagnostics import error

    return error("path-outside-book",
                 f"the {what} '{named}' lies outside the book's folder, which is as far as a build may read",
                 where, HINT)
