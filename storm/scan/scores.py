"""Turning predictions into the stored scores table (pure: tables in, tables out)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from storm.schema import INPUT_STATUSES, MODALITIES, PRODUCT_MEMBERS, SCORE_COLUMNS, member_column


def scores_table(predictions: pd.DataFrame, horizons: list[int], thresholds: dict[int, float], version: str) -> pd.DataFrame:
    """One row per (market, horizon), in a fixed order so reruns give the same bytes.

    ``predictions`` has market, date, score_{h}d, alert_{h}d, weight_<m>, present_<m>, and when the scan explained
    them contribution_<m>_<h>d: then weight_<m> of horizon h is that contribution (the modality's Shapley value in
    calibrated probability, storm.explain), never a fusion's gate weight.
    """
    rows = []
    for horizon in horizons:
        part = pd.DataFrame({
            "date": predictions["date"].astype(str),
            "market": predictions["market"].astype(str),
            "horizon": np.int32(horizon),
            "score": predictions[f"score_{horizon}d"].astype("float64"),
            "alert": predictions[f"alert_{horizon}d"].astype(bool),
            "threshold": np.float64(thresholds[horizon]),
            "model_version": version,
        })
        for modality in MODALITIES:
            source = f"contribution_{modality}_{horizon}d"
            if source not in predictions.columns:
                source = f"weight_{modality}"
            part[f"weight_{modality}"] = predictions[source].astype("float64").to_numpy()
            part[f"present_{modality}"] = predictions[f"present_{modality}"].astype(bool).to_numpy()
        for member in PRODUCT_MEMBERS:  # a stacked model's member contributions (storm.desk.product); else NaN
            source = f"{member_column(member)}_{horizon}d"
            part[member_column(member)] = (predictions[source].astype("float64").to_numpy() if source in predictions
                                           else np.nan)
        rows.append(part)
    table = pd.concat(rows, ignore_index=True)[list(SCORE_COLUMNS)]
    return table.sort_values(["date", "market", "horizon"], kind="stable").reset_index(drop=True)


def input_counts(predictions: pd.DataFrame, quarantined: dict[str, int], markets_missing: int) -> dict[str, dict[str, int]]:
    """storm_scan_inputs for one date: per modality, market-days present (ok) and absent (missing),
    and items quarantined that day. A market with no sample at all counts as missing everywhere."""
    counts: dict[str, dict[str, int]] = {}
    for modality in MODALITIES:
        present = int(predictions[f"present_{modality}"].astype(bool).sum()) if len(predictions) else 0
        counts[modality] = dict.fromkeys(INPUT_STATUSES, 0)
        counts[modality]["ok"] = present
        counts[modality]["missing"] = len(predictions) - present + markets_missing
        counts[modality]["quarantined"] = int(quarantined.get(modality, 0))
    return counts
