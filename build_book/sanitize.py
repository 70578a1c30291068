"""Nothing an author writes as raw HTML, attributes or SVG puts script into an edition.

Raw HTML reaches pandoc's document in pieces (``<span title="x">``, the text,
``</span>`` are three nodes), so it is cleaned one tag at a time, in reading
order, against an allow-list of elements, attributes and addresses. Each tag
kept is then put through nh3 (the Python binding of the ammonia sanitiser) with
the same allow-list, which has the last word. What is removed is reported, with
the reason, at the author's line: script (``<script>``, ``on...=`` handlers,
``javascript:`` addresses), things loaded from the web (``<img src="https:...">``,
``url(...)`` in styles) and HTML no edition can carry (forms, frames, ``<meta>``).

:func:`clean_blocks` is the one pass over a chapter's pandoc JSON; the transform
stage keeps its result (every edition writes the same clean document) and
:func:`check` reports what it removed. :func:`clean_svg` does the same for SVG
figure files, which every edition ships as cleaned copies.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote
from xml.etree import ElementTree

from . import sandbox
from .diagnostics import Diagnostic, Location, warning
from .model import Book, Chapter, is_external

SCRIPT, REMOTE, REMOVED = "script-removed", "remote-removed", "html-removed"
NO_SCRIPT = "build_book publishes no script"
NO_REMOTE = "every edition must work offline, and an EPUB may not load from the web"


@dataclass(frozen=True)
class Removal:
    code: str       # SCRIPT, REMOTE or REMOVED
    what: str       # "<script>", "the onclick attribute of <span>", ...
    why: str
    key: tuple      # what to look for in the source: ("tag", name) / ("attr", name, value) / ("link", target)


# --- the allow-list -----------------------------------------------------------------------------

HTML_ELEMENTS = frozenset("""
a abbr address article aside b bdi bdo blockquote br caption cite code col colgroup data dd del details dfn div dl
dt em figcaption figure footer h1 h2 h3 h4 h5 h6 header hgroup hr i img ins kbd li mark ol p pre q rp rt ruby s samp
section small span strong sub summary sup table tbody td tfoot th thead time tr u ul var wbr
""".split())
VOID = frozenset("area base br col embed hr img input link meta source track wbr".split())
SVG_ELEMENTS = frozenset("""
svg g defs symbol use title desc metadata switch view a path rect circle ellipse line polyline polygon text tspan
textpath lineargradient radialgradient stop pattern clippath mask marker image style filter foreignobject
feblend fecolormatrix fecomponenttransfer fecomposite feconvolvematrix fediffuselighting fedisplacementmap
fedistantlight fedropshadow feflood fefunca fefuncb fefuncg fefuncr fegaussianblur feimage femerge femergenode
femorphology feoffset fepointlight fespecularlighting fespotlight fetile feturbulence
""".split())
MATH_ELEMENTS = frozenset("""
math maction annotation annotation-xml menclose merror mfenced mfrac mi mmultiscripts mn mo mover mpadded mphantom
mprescripts mroot mrow ms mspace msqrt mstyle msub msubsup msup mtable mtd mtext mtr munder munderover none
semantics
""".split())
# dropped together with what they hold: it is code, or it makes no sense without them
DROP_CONTENT = frozenset("script style iframe object applet template textarea select title noscript noembed "
                         "noframes xmp frameset head".split())
GLOBAL_ATTRS = frozenset("id class title lang dir role hidden translate".split())
ELEMENT_ATTRS = {
    "a": {"href", "hreflang"}, "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "headers"}, "th": {"colspan", "rowspan", "headers", "scope", "abbr"},
    "col": {"span"}, "colgroup": {"span"}, "ol": {"start", "reversed", "type"}, "li": {"value"},
    "blockquote": {"cite"}, "q": {"cite"}, "del": {"cite", "datetime"}, "ins": {"cite", "datetime"},
    "time": {"datetime"}, "data": {"value"}, "details": {"open"}, "bdo": {"dir"},
}
LINK_ATTRS = frozenset("href cite action formaction longdesc usemap ping xlink:href".split())
RESOURCE_ATTRS = frozenset("src srcset poster background data codebase lowsrc dynsrc manifest".split())
# attributes no edition can carry whatever their value (on top of on...=)
DENIED_ATTRS = frozenset("srcdoc http-equiv formaction action".split())
LINK_SCHEMES = ("http", "https", "mailto", "ftp", "tel")
# a link to a file on the reader's machine or network (smb: can hand a Windows reader's credentials to
# the server it names): never live in an edition, its text kept
LOCAL_SCHEMES = ("file", "smb", "cifs", "nfs", "afp")


def local_link(target: str) -> bool:
    scheme = re.match(r"([a-z][a-z0-9+.\-]*):", _plain_url(target))
    return bool(scheme) and scheme.group(1) in LOCAL_SCHEMES


IMAGE_DATA = re.compile(r"data:image/(png|jpeg|gif|webp)[;,]")

WHY = {
    "iframe": "no edition may embed another page", "object": "no edition may embed a plug-in",
    "applet": "no edition may embed a plug-in", "embed": "no edition may embed a plug-in",
    "form": "an edition is read, not filled in", "input": "an edition is read, not filled in",
    "button": "an edition is read, not filled in", "textarea": "an edition is read, not filled in",
    "select": "an edition is read, not filled in", "label": "an edition is read, not filled in",
    "fieldset": "an edition is read, not filled in", "legend": "an edition is read, not filled in",
    "option": "an edition is read, not filled in",
    "meta": "a chapter cannot change how the page is read", "base": "it would change where every link points",
    "style": "the editions' look comes from their stylesheets; use a class and the book's templates",
    "title": "the editions make their own page titles",
    "audio": "no edition carries sound", "video": "no edition carries video", "source": "no edition carries media",
    "track": "no edition carries media", "canvas": "a canvas needs script",
}


def _why(name: str) -> str:
    if name in WHY:
        return WHY[name]
    if ":" in name:
        return "it is not HTML (word processors add such tags); its text is kept"
    return "it is not among the HTML elements every edition can carry; its text is kept"


# --- addresses and styles ------------------------------------------------------------------------

def _plain_url(value: str) -> str:
    """A URL as a browser reads its scheme: control characters and spaces ignored, any case."""
    return re.sub(r"[\x00-\x20\x7f]+", "", html.unescape(value)).lower()


def url_problem(value: str, resource: bool) -> tuple[str, str] | None:
    """Why an address may not stand in an edition (code, reason), or None if it may.

    ``resource``: the address is loaded (an image's src), not followed (a link's href)."""
    url = _plain_url(value)
    scheme = re.match(r"([a-z][a-z0-9+.\-]*):", url)
    scheme = scheme.group(1) if scheme else ""
    if scheme in ("javascript", "vbscript", "livescript"):
        return SCRIPT, NO_SCRIPT
    if scheme == "data":
        if resource and IMAGE_DATA.match(url):
            return None
        return SCRIPT, "a data: address other than an image can hold a page with script"
    if resource:
        if scheme in ("http", "https", "ftp") or url.startswith("//"):
            return REMOTE, NO_REMOTE
        if scheme:
            return REMOVED, f"a {scheme}: address cannot be loaded by the editions"
        return None
    if scheme and scheme not in LINK_SCHEMES:
        return REMOVED, f"a {scheme}: address leads nowhere in a published book"
    return None


CSS_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6})\s?|\\(.)", re.S)


def _css_plain(text: str) -> str:
    def one(m):
        if m.group(1):
            try:
                return chr(int(m.group(1), 16))
            except (ValueError, OverflowError):
                return ""
        return m.group(2)
    text = re.sub(r"/\*.*?\*/", "", CSS_ESCAPE.sub(one, html.unescape(text)), flags=re.S)
    return re.sub(r"\s+", "", text).lower()


def css_problem(css: str) -> tuple[str, str] | None:
    """Why CSS may not stand: it runs script or loads something; ``url(#id)`` (a gradient in the
    same SVG) is fine."""
    plain = _css_plain(css)
    if any(word in plain for word in ("expression(", "javascript:", "vbscript:", "behavior:", "-moz-binding")):
        return SCRIPT, NO_SCRIPT
    if "@import" in plain or "image-set(" in plain or re.search(r"url\((?!['\"]?#)", plain) or "src:" in plain:
        return REMOTE, NO_REMOTE
    return None


def _declarations(css: str) -> list[str]:
    out, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(css):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(depth - 1, 0)
        elif ch == ";" and not depth:
            out.append(css[start:i])
            start = i + 1
    out.append(css[start:])
    return [d for d in out if d.strip()]


def clean_style(css: str) -> tuple[str, list[tuple[str, str, str]]]:
    """The declarations of a style attribute that load nothing and run nothing; and what went."""
    kept, gone = [], []
    for declaration in _declarations(css):
        problem = css_problem(declaration)
        if problem:
            gone.append((problem[0], problem[1], " ".join(declaration.split())[:60]))
        else:
            kept.append(declaration.strip())
    return "; ".join(kept), gone


def attribute_problem(name: str, value: str, element: str, space: str) -> tuple[str, str] | None:
    """Why an attribute of an element kept may not stand (code, reason), or None.

    ``space``: "html", "svg" or "math" (raw HTML); "attr" for pandoc's {key=value} attributes,
    which are not allow-listed by name (pandoc writes unknown ones as data-*) but by danger."""
    if name.startswith("on"):
        return SCRIPT, f"an {name}= handler is script, and {NO_SCRIPT}"
    if name in DENIED_ATTRS:
        return REMOVED, "no edition can carry it"
    if name in ("href", "xlink:href") and space == "svg" and not value.strip().startswith("#"):
        problem = url_problem(value, True)
        if problem and problem[0] == SCRIPT:
            return problem
        if element == "a":
            return REMOVED, "a link inside an image is not followed in every edition; put it in the caption"
        if problem is None and IMAGE_DATA.match(_plain_url(value)):
            return None
        return problem or (REMOVED, "an SVG image may only refer to things inside itself")
    if name == "href" and space == "math":
        return url_problem(value, False)
    if name in LINK_ATTRS:
        return url_problem(value, False)
    if name in RESOURCE_ATTRS:
        if name == "srcset":    # each candidate a web address or a file of the book's, never carried
            urls = [part.split()[0] for part in value.split(",") if part.split()]
            found = [url_problem(url, True) for url in urls]
            return next((f for f in found if f), None) or (
                REMOVED, "the editions show the image its src names; a srcset's other sizes are not carried")
        return url_problem(value, True)
    if space == "attr":
        url = _plain_url(value)
        if url.startswith(("javascript:", "vbscript:")):
            return SCRIPT, NO_SCRIPT
        return None
    if space == "html" and name not in GLOBAL_ATTRS and name not in ELEMENT_ATTRS.get(element, ()) \
            and not name.startswith(("aria-", "data-")) and name != "style":
        return REMOVED, "it is not among the attributes every edition can carry"
    if space in ("svg", "math") and ":" in name and name not in ("xml:lang", "xml:space", "xlink:href"):
        return REMOVED, "it belongs to another program's vocabulary"
    if space in ("svg", "math") and "url(" in value.lower():
        return css_problem(value)
    return None


def clean_attributes(attrs, element: str, space: str) -> tuple[list[tuple[str, str]], list[Removal]]:
    kept, removed = [], []
    for name, value in attrs:
        value = "" if value is None else value
        where = f" of <{element}>" if space != "attr" else ""
        if name == "style":
            style, gone = clean_style(value)
            for code, why, declaration in gone:
                removed.append(Removal(code, f"'{declaration}' from the style{where}", why,
                                       ("attr", name, value)))
            if style:
                kept.append((name, style))
            continue
        problem = attribute_problem(name, value, element, space)
        if problem:
            shown = value if len(value) <= 40 else value[:37] + "..."
            removed.append(Removal(problem[0], f"the attribute {name}=\"{shown}\"{where}", problem[1],
                                   ("attr", name, value)))
        else:
            kept.append((name, value))
    return kept, removed


def _sized(attrs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """An image's width and height as HTML has them (a number of pixels), or else, as written for a browser
    that reads them loosely ('50%', '12em', '120px'), moved into its style: XHTML (the EPUB) and HTML allow
    only a number there, and a percentage would be lost."""
    moved = []
    kept = []
    for key, value in attrs:
        if key in ("width", "height") and not re.fullmatch(r"[0-9]+", value.strip()):   # (not '１２')
            length = CSS_LENGTH.fullmatch(value.strip())
            if length:
                moved.append(f"{key}:{length.group(1)}{length.group(2) or 'px'}")
            continue
        kept.append((key, value.strip() if key in ("width", "height") else value))   # (not '12　')
    if not moved:
        return kept
    style = next((v for k, v in kept if k == "style"), "")
    style = ";".join([*moved, style.strip().strip(";")] if style.strip() else moved)
    return [(k, v) for k, v in kept if k != "style"] + [("style", style)]


CSS_LENGTH = re.compile(r"([0-9]+(?:\.[0-9]+)?|\.[0-9]+)\s*(%|px|em|rem|ex|ch|vw|vh|pt|pc|cm|mm|in)?", re.I)


# --- nh3 has the last word on every HTML tag kept ---------------------------------------------

CONTEXT = {"td": ("<table><tbody><tr>", ), "th": ("<table><tbody><tr>", ), "tr": ("<table><tbody>", ),
           "tbody": ("<table>", ), "thead": ("<table>", ), "tfoot": ("<table>", ), "caption": ("<table>", ),
           "colgroup": ("<table>", ), "col": ("<table><colgroup>", ), "li": ("<ul>", ),
           "dt": ("<dl>", ), "dd": ("<dl>", ), "rt": ("<ruby>", ), "rp": ("<ruby>", ), "summary": ("<details>", )}
NH3_TAGS = set(HTML_ELEMENTS) | {"ul", "dl", "ruby", "details", "table", "tbody", "tr", "colgroup"}
NH3_ATTRS = {tag: set(GLOBAL_ATTRS) | ELEMENT_ATTRS.get(tag, set()) | {"style"} for tag in NH3_TAGS}


def _nh3_attributes(name: str, attrs: list[tuple[str, str]]) -> set[str] | None:
    """The attribute names nh3 keeps on this start tag (None: it drops the tag)."""
    plain = [(k, v) for k, v in attrs if not k.startswith(("aria-", "data-"))]
    tag = "<%s%s>" % (name, "".join(f' {k}="{html.escape(v)}"' for k, v in plain))
    import nh3    # (here: most chapters hold no raw HTML, and a check after an edit starts no faster than its imports)

    context = CONTEXT.get(name, ("",))[0]
    out = nh3.clean(context + tag, tags=NH3_TAGS, attributes=NH3_ATTRS, link_rel=None,
                    url_schemes=set(LINK_SCHEMES) | {"data"}, strip_comments=True)
    found = re.search(r"<%s\b[^>]*>" % re.escape(name), out)
    if found is None:
        return None
    parser = _Tokens()
    parser.feed(found.group(0))
    parser.close()
    return {k for k, _ in parser.tokens[0][2]} | {k for k, _ in attrs if k.startswith(("aria-", "data-"))} \
        if parser.tokens and parser.tokens[0][0] == "start" else None


# --- raw HTML, one tag at a time --------------------------------------------------------------

class _Tokens(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.tokens: list[tuple] = []

    def handle_starttag(self, tag, attrs):
        self.tokens.append(("start", tag, attrs, False))

    def handle_startendtag(self, tag, attrs):
        self.tokens.append(("start", tag, attrs, True))

    def handle_endtag(self, tag):
        self.tokens.append(("end", tag))

    def handle_data(self, data):
        self.tokens.append(("text", data))

    def handle_entityref(self, name):
        self.tokens.append(("raw", f"&{name};"))

    def handle_charref(self, name):
        self.tokens.append(("raw", f"&#{name};"))

    def unknown_decl(self, data):  # <![CDATA[...]]>: text in SVG and MathML
        if data.upper().startswith("CDATA["):
            self.tokens.append(("text", data[6:]))

    # comments, <!DOCTYPE> and <?...?> are not content: dropped
    def handle_comment(self, data):
        pass


def _start_tag(name: str, attrs: list[tuple[str, str]], close: bool) -> str:
    written = "".join(f' {k}="{html.escape(v, quote=True)}"' for k, v in attrs)
    return f"<{name}{written}{' /' if close else ''}>"


class Cleaner:
    """Cleans a document's raw HTML and attributes in reading order, remembering what it removed."""

    def __init__(self):
        self.removed: list[Removal] = []
        self.skipping: str | None = None      # inside <script>...</script> and the like
        self.foreign: list[str] = []          # open <svg> / <math> elements

    def note(self, code: str, what: str, why: str, key: tuple) -> None:
        self.removed.append(Removal(code, what, why, key))

    # raw HTML
    def raw(self, text: str) -> str:
        parser = _Tokens()
        parser.feed(text)
        parser.close()
        out: list[str] = []
        for token in parser.tokens:
            kind = token[0]
            if self.skipping:
                if kind == "end" and token[1] == self.skipping:
                    self.skipping = None
                continue
            if kind == "text":
                out.append(html.escape(token[1], quote=False))
            elif kind == "raw":
                out.append(token[1])
            elif kind == "start":
                out.append(self._start(token[1], token[2], token[3]))
            elif kind == "end":
                out.append(self._end(token[1]))
        return "".join(out)

    def _space(self) -> str:
        return self.foreign[-1] if self.foreign else "html"

    def _allowed(self, name: str) -> bool:
        space = self._space()
        if space == "svg":
            return name in SVG_ELEMENTS and name != "foreignobject" and name != "style"
        if space == "math":
            return name in MATH_ELEMENTS
        return name in HTML_ELEMENTS or name in ("svg", "math")

    def _start(self, name: str, attrs, close: bool) -> str:
        if name in ("script", "noscript"):
            self.note(SCRIPT, f"<{name}>", NO_SCRIPT, ("tag", name))
            self.skipping = None if close else name
            return ""
        if name in DROP_CONTENT or name in ("link", "embed", "meta", "base"):
            code = REMOTE if name == "link" else REMOVED
            self.note(code, f"<{name}> (and what it holds)" if name in DROP_CONTENT and not close else f"<{name}>",
                      NO_REMOTE if name == "link" else _why(name), ("tag", name))
            if name in DROP_CONTENT and not close:
                self.skipping = name
            return ""
        if not self._allowed(name):
            self.note(REMOVED, f"<{name}>", _why(name), ("tag", name))
            return ""
        space = "svg" if name == "svg" else "math" if name == "math" else self._space()
        kept, removed = clean_attributes(attrs, name, space)
        for r in removed:
            self.removed.append(r)
        if space == "html":
            allowed = _nh3_attributes(name, kept)
            if allowed is None:
                self.note(REMOVED, f"<{name}>", _why(name), ("tag", name))
                return ""
            for k, v in kept:
                if k not in allowed:
                    self.note(REMOVED, f'the attribute {k}="{v[:40]}" of <{name}>', "the sanitiser does not let it through",
                              ("attr", k, v))
            kept = [(k, v) for k, v in kept if k in allowed]
        if name == "img" and space == "html":
            if not any(k == "src" for k, _ in kept):
                return ""   # nothing left to show (the removal of its src is reported)
            kept = _sized(kept)
            if not any(k == "alt" for k, _ in kept):
                kept.append(("alt", ""))
        if name in ("svg", "math") and not close:
            self.foreign.append(name)
        return _start_tag(name, kept, close and (space != "html" or name in VOID))

    def _end(self, name: str) -> str:
        if name in VOID or name in DROP_CONTENT or name in ("link", "embed", "meta", "base"):
            return ""
        if name in ("svg", "math") and name in self.foreign:
            while self.foreign and self.foreign.pop() != name:
                pass
            return f"</{name}>"
        if not self._allowed(name):
            return ""
        return f"</{name}>"

    # pandoc attributes
    def attr(self, attr: list) -> list:
        kept, removed = clean_attributes([tuple(kv) for kv in attr[2]], "", "attr")
        self.removed.extend(removed)
        return [attr[0], attr[1], [list(kv) for kv in kept]]


def _is_attr(x) -> bool:
    return (type(x) is list and len(x) == 3 and type(x[0]) is str and type(x[1]) is list and type(x[2]) is list
            and all(type(kv) is list and len(kv) == 2 and type(kv[0]) is str for kv in x[2]))


def _plain_text(inlines: list) -> dict:
    return {"t": "Span", "c": [["", [], []], inlines]}


def clean_blocks(blocks: list) -> tuple[list, list[Removal]]:
    """A chapter's pandoc blocks with raw HTML and attributes cleaned (a new list; the
    input is not changed), and what was removed, in reading order."""
    cleaner = Cleaner()
    out = _walk(blocks, cleaner)
    return out, cleaner.removed


GONE = object()   # what _walk returns for a node it removes


def _walk(node, cleaner: Cleaner):
    if type(node) is list:
        if _is_attr(node):
            return cleaner.attr(node) if node[2] else [node[0], list(node[1]), []]
        started_skipping = cleaner.skipping is None
        out = []
        for item in node:
            if cleaner.skipping and not (type(item) is dict and item.get("t") in ("RawInline", "RawBlock")):
                if type(item) is dict:
                    continue   # the content of a <script>, <iframe>, ... between raw tags
            item = _walk(item, cleaner)
            if item is not GONE:
                out.append(item)
        if started_skipping and cleaner.skipping:
            cleaner.skipping = None   # never beyond the paragraph or block list an unclosed tag is in
        return out
    if type(node) is not dict:
        return node
    kind = node.get("t")
    if kind in ("RawInline", "RawBlock"):
        fmt, text = node["c"]
        if fmt.lower() not in ("html", "html4", "html5"):
            return node
        cleaned = cleaner.raw(text)
        return {"t": kind, "c": [fmt, cleaned]} if cleaned.strip() else GONE
    if kind == "Link":
        attr, inlines, (target, title) = node["c"]
        problem = url_problem(target, False)
        inlines = _walk(inlines, cleaner)
        if problem and (problem[0] == SCRIPT or local_link(target)):   # other odd schemes: the checks' (url-scheme)
            shown = target if len(target) <= 40 else target[:37] + "..."
            cleaner.note(problem[0], f"the link to '{shown}' (its text is kept)", problem[1], ("link", target))
            return _plain_text(inlines)
        return {"t": "Link", "c": [_walk(attr, cleaner), inlines, [target, title]]}
    if kind == "Image":
        attr, inlines, (target, title) = node["c"]
        if target.startswith("data:") and url_problem(target, True):
            code, why = url_problem(target, True)
            cleaner.note(code, "an image with a data: address that is not an image (its description is kept)",
                         why, ("image", target))
            return _plain_text(_walk(inlines, cleaner))
    if "c" in node:
        return {**node, "c": _walk(node["c"], cleaner)}
    return node


# --- SVG figures --------------------------------------------------------------------------------

SVG_NS, XLINK_NS, XHTML_NS = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink", \
    "http://www.w3.org/1999/xhtml"
XML_NS = "http://www.w3.org/XML/1998/namespace"
ElementTree.register_namespace("", SVG_NS)
ElementTree.register_namespace("xlink", XLINK_NS)


MAX_SVG_DEPTH = 200   # drawing programs nest groups a dozen deep


class SvgError(Exception):
    """The file is not an SVG image build_book can read (the message says why)."""


def parse_svg(data: bytes) -> ElementTree.Element:
    """The SVG's root element; :class:`SvgError` if it is not well-formed XML with an <svg> root.
    Entity tricks (billion laughs, external entities) are refused, not expanded."""
    import defusedxml.ElementTree as SafeTree
    from defusedxml import DefusedXmlException

    try:
        root = SafeTree.fromstring(data, forbid_dtd=False)
    except ElementTree.ParseError as exc:
        raise SvgError(f"it is not well-formed XML ({_parse_message(exc)})") from None
    except DefusedXmlException:
        raise SvgError("it declares XML entities, which build_book does not expand") from None
    except (ValueError, RecursionError) as exc:
        raise SvgError(f"it cannot be read as XML ({exc})") from None
    if _local(root.tag) != "svg":
        raise SvgError(f"its root element is <{_local(root.tag)}>, not <svg>")
    stack, deepest = [(root, 1)], 0
    while stack:
        element, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_SVG_DEPTH:
            raise SvgError(f"its elements nest more than {MAX_SVG_DEPTH} deep")
        stack.extend((child, depth + 1) for child in element)
    return root


def _parse_message(exc: ElementTree.ParseError) -> str:
    line, column = getattr(exc, "position", (0, 0))
    what = str(exc).split(":")[0]
    return f"{what} at line {line}, column {column + 1}" if line else what


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _space_of(tag: str) -> str:
    return tag[1:].split("}")[0] if tag.startswith("{") else ""


def clean_svg(data: bytes) -> tuple[bytes, list[Removal]]:
    """An SVG file without script, handlers, links outside itself or anything loaded from
    elsewhere; and what was removed. Raises :class:`SvgError` if it is not SVG."""
    root = parse_svg(data)
    removed: list[Removal] = []
    seen: set[tuple] = set()

    def note(code, what, why, key):
        if (code, what) not in seen:
            seen.add((code, what))
            removed.append(Removal(code, what, why, key))

    def attributes(el: ElementTree.Element, name: str, html_space: bool) -> None:
        for key in list(el.attrib):
            value = el.attrib[key]
            space, local = _space_of(key), _local(key)
            if space == XLINK_NS:
                shown = "xlink:" + local
            elif space == XML_NS:
                shown = "xml:" + local
            elif space:
                del el.attrib[key]   # another program's private data (Inkscape, Illustrator, ...)
                continue
            else:
                shown = local
            if shown.lower() == "style":
                style, gone = clean_style(value)
                for code, why, declaration in gone:
                    note(code, f"'{declaration}' from the style of <{name}>", why, ("svg",))
                if style:
                    el.attrib[key] = style
                else:
                    del el.attrib[key]
                continue
            problem = attribute_problem(shown.lower(), value, name, "html" if html_space else "svg")
            if problem and not (html_space and problem[0] == REMOVED and problem[1].startswith("it is not among")):
                shown_value = value if len(value) <= 40 else value[:37] + "..."
                note(problem[0], f'the attribute {shown}="{shown_value}" of <{name}>', problem[1], ("svg",))
                del el.attrib[key]

    def walk(parent: ElementTree.Element, html_space: bool) -> None:
        for child in list(parent):
            if not isinstance(child.tag, str):     # comments, processing instructions
                parent.remove(child)
                continue
            space, name = _space_of(child.tag), _local(child.tag)
            lower = name.lower()
            inside_html = html_space or space == XHTML_NS
            if space not in (SVG_NS, XHTML_NS, ""):
                parent.remove(child)   # editors' private elements (sodipodi:namedview, ...): nothing shown
                continue
            if lower in ("script", "noscript"):
                note(SCRIPT, f"<{name}>", NO_SCRIPT, ("svg",))
                _remove_keeping_tail(parent, child)
                continue
            if lower == "style" and not inside_html:
                problem = css_problem(child.text or "")
                if problem:
                    note(problem[0], "a <style> that loads or runs something", problem[1], ("svg",))
                    _remove_keeping_tail(parent, child)
                    continue
            elif inside_html and (lower in DROP_CONTENT or lower in ("link", "embed", "meta", "base")
                                  or lower not in HTML_ELEMENTS):
                note(REMOVED if lower not in ("link",) else REMOTE, f"<{name}> inside <foreignObject>",
                     _why(lower), ("svg",))
                _remove_keeping_tail(parent, child)
                continue
            elif not inside_html and lower not in SVG_ELEMENTS:
                note(REMOVED, f"<{name}>", "it is not among the SVG elements every edition can show", ("svg",))
                _remove_keeping_tail(parent, child)
                continue
            attributes(child, name, inside_html)
            walk(child, inside_html)

    attributes(root, "svg", False)
    walk(root, False)
    # again: importing WeasyPrint takes the SVG namespace's prefix, and the same figure must come out
    # the same bytes whenever it is cleaned (the EPUB's page list finds the print layout by its HTML)
    ElementTree.register_namespace("", SVG_NS)
    ElementTree.register_namespace("xlink", XLINK_NS)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True), removed


def _remove_keeping_tail(parent: ElementTree.Element, child: ElementTree.Element) -> None:
    if child.tail and child.tail.strip():
        index = list(parent).index(child)
        if index:
            before = parent[index - 1]
            before.tail = (before.tail or "") + child.tail
        else:
            parent.text = (parent.text or "") + child.tail
    parent.remove(child)


# --- reporting ------------------------------------------------------------------------------------

REPORT = {  # one constructor per code, so that each code is written out where it is reported
    SCRIPT: lambda message, where: warning("script-removed", message, where, HINTS[SCRIPT]),
    REMOTE: lambda message, where: warning("remote-removed", message, where, HINTS[REMOTE]),
    REMOVED: lambda message, where: warning("html-removed", message, where, HINTS[REMOVED]),
}


def _message(r: Removal, source: str = "") -> str:
    return f"removed {r.what}{source}: {r.why}"


HINTS = {
    SCRIPT: "an edition is read, not run: take the script out, or link to a page on the web that has it",
    REMOTE: "download what it loads into the book's folder and refer to the file, or link to it instead",
    REMOVED: "write it in Markdown if you can; build_book keeps only HTML every edition can carry",
}


class _Places:
    """Hands out the author's positions of tags, attributes and links, in reading order."""

    def __init__(self, chapter: Chapter):
        s = chapter.sources
        self.fallback = chapter.location
        self.path = chapter.path
        self.tags: dict[str, list] = {}
        for text, pos in s.html_tags:
            name = re.match(r"</?([A-Za-z][\w:.\-]*)", text)
            if name and not text.startswith("</"):
                self.tags.setdefault(name.group(1).lower(), []).append(pos)
        self.attrs = list(getattr(s, "attributes", []))
        self.links = list(s.links)
        self.images = list(s.images)

    def at(self, key: tuple) -> Location:
        pos = None
        if key[0] == "tag":
            found = self.tags.get(key[1], [])
            pos = found.pop(0) if found else None
        elif key[0] == "attr":
            name, value = key[1], key[2]
            same = [a for a in self.attrs if a[0].lower() == name and html.unescape(a[1]) == value] or \
                [a for a in self.attrs if a[0].lower() == name]
            if same:
                self.attrs.remove(same[0])
                pos = same[0][2]
        elif key[0] in ("link", "image"):
            pool = self.links if key[0] == "link" else self.images
            # the source map cuts a target at its first ')' and pandoc %-encodes some characters
            same = [a for a in pool if a[0] == key[1]] or \
                [a for a in pool if a[0] and unquote(key[1]).startswith(unquote(a[0]))]
            if same:
                pool.remove(same[0])
                pos = same[0][1]
        return Location(self.path, *pos) if pos else self.fallback


def check(book: Book) -> list[Diagnostic]:
    """What the build removes from each chapter's raw HTML, attributes, links and SVG figures,
    reported where the author wrote it."""
    diags: list[Diagnostic] = []
    for chapter in book.chapters:
        diags += check_blocks(chapter)
        diags += check_svgs(book, chapter)
    return diags


def nothing_to_clean(chapter: Chapter) -> bool:
    """Would :func:`clean_blocks` leave the chapter's blocks as they are? So its facts say (see facts.py): no
    raw HTML, no attribute with a value, no data: image and no script link or link to a local file."""
    facts, targets = chapter.facts, chapter.targets
    return facts is not None and not facts.cleans and not any(t.startswith("data:") for t in targets.images) \
        and not any((problem := url_problem(t, False)) and problem[0] == SCRIPT or local_link(t) for t in targets.links)


def check_blocks(chapter: Chapter) -> list[Diagnostic]:
    """What the build removes from one chapter's raw HTML, attributes and links (a function of the
    chapter alone: the checks cache it by the chapter's digest)."""
    if nothing_to_clean(chapter):
        return []    # its blocks need not be read
    diags = []
    _, removed = clean_blocks(chapter.blocks)
    places = _Places(chapter)
    for r in removed:
        source = " from raw HTML" if r.key[0] == "tag" else ""
        if r.key[0] == "link" and r.code == REMOVED:    # a Markdown link to a local file (local_link)
            diags.append(warning("html-removed", _message(r), places.at(r.key), LOCAL_HINT))
        else:
            diags.append(REPORT[r.code](_message(r, source), places.at(r.key)))
    return diags


LOCAL_HINT = ("it would open a file on the reader's own machine or network, never the book's: link to a web "
              "address, or give the path as text (`file:///...`)")


def svg_files(book: Book, chapter: Chapter) -> list[tuple[str, Path]]:
    folder = (book.config.root / chapter.path).parent
    out = []
    for target in dict.fromkeys(chapter.targets.images):
        if is_external(target) or not unquote(target).lower().endswith(".svg"):
            continue
        path = sandbox.inside_url(book.config.root, target, folder)
        if path is not None and sandbox.is_file(path):
            out.append((target, path))
    return out


def check_svgs(book: Book, chapter: Chapter) -> list[Diagnostic]:
    diags = []
    places = {t: Location(chapter.path, *pos) for t, pos in reversed(chapter.sources.images)}
    for target, path in svg_files(book, chapter):
        try:
            _, removed = clean_svg(path.read_bytes())
        except (OSError, SvgError):
            continue   # images.check reports files that cannot be read
        for r in removed:
            diags.append(REPORT[r.code](_message(r, f" from the SVG image '{target}'"),
                                        places.get(target, chapter.location)))
    return diags
