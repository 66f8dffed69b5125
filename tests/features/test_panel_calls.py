"""Per-sentence call tables end to end: imported, ingested (a bad one quarantined), placed in the panel on the right
market-day, gathered into windows and read by the call encoder without a NaN anywhere. Real Ray, real MiniLM."""

import csv

import numpy as np
import pandas as pd
import torch

from storm.config import FeatureConfig, ModelConfig, StormConfig
from storm.features.calls import call_vector_dim
from storm.features.panel import ingested_evidence
from storm.features.windows import WINDOW_INPUT_KEYS, gather_windows
from storm.importing.calls import CallImport, import_call_tables
from storm.ingest.quarantine import read_quarantine
from storm.model import build_model
from storm.model.encoders.calls import calls_encoder_for_panel
from storm.schema import N_PRAAT, PRAAT_COLUMNS
from storm.store import Layout, open_store

DATES = list(pd.bdate_range("2020-01-06", periods=30).strftime("%Y-%m-%d"))  # Monday 6 Jan 2020 onwards
SATURDAY = "2020-01-11"  # between DATES[4] (Fri 10th) and DATES[5] (Mon 13th)
FEATURES = dict(n_mels=16, call_mel_frames=32, window_days=5, max_conferences=2, chart_size=32, chart_days=10)


def write_prices(layout: Layout, market: str) -> None:
    close = 100.0 + np.arange(len(DATES)) * 0.01
    frame = pd.DataFrame({"date": DATES, "open": close, "high": close + 1, "low": close - 1, "close": close,
                          "volume": np.full(len(DATES), 1e6)})
    layout.store.write_table(layout.prices(market), frame)


def write_calls(path) -> None:
    defined = ["120.5"] * N_PRAAT
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["call_id", "date", "ticker", "sent_idx", "text", *PRAAT_COLUMNS])
        writer.writerow(["q4", SATURDAY, "AAA", "0", "Demand weakened sharply this quarter.", *defined])
        writer.writerow(["q4", SATURDAY, "AAA", "1", "We remain cautious.", *(["--undefined--"] * N_PRAAT)])
        writer.writerow(["q1", DATES[6], "BBB", "0", "", *(["--undefined--"] * N_PRAAT)])  # nothing defined at all


def row_of(panel, market: str, date: str) -> int:
    return int(np.flatnonzero((panel.market == market) & (panel.date == date))[0])


def test_an_imported_call_table_reaches_the_panel_on_its_market_day_and_the_model_without_nan(ray_cluster, tmp_path,
                                                                                              local_storage):
    layout = Layout(open_store(local_storage))
    for market in ("AAA", "BBB"):
        write_prices(layout, market)
    write_calls(tmp_path / "calls.csv")
    report = import_call_tables([tmp_path / "calls.csv"], CallImport(name="maec"), layout.store, layout)
    assert report.counts["calls_written"] == 2
    broken = layout.call_table(DATES[7], "BBB", "broken")
    layout.store.write_bytes(broken, b"not parquet")
    config = StormConfig(storage=local_storage, features=FeatureConfig(**FEATURES))

    evidence = ingested_evidence(config, DATES[5], DATES[9])
    panel = evidence.panel

    # the Saturday call counts from Monday; BBB's call from its own day; the broken table is quarantined, not read
    assert panel.call_row.tolist() == [row_of(panel, "AAA", DATES[5]), row_of(panel, "BBB", DATES[6])]
    assert panel.call_vector.shape == (2, call_vector_dim(384)) and np.isfinite(panel.call_vector).all()
    # counted as run_ingest counts: items dated in [start, end] (the Saturday call is dated before the range)
    assert evidence.report.counts["calls"] == {"ok": 1, "quarantined": 1, "missing": 8}
    reasons = [r["reason"] for r in read_quarantine(layout.store, layout, "calls", DATES[7])]
    assert len(reasons) == 1 and reasons[0].startswith("BBB-broken.sentences.parquet: not a readable Parquet file")
    assert evidence.computed["calls"] == 2

    rows = np.array([row_of(panel, "AAA", DATES[4 + d]) for d in range(1, 6)] + [row_of(panel, "BBB", DATES[6])])
    windows = gather_windows(panel, rows)
    assert set(WINDOW_INPUT_KEYS) <= set(windows)
    assert windows["call_valid"][:, 0].tolist() == [1.0] * 6 and windows["modality_mask"][:, 2].all()
    assert all(np.isfinite(np.asarray(windows[key], dtype=np.float32)).all() for key in WINDOW_INPUT_KEYS)
    bbb = windows["call_features"][-1, 0]
    assert (bbb[:2 * N_PRAAT] == 0).all() and (bbb[2 * N_PRAAT:3 * N_PRAAT] == 1).all()  # all undefined: masks

    encoder = calls_encoder_for_panel(config.model.calls_encoder, panel)
    assert encoder == "call_evidence"
    model = build_model(ModelConfig(calls_encoder=encoder), config.features, [5, 10, 20]).eval()
    batch = {key: torch.as_tensor(np.asarray(windows[key], dtype=np.float32)) for key in WINDOW_INPUT_KEYS}
    with torch.no_grad():
        output = model(batch)
    assert torch.isfinite(output.storm_logits).all() and (output.modality_weights[:, 2] > 0).all()

    again = ingested_evidence(config, DATES[5], DATES[9])  # cached: no call is embedded twice
    assert again.computed["calls"] == 0 and np.array_equal(again.panel.call_vector, panel.call_vector)
