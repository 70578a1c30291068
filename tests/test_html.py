"""The HTML edition (a multi-page site) of the 'mini' fixture book, and the volume's web edition
checked by axe-core and searched as a reader would."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from build_book.render import site as website

from .conftest import REPO, copy_book, run_cli
from .xmlcheck import anchors, broken_links, nu_validate

BASE = "https://books.example.org/miniature/"
TOOLS = REPO / ".tools" / "node_modules"
CHROMIUM = Path("/usr/bin/chromium")


def node_tool(script: str, *args: str) -> dict:
    """Run scripts/SCRIPT with Node over a built site (skipped when Node, Chromium or the npm tools are missing)."""
    missing = [what for what, ok in (("node", shutil.which("node")), ("chromium", CHROMIUM.exists()),
                                     ("puppeteer-core", (TOOLS / "puppeteer-core").is_dir()),
                                     ("axe-core", (TOOLS / "axe-core" / "axe.min.js").is_file())) if not ok]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (scripts/setup.sh --with-java installs them)")
    result = subprocess.run(["node", str(REPO / "scripts" / script), *args, "--chromium", str(CHROMIUM),
                             "--tools", str(TOOLS)], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def site(mini):
    return {p.name: p.read_text(encoding="utf-8") for p in mini.html.glob("*.html")}


def test_pages_exist(site, mini):
    assert set(site) == {"index.html", "preface.html", "origins.html", "cases.html", "appendix-data.html",
                         "bibliography.html", "404.html"}
    assert (mini.html / "style.css").is_file()
    assert (mini.html / "chapters" / "figures" / "map.svg").is_file()


def test_html_is_valid(mini):
    result = nu_validate(mini.html)
    assert result.returncode == 0, result.stdout + result.stderr


def test_links_resolve_and_lang_is_set(site, mini):
    assert broken_links(site, mini.html) == []
    assert "downloads/alliances-in-miniature.pdf" in anchors(site["cases.html"]).hrefs
    for name, text in site.items():
        page = anchors(text)
        assert page.lang == "en", name
        for src in page.srcs:
            assert (mini.html / src).is_file(), (name, src)


def test_index_has_contents_and_contributors(site):
    index = site["index.html"]
    for text in ("Alliances in Miniature", "Edited by TANAKA Hanako", "Part I: Foundations", "Origins of Alliances",
                 "Jane Smith", "Lecturer, Department of War Studies, Example College", 'href="origins.html"',
                 "Figure 1.1", "Table A.1"):
        assert text in index, text


def test_chapter_page(site):
    page = site["cases.html"]
    assert "Chapter 2" in page and "Cases of Alliance" in page
    assert "Jane Smith" in page and "TANAKA Hanako" in page
    assert 'rel="prev" href="origins.html"' in page and 'rel="next" href="appendix-data.html"' in page
    assert 'href="origins.html#fig-map"' in page                 # @fig-map across pages
    assert 'href="bibliography.html#ref-funabashi2001"' in page
    assert "Table 2.1:" in page and "日米同盟" in page
    assert 'name="viewport"' in page


def test_bibliography_page(site):
    page = site["bibliography.html"]
    for key in ("walt1987", "snyder1997", "morrow1991", "funabashi2001"):
        assert f'id="ref-{key}"' in page


def test_japanese_glyphs_are_served_as_a_web_font(site, mini):
    from fontTools.ttLib import TTFont

    assert '<span lang="ja">日米同盟</span>' in site["cases.html"]
    cmap = TTFont(str(mini.html / "fonts" / "japanese.woff2")).getBestCmap()
    assert all(ord(ch) in cmap for ch in "日米同盟の比較研究")
    assert 'url("fonts/japanese.woff2") format("woff2")' in (mini.html / "style.css").read_text(encoding="utf-8")


def test_latin_text_is_set_in_the_books_font_shipped_as_woff2_subsets(site, mini):
    from fontTools.ttLib import TTFont

    css = (mini.html / "style.css").read_text(encoding="utf-8")
    for face, weight, style in (("regular", "normal", "normal"), ("italic", "normal", "italic"),
                                ("bold", "bold", "normal"), ("bold-italic", "bold", "italic")):
        path = mini.html / "fonts" / f"latin-{face}.woff2"
        font = TTFont(str(path))
        assert font.flavor == "woff2"
        assert "Linux Libertine" in font["name"].getDebugName(1)
        cmap = font.getBestCmap()
        assert all(ord(ch) in cmap for ch in "Alliances in Miniature 0123456789"), face
        assert ord("Q") in cmap and ord("日") not in cmap        # printable ASCII always; Japanese never
        assert path.stat().st_size < 60_000                       # a subset, not the 400 kB face
        assert (f'src: url("fonts/latin-{face}.woff2") format("woff2"); font-weight: {weight}; '
                f"font-style: {style}") in css
    assert "smcp" in {r.FeatureTag for r in TTFont(str(mini.html / "fonts" / "latin-regular.woff2"))
                      ["GSUB"].table.FeatureList.FeatureRecord}    # small capitals of the authors' names survive
    assert ':root { --serif: "build_book Serif", var(--serif-fallback); }' in css


@pytest.mark.parametrize("flavor", ["woff2", None])
def test_harfbuzz_cuts_the_subsets_fonttools_would(flavor):
    """HarfBuzz cuts the subsets (fonts.py): the glyphs, characters, tables, OpenType features and names of
    fontTools' cut (which takes over where HarfBuzz cannot), for a Latin face and the Japanese font."""
    import io

    from fontTools.ttLib import TTFont

    from build_book import fonts

    def described(data: bytes) -> dict:
        font = TTFont(io.BytesIO(data))
        features = {t: sorted({r.FeatureTag for r in font[t].table.FeatureList.FeatureRecord})
                    for t in ("GSUB", "GPOS") if t in font}
        return {"glyphs": sorted(font.getGlyphOrder()), "cmap": font.getBestCmap(), "tables": sorted(font.keys()),
                "features": features, "flavor": font.flavor,
                "names": sorted((n.nameID, n.platformID, n.langID, str(n)) for n in font["name"].names)}

    cases = [(fonts.find_latin_font("bold", "italic"), "Alliances: 1951–1960, “Æsop” & ß.", False, fonts.LATIN_FEATURES),
             (fonts.find_japanese_font(), "日米同盟と安全保障、吉田茂。", True, ())]
    cut = 0
    for found, text, complete, features in cases:
        if found is None:
            continue
        by_harfbuzz = fonts._harfbuzz_cut(found, text, flavor, complete, features)
        assert by_harfbuzz, found
        assert described(by_harfbuzz) == described(fonts._fonttools_cut(found, text, flavor, complete, features))
        cut += 1
    assert cut, "neither Linux Libertine nor a Japanese font is installed (scripts/setup.sh installs both)"
    latin = fonts.find_latin_font("normal", "normal")
    if latin is not None:
        assert fonts._harfbuzz_cut(latin, "日本", flavor, True, ()) is fonts._INCOMPLETE   # it lacks them


def test_the_web_fonts_are_cut_in_threads_and_give_the_faces_one_at_a_time_gives(tmp_path, monkeypatch):
    """With HarfBuzz, the faces are cut by threads of the build (its cut and brotli's compression let other
    threads run), not by processes forked from it; each face as the cut of one at a time."""
    import threading

    from build_book import fonts

    text = "Alliances: 1951–1960, “Æsop” & ß, NATO (Weitsman 2004)."
    alone = tmp_path / "alone"
    (alone / "build").mkdir(parents=True)
    one_at_a_time = {face.name: face.font.path.read_bytes() for face in fonts.start_web_fonts("", text, alone)()[1]}
    assert len(one_at_a_time) == 4, "Linux Libertine's four faces are not installed (scripts/setup.sh installs them)"

    def no_fork(*args, **kwargs):
        raise AssertionError("a process pool was started")

    monkeypatch.setattr(fonts, "ProcessPoolExecutor", no_fork)
    threads: set[str] = set()
    cut = fonts._cut_args
    monkeypatch.setattr(fonts, "_cut_args", lambda args: threads.add(threading.current_thread().name) or cut(args))
    together = tmp_path / "together"
    (together / "build").mkdir(parents=True)
    faces = fonts.start_web_fonts("", text, together, workers=2)()[1]
    assert {face.name: face.font.path.read_bytes() for face in faces} == one_at_a_time
    assert threading.current_thread().name not in threads and len(threads) == 2


def test_fonttools_defaults_are_kept_so_that_a_build_need_not_import_its_subsetter(tmp_path):
    """The HarfBuzz cut needs only fontTools' default lists of tables and features: the first process takes
    them from fontTools' subsetter and keeps them in the user's cache; the next ones read them there, without
    importing it (0.1-0.3 s of a build's CPU); a damaged file is read from fontTools again."""
    import sys

    code = ("import sys, json; from build_book import fonts; d = fonts._fonttools_defaults(); "
            "print(json.dumps([d, 'fontTools.subset' in sys.modules]))")

    def run() -> tuple[list, bool]:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO,
                             env={**__import__("os").environ, "XDG_CACHE_HOME": str(tmp_path)})
        return json.loads(out.stdout)

    from fontTools import subset, version
    expected = [list(subset.Options().drop_tables), list(subset.Options().layout_features)]
    assert run() == [expected, True]         # taken from fontTools, and kept
    kept = tmp_path / "build_book" / f"fonttools-subset-{version}.json"
    assert json.loads(kept.read_text())["layout_features"] == expected[1]
    assert run() == [expected, False]        # read from the cache: the subsetter not imported
    kept.write_text('{"format": 1, "drop_tables": ["JSTF"], "layout_features": [3]}')
    assert run() == [expected, True]         # damaged: from fontTools again, and kept right
    assert run() == [expected, False]


def test_every_page_has_a_skip_link_a_sidebar_and_the_current_page_marked(site):
    for name, page in site.items():
        assert '<a class="skip-link" href="#content">Skip to content</a>' in page, name
        assert '<main id="content"' in page, name
        assert '<nav class="sidebar" aria-label="Book contents">' in page, name
    cases = site["cases.html"]
    assert '<a href="cases.html" aria-current="page">' in cases
    assert cases.count('aria-current="page"') == 1
    sections = re.search(r'<ol class="side-sections".*?</ol>', cases, re.S).group(0)
    assert 'href="#sec-cases-' in sections                      # the page's own sections, under its entry
    assert 'class="side-sections"' not in site["origins.html"].split('aria-current="page"')[0]


def test_footnote_back_links_are_named_and_notes_and_citations_pop_up(site):
    origins = site["origins.html"]
    assert 'class="footnote-back" role="doc-backlink" aria-label="Back to note 1 reference">' in origins
    # the note beside its reference, described to screen readers, hidden from search and the a11y tree
    note = re.search(r'<span class="pop-anchor pop-note"><a href="#fn1"[^>]* aria-describedby="(pop-\d+)">.*?</a>'
                     r'<span class="pop" id="\1" role="tooltip" aria-hidden="true" data-pagefind-ignore>(.*?)</span></span>',
                     origins, re.S)
    assert note and "On the dilemma see also" in note.group(2) and "<a " not in note.group(2)
    cite = re.search(r'<span class="pop-anchor pop-cite"><a href="bibliography.html#ref-snyder1997"[^>]* '
                     r'aria-describedby="(pop-\d+)">.*?</a><span class="pop" id="\1"[^>]*>(.*?)</span></span>',
                     origins, re.S)
    assert cite and "Alliance Politics" in cite.group(2)           # the formatted entry, not just the key
    assert len(set(re.findall(r'id="(pop-\d+)"', origins))) == len(re.findall(r'id="pop-\d+"', origins))


def test_figure_alt_text_is_the_images_own_description_not_the_caption(site, mini):
    figure = re.search(r"<figure id=\"fig-map\">.*?</figure>", site["origins.html"], re.S).group(0)
    alt = re.search(r'<img alt="([^"]*)"', figure).group(1)
    assert alt == "Alliance members."                              # the SVG's <title>
    assert website.svg_description(mini.html / "chapters" / "figures" / "map.svg") == ["Alliance members."]
    caption = re.search(r"<figcaption>(.*?)</figcaption>", figure, re.S).group(1)
    assert alt.rstrip(".") not in caption


def test_figure_alt_text_rules(tmp_path):
    svg_less = ('<figure id="fig-a"><img src="x.png" alt="A map of treaties." />'
                '<figcaption><span class="caption-label">Figure 1:</span> A map of treaties.</figcaption></figure>')
    assert '<img alt="" src="x.png" />' in website.figure_alts(svg_less, Path("/nonexistent"))
    own = svg_less.replace('alt="A map of treaties."', 'alt="Lines join Washington to five capitals."')
    assert 'alt="Lines join Washington to five capitals."' in website.figure_alts(own, Path("/nonexistent"))
    with_svg = tmp_path / "x.svg"
    with_svg.write_text('<svg xmlns="http://www.w3.org/2000/svg"><title>A map of treaties</title>'
                        "<desc>Lines join Washington to five capitals</desc></svg>", encoding="utf-8")
    described = website.figure_alts(svg_less.replace("x.png", "x.svg"), tmp_path)
    assert '<img alt="Lines join Washington to five capitals." src="x.svg" />' in described   # the title is the caption
    quarto = svg_less.replace('alt="A map', 'data-fig-alt="Quarto words" alt="A map')
    assert '<img alt="Quarto words" src="x.png" />' in website.figure_alts(quarto, Path("/nonexistent"))
    # the print edition's SVG, inline as a data: URL, is described as well
    inline = "data:image/svg+xml;base64," + base64.b64encode(with_svg.read_bytes()).decode()
    assert 'alt="Lines join Washington to five capitals."' in website.figure_alts(
        svg_less.replace("x.png", inline), Path("/nonexistent"), required=True)
    # a tagged PDF's figure must have alt text (PDF/UA-1): with no other, the caption
    assert '<img alt="A map of treaties." src="x.png" />' in website.figure_alts(svg_less, Path("/nonexistent"), required=True)


def test_chapter_pages_name_their_own_authors_and_carry_scholarly_metadata(site):
    cases = site["cases.html"]
    assert re.findall(r'<meta name="author" content="([^"]+)">', cases) == ["Jane Smith", "TANAKA Hanako"]
    assert re.findall(r'<meta name="author" content="([^"]+)">', site["appendix-data.html"]) == ["Jane Smith"]
    meta = dict(re.findall(r'<meta name="(citation_(?:title|inbook_title|publication_date|publisher|pdf_url))" '
                           r'content="([^"]+)">', cases))
    assert meta == {"citation_title": "Cases of Alliance", "citation_inbook_title": "Alliances in Miniature: A Test Volume",
                    "citation_publication_date": "2020/01/15", "citation_publisher": "Example Academic Press",
                    "citation_pdf_url": BASE + "downloads/alliances-in-miniature.pdf"}
    assert re.findall(r'<meta name="citation_author" content="([^"]+)">', cases) == ["Smith, Jane", "Tanaka, Hanako"]
    assert re.findall(r'<meta name="DC.creator" content="([^"]+)">', cases) == ["Smith, Jane", "Tanaka, Hanako"]
    assert '<meta name="DC.title" content="Cases of Alliance">' in cases
    assert '<meta property="og:type" content="article">' in cases
    assert f'<meta property="og:url" content="{BASE}cases.html">' in cases
    assert f'<link rel="canonical" href="{BASE}cases.html">' in cases
    assert f'<link rel="canonical" href="{BASE}">' in site["index.html"]
    assert '<meta property="og:type" content="book">' in site["index.html"]
    assert '<link rel="icon" href="icon.svg" type="image/svg+xml">' in cases


def test_cite_this_chapter_in_the_books_style_with_bibtex_and_ris(site, mini):
    cite = re.search(r'<section class="cite-this".*?</section>', site["cases.html"], re.S).group(0)
    text = " ".join(re.sub(r"<[^>]+>", "", cite).split())
    # Chicago author-date: the chapter in the edited book, its authors and editor as printed
    assert "Smith, Jane, and Tanaka Hanako. 2020." in text, text
    assert "“Cases of Alliance.” In Alliances in Miniature: A Test Volume, edited by Tanaka Hanako." in text, text
    assert "Example Academic Press" in text and BASE + "cases.html" in text
    bib = (mini.html / "cite" / "cases.bib").read_text(encoding="utf-8")
    assert bib.startswith("@incollection{sec-cases,")
    assert "author = {Smith, Jane and Tanaka, Hanako}" in bib and "editor = {Tanaka, Hanako}" in bib
    assert "booktitle = {{Alliances in Miniature: A Test Volume}}" in bib and "year = {2020}" in bib
    ris = (mini.html / "cite" / "cases.ris").read_bytes().decode("utf-8")
    assert ris.startswith("TY  - CHAP\r\n") and "AU  - Smith, Jane\r\nAU  - Tanaka, Hanako\r\n" in ris
    assert "T2  - Alliances in Miniature: A Test Volume\r\n" in ris and ris.endswith("ER  - \r\n")
    assert 'href="cite/cases.bib" download' in cite and 'href="cite/cases.ris" download' in cite


def test_a_line_break_in_a_title_never_starts_another_ris_record_or_bibtex_line():
    injected = "Tiny } Book\nER  - \nTY  - JOUR\nTI  - Injected"
    book = {"title": injected, "editors": ["Ed Itor"], "publisher": "P\r\nUR  - javascript:x", "date": "2020"}
    ris = website.ris(injected, ["Jane Smith"], book, "")
    assert ris.count("TY  - ") == 1 and ris.count("ER  - ") == 1 and "\r\nUR  - " not in ris, ris
    assert all(line[:2] in ("TY", "TI", "AU", "ED", "T2", "PB", "PY", "DA", "ER") for line in ris.split("\r\n") if line)
    bib = website.bibtex("k", injected, ["Jane Smith"], book, "")
    assert "\nTY" not in bib and "title = {{Tiny \\} Book ER - TY - JOUR TI - Injected}}" in bib, bib


MINIMAL_STYLE = """<?xml version="1.0" encoding="utf-8"?>
<style xmlns="http://purl.org/net/xbiblio/csl" class="in-text" version="1.0">
  <info><title>t</title><id>t</id><updated>2020-01-01T00:00:00+00:00</updated></info>
  <macro name="who"><names variable="author"/>{extra}</macro>
  <citation disambiguate-add-year-suffix="true"><layout><text macro="who"/></layout></citation>
  <bibliography subsequent-author-substitute="---"><layout><text macro="who"/><text variable="title"/></layout></bibliography>
</style>"""


def test_the_chapters_own_entries_are_formatted_together_each_as_alone(tmp_path):
    """"Cite this chapter": the chapters' entries come out as each would alone (no 2026a, 2026b between two
    chapters by the same author, no dash for the author of the one before), in one citeproc pass where the
    style allows it (with what makes entries depend on each other taken out), each in its own where not."""
    from build_book import styles
    from build_book.render import site as website

    book = {"title": "The Place of Alliances", "editors": ["Ann Editor"], "publisher": "Pub", "date": "2026-03-01"}
    people = [["Carol Author"], ["Carol Author"], ["Carol Author", "Dan Second"], ["Gus Other"], ["山田 太郎"]]
    items = [website.chapter_item(f"ch{n}", f"Chapter {n}: alliances", a, book, f"https://x/{n}.html")
             for n, a in enumerate(people)]
    for name in (None, "apa", "modern-language-association"):
        csl = styles._packaged(name) if name else None
        text = csl.read_text(encoding="utf-8") if csl else website.pandoc.default_style()
        assert website._entries_apart(text) is not None, name      # formatted together...
        together = website._format_alone(items, csl, tmp_path)
        alone = [website._format_alone([item], csl, tmp_path)[0] for item in items]
        assert together == alone and all(alone), name               # ... each as alone
        style = tmp_path / "as-is.csl"      # (together with the style as it is, they would not be)
        style.write_text(text, encoding="utf-8")
        listed = website.pandoc.citeproc_each(website.pandoc.document(
            [{"t": "Div", "c": [["refs", [], []], []]}], {"nocite": {"t": "MetaInlines", "c": [{"t": "Cite", "c": [[{
                "citationId": "*", "citationPrefix": [], "citationSuffix": [], "citationMode": {"t": "NormalCitation"},
                "citationNoteNum": 0, "citationHash": 0}], [{"t": "Str", "c": "@*"}]]}]}}),
            [_items_file(tmp_path, items)], style, tmp_path)[0]
        assert "2026a" in listed or "---" in listed or "———" in listed, name
    # each alone where an entry may depend on the others: numbers, disambiguation in the list, a dependent
    ieee = styles._packaged("ieee").read_text(encoding="utf-8")
    assert website._entries_apart(ieee) is None
    assert website._entries_apart(MINIMAL_STYLE.format(extra="")) is not None
    assert website._entries_apart(MINIMAL_STYLE.format(extra='<choose><if disambiguate="true"><text variable="title"/>'
                                                            "</if></choose>")) is None
    assert website._entries_apart(MINIMAL_STYLE.format(extra='<text macro="nowhere"/>')) is None
    assert website._entries_apart(MINIMAL_STYLE.replace('disambiguate-add-year-suffix="true"', 'disambiguate-add-givenname='
                                                        '"true" givenname-disambiguation-rule="all-names"')) is None
    assert website._entries_apart('<style xmlns="http://purl.org/net/xbiblio/csl"><info><link rel="independent-parent" '
                                  'href="x"/></info><bibliography><layout/></bibliography></style>') is None
    assert website._entries_apart("<style") is None
    assert website._entries_apart('<!DOCTYPE x [<!ENTITY a "aaaa">]><style>&a;</style>') is None


def _items_file(folder, items) -> Path:
    path = folder / "items.json"
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    return path


def test_downloads_are_the_books_own_pdf_and_epub(site, mini):
    for name, built in (("alliances-in-miniature.pdf", mini.pdf), ("alliances-in-miniature.epub", mini.epub)):
        assert (mini.html / "downloads" / name).read_bytes() == built.read_bytes()
        assert f'<a href="downloads/{name}" download>' in site["cases.html"]


def test_html_alone_links_no_download(tmp_path_factory):
    root = copy_book("mini", tmp_path_factory)
    (root / "build").mkdir()
    (root / "build" / "alliances-in-miniature.epub").write_bytes(b"an EPUB built earlier")   # possibly stale
    result = run_cli("html", "--book", str(root), "-q")
    assert result.returncode == 0, result.stderr
    page = (root / "build" / "html" / "cases.html").read_text(encoding="utf-8")
    assert "downloads/" not in page and "citation_pdf_url" not in page
    assert not (root / "build" / "html" / "downloads").exists()


def test_sitemap_404_and_icon(site, mini):
    sitemap = (mini.html / "sitemap.xml").read_text(encoding="utf-8")
    locs = re.findall(r"<loc>([^<]+)</loc>", sitemap)
    assert locs == [BASE, BASE + "preface.html", BASE + "origins.html", BASE + "cases.html",
                    BASE + "appendix-data.html", BASE + "bibliography.html"]
    assert "<lastmod>2020-01-15</lastmod>" in sitemap
    missing = site["404.html"]
    assert f'<base href="{BASE}">' in missing and "Page not found" in missing
    assert "data-pagefind-body" not in missing                   # the 404 page is not found by search
    icon = (mini.html / "icon.svg").read_text(encoding="utf-8")
    assert ">A</text>" in icon                                   # "Alliances in Miniature"


def test_url_in_book_yml_must_be_a_web_address(tmp_path):
    from build_book.config import load_config

    for value, ok in (("https://example.org/book/", True), ("http://example.org", True),
                      ("ftp://example.org/", False), ("example.org/book", False), ("javascript:alert(1)", False)):
        (tmp_path / "book.yml").write_text(f"title: T\nurl: {value}\nchapters: []\n", encoding="utf-8")
        config, diags = load_config(tmp_path)
        bad = [d for d in diags if "'url'" in d.message]
        assert (not bad) == ok, (value, diags)
        if ok:
            assert config.url == value
    # a Quarto book's site-url is the same thing
    from build_book.config import load_quarto_config

    (tmp_path / "book.yml").unlink()
    (tmp_path / "index.qmd").write_text("# Hi\n", encoding="utf-8")
    (tmp_path / "_quarto.yml").write_text("project:\n  type: book\nbook:\n  title: Q\n  site-url: https://example.org/q/\n"
                                          "  chapters: [index.qmd]\n", encoding="utf-8")
    config, diags = load_quarto_config(tmp_path)
    assert config.url == "https://example.org/q/" and diags == []


def test_person_names_for_metadata():
    assert website.person("KUBO Fumiaki").inverted == "Kubo, Fumiaki"
    assert website.person("KUBO Fumiaki").csl() == {"literal": "Kubo Fumiaki"}
    assert website.person("Jane Smith").csl() == {"family": "Smith", "given": "Jane"}
    assert website.person("Ludwig van Beethoven").inverted == "van Beethoven, Ludwig"
    assert website.person("FY2011 US Study Group").inverted == "FY2011 US Study Group"
    assert website.person("Plato").inverted == "Plato"
    # a name in Japanese, Chinese or Korean script is written family name first (it was read as 'given family')
    assert website.person("山田 太郎").inverted == "山田, 太郎" and website.person("山田 太郎").display == "山田 太郎"
    assert website.person("山田 太郎").csl() == {"literal": "山田 太郎"} and website.person("山田太郎").inverted == "山田太郎"


def test_japanese_runs_are_indexed_with_their_suffixes():
    page = '<p>The treaty (<span lang="ja">安全保障条約</span>) of 1960</p>'
    assert website._findable(page) == ('<p>The treaty (<span lang="ja">安全保障条約 全保障条約 保障条約 障条約 条約</span>)'
                                       " of 1960</p>")


def test_axe_core_finds_no_violation_on_any_page_of_the_volume_light_or_dark(volume):
    report = node_tool("axe.mjs", str(volume.html))
    assert report["pages"] == len(list(volume.html.glob("*.html")))
    assert report["violations"] == [], json.dumps(report["violations"], indent=1, ensure_ascii=False)[:4000]
    assert report["reflow"] == [], report["reflow"]    # every page reflows on a phone (WCAG 1.4.10)


def test_search_finds_english_and_japanese_terms_in_the_volume(volume):
    assert (volume.html / "pagefind" / "pagefind.js").is_file()
    shown = node_tool("search.mjs", str(volume.html), "Okinawa", "安全保障", "相互協力", "Tomodachi",
                      "zzyzxnotaword", "--excerpts")
    found = {query: [href for href, _ in results] for query, results in shown.items()}
    # an excerpt shows the text as written: the suffixes indexed after each run of Japanese (site.py)
    # are folded back, the last one too, which is joined to what followed the run ("条約, commonly")
    excerpts = dict(shown["安全保障"])
    assert re.search(r"安全保障条約, (commonly|Nichibei)", excerpts["japan-us.html"]), excerpts
    for text in excerpts.values():
        words = text.split()
        for before, after in zip(words, words[1:]):
            run, head = re.search(r"[\u3040-\u30ff\u4e00-\u9fff]*$", before).group(0), \
                re.match(r"[\u3040-\u30ff\u4e00-\u9fff]*", after).group(0)
            assert not (2 <= len(head) < len(run) and run.endswith(head)), (before, after, text)
    assert "japan-us.html" in found["Okinawa"]
    assert "japan-us.html" in found["安全保障"]         # inside 日米安全保障条約: Japanese has no spaces
    assert "japan-us.html" in found["相互協力"]
    assert "japan-us.html" in found["Tomodachi"]
    assert found["zzyzxnotaword"] == []


@pytest.mark.parametrize("outcome", ["ok", "error", "timeout", "dies"])
def test_the_chapters_own_citations_begun_apart_come_back_or_fail_as_pandoc_fails(monkeypatch, outcome):
    """render/html.start formats "Cite this chapter" in a process forked for it (in a thread, its pandoc run
    waited on the build's other threads): its result, pandoc's failure (a time limit included) and the
    process's death come back to the build as they would from a thread."""
    import os

    from build_book import pandoc
    from build_book.render import html

    def citations(*args):
        if outcome == "error":
            raise pandoc.PandocError("pandoc could not read the style")
        if outcome == "timeout":
            raise pandoc.PandocTimeout(7)
        if outcome == "dies":
            os._exit(9)
        return {"sec-x": website.Citation("<i>entry</i>", "@incollection{}", "TY  - CHAP"), "args": args}

    monkeypatch.setattr(html, "_citing", lambda book, cache, jobs: ("chapters", cache.name, jobs))
    monkeypatch.setattr(website, "chapter_citations", citations)
    book = type("Book", (), {"config": type("Config", (), {"root": Path("/nowhere")})()})()
    future = html.start(book)
    if outcome == "ok":
        got = future.result(timeout=60)
        assert got["sec-x"] == website.Citation("<i>entry</i>", "@incollection{}", "TY  - CHAP")
        assert got["args"] == ("chapters", ".cache", 1)
        return
    with pytest.raises(pandoc.PandocError) as failed:
        future.result(timeout=60)
    if outcome == "timeout":
        assert isinstance(failed.value, pandoc.PandocTimeout) and failed.value.seconds == 7
    elif outcome == "error":
        assert str(failed.value) == "pandoc could not read the style"
    else:
        assert "the process formatting the chapters' citations failed" in str(failed.value)


def test_a_table_module_another_thread_is_still_binding_is_found():
    """The state a thread can meet while another imports a fontTools table module (CPython 3.11 puts the
    module in sys.modules before it binds it to its package): a fresh-clone CI run failed 15 tests with
    "module 'fontTools.ttLib.tables' has no attribute 'O_S_2f_2'" in the web fonts' cuts. Made here by
    taking the attribute away: fontTools' lookup, as build_book leaves it, still finds the module."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from build_book import fonts\n"
            "fonts.table_modules_in_threads()\n"
            "from fontTools.ttLib import ttFont, woff2\n"
            "import fontTools.ttLib.tables as tables\n"
            "import fontTools.ttLib.tables.O_S_2f_2 as module\n"
            "del tables.O_S_2f_2\n"
            "assert ttFont.getTableModule('OS/2') is module and woff2.getTableModule('OS/2') is module\n"
            "assert ttFont.getTableClass('OS/2') is module.table_O_S_2f_2\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_an_image_written_with_no_description_has_an_empty_one(tmp_path):
    """'![](x.png)' (no words in the brackets) was '<img src="x.png" />' in the web and EPUB editions: no alt
    at all, which HTML does not allow (the Nu checker's error) and screen readers answer with the file's name."""
    figures = REPO / "tests" / "books" / "hostile-html" / "chapters" / "figures"
    (tmp_path / "m.png").write_bytes((figures / "fine.png").read_bytes())
    (tmp_path / "book.yml").write_text("title: T\nchapters: [a.md]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("# A\n\n![](m.png)\n\nInline ![](m.png) and ![A red square](m.png) here, and "
                                   "![](m.png){fig-alt=\"Red & square\"} (Quarto's alt text, with no caption).\n",
                                   encoding="utf-8")
    assert run_cli("html", "--book", str(tmp_path)).returncode == 0
    page = (tmp_path / "build" / "html" / "a.html").read_text(encoding="utf-8")
    assert re.findall(r"<img\b[^>]*>", page) == [
        '<img alt="" src="m.png" />', '<img alt="" src="m.png" />', '<img src="m.png" alt="A red square" />',
        '<img alt="Red &amp; square" src="m.png" data-fig-alt="Red &amp; square" />'], page
    result = nu_validate(tmp_path / "build" / "html")
    assert result.returncode == 0, result.stdout + result.stderr
