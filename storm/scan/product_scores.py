"""A stacked model's published scores for the scan's rows: the neural member's probabilities (already scored) and the
desk members' (computed here from stored prices) combined by the model's ProductModel (pure: tables in, table out).

The stored score and alert become the product's; ``member_<name>_<h>d`` columns carry each member's exact Shapley
value in it, and with explanations every sample gains one "member" row per member, before its modality rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from storm.desk.product import NEURAL, ProductModel, probability_logit
from storm.schema import member_column

LOGIT = "logit_{}d"


def with_product(predictions: pd.DataFrame, product: ProductModel, prices: pd.DataFrame) -> pd.DataFrame:
    """``predictions`` (market, date, score_{h}d, alert_{h}d, … of the neural member) with the product's scores.

    ``prices``: every market's stored prices (market, date, close, volume); rows after the last scored date are
    not read, so a scan of a past day scores what was known that day."""
    horizons = product.horizons
    used = product.used_members()
    keys = predictions[["market", "date"]].astype(str).reset_index(drop=True)
    known = prices[prices["date"].astype(str) <= keys["date"].max()] if len(keys) else prices.iloc[:0]
    desk = (product.desk.raw_logits(known, [m for m in used if m != NEURAL], dates=set(keys["date"]))
            if len(keys) else {})
    probabilities = {}
    for member in used:
        if member == NEURAL:
            probabilities[member] = predictions[[f"score_{h}d" for h in horizons]].to_numpy(np.float64)
        else:
            table = keys.merge(desk[member].assign(date=lambda t: t["date"].astype(str)), on=["market", "date"],
                               how="left")
            probabilities[member] = product.desk.probability(member, table[[LOGIT.format(h) for h in horizons]])
    if not probabilities:  # nothing to score from: every member's weight is 0 (cannot happen for a fitted stack)
        probabilities = {NEURAL: predictions[[f"score_{h}d" for h in horizons]].to_numpy(np.float64)}
    scores = product.score(probabilities)
    baseline, contributions = product.contributions(probabilities)
    out = predictions.reset_index(drop=True).copy()
    for i, h in enumerate(horizons):
        out[f"score_{h}d"] = scores.probability[:, i]
        out[f"alert_{h}d"] = scores.alert[:, i]
        for member in product.members:
            out[f"{member_column(member)}_{h}d"] = contributions[member][:, i]
    if "explanation" in out.columns:
        out["explanation"] = [member_rows(product, scores, baseline, contributions, probabilities, row) + list(rows)
                              for row, rows in enumerate(out["explanation"])]
    return out


def member_rows(product: ProductModel, scores, baseline: np.ndarray, contributions: dict[str, np.ndarray],
                probabilities: dict[str, np.ndarray], row: int) -> list[dict]:
    """One sample's "member" explanation rows: per horizon, each member ranked by its contribution."""
    rows = []
    for i, h in enumerate(product.horizons):
        totals = {"horizon": int(h), "score_logit": float(scores.logit[row, i]),
                  "score": float(scores.probability[row, i]), "baseline_logit": float(product.fits[h].intercept),
                  "baseline": float(baseline[row, i]), "evidence_weight": float("nan")}
        ranked = sorted(product.used_members(), key=lambda m: -contributions[m][row, i])
        for rank, member in enumerate(ranked, start=1):
            own = probabilities.get(member)  # the member's own calibrated probability (None: weight 0, not scored)
            term = 0.0 if own is None else float(np.nan_to_num(
                product.fits[h].term(member, probability_logit(own[row:row + 1, i])))[0])
            rows.append({**totals, "kind": "member", "modality": "", "rank": rank, "item": member,
                         "item_key": member, "item_date": "",
                         "item_value": float("nan") if own is None else float(own[row, i]),
                         "contribution_logit": term, "contribution": float(contributions[member][row, i])})
    return rows
