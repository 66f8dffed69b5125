"""One self-contained page: data is escaped text, console tables carried over cell by cell, figures inline."""

from __future__ import annotations

import base64
import re

from rich.table import Table

from storm.html_page import PageFigure, PageTable, Section, page_table, render_page

HOSTILE = '<script>alert("pwned")</script> & <img src=x onerror=alert(1)>'
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def test_data_derived_text_is_shown_as_text_never_as_markup():
    table = PageTable(key="t", title=HOSTILE, caption=HOSTILE, headers=("market", HOSTILE), right_aligned=(False, True),
                      sections=(((HOSTILE, "0.5"),),))
    page = render_page(HOSTILE, HOSTILE, [Section(HOSTILE, "s", paragraphs=(HOSTILE,), tables=(table,),
                                                  lines=(HOSTILE,),
                                                  figures=(PageFigure("f", PNG, HOSTILE, HOSTILE),))])
    assert "<script>alert" not in page and "<img src=x" not in page
    escaped = "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;"
    # <title> and <h1>, subtitle, heading, paragraph, table title, header, cell and caption, line, caption and alt
    assert page.count(escaped) == 12
    assert len(re.findall(r"<script>", page)) == 1  # the page's own figure check, nothing else


def test_a_console_table_keeps_its_cells_sections_and_alignment_with_markup_resolved():
    table = Table(title="AUROC, [bold]3 folds[/]", caption="n.d. = not distinguishable")
    table.add_column("model", no_wrap=True)
    table.add_column("AUROC", justify="right")
    table.add_row("storm", "0.712 [0.65,0.77]")
    table.add_row("garch", "[bold red]0.601[/]")
    table.add_section()
    table.add_row("storm", "0.698 [0.64,0.75]")
    carried = page_table(table, "headline")
    assert carried.title == "AUROC, 3 folds" and carried.caption == "n.d. = not distinguishable"
    assert carried.headers == ("model", "AUROC") and carried.right_aligned == (False, True)
    assert carried.sections == ((("storm", "0.712 [0.65,0.77]"), ("garch", "0.601")), (("storm", "0.698 [0.64,0.75]"),))


def test_figures_are_inline_data_uris_so_the_file_stands_alone():
    page = render_page("t", "s", [Section("Figures", "figures", figures=(PageFigure("score", PNG, "what", "alt"),))])
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert len(sources) == 1 and sources[0].startswith("data:image/png;base64,")
    assert base64.b64decode(sources[0].split(",", 1)[1]) == PNG
    assert "http://" not in page and "https://" not in page  # nothing to fetch


def test_sections_with_nothing_to_show_are_left_out_and_a_collapsed_one_folds_under_its_heading():
    page = render_page("t", "s", [Section("Empty", "empty"), Section("All scores", "scores", paragraphs=("x",),
                                                                       collapsed=True)])
    assert 'id="empty"' not in page
    assert re.search(r'<section id="scores">\s*<h2>All scores</h2>\s*<details>', page)
