#!/usr/bin/env python3
"""Benchmark build_book on a synthetic book of the size of a large edited volume.

Writes a book of 12 chapters, about 145,000 words, with 1,000 bibliography entries (two works per author
and year, so that citeproc must write 2001a/2001b), 1,200 citations, 480 footnotes and cross-references
between chapters, into a temporary folder. Then, in one run, times each task (median of --repeat runs)
and its peak memory (the resident memory of the whole process tree, build_book and every pandoc it
runs, sampled from /proc; and its PSS, where a page that forked processes share counts once; from one
more run, since sampling slows what it samples), and prints
each as a ratio to plain pandoc on the same chapters measured in the same run:

    check, HTML and EPUB from nothing (no build/ folder), each again with nothing changed, and HTML and
    check after a one-word edit in one chapter; PDF rows with --pdf (slow): the PDF laid out as one
    document, cold, and in pieces (cold, nothing changed, one chapter edited: as ratios to the one
    document), and a book twice the size in pieces (as a ratio to the first); the time from a saved edit
    to the reload event reaching an open page under a real `serve` (an HTTP client on its event stream, as
    the browser's script is), with the server's own rebuild time beside it. Edits are shown against
    pandoc's one-page HTML of the whole book, as issue 9 sets their targets; pandoc on the edited chapter
    alone is printed for comparison. Each row with a target in issue 9 says whether this run met it (the
    PDF's memory target is read as PSS: a page forked processes share is counted once).

The machine a benchmark runs on may change speed by a third within minutes (a shared host), so a row
shown against plain pandoc alternates with it: each run of the task follows a run of its baseline, and
the row's ratio is the median of these pairs' ratios (its time, the median of the task's runs); the
baselines printed first are runs of their own.

build_book's own modules are compiled to bytecode first (as an installed copy is), so that a setting such
as PYTHONDONTWRITEBYTECODE does not make every run compile them again. The load average is printed at the
start and the end: on a shared machine, compare the ratios of one run.

    .venv/bin/python scripts/benchmark.py [--repeat 3] [--jobs N] [--pdf] [--keep DIR]

This is a script to read, not a test: nothing fails on a slow machine.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import statistics
import tempfile
import threading
import time
from pathlib import Path

WORDS = ("alliance treaty security commitment deterrence burden sharing bases asymmetry autonomy entrapment "
         "abandonment consultation guidelines cooperation defense policy government negotiation ratification "
         "parliament public opinion military forces region partner strategy crisis war peace the of and in to "
         "a for with on by as that which was were is are its their").split()


def paragraph(rng: random.Random, words: int, keys: list[str], labels: list[str], every: int) -> str:
    out = []
    for i in range(words):
        out.append(rng.choice(WORDS))
        if rng.random() < 1 / every:
            out[-1] += f" [@{rng.choice(keys)}, {rng.randint(1, 300)}]"
        if rng.random() < 1 / 500 and labels:
            out[-1] += f" (see @{rng.choice(labels)})"
    return " ".join(out).capitalize() + "."


def make_book(root: Path, words: int, entries: int, chapters: int = 12, citations: int = 1200,
              footnotes: int = 480) -> list[str]:
    """Write the synthetic book; return its chapter files (relative to ``root``)."""
    rng = random.Random(2012)
    (root / "chapters").mkdir(parents=True)
    (root / "bibliography").mkdir()
    keys = [f"author{i:04d}" for i in range(entries)]
    bib = []
    for i, key in enumerate(keys):
        # two works per author and year: citeproc must tell them apart (2001a, 2001b) across chapters
        bib.append(f"@book{{{key},\n  author = {{Author{i // 2}, Given}},\n  title = {{A Study of Alliances, "
                   f"Volume {i}}},\n  publisher = {{Example Press}},\n  address = {{Tokyo}},\n"
                   f"  year = {{{1950 + (i // 2) % 60}}}\n}}\n")
    (root / "bibliography" / "references.bib").write_text("\n".join(bib), encoding="utf-8")
    per_chapter = words // chapters
    per_paragraph = 150
    paragraphs = per_chapter // per_paragraph
    every = max(10, words // max(1, citations - footnotes))    # citations in the text; the rest in footnotes
    note_every = max(1, (paragraphs * chapters) // max(1, footnotes))
    labels = [f"sec-ch{c:02d}" for c in range(chapters)]
    files = []
    count = 0
    for c in range(chapters):
        lines = [f"---\nauthors: [a]\nstatus: draft\n---\n\n# Alliance Politics, Study {c + 1} {{#sec-ch{c:02d}}}\n"]
        section = 0
        for p in range(paragraphs):
            if p % 10 == 0:
                section += 1
                lines.append(f"## Section {section} {{#sec-ch{c:02d}-s{section}}}\n")
            text = paragraph(rng, per_paragraph, keys, labels, every)
            count += 1
            if count % note_every == 0:
                lines.append(text + f"[^n{p}]\n\n[^n{p}]: See [@{rng.choice(keys)}].\n")
            else:
                lines.append(text + "\n")
        lines.append(f"| Key | Year |\n|:--|:--|\n| a | [@{keys[c]}] |\n\n: Table {c} {{#tbl-ch{c:02d}}}\n")
        lines.append(f"See @tbl-ch{c:02d}.\n")
        name = f"chapters/{c:02d}.md"
        (root / name).write_text("\n".join(lines), encoding="utf-8")
        files.append(name)
    chapter_list = "\n".join(f"  - {f}" for f in files)
    (root / "book.yml").write_text(
        "title: Synthetic Volume\ncontributors:\n  a:\n    name: A Author\n"
        f"bibliography: bibliography/references.bib\ndiagnostics:\n  bib-unused: off\n"
        f"chapters:\n{chapter_list}\n", encoding="utf-8")
    return files


def pandoc_binary() -> str:
    import pypandoc
    return pypandoc.get_pandoc_path()


def _tree_rss(root_pid: int) -> tuple[int, int]:
    """Resident memory (bytes) of ``root_pid`` and all its descendants, from /proc: the sum of their
    resident sets (pages shared by forked processes counted once per process), and of their
    proportional sets (PSS: a shared page divided among the processes that share it)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            parents[int(entry)] = int(fields[1])
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    tree, changed = {root_pid}, True
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                changed = True
    return sum(rss.get(pid, 0) for pid in tree), sum(_pss(pid, rss.get(pid, 0)) for pid in tree)


def _pss(pid: int, rss: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return rss


def measure(command: list[str], cwd: Path | None = None,
            sample: bool = True) -> tuple[float, tuple[int, int], subprocess.CompletedProcess]:
    """Wall time, peak memory of the process tree (resident, and proportional: see ``_tree_rss``; zero
    unless ``sample``), and the result of ``command``."""
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, pss = 0, 0
    done = threading.Event()

    def sampling():
        nonlocal peak, pss
        while not done.is_set():
            now = _tree_rss(child.pid)
            peak, pss = max(peak, now[0]), max(pss, now[1])
            done.wait(0.05)

    sampler = threading.Thread(target=sampling, daemon=True)
    if sample:
        sampler.start()
    out, err = child.communicate()
    seconds = time.perf_counter() - start
    done.set()
    if sample:
        sampler.join()
    return seconds, (peak, pss), subprocess.CompletedProcess(command, child.returncode, out, err)


def build_book(args: list[str], root: Path, jobs: int | None) -> list[str]:
    extra = ["--jobs", str(jobs)] if jobs else []
    return [sys.executable, "-m", "build_book", *args, "--book", str(root), *extra]


def has_command(name: str) -> bool:
    result = subprocess.run([sys.executable, "-m", "build_book", "--help"], capture_output=True, text=True)
    return f"    {name} " in result.stdout or f"\n    {name}\n" in result.stdout


class Edits:
    """A one-word edit in one chapter, a different one each time."""

    def __init__(self, path: Path):
        self.path, self.n = path, 0

    def __call__(self) -> None:
        self.n += 1
        text = self.path.read_text(encoding="utf-8")
        old, new = ("treaty", "treatise") if self.n % 2 else ("treatise", "treaty")
        self.path.write_text(text.replace(f" {old} ", f" {new} ", 1), encoding="utf-8")


# the targets of issue 9 (on 2 cores): a ratio to the row's baseline, seconds, or megabytes of peak memory
TARGETS = {
    "check, one chapter edited": ("s", 0.3),
    "HTML, cold": ("x", 1.0), "EPUB, cold": ("x", 1.0),
    "HTML, nothing changed": ("x", 0.2), "EPUB, nothing changed": ("x", 0.2),
    "HTML, one chapter edited": ("x", 0.3),
    "serve, save to reloaded page": ("s", 1.0),
    "PDF in pieces, cold": ("x", 0.5), "PDF in pieces, chapter edited": ("x", 0.15),
    "PDF in pieces, twice the size": ("x", 2.1),
}
PDF_MEMORY_MB = 500    # peak memory of the PDF of the benchmark book (584 pages in the issue)


def verdict(name: str, seconds: float, ratio: float, peak: tuple[int, int] | None) -> str:
    """The row's target and whether this run met it ('' for a row without one)."""
    out = []
    if name in TARGETS:
        unit, limit = TARGETS[name]
        value = seconds if unit == "s" else ratio
        out.append(f"<= {limit:g}{' s' if unit == 's' else 'x'} {'met' if value <= limit else 'MISSED'}")
    if peak is not None and name.startswith("PDF in pieces, c"):
        mb = peak[1] / 2**20
        out.append(f"PSS <= {PDF_MEMORY_MB} MB {'met' if mb <= PDF_MEMORY_MB else 'MISSED'}")
    return "; ".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--words", type=int, default=145_000)
    parser.add_argument("--entries", type=int, default=1_000)
    parser.add_argument("--chapters", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each task; the median is shown")
    parser.add_argument("--jobs", type=int, default=None, help="build_book --jobs (default: every core)")
    parser.add_argument("--pdf", action="store_true", help="time the PDF too (slow)")
    parser.add_argument("--keep", type=Path, help="write the synthetic book here and keep it")
    args = parser.parse_args()
    import compileall
    import importlib.util
    compileall.compile_dir(str(Path(importlib.util.find_spec("build_book").origin).parent), quiet=1)
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    root = args.keep or Path(tempfile.mkdtemp(prefix="build_book-bench-")) / "book"
    if root.exists():
        shutil.rmtree(root)
    files = make_book(root, args.words, args.entries, args.chapters)
    words = sum(len((root / f).read_text().split()) for f in files)
    cites = sum((root / f).read_text().count("[@") for f in files)
    print(f"synthetic book: {words:,} words in {len(files)} chapters, {args.entries:,} bibliography entries, "
          f"{cites:,} citations; {os.cpu_count()} cores, --jobs {args.jobs or 'default'}; "
          f"median of {args.repeat} runs", flush=True)
    pandoc = pandoc_binary()
    bib = str(root / "bibliography" / "references.bib")
    chapters = [str(root / f) for f in files]
    out = Path(tempfile.mkdtemp(prefix="build_book-bench-pandoc-"))
    edited = root / files[len(files) // 2]
    edit = Edits(edited)

    def median(command, before=None, cwd=None, paired=None):
        # the memory sampler reads /proc every 50 ms, which takes CPU (and page-table locks) from what
        # it measures: on 2 cores it added 1-3 s to a cold HTML build. So the times are of runs without
        # it, and the peak memory is of one more run, sampled. With ``paired`` (a baseline's command),
        # each run follows a run of the baseline, and the ratios of the pairs are returned as well.
        if before:
            before()
        _, peak, result = measure(command, cwd, sample=True)
        times, ratios = [], []
        for _ in range(args.repeat if result.returncode == 0 else 0):
            if paired:
                baseline, _, _ = measure(paired, sample=False)
            if before:
                before()
            seconds, _, result = measure(command, cwd, sample=False)
            times.append(seconds)
            if paired:
                ratios.append(seconds / baseline)
            if result.returncode != 0:
                break
        seconds = statistics.median(times or [float("nan")])
        return seconds, peak, result, (statistics.median(ratios) if ratios else None)

    def cold():
        shutil.rmtree(root / "build", ignore_errors=True)

    commands = {
        "read": [pandoc, *chapters, "-t", "json", "-o", str(out / "book.json")],
        "html": [pandoc, *chapters, "--citeproc", f"--bibliography={bib}", "-s", "--metadata=title:x",
                 "-o", str(out / "book.html")],
        "epub": [pandoc, *chapters, "--citeproc", f"--bibliography={bib}", "--metadata=title:x",
                 "-o", str(out / "book.epub")],
        "chapter": [pandoc, str(edited), "--citeproc", f"--bibliography={bib}", "-s", "--metadata=title:x",
                    "-o", str(out / "chapter.html")],
    }
    base = {name: median(command)[:3] for name, command in commands.items()}
    print("\nplain pandoc (the baselines):")
    for name, what in (("read", "read every chapter (to JSON)"), ("html", "one-page HTML with citeproc"),
                       ("epub", "EPUB with citeproc"), ("chapter", "the edited chapter alone, HTML with citeproc")):
        seconds, peak, result = base[name]
        print(f"  {what:48s} {seconds:7.2f} s {peak[0] / 2**20:7.0f} MB" + ("" if result.returncode == 0 else
                                                                          f"  [exit {result.returncode}]"))
    bb = lambda *a: build_book(list(a), root, args.jobs)  # noqa: E731
    tasks = [
        ("check, cold", bb("check"), cold, "read"),
        ("check, nothing changed", bb("check"), None, "read"),
        ("check, one chapter edited", bb("check"), edit, "read"),
        ("HTML, cold", bb("html", "-q"), cold, "html"),
        ("HTML, nothing changed", bb("html", "-q"), None, "html"),
        ("HTML, one chapter edited", bb("html", "-q"), edit, "html"),
        ("EPUB, cold", bb("epub", "-q"), cold, "epub"),
        ("EPUB, nothing changed", bb("epub", "-q"), None, "epub"),
        ("EPUB, one chapter edited", bb("epub", "-q"), edit, "epub"),
    ]
    if args.pdf:
        # the PDF laid out as one document (BUILD_BOOK_PDF_PIECES=0) and in pieces (=1); rows in pieces
        # are shown against the one document, the book twice the size against the book in pieces
        one, pieces = ["env", "BUILD_BOOK_PDF_PIECES=0"], ["env", "BUILD_BOOK_PDF_PIECES=1"]
        tasks += [("PDF one document, cold", one + bb("pdf", "-q"), cold, "html"),
                  ("PDF in pieces, cold", pieces + bb("pdf", "-q"), cold, "PDF one document, cold"),
                  ("PDF in pieces, nothing changed", pieces + bb("pdf", "-q"), None, "PDF one document, cold"),
                  ("PDF in pieces, chapter edited", pieces + bb("pdf", "-q"), edit, "PDF one document, cold")]
        double = root.parent / "double"
        shutil.rmtree(double, ignore_errors=True)
        make_book(double, args.words * 2, args.entries, args.chapters * 2)
        tasks += [("PDF in pieces, twice the size", pieces + build_book(["pdf", "-q"], double, args.jobs),
                   lambda: shutil.rmtree(double / "build", ignore_errors=True), "PDF in pieces, cold")]
    print(f"\n  {'task':30s} {'time':>9s} {'x base':>9s} {'peak':>8s} {'x base':>9s} {'PSS':>8s}  "
          f"{'baseline':22s} target (issue 9)")
    failed = False
    for name, command, before, against in tasks:
        seconds, peak, result, ratio = median(command, before, paired=commands.get(against))
        b_seconds, b_peak, _ = base[against]
        ratio = seconds / b_seconds if ratio is None else ratio
        status = "" if result.returncode == 0 else f"  [exit {result.returncode}]"
        print(f"  {name:30s} {seconds:7.2f} s {ratio:8.2f}x {peak[0] / 2**20:5.0f} MB "
              f"{peak[0] / max(1, b_peak[0]):8.2f}x {peak[1] / 2**20:5.0f} MB  "
              f"{against + (' (paired)' if against in commands else ''):22s} "
              f"{verdict(name, seconds, ratio, peak)}{status}", flush=True)
        base[name] = (seconds, peak, result)   # a later row may be shown against this one
        if result.returncode != 0:
            failed = True
            print(result.stdout[-2000:], result.stderr[-2000:])
    if not args.pdf:
        print(f"  {'PDF rows':30s}   skipped (run with --pdf)")
    name = "serve, save to reloaded page"
    if has_command("serve"):
        from build_book.serve import measure_save_to_reload
        runs = []
        try:
            for _ in range(args.repeat):
                runs.append(measure_save_to_reload(root, files[len(files) // 2]))
        except Exception as exc:  # noqa: BLE001 (a script to read: say what went wrong and go on)
            print(f"  {name:30s}   failed: {type(exc).__name__}: {exc}")
            failed = True
        if runs:
            client = statistics.median(r["client"] for r in runs)
            build = statistics.median(r["build"] for r in runs)
            print(f"  {name:30s} {client:7.2f} s {client / base['html'][0]:8.2f}x {'':>8s} {'':>9s} {'':>8s}  "
                  f"{'html':22s} {verdict(name, client, client / base['html'][0], None)}  "
                  f"(the server's rebuild: {build:.2f} s)")
    else:
        print(f"  {name:30s}   n/a (no serve command)")
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    shutil.rmtree(out, ignore_errors=True)
    if not args.keep:
        shutil.rmtree(root.parent, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
