"""The command line as a user meets it."""

from __future__ import annotations

from .conftest import run_cli


def test_help_explains_every_command():
    result = run_cli("--help")
    assert result.returncode == 0
    for word in ("pdf", "epub", "html", "all", "check", "exit status", "book.yml"):
        assert word in result.stdout
    check = run_cli("check", "--help")
    assert "--format" in check.stdout and "--strict" in check.stdout and "--book" in check.stdout


def test_usage_errors_exit_2(tmp_path):
    assert run_cli("publish").returncode == 2
    assert run_cli("check", "--format", "xml").returncode == 2
    missing = run_cli("check", "--book", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "no such folder" in missing.stderr


def test_no_book_yml_is_a_clear_error(tmp_path):
    result = run_cli("check", "--book", str(tmp_path))
    assert result.returncode == 1
    assert "book.yml:1:1: error[config-missing]: no book.yml in" in result.stdout
    assert "Traceback" not in result.stderr


def test_yaml_syntax_error_in_book_yml(tmp_path):
    (tmp_path / "book.yml").write_text("title: A\nchapters: [a.md\n", encoding="utf-8")
    result = run_cli("check", "--book", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout.startswith("book.yml:3:1: error[config-yaml]: YAML syntax error")


def test_build_shows_progress_and_prints_outputs(mini):
    assert "rendering the PDF edition" in mini.stderr and "laying out pages" in mini.stderr
    assert mini.stdout.split() == [str(mini.pdf), str(mini.epub), str(mini.html)]


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


def test_an_internal_fault_is_reported_without_a_traceback(monkeypatch, capsys, mini):
    from build_book import build, cli

    def broken(*args, **kwargs):
        raise RuntimeError("WeasyPrint exploded")

    monkeypatch.setattr(build, "build", broken)
    assert cli.main(["pdf", "--book", str(mini.root), "-q"]) == 3
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: WeasyPrint exploded" in err and "Traceback" not in err
    assert "previous outputs in build/ are unchanged" in err
