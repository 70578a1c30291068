"""Content-addressed cache entries under ``build/.cache/``, each checked before it is trusted.

Every entry is one file named by the digest of what it was made from. Its first line is a header
naming the entry's format, that digest and a keyed digest (HMAC-SHA256) of the format, the digest and
the rest of the file; :func:`get` returns the rest only if the header matches, so a truncated, corrupted
or swapped file is simply made again (and overwritten) as if it were not there. Entries are written to a
temporary file and renamed, so a killed build never leaves half an entry. :func:`prune` removes what the
last run did not use.

The cache is in the book's folder, which its author controls: CI builds every pushed change, and a
change can commit files under the git-ignored ``build/`` (``git add -f``). Every digest an entry is
named by can be computed from the book's sources, so a checksum alone would not tell an entry build_book
wrote from one planted to put a script in the web edition or to hide a diagnostic. The HMAC's key is
the user's own (:func:`secret`: ``$XDG_CACHE_HOME/build_book/cache-key``, made once, readable by the
user alone), never in the book, so a planted entry never verifies and is made again.

The parse cache (``load.py``), the per-chapter stages (``transform.py``) and the written fragments
(``render/common.py``, ``render/epub.py``) all use these three functions. A file another program reads by
path (pandoc's CSL JSON, a style, a font) cannot carry a header: it is read with :func:`read_file` (which
follows no symbolic link) and compared with what build_book made or with a signed record of it, or written
anew with :func:`write_file`. No entry is written or removed in a folder that is a symbolic link below
``build/``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
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
    return f"build_book {__version__} stages {STAGES_VERSION} {code_digest(Path(__file__).resolve().parent)}"


def code_digest(here: Path) -> str:
    """A digest of the code under ``here``: its Python and the Lua filters it runs in pandoc."""
    code = hashlib.sha256()
    for path in sorted([*here.rglob("*.py"), *here.rglob("*.lua")]):
        try:
            code.update(path.relative_to(here).as_posix().encode() + b"\0" + path.read_bytes())
        except OSError:
            pass
    return code.hexdigest()[:16]


KEY_FILE = "cache-key"
KEY_SIZE = 32


def user_folder() -> Path | None:
    """build_book's folder in the user's cache: ``$XDG_CACHE_HOME/build_book`` (``~/.cache/build_book``);
    None where there is no home to be had."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    try:
        root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    except (KeyError, RuntimeError):
        return None
    return root / "build_book"


def _read_key(path: Path) -> bytes | None:
    """The key in ``path`` if it is the user's own regular file of the right size, else None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not (info.st_mode & 0o170000 == 0o100000 and info.st_uid == os.getuid() and info.st_size == KEY_SIZE):
            return None
        data = os.read(fd, KEY_SIZE + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data if len(data) == KEY_SIZE else None


@functools.lru_cache(maxsize=1)
def secret() -> bytes:
    """The key cache entries are signed with: the user's own, made once with ``os.urandom`` in
    :func:`user_folder` (mode 0600), outside any book. Two builds making it at once agree: each writes its
    own temporary file and links it to the name, and whichever link came first is the key both read (a
    file there that holds no key is replaced). Where it can neither be read nor made (a read-only home), a key for this process alone: the cache
    then helps only within one run, and never trusts what another wrote."""
    folder = user_folder()
    if folder is not None:
        path = folder / KEY_FILE
        found = _read_key(path)
        if found is not None:
            return found
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = folder / f"{KEY_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(os.urandom(KEY_SIZE))
                try:
                    os.link(tmp, path)          # fails if another build made it first: then that one is read
                except FileExistsError:
                    if _read_key(path) is None and not os.path.islink(path):
                        os.replace(tmp, path)   # a damaged key (not the size of one): replaced
            finally:
                try:
                    tmp.unlink()
                except FileNotFoundError:
                    pass
        except OSError:
            pass
        found = _read_key(path)
        if found is not None:
            return found
    return os.urandom(KEY_SIZE)


def _header(fmt: str, key: str, body: bytes) -> bytes:
    """An entry's first line: its format, its key and the HMAC of both and of ``body``."""
    named = f"{fmt} {key}".encode("ascii")
    mac = hmac.new(secret(), named + b"\n", "sha256")
    mac.update(body)
    return named + b" " + mac.hexdigest().encode("ascii")


def get(folder: Path, key: str, fmt: str, suffix: str = ".json") -> bytes | None:
    """The body of the entry ``key`` in ``folder``, or None if there is none or it is not sound (or
    not signed with the user's key)."""
    raw = read_file(folder / f"{key}{suffix}")
    if raw is None:
        return None
    header, newline, body = raw.partition(b"\n")
    if not newline or not hmac.compare_digest(header, _header(fmt, key, body)):
        return None
    return body


def read_file(path: Path) -> bytes | None:
    """The bytes of the regular file at ``path``, None if there is none: a symbolic link (which a book
    can bring, pointing anywhere: at /dev/zero, say) is not followed."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        if os.fstat(fd).st_mode & 0o170000 != 0o100000:
            return None
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read()
    except OSError:
        return None
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes | str) -> bool:
    """Put ``data`` at ``path`` in one step (a temporary file renamed over it, so a symbolic link there
    is replaced, never written through); False if it cannot be written (or its folder, below ``build/``,
    is a symbolic link)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not own_folder(path.parent):
        return False
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "xb") as out:
            out.write(data)
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        return False
    return True


def get_text(folder: Path, key: str, fmt: str, suffix: str = ".json") -> str | None:
    body = get(folder, key, fmt, suffix)
    if body is None:
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def own_folder(folder: Path) -> bool:
    """False if ``folder`` or a folder between it and the book's ``build/`` is a symbolic link: one a book
    brought could point anywhere, and entries are written and removed there. (``build/`` itself may be a
    link a user made, to another disk say.)"""
    chain = [folder, *folder.parents][:6]
    ends = [n for n, p in enumerate(chain) if p.name == "build"]
    if not ends:
        return True     # not a book's cache (the user's own)
    return not any(os.path.islink(p) for p in chain[: ends[0]])


def put(folder: Path, key: str, body: bytes | str, fmt: str, suffix: str = ".json") -> None:
    """Store ``body`` as the entry ``key`` (atomically); a folder that cannot be written is no error."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not own_folder(folder):
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{key}{suffix}"
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "wb") as out:
            out.write(_header(fmt, key, body) + b"\n")
            out.write(body)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only tree still builds, just without the cache


def prune(folder: Path, used: set[str], suffix: str = ".json") -> None:
    """Remove the entries of ``folder`` whose key is not in ``used`` (and stray temporary files)."""
    if not own_folder(folder):
        return
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        name = entry.name
        stale = name.endswith(".tmp") or (name.endswith(suffix) and name[: -len(suffix)] not in used)
        if stale and (entry.is_file(follow_symlinks=False) or entry.is_symlink()):
            try:
                os.unlink(entry.path)
            except OSError:
                pass
