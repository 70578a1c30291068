"""The whole pipeline, top to bottom: load, check, transform, render, publish.

A build writes each edition into ``build/.staging/`` first and moves it into
place only when it is complete, so a failed build leaves the previous good
outputs where they were.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import checks
from .diagnostics import BuildError, Diagnostic, has_errors, sort_key
from .labels import LabelIndex, build_index
from .load import load_book
from .model import Book
from .progress import Progress, Silent
from .render import RENDERERS, RenderContext
from .transform import prepare


@dataclass
class CheckResult:
    book: Book | None
    index: LabelIndex | None
    diagnostics: list[Diagnostic] = field(default_factory=list)


def check(root: Path, progress: Progress | None = None) -> CheckResult:
    """Load the book and run every check; never raises for problems in the book."""
    progress = progress or Silent()
    try:
        loaded = load_book(root, progress)
    except BuildError as exc:
        return CheckResult(None, None, sorted(exc.diagnostics, key=sort_key))
    index = build_index(loaded.book)
    diags = loaded.diagnostics + checks.run_all(loaded.book, index)
    diags = adjust(diags, loaded.book.config.diagnostics)
    return CheckResult(loaded.book, index, sorted(set(diags), key=sort_key))


def adjust(diagnostics: list[Diagnostic], settings: dict[str, str]) -> list[Diagnostic]:
    """Apply book.yml's ``diagnostics:`` settings (code -> off, warning or error)."""
    if not settings:
        return diagnostics
    out = []
    for diag in diagnostics:
        setting = settings.get(diag.code)
        if setting == "off":
            continue
        out.append(replace(diag, severity=setting) if setting else diag)
    return out


def build(root: Path, editions: list[str], *, strict: bool = False,
          progress: Progress | None = None) -> tuple[list[Path], list[Diagnostic]]:
    """Build ``editions``; raise :class:`BuildError` (nothing written) if the checks fail."""
    progress = progress or Silent()
    root = root.resolve()
    progress.step(f"reading the book in {root}")
    result = check(root, progress)
    if result.book is None or has_errors(result.diagnostics, strict):
        raise BuildError(result.diagnostics)
    book, index = result.book, result.index
    progress.step(f"{len(book.chapters)} chapters, {len(book.bibliography.entries)} bibliography entries, "
                  f"{len(index.labels)} labels checked")
    prepared = prepare(book, index, progress)
    out_dir = root / "build"
    staging_root = out_dir / ".staging"
    produced: list[Path] = []
    try:
        for edition in editions:
            staging = staging_root / edition
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            progress.step(f"rendering the {edition.upper()} edition")
            produced += RENDERERS[edition](RenderContext(book, index, prepared, staging, progress))
        # every edition is complete: only now do they replace the previous ones
        written = [_publish(item, out_dir / item.name) for item in produced]
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
    return written, result.diagnostics


def _publish(item: Path, target: Path) -> Path:
    """Move a finished output into place, replacing the old one in one step where possible."""
    if item.is_dir():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            os.replace(target, old)
        os.replace(item, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(item, target)
    return target
