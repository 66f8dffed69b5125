"""The news encoder's market-wide wire channel: zeros without a wire, and published models without it load as before."""

import torch

from model_batches import HORIZONS, make_batch, small_configs
from storm.model import build_model
from storm.model.encoders.evidence import DailyTextEvidenceEncoder
from storm.published.predictor import card_model_settings


def test_a_window_without_wire_headlines_reads_the_markets_own_news_as_the_encoder_without_the_wire_does():
    torch.manual_seed(0)
    with_wire, without = DailyTextEvidenceEncoder(32, 16, wire=True).eval(), DailyTextEvidenceEncoder(32, 16).eval()
    without.read.load_state_dict(with_wire.read.state_dict())
    own_columns = without.project[0].in_features  # the own channel's means and mass come first
    with torch.no_grad():
        without.project[0].weight.copy_(with_wire.project[0].weight[:, :own_columns])
        without.project[0].bias.copy_(with_wire.project[0].bias)
    _, features = small_configs()
    batch = make_batch(features.model_copy(update={"text_dim": 32}), [[1, 1, 1]] * 3, wire=True)
    quiet = dict(batch, wire_days=torch.zeros_like(batch["wire_days"]), wire_day_count=torch.zeros_like(batch["wire_day_count"]))
    with torch.no_grad():
        assert torch.allclose(with_wire(quiet), without(quiet), atol=1e-6)
        assert not torch.allclose(with_wire(batch), without(batch), atol=1e-3)  # the wire is read when there is one
    assert with_wire.input_keys[-2:] == ("wire_days", "wire_day_count") and "wire_days" not in without.input_keys


def test_a_card_without_news_wire_builds_the_published_encoder_and_scores_as_before():
    model_cfg, features = small_configs()
    torch.manual_seed(0)
    old = build_model(model_cfg.model_copy(update={"news_wire": False}), features, HORIZONS).eval()
    card = {"model": {key: value for key, value in model_cfg.model_dump(mode="json").items() if key != "news_wire"}}
    rebuilt = build_model(type(model_cfg)(**card_model_settings(card)), features, HORIZONS).eval()
    rebuilt.load_state_dict(old.state_dict())  # strict: the same parameters, the same shapes
    batch = make_batch(features, [[1, 1, 1], [1, 1, 0], [0, 1, 1]], wire=True)
    louder = dict(batch, wire_days=batch["wire_days"] + 1.0, wire_day_count=batch["wire_day_count"] + 2.0)
    with torch.no_grad():
        scores = old(batch).storm_logits
        assert torch.equal(rebuilt(batch).storm_logits, scores) and torch.equal(rebuilt(louder).storm_logits, scores)
    assert build_model(model_cfg, features, HORIZONS).encoders["news"].read_wire is not None  # new models read it
