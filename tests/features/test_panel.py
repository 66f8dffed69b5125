"""ingested_evidence end to end on a hand-written tiny store: real Ray, real files, real MiniLM; windows gathered from it."""

import io
import json
import wave

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from storm.config import FeatureConfig, StormConfig
from storm.features.image import price_window, rendered_chart_tensor
from storm.features import featurize as featurize_module
from storm.features.panel import assemble_panel, ingested_evidence, ingest_window
from storm.features.price_history import quant_price_features
from storm.ingest import read_prices
from storm.features.windows import WINDOW_INPUT_KEYS, gather_windows
from storm.store import Layout, open_store

DATES = list(pd.bdate_range("2020-01-06", periods=30).strftime("%Y-%m-%d"))  # Monday 6 Jan 2020 onwards
FEATURES = dict(max_headlines=4, chart_size=32, chart_days=10, n_mels=16, call_mel_frames=32, window_days=5,
                max_conferences=2)


def write_prices(layout: Layout, market: str, crash_from: int | None) -> None:
    close = np.full(len(DATES), 100.0)
    if crash_from is not None:
        close[crash_from:] = 80.0  # a 20% fall: a storm for every horizon that reaches it
    close = close + np.arange(len(DATES)) * 0.01
    frame = pd.DataFrame({"date": DATES, "open": close, "high": close + 1, "low": close - 1, "close": close,
                          "volume": np.full(len(DATES), 1e6)})
    layout.store.write_table(layout.prices(market), frame)


def write_news(layout: Layout, date: str, items: list[tuple[str, str]], name: str = "headlines") -> None:
    lines = [json.dumps({"id": f"{market}{i}", "market": market, "date": date, "headline": text, "source": "wire"})
             for i, (market, text) in enumerate(items)]
    layout.store.write_text(layout.news_file(date, name), "\n".join(lines) + "\n")


def write_chart(layout: Layout, date: str, market: str) -> None:
    sink = io.BytesIO()
    Image.fromarray(np.tile(np.linspace(0, 255, 32, dtype=np.uint8), (32, 1)), mode="L").save(sink, format="PNG")
    layout.store.write_bytes(layout.chart(date, market), sink.getvalue())


def write_conference(layout: Layout, date: str, market: str, event: str) -> None:
    t = np.arange(16000) / 16000
    sink = io.BytesIO()
    with wave.open(sink, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16000)
        writer.writeframes((0.3 * np.sin(2 * np.pi * 330 * t) * 32767).astype("<i2").tobytes())
    layout.store.write_bytes(layout.audio(date, market, event), sink.getvalue())


@pytest.fixture(params=["local"])
def tiny_world(request):
    """AAA crashes on day 20; days 5..9 are the range: AAA has news on days 5-6, a chart on 5, a conference on 3."""
    storage = request.getfixturevalue(f"{request.param}_storage")
    store = open_store(storage)
    layout = Layout(store)
    write_prices(layout, "AAA", crash_from=20)
    write_prices(layout, "BBB", crash_from=None)
    write_news(layout, DATES[5], [("AAA", "Bank shares slide on credit fears"), ("AAA", "Regulators meet lenders")])
    write_news(layout, DATES[6], [("AAA", "Volatility jumps as index falls")])
    write_chart(layout, DATES[5], "AAA")
    write_conference(layout, DATES[3], "AAA", "q4call")
    layout.store.write_bytes(layout.chart(DATES[6], "BBB"), b"not a png")  # quarantined, never a crash
    return StormConfig(storage=storage, features=FeatureConfig(**FEATURES)), layout


def row_of(panel, market: str, date: str) -> int:
    return int(np.flatnonzero((panel.market == market) & (panel.date == date))[0])


def test_a_chart_encoder_that_reads_prices_gets_no_pixels_and_no_chart_is_read_or_drawn(ray_cluster, tiny_world):
    config, layout = tiny_world
    evidence = ingested_evidence(config.with_overrides({"model.prices_encoder": "price_evidence"}), DATES[5], DATES[9])
    panel = evidence.panel
    assert panel.chart.shape == (len(panel), 0, 0) and panel.has_chart.all()  # the modality is present: its prices
    assert "charts" not in evidence.computed and "charts" not in evidence.report.counts
    assert evidence.report.unread == {"charts": "model.prices_encoder=price_evidence reads prices, not chart pixels"}
    assert gather_windows(panel, np.arange(3))["image"].shape == (3, 1, 0, 0)
    # given PNGs alone decide the modality (no chart drawn from prices): they are read, their pixels still not held
    given_only = ingested_evidence(config.with_overrides({"features.render_missing_charts": False}), DATES[5], DATES[9])
    assert given_only.panel.chart.shape[1:] == (0, 0) and given_only.report.counts["charts"]["ok"] == 1
    assert given_only.panel.has_chart.sum() == 1 and given_only.panel.has_chart[row_of(given_only.panel, "AAA", DATES[5])]


def test_panel_holds_each_days_evidence_once_with_labels_and_counts(ray_cluster, tiny_world):
    config, layout = tiny_world
    evidence = ingested_evidence(config.with_overrides({"model.prices_encoder": "chart_evidence"}), DATES[5], DATES[9])
    panel = evidence.panel
    assert evidence.markets == ["AAA", "BBB"] and evidence.dates == DATES[5:10]
    assert list(panel.date[panel.market == "AAA"]) == DATES[1:10]  # window_days - 1 trading days before the start

    news_day, quiet_day = row_of(panel, "AAA", DATES[5]), row_of(panel, "BBB", DATES[5])
    assert panel.text_count[news_day] == 2 and 0.5 < np.linalg.norm(panel.text_day[news_day]) <= 1.0
    assert panel.text_count[quiet_day] == 0 and not panel.text_day[quiet_day].any()

    # BBB has no PNG: its chart is drawn from its prices, and counts as present
    expected = rendered_chart_tensor(price_window(layout.store.read_table(layout.prices("BBB")).to_pandas(), DATES[5], 10), 32)
    np.testing.assert_allclose(panel.chart[quiet_day] / 127.5 - 1.0, expected[0], atol=1e-2)
    assert panel.has_chart[quiet_day] and panel.has_chart[row_of(panel, "BBB", DATES[6])]  # broken PNG: drawn instead

    # the one conference is held once, evidence from its own day
    assert panel.conference_stats.shape == (1, 3 * 16) and panel.conference_row.tolist() == [row_of(panel, "AAA", DATES[3])]

    # labels come from the full price history: the day-20 crash is within 20 days of day 9, not within 5
    last = row_of(panel, "AAA", DATES[9])
    assert panel.labels[last].tolist()[::2] == [0.0, 1.0] and np.isfinite(panel.fwd_log_vol[row_of(panel, "BBB", DATES[9])])

    # report counts as run_ingest does: items dated in range, (market, day) pairs without an item that day
    assert evidence.report.counts["news"] == {"ok": 3, "quarantined": 0, "missing": 8}
    assert evidence.report.counts["charts"] == {"ok": 1, "quarantined": 1, "missing": 9}
    assert evidence.report.counts["audio"] == {"ok": 0, "quarantined": 0, "missing": 10}
    assert any(path.endswith("ingest-charts.jsonl") for path in evidence.report.quarantine_files)


def test_windows_see_the_past_days_and_the_conference_until_it_leaves_the_window(ray_cluster, tiny_world):
    config, _ = tiny_world
    panel = ingested_evidence(config.with_overrides({"model.prices_encoder": "chart_evidence"}), DATES[5], DATES[9]).panel
    rows = np.array([row_of(panel, "AAA", DATES[d]) for d in (6, 7, 8, 9)] + [row_of(panel, "BBB", DATES[7])])
    windows = gather_windows(panel, rows)
    assert set(WINDOW_INPUT_KEYS) <= set(windows)
    assert windows["text_days"].shape == (5, 5, 384) and windows["price_days"].shape[:2] == (5, 5)
    assert windows["image"].shape == (5, 1, 32, 32) and windows["audio_stats"].shape == (5, 2, 3 * 16)
    # day 6's window holds day 5's two headlines and day 6's one, oldest first
    assert windows["text_day_count"][0].tolist() == [0, 0, 0, 2, 1]
    # the day-3 conference: in the windows ending on days 6 and 7 (ages 3 and 4 days), gone from day 8 on
    assert windows["audio_valid"][:, 0].tolist() == [1, 1, 0, 0, 0]
    np.testing.assert_allclose(windows["audio_age"][:2, 0], [3 / 5, 4 / 5])
    # its log-mel statistics as the panel holds them, once per window; every empty slot all zeros
    conference = panel.recent_conferences[rows[0], 0]
    np.testing.assert_array_equal(windows["audio_stats"][:2, 0], panel.conference_stats[[conference, conference]])
    assert windows["audio_stats"][:2, 0].any() and not windows["audio_stats"][2:].any()
    assert not windows["audio_stats"][:, 1].any()
    assert windows["modality_mask"].tolist() == [[1, 1, 1], [1, 1, 1], [1, 1, 0], [1, 1, 0], [0, 1, 0]]  # news stays 5 days
    assert windows["storm_20d"][3] == 1.0 and windows["date"][3] == DATES[9]


def test_rerun_computes_only_new_items(ray_cluster, tiny_world):
    config, layout = tiny_world
    config = config.with_overrides({"model.prices_encoder": "chart_evidence"})  # every source read
    first = ingested_evidence(config, DATES[5], DATES[9])
    assert first.computed == {"news": 3, "charts": 1, "audio": 1, "wire": 0}
    again = ingested_evidence(config, DATES[5], DATES[9])
    assert again.computed == {"news": 0, "charts": 0, "audio": 0, "wire": 0}
    write_news(layout, DATES[7], [("BBB", "Exporters rally on weaker currency")], name="late")
    third = ingested_evidence(config, DATES[5], DATES[9])
    assert third.computed == {"news": 1, "charts": 0, "audio": 0, "wire": 0}
    assert third.panel.text_count[row_of(third.panel, "BBB", DATES[7])] == 1


@pytest.mark.parametrize("tiny_world", ["local", "s3"], indirect=True)
def test_a_panel_of_some_markets_holds_their_rows_of_the_whole_panel_when_features_stream_in_small_chunks(
        ray_cluster, tiny_world, monkeypatch):
    """What a scan batch of markets sees is what the whole panel holds for them; chunked cache writes lose nothing."""
    config, _ = tiny_world
    monkeypatch.setattr(featurize_module, "CACHE_FLUSH_BYTES", 1)  # every Ray Data batch merged into the cache alone
    monkeypatch.setattr(featurize_module, "STREAM_BATCH_ITEMS", 1)
    window = ingest_window(config, DATES[5], DATES[9])
    assert sum(found.computed for found in window.items.values()) > 0  # features computed now, in chunks
    whole, _ = assemble_panel(window)
    part, _ = assemble_panel(window, ["AAA"])
    mine = whole.market == "AAA"
    assert set(part.market) == {"AAA"} and len(part) == int(mine.sum())
    np.testing.assert_array_equal(part.date, whole.date[mine])
    for name in ("text_day", "text_count", "price", "chart", "has_chart", "labels"):
        np.testing.assert_array_equal(getattr(part, name), getattr(whole, name)[mine], err_msg=name)
    assert len(part.conference_row) == len(whole.conference_row) == 1  # AAA's call, placed on AAA's own rows
    np.testing.assert_array_equal(part.conference_stats, whole.conference_stats)


def test_a_one_day_build_reads_only_its_window(ray_cluster, tiny_world):
    config, _ = tiny_world
    one_day = ingested_evidence(config.with_overrides({"model.prices_encoder": "chart_evidence"}), DATES[7], DATES[7])
    assert one_day.dates == [DATES[7]] and list(one_day.panel.date[one_day.panel.market == "AAA"]) == DATES[3:8]
    assert one_day.computed == {"news": 3, "charts": 1, "audio": 1, "wire": 0}  # what lies in days 3..7, nothing earlier or later
    windows = gather_windows(one_day.panel, one_day.panel.rows_on([DATES[7]]))
    assert windows["modality_mask"].tolist() == [[1, 1, 1], [0, 1, 0]]


def test_ragged_calendars_keep_each_markets_own_days_and_a_too_short_market_is_skipped(ray_cluster, local_storage):
    """DDD lists on day 3 and is halted on days 11-12; EEE has 3 days of prices: skipped with a message, no error."""
    layout = Layout(open_store(local_storage))
    write_prices(layout, "AAA", crash_from=20)
    own_days = [d for i, d in enumerate(DATES) if i >= 3 and i not in (11, 12)]
    close = np.linspace(100.0, 101.0, len(own_days))
    close[own_days.index(DATES[15]):] *= 0.85  # DDD falls 15% on its own day 15
    layout.store.write_table(layout.prices("DDD"), pd.DataFrame(
        {"date": own_days, "open": close, "high": close + 1, "low": close - 1, "close": close, "volume": 1e6}))
    layout.store.write_table(layout.prices("EEE"), pd.DataFrame(
        {"date": DATES[:3], "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0}))
    config = StormConfig(storage=local_storage, features=FeatureConfig(**FEATURES))
    evidence = ingested_evidence(config, DATES[5], DATES[12])
    panel = evidence.panel
    assert evidence.markets == ["AAA", "DDD"] and "3 trading day(s)" in evidence.skipped_markets["EEE"]
    # one quant table for the neural encoder and the boosted member, over the panel's universe: EEE's three days
    # enter neither the equal-weighted index nor anything else
    assert sorted(evidence.quant["market"].unique()) == ["AAA", "DDD"]
    kept = read_prices(layout.store, layout).query("market != 'EEE'")
    pd.testing.assert_frame_equal(evidence.quant, quant_price_features(kept))
    ddd = panel.date[panel.market == "DDD"]
    assert DATES[11] not in ddd and DATES[12] not in ddd and ddd[0] == DATES[3]  # own calendar, window from listing
    # the 5-day label counts DDD's own trading days: from day 8 its next five (9, 10, 13, 14, 15) reach the fall
    assert panel.labels[row_of(panel, "DDD", DATES[8])][0] == 1.0
    assert panel.labels[row_of(panel, "DDD", DATES[7])][0] == 0.0
