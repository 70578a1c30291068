"""The one place that calls pandoc (through pypandoc, which ships the binary)."""

from __future__ import annotations

import json
import re
import logging
from functools import lru_cache
from pathlib import Path

import pypandoc

# pypandoc repeats pandoc's stderr through logging; build_book runs its own
# checks and reports problems itself, so keep pandoc's chatter out of the way.
logging.getLogger("pypandoc").setLevel(logging.ERROR)

# Quarto-style labels are explicit; headings without one get ids from build_book.
READER = "markdown-auto_identifiers"


class PandocError(Exception):
    pass


@lru_cache(maxsize=1)
def version() -> str:
    return pypandoc.get_pandoc_version()


def _run(source: str, to: str, fmt: str, args: list[str]) -> str:
    try:
        return pypandoc.convert_text(source, to, format=fmt, extra_args=args)
    except (RuntimeError, OSError) as exc:
        raise PandocError(str(exc).strip()) from None


def read_markdown(text: str) -> dict:
    """Markdown text -> pandoc's JSON document."""
    return json.loads(_run(text, "json", READER, []))


MARKER = "<!-- build_book file {} -->"
FILE_PREFIX = re.compile(r'(?<=["#])[^"#\s]*?bbf\d{5}\.md__')


def read_markdown_many(texts: list[str]) -> list[dict]:
    """Several Markdown texts -> one JSON document each (see :func:`read_markdown_json_many`)."""
    return [json.loads(doc) for doc in read_markdown_json_many(texts)]


def read_markdown_json_many(texts: list[str]) -> list[str]:
    """Several Markdown texts -> pandoc's JSON text of each, from a single pandoc run.

    pandoc starts slowly compared with how fast it parses, so the chapters are
    handed over together; ``--file-scope`` keeps each file's footnotes and
    link definitions its own, and a marker comment splits the result (as
    text: the caller may store it without encoding it again).
    """
    if len(texts) == 1:
        return [_run(texts[0], "json", READER, [])]
    import tempfile

    with tempfile.TemporaryDirectory(prefix="build_book-") as folder:
        names = []
        for number, text in enumerate(texts):
            names.append(f"bbf{number:05d}.md")
            (Path(folder) / names[-1]).write_text(MARKER.format(number) + "\n\n" + text, encoding="utf-8")
        try:
            output = pypandoc.convert_file([str(Path(folder) / n) for n in names], "json", format=READER,
                                           extra_args=["--file-scope"], sort_files=False)
        except (RuntimeError, OSError) as exc:
            raise PandocError(str(exc).strip()) from None
        # --file-scope prefixes every identifier with its file's path, '/' written '__';
        # the identifiers are the author's, so take the prefixes off again
        for name in names:
            prefix = (Path(folder) / name).as_posix().lstrip("/").replace("/", "__") + "__"
            output = output.replace(f'"{prefix}', '"').replace(f'"#{prefix}', '"#')
            output = output.replace(f'"#{prefix[:-2]}"', '""')  # an empty link target, made '#file' by pandoc
        if re.search(r"bbf\d{5}\.md__", output):
            output = FILE_PREFIX.sub("", output)
    head, _, _ = output.partition('"blocks":[')
    markers = [output.find(json.dumps(["html", MARKER.format(n)], separators=(",", ":")))
               for n in range(len(texts))]
    if -1 in markers or markers != sorted(markers):
        raise PandocError("could not split pandoc's output into chapters")
    docs = []
    for n, start in enumerate(markers):
        begin = output.index("}", start) + 1           # end of the marker block
        end = markers[n + 1] - len('{"t":"RawBlock","c":') if n + 1 < len(markers) else output.rindex("]}")
        blocks = output[begin:end].strip(",")
        docs.append(head + '"blocks":[' + blocks + "]}")
    return docs


def check_bibliography(path: Path) -> None:
    """Read a .bib file as citeproc will; raise :class:`PandocError` with pandoc's words if it cannot."""
    fmt = "bibtex" if path.suffix.lower() == ".bibtex" else "biblatex"
    try:
        pypandoc.convert_file(str(path), "csljson", format=fmt)
    except (RuntimeError, OSError) as exc:
        raise PandocError(str(exc).strip()) from None


def citeproc(doc: dict, bibliographies: list[Path], csl: Path | None, cwd: Path) -> dict:
    """Format every citation in ``doc`` and append the reference list (div #refs)."""
    args = ["--citeproc"] + [f"--bibliography={p}" for p in bibliographies]
    if csl is not None:
        args.append(f"--csl={csl}")
    args += ["--metadata=link-citations:true", f"--resource-path={cwd}"]
    return json.loads(_run(json.dumps(doc), "json", "json", args))


def write_html(doc: dict) -> str:
    """A pandoc JSON document -> an HTML5 fragment (no <html>/<body>)."""
    return _run(json.dumps(doc), "html5", "json", ["--wrap=none"])


def write_html_many(docs: list[dict]) -> list[str]:
    """Several pandoc JSON documents -> their HTML fragments, from a single pandoc run."""
    if len(docs) <= 1:
        return [write_html(doc) for doc in docs]
    blocks: list = []
    for number, doc in enumerate(docs):
        blocks.append({"t": "RawBlock", "c": ["html", MARKER.format(number)]})
        blocks.extend(doc["blocks"])
    html = write_html(document(blocks))
    parts = re.split(r"<!-- build_book file (\d+) -->\n?", html)
    # parts: [before, "0", html0, "1", html1, ...]
    if len(parts) != 2 * len(docs) + 1:
        raise PandocError("could not split pandoc's HTML into chapters")
    return [parts[2 * n + 2] for n in range(len(docs))]


def document(blocks: list, meta: dict | None = None) -> dict:
    """A pandoc JSON document of ``blocks`` for the version this pandoc speaks."""
    return {"pandoc-api-version": api_version(), "meta": meta or {}, "blocks": blocks}


@lru_cache(maxsize=1)
def api_version() -> list:
    return read_markdown("x")["pandoc-api-version"]
