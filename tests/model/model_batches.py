"""Tiny model batches: small hidden size, 64x64 charts (the default size), short mel.

Imported by the tests of this folder as ``model_batches`` (pytest puts this folder on sys.path)."""

from __future__ import annotations

import torch

from storm.config import FeatureConfig, ModelConfig

HORIZONS = [5, 10, 20]
SMALL_FEATURES = dict(n_mels=16, audio_frames=32, max_headlines=4, image_size=64)

# MODALITIES order: text, image, audio
MASK_PATTERNS = {
    "all_present": [1, 1, 1],
    "text_only": [1, 0, 0],
    "image_audio": [0, 1, 1],
    "all_missing": [0, 0, 0],
}


def small_configs(**model_overrides) -> tuple[ModelConfig, FeatureConfig]:
    model = ModelConfig(**{"hidden_dim": 16, **model_overrides})
    return model, FeatureConfig(**SMALL_FEATURES)


def make_batch(features: FeatureConfig, masks: list[list[float]], seed: int = 0) -> dict[str, torch.Tensor]:
    """One sample per mask row; text_count follows the text flag (0 headlines when text is missing)."""
    generator = torch.Generator().manual_seed(seed)
    size = len(masks)
    mask = torch.tensor(masks, dtype=torch.float32)
    count = torch.where(mask[:, 0] > 0, torch.randint(1, features.max_headlines + 1, (size,), generator=generator), 0)
    text_emb = torch.randn(size, features.max_headlines, features.text_dim, generator=generator)
    text_emb = text_emb * (torch.arange(features.max_headlines)[None, :] < count[:, None])[..., None]
    return {
        "text_emb": text_emb,
        "text_count": count.to(torch.int32),
        "image": torch.randn(size, 1, features.image_size, features.image_size, generator=generator),
        "audio_mel": torch.randn(size, features.n_mels, features.audio_frames, generator=generator),
        "modality_mask": mask,
    }


def mixed_masks() -> list[list[float]]:
    """Every pattern twice, so each modality is present in several rows (BatchNorm needs >1 in training)."""
    return [pattern for pattern in MASK_PATTERNS.values() for _ in range(2)]
