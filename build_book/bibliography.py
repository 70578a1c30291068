"""The shared BibTeX bibliography, read with bibtexparser 2 and checked.

Reading never stops at the first bad entry: a block that does not parse is
reported with its file and line and the rest of the file is still read.

bibtexparser only splits the file into entries and fields; field values are
resolved here (braces, quotes, numbers, @string abbreviations joined with #)
the way BibTeX and pandoc read them, so that a word inside a braced value
(``url = {https://example.org/?id=ED509862}``) is never taken for an
abbreviation.

Some files make pandoc itself hang or crawl: a ``crossref`` or ``xdata`` that
leads back to its own entry (pandoc follows it forever) and braces nested
thousands deep (pandoc slows down with the square of the depth). Those are
found here first, and such a file is never handed to pandoc: the problem is
reported with its line and the build stops.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from . import cache as cachefile
from . import sandbox, schema
from .diagnostics import Diagnostic, Location, error, warning

# bibtexparser is imported when a file is first parsed: a file read before is taken from the cache
logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)

# What each entry type needs for Chicago author-date (pandoc's citeproc) to print a reference a reader can
# find; "a|b" means either will do. Looked at in tiny books: without these, an article is printed like a book
# with no journal, a chapter or conference paper like a book of its own, a web page with no address cannot be
# found. A missing author is not a fault (Chicago lists anonymous works by title), nor is an undated web page,
# treaty or manuscript (printed "n.d."). Dates of published works stay required: an undated one is written
# year = {n.d.}, one not out yet pubstate = {forthcoming}.
DATED = "year|date|pubstate"
REQUIRED: dict[str, tuple[str, ...]] = {
    "article": ("title", "journaltitle|journal", DATED),
    "book": ("title", DATED, "publisher"),
    "mvbook": ("title", DATED, "publisher"),
    "collection": ("title", DATED, "publisher"),
    "mvcollection": ("title", DATED, "publisher"),
    "incollection": ("title", "booktitle", DATED, "publisher"),
    "inbook": ("title", "booktitle|chapter", DATED, "publisher"),
    "inproceedings": ("title", "booktitle", DATED),
    "conference": ("title", "booktitle", DATED),
    "proceedings": ("title", DATED),
    "phdthesis": ("author", "title", DATED, "school|institution"),
    "mastersthesis": ("author", "title", DATED, "school|institution"),
    "thesis": ("author", "title", DATED, "school|institution"),
    "techreport": ("title", DATED, "institution|publisher"),
    "report": ("title", DATED, "institution|publisher"),
    "online": ("title", "url"),
    "www": ("title", "url"),
    "electronic": ("title", "url"),
    # containers, never printed themselves
    "xdata": (),
    "set": (),
}
# misc, legislation, unpublished, manual, standard, dataset, ... and types build_book does not know
DEFAULT_REQUIRED = ("title",)
YEAR_WORDS = {"forthcoming", "in press", "n.d."}
MONTHS = {"jan": "1", "feb": "2", "mar": "3", "apr": "4", "may": "5", "jun": "6", "jul": "7", "aug": "8",
          "sep": "9", "oct": "10", "nov": "11", "dec": "12"}
YEAR = re.compile(r"\d{4}")
# a date as biblatex writes it and pandoc reads it: a day, month or year, with a time of day (Zotero writes a
# web page's so: '2021-08-09T22:12:55Z', printed as the day), as uncertain ('1999?') or approximate ('2004~'),
# or a range of them ('1988/1992', '1988/': open)
DATE = re.compile(r"\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?)?)?[?~]?"
                  r"(/(\d{4}(-\d{2}(-\d{2})?)?[?~]?)?)?")

# Limits on what an author can write: pandoc reads a field with braces nested n deep in time n², so a value
# longer or deeper than any real one is an error rather than a minutes-long wait.
MAX_FIELD = 20_000    # characters in one field
MAX_DEPTH = 32        # braces nested in one field
# Characters XML (hence the EPUB and the XHTML of every edition) cannot carry: the same as in chapters.
BAD_CHARS = schema.FORBIDDEN
UNSAFE_SCHEMES = ("javascript", "vbscript", "data", "file")
DOI_URL = re.compile(r"^https?://(dx\.)?doi\.org/", re.I)
DOI_PREFIX = re.compile(r"^doi:\s*", re.I)


@dataclass(frozen=True)
class BibEntry:
    key: str
    type: str
    fields: dict[str, str]
    location: Location
    field_lines: dict[str, int] = field(default_factory=dict)

    def at(self, name: str) -> Location:
        line = self.field_lines.get(name)
        return Location(self.location.path, line, 1) if line else self.location

    @property
    def year(self) -> str:
        return self.fields.get("year") or self.fields.get("date", "")[:4]

    def parents(self) -> list[tuple[str, str]]:
        """(field, key) of the entries this one takes fields from: its crossref, then its xdata."""
        found = []
        if self.fields.get("crossref"):
            found.append(("crossref", self.fields["crossref"].strip()))
        for key in self.fields.get("xdata", "").split(","):
            if key.strip():
                found.append(("xdata", key.strip()))
        return found


@dataclass(frozen=True)
class Bibliography:
    paths: tuple[Path, ...] = ()
    entries: dict[str, BibEntry] = field(default_factory=dict)
    diagnostics: tuple[Diagnostic, ...] = ()
    # missing_fields(entries), cached with the files' readings (None: not known, check_entries finds them)
    lacking: tuple | None = None


@dataclass(frozen=True)
class _FileRead:
    """One .bib file as read: its entries (before keys are compared across files) and its problems."""

    entries: tuple[BibEntry, ...]
    failed: tuple  # bibtexparser's failed blocks
    diagnostics: tuple[Diagnostic, ...]
    unsafe_for_pandoc: bool  # pandoc would hang or crawl on it


_reads: dict[str, _FileRead] = {}
_reads_lock = threading.Lock()


def _fresh_lock() -> None:
    """In a forked process: a lock of its own (another thread may have held the build's at the fork)."""
    global _reads_lock
    _reads_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_lock)


READ_FORMAT = "build_book-bib-read 1"   # header of a cached reading of a .bib file (see cache.py)
READ_FOLDER = "bib-read"


def _read_file(rel: str, text: str, cache: Path | None = None) -> _FileRead:
    """The file read once, whichever of the loader and the pandoc check asks first (they run in parallel).

    A reading that found no block bibtexparser could not parse is kept in ``cache`` (build/.cache), by
    the file's path and text, so that a build after an edit elsewhere does not parse the file again."""
    stamp = rel + "\0" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    with _reads_lock:
        if stamp not in _reads:
            if len(_reads) > 16:
                _reads.clear()
            key = _read_key(rel, text)
            folder = cache / READ_FOLDER if cache is not None else None
            read = _from_json(cachefile.get_text(folder, key, READ_FORMAT)) if folder else None
            if read is None:
                read = _parse(rel, text)
                if folder and not read.failed:
                    cachefile.put(folder, key, _to_json(read), READ_FORMAT)
            _reads[stamp] = read
        return _reads[stamp]


def _read_key(rel: str, text: str) -> str:
    stamp = rel + "\0" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return cachefile.digest(cachefile.version_key(), READ_FORMAT, stamp)


def _to_json(read: _FileRead) -> str:
    import json

    def where(loc: Location) -> list:
        return [loc.path, loc.line, loc.column]

    return json.dumps({
        "entries": [[e.key, e.type, e.fields, where(e.location), e.field_lines] for e in read.entries],
        "diagnostics": [[d.severity, d.code, d.message, where(d.location), d.hint] for d in read.diagnostics],
        "unsafe": read.unsafe_for_pandoc}, ensure_ascii=False)


def _from_json(text: str | None) -> _FileRead | None:
    import json

    if text is None:
        return None
    try:
        data = json.loads(text)
        entries = tuple(BibEntry(key, kind, dict(fields), Location(*loc), dict(lines))
                        for key, kind, fields, loc, lines in data["entries"])
        diags = tuple(Diagnostic(severity, code, message, Location(*loc), hint)
                      for severity, code, message, loc, hint in data["diagnostics"])
        return _FileRead(entries, (), diags, bool(data["unsafe"]))
    except (ValueError, TypeError, KeyError):
        return None


def _parse(rel: str, text: str) -> _FileRead:
    import bibtexparser

    library = bibtexparser.parse_string(text, parse_stack=[])  # values as written: resolved below
    diags: list[Diagnostic] = []
    unsafe = False
    macros: dict[str, str] = dict(MONTHS)
    for string in library.strings:
        loc = Location(rel, string.start_line + 1, 1)
        raw = str(string.value)
        problems, value = _field_problems(f"@string {string.key}", "value", raw, loc, macros)
        diags += problems
        unsafe = unsafe or any(d.code == "bib-field-limit" for d in problems)
        macros[string.key.lower()] = value
    entries = []
    for entry in library.entries:
        loc = Location(rel, entry.start_line + 1, 1)
        fields: dict[str, str] = {}
        lines: dict[str, int] = {}
        for f in entry.fields:
            name = f.key.lower()
            line = f.start_line + 1 if getattr(f, "start_line", None) is not None else loc.line
            problems, value = _field_problems(f"entry '{entry.key}'", name, str(f.value), Location(rel, line, 1),
                                              macros)
            diags += problems
            unsafe = unsafe or any(d.code == "bib-field-limit" for d in problems)
            fields[name] = value
            lines[name] = line
        found = BibEntry(entry.key, entry.entry_type.lower(), fields, loc, lines)
        diags += _check_links(found)
        entries.append(found)
    # pandoc may take any of two entries with one key: follow the links of all of them
    links: dict[str, list[tuple[str, str]]] = {}
    for entry in entries:
        links.setdefault(entry.key, []).extend(entry.parents())
    if _cycles(links):
        unsafe = True
    return _FileRead(tuple(entries), tuple(library.failed_blocks), tuple(diags), unsafe)


def _field_problems(owner: str, name: str, raw: str, loc: Location,
                    macros: dict[str, str]) -> tuple[list[Diagnostic], str]:
    """Problems of one field as written, and its value with abbreviations resolved."""
    diags: list[Diagnostic] = []
    if len(raw) > MAX_FIELD:
        diags.append(error("bib-field-limit", f"{owner}: the {name} field is {len(raw):,} characters long; "
                           f"build_book accepts fields of up to {MAX_FIELD:,} characters", loc,
                           "a bibliography field holds a title, a name list or a note, not a text: shorten it"))
        return diags, raw[:200]
    bad = BAD_CHARS.search(raw)
    if bad:
        char = bad.group()
        what = "the invisible control character" if ord(char) < 0xA0 else "the Unicode non-character"
        count = len(BAD_CHARS.findall(raw))
        more = f" (and {count - 1} more)" if count > 1 else ""
        diags.append(error("control-character", f"{owner}: the {name} field contains {what} {schema.codepoint(char)}"
                           f"{more}, which no edition can carry (it makes the EPUB's XML invalid)",
                           Location(loc.path, loc.line + raw.count("\n", 0, bad.start()), 1),
                           "delete it: retype the text around it (such characters come from copying out of "
                           "PDFs or word processors, and most editors do not show them)"))
    value, undefined, depth = _resolve(raw, macros)
    if len(value) > MAX_FIELD:     # short as written, long with its @string abbreviations
        diags.append(error("bib-field-limit", f"{owner}: the {name} field is more than {MAX_FIELD:,} characters long "
                           f"with its @string abbreviations written out; build_book accepts fields of up to "
                           f"{MAX_FIELD:,} characters", loc,
                           "check the @string definitions this field uses: each is written out wherever it "
                           "is used, and one made of others may grow beyond any length"))
        return diags, value[:200]
    if depth > MAX_DEPTH:
        diags.append(error("bib-field-limit", f"{owner}: the {name} field has braces nested {depth} deep; "
                           f"build_book accepts up to {MAX_DEPTH}", loc,
                           "check the braces of this field: {braces} protect a word's capitals and rarely nest"))
    for word in dict.fromkeys(undefined):
        diags.append(error("bib-undefined-string", f"{owner}: {name} = {word} uses the @string abbreviation "
                           f"'{word}', which is not defined", loc,
                           f"put the value in braces ({name} = {{{word}}}) or define it first: "
                           f"@string{{{word} = {{...}}}}"))
    return diags, value


def _resolve(raw: str, macros: dict[str, str]) -> tuple[str, list[str], int]:
    """A value as written -> (its text, the undefined abbreviations it uses, how deep its braces nest).

    A value is pieces joined by ``#``: {braced} or "quoted" text, a number, or an abbreviation
    (an @string or a month). Braces inside the text are kept, the outer ones dropped.
    """
    out: list[str] = []
    undefined: list[str] = []
    deepest = 0
    size = 0       # of the abbreviations written out
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c.isspace() or c == "#":
            i += 1
        elif c in "{\"":
            close = "}" if c == "{" else '"'
            depth = 1 if c == "{" else 0
            deepest = max(deepest, depth)
            j = i + 1
            while j < n:
                ch = raw[j]
                if ch == "{":  # BibTeX counts braces even after a backslash
                    depth += 1
                    deepest = max(deepest, depth)
                elif ch == "}":
                    depth -= 1
                    if close == "}" and depth == 0:
                        break
                elif ch == '"' and close == '"' and depth == 0:
                    break
                j += 1
            out.append(raw[i + 1:j])
            i = j + 1
        else:
            j = i
            while j < n and not raw[j].isspace() and raw[j] != "#":
                j += 1
            word = raw[i:j]
            if word.isdigit() or not word[0].isalpha() and word[0] != "_":
                out.append(word)  # a number (bibtexparser also lets 1--2 through; pandoc reads it as text)
            elif word.lower() in macros:
                out.append(macros[word.lower()])
                size += len(out[-1])
                if size > MAX_FIELD:     # (@strings made of @strings: 30 of them, 10**15 characters)
                    out.append("…")
                    break
            else:
                undefined.append(word)
                out.append(word)  # pandoc prints the word itself
            i = j
    return _clean("".join(out)), undefined, deepest


def _check_links(entry: BibEntry) -> list[Diagnostic]:
    """A url or doi that would print a broken, invalid or unsafe link."""
    diags = []
    url = entry.fields.get("url")
    if url is not None:
        problem = _url_problem(url)
        if problem:
            diags.append(error("bib-url", f"entry '{entry.key}': url = {{{url[:80]}}} {problem}",
                               entry.at("url"), "write the full web address, starting with https://, with no "
                               "spaces (write %20) and no backslashes (url is copied as written)"))
    doi = entry.fields.get("doi")
    if doi is not None:
        bare = DOI_URL.sub("", DOI_PREFIX.sub("", doi.strip()))
        if re.search(r"\s", bare):
            diags.append(error("bib-doi", f"entry '{entry.key}': the DOI '{doi[:80]}' contains a space, so its "
                               "link would be invalid", entry.at("doi"),
                               "a DOI has no spaces: copy it again from the publisher's page, e.g. "
                               "doi = {10.1017/S0020818300027716}"))
        elif DOI_PREFIX.match(doi.strip()) or DOI_URL.match(doi.strip()):
            written = "with 'doi:' in front" if DOI_PREFIX.match(doi.strip()) else "as a web address"
            diags.append(warning("bib-doi-form", f"entry '{entry.key}': the DOI is written {written}; the style "
                                 "adds https://doi.org/ itself, so the printed link would be wrong",
                                 entry.at("doi"), f"write doi = {{{bare}}}"))
        elif not bare.startswith("10."):
            diags.append(warning("bib-doi-form", f"entry '{entry.key}': '{doi[:80]}' does not look like a DOI "
                                 "(a DOI starts with 10.)", entry.at("doi"),
                                 "copy the DOI from the publisher's page, or put a web address in url instead"))
    return diags


def _url_problem(url: str) -> str:
    if not url:
        return "is empty"
    if re.search(r"\s", url):
        return "contains a space, so its link would be invalid"
    if "\\" in url:
        return "contains a backslash, which is copied into the link as it is"
    if any(ch in url for ch in '<>"{}'):
        return "contains a character that cannot appear in a web address (< > \" { })"
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in UNSAFE_SCHEMES:
        return f"is a '{scheme}:' address, which no edition may link to"
    if not scheme:
        return "is not a full web address (it has no https://), so its link would point inside the book"
    if scheme in ("http", "https", "ftp") and (not parts.netloc or "." not in parts.netloc):
        return "is not a valid web address"
    return ""


def load(root: Path, paths: tuple[str, ...]) -> Bibliography:
    entries: dict[str, BibEntry] = {}
    diags: list[Diagnostic] = []
    resolved: list[Path] = []
    read_keys: list[str] = []
    for rel in paths:
        path = sandbox.inside(root, rel)
        if path is None or not sandbox.is_file(path):
            continue  # reported by the configuration check (outside the book, or missing)
        resolved.append(path)
        text, problem = _text(path, rel)
        if problem:
            diags.append(problem)
        read = _read_file(rel, text, root / "build" / ".cache")
        read_keys.append(_read_key(rel, text))
        diags.extend(read.diagnostics)
        for entry in read.entries:
            if entry.key in entries:
                first = entries[entry.key]
                diags.append(error("bib-duplicate-key", f"duplicate bibliography key '{entry.key}' "
                                   f"(first entered at {first.location})", entry.location,
                                   "give one of the two entries another key, or delete the copy"))
                diags.append(error("bib-duplicate-key", f"bibliography key '{entry.key}' is entered again at "
                                   f"{entry.location}", first.location, "keys must be unique across the bibliography"))
                continue
            entries[entry.key] = entry
        if read.failed:
            from bibtexparser.model import DuplicateBlockKeyBlock, ParsingFailedBlock
        for block in read.failed:
            loc = Location(rel, block.start_line + 1, 1)
            if isinstance(block, DuplicateBlockKeyBlock):
                first = entries.get(block.key)
                where = f"first entered at {first.location}" if first else "entered twice"
                diags.append(error("bib-duplicate-key", f"duplicate bibliography key '{block.key}' ({where})", loc,
                                   "give one of the two entries another key, or delete the copy"))
                if first:
                    diags.append(error("bib-duplicate-key", f"bibliography key '{block.key}' is entered again at "
                                       f"{loc}", first.location, "keys must be unique across the bibliography"))
            elif isinstance(block, ParsingFailedBlock):
                first_line = block.raw.strip().splitlines()[0][:60] if block.raw.strip() else ""
                diags.append(error("bib-syntax", f"this BibTeX entry does not parse: {first_line}", loc,
                                   "check the braces, commas and quotes of this entry"))
    cache = root / "build" / ".cache"
    cachefile.prune(cache / READ_FOLDER, set(read_keys))   # readings of files since changed
    found, lacking = _whole_checks(entries, cache, cachefile.digest(READ_FORMAT, CHECKS_KEY, read_keys))
    diags.extend(found)
    return Bibliography(tuple(resolved), entries, tuple(diags), lacking)


CHECKS_FOLDER = "bib-checks"
CHECKS_KEY = "checks 2"     # (2: the fields entries lack are kept too)


def _whole_checks(entries: dict[str, BibEntry], cache: Path, key: str) -> tuple[list[Diagnostic], tuple]:
    """The checks over all the entries together, and the fields entries lack (:func:`missing_fields`):
    a function of the files' readings, cached by them."""
    import json

    text = cachefile.get_text(cache / CHECKS_FOLDER, key, READ_FORMAT)
    if text is not None:
        try:
            found = json.loads(text)
            return ([Diagnostic(severity, code, message, Location(*loc), hint)
                     for severity, code, message, loc, hint in found["diagnostics"]],
                    tuple((key, message, hint) for key, message, hint in found["lacking"]))
        except (ValueError, TypeError, KeyError):
            pass
    diags = _check_graph(entries) + _check_dates(entries) + _check_duplicate_works(entries) + \
        check_name_variants(entries)
    lacking = missing_fields(entries)
    cachefile.put(cache / CHECKS_FOLDER, key, json.dumps(
        {"diagnostics": [[d.severity, d.code, d.message, [d.location.path, d.location.line, d.location.column],
                          d.hint] for d in diags],
         "lacking": lacking}, ensure_ascii=False), READ_FORMAT)
    cachefile.prune(cache / CHECKS_FOLDER, {key})
    return diags, tuple(lacking)


def _text(path: Path, rel: str) -> tuple[str, Diagnostic | None]:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return raw.decode("utf-8", errors="replace"), error(
            "encoding", f"the bibliography is not UTF-8 (byte {exc.start})", Location(rel, line, 1),
            "save the .bib file as UTF-8")


def check_with_pandoc(root: Path, paths: tuple[str, ...], cache: Path, lang: str = "en") -> list[Diagnostic]:
    """What pandoc's citeproc, stricter than bibtexparser, cannot read (cached per file content), and what
    it would print otherwise than written (:func:`check_printing`), from its reading of each file.

    A file pandoc would hang on (see the module's docstring) is not handed to it: :func:`load` reports why.

    A file pandoc read without complaint leaves a stamp in the cache: a file whose first line names the
    stamp format and the digest of pandoc's version and the .bib's bytes, followed by pandoc's reading of
    the file (CSL JSON, which the transform stage hands to citeproc). A stamp is trusted only if that line
    is exactly what this file and this pandoc give and the rest is JSON, so a truncated, corrupted or
    swapped stamp just means checking the file again.
    """
    import json

    from . import pandoc

    diags = []
    printing: set[str] = set()
    for rel in paths:
        path = sandbox.inside(root, rel)
        if path is None or not sandbox.is_file(path):
            continue
        try:
            text = _text(path, rel)[0]
            read = _read_file(rel, text, cache)
        except OSError:
            continue  # unreadable: reported when the bibliography is loaded
        if read.unsafe_for_pandoc:
            continue
        # what check_printing found in this file as this pandoc reads it (a function of the two)
        key = cachefile.digest(_read_key(rel, text), pandoc.version(), "printing 2", lang)
        printing.add(key)
        found = cachefile.get_text(cache / PRINTING_FOLDER, key, READ_FORMAT)
        if found is not None:
            try:
                diags += [Diagnostic(severity, code, message, Location(*loc), hint)
                          for severity, code, message, loc, hint in json.loads(found)]
                continue
            except (ValueError, TypeError):
                pass
        try:
            items = _csl_json(path, cache)
        except pandoc.PandocTimeout as exc:
            diags.append(error("pandoc-timeout", f"pandoc took longer than {exc.seconds:g} seconds to read "
                               "the bibliography and was stopped", Location(rel, 1, 1),
                               f"if the bibliography is simply very large, allow more time with "
                               f"{pandoc.TIMEOUT_ENV}=SECONDS"))
            continue
        except pandoc.PandocError as exc:
            found = re.search(r"\(line (\d+), column (\d+)\)", str(exc))
            line, column = (int(found.group(1)), int(found.group(2))) if found else (1, 1)
            comments = _bare_comments(text)
            if line in comments:
                # BibTeX ignores what follows '@comment' on its line; pandoc reads only '@comment{...}'
                diags += [error("bib-syntax", "pandoc cannot read a comment written '@comment' followed by its "
                                f"text: {text.splitlines()[n - 1].strip()[:60]}", Location(rel, n, 1),
                                "BibTeX skips such a line, pandoc stops at it: start the line with '%' instead "
                                "of '@comment', or put the text in braces, @comment{...}") for n in comments]
                continue
            problem = next((ln.strip() for ln in str(exc).splitlines() if ln.strip().startswith("unexpected")),
                           "pandoc cannot read this entry")
            # (pandoc writes a character outside ASCII as Haskell does: 'unexpected '\12371'' for 'こ')
            problem = re.sub(r"\\(\d{3,7})", lambda m: chr(int(m.group(1))) if int(m.group(1)) < 0x110000
                             else m.group(0), problem)
            diags.append(error("bib-syntax", f"the bibliography cannot be read here: {problem}",
                               Location(rel, line, column),
                               "check the quotes and braces: a title in quotes cannot contain plain quotes; "
                               "use {braces} around values"))
            continue
        if items is not None:
            found = check_printing(read.entries, items, lang)
            diags += found
            cachefile.put(cache / PRINTING_FOLDER, key, json.dumps(
                [[d.severity, d.code, d.message, [d.location.path, d.location.line, d.location.column], d.hint]
                 for d in found], ensure_ascii=False), READ_FORMAT)
    cachefile.prune(cache / PRINTING_FOLDER, printing)
    return diags


PRINTING_FOLDER = "bib-printing"


def _bare_comments(text: str) -> list[int]:
    """The lines (from 1) of a .bib that write '@comment' followed by text, not by a brace or parenthesis
    (as jecon.bst's example file does: '@Comment この文献は...'), which BibTeX skips and pandoc cannot read."""
    return [n for n, ln in enumerate(text.splitlines(), 1)
            if re.match(r"\s*@comment(?![\s]*[{(])(?=\s*\S)", ln, re.I)]


def _csl_json(path: Path, cache: Path) -> list | None:
    """pandoc's reading of the .bib file at ``path`` as CSL JSON items, from its stamp in ``cache`` or from
    pandoc (which raises :class:`~build_book.pandoc.PandocError` if it cannot read it). None: read, but
    pandoc's output is not JSON (never seen)."""
    import json

    from . import pandoc

    try:
        digest = hashlib.sha256(pandoc.version().encode() + b"\0" + path.read_bytes()).hexdigest()
    except OSError:
        return None
    name = f"bib-ok-{digest[:24]}"
    fmt = f"build_book-bib-ok 4 {digest}"
    body = cachefile.get_text(cache, name, fmt, "")
    try:
        items = json.loads(body) if body is not None else None
        if isinstance(items, list):
            return items
    except ValueError:
        pass
    text = pandoc.check_bibliography(path)
    try:
        items = json.loads(text)
    except ValueError:
        return None
    cachefile.put(cache, name, text, fmt, "")
    return items if isinstance(items, list) else None


def csl_items(root: Path, paths: tuple[str, ...], cache: Path) -> list[dict] | None:
    """Every entry of the bibliography files as pandoc reads it (CSL JSON), the first of a key kept;
    None if a file cannot be read so (the checks have reported why)."""
    from . import pandoc

    found: dict[str, dict] = {}
    for rel in paths:
        path = sandbox.inside(root, rel)
        if path is None or not path.is_file():
            return None
        try:
            items = _csl_json(path, cache)
        except pandoc.PandocError:
            return None
        if items is None:
            return None
        for item in items:
            if isinstance(item, dict) and "id" in item:
                found.setdefault(str(item["id"]), item)
    return list(found.values())


def _clean(value: str) -> str:
    value = value.strip()
    while value.startswith("{") and value.endswith("}") and _balanced(value[1:-1]):
        value = value[1:-1].strip()
    return value


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            return False
    return depth == 0


def _cycles(links: dict[str, list[tuple[str, str]]]) -> list[list[tuple[str, str]]]:
    """Loops of crossref/xdata links (key -> [(field, key)]), each as [(key, field it follows), ...]; at least
    one loop through every entry that leads back to itself."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    loops: list[list[tuple[str, str]]] = []
    seen: set[frozenset] = set()
    for start in links:
        if start in state:
            continue
        path: list[tuple[str, str]] = []   # (key, field followed out of it)
        stack = [(start, iter(links[start]))]
        state[start] = 1
        while stack:
            key, outgoing = stack[-1]
            step = next(outgoing, None)
            if step is None:
                stack.pop()
                state[key] = 2
                if path:
                    path.pop()
                continue
            name, target = step
            if target not in links:
                continue
            if state.get(target) == 1:
                keys = [k for k, _ in stack]
                loop = [(k, f) for (k, _), (_, f) in zip(stack[keys.index(target):], path[keys.index(target):])]
                loop.append((key, name))
                members = frozenset(k for k, _ in loop)
                if members not in seen:
                    seen.add(members)
                    loops.append(loop)
            elif target not in state:
                path.append((key, name))
                state[target] = 1
                stack.append((target, iter(links[target])))
    return loops


def _check_graph(entries: dict[str, BibEntry]) -> list[Diagnostic]:
    diags = []
    for entry in entries.values():
        for name, target in entry.parents():
            if target not in entries:
                close = [k for k in entries if k.lower() == target.lower()]
                diags.append(error("bib-crossref", f"entry '{entry.key}' has {name} = {{{target}}}, which is no "
                                   "entry", entry.at(name),
                                   f"keys are case-sensitive: did you mean {{{close[0]}}}?" if close else
                                   "add the entry it names or fix the key"))
    for loop in _cycles({key: entry.parents() for key, entry in entries.items()}):
        chain = " → ".join(f"'{k}' ({f})" for k, f in loop) + f" → '{loop[0][0]}'"
        for key, name in loop:
            diags.append(error("bib-crossref-cycle", f"entry '{key}' takes its fields from itself: {chain}",
                               entries[key].at(name),
                               f"an entry's {name} must name another entry that does not lead back to it; "
                               f"remove or correct this {name}"))
    return diags


# biblatex's inheritance of a crossref parent's title, which pandoc follows: (parent types, child types) -> the
# field the title becomes. Other fields, and the title between other types, are inherited under their own names.
TITLE_INHERITANCE: list[tuple[frozenset, frozenset, str]] = [
    (frozenset({"book", "mvbook"}), frozenset({"inbook", "bookinbook", "suppbook"}), "booktitle"),
    (frozenset({"collection", "mvcollection", "reference", "mvreference"}),
     frozenset({"incollection", "inreference", "suppcollection"}), "booktitle"),
    (frozenset({"proceedings", "mvproceedings"}), frozenset({"inproceedings", "conference"}), "booktitle"),
    (frozenset({"periodical"}), frozenset({"article", "suppperiodical"}), "journaltitle"),
    (frozenset({"mvbook", "mvcollection", "mvproceedings", "mvreference"}),
     frozenset({"book", "collection", "proceedings", "reference"}), "maintitle"),
]


def _title_becomes(parent: str, child: str) -> str:
    for parents, children, name in TITLE_INHERITANCE:
        if parent in parents and child in children:
            return name
    return "title"


def container_types(child: str) -> set[str]:
    """Parent types whose title becomes this type's booktitle or journaltitle."""
    return {t for parents, children, name in TITLE_INHERITANCE if child in children and name != "maintitle"
            for t in parents}


def inherited(entry: BibEntry, entries: dict[str, BibEntry]) -> dict[str, str]:
    """An entry's fields with those it takes from its crossref parent (at any depth) and its xdata entries,
    as biblatex and pandoc read them: the child's own fields first; safe on loops."""
    fields: dict[str, str] = dict(entry.fields)
    seen = {entry.key}
    queue = [(entry, key) for _, key in entry.parents()]
    while queue:
        child, key = queue.pop(0)
        parent = entries.get(key)
        if parent is None or key in seen:
            continue
        seen.add(key)
        for name, value in parent.fields.items():
            if name in ("crossref", "xdata"):
                continue
            if name == "title" and parent.type != "xdata":
                name = _title_becomes(parent.type, child.type)
            fields.setdefault(name, value)
        queue += [(child if parent.type == "xdata" else parent, k) for _, k in parent.parents()]
    return fields


def check_entries(entries: dict[str, BibEntry], cited: set[str] | frozenset[str],
                  lacking: tuple | None = None) -> list[Diagnostic]:
    """Fields an entry's type needs: an error for an entry the book cites, a warning for one it does not
    (it is not printed, but will be once cited). ``lacking``: :func:`missing_fields` of ``entries``, if
    known (Bibliography.lacking)."""
    diags: list[Diagnostic] = []
    for key, message, hint in missing_fields(entries) if lacking is None else lacking:
        if key in cited:
            diags.append(error("bib-missing-field", message, entries[key].location, hint))
        else:
            diags.append(warning("bib-missing-field", message + " (it is not cited, so not printed yet)",
                                 entries[key].location, hint))
    return diags


def missing_fields(entries: dict[str, BibEntry]) -> list[tuple[str, str, str]]:
    """``(key, message, hint)`` for each field an entry's type needs and the entry lacks (the same whether
    it is cited or not: see check_entries)."""
    found = []
    looped = {key for loop in _cycles({k: e.parents() for k, e in entries.items()}) for key, _ in loop}
    for entry in entries.values():
        if entry.key in looped or any(key not in entries for _, key in entry.parents()):
            continue  # what it lacks may be in the entry it fails to name (reported by the loader)
        fields = inherited(entry, entries)
        for need in REQUIRED.get(entry.type, DEFAULT_REQUIRED):
            names = need.split("|")
            if any(fields.get(n) for n in names):
                continue
            shown = [n for n in names if n != "pubstate"]
            message = f"entry '{entry.key}' (@{entry.type}) has no " + " or ".join(f"'{n}'" for n in shown)
            hint = f"add a line such as: {names[0]} = {{...}},"
            parent = entries.get(entry.fields.get("crossref", ""))
            wanted = container_types(entry.type)
            if parent is not None and wanted and parent.type not in wanted and \
                    {"booktitle", "journaltitle", "journal"} & set(names):
                kinds = " or ".join(f"@{t}" for t in sorted(wanted) if not t.startswith("mv"))
                hint = (f"its crossref parent '{parent.key}' is a @{parent.type}, and pandoc (like biblatex) makes a "
                        f"parent's title the {names[0]} of an @{entry.type} only if the parent is a {kinds}: "
                        f"change the parent's type, or add {names[0]} = {{...}} here")
            if need == DATED:
                hint += " (for an undated work: year = {n.d.}; for one not yet out: pubstate = {forthcoming})"
            found.append((entry.key, message, hint))
    return found


def _check_dates(entries: dict[str, BibEntry]) -> list[Diagnostic]:
    diags = []
    for entry in entries.values():
        year = entry.fields.get("year")
        if year is not None and not YEAR.fullmatch(year) and year.lower() not in YEAR_WORDS:
            diags.append(error("bib-bad-year", f"entry '{entry.key}' has year '{_one_line(year[:40])}', not a four-digit "
                               "year", entry.at("year"), "write the year as four digits, e.g. year = {2001}"))
        date = entry.fields.get("date")
        if date is not None and not DATE.fullmatch(date):
            diags.append(error("bib-bad-date", f"entry '{entry.key}' has date '{_one_line(date[:40])}', not YYYY-MM-DD",
                               entry.at("date"), "write e.g. date = {2001-04-15}"))
    return diags


def _check_duplicate_works(entries: dict[str, BibEntry]) -> list[Diagnostic]:
    """Two entries for one work: the same DOI, or the same title, year and authors (or editors).

    A paper and a review of it, or two works with a generic title, share a title but not their authors.
    """
    diags = []
    by_doi: dict[str, BibEntry] = {}
    by_work: dict[tuple, BibEntry] = {}
    for entry in entries.values():
        if entry.type in ("xdata", "set"):
            continue
        doi = normal_doi(entry.fields.get("doi", ""))
        twin = by_doi.get(doi) if doi else None
        title = _normal_title(entry.fields.get("title", ""))
        work = (title, entry.year, _family_names(entry.fields.get("author") or entry.fields.get("editor", "")))
        if twin is None and title:
            twin = by_work.get(work)
        if title:
            by_work.setdefault(work, entry)
        if doi:
            by_doi.setdefault(doi, entry)
        if twin is not None and twin.key != entry.key:
            why = "the same DOI" if doi and normal_doi(twin.fields.get("doi", "")) == doi else \
                "the same title, year and authors"
            diags.append(warning("bib-duplicate-work", f"entries '{twin.key}' and '{entry.key}' describe the "
                                 f"same work ({why})", entry.location,
                                 f"keep one key (say '{twin.key}', {twin.location}) and cite it everywhere"))
    return diags


def normal_doi(doi: str) -> str:
    return DOI_URL.sub("", DOI_PREFIX.sub("", doi.strip())).lower()


def _normal_title(title: str) -> str:
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def _family_names(names: str) -> tuple[str, ...]:
    """'Walt, Stephen M. and Snyder, Glenn' -> ('walt', 'snyder'): family names, for comparing works."""
    found = []
    for name in re.split(r"\s+and\s+", names.strip()):
        name = name.strip()
        if not name:
            continue
        family = name.split(",")[0] if "," in name else (name.split() or [""])[-1]
        found.append(_normal_title(family))
    return tuple(found)


# --- what pandoc will print otherwise than written ---------------------------------------------------------------

# Fields whose words pandoc may recase (it writes English titles in sentence case and the style then sets them
# in title or sentence case), and the CSL variables they end up in.
TITLE_FIELDS = ("title", "subtitle", "booktitle", "maintitle", "titleaddon")
CSL_TITLES = ("title", "container-title", "volume-title", "collection-title")
# Fields pandoc reads as lists, 'and' separating the items ("Farrar, Straus and Giroux" -> "Farrar, Straus; Giroux")
LIST_FIELDS = ("publisher", "location", "address", "institution")
_EDGE = "\"“”‘’,:;?!()[]«»"


def _one_line(text: str) -> str:
    """``text`` for a message: on one line whatever line or control characters it holds."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _unbraced(value: str) -> str:
    """``value`` with every {braced} group replaced by a space: what pandoc may change."""
    out, depth = [], 0
    for ch in value:
        if ch == "{":
            depth += 1
            out.append(" ")
        elif ch == "}":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def _title_words(text: str) -> list[str]:
    text = text.replace("``", "“").replace("''", "”").replace("---", "—").replace("--", "–").replace("'", "’")
    return [w.strip(_EDGE) for w in text.split() if w.strip(_EDGE)]


def _case_sensitive(word: str) -> bool:
    """An acronym, an initial, a word with capitals inside or periods between letters (U.S., NATO, McCarthy,
    J.), a capital standing alone (R, Plan B, Type I: not A, which may be the article): the words pandoc's
    sentence case may lower and a title-case style cannot restore. A capitalised word or compound (Israel,
    Anglo-American) is left to the style."""
    if re.fullmatch(r"[B-Z]", word):
        return True
    if re.fullmatch(r"[A-Z][a-z’]*(-[A-Z][a-z’]*)*\.?", word) and not re.fullmatch(r"[A-Z]\.", word):
        return False
    return bool(re.search(r"[A-Za-z]\.[A-Za-z]|^[A-Z]\.$|.[A-Z]", word))


def check_printing(entries, items: list, lang: str = "en") -> list[Diagnostic]:
    """What pandoc will print otherwise than the .bib writes it, from pandoc's own reading (``items``, CSL
    JSON): title words whose capitals it lowers, and 'and' inside a publisher or place, read as a list."""
    from .names import as_written

    by_id = {str(i.get("id")): i for i in items if isinstance(i, dict)}
    diags: list[Diagnostic] = []
    for entry in entries:
        item = by_id.get(entry.key)
        if item is None:
            continue
        item = as_written(item, entry.fields, lang)   # (a Japanese entry's titles: printed as written)
        read = " ".join(str(item.get(v, "")) for v in CSL_TITLES)
        forms: dict[str, set[str]] = {}
        for word in _title_words(read):
            forms.setdefault(word.lower(), set()).add(word)
        for name in TITLE_FIELDS:
            reported: set[str] = set()
            for word in _title_words(_unbraced(entry.fields.get(name, ""))):
                seen = forms.get(word.lower(), set())
                if not _case_sensitive(word) or not seen or word in seen or word in reported:
                    continue
                reported.add(word)
                printed = sorted(seen)[0]
                diags.append(warning("bib-title-case", f"entry '{entry.key}': pandoc prints '{word}' in the "
                                     f"{name} as '{printed}' (it sets English titles in sentence case, lowering "
                                     "capitals it does not see protected)", entry.at(name),
                                     f"protect the capitals with braces: {{{word}}}"))
        for name in LIST_FIELDS:
            value = entry.fields.get(name, "")
            if not re.search(r"\sand\s", _unbraced(value)) or str(item.get("type", "")).startswith("article"):
                continue    # (a journal article's publisher and place, which a Crossref export gives, are not printed)
            csl = {"publisher": "publisher", "institution": "publisher"}.get(name, "publisher-place")
            printed = _one_line(str(item.get(csl, "")))
            if "; " not in printed or re.search(r"\sand\s", printed):
                continue    # braced (the value above has lost its braces): printed as written
            diags.append(warning("bib-list-and", f"entry '{entry.key}': pandoc reads 'and' in the {name} as a "
                                 f"separator between several of them and prints '{printed}'", entry.at(name),
                                 f"if it is one name, put it in braces: {name} = {{{{{_one_line(value)}}}}} (braces "
                                 "also suit two names, which then print joined by 'and')"))
        diags += _name_separators(entry, item)
        diags += _unread_titles(entry, item)
    return diags


# a .bib field pandoc may read to nothing, and the CSL variable it reads it to
READ_TO = {"title": "title", "booktitle": "container-title", "journal": "container-title",
           "journaltitle": "container-title"}


def _unread_titles(entry, item: dict) -> list[Diagnostic]:
    """A title the .bib gives that pandoc reads to nothing, and so prints nothing of: it drops a field whose
    TeX it cannot read ('$5 and $10', an unmatched '$', which opens math it never closes)."""
    diags = []
    for name, variable in READ_TO.items():
        written = entry.fields.get(name, "")
        if not _unbraced(written).strip() or str(item.get(variable, "")).strip():
            continue
        hint = ("a '$' opens TeX math, which must be closed: write a dollar sign as \\$" if "$" in written
                else "check its TeX: braces and commands pandoc can read")
        diags.append(warning("bib-field-unread", f"entry '{entry.key}': pandoc reads nothing from the {name} "
                             f"'{_one_line(written)[:60]}', so no edition prints it", entry.at(name), hint))
    return diags


def _name_separators(entry, item: dict) -> list[Diagnostic]:
    """``bib-name-separator``: names in a name field separated by ';' (as a reference manager's export or a
    library catalogue writes them), which BibTeX does not read as a separator: pandoc makes one garbled
    person of them ('Smith, John; Doe, Jane' is family 'Smith', suffix 'John; Doe', given 'Jane')."""
    diags = []
    for name in NAME_FIELDS:
        value = entry.fields.get(name, "")
        if ";" not in _unbraced(value):
            continue
        read = item.get({"bookauthor": "container-author"}.get(name, name))
        count = len(read) if isinstance(read, list) else 0
        written = len(re.split(r"\s*;\s*|\s+and\s+", _unbraced(value).strip(" ;")))
        if count and count >= written:
            continue
        fixed = re.sub(r"\s*;\s*", " and ", _one_line(value).strip().rstrip(";"))
        people = f"{count} name{'s' if count != 1 else ''}, not {written}" if count else "fewer names than written"
        diags.append(warning("bib-name-separator", f"entry '{entry.key}': the {name} field separates names with "
                             f"';', which BibTeX does not read as a separator: pandoc reads {people}, and prints "
                             "them garbled", entry.at(name), f"separate the names with 'and': {name} = {{{fixed}}}"))
    return diags


NAME_FIELDS = ("author", "editor", "translator", "bookauthor", "editora", "editorb")


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.replace("{", "").replace("}", ""))
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).lower().replace(".", " ").split())


def _people(value: str) -> list[tuple[str, str]]:
    """A name list as written -> [(family, given)], 'and' inside braces not splitting it."""
    people = []
    for name in re.split(r"\s+and\s+", _unbraced_marks(value)):
        name = name.replace("\0", "and").strip()
        if not name or name.startswith("{"):
            continue   # an organisation, written {{...}}
        parts = [p.strip() for p in name.split(",")]
        if len(parts) >= 2:
            family, given = parts[0], parts[-1]
        else:
            words = name.split()
            family, given = words[-1], " ".join(words[:-1])
        people.append((" ".join(family.split()), " ".join(given.split())))
    return people


def _unbraced_marks(value: str) -> str:
    """'and' inside braces hidden (as NUL) so that splitting on 'and' leaves braced names whole."""
    out, depth, i = [], 0, 0
    while i < len(value):
        ch = value[i]
        depth += (ch == "{") - (ch == "}")
        if depth > 0 and value.startswith("and", i):
            out.append("\0")
            i += 3
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def check_name_variants(entries: dict[str, BibEntry]) -> list[Diagnostic]:
    """The same person written two ways across entries ('Funabashi, Yoichi' and 'Funabashi, Yōichi'):
    citeproc takes them for two people, so the works are sorted and disambiguated apart. Reported at the
    less common spelling (at the one without diacritics when both are as common)."""
    seen: dict[tuple[str, str], dict[str, list[tuple[BibEntry, str]]]] = {}
    for entry in entries.values():
        for name in NAME_FIELDS:
            for family, given in _people(entry.fields.get(name, "")):
                if not given:
                    continue
                written = f"{family}, {given}".replace("{", "").replace("}", "")
                key = (_fold(family), _fold(given))
                seen.setdefault(key, {}).setdefault(unicodedata.normalize("NFC", written), []).append((entry, name))
    diags = []
    for spellings in seen.values():
        if len(spellings) < 2:
            continue
        ranked = sorted(spellings, key=lambda w: (-len(spellings[w]), -sum(ord(c) > 127 for c in w), w))
        usual = ranked[0]
        first, _ = spellings[usual][0]
        for other in ranked[1:]:
            for entry, name in spellings[other]:
                count = len(spellings[usual])
                diags.append(warning("bib-name-variant", f"entry '{entry.key}' writes '{other}', but {count} "
                                     f"entr{'y' if count == 1 else 'ies'} ('{first.key}'"
                                     f"{' and others' if count > 1 else ''}) write '{usual}': citeproc takes "
                                     "them for two people", entry.at(name),
                                     f"write the name the same way everywhere: {name} = {{... {usual} ...}}"))
    return diags
