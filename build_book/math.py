"""TeX math: ``$...$`` and ``$$...$$`` in every edition, and numbered equations.

pandoc reads the formulas (Math nodes); its TeX reader (texmath) is the one judge of what can be
typeset, so every edition shows the same thing and a formula it cannot read is a located error
(``math-error``) before anything is written, never raw TeX in print.

- HTML and EPUB: pandoc writes MathML (``--mathml``); the TeX annotation it adds is taken out, since a
  reading system without MathML would print it as text.
- PDF: WeasyPrint has no MathML, so each formula is laid out by ziamath (pure Python, from the same
  MathML, with the OpenType MATH table of STIX Two Math, which it ships) as an SVG of glyph outlines,
  sized in em so that it follows the size of the text around it, and set on the text's baseline. Each
  distinct formula is laid out once and kept in ``build/.cache/math/`` (cache.py).
- A display formula followed by a Quarto label, ``$$ ... $$ {#eq-x}`` (pandoc-crossref: ``{#eq:x}``),
  becomes a span ``#eq-x.equation`` (:func:`label_equations`, when a chapter is read); labels.py numbers
  it per chapter like a figure, "(3.2)", and ``@eq-x`` reads "Equation 3.2".
"""

from __future__ import annotations

import base64
import io
import json
import re
from html import escape, unescape
from xml.etree import ElementTree

from . import cache as cachefile
from . import pandoc
from .diagnostics import BuildError, Diagnostic, Location, error
from .walk import Span, Str, elements

EQ_LABEL = re.compile(r"\{#(eq[-:][^\s{}]*)\}([.,;:]?)")     # ('{#eq-}', a label with no name: label-empty)
EQUATION = "equation"          # the class of a labelled display formula's span
MATH_FONT = "STIX Two Math"    # what ziamath ships and uses by default
SIZE = 20.0                    # the size formulas are laid out at (px); they are placed in em
SVG_FORMAT = "build_book-math-svg 4"  # bump when what math.py hands ziamath changes
CHECK_FORMAT = "build_book-math-check 1"
HINT = ("write the TeX as LaTeX's math mode takes it: balance every { with }, close every \\begin with its "
        "\\end, and define your own commands with \\newcommand in the chapter before they are used")


# --- reading: labelled equations ------------------------------------------------------------------

def label_equations(blocks: list) -> list[str]:
    """Make each display formula followed by ``{#eq-x}`` (or ``{#eq:x}``) a span with that id and class
    ``equation``, wherever it stands; the label itself is dropped (it must never print). Returns the labels
    with no name met ('eq-': label-empty), which label nothing."""
    empty: list[str] = []
    for node in elements(blocks):
        if node["t"] in ("Para", "Plain") and any(i["t"] == "Math" for i in node["c"]):
            node["c"] = _label(node["c"], empty)
    return empty


def _label(inlines: list, empty: list[str]) -> list:
    out: list = []
    n = 0
    while n < len(inlines):
        item = inlines[n]
        out.append(item)
        n += 1
        if item["t"] != "Math" or item["c"][0]["t"] != "DisplayMath":
            continue
        ahead = n
        while ahead < len(inlines) and inlines[ahead]["t"] in ("Space", "SoftBreak"):
            ahead += 1
        found = EQ_LABEL.fullmatch(inlines[ahead]["c"]) if ahead < len(inlines) and \
            inlines[ahead]["t"] == "Str" else None
        if found is None:
            continue
        if found.group(1)[3:]:
            out[-1] = Span([EQUATION], [item], ident="eq-" + found.group(1)[3:])
        else:
            empty.append(found.group(1))
        if found.group(2):
            out.append(Str(found.group(2)))
        n = ahead + 1
    return out


def is_equation(node: dict) -> bool:
    """Is ``node`` a labelled display formula (see :func:`label_equations`)?"""
    return node["t"] == "Span" and node["c"][0][1][:1] == [EQUATION] and node["c"][0][0].startswith("eq-")


def tex_of(node: dict) -> str:
    """The TeX of a labelled display formula."""
    return "".join(i["c"][1] for i in node["c"][1] if i["t"] == "Math")


def number(node: dict, text: str) -> None:
    """Put the equation number "(3.2)" after a labelled formula, for the right margin."""
    node["c"][1] = [i for i in node["c"][1] if not (i["t"] == "Span" and i["c"][0][1] == ["equation-number"])]
    node["c"][1].append(Span(["equation-number"], [Str(f"({text})")]))


# --- checking: can every formula be typeset? --------------------------------------------------------

def formulas(book) -> dict[tuple[str, bool], list[int]]:
    """(TeX, display?) -> the chapters it stands in, for every formula of the book."""
    found: dict[tuple[str, bool], list[int]] = {}
    for chapter in book.chapters:
        for formula in chapter.targets.maths:
            places = found.setdefault(formula, [])
            if chapter.index not in places:
                places.append(chapter.index)
    return found


def check(book) -> list[Diagnostic]:
    """A ``math-error`` at each formula pandoc cannot read as TeX, and at each ``{#eq-x}`` that follows
    no display formula (it would print as written)."""
    diags: list[Diagnostic] = []
    found = formulas(book)
    for (tex, display), numbers in found.items():
        depth = _depth(tex)
        if depth > MAX_DEPTH:       # (the print edition's typesetting, ziamath, recurses once a level and more)
            shown = " ".join(tex.split())
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            for number in numbers:
                diags.append(error("math-error", f"the formula '{shown}' nests its braces {depth} deep, past the "
                                   f"{MAX_DEPTH} levels build_book typesets", locate(book, book.chapters[number], tex),
                                   "no formula needs this: write it in parts"))
    problems = _problems(book, sorted(found))
    for (tex, display), message in problems.items():
        for number in found[(tex, display)]:
            chapter = book.chapters[number]
            shown = " ".join(tex.split())
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            diags.append(error("math-error", f"the formula '{shown}' cannot be typeset: {message}",
                               locate(book, chapter, tex), HINT))
    for chapter in book.chapters:
        for stray in chapter.targets.stray_labels:
            found_label = re.search(r"\{#(eq[-:][^\s{}]*)", stray)
            places = chapter.sources.labels.get(found_label.group(1), []) if found_label else []
            where = Location(chapter.path, *places[0]) if places else chapter.location
            diags.append(error("math-error", f"the label '{stray}' follows no display formula, so it "
                               "would print as written", where,
                               "put it right after the closing $$ of a display formula: $$ E = mc^2 $$ {#eq-x}"))
    return diags


MAX_DEPTH = 40


def _depth(tex: str) -> int:
    """How deep the braces of ``tex`` nest ('\\{' is a brace printed, not a group)."""
    depth = deepest = 0
    for token in re.findall(r"\\.|[{}]", tex):
        if token == "{":
            depth += 1
            deepest = max(deepest, depth)
        elif token == "}":
            depth = max(0, depth - 1)
    return deepest


def as_read(tex: str) -> str:
    """A formula as build_book reads it: amsmath's ``\\notag``, which pandoc's TeX reader does not know, as
    its synonym ``\\nonumber``."""
    return NOTAG.sub(r"\\nonumber", tex)


NOTAG = re.compile(r"\\notag(?![A-Za-z])")


def locate(book, chapter, tex: str) -> Location:
    """Where formula ``tex`` (as read: see :func:`as_read`) first stands in ``chapter`` (its opening $)."""
    want = "".join(tex.split())
    for written, position in chapter.sources.maths:
        if "".join(as_read(written).split()) == want:
            return Location(chapter.path, *position)
    if "`" in tex:      # inline code in the formula, which the scan reads as letters (scan._filled)
        from .scan import INLINE_CODE, _filled
        want = "".join(INLINE_CODE.sub(_filled, tex).split())
        for written, position in chapter.sources.maths:
            if "".join(as_read(written).split()) == want:
                return Location(chapter.path, *position)
    if want.startswith("\\begin{"):     # a LaTeX math environment written without dollars (compat.py), its
        from .load import text_as_scanned      # \label{...} taken out: looked for in the chapter's text
        from .scan import TEX_LABEL
        gap = rf"(?:\s|>|{TEX_LABEL.pattern})*"     # (a quotation's '>' at a line's start)
        text = text_as_scanned(book.config.root, chapter.path, chapter.echo)
        for spelt in dict.fromkeys((want, want.replace("\\nonumber", "\\notag"))):
            found = re.search(gap.join(map(re.escape, spelt[:80])), text)
            if found is not None:
                return Location(chapter.path, text.count("\n", 0, found.start()) + 1,
                                found.start() - text.rfind("\n", 0, found.start()))
    return chapter.location


WARNING = re.compile(r"\[WARNING\] Could not convert TeX math (.*?), rendering as TeX:\n(.*?)(?=\n\[|\Z)", re.S)


def _problems(book, keys: list[tuple[str, bool]]) -> dict[tuple[str, bool], str]:
    """(TeX, display?) -> pandoc's reason, for the formulas it cannot convert (one pandoc run for the
    whole book, cached by the formulas)."""
    if not keys:
        return {}
    folder = book.config.root / "build" / ".cache" / "math-check"
    key = cachefile.digest(cachefile.version_key(), pandoc.version(), keys)
    cached = cachefile.get_text(folder, key, CHECK_FORMAT)
    if cached is not None:
        return {(tex, display): message for tex, display, message in json.loads(cached)}
    blocks = []
    for number, (tex, display) in enumerate(keys):
        blocks.append({"t": "RawBlock", "c": ["html", f"<!-- formula {number} -->"]})
        blocks.append({"t": "Para", "c": [{"t": "Math", "c": [{"t": "DisplayMath" if display else "InlineMath"},
                                                             tex]}]})
    html, warnings = pandoc.write_mathml(pandoc.document(blocks))
    parts = re.split(r"<!-- formula (\d+) -->", html)
    reasons = [_reason(body) for _, body in WARNING.findall(warnings)]
    out: dict[tuple[str, bool], str] = {}
    failed = 0
    for n in range(len(keys)):
        body = parts[2 * n + 2] if 2 * n + 2 < len(parts) else ""
        if "<math" not in body:
            out[keys[n]] = reasons[failed] if failed < len(reasons) else "pandoc cannot read it as TeX"
            failed += 1
    cachefile.put(folder, key, json.dumps([[t, d, m] for (t, d), m in out.items()]), CHECK_FORMAT)
    cachefile.prune(folder, {key})
    return out


def _reason(text: str) -> str:
    """pandoc's words for why a formula failed: 'unexpected control sequence \\foo'."""
    lines = [line.strip() for line in text.split("\n")]
    after = lines[lines.index("^") + 1:] if "^" in lines else lines
    said = [line for line in after if line and not line.startswith("expecting")]
    return said[0] if said else "pandoc cannot read it as TeX"


# --- writing --------------------------------------------------------------------------------------

ANNOTATED = re.compile(r"<semantics>(.*?)<annotation encoding=\"application/x-tex\">(.*?)</annotation>"
                       r"</semantics>", re.S)
MATH_ELEMENT = re.compile(r"<math display=\"(inline|block)\"[^>]*>(.*?)</math>", re.S)


def for_web(html: str) -> str:
    """pandoc's MathML without the TeX annotation (a reader without MathML would print it)."""
    return ANNOTATED.sub(r"\1", html) if "<math" in html else html


def for_print(fragments: dict[int, str], book, cache) -> dict[int, str]:
    """Every ``<math>`` of the chapters' HTML as an SVG image of its typeset formula, for WeasyPrint."""
    if not any("<math" in html for html in fragments.values()):
        return fragments
    folder = cache / "math" if cache else None
    used: set[str] = set()
    out = {}
    for number, html in fragments.items():
        chapter = book.chapters[number]

        def one(match: re.Match, chapter=chapter) -> str:
            display = match.group(1) == "block"
            inner = match.group(2)
            annotated = ANNOTATED.search(inner)
            tex = unescape(annotated.group(2)) if annotated else ""
            mathml = annotated.group(1) if annotated else inner
            try:
                image = svg(mathml, display, folder, used)
            except Exception as exc:   # ziamath's own limits: a located error, never raw TeX
                from . import quarto
                why = "it nests too deep" if isinstance(exc, RecursionError) else exc
                diag = error("math-error", f"the formula '{' '.join(tex.split())[:60]}' cannot be typeset "
                             f"for print: {why}", locate(book, chapter, tex), HINT)
                raise BuildError(quarto.relocate([diag], quarto.line_maps(book.chapters))) from None
            return image_tag(image, display, tex)

        out[number] = MATH_ELEMENT.sub(one, HEADING.sub(_bookmark, html) if "<h" in html else html)
    if folder is not None:
        cachefile.prune(folder, used)
    return out


HEADING = re.compile(r"<(h[2-6])\b([^>]*)>(.*?)</\1>", re.S)


def _bookmark(match: re.Match) -> str:
    """A heading that holds a formula gets its text, formula and all, as ``data-bookmark`` (print.css makes
    it the PDF outline's entry): the outline cannot show the image the formula becomes."""
    tag, attributes, inner = match.groups()
    if "<math" not in inner or "data-bookmark" in attributes:
        return match.group(0)

    def text(m: re.Match) -> str:
        annotated = ANNOTATED.search(m.group(2))
        return f" {escape(plain(unescape(annotated.group(2))), quote=False)} " if annotated else " "   # (a '<' in it)

    words = unescape(re.sub(r"<[^>]+>", "", MATH_ELEMENT.sub(text, inner)))
    words = re.sub(r"\s+", " ", words).strip()
    return f'<{tag}{attributes} data-bookmark="{escape(words, quote=True)}">{inner}</{tag}>'


def svg(mathml: str, display: bool, folder=None, used: set | None = None) -> dict:
    """One formula laid out: {"svg", "width", "height", "depth"} (sizes in em), from the cache if there."""
    ziamath = _ziamath()
    key = cachefile.digest(SVG_FORMAT, mathml, display, MATH_FONT, ziamath.__version__, SIZE)
    if used is not None:
        used.add(key)
    if folder is not None:
        cached = cachefile.get_text(folder, key, SVG_FORMAT)
        if cached is not None:
            return json.loads(cached)
    source = f'<math xmlns="http://www.w3.org/1998/Math/MathML" display="{"block" if display else "inline"}">' \
             f"{mathml}</math>"
    laid = ziamath.Math(_binary_spacing(_column_spacing(ElementTree.fromstring(unescape_entities(source)))),
                        size=SIZE)
    text = laid.svg()
    width = float(re.search(r'\bwidth="([\d.]+)"', text).group(1))
    height = float(re.search(r'\bheight="([\d.]+)"', text).group(1))
    top = float(re.search(r'\bviewBox="[-\d.]+ ([-\d.]+)', text).group(1))   # y of the top: -(ascent + margin)
    depth = height + top                                                       # below the baseline
    image = {"svg": text, "width": width / SIZE, "height": height / SIZE, "depth": depth / SIZE}
    if folder is not None:
        cachefile.put(folder, key, json.dumps(image), SVG_FORMAT)
    return image


def _ziamath():
    """ziamath, imported once (it loads its font then) without its importlib deprecation warning."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import ziamath
    return ziamath


def unescape_entities(text: str) -> str:
    """pandoc's MathML as XML ElementTree reads: HTML's named entities as characters (&lt; &gt; &amp; kept)."""
    return re.sub(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)(\w+);", lambda m: unescape(m.group(0)), text)


# TeX's binary operators, which TeX sets with a medium space on each side (as '+'): ziamath's operator table
# (MathML 2's) gives '×' and '÷' a very thin one and '⋅' (\cdot), '∗', '∩', '∪', '∧', '∨' none ('a⋅b')
BINARY = frozenset("×÷⋅·∗∘∙∩∪⊕⊖⊗⊘⊙∧∨∖⋆⋄≀†‡")
MEDIUM = "0.2222em"     # 4/18 em: TeX's \medmuskip


def _binary_spacing(root):
    """A medium space on each side of a binary operator (see BINARY) that stands between two things (TeX sets
    one at the start of a formula, or of a group, as an ordinary symbol, with none), unless given one."""
    for parent in root.iter():
        children = list(parent)
        for n, child in enumerate(children[1:-1], 1):
            if child.tag.rsplit("}", 1)[-1] == "mo" and (child.text or "").strip() in BINARY \
                    and "lspace" not in child.attrib and "rspace" not in child.attrib:
                child.set("lspace", MEDIUM)
                child.set("rspace", MEDIUM)
    return root


def _column_spacing(root):
    """pandoc writes LaTeX's aligned columns (right, left, right, left, ...) as table cells with no padding
    between the pair ("padding-right: 0"); ziamath reads no CSS, so say it with ``columnspacing``: none
    inside a pair, 1em between pairs (as LaTeX's aligned). Other tables (matrices, cases) get MathML's
    default spacing, 0.8em, as browsers give them (ziamath's own is 0.3em)."""
    for table in root.iter("{http://www.w3.org/1998/Math/MathML}mtable"):
        row = next(iter(table), None)
        cells = list(row) if row is not None else []
        if table.get("columnspacing"):
            continue
        if not any("padding-right: 0" in (c.get("style") or "") for c in cells):
            table.set("columnspacing", "0.8em")
            continue
        gaps = ["0em" if "padding-right: 0" in (cells[n].get("style") or "") else "1em" for n in range(len(cells) - 1)]
        if gaps:
            table.set("columnspacing", " ".join(gaps))
    return root


def image_tag(image: dict, display: bool, tex: str) -> str:
    data = base64.b64encode(image["svg"].encode("utf-8")).decode("ascii")
    style = f"width:{image['width']:.3f}em;height:{image['height']:.3f}em"
    if not display:
        style += f";vertical-align:{-image['depth']:.3f}em"
    kind = "math-display" if display else "math-inline"
    return (f'<img class="math {kind}" src="data:image/svg+xml;base64,{data}" style="{style}" '
            f'alt="{escape(" ".join(tex.split()), quote=True)}" role="math"/>')


# --- the web and EPUB editions' math font -----------------------------------------------------------

FONT_FAMILY = "build_book Math"
FONT_FORMAT = "build_book-math-font 2"
# MathML shows a one-letter <mi>x</mi> in mathematical italic (U+1D44E ...): the font carries those always
ITALICS = "".join(chr(c) for c in [*range(0x1D434, 0x1D468), *range(0x1D6E2, 0x1D71C)]) + "\u210e\u0131\u0237"
DRAWN = "\u221a\u221b\u221c"   # what a browser draws for <msqrt> and <mroot>, which hold no such character
FONT_MEDIA = {"woff2": "font/woff2", None: "font/ttf"}


def web_font(texts, root, flavor: str | None) -> tuple[bytes, str] | None:
    """The glyphs the formulas of ``texts`` (HTML or XHTML pages) need, cut from STIX Two Math with its
    MATH table (stretchy delimiters, large operators, accents), for editions whose reader may have no math
    font: the font file's bytes (``flavor`` 'woff2' for the web, None for the EPUB's TrueType) and the CSS
    that uses it (``url(fonts/math.<ext>)``). None when there is no formula. Cached by its characters."""
    chars: set[str] = set()
    for text in texts:
        for found in MATH_TEXT.finditer(text):
            chars.update(unescape(re.sub(r"<[^>]+>", "", found.group(0))))
    chars = {c for c in chars if not c.isspace()}
    if not chars:
        return None
    ziamath = _ziamath()
    from fontTools import subset as ftsubset
    from fontTools.ttLib import TTFont

    characters = "".join(sorted(chars | set(ITALICS + DRAWN)))
    folder = root / "build" / ".cache" / "fonts"
    key = cachefile.digest(FONT_FORMAT, ziamath.__version__, flavor, characters)
    data = cachefile.get(folder, key, FONT_FORMAT, ".font")
    if data is None:
        from importlib.resources import files
        source = files("ziamath") / "fonts" / "STIXTwoMath-Regular.ttf"
        font = TTFont(source.open("rb"), lazy=False, recalcTimestamp=False)
        options = ftsubset.Options()
        options.flavor = flavor
        options.layout_features = ["*"]
        options.name_IDs = ["*"]
        subsetter = ftsubset.Subsetter(options)
        subsetter.populate(text=characters)
        subsetter.subset(font)
        font.flavor = flavor
        out = io.BytesIO()
        font.save(out)
        data = out.getvalue()
        cachefile.put(folder, key, data, FONT_FORMAT, ".font")
    ext, fmt = ("woff2", "woff2") if flavor == "woff2" else ("ttf", "truetype")
    css = (f'@font-face {{ font-family: "{FONT_FAMILY}"; src: url("fonts/math.{ext}") format("{fmt}"); '
           "font-weight: normal; font-style: normal; }\n"
           f'math {{ font-family: "{FONT_FAMILY}", "STIX Two Math", math; }}\n')
    return data, css


MATH_TEXT = re.compile(r"<math\b.*?</math>", re.S)


# --- plain text: a formula in a menu, a running head or a list of figures ---------------------------

GREEK = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon "
         "phi chi psi omega").split()
SYMBOLS = {
    **{name: chr(0x3B1 + n + (1 if n > 16 else 0)) for n, name in enumerate(GREEK)},
    **{name.capitalize(): chr(0x391 + n + (1 if n > 16 else 0)) for n, name in enumerate(GREEK)},
    "varepsilon": "ε", "vartheta": "ϑ", "varphi": "φ", "varpi": "ϖ", "varrho": "ϱ", "varsigma": "ς",
    "cdot": "·", "times": "×", "div": "÷", "pm": "±", "mp": "∓", "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥",
    "neq": "≠", "ne": "≠", "approx": "≈", "equiv": "≡", "sim": "∼", "propto": "∝", "infty": "∞", "to": "→",
    "rightarrow": "→", "leftarrow": "←", "Rightarrow": "⇒", "Leftrightarrow": "⇔", "mapsto": "↦", "in": "∈",
    "notin": "∉", "subset": "⊂", "subseteq": "⊆", "supset": "⊃", "cup": "∪", "cap": "∩", "emptyset": "∅",
    "sum": "∑", "prod": "∏", "int": "∫", "oint": "∮", "partial": "∂", "nabla": "∇", "forall": "∀",
    "exists": "∃", "neg": "¬", "land": "∧", "lor": "∨", "wedge": "∧", "vee": "∨", "ldots": "…", "dots": "…",
    "cdots": "⋯", "sqrt": "√", "mid": "|", "langle": "⟨", "rangle": "⟩", "circ": "∘", "star": "⋆", "ell": "ℓ",
    "hbar": "ℏ", "degree": "°", "prime": "′", ",": " ", ";": " ", ":": " ", "!": "", " ": " ", "quad": " ",
    "qquad": "  ", "{": "{", "}": "}", "%": "%", "$": "$", "&": "&", "#": "#", "_": "_", "|": "‖",
}
SUPERSCRIPTS = dict(zip("0123456789+-=()ni", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱ"))
SUBSCRIPTS = dict(zip("0123456789+-=()aeijkmnx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑᵢⱼₖₘₙₓ"))
GROUP = r"\{([^{}]*)\}"


def plain(tex: str) -> str:
    """A formula as plain text, for where no MathML or image can go: ``\\alpha^2`` -> 'α²'."""
    text = re.sub(r"\\(?:left|right|big|Big|bigg|Bigg)\b\.?", "", tex)
    for _ in range(4):   # innermost groups first
        text = re.sub(r"\\[dt]?frac\s*" + GROUP + r"\s*" + GROUP, r"\1/\2", text)
        text = re.sub(r"\\(?:text\w*|math\w+|operatorname|boldsymbol|mbox|hat|bar|tilde|vec|dot|overline)\s*"
                      + GROUP, r"\1", text)
    text = re.sub(r"\\([A-Za-z]+|[,;:! {}%$&#_|])",
                  lambda m: SYMBOLS.get(m.group(1), m.group(1)), text)

    def script(m: re.Match) -> str:
        table = SUPERSCRIPTS if m.group(1) == "^" else SUBSCRIPTS
        body = m.group(2) if m.group(2) is not None else m.group(3)
        if all(ch in table for ch in body):
            return "".join(table[ch] for ch in body)
        return m.group(1) + (body if len(body) == 1 else f"({body})")

    text = re.sub(r"([\^_])(?:" + GROUP + r"|(\S))", script, text)
    return re.sub(r"\s+", " ", text.replace("{", "").replace("}", "")).strip()


INVISIBLE_OPERATORS = re.compile("[\u2061-\u2064]")   # function application, invisible times, ...
SPACED_OPERATORS = frozenset("= < > ≤ ≥ ≠ ≈ ≡ + − ± ∓ × ÷ → ← ↔ ⇒ ⇔ ∈ ∉ ⊂ ⊆ ∪ ∩ ·".split())


def plain_mathml(mathml: str) -> str:
    """A MathML formula as plain text, as :func:`plain` gives its TeX: ``<msup><mi>α</mi><mn>2</mn></msup>``
    -> 'α²' (for a title's text where only its MathML is at hand). Its text as it stands if it does not parse."""
    import xml.etree.ElementTree as ET
    try:
        root = ET.fromstring(mathml)
    except ET.ParseError:
        return re.sub(r"<[^>]*>", "", mathml)

    def scripted(body: str, table: dict, mark: str) -> str:
        body = body.replace(" ", "")
        if body and all(ch in table for ch in body):
            return "".join(table[ch] for ch in body)
        return mark + (body if len(body) == 1 else f"({body})")

    def text(node) -> str:
        tag = node.tag.rsplit("}", 1)[-1]
        if tag in ("annotation", "annotation-xml"):
            return ""
        parts = [text(child) for child in node]
        if tag == "mover" and len(parts) == 2 and (node.get("accent") == "true" or node[1].get("accent") == "true"):
            return parts[0]      # x with a hat or a bar: as plain() gives \hat{x}
        if tag == "msup" and len(parts) == 2 and parts[1] and all(ch in "′″‴" for ch in parts[1]):
            return parts[0] + parts[1]     # x′, as plain() gives x'
        if tag in ("msup", "mover") and len(parts) == 2:
            return parts[0] + scripted(parts[1], SUPERSCRIPTS, "^")
        if tag in ("msub", "munder") and len(parts) == 2:
            return parts[0] + scripted(parts[1], SUBSCRIPTS, "_")
        if tag in ("msubsup", "munderover") and len(parts) == 3:
            return parts[0] + scripted(parts[1], SUBSCRIPTS, "_") + scripted(parts[2], SUPERSCRIPTS, "^")
        if tag == "mfrac" and len(parts) == 2:
            return f"{parts[0]}/{parts[1]}"
        if tag == "msqrt":
            return "√" + "".join(parts)
        if tag == "mroot" and len(parts) == 2:
            return f"√[{parts[1]}]{parts[0]}"
        own = (node.text or "").strip()
        if tag == "mo" and own in SPACED_OPERATORS:
            own = f" {own} "
        return own + "".join(parts)

    return re.sub(r"\s+", " ", INVISIBLE_OPERATORS.sub("", text(root))).strip()
