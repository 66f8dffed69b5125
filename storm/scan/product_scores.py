"""A stacked model's published scores for the scan's rows: the neural member's probabilities (already scored) and the
desk members' (computed here from stored prices) combined by the model's ProductModel (pure: tables in, table out).

The stored score and alert become the product's; ``member_<name>_<h>d`` columns carry each member's exact Shapley
value in it, and with explanations every sample gains one "member" row per member, before its modality rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from storm.desk.product import NEURAL, ProductExplanation, ProductModel
from storm.schema import alert_column, logit_column, member_column, score_column

def with_product(predictions: pd.DataFrame, product: ProductModel, prices: pd.DataFrame,
                 quant: pd.DataFrame | None = None) -> pd.DataFrame:
    """``predictions`` (market, date, score_{h}d, alert_{h}d, … of the neural member) with the product's scores.

    ``prices``: every market's stored prices (market, date, close, volume); rows after the last scored date are
    not read, so a scan of a past day scores what was known that day. ``quant``: the evidence window's
    quant_price_features table (WindowEvidence.quant), read by the boosted member (None: computed here)."""
    horizons = product.horizons
    used = product.used_members()
    keys = predictions[["market", "date"]].astype(str).reset_index(drop=True)
    known = prices[prices["date"].astype(str) <= keys["date"].max()] if len(keys) else prices.iloc[:0]
    desk = (product.desk.raw_logits(known, [m for m in used if m != NEURAL], dates=set(keys["date"]), quant=quant)
            if len(keys) else {})
    probabilities = {}
    for member in used:
        if member == NEURAL:
            probabilities[member] = predictions[[score_column(h) for h in horizons]].to_numpy(np.float64)
        else:
            table = keys.merge(desk[member].assign(date=lambda t: t["date"].astype(str)), on=["market", "date"],
                               how="left")
            probabilities[member] = product.desk.probability(member, table[[logit_column(h) for h in horizons]])
    explained = product.explain(probabilities, len(keys))
    out = predictions.reset_index(drop=True).copy()
    for i, h in enumerate(horizons):
        out[score_column(h)] = explained.scores.probability[:, i]
        out[alert_column(h)] = explained.scores.alert[:, i]
        for member in product.members:
            out[f"{member_column(member)}_{h}d"] = explained.contributions[member][:, i]
    if "explanation" in out.columns:
        out["explanation"] = [member_rows(product, explained, probabilities, row) + list(rows)
                              for row, rows in enumerate(out["explanation"])]
    return out


def member_rows(product: ProductModel, explained: ProductExplanation, probabilities: dict[str, np.ndarray],
                row: int) -> list[dict]:
    """One sample's "member" explanation rows: per horizon, each used member ranked by its contribution."""
    rows = []
    scores, contributions = explained.scores, explained.contributions
    for i, h in enumerate(product.horizons):
        totals = {"horizon": int(h), "score_logit": float(scores.logit[row, i]),
                  "score": float(scores.probability[row, i]), "baseline_logit": float(product.fits[h].intercept),
                  "baseline": float(explained.baseline[row, i]), "evidence_weight": float("nan")}
        ranked = sorted(explained.terms, key=lambda m: -contributions[m][row, i])
        for rank, member in enumerate(ranked, start=1):
            rows.append({**totals, "kind": "member", "modality": "", "rank": rank, "item": member,
                         "item_key": member, "item_date": "",
                         "item_value": float(probabilities[member][row, i]),  # its own calibrated probability
                         "contribution_logit": float(explained.terms[member][row, i]),
                         "contribution": float(contributions[member][row, i])})
    return rows
