"""The fusion model: per-modality encoders, a fusion chosen by name, multi-task heads.

Plain PyTorch, no Ray: ``build_model(config.model, config.features, config.labels.horizons)``.
"""

from storm.model import encoders, fusion  # noqa: F401  (registers every encoder and fusion)
from storm.model.heads import StormHeads
from storm.model.modality_mask import drop_modalities, present_modalities
from storm.model.registry import (
    CALL_ENCODERS,
    ENCODERS,
    FUSIONS,
    NEWS_ENCODERS,
    PRICE_ENCODERS,
    Registry,
    create_encoder,
    create_fusion,
)
from storm.model.storm_model import ModelOutput, StormModel, build_model, load_anchor_weights, needs_prices_model
from storm.model.transfer import TransferReport, load_encoder_weights

__all__ = [
    "build_model", "StormModel", "ModelOutput", "StormHeads",
    "NEWS_ENCODERS", "PRICE_ENCODERS", "CALL_ENCODERS", "ENCODERS", "FUSIONS", "Registry",
    "create_encoder", "create_fusion",
    "load_encoder_weights", "TransferReport", "present_modalities", "drop_modalities", "load_anchor_weights",
    "needs_prices_model",
]
