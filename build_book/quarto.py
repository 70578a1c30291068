"""Quarto's book syntax, read before pandoc sees a chapter.

Quarto's shortcodes are text, not Markdown: ``{{< include file >}}`` pastes another
file in, ``{{< pagebreak >}}`` asks for a new page. pandoc knows neither, so a
chapter's text is expanded here first. Every line of the expanded text remembers
where it came from (a :class:`LineMap`), so a problem found later in included text
is reported at the included file and its own line (:func:`relocate`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from . import sandbox, schema
from .diagnostics import Diagnostic, Location, error, line_column, warning

SHORTCODE = re.compile(r"(\{)?\{\{<\s*(.*?)\s*>\}\}(\})?")
# fences at any indentation: inside a list item a fence stands four spaces in (Quarto books' exercises)
FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")
# an executable cell: ```{r}, ```{python}, ```{r setup, echo=FALSE} (a language, not {.class} or {#id})
CELL = re.compile(r"^([ \t]*)(`{3,}|~{3,})[ \t]*\{[ \t]*([A-Za-z][\w+-]*)(?:[^}\"'\n]|\"[^\"\n]*\"|'[^'\n]*')*\}[ \t]*$",
                  re.M)     # (a brace in a quoted option too: fig.cap="a {b} c")
CELL_OPTION = re.compile(r"^\s*#\|")
SHOWN_BY_HEADER = re.compile(r"[{,\s]echo\s*=\s*(?:TRUE|T|True)\s*[,}]")
# knitr's setting for the cells after it: 'knitr::opts_chunk$set(echo = FALSE, message = FALSE)'
GLOBAL_ECHO = re.compile(r"opts_chunk\$set\((?:[^()]|\([^()]*\))*?\becho\s*=\s*(TRUE|FALSE|T|F)\b")
# a cell whose code only shows an image file: knitr::include_graphics("screenshots/env.png")
INCLUDE_GRAPHICS = re.compile(r"""(knitr::)?include_graphics\(\s*(?:path\s*=\s*)?(["'])([^"'\n]+)\2\s*\)""")
MAX_INCLUDE_DEPTH = 20
# one chapter with everything it includes: a file included twice at every level of twenty would
# otherwise make a million copies of itself
MAX_INCLUDES = 5_000
MAX_LINES = 500_000
PAGEBREAK_CLASS = "page-break"


@dataclass
class LineMap:
    """Where each line of a chapter's expanded text was written: ``origins[i]`` is the (path, line)
    of expanded line ``first + i``; lines before ``first`` (the front matter) are the chapter's own."""

    first: int = 1
    origins: list[tuple[str, int]] = field(default_factory=list)

    def where(self, line: int) -> tuple[str, int] | None:
        i = line - self.first
        if 0 <= i < len(self.origins):
            return self.origins[i]
        return None

    def included_at(self, line: int, chapter: str) -> tuple[str, int] | None:
        """Where the include that wrote expanded ``line`` stands in the ``chapter``'s own file (None if the
        chapter wrote it): the line after the chapter's last one before it, which the include replaced."""
        i = line - self.first
        if not 0 <= i < len(self.origins) or self.origins[i][0] == chapter:
            return None
        while i >= 0 and self.origins[i][0] != chapter:
            i -= 1
        return (chapter, self.origins[i][1] + 1 if i >= 0 else self.first)


@dataclass
class Expanded:
    text: str
    lines: LineMap | None          # None when nothing was included (lines are the chapter's own)
    diagnostics: list[Diagnostic]  # located in the expanded text: relocate() them like any other
    echo: bool = True              # whether a cell after the text would show its code (knitr's opts_chunk)


def expand(root: Path, path: str, body: str, first_line: int, echo: bool = True) -> Expanded:
    """Expand the shortcodes in ``body`` (the text of the chapter ``path`` from line ``first_line``), and show
    its cells as Quarto would without running them (``echo``: whether a cell shows its code unless it, or
    knitr's opts_chunk$set(echo = ...) in a cell before it, says otherwise)."""
    knitted = path.lower().endswith((".rmd", ".qmd"))
    if "{{<" not in body and not (("```" in body or "~~~" in body) and CELL.search(body)) and not (
            knitted and "is_html_output" in body and WEB_ONLY.search(body)):
        return Expanded(body, None, [], echo)
    out: list[str] = []
    origins: list[tuple[str, int]] = []
    diags: list[Diagnostic] = []
    chapter = path
    cells: list[Location] = []
    figures: list[Location] = []    # cells labelled as figures ('#| label: fig-x'), printed without their figure
    budget = {"includes": 0, "stopped": False}
    shown = [echo]

    def here(col: int) -> Location:  # the line about to be written, in the expanded text
        return Location(chapter, first_line + len(out), col)

    def emit(line: str, origin: tuple[str, int]) -> None:
        out.append(line)
        origins.append(origin)

    def flush(cell: dict, closing: tuple[str, tuple[str, int]]) -> None:
        """An executable cell, read to its end, as Quarto would show it without running it: its code (in its
        language, without its '#|' options); nothing for a cell with 'echo: false' or 'include: false'; the
        image of a cell that only includes one (knitr::include_graphics("file.png")), as a figure."""
        indent, (opener, origin) = cell["indent"], cell["opener"]
        header, knitr_label, computed = _header_options(cell["header"])
        options = {**header, **_cell_options(cell["options"])}
        # knitr's own '#|' syntax, the header's name = value pairs written in the cell ('#| echo = FALSE,'):
        # read as the header is, after it (the header's label first, as knitr takes it)
        written = _knitr_options(cell["options"])
        headers = [cell["header"]] + ([written] if written else [])
        if written:
            more, more_label, more_computed = _header_options(written)
            options.update(more)
            knitr_label = knitr_label or more_label
            computed += more_computed
        not_run = _says_false(headers, options, "eval")
        children = _children(headers, options)
        if children is not None:    # knitr's child documents: their text here, as an include's
            emit("", origin)
            if not_run:     # (knitr knits no child of a cell it would not run: eval=FALSE leaves it out)
                return
            for target in children:
                included = _include(root, cell["file"], target, cell["stack"], cell["where"], diags)
                if included is not None:
                    walk(included[1], included[0], 1, cell["stack"] + (included[0],))
                    emit("", closing[1])
            return
        captioned = bool(options.get("fig-cap")) or any(name == "fig.cap" for name, _ in computed)
        if knitr_label and captioned and not options.get("label"):   # as bookdown labels it
            options["label"] = knitr_label if knitr_label.startswith("fig-") else "fig-" + knitr_label
        code = [(line, at) for line, at in cell["body"] if line.strip()]
        image = INCLUDE_GRAPHICS.fullmatch(code[0][0].strip()) if len(code) == 1 else None
        engine = CELL.match(cell["header"]).group(3).lower()
        caption, alt, label = (str(options.get(k) or "").strip() for k in ("fig-cap", "fig-alt", "label"))
        figure = label if FIGURE_LABEL.fullmatch(label) and engine not in BOOKDOWN_BLOCKS else ""
        table = _unmade_table_of(options, knitr_label, code, engine, path.lower().endswith(".rmd")) \
            if not (figure or image) else None
        if image or figure:
            for name, value in computed:
                diags.append(warning(
                    "code-not-executed", f"this cell's {name} is R code ({value}), which build_book does not run: "
                    "its figure is printed without it", cell["where"],
                    f"write the {'caption' if name == 'fig.cap' else 'description'} out, in quotes: "
                    f"{name}=\"...\""))
        if image:
            target = image.group(3).replace(" ", "%20")
            at = code[0][1]
            if label.startswith("fig-") and captioned:   # (the caption a paragraph, at the header: its Markdown read)
                lines = [(f"::: {{#{label}{_alt(alt)}}}", at), (f"![]({target})", at)] + (
                    [("", at), (_paragraph(caption), origin)] if caption else []) + [(":::", at)]
            else:
                lines = [(f'![{_text(caption)}]({target}){{alt="{_attr(alt)}"}}' if alt else
                          f"![{_text(caption)}]({target})", at)]
            emit("", origin)
            for line, place in lines:
                emit(indent + line if line else "", place)
            emit("", closing[1])
            return
        if engine in BOOKDOWN_BLOCKS:   # bookdown's theorem, proof or block: Markdown, not code
            _bookdown_block(cell, engine, closing, emit)
            return
        if not not_run:     # (a cell knitr or Quarto would not run either, eval=FALSE, loses nothing: not counted)
            cells.append(cell["where"])
        hidden = _says_false(headers, options, "echo", "include")   # R Markdown's ```{r setup, include=FALSE}
        if not shown[0] and not hidden:     # the book's, the chapter's or knitr's echo: false, unless it says true
            hidden = options.get("echo") is None and not any(SHOWN_BY_HEADER.search(h) for h in headers)
        if engine == "r" and "opts_chunk" in cell["header"] + "".join(line for line, _ in code) and not not_run:
            run = "\n".join(line for line, _ in code if not line.lstrip().startswith("#"))   # (not R's comments)
            for found in GLOBAL_ECHO.finditer(run):     # knitr::opts_chunk$set(echo = FALSE): for the cells after
                shown[0] = found.group(1) in ("TRUE", "T")
        # a figure or table it would make, which build_book cannot: a placeholder, unless knitr would make none
        # either (eval=FALSE, include=FALSE: nothing of the cell is in the book)
        if not_run or _says_false(headers, options, "include"):
            figure, table = "", None
        if figure or table:
            figures.append(cell["where"])
        if table and table[2]:
            diags.append(warning(
                "code-not-executed", f"this cell's table caption is R code ({table[2]}), which build_book does not "
                "run: its table is printed without it", cell["where"], "write the caption out, in quotes: "
                "caption = \"...\""))

        def unmade() -> None:
            name = _text(ENGINE_NAMES.get(engine, engine))
            if figure:
                _unmade(cell, figure, _alt(alt), [f"::: {{.{UNMADE_CLASS}}}", f"Not drawn: its {name} code was not run.",
                                                  ":::"], caption, origin, closing[1], indent, emit)
            elif table:
                _unmade(cell, table[0], f" .{UNMADE_TABLE_CLASS}", ["|   |", "|:-:|", f"| Not made: its {name} code "
                                                                   "was not run. |"], table[1], origin, closing[1],
                        indent, emit)

        if hidden:   # Quarto shows such a cell's output only, which build_book cannot make
            emit("", origin)
            unmade()
            return
        listing = _listing(cell, options, opener, origin)
        if listing:     # (a blank line, where a fence stands after one anyway, keeps the cell's place at its fence)
            emit("", origin)
        emit(*listing if listing else (opener, origin))
        for line, at in cell["body"]:
            emit(line, at)
        emit(*closing)
        if figure or table:      # (its output after its code, as Quarto shows them)
            emit("", closing[1])
            unmade()

    def walk(text: str, name: str, first: int, stack: tuple[str, ...]) -> None:
        fence: str | None = None
        cell: dict | None = None   # an executable cell being read
        comment = False            # inside an HTML comment, where no cell is (pandoc prints none of it)
        for offset, line in enumerate(text.split("\n")):
            origin = (name, first + offset)
            opener = FENCE.match(line)
            if not fence and ("<!--" in line or comment):
                comment = line.rfind("<!--") > line.rfind("-->") if "<!--" in line else "-->" not in line
                if comment or "<!--" not in line:
                    emit(line, origin)
                    continue
            if fence:
                if opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence):
                    fence = None
                    if cell:
                        flush(cell, (line, origin))
                        cell = None
                        continue
                elif cell and not cell["body"] and (CELL_OPTION.match(line) or not line.strip()):
                    # a cell option ('#| echo: false') is for Quarto's engine, not the reader; so are the
                    # blank lines between the options and the code
                    cell["options"].append(line)
                    cell["option_at"].append(origin)
                    continue
                if cell:
                    cell["body"].append((line, origin))
                    continue
                emit(line, origin)
                continue
            if opener:
                fence = opener.group(1)
                found = CELL.match(line)
                if found:   # shown as code in its language: '```{r}' becomes '```r'
                    cell = {"indent": found.group(1), "header": line, "where": here(len(found.group(1)) + 1),
                            "options": [], "option_at": [], "body": [], "opener": (f"{found.group(1)}{found.group(2)} "
                                                   f"{{.{found.group(3).lower()} .cell-code}}", origin),
                            "file": name, "stack": stack}
                    continue
                emit(line, origin)
                continue
            web = WEB_ONLY.fullmatch(line) if knitted and "is_html_output" in line else None
            if web:     # '`r if (knitr::is_html_output()) "# References {-}"`': what knitr writes for the web
                for piece in _r_string(web.group(2)).split("\n"):
                    emit(piece, origin)
                continue
            if "{{<" not in line:
                emit(line, origin)
                continue
            whole = SHORTCODE.fullmatch(line.strip())
            if whole and not whole.group(1):
                words = whole.group(2).split(None, 1)
                kind = words[0] if words else ""
                if kind == "include":
                    target = words[1].strip().strip("\"'") if len(words) > 1 else ""
                    budget["includes"] += 1
                    if budget["stopped"]:
                        included = None
                    elif budget["includes"] > MAX_INCLUDES or len(out) > MAX_LINES:
                        budget["stopped"] = True
                        diags.append(error(
                            "input-limit", f"this chapter includes more than {MAX_INCLUDES:,} files or "
                            f"{MAX_LINES:,} lines; this include and the ones after it were left out",
                            here(line.index("{{<") + 1), "look for files included many times over (an include "
                            "inside a file that is itself included repeatedly)"))
                        included = None
                    else:
                        included = _include(root, name, target, stack, here(line.index("{{<") + 1), diags)
                    if included is None:
                        emit("", origin)
                    else:
                        inc_name, inc_text = included
                        walk(inc_text, inc_name, 1, stack + (inc_name,))
                    continue
                if kind == "pagebreak":
                    emit(f"::: {{.{PAGEBREAK_CLASS}}}", origin)
                    emit(":::", origin)
                    continue
            emit(_inline(line, here, diags), origin)
        if cell:   # a cell left open at the end of the file: the code it holds, closed
            diags.append(warning(
                "cell-unclosed", f"this code cell is never closed: everything after it in {name}, headings and "
                "text too, is printed as its code", cell["where"],
                f"close it with a line of {fence} where its code ends"))
            cells.append(cell["where"])
            emit(*cell["opener"])
            for line, at in cell["body"]:
                emit(line, at)
            emit(cell["indent"] + fence, origin)

    walk(body, path, first_line, (path,))
    if cells:
        diags.append(warning(
            "code-not-executed", f"this chapter has {len(cells)} executable code cell{'s' if len(cells) > 1 else ''} "
            "(```{r}, ```{python}, ...): build_book prints their code (unless echo is false) but does not run it, "
            "so what they would compute (figures, tables, numbers) is not in the book" + (
                "" if not figures else "; it is labelled as a figure or table, which is printed with its caption and "
                "number over a placeholder" if len(cells) == 1 else f"; {len(figures)} of them "
                f"{'is' if len(figures) == 1 else 'are'} labelled as figures or tables, printed with their captions and "
                "numbers over placeholders"), cells[0],
            "render the cells' output with Quarto and include it as images or tables, or mark the code as "
            "plain code (```r) if showing it is all you want"))
    return Expanded("\n".join(out), LineMap(first_line, origins), diags, shown[0])


FIGURE_LABEL = re.compile(r"fig-[A-Za-z0-9][\w:.-]*")
TABLE_LABEL = re.compile(r"tbl-[A-Za-z0-9][\w:.-]*")
UNMADE_CLASS = "unmade-figure"     # what stands in a figure a code cell would draw (the stylesheets' class)
UNMADE_TABLE_CLASS = "unmade-table"
# knitr's table with a caption, which bookdown labels 'tab:' and the cell's label (or kable's own label="x"):
# 'knitr::kable(df, caption = "Results")', kbl(...)
KABLE = re.compile(r"\b(?:kable|kbl)\s*\(")
KABLE_OPTION = re.compile(r"""\b(caption|label)\s*=\s*(?:(["'])((?:\\.|(?!\2).)*)\2|([^,()]+(?:\([^()]*\))?))""")


def _unmade_table_of(options: dict, knitr_label: str, code: list, engine: str, bookdown: bool
                     ) -> tuple[str, str, str] | None:
    """The table a cell would make, labelled and captioned ('#| label: tbl-x' with '#| tbl-cap:', or, in an R
    Markdown chapter, knitr's 'kable(df, caption = "...")' in a cell labelled x, which bookdown refers to as
    tab:x): its label, its caption and the R code of a caption given as code ("" if none); None for a cell that
    makes no labelled table."""
    label = str(options.get("label") or "").strip()
    if TABLE_LABEL.fullmatch(label):
        return label, str(options.get("tbl-cap") or "").strip(), ""
    text = "\n".join(line for line, _ in code if not line.lstrip().startswith("#"))
    called = KABLE.search(text) if engine == "r" and bookdown else None
    if called is None:
        return None
    given = {found.group(1): (found.group(3), found.group(4))
             for found in KABLE_OPTION.finditer(text, called.end(), _call_end(text, called.end()))}
    if "caption" not in given:      # (knitr labels no table without a caption)
        return None
    own = given.get("label", (None, None))[0]
    name = own or knitr_label
    if not name or not re.fullmatch(r"[A-Za-z0-9][\w:.-]*", name):
        return None
    quoted, computed = given["caption"]
    computed = (computed or "").strip()
    return "tbl-" + name, (quoted or "").replace('\\"', '"').replace("\\'", "'"), "" if computed == "NULL" else computed


def _call_end(text: str, start: int) -> int:
    """Where the R call whose arguments begin at ``start`` (after its '(') ends: at its closing parenthesis,
    those inside strings aside; the end of ``text`` if it is never closed."""
    depth, quote, at = 1, "", start
    while at < len(text):
        ch = text[at]
        if quote:
            if ch == "\\":
                at += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return at
        at += 1
    return len(text)


ENGINE_NAMES = {"r": "R", "python": "Python", "julia": "Julia", "ojs": "Observable JS"}


def _unmade(cell: dict, label: str, attributes: str, body: list[str], caption: str, origin, closing, indent: str,
            emit) -> None:
    """The figure or table a cell labelled as one would make (a plot, kable's table), which build_book cannot: a
    div labelled so (``attributes`` after the label; at the label's option line, where it is one), holding
    ``body``, a placeholder saying why it is empty, and the caption, so that it is numbered and captioned and
    references to it read as they should."""
    opening, at = f"::: {{#{label}{attributes}}}", origin
    written = _option_line(cell, "label", label)
    if written:     # (its '#' at the label's column there)
        opening, at = f":::{' ' * max(1, written[0] - 4)}{{#{label}{attributes}}}", written[1]
    lines = [(opening, at)] + [(line, origin) for line in body]
    if caption:
        lines += [("", origin), (_paragraph(caption), origin)]
    lines.append((":::", closing))
    for line, place in lines:
        emit(indent + line if line else "", place)
    emit("", closing)


def _listing(cell: dict, options: dict, opener: str, origin: tuple[str, int]) -> tuple[str, tuple[str, int]] | None:
    """The opening line of a cell labelled as a code listing ('#| lst-label: lst-x', '#| lst-cap: ...'), with
    the label and caption as a code block's attributes, as a fenced block labelled '{#lst-x lst-cap="..."}'
    is (checks.py warns that build_book numbers no listings); placed at the option line, its '#' at the
    label's column there. None for a cell that is no listing."""
    key = "lst-label" if "lst-label" in options else "label"
    label = str(options.get(key) or "").strip()
    if not re.fullmatch(r"lst-[A-Za-z0-9][\w:.-]*", label):
        return None
    caption = str(options.get("lst-cap") or "").strip()
    attributes = f'#{label} {opener[opener.index("{") + 1:-1]}' + (f' lst-cap="{_attr(caption)}"' if caption else "")
    fence = opener[:opener.index("{")].rstrip()
    written = _option_line(cell, key, label)
    if written:
        return f"{fence}{' ' * max(1, written[0] - len(fence) - 1)}{{{attributes}}}", written[1]
    return f"{fence} {{{attributes}}}", origin


# a '#|' option line of knitr's own syntax, as Quarto tells it from YAML: one line at least not indented and
# without a colon ('#| echo = FALSE,'), and every line an option ('name = value') or ending with a comma
KNITR_OPTION_LINE = re.compile(r"[^:\s][^:]*")


def _says_false(headers: list[str], options: dict, *names: str) -> bool:
    """Whether a cell's options set one of ``names`` false: in a header, R's way ('{r, echo=FALSE}'), or in its
    '#|' options, YAML's ('#| echo: false')."""
    written = re.compile(rf"[{{,\s](?:{'|'.join(names)})\s*=\s*(?:FALSE|F|False)\s*[,}}]")
    return any(str(options.get(name)).lower() in ("false", "no") for name in names) or \
        any(written.search(header) for header in headers)


def _option_line(cell: dict, key: str, value: str) -> tuple[int, tuple[str, int]] | None:
    """Where a cell's '#|' option ``key`` gives ``value`` ('#| label: fig-x'): the column (from 0) where the value
    begins in its line, and that line's place; None if no option line does."""
    for line, place in zip(cell["options"], cell["option_at"]):
        found = re.match(rf"\s*#\|\s*{key}\s*:\s*[\"']?", line)
        if found and line[found.end():].startswith(value):
            return found.end(), place
    return None


def _knitr_options(lines: list[str]) -> str | None:
    """A cell's '#|' option lines written in knitr's syntax, the header's ('#| echo = FALSE,' and
    '#| fig.cap = "..."' on the lines after), as a header reads them ('{r, echo = FALSE, fig.cap = "..."}');
    None when they are YAML ('#| echo: false'), or there are none."""
    text = [re.sub(r"^\s*#\| ?", "", line).rstrip() for line in lines if CELL_OPTION.match(line)]
    text = [line for line in text if line.strip()]
    if not any(KNITR_OPTION_LINE.fullmatch(line) for line in text) or \
            not all(line.endswith(",") or "=" in line for line in text):
        return None
    return "{r, " + " ".join(line.strip() for line in text) + "}"


def _cell_options(lines: list[str]) -> dict:
    """A cell's '#|' option lines (YAML, as Quarto reads them) as a mapping; {} when they are not YAML."""
    text = "\n".join(re.sub(r"^\s*#\| ?", "", line) for line in lines if CELL_OPTION.match(line))
    try:
        found = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError:
        return {}
    return found if isinstance(found, dict) else {}


# an option in an R Markdown cell's header ('```{r logo, echo=FALSE, fig.cap="The logo."}'): name=value, or
# the cell's label, written first without a name
HEADER_OPTION = re.compile(r"""\s*(?:([\w.-]+)\s*=\s*)?("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'"""
                           r"""|(?:[^,()"']|\((?:[^()"']|"[^"]*"|'[^']*')*\)|"[^"]*"|'[^']*')*?)\s*(?:,|$)""")


def _header_options(header: str) -> tuple[dict, str, list[tuple[str, str]]]:
    """The options of an R Markdown cell's header that say what build_book prints of it: its fig.cap and
    fig.alt, in Quarto's names; its label (bookdown labels a figure cell with a caption 'fig:' and its label:
    see flush); and those of fig.cap and fig.alt given as R code ('fig.cap=paste(...)'), with the code,
    which build_book cannot print (NULL, knitr's 'none', is no option)."""
    found, label, computed = {}, "", []
    for nth, (name, value, quoted) in enumerate(_header_pairs(header)):
        if name in ("fig.cap", "fig.alt") and quoted:
            found[name.replace(".", "-")] = value
        elif name in ("fig.cap", "fig.alt") and value.strip() and value.strip() != "NULL":
            computed.append((name, value.strip()))
        elif (name is None and nth == 0) or name == "label":
            label = value
    return found, label, computed


def _header_pairs(header: str) -> list[tuple[str | None, str, bool]]:
    """An R Markdown cell header's options after its engine, as (name, value, quoted?): a quoted value
    unquoted, a label (written first) with no name."""
    inside = header[header.find("{") + 1:header.rfind("}")]
    engine = re.match(r"\s*[A-Za-z][\w+-]*\s*,?", inside)
    pairs = []
    for option in HEADER_OPTION.finditer(inside, engine.end() if engine else 0):
        name, value = option.group(1), option.group(2)
        quoted = value[:1] in ("'", '"') and value[-1:] == value[:1] and len(value) > 1
        if quoted:
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        if name or value:
            pairs.append((name, value, quoted))
        if option.end() >= len(inside):
            break
    return pairs


# bookdown's blocks of Markdown written as cells ('```{theorem, name="Pythagoras"}'), by engine: the prefix
# of their labels ('thm', as bookdown's '\@ref(thm:x)' writes it) and the word bookdown prints before them
BOOKDOWN_BLOCKS = {
    "theorem": ("thm", "Theorem"), "lemma": ("lem", "Lemma"), "corollary": ("cor", "Corollary"),
    "proposition": ("prp", "Proposition"), "conjecture": ("cnj", "Conjecture"), "definition": ("def", "Definition"),
    "example": ("exm", "Example"), "exercise": ("exr", "Exercise"), "hypothesis": ("hyp", "Hypothesis"),
    "remark": ("rem", "Remark"), "solution": ("sol", "Solution"), "proof": ("", "Proof"), "block": ("", ""),
    "block2": ("", "")}
# a line that begins a block of its own, before which the block's word cannot stand in the same paragraph
BLOCK_START = re.compile(r"\s*(?:[#>|:*+-]|\d+[.)]\s|\$\$|`{3}|~{3}|<|$)")


def _bookdown_block(cell: dict, engine: str, closing: tuple[str, tuple[str, int]], emit) -> None:
    """A bookdown theorem (or proof, or block) cell as the div bookdown makes of it: its Markdown, headed by its
    word and name in bold ('**Theorem (Pythagoras).**'; a proof's in italics), labelled as Quarto labels a
    theorem ('#thm-x': build_book does not number them, and says so where one is referred to)."""
    indent, origin = cell["indent"], cell["opener"][1]
    _, label, _ = _header_options(cell["header"])
    named = {name: value for name, value, _ in _header_pairs(cell["header"]) if name}
    prefix, word = BOOKDOWN_BLOCKS[engine]
    attributes = ([f"#{prefix}-{label}"] if prefix and label else []) + \
        [f".{engine}"] + ([f".{named['type']}"] if re.fullmatch(r"[A-Za-z][\w-]*", named.get("type", "")) else [])
    emit("", origin)
    emit(f"{indent}::: {{{' '.join(attributes)}}}", origin)
    head = f"{word} ({named['name']})" if word and named.get("name") else word
    head = (f"*{head}.*" if engine == "proof" else f"**{head}.**") if head else ""
    body = list(zip(cell["options"], cell["option_at"])) + cell["body"]
    first = next((n for n, (line, _) in enumerate(body) if line.strip()), None)
    if head and (first is None or BLOCK_START.match(body[first][0][len(indent):])):
        emit(indent + head, origin)
        emit("", origin)
        head = ""
    for n, (line, at) in enumerate(body):
        if head and n == first:     # on a line of its own, in the paragraph: the text's columns are as written
            emit(indent + head, origin)
        emit(line, at)
    emit(f"{indent}:::", closing[1])
    emit("", closing[1])


def _paragraph(text: str) -> str:
    """``text`` as a paragraph of pandoc's Markdown of its own, on one line: not a heading, list, quotation
    or table, whatever it begins with."""
    text = " ".join(text.split())
    numbered = re.match(r"(\d+)([.)])(\s|$)", text)
    if numbered:
        return numbered.group(1) + "\\" + text[numbered.end(1):]
    return "\\" + text if re.match(r"[#>*+|:=~`-]", text) else text


def _attr(text: str) -> str:
    """Text for a quoted attribute value in pandoc's Markdown."""
    return " ".join(text.split()).replace("\\", "\\\\").replace('"', '\\"')


def _alt(alt: str) -> str:
    return f' fig-alt="{_attr(alt)}"' if alt else ""


def _text(text: str) -> str:
    """Text for an image's brackets: one line, its brackets escaped."""
    return " ".join(text.split()).replace("[", "\\[").replace("]", "\\]")


def _children(headers: list[str], options: dict) -> list[str] | None:
    """The files a knitr cell's 'child' option names ('```{r, child="_part.Rmd"}', 'child=c("a.Rmd", "b.Rmd")',
    '#| child: _part.Rmd'), whose text knitr puts in the cell's place; None for a cell with no such option."""
    given = options.get("child")
    if isinstance(given, str):
        return [given.strip()]
    if isinstance(given, list):
        return [str(g).strip() for g in given]
    for header in headers:
        for name, value, quoted in _header_pairs(header):
            if name == "child":
                if quoted:
                    return [value.strip()]
                return [m.group(2) for m in re.finditer(r"""(["'])(.*?)\1""", value)]
    return None


# a line that is inline R alone, writing text for the web edition only, as bookdown's books head their references
# chapter: '`r if (knitr::is_html_output()) "\n# References {-}\n"`'
WEB_ONLY = re.compile(r"""[ \t]*`r[ \t]+if[ \t]*\([ \t]*(?:knitr:::?)?is_html_output\(\)[ \t]*\)[ \t]*"""
                      r"""(["'])((?:\\.|(?!\1).)*)\1[ \t]*`[ \t]*""", re.M)


def _r_string(text: str) -> str:
    """An R string literal's text: its escapes ('\\n', '\\"', '\\\\') read."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def _inline(line: str, here, diags: list[Diagnostic]) -> str:
    """A line with shortcodes among other text: Quarto's escape ``{{{< x >}}}`` prints ``{{< x >}}``;
    any other shortcode is reported and left out."""

    def one(m: re.Match) -> str:
        if m.group(1) and m.group(3):
            return "\\{\\{\\<" + " " + m.group(2) + " \\>\\}\\}"  # escaped: printed as written
        kind = (m.group(2).split() or [""])[0]
        if kind == "include":
            diags.append(warning("quarto-shortcode", "an include must stand alone on its line; this one was "
                                 "left out", here(m.start() + 1), "put '{{< include FILE >}}' on a line of its own"))
        elif kind == "pagebreak":
            diags.append(warning("quarto-shortcode", "a page break must stand alone on its line; this one was "
                                 "left out", here(m.start() + 1), "put '{{< pagebreak >}}' on a line of its own"))
        else:
            diags.append(warning("quarto-shortcode", f"the Quarto shortcode '{kind}' is not supported by "
                                 "build_book and was left out of every edition", here(m.start() + 1),
                                 "build_book expands only 'include' and 'pagebreak'; write the text itself "
                                 "instead (or '{{{< ... >}}}' to print a shortcode as written)"))
        return (m.group(1) or "") + (m.group(3) or "")

    return SHORTCODE.sub(one, line)


def _include(root: Path, including: str, target: str, stack: tuple[str, ...], where: Location,
             diags: list[Diagnostic]) -> tuple[str, str] | None:
    """(book-relative path, text) of the file an include names, or None with the problem reported."""
    if not target:
        diags.append(error("include-missing", "this include names no file", where,
                           "write the file to include: {{< include _intro.qmd >}}"))
        return None
    base = (root / including).parent
    path = sandbox.inside(root, target, base)
    if path is None:
        diags.append(sandbox.outside(target, where, "included file"))
        return None
    name = path.relative_to(root.resolve()).as_posix()
    if not sandbox.is_file(path):
        diags.append(error("include-missing", f"the included file '{target}' does not exist", where,
                           f"looked for {name}; an include is relative to the file that holds it"))
        return None
    if name in stack:
        chain = " → ".join(stack[stack.index(name):] + (name,))
        diags.append(error("include-cycle", f"'{target}' includes itself: {chain}", where,
                           "remove one of the includes in this chain"))
        return None
    if len(stack) > MAX_INCLUDE_DEPTH:
        diags.append(error("include-cycle", f"includes nest more than {MAX_INCLUDE_DEPTH} deep here", where,
                           "include the files from fewer levels"))
        return None
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        diags.append(error("encoding", f"the included file '{target}' is not UTF-8", where,
                           "save it as UTF-8 (in most editors: Save As… → Encoding: UTF-8)"))
        return None
    except OSError as exc:
        diags.append(error("include-missing", f"the included file '{target}' cannot be read "
                           f"({exc.strerror or exc})", where, "check that the file can be read"))
        return None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    for found in schema.FORBIDDEN.finditer(text):
        line, column = line_column(text, found.start())
        diags.append(error("control-character", f"the control character {schema.codepoint(found.group())} "
                           "cannot be printed in any edition", Location(name, line, column),
                           "delete it: it is invisible in most editors (it often comes from pasted text)"))
        break
    return name, schema.FORBIDDEN.sub("", text).removesuffix("\n")


def check_expressions(book) -> list[Diagnostic]:
    """``code-not-executed`` for a .qmd or .Rmd chapter's inline code that Quarto or knitr would run
    ('`r nrow(df)`', '`{python} 1 + 1`'): build_book prints it as code (in a .md chapter it is code)."""
    diags = []
    for chapter in book.chapters:
        found = chapter.sources.expressions
        if not found or not chapter.path.lower().endswith((".qmd", ".rmd")):
            continue
        shown = ", ".join(f"`{code}`" for code in dict.fromkeys(code for code, _ in found[:3]))
        diags.append(warning(
            "code-not-executed", f"this chapter has {len(found)} inline code expression{'s' if len(found) > 1 else ''}"
            f" ({shown}{', ...' if len(found) > 3 else ''}): build_book prints them as code and does not run them, "
            "so the values they would compute are not in the book", Location(chapter.path, *found[0][1]),
            "write the values out, or render the chapter with Quarto and include what it computes"))
    return diags


def relocate(diags: list[Diagnostic], maps: dict[str, LineMap]) -> list[Diagnostic]:
    """Diagnostics located in a chapter's expanded text moved to the file and line that text came from."""
    if not maps:
        return diags
    out = []
    for d in diags:
        lines = maps.get(d.location.path)
        found = lines.where(d.location.line) if lines is not None else None
        if found is not None and found != (d.location.path, d.location.line):
            d = replace(d, location=Location(found[0], found[1], d.location.column))
        out.append(d)
    return out


def line_maps(chapters) -> dict[str, LineMap]:
    """The line maps of the chapters that include other files, by chapter path."""
    return {c.path: c.sources.origins for c in chapters if getattr(c.sources, "origins", None) is not None}


def included(chapters) -> set[str]:
    """Every file the chapters include (they are part of the book though not listed as chapters)."""
    return {path for lines in line_maps(chapters).values() for path, _ in lines.origins}


# --- callouts ---------------------------------------------------------------------------------------

CALLOUTS = {"note": "Note", "tip": "Tip", "important": "Important", "warning": "Warning", "caution": "Caution"}


def callout_kind(node: dict) -> str | None:
    """'note', 'tip', ... for a Quarto callout div (``::: {.callout-note}``), else None."""
    if node.get("t") != "Div":
        return None
    for cls in node["c"][0][1]:
        if cls.startswith("callout-") and cls[8:] in CALLOUTS:
            return cls[8:]
    return None


def callout_headings(blocks) -> set[int]:
    """The ``id()`` of each heading that titles a callout (its first block): not a section of the chapter."""
    from .walk import elements
    return {id(node["c"][1][0]) for node in elements(blocks)
            if callout_kind(node) and node["c"][1] and node["c"][1][0]["t"] == "Header"}


def callouts(blocks: list, lang: str = "en") -> list:
    """Each callout div as a titled box: ``<div class="callout callout-note" role="note" aria-label="Note:
    title">`` opening with a ``callout-title`` line; its heading (if it has one) becomes that title. The
    kind's word is in the book's language ``lang`` (ui.py)."""
    from .ui import words
    from .walk import Str, inline_text, rewrite
    say = words(lang)

    def fix(node: dict):
        kind = callout_kind(node)
        if kind is None or "callout" in node["c"][0][1]:
            return None
        (ident, classes, pairs), content = node["c"]
        pairs = dict(pairs)
        title = []
        if content and content[0]["t"] == "Header":
            title = content[0]["c"][2]
            content = content[1:]
        elif pairs.get("title", "").strip():
            title = [Str(pairs["title"].strip())]
        name = say(CALLOUTS[kind])
        label = f"{name}: {inline_text(title).strip()}" if title else name
        shown = title or [Str(name)]
        keep = [(k, v) for k, v in pairs.items() if k not in ("title", "collapse", "appearance", "icon")]
        head = {"t": "Div", "c": [["", ["callout-title"], []], [{"t": "Plain", "c": shown}]]}
        body = {"t": "Div", "c": [["", ["callout-body"], []], content]}
        return [{"t": "Div", "c": [[ident, ["callout", f"callout-{kind}"] + [c for c in classes if c != f"callout-{kind}"],
                                    keep + [("role", "note"), ("aria-label", label)]], [head, body]]}]

    return rewrite(blocks, fix)


# --- conditional content ----------------------------------------------------------------------------

CONDITIONAL = ("content-visible", "content-hidden")


def _matches(name: str, edition: str) -> bool:
    """Does Quarto's format name ``name`` select ``edition`` (html, epub or pdf)? Quarto's aliases:
    'html' covers every HTML format and EPUB, 'html:js' HTML only, 'epub' EPUB, 'pdf' and 'latex' print."""
    name = name.strip().lower()
    if edition == "html":
        return name == "html:js" or name.startswith("html")
    if edition == "epub":
        return name == "html" or name.startswith("epub")
    if edition == "pdf":
        return name in ("pdf", "latex")
    return False


def _shown(node: dict, edition: str) -> bool:
    (_, classes, pairs) = node["c"][0]
    kind = next((c for c in classes if c in CONDITIONAL), None)
    if kind is None:
        return True
    clauses = dict(pairs)
    holds = True
    if "when-format" in clauses:
        holds = any(_matches(n, edition) for n in re.split(r"[,\s]+", clauses["when-format"]) if n)
    if "unless-format" in clauses:
        holds = holds and not any(_matches(n, edition) for n in re.split(r"[,\s]+", clauses["unless-format"]) if n)
    return holds if kind == "content-visible" else not holds


def conditional(blocks) -> bool:
    """Does the document hold content shown in some editions only?"""
    from .walk import elements
    return any(node["t"] in ("Div", "Span", "CodeBlock") and any(c in CONDITIONAL for c in node["c"][0][1])
               for node in elements(blocks))


def ids_in_every_edition(chapter) -> set[str]:
    """The ids an author gives in ``chapter`` that every edition prints (not those in content for some editions
    only, which a link in the others would miss)."""
    from .model import facts_of
    from .walk import ATTR_AT, elements
    ids = {ident for ident, _ in facts_of(chapter).ids}
    if not chapter.targets.conditional:
        return ids
    inside: set[str] = set()
    for node in elements(chapter.blocks):
        if node["t"] in ("Div", "Span", "CodeBlock") and any(c in CONDITIONAL for c in node["c"][0][1]):
            inside |= {n["c"][ATTR_AT[n["t"]]][0] for n in elements(node) if n["t"] in ATTR_AT}
    return ids - inside


def for_edition(blocks: list, edition: str) -> list:
    """``blocks`` as the ``edition`` (html, epub or pdf) shows them: Quarto's ``.content-visible`` and
    ``.content-hidden`` divs, spans and code blocks kept or left out by their ``when-format`` and
    ``unless-format``. The blocks given are not changed (the editions share them)."""
    import copy

    from .walk import rewrite
    if not conditional(blocks):
        return blocks

    def fix(node: dict):
        if node["t"] in ("Div", "Span", "CodeBlock") and not _shown(node, edition):
            return []
        return None

    return rewrite(copy.deepcopy(blocks), fix)
