"""run_ingest end to end on real local Ray, local directory and moto S3: counts, quarantine, pruning, reruns."""

from __future__ import annotations

import json

import numpy as np
import pytest

from raw_inputs import (
    BAD_AUDIO, BAD_CHARTS, BAD_NEWS, BAD_NEWS_FILES, EXPECTED_COUNTS, MAX_FILE_BYTES, RANGE, png_bytes, write_mixed_world,
    write_raw_file,
)
from storm.config import IngestConfig, StormConfig
from storm.ingest import NoPricesError, ingest_audio, ingest_charts, ingest_news, read_quarantine, run_ingest
from storm.store import Layout, open_store


def mixed_world(storage) -> tuple[StormConfig, Layout]:
    config = StormConfig(storage=storage, ingest=IngestConfig(max_file_bytes=MAX_FILE_BYTES))
    layout = Layout(open_store(config.storage))
    write_mixed_world(layout)
    return config, layout


def quarantined(layout: Layout, modality: str) -> list[tuple[str, str]]:
    """('<file name>@<date>', reason) of every quarantine record on the world's dates."""
    found = []
    for date in ("2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"):
        for record in read_quarantine(layout.store, layout, modality, date):
            assert record["stage"] == "ingest" and record["source"] == modality and record["date"] == date
            found.append((f"{record['source_path'].rsplit('/', 1)[-1]}@{date}", record["reason"]))
    return found


def quarantined_by_file(layout: Layout, modality: str) -> dict[str, str]:
    return dict(quarantined(layout, modality))


def test_bad_items_are_quarantined_with_reasons_and_good_items_flow_locally(ray_cluster, local_storage):
    config, layout = mixed_world(local_storage)
    report = run_ingest(config, *RANGE)

    assert report.counts == EXPECTED_COUNTS
    charts = quarantined_by_file(layout, "charts")
    assert set(charts) == set(BAD_CHARTS)  # 2024-01-05 files were pruned, never read
    assert all(expected in charts[name] for name, expected in BAD_CHARTS.items())
    audio = quarantined_by_file(layout, "audio")
    assert set(audio) == set(BAD_AUDIO)
    assert all(expected in audio[name] for name, expected in BAD_AUDIO.items()), audio
    news = quarantined(layout, "news")
    line_reasons = [reason for name, reason in news if name == "headlines.jsonl@2024-01-02"]
    assert len(line_reasons) == len(BAD_NEWS) and all(reason.startswith("headlines.jsonl line ") for reason in line_reasons)
    assert all(any(expected in reason for reason in line_reasons) for expected in BAD_NEWS.values())
    whole_files = {name: reason for name, reason in news if name != "headlines.jsonl@2024-01-02"}
    assert set(whole_files) == set(BAD_NEWS_FILES)
    assert all(expected in whole_files[name] for name, expected in BAD_NEWS_FILES.items())
    assert sorted(report.quarantine_files) == sorted(
        layout.quarantine(date, "ingest", modality)
        for date, modality in [("2024-01-02", "news"), ("2024-01-03", "news"), ("2024-01-02", "charts"),
                               ("2024-01-03", "charts"), ("2024-01-03", "audio")]
    )


def test_good_rows_carry_decoded_arrays_paths_and_content_hashes(ray_cluster, local_storage):
    config, layout = mixed_world(local_storage)
    charts = sorted(ingest_charts(layout.store, layout, *RANGE, config.ingest).ok.take_all(), key=lambda r: r["date"])
    assert [(row["market"], row["date"], row["pixels"].shape) for row in charts] == [
        ("AAA", "2024-01-02", (64, 64)), ("AAA", "2024-01-03", (60, 80))]
    assert charts[0]["source_path"] == layout.chart("2024-01-02", "AAA")
    assert charts[0]["content_hash"] != charts[1]["content_hash"] and len(charts[0]["content_hash"]) == 64
    audio = {row["market"]: row for row in ingest_audio(layout.store, layout, *RANGE, config.ingest).ok.take_all()}
    assert audio["AAA"]["event"] == "call" and audio["AAA"]["waveform"].shape == (8, 5120)  # 1 s call: 8 windows
    assert audio["BBB"]["waveform"].dtype == np.float32 and audio["BBB"]["waveform"].shape == (8, 5120)
    news = ingest_news(layout.store, layout, *RANGE, config.ingest).ok.take_all()
    assert sorted((row["market"], row["date"]) for row in news) == [
        ("AAA", "2024-01-02"), ("AAA", "2024-01-03"), ("BBB", "2024-01-02")]
    assert all(row["headline"] == "Stocks steady" for row in news)


def test_missing_prefix_and_range_without_files_are_empty_not_errors(ray_cluster, local_storage):
    """Sources without files are empty (tests/ingest/test_window.py: prices alone ingest cleanly); a store without
    prices has no calendar to count against and says so, as evaluate, train and scan do."""
    config = StormConfig(storage=local_storage)
    layout = Layout(open_store(config.storage))
    with pytest.raises(NoPricesError, match="no prices under"):
        run_ingest(config, "2024-01-02", "2024-01-04")  # nothing written at all
    write_raw_file(layout, "charts", "2024-01-02", "AAA.png", png_bytes())
    outside = ingest_charts(layout.store, layout, "2024-02-01", "2024-02-03", config.ingest)
    assert outside.ok.count() == 0 and outside.quarantined.count() == 0


def test_same_files_give_same_counts_on_s3_with_s3_paths(ray_cluster, s3_storage):
    config, layout = mixed_world(s3_storage)
    report = run_ingest(config, *RANGE)
    assert report.counts == EXPECTED_COUNTS
    records = read_quarantine(layout.store, layout, "charts", "2024-01-03")
    assert records and all(r["source_path"].startswith(f"s3://{layout.store.root}/raw/charts/") for r in records)
    assert set(quarantined_by_file(layout, "audio")) == set(BAD_AUDIO)


def test_rerun_replaces_quarantine_files_and_removes_stale_ones(ray_cluster, local_storage):
    config, layout = mixed_world(local_storage)
    store = layout.store
    outside = layout.quarantine("2024-01-05", "ingest", "charts")
    store.write_text(outside, '{"reason": "from another run"}\n')  # outside the range: must survive
    first = run_ingest(config, *RANGE)
    contents = {path: store.read_bytes(path) for path in first.quarantine_files}

    second = run_ingest(config, *RANGE)
    assert second.counts == first.counts
    assert {path: store.read_bytes(path) for path in second.quarantine_files} == contents
    assert len(store.list_files(layout.quarantine_dir(), suffix=".jsonl")) == len(contents) + 1

    for name in ("BBB.png", "bad-name.png"):  # fix 2024-01-03's charts: its quarantine file must go
        store.delete([f"{layout.raw_partition('charts', '2024-01-03')}/{name}"])
    third = run_ingest(config, *RANGE)
    assert third.counts["charts"]["quarantined"] == len(BAD_CHARTS) - 2
    assert not store.exists(layout.quarantine("2024-01-03", "ingest", "charts"))
    assert store.exists(layout.quarantine("2024-01-02", "ingest", "charts"))
    assert json.loads(store.read_text(outside)) == {"reason": "from another run"}


def test_start_after_end_is_a_clear_error(ray_cluster, local_storage):
    config = StormConfig(storage=local_storage)
    layout = Layout(open_store(config.storage))
    with pytest.raises(ValueError, match="start must not be after end"):
        ingest_news(layout.store, layout, "2024-01-05", "2024-01-02", config.ingest)


def test_an_item_whose_features_are_cached_is_checked_but_not_decoded_again(ray_cluster, local_storage):
    """The panel passes the cached content hashes: a known image or recording is not decoded again (a nightly scan
    re-reads 60 days of them), yet its name, suffix and size are checked like any other item's."""
    from storm.ingest.decode import content_hash

    config = StormConfig(storage=local_storage)
    layout = Layout(open_store(config.storage))
    undecodable = b"\x89PNG\r\n\x1a\n" + b"not an image" * 10  # decoding it would quarantine it
    write_raw_file(layout, "charts", "2024-01-02", "AAA.png", undecodable)
    write_raw_file(layout, "charts", "2024-01-02", "bad-name.png", undecodable)  # the same bytes, a bad name
    write_raw_file(layout, "audio", "2024-01-02", "AAA-call.wav", b"RIFF" + b"not a wav" * 10)
    known = frozenset({content_hash(undecodable), content_hash(b"RIFF" + b"not a wav" * 10)})

    fresh = ingest_charts(layout.store, layout, "2024-01-02", "2024-01-02", config.ingest)
    assert fresh.ok.count() == 0 and fresh.quarantined.count() == 2  # decoded: not an image
    charts = ingest_charts(layout.store, layout, "2024-01-02", "2024-01-02", config.ingest, known=known)
    ok = charts.ok.take_all()
    assert [row["source_path"].rsplit("/", 1)[-1] for row in ok] == ["AAA.png"] and ok[0]["pixels"].size == 0
    assert [r["source_path"].rsplit("/", 1)[-1] for r in charts.quarantined.take_all()] == ["bad-name.png"]
    audio = ingest_audio(layout.store, layout, "2024-01-02", "2024-01-02", config.ingest, known=known)
    assert audio.ok.count() == 1 and audio.quarantined.count() == 0
