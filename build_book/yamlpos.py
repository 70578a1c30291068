"""YAML that remembers where each key and item stood.

``load(text)`` returns the plain data and a map from a path of keys and list
indexes, such as ``("contributors", "kubo", "name")`` or ``("chapters", 2)``,
to the 1-based ``(line, column)`` of that key or item in the text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml


class YamlError(Exception):
    def __init__(self, message: str, line: int, column: int):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass
class Located:
    data: object
    marks: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    duplicates: list[tuple[tuple, int, int]] = field(default_factory=list)  # (key path, line, column)

    def where(self, *path, default: tuple[int, int] = (1, 1)) -> tuple[int, int]:
        """The position of ``path``, or of its nearest recorded ancestor."""
        path = tuple(path)
        while path:
            if path in self.marks:
                return self.marks[path]
            path = path[:-1]
        return default


def _walk(node: yaml.Node, path: tuple, marks: dict, duplicates: list) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if path + (key,) in marks:
                duplicates.append((path + (key,), *where))  # YAML keeps the last silently
            marks[path + (key,)] = where
            _walk(value_node, path + (key,), marks, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            marks[path + (index,)] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _walk(item, path + (index,), marks, duplicates)


def load(text: str) -> Located:
    """Parse one YAML document; raise :class:`YamlError` with a position."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Located(None, {})
        marks: dict = {}
        duplicates: list = []
        _walk(node, (), marks, duplicates)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlError(f"YAML syntax error: {problem}", line, column) from None
    except yaml.YAMLError as exc:  # pragma: no cover - other YAML errors carry no mark
        raise YamlError(f"YAML error: {exc}", 1, 1) from None
    finally:
        loader.dispose()
    return Located(data, marks, duplicates)
