"""The command line: ``python -m build_book pdf|epub|html|all|check|codes|serve``.

Parses the arguments, finds the book, calls the pipeline (build.py) and prints.
Only this module prints diagnostics; everything else returns them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .files import BOOKDOWN_NAME, CONFIG_NAME, QUARTO_NAME, bookdown_book
from .files import quarto_book as _quarto_book

if TYPE_CHECKING:
    from .diagnostics import Diagnostic
# diagnostics.py (dataclasses) is imported where it is used: the command line starts pandoc on the
# edited chapters (early.py) before anything else is imported

EDITIONS = ("pdf", "epub", "html")

DESCRIPTION = """\
Build an edited volume written in Markdown into a print PDF, an EPUB and an HTML site.

The book is a folder with a book.yml (title, contributors, chapters, bibliography), a
Quarto book project's _quarto.yml, or a bookdown book's _bookdown.yml and index.Rmd. Run
the command anywhere inside it: like git, it uses the nearest one in the current folder
or in a folder above (or the one --book names).
Every build first checks citations, cross-references, images and book.yml, and stops
before writing anything if there is an error; the previous outputs in build/ stay as they
were. Problems are reported as path:line:col: error|warning[code]: message (paths
relative to the book's folder).

A book can turn a warning off, or make it an error, with diagnostics: in book.yml:
  diagnostics:
    bib-unused: off
    raw-html: error
The codes command lists every code, its default and whether a book can adjust it."""

COMMANDS = {
    "pdf": "build the print PDF (build/<slug>.pdf) with WeasyPrint",
    "epub": "build the EPUB 3 (build/<slug>.epub)",
    "html": "build the multi-page web edition (build/html/index.html); 'all' also puts the PDF and EPUB in it "
            "for download",
    "all": "build the PDF, the EPUB and the HTML edition",
    "check": "run every check without building anything",
    "codes": "list the diagnostic codes, their default severity and what they mean",
    "serve": "preview the HTML edition in a browser, rebuilt and reloaded as you save",
    "proof": "build a proof round for editors into build/proof/: the editions with status, marks and "
             "changes shown, and a report",
    "accept": "accept every editor's mark (CriticMarkup) in the chapter files named",
    "reject": "reject every editor's mark (CriticMarkup) in the chapter files named",
}
NO_BOOK = ("codes", "accept", "reject")   # commands that need no book.yml

# what a command's own --help says after its line above (render/pdf.py, render/pieces.py, render/limits.py)
RESOLVE_DETAILS = """\
Each file is rewritten in place; its text as it was is kept beside it as FILE.bak. A FILE.bak already
there (from an earlier accept or reject) is never overwritten, so that it keeps the text as it was
before the first: the text before this run goes to FILE.bak.2 (then .3, ...), and the command says
where. A file with a mark that is not closed before its paragraph ends (a mark over whole paragraphs
has its delimiters each alone on a line), or a mark inside another, is left unchanged, with an error
at the place (path:line:col), since resolving it would take the text after it along."""

DETAILS = {
    "accept": RESOLVE_DETAILS,
    "reject": RESOLVE_DETAILS,
    "check": """\
The problems found are check's report: it prints them on standard output (with --format json, as
one JSON list), so that a tool or a pipe can read them; progress and the summary go to standard
error. It writes nothing but its caches in build/.cache/.""",
    "pdf": """\
The front matter, each part's title page, each chapter, the bibliography and the index are laid
out as WeasyPrint documents of their own, --jobs at once, cached in build/.cache/, and joined into
one PDF (the same pages, contents, page references, links and outline as one document): after an
edit, the edited chapter is laid out again, with the pieces whose page numbers it moves. A book
whose templates/pdf/ overrides build_book's templates is laid out as one document, as is any book
with BUILD_BOOK_PDF_PIECES=0. The layout stops at BUILD_BOOK_PDF_TIMEOUT seconds (default 120,
and 1 more for every 10 pages expected) and at BUILD_BOOK_PDF_MEMORY per layout process
(default 6G), with a located error.""",
}

EPILOG = """\
exit status: 0 success (warnings allowed), 1 errors in the book (or warnings with --strict),
2 wrong usage, 3 an internal error in build_book or its tools (BUILD_BOOK_DEBUG=1 shows the traceback).

examples:
  {prog} all                  build every edition of the book you are in
  {prog} pdf --book ~/volume  build the PDF of the book in ~/volume
  {prog} check --strict       fail on warnings too (as CI should)
  {prog} check --format json  diagnostics as JSON for editors' tools
  {prog} codes                the diagnostic codes a book can adjust in book.yml
  {prog} serve                preview the web edition at http://127.0.0.1:8000/ while you write"""

DEBUG = "BUILD_BOOK_DEBUG"


def prog_name() -> str:
    """The command as the user typed it: scripts/book sets BUILD_BOOK_PROG; the console script is build-book."""
    if os.environ.get("BUILD_BOOK_PROG"):
        return os.environ["BUILD_BOOK_PROG"]
    if Path(sys.argv[0]).name == "build-book":
        return "build-book"
    return "python -m build_book"


def parser(prog: str | None = None) -> argparse.ArgumentParser:
    prog = prog or prog_name()
    formatter = argparse.RawDescriptionHelpFormatter
    epilog = EPILOG.format(prog=prog)
    main = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=epilog,
                                   formatter_class=formatter)
    sub = main.add_subparsers(dest="command", metavar="COMMAND", title="commands", required=True)
    for name, help_text in COMMANDS.items():
        description = help_text[0].upper() + help_text[1:] + "."
        if name in DETAILS:
            description += "\n\n" + DETAILS[name]
        cmd = sub.add_parser(name, help=help_text, description=description, formatter_class=formatter,
                             epilog=epilog if name not in NO_BOOK else epilog.replace(" (or warnings with --strict)", ""))
        if name in ("accept", "reject"):
            cmd.add_argument("files", nargs="+", type=Path, metavar="FILE", help="chapter files (Markdown)")
        if name not in NO_BOOK:
            cmd.add_argument("--book", type=Path, default=None, metavar="PATH",
                             help="the book: its folder or its book.yml (default: the nearest book.yml in the "
                                  "current folder or a folder above)")
            cmd.add_argument("--strict", action="store_true", help="treat warnings as errors")
        if name not in NO_BOOK:
            cmd.add_argument("--jobs", "-j", type=_jobs, default=None, metavar="N",
                             help="work on N chapters at once, 1 to 256 (default: every core of this machine)")
        if name == "serve":
            cmd.add_argument("--port", type=_port, default=8000, metavar="N",
                             help="serve on 127.0.0.1 port N, or the next free one (default: 8000; 0: any)")
        if name == "proof":
            cmd.add_argument("--since", type=_ref, default=None, metavar="REF",
                             help="the round to compare with: a git tag, branch or commit (default: the "
                                  "last tag named proof-*)")
        if name == "check":
            cmd.add_argument("--format", choices=("text", "json"), default="text",
                             help="how to print the diagnostics (default: text)")
            cmd.add_argument("--fix-style", action="store_true",
                             help="make the house style's safe replacements in the chapters (terms, names, quotes, "
                                  "dashes, garbled characters; never in quotations or code), print each, then check "
                                  "again; if any cannot be made, no file is changed")
        cmd.add_argument("-q", "--quiet", action="store_true",
                         help="print no progress or summary, only problems"
                         if name != "codes" else "print only the list, without the note on book.yml")
    return main


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_JOBS:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {MAX_JOBS}, not '{text}'")
    return value


MAX_JOBS = 256    # (each job may be a process or a thread: more than the system gives is a crash)


def _ref(text: str) -> str:
    """A git ref named on the command line: never empty, never read by git as an option."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a git tag, branch or commit, not an empty name")
    if text.startswith("-"):
        raise argparse.ArgumentTypeError(f"not a git tag, branch or commit (no name begins with '-'): '{text}'")
    return text


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"not a port number (0 to 65535): {text}")
    return int(text)


# ---------------------------------------------------------------- finding the book

class NoBook(Exception):
    """No book.yml where the user pointed (exit 1), with what to do about it."""


class Usage(Exception):
    """Wrong usage of the command line (exit 2)."""


def find_book(given: Path | None, cwd: Path) -> Path:
    """The book's folder: the one holding the nearest book.yml at or above ``given`` (or the current folder),
    as git finds its repository; ``given`` may also be the book.yml itself. A Quarto book project's
    _quarto.yml, or a bookdown book's _bookdown.yml or index.Rmd (with no book.yml beside it), marks a book's
    folder too."""
    start = cwd if given is None else (cwd / given)
    if given is not None and not start.exists():
        raise Usage(f"--book {given}: no such folder")
    if start.is_file():
        if start.name not in (CONFIG_NAME, QUARTO_NAME, BOOKDOWN_NAME):
            raise Usage(f"--book {given}: expected a book's folder or its {CONFIG_NAME}, not another file")
        return start.resolve().parent
    start = start.resolve()
    for folder in (start, *start.parents):
        try:
            if (folder / CONFIG_NAME).is_file() or _quarto_book(folder / QUARTO_NAME) or bookdown_book(folder):
                return folder
            if (folder / CONFIG_NAME).is_dir():
                raise NoBook(f"{folder / CONFIG_NAME} is a folder, not a file\n"
                             f"  a book's {CONFIG_NAME} is a text file with at least title: and chapters:")
        except OSError:            # a folder above we may not look into: go on upwards, as git does
            continue
    here = "here" if given is None else f"in {start}"
    raise NoBook(f"no {CONFIG_NAME} {here} or in any folder above: {start}\n"
                 f"  run the command in a book's folder (the one holding {CONFIG_NAME}) or any folder inside it,\n"
                 f"  or name the book with --book PATH; a new book needs a {CONFIG_NAME} with at least\n"
                 f"  title: and chapters: (see README.md)")


def _shown(path: Path, cwd: Path) -> str:
    """A path as the user can use it from where they are: relative inside the current folder, else absolute."""
    return str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path)


# ---------------------------------------------------------------- printing

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


def _linked_build(root: Path) -> Diagnostic | None:
    """An error if the book's build/ is a symbolic link: a change that commits one (to the CI runner's home,
    say) would have every command write, replace and delete there, outside the book."""
    from .diagnostics import Location, error

    out = root / "build"
    if not out.is_symlink():
        return None
    return error("build-unwritable", f"build/ is a symbolic link (to {os.readlink(out)}): build_book writes "
                 "only into a folder of the book's own", Location("build/"),
                 "remove the link (the folder is made anew, with everything in it) and run again")


def _previous_outputs(root: Path) -> str:
    """What a failed build leaves in build/, in words; nothing about previous outputs if there are none."""
    out = root / "build"
    if out.is_dir() and any(not p.name.startswith(".") for p in out.iterdir()):
        return "; the previous outputs in build/ are unchanged"
    return ""


def guarded(what: str, run: Callable[[], int], outputs_of: Path | None = None) -> int:
    """Run one command; a fault in build_book or its tools (not in the book) becomes exit 3 with a plain
    message, and Ctrl-C exit 130. ``BUILD_BOOK_DEBUG=1`` lets the traceback through. ``outputs_of``: the
    book whose previous outputs a build would have replaced (the message says they are still there)."""
    kept = _previous_outputs(outputs_of) if outputs_of else ""
    try:
        return run()
    except BrokenPipeError:        # the reader of our output went away (| head): not a fault; main() ends quietly
        raise
    except KeyboardInterrupt:
        print(f"\n{what} interrupted{kept}", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get(DEBUG, "") not in ("", "0"):
            raise
        print(f"build_book: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(f"{what} stopped{kept}. This is a bug in build_book or one of its tools, "
              f"not in your files; run again with {DEBUG}=1 for the details to report.", file=sys.stderr)
        return 3


# ---------------------------------------------------------------- commands

# What a command read, kept to its end: the process then ends without taking it apart object by object
# (__main__.py), which after an edit's check was a tenth of its time (the edited chapter's document)
_KEPT: list = []


def _check(args, root: Path) -> int:
    from . import build as pipeline

    if not args.quiet:
        print(f"checking the book in {root}", file=sys.stderr, flush=True)
    result = pipeline.check(root, jobs=args.jobs, reuse=not args.fix_style)
    _KEPT.append(result)    # (taking the book apart is the exit's: see __main__.py)
    diags = result.diagnostics
    if args.fix_style:
        fixed = _fix_style(result, root, sys.stderr if args.format == "json" else sys.stdout)
        if fixed is None:
            return 1
        if fixed:
            diags = pipeline.check(root, jobs=args.jobs).diagnostics
    failed = any(d.severity == "error" for d in diags) or (args.strict and bool(diags))
    if args.format == "json":
        from .diagnostics import to_json
        print(to_json(diags))
    else:
        _print_diagnostics(diags, sys.stdout)
        if not args.quiet or diags:
            sys.stdout.flush()
            print(_summary(diags), file=sys.stderr)
    return 1 if failed else 0


def _fix_style(result, root: Path, out) -> int | None:
    """Make the house style's safe replacements: the number made, or None if none could be made."""
    from . import house_style

    if result.book is None:
        print("--fix-style: the book cannot be read, so nothing was changed", file=sys.stderr)
        return 0
    if not result.book.config.style:
        print("--fix-style: book.yml names no house style (style: style/house.yml), so nothing was changed",
              file=sys.stderr)
        return 0
    try:
        changes = house_style.apply_changes(result.book.config.root, house_style.planned_changes(result.book))
    except house_style.FixFailed as exc:
        print(f"--fix-style: {exc}; no file was changed", file=sys.stderr)
        return None
    for change in changes:
        print(f"fixed {change.describe()}", file=out)
    files = len({c.path for c in changes})
    print(f"--fix-style: {len(changes)} change{'s' * (len(changes) != 1)} in {files} file{'s' * (files != 1)}",
          file=sys.stderr)
    return len(changes)


def _build(args, root: Path, cwd: Path) -> int:
    from . import build as pipeline
    from .diagnostics import BuildError
    from .progress import Progress

    editions = list(EDITIONS) if args.command == "all" else [args.command]
    progress = Progress(enabled=not args.quiet)
    try:
        written, diags = pipeline.build(root, editions, strict=args.strict, progress=progress, jobs=args.jobs,
                                        keep=_KEPT)
    except BuildError as exc:
        _print_diagnostics(exc.diagnostics, sys.stderr)
        print(_summary(exc.diagnostics), file=sys.stderr)
        print(f"build stopped: nothing was written{_previous_outputs(root)}", file=sys.stderr)
        return 1
    _print_diagnostics(diags, sys.stderr)
    if diags:
        print(_summary(diags), file=sys.stderr)
    # what to open: the web edition's front page rather than its folder; each path once, on stdout
    opened = [path / "index.html" if (path / "index.html").is_file() else path for path in written]
    count = f"{len(opened)} edition{'s' * (len(opened) != 1)}"
    progress.step(f"done: {count} in {_shown(root / 'build', cwd)}{os.sep}; open:")
    sys.stderr.flush()
    for path in opened:
        print(_shown(path, cwd))
    return 0


def _codes(args) -> int:
    from .codes import listing

    print(listing())
    if not args.quiet:
        sys.stdout.flush()
        print("A book adjusts a code under diagnostics: in book.yml (off, warning or error), e.g.\n"
              "  diagnostics:\n    bib-unused: off\n    raw-html: error", file=sys.stderr)
    return 0


def _resolve(args) -> int:
    """accept|reject FILE...: resolve every mark in each file, in place, keeping FILE.bak."""
    from . import critic

    accept = args.command == "accept"
    failed = 0
    for path in args.files:
        try:
            counts, backup = critic.resolve_file(path, accept)
        except critic.Unresolvable as exc:
            _print_diagnostics(critic.flaw_diagnostics(exc.args[0], str(path)), sys.stderr)
            print(f"{path}: nothing {'accepted' if accept else 'rejected'}, unchanged", file=sys.stderr)
            failed = 1
            continue
        except FileNotFoundError:
            print(f"{path}: no such file", file=sys.stderr)
            failed = 1
            continue
        except UnicodeDecodeError:
            print(f"{path}: not a UTF-8 text file; nothing changed", file=sys.stderr)
            failed = 1
            continue
        except OSError as exc:
            print(f"{path}: cannot be rewritten ({exc.strerror or exc}); nothing changed", file=sys.stderr)
            failed = 1
            continue
        if counts:
            done = "accepted" if accept else "rejected"
            print(f"{path}: {done} {critic.describe(counts)} (the previous text is in {backup.name})")
        else:
            print(f"{path}: no editor's marks; unchanged")
    return failed


def _proof(args, root: Path, cwd: Path) -> int:
    from . import proof
    from .diagnostics import BuildError
    from .progress import Progress

    progress = Progress(enabled=not args.quiet)
    try:
        written, diags = proof.build_proof(root, since=args.since, strict=args.strict, progress=progress,
                                             jobs=args.jobs)
    except BuildError as exc:
        _print_diagnostics(exc.diagnostics, sys.stderr)
        print(_summary(exc.diagnostics), file=sys.stderr)
        print("proof stopped: nothing was written", file=sys.stderr)
        return 1
    _print_diagnostics(diags, sys.stderr)
    if diags:
        print(_summary(diags), file=sys.stderr)
    progress.step(f"done: the proof round is in {_shown(written, cwd)}{os.sep}; open:")
    sys.stderr.flush()
    print(_shown(written / "index.html", cwd))
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(sys.argv[1:] if argv is None else argv)
    except BrokenPipeError:
        # stdout was closed early (e.g. `codes | head`): stop without a traceback, and keep Python from
        # complaining again when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _main(argv: list[str]) -> int:
    cli = parser()
    if not argv:                   # first contact: say what there is to do (argparse's code for usage: 2)
        cli.print_help(sys.stderr)
        return 2
    args = cli.parse_args(argv)
    if args.command == "codes":
        return _codes(args)
    if args.command in ("accept", "reject"):
        return guarded(args.command, lambda: _resolve(args))

    cwd = Path.cwd()
    try:
        root = find_book(args.book, cwd)
    except Usage as exc:
        print(f"{cli.prog}: error: {exc}", file=sys.stderr)
        return 2
    except NoBook as exc:
        print(f"{cli.prog}: {exc}", file=sys.stderr)
        return 1
    linked = _linked_build(root)
    if linked is not None:
        _print_diagnostics([linked], sys.stderr)
        print(f"{args.command} stopped: nothing was read or written", file=sys.stderr)
        return 1
    if args.command in ("check", "all", *EDITIONS):
        # pandoc on the chapters edited since the last run, at once: it reads while the rest is imported
        from . import early
        early.start(root, args.jobs)
    if args.command == "check":
        return guarded("check", lambda: _check(args, root))
    if args.command == "serve":
        from .serve import serve
        return guarded("serve", lambda: serve(root, port=args.port, strict=args.strict, quiet=args.quiet,
                                                   jobs=args.jobs))
    if args.command == "proof":
        return guarded("proof", lambda: _proof(args, root, cwd), outputs_of=root)
    return guarded("build", lambda: _build(args, root, cwd), outputs_of=root)
