"""What `storm explain` prints: one score's full breakdown and what moved since the previous trading day (pure)."""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd

from storm.console import probability, signed
from storm.explain.call_parts import VOICE_GROUPS, OpenedCall
from storm.explain.table import BASELINE_NOTE, OTHER_ITEMS_KEY
from storm.schema import MODALITIES

CALIBRATED_NOTE = ("probabilities shown are the calibrated map of the raw logit beside them (the calibration fitted "
                   "on validation days), not its logistic")
CHANGED_ITEMS_SHOWN = 3  # per modality: the kept items whose effect moved most since the previous day
SENTENCES_SHOWN = 5      # an opened call's sentences with the largest effects either way
VOICE_GROUPS_SHOWN = 3   # and its voice feature groups
SENTENCE_WIDTH = 100     # characters of a sentence printed


def one_score(table: pd.DataFrame, market: str, horizon: int) -> pd.DataFrame:
    return table[(table["market"] == market) & (table["horizon"] == horizon)]


def default_horizon(scores: pd.DataFrame, market: str) -> int:
    """The shortest horizon the market is on alert at, else the longest (the one markets are compared on)."""
    rows = scores[scores["market"] == market]
    alerting = rows[rows["alert"]]
    return int(alerting["horizon"].min()) if len(alerting) else int(rows["horizon"].max())


def breakdown_lines(rows: pd.DataFrame, score_row=None, opened: Mapping[str, list[str]] | None = None) -> list[str]:
    """Score, baseline, each modality's Shapley value (logit and probability) and each modality's items; for a
    stacked model first each member's Shapley value in the published score, then the neural member's own breakdown.
    ``opened``: lines printed under the item of that key (a call opened into its parts, opened_call_lines)."""
    members = rows[rows["kind"] == "member"].sort_values("rank")
    rows = rows[rows["kind"] != "member"]
    first = members.iloc[0] if len(members) else rows.iloc[0]
    lines = [f"{first.market} on {first.date}, {int(first.horizon)}-day horizon: score {probability(first.score)} "
             f"(logit {first.score_logit:+.2f})"
             + (f", {'ON ALERT' if bool(score_row.alert) else 'no alert'} at threshold "
                f"{probability(score_row.threshold)}" if score_row is not None else "")]
    if len(members):
        lines += member_lines(members)
        if rows.empty:
            return lines
        first = rows.iloc[0]
        shipped = "fused" in set(members["item"])
        lines.append(("inside the neural member (fused)" if shipped else
                      "the neural member (fused) has weight 0 in this score; for reference")
                     + f": its own calibrated score {probability(first.score)} (logit {first.score_logit:+.2f})")
    lines.append(CALIBRATED_NOTE)
    lines.append(f"{BASELINE_NOTE}: {probability(first.baseline)} (logit {first.baseline_logit:+.2f})")
    lines += _evidence_weight_lines(first)
    lines.append("contributions (exact Shapley values over the modalities; they add up to score - baseline):")
    modalities = rows[rows["kind"] == "modality"].set_index("modality")
    for modality in MODALITIES:
        if modality not in modalities.index:
            continue
        row = modalities.loc[modality]
        absent = score_row is not None and not bool(getattr(score_row, f"present_{modality}", True))
        lines.append(f"  {modality:<7} " + ("absent on this day" if absent else
                     f"{signed(row.contribution):>9}   (logit {row.contribution_logit:+.3f})"))
    lines.append(f"  {'sum':<7} {signed(modalities['contribution'].sum()):>9} = {probability(first.score)} - "
                 f"{probability(first.baseline)}   (logit {modalities['contribution_logit'].sum():+.3f})")
    lines.append("items that moved it (Shapley values within each modality, against the market's calm prices and "
                 "without each headline or call; they add up to the modality's contribution):")
    for modality in MODALITIES:
        items = rows[(rows["kind"] == "item") & (rows["modality"] == modality)].sort_values("rank")
        if items.empty:
            continue
        lines.append(f"  {modality}:")
        for item in items.itertuples(index=False):
            when = f"{item.item_date}  " if item.item_date else ""
            lines.append(f"    {item.contribution_logit:+.4f} ({signed(item.contribution)})  {when}{item.item}")
            lines += (opened or {}).get(item.item_key, [])
    return lines


def opened_call_lines(call: OpenedCall, horizon: int, sentences_shown: int = SENTENCES_SHOWN) -> list[str]:
    """Under a call's item: its top sentences with their text, its words and voice, its top voice feature groups,
    and how the parts were computed and that they add up to the call's effect (logit, calibrated probability)."""
    indent = "      "
    if call.parts is None:
        return [f"{indent}not opened: {call.note}"]
    h = call.horizons.index(horizon)
    k = len(call.horizons)
    parts = call.parts

    def effect(values) -> str:
        return f"{values[h]:+.4f} ({signed(values[k + h])})"

    n = len(parts.sentences)
    method = ("exact Shapley values over every subset of them" if parts.sentences_exact else
              f"Shapley values by {parts.orders} sampled orders of them, half of them reversed (antithetic)")
    lines = [f"{indent}its {n} sentences, those that moved it most ({method}; each call re-pooled from a subset of "
             "its sentences, words and voice, at its full length):"]
    order = np.argsort(-np.abs(parts.sentences[:, h]), kind="stable")[:sentences_shown]
    for i in order:
        text = call.texts[i] if call.texts is not None and call.texts[i] else "(no transcript: voice only)"
        lines.append(f"{indent}  {effect(parts.sentences[i])}  sentence {i + 1}: {_quoted(text)}")
    lines.append(f"{indent}words {effect(parts.words)}, voice {effect(parts.voice)} (exact Shapley values of two "
                 "players: the words left out, or every voice feature read as undefined)")
    groups = np.argsort(-np.abs(parts.voice_groups[:, h]), kind="stable")[:VOICE_GROUPS_SHOWN]
    lines.append(f"{indent}voice by feature group (exact Shapley over {len(VOICE_GROUPS)} groups; they add up to the "
                 "voice's part): " + ", ".join(f"{VOICE_GROUPS[g][0]} {parts.voice_groups[g, h]:+.4f}" for g in groups))
    lines.append(f"{indent}the parts add up to the call's effect {effect(parts.value)}: the call itself with nothing "
                 f"said read {effect(parts.reference)} + its sentences {parts.sentences[:, h].sum():+.4f} "
                 f"(= its words and voice {parts.words[h] + parts.voice[h]:+.4f})")
    if call.note:
        lines.append(f"{indent}note: {call.note}")
    elif np.isfinite(call.mismatch):
        lines.append(f"{indent}its sentences re-read from the stored call table pool back to the scored call vector "
                     f"within {call.mismatch:.1e}")
    return lines


def _quoted(text: str, width: int = SENTENCE_WIDTH) -> str:
    text = " ".join(text.split())
    return '"' + (text if len(text) <= width else text[:width - 1] + "…") + '"'


def member_lines(members: pd.DataFrame) -> list[str]:
    """A stacked score's members: each one's exact Shapley value in the published score, its own probability and
    its term in the stack's logit; they add up to score − baseline (every member at its validation mean)."""
    first = members.iloc[0]
    lines = [f"baseline: the published score with every member at its validation mean: {probability(first.baseline)} "
             f"(logit {first.baseline_logit:+.2f})",
             "members (exact Shapley values over the stack's members; they add up to score - baseline):"]
    for row in members.itertuples(index=False):
        own = "not scored (weight 0)" if not math.isfinite(row.item_value) else f"its own score {probability(row.item_value)}"
        lines.append(f"  {row.item:<12} {signed(row.contribution):>9}   (stack logit term {row.contribution_logit:+.3f}; "
                     f"{own})")
    lines.append(f"  {'sum':<12} {signed(members['contribution'].sum()):>9} = {probability(first.score)} - "
                 f"{probability(first.baseline)}")
    return lines


def _evidence_weight_lines(first) -> list[str]:
    weight = getattr(first, "evidence_weight", math.nan)
    if weight is None or not math.isfinite(weight):
        return []
    line = (f"the model reads prices, plus news and calls at weight {weight:.2f} (chosen on its validation block: "
            "score = prices alone + weight x (all evidence - prices alone))")
    if weight == 0:
        line += "; at 0, news and calls cannot move this score"
    return [line]


def _key(items: pd.DataFrame) -> pd.Series:
    """An item's identity across days: the stored item_key (a price reading's name), else its label."""
    if "item_key" in items.columns:
        return items["item_key"].where(items["item_key"].astype(bool), items["item"])
    return items["item"]


def change_lines(today: pd.DataFrame, previous: pd.DataFrame, previous_date: str) -> list[str]:
    """Which contributions moved since the previous trading day; items new, gone, or whose effect moved most."""
    if previous.empty:
        return [f"since {previous_date}: no stored explanation for that day (scan it to compare)"]
    now, before = today.iloc[0], previous.iloc[0]
    lines = [f"since {previous_date} (previous trading day): score {probability(before.score)} -> "
             f"{probability(now.score)} ({signed(now.score - before.score)}; logit "
             f"{now.score_logit - before.score_logit:+.3f})"]
    now_m = today[today["kind"] == "modality"].set_index("modality")["contribution_logit"]
    before_m = previous[previous["kind"] == "modality"].set_index("modality")["contribution_logit"]
    moves = sorted(MODALITIES, key=lambda m: -abs(now_m.get(m, 0.0) - before_m.get(m, 0.0)))
    for modality in moves:
        a, b = before_m.get(modality, 0.0), now_m.get(modality, 0.0)
        lines.append(f"  {modality:<7} logit {a:+.3f} -> {b:+.3f} ({b - a:+.3f})")
    now_items = today[today["kind"] == "item"].assign(_key=lambda t: _key(t))
    before_items = previous[previous["kind"] == "item"].assign(_key=lambda t: _key(t))
    now_items, before_items = (items[items["_key"] != OTHER_ITEMS_KEY] for items in (now_items, before_items))
    for modality in MODALITIES:
        mine_now = now_items[now_items["modality"] == modality]
        mine_before = before_items[before_items["modality"] == modality]
        fresh = mine_now[~mine_now["_key"].isin(mine_before["_key"])]
        gone = mine_before[~mine_before["_key"].isin(mine_now["_key"])]
        both = mine_now.merge(mine_before[["_key", "contribution_logit"]], on="_key", suffixes=("", "_before"))
        both = both.assign(_moved=both["contribution_logit"] - both["contribution_logit_before"])
        for item in both.reindex(both["_moved"].abs().sort_values(ascending=False).index).head(
                CHANGED_ITEMS_SHOWN).itertuples(index=False):
            lines.append(f"  moved in {modality}: logit {item.contribution_logit_before:+.4f} -> "
                         f"{item.contribution_logit:+.4f}  {item.item}")
        for item in fresh.sort_values("rank").itertuples(index=False):
            lines.append(f"  new in {modality}: {item.contribution_logit:+.4f} ({signed(item.contribution)})  {item.item}")
        for item in gone.sort_values("rank").itertuples(index=False):
            lines.append(f"  no longer among {modality}: {item.item}")
    return lines
