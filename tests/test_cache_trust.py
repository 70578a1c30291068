"""Nothing a book brings in its build/ folder is trusted: CI builds every pushed change, and a change can
commit files under the git-ignored build/ (``git add -f``). Cache entries are signed with the user's own
key (cache.py), so an entry planted with a checksum anyone can compute is made again; files handed to
other programs by path are checked or rewritten; a publication journal or a symbolic link in build/ moves,
writes or removes nothing outside it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from build_book import cache as cachefile

from .conftest import BOOKS, REPO
from .test_incremental import ENV, cli, diagnostics, html_pages


def copy(name: str, tmp_path: Path) -> Path:
    root = tmp_path / name
    shutil.copytree(BOOKS / name, root, ignore=shutil.ignore_patterns("build"))
    return root


def plant(entry: Path, body: bytes, signed: bool = False) -> None:
    """Write ``body`` as the entry ``entry``, its header made as an attacker can (the plain SHA-256 the
    entries once had), or, ``signed``, as build_book makes it with the user's key (the control)."""
    header = entry.read_bytes().partition(b"\n")[0]
    fmt, key = header.decode("ascii").rsplit(" ", 1)[0].rsplit(" ", 1)
    if signed:
        cachefile.put(entry.parent, key, body, fmt, entry.name[len(key):])
    else:
        entry.write_bytes(f"{fmt} {key} {hashlib.sha256(body).hexdigest()}\n".encode("ascii") + body)


def changed(root: Path) -> None:
    """Something changed (a time, not a text): the next command looks at its caches."""
    os.utime(root / "book.yml")


def test_a_planted_fragment_puts_no_script_in_the_web_edition(tmp_path):
    root = copy("mini", tmp_path)
    cli("html", "--book", str(root))
    good = html_pages(root)
    folder = root / "build" / ".cache" / "fragments-end-notes"
    entries = sorted(folder.iterdir())
    assert entries
    evil = b'<script>alert("planted")</script>'
    for entry in entries:
        body = entry.read_bytes().partition(b"\n")[2]
        assert b"<h1" in body
        plant(entry, body.replace(b"<h1", evil + b"<h1", 1))
    changed(root)
    cli("html", "--book", str(root))
    assert html_pages(root) == good and not any("planted" in page for page in good.values())
    # the control: an entry signed with the user's key is used (the entries above were on the build's path)
    for entry in sorted(folder.iterdir()):
        body = entry.read_bytes().partition(b"\n")[2]
        plant(entry, body.replace(b"<h1", evil + b"<h1", 1), signed=True)
    changed(root)
    cli("html", "--book", str(root))
    assert any('alert("planted")' in page for page in html_pages(root).values())


def test_a_planted_parse_or_check_entry_hides_no_diagnostic(tmp_path):
    root = copy("mini", tmp_path)
    edit = root / "chapters" / "02-cases.md"
    edit.write_text(edit.read_text(encoding="utf-8") + "\nAs argued before [@nosuchkey2001].\n", encoding="utf-8")
    reported = diagnostics(root)
    assert '"citation-unknown"' in reported and "nosuchkey2001" in reported
    # the parsed chapter (and what was learnt from its text and its document) as if it cited a known key
    planted = []
    for entry in sorted(p for p in (root / "build" / ".cache").rglob("*.json") if p.parent.name != "last"):
        body = entry.read_bytes().partition(b"\n")[2]
        if b"nosuchkey2001" in body:
            planted.append((entry, body.replace(b"nosuchkey2001", b"walt1987")))
    assert {entry.parent.name for entry, _ in planted} >= {"ast", "scan"}
    for entry, body in planted:
        plant(entry, body)
    changed(root)
    assert diagnostics(root) == reported
    for entry, body in planted:
        plant(entry, body, signed=True)
    changed(root)
    assert "nosuchkey2001" not in diagnostics(root)     # the control: a signed entry is used


def test_a_planted_checks_entry_hides_no_diagnostic(tmp_path):
    root = copy("hostile-html", tmp_path)
    reported = diagnostics(root)
    assert '"html-removed"' in reported
    folder = root / "build" / ".cache" / "checks" / "sanitize"
    entries = sorted(folder.iterdir())
    assert entries
    for entry in entries:
        plant(entry, b"[]")      # "no problems"
    changed(root)
    assert diagnostics(root) == reported
    for entry in entries:
        plant(entry, b"[]", signed=True)
    changed(root)
    assert diagnostics(root).count('"html-removed"') < reported.count('"html-removed"')   # the control


# the files under build/.cache that are not cache entries: handed to other programs by path, each checked
# against what build_book made (or rewritten) before it is used, or a lock
BY_PATH = {"csl": (".json",), "styles": (".csl",), "fonts": (".otf", ".woff", ".woff2")}


def test_every_cache_entry_is_signed(mini):
    """Every file under build/.cache after a build of every edition is an entry whose header verifies
    only with the user's key (its body with a plain checksum does not), or one of the files handed to
    another program by path (a font subset only with a signed record of its contents)."""
    cache = mini.root / "build" / ".cache"
    kinds = set()
    for path in sorted(p for p in cache.rglob("*") if p.is_file()):
        rel = path.relative_to(cache)
        if rel.as_posix() == "build.lock":
            continue
        if rel.parts[0] in BY_PATH and path.suffix in BY_PATH[rel.parts[0]]:
            if rel.parts[0] == "fonts":
                assert cachefile.get(path.parent, path.name, "build_book-font 4", ".sum") is not None, rel
            continue
        header, _, body = path.read_bytes().partition(b"\n")
        fmt, key = header.decode("ascii").rsplit(" ", 1)[0].rsplit(" ", 1)
        suffix = path.name[len(key):]
        assert path.name.startswith(key), rel
        assert cachefile.get(path.parent, key, fmt, suffix) == body, rel
        planted = path.with_name(path.name + ".planted")
        try:
            planted.write_bytes(f"{fmt} {key} {hashlib.sha256(body).hexdigest()}\n".encode() + body)
            assert cachefile.get(path.parent, key, fmt, suffix + ".planted") is None, rel
        finally:
            planted.unlink()
        kinds.add(rel.parts[0])
    # the stages the brief names are among them
    assert {"ast", "checks", "fragments-end-notes", "fragments-references", "xhtml", "pdf-pieces", "read-order",
            "last"} <= kinds


def test_a_planted_font_is_not_shipped(tmp_path):
    root = copy("mini", tmp_path)
    cli("html", "--book", str(root))
    fonts = root / "build" / "html" / "fonts"
    if not fonts.is_dir():
        pytest.skip("no font to cut on this machine (fonts-linuxlibertine)")
    good = {p.name: p.read_bytes() for p in fonts.iterdir()}
    cached = [p for p in (root / "build" / ".cache" / "fonts").iterdir() if p.suffix == ".woff2"]
    assert cached
    junk = b"wOF2 not the font build_book cut"

    def plant_fonts(signed: bool) -> None:
        for path in cached:
            path.write_bytes(junk)
            # a record of the junk, with the plain checksum an attacker can compute (or, the control, signed)
            body = f"{path.stem.rsplit('-', 1)[1]} {len(junk)} {hashlib.sha256(junk).hexdigest()}".encode()
            record = path.with_name(path.name + ".sum")
            record.write_bytes(f"build_book-font 4 {path.name} {hashlib.sha256(body).hexdigest()}\n".encode() + body)
            plant(record, body, signed)

    plant_fonts(signed=False)
    changed(root)
    cli("html", "--book", str(root))
    assert {p.name: p.read_bytes() for p in fonts.iterdir()} == good
    plant_fonts(signed=True)
    changed(root)
    cli("html", "--book", str(root))
    assert junk in {p.read_bytes() for p in fonts.iterdir()}


def test_a_planted_citation_file_is_rewritten(tmp_path):
    """The CSL JSON citeproc reads by path (build/.cache/csl/) holds what build_book made of the .bib files."""
    root = copy("mini", tmp_path)
    cli("html", "--book", str(root))
    good = html_pages(root)
    for path in (root / "build" / ".cache" / "csl").glob("*.json"):
        items = json.loads(path.read_text(encoding="utf-8"))
        for item in items:
            item["title"] = "PLANTED TITLE"
        path.write_text(json.dumps(items), encoding="utf-8")
    # a chapter formatted again, and the reference list (its entries lost): citeproc reads the files
    edit = root / "chapters" / "01-origins.md"
    edit.write_text(edit.read_text(encoding="utf-8") + "\nOne more sentence.\n", encoding="utf-8")
    for stage in ("references", "fragments-references", "cite"):
        shutil.rmtree(root / "build" / ".cache" / stage, ignore_errors=True)
    cli("html", "--book", str(root))
    pages = html_pages(root)
    assert not any("PLANTED TITLE" in page for page in pages.values())
    assert pages["bibliography.html"] == good["bibliography.html"]


def test_a_planted_journal_moves_nothing_outside_build(tmp_path):
    root = copy("mini", tmp_path)
    build = root / "build"
    staging = build / ".staging-planted"
    (staging / "html").mkdir(parents=True)
    (staging / "html" / "x").write_text("planted", encoding="utf-8")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    journal = {"format": 1, "staging": staging.name,
               "items": [["html/x", "../../escaped.txt"], ["../../../victim.txt", "stolen.txt"]]}
    (build / ".publish.json").write_text(json.dumps(journal), encoding="utf-8")
    cli("html", "--book", str(root))
    assert not (tmp_path / "escaped.txt").exists() and not (root / "escaped.txt").exists()
    assert victim.read_text(encoding="utf-8") == "precious" and not (build / "stolen.txt").exists()
    assert (build / "html" / "index.html").is_file()


def test_symbolic_links_in_the_cache_are_not_followed(tmp_path):
    """A cache folder that is a link to elsewhere is not pruned in (nor written to); an entry that is a link
    (to /dev/zero: a read without end) is not read; the build lock is not opened through a link."""
    root = copy("mini", tmp_path)
    diagnostics(root)
    cache = root / "build" / ".cache"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious.json").write_text("{}", encoding="utf-8")
    shutil.rmtree(cache / "ast")
    (cache / "ast").symlink_to(elsewhere, target_is_directory=True)
    entry = next((cache / "checks" / "sanitize").iterdir())
    entry.unlink()
    entry.symlink_to("/dev/zero")
    (cache / "build.lock").unlink(missing_ok=True)     # the lock: a link to a file that is not there yet
    (cache / "build.lock").symlink_to(tmp_path / "made-through-a-link")
    changed(root)
    clean = copy("mini", tmp_path / "clean")
    result = subprocess.run([sys.executable, "-m", "build_book", "check", "--book", str(root), "--format", "json"],
                            cwd=REPO, capture_output=True, text=True, timeout=120, env=ENV)
    assert result.stdout == diagnostics(clean)
    assert [p.name for p in elsewhere.iterdir()] == ["precious.json"]
    assert not os.path.lexists(tmp_path / "made-through-a-link")


KEY_SCRIPT = "from build_book import cache; print(cache.secret().hex())"


def key_of(user_cache: Path) -> str:
    result = subprocess.run([sys.executable, "-c", KEY_SCRIPT], cwd=REPO, capture_output=True, text=True,
                            timeout=60, env={**ENV, "XDG_CACHE_HOME": str(user_cache), "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_key_is_made_once_for_the_user_alone(tmp_path):
    user_cache = tmp_path / "user-cache"
    first = key_of(user_cache)
    path = user_cache / "build_book" / cachefile.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_bytes().hex() == first
    assert len(first) == 64 and key_of(user_cache) == first
    # builds starting at once agree on one key
    fresh = tmp_path / "fresh"
    env = {**ENV, "XDG_CACHE_HOME": str(fresh), "PYTHONPATH": str(REPO)}
    runs = [subprocess.Popen([sys.executable, "-c", KEY_SCRIPT], cwd=REPO, stdout=subprocess.PIPE, text=True, env=env)
            for _ in range(6)]
    keys = {run.communicate(timeout=60)[0].strip() for run in runs}
    assert keys == {(fresh / "build_book" / cachefile.KEY_FILE).read_bytes().hex()}
    assert [p.name for p in (fresh / "build_book").iterdir()] == [cachefile.KEY_FILE]   # no temporary file left


def test_a_key_that_cannot_be_kept_still_builds(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    user_cache = blocked / "cache"       # cannot be made: its parent is a file
    assert key_of(user_cache) != key_of(user_cache)      # a key for each process alone
    root = copy("mini", tmp_path)
    env = {**ENV, "XDG_CACHE_HOME": str(user_cache)}
    for _ in range(2):     # the second one cannot trust what the first cached: it builds again, the same
        result = subprocess.run([sys.executable, "-m", "build_book", "html", "--book", str(root)], cwd=REPO,
                                capture_output=True, text=True, timeout=600, env=env)
        assert result.returncode == 0, result.stderr
        assert "nothing has changed" not in result.stdout + result.stderr
    clean = copy("mini", tmp_path / "clean")
    cli("html", "--book", str(clean))
    assert html_pages(root) == html_pages(clean)


def test_the_preview_shows_no_web_edition_the_book_brought(tmp_path):
    """A web edition in build/html that no build published (a book can bring one) is not shown while the
    first build runs, nor is its search index reused: the preview waits for the book's own pages. One a
    build published is shown meanwhile, as before."""
    from build_book import build as pipeline
    from build_book import serve as serve_module

    from .test_serve import Preview, start, wait_for

    root = copy("mini", tmp_path)
    cli("html", "--book", str(root))
    assert pipeline.published_site(root)
    brought = tmp_path / "brought"
    shutil.copytree(root / "build" / "html", brought)
    (brought / "index.html").write_text('<html><body><script>alert("brought")</script></body></html>',
                                        encoding="utf-8")
    search = (brought / "pagefind").is_dir()
    if search:
        (brought / "pagefind" / "pagefind.js").write_text('alert("brought")', encoding="utf-8")
    shutil.rmtree(root / "build" / "html")
    shutil.copytree(brought, root / "build" / "html")       # as a checkout of a commit holding it makes it
    assert not pipeline.published_site(root)
    edit = root / "chapters" / "01-origins.md"       # something to build: the preview's first build runs
    edit.write_text(edit.read_text(encoding="utf-8") + "\nOne more sentence.\n", encoding="utf-8")
    log = tmp_path / "serve.log"
    process, port = start(root, log, "--port", "0")
    try:
        server = Preview(root, process, port, log, 0)
        status, _, body = server.request("/")         # while the first build runs
        assert "brought" not in body
        wait_for(lambda: server.json(serve_module.STATUS)["generation"] >= 1, 120, "the first build")
        status, _, body = server.request("/")
        assert status == 200 and "brought" not in body and "Alliances in Miniature" in body
        if search:      # indexed anew, not taken from the folder brought (and swapped after the reload)
            assert "brought" not in (root / "build" / "html" / "pagefind" / "pagefind.js").read_text(encoding="utf-8")
    finally:
        process.kill()
        process.wait()
    assert pipeline.published_site(root)


def test_a_damaged_key_is_made_again(tmp_path):
    user_cache = tmp_path / "user-cache"
    path = user_cache / "build_book" / cachefile.KEY_FILE
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")             # (a disk that filled up, say)
    first = key_of(user_cache)
    assert path.read_bytes().hex() == first and key_of(user_cache) == first
