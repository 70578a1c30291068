"""YAML that remembers where each key and item stood.

``load(text)`` returns the plain data and a map from a path of keys and list
indexes, such as ``("contributors", "kubo", "name")`` or ``("chapters", 2)``,
to the 1-based ``(line, column)`` of that key or item in the text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml


class YamlError(Exception):
    def __init__(self, message: str, line: int, column: int, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.hint = hint


@dataclass
class Located:
    data: object
    marks: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    duplicates: list[tuple[tuple, int, int]] = field(default_factory=list)  # (key path, line, column)
    # a mapping's text value as written (its quotes, or its '|' / '>' line, included): where it begins and
    # ends in the YAML text (offsets) and its style: None (plain), '"', "'", '|' or '>'; for locating what
    # a value holds ('title: "About [@key]"')
    scalars: dict[tuple, tuple[int, int, str | None]] = field(default_factory=dict)
    # the file a key's value was read from, where it is not the one the whole is named by (a bookdown book's
    # configuration comes from _bookdown.yml and index.Rmd's front matter): key path -> file
    files: dict[tuple, str] = field(default_factory=dict)

    def where(self, *path, default: tuple[int, int] = (1, 1)) -> tuple[int, int]:
        """The position of ``path``, or of its nearest recorded ancestor."""
        return _nearest(self.marks, path, default)

    def file_of(self, *path) -> str | None:
        """The file ``path`` was read from, if :attr:`files` names one for it or an ancestor."""
        return _nearest(self.files, path, None)


def _nearest(found: dict, path: tuple, default):
    """What ``found`` holds for ``path``, or for its nearest ancestor there; ``default`` if none."""
    while path:
        if path in found:
            return found[path]
        path = path[:-1]
    return default

MAX_NODES = 20_000   # values in one YAML file, aliases expanded: a book.yml has a few hundred


class Loader(yaml.SafeLoader):
    """PyYAML's safe loader, but dates stay the text the author wrote (``date: 2012-03-31``) and
    a value its constructor cannot make (``!!float x``, ``!!timestamp 2012-02-30``) is a YAML error
    at the value's position, not an exception."""

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, OverflowError, ArithmeticError, RecursionError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.tag.split(':')[-1]} value '{str(node.value)[:40]}' cannot be read ({exc})",
                node.start_mark) from None


# timestamps are read as text: a date is written and printed as the author wrote it
Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class RCode:
    """A value R Markdown computes: '!r Sys.Date()' or '!expr function(i) ...' in a bookdown book's
    _bookdown.yml or index.Rmd front matter (read by R's yaml package, which evaluates it). build_book runs no R,
    so the value is this, never text: whoever reads it says it is R code."""
    code: str

    def __str__(self) -> str:
        return self.code


class RLoader(Loader):
    """:class:`Loader`, but R Markdown's '!r' and '!expr' tags read as :class:`RCode`."""


def _r_code(loader, node):
    return RCode(str(node.value) if isinstance(node, yaml.ScalarNode) else "...")


RLoader.add_constructor("!r", _r_code)
RLoader.add_constructor("!expr", _r_code)


def _walk(root: yaml.Node, marks: dict, duplicates: list, scalars: dict) -> None:
    """Record where each key and item stands, without recursion; refuse recursive aliases
    and alias expansion past :data:`MAX_NODES` values."""
    stack: list[tuple[yaml.Node, tuple, frozenset]] = [(root, (), frozenset())]
    visited = 0
    while stack:
        node, path, above = stack.pop()
        visited += 1
        if visited > MAX_NODES:
            raise YamlError(f"more than {MAX_NODES:,} values once aliases (*name) are expanded; "
                            "is an alias repeated on purpose?", node.start_mark.line + 1, node.start_mark.column + 1,
                            "write the values out instead of nesting aliases (*name) in each other")
        if id(node) in above:
            raise YamlError("an alias refers to the value that contains it (a recursive alias)",
                            node.start_mark.line + 1, node.start_mark.column + 1,
                            "an alias (*name) cannot stand inside the value its anchor (&name) marks")
        if isinstance(node, yaml.MappingNode):
            inside = above | {id(node)}
            children = []
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)[:40]
                where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                if path + (key,) in marks:
                    duplicates.append((path + (key,), *where))  # YAML keeps the last silently
                marks[path + (key,)] = where
                if isinstance(value_node, yaml.ScalarNode):
                    scalars[path + (key,)] = (value_node.start_mark.index, value_node.end_mark.index,
                                              value_node.style)
                children.append((value_node, path + (key,), inside))
            stack.extend(reversed(children))
        elif isinstance(node, yaml.SequenceNode):
            inside = above | {id(node)}
            for index, item in enumerate(node.value):
                marks[path + (index,)] = (item.start_mark.line + 1, item.start_mark.column + 1)
            stack.extend((item, path + (index,), inside) for index, item in reversed(list(enumerate(node.value))))


def load(text: str, r_code: bool = False) -> Located:
    """Parse one YAML document; raise :class:`YamlError` with a position. ``r_code``: R Markdown's '!r' and
    '!expr' values are read as :class:`RCode` (in a bookdown book's YAML), not refused."""
    loader = None
    try:
        loader = (RLoader if r_code else Loader)(text)
        node = loader.get_single_node()
        if node is None:
            return Located(None, {})
        marks: dict = {}
        duplicates: list = []
        scalars: dict = {}
        _walk(node, marks, duplicates, scalars)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        kind = "YAML value error" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error"
        raise YamlError(f"{kind}: {problem}", line, column, _hint(problem, text, line)) from None
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        line = before.count("\n") + 1
        column = exc.position - (before.rfind("\n") + 1) + 1
        character = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise YamlError(f"the control character U+{ord(character):04X} cannot stand in YAML", line, column,
                        "delete it (it is invisible in most editors)") from None
    except RecursionError:
        line = _deepest_line(text)
        raise YamlError("values nested inside each other deeper than anyone writes (lists in lists, "
                        "mappings in mappings)", line, 1, "flatten the nesting") from None
    except yaml.YAMLError as exc:  # other YAML errors carry no mark
        raise YamlError(f"YAML error: {exc}", 1, 1) from None
    finally:
        if loader is not None:
            loader.dispose()
    return Located(data, marks, duplicates, scalars)


def _deepest_line(text: str) -> int:
    """The line where brackets or indentation first run deep (for a nesting error's position)."""
    depth = 0
    for number, line in enumerate(text.split("\n"), 1):
        depth += line.count("[") + line.count("{") - line.count("]") - line.count("}")
        if depth > 50 or len(line) - len(line.lstrip(" ")) > 100:
            return number
    return 1


def _hint(problem: str, text: str, line: int) -> str:
    lines = text.split("\n")
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    previous = lines[line - 2] if 1 < line <= len(lines) else ""
    if "mapping values are not allowed" in problem:
        return ("a value containing ': ' must be in quotes, e.g. title: \"Alliances: A Study\"")
    if "found character '\\t'" in problem or "\t" in source[: len(source) - len(source.lstrip())]:
        return "YAML is indented with spaces, not tabs"
    if "could not find expected ':'" in problem and ":" in previous:
        return "a value containing ': ' must be in quotes; or a line is missing its ':'"
    if "cannot be read" in problem or "could not determine a constructor" in problem:
        return "remove the !!tag, or put the value in quotes to keep it as text"
    if "found undefined alias" in problem or "found undefined tag" in problem:
        return "text starting with * or ! must be in quotes"
    if "found character '@'" in problem or "found character '`'" in problem:
        return "text starting with @ or ` must be in quotes"
    return "check indentation, colons and quotes around this line"
