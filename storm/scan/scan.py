"""Score trading days with a trained model: Ray Data batch inference on an actor pool.

Order of work is what makes a night safe: scores for every date are written
to the object store (atomically, replacing any earlier run of that date)
before anything is pushed, so a failed push loses nothing and
``storm metrics push --date D`` can republish later.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import pandas as pd
import ray

from storm.config import StorageConfig, StormConfig
from storm.console import SILENT, StageReporter
from storm.features import build_samples
from storm.ingest import read_prices
from storm.ray_runtime import ensure_ray
from storm.scan.scores import input_counts, scores_table
from storm.schema import MODALITIES, ScanStats
from storm.store import Layout, ObjectStore, open_store
from storm.training import load_predictor


@dataclass
class ScanOutcome:
    dates: list[str]
    scores: dict[str, pd.DataFrame]          # date -> stored scores table
    stats: dict[str, ScanStats]
    model_version: str
    published: object | None = None          # what the metrics publisher returned for the last date
    publish_error: Exception | None = None   # set when the push failed after retries; scores are stored
    score_paths: dict[str, str] = field(default_factory=dict)


class ScoringActor:
    """One model load per actor; scores Ray Data batches (GPU when the actor was given one)."""

    def __init__(self, storage: StorageConfig, run: str):
        store = open_store(storage)
        self.predictor = load_predictor(store, Layout(store), run)

    def __call__(self, batch: dict) -> dict:
        predicted = self.predictor.predict(batch)
        present = batch["modality_mask"] > 0.5
        out = {"market": batch["market"], "date": batch["date"], **predicted}
        for index, modality in enumerate(MODALITIES):
            out[f"present_{modality}"] = present[:, index]
        return out


def trading_days(store: ObjectStore, layout: Layout, start: str | None, end: str | None) -> tuple[list[str], list[str]]:
    """(trading days in [start, end], all markets) from raw prices; no dates given = the last completed day."""
    prices = read_prices(store, layout)
    if prices.empty:
        raise RuntimeError(f"no prices under {layout.prices_dir()}: generate or load a world first (storm generate)")
    days = sorted(prices["date"].astype(str).unique())
    if start is None and end is None:
        return [days[-1]], sorted(prices["market"].unique())
    start = start or days[0]
    end = end or days[-1]
    return [d for d in days if start <= d <= end], sorted(prices["market"].unique())


def scan(config: StormConfig, start: str | None = None, end: str | None = None, publish: bool = True,
         progress: StageReporter = SILENT) -> ScanOutcome:
    """Score each trading day in [start, end] (default: the last one), store the scores, publish the last day."""
    from storm.metrics import PushFailed, build_registry, publish as publish_metrics

    ensure_ray(config.ray)
    store = open_store(config.storage)
    layout = Layout(store)
    began = time.time()
    dates, markets = trading_days(store, layout, start, end)
    if not dates:
        raise RuntimeError(f"no trading days between {start} and {end} in {layout.prices_dir()}")
    run = config.train.run_name
    model = load_predictor(store, layout, run)  # fails early, before any Ray work, if the run is absent
    version = model.version
    thresholds = {int(h): float(t) for h, t in model.thresholds.items()}
    horizons = sorted(thresholds)

    with progress.stage(f"scan: scoring {len(markets)} markets x {len(dates)} day(s)"):
        samples = build_samples(config, dates[0], dates[-1])
        predictions = _predict(samples.dataset, config, run)
    outcome = ScanOutcome(dates=dates, scores={}, stats={}, model_version=version)
    elapsed_per_date = (time.time() - began) / len(dates)
    for date in dates:
        day = predictions[predictions["date"] == date]
        missing = sorted(set(markets) - set(day.loc[_any_present(day), "market"]))
        day = day[_any_present(day)]
        table = scores_table(day, horizons, thresholds, version)
        outcome.score_paths[date] = layout.scores(date)
        store.write_table(layout.scores(date), table)
        stats = ScanStats(
            date=date,
            duration_seconds=round(elapsed_per_date, 3),
            inputs=input_counts(day, _quarantined_on(store, layout, date), len(missing)),
            markets_missing=tuple(missing),
            finished_at=time.time(),
        )
        store.write_text(layout.scan_stats(date), json.dumps(stats.__dict__, default=list, sort_keys=True, indent=1))
        outcome.scores[date], outcome.stats[date] = table, stats

    if publish:
        last = dates[-1]
        model_info = {"version": version, "run": run, "fusion": config.model.fusion}
        registry = build_registry(outcome.scores[last], outcome.stats[last], model_info, thresholds)
        try:
            outcome.published = publish_metrics(registry, config.metrics, date=last)
        except PushFailed as err:
            outcome.publish_error = err
    return outcome


def _predict(dataset: ray.data.Dataset, config: StormConfig, run: str) -> pd.DataFrame:
    use_gpu = bool(ray.cluster_resources().get("GPU", 0))
    scored = dataset.map_batches(
        ScoringActor,
        fn_constructor_args=(config.storage, run),
        compute=ray.data.ActorPoolStrategy(size=1),
        batch_size=config.train.batch_size,
        batch_format="numpy",
        num_cpus=0 if use_gpu else 1,
        num_gpus=1 if use_gpu else 0,
        resources=config.ray.worker_resources or None,
    )
    predictions = scored.to_pandas()
    return predictions.sort_values(["date", "market"], kind="stable").reset_index(drop=True)


def _any_present(day: pd.DataFrame) -> pd.Series:
    return day[[f"present_{m}" for m in MODALITIES]].astype(bool).any(axis=1)


def _quarantined_on(store: ObjectStore, layout: Layout, date: str) -> dict[str, int]:
    counts = {}
    for modality in MODALITIES:
        path = layout.quarantine(date, "ingest", modality)
        counts[modality] = sum(1 for line in store.read_text(path).splitlines() if line.strip()) if store.exists(path) else 0
    return counts
