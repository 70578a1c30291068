"""The one place that calls pandoc (the binary pypandoc-binary ships, run directly).

Every run is bounded: it is stopped after a time limit (a :class:`PandocTimeout`,
which callers report against the chapter concerned), it may use at most a set
amount of memory (GHC's ``+RTS -M``), and it dies with the build that started
it (Linux ``PR_SET_PDEATHSIG``, and an explicit kill on timeout or interrupt),
so no pandoc outlives a killed build.

``BUILD_BOOK_PANDOC_TIMEOUT`` (seconds) and ``BUILD_BOOK_PANDOC_MEMORY``
(``2g``, ``800m``; ``0`` for no limit) override the defaults.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

# Quarto-style labels are explicit; headings without one get ids from build_book.
READER = "markdown-auto_identifiers"
READ_ARGS = [f"--from={READER}", "--to=json"]     # a chapter's Markdown -> pandoc's JSON document
# pandoc's binary asks for a 64 MB heap from the start (it is built with -with-rtsopts -H64m): reading a
# chapter allocates much but keeps little, and touching that much fresh memory costs the read of a
# 12,000-word chapter a sixth of its time (0.16 s of CPU, 0.135 s with these). What pandoc writes does not
# depend on them; the batched read of a whole book is no slower with them either.
READ_RTS = ["-H8m", "-A8m"]

TIMEOUT_ENV = "BUILD_BOOK_PANDOC_TIMEOUT"
MEMORY_ENV = "BUILD_BOOK_PANDOC_MEMORY"
# A run may take BASE seconds plus PER_MB seconds for every megabyte it is given: pandoc reads a
# 150,000-word book in a few seconds, so these leave a wide margin and still stop a runaway in minutes.
BASE_TIMEOUT = 60.0
PER_MB_TIMEOUT = 30.0
DEFAULT_MEMORY = "3g"
# small runs that do not depend on the book (pandoc --version and the like)
FIXED_TIMEOUT = 60.0


class PandocError(Exception):
    pass


class PandocTimeout(PandocError):
    """pandoc was stopped because it ran longer than its time limit."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        super().__init__(f"pandoc did not finish within {seconds:g} seconds and was stopped")


def failure(exc: PandocError) -> tuple[str, object]:
    """A pandoc failure as a result a worker process sends back (an exception of this module is not sent
    whole between processes): ("timeout", seconds) or ("error", message); :func:`raised` makes it again."""
    return ("timeout", exc.seconds) if isinstance(exc, PandocTimeout) else ("error", str(exc))


def raised(status: str, value) -> PandocError:
    """The exception :func:`failure` made a result of."""
    return PandocTimeout(value) if status == "timeout" else PandocError(value)


def timeout_for(size: int) -> float:
    """The time limit of a run given ``size`` bytes (``BUILD_BOOK_PANDOC_TIMEOUT`` if set)."""
    configured = os.environ.get(TIMEOUT_ENV, "").strip()
    if configured:
        try:
            seconds = float(configured)
            if seconds > 0:
                return seconds
        except ValueError:
            pass
    return BASE_TIMEOUT + PER_MB_TIMEOUT * size / 1_000_000


# The heap size pandoc's garbage collector starts from (GHC's ``+RTS -H``) in a run given no runtime
# options of its own (``READ_RTS``): pandoc is built with 64m, which makes a chapter's citeproc or HTML
# run take some 180 MB; with 16m it takes 125-150 MB (two such runs at once were the peak memory of a
# cold PDF build), for about as much time (citeproc: a tenth more CPU, the HTML writer about the same).
HEAP = "-H16m"
# A run that formats a whole book's citations (citeproc_html_many's ``whole_book``): half of its time was
# the garbage collector's (0.59 s of 1.12 for the benchmark's book, its live data only 23 MB), which a larger
# allocation area (GHC's ``-A``, 4 MB by default) makes fewer: 0.98 s, for 23 MB more. That run is the
# longest piece of a cold build's citation stage, on a core of its own (see transform.BEHIND).
WHOLE_BOOK_RTS = [HEAP, "-A32m"]


def _memory_limit() -> str | None:
    value = os.environ.get(MEMORY_ENV, "").strip().lower() or DEFAULT_MEMORY
    if value in ("0", "none", "off"):
        return None
    if not re.fullmatch(r"\d+[kmg]?", value):
        value = DEFAULT_MEMORY
    return value


_found: dict[str, str] = {}         # pandoc's path and version, found once per process
_finding = threading.Lock()


def _binary() -> str:
    with _finding:
        if "binary" not in _found:
            _found["binary"] = _look_for_pandoc() or _pypandoc_choice()
        return _found["binary"]


def _pypandoc_choice() -> str:
    import pypandoc   # here: importing it (urllib, http, ssl, email) is a good part of a check's time
    return pypandoc.get_pandoc_path()


VERSION_TOKEN = re.compile(r"^\d+(\.\d+){1,}$")


def candidate_paths() -> list[str]:
    """The pandocs pypandoc.get_pandoc_path() chooses among, in its order (see _look_for_pandoc); empty
    where pypandoc would look elsewhere (PYPANDOC_PANDOC, another system)."""
    import importlib.util

    if os.environ.get("PYPANDOC_PANDOC") or not sys.platform.startswith("linux"):
        return []
    spec = importlib.util.find_spec("pypandoc")
    if spec is None or not spec.origin:
        return []
    shipped = os.path.join(os.path.dirname(os.path.realpath(spec.origin)), "files", "pandoc")
    return [os.path.expanduser(path) for path in
            ("pandoc", shipped, "~/bin/pandoc", "~/.bin/pandoc", os.path.join(sys.exec_prefix, "bin", "pandoc.exe"),
             os.path.join(sys.exec_prefix, "bin", "pandoc"))]


def _look_for_pandoc() -> str | None:
    """The pandoc pypandoc.get_pandoc_path() chooses, found as it finds it but without importing pypandoc:
    the newest of 'pandoc' on the PATH, the one pypandoc-binary ships, ~/bin/pandoc, ~/.bin/pandoc and the
    environment's bin/pandoc (the first of equals). None where pypandoc would look elsewhere
    (PYPANDOC_PANDOC, another system) or finds none: then pypandoc is asked."""
    import shutil
    import tempfile

    candidates = candidate_paths()
    if not candidates:
        return None
    env = dict(os.environ)
    env.setdefault("HOME", tempfile.gettempdir())
    best, newest = None, [0, 0, 0]
    for path in candidates:
        where = shutil.which(path) if path == "pandoc" else path
        try:
            found = os.stat(where) if where else None
        except OSError:
            found = None
        stamp = [found.st_size, found.st_mtime_ns] if found else None
        if stamp is None:
            continue     # pypandoc tries to run it, and fails
        known = _probes_known.get(path)
        if known is not None and known[:2] == stamp:
            first = known[2]     # what it said when run before, and it has not changed since
        else:
            try:
                done = subprocess.run([path, "--version"], stdin=subprocess.DEVNULL, capture_output=True, env=env,
                                      timeout=FIXED_TIMEOUT)
                lines = done.stdout.decode().splitlines()
            except (OSError, ValueError, subprocess.SubprocessError):
                continue
            if done.returncode != 0 or not lines:
                continue
            first = lines[0]
        try:
            token = next(t for t in first.split() if VERSION_TOKEN.match(t))
            version = [int(x) for x in token.split(".")]
        except (ValueError, StopIteration):
            continue
        _probes[path] = [*stamp, first]
        version += [0] * (3 - len(version))
        if version > newest:
            best, newest = path, version
            _found["probed"] = first
    return best


# What each candidate pandoc said when run with --version, by its path: [size, modification time, first line].
# Kept by early.py for the next run, so that a candidate unchanged since is not run again (a pandoc
# started only to say its version costs a check after an edit about as much as it takes to start).
_probes: dict[str, list] = {}           # found by this process
_probes_known: dict[str, list] = {}     # handed over (see remember_probes)


def remember_probes(probes) -> None:
    """Take what an earlier run found of the candidate pandocs (see :func:`probes`); before pandoc is looked for."""
    if isinstance(probes, dict):
        _probes_known.update({path: found for path, found in probes.items()
                              if isinstance(found, list) and len(found) == 3 and isinstance(found[2], str)
                              and all(isinstance(n, int) for n in found[:2])})


def probes() -> dict[str, list]:
    """What this process found running the candidate pandocs, or took from an earlier run (see above)."""
    return dict(_probes)


def find_soon() -> None:
    """Find pandoc and its version in the background (pypandoc runs every pandoc it finds), so that the
    first run, or :func:`version`, need not wait for it."""
    with _finding:
        if "soon" in _found:
            return
        _found["soon"] = "started"

    def find() -> None:
        try:
            version()
        except Exception:   # noqa: BLE001 - found again, and reported, where pandoc is needed
            pass

    threading.Thread(target=find, daemon=True).start()


# --- dying with the build ---------------------------------------------------------------------------

PR_SET_PDEATHSIG = 1
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
except (OSError, AttributeError):
    _prctl = None


def _die_with(parent: int) -> None:
    """In the child, before pandoc starts: be killed when the build (the forking thread) goes."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the build died before prctl took effect
        os._exit(1)


_live: set[subprocess.Popen] = set()
_live_lock = threading.Lock()


def kill_all() -> None:
    """Kill every pandoc this process is running (on an interrupt)."""
    with _live_lock:
        children = list(_live)
    for child in children:
        try:
            child.kill()
        except OSError:
            pass


def _run_pandoc(args: list[str], stdin: str | None = None, *, timeout: float | None = None,
                size: int | None = None, warnings: list[str] | None = None, rts: list[str] = ()) -> str:
    """Run pandoc with ``args`` (and the runtime options ``rts``); its standard output as text (its
    warnings appended to ``warnings``, if given). Raise :class:`PandocError` if it fails."""
    data = stdin.encode("utf-8") if stdin is not None else None
    began = time.monotonic()    # (a pandoc reading a file starts at once: its time counts from here)
    return _finish(_start(args, stdin=data is not None, rts=rts), data, timeout=timeout, size=size,
                   warnings=warnings, began=began)


def _start(args: list[str], binary: str | None = None, stdin: bool = True,
           rts: list[str] = ()) -> subprocess.Popen:
    """pandoc (``binary``, or the one found) started with ``args`` and the runtime options ``rts``,
    bounded in memory, dying with the thread that starts it."""
    command = [binary or _binary()]
    memory = _memory_limit()
    # (no runtime options at all with no memory limit, unless asked: a pandoc may not take them)
    options = ([f"-M{memory}"] if memory else []) + (list(rts) or ([HEAP] if memory else []))
    if options:
        command += ["+RTS", *options, "-RTS"]
    command += args
    preexec = functools.partial(_die_with, os.getpid()) if _prctl is not None else None
    try:
        child = subprocess.Popen(command, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=preexec)
    except OSError as exc:
        raise PandocError(f"pandoc could not be started: {exc}") from None
    with _live_lock:
        _live.add(child)
    return child


def _finish(child: subprocess.Popen, data: bytes | None, *, timeout: float | None = None,
            size: int | None = None, warnings: list[str] | None = None, began: float | None = None) -> str:
    """What the pandoc ``child`` writes when given ``data`` (see :func:`_run_pandoc`), within its time limit,
    counted from ``began`` (else from now: a pandoc started ahead waits for its input)."""
    if timeout is None:
        timeout = timeout_for(size if size is not None else len(data or b""))
    told = getattr(_told, "callback", None)
    began = time.monotonic() if began is None else began
    try:
        if told is not None and data is not None:
            _told.callback = None
            try:   # pandoc reads all of its input before it writes anything: no deadlock
                child.stdin.write(data)
            except BrokenPipeError:   # it stopped early: communicate() gets what it said
                pass
            else:
                data = None
                told()
        out, err = child.communicate(data, timeout=max(0.0, timeout - (time.monotonic() - began)))
        if time.monotonic() - began > timeout:   # (done while this thread waited for its turn: still too long)
            raise PandocTimeout(timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise PandocTimeout(timeout) from None
    except BaseException:  # an interrupt: pandoc goes with the build
        child.kill()
        child.wait()
        raise
    finally:
        with _live_lock:
            _live.discard(child)
    if child.returncode != 0:
        message = err.decode("utf-8", errors="replace").strip()
        if "Heap exhausted" in message or child.returncode == 251:
            raise PandocError(f"pandoc needed more memory than its limit of {_memory_limit()} and was stopped "
                              f"(set {MEMORY_ENV} to allow more)")
        if child.returncode < 0:
            message = f"pandoc was killed by signal {-child.returncode}. {message}".strip()
        raise PandocError(message or f"pandoc failed with exit status {child.returncode}")
    if warnings is not None:
        warnings.append(err.decode("utf-8", errors="replace"))
    return out.decode("utf-8")


_told = threading.local()


def tell_when_read(callback) -> None:
    """Call ``callback()`` as soon as the next pandoc run this thread starts has read its input, while
    pandoc works on it (the caller's other threads may then use this process without slowing the run)."""
    _told.callback = callback


_versioning = threading.Lock()


def version() -> str:
    """pandoc's version number, e.g. '3.9'."""
    with _versioning:
        if "version" not in _found:
            _binary()
            # the first line of what the chosen pandoc said when it was looked for, or says now
            first = _found.get("probed") or _run_pandoc(["--version"], timeout=FIXED_TIMEOUT).split("\n", 1)[0]
            _found["version"] = first.split()[-1] if first.strip() else first
        return _found["version"]


def _run(source: str, to: str, fmt: str, args: list[str], rts: list[str] = ()) -> str:
    return _run_pandoc([f"--from={fmt}", f"--to={to}", *args], source, rts=rts)


def read_markdown(text: str) -> dict:
    """Markdown text -> pandoc's JSON document."""
    return json.loads(read_markdown_json(text))


def read_markdown_json(text: str) -> str:
    """Markdown text -> pandoc's JSON text, as pandoc wrote it (by a run begun ahead, if one was begun
    on exactly this text: see :func:`read_markdown_ahead`)."""
    ahead = _take_ahead(text)
    return ahead if ahead is not None else _run_pandoc(READ_ARGS, text, rts=READ_RTS)


# A short text written outside a chapter's body (a front matter title or abstract), read on its own: the
# time it may take (what makes pandoc slow is ruled out first), and how deeply its elements may nest
FRAGMENT_TIMEOUT = 10.0
FRAGMENT_DEPTH = 20


def read_fragment(text: str, reader: str, depth: int = FRAGMENT_DEPTH) -> list | None:
    """Markdown text written outside a chapter's body, read as ``reader`` says, as the inlines of its one
    paragraph; None if pandoc reads it as anything else (a list, several paragraphs), if its elements nest
    deeper than ``depth``, or if it is written to make pandoc slow (scan.py's 'pathological')."""
    from .scan import scan
    from .walk import elements_deep

    if scan(text).pathological:
        return None
    try:
        blocks = json.loads(_run_pandoc([f"--from={reader}", "--to=json"], text, timeout=FRAGMENT_TIMEOUT,
                                        rts=READ_RTS)).get("blocks", [])
        if len(blocks) != 1 or blocks[0].get("t") not in ("Para", "Plain"):
            return None
        deepest = [0]
        for _ in elements_deep(blocks[0]["c"], depth, deepest):
            pass
        return blocks[0]["c"] if deepest[0] <= depth else None
    except (PandocError, ValueError, RecursionError, AttributeError):
        return None


# --- runs begun ahead (early.py) ----------------------------------------------------------------------

class _Ahead:
    """:func:`read_markdown_json` of a text by a given binary, begun now: pandoc is started in the calling
    thread (the command line's, before it imports the rest), and a thread of its own waits for it.

    (It is not started by the waiting thread: Python runs its fork handlers around each start, and a
    module first imported meanwhile by the main thread, as logging is, would see its handlers run by
    halves: "cannot release un-acquired lock".)"""

    def __init__(self, text: str, binary: str):
        self.binary = binary
        self.output: str | None = None      # pandoc's JSON text, once it is done and if it succeeded
        data = text.encode("utf-8")
        try:
            self.child: subprocess.Popen | None = _start(READ_ARGS, binary, rts=READ_RTS)
        except PandocError:
            self.child = None               # read again by the caller, who reports what goes wrong
        self.thread = threading.Thread(target=self._wait, args=(data,), daemon=True)
        self.thread.start()

    def _wait(self, data: bytes) -> None:
        if self.child is None:
            return
        try:
            self.output = _finish(self.child, data)
        except PandocError:
            pass        # read again by the caller, who reports what goes wrong

    def stop(self) -> None:
        if self.child is not None:
            try:
                self.child.kill()
            except OSError:
                pass


_ahead: dict[str, _Ahead] = {}      # by the text read
_ahead_lock = threading.Lock()


def _fresh_in_child() -> None:
    """In a process forked from the build (a worker): locks of its own, and none of the build's runs. A lock
    another thread of the build held at the fork (one starting pandoc, say) would stay held in the child."""
    global _finding, _live_lock, _versioning, _ahead_lock
    _finding, _live_lock = threading.Lock(), threading.Lock()
    _versioning, _ahead_lock = threading.Lock(), threading.Lock()
    _live.clear()   # (kill_all in the child: its own runs alone)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_in_child)


def read_markdown_ahead(text: str, binary: str) -> None:
    """Begin :func:`read_markdown_json` of ``text`` now, with the pandoc ``binary`` (the one the last
    build ran: the one found for this run may not be known yet). Its output is used only if that is
    the binary this process finds, and only for exactly this text."""
    with _ahead_lock:
        if text not in _ahead:
            _ahead[text] = _Ahead(text, binary)


def _take_ahead(text: str) -> str | None:
    """The output of the run begun ahead on ``text``, or None if there is none (or it failed, or ran
    another binary than this process would run)."""
    with _ahead_lock:
        run = _ahead.pop(text, None)
    if run is None:
        return None
    if run.binary != _binary():
        run.stop()
        return None
    run.thread.join()
    return run.output


def drop_ahead() -> None:
    """Stop the runs begun ahead that nobody took (their guess of a chapter's text was wrong)."""
    with _ahead_lock:
        runs = list(_ahead.values())
        _ahead.clear()
    for run in runs:
        run.stop()


def known_binary() -> str | None:
    """The pandoc binary this process runs, if it has been found already (without waiting for it)."""
    return _found.get("binary")


MARKER = "<!-- build_book file {} -->"
FILE_PREFIX = re.compile(r'(?<=["#])[^"#\s]*?bbf\d{5}\.md__')


def read_markdown_many(texts: list[str]) -> list[dict]:
    """Several Markdown texts -> one JSON document each (see :func:`read_markdown_json_many`)."""
    return [json.loads(doc) for doc in read_markdown_json_many(texts)]


def read_markdown_json_many(texts: list[str]) -> list[str]:
    """Several Markdown texts -> pandoc's JSON text of each, from a single pandoc run.

    pandoc starts slowly compared with how fast it parses, so the chapters are
    handed over together; ``--file-scope`` keeps each file's footnotes and
    link definitions its own, and a marker comment splits the result (as
    text: the caller may store it without encoding it again).
    """
    if len(texts) == 1:
        return [read_markdown_json(texts[0])]
    import tempfile     # (here: pandoc.py is imported before the rest, to start pandoc at once; see early.py)

    with tempfile.TemporaryDirectory(prefix="build_book-") as folder:
        names = []
        for number, text in enumerate(texts):
            names.append(f"bbf{number:05d}.md")
            (Path(folder) / names[-1]).write_text(MARKER.format(number) + "\n\n" + text, encoding="utf-8")
        output = _run_pandoc([*READ_ARGS, "--file-scope", *(str(Path(folder) / n) for n in names)],
                             size=sum(len(t.encode("utf-8")) for t in texts), rts=READ_RTS)
        # --file-scope prefixes every identifier with its file's path, '/' written '__';
        # the identifiers are the author's, so take the prefixes off again
        for name in names:
            prefix = (Path(folder) / name).as_posix().lstrip("/").replace("/", "__") + "__"
            output = output.replace(f'"{prefix}', '"').replace(f'"#{prefix}', '"#')
            output = output.replace(f'"#{prefix[:-2]}"', '""')  # an empty link target, made '#file' by pandoc
        if re.search(r"bbf\d{5}\.md__", output):
            output = FILE_PREFIX.sub("", output)
    head, _, _ = output.partition('"blocks":[')
    markers = [output.find(json.dumps(["html", MARKER.format(n)], separators=(",", ":")))
               for n in range(len(texts))]
    if -1 in markers or markers != sorted(markers):
        raise PandocError("could not split pandoc's output into chapters")
    docs = []
    for n, start in enumerate(markers):
        begin = output.index("}", start) + 1           # end of the marker block
        end = markers[n + 1] - len('{"t":"RawBlock","c":') if n + 1 < len(markers) else output.rindex("]}")
        blocks = output[begin:end].strip(",")
        docs.append(head + '"blocks":[' + blocks + "]}")
    return docs


def check_bibliography(path: Path) -> str:
    """Read a .bib file as citeproc will: its CSL JSON text; raise :class:`PandocError` with pandoc's
    words if it cannot."""
    fmt = "bibtex" if path.suffix.lower() == ".bibtex" else "biblatex"
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise PandocError(str(exc)) from None
    return _run_pandoc([f"--from={fmt}", "--to=csljson", str(path)], size=size)


def citeproc(doc: dict, bibliographies: list[Path], csl: Path | None, cwd: Path) -> dict:
    """Format every citation in ``doc`` and append the reference list (div #refs)."""
    return json.loads(_run(json.dumps(doc), "json", "json", _citeproc_args(bibliographies, csl, cwd)))


def default_style() -> str | None:
    """The text of the citation style citeproc uses when it is given none: pandoc's default.csl (None if a
    default.csl in a pandoc user data directory may take its place, or pandoc cannot say)."""
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    for folder in (os.path.join(data, "pandoc"), os.path.join(os.path.expanduser("~"), ".pandoc")):
        if os.path.exists(os.path.join(folder, "default.csl")):
            return None
    return _default_style(_binary())


@functools.lru_cache(maxsize=4)
def _default_style(binary: str) -> str | None:
    """:func:`default_style` of the pandoc ``binary``, asked once (a build asks twice, a preview at each build)."""
    try:
        return _run_pandoc(["--print-default-data-file=default.csl"], timeout=FIXED_TIMEOUT)
    except PandocError:
        return None


def _citeproc_args(bibliographies: list[Path], csl: Path | None, cwd: Path) -> list[str]:
    args = ["--citeproc"] + [f"--bibliography={p}" for p in bibliographies]
    if csl is not None:
        args.append(f"--csl={csl}")
    return args + ["--metadata=link-citations:true", f"--resource-path={cwd}"]


HTML_OF_FILTER = Path(__file__).with_name("html_of.lua")


def _as_written(html: str) -> str:
    """HTML html_of.lua wrote, ending as the command line's output ends (in a newline)."""
    return html if html.endswith("\n") else html + "\n"


def citeproc_html(doc: dict, bibliographies: list[Path], csl: Path | None, cwd: Path,
                  div: str) -> tuple[dict, str]:
    """:func:`citeproc`, and in the same run the HTML that :func:`write_html_blocks` would write of the
    blocks of the formatted document's div ``div`` (by a Lua filter: one pandoc run instead of two)."""
    meta = {**doc.get("meta", {}), "build-book-html-of": {"t": "MetaString", "c": div}}
    args = _citeproc_args(bibliographies, csl, cwd) + [f"--lua-filter={HTML_OF_FILTER}"]
    out = json.loads(_run(json.dumps({**doc, "meta": meta}), "json", "json", args))
    for n, block in enumerate(out["blocks"]):
        if block["t"] == "Div" and block["c"][0][0] == f"{div}-html":
            raw = block["c"][1][0]["c"][1]
            del out["blocks"][n]
            out["meta"].pop("build-book-html-of", None)
            return out, _as_written(raw)
    raise PandocError(f"pandoc wrote no HTML of the div {div}")


def citeproc_html_many(meta: dict, blocks: list[str], bibliographies: list[Path], csl: Path | None, cwd: Path,
                       divs: list[str], html: list[str], whole_book: bool = False
                       ) -> tuple[dict[str, str], dict[str, str]]:
    """:func:`citeproc` of the document of ``meta`` and ``blocks`` (each given as JSON text), and of it only
    what the top-level divs ``divs`` hold after: div id -> their blocks as JSON text, as pandoc writes it
    (read with json.loads); and div id -> the HTML of those of ``html`` (as :func:`citeproc_html` writes
    that of one). One pandoc run, and of its output only strings to read; ``whole_book``: with the runtime
    options of a run that formats a whole book's citations (WHOLE_BOOK_RTS)."""
    args = _citeproc_args(bibliographies, csl, cwd) + [f"--lua-filter={HTML_OF_FILTER}"]
    names = {"t": "MetaList", "c": [{"t": "MetaString", "c": d} for d in divs]}
    meta = {**meta, "build-book-json-of": names,
            "build-book-html-of": {"t": "MetaList", "c": [{"t": "MetaString", "c": d} for d in html]}}
    head = json.dumps({"pandoc-api-version": api_version(), "meta": meta})[:-1]
    out = json.loads(_run(f'{head}, "blocks": [{", ".join(blocks)}]}}', "json", "json", args,
                          WHOLE_BOOK_RTS if whole_book else ()))
    wanted = {**{f"{d}-json": ("json", d) for d in divs}, **{f"{d}-html": ("html", d) for d in html}}
    found: dict[str, dict[str, str]] = {"json": {}, "html": {}}
    for block in out["blocks"]:
        kind, div = wanted.get(block["c"][0][0], (None, None)) if block["t"] == "Div" else (None, None)
        if kind is None or div in found[kind]:
            continue
        raw = block["c"][1][0]["c"][1]
        if kind == "html":
            found["html"][div] = _as_written(raw)
            continue
        start = raw.find('"blocks":')
        if not raw.startswith('{"pandoc-api-version":') or start < 0 or not raw.endswith("}"):
            raise PandocError(f"pandoc wrote the div {div} in an unexpected form")
        found["json"][div] = raw[start + len('"blocks":'):-1]
    missing = [d for d in divs if d not in found["json"]] + [d for d in html if d not in found["html"]]
    if missing:
        raise PandocError(f"pandoc wrote nothing of the div {missing[0]}")
    return found["json"], found["html"]


EACH_FILTER = Path(__file__).with_name("citeproc_each.lua")


def citeproc_each(doc: dict, bibliographies: list[Path], csl: Path | None, cwd: Path) -> list[str]:
    """For each file of ``bibliographies``: :func:`citeproc` of ``doc`` with that file alone, written by
    :func:`write_html` (each formatted apart, as in runs of their own, but all in one pandoc run)."""
    if not bibliographies:
        return []
    each = {"t": "MetaList", "c": [{"t": "MetaString", "c": str(p)} for p in bibliographies]}
    args = _citeproc_args([], csl, cwd)[1:] + [f"--lua-filter={EACH_FILTER}"]   # citeproc: in the filter
    out = json.loads(_run(json.dumps({**doc, "meta": {**doc.get("meta", {}), "build-book-each": each}}),
                          "json", "json", args))
    written = [block["c"][1] for block in out["blocks"] if block["t"] == "RawBlock"]
    if len(written) != len(bibliographies):
        raise PandocError("pandoc wrote fewer citations than it was given works")
    return [html if html.endswith("\n") else html + "\n" for html in written]


def write_html(doc: dict) -> str:
    """A pandoc JSON document -> an HTML5 fragment (no <html>/<body>), its TeX math as MathML."""
    return _run(compact(json.dumps(doc)), "html5", "json", HTML_OPTIONS)


HTML_OPTIONS = ["--wrap=none", "--mathml"]   # write_html's and write_html_blocks' options (they must agree)

# One inline of a run that :func:`compact` joins: a Str, a Space or a SoftBreak, as json.dumps (", ", ": ")
# or pandoc (",", ":") writes it. ``{"t"`` with a quotation mark not escaped cannot stand inside a JSON string,
# so a match begins an object; the ones of a run are neighbours in one list, of inlines.
_TEXT_INLINE = r'\{"t": ?"(?:Str", ?"c": ?"[^"\\]*(?:\\.[^"\\]*)*"|Space"|SoftBreak")\}'
_TEXT_RUN = re.compile(_TEXT_INLINE + r"(?:, ?" + _TEXT_INLINE + r")+")


# What the HTML writer reads in a run's own Str tokens: a variation selector (it adds one after some characters
# unless one follows) and a task list item's box ("☐"/"☒" then a Space, at the start of an item: a checkbox)
_TOKENS_READ = ("\ufe0e", "\u2610", "\u2612")
_TOKENS_READ_ESCAPED = tuple(json.dumps(c)[1:-1] for c in _TOKENS_READ)


# As json.dumps and as pandoc write them: a Space, a SoftBreak, a Str of a space, and what stands between the
# texts of two Strs side by side
_SPELLINGS = [('{"t": "Space"}', '{"t": "SoftBreak"}', '{"t": "Str", "c": " "}', '"}, {"t": "Str", "c": "'),
              ('{"t":"Space"}', '{"t":"SoftBreak"}', '{"t":"Str","c":" "}', '"},{"t":"Str","c":"')]


def _joined(match: re.Match) -> str:
    run = match.group(0)
    if any(c in run for c in _TOKENS_READ) or ("\\u" in run and any(e in run.lower() for e in _TOKENS_READ_ESCAPED)):
        return run    # left as it is (see _TOKENS_READ)
    for space, soft_break, blank, between in _SPELLINGS:
        run = run.replace(space, blank).replace(soft_break, blank).replace(between, "")
    return run


def compact(text: str) -> str:
    """A pandoc JSON text for the HTML writer (``--wrap=none``) with each run of words and spaces one Str:
    ``Str "a", Space, Str "b"`` becomes ``Str "a b"``, a SoftBreak a space, which is what the writer makes of
    them (but for a run holding what it reads in the tokens themselves: _TOKENS_READ). The same HTML, from a
    text a fifth as long: pandoc spends most of a chapter's HTML run reading its JSON (0.55 s of CPU for half
    of the benchmark's book, 0.12 s so). Only for the HTML writer: citeproc looks at the words beside a
    citation (it moves punctuation into a note, say)."""
    return _TEXT_RUN.sub(_joined, text)


def write_mathml(doc: dict) -> tuple[str, str]:
    """A pandoc JSON document -> its HTML5 fragment with TeX math as MathML, and pandoc's warnings
    (one for each formula it could not convert)."""
    warnings: list[str] = []
    html = _run_pandoc(["--from=json", "--to=html5", "--wrap=none", "--mathml"], json.dumps(doc), warnings=warnings)
    return html, "".join(warnings)


NOTES_INLINE_FILTER = Path(__file__).with_name("notes_inline.lua")


def write_html_blocks(blocks_json: str, inline_notes: bool = False) -> str:
    """:func:`write_html` of a document of blocks given as JSON text (saves parsing and writing it again).
    ``inline_notes``: each footnote written where it is called, as a span (notes_inline.lua), for print."""
    head = json.dumps({"pandoc-api-version": api_version(), "meta": {}})[:-1]
    return _run(f'{head}, "blocks": {compact(blocks_json)}}}', "html5", "json",
                [*HTML_OPTIONS, *([f"--lua-filter={NOTES_INLINE_FILTER}"] if inline_notes else [])])


def write_html_divs(blocks: dict[str, str]) -> dict[str, str]:
    """Name -> the HTML that :func:`write_html_blocks` writes of the blocks (given as JSON text) of that name,
    each written apart (footnotes numbered from 1 in each), all in one pandoc run (by html_of.lua)."""
    if len(blocks) == 1:
        (name, text), = blocks.items()
        return {name: write_html_blocks(text)}
    names = {"t": "MetaList", "c": [{"t": "MetaString", "c": name} for name in blocks]}
    meta = {"build-book-html-of": names, "build-book-written-only": {"t": "MetaBool", "c": True}}
    head = json.dumps({"pandoc-api-version": api_version(), "meta": meta})[:-1]
    divs = ", ".join(f'{{"t": "Div", "c": [[{json.dumps(name)}, [], []], {compact(text)}]}}'
                     for name, text in blocks.items())
    out = json.loads(_run(f'{head}, "blocks": [{divs}]}}', "json", "json", [f"--lua-filter={HTML_OF_FILTER}"]))
    found: dict[str, str] = {}
    for block in out["blocks"]:
        if block["t"] == "Div" and block["c"][0][0].endswith("-html"):
            name = block["c"][0][0][:-len("-html")]
            raw = block["c"][1][0]["c"][1]
            if name in blocks and name not in found:
                found[name] = _as_written(raw)
    if len(found) != len(blocks):
        raise PandocError("pandoc wrote the HTML of fewer chapters than it was given")
    return found


def write_html_many(docs: list[dict]) -> list[str]:
    """Several pandoc JSON documents -> their HTML fragments, from a single pandoc run."""
    if len(docs) <= 1:
        return [write_html(doc) for doc in docs]
    blocks: list = []
    for number, doc in enumerate(docs):
        blocks.append({"t": "RawBlock", "c": ["html", MARKER.format(number)]})
        blocks.extend(doc["blocks"])
    html = write_html(document(blocks))
    parts = re.split(r"<!-- build_book file (\d+) -->\n?", html)
    # parts: [before, "0", html0, "1", html1, ...]
    if len(parts) != 2 * len(docs) + 1:
        raise PandocError("could not split pandoc's HTML into chapters")
    return [parts[2 * n + 2] for n in range(len(docs))]


def document(blocks: list, meta: dict | None = None) -> dict:
    """A pandoc JSON document of ``blocks`` for the version this pandoc speaks."""
    return {"pandoc-api-version": api_version(), "meta": meta or {}, "blocks": blocks}


_api_version: list = []   # [the pandoc API version], once known


def api_version() -> list:
    """The version of pandoc's document API, as in the documents it writes: from one this process has
    read (see :func:`saw_document`), else asked of pandoc (a run of its own)."""
    if not _api_version:
        _api_version[:] = [json.loads(_run_pandoc([f"--from={READER}", "--to=json"], "x",
                                                  timeout=FIXED_TIMEOUT))["pandoc-api-version"]]
    return _api_version[0]


def saw_document(doc: dict) -> None:
    """``doc``: a document pandoc wrote (this pandoc: the version is part of every cache key); its API
    version saves :func:`api_version` a run."""
    version = doc.get("pandoc-api-version") if isinstance(doc, dict) else None
    if not _api_version and isinstance(version, list) and all(isinstance(n, int) for n in version):
        _api_version[:] = [version]
