"""The product's choice per horizon: the desk's incumbent ships unless a stack or a challenger earns its place on
validation, and the model card says which and why."""

from __future__ import annotations

import numpy as np
import pandas as pd

from storm.desk.members import DeskMembers
from storm.desk.product import ProductModel
from storm.evaluation.metrics import score_column
from storm.evaluation.product import fit_combination
from storm.evaluation.stack import StackSettings
from storm.schema import storm_column
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
