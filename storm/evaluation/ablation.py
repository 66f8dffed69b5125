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

