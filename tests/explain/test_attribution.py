"""Attributions that add up, and items whose removal moves the score by exactly their stated effect (no Ray)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from storm.explain.attribution import ItemSources, WindowHeadlines, explain_windows
from storm.explain.items import NEWS_REFERENCE_LABEL
from storm.explain.shapley import COALITIONS, shapley_values
from storm.model import FUSIONS, build_model
from storm.published.calibration import Calibration

sys.path.insert(0, str(Path(__file__).parents[1] / "model"))
from model_batches import HORIZONS, make_batch, small_configs  # noqa: E402

CALIBRATION = Calibration(method="hazard", horizons=HORIZONS, threshold={h: 0.5 for h in HORIZONS},
                          false_alarm_rate=0.05, slope=0.8, intercept={5: -0.3, 10: -0.1, 20: 0.2})


def random_model(fusion: str, seed: int):
    torch.manual_seed(seed)
    model_config, features = small_configs(fusion=fusion)
    return build_model(model_config, features, HORIZONS).eval(), features


def test_shapley_of_an_additive_game_is_each_players_own_part():
    parts = np.array([0.3, -1.2, 2.0])
    values = (COALITIONS * parts).sum(axis=1)[:, None] + 5.0  # v(S) = 5 + sum of parts in S
    assert np.allclose(shapley_values(values)[:, 0], parts)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), fusion=st.sampled_from(sorted(FUSIONS)),
       masks=st.lists(st.lists(st.sampled_from([0.0, 1.0]), min_size=3, max_size=3), min_size=1, max_size=6),
       evidence_weight=st.sampled_from([0.0, 0.25, 0.5, 1.0]))
def test_modality_contributions_sum_to_score_minus_baseline_for_random_models_and_inputs(seed, fusion, masks,
                                                                                         evidence_weight):
    model, features = random_model(fusion, seed)
    model.evidence_weight.fill_(evidence_weight)  # the blend of prices alone and the full input chosen on validation
    batch = make_batch(features, masks, seed=seed + 1)
    explanation = explain_windows(model, CALIBRATION, batch, items=False)
    logit_gap = explanation.score_logit - explanation.baseline_logit
    assert np.abs(explanation.modality_logit.sum(axis=1) - logit_gap).max() < 1e-5
    probability_gap = explanation.score - explanation.baseline
    assert np.abs(explanation.modality.sum(axis=1) - probability_gap).max() < 1e-9
    absent = np.asarray(masks)[:, :, None].repeat(len(HORIZONS), axis=2) == 0
    assert np.abs(explanation.modality_logit[absent]).max(initial=0.0) < 1e-6  # a missing modality explains nothing
    with torch.no_grad():
        direct = model(batch).storm_logits.numpy()
    assert np.abs(explanation.score_logit - direct).max() < 1e-5  # the explained score is the model's score
    with_prices = np.asarray(masks)[:, 1] == 1  # one baseline for the samples scored on prices, one for the rest
    for group in (with_prices, ~with_prices):
        assert np.allclose(explanation.baseline_logit[group], explanation.baseline_logit[group][:1])


def test_a_model_that_reads_prices_alone_credits_nothing_to_news_or_calls_when_prices_are_there():
    model, features = random_model("concat", seed=5)
    assert model.anchor_index is not None
    model.evidence_weight.fill_(0.0)  # validation chose prices alone
    batch = make_batch(features, [[1.0, 1.0, 1.0], [1.0, 0.0, 1.0]], seed=2)
    explanation = explain_windows(model, CALIBRATION, batch, items=False)
    with_prices = explanation.modality_logit[0]
    assert np.abs(with_prices[[0, 2]]).max() < 1e-12  # news and calls cannot move this score
    assert np.allclose(with_prices[1], explanation.score_logit[0] - explanation.baseline_logit[0], atol=1e-6)
    without_prices = explanation.modality_logit[1]  # the model's fallback reads the full input: evidence counts
    assert np.abs(without_prices[[0, 2]]).max() > 1e-4


def window_of_headlines(features, days: list[list[np.ndarray]], seed: int = 3):
    """A one-sample batch whose text is exactly these headlines per window day, and their WindowHeadlines."""
    batch = make_batch(features, [[1.0, 1.0, 1.0]], seed=seed)
    text = torch.zeros_like(batch["text_days"])
    count = torch.zeros_like(batch["text_day_count"])
    rows = []
    for position, day in enumerate(days):
        if day:
            text[0, position] = torch.as_tensor(np.mean(day, axis=0))
            count[0, position] = len(day)
            rows += [(position, vector) for vector in day]
    batch["text_days"], batch["text_day_count"] = text, count
    headlines = WindowHeadlines(
        sample=np.zeros(len(rows), np.int64), position=np.array([p for p, _ in rows], np.int64),
        embedding=np.stack([v for _, v in rows]).astype(np.float32),
        headline=np.array([f"headline {i}" for i in range(len(rows))], dtype=object),
        date=np.array(["2024-01-02"] * len(rows), dtype=object))
    return batch, headlines


def unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def stress_direction(model, batch) -> np.ndarray:
    """What this model reads as stress in the latest day's news: the gradient of its 20-day logit."""
    text = batch["text_days"].clone().requires_grad_(True)
    model({**batch, "text_days": text}).storm_logits[0, -1].backward()
    return unit(text.grad[0, -1].numpy())


@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_a_planted_stressful_headline_raises_the_score_ranks_first_and_the_headlines_add_up_to_news(fusion):
    model, features = random_model(fusion, seed=7)
    rng = np.random.default_rng(0)
    calm_days = [[unit(rng.normal(size=features.text_dim)) for _ in range(rng.integers(1, 4))]
                 for _ in range(features.window_days)]
    calm, calm_headlines = window_of_headlines(features, calm_days)
    stress = stress_direction(model, calm)
    planted_days = [list(day) for day in calm_days]
    planted_days[-1].append(stress)
    planted, planted_headlines = window_of_headlines(features, planted_days)

    before = explain_windows(model, CALIBRATION, calm, ItemSources(headlines=calm_headlines))
    after = explain_windows(model, CALIBRATION, planted, ItemSources(headlines=planted_headlines))
    assert after.score_logit[0, -1] > before.score_logit[0, -1] + 1e-3
    text_items = [i for i, item in enumerate(after.items) if item.modality == "news"]
    headline_items = [i for i in text_items if after.items[i].label != NEWS_REFERENCE_LABEL]
    assert len(headline_items) == len(planted_headlines.sample)  # every headline is an item (the wire is not)
    ranked = sorted(headline_items, key=lambda i: -after.item_logit[i, -1])
    assert after.items[ranked[0]].label == planted_headlines.headline[-1]
    # Shapley within news: the headlines share out exactly the news modality's contribution
    assert np.abs(after.item_logit[text_items].sum(axis=0) - after.modality_logit[0, 0]).max() < 1e-5
    assert np.abs(after.item[text_items].sum(axis=0) - after.modality[0, 0]).max() < 1e-6  # day means recomputed in float32


def test_a_lone_call_carries_its_modalitys_whole_contribution_and_two_calls_share_it():
    model, features = random_model("gated", seed=11)
    batch = make_batch(features, [[1.0, 1.0, 1.0], [0.0, 1.0, 1.0]], seed=5)
    batch["audio_valid"][0] = torch.tensor([1.0, 0.0])  # one call in the first window, two in the second
    batch["audio_valid"][1] = torch.tensor([1.0, 1.0])
    batch["audio_age"] = torch.tensor([[0.1, 0.0], [0.2, 0.5]])
    explanation = explain_windows(model, CALIBRATION, batch)
    for sample, n_calls in ((0, 1), (1, 2)):
        calls = [i for i, item in enumerate(explanation.items) if item.sample == sample and item.modality == "calls"]
        assert len(calls) == n_calls
        assert np.abs(explanation.item_logit[calls].sum(axis=0) - explanation.modality_logit[sample, 2]).max() < 1e-6
    assert {item.modality for item in explanation.items} == {"prices", "calls"}  # no headlines given: no text items


def test_a_call_read_from_its_table_is_named_by_its_date_and_shares_out_the_calls_contribution():
    from storm.features.calls import call_vector_dim

    torch.manual_seed(4)
    model_config, features = small_configs(fusion="gated", calls_encoder="call_sentences")
    model = build_model(model_config, features, HORIZONS).eval()
    batch = make_batch(features, [[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]], seed=9)
    generator = torch.Generator().manual_seed(3)
    batch["call_valid"] = batch.pop("audio_valid")  # the same occupied slots, now call tables
    batch["call_age"] = batch.pop("audio_age")
    batch["call_features"] = torch.randn(2, features.max_conferences, call_vector_dim(features.text_dim),
                                         generator=generator) * batch["call_valid"][..., None]
    dates = [["2024-03-01", "2024-02-01"], ["2024-03-04", "2024-01-10"]]
    explanation = explain_windows(model, CALIBRATION, batch, ItemSources(call_dates={"call_valid": dates}))
    calls = [(index, item) for index, item in enumerate(explanation.items) if item.modality == "calls"]
    assert len(calls) == int(batch["call_valid"].sum())
    for index, item in calls:
        assert item.label == item.key == f"call of {item.date}" and item.date in dates[item.sample]
    for sample in (0, 1):
        mine = [index for index, item in calls if item.sample == sample]
        assert np.abs(explanation.item_logit[mine].sum(axis=0) - explanation.modality_logit[sample, 2]).max() < 1e-6
