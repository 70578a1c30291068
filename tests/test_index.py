"""The back-of-book index (build_book/index.py) in all three editions, its sorting and its checks."""

from __future__ import annotations

import json
import re
import subprocess
import zipfile

import pytest

from build_book import index as book_index

from .conftest import BOOKS, build_all, copy_book, run_cli
from .xmlcheck import anchors, broken_links, epubcheck, nu_validate, text_of


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    return build_all(copy_book("indexed", tmp_path_factory), "an-indexed-miniature", "--strict")


def page_texts(pdf) -> list[str]:
    count = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf)], capture_output=True,
                                                             text=True).stdout).group(1))
    return [subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), str(pdf), "-"],
                           capture_output=True, text=True).stdout for n in range(1, count + 1)]


def folio(text: str) -> str:
    """The folio printed at the foot of a page (its last non-empty line)."""
    return [line.strip() for line in text.splitlines() if line.strip()][-1]


def flat(text: str) -> str:
    return re.sub(r"-\s*\n\s*", "", re.sub(r"\s+", " ", text))


def pages_with(pages: list[str], words: str) -> list[str]:
    """The folios of the pages whose text holds ``words`` (hyphenation and line breaks undone)."""
    found = []
    for text in pages:
        joined = " ".join(re.sub(r"-\n\s*", "", text).split())
        if words in joined:
            found.append(folio(text))
    return found


def column_lines(layout: str) -> list[str]:
    """The lines of a two-column page laid out by ``pdftotext -layout``: the left column, then the right."""
    rows = [line.rstrip() for line in layout.splitlines() if line.strip()]
    starts = [m.end() for line in rows for m in [re.search(r"\S\s{6,}(?=\S)", line)] if m]
    starts += [len(line) - len(line.lstrip()) for line in rows if len(line) - len(line.lstrip()) >= 20]
    boundary = min(starts) if starts else 10_000
    left = [line[:boundary].strip() for line in rows if line[:boundary].strip()]
    right = [line[boundary:].strip() for line in rows if line[boundary:].strip()]
    return left + right


@pytest.fixture(scope="module")
def printed(indexed):
    pages = page_texts(indexed.pdf)
    start = next(n for n, text in enumerate(pages) if text.lstrip().startswith("Index"))
    lines = []
    for n in range(start, len(pages)):
        layout = subprocess.run(["pdftotext", "-f", str(n + 1), "-l", str(n + 1), "-layout", str(indexed.pdf), "-"],
                                capture_output=True, text=True).stdout
        lines += column_lines(layout)
    return pages, start, lines


def entry_line(lines: list[str], term: str) -> str:
    """The printed line of an entry (a wrapped entry's continuation joined)."""
    for n, line in enumerate(lines):
        if line.startswith(term):
            out = line
            while n + 1 < len(lines) and re.match(r"^[\d,–ivx ]+$|^[a-z]", lines[n + 1]) and out.endswith(","):
                n += 1
                out += " " + lines[n]
            return out
    raise AssertionError(f"{term!r} is not in the printed index: {lines}")


def test_print_index_is_last_and_listed_in_the_contents(printed, indexed):
    pages, start, _ = printed
    assert start >= len(pages) - 2
    contents = next(t for t in pages if t.lstrip().startswith("Contents"))
    assert re.search(r"Index \.[ .]+" + re.escape(folio(pages[start])), contents)


def test_print_page_numbers_are_the_pages_of_the_marks(printed):
    pages, start, lines = printed
    body = pages[:start]
    # a term marked once in the front matter and once in chapter 1: roman, then arabic
    preface = pages_with(body, "This volume began as a study of alliance asymmetry")
    chapter = pages_with(body, "The study of alliance asymmetry starts with Snyder")
    assert preface[0].isalpha() and chapter[0].isdigit()
    assert entry_line(lines, "alliance asymmetry") == f"alliance asymmetry, {preface[0]}, {chapter[0]}"
    # Yoshida: twice on the page of the bargaining section (shown once), then in chapter 2
    first = pages_with(body, "Prime Minister Yoshida made rearmament slow")[0]
    again = pages_with(body, "Later Yoshida said so again")[0]
    last = pages_with(body, "Yoshida had retired by then")[0]
    assert first == again
    assert entry_line(lines, "Yoshida Shigeru") == f"Yoshida Shigeru, {first}, {last}"
    # the sub-entry
    assert entry_line(lines, "entrapment") == f"entrapment, {pages_with(body, 'fear of entrapment')[0]}"


def test_print_range_runs_from_the_first_to_the_last_page_of_the_div(printed):
    pages, start, lines = printed
    body = pages[:start]
    begin = pages_with(body, "The Suez crisis showed how far an ally could be left alone")[0]
    # the div's last paragraph is followed by the paragraph that ends with the footnote call
    end_page = next(folio(t) for t in body if "alliance dilemma appears in the notes" in " ".join(t.split()))
    assert int(end_page) > int(begin)
    line = entry_line(lines, "Suez crisis")
    assert line == f"Suez crisis, {begin}–{end_page}" or line == f"Suez crisis, {begin}–{int(end_page) - 1}"
    # the span inside the range adds no second number
    assert line.count(",") == 1


def test_print_sorting_groups_and_cross_references(printed):
    _, _, lines = printed
    terms = [re.split(r",|\. See", line)[0] for line in lines]
    order = ["Ohio class", "Ōhira Masayoshi", "Okinawa", "Ōsaka", "Ottawa"]
    assert [t for t in terms if t in order] == order
    headings = [line for line in lines if re.fullmatch(r"[A-Z]", line)]
    assert headings == ["A", "D", "H", "O", "S", "T", "Y"]
    assert "Hub and spokes. See San Francisco system" in lines
    joined = " ".join(lines)
    assert re.search(r"ANZUS Treaty, \d+\. See also San Francisco system", joined)
    # sub-entries under their entry
    treaties = lines.index("Treaties")
    assert lines[treaties + 1].startswith("ANZUS Treaty")


def test_print_index_is_in_two_columns(indexed, printed):
    from pypdf import PdfReader

    _, start, _ = printed
    page = PdfReader(indexed.pdf).pages[start]
    xs = []
    page.extract_text(visitor_text=lambda text, cm, tm, font, size: xs.append(tm[4]) if text.strip() else None)
    width = float(page.mediabox.width)
    assert any(x < width * 0.4 for x in xs) and any(x > width * 0.5 for x in xs)


def test_print_index_links_go_to_the_marks(indexed, printed):
    from pypdf import PdfReader

    _, start, _ = printed
    reader = PdfReader(indexed.pdf)
    links = [a.get_object() for a in reader.pages[start].get("/Annots", [])]
    assert len(links) >= 10


def site_pages(built, ext: str) -> dict[str, str]:
    if ext == ".html":
        return {p.name: p.read_text(encoding="utf-8") for p in built.html.glob("*.html")}
    with zipfile.ZipFile(built.epub) as z:
        return {n.removeprefix("EPUB/"): z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xhtml")}


def marks_in(pages: dict[str, str]) -> dict[str, str]:
    """Anchor id -> page, for every marked place in the chapters."""
    return {i: name for name, text in pages.items() for i in anchors(text).ids if re.fullmatch(r"ix-\d+-\d+", i)}


@pytest.mark.parametrize("ext", [".html", ".xhtml"])
def test_web_index_links_every_marked_place(indexed, ext):
    pages = site_pages(indexed, ext)
    name = "genindex" + ext
    index_page = pages[name]
    assert broken_links(pages) == []
    linked = {href.partition("#")[2] for href in anchors(index_page).hrefs if "#ix-" in href}
    marked = marks_in(pages)
    # every place marked is linked, except a 'see' mark, which marks no page
    hub = [i for i, p in marked.items() if i not in linked]
    assert len(hub) == 1 and hub[0].startswith("ix-3-")
    assert linked <= set(marked)
    for href in anchors(index_page).hrefs:
        if "#ix-" in href:
            assert href.partition("#")[0] == marked[href.partition("#")[2]]
    text = text_of(index_page)
    assert "Yoshida Shigeru 1.1, 1.1 (2), 2.1" in text
    assert "alliance asymmetry Preface, 1" in text
    assert "Hub and spokes. See San Francisco system" in text
    assert "Dulles, John Foster 2.1" in text     # LaTeX's \\index{...}
    order = [text.index(t) for t in ["Ohio class", "Ōhira Masayoshi", "Okinawa", "Ōsaka", "Ottawa"]]
    assert order == sorted(order)


def test_web_index_is_in_the_contents(indexed):
    home = (indexed.html / "index.html").read_text(encoding="utf-8")
    assert 'href="genindex.html"' in home
    with zipfile.ZipFile(indexed.epub) as z:
        nav = z.read("EPUB/nav.xhtml").decode("utf-8")
        opf = z.read("EPUB/package.opf").decode("utf-8")
        page = z.read("EPUB/genindex.xhtml").decode("utf-8")
    assert 'epub:type="index" href="genindex.xhtml"' in nav
    assert re.search(r'<itemref idref="book-index"', opf)
    assert 'epub:type="index"' in page and 'role="doc-index"' in page


def test_epubcheck_and_nu_checker_stay_clean(indexed):
    assert [m for m in epubcheck(indexed.epub) if m["severity"] in ("FATAL", "ERROR", "WARNING")] == []
    result = nu_validate(indexed.html)
    assert result.returncode == 0, result.stdout + result.stderr


def test_marks_print_as_plain_text(indexed, printed):
    pages, start, _ = printed
    body = " ".join(" ".join(t.split()) for t in pages[:start])
    assert "{" not in body and "index=" not in body
    chapter = (indexed.html / "asymmetry.html").read_text(encoding="utf-8")
    assert "data-index" not in chapter and 'class="index-term"' in chapter


def test_book_has_index_flag(indexed):
    from build_book.load import load_book

    assert load_book(indexed.root).book.has_index
    assert not load_book(BOOKS / "mini").book.has_index


# --- sorting and parsing ----------------------------------------------------------------------------

def test_collation_puts_diacritics_with_their_base_letters():
    terms = ["Ōsaka", "ottawa", "Ohira", "Ōhira", "Oe", "Okinawa", "New Zealand", "Newark", "Ryūkyū", "Ryukyu Islands"]
    assert sorted(terms, key=book_index.sort_key) == [
        "New Zealand", "Newark", "Oe", "Ohira", "Ōhira", "Okinawa", "Ōsaka", "ottawa", "Ryūkyū", "Ryukyu Islands"]
    assert book_index.letter("Ōhira") == "O" and book_index.letter("1951 Treaty") == "0–9"
    assert book_index.sort_key("Gaulle, Charles de@de Gaulle, Charles") < book_index.sort_key("Germany")


def test_parse_levels_and_cross_references():
    assert book_index.parse("Alliances!asymmetry") == (("Alliances", "asymmetry"), [], [])
    assert book_index.parse("Hub and spokes|see San Francisco system") == (("Hub and spokes",),
                                                                         ["San Francisco system"], [])
    assert book_index.parse("Hub|see{San Francisco system}")[1] == ["San Francisco system"]
    assert book_index.parse("ANZUS|seealso Treaties!ANZUS")[2] == ["Treaties!ANZUS"]
    assert book_index.parse("ANZUS|see also Treaties")[2] == ["Treaties"]


def test_fill_locators_collapses_pages():
    html = ('<span class="index-locators"> <a class="index-page" href="#a"></a>, <a class="index-page" href="#b"></a>, '
            '<a class="index-page" href="#c"></a>–<a class="index-page" href="#d"></a>, '
            '<a class="index-page" href="#e"></a>, <a class="index-page" href="#f"></a>–<a class="index-page" '
            'href="#g"></a></span><!--/locators-->')
    pages = {"a": "45", "b": "45", "c": "46", "d": "49", "e": "47", "f": "50", "g": "50"}
    out = text_of(book_index.fill_locators(html, pages.get)).strip()
    assert out == "45, 46–49, 50"
    assert book_index.fill_locators(html, {}.get) == html   # unknown pages: the CSS numbers stay


# --- the checks ---------------------------------------------------------------------------------------

VARIANTS = """# Variants {#sec-variants}

The [alliance asymmetry]{.index} of the pact, its [alliance asymmetry]{.index} again, and
[Alliance asymmetry]{.index} once. [Ryūkyū]{.index} and [Ryūkyū]{.index} and [Ryukyu]{.index}.
[Yoshida]{index="Yoshida Shigeru"} twice: [Yoshida]{index="Yoshida Shigeru"}, then
[Shigeru Yoshida]{.index}. []{index="Hub and spokes|see San Fransisco system"}
[Treaties]{.index} and [ANZUS]{index="Treaties!ANZUS"}; [Japan]{.index} is not [Japanese]{.index},
[NATO]{.index} not [Nato summit]{.index}. [ ]{.index}
The [San Francisco system]{.index}.
"""


def test_variants_and_dangling_cross_references_are_warned_where_written(tmp_path_factory):
    root = copy_book("indexed", tmp_path_factory)
    (root / "chapters" / "02-treaties.md").write_text(VARIANTS, encoding="utf-8")
    result = run_cli("check", "--book", str(root), "--format", "json")
    found = [d for d in json.loads(result.stdout) if d["code"].startswith("index-")]
    where = sorted((d["code"], d["line"], d["column"]) for d in found)
    assert where == [("index-empty", 8, 43),
                     ("index-see-missing", 6, 31),
                     ("index-variant", 4, 1),
                     ("index-variant", 4, 78),
                     ("index-variant", 6, 1)], found
    messages = " ".join(d["message"] for d in found)
    assert "'Alliance asymmetry'" in messages and "'alliance asymmetry'" in messages
    assert "'Ryukyu'" in messages and "'Shigeru Yoshida'" in messages
    assert any("did you mean 'San Francisco system'?" in d["hint"] for d in found if d["code"] == "index-see-missing")
    assert all(d["severity"] == "warning" for d in found)


def test_the_fixture_and_the_volume_have_no_index_warnings():
    for args in (["--book", str(BOOKS / "indexed")], []):
        result = run_cli("check", *args, "--format", "json")
        assert [d for d in json.loads(result.stdout) if d["code"].startswith("index-")] == []


def test_print_index_laid_out_in_pieces_matches_the_whole(indexed, tmp_path_factory):
    import os

    root = copy_book("indexed", tmp_path_factory)
    env = dict(os.environ, BUILD_BOOK_PDF_PIECES="1")
    result = subprocess.run([__import__("sys").executable, "-m", "build_book", "pdf", "--book", str(root)],
                            capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr
    assert "pieces" in result.stdout + result.stderr

    def index_text(pdf):
        pages = page_texts(pdf)
        start = next(n for n, text in enumerate(pages) if text.lstrip().startswith("Index"))
        return [column_lines(subprocess.run(["pdftotext", "-f", str(n + 1), "-l", str(n + 1), "-layout", str(pdf),
                                             "-"], capture_output=True, text=True).stdout)
                for n in range(start, len(pages))]

    assert index_text(root / "build" / "an-indexed-miniature.pdf") == index_text(indexed.pdf)


# --- every entry of the printed index against the pages its marks are printed on ------------------------

ENTRY = re.compile(r'<li id="(term-[^"]+)"><span class="index-term">(.*?)</span>(.*?)(?=<ul|</li>)', re.S)


def web_entries(html_folder) -> list[tuple[str, list[str]]]:
    """(term, the anchors its locators link to) for every entry of the web edition's index."""
    import html as htmllib

    page = (html_folder / "genindex.html").read_text(encoding="utf-8")
    return [(htmllib.unescape(term), re.findall(r'href="[^"#]*#(ix-[^"]+)"', rest))
            for _, term, rest in ENTRY.findall(page)]


def spans_and_divs(html_folder) -> dict[str, tuple[str, str]]:
    """Anchor -> (element, its first words as printed) for every mark in the web edition's chapters."""
    import html as htmllib

    found = {}
    for path in html_folder.glob("*.html"):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r'<(span|div) id="(ix-\d+-\d+)" class="index-term">(?=(.{0,400}))', text, re.S):
            words = " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", m.group(3))).split())
            found[m.group(2)] = (m.group(1), words)
    return found


def check_printed_index(built, pages_text: list[str]) -> int:
    """Every entry prints the folios of the pages where its marks are, collapsed as documented, and each
    mark's text is on the page its anchor is on. Returns the number of locators checked."""
    from pypdf import PdfReader

    reader = PdfReader(built.pdf)
    dests = reader.named_destinations
    page_of = {name: reader.get_destination_page_number(d) for name, d in dests.items() if name.startswith("ix-")}
    start = page_of and reader.get_destination_page_number(dests["book-index"])
    lines = []
    for n in range(start, len(pages_text)):
        layout = subprocess.run(["pdftotext", "-f", str(n + 1), "-l", str(n + 1), "-layout", str(built.pdf), "-"],
                                capture_output=True, text=True).stdout
        lines += column_lines(layout)
    printed = re.sub(r"-\s+", "-", " ".join(lines))
    marks = spans_and_divs(built.html)
    checked = 0
    for term, anchors_ in web_entries(built.html):
        if not anchors_:
            continue
        numbers: list[str] = []
        for anchor_ in anchors_:
            kind, words = marks[anchor_]
            page = page_of[anchor_]
            body = " ".join(re.sub(r"-\n", "", pages_text[page]).split())
            assert words.split()[0].rstrip(",.;:") in body, (term, anchor_, words, page)
            text = folio(pages_text[page])
            if kind == "div":
                last = folio(pages_text[page_of[anchor_ + "-end"]])
                text = text if last == text else f"{text}–{last}"
            if numbers and (numbers[-1] == text or book_index._within(text, numbers[-1])):
                continue
            numbers.append(text)
            checked += 1
        expected = re.sub(r"-\s+", "-", f"{term}, {', '.join(numbers)}")
        assert re.search(re.escape(expected) + r"(?![\d–]|,\s*[\dxvi])", printed), (expected, printed[:3000])
    return checked


def test_printed_index_numbers_are_the_pages_of_the_marks(indexed):
    assert check_printed_index(indexed, page_texts(indexed.pdf)) >= 15


def test_volume_index_in_every_edition(volume):
    assert check_printed_index(volume, page_texts(volume.pdf)) >= 80
    entries = web_entries(volume.html)
    terms = [t for t, _ in entries]
    for term in ("alliance asymmetry", "abandonment", "entrapment", "hub and spokes", "Yoshida Shigeru",
                 "Treaty of Mutual Cooperation and Security (1960)", "ANZUS Treaty (1951)", "Suez crisis (1956)",
                 "Satō Eisaku", "Eisenhower, Dwight D."):
        assert term in terms, term
    assert 40 <= len(entries) <= 120
    pages = site_pages(volume, ".html")
    assert broken_links(pages) == []
    linked = {href.partition("#")[2] for href in anchors(pages["genindex.html"]).hrefs if "#ix-" in href}
    with zipfile.ZipFile(volume.epub) as z:
        epub_index = z.read("EPUB/genindex.xhtml").decode("utf-8")
    assert linked == {href.partition("#")[2] for href in anchors(epub_index).hrefs if "#ix-" in href}
    # every mark is linked but the cross-references ('see'), which mark no page
    unlinked = set(marks_in(pages)) - linked
    assert len(unlinked) == 2
