"""The catalogue of diagnostic codes: every kind of problem build_book reports.

Each code has a default severity and a one-line description; ``python -m
build_book codes`` lists them. A book may adjust the adjustable ones in
``book.yml``::

    diagnostics:
      bib-unused: off        # not reported at all
      raw-html: error        # fail the build
      label-unreferenced: warning

Codes that mean the book cannot be read or built as written (a file that does
not exist, YAML that does not parse, a chapter pandoc cannot read) are not
adjustable: turning them off would lose content silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]
SETTINGS = ("off", "warning", "error")


@dataclass(frozen=True)
class Code:
    name: str
    severity: Severity
    summary: str
    adjustable: bool = True


def _codes(*rows: tuple) -> dict[str, Code]:
    table: dict[str, Code] = {}
    for row in rows:
        code = Code(*row)
        assert code.name not in table, code.name
        table[code.name] = code
    return table


E, W = "error", "warning"
FIXED = False  # readability: the fourth column says whether a book may adjust the code

CATALOGUE: dict[str, Code] = _codes(
    # book.yml
    ("config-missing", E, "there is no book.yml in the book's folder", FIXED),
    ("config-yaml", E, "book.yml is not valid YAML", FIXED),
    ("config-type", E, "a book.yml value has the wrong type (text, list, mapping, ...)", FIXED),
    ("config-value", E, "a book.yml value is not one of the accepted values", FIXED),
    ("config-unknown-key", E, "book.yml has a key build_book does not know (a misspelling?)", FIXED),
    ("config-missing-key", E, "a required book.yml key (title, chapters) is missing", FIXED),
    ("config-duplicate-key", E, "a key is given twice in book.yml; YAML would keep the last silently", FIXED),
    ("unknown-contributor", E, "an editor or chapter author is not listed under contributors", FIXED),
    ("missing-chapter", E, "a chapter listed in book.yml does not exist", FIXED),
    ("duplicate-chapter", E, "a chapter is listed twice in book.yml", FIXED),
    ("missing-file", E, "a file named in book.yml (bibliography, style, cover) does not exist", FIXED),
    ("cover-format", E, "the cover image book.yml names is not a PNG, JPEG or SVG file", FIXED),
    ("chapter-entry-empty", W, "an entry of book.yml's list of chapters is empty ('-' alone on its line)"),
    ("bookdown-part", W, "a chapter begins with bookdown's part heading ('# (PART) Title {-}'), which build_book "
     "does not print: its parts and appendices are listed in book.yml"),
    ("part-empty", W, "a part in book.yml lists no chapters, so it is not printed"),
    ("references-chapter", W, "'::: {#refs}' in a chapter that cites nothing (Quarto's references.qmd), the place "
     "of the book's list, with bibliography-scope: chapter, which has none, or in a second such chapter"),
    ("chapter-not-listed", W, "a Markdown file in chapters/ is not listed in book.yml"),
    # reading files
    ("encoding", E, "a file is not UTF-8", FIXED),
    ("pandoc", E, "pandoc could not read a chapter", FIXED),
    ("pandoc-timeout", E, "pandoc ran longer than its time limit on a chapter or the bibliography "
     "(BUILD_BOOK_PANDOC_TIMEOUT)", FIXED),
    ("front-matter", E, "a chapter's front matter is not valid YAML or has a wrong value", FIXED),
    ("front-matter-key", E, "a chapter's front matter has a key build_book does not know"),
    ("abstract-as-written", W, "a chapter's abstract holds what an abstract does not print (a citation, math, "
     "raw HTML, several paragraphs), so all of it, its Markdown too, is printed as written"),
    ("chapter-no-title", E, "a chapter has no level-1 heading (its title)", FIXED),
    ("chapter-two-titles", W, "a chapter has a second level-1 heading, printed as a section"),
    ("control-character", E, "a file holds a control character no edition can print", FIXED),
    ("nesting-too-deep", E, "blocks or inlines nest deeper than build_book's limit", FIXED),
    ("input-limit", E, "text pandoc would take minutes to read (brackets nested deep, long runs of backticks)",
     FIXED),
    ("footnote-undefined", E, "a footnote is called but never written: it would print as [^id]", FIXED),
    ("footnote-unused", W, "a footnote is written but never called: its text would be left out"),
    ("footnote-in-footnote", W, "a footnote called inside another: pandoc cannot nest notes, and prints it as written"),
    ("footnote-written-twice", W, "a footnote is written twice: pandoc prints the last, and the first is lost"),
    ("footnote-block-unprinted", W, "a footnote holds a table, heading, figure, definition list or raw HTML, "
     "which the PDF leaves out of a note at the foot of the page"),
    # citations and the bibliography
    ("citation-unknown", E, "a citation key has no bibliography entry", FIXED),
    ("citation-in-url", W, "an @ inside a web address was read as a citation"),
    ("citation-locator-spaced", W, "a space or an invisible character between a citation's key and its "
     "locator's comma, printed as '(Walt 1987 , 12)'"),
    ("citation-suffix-empty", W, "a citation followed by a lone ',' or an invisible character, printed as '(Walt 1987,)'"),
    ("bib-syntax", E, "a bibliography entry does not parse", FIXED),
    ("bib-duplicate-key", E, "two bibliography entries share a key", FIXED),
    ("bib-duplicate-work", W, "two bibliography entries describe the same work"),
    ("bib-missing-field", E, "a bibliography entry lacks a field its type needs (a warning if it is never cited)"),
    ("bib-bad-year", E, "a bibliography entry's year is not a year"),
    ("bib-bad-date", E, "a bibliography entry's date is not YYYY-MM-DD"),
    ("bib-crossref", E, "a bibliography entry's crossref or xdata names no entry"),
    ("bib-crossref-cycle", E, "a bibliography entry's crossref or xdata leads back to itself", FIXED),
    ("bib-field-limit", E, "a bibliography field is longer, or its braces nest deeper, than build_book accepts",
     FIXED),
    ("bib-url", E, "a bibliography entry's url would give an invalid, broken or unsafe link"),
    ("bib-doi", E, "a bibliography entry's DOI would give an invalid link"),
    ("bib-title-case", W, "pandoc would lower capitals in a title (U.S., an initial) that are not protected by braces"),
    ("bib-list-and", W, "'and' in a publisher, place or institution, which pandoc reads as a list separator"),
    ("citation-example-list", W, "a paragraph begins '@key.', which pandoc reads as an example list's item, not a "
                                 "citation"),
    ("bib-field-unread", W, "a title (or book or journal title) pandoc reads to nothing, so no edition prints it"),
    ("bib-name-separator", W, "names in a bibliography name field separated by ';', which BibTeX reads as one "
     "garbled name ('and' separates them)"),
    ("bib-name-variant", W, "the same person is written two ways across entries (Yoichi, Yōichi)"),
    ("bib-doi-form", W, "a bibliography entry's DOI is written with doi: or as a web address"),
    ("bib-undefined-string", E, "a bibliography value uses an @string abbreviation that is not defined"),
    ("bib-unused", W, "a bibliography entry is never cited"),
    ("csl-unknown", E, "the citation style named by csl: cannot be found", FIXED),
    ("csl-invalid", E, "the citation style cannot be used to format citations", FIXED),
    # cross-references and labels
    ("xref-unknown", E, "a cross-reference points to no label", FIXED),
    ("xref-kind", E, "a cross-reference's prefix does not match what it points to"),
    ("xref-unnumbered", W, "a cross-reference points to something without a number"),
    ("label-duplicate", E, "a label is defined twice in the book, an id (of a span, div, code block) twice "
     "in one chapter, or an id an edition gives an element of its own on the chapter's page (fn1, footnotes, "
     "contents)", FIXED),
    ("label-kind", E, "a label's prefix does not match what it labels"),
    ("label-unreferenced", W, "a figure or table is never referred to"),
    ("label-empty", W, "a label has no name after its prefix ('{#thm-}'): nothing can refer to it, and its id is "
     "left out"),
    ("label-kind-unsupported", W, "a block is labelled as a kind Quarto numbers and build_book does not "
     "(theorem, code listing, callout)"),
    ("math-error", E, "a TeX formula cannot be typeset, or an equation label follows no display formula", FIXED),
    # the index
    ("index-variant", W, "an index term is written two ways (case, accents, punctuation or word order)"),
    ("index-see-missing", W, "an index 'see' or 'see also' names no term of the index"),
    ("index-empty", W, "an index mark names no term"),
    # images, links, raw HTML
    ("image-missing", E, "an image file does not exist", FIXED),
    ("image-remote", E, "an image is on the web, not in the book", FIXED),
    ("image-format", W, "an image is in a format EPUB readers and browsers may not show"),
    ("link-empty", E, "a link has an empty target"),
    ("link-missing", E, "a link points to a local file that does not exist"),
    ("link-not-in-book", E, "a link points to a Markdown file that is not a chapter of the book"),
    ("link-local-file", W, "a link points to a local file no edition carries"),
    ("link-anchor", E, "a link points to an #anchor that is no label in the book"),
    ("url-malformed", E, "a web address is malformed"),
    ("url-scheme", W, "a link uses an unusual scheme"),
    ("raw-html", W, "raw HTML is copied into the editions (cleaned of anything unsafe)"),
    ("raw-tex-dropped", W, "raw TeX (a LaTeX command or block) no edition can print was left out"),
    ("script-removed", W, "script (<script>, on...= handlers, javascript: addresses) was removed from the book"),
    ("remote-removed", W, "raw HTML, a style or an SVG loaded something from the web; it was removed"),
    ("html-removed", W, "raw HTML, an attribute or an SVG element no edition can carry was removed"),
    ("html-unconvertible", E, "raw HTML could not be written as the XHTML an EPUB needs", FIXED),
    # editors' marks (CriticMarkup) and proofs
    ("critic-mark", W, "an editor's mark (CriticMarkup) is still open; proofs show it"),
    ("critic-unresolved", E, "a public edition cannot print an open editor's mark: accept or reject it", FIXED),
    ("critic-malformed", E, "an editor's mark is not closed before its paragraph ends, or stands inside another: "
     "it cannot be shown, accepted or rejected as written", FIXED),
    ("proof-round", W, "the proof round to compare with cannot be read (no git, no such tag or commit)"),
    # image files
    ("image-empty", E, "an image file is empty", FIXED),
    ("image-unreadable", E, "an image file cannot be read", FIXED),
    ("image-mismatch", E, "an image file's content is not what its extension says", FIXED),
    ("image-corrupt", E, "an image file is damaged, or an SVG is not well-formed SVG", FIXED),
    ("image-too-large", E, "an image has more pixels than readers can show, or absurd dimensions"),
    ("svg-print-unsupported", W, "an SVG figure uses something the PDF's SVG renderer cannot draw (filters, ...)"),
    # house style (style: in book.yml)
    ("style-rule", E, "a house style or Vale rule file cannot be used as written"),
    ("style-term", W, "a term departs from the house style (U.S. where it writes US)"),
    ("style-name", W, "a name is romanised otherwise than the house style writes it"),
    ("style-mojibake", E, "garbled characters: UTF-8 text read as Windows-1252 or Latin-1 (Â…, â€™, Ã©)"),
    ("style-quotes", W, "a quotation mark or apostrophe that would print wrongly (straight, or unpaired)"),
    ("style-dash", W, "a dash that departs from the house style (-- or a spaced en dash for an em dash; 1993-94 for 1993–94)"),
    ("style-inconsistent", W, "the book spells one word two ways (U.S./US, defence/defense, Ryukyu/Ryūkyū)"),
    # the build folder
    ("build-unwritable", E, "the build/ folder (or the book's folder) cannot be written to", FIXED),
    # the book's folder is the limit of what a build reads (CI builds untrusted changes)
    ("path-outside-book", E, "a file named by the book lies outside the book's folder", FIXED),
    ("pdf-resource-refused", W, "the PDF left out a resource outside the book or on the web"),
    ("search-index", W, "the web edition's full-text index (Pagefind) could not be built: the site has no search"),
    ("pdf-attachment", W, "a file attachment (rel=attachment) is not embedded in the PDF"),
    ("pdf-footnote-lost", E, "the PDF layout printed a footnote's number but not the note", FIXED),
    ("pdf-timeout", E, "laying out the PDF took longer than its time limit (BUILD_BOOK_PDF_TIMEOUT)", FIXED),
    ("pdf-memory", E, "laying out the PDF needed more memory than its limit (BUILD_BOOK_PDF_MEMORY)", FIXED),
    ("csl-parent-missing", E, "a dependent citation style's parent style is not available locally", FIXED),
    # template overrides in the book's templates/ folder
    ("template-syntax", E, "a template override is not valid Jinja", FIXED),
    ("template-missing", E, "a template override includes a template that does not exist", FIXED),
    ("template-recursive", E, "a template override includes itself, directly or through others", FIXED),
    ("template-error", E, "a template override fails while rendering (an undefined variable, ...)", FIXED),
    ("template-css", E, "an overridden stylesheet does not parse as CSS", FIXED),
    # Quarto's syntax
    ("include-missing", E, "a Quarto include names a file that does not exist", FIXED),
    ("include-cycle", E, "Quarto includes include each other in a circle (or nest past 20 deep)", FIXED),
    ("cell-unclosed", W, "a code cell is never closed: the rest of the file is printed as its code"),
    ("quarto-shortcode", W, "a Quarto shortcode build_book does not support was left out"),
    ("nocite-unknown", W, "nocite names a key no bibliography entry has: the work is listed nowhere"),
    ("quarto-ignored", W, "a _quarto.yml key build_book does not use was ignored"),
    ("bookdown-ignored", W, "a key of a bookdown book's _bookdown.yml or index.Rmd front matter that build_book "
                            "does not use was ignored"),
    ("quarto-part-text", W, "a Quarto part file holds text after its title, which build_book does not print"),
    ("front-matter-ignored", W, "a chapter's front matter has keys build_book does not use (pandoc's, Quarto's, ...)"),
    ("div-unclosed", W, "a ::: div is never closed: the rest of the chapter, headings too, is inside it"),
    ("div-stray", W, "a ::: line closes no div: it prints as text"),
    ("list-needs-blank-line", W, "list items right under a paragraph's line, which pandoc reads as its text"),
    ("list-marker-wide-space", W, "a list marker with a full-width space after it ('-　例えば'), which pandoc "
     "reads as text: the line prints with its marker, in the paragraph or item above"),
    ("list-marker-one-space", W, "'I. ' or 'A. ' (a capital and a full stop before one space) in a list of such "
     "markers, which pandoc reads as an initial: the lines print as a paragraph, or the item joins the one above"),
    ("metadata-block-unprinted", W, "lines between two --- in a chapter's text, which pandoc reads as metadata "
     "and no edition prints"),
    ("title-repeats-label", W, "a part or chapter title starts with the label build_book prints itself"),
    ("glyph-missing", W, "the print edition prints a character that no installed font has: a box in its place"),
    ("code-not-executed", W, "a chapter has executable code cells or inline code expressions, which build_book "
     "shows but does not run"),
)


def describe(name: str) -> Code | None:
    return CATALOGUE.get(name)


def listing() -> str:
    """The catalogue as text, for ``python -m build_book codes``."""
    width = max(len(name) for name in CATALOGUE)
    lines = []
    for code in CATALOGUE.values():
        fixed = "" if code.adjustable else "  (not adjustable)"
        lines.append(f"{code.name:<{width}}  {code.severity:<7}  {code.summary}{fixed}")
    return "\n".join(lines)
