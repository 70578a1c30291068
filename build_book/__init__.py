"""build_book: Markdown chapters + BibTeX -> print PDF, EPUB and HTML for edited volumes."""

__version__ = "0.1.0"
