"""``book.yml``: the book's configuration, read strictly.

Every key is declared in :data:`OPTIONS` with what it means and one small
validator (``schema.py``); an unknown key, a missing required key or a value of
the wrong type is reported with its line and column and the expected type, all
problems at once.
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import codes, sandbox, schema, yamlpos
from .diagnostics import BuildError, Diagnostic, Location, error, warning
from .files import (BOOKDOWN_INDEX, BOOKDOWN_NAME, CONFIG_NAME, QUARTO_NAME, bookdown_book,  # noqa: F401
                    quarto_book)

# the word of each kind of label, and of several ([@fig-a; @fig-b]: "Figures 1.1 and 1.2")
PLURALS = {"chapter": "chapters", "section": "sections", "part": "parts", "appendix": "appendices",
           "figure": "figures", "table": "tables", "equation": "equations"}
CROSSREF_WORDS = ("chapter", "section", "part", "appendix", "figure", "table", "equation", "page",
                  *PLURALS.values(), "and")
DEFAULT_WORDS = {
    "en": {"chapter": "Chapter", "section": "Section", "part": "Part", "appendix": "Appendix",
           "figure": "Figure", "table": "Table", "equation": "Equation", "page": "on page",
           "chapters": "Chapters", "sections": "Sections", "parts": "Parts", "appendices": "Appendices",
           "figures": "Figures", "tables": "Tables", "equations": "Equations", "and": "and"},
    "ja": {"chapter": "第%s章", "section": "%s節", "part": "第%s部", "appendix": "付録",
           "figure": "図", "table": "表", "equation": "式(%s)", "page": "頁"},
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
    book_front: bool = False  # its front matter is the book's, not the chapter's (bookdown's index.Rmd)
    parts_read: bool = False  # its bookdown part headings ('# (PART) Title {-}') are the book's parts, read here


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
    url: str = ""        # where the web edition is published (canonical links, sitemap.xml)
    identifier: str = ""
    slug: str = "book"
    editors: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()   # an authored book (a monograph): printed "by ...", not "Edited by"
    contributors_page: bool = True
    contributors: dict[str, Contributor] = field(default_factory=dict)
    bibliography: tuple[str, ...] = ()
    csl: str = "chicago-author-date"
    chapters: tuple[ChapterRef, ...] = ()
    parts: tuple[PartSpec, ...] = ()
    section_depth: int = 2
    words: dict[str, str] = field(default_factory=dict)
    page_references: bool = False
    echo: bool = True    # whether code cells show their code, unless they say otherwise (execute: echo:)
    nocite: tuple[str, ...] = ()   # works to list though not cited (pandoc's nocite: '@key', '@*')
    bibliography_scope: str = "book"   # book: one bibliography; chapter: a list per chapter; both
    bibliography_title: str = ""       # the book's reference list's heading; empty: the language's word
    diagnostics: dict[str, str] = field(default_factory=dict)   # code -> off, warning or error
    names: dict[str, str] = field(default_factory=dict)   # 'Family, Given' -> family-first or given-first
    cover: str = ""    # the EPUB's cover image (a path in the book); empty: made from the title page
    style: tuple[str, ...] = ()   # house style: a style file, a folder of rule files, or a list of them
    key_locations: dict[str, Location] = field(default_factory=dict)

    def where(self, key: str) -> Location:
        return self.key_locations.get(key, Location(CONFIG_NAME, 1, 1))

    @property
    def year(self) -> str:
        return self.date[:4]

    @property
    def shown_date(self) -> str:
        """The date as a reader reads it: '31 March 2012', 'March 2012', '2012' (in Japanese 2012年3月31日)."""
        parts = [int(p) for p in self.date.split("-") if p.isdigit()]
        if len(parts) < 2 or not 1 <= parts[1] <= 12:
            return self.date
        if self.lang.split("-")[0] == "ja":
            return f"{parts[0]}年{parts[1]}月" + (f"{parts[2]}日" if len(parts) > 2 else "")
        month = MONTHS[parts[1] - 1]
        return f"{parts[2]} {month} {parts[0]}" if len(parts) > 2 else f"{month} {parts[0]}"

    @property
    def shown_identifier(self) -> str:
        """The identifier as the title page's verso prints it ('ISBN 978-...'): only one book.yml gives,
        not the one build_book derives for the EPUB (a urn:uuid means nothing to a reader)."""
        if "identifier" not in self.key_locations:
            return ""
        isbn = re.match(r"(?:urn:)?isbn:\s*(.+)", self.identifier, re.I)
        return f"ISBN {isbn.group(1)}" if isbn else self.identifier


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug or "book"


def load_config(root: Path) -> tuple[BookConfig, list[Diagnostic]]:
    """Read ``root/book.yml``: the configuration and every problem found in it.

    Raises :class:`BuildError` only when nothing can be read (no file, not
    UTF-8, not YAML, not a mapping); otherwise the configuration is returned
    with the problems, so the chapters can still be checked."""
    path = root / CONFIG_NAME
    rel = CONFIG_NAME
    if not path.is_file() and _is_file(root / QUARTO_NAME) and (quarto_book(root / QUARTO_NAME)
                                                                 or not bookdown_book(root)):
        return load_quarto_config(root)   # (a bookdown book beside a _quarto.yml of another kind is the book)
    if not path.is_file() and bookdown_book(root):
        return load_bookdown_config(root)
    if not path.is_file():
        raise BuildError([error("config-missing", f"no {CONFIG_NAME} in {root}", Location(rel),
                                "run build_book in the book's folder or pass --book DIR")])
    return _parse(root, _read_yaml(root, rel))


def _read_yaml(root: Path, rel: str, r_code: bool = False) -> yamlpos.Located:
    """A configuration file's YAML with positions; a :class:`BuildError` if it is not UTF-8 or not YAML
    (``r_code``: R Markdown's '!r' and '!expr' values read as yamlpos.RCode)."""
    try:
        text = (root / rel).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BuildError([error("encoding", f"{rel} is not UTF-8 (byte {exc.start})", Location(rel),
                                "save the file as UTF-8")]) from None
    try:
        return yamlpos.load(text.removeprefix("\ufeff"), r_code)
    except yamlpos.YamlError as exc:
        raise BuildError([error("config-yaml", exc.message, Location(rel, exc.line, exc.column),
                                exc.hint or "check indentation, colons and quotes around this line")]) from None


# --- the keys of book.yml, one validator each -------------------------------------------------

def _part_id(value, where: schema.Where):
    label = schema.identifier(value, where)
    if label and not label.startswith("sec-"):
        where.bad_value(f"part id '{label}' must start with 'sec-'", f"write: id: sec-{label}")
        return None
    return label


_PATHS = schema.text_list(schema.path, "file paths", "[chapters/01-introduction.md]")


def _chapter_path(value, where: schema.Where):
    if value is None:   # '-' alone on its line: a chapter's name deleted, or not yet written
        where.warning("chapter-entry-empty", "an empty entry in the list of chapters ('-' with nothing after it)",
                      "write a chapter's path after the '-', or delete the line")
        return None
    return schema.path(value, where)


# a list of chapters keeps a wrong entry as None: its positions are the YAML's, where each entry is located
_CHAPTER_PATHS = schema.text_list(_chapter_path, "file paths", "[chapters/01-introduction.md]", keep=True)
_PART = schema.record({"part": schema.text(allow_empty=False, example="The Japan-US Alliance"),
                       "id": _part_id,
                       "chapters": _CHAPTER_PATHS}, "a part", required=("part", "chapters"))


def _chapter_entry(value, where: schema.Where):
    if isinstance(value, dict):
        if "part" not in value:
            where.bad_value("a chapter entry must be a path or a part (part: Title, chapters: [...])",
                            "a part is written: - part: Title\n          chapters: [chapters/a.md]")
            return None
        part = _PART(value, where)
        if part is None:  # reported; its chapters still belong to the book
            quiet = schema.Where(where.doc, where.file, [], where.path)
            title = value.get("part") if isinstance(value.get("part"), str) else ""
            chapters = _CHAPTER_PATHS(value.get("chapters"), quiet["chapters"])
            part = {"part": title.strip(), "id": None, "chapters": chapters}
        return part
    return _chapter_path(value, where)


def _prog() -> str:
    from .cli import prog_name

    return prog_name()


def _diagnostic_setting(value, where: schema.Where):
    code = str(where.path[-1])
    known = codes.describe(code)
    if known is None:
        close = schema.nearest(code, codes.CATALOGUE)
        where.bad_value(f"'{code}' is no diagnostic code",
                        f"did you mean '{close}'?" if close else f"{_prog()} codes lists them")
        return None
    if value is False:  # YAML 1.1 reads a bare off as false
        value = "off"
    if value not in codes.SETTINGS:
        where.bad_value(f"'{code}' must be set to off, warning or error, not {schema.type_name(value)}")
        return None
    if not known.adjustable and value != known.severity:
        where.bad_value(f"'{code}' cannot be changed: it means the book cannot be built as written",
                        "fix what it reports instead")
        return None
    return value


def _word(value, where: schema.Where):
    word = schema.text(allow_empty=False)(value, where)
    key = str(where.path[-1])
    if key not in CROSSREF_WORDS:
        where.error("config-unknown-key", f"unknown cross-reference word '{key}'",
                    "known words: " + ", ".join(CROSSREF_WORDS))
        return None
    if word is not None and "%" in word.replace("%s", ""):
        where.bad_value(f"the cross-reference word '{word}' has a '%' other than '%s'",
                        "write %s where the number goes (第%s章), and no other %")
        return None
    return word


def _slug(value, where: schema.Where):
    slug = schema.text()(value, where)
    if slug and (not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", slug) or len(slug) > 100):
        where.bad_value(f"'slug' must be a plain file name (letters, digits, '.', '-', '_'; at most 100), "
                        f"not '{slug[:60]}'", f"write e.g. slug: {slugify(slug)}")
        return None
    return slug


def _lang(value, where: schema.Where):
    lang = schema.text()(value, where)
    if lang and not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*", lang):
        where.bad_value(f"'lang' must be a language tag such as en, ja or en-GB, not '{lang[:40]}'")
        return None
    return lang


def _url(value, where: schema.Where):
    url = schema.text()(value, where)
    if url and not re.fullmatch(r"https?://[^\s/?#<>\"'`]+(/[^\s<>\"'`]*)?", url, re.I):
        where.bad_value(f"'url' must be a web address starting with https:// or http://, not '{url[:60]}'",
                        "write e.g. url: https://www.example.org/alliances/")
        return None
    return url or ""


OPTIONS: dict[str, schema.Option] = {o.key: o for o in (
    schema.Option("title", "The book's title (required).",
                  schema.text(allow_empty=False, example="The Place of Alliances"), "", required=True),
    schema.Option("subtitle", "A subtitle, printed under the title.", schema.text(), ""),
    schema.Option("lang", "The book's language as a BCP 47 tag (default: en).", _lang, "en"),
    schema.Option("date", "Publication date: 2012-03-31, 2012-03 or 2012.", schema.date, ""),
    schema.Option("publisher", "The publisher's name.", schema.text(), ""),
    schema.Option("rights", "A copyright or licence line for the title page verso.", schema.text(), ""),
    schema.Option("url", "The web address the HTML edition is published at (https://example.org/book/): canonical "
                  "links, sitemap.xml and the citation metadata use it.", _url, ""),
    schema.Option("identifier", "The EPUB identifier; derived stably from the title if absent.", schema.text(), ""),
    schema.Option("slug", "Base name of the output files (default: derived from the title).", _slug, ""),
    schema.Option("editors", "Contributor ids of the volume's editors.",
                  schema.text_list(schema.identifier, "contributor ids", "[kubo]"), []),
    schema.Option("authors", "Contributor ids of the book's authors, for an authored book (a monograph): the title "
                  "page says 'by ...' and there is no contributors page unless contributors-page is true.",
                  schema.text_list(schema.identifier, "contributor ids", "[lee]"), []),
    schema.Option("contributors-page", "true or false: print the contributors page (default: true for an edited "
                  "volume, false for a book with authors: and no editors:).", schema.boolean, None),
    schema.Option("contributors", "Contributor id -> {name, affiliation, role}.",
                  schema.mapping_of(schema.record({"name": schema.text(allow_empty=False, example="KUBO Fumiaki"),
                                                   "affiliation": schema.text(), "role": schema.text()},
                                                  "a contributor", required=("name",), shorthand="name"),
                                    "ids to people", "kubo: {name: KUBO Fumiaki, affiliation: ...}"), {}),
    schema.Option("bibliography", "One .bib path or a list of them, relative to the book.", _PATHS, []),
    schema.Option("names", "Name order in citations and the bibliography: 'Family, Given' as the .bib writes it "
                  "-> family-first (Sakurada Daizō) or given-first (the Western order).",
                  schema.mapping_of(schema.one_of("family-first", "given-first"), "names to family-first or given-first",
                                    '"Izumikawa, Yasuhiro": family-first'), {}),
    schema.Option("csl", "A citation style name (default chicago-author-date) or a path to a .csl file.",
                  schema.text(), "chicago-author-date"),
    schema.Option("chapters", "Reading order: chapter paths and {part, id, chapters} groups.",
                  schema.text_list(_chapter_entry, "chapter paths and parts", "[chapters/01-introduction.md]",
                                   keep=True),
                  [], required=True),
    schema.Option("appendices", "Appendix chapter paths, lettered A, B, ...", _CHAPTER_PATHS, []),
    schema.Option("section-depth", "How many heading levels below the chapter are numbered (default 2).",
                  schema.whole_number(0, 5), 2),
    schema.Option("crossref", "Words used for cross-references: " + ", ".join(CROSSREF_WORDS) + ".",
                  schema.mapping_of(_word, "words such as 'figure' to text", "figure: Fig."), {}),
    schema.Option("nocite", "Works the bibliography lists though no chapter cites them, as pandoc's nocite: "
                  "'@walt1987, @snyder1997', or '@*' for every work of the bibliography.",
                  schema.text_list(schema.text(), "citation keys", "'@walt1987, @snyder1997'"), []),
    schema.Option("execute", "How code cells are shown (build_book does not run them): 'echo: false' shows no "
                  "cell's code, as Quarto's execute: echo: false does (a chapter's front matter, a cell's options or "
                  "knitr's opts_chunk$set(echo = ...) may say otherwise).",
                  schema.record({"echo": schema.boolean}, "execute"), {}),
    schema.Option("page-references", "true: PDF cross-references also give the page ('Figure 3.2 on page 45').",
                  schema.boolean, False),
    schema.Option("bibliography-scope", "Where the reference list goes: book (one bibliography at the end, the "
                  "default), chapter (each chapter ends with the works it cites) or both.",
                  schema.one_of("book", "chapter", "both"), "book"),
    schema.Option("reference-section-title", "The heading of the book's reference list, as pandoc names it "
                  "(default Bibliography; 参考文献 in a Japanese book).", schema.text(allow_empty=False,
                                                                                 example="References"), ""),
    schema.Option("cover", "The EPUB's cover image (PNG, JPEG or SVG, a path in the book); default: one made from "
                  "the title page.", schema.path, ""),
    schema.Option("style", "The house style: a style file (style/house.yml), a folder of Vale rule files, or a list.",
                  _PATHS, []),
    schema.Option("diagnostics", "Diagnostic code -> off, warning or error (python -m build_book codes lists them).",
                  schema.mapping_of(_diagnostic_setting, "diagnostic codes to off, warning or error",
                                    "bib-unused: off"), {}),
)}
BOOK_KEYS = {key: option.doc for key, option in OPTIONS.items()}


def _parse(root: Path, doc: yamlpos.Located, name: str = CONFIG_NAME) -> tuple[BookConfig, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    where = schema.Where(doc, name, diags)
    if not isinstance(doc.data, dict):
        raise BuildError([error("config-type", f"{name} must be a mapping of keys to values, not "
                                f"{schema.type_name(doc.data)}", where.location,
                                "start with a line such as 'title: My Book'")])
    data = doc.data
    for keys, line, column in doc.duplicates:
        diags.append(error("config-duplicate-key", f"'{': '.join(map(str, keys))}' is given twice in {name}",
                           Location(name, line, column), "keep one of them; the last one would win silently"))
    values = schema.validate(OPTIONS, data, where, name)

    contributors = {cid: Contributor(cid, person["name"], person["affiliation"] or "", person["role"] or "",
                                     where["contributors"][cid].location)
                    for cid, person in values["contributors"].items()}
    for key, what in (("editors", "editor"), ("authors", "author")):
        for index, eid in enumerate(values[key]):
            if eid not in contributors:
                at = where[key][index] if isinstance(data.get(key), list) else where[key]
                at.error("unknown-contributor", f"{what} '{eid}' is not in 'contributors'",
                         _did_you_mean(eid, contributors))
    contributors_page = values["contributors-page"]
    if contributors_page is None:   # an edited volume lists its contributors; a monograph needs no such page
        contributors_page = bool(values["editors"]) or not values["authors"]

    bibliography = values["bibliography"]
    for index, bib in enumerate(bibliography):
        at = where["bibliography"][index] if isinstance(data.get("bibliography"), list) else where["bibliography"]
        if sandbox.inside(root, bib) is None:
            diags.append(sandbox.outside(bib, at.location, "bibliography file"))
        elif not _is_file(root / bib):
            at.error("missing-file", f"bibliography file '{bib}' does not exist",
                     _missing_file_hint(root, bib, "*.bib", name))

    cover = values["cover"] or ""
    if cover:
        problem = _cover_problem(root, cover, where["cover"].location)
        if problem is not None:
            diags.append(problem)
            cover = ""

    chapters: list[ChapterRef] = []
    parts: list[PartSpec] = []
    for index, item in enumerate(values["chapters"]):
        at = where["chapters"][index] if isinstance(data.get("chapters"), list) else where["chapters"]
        if item is None:    # reported
            continue
        if isinstance(item, str):
            chapters.append(ChapterRef(item, at.location))
            continue
        if not item["chapters"] and "chapters" in data["chapters"][index]:    # (else: 'a part needs chapters')
            name = f"the part '{item['part']}'" if item["part"] else "a part"
            diags.append(warning("part-empty", f"{name} has no chapters, so no edition prints it (nor numbers it)",
                                 at.location, "list its chapters under it (chapters: [chapters/a.md]), or delete "
                                 "the part"))
            continue
        parts.append(PartSpec(item["part"], item["id"] or f"sec-part-{len(parts) + 1}", at.location))
        members = data["chapters"][index].get("chapters")
        for sub, member in enumerate(item["chapters"]):
            member_at = at["chapters"][sub] if isinstance(members, list) else at["chapters"]
            if member is not None:
                chapters.append(ChapterRef(member, member_at.location, part=len(parts) - 1))
    for index, item in enumerate(values["appendices"]):
        at = where["appendices"][index] if isinstance(data.get("appendices"), list) else where["appendices"]
        if item is not None:
            chapters.append(ChapterRef(item, at.location, appendix=True))

    seen: dict[str, Location] = {}
    for ref in chapters:
        if ref.path in seen:
            diags.append(error("duplicate-chapter", f"'{ref.path}' is listed twice", ref.location,
                               f"it is already listed at line {seen[ref.path].line}"))
        seen.setdefault(ref.path, ref.location)
        if sandbox.inside(root, ref.path) is None:
            diags.append(sandbox.outside(ref.path, ref.location, "chapter file"))
        elif not _is_file(root / ref.path):
            kind = _not_a_file(root / ref.path)
            if kind:     # (there, but a folder or a pipe: 'does not exist, did you mean' it would be no help)
                diags.append(error("missing-chapter", f"chapter file '{ref.path}' is {kind}, not a file", ref.location,
                                   "a chapter is a Markdown file: correct the path, or replace what is there"))
            else:
                # (a near name of the chapter's own kind: an .Rmd or .qmd chapter's, not only .md files)
                suffix = Path(ref.path).suffix if Path(ref.path).suffix.lower() in (".qmd", ".rmd") else ".md"
                diags.append(error("missing-chapter", f"chapter file '{ref.path}' does not exist", ref.location,
                                   _missing_file_hint(root, ref.path, "*" + suffix, name)))

    lang = values["lang"]
    language = lang.split("-")[0].lower()
    words = dict(DEFAULT_WORDS.get(language, DEFAULT_WORDS["en"]))
    words.update(values["crossref"])
    for one, several in PLURALS.items():   # 'figure: Fig.' alone: the default 'Figures' would not match it
        if one in values["crossref"] and several not in values["crossref"]:
            words.pop(several, None)
    if values["crossref"] and "and" not in values["crossref"] and language != "en":
        words.pop("and", None)   # words of another language, but for 'and': no references share a word
    title = values["title"]
    identifier = values["identifier"] or f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'build_book:' + title)}"
    return BookConfig(
        root=root, title=title, subtitle=values["subtitle"], lang=lang, date=values["date"],
        publisher=values["publisher"], rights=values["rights"], url=values["url"] or "", identifier=identifier,
        slug=values["slug"] or slugify(title)[:80].strip("-") or "book", editors=tuple(values["editors"]),
        authors=tuple(values["authors"]), contributors_page=contributors_page, contributors=contributors, bibliography=tuple(bibliography), csl=values["csl"] or "chicago-author-date",
        chapters=tuple(chapters), parts=tuple(parts), section_depth=values["section-depth"], words=words,
        page_references=values["page-references"], bibliography_scope=values["bibliography-scope"] or "book",
        echo=(values["execute"] or {}).get("echo") is not False,
        nocite=tuple(key for text in values["nocite"] if text for key in nocite_keys(text)),
        bibliography_title=values["reference-section-title"] or "",
        names=values["names"], cover=cover,
        diagnostics=values["diagnostics"], style=tuple(values["style"]),
        key_locations={key: where[key].location for key in data},
    ), diags


COVER_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg")


def _cover_problem(root: Path, cover: str, where: Location) -> Diagnostic | None:
    """What is wrong with the cover image book.yml names (outside the book, missing, not an image
    every reading system shows, or damaged), or None."""
    from . import images

    path = sandbox.inside(root, cover)
    if path is None:
        return sandbox.outside(cover, where, "cover image")
    if not _is_file(path):
        return error("missing-file", f"the cover image '{cover}' does not exist", where,
                     _missing_file_hint(root, cover, "*.png"))
    if path.suffix.lower() not in COVER_SUFFIXES:
        return error("cover-format", f"the cover image '{cover}' is not a PNG, JPEG or SVG file", where,
                     "save the cover as PNG or JPEG (1400 x 2100 pixels or more), which every reading system shows")
    return images.problem(path, cover, where)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long for the file system
        return False


def _nearest(word: str, candidates) -> str:
    import difflib

    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else ""


def _did_you_mean(word: str, candidates) -> str:
    close = _nearest(word, candidates)
    return f"did you mean '{close}'?" if close else "add it under 'contributors' in book.yml"


def near_file(root: Path, rel: str, pattern: str) -> str:
    """A file in the same folder whose name is near ``rel``'s (a wrong capital, a typo), or ''."""
    folder = (root / rel).parent
    if not _is_dir(folder):
        return ""
    names = [p.relative_to(root).as_posix() for p in folder.glob(pattern)]
    same = [n for n in names if n.lower() == rel.lower()]
    return same[0] if same else _nearest(rel, names)


def _missing_file_hint(root: Path, rel: str, pattern: str, name: str = CONFIG_NAME) -> str:
    close = near_file(root, rel, pattern)
    if close:
        return f"did you mean '{close}'?"
    # (a bookdown book's paths are written in index.Rmd and _bookdown.yml, a Quarto book's in _quarto.yml: all
    # relative to the book's folder, where build_book reads them from)
    return f"check the path; it is relative to the folder holding {BOOKDOWN_INDEX if name == BOOKDOWN_NAME else name}"


def _not_a_file(path: Path) -> str:
    """What stands at ``path`` if it is there but not a file ('a folder', 'a pipe', ...), else ''."""
    import stat

    try:
        mode = path.stat().st_mode
    except (OSError, ValueError):
        return ""
    return ("a folder" if stat.S_ISDIR(mode) else "a pipe" if stat.S_ISFIFO(mode) else
            "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "")


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


# --- a Quarto book project: _quarto.yml read as the book.yml it stands for ---------------------------

QUARTO_BOOK_KEYS = ("title", "subtitle", "author", "date", "chapters", "appendices", "site-url")
QUARTO_TOP_KEYS = ("project", "book", "bibliography", "csl", "lang", "reference-section-title", "nocite")
FORMAT_ORDER = ("html", "pdf", "epub")   # whose bibliography, csl or lang is taken, when only formats give one


def load_quarto_config(root: Path) -> tuple[BookConfig, list[Diagnostic]]:
    """Read a Quarto book project's ``_quarto.yml`` (``project: type: book``): its title, subtitle,
    author(s), date, chapters and parts, appendices, bibliography, csl, lang and reference-section-title
    become the book's configuration, with the same checks as book.yml; the keys build_book does not use are
    named once."""
    rel = QUARTO_NAME
    doc = _read_yaml(root, rel)
    data = doc.data if isinstance(doc.data, dict) else {}
    project = data.get("project")
    kind = project.get("type") if isinstance(project, dict) else None
    if kind != "book":
        raise BuildError([error("config-missing", f"no {CONFIG_NAME} in {root}, and its {rel} is not a Quarto book "
                                f"project (project: type: {kind or 'missing'})", Location(rel, *doc.where("project")),
                                f"build_book reads a {rel} with 'project: type: book'; for anything else write a "
                                f"{CONFIG_NAME} (see README.md)")])
    book = data.get("book") if isinstance(data.get("book"), dict) else {}
    out: dict = {}
    marks: dict[tuple, tuple[int, int]] = {(): doc.where()}

    def take(new: tuple, old: tuple, value) -> None:   # value at ``new`` with the positions of ``old``
        out[new[0]] = value
        for path, mark in doc.marks.items():
            if path[:len(old)] == old:
                marks[new + path[len(old):]] = mark

    for key in ("title", "subtitle", "date", "appendices"):
        if key in book:
            take((key,), ("book", key), book[key])
    if "date" in out:
        out["date"] = _quarto_date(out["date"])
    if "site-url" in book:   # where the web edition is published: book.yml's url:
        take(("url",), ("book", "site-url"), book["site-url"])
    formats = data.get("format") if isinstance(data.get("format"), dict) else {}
    if "nocite" in data:
        take(("nocite",), ("nocite",), data["nocite"])
    for key in ("bibliography", "csl", "lang", "reference-section-title"):
        if key in data:
            take((key,), (key,), data[key])
            continue
        # else as a format gives it (format: html: bibliography: ...), which Quarto reads as well
        for name in sorted(formats, key=lambda f: FORMAT_ORDER.index(f) if f in FORMAT_ORDER else len(FORMAT_ORDER)):
            options = formats[name]
            if isinstance(options, dict) and key in options:
                value = options[key]
                if key == "lang" and isinstance(value, str):   # a locale's spelling: ja_JP.UTF-8
                    value = value.split(".")[0].replace("_", "-")
                take((key,), ("format", name, key), value)
                break
    execute = data.get("execute") if isinstance(data.get("execute"), dict) else {}
    if isinstance(execute.get("echo"), bool):   # whether cells show their code (what else execute: says is for
        take(("execute",), ("execute",), {"echo": execute["echo"]})    # running code, which build_book does not)
    unprinted: list[Diagnostic] = []
    if "chapters" in book:
        take(("chapters",), ("book", "chapters"), _quarto_chapters(root, book["chapters"], unprinted))
    if "appendices" in out:
        out["appendices"] = _quarto_chapters(root, out["appendices"], unprinted)
    if "author" in book:
        _take_authors(out, marks, doc, ("book", "author"), data.get("affiliations"))
    used = ("affiliations",) if "author" in book else ()   # where authors' affiliations: refer to them
    used += ("execute",) if "execute" in out else ()
    ignored = [("book", k) for k in book if k not in QUARTO_BOOK_KEYS] + \
              [(k,) for k in data if k not in QUARTO_TOP_KEYS + used and k != "book"] + \
              [("execute", k) for k in execute if k != "echo" and "execute" in out] + \
              [("project", k) for k in (project or {}) if k != "type"]
    config, diags = _parse(root, yamlpos.Located(out, marks, []), rel)
    diags += unprinted
    if ignored:
        names = ", ".join(": ".join(map(str, k)) for k in ignored)
        diags.append(warning("quarto-ignored", f"build_book does not use these keys of {rel}: {names}",
                             Location(rel, *doc.where(*ignored[0])),
                             "they are Quarto's (formats, website, execution, ...); build_book reads title, "
                             "subtitle, author, date, chapters, appendices, bibliography, csl, lang and "
                             "reference-section-title (at the top, or else under a format), and "
                             "makes its own PDF, EPUB and HTML editions"))
    return config, diags


def _take_authors(out: dict, marks: dict, doc: yamlpos.Located, at: tuple, affiliations) -> None:
    """A Quarto or bookdown book's author(s) (at ``at`` in ``doc``: a name, or a list of names or of Quarto's
    {name, affiliation(s)}) as the book's authors and contributors: such a book is written by its authors (Quarto
    and bookdown have no notion of an edited volume)."""
    value = doc.data
    for key in at:
        value = value[key]
    authors = value if isinstance(value, list) else [value]
    people: dict = {}
    for i, person in enumerate(authors):
        name = person.get("name") if isinstance(person, dict) else person
        if isinstance(name, dict):   # Quarto's {name: {given, family}} (or {literal: ...})
            name = str(name.get("literal", "")) or " ".join(str(name.get(k, "")) for k in ("given", "family"))
        if not isinstance(name, str) or not name.strip():
            continue
        cid = slugify(name) or f"author-{i + 1}"
        affiliation = ""
        if isinstance(person, dict):   # Quarto's affiliation: or affiliations:, names or refs to ids
            affiliation = person.get("affiliation", person.get("affiliations", ""))
        if not isinstance(affiliation, list):
            affiliation = [affiliation]
        affiliation = "; ".join(filter(None, (_affiliation(a, affiliations) for a in affiliation)))
        people[cid] = {"name": name.strip(), "affiliation": str(affiliation or "")}
        where = doc.where(*at, i) if isinstance(value, list) else doc.where(*at)
        marks[("contributors", cid)] = marks[("authors", len(people) - 1)] = where
    out["contributors"], out["authors"] = people, list(people)
    marks[("contributors",)] = marks[("authors",)] = doc.where(*at)


# --- a bookdown book: its _bookdown.yml and index.Rmd's front matter, read as the book.yml they stand for --------

BOOKDOWN_FRONT_KEYS = ("title", "subtitle", "author", "date", "bibliography", "csl", "lang", "nocite",
                       "reference-section-title", "url", "cover-image")
BOOKDOWN_KEYS = ("rmd_files", "rmd_subdir", "language")
# what a bookdown book's word for a figure, table, equation or chapter is written in (language: label: / ui:)
BOOKDOWN_WORDS = {("label", "fig"): "figure", ("label", "tab"): "table", ("label", "eq"): "equation",
                  ("ui", "chapter_name"): "chapter"}
R_DATE = re.compile(r"`r\s+(?:format\()?\s*Sys\.(?:Date|time)\(\)[^`]*`")   # '`r Sys.Date()`': the day it is built


def load_bookdown_config(root: Path) -> tuple[BookConfig, list[Diagnostic]]:
    """Read a bookdown book: the chapters ``_bookdown.yml`` lists (``rmd_files``), or else every .Rmd file of
    the folder (and its subfolders with ``rmd_subdir``) but those whose name begins with '_', index.Rmd first and
    the others by name, as bookdown merges them; the words of ``language:``; and the book's title, subtitle,
    author(s), date, bibliography, csl, lang, nocite, url and cover image from the first chapter's front matter
    (index.Rmd's), which is the book's, not that chapter's. The keys build_book does not use are named once."""
    diags: list[Diagnostic] = []
    setup = _read_yaml(root, BOOKDOWN_NAME, r_code=True) if _is_file(root / BOOKDOWN_NAME) else \
        yamlpos.Located({}, {(): (1, 1)})
    data = setup.data if isinstance(setup.data, dict) else {}
    if setup.data is not None and not isinstance(setup.data, dict):
        diags.append(error("config-type", f"{BOOKDOWN_NAME} must be a mapping of keys to values, not "
                           f"{schema.type_name(setup.data)}", Location(BOOKDOWN_NAME, 1, 1), "see bookdown's manual"))
    out: dict = {}
    marks: dict[tuple, tuple[int, int]] = {(): (1, 1)}
    files: dict[tuple, str] = {}
    listed = data.get("rmd_files")
    if isinstance(listed, dict):     # {html: [...], latex: [...]}: the web book's
        key = next((k for k in ("html", "latex", *listed) if isinstance(listed.get(k), (list, str))), None)
        at = ("rmd_files", key) if key else ("rmd_files",)
        listed = listed.get(key) if key else None
    else:
        at = ("rmd_files",)
    if isinstance(listed, str):      # one file: R reads a text as a list of one
        listed, marks[("chapters", 0)] = [listed], setup.where(*at)
    if isinstance(listed, list):
        # index.Rmd first, wherever it is listed, as bookdown merges them
        order = sorted(range(len(listed)), key=lambda i: not (isinstance(listed[i], str)
                                                              and _without_ext(listed[i]) == "index"))
        out["chapters"] = [listed[i] for i in order]
        for path, mark in setup.marks.items():
            if path[:len(at)] == at and len(path) > len(at) and isinstance(path[len(at)], int) \
                    and path[len(at)] < len(order):
                marks[("chapters", order.index(path[len(at)])) + path[len(at) + 1:]] = mark
            elif path == at:
                marks[("chapters",)] = mark
    else:
        out["chapters"] = _bookdown_files(root, data.get("rmd_subdir"), setup, diags)
        marks[("chapters",)] = (1, 1)
    files[("chapters",)] = BOOKDOWN_NAME
    first = out["chapters"][0] if out["chapters"] and isinstance(out["chapters"][0], str) else BOOKDOWN_INDEX
    front, front_at = _bookdown_front(root, first, diags)
    computed = [k for k, v in front.data.items() if isinstance(v, yamlpos.RCode)]   # ('date: !r Sys.Date()')
    for key in ("title", "subtitle", "bibliography", "csl", "lang", "nocite", "reference-section-title", "url",
                "cover-image"):
        if key in front.data and key not in computed:
            new = "cover" if key == "cover-image" else key
            out[new] = front.data[key]
            if key == "url" and isinstance(out[new], str):   # (pandoc reads it as Markdown: bookdown-demo's
                out[new] = out[new].replace("\\:", ":")      # 'https\://...' escapes the colon, read as ':')
            for path, mark in front.marks.items():
                if path[:1] == (key,):
                    marks[(new,) + path[1:]] = (mark[0] + 1, mark[1])
            files[(new,)] = first
    if out.get("title") is None or (isinstance(out["title"], str) and not out["title"].strip()):
        # (bookdown needs none, build_book does: asked for where it is written, not in _bookdown.yml; where
        # index.Rmd is missing, missing-chapter says so)
        at = Location(first, *front_at("title")) if "title" in front.data else Location(first, 1, 1)
        said = f"the book has no title: {first}'s front matter (which is the book's) gives none" \
            if "title" not in front.data or "title" in computed else \
            f"the book's title is empty in {first}'s front matter"
        if _is_file(root / first):
            diags.append(error("config-missing-key", said, at, f"write it in the front matter at the top of "
                               f"{first}: ---, a line 'title: ...', ---"))
        out["title"], files[("title",)] = root.name or "book", first
    ignored = [k for k in front.data if (k not in BOOKDOWN_FRONT_KEYS and k != "site") or k in computed]
    if "date" in front.data and "date" not in computed:
        date = front.data["date"]
        if isinstance(date, str) and R_DATE.fullmatch(date.strip()):
            date = _dt.date.today().isoformat()
        if isinstance(date, str) and "`r " in date:
            ignored.append("date")     # (what R would compute)
        else:
            out["date"] = _quarto_date(date)
            marks[("date",)], files[("date",)] = front_at("date"), first
    if "author" in front.data and "author" not in computed:
        shifted = yamlpos.Located(front.data, {k: (m[0] + 1, m[1]) for k, m in front.marks.items()})
        _take_authors(out, marks, shifted, ("author",), None)
        files[("contributors",)] = files[("authors",)] = first
    language = data.get("language") if isinstance(data.get("language"), dict) else {}
    words, computed_words = _bookdown_words(language, data, setup, diags)
    if words:
        out["crossref"] = {word: text for word, (text, _) in words.items()}
        marks.update({("crossref", word): where for word, (_, where) in words.items()})
        marks[("crossref",)], files[("crossref",)] = setup.where("language"), BOOKDOWN_NAME
    known = {("label", k) for k in ("fig", "tab", "eq")} | {("ui", "chapter_name")}
    setup_ignored = [(k,) for k in data if k not in BOOKDOWN_KEYS] + [
        (("language", g, n)) for g, names in language.items() if isinstance(names, dict) for n in names
        if (g, n) not in known] + computed_words
    config, more = _parse(root, yamlpos.Located(out, marks, [], files=files), BOOKDOWN_NAME)
    # the first chapter's front matter is the book's: the chapter's title is its '# ' heading
    chapters = tuple(replace(ref, book_front=True) if ref.path == first and n == 0 else ref
                     for n, ref in enumerate(config.chapters))
    config = replace(config, chapters=chapters)
    if not config.parts:
        config = _bookdown_part_headings(root, config)
    written = _bibs_r_writes(root, [ref.path for ref in config.chapters])
    for i, d in enumerate(more):     # (bookdown-demo's 'knitr::write_bib(..., "packages.bib")', the file not kept)
        bib = next((b for b in config.bibliography if d.code == "missing-file"
                    and d.message == f"bibliography file '{b}' does not exist" and b in written), None)
        if bib is not None:
            path, line = written[bib]
            more[i] = warning("code-not-executed", f"bibliography file '{bib}' does not exist: the R code at "
                              f"{path}:{line} (knitr::write_bib) would write it, which build_book does not run; "
                              "the book is built without it", d.location,
                              f"keep the {bib} that bookdown wrote with the book, or take it off bibliography:")
            config = replace(config, bibliography=tuple(b for b in config.bibliography if b != bib))
    diags += more
    if ignored:
        diags.append(warning("bookdown-ignored", f"build_book does not use these keys of {first}'s front matter: "
                             + ", ".join(map(str, ignored)), Location(first, *front_at(ignored[0])),
                             "they are bookdown's or LaTeX's (output formats, LaTeX class, natbib style, ...), or R "
                             "code build_book does not run; build_book reads title, subtitle, author, date, "
                             "bibliography, csl, lang, nocite, url and cover-image, and makes its own PDF, EPUB and "
                             "HTML editions"))
    if setup_ignored:
        names = ", ".join(": ".join(map(str, k)) for k in setup_ignored)
        diags.append(warning("bookdown-ignored", f"build_book does not use these keys of {BOOKDOWN_NAME}: {names}",
                             Location(BOOKDOWN_NAME, *setup.where(*setup_ignored[0])),
                             ("a value written as R code (!expr, !r) is R's to compute, which build_book does not "
                              "run: write it out as text (chapter_name: \"Chapter \"); " if computed_words else "")
                             + "build_book reads rmd_files, rmd_subdir and language's label: fig, tab, eq and "
                             "ui: chapter_name, and makes its own editions"))
    return config, diags


def _bookdown_words(language: dict, data: dict, setup: yamlpos.Located, diags: list[Diagnostic]
                    ) -> tuple[dict[str, tuple[str, tuple[int, int]]], list[tuple]]:
    """The words of _bookdown.yml's language: (label: fig, tab, eq; ui: chapter_name) as book.yml's crossref:
    words, each with where it is written; and the places of those written as R code (which build_book does not
    run). A value of another shape is named, and not read."""
    words: dict[str, tuple[str, tuple[int, int]]] = {}
    computed: list[tuple] = []

    def unread(path: tuple, value, expected: str) -> None:     # (bookdown would stop at it; build_book goes on)
        diags.append(warning("config-type", f"'{' → '.join(path)}' must be {expected}, not {schema.type_name(value)}: "
                             "it is not read", Location(BOOKDOWN_NAME, *setup.where(*path)),
                             "see bookdown's manual, 'Internationalization'"))

    if "language" in data and not isinstance(data["language"], dict):
        unread(("language",), data["language"], "a mapping (label:, ui:)")
    for group in ("label", "ui"):
        if group in language and not isinstance(language[group], dict):
            unread(("language", group), language[group], "a mapping of names to words")
    for (group, name), word in BOOKDOWN_WORDS.items():
        value = language.get(group, {}).get(name) if isinstance(language.get(group), dict) else None
        if isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value):
            value = f"{value[0].strip()}%s{value[1].strip()}"    # ['第', '章']: 第1章
        if isinstance(value, str) and value.strip().rstrip(":").strip():
            words[word] = (value.strip().rstrip(":").strip(), setup.where("language", group, name))
        elif isinstance(value, yamlpos.RCode):      # '!expr function(i) ...': named, the word left as it is
            computed.append(("language", group, name))
        elif value is not None:
            unread(("language", group, name), value, "a word, or two around the number (['第', '章'])")
    return words, computed


# bookdown's part heading, '# (PART) Cases {-}' ('(PART*)' unnumbered), and the one that begins the appendices
BOOKDOWN_PART = re.compile(r"^#[ \t]+\((PART|APPENDIX)(?:\\?\*)?\)[ \t]*(.*?)[ \t]*(?:\{[^{}\n]*\})?[ \t]*$")
LEVEL_ONE = re.compile(r"^#[ \t]+\S")
FENCE_LINE = re.compile(r"^[ \t]*(`{3,}|~{3,})")


def _bookdown_part_headings(root: Path, config: BookConfig) -> BookConfig:
    """A bookdown book's parts and appendices, as bookdown reads them from its chapters' headings: a part heading
    ('# (PART) Cases {-}') begins a part of the chapters from the one after it (in its file or the next) to the
    next part heading, and '# (APPENDIX) Appendices {-}' makes the chapters after it appendices. A file of a part
    heading alone (bookdown's books often give each part one) is no chapter of its own."""
    parts: list[PartSpec] = []
    chapters: list[ChapterRef] = []
    part, appendix, found = None, False, False
    for ref in config.chapters:
        path = sandbox.inside(root, ref.path)
        try:
            text = path.read_text(encoding="utf-8", errors="replace") if path and _is_file(path) else ""
        except OSError:
            text = ""
        fence, headings, other = None, [], False
        lines = text.removeprefix("\ufeff").replace("\r\n", "\n").split("\n")
        start = 0
        if lines and lines[0].strip() == "---":     # (the front matter)
            start = next((i + 1 for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), 0)
        for number, line in enumerate(lines[start:], start + 1):
            mark = FENCE_LINE.match(line)
            if fence:
                if mark and mark.group(1)[0] == fence[0] and len(mark.group(1)) >= len(fence):
                    fence = None
                continue
            if mark:
                fence, other = mark.group(1), True
                continue
            heading = BOOKDOWN_PART.match(line)
            if heading:
                headings.append((number, heading.group(1), heading.group(2)))
            elif LEVEL_ONE.match(line):
                headings.append((number, "", ""))
            elif line.strip() and not line.lstrip().startswith("<!--"):
                other = True
        alone = bool(headings) and all(kind for _, kind, _ in headings) and not other
        own = next((i for i, (_, kind, _) in enumerate(headings) if not kind), len(headings))
        # part headings before the chapter's title begin with it; those after it (in a file of several
        # chapters, which build_book prints as one), with the next file
        for nth, group in enumerate((headings[:own], [h for h in headings[own:] if h[1]])):
            if nth == 1 and not alone:
                chapters.append(replace(ref, part=part, appendix=appendix, parts_read=True))
            for number, kind, title in group:
                if kind == "PART":
                    parts.append(PartSpec(title, f"sec-part-{len(parts) + 1}", Location(ref.path, number, 1)))
                    part, appendix, found = len(parts) - 1, False, True
                else:
                    part, appendix, found = None, True, True
    if not found:
        return config
    # (a part heading no chapter follows before the next one has nothing to print: no part, nor a number)
    used = sorted({ref.part for ref in chapters if ref.part is not None})
    new = {old: n for n, old in enumerate(used)}
    parts = [replace(parts[old], label=f"sec-part-{n + 1}") for n, old in enumerate(used)]
    chapters = [replace(ref, part=new[ref.part]) if ref.part is not None else ref for ref in chapters]
    return replace(config, chapters=tuple(chapters), parts=tuple(parts))


WRITE_BIB = re.compile(r"\bwrite_bib\s*\(")
# an R cell knitr runs: its fence, header ('```{r ...}', not eval=FALSE) and code
R_CELL = re.compile(r"^([ \t]*)(`{3,}|~{3,})[ \t]*\{[ \t]*r\b(?![^}\n]*\beval\s*=\s*(?:FALSE|F)\b)[^\n]*\}[ \t]*\n"
                    r"(.*?)^\1\2[`~]*[ \t]*$", re.M | re.S)
QUOTED_BIB = re.compile(r"""["']([^"'\n]+\.bib)["']""")


def _bibs_r_writes(root: Path, chapters: list[str]) -> dict[str, tuple[str, int]]:
    """The .bib files the chapters' R code writes with knitr::write_bib (bookdown-demo's index.Rmd writes
    packages.bib so), each with the chapter and line that writes it."""
    found: dict[str, tuple[str, int]] = {}
    for rel in chapters:
        path = sandbox.inside(root, rel)
        try:
            text = path.read_text(encoding="utf-8", errors="replace") if path and _is_file(path) else ""
        except OSError:
            continue
        for cell in R_CELL.finditer(text.replace("\r\n", "\n")):    # (in R code knitr runs: not in shown code)
            code = "\n".join("" if line.lstrip().startswith("#") else line for line in cell.group(3).split("\n"))
            for call in WRITE_BIB.finditer(code):
                name = QUOTED_BIB.search(code, call.end())
                if name:
                    line = text.count("\n", 0, cell.start(3)) + code.count("\n", 0, call.start()) + 1
                    found.setdefault(name.group(1).removeprefix("./"), (rel, line))
    return found


def _without_ext(path: str) -> str:
    """A path without its extension ('index.Rmd': 'index'), as bookdown's with_ext(files, '') reads it."""
    stem, dot, ext = path.rpartition(".")
    return stem if dot and "/" not in ext else path


def _bookdown_files(root: Path, subdir, setup: yamlpos.Located, diags: list[Diagnostic]) -> list[str]:
    """The .Rmd files bookdown merges when _bookdown.yml lists none, as its source_files() lists them: the
    folder's, by name, then (``rmd_subdir: true``) its subfolders' or (a folder's name, or a list of them) those
    folders', by path; but those whose name begins with '_', and index.Rmd first."""
    def chapter(p: Path) -> bool:
        return p.suffix.lower() == ".rmd" and not p.name.startswith("_") and p.is_file()

    own = sorted(p.name for p in root.glob("*") if chapter(p))
    names = [subdir] if isinstance(subdir, str) else subdir if isinstance(subdir, list) else \
        ["."] if subdir is True else []
    deeper: set[str] = set()
    for i, name in enumerate(names):
        at = Location(BOOKDOWN_NAME, *(setup.where("rmd_subdir", i) if isinstance(subdir, list)
                                        else setup.where("rmd_subdir")))
        if not isinstance(name, str) or not name.strip():
            diags.append(error("config-type", f"rmd_subdir's folder must be a folder's name, not "
                               f"{schema.type_name(name)}", at, "e.g. rmd_subdir: [chapters]"))
            continue
        folder = sandbox.inside(root, name)
        if folder is None:
            diags.append(sandbox.outside(name, at, "chapter folder"))
            continue
        top = sandbox.inside(root, ".") or root
        deeper |= {p.relative_to(top).as_posix() for p in folder.rglob("*")
                   if chapter(p) and p.parent != top and p.relative_to(top).parts[0] != "build"}
    paths = list(dict.fromkeys(own + sorted(deeper)))
    return sorted(paths, key=lambda p: _without_ext(p) != "index")


def _bookdown_front(root: Path, first: str, diags: list[Diagnostic]):
    """The front matter of a bookdown book's first chapter (its keys and their places, the lines counted from the
    front matter's first), and a function giving a key's Location in the chapter file."""
    empty = yamlpos.Located({}, {})
    path = sandbox.inside(root, first)
    try:
        text = path.read_text(encoding="utf-8").removeprefix("\ufeff").replace("\r\n", "\n") if path else ""
    except (OSError, UnicodeDecodeError):
        text = ""       # (the chapter's own problem, which loading it reports)
    from .early import FRONT_MATTER_END, FRONT_MATTER_OPEN
    opening = FRONT_MATTER_OPEN.match(text)
    end = FRONT_MATTER_END.search(text, opening.end()) if opening else None
    front = empty
    if end is not None:
        try:
            front = yamlpos.load(text[opening.end():end.start()], r_code=True)
        except yamlpos.YamlError as exc:
            raise BuildError([error("config-yaml", exc.message, Location(first, exc.line + 1, exc.column),
                                    exc.hint or "check indentation, colons and quotes around this line")]) from None
        if not isinstance(front.data, dict):
            front = empty
        for keys, line, column in front.duplicates:
            diags.append(error("config-duplicate-key", f"'{': '.join(map(str, keys))}' is given twice in the front "
                               f"matter of {first}", Location(first, line + 1, column), "keep one of them; the last "
                               "one would win silently"))

    def where(key) -> tuple[int, int]:
        line, column = front.where(key)
        return (line + 1, column)      # (the front matter begins on the file's line 2)

    return front, where


def nocite_keys(text: str) -> list[str]:
    """The keys pandoc's nocite names ('@walt1987, @snyder1997'; '@*': '*'); a key written without its '@'
    too (a list of keys)."""
    found = re.findall(r"@(\*|\{[^}\s]+\}|[\w][\w:.#$%&\-+?<>~/]*)", text)
    if not found and re.fullmatch(r"\s*[\w][\w:.#$%&\-+?<>~/]*\s*", text):
        found = [text.strip()]
    return [key.strip("{}") for key in found]


def _affiliation(value, known) -> str:
    """One of a Quarto author's affiliations as a name: written out, {name: ...}, or {ref: id} naming one of
    the project's top-level affiliations: (a list of {id:, name:})."""
    if isinstance(value, dict) and "ref" in value and "name" not in value:
        found = [a for a in known if isinstance(a, dict) and a.get("id") == value["ref"]] if isinstance(
            known, list) else []
        value = found[0] if found else {}
    if isinstance(value, dict):
        value = value.get("name", "")
    return str(value or "").strip()


# the ways of writing a date that Quarto reads (besides ISO), as strptime formats
QUARTO_DATES = ("%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y", "%m/%d/%Y",
                "%Y/%m/%d", "%d.%m.%Y", "%B %Y", "%b %Y")


def _quarto_date(value):
    """Quarto's date: as written (ISO or a year), 'today', 'now' and 'last-modified' as today, and the usual
    written forms ('19 May 2023', 'May 19, 2023', '5/19/2023') as an ISO date; anything else is left for the
    date check to report."""
    if not isinstance(value, str):
        return value
    text = " ".join(value.split())
    if text.lower() in ("today", "now", "last-modified"):
        return _dt.date.today().isoformat()
    for form in QUARTO_DATES:
        try:
            found = _dt.datetime.strptime(text, form).date()
        except ValueError:
            continue
        return found.isoformat()[:7] if "%d" not in form else found.isoformat()
    return value


def _quarto_chapters(root: Path, items, unprinted: list[Diagnostic]):
    """Quarto's chapter list as book.yml writes it: ``{href: file}`` entries become the file, and a part
    named by a file (``part: part1.qmd``) takes that file's title; text the file holds besides is not printed,
    and ``unprinted`` says so (quarto-part-text)."""
    if not isinstance(items, list):
        return items
    out = []
    for item in items:
        if isinstance(item, dict) and "href" in item and "part" not in item:
            out.append(item["href"])
        elif isinstance(item, dict) and "part" in item:
            part = dict(item)
            title = part.get("part")
            if isinstance(title, str) and title.endswith((".qmd", ".md")) and sandbox.inside(root, title):
                found, line, label = _part_file(root / title)
                part["part"] = found or title
                if label and "id" not in part:      # '# Numeric Overview {#sec-numeric}': the part's label
                    part["id"] = label
                if line:
                    unprinted.append(warning(
                        "quarto-part-text", f"the part file's text after its title is not printed: build_book "
                        f"prints a part ('{part['part']}') as its title alone", Location(title, line, 1),
                        "move the text into the part's first chapter (or the preface); a citation or "
                        "cross-reference in it is not checked either"))
            part["chapters"] = _quarto_chapters(root, part.get("chapters"), unprinted)
            out.append(part)
        else:
            out.append(item)
    return out


def _part_file(path: Path) -> tuple[str, int | None, str]:
    """A Quarto part file's title (its front matter's title or its first level-1 heading; "" if neither), the
    line where its text begins after its front matter and title heading, if it has any (not counting blank
    lines and HTML comments), and its heading's label, if it is a part's ('sec-x'; else "")."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError):
        return "", None, ""
    heading = re.search(r"^#\s+(.+?)\s*(\{.*\})?\s*$", text, re.M)
    found = re.search(r"^title:\s*[\"']?(.+?)[\"']?\s*$", text, re.M) or heading
    title = found.group(1).strip() if found else ""
    label = re.search(r"(?<![^\s{])#(sec[-:][^\s{}]+)", heading.group(2) or "") if heading else None
    label = label.group(1).replace(":", "-", 1) if label else ""
    lines = text.splitlines()
    start = 0
    if lines and lines[0].strip() == "---":
        start = next((i + 1 for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), len(lines))
    titled = False
    for number in range(start, len(lines)):
        line = lines[number].strip()
        if not line or (line.startswith("<!--") and line.endswith("-->")):
            continue
        if not titled and re.match(r"#\s", line):
            titled = True
            continue
        return title, number + 1, label
    return title, None, label
