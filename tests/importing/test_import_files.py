"""storm import prices / news on corrupted copies of real-looking inputs: exit 0, bad rows named, good rows in."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from storm.cli import app
from storm.importing.news import NewsColumns, NewsImport, import_news
from storm.importing.prices import PricesImport, import_prices
from storm.store import Layout, open_store

YAHOO_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"


def yahoo_rows(start: str, days: int, price: float = 100.0) -> str:
    dates = pd.bdate_range(start, periods=days)
    return "".join(f"{d:%Y-%m-%d},{price + i},{price + i + 2},{price + i - 1},{price + i + 1},{(price + i + 1) / 2},{1000 + i}\n"
                   for i, d in enumerate(dates))


@pytest.fixture
def store(local_storage):
    return open_store(local_storage)


def quarantined(store, kind: str, name: str) -> list[dict]:
    layout = Layout(store)
    return [json.loads(line) for line in store.read_text(layout.import_quarantine(kind, name)).splitlines()]


def test_corrupted_yahoo_files_import_with_every_bad_row_named_and_the_good_rows_through(tmp_path, store):
    folder = tmp_path / "prices"
    folder.mkdir()
    good = yahoo_rows("2015-01-05", 30)
    bad_lines = ("2015-02-30,1,2,0.5,1.5,1.5,10\n"      # bad date
                 "2015-03-02,abc,2,1,1.5,1.5,10\n"       # non-numeric
                 "2015-03-03,1,2,1,-1.5,-1.5,10\n"       # non-positive
                 "2015-03-04,1,0.5,1,1.5,1.5,10\n"       # high < low
                 "2015-03-05,1,2,1,1.5,1.5,-10\n"        # negative volume
                 "2015-03-06,1,2,1,\xff\xfe,1.5,10\n")   # not UTF-8 (written as latin-1 below)
    (folder / "BF-B.csv").write_bytes((YAHOO_HEADER + good + bad_lines).encode("latin-1"))
    duplicated = yahoo_rows("2015-01-05", 10)
    (folder / "^GSPC.csv").write_text(YAHOO_HEADER + duplicated + duplicated.splitlines(True)[3])  # a duplicate date
    (folder / "TINY.csv").write_text(YAHOO_HEADER + yahoo_rows("2015-01-05", 3))  # 3 days of history
    report = import_prices([folder], PricesImport(adjust=True), store, Layout(store))
    layout = Layout(store)
    reasons = {r["line"]: r["reason"] for r in quarantined(store, "prices", "prices")}
    assert sorted(reasons) == list(range(32, 38))
    assert "bad date" in reasons[32] and "open" in reasons[33] and "close is not positive" in reasons[34]
    assert "below low" in reasons[35] and "negative volume" in reasons[36] and "UTF-8" in reasons[37]
    bfb = store.read_table(layout.prices("BF_B")).to_pandas()
    assert len(bfb) == 30 and bfb["close"].iloc[0] == pytest.approx(101 / 2)  # --adjust: scaled by Adj Close / Close
    assert len(store.read_table(layout.prices("IDX_GSPC")).to_pandas()) == 10
    assert report.repairs["duplicate dates, last row kept"] == 1
    assert len(store.read_table(layout.prices("TINY")).to_pandas()) == 3
    assert report.markets == {"BF_B": "BF-B", "IDX_GSPC": "^GSPC", "TINY": "TINY"}


def test_long_parquet_table_is_split_per_ticker_reading_only_price_columns(tmp_path, store):
    rows = []
    for ticker in ("BRK.B", "AAPL"):
        for i, d in enumerate(pd.bdate_range("2016-01-04", periods=5)):
            rows.append({"date": d, "ticker": ticker, "open": 10.0 + i, "high": 12.0 + i, "low": 9.0 + i,
                         "close": 11.0 + i, "volume": 100.0, "notes": "x" * 100})
    table = pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # unsorted
    table.to_parquet(tmp_path / "long.parquet")
    report = import_prices([tmp_path / "long.parquet"], PricesImport(name="long"), store, Layout(store))
    brk = store.read_table(Layout(store).prices("BRK.B")).to_pandas()
    assert list(brk.columns) == ["date", "open", "high", "low", "close", "volume"]
    assert brk["date"].tolist() == [f"{d:%Y-%m-%d}" for d in pd.bdate_range("2016-01-04", periods=5)]
    assert report.counts["markets_written"] == 2 and report.rejected == 0


def write_feed(path: Path, rows: list[dict]) -> None:
    frame = pd.DataFrame(rows)
    with gzip.open(path, "wt", encoding="utf-8", newline="") as stream:
        frame.to_csv(stream, index=False)


def test_news_import_places_by_close_drops_retweets_and_names_every_bad_row(tmp_path, store):
    feed = tmp_path / "tweets.csv.gz"
    write_feed(feed, [
        {"created_at_utc": "2016-03-14 19:55:00", "ticker": "AAPL", "text": "Apple guidance cut"},
        {"created_at_utc": "2016-03-14 20:05:00", "ticker": "AAPL", "text": "after the bell"},   # 16:05 EDT -> next day
        {"created_at_utc": "2016-03-14 19:56:00", "ticker": "AAPL", "text": "RT @someone: Apple guidance cut"},
        {"created_at_utc": "2016-03-14 19:57:00", "ticker": "AAPL", "text": "Apple  guidance cut"},
        {"created_at_utc": "2016-03-14 19:58:00", "ticker": "BRK.B", "text": "Apple guidance cut"},  # other market
        {"created_at_utc": "not a time", "ticker": "AAPL", "text": "x"},
        {"created_at_utc": "2016-03-14 10:00:00", "ticker": "^^", "text": "no ticker"},
        {"created_at_utc": "2016-03-14 10:00:00", "ticker": "AAPL", "text": ""},
        {"created_at_utc": "2016-03-14 10:00:00", "ticker": "AAPL", "text": "y" * 10_000_000},  # a 10 MB line
    ])
    spec = NewsImport(name="tweets", columns=NewsColumns(time="created_at_utc", text="text", market="ticker"),
                      naive_tz="UTC")
    report = import_news([feed], spec, store, Layout(store))
    layout = Layout(store)
    day = [json.loads(line) for line in store.read_text(layout.news_file("2016-03-14", "tweets")).splitlines()]
    after = [json.loads(line) for line in store.read_text(layout.news_file("2016-03-15", "tweets")).splitlines()]
    assert [(i["market"], i["headline"]) for i in day] == [("AAPL", "Apple guidance cut"), ("BRK.B", "Apple guidance cut")]
    assert [i["headline"] for i in after] == ["after the bell"]
    assert report.counts["duplicates_dropped"] == 2
    reasons = sorted(r["reason"].split(" (")[0] for r in quarantined(store, "news", "tweets"))
    assert reasons == ["a row of more than 4,194,304 bytes", "bad ticker", "bad timestamp", "empty text"]
    assert report.rejected == 4


def test_market_wide_feed_with_relevance_filter_and_date_window(tmp_path, store):
    feed = tmp_path / "wire.csv"
    pd.DataFrame({"ts": ["20081029 04:25 PM EDT", "20081029 03:25 PM EDT", "20081029 02:00 PM EDT", "20090105 01:00 PM EST"],
                  "headline": ["Stocks slide", "Football results", "Banks fall on credit fears", "Stocks rally"]}
                 ).to_csv(feed, index=False)
    spec = NewsImport(name="wire", columns=NewsColumns(time="ts", text="headline", market_name="^GSPC"),
                      keep=r"stock|bank|credit", end="2008-12-31")
    report = import_news([feed], spec, store, Layout(store))
    layout = Layout(store)
    assert [json.loads(line)["headline"] for line in store.read_text(layout.news_file("2008-10-29", "wire")).splitlines()] \
        == ["Banks fall on credit fears"]
    assert [json.loads(line)["market"] for line in store.read_text(layout.news_file("2008-10-30", "wire")).splitlines()] \
        == ["IDX_GSPC"]
    assert report.counts["filtered_out"] == 1 and report.counts["outside_dates"] == 1


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_rerunning_an_import_writes_byte_identical_objects_and_removes_its_stale_days(tmp_path, local_storage):
    feed = tmp_path / "feed.csv"
    pd.DataFrame({"date": ["2016-03-14 12:00:00", "2016-03-16 12:00:00"], "headline": ["a", "b"],
                  "ticker": ["AAPL", "AAPL"]}).to_csv(feed, index=False)
    prices = tmp_path / "AAPL.csv"
    prices.write_text(YAHOO_HEADER + yahoo_rows("2016-03-01", 20))
    runner = CliRunner()
    root = Path(local_storage.root)
    commands = [["import", "prices", str(prices), "--root", str(root)],
                ["import", "news", str(feed), "--market-column", "ticker", "--root", str(root)]]
    for command in commands:
        assert runner.invoke(app, command).exit_code == 0
    first = snapshot(root)
    for command in commands:
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
    assert snapshot(root) == first
    pd.DataFrame({"date": ["2016-03-14 12:00:00"], "headline": ["a"], "ticker": ["AAPL"]}).to_csv(feed, index=False)
    assert runner.invoke(app, commands[1]).exit_code == 0
    assert not any("date=2016-03-16" in name for name in snapshot(root))


def test_import_of_a_file_without_the_named_columns_says_which(tmp_path, local_storage):
    feed = tmp_path / "feed.csv"
    feed.write_text("when,what\n2016-01-01,x\n")
    result = CliRunner().invoke(app, ["import", "news", str(feed), "--market", "SPX", "--root", local_storage.root])
    assert result.exit_code == 2
    assert "lacks column(s) ['date', 'headline']" in result.output


def test_a_firehose_keeps_the_latest_items_of_each_market_day_up_to_the_cap(tmp_path, store):
    feed = tmp_path / "wire.csv"
    pd.DataFrame({"ts": [f"2016-03-14 1{h}:00:00-04:00" for h in range(5)], "headline": [f"story {h}" for h in range(5)]}
                 ).to_csv(feed, index=False)
    spec = NewsImport(name="wire", columns=NewsColumns(time="ts", text="headline", market_name="SPX"), max_per_day=2)
    report = import_news([feed], spec, store, Layout(store))
    day = store.read_text(Layout(store).news_file("2016-03-14", "wire")).splitlines()
    assert [json.loads(line)["headline"] for line in day] == ["story 3", "story 4"]
    assert report.counts["over_daily_cap"] == 3


def test_a_reimport_with_other_data_is_another_world_for_fold_model_reuse(tmp_path, store):
    from storm.training.trainer import world_hash

    prices = tmp_path / "AAPL.csv"
    prices.write_text(YAHOO_HEADER + yahoo_rows("2016-03-01", 20))
    import_prices([prices], PricesImport(), store, Layout(store))
    first = world_hash(store, Layout(store))
    import_prices([prices], PricesImport(), store, Layout(store))
    assert world_hash(store, Layout(store)) == first != ""
    prices.write_text(YAHOO_HEADER + yahoo_rows("2016-03-01", 25))
    import_prices([prices], PricesImport(), store, Layout(store))
    assert world_hash(store, Layout(store)) != first


def test_prices_import_keeps_only_the_named_tickers_by_vendor_spelling_or_market_name(tmp_path, store):
    for ticker in ("BF-B", "AAPL", "MSFT"):
        (tmp_path / f"{ticker}.csv").write_text(YAHOO_HEADER + yahoo_rows("2016-03-01", 5))
    report = import_prices([tmp_path], PricesImport(tickers=frozenset({"BF-B", "MSFT"})), store, Layout(store))
    assert sorted(report.markets) == ["BF_B", "MSFT"] and report.counts["markets_written"] == 2
    assert not store.exists(Layout(store).prices("AAPL"))


def test_a_price_row_dated_9999_or_minus_1_is_quarantined_and_the_good_days_import(tmp_path, store):
    prices = tmp_path / "EVIL.csv"
    prices.write_text(YAHOO_HEADER + yahoo_rows("2015-01-05", 5)
                      + "9999-12-31,1,2,0.5,1.5,1.5,10\n-1,1,2,0.5,1.5,1.5,10\n"
                      + "2262-04-11T23:00:00Z,1,2,0.5,1.5,1.5,10\n1899-12-29,1,2,0.5,1.5,1.5,10\n")
    report = import_prices([prices], PricesImport(), store, Layout(store))
    stored = store.read_table(Layout(store).prices("EVIL")).to_pandas()
    assert stored["date"].max() == "2015-01-09" and len(stored) == 5
    reasons = {r["line"]: r["reason"] for r in quarantined(store, "prices", "prices")}
    assert sorted(reasons) == [7, 8, 9, 10]
    assert all(reason.startswith("date outside the stored range") for reason in reasons.values())
    assert "9999-12-31" in reasons[7] and "ingest.earliest_date" in reasons[7]
    assert report.rejects_by_reason["date outside the stored range"] == 4


def test_news_timestamps_pandas_cannot_hold_are_quarantined_rows_never_an_aborted_import(tmp_path, store):
    feed = tmp_path / "feed.csv"
    pd.DataFrame({"date": ["2016-03-14 12:00:00", "-1", "2262-04-11T23:00:00Z", "9999-12-31", "1677-09-21T00:00:00Z",
                           "2262-04-11 23:00", "99991231 11:00 PM PST"],
                  "headline": ["good", "a", "b", "c", "d", "e", "f"], "ticker": ["AAPL"] * 7}).to_csv(feed, index=False)
    spec = NewsImport(name="feed", columns=NewsColumns(market="ticker"))
    report = import_news([feed], spec, store, Layout(store))
    assert report.counts["items_written"] == 1 and report.rejected == 6
    assert Layout(store).news_files("feed") == [Layout(store).news_file("2016-03-14", "feed")]
    assert {r["reason"].split(" (")[0] for r in quarantined(store, "news", "feed")} == {
        "bad timestamp", "date outside the stored range"}


def test_the_stored_date_range_comes_from_the_config(tmp_path, local_storage):
    prices = tmp_path / "OLD.csv"
    prices.write_text(YAHOO_HEADER + yahoo_rows("1995-01-02", 5) + yahoo_rows("2015-01-05", 5))
    result = CliRunner().invoke(app, ["import", "prices", str(prices), "--root", local_storage.root,
                                      "--set", "ingest.earliest_date=2000-01-01"])
    assert result.exit_code == 0, result.output
    store = open_store(local_storage)
    assert store.read_table(Layout(store).prices("OLD")).to_pandas()["date"].min() == "2015-01-05"


@pytest.mark.parametrize("kind", ["news", "prices"])
def test_an_import_name_that_is_no_single_word_is_refused_before_anything_is_written(tmp_path, local_storage, kind):
    feed = tmp_path / "AAPL.csv"
    if kind == "news":
        pd.DataFrame({"date": ["2016-03-14 12:00:00"], "headline": ["a"], "ticker": ["AAPL"]}).to_csv(feed, index=False)
        extra = ["--market-column", "ticker"]
    else:
        feed.write_text(YAHOO_HEADER + yahoo_rows("2016-03-01", 5))
        extra = []
    result = CliRunner().invoke(app, ["import", kind, str(feed), "--root", local_storage.root, "--name", "sub/evil",
                                      *extra])
    assert result.exit_code == 2 and "import name 'sub/evil' is not allowed" in result.output
    assert not [p for p in Path(local_storage.root).rglob("*") if p.is_file()]


def test_csvs_saved_with_a_utf8_byte_order_mark_import_like_plain_ones(tmp_path, store):
    bom = "\ufeff"
    prices = tmp_path / "AAPL.csv"
    prices.write_text(bom + YAHOO_HEADER + yahoo_rows("2016-03-01", 5), encoding="utf-8")
    report = import_prices([prices], PricesImport(), store, Layout(store))
    assert report.counts["markets_written"] == 1 and not [note for note in report.notes if "skipped" in note]
    feed = tmp_path / "feed.csv.gz"
    with gzip.open(feed, "wt", encoding="utf-8", newline="") as stream:
        stream.write(bom + "date,headline,ticker\n2016-03-14 12:00:00,Apple slides,AAPL\n")
    report = import_news([feed], NewsImport(name="feed", columns=NewsColumns(market="ticker")), store, Layout(store))
    assert report.counts["items_written"] == 1


def test_tickers_that_would_merge_into_one_market_are_refused_naming_both_and_the_manifest_keeps_every_spelling(
        tmp_path, store):
    table = tmp_path / "long.csv"
    rows = [{"date": f"{d:%Y-%m-%d}", "ticker": ticker, "open": 10.0, "high": 12.0, "low": 9.0, "close": close,
             "volume": 100.0}
            for ticker, close in (("PL", 11.0), ("ÄPL", 99.0), ("BRK-B", 11.0), ("BRK/B", 99.0))
            for d in pd.bdate_range("2016-01-04", periods=5)]
    pd.DataFrame(rows).to_csv(table, index=False)
    report = import_prices([table], PricesImport(name="long"), store, Layout(store))
    layout = Layout(store)
    for market in ("PL", "BRK_B"):
        assert store.read_table(layout.prices(market)).to_pandas()["close"].tolist() == [11.0] * 5  # nothing merged
    reasons = [r["reason"] for r in quarantined(store, "prices", "long")]
    assert len(reasons) == 10 and "tickers 'PL' and 'ÄPL' would both be market 'PL'" in reasons[0]
    assert "tickers 'BRK-B' and 'BRK/B'" in reasons[5]
    manifest = json.loads(store.read_text(layout.import_manifest("prices", "long")))
    assert manifest["markets"] == {"BRK_B": "BRK-B", "PL": "PL"}
    assert sorted(manifest["ticker_spellings"]) == ["BRK-B", "BRK/B", "PL", "ÄPL"]
    assert manifest["ticker_spellings"]["ÄPL"].startswith("refused: ")


def test_news_of_two_spellings_of_one_market_never_merge(tmp_path, store):
    feed = tmp_path / "feed.csv"
    pd.DataFrame({"date": ["2016-03-14 12:00:00"] * 2, "headline": ["Berkshire B", "Other"],
                  "ticker": ["BRK-B", "BRK/B"]}).to_csv(feed, index=False)
    report = import_news([feed], NewsImport(name="feed", columns=NewsColumns(market="ticker")), store, Layout(store))
    assert report.counts["items_written"] == 1 and report.rejected == 1
    assert "'BRK-B' and 'BRK/B'" in report.rejects[0].reason


def test_news_of_markets_without_prices_and_after_the_last_price_day_are_named(tmp_path, store):
    from storm.importing.crosscheck import cross_check

    layout = Layout(store)
    days = pd.bdate_range("2016-03-01", periods=10).strftime("%Y-%m-%d")
    store.write_table(layout.prices("AAPL"), pd.DataFrame({"date": days, "open": 1.0, "high": 1.0, "low": 1.0,
                                                           "close": 1.0, "volume": 1.0}))
    feed = tmp_path / "feed.csv"
    pd.DataFrame({"date": ["2016-03-02 12:00:00", "2016-03-02 12:00:00", "2016-04-20 12:00:00"],
                  "headline": ["inside", "no prices", "after"], "ticker": ["AAPL", "MSFT", "AAPL"]}).to_csv(feed, index=False)
    report = import_news([feed], NewsImport(name="feed", columns=NewsColumns(market="ticker")), store, layout)
    lines = cross_check(report, store, layout)
    assert lines[0].startswith("1 market(s) have news but no prices") and "MSFT" in lines[0]
    assert lines[1].startswith("1 news day(s) lie after the last stored price day (2016-03-14)") and "2016-04-20" in lines[1]


def stored_news(store, date: str, name: str) -> list[dict]:
    return [json.loads(line) for line in store.read_text(Layout(store).news_file(date, name)).splitlines()]


def test_separate_date_and_time_columns_in_new_york_time_inform_the_day_the_bell_allows(tmp_path, local_storage):
    """A vendor's file with a date column and a zoneless time column, read through the CLI with the market's --tz
    (the default for naive times): 15:55 informs that day, 16:05 the next trading day, as the features read it."""
    from storm.config import IngestConfig
    from storm.features.alignment import effective_day_index
    from storm.ingest.decode import parse_news_line

    feed = tmp_path / "vendor.csv"
    pd.DataFrame({"story_date": ["2016-03-11", "2016-03-11", "2016-03-14", "2016-03-14", "2016-03-14"],
                  "story_time": ["15:55", "16:05", "15:55:00", "4:05 PM", "16:05 UTC"],
                  "headline": ["fri before", "fri after", "mon before", "mon after", "mon utc"],
                  "ticker": ["AAPL"] * 5}).to_csv(feed, index=False)
    result = CliRunner().invoke(app, ["import", "news", str(feed), "--date-column", "story_date", "--time-column",
                                      "story_time", "--market-column", "ticker", "--root", local_storage.root])
    assert result.exit_code == 0, result.output
    assert "4 times without a zone were read in America/New_York" in " ".join(result.output.split())
    store = open_store(local_storage)
    by_partition = {date: [item["headline"] for item in stored_news(store, date, "vendor")]
                    for date in ("2016-03-11", "2016-03-12", "2016-03-14", "2016-03-15")}
    assert by_partition == {"2016-03-11": ["fri before"], "2016-03-12": ["fri after"],
                            "2016-03-14": ["mon utc", "mon before"], "2016-03-15": ["mon after"]}  # by publication time
    calendar = {"AAPL": pd.bdate_range("2016-03-10", "2016-03-16").strftime("%Y-%m-%d").to_numpy()}
    read = pd.DataFrame([parse_news_line(line.encode(), date, IngestConfig())
                         for date in by_partition for line in store.read_text(
                             Layout(store).news_file(date, "vendor")).splitlines()])
    trading_day = calendar["AAPL"][effective_day_index(read, calendar).to_numpy()]
    assert dict(zip(read["headline"], trading_day)) == {
        "fri before": "2016-03-11", "fri after": "2016-03-14", "mon before": "2016-03-14", "mon utc": "2016-03-14",
        "mon after": "2016-03-15"}


def test_naive_tz_still_overrides_the_market_zone_and_the_summary_says_so(tmp_path, store):
    feed = tmp_path / "feed.csv"
    pd.DataFrame({"date": ["2016-03-14 19:55:00", "2016-03-14 20:05:00"], "headline": ["before", "after"],
                  "ticker": ["AAPL"] * 2}).to_csv(feed, index=False)
    report = import_news([feed], NewsImport(name="feed", columns=NewsColumns(market="ticker"), naive_tz="UTC"),
                         store, Layout(store))
    assert [i["headline"] for i in stored_news(store, "2016-03-14", "feed")] == ["before"]
    assert [i["headline"] for i in stored_news(store, "2016-03-15", "feed")] == ["after"]
    assert report.counts["naive_times"] == 2 and report.notes == ["2 times without a zone were read in UTC (--naive-tz)"]


def test_a_parquet_feed_with_date_and_time_typed_columns_imports_like_text(tmp_path, store):
    import datetime as dt

    feed = tmp_path / "feed.parquet"
    pd.DataFrame({"day": [dt.date(2016, 3, 14), dt.date(2016, 3, 14)], "at": [dt.time(15, 55), dt.time(16, 5)],
                  "headline": ["before", "after"], "ticker": ["AAPL"] * 2}).to_parquet(feed)
    spec = NewsImport(name="feed", columns=NewsColumns(date="day", time="at", market="ticker"))
    report = import_news([feed], spec, store, Layout(store))
    assert report.rejected == 0 and report.counts["naive_times"] == 2
    assert [i["headline"] for i in stored_news(store, "2016-03-14", "feed")] == ["before"]
    assert [i["headline"] for i in stored_news(store, "2016-03-15", "feed")] == ["after"]


def test_a_row_whose_date_or_time_cannot_be_read_is_quarantined_with_its_reason_and_the_rest_import(tmp_path, store):
    feed = tmp_path / "feed.csv"
    pd.DataFrame({"day": ["2016-03-14", "2016-13-40", "2016-03-14", "", "2016-03-14", "2016-03-14"],
                  "at": ["10:00", "10:00", "25:00", "10:00", "10:00 XYZ", ""],
                  "headline": ["good", "bad day", "bad hour", "no day", "bad zone", "date only"],
                  "ticker": ["AAPL"] * 6}).to_csv(feed, index=False)
    spec = NewsImport(name="feed", columns=NewsColumns(date="day", time="at", market="ticker"))
    report = import_news([feed], spec, store, Layout(store))
    assert [i["headline"] for i in stored_news(store, "2016-03-14", "feed")] == ["good"]
    assert [i["headline"] for i in stored_news(store, "2016-03-15", "feed")] == ["date only"]  # no time: after the bell
    reasons = {r["line"]: r["reason"] for r in quarantined(store, "news", "feed")}
    assert reasons == {3: "bad timestamp ('2016-13-40 10:00')", 4: "bad timestamp ('2016-03-14 25:00')",
                       5: "bad timestamp ('')", 6: "bad timestamp ('2016-03-14 10:00 XYZ')"}
