"""The PDF laid out in pieces (render/pieces.py) is the PDF laid out as one document, in all that
matters; an edit lays out again only the piece it touches."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from .conftest import REPO, copy_book
from .pdfinfo import Pdf, destination_page, link_destinations

SLUG = "alliances-in-miniature"


# build_book with every PDF WeasyPrint writes tagged (PDF/UA-1), as the print edition's writer may ask
TAGGED = """
import sys
import weasyprint
original = weasyprint.Document.write_pdf
def write_pdf(self, target=None, zoom=1, finisher=None, **options):
    options.setdefault("pdf_variant", "pdf/ua-1")
    return original(self, target, zoom, finisher, **options)
weasyprint.Document.write_pdf = write_pdf
from build_book import cli
sys.exit(cli.main(sys.argv[1:]))
"""


def build(root, *, one_document=False, tagged=False) -> subprocess.CompletedProcess:
    env = {**os.environ, "BUILD_BOOK_PDF_PIECES": "0" if one_document else "1",
           "BUILD_BOOK_PDF_TIMEOUT": os.environ.get("BUILD_BOOK_PDF_TIMEOUT", "600")}   # a busy machine
    command = ["-c", TAGGED] if tagged else ["-m", "build_book"]
    result = subprocess.run([sys.executable, *command, "pdf", "--book", str(root)], cwd=REPO,
                            capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr
    return result


def laid_out(result) -> tuple[int, int]:
    found = re.search(r"joining (\d+) pieces \((\d+) laid out", result.stderr)
    assert found, result.stderr
    return int(found.group(1)), int(found.group(2))


def outline_pages(pdf: Pdf) -> list:
    def walk(items):
        out = []
        for item in items:
            if isinstance(item, list):
                out.append(walk(item))
            else:
                out.append((item.title, pdf.reader.get_destination_page_number(item)))
        return out
    return walk(pdf.reader.outline)


def same(a: Pdf, b: Pdf) -> None:
    assert len(a.pages) == len(b.pages)
    assert a.pages == b.pages                                  # every page's text, contents numbers included
    assert [a.folio(i) for i in range(len(a.pages))] == [b.folio(i) for i in range(len(b.pages))]
    assert outline_pages(a) == outline_pages(b)
    assert [link_destinations(a, i) for i in range(len(a.pages))] == \
        [link_destinations(b, i) for i in range(len(b.pages))]
    names = a.reader.named_destinations
    assert set(names) == set(b.reader.named_destinations)
    assert {n: destination_page(a, n) for n in names} == {n: destination_page(b, n) for n in names}
    assert a.reader.metadata == b.reader.metadata
    assert a.reader.page_labels == b.reader.page_labels
    assert font_boxes(a) == font_boxes(b)


def font_boxes(pdf: Pdf) -> dict[str, set]:
    """Each embedded font's bounding boxes (a joined font's encloses every piece's glyphs)."""
    boxes: dict[str, set] = {}
    for page in pdf.reader.pages:
        for font in page["/Resources"].get("/Font", {}).values():
            font = font.get_object()
            described = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            if "/FontDescriptor" in described:
                descriptor = described["/FontDescriptor"].get_object()
                box = tuple(round(float(n), 3) for n in descriptor["/FontBBox"])
                boxes.setdefault(str(font["/BaseFont"]), set()).add(box)
    return boxes


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    root = copy_book("mini", tmp_path_factory)
    assert "page-references: true" in (root / "book.yml").read_text(encoding="utf-8")
    one = tmp_path_factory.mktemp("one") / "mini"
    shutil.copytree(root, one)
    cold = build(root)
    whole = build(one, one_document=True)
    return root, one, cold, whole


def test_pieces_give_the_one_document_pdf(books):
    root, one, cold, whole = books
    # the one document's progress: each pass over the pages, then the writing, with its pages
    told = [line.split("] ", 1)[1] for line in whole.stderr.splitlines() if "] " in line]
    layout = told.index("laying out pages (WeasyPrint)")
    writing = told.index(f"writing the PDF ({len(Pdf(one / 'build' / f'{SLUG}.pdf').pages)} pages)")
    # (the contents' page numbers: the mini book's pages are made again at least once)
    assert "pass 2 over the pages, for the page numbers they show" in told[layout + 1:writing]
    pieces, count = laid_out(cold)
    assert pieces == 7 and count >= pieces     # front, 2 parts, 3 chapters and an appendix... and bibliography
    a, b = Pdf(one / "build" / f"{SLUG}.pdf"), Pdf(root / "build" / f"{SLUG}.pdf")
    same(a, b)
    contents = b.flat(b.page_of("Contents"))
    assert re.search(r"Cases of Alliance[ .]*\d+", contents)
    assert "?" not in b.flat()


def test_a_cold_build_lays_out_each_piece_once_the_front_matter_beside_the_others(tmp_path_factory):
    """Without page numbers in the chapters (page-references: false), a cold build lays out every
    piece once, in one pass: the front matter, whose contents show the others' page numbers, is laid
    out when they are (told them when they are paginated), not in a second pass after them."""
    root = copy_book("mini", tmp_path_factory)
    yml = root / "book.yml"
    yml.write_text(yml.read_text(encoding="utf-8").replace("page-references: true", "page-references: false"),
                   encoding="utf-8")
    one = tmp_path_factory.mktemp("one-no-refs") / "mini"
    shutil.copytree(root, one)
    cold = build(root)
    assert laid_out(cold) == (7, 7), cold.stderr
    assert "pass 2" not in cold.stderr
    build(one, one_document=True)
    pieces = Pdf(root / "build" / f"{SLUG}.pdf")
    same(Pdf(one / "build" / f"{SLUG}.pdf"), pieces)
    assert re.search(r"Cases of Alliance[ .]*\d+", pieces.flat(pieces.page_of("Contents")))


def test_an_edit_lays_out_one_chapter_again(books):
    root, one, _, _ = books
    chapter = root / "chapters" / "02-cases.md"
    text = chapter.read_text(encoding="utf-8")
    assert "This chapter builds on" in text
    for book in (root, one):
        (book / "chapters" / "02-cases.md").write_text(
            text.replace("This chapter builds on", "This chapter builds directly on", 1), encoding="utf-8")
    edited = build(root)
    _, count = laid_out(edited)
    assert count == 1, edited.stderr
    build(one, one_document=True)
    same(Pdf(one / "build" / f"{SLUG}.pdf"), Pdf(root / "build" / f"{SLUG}.pdf"))
    shutil.rmtree(root / "build")
    clean = build(root)
    assert laid_out(clean)[1] >= 7
    same(Pdf(one / "build" / f"{SLUG}.pdf"), Pdf(root / "build" / f"{SLUG}.pdf"))


def test_a_renumbering_edit_gives_the_pdf_of_a_clean_build(books):
    """A chapter grows by pages: the pieces after it move (new folios, page references, contents),
    and the PDF is still the one document's."""
    root, one, _, _ = books
    chapter = root / "chapters" / "01-origins.md"
    text = chapter.read_text(encoding="utf-8")
    grown = text.replace("### Asymmetry", "\n\n".join(
        f"Filler paragraph {i} on alliance politics, written to push the later sections onto other pages "
        "and so change every folio and page reference that follows it in the book. " * 3 for i in range(40))
        + "\n\n### Asymmetry", 1)
    assert grown != text
    before = Pdf(root / "build" / f"{SLUG}.pdf")
    for book in (root, one):
        (book / "chapters" / "01-origins.md").write_text(grown, encoding="utf-8")
    edited = build(root)
    pieces, count = laid_out(edited)
    build(one, one_document=True)
    after = Pdf(root / "build" / f"{SLUG}.pdf")
    assert len(after.pages) > len(before.pages) + 1
    same(Pdf(one / "build" / f"{SLUG}.pdf"), after)
    # the chapter, the pieces after it whose folios moved and the contents: not the part before it
    assert 1 < count < pieces + 2, edited.stderr


def test_the_joined_fonts_are_cached_and_a_damaged_entry_is_made_again(books):
    """Each font joined from the pieces' subsets is cached; a join from the cache, or after a cached
    font was damaged, makes the same PDF, byte for byte."""
    root, _, _, _ = books
    target, folder = root / "build" / f"{SLUG}.pdf", root / "build" / ".cache" / "pdf-pieces"
    fonts = sorted(folder.glob("*.otf"))
    assert fonts, "the pieces share no font"
    before = target.read_bytes()
    target.unlink()
    again = build(root)
    assert laid_out(again)[1] == 0, again.stderr       # every piece and font from the cache
    assert target.read_bytes() == before
    whole = fonts[0].read_bytes()
    fonts[0].write_bytes(whole[:len(whole) // 2])
    target.unlink()
    build(root)
    assert target.read_bytes() == before
    assert fonts[0].read_bytes() == whole              # joined again, and cached again


def structure(pdf: Pdf) -> tuple[list, list, list]:
    """A tagged PDF's structure elements (depth, type, alt text) in order, each page's marked
    content (MCIDs) as the structure tree and its parent tree say, and the annotations it tags."""
    reader = pdf.reader
    pages = {page.indirect_reference.idnum: i for i, page in enumerate(reader.pages)}
    tree = reader.trailer["/Root"]["/StructTreeRoot"].get_object()
    elements, marked, annotations = [], [], []

    def walk(item, depth, page):
        node = item.get_object()
        if isinstance(node, int):
            marked.append((page, int(node)))
            return
        if node.get("/Type") == "/OBJR":
            annotations.append(node.raw_get("/Obj").idnum)
            return
        page = pages[node.raw_get("/Pg").idnum] if "/Pg" in node else page
        elements.append((depth, str(node.get("/S")), str(node.get("/Alt", ""))))
        kids = node.get("/K")
        kids = [] if kids is None else kids.get_object()
        for kid in kids if isinstance(kids, list) else [kids]:
            walk(kid, depth + 1, page)

    for item in tree["/K"]:
        walk(item, 0, None)
    nums = tree["/ParentTree"]["/Nums"]
    parents = {int(nums[i]): nums[i + 1].get_object() for i in range(0, len(nums), 2)}
    keys = [page.get("/StructParents") for page in reader.pages]
    annots = {a.idnum: a.get_object() for page in reader.pages for a in page.get("/Annots") or []}
    assert set(annotations) <= set(annots)                # every tagged link is an annotation of a page
    used = [k for k in keys if k is not None] + [a["/StructParent"] for a in annots.values() if "/StructParent" in a]
    assert sorted(used) == sorted(parents)                # one parent-tree entry for each, none missing
    per_page = [len(parents[k]) if k is not None else 0 for k in keys]   # compared with one document's
    return elements, marked, per_page


def test_a_tagged_pdf_stays_tagged_in_pieces(tmp_path_factory):
    """Pieces written as tagged PDF (PDF/UA-1) are joined into one structure tree: the same
    elements, alt texts and marked content on each page as the one document's, /Lang, /MarkInfo
    and the XMP metadata kept."""
    root = copy_book("mini", tmp_path_factory)
    one = tmp_path_factory.mktemp("tagged-one") / "mini"
    shutil.copytree(root, one)
    build(root, tagged=True)
    build(one, one_document=True, tagged=True)
    a, b = Pdf(one / "build" / f"{SLUG}.pdf"), Pdf(root / "build" / f"{SLUG}.pdf")
    same(a, b)
    elements, marked, per_page = structure(b)
    assert (elements, marked, per_page) == structure(a)
    assert [e[1] for e in elements if e[0] == 0] == ["/Document"]
    assert any(e[1] == "/Figure" and e[2] for e in elements)
    for catalog in (a.reader.trailer["/Root"], b.reader.trailer["/Root"]):
        assert catalog["/Lang"] == "en" and catalog["/MarkInfo"]["/Marked"]
    assert a.reader.xmp_metadata is not None and b.reader.xmp_metadata is not None
    assert b.reader.xmp_metadata.dc_title == a.reader.xmp_metadata.dc_title


# ---------------------------------------------------------------- footnotes deferred to the next page

def _start(root, command: str, *, one_document: bool, epoch: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "BUILD_BOOK_PDF_PIECES": "0" if one_document else "1",
           "BUILD_BOOK_PDF_TIMEOUT": os.environ.get("BUILD_BOOK_PDF_TIMEOUT", "600")}
    if epoch:
        env["SOURCE_DATE_EPOCH"] = epoch
    return subprocess.Popen([sys.executable, "-m", "build_book", command, "--book", str(root)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _finish(*runs: subprocess.Popen) -> list[str]:
    """Each run's stderr, once all have ended well."""
    done = [(run.wait(timeout=900), *run.communicate()) for run in runs]
    for code, _, err in done:
        assert code == 0, err
    return [err for _, _, err in done]


# A footnote called on the last line of a page, where it does not fit: WeasyPrint defers it to the
# next page. That page shows a page number that was not known on the first pass, so it is made again;
# the page with the call is not (render/footnotes.py).
DEFERRED = """<style>@page {{ size: 300px 300px; margin: 20px }} html {{ font-size: 10px; line-height: 12px }}
.fn {{ float: footnote }} a::after {{ content: " on page " target-counter(attr(href), page) }}</style>
{before}<p>The call<span class="fn">THE NOTE</span> and more text that goes on.</p>
{filler}<p><a href="#t">See</a></p>{after}<p id="t">target</p>"""


def _deferred_layouts() -> dict[int, tuple[list[int], list[int], list[str]]]:
    """For texts of different lengths before the call: the pages with the call, with the note, and
    the notes ``footnotes.lost`` finds."""
    from weasyprint import HTML

    from build_book.render import footnotes

    filler = "<p>" + "word " * 30 + "</p>"
    out = {}
    for n in range(5, 12):
        document = HTML(string=DEFERRED.format(before=filler * n, filler=filler * 3, after=filler * 6)).render()
        texts = [" ".join(b.text for b in page._page_box.descendants() if getattr(b, "text", ""))
                 for page in document.pages]
        out[n] = ([i for i, t in enumerate(texts) if "The call" in t],
                  [i for i, t in enumerate(texts) if "THE NOTE" in t], footnotes.lost(document))
    return out


def test_a_footnote_deferred_to_a_page_made_again_is_kept(monkeypatch):
    import weasyprint.layout.page as page

    from build_book.render import footnotes

    original = getattr(page.remake_page, "original", page.remake_page)
    monkeypatch.setattr(page, "remake_page", original)
    before = _deferred_layouts()
    lost = [n for n, (_, notes, missing) in before.items() if not notes]
    # WeasyPrint 70 loses it (if this fails, WeasyPrint keeps it itself: render/footnotes.py can go)
    assert lost, before
    assert all(before[n][2] == ["THE NOTE"] for n in lost)     # and the check says so
    footnotes.install()
    after = _deferred_layouts()
    for n, (calls, notes, missing) in after.items():
        assert len(calls) == 1 and len(notes) == 1 and not missing, (n, after[n])
        assert notes[0] in (calls[0], calls[0] + 1)
    assert all(after[n][1][0] == after[n][0][0] + 1 for n in lost)   # deferred, to the next page


def _broken_float_layouts() -> dict[int, list[int]]:
    """For texts of different lengths before it: the pages with the end of a float (a proof's margin
    comment) that may break across the foot of a page, whose next page is made again."""
    from weasyprint import HTML

    filler = "<p>" + "word " * 30 + "</p>"
    comment = "<div style='float: right; width: 60px; font-size: 8px'>" + \
        " ".join(f"M{i}" for i in range(14)) + " COMMENTEND</div>"
    out = {}
    for n in range(3, 10):
        html = DEFERRED.format(before=filler * n, filler=filler * 3, after=filler * 6).replace(
            '<p>The call<span class="fn">THE NOTE</span>', f"<p>{comment}The call")
        document = HTML(string=html).render()
        out[n] = [i for i, page in enumerate(document.pages) if any(
            "COMMENTEND" in (getattr(b, "text", "") or "") for b in page._page_box.descendants())]
    return out


def test_the_rest_of_a_float_broken_across_a_page_made_again_is_kept(monkeypatch):
    import weasyprint.layout.page as page

    from build_book.render import footnotes

    monkeypatch.setattr(page, "remake_page", getattr(page.remake_page, "original", page.remake_page))
    before = _broken_float_layouts()
    assert [n for n, pages in before.items() if not pages], before    # WeasyPrint 70 loses it
    footnotes.install()
    after = _broken_float_layouts()
    assert all(len(pages) == 1 for pages in after.values()), after


def _pages_text(path) -> list[str]:
    """pdftotext's text of each page (layout kept: the proof line, the running heads)."""
    count = len(Pdf(path).pages)
    return [subprocess.run(["pdftotext", "-layout", "-f", str(i), "-l", str(i), str(path), "-"],
                           capture_output=True, text=True, check=True).stdout for i in range(1, count + 1)]


@pytest.fixture(scope="module")
def proofs(tmp_path_factory):
    """mini's proof laid out as one document and in pieces (outside git, at a fixed time): the PDFs."""
    roots = [copy_book("mini", tmp_path_factory) for _ in range(2)]
    _finish(_start(roots[0], "proof", one_document=True, epoch="1700000000"),
            _start(roots[1], "proof", one_document=False, epoch="1700000000"))
    return [root / "build" / "proof" / f"{SLUG}.pdf" for root in roots]


def test_a_proof_in_pieces_is_the_one_document_proof(proofs):
    one, pieces_pdf = Pdf(proofs[0]), Pdf(proofs[1])
    same(one, pieces_pdf)
    texts = _pages_text(proofs[1])
    assert _pages_text(proofs[0]) == texts
    # the footnote deferred from chapter 1's first page (the status line pushes the text down) is
    # on the next page, and the figure after it where the page reference says
    call = pieces_pdf.page_of("security dilemma")
    assert pieces_pdf.page_of("On the dilemma see also") == call + 1
    figure = pieces_pdf.page_of("Figure 1.1: A map of the alliance members")
    assert f"Figure 1.1 on page {pieces_pdf.folio(figure)} shows the members" in pieces_pdf.flat()
    # the part page's proof line: the status of the chapter before it (the preface's), as in one document
    part = next(i for i in range(call) if "Part I" in pieces_pdf.flat(i) and "Foundations" in pieces_pdf.flat(i)
                and "Contents" not in pieces_pdf.flat(i))
    assert any(line.rstrip().endswith("not in git · final") for line in texts[part].splitlines()), texts[part]


def test_a_footnote_deferred_past_a_pieces_last_page_is_kept(tmp_path_factory):
    """A note called on the last line of a chapter ending on a left-hand page, where it does not fit:
    one document prints it at the foot of the next chapter's first page, which pieces cannot; the
    book is laid out as one document instead (the note is not lost)."""
    roots = [copy_book("mini", tmp_path_factory) for _ in range(2)]
    cases = roots[0] / "chapters" / "02-cases.md"
    text = cases.read_text(encoding="utf-8") + "\n" + "".join(
        f"Filler paragraph number {i} of the case.\n\n" for i in range(42)) + \
        "The last sentence of the chapter calls a note.[^last]\n\n[^last]: " + \
        "A long note that cannot fit at the foot of the page where it is called, " * 6 + "ENDNOTE.\n"
    for root in roots:
        (root / "chapters" / "02-cases.md").write_text(text, encoding="utf-8")
    pieces_err, _ = _finish(_start(roots[0], "pdf", one_document=False), _start(roots[1], "pdf", one_document=True))
    one, pieces_pdf = Pdf(roots[1] / "build" / f"{SLUG}.pdf"), Pdf(roots[0] / "build" / f"{SLUG}.pdf")
    call, note = one.page_of("calls a note"), one.page_of("ENDNOTE")
    assert note == call + 1 and int(one.folio(call)) % 2 == 0, "the case no longer defers the note past the chapter"
    assert "deferred past the end of a piece" in pieces_err
    same(one, pieces_pdf)
    assert pieces_pdf.page_of("ENDNOTE") == note


def test_a_proof_comment_broken_past_a_pieces_last_page_is_kept(tmp_path_factory):
    """The same for the rest of a proof's margin comment broken across the foot of a chapter's last page."""
    roots = [copy_book("mini", tmp_path_factory) for _ in range(2)]
    cases = roots[0] / "chapters" / "02-cases.md"
    text = cases.read_text(encoding="utf-8") + "\n" + "".join(
        f"Filler paragraph number {i} of the case.\n\n" for i in range(42)) + \
        "The last sentence of the chapter {==carries==}{>>" + "a long margin comment that runs on " * 5 + \
        "COMMENTEND<<} a comment.\n"
    for root in roots:
        (root / "chapters" / "02-cases.md").write_text(text, encoding="utf-8")
    pieces_err, _ = _finish(_start(roots[0], "proof", one_document=False, epoch="1700000000"),
                            _start(roots[1], "proof", one_document=True, epoch="1700000000"))
    one = Pdf(roots[1] / "build" / "proof" / f"{SLUG}.pdf")
    pieces_pdf = Pdf(roots[0] / "build" / "proof" / f"{SLUG}.pdf")
    start, end = one.page_of("The last sentence of the chapter"), one.page_of("COMMENTEND")
    assert end == start + 1 and int(one.folio(start)) % 2 == 0, "the case no longer breaks the comment"
    assert "deferred past the end of a piece" in pieces_err
    same(one, pieces_pdf)


def test_a_footnote_the_layout_loses_is_a_located_error(tmp_path_factory):
    """Should WeasyPrint still lose a note, the build says so where the author wrote it."""
    from build_book.load import load_book
    from build_book.render import pdf

    book = load_book(copy_book("mini", tmp_path_factory)).book
    [diag] = pdf._lost_footnotes(book, ["On the dilemma see also (Snyder 1997, 180–85)."])
    assert diag.code == "pdf-footnote-lost" and diag.severity == "error"
    assert (diag.location.path, diag.location.line) == ("chapters/01-origins.md", 40), diag
    assert pdf._lost_footnotes(book, []) == []


def test_the_layout_processes_are_forked_with_the_books_hyphenation_dictionary():
    """The server the layout processes are forked from has read the hyphenation dictionary of the book's
    language (each piece would read it again otherwise), as WeasyPrint finds it for that language."""
    probe = """
import sys
from pathlib import Path
import pyphen
from build_book.render import pieces
assert not pyphen.hdcache
pieces.prepare(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
print(sorted(p.name for p in pyphen.hdcache))
"""
    for lang, dictionary in (("en", "hyph_en_GB.dic"), ("en-US", "hyph_en_US.dic"), ("de-DE", "hyph_de_DE.dic")):
        result = subprocess.run([sys.executable, "-c", probe, str(REPO), str(REPO / "templates" / "pdf" / "print.css"),
                                 lang], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split("\n")[0] == repr([dictionary]), (lang, result.stdout)


def test_the_layout_processes_inherit_what_the_server_loaded_frozen():
    """What the server has loaded (WeasyPrint, the fonts, print.css) is frozen for the garbage collector,
    so that no layout process forked from it writes to (and so copies) those pages collecting."""
    probe = "import gc\nfrom build_book.render import pieceserver\nprint(gc.get_freeze_count())"
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120,
                            env={k: v for k, v in os.environ.items() if k != "BUILD_BOOK_PDF_PREPARE"})
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 10_000     # WeasyPrint's modules and what they made


def test_the_volume_in_this_checkout_overrides_no_template_and_is_laid_out_in_pieces(tmp_path):
    """The volume's book.yml is at the root of build_book's checkout, whose templates/ folder holds
    build_book's own templates: they override nothing (and so the volume's PDF is made in pieces, an
    edited chapter laid out alone). A book's own templates/pdf/ still does."""
    from build_book import templating
    from build_book.render import pieces

    if templating.PACKAGE_TEMPLATES.resolve() != (REPO / "templates").resolve():
        pytest.skip("build_book is installed from a wheel here, not run from this checkout")
    assert (REPO / "templates" / "pdf").is_dir() and (REPO / "book.yml").is_file()
    assert templating.overrides(REPO) == [] and pieces.applies(REPO)
    # nor is build_book's own print.css blamed for a layout stopped at its limit
    from types import SimpleNamespace

    from build_book.render import limits, pdf
    stopped = pdf.limit_exceeded(SimpleNamespace(config=SimpleNamespace(root=REPO)), limits.OutOfTime(10), 90)
    assert stopped.location.path == "book.yml" and "print.css" not in stopped.hint
    (tmp_path / "templates" / "pdf").mkdir(parents=True)
    shutil.copy(REPO / "templates" / "pdf" / "print.css", tmp_path / "templates" / "pdf" / "print.css")
    assert templating.overrides(tmp_path) == [tmp_path / "templates" / "pdf" / "print.css"]
    assert not pieces.applies(tmp_path)


def _truetype_font() -> bytes:
    """A small TrueType font: squares and triangles for A to D, an accent, and Á made of A and the
    accent, the accent's id above Á's (as in DejaVu Sans, where an accented letter's parts may come
    after it)."""
    import io

    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib.tables._g_l_y_f import Glyph, GlyphComponent

    def drawn(points):
        pen = TTGlyphPen(None)
        pen.moveTo(points[0])
        for point in points[1:]:
            pen.lineTo(point)
        pen.closePath()
        return pen.glyph()

    order = [".notdef", "A", "Aacute", "B", "C", "D", "acute"]
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(order)
    builder.setupCharacterMap({ord("A"): "A", 0xC1: "Aacute", ord("B"): "B", ord("C"): "C", ord("D"): "D",
                               0xB4: "acute"})
    composite = Glyph()
    composite.numberOfContours, composite.components = -1, []
    for name, offset in (("A", 0), ("acute", 600)):
        component = GlyphComponent()
        component.glyphName, component.x, component.y, component.flags = name, 0, offset, 0x4
        composite.components.append(component)
    builder.setupGlyf({".notdef": drawn([(0, 0), (500, 0), (500, 700)]),
                       "A": drawn([(0, 0), (600, 0), (600, 600), (0, 600)]), "Aacute": composite,
                       "B": drawn([(0, 0), (600, 0), (300, 700)]), "C": drawn([(0, 0), (500, 100), (0, 600)]),
                       "D": drawn([(0, 0), (600, 300), (0, 600), (100, 300)]),
                       "acute": drawn([(200, 0), (400, 0), (300, 150)])})
    builder.setupHorizontalMetrics({name: (600 + 10 * n, 0) for n, name in enumerate(order)})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Joined", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost(keepGlyphNames=False)     # (as a HarfBuzz subset has it: glyphs named from the cmap)
    out = io.BytesIO()
    builder.save(out)
    return out.getvalue()


def _subset(font: bytes, gids: set[int]) -> bytes:
    """A piece's subset of ``font`` showing the glyphs ``gids``, cut as WeasyPrint 70 cuts it with
    HarfBuzz (``weasyprint.pdf.fonts.Font._harfbuzz_subset``): once keeping each glyph's id, then
    again keeping the ids up to the highest shown, which moves a composite's part above it to the
    ids after it."""
    import uharfbuzz as hb

    flags = hb.SubsetFlags.PASSTHROUGH_UNRECOGNIZED | hb.SubsetFlags.DESUBROUTINIZE
    first = hb.SubsetInput()
    for gid in gids:
        first.glyph_set.add(gid)
    first.flags = flags | hb.SubsetFlags.RETAIN_GIDS
    kept = hb.subset(hb.Face(font), first)
    second = hb.SubsetInput()
    for gid in set(gids) | set(range(max(gids) + 1)):
        second.glyph_set.add(gid)
    second.flags = flags | hb.SubsetFlags.NO_HINTING
    return hb.subset(kept, second).blob.data


def _drawing(font, gid: int) -> list:
    """Glyph ``gid`` of a TTFont as drawn, its parts drawn into it."""
    from fontTools.pens.recordingPen import DecomposingRecordingPen

    glyphs = font.getGlyphSet()
    recording = DecomposingRecordingPen(glyphs)
    glyphs[font.getGlyphOrder()[gid]].draw(recording)
    return recording.value


def test_truetype_subsets_are_joined_glyph_by_glyph_by_their_ids():
    """The pieces' TrueType subsets of one font (the volume's figures, in DejaVu Sans) are joined into
    one font, each glyph a piece shows drawn at its id as the whole font draws it. Here the first
    piece shows Á (made of A and an accent whose id is above Á's) and C: its subset moves the accent
    to the id of D, which the second piece shows, with B."""
    import io

    from fontTools.ttLib import TTFont, newTable

    from build_book.render import pieces

    font = _truetype_font()
    whole = TTFont(io.BytesIO(font))
    ids = {name: whole.getGlyphID(name) for name in ("Aacute", "B", "C", "D", "acute")}
    shown = [{ids["Aacute"], ids["C"]}, {ids["B"], ids["D"]}]
    first, second = _subset(font, shown[0]), _subset(font, shown[1])
    assert _drawing(TTFont(io.BytesIO(first)), ids["D"]) == _drawing(whole, ids["acute"])   # moved to D's id
    named = [TTFont(io.BytesIO(program)).getGlyphOrder() for program in (first, second)]
    assert any(a != b for a, b in zip(*named))     # one glyph id, two names
    joined = pieces._joined_program({first: shown[0], second: shown[1]})
    assert joined is not None
    made = TTFont(io.BytesIO(joined))
    for gid in shown[0] | shown[1]:
        name = whole.getGlyphOrder()[gid]
        assert _drawing(made, gid) == _drawing(whole, gid), name
        assert made["hmtx"][made.getGlyphOrder()[gid]][0] == whole["hmtx"][name][0], name
    assert made["maxp"].maxPoints >= 4
    # a piece that shows a glyph id the others' fonts do not have is not joined, nor a variable font
    assert pieces._joined_program({first: shown[0], second: shown[1] | {99}}) is None
    variable = TTFont(io.BytesIO(first))
    variable["gvar"] = newTable("gvar")
    variable["gvar"].version, variable["gvar"].reserved, variable["gvar"].variations = 1, 0, {}
    assert pieces._joined_outlines(variable, [(variable, shown[0]), (TTFont(io.BytesIO(second)), shown[1])]) is False
