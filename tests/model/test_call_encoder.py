"""call_evidence: readings of each call's pooled sentences (and recordings), decayed over the calls' ages."""

import numpy as np
import pytest
import torch

from storm.config import FeatureConfig, ModelConfig
from storm.features.calls import call_vector_dim
from storm.model import build_model
from storm.model.encoders.calls import CallEvidenceEncoder, calls_encoder_for_panel
from storm.model.registry import CALL_ENCODERS


def inputs(batch=3, slots=2, text_dim=384, n_mels=8, frames=16, calls=True):
    return {
        "call_features": torch.zeros(batch, slots, call_vector_dim(text_dim)),
        "call_age": torch.tensor([[0.1, 0.5]] * batch),
        "call_valid": torch.tensor([[1.0, 1.0 if calls else 0.0]] * batch),
        "audio_stats": torch.zeros(batch, slots, 3 * n_mels),
        "audio_age": torch.zeros(batch, slots),
        "audio_valid": torch.zeros(batch, slots),
    }


def test_call_evidence_is_registered_and_reads_masked_calls_without_nan():
    assert CALL_ENCODERS["call_evidence"] is CallEvidenceEncoder
    encoder = CallEvidenceEncoder(n_mels=8, hidden_dim=16)
    batch = inputs()
    batch["call_features"][:, :, 58:87] = 1.0  # every voice feature undefined: only the masks say so
    out = encoder(batch)
    assert out.shape == (3, 16) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None for p in encoder.read_call.parameters())


def test_a_recent_call_weighs_more_than_an_old_one():
    encoder = CallEvidenceEncoder(n_mels=8, hidden_dim=16, dropout=0.0)
    recent, old = inputs(batch=1, calls=False), inputs(batch=1, calls=False)
    recent["call_features"][0, 0, 0] = old["call_features"][0, 0, 0] = 3.0
    recent["call_age"][0, 0], old["call_age"][0, 0] = 0.0, 1.0
    assert not torch.allclose(encoder(recent), encoder(old))


def test_the_wrong_text_width_names_the_setting():
    encoder = CallEvidenceEncoder(n_mels=8, hidden_dim=16)
    with pytest.raises(ValueError, match="features.text_dim"):
        encoder(inputs(text_dim=16))


def test_call_evidence_is_the_default_when_the_panel_holds_call_tables():
    class Panel:
        call_vector = np.zeros((1, call_vector_dim(384)), dtype=np.float32)

    class Empty:
        call_vector = np.zeros((0, call_vector_dim(384)), dtype=np.float32)

    assert calls_encoder_for_panel("auto", Panel()) == "call_evidence"
    assert calls_encoder_for_panel("auto", Empty()) == "conference_evidence"
    assert calls_encoder_for_panel("conference_evidence", Panel()) == "conference_evidence"  # named: kept
    assert calls_encoder_for_panel("call_sentences", Empty()) == "call_sentences"
    model = build_model(ModelConfig(calls_encoder="call_evidence"), FeatureConfig(n_mels=8), [5, 10])
    assert isinstance(model.encoders["calls"], CallEvidenceEncoder)


def test_training_on_a_panel_with_call_tables_records_call_evidence_in_its_config():
    from storm.config import StormConfig
    from storm.model.encoders.calls import config_for_panel

    class Panel:
        call_vector = np.zeros((2, call_vector_dim(384)), dtype=np.float32)

    config = StormConfig()
    chosen = config_for_panel(config, Panel())
    assert chosen.model.calls_encoder == "call_evidence" and config.model.calls_encoder == "auto"
    explicit = config.with_overrides({"model.calls_encoder": "conference_evidence"})
    assert config_for_panel(explicit, Panel()) is explicit


def test_call_sentences_reads_call_tables_and_ignores_recordings():
    from storm.model.encoders.calls import CallSentencesEncoder

    encoder = CallSentencesEncoder(n_mels=8, hidden_dim=16).eval()
    batch = inputs()
    assert set(encoder.input_keys) == {"call_features", "call_age", "call_valid"}
    with torch.no_grad():
        before = encoder(batch)
        batch["call_features"] = batch["call_features"] + 1.0
        changed = encoder(batch)
        assert not torch.allclose(changed, before)
        batch["audio_stats"], batch["audio_valid"] = batch["audio_stats"] + 1.0, torch.ones_like(batch["audio_valid"])
        assert torch.equal(encoder(batch), changed)
        model = build_model(ModelConfig(calls_encoder="call_sentences"), FeatureConfig(n_mels=8), [5, 10])
    assert isinstance(model.encoders["calls"], CallSentencesEncoder)
