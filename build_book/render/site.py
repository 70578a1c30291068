"""What makes the HTML edition a web site rather than a folder of pages.

html.py renders the pages; this module adds what a reader, a librarian and a search engine expect of a
published book, each piece a function of its own:

- accessible footnote back-links and figure alt text (:func:`backlinks`, :func:`figure_alts`);
- pop-ups that show a footnote or the formatted reference of a citation on hover and keyboard focus,
  written into the page so they work without script (:func:`popups`);
- the chapter as a citable work: its CSL JSON item, its citation formatted in the book's style by
  pandoc's citeproc, BibTeX and RIS (:func:`chapter_citations`), and the names in the forms the
  metadata schemes want (:func:`person`);
- the site's extras: ``sitemap.xml``, an icon, the full-text index (Pagefind, :func:`search_index`).
"""

from __future__ import annotations

import base64
import functools
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from html import escape, unescape
from pathlib import Path
from xml.etree.ElementTree import Element

from .. import cache as cachefile
from .. import pandoc, styles
from ..names import in_script
from . import pagemap

# --- footnote back-links ------------------------------------------------------------------------------

BACKLINK = re.compile(r'<a href="#fnref(\d+)" class="footnote-back" role="doc-backlink">')


def backlinks(html: str) -> str:
    """pandoc's "↩︎" back-links named for what they do ("Back to note 3 reference")."""
    return BACKLINK.sub(lambda m: f'<a href="#fnref{m.group(1)}" class="footnote-back" role="doc-backlink" '
                                  f'aria-label="Back to note {m.group(1)} reference">', html)


# --- figure alt text ----------------------------------------------------------------------------------

FIGURE = re.compile(r"<figure\b[^>]*>.*?</figure>", re.S)
IMG = re.compile(r"<img\b[^>]*>")
ATTR = re.compile(r'\s([\w:-]+)="([^"]*)"')
FIGCAPTION = re.compile(r"<figcaption\b([^>]*)>(.*?)</figcaption>", re.S)
TAG = re.compile(r"<[^>]+>")
SVG_NS = "{http://www.w3.org/2000/svg}"
SVG_DATA = "data:image/svg+xml;base64,"


def plain(html: str) -> str:
    """The text of an HTML fragment, whitespace collapsed."""
    return " ".join(unescape(TAG.sub(" ", html)).split())


def _letters(text: str) -> str:
    return re.sub(r"\W+", "", text).casefold()


def svg_description(path: Path | bytes) -> list[str]:
    """An SVG image's own description (its file, or the image itself): the texts of its <title> and
    <desc>, each as a sentence."""
    from defusedxml.ElementTree import parse

    try:
        root = parse(io.BytesIO(path) if isinstance(path, bytes) else str(path)).getroot()
    except Exception:   # an unreadable figure is reported by the checks; here it just has no description
        return []
    texts = []
    for tag in ("title", "desc"):
        node: Element | None = root.find(SVG_NS + tag)
        if node is None:
            node = root.find(tag)
        if node is not None and "".join(node.itertext()).strip():
            text = " ".join("".join(node.itertext()).split())
            texts.append(text if text[-1] in ".!?" else text + ".")
    return texts


def figure_alts(html: str, site: Path, required: bool = False) -> str:
    """Each figure's image gets real alt text, never the caption a second time.

    pandoc writes the caption as the alt text unless the author gave one (``{alt="..."}`` or Quarto's
    ``fig-alt``). Where it did not, the image's own description (an SVG's <title> and <desc>) is used;
    failing that the alt text is empty and the figure's caption, which the figure holds, describes it;
    or, where alt text is ``required`` (a tagged PDF's figure must have some: PDF/UA-1), it is the caption."""

    def fix_figure(match: re.Match) -> str:
        figure = match.group(0)
        caption = FIGCAPTION.search(figure)
        image = IMG.search(figure)
        if caption is None or image is None:
            return figure
        attrs = dict(ATTR.findall(image.group(0)))
        alt = unescape(attrs.get("alt", ""))
        caption_text = plain(re.sub(r'<span class="caption-label">.*?</span>', "", caption.group(2), flags=re.S))
        given = unescape(attrs.get("data-fig-alt", ""))
        if given:
            new_alt = given
        elif alt and _letters(alt) not in _letters(caption_text) and _letters(caption_text) not in _letters(alt):
            new_alt = alt                                           # the author's own alt text
        else:
            src = unescape(attrs.get("src", ""))
            if src.startswith(SVG_DATA):     # (the print edition's: the image itself, inline)
                try:
                    described = svg_description(base64.b64decode(src[len(SVG_DATA):], validate=True))
                except ValueError:
                    described = []
            else:
                described = svg_description(site / src) if src.lower().endswith(".svg") and ".." not in src else []
            # a sentence the caption already says (an SVG title that is the caption's first sentence) is not repeated
            said = {_letters(sentence) for sentence in re.split(r"(?<=[.!?])\s+", caption_text)} | {_letters(caption_text)}
            new_alt = " ".join(t for t in described if _letters(t) not in said)
            if not new_alt and required:
                new_alt = alt or caption_text
        tag = re.sub(r'\s(alt|data-fig-alt)="[^"]*"', "", image.group(0))
        tag = tag.replace("<img", f'<img alt="{escape(new_alt)}"', 1)
        figure = figure[:image.start()] + tag + figure[image.end():]
        # pandoc hides a caption equal to the alt text from screen readers: with new alt text it is needed
        return FIGCAPTION.sub(lambda m: "<figcaption" + m.group(1).replace(' aria-hidden="true"', "") + ">"
                              + m.group(2) + "</figcaption>", figure, count=1)

    return FIGURE.sub(fix_figure, html)


# --- pop-ups ------------------------------------------------------------------------------------------

NOTE_ITEM = re.compile(r'<li id="fn(\d+)">(.*?)(?=<li id="fn\d+">|</ol>\s*</section>)', re.S)
NOTE_REF = re.compile(r'<a href="#fn(\d+)" class="footnote-ref" id="fnref\d+" role="doc-noteref">.*?</a>', re.S)
CITE_LINK = re.compile(r'<a href="([^"#]*)#(ref-[^"]+)" role="doc-biblioref">.*?</a>', re.S)
ENTRY = re.compile(r'<div id="(ref-[^"]+)" class="csl-entry"[^>]*>(.*?)</div>', re.S)
BLOCKS = re.compile(r"<(?:li|ol|ul|table|blockquote|div|figure|pre|dl|h\d|section)\b")


def reference_entries(references_html: str) -> dict[str, str]:
    """Anchor id (ref-key) -> the formatted entry, from a reference list pandoc wrote."""
    return {m.group(1): m.group(2).strip() for m in ENTRY.finditer(references_html)}


@functools.lru_cache(maxsize=4096)   # a work cited again and again is made inert once
def _inert(html: str) -> str:
    """A fragment made fit to repeat inside a pop-up: no links (the text stays), no ids, paragraphs as spans."""
    html = re.sub(r"</?a\b[^>]*>", "", html)
    html = re.sub(r'\sid="[^"]*"', "", html)
    html = re.sub(r"<p\b[^>]*>", '<span class="pop-p">', html)
    return html.replace("</p>", "</span>")


def popups(html: str, entries: dict[str, str]) -> str:
    """Every footnote reference and citation link carries its note or reference entry, shown beside it
    on hover and keyboard focus by the stylesheet alone, and announced by screen readers as the link's
    description (``aria-describedby``). The pop-up repeats what the link leads to, so it is hidden
    from the accessibility tree and from the search index itself."""
    notes: dict[str, str] = {}
    for match in NOTE_ITEM.finditer(html):
        body = re.sub(r'<a href="#fnref\d+" class="footnote-back"[^>]*>.*?</a>', "", match.group(2), flags=re.S)
        body = body.strip().removesuffix("</li>").strip()
        if not BLOCKS.search(body):             # a note with lists or tables is only linked
            notes[match.group(1)] = _inert(body)
    count = 0
    taken = set(pagemap.ID.findall(html))   # an author's [x]{#pop-1} keeps its id: the pop-up takes the next free one

    def pop(link: str, content: str, kind: str) -> str:
        nonlocal count
        count += 1
        while f"pop-{count}" in taken:
            count += 1
        pid = f"pop-{count}"
        link = link.replace(">", f' aria-describedby="{pid}">', 1)   # after pandoc's own attributes
        return (f'<span class="pop-anchor pop-{kind}">{link}<span class="pop" id="{pid}" role="tooltip" '
                f'aria-hidden="true" data-pagefind-ignore>{content}</span></span>')

    def cite(match: re.Match) -> str:
        entry = entries.get(match.group(2))
        return pop(match.group(0), _inert(entry), "cite") if entry else match.group(0)

    def note(match: re.Match) -> str:
        body = notes.get(match.group(1))
        return pop(match.group(0), body, "note") if body else match.group(0)

    html = CITE_LINK.sub(cite, html)
    return NOTE_REF.sub(note, html)


# --- names for the metadata schemes -------------------------------------------------------------------

ORGANISATION = re.compile(r"\d|\b(?:Group|Institute|Committee|Council|Association|Society|Centre|Center|"
                          r"Foundation|University|Ministry|Department|Office|Agency|Team)\b")


@dataclass(frozen=True)
class Person:
    family: str = ""
    given: str = ""
    literal: str = ""          # an organisation, or a name in one piece
    family_first: bool = False

    @property
    def inverted(self) -> str:
        """'Family, Given' (Google Scholar, RIS, BibTeX), or the literal name."""
        return self.literal or (f"{self.family}, {self.given}" if self.given else self.family)

    @property
    def display(self) -> str:
        if self.literal:
            return self.literal
        return f"{self.family} {self.given}" if self.family_first else f"{self.given} {self.family}".strip()

    def csl(self) -> dict:
        # pandoc's citeproc ignores CSL's static-ordering: a family-first name is written as one literal
        if self.literal or self.family_first:
            return {"literal": self.display}
        return {"family": self.family, "given": self.given}


def person(name: str) -> Person:
    """A contributor's printed name read as family and given names: house style writes a Japanese name
    family name first in capitals ("KUBO Fumiaki"), as does a name in Japanese, Chinese or Korean script
    ("山田 太郎"); others given name first ("Jane Smith"); names of
    organisations ("FY2011 US Study Group") and one-word names stay whole."""
    words = name.split()
    if len(words) < 2 or ORGANISATION.search(name):
        return Person(literal=name)
    if len(words[0]) > 1 and words[0].isupper() and not all(w.isupper() for w in words[1:]):
        return Person(family=words[0].capitalize(), given=" ".join(words[1:]), family_first=True)
    if in_script(words[0]):     # "山田 太郎", as a Japanese, Chinese or Korean name is written: family first
        return Person(family=words[0], given=" ".join(words[1:]), family_first=True)
    capitals = [i for i, w in enumerate(words) if len(w) > 1 and w.isupper()]
    if capitals and capitals[0] > 0 and not name.isupper():     # "Jane SMITH"
        return Person(family=" ".join(w.capitalize() for w in words[capitals[0]:]), given=" ".join(words[:capitals[0]]))
    particles = {"van", "von", "de", "der", "den", "du", "la", "le", "da", "di", "del"}
    start = len(words) - 1
    while start > 1 and words[start - 1].lower() in particles:
        start -= 1
    return Person(family=" ".join(words[start:]), given=" ".join(words[:start]))


# --- the chapter as a citable work --------------------------------------------------------------------

@dataclass
class Citation:
    html: str         # the chapter's entry in the book's style
    bibtex: str
    ris: str


def _date_parts(date: str) -> list[int]:
    return [int(p) for p in re.findall(r"\d+", date)[:3]]


def chapter_item(ident: str, title: str, authors: list[str], book: dict, url: str) -> dict:
    """The CSL JSON item of a chapter in the edited volume ``book`` (title, editors, publisher, date)."""
    item = {"id": ident, "type": "chapter", "title": title, "container-title": book["title"],
            "author": [person(a).csl() for a in authors], "editor": [person(e).csl() for e in book["editors"]]}
    if book.get("publisher"):
        item["publisher"] = book["publisher"]
    if book.get("date"):
        item["issued"] = {"date-parts": [_date_parts(book["date"])]}
    if url:
        item["URL"] = url
    # a Japanese title is not English: citeproc, told nothing, read it as English and changed its case in an
    # English style ('私たちのR' printed '私たちのr'); in a Japanese book, the book's own language
    lang = book.get("lang") or "en"
    if not lang.lower().startswith("en"):
        item["language"] = lang
    elif any(in_script(text) for text in (title, book["title"])):
        item["language"] = "ja"
    return item


def _one_line(text: str) -> str:
    """A value on one line: a line break in a title (book.yml's "Tiny Book\nER  - ...") would end the RIS
    record and start another of the author's making."""
    return " ".join(str(text).split())


def _bib_escape(text: str) -> str:
    return re.sub(r"([&%$#_{}])", r"\\\1", _one_line(text))


def bibtex(key: str, title: str, authors: list[str], book: dict, url: str) -> str:
    def names(people):
        return " and ".join("{" + _bib_escape(p.literal) + "}" if p.literal else _bib_escape(p.inverted)
                            for p in map(person, people))

    fields = [("title", "{" + _bib_escape(title) + "}"), ("author", names(authors)),
              ("editor", names(book["editors"])), ("booktitle", "{" + _bib_escape(book["title"]) + "}"),
              ("publisher", _bib_escape(book.get("publisher", ""))), ("year", book.get("date", "")[:4]),
              ("date", book.get("date", "")),
              ("url", url)]
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value and value != "{}")
    return f"@incollection{{{key},\n{body}\n}}\n"


def ris(title: str, authors: list[str], book: dict, url: str) -> str:
    lines = [("TY", "CHAP"), ("TI", title)]
    lines += [("AU", person(a).inverted) for a in authors]
    lines += [("ED", person(e).inverted) for e in book["editors"]]
    lines += [("T2", book["title"]), ("PB", book.get("publisher", ""))]
    parts = _date_parts(book.get("date", ""))
    if parts:
        lines.append(("PY", str(parts[0])))
        lines.append(("DA", "/".join(f"{p:02d}" if i else str(p) for i, p in enumerate(parts))))
    lines += [("UR", url), ("ER", "")]
    lines = [(tag, _one_line(value)) for tag, value in lines]
    return "".join(f"{tag}  - {value}\r\n" if tag != "ER" else "ER  - \r\n" for tag, value in lines if value or tag == "ER")


CITE_FORMAT = "build_book-chapter-citations 1"


def _format_alone(items: list[dict], csl: Path | None, root: Path, lang: str = "") -> list[str]:
    """Each chapter's entry formatted by citeproc as if alone (so no "2012a, 2012b" between the chapters):
    all in one citeproc pass where the style, with what makes an entry depend on the others taken out, gives
    each entry as alone (see _entries_apart); else each in a pass of its own (all in one pandoc run)."""
    cite_all = {"t": "MetaInlines", "c": [{"t": "Cite", "c": [[{
        "citationId": "*", "citationPrefix": [], "citationSuffix": [], "citationMode": {"t": "NormalCitation"},
        "citationNoteNum": 0, "citationHash": 0}], [{"t": "Str", "c": "@*"}]]}]}
    meta = {"nocite": cite_all}
    if lang:    # the book's language, as its own reference list has (its terms, quotation marks and dates)
        meta["lang"] = {"t": "MetaString", "c": lang}
    document = pandoc.document([{"t": "Div", "c": [["refs", [], []], []]}], meta)
    apart = None
    if len(items) > 1:
        text = pandoc.default_style() if csl is None else _style_text(csl)
        apart = _entries_apart(text) if text else None
    with tempfile.TemporaryDirectory(prefix="build_book-cite-") as tmp:
        if apart is not None:
            (Path(tmp) / "style.csl").write_text(apart, encoding="utf-8")
            (Path(tmp) / "chapters.json").write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
            written = pandoc.citeproc_each(document, [Path(tmp) / "chapters.json"], Path(tmp) / "style.csl", root)
            entries = reference_entries(written[0])
            return [entries.get(f"ref-{item['id']}", "") for item in items]
        sources = []
        for n, item in enumerate(items):
            sources.append(Path(tmp) / f"chapter-{n}.json")
            sources[-1].write_text(json.dumps([item], ensure_ascii=False), encoding="utf-8")
        written = pandoc.citeproc_each(document, sources, csl, root)
    return [reference_entries(html).get(f"ref-{item['id']}", "") for item, html in zip(items, written)]


def _style_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


CSL_NS = "{http://purl.org/net/xbiblio/csl}"
# what makes one entry of a reference list depend on the others: disambiguation (2012a; more names or given
# names, which citations show, but whose year suffix the list shows too) and the author replaced by a dash
# where the entry before has the same
BETWEEN_ENTRIES = ("subsequent-author-substitute", "subsequent-author-substitute-rule", "disambiguate-add-year-suffix",
                   "disambiguate-add-names", "disambiguate-add-givenname", "givenname-disambiguation-rule")
_BETWEEN_ENTRIES = re.compile(rf"""\s(?:{"|".join(BETWEEN_ENTRIES)})\s*=\s*(?:"[^"]*"|'[^']*')""")


@functools.lru_cache(maxsize=8)
def _entries_apart(style: str) -> str | None:
    """The CSL style ``style`` with what makes a reference list's entries depend on each other taken out
    (_BETWEEN_ENTRIES), if then each entry of a list of several works reads as a list of that work alone
    would give it; else None: a dependent style (its parent decides), one whose reference list numbers the
    works (citation-number), whose layout reaches a condition on disambiguation or on a citation's position
    (its macros followed), or that adds given names to every name (all-names), or a style that cannot be read."""
    import defusedxml.ElementTree as SafeTree

    try:
        root = SafeTree.fromstring(style.encode("utf-8"))
    except Exception:   # noqa: BLE001 - not a style this can tell about: the entries are formatted apart
        return None
    listing = root.find(f"{CSL_NS}bibliography")
    if root.tag != f"{CSL_NS}style" or listing is None or any(
            link.get("rel") == "independent-parent" for link in root.iter(f"{CSL_NS}link")):
        return None
    # given names added to every name alike (all-names): also between two people of one work, which a
    # list of that work alone shows (two editors Ann and Bob Editor: "A. Editor and B. Editor")
    if any((node.get("givenname-disambiguation-rule") or "").startswith("all-names") for node in root.iter()):
        return None
    macros = {m.get("name"): m for m in root.iter(f"{CSL_NS}macro")}
    todo, reached = [listing], set()
    while todo:
        for node in todo.pop().iter():
            if node.get("disambiguate") is not None or node.get("position") is not None \
                    or "citation-number" in (node.get("variable") or "").split():
                return None
            name = node.get("macro")
            if name is not None and name not in reached:
                reached.add(name)
                if name not in macros:
                    return None
                todo.append(macros[name])
    apart = _BETWEEN_ENTRIES.sub("", style)
    try:
        checked = SafeTree.fromstring(apart.encode("utf-8"))
    except Exception:   # noqa: BLE001
        return None
    if any(name in node.attrib for node in checked.iter() for name in BETWEEN_ENTRIES):
        return None     # (one the pattern did not find as written)
    return apart


def chapter_citations(chapters: list[dict], book: dict, csl: str, root: Path, cache: Path | None,
                      jobs: int = 1) -> dict[str, Citation]:
    """``chapters`` (each {id, title, authors, url}) -> their citations as chapters of the edited book:
    formatted by citeproc in the book's style (cached by item and style), BibTeX and RIS."""
    from concurrent.futures import ThreadPoolExecutor

    items = [chapter_item(c["id"], c["title"], c["authors"], book, c["url"]) for c in chapters]
    csl_path = styles.resolve(csl, root)
    style = cachefile.digest(str(csl_path), csl_path.read_bytes() if csl_path else b"", pandoc.version())
    folder = cache / "chapter-citations" if cache else None
    keys = [cachefile.digest(item, style, book.get("lang") or "") for item in items]
    formatted = [cachefile.get_text(folder, key, CITE_FORMAT, ".html") if folder else None for key in keys]
    todo = [n for n, text in enumerate(formatted) if text is None]
    # in one pandoc run per job (a run formats several apart: it saves starting pandoc for each)
    batches = [todo[n::max(1, jobs)] for n in range(min(max(1, jobs), len(todo)))]
    with ThreadPoolExecutor(max_workers=max(1, len(batches))) as pool:
        for batch, texts in zip(batches, pool.map(lambda b: _format_alone([items[n] for n in b], csl_path, root,
                                                                                  book.get("lang") or ""),
                                                  batches)):
            for n, text in zip(batch, texts):
                formatted[n] = text
                if folder:
                    cachefile.put(folder, keys[n], text, CITE_FORMAT, ".html")
    if folder:
        cachefile.prune(folder, set(keys), ".html")
    return {c["id"]: Citation(formatted[n], bibtex(c["id"], c["title"], c["authors"], book, c["url"]),
                              ris(c["title"], c["authors"], book, c["url"]))
            for n, c in enumerate(chapters)}


# --- site extras --------------------------------------------------------------------------------------

def sitemap(base: str, pages: list[str], lastmod: str = "") -> str:
    """sitemap.xml for ``pages`` (file names) published under ``base``."""
    rows = []
    for page in pages:
        loc = base + ("" if page == "index.html" else page)
        rows.append(f"  <url><loc>{escape(loc)}</loc>" + (f"<lastmod>{lastmod}</lastmod>" if lastmod else "") + "</url>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            + "\n".join(rows) + "\n</urlset>\n")


def icon(title: str) -> str:
    """The site's icon: the first letter of the book's title (after "The", "A", "An") on the accent colour."""
    words = [w for w in re.findall(r"\w+", title)]
    while len(words) > 1 and words[0].lower() in {"the", "a", "an"}:
        words.pop(0)
    letter = escape(words[0][0].upper() if words else "B")
    return ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
            '<rect width="64" height="64" rx="12" fill="#1f4e79"/>'
            f'<text x="32" y="46" font-family="Linux Libertine O, Libertinus Serif, Georgia, serif" font-size="42" '
            f'font-weight="bold" text-anchor="middle" fill="#fff">{letter}</text></svg>\n')


class SearchIndexError(Exception):
    pass


def pagefind_binary() -> list[str] | None:
    """The command that runs Pagefind (PyPI's pagefind[bin]), or None if it is not installed."""
    try:
        from pagefind_bin import get_executable   # type: ignore[import-not-found]
    except ImportError:
        try:
            import pagefind  # noqa: F401  # type: ignore[import-not-found]
        except ImportError:
            return None
        return [sys.executable, "-m", "pagefind"]
    return [str(get_executable())]


def _findable(html: str) -> str:
    """A page as the search index reads it: each run of Japanese script followed by its suffixes.

    Pagefind splits words at spaces; Japanese has none, and its word segmentation (in its 'extended'
    build) applies only to whole pages in Japanese. Pagefind matches a query as the start of a word, so
    with every suffix of a run indexed as a word, any part of the run is found ("安全保障" in
    "日米安全保障条約"). The suffixes follow the run, so site.js folds them out of the excerpts it shows."""
    from ..transform import JAPANESE

    if not any(JAPANESE.match(c) for c in wide(html)):
        return html               # (most pages: found without a pass of the pattern over every text)

    def suffixes(match: re.Match) -> str:
        run = match.group(0)
        return run + "".join(" " + run[i:] for i in range(1, len(run) - 1))

    return re.sub(r">([^<]+)<", lambda m: ">" + JAPANESE.sub(suffixes, m.group(1)) + "<", html)


_ASCII = bytes(range(128))


def wide(text: str) -> set[str]:
    """The characters of ``text`` beyond ASCII (few in most pages: found by deleting the ASCII bytes of
    its UTF-8, a pass in C)."""
    return set(text.encode("utf-8").translate(None, _ASCII).decode("utf-8"))


def search_index(site: Path, swap: bool = False) -> bool:
    """Index ``site`` with Pagefind into ``site/pagefind/`` (the files its script searches, offline);
    False if Pagefind is not installed. Only the parts of pages marked ``data-pagefind-body`` are
    indexed, read from copies of the pages made findable in Japanese (:func:`_findable`).

    ``swap``: a site being served: the index is written beside the one there, then takes its place."""
    command = pagefind_binary()
    if command is None:
        return False
    if swap:
        fresh = Path(tempfile.mkdtemp(prefix=".pagefind-", dir=site))
        try:
            _index(command, fresh, site)
            old = site / f".pagefind-old-{os.getpid()}"
            if (site / "pagefind").exists():
                (site / "pagefind").rename(old)
            (fresh / "pagefind").rename(site / "pagefind")
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(fresh, ignore_errors=True)
        return True
    return _index(command, site, site)


def reuse_index(previous: Path, out: Path) -> bool:
    """Put the search index of the last build (``previous``, a site's ``pagefind/``) into ``out``, linked
    rather than copied where the file system allows; False if there is none."""
    if not (previous / "pagefind.js").is_file():
        return False

    def link(source, target):
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)

    try:
        shutil.copytree(previous, out / "pagefind", copy_function=link)
    except OSError:
        shutil.rmtree(out / "pagefind", ignore_errors=True)
        return False
    return True


def _index(command: list[str], site: Path, pages: Path) -> bool:
    """The pages in ``pages`` indexed into ``site/pagefind/``."""
    with tempfile.TemporaryDirectory(prefix="build_book-search-") as tmp:
        for page in pages.glob("*.html"):
            (Path(tmp) / page.name).write_text(_findable(page.read_text(encoding="utf-8")), encoding="utf-8")
        try:
            result = subprocess.run([*command, "--site", tmp, "--output-path", str(site / "pagefind"), "--quiet"],
                                    capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.SubprocessError) as exc:
            raise SearchIndexError(str(exc)) from None
    if result.returncode != 0 or not (site / "pagefind" / "pagefind.js").is_file():
        raise SearchIndexError((result.stderr or result.stdout).strip()[-500:])
    return True
