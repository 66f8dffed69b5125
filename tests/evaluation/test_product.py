"""The product's choice per horizon: the desk's incumbent ships unless a stack or a challenger earns its place on
rows no member was selected on, and the model card says which and why."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from storm.desk.members import DeskMembers
from storm.desk.product import ProductModel
from storm.config import StorageConfig
from storm.evaluation.metrics import alert_column, score_column
from storm.evaluation.predictions import long_predictions
from storm.evaluation.product import (fit_combination, out_of_sample_rows, pooled_rows, stacked_product,
                                      stored_out_of_sample)
from storm.evaluation.report import ScoredModel
from storm.evaluation.runner import PREDICTIONS_NAME, REPORT_NAME
from storm.evaluation.stack import StackSettings
from storm.schema import storm_column
from storm.splits import DateSplit
from storm.store import Layout, open_store
from storm.published.calibration import calibration_prior

HORIZONS = [5, 10]
SETTINGS = StackSettings(resamples=200, block_days=20)


def validation_rows(signal_noise: dict[str, float], storms: bool = True, markets=12, dates=300, seed=0) -> pd.DataFrame:
    """Validation rows of one fold: each member's calibrated score is a noisy reading of one persistent risk."""
    rng = np.random.default_rng(seed)
    risk = np.zeros((markets, dates))
    for d in range(dates):
        risk[:, d] = (0.9 * risk[:, d - 1] if d else 0) + 0.44 * rng.standard_normal(markets)
    risk = risk.ravel()
    table = pd.DataFrame({"market": np.repeat([f"M{m}" for m in range(markets)], dates),
                          "date": np.tile([f"2020-{d // 28 + 1:02d}-{d % 28 + 1:02d}" for d in range(dates)], markets),
                          "fold": "final"})
    for i, h in enumerate(HORIZONS):
        chance = 1 / (1 + np.exp(-(-2.2 + 0.3 * i + 1.5 * risk)))
        table[storm_column(h)] = (rng.random(len(risk)) < chance).astype(float) if storms else 0.0
        for member, noise in signal_noise.items():
            reading = risk + noise * rng.standard_normal(len(risk)) + 0.3 * i
            table[f"{member}:{score_column(h)}"] = 1 / (1 + np.exp(-(-2.2 + reading)))
    return table


def fitted(rows: pd.DataFrame, names: list[str]):
    labels = rows[[storm_column(h) for h in HORIZONS]].to_numpy(float)
    prior = calibration_prior(rows["market"].to_numpy(), labels, HORIZONS, 5.0)
    return fit_combination(rows, names, HORIZONS, SETTINGS, [m for m in ("garch", "trail-vol") if m in names], prior, 0.1)


def test_a_challenger_no_better_than_garch_on_validation_leaves_garch_shipping_and_the_card_says_why():
    rows = validation_rows({"garch": 0.6, "fused": 1.5})
    rng = np.random.default_rng(1)
    for h in HORIZONS:  # boosted reads what GARCH reads, with a little noise of its own: nothing to add
        garch = rows[f"garch:{score_column(h)}"]
        rows[f"boosted:{score_column(h)}"] = np.clip(garch * np.exp(0.02 * rng.standard_normal(len(rows))), 0, 1)
    fits, calibration = fitted(rows, ["fused", "garch", "boosted"])
    product = ProductModel(HORIZONS, ["fused", "garch", "boosted"], fits, calibration,
                           DeskMembers(HORIZONS, 20, {}, {}, {}, {}, None))
    card = product.card()
    for h in HORIZONS:
        assert fits[h].shipped == "garch"
        assert card[str(h)]["weights"] == {"garch": 1.0}
        assert "ships" in card[str(h)]["reason"] and "garch ships" in card[str(h)]["reason"]


def test_validation_rows_without_a_storm_ship_the_desks_garch_not_the_neural_model():
    rows = validation_rows({"garch": 0.6, "fused": 0.3}, storms=False)
    fits, _ = fitted(rows, ["fused", "garch"])
    for h in HORIZONS:
        assert fits[h].shipped == "garch"
        assert "cannot fit a stack" in fits[h].reason


def test_complementary_members_ship_as_a_stack_with_their_weights_on_the_card():
    rng = np.random.default_rng(3)
    rows = validation_rows({"garch": 0.7, "fused": 0.7}, markets=16, dates=400)
    # a second, independent risk that only the neural member reads: the stack must beat either member alone
    extra = np.repeat(rng.standard_normal(16), 400) * 1.2
    for i, h in enumerate(HORIZONS):
        logit = np.log(rows[f"fused:{score_column(h)}"]) - np.log1p(-rows[f"fused:{score_column(h)}"])
        rows[f"fused:{score_column(h)}"] = 1 / (1 + np.exp(-(logit * 0.0 + extra - 2.0)))
        base = np.log(rows[f"garch:{score_column(h)}"]) - np.log1p(-rows[f"garch:{score_column(h)}"])
        chance = 1 / (1 + np.exp(-(base + extra)))
        rows[storm_column(h)] = (rng.random(len(rows)) < chance).astype(float)
    fits, _ = fitted(rows, ["fused", "garch"])
    assert any(fits[h].shipped == "stack" for h in HORIZONS)
    for h in HORIZONS:
        if fits[h].shipped == "stack":
            assert fits[h].weights["garch"] > 0 and fits[h].weights["fused"] > 0
            assert fits[h].gain["low"] > 0


def scored_fold(name: str, validation_noise: dict[str, float], test_noise: dict[str, float], seed: int):
    """One fold's candidates: each member's validation and test scores, noisy readings of one persistent risk, the
    noise per block its own (a member chosen on its validation rows reads them better than it reads new ones)."""
    validation = validation_rows(validation_noise, seed=seed)
    test = validation_rows(test_noise, seed=seed + 100).assign(
        date=lambda t: t["date"].str.replace("2020", "2021"))  # the test block comes after the validation block
    models = []
    for member in validation_noise:
        def table(rows):
            kept = rows[["market", "date", *(storm_column(h) for h in HORIZONS)]].copy()
            for h in HORIZONS:
                kept[score_column(h)] = rows[f"{member}:{score_column(h)}"]
                kept[alert_column(h)] = False
            return kept
        models.append(ScoredModel(member, "baseline", table(test), {h: True for h in HORIZONS}, [], table(validation)))
    split = DateSplit(train=["2019-01-01"], validation=sorted(set(validation["date"])), test=sorted(set(test["date"])),
                      embargo_days=0, name=name)
    return split, models


def fold_labels(folds) -> pd.DataFrame:
    return pd.concat([m.validation[["market", "date", *(storm_column(h) for h in HORIZONS)]]
                      for _, models in folds for m in models[:1]], ignore_index=True)


def test_a_fused_member_that_reads_its_own_validation_rows_best_ships_in_no_fold_when_new_rows_say_otherwise():
    """The selection bias: the fused model's epoch was chosen on validation, where it ranks storms far better than
    GARCH; on the next test block it ranks them worse. Fold 1 (no earlier test block) lets only the incumbents
    compete; fold 2 judges every member on fold 1's test rows. GARCH ships in both."""
    folds = [scored_fold(f"fold{k}", {"garch": 0.8, "fused": 0.2}, {"garch": 0.8, "fused": 3.0}, seed=k)
             for k in (1, 2)]
    results = stacked_product(folds, fold_labels(folds), HORIZONS, 0.1, 5.0, SETTINGS)
    (first, first_summary), (second, second_summary) = results
    for h in HORIZONS:
        assert first_summary[str(h)]["shipped"] == "garch" and second_summary[str(h)]["shipped"] == "garch"
        assert "incumbents only" in first_summary[str(h)]["judged_on"]
        assert "test blocks of fold1" in second_summary[str(h)]["judged_on"]
        assert second_summary[str(h)]["member_aurocs"]["fused"] < second_summary[str(h)]["member_aurocs"]["garch"]
    # chosen on validation rows instead, the fused member (or a stack leaning on it) would have shipped
    validation = pooled_rows([(folds[0][0].name, {m.name: m.validation for m in folds[0][1]})], ["garch", "fused"],
                             HORIZONS)
    fits, _ = fitted(validation, ["fused", "garch"])
    assert all(fits[h].shipped != "garch" for h in HORIZONS)


def test_a_member_that_ranks_new_rows_better_earns_its_place_from_the_second_fold_on():
    folds = [scored_fold(f"fold{k}", {"garch": 1.2, "fused": 0.3}, {"garch": 1.2, "fused": 0.3}, seed=10 + k)
             for k in (1, 2)]
    (_, first), (_, second) = stacked_product(folds, fold_labels(folds), HORIZONS, 0.1, 5.0, SETTINGS)
    for h in HORIZONS:
        assert first[str(h)]["shipped"] == "garch"  # fold 1: nothing out of sample yet, so no challenger
        assert second[str(h)]["shipped"] in ("fused", "stack") and second[str(h)]["weights"]["fused"] > 0


def test_the_stored_evaluations_predictions_are_the_out_of_sample_rows_evaluate_hands_to_the_published_stack(tmp_path):
    """storm train after storm evaluate chooses its stack on reports/<run>/predictions.parquet: the same rows, scores
    and labels as the evaluation's folds hand over in one process; another kind of storm's report is not used."""
    folds = [scored_fold(f"fold{k}", {"garch": 0.8, "fused": 0.5}, {"garch": 0.8, "fused": 0.5}, seed=20 + k)
             for k in (1, 2)]
    in_process = out_of_sample_rows([(split.name, models) for split, models in folds], HORIZONS)
    tested = {m.name: pd.concat([fm.predictions.assign(fold=split.name) for split, models in folds
                                 for fm in models if fm.name == m.name], ignore_index=True) for m in folds[0][1]}
    store = open_store(StorageConfig(root=str(tmp_path / "store")))
    layout = Layout(store)
    labels = {"kind": "drawdown", "horizons": HORIZONS}
    store.write_text(layout.report_file("run", REPORT_NAME), json.dumps({"labels": labels}))
    store.write_table(layout.report_file("run", PREDICTIONS_NAME), long_predictions(tested, HORIZONS))
    stored = stored_out_of_sample(store, layout, "run", labels, HORIZONS)
    columns = sorted(in_process.columns)
    keys = ["fold", "market", "date"]
    pd.testing.assert_frame_equal(stored[columns].sort_values(keys, ignore_index=True),
                                  in_process[columns].sort_values(keys, ignore_index=True), check_dtype=False)
    assert stored_out_of_sample(store, layout, "run", {**labels, "kind": "vol_scaled"}, HORIZONS) is None
    assert stored_out_of_sample(store, layout, "other", labels, HORIZONS) is None
