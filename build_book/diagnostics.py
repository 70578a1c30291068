"""Problems found in an author's files, as data.

Every problem the pipeline can find in a manuscript is a :class:`Diagnostic`
with a severity, a short code, a message, a :class:`Location` and an optional
hint. Checks return lists of them; only the command line prints them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Iterable, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Location:
    """A place in one of the book's files; ``path`` is relative to the book."""

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line and self.column:
            return f"{self.path}:{self.line}:{self.column}"
        if self.line:
            return f"{self.path}:{self.line}"
        return self.path


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    code: str
    message: str
    location: Location
    hint: str = ""

    def format(self) -> str:
        """One line (and an indented hint) for a terminal: characters that would break the line or
        act on the terminal (controls, escapes, bidirectional overrides) are shown by their code point."""
        loc = self.location
        text = (f"{shown(loc.path)}:{loc.line or 1}:{loc.column or 1}: {self.severity}[{self.code}]: "
                f"{shown(self.message)}")
        if self.hint:
            text += "\n    hint: " + "\n".join(shown(line) for line in self.hint.split("\n"))
        return text

    def as_json(self) -> dict:
        return {
            "path": self.location.path,
            "line": self.location.line or 1,
            "column": self.location.column or 1,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


def to_list(d: Diagnostic) -> list:
    """A diagnostic as JSON-able data, for the caches (see :func:`from_list`)."""
    return [d.severity, d.code, d.message, [d.location.path, d.location.line, d.location.column], d.hint]


def from_list(data: list) -> Diagnostic:
    """What :func:`to_list` made, as a diagnostic again (raises ValueError or TypeError if it is not that)."""
    severity, code, message, (path, line, column), hint = data
    if not all(isinstance(x, str) for x in (severity, code, message, path, hint)) or \
            not isinstance(line, int) or not isinstance(column, int):
        raise TypeError("not a diagnostic")
    return Diagnostic(severity, code, message, Location(path, line, column), hint)


def shown(text: str) -> str:
    """``text`` with invisible and line-breaking characters written as <U+001B>."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else f"<U+{ord(ch):04X}>" for ch in text)


def error(code: str, message: str, location: Location, hint: str = "") -> Diagnostic:
    return Diagnostic("error", code, message, location, hint)


def warning(code: str, message: str, location: Location, hint: str = "") -> Diagnostic:
    return Diagnostic("warning", code, message, location, hint)


def line_column(text: str, at: int) -> tuple[int, int]:
    """The 1-based line and column of the offset ``at`` in ``text``."""
    return text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1


class BuildError(Exception):
    """Raised when the build cannot go on; carries the diagnostics that say why."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(d.format() for d in self.diagnostics))


def has_errors(diagnostics: Iterable[Diagnostic], strict: bool = False) -> bool:
    return any(d.severity == "error" or strict for d in diagnostics)


def sort_key(d: Diagnostic):
    return (d.location.path, d.location.line, d.location.column, d.code, d.message)


def to_json(diagnostics: Iterable[Diagnostic]) -> str:
    return json.dumps([d.as_json() for d in diagnostics], ensure_ascii=False, indent=2)


__all__ = [
    "Location", "Diagnostic", "BuildError", "error", "warning", "has_errors", "sort_key", "to_json", "asdict",
]
