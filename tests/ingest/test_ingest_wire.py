"""raw/wire: market-wide lines are read with the news reader's bounds, and a bad line is quarantined alone."""

from __future__ import annotations

import json

import pytest

from raw_inputs import write_raw_file
from storm.config import IngestConfig
from storm.ingest.decode import parse_wire_line
from storm.ingest.errors import RejectedInput
from storm.ingest import readers
from storm.ingest.readers import ingest_wire
from storm.store import Layout, open_store

CFG = IngestConfig(max_news_line_bytes=2048, max_json_depth=8)


def rejection(line: bytes) -> str:
    with pytest.raises(RejectedInput) as caught:
        parse_wire_line(line, "2024-01-02", CFG)
    return caught.value.reason


def test_a_wire_line_is_a_headline_without_a_market():
    line = json.dumps({"headline": "Fed holds rates", "published": "2024-01-02T15:00:00Z", "id": "r1"}).encode()
    assert parse_wire_line(line, "2024-01-02", CFG) == {"market": "", "date": "2024-01-02", "headline": "Fed holds rates"}


def test_a_wire_line_naming_a_market_or_breaking_a_news_bound_is_rejected():
    assert "names no market" in rejection(json.dumps({"market": "AAA", "headline": "x"}).encode())
    assert "max_news_line_bytes" in rejection(json.dumps({"headline": "x" * 5000}).encode())
    assert "max_json_depth" in rejection(b'{"headline": "x", "extra": ' + b"[" * 20 + b"]" * 20 + b"}")
    assert "disagrees with its partition" in rejection(json.dumps({"headline": "x", "date": "2024-01-03"}).encode())
    assert "missing or empty 'headline'" in rejection(b'{"headline": "  "}')


def test_a_bad_wire_line_is_quarantined_and_the_rest_of_its_file_flows(ray_cluster, local_storage, monkeypatch):
    layout = Layout(open_store(local_storage))
    lines = [json.dumps({"headline": "Stocks rally"}), "{not json", json.dumps({"market": "AAA", "headline": "x"}),
             json.dumps({"headline": "Oil slips"})]
    write_raw_file(layout, "wire", "2024-01-02", "reuters.jsonl", ("\n".join(lines) + "\n").encode())
    write_raw_file(layout, "wire", "2024-01-02", "reuters.txt", b"not a feed")
    ingested = ingest_wire(layout.store, layout, "2024-01-02", "2024-01-02", CFG)
    ok = sorted(ingested.ok.take_all(), key=lambda row: row["headline"])
    assert [(row["market"], row["headline"]) for row in ok] == [("", "Oil slips"), ("", "Stocks rally")]
    reasons = sorted(row["reason"] for row in ingested.quarantined.take_all())
    assert len(reasons) == 3 and all(row["source"] == "wire" for row in ingested.quarantined.take_all())
    assert any("line 2: malformed JSON" in r for r in reasons) and any("line 3: a market-wide line" in r for r in reasons)
    assert any(r.startswith("reuters.txt: unexpected file type") for r in reasons)
    # a small local wire is decoded in the driver; through Ray Data it decodes to the same rows and reasons
    monkeypatch.setattr(readers, "DRIVER_DECODE_BYTES", 0)
    through_ray = ingest_wire(layout.store, layout, "2024-01-02", "2024-01-02", CFG)
    assert sorted(through_ray.ok.take_all(), key=lambda row: row["headline"]) == ok
    assert sorted(row["reason"] for row in through_ray.quarantined.take_all()) == reasons
