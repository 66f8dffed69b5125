"""A market-wide wire: imported once, read by every market on its own calendar exactly once (real Ray, real MiniLM)."""

import json

import numpy as np
import pandas as pd
import pytest

from storm.config import FeatureConfig, StormConfig
from storm.explain.headlines import read_headline_book
from storm.features.alignment import trading_calendars
from storm.features.cache import FeatureCache, feature_spec_id
from storm.features.panel import ingested_evidence
from storm.features.windows import gather_windows
from storm.features.wire import wire_days
from storm.importing.news import NewsImport, import_news
from storm.ingest import read_prices
from storm.store import Layout, open_store

DATES = list(pd.bdate_range("2020-01-06", periods=30).strftime("%Y-%m-%d"))  # Monday 6 Jan 2020 onwards
FEATURES = dict(max_headlines=4, chart_size=32, chart_days=10, n_mels=16, call_mel_frames=32, window_days=5,
                max_conferences=2)


def write_prices(layout: Layout, market: str, dates: list[str]) -> None:
    close = 100.0 + np.arange(len(dates)) * 0.01
    frame = pd.DataFrame({"date": dates, "open": close, "high": close + 1, "low": close - 1, "close": close,
                          "volume": np.full(len(dates), 1e6)})
    layout.store.write_table(layout.prices(market), frame)


def import_wire(tmp_path, store, rows: list[tuple[str, str]], name: str = "reuters"):
    feed = tmp_path / f"{name}.csv"
    pd.DataFrame(rows, columns=["date", "headline"]).to_csv(feed, index=False)
    return import_news([feed], NewsImport(name=name, market_wide=True), store, Layout(store))


@pytest.fixture
def two_calendars(tmp_path, local_storage):
    """AAA trades every weekday; BBB is closed on DATES[6] (a holiday of its own). A wire headline at 15:00 New York
    time on DATES[5], one at 17:00 (after the close), and AAA's own headline on DATES[5]."""
    store = open_store(local_storage)
    layout = Layout(store)
    write_prices(layout, "AAA", DATES)
    write_prices(layout, "BBB", DATES[:6] + DATES[7:])
    layout.store.write_text(layout.news_file(DATES[5], "own"),
                            json.dumps({"market": "AAA", "headline": "AAA wins a contract"}) + "\n")
    report = import_wire(tmp_path, store, [(f"{DATES[5]} 15:00", "Fed holds rates steady"),
                                           (f"{DATES[5]} 17:00", "Oil jumps after the close")])
    config = StormConfig(storage=local_storage, features=FeatureConfig(**FEATURES),
                         model={"prices_encoder": "price_evidence"})
    return config, layout, report


def evidence_calendars(layout: Layout) -> dict:
    return trading_calendars(read_prices(layout.store, layout))


def row_of(panel, market: str, date: str) -> int:
    return int(np.flatnonzero((panel.market == market) & (panel.date == date))[0])


def test_a_market_wide_feed_is_stored_once_per_date_without_markets(tmp_path, local_storage):
    store = open_store(local_storage)
    layout = Layout(store)
    report = import_wire(tmp_path, store, [("2020-01-07 10:00", "Stocks open higher"),
                                           ("2020-01-07 17:30", "Futures slip after hours"),
                                           ("2020-01-08 09:00", "Futures slip after hours")])
    assert report.kind == "wire" and report.markets == {}
    assert sorted(report.objects) == [layout.wire_file("2020-01-07", "reuters"), layout.wire_file("2020-01-08", "reuters")]
    assert store.list_files(layout.raw_dir("wire")) == sorted(report.objects)  # one object a date: no per-market copies
    assert not store.exists(layout.raw_dir("news"))
    lines = [json.loads(line) for line in store.read_text(layout.wire_file("2020-01-08", "reuters")).splitlines()]
    assert [line["headline"] for line in lines] == ["Futures slip after hours"] and "market" not in lines[0]
    assert store.exists(layout.import_manifest("wire", "reuters"))


def test_a_market_wide_feed_refuses_a_market_column(tmp_path, local_storage):
    from storm.importing.news import NewsColumns

    store = open_store(local_storage)
    feed = tmp_path / "feed.csv"
    pd.DataFrame({"date": ["2020-01-07"], "headline": ["x"], "ticker": ["AAA"]}).to_csv(feed, index=False)
    with pytest.raises(ValueError, match="market-wide"):
        import_news([feed], NewsImport(name="feed", market_wide=True, columns=NewsColumns(market="ticker")), store,
                    Layout(store))
    assert not store.exists(Layout(store).raw_dir("wire"))


def test_wire_headlines_reach_every_markets_own_trading_day_exactly_once(ray_cluster, two_calendars):
    config, layout, _ = two_calendars
    evidence = ingested_evidence(config, DATES[5], DATES[9])
    panel = evidence.panel
    # 15:00 is before the close: both markets read it on DATES[5]; 17:00 informs the next session, which is DATES[6]
    # for AAA and DATES[7] for BBB (closed on DATES[6])
    assert panel.wire_count[row_of(panel, "AAA", DATES[5])] == 1 and panel.wire_count[row_of(panel, "BBB", DATES[5])] == 1
    assert panel.wire_count[row_of(panel, "AAA", DATES[6])] == 1 and panel.wire_count[row_of(panel, "BBB", DATES[7])] == 1
    for market in ("AAA", "BBB"):
        assert panel.wire_count[panel.market == market].sum() == 2  # each headline once per market
    # the day reads the headline's own cached embedding; the market's own news stays its own
    cache = FeatureCache(layout.store, layout, "wire", feature_spec_id(config.features, "wire"))
    embeddings = cache.load(DATES[5:7])
    assert len(embeddings) == 2
    same_day = {row_of(panel, m, DATES[5]) for m in ("AAA", "BBB")}
    fed = [vector for vector in embeddings.values() if np.allclose(vector, panel.wire_day[min(same_day)], atol=1e-5)]
    assert len(fed) == 1 and np.allclose(panel.wire_day[max(same_day)], fed[0], atol=1e-5)
    assert panel.text_count[row_of(panel, "AAA", DATES[5])] == 1 and panel.text_count[row_of(panel, "BBB", DATES[5])] == 0
    assert evidence.report.counts["wire"]["ok"] == 2 and evidence.computed["wire"] == 2
    # windows carry the wire; a market without own news has the news modality through the wire
    windows = gather_windows(panel, np.array([row_of(panel, "BBB", DATES[7])]))
    assert windows["wire_day_count"][0].tolist() == [0, 0, 0, 1, 1] and windows["modality_mask"][0, 0] == 1
    assert windows["text_day_count"][0].sum() == 0
    # explanations read the wire back: each headline on every market's own day, flagged market-wide
    book = read_headline_book(layout.store, layout, panel, evidence_calendars(layout), config.features, config.ingest)
    wide = book.market_wide
    assert sorted(zip(panel.market[book.row[wide]], panel.date[book.row[wide]], book.headline[wide])) == [
        ("AAA", DATES[5], "Fed holds rates steady"), ("AAA", DATES[6], "Oil jumps after the close"),
        ("BBB", DATES[5], "Fed holds rates steady"), ("BBB", DATES[7], "Oil jumps after the close")]
    assert book.headline[~wide].tolist() == ["AAA wins a contract"]


def test_a_model_that_does_not_read_the_wire_neither_reads_nor_embeds_it(ray_cluster, two_calendars):
    config, _, _ = two_calendars
    evidence = ingested_evidence(config.with_overrides({"model.news_wire": False}), DATES[5], DATES[9])
    assert "wire" in evidence.report.unread and "wire" not in evidence.computed
    assert not evidence.panel.wire_count.any() and not evidence.panel.wire_day.any()


def test_a_flood_reads_the_last_max_headlines_of_the_dates_falling_on_a_day_as_own_news_does():
    calendar = np.array(["2020-01-03", "2020-01-06"])  # Friday, Monday
    rows = pd.DataFrame({"market": ["AAA", "AAA"], "market_index": [0, 1], "row_of_day": [0, 1]})
    items = pd.DataFrame({"date": ["2020-01-04", "2020-01-04", "2020-01-05", "2020-01-06", "2020-01-02"],
                          "source_path": ["a", "b", "a", "a", "a"], "content_hash": ["h1", "h2", "h3", "h4", "h0"]})
    embeddings = {f"h{i}": np.eye(5, dtype=np.float32)[i] for i in range(5)}
    day, count = wire_days(rows, items, embeddings, {"AAA": calendar}, max_headlines=2, text_dim=5)
    assert count.tolist() == [1, 2]  # Friday reads Thursday's after-close item; Monday the last 2 of Sat, Sun, Mon
    np.testing.assert_allclose(day[1], (embeddings["h3"] + embeddings["h4"]) / 2)
    np.testing.assert_allclose(day[0], embeddings["h0"])
