"""build_samples end to end on a hand-written tiny store: real Ray, real files, real MiniLM."""

import io
import json
import wave

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from storm.config import FeatureConfig, StormConfig
from storm.features import assemble_sample, build_samples, tensor_columns
from storm.features.image import price_window, rendered_chart_tensor
from storm.store import Layout, open_store

DATES = list(pd.bdate_range("2020-01-06", periods=30).strftime("%Y-%m-%d"))  # Monday 6 Jan 2020 onwards
FEATURES = dict(max_headlines=4, image_size=32, chart_days=10, n_mels=16, audio_frames=32, audio_lookback_days=5,
                news_lookback_days=0)  # same-day news, so a quiet day really has no text


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
    """AAA crashes on day 20; days 5..9 are the range: AAA has news, a chart and a conference on day 3."""
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


def rows_by_key(sample_set) -> dict[tuple[str, str], dict]:
    frame = sample_set.dataset.to_pandas()
    return {(r["market"], r["date"]): r for r in frame.to_dict("records")}


def test_samples_mask_missing_modalities_render_absent_charts_and_carry_labels(ray_cluster, tiny_world):
    config, layout = tiny_world
    samples = build_samples(config, DATES[5], DATES[9])
    assert samples.markets == ["AAA", "BBB"] and samples.dates == DATES[5:10]
    rows = rows_by_key(samples)
    assert len(rows) == 10

    news_day, quiet_day = rows[("AAA", DATES[5])], rows[("BBB", DATES[5])]
    assert news_day["text_count"] == 2 and news_day["modality_mask"].tolist() == [1.0, 1.0, 1.0]
    assert np.allclose(np.linalg.norm(news_day["text_emb"][:2], axis=1), 1.0) and not news_day["text_emb"][2:].any()
    assert quiet_day["text_count"] == 0 and quiet_day["modality_mask"][0] == 0 and not quiet_day["text_emb"].any()

    # BBB has no PNG: its chart is drawn from its prices, and counts as present
    expected = rendered_chart_tensor(price_window(layout.store.read_table(layout.prices("BBB")).to_pandas(), DATES[5], 10), 32)
    np.testing.assert_allclose(quiet_day["image"], expected)
    assert quiet_day["modality_mask"][1] == 1.0

    # the day-3 conference is evidence through day 3 + 5 trading days, not after; BBB never had one
    assert rows[("AAA", DATES[8])]["modality_mask"][2] == 1.0 and rows[("AAA", DATES[8])]["audio_mel"].std() > 0.5
    assert rows[("AAA", DATES[9])]["modality_mask"][2] == 0.0 and not rows[("AAA", DATES[9])]["audio_mel"].any()
    assert quiet_day["modality_mask"][2] == 0.0

    # labels come from the full price history: the day-20 crash is within 20 days of day 9, not within 5
    assert rows[("AAA", DATES[9])]["storm_20d"] == 1.0 and rows[("AAA", DATES[9])]["storm_5d"] == 0.0
    assert rows[("BBB", DATES[9])]["storm_20d"] == 0.0 and np.isfinite(rows[("BBB", DATES[9])]["fwd_log_vol"])

    # report counts as run_ingest does: items dated in range, (market, day) pairs without an item that day
    assert samples.report.counts["text"] == {"ok": 3, "quarantined": 0, "missing": 8}
    assert samples.report.counts["image"] == {"ok": 1, "quarantined": 1, "missing": 9}
    assert any(path.endswith("ingest-image.jsonl") for path in samples.report.quarantine_files)
    assert rows[("BBB", DATES[6])]["modality_mask"][1] == 1.0  # the broken PNG is replaced by a chart from prices
    assert samples.report.counts["audio"] == {"ok": 0, "quarantined": 0, "missing": 10}

    tensors = samples.dataset.select_columns(tensor_columns(config.labels))
    batch = next(iter(tensors.iter_torch_batches(batch_size=4)))
    assert tuple(batch["text_emb"].shape) == (4, 4, 384) and tuple(batch["image"].shape) == (4, 1, 32, 32)
    assert tuple(batch["audio_mel"].shape) == (4, 16, 32) and tuple(batch["modality_mask"].shape) == (4, 3)
    assert batch["storm_20d"].dtype == torch.float32 and batch["text_count"].dtype == torch.int32


def test_rerun_computes_only_new_items(ray_cluster, tiny_world):
    config, layout = tiny_world
    first = build_samples(config, DATES[5], DATES[9])
    assert first.computed == {"text": 3, "image": 1, "audio": 1}
    again = build_samples(config, DATES[5], DATES[9])
    assert again.computed == {"text": 0, "image": 0, "audio": 0}
    write_news(layout, DATES[7], [("BBB", "Exporters rally on weaker currency")], name="late")
    third = build_samples(config, DATES[5], DATES[9])
    assert third.computed == {"text": 1, "image": 0, "audio": 0}
    assert rows_by_key(third)[("BBB", DATES[7])]["text_count"] == 1


@pytest.mark.parametrize("tiny_world", ["local", "s3"], indirect=True)
def test_a_one_day_build_sees_audio_from_its_lookback(ray_cluster, tiny_world):
    config, _ = tiny_world
    one_day = build_samples(config, DATES[7], DATES[7])
    rows = rows_by_key(one_day)
    assert sorted(rows) == [("AAA", DATES[7]), ("BBB", DATES[7])]
    # no news that day, chart drawn from prices, the day-3 conference still within its 5-day look-back
    assert rows[("AAA", DATES[7])]["modality_mask"].tolist() == [0.0, 1.0, 1.0]
    assert rows[("BBB", DATES[7])]["modality_mask"].tolist() == [0.0, 1.0, 0.0]
    assert one_day.dates == [DATES[7]]
    assert one_day.computed == {"text": 0, "image": 0, "audio": 1}  # the look-back conference, nothing else


def test_missing_modalities_are_zeros_with_mask_zero():
    features = FeatureConfig(**FEATURES)
    sample = assemble_sample([], None, None, features)
    assert sample["modality_mask"].tolist() == [0.0, 0.0, 0.0] and sample["text_count"] == 0
    assert not sample["text_emb"].any() and not sample["image"].any() and not sample["audio_mel"].any()
    assert sample["image"].shape == (1, 32, 32) and sample["audio_mel"].shape == (16, 32)
