"""The evaluation report: one JSON document with every figure, and the tables a person reads.

Pure apart from rendering: ``build_report`` gathers the folds' test predictions, scores
every model with bootstrap intervals (and fused − model differences with a verdict),
and keeps each fold's own figures for their spread. The headline ranks storm days
against calm days of the same fold only (and markets against markets of the same date):
no per-fold calibration can move it. Where the test blocks hold fewer than
``evaluation.min_episodes`` storm episodes at a horizon, no verdict is given there.
``render_tables`` turns that into rich tables that read whole at 80 columns. Writing it
to the store is the runner's job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from rich import box
from rich.table import Table

from storm.config import EvaluationConfig
from storm.console import interval
from storm.evaluation.bootstrap import BootstrapInput, block_length, paired_bootstrap
from storm.evaluation.metrics import (FOLD, HorizonMetrics, episode_warnings, horizon_metrics, reliability_points,
                                     score_column)
from storm.schema import storm_column

REFERENCE = "fused"
PRODUCT = "storm"  # the published score (storm.evaluation.product): the reference wherever it was evaluated
EVIDENCE_PAIR = ("fused", "only-prices")  # what news and calls add: fused − the same model reading prices alone
BOOSTED_EVIDENCE = "boosted-evidence"  # the boosted trees also reading the evidence activity and text measures
# the other readers of the evidence, each against itself without it (the report's news_gains)
NEWS_GAIN_PAIRS = (("evidence-logit", "price-logit"), (BOOSTED_EVIDENCE, "boosted"))
SPREAD_METRICS = ("auroc", "pr_auc", "brier", "ece")
TOO_FEW_STORMS = "too few storms"
TABLE_VERDICT = {"better": "better", "worse": "worse", "not distinguishable": "n.d.", TOO_FEW_STORMS: "too few",
                 None: "–"}


@dataclass
class ScoredModel:
    """One row of the comparison: a model or baseline's predictions on one fold's test rows."""

    name: str  # short and fixed (≤ 12 characters): it heads table rows
    kind: str  # "fused", "single_modality", "baseline", "oracle", "ceiling"
    predictions: pd.DataFrame
    probabilistic: dict[int, bool] = field(default_factory=dict)  # horizon -> score is a probability
    notes: list[str] = field(default_factory=list)
    validation: pd.DataFrame | None = None  # the same model's predictions on its fold's validation rows (calibrate the stack)


@dataclass
class FoldScores:
    """One walk-forward fold: every model scored on the fold's test rows, and the fold's periods."""

    models: list[ScoredModel]
    periods: dict


def score_models(models: list[ScoredModel], horizons: list[int], n_bins: int = 10) -> dict[str, dict[int, HorizonMetrics]]:
    return {model.name: {h: horizon_metrics(model.predictions, h, model.probabilistic.get(h, True), n_bins)
                         for h in horizons} for model in models}


def pool_folds(folds: list[FoldScores]) -> list[ScoredModel]:
    """Each model's test predictions over all folds with their fold (column ``fold``), in first-seen order; a horizon
    is probabilistic only if in every fold."""
    pooled: dict[str, ScoredModel] = {}
    for index, fold in enumerate(folds):
        for model in fold.models:
            predictions = model.predictions.assign(**{FOLD: fold.periods.get("name", f"fold{index + 1}")})
            if model.name not in pooled:
                pooled[model.name] = ScoredModel(model.name, model.kind, predictions, dict(model.probabilistic),
                                                 list(model.notes))
                continue
            into = pooled[model.name]
            into.predictions = pd.concat([into.predictions, predictions], ignore_index=True)
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
    keys = base[["market", "date", FOLD, *(storm_column(h) for h in horizons)]].reset_index(drop=True)
    scores = {}
    for model in models:
        aligned = keys[["market", "date"]].merge(model.predictions[["market", "date", *(score_column(h) for h in horizons)]],
                                                 on=["market", "date"], how="left")
        scores[model.name] = {h: aligned[score_column(h)].to_numpy(float) for h in horizons}
    return BootstrapInput(markets=keys["market"].to_numpy(str), dates=keys["date"].to_numpy(str),
                          labels={h: keys[storm_column(h)].to_numpy(float) for h in horizons}, scores=scores,
                          probabilistic={m.name: dict(m.probabilistic) for m in models},
                          folds=keys[FOLD].to_numpy(str))


def build_report(
    run: str,
    folds: list[FoldScores],
    horizons: list[int],
    main_horizon: int,
    settings: EvaluationConfig | None = None,
    ablation: dict | None = None,
    weights: dict | None = None,
    extra: dict | None = None,
    drawdowns: pd.DataFrame | None = None,
) -> dict:
    """Every figure as JSON-ready data (None, never NaN): headline with intervals, per fold, spread, reliability,
    storm episodes and each model's warning before each.

    ``drawdowns``: market, date, drawdown_{h}d (the forward fall from each day), for each episode's depth.
    """
    settings = settings or EvaluationConfig()
    models = pool_folds(folds)
    names = {m.name for m in models}
    reference = next((name for name in (PRODUCT, REFERENCE) if name in names), None)
    if reference:
        models = on_reference_rows(models, reference)
    headline = score_models(models, horizons, settings.calibration_bins)
    per_fold = [score_models(fold.models, horizons, settings.calibration_bins) for fold in folds]
    data = bootstrap_input(models, horizons, reference)
    intervals = paired_bootstrap(data, horizons, reference, settings)
    evidence = _evidence_gain(data, horizons, reference, settings)
    news_gains = _news_gains(data, horizons, settings)
    base = reference or models[0].name
    storms = {h: storm_counts(headline[base][h], per_fold, base, folds, h, settings.min_episodes) for h in horizons}
    report = {
        "run": run,
        "main_horizon": main_horizon,
        "horizons": horizons,
        "reference": reference,
        "models": {m.name: {"kind": m.kind, "notes": m.notes, "probabilistic": {h: m.probabilistic.get(h, True) for h in horizons},
                            "n_folds": sum(any(x.name == m.name for x in f.models) for f in folds)} for m in models},
        "headline": {str(h): {m.name: {**headline[m.name][h].as_dict(),
                                       "intervals": {k: v.as_dict() for k, v in intervals[h]["models"][m.name].items()}}
                              for m in models} for h in horizons},
        "versus_reference": {str(h): {name: {metric: {**difference.as_dict(),
                                                      "verdict": verdict if storms[h]["judged"] else TOO_FEW_STORMS}
                                             for metric, (difference, verdict) in by_metric.items()}
                                      for name, by_metric in intervals[h]["vs_reference"].items()} for h in horizons},
        "evidence_gain": {str(h): {metric: {**difference.as_dict(),
                                            "verdict": verdict if storms[h]["judged"] else TOO_FEW_STORMS}
                                    for metric, (difference, verdict) in evidence[h].items()} for h in evidence},
        "news_gains": {name: {str(h): {metric: {**difference.as_dict(),
                                                "verdict": verdict if storms[h]["judged"] else TOO_FEW_STORMS}
                                       for metric, (difference, verdict) in gain[h].items()} for h in gain}
                       for name, gain in news_gains.items()},
        "storms": {str(h): storms[h] for h in horizons},
        "episodes": {str(h): episode_table(models, h, drawdowns) for h in horizons},
        "folds": [{"periods": fold.periods,
                   "metrics": {str(h): {name: figures[h].as_dict() for name, figures in scored.items()} for h in horizons}}
                  for fold, scored in zip(folds, per_fold)],
        "fold_spread": {str(h): {m.name: _spread([s[m.name][h] for s in per_fold if m.name in s]) for m in models}
                        for h in horizons},
        "reliability": {str(h): {m.name: reliability_points(m.predictions[storm_column(h)].to_numpy(float),
                                                            m.predictions[score_column(h)].to_numpy(float),
                                                            settings.calibration_bins)
                                 for m in models if m.probabilistic.get(h, True)} for h in horizons},
        "bootstrap": {"resamples": settings.bootstrap_resamples, "seed": settings.bootstrap_seed,
                      "block_days": block_length(settings, horizons), "confidence": settings.confidence,
                      "n_markets": int(len(np.unique(data.markets))), "n_dates": int(len(np.unique(data.dates))),
                      "method": "paired: markets drawn with replacement × moving blocks of test dates drawn within "
                                "each fold, the same draw for every model; percentile intervals"},
        "metric_definitions": METRIC_DEFINITIONS,
        "calibration_bins": settings.calibration_bins,
        "best_price_baseline": best_price_baseline(models, headline, main_horizon),
        "ablation": ablation or {},
        "modality_weights": weights or {},
    }
    report.update(extra or {})
    return _json_ready(report)


def _evidence_gain(data, horizons: list[int], reference: str | None, settings: EvaluationConfig) -> dict:
    """fused − only-prices per horizon and metric, (Interval, verdict): what news and calls add, kept beside a
    product reference (with fused as the reference it is already in versus_reference)."""
    if reference == EVIDENCE_PAIR[0]:
        return {}
    return _pair_gain(data, horizons, EVIDENCE_PAIR, settings)


def _news_gains(data, horizons: list[int], settings: EvaluationConfig) -> dict[str, dict]:
    """Each reader of the evidence − the same kind of model without it (NEWS_GAIN_PAIRS, those both evaluated),
    per horizon and metric: what news and calls add to the neural model, the logistic and the trees alike."""
    gains = {f"{reader} − {plain}": _pair_gain(data, horizons, (reader, plain), settings)
             for reader, plain in NEWS_GAIN_PAIRS}
    return {name: gain for name, gain in gains.items() if gain}


def _pair_gain(data, horizons: list[int], pair: tuple[str, str], settings: EvaluationConfig) -> dict:
    """pair[0] − pair[1], paired over the same resamples, per horizon and metric (Interval, verdict); {} unless
    both were evaluated."""
    if not set(pair) <= set(data.scores):
        return {}
    both = replace(data, scores={name: data.scores[name] for name in pair},
                   probabilistic={name: data.probabilistic.get(name, {}) for name in pair})
    result = paired_bootstrap(both, horizons, pair[0], settings)
    return {h: result[h]["vs_reference"][pair[1]] for h in horizons}


METRIC_DEFINITIONS = {
    "auroc": "within folds: share of (storm day, calm day) pairs of the same fold's test block ranked right, folds "
             "weighted by their pairs; no per-fold calibration can change it",
    "cross_sectional_auroc": "per test date, the storm markets against the calm ones, averaged over dates holding both",
    "pr_auc": "within folds: each fold's average precision, weighted by its storm days",
    "brier": "mean squared error of the calibrated probability; brier_base_rate: the test rows' own storm share as a "
             "constant forecast",
    "log_loss": "mean negative log likelihood of the calibrated probability; log_loss_base_rate likewise",
    "n_storm_episodes": "runs of consecutive storm days of one market within one fold's test block",
}


def storm_counts(figures: HorizonMetrics, per_fold: list[dict], name: str, folds: list[FoldScores], horizon: int,
                 min_episodes: int) -> dict:
    """Storm episodes in the test blocks at one horizon, per fold, and whether that is enough to judge."""
    episodes = figures.n_storm_episodes
    return {"n_rows": figures.n_rows, "n_storm_days": figures.n_positives, "n_episodes": episodes,
            "per_fold": {fold.periods.get("name", f"fold{i + 1}"): scored[name][horizon].n_storm_episodes
                         for i, (fold, scored) in enumerate(zip(folds, per_fold)) if name in scored},
            "min_episodes": min_episodes, "judged": episodes >= min_episodes,
            "verdict": None if episodes >= min_episodes else f"too few storms to judge ({episodes} episodes)"}


def episode_table(models: list[ScoredModel], horizon: int, drawdowns: pd.DataFrame | None) -> list[dict]:
    """Each test-block storm episode (fold, market, first and last storm day, depth) and every model's lead in
    trading days: from the first day of the alert run that reached the episode to its first storm day (None: no
    alert reached it), deepest first."""
    leads = None
    for model in models:
        warned = episode_warnings(model.predictions, horizon)
        warned = warned.rename(columns={"lead_days": model.name})
        keys = [FOLD, "market", "first_storm_day", "last_storm_day", "known_start"]
        leads = warned if leads is None else leads.merge(warned, on=keys, how="outer")
    if leads is None or leads.empty:
        return []
    column = f"drawdown_{horizon}d"
    if drawdowns is not None and column in drawdowns.columns:
        depth = drawdowns[["market", "date", column]].rename(columns={"date": "first_storm_day", column: "depth"})
        leads = leads.merge(depth, on=["market", "first_storm_day"], how="left")
    else:
        leads["depth"] = np.nan
    leads = leads.sort_values(["depth", "first_storm_day"], ascending=[False, True], na_position="last")
    names = [m.name for m in models]
    return [{FOLD: row[FOLD], "market": row["market"], "first_storm_day": row["first_storm_day"],
             "last_storm_day": row["last_storm_day"], "known_start": bool(row["known_start"]), "depth": row["depth"],
             "lead_days": {name: row[name] for name in names if name in row.index}}
            for _, row in leads.iterrows()]


def best_price_baseline(models: list[ScoredModel], headline, horizon: int) -> str | None:
    """The baseline with the highest within-fold AUROC at ``horizon`` (lowest Brier where none ranks)."""
    baselines = [m.name for m in models if m.kind == "baseline"]
    ranked = [name for name in baselines if not math.isnan(headline[name][horizon].auroc)]
    if ranked:
        return max(ranked, key=lambda name: headline[name][horizon].auroc)
    with_brier = [name for name in baselines if not math.isnan(headline[name][horizon].brier)]
    return min(with_brier, key=lambda name: headline[name][horizon].brier) if with_brier else None


def _spread(figures: list[HorizonMetrics]) -> dict:
    spread = {}
    for metric in SPREAD_METRICS:
        values = np.array([getattr(f, metric) for f in figures], dtype=float)
        values = values[~np.isnan(values)]
        spread[metric] = {"min": float(values.min()) if len(values) else None,
                          "max": float(values.max()) if len(values) else None,
                          "std": float(values.std(ddof=1)) if len(values) > 1 else None, "n_folds": int(len(values))}
    return spread


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
    """Storm episodes, within-fold and cross-sectional AUROC, Brier (each with fused − model and a verdict), PR-AUC
    and ECE, alerts, each episode's warnings, and the spread over folds."""
    return list(named_tables(report).values())


def named_tables(report: dict, episodes_shown: int = 10) -> dict[str, Table]:
    """render_tables' tables by name, in print order ("auroc" is the headline); the HTML report
    (storm.evaluation.html_report) places them by name and lists ``episodes_shown`` episodes."""
    several_markets = any(figures.get("cross_sectional_auroc") is not None
                          for by_model in report["headline"].values() for figures in by_model.values())
    tables = {"storms": _storms_table(report), "auroc": _difference_table(report, "auroc", "AUROC", "{:.3f}", "{:.2f}")}
    if several_markets:
        tables["cross_sectional_auroc"] = _difference_table(report, "cross_sectional_auroc", "X-sect AUROC", "{:.3f}",
                                                            "{:.2f}")
    tables |= {"brier": _difference_table(report, "brier", "Brier", "{:.3f}", "{:.3f}"),
               "pr_auc_ece": _pr_auc_ece_table(report), "alerts": _alerts_table(report),
               "episodes": _episodes_table(report, episodes_shown), "spread": _spread_table(report)}
    if report.get("evidence_gain"):
        tables["evidence"] = _evidence_table(report)
    if report.get("stack"):
        tables["stack"] = _stack_table(report)
    if report.get("modality_contributions"):
        tables["contributions"] = _contributions_table(report)
    return tables


def reader_notes(report: dict) -> list[str]:
    """What a reader must know beside the tables: each model's notes, and at a horizon with too few storms to judge,
    where the history's storms fell and what would put enough of them in test blocks."""
    main = str(report["main_horizon"])
    notes = [f"{name}: {note}" for name, figures in report["headline"][main].items() for note in figures.get("notes", [])]
    notes += [f"{name}: {note}" for name, model in report["models"].items() for note in model["notes"]]
    notes += [f"{h}d: {storms['verdict']}; {report['placement'][h]['advice']}"
              for h, storms in report.get("storms", {}).items()
              if not storms["judged"] and report.get("placement", {}).get(h, {}).get("advice")]
    return notes


def _evidence_table(report: dict) -> Table:
    """fused − prices only: what news and calls add, whatever the product ships."""
    table = Table(title="What news and calls add: fused − prices only, within folds, 95% intervals",
                  caption=f"better / worse only when the interval excludes 0{_too_few_caption(report)}",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    for heading in ("h", "AUROC", "Brier", "verdict"):
        table.add_column(heading, justify="right" if heading != "verdict" else "left", no_wrap=True)
    for h, metrics in report["evidence_gain"].items():
        table.add_row(f"{h}d", _interval(metrics["auroc"], "{:+.3f}", "{:+.3f}"),
                      _interval(metrics["brier"], "{:+.4f}", "{:+.4f}"), TABLE_VERDICT[metrics["auroc"]["verdict"]])
    return table


def _stack_table(report: dict) -> Table:
    """Per fold and horizon: what the product shipped (the stack or its best member) and the stack's gain."""
    table = Table(title="What the product shipped per fold (stack of candidates, chosen on earlier folds' tests)",
                  caption="gain: within-fold AUROC of the cross-validated stack − the best member on the earlier "
                          "folds' test blocks (fold 1: the incumbents on its validation block), 95% interval; the "
                          "stack ships only where the interval lies above 0",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    for heading in ("fold", "h", "shipped", "best member", "gain"):
        table.add_column(heading, no_wrap=True, justify="right" if heading in ("h", "gain") else "left")
    for fold, by_horizon in report["stack"].items():
        for h, fit in by_horizon.items():
            table.add_row(fold, f"{h}d", fit["shipped"], fit["best_member"], _interval(fit["gain"], "{:+.3f}", "{:+.3f}"))
    return table


def _storms_table(report: dict) -> Table:
    folds = [fold["periods"].get("name", f"fold{i + 1}") for i, fold in enumerate(report["folds"])]
    table = Table(title="Storm episodes in the test blocks (runs of consecutive storm days of one market)",
                  caption=f"no verdict below {_min_episodes(report)} episodes (evaluation.min_episodes)",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("h", justify="right", no_wrap=True)
    for name in folds:
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("all", justify="right", no_wrap=True)
    table.add_column("verdicts", no_wrap=True)
    for h in report["horizons"]:
        storms = report["storms"][str(h)]
        table.add_row(f"{h}d", *(str(storms["per_fold"].get(name, "–")) for name in folds), str(storms["n_episodes"]),
                      "judged" if storms["judged"] else "too few storms to judge")
    return table


def _min_episodes(report: dict) -> int:
    return next(iter(report["storms"].values()))["min_episodes"] if report.get("storms") else 0


def _too_few_caption(report: dict) -> str:
    thin = [f"{h}d ({s['n_episodes']} episodes)" for h, s in report.get("storms", {}).items() if not s["judged"]]
    return f"; too few storms to judge at {', '.join(thin)}" if thin else ""


def _episodes_table(report: dict, shown: int = 10) -> Table:
    """The deepest test episodes at the main horizon: how early each model warned (trading days; – = missed)."""
    h = str(report["main_horizon"])
    reference, baseline = report.get("reference"), report.get("best_price_baseline")
    names = [name for name in (reference, baseline) if name]
    episodes = report.get("episodes", {}).get(h, [])
    table = Table(title=f"Warnings before the deepest {min(shown, len(episodes))} of {len(episodes)} storm episodes "
                        f"({h}d), in trading days",
                  caption="lead: first day of the alert run that reached the episode to its first storm day; "
                          "– = no alert reached it; every episode in report.json", box=box.SIMPLE_HEAD, pad_edge=False)
    for heading in ("market", "first storm", "depth", *names):
        table.add_column(heading, no_wrap=True, justify="left" if heading in ("market", "first storm") else "right")
    for episode in episodes[:shown]:
        table.add_row(str(episode["market"])[:12], episode["first_storm_day"], _number(episode["depth"], "{:.0%}"),
                      *(_number(episode["lead_days"].get(name), "{:+.0f}") for name in names))
    return table


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
    """(horizon, model, headline figures) in horizon order, one section per horizon."""
    for h in report["horizons"]:
        for name, figures in report["headline"][str(h)].items():
            yield str(h), name, figures


def _difference_table(report: dict, metric: str, heading: str, fmt: str, bound_fmt: str) -> Table:
    folds = len(report["folds"])
    lower = "" if metric in ("auroc", "cross_sectional_auroc", "pr_auc") else ", lower is better"
    how = {"auroc": "within each fold's test block", "cross_sectional_auroc": "markets of the same date",
           "brier": "calibrated probabilities"}.get(metric, "")
    ref = report.get("reference") or REFERENCE
    table = _new_table(f"{heading}, {how}, {folds} fold{'s' * (folds != 1)}, 95% intervals{lower}",
                       f"{ref} is: better / worse only when the interval of {ref} − model excludes 0; "
                       f"n.d. = not distinguishable{_too_few_caption(report)}",
                       ["model", heading, f"{ref} − model", f"{ref} is"])
    previous = None
    for h, name, figures in _rows(report):
        if previous is not None and h != previous:
            _base_rate_row(table, report, previous, metric, fmt)
            table.add_section()
        previous = h
        versus = report["versus_reference"][h].get(name, {}).get(metric)
        table.add_row(name, f"{h}d", _interval(figures["intervals"][metric], fmt, bound_fmt),
                      _interval(versus, "{:+.3f}", bound_fmt) if versus else "–",
                      TABLE_VERDICT[versus["verdict"]] if versus else "–")
    if previous is not None:
        _base_rate_row(table, report, previous, metric, fmt)
    return table


def _base_rate_row(table: Table, report: dict, h: str, metric: str, fmt: str) -> None:
    """Brier's reference: the test rows' own storm share as a constant forecast (skill is the gap below it)."""
    if metric != "brier":
        return
    base = report["headline"][h].get(report.get("reference") or "", {}).get("brier_base_rate")
    if base is not None:
        table.add_row("(base rate)", f"{h}d", fmt.format(base), "", "")


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
    table = _new_table("Alerts at the validation threshold (test blocks)",
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
    """`estimate [low,high]`, the bounds widened until they show whether the interval holds 0 (storm.console)."""
    if not figure or figure.get("estimate") is None:
        return "–"
    return interval(figure["estimate"], figure.get("low"), figure.get("high"), fmt, bound_fmt)


def _range(spread: dict, fmt: str) -> str:
    return "–" if spread["min"] is None else f"{fmt.format(spread['min'])}–{fmt.format(spread['max'])}"


def _number(value, fmt: str) -> str:
    return "–" if value is None else fmt.format(value)


def _bins(report: dict) -> str:
    return str(report.get("calibration_bins", 10))
