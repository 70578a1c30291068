"""``serve``: the live preview, driven as a browser would drive it (real HTTP on 127.0.0.1, real file edits)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from build_book import serve as serve_module

from .conftest import REPO, copy_book

CHAPTER = "chapters/01-origins.md"       # its page is origins.html (the label sec-origins)
OLD = "States ally to balance threats [@walt1987, 5]."
RELOAD_BOUND = 30.0                      # seconds; a rebuild of the mini book takes about one


class Preview:
    def __init__(self, root: Path, process: subprocess.Popen, port: int, log: Path, busy: int):
        self.root, self.process, self.port, self.log, self.busy = root, process, port, log, busy

    def request(self, path: str, host: str | None = None) -> tuple[int, dict, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path, headers={"Host": host} if host else {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read().decode("utf-8")
        finally:
            conn.close()

    def json(self, path: str) -> dict:
        status, headers, body = self.request(path)
        assert status == 200 and headers["Content-Type"].startswith("application/json")
        return json.loads(body)

    def events(self) -> "Events":
        return Events(self.port)


class Events:
    """A subscription to the reload events, read line by line as EventSource does."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=RELOAD_BOUND)
        self.conn.request("GET", serve_module.EVENTS)
        self.response = self.conn.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("Content-Type").startswith("text/event-stream")

    def next(self) -> tuple[str, dict]:
        name, data = "message", ""
        while True:
            line = self.response.fp.readline().decode("utf-8")
            assert line, "the event stream ended"
            line = line.rstrip("\n")
            if not line:
                if data:
                    return name, json.loads(data)
                continue
            field, _, value = line.partition(":")
            if field == "event":
                name = value.strip()
            elif field == "data":
                data += value.strip()

    def close(self) -> None:
        self.conn.close()


def start(root: Path, log: Path, *args: str) -> tuple[subprocess.Popen, int]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    process = subprocess.Popen([sys.executable, "-m", "build_book", "serve", "--book", str(root), *args],
                               stdout=subprocess.PIPE, stderr=log.open("w"), text=True, env=env)
    url = urlsplit(process.stdout.readline().strip())
    assert url.scheme == "http" and url.hostname == "127.0.0.1", log.read_text()
    return process, url.port


def wait_for(predicate, bound: float = RELOAD_BOUND, what: str = "the server"):
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def preview(tmp_path_factory):
    root = copy_book("mini", tmp_path_factory)
    log = root.parent / "serve.log"
    taken = socket.socket()                 # the port asked for is busy: serve takes the next free one
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    busy = taken.getsockname()[1]
    process, port = start(root, log, "--port", str(busy))
    taken.close()
    assert busy < port < busy + serve_module.PORT_TRIES
    server = Preview(root, process, port, log, busy)
    wait_for(lambda: server.json(serve_module.STATUS)["generation"] >= 1, 120, "the first build")
    yield server
    if process.poll() is None:
        process.kill()
        process.wait()


def test_serves_the_edition_with_the_script_only_in_responses(preview):
    assert f"port {preview.busy} is taken; using {preview.port}" in preview.log.read_text()
    status = preview.json(serve_module.STATUS)
    assert status["ok"] is True and status["errors"] == 0
    for path in ("/", "/index.html", "/origins.html"):
        code, headers, body = preview.request(path)
        assert code == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        assert body.rstrip().endswith("</html>")
        assert body.count(serve_module.CLIENT) == 1 and body.index(serve_module.CLIENT) < body.rindex("</body>")
    assert "Origins of Alliances" in preview.request("/origins.html")[2]
    assert "Alliances in Miniature" in preview.request("/")[2]
    # the files in build/html are the published edition: no script in any of them but build_book's own site.js
    from build_book.render.html import SCRIPT_TAG
    site = preview.root / "build" / "html"
    pages = list(site.glob("*.html"))
    assert len(pages) >= 5
    for page in pages:
        assert "<script" not in page.read_text(encoding="utf-8").replace(SCRIPT_TAG, ""), page
    code, headers, css = preview.request("/style.css")
    assert code == 200 and headers["Content-Type"].startswith("text/css") and "<script" not in css
    code, headers, script = preview.request(serve_module.CLIENT)
    assert code == 200 and "EventSource" in script and serve_module.DIAGNOSTICS in script
    # nothing outside build/html, and no other host name than the machine's own
    assert preview.request("/../book.yml")[0] == 404
    assert preview.request("/%2e%2e/book.yml")[0] == 404
    assert preview.request("/no-such-page.html")[0] == 404
    assert preview.request("/index.html", host="evil.example:80")[0] == 403


def test_an_edit_reloads_the_page_with_the_new_text(preview):
    events = preview.events()
    try:
        assert events.next()[0] == "hello"
        chapter = preview.root / CHAPTER
        text = chapter.read_text(encoding="utf-8")
        assert OLD in text
        new = "States ally, above all, to balance threats [@walt1987, 5]."
        saved = time.monotonic()
        chapter.write_text(text.replace(OLD, new), encoding="utf-8")
        name, data = events.next()
        waited = time.monotonic() - saved
    finally:
        events.close()
    assert name == "reload" and waited < RELOAD_BOUND
    assert data["pages"] == data["generation"]
    page = preview.request("/origins.html")[2]
    assert "States ally, above all, to balance threats" in page
    assert f'data-pages="{data["pages"]}"' in page
    rebuild = preview.json(serve_module.STATUS)["rebuilds"][-1]
    assert rebuild["changed"] == [CHAPTER] and rebuild["ok"]
    assert 0 < rebuild["build_seconds"] <= rebuild["save_to_reload"] < waited + 1
    assert f"{CHAPTER} changed: rebuilt in" in preview.log.read_text()
    # the page reloads with the last search index; the new one follows (status answers once it is in place)
    assert "above all, to balance threats" in searchable_text(preview.root)
    assert not list((preview.root / "build" / "html").glob(".pagefind*"))


def searchable_text(root) -> str:
    """What the site's search index holds: the text of its pages (Pagefind's fragments, gzip)."""
    import gzip
    return "".join(gzip.decompress(f.read_bytes()).decode("utf-8", "replace")
                   for f in (root / "build" / "html" / "pagefind" / "fragment").iterdir())


def test_a_broken_edit_keeps_the_last_good_page_and_shows_the_error_there(preview):
    chapter = preview.root / CHAPTER
    good = chapter.read_text(encoding="utf-8")
    before = preview.request("/origins.html")[2]
    line = next(n for n, text in enumerate(good.splitlines(), 1) if "[@walt1987, 5]" in text)
    column = good.splitlines()[line - 1].index("@walt1987") + 1
    events = preview.events()
    try:
        assert events.next()[0] == "hello"
        chapter.write_text(good.replace("[@walt1987, 5]", "[@walt1978, 5] A sentence never shown."),
                           encoding="utf-8")
        name, _ = events.next()
        assert name == "diagnostics"          # not a reload: the pages did not change
        page = preview.request("/origins.html")[2]
        assert "A sentence never shown" not in page and page == before
        found = preview.json(f"{serve_module.DIAGNOSTICS}?page=origins.html")
        assert found["ok"] is False and found["chapter"] == CHAPTER
        [problem] = found["diagnostics"]
        assert (problem["path"], problem["line"], problem["column"]) == (CHAPTER, line, column)
        assert problem["severity"] == "error" and problem["code"] == "citation-unknown"
        assert "walt1978" in problem["message"] and "walt1987" in problem["hint"]
        # another chapter's page does not list it, but says that chapter has an error
        other = preview.json(f"{serve_module.DIAGNOSTICS}?page=cases.html")
        assert other["diagnostics"] == [] and other["elsewhere"] == [{"path": CHAPTER, "errors": 1, "warnings": 0}]
        log = preview.log.read_text()
        assert f"{CHAPTER}:{line}:{column}: error[citation-unknown]" in log and "not rebuilt" in log

        # a book-wide problem (an unused bibliography entry: a warning) shows on every page
        bib = preview.root / "bibliography" / "refs.bib"
        bib_text = bib.read_text(encoding="utf-8")
        bib.write_text(bib_text + "\n@book{unused2001,\n  author = {Nobody, A.},\n  title = {Never Cited},\n"
                       "  publisher = {Press},\n  year = {2001}\n}\n", encoding="utf-8")
        assert events.next()[0] == "diagnostics"   # the citation error still stops the build
        chapter.write_text(good, encoding="utf-8")
        name, _ = events.next()
        assert name == "reload"
        for page in ("origins.html", "index.html"):
            found = preview.json(f"{serve_module.DIAGNOSTICS}?page={page}")
            assert found["ok"] is True
            assert [(d["path"], d["severity"], d["code"], d["scope"]) for d in found["diagnostics"]] == [
                ("bibliography/refs.bib", "warning", "bib-unused", "book")]
        bib.write_text(bib_text, encoding="utf-8")
        assert events.next()[0] == "reload"
    finally:
        events.close()
    cleared = preview.json(f"{serve_module.DIAGNOSTICS}?page=origins.html")
    assert cleared["ok"] is True and cleared["diagnostics"] == [] and cleared["elsewhere"] == []
    assert "A sentence never shown" not in preview.request("/origins.html")[2]


def test_ctrl_c_stops_it_cleanly(preview):
    events = preview.events()
    assert events.next()[0] == "hello"        # an open event stream does not keep it running
    preview.process.send_signal(signal.SIGINT)
    assert preview.process.wait(timeout=20) == 0
    events.close()
    log = preview.log.read_text()
    assert "Traceback" not in log and log.rstrip().endswith("stopped")
    assert preview.process.stdout.read() == ""   # stdout had the address only
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", preview.port), timeout=5).close()


def test_save_to_reload_is_measured_for_the_benchmark(tmp_path_factory, monkeypatch):
    root = copy_book("mini", tmp_path_factory)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    before = (root / CHAPTER).read_bytes()
    measured = serve_module.measure_save_to_reload(root, CHAPTER, timeout=120)
    assert 0 < measured["build"] <= measured["server"] < measured["client"] + 0.5 < RELOAD_BOUND
    assert (root / CHAPTER).read_bytes() == before


def test_serve_watches_a_bookdown_books_folders_for_new_chapters(tmp_path):
    """A bookdown book without rmd_files is every .Rmd file of its folder: serve watched only the files it knew,
    so a chapter added (or a _bookdown.yml written) was not seen until another watched file changed."""
    (tmp_path / "index.Rmd").write_text("---\ntitle: T\nsite: bookdown::bookdown_site\n---\n\n# Preface {-}\n",
                                        encoding="utf-8")
    watched = serve_module.watched_files(tmp_path)
    before = serve_module.snapshot(watched)
    time.sleep(0.02)
    (tmp_path / "01-new.Rmd").write_text("# New\n", encoding="utf-8")
    assert serve_module.snapshot(watched) != before
    assert tmp_path / "01-new.Rmd" in serve_module.watched_files(tmp_path)
    # a book.yml book's folder is not watched so (its chapters are those it lists)
    (tmp_path / "book.yml").write_text("title: T\nchapters: [index.Rmd]\n", encoding="utf-8")
    assert tmp_path not in serve_module.watched_files(tmp_path)
