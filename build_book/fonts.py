"""Japanese glyphs in the EPUB and HTML editions: a subset of the system's Japanese font.

The PDF embeds the fonts it uses by itself (WeasyPrint). An EPUB reading system
or a browser may have no Japanese font at all, so those editions carry the
glyphs they need: the characters of Japanese script that occur in the book,
cut out of the Japanese font fontconfig finds (Noto Serif CJK JP after the
set-up), with HarfBuzz's subsetter (uharfbuzz; fontTools, which WeasyPrint
already depends on, writes the WOFF2 and cuts where HarfBuzz cannot). Subsets are
cached under ``build/.cache/fonts`` by their characters, each with a small
record (format, key, size and checksum of the font file) beside it; a subset
whose record does not match (a truncated or damaged file, a file copied from
another key) is cut again, never shipped.
"""

from __future__ import annotations

import functools
import hashlib
import multiprocessing
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .transform import JAPANESE

FAMILY = "build_book Japanese"
RECORD_FORMAT = "build_book-font 4"


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


# what fontconfig answered during the build in progress: asked once per build (and ahead of need, by
# prefetch), forgotten when the next begins (a live preview sees a font installed meanwhile)
_answers: dict[tuple, object] = {}


def forget() -> None:
    """Ask fontconfig again from now on (a new build begins)."""
    _answers.clear()


def prefetch() -> threading.Thread:
    """Ask fontconfig for every font the web and EPUB editions may cut, in a thread of its own (it waits on
    fc-match, not on this process), so that the answers are there when the pages are written."""

    def ask():
        try:
            find_japanese_font()
            for _, weight, style in LATIN_FACES:
                find_latin_font(weight, style)
        except Exception:   # noqa: BLE001 (asked again, and reported, where the answer is needed)
            pass

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    return thread


def _remembered(function):
    def ask(*args):
        key = (function.__name__, *args)
        if key not in _answers:
            _answers[key] = function(*args)
        return _answers[key]
    ask.__name__, ask.__doc__ = function.__name__, function.__doc__
    return ask


@_remembered
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
    """A font with just ``characters``; ``flavor`` None for OpenType, 'woff' or 'woff2' for the web."""
    if not characters:
        return None
    found = find_japanese_font()
    if found is None:
        return None
    return _cut(found, characters, book_root, flavor, "ja", FAMILY, complete=True)


def _cut(found: tuple[Path, int], characters: str, book_root: Path, flavor: str | None, prefix: str,
         family: str, *, complete: bool, features: tuple[str, ...] = ()) -> Subset | None:
    """``characters`` cut out of the font file ``found`` (cached); None if ``complete`` and the font
    lacks one of them (a character the font lacks is otherwise left to the reader's fonts)."""
    from . import cache as cachefile

    cache = book_root / "build" / ".cache" / "fonts"
    source, index = found
    target, key = _target(found, characters, book_root, flavor, prefix, features)
    if not cachefile.own_folder(cache):
        return None     # a symbolic link the book brought: nothing is written through it (no subset)
    if not _sound(target, key):
        data = _harfbuzz_cut(found, characters, flavor, complete, features)
        if data is _INCOMPLETE:
            return None  # not a font that covers the text; leave it to the reader's fonts
        if data is None:
            data = _fonttools_cut(found, characters, flavor, complete, features)
            if data is None:
                return None
        cache.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
        _write_record(target, key, data)
    return Subset(target, family, source.name)


_INCOMPLETE = b""   # what a cutter returns for a font that lacks some of the characters (see _cut's complete)


def _options(features: tuple[str, ...]):
    """fontTools' subsetting options of build_book: every name kept (the copyright and licence with them),
    the tables of :func:`_kept` dropped and its OpenType features kept. The HarfBuzz cut follows them."""
    from fontTools import subset as ftsubset

    options = ftsubset.Options()
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.drop_tables, options.layout_features = _kept(features)
    return options


def _kept(features: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The tables a cut drops (fontTools' defaults, and FontForge's timestamps, FFTM: of no use, not
    subsettable), and the OpenType features it keeps (fontTools' defaults and ``features``)."""
    dropped, kept = _fonttools_defaults()
    return list(dropped) + ["FFTM"], list(kept) + list(features)


DEFAULTS_FORMAT = 1


@functools.cache
def _fonttools_defaults() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """fontTools' default lists of the tables its subsetter drops and the features it keeps. Importing the
    subsetter takes 0.1-0.3 s of a build's CPU, and the HarfBuzz cut needs only these two lists: so they are
    kept in the user's cache (cache.user_folder), by fontTools' version, by the first process that imports it."""
    import json

    from fontTools import version

    from . import cache as cachefile

    folder = cachefile.user_folder()
    path = folder / f"fonttools-subset-{version}.json" if folder is not None else None
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path is not None else None
    except (OSError, ValueError):
        data = None
    if isinstance(data, dict) and data.get("format") == DEFAULTS_FORMAT:
        lists = data.get("drop_tables"), data.get("layout_features")
        if all(isinstance(x, list) and x and all(isinstance(t, str) and 0 < len(t) <= 4 for t in x) for x in lists):
            return tuple(lists[0]), tuple(lists[1])
    from fontTools import subset as ftsubset

    options = ftsubset.Options()
    found = tuple(options.drop_tables), tuple(options.layout_features)
    if path is not None:    # (in one step; a folder that cannot be written is no error)
        cachefile.write_file(path, json.dumps({"format": DEFAULTS_FORMAT, "drop_tables": found[0],
                                               "layout_features": found[1]}))
    return found


def _harfbuzz_cut(found: tuple[Path, int], characters: str, flavor: str | None, complete: bool,
                  features: tuple[str, ...]) -> bytes | None:
    """The subset's bytes (``flavor``: None for OpenType, else 'woff' or 'woff2'), cut by HarfBuzz: a
    hundred times faster than fontTools' Python (a face of the Latin font in some 3 ms instead of 0.4 s, the
    Japanese font's few hundred glyphs in some 20 ms instead of a second); the same glyphs, tables and
    features. _INCOMPLETE if ``complete`` and the font lacks a character; None if HarfBuzz cannot cut it."""
    try:
        import uharfbuzz as hb
    except ImportError:
        return None
    source, index = found
    try:
        face = hb.Face(hb.Blob.from_file_path(str(source)), index)
        covered = face.unicodes
        if complete and any(ord(ch) not in covered for ch in characters if not re.match(r"\s", ch)):
            return _INCOMPLETE
        drop_tables, layout_features = _kept(features)
        wanted = hb.SubsetInput()
        wanted.unicode_set.update(ord(ch) for ch in characters if ord(ch) in covered)
        tags = wanted.sets(hb.SubsetInputSets.LAYOUT_FEATURE_TAG)
        tags.clear()
        tags.update(_tag(f) for f in layout_features if len(f) == 4)
        wanted.sets(hb.SubsetInputSets.NAME_ID).add_range(0, 0x7FFF)
        wanted.sets(hb.SubsetInputSets.NAME_LANG_ID).add_range(0, 0xFFFF)
        dropped = wanted.sets(hb.SubsetInputSets.DROP_TABLE_TAG)   # fontTools' list, not HarfBuzz's own
        dropped.clear()
        dropped.update(_tag(t) for t in drop_tables if len(t) <= 4)
        cut = hb.subset(face, wanted)
        data = bytes(cut.blob.data) if cut is not None else b""
    except Exception:   # noqa: BLE001 - a font HarfBuzz cannot cut: fontTools cuts it
        return None
    if not data:
        return None
    if flavor is None:
        return data
    import io

    from fontTools.ttLib import TTFont

    font = TTFont(io.BytesIO(data), recalcBBoxes=False, recalcTimestamp=False)
    font.flavor = flavor
    out = io.BytesIO()
    _faster_woff2()
    font.save(out)
    return out.getvalue()


class _Brotli:
    """fontTools' brotli for WOFF2 (see _faster_woff2): the module itself, but for a font's tables compressed
    at quality 10 rather than brotli's default 11. A subset of the Latin face came out 4 bytes larger in
    27,400 at 10, in half the time (0.11 s instead of 0.2 s: most of cutting it, with HarfBuzz)."""

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        return getattr(self._module, name)

    def compress(self, data, *args, **options):
        if not args and options.get("mode") == self._module.MODE_FONT:
            options.setdefault("quality", 10)
        return self._module.compress(data, *args, **options)


def _faster_woff2() -> None:
    """Have fontTools compress WOFF2 fonts with :class:`_Brotli` (it offers no setting for the quality)."""
    from fontTools.ttLib import woff2

    module = getattr(woff2, "brotli", None)
    if module is not None and not isinstance(module, _Brotli) and hasattr(module, "MODE_FONT"):
        woff2.brotli = _Brotli(module)


def warm() -> None:
    """Import in this process what cutting the web fonts needs (HarfBuzz, fontTools' WOFF2 writer, and its
    subsetter where HarfBuzz cannot cut): the processes that cut them are forked from it, and would each
    import it again (some 0.15-0.2 s of CPU apiece, at the end of a build, when the fonts are the last work
    left). Also fontTools' default lists (_fonttools_defaults), which the cuts start from."""
    try:
        from fontTools.ttLib import TTFont, woff2  # noqa: F401
        try:
            import uharfbuzz  # noqa: F401
        except ImportError:
            from fontTools import subset  # noqa: F401
    except ImportError:   # (cutting says so, or falls back)
        return
    _fonttools_defaults()
    _faster_woff2()
    table_modules_in_threads()


def table_modules_in_threads() -> None:
    """Let threads load fontTools' table modules at once. fontTools imports a table's module when it first
    reads the table (``getTableModule``: ``__import__``, then the module as an attribute of its package),
    and CPython 3.11 puts a module in sys.modules before it binds it to its package: a second thread that
    asks at that moment finds the module but not the attribute ("module 'fontTools.ttLib.tables' has no
    attribute 'O_S_2f_2'", seen in a cold build's cuts). The module is then taken from sys.modules."""
    try:
        import importlib

        import fontTools.ttLib as ttLib
        from fontTools.ttLib import ttFont, woff2
    except ImportError:
        return
    original = ttFont.getTableModule
    if getattr(original, "_threads", False):
        return

    def getTableModule(tag):   # noqa: N802 - fontTools' name
        try:
            return original(tag)
        except AttributeError:    # imported by another thread, not yet bound to its package
            return importlib.import_module("fontTools.ttLib.tables." + ttFont.tagToIdentifier(tag))

    getTableModule._threads = True
    ttFont.getTableModule = woff2.getTableModule = ttLib.getTableModule = getTableModule


def _tag(name: str) -> int:
    return int.from_bytes(name.ljust(4).encode("latin-1"), "big")


def _fonttools_cut(found: tuple[Path, int], characters: str, flavor: str | None, complete: bool,
                   features: tuple[str, ...]) -> bytes | None:
    """:func:`_harfbuzz_cut` by fontTools (None: the font lacks a character and ``complete``)."""
    import io

    from fontTools import subset as ftsubset
    from fontTools.ttLib import TTFont

    source, index = found
    # the bounding boxes kept as the font has them, as pyftsubset does (recalculating them is a fifth of
    # the work: each glyph's outline drawn; a box a little large harms nothing)
    font = TTFont(str(source), fontNumber=index, lazy=False, recalcTimestamp=False, recalcBBoxes=False)
    cmap = font.getBestCmap() or {}
    if complete and any(ord(ch) not in cmap for ch in characters if not re.match(r"\s", ch)):
        return None
    options = _options(features)
    options.flavor = flavor
    subsetter = ftsubset.Subsetter(options)
    subsetter.populate(text="".join(ch for ch in characters if ord(ch) in cmap))
    subsetter.subset(font)
    font.flavor = flavor
    out = io.BytesIO()
    _faster_woff2()
    font.save(out)
    return out.getvalue()


@functools.cache
def _cutter() -> str:
    """What cuts the subsets (part of their keys: a subset cut otherwise is cut again)."""
    try:
        import uharfbuzz
        return f"harfbuzz {uharfbuzz.__version__}"
    except ImportError:
        return "fonttools"


def cached_any(book_root: Path) -> bool:
    """Whether the book's cache holds any subset (none before its first web or EPUB edition)."""
    try:
        return any((book_root / "build" / ".cache" / "fonts").iterdir())
    except OSError:
        return False


def _target(found: tuple[Path, int], characters: str, book_root: Path, flavor: str | None, prefix: str,
            features: tuple[str, ...]) -> tuple[Path, str]:
    """Where the subset is cached, and its key."""
    source, index = found
    suffix = {"woff": ".woff", "woff2": ".woff2", None: ".otf"}[flavor]
    key = hashlib.sha256(f"{source}:{index}:{flavor}:{','.join(features)}:{_cutter()}:{characters}".encode()).hexdigest()[:24]
    return book_root / "build" / ".cache" / "fonts" / f"{prefix}-{key}{suffix}", key


# --- the book's Latin face for the web edition -----------------------------------------------------------
#
# The print edition sets the text in Linux Libertine (the set-up installs fonts-linuxlibertine). The web
# edition ships the same faces, cut to the characters its pages use, as WOFF2 (fontTools writes WOFF2 with
# brotli, which fonttools[woff] brings). Each face keeps the OpenType features the stylesheet asks for
# (old-style and lining, proportional and tabular figures, small capitals).

LATIN_FAMILY = "build_book Serif"
LATIN_FACES = (("regular", "normal", "normal"), ("italic", "normal", "italic"),
               ("bold", "bold", "normal"), ("bold-italic", "bold", "italic"))
LATIN_FEATURES = ("onum", "lnum", "pnum", "tnum", "smcp", "c2sc")


@dataclass(frozen=True)
class Face:
    name: str          # regular, italic, bold, bold-italic
    weight: str
    style: str
    font: Subset


@_remembered
def find_latin_font(weight: str, style: str) -> tuple[Path, int] | None:
    """The file and face index of Linux Libertine O in this weight and style, if fontconfig has it."""
    if shutil.which("fc-match") is None:
        return None
    pattern = "Linux Libertine O" + (":bold" if weight == "bold" else "") + (":italic" if style == "italic" else "")
    try:
        out = subprocess.run(["fc-match", "-f", "%{file}\n%{index}\n%{family}\n%{style}\n", pattern],
                             capture_output=True, text=True, timeout=30).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return None
    if len(out) < 4 or "Linux Libertine" not in out[2]:
        return None
    wanted = ("Bold " if weight == "bold" else "") + ("Italic" if style == "italic" else "")
    if (wanted or "Regular").strip() not in out[3]:   # fontconfig fell back to another face
        return None
    return Path(out[0]), int(out[1] or 0)


def latin_characters(texts) -> str:
    """The characters of ``texts`` other than Japanese script and controls, with printable ASCII
    always (what a reader types in the search box shows in it)."""
    chars: set[str] = {chr(c) for c in range(0x20, 0x7F)}
    for text in texts:
        chars.update(text)
    return "".join(sorted(ch for ch in chars if ch.isprintable() and not JAPANESE.fullmatch(ch)))


def latin_subsets(characters: str, book_root: Path, flavor: str = "woff2") -> list[Face]:
    """The book's Latin faces cut to ``characters``; the faces the system lacks are left out."""
    return start_web_fonts("", characters, book_root, flavor)()[1]


def start_web_fonts(japanese: str, latin: str, book_root: Path, flavor: str | None = "woff2",
                    workers: int = 1) -> Callable[[], tuple[Subset | None, list[Face]]]:
    """Begin cutting the Japanese subset (:func:`subset` of ``japanese``) and the Latin faces
    (:func:`latin_subsets` of ``latin``), those not cached, up to ``workers`` at once; return the function
    that waits for them. With HarfBuzz the work is its cut and brotli's compression (some 0.06 s a Latin
    face, nine tenths brotli's), both C that lets other threads run: so threads of this process, not
    processes forked from it (forking a large build took longer than the cuts). Without HarfBuzz it is
    fontTools' Python, about a second a face: processes."""
    cuts: list[tuple] = []     # (face or None for the Japanese subset, arguments of _cut)
    found = find_japanese_font() if japanese else None
    if found is not None:
        cuts.append((None, (found, japanese, book_root, flavor, "ja", FAMILY, True, ())))
    for name, weight, style in LATIN_FACES:
        found = find_latin_font(weight, style) if latin else None
        if found is not None:
            cuts.append(((name, weight, style),
                         (found, latin, book_root, flavor, f"latin-{name}", LATIN_FAMILY, False, LATIN_FEATURES)))
    todo = [n for n, (_, args) in enumerate(cuts) if not _cached(*args)]
    pool = None
    futures: dict[int, object] = {}
    if min(workers, len(todo)) > 1:
        if _harfbuzz():
            table_modules_in_threads()
            pool = ThreadPoolExecutor(min(workers, len(todo)))
        elif "fork" in multiprocessing.get_all_start_methods():
            pool = ProcessPoolExecutor(min(workers, len(todo)), mp_context=multiprocessing.get_context("fork"))
    if pool is not None:
        futures = {n: pool.submit(_cut_args, cuts[n][1]) for n in todo}

    def finish() -> tuple[Subset | None, list[Face]]:
        try:
            done = [futures[n].result() if n in futures else _cut_args(args) for n, (_, args) in enumerate(cuts)]
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        japanese_font = next((font for (face, _), font in zip(cuts, done) if face is None), None)
        faces = [Face(*face, font) for (face, _), font in zip(cuts, done) if face is not None and font is not None]
        return japanese_font, faces

    return finish


def _harfbuzz() -> bool:
    """Whether HarfBuzz's subsetter (uharfbuzz) can be imported."""
    try:
        import uharfbuzz  # noqa: F401
    except ImportError:
        return False
    return True


def _cut_args(args: tuple) -> Subset | None:
    found, characters, book_root, flavor, prefix, family, complete, features = args
    return _cut(found, characters, book_root, flavor, prefix, family, complete=complete, features=features)


def _cached(found, characters, book_root, flavor, prefix, family, complete, features) -> bool:
    """Whether :func:`_cut` would find this subset in the cache (and do no work)."""
    return _sound(*_target(found, characters, book_root, flavor, prefix, features))


def latin_file_name(face: Face) -> str:
    return f"latin-{face.name}{face.font.path.suffix}"


def latin_face_css(faces: list[Face], folder: str) -> str:
    """@font-face rules for ``faces`` shipped in ``folder`` under :func:`latin_file_name`."""
    return "".join(f'@font-face {{ font-family: "{LATIN_FAMILY}"; src: url("{folder}/{latin_file_name(face)}") '
                   f'format("{face.font.path.suffix.lstrip(".")}"); font-weight: {face.weight}; '
                   f"font-style: {face.style}; font-display: swap; }}\n" for face in faces)


# The subset's record, ``<subset>.sum``, is a cache entry (cache.py: signed with the user's key, so a
# book cannot bring a font of its own choosing in build/.cache/fonts/ and have it shipped in the editions).

def _expected(key: str, data: bytes) -> bytes:
    return f"{key} {len(data)} {hashlib.sha256(data).hexdigest()}".encode("ascii")


def _sound(target: Path, key: str) -> bool:
    """Whether the cached subset is the one its record describes (and the record is for ``key``)."""
    from . import cache as cachefile

    record = cachefile.get(target.parent, target.name, RECORD_FORMAT, ".sum")
    if record is None:
        return False
    data = cachefile.read_file(target)
    return data is not None and record == _expected(key, data)


def _write_record(target: Path, key: str, data: bytes) -> None:
    from . import cache as cachefile

    cachefile.put(target.parent, target.name, _expected(key, data), RECORD_FORMAT, ".sum")


def font_face_css(font: Subset, url: str) -> str:
    fmt = {".woff": "woff", ".woff2": "woff2"}.get(font.path.suffix, "opentype")
    return (f'@font-face {{ font-family: "{font.family}"; src: url("{url}") format("{fmt}"); '
            f"font-weight: normal; font-style: normal; }}\n"
            f'[lang|="ja"], [lang|="ja"] body {{ font-family: "{font.family}", "Noto Serif CJK JP", '
            f'"Hiragino Mincho ProN", "Yu Mincho", serif; }}\n')     # (not :lang(ja): see the stylesheet)
