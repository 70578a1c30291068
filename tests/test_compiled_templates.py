"""Compiled templates (templating.py's bytecode cache): kept in the user's cache folder, never in the book's
build/ (a book is untrusted, compiled code is run as it is), reused by the next build, and compiled again
when the template changes or the entry could have been written by someone else."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from build_book import templating


@pytest.fixture
def compiles(monkeypatch, tmp_path) -> list[str]:
    """The names of the templates Jinja compiles from source, from now on; the user's cache in tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    seen: list[str] = []
    original = jinja2.Environment.compile

    def counting(self, source, name=None, filename=None, *args, **kwargs):
        seen.append(name)
        return original(self, source, name, filename, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    templating.environment.cache_clear()
    yield seen
    templating.environment.cache_clear()


def render(book: Path, **context) -> str:
    templating.environment.cache_clear()     # each as a new build (a new process) would
    return templating.render(book, "html/note.html.j2", **context)


def test_compiled_once_into_the_users_cache_and_never_into_the_book(compiles, tmp_path):
    book = tmp_path / "book"
    (book / "templates" / "html").mkdir(parents=True)
    template = book / "templates" / "html" / "note.html.j2"
    template.write_text("<p>{{ text }}</p>\n", encoding="utf-8")
    assert render(book, text="one") == "<p>one</p>\n"
    assert compiles == ["html/note.html.j2"]
    entries = list((tmp_path / "user-cache" / "build_book" / "templates").glob("*.bin"))
    assert len(entries) == 1
    assert not (book / "build").exists()

    assert render(book, text="two") == "<p>two</p>\n"     # from the cache: not compiled again
    assert compiles == ["html/note.html.j2"]

    template.write_text("<p>{{ text }}!</p>\n", encoding="utf-8")   # an edited template is compiled anew
    assert render(book, text="three") == "<p>three!</p>\n"
    assert len(compiles) == 2
    assert render(book, text="four") == "<p>four!</p>\n"
    assert len(compiles) == 2

    entries[0].chmod(0o666)           # an entry others could have written is not run
    assert render(book, text="five") == "<p>five!</p>\n"
    assert len(compiles) == 3


def test_a_damaged_entry_is_compiled_again(compiles, tmp_path):
    book = tmp_path / "book"
    (book / "templates" / "html").mkdir(parents=True)
    (book / "templates" / "html" / "note.html.j2").write_text("<p>{{ text }}</p>\n", encoding="utf-8")
    render(book, text="one")
    entry = next((tmp_path / "user-cache" / "build_book" / "templates").glob("*.bin"))
    data = entry.read_bytes()
    entry.write_bytes(data[: len(data) // 2])
    assert render(book, text="two") == "<p>two</p>\n"
    assert len(compiles) == 2
    assert render(book, text="three") == "<p>three</p>\n"   # the entry made again is sound
    assert len(compiles) == 2
