"""The one place that owns the jinja2 environment.

Templates are looked up first in the book's own ``templates/`` folder (so a
book can override any of them) and then in build_book's bundled templates.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2


def _package_templates() -> Path:
    """build_book's own templates: package data in an installed wheel, the checkout's templates/ otherwise."""
    here = Path(__file__).resolve().parent
    installed = here / "templates"                      # a wheel puts them inside the package
    return installed if installed.is_dir() else here.parent / "templates"   # a checkout (editable install)


PACKAGE_TEMPLATES = _package_templates()


@lru_cache(maxsize=8)
def environment(book_root: Path) -> jinja2.Environment:
    folders = [book_root / "templates", PACKAGE_TEMPLATES]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(f) for f in folders if f.is_dir()]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def render(book_root: Path, name: str, **context) -> str:
    return environment(book_root).get_template(name).render(**context)


def static_file(book_root: Path, name: str) -> Path:
    for folder in (book_root / "templates", PACKAGE_TEMPLATES):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(name)
