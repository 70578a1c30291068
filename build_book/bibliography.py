"""The shared BibTeX bibliography, read with bibtexparser 2 and checked.

Reading never stops at the first bad entry: a block that does not parse is
reported with its file and line and the rest of the file is still read.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import bibtexparser
from bibtexparser.model import DuplicateBlockKeyBlock, ParsingFailedBlock

from .diagnostics import Diagnostic, Location, error, warning

logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)

# What each entry type must have; "author|editor" means either will do.
REQUIRED: dict[str, tuple[str, ...]] = {
    "book": ("author|editor", "title", "year|date", "publisher"),
    "mvbook": ("author|editor", "title", "year|date", "publisher"),
    "article": ("author", "title", "year|date", "journal|journaltitle"),
    "incollection": ("author", "title", "year|date", "booktitle", "publisher"),
    "inbook": ("author", "title", "year|date", "booktitle|chapter", "publisher"),
    "inproceedings": ("author", "title", "year|date", "booktitle"),
    "collection": ("editor", "title", "year|date", "publisher"),
    "phdthesis": ("author", "title", "year|date", "school|institution"),
    "thesis": ("author", "title", "year|date", "school|institution"),
    "techreport": ("author", "title", "year|date", "institution"),
    "report": ("author", "title", "year|date", "institution"),
}
DEFAULT_REQUIRED = ("author|editor", "title", "year|date")
# documents that often have no personal author: treaties, web pages, official papers
for _kind in ("misc", "online", "legislation", "legal", "manual", "unpublished", "jurisdiction", "standard"):
    REQUIRED[_kind] = ("title", "year|date")
YEAR_WORDS = {"forthcoming", "in press", "n.d."}
MONTHS = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
BARE_VALUE = re.compile(r"(\w[\w-]*)\s*=\s*([A-Za-z_][\w:.-]*)\s*(?=[,}#]|$)", re.M)
YEAR = re.compile(r"\d{4}")
DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?(/(\d{4}(-\d{2}(-\d{2})?)?)?)?")


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


@dataclass(frozen=True)
class Bibliography:
    paths: tuple[Path, ...] = ()
    entries: dict[str, BibEntry] = field(default_factory=dict)
    diagnostics: tuple[Diagnostic, ...] = ()



def load(root: Path, paths: tuple[str, ...]) -> Bibliography:
    entries: dict[str, BibEntry] = {}
    diags: list[Diagnostic] = []
    resolved: list[Path] = []
    for rel in paths:
        path = root / rel
        if not path.is_file():
            continue  # reported by the configuration check
        resolved.append(path)
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            diags.append(error("encoding", f"the bibliography is not UTF-8 (byte {exc.start})",
                               Location(rel, line, 1), "save the .bib file as UTF-8"))
            text = raw.decode("utf-8", errors="replace")
        library = bibtexparser.parse_string(text)
        macros = MONTHS | {s.key.lower() for s in library.strings}
        for entry in library.entries:
            loc = Location(rel, entry.start_line + 1, 1)
            for field_name, word in BARE_VALUE.findall(entry.raw):
                if word.lower() not in macros and field_name.lower() != entry.key.lower():
                    diags.append(error("bib-undefined-string", f"entry '{entry.key}': {field_name} = {word} uses "
                                       f"the @string abbreviation '{word}', which is not defined", loc,
                                       f"put the value in braces ({field_name} = {{...}}) or define "
                                       f"@string{{{word} = {{...}}}}"))
            fields = {f.key.lower(): _clean(str(f.value)) for f in entry.fields}
            lines = {f.key.lower(): f.start_line + 1 for f in entry.fields
                     if getattr(f, "start_line", None) is not None}
            if entry.key in entries:
                first = entries[entry.key]
                diags.append(error("bib-duplicate-key", f"duplicate bibliography key '{entry.key}' "
                                   f"(first entered at {first.location})", loc,
                                   "give one of the two entries another key, or delete the copy"))
                diags.append(error("bib-duplicate-key", f"bibliography key '{entry.key}' is entered again at {loc}",
                                   first.location, "keys must be unique across the bibliography"))
                continue
            entries[entry.key] = BibEntry(entry.key, entry.entry_type.lower(), fields, loc, lines)
        for block in library.failed_blocks:
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
    diags.extend(check_entries(entries))
    return Bibliography(tuple(resolved), entries, tuple(diags))


def check_with_pandoc(root: Path, paths: tuple[str, ...], cache: Path) -> list[Diagnostic]:
    """What pandoc's citeproc, stricter than bibtexparser, cannot read (cached per file content).

    A file pandoc read without complaint leaves a stamp in the cache: a file whose one line names the
    stamp format and the digest of pandoc's version and the .bib's bytes. A stamp is trusted only if
    that line is exactly what this file and this pandoc give, so a truncated, corrupted or swapped stamp
    just means checking the file again."""
    import hashlib
    import os

    from . import pandoc

    diags = []
    for rel in paths:
        path = root / rel
        if not path.is_file():
            continue
        try:
            digest = hashlib.sha256(pandoc.version().encode() + b"\0" + path.read_bytes()).hexdigest()
        except OSError:
            continue  # unreadable: reported when the bibliography is loaded
        stamp = cache / f"bib-ok-{digest[:24]}"
        expected = f"build_book-bib-ok 2 {digest}\n"
        try:
            if stamp.read_text(encoding="ascii") == expected:
                continue
        except (OSError, ValueError):
            pass
        try:
            pandoc.check_bibliography(path)
        except pandoc.PandocTimeout as exc:
            diags.append(error("pandoc-timeout", f"pandoc took longer than {exc.seconds:g} seconds to read "
                               "the bibliography and was stopped", Location(rel, 1, 1),
                               f"if the bibliography is simply very large, allow more time with "
                               f"{pandoc.TIMEOUT_ENV}=SECONDS"))
            continue
        except pandoc.PandocError as exc:
            found = re.search(r"\(line (\d+), column (\d+)\)", str(exc))
            line, column = (int(found.group(1)), int(found.group(2))) if found else (1, 1)
            problem = next((ln.strip() for ln in str(exc).splitlines() if ln.strip().startswith("unexpected")),
                           "pandoc cannot read this entry")
            diags.append(error("bib-syntax", f"the bibliography cannot be read here: {problem}",
                               Location(rel, line, column),
                               "check the quotes and braces: a title in quotes cannot contain plain quotes; "
                               "use {braces} around values"))
            continue
        try:
            cache.mkdir(parents=True, exist_ok=True)
            tmp = stamp.with_name(f"{stamp.name}.{os.getpid()}.tmp")
            tmp.write_text(expected, encoding="ascii")
            os.replace(tmp, stamp)
        except OSError:
            pass
    return diags


def _clean(value: str) -> str:
    value = value.strip()
    while value.startswith("{") and value.endswith("}"):
        value = value[1:-1].strip()
    return value


def inherited(entry: BibEntry, entries: dict[str, BibEntry]) -> dict[str, str]:
    """An entry's fields with those it takes from its crossref parent (the parent's title is the child's
    booktitle), as biblatex and pandoc read them."""
    parent = entries.get(entry.fields.get("crossref", ""))
    if parent is None:
        return entry.fields
    fields = {("booktitle" if k == "title" else k): v for k, v in parent.fields.items() if k != "crossref"}
    fields.update(entry.fields)
    return fields


def check_entries(entries: dict[str, BibEntry]) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    for entry in entries.values():
        parent_key = entry.fields.get("crossref")
        if parent_key and parent_key not in entries:
            diags.append(error("bib-crossref", f"entry '{entry.key}' has crossref = {{{parent_key}}}, "
                               "which is no entry", entry.at("crossref"), "add the parent entry or fix its key"))
        fields = inherited(entry, entries)
        for need in REQUIRED.get(entry.type, DEFAULT_REQUIRED):
            names = need.split("|")
            if not any(fields.get(n) for n in names):
                diags.append(error("bib-missing-field", f"entry '{entry.key}' (@{entry.type}) has no "
                                   + " or ".join(f"'{n}'" for n in names), entry.location,
                                   f"add a line such as: {names[0]} = {{...}},"))
        year = entry.fields.get("year")
        if year is not None and not YEAR.fullmatch(year) and year.lower() not in YEAR_WORDS:
            diags.append(error("bib-bad-year", f"entry '{entry.key}' has year '{year}', not a four-digit year",
                               entry.at("year"), "write the year as four digits, e.g. year = {2001}"))
        date = entry.fields.get("date")
        if date is not None and not DATE.fullmatch(date):
            diags.append(error("bib-bad-date", f"entry '{entry.key}' has date '{date}', not YYYY-MM-DD",
                               entry.at("date"), "write e.g. date = {2001-04-15}"))
    by_doi: dict[str, BibEntry] = {}
    by_title: dict[tuple[str, str], BibEntry] = {}
    for entry in entries.values():
        doi = entry.fields.get("doi", "").lower().removeprefix("https://doi.org/").strip()
        twin = by_doi.get(doi) if doi else None
        if twin is None:
            title = _normal_title(entry.fields.get("title", ""))
            twin = by_title.get((title, entry.year)) if title else None
            if title:
                by_title.setdefault((title, entry.year), entry)
        if doi:
            by_doi.setdefault(doi, entry)
        if twin is not None and twin.key != entry.key:
            diags.append(warning("bib-duplicate-work", f"entries '{twin.key}' and '{entry.key}' describe the "
                                 "same work", entry.location,
                                 f"keep one key (say '{twin.key}', {twin.location}) and cite it everywhere"))
    return diags


def _normal_title(title: str) -> str:
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", " ", text).strip()
