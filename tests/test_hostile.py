"""Raw HTML, attributes, links and images an author may write: nothing crashes the build, nothing
vanishes without a word, and no script reaches an edition.

'hostile-html' has one of each: its diagnostics are golden (refresh with UPDATE_GOLDENS=1, read
the diff). Its first chapter alone has only warnings: that book is built in every edition and
the outputs are searched for script.
"""

from __future__ import annotations

import json
import re
import zipfile
from xml.etree import ElementTree

import pytest

from build_book import sanitize
from build_book.render.epub import xhtml

from .conftest import BOOKS, build_all, copy_book, run_cli
from .xmlcheck import epubcheck, nu_validate, text_of

SCRIPT = re.compile(r"<script|\son[a-z]+\s*=|javascript:", re.I)


@pytest.fixture(scope="module")
def hostile_json(tmp_path_factory):
    root = copy_book("hostile-html", tmp_path_factory)
    result = run_cli("check", "--book", str(root), "--format", "json")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


def test_every_removal_and_bad_image_is_named_at_its_place(hostile_json):
    said = {(d["line"], d["code"], d["message"]) for d in hostile_json if d["path"] == "chapters/01-html.md"}
    assert (9, "script-removed", "removed <script> from raw HTML: build_book publishes no script") in said
    messages = " | ".join(d["message"] for d in hostile_json)
    for what in ('onclick="alert(1)"', "url(https://tracker.example/p.gif)", "javascript:alert(2)",
                 "data:text/html", 'src="https://tracker.example/pixel.gif"', "<iframe>", "<form>", "<input>",
                 'href="javascript:void(0)"', "onmouseover", "<meta>", "<link>", "<style>", "<o:p>", "onmouseenter",
                 "of <circle>", "<script> from the SVG image 'figures/hostile.svg'", 'onload="alert(\'svg\')"',
                 "of <rect>", "https://tracker.example/pixel.png", "https://evil.example/\""):
        assert what in messages, what
    images = {d["message"].split("'")[1]: d["code"] for d in hostile_json if d["path"] == "chapters/02-images.md"}
    assert images == {
        "figures/empty.png": "image-empty", "figures/text.png": "image-mismatch", "figures/photo.png": "image-mismatch",
        "figures/damaged.png": "image-corrupt", "figures/huge.png": "image-too-large",
        "figures/broken.svg": "image-corrupt", "figures/page.svg": "image-corrupt",
        "figures/wide.svg": "image-too-large", "figures/bomb.svg": "image-corrupt",
    }
    huge = next(d for d in hostile_json if "huge.png" in d["message"])
    assert "20,000 x 20,000" in huge["message"] and "40 megapixels" in huge["message"]


@pytest.fixture(scope="module")
def cleaned(tmp_path_factory):
    """The first chapter alone (warnings only), built into every edition."""
    root = copy_book("hostile-html", tmp_path_factory)
    config = (root / "book.yml").read_text(encoding="utf-8").replace("  - chapters/02-images.md\n", "")
    (root / "book.yml").write_text(config, encoding="utf-8")
    (root / "chapters" / "02-images.md").unlink()
    return build_all(root, "hostile-html")


def test_no_script_reaches_any_edition(cleaned):
    files = {p.relative_to(cleaned.html).as_posix(): p.read_bytes() for p in cleaned.html.rglob("*") if p.is_file()}
    with zipfile.ZipFile(cleaned.epub) as archive:
        files.update({"epub:" + n: archive.read(n) for n in archive.namelist()})
    assert "chapters/figures/hostile.svg" in files and "epub:EPUB/chapters/figures/hostile.svg" in files
    from build_book.render.html import SCRIPT as SITE_SCRIPT, SCRIPT_TAG

    for name, data in files.items():
        # fonts; the PDF and EPUB the site offers for download (the EPUB is read above); build_book's own
        # script and Pagefind's search files, which no author's text reaches
        if name.endswith((".woff", ".woff2", ".otf", ".pdf", ".epub")) or name == SITE_SCRIPT \
                or name.startswith("pagefind/"):
            continue
        text = data.decode("utf-8", "replace").replace(SCRIPT_TAG, "")
        assert not SCRIPT.search(text), (name, SCRIPT.search(text))
        for remote in ("tracker.example", "evil.example"):
            assert remote not in text, (name, remote)


def test_what_is_allowed_survives(cleaned):
    page = (cleaned.html / "raw.html").read_text(encoding="utf-8")
    assert "<sub>2</sub>" in page and "<sup>2</sup>" in page
    assert '<abbr title="North Atlantic Treaty Organization">NATO</abbr>' in page
    assert 'href="mailto:ann@example.org"' in page and 'href="https://www.example.org/"' in page
    assert 'style="font-weight: bold"' in page and 'style="color: red"' in page
    assert "bad link" in text_of(page) and "A note in a div with a handler." in text_of(page)
    assert "<circle" in page and "<mi>x</mi>" in page
    assert "an editor's note" not in page          # comments are not published
    svg = ElementTree.fromstring((cleaned.html / "chapters" / "figures" / "hostile.svg").read_bytes())
    tags = {el.tag.rsplit("}", 1)[-1] for el in svg.iter()}
    assert {"rect", "circle", "text", "linearGradient", "use", "foreignObject"} <= tags
    assert "script" not in tags and "style" not in tags
    assert "Alliance network" in "".join(svg.itertext())
    assert any(el.get("fill") == "url(#g)" for el in svg.iter())
    with zipfile.ZipFile(cleaned.epub) as archive:
        chapter = archive.read("EPUB/raw.xhtml").decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in chapter
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML"' in chapter


def test_cleaned_editions_pass_the_validators(cleaned):
    messages = epubcheck(cleaned.epub)
    assert [m for m in messages if m["severity"] in ("FATAL", "ERROR", "WARNING")] == []
    result = nu_validate(cleaned.html)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("raw", [
    "<!-- a -- b --><p>after</p>", "Word<o:p></o:p> text", '<span v:shape="x" xml:lang="en">y</span>',
    '<svg viewBox="0 0 1 1"><circle r="1"/><a xlink:href="#c">t</a></svg>', "<math><mi>x</mi></math>",
    "<p>unclosed <b>bold <i>both", "&nbsp;&copy;&#x1F600;&bogus; \x01", "<table><td>cell</table>",
    '<div a"b="c" 1x="y">odd names</div>', "<p>a</p></div></span>stray ends",
])
def test_any_html_converts_to_xhtml(raw):
    ElementTree.fromstring(f'<div xmlns="http://www.w3.org/1999/xhtml">{xhtml(raw)}</div>')


# well-formed XML that an HTML parser reads otherwise (each must go through tinyhtml5), and markup it reads alike
READ_OTHERWISE = [
    "<p>a<div>block</div>b</p>", "<p><em>a<ul><li>x</li></ul></em></p>", "<h2>a<h3>b</h3></h2>",
    "<table><tr><td>x</td></tr></table>", "<table><col/><tbody><tr><td>x</td></tr></tbody></table>",
    "<table>text<tbody><tr><td>x</td></tr></tbody></table>", "<div/>after", "<span/>after",
    '<a href="#a">one <a href="#b">two</a></a>', "<li>x<li>y</li></li>", "<pre>\nfirst line</pre>",
    "<br>x</br>", "<p>&#150;</p>", '<span title="a\nb">t</span>', "<![CDATA[<b>x</b>]]>", "<?x y?>",
    '<math xmlns="http://www.w3.org/1998/Math/MathML"><mi>x</mi><div>y</div></math>',
    '<svg xmlns="http://www.w3.org/2000/svg"><circle r="1"/></svg>', "<DIV>upper</DIV>",
    '<span CLASS="x">upper</span>', "<select><option>x</option></select>", "<textarea>x</textarea>",
    "<dl><div><dd>x</dd></div></dl>", "<p>a<table><tbody><tr><td>x</td></tr></tbody></table></p>",
]
READ_ALIKE = [
    "<p>plain <em>text</em> &amp; <a href=\"#x\">a link</a><br />next</p>",
    '<div class="a"><table><caption>c</caption><colgroup><col style="width: 50%" /></colgroup><thead><tr>'
    '<th>h</th></tr></thead><tbody>\n<tr><td><p>x</p></td></tr>\n</tbody></table></div>',
    '<ol type="1"><li><p>x</p><ul><li>y</li></ul></li></ol><dl><dt>t</dt><dd>d</dd></dl>',
    '<p><math display="inline" xmlns="http://www.w3.org/1998/Math/MathML"><semantics><mrow><mi>x</mi>'
    '<mo>=</mo><mn>1</mn><mspace width="0.2em" /></mrow><annotation encoding="application/x-tex">x=1'
    '</annotation></semantics></math></p>',
    '<pre class="py"><code>a &lt; b\n</code></pre><figure><img src="a.png" alt="A" /><figcaption>'
    '<p>F</p></figcaption></figure><section id="s"><h2>T</h2><!-- note --><hr /></section>',
]


@pytest.mark.parametrize("raw", READ_OTHERWISE + READ_ALIKE)
def test_xhtml_read_as_a_browser_reads_it(raw):
    """The XML parser's shortcut (render/epub.py's _read_alike) is taken only where tinyhtml5 (an HTML
    parser, as a browser reads) gives the very same XHTML."""
    import tinyhtml5

    from build_book.render import epub

    body = tinyhtml5.parse("<!DOCTYPE html><body>" + raw + "</body>", namespace_html_elements=False).find("body")
    out = [epub._text(body.text)]
    for child in body:
        epub._element(child, epub.XHTML_NS, out)
    assert xhtml(raw) == "".join(out)
    assert (epub._read_alike(raw) is not None) == (raw in READ_ALIKE)


@pytest.mark.parametrize("value", ["java\tscript:alert(1)", "&#106;avascript:alert(1)", " JAVASCRIPT:x",
                                   "vbscript:x", "data:text/html;base64,PHNjcmlwdD4="])
def test_disguised_script_addresses_are_caught(value):
    assert sanitize.url_problem(value, False)[0] == sanitize.SCRIPT


@pytest.mark.parametrize("css", ["background: \\75rl(https://x/y.png)", "background:u/**/rl(//x/y)",
                                 "@import 'x.css'", "width: expression(alert(1))"])
def test_disguised_css_is_caught(css):
    assert sanitize.css_problem(css) is not None
    assert sanitize.css_problem("fill: url(#gradient); color: red") is None


def test_a_srcset_is_removed_for_what_it_names():
    """A srcset's candidates that are web addresses are removed as loading from the web; the book's own files, as
    sizes the editions do not carry (the image its src names is shown), not as loading from the web."""
    local = sanitize.attribute_problem("srcset", "figures/a.png 2x, figures/b.png 3x", "img", "html")
    remote = sanitize.attribute_problem("srcset", "figures/a.png 1x, https://example.org/a.png 2x", "img", "html")
    assert local[0] == "html-removed" and "src names" in local[1]
    assert remote[0] == "remote-removed"
