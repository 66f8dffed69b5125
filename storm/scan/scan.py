"""Score trading days with a trained model: every market's inputs ingested once (Ray Data), then scored a batch of
markets at a time (``scan.market_batch``), so the scan's memory does not grow with the universe. The batches are
scored on one Ray actor, or in the scan's own process on a one-node CPU cluster (``scan.scoring``).

Each score comes with its explanation (storm.explain): exact Shapley values of the modalities and the
headlines, price readings and calls that moved it, computed by the same actor from the same encoding and
stored beside the scores (scores/date=D/explanations.parquet) once the date's lease is held.

Order of work is what makes a night safe: scores for every date are written
to the object store (atomically, replacing any earlier run of that date)
before anything is pushed, so a failed push loses nothing and
``storm metrics push --date D`` can republish later.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import ray

from storm.config import StormConfig
from storm.console import SILENT, StageReporter
from storm.explain.attribution import explain_batch
from storm.explain.headlines import HeadlineBook, read_headline_book, read_news_lines
from storm.explain.sources import item_sources
from storm.explain.table import contributions_by_horizon, explanations_table, sample_rows
from storm.features.evidence_panel import EvidencePanel
from storm.features.panel import WindowEvidence, assemble_panel, ingest_window
from storm.features.windows import gather_windows
from storm.ingest import read_prices
from storm.ingest.window import no_prices, stored_prices
from storm.ray_runtime import ensure_ray
from storm.metrics.publish import PublishResult
from storm.metrics.stored import write_scan_stats
from storm.desk.product import ProductModel
from storm.scan.coherence import check_horizon_order
from storm.scan.product_scores import with_product
from storm.scan.night_report import night_html, scan_summary
from storm.scan.score_store import write_day_explanations, write_day_report, write_day_scores
from storm.scan.scores import input_counts, scores_table
from storm.schema import MODALITIES, MODALITY_SOURCES, ScanStats
from storm.store import Layout, ObjectStore, open_store
from storm.published.artifacts import PublishedModel, read_model
from storm.published.predictor import card_model_settings, predictor_from_published


@dataclass
class ScanOutcome:
    dates: list[str]
    scores: dict[str, pd.DataFrame]          # date -> stored scores table
    stats: dict[str, ScanStats]
    model_version: str
    published: PublishResult | None = None   # what the metrics publisher returned for the last date
    publish_error: Exception | None = None   # set when the push failed after retries; scores are stored
    score_paths: dict[str, str] = field(default_factory=dict)
    explanations: dict[str, pd.DataFrame] = field(default_factory=dict)  # date -> stored explanations (if explained)
    report_paths: dict[str, str] = field(default_factory=dict)  # date -> the night's page (storm.scan.night_report)


class ScoringActor:
    """Holds the one model version the scan loaded; scores (and explains) rows of the panels it is given.

    One actor serves the whole scan (the model is loaded once); the scan hands it one batch of markets'
    panel at a time, so what it holds does not grow with the universe.
    """

    def __init__(self, published: PublishedModel | ray.ObjectRef, explain: bool = False):
        """`published` may be an object-store reference (ray.put once by the scan)."""
        self.predictor = predictor_from_published(_resolved(published))
        self.explain = explain

    def score(self, panel: EvidencePanel, rows: np.ndarray, headlines: HeadlineBook | None = None) -> pd.DataFrame:
        """One prediction row per panel row in ``rows``: market, date, scores, present_<modality>, explanations."""
        windows = gather_windows(panel, rows)
        predicted = self.predictor.predict(windows)
        present = windows["modality_mask"] > 0.5
        out = {"market": windows["market"], "date": windows["date"], **predicted}
        for index, modality in enumerate(MODALITIES):
            out[f"present_{modality}"] = present[:, index]
        if self.explain:
            out.update(self._explained(panel, rows, windows, headlines))
        return pd.DataFrame({name: list(column) if np.ndim(column) > 1 else column for name, column in out.items()})

    def _explained(self, panel: EvidencePanel, rows, windows: dict, headlines: HeadlineBook | None) -> dict:
        """contribution_<m>_<h>d columns and, per sample, its explanation rows."""
        explanation = explain_batch(self.predictor, windows, item_sources(panel, rows, headlines))
        per_sample = np.empty(len(rows), dtype=object)  # each sample's explanation rows, a list of dicts
        for i in range(len(rows)):
            per_sample[i] = sample_rows(explanation, i)
        return {**contributions_by_horizon(explanation), "explanation": per_sample}


def _resolved(value):
    return ray.get(value) if isinstance(value, ray.ObjectRef) else value


def trading_days(store: ObjectStore, layout: Layout, start: str | None, end: str | None) -> tuple[list[str], list[str]]:
    """(trading days in [start, end], all markets) from raw prices; no dates given = the last completed day."""
    return days_and_markets(read_prices(store, layout), layout, start, end)


def days_and_markets(prices: pd.DataFrame, layout: Layout, start: str | None,
                     end: str | None) -> tuple[list[str], list[str]]:
    """(trading days of ``prices`` in [start, end], all their markets); no dates given = the last day."""
    if prices.empty:
        raise no_prices(layout)
    days = sorted(prices["date"].astype(str).unique())
    markets = sorted(prices["market"].unique())
    if start is None and end is None:
        return [days[-1]], markets
    start = start or days[0]
    end = end or days[-1]
    return [d for d in days if start <= d <= end], markets


def scan(config: StormConfig, start: str | None = None, end: str | None = None, publish: bool = True,
         candidate: bool = False, force: bool = False, progress: StageReporter = SILENT,
         explain: bool = True) -> ScanOutcome:
    """Score each trading day in [start, end] (default: the last one), store the scores, publish the last day.

    `explain` (default) also attributes every score (storm.explain) and stores the explanations beside it;
    the scores are the same either way, only the weight_<modality> columns hold the contributions.

    A date's scores belong to the model version that first wrote them (a lease); another version is refused
    (ScoresOwnedByOtherVersion) unless `force`. `candidate` scans the run into its own namespace and metrics group.
    """
    from storm.metrics import PushFailed, build_registry, publish as publish_metrics, with_textfile

    ensure_ray(config.ray)
    store = open_store(config.storage)
    layout = Layout(store)
    began = time.time()
    loaded = stored_prices(store, layout, config.ingest)  # read once: the days to score, and every market's window
    prices = loaded.prices
    dates, markets = days_and_markets(prices, layout, start, end)
    if not dates:
        raise RuntimeError(f"no trading days between {start} and {end} in {layout.prices_dir()}")
    run = config.train.run_name
    namespace = run if candidate else None
    published = read_model(store, layout, run)  # loaded once, before any Ray work; the actors get this version
    version = published.card["version"]
    product = ProductModel.from_json(published.product) if published.product else None  # a stacked model
    calibration = product.calibration if product is not None else published.calibration
    thresholds = {int(h): float(t) for h, t in calibration.threshold.items()}
    horizons = sorted(thresholds)

    scorer = _Scorer(published, explain, config)  # an actor starts while the driver ingests
    try:
        model_side = {"labels": published.card["labels"],  # the model's window, features and encoders (what it reads);
                      "model": card_model_settings(published.card),  # data policy stays the user's
                      "features": {**published.card["features"],
                                   "render_missing_charts": config.features.render_missing_charts}}
        panel_config = config.with_overrides(model_side)
        window = ingest_window(panel_config, dates[0], dates[-1], progress, store, loaded)  # every input, read once
        with progress.stage(f"scan: scoring {len(markets)} markets x {len(dates)} day(s)"
                            + (", with explanations" if explain else "")
                            + f", {config.scan.market_batch} markets at a time"
                            + (" in this process" if scorer.local is not None else " on a Ray actor")):
            predictions = _predict(window, dates, scorer, config, explain)
    finally:
        scorer.close()
    if product is not None:
        with progress.stage(f"scan: the stack's members ({', '.join(product.used_members())}) on {len(markets)} markets"):
            predictions = with_product(predictions, product, prices, window.quant)
    outcome = ScanOutcome(dates=dates, scores={}, stats={}, model_version=version)
    elapsed_per_date = (time.time() - began) / len(dates)
    for date in dates:
        day = predictions[predictions["date"] == date]
        missing = sorted(set(markets) - set(day.loc[_any_present(day), "market"]))
        day = day[_any_present(day)]
        table = scores_table(day, horizons, thresholds, version)
        check_horizon_order(table)  # an incoherent day is refused, never stored or published
        outcome.score_paths[date] = write_day_scores(store, layout, date, table, version, namespace, force)
        if explain:  # the lease is ours now: write_day_scores refused otherwise
            outcome.explanations[date] = explanations_table(day["explanation"], day["market"], day["date"], version)
            write_day_explanations(store, layout, date, outcome.explanations[date], version, namespace)
        summary = scan_summary(table, date, tuple(missing), version)
        page = night_html(date, table, outcome.explanations.get(date), summary)
        outcome.report_paths[date] = write_day_report(store, layout, date, page, version, namespace)
        stats = ScanStats(
            date=date,
            duration_seconds=round(elapsed_per_date, 3),
            inputs=input_counts(day, _quarantined_on(store, layout, date), len(missing)),
            markets_missing=tuple(missing),
            finished_at=time.time(),
        )
        write_scan_stats(store, layout, stats, namespace)
        outcome.scores[date], outcome.stats[date] = table, stats

    if publish:
        last = dates[-1]
        model_info = {"version": version, "run": run, "fusion": config.model.fusion,
                      "label_kind": published.card.get("labels", {}).get("kind", "drawdown"),  # which storm it scores
                      "members": ",".join(product.used_members()) if product is not None else "fused"}
        registry = build_registry(outcome.scores[last], outcome.stats[last], model_info, thresholds)
        try:
            outcome.published = publish_metrics(registry, with_textfile(config.metrics, layout), date=last,
                                                candidate=namespace)
        except PushFailed as err:
            outcome.publish_error = err
    return outcome


def market_batches(markets: list[str], size: int) -> list[list[str]]:
    """The universe in batches of ``size`` markets, in order."""
    return [markets[i:i + size] for i in range(0, len(markets), size)]


class _Scorer:
    """The scan's ScoringActor: a Ray actor, or the object itself in this process (``scan.scoring``, see
    ScanConfig). Batches handed to an actor are scored while the driver assembles the next one."""

    def __init__(self, published: PublishedModel, explain: bool, config: StormConfig):
        self.local = ScoringActor(published, explain) if scores_in_driver(config) else None
        self.actor = None
        if self.local is None:
            use_gpu = bool(ray.cluster_resources().get("GPU", 0))
            self.actor = ray.remote(ScoringActor).options(
                num_cpus=0 if use_gpu else 1, num_gpus=1 if use_gpu else 0,
                resources=config.ray.worker_resources or None,
            ).remote(ray.put(published), explain)

    def submit(self, panel: EvidencePanel, chunks: list[np.ndarray], headlines: HeadlineBook | None) -> list:
        if self.local is not None:
            return [self.local.score(panel, chunk, headlines) for chunk in chunks]
        panel_ref, headlines_ref = ray.put(panel), ray.put(headlines)
        return [self.actor.score.remote(panel_ref, chunk, headlines_ref) for chunk in chunks]

    def results(self, submitted: list) -> list[pd.DataFrame]:
        return submitted if self.local is not None else ray.get(submitted)

    def close(self) -> None:
        if self.actor is not None:
            ray.kill(self.actor)


def scores_in_driver(config: StormConfig) -> bool:
    """``scan.scoring`` resolved: "auto" scores in the driver on a one-node cluster without GPUs or worker resources."""
    if config.scan.scoring != "auto":
        return config.scan.scoring == "driver"
    alive = [node for node in ray.nodes() if node.get("Alive")]
    return len(alive) <= 1 and not ray.cluster_resources().get("GPU", 0) and not config.ray.worker_resources


def _predict(window: WindowEvidence, dates: list[str], scorer: _Scorer, config: StormConfig,
             explain: bool = False) -> pd.DataFrame:
    """Score [dates[0], dates[-1]] a batch of markets at a time.

    With an actor scoring, the driver assembles the next batch's panel while the actor scores the one before, and
    holds at most those two panels: memory is bounded by ``scan.market_batch``, not the number of markets.
    """
    news = wire = None
    if explain:
        news = read_news_lines(window.store, window.layout, window.read_from, dates[-1], config.ingest)
        if "wire" not in window.report.unread:  # the model reads a market-wide wire
            wire = read_news_lines(window.store, window.layout, window.read_from, dates[-1], config.ingest, "wire")
    parts, in_flight = [], []
    for markets in market_batches(window.markets, config.scan.market_batch):
        panel, _ = assemble_panel(window, markets, with_calm_reference=explain)
        headlines = None
        if explain:
            headlines = read_headline_book(window.store, window.layout, panel, window.calendars,
                                           window.config.features, config.ingest, news, wire)
        rows = panel.rows_between(dates[0], dates[-1])
        chunks = np.array_split(rows, max(1, -(-len(rows) // config.train.batch_size)))
        pending = scorer.submit(panel, chunks, headlines)
        del panel, headlines
        parts.extend(scorer.results(in_flight))
        in_flight = pending
    parts.extend(scorer.results(in_flight))
    predictions = pd.concat(parts, ignore_index=True)
    return predictions.sort_values(["date", "market"], kind="stable").reset_index(drop=True)


def _any_present(day: pd.DataFrame) -> pd.Series:
    return day[[f"present_{m}" for m in MODALITIES]].astype(bool).any(axis=1)


def _quarantined_on(store: ObjectStore, layout: Layout, date: str) -> dict[str, int]:
    """Per modality, the inputs of its sources quarantined on ``date`` (a recording and a call table are both calls)."""
    def lines(path: str) -> int:
        return sum(1 for line in store.read_text(path).splitlines() if line.strip()) if store.exists(path) else 0

    return {modality: sum(lines(layout.quarantine(date, "ingest", source)) for source in MODALITY_SOURCES[modality])
            for modality in MODALITIES}
