"""Ray Data readers for raw news, charts and audio over a date range, local or S3.

Every file is read as bytes (``read_binary_files``) and decoded per item in
``map_batches`` with a ``reason`` column, because ``read_images`` fails the
whole dataset on one bad file. Good rows and quarantine rows are then split.
Only ``date=D`` partitions within [start, end] are read; a missing prefix or a
range without files gives empty datasets, not an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np
import pyarrow as pa
import ray
from ray.data.datasource.partitioning import Partitioning, PathPartitionFilter
from ray.data.expressions import col

from storm.config import IngestConfig
from storm.ingest import decode
from storm.ingest.decode import RejectedInput
from storm.ingest.quarantine import quarantine_record
from storm.schema import QUARANTINE_FIELDS
from storm.store import Layout, ObjectStore
from storm.store.layout import date_of, partition

OK_COLUMNS = {
    "text": ("market", "date", "headline", "source_path", "content_hash"),
    "image": ("market", "date", "source_path", "content_hash", "pixels"),
    "audio": ("market", "date", "event", "source_path", "content_hash", "waveform"),
}
_ARROW_TYPES = {"pixels": pa.list_(pa.list_(pa.uint8())), "waveform": pa.list_(pa.float32())}
_NO_PIXELS = np.zeros((0, 0), dtype=np.uint8)  # placeholder in rejected rows; dropped with them
_NO_WAVEFORM = np.zeros(0, dtype=np.float32)


@dataclass
class ModalityIngest:
    ok: ray.data.Dataset  # OK_COLUMNS[modality]
    quarantined: ray.data.Dataset  # QUARANTINE_FIELDS


def ingest_news(store: ObjectStore, layout: Layout, start: str, end: str, cfg: IngestConfig) -> ModalityIngest:
    """Headlines, one row per good JSONL line; a bad line is quarantined and the rest of its file flows."""
    return _ingest(store, layout, "text", start, end, partial(_decode_news_batch, cfg=cfg, prefix=_uri_prefix(store)))


def ingest_charts(store: ObjectStore, layout: Layout, start: str, end: str, cfg: IngestConfig) -> ModalityIngest:
    """Chart images as uint8 grayscale ``pixels`` [H, W]."""
    return _ingest(store, layout, "image", start, end, partial(_decode_chart_batch, cfg=cfg, prefix=_uri_prefix(store)))


def ingest_audio(store: ObjectStore, layout: Layout, start: str, end: str, cfg: IngestConfig) -> ModalityIngest:
    """Conference audio as float32 mono ``waveform`` at ``cfg.audio_sample_rate``."""
    return _ingest(store, layout, "audio", start, end, partial(_decode_audio_batch, cfg=cfg, prefix=_uri_prefix(store)))


INGESTERS: dict[str, Callable[..., ModalityIngest]] = {"text": ingest_news, "image": ingest_charts, "audio": ingest_audio}


def _ingest(store: ObjectStore, layout: Layout, modality: str, start: str, end: str, decode_batch) -> ModalityIngest:
    _check_range(start, end)
    base = layout.raw_dir(modality)
    if not _has_files_in_range(store, base, start, end):
        return _empty(modality)
    in_range = PathPartitionFilter.of(
        lambda values: start <= values.get("date", "") <= end, style="hive", base_dir=base
    )
    raw = ray.data.read_binary_files(
        base, filesystem=store.arrow_fs, include_paths=True, ignore_missing_paths=True,
        partitioning=Partitioning("hive", base_dir=base), partition_filter=in_range,
    )
    # Decode once, keep it, then split: both halves read the same decoded rows.
    decoded = raw.map_batches(decode_batch, batch_format="numpy", batch_size=64).materialize()
    return ModalityIngest(
        ok=decoded.filter(expr=col("reason") == "").select_columns(list(OK_COLUMNS[modality])),
        quarantined=decoded.filter(expr=col("reason") != "").select_columns(list(QUARANTINE_FIELDS)),
    )


def _check_range(start: str, end: str) -> None:
    for date in (start, end):
        partition(date)  # raises naming the malformed date
    if start > end:
        raise ValueError(f"date range {start}..{end} is empty: start must not be after end")


def _has_files_in_range(store: ObjectStore, base: str, start: str, end: str) -> bool:
    store.fs.invalidate_cache(base)  # a long-lived S3 client must see files written since it last listed
    return any(start <= (date_of(path) or "") <= end for path in store.list_files(base))


def _empty(modality: str) -> ModalityIngest:
    def table(columns) -> pa.Table:
        return pa.table({name: pa.array([], type=_ARROW_TYPES.get(name, pa.string())) for name in columns})

    return ModalityIngest(ok=ray.data.from_arrow(table(OK_COLUMNS[modality])),
                          quarantined=ray.data.from_arrow(table(QUARANTINE_FIELDS)))


def _uri_prefix(store: ObjectStore) -> str:
    """What turns a filesystem path into the URI a user can open (``s3://`` on S3, nothing locally)."""
    return "" if store.is_local else f"{store.scheme}://"


# --- per-batch decoding (runs in Ray workers; rows out carry an empty reason when good) ---

def _decode_chart_batch(batch: dict[str, np.ndarray], cfg: IngestConfig, prefix: str) -> dict[str, list]:
    rows = [_chart_row(payload, str(path), str(date), cfg, prefix)
            for payload, path, date in zip(batch["bytes"], batch["path"], batch["date"])]
    return _as_columns(rows, OK_COLUMNS["image"])


def _chart_row(payload: bytes, path: str, date: str, cfg: IngestConfig, prefix: str) -> dict:
    market = Layout.market_of_chart(path)
    row = quarantine_record(prefix + path, "image", date, market, "")
    row.update(content_hash=decode.content_hash(payload), pixels=_NO_PIXELS)
    try:
        _check_suffix(path, ".png")
        decode.market_of_chart(path)
        decode.check_size(payload, cfg)
        row["pixels"] = decode.decode_png(payload)
    except RejectedInput as rejected:
        row["reason"] = rejected.reason
    return row


def _decode_audio_batch(batch: dict[str, np.ndarray], cfg: IngestConfig, prefix: str) -> dict[str, list]:
    rows = [_audio_row(payload, str(path), str(date), cfg, prefix)
            for payload, path, date in zip(batch["bytes"], batch["path"], batch["date"])]
    return _as_columns(rows, OK_COLUMNS["audio"])


def _audio_row(payload: bytes, path: str, date: str, cfg: IngestConfig, prefix: str) -> dict:
    market, event = Layout.market_and_event_of_audio(path)
    row = quarantine_record(prefix + path, "audio", date, market, "")
    row.update(event=event, content_hash=decode.content_hash(payload), waveform=_NO_WAVEFORM)
    try:
        _check_suffix(path, ".wav")
        decode.market_and_event_of_audio(path)
        decode.check_size(payload, cfg)
        row["waveform"] = decode.decode_wav(payload, cfg)
    except RejectedInput as rejected:
        row["reason"] = rejected.reason
    return row


def _decode_news_batch(batch: dict[str, np.ndarray], cfg: IngestConfig, prefix: str) -> pa.Table:
    rows = []
    for payload, path, date in zip(batch["bytes"], batch["path"], batch["date"]):
        rows.extend(_news_rows(payload, str(path), str(date), cfg, prefix))
    # All-string schema even when a batch held only blank lines, so empty blocks never turn columns null.
    return pa.table({name: pa.array(values, type=pa.string())
                     for name, values in _as_columns(rows, OK_COLUMNS["text"]).items()})


def _news_rows(payload: bytes, path: str, date: str, cfg: IngestConfig, prefix: str) -> list[dict]:
    """One row per non-blank line; an unusable file gives one quarantine row for the whole file."""
    try:
        _check_suffix(path, ".jsonl")
        decode.check_size(payload, cfg)
    except RejectedInput as rejected:
        return [{**quarantine_record(prefix + path, "text", date, None, rejected.reason),
                 "headline": "", "content_hash": decode.content_hash(payload)}]
    rows = []
    for number, line in enumerate(payload.split(b"\n"), start=1):
        line = line.rstrip(b"\r")
        if not line.strip():
            continue
        row = {**quarantine_record(prefix + path, "text", date, None, ""), "headline": "",
               "content_hash": decode.content_hash(line)}
        try:
            row.update(decode.parse_news_line(line, date, cfg))
        except RejectedInput as rejected:
            row.update(market=decode.market_hint(line), reason=f"line {number}: {rejected.reason}")
        rows.append(row)
    return rows


def _check_suffix(path: str, suffix: str) -> None:
    if not path.endswith(suffix):
        raise RejectedInput(f"unexpected file type: expected a {suffix} file here")


def _as_columns(rows: list[dict], ok_columns: tuple[str, ...]) -> dict[str, list]:
    names = dict.fromkeys((*QUARANTINE_FIELDS, *ok_columns))
    return {name: [row.get(name) for row in rows] for name in names}
