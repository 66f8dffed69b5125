"""The report: every figure per horizon and model, the oracle gap, tables, PNGs written to the store."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from storm.evaluation.ablation import modality_ablation, modality_weights
from storm.evaluation.plots import reliability_png, score_over_price_png
from storm.evaluation.predictions import batch_predictions, collect_predictions
from storm.evaluation.report import ScoredModel, build_report, render_tables
from storm.evaluation.runner import write_outputs
from storm.store import Layout, open_store

HORIZONS = [5, 20]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def scored_table(markets=("AAA", "BBB"), n_days=60, noise=0.3, seed=0) -> pd.DataFrame:
    """A predictions table whose score tracks the label with `noise`; one storm episode per market."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2021-01-04", periods=n_days).strftime("%Y-%m-%d")
    parts = []
    for offset, market in enumerate(markets):
        label = np.zeros(n_days)
        label[20 + offset * 5: 30 + offset * 5] = 1
        table = pd.DataFrame({"market": market, "date": dates})
        for h in HORIZONS:
            score = np.clip(0.2 + 0.6 * label + noise * rng.standard_normal(n_days), 0, 1)
            table[f"score_{h}d"], table[f"alert_{h}d"], table[f"storm_{h}d"] = score, score >= 0.5, label
        table["vol_pred"], table["fwd_log_vol"] = -1.5 + 0.1 * label, -1.5 + 0.2 * label
        for m in ("text", "image", "audio"):
            table[f"weight_{m}"] = 1 / 3
        parts.append(table)
    return pd.concat(parts, ignore_index=True)


def models() -> list[ScoredModel]:
    return [
        ScoredModel("fused", "fused", scored_table(noise=0.3)),
        ScoredModel("only-text", "single_modality", scored_table(noise=0.6, seed=1)),
        ScoredModel("garch", "baseline", scored_table(noise=0.9, seed=2), probabilistic={5: False, 20: False}),
        ScoredModel("oracle", "oracle", scored_table(noise=0.0)),
    ]


def test_report_holds_every_figure_per_horizon_and_the_oracle_gap():
    report = build_report("demo", models(), HORIZONS, 20, {"test": {"start": "2021-01-04", "end": "2021-03-26"}})
    json.dumps(report, allow_nan=False)  # strict JSON: NaN became null
    assert set(report["metrics"]) == {"5", "20"}
    assert set(report["metrics"]["20"]) == {"fused", "only-text", "garch", "oracle"}
    fused, oracle = report["metrics"]["20"]["fused"], report["metrics"]["20"]["oracle"]
    assert oracle["auroc"] == 1.0
    assert report["oracle_gap_auroc"]["20"] == pytest.approx(1.0 - fused["auroc"])
    assert report["metrics"]["20"]["garch"]["brier"] is None  # not a probability: no Brier
    assert report["positives"]["20"] == {"n_rows": 120, "n_positives": 20, "n_episodes": 2}


def test_tables_show_every_model_for_the_main_horizon_and_a_compact_one_for_others():
    report = build_report("demo", models(), HORIZONS, 20, {})
    main, compact = render_tables(report)
    assert "20" in main.title and len(main.columns) == 9 and main.row_count == 4
    assert "5" in compact.title and len(compact.columns) < len(main.columns)


def test_ablation_reports_the_auroc_lost_when_a_modality_is_masked():
    fused = scored_table(noise=0.1)
    without_text = scored_table(noise=2.0, seed=5)
    without_audio = fused.copy()
    ablation = modality_ablation(fused, {"text": without_text, "audio": without_audio}, [20])["20"]
    assert ablation["masked"]["text"]["auroc_drop"] > 0.1
    assert ablation["masked"]["audio"]["auroc_drop"] == 0.0


def test_modality_weights_are_averaged_over_alert_days_and_all_days():
    table = pd.DataFrame({"alert_20d": [True, False, False, True],
                          "weight_text": [0.8, 0.2, 0.2, 0.6], "weight_image": [0.2, 0.8, 0.8, 0.4],
                          "weight_audio": [0.0, 0.0, 0.0, 0.0]})
    weights = modality_weights(table, 20)
    assert weights["n_alert_days"] == 2
    assert weights["alert_days"]["text"] == pytest.approx(0.7)
    assert weights["all_days"]["text"] == pytest.approx(0.45)


def test_predictions_table_carries_keys_labels_presence_and_every_variant():
    batch = {"market": np.array(["AAA", "AAA"]), "date": np.array(["2021-01-05", "2021-01-04"]),
             "text_emb": np.zeros((2, 2, 4)), "text_count": np.array([1, 0]), "image": np.zeros((2, 1, 4, 4)),
             "audio_mel": np.zeros((2, 3, 5)), "modality_mask": np.array([[1, 1, 0], [0, 1, 0]], np.float32),
             "storm_5d": np.array([1.0, np.nan]), "fwd_log_vol": np.array([-1.0, -2.0])}

    def predict(inputs, shift=0.0):
        assert "market" not in inputs  # only model inputs reach the predictor
        return {"score_5d": inputs["modality_mask"][:, 0] * 0.5 + shift, "alert_5d": np.array([True, False])}

    tables = collect_predictions([batch], {"fused": predict, "masked-text": lambda b: predict(b, 0.1)}, [5])
    fused = tables["fused"]
    assert fused["date"].tolist() == ["2021-01-04", "2021-01-05"]  # sorted by market, date
    assert fused["present_text"].tolist() == [False, True] and fused["present_image"].all()
    assert fused["score_5d"].tolist() == [0.0, 0.5] and np.allclose(tables["masked-text"]["score_5d"], [0.1, 0.6])
    assert np.isnan(fused["storm_5d"][0]) and fused["fwd_log_vol"].tolist() == [-2.0, -1.0]
    assert list(batch_predictions(batch, {"score_5d": np.array([0.1, 0.2])}, [5]).columns)[:2] == ["market", "date"]


def test_plots_are_png_images():
    table = scored_table()
    prices = table[["market", "date"]].assign(close=np.linspace(100, 90, len(table)))
    assert score_over_price_png(prices, table, 20, 0.5, ["AAA", "BBB"]).startswith(PNG_MAGIC)
    curves = {"fused": (table["storm_20d"].to_numpy(), table["score_20d"].to_numpy()),
              "calm": (np.zeros(5), np.full(5, 0.1))}  # one class: skipped, not an error
    assert reliability_png(curves, 20).startswith(PNG_MAGIC)


def test_report_json_and_pngs_are_written_under_reports_run(local_storage):
    store = open_store(local_storage)
    layout = Layout(store)
    scored = models()
    report = build_report("demo", scored, HORIZONS, 20, {})
    prices = scored[0].predictions[["market", "date"]].assign(close=100.0)
    report_path, plot_paths = write_outputs(store, layout, "demo", report, scored, prices, {20: 0.5})
    assert report_path == layout.report_file("demo", "report.json")
    written = json.loads(store.read_text(report_path))
    assert written["metrics"]["20"]["oracle"]["auroc"] == 1.0 and written["plots"] == plot_paths
    assert sorted(p.rsplit("/", 1)[-1] for p in plot_paths) == ["reliability_20d.png", "score_over_price_20d.png"]
    assert all(store.read_bytes(p).startswith(PNG_MAGIC) for p in plot_paths)
