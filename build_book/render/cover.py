"""The EPUB's cover image, made from the title page when book.yml names none (``cover:``).

A PNG of the print edition's proportions (156 x 234 mm, 2:3), drawn with Pillow (installed with
WeasyPrint) in the print edition's own typeface (Linux Libertine, found by fontconfig; a Japanese
title falls back to the Japanese serif): the title, the subtitle, the authors of an authored book or
"Edited by" and the editors, and the publisher, on a dark field within a fine rule, as a series cover would set them. The same text
is the cover page's alternative text. The image is cached in ``build/.cache/cover/`` by what it is
drawn from, and is the same bytes for the same book (PNG carries no date).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .. import cache as cachefile
from .. import ui

FORMAT = "build_book-cover 1"
WIDTH, HEIGHT = 1400, 2100          # 2:3, the print edition's trim
FIELD = (24, 42, 66)                # a deep blue-grey
INK = (244, 239, 226)               # warm paper white
ACCENT = (201, 162, 92)             # a muted gold for the rules and the editors' line
MARGIN = 110


@dataclass(frozen=True)
class CoverText:
    title: str
    subtitle: str
    editors: str        # "KUBO Fumiaki" or "A, B and C"
    publisher: str
    year: str
    authors: str = ""   # an authored book's authors (then no editors are shown)
    lang: str = "en"    # the book's: the words around the names (ui.py)

    def alt(self) -> str:
        """The cover's text, for its alternative text."""
        say = ui.words(self.lang)
        parts = [self.title + (f": {self.subtitle}" if self.subtitle else "")]
        if self.authors:
            parts.append(say("by {names}", names=self.authors))
        elif self.editors:
            parts.append(say("Edited by {names}", names=self.editors))
        if self.publisher:
            parts.append(self.publisher)
        return ". ".join(parts)


def _font_file(pattern: str) -> str | None:
    if shutil.which("fc-match") is None:
        return None
    try:
        out = subprocess.run(["fc-match", "-f", "%{file}", pattern], capture_output=True, text=True,
                             timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out or None


def _fonts(text: str) -> dict[str, str | None]:
    from ..transform import JAPANESE

    if JAPANESE.search(text):
        ja = _font_file("serif:lang=ja")
        return {"regular": ja, "italic": ja, "semibold": ja, "caps": ja}
    return {"regular": _font_file("Linux Libertine O:style=Regular") or _font_file("serif"),
            "italic": _font_file("Linux Libertine O:style=Italic") or _font_file("serif:italic"),
            "semibold": _font_file("Linux Libertine O:style=Semibold") or _font_file("serif:bold"),
            "caps": _font_file("Linux Biolinum O:style=Regular") or _font_file("sans")}


def cover_png(text: CoverText, cache_folder: Path | None = None) -> bytes:
    """The cover as PNG bytes (from the cache when the same cover was drawn before)."""
    fonts = _fonts(" ".join([text.title, text.subtitle, text.authors, text.editors, text.publisher]))
    stamps = []
    for path in fonts.values():
        try:
            st = Path(path).stat() if path else None
            stamps.append([path, st.st_size if st else None])
        except OSError:
            stamps.append([path, None])
    key = cachefile.digest(cachefile.version_key(), FORMAT, [text.title, text.subtitle, text.editors, text.publisher,
                                                              text.year, text.authors, text.lang], stamps)
    if cache_folder is not None:
        found = cachefile.get(cache_folder, key, FORMAT, ".png")
        if found is not None:
            cachefile.prune(cache_folder, {key}, ".png")
            return found
    data = _draw(text, fonts)
    if cache_folder is not None:
        cachefile.put(cache_folder, key, data, FORMAT, ".png")
        cachefile.prune(cache_folder, {key}, ".png")
    return data


def _load(path: str | None, size: int):
    from PIL import ImageFont

    if path:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            pass
    return ImageFont.load_default(size)


def _units(text: str, names: bool = False) -> tuple[list[str], str]:
    """What a line may break between, and what joins them: words (whole names in a list of names:
    "A B, C D and E F"), or the characters of Japanese text."""
    from ..transform import JAPANESE

    if JAPANESE.search(text):
        return [c for c in text if not c.isspace()], ""
    if names:
        return [n for n in re.split(r"(?<=,)\s+|\s+(?=and\s)", text.strip()) if n], " "
    return text.split(), " "


def _wrap(draw, text: str, font, width: int, names: bool = False) -> list[str]:
    """``text`` broken into lines no wider than ``width`` (a word longer than that stands alone)."""
    units, sep = _units(text, names)
    lines: list[str] = []
    for unit in units:
        if lines and draw.textlength(lines[-1] + sep + unit, font=font) <= width:
            lines[-1] += sep + unit
        else:
            lines.append(unit)
    return lines


def _fit(draw, text: str, path: str | None, sizes: range, width: int, max_lines: int, names: bool = False):
    """The largest font size from ``sizes`` at which ``text`` takes at most ``max_lines`` lines."""
    for size in sizes:
        font = _load(path, size)
        lines = _wrap(draw, text, font, width, names)
        if len(lines) <= max_lines:
            return font, lines
    font = _load(path, sizes[-1])
    return font, _wrap(draw, text, font, width, names)


def _balance(draw, lines: list[str], font, width: int) -> list[str]:
    """Re-break ``lines`` so that they are of even length (no lone last word), as a designer would."""
    if len(lines) < 2:
        return lines
    text = _units(" ".join(lines))[1].join(lines)
    best = lines
    widest = max(draw.textlength(line, font=font) for line in lines)
    narrow = widest
    while narrow > width * 0.4:
        narrow -= 20
        trial = _wrap(draw, text, font, int(narrow))
        if len(trial) != len(lines):
            break
        best = trial
    return best


def _draw(text: CoverText, fonts: dict[str, str | None]) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (WIDTH, HEIGHT), FIELD)
    draw = ImageDraw.Draw(image)
    inner = WIDTH - 2 * MARGIN - 80
    # a fine double rule inside the edge, as on a series cover
    for inset, thickness in ((54, 3), (66, 1)):
        draw.rectangle([inset, inset, WIDTH - inset, HEIGHT - inset], outline=ACCENT, width=thickness)

    def centred(lines, font, top, fill, leading, tracking=0):
        for line in lines:
            if tracking:    # letter-spaced small capitals: set letter by letter
                width = sum(draw.textlength(c, font=font) for c in line) + tracking * (len(line) - 1)
                x = (WIDTH - width) / 2
                for c in line:
                    draw.text((x, top), c, font=font, fill=fill)
                    x += draw.textlength(c, font=font) + tracking
            else:
                box = draw.textbbox((0, 0), line, font=font)
                draw.text(((WIDTH - (box[2] - box[0])) / 2 - box[0], top), line, font=font, fill=fill)
            top += leading
        return top

    # the title, as large as four lines allow
    title_font, title_lines = _fit(draw, text.title, fonts["semibold"], range(132, 56, -4), inner, 4)
    title_lines = _balance(draw, title_lines, title_font, inner)
    size = title_font.size
    y = 420 - (len(title_lines) - 3) * size * 0.4
    y = centred(title_lines, title_font, y, INK, int(size * 1.16))
    y += 60
    draw.line([(WIDTH / 2 - 150, y), (WIDTH / 2 + 150, y)], fill=ACCENT, width=3)
    y += 70
    if text.subtitle:
        sub_font, sub_lines = _fit(draw, text.subtitle, fonts["italic"], range(64, 34, -2), inner, 4)
        sub_lines = _balance(draw, sub_lines, sub_font, inner)
        y = centred(sub_lines, sub_font, y, INK, int(sub_font.size * 1.3))
    # the authors, or "Edited by" and the editors, in the lower third
    if text.authors or text.editors:
        label = _load(fonts["caps"], 38)
        names_font, names_lines = _fit(draw, text.authors or text.editors, fonts["regular"], range(62, 34, -2),
                                       inner, 4, names=True)
        y = max(y + 120, HEIGHT * 0.60)
        if not text.authors:
            y = centred([ui.words(text.lang)("Edited by").upper()], label, y, ACCENT, 80, tracking=8)
        centred(names_lines, names_font, y, INK, int(names_font.size * 1.25))
    # the publisher at the foot
    if text.publisher:
        pub_font, pub_lines = _fit(draw, text.publisher.upper(), fonts["caps"], range(40, 24, -2),
                                   inner - 200, 2)
        top = HEIGHT - 200 - (len(pub_lines) - 1) * int(pub_font.size * 1.6)
        draw.line([(WIDTH / 2 - 60, top - 60), (WIDTH / 2 + 60, top - 60)], fill=ACCENT, width=2)
        centred(pub_lines, pub_font, top, INK, int(pub_font.size * 1.6), tracking=4)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()
