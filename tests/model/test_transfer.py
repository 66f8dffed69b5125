"""Starting a model from the encoders of one trained on another market set."""

from __future__ import annotations

import torch

from model_batches import HORIZONS, make_batch, mixed_masks, small_configs
from storm.model import build_model, load_encoder_weights


def _pair(**target_overrides):
    model_cfg, features = small_configs()
    torch.manual_seed(1)
    source = build_model(model_cfg, features, HORIZONS)
    target_cfg, target_features = small_configs(**target_overrides)
    torch.manual_seed(2)
    target = build_model(target_cfg, target_features, [5, 20])
    return source, target, target_features


def test_matching_encoder_weights_are_copied_and_fusion_and_heads_are_not():
    source, target, _ = _pair()
    fusion_before = {k: v.clone() for k, v in target.fusion.state_dict().items()}
    report = load_encoder_weights(target, source.state_dict(), freeze=False)
    assert report.loaded and all(key.startswith("encoders.") for key in report.loaded)
    for key in report.loaded:
        assert torch.equal(target.state_dict()[key], source.state_dict()[key])
    assert {key.split(".")[1] for key in report.loaded} == {"news", "prices", "calls"}
    for key, value in target.fusion.state_dict().items():
        assert torch.equal(value, fusion_before[key])
    assert all(p.requires_grad for name, p in target.named_parameters() if not name.startswith("anchor_model."))


def test_frozen_encoders_stay_unchanged_through_a_training_step():
    source, target, features = _pair(modality_dropout=0.0)
    report = load_encoder_weights(target, source.state_dict(), freeze=True)
    assert report.frozen_encoders == ["calls", "news", "prices"]
    encoders_before = {k: v.clone() for k, v in target.encoders.state_dict().items()}  # incl. BatchNorm statistics
    heads_before = {k: v.clone() for k, v in target.heads.state_dict().items()}
    optimizer = torch.optim.SGD([p for p in target.parameters() if p.requires_grad], lr=0.1)
    output = target.train()(make_batch(features, mixed_masks()))
    (output.storm_logits.sum() + output.log_vol.sum()).backward()
    optimizer.step()
    for key, value in target.encoders.state_dict().items():
        assert torch.equal(value, encoders_before[key]), key
    assert any(not torch.equal(v, heads_before[k]) for k, v in target.heads.state_dict().items())


def test_encoders_that_do_not_fit_are_reported_as_skipped_with_the_reason():
    source, target, _ = _pair(modalities=["news", "prices"], hidden_dim=24)
    report = load_encoder_weights(target, source.state_dict(), freeze=True)
    assert any(key.startswith("encoders.calls.") and "not in this model" in reason for key, reason in report.skipped.items())
    assert any("shape" in reason for reason in report.skipped.values())
    assert not any(key.startswith("encoders.calls.") for key in report.loaded)
    loaded_readings = [key for key in report.loaded if key.startswith("encoders.news.read.")]
    assert loaded_readings  # what a day's news reads as does not depend on hidden_dim, so it transfers


def test_state_dict_saved_from_a_ddp_wrapped_model_loads():
    source, target, _ = _pair()
    ddp_style = {f"module.{key}": value for key, value in source.state_dict().items()}
    report = load_encoder_weights(target, ddp_style)
    assert len(report.loaded) == len([k for k in source.state_dict() if k.startswith("encoders.")])
