"""Items against the market's own calm, adding up to their modality, each price item naming the day that drove it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from storm.config import FeatureConfig
from storm.explain.attribution import ItemSources, explain_windows
from storm.explain.item_shapley import item_design
from storm.explain.price_items import CALM_ITEM_KEY
from storm.explain.report import change_lines
from storm.features.calm_reference import calm_reference
from storm.features.price_history import price_inputs
from storm.model import FUSIONS, build_model
from storm.published.calibration import Calibration

sys.path.insert(0, str(Path(__file__).parents[1] / "model"))
from model_batches import HORIZONS, make_batch, small_configs  # noqa: E402

CALIBRATION = Calibration(method="hazard", horizons=HORIZONS, threshold={h: 0.5 for h in HORIZONS},
                          false_alarm_rate=0.05, slope=0.8, intercept={5: -0.3, 10: -0.1, 20: 0.2})


def items_of(explanation, sample: int, modality: str) -> list[int]:
    return [i for i, item in enumerate(explanation.items) if item.sample == sample and item.modality == modality]


@pytest.mark.parametrize("n_items", [1, 3, 7, 12, 30])
def test_item_values_add_up_to_the_full_minus_the_empty_subset_and_recover_an_additive_game(n_items):
    design = item_design(n_items)
    assert design.subsets[0].sum() == 0 and design.subsets[1].all()
    parts = np.random.default_rng(n_items).normal(size=n_items)
    additive = 2.0 + design.subsets @ parts
    assert np.allclose(additive @ design.weights, parts)  # each item's own part, exact or sampled
    game = np.random.default_rng(1).normal(size=len(design.subsets))  # any game: efficiency still holds
    assert abs((game @ design.weights).sum() - (game[1] - game[0])) < 1e-12
    assert design.exact == (n_items <= 7)
    if design.exact:
        assert len(design.subsets) == 2 ** n_items and len(np.unique(design.subsets, axis=0)) == 2 ** n_items


def test_calm_reference_reads_the_markets_own_days_up_to_the_window_start_only():
    readings = np.arange(40, dtype=np.float32).reshape(20, 2)  # two markets of 10 days each
    market = np.repeat(["A", "B"], 10)
    calm = calm_reference(readings, market, np.array([5, 12]), days=4)
    assert np.allclose(calm[0], np.median(readings[2:6], axis=0))  # days 2..5 of A
    assert np.allclose(calm[1], np.median(readings[10:13], axis=0))  # B's own 3 days so far, none of A's
    later = readings.copy()
    later[6:10] = 1e6  # what happens after the window's start changes nothing
    assert np.allclose(calm_reference(later, market, np.array([5]), days=4), calm[:1])


def random_model(fusion: str, seed: int, features: FeatureConfig | None = None):
    torch.manual_seed(seed)
    model_config, small = small_configs(fusion=fusion)
    features = features or small
    return build_model(model_config, features, HORIZONS).eval(), features


def window_headlines(batch, seed: int):
    """Each window's news days split into 1-3 headlines that average back to the day's mean."""
    from storm.explain.attribution import WindowHeadlines

    rng = np.random.default_rng(seed)
    count = batch["text_day_count"].numpy()
    samples, positions, vectors = [], [], []
    for b, d in zip(*np.nonzero(count)):
        n = int(count[b, d])
        parts = rng.normal(size=(n, batch["text_days"].shape[-1])).astype(np.float32)
        parts += batch["text_days"][b, d].numpy() - parts.mean(axis=0)
        samples += [b] * n
        positions += [d] * n
        vectors.append(parts)
    if not samples:
        return WindowHeadlines.empty(batch["text_days"].shape[-1])
    return WindowHeadlines(np.array(samples), np.array(positions), np.concatenate(vectors),
                           np.array([f"headline {i}" for i in range(len(samples))], dtype=object),
                           np.array(["2024-01-02"] * len(samples), dtype=object))


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), fusion=st.sampled_from(sorted(FUSIONS)),
       evidence_weight=st.sampled_from([0.0, 0.5, 1.0]),
       masks=st.lists(st.lists(st.sampled_from([0.0, 1.0]), min_size=3, max_size=3), min_size=1, max_size=4))
def test_every_modalitys_items_add_up_to_its_contribution_for_random_models_and_inputs(seed, fusion, evidence_weight,
                                                                                      masks):
    model, features = random_model(fusion, seed)
    model.evidence_weight.fill_(evidence_weight)
    batch = make_batch(features, masks, seed=seed + 1)
    calm = np.random.default_rng(seed).normal(size=(len(masks), batch["price_days"].shape[-1])).astype(np.float32)
    explanation = explain_windows(model, CALIBRATION, batch,
                                  ItemSources(headlines=window_headlines(batch, seed), price_calm=calm))
    for sample in range(len(masks)):
        for index, modality in enumerate(("news", "prices", "calls")):
            mine = items_of(explanation, sample, modality)
            logit_sum = explanation.item_logit[mine].sum(axis=0) if mine else 0.0
            probability_sum = explanation.item[mine].sum(axis=0) if mine else 0.0
            assert np.abs(logit_sum - explanation.modality_logit[sample, index]).max() < 1e-5, modality
            assert np.abs(probability_sum - explanation.modality[sample, index]).max() < 1e-6, modality


def test_a_market_whose_readings_equal_its_calm_reference_gets_price_item_effects_of_zero():
    model, features = random_model("gated", seed=3)
    batch = make_batch(features, [[1.0, 1.0, 1.0], [0.0, 1.0, 0.0]], seed=4)
    calm = np.random.default_rng(2).normal(size=(2, batch["price_days"].shape[-1])).astype(np.float32)
    batch["price_days"] = torch.as_tensor(calm)[:, None, :].expand_as(batch["price_days"]).clone()
    explanation = explain_windows(model, CALIBRATION, batch, ItemSources(price_calm=calm))
    for sample in (0, 1):
        prices = items_of(explanation, sample, "prices")
        readings = [i for i in prices if explanation.items[i].key != CALM_ITEM_KEY]
        calm_term = [i for i in prices if explanation.items[i].key == CALM_ITEM_KEY]
        assert len(readings) == batch["price_days"].shape[-1] and len(calm_term) == 1
        assert np.abs(explanation.item_logit[readings]).max() == 0.0  # at its calm, no reading moved the score
        # what remains is what the model reads from the market's usual prices: the whole prices contribution
        assert np.allclose(explanation.item_logit[calm_term[0]], explanation.modality_logit[sample, 1], atol=1e-6)


class MovesReader(nn.Module):
    """A prices encoder that has learnt that large daily moves come before storms: it reads the window's mean
    size of daily moves (abs_return) strongly and every other reading's window mean faintly."""

    input_keys = ("price_days", "day_valid")

    def __init__(self, n_readings: int, hidden_dim: int, seed: int) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.faint = torch.randn(n_readings, hidden_dim, generator=generator) * 0.05
        self.strong = torch.randn(hidden_dim, generator=generator)

    def forward(self, inputs):
        valid = inputs["day_valid"].float()
        means = (inputs["price_days"].float() * valid[..., None]).sum(dim=1) / valid.sum(dim=1, keepdim=True)
        return torch.tanh(means @ self.faint + means[:, 1:2] * self.strong)


def shocked_market(days: int = 400, shock_back: int = 10, seed: int = 0) -> pd.DataFrame:
    """A calm market (about 1% a day) that falls 15% in one day ``shock_back`` trading days before its last day."""
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0, 0.01, days)
    returns[days - 1 - shock_back] = np.log(0.85)
    close = 100 * np.exp(np.cumsum(returns))
    dates = pd.bdate_range("2023-01-02", periods=days).strftime("%Y-%m-%d")
    spread = np.abs(rng.normal(0.0, 0.005, days)) + 0.004
    return pd.DataFrame({"market": "QHC", "date": dates, "open": close, "high": close * (1 + spread),
                         "low": close * (1 - spread), "close": close, "volume": rng.integers(9e5, 1.1e6, days)})


def test_a_planted_price_shock_ten_days_before_the_scan_date_is_the_top_price_item_with_its_size_and_date():
    features = FeatureConfig(window_days=30, max_conferences=2, n_mels=16, call_mel_frames=32, chart_size=64)
    model, _ = random_model("concat", seed=9, features=features)
    prices = shocked_market()
    readings = price_inputs(prices)
    last = len(prices) - 1
    window = slice(last - features.window_days + 1, last + 1)
    calm = calm_reference(readings, prices["market"].to_numpy(), np.array([window.start]))
    for encoders in (model.encoders, model.anchor_model.encoders):
        encoders["prices"] = MovesReader(readings.shape[1], model.fusion.hidden_dim, seed=1)
    batch = make_batch(features, [[0.0, 1.0, 0.0]], seed=1)
    batch["price_days"] = torch.as_tensor(readings[window])[None]
    explanation = explain_windows(model, CALIBRATION, batch, ItemSources(
        price_calm=calm, window_dates=prices["date"].to_numpy()[window][None]))

    prices_items = [i for i in items_of(explanation, 0, "prices") if explanation.items[i].key != CALM_ITEM_KEY]
    top = explanation.items[max(prices_items, key=lambda i: abs(explanation.item_logit[i, -1]))]
    shock_date = prices["date"].iloc[last - 10]
    assert top.key == "abs_return" and top.date == shock_date
    assert f"-15.0% on {shock_date}" in top.label, top.label
    assert abs(top.value - (-0.15)) < 1e-4
    everything = items_of(explanation, 0, "prices")
    assert np.abs(explanation.item_logit[everything].sum(axis=0) - explanation.modality_logit[0, 1]).max() < 1e-5


def test_a_call_keeps_its_key_from_one_day_to_the_next_so_it_is_never_listed_as_new_and_gone():
    model, features = random_model("gated", seed=2)
    batch = make_batch(features, [[0.0, 1.0, 1.0], [0.0, 1.0, 1.0]], seed=3)
    batch["audio_valid"] = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    batch["audio_age"] = torch.tensor([[2.0, 0.0], [3.0, 0.0]]) / features.window_days  # a day later, one day older
    explanation = explain_windows(model, CALIBRATION, batch,
                                  ItemSources(call_dates={"audio_valid": [["2024-03-01", ""], ["2024-03-01", ""]]}))
    calls = [explanation.items[i] for sample in (0, 1) for i in items_of(explanation, sample, "calls")]
    assert calls[0].key == calls[1].key == "call of 2024-03-01"

    def table(sample: int, date: str) -> pd.DataFrame:
        from storm.explain.table import sample_rows

        rows = pd.DataFrame(sample_rows(explanation, sample))
        return rows[rows["horizon"] == 20].assign(market="QHC", date=date)

    printed = "\n".join(change_lines(table(1, "2024-03-06"), table(0, "2024-03-05"), "2024-03-05"))
    assert "new in calls" not in printed and "no longer among calls" not in printed
    assert "moved in calls" in printed and "call of 2024-03-01" in printed

