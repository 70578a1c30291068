"""The words build_book itself puts on the pages of the editions, in the book's language.

Headings ("Contents", "Index"), links ("Cite this chapter"), labels for screen readers and the search box's
messages are English, and Japanese in a book whose ``lang`` is Japanese; a template writes each as
``{{ _("Contents") }}``, and ``{{ _("Edited by {names}", names=editor_names) }}`` where words go round a
value. The words a book chooses for its cross-references (``crossref:``) and its reference list's heading
(``reference-section-title``) are book.yml's, not these.
"""

from __future__ import annotations

from typing import Callable

from markupsafe import Markup, escape

JAPANESE = {
    # headings and the contents
    "Contents": "目次",
    "Contributors": "執筆者一覧",
    "Figures": "図一覧",
    "Tables": "表一覧",
    "Figures and Tables": "図表一覧",
    "Index": "索引",
    "Title Page": "扉",
    "Title page": "扉",
    "Cover": "表紙",
    "Landmarks": "ランドマーク",
    "Pages of the print edition": "印刷版のページ",
    # the title page, its verso and the cover
    "by {names}": "{names} 著",
    "Edited by {names}": "{names} 編",
    "Edited by": "編者",
    "Published by {publisher}": "発行　{publisher}",
    "Identifier: {identifier}": "識別子：{identifier}",
    # the web edition
    "Skip to content": "本文へ移動",
    "Search the book": "本書を検索",
    "Book contents": "本書の目次",
    "Title page and contents": "扉と目次",
    "Sections of this chapter": "この章の節",
    "Download": "ダウンロード",
    "PDF (print edition)": "PDF（印刷版）",
    "EPUB (e-book)": "EPUB（電子書籍）",
    "Also as": "ほかの形式：",
    " and ": "、",
    "Pages": "ページ",
    "Chapters": "章",
    "Cite this chapter": "この章を引用する",
    "Download the reference:": "書誌情報のダウンロード：",
    "{title}, edited by {names}.": "{title}（{names} 編）",
    "Index by letter": "見出しの文字ごとの索引",
    "See": "→",
    "See also": "⇒",
    "Page not found": "ページが見つかりません",
    "There is no page at this address in {title}. It may have moved when the book was revised.":
        "{title} のこのアドレスにはページがありません。改訂で移動したのかもしれません。",
    "Go to {link}.": "{link}へ。",
    "Go to {link} or search the book above.": "{link}へ。または上の検索欄で本書を検索してください。",
    "the title page and contents": "扉と目次",
    "Nothing found for “{query}”.": "「{query}」は見つかりませんでした。",
    "No results": "該当なし",
    "{count} result": "{count} 件",
    "{count} results": "{count} 件",
    "Search results": "検索結果",
    "Search is not available here.": "ここでは検索を使えません。",
    # Quarto's callouts, untitled
    "Note": "注",
    "Tip": "ヒント",
    "Important": "重要",
    "Warning": "警告",
    "Caution": "注意",
}

LANGUAGES = {"ja": JAPANESE}


def words(lang: str | None) -> Callable[..., str]:
    """The function templates call ``_``: ``text`` in the language ``lang`` (book.yml's), its ``{names}``
    filled in. What is Markup stays so, and what is not is escaped where it is filled in; without Markup the
    result is text, which the template escapes."""
    table = LANGUAGES.get((lang or "en").split("-")[0].lower(), {})

    def say(text: str, **values) -> str:
        shown = table.get(text, text)
        if any(isinstance(value, Markup) for value in values.values()):
            return Markup(escape(shown)).format(**values)
        return shown.format(**values) if values else shown

    return say


def join_names(names: list[str], lang: str | None) -> str:
    """People's names as a list in running text: 'A and B', 'A, B and C'; '、' between them in Japanese."""
    if (lang or "en").split("-")[0].lower() == "ja":
        return "、".join(names)
    return " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " and " + names[-1]


# what a heading over a reference list says (a chapter's last heading with nothing after it, or a chapter's title
# with nothing under it: bookdown's references chapter)
REFERENCES_WORDS = {"references", "bibliography", "works cited", "literature cited", "sources", "参考文献", "文献",
                    "引用文献", "참고문헌"}

# the heading of a reference list in a language that has one word for both of English's
REFERENCE_LIST = {"ja": "参考文献", "zh": "参考文献", "ko": "참고문헌"}


def reference_list(lang: str | None, english: str) -> str:
    """The heading of a reference list: ``english`` ('Bibliography' for the book's, 'References' for a
    chapter's own), or the language's word."""
    return REFERENCE_LIST.get((lang or "en").split("-")[0].lower(), english)
