"""Tiny in-memory sample sets with a planted signal, in the SampleSet shape build_samples returns.

A hidden fragility per (market, day) drives the storm labels and shows, noisily,
in every modality, so a model that learns anything scores above chance on held-out dates.
Imported by this folder's tests as ``training_samples`` (pytest puts this folder on sys.path).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from storm.config import FeatureConfig, ModelConfig, StormConfig
from storm.schema import FWD_VOL, storm_column

HORIZONS = [5, 10, 20]
TINY_FEATURES = dict(text_dim=8, max_headlines=2, image_size=16, n_mels=8, audio_frames=16)
TINY_MODEL = dict(hidden_dim=16, image_encoder="resnet10t", dropout=0.0, modality_dropout=0.1)
STORM_QUANTILE = {5: 0.85, 10: 0.8, 20: 0.75}  # share of calm days per horizon


@dataclass
class TinySamples:
    dataset: object  # ray.data.Dataset
    markets: list[str]
    dates: list[str]
    rows: dict[str, np.ndarray] = field(default_factory=dict)  # the same rows as numpy columns


def tiny_config(storage, **train) -> StormConfig:
    settings = dict(run_name="tiny", num_workers=2, cpus_per_worker=1.0, epochs=4, batch_size=32, learning_rate=5e-3,
                    embargo_days=5, validation_fraction=0.2, test_fraction=0.2, early_stopping_patience=5)
    settings.update(train)
    return StormConfig(storage=storage, features=FeatureConfig(**TINY_FEATURES), model=ModelConfig(**TINY_MODEL),
                       train=settings)


def trading_dates(n_days: int, start: str = "2020-01-01") -> list[str]:
    return [d.strftime("%Y-%m-%d") for d in pd.bdate_range(start, periods=n_days)]


def planted_rows(n_markets: int, n_days: int, features: FeatureConfig, horizons=HORIZONS, seed: int = 0,
                 unknown_tail: int = 5) -> dict[str, np.ndarray]:
    """Numpy columns for every (market, day): SAMPLE_KEYS + labels; the last `unknown_tail` days' labels are NaN."""
    rng = np.random.default_rng(seed)
    dates = trading_dates(n_days)
    n = n_markets * n_days
    fragility = rng.normal(size=n).astype(np.float32)
    noisy = lambda scale: fragility + scale * rng.normal(size=n).astype(np.float32)  # noqa: E731
    text_emb = rng.normal(scale=0.3, size=(n, features.max_headlines, features.text_dim)).astype(np.float32)
    text_emb[:, :, 0] += noisy(0.5)[:, None]
    image = rng.normal(scale=0.3, size=(n, 1, features.image_size, features.image_size)).astype(np.float32)
    image += noisy(0.5)[:, None, None, None]
    audio = rng.normal(scale=0.3, size=(n, features.n_mels, features.audio_frames)).astype(np.float32)
    audio += noisy(0.5)[:, None, None]
    mask = (rng.random((n, 3)) > 0.1).astype(np.float32)
    text_count = np.where(mask[:, 0] > 0, features.max_headlines, 0).astype(np.int32)
    text_emb *= (text_count > 0)[:, None, None]
    day_index = np.tile(np.arange(n_days), n_markets)
    unknown = day_index >= n_days - unknown_tail
    rows = {
        "market": np.repeat([f"M{i}" for i in range(n_markets)], n_days),
        "date": np.array(dates * n_markets),
        "text_emb": text_emb, "text_count": text_count, "image": image, "audio_mel": audio, "modality_mask": mask,
        FWD_VOL: np.where(unknown, np.nan, 0.5 * fragility - 1.5).astype(np.float32),
    }
    risk = noisy(0.4)
    for h in horizons:
        storm = (risk > np.quantile(risk, STORM_QUANTILE[h])).astype(np.float32)
        rows[storm_column(h)] = np.where(unknown, np.nan, storm).astype(np.float32)
    return rows


def tiny_samples(n_markets: int = 4, n_days: int = 120, features: FeatureConfig | None = None, seed: int = 0) -> TinySamples:
    import ray.data

    features = features or FeatureConfig(**TINY_FEATURES)
    rows = planted_rows(n_markets, n_days, features, seed=seed)
    items = [{key: values[i] for key, values in rows.items()} for i in range(len(rows["date"]))]
    return TinySamples(dataset=ray.data.from_items(items, override_num_blocks=4), markets=sorted(set(rows["market"])),
                       dates=sorted(set(rows["date"])), rows=rows)


def batches_of(rows: dict[str, np.ndarray], batch_size: int, keys=None):
    """Numpy batches (torch tensors) over row-aligned columns, for the Ray-free loop tests."""
    import torch

    keys = keys or [k for k in rows if k not in ("market", "date")]
    n = len(rows["date"])
    for start in range(0, n, batch_size):
        yield {key: torch.as_tensor(rows[key][start:start + batch_size]) for key in keys}
