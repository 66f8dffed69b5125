"""Tiny windowed model batches: small hidden size, 64x64 charts (the default size), short mel, short window.

Imported by the tests of this folder as ``model_batches`` (pytest puts this folder on sys.path)."""

from __future__ import annotations

import torch

from storm.config import FeatureConfig, ModelConfig
from storm.features.price_history import PRICE_INPUTS

HORIZONS = [5, 10, 20]
SMALL_FEATURES = dict(n_mels=16, call_mel_frames=32, max_headlines=4, chart_size=64, window_days=6, max_conferences=2)
N_PRICE_FEATURES = len(PRICE_INPUTS)  # what the panel holds: daily readings, then engineered features

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


def make_batch(features: FeatureConfig, masks: list[list[float]], seed: int = 0,
               wire: bool = False) -> dict[str, torch.Tensor]:
    """One window per mask row (storm.features.windows keys); a missing modality has no news days / no conferences;
    ``wire``: market-wide headlines on some days of the windows with news (else none)."""
    generator = torch.Generator().manual_seed(seed)
    size, window, slots = len(masks), features.window_days, features.max_conferences
    mask = torch.tensor(masks, dtype=torch.float32)
    day_count = torch.randint(0, 4, (size, window), generator=generator).float() * mask[:, :1]
    day_count[:, -1] = torch.where(mask[:, 0] > 0, torch.clamp(day_count[:, -1], min=1.0), 0.0)
    audio_valid = (torch.rand(size, slots, generator=generator) > 0.3).float() * mask[:, 2:3]
    audio_valid[:, 0] = mask[:, 2]
    batch = {
        "text_days": torch.randn(size, window, features.text_dim, generator=generator) * (day_count > 0)[..., None],
        "text_day_count": day_count,
        "price_days": torch.randn(size, window, N_PRICE_FEATURES, generator=generator),
        "day_valid": torch.ones(size, window),
        "image": torch.randn(size, 1, features.chart_size, features.chart_size, generator=generator),
        "audio_stats": torch.randn(size, slots, 3 * features.n_mels, generator=generator) * audio_valid[..., None],
        "audio_age": torch.rand(size, slots, generator=generator) * audio_valid,
        "audio_valid": audio_valid,
        "modality_mask": mask,
    }
    # drawn last, so the other inputs are those of a seed before the wire existed
    wire_count = torch.randint(0, 3, (size, window), generator=generator).float() * mask[:, :1] * float(wire)
    batch["wire_days"] = torch.randn(size, window, features.text_dim, generator=generator) * (wire_count > 0)[..., None]
    batch["wire_day_count"] = wire_count
    return batch


def mixed_masks() -> list[list[float]]:
    """Every pattern twice, so each modality is present in several rows (BatchNorm needs >1 in training)."""
    return [pattern for pattern in MASK_PATTERNS.values() for _ in range(2)]
