"""Load stage: book.yml, chapter files and the bibliography into a :class:`Book`.

Chapter files are parsed by pandoc in parallel; each parse is cached under
``build/.cache`` by the hash of the file's text, so an edit re-parses only the
chapter that changed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import cache as cachefile
from . import critic, early, facts, pandoc, quarto, sandbox, schema, yamlpos
from .config import load_config, slugify
from .config import nocite_keys as config_nocite_keys
from .diagnostics import Diagnostic, Location, error, from_list, line_column, to_list, warning
from .labels import EMPTY_LABEL
from .model import APPENDIX, BODY, FRONT, Book, Chapter, Lazy, Part
from .scan import FENCE, SourceMap, scan
from .ui import REFERENCES_WORDS
from .walk import ATTR_AT, elements, inline_text, words

STATUSES = ("draft", "review", "final")
MAX_NESTING = 50    # blocks inside blocks, as written (quotations, lists, divs)
MAX_DEPTH = 200     # elements inside elements in pandoc's document (inline nesting included)
FRONT_MATTER: dict[str, schema.Option] = {o.key: o for o in (
    schema.Option("authors", "contributor ids from book.yml",
                  schema.text_list(schema.identifier, "contributor ids", "[kubo, saiki]"), []),
    schema.Option("abstract", "a short summary printed under the chapter title", schema.text(), ""),
    schema.Option("status", "draft, review or final", schema.one_of(*STATUSES), ""),
)}
# Keys pandoc's and Quarto's own documents carry in their front matter: read and left alone, with one warning
# per chapter (a chapter brought from pandoc or Quarto builds unchanged); ``title`` is the chapter's title when
# the chapter has no level-1 heading, as in Quarto.
FOREIGN_KEYS = frozenset("""
    title subtitle author date description keywords lang abstract-title subject categories image citation
    execute jupyter engine knitr freeze format filters shortcodes toc toc-depth toc-title number-sections
    number-depth crossref bibliography csl link-citations nocite reference-section-title header-includes
    include-before include-after include-in-header documentclass classoption papersize fontsize mainfont
    geometry linestretch editor editor_options output params draft code-fold code-tools fig-cap-location
    tbl-cap-location callout-appearance search aliases order sidebar page-layout title-block-banner tags
""".split())


class Loaded:
    """What loading produced: the book and every problem met on the way."""

    def __init__(self, book: Book, diagnostics: list[Diagnostic]):
        self.book = book
        self.diagnostics = diagnostics


def load_book(root: Path, progress=None, jobs: int | None = None, meanwhile=None) -> Loaded:
    """The book in ``root``; ``meanwhile`` (if given) is called while pandoc reads the chapters."""
    root = root.resolve()
    pandoc.find_soon()    # while book.yml is read
    config, diags = load_config(root)  # raises BuildError only if book.yml cannot be read at all
    listed: set[str] = set()
    refs = []  # each existing file once (a file listed twice is reported by the configuration check)
    for ref in config.chapters:
        # a chapter outside the book's folder is reported by the configuration check and never read
        if ref.path not in listed and sandbox.inside(root, ref.path) is not None and sandbox.is_file((root / ref.path)):
            listed.add(ref.path)
            refs.append(ref)
    cache = root / "build" / ".cache" / "ast"
    scanned: set[str] = set()
    sources: list[_Source] = []
    workers = max(1, jobs or os.cpu_count() or 2)
    echoes = _echoes(root, refs, config.echo)
    from . import bibliography as bib
    parsing = _Parsing(workers)
    with ThreadPoolExecutor(max_workers=1) as background:
        strict_bib = background.submit(bib.check_with_pandoc, root, config.bibliography, cache.parent,
                                      config.lang)
        stamps = early.stamps(root, [ref.path for ref in refs])
        recorded = early.last_record(cache.parent)
        last = recorded["stamps"]
        read: dict[str, _Source] = {}
        try:
            # the chapters changed since the last load first: pandoc can start on them at once
            for ref in sorted(refs, key=lambda r: stamps.get(r.path) == last.get(r.path)):
                source = _read_chapter(root, ref, scanned, echoes[ref.path])
                source.cache = cache
                if source.text is not None:
                    # what an earlier load learnt from the same text: then pandoc's document is not read at
                    # all; else it is read from the parse cache or by pandoc, now, while the next are read
                    source.known = _known(source)
                    parsing.add(source)
                read[ref.path] = source
            sources = [read[ref.path] for ref in refs]
            cachefile.prune(root / "build" / ".cache" / SCAN_FOLDER, scanned)
            bibliography = bib.load(root, config.bibliography)  # meanwhile, while pandoc works
            if meanwhile is not None:
                meanwhile()
            # each chapter drafted as soon as it and those before it are read, while pandoc reads the rest
            drafts, used_ids, problems = _drafts(refs, sources, parsing)
        finally:
            parsing.finish()
            pandoc.drop_ahead()     # runs early.py began on a text not read after all
        now = {"stamps": stamps, "pandoc": pandoc.known_binary() or recorded["pandoc"],
               "probes": pandoc.probes() or recorded["probes"]}
        if now != recorded:
            early.record(cache.parent, now)
        if not any(d.code == "bib-syntax" for d in bibliography.diagnostics):
            diags += strict_bib.result()
    diags += problems
    # entries of chapters no longer in the book (or edited since) are pruned
    cachefile.prune(cache, {s.key for s in sources if s.text is not None})
    cachefile.prune(cache.parent / FACTS_FOLDER, {_facts_key(s) for s in sources if s.text is not None})
    from . import compat
    # links written to pandoc's own heading ids ('#fill-out-file-headers') go to the headings' ids
    relinked = compat.relinked([(ref.path, known["links"], autos) for ref, _, _, known, _, _, autos in drafts],
                               used_ids, root)
    facts_folder = cache.parent / CHAPTER_FACTS_FOLDER
    used_facts: set[str] = set()
    chapters: list[Chapter] = []
    references_chapter = None
    for (ref, source, draft, known, matter, given, autos), changes in zip(drafts, relinked):
        links = [changes.get(t, t) for t in known["links"]]
        # with the text as read, the ids given and the links as relinked, the digest stands for the blocks
        digest = cachefile.digest(cachefile.version_key(), CHAPTER_DIGEST, source.text, source.scanned,
                                  source.key, ref.path, given, links)
        blocks = draft.get("blocks")
        if blocks is not None:      # read now (its ids given already): its links relinked in place
            if changes:
                _finish(blocks, [], changes)
        else:                       # read when a renderer first asks for it
            blocks = Lazy(functools.partial(_blocks_of, source, tuple(given), changes))
        used_facts.add(digest)
        found = _chapter_facts(facts_folder, digest)
        if found is None:
            if "facts" in draft:    # read by _learn, in its walk
                found = _relinked_facts(draft["facts"], changes)
            else:
                if isinstance(blocks, Lazy):
                    blocks = blocks.load()
                found = facts.extract(blocks)
            cachefile.put(facts_folder, digest, json.dumps(facts.to_json(*found), ensure_ascii=False),
                          CHAPTER_FACTS_FORMAT)
        targets, chapter_facts = found
        if known["refs_place"] and not targets.cites_works:
            # Quarto's references.qmd: a chapter that cites nothing, with '::: {#refs}' where the book's list goes
            if config.bibliography_scope != "chapter" and references_chapter is None:
                references_chapter = len(chapters)
            else:
                message, hint = ("this chapter's '::: {#refs}' prints nothing: the book's reference list is printed "
                                 f"once, in {chapters[references_chapter].path}, which holds one too",
                                 "delete one of them") if references_chapter is not None else (
                    "this chapter's '::: {#refs}' is the place of the book's reference list, which "
                    "'bibliography-scope: chapter' does not print: it prints nothing here",
                    "each chapter's own list ends it; delete this chapter from the chapters, or set "
                    "bibliography-scope: both for a list of every work as well")
                diags.append(warning("references-chapter", message,
                                     Location(ref.path, *draft["sources"].labels.get("refs", [(1, 1)])[0]), hint))
        if known["front_title"] and source.meta.get("__title_at__"):
            _scan_title(draft["sources"], source.meta["__title_at__"], known["front_title"] == "read")
        labels = draft["sources"].labels   # a label with no name the scanner saw in code is no label (label-empty)
        for written in [w for w in labels if EMPTY_LABEL.fullmatch(w) and w not in known["emptied"]]:
            del labels[written]
        chapters.append(Chapter(
            index=len(chapters), path=ref.path, label=known["label"], title=known["title"],
            blocks=blocks, authors=tuple(draft["authors"]), abstract=draft["abstract"],
            abstract_location=source.meta.get("__abstract_at__"),
            status=draft["status"], numbered=known["numbered"], matter=matter, part=ref.part,
            sources=draft["sources"], location=Location(ref.path, 1, 1),
            author_locations=draft["meta_marks"], targets=targets, digest=digest, facts=chapter_facts,
            auto_ids=autos, echo=echoes[ref.path]))
    cachefile.prune(facts_folder, used_facts)
    parts = tuple(Part(i, p.title, p.label, p.location) for i, p in enumerate(config.parts))
    nocite = {key: config.where("nocite") for key in config.nocite}
    for source in sources:
        for key in source.meta.get("__nocite__", ()):
            nocite.setdefault(key, source.meta["__nocite_at__"])
    book = Book(config, tuple(chapters), parts, bibliography, references_chapter, nocite)
    return Loaded(book, diags)


def _drafts(refs: list, sources: list[_Source], parsing: "_Parsing") -> tuple[list, set[str], list[Diagnostic]]:
    """Each chapter's draft, in book order, each as soon as pandoc has read it and those before it (see
    _Parsing.wait), with what it is (front matter, body, appendix), its heading ids and the ids given; every
    id in the book; and the problems found in the chapters."""
    from . import math
    seen_numbered = False
    used_ids: set[str] = set()
    drafts = []
    diags: list[Diagnostic] = []
    for ref, source in zip(refs, sources):
        parsing.wait(source)
        draft, problems = _load_chapter(source)
        diags.extend(quarto.relocate(problems, {ref.path: source.sources.origins} if source.sources.origins else {}))
        if draft is None:
            continue
        numbered = draft["numbered"]
        if ref.appendix:
            matter = APPENDIX
        elif not numbered and not seen_numbered and ref.part is None:
            matter = FRONT
        else:
            matter = BODY
        seen_numbered = seen_numbered or (numbered and not ref.appendix) or ref.part is not None
        known = source.known
        # every heading's id, in reading order: as written, or given (unique in the book) where it has none
        if known is None:
            if "$$" in source.padded:   # (a display formula is written between $$ and $$)
                # $$ ... $$ {#eq-x}: a labelled equation
                draft.setdefault("emptied", []).extend(math.label_equations(draft["blocks"]))
            known, ids, given, draft["facts"] = _learn(source, draft, problems[len(source.diagnostics):], used_ids)
        else:
            ids, given = _give(known["slots"], known["label"], used_ids)
        autos = {auto: (ids[slot] if slot is not None else fixed) for auto, slot, fixed in known["autos"]}
        drafts.append((ref, source, draft, known, matter, given, autos))
    if not seen_numbered:  # no numbered chapter and no part: there is no front matter to set apart
        drafts = [(ref, source, draft, known, BODY if matter == FRONT else matter, given, autos)
                  for ref, source, draft, known, matter, given, autos in drafts]
    return drafts, used_ids, diags


# --- a large book read apart -------------------------------------------------------------------------
#
# Reading a chapter leaves its document in the process that read it: Python objects some ninety times the
# size of its Markdown (about 100 MB for a 150,000-word book), which stay resident even once let go (pymalloc
# returns an arena to the system only when nothing in it is left, and what the load keeps is spread among
# them). Every process the build forks later shares them, and the build holds them to its end. So a build
# of the print edition that would read much of the book anew (:data:`APART_BYTES` of chapter files changed
# since the last load) reads it in a child process first (:func:`read_apart`), whose only lasting work is
# what it leaves in the caches (the parse cache, what the load learnt from each chapter, its facts): the build
# then loads the book from them as after any build, each chapter's blocks read only when first used (by the
# processes that format the citations, transform.py, each for the chapters it formats).
APART_BYTES = 256 * 1024
APART_ENV = "BUILD_BOOK_TEST_READ_APART_BYTES"     # the tests' threshold (0: a book of any size)


def read_apart(root: Path, jobs: int | None = None, meanwhile=None) -> bool:
    """If loading the book in ``root`` would read more than :data:`APART_BYTES` of chapters anew, load it
    in a child process, which fills the caches, and wait for it (calling ``meanwhile`` in the meantime);
    whether it did. A child that fails leaves the load to the caller, as if it had not run."""
    value = os.environ.get(APART_ENV, "").strip()
    threshold = int(value) if value.isdigit() else APART_BYTES
    # (forked only from a single thread: a lock another thread held would stay held in the child)
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return False
    root = root.resolve()
    try:
        config, _ = load_config(root)
    except Exception:   # noqa: BLE001 - the load reports it
        return False
    last = early.last_record(root / "build" / ".cache")["stamps"]
    unread = 0
    for ref in config.chapters:
        path = sandbox.inside(root, ref.path)
        try:
            found = os.stat(path) if path is not None else None
        except OSError:
            found = None
        if found is not None and last.get(ref.path) != [found.st_size, found.st_mtime_ns]:
            unread += found.st_size
    if unread <= threshold:
        return False
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:    # the child: never returns
        code = 1
        try:
            if pandoc._prctl is not None:
                pandoc._die_with(parent)
            load_book(root, None, jobs)
            code = 0
        except BaseException:  # noqa: BLE001 - the build loads the book itself, and reports what fails
            pass
        finally:
            os._exit(code)
    try:
        if meanwhile is not None:
            try:
                meanwhile()
            except Exception:  # noqa: BLE001 - only a head start
                pass
        os.waitpid(pid, 0)
    except BaseException:   # an interrupt: the child goes with the build
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass
        raise
    return True


@dataclass
class _Source:
    """One chapter file on its way in: its text split, then pandoc's document."""

    ref: object
    text: str | None = None
    meta: dict = field(default_factory=dict)
    body: str = ""
    body_line: int = 1
    diagnostics: list = field(default_factory=list)
    doc: dict | None = None
    cache: Path | None = None     # the parse cache it was read from or stored in
    scanned: str = ""             # the text scan.py read (before CriticMarkup is read)
    sources: SourceMap = field(default_factory=SourceMap)
    known: dict | None = None     # what an earlier load learnt from the same text (see _known)
    parsed: threading.Event = field(default_factory=threading.Event)   # set once _parse is done with it

    @property
    def padded(self) -> str:
        # keep line numbers: the front matter becomes blank lines for pandoc
        return "\n" * (self.body_line - 1) + self.body

    @functools.cached_property
    def key(self) -> str:
        """The parse cache's key of what pandoc reads (see _digest)."""
        return _digest(self.padded)


def _echoes(root: Path, refs: list, echo: bool) -> dict[str, bool]:
    """Whether each chapter's code cells show their code unless they say otherwise: as the book says
    (``echo``: execute: echo:), or, in an R Markdown chapter, as knitr's 'opts_chunk$set(echo = FALSE)' in
    an R Markdown chapter before it last said (bookdown knits them in one session, and its books set it in
    the first chapter, for all; Quarto runs each chapter on its own)."""
    out, knitted = {}, echo
    for ref in refs:
        rmd = ref.path.lower().endswith(".rmd")
        out[ref.path] = knitted if rmd else echo
        path = sandbox.inside(root, ref.path)
        try:
            text = path.read_text(encoding="utf-8", errors="replace") if path and rmd else ""
        except OSError:
            continue
        if "opts_chunk" in text:
            meta, body, body_line, _ = _split_front_matter(text, ref.path)
            knitted = quarto.expand(root, ref.path, body, body_line, meta.get("__echo__", knitted)).echo
    return out


def _read_chapter(root: Path, ref, scanned: set[str], echo: bool = True) -> _Source:
    path = sandbox.inside(root, ref.path)
    if path is None:
        return _Source(ref, diagnostics=[sandbox.outside(ref.path, ref.location, "chapter file")])
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return _Source(ref, diagnostics=[error(
            "encoding", f"the file is not UTF-8: byte {exc.start} (0x{raw[exc.start]:02x}) cannot be read",
            Location(ref.path, line, column), "save the file as UTF-8 (in most editors: Save As… → Encoding: UTF-8)")])
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    problems = _control_characters(text, ref.path)
    if problems:
        text = schema.FORBIDDEN.sub("", text)
    meta, body, body_line, more = _split_front_matter(text, ref.path)
    if getattr(ref, "book_front", False):   # bookdown's index.Rmd: its front matter is the book's (config.py)
        meta, more = {}, []
    expanded = quarto.expand(root, ref.path, body, body_line, meta.get("__echo__", echo))   # includes, cells
    body = expanded.text
    source = _Source(ref, text, meta, body, body_line, problems + more + expanded.diagnostics)
    source.scanned = body
    source.sources = _scan(root, body, body_line, scanned)
    source.sources.origins = expanded.lines
    source.body, marked = critic.read(body, ref.path, body_line)  # CriticMarkup as spans, lines kept
    source.diagnostics += critic.diagnostics(critic.split(text)[0], ref.path, markdown=False) + marked
    for line, keys in metadata_blocks(body):
        source.diagnostics.append(warning(
            "metadata-block-unprinted", f"pandoc reads the lines from this --- to the next as metadata "
            f"({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''}): no edition prints them",
            Location(ref.path, body_line + line - 1, 1),
            "to print a rule and the text, leave a blank line after this ---; to keep a note out of the book, "
            "write it as an HTML comment <!-- ... -->"))
    deepest, (line, column) = source.sources.deepest
    if deepest > MAX_NESTING and len(source.sources.deeper) > MAX_NESTING:
        line, column = source.sources.deeper[MAX_NESTING]    # where it first goes past the limit
    if deepest > MAX_NESTING:
        source.diagnostics.append(error(
            "nesting-too-deep", f"blocks nest past the limit of {MAX_NESTING} here, and {deepest} deep at the most "
            "(quotations, lists or divs inside each other)", Location(ref.path, line, column),
            "no book needs this: flatten the quotations, lists or ::: divs"))
        source.text = None  # not handed to pandoc
    for line, column in source.sources.divs_unclosed:
        source.diagnostics.append(warning(
            "div-unclosed", "this ::: div is never closed: everything after it in the chapter, headings too, is "
            "inside it", Location(ref.path, line, column), "close it with a line of ::: where it ends"))
    for line, column in source.sources.divs_stray:
        source.diagnostics.append(warning(
            "div-stray", "this ::: closes no div (none is open here): it prints as text", Location(ref.path, line, column),
            "delete it, or open the div it was meant to close with ::: {.class} above"))
    for line, column in source.sources.lazy_lists:
        source.diagnostics.append(warning(
            "list-needs-blank-line", "these lines print as part of the paragraph above, not as a list: pandoc "
            "starts a list only after a blank line", Location(ref.path, line, column),
            "put a blank line between the paragraph and the list"))
    for line, column in source.sources.wide_space_markers:
        source.diagnostics.append(warning(
            "list-marker-wide-space", "this line prints as text, its marker and all, not as a list item: pandoc "
            "takes '-', '*', '+' or '1.' for a list marker only before an ordinary space, and this one has a "
            "full-width space (U+3000) after it", Location(ref.path, line, column),
            "type an ordinary space after the marker (and a blank line before the list, if a paragraph is above it)"))
    for (line, column), becomes in source.sources.capital_markers:
        source.diagnostics.append(warning(
            "list-marker-one-space", {"paragraph": "these lines print as one paragraph, not as a list",
                                      "joins": "this line prints as part of the list item above, not as an item of "
                                               "its own",
                                      "apart": "this line prints as a paragraph, not as an item of the list it "
                                               "stands in"}[becomes]
            + ": pandoc takes a capital letter and a full stop before one space for an initial ('B. Russell'), "
            "not a list marker", Location(ref.path, line, column),
            "put two spaces after the marker ('I.  First'), or write it with a parenthesis ('I) First')"))
    for what, limit, (line, column) in source.sources.pathological[:1]:
        hint = ("a code span needs only one backtick more than the longest run inside it" if "backtick" in what
                else "write a < that opens no HTML tag as \\<" if "HTML tags" in what
                else "write brackets that are not links, spans or citations as \\[ and \\]")
        source.diagnostics.append(error(
            "input-limit", f"{what} here: pandoc would take minutes over this (the limit is {limit})",
            Location(ref.path, line, column), hint))
        source.text = None
    return source


def metadata_blocks(body: str) -> list[tuple[int, list[str]]]:
    """Where the body has a YAML metadata block, as pandoc finds one anywhere in a document: a line '---'
    after a blank line (or first), not followed by a blank line, up to a line '---' or '...', holding a
    YAML mapping (anything else pandoc prints). Each block's first line (in the body) and its keys."""
    import yaml

    lines = body.split("\n")
    found, fence, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        opened = FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence) \
                    and not line.strip().lstrip("`~"):
                fence = None
        elif opened:
            fence = opened.group(1)
        elif (line.rstrip() == "---" and (i == 0 or not lines[i - 1].strip())
              and i + 1 < len(lines) and lines[i + 1].strip()):
            end = next((j for j in range(i + 1, len(lines)) if lines[j].rstrip() in ("---", "...")), None)
            if end is not None:
                try:
                    value = yaml.safe_load("\n".join(lines[i + 1:end]))
                except (yaml.YAMLError, ValueError, RecursionError):
                    value = None
                if isinstance(value, dict) and value:
                    found.append((i + 1, [str(k) for k in value]))
                    i = end
        i += 1
    return found


# what a front matter title holds that the checks locate: citations, cross-references, links, images, math
# (not raw TeX or HTML, which a title prints as written: see TITLE_READER)
TITLE_FINDS = ("cites", "url_cites", "empty_suffixes", "spaced_locators", "images", "links", "maths")


def _scan_title(sources: SourceMap, written: tuple[str, int, list[int]], read: bool) -> None:
    """Add to ``sources`` the line of the front matter's title (``written``, as :func:`_value_text` gives
    it), and, if pandoc ``read`` it as Markdown, what it holds, so that a citation or cross-reference in the
    title is reported where it is written."""
    text, first, taken = written
    if not sources.titles or sources.titles[0] != first:
        sources.titles.insert(0, first)     # (any level-1 headings after it are its sections)
    if not read:
        return
    found = scan(text, first)

    def moved(value):
        if isinstance(value, tuple) and len(value) == 2 and all(type(v) is int for v in value):
            nth = value[0] - first
            return (value[0], value[1] + taken[nth]) if 0 <= nth < len(taken) else value
        if isinstance(value, (tuple, list)):
            return type(value)(moved(v) for v in value)
        if isinstance(value, dict):
            return {k: moved(v) for k, v in value.items()}
        return value

    for name in TITLE_FINDS:
        mine, more = getattr(sources, name), moved(getattr(found, name))
        if isinstance(mine, list):
            mine[:0] = more                 # (the title stands before the body)
        else:
            for key, value in more.items():
                mine[key] = value + mine.get(key, []) if isinstance(value, list) else value


def text_as_scanned(root: Path, path: str, echo: bool = True) -> str:
    """The chapter ``path``'s text as scan.py read it (its includes expanded, the front matter as blank
    lines; ``echo``: the book's, see config.BookConfig), in which its source map's lines and columns stand;
    "" if it cannot be read."""
    inside = sandbox.inside(root, path)
    try:
        text = inside.read_text(encoding="utf-8", errors="replace") if inside else ""
    except OSError:
        return ""
    text = schema.FORBIDDEN.sub("", text.removeprefix("\ufeff").replace("\r\n", "\n"))
    meta, body, body_line, _ = _split_front_matter(text, path)
    expanded = quarto.expand(root, path, body, body_line, meta.get("__echo__", echo))
    return "\n" * (body_line - 1) + expanded.text


SCAN_FORMAT = "build_book-scan 17"
SCAN_FOLDER = "scan"
def _scan(root: Path, body: str, first_line: int, used: set[str]) -> SourceMap:
    """:func:`scan.scan`, cached by the text (``build/.cache/scan/``): an unchanged chapter is not scanned again."""
    from .scan import from_json, to_json

    folder = root / "build" / ".cache" / SCAN_FOLDER
    key = cachefile.digest(cachefile.version_key(), SCAN_FORMAT, first_line, body)
    used.add(key)
    text = cachefile.get_text(folder, key, SCAN_FORMAT)
    if text is not None:
        try:
            return from_json(json.loads(text))
        except (ValueError, TypeError, KeyError, AttributeError):
            pass
    found = scan(body, first_line)
    cachefile.put(folder, key, json.dumps(to_json(found), ensure_ascii=False), SCAN_FORMAT)
    return found


# the ASCII characters schema.FORBIDDEN allows: tab, line feed, carriage return and the printable ones
ASCII_ALLOWED = bytes([0x09, 0x0A, 0x0D, *range(0x20, 0x7F)])


def _control_characters(text: str, path: str, most: int = 10) -> list[Diagnostic]:
    """Characters no XML edition can carry, each at its line (the first ``most`` of them)."""
    if text.isascii() and not text.encode("ascii").translate(None, ASCII_ALLOWED):
        # the quick answer for most English text: nothing is left when the allowed characters are taken
        # out (ten times as fast as searching for the others; the full pattern is slower still)
        return []
    diags = []
    for n, found in enumerate(schema.FORBIDDEN.finditer(text)):
        if n == most:
            rest = sum(1 for _ in schema.FORBIDDEN.finditer(text)) - most
            diags.append(error("control-character", f"{rest} more control characters in this file",
                               Location(path, 1, 1), "delete them all (a search for the code points finds them)"))
            break
        line, column = line_column(text, found.start())
        diags.append(error("control-character", f"the control character {schema.codepoint(found.group())} "
                           "cannot be printed in any edition", Location(path, line, column),
                           "delete it: it is invisible in most editors (it often comes from pasted text)"))
    return diags


def _load_chapter(source: _Source):
    """One chapter's draft (a dict, or None if it cannot be read) and its diagnostics."""
    ref, meta, body_line = source.ref, source.meta, source.body_line
    diags: list[Diagnostic] = list(source.diagnostics)
    if source.text is None:
        return None, diags
    if source.known is not None:     # read before: what was learnt then, and what it found
        diags += source.known["diagnostics"]
        return _draft(source, None), diags
    if source.doc is None:
        if not any(d.code in ("pandoc", "pandoc-timeout", "nesting-too-deep", "input-limit") for d in diags):
            diags.append(error("pandoc", "pandoc could not read this file", Location(ref.path, 1, 1)))
        return None, diags
    blocks = source.doc["blocks"]
    source.doc = None       # the draft holds the blocks now
    draft = _draft(source, blocks, diags)
    if draft is None:       # (compat.read measured the nesting, before anything walks the blocks recursively)
        diags.append(error("nesting-too-deep", f"this chapter nests more than {MAX_DEPTH} levels deep (emphasis, "
                           "links, quotations or lists inside each other)", Location(ref.path, body_line, 1),
                           "no book needs this: flatten the nesting"))
        return None, diags
    return draft, diags


# what makes a front matter title more than words: pandoc reads it as Markdown, as it does a heading's text
TITLE_MARKUP = re.compile(r"[*_`\\\[\]$^~<&@]")
TITLE_READER = pandoc.READER + "-raw_tex-raw_html-raw_attribute"   # '\LaTeX', 'C:\Users', '<b>': as written


def _title_inlines(title: str) -> list:
    """A front matter title as a heading's text: its Markdown read as pandoc reads it ('*Getting* started'
    is emphasised, not printed with its asterisks), or its words when it holds no Markdown, when pandoc reads
    it as something other than a line of text ('1. Introduction', a list), or when it is written to make
    pandoc slow or nests absurdly deep."""
    read = _title_markdown(title)
    return json.loads(read) if read is not None else words(title)


# bookdown's part heading, '# (PART) Cases {-}' ('(PART*)' unnumbered), and the one that begins the appendices,
# '# (APPENDIX) Appendices {-}'
PART_HEADING = re.compile(r"\s*\((PART|APPENDIX)\*?\)\s*(.*)", re.S)


def _bookdown_parts(blocks: list, headers: list, titles: list[int], path: str, body_line: int,
                    diags: list[Diagnostic]) -> tuple[list, list[int]]:
    """The chapter's level-1 headings without bookdown's part headings, which are taken out of ``blocks``
    and named: build_book reads a book's parts and appendices from book.yml. (A file of one part heading
    alone, as bookdown's books often give each part, is kept as an unnumbered chapter of that title.) With
    them, the lines of those kept (``titles``: of every level-1 heading)."""
    kept, gone, lines = [], [], []
    alone = len(blocks) == len(headers) == 1
    for nth, (at, head) in enumerate(headers):
        found = PART_HEADING.match(inline_text(head["c"][2]))
        line = titles[nth] if nth < len(titles) else body_line
        if found is None:
            kept.append((at, head))
            lines.append(line)
            continue
        title = " ".join(found.group(2).split())
        where = Location(path, line, 1)
        if alone:
            head["c"][2] = words(title)
            head["c"][1][1] = list(dict.fromkeys(head["c"][1][1] + ["unnumbered"]))
            kept.append((at, head))
            lines.append(line)
            diags.append(warning("bookdown-part", f"bookdown's part heading '{title}' is printed as an unnumbered "
                                 "chapter: build_book reads the book's parts from book.yml", where,
                                 f"list the part's chapters under '- part: {title}' in book.yml's chapters, and "
                                 "take this file out of the book"))
            continue
        gone.append(at)
        if found.group(1) == "PART":
            diags.append(warning("bookdown-part", f"bookdown's part heading '{title}' is not printed: build_book "
                                 "reads the book's parts from book.yml", where,
                                 f"list the part's chapters (from the first after this heading) under '- part: "
                                 f"{title}' in book.yml's chapters, and delete the heading"))
        else:
            diags.append(warning("bookdown-part", "bookdown's heading that begins the appendices is not printed: "
                                 "build_book reads them from book.yml", where,
                                 "list the chapters after this heading under 'appendices:' in book.yml, and delete "
                                 "the heading"))
    for at in reversed(gone):
        del blocks[at]
    return [(at - sum(1 for taken in gone if taken < at), head) for at, head in kept], lines


@functools.lru_cache(maxsize=256)
def _title_markdown(title: str) -> str | None:
    # (the chapter's document is read again when it is used: read its title once; JSON, so that each
    # caller gets inlines of its own to change; None for one printed as its words)
    if not TITLE_MARKUP.search(title):
        return None
    inlines = pandoc.read_fragment(title, TITLE_READER)
    return None if inlines is None else json.dumps(inlines)


def _draft(source: _Source, blocks: list | None, diags: list[Diagnostic] | None = None,
           limit: int | None = MAX_DEPTH) -> dict | None:
    """The chapter as read: with ``blocks`` (pandoc's document, changed in place as build_book reads it; the
    problems met go to ``diags``; None if its elements nest deeper than ``limit``), or without them, from what
    an earlier load learnt (``source.known``)."""
    ref, meta, body_line = source.ref, source.meta, source.body_line
    draft = {"authors": meta.get("authors", []), "abstract": meta.get("abstract", ""),
             "status": meta.get("status", ""), "sources": source.sources,
             "meta_marks": meta.get("__marks__", {})}
    if blocks is None:
        known = source.known
        draft.update(label=known["label"], title=known["title"], numbered=known["numbered"],
                     front_title=known["front_title"], refs_place=known["refs_place"])
        return draft
    diags = [] if diags is None else diags
    sources = source.sources
    # figure divs, raw TeX; pandoc's own heading ids, before build_book names the headings
    from . import compat
    read = compat.read(blocks, sources.tex, Location(ref.path, body_line, 1), limit,
                       cjk_lines=compat.CJK_BREAK.search(source.padded) is not None,
                       expressions=ref.path.lower().endswith((".qmd", ".rmd")))
    if read is None:
        return None
    autos, problems = read
    diags += problems
    headers = [(i, b) for i, b in enumerate(blocks) if b["t"] == "Header" and b["c"][0] == 1]
    title_lines = sources.titles    # the line of each level-1 heading
    if any(PART_HEADING.match(inline_text(b["c"][2])) for _, b in headers):
        headers, title_lines = _bookdown_parts(blocks, headers, sources.titles, ref.path, body_line,
                                               [] if getattr(ref, "parts_read", False) else diags)
    front = str(meta.get("__title__", "")).strip()
    if front and headers:
        if len(headers) == 1 and all(b["t"] == "RawBlock" for b in blocks[:headers[0][0]]):
            # the one level-1 heading, first in the chapter, is its title: the front matter's is not printed
            written = " ".join(inline_text(headers[0][1]["c"][2]).split())
            at = meta.get("__title_at__")
            if written != " ".join(front.split()):
                diags.append(warning(
                    "front-matter-ignored", f"the front matter's title '{front}' is not printed: the chapter's "
                    f"title is its '# ' heading, '{written}'", Location(ref.path, at[1], at[2][0] + 1) if at else
                    Location(ref.path, 1, 1), "delete one of the two titles"))
        else:
            # a document's title with its sections under it, as pandoc reads it: the title is the chapter's,
            # and its level-1 headings are its sections (pandoc's --shift-heading-level-by=1)
            for node in elements(blocks):
                if node["t"] == "Header":
                    node["c"][0] = min(node["c"][0] + 1, 6)
            headers = []
    if not headers and front:
        # Quarto and pandoc documents may give their title in the front matter only
        title = front
        head = {"t": "Header", "c": [1, ["", [], []], _title_inlines(title)]}
        blocks.insert(0, head)
        headers = [(0, head)]
        # it is located in the front matter, and what the checks find in it too if pandoc read it (see
        # _scan_title): "read", else "words"
        draft["front_title"] = "read" if _title_markdown(title) is not None else "words"
    if not headers:
        diags.append(error("chapter-no-title", "this chapter has no title", Location(ref.path, body_line, 1),
                           "start the chapter with a level-1 heading, e.g. '# The Japan-US Alliance {#sec-japan-us}'"))
        title, label, numbered = ref.path, "sec-" + slugify(Path(ref.path).stem), True
    else:
        _, head = headers[0]
        attr, inlines = head["c"][1], head["c"][2]
        title = inline_text(inlines).strip()
        label = normal_label(attr[0]) or "sec-" + slugify(Path(ref.path).stem)
        if attr[0] and not normal_label(attr[0]):
            draft["emptied"] = [attr[0]]    # '{#sec-}' (see _learn)
        attr[0] = label
        numbered = not ({"unnumbered", "-"} & set(attr[1]))
        if len(headers) > 1:    # (Quarto's HTML prints them so, on the chapter's page)
            for node in elements(blocks[headers[1][0]:]):
                if node["t"] == "Header":
                    node["c"][0] = min(node["c"][0] + 1, 6)
        for nth, (_, extra) in enumerate(headers[1:], 1):
            extra_title = inline_text(extra["c"][2])
            line = title_lines[nth] if nth < len(title_lines) else body_line
            diags.append(warning("chapter-two-titles", f"a second level-1 heading '{extra_title}' in one chapter: "
                                 "it is printed as a section, and the headings after it one level down",
                                 Location(ref.path, line, 1), "a chapter has one title: make this a section with "
                                 "'## ', or a chapter of its own (a file of its own, in the book's list of chapters)"))
    # an empty '::: {#refs}' of its own: where Quarto puts the book's reference list (see load_book)
    refs_place = any(b["t"] == "Div" and b["c"][0][0] == "refs" and not b["c"][1] for b in blocks)
    if (not refs_place and headers and [b for b in blocks if b["t"] != "RawBlock"] == [headers[0][1]]
            and " ".join(title.split()).casefold() in REFERENCES_WORDS):
        # bookdown's references.Rmd, '# References {-}' alone: the list follows it there (as after Quarto's)
        blocks.append({"t": "Div", "c": [["refs", [], []], []]})
        refs_place = True
    draft.update(label=label, title=title, numbered=numbered, blocks=blocks, autos=autos, refs_place=refs_place)
    return draft


# What the loader learns from a chapter's document that depends on its text alone (its title and label,
# the problems reading it found, its headings' ids as written, pandoc's automatic ids, its links as
# written): kept by what the text was read from, so that an unchanged chapter's document is not read
# again (Chapter.blocks is then read when first used; see _blocks_of). The parse cache entry is still checked
# (in the background, see _parse): a damaged one is made again, and the chapter read as if nothing were known.
FACTS_FORMAT = "build_book-ast-facts 7"
FACTS_FOLDER = "ast-facts"
# What the book-wide passes need from a chapter's blocks (facts.py), kept by the chapter's digest.
CHAPTER_FACTS_FORMAT = "build_book-chapter-facts 9"
CHAPTER_FACTS_FOLDER = "chapter-facts"


def _facts_key(source: _Source) -> str:
    # what pandoc read, the text before CriticMarkup was read (compat.read looks at its scan), the path
    # (a chapter without a labelled title is labelled by its file name) and a title from the front matter
    return cachefile.digest(cachefile.version_key(), FACTS_FORMAT, source.key, source.scanned,
                            source.ref.path, str(source.meta.get("__title__", "")))


def _known(source: _Source) -> dict | None:
    """What an earlier load learnt from ``source`` (see _learn), or None if there is no sound entry."""
    text = cachefile.get_text(source.cache.parent / FACTS_FOLDER, _facts_key(source), FACTS_FORMAT)
    if text is None:
        return None
    try:
        known = json.loads(text)
        known["diagnostics"] = [from_list(d) for d in known["diagnostics"]]
        if not (isinstance(known["label"], str) and isinstance(known["title"], str)
                and isinstance(known["numbered"], bool) and isinstance(known["front_title"], str)
                and isinstance(known.get("refs_place"), bool)
                and isinstance(known["links"], list) and isinstance(known["emptied"], list)
                and all(isinstance(x, str) for x in known["links"])
                and all(isinstance(x, str) for x in known["emptied"])
                and all(isinstance(i, str) and (isinstance(b, str) or b is None) for i, b in known["slots"])
                and all(isinstance(a, str) and (isinstance(n, int) and 0 <= n < len(known["slots"]) or n is None)
                        and isinstance(f, str) for a, n, f in known["autos"])):
            return None
        return known
    except (ValueError, TypeError, KeyError):
        return None


def _learn(source: _Source, draft: dict, problems: list[Diagnostic], used: set[str]):
    """What the chapter's document says that depends on its text alone, in one walk (kept for the next
    load: see _known): its headings in reading order, each as ``[id, None]`` (its id as written, in
    Quarto's spelling) or ``["", words]`` (no id: build_book gives it one from its words); pandoc's
    automatic ids, each with its heading; its links as written. In the same walk, the blocks get their
    ids as _finish gives them (see _give: ``used`` holds the ids of the chapters before), and their facts
    are read (facts.extract, of the blocks before links to pandoc's ids are relinked: see _relinked_facts).
    Returns what was learnt, every heading's id, the ids given and the facts."""
    from . import compat
    slots, links, at, ids, given = [], [], {}, [], []
    label = draft["label"]
    emptied = set(draft.get("emptied", ()))   # the labels with no name ('{#fig-}') pandoc read, as written

    def visit(node: dict) -> None:     # (an element with attributes)
        kind = node["t"]
        if kind == "Link":
            links.append(node["c"][2][0])
        attr = node["c"][ATTR_AT[kind]]
        if attr[0]:
            written, attr[0] = attr[0], normal_label(attr[0])
            if not attr[0]:
                emptied.add(written)
        if kind == "Figure":    # facts.extract reads its sub-figures' ids at the figure, before their turn
            for sub in compat.subfigures(node):
                if sub["c"][0][0]:
                    sub["c"][0][0] = normal_label(sub["c"][0][0])
        if kind != "Header":
            return
        at[id(node)] = len(slots)
        ident = attr[0]
        if ident:
            slots.append([ident, None])
        else:
            words = slugify(inline_text(node["c"][2]))
            slots.append(["", words])
            ident = base = f"{label}-{words}"
            n = 1
            while ident in used:
                n += 1
                ident = f"{base}-{n}"
            given.append(ident)
            attr[0] = ident
        used.add(ident)
        ids.append(ident)

    found = facts.extract(draft["blocks"], visit)
    autos = [[auto, at.get(id(node)), node["c"][1][0]] for node, auto in draft["autos"]]
    known = {"label": label, "title": draft["title"], "numbered": draft["numbered"],
             "front_title": draft.get("front_title", ""), "refs_place": draft["refs_place"], "slots": slots,
             "autos": autos, "links": links, "emptied": sorted(emptied),
             "diagnostics": [to_list(d) for d in problems]}
    cachefile.put(source.cache.parent / FACTS_FOLDER, _facts_key(source), json.dumps(known, ensure_ascii=False),
                  FACTS_FORMAT)
    known["diagnostics"] = problems
    return known, ids, given, found


def _relinked_facts(found, changes: dict[str, str]):
    """Facts read before the blocks' links were relinked (see _learn), as facts.extract reads them after
    (``changes``: target -> new target; relinking changes nothing else)."""
    targets, chapter_facts = found
    if not changes:
        return found
    return replace(targets, links=[changes.get(t, t) for t in targets.links]), chapter_facts


def _chapter_facts(folder: Path, digest: str):
    """(Targets, facts.Facts) cached for the chapter with ``digest``, or None."""
    text = cachefile.get_text(folder, digest, CHAPTER_FACTS_FORMAT)
    if text is None:
        return None
    try:
        return facts.from_json(json.loads(text))
    except (ValueError, TypeError, KeyError):
        return None


def _blocks_of(source: _Source, given: tuple[str, ...], changes: dict[str, str]) -> list:
    """The blocks of a chapter loaded without reading them (see load_book), read now: pandoc's document
    (from the parse cache, or parsed again), read as build_book reads it, with the ids ``given`` and the
    links ``changes`` relinks."""
    key = source.key
    doc = _cached(source.cache, key)
    if doc is None:     # the entry is gone or damaged since the chapter was loaded
        text = pandoc.read_markdown_json(source.padded)
        doc = json.loads(text)
        _store(source.cache, key, text)
    blocks = doc["blocks"]
    _draft(source, blocks, limit=None)     # (its nesting was measured when it was first read)
    if "$$" in source.padded:
        from . import math
        math.label_equations(blocks)
    _finish(blocks, list(given), changes)
    return blocks


def _split_front_matter(text: str, path: str):
    """Return (meta, body, line number where body starts, diagnostics)."""
    opening = early.FRONT_MATTER_OPEN.match(text)
    if opening is None:
        return {}, text, 1, []
    end = early.FRONT_MATTER_END.search(text, opening.end())
    if end is None:
        return {}, text, 1, [error("front-matter", "the front matter opened with '---' on line 1 is never closed",
                                   Location(path, 1, 1), "add a line '---' after the last front matter line")]
    yaml_text = text[opening.end():end.start()]
    body_line = text.count("\n", 0, end.end()) + 2
    body = text[end.end() + 1:]
    diags: list[Diagnostic] = []
    try:
        located = yamlpos.load(yaml_text)
    except yamlpos.YamlError as exc:
        return {}, body, body_line, [error("front-matter", exc.message, Location(path, exc.line + 1, exc.column),
                                           exc.hint or "front matter is YAML: 'key: value' lines between two '---' lines")]
    if located.data is not None and not isinstance(located.data, dict):
        return {}, body, body_line, [error(
            "front-matter", f"the front matter must be 'key: value' lines, not {schema.type_name(located.data)}",
            Location(path, 2, 1), "write e.g. authors: [kubo]")]
    where = schema.Where(located, path, diags, line_offset=1, code="front-matter")
    for keys, line, column in located.duplicates:
        diags.append(error("front-matter", f"'{keys[-1]}' is given twice in the front matter",
                           Location(path, line + 1, column), "keep one of them"))
    data = located.data or {}
    execute = data.get("execute") if isinstance(data.get("execute"), dict) else {}
    echo = execute.get("echo") if isinstance(execute.get("echo"), bool) else None   # Quarto's execute: echo:
    nocite = data.get("nocite") if isinstance(data.get("nocite"), (str, list)) else None   # pandoc's nocite:
    # pandoc's metadata is open: a key of the author's own (read by their pandoc template, say) is left alone
    # too; only a key that looks like a misspelt one of build_book's ('authers:') is an error
    foreign = [key for key in data if key not in FRONT_MATTER
               and (str(key) in FOREIGN_KEYS or not schema.nearest(str(key), FRONT_MATTER))]
    if foreign:
        scalar = located.scalars.get(("title",))
        if "title" in foreign and isinstance(data.get("title"), (int, float)) and not isinstance(data["title"], bool) \
                and scalar and scalar[2] is None:     # 'title: 1984', 'title: 1.10': the title as written
            data["title"] = YAML_PROPERTIES.sub("", yaml_text[scalar[0]:scalar[1]]).strip()
        used = ["title"] if "title" in foreign and isinstance(data.get("title"), str) else []
        used += ["execute"] if echo is not None else []   # (the rest of it is about running code: none is run)
        used += ["nocite"] if nocite is not None else []
        ignored = [str(key) for key in foreign if key not in used]
        if ignored:
            whose = ("of pandoc or Quarto" if all(key in FOREIGN_KEYS for key in ignored)
                     else "(pandoc's, Quarto's or your own templates')")
            where[ignored[0]].warning(
                "front-matter-ignored", f"build_book does not use these front matter keys {whose}: "
                + ", ".join(ignored), "they are left alone; build_book reads authors, abstract and status "
                "(and title)")
        title = data.get("title") if used else None
        data = {key: value for key, value in data.items() if key not in foreign}
    else:
        title = None
    values = schema.validate(FRONT_MATTER, data, where, "the front matter")
    if echo is not None:
        values["__echo__"] = echo
    if nocite is not None:      # (works the book lists, as bookdown's index.Rmd says for the whole book)
        values["__nocite__"] = [key for text in (nocite if isinstance(nocite, list) else [nocite])
                                for key in config_nocite_keys(str(text))]
        values["__nocite_at__"] = where["nocite"].location
    if title is not None:
        values["__title__"] = title
        values["__title_at__"] = _value_text(yaml_text, located.scalars.get(("title",)))
    if values.get("abstract"):
        written = _value_text(yaml_text, located.scalars.get(("abstract",)))
        values["__abstract_at__"] = Location(path, written[1], written[2][0] + 1) if written else where["abstract"].location
    values["__marks__"] = {author: (where["authors"][i] if isinstance(data.get("authors"), list)
                                    else where["authors"]).location
                           for i, author in enumerate(values["authors"])}
    return values, body, body_line, diags


YAML_PROPERTIES = re.compile(r"(?:[!&]\S*\s+)*")    # a value's tag and anchor ('!!int 1984', '&a 1984')


def _value_text(yaml_text: str, scalar) -> tuple[str, int, list[int]] | None:
    """A front matter value as written (:attr:`yamlpos.Located.scalars`), for locating what it holds: its
    lines with their indents (and its quote, or its '|' / '>' line) taken off, the line of the chapter file
    where they begin, and how many characters were taken off each."""
    if scalar is None:
        return None
    start, end, style = scalar
    line = yaml_text.count("\n", 0, start) + 2      # (the front matter begins on the file's line 2)
    first = start - (yaml_text.rfind("\n", 0, start) + 1)
    lines = yaml_text[start:end].split("\n")
    if style in ("|", ">"):
        lines, line, first = lines[1:], line + 1, 0
        while len(lines) > 1 and not lines[0].strip():     # (blank lines before the text)
            lines, line = lines[1:], line + 1
    else:
        properties = YAML_PROPERTIES.match(lines[0])      # ('&anchor', '!!str' before the text)
        lines[0], first = lines[0][properties.end():], first + properties.end()
        lines[0] = lines[0][1:] if style in ('"', "'") else lines[0]
        first += style in ('"', "'")
    if style == '"':      # (YAML's escaped backslash is one backslash: '\\@' is pandoc's escaped '@')
        lines = [text.replace("\\\\", " \\") for text in lines]
    kept = [text.lstrip(" \t") for text in lines]
    taken = [len(text) - len(rest) for text, rest in zip(lines, kept)]
    taken[0] += first if taken else 0
    return "\n".join(kept), line, taken


CHAPTER_DIGEST = "build_book-chapter-digest 1"
AST_FORMAT = "build_book-ast 2"  # the first line of a cache entry: format, source digest, checksum


def _digest(text: str) -> str:
    return hashlib.sha256((pandoc.version() + pandoc.READER + "\0" + text).encode()).hexdigest()


def _cached(cache: Path, digest: str) -> dict | None:
    """The document cached for the source with ``digest``, or None if there is none or it is not sound.

    An entry is trusted only if its header names this format and this source and the checksum of its
    text matches (see :mod:`build_book.cache`), and the text is a pandoc document: a truncated,
    corrupted or swapped file is parsed again (and overwritten) as if it were not there."""
    body = cachefile.get(cache, digest, AST_FORMAT)
    if body is None:
        return None
    try:
        doc = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    if not (isinstance(doc, dict) and isinstance(doc.get("blocks"), list)
            and isinstance(doc.get("pandoc-api-version"), list)):
        return None
    return doc


class _Parsing:
    """pandoc's documents of the chapters handed to :meth:`add`, read by ``workers`` threads as the
    chapters come: each takes what is waiting (its share of it), so an edited chapter is read at once
    and, from nothing, the chapters are read in a few batches (one pandoc for many files). Of a chapter
    known from an earlier load, only the parse cache's entry is checked (see _parse)."""

    def __init__(self, workers: int):
        self.workers = workers
        self.waiting: list[_Source] = []
        self.done = False
        self.failed: BaseException | None = None    # raised again by finish()
        self.ready = threading.Condition()
        self.threads = [threading.Thread(target=self._work, daemon=True) for _ in range(workers)]
        for thread in self.threads:
            thread.start()

    def add(self, source: _Source) -> None:
        with self.ready:
            self.waiting.append(source)
            self.ready.notify()

    def wait(self, source: _Source) -> None:
        """Wait until ``source`` is read (at once for a file that could not be read: load_book adds only
        a source with a text)."""
        if source.text is not None:
            source.parsed.wait()
            if self.failed is not None:
                raise self.failed

    def finish(self) -> None:
        """Wait until every chapter added is read."""
        with self.ready:
            self.done = True
            self.ready.notify_all()
        for thread in self.threads:
            thread.join()
        if self.failed is not None:
            raise self.failed

    def _work(self) -> None:
        while True:
            with self.ready:
                while not self.waiting and not self.done:
                    self.ready.wait()
                if not self.waiting:
                    return
                share = -(-len(self.waiting) // self.workers)
                batch, self.waiting[:share] = self.waiting[:share], []
            try:
                _parse(batch)
            except BaseException as exc:   # noqa: BLE001 - handed to the thread that waits
                self.failed = exc
            finally:
                for source in batch:
                    source.parsed.set()


def _parse(batch: list[_Source]) -> None:
    """Give each source pandoc's document: from the parse cache, or read by pandoc (the rest in one run,
    and cached); a problem goes to the source's diagnostics."""
    todo = []
    for source in batch:
        if source.known is not None:    # its document is needed only if its parse entry is damaged
            if cachefile.get(source.cache, source.key, AST_FORMAT) is not None:
                continue
            source.known = None         # then it is read again as if it were new
        source.doc = _cached(source.cache, source.key)
        if source.doc is None:
            todo.append(source)
    if not todo:
        return
    try:
        texts = [pandoc.read_markdown_json(todo[0].padded)] if len(todo) == 1 else \
            pandoc.read_markdown_json_many([s.padded for s in todo])
    except pandoc.PandocError:
        texts = []
        for s in todo:  # find the file pandoc cannot read, keep the rest
            try:
                texts.append(pandoc.read_markdown_json(s.padded))
            except pandoc.PandocTimeout as exc:
                texts.append(None)
                s.diagnostics.append(error(
                    "pandoc-timeout", f"pandoc took longer than {exc.seconds:g} seconds to read this file "
                    "and was stopped", Location(s.ref.path, 1, 1),
                    "look for something unusual in this chapter (an enormous table, very deeply nested "
                    f"lists or brackets); if it is simply very long, allow more time with "
                    f"{pandoc.TIMEOUT_ENV}=SECONDS"))
            except pandoc.PandocError as exc:
                texts.append(None)
                s.diagnostics.append(error("pandoc", f"pandoc could not read this file: {exc}",
                                           Location(s.ref.path, 1, 1)))
    for s, text in zip(todo, texts):
        if text is None:
            continue
        try:
            s.doc = json.loads(text)
            pandoc.saw_document(s.doc)
        except RecursionError:  # nesting past what Python reads; the chapter is reported, not parsed
            s.diagnostics.append(error("nesting-too-deep", f"this chapter nests more than {MAX_DEPTH} "
                                       "levels deep (emphasis, links, quotations or lists inside each other)",
                                       Location(s.ref.path, s.body_line, 1), "no book needs this: flatten it"))
            continue
        _store(s.cache, s.key, text)


def _store(cache: Path, digest: str, text: str) -> None:
    """Cache pandoc's JSON ``text`` (as it came) under a header that lets :func:`_cached` check it."""
    cachefile.put(cache, digest, text, AST_FORMAT)


def normal_label(label: str) -> str:
    """pandoc-crossref spells labels 'fig:x'; build_book uses Quarto's 'fig-x'. A label with no name ('fig-',
    'thm:') is no id at all (see labels.EMPTY_LABEL)."""
    if EMPTY_LABEL.fullmatch(label):
        return ""
    for kind in ("sec", "fig", "tbl"):
        if label.startswith(kind + ":"):
            return f"{kind}-{label[4:]}"
    return label


def _give(slots: list, chapter_label: str, used: set[str]) -> tuple[list[str], list[str]]:
    """Every heading's id (``slots``: see _learn), and the ids given, stable and unique in the book
    (they depend on the chapters before, whose ids are in ``used``)."""
    ids, given = [], []
    for ident, words in slots:
        if not ident:
            base = f"{chapter_label}-{words}"
            ident, n = base, 1
            while ident in used:
                n += 1
                ident = f"{base}-{n}"
            given.append(ident)
        used.add(ident)
        ids.append(ident)
    return ids, given


def _finish(blocks: list, given: list[str], changes: dict[str, str]) -> None:
    """Labels in Quarto's spelling (pandoc-crossref's 'fig:x' as 'fig-x'), the ids ``given`` (see _give) to
    the headings without one, in reading order, and links relinked (``changes``: target -> new target),
    in place."""
    given = list(reversed(given))
    for node in elements(blocks):
        kind = node["t"]
        if kind == "Link" and changes:
            node["c"][2][0] = changes.get(node["c"][2][0], node["c"][2][0])
        at = ATTR_AT.get(kind)
        if at is None:
            continue
        attr = node["c"][at]
        if attr[0]:
            attr[0] = normal_label(attr[0])
        if not attr[0] and kind == "Header" and given:
            attr[0] = given.pop()
