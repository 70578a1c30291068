"""The whole pipeline, top to bottom: load, check, transform, render, publish.

A build holds a lock on ``build/.cache/build.lock`` (a second build of the same book waits
for the first), writes each edition into a staging folder of its own
(``build/.staging-<pid>-*``) and, only when every edition is complete, publishes
them into ``build/`` as one step: a journal (``build/.publish.json``) is written
before the first move and removed after the last, so a build killed in between
is completed by the next command before it does anything else. The outputs in
``build/`` are therefore always the complete previous set or the complete new one.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import signal
import stat
import tempfile
import threading
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from typing import TYPE_CHECKING

from .diagnostics import BuildError, Diagnostic, Location, error, has_errors, sort_key
from .progress import Progress, Silent

if TYPE_CHECKING:
    from .labels import LabelIndex
    from .model import Book

# The pipeline's modules (the checks, pandoc, the renderers and what they import) are imported where
# they are first needed: a build or check of a book in which nothing has changed reprints what the
# last one found without importing them (see _last), which is most of its time.

LOCK = ".cache/build.lock"  # under build/, beside the caches, out of the way of the outputs
JOURNAL = ".publish.json"
JOURNAL_FORMAT = 1
STAGING_PREFIX = ".staging"
# Used only by the test suite: the build kills itself (SIGKILL) right after publishing step N,
# to show that a crash at any point leaves a complete set of editions.
TEST_KILL_ENV = "BUILD_BOOK_TEST_KILL_AFTER_PUBLISH_STEP"


@dataclass
class CheckResult:
    book: Book | None
    index: LabelIndex | None
    diagnostics: list[Diagnostic] = field(default_factory=list)


def check(root: Path, progress: Progress | None = None, jobs: int | None = None,
          reuse: bool = False) -> CheckResult:
    """Load the book and run every check; never raises for problems in the book.

    ``reuse``: if no file of the book has changed since the last check, return its diagnostics
    (without the book and index, which are then None) instead of checking again.

    A publication left half done by a killed build is completed first, if no build is running."""
    root = root.resolve()
    try:
        with _locked(root / "build", progress or Silent(), wait=False, create=False) as held:
            if held:
                _recover(root / "build")
                _remove_stale_staging(root / "build")
    except (OSError, BuildError):
        pass  # nothing to complete, or nothing we may write: checking needs neither
    inputs = _inputs(root) if reuse else None
    previous = _last(root, "check", inputs)
    if previous is not None:
        return CheckResult(None, None, previous["diagnostics"])
    result = _check(root, progress, jobs)
    _remember(root, "check", inputs, result.diagnostics)
    return result


def _check(root: Path, progress: Progress | None = None, jobs: int | None = None, also=None) -> CheckResult:
    """``also``: called as well while pandoc reads the edited chapters (a build imports its renderers)."""
    from . import pandoc
    pandoc.find_soon()    # while the modules that read the book are imported
    from .load import load_book

    def meanwhile():   # while pandoc reads the edited chapters: what checking them needs
        from . import checks, labels  # noqa: F401
        if also is not None:
            also()

    progress = progress or Silent()
    try:
        loaded = load_book(root, progress, jobs, meanwhile)
    except BuildError as exc:
        return CheckResult(None, None, sorted(exc.diagnostics, key=sort_key))
    from . import checks, quarto
    from .labels import build_index
    index = build_index(loaded.book)
    diags = loaded.diagnostics + quarto.relocate(checks.run_all(loaded.book, index),
                                                 quarto.line_maps(loaded.book.chapters))
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
          progress: Progress | None = None, jobs: int | None = None,
          deferred: set | None = None, keep: list | None = None) -> tuple[list[Path], list[Diagnostic]]:
    """Build ``editions``; raise :class:`BuildError` (nothing written) if the checks fail.

    ``deferred`` (a live preview): the renderers may leave work that can follow the reload, and name it
    there (see :func:`finish_deferred`). ``keep`` (a command that ends with the build): what the build
    read and made is put there, for the process to end without taking it apart (see __main__.py)."""
    progress = progress or Silent()
    root = root.resolve()
    out_dir = root / "build"
    with _interruptible(), _locked(out_dir, progress, wait=True, create=True), ExitStack() as cleanup:
        try:
            if _recover(out_dir):
                progress.step("completed the publication of the editions an interrupted build had begun")
            _remove_stale_staging(out_dir)
        except OSError as exc:
            raise BuildError([_unwritable(root, out_dir, exc)]) from None
        inputs = _inputs(root, editions)
        previous = _last(root, "-".join(editions), inputs, strict)
        if previous is not None:
            progress.step("nothing has changed since the last build: the editions in build/ are up to date")
            return previous["outputs"], previous["diagnostics"]
        web = bool({"html", "epub"} & set(editions))

        def meanwhile():   # while pandoc reads the edited chapters: what the rest of the build needs
            from . import critic, quarto, transform  # noqa: F401
            from .render import RENDERERS  # noqa: F401
            if web:   # the fonts the web edition cuts, asked for while the citations are formatted
                from . import fonts
                fonts.forget()
                fonts.prefetch()
                if not fonts.cached_any(root):   # (a first build: every face is to be cut)
                    fonts.warm()

        progress.step(f"reading the book in {root}")
        if "pdf" in editions:   # a book read anew, in a process of its own (load.py: the build's memory)
            from .load import read_apart
            read_apart(root, jobs, meanwhile)
        result = _check(root, progress, jobs, meanwhile)
        from . import critic, pandoc, quarto
        from .render import RENDERERS, RenderContext
        from .transform import prepare
        if result.book is not None:   # a public edition never prints an editor's open mark
            result.diagnostics = critic.for_public(result.diagnostics, root, result.book)
        if result.book is None or has_errors(result.diagnostics, strict):
            raise BuildError(result.diagnostics)
        book, index = result.book, result.index
        if keep is not None:
            keep.append(result)
        if "pdf" in editions:   # what the checks read of the chapters' documents is not kept (load.read_apart)
            from .model import release
            for chapter in book.chapters:
                release(chapter)
        progress.step(f"{len(book.chapters)} chapters, {len(book.bibliography.entries)} bibliography entries, "
                      f"{len(index.labels)} labels checked")
        from .render import GET_READY, START
        # what the renderers begin now, while the chapters are prepared (a core is idle until the chapters'
        # citations are formatted: one pandoc run)
        started = {e: START[e](book) for e in editions if e in START}
        ready = [GET_READY[e] for e in editions if e in GET_READY]
        prepared = prepare(book, index, progress, jobs, html=web, meanwhile=(
            lambda provisional: [get(book, index, provisional) for get in ready]) if ready else None,
            lean="pdf" in editions)
        if keep is not None:
            keep.append(prepared)
        if "pdf" in editions:   # its layout processes' server loads WeasyPrint while the HTML is written
            # (render/pieces.py; not while citeproc runs, two at once: the cold build's peak memory)
            from .render import limits
            from .render import pdf as print_edition
            if print_edition.start_layout(book):
                cleanup.callback(limits.stop_server)    # stopped after the layout, or if the build fails
        try:
            staging_root = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}-{os.getpid()}-", dir=out_dir))
        except OSError as exc:
            raise BuildError([_unwritable(root, out_dir, exc)]) from None
        produced: list[Path] = []
        rendered: list[Diagnostic] = []  # what the renderers found (a PDF resource refused, ...)
        written = None
        try:
            for edition in editions:
                staging = staging_root / edition
                staging.mkdir()
                progress.step(f"rendering the {edition.upper()} edition")
                try:
                    context = RenderContext(book, index, prepared, staging, progress, rendered, deferred=deferred,
                                            started=started.get(edition))
                    produced += RENDERERS[edition](context)
                except pandoc.PandocError as exc:
                    raise BuildError([_pandoc_failed(book, edition, exc)]) from None
                except OSError as exc:
                    if exc.filename and _inside(Path(str(exc.filename)), out_dir):
                        raise BuildError([_unwritable(root, out_dir, exc)]) from None
                    raise
            rendered[:] = sorted(quarto.relocate(rendered, quarto.line_maps(book.chapters)), key=sort_key)
            if has_errors(rendered, strict):
                raise BuildError(result.diagnostics + rendered)
            # every edition is complete: only now do they replace the previous ones, all in one step
            try:
                written = _publish(staging_root, produced, out_dir)
            except OSError as exc:
                raise BuildError([_unwritable(root, out_dir, exc)]) from None
        finally:
            # a publication interrupted half-way (Ctrl-C) is completed, never undone by removing its staging
            try:
                _recover(out_dir)
            except OSError:
                pass  # the journal stays, and the staging with it: the next command completes it
            else:
                if deferred is not None and written is not None:
                    deferred.add(("remove", str(staging_root)))   # what was replaced: gone after the reload
                else:
                    shutil.rmtree(staging_root, ignore_errors=True)
        _remember(root, "-".join(editions), inputs, result.diagnostics + rendered, written, strict)
    return written, result.diagnostics + rendered


def finish_deferred(root: Path, deferred: set) -> None:
    """Do what a preview build left for after the reload (``deferred``, emptied): the removal of its staging
    folder (which holds the pages it replaced), and the search index of ``build/html``, made anew beside it
    and put in place of the last build's in one step."""
    from .render import site

    root = root.resolve()
    for item in list(deferred):
        if isinstance(item, tuple) and item[0] == "remove":   # a published build's staging folder
            staging = Path(item[1])
            if staging.parent == root / "build" and staging.name.startswith(STAGING_PREFIX):
                shutil.rmtree(staging, ignore_errors=True)
    if "search" in deferred and (root / "build" / "html").is_dir():
        with _locked(root / "build", Silent(), wait=True, create=False):
            was_published = published_site(root)
            try:
                site.search_index(root / "build" / "html", swap=True)
            except site.SearchIndexError:
                pass      # the last index stays; the next build says what failed
            finally:
                if was_published:
                    _published(root / "build")    # the folder changed (its time): still the one published
    deferred.clear()


# --- nothing changed: nothing to do -------------------------------------------------------------------
#
# A build (or check) records what it was made from: the size and modification time of every file of the
# book (build/ and hidden folders aside), of build_book's own code, templates and pandoc, taken before it
# began; of the parse cache and the page map as it left them; and of the outputs it published. When all
# of that is as recorded, the outputs in build/ are those a new build would write, and the recorded
# diagnostics are reprinted instead of building again. (A damaged or removed parse cache entry makes the
# next command do the work, and so make the entry again.)

LAST_FORMAT = "build_book-last 2"
LAST_FOLDER = ".cache/last"
MAX_FILES = 20_000      # a book folder holding more than this is not fingerprinted (it is always built)


def _stats(folder: Path, skip_top: frozenset = frozenset()) -> list | None:
    out = []
    for top, dirs, files in os.walk(folder):
        here = Path(top)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (here == folder and d in skip_top))
        for name in sorted(files):
            if name.endswith(".tmp"):
                continue
            try:
                st = os.stat(here / name)
            except OSError:
                continue
            out.append([(here / name).relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns, st.st_ino])
            if len(out) > MAX_FILES:
                return None
    return out


def _inputs(root: Path, editions: list[str] = ()) -> str | None:
    """A digest of every input a build or check reads (None when the folder is too large to walk)."""
    from . import cache as cachefile
    from .files import package_templates

    book = _stats(root, frozenset({"build"}))
    if book is None:
        return None
    pandoc_binary = ""
    try:
        import importlib.util
        spec = importlib.util.find_spec("pypandoc")
        binary = Path(spec.origin).parent / "files" / "pandoc" if spec and spec.origin else None
        st = binary.stat() if binary else None
        pandoc_binary = [str(binary), st.st_size, st.st_mtime_ns] if st else ""
    except (ImportError, OSError, ValueError):
        pass
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith("BUILD_BOOK_") or k == "SOURCE_DATE_EPOCH")
    return cachefile.digest(cachefile.version_key(), pandoc_binary, env, list(editions), book,
                            _stats(package_templates()) or [] if editions else [])


def _parse_cache(root: Path) -> list:
    """The parse cache and the print edition's page map (which the EPUB's page list follows) as they are
    now: recorded after the build that wrote them, so that the next command finds them as they were left,
    and a PDF laid out since an EPUB was built makes the EPUB again."""
    cache = root / "build" / ".cache"
    return [_stats(cache / "ast") or [], _stats(cache / "pagemap") or []]


def _outputs(paths: list[Path]) -> list:
    out = []
    for path in paths:
        if path.is_dir():
            out.append([str(path), _stats(path)])
        else:
            try:
                st = path.stat()
            except OSError:
                return [None]
            out.append([str(path), st.st_size, st.st_mtime_ns, st.st_ino])
    return out


def _last(root: Path, name: str, inputs: str | None, strict: bool = False) -> dict | None:
    """What the last build (or check) of this kind recorded, if nothing has changed since."""
    from . import cache as cachefile

    if inputs is None:
        return None
    body = cachefile.get(root / "build" / LAST_FOLDER, name, LAST_FORMAT)
    if body is None:
        return None
    try:
        record = json.loads(body)
        if record["inputs"] != inputs or record["strict"] != strict or record["cache"] != _parse_cache(root):
            return None
        outputs = [Path(p) for p in record["outputs"]]
        if _outputs(outputs) != record["stamps"]:
            return None
        diagnostics = [Diagnostic(d["severity"], d["code"], d["message"], Location(*d["location"]), d["hint"])
                       for d in record["diagnostics"]]
    except (ValueError, KeyError, TypeError):
        return None
    return {"outputs": outputs, "diagnostics": diagnostics}


def _remember(root: Path, name: str, inputs: str | None, diagnostics: list[Diagnostic],
              outputs: list[Path] = (), strict: bool = False) -> None:
    from . import cache as cachefile

    if inputs is None or not (root / "build").is_dir():
        return
    record = {"inputs": inputs, "strict": strict, "cache": _parse_cache(root), "outputs": [str(p) for p in outputs],
              "stamps": _outputs(list(outputs)),
              "diagnostics": [{"severity": d.severity, "code": d.code, "message": d.message, "hint": d.hint,
                               "location": [d.location.path, d.location.line, d.location.column]}
                              for d in diagnostics]}
    cachefile.put(root / "build" / LAST_FOLDER, name, json.dumps(record), LAST_FORMAT)


# --- diagnostics for what is not in the author's files ---------------------------------------------

def _unwritable(root: Path, folder: Path, exc: OSError) -> Diagnostic:
    where = folder if folder.exists() or not folder.parent.exists() else folder.parent
    if folder.exists() and not folder.is_dir():
        reason = "it is a file, not a folder"
    else:
        reason = exc.strerror or str(exc)
    try:
        shown = str(folder.relative_to(root)) + "/"
    except ValueError:
        shown = str(folder)
    return error("build-unwritable", f"cannot write the editions into the folder {folder}: {reason}",
                 Location(shown), f"make {where} writable (or remove what stands in the way) and build again; "
                 "the previous outputs, if any, are unchanged")


def _pandoc_failed(book: Book, edition: str, exc) -> Diagnostic:
    from . import pandoc

    chapters = ", ".join(c.path for c in book.chapters) or "no chapters"
    if isinstance(exc, pandoc.PandocTimeout):
        return error("pandoc-timeout", f"pandoc took longer than {exc.seconds:g} seconds writing the "
                     f"{edition.upper()} edition of the chapters ({chapters}) and was stopped",
                     book.config.where("chapters"),
                     f"if the book is simply very large, allow more time with {pandoc.TIMEOUT_ENV}=SECONDS")
    return error("pandoc", f"pandoc could not write the {edition.upper()} edition of the chapters ({chapters}): "
                 f"{' '.join(str(exc).split())[:300]}", book.config.where("chapters"))


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except (ValueError, OSError):
        return False


# --- one build at a time -----------------------------------------------------------------------------

@contextmanager
def _locked(out_dir: Path, progress: Progress, *, wait: bool, create: bool):
    """Hold the book's build lock; yield whether it is held (False only when not waiting and busy)."""
    try:
        if create:
            (out_dir / LOCK).parent.mkdir(parents=True, exist_ok=True)
        elif not (out_dir / LOCK).parent.is_dir():
            yield False
            return
        # (a symbolic link there is the book's, not build_book's: removed, never followed)
        if os.path.islink(out_dir / LOCK):
            os.unlink(out_dir / LOCK)
        handle = os.fdopen(os.open(out_dir / LOCK, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o666),
                           "a+b")
    except OSError as exc:
        if not create:
            yield False
            return
        raise BuildError([_unwritable(out_dir.parent, out_dir, exc)]) from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                yield False
                return
            progress.step("another build of this book is running; waiting for it to finish ...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield True
    finally:
        handle.close()  # releases the lock


@contextmanager
def _interruptible():
    """On Ctrl-C, stop the pandoc runs at once (they may be in other threads) before unwinding."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def interrupted(signum, frame):
        from . import pandoc
        pandoc.kill_all()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# --- publishing: all editions or none ----------------------------------------------------------------

class _Steps:
    """Counts the publishing steps; the test hook kills the process after the step it names."""

    def __init__(self):
        self.done = 0
        hook = os.environ.get(TEST_KILL_ENV, "")
        self.kill_after = int(hook) if hook.isdigit() else None

    def __call__(self) -> None:
        self.done += 1
        if self.done == self.kill_after:
            os.kill(os.getpid(), signal.SIGKILL)


def _publish(staging_root: Path, produced: list[Path], out_dir: Path) -> list[Path]:
    """Move every finished output from ``staging_root`` into ``out_dir`` as one step."""
    step = _Steps()
    items = [[item.relative_to(staging_root).as_posix(), item.name] for item in produced]
    _write_journal(out_dir, {"format": JOURNAL_FORMAT, "staging": staging_root.name, "items": items})
    step()
    _roll_forward(out_dir, staging_root, items, step)
    (out_dir / JOURNAL).unlink()
    _sync(out_dir)
    step()
    if any(target == "html" for _, target in items):
        _published(out_dir)
    return [out_dir / target for _, target in items]


# build/html as a build of this user's published it: a signed record (cache.py) of the folder's identity
# (device, inode and change time: a folder made in its place, even with the same inode, has another time), so
# that a live preview shows (and takes the search index from) only a web edition build_book made, never one
# a book brought in its build/ (a pushed change can commit one, scripts and all)
PUBLISHED_FOLDER = ".cache/published"
PUBLISHED_FORMAT = "build_book-published 1"


def _identity(folder: Path) -> list | None:
    try:
        st = os.lstat(folder)
    except OSError:
        return None
    return [st.st_dev, st.st_ino, st.st_ctime_ns] if stat.S_ISDIR(st.st_mode) else None


def _published(out_dir: Path) -> None:
    from . import cache as cachefile

    cachefile.put(out_dir / PUBLISHED_FOLDER, "html", json.dumps(_identity(out_dir / "html")), PUBLISHED_FORMAT)


def published_site(root: Path) -> bool:
    """Whether ``build/html`` is the web edition a build of this user's published (see _published)."""
    from . import cache as cachefile

    body = cachefile.get(root / "build" / PUBLISHED_FOLDER, "html", PUBLISHED_FORMAT)
    found = _identity(root / "build" / "html")
    try:
        return found is not None and body is not None and json.loads(body) == found
    except ValueError:
        return False


def _roll_forward(out_dir: Path, staging_root: Path, items: list[list[str]], step=lambda: None) -> None:
    """Put every staged item in place; safe to repeat after a crash at any point (idempotent)."""
    backup = staging_root / ".old"
    for source, name in items:
        new, target = staging_root / source, out_dir / name
        if not os.path.lexists(new):
            continue  # moved already
        if new.is_dir() or target.is_dir():
            if os.path.lexists(target):  # a folder cannot be replaced in one rename: set the old one aside
                backup.mkdir(exist_ok=True)
                shutil.rmtree(backup / name, ignore_errors=True)
                os.replace(target, backup / name)
                step()
        os.replace(new, target)
        step()


def _write_journal(out_dir: Path, record: dict) -> None:
    tmp = out_dir / f"{JOURNAL}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump(record, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, out_dir / JOURNAL)
    _sync(out_dir)


def _sync(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _recover(out_dir: Path) -> bool:
    """Complete a publication a killed build had begun (call with the lock held); True if there was one."""
    journal = out_dir / JOURNAL
    recovered = False
    try:
        record = json.loads(journal.read_text(encoding="utf-8"))
    except FileNotFoundError:
        record = None
    except (OSError, ValueError):
        record = {}  # unreadable: written before a crash? (it is written whole or not at all)
    if record is not None:
        staging = record.get("staging") if isinstance(record, dict) else None
        items = record.get("items") if isinstance(record, dict) else None
        if (isinstance(staging, str) and staging.startswith(STAGING_PREFIX) and "/" not in staging
                and isinstance(items, list)
                and all(isinstance(i, list) and len(i) == 2 and all(isinstance(s, str) for s in i)
                        for i in items)
                and _journaled(out_dir / staging, items)):
            _roll_forward(out_dir, out_dir / staging, items)
        journal.unlink()
        _sync(out_dir)
        recovered = True
    # builds before the journal set the old web edition aside as .html.old; put it back if it is alone
    legacy = out_dir / ".html.old"
    if legacy.is_dir() and not os.path.lexists(out_dir / "html"):
        os.replace(legacy, out_dir / "html")
        recovered = True
    return recovered


def _journaled(staging_root: Path, items: list[list[str]]) -> bool:
    """Whether ``items`` are what :func:`_publish` journals: outputs ``edition/name`` in the staging folder,
    each to become ``name`` in build/. A journal is in build/, which a book can bring: one naming any other
    path (``..``, a symbolic link on the way) would move or remove files outside build/."""
    def plain(part: str) -> bool:
        return part not in ("", ".", "..") and "/" not in part and "\0" not in part

    for source, name in items:
        parts = source.split("/")
        if not (1 <= len(parts) <= 2 and all(map(plain, parts)) and plain(name) and parts[-1] == name):
            return False
        for folder in (staging_root, staging_root / parts[0]) if len(parts) == 2 else (staging_root,):
            if os.path.islink(folder):
                return False
    return True


def _remove_stale_staging(out_dir: Path) -> None:
    """Staging folders of builds that were killed (call with the lock held: no other build is running)."""
    for entry in out_dir.iterdir():
        if entry.name.startswith(STAGING_PREFIX) or entry.name.startswith(f"{JOURNAL}.") \
                or entry.name == ".html.old":
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
