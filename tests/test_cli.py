"""The command line as a user meets it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from build_book.cli import COMMANDS
from build_book.codes import CATALOGUE

from .conftest import REPO, copy_book, run_cli
from .test_setup import checkout  # noqa: F401  (fixture: a set-up copy of the scripts, for scripts/book)


def cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """``python -m build_book`` in ``cwd`` with this checkout's package and a controlled environment."""
    environ = {k: v for k, v in os.environ.items() if k not in ("BUILD_BOOK_PROG", "BUILD_BOOK_DEBUG")}
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "build_book", *args], cwd=cwd, env={**environ, **env},
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    """A copy of the mini book for the runs below that only check it or build its HTML edition."""
    return copy_book("mini", tmp_path_factory)


def test_help_explains_every_command(tmp_path):
    result = cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m build_book ")
    for word in (*COMMANDS, "exit status", "book.yml", "diagnostics:", "BUILD_BOOK_DEBUG"):
        assert word in result.stdout, word
    check = cli("check", "--help", cwd=tmp_path)
    for option in ("--format", "--strict", "--book", "-q"):
        assert option in check.stdout
    for command in COMMANDS:                                   # every command takes -q
        assert "-q, --quiet" in cli(command, "--help", cwd=tmp_path).stdout, command
    # pdf --help explains the layout in pieces and its limits, by the names the code reads
    from build_book.render import limits, pdf
    explained = " ".join(cli("pdf", "--help", cwd=tmp_path).stdout.split())
    for name in (pdf.PIECES_ENV, limits.TIMEOUT_ENV, limits.MEMORY_ENV, "templates/pdf/", "build/.cache/"):
        assert name in explained, name
    assert f"(default {limits.BASE_SECONDS:g}, and 1 more for every 10 pages expected)" in explained
    assert limits.default_timeout(100) == limits.BASE_SECONDS + 10
    assert f"(default {limits.DEFAULT_MEMORY // 2**30}G)" in explained


def test_no_arguments_lists_the_commands(tmp_path):
    result = cli(cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""      # argparse's convention for wrong usage
    assert result.stderr.startswith("usage: python -m build_book ")
    for command, what in COMMANDS.items():
        assert command in result.stderr and what.split()[0] in result.stderr
    assert "error:" not in result.stderr


def test_usage_errors_exit_2(tmp_path):
    assert run_cli("publish").returncode == 2
    assert run_cli("check", "--format", "xml").returncode == 2
    missing = run_cli("check", "--book", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "no such folder" in missing.stderr
    (tmp_path / "notes.md").write_text("# Notes\n", encoding="utf-8")
    other = cli("check", "--book", "notes.md", cwd=tmp_path)
    assert other.returncode == 2 and "--book notes.md: expected a book's folder or its book.yml" in other.stderr
    for jobs in ("0", "100000", "many"):    # more than a system gives threads for was a crash (exit 3)
        wrong = run_cli("check", "--jobs", jobs, "--book", str(tmp_path))
        assert wrong.returncode == 2 and "expected a whole number from 1 to 256" in wrong.stderr, wrong.stderr


def test_no_book_yml_is_a_plain_message(tmp_path):
    for command in ("check", "all"):
        result = cli(command, cwd=tmp_path)
        assert result.returncode == 1
        assert result.stderr.startswith(f"python -m build_book: no book.yml here or in any folder above: {tmp_path}")
        assert "--book PATH" in result.stderr                   # what to do
        assert "config-missing" not in result.stdout + result.stderr
        assert "previous outputs" not in result.stderr and "Traceback" not in result.stderr
    named = cli("check", "--book", str(tmp_path), cwd=REPO)
    assert named.returncode == 1 and f"no book.yml in {tmp_path} or in any folder above" in named.stderr


def test_runs_from_inside_the_book(book):
    inside = cli("check", cwd=book / "chapters" / "figures")
    assert inside.returncode == 0, inside.stderr
    assert f"checking the book in {book}" in inside.stderr    # says which book it found
    built = cli("html", cwd=book / "chapters")
    assert built.returncode == 0, built.stderr
    assert f"reading the book in {book}" in built.stderr
    assert built.stdout.splitlines() == [str(book / "build" / "html" / "index.html")]   # outside the cwd: absolute


def test_book_accepts_the_book_yml(book, tmp_path):
    result = cli("check", "-q", "--book", str(book / "book.yml"), cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == ""    # -q: only problems
    relative = cli("check", "--format", "json", "--book", "book.yml", cwd=book)
    assert relative.returncode == 0 and relative.stdout.strip() == "[]"


def test_a_build_says_what_to_open_once(book):
    result = cli("html", cwd=book)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "build/html/index.html\n"         # inside the cwd: relative; machine-friendly
    assert result.stderr.rstrip().endswith("done: 1 edition in build/; open:")
    assert (book / result.stdout.strip()).is_file()
    quiet = cli("html", "-q", cwd=book)
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == result.stdout


def test_usage_shows_the_command_as_typed(tmp_path, checkout):  # noqa: F811
    (checkout.parent / "fonts.txt").write_text("Linux Libertine O\nNoto Serif CJK JP\n")
    env = {"PATH": f"{checkout.parent / 'shims'}:/usr/bin:/bin", "HOME": str(tmp_path), "LOG": "/dev/null",
           "FONTS_FILE": str(checkout.parent / "fonts.txt"), "PYTHONPATH": str(REPO)}
    script = (REPO / "scripts" / "book").read_text(encoding="utf-8")
    (checkout / "scripts" / "book").write_text(script, encoding="utf-8")
    (checkout / "scripts" / "book").chmod(0o755)
    through = subprocess.run(["scripts/book", "check", "--help"], cwd=checkout, env=env,
                             capture_output=True, text=True, timeout=60)
    assert through.returncode == 0, through.stderr
    assert through.stdout.startswith("usage: scripts/book check ")
    assert "scripts/book check --strict" in through.stdout and "python -m build_book" not in through.stdout
    bare = subprocess.run(["scripts/book"], cwd=checkout, env=env, capture_output=True, text=True, timeout=60)
    assert bare.returncode == 2 and bare.stderr.startswith("usage: scripts/book [-h] COMMAND")
    wrong = cli("publish", cwd=tmp_path, BUILD_BOOK_PROG="book")
    assert wrong.returncode == 2 and "usage: book " in wrong.stderr and "book: error: argument COMMAND" in wrong.stderr


def test_codes_lists_the_catalogue(tmp_path):
    result = cli("codes", cwd=tmp_path)                        # needs no book
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(CATALOGUE)
    assert "diagnostics:" in result.stderr
    quiet = cli("codes", "-q", cwd=tmp_path)
    assert quiet.stdout == result.stdout and quiet.stderr == ""


def test_yaml_syntax_error_in_book_yml(tmp_path):
    (tmp_path / "book.yml").write_text("title: A\nchapters: [a.md\n", encoding="utf-8")
    result = run_cli("check", "--book", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout.startswith("book.yml:3:1: error[config-yaml]: YAML syntax error")


def test_build_shows_progress_and_prints_outputs(mini):
    assert "rendering the PDF edition" in mini.stderr
    assert "pieces of the PDF (WeasyPrint" in mini.stderr and "joining" in mini.stderr   # laid out in pieces
    # each piece as it is laid out: the chapters by their files, counted up to all of a pass's
    laid = re.findall(r"laid out (.+?): (\d+) pages? \((\d+) of (\d+)\)", mini.stderr)
    passes = mini.stderr.count("pieces of the PDF (WeasyPrint")
    counts = [(int(k), int(n)) for _, _, k, n in laid]
    assert [k for k, _ in counts].count(1) == passes and all(k <= n for k, n in counts)
    assert all(b == (a[0] + 1, a[1]) for a, b in zip(counts, counts[1:]) if b[0] != 1)
    names = [name for name, *_ in laid]
    for chapter in ("01-origins", "02-cases", "a1-data"):      # (the preface is in the front matter)
        assert f"chapters/{chapter}.md" in names
    assert "the front matter" in names and "the bibliography" in names
    assert "the title page of part 'Foundations'" in names and all(int(pages) > 0 for _, pages, _, _ in laid)
    index = mini.html / "index.html"
    assert mini.stdout.splitlines() == [str(mini.pdf), str(mini.epub), str(index)]   # book outside the cwd
    assert mini.stderr.rstrip().endswith(f"done: 3 editions in {mini.root / 'build'}{os.sep}; open:")
    for path in (mini.pdf, mini.epub, index):
        assert (mini.stdout + mini.stderr).count(str(path)) == 1


def test_csl_picks_another_citation_style(tmp_path_factory):
    from .conftest import copy_book
    from .xmlcheck import text_of

    root = copy_book("mini", tmp_path_factory)
    yml = root / "book.yml"
    yml.write_text(yml.read_text(encoding="utf-8").replace("page-references: true", "csl: apa"), encoding="utf-8")
    result = run_cli("html", "--book", str(root), "-q")
    assert result.returncode == 0, result.stderr
    page = text_of((root / "build" / "html" / "origins.html").read_text(encoding="utf-8"))
    assert "(Walt, 1987, p. 5)" in page                      # APA, not Chicago's "1987, 5)"
    yml.write_text(yml.read_text(encoding="utf-8").replace("csl: apa", "csl: chicago-author-dat"), encoding="utf-8")
    bad = run_cli("check", "--book", str(root))
    assert bad.returncode == 1
    assert "error[csl-unknown]: unknown citation style 'chicago-author-dat'" in bad.stdout
    assert "did you mean 'chicago-author-date'" in bad.stdout


@pytest.mark.parametrize("command", ["pdf", "check"])
def test_an_internal_fault_is_reported_without_a_traceback(monkeypatch, capsys, mini, command):
    from build_book import build, cli as cli_module

    def broken(*args, **kwargs):
        raise RuntimeError("WeasyPrint exploded")

    monkeypatch.delenv("BUILD_BOOK_DEBUG", raising=False)
    monkeypatch.setattr(build, command if command == "check" else "build", broken)
    assert cli_module.main([command, "--book", str(mini.root), "-q"]) == 3
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: WeasyPrint exploded" in err and "Traceback" not in err
    if command == "check":                                     # check writes no outputs: says nothing of them
        assert "check stopped. This is a bug in build_book" in err
    else:
        assert "build stopped; the previous outputs in build/ are unchanged" in err
    assert "BUILD_BOOK_DEBUG=1" in err
    monkeypatch.setenv("BUILD_BOOK_DEBUG", "1")                 # the traceback, for a bug report
    with pytest.raises(RuntimeError, match="WeasyPrint exploded"):
        cli_module.main([command, "--book", str(mini.root), "-q"])


def test_a_failed_build_mentions_previous_outputs_only_if_there_are_some(tmp_path_factory):
    root = copy_book("mini", tmp_path_factory)
    yml = root / "book.yml"
    yml.write_text(yml.read_text(encoding="utf-8").replace("page-references: true", "page-references: maybe"),
                   encoding="utf-8")
    result = cli("html", "-q", cwd=root)
    assert result.returncode == 1 and "error[" in result.stderr
    assert result.stderr.rstrip().endswith("build stopped: nothing was written")


def test_readme_lists_the_commands_and_options_the_code_has(tmp_path):
    import re

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Two commands"):readme.index("## Writing a chapter")]
    assert re.findall(r"^\| `([a-z]+)` \|", section, re.M) == list(COMMANDS)
    usage = re.findall(r"^scripts/book ([a-z|]+) (\[.*)$", section, re.M)
    assert sorted(c for names, _ in usage for c in names.split("|")) == sorted(COMMANDS)
    for names, options in usage:
        for command in names.split("|"):
            helped = cli(command, "--help", cwd=tmp_path).stdout
            for option in re.findall(r"\[(-[-a-z]+)", options):
                assert option in helped, (command, option)
