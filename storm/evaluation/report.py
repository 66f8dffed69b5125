"""The evaluation report: one JSON document with every figure, and the tables a person reads.

Pure apart from rendering: ``build_report`` assembles plain data from the scored
tables; ``render_tables`` turns it into rich tables. Writing it to the store is the
runner's job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd
from rich.table import Table

from storm.evaluation.metrics import HorizonMetrics, horizon_metrics

# table columns: (report key, heading, number format)
MAIN_COLUMNS = (
    ("auroc", "AUROC", "{:.3f}"),
    ("pr_auc", "PR-AUC", "{:.3f}"),
    ("brier", "Brier", "{:.4f}"),
    ("recall_at_threshold", "recall@thr", "{:.2f}"),
    ("precision_at_threshold", "precision@thr", "{:.2f}"),
    ("false_alarms_per_year", "false alarms/yr", "{:.1f}"),
    ("median_lead_days", "median lead days", "{:.1f}"),
    ("vol_rmse", "vol RMSE", "{:.3f}"),
)
COMPACT_COLUMNS = MAIN_COLUMNS[:2] + MAIN_COLUMNS[3:6]


@dataclass
class ScoredModel:
    """One row of the comparison: a model or baseline's predictions on the test rows."""

    name: str
    kind: str  # "fused", "single_modality", "baseline", "oracle"
    predictions: pd.DataFrame
    probabilistic: dict[int, bool] = field(default_factory=dict)  # horizon -> score is a probability
    notes: list[str] = field(default_factory=list)


def score_models(models: list[ScoredModel], horizons: list[int]) -> dict[str, dict[int, HorizonMetrics]]:
    return {model.name: {h: horizon_metrics(model.predictions, h, model.probabilistic.get(h, True)) for h in horizons}
            for model in models}


def build_report(
    run: str,
    models: list[ScoredModel],
    horizons: list[int],
    main_horizon: int,
    periods: dict[str, dict],
    ablation: dict | None = None,
    weights: dict | None = None,
    extra: dict | None = None,
) -> dict:
    """All figures as JSON-ready data: per horizon, per model; oracle gap; ablation; weights; periods."""
    figures = score_models(models, horizons)
    report = {
        "run": run,
        "main_horizon": main_horizon,
        "horizons": horizons,
        "periods": periods,
        "models": {m.name: {"kind": m.kind, "notes": m.notes} for m in models},
        "metrics": {str(h): {name: figures[name][h].as_dict() for name in figures} for h in horizons},
        "positives": {str(h): _positives(models, figures, h) for h in horizons},
        "oracle_gap_auroc": _oracle_gap(models, figures, horizons),
        "ablation": ablation or {},
        "modality_weights": weights or {},
    }
    report.update(extra or {})
    return report


def _positives(models: list[ScoredModel], figures, horizon: int) -> dict:
    fused = next((m for m in models if m.kind == "fused"), models[0])
    result = figures[fused.name][horizon]
    return {"n_rows": result.n_rows, "n_positives": result.n_positives, "n_episodes": result.n_episodes}


def _oracle_gap(models: list[ScoredModel], figures, horizons: list[int]) -> dict:
    """Oracle AUROC minus fused AUROC per horizon: how much of the knowable signal the model misses."""
    fused = [m.name for m in models if m.kind == "fused"]
    oracle = [m.name for m in models if m.kind == "oracle"]
    if not fused or not oracle:
        return {}
    gaps = {}
    for h in horizons:
        gap = figures[oracle[0]][h].auroc - figures[fused[0]][h].auroc
        gaps[str(h)] = None if math.isnan(gap) else gap
    return gaps


def render_tables(report: dict) -> list[Table]:
    """A full table for the main horizon, then a compact one per other horizon."""
    main = str(report["main_horizon"])
    tables = [_table(report, main, MAIN_COLUMNS, f"{report['run']}: storm within {main} trading days (test period)")]
    for horizon in report["horizons"]:
        if str(horizon) != main:
            tables.append(_table(report, str(horizon), COMPACT_COLUMNS, f"storm within {horizon} trading days"))
    return tables


def _table(report: dict, horizon: str, columns, title: str) -> Table:
    positives = report["positives"][horizon]
    caption = f"{positives['n_positives']} storm days of {positives['n_rows']} labelled, {positives['n_episodes']} episodes"
    table = Table(title=title, caption=caption)
    table.add_column("model")
    for _, heading, _ in columns:
        table.add_column(heading, justify="right")
    for name, figures in report["metrics"][horizon].items():
        table.add_row(name, *(_cell(figures.get(key), fmt) for key, _, fmt in columns))
    return table


def _cell(value, fmt: str) -> str:
    return "–" if value is None else fmt.format(value)
