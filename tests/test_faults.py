"""Build faults: a killed build never mixes or loses editions, builds of one book wait for each other,
an unwritable build/ is a plain error, damaged caches are rebuilt, and pandoc runs are bounded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from build_book import pandoc
from build_book.build import JOURNAL, TEST_KILL_ENV

from .conftest import REPO, run_cli

SLUG = "faults"
BOOK_YML = """\
title: Faults
lang: en
contributors:
  ito:
    name: ITO Ken
editors: [ito]
bibliography: refs.bib
chapters:
  - chapters/one.md
  - chapters/two.md
"""
BIB = """\
@book{walt1987,
  author = {Walt, Stephen M.},
  title = {The Origins of Alliances},
  year = {1987},
  publisher = {Cornell University Press},
}
"""


def chapter(title: str, label: str, marker: str) -> str:
    return (f"---\nauthors: [ito]\n---\n\n# {title} {{#{label}}}\n\n"
            f"The {marker} alliance, 日米同盟, was studied [@walt1987, 12]. See @{label}.\n")


def make_book(root: Path, marker: str = "OLDMARK") -> Path:
    (root / "chapters").mkdir(parents=True, exist_ok=True)
    (root / "book.yml").write_text(BOOK_YML, encoding="utf-8")
    (root / "refs.bib").write_text(BIB, encoding="utf-8")
    (root / "chapters" / "one.md").write_text(chapter("First Chapter", "sec-one", marker), encoding="utf-8")
    (root / "chapters" / "two.md").write_text(chapter("Second Chapter", "sec-two", marker), encoding="utf-8")
    return root


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    if env is None:
        return run_cli(*args)
    return subprocess.run([sys.executable, "-m", "build_book", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600, env={**os.environ, **env})


def editions(root: Path) -> dict[str, str]:
    """Which marker each published edition carries ('missing' if it is not there)."""
    out = root / "build"

    def marker(text: str) -> str:
        found = [m for m in ("OLDMARK", "NEWMARK") if m in text]
        return found[0] if len(found) == 1 else f"unclear {found}"

    found = {}
    pdf = out / f"{SLUG}.pdf"
    if pdf.is_file():
        from pypdf import PdfReader
        found["pdf"] = marker("".join(page.extract_text() for page in PdfReader(pdf).pages))
    else:
        found["pdf"] = "missing"
    epub = out / f"{SLUG}.epub"
    if epub.is_file():
        with zipfile.ZipFile(epub) as z:
            found["epub"] = marker("".join(z.read(n).decode("utf-8", "replace") for n in z.namelist()
                                           if n.endswith(".xhtml")))
    else:
        found["epub"] = "missing"
    pages = sorted((out / "html").glob("*.html")) if (out / "html").is_dir() else []
    found["html"] = marker("".join(p.read_text(encoding="utf-8") for p in pages)) if pages else "missing"
    return found


def assert_no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr


# --- publishing: killed at every step ----------------------------------------------------------------

PUBLISH_SCRIPT = """
import sys
from pathlib import Path
from build_book.build import _publish
out, staging = Path(sys.argv[1]), Path(sys.argv[2])
_publish(staging, [staging / "pdf" / "b.pdf", staging / "epub" / "b.epub", staging / "html" / "html"], out)
"""


def _set(folder: Path, word: str) -> None:
    (folder / "pdf").mkdir(parents=True)
    (folder / "epub").mkdir()
    (folder / "html" / "html" / "ch").mkdir(parents=True)
    (folder / "pdf" / "b.pdf").write_text(word)
    (folder / "epub" / "b.epub").write_text(word)
    (folder / "html" / "html" / "index.html").write_text(word)
    (folder / "html" / "html" / "ch" / "one.html").write_text(word)


def _published(out: Path) -> set[str]:
    found = set()
    for path in (out / "b.pdf", out / "b.epub", out / "html" / "index.html", out / "html" / "ch" / "one.html"):
        found.add(path.read_text() if path.is_file() else "missing")
    return found


def test_publishing_killed_after_any_step_leaves_a_complete_set(tmp_path):
    outcomes = []
    for step in range(1, 20):
        root = tmp_path / f"step{step}"
        out = root / "build"
        (out / ".cache").mkdir(parents=True)  # as a real build leaves it (its lock lives there)
        (root / "book.yml").write_text(BOOK_YML, encoding="utf-8")  # so that the next command finds a book
        old = out / ".tmp-old"
        _set(old, "old")
        for name in ("pdf/b.pdf", "epub/b.epub", "html/html"):
            os.replace(old / name, out / Path(name).name)
        staging = out / ".staging-test"
        _set(staging, "new")
        killed = subprocess.run([sys.executable, "-c", PUBLISH_SCRIPT, str(out), str(staging)],
                                env={**os.environ, TEST_KILL_ENV: str(step)}, capture_output=True, text=True)
        if killed.returncode == 0:
            assert _published(out) == {"new"}
            assert not (out / JOURNAL).exists()
            break
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        # the next command (here a check, of a book without its chapters) first completes what was begun
        cli("check", "--book", str(root))
        state = _published(out)
        assert state in ({"old"}, {"new"}), (step, state)
        assert not (out / JOURNAL).exists()
        outcomes.append(state.pop())
    else:
        pytest.fail("the publication never finished")
    # journal written, html set aside, each of three moves, journal removed: every one was a kill point
    assert len(outcomes) >= 5 and outcomes[-1] == "new", outcomes


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = make_book(tmp_path_factory.mktemp("faults") / "book")
    result = cli("all", "--book", str(root))
    assert result.returncode == 0, result.stderr
    assert editions(root) == {"pdf": "OLDMARK", "epub": "OLDMARK", "html": "OLDMARK"}
    return root


def test_a_real_build_killed_while_publishing_is_completed_by_the_next_command(built, tmp_path):
    root = tmp_path / "book"
    subprocess.run(["cp", "-a", str(built), str(root)], check=True)
    make_book(root, "NEWMARK")
    # step 4: the new PDF and the new EPUB are in place, the old web edition set aside, the new one not yet moved
    killed = cli("all", "--book", str(root), env={TEST_KILL_ENV: "4"})
    assert killed.returncode == -signal.SIGKILL
    assert (root / "build" / JOURNAL).exists() and not (root / "build" / "html").exists()
    result = cli("check", "--book", str(root))
    assert result.returncode == 0, result.stderr
    assert editions(root) == {"pdf": "NEWMARK", "epub": "NEWMARK", "html": "NEWMARK"}
    assert not any(p.name.startswith(".staging") for p in (root / "build").iterdir())
    # killed again right after the journal was written: the next build completes it, then builds
    make_book(root, "OLDMARK")
    killed = cli("epub", "--book", str(root), env={TEST_KILL_ENV: "1"})
    assert killed.returncode == -signal.SIGKILL
    result = cli("html", "--book", str(root))
    assert result.returncode == 0, result.stderr
    assert "completed the publication" in result.stderr
    assert editions(root) == {"pdf": "NEWMARK", "epub": "OLDMARK", "html": "OLDMARK"}
    assert sorted(p.name for p in (root / "build").iterdir()) == \
        sorted([".cache", "html", f"{SLUG}.epub", f"{SLUG}.pdf"])


def test_a_folder_set_aside_by_an_older_build_is_put_back(built, tmp_path):
    root = tmp_path / "book"
    subprocess.run(["cp", "-a", str(built), str(root)], check=True)
    os.replace(root / "build" / "html", root / "build" / ".html.old")
    result = cli("check", "--book", str(root))
    assert result.returncode == 0, result.stderr
    assert editions(root)["html"] == "OLDMARK"


# --- two builds at once ------------------------------------------------------------------------------

def test_two_builds_of_one_book_at_once_wait_for_each_other(built, tmp_path):
    root = tmp_path / "book"
    subprocess.run(["cp", "-a", str(built), str(root)], check=True)
    make_book(root, "NEWMARK")
    command = [sys.executable, "-m", "build_book", "all", "--book", str(root)]
    runs = [subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    results = [(run.wait(timeout=300), *run.communicate()) for run in runs]
    for code, _, err in results:
        assert code == 0, err
        assert_no_traceback(subprocess.CompletedProcess([], code, "", err))
    assert any("another build of this book is running; waiting" in err for _, _, err in results)
    assert editions(root) == {"pdf": "NEWMARK", "epub": "NEWMARK", "html": "NEWMARK"}
    assert not any(p.name.startswith((".staging", JOURNAL)) for p in (root / "build").iterdir())


# --- an unwritable build folder ----------------------------------------------------------------------

def test_an_unwritable_build_folder_is_a_plain_error(tmp_path):
    root = make_book(tmp_path / "book")
    (root / "build").write_text("not a folder")
    result = cli("html", "--book", str(root))
    assert result.returncode == 1, result.stderr
    assert_no_traceback(result)
    assert "error[build-unwritable]" in result.stderr and str(root / "build") in result.stderr
    assert "it is a file, not a folder" in result.stderr
    (root / "build").unlink()
    if os.geteuid() == 0:
        pytest.skip("running as root: chmod does not stop root writing (the file case above was checked)")
    os.chmod(root, 0o555)
    try:
        result = cli("html", "--book", str(root))
    finally:
        os.chmod(root, 0o755)
    assert result.returncode == 1, result.stderr
    assert_no_traceback(result)
    assert "error[build-unwritable]" in result.stderr and "Permission denied" in result.stderr


# --- damaged caches ----------------------------------------------------------------------------------

def test_corrupted_truncated_and_swapped_caches_are_rebuilt(built, tmp_path):
    root = tmp_path / "book"
    subprocess.run(["cp", "-a", str(built), str(root)], check=True)
    cache = root / "build" / ".cache"
    entries = sorted((cache / "ast").glob("*.json"))
    assert len(entries) == 2
    one, two = [e.read_bytes() for e in entries]
    # swapped: each chapter's entry holds the other's document (valid, checksummed, the wrong source)
    entries[0].write_bytes(two)
    entries[1].write_bytes(one)
    result = cli("check", "--book", str(root))
    assert result.returncode == 0, result.stderr
    assert sorted(e.read_bytes() for e in entries) == sorted([one, two])
    assert entries[0].read_bytes() == one and entries[1].read_bytes() == two
    # corrupted (a byte changed inside the document), truncated, and valid JSON that is no document
    entries[0].write_bytes(one.replace(b"First", b"Fxrst"))
    entries[1].write_bytes(two[: len(two) // 2])
    result = cli("check", "--book", str(root))
    assert result.returncode == 0, result.stderr
    assert [e.read_bytes() for e in entries] == [one, two]
    entries[0].write_text("{}")
    entries[1].write_text('{"pandoc-api-version": [1], "blocks": [{"t": "Nonsense"}]}')
    # the bibliography's stamp: emptied (as older versions wrote it) or holding another file's digest
    stamps = list(cache.glob("bib-ok-*"))
    assert len(stamps) == 1
    stamp_text = stamps[0].read_text()
    stamps[0].write_text("")
    # the font subsets: one truncated, one whose file comes from the other
    fonts = sorted(f for f in (cache / "fonts").glob("ja-*") if f.suffix in (".woff2", ".otf"))
    assert sorted(f.suffix for f in fonts) == [".otf", ".woff2"]     # the EPUB's and the web edition's
    woff = next(f for f in fonts if f.suffix == ".woff2")
    otf = next(f for f in fonts if f.suffix == ".otf")
    good_woff, good_otf = woff.read_bytes(), otf.read_bytes()
    woff.write_bytes(good_woff[:100])
    otf.write_bytes(good_woff)
    make_book(root, "NEWMARK")
    (root / "chapters" / "one.md").write_text(chapter("First Chapter", "sec-one", "OLDMARK"), encoding="utf-8")
    (root / "chapters" / "two.md").write_text(chapter("Second Chapter", "sec-two", "OLDMARK"), encoding="utf-8")
    result = cli("all", "--book", str(root))
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)
    assert "error" not in result.stderr
    assert [e.read_bytes() for e in entries] == [one, two]
    assert stamps[0].read_text() == stamp_text
    # cut again (fontTools stamps the time into a font, so compare what the fonts hold, not their bytes)
    assert cmap(woff.read_bytes()) == cmap(good_woff) and cmap(otf.read_bytes()) == cmap(good_otf)
    shipped = list((root / "build" / "html").rglob("japanese.woff2"))
    assert len(shipped) == 1 and shipped[0].read_bytes() == woff.read_bytes()
    with zipfile.ZipFile(root / "build" / f"{SLUG}.epub") as z:
        assert [z.read(n) for n in z.namelist() if n.endswith(".otf")] == [otf.read_bytes()]
    assert editions(root) == {"pdf": "OLDMARK", "epub": "OLDMARK", "html": "OLDMARK"}
    html = "".join(
        p.read_text(encoding="utf-8") for p in (root / "build" / "html").glob("*.html"))
    assert "First Chapter" in html and "Second Chapter" in html


def cmap(data: bytes) -> dict:
    import io

    from fontTools.ttLib import TTFont
    return TTFont(io.BytesIO(data)).getBestCmap()


def test_a_swapped_stamp_does_not_hide_a_bibliography_pandoc_cannot_read(tmp_path):
    root = make_book(tmp_path / "book")
    assert cli("check", "--book", str(root)).returncode == 0
    stamp = next((root / "build" / ".cache").glob("bib-ok-*"))
    # an entry bibtexparser reads but pandoc does not: plain quotes inside a quoted title
    bad = BIB + '@misc{x2000,\n  title = "A "quoted" word",\n  year = {2000},\n}\n'
    (root / "refs.bib").write_text(bad, encoding="utf-8")
    import hashlib
    digest = hashlib.sha256(pandoc.version().encode() + b"\0" + bad.encode()).hexdigest()
    (stamp.parent / f"bib-ok-{digest[:24]}").write_text(stamp.read_text())  # another file's stamp
    result = cli("check", "--book", str(root))
    assert result.returncode == 1
    assert "refs.bib:" in result.stdout and "[bib-syntax]" in result.stdout, result.stdout


# --- pandoc bounded ----------------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(entry.name))
    return kids


def _cmdline(pid: int) -> bytes:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie is dead, waiting to be reaped


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_pandoc_dies_with_a_killed_build(tmp_path):
    root = make_book(tmp_path / "book")
    # a long chapter keeps pandoc busy for several seconds
    (root / "chapters" / "two.md").write_text("# Long {#sec-two}\n\n" + "word " * 2_000_000, encoding="utf-8")
    build = subprocess.Popen([sys.executable, "-m", "build_book", "check", "--book", str(root)], cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        pandocs: list[int] = []
        while time.time() < deadline and not pandocs:  # the pandoc reading the chapters, not a quick one
            pandocs = [k for k in _children(build.pid) if b"pandoc" in _cmdline(k) and b"json" in _cmdline(k)]
            time.sleep(0.5)
            pandocs = [p for p in pandocs if _alive(p)]
        assert pandocs, "pandoc never started"
        build.send_signal(signal.SIGKILL)
        build.wait()
        deadline = time.time() + 5
        while time.time() < deadline and any(_alive(p) for p in pandocs):
            time.sleep(0.05)
        assert not any(_alive(p) for p in pandocs), "pandoc outlived the build"
    finally:
        if build.poll() is None:
            build.kill()


def test_a_pandoc_timeout_is_a_located_diagnostic(tmp_path):
    root = make_book(tmp_path / "book")
    for command in ("check", "html"):
        result = cli(command, "--book", str(root), env={pandoc.TIMEOUT_ENV: "0.001"})
        assert result.returncode == 1, result.stderr
        assert_no_traceback(result)
        text = result.stdout + result.stderr
        for path in ("chapters/one.md", "chapters/two.md", "refs.bib"):
            assert f"{path}:1:1: error[pandoc-timeout]: pandoc took longer than 0.001 seconds" in text, text
        assert "error[pandoc]" not in text and "bib-syntax" not in text
    assert not (root / "build" / "html").exists()
    # the same book, given time, builds
    assert cli("html", "--book", str(root)).returncode == 0


def test_pandoc_runs_with_a_memory_limit(monkeypatch):
    monkeypatch.setenv(pandoc.MEMORY_ENV, "70m")
    with pytest.raises(pandoc.PandocError, match="more memory than its limit of 70m"):
        pandoc.read_markdown("# T\n\n" + "word " * 2_000_000)
    monkeypatch.setenv(pandoc.MEMORY_ENV, "0")
    assert pandoc.read_markdown("# T {#sec-t}\n")["blocks"][0]["t"] == "Header"
