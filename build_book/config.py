"""``book.yml``: the book's configuration, read strictly.

Every key is declared in :data:`BOOK_KEYS` with what it means; an unknown key,
a missing required key or a value of the wrong kind is reported with its line
and column, all problems at once.
"""

from __future__ import annotations

import datetime as _dt
import posixpath
import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from . import yamlpos
from .diagnostics import BuildError, Diagnostic, Location, error

CONFIG_NAME = "book.yml"

BOOK_KEYS: dict[str, str] = {
    "title": "The book's title (required).",
    "subtitle": "A subtitle, printed under the title.",
    "lang": "The book's language as a BCP 47 tag (default: en).",
    "date": "Publication date, YYYY-MM-DD.",
    "publisher": "The publisher's name.",
    "rights": "A copyright or licence line for the title page verso.",
    "identifier": "The EPUB identifier; derived stably from the title if absent.",
    "slug": "Base name of the output files (default: derived from the title).",
    "editors": "Contributor ids of the volume's editors.",
    "contributors": "Contributor id -> {name, affiliation, role}.",
    "bibliography": "One .bib path or a list of them, relative to the book.",
    "csl": "A citation style name (default chicago-author-date) or a path to a .csl file.",
    "chapters": "Reading order: chapter paths and {part, id, chapters} groups.",
    "appendices": "Appendix chapter paths, lettered A, B, ...",
    "section-depth": "How many heading levels below the chapter are numbered (default 2).",
    "crossref": "Words used for cross-references: chapter, section, part, appendix, figure, table, page.",
    "page-references": "true: PDF cross-references also give the page ('Figure 3.2 on page 45').",
}
CONTRIBUTOR_KEYS = {"name", "affiliation", "role"}
PART_KEYS = {"part", "id", "chapters"}
CROSSREF_WORDS = ("chapter", "section", "part", "appendix", "figure", "table", "page")
DEFAULT_WORDS = {
    "en": {"chapter": "Chapter", "section": "Section", "part": "Part", "appendix": "Appendix",
           "figure": "Figure", "table": "Table", "page": "on page"},
    "ja": {"chapter": "第%s章", "section": "%s節", "part": "第%s部", "appendix": "付録",
           "figure": "図", "table": "表", "page": "頁"},
}


@dataclass(frozen=True)
class Contributor:
    id: str
    name: str
    affiliation: str = ""
    role: str = ""
    location: Location = Location("book.yml")


@dataclass(frozen=True)
class ChapterRef:
    """One chapter as listed in book.yml."""

    path: str
    location: Location
    part: int | None = None  # index into BookConfig.parts
    appendix: bool = False


@dataclass(frozen=True)
class PartSpec:
    title: str
    label: str
    location: Location


@dataclass(frozen=True)
class BookConfig:
    root: Path
    title: str
    subtitle: str = ""
    lang: str = "en"
    date: str = ""
    publisher: str = ""
    rights: str = ""
    identifier: str = ""
    slug: str = "book"
    editors: tuple[str, ...] = ()
    contributors: dict[str, Contributor] = field(default_factory=dict)
    bibliography: tuple[str, ...] = ()
    csl: str = "chicago-author-date"
    chapters: tuple[ChapterRef, ...] = ()
    parts: tuple[PartSpec, ...] = ()
    section_depth: int = 2
    words: dict[str, str] = field(default_factory=dict)
    page_references: bool = False
    key_locations: dict[str, Location] = field(default_factory=dict)

    def where(self, key: str) -> Location:
        return self.key_locations.get(key, Location(CONFIG_NAME, 1, 1))

    @property
    def year(self) -> str:
        return self.date[:4]


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug or "book"


def _is_str_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def load_config(root: Path) -> tuple[BookConfig, list[Diagnostic]]:
    """Read ``root/book.yml``: the configuration and every problem found in it.

    Raises :class:`BuildError` only when nothing can be read (no file, not
    UTF-8, not YAML, not a mapping); otherwise the configuration is returned
    with the problems, so the chapters can still be checked."""
    path = root / CONFIG_NAME
    rel = CONFIG_NAME
    if not path.is_file():
        raise BuildError([error("config-missing", f"no {CONFIG_NAME} in {root}", Location(rel),
                                "run build_book in the book's folder or pass --book DIR")])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BuildError([error("encoding", f"{CONFIG_NAME} is not UTF-8 (byte {exc.start})", Location(rel),
                                "save the file as UTF-8")]) from None
    try:
        doc = yamlpos.load(text)
    except yamlpos.YamlError as exc:
        raise BuildError([error("config-yaml", exc.message, Location(rel, exc.line, exc.column),
                                "check indentation, colons and quotes around this line")]) from None
    return _parse(root, doc)


def _parse(root: Path, doc: yamlpos.Located) -> BookConfig:
    diags: list[Diagnostic] = []
    data = doc.data if isinstance(doc.data, dict) else {}

    def at(*keys) -> Location:
        line, col = doc.where(*keys)
        return Location(CONFIG_NAME, line, col)

    if not isinstance(doc.data, dict):
        raise BuildError([error("config-type", f"{CONFIG_NAME} must be a mapping of keys to values", at(),
                                "start with a line such as 'title: My Book'")])
    for keys, line, column in doc.duplicates:
        diags.append(error("config-duplicate-key", f"'{': '.join(map(str, keys))}' is given twice in {CONFIG_NAME}",
                           Location(CONFIG_NAME, line, column), "keep one of them; the last one would win silently"))
    for key in data:
        if key not in BOOK_KEYS:
            close = _nearest(str(key), BOOK_KEYS)
            diags.append(error("config-unknown-key", f"unknown key '{key}' in {CONFIG_NAME}", at(key),
                               f"did you mean '{close}'?" if close else "known keys: " + ", ".join(BOOK_KEYS)))
    for key in ("title", "chapters"):
        if key not in data:
            diags.append(error("config-missing-key", f"required key '{key}' is missing from {CONFIG_NAME}", at(),
                               f"add a line '{key}: ...'"))

    def text(key: str, default: str = "") -> str:
        value = data.get(key, default)
        if value is None:
            return default
        if isinstance(value, (_dt.date, int, float)):
            return str(value)
        if not isinstance(value, str):
            diags.append(error("config-type", f"'{key}' must be text", at(key)))
            return default
        return value.strip()

    title = text("title")
    slug = text("slug")
    if slug and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", slug):
        diags.append(error("config-value", f"'slug' must be a plain file name (letters, digits, '.', '-', '_'), "
                           f"not '{slug}'", at("slug"), f"write e.g. slug: {slugify(slug)}"))
        slug = ""
    date = text("date")
    if date and not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", date):
        diags.append(error("config-value", f"'date' must look like 2012-03-31, not '{date}'", at("date")))

    contributors: dict[str, Contributor] = {}
    raw_contributors = data.get("contributors") or {}
    if not isinstance(raw_contributors, dict):
        diags.append(error("config-type", "'contributors' must map ids to people", at("contributors")))
        raw_contributors = {}
    for cid, person in raw_contributors.items():
        loc = at("contributors", cid)
        if isinstance(person, str):
            person = {"name": person}
        if not isinstance(person, dict) or not isinstance(person.get("name"), str):
            diags.append(error("config-value", f"contributor '{cid}' needs a 'name'", loc,
                               "write it as: name: FAMILY Given"))
            continue
        for key in person:
            if key not in CONTRIBUTOR_KEYS:
                diags.append(error("config-unknown-key", f"unknown key '{key}' for contributor '{cid}'",
                                   at("contributors", cid, key), "known keys: name, affiliation, role"))
        contributors[str(cid)] = Contributor(str(cid), person["name"].strip(),
                                             str(person.get("affiliation") or "").strip(),
                                             str(person.get("role") or "").strip(), loc)

    editors = data.get("editors") or []
    if isinstance(editors, str):
        editors = [editors]
    if not _is_str_list(editors):
        diags.append(error("config-type", "'editors' must be a list of contributor ids", at("editors")))
        editors = []
    for index, eid in enumerate(editors):
        if eid not in contributors:
            diags.append(error("unknown-contributor", f"editor '{eid}' is not in 'contributors'",
                               at("editors", index), _did_you_mean(eid, contributors)))

    bibliography = data.get("bibliography") or []
    if isinstance(bibliography, str):
        bibliography = [bibliography]
    if not _is_str_list(bibliography):
        diags.append(error("config-type", "'bibliography' must be a path or a list of paths", at("bibliography")))
        bibliography = []
    for index, bib in enumerate(bibliography):
        if not (root / bib).is_file():
            diags.append(error("missing-file", f"bibliography file '{bib}' does not exist",
                               at("bibliography", index) if len(data.get("bibliography") or []) and
                               isinstance(data.get("bibliography"), list) else at("bibliography"),
                               "check the path; it is relative to the folder holding book.yml"))

    csl = text("csl", "chicago-author-date") or "chicago-author-date"

    chapters: list[ChapterRef] = []
    parts: list[PartSpec] = []
    raw_chapters = data.get("chapters") or []
    if isinstance(raw_chapters, str):
        raw_chapters = [raw_chapters]
    if not isinstance(raw_chapters, list):
        diags.append(error("config-type", "'chapters' must be a list", at("chapters")))
        raw_chapters = []
    for index, item in enumerate(raw_chapters):
        loc = at("chapters", index)
        if isinstance(item, str):
            chapters.append(ChapterRef(_normal_path(item), loc))
        elif isinstance(item, dict) and "part" in item:
            for key in item:
                if key not in PART_KEYS:
                    diags.append(error("config-unknown-key", f"unknown key '{key}' in a part",
                                       at("chapters", index, key), "a part has: part, id, chapters"))
            label = str(item.get("id") or "")
            if label and not label.startswith("sec-"):
                diags.append(error("config-value", f"part id '{label}' must start with 'sec-'",
                                   at("chapters", index, "id"), f"write: id: sec-{label}"))
            parts.append(PartSpec(str(item["part"]).strip(), label or f"sec-part-{len(parts) + 1}", loc))
            members = item.get("chapters") or []
            if not _is_str_list(members) or not members:
                diags.append(error("config-type", "a part's 'chapters' must be a non-empty list of paths",
                                   at("chapters", index, "chapters")))
                members = []
            for sub, member in enumerate(members):
                chapters.append(ChapterRef(_normal_path(member), at("chapters", index, "chapters", sub),
                                           part=len(parts) - 1))
        else:
            diags.append(error("config-value", "a chapter entry must be a path or a part "
                               "(part: Title, chapters: [...])", loc))
    appendices = data.get("appendices") or []
    if isinstance(appendices, str):
        appendices = [appendices]
    if not _is_str_list(appendices):
        diags.append(error("config-type", "'appendices' must be a list of paths", at("appendices")))
        appendices = []
    for index, item in enumerate(appendices):
        chapters.append(ChapterRef(_normal_path(item), at("appendices", index), appendix=True))

    seen: dict[str, Location] = {}
    for ref in chapters:
        if ref.path in seen:
            diags.append(error("duplicate-chapter", f"'{ref.path}' is listed twice", ref.location,
                               f"it is already listed at line {seen[ref.path].line}"))
        seen.setdefault(ref.path, ref.location)
        if not (root / ref.path).is_file():
            diags.append(error("missing-chapter", f"chapter file '{ref.path}' does not exist", ref.location,
                               _missing_file_hint(root, ref.path)))

    depth = data.get("section-depth", 2)
    if isinstance(depth, bool) or not isinstance(depth, int) or not 0 <= depth <= 5:
        diags.append(error("config-value", "'section-depth' must be a whole number from 0 to 5",
                           at("section-depth")))
        depth = 2

    lang = text("lang", "en") or "en"
    words = dict(DEFAULT_WORDS.get(lang.split("-")[0], DEFAULT_WORDS["en"]))
    raw_words = data.get("crossref") or {}
    if not isinstance(raw_words, dict):
        diags.append(error("config-type", "'crossref' must map words such as 'figure' to text", at("crossref")))
        raw_words = {}
    for key, value in raw_words.items():
        if key not in CROSSREF_WORDS:
            diags.append(error("config-unknown-key", f"unknown cross-reference word '{key}'", at("crossref", key),
                               "known words: " + ", ".join(CROSSREF_WORDS)))
        elif not isinstance(value, (str, int)) or not str(value).strip():
            diags.append(error("config-value", f"the cross-reference word '{key}' is empty", at("crossref", key),
                               f"write e.g. {key}: {DEFAULT_WORDS['en'].get(key, 'Word')}"))
        else:
            words[key] = str(value)

    page_refs = data.get("page-references", False)
    if not isinstance(page_refs, bool):
        diags.append(error("config-type", "'page-references' must be true or false", at("page-references")))
        page_refs = False

    identifier = text("identifier") or f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'build_book:' + title)}"
    return BookConfig(
        root=root, title=title, subtitle=text("subtitle"), lang=lang, date=date,
        publisher=text("publisher"), rights=text("rights"), identifier=identifier,
        slug=slug or slugify(title), editors=tuple(editors), contributors=contributors,
        bibliography=tuple(bibliography), csl=csl, chapters=tuple(chapters), parts=tuple(parts),
        section_depth=depth, words=words, page_references=page_refs,
        key_locations={key: at(key) for key in data},
    ), diags


def _normal_path(path: str) -> str:
    """'./chapters//a.md' and 'chapters/a.md' name one file."""
    return posixpath.normpath(path.replace("\\", "/"))


def _nearest(word: str, candidates) -> str:
    import difflib

    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else ""


def _did_you_mean(word: str, candidates) -> str:
    close = _nearest(word, candidates)
    return f"did you mean '{close}'?" if close else "add it under 'contributors' in book.yml"


def _missing_file_hint(root: Path, rel: str) -> str:
    folder = (root / rel).parent
    if folder.is_dir():
        names = [p.relative_to(root).as_posix() for p in folder.glob("*.md")]
        close = _nearest(rel, names)
        if close:
            return f"did you mean '{close}'?"
    return "check the path; it is relative to the folder holding book.yml"
