"""Fusion never below prices: the anchored model scores prices alone beside the full input, blended as validated."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_batches import HORIZONS, make_batch, mixed_masks, small_configs
from storm.model import FUSIONS, build_model
from storm.training.loop import evidence_weight_choice


def _model(**overrides):
    torch.manual_seed(0)
    model_cfg, features = small_configs(**overrides)
    return build_model(model_cfg, features, HORIZONS), features


@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_evidence_weight_zero_scores_exactly_what_the_model_reads_from_prices_alone(fusion):
    model, features = _model(fusion=fusion)
    batch = make_batch(features, [[1, 1, 1]] * 4)
    model.eval()
    model.evidence_weight.fill_(0.0)
    prices_only = dict(batch, modality_mask=torch.tensor([[0.0, 1.0, 0.0]] * 4))
    assert torch.allclose(model(batch).storm_logits, model(prices_only).storm_logits, atol=1e-6)
    model.evidence_weight.fill_(1.0)
    assert not torch.allclose(model(batch).storm_logits, model(prices_only).storm_logits, atol=1e-4)


def test_at_weight_zero_the_fused_model_scores_exactly_as_the_prices_model_it_is_anchored_on():
    """The default anchor is the trained prices-only model, frozen inside: w = 0 gives its very scores."""
    from storm.model import load_anchor_weights
    from storm.model.storm_model import prices_model_config

    fused, features = _model()
    torch.manual_seed(7)
    prices_model = build_model(prices_model_config(small_configs()[0]), features, HORIZONS).eval()
    load_anchor_weights(fused, prices_model.state_dict())
    batch = make_batch(features, [[1, 1, 1], [0, 1, 1], [1, 1, 0], [0, 1, 0]])
    fused.eval().evidence_weight.fill_(0.0)
    assert torch.equal(fused(batch).storm_logits, prices_model(batch).storm_logits)
    fused.evidence_weight.fill_(1.0)
    assert not torch.allclose(fused(batch).storm_logits, prices_model(batch).storm_logits, atol=1e-4)
    without_prices = make_batch(features, [[1, 0, 1]] * 2)  # nothing to anchor on: the full input's score
    fused.evidence_weight.fill_(0.0)
    output = fused(without_prices)
    assert torch.equal(output.storm_logits, output.full_logits)


def test_training_never_moves_the_prices_model_anchor():
    model, features = _model()
    before = {key: value.clone() for key, value in model.anchor_model.state_dict().items()}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    output = model.train()(make_batch(features, mixed_masks()))
    assert output.anchor_logits is None  # nothing of the anchor to fit
    output.storm_logits.sum().backward()
    optimizer.step()
    assert all(torch.equal(before[key], value) for key, value in model.anchor_model.state_dict().items())
    assert not model.anchor_model.training


def test_a_shared_anchor_gives_its_logits_in_training_for_its_own_loss():
    model, features = _model(anchored_fusion="shared")
    assert model.anchor_model is None
    output = model.train()(make_batch(features, mixed_masks()))
    assert output.anchor_logits is not None and output.anchor_logits.shape == output.storm_logits.shape
    assert output.anchor_logits.requires_grad


def test_a_model_without_prices_has_no_anchor():
    model, features = _model(modalities=["news", "calls"])
    assert model.anchor_index is None and model.eval()(make_batch(features, [[1, 0, 1]] * 2)).anchor_logits is None


def test_storm_0_2_cards_saying_true_or_false_keep_the_anchor_they_were_trained_with():
    from storm.config import ModelConfig

    assert ModelConfig(anchored_fusion=True).anchored_fusion == "shared"
    assert ModelConfig(anchored_fusion=False).anchored_fusion == "off"
    assert ModelConfig().anchored_fusion == "prices_model"


def validation(anchor_signal: float, evidence_signal: float, n: int = 400) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = (rng.uniform(size=(n, 1)) < 0.2).astype(np.float32)
    anchor = anchor_signal * labels + rng.normal(size=(n, 1))
    full = anchor + evidence_signal * labels + rng.normal(size=(n, 1)) * 2.0
    return {"storm_labels": labels, "anchor_logits": anchor, "full_logits": full, "storm_logits": full}


def test_validation_chooses_prices_alone_when_the_other_evidence_is_noise():
    weight, aurocs = evidence_weight_choice(validation(anchor_signal=1.5, evidence_signal=0.0))
    assert weight == 0.0 and aurocs[0] > 0.8


def test_validation_keeps_the_evidence_when_it_adds_to_prices():
    weight, _ = evidence_weight_choice(validation(anchor_signal=0.5, evidence_signal=4.0))
    assert weight == 1.0


def test_single_modality_outputs_keep_weight_one():
    outputs = validation(1.0, 0.0)
    del outputs["anchor_logits"]
    assert evidence_weight_choice(outputs)[0] == 1.0
