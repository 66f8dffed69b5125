"""The predictor scores windows; ablation variants reuse one encoding and match masking the inputs."""

import numpy as np
import torch

from storm.config import FeatureConfig, ModelConfig
from storm.model import build_model
from storm.published.calibration import fit_calibration
from storm.published.predictor import Predictor
from training_samples import HORIZONS, TINY_FEATURES, TINY_MODEL, batches_of, tiny_panel


def test_variants_from_one_encoding_equal_predicting_with_each_modality_masked():
    torch.manual_seed(0)
    features = FeatureConfig(**TINY_FEATURES)
    panel = tiny_panel(n_markets=1, n_days=60, features=features).panel
    model = build_model(ModelConfig(**TINY_MODEL), features, HORIZONS)
    rng = np.random.default_rng(0)
    calibration = fit_calibration(rng.normal(size=(200, 3)).cumsum(axis=1), (rng.random((200, 3)) < 0.2).astype(float),
                                  HORIZONS, 0.1)
    predictor = Predictor(model, calibration, {"version": "test"}, torch.device("cpu"))
    batch = next(batches_of(panel, np.arange(10, 50), 40))
    variants = predictor.predict_variants(batch, {"fused": [], "masked-news": ["news"], "masked-calls": ["calls"]})
    for name, masked in (("fused", []), ("masked-news", ["news"]), ("masked-calls", ["calls"])):
        alone = predictor.predict(batch, mask_modalities=masked)
        for key, values in alone.items():
            np.testing.assert_allclose(variants[name][key], values, atol=1e-5, err_msg=f"{name} {key}")
    assert np.all(variants["masked-news"]["weight_news"] == 0)


def test_a_model_published_with_0_1_names_is_refused_with_the_new_key_and_what_to_do():
    from types import SimpleNamespace

    import pytest

    from storm.config import ConfigError
    from storm.published.predictor import predictor_from_published

    card = {"run": "demo", "horizons": HORIZONS, "features": FeatureConfig(**TINY_FEATURES).model_dump(mode="json"),
            "model": {**ModelConfig(**TINY_MODEL).model_dump(mode="json"), "modalities": ["text", "image"]}}
    card["model"]["image_encoder"] = card["model"].pop("prices_encoder")
    old = SimpleNamespace(card=card, version="0123abcd", weights={}, calibration=None)
    with pytest.raises(ConfigError) as refused:
        predictor_from_published(old)
    message = str(refused.value)
    assert "model.image_encoder was renamed model.prices_encoder" in message and "'text' is now 'news'" in message
    assert "storm train --run demo --fresh" in message
