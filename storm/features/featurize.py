"""Ray plumbing that turns ingested items into cached per-item features, computing only what the cache lacks.

Each source's ingested ``ok`` dataset goes through one ``map_batches`` pass
that keeps the item's keys and computes a feature only for content hashes not
yet cached; the new features are merged into the cache by the driver.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import ray

from storm.config import FeatureConfig, IngestConfig
from storm.features.batch_features import (ITEM_KEYS, NEWS_BATCHES_PER_CALL, CallFeaturizer, EmbedDevice,
                                           HeadlineEmbedder, audio_batch_mels, chart_batch_tensors,
                                           encoder_batch_size, featurize_new_items)
from storm.features.cache import FeatureCache
from storm.ingest.readers import TASK_RETRIES
from storm.features.calls import call_vector_dim

CALLS_PER_BATCH = 8  # a call is ~100 sentences: a batch embeds about as many as 16 news batches
STREAM_BATCH_ITEMS = 1024  # featurised items the driver takes from Ray Data at a time
CACHE_FLUSH_BYTES = 64 * 2**20  # new features held in the driver before they are merged into the cache


@dataclass(frozen=True)
class EmbeddingPlacement:
    """Where the text-embedding actors run: how many, what each asks Ray for, and the torch device they use."""

    actors: int
    num_cpus: float
    num_gpus: float
    device: EmbedDevice


def embedding_placement(features: FeatureConfig, cluster_gpus: float, cluster_cpus: float) -> EmbeddingPlacement:
    """``features.embed_device`` resolved against the cluster's GPUs and CPUs.

    "auto" embeds on GPUs when the cluster has any. A GPU outruns one actor's tokeniser (an H200 encodes ~54k
    headlines/s, one process tokenises ~19k/s), so ``gpu_embed_actors_per_gpu`` actors share each GPU, each with
    a CPU to tokenise on; together they take at most half the cluster's CPUs (reading and the other stages keep
    theirs), and never fewer than one per GPU. "cuda" on a cluster without GPUs is a configuration error, not a
    silent CPU run.
    """
    wants_gpu = features.embed_device == "cuda" or (features.embed_device == "auto" and cluster_gpus > 0)
    if not wants_gpu:
        return EmbeddingPlacement(features.embed_actors, 1, 0, "cpu")
    if cluster_gpus <= 0:
        raise ValueError("features.embed_device is 'cuda' but the Ray cluster has no GPUs; "
                         "use 'auto' or 'cpu', or start Ray with GPUs")
    wanted = max(features.embed_actors, int(cluster_gpus * features.gpu_embed_actors_per_gpu))
    actors = max(int(math.ceil(cluster_gpus)), min(wanted, int(cluster_cpus) // 2))
    return EmbeddingPlacement(actors, 1, min(1.0, cluster_gpus / actors), "cuda")


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
        resources = ray.cluster_resources()
        placement = embedding_placement(features, resources.get("GPU", 0), resources.get("CPU", 1))
        actor, batch_size = ((HeadlineEmbedder, encoder_batch_size(features, placement.device) * NEWS_BATCHES_PER_CALL)
                             if source == "news"
                             else (CallFeaturizer, CALLS_PER_BATCH))
        rows = ok.map_batches(actor, fn_constructor_kwargs={"features": features, "cached_hashes": cached,
                                                            "device": placement.device},
                              compute=ray.data.ActorPoolStrategy(size=placement.actors),
                              batch_size=batch_size, num_cpus=placement.num_cpus, num_gpus=placement.num_gpus,
                              batch_format="numpy", max_restarts=TASK_RETRIES, max_task_retries=TASK_RETRIES)
    else:
        transform = (partial(chart_batch_tensors, chart_size=features.chart_size) if source == "charts" else
                     partial(audio_batch_mels, sample_rate=ingest.audio_sample_rate, n_mels=features.n_mels,
                             frames=features.call_mel_frames))
        rows = ok.map_batches(featurize_new_items, fn_kwargs={"transform": transform, "cached_hashes": cached, "keys": keys},
                              batch_size=16, batch_format="numpy", max_retries=TASK_RETRIES)
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
