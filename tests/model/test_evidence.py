"""Evidence accumulators: decayed means over the window, what they ignore and what they weigh."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_batches import small_configs
from storm.model.encoders.evidence import (ConferenceEvidenceEncoder, DailyTextEvidenceEncoder, DecayedMeans,
                                           PriceEvidence, window_age)


def numpy_decayed_mean(values: np.ndarray, weights: np.ndarray, age: np.ndarray, half_life: float) -> np.ndarray:
    decayed = weights * 0.5 ** (age / half_life)
    return (decayed[:, None] * values).sum(axis=0) / decayed.sum()


def test_decayed_means_match_an_exponentially_weighted_mean_per_half_life():
    generator = np.random.default_rng(0)
    values, weights = generator.normal(size=(1, 30, 3)), generator.integers(0, 4, size=(1, 30)).astype(float)
    age = np.arange(29, -1, -1, dtype=float)[None, :]
    means, mass = DecayedMeans((5.0, 20.0))(torch.tensor(values).float(), torch.tensor(weights).float(),
                                            torch.tensor(age).float())
    for index, half_life in enumerate((5.0, 20.0)):
        expected = numpy_decayed_mean(values[0], weights[0], age[0], half_life)
        np.testing.assert_allclose(means[0, 3 * index:3 * index + 3].numpy(), expected, rtol=1e-5)
        np.testing.assert_allclose(mass[0, index].item(), np.log1p((weights[0] * 0.5 ** (age[0] / half_life)).sum()),
                                   rtol=1e-5)


def test_a_window_without_weight_gives_zero_means_and_zero_mass_not_nan():
    means, mass = DecayedMeans((5.0,))(torch.randn(2, 10, 4), torch.zeros(2, 10), window_age(torch.ones(2, 10)))
    assert torch.equal(means, torch.zeros(2, 4)) and torch.equal(mass, torch.zeros(2, 1))


def test_a_short_half_life_follows_the_latest_reading_and_a_long_one_the_whole_window():
    values = torch.zeros(1, 60, 1)
    values[0, -1] = 1.0  # only today reads 1
    means, _ = DecayedMeans((0.5, 1e6))(values, torch.ones(1, 60), window_age(torch.ones(1, 60)))
    assert means[0, 0] > 0.7 and means[0, 1] == pytest.approx(1 / 60, rel=1e-3)


def test_text_days_without_headlines_or_before_the_history_do_not_change_the_encoding():
    model_config, features = small_configs()
    encoder = DailyTextEvidenceEncoder(features.text_dim, hidden_dim=8).eval()
    window = features.window_days
    count = torch.tensor([[0.0, 2.0, 0.0, 1.0, 3.0, 1.0]])
    valid = torch.tensor([[0.0, 1.0, 1.0, 1.0, 1.0, 1.0]])
    count = count * valid
    days = torch.randn(1, window, features.text_dim)
    before = encoder({"text_days": days, "text_day_count": count, "day_valid": valid})
    changed = days.clone()
    changed[0, 0] += 5.0  # before the market's history
    changed[0, 2] += 5.0  # a day without news
    after = encoder({"text_days": changed, "text_day_count": count, "day_valid": valid})
    assert torch.allclose(before, after)
    changed[0, 4] += 5.0  # a day with three headlines
    assert not torch.allclose(before, encoder({"text_days": changed, "text_day_count": count, "day_valid": valid}))


def test_price_evidence_reads_only_the_markets_own_history():
    encoder = PriceEvidence(hidden_dim=8).eval()
    valid = torch.tensor([[0.0, 0.0, 1.0, 1.0, 1.0, 1.0]])
    prices = torch.randn(1, 6, 7)
    before = encoder(prices, valid)
    changed = prices.clone()
    changed[0, :2] += 10.0
    assert torch.allclose(before, encoder(changed, valid))
    changed[0, 3] += 10.0
    assert not torch.allclose(before, encoder(changed, valid))


def test_an_invalid_conference_slot_does_not_change_the_encoding_and_a_fresh_call_weighs_more():
    _, features = small_configs()
    encoder = ConferenceEvidenceEncoder(features.n_mels, hidden_dim=8, window_days=features.window_days).eval()
    stats = torch.randn(1, 2, 3 * features.n_mels)
    inputs = {"audio_stats": stats, "audio_age": torch.tensor([[0.1, 0.0]]), "audio_valid": torch.tensor([[1.0, 0.0]])}
    before = encoder(inputs)
    assert torch.allclose(before, encoder({**inputs, "audio_stats": torch.cat([stats[:, :1], stats[:, 1:] + 3.0], dim=1)}))
    fresh = encoder({**inputs, "audio_age": torch.tensor([[0.0, 0.0]])})
    old = encoder({**inputs, "audio_age": torch.tensor([[0.9, 0.0]])})
    assert not torch.allclose(fresh, old)  # the call's age enters through the mass of each half-life
