"""``build_samples``: one aligned, masked, labelled sample per (market, trading day) as a Ray Dataset.

Driver side: read prices (calendar and labels over the FULL history), ingest
each modality over the range (audio and news with their look-back), compute
uncached features, plan which cached items belong to which sample. Workers:
read the few cache partitions a block needs and stack fixed-shape arrays.
A missing modality is zeros with mask 0, never a made-up value.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import ray

from storm.config import FeatureConfig, LabelConfig, StorageConfig, StormConfig
from storm.features.alignment import alignment_plan, evidence_start, sample_keys, trading_calendars
from storm.features.cache import FeatureCache, feature_spec_id
from storm.features.featurize import ModalityFeatures, featurize
from storm.features.image import price_window, rendered_chart_tensor
from storm.ingest import IngestReport, read_prices
from storm.ingest.quarantine import write_quarantine
from storm.ingest.readers import INGESTERS
from storm.labels import label_table
from storm.ray_runtime import ensure_ray
from storm.schema import FWD_VOL, MODALITIES, SAMPLE_KEYS, storm_column
from storm.store import Layout, ObjectStore, open_store

ASSEMBLY_BATCH_ROWS = 64
KEY_COLUMNS = ("market", "date")  # strings: drop them (select tensor_columns) before iter_torch_batches


def tensor_columns(labels: LabelConfig) -> list[str]:
    """The numeric sample columns, model inputs then labels: what ``iter_torch_batches`` can turn into tensors."""
    return [k for k in SAMPLE_KEYS if k not in KEY_COLUMNS] + [storm_column(h) for h in labels.horizons] + [FWD_VOL]


@dataclass
class SampleSet:
    dataset: ray.data.Dataset  # SAMPLE_KEYS + storm_{h}d + fwd_log_vol, one row per (market, trading day)
    report: IngestReport
    markets: list[str]
    dates: list[str]
    computed: dict[str, int] = field(default_factory=dict)  # features computed this run (cache misses) per modality


def assemble_sample(text_features: list[np.ndarray], chart: np.ndarray | None, mel: np.ndarray | None,
                    features: FeatureConfig) -> dict[str, np.ndarray]:
    """One sample's model inputs from its items' features; zeros and mask 0 where a modality is absent."""
    text_emb = np.zeros((features.max_headlines, features.text_dim), dtype=np.float32)
    count = min(len(text_features), features.max_headlines)
    for slot, embedding in enumerate(text_features[:count]):
        text_emb[slot] = embedding
    image = chart if chart is not None else np.zeros((1, features.image_size, features.image_size), dtype=np.float32)
    audio = mel if mel is not None else np.zeros((features.n_mels, features.audio_frames), dtype=np.float32)
    mask = np.array([count > 0, chart is not None, mel is not None], dtype=np.float32)
    return {"text_emb": text_emb, "text_count": np.int32(count), "image": image.astype(np.float32),
            "audio_mel": audio.astype(np.float32), "modality_mask": mask}


def assemble_batch(plan: dict[str, np.ndarray], storage: StorageConfig, features: FeatureConfig, specs: dict[str, str],
                   prices: pd.DataFrame | None, label_columns: list[str]) -> dict[str, np.ndarray]:
    """Ray task: a block of the alignment plan -> stacked sample arrays, reading only the partitions it needs."""
    store = open_store(storage)
    layout = Layout(store)
    caches = {m: FeatureCache(store, layout, m, specs[m]) for m in MODALITIES}
    text = caches["text"].load([str(d) for dates in plan["text_dates"] for d in dates])
    charts = caches["image"].load([str(d) for d, h in zip(plan["date"], plan["chart_hash"]) if _given(h)])
    mels = caches["audio"].load([str(d) for d in plan["audio_date"] if _given(d)])
    samples = []
    for row in range(len(plan["market"])):
        market, date = str(plan["market"][row]), str(plan["date"][row])
        headlines = [text[h] for h in plan["text_hashes"][row] if h in text]
        chart = charts.get(plan["chart_hash"][row]) if _given(plan["chart_hash"][row]) else None
        if chart is None and prices is not None:
            window = price_window(prices[prices["market"] == market], date, features.chart_days)
            chart = rendered_chart_tensor(window, features.image_size) if len(window) else None
        mel = mels.get(plan["audio_hash"][row]) if _given(plan["audio_hash"][row]) else None
        samples.append(assemble_sample(headlines, chart, mel, features))
    stacked = {key: np.stack([s[key] for s in samples]) for key in samples[0]} if samples else {}
    labels = {column: np.asarray(plan[column], dtype=np.float32) for column in label_columns}
    return {"market": np.asarray(plan["market"]).astype(str), "date": np.asarray(plan["date"]).astype(str), **stacked, **labels}


def _given(value) -> bool:
    """A present plan cell: a non-empty string (absent cells arrive as None or NaN)."""
    return isinstance(value, str) and bool(value)


def build_samples(config: StormConfig, start: str, end: str) -> SampleSet:
    """Aligned samples for every (market, trading day) in [start, end], features cached, labels attached."""
    started = time.perf_counter()
    ensure_ray(config.ray)
    store = open_store(config.storage)
    layout = Layout(store)
    prices = read_prices(store, layout)
    calendars = trading_calendars(prices)
    keys = sample_keys(calendars, start, end)
    if keys.empty:
        raise ValueError(f"no trading days between {start} and {end} in {layout.prices_dir()}; "
                         "check the dates or generate/copy prices first")
    features = config.features
    specs = {m: feature_spec_id(features, m) for m in MODALITIES}
    windows = {"text": evidence_start(calendars, start, features.news_lookback_days), "image": start,
               "audio": evidence_start(calendars, start, features.audio_lookback_days)}
    report = IngestReport(start=start, end=end, counts={}, quarantine_dir=layout.quarantine_dir())
    items = {m: _ingest_and_featurize(m, store, layout, config, specs[m], windows[m], start, end, report) for m in MODALITIES}
    plan = alignment_plan(keys, items["text"].items, items["image"].items, items["audio"].items, calendars,
                          features.max_headlines, features.audio_lookback_days, features.news_lookback_days)
    labels = label_table(prices, config.labels)
    label_columns = [storm_column(h) for h in config.labels.horizons] + [FWD_VOL]
    plan = plan.merge(labels[["market", "date", *label_columns]], on=["market", "date"], how="left")
    dataset = _assemble(plan, store, config, specs, prices, label_columns)
    _count_missing(report, plan)
    report.seconds = time.perf_counter() - started
    return SampleSet(dataset=dataset, report=report, markets=sorted(keys["market"].unique()),
                     dates=sorted(keys["date"].unique()), computed={m: items[m].computed for m in MODALITIES})


def _ingest_and_featurize(modality: str, store: ObjectStore, layout: Layout, config: StormConfig, spec: str,
                          read_from: str, start: str, end: str, report: IngestReport) -> ModalityFeatures:
    """Ingest [read_from, end], cache new features, write quarantine; count what lies in [start, end] into report."""
    ingested = INGESTERS[modality](store, layout, read_from, end, config.ingest)
    cache = FeatureCache(store, layout, modality, spec)
    items = featurize(ingested.ok, modality, cache, cache.dates_between(read_from, end), config.features, config.ingest)
    rejected = ingested.quarantined.take_all()
    report.quarantine_files += write_quarantine(store, layout, modality, rejected, read_from, end)
    report.counts[modality] = {"ok": _dated_between(items.items, start, end),
                               "quarantined": sum(start <= str(r["date"]) <= end for r in rejected)}
    return items


def _assemble(plan: pd.DataFrame, store: ObjectStore, config: StormConfig, specs: dict[str, str],
              prices: pd.DataFrame, label_columns: list[str]) -> ray.data.Dataset:
    render_prices = None
    if config.features.render_missing_charts:
        needs_chart = plan.loc[[not _given(h) for h in plan["chart_hash"]], "market"].unique()
        render_prices = prices[prices["market"].isin(needs_chart)].reset_index(drop=True)
    table = pa.Table.from_pandas(plan, preserve_index=False)
    blocks = [table.slice(offset, ASSEMBLY_BATCH_ROWS) for offset in range(0, len(plan), ASSEMBLY_BATCH_ROWS)]
    return ray.data.from_arrow(blocks).map_batches(
        assemble_batch, batch_size=ASSEMBLY_BATCH_ROWS, batch_format="numpy",
        fn_kwargs={"storage": config.storage, "features": config.features, "specs": specs, "prices": render_prices,
                   "label_columns": label_columns},
    ).materialize()


def _dated_between(items: pd.DataFrame, start: str, end: str) -> int:
    return int(((items["date"] >= start) & (items["date"] <= end)).sum()) if len(items) else 0


def _count_missing(report: IngestReport, plan: pd.DataFrame) -> None:
    """As run_ingest counts it: (market, trading day) pairs with no good item of that modality dated that day."""
    has_text = plan["text_dates"].map(lambda dates: len(dates) > 0)
    has_chart = plan["chart_hash"].map(_given)
    has_audio = [_given(d) and d == date for d, date in zip(plan["audio_date"], plan["date"])]
    for modality, present in zip(MODALITIES, (has_text, has_chart, has_audio)):
        report.counts[modality]["missing"] = int(len(plan) - np.sum(np.asarray(present, dtype=bool)))
