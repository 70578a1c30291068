"""Japanese (and other East Asian) names and titles, as the Chicago Manual prints them.

pandoc's citeproc prints every personal name in the Western order ("Sakurada, Daizō, and Gō Itō") and
honours neither CSL's ``static-ordering`` nor ``parse-names`` (tested with pandoc 3.9, from BibTeX and from
CSL JSON alike). So build_book hands citeproc the bibliography as CSL JSON (pandoc's own reading of the .bib
files) after changing it here:

* a person whose name is printed family name first (see :func:`family_first`) becomes, for the reference
  list, one literal name "Sakurada Daizō": printed as written, sorted by its first word, the family name.
  Citations keep the structured name, so that the short form is the family name alone ("Sakurada and Itō
  2004") and "et al." counts people as usual;
* the first of exactly two names, when printed family name first, carries an invisible mark, and the comma
  the style puts after it (Chicago and APA separate the last name of a list by a comma *because* the first
  name is inverted) is taken away again after formatting: "Sakurada Daizō and Itō Gō, eds.";
* an entry with ``scripttitle`` (the title in Japanese script) and/or ``translatedtitle`` (its translation)
  gets them after its romanised ``title``, the romanised title alone in italics as Chicago asks:
  *Hikaku gaikō seisaku* 比較外交政策 [Comparative foreign policy].

:func:`finish` removes the marks from citeproc's output and applies what they stand for.
"""

from __future__ import annotations

import re
import unicodedata

FAMILY_FIRST = "family-first"
GIVEN_FIRST = "given-first"
ORDERS = (FAMILY_FIRST, GIVEN_FIRST)
# entries in these languages print their people family name first
EAST_ASIAN = ("ja", "japanese", "zh", "chinese", "ko", "korean")
KEYWORD = FAMILY_FIRST        # keywords = {family-first} marks an entry whose language field says otherwise

TITLE_MARK = "\u2063"         # invisible separator: the romanised title ends here
PAIR_MARK = "\u2064"          # invisible plus: the first of two names, printed family name first
GIVEN_MARK = "\u2061"         # function application: ends the given name of a person printed family name first
MATH_OPEN, MATH_CLOSE = "\ue000", "\ue001"   # around TeX math in a field ('$\\epsilon$'), its spaces no-break
MARKS = re.compile(f"[{TITLE_MARK}{PAIR_MARK}{GIVEN_MARK}{MATH_OPEN}{MATH_CLOSE}]")

# CSL name variables (pandoc writes these from BibTeX's author, editor, translator, bookauthor, ...)
NAME_VARIABLES = ("author", "editor", "translator", "container-author", "collection-editor", "editorial-director",
                  "interviewer", "recipient", "reviewed-author", "composer", "director", "illustrator",
                  "original-author", "chair", "compiler", "contributor", "curator", "executive-producer", "guest",
                  "host", "narrator", "organizer", "performer", "producer", "script-writer", "series-creator")

# One word of a name in Hepburn romanisation: syllables (consonant, optional y, vowel), a syllabic n, doubled
# consonants (Hokkaidō, Hattori, Matchida) and long vowels with macrons or circumflexes. "Stephen", "Walt",
# "Peter" are not; "Sakurada", "Daizō", "Jun'ichirō" are.
_VOWEL = "aiueoāīūēōâîûêô"
_SYLLABLE = (f"(?:(?:([kstpgdbz])(?=\\1)|[tc](?=ch))?(?:ch|sh|ts|[kgszjtdnhbpmrfwy]y?)?[{_VOWEL}]"
             f"|n'?|m(?=[bpm]))")
_WORD = re.compile(f"{_SYLLABLE}+")


def romanised_japanese(word: str) -> bool:
    """Could ``word`` (a family or given name) be Japanese in Hepburn romanisation?"""
    parts = [p for p in re.split(r"[-\s]+", unicodedata.normalize("NFC", word).lower().replace("’", "'")) if p]
    return bool(parts) and all(_WORD.fullmatch(p) for p in parts)


def person_key(person: dict) -> str:
    """A person as the .bib writes them, 'Family, Given' (the key of book.yml's ``names:``)."""
    family = " ".join(x for x in (person.get("non-dropping-particle", ""), person.get("family", "")) if x)
    given = " ".join(x for x in (person.get("given", ""), person.get("dropping-particle", "")) if x)
    return normal_key(f"{family}, {given}" if given else family)


def normal_key(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).replace("{", "").replace("}", "").split())


def east_asian_entry(item: dict, fields: dict | None = None) -> bool:
    """Is the entry marked as a work in Japanese (or Chinese, Korean): ``langid``/``language`` (pandoc's
    ``language``), or ``keywords = {family-first}``?"""
    language = str(item.get("language", "")).lower()
    if language.split("-")[0] in EAST_ASIAN:
        return True
    fields = fields or {}
    for name in ("langid", "language", "hyphenation"):
        if fields.get(name, "").strip().lower() in EAST_ASIAN:
            return True
    keywords = re.split(r"[,;]", fields.get("keywords", "")) + [str(item.get("keyword", ""))]
    return any(k.strip().lower() == KEYWORD for k in keywords)


def family_first(person: dict, east_asian: bool, table: dict[str, str]) -> bool:
    """Is ``person`` printed family name first? As ``names:`` in book.yml says if it lists them; else in an
    entry marked Japanese, if both parts of the name read as romanised Japanese (so the Western authors of
    a translation keep their order)."""
    if "literal" in person or not person.get("family"):
        return False
    order = table.get(person_key(person))
    if order is not None:
        return order == FAMILY_FIRST
    if in_script(person["family"]):
        return True     # (山田, 太郎: citeproc prints it so too, but as the inverted first of two: '山田太郎, and')
    if not east_asian or person.get("dropping-particle") or person.get("non-dropping-particle"):
        return False
    given = person.get("given", "")
    return romanised_japanese(person["family"]) and (not given or romanised_japanese(given))


SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")


def in_script(name: str) -> bool:
    """Is a name written in Chinese characters, kana or hangul (printed family name first, no space)?"""
    return bool(SCRIPT.search(name))


def _script_parts(person):
    """A name written in Japanese (Chinese, Korean) script as 'Family Given', with a space and no comma
    ('岩本 康志', as jecon.bst's users and many exports write it), as it reads: BibTeX's rule takes a word with
    no capital letter for a particle ('von'), so pandoc reads it as particle '岩本', family name '康志', and no
    given name. Other names are returned as they are."""
    if not isinstance(person, dict) or person.get("given") or "literal" in person:
        return person
    particle = " ".join(x for x in (person.get("dropping-particle", ""), person.get("non-dropping-particle", ""))
                        if x)
    family = person.get("family", "")
    if not (particle and family and in_script(family) and all(in_script(w) for w in particle.split())):
        return person
    rest = {k: v for k, v in person.items() if k not in ("dropping-particle", "non-dropping-particle", "family")}
    return {**rest, "family": particle, "given": family}


def literal(person: dict) -> str:
    parts = [x for x in (person.get("family", ""), person.get("given", ""), person.get("suffix", "")) if x]
    return ("" if all(in_script(x) for x in parts[:2]) else " ").join(parts)


def _plain(value: str) -> str:
    """A .bib field value as text: braces and the common escapes removed."""
    value = re.sub(r"\\([&%$#_])", r"\1", value)
    return " ".join(value.replace("{", "").replace("}", "").split())


def prepare(items: list[dict], fields: dict[str, dict], table: dict[str, str],
            notes: bool = False, lang: str = "en") -> tuple[list[dict], list[dict]]:
    """CSL JSON items -> (the items citations are formatted from, the items the reference list is formatted
    from). ``fields``: key -> the entry's .bib fields; ``table``: book.yml's ``names:``; ``notes``: the style
    is a note style, whose first note of a work gives its people's whole names ("Daizō Sakurada", which
    :func:`finish` turns round: the given name carries a mark)."""
    table = {normal_key(k): v for k, v in table.items()}
    cite: list[dict] = []
    listed: list[dict] = []
    for item in items:
        item = {k: [_script_parts(p) for p in v] if k in NAME_VARIABLES and isinstance(v, list) else v
                for k, v in item.items()}
        own = fields.get(item.get("id", ""), {})
        east = east_asian_entry(item, own)
        item = _with_math(_joined(as_written(item, own, lang), own), own)
        title = _title(item, own)
        one = dict(item)
        if title is not None:
            one["title"] = title
        other = dict(one)
        if notes:
            for variable in NAME_VARIABLES:
                if isinstance(item.get(variable), list):
                    one[variable] = [{**person, "given": person["given"] + GIVEN_MARK}
                                     if isinstance(person, dict) and person.get("given") and person.get("family")
                                     and family_first(person, east, table) else person for person in item[variable]]
        cite.append(one)
        for variable in NAME_VARIABLES:
            people = item.get(variable)
            if not isinstance(people, list):
                continue
            turned = []
            for n, person in enumerate(people):
                if isinstance(person, dict) and family_first(person, east, table):
                    mark = PAIR_MARK if n == 0 and len(people) == 2 else ""
                    turned.append({"literal": literal(person) + mark})
                else:
                    turned.append(person)
            other[variable] = turned
        listed.append(other)
    return cite, listed


LANGUAGE_CODES = {"ja": "ja-JP", "japanese": "ja-JP", "zh": "zh", "chinese": "zh", "ko": "ko-KR", "korean": "ko-KR"}


def _marked_language(item: dict, own: dict) -> str | None:
    """The language of an entry marked Japanese (Chinese, Korean) by ``language`` or ``hyphenation`` but not
    ``langid``, which alone pandoc reads: so citeproc, as for ``langid``, leaves its title as written (it
    changes the case of an English title only)."""
    if item.get("language"):
        return None
    for name in ("language", "hyphenation"):
        code = LANGUAGE_CODES.get(own.get(name, "").strip().lower())
        if code:
            return code
    return None


# CSL title variables pandoc writes in sentence case for an entry it takes for English, and the .bib fields
# each is read from
WRITTEN_TITLES = {"title": ("title",), "container-title": ("booktitle", "journaltitle", "journal", "maintitle"),
                  "collection-title": ("series",)}
# TeX's ligatures and spaces, which pandoc reads as text ('---' an em dash)
_TEX_TEXT = (("---", "\u2014"), ("--", "\u2013"), ("``", "\u201c"), ("''", "\u201d"), ("`", "\u2018"),
             ("'", "\u2019"), ("~", "\u00a0"))


def _joined(item: dict, own: dict) -> dict:
    """Titles with no space where the .bib breaks a line between two Japanese (Chinese) characters, as a
    Japanese reader of TeX expects ('事例\\n集' is '事例集'): pandoc's reading made the line break a space."""
    for variable, names in WRITTEN_TITLES.items():
        read = item.get(variable)
        if not isinstance(read, str):
            continue
        for name in names:
            for a, b in _CJK_BREAK.findall(own.get(name, "")):
                if f"{a} {b}" in read:
                    read = read.replace(f"{a} {b}", a + b, 1)
        if read != item[variable]:
            item = {**item, variable: read}
    return item


_CJK = "\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_BREAK = re.compile(f"([{_CJK}])[ \t]*\r?\n\\s*([{_CJK}])")


def as_written(item: dict, own: dict, lang: str = "en") -> dict:
    """An entry marked Japanese (Chinese, Korean) by ``language`` or ``hyphenation`` but not ``langid``, which
    alone pandoc reads, as pandoc would read it with ``langid``: marked with its language, so that citeproc
    leaves its titles as they are, and with its title, book or journal title and series as the .bib writes
    them (pandoc took it for English, and wrote them in sentence case: 'Sengo nihon no', 'Keio economic
    observatory monograph series'). So too, in a book in another language than English (``lang``), an entry
    marked with no language at all: pandoc, which reads a .bib in the document's language, takes it for a work
    in the book's, and leaves its titles alone, but build_book's reading of the .bib is in English ('A case
    study of the japanese economy' in a Japanese book). A value is taken from the .bib only where it reads as
    pandoc's but for its capitals, so TeX in it ('---', '\\"o') is never printed as written."""
    language = _marked_language(item, own)
    if language:
        item = {**item, "language": language}
    elif (lang or "en").lower().split("-")[0] == "en" or item.get("language") or \
            any(own.get(name, "").strip() for name in ("langid", "language", "hyphenation")):
        return item
    else:
        item = dict(item)
    for variable, names in WRITTEN_TITLES.items():
        read = item.get(variable)
        if not isinstance(read, str):
            continue
        for name in names:
            written = _plain(own.get(name, ""))
            for tex, text in _TEX_TEXT:
                written = written.replace(tex, text)
            if written != read and written.casefold() == read.casefold():
                item[variable] = written
                break
    return item


# TeX math in a field as pandoc reads it in Markdown: '$' before a non-space, to a '$' after one and before no digit
TEX_MATH = re.compile(r"\$(?=\S)((?:\\.|[^$\\])+?)(?<=\S)\$(?!\d)")


def _with_math(item: dict, own: dict) -> dict:
    """TeX math in an entry's text fields ('The {$\\epsilon$}-net method'), which pandoc writes into CSL JSON
    as it is written, dollars and all, and citeproc then prints so (title case making '$\\Epsilon$'), marked
    for :func:`finish` to make math of, and kept from case changes; only where the .bib writes it so (a dollar
    escaped, '\\$5', is no math)."""
    written = " ".join(str(v) for v in own.values())
    if "$" not in written:
        return item
    out = dict(item)
    for variable, value in item.items():
        if not isinstance(value, str) or "$" not in value:
            continue

        def mark(found: re.Match) -> str:
            tex = found.group(1)
            if f"${tex}$" not in written.replace("{", "").replace("}", "") and f"${tex}$" not in written:
                return found.group(0)
            hidden = tex.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(" ", "\u00a0")
            return f'<span class="nocase">{MATH_OPEN}{hidden}{MATH_CLOSE}</span>'

        out[variable] = TEX_MATH.sub(mark, value)
    return out


def _title(item: dict, own: dict) -> str | None:
    script = _plain(own.get("scripttitle", ""))
    translated = _plain(own.get("translatedtitle", ""))
    if not (script or translated) or not item.get("title"):
        return None
    after = " ".join(x for x in (script, f"[{translated}]" if translated else "") if x)
    return f"{item['title']}{TITLE_MARK} {after}"


def finish(blocks: list) -> list:
    """citeproc's output with the marks of :func:`prepare` applied and removed: the script title and the
    translation taken out of the italics of the romanised title, the comma after the first of two names
    printed family name first dropped."""
    from .walk import rewrite

    def split_title(node: dict):
        if node["t"] != "Emph":
            return None
        inlines = node["c"]
        at = next((i for i, x in enumerate(inlines) if x["t"] == "Str" and TITLE_MARK in x["c"]), None)
        if at is None:
            return None
        word = inlines[at]["c"]
        head, _, tail = word.partition(TITLE_MARK)
        before = inlines[:at] + ([{"t": "Str", "c": head}] if head else [])
        after = ([{"t": "Str", "c": tail}] if tail else []) + inlines[at + 1:]
        return [{"t": "Emph", "c": before}] + after

    def clean(node: dict):
        if node["t"] != "Str" or not MARKS.search(node["c"]):
            return None
        text = node["c"].replace(PAIR_MARK + ",", "").replace(PAIR_MARK + "，", "")
        out = []
        for n, piece in enumerate(re.split(f"{MATH_OPEN}(.*?){MATH_CLOSE}", text)):
            if n % 2:
                # (as _with_math hid it from citeproc's markup: its '<', '>' and '&' as entities, which
                # citeproc keeps as written)
                tex = piece.replace("\u00a0", " ").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
                out.append({"t": "Math", "c": [{"t": "InlineMath"}, tex]})
            elif MARKS.sub("", piece):
                out.append({"t": "Str", "c": MARKS.sub("", piece)})
        return out

    rewrite(blocks, split_title)
    _given_last(blocks)
    return rewrite(blocks, clean)


def _given_last(tree) -> None:
    """A whole name printed given name first, its given name marked (see :func:`prepare`), turned round in
    place: 'Daizō⁡ Sakurada' as 'Sakurada Daizō'."""
    if isinstance(tree, dict):
        _given_last(tree.get("c"))
        return
    if not isinstance(tree, list):
        return
    for n, node in enumerate(tree):
        if isinstance(node, dict) and node.get("t") == "Str" and node["c"].endswith(GIVEN_MARK) and \
                n + 2 < len(tree) and tree[n + 1].get("t") == "Space" and tree[n + 2].get("t") == "Str":
            family = tree[n + 2]["c"]
            word = re.match(r"[^\W\d_][\w'’-]*", family)
            if word is not None:     # (the family name, and what the style put after it: 'Sakurada,')
                tree[n + 2] = {"t": "Str", "c": node["c"][:-1] + family[word.end():]}
                tree[n] = {"t": "Str", "c": word.group(0)}
        _given_last(node)
