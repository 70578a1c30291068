"""The print edition's page breaks, for the EPUB's page list ("p. 45" of the printed book).

**Recording** (when the PDF is laid out): :func:`page_starts` walks the boxes WeasyPrint laid out on
each page, in reading order, and notes where each page starts as ``[anchor, letters]``: the last
element with an id (or one of the front-matter sections in :data:`FRONT_SECTIONS`) that began before
the page's first text, and how many letters and digits of text (``str.isalnum``: immune to
hyphenation, spacing and punctuation) stand between that element's start and the page's first text.
A page with no text (a blank verso) is ``None``. Footnotes, generated text (folios, footnote calls,
leaders, "on page 45") and chapter labels are not counted, since the EPUB has them elsewhere or not
at all. The map is ``{"labels": [...], "starts": [...]}``, one entry per page, labels as printed
(roman in the front matter, arabic from the main matter: render/pagelabels.py).

Hook for layouts: whatever lays the book out calls :func:`page_starts` on each WeasyPrint document
(render/pdf.py for the book as one document; render/pieces.py for each piece, joined by
:func:`join_pieces`), and render/pdf.py stores the map with :func:`store`, keyed by the print
edition's HTML and stylesheet (:func:`key`).

**Using** (the EPUB): :func:`load` finds the map of the current print HTML; if there is none (the
EPUB built alone, or the book changed since the PDF was made) the EPUB lays the print edition out
itself, without writing a PDF, and stores the map. :func:`place` then finds each page's start in the
EPUB's XHTML pages (the same anchor, the same count of letters, moved back to the start of its word)
and :func:`insert` puts a ``doc-pagebreak`` marker there.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html import unescape
from pathlib import Path

from .. import cache as cachefile

FORMAT = "build_book-pagemap 1"
FOLDER = "pagemap"
# front-matter sections of the print template without ids, and the EPUB id that holds each
FRONT_SECTIONS = {"half-title": "title-page", "title-page": "title-page", "verso": "verso"}
# print ids whose content the EPUB holds under another id
ALIASES = {"contents": "toc"}
SKIPPED_CLASSES = {"footnote", "chapter-label", "footnote-ref", "footnotes"}


def _letters(text: str) -> int:
    return sum(1 for c in text if c.isalnum())


# --- recording, from WeasyPrint's layout -----------------------------------------------------------

def page_starts(document) -> list:
    """Where each page of a laid-out WeasyPrint document starts: ``[anchor, letters]`` or None."""
    from weasyprint.formatting_structure import boxes

    seen: set[str] = set()
    state = {"anchor": None, "letters": 0}
    out: list = []
    for page in document.pages:
        first: list = []

        def visit(box, skipped: bool) -> None:
            element = getattr(box, "element", None)
            tag = getattr(box, "element_tag", "") or ""
            if "::" in tag:   # generated content: folios, footnote calls, leaders, markers
                return
            if element is not None and isinstance(element.tag, str):
                classes = set((element.get("class") or "").split())
                local = element.tag.rpartition("}")[2]
                if classes & SKIPPED_CLASSES or local in ("math", "svg"):
                    skipped = True
                name = element.get("id") or next((c for c in classes if c in FRONT_SECTIONS), None)
                if name and name not in seen and not skipped and not isinstance(box, boxes.TextBox):
                    seen.add(name)
                    state["anchor"], state["letters"] = name, 0
                    if not first:
                        first.append([name, 0])
            if skipped:
                return
            if isinstance(box, boxes.TextBox):
                letters = _letters(box.text)
                if letters and not first:
                    first.append([state["anchor"], state["letters"]])
                state["letters"] += letters
            elif isinstance(box, boxes.ReplacedBox) and not first:
                first.append([state["anchor"], state["letters"]])
            for child in getattr(box, "children", ()):
                visit(child, skipped)

        for child in page._page_box.children:
            if not isinstance(child, (boxes.MarginBox, boxes.FootnoteAreaBox)):
                visit(child, False)
        out.append(first[0] if first else None)
    return out


def labels(pages: int, front_pages: int) -> list[str]:
    """Page labels as printed: roman for the ``front_pages`` first pages, then arabic from 1."""
    from .pieces import roman

    return [roman(n + 1) if n < front_pages else str(n - front_pages + 1) for n in range(pages)]


def join_pieces(plan) -> list:
    """The page starts of a book laid out in pieces (render/pieces.py): each piece's, after the
    blank pages put before it."""
    starts: list = []
    for first, piece in zip(plan.starts(), plan.pieces):
        starts += [None] * (first - len(starts))
        starts += piece.result.get("starts") or [None] * piece.result["pages"]
    return starts


def key(html: str, stylesheet: Path) -> str:
    try:
        css = stylesheet.read_bytes()
    except OSError:
        css = b""
    return cachefile.digest(cachefile.version_key(), FORMAT, html, css)


def _folder(cache: Path, proof: bool) -> Path:
    return cache / (FOLDER + "-proof" if proof else FOLDER)   # a proof round keeps the public map


def store(cache: Path | None, key_: str, page_map: dict, proof: bool = False) -> None:
    """Keep ``page_map`` (labels and starts) as the map of the print HTML ``key_`` (the only one kept)."""
    if cache is not None:
        folder = _folder(cache, proof)
        cachefile.put(folder, key_, json.dumps({"labels": page_map["labels"], "starts": page_map["starts"]}),
                      FORMAT)
        cachefile.prune(folder, {key_})


def stored(cache: Path | None, proof: bool = False) -> bool:
    """Whether a map is kept at all (one that may be the map of the print edition as it is now)."""
    try:
        return cache is not None and any(_folder(cache, proof).iterdir())
    except OSError:
        return False


def load(cache: Path | None, key_: str, proof: bool = False) -> dict | None:
    """The stored map of the print HTML ``key_``, or None."""
    if cache is None:
        return None
    text = cachefile.get_text(_folder(cache, proof), key_, FORMAT)
    try:
        found = json.loads(text) if text else None
    except ValueError:
        return None
    if not isinstance(found, dict) or len(found.get("labels", ())) != len(found.get("starts", ())):
        return None
    return found


# --- using, in the EPUB's XHTML ---------------------------------------------------------------------

TOKEN = re.compile(r"<[^>]*>|[^<]+")
NAME = re.compile(r"<\s*([^\s/>]+)")
ATTR = re.compile(r'([^\s=]+)\s*=\s*"([^"]*)"')
ENTITY = re.compile(r"&[^;\s&]*;|.", re.S)
NO_PHRASING = {"ol", "ul", "table", "tbody", "thead", "tfoot", "tr", "dl", "colgroup", "html", "head", "select",
               "list", "row", "rowgroup", "grid", "menu", "listbox", "tree", "tablist"}
# elements of these roles may hold only their own kinds of children (a role="list" holds list items)
NO_PHRASING_ROLES = {"list", "table", "row", "rowgroup", "grid", "menu", "listbox", "tree", "tablist"}


@dataclass
class Page:
    """What :func:`place` needs of one XHTML page."""
    name: str
    text: str
    ids: dict[str, int]          # id -> offset where its marker goes, if the page starts there
    navs: set[str]               # ids whose content is a navigation list: markers go before it
    letters: list[tuple[int, int, int]]   # (offset of a letter, letters before it in the page, offset of its word)
    first_letter_after: dict[str, int]    # id -> index into letters of the first letter at or after it
    end: int                     # where markers go past the last text (before </body>)


def scan(name: str, text: str) -> Page:
    """The ids, letters and places of an XHTML page, counted as :func:`page_starts` counts them."""
    ids: dict[str, int] = {}
    navs: set[str] = set()
    letters: list[tuple[int, int, int]] = []
    first_after: dict[str, int] = {}
    stack: list[tuple[str, bool, int]] = []     # tag (or its role), skipped, offset of its start tag
    pending: list[str] = []
    end = len(text)
    in_body = False
    word_start = 0
    previous_alnum = False
    for match in TOKEN.finditer(text):
        token, at = match.group(0), match.start()
        if token.startswith("<"):
            previous_alnum = False
            if token.startswith(("<?", "<!")):
                continue
            if token.startswith("</"):
                tag = NAME.match("<" + token[2:])     # "</body>" read as "<body>"
                if stack:
                    stack.pop()
                if tag and tag.group(1) == "body":
                    end = at
                continue
            found = NAME.match(token)
            tag = found.group(1) if found else ""
            attrs = dict(ATTR.findall(token))
            skipped = bool(stack and stack[-1][1]) or bool(set(attrs.get("class", "").split()) & SKIPPED_CLASSES) \
                or tag in ("math", "svg", "head")
            if tag == "body":
                in_body = True
            parent = stack[-1][0] if stack else ""
            if "id" in attrs and in_body:
                element_id = attrs["id"]
                if tag == "nav" or parent == "nav":
                    navs.add(element_id)
                if parent == "header" and stack:
                    ids[element_id] = stack[-1][2]        # a chapter's title: before its head
                elif parent not in NO_PHRASING:
                    ids[element_id] = at
                pending.append(element_id)
            if not token.endswith("/>"):
                stack.append((attrs.get("role") if attrs.get("role") in NO_PHRASING_ROLES else tag, skipped, at))
            continue
        if not in_body or (stack and stack[-1][1]):
            continue
        for piece in ENTITY.finditer(token):
            char = unescape(piece.group(0))
            offset = at + piece.start()
            if char.isalnum():
                if not previous_alnum:
                    word_start = offset
                for element_id in pending:
                    first_after[element_id] = len(letters)
                pending.clear()
                letters.append((offset, len(letters), word_start))
                previous_alnum = True
            else:
                previous_alnum = False
    for element_id in pending:
        first_after[element_id] = len(letters)
    return Page(name, text, ids, navs, letters, first_after, end)


def place(pagemap: dict, pages: list[Page]) -> tuple[list[tuple[int, int]], int]:
    """Where each printed page's marker goes: (index into ``pages``, offset), in reading order; and how
    many pages could only be placed approximately (their anchor is not in the EPUB)."""
    where: dict[str, int] = {}
    for number, page in enumerate(pages):
        for element_id in page.first_letter_after:
            where.setdefault(element_id, number)
    places: list[tuple[int, int] | None] = []
    approximate = 0
    for start in pagemap["starts"]:
        if start is None:
            places.append(None)
            continue
        anchor, count = start
        anchor = FRONT_SECTIONS.get(anchor, ALIASES.get(anchor, anchor)) if anchor else None
        if anchor is None:
            places.append((0, _first_text(pages[0]))) if pages else places.append(None)
            continue
        number = where.get(anchor)
        if number is None:
            approximate += 1
            places.append(None)
            continue
        page = pages[number]
        if anchor in page.navs or count == 0 and anchor in page.ids:
            nav_start = page.ids.get(anchor)
            places.append((number, nav_start if nav_start is not None else _first_text(page)))
            continue
        index = page.first_letter_after.get(anchor, len(page.letters)) + count
        if index >= len(page.letters):
            places.append((number, page.end))
        else:
            places.append((number, page.letters[index][2]))   # at the start of its word
    # blank pages (and pages placed nowhere) go where the next page starts; the order is kept
    result: list[tuple[int, int]] = []
    following: tuple[int, int] | None = None
    for spot in reversed(places):
        if spot is None:
            spot = following or ((len(pages) - 1, pages[-1].end) if pages else (0, 0))
        following = spot
        result.append(spot)
    result.reverse()
    for n in range(1, len(result)):
        if result[n] < result[n - 1]:
            result[n] = result[n - 1]
    return result, approximate


def _first_text(page: Page) -> int:
    return page.letters[0][2] if page.letters else page.end


def marker(label: str, prefix: str = "page-") -> str:
    return (f'<span epub:type="pagebreak" role="doc-pagebreak" id="{marker_id(label, prefix)}" '
            f'aria-label="{label}"></span>')


def marker_id(label: str, prefix: str = "page-") -> str:
    return f"{prefix}{label}"


def marker_prefix(texts, labels: list[str]) -> str:
    """The markers' ids' prefix: 'page-', unless a page already has an element of such an id (an author's
    [x]{#page-12}); then 'print-page-', and so on."""
    taken = {m.group(1) for text in texts for m in ID.finditer(text)}
    prefix = "page-"
    while any(marker_id(label, prefix) in taken for label in labels):
        prefix = "print-" + prefix
    return prefix


ID = re.compile(r'\bid="([^"]+)"')   # an element's id in HTML as the editions write it (pieces.py, site.py)


def insert(text: str, spots: list[tuple[int, str]], prefix: str = "page-") -> str:
    """``text`` with each label's marker at its offset (several at one offset in the order given)."""
    out, last = [], 0
    for offset, label in sorted(spots, key=lambda s: s[0]):   # stable: page order kept at one offset
        out.append(text[last:offset])
        out.append(marker(label, prefix))
        last = offset
    out.append(text[last:])
    return "".join(out)
