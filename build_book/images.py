"""Image files that would be lost without a word: empty, unreadable, not what their name says,
damaged, too large to show, or SVG that is not SVG.

Raster images are read by Pillow: the header first (so a 20,000 x 20,000 picture is refused
without being decoded), then the whole picture; SVG is parsed as XML with entity expansion
refused. Each problem is reported at the image's reference in the chapter.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from . import sandbox
from .diagnostics import Diagnostic, Location, error
from .model import Book, is_external
from .sanitize import SvgError, parse_svg

MAX_PIXELS = 40_000_000        # 40 megapixels: more than any reader or print figure needs
MAX_SVG_SIDE = 100_000         # CSS pixels; an SVG larger than this is a mistake in its width or height

MAGIC = [  # first bytes -> format
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"BM", "BMP"), (b"%PDF", "PDF"),
]
# the formats the editions show (others get the checks' image-format warning and are not read here)
FORMAT_OF_SUFFIX = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".gif": "GIF", ".webp": "WEBP"}
SUFFIX_OF_FORMAT = {"PNG": ".png", "JPEG": ".jpg", "GIF": ".gif", "WEBP": ".webp", "TIFF": ".tiff", "BMP": ".bmp",
                    "PDF": ".pdf", "SVG": ".svg"}
UNITS = {"": 1.0, "px": 1.0, "pt": 4 / 3, "pc": 16.0, "in": 96.0, "cm": 96 / 2.54, "mm": 96 / 25.4, "q": 96 / 101.6}


def sniff(data: bytes) -> str | None:
    """The format the first bytes say, or None."""
    for magic, name in MAGIC:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<?xml", b"<svg", b"<!--", b"<!doctype svg")) and b"<svg" in data[:4096].lower():
        return "SVG"
    return None


def _is_text(data: bytes) -> bool:
    sample = data[:1024]
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:   # a character cut at the sample's end is fine
            return False
    return not any(b < 9 or 13 < b < 32 for b in sample)


def problem(path: Path, target: str, where: Location) -> Diagnostic | None:
    """What is wrong with an image file, reported at ``where``, or None."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return error("image-unreadable", f"image '{target}' cannot be read ({exc.strerror or exc})", where,
                     "check the file's permissions, or copy it again")
    return _data_problem(data, path.suffix.lower(), target, where)


DATA_URL = re.compile(r"data:(image/[\w.+-]+)?(;[^,]*)?,", re.I)
SUFFIX_OF_TYPE = {"image/png": ".png", "image/jpeg": ".jpg", "image/jpg": ".jpg", "image/gif": ".gif",
                  "image/webp": ".webp", "image/svg+xml": ".svg"}


def data_problem(target: str, where: Location) -> Diagnostic | None:
    """What is wrong with an image written into the chapter as a data: address (its bytes are checked as a
    file's are: a 400-megapixel image, a damaged one), or None."""
    import base64
    from binascii import Error as Base64Error
    from urllib.parse import unquote_to_bytes

    head = DATA_URL.match(target)
    if head is None:
        return None         # (not an image: the sanitizer removes it, with a warning)
    shown = target[:40] + "…"
    suffix = SUFFIX_OF_TYPE.get((head.group(1) or "").lower())
    if suffix is None:
        return None
    payload = target[head.end():]
    try:
        if "base64" in (head.group(2) or "").lower():
            data = base64.b64decode("".join(payload.split()), validate=True)
        else:
            data = unquote_to_bytes(payload)
    except (Base64Error, ValueError):
        return error("image-corrupt", f"image '{shown}' is a data: address that does not decode", where,
                     "write the figure to a file beside the chapter and refer to it by name")
    return _data_problem(data, suffix, shown, where)


def _data_problem(data: bytes, suffix: str, target: str, where: Location) -> Diagnostic | None:
    if not data:
        return error("image-empty", f"image '{target}' is an empty file (0 bytes)", where,
                     "the file was not saved or copied completely; export the figure again")
    if suffix == ".svg":
        return _svg_problem(data, target, where)
    expected = FORMAT_OF_SUFFIX.get(suffix)
    if expected is None:
        return None   # the checks warn about formats editions do not show (image-format)
    found = sniff(data)
    if found != expected:
        if found is not None:
            what = f"a {found} image"
            hint = f"rename it to end in {SUFFIX_OF_FORMAT[found]}, or convert it to {expected}"
        elif _is_text(data):
            what = "text"
            hint = f"it is not a picture: export the figure as {expected} again"
        else:
            what = "not a picture build_book knows"
            hint = f"export the figure as {expected} again"
        return error("image-mismatch", f"image '{target}' is named {suffix} but is {what}", where, hint)
    return _raster_problem(data, target, expected, where)


def _raster_problem(data: bytes, target: str, expected: str, where: Location):
    import io

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            bomb_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                image = Image.open(io.BytesIO(data))      # reads the header only: our own limit comes first
            finally:
                Image.MAX_IMAGE_PIXELS = bomb_limit
            with image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    return _too_large(target, where, f"{width:,} x {height:,} pixels")
                image.load()                  # now decode it all: a damaged file fails here
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return _too_large(target, where, "more pixels than Pillow will decode")
    except Exception as exc:  # Pillow raises many kinds for damaged files  # noqa: BLE001
        detail = " ".join(str(exc).split())[:120] or type(exc).__name__
        return error("image-corrupt", f"image '{target}' is damaged and cannot be shown ({detail})", where,
                     f"open it in an image editor and save it again as {expected}")
    return None


def _too_large(target: str, where: Location, size: str):
    return error("image-too-large", f"image '{target}' has {size}, more than the limit of "
                 f"{MAX_PIXELS // 1_000_000} megapixels", where, "scale it down: 3,000 pixels on the long side is plenty "
            "for print at full page width")


def _length(value: str | None) -> float | None:
    """An SVG width or height in CSS pixels (None: not given, or a percentage)."""
    if value is None:
        return None
    m = re.fullmatch(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([a-zA-Z]*|%)\s*", value)
    if not m:
        raise ValueError(value)
    unit = m.group(2).lower()
    if unit == "%":
        return None
    if unit not in UNITS:
        raise ValueError(value)
    return float(m.group(1)) * UNITS[unit]


def _svg_problem(data: bytes, target: str, where: Location):
    try:
        root = parse_svg(data)
    except SvgError as exc:
        return error("image-corrupt", f"SVG image '{target}' cannot be used: {exc}", where,
                     "export the figure as SVG again from the program that drew it")
    for side in ("width", "height"):
        try:
            size = _length(root.get(side))
        except (ValueError, OverflowError):
            return error("image-too-large", f"SVG image '{target}' has an unreadable {side} '{root.get(side)}'",
                         where, "give a number with a unit such as px, mm or in, or leave it out and keep the viewBox")
        if size is not None and not (0 < size <= MAX_SVG_SIDE):
            return error("image-too-large", f"SVG image '{target}' has an absurd {side} '{root.get(side)}' "
                    f"(the limit is {MAX_SVG_SIDE:,} pixels)", where,
                         "correct the width and height on its <svg> element, or leave them out and keep the viewBox")
    return None


def check(book: Book, place_of) -> list[Diagnostic]:
    """Each image file's problems, at the image (``place_of(book, chapter)(target)``: checks.image_place)."""
    diags = []
    root = book.config.root
    for chapter in book.chapters:
        folder = (root / chapter.path).parent
        place = place_of(book, chapter)
        for target in dict.fromkeys(chapter.targets.images):
            if target.lower().startswith("data:"):
                found = data_problem(target, place(target))
                if found:
                    diags.append(found)
                continue
            if not target or is_external(target):
                continue
            path = sandbox.inside_url(root, target, folder)
            if path is None or not sandbox.is_file(path):
                continue   # path-outside-book (never read), or image-missing
            found = problem(path, target, place(target))
            if found:
                diags.append(found)
    return diags
