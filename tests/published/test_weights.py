import torch

from storm.config import FeatureConfig, ModelConfig
from storm.model import build_model
from storm.published.weights import weights_from_bytes, weights_to_bytes, weights_version
from training_samples import HORIZONS, TINY_FEATURES, TINY_MODEL


def test_weights_version_changes_with_weights_and_not_with_serialisation():
    model = build_model(ModelConfig(**TINY_MODEL), FeatureConfig(**TINY_FEATURES), HORIZONS)
    payload = weights_to_bytes(model.state_dict())
    assert weights_version(payload) == weights_version(weights_to_bytes(weights_from_bytes(payload)))
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    assert weights_version(weights_to_bytes(model.state_dict())) != weights_version(payload)


def test_weights_roundtrip_bit_for_bit_through_bytes():
    model = build_model(ModelConfig(**TINY_MODEL), FeatureConfig(**TINY_FEATURES), HORIZONS)
    restored = weights_from_bytes(weights_to_bytes(model.state_dict()))
    assert restored.keys() == model.state_dict().keys()
    assert all(torch.equal(restored[key], value) for key, value in model.state_dict().items())
