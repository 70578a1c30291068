"""One walk over pandoc's document, and small helpers for its nodes.

pandoc's JSON is lists and objects; an *element* is an object with a ``"t"``
(``{"t": "Str", "c": "text"}``). :func:`elements` visits every element once,
in reading order, entering every container (block quotes, divs, lists,
definition lists, table cells, figures, captions, notes, citation prefixes
and suffixes), so that every stage sees the same document. :func:`rewrite`
replaces elements bottom-up. Both use no recursion for reading, so a deeply
nested document cannot exhaust Python's stack; :func:`elements_deep` measures
the nesting as it walks, so that the loader can refuse what the renderers could
not handle.
"""

from __future__ import annotations

import re
from typing import Callable, Iterator

# elements with nothing inside that is part of the document's own structure
LEAVES = frozenset(("Str", "Space", "SoftBreak", "LineBreak", "Code", "Math", "CodeBlock", "RawBlock",
                    "RawInline", "HorizontalRule", "Null"))
# where each element keeps its [id, classes, key-value pairs]
ATTR_AT = {"Header": 1, "Div": 0, "Span": 0, "Code": 0, "CodeBlock": 0, "Link": 0, "Image": 0, "Table": 0,
           "Figure": 0}


def elements(tree, skip: frozenset[str] | set[str] = frozenset()) -> Iterator[dict]:
    """Every element in ``tree`` (a document's blocks, a block, inlines), in reading order.

    The children of an element are read after the caller has seen it, so a caller
    may change an element's content in place. Elements whose type is in ``skip`` are
    yielded but not entered."""
    stack: list = [tree]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        kind = type(item)
        if kind is list:
            stack.extend(reversed(item))
        elif kind is dict:
            tag = item.get("t")
            if tag is None:  # a citation: {citationId, citationPrefix, citationSuffix, ...}
                stack.extend(reversed(list(item.values())))
                continue
            yield item
            if tag in LEAVES or tag in skip:
                continue
            content = item.get("c")
            if content is not None:
                push(content)


_LEAVE = object()   # marks, on elements_inside's stack, where the content of a counted element ends


def elements_inside(tree, kinds: frozenset[str], inside: list[int]) -> Iterator[dict]:
    """:func:`elements`, keeping in ``inside[0]`` how many elements of ``kinds`` the element just
    yielded stands inside (0: in none; an element of ``kinds`` itself is counted for its content only),
    so that one walk can serve a caller that reads notes and one that skips them."""
    stack: list = [tree]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        kind = type(item)
        if kind is list:
            stack.extend(reversed(item))
        elif kind is dict:
            tag = item.get("t")
            if tag is None:
                stack.extend(reversed(list(item.values())))
                continue
            yield item
            if tag in LEAVES:
                continue
            content = item.get("c")
            if content is not None:
                if tag in kinds:
                    inside[0] += 1
                    push(_LEAVE)
                push(content)
        elif item is _LEAVE:
            inside[0] -= 1


def elements_deep(tree, limit: int, deepest: list[int]) -> Iterator[dict]:
    """:func:`elements`, keeping in ``deepest[0]`` how deeply the elements yielded so far nest (an element
    of ``tree`` itself stands at 1, one in its content at 2; lists and citations are no level of their own);
    it stops, having yielded nothing deeper, once that passes ``limit``. So a caller's one walk measures
    the nesting too. (A loop of its own, as elements_inside's: these walks run over every chapter read,
    where a hook per element would cost more than the walk.)"""
    stack: list = [tree]
    pop, push = stack.pop, stack.append
    level = 1
    while stack:
        item = pop()
        kind = type(item)
        if kind is list:
            stack.extend(reversed(item))
        elif kind is dict:
            tag = item.get("t")
            if tag is None:
                stack.extend(reversed(list(item.values())))
                continue
            if level > deepest[0]:
                deepest[0] = level
                if level > limit:
                    return
            yield item
            if tag in LEAVES:
                continue
            content = item.get("c")
            if content is not None:
                level += 1
                push(_LEAVE)
                push(content)
        elif item is _LEAVE:
            level -= 1


Replacer = Callable[[dict], "list | None"]


def lists(tree) -> Iterator[list]:
    """Every list in ``tree`` (a document's blocks, an element's inlines, ...), each before the lists it holds:
    a caller may change one in place (its items as changed are read next)."""
    stack: list = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            content = item.get("c")
            if isinstance(content, list) and item.get("t") not in LEAVES:
                stack.append(content)
        elif isinstance(item, list):
            yield item
            stack.extend(item)


def rewrite(tree, fn: Replacer):
    """Replace, bottom-up, each element for which ``fn`` returns a list (its replacement,
    spliced into the list that held it); ``None`` keeps the element. Changes ``tree``
    in place and returns it. Callers walk documents whose depth the loader has bounded."""
    if isinstance(tree, list):
        out = []
        for item in tree:
            item = rewrite(item, fn)
            if isinstance(item, dict) and "t" in item:
                replaced = fn(item)
                if replaced is not None:
                    out.extend(replaced)
                    continue
            out.append(item)
        tree[:] = out
        return tree
    if isinstance(tree, dict):
        if "t" in tree:
            if tree["t"] not in LEAVES and "c" in tree:
                tree["c"] = rewrite(tree["c"], fn)
        else:
            for key, value in tree.items():
                tree[key] = rewrite(value, fn)
    return tree


def attr(element: dict) -> list | None:
    """The element's ``[id, classes, key-value pairs]``, or None if it has none."""
    at = ATTR_AT.get(element["t"])
    return None if at is None else element["c"][at]


# --- constructors -----------------------------------------------------------------------------

def Str(text: str) -> dict:
    return {"t": "Str", "c": text}


def Space() -> dict:
    return {"t": "Space"}


def Span(classes: list[str], inlines: list, attrs: list | None = None, ident: str = "") -> dict:
    return {"t": "Span", "c": [[ident, classes, attrs or []], inlines]}


def Link(inlines: list, href: str, classes: list[str], attrs: list | None = None) -> dict:
    return {"t": "Link", "c": [["", classes, attrs or []], inlines, [href, ""]]}


def words(text: str) -> list:
    """Text as inlines: words and spaces."""
    out: list = []
    for i, word in enumerate(text.split(" ")):
        if i:
            out.append(Space())
        out.append(Str(word))
    return out


# --- plain text -------------------------------------------------------------------------------

def inline_text(inlines: list) -> str:
    """Plain text of a list of inlines (for titles in menus, metadata and lists of figures).

    Citations and notes are left out: they do not belong in a menu."""
    out: list[str] = []
    stack: list = [inlines or []]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        if isinstance(item, list):
            stack.extend(reversed(item))
            continue
        kind, c = item.get("t"), item.get("c")
        if kind == "Str":
            out.append(c)
        elif kind in ("Space", "SoftBreak", "LineBreak"):
            out.append(" ")
        elif kind in ("Emph", "Strong", "Underline", "Strikeout", "Superscript", "Subscript", "SmallCaps"):
            stack.append(c)
        elif kind == "Quoted":
            left, right = ("“", "”") if c[0]["t"] == "DoubleQuote" else ("‘", "’")
            stack.extend([right, c[1], left])
        elif kind in ("Span", "Link", "Image"):
            stack.append(c[1])
        elif kind == "Code":
            out.append(c[1])
        elif kind == "Math":   # TeX as readable text (a menu cannot show a typeset formula)
            from .math import plain
            out.append(plain(c[1]))
        elif kind in ("Cite", "Note"):
            out.append("\0")     # (where one was: see below)
    # (ASCII white space only: a full-width space, '第一部　基本', or a no-break space is the title's own)
    text = re.sub(r"[ \t\n\r\f\v]+", " ", "".join(out))
    if "\0" in text:   # what a citation or note left out leaves: '(Walt 1987)' as '()', a space before ':'
        text = re.sub(r"\(\s*\0[\0\s;,]*\)", "\0", text)
        text = re.sub(r"\s*\0[\0\s]*(?=[.,;:)]|$)", "", text)
        text = re.sub(r"(?<=\()[\0\s]*\0\s*", "", text)
        text = re.sub(r"\s*\0[\0\s]*", " ", text)
    return text.strip()
