"""Small validators for YAML values: one per kind of value, all problems reported at once.

``book.yml`` and a chapter's front matter declare their keys as a table of
:class:`Option` (key, description, validator). A validator takes the value
YAML gave and a :class:`Where` (the file, the key path, the list of problems)
and returns the value as build_book uses it, or the option's default after
reporting what is wrong, with the expected type in the message.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from . import yamlpos
from .diagnostics import Diagnostic, Location, error, warning

# characters no XML edition can carry: C0 controls but tab and line ends, DEL, C1 controls, non-characters
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff"
                       "\U0001fffe\U0001ffff\U0002fffe\U0002ffff\U0003fffe\U0003ffff\U0004fffe\U0004ffff"
                       "\U0005fffe\U0005ffff\U0006fffe\U0006ffff\U0007fffe\U0007ffff\U0008fffe\U0008ffff"
                       "\U0009fffe\U0009ffff\U000afffe\U000affff\U000bfffe\U000bffff\U000cfffe\U000cffff"
                       "\U000dfffe\U000dffff\U000efffe\U000effff\U000ffffe\U000fffff\U0010fffe\U0010ffff]")
MAX_PATH = 1024     # characters in a path an author names
MAX_NAME = 255      # bytes in one file or folder name (the usual file system limit)


def codepoint(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def type_name(value) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a yes/no value)"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, dict):
        return "a mapping (key: value lines)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (bytes, bytearray)):
        return "binary data"
    if isinstance(value, (_dt.date, _dt.datetime)):
        return "a date"
    if isinstance(value, str):
        return f"the text '{value[:40]}'"
    if isinstance(value, yamlpos.RCode):
        return f"R code ({value.code[:40]}), which build_book does not run"
    return type(value).__name__


@dataclass
class Where:
    """A place in a YAML file (a path of keys and list indexes) and the file's list of problems."""

    doc: yamlpos.Located
    file: str
    diags: list[Diagnostic]
    path: tuple = ()
    line_offset: int = 0      # front matter starts on line 2 of a chapter
    code: str = "config"      # code family: config-type, config-value / front-matter

    def __getitem__(self, key) -> "Where":
        return Where(self.doc, self.file, self.diags, self.path + (key,), self.line_offset, self.code)

    @property
    def location(self) -> Location:
        line, column = self.doc.where(*self.path)
        return Location(self.doc.file_of(*self.path) or self.file, line + self.line_offset, column)

    @property
    def name(self) -> str:
        shown = [str(p) if not isinstance(p, int) else f"[{p + 1}]" for p in self.path]
        return "'" + " → ".join(shown) + "'" if shown else self.file

    def error(self, code: str, message: str, hint: str = "") -> None:
        self.diags.append(error(code, message, self.location, hint))

    def warning(self, code: str, message: str, hint: str = "") -> None:
        self.diags.append(warning(code, message, self.location, hint))

    def wrong_type(self, value, expected: str, hint: str = "") -> None:
        code = "front-matter" if self.code == "front-matter" else "config-type"
        self.error(code, f"{self.name} must be {expected}, not {type_name(value)}", hint)

    def bad_value(self, message: str, hint: str = "") -> None:
        code = "front-matter" if self.code == "front-matter" else "config-value"
        self.error(code, message, hint)


Validator = Callable[[Any, Where], Any]


@dataclass(frozen=True)
class Option:
    key: str
    doc: str
    check: Validator
    default: Any = None
    required: bool = False


def text(*, allow_empty: bool = True, example: str = "") -> Validator:
    """Text; numbers and dates are taken as written (title: 1984)."""

    def check(value, where: Where):
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            hint = f"write it as text, e.g. {where.path[-1]}: {example}" if example and where.path else \
                "write it as text; put it in quotes if it contains ': ' or starts with a special character"
            if isinstance(value, bool):
                hint = f"YAML reads {str(value).lower()} as yes/no: put the text in quotes"
            where.wrong_type(value, "text", hint)
            return None
        result = str(value).strip()
        bad = FORBIDDEN.search(result)
        if bad:
            where.bad_value(f"{where.name} contains the control character {codepoint(bad.group())}, "
                            "which no edition can print", "delete it (it is invisible in most editors)")
            result = FORBIDDEN.sub("", result)
        if not result and not allow_empty:
            where.bad_value(f"{where.name} is empty", f"write e.g. {where.path[-1]}: {example}" if example else "")
            return None
        return result

    return check


def one_of(*choices: str) -> Validator:
    def check(value, where: Where):
        if value is None:
            return None
        if not isinstance(value, str) or value not in choices:
            where.bad_value(f"{where.name} must be one of {', '.join(choices)}, not {type_name(value)}",
                            f"write e.g. {where.path[-1]}: {choices[0]}")
            return None
        return value

    return check


def boolean(value, where: Where):
    if value is None:
        return None
    if not isinstance(value, bool):
        where.wrong_type(value, "true or false")
        return None
    return value


def whole_number(low: int, high: int) -> Validator:
    def check(value, where: Where):
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            where.bad_value(f"{where.name} must be a whole number from {low} to {high}, not {type_name(value)}")
            return None
        return value

    return check


DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def date(value, where: Where):
    """A year, year-month or calendar date, kept as the text the author wrote."""
    if value is None:
        return None
    if isinstance(value, (_dt.date, _dt.datetime)):
        value = value.isoformat()[:10]
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        where.wrong_type(value, "a date such as 2012-03-31")
        return None
    found = DATE.fullmatch(value.strip())
    if not found:
        where.bad_value(f"{where.name} must look like 2012-03-31 (or 2012-03, or 2012), not '{value}'")
        return None
    year, month, day = (int(g) if g else None for g in found.groups())
    try:
        _dt.date(year, month or 1, day or 1)
    except ValueError as exc:
        where.bad_value(f"{where.name}: '{value}' is not a date on the calendar ({exc})")
        return None
    return value.strip()


def text_list(item: Validator, what: str, example: str, keep: bool = False) -> Validator:
    """A list of values, or one value standing alone; ``keep``: a value found wrong (and reported) stays in
    the list as None, so that the list's positions are those of the YAML (where its items were written)."""

    def check(value, where: Where):
        if value is None:
            return []
        if not isinstance(value, list):
            value_where, items = where, [value]
            if isinstance(value, dict):
                where.wrong_type(value, f"a list of {what}", f"write e.g. {where.path[-1]}: {example}")
                return []
            result = item(value, value_where)
            return [] if result is None else [result]
        out = []
        for index, element in enumerate(value):
            result = item(element, where[index])
            if result is not None or keep:
                out.append(result)
        return out

    return check


def identifier(value, where: Where):
    """An id (contributor, label): text without spaces."""
    result = text()(value, where)
    if result is None:
        return None
    if not result or re.search(r"\s", result):
        where.bad_value(f"{where.name} must be an id without spaces, not '{result}'",
                        "ids are short names such as kubo or sec-japan-us")
        return None
    return result


def path(value, where: Where):
    """A path to a file of the book, relative to its folder; '/' separates folders."""
    if value is None:
        return None
    if not isinstance(value, str):
        where.wrong_type(value, "a file path relative to the book's folder", "e.g. chapters/01-introduction.md")
        return None
    raw = value.strip()
    if not raw:
        where.bad_value(f"{where.name} is an empty path")
        return None
    bad = FORBIDDEN.search(raw)
    if bad:
        where.bad_value(f"{where.name}: the path contains the control character {codepoint(bad.group())}")
        return None
    if len(raw) > MAX_PATH or any(len(part.encode("utf-8")) > MAX_NAME for part in raw.split("/")):
        where.bad_value(f"{where.name}: the path is longer than file systems allow ({MAX_NAME} bytes a name, "
                        f"{MAX_PATH} characters in all)", "give the file a shorter name")
        return None
    return posixpath.normpath(raw.replace("\\", "/"))


def mapping_of(value_check: Validator, what: str, example: str) -> Validator:
    def check(value, where: Where):
        if value is None:
            return {}
        if not isinstance(value, dict):
            where.wrong_type(value, f"a mapping of {what}", f"write e.g.\n        {where.path[-1]}:\n          {example}")
            return {}
        out = {}
        for key, item in value.items():
            result = value_check(item, where[key])
            if result is not None:
                out[str(key)] = result
        return out

    return check


def record(options: dict[str, Validator], what: str, required: tuple[str, ...] = (),
           shorthand: str | None = None) -> Validator:
    """A mapping with known keys (a contributor, a part); ``shorthand`` names the key a lone text fills."""

    def check(value, where: Where):
        if value is None:
            value = {}
        if shorthand and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            value = {shorthand: value}
        if not isinstance(value, dict):
            where.wrong_type(value, f"a mapping ({', '.join(options)})")
            return None
        out: dict[str, Any] = {}
        for key in value:
            if key not in options:
                close = nearest(str(key), options)
                where[key].error(f"{where.code}-unknown-key" if where.code == "config" else "front-matter-key",
                                 f"unknown key '{key}' in {what}",
                                 f"did you mean '{close}'?" if close else f"{what} has: {', '.join(options)}")
        for key, validate in options.items():
            out[key] = validate(value.get(key), where[key] if key in value else where)
        missing = [key for key in required if not out.get(key)]
        for key in missing:
            if key in value:
                continue  # the validator said what is wrong with it
            where.bad_value(f"{what} needs '{key}'", f"add a line '{key}: ...'")
        return None if missing else out

    return check


def nearest(word: str, candidates, cutoff: float = 0.6) -> str:
    found = difflib.get_close_matches(word, [str(c) for c in candidates], n=1, cutoff=cutoff)
    return found[0] if found else ""


def validate(options: dict[str, Option], data: dict, where: Where, what: str) -> dict[str, Any]:
    """Every option's value (its default where absent or wrong), and every unknown or missing key reported."""
    for key in data:
        if key not in options:
            close = nearest(str(key), options)
            code = "front-matter-key" if where.code == "front-matter" else "config-unknown-key"
            where[key].error(code, f"unknown key '{key}' in {what}",
                             f"did you mean '{close}'?" if close else "known keys: " + ", ".join(options))
    values: dict[str, Any] = {}
    for key, option in options.items():
        if option.required and data.get(key) is None:
            if key in data:
                where[key].bad_value(f"'{key}' is empty in {what}", f"write e.g. {key}: ...")
            else:
                code = "config-missing-key" if where.code == "config" else "front-matter"
                where.error(code, f"required key '{key}' is missing from {what}", f"add a line '{key}: ...'")
        result = option.check(data.get(key), where[key])
        values[key] = option.default if result is None else result
    return values


__all__ = ["Option", "Where", "validate", "text", "one_of", "boolean", "whole_number", "date", "text_list",
           "identifier", "path", "mapping_of", "record", "nearest", "FORBIDDEN", "codepoint", "field"]
