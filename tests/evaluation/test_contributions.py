"""The evaluation's contributions: each fold model's Shapley values on test rows, summarised storm vs calm with intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
from rich.console import Console

from storm.config import EvaluationConfig
import sys
from pathlib import Path

import pytest
import torch

from storm.evaluation.ablation import contribution_summary, with_contributions
from storm.evaluation.report import render_tables
from storm.explain.attribution import explain_batch, explain_windows
from storm.explain.table import contributions_by_horizon
from storm.features.calls import call_vector_dim
from storm.published.predictor import Predictor

sys.path.insert(0, str(Path(__file__).parents[1] / "model"))
sys.path.insert(0, str(Path(__file__).parents[1] / "explain"))

HORIZONS = [5, 20]
PARTS = {"news": 0.05, "prices": 0.2, "calls": 0.0}  # an additive game: each modality adds its own part on storm days


def contribution_tables(n_days: int = 80) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fused predictions and their contributions for an additive model: each modality adds its part on storm days."""
    dates = pd.bdate_range("2021-01-04", periods=n_days).strftime("%Y-%m-%d")
    keys = pd.DataFrame([(m, d) for m in ("AAA", "BBB", "CCC") for d in dates], columns=["market", "date"])
    storm = ((np.arange(len(keys)) // 10) % 4 == 0).astype(float)
    fused, contributions = keys.copy(), keys.copy()
    for h in HORIZONS:
        fused[f"score_{h}d"] = 0.1 + sum(PARTS.values()) * storm
        fused[f"storm_{h}d"] = storm
        for modality, part in PARTS.items():
            contributions[f"contribution_{modality}_{h}d"] = part * storm
    return fused, contributions


def test_a_fold_models_contributions_are_its_explanations_and_add_up_to_score_minus_baseline():
    from model_batches import HORIZONS as MODEL_HORIZONS, make_batch
    from test_attribution import CALIBRATION, random_model

    model, features = random_model("concat", seed=3)
    model.evidence_weight.fill_(0.25)
    predictor = Predictor(model, CALIBRATION, {"version": "test", "horizons": MODEL_HORIZONS})
    batch = {k: v.numpy() for k, v in make_batch(features, [[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]], seed=4).items()}
    slots = batch["audio_valid"].shape[1]  # no call tables in this window (the recordings carry the calls)
    batch.update(call_features=np.zeros((2, slots, call_vector_dim(features.text_dim)), np.float32),
                 call_age=np.zeros((2, slots), np.float32), call_valid=np.zeros((2, slots), np.float32))
    columns = contributions_by_horizon(explain_batch(predictor, batch, items=False))
    explanation = explain_windows(model, CALIBRATION, {k: torch.as_tensor(v) for k, v in batch.items()}, items=False)
    for index, horizon in enumerate(MODEL_HORIZONS):
        total = sum(columns[f"contribution_{m}_{horizon}d"] for m in ("news", "prices", "calls"))
        assert np.allclose(total, explanation.score[:, index] - explanation.baseline[:, index], atol=1e-9)
    assert np.allclose(columns[f"contribution_calls_{MODEL_HORIZONS[0]}d"][1], 0.0)  # absent on that row


def test_contributions_on_other_rows_are_refused():
    fused, contributions = contribution_tables()
    with pytest.raises(ValueError, match="not on the fused predictions' rows"):
        with_contributions(fused, contributions.iloc[::-1].reset_index(drop=True))


def test_contributions_recover_each_modalitys_part_and_the_summary_separates_storm_from_calm_days():
    fused, contributions = contribution_tables()
    explained = with_contributions(fused, contributions)
    storm = explained["storm_20d"] == 1
    assert np.allclose(explained.loc[storm, "contribution_prices_20d"], 0.2)
    assert np.allclose(explained.loc[~storm, "contribution_prices_20d"], 0.0)
    total = explained[[f"contribution_{m}_5d" for m in PARTS]].sum(axis=1)
    assert np.allclose(total, explained["score_5d"] - 0.1)  # they add up to score - all-masked score
    settings = EvaluationConfig(bootstrap_resamples=100)
    summary = contribution_summary(explained, HORIZONS, settings)
    image = summary["20"]["storm"]["prices"]
    assert abs(image["estimate"] - 0.2) < 1e-9 and image["low"] - 1e-9 <= 0.2 <= image["high"] + 1e-9
    assert summary["20"]["calm"]["prices"]["estimate"] < 1e-12
    assert summary["5"]["storm"]["calls"]["estimate"] < 1e-12


def test_the_report_renders_the_contributions_table_at_80_columns():
    fused, contributions = contribution_tables()
    summary = contribution_summary(with_contributions(fused, contributions), HORIZONS,
                                   EvaluationConfig(bootstrap_resamples=50))
    from storm.evaluation.report import _contributions_table

    console = Console(width=80, record=True, color_system=None)
    console.print(_contributions_table({"modality_contributions": summary}))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any(line.strip().startswith("prices") and "20d" in line for line in lines)
    assert render_tables.__doc__  # the table joins render_tables when a report carries contributions
