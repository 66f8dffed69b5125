"""Issue 38, finding 8 (import side): text from the data never acts on the terminal that later prints it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from storm.cli import app
from storm.config import StorageConfig
from storm.importing.calls import CallImport, import_call_tables
from storm.importing.news import NewsColumns, NewsImport, import_news
from storm.printable import printable
from storm.schema import PRAAT_COLUMNS
from storm.store import Layout, open_store

HOSTILE = "\x1b[31mALERT\x1b[0m Fed\x07 hikes\x1b]0;owned\x07\u202e\x9b2J"


@pytest.fixture
def store(tmp_path):
    return open_store(StorageConfig(root=str(tmp_path / "store")))


def every_stored_text(root: Path) -> str:
    return "".join(path.read_text(encoding="utf-8") for path in root.rglob("*") if path.suffix in (".json", ".jsonl"))


@pytest.mark.parametrize("text, shown", [
    (HOSTILE, "ALERT Fed hikes"),
    ("two\nlines\tand a tab", "two lines and a tab"),
    ("Dax steigt \u00fcber 12.000 \U0001f4c8", "Dax steigt \u00fcber 12.000 \U0001f4c8"),
])
def test_printable_drops_escape_sequences_and_controls_and_keeps_every_letter(text, shown):
    assert printable(text) == shown


def test_escape_sequences_in_headlines_and_tickers_are_stripped_at_import(tmp_path, store):
    feed = tmp_path / "feed.csv"
    with feed.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows([["date", "headline", "ticker", "id"],
                                   ["2020-01-02T15:00:00Z", HOSTILE, "AAPL", "id\x1b[8m1"],
                                   ["2020-01-02T15:00:00Z", "Oil\x1b[2K slides", "EV\x1b[2JIL", "2"],
                                   ["not a time\x1b]0;x\x07", "late", "AAPL", "3"]])
    spec = NewsImport(name="feed", columns=NewsColumns(time="date", text="headline", market="ticker", id="id"))
    import_news([feed], spec, store, Layout(store))
    items = [json.loads(line) for line in
             store.read_text(Layout(store).news_file("2020-01-02", "feed")).splitlines()]
    assert [(item["headline"], item["id"]) for item in items] == [("ALERT Fed hikes", "id1"), ("Oil slides", "2")]
    manifest = json.loads(store.read_text(Layout(store).import_manifest("news", "feed")))
    assert manifest["markets"] == {"AAPL": "AAPL", "EV_2JIL": "EVIL"}
    stored = every_stored_text(tmp_path / "store")  # items, manifest and quarantine
    assert all(ch == "\n" or ch.isprintable() for ch in stored) and "\\u00" not in stored  # JSON's escaped controls


def test_escape_sequences_in_call_sentences_are_stripped_at_import(tmp_path, store):
    table = tmp_path / "calls.csv"
    with table.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["call_id", "date", "ticker", "sent_idx", "text", *PRAAT_COLUMNS])
        writer.writerow(["c1", "2015-03-02", "AAA", "0", HOSTILE, *["1.5"] * len(PRAAT_COLUMNS)])
    import_call_tables([table], CallImport(name="calls"), store, Layout(store))
    sentences = store.read_table(Layout(store).call_table("2015-03-02", "AAA", "c1")).to_pandas()["text"].tolist()
    assert sentences == ["ALERT Fed hikes"]


def test_a_price_header_with_console_markup_is_printed_as_text(tmp_path):
    prices = tmp_path / "AAPL.csv"
    prices.write_text("Date,Open,High,Low,[/nope] [bold]x\n2016-03-01,1,2,0.5,1.5\n")
    result = CliRunner().invoke(app, ["import", "prices", str(prices), "--root", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    assert "[/nope] [bold]x" in result.output  # the note names the header as it is (it has no close column)
