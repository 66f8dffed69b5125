"""The per-item feature cache: features/<source>/<spec>/date=D/features.parquet keyed by content hash.

A rerun computes only items whose content hash is not in the partition of
their date; settings that change a source's features change its ``spec`` and
so start a fresh cache beside the old one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from storm.config import FeatureConfig
from storm.store import Layout, ObjectStore
from storm.store.layout import date_of

# Bump when the code that computes a source's features changes meaning.
FEATURE_VERSION = {"news": 1, "wire": 1, "charts": 1, "audio": 2}  # audio 2: slices spread over the whole call
_SPEC_FIELDS = {
    "news": ("text_model", "text_dim", "max_text_tokens", "mask_market_names"),
    "wire": ("text_model", "text_dim", "max_text_tokens"),  # market-wide headlines: no market name to mask
    "charts": ("chart_size", "chart_days"),
    "audio": ("n_mels", "call_mel_frames", "call_slices"),
}
SPEC_SOURCES = tuple(_SPEC_FIELDS)  # the sources whose spec is here (call tables: storm.features.calls)
CACHE_COLUMNS = ("content_hash", "market", "date", "feature", "shape")


def feature_spec_id(features: FeatureConfig, source: str) -> str:
    """Short hash of exactly the settings that change this source's per-item features."""
    if source not in _SPEC_FIELDS:
        raise ValueError(f"unknown source {source!r}; expected one of {sorted(_SPEC_FIELDS)}")
    settings = {name: getattr(features, name) for name in _SPEC_FIELDS[source]}
    settings["version"] = FEATURE_VERSION[source]
    payload = json.dumps({"source": source, **settings}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def features_to_table(rows: pd.DataFrame) -> pa.Table:
    """rows: content_hash, market, date, feature (float32 ndarray of any shape) -> the cache's parquet schema."""
    arrays = [np.asarray(f, dtype=np.float32) for f in rows["feature"]]
    return pa.table({
        "content_hash": pa.array(rows["content_hash"].astype(str).tolist(), pa.string()),
        "market": pa.array(rows["market"].astype(str).tolist(), pa.string()),
        "date": pa.array(rows["date"].astype(str).tolist(), pa.string()),
        "feature": pa.array([a.reshape(-1) for a in arrays], pa.list_(pa.float32())),
        "shape": pa.array([list(a.shape) for a in arrays], pa.list_(pa.int32())),
    })


def table_to_features(table: pa.Table) -> dict[str, np.ndarray]:
    """content_hash -> float32 feature in its stored shape."""
    hashes = table.column("content_hash").to_pylist()
    shapes = table.column("shape").to_pylist()
    lists = table.column("feature").combine_chunks()
    values = lists.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    offsets = lists.offsets.to_numpy() - lists.offsets[0].as_py()
    return {h: values[offsets[i]:offsets[i + 1]].reshape(s) for i, (h, s) in enumerate(zip(hashes, shapes))}


@dataclass(frozen=True)
class FeatureCache:
    """One source's cache under one feature spec."""

    store: ObjectStore
    layout: Layout
    source: str
    spec: str

    def partition(self, date: str) -> str:
        return self.layout.features_partition(self.source, self.spec, date)

    def read(self, date: str) -> pa.Table | None:
        path = self.partition(date)
        return self.store.read_table(path) if self.store.exists(path) else None

    def dates_between(self, start: str, end: str) -> list[str]:
        """Dates with a cache partition in [start, end] (one listing, no per-day probing)."""
        partitions = self.store.list_files(self.layout.features_dir(self.source, self.spec), suffix="features.parquet")
        return sorted({d for d in (date_of(p) for p in partitions) if d and start <= d <= end})

    def cached_hashes(self, dates: list[str]) -> set[str]:
        """Content hashes already computed for items dated in ``dates`` (reads only those partitions)."""
        table = self._read_partitions(dates, columns=["content_hash"])
        return set() if table is None else set(table.column("content_hash").to_pylist())

    def load(self, dates: list[str], hashes: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """content_hash -> feature for every item cached under ``dates`` (only ``hashes``, when given).

        ``hashes`` keeps memory to what the caller places: a batch of markets loads its own items, not the day's.
        """
        wanted = None if hashes is None else pa.array(sorted(set(hashes)), pa.string())
        flagged = None if wanted is None else ds.field("content_hash").isin(wanted)
        table = self._read_partitions(dates, filter=flagged)
        return {} if table is None or not len(table) else table_to_features(table)

    def _read_partitions(self, dates: Iterable[str], columns: list[str] | None = None,
                         filter: ds.Expression | None = None) -> pa.Table | None:
        """The partitions of ``dates`` that exist, read as one Arrow dataset (files in parallel, the filter pushed
        down): a multi-year window holds ~1,000 small partitions, read one by one they cost a panel build seconds.
        The paths come from one listing of the cache, which holds regular files under the store's root only."""
        wanted = {self.partition(date) for date in dates}
        if not wanted:
            return None
        present = [path for path in self.store.list_files(self.layout.features_dir(self.source, self.spec),
                                                         suffix="features.parquet") if path in wanted]
        if not present:
            return None
        dataset = ds.dataset(present, format="parquet", filesystem=self.store.arrow_fs)
        return dataset.to_table(columns=columns or list(CACHE_COLUMNS), filter=filter)

    def add(self, rows: pd.DataFrame) -> int:
        """Merge new rows (content_hash, market, date, feature) into their date partitions, atomically; returns rows added."""
        added = 0
        for date, new in rows.groupby("date", sort=True):
            table = features_to_table(new.drop_duplicates("content_hash"))
            existing = self.read(str(date))
            if existing is not None:
                known = pc.is_in(existing.column("content_hash"), value_set=table.column("content_hash"))
                kept = existing.filter(pc.invert(known)).select(list(CACHE_COLUMNS)).cast(table.schema)
                table = pa.concat_tables([kept, table])
            self.store.write_table(self.partition(str(date)), table.sort_by("content_hash"))
            added += len(new)
        return added
