"""The stored explanations table (scores/date=D/explanations.parquet) and what is read off it (pure pandas).

One row per (market, horizon) and modality (kind "modality": its Shapley value) and per kept item
(kind "item": the headline, price reading or call and its Shapley value within the modality, storm.explain.items;
the items left out are summed into one "other items" row, so a modality's item rows add up to its own row). Every
row repeats the
score and the baseline it explains, in logit (the model's raw storm logit) and in calibrated probability.
A stacked model (storm.desk.product) adds one row per member (kind "member": its exact Shapley value in the
published score, with the published score and baseline); its modality and item rows then explain the neural
member's own score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from storm.console import probability, signed
from storm.explain.attribution import Explanation
from storm.schema import MODALITIES

EXPLANATION_COLUMNS = (
    "date", "market", "horizon", "kind", "modality", "rank", "item", "item_key", "item_date", "item_value",
    "contribution_logit", "contribution", "score_logit", "score", "baseline_logit", "baseline", "evidence_weight",
    "model_version",
)
ITEMS_KEPT = 8  # per market, horizon and modality: the largest effects either way (the rest summed in one row)
OTHER_ITEMS_KEY = "other items"
NO_EFFECT = 1e-9  # in logit: an item whose removal moves the score less than this did not move it
BASELINE_NOTE = "baseline: the score with every modality masked (the model's learned 'nothing present' input)"


def sample_rows(explanation: Explanation, sample: int, items_kept: int = ITEMS_KEPT) -> list[dict]:
    """One sample's explanation rows without date, market and model_version (the scan adds them)."""
    rows = []
    item_index = [i for i, item in enumerate(explanation.items) if item.sample == sample]
    for h_index, horizon in enumerate(explanation.horizons):
        totals = {"horizon": int(horizon),
                  "score_logit": float(explanation.score_logit[sample, h_index]),
                  "score": float(explanation.score[sample, h_index]),
                  "baseline_logit": float(explanation.baseline_logit[sample, h_index]),
                  "baseline": float(explanation.baseline[sample, h_index]),
                  "evidence_weight": float(explanation.evidence_weight)}
        by_logit = explanation.modality_logit[sample, :, h_index]
        for rank, m_index in enumerate(np.argsort(-by_logit, kind="stable"), start=1):
            rows.append({**totals, "kind": "modality", "modality": MODALITIES[m_index], "rank": rank, "item": "",
                         "item_key": "", "item_date": "", "item_value": float("nan"),
                         "contribution_logit": float(by_logit[m_index]),
                         "contribution": float(explanation.modality[sample, m_index, h_index])})
        for modality in MODALITIES:
            mine = [i for i in item_index if explanation.items[i].modality == modality]
            moved = [i for i in mine if abs(explanation.item_logit[i, h_index]) > NO_EFFECT]  # not a list of zeros
            kept = sorted(moved, key=lambda i: -abs(explanation.item_logit[i, h_index]))[:items_kept]
            for rank, i in enumerate(sorted(kept, key=lambda i: -explanation.item_logit[i, h_index]), start=1):
                item = explanation.items[i]
                rows.append({**totals, "kind": "item", "modality": modality, "rank": rank, "item": item.label,
                             "item_key": item.key, "item_date": item.date, "item_value": float(item.value),
                             "contribution_logit": float(explanation.item_logit[i, h_index]),
                             "contribution": float(explanation.item[i, h_index])})
            rest = [i for i in moved if i not in set(kept)]
            if rest:
                rows.append({**totals, "kind": "item", "modality": modality, "rank": len(kept) + 1,
                             "item": f"the other {len(rest)} {modality} items", "item_key": OTHER_ITEMS_KEY,
                             "item_date": "", "item_value": float("nan"),
                             "contribution_logit": float(explanation.item_logit[rest, h_index].sum()),
                             "contribution": float(explanation.item[rest, h_index].sum())})
    return rows


def explanations_table(samples_rows, markets, dates, version: str) -> pd.DataFrame:
    """The stored table from each sample's rows (sample_rows) and keys; sorted so reruns write the same bytes."""
    rows = []
    for sample, market, date in zip(samples_rows, markets, dates):
        for row in sample:
            rows.append({**row, "date": str(date), "market": str(market), "model_version": version})
    table = pd.DataFrame(rows, columns=list(EXPLANATION_COLUMNS))
    if table.empty:
        return table
    table["item_value"] = table["item_value"].astype("float64")
    table["evidence_weight"] = table["evidence_weight"].astype("float64")
    table["horizon"] = table["horizon"].astype("int32")
    table["rank"] = table["rank"].astype("int32")
    kind_order = table["kind"].map({"member": 0, "modality": 1, "item": 2})
    modality_order = table["modality"].map({m: i for i, m in enumerate(MODALITIES)})
    table = table.assign(_k=kind_order, _m=modality_order).sort_values(
        ["date", "market", "horizon", "_k", "_m", "rank"], kind="stable").drop(columns=["_k", "_m"])
    return table.reset_index(drop=True)


def contributions_by_horizon(explanation: Explanation) -> dict[str, np.ndarray]:
    """contribution_<modality>_<h>d: the Shapley value in calibrated probability, one column per modality and horizon."""
    return {f"contribution_{m}_{h}d": explanation.modality[:, i, j].astype(np.float64)
            for i, m in enumerate(MODALITIES) for j, h in enumerate(explanation.horizons)}


def main_driver(table: pd.DataFrame, market: str, horizon: int) -> tuple[str, pd.DataFrame] | None:
    """(modality that raised the score most, its top 3 items) for a market and horizon, or None if not explained."""
    rows = table[(table["market"] == market) & (table["horizon"] == horizon)]
    modalities = rows[rows["kind"] == "modality"].sort_values("contribution_logit", ascending=False)
    if modalities.empty:
        return None
    top = str(modalities.iloc[0]["modality"])
    items = rows[(rows["kind"] == "item") & (rows["modality"] == top)].sort_values("rank").head(3)
    return top, items


def driver_lines(table: pd.DataFrame, scores: pd.DataFrame) -> list[str]:
    """Per alerting market (its shortest alerting horizon): the main driver and its top 3 items, one line each.

    For a stacked model the driver is first the member that raised the score most; when that is the neural
    member, its own main modality and items follow."""
    lines = []
    alerting = scores[scores["alert"]].sort_values(["market", "horizon"]).drop_duplicates("market")
    for row in alerting.sort_values("score", ascending=False).itertuples(index=False):
        mine = table[(table.market == row.market) & (table.horizon == row.horizon)]
        members = mine[mine.kind == "member"].sort_values("contribution", ascending=False)
        if len(members):
            top = members.iloc[0]
            if top["contribution"] <= 0:
                lines.append(f"{row.market} {int(row.horizon)}d: no member raised it above the baseline "
                             f"({probability(top['baseline'])}); the alert threshold sits below it")
                continue
            lines.append(f"{row.market} {int(row.horizon)}d: driven by member {top['item']} "
                         f"({signed(top['contribution'])} of {probability(row.score)})")
            if top["item"] != "fused":
                continue
        found = main_driver(mine, row.market, int(row.horizon))
        if found is None:
            continue
        modality, items = found
        share = mine[(mine.kind == "modality") & (mine.modality == modality)]["contribution"].iloc[0]
        lines.append(("    within it, " if len(members) else f"{row.market} {int(row.horizon)}d: ")
                     + f"driven by {modality} ({signed(share)} of "
                     + (f"its own {probability(mine[mine.kind == 'modality']['score'].iloc[0])})" if len(members)
                        else f"{probability(row.score)})"))
        for item in items.itertuples(index=False):
            lines.append(f"    {item.contribution_logit:+.4f} logit ({signed(item.contribution)})  {_short(item.item)}")
    return lines


def _short(text: str, width: int = 64) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
