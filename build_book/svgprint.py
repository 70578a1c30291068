"""SVG figures as the print edition draws them.

The PDF draws SVG with WeasyPrint's own renderer, which is not a browser's. What it ignores would
make the page differ from the web edition, sometimes losing text: it paints a shape's or a text's
fill and stroke in one operation, fill first, so ``paint-order: stroke`` (a white outline behind a
label, a common way to keep labels legible over lines) puts the outline over the letters and they
vanish. :func:`for_print` rewrites such an element as two (the stroke alone below, the fill alone
above), which every renderer draws as a browser draws the original. :func:`unsupported` names what
WeasyPrint (up to version 70) cannot draw at all, for the checks (:func:`check`, ``svg-print-unsupported``):

- ``<foreignObject>``: HTML inside an SVG is not drawn (unless a ``<switch>`` offers a fallback);
- ``<textPath>``: the text is set on a straight line, not along its path;
- filter effects other than ``feOffset`` and ``feBlend`` (blur, drop shadows, colour matrices,
  lighting, ...), and CSS filter functions (``filter: blur(2px)``): drawn without the effect;
- ``mix-blend-mode``: drawn without blending;
- vertical text (``writing-mode: vertical-rl``, ``tb``): set horizontally;
- ``<switch>``: every alternative is drawn, one over another, not the first that applies.
"""

from __future__ import annotations

import copy
from pathlib import Path
from xml.etree import ElementTree

from .diagnostics import Diagnostic, Location, warning
from .model import Book
from .sanitize import SvgError, clean_svg, parse_svg, svg_files

SHAPES = frozenset("circle ellipse line path polyline polygon rect".split())
TEXT_CONTENT = frozenset("tspan textPath a".split())       # inside <text>: painted with it
INHERITED = frozenset("paint-order stroke fill writing-mode".split())
SUPPORTED_FILTERS = frozenset(("feOffset", "feBlend"))      # weasyprint/svg/defs.py: apply_filters
VERTICAL = ("tb", "tb-rl", "vertical-rl", "vertical-lr")
DRAWN = SHAPES | TEXT_CONTENT | {"text", "g", "use", "image", "svg"}   # what a filter or blending can apply to


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def stroke_first(value: str | None) -> bool:
    """Whether a ``paint-order`` value paints the stroke before the fill."""
    words = [w for w in (value or "").split() if w in ("fill", "stroke", "markers")]
    order = words + [w for w in ("fill", "stroke", "markers") if w not in words]
    return order.index("stroke") < order.index("fill")


class Styles:
    """The values of a few properties for the elements of one SVG, as the cascade gives them:
    presentation attribute, then the SVG's <style> rules, then the style attribute (!important last),
    inherited from the parent where the property is inherited."""

    def __init__(self, root: ElementTree.Element, properties: tuple[str, ...]):
        self.properties = properties
        self.parent = {child: parent for parent in root.iter() for child in parent}
        self.sheet: dict[ElementTree.Element, dict[str, tuple]] = {}
        self._rules(root)
        self.cache: dict[tuple, str | None] = {}

    def _rules(self, root: ElementTree.Element) -> None:
        sheets = [el.text or "" for el in root.iter() if _local(el.tag) == "style"]
        if not any(p in sheet for sheet in sheets for p in self.properties):
            return
        import cssselect2
        import tinycss2

        wrappers = list(cssselect2.ElementWrapper.from_xml_root(root).iter_subtree())
        order = 0
        for sheet in sheets:
            for rule in tinycss2.parse_stylesheet(sheet, skip_comments=True, skip_whitespace=True):
                if rule.type != "qualified-rule":
                    continue
                declarations = [d for d in tinycss2.parse_blocks_contents(rule.content, skip_comments=True,
                                                                          skip_whitespace=True)
                                if d.type == "declaration" and d.lower_name in self.properties]
                if not declarations:
                    continue
                try:
                    selectors = cssselect2.compile_selector_list(rule.prelude)
                except cssselect2.SelectorError:
                    continue
                for selector in selectors:
                    if selector.pseudo_element is not None:
                        continue
                    for wrapper in wrappers:
                        if not selector.test(wrapper):
                            continue
                        for d in declarations:
                            order += 1
                            rank = (d.important, selector.specificity, order)
                            found = self.sheet.setdefault(wrapper.etree_element, {})
                            if d.lower_name not in found or found[d.lower_name][0] <= rank:
                                found[d.lower_name] = (rank, tinycss2.serialize(d.value).strip())

    def own(self, el: ElementTree.Element, name: str) -> str | None:
        value, important = el.get(name), False
        if name in self.sheet.get(el, {}):
            rank, value = self.sheet[el][name]
            important = rank[0]
        for declaration in (el.get("style") or "").split(";"):
            key, _, given = declaration.partition(":")
            if key.strip().lower() == name and given.strip():
                given = given.strip()
                if given.lower().endswith("!important"):
                    value, important = given[:-len("!important")].strip(), True
                elif not important:
                    value = given
        return None if value in (None, "inherit") else value

    def value(self, el: ElementTree.Element, name: str) -> str | None:
        key = (el, name)
        if key not in self.cache:
            found = self.own(el, name)
            if found is None and name in INHERITED and el in self.parent:
                found = self.value(self.parent[el], name)
            self.cache[key] = found
        return self.cache[key]


def _append_style(el: ElementTree.Element, declarations: str) -> None:
    style = (el.get("style") or "").strip()
    el.set("style", (style + ";" if style and not style.endswith(";") else style) + declarations)


def split_paint_order(root: ElementTree.Element) -> int:
    """Rewrite every text and shape that paints its stroke before its fill as two elements, the
    stroke alone below and the fill alone above; the number rewritten. The copy gives up its ids."""
    styles = Styles(root, ("paint-order", "stroke"))
    targets = [el for el in root.iter() if (_local(el.tag) == "text" or _local(el.tag) in SHAPES)
               and stroke_first(styles.value(el, "paint-order"))
               and (styles.value(el, "stroke") or "none").strip() != "none"]
    for el in targets:
        parent = styles.parent[el]
        below = copy.deepcopy(el)
        below.tail = None
        no_markers = "" if _local(el.tag) == "text" else \
            "marker-start:none!important;marker-mid:none!important;marker-end:none!important;"
        for part in below.iter():
            part.attrib.pop("id", None)
            _append_style(part, "fill:none!important;" + no_markers)
        for part in el.iter():
            _append_style(part, "stroke:none!important")
        parent.insert(list(parent).index(el), below)
    return len(targets)


def for_print(data: bytes) -> bytes:
    """An SVG file (already cleaned, see sanitize.clean_svg) as the print edition should draw it."""
    try:
        root = parse_svg(data)
    except SvgError:
        return data
    if not split_paint_order(root):
        return data
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


def unsupported(root: ElementTree.Element) -> list[str]:
    """What in an SVG the print renderer cannot draw, each thing once, in the file's order."""
    styles = Styles(root, ("filter", "mix-blend-mode", "writing-mode"))
    filters = {el.get("id"): el for el in root.iter() if _local(el.tag) == "filter" and el.get("id")}
    found: list[str] = []

    def note(what: str) -> None:
        if what not in found:
            found.append(what)

    for el in root.iter():
        name = _local(el.tag)
        if name == "foreignObject" and not _has_fallback(el, styles.parent.get(el)):
            note("<foreignObject> (HTML inside an SVG is not drawn)")
        elif name == "textPath":
            note("<textPath> (the text is set on a straight line, not along the path)")
        elif name == "switch" and sum(_local(c.tag) != "foreignObject" for c in el) > 1:
            note("<switch> (every alternative is drawn, one over another)")
        if name not in DRAWN:
            continue
        effect = (styles.value(el, "filter") or "none").strip()
        if effect != "none":
            if effect.startswith("url("):
                target = effect[4:].rstrip(")").strip("'\" ").partition("#")[2]
                primitives = [_local(p.tag) for p in filters.get(target, [])]
                for primitive in primitives:
                    if primitive not in SUPPORTED_FILTERS:
                        note(f"the filter effect <{primitive}> (drawn without it)")
            else:
                note(f"the CSS filter '{effect}' (drawn without it)")
        blend = (styles.value(el, "mix-blend-mode") or "normal").strip()
        if blend != "normal":
            note(f"mix-blend-mode: {blend} (drawn without blending)")
        if name == "text" and (styles.value(el, "writing-mode") or "").strip() in VERTICAL:
            note("vertical text (writing-mode) (set horizontally)")
    return found


def _has_fallback(element: ElementTree.Element, parent: ElementTree.Element | None) -> bool:
    """A <foreignObject> in a <switch> beside something drawable (draw.io's "Text is not SVG"
    fallback): print draws the fallback, as the SVG means a renderer without HTML to."""
    return parent is not None and _local(parent.tag) == "switch" and \
        any(c is not element and _local(c.tag) in DRAWN for c in parent)


def check(book: Book) -> list[Diagnostic]:
    """``svg-print-unsupported``: at each figure's line, what its SVG has that the PDF cannot draw."""
    diags = []
    for chapter in book.chapters:
        places = {t: Location(chapter.path, *pos) for t, pos in reversed(chapter.sources.images)}
        for target, path in svg_files(book, chapter):
            try:
                cleaned, _ = clean_svg(Path(path).read_bytes())
                things = unsupported(parse_svg(cleaned))
            except (OSError, SvgError):
                continue   # images.check reports files that cannot be read
            if things:
                diags.append(warning(
                    "svg-print-unsupported",
                    f"the PDF cannot draw everything in the SVG image '{target}': " + "; ".join(things),
                    places.get(target, chapter.location),
                    "draw it another way (plain text and shapes, or export the figure as PNG at 300 dpi for "
                    "print); the web edition and the EPUB show the SVG as it is"))
    return diags

