"""What manuscripts written for pandoc or Quarto say in their own ways, read as build_book reads it.

Run on each chapter's document as it is loaded, before anything is numbered or checked:

- **figure divs** (Quarto's ``::: {#fig-x}``, pandoc-crossref's ``<div id="fig:x">``) become figures,
  their last paragraph the caption and their labelled images (``![a](a.png){#fig-a}``) sub-figures laid
  out side by side (``layout-ncol``, ``layout-nrow``, ``layout``); a table div (``::: {#tbl-x}``: a
  table and its caption) becomes the table;
- **raw TeX** (``\\newpage``, ``\\vspace{1em}``, ```` ```{=latex} ```` blocks), which no edition is made
  with: page breaks become build_book's page break, ``\\index{...}`` is an index mark (index.py), anything
  else is left out with a located warning;
- **lists numbered with parentheses** (``1)``, ``(a)``), which pandoc's HTML would number ``1.``, ``a.``:
  marked by a div the stylesheets read;
- **bookdown's references and labels** (``\\@ref(fig:x)``, ``Table: (\\#tab:x) ...``): cross-references that
  print the bare number, and the labels of the tables, figures and formulas they refer to;
- **pandoc's automatic heading ids** (``#fill-out-file-headers``), which build_book replaces with its
  own: :func:`auto_id` computes them as pandoc would, and :func:`relink` points links written to them
  at the heading's id in every edition.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote

from .diagnostics import Diagnostic, Location, warning
from .index import tex_term
from .labels import BOOKDOWN_REF as BOOKDOWN_REF_KEY
from .labels import TEX_REF as TEX_REF_KEY
from .labels import bookdown_label, normal_ref
from .math import EQUATION, as_read
from .scan import INLINE_EXPRESSION, TEX_LABEL
from .quarto import PAGEBREAK_CLASS   # as {{< pagebreak >}}
from .walk import Str, elements, elements_deep, inline_text, lists, rewrite, words

SUBFIGURES_CLASS = "subfigures"
MAX_COLUMNS = 6


def read(blocks: list, places: list[tuple[str, tuple[int, int]]], where: Location, limit: int | None = None,
         cjk_lines: bool = False, expressions: bool = False) -> tuple[list[tuple[dict, str]], list[Diagnostic]] | None:
    """A chapter's document as it was just read, changed in place, in one walk: figure divs made figures,
    raw TeX made page breaks or left out (with the warnings, see :func:`raw_tex`), lists numbered with
    parentheses marked (:func:`paren_lists`), and each heading without an id with the id pandoc would give
    it (see :func:`auto_ids`), amsmath's ``\\notag`` read (math.as_read), bookdown's references and caption
    labels read (:func:`bookdown`), and, with ``cjk_lines`` (the text breaks a line between two Chinese or
    Japanese characters: see :data:`CJK_BREAK`), no space where it does (:func:`join_cjk_lines`). With
    ``limit``: None, and nothing changed, if its elements nest deeper than that (see walk.elements_deep),
    measured in the same walk. With ``expressions`` (a .qmd or .Rmd chapter), the inline code knitr or Quarto
    would run inside a formula is printed as its words (see :func:`formula_expressions`)."""
    headings, used, notags, captions, implicit = [], set(), [], [], []
    figures = tex = parens = refs = False
    deepest = [0]
    for node in elements(blocks) if limit is None else elements_deep(blocks, limit, deepest):
        kind = node["t"]
        if kind == "Header":
            headings.append(node)
            if node["c"][1][0]:
                used.add(node["c"][1][0])
        elif kind == "Div":
            figures = figures or _figure_div(node)
        elif kind in ("RawBlock", "RawInline"):
            tex = tex or _is_tex(node)
        elif kind == "OrderedList":
            parens = parens or node["c"][0][2]["t"] in PAREN_CLASSES
        elif kind == "Math":
            if expressions and "`" in node["c"][1]:
                node["c"][1] = formula_expressions(node["c"][1])
            notags += [node] if "\\notag" in node["c"][1] else []
            refs = refs or _labelled_inside(node)
        elif kind == "Str" and "@ref(" in node["c"]:
            refs = True
        elif kind in ("Table", "Figure") and _bookdown_caption(node):
            captions.append(node)
        elif kind == "Link" and node["c"][2][0] in ("", "#"):
            implicit.append(node)
    if limit is not None and deepest[0] > limit:
        return None
    for node in notags:
        node["c"][1] = as_read(node["c"][1])
    if refs or captions:
        bookdown(blocks, captions)
    if cjk_lines:
        join_cjk_lines(blocks)
    autos = [(node, auto_id(node["c"][2], used)) for node in headings if not node["c"][1][0]]
    if implicit and headings:
        implicit_header_links(implicit, headings, autos)
    if figures:
        figure_divs(blocks)
    if parens:
        paren_lists(blocks)
    return autos, raw_tex(blocks, places, where) if tex else []


TEXT_ESCAPES = {"\\": "\\textbackslash{}", "^": "\\textasciicircum{}", "~": "\\textasciitilde{}",
                **{ch: "\\" + ch for ch in "{}$%&#_"}}


def formula_expressions(tex: str) -> str:
    """``tex`` with each inline expression knitr or Quarto would run and write its value in its place
    ('$\\bar{x} = `r xbar`$') as its words in text ('\\text{r xbar}'): build_book runs no code, and prints it as
    the inline code it is outside formulas (checks name it, code-not-executed), where the backticks left in
    made a formula no edition could typeset."""
    return INLINE_EXPRESSION.sub(
        lambda found: "\\text{" + "".join(TEXT_ESCAPES.get(ch, ch) for ch in found.group(1)) + "}", tex)


# A list numbered '1)' or '(a)': pandoc's HTML has no way to say so (an <ol> is numbered '1.'), so the list
# stands in a div whose class names its counter style ('parens-lower-roman': '(iv)'), defined by
# PAREN_LIST_CSS, which every edition adds to its stylesheet; the print edition's notes (notes_inline.lua)
# take their markers from the class
PAREN_CLASSES = {"OneParen": "paren", "TwoParens": "parens"}
LIST_STYLES = {"LowerAlpha": "lower-alpha", "UpperAlpha": "upper-alpha", "LowerRoman": "lower-roman",
               "UpperRoman": "upper-roman"}     # any other: decimal
PAREN_LIST_CSS = "\n".join(
    f'@counter-style {delimiter}-{style} {{ system: extends {style};{prefix} suffix: ") "; }}\n'
    f".{delimiter}-{style} > ol {{ list-style-type: {delimiter}-{style}; }}"
    for delimiter, prefix in (("paren", ""), ("parens", ' prefix: "(";'))
    for style in ("decimal", *LIST_STYLES.values())) + "\n"


# Chinese and Japanese characters (ideographs, kana, their punctuation and full-width forms), which a line
# may break between with no space, as Chinese and Japanese are written (not Korean's Hangul: Korean words
# are spaced, so a line break between them is a space, as between English words)
CJK = ("\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u31a0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
       "\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uff61-\uff9f\U00020000-\U0003134f")
# a line of a chapter's text that may end or begin with one of them (inside emphasis, a link, ...): then the
# chapter's line breaks are looked at (join_cjk_lines)
CJK_BREAK = re.compile(f"[{CJK}][^\\n]{{0,4}}\\n|\\n[^\\n]{{0,16}}?[{CJK}]")
_CJK = re.compile(f"[{CJK}]")


def join_cjk_lines(tree) -> None:
    """No space where a line breaks between two Chinese or Japanese characters, in place: pandoc's soft
    break there would print one (its east_asian_line_breaks extension takes it out between Korean words
    too, which are spaced)."""
    for item in lists(tree):
        if any(isinstance(x, dict) and x.get("t") == "SoftBreak" for x in item):
            item[:] = [x for n, x in enumerate(item) if not (
                isinstance(x, dict) and x.get("t") == "SoftBreak" and 0 < n < len(item) - 1
                and _CJK.match(_edge(item[n - 2] if n > 1 and _is_note(item[n - 1]) else item[n - 1], -1))
                and _CJK.match(_edge(item[n + 1], 0)))]


# inlines whose text is their content's (an emphasis, a link, a span, ...): the character at their edge is
# their content's; a note's is not in the line
_WRAPPERS = {"Emph": 0, "Strong": 0, "Underline": 0, "Strikeout": 0, "SmallCaps": 0, "Superscript": 0,
             "Subscript": 0, "Quoted": 1, "Span": 1, "Link": 1}


def _is_note(node) -> bool:
    return isinstance(node, dict) and node.get("t") == "Note"


def _edge(node, end: int) -> str:
    """The first (``end`` 0) or last (-1) character of an inline's text ("" if it has none: a space, a note)."""
    for _ in range(32):     # (nested that deep at most: emphasis in a link in a span ...)
        if not isinstance(node, dict):
            return ""
        kind = node.get("t")
        if kind == "Str":
            return node["c"][end] if node["c"] else ""
        if kind not in _WRAPPERS:
            return ""
        inner = node["c"][_WRAPPERS[kind]] if _WRAPPERS[kind] else node["c"]
        if not inner:
            return ""
        node = inner[end]
    return ""


# bookdown's reference ('\@ref(fig:x)', which pandoc reads as the text '@ref(fig:x)'), and its label at the start
# of a table's or a figure's caption ('Table: (\#tab:x) A caption', '![(\#fig:x) A caption](x.png)')
BOOKDOWN_REF = re.compile(r"@ref\(([^()\s]+)\)")
BOOKDOWN_CAPTION = re.compile(r"\(#((?:fig|tab):[^()\s]+)\)")


def _bookdown_caption(node: dict) -> re.Match | None:
    """The bookdown label that begins the caption of ``node``, a table or a figure."""
    blocks = node["c"][1][1]
    inlines = blocks[0]["c"] if blocks and blocks[0]["t"] in ("Plain", "Para") else []
    return BOOKDOWN_CAPTION.fullmatch(inlines[0]["c"]) if inlines and inlines[0]["t"] == "Str" else None


def bookdown(blocks: list, captions: list[dict]) -> None:
    """bookdown's references made cross-references that print the number alone, as '[-@fig-x]' (see
    labels.BOOKDOWN_REF), and the labels that begin ``captions`` (tables' and figures') made their ids, in
    place."""
    def untag(inlines: list) -> list:    # the caption (or a figure's image's description) without its label
        rest = inlines[1:]
        return rest[1:] if rest and rest[0]["t"] == "Space" else rest

    for node in captions:
        label = _bookdown_caption(node).group(1)
        caption = node["c"][1][1][0]
        caption["c"] = untag(caption["c"])
        if not node["c"][0][0]:
            node["c"][0][0] = bookdown_label(label)
        for image in elements(node["c"][2]) if node["t"] == "Figure" else ():
            if image["t"] == "Image" and image["c"][1][:1] and image["c"][1][0] == {"t": "Str", "c": f"(#{label})"}:
                image["c"][1] = untag(image["c"][1])

    def refs(node: dict):
        if node["t"] == "Math" and _labelled_inside(node):
            return _labelled(node)
        if node["t"] != "Str" or "@ref(" not in node["c"]:
            return None
        text, out, at = node["c"], [], 0
        for found in BOOKDOWN_REF.finditer(text):
            out += [Str(text[at:found.start()])] if found.start() > at else []
            out.append(_reference(found.group(1), "\\" + found.group(0)))
            at = found.end()
        return out + ([Str(text[at:])] if at < len(text) else []) if out else None

    rewrite(blocks, refs)


def _reference(label: str, written: str, bare: bool = True, tex: bool = False) -> dict:
    """A cross-reference to ``label`` in bookdown's spelling (see labels.BOOKDOWN_REF; ``tex``: written as
    LaTeX's '\\ref{x}'): its number alone if ``bare``, else with its word ('Figure 1.2')."""
    citation = {"citationId": f"{TEX_REF_KEY}{label}}}" if tex else f"{BOOKDOWN_REF_KEY}{label})",
                "citationPrefix": [], "citationSuffix": [],
                "citationMode": {"t": "SuppressAuthor" if bare else "AuthorInText"}, "citationNoteNum": 0,
                "citationHash": 0}
    return {"t": "Cite", "c": [[citation], [Str(written)]]}


def _labelled_inside(node: dict) -> bool:
    """Is ``node`` (a formula) a display with its label inside, as bookdown or LaTeX writes it?"""
    return node["c"][0]["t"] == "DisplayMath" and ("(\\#eq" in node["c"][1] or "\\label{eq" in node["c"][1])


def _labelled(formula: dict) -> list | None:
    """A display formula labelled inside, bookdown's or LaTeX's way ('$$ x (\\#eq:x) $$', '\\label{eq:x}'), as
    a labelled equation (math.label_equations), its label taken out; with another label, or several, as it
    is."""
    labels = [a or b for a, b in TEX_LABEL.findall(formula["c"][1])]
    if len(labels) != 1 or not re.match(r"eq:.", labels[0]):
        return None
    formula["c"][1] = TEX_LABEL.sub("", formula["c"][1]).strip()
    return [{"t": "Span", "c": [["eq-" + labels[0][3:], [EQUATION], []], [formula]]}]


def paren_lists(blocks: list) -> None:
    """Each list numbered with parentheses in a div of its counter style's class, changed in place (the
    list itself then says nothing of its delimiter, so that a second walk leaves it alone)."""
    def fix(node: dict):
        if node["t"] != "OrderedList" or node["c"][0][2]["t"] not in PAREN_CLASSES:
            return None
        _, style, delimiter = node["c"][0]
        marked = f'{PAREN_CLASSES[delimiter["t"]]}-{LIST_STYLES.get(style["t"], "decimal")}'
        node["c"][0][2] = {"t": "DefaultDelim"}
        return [{"t": "Div", "c": [["", [marked], []], [node]]}]

    rewrite(blocks, fix)


def _figure_div(node: dict) -> bool:
    ident, _, pairs = node["c"][0]
    return bool(FIGURE_ID.match(ident) or TABLE_ID.match(ident)) or any(k.startswith("layout") for k, _ in pairs)


# --- figure divs ------------------------------------------------------------------------------------

FIGURE_ID = re.compile(r"fig[-:]\S")
TABLE_ID = re.compile(r"tbl[-:]\S")


def _table_div(node: dict) -> list | None:
    """Quarto's table div (``::: {#tbl-x}``: one table, then its caption as the div's last paragraph) as
    the table, labelled and captioned so; None for any other div (sub-tables are left as they are)."""
    (ident, classes, pairs), content = node["c"]
    tables = [b for b in content if b["t"] == "Table"]
    if len(tables) != 1:
        return None
    table = tables[0]
    rest = [b for b in content if b is not table]
    caption = rest.pop() if rest and rest[-1]["t"] in ("Para", "Plain") and content[-1] is rest[-1] else None
    if rest or table["c"][0][0] and table["c"][0][0] != ident:
        return None     # more than a table and its caption, or a table labelled otherwise: as written
    table = {"t": "Table", "c": [[ident, table["c"][0][1] + classes, table["c"][0][2] + pairs], *table["c"][1:]]}
    if caption is not None and not table["c"][1][1]:
        table["c"][1] = [None, [{"t": "Plain", "c": caption["c"]}]]
    return [table]


def _image_only(block: dict) -> bool:
    """A paragraph of images only (spaces and line breaks between them)."""
    return (block["t"] in ("Para", "Plain") and any(i["t"] == "Image" for i in block["c"])
            and all(i["t"] in ("Image", "Space", "SoftBreak", "LineBreak") for i in block["c"]))


def _figure(attr: list, caption: list, content: list) -> dict:
    return {"t": "Figure", "c": [attr, [None, caption], content]}


def _columns(pairs: dict, count: int) -> int:
    """How many sub-figures stand side by side: Quarto's layout-ncol, layout-nrow or layout."""
    try:
        if "layout-ncol" in pairs:
            return max(1, int(pairs["layout-ncol"]))
        if "layout-nrow" in pairs:
            return max(1, math.ceil(count / max(1, int(pairs["layout-nrow"]))))
        if "layout" in pairs:    # layout="[[1,1],[1]]": rows of relative widths
            rows = json.loads(pairs["layout"])
            rows = rows if rows and all(isinstance(r, list) for r in rows) else [rows]
            return max(1, max(len(r) for r in rows))
    except (ValueError, TypeError):
        pass
    return 1


def figure_divs(blocks: list) -> None:
    """Quarto's figure divs as pandoc figures, changed in place (see the module's docstring)."""
    if not any(node["t"] == "Div" and _figure_div(node) for node in elements(blocks)):
        return

    def fix(node: dict):
        if node["t"] != "Div":
            return None
        (ident, classes, pairs), content = node["c"]
        if TABLE_ID.match(ident):
            return _table_div(node)
        if not FIGURE_ID.match(ident):
            layout = {k: v for k, v in pairs if k in ("layout-ncol", "layout-nrow", "layout")}
            if not layout or len(content) < 2:
                return None
            # Quarto's layout div without a figure label: its blocks side by side, each with its own caption
            columns = min(_columns(layout, len(content)), MAX_COLUMNS, len(content))
            kept = [(k, v) for k, v in pairs if k not in layout]
            return [{"t": "Div", "c": [[ident, [SUBFIGURES_CLASS, f"columns-{columns}"] + classes, kept], content]}]
        content = list(content)
        given = dict(pairs)
        caption: list = []
        if given.get("fig-cap", "").strip():   # Quarto's fig-cap="..."
            caption = [{"t": "Plain", "c": words(" ".join(given["fig-cap"].split()))}]
        elif len(content) > 1 and content[-1]["t"] in ("Para", "Plain") and not _image_only(content[-1]):
            caption = [{"t": "Plain", "c": content.pop()["c"]}]
        # one captioned image and nothing labelled: the figure's image (its words the alt text, and the
        # caption if the div has none)
        unlabelled = [b for b in content if b["t"] == "Figure" and not b["c"][0][0]]
        lone = len(unlabelled) == 1 and not any(b["t"] == "Figure" and b["c"][0][0] for b in content) and not any(
            i["t"] == "Image" and i["c"][0][0] for b in content if b["t"] in ("Para", "Plain") for i in b["c"])
        if lone and not caption:
            caption = unlabelled[0]["c"][1][1]
        alt = given.get("fig-alt") or inline_text(caption[0]["c"] if caption else [])
        # several images with words of their own: each is a sub-figure, lettered, its words its caption, as
        # pandoc-crossref and Quarto letter them, labelled or not (one unlabelled is given an id of the figure's)
        images = [i for b in content if _image_only(b) for i in b["c"] if i["t"] == "Image"]
        several = not lone and sum(b["t"] == "Figure" for b in content) + len(images) > 1 and bool(ident)
        cells: list = []
        for block in content:
            if _image_only(block) and any(i["t"] == "Image" and (i["c"][0][0] or several and i["c"][1])
                                          for i in block["c"]):
                for image in (i for i in block["c"] if i["t"] == "Image"):   # labelled: a sub-figure each
                    (sub_id, sub_classes, sub_pairs), words_of = image["c"][0], image["c"][1]
                    if sub_id or words_of:
                        sub_id = sub_id or f"{ident}-sub-{len(cells) + 1}"
                        image = {"t": "Image", "c": [["", sub_classes, sub_pairs]] + image["c"][1:]}
                        cells.append(_figure([sub_id, [], []], [{"t": "Plain", "c": words_of}],
                                             [{"t": "Plain", "c": [image]}]))
                    else:
                        cells.append({"t": "Plain", "c": [image]})
            elif lone and block is unlabelled[0]:
                cells.extend(block["c"][2])
            elif several and block in unlabelled and block["c"][1][1]:
                cells.append(_figure([f"{ident}-sub-{len(cells) + 1}", block["c"][0][1], block["c"][0][2]],
                                     block["c"][1][1], block["c"][2]))
            else:
                cells.append(block)
        for node in elements(cells):    # an image with no words of its own is described by the caption
            if node["t"] == "Image" and not node["c"][1] and alt:
                node["c"][1] = [{"t": "Str", "c": alt}]
        subfigures = [b for b in cells if b["t"] == "Figure" and b["c"][0][0]]
        layout = {k: v for k, v in pairs if k in ("layout-ncol", "layout-nrow", "layout")}
        if subfigures or (layout and len(cells) > 1):
            # without a layout, Quarto stacks sub-figures; pandoc-crossref sets them in one row
            default = len(cells) if ident.startswith("fig:") else 1
            columns = min(_columns(layout, len(cells)) if layout else default, MAX_COLUMNS, len(cells))
            cells = [{"t": "Div", "c": [["", [SUBFIGURES_CLASS, f"columns-{columns}"], []], cells]}]
        kept = [(k, v) for k, v in pairs if not k.startswith(("layout", "fig-"))]
        return [_figure([ident, classes, kept], caption, cells)]

    rewrite(blocks, fix)


def subfigures(figure: dict) -> list[dict]:
    """The labelled sub-figures of a figure, in reading order."""
    return [node for node in elements(figure["c"][2]) if node["t"] == "Figure" and node["c"][0][0]]


# --- raw TeX ----------------------------------------------------------------------------------------

TEX_FORMATS = ("tex", "latex")
PAGE_BREAK = re.compile(r"\s*\\(newpage|clearpage|cleardoublepage|pagebreak)(\{\})?\s*")
COMMAND = re.compile(r"\\([A-Za-z]+)")
MAX_WARNINGS = 25   # per chapter; the rest are counted in the last one
# LaTeX's math environments, which pandoc's HTML writer shows as display math where it meets them as raw TeX
# ('\begin{equation} ... \end{equation}' on lines of their own): so does build_book, in every edition
MATH_ENVIRONMENT = re.compile(r"\s*\\begin\{(equation|align|alignat|gather|multline|eqnarray|flalign|aligned|"
                              r"alignedat|gathered|split|cases|array|[pbBvV]?matrix|smallmatrix|subarray|CD)"
                              r"(\*?)\}.*\\end\{\1\2\}\s*", re.S)


# LaTeX's reference to a label: '\ref{fig:x}' (the number), '\eqref{eq:x}' ('(3.1)'), '\autoref{fig:x}' ('Figure 3.1')
TEX_REF = re.compile(r"\s*\\(eq|auto)?ref\{([^{}\s]+)\}\s*")


def _is_tex(node: dict) -> bool:
    return node["t"] in ("RawBlock", "RawInline") and node["c"][0].lower() in TEX_FORMATS


def _page_break() -> dict:
    return {"t": "Div", "c": [["", [PAGEBREAK_CLASS], []], []]}


def raw_tex(blocks: list, places: list[tuple[str, tuple[int, int]]], where: Location) -> list[Diagnostic]:
    """Raw TeX in ``blocks`` (changed in place): ``\\newpage``, ``\\clearpage``, ``\\pagebreak`` alone in
    their block become page breaks, anything else is left out with a warning naming it, at its place in
    the source (``places``: scan.SourceMap.tex) or else at ``where``."""
    if not any(_is_tex(node) for node in elements(blocks)):
        return []
    diags: list[Diagnostic] = []
    cursor = [0]
    dropped = [0]
    references = [False]

    def locate(node: dict) -> Location:
        found = COMMAND.search(node["c"][1])
        name = "\\" + found.group(1) if found else None
        for start, stop in ((cursor[0], len(places)), (0, cursor[0])):
            for i in range(start, stop):
                if places[i][0] in (name, "{=latex}"):
                    cursor[0] = i + 1
                    return Location(where.path, *places[i][1])
        return where

    def alone(node: dict):   # a paragraph holding nothing but a page break
        if node["t"] in ("Para", "Plain") and any(_is_tex(i) for i in node["c"]) and all(
                (_is_tex(i) and PAGE_BREAK.fullmatch(i["c"][1])) or i["t"] in ("Space", "SoftBreak")
                for i in node["c"]):
            for i in node["c"]:
                if _is_tex(i):
                    locate(i)
            return [_page_break()]
        return None

    def drop(node: dict):
        if not _is_tex(node) or tex_term(node) is not None:   # \index{...} marks an index term (index.py)
            return None
        text = node["c"][1]
        if node["t"] == "RawBlock" and PAGE_BREAK.fullmatch(text):
            locate(node)
            return [_page_break()]
        reference = TEX_REF.fullmatch(text) if node["t"] == "RawInline" else None
        if reference:   # LaTeX's '\ref{eq:x}' to a label build_book numbers: as bookdown's '\@ref(eq:x)'
            locate(node)
            references[0] = True
            cite = _reference(reference.group(2), text, bare=reference.group(1) != "auto", tex=True)
            return [Str("("), cite, Str(")")] if reference.group(1) == "eq" else [cite]
        if MATH_ENVIRONMENT.fullmatch(text):
            at = locate(node)
            # its \label{eq:x} (which the TeX reader of the editions refuses) labels it as {#eq-x} would
            labels = [a or b for a, b in TEX_LABEL.findall(text)]
            formula = {"t": "Math", "c": [{"t": "DisplayMath"}, as_read(TEX_LABEL.sub("", text).strip())]}
            eq = [re.sub(r"^eq[:-]", "eq-", label) for label in labels if re.match(r"eq[:-].", label)]
            if len(eq) == 1 and len(labels) == 1:
                formula = {"t": "Span", "c": [[eq[0], [EQUATION], []], [formula]]}
            elif labels:
                diags.append(warning(
                    "raw-tex-dropped", f"the label{'s' if len(labels) > 1 else ''} '{', '.join(labels)}' of this "
                    "formula " + ("were" if len(labels) > 1 else "was") + " left out: build_book numbers a formula "
                    "by one label, eq:x or eq-x", at, "give the formula one label, \\label{eq:x} (or write it "
                    "between $$ and $$ followed by {#eq-x}), and refer to it as @eq-x"))
            return [formula] if node["t"] == "RawInline" else [{"t": "Para", "c": [formula]}]
        at = locate(node)
        dropped[0] += 1
        if dropped[0] <= MAX_WARNINGS:
            shown = " ".join(text.split())
            shown = shown if len(shown) <= 50 else shown[:47] + "..."
            if PAGE_BREAK.fullmatch(text):
                diags.append(warning("raw-tex-dropped", f"the page break '{shown}' stands inside a paragraph "
                                     "and was left out", at, "put it on a line of its own, with a blank line "
                                     "before and after it"))
            else:
                diags.append(warning("raw-tex-dropped", f"the raw TeX '{shown}' was left out of every edition: "
                                     "build_book does not typeset with LaTeX", at,
                                     "write it in Markdown, or delete it (page breaks, \\newpage on a line of "
                                     "their own, are kept; to print a backslash, write \\\\)"))
        return []

    rewrite(blocks, alone)
    rewrite(blocks, drop)
    if references[0]:
        _ties(blocks)
    if dropped[0] > MAX_WARNINGS:
        diags.append(warning("raw-tex-dropped", f"{dropped[0] - MAX_WARNINGS} more pieces of raw TeX in this "
                             "chapter were left out", diags[-1].location, "search the chapter for '\\'"))
    return diags


def _ties(tree) -> None:
    """LaTeX's tie before a reference ('Figure~\\ref{fig:x}', which pandoc reads as a '~') as the no-break space
    it stands for, in place."""
    for item in lists(tree):
        for n, node in enumerate(item[1:], 1):
            before = item[n - 1]
            if isinstance(node, dict) and node.get("t") == "Cite" and isinstance(before, dict) and \
                    node["c"][0][0]["citationId"].startswith(TEX_REF_KEY) and before.get("t") == "Str" and \
                    before["c"].endswith("~"):
                before["c"] = before["c"][:-1] + "\u00a0"


# --- pandoc's automatic heading ids -----------------------------------------------------------------

def implicit_header_links(links: list, headings: list, autos: list[tuple[dict, str]]) -> None:
    """Pandoc's implicit header references ('[Historical Background]' links to the heading of that text, case
    and spacing aside), which it reads to the heading's id: build_book reads without automatic ids, so a
    heading written without one gave them no target ('#'), an empty link. Each is pointed at the id the
    heading has (its own, or the one pandoc would give it, which relink then points at build_book's)."""
    auto = {id(node): ident for node, ident in autos}
    by_text: dict[str, str] = {}
    for node in headings:
        ident = node["c"][1][0] or auto.get(id(node), "")
        if ident:
            by_text.setdefault(" ".join(inline_text(node["c"][2]).split()).casefold(), ident)
    for link in links:
        ident = by_text.get(" ".join(inline_text(link["c"][1]).split()).casefold())
        if ident and not link["c"][2][1]:
            link["c"][2] = ["#" + ident, ""]


def _stringify(inlines) -> str:
    """pandoc's ``stringify`` of a heading's inlines (notes left out, quotes as curly quotes)."""
    out: list[str] = []
    stack: list = [inlines]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            kind, c = item.get("t"), item.get("c")
            if kind == "Str":
                out.append(c)
            elif kind in ("Space", "SoftBreak", "LineBreak"):
                out.append(" ")
            elif kind in ("Code", "Math"):
                out.append(c[1])
            elif kind == "Quoted":
                left, right = ("\u201c", "\u201d") if c[0]["t"] == "DoubleQuote" else ("\u2018", "\u2019")
                stack.extend([right, c[1], left])
            elif kind in ("Span", "Link", "Image", "Cite"):
                stack.append(c[1])
            elif kind in ("Emph", "Strong", "Underline", "Strikeout", "Superscript", "Subscript", "SmallCaps"):
                stack.append(c)
    return "".join(out)


def _allowed(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch)[0] in "LN" or ch in "_-."


def auto_id(inlines: list, used: set[str]) -> str:
    """The id pandoc's Markdown reader gives a heading without one (extension ``auto_identifiers``):
    lower case, punctuation but ``_-.`` removed, spaces as hyphens, everything before the first letter
    dropped; 'section' if nothing is left; '-1', '-2', ... after an id already ``used`` in the file.
    Adds the id to ``used``."""
    text = "".join(ch for ch in _stringify(inlines).lower() if _allowed(ch))
    base = "-".join(text.split())
    while base and unicodedata.category(base[0])[0] != "L":
        base = base[1:]
    base = base or "section"
    ident, n = base, 0
    while ident in used and n < 60000:
        n += 1
        ident = f"{base}-{n}"
    used.add(ident)
    return ident


def auto_ids(blocks: list) -> list[tuple[dict, str]]:
    """Each heading pandoc would give an automatic id, with that id, in reading order (call before
    build_book gives headings ids of its own)."""
    used: set[str] = set()
    found = []
    for node in elements(blocks):
        if node["t"] != "Header":
            continue
        if node["c"][1][0]:
            used.add(node["c"][1][0])
        else:
            found.append((node, auto_id(node["c"][2], used)))
    return found


def label_link(target: str) -> str:
    """A link to a label in pandoc-crossref's spelling ('#fig:map', 'b.md#tbl:t') as build_book spells the
    label ('#fig-map'); any other link as it is."""
    file, _, anchor = target.partition("#")
    if re.match(r"(fig|tbl|sec|eq):.", anchor):
        return f"{file}#{normal_ref(anchor)[0]}"
    return target


def relinked(chapters: list[tuple[str, list[str], dict[str, str]]], known: set[str], root: Path
             ) -> list[dict[str, str]]:
    """Links written to pandoc's automatic heading ids, pointed at the headings' ids: for each chapter, each
    link target that changes, with its new target.

    ``chapters``: (path, link targets, {automatic id: heading id}) of every chapter; ``known``: the ids that
    are labels of the book (a link to one of them is left alone). A bare ``#auto-id`` is looked up in
    its own chapter, then in the one other chapter that has it; ``file.md#auto-id`` in that file."""
    by_file: dict | None = None
    anywhere: dict[str, list[str]] = {}
    for _, _, autos in chapters:
        for auto, ident in autos.items():
            anywhere.setdefault(auto, []).append(ident)
    out = []
    for path, links, autos in chapters:
        changes: dict[str, str] = {}
        for target in links:
            file, hash_, anchor = target.partition("#")
            if target in changes or not hash_ or not anchor or anchor in known \
                    or re.match(r"[a-zA-Z][\w+.-]*:", target):
                continue
            # a label, never pandoc's id: but where its own chapter has a heading of that automatic id ('## Sec
            # One', 'sec-one'), to which an implicit header reference, '[Sec One]', is pointed
            if re.match(r"(fig|tbl|sec|eq)[-:]", anchor) and not (not file and unquote(anchor) in autos):
                if (spelt := label_link(target)) != target:
                    changes[target] = spelt
                continue
            name = unquote(anchor)
            if file:
                if by_file is None:
                    by_file = {(root / p).resolve(): a for p, _, a in chapters}
                try:
                    theirs = by_file.get(((root / path).parent / unquote(file)).resolve())
                except (OSError, ValueError):
                    continue
                ident = theirs.get(name) if theirs else None
            else:
                ident = autos.get(name) or (anywhere[name][0] if len(anywhere.get(name, ())) == 1 else None)
            if ident is not None:
                changes[target] = f"{file}#{ident}"
        out.append(changes)
    return out
