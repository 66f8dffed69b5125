"""Which epoch and evidence share are kept: mean validation AUROC over horizons with enough storm episodes, else loss."""

import math

import numpy as np

from storm.config import TrainConfig
from storm.training.loop import evidence_weight_choice, horizon_aurocs
from storm.training.selection import SelectionRule, selection_rule

HORIZONS = [5, 10, 20]
NAN = float("nan")


def rule(episodes: dict[int, int], metric: str = "auroc", min_episodes: int = 10) -> SelectionRule:
    return SelectionRule(metric=metric, min_episodes=min_episodes, episodes=episodes)


def test_with_fewer_validation_episodes_than_the_minimum_the_lowest_loss_epoch_is_kept():
    few = rule({5: 1, 10: 2, 20: 3})
    # epoch 0 has the best AUROCs (three episodes' worth of noise), epoch 1 the lowest loss
    epochs = [few.score(loss, aurocs, HORIZONS) for loss, aurocs in ((0.9, [0.9, 0.9, 0.9]), (0.4, [0.5, 0.5, 0.5]))]
    assert min(range(2), key=epochs.__getitem__) == 1
    assert few.criterion() == "validation loss: 3 episodes at most, fewer than 10"


def test_with_enough_episodes_only_the_eligible_horizons_auroc_ranks_epochs():
    some = rule({5: 2, 10: 9, 20: 14})
    assert some.auroc_horizons == [20] and some.criterion() == "auroc over 20d (14 episodes)"
    # epoch 0: better at 5d and 10d (too few episodes there), worse at 20d; epoch 1 the reverse
    epoch_0 = some.score(0.1, [0.95, 0.95, 0.6], HORIZONS)
    epoch_1 = some.score(0.9, [0.50, 0.50, 0.7], HORIZONS)
    assert epoch_1 < epoch_0 and epoch_1 == -0.7


def test_the_loss_metric_always_ranks_by_loss():
    plenty = rule({5: 50, 10: 50, 20: 50}, metric="loss")
    assert plenty.auroc_horizons == [] and plenty.score(0.3, [0.9, 0.9, 0.9], HORIZONS) == 0.3
    assert "loss" in plenty.criterion()


def test_a_validation_block_without_storms_keeps_the_lowest_loss_epoch_not_the_initial_weights():
    calm = rule({5: 0, 10: 0, 20: 0}, min_episodes=1)
    epochs = [calm.score(loss, [NAN, NAN, NAN], HORIZONS) for loss in (0.9, 0.4, 0.6)]
    assert all(math.isfinite(score) for score in epochs)
    assert min(range(3), key=epochs.__getitem__) == 1


def test_episodes_are_counted_per_market_as_runs_of_storm_days():
    markets = np.array(["a"] * 5 + ["b"] * 3)
    labels = np.array([[0, 1], [1, 1], [0, 1], [1, 0], [0, 1],
                       [0, 1], [0, 0], [np.nan, np.nan]])
    counted = selection_rule(markets, labels, [5, 20], TrainConfig(selection_min_episodes=3))
    # 5d: two runs; 20d: days 0-2 and 4 of a, day 0 of b (a run does not continue into the next market)
    assert counted.episodes == {5: 2, 20: 3} and counted.auroc_horizons == [20]
    assert SelectionRule.from_json(counted.to_json()) == counted


def blend_outputs(n: int = 2000) -> dict[str, np.ndarray]:
    """Two horizons: the full model ranks 5d storms worse than the anchor and 20d storms better, and is 8x
    over-confident (its log loss is far worse than the anchor's at both)."""
    rng = np.random.default_rng(0)
    labels = (rng.random((n, 2)) < 0.1).astype(np.float32)
    anchor = np.stack([-2.2 + 1.5 * labels[:, 0] + rng.normal(size=n),
                       -2.2 + 0.5 * labels[:, 1] + rng.normal(size=n)], axis=1)
    full = np.stack([8 * (-0.3 + 0.2 * labels[:, 0] + rng.normal(size=n)),
                     8 * (-0.3 + 1.5 * labels[:, 1] + rng.normal(size=n) * 0.5)], axis=1)
    return {"storm_labels": labels, "anchor_logits": anchor.astype(np.float32), "full_logits": full.astype(np.float32),
            "storm_logits": full.astype(np.float32)}


def test_the_evidence_share_follows_auroc_over_the_eligible_horizons_only():
    outputs = blend_outputs()  # mean AUROC by weight 0, ¼, ½, ¾, 1: 5d .88 .72 .63 .60 .58, 20d .64 .972 .986 .985 .984
    assert evidence_weight_choice(outputs)[0] == 0.25  # every horizon: the best mean
    assert evidence_weight_choice(outputs, auroc_columns=[1])[0] == 0.5  # 20d alone
    assert evidence_weight_choice(outputs, auroc_columns=[0])[0] == 0.0  # 5d alone: prices rank better


def test_without_an_eligible_horizon_the_evidence_share_is_the_one_with_the_lowest_validation_log_loss():
    rng = np.random.default_rng(1)
    labels = (rng.random((2000, 1)) < 0.1).astype(np.float32)
    anchor = 8 * (-0.3 + 1.5 * labels + rng.normal(size=(2000, 1)))  # ranks better, 8x over-confident
    full = -2.2 + 1.0 * labels + rng.normal(size=(2000, 1))          # ranks worse, about calibrated
    outputs = {"storm_labels": labels, "anchor_logits": anchor.astype(np.float32),
               "full_logits": full.astype(np.float32), "storm_logits": full.astype(np.float32)}
    assert evidence_weight_choice(outputs)[0] == 0.75  # by AUROC (.86 .87 .88 .90 .76 for weights 0 .. 1)
    weight, aurocs = evidence_weight_choice(outputs, auroc_columns=[])
    assert weight == 1.0  # by log loss: the calibrated full logits
    np.testing.assert_allclose(aurocs, horizon_aurocs(outputs))
