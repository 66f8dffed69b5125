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

import numpy as np
import pandas as pd

from storm.evaluation.metrics import alert_column, logit_column, score_column
from storm.evaluation.report import ScoredModel
from storm.evaluation.stack import StackFit, StackSettings, fit_stack
from storm.schema import storm_column
from storm.training.calibration import calibration_prior, fit_calibration

PRODUCT = "storm"
PROBABILITY_CLIP = 1e-9  # logit of a calibrated probability: finite at 0 and 1


def is_candidate(model: ScoredModel) -> bool:
    """Models the stack may use: baselines a desk runs, the fused model and the neural prices model."""
    return model.validation is not None and (model.kind in ("baseline", "fused") or model.name == "only-prices")


def stacked_product(folds: list[tuple[object, list[ScoredModel]]], labels: pd.DataFrame, horizons: list[int],
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
        incumbents = [m.name for m in candidates if m.kind == "baseline" and m.name in names]
        fits = {h: _fit(fit_rows, names, h, settings, incumbents) for h in horizons}
        validation_logits = np.column_stack([fits[h].logit(_logits(fit_rows, names, h)) for h in horizons])
        test_logits = np.column_stack([fits[h].logit(_logits(test_rows, names, h)) for h in horizons])
        train = labels[labels["date"].isin(set(split.train))].sort_values(["market", "date"])
        prior = calibration_prior(train["market"].to_numpy(), train[[storm_column(h) for h in horizons]].to_numpy(float),
                                  horizons, prior_episodes)
        validation_labels = fit_rows[[storm_column(h) for h in horizons]].to_numpy(float)
        usable = np.isfinite(validation_logits).all(axis=1) & ~np.isnan(validation_labels).all(axis=1)
        calibration = fit_calibration(validation_logits[usable], validation_labels[usable], horizons, false_alarm_rate,
                                      prior=prior, validation_markets=fit_rows["market"].to_numpy()[usable])
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


def _fit(rows: pd.DataFrame, names: list[str], horizon: int, settings: StackSettings,
         incumbents: list[str]) -> StackFit:
    """The stack at one horizon; where the validation rows cannot judge one (no fold with a storm and a calm day),
    storm's own model ships alone: nothing on validation says another candidate is better."""
    try:
        return fit_stack(_logits(rows, names, horizon), rows[storm_column(horizon)].to_numpy(float),
                         rows["date"].to_numpy(str), rows["market"].to_numpy(str), rows["fold"].to_numpy(str), settings,
                         incumbents)
    except ValueError as err:
        own = next((name for name in ("fused", "only-prices") if name in names), names[0])
        return StackFit(members=list(names), weights={name: float(name == own) for name in names}, intercept=0.0,
                        means={name: 0.0 for name in names}, sds={name: 1.0 for name in names}, shipped=own,
                        best_member=own, gain={"estimate": None, "low": None, "high": None, "n_resamples": 0},
                        reason=f"{own} ships alone: the validation rows cannot fit a stack ({err})", member_aurocs={})


def _scored_enough(rows: pd.DataFrame, names: list[str], horizons: list[int]) -> tuple[list[str], list[str]]:
    """Candidates with a score on at least half the validation rows (GARCH needs 100 returns of history, say);
    the others sit this fold out, with a note."""
    kept, notes = [], []
    for name in names:
        share = float(np.mean([rows[f"{name}:{score_column(h)}"].notna().mean() for h in horizons])) if len(rows) else 0.0
        if share >= 0.5 or name == "fused":
            kept.append(name)
        else:
            notes.append(f"{name} left out of the stack: it scored {share:.0%} of the validation rows")
    return kept, notes


def _summary(fit: StackFit) -> dict:
    return {"shipped": fit.shipped, "best_member": fit.best_member, "weights": fit.weights, "gain": fit.gain,
            "member_aurocs": fit.member_aurocs, "reason": fit.reason}


def _logits(rows: pd.DataFrame, names: list[str], horizon: int) -> dict[str, np.ndarray]:
    """Each candidate's logit of its calibrated probability: comparable across folds, monotone within one."""
    logits = {}
    for name in names:
        p = np.clip(rows[f"{name}:{score_column(horizon)}"].to_numpy(float), PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)
        logits[name] = np.log(p) - np.log1p(-p)
    return logits


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
