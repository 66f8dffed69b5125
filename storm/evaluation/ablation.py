"""How much each modality carries: AUROC lost when it is masked, and the gate's weights.

Pure: takes predictions tables (the fused model as is, and re-scored with one
modality masked) and returns plain dicts for the report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from storm.evaluation.metrics import alert_column, horizon_metrics
from storm.schema import MODALITIES


def modality_ablation(fused: pd.DataFrame, masked: dict[str, pd.DataFrame], horizons: list[int]) -> dict:
    """{h: {"fused_auroc", "masked": {modality: {"auroc", "auroc_drop"}}}}; a positive drop means the modality helped."""
    result = {}
    for h in horizons:
        fused_auroc = horizon_metrics(fused, h).auroc
        per_modality = {}
        for modality, table in masked.items():
            masked_auroc = horizon_metrics(table, h).auroc
            per_modality[modality] = {"auroc": _number(masked_auroc), "auroc_drop": _number(fused_auroc - masked_auroc)}
        result[str(h)] = {"fused_auroc": _number(fused_auroc), "masked": per_modality}
    return result


def modality_weights(predictions: pd.DataFrame, horizon: int) -> dict:
    """Mean weight_<modality> over the days the model alerted at ``horizon`` and over all days.

    A missing modality has weight 0 that day (weights sum to 1 over present ones),
    so a mean also reflects how often the modality was there to be used.
    """
    alerted = predictions[alert_column(horizon)].to_numpy(bool)
    summary = {"horizon": horizon, "n_alert_days": int(alerted.sum()), "alert_days": {}, "all_days": {}}
    for modality in MODALITIES:
        weight_name = f"weight_{modality}"
        if weight_name not in predictions.columns:
            continue
        weights = predictions[weight_name].to_numpy(float)
        summary["alert_days"][modality] = _mean(weights[alerted])
        summary["all_days"][modality] = _mean(weights)
    return summary


def _mean(values: np.ndarray):
    return _number(float(np.nanmean(values))) if len(values) and not np.isnan(values).all() else None


def _number(value: float):
    return None if value is None or value != value else float(value)



# ---- contributions: exact Shapley values over the modalities on test days (storm.explain) ---------------------------

CONTRIBUTIONS = "contributions"  # the fused scorer's extra table: contribution_<m>_<h>d per row (Predictor.contributions)


def with_contributions(fused: pd.DataFrame, contributions: pd.DataFrame | None) -> pd.DataFrame:
    """The fused predictions plus contribution_<m>_<h>d: each modality's Shapley value in the calibrated score,
    computed on the published score's own game (storm.explain.attribution). None: the table as is."""
    if contributions is None:
        return fused
    if not (contributions["market"].to_numpy() == fused["market"].to_numpy()).all() or \
            not (contributions["date"].to_numpy() == fused["date"].to_numpy()).all():
        raise ValueError("contributions are not on the fused predictions' rows")
    columns = [c for c in contributions.columns if c.startswith("contribution_")]
    return fused.assign(**{c: contributions[c].to_numpy() for c in columns})


def contribution_summary(predictions: pd.DataFrame, horizons: list[int], settings) -> dict:
    """{h: {"storm"|"calm": {modality: {estimate, low, high, n_rows}}}}: mean |contribution| on test days.

    Intervals: the evaluation's paired block bootstrap draw (markets x blocks of dates, storm.evaluation.bootstrap).
    """
    from storm.evaluation.bootstrap import block_length, resample_counts

    if not any(c.startswith("contribution_") for c in predictions.columns):
        return {}
    markets, market_index = np.unique(predictions["market"].to_numpy(str), return_inverse=True)
    dates, date_index = np.unique(predictions["date"].to_numpy(str), return_inverse=True)
    chunks = list(resample_counts(len(markets), len(dates), settings.bootstrap_resamples,
                                  block_length(settings, horizons), settings.bootstrap_seed))
    tail = (1.0 - settings.confidence) / 2.0
    summary = {}
    for horizon in horizons:
        labels = predictions[f"storm_{horizon}d"].to_numpy(float)
        summary[str(horizon)] = {}
        for group, chosen in (("storm", labels == 1), ("calm", labels == 0)):
            summary[str(horizon)][group] = {}
            for modality in MODALITIES:
                column = f"contribution_{modality}_{horizon}d"
                if column not in predictions.columns:
                    continue
                size = np.abs(predictions[column].to_numpy(float))[chosen]
                means = []
                for market_counts, date_counts in chunks:
                    weights = market_counts[market_index[chosen]] * date_counts[date_index[chosen]]
                    total = weights.sum(axis=0)
                    means.append(np.where(total > 0, size @ weights / np.maximum(total, 1e-12), np.nan))
                means = np.concatenate(means) if means else np.zeros(0)
                means = means[~np.isnan(means)]
                summary[str(horizon)][group][modality] = {
                    "estimate": _number(float(size.mean())) if len(size) else None,
                    "low": _number(float(np.quantile(means, tail))) if len(means) else None,
                    "high": _number(float(np.quantile(means, 1 - tail))) if len(means) else None,
                    "n_rows": int(len(size))}
    return summary
