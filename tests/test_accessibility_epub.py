"""The EPUB edition as a library and a reader using assistive technology get it: Ace by DAISY on the
volume's EPUB, the EPUB Accessibility 1.1 metadata, epub:type with ARIA roles, the cover, and the page
list, checked against the print edition's page labels and the text each printed page starts with."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from xml.etree import ElementTree

import pytest

from .conftest import REPO, copy_book, run_cli
from .pdfinfo import Pdf
from .xmlcheck import epubcheck

OPF = "{http://www.idpf.org/2007/opf}"
DC = "{http://purl.org/dc/elements/1.1/}"
XHTML = "{http://www.w3.org/1999/xhtml}"
EPUB_TYPE = "{http://www.idpf.org/2007/ops}type"
ACE = REPO / ".tools" / "node_modules" / ".bin" / "ace-puppeteer"


def read_epub(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture(scope="module")
def volume_epub(volume) -> dict[str, bytes]:
    return read_epub(volume.epub)


@pytest.fixture(scope="module")
def metadata(volume_epub) -> dict[str, list[str]]:
    meta = ElementTree.fromstring(volume_epub["EPUB/package.opf"]).find(f"{OPF}metadata")
    found: dict[str, list[str]] = {}
    for element in meta.findall(f"{OPF}meta"):
        if element.get("property"):
            found.setdefault(element.get("property"), []).append(element.text)
    return found


@pytest.fixture(scope="module")
def ace_report(volume, tmp_path_factory) -> dict:
    """Ace by DAISY's report on the volume's EPUB (run once)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not ACE.exists():
        pytest.skip(f"Ace by DAISY is not installed in {ACE.parent.parent.parent} (scripts/setup.sh --with-java "
                    "installs it with npm)")
    if chromium is None:
        pytest.skip("no Chromium for Ace by DAISY to drive (scripts/setup.sh --with-java installs it)")
    out = tmp_path_factory.mktemp("ace")
    result = subprocess.run([str(ACE), "-f", "-o", str(out), str(volume.epub)], capture_output=True, text=True,
                            timeout=600, env={**os.environ, "PUPPETEER_EXECUTABLE_PATH": chromium})
    assert (out / "report.json").is_file(), result.stdout + result.stderr
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def test_ace_reports_no_violations(ace_report):
    violations = [f"{page['earl:testSubject']['url']}: {a['earl:test']['earl:impact']} {a['earl:test']['dct:title']}: "
                  f"{a['earl:result']['dct:description']} {a['earl:result'].get('html', '')[:200]}"
                  for page in ace_report["assertions"] for a in page["assertions"]]
    assert violations == []
    assert ace_report["earl:result"]["earl:outcome"] == "pass"
    # the metadata Ace looks for is all there (a certifier's credential and report are optional)
    assert set(ace_report["a11y-metadata"]["missing"]) <= {"a11y:certifierCredential", "a11y:certifierReport"}


def test_accessibility_metadata_says_what_the_book_holds(metadata, volume_epub):
    assert metadata["schema:accessMode"] == ["textual", "visual"]        # the volume has figures
    assert metadata["schema:accessModeSufficient"] == ["textual", "textual,visual"]
    pages = [data.decode() for name, data in volume_epub.items() if name.endswith(".xhtml")]
    has_index = any(re.search(r'epub:type="[^"]*\bindex\b', page) for page in pages)
    has_math = any("<math" in page for page in pages)
    assert metadata["schema:accessibilityFeature"] == [
        "tableOfContents", "readingOrder", "structuralNavigation", "pageNavigation", *(["index"] if has_index else []),
        "alternativeText", *(["MathML"] if has_math else [])]
    assert metadata["schema:accessibilityHazard"] == ["none"]
    summary = metadata["schema:accessibilitySummary"][0]
    assert "WCAG 2.1 Level AA" in summary and "page list" in summary
    assert metadata["dcterms:conformsTo"] == ["EPUB Accessibility 1.1 - WCAG 2.1 Level AA"]
    assert metadata["a11y:certifiedBy"] == ["Japan Institute of International Affairs"]
    # every figure of the chapters has a description, which is what 'alternativeText' claims
    images = [tag for page in pages for tag in re.findall(r"<img\b[^>]*>", page)]
    assert len(images) >= 3 and all(re.search(r'\balt="[^"]+"', tag) for tag in images)
    # the print edition the page list follows
    meta = ElementTree.fromstring(volume_epub["EPUB/package.opf"]).find(f"{OPF}metadata")
    source = meta.find(f"{DC}source")
    assert source is not None and "print edition" in source.text
    refines = {m.get("refines"): m.text for m in meta.findall(f"{OPF}meta") if m.get("property") == "source-of"}
    assert refines == {f"#{source.get('id')}": "pagination"}


def test_epub_types_have_their_aria_roles(volume_epub):
    roles = {"chapter": "doc-chapter", "part": "doc-part", "appendix": "doc-appendix", "preface": "doc-preface",
             "endnotes": "doc-endnotes", "noteref": "doc-noteref", "backlink": "doc-backlink",
             "biblioref": "doc-biblioref", "bibliography": "doc-bibliography", "toc": "doc-toc",
             "page-list": "doc-pagelist", "pagebreak": "doc-pagebreak"}
    seen = set()
    for name, data in volume_epub.items():
        if not name.endswith(".xhtml"):
            continue
        page = ElementTree.fromstring(data)
        landmarks = {id(e) for nav in page.iter(f"{XHTML}nav") if nav.get(EPUB_TYPE) == "landmarks" for e in nav.iter()}
        for element in page.iter():
            for kind in (element.get(EPUB_TYPE) or "").split():
                if kind in roles and id(element) not in landmarks:   # landmarks name what they point at
                    assert element.get("role") == roles[kind], (name, kind, element.attrib)
                    seen.add(kind)
    assert seen >= set(roles) - {"preface"}
    cover = ElementTree.fromstring(volume_epub["EPUB/cover.xhtml"])
    [image] = cover.iter(f"{XHTML}img")
    assert image.get("role") == "doc-cover"
    assert image.get("alt").startswith("The Place of Alliances in US Foreign Policy: A Comparative Study")
    assert "Edited by KUBO Fumiaki" in image.get("alt")


def test_cover_is_made_from_the_title_page(volume_epub):
    import io

    from PIL import Image

    opf = ElementTree.fromstring(volume_epub["EPUB/package.opf"])
    items = {i.get("id"): i for i in opf.find(f"{OPF}manifest")}
    spine = [items[i.get("idref")].get("href") for i in opf.find(f"{OPF}spine")]
    assert spine[:2] == ["cover.xhtml", "title.xhtml"]
    [cover] = [i for i in items.values() if "cover-image" in (i.get("properties") or "").split()]
    assert (cover.get("href"), cover.get("media-type")) == ("images/cover.png", "image/png")
    picture = Image.open(io.BytesIO(volume_epub["EPUB/images/cover.png"]))
    assert picture.size == (1400, 2100)
    # dark field, light lettering: the title's strokes are there (not a blank or one-colour test card)
    colours = picture.convert("L").getcolors(256 * 256)
    assert len(colours) > 50
    assert 'epub:type="cover"' in volume_epub["EPUB/nav.xhtml"].decode()   # a landmark


def page_list(epub: dict[str, bytes]) -> list[tuple[str, str]]:
    nav = ElementTree.fromstring(epub["EPUB/nav.xhtml"])
    [pages] = [n for n in nav.iter(f"{XHTML}nav") if n.get(EPUB_TYPE) == "page-list"]
    return [("".join(a.itertext()), a.get("href")) for a in pages.iter(f"{XHTML}a")]


def assert_page_list_follows_the_pdf(epub: dict[str, bytes], pdf_path) -> None:
    """Every page of the PDF has a page-list entry with its label, in order, pointing at a page-break
    marker with that label, in reading order."""
    labels = Pdf(pdf_path).reader.page_labels
    entries = page_list(epub)
    assert [label for label, _ in entries] == list(labels)
    opf = ElementTree.fromstring(epub["EPUB/package.opf"])
    items = {i.get("id"): i.get("href") for i in opf.find(f"{OPF}manifest")}
    spine = [items[i.get("idref")] for i in opf.find(f"{OPF}spine")]
    previous = (-1, -1)
    for label, href in entries:
        name, _, fragment = href.partition("#")
        text = epub[f"EPUB/{name}"].decode()
        marker = re.search(r'<span [^>]*\bid="%s"[^>]*>' % re.escape(fragment), text)
        assert marker, href
        assert 'epub:type="pagebreak"' in marker.group(0) and 'role="doc-pagebreak"' in marker.group(0)
        assert f'aria-label="{label}"' in marker.group(0)
        where = (spine.index(name), marker.start())
        assert where > previous, f"page {label} comes before the page before it"
        previous = where


def test_page_list_has_every_page_of_the_pdf(volume, volume_epub):
    assert_page_list_follows_the_pdf(volume_epub, volume.pdf)
    labels = [label for label, _ in page_list(volume_epub)]
    assert labels[0] == "i" and "1" in labels and labels.index("1") > 4      # roman, then arabic from 1
    # `all` lays the book out once: the EPUB uses the map the PDF's layout recorded
    assert "for the EPUB's page list" not in volume.stderr


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def test_each_page_marker_stands_where_the_printed_page_starts(volume, volume_epub):
    """The text after each marker in the EPUB is the text the printed page starts with."""
    pdf = Pdf(volume.pdf)
    checked, wrong = 0, []
    for number, (label, href) in enumerate(page_list(volume_epub)):
        printed = words(pdf.flat(number))
        if len(printed) < 20:
            continue   # a blank page, or a part's title page
        name, _, fragment = href.partition("#")
        if name == "nav.xhtml":
            continue   # the printed contents (with page numbers) and the EPUB's (with sections) differ: its
            #            pages' markers stand before the EPUB's contents
        text = volume_epub[f"EPUB/{name}"].decode()
        after = text[text.index(f'id="{fragment}"'):]
        after = re.sub(r'<a [^>]*class="footnote-ref"[^>]*>.*?</a>', " ", after)   # the PDF floats notes away
        following = words(re.sub(r"<[^>]+>", " ", after.split(">", 1)[1]))[:4]
        # the page's first words, after its running head and the labels of a figure that opens it (a
        # hyphenated word's first half may end the page before)
        head = printed[:80]
        found = any(head[i:i + 3] == following[1:4] for i in range(len(head)))
        checked += 1
        if not found:
            wrong.append(f"p. {label}: EPUB has {' '.join(following)!r}, the page starts {' '.join(printed[:12])!r}")
    assert checked > 60
    assert wrong == []


def test_cover_named_in_book_yml_and_epub_alone(tmp_path_factory):
    """`cover:` puts the book's own image on the cover; `epub` alone, with no PDF laid out, does not
    lay the print edition out: its EPUB has no page list, says so, and claims no page navigation. Once
    the PDF is built, `epub` lists the PDF's pages."""
    from PIL import Image

    root = copy_book("mini", tmp_path_factory)
    Image.new("RGB", (600, 900), (120, 30, 30)).save(root / "cover.jpg", "JPEG", quality=90)
    config = root / "book.yml"
    config.write_text(config.read_text(encoding="utf-8") + "cover: cover.jpg\n", encoding="utf-8")
    result = run_cli("epub", "--book", str(root))
    assert result.returncode == 0, result.stderr
    assert "no page list in the EPUB" in result.stderr and "WeasyPrint" not in result.stderr
    epub_path = root / "build" / "alliances-in-miniature.epub"
    epub = read_epub(epub_path)
    assert epub["EPUB/images/cover.jpg"] == (root / "cover.jpg").read_bytes()
    assert "EPUB/images/cover.png" not in epub
    opf = epub["EPUB/package.opf"].decode()
    assert re.search(r'<item id="cover-image" href="images/cover.jpg" media-type="image/jpeg" '
                     r'properties="cover-image" />', opf)
    assert 'epub:type="page-list"' not in epub["EPUB/nav.xhtml"].decode()
    assert "pageNavigation" not in opf and "<dc:source" not in opf and "tableOfContents" in opf
    assert [m for m in epubcheck(epub_path) if m["severity"] in ("FATAL", "ERROR", "WARNING")] == []
    # the PDF laid out, `epub` alone finds its map: the page list is the PDF's
    result = run_cli("pdf", "--book", str(root))
    assert result.returncode == 0, result.stderr
    result = run_cli("epub", "--book", str(root))
    assert result.returncode == 0, result.stderr
    assert "no page list" not in result.stderr
    epub = read_epub(epub_path)
    assert "pageNavigation" in epub["EPUB/package.opf"].decode()
    assert_page_list_follows_the_pdf(epub, root / "build" / "alliances-in-miniature.pdf")
    # a changed chapter: the map is not the book's any more, and is not used
    chapter = root / "chapters" / "02-cases.md"
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\nOne more paragraph at the end.\n", encoding="utf-8")
    result = run_cli("epub", "--book", str(root))
    assert result.returncode == 0, result.stderr
    assert "no page list in the EPUB" in result.stderr
    assert 'epub:type="page-list"' not in read_epub(epub_path)["EPUB/nav.xhtml"].decode()


@pytest.mark.parametrize("value, code", [("../outside.png", "path-outside-book"), ("nowhere.png", "missing-file"),
                                         ("book.yml", "cover-format")])
def test_a_cover_that_cannot_be_used_is_an_error_at_its_line(tmp_path_factory, value, code):
    root = copy_book("mini", tmp_path_factory)
    (root.parent / "outside.png").write_bytes(b"")
    config = root / "book.yml"
    lines = config.read_text(encoding="utf-8").count("\n")
    config.write_text(config.read_text(encoding="utf-8") + f"cover: {value}\n", encoding="utf-8")
    result = run_cli("check", "--book", str(root), "--format", "json")
    found = [d for d in json.loads(result.stdout) if d["code"] == code]
    assert result.returncode == 1 and found, result.stdout
    assert found[0]["path"] == "book.yml" and found[0]["line"] == lines + 1
