"""A chapter's abstract: the front matter's ``abstract:``, read as Markdown as pandoc reads it, printed
under the chapter's title in every edition; and what makes one print as written (a warning)."""

from __future__ import annotations

import functools
import json
import re
from concurrent.futures import ThreadPoolExecutor

from markupsafe import Markup

from . import compat, critic, pandoc, sanitize
from .diagnostics import Diagnostic, warning
from .labels import is_crossref
from .model import Chapter
from .scan import scan
from .walk import inline_text

# what makes an abstract more than words: pandoc reads the front matter's abstract as Markdown ('a study of
# *Japan's Security*'); only these elements are printed as markup, each by a tag without attributes
ABSTRACT_MARKUP = re.compile(r"[*_`~^\[\\<&$@]")
ABSTRACT_TAGS = {"Emph": "em", "Strong": "strong", "Underline": "u", "Strikeout": "del", "Superscript": "sup",
                 "Subscript": "sub", "Code": "code"}
CRITIC_CLASSES = ("critic-ins", "critic-del", "critic-mark", "critic-comment")   # (proofs only)
LANGUAGE = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*")   # a span's lang= that an abstract prints
# quotes and dashes as typed (the house style treats them so), '\LaTeX' as written; what pandoc reads as a
# citation, a formula, raw HTML or a note makes the abstract print as written (see _abstract_inlines)
ABSTRACT_READER = "markdown-smart-raw_tex-raw_attribute-auto_identifiers-yaml_metadata_block"


def abstract_views(abstracts: list[str], proof: bool = False) -> dict[str, tuple[Markup, str]]:
    """Each abstract (as written) -> (its HTML, which is also XHTML; its plain text). An abstract with
    Markdown in it is printed as pandoc reads it (emphasis, code, small caps, a web link); one with anything
    else (several paragraphs, a list, a citation, math, raw HTML) is printed as written, as is one with no
    Markdown. In a proof, the editors' marks in an abstract are shown as in the chapter's text."""
    out = {text: (Markup.escape(text), text) for text in abstracts}
    read_as = {text: critic.to_pandoc(text) if proof else text for text in dict.fromkeys(abstracts)}
    marked = [text for text in read_as if _read_as_markdown(read_as[text])]
    with ThreadPoolExecutor(max_workers=min(4, len(marked) or 1)) as pool:   # each read on its own
        for text, read in zip(marked, pool.map(lambda text: _read_abstract(read_as[text], proof), marked)):
            if read is not None:
                out[text] = (Markup(read[0]), read[1])
    return out


def _read_as_markdown(text: str) -> bool:
    """Whether pandoc may read ``text`` as more than its words: it holds Markdown, or runs over lines (which
    may be paragraphs or a list)."""
    return bool(ABSTRACT_MARKUP.search(text)) or "\n" in text.strip()


@functools.lru_cache(maxsize=512)
def _fragment(text: str) -> str | None:
    # (read once for the check and the editions; JSON, so that each caller gets inlines of its own)
    inlines = pandoc.read_fragment(text, ABSTRACT_READER)
    if inlines is not None and compat.CJK_BREAK.search(text):
        compat.join_cjk_lines(inlines)     # (as in a chapter's text)
    return None if inlines is None else json.dumps(inlines)


def _read_abstract(text: str, proof: bool = False) -> tuple[str, str] | None:
    """(HTML, plain text) of an abstract as pandoc reads it, or None to print it as written."""
    read = _fragment(text)
    if read is None:
        return None
    html: list[str] = []
    plain: list[str] = []
    try:
        _abstract_inlines(json.loads(read), html, plain, proof)
    except (_Unprinted, ValueError, KeyError, TypeError, IndexError):
        return None
    return "".join(html), "".join(plain)


class _Unprinted(Exception):
    """An element an abstract does not print (``args[0]``: the node)."""


def _abstract_inlines(inlines: list, html: list[str], plain: list[str], proof: bool = False) -> None:
    """The HTML and plain text of pandoc's inlines, for the elements an abstract may hold (_Unprinted if
    another stands there); in a proof, the spans critic.py makes of editors' marks too."""
    for node in inlines:
        kind, content = node["t"], node.get("c")
        if proof and kind == "Span" and len(content[0][1]) == 1 and content[0][1][0] in CRITIC_CLASSES:
            name = content[0][1][0]
            html.append(f'<span class="{name}"' + (' tabindex="0">' if name == "critic-comment" else ">"))
            _abstract_inlines(content[1], html, [] if name == "critic-comment" else plain, proof)
            html.append("</span>")
            continue
        if kind == "Str":
            html.append(Markup.escape(content))
            plain.append(content)
        elif kind in ("Space", "SoftBreak"):
            html.append(" ")
            plain.append(" ")
        elif kind == "LineBreak":     # a line ended by '\\' or two spaces
            html.append("<br />")
            plain.append(" ")
        elif kind == "Code":
            html.append(f"<code>{Markup.escape(content[1])}</code>")
            plain.append(content[1])
        elif kind in ABSTRACT_TAGS:
            html.append(f"<{ABSTRACT_TAGS[kind]}>")
            _abstract_inlines(content, html, plain, proof)
            html.append(f"</{ABSTRACT_TAGS[kind]}>")
        elif kind == "SmallCaps" or kind == "Span" and content[0][1] == ["smallcaps"]:
            html.append('<span class="smallcaps">')
            _abstract_inlines(content if kind == "SmallCaps" else content[1], html, plain, proof)
            html.append("</span>")
        elif kind == "Span" and not content[0][0] and not content[0][1] and len(content[0][2]) == 1 \
                and content[0][2][0][0] == "lang" and LANGUAGE.fullmatch(content[0][2][0][1]):
            html.append(f'<span lang="{content[0][2][0][1]}">')      # ('[日本]{lang=ja}')
            _abstract_inlines(content[1], html, plain, proof)
            html.append("</span>")
        elif kind == "Cite" and not _meant(node):     # '@handle': as written
            html.append(Markup.escape(_literal(node)))
            plain.append(_literal(node))
        elif kind == "Link" and re.match(r"(?i)(https?|mailto):", content[2][0]) \
                and sanitize.url_problem(content[2][0], resource=False) is None:   # (a page's own links: not here)
            html.append(f'<a href="{Markup.escape(content[2][0])}">')
            _abstract_inlines(content[1], html, plain, proof)
            html.append("</a>")
        else:
            raise _Unprinted(node)


# --- the check ---------------------------------------------------------------------------------------------

# what an element that makes the abstract print as written is called, and what the author can do instead
HINTS = {
    "Cite": "write the reference out in words, as in 'Walt (1987)', and cite it in the chapter's text; write \\@ "
            "for an @ that is no citation",
    "Math": "write it in words or with Unicode characters (x², α)",
    "RawInline": "use Markdown instead: *emphasis*, **strong**, `code`",
    "Note": "put the note in the chapter's text",
    "Image": "put the image in the chapter's text",
    "Link": "an abstract links only to web addresses (https://...); link to the chapter's parts from its text",
    "Span": "an abstract prints [text]{.smallcaps} and [text]{lang=ja}; write other spans as plain text",
}


def _named(node: dict) -> str:
    """What an element an abstract does not print is, for a message: 'a citation '[@walt1987]''."""
    kind, content = node["t"], node.get("c")
    if kind == "Cite":
        written = _literal(node)
        what = "a cross-reference" if any(is_crossref(c["citationId"]) for c in content[0]) else "a citation"
        return f"{what} '{_short(written)}'"
    if kind == "Math":
        return f"a formula '${_short(content[1])}$'"
    if kind == "RawInline":
        return f"raw {content[0].upper() if content[0] != 'html' else 'HTML'} '{_short(content[1])}'"
    if kind == "Link":
        return f"a link to '{_short(content[2][0])}'"
    if kind == "Span":
        return f"a span '[{_short(inline_text(content[1]))}]{{...}}'"
    return {"Note": "a footnote", "Image": "an image"}.get(kind, f"pandoc's {kind}")


CROSSREF_HINT = "write the chapter, section, figure or table in words ('Chapter 2')"


def _short(text: str, most: int = 60) -> str:
    return text[:most] + "…" if len(text) > most else text


def check(chapter: Chapter) -> list[Diagnostic]:
    """A warning where a chapter's abstract holds Markdown that is not printed as Markdown: the whole abstract
    is then printed as written, its asterisks and brackets too. (Called per chapter by checks.py; an @name
    that pandoc reads as a citation but that looks like none, '@handle', is printed as written unsaid.)"""
    text = chapter.abstract
    if not text or not _read_as_markdown(text):
        return []
    where = chapter.abstract_location or chapter.location
    read = _fragment(text)
    if read is None:
        slow = scan(text).pathological
        if slow:
            return [warning("abstract-as-written", f"this abstract is printed as written, its Markdown too: it holds "
                            f"{slow[0][0]}, which pandoc would take minutes over", where,
                            "write brackets that are not links or spans as \\[ and \\], and a < that opens no "
                            "tag as \\<")]
        return [warning("abstract-as-written", "this abstract is printed as written, its Markdown too: pandoc "
                        "reads it as more than one paragraph of text (several paragraphs, a list or a heading)",
                        where, "write the abstract as one paragraph")]
    try:
        _abstract_inlines(json.loads(read), [], [])
    except (ValueError, KeyError, TypeError, IndexError):     # (not pandoc's inlines: printed as written)
        return []
    except _Unprinted as unprinted:
        node = unprinted.args[0]
        crossref = node["t"] == "Cite" and any(is_crossref(c["citationId"]) for c in node["c"][0])
        return [warning("abstract-as-written", f"this abstract is printed as written, its Markdown too: it holds "
                        f"{_named(node)}, which an abstract does not print", where,
                        CROSSREF_HINT if crossref else HINTS.get(node["t"], "write it in the chapter's text"))]
    return []


def _meant(cite: dict) -> bool:
    """Whether a citation pandoc read in an abstract was meant as one: in brackets ('[@walt1987]'), a
    cross-reference ('@sec-x'), or a key with a digit ('@walt1987'); not a bare '@handle'."""
    return _literal(cite).startswith("[") or any(
        is_crossref(c["citationId"]) or any(ch.isdigit() for ch in c["citationId"]) for c in cite["c"][0])


def _literal(cite: dict) -> str:
    """A citation as written ('-@handle': pandoc's text of it leaves out the '-')."""
    text = inline_text(cite["c"][1]).strip()
    suppressed = cite["c"][0][0]["citationMode"]["t"] == "SuppressAuthor" and not text.startswith("[")
    return "-" + text if suppressed else text
