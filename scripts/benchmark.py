#!/usr/bin/env python3
"""Benchmark build_book on a synthetic book of the size of a large edited volume.

Writes a book of 30 chapters, about 150,000 words in all, with 1,000 bibliography
entries, citations in text, footnotes and tables, and cross-references between
chapters, into a temporary folder; then times `check` with an empty parse cache
(cold), again with the cache filled (warm), and a full HTML build.

    .venv/bin/python scripts/benchmark.py [--words 150000] [--entries 1000] [--keep DIR]

Figures are printed as seconds and as ratios to the cold check of the same run.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
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
        lines = [f"---\nauthors: [a]\nstatus: draft\n---\n\n# Chapter {c} {{#sec-ch{c:02d}}}\n"]
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


def timed(args: list[str], root: Path) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "build_book", *args, "--book", str(root)],
                            capture_output=True, text=True)
    return time.perf_counter() - start, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--words", type=int, default=150_000)
    parser.add_argument("--entries", type=int, default=1_000)
    parser.add_argument("--keep", type=Path, help="write the synthetic book here and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="build_book-bench-")) / "book"
    if root.exists():
        shutil.rmtree(root)
    make_book(root, args.words, args.entries)
    words = sum(len(p.read_text().split()) for p in (root / "chapters").glob("*.md"))
    print(f"synthetic book: {words:,} words in {len(list((root / 'chapters').glob('*.md')))} chapter files, "
          f"{args.entries:,} bibliography entries")
    rows = []
    cold, result = timed(["check", "--strict"], root)
    rows.append(("check, cold (empty parse cache)", cold, result))
    warm, result = timed(["check", "--strict"], root)
    rows.append(("check, warm (parse cache filled)", warm, result))
    html, result = timed(["html", "-q"], root)
    rows.append(("html build (warm cache)", html, result))
    for name, seconds, result in rows:
        status = "ok" if result.returncode == 0 else f"exit {result.returncode}"
        print(f"  {name:36s} {seconds:7.2f} s   {seconds / cold:5.2f} x cold check   [{status}]")
        if result.returncode != 0:
            print(result.stdout[-2000:], result.stderr[-2000:])
    if not args.keep:
        shutil.rmtree(root.parent, ignore_errors=True)
    return 0 if all(r.returncode == 0 for _, _, r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
