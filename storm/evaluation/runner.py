"""`evaluate(config)`: the walk-forward protocol — K folds, each trained on its past and scored on its block.

One evidence panel serves every fold and every model. Per fold: the fused model and
one model per modality are trained on the fold's training part (reused only when the
stored run's fingerprint — config, split dates, world — matches), scored on the fold's
test block beside the price baselines fitted on the same past; then every figure is
computed on the pooled test blocks and per fold. The hidden truth (synthetic worlds)
is read here and nowhere else. Everything lands in reports/<run>/ through the layout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, Literal

import pandas as pd

from storm.config import StormConfig
from storm.console import SILENT, StageClock, StageReporter
from storm.evaluation.ablation import (CONTRIBUTIONS, contribution_summary, modality_ablation, modality_weights,
                                       with_contributions)
from storm.evaluation.baselines import (TRUTH_FRAGILITY, TRUTH_STORM_PROBABILITY, BaselineCalibration, boosted_model,
                                        evidence_activity, evidence_logistic_model, price_baselines,
                                        price_features, truth_models)
from storm.evaluation.placement import fold_storms, placement_advice
from storm.evaluation.html_report import HTML_NAME, Shown, evaluation_html
from storm.evaluation.plots import (MAX_MARKETS_PER_FIGURE, episode_scores_png, most_storm_days,
                                    reliability_by_horizon_png, score_over_price_png)
from storm.evaluation.predictions import PREDICTION_BATCH_ROWS, collect_predictions, long_predictions, plain_scorer
from storm.evaluation.product import PublishedProduct, out_of_sample_rows, publish_product, stacked_product
from storm.evaluation.report import FoldScores, ScoredModel, build_report, pool_folds, render_tables
from storm.explain.attribution import explain_batch
from storm.explain.table import contributions_by_horizon
from storm.features.price_history import quant_price_features
from storm.published.artifacts import read_model
from storm.features.evidence_panel import EvidencePanel
from storm.features.panel import IngestedEvidence, ingested_evidence
from storm.ingest.window import stored_prices
from storm.labels import forward_drawdowns, label_table, require_some_storm
from storm.published.predictor import Predictor, predictor_from_published
from storm.schema import storm_column
from storm.splits import DateSplit, walk_forward_folds
from storm.store import Layout, ObjectStore, open_store

REPORT_NAME = "report.json"
PREDICTIONS_NAME = "predictions.parquet"


@dataclass
class EvaluationReport:
    run: str
    report_path: str
    plot_paths: list[str]
    content: dict = field(repr=False)
    final: "TrainedModel | None" = None  # with final_model: the run storm scan uses, trained beside the folds
    product: PublishedProduct | None = None  # with final_model and evaluation.stack: what storm scan scores

    def tables(self):
        return render_tables(self.content)


class EvaluationError(ValueError):
    """The run cannot be evaluated as asked; the message says what is missing and what to run."""


@dataclass(frozen=True)
class ModelVariant:
    """One model a fold scores: the fused model (``fused``), the fused model with one modality masked at scoring
    (``masked``: the ablation), or a model trained on one modality alone (``only``)."""

    kind: Literal["fused", "masked", "only"]
    modality: str | None = None

    @property
    def name(self) -> str:
        """fused, masked-<modality> or only-<modality>: the model's name in the report."""
        return self.kind if self.kind == "fused" else f"{self.kind}-{self.modality}"

    @property
    def masked_modalities(self) -> list[str]:
        return [self.modality] if self.kind == "masked" else []


FUSED = ModelVariant("fused")


def fold_run(run: str, fold: str, variant: ModelVariant = FUSED) -> str:
    """The run name a fold's trained model is stored under: <run>-<fold>, or <run>-<fold>-only-<modality>."""
    return f"{run}-{fold}" + (f"-{variant.name}" if variant.kind == "only" else "")


def main_horizon(horizons: list[int]) -> int:
    return 20 if 20 in horizons else max(horizons)


@dataclass
class FoldOutcome:
    split: DateSplit
    models: list[ScoredModel]
    runs: dict[str, dict]              # trained model's name -> {"run", "version", "reused", "best_epoch", "history"}
    masked: dict[str, pd.DataFrame] = field(default_factory=dict)  # modality -> fused predictions without it
    stack: dict = field(default_factory=dict)  # horizon -> what the product shipped (storm.evaluation.product)


def evaluate(config: StormConfig, run: str | None = None, folds: int | None = None, skip_single_modality: bool = False,
             log: Callable[[str], None] = lambda message: None, evidence: IngestedEvidence | None = None,
             progress: StageReporter = SILENT, final_model: bool = False) -> EvaluationReport:
    """Walk-forward evaluation of the configured model over `folds` (default train.folds); writes report.json + PNGs.

    `evidence`: an IngestedEvidence over the whole history, when the caller already has one (the demo).
    `final_model`: also train `run` itself on the final split (what `storm train` publishes), in the same worker
    group as the fold models.
    """
    run = run or config.train.run_name
    store = open_store(config.storage)
    layout = Layout(store)
    prices = stored_prices(store, layout, config.ingest).prices
    labels = label_table(prices, config.labels)
    require_some_storm(labels, config.labels)  # before hours of training on a world with nothing to judge
    clock = StageClock()
    with clock.timed("panel"):
        evidence = evidence or ingested_evidence(config, str(prices["date"].min()), str(prices["date"].max()),
                                                 progress, store=store)
    splits = walk_forward_folds(evidence.dates, config.train, config.labels, folds)
    horizons = list(config.labels.horizons)
    with clock.timed("baselines"):
        references = reference_tables(config, prices, store, layout, labels)
        if set(config.model.modalities) - {"prices"}:
            from storm.evaluation.baselines import headline_measures

            measures = headline_measures(config, evidence.panel, prices, store, layout)  # fielded text measures
            references.activity = evidence_activity(evidence.panel, measures)
    if config.evaluation.boosted:
        with clock.timed("boosted"):
            # no call calendar: the stored calls hold no future dates at scan time, so the published boosted member
            # could not read days_until_call; evaluated and published members read the same features
            references.quant = quant_price_features(prices) if evidence.quant is None else evidence.quant
    context = EvaluationContext(store=store, layout=layout, evidence=evidence, references=references, clock=clock)
    for split in splits:
        log(f"{split.name}: train {split.train[0]}…{split.train[-1]}, validation {split.validation[0]}…"
            f"{split.validation[-1]}, test {split.test[0]}…{split.test[-1]}")
    present = evidence.panel.modalities_present()
    absent = [m for m in single_modalities(config) if m not in present]
    if absent and len(config.model.modalities) > 1 and not skip_single_modality:
        log(f"no {' or '.join(absent)} in this world's evidence: no only-{' or only-'.join(absent)} model is trained "
            "(a model of nothing would be 'beaten' by anything)")
    variants = [FUSED] + ([ModelVariant("only", m) for m in single_modalities(config) if m in present]
                          if len(config.model.modalities) > 1 and not skip_single_modality else [])
    with clock.timed("train"):
        trained = trained_evaluation_models(config, run, splits, variants, evidence, final_model, log, progress, store)
    outcomes = [_evaluate_fold(config, context, split, trained[split.name], progress, splits[:index])
                for index, split in enumerate(splits)]
    if config.evaluation.stack:
        with clock.timed("stack"):
            stacked = stacked_product([(o.split, o.models) for o in outcomes], references.labels, horizons,
                                      config.train.false_alarm_rate, config.train.calibration_prior_episodes)
        for outcome, (product, summary) in zip(outcomes, stacked):
            outcome.models.insert(0, product)
            outcome.stack = summary
    product = None
    if final_model and config.evaluation.stack:  # what storm train publishes: the final model stacked with the desk's
        with clock.timed("stack"):
            product = publish_product(config.with_overrides({"train.run_name": run}), evidence, store, progress=progress,
                                      out_of_sample=out_of_sample_rows([(o.split.name, o.models) for o in outcomes],
                                                                       horizons))
    fused = pooled_fused(outcomes)
    report = _report(config, run, outcomes, fused, horizons, context)
    report_path, plot_paths = write_outputs(store, layout, run, report, fused, prices, outcomes,
                                            config.evaluation.episode_plots)
    return EvaluationReport(run=run, report_path=report_path, plot_paths=plot_paths, content=report,
                            final=trained.get(FINAL), product=product)


@dataclass
class References:
    """What every fold's baselines need, computed once: prices, labels, price features, the hidden truth."""

    prices: pd.DataFrame
    labels: pd.DataFrame
    features: pd.DataFrame
    truth: dict[str, pd.DataFrame]
    activity: pd.DataFrame | None = None  # news and call activity per market-day (evidence-logit); None: no evidence
    drawdowns: pd.DataFrame | None = None  # market, date, drawdown_{h}d: the fall ahead of each day (episode depth)
    quant: pd.DataFrame | None = None  # market, date, QUANT_FEATURES (the boosted candidate's); None: not evaluated


@dataclass
class EvaluationContext:
    """What every fold reads, built once per evaluation: one store (and its layout), the panel, the baselines' tables."""

    store: ObjectStore
    layout: Layout
    evidence: IngestedEvidence
    references: References
    clock: StageClock = field(default_factory=StageClock)  # seconds per stage, summed over the folds


def reference_tables(config: StormConfig, prices: pd.DataFrame, store: ObjectStore, layout: Layout,
                     labels: pd.DataFrame | None = None) -> References:
    """The truth files are read here and nowhere else in storm: only evaluation may see them. ``labels``: the
    prices' label_table when the caller has it."""
    horizons = list(config.labels.horizons)
    truth = {}
    for key, path in ((TRUTH_FRAGILITY, layout.truth_fragility()), (TRUTH_STORM_PROBABILITY, layout.truth_storm_probability())):
        if store.exists(path):
            truth[key] = store.read_table(path).to_pandas()
    return References(prices=prices, labels=label_table(prices, config.labels) if labels is None else labels,
                       features=price_features(prices[["market", "date", "close"]], horizons, config.labels.volatility_window),
                       truth=truth, drawdowns=forward_drawdowns(prices, horizons))


def _evaluate_fold(config: StormConfig, context: EvaluationContext, split: DateSplit, trained: dict[str, "TrainedModel"],
                   progress: StageReporter = SILENT, earlier: list | None = None) -> FoldOutcome:
    """Score the fold's trained models (``trained``: variant name -> model) and its baselines on its test block
    (``earlier``: the folds before it, whose validation blocks calibrate a baseline where this one holds no storm)."""
    from storm.features.windows import batches_of_rows

    evidence, references, clock = context.evidence, context.references, context.clock
    horizons = list(config.labels.horizons)
    modalities = list(config.model.modalities)
    ablations = [ModelVariant("masked", m) for m in modalities] if len(modalities) > 1 else []
    singles = [name for name in trained if name != FUSED.name]
    fused = trained[FUSED.name]
    masks = {variant.name: variant.masked_modalities for variant in [FUSED, *ablations]}
    scorers = {FUSED.name: lambda inputs: {**fused.predictor.predict_variants(inputs, masks, with_logits=True),
                                           CONTRIBUTIONS: contributions_by_horizon(explain_batch(fused.predictor, inputs,
                                                                                                 items=False))}}
    scorers |= {name: plain_scorer(name, trained[name].predictor) for name in singles}
    with clock.timed("predict"):
        test_rows = evidence.panel.rows_on(split.test)
        with progress.stage(f"{split.name}: scoring {len(test_rows)} test windows ({len(scorers)} models)"):
            tables = collect_predictions(batches_of_rows(evidence.panel, test_rows, PREDICTION_BATCH_ROWS), scorers,
                                         horizons)
        validation = validation_predictions(evidence.panel, split, trained, horizons, progress)
    fused_table = with_contributions(tables[FUSED.name], tables.get(CONTRIBUTIONS))
    models = [ScoredModel(name=FUSED.name, kind="fused", predictions=fused_table, validation=validation[FUSED.name])]
    models += [ScoredModel(name=name, kind="single_modality", predictions=tables[name], validation=validation[name])
               for name in singles]
    earlier_validation = tuple(date for fold in earlier or [] for date in fold.validation)
    calibration = BaselineCalibration(config.train.calibration_prior_episodes, earlier_validation)
    with clock.timed("baselines"):
        models += baseline_models(config, references, split, fused_table[["market", "date"]], calibration)
    if references.quant is not None:
        with clock.timed("boosted"):
            boosted = boosted_model(references.quant, references.labels, split, horizons, config.train.false_alarm_rate,
                                    calibration)
            models.append(on_rows(boosted, fused_table[["market", "date"]]))
            if references.activity is not None:  # what the words add to the trees (issue 36): not a product member
                reading = boosted_model(references.quant, references.labels, split, horizons,
                                        config.train.false_alarm_rate, calibration, activity=references.activity)
                models.append(on_rows(reading, fused_table[["market", "date"]]))
    return FoldOutcome(split=split, models=models, runs={name: model.summary for name, model in trained.items()},
                       masked={variant.modality: tables[variant.name] for variant in ablations})


def validation_predictions(panel: EvidencePanel, split: DateSplit, trained: dict[str, "TrainedModel"], horizons: list[int],
                           progress: StageReporter = SILENT) -> dict[str, pd.DataFrame]:
    """Each trained variant's predictions on the fold's validation rows: the out-of-training scores a stack of
    candidates is fitted on (storm.evaluation.product)."""
    from storm.features.windows import batches_of_rows

    scorers = {name: plain_scorer(name, model.predictor) for name, model in trained.items()}
    rows = panel.rows_on(split.validation)
    with progress.stage(f"{split.name}: scoring {len(rows)} validation windows ({len(scorers)} models)"):
        return collect_predictions(batches_of_rows(panel, rows, PREDICTION_BATCH_ROWS), scorers, horizons)


def single_modalities(config: StormConfig) -> list[str]:
    """The single-modality models to train per fold: evaluation.single_modalities, which must be among the model's."""
    chosen = config.evaluation.single_modalities
    if chosen is None:
        return list(config.model.modalities)
    unknown = [modality for modality in chosen if modality not in config.model.modalities]
    if unknown:
        raise ValueError(f"evaluation.single_modalities names {unknown}, not among model.modalities "
                         f"{list(config.model.modalities)}")
    return list(chosen)


def baseline_models(config: StormConfig, references: References, split: DateSplit, keys: pd.DataFrame,
                    calibration: BaselineCalibration | None = None) -> list[ScoredModel]:
    """Price baselines fitted on the fold's past (and the truths, synthetic only) on exactly the rows in `keys`,
    calibrated like the model (``calibration``: the prior's strength and the earlier folds' validation dates)."""
    horizons, rate = list(config.labels.horizons), config.train.false_alarm_rate
    calibration = calibration or BaselineCalibration(config.train.calibration_prior_episodes)
    models = price_baselines(references.prices, references.labels, split, horizons, config.labels.volatility_window, rate,
                             features=references.features, calibration=calibration)
    if references.activity is not None:
        models.append(evidence_logistic_model(references.features, references.activity, references.labels, split,
                                              horizons, rate, calibration))
    if references.truth:
        models += truth_models(references.truth, references.labels, split, horizons, rate, calibration)
    return [on_rows(model, keys) for model in models]


def on_rows(model: ScoredModel, keys: pd.DataFrame) -> ScoredModel:
    """The model with its test predictions cut to exactly the (market, date) rows in ``keys``."""
    model.predictions = keys.merge(model.predictions, on=["market", "date"], how="inner")
    return model


@dataclass
class TrainedModel:
    predictor: Predictor
    summary: dict  # run, version, weights_sha256, reused, best_epoch, history


FINAL = "final"  # trained_evaluation_models' key for the run itself (the model storm scan uses)


def trained_evaluation_models(config: StormConfig, run: str, splits: list[DateSplit], variants: list[ModelVariant],
                              evidence: IngestedEvidence,
                              final_model: bool = False, log=lambda message: None, progress: StageReporter = SILENT,
                              store: ObjectStore | None = None) -> dict:
    """Every fold's trained variants ({fold: {variant name: TrainedModel}}, plus FINAL with `final_model`).

    A stored model is reused when its fingerprint (config, split, world) matches; the others train together in one
    worker group, so Ray Train starts once per evaluation rather than once per model.
    """
    wanted = {(split.name, variant.name): (_variant_config(config, fold_run(run, split.name, variant), variant), split)
              for split in splits for variant in variants}
    if final_model:
        wanted[(FINAL, FUSED.name)] = (config.with_overrides({"train.run_name": run}), None)
    store = store or open_store(config.storage)
    trained: dict = {}
    models = trained_models(list(wanted.values()), evidence, log, progress, store)
    for (group, name), model in zip(wanted, models):
        trained.setdefault(group, {})[name] = model
    if final_model:
        trained[FINAL] = trained[FINAL][FUSED.name]
    return trained


def _variant_config(config: StormConfig, name: str, variant: ModelVariant) -> StormConfig:
    overrides = {"train.run_name": name}
    if variant.kind == "only":
        overrides.update({"model.modalities": [variant.modality], "train.init_from": None})
    return config.with_overrides(overrides)


def trained_models(wanted: list[tuple[StormConfig, DateSplit]], evidence: IngestedEvidence, log=lambda message: None,
                   progress: StageReporter = SILENT, store: ObjectStore | None = None) -> list[TrainedModel]:
    """Each (config, split)'s run (config.train.run_name), reused when its stored fingerprint matches, the rest
    trained afresh together (on ``store``, default: the configured one)."""
    from storm.training.trainer import TrainingRequest, matching_published, train_models, world_hash

    if not wanted:
        return []
    store = store or open_store(wanted[0][0].storage)
    layout = Layout(store)
    world = world_hash(store, layout)
    requests = [TrainingRequest(config, split) for config, split in wanted]
    reused = {}
    for request in requests:
        name = request.config.train.run_name
        reused[name] = matching_published(request, evidence, store, layout, world)
    kept = [name for name, model in reused.items() if model is not None]
    fresh = [name for name, model in reused.items() if model is None]
    if kept:  # one line each, not one per model: the models train together, in one worker group
        log(f"reusing {len(kept)} stored model(s) (same config, split and world): {', '.join(kept)}")
    if fresh:
        log(f"training {len(fresh)} model(s) together in one worker group: {', '.join(fresh)}")
    train_models([request for request in requests if reused[request.config.train.run_name] is None], evidence=evidence,
                 fresh=True, progress=progress, store=store)
    models = []
    for config, _ in wanted:
        name = config.train.run_name
        published = reused[name] or read_model(store, layout, name)
        models.append(TrainedModel(
            predictor=predictor_from_published(published),
            summary={"run": name, "version": published.version, "weights_sha256": published.card["weights_sha256"],
                     "reused": reused[name] is not None, "best_epoch": published.card.get("best_epoch"),
                     "history": published.history}))
    return models


def trained_fold_model(config: StormConfig, name: str, evidence: IngestedEvidence, split: DateSplit,
                       log=lambda message: None,
                       progress: StageReporter = SILENT, store: ObjectStore | None = None) -> TrainedModel:
    """The fold run `name`, reused when its stored fingerprint matches, else trained afresh (on ``store``, default:
    the configured one)."""
    return trained_models([(config.with_overrides({"train.run_name": name}), split)], evidence, log, progress, store)[0]


def pooled_fused(outcomes: list[FoldOutcome]) -> pd.DataFrame:
    """The fused model's test predictions over every fold (for the ablation, the weights and the plots)."""
    folds = [FoldScores(models=o.models, periods={}) for o in outcomes]
    return next(m for m in pool_folds(folds) if m.kind == "fused").predictions


def _report(config: StormConfig, run: str, outcomes: list[FoldOutcome], fused: pd.DataFrame, horizons: list[int],
            context: EvaluationContext) -> dict:
    labels = context.references.labels
    folds = [FoldScores(models=o.models, periods={"name": o.split.name, **_periods(o.split),
                                                  "storm_episodes": fold_storms(labels, o.split, horizons)})
             for o in outcomes]
    masked = {m: pd.concat([o.masked[m] for o in outcomes], ignore_index=True) for m in outcomes[0].masked}
    horizon = main_horizon(horizons)
    return build_report(
        run, folds, horizons, horizon, config.evaluation, drawdowns=context.references.drawdowns,
        ablation=modality_ablation(fused, masked, horizons) if masked else {},
        weights=modality_weights(fused, horizon),
        extra={"fold_runs": {o.split.name: o.runs for o in outcomes},
               "learning_curves": {o.split.name: {name: r["history"] for name, r in o.runs.items()} for o in outcomes},
               "markets": list(context.evidence.markets), "world": _world_kind(context.store, context.layout),
               "labels": config.labels.model_dump(mode="json"),
               "stage_seconds": {name: round(seconds, 3) for name, seconds in context.clock.seconds.items()},
               "modality_contributions": contribution_summary(fused, horizons, config.evaluation),
               "stack": {o.split.name: o.stack for o in outcomes if o.stack},
               "placement": placement_advice(labels, [o.split for o in outcomes], horizons, config.evaluation.min_episodes),
               "final_model": f"{run} (storm train): the model storm scan uses; the folds above fed this evaluation"},
    )


def _periods(split: DateSplit) -> dict:
    def period(dates: list[str]) -> dict:
        return {"start": dates[0], "end": dates[-1], "n_dates": len(dates)} if dates else {"n_dates": 0}

    return {"train": period(split.train), "validation": period(split.validation), "test": period(split.test),
            "embargo_days": split.embargo_days}


def _world_kind(store: ObjectStore, layout: Layout) -> str | None:
    if not store.exists(layout.world_manifest()):
        return None
    return json.loads(store.read_text(layout.world_manifest())).get("kind")


def write_outputs(store: ObjectStore, layout: Layout, run: str, report: dict, fused: pd.DataFrame,
                  prices: pd.DataFrame, outcomes: list[FoldOutcome] | None = None,
                  episode_plots: int = 4) -> tuple[str, list[str]]:
    """predictions.parquet, PNGs, report.html (tables and plots in one page), then report.json (which lists them)
    under reports/<run>/; returns (report path, plot paths)."""
    horizon = report["main_horizon"]
    storm_days = fused.groupby("market")[storm_column(horizon)].sum().sort_values(ascending=False, kind="stable")
    score_plot = f"score_over_price_{horizon}d.png"
    figures = {
        score_plot: score_over_price_png(prices, fused, horizon, None, storm_days.index.tolist()),
        "reliability.png": reliability_by_horizon_png(report),
    }
    subjects = {score_plot: Shown(most_storm_days(fused, horizon, storm_days.index.tolist())[:MAX_MARKETS_PER_FIGURE],
                                  len(storm_days))}
    if outcomes:
        tested = {m.name: m.predictions for m in pool_folds([FoldScores(o.models, {"name": o.split.name})
                                                             for o in outcomes])}
        report["predictions"] = layout.report_file(run, PREDICTIONS_NAME)
        store.write_table(report["predictions"], long_predictions(tested, report["horizons"]))
        deepest = report["episodes"].get(str(horizon), [])[:episode_plots]
        shown = {name: tested[name] for name in (report.get("reference"), report.get("best_price_baseline"))
                 if name in tested}
        if deepest and shown:
            figures[f"episodes_{horizon}d.png"] = episode_scores_png(prices, shown, horizon, deepest)
            subjects[f"episodes_{horizon}d.png"] = Shown([f"{e['market']} from {e['first_storm_day']}" for e in deepest],
                                                         len(report["episodes"][str(horizon)]))
    plot_paths = []
    for name, png in figures.items():
        plot_paths.append(layout.report_file(run, name))
        store.write_bytes(plot_paths[-1], png)
    report["plots"] = plot_paths
    report["html"] = layout.report_file(run, HTML_NAME)
    store.write_text(report["html"], evaluation_html(report, figures, subjects))
    report_path = layout.report_file(run, REPORT_NAME)
    store.write_text(report_path, json.dumps(report, indent=2, allow_nan=False))
    return report_path, plot_paths
