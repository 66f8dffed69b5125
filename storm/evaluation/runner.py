"""`evaluate(config, run)`: score a trained run on its own test period against baselines, and report.

Only the test dates saved with the model (models/<run>/split.json) are scored;
baselines get the validation period to fit their probability and threshold, as the
model did. The hidden truth (synthetic worlds) is read here and nowhere else, for
the oracle. Everything lands in reports/<run>/ through the layout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from storm.config import StormConfig
from storm.evaluation.ablation import modality_ablation, modality_weights
from storm.evaluation.baselines import oracle_scores, price_baseline_scores, score_baseline
from storm.evaluation.metrics import score_column
from storm.evaluation.plots import reliability_png, score_over_price_png
from storm.evaluation.predictions import collect_predictions
from storm.evaluation.report import ScoredModel, build_report, render_tables
from storm.schema import storm_column
from storm.store import Layout, ObjectStore, open_store

REPORT_NAME = "report.json"
PREDICTIONS_BATCH_ROWS = 64


@dataclass
class EvaluationReport:
    run: str
    report_path: str
    plot_paths: list[str]
    content: dict = field(repr=False)

    def tables(self):
        return render_tables(self.content)


class EvaluationError(ValueError):
    """The run cannot be evaluated as asked; the message says which file is missing and what to run."""


def single_modality_run(run: str, modality: str) -> str:
    return f"{run}-only-{modality}"


def main_horizon(horizons: list[int]) -> int:
    return 20 if 20 in horizons else max(horizons)


def evaluate(config: StormConfig, run: str | None = None, skip_single_modality: bool = False,
             log: Callable[[str], None] = lambda message: None) -> EvaluationReport:
    """Score `run` (default train.run_name) on its test period; write report.json and PNGs; return the report."""
    from storm.ingest import read_prices

    run = run or config.train.run_name
    store = open_store(config.storage)
    layout = Layout(store)
    split = load_split(store, layout, run)
    run_config = _run_config(config, store, layout, run)
    horizons = list(run_config.labels.horizons)
    from storm.training import load_predictor  # after the checks above: their errors say what to run

    predictor = load_predictor(store, layout, run)
    singles = {} if skip_single_modality else _single_modality_predictors(run_config, store, layout, run, log)
    log(f"scoring {len(split.test)} test dates ({split.test[0]} … {split.test[-1]})")
    variants = _variants(predictor, singles, run_config.model.modalities)
    tables = collect_predictions(_test_batches(run_config, split), variants, horizons)
    fused = tables.pop("fused")
    masked = {name.removeprefix("masked-"): tables.pop(name) for name in list(tables) if name.startswith("masked-")}
    models = [ScoredModel(name="fused", kind="fused", predictions=fused)]
    models += [ScoredModel(name=f"only-{m}", kind="single_modality", predictions=t,
                           notes=_split_mismatch(store, layout, single_modality_run(run, m), split))
               for m, t in tables.items()]
    log("scoring baselines (trailing volatility, GARCH(1,1), oracle where the truth exists)")
    prices = read_prices(store, layout, sorted(fused["market"].unique()))
    models += baseline_models(run_config, store, layout, split, fused[["market", "date"]], prices)
    report = build_report(
        run, models, horizons, main_horizon(horizons), _periods(split),
        ablation=modality_ablation(fused, masked, horizons) if masked else {},
        weights=modality_weights(fused, main_horizon(horizons)),
        extra={"model_version": predictor.version, "thresholds": {str(h): float(t) for h, t in predictor.thresholds.items()},
               "markets": sorted(fused["market"].unique().tolist()), "world": _world_kind(store, layout),
               "single_modality_runs": {m: single_modality_run(run, m) for m in singles}},
    )
    report_path, plot_paths = write_outputs(store, layout, run, report, models, prices, predictor.thresholds)
    return EvaluationReport(run=run, report_path=report_path, plot_paths=plot_paths, content=report)


def load_split(store: ObjectStore, layout: Layout, run: str):
    """The DateSplit the run was trained with: evaluation never picks its own dates."""
    from storm.training.splits import DateSplit

    path = layout.model_file(run, "split.json")
    if not store.exists(path):
        raise EvaluationError(f"no split saved for run {run!r} at {path}; train it first: "
                              f"storm train --set train.run_name={run}")
    split = DateSplit.from_json(json.loads(store.read_text(path)))
    if not split.test:
        raise EvaluationError(f"run {run!r} has an empty test period in {path}; retrain with train.test_fraction > 0")
    return split


def _run_config(config: StormConfig, store: ObjectStore, layout: Layout, run: str) -> StormConfig:
    """The caller's config with the model-side sections the run was trained with (its model card)."""
    card_path = layout.model_file(run, "model.json")
    if not store.exists(card_path):
        raise EvaluationError(f"no trained model for run {run!r} at {card_path}; train it first: "
                              f"storm train --set train.run_name={run}")
    card = json.loads(store.read_text(card_path))
    saved = {section: card[section] for section in ("model", "features", "labels") if isinstance(card.get(section), dict)}
    calibration_path = layout.model_file(run, "calibration.json")
    if store.exists(calibration_path):  # baselines get the false-alarm rate the model was calibrated to
        saved["train.false_alarm_rate"] = json.loads(store.read_text(calibration_path))["false_alarm_rate"]
    return config.with_overrides(saved)


def _single_modality_predictors(config: StormConfig, store: ObjectStore, layout: Layout, run: str, log) -> dict:
    """A predictor per modality trained on it alone (same config and dates); trained here if not in the store."""
    from storm.training import load_predictor, train

    modalities = list(config.model.modalities)
    if len(modalities) < 2:
        return {}
    predictors = {}
    for modality in modalities:
        name = single_modality_run(run, modality)
        if not store.exists(layout.model_file(name, "model.json")):
            log(f"training single-modality model {name}")
            train(config.with_overrides({"train.run_name": name, "model.modalities": [modality],
                                         "train.init_from": None}))
        predictors[modality] = load_predictor(store, layout, name)
    return predictors


def _split_mismatch(store: ObjectStore, layout: Layout, name: str, split) -> list[str]:
    """A note when a reused single-modality run was trained on other dates than the fused run."""
    other = load_split(store, layout, name)
    if (other.train, other.validation, other.test) == (split.train, split.validation, split.test):
        return []
    return [f"run {name} was trained on a different date split; retrain it (delete {layout.model_dir(name)}) "
            "for a like-for-like comparison"]


def _variants(predictor, singles: dict, modalities: list[str]) -> dict:
    variants = {"fused": predictor.predict}
    if len(modalities) > 1:
        for modality in modalities:
            variants[f"masked-{modality}"] = (lambda inputs, m=modality: predictor.predict(inputs, mask_modalities=[m]))
    variants.update({modality: single.predict for modality, single in singles.items()})
    return variants


def _test_batches(config: StormConfig, split):
    from storm.features.samples import build_samples

    samples = build_samples(config, split.test[0], split.test[-1])
    test_dates = set(split.test)
    dataset = samples.dataset.filter(lambda row: row["date"] in test_dates)
    return dataset.iter_batches(batch_size=PREDICTIONS_BATCH_ROWS, batch_format="numpy")


def baseline_models(config: StormConfig, store: ObjectStore, layout: Layout, split, keys: pd.DataFrame,
                    prices: pd.DataFrame) -> list[ScoredModel]:
    """Trailing vol, GARCH and (if the truth exists) the oracle, on exactly the model's test rows (`keys`).

    The truth file is read here and nowhere else in storm: only evaluation may see it.
    """
    from storm.labels import label_table

    horizons = list(config.labels.horizons)
    labels = label_table(prices, config.labels)
    validation, test = set(split.validation), set(split.test)
    raw = price_baseline_scores(prices[["market", "date", "close"]], validation | test, horizons,
                                config.labels.volatility_window)
    if store.exists(layout.truth_fragility()):
        raw["oracle"] = oracle_scores(store.read_table(layout.truth_fragility()).to_pandas(), validation | test, horizons)
    models = []
    for name, table in raw.items():
        scored, probabilistic, notes = score_baseline(table, labels, validation, test, horizons,
                                                      config.train.false_alarm_rate)
        scored = keys.merge(scored, on=["market", "date"], how="inner")
        models.append(ScoredModel(name=name, kind="oracle" if name == "oracle" else "baseline", predictions=scored,
                                  probabilistic=probabilistic, notes=notes))
    return models


def _periods(split) -> dict:
    def period(dates: list[str]) -> dict:
        return {"start": dates[0], "end": dates[-1], "n_dates": len(dates)} if dates else {"n_dates": 0}

    return {"train": period(split.train), "validation": period(split.validation), "test": period(split.test),
            "embargo_days": split.embargo_days}


def _world_kind(store: ObjectStore, layout: Layout) -> str | None:
    if not store.exists(layout.world_manifest()):
        return None
    return json.loads(store.read_text(layout.world_manifest())).get("kind")


def write_outputs(store: ObjectStore, layout: Layout, run: str, report: dict, models: list[ScoredModel],
                  prices: pd.DataFrame, thresholds: dict) -> tuple[str, list[str]]:
    """PNGs then report.json (which lists them) under reports/<run>/; returns (report path, plot paths)."""
    horizon = report["main_horizon"]
    fused = next(m for m in models if m.kind == "fused").predictions
    storm_days = fused.groupby("market")[storm_column(horizon)].sum().sort_values(ascending=False, kind="stable")
    curves = {m.name: (m.predictions[storm_column(horizon)].to_numpy(float),
                       m.predictions[score_column(horizon)].to_numpy(float))
              for m in models if m.probabilistic.get(horizon, True)}
    figures = {
        f"score_over_price_{horizon}d.png": score_over_price_png(prices, fused, horizon, thresholds.get(horizon),
                                                                 storm_days.index.tolist()),
        f"reliability_{horizon}d.png": reliability_png(curves, horizon),
    }
    plot_paths = []
    for name, png in figures.items():
        plot_paths.append(layout.report_file(run, name))
        store.write_bytes(plot_paths[-1], png)
    report["plots"] = plot_paths
    report_path = layout.report_file(run, REPORT_NAME)
    store.write_text(report_path, json.dumps(report, indent=2, allow_nan=False))
    return report_path, plot_paths
