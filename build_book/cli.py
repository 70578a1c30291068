"""The command line: ``python -m build_book pdf|epub|html|all|check``.

Only this module prints diagnostics; everything else returns them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

from .diagnostics import BuildError, Diagnostic, to_json

EDITIONS = ("pdf", "epub", "html")

DESCRIPTION = """\
Build an edited volume written in Markdown into a print PDF, an EPUB and an HTML site.

The book is a folder with a book.yml (title, contributors, chapters, bibliography).
Every build first checks citations, cross-references, images and book.yml, and stops
before writing anything if there is an error; the previous outputs in build/ stay as
they were. Problems are reported as path:line:col: error|warning[code]: message."""

COMMANDS = {
    "pdf": "build the print PDF (build/<slug>.pdf) with WeasyPrint",
    "epub": "build the EPUB 3 (build/<slug>.epub)",
    "html": "build the multi-page web edition (build/html/)",
    "all": "build the PDF, the EPUB and the HTML edition",
    "check": "run every check without building anything",
}

EPILOG = """\
exit status: 0 success (warnings allowed), 1 errors in the book (or warnings with --strict),
2 wrong usage, 3 an internal error in build_book or its tools.

examples:
  python -m build_book all                  build every edition of the book in this folder
  python -m build_book pdf --book ~/volume  build the PDF of the book in ~/volume
  python -m build_book check --strict       fail on warnings too (as CI should)
  python -m build_book check --format json  diagnostics as JSON for editors' tools"""


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m build_book", description=DESCRIPTION, epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = main.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".",
                             formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
        cmd.add_argument("--book", type=Path, default=Path("."), metavar="DIR",
                         help="the book's folder, holding book.yml (default: the current folder)")
        cmd.add_argument("--strict", action="store_true", help="treat warnings as errors")
        if name == "check":
            cmd.add_argument("--format", choices=("text", "json"), default="text",
                             help="how to print the diagnostics (default: text)")
        else:
            cmd.add_argument("-q", "--quiet", action="store_true", help="print no progress, only problems")
    return main


def _print_diagnostics(diagnostics: list[Diagnostic], stream) -> None:
    for diag in diagnostics:
        print(diag.format(), file=stream)


def _summary(diagnostics: list[Diagnostic]) -> str:
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    per_file = Counter((d.location.path, d.severity) for d in diagnostics)
    files = sorted({path for path, _ in per_file})
    lines = []
    for path in files:
        e, w = per_file[(path, "error")], per_file[(path, "warning")]
        lines.append(f"  {path}: {e} error{'s' * (e != 1)}, {w} warning{'s' * (w != 1)}")
    head = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    return "\n".join([head] + lines) if lines else "no problems found"


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from . import build as pipeline
    from .progress import Progress

    root = args.book
    if not root.is_dir():
        print(f"python -m build_book: error: --book {root}: no such folder", file=sys.stderr)
        return 2
    if args.command == "check":
        result = pipeline.check(root)
        diags = result.diagnostics
        failed = any(d.severity == "error" for d in diags) or (args.strict and bool(diags))
        if args.format == "json":
            print(to_json(diags))
        else:
            _print_diagnostics(diags, sys.stdout)
            print(_summary(diags), file=sys.stderr)
        return 1 if failed else 0

    editions = list(EDITIONS) if args.command == "all" else [args.command]
    progress = Progress(enabled=not args.quiet)
    kept = "the previous outputs in build/ are unchanged"
    try:
        written, diags = pipeline.build(root, editions, strict=args.strict, progress=progress)
    except BuildError as exc:
        _print_diagnostics(exc.diagnostics, sys.stderr)
        print(_summary(exc.diagnostics), file=sys.stderr)
        print(f"build stopped: nothing was written; {kept}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nbuild interrupted; {kept}", file=sys.stderr)
        return 130
    except Exception as exc:  # a fault in build_book or its tools, not in the book: say so plainly
        if os.environ.get("BUILD_BOOK_DEBUG"):
            raise
        print(f"build_book: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(f"build stopped; {kept}. This is a bug in build_book or one of its tools, not in your files; "
              "run again with BUILD_BOOK_DEBUG=1 for the details to report.", file=sys.stderr)
        return 3
    _print_diagnostics(diags, sys.stderr)
    if diags:
        print(_summary(diags), file=sys.stderr)
    for path in written:
        print(path)
    return 0
