"""Consistency checks over the loaded book: pure functions returning diagnostics.

They run before anything is rendered (``check`` runs only them); a build
stops if any of them reports an error.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
import stat
from collections import Counter
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlsplit

from . import index as book_index
from . import abstracts, bibliography, cache, compat, images, math, sandbox, sanitize, styles, svgprint, quarto, ui
from .config import near_file
from .diagnostics import Diagnostic, Location, error, line_column, warning
from .labels import (BOOKDOWN_REF, EMPTY_LABEL, PREFIX_WORDS, TEX_REF, LabelIndex, as_bookdown, as_written,
                     is_crossref, normal_ref, ref_prefix, unnumbered_kind)
from .load import text_as_scanned
from .facts import raw_images
from .model import Book, Chapter, facts_of, is_external
from .scan import SourceMap, scan
from .ui import REFERENCES_WORDS

EXPECTED_PREFIX = {"Figure": "fig-", "Table": "tbl-"}
KIND_OF_PREFIX = {"sec": ("chapter", "section", "part", "appendix"), "fig": ("figure",), "tbl": ("table",),
                  "eq": ("equation",)}
URL_SCHEMES = ("http", "https", "ftp", "mailto", "doi")
IMAGE_FORMATS = (".svg", ".png", ".jpg", ".jpeg", ".gif", ".webp")


def _written_at(root: Path, given: Location, key: str) -> Location:
    """Where '@key' (or the bare key) is written in the file ``given`` locates, at or after its line: a
    value's own line in a list or a '|' block; ``given`` itself if it is not found."""
    inside = sandbox.inside(root, given.path)
    try:
        lines = inside.read_text(encoding="utf-8", errors="replace").splitlines() if inside else []
    except OSError:
        return given
    pattern = re.compile(rf"(?<![\w@])@?\{{?{re.escape(key)}(?![\w:.#$%&\-+?<>~/])")
    for number in range(max(given.line, 1), min(len(lines), given.line + 200) + 1):
        found = pattern.search(lines[number - 1], given.column - 1 if number == given.line else 0)
        if found:
            return Location(given.path, number, found.start() + 1)
    return given


def run_all(book: Book, index: LabelIndex) -> list[Diagnostic]:
    absent = absent_chapters(book)
    diags: list[Diagnostic] = []
    diags += list(book.bibliography.diagnostics)
    diags += bibliography.check_entries(book.bibliography.entries, cited_anywhere(book),
                                        book.bibliography.lacking)
    diags += check_style(book)
    diags += check_authors(book)
    diags += check_titles(book)
    diags += check_unlisted_files(book, absent)
    diags += check_citations(book, index.labels, absent)
    diags += check_crossrefs(book, index, absent)
    diags += check_resources(book, index)
    diags += quarto.check_expressions(book)
    diags += check_footnotes(book)
    diags += check_footnotes_in_print(book)
    diags += math.check(book)
    diags += images.check(book, image_place)
    diags += per_chapter(book, "sanitize", sanitize.check_blocks)
    diags += per_chapter(book, "abstract", abstracts.check)
    diags += [d for chapter in book.chapters for d in sanitize.check_svgs(book, chapter)]
    diags += svgprint.check(book)
    if os.path.lexists(book.config.root.resolve() / "templates"):   # (templating.BOOK_TEMPLATES) only a book
        from . import templating                                  # with template overrides needs jinja2 here
        diags += templating.check_templates(book.config.root)
    if book.config.style:       # house_style.py (many patterns to compile) is imported only for a book with one
        from . import house_style
        diags += house_style.check(book)
    diags += book_index.check(book)
    return diags


CHECKS_FORMAT = "build_book-checks 1"   # header of a cached chapter's diagnostics (see cache.py)
CHECKS_FOLDER = "checks"


def per_chapter(book: Book, name: str, check: Callable[[Chapter], list[Diagnostic]]) -> list[Diagnostic]:
    """``check`` run on every chapter, its diagnostics cached (``build/.cache/checks/``) by the chapter's
    digest, so that after an edit only the edited chapter is checked again. For checks whose findings
    depend on the chapter alone (its file, what pandoc read, its path); what depends on other chapters,
    the bibliography or book.yml is checked book-wide every time."""
    folder = book.config.root / "build" / ".cache" / CHECKS_FOLDER / name
    diags: list[Diagnostic] = []
    used = set()
    for chapter in book.chapters:
        if not chapter.digest:
            diags += check(chapter)
            continue
        key = cache.digest(chapter.digest, name)
        used.add(key)
        found = _cached_diagnostics(folder, key)
        if found is None:
            found = check(chapter)
            if folder.parent.parent.is_dir():   # build/.cache is there (check alone never makes build/)
                cache.put(folder, key, json.dumps([diagnostic_to_json(d) for d in found]), CHECKS_FORMAT)
        diags += found
    cache.prune(folder, used)     # the entries of chapters edited since, or no longer in the book
    return diags


def diagnostic_to_json(d: Diagnostic) -> list:
    return [d.severity, d.code, d.message, [d.location.path, d.location.line, d.location.column], d.hint]


def _cached_diagnostics(folder: Path, key: str) -> list[Diagnostic] | None:
    text = cache.get_text(folder, key, CHECKS_FORMAT)
    if text is None:
        return None
    try:
        return [Diagnostic(severity, code, message, Location(*where), hint)
                for severity, code, message, where, hint in json.loads(text)]
    except (ValueError, TypeError):
        return None


def check_footnotes(book: Book) -> list[Diagnostic]:
    """A note called but never written prints '[^id]' literally; one written but never called is dropped."""
    diags = []
    for chapter in book.chapters:
        refs, defs = chapter.sources.note_refs, chapter.sources.note_defs
        for name, places in refs.items():
            if name in defs:
                continue
            close = _nearest(name, defs, 1)
            for line, column in places:
                diags.append(error("footnote-undefined", f"the footnote [^{name}] is never written, so it would "
                                   "print as '[^" + name + "]'", Location(chapter.path, line, column),
                                   f"did you mean [^{close[0]}]?" if close else
                                   f"write the note on a line of its own: [^{name}]: The note's text."))
        for name, (line, column) in chapter.sources.notes_in_notes:
            diags.append(warning("footnote-in-footnote", f"the footnote [^{name}] is called inside another note: "
                                 "pandoc cannot put a note in a note, so it prints as written (or, in an inline "
                                 "note ^[...], breaks it)", Location(chapter.path, line, column),
                                 "write its text into the note itself, or call it from the main text"))
        for name, (line, column) in chapter.sources.note_again:
            first = defs[name][0]
            diags.append(warning("footnote-written-twice", f"the footnote [^{name}] is written again here (first at "
                                 f"line {first}): pandoc prints only the last, and the text at line {first} is lost",
                                 Location(chapter.path, line, column),
                                 f"give one of them another name, and call it where it belongs: [^{name}-2]"))
        for name, (line, column) in defs.items():
            if name not in refs:
                close = _nearest(name, [r for r in refs if r not in defs], 1)
                diags.append(warning("footnote-unused", f"the footnote [^{name}] is never called from the text, "
                                     "so its text is left out", Location(chapter.path, line, column),
                                     f"the text calls [^{close[0]}]: did you mean that?" if close else
                                     f"put [^{name}] in the text where the note belongs, or delete the note"))
    return diags


BLOCK_NAMES = {"Table": "table", "Header": "heading", "Figure": "figure", "DefinitionList": "definition list",
               "RawBlock": "raw HTML"}


def check_footnotes_in_print(book: Book) -> list[Diagnostic]:
    """A footnote holding a table, a heading, a figure, a definition list or raw HTML: the PDF sets its
    notes at the foot of the page as lines of text (notes_inline.lua), and leaves that block out."""
    diags = []
    for chapter in book.chapters:
        unprinted = facts_of(chapter).unprinted
        if not unprinted:
            continue
        text = text_as_scanned(book.config.root, chapter.path, chapter.echo)    # (located as the source map is)
        starts = [_offset(text, line, column) for line, column in sorted(chapter.sources.note_defs.values())]
        for kinds, words in unprinted:
            names = [BLOCK_NAMES.get(kind, kind.lower()) for kind in kinds]
            what = " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]
            at = _note_at(text, starts, words.split())
            quoted = f" that begins '{words}'" if words else ""
            diags.append(warning("footnote-block-unprinted", f"the PDF prints the footnote{quoted} without its "
                                 f"{what}: a note at the foot of a page holds paragraphs, lists, quotations and code",
                                 Location(chapter.path, *at) if at else chapter.location,
                                 f"move the {names[0]} into the text and refer to it from the note; the HTML "
                                 "and EPUB editions print it in the note"))
    return diags


def _offset(text: str, line: int, column: int) -> int:
    """The offset in ``text`` of a 1-based line and column."""
    at = 0
    for _ in range(line - 1):
        at = text.find("\n", at) + 1
        if at == 0:
            return len(text)
    return at + column - 1


NOTE_SPAN = 400   # characters of a note's definition in which its first words are looked for


def _note_at(text: str, starts: list[int], words: list[str]) -> tuple[int, int] | None:
    """Where the first words of a note (as printed: some markup may stand between them) start in ``text``:
    in the first paragraph of a note's definition (``starts``: where each ``[^id]:`` is, in order) if
    they are there, else the first place they stand."""
    phrases = [" ".join(words[:n]) for n in (8, 5, 3) if len(words) >= n or (n == 3 and words)]
    spans = []
    for start, end in zip(starts, [*starts[1:], len(text)]):
        blank = text.find("\n\n", start, end)     # (its first paragraph ends at a blank line)
        spans.append((start, min(end if blank < 0 else blank, start + NOTE_SPAN)))
    for phrase in phrases:
        for start, end in spans:
            at = text.find(phrase, start, end)
            if at >= 0:
                return line_column(text, at)
    for phrase in phrases:
        at = text.find(phrase)
        if at >= 0:
            return line_column(text, at)
    return None


def absent_chapters(book: Book) -> dict[str, SourceMap]:
    """Chapters listed in book.yml but missing, whose file seems to be there under a near name
    (a wrong capital, a typo), or there but refused (not UTF-8, nested too deep): file -> what it
    defines and cites. One root cause, one diagnostic: the missing or refused chapter's error names
    the file, and the references into it, the works only it cites and the file itself are not
    reported again."""
    root = book.config.root
    found: dict[str, SourceMap] = {}
    loaded = {chapter.path for chapter in book.chapters}
    for ref in book.config.chapters:
        try:
            if sandbox.is_file(root / ref.path):
                if ref.path not in loaded:    # there, but refused (not UTF-8, nested too deep): its error is
                    text = _own_text(root, ref.path)    # reported; what it defines and cites is not again
                    if text is not None:
                        found[ref.path] = scan(text)
                continue
        except (OSError, ValueError):
            continue
        near = near_file(root, ref.path, "*.md")
        if near:
            text = _own_text(root, near)
            if text is not None:
                found[near] = scan(text)
    return found


NEAR_LIMIT = 16 * 2**20    # (a chapter file of more is not taken for the one listed)


def _own_text(root: Path, rel: str) -> str | None:
    """The text of the book's own file ``rel``: None for one outside the book (a link out of it), or not a
    plain file (a device that never ends, a pipe that never answers), or unreadable."""
    try:
        path = (root / rel).resolve()
        if not sandbox.within(path, root) or not stat.S_ISREG(path.stat().st_mode):
            return None
        with open(path, "rb") as handle:
            return handle.read(NEAR_LIMIT).decode("utf-8", errors="replace")
    except (OSError, ValueError, RuntimeError):
        return None


def cited_keys(chapter: Chapter) -> list[str]:
    return chapter.targets.cites


def cited_anywhere(book: Book) -> set[str]:
    """Every bibliography key the book cites, in any chapter, or lists though not cited (nocite)."""
    return {key for chapter in book.chapters for key in cited_keys(chapter) if not is_crossref(key)} | set(
        book.nocite_keys())


def _used_through(cited: set[str], entries: dict) -> set[str]:
    """Entries a cited entry takes fields from (its crossref parent, its xdata), at any depth: in use,
    though not cited themselves."""
    used: set[str] = set()
    todo = [key for key in cited if key in entries]
    while todo:
        for _, parent in entries[todo.pop()].parents():
            if parent in entries and parent not in used and parent not in cited:
                used.add(parent)
                todo.append(parent)
    return used


def _positions(chapter: Chapter, key: str) -> list[Location]:
    found = chapter.sources.cite_at(key)
    if not found:
        return [chapter.location]
    return [Location(chapter.path, line, col) for line, col in found]


def _nearest(word: str, candidates, n: int = 3) -> list[str]:
    return difflib.get_close_matches(word, list(candidates), n=n, cutoff=0.6)


def check_style(book: Book) -> list[Diagnostic]:
    try:
        path = styles.resolve(book.config.csl, book.config.root)
        if path is not None:
            styles.validate(path)
    except styles.StyleNotFound as exc:
        close = styles.suggestions(book.config.csl) if not book.config.csl.endswith(".csl") else []
        if close:
            hint = "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
        elif book.config.csl.endswith(".csl"):
            hint = "check the file, or use a style name from the CSL repository (e.g. apa)"
        else:
            hint = "use a style name from the CSL repository (e.g. apa, chicago-author-date) or a path to a .csl file"
        if exc.code == sandbox.CODE:
            return [sandbox.outside(book.config.csl, book.config.where("csl"), "citation style file")]
        if exc.code == "csl-parent-missing":
            return [error("csl-parent-missing", str(exc), book.config.where("csl"), exc.hint)]
        return [error("csl-unknown", str(exc), book.config.where("csl"), hint)]
    return []


def check_authors(book: Book) -> list[Diagnostic]:
    diags = []
    known = book.config.contributors
    for chapter in book.chapters:
        for author in chapter.authors:
            if author not in known:
                close = _nearest(author, known, 1)
                diags.append(error("unknown-contributor", f"author '{author}' is not in book.yml's 'contributors'",
                                   chapter.author_locations.get(author, chapter.location),
                                   f"did you mean '{close[0]}'?" if close else
                                   "add the person under 'contributors' in book.yml, or fix the id"))
    return diags


_NUMERAL = r"(?:[IVXLCDM]+|\d+|[A-Z]|One|Two|Three|Four|Five|Six|Seven|Eight|Nine|Ten|Eleven|Twelve)"
_LABELLED = {kind: re.compile(rf"(?i:{word})\s+{_NUMERAL}(?:\s*[:.\u2013\u2014-]\s*|\s+|$)")
             for kind, word in (("part", "part"), ("chapter", "chapter"), ("appendix", "appendix"))}
_LABELLED_JA = re.compile(r"第[0-9０-９一二三四五六七八九十百IVX]+[章部]\s*[:：]?\s*")


def check_titles(book: Book) -> list[Diagnostic]:
    """A title that starts with the label build_book prints before it ('Part I: Part I: Foundations',
    'Chapter 4 / Chapter 4: Surface'): manuscripts moved from Word or LaTeX often number by hand."""
    diags = []

    def labelled(kind: str, title: str):
        return _LABELLED[kind].match(title) or _LABELLED_JA.match(title)

    for part in book.parts:
        found = labelled("part", part.title)
        if found:
            rest = part.title[found.end():].strip()
            diags.append(warning("title-repeats-label", f"the part title '{part.title}' starts with a part label, "
                                 "which build_book prints before every part title itself, so it would print twice", part.location,
                                 f"give the title alone (part: {rest or 'Its Title'}); build_book numbers parts itself"))
    for chapter in book.chapters:
        if not chapter.numbered or chapter.matter == "front":
            continue
        kind = "appendix" if chapter.matter == "appendix" else "chapter"
        found = labelled(kind, chapter.title)
        if found:
            line = chapter.sources.titles[0] if chapter.sources.titles else 1
            rest = chapter.title[found.end():].strip()
            word = book.config.words.get(kind) or kind.title()
            printed = word.replace("%s", "N") if "%s" in word else f"{word} N"
            diags.append(warning("title-repeats-label", f"the title '{chapter.title}' starts with its own label, "
                                 f"which build_book prints above it already ('{printed}')",
                                 Location(chapter.path, line, 1),
                                 f"give the title alone: '# {rest or 'Its Title'}'; build_book numbers "
                                 f"{kind}s itself (write {{.unnumbered}} for a {kind} without a number)"))
    return diags


def check_unlisted_files(book: Book, absent: dict[str, SourceMap] | None = None) -> list[Diagnostic]:
    root = book.config.root
    listed = {Path(ref.path).as_posix() for ref in book.config.chapters} | quarto.included(book.chapters)
    folder = root / "chapters"
    if sandbox.inside(root, folder) is None or not folder.is_dir():
        return []
    diags = []
    for path in sorted(folder.rglob("*.md")):
        rel = path.relative_to(root).as_posix()
        if rel not in listed and rel not in (absent or {}):
            diags.append(warning("chapter-not-listed", "this chapter file is not listed in book.yml, so it is not "
                                 "in the book", Location(rel, 1, 1),
                                 "add it under 'chapters' or 'appendices' in book.yml, or move it out of chapters/"))
    return diags


def _example_list_keys(book: Book, chapter: Chapter) -> list[Diagnostic]:
    """A paragraph beginning '@walt1987.' (or '(@walt1987)'), which pandoc reads as an item of an example list
    labelled walt1987, not as a citation: the paragraph prints as a numbered example, and every '@walt1987' in
    the chapter prints its number ('See 1.'). Looked for only where the scan saw a bibliography key that pandoc
    read as no citation."""
    read = set(cited_keys(chapter))
    missed = [key for key in chapter.sources.cites if key in book.bibliography.entries and key not in read]
    if not missed:
        return []
    lines = text_as_scanned(book.config.root, chapter.path, chapter.echo).split("\n")
    diags = []
    for key in missed:
        marker = re.compile(rf"\s*(?:>\s*)*(\(@{re.escape(key)}\)|@{re.escape(key)}[.)])(?=\s|$)")
        for line, column in chapter.sources.cites[key]:
            found = marker.match(lines[line - 1]) if 0 < line <= len(lines) else None
            if found and found.start(1) + 1 <= column <= found.start(1) + 2:
                diags.append(warning(
                    "citation-example-list", f"pandoc reads '{found.group(1)}' at the start of a paragraph as the "
                    f"marker of an example list's item labelled '{key}', not as a citation: the paragraph prints as "
                    f"a numbered example, and each '@{key}' in the chapter as its number",
                    Location(chapter.path, line, found.start(1) + 1),
                    f"begin the paragraph otherwise ('As @{key} argues', or the citation in brackets, [@{key}])"))
                break
    return diags


def check_citations(book: Book, labels=(), absent: dict[str, SourceMap] | None = None) -> list[Diagnostic]:
    diags = []
    known = book.bibliography.entries
    used: set[str] = {key for found in (absent or {}).values() for key in found.cites}
    for chapter in book.chapters:
        diags += _example_list_keys(book, chapter)
        reported: set[str] = set()
        bare_keys = _bare_suffixes(chapter) if chapter.sources.empty_suffixes else set()
        for key, rest, (line, column) in chapter.sources.empty_suffixes:
            if not is_crossref(key) and key in bare_keys:   # (pandoc read it so: not code, not '(@key);')
                diags.append(warning("citation-suffix-empty", f"'@{key}' is followed by {_shown_rest(rest)} and "
                                     "nothing else, which the printed citation shows after a comma, as in '(Walt 1987,)'",
                                     Location(chapter.path, line, column), f"delete it, or give the locator: "
                                     f"[@{key}, 45]"))
        spaced_keys = _spaced_suffixes(chapter) if chapter.sources.spaced_locators else set()
        for key, before, (line, column) in chapter.sources.spaced_locators:
            if not is_crossref(key) and key in spaced_keys:
                shown = _shown_rest(before) or "a space"
                diags.append(warning("citation-locator-spaced", f"'@{key}' is followed by {shown} "
                                     "before its comma, which the printed citation keeps, as in '(Walt 1987 , 12)', "
                                     "and what follows is not read as a locator", Location(chapter.path, line, column),
                                     f"delete it: [@{key}, ...]"))
        for key in cited_keys(chapter):
            if is_crossref(key):
                continue
            used.add(key)
            if key in chapter.sources.url_cites and ("url", key) not in reported:
                reported.add(("url", key))
                diags.append(warning("citation-in-url", f"'@{key}' follows a '/': is it part of a web address?",
                                     Location(chapter.path, *chapter.sources.url_cites[key]),
                                     "write web addresses in angle brackets, <https://...>, or write \\@ "
                                     "for an @ that is not a citation"))
            if key in known or key in reported:
                continue
            reported.add(key)
            close = _nearest(key, known)
            hint = ("did you mean " + " or ".join(f"@{c}" for c in close) + "?") if close else \
                "add an entry with this key to the bibliography, or correct the key"
            if key in labels:
                hint = (f"'{key}' labels a heading; cross-reference labels start with sec-, fig- or tbl-: "
                        f"write {{#sec-{key}}} there and @sec-{key} here")
            for loc in _positions(chapter, key):
                diags.append(error("citation-unknown", f"no bibliography entry for citation key '@{key}'", loc, hint))
    for key, given in book.nocite.items():
        if key != "*" and key not in known:     # (pandoc lists nothing for it, and says nothing)
            close = _nearest(key, known)
            diags.append(warning(
                "nocite-unknown", f"nocite names '@{key}', which no bibliography entry has: it is listed nowhere",
                _written_at(book.config.root, given, key),
                ("did you mean " + " or ".join(f"@{c}" for c in close) + "?") if close else
                "add an entry with this key to the bibliography, or correct the key"))
    if book.chapters:
        used |= set(book.nocite_keys())     # listed, though cited nowhere
        used |= _used_through(used, known)
        for key, entry in known.items():
            if key not in used:
                diags.append(warning("bib-unused", f"bibliography entry '{key}' is never cited", entry.location,
                                     "cite it, or remove it from the bibliography"))
    return diags


def _bare_suffixes(chapter: Chapter) -> set[str]:
    """The keys of the chapter's citations whose suffix, as pandoc read it, holds no letter or digit."""
    from .walk import inline_text
    return {citation["citationId"] for listed in facts_of(chapter).citations for citation in listed
            if citation["citationSuffix"] and not any(ch.isalnum() for ch in inline_text(citation["citationSuffix"]))}


def _spaced_suffixes(chapter: Chapter) -> set[str]:
    """The keys of the chapter's citations whose suffix, as pandoc read it, begins with spaces or invisible
    characters and a comma."""
    def opening(suffix: list) -> str:
        return "".join(" " if node["t"] in ("Space", "SoftBreak") else node["c"] if node["t"] == "Str" else "\0"
                       for node in suffix[:3])
    return {citation["citationId"] for listed in facts_of(chapter).citations for citation in listed
            if SPACED_SUFFIX.match(opening(citation["citationSuffix"]))}


SPACED_SUFFIX = re.compile(r"[\s\u00a0\u2000-\u200f\u202f\u2060\ufeff]+,")


def _shown_rest(rest: str) -> str:
    """What follows a citation's key, as a message can show it: invisible characters by name."""
    import unicodedata
    shown = []
    for ch in rest.replace(" ", "").replace("\t", ""):
        if unicodedata.category(ch) in ("Cf", "Zs", "Cc", "Zl", "Zp"):
            shown.append(f"an invisible {unicodedata.name(ch, f'U+{ord(ch):04X}')} (U+{ord(ch):04X})")
        else:
            shown.append(f"'{ch}'")
    return ", ".join(dict.fromkeys(shown))


def check_crossrefs(book: Book, index: LabelIndex, absent: dict[str, SourceMap] | None = None) -> list[Diagnostic]:
    diags = []
    elsewhere = {normal_ref(label)[0] for found in (absent or {}).values() for label in found.labels}
    by_path = {chapter.path: chapter for chapter in book.chapters}
    hint = "labels must be unique across the whole book; rename one of them"
    given_hint = ("give the heading an id of its own ('## Its Title {#sec-...}'), or rename the other: labels must "
                  "be unique across the whole book")
    for label_id, *written in index.duplicates:
        first, again = (_given_heading(book, by_path.get(at.path), label_id, at) for at in written)
        given = [at != before for at, before in zip((first, again), written)]   # a heading's id from its words
        shown = [_as_written(by_path[at.path], at) if at.path in by_path else str(at) for at in (first, again)]
        if shown[0] == shown[1] and first.path in by_path and again.path in by_path:
            diags.append(_included_twice((by_path[first.path], by_path[again.path]), f"the label '{label_id}'",
                                         first, again))
            continue
        what = [f"the id '{label_id}', which build_book gives this heading from its words," if mine else
                f"label '{label_id}'" for mine in given]
        diags.append(error("label-duplicate", f"{what[1]} is defined twice (also at {shown[0]})", again,
                           given_hint if given[1] else hint))
        diags.append(error("label-duplicate", f"{what[0]} is defined again at {shown[1]}", first,
                           given_hint if given[0] else hint))
    # labels whose prefix does not match what they label
    for label in index.labels.values():
        want = {"figure": "fig", "table": "tbl"}.get(label.kind, "sec")
        if label.prefix in ("fig", "tbl", "sec") and label.prefix != want and not label.id.startswith("sec-part"):
            diags.append(error("label-kind", f"a {label.kind} is labelled '{label.id}'; {label.kind} labels start "
                               f"with '{want}-'", label.location, f"rename it to '{want}-{label.id[4:]}'"))
    referenced: set[str] = set()
    cited: set[str] = set()     # every label referred to, whether the book has it or not
    for chapter in book.chapters:
        for key in dict.fromkeys(k for k in cited_keys(chapter) if is_crossref(k)):
            label_id, _ = normal_ref(key)
            cited.add(label_id)
            prefix, shown = ref_prefix(key), as_written(key)
            label = index.get(label_id)
            places = _positions(chapter, key)
            if label is None and label_id in elsewhere:
                continue  # defined in a chapter book.yml names wrongly: reported there
            if label is None:
                bookdown = key.startswith((BOOKDOWN_REF, TEX_REF))
                same = [lab.id for lab in index.labels.values()
                        if (lab.kind in KIND_OF_PREFIX[prefix] if bookdown and prefix == "sec" else lab.prefix == prefix)]
                close = [as_written(f"{key[:5]}{as_bookdown(c)}{')' if key[4] == '(' else '}'}" if bookdown else c)
                         for c in _nearest(label_id, same)]
                hint = ("did you mean " + " or ".join(close) + "?") if close else \
                    f"label the {PREFIX_WORDS[prefix]} with {{#{label_id}}}, or correct the reference"
                if prefix not in KIND_OF_PREFIX:
                    hint = (f"build_book numbers chapters, sections, figures and tables, not yet "
                            f"{PREFIX_WORDS[prefix]}s: refer to it in words")
                elif prefix in ("fig", "tbl") and any(label_id in c.sources.labels for c in book.chapters):
                    hint = (f"{{#{label_id}}} is written, but not on a {PREFIX_WORDS[prefix]}: a figure is an image "
                            "with a caption alone in its paragraph; a table's label goes in its caption line")
                elif key.startswith(TEX_REF) and any(name == "\\label" for name, _ in chapter.sources.tex):
                    hint = (f"a \\label{{{key[5:-1]}}} in raw TeX (a \\section, a table environment) labels nothing: "
                            f"build_book leaves that TeX out; write it in Markdown, labelled {{#{label_id}}}")
                for loc in places:
                    diags.append(error("xref-unknown", f"cross-reference '{shown}' points to no "
                                       f"{PREFIX_WORDS[prefix]} in the book", loc, hint))
                continue
            referenced.add(label.id)
            if label.kind not in KIND_OF_PREFIX.get(prefix, ()):
                for loc in places:
                    diags.append(error("xref-kind", f"'{shown}' refers to a {label.kind}, not a {PREFIX_WORDS[prefix]}",
                                       loc, f"label the {label.kind} with the right prefix"))
            elif label.number is None:
                for loc in places:
                    diags.append(warning("xref-unnumbered", f"'{shown}' refers to the unnumbered {label.kind} "
                                         f"'{label.title}'; it is printed by its title", loc,
                                         "it has no number ({.unnumbered}, in an unnumbered chapter, or deeper "
                                         "than section-depth); refer to it in words if the title reads oddly"))
    diags += _unnumbered_kinds(book, index, cited)
    diags += _empty_labels(book)
    diags += _ids_twice(book, index)
    diags += _ids_taken(book, index)
    referenced |= {index.labels[r].parent for r in referenced if index.labels[r].parent}  # through a sub-figure
    for label in index.of_kind("figure", "table"):
        if label.id not in referenced and label.parent is None:   # a sub-figure goes with its figure
            diags.append(warning("label-unreferenced", f"{label.kind} '{label.id}' is never referred to",
                                 label.location, f"refer to it in the text with @{label.id}"))
    return diags


# Quarto numbers more kinds of block than build_book does (theorems, code listings, callouts, ...): what
# each is printed as here, for the warning given where one is labelled and never referred to (a reference
# to one is an error, xref-unknown)
CALLOUT_TEXT = ("it is printed as a callout with no number", "refer to it in words")
NOT_NUMBERED = {"lst": ("it is printed as plain code", "refer to the code in words"),
                "tip": CALLOUT_TEXT, "nte": CALLOUT_TEXT, "wrn": CALLOUT_TEXT, "imp": CALLOUT_TEXT,
                "cau": CALLOUT_TEXT}
THEOREM_LIKE = ("it is printed as plain text, without '{Word} 1.2', and a '##' heading inside it becomes a "
                "section of the chapter",
                "begin it with its name in bold instead (**{Word} (Name).**), and refer to it in words")


def _ids_twice(book: Book, index: LabelIndex) -> list[Diagnostic]:
    """``label-duplicate`` for an id given twice in one chapter (a span's, a div's, a code block's, ...) that
    the label index does not report already: its page would hold two elements of that id, which no EPUB
    reader accepts and a link to it cannot tell apart. (Not in a chapter with content for some editions
    only, where each edition may have its own element of the id. An editor's deletion and insertion of one
    id are two, as the label index counts them: a proof prints both.)"""
    reported = {label_id for label_id, _, _ in index.duplicates}
    diags = []
    for chapter in book.chapters:
        if chapter.targets.conditional:
            continue
        times = Counter(ident for ident, _ in facts_of(chapter).ids)
        edited = {ident for ident, where in facts_of(chapter).ids if where}
        twice = {ident for ident, n in times.items() if n > 1} - reported
        for ident in sorted(twice, key=lambda i: chapter.sources.labels.get(i, [(0, 0)])[0]):
            places = [Location(chapter.path, *place) for place in chapter.sources.labels.get(ident, [])]
            hint = ("an editor's change holds it (a proof shows what it deletes and what it inserts together): give "
                    "the new one another id, or accept or reject the change" if ident in edited else
                    "ids must be unique: rename one of them")
            if len(places) < 2:
                diags.append(error("label-duplicate", f"the id '{ident}' is given to two elements of this chapter's "
                                   "page (one of them in raw HTML, in a note called twice, or a heading's own id)",
                                   places[0] if places else chapter.location, hint))
                continue
            for place in places[1:]:
                first = _as_written(chapter, places[0])
                if first == _as_written(chapter, place):
                    diags.append(_included_twice((chapter, chapter), f"the id '{ident}'", places[0], place))
                    continue
                diags.append(error("label-duplicate", f"the id '{ident}' is given again here (first at "
                                   f"{first}): the page would hold two elements of this "
                                   "id, and a link to it could not tell them apart", place, hint))
    return diags


# The ids build_book's templates give elements of a page that holds a chapter's text (tests/test_checks.py
# reads every template to keep this list whole): the web edition's chapter page, and the print edition's one
# document. Each with what it is, and when it is printed (a key of _ids_taken's printed; "": always).
PAGE_IDS = {
    "content": ("the web edition's page body", ""),
    "search-input": ("the web edition's search box", ""),
    "search-status": ("the web edition's search box", ""),
    "search-results": ("the web edition's search results", ""),
    "downloads-heading": ("the web edition's Download heading", ""),
    "cite-heading": ("the web edition's 'Cite this chapter' heading", ""),
    "contents": ("the print edition's contents", ""),
    "contributors": ("the print edition's list of contributors", "contributors"),
    "list-of-figures": ("the print edition's list of figures", "figures"),
    "list-of-tables": ("the print edition's list of tables", "tables"),
    "bibliography": ("the print edition's bibliography", "bibliography"),
    "book-index": ("the print edition's index", "index"),
}
NOTE_ID = re.compile(r"(fn|fnref)([1-9][0-9]*)")
LINE_ID = re.compile(r"(.+)-([0-9]+)")
ANCHOR_ID = re.compile(r"ix-([1-9][0-9]*)-([1-9][0-9]*)(?:-end)?")   # index.anchor's
PRINT = ", in the print edition (one document of every chapter)"


def _ids_taken(book: Book, index: LabelIndex) -> list[Diagnostic]:
    """``label-duplicate`` for an author's id that an edition also gives an element of its own on the same page:
    PAGE_IDS; the ids pandoc gives the chapter's notes in the HTML and EPUB (fn1, fnref1, footnotes) and a
    highlighted code block's lines (x-1 in block x); those build_book gives a code block without an id
    (sec-a-code-2, its lines sec-a-code-2-1), an index mark (ix-3-1), the chapter's own reference list
    (refs-sec-a, ref-sec-a-walt1987) and the print edition's bibliography entries (ref-walt1987). Each only
    where that element is printed, and for another chapter's (a code block's, a mark's) in the print edition
    alone, which holds them all. Not in a chapter with content for some editions only, as _ids_twice. A page
    with two elements of one id is no valid EPUB, and a link to it leads to either."""
    cited = {key for chapter in book.chapters for key in chapter.targets.cites}
    printed = {"": True, "contributors": book.config.contributors_page and bool(book.config.contributors),
               "figures": any(index.of_kind("figure")), "tables": any(index.of_kind("table")),
               "bibliography": book.config.bibliography_scope != "chapter" and bool(cited), "index": book.has_index}
    note_style = functools.cache(lambda: _note_style(book))
    code: dict[str, tuple] = {}     # every code block's id in the book: (lines, classes, own id, start, chapter)
    lists: dict[str, Chapter] = {}   # the ids of each chapter's own reference list, with bibliography-scope: chapter
    for chapter in book.chapters:
        for name, block in _code_names(facts_of(chapter).code, chapter.label).items():
            code.setdefault(name, (*block, chapter))
        if book.config.bibliography_scope != "book" and chapter.targets.cites:
            lists.update(dict.fromkeys([f"refs-{chapter.label}", *(f"ref-{chapter.label}-{key}"
                                                                  for key in chapter.targets.cites)], chapter))
            # and its heading's, '{chapter}-references', unless that is the id of the author's own 'References'
            # heading (given from its words), which then heads the list instead
            heading = index.get(f"{chapter.label}-references")
            if heading is None or heading.kind != "section" or heading.title.strip().casefold() not in \
                    REFERENCES_WORDS | {ui.reference_list(book.config.lang, "references")}:
                lists[f"{chapter.label}-references"] = chapter
    marks = {chapter.index + 1: sum(1 for m in facts_of(chapter).marks if m[0] == "m") for chapter in book.chapters}
    # the chapter each id an author gives first stands in (the label index reports a label given twice), and
    # 'refs', which may end every chapter ('::: {#refs}', where its list goes, which has an id of its own)
    owner: dict[str, Chapter] = {}
    for chapter in book.chapters:
        if not chapter.targets.conditional:
            for ident, _ in facts_of(chapter).ids:
                owner.setdefault(ident, chapter)
    reported = {label_id for label_id, _, _ in index.duplicates} | {"refs"}
    # the ids something links to: one given in two chapters, each a page of its own on the web and in the EPUB,
    # is harmless unless a link to it could lead to the other chapter's in the print edition
    linked = {target.rsplit("#", 1)[1] for c in book.chapters for target in c.targets.links if "#" in target}
    diags = []
    for chapter in book.chapters:
        if chapter.targets.conditional:
            continue
        facts = facts_of(chapter)
        for ident in dict.fromkeys(i for i, _ in facts.ids):
            note, line, mark = NOTE_ID.fullmatch(ident), LINE_ID.fullmatch(ident), ANCHOR_ID.fullmatch(ident)
            if note or ident == "footnotes":    # in a note style, each citation outside a note is one
                notes = facts.notes[0] + (facts.notes[1] if facts.notes[1] and note_style() else 0)
            block = code.get(line[1]) if line else None
            what = None
            if ident in PAGE_IDS and printed[PAGE_IDS[ident][1]]:
                what = PAGE_IDS[ident][0]
            elif ident == "footnotes" and notes:
                what = "the list of the chapter's notes that pandoc writes in the web edition and the EPUB"
            elif note and int(note[2]) <= notes:
                what = (("" if note[1] == "fn" else "the call of ") + f"the chapter's note {note[2]} as pandoc writes it "
                        "in the web edition and the EPUB")
            elif ident.startswith("ref-") and ident[4:] in cited and printed["bibliography"]:
                what = f"the entry of '{ident[4:]}' in the print edition's bibliography"
            elif ident in lists:
                what = "an element of the chapter's own reference list" + ("" if lists[ident] is chapter else PRINT)
            elif ident in code and code[ident][2] is None:
                what = "a code block without an id of its own, which build_book names so" + (
                    "" if code[ident][4] is chapter else PRINT)
            elif block and block[3] <= int(line[2]) < block[3] + block[0] and _highlighted(tuple(block[1])):
                what = f"line {line[2]} of the code block '{line[1]}' as pandoc highlights it" + (
                    "" if block[4] is chapter else PRINT)
            elif mark and int(mark[2]) <= marks.get(int(mark[1]), 0):
                what = "an index term's mark, which build_book names so" + (
                    "" if int(mark[1]) == chapter.index + 1 else PRINT)
            elif ident in reported:
                continue
            elif ident in index.labels and index.labels[ident].chapter != chapter.index:
                label = index.labels[ident]
                what = f"the {label.kind} '{label.title}'" + (
                    f" of {book.chapters[label.chapter].path}" if label.chapter is not None else "") + PRINT
            elif ident not in index.labels and owner[ident] is not chapter and ident in linked:
                first, again = (_id_place(c, ident) for c in (owner[ident], chapter))
                if first != owner[ident].location and _as_written(owner[ident], first) == _as_written(chapter, again):
                    diags.append(_included_twice((owner[ident], chapter), f"the id '{ident}'", first, again))
                    continue    # (a file both chapters include)
                what = f"an element of {owner[ident].path}" + PRINT
            if what is None:
                continue
            places = _id_places(chapter, ident) or [None]
            for place in places:
                diags.append(error(
                    "label-duplicate", f"the id '{ident}' is also the id of {what}: the page would hold two elements of "
                    "this id, and a link to it could not tell them apart",
                    Location(chapter.path, *place) if place else chapter.location, "rename it (and the links to it)"))
    return diags


def _id_places(chapter: Chapter, ident: str) -> list:
    """Where ``ident`` is written in ``chapter``: as {#id}, or as id="..." (a raw HTML tag, a key=value)."""
    return chapter.sources.labels.get(ident) or [
        at for key, value, at in chapter.sources.attributes if key == "id" and value == ident]


def _id_place(chapter: Chapter, ident: str) -> Location:
    places = _id_places(chapter, ident)
    return Location(chapter.path, *places[0]) if places else chapter.location


def _code_names(code: list, label: str) -> dict[str, tuple[int, list[str], str | None, int]]:
    """Each code block's id in the editions (its own, or the one transform.code_ids gives the n-th block without
    one: '{chapter}-code-{n}'): its lines, classes, own id (None for one build_book gives) and first line's number."""
    names: dict[str, tuple[int, list[str], str | None, int]] = {}
    unnamed = 0
    for ident, classes, lines, start in code:
        if not ident:
            unnamed += 1
        names.setdefault(ident or f"{label}-code-{unnamed}", (lines, classes, ident or None, start))
    return names


@functools.lru_cache(maxsize=256)
def _highlighted(classes: tuple[str, ...]) -> bool:
    """Does pandoc highlight a code block of these classes (a language it knows, by name or file extension),
    writing an id on each line? Asked of pandoc itself, only for a block an author's id might collide with."""
    if not classes:
        return False
    from . import pandoc
    block = [{"t": "CodeBlock", "c": [["cb", list(classes), []], "x"]}]
    try:
        return 'id="cb-1"' in pandoc.write_html_blocks(json.dumps(block))
    except pandoc.PandocError:
        return True     # cannot tell: as pandoc would most likely write it


def _note_style(book: Book) -> bool:
    return styles.is_note_style(book.config.csl, book.config.root)


def _included_twice(chapters: tuple[Chapter, Chapter], what: str, first: Location, again: Location) -> Diagnostic:
    """``label-duplicate`` for an id written once, in a file included twice: by one chapter, or by two
    (``first`` and ``again``, in their chapters' texts with their includes, are one place as written)."""
    used = [c.sources.origins.included_at(at.line, c.path) for c, at in zip(chapters, (first, again))
            if c.sources.origins is not None]
    places = list(dict.fromkeys(str(Location(*u)) for u in used if u))
    listed = f" ({' and '.join(places)})" if len(places) > 1 else ""
    if chapters[0] is chapters[1]:
        return error("label-duplicate", f"{what} is given twice on the page of {chapters[0].path}, which includes "
                     f"this file more than once{listed}: the page would hold two elements of this id", again,
                     "include the file once, or take the id out of it")
    return error("label-duplicate", f"{what} is given in two chapters, {chapters[0].path} and {chapters[1].path}, "
                 f"which both include this file{listed}: a reference to it could not tell them apart", again,
                 "include the file in one chapter only, or take the id out of it")


def _as_written(chapter: Chapter, place: Location) -> str:
    """``place`` (in the chapter's text with its includes) as the file and line it was written at."""
    origins = chapter.sources.origins
    found = origins.where(place.line) if origins is not None else None
    return str(Location(found[0], found[1], place.column)) if found else str(place)


def _given_heading(book: Book, chapter: Chapter | None, label_id: str, at: Location) -> Location:
    """Where a heading stands whose id ``label_id`` build_book gave it from its words ('## Introduction' in
    chapter sec-first: 'sec-first-introduction'), if ``at`` is its chapter's start (the label is not written)."""
    if chapter is None or at != chapter.location or label_id.replace("-", ":", 1) in chapter.sources.labels or \
            label_id in chapter.sources.labels or not label_id.startswith(chapter.label + "-"):
        return at
    from .config import slugify
    text = text_as_scanned(book.config.root, chapter.path, chapter.echo)
    lines = [re.sub(r"^(?: {0,3}> ?)+", "", line) for line in text.split("\n")]
    seen: Counter = Counter()     # (the n-th heading of the same words is given '-n': load._give)
    fence, comment, title = None, False, True
    for number, line in enumerate(lines, 1):
        if comment or fence:     # (not in code or an HTML comment)
            comment = comment and "-->" not in line
            closes = fence is not None and re.match(rf" {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$", line)
            fence = None if closes else fence
            continue
        opened = re.match(r" {0,3}(`{3,}|~{3,})", line)
        if opened or ("<!--" in line and "-->" not in line.split("<!--", 1)[1]):
            fence, comment = opened.group(1) if opened else None, not opened
            continue
        atx = re.match(r" {0,3}(#{1,6})\s+(.*?)(\s+\{[^{}]*\})?\s*#*\s*$", line)
        setext = number < len(lines) and line.strip() and re.fullmatch(r" {0,3}(=+|-+)\s*", lines[number]) and \
            not re.match(r" {0,3}([-*+]|\d+[.)])\s", line)
        if atx:
            words, attributes, level = atx.group(2), atx.group(3) or "", len(atx.group(1))
        elif setext:
            found = re.match(r"(.*?)(\s+\{[^{}]*\})?\s*$", line.strip())
            words, attributes, level = found.group(1), found.group(2) or "", 1 if "=" in lines[number] else 2
        else:
            continue
        if "#" in attributes or (level == 1 and title and words.strip() == chapter.title):
            title = title and level != 1
            continue    # (its own id, or the chapter's title: no id from its words)
        base = f"{chapter.label}-{slugify(words)}"
        seen[base] += 1
        if label_id == (base if seen[base] == 1 else f"{base}-{seen[base]}"):
            return Location(chapter.path, number, 1)
    return at


def _unnumbered_kinds(book: Book, index: LabelIndex, cited: set[str]) -> list[Diagnostic]:
    """``label-kind-unsupported``: a div or code block labelled as one of the kinds Quarto numbers and
    build_book does not (a theorem, a code listing, a callout), which would otherwise lose its number (and a
    listing its caption) unsaid."""
    diags = []
    for chapter in book.chapters:
        for written, captioned in facts_of(chapter).unnumbered:
            label_id, _ = normal_ref(written)
            if label_id in cited or written in index.labels or label_id in index.labels:
                continue
            prefix = unnumbered_kind(written)
            word = PREFIX_WORDS[prefix]
            what, hint = (text.replace("{Word}", word.capitalize()) for text in NOT_NUMBERED.get(prefix, THEOREM_LIKE))
            if captioned:
                what, hint = what + ", and its caption (lst-cap) is not printed", \
                    "write the caption as a paragraph above the code, and " + hint
            article = "an" if word[0] in "aeiou" else "a"
            places = chapter.sources.labels.get(written) or [None]
            for place in places:
                diags.append(warning(
                    "label-kind-unsupported", f"'{written}' labels {article} {word}, which Quarto numbers and "
                    f"build_book does not yet: {what}",
                    Location(chapter.path, *place) if place else chapter.location, hint))
    return diags


def _empty_labels(book: Book) -> list[Diagnostic]:
    """``label-empty``: a label with no name after its prefix ('{#thm-}', '{#fig:}'), which Quarto numbers
    but nothing can refer to; build_book drops the id (two of them would be one id twice on a page)."""
    diags = []
    for chapter in book.chapters:
        for written, places in chapter.sources.labels.items():
            found = EMPTY_LABEL.fullmatch(written)
            if found is None:
                continue
            prefix = found.group(1)
            what = {"fig": "the figure is printed without a number", "tbl": "the table is printed without a number",
                    "sec": "the heading is numbered as any other", "eq": "the equation is printed without a number"
                    }.get(prefix, f"build_book does not number {PREFIX_WORDS[prefix]}s")
            for place in places:
                diags.append(warning(
                    "label-empty", f"'{{#{written}}}' is a label with no name, so nothing can refer to it: "
                    f"build_book leaves the id out ({what})", Location(chapter.path, *place),
                    f"give it a name ({{#{prefix}-...}}) to refer to it, or delete the id"))
    return diags


def check_resources(book: Book, index: LabelIndex) -> list[Diagnostic]:
    diags = []
    root = book.config.root
    by_path = {Path(c.path).as_posix(): c for c in book.chapters}
    ids = set(index.labels) | {f"ref-{k}" for k in book.bibliography.entries}
    # and each chapter's own ids (a span's, a div's, ...), which a link finds on that chapter's page
    own = {Path(chapter.path).as_posix(): quarto.ids_in_every_edition(chapter) for chapter in book.chapters}
    for chapter in book.chapters:   # '::: {#refs}' is where a list goes: none in a chapter that cites nothing, but
        if chapter.index != book.references_chapter and not chapter.targets.cites_works:
            own[Path(chapter.path).as_posix()].discard("refs")     # the one that holds the book's
    for chapter in book.chapters:
        folder = (root / chapter.path).parent
        images = chapter.targets.images
        place = image_place(book, chapter)
        for target in dict.fromkeys(images):
            if target.startswith("data:"):
                continue
            if is_external(target):
                diags.append(error("image-remote", f"image '{target}' is on the web, not in the book",
                                   place(target),
                                   "download it into the chapters' figures/ folder and point to the file; "
                                   "an EPUB may not load images from the web"))
                continue
            if sandbox.inside_url(root, target, folder) is None:
                diags.append(sandbox.outside(target, place(target), "image"))
                continue
            exists = sandbox.is_file(folder / unquote(target))
            bare = re.split(r"[?#]", target, maxsplit=1)[0]   # a web page's 'a.png?v=2' names the file a.png
            if not exists and bare != target and bare and sandbox.is_file(folder / unquote(bare)):
                diags.append(error("image-missing", f"image '{target}' does not exist: a file's name has no "
                                   f"'{target[len(bare):]}'", place(target),
                                   f"write the file's name alone: '{bare}' (a query or '#' after it is for a web "
                                   "server, and a book's editions are files)"))
                continue
            if Path(target if exists or not bare else bare).suffix.lower() not in IMAGE_FORMATS:
                diags.append(warning("image-format", f"image '{target}' is not SVG, PNG, JPEG, GIF or WebP; "
                                     "EPUB readers and browsers may not show it",
                                     place(target),
                                     "convert it to PNG (photographs: JPEG; drawings: SVG)"))
            if not exists:
                where = place(target)
                near = _near_images(folder, target)
                diags.append(error("image-missing", f"image '{target}' does not exist", where,
                                   f"did you mean '{near[0]}'?" if near else
                                   "image paths are relative to the chapter file"))
        if chapter.targets.raw_html:
            tags = list(dict.fromkeys(" ".join(raw.split())[:30] for raw in chapter.targets.raw_html))
            where = Location(chapter.path, *chapter.sources.html_tags[0][1]) if chapter.sources.html_tags \
                else chapter.location
            diags.append(warning("raw-html", "raw HTML (" + ", ".join(tags[:3]) + (", ..." if len(tags) > 3 else "")
                                 + ") is copied into every edition, without anything that could run script or "
                                 "load from the web", where,
                                 "write it in Markdown if you can; otherwise check it in every edition"))
        link_places = {t: Location(chapter.path, *pos) for t, pos in chapter.sources.links}
        relinked = {compat.label_link(t): t for t in link_places if compat.label_link(t) not in link_places}
        link_places |= {t: link_places[written] for t, written in relinked.items()}   # '#fig:map' as '#fig-map'
        for target in chapter.targets.links:
            where = link_places.get(target, chapter.location)
            diags += _check_link(target, where, folder, root, by_path, ids, own, Path(chapter.path).as_posix(),
                                 relinked.get(target, target))
    return diags


def image_place(book: Book, chapter: Chapter) -> Callable[[str], Location]:
    """Where each image of ``chapter`` is written (the first time): a Markdown image's, or a raw HTML <img>'s;
    one whose tag the source map could not read whole (alt="x > y") is looked for in the chapter's text, read
    once; else the chapter's start."""
    places = {t: Location(chapter.path, *pos) for t, pos in reversed(chapter.sources.images)}
    for tag, pos in chapter.sources.html_tags:
        for src in raw_images(tag) if tag[:4].lower() == "<img" else ():
            places.setdefault(src, Location(chapter.path, *pos))
    text = functools.cache(lambda: text_as_scanned(book.config.root, chapter.path, chapter.echo))

    def place(target: str) -> Location:
        if target in places:
            return places[target]
        found = re.search(r"<img\b[^<]*?\ssrc\s*=\s*[\"']?" + re.escape(target), text(), re.I)
        if found is None:
            return chapter.location
        line_start = text().rfind("\n", 0, found.start()) + 1
        return Location(chapter.path, text().count("\n", 0, found.start()) + 1, found.start() - line_start + 1)

    return place


def _near_images(folder: Path, target: str) -> list[str]:
    """Images in the chapter's folder with the name ``target`` has, or a name near it."""
    try:
        images = [p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.suffix.lower() in IMAGE_FORMATS]
    except OSError:
        return []
    name = Path(target).name
    return [p for p in images if Path(p).name == name] or _nearest(target, images, 1)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long for the file system, or a NUL in it
        return False


def _near_chapter(file: Path, root: Path, by_path: dict) -> str:
    """The chapter whose file name is nearest to a link's (a wrong capital or a typo)."""
    names = {Path(rel).name: rel for rel in by_path}
    try:
        names.update({p.name: p.name for p in file.parent.glob("*.md")})
    except OSError:
        pass
    same = [rel for name, rel in names.items() if name.lower() == file.name.lower()]
    if same:
        return Path(same[0]).name
    close = _nearest(file.name, names, 1)
    return close[0] if close else ""


def _check_link(target, where, folder, root, by_path, ids, own, here, written: str = "") -> list[Diagnostic]:
    """The problems of a link ``target`` written in the chapter ``here`` (at ``where``; ``written``: as the
    author wrote it, if build_book spells it otherwise): ``ids`` are the book's labels and reference list
    entries, ``own`` each chapter's own ids, which a link finds on its page alone."""
    if not target:
        return [error("link-empty", "a link with an empty target", where, "write [text](target)")]
    if is_external(target):
        parts = urlsplit(target)
        if parts.scheme in ("http", "https", "ftp") and (not parts.netloc or " " in target or "." not in parts.netloc):
            return [error("url-malformed", f"malformed URL '{target}'", where,
                          "a web address looks like https://www.example.org/page")]
        problem = sanitize.url_problem(target, False)
        if problem and problem[0] == sanitize.SCRIPT or sanitize.local_link(target):
            return []   # the link is made plain text; sanitize.check reports it
        if parts.scheme not in URL_SCHEMES:
            return [warning("url-scheme", f"unusual link scheme '{parts.scheme}:' in '{target}'", where)]
        return []
    path, _, anchor = target.partition("#")
    page = here
    if path:
        file = sandbox.inside_url(root, path, folder)
        if file is None:
            return [sandbox.outside(path, where, "linked file")]
        rel = file.relative_to(root).as_posix()
        if not _exists(file):
            near = _near_chapter(file, root, by_path)
            return [error("link-missing", f"link to '{path}', which does not exist", where,
                          f"did you mean '{near}'?" if near else "check the path; it is relative to the chapter file")]
        if path.endswith(".md") and rel not in by_path:
            return [error("link-not-in-book", f"link to '{path}', which is not a chapter of the book", where,
                          "list it in book.yml, or link to a chapter that is")]
        if rel not in by_path:
            return [warning("link-local-file", f"link to the local file '{path}', which no edition carries; "
                            "the link text is printed without the link", where,
                            "put the file on the web and link to its address, or make it an appendix")]
        page = rel
    if anchor and anchor not in ids and anchor not in own.get(page, ()):
        close = _nearest(anchor, ids, 1)
        shown = (written or target).partition("#")[2]
        return [error("link-anchor", f"link to '#{shown}', which is no label in the book, nor an id of "
                      f"{'this chapter' if page == here else page}", where,
                      f"did you mean '#{close[0]}'?" if close else "point the link at an existing {#label}")]
    return []
