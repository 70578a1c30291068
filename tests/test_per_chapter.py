"""bibliography-scope: a reference list at the end of each chapter (the 'per-chapter' fixture book).

The book is built once with 'chapter' (no book-wide bibliography anywhere) and once with 'both' (after a
build with the default 'book', so that a change of scope must reach the cached chapters)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from .conftest import build_all, copy_book, run_cli
from .pdfinfo import Pdf
from .xmlcheck import anchors, broken_links, epubcheck, nu_validate, text_of

SLUG = "chapters-and-their-references"
CHAPTERS = {"alpha": "01-alpha.md", "beta": "02-beta.md", "gamma": "03-gamma.md",
            "appendix-sources": "a1-notes.md"}
REFS_SECTION = re.compile(r'<section id="(sec-[^"]+)-references"[^>]*>(.*?)</section>', re.S)
ENTRY = re.compile(r'<div id="ref-(sec-[a-z]+)-([a-z0-9]+)" class="csl-entry"[^>]*>(.*?)</div>', re.S)
LINK = re.compile(r'<a href="([^"]*#ref-[^"]+)"[^>]*>(.*?)</a>', re.S)


def bib_keys(root: Path) -> list[str]:
    return re.findall(r"@\w+\{(\w+),", (root / "bibliography" / "refs.bib").read_text(encoding="utf-8"))


def cited_in(root: Path, name: str) -> set[str]:
    """The works a chapter's source cites (text and footnotes)."""
    keys = set(bib_keys(root))
    return {k for k in re.findall(r"@(\w+)", (root / "chapters" / name).read_text(encoding="utf-8")) if k in keys}


def set_scope(root: Path, scope: str) -> None:
    path = root / "book.yml"
    text = re.sub(r"^bibliography-scope: .*$", f"bibliography-scope: {scope}", path.read_text(encoding="utf-8"),
                  flags=re.M)
    path.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def chapter_scope(tmp_path_factory):
    return build_all(copy_book("per-chapter", tmp_path_factory), SLUG, "--strict")


@pytest.fixture(scope="module")
def both_scope(tmp_path_factory):
    root = copy_book("per-chapter", tmp_path_factory)
    set_scope(root, "book")
    book = build_all(root, SLUG)
    pages = {p.name: p.read_text(encoding="utf-8") for p in book.html.glob("*.html")}
    set_scope(root, "both")
    return pages, build_all(root, SLUG)


@pytest.fixture(scope="module")
def site(chapter_scope):
    return {p.name: p.read_text(encoding="utf-8") for p in chapter_scope.html.glob("*.html")}


@pytest.fixture(scope="module")
def epub(chapter_scope):
    with zipfile.ZipFile(chapter_scope.epub) as archive:
        return {n: archive.read(n).decode("utf-8") for n in archive.namelist() if not n.endswith((".otf", ".png"))}


def chapter_lists(pages: dict[str, str], ext: str) -> dict[str, list[tuple[str, str]]]:
    """Page -> the (key, text) of each entry of its own reference list, in order; checks the ids."""
    found = {}
    for stem in CHAPTERS:
        page = pages[stem + ext]
        sections = REFS_SECTION.findall(page)
        if not sections:
            found[stem] = []
            continue
        assert len(sections) == 1, stem
        label, body = sections[0]
        assert label == f"sec-{stem}"
        entries = ENTRY.findall(body)
        assert all(owner == label for owner, _, _ in entries), "a chapter's entries carry its own label"
        found[stem] = [(key, text_of(text).strip()) for _, key, text in entries]
    return found


def year_label(entry_text: str) -> str:
    return re.search(r"\b(\d{4}[a-z]?)\.", entry_text).group(1)


def check_lists(root: Path, pages: dict[str, str], ext: str) -> None:
    """Each chapter ends with exactly the works it cites, sorted as the style sorts, with years that
    agree with its citations; its citation links lead to its own list on the same page."""
    lists = chapter_lists(pages, ext)
    labels: dict[str, set[str]] = {}
    for stem, name in CHAPTERS.items():
        keys = [k for k, _ in lists[stem]]
        assert set(keys) == cited_in(root, name), stem
        assert len(keys) == len(set(keys))
        texts = [t for _, t in lists[stem]]
        assert texts == sorted(texts, key=str.casefold), "in the bibliography's order (author, year)"
        page = pages[stem + ext]
        if keys:   # the list closes the chapter's text: only the notes come after it
            after = page[page.index(f'id="sec-{stem}-references"'):]
            rest = re.split(r"</article>|</body>", after.split("</section>", 1)[1])[0]
            assert "<p" not in re.sub(r'<section id="footnotes".*', "", rest, flags=re.S), stem
        ids = anchors(page).ids
        links = LINK.findall(page)
        assert len(links) >= len(keys)
        for href, text in links:
            assert href.startswith(f"#ref-sec-{stem}-"), (stem, href)   # this page's own list
            assert href[1:] in ids, (stem, href)
            key = href.removeprefix(f"#ref-sec-{stem}-")
            entry = dict(lists[stem])[key]
            assert year_label(entry) in text_of(text), (stem, key, text)   # 2001a in the text and the list
        for key, entry in lists[stem]:
            labels.setdefault(key, set()).add(year_label(entry))
    assert labels["green2001a"] == {"2001a"} and labels["green2001b"] == {"2001b"}
    assert all(len(v) == 1 for v in labels.values()), labels   # every work reads alike in every chapter


def test_html_chapters_end_with_their_references(chapter_scope, site):
    check_lists(chapter_scope.root, site, ".html")
    alpha = text_of(site["alpha.html"])
    assert "References Green, Michael J. 2001a." in alpha
    assert "Snyder, Glenn H. 1997." in alpha          # cited only in a footnote
    assert "2001b" not in alpha and "Cha, Victor" not in alpha
    assert "chapter-references" not in site["appendix-sources.html"]   # cites nothing: no empty list


def test_html_has_no_book_bibliography(site):
    assert "bibliography.html" not in site
    for name, page in site.items():
        assert "bibliography.html" not in page, name
        assert not re.search(r'href="#ref-(?!sec-)', page), name
    assert "Bibliography" not in text_of(site["index.html"])
    assert broken_links(site) == []


def test_html_passes_the_nu_checker(chapter_scope):
    result = nu_validate(chapter_scope.html)
    assert result.returncode == 0, result.stdout + result.stderr


def test_epub_chapters_end_with_their_references(chapter_scope, epub):
    pages = {n.removeprefix("EPUB/"): t for n, t in epub.items() if n.endswith(".xhtml")}
    check_lists(chapter_scope.root, pages, ".xhtml")
    assert broken_links(pages) == []
    # each list is a bibliography to assistive technology, as the book's own list is
    assert re.findall(r'<section id="sec-alpha-references" class="[^"]*chapter-references" role="([^"]*)"',
                      pages["alpha.xhtml"]) == ["doc-bibliography"]


def test_epub_has_no_book_bibliography(epub):
    assert "EPUB/bibliography.xhtml" not in epub
    assert "bibliography" not in epub["EPUB/package.opf"].lower()       # manifest and spine
    nav = epub["EPUB/nav.xhtml"]
    assert "Bibliography" not in nav and 'epub:type="bibliography"' not in nav   # contents and landmarks
    assert "alpha.xhtml" in nav


def test_epubcheck_passes(chapter_scope):
    messages = epubcheck(chapter_scope.epub)
    assert [m for m in messages if m["severity"] in ("FATAL", "ERROR", "WARNING")] == []


def test_pdf_chapters_end_with_their_references(chapter_scope):
    pdf = Pdf(chapter_scope.pdf)
    root = chapter_scope.root
    starts = [pdf.page_of(title) for title in ("Balancing Revisited ITO", "Managing Alliances ITO",
                                               "Abandonment and Entrapment ITO", "A Note on Sources This")]
    assert starts == sorted(starts)
    entries = {"walt1987": "Walt, Stephen M. 1987.", "snyder1997": "Snyder, Glenn H. 1997.",
               "green2001a": "Green, Michael J. 2001a.", "green2001b": "Green, Michael J. 2001b.",
               "cha2000": "Cha, Victor D. 2000."}
    assert set(entries) == set(bib_keys(root))
    for number, name in enumerate(CHAPTERS.values()):
        end = starts[number + 1] if number + 1 < len(starts) else len(pdf.pages)
        text = " ".join(pdf.flat(i) for i in range(starts[number], end))
        cited = cited_in(root, name)
        listed = {k for k, e in entries.items() if e in text}
        assert listed == cited, name
        if cited:
            refs = text.index("References")
            assert all(text.index(entries[k]) > refs for k in cited)
            order = sorted(cited, key=lambda k: text.index(entries[k]))
            assert order == sorted(cited, key=lambda k: entries[k])
    whole = pdf.flat()
    assert "Bibliography" not in whole                         # no page, no contents line, no running head
    assert "(Green 2001a, 4)" in whole and "(Green 2001b, 17)" in whole
    outline = [item.title for item in pdf.reader.outline if not isinstance(item, list)]
    assert "Bibliography" not in outline


def test_both_keeps_the_bibliography_and_links_to_the_chapter(both_scope):
    book_pages, built = both_scope
    # first built with the default scope: no chapter lists, citations lead to the bibliography page
    assert all(not REFS_SECTION.search(book_pages[s + ".html"]) for s in CHAPTERS)
    assert 'href="bibliography.html#ref-green2001a"' in book_pages["alpha.html"]
    site = {p.name: p.read_text(encoding="utf-8") for p in built.html.glob("*.html")}
    check_lists(built.root, site, ".html")      # the change of scope reached the cached chapters
    assert broken_links(site) == []
    bibliography = text_of(site["bibliography.html"])
    for key in bib_keys(built.root):
        assert f'id="ref-{key}"' in site["bibliography.html"]
    assert "Green, Michael J. 2001a." in bibliography and "Green, Michael J. 2001b." in bibliography
    assert 'href="bibliography.html"' in site["index.html"]
    with zipfile.ZipFile(built.epub) as archive:
        nav = archive.read("EPUB/nav.xhtml").decode("utf-8")
        pages = {n.removeprefix("EPUB/"): archive.read(n).decode("utf-8") for n in archive.namelist()
                 if n.endswith(".xhtml")}
    assert 'epub:type="bibliography" href="bibliography.xhtml"' in nav
    check_lists(built.root, pages, ".xhtml")
    assert broken_links(pages) == []
    pdf = Pdf(built.pdf)
    assert "Bibliography" in pdf.flat(4) or "Bibliography" in pdf.flat(5)     # a contents line
    last = pdf.flat(len(pdf.pages) - 1) + pdf.flat(len(pdf.pages) - 2)
    assert "Walt, Stephen M. 1987." in last


def test_an_unknown_scope_is_reported_at_its_line(tmp_path_factory):
    root = copy_book("per-chapter", tmp_path_factory)
    set_scope(root, "chapters")
    result = run_cli("check", "--book", str(root))
    assert result.returncode == 1
    line = next(n for n, text in enumerate((root / "book.yml").read_text().splitlines(), 1)
                if text.startswith("bibliography-scope"))
    assert re.search(rf"book\.yml:{line}:\d+: error\[config-value\]: 'bibliography-scope' must be one of "
                     "book, chapter, both", result.stdout), result.stdout


def test_a_chapter_ending_in_its_own_references_heading_gets_its_list_there(tmp_path):
    """'## References' as the last line of a chapter (Quarto's and pandoc's habit): the chapter's list is put
    under it, not under a second "References" heading that took the same id (an invalid EPUB); with
    bibliography-scope: book too, rather than an empty section."""
    (tmp_path / "chapters").mkdir()
    (tmp_path / "refs.bib").write_text("@book{walt1987, author={Walt, Stephen M.}, title={The Origins of Alliances}, "
                                       "year={1987}, publisher={Cornell University Press}}\n", encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: Own\nbibliography: refs.bib\nbibliography-scope: chapter\n"
                                       "chapters: [chapters/a.md, chapters/b.md]\n", encoding="utf-8")
    (tmp_path / "chapters" / "a.md").write_text("# A {#sec-a}\n\nText [@walt1987].\n\n## References {.unnumbered}\n")
    # Quarto's form: the heading, then a div #refs where the list goes
    (tmp_path / "chapters" / "b.md").write_text("# B {#sec-b}\n\nText [@walt1987].\n\n## References\n\n::: {#refs}\n:::\n")
    assert run_cli("html", "--book", str(tmp_path)).returncode == 0
    assert run_cli("epub", "--book", str(tmp_path)).returncode == 0
    page = (tmp_path / "build" / "html" / "a.html").read_text(encoding="utf-8")
    assert len(re.findall(r"<h2[^>]*>References</h2>", page)) == 1
    assert re.search(r'<h2 class="unnumbered" id="sec-a-references">References</h2>\s*<div class="chapter-references" role="doc-bibliography">'
                     r'\s*<div id="refs-sec-a"[^>]*>\s*<div id="ref-sec-a-walt1987"', page), page
    other = (tmp_path / "build" / "html" / "b.html").read_text(encoding="utf-8")
    assert len(re.findall(r"<h2[^>]*>.*References</h2>", other)) == 1 and 'id="refs"' not in other
    assert re.search(r'References</h2>\s*<div class="chapter-references" role="doc-bibliography">\s*<div id="refs-sec-b"', other), other
    with zipfile.ZipFile(tmp_path / "build" / "own.epub") as archive:
        for name in ("a", "b"):
            ids = re.findall(r'\sid="([^"]+)"', archive.read(f"EPUB/{name}.xhtml").decode("utf-8"))
            assert f"ref-sec-{name}-walt1987" in ids and len(ids) == len(set(ids)), ids
    # with bibliography-scope: book, a chapter ending in such a heading gets its list under it too (pandoc and
    # Quarto list the chapter's works there), not an empty section; the book's bibliography lists them all
    (tmp_path / "book.yml").write_text("title: Own\nbibliography: refs.bib\nchapters: [chapters/a.md, chapters/b.md]\n",
                                       encoding="utf-8")
    (tmp_path / "chapters" / "b.md").write_text("# B {#sec-b}\n\nText [@walt1987].\n\n## References {#sec-refs-b}\n\n"
                                                "After it.\n")
    # Quarto's form, in a book that cites another work elsewhere: only this chapter's works, with ids of its own
    (tmp_path / "refs.bib").write_text((tmp_path / "refs.bib").read_text(encoding="utf-8") + "@book{morrow1991, "
                                       "author={Morrow, James D.}, title={Alliances}, year={1991}, publisher={P}}\n")
    (tmp_path / "chapters" / "c.md").write_text("# C {#sec-c}\n\nText [@morrow1991].\n\n## References\n\n"
                                                "::: {#refs}\n:::\n")
    (tmp_path / "book.yml").write_text("title: Own\nbibliography: refs.bib\n"
                                       "chapters: [chapters/a.md, chapters/b.md, chapters/c.md]\n", encoding="utf-8")
    assert run_cli("html", "--book", str(tmp_path)).returncode == 0
    page = (tmp_path / "build" / "html" / "a.html").read_text(encoding="utf-8")
    assert re.search(r'References</h2>\s*<div class="chapter-references" role="doc-bibliography">\s*<div id="refs-sec-a"[^>]*>\s*'
                     r'<div id="ref-sec-a-walt1987"', page), page
    assert 'href="#ref-sec-a-walt1987"' in page
    quarto = (tmp_path / "build" / "html" / "c.html").read_text(encoding="utf-8")
    assert re.findall(r'<div id="(ref[^"]*)"', quarto) == ["refs-sec-c", "ref-sec-c-morrow1991"], quarto
    other = (tmp_path / "build" / "html" / "b.html").read_text(encoding="utf-8")   # text under it: no list
    assert "chapter-references" not in other and 'href="bibliography.html#ref-walt1987"' in other, other
    assert 'id="ref-walt1987"' in (tmp_path / "build" / "html" / "bibliography.html").read_text(encoding="utf-8")


def test_a_refs_div_before_more_of_the_chapter_holds_the_chapters_own_works(tmp_path):
    """'::: {#refs}' with more of the chapter after it (bibliography-scope: book) listed every work its citeproc
    run knew, with the ids of the book's list (the print edition's links went to it), Japanese names given
    name first. The chapter's own works go there now, with ids of their own. (In a chapter that cites
    nothing, it is where the book's list goes, as in Quarto's references.qmd.)"""
    (tmp_path / "refs.bib").write_text(
        "@book{walt1987, author={Walt, Stephen M.}, title={Origins}, year={1987}, publisher={P}}\n"
        "@book{snyder1997, author={Snyder, Glenn H.}, title={Alliance Politics}, year={1997}, publisher={P}}\n"
        "@book{sakurada2004, author={Sakurada, Daizō}, title={Hikaku}, year={2004}, publisher={P}, langid={japanese}}\n",
        encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: Mid\nbibliography: refs.bib\nchapters: [a.md, b.md, c.md]\n",
                                       encoding="utf-8")
    (tmp_path / "a.md").write_text("# A {#sec-a}\n\nText [@snyder1997].\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("# B {#sec-b}\n\nText [@walt1987; @sakurada2004].\n\n::: {#refs}\n:::\n\n"
                                   "## After\n\nMore text.\n", encoding="utf-8")
    (tmp_path / "c.md").write_text("# C {#sec-c}\n\nNo works.\n\n::: {#refs}\n:::\n\n## Later\n\nMore.\n",
                                   encoding="utf-8")
    assert run_cli("html", "--book", str(tmp_path)).returncode == 0
    page = (tmp_path / "build" / "html" / "b.html").read_text(encoding="utf-8")
    assert re.findall(r'<div id="(ref[^"]*)"', page) == ["refs-sec-b", "ref-sec-b-sakurada2004", "ref-sec-b-walt1987"]
    assert page.index('id="refs-sec-b"') < page.index("More text.") and "Sakurada Daizō. 2004" in page
    assert "Snyder" not in page
    listed = (tmp_path / "build" / "html" / "c.html").read_text(encoding="utf-8")
    assert re.findall(r'<div id="(ref[^"]*)"', listed) == ["refs", "ref-sakurada2004", "ref-snyder1997", "ref-walt1987"]
    assert listed.index('id="refs"') < listed.index("More.")


def test_a_japanese_chapters_own_references_heading_is_known(tmp_path):
    """'## 文献' or '## 引用文献' ending a Japanese chapter is its reference list's heading, as '## References' is:
    the chapter's works go under it (it headed nothing)."""
    (tmp_path / "refs.bib").write_text("@book{w, author={W, A}, title={T}, publisher={P}, year={2001}}\n",
                                       encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: T\nlang: ja\nbibliography: refs.bib\nchapters: [a.md, b.md]\n",
                                       encoding="utf-8")
    for name, heading in (("a", "文献"), ("b", "引用文献")):
        (tmp_path / f"{name}.md").write_text(f"# {name.upper()} {{#sec-{name}}}\n\n本文 [@w]。\n\n## {heading}\n",
                                             encoding="utf-8")
    assert run_cli("html", "--book", str(tmp_path)).returncode == 0
    for name, heading in (("a", "文献"), ("b", "引用文献")):
        page = (tmp_path / "build" / "html" / f"{name}.html").read_text(encoding="utf-8")
        assert re.search(heading + r'</h2>\s*<div class="chapter-references" role="doc-bibliography">\s*<div id="refs-sec-' + name, page), page


def test_a_heading_of_the_authors_over_the_refs_div_that_ends_a_chapter_heads_its_list(tmp_path):
    """'## Sources and Further Reading' over the '::: {#refs}' that ends a chapter (bibliography-scope: both) got
    a second heading, build_book's 'References', under it; the list goes under the author's."""
    (tmp_path / "refs.bib").write_text("@book{w, author={W, A}, title={T}, publisher={P}, year={2001}}\n",
                                       encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: T\nbibliography: refs.bib\nbibliography-scope: both\nchapters: [a.md]\n",
                                       encoding="utf-8")
    (tmp_path / "a.md").write_text("# A {#sec-a}\n\nText [@w].\n\n## Sources and Further Reading\n\n::: {#refs}\n:::\n",
                                   encoding="utf-8")
    assert run_cli("html", "--book", str(tmp_path)).returncode == 0
    page = (tmp_path / "build" / "html" / "a.html").read_text(encoding="utf-8")
    assert re.search(r'Sources and Further Reading</h2>\s*<div class="chapter-references" role="doc-bibliography">\s*<div id="refs-sec-a"', page)
    assert ">References</h2>" not in page
