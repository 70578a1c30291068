"""House style: one book, one way of writing it.

An edited volume has many authors who write "US" and "U.S.", "defense" and
"defence", "Ryukyu" and "Ryūkyū". The book names its house style in book.yml
(``style: style/house.yml``: a file, a folder of rule files, or a list of them),
and ``check`` reports, at the author's line and column and with the replacement,
every place that departs from it:

- preferred terms and their variants (``style-term``), romanised names and their
  variants, contributor names in book.yml included (``style-name``);
- mojibake, text that was UTF-8 but was read as Latin-1 or Windows-1252
  (``Â…``, ``â€™``, ``Ã©``), found by decoding suspicious runs again
  (``style-mojibake``);
- quotation marks and apostrophes pandoc's ``smart`` reading would not turn into
  the right typographic mark, and straight quotes in text pandoc never reads
  (chapter abstracts, book.yml) (``style-quotes``); ``--`` used as a dash where
  the house style wants an em dash, spaced en dashes, and a range of years, days
  or pages joined by a hyphen (1993-94) rather than an en dash (``style-dash``);
- without any rule, a word the book spells two ways (``style-inconsistent``):
  hyphenated and closed forms, abbreviations with and without full stops,
  British and American spellings, names with and without macrons.

Only the authors' own prose is checked: quotations (block quotes and quoted
text), code, web addresses, citations and the bibliography are never reported
as departures (mojibake, being damage rather than style, is reported in
quotations too). The work is done on pandoc's document, which knows what is
quoted and what is code; each paragraph, cell, heading or note is then found again
in the source file by its words, and each finding in it, for its line and column.

Rule files in Vale's format (``extends: substitution`` with ``swap:``,
``extends: existence`` with ``tokens:`` or ``raw:``; ``message``, ``level``,
``ignorecase``, ``nonword``, ``exceptions``) are accepted as they are.
"""

from __future__ import annotations

import bisect
import json
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from . import cache as cachefile
from . import sandbox, yamlpos
from .diagnostics import Diagnostic, Location, error, line_column, warning
from .model import Book

HOUSE_KEYS = ("terms", "names", "exceptions", "dashes", "quotes", "mojibake", "inconsistencies")
DASH_STYLES = ("em", "spaced-en", "off")
MAX_FINDINGS_PER_CHAPTER = 200

# --------------------------------------------------------------------------------- the rules


@dataclass(frozen=True)
class Rule:
    """One rule: a pattern of what departs from the house style and what to write instead."""

    code: str                    # style-term or style-name
    pattern: re.Pattern
    message: str                 # with {found} and {want}
    replace: dict | None         # found text -> replacement; None: ask the pattern's own rule (Vale)
    origin: Location
    severity: str | None = None  # a Vale rule's level; None: the code's default
    exceptions: tuple = ()       # matched texts (lower case) never reported
    template: dict | None = None  # a Vale rule's swap values by group (may hold $1); None: no replacement
    fixable: bool = True
    keys: tuple = ()             # the forms this rule governs (for the inconsistency check)
    vale: bool = False           # message written Vale's way, with %s

    def render(self, want: str | None, found: str) -> str:
        if not self.vale:
            return self.message.format(want=want or "", found=found)
        values = [want, found] if self.template is not None else [found]
        parts = self.message.split("%s")
        out = parts[0]
        for i, part in enumerate(parts[1:]):
            out += (values[i] if i < len(values) and values[i] is not None else "%s") + part
        return out

    def replacement(self, match: re.Match) -> str | None:
        found = match.group(0)
        if self.replace is not None:
            return self.replace.get(found)
        if self.template is None:
            return None
        for name, value in match.groupdict().items():
            if value is not None and name.startswith("r") and self.template.get(name) is not None:
                want = self.template[name]
                return re.sub(r"\$(\d)", lambda m: _group(match, name, int(m.group(1))), want)
        return None


def _group(match: re.Match, name: str, n: int) -> str:
    # Vale's $1 in a swap value is the first group inside that key's own pattern
    start = match.re.groupindex[name]
    try:
        return match.group(start + n) or ""
    except IndexError:
        return ""


@dataclass
class HouseStyle:
    rules: list[Rule] = field(default_factory=list)
    exceptions: tuple[str, ...] = ()
    dashes: str = "em"
    quotes: bool = True
    mojibake: bool = True
    inconsistencies: bool = True
    files: tuple[str, ...] = ()

    def governs(self, form: str) -> bool:
        """Does a rule already say how to write this form (so the inconsistency check keeps quiet)?"""
        low = form.lower()
        return any(low in rule.keys for rule in self.rules)


def load(book: Book) -> tuple[HouseStyle | None, list[Diagnostic]]:
    """The house style book.yml names (None if it names none) and every problem in its files."""
    config = book.config
    if not config.style:
        return None, []
    style = HouseStyle(files=config.style)
    diags: list[Diagnostic] = []
    for name in config.style:
        path = sandbox.inside(config.root, name)
        if path is None:
            diags.append(sandbox.outside(name, config.where("style"), "style file"))
            continue
        try:
            if path.is_dir():
                files = sorted(p for p in path.rglob("*.yml")
                               if p.is_file() and sandbox.inside(config.root, p) is not None)
                if not files:
                    diags.append(error("style-rule", f"the style folder '{name}' holds no .yml rule files",
                                       config.where("style"), "put house.yml or Vale rule files (*.yml) in it"))
                for rule_file in files:
                    _load_file(rule_file, (Path(name) / rule_file.relative_to(path)).as_posix(), style, diags)
            elif path.is_file():
                _load_file(path, Path(name).as_posix(), style, diags)
            else:
                diags.append(error("missing-file", f"style file '{name}' does not exist", config.where("style"),
                                   "write the house style there (see README.md, 'House style'), "
                                   "or correct the path"))
        except OSError as exc:
            diags.append(error("style-rule", f"the style '{name}' cannot be read: {exc.strerror or exc}",
                               config.where("style")))
    return style, diags


def _load_file(path: Path, rel: str, style: HouseStyle, diags: list[Diagnostic]) -> None:
    try:
        text = path.read_text(encoding="utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        diags.append(error("style-rule", "the style file is not UTF-8", Location(rel, 1, 1), "save it as UTF-8"))
        return
    try:
        doc = yamlpos.load(text)
    except yamlpos.YamlError as exc:
        diags.append(error("style-rule", f"the style file is not valid YAML: {exc.message}",
                           Location(rel, exc.line, exc.column), exc.hint or "check indentation and quotes"))
        return
    data = doc.data
    if data is None:
        return
    if not isinstance(data, dict):
        diags.append(error("style-rule", "a style file must be 'key: value' lines", Location(rel, 1, 1),
                           "start with e.g. 'terms:' (a house style) or 'extends: substitution' (a Vale rule)"))
        return

    def at(*keys) -> Location:
        try:
            line, column = doc.where(*keys)
        except (KeyError, IndexError, TypeError):
            line, column = 1, 1
        return Location(rel, line, column)

    if "extends" in data:
        _vale_rule(data, rel, at, style, diags, path.stem)
    else:
        _house_file(data, rel, at, style, diags)


def _is_text_map(value) -> bool:
    return isinstance(value, dict)


def _word_pattern(variant: str, ignorecase: bool = False) -> str:
    body = re.escape(variant)
    if not ignorecase and variant[:1].islower():
        body = f"[{re.escape(variant[0])}{re.escape(variant[0].upper())}]" + re.escape(variant[1:])
    # a hyphen may join it to another word (U.S.-Mexico): a longer rule (U.S.-Japan) wins where there is one
    before = r"(?<![\w.])" if variant[:1].isalnum() else ""
    after = r"(?!\w)" if (variant[-1:].isalnum() or variant.endswith(".")) else ""
    return before + body + after


def _house_file(data: dict, rel: str, at, style: HouseStyle, diags: list[Diagnostic]) -> None:
    for key in data:
        if key not in HOUSE_KEYS:
            diags.append(error("style-rule", f"unknown key '{key}' in the house style", at(key),
                               "known keys: " + ", ".join(HOUSE_KEYS) + " (or 'extends:' for a Vale rule)"))
    for kind, code in (("terms", "style-term"), ("names", "style-name")):
        table = data.get(kind)
        if table is None:
            continue
        if isinstance(table, list):   # names may be a plain list: variants are found automatically
            table = {item: [] for item in table if isinstance(item, str)}
        if not _is_text_map(table):
            diags.append(error("style-rule", f"'{kind}' must map each preferred form to its variants",
                               at(kind), f"write e.g.\n      {kind}:\n        US: [U.S.]"))
            continue
        for want, variants in table.items():
            want = str(want)
            if variants is None:
                variants = []
            if isinstance(variants, str):
                variants = [variants]
            if not isinstance(variants, list) or not all(isinstance(v, str) and v.strip() for v in variants):
                diags.append(error("style-rule", f"the variants of '{want}' must be a list of texts",
                                   at(kind, want), f"write e.g. {want}: [{want.upper()}]"))
                continue
            if kind == "names":
                variants = list(dict.fromkeys(variants + _romanisation_variants(want)))
            variants = [v for v in variants if v != want]
            if not variants:
                continue
            _add_rule(style, code, want, variants, at(kind, want), names=(kind == "names"))
    exceptions = data.get("exceptions") or []
    if not isinstance(exceptions, list) or not all(isinstance(e, str) for e in exceptions):
        diags.append(error("style-rule", "'exceptions' must be a list of phrases", at("exceptions"),
                           "write e.g. exceptions: [European Defence Community]"))
    else:
        style.exceptions += tuple(exceptions)
    dashes = data.get("dashes", style.dashes)
    if dashes not in DASH_STYLES:
        diags.append(error("style-rule", f"'dashes' must be one of {', '.join(DASH_STYLES)}", at("dashes"),
                           "em: parenthetical dashes are unspaced em dashes (—); spaced-en: spaced en dashes ( – )"))
    else:
        style.dashes = dashes
    for flag in ("quotes", "mojibake", "inconsistencies"):
        value = data.get(flag, getattr(style, flag))
        if not isinstance(value, bool):
            diags.append(error("style-rule", f"'{flag}' must be true or false", at(flag)))
        else:
            setattr(style, flag, value)


def _add_rule(style: HouseStyle, code: str, want: str, variants: list[str], origin: Location, *, names: bool):
    replace: dict[str, str] = {}
    parts = []
    for variant in sorted(variants, key=len, reverse=True):
        parts.append(_word_pattern(variant, ignorecase=names))
        replace[variant] = want
        if variant[:1].islower() and want[:1].islower():
            replace[variant[0].upper() + variant[1:]] = want[0].upper() + want[1:]
    flags = re.IGNORECASE if names else 0
    pattern = re.compile("|".join(parts), flags)
    message = ("the name is romanised '{want}' in this book, not '{found}'" if names else
               "the house style writes '{want}', not '{found}'")
    style.rules.append(Rule(code, pattern, message, _CaseMap(replace, names), origin,
                            keys=tuple({v.lower() for v in variants} | {want.lower()})))


class _CaseMap(dict):
    """found text -> replacement; names keep the found text's capitals (HOSOYA Juichi -> HOSOYA Yuichi)."""

    def __init__(self, table: dict[str, str], names: bool):
        super().__init__(table)
        self.names = names
        self.lower = {k.lower(): v for k, v in table.items()}

    def get(self, found, default=None):
        if found in self:
            return self[found]
        want = self.lower.get(found.lower())
        if want is None or not self.names:
            return default
        found_words, want_words = found.split(), want.split()
        if len(found_words) == len(want_words):
            return " ".join(w.upper() if f.isupper() and len(f) > 1 else w for f, w in zip(found_words, want_words))
        return want


MACRONS = {"ā": "a", "ē": "e", "ī": "i", "ō": "o", "ū": "u", "Ā": "A", "Ē": "E", "Ī": "I", "Ō": "O", "Ū": "U"}
CIRCUMFLEX = {"ā": "â", "ē": "ê", "ī": "î", "ō": "ô", "ū": "û", "Ā": "Â", "Ē": "Ê", "Ī": "Î", "Ō": "Ô", "Ū": "Û"}


def _romanisation_variants(name: str) -> list[str]:
    """Ryūkyū -> Ryukyu, Ryûkyû, Ryuukyuu: the usual other spellings of a name written with macrons."""
    if not any(ch in MACRONS for ch in name):
        return []
    plain = "".join(MACRONS.get(ch, ch) for ch in name)
    hat = "".join(CIRCUMFLEX.get(ch, ch) for ch in name)
    double = "".join(MACRONS[ch] + MACRONS[ch].lower() if ch in MACRONS else ch for ch in name)
    return [plain, hat, double]


def _vale_rule(data: dict, rel: str, at, style: HouseStyle, diags: list[Diagnostic], name: str) -> None:
    extends = data.get("extends")
    if extends not in ("substitution", "existence"):
        diags.append(warning("style-rule", f"Vale rules that extend '{extends}' are not supported; this rule is "
                             "not applied", at("extends"), "build_book applies substitution and existence rules"))
        return
    level = data.get("level", "warning")
    severity = {"error": "error", "warning": "warning", "suggestion": "warning"}.get(level)
    if severity is None:
        diags.append(error("style-rule", f"'level' must be suggestion, warning or error, not '{level}'", at("level")))
        return
    ignorecase = data.get("ignorecase") is True
    nonword = data.get("nonword") is True
    message = data.get("message") or ("Use '%s' instead of '%s'." if extends == "substitution" else "Avoid '%s'.")
    if not isinstance(message, str):
        diags.append(error("style-rule", "'message' must be text", at("message")))
        return
    exceptions = tuple(str(e).lower() for e in (data.get("exceptions") or []) if isinstance(e, (str, int)))
    parts: list[str] = []
    templates: dict[str, str | None] = {}
    if extends == "substitution":
        swap = data.get("swap")
        if not isinstance(swap, dict) or not swap:
            diags.append(error("style-rule", "a substitution rule needs 'swap:', a map of 'observed: expected'",
                               at("swap") if "swap" in data else at("extends"), "write e.g. swap:\n  U.S.: US"))
            return
        items = list(swap.items())
    else:
        tokens = data.get("tokens") or []
        raw = data.get("raw") or []
        if not isinstance(tokens, list) or not isinstance(raw, list) or not (tokens or raw):
            diags.append(error("style-rule", "an existence rule needs 'tokens:' (or 'raw:'), a list of patterns",
                               at("extends"), "write e.g. tokens:\n  - U\\.S\\."))
            return
        items = [(t, None) for t in tokens]
        if raw:
            items.append(("".join(str(r) for r in raw), None))
    for n, (observed, expected) in enumerate(items):
        group = f"r{n}"
        core = str(observed)
        bounded = core if (nonword or (extends == "existence" and not data.get("tokens"))) else rf"\b(?:{core})\b"
        try:
            re.compile(bounded)
        except re.error as exc:
            where = at("swap", observed) if extends == "substitution" else at("tokens")
            diags.append(error("style-rule", f"the pattern '{core}' is not a regular expression build_book can "
                               f"use: {exc.msg}", where,
                               "Vale's own extensions (possessive quantifiers, (?i) in the middle) are not supported"))
            continue
        parts.append(f"(?P<{group}>{bounded})")
        templates[group] = None if expected is None else str(expected)
    if not parts:
        return
    try:
        pattern = re.compile("|".join(parts), re.IGNORECASE if ignorecase else 0)
    except re.error as exc:
        diags.append(error("style-rule", f"this rule's patterns cannot be combined: {exc.msg}", at("extends")))
        return
    plain = all(v is None or not re.search(r"[\\()\[\]|?*+{}^$]", v) for v in templates.values())
    keys = tuple(str(k).lower() for k, v in items if not re.search(r"[\\()\[\]|?*+{}^$]", str(k)))
    keys += tuple(str(v).lower() for k, v in items if v is not None)
    style.rules.append(Rule("style-term", pattern, f"{message} [Vale rule {name}]", None, at("extends"), severity,
                            exceptions, templates if extends == "substitution" else None,
                            fixable=plain and extends == "substitution", keys=keys, vale=True))


# ------------------------------------------------------------------- the authors' text, from pandoc's document

PROSE, QUOTE, SKIP, MARK = "p", "q", "s", "m"
URLISH = re.compile(r"(?:[a-z][a-z0-9+.-]*://|www\.|mailto:|doi:)|^\S+@\S+\.\w+$", re.I)
INLINE_STYLES = ("Emph", "Strong", "Underline", "Strikeout", "Superscript", "Subscript", "SmallCaps")
TEXT_BLOCKS = ("Para", "Plain")
NOSTYLE = "nostyle"   # a span or div of this class is not checked


@dataclass
class Unit:
    """One run of text (a paragraph, a heading, a table cell, a note's paragraph) and what each character is."""

    text: str
    kinds: str
    flow: int = 0              # the run of text it is in: 0 the main text, then each note and block quote
    place: str = "text"        # text, note or quote
    sentences: bool = True     # False: a heading or a table's cell, whose last word ends no sentence

    def all(self, start: int, end: int, allowed: str) -> bool:
        return all(k in allowed for k in self.kinds[start:end])


def units(blocks: list, lang: str = "en") -> list[Unit]:
    out: list[Unit] = []
    pending: list[tuple[list, str, str]] = [(blocks, PROSE, "text")]
    flow = 0
    while pending:
        tree, kind, place = pending.pop(0)
        first = len(out)
        _blocks(tree, kind, out, pending, lang)
        for unit in out[first:]:
            unit.flow, unit.place = flow, place
        flow += 1
    return out


def _foreign(attr, lang: str) -> bool:
    classes, pairs = attr[1], dict(attr[2])
    other = pairs.get("lang", "")
    return NOSTYLE in classes or bool(other and other.split("-")[0].lower() != lang.split("-")[0].lower())


def _blocks(tree, kind: str, out: list[Unit], pending: list, lang: str) -> None:
    stack = [(tree, False)]     # (node, in a table's cell)
    while stack:
        node, cell = stack.pop()
        if isinstance(node, list):
            if node and all(isinstance(x, dict) and x.get("t") in INLINE_TYPES for x in node):
                _unit(node, kind, out, pending, lang, not cell)
            else:
                stack.extend((x, cell) for x in reversed(node))
            continue
        if not isinstance(node, dict):
            continue
        tag = node.get("t")
        content = node.get("c")
        if tag in TEXT_BLOCKS:
            _unit(content, kind, out, pending, lang, not cell)
        elif tag == "Header":
            _unit(content[2], kind, out, pending, lang, False)
        elif tag == "Table":     # its caption, then its cells
            stack.extend([(content[3:], True), (content[1], cell)])
        elif tag == "LineBlock":
            joined: list = []
            for line in content:
                joined.extend(line + [{"t": "LineBreak"}])
            _unit(joined, kind, out, pending, lang)
        elif tag == "BlockQuote":
            pending.append((content, QUOTE, "quote"))
        elif tag in ("CodeBlock", "RawBlock", "HorizontalRule", "Null"):
            continue
        elif tag == "Div":
            if not _foreign(content[0], lang):
                stack.append((content[1], cell))
        elif content is not None and tag not in INLINE_TYPES:
            stack.append((content, cell))


INLINE_TYPES = frozenset(("Str", "Space", "SoftBreak", "LineBreak", "Emph", "Strong", "Underline", "Strikeout",
                          "Superscript", "Subscript", "SmallCaps", "Quoted", "Cite", "Code", "Math", "RawInline",
                          "Link", "Image", "Note", "Span"))


def _unit(inlines: list, kind: str, out: list[Unit], pending: list, lang: str, sentences: bool = True) -> None:
    pieces: list[tuple[str, str]] = []
    _inlines(inlines, kind, pieces, pending, lang)
    text = "".join(p for p, _ in pieces)
    if text.strip():
        out.append(Unit(text, "".join(k * len(p) for p, k in pieces), sentences=sentences))


def _inlines(inlines: list, kind: str, out: list, pending: list, lang: str) -> None:
    # an explicit stack: a document's depth is bounded by the loader, but no recursion is needed
    stack: list = [(inlines, kind)]
    while stack:
        item, k = stack.pop()
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            out.append(item)
            continue
        if isinstance(item, list):
            stack.extend((x, k) for x in reversed(item))
            continue
        if not isinstance(item, dict):
            continue
        tag, c = item.get("t"), item.get("c")
        if tag == "Str":
            out.append((c, SKIP if URLISH.search(c) else k))
        elif tag in ("Space", "SoftBreak"):
            out.append((" ", k))
        elif tag == "LineBreak":
            out.append(("\n", k))
        elif tag in INLINE_STYLES:
            stack.append((c, k))
        elif tag == "Quoted":
            left, right = ("“", "”") if c[0]["t"] == "DoubleQuote" else ("‘", "’")
            inner = QUOTE if k == PROSE else k
            mark = MARK if k == PROSE else SKIP
            stack.extend([((right, mark), k), (c[1], inner), ((left, mark), k)])
        elif tag == "Cite":
            stack.append((c[1], SKIP))
        elif tag in ("Code", "Math", "RawInline"):
            out.append((c[1], SKIP))
        elif tag == "Link":
            classes, text, target = c[0][1], c[1], c[2][0]
            auto = "uri" in classes or "email" in classes or _plain(text) == target
            stack.append((text, SKIP if auto else k))
        elif tag == "Image":
            stack.append((c[1], SKIP))
        elif tag == "Note":
            pending.append((c, PROSE, "note"))
            out.append((" ", SKIP))
        elif tag == "Span":
            stack.append((c[1], SKIP if _foreign(c[0], lang) else k))


def _plain(inlines: list) -> str:
    return "".join(x.get("c", " ") if x.get("t") == "Str" else " " for x in inlines if isinstance(x, dict))


# ------------------------------------------------------------------------------------- findings


@dataclass
class Finding:
    code: str
    message: str
    hint: str
    unit: int                  # index of the unit (the source text region) it was found in
    start: int                 # position in the unit's text
    end: int
    found: str
    want: str | None = None    # the replacement, if there is one
    fixable: bool = False
    severity: str | None = None
    needs: str = ""            # the source must read this here (e.g. '--', '"'), or the finding is dropped
    location: Location | None = None
    span: tuple[int, int] | None = None   # offsets in the source file, once located


def _overlaps(a: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(a[0] < e and s < a[1] for s, e in taken)


def find_rules(style: HouseStyle, unit: Unit, n: int) -> list[Finding]:
    found: list[tuple[int, int, Rule, re.Match]] = []
    for rule in style.rules:
        for m in rule.pattern.finditer(unit.text):
            if m.end() > m.start() and unit.all(m.start(), m.end(), PROSE):
                found.append((m.start(), m.end(), rule, m))
    excepted = _exception_spans(style.exceptions, unit.text)
    out: list[Finding] = []
    taken: list[tuple[int, int]] = []
    for start, end, rule, m in sorted(found, key=lambda f: (-(f[1] - f[0]), f[0])):  # longest match wins
        if _overlaps((start, end), taken) or _overlaps((start, end), excepted):
            continue
        if m.group(0).lower() in rule.exceptions:
            continue
        if rule.replace is not None and not rule.replace.names and m.group(0)[:1].isupper() and \
                m.group(0)[1:2].islower() and not _sentence_start(unit.text, start):
            continue   # Mutual Defence Agreement: a proper name keeps its own spelling
        taken.append((start, end))
        want = rule.replacement(m)
        text = m.group(0)
        message = rule.render(want.replace("|", "' or '") if want else want, text)
        fixable = rule.fixable and want is not None
        hint = ("write '" + want.replace("|", "' or '") + "'") if want else "rephrase it"
        # 'U.S.' may also end the sentence: 'US' would lose the full stop (a heading or a cell is no sentence)
        if want is not None and text.endswith(".") and not want.endswith("."):
            rest = unit.text[end:]
            if not rest.strip() and unit.sentences:
                want = want + "."
                hint = f"write '{want}' (the full stop ends the sentence)"
            elif re.match(r"\s+[A-Z]", rest):
                hint = f"write '{want}' (or '{want}.' if the sentence ends here)"
                fixable = False
        out.append(Finding(rule.code, message, hint, n, start, end, text, want, fixable, rule.severity))
    return out


def _exception_spans(phrases: tuple[str, ...], text: str) -> list[tuple[int, int]]:
    spans = []
    for phrase in phrases:
        for m in re.finditer(re.escape(phrase), text, re.IGNORECASE):
            spans.append((m.start(), m.end()))
    return spans


# mojibake: the characters UTF-8's lead and continuation bytes become when read as Windows-1252 or Latin-1
def _cp1252(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(byte)   # 0x81, 0x8D, 0x8F, 0x90, 0x9D: Latin-1 reads them as control characters


TO_BYTE = {_cp1252(b): b for b in range(0x80, 0x100)}
LEADS = "".join(_cp1252(b) for b in range(0xC2, 0xF5))
CONTINUATIONS = "".join(_cp1252(b) for b in range(0x80, 0xC0))
MOJIBAKE = re.compile(f"[{re.escape(LEADS)}][{re.escape(CONTINUATIONS)}]{{1,3}}")


def undo_mojibake(run: str) -> str | None:
    """The text ``run`` was before UTF-8 was read as Windows-1252 (repeatedly, if it happened twice), or None."""
    text, changed = run, False
    for _ in range(3):
        fixed = _decode_once(text)
        if fixed is None or fixed == text:
            break
        text, changed = fixed, True
    return text if changed else None


def _decode_once(text: str) -> str | None:
    out, i, changed = [], 0, False
    while i < len(text):
        m = MOJIBAKE.match(text, i)
        decoded = None
        if m:
            lead = TO_BYTE[text[i]]
            size = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
            chunk = text[i:i + size]
            if len(chunk) == size and all(ch in TO_BYTE for ch in chunk):
                try:
                    decoded = bytes(TO_BYTE[ch] for ch in chunk).decode("utf-8")
                except UnicodeDecodeError:
                    decoded = None
            if decoded is not None:
                if "\x80" <= decoded <= "\x9f":      # a Windows-1252 character read as Latin-1 before: Â… -> …
                    decoded = bytes([ord(decoded)]).decode("cp1252", errors="strict") \
                        if ord(decoded) not in (0x81, 0x8D, 0x8F, 0x90, 0x9D) else None
            if decoded is not None and unicodedata.category(decoded[0])[0] not in "C":
                out.append(decoded)
                i += size
                changed = True
                continue
        out.append(text[i])
        i += 1
    return "".join(out) if changed else None


def find_mojibake(unit: Unit, n: int) -> list[Finding]:
    out = []
    for m in re.finditer(f"(?:{MOJIBAKE.pattern})+", unit.text):
        if not unit.all(m.start(), m.end(), PROSE + QUOTE + MARK):
            continue
        fixed = undo_mojibake(m.group(0))
        if fixed is None or fixed == m.group(0):
            continue
        shown = fixed.replace("\u00a0", "a no-break space")
        out.append(Finding("style-mojibake", f"garbled characters '{m.group(0)}': this is '{shown}' saved as UTF-8 "
                           "and read as Windows-1252 or Latin-1", f"write '{fixed}'", n, m.start(), m.end(),
                           m.group(0), fixed, True, None))
    return out


# two numbers joined by a hyphen, not part of a longer code (an ISO date, a docket number, 1,000-2,000)
HYPHENATED = re.compile(r"(?<![\w.,/–—-])(\d{1,4})-(\d{1,4})(?![\w/–—-]|[.,]\d)")
MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
         r"(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.)")
# words a number that names something follows (a case, a law, a notice, a section of a code): 'No. 2013-19'
# is an identifier, not the years 2013 to 2019
IDENTIFIED = re.compile(
    r"(?:\b(?:[Nn]os?|[Nn]umbers?|[Cc]ases?|[Dd]ockets?|[Nn]otices?|[Ll]aws?|[Ll]oi|[Aa]cts?|[Dd]ecrees?|[Oo]rders?|"
    r"[Dd]eterminations?|[Rr]esolutions?|[Rr]egulations?|[Dd]irectives?|[Rr]eports?|[Dd]ocs?|[Dd]ocuments?|"
    r"[Mm]emorand(?:um|a)|[Cc]irculars?|[Rr]ulings?|[Dd]ecisions?|ISSN|ISBN|[Aa]rts?|[Aa]rticles?|[Ss]ecs?|"
    r"[Ss]ections?|[Rr]ules?|[Ff]orms?|[Bb]ills?|[Pp]ub)\.?|n[°º]|§§?)\s*$")


def _is_range(text: str, m: re.Match) -> bool:
    """Whether ``m`` (HYPHENATED) is surely a range: years (1993-94, 2009-2018), days beside a month
    (24-25 October, October 24-25) or pages (pp. 12-15). Other pairs (Public Law 87-195, a 5-4 vote,
    a docket 19-1392) are left alone: a check that cannot tell is silent."""
    a, b = m.group(1), m.group(2)
    if IDENTIFIED.search(text[max(0, m.start() - 30):m.start()]):
        return False      # Case No. 2013-19, Loi n° 2016-41, Notice 2020-23, §§ 1701-1706, ISSN 1945-2101
    if len(a) == 4 and 1000 <= int(a) <= 2099:
        if len(b) == 2:
            return int(b) > int(a[2:])
        return len(b) == 4 and int(a) < int(b) <= int(a) + 200
    before, after = text[max(0, m.start() - 12):m.start()], text[m.end():m.end() + 12]
    if len(a) <= 2 and len(b) <= 2 and 1 <= int(a) < int(b) <= 31 and (
            re.search(MONTH + r"\s$", before) or re.match(r"\s" + MONTH + r"(?!\w)", after)):
        return True
    return bool(re.search(r"\bpp?\.\s?$", before))


def find_ranges(unit: Unit, n: int, plain: bool = False) -> list[Finding]:
    """A range written with a hyphen (1993-94): whichever dash a house style sets in a sentence, ranges
    of numbers are joined by an en dash (Chicago 6.78), as most chapters of a volume write them.
    ``plain``: text printed as written (an abstract, book.yml), where '--' stays two hyphens."""
    out = []
    quoted = [q.span() for q in re.finditer(r'"[^"]*"|“[^”]*”', unit.text)] if plain else []
    for m in HYPHENATED.finditer(unit.text):
        if unit.all(m.start(), m.end(), PROSE) and _is_range(unit.text, m) and not _in_any(m.span(), quoted):
            want = f"{m.group(1)}–{m.group(2)}"
            out.append(Finding("style-dash", f"a hyphen joins the range '{m.group(0)}': the house style joins a "
                               "range of numbers with an en dash (–)", f"write '{want}'" + ("" if plain else
                               f" (or '{m.group(1)}--{m.group(2)}' in Markdown)"), n, m.start(), m.end(), m.group(0), want, True))
    return out


def find_dashes(style: HouseStyle, unit: Unit, n: int) -> list[Finding]:
    if style.dashes == "off":
        return []
    out = find_ranges(unit, n)
    text = unit.text
    if style.dashes == "em":
        for m in re.finditer(r"(?<=\w) – (?=\w)", text):
            if unit.all(m.start(), m.end(), PROSE):
                out.append(Finding("style-dash", "a spaced en dash: the house style sets a dash in a sentence as an "
                                   "unspaced em dash (—)", "write '—' with no spaces (or '---' in Markdown)",
                                   n, m.start(), m.end(), m.group(0), "—", True))
        for m in re.finditer(r"(?<=[^\W\d_])–(?=[^\W\d_])", text):   # word--word: a typewriter em dash
            if unit.all(m.start(), m.end(), PROSE):
                out.append(Finding("style-dash", "'--' between words prints as an en dash (–); a dash in a sentence "
                                   "is an em dash (—) in the house style", "write '—' (or '---' in Markdown); "
                                   "write '–' itself where an en dash is meant", n, m.start(), m.end(), "–", "—",
                                   True, needs="--"))
    else:
        for m in re.finditer(r"(?<=\w) ?— ?(?=\w)", text):
            if unit.all(m.start(), m.end(), PROSE):
                out.append(Finding("style-dash", "an em dash: the house style sets a dash in a sentence as a spaced "
                                   "en dash ( – )", "write ' – ' (or ' -- ' in Markdown)", n, m.start(), m.end(),
                                   m.group(0), " – ", True))
    return out


def find_quotes(unit: Unit, n: int) -> list[Finding]:
    out = []
    text, kinds = unit.text, unit.kinds
    # '90s, 'tis: pandoc reads the apostrophe as an opening quotation mark
    for m in re.finditer(r"‘(?=\d\ds\b)", text):
        if kinds[m.start()] == MARK:
            out.append(Finding("style-quotes", "pandoc reads this apostrophe as an opening quotation mark ‘ (and "
                               "looks for its partner)", "type the apostrophe itself: ’", n, m.start(), m.end(), "‘",
                               "’", True, needs="'"))
    # a straight double quote pandoc could not pair: it prints as an opening mark that nothing closes
    opens = [i for i, ch in enumerate(text) if ch == "“" and kinds[i] == PROSE]
    closes = [i for i, ch in enumerate(text) if ch == "”" and kinds[i] == PROSE]
    for i in opens:
        if not any(j > i for j in closes) and i + 1 < len(text) and text[i + 1].isalpha():
            out.append(Finding("style-quotes", "this quotation mark has no partner: it opens a quotation that is "
                               "never closed", "close the quotation with \" where it ends (or delete this mark)",
                               n, i, i + 1, "“", None, False, needs='"'))
    for j in closes:
        if not any(i < j for i in opens) and j > 0 and text[j - 1].isalpha():
            out.append(Finding("style-quotes", "this quotation mark has no partner: it closes a quotation that is "
                               "never opened", "open the quotation with \" where it begins (or delete this mark)",
                               n, j, j + 1, "”", None, False, needs='"'))
    return out


def typographic(text: str) -> str:
    """Straight quotes and -- in text pandoc does not read (abstracts, book.yml) as typographic marks."""
    text = re.sub(r"(?<=\d)--(?=\d)", "–", text)
    text = text.replace("---", "—").replace("--", "—")
    text = re.sub(r'(^|(?<=[\s(\[{—–]))"', "“", text)
    text = text.replace('"', "”")
    text = re.sub(r"'(?=\d\ds\b)", "’", text)
    text = re.sub(r"(^|(?<=[\s(\[{—–]))'", "‘", text)
    return text.replace("'", "’")


def find_plain_quotes(unit: Unit, n: int, what: str) -> list[Finding]:
    """Straight quotes and -- in text that is printed as written."""
    out = []
    for m in re.finditer(r"-{2,3}|[\"']", unit.text):
        want = typographic(unit.text[:m.end()])[-1:] if m.group(0) in "\"'" else \
            ("–" if re.match(r"\d", unit.text[m.end():m.end() + 1] or "x") and m.start() and
             unit.text[m.start() - 1].isdigit() and m.group(0) == "--" else "—")
        kind = "a straight quotation mark" if m.group(0) == '"' else \
            "a straight apostrophe or single quote" if m.group(0) == "'" else f"'{m.group(0)}'"
        out.append(Finding("style-quotes" if m.group(0) in "\"'" else "style-dash",
                           f"{kind} in {what}, which is printed as written (pandoc does not read it)",
                           f"write '{want}'", n, m.start(), m.end(), m.group(0), want, True))
    return out


# ---------------------------------------------------------------------- words spelt two ways, with no rule

OUR = ("behaviour", "colour", "favour", "honour", "labour", "neighbour", "rumour", "harbour", "humour", "vigour",
       "endeavour", "armour", "candour", "flavour", "valour", "rigour", "splendour", "savour", "odour", "fervour")
RE_ER = ("centre", "fibre", "theatre", "calibre", "spectre", "sombre", "lustre", "sabre", "litre", "meagre")
ENCE = ("defence", "offence", "pretence")
OGUE = ("catalogue", "analogue", "dialogue", "monologue", "prologue")
LLED = ("travel", "cancel", "model", "label", "signal", "fuel", "level", "channel", "counsel", "equal", "marshal",
        "quarrel", "dial", "total")
# words that end in -ise in every spelling, and so are never an -ize variant
ISE_ONLY = re.compile(r"(?:advertis|advis|apprais|aris|chastis|circumcis|comprom|compris|concis|demis|despis|devis|"
                      r"disguis|enfranchis|enterpris|excis|exercis|franchis|improvis|incis|merchandis|precis|premis|"
                      r"promis|revis|supervis|surmis|surpris|televis|expertis|otherwis|prais|cruis|bruis|chemis|"
                      r"treatis|paradis|repris|porpois|tortois|mortis)")


def american(word: str) -> str:
    """The American spelling of a lower-case word (itself if it has no British variant)."""
    for stems, cut, add in ((OUR, 2, "r"), (RE_ER, 2, "er"), (ENCE, 2, "se"), (OGUE, 2, "")):
        for stem in stems:
            if word.startswith(stem):
                return stem[:-cut] + add + word[len(stem):]
    for stem in LLED:
        for end in ("led", "ling", "ler", "lers"):
            if word == stem + end:      # travelled -> traveled
                return stem + end[1:]
    m = re.fullmatch(r"([a-z]{3,})(is|ys)(e|es|ed|ing|er|ers|ation|ations)", word)
    if m and not ISE_ONLY.match(word):
        return m.group(1) + ("iz" if m.group(2) == "is" else "yz") + m.group(3)
    return word


def fold(word: str) -> str:
    """A word without capitals, diacritics and (but after re-) hyphens: Ryūkyū, co-operation -> ryukyu, cooperation."""
    low = "".join(ch for ch in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(ch))
    return low if low.startswith("re-") else low.replace("-", "")


WORD = re.compile(r"(?<![\w’'.-])(?:(?:[A-Z]\.){2,}|[^\W\d_]+(?:-[^\W\d_]+)*)(?![\w’'-]|\.\w)")


def forms(unit: Unit) -> list[tuple[str, str, int, int]]:
    """(group key, form, start, end) for each word of the unit's prose: words of one key are one word spelt
    differently (abbr: U.S./US; w: hyphens and macrons; sp: British and American spellings)."""
    out = []
    for m in WORD.finditer(unit.text):
        word, start, end = m.group(0), m.start(), m.end()
        if not unit.all(start, end, PROSE):
            continue
        if re.fullmatch(r"(?:[A-Z]\.){2,}", word):
            out.append(("abbr:" + word.replace(".", ""), word, start, end))
            continue
        if word.isupper() and len(word) > 1:
            if len(word) <= 5:
                out.append(("abbr:" + word, word, start, end))
            continue
        # a capital only because the sentence starts here; not before another capital (Labour Party: a name)
        opening = word[:1].isupper() and _sentence_start(unit.text, start) and \
            not re.match(r"\s+[^\W\d_]*[A-Z]", unit.text[end:])
        if word.islower() or (opening and "-" in word):
            out.append(("w:l:" + fold(word), word.lower(), start, end))
        elif not opening:   # a name: Ryūkyū and Ryukyu; never paired with a common word (Gō, go)
            out.append(("w:C:" + fold(word), word, start, end))
        if word.islower() or (opening and word[1:].islower()):
            low = word.lower()
            out.append(("sp:" + american(low), low, start, end))
    return out


def _sentence_start(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    return not before or before[-1] in ".!?:“‘\"("


# ---------------------------------------------------------------------------------- the whole check


@dataclass
class Source:
    """A file whose text the findings are located in: a chapter, or book.yml."""

    path: str
    text: str
    region: tuple[int, int]          # offsets of the part that was read (a chapter's body, its front matter)
    lines: object = None             # a quarto.LineMap when the text has other files' text included
    root: Path | None = None

    def origin(self, start: int, end: int) -> tuple[str, int, int, Location | None]:
        """(file, start, end) of the span ``start:end`` of this text in the file it was written in: the chapter
        itself, or a file it includes (Quarto's include copies lines whole, so columns carry over), with
        the span's place there when that is another file."""
        if self.lines is None:
            return self.path, start, end, None
        line = self.text.count("\n", 0, start) + 1
        found = self.lines.where(line)
        if found is None or found == (self.path, line):
            return self.path, start, end, None
        name, their_line = found
        column = start - (self.text.rfind("\n", 0, start) + 1)
        text = _read(self.root / name) if self.root is not None else None
        if text is None:
            return self.path, start, end, None
        at = 0
        for _ in range(their_line - 1):
            at = text.find("\n", at) + 1
        return name, at + column, at + column + (end - start), Location(name, their_line, column + 1)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").removeprefix("\ufeff").replace("\r\n", "\n")
    except (OSError, UnicodeDecodeError):
        return None


def chapter_source(book: Book, chapter) -> Source | None:
    """The chapter's text as pandoc read it (Quarto's includes expanded), its body as the region."""
    text = _read(book.config.root / chapter.path)
    if text is None:
        return None
    body_start = _body_start(text)
    lines = getattr(chapter.sources, "origins", None)
    if lines is not None:
        from . import quarto   # only books with includes need it
        cut = body_start + 1 if body_start else 0
        first = text.count("\n", 0, cut) + 1
        from .load import _split_front_matter
        echo = _split_front_matter(text, chapter.path)[0].get("__echo__", chapter.echo)
        text = text[:cut] + quarto.expand(book.config.root, chapter.path, text[cut:], first, echo).text
    return Source(chapter.path, text, (body_start, len(text)), lines, book.config.root)


@dataclass
class Scan:
    diagnostics: list[Diagnostic]
    findings: list[tuple[Source, Finding]]


def check(book: Book) -> list[Diagnostic]:
    return scan_book(book).diagnostics


def scan_book(book: Book) -> Scan:
    style, diags = load(book)
    if style is None:
        return Scan([], [])
    located: list[tuple[Source, Finding]] = []
    words: dict[str, list] = {}
    lang = book.config.lang
    folder = book.config.root / "build" / ".cache" / PART_FOLDER
    fingerprint = _fingerprint(style, lang)
    used: set[str] = set()
    for chapter in book.chapters:
        body = chapter_source(book, chapter)
        if body is None:
            continue
        key = cachefile.digest(chapter.digest, PART_FORMAT, fingerprint) if chapter.digest else None
        part = _cached_part(folder, key) if key else None
        if part is None:
            part = _chapter_part(style, chapter, body, lang)
            if key and folder.parent.parent.is_dir():    # build/.cache is there (check alone never makes build/)
                cachefile.put(folder, key, json.dumps(_part_to_json(part), ensure_ascii=False), PART_FORMAT)
        if key:
            used.add(key)
        findings, front_findings, chapter_words = part
        located += [(body, f) for f in findings]
        if front_findings:
            front = Source(chapter.path, body.text, (0, body.region[0]))
            located += [(front, f) for f in front_findings]
        for key_, (total, forms_of) in chapter_words.items():
            words.setdefault(key_, []).append((chapter, total, forms_of))
    cachefile.prune(folder, used)
    located += _config_findings(book, style)
    if style.inconsistencies:
        located += _inconsistent(book, style, words)
    for source, f in located:
        if f.severity == "error" or (f.severity is None and f.code == "style-mojibake"):
            make = error
        else:
            make = warning
        diags.append(make(f.code, f.message, f.location or Location(source.path, 1, 1), f.hint))
    return Scan(diags, located)


# Each chapter's findings (located), those in its abstract and the forms of its words (for the inconsistency
# check across chapters) depend on the chapter, the house style and the language alone: kept by them, so
# that after an edit only the edited chapter is read for them again.
PART_FORMAT = "build_book-house-style 5"
PART_FOLDER = "checks/house-style"


def _chapter_part(style: HouseStyle, chapter, body: Source, lang: str) -> tuple[list, list, list]:
    """(findings in the chapter's body, in its abstract, the forms of its words: see _word_summary)."""
    text, body_start = body.text, body.region[0]
    chapter_units = units(chapter.blocks, lang)
    findings: list[Finding] = []
    chapter_words: list[tuple] = []
    for n, unit in enumerate(chapter_units):
        findings += find_rules(style, unit, n)
        if style.mojibake:
            findings += find_mojibake(unit, n)
        findings += find_dashes(style, unit, n)
        if style.quotes:
            findings += find_quotes(unit, n)
        if style.inconsistencies:
            for key, form, start, end in forms(unit):
                chapter_words.append((key, form, n, start, end))
    findings = findings[:MAX_FINDINGS_PER_CHAPTER]
    _locate(body, chapter_units, findings)
    for f in findings:
        f.location = f.location or chapter.location
        if f.fixable and f.span and _in_heading_without_id(text, f.span[0]):
            f.fixable = False     # its identifier is made from its words: a link to it would break
        if f.want is not None and f.span and _in_link_label(text, f.span):
            f.fixable = False     # '[defence][]' is a link to '[defence]: ...': changed, it would lead nowhere
            f.hint += " here and in the link's definition ('[...]: address'): the link's text is its label"
    chapter_words = _word_summary(chapter_words)
    # the abstract, printed as written
    found: list[Finding] = []
    if chapter.abstract:
        front = Source(chapter.path, text, (0, body_start))
        unit = Unit(chapter.abstract, PROSE * len(chapter.abstract))
        found = find_rules(style, unit, 0) + (find_mojibake(unit, 0) if style.mojibake else []) + \
            (find_plain_quotes(unit, 0, "the abstract") if style.quotes else []) + \
            (find_ranges(unit, 0, plain=True) if style.dashes != "off" else [])
        _locate(front, [unit], found)
        plain = re.search(r"^abstract:[ \t]+(?![\"'|>])", text[:body_start], re.M) is not None
        for f in found:
            if f.location is None:
                f.location = chapter.location
            f.fixable = f.fixable and plain and f.span is not None
    return findings, found, chapter_words


def _word_summary(chapter_words: list[tuple]) -> dict:
    """The forms of a chapter's words ((key, form, unit, start, end) in reading order) as the inconsistency
    check needs them: key -> [how many words have it, {form: [how many, the first's place among them,
    its unit, start, end]}], keys and forms in the order they first appear."""
    summary: dict = {}
    for key, form, n, start, end in chapter_words:
        entry = summary.get(key)
        if entry is None:
            entry = summary[key] = [0, {}]
        found = entry[1].get(form)
        if found is None:
            entry[1][form] = [1, entry[0], n, start, end]
        else:
            found[0] += 1
        entry[0] += 1
    return summary


def _fingerprint(style: HouseStyle, lang: str) -> str:
    """A digest of the house style as loaded (every rule, every setting) and the book's language."""
    rules = [[r.code, r.pattern.pattern, r.pattern.flags, r.message, type(r.replace).__name__, r.replace,
              [r.origin.path, r.origin.line, r.origin.column], r.severity, list(r.exceptions), r.template,
              r.fixable, sorted(r.keys), r.vale] for r in style.rules]
    return cachefile.digest(rules, list(style.exceptions), style.dashes, style.quotes, style.mojibake,
                            style.inconsistencies, lang)


def _finding_to_json(f: Finding) -> list:
    where = [f.location.path, f.location.line, f.location.column] if f.location is not None else None
    return [f.code, f.message, f.hint, f.unit, f.start, f.end, f.found, f.want, f.fixable, f.severity, f.needs,
            where, list(f.span) if f.span is not None else None]


def _finding_from_json(data: list) -> Finding:
    code, message, hint, unit, start, end, found, want, fixable, severity, needs, where, span = data
    return Finding(code, message, hint, unit, start, end, found, want, fixable, severity, needs,
                   Location(*where) if where is not None else None, tuple(span) if span is not None else None)


def _part_to_json(part: tuple) -> dict:
    findings, front, chapter_words = part
    return {"findings": [_finding_to_json(f) for f in findings], "front": [_finding_to_json(f) for f in front],
            "words": chapter_words}


def _checked_words(words) -> dict:
    for total, forms_of in words.values():
        if not isinstance(total, int) or not all(len(v) == 5 for v in forms_of.values()):
            raise TypeError("not a summary of words")
    return words


def _cached_part(folder: Path, key: str) -> tuple | None:
    text = cachefile.get_text(folder, key, PART_FORMAT)
    if text is None:
        return None
    try:
        data = json.loads(text)
        return ([_finding_from_json(f) for f in data["findings"]], [_finding_from_json(f) for f in data["front"]],
                _checked_words(data["words"]))
    except (ValueError, TypeError, KeyError):
        return None


def _body_start(text: str) -> int:
    opening = re.match(r"---[ \t]*\n", text)
    if not opening:
        return 0
    end = re.compile(r"^(---|\.\.\.)[ \t]*$", re.M).search(text, opening.end())
    return end.end() if end else 0


def _config_findings(book: Book, style: HouseStyle) -> list[tuple[Source, Finding]]:
    """Names, terms, mojibake and straight quotes in what book.yml prints: title, parts, contributors."""
    path = book.config.root / "book.yml"
    try:
        text = path.read_text(encoding="utf-8").removeprefix("\ufeff").replace("\r\n", "\n")
    except (OSError, UnicodeDecodeError):
        return []
    config = book.config
    values = [config.title, config.subtitle, config.publisher, config.rights]
    values += [p.title for p in config.parts]
    for person in config.contributors.values():
        values += [person.name, person.affiliation, person.role]
    source = Source("book.yml", text, (0, len(text)))
    out = []
    for value in dict.fromkeys(v for v in values if v):
        unit = Unit(value, PROSE * len(value))
        found = find_rules(style, unit, 0) + (find_mojibake(unit, 0) if style.mojibake else []) + \
            (find_plain_quotes(unit, 0, "book.yml") if style.quotes else []) + \
            (find_ranges(unit, 0, plain=True) if style.dashes != "off" else [])
        _locate(source, [unit], found)
        for f in found:
            f.fixable = False     # book.yml is the editors' file: reported, never rewritten
            f.location = f.location or config.where("title")
            out.append((source, f))
    return out


def _inconsistent(book: Book, style: HouseStyle, words: dict[str, list]) -> list[tuple[Source, Finding]]:
    """``words``: key -> for each chapter using it, in reading order, (chapter, how many of its words have the
    key, {form: [how many, first among them, unit, start, end]}) (see _word_summary)."""
    out: list[tuple[Source, Finding]] = []
    for key, seen in words.items():
        # form -> (chapter, form, how many, first in the book's words of the key, unit, start, end) per chapter
        by_form: dict[str, list] = {}
        before = 0
        for chapter, total, forms_of in seen:
            for form, (count, first, n, start, end) in forms_of.items():
                by_form.setdefault(form, []).append((chapter, form, count, before + first, n, start, end))
            before += total
        if len(by_form) < 2:
            continue
        if key.startswith("w:"):   # forms differ by capitals only: not a spelling
            lowered: dict[str, list] = {}
            for form, items in by_form.items():
                lowered.setdefault(form.lower(), []).extend(items)
            if len(lowered) < 2:
                continue
            by_form = {items[0][1]: items for items in lowered.values()}
        if key.startswith("abbr:") and not any("." in form for form in by_form):
            continue
        if any(style.governs(form) for form in by_form):
            continue    # the house style says which: reported as style-term or style-name
        ranked = sorted(by_form, key=lambda f: (-sum(item[2] for item in by_form[f]), by_form[f][0][3]))
        majority = ranked[0]
        summary = "; ".join(
            ", ".join(f"{Path(ch.path).name} writes '{form}' {_times(n)}" for ch, n in _per_chapter(by_form[form]))
            for form in ranked)
        for form in ranked[1:]:
            for chapter, items in _first_per_chapter(by_form[form]):
                _, _, _, _, n, start, end = items
                out.append((chapter, form, n, start, end, majority, summary))
    # locate: group by chapter
    located: list[tuple[Source, Finding]] = []
    by_chapter: dict[str, list] = {}
    for item in out:
        by_chapter.setdefault(item[0].path, []).append(item)
    for chapter in book.chapters:
        items = by_chapter.get(chapter.path)
        if not items:
            continue
        source = chapter_source(book, chapter)
        if source is None:
            continue
        chapter_units = units(chapter.blocks, book.config.lang)
        findings = []
        for _, form, n, start, end, majority, summary in items:
            findings.append(Finding(
                "style-inconsistent", f"'{chapter_units[n].text[start:end]}' is spelt two ways in the book: "
                f"{summary}", f"write one spelling throughout (most of the book writes '{majority}'), and add it "
                "to the house style so that check keeps to it", n, start, end, chapter_units[n].text[start:end]))
        _locate(source, chapter_units, findings)
        for f in findings:
            f.location = f.location or chapter.location
            located.append((source, f))
    return located


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _per_chapter(items: list) -> list[tuple]:
    counts: dict = {}
    for item in items:
        counts.setdefault(item[0].path, [item[0], 0])[1] += item[2]
    return [tuple(v) for v in counts.values()]


def _first_per_chapter(items: list) -> list[tuple]:
    first: dict = {}
    for item in items:
        first.setdefault(item[0].path, (item[0], item))
    return list(first.values())


# ---------------------------------------------------------------- from pandoc's text back to the author's line

EQUIVALENT = {"’": "['’]", "‘": "['‘]", "“": "[\"“]", "”": "[\"”]", "–": "(?:--|–)", "—": "(?:---|—)",
              "…": r"(?:\.\.\.|…)", " ": r"(?:[ \t]*\n[ \t>]*|[ \t]+)", "\n": r"(?:\\?\n[ \t>]*|  +\n)"}


def _source_pattern(found: str) -> re.Pattern:
    """What ``found`` (pandoc's text) may be written as: with Markdown's spellings of dashes, quotes and
    ellipses, across lines, and with ASCII punctuation escaped by a backslash (``1993\\-94``)."""
    return re.compile("".join(EQUIVALENT.get(ch, "\\\\?" + re.escape(ch) if ch in ESCAPABLE else re.escape(ch))
                              for ch in found))


ESCAPABLE = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")    # as pandoc's Markdown reads a backslash before them

# A finding is placed on an occurrence of its text only if the words around it match those around it in
# pandoc's text for at least this many letters and digits (or all there are): else it is where the same
# words are written otherwise, and an occurrence elsewhere (in a quotation, say) is not it
AT_LEAST = 6


def _skeleton(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _common(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


# What in a chapter's Markdown is never its prose: code (fenced, indented by a fence's rules or inline),
# attributes ({#sec-defence}, {lang=en-GB}, {=html}), link targets, HTML comments and tags, link definitions
# ('[r]: https://example.org/defence.html'), maths ($...$, $$...$$ as pandoc reads them: in one paragraph),
# web addresses and citation keys. A finding in the prose is never placed there, where the same words may
# also stand (and --fix-style would change code, a formula or an address).
MARKUP = (r"\{[#.=][^{}\n]*\}|\{[^{}\n]*=[^{}\n]*\}"                                 # attributes
          r"|\]\([^()\n]*(?:\([^()\n]*\)[^()\n]*)*\)"                                  # a link's target
          r"|<!--.*?-->|</?[A-Za-z][^<>\n]*>")                                          # HTML
FENCED = r"^[ \t]{0,3}(?P<fence>`{3,}|~{3,})[^\n]*\n.*?(?:^[ \t]{0,3}(?P=fence)[`~]*[ \t]*$|\Z)"  # (unclosed: to the end)
LINK_DEFINITION = r"^ {0,3}\[(?!\^)[^\]\n]+\]:[^\n]*"
MATHS = (r"\$\$(?:[^$\n]|\n(?![ \t]*\n))+?\$\$"
         r"|(?<![\\$])\$(?![\s$])(?:[^$\\\n]|\\.|\n(?![ \t]*\n))*?(?<![\s\\])\$(?!\d)")
NOT_PROSE = re.compile(
    FENCED                                                                       # a fenced code block
    + r"|(?P<ticks>`+)(?!`).+?(?<!`)(?P=ticks)(?!`)"                             # a code span
    + "|" + LINK_DEFINITION + "|" + MATHS
    + r"|(?i:(?:[a-z][a-z0-9+.-]*://|www\.|mailto:|doi:)[^\s<>()\[\]]*)"           # a web address
    + r"|(?<![\w@])@(?:\{[^}\s]+\}|\w(?:\w|[:.#$%&\-+?<>~/](?=\w))*)"           # a citation key
    + "|" + MARKUP, re.M | re.S)
# What in the Markdown pandoc does not give as text (a link's target, an attribute, a note's mark, a
# reference link's label, a link definition, a code block): blanked where a unit's words are looked for in
# the source. Maths and code spans are kept (pandoc gives their text), and nothing in them is blanked.
NOT_TEXT = re.compile(FENCED + "|" + LINK_DEFINITION + r"|(?P<kept>" + MATHS + r"|(?P<t>`+)(?!`).+?(?<!`)(?P=t)(?!`))"
                      r"|\{[#.=][^{}\n]*\}|\{[^{}\n]*=[^{}\n]*\}|\]\([^()\n]*(?:\([^()\n]*\)[^()\n]*)*\)"
                      r"|\[\^[^\]\s]+\]:?|(?<=\])\[[^\]\n]*\]", re.M | re.S)
# a note's text: its definition ('[^1]: ...' and the indented paragraphs after it), or an inline note ('^[...]')
NOTE_DEFINITION = re.compile(r"^ {0,3}\[\^[^\]\s]+\]:.*?(?=\n[ \t]*\n(?: {0,3}\S)|\Z)", re.M | re.S)


def _in_heading_without_id(text: str, at: int) -> bool:
    """Whether ``at`` is in a heading (# or underlined) with no {#id}: pandoc makes its identifier from
    its words, so changing them changes the address links to it use."""
    start = text.rfind("\n", 0, at) + 1
    line, _, rest = text[start:].partition("\n")
    underline = rest.partition("\n")[0]
    if re.search(r"\{[^{}\n]*#[^{}\s]", line):
        return False
    return bool(re.match(r" {0,3}#{1,6}(\s|$)", line) or (line.strip() and re.fullmatch(r" {0,3}(=+|-+)[ \t]*", underline)))


def _in_link_label(text: str, span: tuple[int, int]) -> bool:
    """Whether ``span`` is in the text of a reference link that is its own label ('[defence][]', '[defence]'),
    defined in the chapter ('[defence]: https://...')."""
    opening = text.rfind("[", 0, span[0])
    closing = text.find("]", span[1])
    if opening < 0 or closing < 0 or "]" in text[opening:span[0]] or "[" in text[span[1]:closing] or \
            re.match(r"\(|\[[^\]]", text[closing + 1:closing + 3]):
        return False      # not in brackets, or '[text](target)', '[text][label]'
    label = " ".join(text[opening + 1:closing].split()).lower()
    return any(" ".join(m.group(1).split()).lower() == label
               for m in re.finditer(r"^ {0,3}\[([^\]\n]+)\]:", text, re.M))


def _not_prose(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in NOT_PROSE.finditer(text)]


def _in_any(span: tuple[int, int], regions: list[tuple[int, int]]) -> bool:
    at = bisect.bisect_right(regions, (span[0], float("inf"))) - 1
    return any(a < span[1] and span[0] < b for a, b in regions[max(0, at):at + 2])


def _locate(source: Source, unit_list: list[Unit], findings: list[Finding]) -> None:
    """Give each finding its line and column. Each unit (a paragraph, a cell, a heading, a note's paragraph)
    is found in the source first, as the run of letters and digits that is its own (``_unit_spans``), and a
    finding is placed in its unit's run, at its own letters: exactly, and never in code, maths, an
    attribute, a web address, a link's target or definition, a citation key or HTML (``NOT_PROSE``). A
    finding whose unit is not found so (written with an entity, say) is placed, outside every unit found, at
    the occurrence of its text whose surrounding words best match those in pandoc's document. Findings whose
    source does not read as they need (``needs``) are dropped from the list."""
    if not findings:
        return
    start, stop = source.region
    skipped = [(start + a, start + b) for a, b in _not_prose(source.text[start:stop])]
    # the lines of block quotes, where nothing but mojibake is found
    quotes = [(start + m.start(), start + m.end())
              for m in re.finditer(r"^[ \t]{0,3}>.*$", source.text[start:stop], re.M)]
    spans = _unit_spans(source, unit_list, quotes)
    rest = []
    for f in findings:
        span = _within_unit(source, f, unit_list[f.unit], spans.get(f.unit), skipped, quotes)
        if span is None:
            rest.append(f)
        else:
            f.span = span
            f.location = Location(source.path, *line_column(source.text, span[0]))
    if rest:
        _locate_by_context(source, unit_list, rest, skipped, quotes, spans)
    keep = [f for f in findings if not f.needs or (f.span and source.text[f.span[0]:f.span[1]] == f.needs)]
    findings[:] = keep


def _letters(text: str, start: int = 0, stop: int | None = None) -> tuple[str, list[int]]:
    """The letters and digits of ``text[start:stop]`` in lower case, and where each stands in ``text``."""
    keys, at = [], []
    for i in range(start, len(text) if stop is None else stop):
        ch = text[i]
        if ch.isalnum():
            low = ch.lower()
            keys.append(low if len(low) == 1 else ch)
            at.append(i)
    return "".join(keys), at


def _blank_not_text(m: re.Match) -> str:
    return m.group() if m.group("kept") else re.sub(r"[^\n]", " ", m.group())


def _unit_spans(source: Source, unit_list: list[Unit], quotes: list[tuple[int, int]]) -> dict:
    """unit -> (start, end, where each of its letters stands) for each unit found in the source: the letters
    and digits of its text, one after another, in the source (with what pandoc does not give as text blanked,
    ``NOT_TEXT``), not within a word, in its place (the main text, a note, a block quote), after the units
    of its own run of text before it and before those after it, and not where another unit is. The longest
    units are found first, so that a one-word cell is not found in a paragraph that holds the word too."""
    start, stop = source.region
    text = source.text[:start] + NOT_TEXT.sub(_blank_not_text, source.text[start:stop])
    inline = _inline_note_spans(source.text, start, stop)
    notes = _merged([(m.start(), m.end()) for m in NOTE_DEFINITION.finditer(source.text, start, stop)] + inline)
    # a paragraph's letters without its inline notes' (pandoc's text has the note's mark there)
    outside = text
    for a, b in inline:
        outside = outside[:a] + " " * (b - a) + outside[b:]
    letters = {"note": _letters(text, start, stop), "": _letters(outside, start, stop)}
    own = [_letters(unit.text)[0] for unit in unit_list]
    found: dict[int, tuple[int, int, list[int]]] = {}
    taken: list[tuple[int, int]] = []
    flows: dict[int, list[tuple[int, int, int]]] = {}    # flow -> (unit, start, end) of its units found
    for n in sorted(range(len(unit_list)), key=lambda n: -len(own[n])):
        unit, word = unit_list[n], own[n]
        if not word:
            continue
        keys, at = letters["note" if unit.place == "note" else ""]
        placed = flows.setdefault(unit.flow, [])
        i = bisect.bisect_left(placed, (n,))
        lo = bisect.bisect_left(at, placed[i - 1][2]) if i else 0
        hi = bisect.bisect_left(at, placed[i][1]) if i < len(placed) else len(at)
        k = keys.find(word, lo, hi)
        while k >= 0:
            first, last = at[k], at[k + len(word) - 1] + 1
            whole = (k == 0 or at[k - 1] != first - 1) and (k + len(word) == len(at) or at[k + len(word)] != last)
            in_quote, in_note = _in_any((first, first + 1), quotes), _in_any((first, first + 1), notes)
            fits = in_quote if unit.place == "quote" else in_note if unit.place == "note" else not (in_quote or in_note)
            if whole and fits and not _in_any((first, last), taken):
                found[n] = (first, last, at[k:k + len(word)])
                for piece in _without(first, last, inline):   # (its inline notes are not its text)
                    bisect.insort(taken, piece)
                placed.insert(i, (n, first, last))
                break
            k = keys.find(word, k + 1, hi)
    return found


def _inline_note_spans(text: str, start: int, stop: int) -> list[tuple[int, int]]:
    """The spans of the inline notes ('^[...]') in ``text[start:stop]``, each within its paragraph."""
    spans = []
    at = text.find("^[", start, stop)
    while at >= 0:
        depth, end, i = 0, None, at + 1
        while i < stop and end is None:
            ch = text[i]
            if ch == "\\":
                i += 1
            elif ch == "[":
                depth += 1
            elif ch == "]":
                depth -= 1
                end = i + 1 if depth == 0 else None
            elif ch == "\n" and re.match(r"\n[ \t]*\n", text[i:i + 80]):
                break
            i += 1
        if end is not None:
            spans.append((at, end))
        at = text.find("^[", end or at + 2, stop)
    return spans


def _without(start: int, end: int, holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The span ``start:end`` without the (sorted) spans ``holes`` that begin in it."""
    out = []
    for a, b in holes:
        if start < a < end:
            out.append((start, a))
            start = b
    return out + [(start, end)] if start < end else out


def _merged(regions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(regions):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _within_unit(source: Source, f: Finding, unit: Unit, found, skipped: list, quotes: list) -> tuple[int, int] | None:
    """Where finding ``f`` stands in the source, in its unit's letters (``found``: see _unit_spans), or None."""
    if found is None:
        return None
    first, last, at = found
    unit_at = _letters(unit.text)[1]
    k = bisect.bisect_left(unit_at, f.start)            # the unit's letters before the finding
    n = bisect.bisect_left(unit_at, f.end) - k          # ... and in it
    text = source.text
    # between the letters around it; at the unit's start or end, as far as the next letter or line's end
    lo = at[k - 1] + 1 if k else _apart(text, first, -1, source.region[0])
    hi = at[k + n] if k + n < len(at) else _apart(text, last - 1, 1, source.region[1])
    for m in _source_pattern(f.found).finditer(text, lo, hi):
        if m.start() == m.end() or (n and _first_letter(text, m.start(), m.end()) != at[k]):
            continue
        if _in_any(m.span(), skipped) or (f.code != "style-mojibake" and _in_any(m.span(), quotes)):
            return None
        return m.span()
    return None


def _apart(text: str, at: int, step: int, limit: int) -> int:
    """From the letter at ``at``, the farthest offset towards ``limit`` (back if ``step`` is -1) that the
    same line holds with no other letter or digit."""
    i = at + step
    while (i >= limit if step < 0 else i < limit) and text[i] != "\n" and not text[i].isalnum():
        i += step
    return i + 1 if step < 0 else i


def _first_letter(text: str, start: int, end: int) -> int | None:
    return next((i for i in range(start, end) if text[i].isalnum()), None)


def _locate_by_context(source: Source, unit_list: list[Unit], findings: list[Finding], skipped: list,
                       quotes: list, spans: dict) -> None:
    """Place each finding at the occurrence of its text whose surrounding words best match the surrounding
    words in pandoc's document, outside the units found in the source (but its own)."""
    start, stop = source.region
    region = source.text[start:stop]
    # the source with its markup and note references blanked, for the words around an occurrence:
    # "[U.S. defence]{.smallcaps} end" reads as pandoc's "U.S. defence end", "1993-94[^n] the" as "1993-94 the"
    words = re.sub(MARKUP + r"|\[\^[^\]\s]+\]", lambda m: " " * len(m.group()), source.text, flags=re.S)
    taken = sorted((a, b, n) for n, (a, b, _) in spans.items())
    by_text: dict[str, list[Finding]] = {}
    for f in findings:
        by_text.setdefault(f.found, []).append(f)
    for found, group in by_text.items():
        candidates = [(start + m.start(), start + m.end()) for m in _source_pattern(found).finditer(region)]
        candidates = [c for c in candidates if not _in_any(c, skipped)]
        if group[0].code != "style-mojibake":    # (the only finding made in quotations)
            candidates = [c for c in candidates if not _in_any(c, quotes)]
        scored, needed = [], []
        for fi, f in enumerate(group):
            unit = unit_list[f.unit]
            left = _skeleton(unit.text[max(0, f.start - 60):f.start])[::-1][:40]
            right = _skeleton(unit.text[f.end:f.end + 60])[:40]
            needed.append(min(AT_LEAST, len(left) + len(right)))
            for ci, (a, b) in enumerate(candidates):
                if any(s < b and a < e and n != f.unit for s, e, n in taken):
                    continue    # in another unit
                src_left = _skeleton(words[max(start, a - 160):a])[::-1][:40]
                src_right = _skeleton(words[b:min(stop, b + 160)])[:40]
                scored.append((-(_common(left, src_left) + _common(right, src_right)), fi, ci))
        scored.sort()
        used_f, used_c = set(), set()
        for score, fi, ci in scored:
            if fi in used_f or ci in used_c or -score < needed[fi]:
                continue
            used_f.add(fi)
            used_c.add(ci)
            f = group[fi]
            a, b = candidates[ci]
            f.span = (a, b)
            f.location = Location(source.path, *line_column(source.text, a))


# ------------------------------------------------------------------------------------------- --fix-style


@dataclass(frozen=True)
class Change:
    path: str
    start: int
    end: int
    old: str
    new: str
    location: Location

    def describe(self) -> str:
        def shown(text: str) -> str:
            return f'"{text}"' if "'" in text else f"'{text}'"
        return f"{self.location}: {shown(self.old)} -> {shown(self.new)}"


class FixFailed(Exception):
    """A change could not be made; no file was changed."""


def planned_changes(book: Book) -> list[Change]:
    """The safe replacements: terms, names, quotes, dashes and mojibake in the authors' prose (never in quotations
    or code; mojibake in quotations too, since it restores what was quoted), never in book.yml."""
    changes = []
    for source, f in scan_book(book).findings:
        if not f.fixable or f.want is None or f.span is None or source.path == "book.yml":
            continue
        old = source.text[f.span[0]:f.span[1]]
        new = f.want
        if old == "--" and new == "—" or old == "---":
            new = "—"
        path, start, end, there = source.origin(*f.span)
        changes.append(Change(path, start, end, old, new, there or f.location))
    return changes


def apply_changes(root: Path, changes: list[Change]) -> list[Change]:
    """Make every change, or none: all new texts are computed first, then written to temporary files beside
    the originals, then moved over them; if anything fails, the files written so far are put back."""
    by_path: dict[str, list[Change]] = {}
    for change in changes:
        by_path.setdefault(change.path, []).append(change)
    new_texts: dict[Path, tuple[bytes, str]] = {}
    done: list[Change] = []
    for rel, items in by_path.items():
        path = root / rel
        try:
            original = path.read_bytes()
            text = original.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise FixFailed(f"{rel} cannot be read: {exc}") from None
        # the changes' offsets are in the text as it was read (no BOM, every line ending a '\n'); the file
        # is changed as it is written, its BOM and its line endings (CRLF, LF or both) kept
        bom = len(text) - len(text.removeprefix("\ufeff"))
        wide = [m.start() - bom - i for i, m in enumerate(re.finditer("\r\n", text))]   # where each CRLF is read

        def raw(at: int) -> int:
            return at + bom + bisect.bisect_left(wide, at)

        last: int | None = None
        for change in sorted(items, key=lambda c: c.start, reverse=True):
            if last is not None and change.end > last:
                continue   # overlaps a change already made
            start, end = raw(change.start), raw(change.end)
            if re.sub("\r\n?", "\n", text[start:end]) != change.old:
                raise FixFailed(f"{rel} changed while it was being checked ({change.location}); run again")
            text = text[:start] + change.new + text[end:]
            last = change.start
            done.append(change)
        new_texts[path] = (original, text)
    temps: dict[Path, str] = {}
    try:
        for path, (_, text) in new_texts.items():
            fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".fix", dir=path.parent)
            temps[path] = temp
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
                out.write(text)
            os.chmod(temp, path.stat().st_mode & 0o7777)
    except OSError as exc:
        for temp in temps.values():
            _remove(temp)
        raise FixFailed(f"cannot write beside {path}: {exc.strerror or exc}") from None
    replaced: list[Path] = []
    try:
        for path, temp in temps.items():
            os.replace(temp, path)
            replaced.append(path)
    except OSError as exc:
        for path in replaced:      # put back what was already replaced
            path.write_bytes(new_texts[path][0])
        for temp in temps.values():
            _remove(temp)
        raise FixFailed(f"cannot replace {path}: {exc.strerror or exc}; no file was changed") from None
    return sorted(done, key=lambda c: (c.path, c.start))


def _remove(temp: str) -> None:
    try:
        os.unlink(temp)
    except OSError:
        pass
