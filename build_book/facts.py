"""What the book-wide passes need from one chapter's document, read in one walk.

The label index (labels.py) numbers each chapter's sections, figures, tables and equations; the
back-of-book index (index.py) collects its marks; the checks read its targets (model.Targets). All of
that depends on the chapter's document alone, so the loader keeps it beside the parse, cached by the
chapter's digest (load.py): after an edit, an unchanged chapter is neither walked nor even read again,
and the passes over the whole book work from these facts.

The facts are plain JSON-able lists, in reading order:

- ``labels``: what labels.py numbers, outside footnotes: ``["h", level, id, unnumbered, title]`` for a
  heading below the chapter's title (not a callout's title), ``["f", "figure"|"table", id, [sub-figure
  ids], caption]`` for a labelled figure or table, ``["e", id, tex]`` for a labelled equation;
- ``marks``: when the chapter marks index terms (else empty), every heading ``["h", level, id]`` and
  mark ``["m", type, attributes, term as written, empty]``, footnotes included;
- ``cleans``: whether the chapter holds raw HTML or an attribute with a value (``{key=value}``, a
  table's rows and cells included): without them, sanitize.py finds nothing to remove but in link and
  image targets, which the targets hold;
- ``unprinted``: for each footnote holding a block the PDF cannot set at the foot of a page (a table, a
  heading, a figure, a definition list, raw HTML; notes_inline.lua leaves it out), ``[kinds, words]``:
  the kinds of block, and the first words of the note (to find it in the author's file);
- ``unnumbered``: each div or code block labelled as a kind Quarto numbers and build_book does not (a
  theorem, a code listing, a callout: ``::: {#thm-x}``), ``[id, has a caption (lst-cap)]``;
- ``notes``: ``[notes, citations outside notes]``: how many footnotes the chapter has, and how many citations
  stand outside them (each a note of its own in a note style): what pandoc numbers fn1, fn2, ...;
- ``code``: each code block ``[id, classes, lines, first line's number]``, in reading order: pandoc gives a
  highlighted block's lines the ids ``{id}-1``, ``{id}-2``, ... (from its startFrom); build_book names a block
  without an id (transform.code_ids);
- ``citations``: each different citation list of the chapter's citations (a Cite's citations, without
  pandoc's citationHash), in the order first met: what transform.py formats in one citeproc run for the
  whole book before the chapters are resolved.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .walk import ATTR_AT, elements, elements_inside, inline_text

NOTES = frozenset(("Note",))


@dataclass(frozen=True)
class Facts:
    labels: list = field(default_factory=list)
    marks: list = field(default_factory=list)
    # holds what sanitize.py may take out (raw HTML, attributes with values, a table's), or not
    cleans: bool = True
    unprinted: list = field(default_factory=list)
    citations: list = field(default_factory=list)
    unnumbered: list = field(default_factory=list)
    # every element's id that the editions print, in reading order (its notes' too), each with where it
    # stands: "" (the text), "ins" or "del" (in an editor's insertion or deletion, which one round takes out)
    ids: list = field(default_factory=list)
    notes: list = field(default_factory=lambda: [0, 0])
    code: list = field(default_factory=list)


def extract(blocks: list, visit=None):
    """(model.Targets, Facts) of a chapter's document, in one walk; ``visit`` (if given) is called with each
    element that has attributes (walk.ATTR_AT), before it is looked at (load.py's _learn gives the headings
    their ids so, in the same walk)."""
    from . import compat, math
    from .labels import unnumbered_kind
    from .index import _is_mark, _written
    from .model import Targets
    from .quarto import CONDITIONAL, callout_kind

    cites, images, links, raw_html, maths, stray_labels = [], [], [], [], [], []
    conditional = callouts = cleans = False
    labels: list = []
    marks: list = []
    unprinted: list = []
    unnumbered: list = []
    ids: list[list[str]] = []
    notes = [0, 0]
    code: list = []
    edits: dict[int, str] = {}   # the id() of each element in an editor's insertion or deletion: which
    citations: dict[str, list] = {}
    headings: list = []      # for the marks: every heading (only kept if the chapter marks a term)
    titles: set[int] = set()  # the id() of each heading that titles a callout
    inside = [0]             # footnotes the element stands in
    for node in elements_inside(blocks, NOTES, inside):
        kind = node["t"]
        if kind == "Str":
            if "{#eq" in node["c"]:
                stray_labels.append(node["c"])
            continue
        if kind in ("Space", "SoftBreak"):
            continue
        if visit is not None and kind in ATTR_AT:
            visit(node)
        if kind in ATTR_AT and node["c"][ATTR_AT[kind]][0] and _printed_id(node):
            ids.append([node["c"][ATTR_AT[kind]][0], edits.get(id(node), "")])
        if kind in ("Span", "Div") and {"critic-ins", "critic-del"} & set(node["c"][0][1]):
            edit = "ins" if "critic-ins" in node["c"][0][1] else "del"
            edits.update((id(inner), edit) for inner in elements(node["c"][1]))
        if not cleans:
            at = ATTR_AT.get(kind)
            cleans = (at is not None and bool(node["c"][at][2])) or (kind == "Table" and _table_values(node)) or (
                kind in ("RawBlock", "RawInline") and node["c"][0].lower() in ("html", "html4", "html5"))
        if kind in ("Div", "Span", "CodeBlock"):
            ident, classes, pairs = node["c"][0]
            if kind == "CodeBlock":
                start = dict(pairs).get("startFrom", "1")
                code.append([ident, classes, node["c"][1].count("\n") + 1, int(start) if start.isdigit() else 1])
            if ident and kind != "Span" and unnumbered_kind(ident):
                unnumbered.append([ident, any(key == "lst-cap" for key, _ in pairs)])
            if classes:
                conditional = conditional or any(c in CONDITIONAL for c in classes)
                callouts = callouts or (kind == "Div" and any(c.startswith("callout-") for c in classes))
                if kind == "Div" and callout_kind(node) and node["c"][1] and node["c"][1][0]["t"] == "Header":
                    titles.add(id(node["c"][1][0]))
            if kind != "CodeBlock":
                if _is_mark(node):
                    marks.append(_mark(node, kind, _written))
                if kind == "Span" and not inside[0] and math.is_equation(node):
                    label_id = node["c"][0][0]
                    labels.append(["e", label_id, math.tex_of(node)])
        elif kind == "Note":
            notes[0] += 1
            left = _unprinted(node["c"])
            if left:
                unprinted.append([list(left), _first_words(node["c"])])
        elif kind == "Cite":
            notes[1] += not inside[0]
            cites.extend(c["citationId"] for c in node["c"][0])
            listed = [{k: v for k, v in c.items() if k != "citationHash"} for c in node["c"][0]]
            citations.setdefault(json.dumps(listed, sort_keys=True, ensure_ascii=False), listed)
        elif kind == "Link":
            links.append(node["c"][2][0])
        elif kind == "Image":
            images.append(node["c"][2][0])
            if node["c"][1]:    # its alt text is printed as plain text: a note or citation in it makes none
                alt = [0]
                for inner in elements_inside(node["c"][1], NOTES, alt):
                    notes[0] -= inner["t"] == "Note"
                    notes[1] -= inner["t"] == "Cite" and not alt[0] and not inside[0]
        elif kind in ("RawBlock", "RawInline"):
            fmt, text = node["c"]
            if fmt == "html" and not text.lstrip().startswith("<!--"):
                raw_html.append(text)
            if fmt == "html" and "<img" in text.lower():   # an image in raw HTML is one the editions carry and
                images.extend(raw_images(text))          # check too
            if kind == "RawInline" and _is_mark(node):
                marks.append(_mark(node, kind, _written))
        elif kind == "Math":
            maths.append((node["c"][1], node["c"][0]["t"] == "DisplayMath"))
        elif kind == "Header":
            level, attr, inlines = node["c"]
            headings.append(len(marks))
            marks.append(["h", level, attr[0]])
            if level != 1 and not inside[0] and id(node) not in titles:
                labels.append(["h", level, attr[0], bool({"unnumbered", "-"} & set(attr[1])), inline_text(inlines)])
        elif kind in ("Figure", "Table") and not inside[0]:
            attr = node["c"][0]
            if attr[0]:
                subs = [sub["c"][0][0] for sub in compat.subfigures(node)] if kind == "Figure" else []
                caption = node["c"][1][1]
                text = " ".join(inline_text(b["c"]) for b in caption if b["t"] in ("Plain", "Para"))
                labels.append(["f", "figure" if kind == "Figure" else "table", attr[0], subs, text])
    if len(marks) == len(headings):
        marks = []             # no term marked: nothing for the index
    targets = Targets(cites, images, links, raw_html, maths, stray_labels, conditional, callouts)
    return targets, Facts(labels, marks, cleans, unprinted, list(citations.values()), unnumbered, ids,
                          notes, code)


# The blocks a footnote in the PDF keeps, as notes_inline.lua sets them on lines of their own (the ones
# that hold blocks, looked into); the rest it leaves out, but a rule (which holds no text).
NOTE_KEEPS = frozenset(("Para", "Plain", "LineBlock", "CodeBlock", "HorizontalRule"))


def _unprinted(blocks: list) -> dict[str, None]:
    """The kinds of block in a footnote's ``blocks`` that notes_inline.lua leaves out, in reading order."""
    left: dict[str, None] = {}
    for block in blocks:
        kind = block["t"]
        if kind == "BlockQuote":
            left |= _unprinted(block["c"])
        elif kind == "Div":
            left |= _unprinted(block["c"][1])
        elif kind in ("BulletList", "OrderedList"):
            for item in block["c"] if kind == "BulletList" else block["c"][1]:
                left |= _unprinted(item)
        elif kind == "RawBlock":   # raw HTML (not a comment); other formats are reported wherever they stand
            fmt, text = block["c"]
            if fmt.lower() in ("html", "html4", "html5") and not text.lstrip().startswith("<!--"):
                left[kind] = None
        elif kind not in NOTE_KEEPS:
            left[kind] = None
    return left


def _first_words(blocks: list) -> str:
    """The first words of a footnote's text, as printed (its first paragraph's, or else any)."""
    for node in elements(blocks):
        if node["t"] in ("Para", "Plain"):
            text = inline_text(node["c"]).strip()
            if text:
                return " ".join(text.split()[:8])
    return ""


def _table_values(node: dict) -> bool:
    """Does an attribute of a table's head, bodies, foot, rows or cells give a value (``key=value``)?"""
    def rows(found) -> bool:
        return any(row[0][2] or any(cell[0][2] for cell in row[1]) for row in found)

    try:
        _, _, _, head, bodies, foot = node["c"]
        return bool(head[0][2] or rows(head[1]) or foot[0][2] or rows(foot[1])
                    or any(body[0][2] or rows(body[2]) or rows(body[3]) for body in bodies))
    except (ValueError, TypeError, IndexError, KeyError):
        return True    # not the table pandoc writes: let sanitize.py look


def raw_images(html: str) -> list[str]:
    """The local images raw HTML shows (<img src="figures/a.png">): not a web address, nor a data: URL, which
    the sanitizer reports or lets through as they are."""
    from html import unescape
    from .model import is_external
    html = RAW_COMMENT.sub("", html)
    found = (unescape(next(v for v in m.groups() if v is not None)) for m in RAW_IMAGE.finditer(html))
    return [src for src in found if src and not is_external(src) and not src.startswith(("data:", "#"))]


# (an attribute's quoted value may hold a '>': alt="x > y")
RAW_IMAGE = re.compile(r"""<img\b(?:[^>"']|"[^"]*"|'[^']*')*?\ssrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.I)
RAW_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)


def _printed_id(node: dict) -> bool:
    """Whether the editions print an element's id: not an index mark's (each mark has one of its own),
    nor a link's to a file that is no page (printed as its text)."""
    from .index import _is_mark
    from .model import is_external
    if node["t"] == "Link":
        target = node["c"][2][0]
        return target.startswith("#") or is_external(target) or target.split("#")[0].endswith((".md", ".qmd"))
    return node["t"] not in ("Span", "Div") or not _is_mark(node)


def _mark(node: dict, kind: str, written) -> list:
    attrs = [list(pair) for pair in node["c"][0][2]] if kind != "RawInline" else []
    return ["m", kind, attrs, written(node), kind == "Span" and not node["c"][1]]


# --- the cache's form ----------------------------------------------------------------------------------

def to_json(targets, facts: Facts) -> dict:
    return {"cites": targets.cites, "images": targets.images, "links": targets.links, "raw_html": targets.raw_html,
            "maths": targets.maths, "stray_labels": targets.stray_labels, "conditional": targets.conditional,
            "callouts": targets.callouts, "labels": facts.labels, "marks": facts.marks, "cleans": facts.cleans,
            "unprinted": facts.unprinted, "citations": facts.citations, "unnumbered": facts.unnumbered,
            "ids": facts.ids, "notes": facts.notes, "code": facts.code}


def from_json(data: dict):
    """(Targets, Facts) as :func:`to_json` wrote them; raises (KeyError, TypeError, ValueError) if not."""
    from .model import Targets

    def strings(value) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise TypeError("not a list of strings")
        return value

    maths = [(tex, bool(display)) for tex, display in data["maths"]]
    if not all(isinstance(tex, str) for tex, _ in maths):
        raise TypeError("not a formula")
    labels, marks, unprinted, citations = data["labels"], data["marks"], data["unprinted"], data["citations"]
    unnumbered = data["unnumbered"]
    if not all(isinstance(x, list) for x in (labels, marks, unprinted, citations, unnumbered)):
        raise TypeError("not a list")
    if not all(isinstance(u, list) and len(u) == 2 and isinstance(u[0], str) for u in unnumbered):
        raise TypeError("not a labelled block")
    if not all(isinstance(c, list) and all(isinstance(x, dict) for x in c) for c in citations):
        raise TypeError("not a citation list")
    targets = Targets(strings(data["cites"]), strings(data["images"]), strings(data["links"]),
                      strings(data["raw_html"]), maths, strings(data["stray_labels"]),
                      bool(data["conditional"]), bool(data["callouts"]))
    ids = data["ids"]
    if not all(isinstance(i, list) and len(i) == 2 and all(isinstance(x, str) for x in i) for i in ids):
        raise TypeError("not an id")
    notes, code = data["notes"], data["code"]
    if not (isinstance(notes, list) and len(notes) == 2 and all(type(n) is int for n in notes)):
        raise TypeError("not a count of notes")
    for block in code:
        if not (isinstance(block, list) and len(block) == 4 and isinstance(block[0], str) and type(block[2]) is int
                and type(block[3]) is int):
            raise TypeError("not a code block")
        strings(block[1])
    return targets, Facts(labels, marks, bool(data["cleans"]), unprinted, citations, unnumbered, ids, notes, code)
