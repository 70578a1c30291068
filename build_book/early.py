"""pandoc started on the edited chapters first of all, before build_book reads the book.

After an author's edit, most of a check's time is pandoc reading the edited chapter; but load.py can hand
pandoc the chapter only once it has imported the modules that prepare its text, read book.yml and the
chapter files, so pandoc would start a third of the way into the check. The command line therefore starts
it at once (see :func:`start`), from a small record the last load left (``build/.cache/read-order/``):
each chapter file's size and modification time, and the pandoc binary that load ran (and what it said of
its version, so that it need not be run for that again: see pandoc.remember_probes). Every chapter file
whose size or time differs is read, and pandoc is started on the text load.py will most likely hand it:
the file with its front matter made blank lines (:func:`likely_text`).

What pandoc reads is never a guess: pandoc.py gives load.py such a run's output only for exactly the text
load.py hands pandoc, read by the binary it would run itself, with the same arguments (see
pandoc.read_markdown_json); a run nobody takes is stopped (pandoc.drop_ahead). A wrong guess (a chapter
with Quarto includes or CriticMarkup, an edit saved again meanwhile) costs some work on another core, and
changes no result.

This module imports little (cache.py, and pandoc.py when a chapter has changed), so that pandoc starts
before the rest is imported.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from . import cache as cachefile

# A chapter's front matter: '---' on its first line, up to a line '---' or '...' (load.py splits it so too)
FRONT_MATTER_OPEN = re.compile(r"---[ \t]*\n")
FRONT_MATTER_END = re.compile(r"^(---|\.\.\.)[ \t]*$", re.M)

RECORD_FORMAT = "build_book-chapter-stamps 3"
RECORD_FOLDER = "read-order"
RECORD_KEY = "chapter-stamps"


def stamps(root: Path, paths) -> dict[str, list[int]]:
    """Each chapter file's size and modification time (how a changed file is told from the others)."""
    out = {}
    for path in paths:
        try:
            found = os.stat(root / path)
        except OSError:
            continue
        out[path] = [found.st_size, found.st_mtime_ns]
    return out


def last_record(cache: Path) -> dict:
    """What the last load recorded (``cache``: the book's ``build/.cache``): ``stamps``, the chapter files'
    stamps as it found them; ``pandoc``, the binary it ran (or None); ``probes``, what the candidate pandocs
    said of their version (see pandoc.probes)."""
    text = cachefile.get_text(cache / RECORD_FOLDER, RECORD_KEY, RECORD_FORMAT)
    try:
        found = json.loads(text) if text is not None else {}
        if isinstance(found.get("stamps"), dict) and isinstance(found.get("pandoc"), (str, type(None))) \
                and isinstance(found.get("probes"), dict):
            return found
    except (ValueError, AttributeError):
        pass
    return {"stamps": {}, "pandoc": None, "probes": {}}


def record(cache: Path, found: dict) -> None:
    """Keep what :func:`last_record` reads for the next load (see :func:`start`)."""
    cachefile.put(cache / RECORD_FOLDER, RECORD_KEY, json.dumps(found), RECORD_FORMAT)


def likely_text(raw: bytes) -> str | None:
    """What load.py most likely hands pandoc of a chapter file (see load._read_chapter): the text with its
    front matter as blank lines (to keep line numbers); None if it is not UTF-8."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    opening = FRONT_MATTER_OPEN.match(text)
    end = FRONT_MATTER_END.search(text, opening.end()) if opening else None
    if end is None:
        return text
    return "\n" * (text.count("\n", 0, end.end()) + 1) + text[end.end() + 1:]


def start(root: Path, jobs: int | None = None) -> None:
    """Start pandoc on each chapter file of the book in ``root`` that changed since the last load (at most
    one run per core: more edited chapters than that are read by load.py, in one pandoc run)."""
    found = last_record(root / "build" / ".cache")
    last, binary = found["stamps"], found["pandoc"]
    if not last or binary is None:
        return
    changed = [path for path, now in stamps(root, last).items() if now != last[path]]
    if not changed or len(changed) > max(1, jobs or os.cpu_count() or 2):
        return
    from . import pandoc, sandbox    # (only now: a check with nothing changed needs no pandoc)

    # the record is in the book's build/, which its author controls (a pushed change may even commit it):
    # run nothing but a pandoc this process could choose itself
    if binary not in pandoc.candidate_paths():
        return
    pandoc.remember_probes(found["probes"])
    for path in changed:
        # only a file inside the book, as load.py reads it (a chapter may have become a link to anywhere)
        inside = sandbox.inside(root, path)
        if inside is None or not sandbox.is_file(inside):
            continue
        try:
            raw = inside.read_bytes()
        except OSError:
            continue
        text = likely_text(raw)
        if text is not None:
            pandoc.read_markdown_ahead(text, binary)
