"""Ray plumbing that turns ingested items into cached per-item features, computing only what the cache lacks.

Each source's ingested ``ok`` dataset goes through one ``map_batches`` pass
that keeps the item's keys and computes a feature only for content hashes not
yet cached; the new features are merged into the cache by the driver.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np
import pandas as pd
import ray

from storm.config import FeatureConfig, IngestConfig
from storm.features.audio import audio_features
from storm.features.cache import FeatureCache
from storm.features.calls import call_vector, call_vector_dim
from storm.features.image import chart_tensor
from storm.features.text import TextMemo, embed_texts, embedding_threads, load_text_model, mask_market_name

ITEM_KEYS = {
    "news": ("market", "date", "content_hash", "source_path"),
    "charts": ("market", "date", "content_hash", "source_path"),
    "audio": ("market", "date", "event", "content_hash", "source_path"),
    "calls": ("market", "date", "event", "content_hash", "source_path"),
}
CALLS_PER_BATCH = 8  # a call is ~100 sentences: a batch embeds about as many as 16 news batches
NEWS_BATCHES_PER_CALL = 8  # headlines per actor call = 8 embedding batches, sorted by length among themselves
STREAM_BATCH_ITEMS = 1024  # featurised items the driver takes from Ray Data at a time
CACHE_FLUSH_BYTES = 64 * 2**20  # new features held in the driver before they are merged into the cache
TEXT_MEMO_ITEMS = 50_000  # distinct texts an embedding actor remembers (~77 MB of 384-dim float32)
BatchTransform = Callable[[dict[str, np.ndarray]], np.ndarray]


def featurize_new_items(batch: dict[str, np.ndarray], transform: BatchTransform, cached_hashes: frozenset[str],
                        keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The batch's item keys plus ``feature``: float32 bytes for uncached items, b"" for cached ones."""
    hashes = batch["content_hash"]
    is_new = np.array([str(h) not in cached_hashes for h in hashes], dtype=bool)
    features = np.full(len(hashes), b"", dtype=object)
    if is_new.any():
        computed = transform({name: np.asarray(column)[is_new] for name, column in batch.items()})
        for row, feature in zip(np.flatnonzero(is_new), computed):
            features[row] = np.ascontiguousarray(feature, dtype=np.float32).tobytes()
    return {**{name: np.asarray(batch[name]) for name in keys}, "feature": features}


def chart_batch_tensors(batch: dict[str, np.ndarray], chart_size: int) -> np.ndarray:
    return np.stack([chart_tensor(pixels, chart_size) for pixels in batch["pixels"]])


def audio_batch_mels(batch: dict[str, np.ndarray], sample_rate: int, n_mels: int, frames: int) -> np.ndarray:
    return np.stack([audio_features(wave, sample_rate, n_mels, frames) for wave in batch["waveform"]])


class HeadlineEmbedder:
    """Ray actor: loads MiniLM once, then embeds the uncached headlines of each batch."""

    def __init__(self, features: FeatureConfig, cached_hashes: frozenset[str]):
        self.features = features
        self.cached_hashes = cached_hashes
        self.model = self.tokenizer = None  # loaded on the first uncached headline: a fully cached rerun never loads it
        self.memo = TextMemo(TEXT_MEMO_ITEMS)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return featurize_new_items(batch, self.embed, self.cached_hashes, ITEM_KEYS["news"])

    def embed(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        if self.model is None:
            import torch

            # Ray gives a 1-CPU actor one intra-op thread; embedding is the only heavy work while it runs
            torch.set_num_threads(embedding_threads(self.features))
            self.model, self.tokenizer = load_text_model(self.features)
        texts = [str(headline) for headline in batch["headline"]]
        if self.features.mask_market_names:
            texts = [mask_market_name(text, str(market)) for text, market in zip(texts, batch["market"])]
        return self.memo.embed(texts, lambda unique: embed_texts(self.model, self.tokenizer, unique,
                                                                 self.features.max_text_tokens,
                                                                 self.features.embed_batch_size))


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


def feature_shape(features: FeatureConfig, source: str) -> tuple[int, ...]:
    return {
        "calls": (call_vector_dim(features.text_dim),),
        "news": (features.text_dim,),
        "charts": (1, features.chart_size, features.chart_size),
        "audio": (features.n_mels, features.call_mel_frames),
    }[source]


@dataclass(frozen=True)
class SourceFeatures:
    """What one source contributed: every good item's keys (``items``) and how many features were computed now."""

    items: pd.DataFrame
    computed: int


def featurize(ok: ray.data.Dataset, source: str, cache: FeatureCache, dates: list[str],
              features: FeatureConfig, ingest: IngestConfig, cached: frozenset[str] | None = None) -> SourceFeatures:
    """Run ``ok`` through the source's transform, store the new features in ``cache``; one pass over the data.

    ``cached``: the content hashes ``cache`` holds for ``dates``, when the caller has read them already.
    """
    cached = frozenset(cache.cached_hashes(dates)) if cached is None else cached
    keys = ITEM_KEYS[source]
    if source in ("news", "calls"):
        actor, batch_size = ((HeadlineEmbedder, features.embed_batch_size * NEWS_BATCHES_PER_CALL) if source == "news"
                             else (CallFeaturizer, CALLS_PER_BATCH))
        rows = ok.map_batches(actor, fn_constructor_kwargs={"features": features, "cached_hashes": cached},
                              compute=ray.data.ActorPoolStrategy(size=features.embed_actors),
                              batch_size=batch_size, num_cpus=1, batch_format="numpy")
    else:
        transform = (partial(chart_batch_tensors, chart_size=features.chart_size) if source == "charts" else
                     partial(audio_batch_mels, sample_rate=ingest.audio_sample_rate, n_mels=features.n_mels,
                             frames=features.call_mel_frames))
        rows = ok.map_batches(featurize_new_items, fn_kwargs={"transform": transform, "cached_hashes": cached, "keys": keys},
                              batch_size=16, batch_format="numpy")
    return _store_streamed(rows, source, cache, features)


def _store_streamed(rows: ray.data.Dataset, source: str, cache: FeatureCache, features: FeatureConfig) -> SourceFeatures:
    """Collect the item keys, and move new features into the cache a bounded chunk at a time.

    A cold night of 2,400 markets' charts is ~2.4 GB of float32 features: held whole (and copied on the way to
    parquet) it cost a scan ~11 GiB. Streamed, the driver holds at most ``CACHE_FLUSH_BYTES`` of them.
    """
    shape = feature_shape(features, source)
    keys, pending, pending_bytes, computed = [], [], 0, 0
    for batch in rows.iter_batches(batch_format="pandas", batch_size=STREAM_BATCH_ITEMS):
        is_new = batch["feature"].map(len) > 0
        keys.append(batch.drop(columns="feature"))
        if is_new.any():
            new = batch[is_new]
            pending.append(new.assign(feature=[np.frombuffer(b, dtype=np.float32).reshape(shape) for b in new["feature"]]))
            pending_bytes += int(new["feature"].map(len).sum())
            computed += int(is_new.sum())
        if pending_bytes >= CACHE_FLUSH_BYTES:
            cache.add(pd.concat(pending, ignore_index=True))
            pending, pending_bytes = [], 0
    if pending:
        cache.add(pd.concat(pending, ignore_index=True))
    if not keys:
        return SourceFeatures(items=pd.DataFrame(columns=list(ITEM_KEYS[source])), computed=0)
    return SourceFeatures(items=pd.concat(keys, ignore_index=True), computed=computed)
