"""The published score, evaluated: per fold, a stack of the candidates a desk runs and storm's own models.

Each candidate (the price baselines, the boosted model, the neural prices model, the fused model) reaches this
module as calibrated probabilities on its fold's validation and test rows. The stack (storm.evaluation.stack:
non-negative, shrunk, cross-validated, shipped only where its gain over the best single candidate has a bootstrap
lower bound above 0) is chosen on predictions no candidate was fitted or selected on: for fold k, the test blocks of
folds 1..k−1, each scored by its own fold's models (the super learner's out-of-fold predictions). A fold's
validation rows will not do: the fused model's epoch and evidence share, and the boosted trees' number of trees,
were chosen on them, so they flatter exactly the challengers (on stocknet, vol_scaled, the fused model's test AUROC
fell 0.077 below its validation AUROC on average while the price logistic's rose 0.061). Where no earlier test
block exists (fold 1), only the desk's incumbents, which touch validation only to calibrate, compete on it. The
combined logit is then calibrated on the validation rows of folds 1..k (calibration keeps the order) and applied to
fold k's test rows with the model's own calibration and alert rule. The result is one more ScoredModel, ``storm``:
what the product would have published, never chosen on test data of its own fold.
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
    horizon (members, weights, gain, reason): chosen on the earlier folds' test rows, calibrated on validation."""
    settings = settings or StackSettings()
    results, validations, tests = [], [], []
    for split, models in folds:
        candidates = [m for m in models if is_candidate(m)]
        validations.append((split.name, {m.name: m.validation for m in candidates}))
        names = [m.name for m in candidates]
        calibration_rows = pooled_rows(validations, names, horizons)
        names, dropped = _scored_enough(calibration_rows, names, horizons)
        test_rows = _aligned({m.name: m.predictions for m in candidates}, names, horizons)
        incumbents = [name for name in DESK_INCUMBENTS if name in names]
        prior = training_prior(labels, split.train, horizons, prior_episodes)
        judged, contenders, note = judging_rows(pooled_rows(tests, names, horizons), calibration_rows, names,
                                                incumbents, "no earlier fold's test block", horizons)
        fits, calibration = fit_combination(judged, contenders, horizons, settings, incumbents, prior,
                                            false_alarm_rate, calibration_rows=calibration_rows)
        test_logits = np.column_stack([fits[h].logit(member_logits(test_rows, names, h)) for h in horizons])
        probabilities = calibration.probability(test_logits)
        alerts = calibration.alerts(np.nan_to_num(probabilities, nan=-1.0))
        table = test_rows[["market", "date"]].copy()
        for i, h in enumerate(horizons):
            table[logit_column(h)] = test_logits[:, i]
            table[score_column(h)] = probabilities[:, i]
            table[alert_column(h)] = alerts[:, i] & np.isfinite(test_logits[:, i])
            table[storm_column(h)] = test_rows[storm_column(h)].to_numpy(float)
        summary = {str(h): {**_summary(fits[h]), "judged_on": note} for h in horizons}
        notes = [note] + [f"{h}d: {fits[h].reason}" for h in horizons] + dropped
        results.append((ScoredModel(PRODUCT, "product", table, {h: True for h in horizons}, notes), summary))
        tests.append((split.name, {m.name: m.predictions for m in candidates}))
    return results


def judging_rows(out_of_sample: pd.DataFrame | None, validation: pd.DataFrame, names: list[str],
                 incumbents: list[str], missing: str, horizons: list[int]) -> tuple[pd.DataFrame, list[str], str]:
    """The rows the stack is chosen on, the candidates that compete there, and a note saying which.

    Out-of-sample rows (a fold's test block, scored by that fold's models) judge every candidate they score. Without
    them only the incumbents compete, on the validation rows: the others were selected on those rows (the fused
    model's epoch and evidence share, the boosted trees' early stop), which would flatter them."""
    if out_of_sample is not None and len(out_of_sample):
        scored = [name for name in names
                  if all(f"{name}:{score_column(h)}" in out_of_sample.columns for h in horizons)]
        if set(incumbents) <= set(scored):
            folds = sorted(set(out_of_sample["fold"]))
            return (out_of_sample, scored, f"chosen on {len(out_of_sample)} out-of-sample rows (test blocks of "
                    f"{', '.join(folds)}, each scored by its own fold's models): every member competes")
    return (validation, list(incumbents) or list(names),
            f"chosen on the validation rows among the desk's incumbents only ({missing}: the fused model and the "
            "boosted trees were selected on the validation rows, which would flatter them)")


def training_prior(labels: pd.DataFrame, train_dates, horizons: list[int], prior_episodes: float) -> CalibrationPrior:
    """The calibration prior of a combination: the training dates' base rates (labels by market, in date order)."""
    train = labels[labels["date"].isin(set(train_dates))].sort_values(["market", "date"])
    return calibration_prior(train["market"].to_numpy(), train[[storm_column(h) for h in horizons]].to_numpy(float),
                             horizons, prior_episodes)


def fit_combination(rows: pd.DataFrame, names: list[str], horizons: list[int], settings: StackSettings,
                    incumbents: list[str], prior: CalibrationPrior, false_alarm_rate: float,
                    calibration_rows: pd.DataFrame | None = None) -> tuple[dict[int, StackFit], Calibration]:
    """Per horizon the StackFit chosen among ``names`` on ``rows`` (rows with each member's calibrated score_{h}d as
    "<member>:score_{h}d", labels and fold), and the calibration of the combined logit fitted on
    ``calibration_rows`` (default: the same rows), which carry every member the fits use."""
    fits = {h: choose_at_horizon(rows, names, h, settings, incumbents) for h in horizons}
    calibration_rows = rows if calibration_rows is None else calibration_rows
    logits = np.column_stack([fits[h].logit(member_logits(calibration_rows, names, h)) for h in horizons])
    labels = calibration_rows[[storm_column(h) for h in horizons]].to_numpy(float)
    usable = np.isfinite(logits).all(axis=1) & ~np.isnan(labels).all(axis=1)
    calibration = fit_calibration(logits[usable], labels[usable], horizons, false_alarm_rate, prior=prior,
                                  validation_markets=calibration_rows["market"].to_numpy()[usable])
    return fits, calibration


def choose_at_horizon(rows: pd.DataFrame, names: list[str], horizon: int, settings: StackSettings,
                      incumbents: list[str]) -> StackFit:
    """The stack at one horizon; where the judging rows cannot judge one (no fold with a storm and a calm day), the
    desk's first incumbent (GARCH) ships alone: nothing on those rows says a challenger is better."""
    try:
        return fit_stack(member_logits(rows, names, horizon), rows[storm_column(horizon)].to_numpy(float),
                         rows["date"].to_numpy(str), rows["market"].to_numpy(str), rows["fold"].to_numpy(str), settings,
                         incumbents)
    except ValueError as err:
        own = next((name for name in (*incumbents, NEURAL) if name in names), names[0])
        logits = member_logits(rows, names, horizon)
        means = {name: float(np.nanmean(values)) if np.isfinite(values).any() else 0.0 for name, values in logits.items()}
        return shipped_alone(list(names), own, means, {}, own, {"estimate": None, "low": None, "high": None,
                                                               "n_resamples": 0},
                             f"{own} ships alone: the judging rows cannot fit a stack ({err})", {})


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


def member_logits(rows: pd.DataFrame, names: list[str], horizon: int) -> dict[str, np.ndarray]:
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


def pooled_rows(seen: list[tuple[str, dict[str, pd.DataFrame]]], names: list[str],
                horizons: list[int]) -> pd.DataFrame | None:
    """The rows of every fold so far (validation or test blocks) that every candidate scored, with their fold: the
    expanding window. None before any fold holds them all."""
    parts = [_aligned(tables, names, horizons).assign(fold=fold) for fold, tables in seen
             if all(name in tables for name in names)]
    return pd.concat(parts, ignore_index=True) if parts else None


def out_of_sample_rows(folds: list[tuple[str, list[ScoredModel]]], horizons: list[int]) -> pd.DataFrame | None:
    """Every candidate's test-block predictions over all folds, one wide row per (market, date), with its fold: what
    the published stack is chosen on after an evaluation (each row scored by a model that never saw it)."""
    tables = [(fold, {m.name: m.predictions for m in models if is_candidate(m)}) for fold, models in folds]
    names = sorted(set.intersection(*(set(t) for _, t in tables))) if tables else []
    return pooled_rows(tables, names, horizons) if names else None


def stored_out_of_sample(store: ObjectStore, layout: Layout, run: str, labels: dict,
                         horizons: list[int]) -> pd.DataFrame | None:
    """The out-of-sample rows of the run's stored evaluation (reports/<run>/predictions.parquet), in the wide shape,
    when its labels are the run's; None when there is none (or it judged another kind of storm)."""
    from storm.evaluation.runner import PREDICTIONS_NAME, REPORT_NAME

    report_path, predictions_path = layout.report_file(run, REPORT_NAME), layout.report_file(run, PREDICTIONS_NAME)
    if not (store.exists(report_path) and store.exists(predictions_path)):
        return None
    if json.loads(store.read_text(report_path)).get("labels") != labels:
        return None
    long = store.read_table(predictions_path, columns=["model", "market", "date", "fold", "horizon", "probability",
                                                       "label"],
                            where={"model": [*DESK_MEMBERS, NEURAL], "horizon": list(horizons)}).to_pandas()
    if long.empty:
        return None
    wide = long.pivot_table(index=["market", "date", "fold"], columns=["model", "horizon"], values="probability",
                            aggfunc="first", dropna=False)
    wide.columns = [f"{model}:{score_column(int(h))}" for model, h in wide.columns]
    known = long.pivot_table(index=["market", "date", "fold"], columns="horizon", values="label", aggfunc="first",
                             dropna=False)
    known.columns = [storm_column(int(h)) for h in known.columns]
    return wide.join(known).reset_index().dropna(subset=list(wide.columns), how="all")


# ---- the product `storm train` publishes ------------------------------------------------------------------------

@dataclass
class PublishedProduct:
    version: str
    product: ProductModel
    notes: list[str]


def publish_product(config: StormConfig, evidence: IngestedEvidence, store: ObjectStore, settings: StackSettings | None = None,
                    progress: StageReporter = SILENT, out_of_sample: pd.DataFrame | None = None) -> PublishedProduct:
    """Fit the desk's members on the run's published split, stack them with its neural model, and publish the result
    as a new version of the run holding the neural weights and product.json.

    The stack is chosen on out-of-sample rows (the rule of every evaluated fold: storm.evaluation.stack):
    ``out_of_sample`` (evaluate's folds, in the wide shape of out_of_sample_rows), else the run's stored evaluation
    (reports/<run>/predictions.parquet, same labels); without either only the desk's incumbents compete, on the
    split's validation rows. The combined logit is calibrated on the validation rows, scored by the published members.

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
    calibration_rows = _aligned(tables, names, horizons).assign(fold="final")
    names, notes = _scored_enough(calibration_rows, names, horizons)
    incumbents = [m for m in DESK_INCUMBENTS if m in names]
    if out_of_sample is None:
        out_of_sample = stored_out_of_sample(store, layout, run, config.labels.model_dump(mode="json"), horizons)
    judged, contenders, note = judging_rows(
        out_of_sample, calibration_rows, names, incumbents,
        f"no evaluation of {run} with these labels in reports/{run}/ (storm evaluate --run {run} writes one)",
        horizons)
    notes.insert(0, note)
    prior = training_prior(labels, split.train, horizons, config.train.calibration_prior_episodes)
    with progress.stage(f"{run}: choosing the stack on {len(judged)} rows"):
        fits, calibration = fit_combination(judged, contenders, horizons, settings or StackSettings(), incumbents,
                                            prior, config.train.false_alarm_rate, calibration_rows=calibration_rows)
    product = ProductModel(horizons=horizons, members=names, fits=fits, calibration=calibration, desk=desk)
    payload = json.dumps(product.to_json(), sort_keys=True, allow_nan=False).encode("utf-8")
    version = republish_with(store, layout, run, {PRODUCT_JSON: payload},
                             {"product": {"members": names, "horizons": product.card(), "notes": notes}})
    return PublishedProduct(version.version, product, notes)
