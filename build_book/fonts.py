"""Japanese glyphs in the EPUB and HTML editions: a subset of the system's Japanese font.

The PDF embeds the fonts it uses by itself (WeasyPrint). An EPUB reading system
or a browser may have no Japanese font at all, so those editions carry the
glyphs they need: the characters of Japanese script that occur in the book,
cut out of the Japanese font fontconfig finds (Noto Serif CJK JP after the
set-up), with fontTools, which WeasyPrint already depends on. Subsets are
cached under ``build/.cache/fonts`` by their characters, each with a small
record (format, key, size and checksum of the font file) beside it; a subset
whose record does not match (a truncated or damaged file, a file copied from
another key) is cut again, never shipped.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from .transform import JAPANESE

FAMILY = "build_book Japanese"
RECORD_FORMAT = "build_book-font 2"


@dataclass(frozen=True)
class Subset:
    path: Path          # the font file to ship
    family: str         # the CSS font-family it is declared under
    source: str         # the system font it was cut from


def japanese_characters(texts) -> str:
    chars: set[str] = set()
    for text in texts:
        for run in JAPANESE.findall(text):
            chars.update(run)
    chars.discard("\u3000")
    return "".join(sorted(chars))


def find_japanese_font() -> tuple[Path, int] | None:
    """The file and face index of the serif Japanese font fontconfig prefers, if any."""
    if shutil.which("fc-match") is None:
        return None
    try:
        out = subprocess.run(["fc-match", "-f", "%{file}\n%{index}\n%{lang}\n", "serif:lang=ja"],
                             capture_output=True, text=True, timeout=30).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return None
    if len(out) < 3 or "ja" not in out[2].split("|"):
        return None
    return Path(out[0]), int(out[1] or 0)


def subset(characters: str, book_root: Path, flavor: str | None) -> Subset | None:
    """A font with just ``characters``; ``flavor`` None for OpenType, 'woff' for the web."""
    cache = book_root / "build" / ".cache" / "fonts"
    if not characters:
        return None
    found = find_japanese_font()
    if found is None:
        return None
    source, index = found
    suffix = {"woff": ".woff", None: ".otf"}[flavor]
    key = hashlib.sha256(f"{source}:{index}:{flavor}:{characters}".encode()).hexdigest()[:24]
    target = cache / f"ja-{key}{suffix}"
    if not _sound(target, key):
        from fontTools import subset as ftsubset
        from fontTools.ttLib import TTFont

        font = TTFont(str(source), fontNumber=index, lazy=False)
        cmap = font.getBestCmap() or {}
        if any(ord(ch) not in cmap for ch in characters if not re.match(r"\s", ch)):
            return None  # not a font that covers the text; leave it to the reader's fonts
        options = ftsubset.Options()
        options.flavor = flavor
        options.name_IDs = ["*"]
        options.name_languages = ["*"]
        subsetter = ftsubset.Subsetter(options)
        subsetter.populate(text=characters)
        subsetter.subset(font)
        cache.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        font.flavor = flavor
        font.save(str(tmp))
        data = tmp.read_bytes()
        tmp.replace(target)
        _write_record(target, key, data)
    return Subset(target, FAMILY, source.name)


def _record(target: Path) -> Path:
    return target.with_name(target.name + ".sum")


def _expected(key: str, data: bytes) -> str:
    return f"{RECORD_FORMAT} {key} {len(data)} {hashlib.sha256(data).hexdigest()}\n"


def _sound(target: Path, key: str) -> bool:
    """Whether the cached subset is the one its record describes (and the record is for ``key``)."""
    try:
        return _record(target).read_text(encoding="ascii") == _expected(key, target.read_bytes())
    except (OSError, ValueError):
        return False


def _write_record(target: Path, key: str, data: bytes) -> None:
    record = _record(target)
    tmp = record.with_name(f"{record.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(_expected(key, data), encoding="ascii")
    tmp.replace(record)


def font_face_css(font: Subset, url: str) -> str:
    fmt = "woff" if font.path.suffix == ".woff" else "opentype"
    return (f'@font-face {{ font-family: "{font.family}"; src: url("{url}") format("{fmt}"); '
            f"font-weight: normal; font-style: normal; }}\n"
            f':lang(ja) {{ font-family: "{font.family}", "Noto Serif CJK JP", "Hiragino Mincho ProN", '
            f'"Yu Mincho", serif; }}\n')
