"""Transform stage: from the loaded book to formatted pandoc documents.

``prepare`` runs once per build for all editions: it resolves every
cross-reference from the :class:`~build_book.labels.LabelIndex`, puts numbers
on headings and captions, and formats every citation with citeproc in one pass
over the whole book (so that "2001a/2001b" agree across chapters). Renderers
then write the same documents, each with its own link targets.
"""

from __future__ import annotations

import copy
import gc
import json
import marshal
import multiprocessing
import os
import re
import tempfile
import threading
from collections.abc import Mapping
from contextlib import contextmanager
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from . import cache as cachefile
from . import index as book_index
from . import bibliography as bib
from . import names as name_order
from . import math, pandoc, quarto, sanitize, styles, ui
from .ui import REFERENCES_WORDS
from .config import PLURALS
from .diagnostics import BuildError, error
from .labels import SKIP_FLOATS, LabelIndex, is_crossref, normal_ref
from .model import FRONT, Book, Chapter, facts_of, is_external, release
from .walk import Link, Space, Span, Str, elements, rewrite
from .walk import words as text_inlines


@dataclass(frozen=True)
class Prepared:
    chapters: Mapping[int, list]   # chapter index -> blocks, ready to write (read from the cache on demand)
    references: list            # the formatted reference list (blocks)
    fragments: dict = field(default_factory=dict)  # HTML written from these, shared by the renderers
    keys: dict[int, str] = field(default_factory=dict)  # chapter index -> digest of all its blocks depend on
    references_key: str = ""    # digest of all the reference list depends on
    cache: Path | None = None   # build/.cache of the book (None: nothing is cached)
    jobs: int = 1               # how many chapters may be worked on at once
    chapter_references: dict[int, list[str]] = field(default_factory=dict)  # chapter -> works its own list holds
    html: dict[int, str] = field(default_factory=dict)  # chapter -> its blocks as HTML, written with its citations
    references_html: str | None = None   # the reference list as HTML, if written with its citations


def resolve_crossrefs(blocks: list, book: Book, index: LabelIndex) -> list:
    words = book.config.words
    page_refs = book.config.page_references

    def link(label, text: str, capital: bool, bare: bool) -> dict:
        if capital and text:
            text = text[0].upper() + text[1:]
        classes = ["xref"] + (["page-ref"] if page_refs and not bare else [])
        if label.chapter is not None and book.chapters[label.chapter].matter == FRONT:
            classes.append("front-ref")  # its page number is roman
        attrs = [["data-kind", label.kind]] + ([["data-page-word", words.get("page", "page")]] if page_refs else [])
        return Link(text_inlines(text), "#" + label.id, classes, attrs)

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
            text = index.reference_text(label, words, bare=bare, space="\u00a0")   # never "Chapter / 11"
        inlines = list(citation["citationPrefix"])
        if inlines:
            inlines.append(Space())
        inlines.append(link(label, text, capital, bare))
        inlines.extend(citation["citationSuffix"])
        return inlines

    def groupable(citation: dict):
        """The label a reference may share its word with others of its kind for ("Figures 1.1 and 1.2"),
        if it may."""
        key = citation["citationId"]
        if not is_crossref(key) or citation["citationMode"]["t"] == "SuppressAuthor":
            return None
        label = index.get(normal_ref(key)[0])
        if label is None or not label.number:
            return None
        word, several = words.get(label.kind, ""), words.get(PLURALS.get(label.kind, ""), "")
        return label if word and several and "and" in words and "%s" not in word + several else None

    def several(citations: list[dict], labels: list) -> list:
        """[@fig-a; @fig-b; @fig-c]: "Figures 1.1, 1.2, and 1.3", each number a link (the first with the word)."""
        inlines = list(citations[0]["citationPrefix"])
        if inlines:
            inlines.append(Space())
        capital = normal_ref(citations[0]["citationId"])[1]
        inlines.append(link(labels[0], f"{words[PLURALS[labels[0].kind]]}\u00a0{labels[0].number}", capital, False))
        for n, label in enumerate(labels[1:], 1):
            if n == len(labels) - 1:
                inlines += ([Str(",")] if len(labels) > 2 else []) + [Space(), Str(words["and"]), Space()]
            else:
                inlines += [Str(","), Space()]
            inlines.append(link(label, label.number, False, False))
        inlines.extend(citations[-1]["citationSuffix"])
        return inlines

    def runs(citations: list[dict]) -> list[tuple[list[dict], list]]:
        """The citations in runs of references to different labels of one kind, each run to be worded as one
        (none but the first with a prefix, none but the last with a suffix), with their labels (none for a
        citation that stands alone)."""
        out: list[tuple[list[dict], list]] = []
        for citation in citations:
            label = groupable(citation)
            last, labels = out[-1] if out else (None, None)
            if (label and labels and labels[0].kind == label.kind and label not in labels
                    and not last[-1]["citationSuffix"] and not citation["citationPrefix"]):
                last.append(citation)
                labels.append(label)
            else:
                out.append(([citation], [label] if label else []))
        return out

    def fix(node: dict):
        if node["t"] != "Cite":
            return None
        citations = node["c"][0]
        if not any(is_crossref(c["citationId"]) for c in citations):
            return None
        segments: list[list] = []
        pending: list = []
        for run, labels in runs(citations):
            if is_crossref(run[0]["citationId"]):
                if pending:
                    segments.append([{"t": "Cite", "c": [pending, [Str("[citation]")]]}])
                    pending = []
                segments.append(one(run[0]) if len(run) == 1 else several(run, labels))
            else:
                pending += run
        if pending:
            segments.append([{"t": "Cite", "c": [pending, [Str("[citation]")]]}])
        out: list = []
        for i, segment in enumerate(segments):
            if i:
                out += separator
            out += segment
        return out

    # between references that stand apart ("Figure 1.1; Chapter 2"): in Japanese and Chinese, the
    # ideographic comma, with no space ("図 1.1、第2章")
    separator = [Str("、")] if book.config.lang.split("-")[0] in ("ja", "zh") else [Str(";"), Space()]

    return rewrite(blocks, fix)


def resolve_file_links(blocks: list, chapter: Chapter, book: Book, labels: dict[Path, str]) -> list:
    """Links to chapter files ('02-cases.md#sec-x') become links to the label (``labels``:
    chapter file -> label); links to other local files, which no edition carries, become
    plain text (the checks warn)."""
    folder = (book.config.root / chapter.path).parent
    references = book.chapters[book.references_chapter].label if book.references_chapter is not None else None

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
        if anchor == "refs" and label != references:    # where that chapter's own list goes: the list
            anchor = f"refs-{label}"
        node["c"][2][0] = "#" + (anchor or label)
        return [node]

    return rewrite(blocks, fix)


def number_blocks(blocks: list, book: Book, index: LabelIndex) -> list:
    """Numbers on headings ("3.2"), captions ("Figure 3.2:") and equations ("(3.2)"), wherever they stand."""
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
                if label.parent:   # a sub-figure: "(a)" under it
                    text = label.number[label.number.rindex("("):]
                else:
                    text = index.reference_text(label, words) + ":"
                caption[0]["c"] = [Span(["caption-label"], [Str(text)]), Space()] + caption[0]["c"]
            elif label and label.number and not caption:    # its number alone, where a reference leads
                text = label.number[label.number.rindex("("):] if label.parent else index.reference_text(label, words)
                node["c"][1][1] = [{"t": "Plain", "c": [Span(["caption-label"], [Str(text)])]}]
        elif kind == "Span" and math.is_equation(node):
            label = index.get(node["c"][0][0])
            if label and label.number:
                math.number(node, label.number)
    return blocks


def code_ids(blocks: list, chapter: Chapter) -> None:
    """An id for each code block without one, unique in the book: pandoc would number them 'cb1',
    'cb2', ... (and their lines 'cb1-1', ...) in every chapter alike, and the PDF holds every chapter."""
    n = 0
    for node in elements(blocks):
        if node["t"] == "CodeBlock" and not node["c"][0][0]:
            n += 1
            node["c"][0][0] = f"{chapter.label}-code-{n}"


CHAPTER_FORMAT = "build_book-chapter 1"   # header of a cached chapter (see cache.py)
REFERENCES_FORMAT = "build_book-references 1"
LIST_ROLE = ["role", "doc-bibliography"]    # a reference list in a chapter, as the EPUB's bibliography page has it


def default_jobs() -> int:
    """Every core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def prepare(book: Book, index: LabelIndex, progress=None, jobs: int | None = None,
            html: bool = False, meanwhile=None, lean: bool = False) -> Prepared:
    """Every chapter's blocks resolved, numbered and with its citations formatted, each from the
    cache when nothing it depends on has changed, the others worked on in parallel (``jobs``
    processes, default every core). ``html``: the web or EPUB edition will be written, so the pandoc
    run that formats a chapter's citations writes its HTML too (``Prepared.html``, for
    render/common.py's write_fragments), saving a run. ``lean``: the print edition will be laid out too,
    so citeproc runs are kept short (RUN_BYTES), for the build's peak memory.

    Citations stay book-wide correct although each chapter is formatted alone: citeproc sees the
    chapter after a hidden citation of every work the chapters before it cite (in the order they are
    first cited, then the last work cited before the chapter), and with every work the book cites as
    ``nocite``. So disambiguation (2001a/2001b) is that of the whole book, a work cited in an earlier
    chapter is cited in its subsequent (short) form, numeric styles number in the book's order, and
    "ibid." follows the previous chapter's last citation, all as one pass over the book would.

    ``meanwhile`` (if given) is called with a provisional :class:`Prepared` of the chapters taken from the
    cache (the others missing, no reference list) while pandoc formats the others, once the first pandoc
    run has begun (a renderer gets ready with what it can: this process is idle then); never if nothing
    is formatted.

    With a style whose citations do not depend on their position (see _positions_free), the chapters to
    format go in one citeproc run per process (see _tasks and _Plan.chapters), with the same results; and
    with an in-text one (see _reusable), when every chapter citing works is to be formatted (a cold build),
    the whole book's citations go in one run before the chapters are resolved (see _book_wide)."""
    jobs = jobs or default_jobs()
    plan = _Plan.of(book, index)
    plan.html = html
    cache = book.config.root / "build" / ".cache"
    folder = cache / "chapters"
    keys = {chapter.index: plan.key(chapter) for chapter in book.chapters}
    texts: dict[int, str] = {}
    written: dict[int, str] = {}
    todo = []
    for chapter in book.chapters:
        # a live preview keeps the last build's chapters in memory; else they are read from the cache
        text = _CHAPTER_MEMORY.get(keys[chapter.index]) or cachefile.get_text(folder, keys[chapter.index],
                                                                              CHAPTER_FORMAT)
        if text is None:
            todo.append(chapter.index)
        else:
            texts[chapter.index] = text
    # chapter file -> [its key, the digest of what its citations depend on] in the last build
    last = {path: [keys[c.index], plan.citing_keys[c.index]] for c in book.chapters
            for path in [cachefile.digest(LAST_FORMAT, str(c.path))]}
    refs_key = plan.references_key()
    refs_text = cachefile.get_text(cache / "references", refs_key, REFERENCES_FORMAT)
    refs_html = None
    if todo or refs_text is None:
        if progress:
            what = f"{len(todo)} of {len(book.chapters)} chapters" if todo else "the reference list"
            progress.step(f"formatting {what} (citeproc, {book.config.csl}, {min(jobs, max(1, len(todo)))} at once)")
        if sum(1 for n in todo if plan.cited[n]) > 1:
            plan.together = _positions_free(plan.csl)
        if any(plan.cited[n] for n in todo):
            plan.citations_alone = _reusable(plan, cache)
        _find_previous(plan, todo, keys, cache, last)
        tasks = _tasks(plan, todo, jobs, refs_text is None, RUN_BYTES if lean else None)
        # (only while this process runs pandoc itself: a cold build, in worker processes, is left as it was)
        early = None if meanwhile is None or min(jobs, len(tasks)) > 1 else (
            lambda: meanwhile(Prepared(_Blocks(dict(texts)), [], {}, dict(keys), refs_key, cache, jobs)))
        first = plan.first_citations(todo)
        if first is not None:    # every chapter to format cites works: their citations in one run (see _book_wide)
            tasks, results = _book_wide(plan, first, todo, jobs, refs_text is None, RUN_BYTES if lean else None)
        else:
            results = _alongside(lambda: _run_all(plan, tasks, jobs), early, plan)
        for (kind, numbers), (status, value) in zip(tasks, results):
            if status != "ok":
                raise BuildError([_citeproc_failed(book, status, value)])
            if kind == "chapters":
                for number, (text, fragment) in zip(numbers, value):
                    texts[number] = text
                    if fragment is not None:
                        written[number] = fragment
                    cachefile.put(folder, keys[number], text, CHAPTER_FORMAT)
            else:
                refs_text, refs_html = value
                cachefile.put(cache / "references", refs_key, refs_text, REFERENCES_FORMAT)
    for number in todo:   # (a chapter taken from the cache has the key its record holds)
        path = cachefile.digest(LAST_FORMAT, str(book.chapters[number].path))
        cachefile.put(cache / "chapters-last", path, json.dumps(last[path]), LAST_FORMAT)
    cachefile.prune(folder, set(keys.values()))
    cachefile.prune(cache / "references", {refs_key})
    cachefile.prune(cache / "chapters-last", set(last) | {_reusable_entry(plan)})
    _CHAPTER_MEMORY.clear()
    _CHAPTER_MEMORY.update((keys[number], text) for number, text in texts.items())
    references = json.loads(refs_text)
    chapter_refs = chapter_references(book, texts, keys, references, refs_key)
    for number in chapter_refs:     # their blocks have changed since
        written.pop(number, None)
    return Prepared(_Blocks(texts), references, {}, keys, refs_key, cache, jobs, chapter_refs, written, refs_html)


LAST_FORMAT = "build_book-chapter-last 1"   # a chapter file's key and citations digest in the last build


def _find_previous(plan: "_Plan", todo: list[int], keys: dict[int, str], cache: Path, last: dict) -> None:
    """``plan.previous``: for each chapter of ``todo`` that cites works, its prepared text of the last build
    that made it, if what its citations depend on (the style, the works citeproc knows, those cited before
    it) is the same now, and it is still in the cache (pruned only after this build). See _reused."""
    book = plan.book
    if plan.whole_book:
        return
    for number in todo:
        path = cachefile.digest(LAST_FORMAT, str(book.chapters[number].path))
        if not plan.cited[number] or last[path][1] == "":
            continue
        record = cachefile.get_text(cache / "chapters-last", path, LAST_FORMAT)
        try:
            old_key, old_citing = json.loads(record) if record else (None, None)
        except (ValueError, TypeError):
            continue
        if old_key is None or old_key == keys[number] or old_citing != last[path][1]:
            continue
        text = _CHAPTER_MEMORY.get(old_key) or cachefile.get_text(cache / "chapters", old_key, CHAPTER_FORMAT)
        if text is not None:
            plan.previous[number] = text
            if plan.html:   # its HTML as write_fragments wrote it then (see _patched_html)
                from .render.common import FRAGMENT_FORMAT
                fragment = cachefile.get_text(cache / "fragments-end-notes", cachefile.digest(old_key, "end-notes"),
                                              FRAGMENT_FORMAT, ".html")
                if fragment is not None:
                    plan.previous_html[number] = fragment
    if plan.previous:
        plan.reusable = _reusable(plan, cache)


def _reusable(plan: "_Plan", cache: Path) -> bool:
    """Does a citation in the book's style read the same whatever stands around it, and wherever it stands:
    an in-text style, without conditions on positions, that does not number works in citation order? Then
    its formatted text depends on its own list of works alone (with the works citeproc knows the same):
    it can be taken from the last build (see _reused), or formatted apart from the chapters (see
    _Plan._citations_alone)."""
    if plan.whole_book:
        return False
    # found once per style (pandoc's default style is pandoc's to print: a run of its own)
    entry = _reusable_entry(plan)
    found = cachefile.get_text(cache / "chapters-last", entry, LAST_FORMAT)
    if found in ("yes", "no"):
        return found == "yes"
    style = _read(plan.csl) if plan.csl is not None else pandoc.default_style()
    # (a dependent style's class and conditions are its parent's: not known here)
    reusable = style is not None and style != "missing" and not POSITIONAL.search(style) \
        and bool(IN_TEXT_STYLE.search(style)) and "independent-parent" not in style
    cachefile.put(cache / "chapters-last", entry, "yes" if reusable else "no", LAST_FORMAT)
    return reusable


def _reusable_entry(plan: "_Plan") -> str:
    """The cache entry saying whether the style lets citations be taken from the last build (see _reused)."""
    return cachefile.digest(LAST_FORMAT, "reusable", plan.citing)


# chapter key -> its prepared blocks as JSON text, as the last build in this process made or read them (a
# live preview builds again and again: the chapters not edited are not read from the cache again)
_CHAPTER_MEMORY: dict[str, str] = {}


def _alongside(work, meanwhile, plan: "_Plan"):
    """``work()``, and ``meanwhile()`` in this thread once ``work`` has begun its first pandoc run in this
    process, while pandoc works (not at all if it ends first, e.g. in worker processes): what ``meanwhile``
    raises is ignored (it only gets ready what the build would otherwise do later)."""
    if meanwhile is None:
        return work()
    begun = threading.Event()
    out: dict = {}

    def hook():
        out["begun"] = True
        begun.set()

    plan.begun = hook

    def run():
        try:
            out["value"] = work()
        except BaseException as exc:   # handed to this thread below
            out["error"] = exc
        finally:
            begun.set()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    begun.wait()
    try:
        if out.get("begun"):
            meanwhile()
    except Exception:   # noqa: BLE001 (the renderer does it all again, and reports what goes wrong)
        pass
    finally:
        worker.join()
        plan.begun = None
    if "error" in out:
        raise out["error"]
    return out["value"]


def chapter_ref_id(chapter: Chapter, key: str) -> str:
    """The id of work ``key`` in ``chapter``'s own reference list."""
    return f"ref-{chapter.label}-{key}"


def chapter_references(book: Book, texts: dict[int, str], keys: dict[int, str], references: list,
                       references_key: str) -> dict[int, list[str]]:
    """With ``bibliography-scope: chapter`` or ``both``: end each chapter that cites works with a
    "References" section listing them, and point its citation links there; with ``book``, only a chapter that
    ends with a heading of its own for the list and nothing under it (as pandoc and Quarto would list the
    chapter's works there), which would otherwise head nothing. The entries are copies of
    those of the book-wide list (formatted once, so 2001a/2001b read the same everywhere), in its
    order, with ids of the chapter's own (:func:`chapter_ref_id`). Changes ``texts`` (chapter -> JSON
    blocks) and ``keys`` (what the written fragments are cached by) in place; returns chapter -> the
    works its list holds."""
    scope = book.config.bibliography_scope
    if not references:
        return {}
    refs_div = references[0]["c"]
    entries = {b["c"][0][0].removeprefix("ref-"): b for b in refs_div[1] if b["t"] == "Div"}
    heading = ui.reference_list(book.config.lang, "References")
    listed: dict[int, list[str]] = {}
    for chapter in book.chapters:
        if chapter.index not in texts:
            continue
        placed = _REFS_DIV_ANY.search(texts[chapter.index]) is not None    # Quarto's '::: {#refs}'
        if scope == "book" and not placed and not _ends_with_references_heading(_last_block(texts[chapter.index]),
                                                                                heading):
            continue
        blocks = json.loads(texts[chapter.index])
        cited = {c["citationId"] for node in elements(blocks) if node["t"] == "Cite" for c in node["c"][0]}
        own = [k for k in entries if k in cited]
        # where the author put '::: {#refs}' (which citeproc filled with every work its run knew, with the ids
        # of the book's list): the chapter's own list goes at the last, the others are taken out
        at = [n for n, block in enumerate(blocks) if block["t"] == "Div" and block["c"][0][0] == "refs"]
        if chapter.index == book.references_chapter:    # the book's list goes here (Quarto's references.qmd)
            blocks[at[-1]] = {"t": "Div", "c": [["", ["book-references"], [LIST_ROLE]], references]}
            _placed(texts, keys, chapter, [b for n, b in enumerate(blocks) if n not in at[:-1]], scope, references_key)
            continue
        if not own:
            if at:
                texts[chapter.index] = json.dumps([b for n, b in enumerate(blocks) if n not in at], ensure_ascii=False)
                keys[chapter.index] = cachefile.digest(keys[chapter.index], scope, "no-references")
            continue

        def relink(node: dict, own=set(own), chapter=chapter):
            if node["t"] == "Link" and node["c"][2][0] == "#refs":    # (a link to where its list goes: the list)
                node["c"][2][0] = f"#refs-{chapter.label}"
                return [node]
            if node["t"] != "Link" or not node["c"][2][0].startswith("#ref-"):
                return None
            key = node["c"][2][0].removeprefix("#ref-")
            if key in own:
                node["c"][2][0] = "#" + chapter_ref_id(chapter, key)
            return [node]

        blocks = rewrite(blocks, relink)
        copies = []
        for key in own:
            entry = copy.deepcopy(entries[key])
            entry["c"][0][0] = chapter_ref_id(chapter, key)
            copies.append(entry)
        listing = {"t": "Div", "c": [[f"refs-{chapter.label}", refs_div[0][1], refs_div[0][2]], copies]}
        if at and at[-1] < len(blocks) - 1:     # '::: {#refs}' before more of the chapter: the list goes there
            blocks[at[-1]] = {"t": "Div", "c": [["", ["chapter-references"], [LIST_ROLE]], [listing]]}
            blocks = [b for n, b in enumerate(blocks) if n not in at[:-1]]
            _placed(texts, keys, chapter, blocks, scope, references_key)
            listed[chapter.index] = own
            continue
        blocks = [b for n, b in enumerate(blocks) if n not in at]   # (the last one, at the end: the list goes there)
        section = [listing]
        # the chapter's own heading, as Quarto and pandoc writers end a chapter ('## References'), or any heading
        # of the author's right above the '::: {#refs}' that ends it ('## Sources and Further Reading'): the list
        # goes under it (a heading of build_book's too would repeat it, with the id the author's was given)
        headed = bool(at) and bool(blocks) and blocks[-1]["t"] == "Header" and blocks[-1]["c"][0] > 1
        if not headed and not _ends_with_references_heading(blocks, heading):
            section.insert(0, {"t": "Header", "c": [2, [f"{chapter.label}-references", ["unnumbered",
                                                         "references-heading"], []], [Str(heading)]]})
        blocks.append({"t": "Div", "c": [["", ["chapter-references"], [LIST_ROLE]], section]})
        _placed(texts, keys, chapter, blocks, scope, references_key)
        listed[chapter.index] = own
    return listed


def _placed(texts: dict[int, str], keys: dict[int, str], chapter: Chapter, blocks: list, scope: str,
            references_key: str) -> None:
    """The chapter's blocks with its own reference list, kept (see chapter_references)."""
    texts[chapter.index] = json.dumps(blocks, ensure_ascii=False)
    keys[chapter.index] = cachefile.digest(keys[chapter.index], scope, references_key, "chapter-references")


def _last_block(text: str) -> list:
    """[the last block] of a chapter's blocks as JSON text, if it is a heading; else []. Read from the end
    of the text alone: a heading that is not the last block, or stands inside another, leaves more text after it."""
    at = max(text.rfind('{"t": "Header"'), text.rfind('{"t":"Header"'))
    end = text.rstrip().removesuffix("]")
    if at < 0 or len(end) == len(text.rstrip()):
        return []
    try:
        return [json.loads(end[at:])]
    except ValueError:
        return []


def _ends_with_references_heading(blocks: list, heading: str) -> bool:
    """Whether the chapter ends with a heading for its reference list ('## References') and nothing under it."""
    from .walk import inline_text
    if not blocks or blocks[-1]["t"] != "Header" or blocks[-1]["c"][0] == 1:
        return False
    words = [node for node in blocks[-1]["c"][2]       # (its number, if it has one, aside)
             if not (node["t"] == "Span" and "section-number" in node["c"][0][1])]
    return inline_text(words).strip().casefold() in REFERENCES_WORDS | {heading.casefold()}


class _Blocks(Mapping):
    """Chapter index -> blocks, each parsed from its JSON text only when a renderer asks for it."""

    def __init__(self, texts: dict[int, str]):
        self._texts = texts
        self._blocks: dict[int, list] = {}

    def __getitem__(self, number: int) -> list:
        if number not in self._blocks:
            self._blocks[number] = json.loads(self._texts[number])
        return self._blocks[number]

    def __contains__(self, number) -> bool:   # without parsing the blocks (as Mapping's would)
        return number in self._texts

    def text(self, number: int) -> str:
        """The chapter's blocks as JSON text (as cached), without parsing them."""
        return self._texts[number]

    def once(self, number: int) -> list:
        """The chapter's blocks, parsed for one use and not kept (unless they already are): a book's
        parsed blocks take several times the memory of their text."""
        return self._blocks[number] if number in self._blocks else json.loads(self._texts[number])

    def __iter__(self):
        return iter(self._texts)

    def __len__(self) -> int:
        return len(self._texts)


def _citeproc_failed(book: Book, status: str, value):
    if status == "timeout":
        return error("pandoc-timeout", f"formatting the citations took longer than {value:g} seconds and was stopped",
                     book.config.where("bibliography"),
                     f"a very large bibliography may need more time: set {pandoc.TIMEOUT_ENV}=SECONDS")
    # the checks read the .bib files as pandoc does; what is left is the style file
    detail = " ".join(str(value).split())[:300]
    return error("csl-invalid", f"citations could not be formatted: {detail}", book.config.where("csl"),
                 "check the citation style file named by 'csl:' (it must be CSL 1.0 XML)")


@dataclass
class _Plan:
    """What the chapters' citations and cross-references depend on, worked out once per build."""

    book: Book
    index: LabelIndex
    files: dict           # chapter file -> its label, for links between chapter files
    csl: Path | None
    cited: dict[int, list[str]]       # chapter -> the works it cites, in order
    order: list[str]                  # every work the book cites, in the order first cited
    earlier: dict[int, list[str]]     # chapter -> the works cited before it, in the order first cited
    last: dict[int, str | None]       # chapter -> the last work cited before it
    common: str                       # digest of what every chapter depends on
    citing: str                       # digest of the style and what the bibliography files share
    whole_book: bool                  # the style numbers works or keeps them in citation order
    names: dict[str, frozenset]       # work -> the words of its authors' and editors' family names
    sources: list[Path]               # what citeproc reads the works from for citations (CSL JSON, see names.py)
    list_sources: list[Path]          # ... and for reference lists (people printed family name first as literals)
    items: dict[str, dict]            # work -> its CSL JSON item as citations are formatted from it
    list_items: dict[str, dict]       # work -> its CSL JSON item as reference lists are formatted from it
    html: bool = False                # write each chapter's HTML in the run that formats its citations
    begun: object = None              # called once a chapter's pandoc run has read it (see _alongside)
    together: bool = False            # format chapters together (see chapters): the style allows it
    citations_alone: bool = False     # format the citations apart from the chapters (see _citations_alone):
    #                                   an in-text style, no conditions on positions, works not numbered
    citing_keys: dict = field(default_factory=dict)   # chapter -> digest of what its citations depend on (key)
    previous: dict = field(default_factory=dict)      # chapter -> its prepared text of the last build, if
    #                                                   what its citations depend on is unchanged (see _reused)
    reusable: bool = False            # the style's citations can be taken from there (see prepare)
    previous_html: dict = field(default_factory=dict)  # chapter -> the HTML written of its text in previous

    @classmethod
    def of(cls, book: Book, index: LabelIndex) -> "_Plan":
        csl = styles.resolve(book.config.csl, book.config.root)
        cited = {c.index: [k for k in c.targets.cites if not is_crossref(k)] for c in book.chapters}
        order: list[str] = []
        seen: set[str] = set()
        earlier: dict[int, list[str]] = {}
        last: dict[int, str | None] = {}
        previous = None
        for chapter in book.chapters:
            earlier[chapter.index] = list(order)
            last[chapter.index] = previous
            for key in cited[chapter.index]:
                if key not in seen:
                    seen.add(key)
                    order.append(key)
                previous = key
        order += [key for key in book.nocite_keys() if key not in seen]    # listed, cited nowhere: last
        config = book.config
        common = cachefile.digest(cachefile.version_key(), pandoc.version(), config.words, config.page_references,
                                  config.lang)
        style = _read(csl) if csl else "default style"
        citing = cachefile.digest(common, style, [_shared_definitions(p) for p in book.bibliography.paths])
        whole_book = _order_matters(style) if csl else False
        entries = book.bibliography.entries
        names = {key: _family_words(entries[key]) if key in entries else frozenset() for key in order}
        files = {(config.root / c.path).resolve(): c.label for c in book.chapters}
        sources, list_sources, items, list_items = _csl_sources(book)
        return cls(book, index, files, csl, cited, order, earlier, last, common, citing, whole_book, names,
                   sources, list_sources, items, list_items)

    def citations(self, number: int) -> tuple[list[str], list[str]]:
        """The works cited before chapter ``number`` that citeproc must see first, and every work it must
        know of, for the chapter's citations to come out as in one pass over the whole book.

        Positions (first, subsequent, ibid.) depend on the earlier citations of the same works and on the
        last one; disambiguation depends on the works whose citations could read alike, that is those
        sharing a family name with one the chapter cites (or with no name at all). A style that numbers
        works or lists them in citation order needs every earlier work, in order."""
        own = self.cited[number]
        if not own:
            return [], []
        mine = set(own)
        before = list(self.earlier[number]) if self.whole_book else [k for k in self.earlier[number] if k in mine]
        if self.last[number] is not None:
            before.append(self.last[number])
        words = set().union(*(self.names.get(k, frozenset()) for k in mine | set(before)))
        known = [k for k in self.order if k in mine or k in before or not self.names[k] or self.names[k] & words]
        if self.whole_book:
            known = list(self.order)
        return before, known

    def key(self, chapter: Chapter) -> str:
        """The digest of everything ``chapter``'s prepared blocks depend on."""
        index = self.index
        ids = {normal_ref(k)[0] for k in chapter.targets.cites if is_crossref(k)}
        ids |= {lab.id for lab in index.labels.values() if lab.chapter == chapter.index}
        labels = []
        for ident in sorted(ids):
            label = index.get(ident)
            if label is None:
                labels.append([ident])
            else:
                front = label.chapter is not None and self.book.chapters[label.chapter].matter == FRONT
                labels.append([ident, label.id, label.kind, label.number, label.title, front])
        local = [t for t in chapter.targets.links if t and not t.startswith("#") and not is_external(t)]
        files = sorted([str(p), lab] for p, lab in self.files.items()) if local else []
        citing = ""
        if self.cited[chapter.index]:
            before, known = self.citations(chapter.index)
            citing = cachefile.digest(self.citing, before, known, self._entries(known),
                                      [self.items.get(k) for k in known])
        self.citing_keys[chapter.index] = citing
        # the chapter's digest stands for its blocks (digesting the blocks themselves takes longer)
        blocks = chapter.digest or pandoc.document(chapter.blocks)
        return cachefile.digest(self.common, blocks, labels, files, citing)

    def _entries(self, keys: list[str]) -> list:
        entries = self.book.bibliography.entries
        out = []
        for k in keys:
            entry = entries.get(k)
            out.append([k, entry.type, entry.fields] if entry else [k])
            for parent in (entry.fields.get(f) for f in ("crossref", "xdata", "xref")) if entry else ():
                if parent and parent in entries:    # what it inherits
                    out.append([parent, entries[parent].type, entries[parent].fields])
        return out

    def references_key(self) -> str:
        return cachefile.digest(self.citing, "references", self.order, self._entries(self.order),
                                [self.list_items.get(k) for k in self.order])

    def chapter(self, number: int) -> tuple[str, str | None]:
        """One chapter's blocks, ready to write, as JSON text; and their HTML as write_fragments would
        write it (end notes, every edition alike) if it came with the citations (see ``html``), else None."""
        return self._alone(number, self._resolved(number))

    def _alone(self, number: int, blocks: list) -> tuple[str, str | None]:
        """:meth:`chapter`, of the chapter's blocks as :meth:`_resolved` gives them."""
        book = self.book
        if self.cited[number]:
            wrapped = []
            before, known = self.citations(number)
            if before:
                wrapped.append({"t": "Div", "c": [["bb-before", [], []],
                                                  [{"t": "Para", "c": [_cite(k) for k in before]}]]})
            wrapped.append({"t": "Div", "c": [["bb-chapter", [], []], blocks]})
            html = None
            document = pandoc.document(wrapped, self._meta(known))
            with self._known_sources(known) as sources:
                if self.begun is not None:
                    pandoc.tell_when_read(self.begun)
                if self.writes_html(number):
                    doc, html = pandoc.citeproc_html(document, sources, self.csl, book.config.root, "bb-chapter")
                else:
                    doc = pandoc.citeproc(document, sources, self.csl, book.config.root)
            blocks = next(b["c"][1] for b in doc["blocks"] if b["t"] == "Div" and b["c"][0][0] == "bb-chapter")
            text, changed = _finished(book, blocks, True)
            # the HTML holds the blocks as citeproc left them: of use only if _finish changed nothing
            return text, None if changed else html
        return _finish(book, blocks, False), None

    def _resolved(self, number: int) -> list:
        """A clean copy of the chapter's blocks with its cross-references resolved and numbers put on."""
        book, index = self.book, self.index
        chapter = book.chapters[number]
        if not sanitize.nothing_to_clean(chapter):
            blocks, _ = sanitize.clean_blocks(chapter.blocks)   # a clean copy; the checks reported what went
        elif _OWN_BLOCKS:
            blocks = chapter.blocks     # a worker's, let go of after its task (_work_and_release)
        else:
            blocks = marshal.loads(marshal.dumps(chapter.blocks))   # a copy (the steps below change it)
        targets = chapter.targets
        if facts_of(chapter).marks:   # (its facts list every index mark the chapter has)
            blocks = book_index.anchor(blocks, chapter)
        # each a walk over the whole chapter: only where it has something to change (its targets say)
        if any(is_crossref(k) for k in targets.cites):
            blocks = resolve_crossrefs(blocks, book, index)
        if any(t and not t.startswith("#") and not is_external(t) for t in targets.links):
            blocks = resolve_file_links(blocks, chapter, book, self.files)
        blocks = number_blocks(blocks, book, index)
        if targets.callouts is not False:
            blocks = quarto.callouts(blocks, book.config.lang)
        code_ids(blocks, chapter)
        return blocks

    def chapters(self, numbers: list[int]) -> list[tuple[str, str | None]]:
        """:meth:`chapter` of each of ``numbers`` (in book order); with a style whose citations do not
        depend on where they stand (see ``together``), those that cite works are formatted in one citeproc
        run, with every work any of them must know of: the same texts and HTML as runs of their own give
        (disambiguation depends only on the works known, numbers only on the order works are first cited).
        A chapter with a div #refs (where citeproc puts the run's reference list) is formatted alone."""
        book = self.book
        out: dict[int, tuple[str, str | None]] = {}
        ready: list[tuple[int, list, str]] = []
        for number in numbers:
            blocks = self._resolved(number)
            if not self.cited[number]:
                out[number] = (_finish(book, blocks, False), None)
                continue
            if number in self.previous:
                reused = self._reused(number, blocks, self.previous[number])
                if reused is not None:
                    out[number] = reused
                    continue
            text = json.dumps(blocks, ensure_ascii=False)
            if not self.together and not self.citations_alone or _REFS_DIV.search(text):
                out[number] = self._alone(number, blocks)
            else:
                ready.append((number, blocks, text))
        if ready and self.citations_alone:
            out.update(self._citations_alone(ready))
            ready = [r for r in ready if r[0] not in out]
        if len(ready) == 1:
            number, blocks, _ = ready[0]
            out[number] = self._alone(number, blocks)
        elif ready:
            parts: list[str] = []
            known: set[str] = set()
            seen: set[str] = set()       # the works cited so far in the run
            for number, _, text in ready:
                _, works = self.citations(number)
                if self.whole_book:   # works numbered in the order first cited: the book's, as alone
                    hidden = [k for k in self.earlier[number] if k not in seen]
                    if hidden:
                        parts.append(json.dumps({"t": "Div", "c": [[f"bb-before-{number}", [], []],
                                                                  [{"t": "Para", "c": [_cite(k) for k in hidden]}]]}))
                    seen.update(hidden)
                    seen.update(self.cited[number])
                parts.append(f'{{"t": "Div", "c": [["bb-chapter-{number}", [], []], {text}]}}')
                known.update(works)
            divs = [f"bb-chapter-{n}" for n, _, _ in ready]
            html = [f"bb-chapter-{n}" for n, _, _ in ready if self.writes_html(n)]
            works = [k for k in self.order if k in known]
            with self._known_sources(works) as sources:
                if self.begun is not None:
                    pandoc.tell_when_read(self.begun)
                texts, written = pandoc.citeproc_html_many(self._meta(works), parts, sources, self.csl,
                                                           book.config.root, divs, html)
            for number, _, _ in ready:
                text, changed = _finished_text(book, texts[f"bb-chapter-{number}"])
                # the HTML holds the blocks as citeproc left them: of use only if _finish changed nothing
                out[number] = (text, None if changed else written.get(f"bb-chapter-{number}"))
        return [out[n] for n in numbers]

    def _citations_alone(self, ready: list[tuple[int, list, str]]) -> dict[int, tuple[str, str | None]]:
        """:meth:`chapter` of chapters of ``ready`` ((number, resolved blocks, their JSON text)), from one
        citeproc run over their citations alone, each different list of works once (see ``citations_alone``),
        then one run writing their HTML; not those the citations cannot be put back in surely (see
        _with_citations), nor any if citeproc formats one of them in a way that its neighbours could change.

        Most of the time of a citeproc run over whole chapters is pandoc's, reading and writing the
        chapters and walking them, not citeproc's: on the benchmark's book, 0.9 s of a 2.4 s run."""
        book = self.book
        first: dict[str, dict] = {}     # citation list (signature) -> the first Cite of it
        chosen: list[tuple[int, str]] = []
        for number, _, text in ready:
            if _REFS_DIV_ANY.search(text) or _CSL_QUOTED in text:
                continue
            cites = [(_citation_signature(node["c"][0]), node) for _, _, node in _cites(text)]
            if any(signature is None for signature, _ in cites):
                continue
            for signature, node in cites:
                first.setdefault(signature, node)
            chosen.append((number, text))
        if not chosen:
            return {}
        wanted: set[str] = set()
        for number, _ in chosen:
            wanted.update(self.citations(number)[1])
        works = [k for k in self.order if k in wanted]
        blocks = [{"t": "Para", "c": [node]} for node in first.values()]
        with self._known_sources(works) as sources:
            if self.begun is not None:
                pandoc.tell_when_read(self.begun)
            doc = pandoc.citeproc(pandoc.document(blocks, self._meta(works)), sources, self.csl, book.config.root)
        formatted: dict[str, str] = {}
        for signature, block in zip(first, doc["blocks"]):
            if block["t"] != "Para" or len(block["c"]) != 1 or block["c"][0]["t"] != "Cite":
                return {}
            inlines = block["c"][0]["c"][1]
            if not _plain_citation(inlines):
                return {}    # pandoc's mvPunct could change what stands beside it
            finished = _finished_citation(book, inlines)
            if finished is not None:
                formatted[signature] = finished
        out: dict[int, tuple[str, str | None]] = {}
        for number, text in chosen:
            done = _with_citations(book, text, formatted)
            if done is not None:
                out[number] = (done, None)
        written = [n for n in out if self.writes_html(n)]
        if written and self.begun is not None:
            pandoc.tell_when_read(self.begun)
        for number, html in _html_of({n: out[n][0] for n in written}).items():
            out[number] = (out[number][0], html)
        return out

    def writes_html(self, number: int) -> bool:
        """Is chapter ``number``'s HTML written here, with its citations (``html``)? Not that of a chapter
        with content for some editions only: write_fragments writes it for each edition apart."""
        return self.html and not self.book.chapters[number].targets.conditional

    def first_citations(self, todo: list[int]) -> dict[str, list] | None:
        """For :func:`_book_wide`: signature -> citation list, each different citation list of the chapters
        ``todo`` once, in book order, from the chapters' facts (the Cites as read, split where they hold
        cross-references as resolve_crossrefs splits them); None where that path does not apply: a style
        whose citations depend on where they stand, fewer than two chapters citing works among ``todo``,
        or one whose citations may be taken from the last build (an edit: see _find_previous)."""
        citing = [n for n in todo if self.cited[n]]
        if len(citing) < 2 or not (self.together and self.citations_alone) or self.previous:
            return None
        first: dict[str, list] = {}
        for number in citing:
            for listed in facts_of(self.book.chapters[number]).citations:
                for part in _without_crossrefs(listed):
                    signature = _citation_signature(part)
                    if signature is not None:
                        first.setdefault(signature, part)
        return first

    def lists_as_cited(self) -> bool:
        """Is the reference list formatted from the works as the citations are (names.py turned no name to
        be printed family name first: see _csl_sources)?"""
        return all(self.items.get(k) == self.list_items.get(k) for k in self.order)

    def book_wide(self, first: dict[str, list], references: bool
                  ) -> tuple[dict[str, str], dict[str, str], tuple | None]:
        """The citation lists of ``first`` (see :meth:`first_citations`) formatted in one citeproc run that
        knows every work the book cites (what each chapter's own run would know: see :meth:`citations`),
        as :meth:`_citations_alone` formats a run's: signature -> the formatted inlines as JSON text, of
        those that _with_citations may put in place (the others are left out: a chapter citing one is
        formatted by :meth:`chapters`); signature -> the HTML pandoc writes of those inlines in a citation's
        span (with ``html``; not of one that _finished_citation changes); and with ``references``, the
        reference list too, as :meth:`references` makes it (the works as cited: see :meth:`lists_as_cited`),
        else None."""
        book = self.book
        cites = ", ".join(json.dumps({"t": "Para", "c": [{"t": "Cite", "c": [
            [{**c, "citationHash": 0} for c in listed], []]}]}, ensure_ascii=False) for listed in first.values())
        parts = [f'{{"t": "Div", "c": [["bb-cites", [], []], [{cites}]]}}']
        divs, html = ["bb-cites"], ["bb-cites"] if self.html else []
        if references:
            parts.append(json.dumps({"t": "Div", "c": [["bb-references", [], []], [
                {"t": "Div", "c": [["refs", [], []], []]}]]}))
            divs.append("bb-references")
            html += ["bb-references"] if self.html else []
        with self._known_sources(self.order) as sources:
            texts, written = pandoc.citeproc_html_many(self._meta(self.order), parts, sources, self.csl,
                                                       book.config.root, divs, html, whole_book=True)
        formatted: dict[str, str] = {}
        written_of: dict[str, str] = {}
        blocks = json.loads(texts["bb-cites"])
        paragraphs = written.get("bb-cites", "").rstrip("\n").split("\n")   # (a paragraph a line)
        if len(paragraphs) != len(first):
            paragraphs = [""] * len(first)
        for signature, block, paragraph in zip(first, blocks, paragraphs) if len(blocks) == len(first) else ():
            if block["t"] == "Para" and len(block["c"]) == 1 and block["c"][0]["t"] == "Cite":
                inlines = block["c"][0]["c"][1]
                finished = _finished_citation(book, inlines) if _plain_citation(inlines) else None
                if finished is not None:    # (else pandoc's mvPunct could change what stands beside it, ...)
                    formatted[signature] = finished
                    found = _CITATION_PARAGRAPH.fullmatch(paragraph)
                    if found is not None and finished == json.dumps(inlines, ensure_ascii=False):
                        written_of[signature] = found.group(1)     # (the HTML of the inlines unfinished)
        if not references:
            return formatted, written_of, None
        blocks = json.loads(texts["bb-references"])
        text, changed = _finished(book, [b for b in blocks if b["t"] == "Div" and b["c"][0][0] == "refs"], True)
        return formatted, written_of, (text, None if changed or len(blocks) != 1 or not self.html
                                       else written["bb-references"])

    def filled(self, numbers: list[int], resolved: dict[int, tuple], formatted: dict[str, str],
               written_of: dict[str, str]) -> list[tuple[str, str | None]]:
        """:meth:`chapters` of ``numbers``, given what :meth:`resolved` made of them and the formatted
        citations of :meth:`book_wide` (and the HTML of each: ``written_of``): each chapter's citations put
        in place (see _filled) and in its HTML (see _filled_html); the HTML of those whose HTML could not be
        made so written in one pandoc run; those that cannot be done so at all formatted by :meth:`chapters`."""
        out: dict[int, tuple[str, str | None]] = {}
        for number in numbers:
            text, marked, html = resolved[number]
            if not self.cited[number]:
                out[number] = (text, None)
                continue
            if marked is None or any(s not in formatted for s in marked[2]):
                continue
            done = _filled(marked, formatted)
            if done is not None:
                out[number] = (done, html and _filled_html(html, marked, written_of))
        written = [n for n in numbers if n in out and self.cited[n] and out[n][1] is None and self.writes_html(n)]
        for number, html in _html_of({n: out[n][0] for n in written}).items():
            out[number] = (out[number][0], html)
        rest = [n for n in numbers if n not in out]
        out.update(zip(rest, self.chapters(rest) if rest else []))
        return [out[n] for n in numbers]

    def resolved(self, numbers: list[int]) -> dict[int, tuple]:
        """Each of ``numbers`` as :meth:`_resolved` makes it, as JSON text (one citing no works finished, as
        :meth:`chapters` gives it); with its citations marked (see _marked) and, with ``html``, the HTML of
        that, written in one pandoc run, while citeproc formats the citations (see :meth:`filled`)."""
        book = self.book
        out: dict[int, tuple] = {}
        for number in numbers:
            blocks = self._resolved(number)
            if self.cited[number]:
                text = json.dumps(blocks, ensure_ascii=False)
                out[number] = (text, _marked(book, text), None)
            else:
                out[number] = (_finish(book, blocks, False), None, None)
        written = [n for n in numbers if out[n][1] is not None and self.writes_html(n)]
        for number, html in _html_of({n: out[n][1][0] for n in written}).items():
            out[number] = out[number][:2] + (html,)
        return out

    def _reused(self, number: int, blocks: list, previous: str) -> tuple[str, str | None] | None:
        """:meth:`_alone` without citeproc, if the citations can be taken from ``previous`` (the chapter as
        the last build prepared it, what its citations depend on unchanged): see :func:`_reused`."""
        book = self.book
        if self.whole_book or not self.reusable:
            return None
        text = _reused(book, blocks, previous)
        if text is None:
            return None
        html = None
        if self.writes_html(number):
            if self.begun is not None:
                pandoc.tell_when_read(self.begun)
            if number in self.previous_html:
                html = _patched_html(previous, self.previous_html[number], text)
            if html is None:
                if self.begun is not None:
                    pandoc.tell_when_read(self.begun)
                html = pandoc.write_html_blocks(text)
        return text, html

    @contextmanager
    def _known_sources(self, known: list[str]):
        """What citeproc reads the works from for a chapter whose citations need ``known``: those works
        alone (pandoc gives citeproc only the works cited or in ``nocite`` anyway, and reads a fifth of a
        large bibliography faster), in a file of their own for the run; the whole bibliography if there is
        no CSL JSON reading of it."""
        if not self.items:
            yield self.sources
            return
        handle, name = tempfile.mkstemp(prefix="build_book-works-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                wanted = set(known)   # (in the bibliography's own order)
                json.dump([item for key, item in self.items.items() if key in wanted], out, ensure_ascii=False)
            yield [Path(name)]
        finally:
            try:
                os.unlink(name)
            except OSError:
                pass

    def references(self) -> tuple[str, str | None]:
        """The reference list of every work the book cites, as JSON text of its blocks; and their HTML
        as render/common.py's references_html writes it, if it came with the citations (see ``html``)."""
        book = self.book
        if not self.order:
            blocks = [{"t": "Div", "c": [["refs", [], []], []]}]
        elif self.html:     # the list's div in one of its own, whose blocks (the list) are written as HTML
            doc, html = pandoc.citeproc_html(pandoc.document([{"t": "Div", "c": [["bb-references", [], []], [
                {"t": "Div", "c": [["refs", [], []], []]}]]}], self._meta(self.order)),
                self.list_sources, self.csl, book.config.root, "bb-references")
            blocks = next(b["c"][1] for b in doc["blocks"] if b["t"] == "Div" and b["c"][0][0] == "bb-references")
            text, changed = _finished(book, [b for b in blocks if b["t"] == "Div" and b["c"][0][0] == "refs"], True)
            return text, None if changed or len(blocks) != 1 else html
        else:
            doc = pandoc.citeproc(pandoc.document([{"t": "Div", "c": [["refs", [], []], []]}],
                                                  self._meta(self.order)),
                                  self.list_sources, self.csl, book.config.root)
            return _finish(book, [b for b in doc["blocks"] if b["t"] == "Div" and b["c"][0][0] == "refs"], True), None
        return _finish(book, blocks, False), None

    def _meta(self, keys: list[str]) -> dict:
        nocite = {"t": "MetaInlines", "c": [{"t": "Cite", "c": [[_citation(k) for k in keys], []]}]}
        return {"lang": {"t": "MetaString", "c": self.book.config.lang}, "nocite": nocite}


def _finish(book: Book, blocks: list, cited: bool) -> str:
    """The blocks as JSON text, after citeproc (``cited``) with names.py's marks applied, and with runs of
    Japanese marked (unless the book is in Japanese, Chinese or Korean). Each of these walks the blocks
    only if its characters occur in their text: most chapters have neither, and the text is written anyway."""
    return _finished(book, blocks, cited)[0]


def _finished_text(book: Book, text: str) -> tuple[str, bool]:
    """:func:`_finished` of blocks after citeproc given as JSON text: the same blocks (the text as it is, if
    nothing is to be done: it is read with json.loads alike), without reading them if neither walk is due."""
    if name_order.MARKS.search(text) or (not book.config.lang.lower().startswith(("ja", "zh", "ko"))
                                         and JAPANESE.search(text)):
        return _finished(book, json.loads(text), True)
    return text, False


def _finished(book: Book, blocks: list, cited: bool) -> tuple[str, bool]:
    """:func:`_finish`, and whether it changed the blocks."""
    text = json.dumps(blocks, ensure_ascii=False)
    changed = False
    if cited and name_order.MARKS.search(text):
        blocks = name_order.finish(blocks)
        text = json.dumps(blocks, ensure_ascii=False)
        changed = True
    if not book.config.lang.lower().startswith(("ja", "zh", "ko")) and JAPANESE.search(text):
        text = json.dumps(mark_japanese(blocks), ensure_ascii=False)
        changed = True
    return text, changed


CSL_FOLDER = "csl"


def _csl_sources(book: Book) -> tuple[list[Path], list[Path], dict[str, dict], dict[str, dict]]:
    """The bibliography as citeproc is to read it: pandoc's reading of the .bib files (CSL JSON) with
    names.py's changes, written once per content into build/.cache/csl/ (one file for citations, one for
    reference lists). Without a reading (never after the checks passed) the .bib files themselves."""
    config = book.config
    cache = config.root / "build" / ".cache"
    # what follows depends on the .bib files and book.yml's names: (the last) one kept in memory, for a
    # live preview, which builds again and again from the same bibliography
    memo = cachefile.digest(str(config.root), config.names, config.bibliography, config.csl, config.lang,
                            *[_read_bytes(p) for p in book.bibliography.paths])
    made = _CSL_MEMORY.get(memo)
    if made is None:
        items = bib.csl_items(config.root, config.bibliography, cache)
        if items is None:
            paths = list(book.bibliography.paths)
            return paths, paths, {}, {}
        fields = {key: entry.fields for key, entry in book.bibliography.entries.items()}
        cite, listed = name_order.prepare(items, fields, config.names,
                                          notes=styles.is_note_style(config.csl, config.root),
                                          lang=config.lang)
        texts = [json.dumps(data, ensure_ascii=False) for data in (cite, listed)]
        made = (texts, {i["id"]: i for i in cite}, {i["id"]: i for i in listed})
        _CSL_MEMORY.clear()
        _CSL_MEMORY[memo] = made
    (cite_text, list_text), cite_items, list_items = made
    folder = cache / CSL_FOLDER
    out = []
    used = set()
    for kind, text in (("cite", cite_text), ("list", list_text)):
        key = cachefile.digest(kind, text)[:32]
        path = folder / f"{key}.json"
        used.add(key)
        # the file citeproc reads must hold this text: build/ is the author's, who could have put another
        # there (a stale one is rewritten too); written in one step, a symbolic link replaced
        data = text.encode("utf-8")
        if cachefile.read_file(path) != data and not cachefile.write_file(path, data):
            paths = list(book.bibliography.paths)   # a tree that cannot be written: citeproc reads the .bib files
            return paths, paths, {}, {}
        out.append(path)
    cachefile.prune(folder, used)
    return [out[0]], [out[1]], cite_items, list_items


_CSL_MEMORY: dict[str, tuple] = {}    # see _csl_sources


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b"missing"


def _citation(key: str) -> dict:
    return {"citationId": key, "citationPrefix": [], "citationSuffix": [], "citationMode": {"t": "NormalCitation"},
            "citationNoteNum": 0, "citationHash": 0}


def _cite(key: str) -> dict:
    return {"t": "Cite", "c": [[_citation(key)], [Str(f"[@{key}]")]]}


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "missing"


SHARED = re.compile(r"^\s*@(string|preamble)\b.*$", re.I | re.M)


def _shared_definitions(path: Path) -> list[str]:
    """What in a .bib file may change entries other than its own: @string and @preamble."""
    return [m.group(0) for m in SHARED.finditer(_read(path))]


def _order_matters(style: str) -> bool:
    """Does a CSL style number the works, or list them in the order they are cited? Then a chapter's
    citations depend on every work cited before it."""
    if "citation-number" in style:
        return True
    bibliography = style.partition("<bibliography")[2]
    return "<sort" not in bibliography


NAME_FIELDS = ("author", "editor", "translator", "bookauthor")


def _family_words(entry) -> frozenset:
    """The words of the family names of a work's people (and of the given names when a name is written
    'Given Family', whose family part is not marked): works sharing none cannot be cited alike."""
    words: set[str] = set()
    for name_field in NAME_FIELDS:
        value = entry.fields.get(name_field, "")
        for name in re.split(r"\s+and\s+", value):
            family = name.split(",", 1)[0] if "," in name else " ".join(name.split()[1:] or name.split())
            words.update(w.lower() for w in re.findall(r"\w+", family))
    if entry.fields.get("crossref") or entry.fields.get("xdata") or entry.fields.get("xref"):
        words.add("\0inherits")    # what it inherits is not in its own fields: keep it with its kind
    return frozenset(words)


# the plan of the build in progress, inherited by the worker processes (forked: nothing is pickled)
_PLAN: _Plan | None = None


def _html_of(texts: dict[int, str]) -> dict[int, str]:
    """Chapter number -> the HTML pandoc writes of its blocks (JSON text), all in one pandoc run."""
    if not texts:
        return {}
    html = pandoc.write_html_divs({f"bb-chapter-{n}": text for n, text in texts.items()})
    return {n: html[f"bb-chapter-{n}"] for n in texts}


def _work(task: tuple) -> tuple[str, object]:
    kind, numbers = task
    try:
        if kind == "chapters":
            return "ok", _PLAN.chapters(list(numbers))
        if kind == "resolve":
            return "ok", _PLAN.resolved(list(numbers))
        return "ok", _PLAN.references()
    except pandoc.PandocError as exc:
        return pandoc.failure(exc)


# True in a worker process during a task (see _work_and_release): the chapters' blocks it reads are its own
# (forked), let go of after the task, so _Plan._resolved changes them where they are instead of copying them
_OWN_BLOCKS = False


def _work_and_release(task: tuple) -> tuple[str, object]:
    """:func:`_work` in a worker process, which then lets go of the blocks of the chapters it read for the
    task (a book loaded without its blocks: see load.read_apart), not to hold every chapter it formats."""
    global _OWN_BLOCKS
    _OWN_BLOCKS = True
    try:
        return _work(task)
    finally:
        _OWN_BLOCKS = False
        kind, numbers = task
        for number in numbers if kind != "references" else ():
            release(_PLAN.book.chapters[number])


def _run_all(plan: _Plan, tasks: list[tuple], jobs: int) -> list[tuple[str, object]]:
    """Run ``tasks`` (chapters, see _tasks, or the reference list): in this process if one job, else in
    ``jobs`` worker processes forked from this one (the work is Python and citeproc)."""
    with _workers(plan, min(jobs, len(tasks))) as begin:
        return begin(tasks)()


@contextmanager
def _workers(plan: _Plan, count: int, behind: bool = False):
    """A function that begins tasks (see _work) and returns one that waits for their results: in ``count``
    worker processes forked from this one, or in this process (when the results are asked for) if one.
    ``behind``: the workers (and the pandoc runs they start) run at a lower priority (BEHIND), behind
    this process's own work meanwhile (see _book_wide)."""
    global _PLAN
    _PLAN = plan
    try:
        if count <= 1 or "fork" not in multiprocessing.get_all_start_methods():
            yield lambda tasks: lambda: [_work(task) for task in tasks]
            return
        # the build's objects, frozen: the workers' garbage collector leaves them alone instead of
        # writing to (and so copying) the pages they share with the build (as render/limits.py does). (No
        # collection first: in a cold build it found nothing, and took 0.1-0.15 s untracking the chapters'
        # dicts; garbage frozen with the rest is collected once the build unfreezes it, after the workers.)
        gc.freeze()
        try:
            with ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("fork"),
                                     initializer=_behind if behind else None) as pool:
                def begin(tasks: list[tuple]):
                    # the longest first, so that no worker is left with a long chapter at the end
                    order = sorted(range(len(tasks)), key=lambda n: -_size(plan, tasks[n]))
                    results = pool.map(_work_and_release, [tasks[n] for n in order])   # (begun now)

                    def wait() -> list:
                        done = dict(zip(order, results))
                        return [done[n] for n in range(len(tasks))]
                    return wait
                yield begin
        finally:
            gc.unfreeze()
    finally:
        _PLAN = None


# How much lower the workers' priority is when they run beside this process's book-wide citeproc run (a
# niceness, which any process may raise for itself): that run is the longest piece of a cold build's
# citation stage (1.0 s of CPU on the benchmark's book, the workers' share 0.6 s each), and at an equal
# priority the three shared two cores until the workers were done: the run then ended later than it would
# have on a core of its own. So it has one, and the workers share the other. A cold HTML build of the
# benchmark's book took 5 % less (medians of 10 alternating runs); 4 did less, and 19 no more, than 10.
BEHIND = 10


def _behind() -> None:
    try:
        os.nice(BEHIND)
    except OSError:
        pass


def _book_wide(plan: _Plan, first: dict[str, list], todo: list[int], jobs: int, references: bool,
               run_bytes: int | None) -> tuple[list[tuple], list]:
    """The chapters ``todo`` (and the reference list, if ``references``) formatted as prepare's tasks
    (see _tasks) would format them, in two steps instead. First, worker processes (or, with one job, this
    thread) resolve the chapters and write their HTML with each citation marked (_Plan.resolved), while a
    thread of this process formats every citation list of theirs (``first``) in one citeproc run for the
    whole book (:meth:`_Plan.book_wide`, with the reference list if it can, and the HTML of each citation).
    Then this process puts the formatted citations in place, in the chapters' texts and HTML (_Plan.filled:
    string work, pandoc only where that cannot be done). One citeproc run instead of one per worker and one
    for the list (on the benchmark's book, each spends some 0.7 s on the works it knows), and the chapters
    are resolved and written while it runs. Returns (tasks, their results)."""
    groups = [numbers for _, numbers in _tasks(plan, todo, jobs, False, run_bytes)]
    tasks: list[tuple] = [("chapters", numbers) for numbers in groups] + [("references", None)] * references
    together = references and plan.lists_as_cited()     # the reference list in the same run
    with _workers(plan, min(jobs, len(groups) + references), behind=True) as begin:
        resolving = begin([("resolve", numbers) for numbers in groups]
                          + [("references", None)] * (references and not together))
        with ThreadPoolExecutor(max_workers=1) as thread:
            citing = thread.submit(plan.book_wide, first, together)
            resolved = resolving()
            try:
                formatted, written_of, listed = citing.result()
            except pandoc.PandocError as exc:
                failed = pandoc.failure(exc)
            else:
                failed = None
        failed = failed or next((r for r in resolved if r[0] != "ok"), None)
        if failed is not None:
            return tasks, [failed] * len(tasks)
        done: dict[int, tuple] = {}
        for _, value in resolved[:len(groups)]:
            done.update(value)
        # the citations put in place here (Python's string work, without pandoc but where a chapter's HTML
        # could not be made from its marked HTML, or it cannot be done so at all: see _Plan.filled)
        try:
            results = [("ok", plan.filled(list(numbers), done, formatted, written_of)) for numbers in groups]
        except pandoc.PandocError as exc:
            return tasks, [pandoc.failure(exc)] * len(tasks)
    return tasks, results + ([("ok", listed)] if together else resolved[len(groups):])


def _size(plan: _Plan, task: tuple) -> int:
    kind, numbers = task
    if kind == "references":
        return len(plan.order) * REFERENCES_WEIGHT
    return sum(_weight(plan, n) for n in numbers)


# what formatting the reference list takes, per work it lists, as against a chapter's (see _weight)
REFERENCES_WEIGHT = 300
# With the print edition, chapters formatted together go in runs of about this much Markdown (see _tasks):
# a run's pandoc grows with its text, and one run per process (two of some 230 MB each on the benchmark's
# book) made the citation stage the peak memory of a cold PDF build (issue 9's limit: 500 MB); runs of two
# of its chapters keep that stage near 430 MB, for about half of the time saved by formatting together.
RUN_BYTES = 180_000


def _weight(plan: _Plan, number: int) -> int:
    """About how long formatting chapter ``number`` takes: the size of its file (its blocks are not read
    for this: they may not have been read yet)."""
    try:
        return max(1, (plan.book.config.root / plan.book.chapters[number].path).stat().st_size)
    except OSError:
        return 1


def _tasks(plan: _Plan, todo: list[int], jobs: int, references: bool,
           run_bytes: int | None = None) -> list[tuple]:
    """The work of formatting chapters ``todo`` (and the reference list, if ``references``), as tasks for
    ``jobs`` processes: ("chapters", numbers) and ("references", None). Chapters formatted in one citeproc
    run (``plan.together``) go in one run of neighbouring chapters per process (or in runs of about
    ``run_bytes`` of Markdown, if that makes more), the runs as long as each other, the reference list
    counted with the last; otherwise each chapter is a task of its own."""
    refs = [("references", None)] if references else []
    if not plan.together:
        return [("chapters", (n,)) for n in todo] + refs
    weights = [_weight(plan, n) for n in todo]
    # a run's pandoc grows with the text it formats: with ``run_bytes``, more runs than processes, of at
    # most about that much Markdown each
    runs = -(-sum(weights) // run_bytes) if run_bytes else 1
    workers = max(1, min(len(todo), max(jobs, runs)))
    extra = len(plan.order) * REFERENCES_WEIGHT if references and workers > 1 else 0
    share = (sum(weights) + extra) / workers
    groups: list[list[int]] = [[]]
    load = 0.0
    for number, weight in zip(todo, weights):   # the last run takes the rest: the list's share less
        if groups[-1] and len(groups) < workers and load + weight / 2 > share:
            groups.append([])
            load = 0.0
        groups[-1].append(number)
        load += weight
    return [("chapters", tuple(g)) for g in groups if g] + refs


def _positions_free(csl: Path | None) -> bool:
    """Does a citation in the style ``csl`` (None: pandoc's default) read the same wherever it stands in the
    book: no conditions on its position (first, subsequent, ibid., near-note), no et-al-subsequent-*
    settings, no first-reference-note-number? Then chapters can be formatted together (see _Plan.chapters)."""
    style = _read(csl) if csl is not None else pandoc.default_style()
    return style is not None and style != "missing" and not POSITIONAL.search(style)


POSITIONAL = re.compile(r"position\s*=|et-al-subsequent|first-reference-note-number")
IN_TEXT_STYLE = re.compile(r"""<style\b[^>]*\bclass\s*=\s*["']in-text["']""")


def _reused(book: Book, blocks: list, previous: str) -> str | None:
    """The text of ``blocks`` (a chapter resolved, before citeproc) as :meth:`_Plan._alone` makes it, with
    each citation's formatted text taken from ``previous`` (the chapter as the last build prepared it)
    instead of from citeproc; None where it might not be the same, and citeproc must run.

    The caller makes sure that what citeproc knows is unchanged (the style, the works, those cited
    before: the citations digest of the chapter's key) and that the style is an in-text one, does not
    number works in citation order and has no conditions on position: then a citation's formatted text
    depends on its own list of works (keys, prefixes, suffixes, locators, modes) alone. Here: the set of
    citation lists must be the very set the last build formatted, each formatted one way only; citeproc's
    other changes to a document (pandoc's mvPunct: a space before a citation in superscript dropped, a
    full stop after one ending in a full stop; the reference list put in a div "refs") must not apply, nor
    _finished's walks have changed the lists; the walks are then applied to the rest of the blocks alone,
    the formatted citations being finished already. The citations are found in the texts (a Cite is
    parsed alone), not by walks over both chapters."""
    formatted: dict[str, str] = {}
    for _, _, node in _cites(previous):
        signature = _citation_signature(node["c"][0])
        inlines = node["c"][1]
        if signature is None or not _plain_citation(inlines):
            return None
        text = json.dumps(inlines, ensure_ascii=False)
        if formatted.setdefault(signature, text) != text:
            return None
    return _with_citations(book, json.dumps(blocks, ensure_ascii=False), formatted, every=True)


def _with_citations(book: Book, text: str, formatted: dict[str, str], every: bool = False) -> str | None:
    """The chapter of JSON text ``text`` (resolved, before citeproc) as :meth:`_Plan._alone` makes it, each
    citation's formatted inlines taken from ``formatted`` (signature -> their JSON text; see _reused for when
    that gives the same), and _finished's walks applied to the rest; None where citeproc must run: a
    citation list not in ``formatted``, one that _finished's walks would change, a div where citeproc puts
    the reference list, a span of the class citeproc takes off (csl-quoted). ``every``: ``formatted`` must
    hold the chapter's citation lists and no others."""
    marked = _marked(book, text)
    if marked is None or any(s not in formatted for s in marked[2]):
        return None
    if every and set(marked[2]) != set(formatted):
        return None
    return _filled(marked, formatted)


# what _marked makes of a chapter: its JSON text, each citation's content a token of its own, "<token>-<n>"
# for the n-th (_finished's walks applied to the rest); the token; each citation's signature, in order
Marked = tuple[str, str, list[str]]


def _marked(book: Book, text: str) -> Marked | None:
    """The first half of :func:`_with_citations`, which needs no formatted citation (see Marked); None
    where citeproc must run whatever the citations read (see _with_citations)."""
    if _REFS_DIV_ANY.search(text) or _CSL_QUOTED in text:
        return None     # where citeproc puts the reference list; what it changes besides the citations
    token = f"bbcitation{os.getpid()}x{id(text)}"
    if token in text:
        return None
    pieces: list[str] = []
    signatures: list[str] = []
    at = 0
    for start, end, node in _cites(text):
        signature = _citation_signature(node["c"][0])
        if signature is None:
            return None
        pieces += [text[at:start], json.dumps({"t": "Cite", "c": [node["c"][0], [Str(f"{token}-{len(signatures)}")]]},
                                              ensure_ascii=False)]
        signatures.append(signature)
        at = end
    text = "".join(pieces) + text[at:]
    if name_order.MARKS.search(text) or (not book.config.lang.lower().startswith(("ja", "zh", "ko"))
                                         and JAPANESE.search(text)):
        text, _ = _finished(book, json.loads(text), True)    # the rest of the chapter, as citeproc's
    return text, token, signatures


def _filled(marked: Marked, formatted: dict[str, str]) -> str | None:
    """The second half of :func:`_with_citations`: each token replaced by its citation's formatted inlines
    (None unless each is there once)."""
    text, token, signatures = marked
    done = [0] * len(signatures)

    def fill(match: re.Match) -> str:
        n = int(match.group(1))
        done[n] += 1
        return formatted[signatures[n]]

    text = re.sub(re.escape('[{"t": "Str", "c": "' + token + "-") + r'(\d+)"\}\]', fill, text)
    return text if all(d == 1 for d in done) else None


def _finished_citation(book: Book, inlines: list) -> str | None:
    """A citation's inlines as citeproc formatted them, as JSON text, as _finished leaves them in a chapter:
    runs of Japanese marked (mark_japanese changes each string alone, wherever it stands); None if names.py's
    marks stand in them (then the chapters citing so are formatted whole). ``inlines`` are left as they are."""
    text = json.dumps(inlines, ensure_ascii=False)
    if name_order.MARKS.search(text):
        return None
    if not book.config.lang.lower().startswith(("ja", "zh", "ko")) and JAPANESE.search(text):
        text = json.dumps(mark_japanese([{"t": "Plain", "c": json.loads(text)}])[0]["c"], ensure_ascii=False)
    return text


def _filled_html(html: str, marked: Marked, written: dict[str, str]) -> str | None:
    """The HTML pandoc writes of a chapter whose text is _filled(marked, ...), made from ``html``, what it
    wrote of the marked text: each token, which pandoc writes as the content of the citation's span, replaced
    by what it writes there of the formatted citation (``written``: signature -> that HTML). None unless
    every token stands there, and there alone (not in an image's alt text, say)."""
    _, token, signatures = marked
    if len(signatures) != html.count(token) or any(s not in written for s in signatures):
        return None
    done = [0] * len(signatures)

    def fill(match: re.Match) -> str:
        n = int(match.group(2))
        done[n] += 1
        return match.group(1) + written[signatures[n]] + "</span>"

    html = re.sub(r'(<span class="citation" data-cites="[^"<>]*">)' + re.escape(token) + r"-(\d+)</span>", fill, html)
    return html if all(d == 1 for d in done) else None


def _patched_html(previous: str, html: str, text: str) -> str | None:
    """The HTML pandoc writes of the blocks ``text``, made from ``html``, what it wrote of the blocks
    ``previous``, where the two differ in one top-level block alone, with as many footnotes in it: that
    block's HTML and its footnotes' items in the list at the end replaced (or in one block more or less,
    without footnotes: see _one_more_or_less). pandoc writes a document's
    top-level blocks one after the other, each as it would alone but for the footnotes, numbered through
    the document: each block is written after as many footnotes as come before it. Only the two blocks
    are written (short pandoc runs instead of one over the whole chapter). None where that cannot be done
    surely: what is written of the old block must be found in ``html`` as it is, once."""
    old, new = json.loads(previous), json.loads(text)
    at = 0           # the blocks before the first difference, and after the last
    while at < min(len(old), len(new)) and old[at] == new[at]:
        at += 1
    end = 0
    while end < min(len(old), len(new)) - at and old[-1 - end] == new[-1 - end]:
        end += 1
    gone, come = old[at:len(old) - end], new[at:len(new) - end]
    if not gone and not come:
        return html
    if len(gone) + len(come) == 1:
        return _one_more_or_less(html, old, at, (gone or come)[0], bool(come))
    if len(gone) != 1 or len(come) != 1:
        return None
    notes = len(_NOTE.findall(json.dumps(old[at], ensure_ascii=False)))
    if len(_NOTE.findall(json.dumps(new[at], ensure_ascii=False))) != notes:
        return None
    if not notes:
        written = pandoc.write_html_many([pandoc.document([old[at]]), pandoc.document([new[at]])])
        if len(written) != 2 or not all(w.endswith("\n") and not w.endswith("\n\n") and w.strip() for w in written):
            return None
        was, now = written[0][:-1], written[1][:-1]
    else:
        before = sum(len(_NOTE.findall(json.dumps(block, ensure_ascii=False))) for block in old[:at])
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=2) as pool:
            pieces = list(pool.map(lambda block: _block_html(block, before), (old[at], new[at])))
        if None in pieces:
            return None
        (was, was_notes), (now, now_notes) = pieces
        if html.count(f'<li id="fn{before + 1}">') != 1:
            return None
        start = html.index(f'<li id="fn{before + 1}">')
        following = html.find(f'\n<li id="fn{before + notes + 1}">', start)
        end = following if following >= 0 else html.rfind("\n</ol>")
        if end < start or html[start:end] != was_notes:
            return None
        html = html[:start] + now_notes + html[end:]
    if not was or html.count(was) != 1:
        return None
    return html.replace(was, now)


def _one_more_or_less(html: str, old: list, at: int, block: dict, added: bool) -> str | None:
    """:func:`_patched_html` where ``block`` (without footnotes) is ``added`` to the blocks ``old`` at ``at``,
    or taken away from there: its HTML put beside, or taken from beside, that of its neighbour."""
    if _NOTE.search(json.dumps(block, ensure_ascii=False)):
        return None
    after = at > 0       # beside the block before it, else the one after it
    neighbour = at - 1 if after else (at if added else at + 1)
    if neighbour >= len(old):
        return None
    before = sum(len(_NOTE.findall(json.dumps(b, ensure_ascii=False))) for b in old[:neighbour])
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=2) as pool:
        pieces = list(pool.map(lambda job: _block_html(*job), ((old[neighbour], before), (block, 0))))
    if None in pieces or not pieces[0][0] or not pieces[1][0]:
        return None
    beside, own = pieces[0][0], pieces[1][0]
    together = beside + "\n" + own if after else own + "\n" + beside
    if added:
        return html.replace(beside, together) if html.count(beside) == 1 else None
    return html.replace(together, beside) if html.count(beside) == 1 and html.count(together) == 1 else None


_BLOCK_START, _BLOCK_END = "<!-- build_book block -->", "<!-- build_book block end -->"


def _block_html(block: dict, before: int) -> tuple[str, str] | None:
    """What pandoc writes of ``block`` after ``before`` footnotes: its HTML, and the items of its footnotes
    in the list at the end (from the first to the end of the last, as in the whole chapter's)."""
    blocks = [{"t": "Para", "c": [{"t": "Note", "c": [{"t": "Plain", "c": [Str("x")]}]}] * before}] if before else []
    blocks += [{"t": "RawBlock", "c": ["html", _BLOCK_START]}, block, {"t": "RawBlock", "c": ["html", _BLOCK_END]}]
    out = pandoc.write_html(pandoc.document(blocks))
    head, found, rest = out.partition(_BLOCK_START + "\n")
    body, found_end, tail = rest.partition("\n" + _BLOCK_END)
    if not _NOTE.search(json.dumps(block, ensure_ascii=False)):
        return (body, "") if found and found_end else None
    first = tail.find(f'<li id="fn{before + 1}">')
    last = tail.rfind("\n</ol>")
    if not found or not found_end or first < 0 or last < first or tail.count(_BLOCK_START) or \
            not tail.lstrip("\n").startswith('<section id="footnotes"'):
        return None
    return body, tail[first:last]


_NOTE = re.compile(r'"t": ?"Note"')
_CITE = re.compile(r'\{"t": ?"Cite", ?"c": ?')
_REFS_DIV_ANY = re.compile(r'\["(?:[^"\\]*__)?refs", ?\[')
_CSL_QUOTED = '"csl-quoted"'     # pandoc's citeproc makes every span of this class a plain one
# a paragraph of one formatted citation, as pandoc writes it (on a line of its own)
_CITATION_PARAGRAPH = re.compile(r'<p><span class="citation" data-cites="[^"<>]*">(.*)</span></p>')
_DECODE = json.JSONDecoder()


def _cites(text: str):
    """(start, end, node) of each Cite in the JSON text of blocks, in order, parsed alone (one within
    another's citations is skipped: _citation_signature finds it there)."""
    at = 0
    while True:
        match = _CITE.search(text, at)
        if match is None:
            return
        node, end = _DECODE.raw_decode(text, match.start())
        yield match.start(), end, node
        at = end


def _without_crossrefs(citations: list) -> list[list]:
    """The citation lists a Cite of ``citations`` leaves after resolve_crossrefs: itself if it holds no
    cross-reference, else each run of citations between them."""
    if not any(is_crossref(c["citationId"]) for c in citations):
        return [citations]
    runs: list[list] = [[]]
    for citation in citations:
        if is_crossref(citation["citationId"]):
            runs.append([])
        else:
            runs[-1].append(citation)
    return [run for run in runs if run]


def _citation_signature(citations: list) -> str | None:
    """A Cite's list of citations as citeproc reads it (without pandoc's citationHash, a counter); None
    if _finished's walks would change it (Japanese, names.py's marks) or it holds a citation itself."""
    text = json.dumps([{k: v for k, v in c.items() if k != "citationHash"} for c in citations],
                      sort_keys=True, ensure_ascii=False)
    if '"Cite"' in text or name_order.MARKS.search(text) or JAPANESE.search(text):
        return None
    return text


_CONTAINERS = {"Emph": 0, "Strong": 0, "Underline": 0, "Strikeout": 0, "Superscript": 0, "Subscript": 0,
               "SmallCaps": 0, "Span": 1, "Link": 1}


def _plain_citation(inlines: list) -> bool:
    """Is a formatted citation one that pandoc's mvPunct leaves its neighbours alone beside: not empty,
    not beginning with a superscript or a note, its text not ending in a full stop?"""
    if not inlines or inlines[0]["t"] in ("Superscript", "Note"):
        return False
    last = _last_character(inlines)
    return last is not None and last != "."


def _last_character(inlines: list) -> str | None:
    """The last character of pandoc's stringify of ``inlines`` ("" if none), None if unsure."""
    for node in reversed(inlines):
        kind = node["t"]
        if kind == "Str":
            if node["c"]:
                return node["c"][-1]
        elif kind in ("Space", "SoftBreak", "LineBreak"):
            return " "
        elif kind in _CONTAINERS:
            inner = _last_character(node["c"] if _CONTAINERS[kind] == 0 else node["c"][1])
            if inner != "":
                return inner
        else:
            return None
    return ""
_REFS_DIV = re.compile(r'\["refs", \[')


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
