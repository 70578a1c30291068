"""Reading a PDF as a checker would: text per page, fonts, outline, links (with pypdf)."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path

from pypdf import PdfReader


class Pdf:
    def __init__(self, path: Path):
        self.reader = PdfReader(str(path))

    @cached_property
    def pages(self) -> list[str]:
        return [page.extract_text() or "" for page in self.reader.pages]

    @cached_property
    def text(self) -> str:
        return "\n".join(self.pages)

    def flat(self, index: int | None = None) -> str:
        """Page text with line breaks and hyphenation undone, for phrase searches."""
        text = self.text if index is None else self.pages[index]
        text = re.sub(r"-\n(?=[a-z])", "", text)
        text = re.sub(r"(?<=[\u3000-\u9fff])\s+(?=[\u3000-\u9fff])", "", text)  # Japanese has no spaces
        return re.sub(r"\s+", " ", text)

    def page_of(self, phrase: str, start: int = 0) -> int:
        for i in range(start, len(self.pages)):
            if phrase in self.flat(i):
                return i
        raise AssertionError(f"{phrase!r} is on no page")

    @cached_property
    def fonts(self) -> dict[str, dict]:
        """BaseFont name -> {'embedded': bool, 'unicode': set of characters it maps}."""
        found: dict[str, dict] = {}
        for page in self.reader.pages:
            resources = page.get("/Resources") or {}
            fonts = resources.get("/Font") or {}
            for ref in fonts.values():
                font = ref.get_object()
                name = str(font.get("/BaseFont"))
                if name in found:
                    continue
                descriptor = font.get("/FontDescriptor")
                if descriptor is None and "/DescendantFonts" in font:
                    descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
                descriptor = descriptor.get_object() if descriptor is not None else {}
                embedded = any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
                found[name] = {"embedded": embedded, "unicode": _mapped(font)}
        return found

    def outline(self) -> list:
        """The bookmarks as nested (title, children) pairs."""

        def walk(items):
            out = []
            for item in items:
                if isinstance(item, list):
                    if out:
                        out[-1] = (out[-1][0], walk(item))
                else:
                    out.append((item.title, []))
            return out

        return walk(self.reader.outline)

    def internal_links(self, index: int) -> int:
        page = self.reader.pages[index]
        count = 0
        for annot in page.get("/Annots") or []:
            annot = annot.get_object()
            if annot.get("/Subtype") == "/Link":
                action = annot.get("/A")
                if "/Dest" in annot or (action is not None and action.get_object().get("/S") == "/GoTo"):
                    count += 1
        return count

    def folio(self, index: int) -> str:
        """The page number printed at the foot of a page (the last short line)."""
        lines = [line.strip() for line in self.pages[index].splitlines() if line.strip()]
        for line in reversed(lines):
            if re.fullmatch(r"[0-9]+|[ivxlc]+", line):
                return line
        return ""


def _mapped(font) -> set[str]:
    """Characters a font's ToUnicode map gives for glyphs other than .notdef (glyph 0)."""
    stream = font.get("/ToUnicode")
    if stream is None:
        return set()
    data = stream.get_object().get_data().decode("latin-1")
    chars: set[str] = set()
    for block in re.findall(r"beginbfchar(.*?)endbfchar", data, re.S):
        for src, dst in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            if int(src, 16) != 0:
                chars.update(_decode(dst))
    for block in re.findall(r"beginbfrange(.*?)endbfrange", data, re.S):
        for lo, hi, dst in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            start = int(dst, 16)
            for offset in range(int(hi, 16) - int(lo, 16) + 1):
                if int(lo, 16) + offset != 0:
                    chars.add(chr(start + offset))
    return chars


def _decode(hexstr: str) -> str:
    try:
        return bytes.fromhex(hexstr).decode("utf-16-be")
    except ValueError:
        return ""


def link_destinations(pdf: Pdf, index: int) -> set[str]:
    """Names of the internal destinations the links on one page point at."""
    names = set()
    for annot in pdf.reader.pages[index].get("/Annots") or []:
        annot = annot.get_object()
        if annot.get("/Subtype") == "/Link" and "/Dest" in annot:
            names.add(str(annot["/Dest"]))
    return names


def destination_page(pdf: Pdf, name: str) -> int:
    dest = pdf.reader.named_destinations[name]
    return pdf.reader.get_destination_page_number(dest)
