"""Editors' proofs: ``python -m build_book proof [--since REF]`` builds a proof round into build/proof/.

A proof round is the three editions in proof form (a proof line on every PDF page, chapter status on
opening pages and in the contents, editors' CriticMarkup shown, change bars beside changed paragraphs)
and a report (``index.html`` and ``report.json``, the same data) of every chapter: its status, its
counts, its open marks and diagnostics, and what changed since the round named by ``--since`` (a git
ref; by default the last tag named ``proof-*``), with a prose diff page for each changed chapter.

"Then" is the round's tree (``git archive``) loaded and transformed by the same pipeline as "now", and
compared as readers see it: the paragraph texts pandoc's formatted document gives (citations and
cross-references written out), so a rewrapped paragraph is no change and a renumbered figure is one.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field, replace
from html import escape
from pathlib import Path

from markupsafe import Markup

from . import build as pipeline
from .diagnostics import BuildError, Diagnostic, Location, has_errors, warning
from .files import BOOKDOWN_NAME, CONFIG_NAME, QUARTO_NAME
from .labels import LabelIndex, is_crossref
from .model import Book
from .progress import Progress, Silent
from .render import RENDERERS, RenderContext
from .render.common import image_file, page_name
from .transform import Prepared, prepare
from .walk import elements

PROOF_DIR = "proof"
TAG_PATTERN = "proof-*"
CHANGED = "proof-changed"       # the class of a changed block: a change bar beside it
STATUS_NOTES = {"draft": "Draft: this chapter is unfinished", "review": "In review: this chapter may still change"}

PROOF_CSS = """
.proof-banner { margin: 0; padding: 0.3em 0.6em; background: #fff4d6; color: #6b4a00; font: 0.8rem sans-serif; }
.proof-status { color: #9a1b1b; font-family: "Linux Biolinum O", "DejaVu Sans"; font-size: 0.85em; font-weight: bold; }
.status { font-family: "Linux Biolinum O", "DejaVu Sans"; font-size: 0.7em; text-transform: uppercase; color: #9a1b1b; }
.critic-ins { color: #0b6b2b; background: #e3f6e8; text-decoration: underline; }
.critic-del { color: #9a1b1b; background: #fbe6e6; text-decoration: line-through; }
.critic-mark { background: #fff3a8; }
.critic-comment { position: relative; color: #5b3f99; cursor: help; font-size: 0.85em; }
.critic-comment::before { content: "[note]"; }
.proof-changed { border-left: 3px solid #d4760b; padding-left: 0.5em; }
"""
# web: comments as pop-ups, CSS only (no script anywhere)
HTML_CSS = PROOF_CSS + """
.critic-comment { font-size: 0; }
.critic-comment::before { font-size: 0.8rem; }
.critic-comment:hover, .critic-comment:focus { font-size: 0.8rem; }
.critic-comment:hover::before, .critic-comment:focus::before { content: "[note] "; }
"""
# print: comments as margin notes, a change bar in the margin, the proof line at every foot
PDF_CSS = """
.proof-status {{ color: #9a1b1b; font-family: "Linux Biolinum O", "DejaVu Sans"; font-size: 8pt; font-weight: bold; }}
.status {{ font-family: "Linux Biolinum O", "DejaVu Sans"; font-size: 6.5pt; text-transform: uppercase; color: #9a1b1b; }}
.critic-ins {{ color: #0b6b2b; text-decoration: underline; }}
.critic-del {{ color: #9a1b1b; text-decoration: line-through; }}
.critic-mark {{ background: #fff3a8; }}
.critic-comment {{ float: right; clear: right; width: 14mm; margin-right: -17mm; font-size: 6pt; line-height: 1.2;
  color: #5b3f99; font-family: "Linux Biolinum O", "DejaVu Sans"; text-align: left; text-indent: 0; hyphens: manual; }}
.proof-changed {{ margin-left: -5mm; padding-left: 4.47mm; border-left: 1.5pt solid #d4760b; }}
section[data-proof-status] {{ string-set: proof-status attr(data-proof-status); }}
@page {{ @bottom-center {{ content: "{line} · " string(proof-status); font-family: "Linux Biolinum O", "DejaVu Sans"; font-size: 5.5pt;
  color: #9a1b1b; vertical-align: bottom; padding-bottom: 5mm; white-space: nowrap; hyphens: manual; }} }}
@page front {{ @bottom-center {{ content: counter(page, lower-roman) "\\A {line} · " string(proof-status);
  white-space: pre; }} }}
@page front:blank {{ @bottom-center {{ content: "{line}"; }} }}
"""


@dataclass
class ProofInfo:
    """What the proof templates show: the proof line and the styles of proofs."""

    title: str
    round: str              # the round compared with ("" when there is none)
    stamp: str              # build date and time
    commit: str             # the commit built ("" outside git)
    this_round: str = ""    # the round this proof is, when the commit built is tagged proof-*
    edited: bool = False    # the book has edits not yet committed (the proof shows them)

    @property
    def line(self) -> str:
        parts = [self.title, f"Proof {self.this_round}" if self.this_round else "Proof"]
        parts.append(f"changes since {self.round}" if self.round else "no earlier round")
        parts.append(self.stamp)
        parts.append((f"commit {self.commit}" + (" with uncommitted edits" if self.edited else ""))
                     if self.commit else "not in git")
        return " · ".join(parts)

    @property
    def css(self) -> Markup:
        return Markup(HTML_CSS)

    @property
    def pdf_css(self) -> Markup:
        line = self.line.replace("\\", "\\\\").replace('"', '\\"')
        return Markup(PDF_CSS.format(line=line))

    @staticmethod
    def status_note(status: str) -> str:
        return STATUS_NOTES.get(status, status)


# ---------------------------------------------------------------- git

def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.decode("utf-8", "replace").strip() if done.returncode == 0 else None


def _round_ref(root: Path, since: str | None, book: Book) -> tuple[str | None, str]:
    """(the round to compare with, the round this proof is): ``since``; or the last ``proof-*`` tag.

    A commit that carries a ``proof-*`` tag, built with no edits since, is that round's proof (the
    editors tagged it to send it out, and CI builds the tag): it is compared with the round before."""
    if since is not None:
        return since, ""
    here = _git(root, "tag", "--points-at", "HEAD", "--list", TAG_PATTERN)
    if here and not _edited(root, book):
        this = _git(root, "describe", "--tags", "--abbrev=0", f"--match={TAG_PATTERN}", "HEAD") or ""
        before = _git(root, "describe", "--tags", "--abbrev=0", f"--match={TAG_PATTERN}", "HEAD^")
        return before or None, this
    return _git(root, "describe", "--tags", "--abbrev=0", f"--match={TAG_PATTERN}", "HEAD") or None, ""


def _edited(root: Path, book: Book) -> bool:
    """Whether the book on disk is not the commit built: a file git tracks was changed (outside build/), or a
    file the book reads (its book.yml, a chapter, a bibliography) is not yet added. Other files git does not
    track (the FILE.bak that accept keeps, an editor's notes) are no edit."""
    if _git(root, "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)build") != "":
        return True
    read = [CONFIG_NAME, QUARTO_NAME, BOOKDOWN_NAME, *(c.path for c in book.chapters), *book.config.bibliography]
    return bool(_git(root, "--literal-pathspecs", "ls-files", "--others", "--exclude-standard", "--", *read))


def _commit(root: Path, ref: str) -> str | None:
    """The commit ``ref`` names (a tag, branch or commit), or None. The name is never read as an option:
    ``--since=--output=FILE`` would have git write FILE."""
    if not ref or ref.startswith("-"):
        return None
    return _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}") or None


def _checkout(root: Path, ref: str, into: Path) -> Path | None:
    """The book as it was at ``ref``, extracted into ``into``; its root there (None if it cannot be)."""
    top = _git(root, "rev-parse", "--show-toplevel")
    commit = _commit(root, ref)
    if top is None or commit is None:
        return None
    prefix = root.resolve().relative_to(Path(top).resolve()).as_posix()
    try:
        done = subprocess.run(["git", "-C", top, "archive", "--format=tar", commit, "--"]
                              + ([prefix] if prefix != "." else []), capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        archive.extractall(into, filter="data")
    return into if prefix == "." else into / prefix


def _last_changed(root: Path, chapter) -> str:
    """When the chapter's file, or a file it includes, last changed in git."""
    lines = getattr(chapter.sources, "origins", None)
    paths = sorted({chapter.path} | ({path for path, _ in lines.origins} if lines is not None else set()))
    # (each a file's name, not a pattern: a chapter 'a*.md' is not every file it would match)
    return _git(root, "--literal-pathspecs", "log", "-1", "--format=%cI", "--", *paths) or ""


def _stamp() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    moment = dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc) if epoch.isdigit() \
        else dt.datetime.now(dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


# ---------------------------------------------------------------- text as readers see it

def block_text(block) -> str:
    """A block's words as readers see them (whitespace normalised; editors' comments left out)."""
    out: list[str] = []

    def walk(node) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("t")
        if kind == "Str":
            out.append(node["c"])
        elif kind in ("Space", "SoftBreak", "LineBreak"):
            out.append(" ")
        elif kind in ("Code", "Math"):
            out.append(node["c"][-1])
        elif kind == "Span" and "critic-comment" in node["c"][0][1]:
            return
        elif kind == "Span" and "chapter-label" in node["c"][0][1]:   # "Chapter 3", then the title
            walk(node["c"][1])
            out.append(" ")
        else:
            if kind in ("Para", "Plain", "Header"):
                out.append(" ")
            walk(node.get("c"))

    walk(block)
    return " ".join("".join(out).split())


def _is_title(block) -> bool:
    return block.get("t") == "Header" and block["c"][0] == 1


def paragraphs(blocks: list) -> list[tuple[int, str]]:
    """(index of the top-level block, its text) for every block with text."""
    return [(i, t) for i, b in enumerate(blocks) if (t := block_text(b))]


@dataclass
class ChapterDiff:
    added: int = 0              # words
    removed: int = 0
    changed_blocks: set = field(default_factory=set)   # top-level block indices of "now"
    html: str = ""              # the diff, as HTML paragraphs


def _word_diff(old: str, new: str) -> tuple[str, int, int]:
    a, b = old.split(), new.split()
    out, added, removed = [], 0, 0
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(escape(" ".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(f"<del>{escape(' '.join(a[i1:i2]))}</del>")
            removed += i2 - i1
        if j2 > j1:
            out.append(f"<ins>{escape(' '.join(b[j1:j2]))}</ins>")
            added += j2 - j1
    return " ".join(out), added, removed


def diff_chapter(then_blocks: list, now_blocks: list) -> ChapterDiff:
    then, now = paragraphs(then_blocks), paragraphs(now_blocks)
    result = ChapterDiff()
    parts: list[str] = []
    matcher = difflib.SequenceMatcher(None, [t for _, t in then], [t for _, t in now], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        old, new = then[i1:i2], now[j1:j2]
        for k in range(max(len(old), len(new))):
            o = old[k][1] if k < len(old) else ""
            n = new[k][1] if k < len(new) else ""
            html, added, removed = _word_diff(o, n)
            result.added += added
            result.removed += removed
            if k < len(new):
                result.changed_blocks.add(new[k][0])
            parts.append(f'<p class="{"changed" if o and n else ("inserted" if n else "deleted")}">{html}</p>')
    result.html = "\n".join(parts)
    return result


# ---------------------------------------------------------------- the round

@dataclass
class Then:
    book: Book
    index: LabelIndex
    prepared: Prepared
    images: dict = field(default_factory=dict)   # (chapter path, image target) -> content hash


def load_round(root: Path, ref: str, progress) -> tuple[Then | None, str]:
    """The book at ``ref``, checked and transformed; or None and why not."""
    with tempfile.TemporaryDirectory(prefix="build_book-round-") as folder:
        then_root = _checkout(root, ref, Path(folder))
        if then_root is None:
            return None, f"'{ref}' is no commit or tag of the book's git repository"
        if not (then_root / "book.yml").is_file():
            return None, f"the book had no book.yml at '{ref}'"
        cache = root / "build" / ".cache"
        if cache.is_dir():    # parsed chapters that did not change need no second parse
            shutil.copytree(cache / "ast", then_root / "build" / ".cache" / "ast", dirs_exist_ok=True) \
                if (cache / "ast").is_dir() else None
        result = pipeline._check(then_root, None)
        if result.book is None or has_errors(result.diagnostics):
            return None, f"the book at '{ref}' has errors, so it cannot be compared"
        try:
            prepared = prepare(result.book, result.index, Silent())
        except BuildError:
            return None, f"the book at '{ref}' could not be formatted, so it cannot be compared"
        # read every chapter now: the round's cache goes with its folder
        prepared = replace(prepared, chapters={c.index: list(prepared.chapters.get(c.index, []))
                                               for c in result.book.chapters}, cache=None)
        then = Then(result.book, result.index, prepared)
        for chapter in result.book.chapters:   # image contents are read now, while the files are there
            for target in chapter.targets.images:
                path = _image(result.book, chapter, target)
                if path is not None:
                    then.images[(chapter.path, target)] = _hash(path)
        return then, ""


def _image(book: Book, chapter, target: str) -> Path | None:
    """The image file a chapter's target names, found as the editions find it (never outside the book)."""
    found = image_file(book, chapter, target)
    return found[0] if found and found[0].is_file() else None


def _hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- counting

def _count(index: LabelIndex, chapter, prepared: Prepared) -> dict:
    blocks = chapter.blocks
    figures = sum(1 for lab in index.of_kind("figure") if lab.chapter == chapter.index)
    tables = sum(1 for lab in index.of_kind("table") if lab.chapter == chapter.index)
    cites = notes = 0
    for node in elements(blocks):
        if node["t"] == "Cite":
            cites += sum(1 for c in node["c"][0] if not is_crossref(c["citationId"]))
        elif node["t"] == "Note":
            notes += 1
    words = sum(len(t.split()) for _, t in paragraphs(prepared.chapters.get(chapter.index, blocks)))
    return {"words": words, "figures": figures, "tables": tables, "citations": cites, "footnotes": notes}


# ---------------------------------------------------------------- the build

def build_proof(root: Path, *, since: str | None = None, strict: bool = False,
                progress: Progress | None = None, jobs: int | None = None) -> tuple[Path, list[Diagnostic]]:
    """Build the proof round into build/proof/; raise BuildError (nothing written) on errors."""
    progress = progress or Silent()
    root = root.resolve()
    out_dir = root / "build"
    target = out_dir / PROOF_DIR
    with pipeline._interruptible(), pipeline._locked(out_dir, progress, wait=True, create=True):
        try:   # a publication a killed build (or proof) had begun is completed first
            if pipeline._recover(out_dir):
                progress.step("completed the publication an interrupted build had begun")
            pipeline._remove_stale_staging(out_dir)
        except OSError as exc:
            raise BuildError([pipeline._unwritable(root, out_dir, exc)]) from None
        progress.step(f"reading the book in {root}")
        result = pipeline._check(root, progress, jobs)
        if result.book is None or has_errors(result.diagnostics, strict):
            raise BuildError(result.diagnostics)
        book, index = result.book, result.index
        diags = list(result.diagnostics)
        prepared = prepare(book, index, progress, jobs, lean=True)   # a proof lays out the PDF
        commit = _git(root, "rev-parse", "--short=12", "HEAD") or ""
        ref, this_round = _round_ref(root, since, book) if commit else (None, "")
        then, why = (None, "")
        if ref is not None:
            progress.step(f"reading the round '{ref}' to compare with")
            then, why = load_round(root, ref, progress)
        if since is not None and then is None:
            why = why or "the book is not in a git repository"
        if why:
            # (about no file of the book: placed at the proof round it concerns, as build-unwritable is at build/)
            diags.append(warning("proof-round", f"no changes are shown: {why}", Location(f"build/{PROOF_DIR}/"),
                                 "name a tag or commit with --since REF, or tag a round: git tag proof-1"))
        edited = bool(commit) and _edited(root, book)
        info = ProofInfo(book.title, ref if then else "", _stamp(), commit, this_round, edited)
        report = _report(root, book, index, prepared, then, info, diags)
        # change bars: each changed block of "now" in a div the proof styles mark. The proof's documents
        # differ from the public ones, so they use none of the public editions' caches (nor prune them).
        chapters = {}
        for chapter in book.chapters:
            changed = report["chapters"][chapter.index].get("_blocks", set())
            blocks = list(prepared.chapters.get(chapter.index, []))
            for i in sorted(changed, reverse=True):
                if i < len(blocks) and not _is_title(blocks[i]):
                    blocks[i:i + 1] = _barred(blocks[i])
            chapters[chapter.index] = blocks
        prepared = replace(prepared, chapters=chapters, fragments={}, keys={}, references_key="", cache=None)
        # built in a staging folder, then published as the main build publishes: through the journal, so a
        # proof killed half-way leaves the previous build/proof or the new one, completed by the next command
        staging_root = Path(tempfile.mkdtemp(prefix=f"{pipeline.STAGING_PREFIX}-{os.getpid()}-proof-", dir=out_dir))
        staging = staging_root / PROOF_DIR
        staging.mkdir()
        rendered: list[Diagnostic] = []   # what the renderers found (a PDF resource refused, ...)
        try:
            for edition in ("pdf", "epub", "html"):
                folder = staging / f".{edition}"
                folder.mkdir()
                progress.step(f"rendering the {edition.upper()} proof")
                for made in RENDERERS[edition](RenderContext(book, index, prepared, folder, progress, rendered, proof=info)):
                    os.replace(made, staging / made.name)
                folder.rmdir()
            _write_report(staging, report, info)
            try:
                pipeline._publish(staging_root, [staging], out_dir)
            except OSError as exc:
                raise BuildError([pipeline._unwritable(root, out_dir, exc)]) from None
        finally:
            try:
                pipeline._recover(out_dir)
            except OSError:
                pass   # the journal stays, and the staging with it: the next command completes it
            else:
                shutil.rmtree(staging_root, ignore_errors=True)
    return target, diags + rendered


def _barred(block) -> list:
    """A changed block marked for a change bar. A paragraph stays a paragraph (``<p class=...>``), so
    the paragraph indents of the house style (``p + p``) hold around it; other blocks go in a div."""
    if block.get("t") == "Para":
        return [{"t": "RawBlock", "c": ["html", f'<p class="{CHANGED}">']}, {"t": "Plain", "c": block["c"]},
                {"t": "RawBlock", "c": ["html", "</p>"]}]
    return [{"t": "Div", "c": [["", [CHANGED], []], [block]]}]


def _report(root: Path, book: Book, index: LabelIndex, prepared: Prepared, then: Then | None,
            info: ProofInfo, diags: list[Diagnostic]) -> dict:
    words = book.config.words
    by_path = {}
    for d in diags:
        by_path.setdefault(d.location.path, []).append(d)
    then_chapters = {c.label: c for c in then.book.chapters} if then else {}
    chapters = []
    for chapter in book.chapters:
        mine = by_path.pop(chapter.path, [])
        row = {
            "title": chapter.title, "path": chapter.path, "label": chapter.label,
            "number": index.chapter_numbers.get(chapter.index),
            "authors": [p.name for p in book.authors_of(chapter)],
            "status": chapter.status or "",
            **_count(index, chapter, prepared),
            "marks": sum(1 for d in mine if d.code == "critic-mark"),
            "diagnostics": [_diag(d) for d in mine],
            "last_changed": _last_changed(root, chapter),
            "changed": None,
        }
        if then is not None:
            old = then_chapters.get(chapter.label)
            if old is None:
                row["changed"] = {"added": row["words"], "removed": 0, "new": True,
                                  "diff": f"diff/{page_name(chapter, '.html')}"}
                row["_blocks"] = set(range(len(prepared.chapters.get(chapter.index, []))))
                row["_diff"] = diff_chapter([], prepared.chapters.get(chapter.index, []))
            else:
                d = diff_chapter(then.prepared.chapters.get(old.index, []), prepared.chapters.get(chapter.index, []))
                before, after = " ".join(old.abstract.split()), " ".join(chapter.abstract.split())
                if before != after:   # the abstract stands under the title, in book.yml's words: no bar
                    html, added, removed = _word_diff(before, after)
                    d.added, d.removed = d.added + added, d.removed + removed
                    d.html = f'<p class="changed"><em>Abstract:</em> {html}</p>\n' + d.html
                if d.added or d.removed:
                    row["changed"] = {"added": d.added, "removed": d.removed, "new": False,
                                      "diff": f"diff/{page_name(chapter, '.html')}"}
                    row["_blocks"], row["_diff"] = d.changed_blocks, d
                else:
                    row["changed"] = {"added": 0, "removed": 0, "new": False, "diff": None}
        chapters.append(row)
    report = {
        "title": book.title, "slug": book.config.slug, "proof": info.line, "round": info.round or None,
        "this_round": info.this_round or None, "uncommitted_edits": info.edited, "commit": info.commit or None,
        "built": info.stamp, "chapters": chapters,
        "totals": {k: sum(c[k] for c in chapters) for k in
                   ("words", "figures", "tables", "citations", "footnotes", "marks")},
        "diagnostics": [_diag(d) for ds in by_path.values() for d in ds],
        "errors": sum(d.severity == "error" for d in diags),
        "warnings": sum(d.severity == "warning" for d in diags),
        "changes": _book_changes(root, book, index, then, words) if then else None,
    }
    return report


def _diag(d: Diagnostic) -> dict:
    return {"severity": d.severity, "code": d.code, "message": d.message,
            "where": f"{d.location.path}:{d.location.line}" if d.location.line else d.location.path}


def _book_changes(root: Path, book: Book, index: LabelIndex, then: Then, words: dict) -> dict:
    now_order = [c.label for c in book.chapters]
    then_order = [c.label for c in then.book.chapters]
    added = [c.title for c in book.chapters if c.label not in then_order]
    removed = [c.title for c in then.book.chapters if c.label not in now_order]
    kept_now = [lab for lab in now_order if lab in then_order]
    kept_then = [lab for lab in then_order if lab in now_order]
    moved = []
    if kept_now != kept_then:
        matcher = difflib.SequenceMatcher(None, kept_then, kept_now, autojunk=False)
        stay = {kept_now[j] for block in matcher.get_matching_blocks() for j in range(block.b, block.b + block.size)}
        moved = [book.chapters[now_order.index(lab)].title for lab in kept_now if lab not in stay]
    renumbered = []
    for kind in ("figure", "table"):
        for label in index.of_kind(kind):
            old = then.index.get(label.id)
            if old is not None and old.number and label.number and old.number != label.number:
                renumbered.append(f"{then.index.reference_text(old, then.book.config.words)} is now "
                                  f"{index.reference_text(label, words)}")
    images = []
    for chapter in book.chapters:
        for target in chapter.targets.images:
            path = _image(book, chapter, target)
            before = then.images.get((chapter.path, target))
            if before and path is not None and _hash(path) != before:
                images.append(f"{chapter.path}: {target}")
    old_bib, new_bib = then.book.bibliography.entries, book.bibliography.entries
    return {
        "chapters_added": added, "chapters_removed": removed, "chapters_moved": moved,
        "renumbered": renumbered, "images_changed": sorted(set(images)),
        "bibliography_added": sorted(set(new_bib) - set(old_bib)),
        "bibliography_removed": sorted(set(old_bib) - set(new_bib)),
        "bibliography_changed": sorted(k for k in set(new_bib) & set(old_bib)
                                       if _entry(new_bib[k]) != _entry(old_bib[k])),
    }


def _entry(entry) -> str:
    """An entry as compared across rounds: its type and fields, not where in the file it stands."""
    fields = getattr(entry, "fields", None)
    if isinstance(fields, dict):
        return json.dumps([str(getattr(entry, "type", "")).lower(), {k.lower(): str(v) for k, v in fields.items()}],
                          sort_keys=True)
    return repr(entry)


# ---------------------------------------------------------------- the report's pages

REPORT_CSS = """body { font-family: "Linux Biolinum O", "DejaVu Sans"; margin: 1.5rem; max-width: 70rem; line-height: 1.4; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 0.2rem 0.4rem; text-align: left; }
.draft, .review { color: #9a1b1b; font-weight: bold; } ins { background: #dff5e3; color: #0b6b2b; }
del { background: #fbe3e3; color: #9a1b1b; } .error { color: #9a1b1b; } p.inserted, p.deleted, p.changed
{ border-left: 3px solid #d4760b; padding-left: 0.5rem; }"""


CHANGE_NOTES = (("chapters_added", "Chapters added"), ("chapters_removed", "Chapters removed"),
                ("chapters_moved", "Chapters moved"), ("renumbered", "Renumbered"),
                ("images_changed", "Figure images changed"), ("bibliography_added", "Bibliography entries added"),
                ("bibliography_removed", "Bibliography entries removed"),
                ("bibliography_changed", "Bibliography entries changed"))


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{escape(title)}</title>\n'
            f"<style>{REPORT_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def _write_report(folder: Path, report: dict, info: ProofInfo) -> None:
    diffs = folder / "diff"
    rows = []
    for row in report["chapters"]:
        diff = row.pop("_diff", None)
        row.pop("_blocks", None)
        change = row["changed"]
        if diff is not None and change and change["diff"]:
            diffs.mkdir(exist_ok=True)
            (folder / change["diff"]).write_text(_page(
                f"Changes: {row['title']}",
                f"<h1>Changes in {escape(row['title'])}</h1>\n<p>since {escape(report['round'] or '')}: "
                f"{change['added']} words added, {change['removed']} removed. "
                f'<a href="../index.html">Back to the report</a></p>\n{diff.html}'), encoding="utf-8")
        if change is None:
            changed = "no round"
        elif change["diff"]:
            changed = (f'<a href="{escape(change["diff"])}">{"new" if change["new"] else "changed"}: '
                       f'+{change["added"]} −{change["removed"]} words</a>')
        else:
            changed = "unchanged"
        problems = "<br>".join(f'<span class="{d["severity"]}">{escape(d["where"])}: {d["severity"]}[{escape(d["code"])}]'
                               f' {escape(d["message"])}</span>' for d in row["diagnostics"])
        rows.append(f"<tr><td>{escape(str(row['number'] or ''))}</td><td>{escape(row['title'])}<br><small>"
                    f"{escape(', '.join(row['authors']))}</small></td><td class=\"{escape(row['status'])}\">"
                    f"{escape(row['status'] or '–')}</td><td>{row['words']}</td><td>{row['figures']}</td>"
                    f"<td>{row['tables']}</td><td>{row['citations']}</td><td>{row['footnotes']}</td>"
                    f"<td>{row['marks']}</td><td>{changed}</td><td>{escape(row['last_changed'][:10])}</td>"
                    f"<td>{problems}</td></tr>")
    totals = report["totals"]
    changes = report["changes"] or {}
    notes = []
    for key, words in CHANGE_NOTES:
        if changes.get(key):
            notes.append(f"<li>{words}: {escape('; '.join(changes[key]))}</li>")
    book_diags = "".join(f'<li class="{d["severity"]}">{escape(d["where"])}: {d["severity"]}[{escape(d["code"])}] '
                         f'{escape(d["message"])}</li>' for d in report["diagnostics"])
    body = (f"<h1>Proof: {escape(report['title'])}</h1>\n<p>{escape(info.line)}</p>\n"
            f"<p>{report['errors']} errors, {report['warnings']} warnings. Editions: "
            '<a href="{0}.pdf">PDF</a>, <a href="{0}.epub">EPUB</a>, <a href="html/index.html">web</a>.</p>\n'
            .replace("{0}", escape(report.get("slug", ""))))
    body += ("<table>\n<tr><th>No.</th><th>Chapter</th><th>Status</th><th>Words</th><th>Figures</th><th>Tables</th>"
             "<th>Citations</th><th>Notes</th><th>Marks</th><th>Since the round</th><th>Last changed</th>"
             "<th>Problems</th></tr>\n" + "\n".join(rows) +
             f"\n<tr><th></th><th>Total</th><th></th><td>{totals['words']}</td><td>{totals['figures']}</td>"
             f"<td>{totals['tables']}</td><td>{totals['citations']}</td><td>{totals['footnotes']}</td>"
             f"<td>{totals['marks']}</td><td></td><td></td><td></td></tr>\n</table>\n")
    if notes:
        body += "<h2>Changes in the book</h2>\n<ul>" + "".join(notes) + "</ul>\n"
    if book_diags:
        body += "<h2>Problems outside the chapters</h2>\n<ul>" + book_diags + "</ul>\n"
    (folder / "index.html").write_text(_page(f"Proof: {report['title']}", body), encoding="utf-8")
    (folder / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def summary(report: dict) -> str:
    """The report in a few Markdown lines (for CI's step summary)."""
    lines = [f"### {report['proof']}", "",
             f"{report['errors']} errors, {report['warnings']} warnings, {report['totals']['words']} words, "
             f"{report['totals']['marks']} open editor's marks", "",
             "| Chapter | Status | Words | Marks | Since the round |", "| --- | --- | --- | --- | --- |"]
    for row in report["chapters"]:
        change = row["changed"]
        since = "–" if change is None else (f"+{change['added']} −{change['removed']}" if change["diff"] else "unchanged")
        lines.append(f"| {row['title']} | {row['status'] or '–'} | {row['words']} | {row['marks']} | {since} |")
    changes = report.get("changes") or {}
    notes = [f"- {words}: {'; '.join(changes[key])}" for key, words in CHANGE_NOTES if changes.get(key)]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"
