"""The HTML edition (a multi-page site) of the 'mini' fixture book."""

from __future__ import annotations

import pytest

from .xmlcheck import anchors, broken_links, nu_validate


@pytest.fixture(scope="module")
def site(mini):
    return {p.name: p.read_text(encoding="utf-8") for p in mini.html.glob("*.html")}


def test_pages_exist(site, mini):
    assert set(site) == {"index.html", "preface.html", "origins.html", "cases.html", "appendix-data.html",
                         "bibliography.html"}
    assert (mini.html / "style.css").is_file()
    assert (mini.html / "chapters" / "figures" / "map.svg").is_file()


def test_html_is_valid(mini):
    result = nu_validate(mini.html)
    assert result.returncode == 0, result.stdout + result.stderr


def test_links_resolve_and_lang_is_set(site, mini):
    assert broken_links(site) == []
    for name, text in site.items():
        page = anchors(text)
        assert page.lang == "en", name
        for src in page.srcs:
            assert (mini.html / src).is_file(), (name, src)


def test_index_has_contents_and_contributors(site):
    index = site["index.html"]
    for text in ("Alliances in Miniature", "Edited by TANAKA Hanako", "Part I: Foundations", "Origins of Alliances",
                 "Jane Smith", "Lecturer, Department of War Studies, Example College", 'href="origins.html"',
                 "Figure 1.1", "Table A.1"):
        assert text in index, text


def test_chapter_page(site):
    page = site["cases.html"]
    assert "Chapter 2" in page and "Cases of Alliance" in page
    assert "Jane Smith" in page and "TANAKA Hanako" in page
    assert 'rel="prev" href="origins.html"' in page and 'rel="next" href="appendix-data.html"' in page
    assert 'href="origins.html#fig-map"' in page                 # @fig-map across pages
    assert 'href="bibliography.html#ref-funabashi2001"' in page
    assert "Table 2.1:" in page and "日米同盟" in page
    assert 'name="viewport"' in page


def test_bibliography_page(site):
    page = site["bibliography.html"]
    for key in ("walt1987", "snyder1997", "morrow1991", "funabashi2001"):
        assert f'id="ref-{key}"' in page


def test_japanese_glyphs_are_served_as_a_web_font(site, mini):
    from fontTools.ttLib import TTFont

    assert '<span lang="ja">日米同盟</span>' in site["cases.html"]
    cmap = TTFont(str(mini.html / "fonts" / "japanese.woff")).getBestCmap()
    assert all(ord(ch) in cmap for ch in "日米同盟の比較研究")
    assert 'url("fonts/japanese.woff")' in (mini.html / "style.css").read_text(encoding="utf-8")
