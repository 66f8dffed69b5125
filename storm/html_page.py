"""Self-contained HTML pages of storm's tables and figures: reports a person opens in a browser or mails on.

One page is one file: the style sheet is inline and every figure is a base64 PNG ``data:`` URI, so nothing is
fetched and the page reads the same anywhere. Every data-derived string (tickers, headlines, notes) goes through
Jinja2's autoescaping: data is text, never markup. Console tables (rich ``Table``) are carried over cell by cell
(``page_table``), so the page shows what the console prints, in a real ``<table>``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import jinja2
from rich.table import Table
from rich.text import Text


@dataclass(frozen=True)
class PageTable:
    """A table as the page shows it: plain-text cells, rows in sections (a rule between sections)."""

    key: str  # the table's id in the page
    title: str
    caption: str
    headers: tuple[str, ...]
    right_aligned: tuple[bool, ...]
    sections: tuple[tuple[tuple[str, ...], ...], ...]


@dataclass(frozen=True)
class PageFigure:
    key: str  # the figure's id in the page
    png: bytes
    caption: str  # what it shows and why those markets
    alt: str

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass(frozen=True)
class Section:
    """One heading with what belongs under it, in this order: paragraphs, tables, preformatted lines, figures."""

    heading: str
    key: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[PageTable, ...] = ()
    lines: tuple[str, ...] = ()  # shown as written, one a line (e.g. the scan's drivers)
    figures: tuple[PageFigure, ...] = ()
    collapsed: bool = False  # folded under its heading until opened (a long table the page keeps for reference)


def page_table(table: Table, key: str) -> PageTable:
    """A rich Table as the console prints it: markup resolved to its plain text, sections kept."""
    columns = table.columns
    cells = [[_plain(cell) for cell in column.cells] for column in columns]
    rows = [tuple(column[index] for column in cells) for index in range(len(table.rows))]
    sections, current = [], []
    for row, meta in zip(rows, table.rows):
        current.append(row)
        if meta.end_section:
            sections.append(tuple(current))
            current = []
    if current:
        sections.append(tuple(current))
    return PageTable(key=key, title=_plain(table.title or ""), caption=_plain(table.caption or ""),
                     headers=tuple(_plain(column.header) for column in columns),
                     right_aligned=tuple(column.justify == "right" for column in columns), sections=tuple(sections))


def render_page(title: str, subtitle: str, sections: list[Section]) -> str:
    """The whole page as one string (UTF-8 HTML5), every value escaped."""
    return _TEMPLATE.render(title=title, subtitle=subtitle, sections=[s for s in sections if _has_content(s)])


def _has_content(section: Section) -> bool:
    return bool(section.paragraphs or section.tables or section.lines or section.figures)


def _plain(renderable) -> str:
    if isinstance(renderable, Text):
        return renderable.plain
    if isinstance(renderable, str):
        return Text.from_markup(renderable).plain
    return str(renderable)


_ENVIRONMENT = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                                  lstrip_blocks=True)

_TEMPLATE = _ENVIRONMENT.from_string("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
p.subtitle { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 1em 0 0.3em; font-variant-numeric: tabular-nums; font-size: 0.9em; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 0.3em; white-space: nowrap; }
th, td { padding: 0.15em 0.7em; white-space: nowrap; } th { border-bottom: 1px solid #888; text-align: left; }
td.right, th.right { text-align: right; } tbody + tbody { border-top: 1px solid #ccc; }
p.table-note { color: #555; font-size: 0.85em; margin-top: 0; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #333; font-size: 0.9em; max-width: 60em; } p.broken { color: #b00; }
summary { cursor: pointer; color: #555; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p class="subtitle">{{ subtitle }}</p>
{% for section in sections %}
<section id="{{ section.key }}">
<h2>{{ section.heading }}</h2>
{% if section.collapsed %}
<details><summary>show</summary>
{% endif %}
{% for paragraph in section.paragraphs %}
<p>{{ paragraph }}</p>
{% endfor %}
{% for table in section.tables %}
<table id="{{ table.key }}">
<caption>{{ table.title }}</caption>
<thead><tr>{% for header in table.headers %}<th{% if table.right_aligned[loop.index0] %} class="right"{% endif %}>{{ header }}</th>{% endfor %}</tr></thead>
{% for rows in table.sections %}
<tbody>
{% for row in rows %}
<tr>{% for cell in row %}<td{% if table.right_aligned[loop.index0] %} class="right"{% endif %}>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}
</tbody>
{% endfor %}
</table>
{% if table.caption %}<p class="table-note">{{ table.caption }}</p>{% endif %}
{% endfor %}
{% if section.lines %}
<pre>{% for line in section.lines %}{{ line }}
{% endfor %}</pre>
{% endif %}
{% for figure in section.figures %}
<figure id="{{ figure.key }}">
<img src="{{ figure.data_uri }}" alt="{{ figure.alt }}">
<figcaption>{{ figure.caption }}</figcaption>
</figure>
{% endfor %}
{% if section.collapsed %}
</details>
{% endif %}
</section>
{% endfor %}
<script>
// Marks each figure loaded or not (data-loaded), and says so under one that did not load.
window.addEventListener("load", function () {
  document.querySelectorAll("figure img").forEach(function (img) {
    var loaded = img.complete && img.naturalWidth > 0;
    img.setAttribute("data-loaded", loaded ? "yes" : "no");
    if (!loaded) {
      var note = document.createElement("p");
      note.className = "broken";
      note.textContent = "This figure did not load.";
      img.after(note);
    }
  });
});
</script>
</body>
</html>
""")
