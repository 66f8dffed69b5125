"""The fusion model: per-modality encoders, a fusion chosen by name, multi-task heads.

Plain PyTorch, no Ray: ``build_model(config.model, config.features, config.labels.horizons)``.
"""

from storm.model import encoders, fusion  # noqa: F401  (registers every encoder and fusion)
from storm.model.heads import StormHeads
from storm.model.modality_mask import drop_modalities, present_modalities
from storm.model.registry import (
    AUDIO_ENCODERS,
    FUSIONS,
    IMAGE_ENCODERS,
    TEXT_ENCODERS,
    Registry,
    create_audio_encoder,
    create_fusion,
    create_image_encoder,
    create_text_encoder,
)
from storm.model.storm_model import ModelOutput, StormModel, build_model
from storm.model.transfer import TransferReport, load_encoder_weights

__all__ = [
    "build_model", "StormModel", "ModelOutput", "StormHeads",
    "TEXT_ENCODERS", "IMAGE_ENCODERS", "AUDIO_ENCODERS", "FUSIONS", "Registry",
    "create_text_encoder", "create_image_encoder", "create_audio_encoder", "create_fusion",
    "load_encoder_weights", "TransferReport", "present_modalities", "drop_modalities",
]
