"""The evaluation report: one JSON document with every figure, and the tables a person reads.

Pure apart from rendering: ``build_report`` pools the folds' test predictions, scores
every model with bootstrap intervals (and fused − model differences with a verdict),
and keeps each fold's own figures for their spread. ``render_tables`` turns that into
rich tables that read whole at 80 columns. Writing it to the store is the runner's job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from rich import box
from rich.table import Table

from storm.config import EvaluationConfig
from storm.evaluation.bootstrap import BootstrapInput, block_length, paired_bootstrap
from storm.evaluation.metrics import HorizonMetrics, horizon_metrics, reliability_points, score_column
from storm.schema import storm_column

REFERENCE = "fused"
SPREAD_METRICS = ("auroc", "pr_auc", "brier", "ece")
TABLE_VERDICT = {"better": "better", "worse": "worse", "not distinguishable": "n.d.", None: "–"}


@dataclass
class ScoredModel:
    """One row of the comparison: a model or baseline's predictions on one fold's test rows."""

    name: str  # short and fixed (≤ 12 characters): it heads table rows
    kind: str  # "fused", "single_modality", "baseline", "oracle", "ceiling"
    predictions: pd.DataFrame
    probabilistic: dict[int, bool] = field(default_factory=dict)  # horizon -> score is a probability
    notes: list[str] = field(default_factory=list)


@dataclass
class FoldScores:
    """One walk-forward fold: every model scored on the fold's test rows, and the fold's periods."""

    models: list[ScoredModel]
    periods: dict


def score_models(models: list[ScoredModel], horizons: list[int], n_bins: int = 10) -> dict[str, dict[int, HorizonMetrics]]:
    return {model.name: {h: horizon_metrics(model.predictions, h, model.probabilistic.get(h, True), n_bins)
                         for h in horizons} for model in models}


def pool_folds(folds: list[FoldScores]) -> list[ScoredModel]:
    """Each model's test predictions over all folds, in first-seen order; a horizon is probabilistic only if in every fold."""
    pooled: dict[str, ScoredModel] = {}
    for fold in folds:
        for model in fold.models:
            if model.name not in pooled:
                pooled[model.name] = ScoredModel(model.name, model.kind, model.predictions, dict(model.probabilistic),
                                                 list(model.notes))
                continue
            into = pooled[model.name]
            into.predictions = pd.concat([into.predictions, model.predictions], ignore_index=True)
            into.probabilistic = {h: into.probabilistic.get(h, True) and model.probabilistic.get(h, True)
                                  for h in set(into.probabilistic) | set(model.probabilistic)}
            into.notes += [note for note in model.notes if note not in into.notes]
    for model in pooled.values():
        repeated = model.predictions.duplicated(["market", "date"])
        if repeated.any():
            first = model.predictions[repeated].iloc[0]
            raise ValueError(f"fold test periods overlap: model {model.name!r} scores market {first['market']} on "
                             f"{first['date']} more than once; walk-forward test blocks must be disjoint")
        model.predictions = model.predictions.sort_values(["market", "date"], ignore_index=True)
    return list(pooled.values())


def on_reference_rows(models: list[ScoredModel], reference: str) -> list[ScoredModel]:
    """Every model restricted to the reference model's (market, date) rows, so all figures share one test set."""
    keys = next(m for m in models if m.name == reference).predictions[["market", "date"]]
    restricted = []
    for model in models:
        rows = model.predictions.merge(keys, on=["market", "date"], how="inner")
        notes = list(model.notes)
        if len(rows) < len(model.predictions):
            notes.append(f"{len(model.predictions) - len(rows)} rows outside {reference}'s test rows left out")
        restricted.append(ScoredModel(model.name, model.kind, rows, model.probabilistic, notes))
    return restricted


def bootstrap_input(models: list[ScoredModel], horizons: list[int], reference: str | None) -> BootstrapInput:
    """Rows of the reference model (else of the first), every model's scores aligned to them (NaN where missing)."""
    base = next((m for m in models if m.name == reference), models[0]).predictions
    keys = base[["market", "date", *(storm_column(h) for h in horizons)]].reset_index(drop=True)
    scores = {}
    for model in models:
        aligned = keys[["market", "date"]].merge(model.predictions[["market", "date", *(score_column(h) for h in horizons)]],
                                                 on=["market", "date"], how="left")
        scores[model.name] = {h: aligned[score_column(h)].to_numpy(float) for h in horizons}
    return BootstrapInput(markets=keys["market"].to_numpy(str), dates=keys["date"].to_numpy(str),
                          labels={h: keys[storm_column(h)].to_numpy(float) for h in horizons}, scores=scores,
                          probabilistic={m.name: dict(m.probabilistic) for m in models})


def build_report(
    run: str,
    folds: list[FoldScores],
    horizons: list[int],
    main_horizon: int,
    settings: EvaluationConfig | None = None,
    ablation: dict | None = None,
    weights: dict | None = None,
    extra: dict | None = None,
) -> dict:
    """Every figure as JSON-ready data (None, never NaN): pooled with intervals, per fold, spread, reliability."""
    settings = settings or EvaluationConfig()
    models = pool_folds(folds)
    reference = REFERENCE if any(m.name == REFERENCE for m in models) else None
    if reference:
        models = on_reference_rows(models, reference)
    pooled = score_models(models, horizons, settings.calibration_bins)
    per_fold = [score_models(fold.models, horizons, settings.calibration_bins) for fold in folds]
    data = bootstrap_input(models, horizons, reference)
    intervals = paired_bootstrap(data, horizons, reference, settings)
    report = {
        "run": run,
        "main_horizon": main_horizon,
        "horizons": horizons,
        "reference": reference,
        "models": {m.name: {"kind": m.kind, "notes": m.notes, "probabilistic": {h: m.probabilistic.get(h, True) for h in horizons},
                            "n_folds": sum(any(x.name == m.name for x in f.models) for f in folds)} for m in models},
        "pooled": {str(h): {m.name: {**pooled[m.name][h].as_dict(),
                                     "intervals": {k: v.as_dict() for k, v in intervals[h]["models"][m.name].items()}}
                            for m in models} for h in horizons},
        "versus_reference": {str(h): {name: {metric: {**difference.as_dict(), "verdict": verdict}
                                             for metric, (difference, verdict) in by_metric.items()}
                                      for name, by_metric in intervals[h]["vs_reference"].items()} for h in horizons},
        "folds": [{"periods": fold.periods,
                   "metrics": {str(h): {name: figures[h].as_dict() for name, figures in scored.items()} for h in horizons}}
                  for fold, scored in zip(folds, per_fold)],
        "fold_spread": {str(h): {m.name: _spread([s[m.name][h] for s in per_fold if m.name in s]) for m in models}
                        for h in horizons},
        "reliability": {str(h): {m.name: reliability_points(m.predictions[storm_column(h)].to_numpy(float),
                                                            m.predictions[score_column(h)].to_numpy(float),
                                                            settings.calibration_bins)
                                 for m in models if m.probabilistic.get(h, True)} for h in horizons},
        "positives": {str(h): _positives(pooled, reference or models[0].name, h) for h in horizons},
        "bootstrap": {"resamples": settings.bootstrap_resamples, "seed": settings.bootstrap_seed,
                      "block_days": block_length(settings, horizons), "confidence": settings.confidence,
                      "n_markets": int(len(np.unique(data.markets))), "n_dates": int(len(np.unique(data.dates))),
                      "method": "paired: markets drawn with replacement × moving blocks of test dates, "
                                "the same draw for every model; percentile intervals"},
        "calibration_bins": settings.calibration_bins,
        "best_price_baseline": best_price_baseline(models, pooled, main_horizon),
        "ablation": ablation or {},
        "modality_weights": weights or {},
    }
    report.update(extra or {})
    return _json_ready(report)


def best_price_baseline(models: list[ScoredModel], pooled, horizon: int) -> str | None:
    """The baseline with the lowest pooled Brier at ``horizon`` (highest AUROC where none is a probability)."""
    baselines = [m.name for m in models if m.kind == "baseline"]
    with_brier = [name for name in baselines if not math.isnan(pooled[name][horizon].brier)]
    if with_brier:
        return min(with_brier, key=lambda name: pooled[name][horizon].brier)
    ranked = [name for name in baselines if not math.isnan(pooled[name][horizon].auroc)]
    return max(ranked, key=lambda name: pooled[name][horizon].auroc) if ranked else None


def _spread(figures: list[HorizonMetrics]) -> dict:
    spread = {}
    for metric in SPREAD_METRICS:
        values = np.array([getattr(f, metric) for f in figures], dtype=float)
        values = values[~np.isnan(values)]
        spread[metric] = {"min": float(values.min()) if len(values) else None,
                          "max": float(values.max()) if len(values) else None,
                          "std": float(values.std(ddof=1)) if len(values) > 1 else None, "n_folds": int(len(values))}
    return spread


def _positives(pooled, name: str, horizon: int) -> dict:
    result = pooled[name][horizon]
    return {"n_rows": result.n_rows, "n_positives": result.n_positives, "n_episodes": result.n_episodes}


def _json_ready(value):
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


# ---- tables --------------------------------------------------------------------------------------------------------

def render_tables(report: dict) -> list[Table]:
    """AUROC, Brier (each with fused − model and a verdict), PR-AUC and ECE, alerts, and the spread over folds."""
    return [_difference_table(report, "auroc", "AUROC", "{:.3f}", "{:.2f}"),
            _difference_table(report, "brier", "Brier", "{:.3f}", "{:.3f}"),
            _pr_auc_ece_table(report), _alerts_table(report), _spread_table(report)] + (
        [_contributions_table(report)] if report.get("modality_contributions") else [])


def _contributions_table(report: dict) -> Table:
    """Mean |contribution| of each modality to the fused score on test days, storm days vs calm days."""
    table = _new_table("What drives the fused score: mean |contribution| on test days, 95% intervals",
                       "exact Shapley values of the calibrated score over the modalities (storm.explain); "
                       "storm / calm: days with / without a storm within h", ["modality", "storm days", "calm days"])
    previous = None
    for h, groups in report["modality_contributions"].items():
        if previous is not None:
            table.add_section()
        previous = h
        for modality, storm in groups.get("storm", {}).items():
            calm = groups.get("calm", {}).get(modality)
            table.add_row(modality, f"{h}d", _interval(storm, "{:.3f}", "{:.3f}"), _interval(calm, "{:.3f}", "{:.3f}"))
    return table


def _new_table(title: str, caption: str, headings: list[str]) -> Table:
    table = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column(headings[0], no_wrap=True)
    table.add_column("h", justify="right", no_wrap=True)
    for heading in headings[1:]:
        table.add_column(heading, justify="right", no_wrap=True)
    return table


def _rows(report: dict):
    """(table, horizon, model, pooled figures) in horizon order, one section per horizon."""
    for h in report["horizons"]:
        for name, figures in report["pooled"][str(h)].items():
            yield str(h), name, figures


def _difference_table(report: dict, metric: str, heading: str, fmt: str, bound_fmt: str) -> Table:
    folds = len(report["folds"])
    lower = "" if metric in ("auroc", "pr_auc") else ", lower is better"
    table = _new_table(f"{heading}: pooled test of {folds} fold{'s' * (folds != 1)}, 95% intervals{lower}",
                       "fused is: better / worse only when the interval of fused − model excludes 0; "
                       "n.d. = not distinguishable", ["model", heading, "fused − model", "fused is"])
    previous = None
    for h, name, figures in _rows(report):
        if previous is not None and h != previous:
            table.add_section()
        previous = h
        versus = report["versus_reference"][h].get(name, {}).get(metric)
        table.add_row(name, f"{h}d", _interval(figures["intervals"][metric], fmt, bound_fmt),
                      _interval(versus, "{:+.3f}", bound_fmt) if versus else "–",
                      TABLE_VERDICT[versus["verdict"]] if versus else "–")
    return table


def _pr_auc_ece_table(report: dict) -> Table:
    table = _new_table("PR-AUC and expected calibration error (ECE, lower is better), 95% intervals",
                       f"ECE over {_bins(report)} equal-width probability bins", ["model", "PR-AUC", "ECE"])
    previous = None
    for h, name, figures in _rows(report):
        if previous is not None and h != previous:
            table.add_section()
        previous = h
        table.add_row(name, f"{h}d", _interval(figures["intervals"]["pr_auc"], "{:.3f}", "{:.2f}"),
                      _interval(figures["intervals"]["ece"], "{:.3f}", "{:.3f}"))
    return table


def _alerts_table(report: dict) -> Table:
    table = _new_table("Alerts at the validation threshold (pooled test)",
                       "false al./mkt-yr: alert-days on calm days per market-year; warned: storm episodes with "
                       "an alert run reaching them; lead: median days from that run's first alert to the episode",
                       ["model", "recall", "precision", "false al./mkt-yr", "warned", "lead d"])
    previous = None
    for h, name, f in _rows(report):
        if previous is not None and h != previous:
            table.add_section()
        previous = h
        table.add_row(name, f"{h}d", _number(f["recall_at_threshold"], "{:.2f}"),
                      _number(f["precision_at_threshold"], "{:.2f}"), _number(f["false_alarms_per_market_year"], "{:.1f}"),
                      f"{f['n_episodes_warned']}/{f['n_episodes']}", _number(f["median_lead_days"], "{:.1f}"))
    return table


def _spread_table(report: dict) -> Table:
    folds = len(report["folds"])
    table = _new_table(f"AUROC and Brier across the {folds} folds' own test periods", "sd: standard deviation over folds",
                       ["model", "AUROC min–max", "sd", "Brier min–max", "sd"])
    previous = None
    for h in report["horizons"]:
        for name, spread in report["fold_spread"][str(h)].items():
            if previous is not None and str(h) != previous:
                table.add_section()
            previous = str(h)
            auroc, brier = spread["auroc"], spread["brier"]
            table.add_row(name, f"{h}d", _range(auroc, "{:.2f}"), _number(auroc["std"], "{:.3f}"),
                          _range(brier, "{:.3f}"), _number(brier["std"], "{:.3f}"))
    return table


def _interval(figure: dict | None, fmt: str, bound_fmt: str) -> str:
    if not figure or figure.get("estimate") is None:
        return "–"
    text = fmt.format(figure["estimate"])
    if figure.get("low") is not None:
        text += f" [{bound_fmt.format(figure['low'])},{bound_fmt.format(figure['high'])}]"
    return text


def _range(spread: dict, fmt: str) -> str:
    return "–" if spread["min"] is None else f"{fmt.format(spread['min'])}–{fmt.format(spread['max'])}"


def _number(value, fmt: str) -> str:
    return "–" if value is None else fmt.format(value)


def _bins(report: dict) -> str:
    return str(report.get("calibration_bins", 10))
