"""The one place that calls pandoc."""

from __future__ import annotations

import json
from pathlib import Path

from build_book import pandoc
from build_book.walk import inline_text

REPO = Path(__file__).resolve().parent.parent


def test_batched_parsing_gives_the_same_documents_as_one_file_at_a_time():
    chapters = sorted((REPO / "tests" / "books" / "mini" / "chapters").glob("*.md"))
    texts = [p.read_text(encoding="utf-8") for p in chapters]
    texts.append("# Same note ids {#sec-x}\n\nText.[^1]\n\n[^1]: First file's note.\n")
    texts.append("# Other {#sec-y}\n\nText.[^1] [link](#sec-x)\n\n[^1]: Second file's note.\n")
    batched = pandoc.read_markdown_many(texts)
    assert [d["blocks"] for d in batched] == [pandoc.read_markdown(t)["blocks"] for t in texts]


NOTE_OF_EVERY_KIND = """Text.[^a] More.[^b]

[^a]: First paragraph with *emphasis*.

    - one
    - two

    3. three
    4. four

    > Quoted words.

    ```
    x = 1
    ```

    | line one
    | line two

    ::: {.aside}
    In a div.
    :::

[^b]: Short note.
"""


def test_footnotes_for_print_are_written_where_they_are_called():
    """The PDF's footnotes (notes_inline.lua): each a span at its call, its blocks on lines of their own."""
    blocks = json.dumps(pandoc.read_markdown(NOTE_OF_EVERY_KIND)["blocks"])
    alone = pandoc.write_html_blocks(blocks, inline_notes=True)
    assert alone == ('<p>Text.\u2060<span class="footnote">First paragraph with <em>emphasis</em>.<br />\n'
                     '• one<br />\n• two<br />\n3. three<br />\n4. four<br />\n'
                     '<span class="note-quote">Quoted words.</span><br />\n<code>x = 1</code><br />\n'
                     'line one<br />\nline two<br />\nIn a div.</span> More.'
                     '\u2060<span class="footnote">Short note.</span></p>\n')
    assert 'role="doc-endnotes"' in pandoc.write_html_blocks(blocks)     # (and at the end, for the web)


def test_a_footnotes_number_is_never_alone_on_a_line():
    """A note called at a paragraph's end: WeasyPrint would carry its number alone to the next line where
    the text before it just fits (the volume's "December 2015." and then "2" below it); the word joiner
    notes_inline.lua writes before each note keeps them together."""
    from weasyprint import CSS, HTML

    from build_book.render import pdf

    pdf.corrected_weasyprint()
    blocks = json.dumps(pandoc.read_markdown("Postponed the transfer to December 2015.[^1]\n\n[^1]: A note.\n")["blocks"])
    paragraph = pandoc.write_html_blocks(blocks, inline_notes=True)
    css = CSS(string=".footnote { float: footnote } ::footnote-call { content: counter(footnote); font-size: .68em;"
                     " vertical-align: super } p { font: 12px serif; margin: 0 }")

    def lines(box):
        if type(box).__name__ == "LineBox":
            return ["".join(getattr(b, "text", "") for b in box.descendants()).strip()]
        return [line for child in getattr(box, "children", []) for line in lines(child)]

    widths = range(60, 240, 2)
    for width in widths:
        page = HTML(string=f'<div style="width: {width}px">{paragraph}</div>').render(stylesheets=[css]).pages[0]
        assert "1" not in lines(page._page_box), width


def test_plain_text_of_titles_leaves_out_citations_and_notes():
    doc = pandoc.read_markdown("![A map [see @walt1987].[^1] Sources: the texts [@x].](m.svg){#fig-a}\n\n[^1]: n\n")
    caption = doc["blocks"][0]["c"][1][1][0]["c"]
    assert inline_text(caption) == "A map. Sources: the texts."
    # only what a citation leaves is tidied: a title's own '()' and spaces are its text (the contents, outline,
    # navigation and <title> read 'Calling main safely' for '# Calling `main()` safely')
    titles = {"Calling `main()` safely": "Calling main() safely", "Empty () and (x) : y": "Empty () and (x) : y",
              "Balance (@walt1987) here": "Balance here", "Balance [@walt1987]: theory": "Balance: theory"}
    for written, plain in titles.items():
        assert inline_text(pandoc.read_markdown(written)["blocks"][0]["c"]) == plain, written


def test_pandoc_is_the_one_pypandoc_would_choose():
    """build_book finds pandoc without importing pypandoc (its import is a good part of a check's time),
    but must choose the same binary: the newest of the places pypandoc looks."""
    import os
    import shutil

    import pypandoc

    def where(path: str) -> str:
        return os.path.realpath(shutil.which(path) or path)

    found = pandoc._look_for_pandoc()
    if found is None:     # where pypandoc is asked anyway (another system, PYPANDOC_PANDOC)
        return
    assert where(found) == where(pypandoc.get_pandoc_path())


def test_a_read_begun_ahead_serves_exactly_its_text_and_binary(tmp_path, monkeypatch):
    """early.py starts pandoc on a guess of a chapter's text: its output is used only for that very text,
    read by the binary this process runs; otherwise the text is read again, and the guess stopped."""
    text = "# A {#sec-a}\n\nOne[^1] and [a link][x].\n\n[^1]: A note.\n\n[x]: https://example.org\n"
    clean = pandoc.read_markdown_json(text)
    binary = pandoc._binary()
    runs = []
    real = pandoc._start

    def counted(args, binary=None, **options):
        runs.append("ahead" if binary is not None else "now")
        return real(args, binary, **options)

    monkeypatch.setattr(pandoc, "_start", counted)
    pandoc.read_markdown_ahead(text, binary)
    assert pandoc.read_markdown_json(text) == clean
    assert runs == ["ahead"]          # not read again
    runs.clear()
    other = tmp_path / "pandoc"       # the same pandoc by another path: not the binary this process runs
    other.symlink_to(binary)
    pandoc.read_markdown_ahead(text, str(other))
    assert pandoc.read_markdown_json(text) == clean
    assert runs.count("now") == 1
    runs.clear()
    pandoc.read_markdown_ahead(text + "More.\n", binary)     # a wrong guess
    assert pandoc.read_markdown_json(text) == clean
    assert "now" in runs
    pandoc.drop_ahead()
    assert not pandoc._ahead


def test_depth_counts_elements_inside_elements():
    """walk.elements_deep (the loader's one walk that measures the nesting too: compat.read) against the plain
    recursive definition, on random documents: how deep, and the very elements walk.elements yields."""
    import random

    from build_book.walk import LEAVES, elements, elements_deep

    def depth(doc, limit: int) -> int:
        deepest = [0]
        seen = list(elements_deep(doc, limit, deepest))
        if deepest[0] <= limit:
            assert [id(x) for x in seen] == [id(x) for x in elements(doc)]
        return deepest[0]

    def reference(item) -> int:
        if isinstance(item, list):
            return max((reference(x) for x in item), default=0)
        if not isinstance(item, dict):
            return 0
        if "t" not in item:       # a citation: no level of its own
            return max((reference(x) for x in item.values()), default=0)
        inside = 0 if item["t"] in LEAVES or item.get("c") is None else reference(item["c"])
        return 1 + inside

    rng = random.Random(9)
    tags = ["Str", "Emph", "Para", "Div", "Note", "Space", "Cite", "Code", "BulletList", "Span", "Null"]

    def document(level: int):
        r = rng.random()
        if level > 12 or r < 0.2:
            return rng.choice(["x", 1, None, {"t": "Space"}, {"t": "Str", "c": "a"}, {"t": "Emph"}])
        if r < 0.45:
            return [document(level + 1) for _ in range(rng.randint(0, 4))]
        if r < 0.55:
            return {"citationId": "k", "citationPrefix": [document(level + 1)], "citationSuffix": []}
        return {"t": rng.choice(tags), "c": document(level + 1)}

    for _ in range(3000):
        doc = document(0)
        for limit in (0, 1, 2, 3, 200):
            assert depth(doc, limit) == min(reference(doc), limit + 1)
    deep: dict = {"t": "Str", "c": "x"}
    for _ in range(500):
        deep = {"t": "Emph", "c": [deep]}
    assert depth([deep], 200) == 201
    chapter = REPO / "tests" / "books" / "mini" / "chapters" / "01-origins.md"
    blocks = pandoc.read_markdown(chapter.read_text(encoding="utf-8"))["blocks"]
    assert depth(blocks, 200) == reference(blocks) > 3


def test_a_candidate_pandoc_unchanged_since_is_not_run_again_for_its_version(monkeypatch):
    """What each candidate said of its version is kept (early.py's record) with its size and time: the
    next run takes it from there while the binary is the same, and asks again when it is not."""
    import subprocess

    monkeypatch.setattr(pandoc, "_found", dict(pandoc._found))    # (this test's findings stay its own)
    monkeypatch.setattr(pandoc, "_probes_known", {})
    monkeypatch.setattr(pandoc, "_probes", {})
    found = pandoc._look_for_pandoc()
    if found is None:     # where pypandoc is asked (another system, PYPANDOC_PANDOC)
        return
    probes = pandoc.probes()
    assert probes[found][2].split()[-1] == pandoc.version()
    runs = []
    real = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda args, **options: runs.append(args) or real(args, **options))
    said = {path: [size, time, "pandoc 99.1"] for path, (size, time, _) in probes.items()}
    pandoc.remember_probes(said)
    assert pandoc._look_for_pandoc() == found and runs == []
    assert pandoc._found["probed"] == "pandoc 99.1"
    pandoc.remember_probes({path: [size + 1, time, line] for path, (size, time, line) in said.items()})
    assert pandoc._look_for_pandoc() == found and len(runs) == len(probes)     # changed: run again
    assert pandoc._found["probed"] == probes[found][2]


def test_a_process_forked_while_another_thread_starts_pandoc_can_run_pandoc():
    # the build forks its worker processes while a thread of it may be starting pandoc (the chapters'
    # own citations, begun beside them): a lock that thread held at the fork must not stay held in the child
    import os
    import threading
    import time

    held, go = threading.Event(), threading.Event()

    def hold():
        with pandoc._live_lock:
            held.set()
            go.wait()

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait()
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(0 if "pandoc" in pandoc._run_pandoc(["--version"], timeout=20) else 2)
        except BaseException:
            os._exit(3)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            status = None
    finally:
        go.set()
        thread.join()
    assert status is not None, "the forked process waited for a lock held by a thread of its parent"
    assert os.waitstatus_to_exitcode(status) == 0


EVERY_KIND_OF_TEXT = """# A heading with *several* words {#sec-a .unnumbered}

Words on a line
and on the next (a soft break), "quoted words" and 'single ones', it's an apostrophe, don't.
*Emphasis over
two lines*, **strong words**, ~~struck out~~, ^super\\ script^, ~sub~, [small caps]{.smallcaps},
[a span of words]{#s1 .c key="v w"}, `code with  spaces`, $x + y$ and $$a = b$$, a line\\
break, ↩ and ↩︎ and ↩\ufe0e, a\u00a0non-breaking space, tab\there, 日米 安全保障 条約,
a [link with words](https://example.org "its title"), <https://example.org/auto>, an
![image with alt words](figure.png){width=50%}, a note[^n], an inline note^[with *its own* words],
a citation [see @smith2001, p. 3; @doe2002] and @smith2001 [p. 4], text that looks like JSON:
{\\"t\\": \\"Space\\"}, {\\"t\\": \\"Str\\", \\"c\\": \\"x\\"} and a backslash \\\\ and "a quote".

[^n]: A note with two paragraphs and words.

    > Quoted words in it.

- an item with words
- another item
  over two lines

1. first
2. second

- [ ] a task to do, in words
- [x] a task done
- a box ☐ and ☒ in running words

Term with words
:   Its definition, in words.

| line one with words
|     line two, indented

> A quotation with *emphasis*
> over two lines.

| Column one | Column two |
|------------|-----------:|
| cell words | more words |

: A caption with words {#tbl-x}

::: {.callout-note}
A div with words.
:::

```python
code = "block with  spaces"
```
"""


def test_the_html_writer_gets_runs_of_words_as_one_string_and_writes_the_same_html():
    doc = pandoc.read_markdown(EVERY_KIND_OF_TEXT)
    text = json.dumps(doc, ensure_ascii=False)
    compacted = pandoc.compact(text)
    assert json.loads(compacted)["pandoc-api-version"] == doc["pandoc-api-version"]
    assert len(compacted) < len(text) * 0.8
    spaces = text.count('{"t": "Space"}') + text.count('{"t": "SoftBreak"}')
    assert compacted.count('{"t": "Space"}') + compacted.count('{"t": "SoftBreak"}') < spaces / 4
    # as pandoc writes its JSON (no spaces after separators) too
    pandocs = pandoc._run(json.dumps(doc), "json", "json", [])
    assert len(pandoc.compact(pandocs)) < len(pandocs) * 0.8
    assert json.loads(pandoc.compact(pandocs)) == json.loads(compacted)
    # what pandoc's HTML writer makes of the text as it is: the same, written in one run or as blocks
    html = pandoc._run(text, "html5", "json", pandoc.HTML_OPTIONS)
    assert 'type="checkbox" checked="" />a task done' in html and "<li>a box ☐ and ☒ in running words</li>" in html
    assert "<em>Emphasis over two lines</em>" in html and '{"t": "Space"}, {"t": "Str", "c": "x"}' in html
    assert pandoc.write_html(doc) == html
    blocks = json.dumps(doc["blocks"], ensure_ascii=False)
    assert pandoc.write_html_blocks(blocks) == html
    assert pandoc.write_html_divs({"a": blocks, "b": blocks}) == {"a": html, "b": html}
    head = json.dumps({"pandoc-api-version": doc["pandoc-api-version"], "meta": {}})[:-1]
    notes_inline = [f"--lua-filter={pandoc.NOTES_INLINE_FILTER}"]
    assert pandoc.write_html_blocks(blocks, inline_notes=True) == pandoc._run(
        f'{head}, "blocks": {blocks}}}', "html5", "json", [*pandoc.HTML_OPTIONS, *notes_inline])
