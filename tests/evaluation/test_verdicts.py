"""Verdicts no per-fold calibration can move: within-fold and cross-sectional AUROC, recomputable from the
predictions file, and no verdict where the test blocks hold too few storms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from sklearn.metrics import roc_auc_score

from storm.config import EvaluationConfig
from storm.evaluation.placement import placement_advice
from storm.evaluation.predictions import long_predictions
from storm.evaluation.report import FoldScores, ScoredModel, build_report, pool_folds, render_tables
from storm.splits import DateSplit

HORIZONS = [5, 20]
MARKETS = [f"M{i:02d}" for i in range(8)]


def fold_table(fold: int, n_days: int, noise: float, seed: int, storms_per_market: int = 2) -> pd.DataFrame:
    """One fold's test block: every market has ``storms_per_market`` runs of storm days; scores track them."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=(fold + 1) * n_days).strftime("%Y-%m-%d")[fold * n_days:]
    parts = []
    for index, market in enumerate(MARKETS):
        label = np.zeros(n_days)
        for storm in range(storms_per_market):
            start = 10 + (index * 7 + storm * 37) % (n_days - 20)
            label[start:start + 6] = 1
        table = pd.DataFrame({"market": market, "date": dates})
        for h in HORIZONS:
            logit = -3 + 1.5 * label + noise * rng.standard_normal(n_days)
            table[f"logit_{h}d"] = logit
            table[f"score_{h}d"] = 1 / (1 + np.exp(-logit))
            table[f"alert_{h}d"] = table[f"score_{h}d"] >= 0.3
            table[f"storm_{h}d"] = label
        parts.append(table)
    return pd.concat(parts, ignore_index=True)


def world(n_folds=3, n_days=80, storms_per_market=2) -> list[FoldScores]:
    folds = []
    for fold in range(n_folds):
        models = [ScoredModel(name, kind, fold_table(fold, n_days, noise, seed=10 * fold + i, storms_per_market=storms_per_market))
                  for i, (name, kind, noise) in enumerate([("fused", "fused", 1.0), ("garch", "baseline", 1.5)])]
        folds.append(FoldScores(models, {"name": f"fold{fold + 1}"}))
    return folds


SETTINGS = EvaluationConfig(bootstrap_resamples=60)


def warped(folds: list[FoldScores], name: str, seed: int) -> list[FoldScores]:
    """The same folds with ``name``'s scores put through a different random strictly increasing map per fold."""
    rng = np.random.default_rng(seed)
    result = []
    for fold in folds:
        models = []
        for model in fold.models:
            table = model.predictions.copy()
            if model.name == name:
                scale, shift, power = rng.uniform(0.2, 5), rng.uniform(-4, 4), rng.uniform(0.3, 3)
                for h in HORIZONS:
                    z = table[f"logit_{h}d"].to_numpy()
                    mapped = scale * np.sign(z) * np.abs(z) ** power + shift
                    table[f"score_{h}d"] = 1 / (1 + np.exp(-mapped / 4))
            models.append(ScoredModel(model.name, model.kind, table, dict(model.probabilistic)))
        result.append(FoldScores(models, fold.periods))
    return result


def test_increasing_maps_per_fold_leave_the_headline_and_every_difference_unchanged_and_move_a_pooled_auroc():
    folds = world()
    before = build_report("r", folds, HORIZONS, 20, SETTINGS)
    changed = warped(folds, "fused", seed=4)
    after = build_report("r", changed, HORIZONS, 20, SETTINGS)
    for h in map(str, HORIZONS):
        for name in ("fused", "garch"):
            for metric in ("auroc", "cross_sectional_auroc", "pr_auc"):
                assert after["headline"][h][name][metric] == pytest.approx(before["headline"][h][name][metric], abs=1e-12)
        for metric in ("auroc", "cross_sectional_auroc", "pr_auc"):
            was, now = before["versus_reference"][h]["garch"][metric], after["versus_reference"][h]["garch"][metric]
            assert (now["estimate"], now["low"], now["high"]) == pytest.approx((was["estimate"], was["low"], was["high"]))
    # a pooled AUROC (every fold's scores ranked together, the old headline) does move
    pooled = {label: roc_auc_score(table["storm_20d"], table["score_20d"])
              for label, table in (("before", _fused(folds)), ("after", _fused(changed)))}
    assert abs(pooled["before"] - pooled["after"]) > 0.01


def _fused(folds: list[FoldScores]) -> pd.DataFrame:
    return next(m for m in pool_folds(folds) if m.name == "fused").predictions


def test_the_headline_is_recomputed_from_the_predictions_file_with_scikit_learn():
    folds = warped(world(), "garch", seed=2)
    report = build_report("r", folds, HORIZONS, 20, SETTINGS)
    predictions = long_predictions({m.name: m.predictions for m in pool_folds(folds)}, HORIZONS)
    for (name, h), rows in predictions.groupby(["model", "horizon"]):
        weighted = pairs = 0.0
        for _, fold in rows.groupby("fold"):
            fold_pairs = fold["label"].sum() * (1 - fold["label"]).sum()
            weighted += roc_auc_score(fold["label"], fold["probability"]) * fold_pairs
            pairs += fold_pairs
        assert report["headline"][str(h)][name]["auroc"] == pytest.approx(weighted / pairs, abs=1e-6)
        per_date = [roc_auc_score(day["label"], day["probability"]) for _, day in rows.groupby("date")
                    if day["label"].nunique() == 2]
        assert report["headline"][str(h)][name]["cross_sectional_auroc"] == pytest.approx(np.mean(per_date), abs=1e-6)
        assert report["headline"][str(h)][name]["intervals"]["auroc"]["estimate"] == pytest.approx(weighted / pairs,
                                                                                                   abs=1e-9)
    assert {"model", "market", "date", "fold", "horizon", "probability", "logit", "alert", "label",
            "episode"} <= set(predictions.columns)
    storm_rows = predictions[(predictions["label"] == 1) & (predictions["model"] == "fused")]
    assert (storm_rows["episode"] != "").all()
    assert storm_rows.groupby("horizon")["episode"].nunique().tolist() == [3 * 8 * 2, 3 * 8 * 2]


def test_too_few_storms_gives_no_verdict_and_says_how_many_episodes():
    folds = world(n_folds=2, storms_per_market=1)  # 2 folds × 8 markets × 1 = 16 episodes per horizon
    judged = build_report("r", folds, HORIZONS, 20, EvaluationConfig(bootstrap_resamples=60, min_episodes=16))
    thin = build_report("r", folds, HORIZONS, 20, EvaluationConfig(bootstrap_resamples=60, min_episodes=17))
    assert judged["storms"]["20"]["n_episodes"] == 16 and judged["storms"]["20"]["judged"]
    assert judged["versus_reference"]["20"]["garch"]["auroc"]["verdict"] != "too few storms"
    assert thin["storms"]["20"]["verdict"] == "too few storms to judge (16 episodes)"
    assert {v["verdict"] for v in thin["versus_reference"]["20"]["garch"].values()} == {"too few storms"}
    console = Console(width=80, record=True)
    for table in render_tables(thin):
        console.print(table)
    text = console.export_text()
    assert "too few storms to judge" in text and "16 episodes" in text
    last_cells = [line.split()[-1] for line in text.splitlines() if line.strip().startswith("garch")]
    assert "few" in last_cells and not {"better", "worse", "n.d."} & set(last_cells)


def test_every_test_episode_lists_each_models_lead_and_its_depth():
    folds = world(n_folds=1)
    first = folds[0].models[0].predictions
    drawdowns = first[["market", "date"]].assign(drawdown_5d=0.12, drawdown_20d=0.15)
    report = build_report("r", folds, HORIZONS, 20, SETTINGS, drawdowns=drawdowns)
    episodes = report["episodes"]["20"]
    assert len(episodes) == report["storms"]["20"]["n_episodes"] == 16
    assert all(e["depth"] == pytest.approx(0.15) and set(e["lead_days"]) == {"fused", "garch"} for e in episodes)
    warned = [e for e in episodes if e["lead_days"]["fused"] is not None]
    assert len(warned) == report["headline"]["20"]["fused"]["n_episodes_warned"]


def test_placement_advice_names_a_warm_up_that_puts_enough_storms_in_the_test_blocks():
    dates = list(pd.bdate_range("2010-01-01", periods=1000).strftime("%Y-%m-%d"))
    label = np.zeros(1000)
    for start in range(50, 1000, 80):  # 12 episodes, most of them early
        label[start:start + 5] = 1
    labels = pd.DataFrame({"market": "IDX", "date": dates, "storm_5d": label})
    splits = [DateSplit(train=dates[:600], validation=dates[620:680], test=dates[700 + 100 * k:800 + 100 * k],
                        embargo_days=20, name=f"fold{k + 1}") for k in range(3)]
    advice = placement_advice(labels, splits, [5], min_episodes=6)["5"]
    assert (advice["test_episodes"], advice["history_episodes"]) == (3, 12)
    assert "train.warmup_fraction=0.50" in advice["advice"]
    assert placement_advice(labels, splits, [5], min_episodes=20)["5"]["advice"].startswith("the whole history holds 12")
