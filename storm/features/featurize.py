"""Ray plumbing that turns ingested items into cached per-item features, computing only what the cache lacks.

Headlines and call sentences are embedded by a pool of Ray actors the driver feeds: only the items the cache lacks
are sent, a batch at a time, and the stage counts them as they come back (the longest step of a cold run: the user
sees items done of items to embed and an ETA). Charts and recordings go through one Ray Data ``map_batches`` pass
that computes a feature only for content hashes not yet cached. Either way the driver merges the new features into
the cache a bounded chunk at a time.

Why not Ray Data's actor pool for the embedders: it hands each actor its transform through the object store and
restarts actors without bound, which Ray core reports as an error line on every run (core_worker.cc, "constructor
arguments in the object store and max_restarts > 0", ray-project/ray#57733); bounding the restarts there needs
``ray_remote_args``, deprecated in Ray 2.60. storm's own actors take small arguments inline and restart, retrying
their batch, at most ``TASK_RETRIES`` times.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Iterable, Iterator

import numpy as np
import pandas as pd
import ray

from storm.config import FeatureConfig, IngestConfig
from storm.console import SILENT, StageReporter
from storm.features.batch_features import (ITEM_KEYS, NEWS_BATCHES_PER_CALL, CallFeaturizer, EmbedDevice,
                                           HeadlineEmbedder, audio_batch_mels, chart_batch_tensors,
                                           encoder_batch_size, featurize_new_items)
from storm.features.cache import FeatureCache
from storm.ingest.readers import TASK_RETRIES
from storm.features.calls import call_vector_dim

CALLS_PER_BATCH = 8  # a call is ~100 sentences: a batch embeds about as many as 16 news batches
STREAM_BATCH_ITEMS = 1024  # featurised items the driver takes from Ray Data at a time
CACHE_FLUSH_BYTES = 64 * 2**20  # new features held in the driver before they are merged into the cache
IN_FLIGHT_PER_ACTOR = 2  # batches queued on an embedding actor: it starts the next while the driver stores the last
EMBEDDED = {"news": "{n:,} new headlines", "wire": "{n:,} new market-wide headlines",
            "calls": "the sentences of {n:,} new calls"}  # what the stage says it embeds


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
        "wire": (features.text_dim,),
        "charts": (1, features.chart_size, features.chart_size),
        "audio": (features.n_mels, features.call_mel_frames),
    }[source]


@dataclass(frozen=True)
class SourceFeatures:
    """What one source contributed: every good item's keys (``items``) and how many features were computed now."""

    items: pd.DataFrame
    computed: int


def featurize(ok: ray.data.Dataset, source: str, cache: FeatureCache, dates: list[str],
              features: FeatureConfig, ingest: IngestConfig, cached: frozenset[str] | None = None,
              progress: StageReporter = SILENT) -> SourceFeatures:
    """Run ``ok`` through the source's transform, store the new features in ``cache``.

    ``cached``: the content hashes ``cache`` holds for ``dates``, when the caller has read them already.
    ``progress``: headlines and calls report items embedded of items to embed.
    """
    cached = frozenset(cache.cached_hashes(dates)) if cached is None else cached
    if source in EMBEDDED:
        return _embed_new_items(ok, source, cache, cached, features, progress)
    transform = (partial(chart_batch_tensors, chart_size=features.chart_size) if source == "charts" else
                 partial(audio_batch_mels, sample_rate=ingest.audio_sample_rate, n_mels=features.n_mels,
                         frames=features.call_mel_frames))
    # A task whose worker died (killed for memory by a hostile chart or recording) is retried at most TASK_RETRIES
    # times: Ray Data's default retries it forever. Ray 2.60 takes the bound only through the remote-args keywords
    # it calls deprecated (removed in 2.64); a bounded night matters more than the warning.
    rows = ok.map_batches(featurize_new_items, fn_kwargs={"transform": transform, "cached_hashes": cached,
                                                          "keys": ITEM_KEYS[source]},
                          batch_size=16, batch_format="numpy", max_retries=TASK_RETRIES)
    return _store_streamed(rows, source, cache, features)


def _embed_new_items(ok: ray.data.Dataset, source: str, cache: FeatureCache, cached: frozenset[str],
                     features: FeatureConfig, progress: StageReporter) -> SourceFeatures:
    """Every item's keys from ``ok``; the items ``cached`` lacks and the evidence can read (readable_items) embedded
    on the cluster, their features cached."""
    items = _item_keys(ok, source)
    readable = readable_items(items, source, features)["content_hash"].astype(str)
    fresh = readable[~readable.isin(cached)]
    wanted, to_embed = frozenset(fresh), len(fresh)
    if to_embed == 0:  # a warm rerun: no actor started, no model loaded
        return SourceFeatures(items=items, computed=0)
    resources = ray.cluster_resources()
    placement = embedding_placement(features, resources.get("GPU", 0), resources.get("CPU", 1))
    actor_class, batch_size = (
        (HeadlineEmbedder, encoder_batch_size(features, placement.device) * NEWS_BATCHES_PER_CALL) if source != "calls"
        else (CallFeaturizer, CALLS_PER_BATCH))
    writer = CacheWriter(cache, feature_shape(features, source))
    what = EMBEDDED[source].format(n=to_embed)
    with progress.stage(f"features: embedding {what} ({placement.actors} actor{'s' * (placement.actors != 1)}, "
                        f"{placement.device})", total=to_embed) as advance, \
            embedding_actors(actor_class, features, placement) as actors:
        for embedded in embedded_batches(actors, _batches_of(ok, wanted, batch_size)):
            advance(writer.add(pd.DataFrame(embedded)))
    writer.close()
    return SourceFeatures(items=items, computed=writer.computed)


def _item_keys(ok: ray.data.Dataset, source: str) -> pd.DataFrame:
    keys = list(ITEM_KEYS[source])
    frames = list(ok.select_columns(keys).iter_batches(batch_format="pandas", batch_size=None))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=keys)


def readable_items(items: pd.DataFrame, source: str, features: FeatureConfig) -> pd.DataFrame:
    """The items a model can read: of a market's headlines on one date, the last ``features.max_headlines`` in
    (source_path, content_hash) order. The evidence panel keeps the last max_headlines of a trading day in the same
    order over the dates that fall on it, a subset of these; so a flood of one day costs its parsing, never its
    embedding. A market-wide wire (market "") the same per date. Calls: every one."""
    if source not in ("news", "wire") or items.empty:
        return items
    ordered = items.sort_values(["market", "date", "source_path", "content_hash"], kind="stable")
    return ordered.groupby(["market", "date"], sort=False).tail(features.max_headlines)


def _batches_of(ok: ray.data.Dataset, wanted: frozenset[str], batch_size: int) -> Iterator[dict[str, np.ndarray]]:
    """``ok``'s rows whose content hash is ``wanted``, in batches of ``batch_size`` rows (the last one smaller)."""
    held: list[dict[str, np.ndarray]] = []
    count = 0
    for batch in ok.iter_batches(batch_size=batch_size, batch_format="numpy"):
        new = np.array([str(h) in wanted for h in batch["content_hash"]], dtype=bool)
        if new.any():
            held.append({name: np.asarray(column)[new] for name, column in batch.items()})
            count += int(new.sum())
        while count >= batch_size:
            joined = _joined(held)
            yield {name: column[:batch_size] for name, column in joined.items()}
            held, count = [{name: column[batch_size:] for name, column in joined.items()}], count - batch_size
    if count:
        yield _joined(held)


def _joined(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


@contextmanager
def embedding_actors(actor_class: type, features: FeatureConfig, placement: EmbeddingPlacement) -> Iterator[list]:
    """``placement.actors`` actors of ``actor_class`` (each loads its model once), killed on the way out.

    Their constructor arguments are small and travel inline, never through the object store; an actor that dies
    is restarted, and its batch retried, at most ``TASK_RETRIES`` times; an exception in a batch fails the stage.
    """
    remote = ray.remote(actor_class).options(num_cpus=placement.num_cpus, num_gpus=placement.num_gpus,
                                             max_restarts=TASK_RETRIES, max_task_retries=TASK_RETRIES,
                                             scheduling_strategy="SPREAD")
    actors = [remote.remote(features, frozenset(), placement.device) for _ in range(placement.actors)]
    try:
        yield actors
    finally:
        for actor in actors:
            ray.kill(actor)


def embedded_batches(actors: list, batches: Iterable[dict[str, np.ndarray]]) -> Iterator[dict[str, np.ndarray]]:
    """Each batch through the least busy actor, results in the order they finish; an actor holds at most
    ``IN_FLIGHT_PER_ACTOR`` batches, so the driver never holds more than that many per actor either."""
    in_flight: dict[ray.ObjectRef, int] = {}
    load = [0] * len(actors)
    for batch in batches:
        while min(load) >= IN_FLIGHT_PER_ACTOR:
            yield _next_finished(in_flight, load)
        actor = load.index(min(load))
        in_flight[actors[actor].__call__.remote(batch)] = actor
        load[actor] += 1
    while in_flight:
        yield _next_finished(in_flight, load)


def _next_finished(in_flight: dict, load: list[int]) -> dict[str, np.ndarray]:
    (finished,), _ = ray.wait(list(in_flight), num_returns=1)
    load[in_flight.pop(finished)] -= 1
    return ray.get(finished)


def _store_streamed(rows: ray.data.Dataset, source: str, cache: FeatureCache, features: FeatureConfig) -> SourceFeatures:
    """Collect the item keys, and move new features into the cache a bounded chunk at a time."""
    writer = CacheWriter(cache, feature_shape(features, source))
    keys = []
    for batch in rows.iter_batches(batch_format="pandas", batch_size=STREAM_BATCH_ITEMS):
        keys.append(batch.drop(columns="feature"))
        writer.add(batch)
    writer.close()
    if not keys:
        return SourceFeatures(items=pd.DataFrame(columns=list(ITEM_KEYS[source])), computed=0)
    return SourceFeatures(items=pd.concat(keys, ignore_index=True), computed=writer.computed)


class CacheWriter:
    """New features held in the driver until ``CACHE_FLUSH_BYTES``, then merged into the cache.

    A cold night of 2,400 markets' charts is ~2.4 GB of float32 features: held whole (and copied on the way to
    parquet) it cost a scan ~11 GiB. Streamed, the driver holds at most ``CACHE_FLUSH_BYTES`` of them.
    """

    def __init__(self, cache: FeatureCache, shape: tuple[int, ...]):
        self.cache, self.shape = cache, shape
        self.pending: list[pd.DataFrame] = []
        self.pending_bytes = self.computed = 0

    def add(self, rows: pd.DataFrame) -> int:
        """Take the rows' new features (``feature`` float32 bytes; b"" for a cached item); returns how many."""
        is_new = rows["feature"].map(len) > 0
        if is_new.any():
            new = rows[is_new]
            self.pending.append(new.assign(feature=[np.frombuffer(b, dtype=np.float32).reshape(self.shape)
                                                    for b in new["feature"]]))
            self.pending_bytes += int(new["feature"].map(len).sum())
            self.computed += int(is_new.sum())
        if self.pending_bytes >= CACHE_FLUSH_BYTES:
            self.close()
        return int(is_new.sum())

    def close(self) -> None:
        """Merge what is held into the cache."""
        if self.pending:
            self.cache.add(pd.concat(self.pending, ignore_index=True))
        self.pending, self.pending_bytes = [], 0
