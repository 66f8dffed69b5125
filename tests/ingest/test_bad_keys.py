"""Issue 21: a crafted key or a local entry that is no regular file is quarantined unread, never a failed night."""

from __future__ import annotations

import os

from storm.worlds.hostile import forged_m4a, jpeg_scan_bomb, m4a_bytes, progressive_jpeg
from raw_inputs import EXPECTED_COUNTS, MAX_FILE_BYTES, RANGE, news_line, write_mixed_world, write_raw_file
from storm.config import DecoderSandboxConfig, IngestConfig, StormConfig
from storm.ingest import ingest_audio, ingest_charts, ingest_news, read_quarantine, run_ingest
from storm.ingest.quarantine import write_quarantine
from storm.ingest.readers import MAX_REJECTS_PER_FILE
from storm.store import Layout, open_store
from storm.store.layout import is_date

CRAFTED_KEYS = ("date=2024-01-01x/evil.jsonl", "xdate=2024-01-03/e.jsonl", "date=2024-01-03/deeper/e.jsonl",
                "stray.jsonl")


def world_with_crafted_keys(storage) -> tuple[StormConfig, Layout]:
    config = StormConfig(storage=storage, ingest=IngestConfig(max_file_bytes=MAX_FILE_BYTES))
    layout = Layout(open_store(config.storage))
    write_mixed_world(layout)
    for key in CRAFTED_KEYS:  # valid JSON lines too: they must not be read as data either
        layout.store.write_bytes(f"{layout.raw_dir('news')}/{key}", b"not json\n" + news_line("AAA") + b"\n")
    return config, layout


def test_crafted_date_keys_are_quarantined_as_bad_keys_and_the_night_goes_on(ray_cluster, local_storage):
    config, layout = world_with_crafted_keys(local_storage)
    news = ingest_news(layout.store, layout, *RANGE, config.ingest)
    assert all(is_date(row["date"]) and RANGE[0] <= row["date"] <= RANGE[1] for row in news.ok.take_all())
    assert len(news.ok.take_all()) == EXPECTED_COUNTS["news"]["ok"]  # nothing read from the crafted keys

    report = run_ingest(config, *RANGE)  # used to raise: date '2024-01-01x' is not YYYY-MM-DD
    assert report.counts["news"]["quarantined"] == EXPECTED_COUNTS["news"]["quarantined"] + len(CRAFTED_KEYS)
    filed = read_quarantine(layout.store, layout, "news", RANGE[1])  # filed under the range's last day
    bad_keys = sorted(r["source_path"].removeprefix(layout.raw_dir("news") + "/") for r in filed
                      if r["reason"].startswith("bad key"))
    assert bad_keys == sorted(CRAFTED_KEYS)
    assert all("date=YYYY-MM-DD" in r["reason"] for r in filed if r["reason"].startswith("bad key"))


def test_a_quarantine_record_without_a_real_date_is_filed_under_the_range_end(local_storage):
    store = open_store(local_storage)
    layout = Layout(store)
    record = {"source_path": "x/date=2024-01-01x/evil.jsonl", "source": "news", "date": "2024-01-01x",
              "market": None, "stage": "ingest", "reason": "bad"}
    written = write_quarantine(store, layout, "news", [record, {**record, "date": None}], *RANGE)
    assert written == [layout.quarantine(RANGE[1], "ingest", "news")]
    assert [r["date"] for r in read_quarantine(store, layout, "news", RANGE[1])] == [RANGE[1], RANGE[1]]


def test_dev_zero_link_fifo_and_symlinked_date_folder_are_quarantined_unread(ray_cluster, local_storage, tmp_path):
    config, layout = world_with_crafted_keys(local_storage)
    charts = layout.raw_partition("charts", "2024-01-02")
    os.symlink("/dev/zero", f"{charts}/ZZZ.png")  # lists as 0 bytes, reads forever
    os.mkfifo(f"{charts}/FFF.png")  # blocks a reader forever
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "EEE.png").write_bytes(b"\x89PNG outside the store")
    os.symlink(outside, layout.raw_partition("charts", "2024-01-04"))

    result = ingest_charts(layout.store, layout, *RANGE, config.ingest)
    assert sorted(row["market"] for row in result.ok.take_all()) == ["AAA", "AAA"]
    reasons = {r["source_path"].rsplit("/", 1)[-1]: r["reason"] for r in result.quarantined.take_all()}
    assert "symbolic link" in reasons["ZZZ.png"] and "FIFO" in reasons["FFF.png"]
    assert "symbolic link to a folder" in reasons["date=2024-01-04"]
    assert "EEE.png" not in reasons
    write_raw_file(layout, "charts", "2024-01-03", "CCC.png", b"still writable")  # the store itself is unharmed


def test_a_news_file_flooded_with_bad_lines_gives_capped_records_and_its_good_line_flows(ray_cluster, local_storage):
    """1 MB of `x\\n` used to become one quarantine row per line, all pulled into the driver."""
    config = StormConfig(storage=local_storage)
    layout = Layout(open_store(config.storage))
    write_raw_file(layout, "news", "2024-01-02", "flood.jsonl", news_line("AAA") + b"\n" + b"x\n" * 20_000)
    news = ingest_news(layout.store, layout, *RANGE, config.ingest)
    assert [row["market"] for row in news.ok.take_all()] == ["AAA"]
    records = news.quarantined.take_all()
    assert len(records) == MAX_REJECTS_PER_FILE + 1
    assert sum(" line " in r["reason"] for r in records) == MAX_REJECTS_PER_FILE
    assert any(f"{20_000 - MAX_REJECTS_PER_FILE} more bad line(s)" in r["reason"] for r in records)


def test_a_forged_m4a_and_a_jpeg_scan_bomb_in_the_window_are_quarantined_and_the_good_items_flow(ray_cluster,
                                                                                                local_storage):
    config = StormConfig(storage=local_storage,
                         ingest=IngestConfig(sandbox=DecoderSandboxConfig(memory_bytes=256 * 2 ** 20)))
    layout = Layout(open_store(config.storage))
    write_raw_file(layout, "audio", "2024-01-02", "AAA-forged.m4a", forged_m4a())
    write_raw_file(layout, "audio", "2024-01-02", "BBB-q3.m4a", m4a_bytes())
    write_raw_file(layout, "charts", "2024-01-02", "AAA.jpg", jpeg_scan_bomb())
    write_raw_file(layout, "charts", "2024-01-02", "BBB.jpg", progressive_jpeg())

    audio = ingest_audio(layout.store, layout, *RANGE, config.ingest)
    assert [(row["market"], row["event"]) for row in audio.ok.take_all()] == [("BBB", "q3")]
    assert [r["source_path"].rsplit("/", 1)[-1] for r in audio.quarantined.take_all()] == ["AAA-forged.m4a"]
    charts = ingest_charts(layout.store, layout, *RANGE, config.ingest)
    assert [row["market"] for row in charts.ok.take_all()] == ["BBB"]
    [bomb] = charts.quarantined.take_all()
    assert "max_jpeg_scans" in bomb["reason"] and bomb["source_path"].endswith("AAA.jpg")
