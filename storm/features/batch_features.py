"""What one Ray Data batch of ingested items becomes: each uncached item's feature, computed in the worker.

No Ray here: storm.features.featurize places these transforms on the cluster (CPU or GPU actors); a GPU check on
a machine without Ray runs the very same objects on batches shaped as Ray Data hands them over.
"""

from __future__ import annotations

import json
from typing import Callable, Literal

import numpy as np

from storm.config import FeatureConfig
from storm.features.audio import audio_features
from storm.features.calls import call_vector
from storm.features.image import chart_tensor
from storm.features.text import (TextMemo, cpu_has_native_bf16, embed_texts, embedding_dtype, embedding_threads,
                                 load_text_model, mask_market_name)

ITEM_KEYS = {
    "news": ("market", "date", "content_hash", "source_path"),
    "wire": ("market", "date", "content_hash", "source_path"),  # market "": every market's (storm.features.wire)
    "charts": ("market", "date", "content_hash", "source_path"),
    "audio": ("market", "date", "event", "content_hash", "source_path"),
    "calls": ("market", "date", "event", "content_hash", "source_path"),
}
NEWS_BATCHES_PER_CALL = 8  # headlines per actor call = 8 encoder batches, sorted by length among themselves
TEXT_MEMO_ITEMS = 50_000  # distinct texts an embedding actor remembers (~77 MB of 384-dim float32)
EmbedDevice = Literal["cpu", "cuda"]
BatchTransform = Callable[[dict[str, np.ndarray]], np.ndarray]


def encoder_batch_size(features: FeatureConfig, device: EmbedDevice) -> int:
    """Texts per encoder step: ``gpu_embed_batch_size`` on a GPU (a GPU idles at the CPU's 64), else ``embed_batch_size``."""
    return features.gpu_embed_batch_size if device == "cuda" else features.embed_batch_size


def featurize_new_items(batch: dict[str, np.ndarray], transform: BatchTransform, cached_hashes: frozenset[str],
                        keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The batch's item keys plus ``feature``: float32 bytes for uncached items, b"" for cached ones."""
    hashes = batch["content_hash"]
    is_new = np.array([str(h) not in cached_hashes for h in hashes], dtype=bool)
    features = np.full(len(hashes), b"", dtype=object)
    if is_new.any():
        computed = np.ascontiguousarray(transform({name: np.asarray(column)[is_new] for name, column in batch.items()}),
                                        dtype=np.float32)
        features[is_new] = [feature.tobytes() for feature in computed]
    return {**{name: np.asarray(batch[name]) for name in keys}, "feature": features}


def chart_batch_tensors(batch: dict[str, np.ndarray], chart_size: int) -> np.ndarray:
    return np.stack([chart_tensor(pixels, chart_size) for pixels in batch["pixels"]])


def audio_batch_mels(batch: dict[str, np.ndarray], sample_rate: int, n_mels: int, frames: int) -> np.ndarray:
    return np.stack([audio_features(wave, sample_rate, n_mels, frames) for wave in batch["waveform"]])


class HeadlineEmbedder:
    """Ray actor: loads MiniLM once, on the CPU or on the GPU Ray gave it, then embeds each batch's uncached headlines.

    On a GPU the encoder reads ``features.gpu_embed_batch_size`` texts a step (a GPU is idle at the CPU's 64);
    tokenising stays on the actor's CPU. ``features.embed_precision`` picks float32 or bfloat16 per actor's hardware.
    """

    def __init__(self, features: FeatureConfig, cached_hashes: frozenset[str], device: EmbedDevice = "cpu"):
        self.features = features
        self.cached_hashes = cached_hashes
        self.device = device
        self.model = self.tokenizer = None  # loaded on the first uncached headline: a fully cached rerun never loads it
        self.memo = TextMemo(TEXT_MEMO_ITEMS)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return featurize_new_items(batch, self.embed, self.cached_hashes, ITEM_KEYS["news"])

    @property
    def encoder_batch_size(self) -> int:
        return encoder_batch_size(self.features, self.device)

    def embed(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        if self.model is None:
            import torch

            if self.device == "cpu":
                # Ray gives a 1-CPU actor one intra-op thread; embedding is the only heavy work while it runs
                torch.set_num_threads(embedding_threads(self.features))
            dtype = embedding_dtype(self.features.embed_precision, self.device, cpu_has_native_bf16())
            self.model, self.tokenizer = load_text_model(self.features, self.device, dtype)
        texts = [str(headline) for headline in batch["headline"]]
        if self.features.mask_market_names:
            texts = [mask_market_name(text, str(market)) for text, market in zip(texts, batch["market"])]
        return self.memo.embed(texts, lambda unique: embed_texts(self.model, self.tokenizer, unique,
                                                                 self.features.max_text_tokens,
                                                                 self.encoder_batch_size))


class CallFeaturizer(HeadlineEmbedder):
    """Ray actor: each uncached call table -> its call vector, transcript sentences embedded like headlines."""

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return featurize_new_items(batch, self.call_vectors, self.cached_hashes, ITEM_KEYS["calls"])

    def call_vectors(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        from storm.ingest.calls import call_acoustics  # storm.ingest imports storm.features: import late

        calls = [json.loads(str(texts)) for texts in batch["texts"]]
        sentences = [(str(market), text) for market, texts in zip(batch["market"], calls) for text in texts if text]
        embedded = self.embed({"headline": np.array([t for _, t in sentences], dtype=object),
                               "market": np.array([m for m, _ in sentences], dtype=object)}) if sentences else None
        vectors, used = [], 0
        for texts, acoustics in zip(calls, batch["acoustics"]):
            n_text = sum(1 for text in texts if text)
            own = embedded[used:used + n_text] if n_text else np.zeros((0, self.features.text_dim), np.float32)
            used += n_text
            vectors.append(call_vector(call_acoustics(bytes(acoustics)), own, n_text, self.features.text_dim))
        return np.stack(vectors)
