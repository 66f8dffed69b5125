"""storm.features.featurize's embedding stage on a real local Ray: the items it embeds, what a log hears while it
runs, and how it fails."""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from storm.config import FeatureConfig, IngestConfig, StorageConfig
from storm.console import StageReporter
from storm.features.cache import FeatureCache
from storm.features.featurize import EmbeddingPlacement, embedded_batches, embedding_actors, featurize
from storm.ingest.readers import TASK_RETRIES
from storm.store import Layout, open_store

DAY = "2020-03-02"


def headlines(n: int) -> pd.DataFrame:
    return pd.DataFrame({"market": ["spx"] * n, "date": [DAY] * n,
                         "headline": [f"Stocks slump as factory orders fall, day {i}" for i in range(n)],
                         "source_path": ["raw/news/spx.jsonl"] * n, "content_hash": [f"h{i}" for i in range(n)]})


def news_cache(root) -> FeatureCache:
    store = open_store(StorageConfig(root=str(root)))
    return FeatureCache(store, Layout(store), "news", "spec")


def test_only_uncached_headlines_are_embedded_and_a_log_hears_their_count_and_eta(ray_cluster, tmp_path):
    sink = io.StringIO()
    progress = StageReporter(Console(file=sink, width=80, force_terminal=False, color_system=None),
                             heartbeat_seconds=0.2)
    cache = news_cache(tmp_path)
    result = featurize(ray_cluster.data.from_pandas(headlines(8)), "news", cache, [DAY], FeatureConfig(),
                       IngestConfig(), cached=frozenset({"h0", "h1", "h2"}), progress=progress)
    assert sorted(result.items["content_hash"]) == [f"h{i}" for i in range(8)] and result.computed == 5
    assert set(cache.load([DAY], [f"h{i}" for i in range(8)])) == {"h3", "h4", "h5", "h6", "h7"}
    lines = sink.getvalue().splitlines()
    stage = "features: embedding 5 new headlines (1 actor, cpu)"
    beats = [line for line in lines if line.startswith(f"… {stage}  ")]
    assert beats and all("/5 (" in line and "elapsed, ETA" in line for line in beats)
    assert lines[-1].startswith(f"✓ {stage} ")


def test_embedding_logs_no_ray_error_line_and_asks_ray_for_no_deprecated_option(ray_cluster, tmp_path, capfd):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = featurize(ray_cluster.data.from_pandas(headlines(4)), "news", news_cache(tmp_path), [DAY],
                           FeatureConfig(), IngestConfig(), cached=frozenset(f"old{i}" for i in range(20_000)))
    assert result.computed == 4
    assert "core_worker" not in capfd.readouterr().err  # was: "… constructor arguments in the object store …"
    assert not [w for w in caught if "deprecated" in str(w.message) and w.filename.endswith("featurize.py")]


def test_an_embedder_that_keeps_dying_is_restarted_a_bounded_number_of_times_then_fails_the_stage(
        ray_cluster, tmp_path):
    starts = tmp_path / "starts"

    class DiesOnEveryBatch:  # local: shipped by value to the actor
        def __init__(self, features, cached_hashes, device):
            with open(starts, "a") as log:
                log.write("start\n")

        def __call__(self, batch):
            os._exit(1)

    with pytest.raises(ray_cluster.exceptions.RayActorError):
        with embedding_actors(DiesOnEveryBatch, FeatureConfig(), EmbeddingPlacement(1, 1, 0, "cpu")) as actors:
            list(embedded_batches(actors, [{"content_hash": np.array(["h0"], dtype=object)}]))
    assert starts.read_text().count("start") == 1 + TASK_RETRIES


def test_a_flood_of_one_day_embeds_only_the_headlines_the_panel_can_read(ray_cluster, tmp_path):
    flood = headlines(40).assign(source_path=[f"raw/news/part{i % 3}.jsonl" for i in range(40)])
    quiet = headlines(3).assign(date="2020-03-03", content_hash=["q0", "q1", "q2"])
    features = FeatureConfig(max_headlines=5)
    cache = news_cache(tmp_path)
    result = featurize(ray_cluster.data.from_pandas(pd.concat([flood, quiet], ignore_index=True)), "news", cache,
                       [DAY, "2020-03-03"], features, IngestConfig(), cached=frozenset())
    last_five = flood.sort_values(["source_path", "content_hash"]).tail(5)["content_hash"]
    assert result.computed == 8 and len(result.items) == 43  # every item's keys still reach the panel
    assert set(cache.load([DAY, "2020-03-03"], result.items["content_hash"])) == {*last_five, "q0", "q1", "q2"}
