"""The report: folds pooled, intervals and verdicts vs fused, per-fold spread, tables at 80 columns, PNGs."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from storm.evaluation.ablation import modality_ablation, modality_weights
from storm.evaluation.plots import reliability_by_horizon_png, reliability_png, score_over_price_png
from storm.evaluation.predictions import batch_predictions, collect_predictions
from storm.config import EvaluationConfig
from storm.evaluation.report import FoldScores, ScoredModel, build_report, render_tables

HORIZONS = [5, 20]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def scored_table(markets=("AAA", "BBB"), n_days=60, noise=0.3, seed=0, first_day=0) -> pd.DataFrame:
    """A predictions table whose score tracks the label with `noise`; one storm episode per market."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2021-01-04", periods=first_day + n_days).strftime("%Y-%m-%d")[first_day:]
    parts = []
    for offset, market in enumerate(markets):
        label = np.zeros(n_days)
        label[20 + offset * 5: 30 + offset * 5] = 1
        table = pd.DataFrame({"market": market, "date": dates})
        for h in HORIZONS:
            score = np.clip(0.2 + 0.6 * label + noise * rng.standard_normal(n_days), 0, 1)
            table[f"score_{h}d"], table[f"alert_{h}d"], table[f"storm_{h}d"] = score, score >= 0.5, label
        table["vol_pred"], table["fwd_log_vol"] = -1.5 + 0.1 * label, -1.5 + 0.2 * label
        for m in ("news", "prices", "calls"):
            table[f"weight_{m}"] = 1 / 3
        parts.append(table)
    return pd.concat(parts, ignore_index=True)


NAMES = ["fused", "only-news", "only-prices", "only-calls", "trail-vol", "garch", "price-logit", "frag-oracle", "ceiling"]


def models(markets=("AAA", "BBB"), n_days=60, first_day=0) -> list[ScoredModel]:
    noise = {"fused": 0.3, "only-news": 0.6, "only-prices": 0.7, "only-calls": 0.8, "trail-vol": 1.2, "garch": 0.9,
             "price-logit": 0.5, "frag-oracle": 0.0, "ceiling": 0.1}
    kinds = {"fused": "fused", "frag-oracle": "oracle", "ceiling": "ceiling", "trail-vol": "baseline", "garch": "baseline",
             "price-logit": "baseline"}
    scored = []
    for seed, name in enumerate(NAMES):
        table = scored_table(markets, n_days, noise[name], seed=seed + 10 * first_day, first_day=first_day)
        probabilistic = {5: False, 20: False} if name == "garch" else {}
        scored.append(ScoredModel(name, kinds.get(name, "single_modality"), table, probabilistic))
    return scored


def folds(n_folds=2, markets=("AAA", "BBB", "CCC", "DDD"), n_days=60) -> list[FoldScores]:
    """Consecutive test blocks of n_days each, each with one storm episode per market."""
    return [FoldScores(models(markets, n_days, first_day=k * n_days), {"test": {"n_dates": n_days}})
            for k in range(n_folds)]


SETTINGS = EvaluationConfig(bootstrap_resamples=100, min_episodes=5)  # the fixture holds 8 episodes


@pytest.fixture(scope="module")
def report():
    return build_report("demo", folds(), HORIZONS, 20, SETTINGS)


def test_report_pools_the_folds_and_gives_every_model_intervals_at_every_horizon(report):
    json.dumps(report, allow_nan=False)  # strict JSON: NaN became null
    assert set(report["headline"]) == {"5", "20"} and list(report["headline"]["20"]) == NAMES
    fused = report["headline"]["20"]["fused"]
    assert fused["n_rows"] == 2 * 4 * 60  # two folds of 4 markets × 60 days
    for name in NAMES:
        auroc = report["headline"]["20"][name]["intervals"]["auroc"]
        assert auroc["low"] <= auroc["estimate"] <= auroc["high"]
    assert report["headline"]["20"]["frag-oracle"]["auroc"] == 1.0
    assert report["headline"]["20"]["garch"]["brier"] is None  # not a probability: no Brier, no ECE
    assert report["headline"]["20"]["garch"]["intervals"]["ece"]["estimate"] is None
    assert report["bootstrap"]["block_days"] == 60 and report["bootstrap"]["n_dates"] == 120


def test_every_other_model_is_compared_with_fused_and_gets_a_verdict(report):
    versus = report["versus_reference"]["20"]
    assert set(versus) == set(NAMES) - {"fused"}
    assert versus["frag-oracle"]["auroc"]["verdict"] == "worse"  # a perfect ranking beats fused
    assert versus["trail-vol"]["auroc"]["verdict"] == "better"
    difference = versus["only-news"]["auroc"]
    pooled = report["headline"]["20"]
    assert difference["estimate"] == pytest.approx(pooled["fused"]["auroc"] - pooled["only-news"]["auroc"])
    assert difference["verdict"] in ("better", "worse", "not distinguishable")


def test_each_fold_keeps_its_own_figures_and_the_spread_spans_them(report):
    assert len(report["folds"]) == 2
    per_fold = [fold["metrics"]["20"]["fused"]["auroc"] for fold in report["folds"]]
    spread = report["fold_spread"]["20"]["fused"]["auroc"]
    assert (spread["min"], spread["max"]) == (min(per_fold), max(per_fold)) and per_fold[0] != per_fold[1]
    assert spread["std"] == pytest.approx(np.std(per_fold, ddof=1)) and spread["n_folds"] == 2


def test_reliability_points_for_probabilities_only_and_the_best_price_baseline(report):
    assert "garch" not in report["reliability"]["20"]
    points = report["reliability"]["20"]["fused"]
    assert len(points["predicted"]) == len(points["observed"]) > 1
    assert report["best_price_baseline"] == "price-logit"  # lowest Brier of the probabilistic baselines


def test_alert_figures_report_episodes_warned_and_false_alarms_per_market_year(report):
    fused = report["headline"]["20"]["fused"]
    assert fused["n_episodes"] == 8 and 0 < fused["n_episodes_warned"] <= 8
    assert fused["false_alarms_per_market_year"] is not None


def test_pooled_figures_use_only_fused_rows_and_a_horizon_uncalibrated_in_one_fold_is_no_probability():
    split_folds = folds()
    extra = split_folds[0].models[4]  # trail-vol scores more rows than fused in fold 0
    extra.predictions = pd.concat([extra.predictions, scored_table(("ZZZ",), 60, 1.2, seed=3)], ignore_index=True)
    split_folds[1].models[4].probabilistic = {20: False}
    report = build_report("demo", split_folds, HORIZONS, 20, SETTINGS)
    trail = report["headline"]["20"]["trail-vol"]
    assert trail["n_rows"] == report["headline"]["20"]["fused"]["n_rows"]
    assert trail["auroc"] == pytest.approx(trail["intervals"]["auroc"]["estimate"])
    assert any("60 rows outside fused" in note for note in report["models"]["trail-vol"]["notes"])
    assert report["models"]["trail-vol"]["probabilistic"] == {"5": True, "20": False}
    assert trail["brier"] is None and report["headline"]["5"]["trail-vol"]["brier"] is not None


def test_overlapping_folds_are_refused():
    one = folds(n_folds=1)
    with pytest.raises(ValueError, match="fold test periods overlap"):
        build_report("demo", one + one, HORIZONS, 20, SETTINGS)


def test_tables_read_whole_at_80_columns(report):
    console = Console(width=80, record=True)
    for table in render_tables(report):
        console.print(table)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    words = set(re.findall(r"[^\s│]+", text))
    for name in NAMES:
        assert name in words, name  # whole, never cut to "price-lo…"
    for heading in ("AUROC", "Brier", "fused − model", "fused is", "PR-AUC", "ECE", "recall", "precision",
                    "false al./mkt-yr", "warned", "lead d", "AUROC min–max", "Brier min–max"):
        assert heading in text, heading
    assert "…" not in text
    oracle_row = next(line for line in text.splitlines() if line.strip().startswith("frag-oracle") and " 20d " in line)
    assert "1.000 [1.00,1.00]" in oracle_row and "worse" in oracle_row


def test_ablation_reports_the_auroc_lost_when_a_modality_is_masked():
    fused = scored_table(noise=0.1)
    without_text = scored_table(noise=2.0, seed=5)
    without_audio = fused.copy()
    ablation = modality_ablation(fused, {"news": without_text, "calls": without_audio}, [20])["20"]
    assert ablation["masked"]["news"]["auroc_drop"] > 0.1
    assert ablation["masked"]["calls"]["auroc_drop"] == 0.0


def test_modality_weights_are_averaged_over_alert_days_and_all_days():
    table = pd.DataFrame({"alert_20d": [True, False, False, True],
                          "weight_news": [0.8, 0.2, 0.2, 0.6], "weight_prices": [0.2, 0.8, 0.8, 0.4],
                          "weight_calls": [0.0, 0.0, 0.0, 0.0]})
    weights = modality_weights(table, 20)
    assert weights["n_alert_days"] == 2
    assert weights["alert_days"]["news"] == pytest.approx(0.7)
    assert weights["all_days"]["news"] == pytest.approx(0.45)


def test_predictions_table_carries_keys_labels_presence_and_every_variant():
    from storm.features.windows import WINDOW_INPUT_KEYS

    batch = {key: np.zeros((2, 1)) for key in WINDOW_INPUT_KEYS}
    batch.update({"market": np.array(["AAA", "AAA"]), "date": np.array(["2021-01-05", "2021-01-04"]),
                  "modality_mask": np.array([[1, 1, 0], [0, 1, 0]], np.float32),
                  "storm_5d": np.array([1.0, np.nan]), "fwd_log_vol": np.array([-1.0, -2.0])})

    def predict(inputs, shift=0.0):
        assert "market" not in inputs  # only model inputs reach the predictor
        return {"score_5d": inputs["modality_mask"][:, 0] * 0.5 + shift, "alert_5d": np.array([True, False])}

    scorers = {"fused": lambda b: {"fused": predict(b), "masked-news": predict(b, 0.1)}}
    tables = collect_predictions([batch], scorers, [5])
    fused = tables["fused"]
    assert fused["date"].tolist() == ["2021-01-04", "2021-01-05"]  # sorted by market, date
    assert fused["present_news"].tolist() == [False, True] and fused["present_prices"].all()
    assert fused["score_5d"].tolist() == [0.0, 0.5] and np.allclose(tables["masked-news"]["score_5d"], [0.1, 0.6])
    assert np.isnan(fused["storm_5d"][0]) and fused["fwd_log_vol"].tolist() == [-2.0, -1.0]
    assert list(batch_predictions(batch, {"score_5d": np.array([0.1, 0.2])}, [5]).columns)[:2] == ["market", "date"]


def test_plots_are_png_images():
    table = scored_table()
    prices = table[["market", "date"]].assign(close=np.linspace(100, 90, len(table)))
    assert score_over_price_png(prices, table, 20, 0.5, ["AAA", "BBB"]).startswith(PNG_MAGIC)
    curves = {"fused": (table["storm_20d"].to_numpy(), table["score_20d"].to_numpy()),
              "calm": (np.zeros(5), np.full(5, 0.1))}  # one class: skipped, not an error
    assert reliability_png(curves, 20).startswith(PNG_MAGIC)


def test_reliability_png_draws_fused_and_the_best_price_baseline_per_horizon(report):
    assert reliability_by_horizon_png(report).startswith(PNG_MAGIC)
    without_baseline = {**report, "best_price_baseline": None}
    assert reliability_by_horizon_png(without_baseline).startswith(PNG_MAGIC)


def test_each_reader_of_the_evidence_is_measured_against_itself_without_it():
    """news_gains: evidence-logit − price-logit and boosted-evidence − boosted, paired, per horizon, with intervals
    and verdicts; a pair one side of which was not evaluated is left out, never filled with another model."""
    def with_readers(k: int, fold: FoldScores, noises: dict[str, float]) -> FoldScores:
        extra = [ScoredModel(name, "baseline", scored_table(("AAA", "BBB", "CCC", "DDD"), 60, noise, seed=100 + seed,
                                                            first_day=60 * k), {})
                 for seed, (name, noise) in enumerate(noises.items())]  # on the fold's own test block
        return FoldScores(fold.models + extra, fold.periods)

    noises = {"evidence-logit": 0.05, "boosted-evidence": 1.5, "boosted": 0.05}
    reading = [with_readers(k, fold, noises) for k, fold in enumerate(folds())]
    report = build_report("demo", reading, HORIZONS, 20, SETTINGS)
    gains = report["news_gains"]
    assert set(gains) == {"evidence-logit − price-logit", "boosted-evidence − boosted"}
    for h in map(str, HORIZONS):
        assert gains["evidence-logit − price-logit"][h]["auroc"]["estimate"] > 0  # 0.05 noise against 0.5
        assert gains["boosted-evidence − boosted"][h]["auroc"]["estimate"] < 0  # 1.5 against 0.05
        low, high = gains["boosted-evidence − boosted"][h]["auroc"]["low"], gains["boosted-evidence − boosted"][h]["auroc"]["high"]
        assert low <= high and gains["boosted-evidence − boosted"][h]["auroc"]["verdict"] == "worse"
    plain = build_report("demo", folds(), HORIZONS, 20, SETTINGS)
    assert plain["news_gains"] == {}
