"""Predictions tables: a predictor's outputs on sample batches, beside the keys and labels.

The one shape every figure is computed from (docs/INTERFACES.md, "Predictions / evaluation"):
market, date, score_{h}d, alert_{h}d, vol_pred, weight_<m>, present_<m>, storm_{h}d, fwd_log_vol.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from storm.evaluation.metrics import alert_column, by_fold_and_market, logit_column, score_column
from storm.features.windows import WINDOW_INPUT_KEYS as MODEL_INPUT_KEYS
from storm.labels import storm_episode_ids
from storm.published.predictor import Predictor
from storm.schema import FWD_VOL, MODALITIES, storm_column

MultiPredictFn = Callable[[dict[str, np.ndarray]], Mapping[str, Mapping[str, np.ndarray]]]


def batch_predictions(batch: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray], horizons: list[int]) -> pd.DataFrame:
    """One batch's rows: keys and labels from the samples, everything else from the predictor."""
    table = pd.DataFrame({"market": np.asarray(batch["market"]).astype(str), "date": np.asarray(batch["date"]).astype(str)})
    for name, values in outputs.items():
        table[name] = np.asarray(values)
    mask = np.asarray(batch["modality_mask"])
    for index, modality in enumerate(MODALITIES):
        table[f"present_{modality}"] = mask[:, index] > 0.5
    for column in [storm_column(h) for h in horizons] + [FWD_VOL]:
        table[column] = np.asarray(batch[column], dtype=float)
    return table


PREDICTION_BATCH_ROWS = 256  # windows scored at once by evaluate and by storm train's product


def plain_scorer(name: str, predictor: Predictor):
    """A collect_predictions scorer: the predictor's own outputs, with logits, under ``name``."""
    return lambda inputs: {name: predictor.predict(inputs, with_logits=True)}


def collect_predictions(
    batches: Iterable[Mapping[str, np.ndarray]], scorers: dict[str, MultiPredictFn], horizons: list[int]
) -> dict[str, pd.DataFrame]:
    """Run every scorer on each batch once; each returns {variant: outputs}. Returns {variant: table}.

    One pass over the samples serves every variant (a model, the model with a modality masked, …).
    """
    parts: dict[str, list[pd.DataFrame]] = {}
    for batch in batches:
        inputs = {key: np.asarray(batch[key]) for key in MODEL_INPUT_KEYS}
        for scorer in scorers.values():
            for name, outputs in scorer(inputs).items():
                parts.setdefault(name, []).append(batch_predictions(batch, outputs, horizons))
    return {name: pd.concat(tables, ignore_index=True).sort_values(["market", "date"], ignore_index=True)
            for name, tables in parts.items()}


def long_predictions(models: Mapping[str, pd.DataFrame], horizons: list[int]) -> pd.DataFrame:
    """Every model's test-block scores, one row per (model, market, date, horizon): fold, probability (calibrated),
    logit (raw, where the model has one), alert, label and storm episode id ("fold/market/k" for the k-th run of
    storm days of one market in one fold; empty on calm days). The file anyone recomputes the report's figures from."""
    parts = []
    for name, table in models.items():
        ordered, key = by_fold_and_market(table)
        for h in horizons:
            labels = ordered[storm_column(h)].to_numpy(float)
            parts.append(pd.DataFrame({
                "model": name, "market": ordered["market"].astype(str), "date": ordered["date"].astype(str),
                "fold": ordered["fold"].astype(str), "horizon": np.int16(h),
                "probability": ordered[score_column(h)].to_numpy(float),
                "logit": ordered[logit_column(h)].to_numpy(float) if logit_column(h) in ordered.columns else np.nan,
                "alert": ordered[alert_column(h)].to_numpy(bool), "label": labels,
                "episode": [f"{k}/{e}" if e >= 0 else "" for k, e in zip(key, storm_episode_ids(key, labels))]}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
