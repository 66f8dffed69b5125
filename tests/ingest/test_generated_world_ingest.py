"""Ingest over a generated synthetic world: the same counts on a local path and on S3 (moto),
and a corrupted copy quarantines exactly the corrupted items, with their reasons."""

from __future__ import annotations

import json

import pytest

from storm.config import StormConfig, load_config
from storm.ingest import run_ingest
from storm.ingest.quarantine import read_quarantine
from storm.store import Layout, open_store
from storm.worlds import generate_world

pytestmark = pytest.mark.slow

WORLD = {"world.n_markets": 2, "world.n_days": 60, "world.conferences_per_month": 3}


def world_config(storage) -> StormConfig:
    return load_config(environ={}, overrides={**WORLD, **{f"storage.{k}": v for k, v in storage.model_dump().items()}})


def test_generated_world_ingests_with_the_same_counts_on_local_and_s3(ray_cluster, local_storage, s3_storage):
    reports = []
    for storage in (local_storage, s3_storage):
        config = world_config(storage)
        world = generate_world(config, open_store(config.storage), progress=False)
        reports.append(run_ingest(config, world.start, world.end))
    local, s3 = reports
    assert local.counts == s3.counts
    assert local.counts["charts"] == {"ok": 120, "quarantined": 0, "missing": 0}
    assert local.counts["news"]["ok"] > 0 and local.counts["audio"]["ok"] > 0


def test_corrupted_copy_of_a_world_quarantines_exactly_the_corrupted_items(ray_cluster, local_storage):
    config = world_config(local_storage)
    store = open_store(config.storage)
    layout = Layout(store)
    world = generate_world(config, store, progress=False)
    clean = run_ingest(config, world.start, world.end)

    chart = store.list_files(layout.raw_dir("charts"), ".png")[5]
    store.write_bytes(chart, store.read_bytes(chart)[:60])  # truncated PNG
    wav = store.list_files(layout.raw_dir("audio"), ".wav")[0]
    store.write_bytes(wav, store.read_bytes(wav)[:1000])  # header promises more than it holds
    news = store.list_files(layout.raw_dir("news"), ".jsonl")[3]
    store.write_text(news, store.read_text(news) + '{"market": "ARDEN", "headline": \n')

    corrupted = run_ingest(config, world.start, world.end)
    assert {m: c["quarantined"] for m, c in corrupted.counts.items()} == {"news": 1, "charts": 1, "audio": 1, "calls": 0, "wire": 0}
    assert corrupted.counts["charts"]["ok"] == clean.counts["charts"]["ok"] - 1
    assert corrupted.counts["audio"]["ok"] == clean.counts["audio"]["ok"] - 1
    assert corrupted.counts["news"]["ok"] == clean.counts["news"]["ok"]  # the file's good lines still flow

    by_modality = {
        modality: read_quarantine(store, layout, modality, date)
        for modality, date in (("charts", _date(chart)), ("audio", _date(wav)), ("news", _date(news)))
    }
    assert [r["source_path"].endswith(chart.rsplit("/", 1)[-1]) for r in by_modality["charts"]] == [True]
    assert [r["source_path"].endswith(wav.rsplit("/", 1)[-1]) for r in by_modality["audio"]] == [True]
    assert len(by_modality["news"]) == 1 and "JSON" in by_modality["news"][0]["reason"]
    for records in by_modality.values():
        assert all(r["reason"] and r["stage"] == "ingest" for r in records)
    json.dumps(by_modality)  # records are plain JSON, ready for a dashboard or a ticket


def _date(path: str) -> str:
    return path.split("date=")[1][:10]
