"""What `storm explain` prints: one score's full breakdown and what moved since the previous trading day (pure)."""

from __future__ import annotations

import pandas as pd

from storm.explain.table import BASELINE_NOTE, MODALITY_NAMES
from storm.schema import MODALITIES


def one_score(table: pd.DataFrame, market: str, horizon: int) -> pd.DataFrame:
    return table[(table["market"] == market) & (table["horizon"] == horizon)]


def default_horizon(scores: pd.DataFrame, market: str) -> int:
    """The shortest horizon the market is on alert at, else the longest (the one markets are compared on)."""
    rows = scores[scores["market"] == market]
    alerting = rows[rows["alert"]]
    return int(alerting["horizon"].min()) if len(alerting) else int(rows["horizon"].max())


def breakdown_lines(rows: pd.DataFrame, score_row=None) -> list[str]:
    """Score, baseline, each modality's Shapley value (logit and probability) and each modality's items."""
    first = rows.iloc[0]
    lines = [f"{first.market} on {first.date}, {int(first.horizon)}-day horizon: score {first.score:.3f} "
             f"(logit {first.score_logit:+.2f})"
             + (f", {'ON ALERT' if bool(score_row.alert) else 'no alert'} at threshold {score_row.threshold:.3f}"
                if score_row is not None else ""),
             f"{BASELINE_NOTE}: {first.baseline:.3f} (logit {first.baseline_logit:+.2f})",
             "contributions (exact Shapley values over the modalities; they add up to score - baseline):"]
    modalities = rows[rows["kind"] == "modality"].set_index("modality")
    for modality in MODALITIES:
        if modality in modalities.index:
            row = modalities.loc[modality]
            lines.append(f"  {MODALITY_NAMES[modality]:<7} {row.contribution:+.3f}   (logit {row.contribution_logit:+.3f})")
    lines.append(f"  {'sum':<7} {modalities['contribution'].sum():+.3f} = {first.score:.3f} - {first.baseline:.3f}"
                 f"   (logit {modalities['contribution_logit'].sum():+.3f})")
    lines.append("items that moved it (effect = score - score without that item):")
    for modality in MODALITIES:
        items = rows[(rows["kind"] == "item") & (rows["modality"] == modality)].sort_values("rank")
        if items.empty:
            continue
        lines.append(f"  {MODALITY_NAMES[modality]}:")
        for item in items.itertuples(index=False):
            when = f"{item.item_date}  " if item.item_date else ""
            lines.append(f"    {item.contribution:+.4f}  {when}{item.item}")
    return lines


def change_lines(today: pd.DataFrame, previous: pd.DataFrame, previous_date: str) -> list[str]:
    """Which contributions moved since the previous trading day, and the items new or gone among the top ones."""
    if previous.empty:
        return [f"since {previous_date}: no stored explanation for that day (scan it to compare)"]
    now, before = today.iloc[0], previous.iloc[0]
    lines = [f"since {previous_date} (previous trading day): score {before.score:.3f} -> {now.score:.3f} "
             f"({now.score - before.score:+.3f})"]
    now_m = today[today["kind"] == "modality"].set_index("modality")["contribution"]
    before_m = previous[previous["kind"] == "modality"].set_index("modality")["contribution"]
    moves = sorted(MODALITIES, key=lambda m: -abs(now_m.get(m, 0.0) - before_m.get(m, 0.0)))
    for modality in moves:
        a, b = before_m.get(modality, 0.0), now_m.get(modality, 0.0)
        lines.append(f"  {MODALITY_NAMES[modality]:<7} {a:+.3f} -> {b:+.3f} ({b - a:+.3f})")
    now_items = today[today["kind"] == "item"]
    before_items = previous[previous["kind"] == "item"]
    for modality in MODALITIES:
        fresh = now_items[(now_items["modality"] == modality) & ~now_items["item"].isin(before_items["item"])]
        gone = before_items[(before_items["modality"] == modality) & ~before_items["item"].isin(now_items["item"])]
        for item in fresh.sort_values("rank").itertuples(index=False):
            lines.append(f"  new in {MODALITY_NAMES[modality]}: {item.contribution:+.4f}  {item.item}")
        for item in gone.sort_values("rank").itertuples(index=False):
            lines.append(f"  no longer among {MODALITY_NAMES[modality]}: {item.item}")
    return lines
