"""Incremental builds: after each kind of change, what a build reusing the caches writes is exactly what
a clean build of the changed book writes; damaged cache entries are made again; --jobs changes nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from build_book import cache as cachefile

from .conftest import BOOKS, REPO

SLUG = "alliances-in-miniature"
ENV = {**os.environ, "SOURCE_DATE_EPOCH": "1600000000"}   # the EPUB's modification date, fixed


def cli(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "build_book", *args], cwd=REPO, capture_output=True,
                            text=True, timeout=600, env=ENV)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def html_pages(root: Path) -> dict[str, str]:
    folder = root / "build" / "html"
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.html"))}


def epub_files(root: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(root / "build" / f"{SLUG}.epub") as z:
        return {name: z.read(name) for name in z.namelist() if not name.endswith((".otf", ".woff"))}


def same_as_clean(root: Path, tmp_path: Path, name: str, editions=("html",)) -> None:
    """Build ``root`` (with its caches) and a copy without them; the outputs must be identical."""
    clean = tmp_path / name
    shutil.copytree(root, clean, ignore=shutil.ignore_patterns("build"))
    for edition in editions:
        cli(edition, "--book", str(root))
        cli(edition, "--book", str(clean))
    pages = html_pages(root)
    assert pages == html_pages(clean)
    assert {"index.html", "bibliography.html", "origins.html", "cases.html"} <= set(pages)
    if "epub" in editions:
        assert epub_files(root) == epub_files(clean)


def entries(root: Path, stage: str) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (root / "build" / ".cache" / stage).iterdir()}


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("incremental") / "mini"
    shutil.copytree(BOOKS / "mini", root, ignore=shutil.ignore_patterns("build"))
    cli("html", "--book", str(root))
    cli("epub", "--book", str(root))
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_an_edit_redoes_only_its_chapter(book, tmp_path):
    before = entries(book, "chapters")
    assert len(before) == 4
    edit(book / "chapters" / "02-cases.md", "Japanese scholarship", "Japanese and Korean scholarship")
    same_as_clean(book, tmp_path, "edit", ("html", "epub"))
    after = entries(book, "chapters")
    assert len(after) == 4 and len(set(after) - set(before)) == 1    # one chapter again; the old entry pruned
    assert all(after[name] == stamp for name, stamp in before.items() if name in after)
    assert "Japanese and Korean scholarship" in html_pages(book)["cases.html"]


def test_a_renumbering_edit(book, tmp_path):
    # a figure before fig-map: fig-map becomes Figure 1.2 in its chapter and where chapter 2 refers to it
    edit(book / "chapters" / "01-origins.md", "## Balancing and Bandwagoning",
         "![An earlier map.](figures/map.svg){#fig-earlier}\n\n## Balancing and Bandwagoning")
    same_as_clean(book, tmp_path, "renumber", ("html", "epub"))
    pages = html_pages(book)
    assert "Figure\u00a01.2" in pages["cases.html"] and "Figure 1.2" in pages["index.html"]   # (a reference; the list)


def test_a_changed_bibliography_entry(book, tmp_path):
    edit(book / "bibliography" / "refs.bib", "title = {The Origins of Alliances}",
         "title = {The Origins of Alliances, Revised}")
    same_as_clean(book, tmp_path, "bib", ("html", "epub"))
    assert "Origins of Alliances, Revised" in html_pages(book)["bibliography.html"]


def test_a_changed_book_yml(book, tmp_path):
    # the subtitle is on the contents page; page references change every chapter's cross-references
    edit(book / "book.yml", "subtitle: A Test Volume", "subtitle: A Tested Volume")
    edit(book / "book.yml", "page-references: true", "page-references: false")
    same_as_clean(book, tmp_path, "config", ("html", "epub"))
    assert "A Tested Volume" in html_pages(book)["index.html"]


def test_a_template_override(book, tmp_path):
    template = book / "templates" / "html" / "chapter.html.j2"
    template.parent.mkdir(parents=True)
    text = (REPO / "templates" / "html" / "chapter.html.j2").read_text(encoding="utf-8")
    template.write_text(text.replace("{{ view.body_html }}", "<p>OVERRIDDEN</p>\n{{ view.body_html }}"),
                        encoding="utf-8")
    same_as_clean(book, tmp_path, "template")
    assert "OVERRIDDEN" in html_pages(book)["cases.html"]


def test_damaged_cache_entries_are_made_again(book, tmp_path):
    cli("html", "--book", str(book))
    cli("epub", "--book", str(book))
    good_pages, good_epub = html_pages(book), epub_files(book)
    cache = book / "build" / ".cache"
    damaged = {}
    for stage, how in (("chapters", "truncate"), ("fragments-end-notes", "corrupt"), ("xhtml", "truncate"),
                       ("references", "corrupt"), ("ast", "truncate"), ("ast-facts", "corrupt"),
                       ("chapter-facts", "truncate"),
                       ("bib-read", "truncate"), ("bib-checks", "corrupt"), ("bib-printing", "truncate"),
                       ("scan", "corrupt"), ("checks/sanitize", "truncate")):
        entry = sorted((cache / stage).iterdir())[0]
        data = entry.read_bytes()
        damaged[entry] = data
        entry.write_bytes(data[: len(data) // 2] if how == "truncate" else data.replace(b"a", b"e", 3))
    (book / "chapters" / "00-preface.md").touch()   # something changed: the build looks at its caches
    cli("html", "--book", str(book))
    cli("epub", "--book", str(book))
    assert html_pages(book) == good_pages
    assert epub_files(book) == good_epub
    for entry, data in damaged.items():
        # pandoc's text of one file read alone may differ in layout only; and so may a chapter's blocks
        # formatted alone (transform._finished's JSON) or with others in one citeproc run (pandoc's JSON, as it wrote it)
        if entry.parent.name in ("ast", "chapters"):
            header, _, body = entry.read_bytes().partition(b"\n")
            fmt, key = header.decode("ascii").rsplit(" ", 1)[0].rsplit(" ", 1)
            assert header.rsplit(b" ", 1)[0] == data.partition(b"\n")[0].rsplit(b" ", 1)[0]
            assert cachefile.get(entry.parent, key, fmt) == body      # a sound entry, made again
            assert json.loads(body) == json.loads(data.partition(b"\n")[2]), entry
        else:
            assert entry.read_bytes() == data, entry


def test_jobs_do_not_change_the_outputs(book, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    shutil.copytree(book, one, ignore=shutil.ignore_patterns("build"))
    shutil.copytree(book, two, ignore=shutil.ignore_patterns("build"))
    for root, jobs in ((one, "1"), (two, "2")):
        cli("html", "--book", str(root), "--jobs", jobs)
        cli("epub", "--book", str(root), "--jobs", jobs)
    assert html_pages(one) == html_pages(two)
    assert epub_files(one) == epub_files(two)


def test_nothing_changed_reuses_the_outputs_and_reprints_warnings(book, tmp_path):
    first = cli("html", "--book", str(book))
    again = cli("html", "--book", str(book))
    assert "nothing has changed" in again.stderr
    assert [l for l in again.stderr.splitlines() if "warning[" in l] == \
        [l for l in first.stderr.splitlines() if "warning[" in l]
    (book / "build" / "html" / "index.html").write_text("damaged", encoding="utf-8")
    rebuilt = cli("html", "--book", str(book))
    assert "nothing has changed" not in rebuilt.stderr
    assert "Alliances" in (book / "build" / "html" / "index.html").read_text(encoding="utf-8")


def test_the_build_after_a_cold_build_reuses_its_outputs(tmp_path):
    """The first build fills the parse cache; the next one, with nothing changed, finds it as the first
    left it. A damaged parse cache entry makes the next build do the work again."""
    root = tmp_path / "mini"
    shutil.copytree(BOOKS / "mini", root, ignore=shutil.ignore_patterns("build"))
    cli("html", "--book", str(root))
    assert "nothing has changed" in cli("html", "--book", str(root)).stderr
    entry = next(p for p in (root / "build" / ".cache" / "ast").iterdir() if p.is_file())
    entry.write_bytes(entry.read_bytes()[:10])
    assert "nothing has changed" not in cli("html", "--book", str(root)).stderr
    assert "nothing has changed" in cli("html", "--book", str(root)).stderr


def test_the_code_digest_covers_the_lua_filters_as_well_as_the_python(tmp_path):
    """A changed Lua filter (pandoc runs build_book's own) changes the key of every stage, as changed
    Python does; other files do not."""
    (tmp_path / "render").mkdir()
    (tmp_path / "render" / "a.py").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "html_of.lua").write_text("return {}\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("a\n", encoding="utf-8")
    first = cachefile.code_digest(tmp_path)
    (tmp_path / "notes.txt").write_text("b\n", encoding="utf-8")
    assert cachefile.code_digest(tmp_path) == first
    (tmp_path / "html_of.lua").write_text("return {{}}\n", encoding="utf-8")
    second = cachefile.code_digest(tmp_path)
    assert second != first
    (tmp_path / "render" / "a.py").write_text("x = 2\n", encoding="utf-8")
    assert cachefile.code_digest(tmp_path) not in (first, second)
    package = Path(cachefile.__file__).parent
    assert sorted(p.name for p in package.glob("*.lua")), "build_book ships its Lua filters beside its code"
    assert cachefile.code_digest(package) in cachefile.version_key()


def diagnostics(root: Path) -> str:
    result = subprocess.run([sys.executable, "-m", "build_book", "check", "--book", str(root), "--format", "json"],
                            cwd=REPO, capture_output=True, text=True, timeout=600, env=ENV)
    assert "Traceback" not in result.stderr
    return result.stdout


def test_check_after_an_edit_checks_that_chapter_again_and_reports_as_a_clean_check(tmp_path):
    """The chapter-by-chapter checks are cached by chapter: after an edit only the edited chapter is checked
    again, and what check reports (the book-wide checks included) is what a check without caches reports."""
    root = tmp_path / "hostile-html"
    shutil.copytree(BOOKS / "hostile-html", root, ignore=shutil.ignore_patterns("build"))
    first = diagnostics(root)
    assert '"html-removed"' in first
    cached = entries(root, "checks/sanitize")
    assert len(cached) == 2
    # an edit that removes one problem and adds another, and a reference to a label no chapter defines
    path = root / "chapters" / "02-images.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n\n<p onclick=\"x()\">Clicked.</p> See @sec-nowhere.\n",
                    encoding="utf-8")
    edited = diagnostics(root)
    after = entries(root, "checks/sanitize")
    assert len(after) == 2 and len(set(after) - set(cached)) == 1   # the edited chapter's, the old one pruned
    assert all(after[name] == stamp for name, stamp in cached.items() if name in after)
    clean = tmp_path / "clean"
    shutil.copytree(root, clean, ignore=shutil.ignore_patterns("build"))
    assert edited == diagnostics(clean)
    assert edited != first and '"xref-unknown"' in edited and edited.count("02-images.md") > \
        first.count("02-images.md")


def test_book_wide_checks_stay_right_after_an_edit(tmp_path):
    """A chapter's cached findings hold only what depends on the chapter alone: a label defined again in
    another chapter, and a work no longer cited anywhere, are found as a clean check finds them."""
    root = tmp_path / "mini"
    shutil.copytree(BOOKS / "mini", root, ignore=shutil.ignore_patterns("build"))
    first = diagnostics(root)
    assert '"label-duplicate"' not in first
    edit(root / "chapters" / "a1-data.md", "# Data on Alliances[^src] {#sec-appendix-data}",
         "# Data on Alliances[^src] {#sec-appendix-data}\n\n## Balance again {#sec-origins-balance}")
    edited = diagnostics(root)
    clean = tmp_path / "clean"
    shutil.copytree(root, clean, ignore=shutil.ignore_patterns("build"))
    assert edited == diagnostics(clean)
    assert edited.count('"label-duplicate"') == 2


def test_check_after_an_edit_reads_it_by_the_pandoc_started_first(tmp_path, monkeypatch, capsys):
    """The command line starts pandoc on an edited chapter before it loads the book (early.py); the check
    takes that run's document only if it read exactly the text the loader hands pandoc."""
    from build_book import cli as command, pandoc

    root = tmp_path / "mini"
    shutil.copytree(BOOKS / "mini", root, ignore=shutil.ignore_patterns("build"))
    diagnostics(root)
    reads = []
    real = pandoc._start

    def counted(args, binary=None, **options):
        if args == pandoc.READ_ARGS:
            reads.append("ahead" if binary is not None else "now")
        return real(args, binary, **options)

    monkeypatch.setattr(pandoc, "_start", counted)
    clean = tmp_path / "clean"
    for change, expected in (("Japanese and Korean scholarship", ["ahead"]),
                             # CriticMarkup is read before pandoc: the guess is wrong, the chapter read again
                             ("Japanese and {++South++} Korean scholarship", ["ahead", "now"])):
        edit(root / "chapters" / "02-cases.md", "Japanese scholarship", change)
        reads.clear()
        assert command.main(["check", "--book", str(root), "--format", "json", "--quiet"]) == 0
        assert reads == expected
        assert not pandoc._ahead
        shutil.rmtree(clean, ignore_errors=True)
        shutil.copytree(root, clean, ignore=shutil.ignore_patterns("build"))
        assert capsys.readouterr().out == diagnostics(clean)
        edit(root / "chapters" / "02-cases.md", change, "Japanese scholarship")
    # a chapter that has become a link out of the book is not read, not even ahead
    chapter = root / "chapters" / "02-cases.md"
    outside = tmp_path / "outside.md"
    outside.write_text(chapter.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
    chapter.unlink()
    chapter.symlink_to(outside)
    reads.clear()
    assert command.main(["check", "--book", str(root), "--format", "json", "--quiet"]) == 1
    assert "ahead" not in reads and '"path-outside-book"' in capsys.readouterr().out


def test_a_planted_record_runs_no_other_program(tmp_path, monkeypatch, capsys):
    """The record early.py starts pandoc from lives in the book's build/, which its author controls (a
    pushed change can commit it): a record naming any program but a pandoc this process could choose
    itself is not run, and the check is that of a clean copy."""
    from build_book import cli as command, early

    root = tmp_path / "mini"
    shutil.copytree(BOOKS / "mini", root, ignore=shutil.ignore_patterns("build"))
    diagnostics(root)
    cache = root / "build" / ".cache"
    found = early.last_record(cache)
    assert found["pandoc"] and found["stamps"]      # the record a check leaves
    marker = tmp_path / "ran"
    script = root / "chapters" / "evil.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\ncat >/dev/null\n", encoding="utf-8")
    script.chmod(0o755)
    early.record(cache, {**found, "pandoc": str(script)})
    edit(root / "chapters" / "02-cases.md", "Japanese scholarship", "Japanese and Korean scholarship")
    assert command.main(["check", "--book", str(root), "--format", "json", "--quiet"]) == 0
    assert not marker.exists()
    clean = tmp_path / "clean"
    shutil.copytree(root, clean, ignore=shutil.ignore_patterns("build"))
    assert capsys.readouterr().out == diagnostics(clean)


def test_an_edit_that_keeps_its_citations_takes_them_from_the_last_build(tmp_path, monkeypatch):
    """With a style whose citations read the same wherever they stand, a chapter edited without a change to
    its citations is not given to citeproc again: each citation's text is taken from the chapter as the last
    build prepared it. A changed locator or prefix is formatted by citeproc. Either way the pages are those
    of a clean build (Japanese beside a citation marked as a clean build marks it)."""
    from build_book import cli as command, pandoc

    root = tmp_path / "mini"
    shutil.copytree(BOOKS / "mini", root, ignore=shutil.ignore_patterns("build"))
    cli("html", "--book", str(root))
    runs: list[str] = []
    for name in ("citeproc", "citeproc_html", "citeproc_html_many", "write_html_blocks"):
        def counted(*args, _real=getattr(pandoc, name), _name=name, **options):
            runs.append(_name)
            return _real(*args, **options)
        monkeypatch.setattr(pandoc, name, counted)
    chapter = root / "chapters" / "01-origins.md"
    clean = tmp_path / "clean"
    # (edit, is it formatted by citeproc, is the chapter's HTML written whole): an edit within one paragraph
    # (footnotes kept), or a paragraph without footnotes added, has only its own HTML written, into the last
    # build's (_patched_html); a paragraph with a footnote added makes the chapter's HTML written whole
    for old, new, formatted, whole in (("alliance security dilemma", "alliance security dilemmas", False, False),
                                       ("States ally to balance", "States (同盟) ally to balance", False, False),
                                       ("autonomy for security", "autonomy for safety", False, False),
                                       ("Asymmetric alliances trade", "A new paragraph.\n\nAsymmetric alliances trade",
                                        False, False),
                                       ("A new paragraph.",
                                        "A new paragraph with a note.[^new]\n\n[^new]: Its note.\n\nAnd another.",
                                        True, True),   # (the later citations' note numbers change)
                                       # (citeproc writes HTML too, but of its blocks before the Japanese is marked)
                                       ("[@walt1987, 5]", "[@walt1987, 6]", True, True),
                                       ("[see @morrow1991]", "[compare @morrow1991]", True, True),
                                       ("alliance security dilemmas", "alliance dilemmas", False, False)):
        edit(chapter, old, new)
        runs.clear()
        assert command.main(["html", "--book", str(root), "--quiet"]) == 0
        assert any(run.startswith("citeproc") for run in runs) == formatted, (new, runs)
        assert ("write_html_blocks" in runs) == whole, (new, runs)
        shutil.rmtree(clean, ignore_errors=True)
        shutil.copytree(root, clean, ignore=shutil.ignore_patterns("build"))
        cli("html", "--book", str(clean))
        assert html_pages(root) == html_pages(clean), new
    page = html_pages(root)["origins.html"]
    assert "compare" in page and "同盟" in page and "autonomy for safety" in page and "Its note." in page
