"""Ideal readers: decayed means by hand, the grammar reader reads the very headlines generate writes, and the
held-out comparison finds information where it was planted and none where there is none."""

import dataclasses
import json

import numpy as np
import pytest

from storm.config import EvaluationConfig, LabelConfig, StorageConfig, StormConfig, TrainConfig, WorldConfig
from storm.store import Layout, open_store
from storm.worlds import generate_world
from storm.evaluation.information import (GRAMMAR_READER, PRESSURE_READER, PRICE_READER, decayed_mean, held_out_readers,
                                      reader_gains, reader_inputs, written_tone)
from storm.worlds.news import STRESS_EVENTS
from storm.worlds.synthetic import PROFILES, synthetic_world

LABELS = LabelConfig()


def test_decayed_mean_weighs_each_observation_by_its_weight_and_age():
    values = np.array([[1.0, 9.0, 3.0, 5.0]])
    weights = np.array([[0.0, 1.0, 0.0, 2.0]])  # day 0 unseen, day 2 unseen
    result = decayed_mean(values, weights, half_life=1.0)
    assert np.isnan(result[0, 0])
    assert result[0, 1] == pytest.approx(9.0)
    assert result[0, 2] == pytest.approx(9.0)  # nothing new: the mean stays, only its weight decays
    assert result[0, 3] == pytest.approx((0.25 * 9.0 + 2.0 * 5.0) / (0.25 + 2.0))


def test_grammar_reader_counts_the_headlines_generate_writes(tmp_path):
    config = StormConfig(storage=StorageConfig(root=str(tmp_path / "store"))).with_overrides(
        {"world.n_markets": 3, "world.n_days": 70, "world.with_audio": False})
    store = open_store(config.storage)
    generate_world(config, store, progress=False)
    plan = synthetic_world(config.world)
    stress, _, count = written_tone(plan, config.world)
    written = np.zeros(count.shape)
    written_stress = np.zeros(count.shape)
    layout = Layout(store)
    for day, date in enumerate(plan.dates):
        path = layout.news_file(date)
        if not store.exists(path):
            continue
        for line in store.read_text(path).splitlines():
            record = json.loads(line)
            market = plan.markets.index(record["market"])
            written[market, day] += 1
            written_stress[market, day] += any(event in record["headline"] for event in STRESS_EVENTS)
    assert written.sum() > 100
    np.testing.assert_array_equal(count, written)
    np.testing.assert_allclose(stress * count, written_stress)


def gains_at_20_days(news_noise: float, speech_noise: float) -> dict[str, tuple]:
    profile = dataclasses.replace(PROFILES["realistic"], news_daily_noise=news_noise, news_market_bias=0.0,
                                  speech_daily_noise=speech_noise, speech_market_bias=0.0)
    world = WorldConfig(seed=5, n_markets=24, n_days=600)
    plan = synthetic_world(world, profile)
    data = held_out_readers(reader_inputs(plan, world, LABELS), LABELS, TrainConfig())
    results = reader_gains(data, [20], EvaluationConfig(bootstrap_resamples=200))
    return {reader: results[reader][20]["vs_reference"][PRICE_READER]["auroc"] for reader in results}


def test_readers_beat_prices_when_the_press_sees_fragility_clearly():
    gains = gains_at_20_days(news_noise=0.05, speech_noise=0.05)
    for reader in (PRESSURE_READER, GRAMMAR_READER):
        difference, verdict = gains[reader]
        assert verdict == "better", (reader, difference)


def test_readers_add_nothing_when_the_press_sees_only_noise():
    gains = gains_at_20_days(news_noise=40.0, speech_noise=40.0)
    for reader in (PRESSURE_READER, GRAMMAR_READER):
        difference, verdict = gains[reader]
        assert verdict != "better", (reader, difference)
        assert difference.estimate < 0.02, (reader, difference)
