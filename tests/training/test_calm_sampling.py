"""Calm-day sampling: storm-adjacent rows always trained on, calm rows sampled and weighted so the loss is unbiased."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from storm.config import StormConfig
from storm.training.losses import StormLoss
from storm.training.sampling import epoch_rows, storm_adjacent
from storm.splits import DateSplit
from storm.training.trainer import run_fingerprint


def two_markets(storm_rows_a=(), storm_rows_b=(), days=30):
    """Labels [2 * days, 2] of markets A then B; a storm (at the 20-day horizon only) on the given rows."""
    labels = np.zeros((2 * days, 2), dtype=np.float32)
    labels[-3:, :] = np.nan  # the future is unknown at the end of B
    for row in storm_rows_a:
        labels[row, 1] = 1.0
    for row in storm_rows_b:
        labels[days + row, 1] = 1.0
    market_start = np.repeat([0, days], days)
    return labels, market_start


def test_rows_within_the_margin_of_a_storm_in_the_same_market_are_adjacent_and_no_others():
    labels, market_start = two_markets(storm_rows_a=[29], storm_rows_b=[10])
    adjacent = storm_adjacent(labels, market_start, margin=3)
    assert np.flatnonzero(adjacent[:30]).tolist() == [26, 27, 28, 29]  # A's last day: nothing spills into B
    assert np.flatnonzero(adjacent[30:]).tolist() == [7, 8, 9, 10, 11, 12, 13]
    assert not storm_adjacent(*two_markets(), margin=5).any()  # unknown labels are not storms


def test_without_sampling_an_epoch_is_every_row_once_with_weight_one():
    rows = np.arange(100, 200)
    epoch = epoch_rows(rows, adjacent=None, calm_fraction=1.0, seed=3, epoch=2)
    assert sorted(epoch.rows.tolist()) == rows.tolist() and (epoch.weights == 1).all()
    again = epoch_rows(rows, adjacent=np.ones(100, bool), calm_fraction=1.0, seed=3, epoch=2)
    assert np.array_equal(epoch.rows, again.rows)  # the same seed and epoch give the same order


def test_each_epoch_keeps_every_adjacent_row_and_a_fresh_weighted_share_of_calm_ones():
    rows = np.arange(10_000)
    adjacent = rows % 10 == 0  # 1,000 adjacent, 9,000 calm
    first = epoch_rows(rows, adjacent, calm_fraction=0.2, seed=0, epoch=0)
    second = epoch_rows(rows, adjacent, calm_fraction=0.2, seed=0, epoch=1)
    for epoch in (first, second):
        kept = set(epoch.rows.tolist())
        assert kept >= set(rows[adjacent].tolist())
        calm = epoch.rows % 10 != 0
        assert 1_650 < calm.sum() < 1_950  # 9,000 x 0.2 = 1,800; 5 standard deviations either side
        assert np.allclose(epoch.weights[calm], 5.0) and np.allclose(epoch.weights[~calm], 1.0)
        assert len(kept) == len(epoch.rows)  # no row twice
    assert set(first.rows.tolist()) != set(second.rows.tolist())
    shares = [first.share(rank, 2) for rank in (0, 1)]
    assert len(shares[0].rows) == len(shares[1].rows) == len(first.rows) // 2
    assert not set(shares[0].rows.tolist()) & set(shares[1].rows.tolist())


def test_a_whole_number_weight_counts_a_row_as_often_as_its_weight():
    generator = torch.Generator().manual_seed(0)
    logits, log_vol = torch.randn(6, 2, generator=generator), torch.randn(6, generator=generator)
    storms = torch.tensor([[0, 1], [0, 0], [1, 1], [0, float("nan")], [0, 0], [1, 0]], dtype=torch.float32)
    vols = torch.tensor([0.1, float("nan"), 0.3, 0.2, -0.1, 0.0])
    weights = torch.tensor([1, 3, 1, 2, 1, 5], dtype=torch.float32)
    loss = StormLoss([2.0, 4.0], volatility_weight=0.5)
    repeated = weights.long()
    expanded = [torch.repeat_interleave(tensor, repeated, dim=0) for tensor in (logits, log_vol, storms, vols)]
    weighted, copies = loss(logits, log_vol, storms, vols, weights), loss(*expanded)
    assert weighted.storm.item() == pytest.approx(copies.storm.item(), rel=1e-6)
    assert weighted.volatility.item() == pytest.approx(copies.volatility.item(), rel=1e-6)
    plain = loss(logits, log_vol, storms, vols)
    assert torch.equal(plain.total, loss(logits, log_vol, storms, vols, torch.ones(6)).total)


def test_the_sampled_weighted_loss_is_the_full_loss_on_average():
    rng = np.random.default_rng(1)
    n = 4_000
    labels = (rng.random((n, 1)) < 0.05).astype(np.float32)
    adjacent = storm_adjacent(labels, np.zeros(n, dtype=np.int64), margin=2)
    logits = torch.from_numpy(rng.normal(-2, 1, (n, 1)).astype(np.float32))
    loss = StormLoss([1.0])
    full = loss.storm_term(logits, torch.from_numpy(labels)).item()
    sampled = []
    for epoch in range(200):
        drawn = epoch_rows(np.arange(n), adjacent, calm_fraction=0.1, seed=0, epoch=epoch)
        index = torch.from_numpy(drawn.rows)
        sampled.append(loss.storm_term(logits[index], torch.from_numpy(labels)[index],
                                       torch.from_numpy(drawn.weights)).item())
    assert np.mean(sampled) == pytest.approx(full, rel=0.01)
    assert adjacent.mean() < 0.4  # the draw did skip rows


def test_sampling_changes_a_models_fingerprint_and_leaves_models_trained_on_every_row_alone():
    split = DateSplit(train=["2020-01-02"], validation=["2020-02-03"], test=[], embargo_days=20)
    config = StormConfig()
    every_row = run_fingerprint(config, split, "w")
    assert run_fingerprint(config.with_overrides({"train.storm_margin_days": 5}), split, "w") == every_row
    sampled = config.with_overrides({"train.calm_fraction": 0.25})
    assert run_fingerprint(sampled, split, "w") != every_row
    assert run_fingerprint(sampled.with_overrides({"train.storm_margin_days": 5}), split, "w") != run_fingerprint(
        sampled, split, "w")


def test_epochs_of_sampled_calm_days_still_learn_the_planted_signal():
    from sklearn.metrics import roc_auc_score

    from storm.config import FeatureConfig, ModelConfig
    from storm.model import build_model
    from storm.published.inference import predict
    from storm.training.loop import train_epoch
    from storm.training.worker import weighted_batches
    from training_samples import HORIZONS, TINY_FEATURES, TINY_MODEL, batches_of, tiny_panel

    torch.manual_seed(0)
    features = FeatureConfig(**TINY_FEATURES)
    panel = tiny_panel(n_markets=1, n_days=300, features=features, seed=3).panel
    train_rows, held_out = np.arange(220), np.arange(220, 300)
    adjacent = storm_adjacent(panel.labels, panel.market_start, margin=3)[train_rows]
    model = build_model(ModelConfig(**TINY_MODEL), features, HORIZONS)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    seen = []
    for epoch in range(4):
        drawn = epoch_rows(train_rows, adjacent, calm_fraction=0.3, seed=0, epoch=epoch)
        seen.append(len(drawn.rows))
        train_epoch(model, weighted_batches(panel, drawn, 32), optimizer, StormLoss([1.0] * len(HORIZONS)), HORIZONS)
    outputs = predict(model, batches_of(panel, held_out, 64), HORIZONS)
    known = ~np.isnan(outputs["storm_labels"][:, -1])
    assert max(seen) < len(train_rows)
    assert roc_auc_score(outputs["storm_labels"][known, -1], outputs["storm_logits"][known, -1]) > 0.75
