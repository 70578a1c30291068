"""Awkward but legal manuscripts (the 'edge' fixture book) still make valid editions."""

from __future__ import annotations

import json
import zipfile

from .conftest import run_cli
from .pdfinfo import Pdf
from .xmlcheck import broken_links, epubcheck, nu_validate, text_of


def test_only_the_expected_warnings(edge):
    codes = [line.split("[", 1)[1].split("]", 1)[0] for line in edge.stderr.splitlines() if "warning[" in line]
    assert codes == ["raw-html", "link-local-file", "raw-html", "footnote-block-unprinted"]
    assert "chapters/one.md:7:30: warning[link-local-file]" in edge.stderr
    # at the note, though its first words stand in the text before it too
    assert ("chapters/one.md:22:12: warning[footnote-block-unprinted]: the PDF prints the footnote that begins "
            "'Source: the treaty texts.' without its table") in edge.stderr
    assert "chapters/one.md:9:7: warning[raw-html]: raw HTML (<br>)" in edge.stderr


def test_epub_and_html_stay_valid(edge):
    assert [m for m in epubcheck(edge.epub) if m["severity"] in ("FATAL", "ERROR", "WARNING")] == []
    result = nu_validate(edge.html)
    assert result.returncode == 0, result.stdout + result.stderr
    pages = {p.name: p.read_text(encoding="utf-8") for p in edge.html.glob("*.html")}
    assert broken_links(pages) == []


def test_ids_an_author_gave_first_are_not_given_to_a_marker_or_a_pop_up(edge):
    """[x]{#page-1} and [y]{#pop-1} keep their ids: the EPUB's page markers and the web page's pop-ups take
    ids no element of their page has, and the page list leads to the marker (the pages stay valid: above)."""
    with zipfile.ZipFile(edge.epub) as archive:
        page = archive.read("EPUB/one.xhtml").decode("utf-8")
        nav = archive.read("EPUB/nav.xhtml").decode("utf-8")
    assert page.count('id="page-1"') == 1 and '<span id="page-1">the first printed page</span>' in page
    assert 'href="one.xhtml#print-page-1">1</a>' in nav and page.count('id="print-page-1"') == 1, nav
    html = (edge.html / "one.html").read_text(encoding="utf-8")
    assert html.count('id="pop-1"') == 1 and '<span id="pop-1">a pop-up</span>' in html
    assert 'aria-describedby="pop-2"' in html and html.count('id="pop-2"') == 1


def test_a_title_that_refers_and_holds_math_links_as_the_text_does(edge):
    """A chapter title's cross-reference points at the page it names, as one in the text does (the EPUB's
    link was to an id not on the page), and a title's formula makes its EPUB page declare MathML."""
    title = (edge.html / "chapter-index.html").read_text(encoding="utf-8").split('<h1 class="chapter-title">')[1]
    assert title.split("</h1>")[0].count('href="one.html#sec-one"') == 1 and "<math" in title.split("</h1>")[0]
    with zipfile.ZipFile(edge.epub) as archive:
        package = archive.read("EPUB/package.opf").decode("utf-8")
    assert '<item id="c-chapter-index" href="chapter-index.xhtml" media-type="application/xhtml+xml" ' \
           'properties="mathml" />' in package
    # its text, where the title is not printed with its markup (the contents, the outline, a page's <title>),
    # has the reference's text ("from Chapter 1") and the formula's, not nothing
    printed = "Index of Treaties after n Rounds, from Chapter 1"
    with zipfile.ZipFile(edge.epub) as archive:
        assert f">Chapter 2: {printed}</a>" in archive.read("EPUB/nav.xhtml").decode("utf-8")
    assert f"<title>Chapter 2: {printed} — " in (edge.html / "chapter-index.html").read_text(encoding="utf-8")
    assert f"<span class=\"toc-title\">{printed}</span>" in (edge.html / "index.html").read_text(encoding="utf-8")
    assert f"Chapter 2: {printed}" in str(Pdf(edge.pdf).outline())
    assert f"2 {printed} . . ." in Pdf(edge.pdf).flat(Pdf(edge.pdf).page_of("Contents"))
    assert f"title = {{{{{printed}}}}}" in (edge.html / "cite" / "chapter-index.bib").read_text(encoding="utf-8")
    # and so does a caption in the lists of tables (which took the caption's text without the reference's)
    listed = "Table 2.1 Treaties, by year (see Chapter 1)"
    assert '>Table 2.1</a> Treaties, by year (see Chapter 1)</li>' in (edge.html / "index.html").read_text(encoding="utf-8")
    with zipfile.ZipFile(edge.epub) as archive:
        assert ">Table 2.1</a> Treaties, by year (see Chapter 1)</li>" in archive.read("EPUB/lists.xhtml").decode("utf-8")
    assert listed in Pdf(edge.pdf).flat(Pdf(edge.pdf).page_of("Tables Table"))


def test_a_chapter_labelled_index_does_not_replace_the_contents(edge):
    index = (edge.html / "index.html").read_text(encoding="utf-8")
    assert "Contents" in index and 'href="chapter-index.html"' in index
    assert "Index of Treaties" in (edge.html / "chapter-index.html").read_text(encoding="utf-8")
    with zipfile.ZipFile(edge.epub) as archive:
        assert "EPUB/chapter-index.xhtml" in archive.namelist()


def test_links_to_chapter_files_become_links_to_their_pages(edge):
    one = (edge.html / "one.html").read_text(encoding="utf-8")
    assert 'href="chapter-index.html#sec-index"' in one and 'href="chapter-index.html#tbl-index"' in one
    assert "treaties.csv" not in one and "in a file" in text_of(one)
    # the comment before the title does not hide the title
    assert one.count('class="chapter-title"') == 1 and "The First Chapter" in one


def test_images_with_spaces_and_from_other_folders_travel_with_the_book(edge):
    assert (edge.html / "chapters" / "figures" / "front-map.svg").is_file()
    assert (edge.html / "shared" / "shared.svg").is_file()
    with zipfile.ZipFile(edge.epub) as archive:
        names = archive.namelist()
    assert "EPUB/chapters/figures/front-map.svg" in names and "EPUB/shared/shared.svg" in names


def test_an_image_in_raw_html_travels_with_the_book_and_is_sized_as_html_allows(edge):
    """<img src="../shared/shared.svg" width="40%"> is carried into the web edition and the EPUB as a Markdown
    image is (the EPUB's reference to it was to a file it did not hold), its width moved into its style (a
    percentage is no valid width in HTML or XHTML); both stay valid (test_epub_and_html_stay_valid)."""
    tag = '<img src="shared/shared.svg" alt="The shared map, small." style="width:40%"'
    assert tag in (edge.html / "chapter-index.html").read_text(encoding="utf-8")
    with zipfile.ZipFile(edge.epub) as archive:
        assert tag in archive.read("EPUB/chapter-index.xhtml").decode("utf-8")
        assert "EPUB/shared/shared.svg" in archive.namelist()


def test_a_missing_image_in_raw_html_is_an_error_where_it_is_written(tmp_path):
    (tmp_path / "book.yml").write_text("title: T\nchapters: [a.md]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("# A\n\nThe file imgs/quoted.png is named here first.\n\n"
                                   "<p>See <img src=\"imgs/gone.png\" alt=\"Gone.\"></p>\n\n"
                                   "<img alt=\"x > y\" src=\"imgs/quoted.png\">\n\n"
                                   "```{=html}\n<!-- converted by pandoc -->\n<img src=\"imgs/block.png\" alt=\"\">\n"
                                   "<!-- <img src=\"imgs/commented-out.png\"> -->\n```\n")
    result = run_cli("check", "--book", str(tmp_path))
    missing = [line.split(": error")[0] + " " + line.split("image '")[1].split("'")[0]
               for line in result.stdout.splitlines() if "error[image-missing]" in line]
    assert missing == ["a.md:5:8 imgs/gone.png", "a.md:7:1 imgs/quoted.png", "a.md:11:1 imgs/block.png"], result.stdout
    from build_book.sanitize import _sized     # a width HTML cannot read, even with a space after its digits
    assert _sized([("src", "a.png"), ("width", "12\u3000"), ("height", "１２")]) == [("src", "a.png"), ("width", "12")]


def test_print_edition(edge):
    pdf = Pdf(edge.pdf)
    text = pdf.flat()
    assert "See Figure 1 on page xi in the preface" in text        # a front-matter page is roman
    assert "• first point" in text and "• second point" in text and "A quotation in a note." in text
    # the note's table has no place at the foot of the page (the warning above says so); the web keeps it
    assert text.count("Source: the treaty texts.") == 2 and "Twenty-one states" not in text   # text and note
    assert "Twenty-one states" in text_of((edge.html / "one.html").read_text(encoding="utf-8"))
    figures = pdf.flat(pdf.page_of("Figures Figure 1"))
    assert "Figure 1 A figure in the front matter." in figures and "xi" in figures


def test_an_image_from_outside_the_book_is_never_carried(tmp_path):
    """The book's folder is the limit (see test_sandbox.py): an image outside it, named by '..' or
    reached through a symbolic link, has no place in any edition; one inside keeps its path."""
    from build_book.bibliography import Bibliography
    from build_book.config import BookConfig
    from build_book.model import Book, Chapter
    from build_book.render.common import image_file

    root = tmp_path / "book"
    (root / "chapters" / "figures").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "a map.png").write_bytes(b"\x89PNG")
    (root / "chapters" / "figures" / "a map.png").write_bytes(b"\x89PNG")
    (root / "chapters" / "figures" / "link.png").symlink_to(tmp_path / "elsewhere" / "a map.png")
    book = Book(BookConfig(root=root, title="T"), (), (), Bibliography())
    chapter = Chapter(index=0, path="chapters/c.md", label="sec-c", title="C", blocks=[])
    assert image_file(book, chapter, "../../elsewhere/a%20map.png") is None
    assert image_file(book, chapter, "figures/link.png") is None
    assert image_file(book, chapter, str(tmp_path / "elsewhere" / "a map.png")) is None
    path, inside = image_file(book, chapter, "figures/a%20map.png")
    assert path == (root / "chapters" / "figures" / "a map.png").resolve()
    assert inside == "chapters/figures/a-map.png"


def test_figures_and_tables_inside_quotations_and_lists_are_numbered(edge):
    one = text_of((edge.html / "one.html").read_text(encoding="utf-8"))
    # the chapter's own figure is 1.1; the quoted one (pandoc-crossref spelling) 1.2; the listed table 1.1
    assert "Figure 1.2 is in a quotation and Table 1.1 in a list" in one
    assert "Figure 1.2: A figure quoted from another volume." in one
    assert "Table 1.1: Events in a list" in one


def test_axe_core_finds_no_violation_and_every_page_reflows_on_a_phone(edge):
    """Long web addresses (one bare, one linked) break on a screen 320 pixels wide instead of widening the page."""
    from .test_html import node_tool
    report = node_tool("axe.mjs", str(edge.html))
    assert report["violations"] == [] and report["reflow"] == [], json.dumps(report, indent=1)[:4000]


def test_an_abstract_is_read_as_markdown(edge):
    """A chapter's abstract is Markdown, as in pandoc: its emphasis, code, small caps and link are printed as
    such (the EPUB and HTML staying valid, above), its quotes and other text as written."""
    page = (edge.html / "preface.html").read_text(encoding="utf-8")
    printed = ('<p class="abstract">Why <em>Edge Cases</em> matter: <code>code</code>, <span class="smallcaps">'
               'small caps</span>, a <a href="https://example.org/?a=1&amp;b=2">link</a> and 5 &lt; 6, read as '
               'Markdown as pandoc reads it.</p>')
    assert printed in page
    assert '<meta name="description" content="Why Edge Cases matter: code, small caps, a link and 5 &lt; 6,' in page
    with zipfile.ZipFile(edge.epub) as archive:
        assert printed in archive.read("EPUB/preface.xhtml").decode("utf-8")
    flat = Pdf(edge.pdf).flat()
    assert "Why Edge Cases matter: code, small caps, a link and 5 < 6" in flat and "*Edge" not in flat


def test_abstracts_pandoc_would_read_oddly_are_printed_as_written():
    """An abstract is read on its own (a rule or a link definition in one changes no other), and one holding
    what the editions do not print as markup (math, a citation, raw HTML, an unsafe link, a rule), nested
    absurdly deep or written to make pandoc slow is printed exactly as written."""
    from markupsafe import Markup

    from build_book.abstracts import abstract_views

    odd = ["*_" * 300 + "x" + "_*" * 300, "[" * 30 + "x" + "]" * 30, "Before\n\n* * *\n\nafter *x*",
           "[here]: https://evil.example/", "see [here] and *this*, $a*b$ and $c*d$",
           "An [evil](javascript:alert(1)) *link*", "*Cited* [@walt1987]", "<b>bold</b> *x*"]
    fine = "Visit <https://example.org> today, AT&amp;T *now*, \\LaTeX."
    broken = "Line one with *emph*\\\nline two."
    tongues = "The [日米同盟]{lang=ja} and *[x]{lang='en\" onclick=\"y'}*"
    handles = "Follow @jdoe and -@jdoe on *X*"
    views = abstract_views(odd + [fine, broken, tongues, tongues.split(" *")[0], handles])
    assert views[handles] == (Markup("Follow @jdoe and -@jdoe on <em>X</em>"), "Follow @jdoe and -@jdoe on X")
    assert views[broken] == (Markup("Line one with <em>emph</em><br />line two."), "Line one with emph line two.")
    assert views[tongues] == (Markup.escape(tongues), tongues)     # a lang= that is no language: as written
    assert views[tongues.split(" *")[0]][0] == Markup('The <span lang="ja">日米同盟</span> and')
    for text in odd:
        assert views[text] == (Markup.escape(text), text), text
    assert views[fine] == (Markup('Visit <a href="https://example.org">https://example.org</a> today, AT&amp;T '
                                  '<em>now</em>, \\LaTeX.'), "Visit https://example.org today, AT&T now, \\LaTeX.")


def test_an_abstract_printed_as_written_is_a_located_warning(tmp_path):
    """An abstract holding what an abstract does not print (a citation, a cross-reference, a formula, raw
    HTML, a note, a link within the book, several paragraphs or a list, brackets nested for pandoc to be
    slow over) is printed as written, Markdown and all, and a warning at the abstract says what; a plain
    one, a marked-up one, one over two lines and a bare '@handle' (printed as written) get none."""
    from .conftest import run_cli

    abstracts = {"a": 'abstract: "With [@walt1987] and *emphasis*."', "b": "abstract: A formula, $x^2$, *here*.",
                 "c": "abstract: |\n  First *paragraph*.\n\n  Second one.", "d": 'abstract: "Raw <b>bold</b>."',
                 "e": "abstract: See [the data](#sec-a) *now*.", "f": "abstract: Noted.^[A note.]",
                 "g": "abstract: Follow *us* at @alliances.", "h": "abstract: A [日本]{lang=ja} *fine* one.",
                 "i": "abstract: Plain words.", "j": 'abstract: "Follow @jdoe. See [@walt1987]."',
                 "k": "abstract: |\n  One.\n\n  Two.", "l": "abstract: |\n  - one\n  - two",
                 "m": "abstract: |\n  One line\n  and [a link](HTTPS://EXAMPLE.ORG/).",
                 "n": "abstract: '[[[[[[[[x]]]]]]]]'", "o": "abstract: As @sec-a says."}
    (tmp_path / "chapters").mkdir()
    (tmp_path / "book.yml").write_text("title: Abstracts\nchapters: [" + ", ".join(f"chapters/{n}.md" for n in abstracts)
                                       + "]\n", encoding="utf-8")
    for name, line in abstracts.items():
        (tmp_path / "chapters" / f"{name}.md").write_text(f"---\n{line}\n---\n\n# {name.upper()} {{#sec-{name}}}\n\n"
                                                          "Text.\n", encoding="utf-8")
    result = run_cli("check", "--book", str(tmp_path), "--format", "json")
    found = {d["path"][-4:]: (d["line"], d["column"], d["message"].split("it holds ")[-1])
             for d in json.loads(result.stdout) if d["code"] == "abstract-as-written"}
    several = ("this abstract is printed as written, its Markdown too: pandoc reads it as more than one paragraph "
               "of text (several paragraphs, a list or a heading)")
    assert found == {"a.md": (2, 12, "a citation '[@walt1987]', which an abstract does not print"),
                     "b.md": (2, 11, "a formula '$x^2$', which an abstract does not print"),
                     "c.md": (3, 3, several),
                     "d.md": (2, 12, "raw HTML '<b>', which an abstract does not print"),
                     "e.md": (2, 11, "a link to '#sec-a', which an abstract does not print"),
                     "f.md": (2, 11, "a footnote, which an abstract does not print"),
                     "j.md": (2, 12, "a citation '[@walt1987]', which an abstract does not print"),
                     "k.md": (3, 3, several), "l.md": (3, 3, several),
                     "n.md": (2, 12, "brackets nested more than 6 deep, which pandoc would take minutes over"),
                     "o.md": (2, 11, "a cross-reference '@sec-a', which an abstract does not print")}, found


def test_an_image_in_a_title_is_found_where_the_texts_images_are(tmp_path):
    """A title's image (its path written from the chapter's folder, as in the text) is copied and shown in
    the web edition: its path was taken twice for one in the chapter's folder."""
    from .conftest import run_cli

    (tmp_path / "chapters" / "figures").mkdir(parents=True)
    (tmp_path / "chapters" / "figures" / "logo.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10"><rect width="20" height="10"/></svg>')
    (tmp_path / "book.yml").write_text("title: Logos\nchapters: [chapters/a.md]\n", encoding="utf-8")
    (tmp_path / "chapters" / "a.md").write_text("# The ![logo](figures/logo.svg) Chapter {#sec-a}\n\nText.\n")
    assert run_cli("html", "--book", str(tmp_path)).returncode == 0
    page = (tmp_path / "build" / "html" / "a.html").read_text(encoding="utf-8")
    src = page.split('<h1 class="chapter-title">')[1].split('src="')[1].split('"')[0]
    assert (tmp_path / "build" / "html" / src).is_file(), src


def test_a_deeply_nested_list_stays_on_the_page_in_print(tmp_path):
    """A list nested 24 deep (pandoc reads two spaces a level) was set 6 mm further right at each level (a list
    marked '(a)' more), its deepest items past the page's edge, where no reader sees them: past eight levels, it
    goes no further."""
    (tmp_path / "book.yml").write_text("title: T\nchapters: [a.md]\n", encoding="utf-8")
    # (items marked '(a)' nest by four spaces; their numbering's indent is a rule of its own, which this one is over)
    (tmp_path / "a.md").write_text("# A\n\n" + "".join("  " * n + f"- item{n}\n" for n in range(24)) + "\n" +
                                   "".join("    " * n + f"(a) item{n + 24}\n" for n in range(24)), encoding="utf-8")
    result = run_cli("pdf", "--book", str(tmp_path))
    assert result.returncode == 0, result.stderr
    pdf = Pdf(tmp_path / "build" / "t.pdf")
    right: dict[str, float] = {}
    for page in pdf.reader.pages:
        width = float(page.mediabox.width)
        page.extract_text(visitor_text=lambda text, cm, tm, *_: right.update(
            {word: tm[4] * cm[0] + cm[4] for word in text.split() if word.startswith("item")}))
    assert sorted(right, key=lambda w: int(w[4:])) == [f"item{n}" for n in range(48)]
    assert max(right.values()) < width - 100, right    # (its start, with room for its word before the margin)
