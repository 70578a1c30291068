"""Content-addressed cache entries under ``build/.cache/``, each checked before it is trusted.

Every entry is one file named by the digest of what it was made from. Its first line is a header
naming the entry's format, that digest and the SHA-256 of the rest of the file; :func:`get` returns the
rest only if the header matches, so a truncated, corrupted or swapped file is simply made again (and
overwritten) as if it were not there. Entries are written to a temporary file and renamed, so a killed
build never leaves half an entry. :func:`prune` removes what the last run did not use.

The parse cache (``load.py``), the per-chapter stages (``transform.py``) and the written fragments
(``render/common.py``, ``render/epub.py``) all use these three functions.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from pathlib import Path

from . import __version__

# bump when what any stage writes into the cache changes shape or meaning
STAGES_VERSION = "1"


def digest(*parts) -> str:
    """SHA-256 of ``parts`` (strings, bytes or JSON-able values), each kept apart from the next."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, bytes):
            data = part
        elif isinstance(part, str):
            data = part.encode("utf-8")
        else:
            data = json.dumps(part, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def version_key() -> str:
    """What every stage's key includes: build_book's version, the stage format and a digest of
    build_book's own code (so that a changed build_book never reuses what an older one made)."""
    here = Path(__file__).resolve().parent
    code = hashlib.sha256()
    for path in sorted(here.rglob("*.py")):
        try:
            code.update(path.relative_to(here).as_posix().encode() + b"\0" + path.read_bytes())
        except OSError:
            pass
    return f"build_book {__version__} stages {STAGES_VERSION} {code.hexdigest()[:16]}"


def get(folder: Path, key: str, fmt: str, suffix: str = ".json") -> bytes | None:
    """The body of the entry ``key`` in ``folder``, or None if there is none or it is not sound."""
    try:
        raw = (folder / f"{key}{suffix}").read_bytes()
    except OSError:
        return None
    header, newline, body = raw.partition(b"\n")
    if not newline or header.decode("ascii", errors="replace").split(" ") != \
            [*fmt.split(" "), key, hashlib.sha256(body).hexdigest()]:
        return None
    return body


def get_text(folder: Path, key: str, fmt: str, suffix: str = ".json") -> str | None:
    body = get(folder, key, fmt, suffix)
    if body is None:
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def put(folder: Path, key: str, body: bytes | str, fmt: str, suffix: str = ".json") -> None:
    """Store ``body`` as the entry ``key`` (atomically); a folder that cannot be written is no error."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{key}{suffix}"
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "wb") as out:
            out.write(f"{fmt} {key} {hashlib.sha256(body).hexdigest()}\n".encode("ascii"))
            out.write(body)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only tree still builds, just without the cache


def prune(folder: Path, used: set[str], suffix: str = ".json") -> None:
    """Remove the entries of ``folder`` whose key is not in ``used`` (and stray temporary files)."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        name = entry.name
        stale = name.endswith(".tmp") or (name.endswith(suffix) and name[: -len(suffix)] not in used)
        if stale and entry.is_file():
            try:
                entry.unlink()
            except OSError:
                pass
