"""``serve``: a live preview of the HTML edition while the book is being written.

The builder (the main thread) builds the HTML edition into ``build/html`` through the
pipeline, then polls the modification times of the files the book is made of
(book.yml, the chapters, the bibliography, a CSL file, the images the chapters show, the
templates) and rebuilds when one changes. A web server on 127.0.0.1 (a thread) serves
``build/html``: builds publish atomically, so it never sees half-written pages, and a
failed build leaves the last good pages in place.

The server alone adds a small script to every HTML page it sends (the files in
``build/html`` never carry it). The script listens to ``/__build_book/events``
(Server-Sent Events): ``reload`` after a good rebuild, ``diagnostics`` after a failed one;
and it shows the problems of the page's chapter, and those of the whole book, from
``/__build_book/diagnostics?page=NAME`` in an overlay at the top of the page.
``/__build_book/status`` tells tools (the tests, scripts/benchmark.py) how the last
rebuild went, including its save-to-reload time: from the modification time of the
newest changed file to the moment the reload event went out.
"""

from __future__ import annotations

import http.client
import json
import mimetypes
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .diagnostics import BuildError, Diagnostic, sort_key

PREFIX = "/__build_book/"
EVENTS = PREFIX + "events"
DIAGNOSTICS = PREFIX + "diagnostics"
STATUS = PREFIX + "status"
CLIENT = PREFIX + "client.js"
POLL = 0.05           # seconds between two looks at the files' modification times (a few dozen stat calls)
SETTLE = 0.03         # after a change, wait this long for the editor to finish writing
PORT_TRIES = 20       # the port asked for, or one of the next ones if it is taken
KEEP_ALIVE = 15.0     # seconds between comments on an idle event stream
HOSTS = ("127.0.0.1", "localhost")
CSP_META = re.compile(r"<meta\b[^>]*http-equiv\s*=\s*[\"']?content-security-policy[^>]*>", re.I)


# ---------------------------------------------------------------- shared state

@dataclass
class Rebuild:
    """One rebuild as the terminal and /__build_book/status report it."""

    changed: list[str]
    ok: bool
    build_seconds: float
    save_to_reload: float | None   # None when the build failed or only deletions triggered it

    def as_json(self) -> dict:
        return {"changed": self.changed, "ok": self.ok, "build_seconds": round(self.build_seconds, 4),
                "save_to_reload": None if self.save_to_reload is None else round(self.save_to_reload, 4)}


@dataclass
class State:
    """What the builder knows and the request threads read; guarded by ``cond``."""

    cond: threading.Condition = field(default_factory=threading.Condition)
    generation: int = 0            # finished builds, good or bad
    pages: int = 0                 # the generation of the pages in build/html (the last good build)
    ready: int = 0                 # the generation whose diagnostics and page map are complete
    building: bool = False
    ok: bool | None = None         # how the last build went (None: none finished yet)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    internal: str = ""             # an internal error of build_book in the last build, in words
    page_paths: dict[str, str] = field(default_factory=dict)   # page name -> chapter file, last good build
    rebuilds: list[Rebuild] = field(default_factory=list)
    stopping: bool = False
    # build/html holds pages no build of this user's published (a book can bring a build/ folder, scripts and
    # all): not shown until a build has made the book's own
    foreign: bool = False

    def publish(self, **changes) -> None:
        with self.cond:
            for key, value in changes.items():
                setattr(self, key, value)
            self.cond.notify_all()


def diagnostics_for(state: State, page: str) -> dict:
    """The overlay's data for one page: its chapter's problems and the book's, and counts for the rest."""
    chapter = state.page_paths.get(page)
    with_pages = set(state.page_paths.values())
    mine, elsewhere = [], {}
    for diag in state.diagnostics:
        path = diag.location.path
        if path == chapter:
            mine.append(dict(diag.as_json(), scope="chapter"))
        elif path not in with_pages:        # book.yml, a .bib, or a chapter that has no page yet
            mine.append(dict(diag.as_json(), scope="book"))
        else:
            counts = elsewhere.setdefault(path, {"path": path, "errors": 0, "warnings": 0})
            counts["errors" if diag.severity == "error" else "warnings"] += 1
    return {
        "page": page, "chapter": chapter, "generation": state.generation, "pages": state.pages,
        "building": state.building, "ok": state.ok, "internal": state.internal,
        "diagnostics": mine, "elsewhere": sorted(elsewhere.values(), key=lambda c: c["path"]),
    }


# ---------------------------------------------------------------- the client script (never written to disk)

CLIENT_JS = r"""(function () {
  "use strict";
  var me = document.currentScript;
  var loaded = me ? me.getAttribute("data-pages") : null;
  var page = decodeURIComponent(location.pathname.split("/").pop() || "index.html");
  var host = null;
  function el(tag, css, text) {
    var node = document.createElement(tag);
    if (css) node.setAttribute("style", css);
    if (text) node.textContent = text;
    return node;
  }
  function clear() { if (host) { host.remove(); host = null; } }
  function show(data) {
    clear();
    var items = data.diagnostics || [], others = data.elsewhere || [];
    var failed = data.ok === false, blocked = others.some(function (o) { return o.errors > 0; });
    if (!items.length && !data.internal && !(failed && others.length)) return;
    host = el("div", "position:fixed;top:0;left:0;right:0;z-index:2147483647");
    host.id = "build-book-overlay";
    var root = host.attachShadow ? host.attachShadow({mode: "open"}) : host;
    var box = el("div", "max-height:50vh;overflow:auto;margin:0;padding:.6em 1em;font:14px/1.4 system-ui,sans-serif;" +
      "background:" + (failed ? "#fff0f0" : "#fffbe6") + ";color:#222;border-bottom:3px solid " +
      (failed ? "#c00" : "#d90") + ";box-shadow:0 2px 8px rgba(0,0,0,.25)");
    var close = el("button", "float:right;font-size:18px;border:0;background:none;cursor:pointer", "\u00d7");
    close.title = "hide until the next rebuild";
    close.onclick = clear;
    box.appendChild(close);
    var head = failed ? "The book has errors: this page is the last good build, not your latest edit."
                      : "build_book found problems:";
    if (data.internal) head = "build_book failed (a bug in build_book, not in your files): " + data.internal;
    box.appendChild(el("div", "font-weight:bold;margin-bottom:.3em", head));
    items.forEach(function (d) {
      var row = el("div", "margin:.3em 0;font-family:ui-monospace,monospace;white-space:pre-wrap");
      var where = el("span", "", d.path + ":" + d.line + ":" + d.column + ": ");
      var sev = el("span", "font-weight:bold;color:" + (d.severity === "error" ? "#c00" : "#a60"),
                   d.severity + "[" + d.code + "]");
      row.appendChild(where); row.appendChild(sev);
      row.appendChild(document.createTextNode(": " + d.message));
      if (d.hint) row.appendChild(el("div", "color:#555;padding-left:2em", "hint: " + d.hint));
      box.appendChild(row);
    });
    others.forEach(function (o) {
      var words = [];
      if (o.errors) words.push(o.errors + (o.errors === 1 ? " error" : " errors"));
      if (o.warnings) words.push(o.warnings + (o.warnings === 1 ? " warning" : " warnings"));
      box.appendChild(el("div", "margin:.2em 0;color:#444", o.path + ": " + words.join(", ") +
        (o.errors ? " (the preview updates when they are fixed)" : "")));
    });
    root.appendChild(box);
    document.documentElement.appendChild(host);
  }
  function refresh() {
    fetch("__PREFIX__diagnostics?page=" + encodeURIComponent(page), {cache: "no-store"})
      .then(function (r) { return r.json(); }).then(show).catch(function () {});
  }
  var events = new EventSource("__PREFIX__events");
  events.addEventListener("hello", function (e) {
    var now = JSON.parse(e.data);
    if (loaded !== null && String(now.pages) !== loaded) location.reload(); else refresh();
  });
  events.addEventListener("reload", function () { location.reload(); });
  events.addEventListener("diagnostics", refresh);
})();
""".replace("__PREFIX__", PREFIX)


def inject(html: bytes, pages: int) -> bytes:
    """The page with the preview's script added (and any Content-Security-Policy that would block it removed)."""
    text = html.decode("utf-8", errors="replace")
    text = CSP_META.sub("", text)
    tag = f'<script src="{CLIENT}" data-pages="{pages}"></script>\n'
    at = text.lower().rfind("</body>")
    text = text[:at] + tag + text[at:] if at >= 0 else text + tag
    return text.encode("utf-8")


def placeholder(title: str, message: str) -> bytes:
    """A page for when there is nothing to show yet (no good build, or no such page)."""
    from html import escape
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{escape(title)}</title>\n"
            f"</head>\n<body style=\"font:16px/1.5 system-ui,sans-serif;margin:8em auto;max-width:40em\">\n"
            f"<h1>{escape(title)}</h1>\n<p>{escape(message)}</p>\n</body>\n</html>\n").encode("utf-8")


# ---------------------------------------------------------------- the web server

class Handler(BaseHTTPRequestHandler):
    server_version = "build_book-serve"
    state: State
    site: Path          # build/html

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass            # the terminal is for the book's problems, not for requests

    def do_HEAD(self):
        self.do_GET(head=True)

    def do_GET(self, head: bool = False):
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
        if host not in HOSTS:       # a page elsewhere pointing a name at 127.0.0.1 (DNS rebinding)
            return self._send(403, "text/plain; charset=utf-8", b"forbidden\n", head)
        url = urlsplit(self.path)
        try:
            if url.path == EVENTS:
                return self._events()
            if url.path == CLIENT:
                return self._send(200, "text/javascript; charset=utf-8", CLIENT_JS.encode(), head)
            if url.path == DIAGNOSTICS:
                page = parse_qs(url.query).get("page", ["index.html"])[0]
                return self._json(self._diagnostics(page), head)
            if url.path == STATUS:
                return self._json(self._status(), head)
            return self._file(url.path, head)
        except (BrokenPipeError, ConnectionResetError):
            pass            # the browser went away

    # -- the book's pages

    def _file(self, path: str, head: bool) -> None:
        rel = unquote(path).lstrip("/")
        if rel == "" or rel.endswith("/"):
            rel += "index.html"
        parts = rel.split("/")
        if any(p in ("", ".", "..") or "\0" in p or "\\" in p for p in parts):
            return self._send(404, "text/plain; charset=utf-8", b"not found\n", head)
        with self.state.cond:
            pages = self.state.pages
            foreign = self.state.foreign and not pages
        data = self._read(self.site.joinpath(*parts)) if not foreign else None
        kind = mimetypes.guess_type(rel)[0] or "application/octet-stream"
        if data is None:
            if not kind.startswith("text/html") and "." in parts[-1]:
                return self._send(404, "text/plain; charset=utf-8", b"not found\n", head)
            with self.state.cond:
                building, ok = self.state.building or self.state.ok is None, self.state.ok
            if foreign or not self.site.is_dir():
                title, message = ("Building the book ...", "This page reloads when the first build is done.") \
                    if building else ("The book has errors", "Nothing could be built yet: the errors are "
                                      "listed above and in the terminal. This page reloads when they are fixed.")
            else:
                title, message = "No such page", f"The web edition has no page {rel}."
            return self._send(404, "text/html; charset=utf-8", inject(placeholder(title, message), pages), head)
        if kind == "text/html":
            kind, data = "text/html; charset=utf-8", inject(data, pages)
        elif kind.startswith("text/") or kind in ("application/javascript", "image/svg+xml"):
            kind += "; charset=utf-8"
        self._send(200, kind, data, head)

    def _read(self, path: Path) -> bytes | None:
        """The file's bytes; None if it is not there. A build publishing the new edition moves the old
        folder aside and the new one in: a file missing at that very moment is looked for again."""
        for _ in range(40):
            try:
                if path.is_file():
                    return path.read_bytes()
            except OSError:
                pass
            if self.site.is_dir():
                return None
            with self.state.cond:
                if not self.state.building:
                    return None
            time.sleep(0.05)
        return None

    # -- the preview's own endpoints

    def _ready(self) -> None:
        """Wait (a little) until the diagnostics of the last build are matched to its pages."""
        with self.state.cond:
            self.state.cond.wait_for(lambda: self.state.ready >= self.state.generation or self.state.stopping,
                                     timeout=30)

    def _diagnostics(self, page: str) -> dict:
        self._ready()
        with self.state.cond:
            return diagnostics_for(self.state, page)

    def _status(self) -> dict:
        self._ready()
        with self.state.cond:
            state = self.state
            return {"generation": state.generation, "pages": state.pages, "building": state.building,
                    "ok": state.ok, "internal": state.internal,
                    "errors": sum(d.severity == "error" for d in state.diagnostics),
                    "warnings": sum(d.severity == "warning" for d in state.diagnostics),
                    "rebuilds": [r.as_json() for r in state.rebuilds[-20:]]}

    def _events(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        state = self.state
        with state.cond:
            seen, seen_pages = state.generation, state.pages
        self._event("hello", {"generation": seen, "pages": seen_pages})
        while True:
            with state.cond:
                state.cond.wait_for(lambda: state.generation != seen or state.stopping, timeout=KEEP_ALIVE)
                if state.stopping:
                    return
                changed, generation, pages = state.generation != seen, state.generation, state.pages
            if not changed:
                self.wfile.write(b": still here\n\n")
                self.wfile.flush()
                continue
            seen = generation
            if pages != seen_pages:
                seen_pages = pages
                self._event("reload", {"generation": generation, "pages": pages})
            else:
                self._event("diagnostics", {"generation": generation, "pages": pages})

    def _event(self, name: str, data: dict) -> None:
        self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()

    def _json(self, data: dict, head: bool) -> None:
        self._send(200, "application/json; charset=utf-8", json.dumps(data, ensure_ascii=False).encode(), head)

    def _send(self, status: int, kind: str, body: bytes, head: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True       # open event streams do not keep the process alive


def open_server(state: State, site: Path, port: int) -> Server:
    """A server on 127.0.0.1 at ``port`` or the next free one (``port`` 0: any free port)."""
    handler = type("BookHandler", (Handler,), {"state": state, "site": site})
    tries = [0] if port == 0 else range(port, min(port + PORT_TRIES, 65536))
    last: OSError | None = None
    for candidate in tries:
        try:
            return Server(("127.0.0.1", candidate), handler)
        except OSError as exc:
            last = exc
    raise PortsTaken(port, last)


class PortsTaken(Exception):
    def __init__(self, port: int, exc: OSError | None):
        super().__init__(f"no free port from {port} to {min(port + PORT_TRIES, 65536) - 1} "
                         f"({exc.strerror if exc else 'unknown reason'})")


# ---------------------------------------------------------------- watching the book's files

def watched_files(root: Path, book=None, previous: set[Path] | None = None) -> set[Path]:
    """Every file the HTML edition is made of: book.yml, chapters, bibliography, CSL, images, templates."""
    from .config import BOOKDOWN_NAME, CONFIG_NAME, QUARTO_NAME, load_config
    from .files import bookdown_book, quarto_book
    from .model import is_external
    from .templating import PACKAGE_TEMPLATES

    files = {root / CONFIG_NAME} | {root / name for name in (QUARTO_NAME, BOOKDOWN_NAME) if (root / name).is_file()}
    config = book.config if book is not None else None
    if config is None:
        try:
            config, _ = load_config(root)
        except Exception:       # book.yml unreadable: the previous list, until it reads again
            return (previous or set()) | files
    files.update(root / ref.path for ref in config.chapters)
    if not (root / CONFIG_NAME).is_file() and not quarto_book(root / QUARTO_NAME) and bookdown_book(root):
        # a bookdown book's chapters may be every .Rmd file of its folders: a folder's time changes when one is
        # added or removed (or _bookdown.yml is written)
        files.update({root} | {(root / ref.path).parent for ref in config.chapters})
    files.update(root / path for path in config.bibliography)
    if config.csl.endswith(".csl"):
        files.add(root / config.csl)
    if book is not None:
        for chapter in book.chapters:
            folder = (root / chapter.path).parent
            for image in chapter.targets.images:
                if image and not is_external(image):
                    files.add(folder / unquote(image.split("#", 1)[0]))
    elif previous:              # the images are known from the last book that could be read
        files.update(p for p in previous if not p.is_relative_to(root / "templates"))
    for folder in (root / "templates", PACKAGE_TEMPLATES / "html"):
        for where, dirs, names in os.walk(folder):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            files.update(Path(where) / name for name in names if not name.startswith("."))
    return {f for f in files if not f.is_relative_to(root / "build")}


def snapshot(files: set[Path]) -> dict[Path, tuple[int, int] | None]:
    out = {}
    for path in files:
        try:
            st = path.stat()
            out[path] = (st.st_mtime_ns, st.st_size)
        except OSError:
            out[path] = None
    return out


def changes(before: dict, after: dict) -> list[Path]:
    return sorted(p for p in after.keys() | before.keys() if before.get(p) != after.get(p) and p in after)


# ---------------------------------------------------------------- the builder

class Preview:
    """Builds, watches and rebuilds; the server reads :attr:`state`."""

    def __init__(self, root: Path, *, strict: bool = False, quiet: bool = False, out=None, jobs: int | None = None):
        self.root = root
        self.strict = strict
        self.jobs = jobs
        self.quiet = quiet
        self.out = out or sys.stderr
        self.state = State()
        self.files: set[Path] = watched_files(root)
        self.printed: set[Diagnostic] | None = None

    def say(self, message: str) -> None:
        if not self.quiet:
            print(f"[{time.strftime('%H:%M:%S')}] {message}", file=self.out, flush=True)

    def shown(self, path: Path) -> str:
        name = path.relative_to(self.root).as_posix() if path.is_relative_to(self.root) else str(path)
        return f"the files in {'the book' if name == '.' else name + '/'}" if path.is_dir() else name

    def build(self, changed: list[Path], saved_ns: int | None) -> None:
        from . import build as pipeline
        from . import templating

        if any(not p.is_relative_to(self.root) or p.is_relative_to(self.root / "templates") for p in changed):
            templating.environment.cache_clear()   # a book's templates/ folder may have appeared
        self.state.publish(building=True)
        started = time.perf_counter()
        ok, internal, diags = False, "", []
        deferred: set = set()      # what the build leaves for after the reload (the search index)
        try:
            _, diags = pipeline.build(self.root, ["html"], strict=self.strict, jobs=self.jobs, deferred=deferred)
            ok = True
        except BuildError as exc:
            diags = exc.diagnostics
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:     # a bug in build_book or its tools: say so, keep the last good pages
            internal = f"{type(exc).__name__}: {exc}"
            if os.environ.get("BUILD_BOOK_DEBUG", "") not in ("", "0"):
                import traceback
                traceback.print_exc()
        seconds = time.perf_counter() - started
        diags = sorted(set(diags), key=sort_key)
        with self.state.cond:
            state = self.state
            state.generation += 1
            if ok:
                state.pages = state.generation
            state.building, state.ok, state.internal, state.diagnostics = False, ok, internal, diags
            state.cond.notify_all()     # the event streams send reload (or diagnostics) now
        reload_ns = time.time_ns()
        to_reload = (reload_ns - saved_ns) / 1e9 if ok and saved_ns else None
        rebuild = Rebuild([self.shown(p) for p in changed], ok, seconds, to_reload)
        self._report(rebuild, diags, internal)
        # off the critical path: the reload has gone out already
        if ok and deferred:
            try:
                pipeline.finish_deferred(self.root, deferred)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception:     # the last index stays, as a failed build leaves the last pages
                pass
        book = self._refresh(ok)
        with self.state.cond:
            self.state.rebuilds.append(rebuild)
            self.state.ready = self.state.generation
            self.state.cond.notify_all()
        self.files = watched_files(self.root, book, self.files)

    def _refresh(self, ok: bool):
        """The book as read now, for the page -> chapter map (after a good build) and the images to watch."""
        from .load import load_book
        from .render.common import page_name

        try:
            book = load_book(self.root).book
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception:
            return None
        if ok:
            pages = {page_name(c, ".html"): c.path for c in book.chapters}
            with self.state.cond:
                self.state.page_paths = pages
        return book

    def _report(self, rebuild: Rebuild, diags: list[Diagnostic], internal: str) -> None:
        what = ", ".join(rebuild.changed[:3]) + (f" and {len(rebuild.changed) - 3} more"
                                                 if len(rebuild.changed) > 3 else "")
        what = f"{what} changed: " if what else ""
        errors = sum(d.severity == "error" for d in diags)
        warnings = len(diags) - errors
        counts = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
        if internal:
            print(f"build_book: internal error: {internal}\nthe preview keeps the last good pages. This is a bug "
                  "in build_book or one of its tools, not in your files; BUILD_BOOK_DEBUG=1 shows the details.",
                  file=self.out, flush=True)
        elif rebuild.ok:
            reload = (f" (save to reload {rebuild.save_to_reload:.2f} s)"
                      if rebuild.save_to_reload is not None else "")
            done = "rebuilt" if rebuild.changed else "built"
            self.say(f"{what}{done} in {rebuild.build_seconds:.2f} s{reload}; {counts}")
        elif self.state.pages or ((self.root / "build" / "html").is_dir() and not self.state.foreign):
            self.say(f"{what}not rebuilt ({counts}); the preview keeps the last good pages "
                     f"and shows the problems over them")
        else:
            self.say(f"{what}not built ({counts}); the preview shows the problems and the book once they "
                     f"are fixed")
        if set(diags) != self.printed:      # the problems, whenever they are not the ones printed last
            for diag in diags:
                print(diag.format(), file=self.out)
            self.out.flush()
            self.printed = set(diags)

    def watch(self, before: dict, poll: float = POLL) -> None:
        """Rebuild whenever a watched file changes from ``before`` (taken before the last build), until
        interrupted."""
        before = {**snapshot(self.files - before.keys()), **before}   # files first known from the build
        while True:
            time.sleep(poll)
            now = snapshot(self.files | before.keys())
            changed = changes(before, now)
            if not changed:
                before = {p: now[p] for p in self.files}
                continue
            for _ in range(20):         # let the editor finish (write, then rename, ...)
                time.sleep(SETTLE)
                settled = snapshot(now.keys())
                if settled == now:
                    break
                now = settled
            changed = changes(before, now)
            saved = [now[p][0] for p in changed if now.get(p)]
            before = now
            self.build(changed, max(saved) if saved else None)
            before = {**{p: v for p, v in before.items() if p in self.files},
                      **snapshot(self.files - before.keys())}


def serve(root: Path, *, port: int = 8000, strict: bool = False, quiet: bool = False,
          jobs: int | None = None) -> int:
    """Serve the book's HTML edition on 127.0.0.1 and rebuild it as its files change; Ctrl-C stops."""
    from . import pandoc

    from . import build as pipeline

    preview = Preview(root, strict=strict, quiet=quiet, jobs=jobs)
    site = root / "build" / "html"
    preview.state.foreign = site.is_dir() and not pipeline.published_site(root)
    try:
        server = open_server(preview.state, site, port)
    except PortsTaken as exc:
        print(f"serve: {exc}; name another with --port N", file=sys.stderr)
        return 1

    def stop(signum, frame):
        pandoc.kill_all()
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    try:
        actual = server.server_address[1]
        if port and actual != port:
            preview.say(f"port {port} is taken; using {actual}")
        preview.say(f"previewing the book in {root}; Ctrl-C stops")
        print(f"http://127.0.0.1:{actual}/", flush=True)
        preview.say("building the HTML edition ..." + (" (the last build is shown meanwhile)"
                                                        if site.is_dir() and not preview.state.foreign else ""))
        before = snapshot(preview.files)    # before the build: an edit saved while it runs is seen
        preview.build([], None)
        preview.say(f"watching {len(preview.files)} files for changes")
        preview.watch(before)
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        preview.state.publish(stopping=True)
        server.shutdown()
        server.server_close()
    preview.say("stopped")
    return 0


# ---------------------------------------------------------------- measuring (scripts/benchmark.py)

def measure_save_to_reload(root: Path, chapter: str, *, timeout: float = 600.0) -> dict:
    """Start ``serve`` on the book in ``root`` (a subprocess, as an author would), wait for its first
    build, change a sentence in ``chapter`` (a path relative to the book) and time the reload event.

    Returns ``{"client": seconds from the write to the reload event arriving, "server": the server's own
    save-to-reload figure, "build": its rebuild time}``. The chapter is restored before returning."""
    process = subprocess.Popen([sys.executable, "-m", "build_book", "serve", "--book", str(root), "--port", "0",
                                "-q"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    path = root / chapter
    original = path.read_bytes()
    try:
        url = urlsplit(process.stdout.readline().strip())
        port = url.port
        deadline = time.monotonic() + timeout
        while _get_json(port, STATUS)["generation"] < 1:
            if time.monotonic() > deadline:
                raise TimeoutError("the first build did not finish")
            time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", EVENTS)
        stream = conn.getresponse()
        assert _next_event(stream)[0] == "hello"
        path.write_bytes(original + b"\n\nA sentence added to time the preview.\n")
        written = time.perf_counter()
        name, _ = _next_event(stream)
        client = time.perf_counter() - written
        conn.close()
        if name != "reload":
            raise RuntimeError(f"expected a reload event, got {name}")
        last = _get_json(port, STATUS)["rebuilds"][-1]
        return {"client": client, "server": last["save_to_reload"], "build": last["build_seconds"]}
    finally:
        path.write_bytes(original)
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _get_json(port: int, path: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def _next_event(stream) -> tuple[str, dict]:
    """The next Server-Sent Event on ``stream`` (comments skipped)."""
    name, data = "message", ""
    while True:
        line = stream.fp.readline()
        if not line:
            raise ConnectionError("the event stream ended")
        line = line.decode().rstrip("\r\n")
        if line == "":
            if data:
                return name, json.loads(data)
            continue
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()


__all__ = ["serve", "Preview", "State", "diagnostics_for", "inject", "measure_save_to_reload"]
