"""`evaluate` through the real trainer and predictor on a tiny hand-written world (1 epoch, real local Ray)."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from storm.config import LabelConfig, StormConfig
from storm.evaluation import evaluate, single_modality_run
from storm.ingest import read_prices
from storm.labels import label_table
from storm.store import Layout, open_store
from storm.training import train

N_DAYS = 150
DATES = list(pd.bdate_range("2019-01-07", periods=N_DAYS).strftime("%Y-%m-%d"))
TINY = {
    "features.image_size": 32, "features.chart_days": 10, "features.n_mels": 16, "features.audio_frames": 32,
    "features.max_headlines": 2, "model.modalities": ["image", "audio"], "model.hidden_dim": 16,
    "train.epochs": 1, "train.num_workers": 1, "train.batch_size": 32, "train.embargo_days": 10,
    "train.validation_fraction": 0.3, "train.test_fraction": 0.35, "labels.horizons": [5, 20],
}


def write_world(layout: Layout) -> None:
    """Two markets of random-walk prices with 15% crashes in training, validation and late in the test period
    (so the test's 20-day labels hold calm days, then a storm); the truth is the storm label itself."""
    for seed, market in enumerate(["AAA", "BBB"]):
        rng = np.random.default_rng(seed)
        returns = rng.standard_normal(N_DAYS) * 0.01
        for crash in (30 + 7 * seed, 68 + 5 * seed, 140 + 3 * seed):
            returns[crash:crash + 4] = -0.045
        close = 100 * np.exp(np.cumsum(returns))
        frame = pd.DataFrame({"date": DATES, "open": close, "high": close * 1.01, "low": close * 0.99, "close": close,
                              "volume": 1e6})
        layout.store.write_table(layout.prices(market), frame)
    labels = label_table(read_prices(layout.store, layout), LabelConfig(horizons=[20]))
    layout.store.write_table(layout.truth_fragility(),
                             labels[["market", "date"]].assign(fragility=labels["storm_20d"].fillna(0.5)))


@pytest.mark.slow
def test_evaluate_scores_the_saved_test_period_against_baselines_and_writes_the_report(ray_cluster, local_storage):
    config = StormConfig(storage=local_storage).with_overrides({**TINY, "train.run_name": "tiny"})
    layout = Layout(open_store(local_storage))
    write_world(layout)
    trained = train(config)

    started = time.perf_counter()
    outcome = evaluate(config, "tiny", skip_single_modality=True)  # 1 training, not 3: the suite runs on 2 cores
    print(f"trained in {trained.seconds:.0f}s, evaluated in {time.perf_counter() - started:.0f}s")
    for table in outcome.tables():
        Console(width=160).print(table)

    report = json.loads(layout.store.read_text(layout.report_file("tiny", "report.json")))
    assert report["periods"]["test"] == {"start": trained.split.test[0], "end": trained.split.test[-1],
                                         "n_dates": len(trained.split.test)}
    models = set(report["metrics"]["20"])
    assert models == {"fused", "trailing_vol", "garch", "oracle"}
    assert report["metrics"]["20"]["fused"]["n_rows"] == report["positives"]["20"]["n_rows"] > 0
    assert set(report["ablation"]["20"]["masked"]) == {"image", "audio"}
    assert set(report["modality_weights"]["all_days"]) == {"text", "image", "audio"}
    assert report["positives"]["20"]["n_positives"] < report["positives"]["20"]["n_rows"]  # both classes in the test
    assert report["metrics"]["20"]["oracle"]["auroc"] == 1.0
    assert report["oracle_gap_auroc"]["20"] == pytest.approx(1.0 - report["metrics"]["20"]["fused"]["auroc"])
    assert report["model_version"] == trained.version
    assert not layout.store.exists(layout.model_dir(single_modality_run("tiny", "image")))
    assert all(layout.store.read_bytes(path).startswith(b"\x89PNG") for path in outcome.plot_paths)
    assert len(outcome.tables()) == 2
