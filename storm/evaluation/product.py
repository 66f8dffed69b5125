"""The published score, evaluated: per fold, a stack of the candidates a desk runs and storm's own models.

Each candidate (the price baselines, the boosted model, the neural prices model, the fused model) reaches this
module as calibrated probabilities on its fold's validation and test rows. Per fold k and horizon, a stack
(storm.evaluation.stack: non-negative, shrunk, cross-validated, shipped only where its gain over the best single
candidate has a bootstrap lower bound above 0) is fitted on the validation rows of folds 1..k — every row scored by
the models of its own fold, so no row was trained on — then applied to fold k's test rows and calibrated once, with
the model's own calibration and alert rule. The result is one more ScoredModel, ``storm``: what the product would
have published, never chosen on test data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from storm.config import StormConfig
from storm.console import SILENT, StageReporter
from storm.desk.boosted import BoostedSettings
from storm.desk.members import fit_desk_members
from storm.desk.product import ProductModel
from storm.evaluation.predictions import PREDICTION_BATCH_ROWS, collect_predictions, plain_scorer
from storm.features.panel import IngestedEvidence
from storm.features.windows import batches_of_rows
from storm.store import Layout, ObjectStore

from storm.desk.combination import StackFit
from storm.desk.members import DESK_INCUMBENTS, DESK_MEMBERS
from storm.desk.product import NEURAL, probability_logit
from storm.evaluation.metrics import alert_column, logit_column, score_column
from storm.evaluation.report import ScoredModel
from storm.evaluation.stack import StackSettings, fit_stack, shipped_alone
from storm.schema import storm_column
from storm.splits import DateSplit
from storm.published.calibration import Calibration, CalibrationPrior, calibration_prior, fit_calibration

PRODUCT = "storm"


def is_candidate(model: ScoredModel) -> bool:
    """Members the stack may use: the desk's price models and the fused model, the ones `storm train` publishes and
    a scan can score from stored prices (storm.desk), so the evaluated product is the published recipe."""
    return model.validation is not None and model.name in (*DESK_MEMBERS, NEURAL)


def stacked_product(folds: list[tuple[DateSplit, list[ScoredModel]]], labels: pd.DataFrame, horizons: list[int],
                    false_alarm_rate: float, prior_episodes: float,
                    settings: StackSettings | None = None) -> list[tuple[ScoredModel, dict]]:
    """For each fold (split, its scored models), the stacked product's ScoredModel and a summary of what shipped per
    horizon (members, weights, gain, reason)."""
    settings = settings or StackSettings()
    results, seen = [], []
    for split, models in folds:
        candidates = [m for m in models if is_candidate(m)]
        seen.append((split.name, {m.name: m.validation for m in candidates}))
        names = [m.name for m in candidates]
        fit_rows = _pooled_validation(seen, names, horizons)
        names, dropped = _scored_enough(fit_rows, names, horizons)
        test_rows = _aligned({m.name: m.predictions for m in candidates}, names, horizons)
        incumbents = [name for name in DESK_INCUMBENTS if name in names]
        prior = training_prior(labels, split.train, horizons, prior_episodes)
        fits, calibration = fit_combination(fit_rows, names, horizons, settings, incumbents, prior, false_alarm_rate)
        test_logits = np.column_stack([fits[h].logit(_logits(test_rows, names, h)) for h in horizons])
        probabilities = calibration.probability(test_logits)
        alerts = calibration.alerts(np.nan_to_num(probabilities, nan=-1.0))
        table = test_rows[["market", "date"]].copy()
        for i, h in enumerate(horizons):
            table[logit_column(h)] = test_logits[:, i]
            table[score_column(h)] = probabilities[:, i]
            table[alert_column(h)] = alerts[:, i] & np.isfinite(test_logits[:, i])
            table[storm_column(h)] = test_rows[storm_column(h)].to_numpy(float)
        summary = {str(h): _summary(fits[h]) for h in horizons}
        notes = [f"{h}d: {fits[h].reason}" for h in horizons] + dropped
        results.append((ScoredModel(PRODUCT, "product", table, {h: True for h in horizons}, notes), summary))
    return results


def training_prior(labels: pd.DataFrame, train_dates, horizons: list[int], prior_episodes: float) -> CalibrationPrior:
    """The calibration prior of a combination: the training dates' base rates (labels by market, in date order)."""
    train = labels[labels["date"].isin(set(train_dates))].sort_values(["market", "date"])
    return calibration_prior(train["market"].to_numpy(), train[[storm_column(h) for h in horizons]].to_numpy(float),
                             horizons, prior_episodes)


def fit_combination(rows: pd.DataFrame, names: list[str], horizons: list[int], settings: StackSettings,
                    incumbents: list[str], prior: CalibrationPrior,
                    false_alarm_rate: float) -> tuple[dict[int, StackFit], Calibration]:
    """Per horizon the StackFit chosen on ``rows`` (validation rows with each member's calibrated score_{h}d as
    "<member>:score_{h}d", labels and fold), and the calibration of the combined logit fitted on the same rows."""
    fits = {h: _fit(rows, names, h, settings, incumbents) for h in horizons}
    logits = np.column_stack([fits[h].logit(_logits(rows, names, h)) for h in horizons])
    labels = rows[[storm_column(h) for h in horizons]].to_numpy(float)
    usable = np.isfinite(logits).all(axis=1) & ~np.isnan(labels).all(axis=1)
    calibration = fit_calibration(logits[usable], labels[usable], horizons, false_alarm_rate, prior=prior,
                                  validation_markets=rows["market"].to_numpy()[usable])
    return fits, calibration


def _fit(rows: pd.DataFrame, names: list[str], horizon: int, settings: StackSettings,
         incumbents: list[str]) -> StackFit:
    """The stack at one horizon; where the validation rows cannot judge one (no fold with a storm and a calm day),
    the desk's first incumbent (GARCH) ships alone: nothing on validation says a challenger is better."""
    try:
        return fit_stack(_logits(rows, names, horizon), rows[storm_column(horizon)].to_numpy(float),
                         rows["date"].to_numpy(str), rows["market"].to_numpy(str), rows["fold"].to_numpy(str), settings,
                         incumbents)
    except ValueError as err:
        own = next((name for name in (*incumbents, NEURAL) if name in names), names[0])
        logits = _logits(rows, names, horizon)
        means = {name: float(np.nanmean(values)) if np.isfinite(values).any() else 0.0 for name, values in logits.items()}
        return shipped_alone(list(names), own, means, {}, own, {"estimate": None, "low": None, "high": None,
                                                               "n_resamples": 0},
                             f"{own} ships alone: the validation rows cannot fit a stack ({err})", {})


def _scored_enough(rows: pd.DataFrame, names: list[str], horizons: list[int]) -> tuple[list[str], list[str]]:
    """Candidates with a score on at least half the validation rows (GARCH needs 100 returns of history, say);
    the others sit this fold out, with a note."""
    kept, notes = [], []
    for name in names:
        share = float(np.mean([rows[f"{name}:{score_column(h)}"].notna().mean() for h in horizons])) if len(rows) else 0.0
        if share >= 0.5 or name == NEURAL:
            kept.append(name)
        else:
            notes.append(f"{name} left out of the stack: it scored {share:.0%} of the validation rows")
    return kept, notes


def _summary(fit: StackFit) -> dict:
    return {"shipped": fit.shipped, "best_member": fit.best_member, "weights": fit.weights, "gain": fit.gain,
            "member_aurocs": fit.member_aurocs, "reason": fit.reason}


def _logits(rows: pd.DataFrame, names: list[str], horizon: int) -> dict[str, np.ndarray]:
    """Each candidate's logit of its calibrated probability: comparable across folds, monotone within one."""
    return {name: probability_logit(rows[f"{name}:{score_column(horizon)}"].to_numpy(float)) for name in names}


def _aligned(tables: dict[str, pd.DataFrame], names: list[str], horizons: list[int]) -> pd.DataFrame:
    """One row per (market, date) every candidate scored: labels from the first, each candidate's scores."""
    first = tables[names[0]]
    aligned = first[["market", "date", *(storm_column(h) for h in horizons)]]
    for name in names:
        scores = tables[name][["market", "date", *(score_column(h) for h in horizons)]]
        aligned = aligned.merge(scores.rename(columns={score_column(h): f"{name}:{score_column(h)}" for h in horizons}),
                                on=["market", "date"], how="inner")
    return aligned.sort_values(["market", "date"], ignore_index=True)


def _pooled_validation(seen: list[tuple[str, dict[str, pd.DataFrame]]], names: list[str],
                       horizons: list[int]) -> pd.DataFrame:
    """The validation rows of every fold so far that every candidate scored, with their fold: the expanding window."""
    parts = [_aligned(tables, names, horizons).assign(fold=fold) for fold, tables in seen
             if all(name in tables for name in names)]
    return pd.concat(parts, ignore_index=True)


# ---- the product `storm train` publishes ------------------------------------------------------------------------

@dataclass
class PublishedProduct:
    version: str
    product: ProductModel
    notes: list[str]


def publish_product(config: StormConfig, evidence: IngestedEvidence, store: ObjectStore, settings: StackSettings | None = None,
                    progress: StageReporter = SILENT) -> PublishedProduct:
    """Fit the desk's members on the run's published split, stack them with its neural model on the split's
    validation rows (the same rule as every evaluated fold: storm.evaluation.stack), and publish the result as a new
    version of the run holding the neural weights and product.json.

    ``evidence``: the IngestedEvidence the run was trained on (its panel scores the validation rows)."""
    from storm.ingest import read_prices
    from storm.labels import label_table
    from storm.published.artifacts import PRODUCT as PRODUCT_JSON, read_model, republish_with
    from storm.published.predictor import predictor_from_published

    run, horizons = config.train.run_name, list(config.labels.horizons)
    layout = Layout(store)
    published = read_model(store, layout, run)
    split = published.split
    prices = read_prices(store, layout)
    labels = label_table(prices, config.labels)
    with progress.stage(f"{run}: fitting the desk's members (trail-vol, GARCH, price logistic"
                        + (", boosted trees" if config.evaluation.boosted else "") + ") on the training dates"):
        desk = fit_desk_members(prices, labels, split.train, split.validation, horizons,
                                config.labels.volatility_window, config.train.false_alarm_rate,
                                config.train.calibration_prior_episodes,
                                BoostedSettings() if config.evaluation.boosted else None, quant=evidence.quant)
    validation = set(split.validation)
    tables = {}
    with progress.stage(f"{run}: scoring {len(validation)} validation dates with every member"):
        rows = evidence.panel.rows_on(split.validation)
        tables[NEURAL] = collect_predictions(batches_of_rows(evidence.panel, rows, PREDICTION_BATCH_ROWS),
                                             {NEURAL: plain_scorer(NEURAL, predictor_from_published(published))},
                                             horizons)[NEURAL]
        for name, table in desk.raw_logits(prices, desk.scorable, dates=validation, quant=evidence.quant).items():
            chosen = table.reset_index(drop=True)
            probabilities = desk.probability(name, chosen[[logit_column(h) for h in horizons]].to_numpy(float))
            tables[name] = chosen[["market", "date"]].assign(
                **{score_column(h): probabilities[:, i] for i, h in enumerate(horizons)})
    names = [NEURAL, *(m for m in DESK_MEMBERS if m in tables)]
    fit_rows = _aligned(tables, names, horizons).assign(fold="final")
    names, notes = _scored_enough(fit_rows, names, horizons)
    prior = training_prior(labels, split.train, horizons, config.train.calibration_prior_episodes)
    with progress.stage(f"{run}: choosing the stack on {len(fit_rows)} validation rows"):
        fits, calibration = fit_combination(fit_rows, names, horizons, settings or StackSettings(),
                                            [m for m in DESK_INCUMBENTS if m in names], prior,
                                            config.train.false_alarm_rate)
    product = ProductModel(horizons=horizons, members=names, fits=fits, calibration=calibration, desk=desk)
    payload = json.dumps(product.to_json(), sort_keys=True, allow_nan=False).encode("utf-8")
    version = republish_with(store, layout, run, {PRODUCT_JSON: payload},
                             {"product": {"members": names, "horizons": product.card(), "notes": notes}})
    return PublishedProduct(version.version, product, notes)
