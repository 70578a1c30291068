"""Japanese names family name first, and Japanese-script titles, in every edition and two styles.

The 'japanese' fixture book has Japanese entries (one author, two editors, a Japanese and a Western author in
one entry, titles in Japanese script with translations), an English-language work whose author book.yml's
``names:`` lists as family-first, one marked by ``keywords = {family-first}``, and a Western work."""

from __future__ import annotations

import re
import zipfile

import pytest

from build_book import names

from .conftest import build_all, copy_book, run_cli
from .pdfinfo import Pdf
from .xmlcheck import text_of

SLUG = "names-in-their-order"


@pytest.fixture(scope="module")
def chicago(tmp_path_factory):
    return build_all(copy_book("japanese", tmp_path_factory), SLUG, "--strict")


@pytest.fixture(scope="module")
def apa(tmp_path_factory):
    root = copy_book("japanese", tmp_path_factory)
    config = root / "book.yml"
    config.write_text(config.read_text(encoding="utf-8") + "csl: apa\n", encoding="utf-8")
    return build_all(root, SLUG, "--strict")


def editions(built) -> dict[str, str]:
    """The text of each edition: HTML pages, EPUB XHTML files, PDF (flattened, as pypdf reads it)."""
    html = " ".join(text_of(p.read_text(encoding="utf-8")) for p in sorted(built.html.glob("*.html")))
    with zipfile.ZipFile(built.epub) as archive:
        epub = " ".join(text_of(archive.read(n).decode("utf-8")) for n in sorted(archive.namelist())
                        if n.endswith(".xhtml"))
    return {"html": html, "epub": epub, "pdf": " ".join(Pdf(built.pdf).flat().split())}


CHICAGO_LIST = [
    "Hoshino Aki. 2011.",
    "Kaneda Rui. 2005. Alliances at Sea.",
    "Ōyama Shūichi. 1999. Dōmei no kiseki 同盟の軌跡 [The course of an alliance]. Chūō Kōronsha.",
    "Sakurada Daizō and Itō Gō, eds. 2004. Hikaku gaikō seisaku 比較外交政策 [Comparative foreign policy].",
    "Walker, Stephen. 2003. Partners and Rivals.",
    "Yamamoto Kenji and Stephen Walker. 2010.",
]
CHICAGO_CITES = ["(Sakurada and Itō 2004)", "(Ōyama 1999, 12)", "(Yamamoto and Walker 2010)", "(Kaneda 2005)",
                 "(Hoshino 2011)", "(Walker 2003)", "(Sakurada and Itō 2004; Ōyama 1999)"]


@pytest.mark.parametrize("edition", ["html", "epub", "pdf"])
def test_chicago_prints_japanese_names_family_name_first(chicago, edition):
    text = editions(chicago)[edition]
    for phrase in CHICAGO_LIST + CHICAGO_CITES:
        assert phrase in text, (edition, phrase)
    # never the Western order or a stray comma for a Japanese name, and no invisible marks left
    for wrong in ("Sakurada, Daizō", "Gō Itō", "Daizō,", "Kenji Yamamoto", "Kaneda, Rui", "Shūichi Ōyama"):
        assert wrong not in text, (edition, wrong)
    assert not names.MARKS.search(text)
    # sorted by family name, the macron of Ōyama no obstacle: Hoshino, Kaneda, Ōyama, Sakurada, Walker, Yamamoto
    positions = [text.rindex(p) for p in CHICAGO_LIST]
    assert positions == sorted(positions), edition


def test_the_romanised_title_alone_is_in_italics(chicago):
    page = (chicago.html / "bibliography.html").read_text(encoding="utf-8")
    assert "<em>Hikaku gaikō seisaku</em> <span lang=\"ja\">比較外交政策</span> [Comparative foreign policy]" in page
    assert "<em>Dōmei to kokka</em>" in page


@pytest.mark.parametrize("edition", ["html", "epub", "pdf"])
def test_apa_prints_them_family_name_first_too(apa, edition):
    text = editions(apa)[edition]
    for phrase in ("Sakurada Daizō & Itō Gō (Eds.). (2004).", "Ōyama Shūichi. (1999).", "Kaneda Rui. (2005).",
                   "Walker, S. (2003).", "Yamamoto Kenji & Walker, S. (2010).",
                   "(Sakurada & Itō, 2004)", "(Ōyama, 1999, p. 12)", "(Kaneda, 2005)"):
        assert phrase in text, (edition, phrase)
    assert "Sakurada, D." not in text and "Daizō," not in text


def test_the_name_order_rules():
    assert names.romanised_japanese("Daizō") and names.romanised_japanese("Jun'ichirō")
    assert names.romanised_japanese("Hattori") and not names.romanised_japanese("Stephen")
    person = {"family": "Walker", "given": "Stephen"}
    assert not names.family_first(person, True, {})                       # a Western name in a Japanese entry
    assert names.family_first(person, False, {"Walker, Stephen": "family-first"})
    japanese = {"family": "Kaneda", "given": "Rui"}
    assert names.family_first(japanese, True, {}) and not names.family_first(japanese, False, {})
    assert not names.family_first(japanese, True, {"Kaneda, Rui": "given-first"})


def test_every_edition_links_citations_to_the_list(chicago):
    page = (chicago.html / "names.html").read_text(encoding="utf-8")
    assert re.search(r'href="bibliography\.html#ref-sakurada2004"', page)


def _bibliography_of(root, bib: str) -> str:
    """The text of the web edition's bibliography of a one-chapter book citing every entry of ``bib``."""
    from .conftest import run_cli

    (root / "refs.bib").write_text(bib, encoding="utf-8")
    keys = re.findall(r"@\w+\{([^,]+),", bib)
    (root / "book.yml").write_text("title: T\nbibliography: refs.bib\nchapters: [a.md]\n", encoding="utf-8")
    (root / "a.md").write_text("# A\n\nAs argued [" + "; ".join("@" + k for k in keys) + "].\n", encoding="utf-8")
    built = run_cli("html", "--book", str(root))
    assert built.returncode == 0, built.stderr
    return text_of((root / "build" / "html" / "bibliography.html").read_text(encoding="utf-8"))


def test_names_in_japanese_script_are_family_name_first_with_no_comma_between_two(tmp_path):
    """'山田, 太郎 and 佐藤, 花子' printed '山田太郎, and 佐藤花子': the comma a style puts after an inverted first
    name, where the romanised names have none ('Sakurada Daizō and Itō Gō')."""
    listed = _bibliography_of(tmp_path, "@book{yamada2001, author = {山田, 太郎 and 佐藤, 花子}, title = {同盟論}, "
                              "year = 2001, publisher = {東京大学出版会}, langid = {japanese}}\n"
                              "@book{one2002, author = {鈴木, 一郎}, title = {外交}, year = 2002, "
                              "publisher = {有斐閣}}\n")
    assert "山田太郎 and 佐藤花子. 2001." in listed and "鈴木一郎. 2002." in listed, listed
    assert "山田太郎," not in listed and "太郎 山田" not in listed and not names.MARKS.search(listed)


def test_an_entry_marked_japanese_by_its_language_field_keeps_its_title_as_written(tmp_path):
    """``language = {japanese}`` marks a Japanese work as ``langid`` does (README): its title is not changed to
    title case (Chicago) or sentence case (pandoc reads only ``langid``, and took it for English)."""
    listed = _bibliography_of(tmp_path, "@article{tanaka2012, author = {Tanaka, Akihiko}, title = {Sengo Nihon "
                              "no anzen hoshō seisaku}, journal = {Kokusai Mondai}, year = 2012, language = {japanese}}\n"
                              "@article{walt2009, author = {Walt, Stephen}, title = {alliances in a unipolar world}, "
                              "journal = {World Politics}, year = 2009}\n")
    assert "Tanaka Akihiko. 2012. “Sengo Nihon no anzen hoshō seisaku.”" in listed, listed
    assert "“Alliances in a Unipolar World.”" in listed, listed       # an English title still in title case


def test_a_note_styles_whole_names_in_notes_are_family_name_first(tmp_path_factory):
    """A note style's first note of a work gives its people's whole names, which citeproc wrote given name first
    ('Daizō Sakurada and Gō Itō, eds.') though the list has 'Sakurada Daizō'; a Western name stays as it is."""
    root = copy_book("japanese", tmp_path_factory)
    config = root / "book.yml"
    config.write_text(config.read_text(encoding="utf-8") + "csl: chicago-notes-bibliography\n", encoding="utf-8")
    result = run_cli("html", "--book", str(root), "--strict")
    assert result.returncode == 0, result.stderr
    notes = " ".join(text_of(m) for p in sorted((root / "build" / "html").glob("*.html"))
                     for m in re.findall(r'<section[^>]*class="footnotes.*?</section>', p.read_text(encoding="utf-8"),
                                         re.S))
    for phrase in ("Sakurada Daizō and Itō Gō, eds., Hikaku gaikō seisaku", "Ōyama Shūichi, Dōmei no kiseki",
                   "Yamamoto Kenji and Stephen Walker, Dōmei to kokka", "Kaneda Rui, Alliances at Sea",
                   "Stephen Walker, Partners and Rivals", "Sakurada and Itō, Hikaku gaikō seisaku"):
        assert phrase in notes, (phrase, notes)
    assert "Daizō Sakurada" not in notes and "Shūichi Ōyama" not in notes and not names.MARKS.search(notes)


def test_a_japanese_book_has_its_interface_in_japanese(tmp_path_factory):
    """A book whose lang is ja: build_book's own headings, links, labels and messages were English ('Contents',
    'Cite this chapter', an untitled callout's 'Note'); they are Japanese in every edition, and names are listed
    with '、'."""
    root = copy_book("mini", tmp_path_factory)
    config = root / "book.yml"
    config.write_text(config.read_text(encoding="utf-8").replace("lang: en", "lang: ja"), encoding="utf-8")
    chapter = root / "chapters" / "01-origins.md"
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\n::: {.callout-tip}\n本文。\n:::\n\n"
                       "`keep_in_mono()` と:\n\n```python\ndef f(x):\n    return x  # 値\n```\n", encoding="utf-8")
    built = build_all(root, "alliances-in-miniature")
    index = (built.html / "index.html").read_text(encoding="utf-8")
    page = (built.html / "origins.html").read_text(encoding="utf-8")
    assert '<h2 id="contents-heading">目次</h2>' in index and "TANAKA Hanako 編" in index and "Contents" not in index
    assert "PDF（印刷版）" in index and "print edition" not in index
    assert '<h2 id="cite-heading">この章を引用する</h2>' in page and 'aria-label="ヒント"' in page
    assert 'placeholder="本書を検索"' in page and 'data-no-results="該当なし"' in page and "Skip to content" not in page
    with zipfile.ZipFile(built.epub) as archive:
        nav = archive.read("EPUB/nav.xhtml").decode("utf-8")
    assert "<h1>目次</h1>" in nav and ">扉</a>" in nav and ">参考文献</a>" in nav and "Title Page" not in nav
    pdf = Pdf(built.pdf)
    assert [title for title, _ in pdf.outline()][:3] == ["扉", "目次", "執筆者一覧"], pdf.outline()
    assert "Edited by" not in pdf.text and "Contents" not in pdf.text
    # its code is set in the code's typeface, as in any book (':lang(ja)' set it in the text's, serif CJK)
    mono = "".join("".join(f["unicode"]) for name, f in pdf.fonts.items() if "Mono" in name)
    assert all(c in mono for c in "keep_in_mono()値"), pdf.fonts.keys()
    with zipfile.ZipFile(built.epub) as archive:
        css = archive.read("EPUB/style.css").decode("utf-8")
    assert '[lang|="ja"], [lang|="ja"] body {' in css and ":lang(ja) {" not in css


def test_a_line_break_between_japanese_characters_is_no_space(tmp_path):
    """A line of Japanese text broken in the source, as Japanese authors write, printed a space where the line
    broke ('を参照． P値'), in the text, a quotation and an abstract; between English words, between a Japanese
    and an English one, and between Korean words (which are spaced) it is one still."""
    (tmp_path / "book.yml").write_text("title: T\nlang: ja\nchapters: [a.md]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("---\nabstract: |\n  要旨の文が\n  続く。\n---\n\n# 章\n\n日本語の文章が\n続きます。English\n"
                                   "words here, *強調の\n文*。\n\n> 引用の\n> 文。\n\n한국어 문장이\n여기 있습니다.\n", encoding="utf-8")
    assert run_cli("html", "--book", str(tmp_path)).returncode == 0
    page = (tmp_path / "build" / "html" / "a.html").read_text(encoding="utf-8")
    assert "日本語の文章が続きます。English words here, <em>強調の文</em>。" in page and "要旨の文が続く。" in page, page
    assert "引用の文。" in page and "한국어 문장이 여기 있습니다." in page, page
    # at the edge of emphasis, a link, a span or a note's mark too (as pandoc's own extension does); a code
    # span keeps its space, as pandoc gives it
    (tmp_path / "a.md").write_text("# 章\n\nこれは日本語の\n*強調*です。日本語の\n[リンク](https://example.org)です。"
                                   "これは**太字**\nです。本文[^1]\nです。コード`x`\nです。\n\n[^1]: 注。\n", encoding="utf-8")
    assert run_cli("html", "--book", str(tmp_path)).returncode == 0
    text = re.sub(r'<span class="pop".*?</span></span>|<[^>]+>', "",
                  (tmp_path / "build" / "html" / "a.html").read_text(encoding="utf-8"))
    assert "これは日本語の強調です。日本語のリンクです。これは太字です。本文1です。コードx です。" in text, text


def test_a_name_in_japanese_script_written_family_given_with_a_space_keeps_both_parts(tmp_path):
    """'岩本 康志' (a space, no comma: jecon.bst's users write names so) is read by pandoc as the particle '岩本'
    and the family name '康志' (no capital letter makes a word a 'von'), and printed '康志 1991', '康志. 1991.':
    the family name was lost, in the citations and the list, for authors, editors and translators alike."""
    root = tmp_path
    bib = ("@article{iwata1991, author = {岩田 康介 and 服部 保}, title = {配当の研究}, journal = {経済研究}, "
           "year = 1991, language = {ja}}\n"
           "@book{bauer1999, author = {R. J. バウアー}, title = {経済学の使い方}, translator = {仁科 和夫}, "
           "editor = {宮内 健}, publisher = {東洋経済新報社}, year = 1999}\n")
    listed = _bibliography_of(root, bib)
    assert "岩田康介 and 服部保. 1991." in listed, listed
    assert "Translated by 仁科和夫" in listed and "宮内健" in listed, listed
    assert "康介 and 保" not in listed, listed
    text = text_of((root / "build" / "html" / "a.html").read_text(encoding="utf-8"))
    assert "岩田 and 服部 1991" in text, text


def test_an_entry_marked_japanese_by_language_prints_its_tex_dashes_and_series_as_written(tmp_path):
    """jecon.bst's entries mark a Japanese work ``language = {ja}``: its title was taken from the .bib as typed,
    TeX and all ('分析 --- 89 年 ---' printed three hyphens, not the em dash pandoc reads), its series stayed in
    pandoc's sentence case ('Keio economic observatory monograph series'), and check warned that 'I' in
    '価格論 I' would print 'i', which it never did."""
    bib = ("@book{ono1997, author = {小野 昌平}, title = {産業の分析 --- 資本の測定 --- 第 I 部}, "
           "series = {Kanto Economic Observatory Monograph Series}, number = 8, publisher = {慶應義塾大学出版会}, "
           "year = 1997, language = {ja}}\n")
    listed = _bibliography_of(tmp_path, bib)
    assert "産業の分析 — 資本の測定 — 第 I 部." in listed, listed
    assert "Kanto Economic Observatory Monograph Series 8." in listed, listed
    assert "---" not in listed, listed
    checked = run_cli("check", "--book", str(tmp_path))
    assert "bib-title-case" not in checked.stdout + checked.stderr, checked.stdout


def test_a_japanese_books_english_titles_print_as_written(tmp_path):
    """In a book in Japanese (lang: ja), pandoc reads an entry marked with no language as a work in the book's
    language and leaves its titles alone; build_book's reading of the .bib is in English, so it printed them
    in sentence case, proper nouns lowered ('A case study of the japanese economy', 'book a of the prior
    analytics'), and check warned of capitals that a Japanese book never lowers."""
    (tmp_path / "refs.bib").write_text(
        "@article{takada2012, author = {Takada, Shiro}, title = {A Case Study of the Japanese Economy}, "
        "journal = {Climate Change Economics}, year = 2012}\n"
        "@book{patz1968, author = {Patz, Gunther}, title = {Aristotle's Theory: Book A of the Prior Analytics}, "
        "publisher = {D. Reidel}, year = 1968}\n"
        "@book{walt1987, author = {Walt, Stephen}, title = {The Origins of Alliances}, publisher = {Cornell "
        "University Press}, year = 1987, langid = {english}}\n", encoding="utf-8")
    (tmp_path / "book.yml").write_text("title: T\nlang: ja\nbibliography: refs.bib\nchapters: [a.md]\n",
                                       encoding="utf-8")
    (tmp_path / "a.md").write_text("# 章\n\n文献 [@takada2012; @patz1968; @walt1987]。\n", encoding="utf-8")
    built = run_cli("html", "--book", str(tmp_path))
    assert built.returncode == 0, built.stderr
    assert "bib-title-case" not in built.stderr, built.stderr
    listed = text_of((tmp_path / "build" / "html" / "bibliography.html").read_text(encoding="utf-8"))
    assert "「A Case Study of the Japanese Economy」" in listed, listed
    assert "Aristotle’s Theory: Book A of the Prior Analytics." in listed, listed
    assert "The Origins of Alliances." in listed, listed     # marked English: citeproc sets it in title case


def test_a_bib_line_break_between_japanese_characters_in_a_title_is_no_space(tmp_path):
    """A .bib whose editor filled its lines breaks a Japanese title between two characters (jecon.bst's
    example: '機械学習事例\\n集'); TeX sets no space there, but pandoc reads the break as one, and the title
    printed '事例 集'. A break between English words is a space still."""
    listed = _bibliography_of(tmp_path, "@book{ryo2016, author = {Ryo, Sandy}, title = {Sparkによる実践データ"
                              "解析の事例\n                  集 and More\n Words}, series = {実践\n  叢書}, "
                              "publisher = {オライリージャパン}, year = 2016, langid = {japanese}}\n")
    assert "Sparkによる実践データ解析の事例集 and More Words." in listed, listed
    assert "実践叢書." in listed, listed


def test_a_chapters_own_citation_keeps_a_japanese_titles_case_and_a_japanese_books_words(tmp_path):
    """'Cite this chapter' was formatted by citeproc told no language: a book titled '私たちのR' was cited
    'In 私たちのr' (taken for English, its case changed), and a Japanese book's citation was in English words
    ('and', “…”, 'In') though its reference list is in Japanese ones."""
    from build_book.render import site

    chapters = [{"id": "fs", "title": "ファイルの話", "authors": ["山田花子", "Ann Smith"], "url": ""}]
    book = {"title": "私たちのR: よい書き方", "editors": [], "publisher": "", "date": "2020-06-22"}
    english = site.chapter_citations(chapters, {**book, "lang": "en"}, "", tmp_path, None)["fs"].html
    assert "私たちのR: よい書き方" in english and "私たちのr" not in english, english
    japanese = site.chapter_citations(chapters, {**book, "lang": "ja"}, "", tmp_path, None)["fs"].html
    assert "「ファイルの話」" in japanese and "2020年" in japanese and "私たちのR" in japanese, japanese
    assert " and " not in japanese and "In " not in japanese, japanese


def test_a_full_width_space_in_a_heading_stays_one_in_the_contents(tmp_path):
    """A heading '第一部　基本' (a full-width space, as Japanese headings are typed) was listed in the web
    edition's contents as '第一部 基本', its space made an ordinary one (the plain text of titles collapsed
    every Unicode space); the heading itself kept it."""
    (tmp_path / "book.yml").write_text("title: T\nlang: ja\nchapters: [a.md]\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("# 学ぶ内容\n\n## 第一部　基本\n\n本文。\n", encoding="utf-8")
    assert run_cli("html", "--book", str(tmp_path)).returncode == 0
    page = (tmp_path / "build" / "html" / "a.html").read_text(encoding="utf-8")
    sidebar = re.search(r'<ol class="side-sections".*?</ol>', page, re.S).group(0)
    assert "第一部\u3000基本" in sidebar and "第一部 基本" not in sidebar, sidebar
