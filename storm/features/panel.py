"""The evidence panel: one row of per-day evidence per (market, trading day), built from the feature cache.

A sample for (market, D) is a window of the past ``features.window_days`` rows of
its market (storm.features.windows). Windows overlap almost entirely, so the
heavy tensors are held once per day here and windows are gathered as indices at
batch time: nothing is duplicated or recomputed per window.

Per row: the day's headlines mean-pooled (MiniLM sentence embeddings average
well; the temporal encoder weighs the days) and their count, the day's price
features, the day's chart (given PNG, else drawn from prices), and the indices
of the most recent conferences inside the window (their log-mel statistics held once).
Labels come from the full price history, NaN where the future is unknown.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from storm.config import FeatureConfig, StormConfig
from storm.console import SILENT, StageReporter
from storm.features.alignment import effective_day_index, evidence_start, trading_calendars
from storm.features.audio import call_statistics
from storm.features.cache import SPEC_SOURCES, FeatureCache, feature_spec_id
from storm.features.calls import (RECORDING_READING_CALL_ENCODERS, TABLE_READING_CALL_ENCODERS, call_feature_spec_id,
                                  call_vector_dim, resolved_calls_encoder)
from storm.features.evidence_panel import EvidencePanel, recent_conferences
from storm.features.batch_features import ITEM_KEYS
from storm.features.featurize import SourceFeatures, featurize
from storm.features.calm_reference import calm_reference
from storm.features.image import PRICE_READING_CHART_ENCODERS, price_window, rendered_chart_tensor
from storm.features.price_history import price_inputs, quant_price_features
from storm.features.wire import readable_wire, wire_days
from storm.ingest import IngestReport
from storm.ingest.dates import DateRange
from storm.ingest.prices import PricesRead, load_prices
from storm.ingest.sources import MARKET_WIDE_SOURCES
from storm.ingest.window import ingest_source, quarantine_prices, quarantine_source
from storm.labels import label_table, market_starts
from storm.ray_runtime import ensure_ray
from storm.schema import FWD_VOL, storm_column
from storm.store import Layout, ObjectStore, open_store

log = logging.getLogger(__name__)


@dataclass
class IngestedEvidence:
    """What one ingest-and-features pass produced: the evidence panel, and what the pass read, skipped and computed."""

    panel: EvidencePanel
    report: IngestReport
    markets: list[str]
    dates: list[str]                                          # trading dates in [start, end]
    computed: dict[str, int] = field(default_factory=dict)    # features computed this run (cache misses)
    skipped_markets: dict[str, str] = field(default_factory=dict)  # market -> why it is not in the panel
    # market, date, QUANT_FEATURES of the panel's markets (WindowEvidence.quant): the boosted member reads the same
    # table, and the same universe index, as the neural prices encoder; None: the caller computes it from prices
    quant: pd.DataFrame | None = None


@dataclass
class WindowEvidence:
    """Every market's ingested items over a window, featurised and cached: what panels of any markets are built from.

    Holds the items' keys only (market, date, content hash); the features stay in the cache until a panel
    of some markets places them, so a scan can assemble its universe a batch of markets at a time.
    """

    config: StormConfig
    store: ObjectStore
    layout: Layout
    start: str
    end: str
    read_from: str                                   # the first day any market's window reaches back to
    prices: pd.DataFrame                             # sorted by market, date (as read_prices returns them)
    calendars: dict[str, np.ndarray]
    items: dict[str, SourceFeatures]
    caches: dict[str, FeatureCache]
    report: IngestReport
    # market, date, QUANT_FEATURES, row for row with ``prices``: computed once over every market, so a batch of
    # markets reads the engineered features against the same universe index as the whole world, and the desk's
    # boosted member reads this very table
    quant: pd.DataFrame
    price_inputs: np.ndarray  # [len(prices), len(PRICE_INPUTS)]: the daily readings and ``quant`` on fixed scales
    skipped_markets: dict[str, str] = field(default_factory=dict)

    @property
    def markets(self) -> list[str]:
        return sorted(self.calendars)


def ingested_evidence(config: StormConfig, start: str, end: str, progress: StageReporter = SILENT,
                store: ObjectStore | None = None) -> IngestedEvidence:
    """Evidence rows for every market from ``window_days - 1`` trading days before ``start`` to ``end``.

    Reads only the raw partitions and cache partitions that can be evidence for [start, end].
    """
    began = time.perf_counter()
    window = ingest_window(config, start, end, progress, store)
    panel, chart_given = assemble_panel(window)
    report = window.report
    _count_missing(report, panel, chart_given, start, end)
    report.seconds = time.perf_counter() - began
    dates = sorted(set(panel.date[panel.date >= start]))
    return IngestedEvidence(panel=panel, report=report, markets=window.markets, dates=dates,
                            computed={m: window.items[m].computed for m in window.items},
                            skipped_markets=window.skipped_markets, quant=window.quant)


def ingest_window(config: StormConfig, start: str, end: str, progress: StageReporter = SILENT,
                  store: ObjectStore | None = None, prices: PricesRead | None = None) -> WindowEvidence:
    """Ingest and featurise every source's items that can be evidence for [start, end]: one pass over raw inputs,
    validated and quarantined by storm.ingest.window (as `storm ingest` does), prices included.

    ``prices``: every market's prices as ``load_prices`` returned them, when the caller has read them already.
    """
    ensure_ray(config.ray)
    store = store or open_store(config.storage)  # the caller's, when it has the configured store open
    layout = Layout(store)
    report = IngestReport(start=start, end=end, counts={}, quarantine_dir=layout.quarantine_dir())
    loaded = load_prices(store, layout, dates=DateRange.of(config.ingest)) if prices is None else prices
    prices, skipped = _enough_history(quarantine_prices(store, layout, loaded, start, end, report),
                                      config.features.min_history_days)
    calendars = trading_calendars(prices)
    quant = quant_price_features(prices)  # once: the neural encoder's engineered inputs and the boosted member's
    features = config.features
    if not (panel_rows(calendars, start, end, features.window_days)["date"] >= start).any():
        raise ValueError(f"no trading days between {start} and {end} in {layout.prices_dir()}; "
                         "check the dates or generate/copy prices first")
    read_from = evidence_start(calendars, start, features.window_days - 1)
    specs = {s: feature_spec_id(features, s) for s in SPEC_SOURCES}
    if store.list_files(layout.call_tables_dir()):  # per-sentence call tables (storm import calls), read as calls
        specs["calls"] = call_feature_spec_id(features)
    report.unread = unread_sources(config, holds_call_tables="calls" in specs)
    specs = {source: spec for source, spec in specs.items() if source not in report.unread}
    items = {}
    for source in specs:
        with progress.stage(f"ingest and features: {source} {read_from} .. {end}"):
            items[source] = _ingest_and_featurize(source, store, layout, config, specs[source], read_from, start,
                                                  end, report, progress)
    return WindowEvidence(config=config, store=store, layout=layout, start=start, end=end, read_from=read_from,
                          prices=prices,
                          calendars=calendars, items=items,
                          caches={m: FeatureCache(store, layout, m, specs[m]) for m in specs}, report=report,
                          skipped_markets=skipped, quant=quant, price_inputs=price_inputs(prices, quant))


def unread_sources(config: StormConfig, holds_call_tables: bool) -> dict[str, str]:
    """Sources the configured model never reads, each with why: they are neither decoded nor featurised
    (`storm ingest` still validates every source). A chart encoder that reads prices needs no chart pixels; a calls
    encoder reads recordings' log-mels, call tables, or both; a modality left out of the model needs nothing."""
    model = config.model
    calls_encoder = resolved_calls_encoder(model.calls_encoder, holds_call_tables)
    unread = {}
    if "news" not in model.modalities:
        unread["news"] = unread["wire"] = "news is not in model.modalities"
    elif not model.news_wire:
        unread["wire"] = "model.news_wire is false: the news encoder reads the market's own news only"
    if "prices" not in model.modalities:
        unread["charts"] = "prices is not in model.modalities"
    elif not _reads_pixels(config) and config.features.render_missing_charts:  # else given PNGs decide presence
        unread["charts"] = f"model.prices_encoder={model.prices_encoder} reads prices, not chart pixels"
    if "calls" not in model.modalities:
        unread["audio"] = unread["calls"] = "calls is not in model.modalities"
    else:
        if calls_encoder not in RECORDING_READING_CALL_ENCODERS:
            unread["audio"] = f"calls encoder {calls_encoder} reads call tables, not recordings"
        if calls_encoder not in TABLE_READING_CALL_ENCODERS:
            unread["calls"] = f"calls encoder {calls_encoder} reads recordings, not call tables"
    return unread if holds_call_tables else {source: why for source, why in unread.items() if source != "calls"}


def assemble_panel(window: WindowEvidence, markets: Sequence[str] | None = None,
                   with_calm_reference: bool = False) -> tuple[EvidencePanel, np.ndarray]:
    """(the panel of ``markets``, default all, and which of its rows had a given chart) from ingested evidence.

    Loads from the feature cache only the features these markets' rows place. ``with_calm_reference``: also each scored
    row's calm price reference (``price_calm``, what explanations measure price readings against).
    """
    config, features = window.config, window.config.features
    calendars, prices, items = window.calendars, window.prices, window.items
    readings = window.price_inputs
    if markets is not None:
        chosen = set(markets)
        calendars = {m: days for m, days in calendars.items() if m in chosen}
        kept = prices["market"].isin(chosen).to_numpy()
        prices, readings = prices[kept], readings[kept]
        items = {source: SourceFeatures(items=found.items[found.items["market"].isin(chosen)], computed=found.computed)
                 if source not in MARKET_WIDE_SOURCES else found for source, found in items.items()}
    caches = window.caches
    rows = panel_rows(calendars, window.start, window.end, features.window_days)
    rows["row_of_day"] = np.arange(len(rows))
    text_day, text_count = _daily_text(rows, items.get("news"), caches.get("news"), calendars, features)
    wire_day, wire_count = _daily_wire(rows, items.get("wire"), caches.get("wire"), calendars, features)
    chart, has_chart, chart_given = _daily_charts(rows, items.get("charts"), caches.get("charts"), prices, features,
                                                  draw=_reads_pixels(config))
    conference_stats, conference_row = _conferences(rows, items.get("audio"), caches.get("audio"), calendars, features)
    call_vector, call_row = _call_tables(rows, items.get("calls"), caches.get("calls"), calendars, features)
    market_start = _market_start(rows)
    at_price_row = _price_row(rows, prices)
    labels = label_table(prices, config.labels).iloc[at_price_row]  # labels come in the prices' order
    panel = EvidencePanel(
        market=rows["market"].to_numpy(str), date=rows["date"].to_numpy(str), market_start=market_start,
        text_day=text_day, text_count=text_count, wire_day=wire_day, wire_count=wire_count,
        price=readings[at_price_row], chart=chart,
        has_chart=has_chart,
        conference_stats=conference_stats, conference_row=conference_row,
        recent_conferences=recent_conferences(conference_row, market_start, features.window_days, features.max_conferences),
        call_vector=call_vector, call_row=call_row,
        recent_calls=recent_conferences(call_row, market_start, features.window_days, features.max_conferences),
        labels=labels[[storm_column(h) for h in config.labels.horizons]].to_numpy(np.float32),
        fwd_log_vol=labels[FWD_VOL].to_numpy(np.float32), horizons=list(config.labels.horizons),
        window_days=features.window_days,
    )
    if with_calm_reference:
        panel.price_calm = _calm_references(panel, readings, prices, at_price_row, window.start)
    return panel, chart_given


def _calm_references(panel: EvidencePanel, readings: np.ndarray, prices: pd.DataFrame, at_price_row: np.ndarray,
                     start: str) -> np.ndarray:
    """[N, F]: each scored row's window's calm reference, from its market's whole price history; NaN before ``start``."""
    scored = np.flatnonzero(panel.date >= start)
    window_start = np.maximum(panel.market_start[scored], scored - (panel.window_days - 1))
    calm = np.full((len(panel), readings.shape[1]), np.nan, dtype=np.float32)
    calm[scored] = calm_reference(readings, prices["market"].to_numpy(), at_price_row[window_start])
    return calm


def _enough_history(prices: pd.DataFrame, min_days: int) -> tuple[pd.DataFrame, dict[str, str]]:
    """Markets with fewer than ``min_days`` trading days are left out of the panel, each with a message.

    Calendars are per market (listings, delistings, halts and holidays differ), so a short market
    costs nothing to the others; it is only too short to learn or score anything from.
    """
    days = prices.groupby("market")["date"].size()
    short = days[days < min_days]
    skipped = {market: f"only {count} trading day(s) of prices (features.min_history_days={min_days}); skipped"
               for market, count in short.items()}
    for market, message in skipped.items():
        log.warning("market %s: %s", market, message)
    return (prices[~prices["market"].isin(short.index)].reset_index(drop=True) if skipped else prices), skipped


def panel_rows(calendars: dict[str, np.ndarray], start: str, end: str, window_days: int) -> pd.DataFrame:
    """market, date, market_index: per market its trading days from window_days - 1 before start to end."""
    markets, spans = [], []
    for market, dates in sorted(calendars.items()):
        first = max(0, int(np.searchsorted(dates, start, side="left")) - (window_days - 1))
        last = int(np.searchsorted(dates, end, side="right"))
        if last > first:
            markets.append(market)
            spans.append((dates, first, last))
    if not spans:
        return pd.DataFrame(columns=["market", "date", "market_index"])
    lengths = [last - first for _, first, last in spans]
    return pd.DataFrame({"market": np.repeat(np.array(markets, dtype=object), lengths),
                         "date": np.concatenate([dates[first:last] for dates, first, last in spans]),
                         "market_index": np.concatenate([np.arange(first, last) for _, first, last in spans])})


def _price_row(rows: pd.DataFrame, prices: pd.DataFrame) -> np.ndarray:
    """Each panel row's position in ``prices`` (sorted by market, date: a market's i-th trading day is its i-th row)."""
    market = prices["market"].to_numpy()
    first_row = np.flatnonzero(market_starts(market))
    offset = pd.Series(first_row, index=market[first_row])
    return offset.reindex(rows["market"].to_numpy()).to_numpy(np.int64) + rows["market_index"].to_numpy(np.int64)


def _market_start(rows: pd.DataFrame) -> np.ndarray:
    first_of_market = rows.groupby("market", sort=False)["row_of_day"].transform("min")
    return first_of_market.to_numpy(np.int64)


def _row_index(rows: pd.DataFrame, items: pd.DataFrame, calendars: dict[str, np.ndarray]) -> np.ndarray:
    """The panel row each item is evidence from (its date, or the next trading day); -1 outside the panel."""
    if items.empty:
        return np.zeros(0, dtype=np.int64)
    day = effective_day_index(items, calendars).to_numpy()
    lookup = {(m, i): r for m, i, r in zip(rows["market"], rows["market_index"], rows["row_of_day"])}
    return np.array([lookup.get((m, int(d)), -1) for m, d in zip(items["market"], day)], dtype=np.int64)


def _daily_text(rows: pd.DataFrame, found: SourceFeatures | None, cache: FeatureCache | None, calendars,
                features: FeatureConfig):
    text_day = np.zeros((len(rows), features.text_dim), dtype=np.float32)
    text_count = np.zeros(len(rows), dtype=np.float32)
    if found is None or found.items.empty:  # no news, or not read
        return text_day, text_count
    news = found.items
    placed = news.assign(row=_row_index(rows, news, calendars))
    placed = placed[placed["row"] >= 0].sort_values(["row", "date", "source_path", "content_hash"], kind="stable")
    placed = placed.groupby("row", sort=False).tail(features.max_headlines)  # a flood of one day: the latest win
    embeddings = cache.load(placed["date"].astype(str).unique().tolist(), placed["content_hash"])
    known = placed[placed["content_hash"].isin(embeddings.keys())]
    if known.empty:
        return text_day, text_count
    vectors = np.stack([embeddings[h] for h in known["content_hash"]]).astype(np.float32)
    row_of_item = known["row"].to_numpy()
    np.add.at(text_day, row_of_item, vectors)
    np.add.at(text_count, row_of_item, 1.0)
    text_day /= np.maximum(text_count, 1.0)[:, None]
    return text_day, text_count


def _daily_wire(rows: pd.DataFrame, found: SourceFeatures | None, cache: FeatureCache | None, calendars,
                features: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """The market-wide wire's mean embedding and count per row, each item on every market's own trading day
    (storm.features.wire); (None, None) without a wire (the panel holds zeros)."""
    if found is None or found.items.empty:
        return None, None
    readable = readable_wire(found.items, features.max_headlines)
    embeddings = cache.load(readable["date"].astype(str).unique().tolist(), readable["content_hash"])
    return wire_days(rows, readable, embeddings, calendars, features.max_headlines, features.text_dim)


def _reads_pixels(config: StormConfig) -> bool:
    return config.model.prices_encoder not in PRICE_READING_CHART_ENCODERS


def _daily_charts(rows: pd.DataFrame, found: SourceFeatures | None, cache: FeatureCache | None, prices: pd.DataFrame,
                  features: FeatureConfig, draw: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(chart pixels, has a chart, was given as a PNG) per row; missing PNGs drawn from prices if configured.

    With ``draw`` False (the chart encoder reads prices, not pixels) the panel holds no pixels ([N, 0, 0]) and
    nothing is rendered: every row with prices has its chart modality, as the window of prices the encoder reads
    (charts are then not even read, ``found`` None, unless given PNGs alone decide the modality:
    ``features.render_missing_charts`` False).
    """
    size = features.chart_size if draw else 0
    chart = np.zeros((len(rows), size, size), dtype=np.uint8)
    has_chart = np.zeros(len(rows), dtype=bool)
    if found is not None and not found.items.empty:
        charts = found.items
        latest = charts.sort_values(["market", "date", "source_path"], kind="stable").drop_duplicates(["market", "date"], keep="last")
        placed = rows.merge(latest[["market", "date", "content_hash"]], on=["market", "date"], how="inner")
        tensors = cache.load(placed["date"].astype(str).unique().tolist(), placed["content_hash"])
        for row, content_hash in zip(placed["row_of_day"], placed["content_hash"]):
            if content_hash in tensors:
                if draw:
                    chart[row] = _to_uint8(tensors[content_hash])
                has_chart[row] = True
    given = has_chart.copy()
    if features.render_missing_charts and not draw:
        has_chart[:] = True  # every panel row is a trading day with prices
    elif features.render_missing_charts:
        history_of = dict(tuple(prices.groupby("market", sort=False)))
        for market, group in rows[~has_chart].groupby("market", sort=False):
            history = history_of[market]
            for row, date in zip(group["row_of_day"], group["date"]):
                window = price_window(history, str(date), features.chart_days)
                if len(window):
                    chart[row] = _to_uint8(rendered_chart_tensor(window, size))
                    has_chart[row] = True
    return chart, has_chart, given


def _to_uint8(tensor: np.ndarray) -> np.ndarray:
    """A chart tensor in [-1, 1] ([1, S, S] or [S, S]) as uint8 pixels (lossless for 8-bit charts)."""
    return np.clip(np.rint((np.asarray(tensor).reshape(tensor.shape[-2:]) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def _conferences(rows: pd.DataFrame, found: SourceFeatures | None, cache: FeatureCache | None, calendars,
                 features: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """(each recorded call's log-mel statistics [C, 3 * n_mels], once; the row each is evidence from)."""
    empty = (np.zeros((0, 3 * features.n_mels), dtype=np.float32), np.zeros(0, dtype=np.int64))
    if found is None or found.items.empty:  # no recordings, or not read
        return empty
    audio = found.items
    placed = audio.assign(row=_row_index(rows, audio, calendars))
    placed = placed[placed["row"] >= 0].sort_values(["row", "date", "event", "content_hash"], kind="stable")
    mels = cache.load(placed["date"].astype(str).unique().tolist(), placed["content_hash"])
    placed = placed[placed["content_hash"].isin(mels.keys())].drop_duplicates(["row", "content_hash"])
    if placed.empty:
        return empty
    return call_statistics([mels[h] for h in placed["content_hash"]], features.n_mels), placed["row"].to_numpy(np.int64)


def _call_tables(rows: pd.DataFrame, calls: SourceFeatures | None, cache: FeatureCache | None, calendars,
                 features: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """(call vectors [C, call_vector_dim] of the per-sentence call tables, each once; the row each is evidence from).

    A call dated on a non-trading day counts from its market's next trading day, as every item does.
    """
    empty = (np.zeros((0, call_vector_dim(features.text_dim)), dtype=np.float32), np.zeros(0, dtype=np.int64))
    if calls is None or calls.items.empty:
        return empty
    placed = calls.items.assign(row=_row_index(rows, calls.items, calendars))
    placed = placed[placed["row"] >= 0].sort_values(["row", "date", "event", "content_hash"], kind="stable")
    vectors = cache.load(placed["date"].astype(str).unique().tolist(), placed["content_hash"])
    placed = placed[placed["content_hash"].isin(vectors.keys())].drop_duplicates(["row", "content_hash"])
    if placed.empty:
        return empty
    return np.stack([vectors[h] for h in placed["content_hash"]]).astype(np.float32), placed["row"].to_numpy(np.int64)


def _ingest_and_featurize(source: str, store: ObjectStore, layout: Layout, config: StormConfig, spec: str,
                        read_from: str, start: str, end: str, report: IngestReport,
                        progress: StageReporter = SILENT) -> SourceFeatures:
    """Ingest [read_from, end], cache new features, write quarantine; count what lies in [start, end] into report."""
    cache = FeatureCache(store, layout, source, spec)
    dates = cache.dates_between(read_from, end)
    known = frozenset(cache.cached_hashes(dates))  # featurised before: checked, never decoded again
    ingested = ingest_source(source, store, layout, config.ingest, config.features, read_from, end, known)
    if ingested.nothing_listed:  # no Ray Data job for an empty source (5 s of a one-day scan)
        items = SourceFeatures(items=pd.DataFrame(columns=list(ITEM_KEYS[source])), computed=0)
    else:
        items = featurize(ingested.ok, source, cache, dates, config.features, config.ingest, cached=known,
                          progress=progress)
    quarantine_source(store, layout, source, ingested, read_from, start, end, report)
    report.counts[source]["ok"] = _dated_between(items.items, start, end)
    return items


def _dated_between(items: pd.DataFrame, start: str, end: str) -> int:
    return int(((items["date"] >= start) & (items["date"] <= end)).sum()) if len(items) else 0


def _count_missing(report: IngestReport, panel: EvidencePanel, chart_given: np.ndarray, start: str, end: str) -> None:
    """As run_ingest counts it: (market, trading day) pairs in [start, end] with no good item of that source that day."""
    in_range = (panel.date >= start) & (panel.date <= end)
    conference_days = np.zeros(len(panel), dtype=bool)
    conference_days[panel.conference_row] = True
    call_days = np.zeros(len(panel), dtype=bool)
    call_days[panel.call_row] = True
    present = {"news": panel.text_count > 0, "wire": panel.wire_count > 0, "charts": chart_given,
               "audio": conference_days, "calls": call_days}
    for source in (s for s in present if s in report.counts):
        report.counts[source]["missing"] = int(np.sum(in_range & ~present[source]))
