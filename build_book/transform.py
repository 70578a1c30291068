"""Transform stage: from the loaded book to formatted pandoc documents.

``prepare`` runs once per build for all editions: it resolves every
cross-reference from the :class:`~build_book.labels.LabelIndex`, puts numbers
on headings and captions, and formats every citation with citeproc in one pass
over the whole book (so that "2001a/2001b" agree across chapters). Renderers
then write the same documents, each with its own link targets.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from . import pandoc, sanitize, styles
from .diagnostics import BuildError, error
from .labels import SKIP_FLOATS, LabelIndex, is_crossref, normal_ref
from .model import FRONT, Book, Chapter, is_external
from .walk import Link, Space, Span, Str, elements, rewrite
from .walk import words as text_inlines


@dataclass(frozen=True)
class Prepared:
    chapters: dict[int, list]   # chapter index -> blocks, ready to write
    references: list            # the formatted reference list (blocks)
    fragments: dict = field(default_factory=dict)  # HTML written from these, shared by the renderers


def resolve_crossrefs(blocks: list, book: Book, index: LabelIndex) -> list:
    words = book.config.words
    page_refs = book.config.page_references

    def one(citation: dict) -> list:
        key = citation["citationId"]
        label_id, capital = normal_ref(key)
        label = index.get(label_id)
        bare = citation["citationMode"]["t"] == "SuppressAuthor"
        if label is None:
            return [Span(["xref-missing"], [Str("??" + key)])]
        if label.number is None:
            text = label.title
        else:
            text = index.reference_text(label, words, bare=bare)
        if capital and text:
            text = text[0].upper() + text[1:]
        classes = ["xref"] + (["page-ref"] if page_refs and not bare else [])
        if label.chapter is not None and book.chapters[label.chapter].matter == FRONT:
            classes.append("front-ref")  # its page number is roman
        attrs = [["data-kind", label.kind]] + ([["data-page-word", words.get("page", "page")]] if page_refs else [])
        inlines = list(citation["citationPrefix"])
        if inlines:
            inlines.append(Space())
        inlines.append(Link(text_inlines(text), "#" + label.id, classes, attrs))
        inlines.extend(citation["citationSuffix"])
        return inlines

    def fix(node: dict):
        if node["t"] != "Cite":
            return None
        citations = node["c"][0]
        if not any(is_crossref(c["citationId"]) for c in citations):
            return None
        segments: list[list] = []
        pending: list = []
        for citation in citations:
            if is_crossref(citation["citationId"]):
                if pending:
                    segments.append([{"t": "Cite", "c": [pending, [Str("[citation]")]]}])
                    pending = []
                segments.append(one(citation))
            else:
                pending.append(citation)
        if pending:
            segments.append([{"t": "Cite", "c": [pending, [Str("[citation]")]]}])
        out: list = []
        for i, segment in enumerate(segments):
            if i:
                out += [Str(";"), Space()]
            out += segment
        return out

    return rewrite(blocks, fix)


def resolve_file_links(blocks: list, chapter: Chapter, book: Book, labels: dict[Path, str]) -> list:
    """Links to chapter files ('02-cases.md#sec-x') become links to the label (``labels``:
    chapter file -> label); links to other local files, which no edition carries, become
    plain text (the checks warn)."""
    folder = (book.config.root / chapter.path).parent

    def fix(node: dict):
        if node["t"] != "Link":
            return None
        target = node["c"][2][0]
        if not target or target.startswith("#") or is_external(target):
            return None
        path, _, anchor = target.partition("#")
        label = labels.get((folder / unquote(path)).resolve())
        if label is None:
            return [Span(["local-link"], node["c"][1])]
        node["c"][2][0] = "#" + (anchor or label)
        return [node]

    return rewrite(blocks, fix)


def number_blocks(blocks: list, book: Book, index: LabelIndex) -> list:
    """Numbers on headings ("3.2") and captions ("Figure 3.2:"), wherever they stand."""
    words = book.config.words
    for node in elements(blocks, skip=SKIP_FLOATS):
        kind = node["t"]
        if kind == "Header":
            level, attr, inlines = node["c"]
            label = index.get(attr[0])
            if level == 1:
                label_text = index.reference_text(label, words) if label and label.number else ""
                head = [Span(["chapter-label"], [Str(label_text)])] if label_text else []
                node["c"][2] = head + [Span(["title-text"], inlines)]
            elif label and label.number:
                node["c"][2] = [Span(["section-number"], [Str(label.number)]), Space()] + inlines
        elif kind in ("Figure", "Table"):
            label = index.get(node["c"][0][0])
            caption = node["c"][1][1]
            if label and label.number and caption and caption[0]["t"] in ("Plain", "Para"):
                text = index.reference_text(label, words)
                caption[0]["c"] = [Span(["caption-label"], [Str(text + ":")]), Space()] + caption[0]["c"]
    return blocks


def prepare(book: Book, index: LabelIndex, progress=None) -> Prepared:
    wrapped = []
    files = {(book.config.root / c.path).resolve(): c.label for c in book.chapters}
    for chapter in book.chapters:
        blocks, _ = sanitize.clean_blocks(chapter.blocks)   # a clean copy; the checks reported what went
        blocks = resolve_crossrefs(blocks, book, index)
        blocks = resolve_file_links(blocks, chapter, book, files)
        blocks = number_blocks(blocks, book, index)
        wrapped.append({"t": "Div", "c": [[f"bb-chapter-{chapter.index}", [], []], blocks]})
    wrapped.append({"t": "Div", "c": [["refs", [], []], []]})
    meta = {"lang": {"t": "MetaString", "c": book.config.lang}}
    if progress:
        progress.step("formatting citations (citeproc, %s)" % book.config.csl)
    csl = styles.resolve(book.config.csl, book.config.root)
    try:
        doc = pandoc.citeproc(pandoc.document(wrapped, meta), list(book.bibliography.paths), csl, book.config.root)
    except pandoc.PandocTimeout as exc:
        raise BuildError([error("pandoc-timeout", f"formatting the citations took longer than {exc.seconds:g} "
                                "seconds and was stopped", book.config.where("bibliography"),
                                f"a very large bibliography may need more time: set {pandoc.TIMEOUT_ENV}=SECONDS")]) \
            from None
    except pandoc.PandocError as exc:
        # the checks read the .bib files as pandoc does; what is left is the style file
        detail = " ".join(str(exc).split())[:300]
        raise BuildError([error("csl-invalid", f"citations could not be formatted: {detail}",
                                book.config.where("csl"),
                                "check the citation style file named by 'csl:' (it must be CSL 1.0 XML)")]) from None
    chapters: dict[int, list] = {}
    references: list = []
    for block in doc["blocks"]:
        if block["t"] == "Div":
            ident = block["c"][0][0]
            if ident.startswith("bb-chapter-"):
                chapters[int(ident.removeprefix("bb-chapter-"))] = block["c"][1]
            elif ident == "refs":
                references = [block]
    if not book.config.lang.lower().startswith(("ja", "zh", "ko")):
        chapters = {number: mark_japanese(blocks) for number, blocks in chapters.items()}
        references = mark_japanese(references)
    return Prepared(chapters, references)


# Kana, CJK ideographs, CJK punctuation and full-width forms: text set in a Japanese font.
JAPANESE = re.compile(r"[\u2015\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+")


def mark_japanese(blocks: list) -> list:
    """Wrap runs of Japanese script in ``<span lang="ja">`` so that every edition picks
    Japanese glyph forms and fonts (an English book otherwise renders them as Chinese or tofu)."""

    def fix(node: dict):
        if node["t"] != "Str" or not JAPANESE.search(node["c"]):
            return None
        out: list = []
        position = 0
        for match in JAPANESE.finditer(node["c"]):
            if match.start() > position:
                out.append(Str(node["c"][position:match.start()]))
            out.append(Span([], [Str(match.group(0))], [["lang", "ja"]]))
            position = match.end()
        if position < len(node["c"]):
            out.append(Str(node["c"][position:]))
        return out

    return rewrite(blocks, fix)


def notes_to_spans(blocks: list) -> list:
    """For print: each footnote becomes an inline span that CSS floats to the page foot."""

    def fix(node: dict):
        if node["t"] != "Note":
            return None
        return [Span(["footnote"], note_inlines(node["c"]))]

    return rewrite(copy.deepcopy(blocks), fix)


def note_inlines(blocks: list) -> list:
    """A footnote's blocks as one run of inlines: paragraphs, quotations, lists and code
    kept, each on a line of its own."""
    out: list = []
    for block in blocks:
        kind, content = block["t"], block.get("c")
        if kind in ("Para", "Plain"):
            piece = content
        elif kind == "LineBlock":
            piece = [inline for i, line in enumerate(content) for inline in ([{"t": "LineBreak"}] if i else []) + line]
        elif kind == "BlockQuote":
            piece = [Span(["note-quote"], note_inlines(content))]
        elif kind == "Div":
            piece = note_inlines(content[1])
        elif kind in ("BulletList", "OrderedList"):
            items = content if kind == "BulletList" else content[1]
            start = 1 if kind == "BulletList" else content[0][0]
            piece = []
            for n, item in enumerate(items):
                if n:
                    piece.append({"t": "LineBreak"})
                marker = "•" if kind == "BulletList" else f"{start + n}."
                piece += [Str(marker), Space()] + note_inlines(item)
        elif kind == "CodeBlock":
            piece = [{"t": "Code", "c": content}]
        else:
            piece = []
        if piece:
            if out:
                out.append({"t": "LineBreak"})
            out.extend(piece)
    return out
