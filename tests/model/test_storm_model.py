"""StormModel end to end on tiny batches, for every fusion and several missing-modality patterns."""

from __future__ import annotations

import pytest
import torch

from model_batches import HORIZONS, MASK_PATTERNS, make_batch, mixed_masks, small_configs
from storm.features.price_history import PRICE_FEATURES
from storm.model import CALL_ENCODERS, FUSIONS, NEWS_ENCODERS, build_model, create_encoder, create_fusion
from storm.schema import MODALITIES


def _model(**overrides):
    torch.manual_seed(0)
    model_cfg, features = small_configs(**overrides)
    return build_model(model_cfg, features, HORIZONS), features


@pytest.mark.parametrize("pattern", list(MASK_PATTERNS.values()), ids=list(MASK_PATTERNS))
@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_forward_gives_finite_outputs_and_weights_only_on_present_modalities(fusion, pattern):
    model, features = _model(fusion=fusion)
    batch = make_batch(features, [pattern] * 3)
    output = model.eval()(batch)
    assert output.storm_logits.shape == (3, len(HORIZONS))
    assert output.log_vol.shape == (3,)
    assert output.modality_weights.shape == (3, 3)
    for tensor in (output.storm_logits, output.log_vol, output.modality_weights):
        assert torch.isfinite(tensor).all()
    missing = batch["modality_mask"] == 0
    assert (output.modality_weights[missing] == 0).all()
    assert torch.allclose(output.modality_weights.sum(dim=1), torch.full((3,), 1.0 if any(pattern) else 0.0), atol=1e-6)


@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_training_step_sends_gradients_to_every_built_encoder(fusion):
    model, features = _model(fusion=fusion, modality_dropout=0.0)
    output = model.train()(make_batch(features, mixed_masks()))
    assert torch.isfinite(output.storm_logits).all()
    (output.storm_logits.sum() + output.log_vol.sum()).backward()
    for name, encoder in model.encoders.items():
        grads = [p.grad for p in encoder.parameters() if p.requires_grad]
        assert all(g is not None for g in grads), f"{name} has parameters without gradient"
        assert sum(g.abs().sum() for g in grads) > 0, f"{name} got only zero gradients"


def test_encoder_without_any_present_sample_still_joins_the_graph_for_ddp():
    model, features = _model(modality_dropout=0.0)
    output = model.train()(make_batch(features, [[1, 1, 0], [1, 1, 0]]))
    output.storm_logits.sum().backward()
    assert all(p.grad is not None for p in model.encoders["calls"].parameters())


@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_inputs_of_missing_modalities_do_not_change_the_output(fusion):
    model, features = _model(fusion=fusion)
    model.eval()
    batch = make_batch(features, mixed_masks())
    missing = batch["modality_mask"] == 0
    changed = dict(batch)
    for column, key in enumerate(("text_days", "image", "audio_stats")):
        noise = torch.randn_like(batch[key]) * missing[:, column].reshape(-1, *[1] * (batch[key].dim() - 1))
        changed[key] = batch[key] + noise
    assert torch.allclose(model(batch).storm_logits, model(changed).storm_logits, atol=1e-6)


def test_modality_dropout_is_off_in_eval_and_never_empties_a_sample_in_train():
    model, features = _model(modality_dropout=0.9)
    batch = make_batch(features, [[1, 1, 1]] * 32)
    assert torch.equal(model.eval()(batch).modality_mask, batch["modality_mask"])
    torch.manual_seed(5)
    used = model.train()(batch).modality_mask
    assert (used.sum(dim=1) >= 1).all()
    assert (used.sum(dim=1) < 3).any()


@pytest.mark.parametrize("modality", MODALITIES)
def test_single_modality_model_builds_one_encoder_and_ignores_other_inputs(modality):
    model, features = _model(modalities=[modality])
    model.eval()
    assert list(model.encoders) == [modality]
    batch = make_batch(features, [[1, 1, 1]] * 4)
    changed = make_batch(features, [[1, 1, 1]] * 4, seed=99)
    for key in model.encoders[modality].input_keys:
        changed[key] = batch[key]
    output = model(batch)
    assert torch.equal(output.storm_logits, model(changed).storm_logits)
    expected = torch.tensor([float(m == modality) for m in MODALITIES]).expand(4, 3)
    assert torch.equal(output.modality_weights, expected)


def test_single_modality_model_does_not_need_the_other_modalities_keys():
    model, features = _model(modalities=["calls"])
    batch = make_batch(features, [[0, 0, 1]] * 2)
    keys = ("audio_stats", "audio_age", "audio_valid", "modality_mask")
    output = model.eval()({key: batch[key] for key in keys})
    assert torch.isfinite(output.storm_logits).all()


def test_unknown_component_names_say_what_is_registered():
    with pytest.raises(KeyError, match="concat"):
        create_fusion("sum", hidden_dim=8)
    with pytest.raises(KeyError, match=r"model.prices_encoder: .*chart_evidence, price_evidence"):
        create_encoder("prices", "not_a_cnn", hidden_dim=8)
    with pytest.raises(KeyError, match="model.chart_backbone 'not_a_cnn' is not a timm model name"):
        create_encoder("prices", "chart_evidence", {"model_name": "not_a_cnn"}, hidden_dim=8)


@pytest.mark.parametrize("name", ["resnet10t", "mobilenetv3_small_050", "lcnet_050"])
def test_chart_evidence_reads_one_channel_charts_through_any_timm_backbone(name):
    encoder = create_encoder("prices", "chart_evidence", {"model_name": name}, hidden_dim=16, dropout=0.0).eval()
    inputs = {"image": torch.randn(2, 1, 64, 64), "price_days": torch.randn(2, 6, len(PRICE_FEATURES)), "day_valid": torch.ones(2, 6)}
    assert encoder(inputs).shape == (2, 16)


def test_window_days_before_a_markets_history_do_not_change_the_output():
    model, features = _model()
    model.eval()
    batch = make_batch(features, [[1, 1, 1]] * 3)
    batch["day_valid"][:, :2] = 0.0
    batch["text_day_count"][:, :2] = 0.0
    changed = {key: value.clone() for key, value in batch.items()}
    changed["price_days"][:, :2] += 5.0
    changed["text_days"][:, :2] += 5.0
    assert torch.allclose(model(batch).storm_logits, model(changed).storm_logits, atol=1e-5)


def test_older_evidence_in_the_window_changes_the_score():
    model, features = _model()
    model.eval()
    batch = make_batch(features, [[1, 1, 1]] * 3)
    changed = {key: value.clone() for key, value in batch.items()}
    changed["text_days"][:, 0] += 1.0
    changed["text_day_count"][:, 0] = 3.0
    assert not torch.allclose(model(batch).storm_logits, model(changed).storm_logits)


def test_registries_hold_the_configured_default_names():
    from storm.config import ModelConfig

    from storm.model.encoders.calls import calls_encoder_for_panel

    defaults = ModelConfig()
    assert defaults.news_encoder in NEWS_ENCODERS and calls_encoder_for_panel(defaults.calls_encoder, None) in CALL_ENCODERS
    assert {"concat", "gated", "attention"} <= set(FUSIONS)


def test_an_optional_setting_reaches_only_the_encoders_whose_constructor_takes_it():
    from storm.model.registry import Registry

    registry = Registry("test encoder")

    @registry.register("windowed")
    class Windowed(torch.nn.Module):
        def __init__(self, hidden_dim: int, window_days: int = 1) -> None:
            super().__init__()
            self.window_days = window_days

    @registry.register("plain")
    class Plain(torch.nn.Module):
        def __init__(self, hidden_dim: int) -> None:
            super().__init__()

    assert registry.create("windowed", {"window_days": 60}, hidden_dim=8).window_days == 60
    assert isinstance(registry.create("plain", {"window_days": 60}, hidden_dim=8), Plain)
    with pytest.raises(TypeError):  # a required setting is never dropped silently
        registry.create("plain", hidden_dim=8, window_days=60)


@pytest.mark.parametrize("prices_encoder", ["price_evidence", "chart_evidence"])
@pytest.mark.parametrize("calls_encoder", ["conference_evidence", "call_evidence"])
def test_every_prices_and_calls_encoder_builds_from_the_same_config(prices_encoder, calls_encoder):
    model, features = small_configs(prices_encoder=prices_encoder, calls_encoder=calls_encoder)
    built = build_model(model, features, HORIZONS)
    assert ("backbone" in dict(built.encoders["prices"].named_modules()) or
            any(name.endswith("chart.backbone") for name, _ in built.encoders["prices"].named_modules())) \
        == (prices_encoder != "price_evidence")


def test_the_prices_encoder_reads_the_engineered_features_unless_the_card_says_daily():
    from storm.features.price_history import PRICE_INPUTS
    from storm.published.predictor import card_model_settings

    (engineered, features), (daily, _) = _model(modalities=["prices"]), _model(**card_model_settings({"model": {
        "modalities": ["prices"]}}))
    batch = make_batch(features, [[1, 1, 1]] * 2)
    changed = dict(batch, price_days=batch["price_days"].clone())
    changed["price_days"][:, -1, len(PRICE_FEATURES):] += 3.0  # only the engineered columns of the last day
    with torch.no_grad():
        assert not torch.allclose(engineered.eval()(batch).storm_logits, engineered(changed).storm_logits)
        assert torch.equal(daily.eval()(batch).storm_logits, daily(changed).storm_logits)
    assert batch["price_days"].shape[-1] == len(PRICE_INPUTS)
