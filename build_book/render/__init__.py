"""Renderers: one per edition, each ``render(ctx) -> list of produced paths``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..labels import LabelIndex
from ..model import Book
from ..progress import Progress
from ..transform import Prepared


@dataclass(frozen=True)
class RenderContext:
    book: Book
    index: LabelIndex
    prepared: Prepared
    destination: Path   # an empty staging folder; outputs are moved into build/ when complete
    progress: Progress
    diagnostics: list = field(default_factory=list)  # problems met while rendering (warnings)
    proof: object | None = None   # a proof round's details (proof.py); None for the public editions
    # a live preview (serve): work the preview can do after the reload goes out is listed here instead
    # (``"search"``: the search index, left as the last build's); None for every other build
    deferred: set | None = None
    started: object | None = None   # what build.py began for this renderer once the book was checked (START)


def _html(ctx):
    from .html import render
    return render(ctx)


def _epub(ctx):
    from .epub import render
    return render(ctx)


def _pdf(ctx):
    from .pdf import render
    return render(ctx)


RENDERERS: dict[str, Callable[[RenderContext], list[Path]]] = {"pdf": _pdf, "epub": _epub, "html": _html}


def _html_ready(book, index, prepared):
    from .html import get_ready
    get_ready(book, index, prepared)


# what a renderer can get ready while the edited chapters' citations are formatted (transform.prepare's
# ``meanwhile``), from the chapters taken from the cache
GET_READY: dict[str, Callable] = {"html": _html_ready}


def _html_start(book):
    from .html import start
    return start(book)


# what a renderer begins (in a thread of its own) as soon as the book is checked, given the book: it gets
# it back as RenderContext.started
START: dict[str, Callable] = {"html": _html_start}
