"""Editors' proofs, CriticMarkup, accept/reject, page labels and reproducible builds.

One fixture book in a temporary git repository: the 'mini' book committed and tagged as round
proof-1, then edited (a sentence changed, a paragraph rewrapped with no change, a citation added,
a figure inserted before the chapter's figure, so that it is renumbered, and editors' marks), and
its proof built once. Two public builds of an unmarked copy run side by side under SOURCE_DATE_EPOCH.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader
from pypdf.generic import ContentStream

from build_book import critic
from build_book.proof import summary as job_summary

from .conftest import REPO, copy_book, run_cli
from .xmlcheck import epubcheck

SLUG = "alliances-in-miniature"
EPOCH = "1700000000"
SENTENCE_OLD = "Strategies that reduce one fear tend to increase the other"
SENTENCE_NEW = "Strategies that soothe one fear tend to sharpen the other"
REWRAPPED = "Realist accounts emphasise power and threat."


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=Ed", "-c", "user.email=ed@example.org", *args], cwd=root,
                   check=True, capture_output=True)


def _cli(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "build_book", *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})


def _edit(root: Path) -> None:
    origins = root / "chapters" / "01-origins.md"
    text = origins.read_text(encoding="utf-8")
    text = text.replace(SENTENCE_OLD, SENTENCE_NEW, 1)                     # a sentence changed (once)
    first = text.index(REWRAPPED)                                            # rewrapped: no change
    text = text[:first] + text[first:].replace("threat. ", "threat.\n", 1)
    text = text.replace("Asymmetric alliances trade autonomy for security [@morrow1991, 910].",
                        "Asymmetric alliances trade autonomy for security [@morrow1991, 910; @snyder1997].")
    text = text.replace("@Fig-map shows the members;",
                        "![An earlier map.](figures/map.svg){#fig-early}\n\n@Fig-map shows the members;")
    text = text.replace("Alliance theory distinguishes the formation",
                        "Alliance theory {++plainly ++}distinguishes the {~~formation~>making~~}", 1)
    text = text.replace("The fear of abandonment is the worry",
                        "The fear of {==abandonment==}{>>define it earlier?<<} is the {--real --}worry", 1)
    origins.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    root = copy_book("mini", tmp_path_factory)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "round one")
    _git(root, "tag", "proof-1")
    _edit(root)
    clean_a = copy_book("mini", tmp_path_factory)
    clean_b = copy_book("mini", tmp_path_factory)
    runs = [_cli("proof", "--book", str(root), env={"SOURCE_DATE_EPOCH": EPOCH}),
            _cli("all", "--book", str(clean_a), "-q", env={"SOURCE_DATE_EPOCH": EPOCH}),
            _cli("all", "--book", str(clean_b), "-q", env={"SOURCE_DATE_EPOCH": EPOCH})]
    results = [(run.wait(timeout=900), *run.communicate()) for run in runs]
    for code, _, err in results:
        assert code == 0, err
    return {"root": root, "proof": root / "build" / "proof", "stderr": results[0][2],
            "clean": (clean_a / "build", clean_b / "build")}


@pytest.fixture(scope="module")
def report(book):
    return json.loads((book["proof"] / "report.json").read_text(encoding="utf-8"))


def _origins(report):
    return next(c for c in report["chapters"] if c["label"] == "sec-origins")


# ---------------------------------------------------------------- CriticMarkup

def test_marks_become_spans_with_lines_kept():
    text = "A {++new++} and {--old--}\n{~~this~>that~~} {==look==}{>>why?\nbecause<<} `{++code++}`\n"
    converted = critic.to_pandoc(text)
    assert converted.count("\n") == text.count("\n")
    assert "[new]{.critic-ins}" in converted and "[old]{.critic-del}" in converted
    assert "[this]{.critic-del}[that]{.critic-ins}" in converted and "`{++code++}`" in converted
    assert [(m.kind, m.line, m.column) for m in critic.marks(text)] == [
        ("ins", 1, 3), ("del", 1, 17), ("sub", 2, 1), ("mark", 2, 18), ("comment", 2, 28)]


def test_accept_never_writes_through_a_link_planted_as_the_backup(tmp_path):
    """A change that commits chapter.md.bak as a link to a file of the editor's (~/.bashrc) must not have
    the chapter's text written into it when the editor accepts the marks."""
    book, outside = tmp_path / "book", tmp_path / "victim.txt"
    book.mkdir()
    outside.write_text("the editor's own file\n", encoding="utf-8")
    chapter = book / "02.md"
    chapter.write_text("# X\n\nText {++added++} here.\n", encoding="utf-8")
    (book / "02.md.bak").symlink_to(outside)
    result = run_cli("accept", str(chapter))
    assert result.returncode == 0, result.stderr
    assert outside.read_text(encoding="utf-8") == "the editor's own file\n"
    assert not (book / "02.md.bak").is_symlink() and "{++added++}" in (book / "02.md.bak").read_text(encoding="utf-8")
    assert chapter.read_text(encoding="utf-8") == "# X\n\nText added here.\n"


def test_accept_and_reject_texts():
    text = "Keep {++this ++}and {--that --}a {~~red~>blue~~} {==hue==}.{>>note<<}\n"
    assert critic.resolve(text, True)[0] == "Keep this and a blue hue.\n"
    assert critic.resolve(text, False)[0] == "Keep and that a red hue.\n"


def test_check_lists_open_marks_as_warnings(book):
    result = run_cli("check", "--book", str(book["root"]), "--format", "json")
    assert result.returncode == 0, result.stderr
    marks = [d for d in json.loads(result.stdout) if d["code"] == "critic-mark"]
    assert len(marks) == 5 and all(d["severity"] == "warning" for d in marks)
    text = (book["root"] / "chapters/01-origins.md").read_text(encoding="utf-8").splitlines()
    for d in marks:   # each at the line and column of its opening brace
        line, col = d["line"], d["column"]
        assert text[line - 1][col - 1] == "{", d


def test_the_hints_name_the_command_as_the_user_runs_it(book):
    import os
    import subprocess
    import sys

    from .conftest import REPO

    result = subprocess.run([sys.executable, "-m", "build_book", "check", "--book", str(book["root"])], cwd=REPO,
                            capture_output=True, text=True, timeout=600, env={**os.environ, "BUILD_BOOK_PROG": "scripts/book"})
    assert "(scripts/book accept|reject FILE)" in result.stdout + result.stderr
    assert "python -m build_book" not in result.stdout + result.stderr


def test_public_build_refuses_open_marks_and_accept_resolves_them(book, tmp_path):
    root = tmp_path / "marked"
    shutil.copytree(book["root"], root, ignore=shutil.ignore_patterns("build", ".git"))
    refused = run_cli("all", "--book", str(root))
    assert refused.returncode == 1
    assert "error[critic-unresolved]" in refused.stderr and "accept|reject" in refused.stderr
    assert not (root / "build" / f"{SLUG}.pdf").exists()
    chapter = root / "chapters" / "01-origins.md"
    before = chapter.read_text(encoding="utf-8")
    accepted = run_cli("accept", str(chapter))
    assert accepted.returncode == 0, accepted.stderr
    assert "accepted 1 insertion, 1 deletion, 1 substitution, 1 highlight, 1 comment" in accepted.stdout
    after = chapter.read_text(encoding="utf-8")
    assert "Alliance theory plainly distinguishes the making" in after
    assert "The fear of abandonment is the worry" in after and "{" + "++" not in after
    assert (root / "chapters" / "01-origins.md.bak").read_text(encoding="utf-8") == before
    again = run_cli("reject", str(chapter))
    assert again.returncode == 0 and "no editor's marks; unchanged" in again.stdout
    chapter.write_text(before, encoding="utf-8")
    rejected = run_cli("reject", str(chapter))
    assert rejected.returncode == 0 and "rejected" in rejected.stdout
    text = chapter.read_text(encoding="utf-8")
    assert "Alliance theory distinguishes the formation" in text
    assert "The fear of abandonment is the real worry" in text
    checked = run_cli("check", "--book", str(root), "--format", "json")
    assert checked.returncode == 0 and not [d for d in json.loads(checked.stdout) if d["code"].startswith("critic")]


def test_marks_in_each_proof_edition(book):
    html = (book["proof"] / "html" / "origins.html").read_text(encoding="utf-8")
    assert '<span class="critic-ins">plainly</span> distinguishes' in html
    assert '<span class="critic-del">formation</span><span class="critic-ins">making</span>' in html
    assert re.search(r'<span class="critic-comment" tabindex="0">define it earlier\?</span>', html)
    from build_book.render.html import SCRIPT_TAG     # build_book's own script (search), never an author's
    assert "<script" not in html.replace(SCRIPT_TAG, "") and ".critic-comment:focus" in html
    # the proof's web edition offers the proof's own PDF and EPUB, never the public ones
    for ext in (".pdf", ".epub"):
        assert (book["proof"] / "html" / "downloads" / f"{SLUG}{ext}").read_bytes() == \
            (book["proof"] / f"{SLUG}{ext}").read_bytes()
    with zipfile.ZipFile(book["proof"] / f"{SLUG}.epub") as epub:
        page = epub.read("EPUB/origins.xhtml").decode("utf-8")
    assert 'class="critic-mark">abandonment</span>' in page and 'class="critic-del">real</span> worry' in page
    pdf = PdfReader(book["proof"] / f"{SLUG}.pdf")
    text = "\n".join(p.extract_text() for p in pdf.pages)
    assert "define it" in text and "plainly" in text


# ---------------------------------------------------------------- status, proof line

def test_status_only_in_proofs(book):
    public = book["clean"][0]
    index = (public / "html" / "index.html").read_text(encoding="utf-8")
    assert 'class="status' not in index and "proof" not in index.lower()
    proof_index = (book["proof"] / "html" / "index.html").read_text(encoding="utf-8")
    assert '<span class="status status-review">review</span>' in proof_index
    assert '<span class="status status-draft">draft</span>' in proof_index
    with zipfile.ZipFile(book["proof"] / f"{SLUG}.epub") as epub:
        nav = epub.read("EPUB/nav.xhtml").decode("utf-8")
    assert "Origins of Alliances [review]" in nav
    with zipfile.ZipFile(public / f"{SLUG}.epub") as epub:
        assert "[review]" not in epub.read("EPUB/nav.xhtml").decode("utf-8")
    public_text = "\n".join(p.extract_text() for p in PdfReader(public / f"{SLUG}.pdf").pages)
    assert "Proof" not in public_text and "In review" not in public_text


def test_every_proof_page_carries_the_proof_line(book, report):
    pages = PdfReader(book["proof"] / f"{SLUG}.pdf").pages
    commit = report["commit"]
    assert commit and report["round"] == "proof-1"
    for page in pages:
        text = page.extract_text()
        assert "Alliances in Miniature · Proof · changes since proof-1" in text
        assert f"commit {commit}" in text and "2023-11-14 22:13 UTC" in text
    opening = next(p.extract_text() for p in pages if "In review: this chapter may still change" in p.extract_text())
    assert "Origins of Alliances" in opening and "· review" in opening
    assert any("Cases of Alliance" in p.extract_text() and "Draft: this chapter is unfinished" in p.extract_text()
               for p in pages)


# ---------------------------------------------------------------- rounds and diffs

def test_report_counts_and_changes(report):
    origins = _origins(report)
    assert origins["status"] == "review" and origins["authors"] == ["TANAKA Hanako"]
    assert origins["figures"] == 2 and origins["marks"] == 5 and origins["footnotes"] == 1
    assert origins["last_changed"].startswith("20")
    change = origins["changed"]
    assert change["diff"] == "diff/origins.html" and change["added"] > 0 and change["removed"] > 0
    preface = next(c for c in report["chapters"] if c["path"].endswith("00-preface.md"))
    assert preface["changed"] == {"added": 0, "removed": 0, "new": False, "diff": None}
    assert "Figure 1.1 is now Figure 1.2" in report["changes"]["renumbered"]
    assert report["totals"]["words"] == sum(c["words"] for c in report["chapters"])
    assert report["totals"]["marks"] == 5


def test_diff_page_marks_words_not_rewrapping(book):
    page = (book["proof"] / "diff" / "origins.html").read_text(encoding="utf-8")
    assert "<del>reduce</del>" in page and "<ins>soothe</ins>" in page
    assert "<del>increase</del>" in page and "<ins>sharpen</ins>" in page
    assert "<ins>Snyder 1997)</ins>" in page or "Snyder" in re.findall(r"<ins>(.*?)</ins>", page, re.S)[-1] or \
        any("Snyder" in i for i in re.findall(r"<ins>(.*?)</ins>", page, re.S))
    # the rewrapped paragraph is not in the diff at all
    assert "Realist accounts" not in page
    # the figure numbers changed in the text readers see
    assert re.search(r"<del>1\.1</del>\s*<ins>1\.2</ins>|<ins>[^<]*1\.2", page)


def test_index_page_links_the_diff(book):
    index = (book["proof"] / "index.html").read_text(encoding="utf-8")
    assert 'href="diff/origins.html"' in index and "Figure 1.1 is now Figure 1.2" in index
    assert "<script" not in index


def test_change_bars_beside_changed_paragraphs_only(book):
    html = (book["proof"] / "html" / "origins.html").read_text(encoding="utf-8")
    bars = re.findall(r'<p class="proof-changed">\s*(.*?)</p>', html, re.S)
    assert any("soothe one fear" in b for b in bars)
    assert not any("Realist accounts emphasise power" in b for b in bars)
    # a changed paragraph stays a paragraph: the house style indents it after another paragraph
    assert re.search(r'</p>\s*<p class="proof-changed">\s*The fear of', html)


# ---------------------------------------------------------------- change bars in the PDF, by position

BAR_RGB = (0.831, 0.463, 0.043)   # the bar's colour, #d4760b


def _mul(a, b):
    return [a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3], a[2] * b[0] + a[3] * b[2],
            a[2] * b[1] + a[3] * b[3], a[4] * b[0] + a[5] * b[2] + b[4], a[4] * b[1] + a[5] * b[3] + b[5]]


def _bbox(points):
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


def _cut(a, b):
    if a is None:
        return b
    box = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
    return box if box[0] < box[2] and box[1] < box[3] else None


def _painted_bars(reader, page) -> list[tuple]:
    """Boxes (x0, y0, x1, y1 in page space) painted in the bar's colour: each filled path cut by its clip."""
    ctm, clip, colour, path, pending, stack, found = [1, 0, 0, 1, 0, 0], None, None, [], None, [], []
    for args, op in ContentStream(page.get_contents(), reader).operations:
        if op == b"q":
            stack.append((ctm, clip, colour))
        elif op == b"Q":
            ctm, clip, colour = stack.pop()
        elif op == b"cm":
            ctm = _mul([float(a) for a in args], ctm)
        elif op == b"rg":
            colour = tuple(round(float(a), 3) for a in args)
        elif op in (b"m", b"l", b"re"):
            x, y = float(args[0]), float(args[1])
            corners = [(x, y)] if op != b"re" else [(x, y), (x + float(args[2]), y + float(args[3]))]
            path += [(px * ctm[0] + py * ctm[2] + ctm[4], px * ctm[1] + py * ctm[3] + ctm[5]) for px, py in corners]
        elif op in (b"W", b"W*"):
            pending = _bbox(path)
        elif op in (b"n", b"f", b"f*", b"F", b"B", b"B*", b"b", b"b*", b"S", b"s"):
            if op in (b"f", b"f*", b"F", b"B", b"B*", b"b", b"b*") and path and colour == BAR_RGB:
                box = _cut(clip, _bbox(path))
                if box:
                    found.append(box)
            if pending is not None:
                clip, pending = _cut(clip, pending), None
            path = []
    return found


def _printed_lines(page) -> list[tuple[float, float, str]]:
    """(baseline y, left x, text) of each printed line of a page, in page space."""
    rows: dict[float, tuple[float, str]] = {}

    def visit(text, cm, tm, font, size):
        if text.strip():
            m = _mul(tm, cm)
            x0, words = rows.get(round(m[5]), (m[4], ""))
            rows[round(m[5])] = (min(x0, m[4]), words + text)

    page.extract_text(visitor_text=visit)
    return [(y, x, " ".join(t.split())) for y, (x, t) in sorted(rows.items(), reverse=True)]   # (a wide gap: two spaces)


def _barred(line, bars) -> bool:
    """A bar stands in the margin left of the line (within 10 mm) over the line's baseline."""
    y, x, _ = line
    return any(x1 < x and x - x1 < 28 and y0 <= y <= y1 for x0, y0, x1, y1 in bars)


def test_change_bars_in_the_pdf_stand_beside_the_changed_text(book):
    reader = PdfReader(book["proof"] / f"{SLUG}.pdf")
    seen = {"soothe": 0, "Realist": 0, "Snyder 1997)": 0}
    for page in reader.pages:
        bars, lines = _painted_bars(reader, page), _printed_lines(page)
        text_lines = [x for _, x, t in lines if "· Proof ·" not in t]
        if not text_lines:
            assert not bars
            continue
        left = min(text_lines)
        for bar in bars:   # every bar in the margin, each beside some text
            assert bar[2] < left and bar[2] - bar[0] < 3, bar
            assert any(_barred(line, [bar]) for line in lines), bar
        for line in lines:
            text = line[2]
            if "soothe" in text:                                    # the changed sentence
                assert _barred(line, bars), text
                seen["soothe"] += 1
            if "that reduce one" in text or text.startswith("Realist accounts emphasise"):
                assert not _barred(line, bars), text                # unchanged (or only rewrapped)
                seen["Realist"] += text.startswith("Realist")
            if "Asymmetric alliances trade autonomy" in text:      # a citation added
                assert _barred(line, bars), text
                seen["Snyder 1997)"] += 1
            if "· Proof ·" in text or text.startswith("States ally to balance"):
                assert not _barred(line, bars), text
    assert seen == {"soothe": 1, "Realist": 2, "Snyder 1997)": 1}


def test_proof_without_git(tmp_path_factory):
    root = copy_book("mini", tmp_path_factory)
    (root / "chapters" / "02-cases.md").write_text("x" * 0 + (root / "chapters" / "02-cases.md")
                                                   .read_text(encoding="utf-8"), encoding="utf-8")
    result = run_cli("proof", "--book", str(root), "--since", "proof-9", "-q")
    assert result.returncode == 0, result.stderr
    # about no file of the book (book.yml:1:1 was no place for it): about the proof round
    assert "build/proof/:1:1: warning[proof-round]: no changes are shown:" in result.stderr
    data = json.loads((root / "build" / "proof" / "report.json").read_text(encoding="utf-8"))
    assert data["round"] is None and data["commit"] is None
    assert all(c["changed"] is None for c in data["chapters"])


# ---------------------------------------------------------------- page labels, reproducibility

def _folio(text: str) -> str | None:
    last = text.strip().split()[-1] if text.strip() else ""
    return last if re.fullmatch(r"\d+|[ivxlc]+", last) else None


@pytest.mark.parametrize("which", ["public", "proof"])
def test_page_labels_match_the_printed_folios(book, which):
    path = (book["clean"][0] if which == "public" else book["proof"]) / f"{SLUG}.pdf"
    reader = PdfReader(path)
    labels = reader.page_labels
    assert labels[0] == "i" and "1" in labels
    assert labels.index("1") > 0 and all(re.fullmatch(r"[ivxlc]+", lab) for lab in labels[:labels.index("1")])
    checked = 0
    for page, label in zip(reader.pages, labels):
        text = page.extract_text()
        if which == "proof":   # the proof line stands under the folio
            text = "\n".join(line for line in text.splitlines() if "· Proof ·" not in line)
        folio = _folio(text)
        if folio is not None:
            assert folio == label
            checked += 1
    assert checked >= 10


def test_reproducible_under_source_date_epoch(book):
    a, b = book["clean"]
    assert (a / f"{SLUG}.pdf").read_bytes() == (b / f"{SLUG}.pdf").read_bytes()
    assert (a / f"{SLUG}.epub").read_bytes() == (b / f"{SLUG}.epub").read_bytes()
    pages = sorted(p.relative_to(a / "html") for p in (a / "html").rglob("*") if p.is_file())
    assert pages and pages == sorted(p.relative_to(b / "html") for p in (b / "html").rglob("*") if p.is_file())
    for rel in pages:
        assert (a / "html" / rel).read_bytes() == (b / "html" / rel).read_bytes(), rel


# ---------------------------------------------------------------- a second round: the book's shape changed

EXTRA = "---\nauthors: [smith]\n---\n\n# Extra Matters {#sec-extra}\n\nAn extra chapter, dropped later [@gone2000].\n"
LATER = "---\nauthors: [smith]\n---\n\n# Later Thoughts {#sec-later}\n\nLater thoughts on alliances, unchanged.\n"
NEW = "---\nauthors: [tanaka]\n---\n\n# New Thoughts {#sec-new}\n\nA chapter new in this round [@fresh2020].\n"
GONE = "\n@book{gone2000,\n  author = {Gone, Ann},\n  title = {A Book Dropped},\n  publisher = {P},\n  year = {2000}\n}\n"
FRESH = "\n@book{fresh2020,\n  author = {Fresh, Fay},\n  title = {A Book Added},\n  publisher = {P},\n  year = {2020}\n}\n"


@pytest.fixture(scope="module")
def reshaped(tmp_path_factory):
    """Round proof-1 has five chapters and an entry cited only by one of them; then a chapter is
    removed, one added, one moved to another part, the map's image redrawn and the bibliography edited."""
    root = copy_book("mini", tmp_path_factory)
    chapters, config, bib = root / "chapters", root / "book.yml", root / "bibliography" / "refs.bib"
    (chapters / "03-extra.md").write_text(EXTRA, encoding="utf-8")
    (chapters / "05-later.md").write_text(LATER, encoding="utf-8")
    yml = config.read_text(encoding="utf-8")
    config.write_text(yml.replace("      - chapters/02-cases.md\n", "      - chapters/02-cases.md\n"
                                  "      - chapters/03-extra.md\n      - chapters/05-later.md\n"), encoding="utf-8")
    bib.write_text(bib.read_text(encoding="utf-8") + GONE, encoding="utf-8")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "round one")
    _git(root, "tag", "proof-1")
    (chapters / "03-extra.md").unlink()
    (chapters / "04-new.md").write_text(NEW, encoding="utf-8")
    config.write_text(yml.replace("      - chapters/01-origins.md\n",
                                  "      - chapters/05-later.md\n      - chapters/01-origins.md\n")
                      .replace("      - chapters/02-cases.md\n", "      - chapters/02-cases.md\n"
                               "      - chapters/04-new.md\n"), encoding="utf-8")
    text = bib.read_text(encoding="utf-8").replace(GONE, FRESH)
    bib.write_text(text.replace("{The Origins of Alliances}", "{The Origins of Alliances, revised}"), encoding="utf-8")
    origins = chapters / "01-origins.md"
    origins.write_text(origins.read_text(encoding="utf-8").replace("come from, in brief.", "come from."),
                       encoding="utf-8")
    svg = chapters / "figures" / "map.svg"
    svg.write_text(svg.read_text(encoding="utf-8").replace("#999", "#c33"), encoding="utf-8")
    result = run_cli("proof", "--book", str(root), "-q")
    assert result.returncode == 0, result.stderr
    proof = root / "build" / "proof"
    return {"root": root, "proof": proof, "report": json.loads((proof / "report.json").read_text(encoding="utf-8")),
            "index": (proof / "index.html").read_text(encoding="utf-8")}


def test_chapters_added_removed_and_moved(reshaped):
    changes = reshaped["report"]["changes"]
    assert changes["chapters_added"] == ["New Thoughts"]
    assert changes["chapters_removed"] == ["Extra Matters"]
    assert changes["chapters_moved"] == ["Later Thoughts"]
    rows = {c["label"]: c for c in reshaped["report"]["chapters"]}
    assert "sec-extra" not in rows
    new = rows["sec-new"]["changed"]
    assert new["new"] and new["removed"] == 0 and new["added"] == rows["sec-new"]["words"] > 0
    page = (reshaped["proof"] / new["diff"]).read_text(encoding="utf-8")
    assert "<ins>" in page and "A chapter new in this round" in page
    # the moved chapter's words did not change, only its number as readers see it
    moved = rows["sec-later"]["changed"]
    assert (moved["added"], moved["removed"]) == (1, 1)
    page = (reshaped["proof"] / moved["diff"]).read_text(encoding="utf-8")
    assert re.search(r"Chapter <del>\d</del> <ins>1</ins> Later Thoughts", page), page
    # a changed abstract is in its chapter's diff
    page = (reshaped["proof"] / rows["sec-origins"]["changed"]["diff"]).read_text(encoding="utf-8")
    assert "<em>Abstract:</em> Where alliances come <del>from, in brief.</del> <ins>from.</ins>" in page
    index = reshaped["index"]
    for note in ("Chapters added: New Thoughts", "Chapters removed: Extra Matters", "Chapters moved: Later Thoughts"):
        assert note in index


def test_changed_figure_images_and_bibliography_entries(reshaped):
    changes = reshaped["report"]["changes"]
    assert changes["images_changed"] == ["chapters/01-origins.md: figures/map.svg"]
    assert changes["bibliography_added"] == ["fresh2020"]
    assert changes["bibliography_removed"] == ["gone2000"]
    assert changes["bibliography_changed"] == ["walt1987"]
    index = reshaped["index"]
    assert "Figure images changed: chapters/01-origins.md: figures/map.svg" in index
    assert "Bibliography entries added: fresh2020" in index
    assert "Bibliography entries removed: gone2000" in index
    assert "Bibliography entries changed: walt1987" in index
    # CI's job summary carries the same notes
    summary = job_summary(reshaped["report"])
    for note in ("- Chapters added: New Thoughts", "- Chapters moved: Later Thoughts",
                 "- Figure images changed: chapters/01-origins.md: figures/map.svg",
                 "- Bibliography entries removed: gone2000"):
        assert note in summary.splitlines()


def test_proof_epub_passes_epubcheck(book):
    assert epubcheck(book["proof"] / f"{SLUG}.epub") == []


def test_a_tagged_commit_is_its_own_round(reshaped):
    """Tagged when it goes out, a round's proof shows the changes since the round before; later edits, since it."""
    root = reshaped["root"]
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "round two")
    _git(root, "tag", "proof-2")
    result = run_cli("proof", "--book", str(root), "-q")
    assert result.returncode == 0, result.stderr
    report = json.loads((root / "build" / "proof" / "report.json").read_text(encoding="utf-8"))
    assert (report["round"], report["this_round"]) == ("proof-1", "proof-2")
    assert "· Proof proof-2 · changes since proof-1 ·" in report["proof"]
    assert report["proof"].endswith(f"commit {report['commit']}") and not report["uncommitted_edits"]
    assert report["changes"]["chapters_added"] == ["New Thoughts"]
    chapter = root / "chapters" / "04-new.md"
    chapter.write_text(NEW.replace("new in this round", "newer in this round"), encoding="utf-8")
    result = run_cli("proof", "--book", str(root), "-q")
    assert result.returncode == 0, result.stderr
    report = json.loads((root / "build" / "proof" / "report.json").read_text(encoding="utf-8"))
    assert (report["round"], report["this_round"]) == ("proof-2", None)
    assert report["proof"].endswith(f"commit {report['commit']} with uncommitted edits") and report["uncommitted_edits"]
    assert [c["title"] for c in report["chapters"] if c["changed"]["diff"]] == ["New Thoughts"]


def test_a_proof_killed_while_publishing_is_completed_by_the_next_command(reshaped):
    """build/proof is published through the build's journal: killed after the old proof was set aside and
    before the new one was in place, the next command puts the new one there."""
    from build_book.build import JOURNAL, TEST_KILL_ENV

    root = reshaped["root"]
    chapter = root / "chapters" / "04-new.md"
    chapter.write_text(NEW.replace("new in this round", "newest in this round"), encoding="utf-8")
    killed = subprocess.run([sys.executable, "-m", "build_book", "proof", "--book", str(root), "-q"], cwd=REPO,
                            capture_output=True, text=True, timeout=600, env={**os.environ, TEST_KILL_ENV: "2"})
    assert killed.returncode == -9, killed.stderr
    assert (root / "build" / JOURNAL).exists() and not (root / "build" / "proof").exists()
    assert run_cli("check", "--book", str(root)).returncode == 0
    assert not (root / "build" / JOURNAL).exists()
    page = (root / "build" / "proof" / "diff" / "new.html").read_text(encoding="utf-8")
    assert "<ins>newest</ins>" in page
    assert not [p for p in (root / "build").iterdir() if p.name.startswith(".staging")]


@pytest.mark.skipif("SOURCE_DATE_EPOCH" in os.environ, reason="the builds take their dates from SOURCE_DATE_EPOCH")
def test_without_source_date_epoch_proofs_show_the_build_time_and_public_editions_the_books_date(reshaped, mini):
    import datetime as dt

    stamp = re.search(r"· (\d{4}-\d\d-\d\d \d\d:\d\d) UTC ·", reshaped["report"]["proof"]).group(1)
    built = dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M").replace(tzinfo=dt.timezone.utc)
    assert abs((dt.datetime.now(dt.timezone.utc) - built).total_seconds()) < 3600
    assert reshaped["report"]["built"] == f"{stamp} UTC"
    assert PdfReader(mini.pdf).metadata["/CreationDate"].startswith("D:20200115")   # book.yml's date
    with zipfile.ZipFile(mini.epub) as epub:
        opf = epub.read("EPUB/package.opf").decode("utf-8")
    assert "<dc:date>2020-01-15</dc:date>" in opf
    assert '<meta property="dcterms:modified">2020-01-15T00:00:00Z</meta>' in opf


# ---------------------------------------------------------------- what a user names reaches git as a name only

def _committed(tmp_path_factory, name: str = "mini") -> Path:
    """The fixture book in a git repository of its own, committed and tagged proof-1."""
    root = copy_book(name, tmp_path_factory)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "round one")
    _git(root, "tag", "proof-1")
    return root


def test_a_since_that_looks_like_an_option_is_refused(tmp_path_factory, tmp_path):
    """'--since=--output=FILE' once reached git archive as an option, and git truncated FILE."""
    from build_book import proof

    root = _committed(tmp_path_factory)
    victim = tmp_path / "victim.md"
    victim.write_text("the editor's own notes\n", encoding="utf-8")
    result = run_cli("proof", "--book", str(root), "-q", f"--since=--output={victim}")
    assert result.returncode == 2 and "--since" in result.stderr and "begins with '-'" in result.stderr
    assert "Traceback" not in result.stderr and not (root / "build" / "proof").exists()
    assert victim.read_text(encoding="utf-8") == "the editor's own notes\n"
    # below the command line too: the name is a revision to git, never an option
    assert proof._checkout(root, f"--output={victim}", tmp_path / "round") is None
    assert victim.read_text(encoding="utf-8") == "the editor's own notes\n"
    assert proof._checkout(root, "proof-1", tmp_path / "round") is not None


def test_an_empty_since_is_refused_not_read_as_the_last_round(tmp_path_factory):
    root = _committed(tmp_path_factory)
    result = run_cli("proof", "--book", str(root), "-q", "--since", "")
    assert result.returncode == 2 and "--since" in result.stderr and "empty" in result.stderr
    assert not (root / "build" / "proof").exists()


# ---------------------------------------------------------------- where a mark is text, and where it is not

def _chapter_with(tmp_path_factory, added: str) -> tuple[Path, Path, int]:
    """The mini book with ``added`` at the end of a chapter: (the book, the chapter, the line it begins on)."""
    root = copy_book("mini", tmp_path_factory)
    chapter = root / "chapters" / "02-cases.md"
    text = chapter.read_text(encoding="utf-8").rstrip("\n") + "\n\n"
    chapter.write_text(text + added, encoding="utf-8")
    return root, chapter, text.count("\n") + 1


def _critic(root: Path) -> list[tuple[str, int, int]]:
    result = run_cli("check", "--book", str(root), "--format", "json")
    assert "Traceback" not in result.stderr
    return [(d["code"], d["line"], d["column"]) for d in json.loads(result.stdout) if d["code"].startswith("critic")]


def test_a_stray_backtick_hides_no_mark_in_later_paragraphs(tmp_path_factory):
    """A code span never crosses a blank line, and a run of backticks is closed only by a run as long: a lone
    backtick once made everything up to the next one code, so check and accept saw no marks there, and the
    public edition printed them."""
    added = ("The key ` (backtick) is odd.\n\nAn editor {--removes this--} and {++adds that++}.\n\n"
             "Use `foo` here, and `` a ` b {++x++} `` too.\n")
    root, chapter, first = _chapter_with(tmp_path_factory, added)
    assert _critic(root) == [("critic-mark", first + 2, 11), ("critic-mark", first + 2, 34)]
    refused = run_cli("html", "--book", str(root), "-q")
    assert refused.returncode == 1 and f"02-cases.md:{first + 2}:11: error[critic-unresolved]" in refused.stderr
    accepted = run_cli("accept", str(chapter))
    assert accepted.returncode == 0 and "accepted 1 insertion, 1 deletion" in accepted.stdout
    assert chapter.read_text(encoding="utf-8").endswith(
        "An editor and adds that.\n\nUse `foo` here, and `` a ` b {++x++} `` too.\n")


CODE_AND_PROSE = """\
An indented code block:

    x = {--y--} + {++z++}

- A list item with a fence:

  ~~~
  items = {--old--}
  ~~~

- A list item whose paragraphs are indented by four:

    Its second paragraph {--is prose--}.

> ~~~
> quoted = {++code++}
> ~~~
"""


def test_marks_in_code_blocks_are_code(tmp_path_factory):
    """Code indented by four columns after a blank line, and a fence in a list item or a block quote, is code:
    reject once made '    x = {--y--} + {++z++}' into '    x = y + '. A line indented by four in a list item
    is the item's paragraph, and its marks are marks."""
    root, chapter, first = _chapter_with(tmp_path_factory, CODE_AND_PROSE)
    assert _critic(root) == [("critic-mark", first + 12, 26)]
    converted = critic.to_pandoc(CODE_AND_PROSE)
    assert converted.count("{.critic-") == 1 and "paragraph [is prose]{.critic-del}." in converted
    rejected = run_cli("reject", str(chapter))
    assert rejected.returncode == 0 and "rejected 1 deletion" in rejected.stdout
    assert chapter.read_text(encoding="utf-8").endswith(CODE_AND_PROSE.replace("{--is prose--}", "is prose"))


def test_marks_in_comments_and_math_are_no_marks(tmp_path_factory):
    """'<!-- {>>note<<} -->' prints nothing, yet it stopped the public build (critic-unresolved); a '{--' in
    '$...$' was turned into a span, and the mangled formula reported as math-error."""
    added = "<!-- {>>editor note: check the dates<<} -->\n\nThe ratio $a {--b--} c$ holds.\n"
    root, chapter, first = _chapter_with(tmp_path_factory, added)
    checked = run_cli("check", "--book", str(root), "--format", "json")
    assert checked.returncode == 0, checked.stderr
    assert not [d for d in json.loads(checked.stdout) if d["code"].startswith(("critic", "math"))]
    built = run_cli("html", "--book", str(root), "-q")
    assert built.returncode == 0, built.stderr
    page = (root / "build" / "html" / "cases.html").read_text(encoding="utf-8")
    assert "editor note" not in page and "critic-" not in page and "<math" in page
    assert run_cli("reject", str(chapter)).stdout.endswith("no editor's marks; unchanged\n")


UNCLOSED = "Start {++unterminated\n\nPara two is important.\n\nPara three {++real++} end.\n"


def test_an_unclosed_mark_is_reported_and_swallows_nothing(tmp_path_factory, tmp_path):
    """'{++' never closed in its paragraph once ran to the next '++}': reject left 'Start end.'."""
    chapter = tmp_path / "ch.md"
    chapter.write_text(UNCLOSED, encoding="utf-8")
    for command in ("reject", "accept"):
        refused = run_cli(command, str(chapter))
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert f"{chapter}:1:7: error[critic-malformed]: this editor's insertion '{{++unterminated' is not closed " \
               "before its paragraph ends" in refused.stderr and "hint: close it with '++}'" in refused.stderr
        assert chapter.read_text(encoding="utf-8") == UNCLOSED and not list(tmp_path.glob("*.bak*"))
    assert critic.to_pandoc(UNCLOSED) == UNCLOSED.replace("{++real++}", "[real]{.critic-ins}")
    root, _, first = _chapter_with(tmp_path_factory, UNCLOSED)
    assert _critic(root) == [("critic-malformed", first, 7), ("critic-mark", first + 4, 12)]
    # a mark over whole paragraphs is written with its delimiters alone on their lines
    block = "Keep.\n\n{--\nGone one.\n\nGone two.\n--}\n\n> {++\n> Quoted.\n>\n> Two.\n> ++}\n"
    chapter.write_text(block, encoding="utf-8")
    assert run_cli("accept", str(chapter)).returncode == 0
    assert chapter.read_text(encoding="utf-8") == "Keep.\n\n\n\n> \n> Quoted.\n>\n> Two.\n> \n"


def test_an_escaped_opening_is_the_characters_themselves(tmp_path_factory, tmp_path):
    """'\\{++text++\\}' (the characters, escaped as pandoc's Markdown escapes them) was error[critic-malformed],
    which stopped the build, though pandoc prints it as written; the hint for an unclosed one says how."""
    text = "Write an insertion as \\{++text++\\}, or \\{-- for a deletion; {++real++}.\n\nIn C, {++i;} is short.\n"
    root, _, first = _chapter_with(tmp_path_factory, text)
    assert _critic(root) == [("critic-mark", first, 61), ("critic-malformed", first + 2, 7)]
    chapter = tmp_path / "ch.md"
    chapter.write_text(text, encoding="utf-8")
    refused = run_cli("accept", str(chapter))
    assert "to print the characters themselves, write '\\{\\+\\+'" in refused.stderr, refused.stderr
    chapter.write_text(text.replace("{++i;}", "\\{++i;}"), encoding="utf-8")
    assert run_cli("accept", str(chapter)).returncode == 0
    assert chapter.read_text(encoding="utf-8") == text.replace("{++real++}", "real").replace("{++i;}", "\\{++i;}")


def test_nested_marks_are_refused_where_they_nest(tmp_path):
    """'{++a {++b++} c++}' was resolved as '{++a {++b++}' and left ' c++}' in the text."""
    chapter = tmp_path / "ch.md"
    text = "Text {++a {++b++} c++} end.\n"
    chapter.write_text(text, encoding="utf-8")
    refused = run_cli("accept", str(chapter))
    assert refused.returncode == 1
    assert f"{chapter}:1:11: error[critic-malformed]: an editor's insertion inside the insertion opened at 1:6" \
           in refused.stderr
    assert chapter.read_text(encoding="utf-8") == text and not (tmp_path / "ch.md.bak").exists()


def test_the_backup_keeps_the_text_before_the_first_accept(tmp_path):
    chapter = tmp_path / "ch.md"
    original = "One {++two++} three.\n"
    chapter.write_text(original, encoding="utf-8")
    first = run_cli("accept", str(chapter))
    assert first.returncode == 0 and "(the previous text is in ch.md.bak)" in first.stdout
    chapter.write_text("One two {--three--} four.\n", encoding="utf-8")    # a second round of marks
    second = run_cli("accept", str(chapter))
    assert second.returncode == 0 and "(the previous text is in ch.md.bak.2)" in second.stdout
    assert (tmp_path / "ch.md.bak").read_text(encoding="utf-8") == original
    assert (tmp_path / "ch.md.bak.2").read_text(encoding="utf-8") == "One two {--three--} four.\n"
    assert chapter.read_text(encoding="utf-8") == "One two four.\n"
    assert run_cli("accept", str(chapter)).stdout == f"{chapter}: no editor's marks; unchanged\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ch.md", "ch.md.bak", "ch.md.bak.2"]


def test_untracked_files_are_no_uncommitted_edits(tmp_path_factory):
    """The FILE.bak that accept keeps, or an editor's notes, made the proof say 'with uncommitted edits'."""
    root = _committed(tmp_path_factory)
    (root / "notes.txt").write_text("to do\n", encoding="utf-8")
    (root / "chapters" / "02-cases.md.bak").write_text("the text before accept\n", encoding="utf-8")
    result = run_cli("proof", "--book", str(root), "-q")
    assert result.returncode == 0, result.stderr
    report = json.loads((root / "build" / "proof" / "report.json").read_text(encoding="utf-8"))
    assert not report["uncommitted_edits"] and "uncommitted" not in report["proof"]
    assert report["this_round"] == "proof-1"     # the tagged commit itself, as built
    # a chapter the book reads that git does not track is an edit the proof shows
    _git(root, "rm", "-q", "--cached", "chapters/a1-data.md")
    _git(root, "commit", "-qm", "the appendix not committed")
    result = run_cli("proof", "--book", str(root), "-q")
    assert result.returncode == 0, result.stderr
    report = json.loads((root / "build" / "proof" / "report.json").read_text(encoding="utf-8"))
    assert report["uncommitted_edits"] and report["proof"].endswith("with uncommitted edits")


GARBLED = """\
- An item with a paragraph deleted:

    {--
    Whole paragraph gone.
    --}

- An item {++with a) and b] here++}, noted{>>a note with ] and [x<<}.
"""


def test_marks_the_proof_once_garbled(tmp_path_factory):
    """A block mark in a list item printed '::: {.critic-del} Whole paragraph gone. :::' (pandoc reads a
    fence only at the item's indent); a ']' in a mark ended its span, and put the rest in the text."""
    root, _, _ = _chapter_with(tmp_path_factory, GARBLED)
    result = run_cli("proof", "--book", str(root), "-q")
    assert result.returncode == 0, result.stderr
    page = (root / "build" / "proof" / "html" / "cases.html").read_text(encoding="utf-8")
    assert ":::" not in page and "{.critic" not in page
    assert re.search(r'<div class="critic-del">\s*<p>Whole paragraph gone\.</p>\s*</div>', page)
    assert '<span class="critic-ins">with a) and b] here</span>, noted' \
           '<span class="critic-comment" tabindex="0">a note with ] and [x</span>.' in page


def test_marks_in_an_abstract_are_counted_and_shown(tmp_path_factory):
    """A mark in the front matter's abstract was seen by the public build alone (critic-unresolved at 3:32):
    check did not list it, the proof counted none and printed '{++really++}'."""
    root = copy_book("mini", tmp_path_factory)
    chapter = root / "chapters" / "01-origins.md"
    text = chapter.read_text(encoding="utf-8")
    chapter.write_text(text.replace("abstract: Where alliances come from", "abstract: Where alliances come "
                                    "{++really++} from"), encoding="utf-8")
    assert _critic(root) == [("critic-mark", 3, 32)]
    refused = run_cli("html", "--book", str(root), "-q")
    assert refused.returncode == 1 and "01-origins.md:3:32: error[critic-unresolved]" in refused.stderr
    result = run_cli("proof", "--book", str(root), "-q")
    assert result.returncode == 0, result.stderr
    report = json.loads((root / "build" / "proof" / "report.json").read_text(encoding="utf-8"))
    assert _origins(report)["marks"] == 1
    page = (root / "build" / "proof" / "html" / "origins.html").read_text(encoding="utf-8")
    assert 'Where alliances come <span class="critic-ins">really</span> from' in page and "{++" not in page
    with zipfile.ZipFile(root / "build" / "proof" / f"{SLUG}.epub") as epub:
        assert '<span class="critic-ins">really</span>' in epub.read("EPUB/origins.xhtml").decode("utf-8")


def test_last_changed_reads_a_chapters_name_as_a_name_not_a_pattern(tmp_path):
    """The proof's 'last changed' asked git for the chapter's file as a pattern: a chapter named 'a*.md' was
    changed when any file matching it (ab.md) was."""
    from types import SimpleNamespace

    from build_book import proof

    _git(tmp_path, "init", "-q")
    for name, day in (("a*.md", "2024-01-02"), ("ab.md", "2024-03-04")):
        (tmp_path / name).write_text("# A\n", encoding="utf-8")
        _git(tmp_path, "add", "--", name)
        subprocess.run(["git", "-c", "user.name=Ed", "-c", "user.email=ed@example.org", "commit", "-qm", name],
                       cwd=tmp_path, check=True, capture_output=True,
                       env={**os.environ, "GIT_COMMITTER_DATE": f"{day}T12:00:00+00:00",
                            "GIT_AUTHOR_DATE": f"{day}T12:00:00+00:00"})
    chapter = SimpleNamespace(path="a*.md", sources=SimpleNamespace(origins=None))
    assert proof._last_changed(tmp_path, chapter).startswith("2024-01-02")
