"""Find where labels, citations, images and links stand in an author's file.

pandoc's Markdown reader keeps no source positions, so build_book reads the
text once more, lightly, to point diagnostics at the author's own line and
column. What is cited and defined comes from pandoc's document; this module
only says where.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
COMMENT = re.compile(r"<!--.*?-->", re.S)
LABEL = re.compile(r"\{[^{}\n]*?#([A-Za-z][\w:.\-]*)")
# pandoc citation keys: start with a letter, digit or _, may hold internal punctuation.
CITE = re.compile(r"(?<![\w@])(?:-(?=@))?@(?:\{([^}\s]+)\}|([\w](?:[\w]|[:.#$%&\-+?<>~/](?=\w))*))")
IMAGE = re.compile(r"!\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?")
LINK = re.compile(r"(?<!!)\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?")
AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^>\s]+)>")

Position = tuple[int, int]


@dataclass
class SourceMap:
    labels: dict[str, list[Position]] = field(default_factory=dict)
    cites: dict[str, list[Position]] = field(default_factory=dict)
    images: list[tuple[str, Position]] = field(default_factory=list)
    links: list[tuple[str, Position]] = field(default_factory=list)

    def label_at(self, label: str) -> Position | None:
        found = self.labels.get(label)
        return found[0] if found else None

    def cite_at(self, key: str) -> list[Position]:
        return self.cites.get(key, [])


def _blank(match: re.Match) -> str:
    # keep line breaks and columns, drop the content
    return "".join("\n" if ch == "\n" else " " for ch in match.group(0))


def scan(text: str, first_line: int = 1) -> SourceMap:
    """Scan Markdown ``text`` whose first line is line ``first_line`` of the file."""
    text = COMMENT.sub(_blank, text)
    found = SourceMap()
    fence: str | None = None
    for offset, line in enumerate(text.split("\n")):
        lineno = first_line + offset
        opener = FENCE.match(line)
        if fence:
            if opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence):
                fence = None
            continue
        if opener:
            fence = opener.group(1)
            continue
        line = INLINE_CODE.sub(_blank, line)
        for m in LABEL.finditer(line):
            found.labels.setdefault(m.group(1), []).append((lineno, m.start(1)))  # column of '#'
        for m in CITE.finditer(line):
            key = m.group(1) or m.group(2)
            found.cites.setdefault(key, []).append((lineno, m.start() + 1 + (line[m.start()] == "-")))
        for m in IMAGE.finditer(line):
            found.images.append((m.group(1), (lineno, m.start(1) + 1)))
        for m in LINK.finditer(line):
            found.links.append((m.group(1), (lineno, m.start(1) + 1)))
        for m in AUTOLINK.finditer(line):
            found.links.append((m.group(1), (lineno, m.start(1) + 1)))
    return found
