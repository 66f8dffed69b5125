"""The Prometheus metrics contract (docs/ARCHITECTURE.md): names, labels, and the registry one scan publishes.

Every metric is a gauge: a nightly batch job reports state, not events, and
gauges carry no `_created` series. Rules, dashboards and tests take metric
names from here, never from their own strings.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Mapping

import pandas as pd
from prometheus_client import CollectorRegistry, Gauge

from storm.schema import INPUT_STATUSES, MODALITIES, PRODUCT_MEMBERS, SCORE_COLUMNS, ScanStats, member_column

ALERT_SCORE = "storm_alert_score"
ALERT_THRESHOLD = "storm_alert_threshold"
ALERT_ACTIVE = "storm_alert_active"
MODALITY_WEIGHT = "storm_modality_weight"  # kept for compatibility: the longest horizon's contributions
ALERT_CONTRIBUTION = "storm_alert_contribution"
SCAN_LAST_SUCCESS = "storm_scan_last_success_timestamp_seconds"
SCAN_DURATION = "storm_scan_duration_seconds"
SCAN_AS_OF = "storm_scan_as_of_timestamp_seconds"
SCAN_INPUTS = "storm_scan_inputs"
SCAN_MARKETS_SCORED = "storm_scan_markets_scored"
SCAN_MARKETS_MISSING = "storm_scan_markets_missing"
MODEL_INFO = "storm_model_info"
NEURAL_MEMBER = "fused"  # storm_alert_contribution's member label on the neural model's modality contributions
MEMBER_COLUMNS = tuple(member_column(m) for m in PRODUCT_MEMBERS)

ALL_METRICS = (
    ALERT_SCORE, ALERT_THRESHOLD, ALERT_ACTIVE, MODALITY_WEIGHT, ALERT_CONTRIBUTION, SCAN_LAST_SUCCESS, SCAN_DURATION,
    SCAN_AS_OF, SCAN_INPUTS, SCAN_MARKETS_SCORED, SCAN_MARKETS_MISSING, MODEL_INFO,
)
# Published only when the scan's ScanStats are known (a republish from scores alone leaves them as pushed).
SCAN_STATS_METRICS = (SCAN_LAST_SUCCESS, SCAN_DURATION, SCAN_INPUTS, SCAN_MARKETS_MISSING)


def horizon_label(horizon: int) -> str:
    """Horizon as a label value: the trading-day count, e.g. "20"."""
    return str(int(horizon))


def as_of_timestamp(date: str) -> float:
    """Unix seconds of the scored date's midnight UTC."""
    return datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp()


def thresholds_of(scores: pd.DataFrame) -> dict[int, float]:
    """The calibrated threshold per horizon as the scores table records it."""
    return {int(h): float(t) for h, t in scores.groupby("horizon")["threshold"].first().items()}


def build_registry(
    scores: pd.DataFrame,
    stats: ScanStats | None,
    model_info: Mapping[str, str],
    thresholds: Mapping[int, float] | None = None,
) -> CollectorRegistry:
    """One scan's metrics from its scores table (SCORE_COLUMNS) and stats.

    thresholds default to the scores' own `threshold` column; model_info
    becomes storm_model_info's labels (its `version` defaults to the scores'
    model_version). stats None (a republish without stored stats) leaves out
    SCAN_STATS_METRICS so a push does not overwrite them.
    """
    missing = [c for c in SCORE_COLUMNS if c not in scores.columns and c not in MEMBER_COLUMNS]  # scans before stacks
    if missing:
        raise ValueError(f"scores table lacks columns {missing}; expected SCORE_COLUMNS {list(SCORE_COLUMNS)}")
    registry = CollectorRegistry(auto_describe=True)
    _add_scores(registry, scores)
    _add_thresholds(registry, thresholds if thresholds is not None else thresholds_of(scores))
    _add_modality_weights(registry, scores)
    _add_contributions(registry, scores)
    _add_model_info(registry, scores, model_info)
    _add_scan(registry, scores, stats)
    return registry


def _gauge(registry: CollectorRegistry, name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
    return Gauge(name, doc, labelnames=labels, registry=registry)


def _add_scores(registry: CollectorRegistry, scores: pd.DataFrame) -> None:
    score = _gauge(registry, ALERT_SCORE, "Calibrated probability of a storm within the horizon, 0..1.", ("market", "horizon"))
    active = _gauge(registry, ALERT_ACTIVE, "1 when the score is at or above its horizon's threshold.", ("market", "horizon"))
    for row in scores.itertuples(index=False):
        labels = (str(row.market), horizon_label(row.horizon))
        score.labels(*labels).set(float(row.score))
        active.labels(*labels).set(1.0 if bool(row.alert) else 0.0)


def _add_thresholds(registry: CollectorRegistry, thresholds: Mapping[int, float]) -> None:
    gauge = _gauge(registry, ALERT_THRESHOLD, "Score threshold per horizon, calibrated at the false-alarm rate.", ("horizon",))
    for horizon, value in sorted(thresholds.items()):
        gauge.labels(horizon_label(horizon)).set(float(value))


def _add_modality_weights(registry: CollectorRegistry, scores: pd.DataFrame) -> None:
    """The longest horizon's contributions (weight_<m>: Shapley values, storm.explain); kept for old dashboards."""
    gauge = _gauge(registry, MODALITY_WEIGHT, "Contribution of each modality to the longest horizon's score "
                   "(as storm_alert_contribution; kept for compatibility).", ("market", "modality"))
    if scores.empty:
        return
    longest = scores[scores["horizon"] == scores["horizon"].max()]
    for row in longest.itertuples(index=False):
        for modality in MODALITIES:
            gauge.labels(str(row.market), modality).set(float(getattr(row, f"weight_{modality}")))


def _add_contributions(registry: CollectorRegistry, scores: pd.DataFrame) -> None:
    """What moved each score, in probability units, labelled by member and modality.

    member=fused, modality=news|prices|calls: the neural model's modality Shapley values (they add up to its own
    score − its all-masked baseline). A stacked model (storm.desk.product) adds modality="all" per member: each
    member's Shapley value in the published score (they add up to score − every member at its mean)."""
    gauge = _gauge(registry, ALERT_CONTRIBUTION, "Contribution to the storm score, in probability (exact Shapley "
                   "values): per member of a stacked score (modality=all; they add up to score minus baseline), and "
                   "per modality inside the neural member (member=fused).", ("market", "horizon", "member", "modality"))
    members = [m for m in PRODUCT_MEMBERS if member_column(m) in scores.columns]
    for row in scores.itertuples(index=False):
        market, horizon = str(row.market), horizon_label(row.horizon)
        for modality in MODALITIES:
            gauge.labels(market, horizon, NEURAL_MEMBER, modality).set(float(getattr(row, f"weight_{modality}")))
        for member in members:
            value = float(getattr(row, member_column(member)))
            if value == value:  # NaN: not a stacked model, or a member it does not use
                gauge.labels(market, horizon, member, "all").set(value)


def _add_model_info(registry: CollectorRegistry, scores: pd.DataFrame, model_info: Mapping[str, str]) -> None:
    info = {str(k): str(v) for k, v in model_info.items()}
    if "version" not in info:
        versions = scores["model_version"].dropna().unique()
        info["version"] = str(versions[0]) if len(versions) else "unknown"
    names = tuple(sorted(info))
    gauge = _gauge(registry, MODEL_INFO, "The model that produced the scores; always 1.", names)
    gauge.labels(*(info[n] for n in names)).set(1.0)


def _add_scan(registry: CollectorRegistry, scores: pd.DataFrame, stats: ScanStats | None) -> None:
    markets = scores["market"].nunique()
    _gauge(registry, SCAN_MARKETS_SCORED, "Markets that got a score in the last scan.").set(markets)
    dates = scores["date"].dropna().unique()
    date = stats.date if stats is not None else (str(dates[0]) if len(dates) else None)
    if date is not None:
        _gauge(registry, SCAN_AS_OF, "Midnight UTC of the trading date the last scan scored.").set(as_of_timestamp(date))
    if stats is None:
        return
    finished = stats.finished_at or time.time()
    _gauge(registry, SCAN_LAST_SUCCESS, "When the last scan succeeded, unix seconds.").set(finished)
    _gauge(registry, SCAN_DURATION, "Wall time of the last scan.").set(stats.duration_seconds)
    _gauge(registry, SCAN_MARKETS_MISSING, "Markets expected but not scored in the last scan.").set(len(stats.markets_missing))
    inputs = _gauge(registry, SCAN_INPUTS, "Inputs the last scan saw, per modality and status (ok, quarantined, missing).",
                    ("modality", "status"))
    for modality in MODALITIES:
        counts = stats.inputs.get(modality, {})
        for status in INPUT_STATUSES:
            inputs.labels(modality, status).set(counts.get(status, 0))
