"""`train`: evidence panel -> a date split -> Ray TorchTrainer -> best weights -> calibration -> models/<run>/.

`train_models` trains several models (an evaluation's fold models) in one worker group, in turn.

The Ray plumbing stays here and thin: the panel goes to the object store once
and the workers get its reference plus the row indices of their split parts;
the worker (storm.training.worker) only trains. Checkpoints live under
models/<run>/checkpoints (Ray's run directory). A run resumes there only when
its fingerprint (config, split, world) matches the one it started with; anything
else is an error unless the caller asks for a fresh start.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import ray
import torch
from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from storm.config import StormConfig, exported_environment
from storm.console import SILENT, StageReporter
from storm.features.evidence_panel import EvidencePanel
from storm.features.panel import IngestedEvidence, ingested_evidence
from storm.features.windows import batches_of_rows
from storm.ingest.window import stored_prices
from storm.labels import refuse_excess_without_an_index
from storm.model import build_model, needs_prices_model
from storm.model.encoders.calls import config_for_panel
from storm.model.storm_model import ANCHOR_MODALITY
from storm.published.artifacts import PublishedModel, model_card, model_exists, read_model, read_weights, write_model
from storm.published.calibration import Calibration, calibration_prior, fit_calibration
from storm.published.inference import predict
from storm.published.weights import weights_to_bytes
from storm.ray_runtime import ensure_ray
from storm.splits import DateSplit, final_split
from storm.store import Layout, ObjectStore, open_store
from storm.training.checkpoint import CheckpointContents, read_batch_checkpoint_dir
from storm.training.losses import pos_weights_from_labels
from storm.training.sampling import storm_adjacent
from storm.training.selection import SelectionRule, selection_rule
from storm.training.worker import train_loop_per_worker

CHECKPOINTS_KEPT = 2
FINGERPRINT_SECTIONS = ("model", "features", "labels", "ingest")
# limits on hostile items and the stored-date range only decide which bad rows are quarantined: never what a good item
# decodes to, so a model trained before them is the same model
FINGERPRINT_EXCLUDED = {"ingest": {"sandbox", "earliest_date", "latest_days_ahead"}}
FINGERPRINT_TRAIN_FIELDS = ("num_workers", "epochs", "batch_size", "learning_rate", "weight_decay", "balance_positives",
                            "storm_loss_weight",
                            "volatility_loss_weight", "early_stopping_patience", "early_stopping_metric", "false_alarm_rate", "calibration",
                            "init_from", "freeze_encoders", "seed", "selection_min_episodes", "calibration_prior_episodes")
CALM_SAMPLING_FIELDS = ("calm_fraction", "storm_margin_days")


@dataclass(frozen=True)
class TrainResult:
    run: str
    model_dir: str
    version: str
    split: DateSplit
    history: list[dict[str, Any]]  # one entry per epoch: loss, val_loss, val_auroc_<h>d, samples_per_second, …
    best_epoch: int
    calibration: Calibration
    seconds: float
    samples_per_second: float  # mean training throughput over the epochs, all workers together
    fingerprint: str = ""
    weights_sha256: str = ""  # the weights alone (the version also covers the card: run name, dates, …)


class RunConflict(ValueError):
    """A run name already holds a run started with another config, split or world."""


@dataclass(frozen=True)
class TrainingRequest:
    """One model to train: its config (``train.run_name`` names the run) and its split (default: the final one)."""

    config: StormConfig
    split: DateSplit | None = None


@dataclass
class PreparedJob:
    """A request resolved against the evidence: what the workers need to train it, and how to publish it."""

    config: StormConfig
    split: DateSplit
    fingerprint: str
    rows: dict[str, np.ndarray]  # train, validation: panel row indices
    pos_weights: list[float]
    selection: SelectionRule     # what ranks epochs and evidence shares, from the validation storm episodes
    init_weights: dict | None
    anchor_run: str | None = None       # the prices-only model this one is anchored on (model.anchored_fusion)
    anchor_job: int | None = None       # … trained earlier in the same worker group
    anchor_weights: dict | None = None  # … or already published (its fingerprint matched)
    calm_adjacent: np.ndarray | None = None  # bool per train row: kept every epoch under calm-day sampling

    @property
    def run(self) -> str:
        return self.config.train.run_name

    def loop_job(self) -> dict[str, Any]:
        return {"config": self.config.model_dump(mode="json"), "fingerprint": self.fingerprint,
                "pos_weights": self.pos_weights, "init_weights": self.init_weights,
                "anchor_job": self.anchor_job, "anchor_weights": self.anchor_weights,
                "train_rows": self.rows["train"], "validation_rows": self.rows["validation"],
                "calm_adjacent": self.calm_adjacent, "selection": self.selection.to_json()}


def train(config: StormConfig, evidence: IngestedEvidence | None = None, split: DateSplit | None = None,
          fault: Callable[[str, int], None] | None = None,
          fresh: bool = False, progress: StageReporter = SILENT, store: ObjectStore | None = None) -> TrainResult:
    """Train `config.train.run_name` on `split` of `evidence` (defaults: every stored price day; the final split).

    `fault` is a drill hook called by each worker at the start of every epoch with the run and epoch (see
    worker.FailOnce). `fresh` discards an earlier run's checkpoints and fingerprint,
    keeping its published model servable until this training publishes the next version. ``store``: the
    configured object store, when the caller has it open already (an evaluation opens it once).
    """
    return train_models([TrainingRequest(config, split)], evidence, fault, fresh, progress, store)[0]


def train_models(requests: list[TrainingRequest], evidence: IngestedEvidence | None = None,
                 fault: Callable[[str, int], None] | None = None,
                 fresh: bool = False, progress: StageReporter = SILENT,
                 store: ObjectStore | None = None) -> list[TrainResult]:
    """Train every request in turn in one Ray Train worker group, so its start-up is paid once; publish each.

    A fused model anchored on a prices-only model (model.anchored_fusion: prices_model) gets that model,
    `<run>-only-prices` on the same split, trained before it in the same group (once, however many ask for it)
    unless a published one matches. Results come back in the order of `requests` (anchors are published, not
    returned). The group's checkpoints live under the first requested run's checkpoint directory, claimed for this
    batch of models: rerunning the same batch resumes it (finished models are not trained again), another batch
    under that run name is a RunConflict unless `fresh`. Every TrainResult's ``seconds`` is the whole call's.
    """
    if not requests:
        return []
    started = time.perf_counter()
    first = requests[0].config
    ensure_ray(first.ray)
    store = store or open_store(first.storage)
    layout = Layout(store)
    evidence = evidence if evidence is not None else evidence_over_all_prices(first, progress)
    world = world_hash(store, layout)
    jobs, positions = planned_jobs(requests, evidence, store, layout, world)
    scaling = _shared_scaling(jobs)
    owner = jobs[positions[0]].run  # the first model asked for (not an anchor added for it) holds the checkpoints
    claim_run(store, layout, owner, batch_fingerprint([job.fingerprint for job in jobs]), fresh)
    for job in jobs:
        if job.run != owner:
            claim_run(store, layout, job.run, job.fingerprint, fresh)
    epochs = first.train.epochs
    with progress.ray_train_epochs(epochs) as callbacks:
        trainer = TorchTrainer(
            train_loop_per_worker,
            train_loop_config={"jobs": [job.loop_job() for job in jobs], "fault": fault, "panel": ray.put(evidence.panel)},
            scaling_config=scaling,
            run_config=run_config(owner, store, layout, first.train.max_failures, callbacks),
        )
        what = owner if len(jobs) == 1 else f"{len(jobs)} models ({', '.join(job.run for job in jobs)})"
        with progress.stage(f"training {what}: {first.train.num_workers} workers, up to {epochs} epochs"), \
                exported_environment(first.train.ray_train_environment()):
            result = trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError(f"run {owner} finished without a checkpoint under {layout.checkpoints_dir(owner)}; "
                           "check the worker logs above")
    with result.checkpoint.as_directory() as directory:
        trained = read_batch_checkpoint_dir(directory).jobs
    if len(trained) != len(jobs):
        raise RuntimeError(f"the worker group under {layout.checkpoints_dir(owner)} trained {len(trained)} of "
                           f"{len(jobs)} models; check the worker logs above")
    seconds = time.perf_counter() - started
    results = [publish(job, contents, evidence, store, layout, seconds) for job, contents in zip(jobs, trained)]
    return [results[position] for position in positions]


ANCHOR_RUN_SUFFIX = "-only-prices"  # the same name an evaluation gives its fold's prices-only model


def anchor_request(request: TrainingRequest) -> TrainingRequest | None:
    """The prices-only model a request's fused model is anchored on, on the same split (None: it needs none)."""
    config = request.config
    if not needs_prices_model(config.model):
        return None
    return TrainingRequest(config.with_overrides({"train.run_name": config.train.run_name + ANCHOR_RUN_SUFFIX,
                                                  "model.modalities": [ANCHOR_MODALITY], "train.init_from": None}),
                           request.split)


def planned_jobs(requests: list[TrainingRequest], evidence: IngestedEvidence, store: ObjectStore, layout: Layout,
                 world: str) -> tuple[list[PreparedJob], list[int]]:
    """The jobs in training order, each anchor before the models it anchors and each run once; and each
    request's position among them."""
    jobs: list[PreparedJob] = []
    position_of: dict[str, int] = {}

    def add(request: TrainingRequest) -> int:
        job = prepare_job(request, evidence, store, layout, world)
        if job.run in position_of:
            if jobs[position_of[job.run]].fingerprint != job.fingerprint:
                raise ValueError(f"{job.run} is asked for twice with different settings")
            return position_of[job.run]
        anchor = anchor_request(request)
        if anchor is not None:
            job.anchor_run = anchor.config.train.run_name
            published = matching_published(anchor, evidence, store, layout, world)
            if published is None:
                job.anchor_job = add(anchor)
            else:
                job.anchor_weights = published.weights
        jobs.append(job)
        position_of[job.run] = len(jobs) - 1
        return position_of[job.run]

    return jobs, [add(request) for request in requests]


def matching_published(request: TrainingRequest, evidence: IngestedEvidence, store: ObjectStore, layout: Layout,
                       world: str) -> PublishedModel | None:
    """The request's run as published (a PublishedModel) when it was trained exactly as asked, else None: what
    lets a trainer or an evaluation reuse a model instead of training it again."""
    run = request.config.train.run_name
    if not model_exists(store, layout, run):
        return None
    published = read_model(store, layout, run)
    return published if published.card.get("fingerprint") == request_fingerprint(request, evidence.panel, world) else None


def resolved_request(request: TrainingRequest, panel: EvidencePanel) -> tuple[StormConfig, DateSplit]:
    """The config and split a request trains with on `panel`."""
    config = config_for_panel(request.config, panel)  # call tables: call_evidence in place of the log-mel default
    return config, request.split or final_split(labelled_dates(panel), config.train, config.labels)


def request_fingerprint(request: TrainingRequest, panel: EvidencePanel, world: str) -> str:
    """The fingerprint a request's trained model would carry (what decides whether a stored one is reused)."""
    return run_fingerprint(*resolved_request(request, panel), world)


def prepare_job(request: TrainingRequest, evidence: IngestedEvidence, store: ObjectStore, layout: Layout, world: str) -> PreparedJob:
    config, split = resolved_request(request, evidence.panel)
    rows = {part: evidence.panel.rows_on(getattr(split, part)) for part in ("train", "validation")}
    pos_weights = (pos_weights_from_labels(evidence.panel.labels[rows["train"]]) if config.train.balance_positives
                   else [1.0] * len(config.labels.horizons))
    init_weights = read_weights(store, layout, config.train.init_from) if config.train.init_from else None
    calm_adjacent = (storm_adjacent(evidence.panel.labels, evidence.panel.market_start,
                                    config.train.storm_margin_days)[rows["train"]]
                     if config.train.samples_calm_days else None)
    selection = selection_rule(evidence.panel.market[rows["validation"]], evidence.panel.labels[rows["validation"]],
                               config.labels.horizons, config.train)  # panel rows: by market, in date order
    return PreparedJob(config=config, split=split, fingerprint=run_fingerprint(config, split, world), rows=rows,
                       pos_weights=pos_weights, selection=selection, init_weights=init_weights,
                       calm_adjacent=calm_adjacent)


def batch_fingerprint(fingerprints: list[str]) -> str:
    """One model's own fingerprint; for several trained together, a hash of theirs in order."""
    if len(fingerprints) == 1:
        return fingerprints[0]
    return hashlib.sha256(json.dumps(fingerprints).encode()).hexdigest()[:16]


def _shared_scaling(jobs: list[PreparedJob]) -> ScalingConfig:
    """The one worker group every job trains in: their train/ray resource settings must agree."""
    def resources(job: PreparedJob) -> tuple:
        train = job.config.train
        return (train.num_workers, train.use_gpu, train.cpus_per_worker, train.max_failures,
                tuple(sorted(job.config.ray.worker_resources.items())))

    differing = [job.run for job in jobs if resources(job) != resources(jobs[0])]
    if differing:
        raise ValueError(f"{differing} ask for other workers or resources than {jobs[0].run}; "
                         "models trained in one worker group must share them")
    train = jobs[0].config.train
    return ScalingConfig(num_workers=train.num_workers, use_gpu=train.use_gpu,
                         resources_per_worker={"CPU": train.cpus_per_worker, **jobs[0].config.ray.worker_resources})


def publish(job: PreparedJob, contents: CheckpointContents, evidence: IngestedEvidence, store: ObjectStore,
            layout: Layout, seconds: float) -> TrainResult:
    """Calibrate the job's best weights on its validation days and publish them under models/<run>/."""
    config, horizons = job.config, job.config.labels.horizons
    weights = weights_to_bytes(contents.best_weights)
    calibration = calibrate(config, contents.best_weights, evidence.panel, job.rows["validation"], job.rows["train"])
    history = contents.state.history
    card = model_card(config, weights, job.split, contents.state.best_epoch,
                      {"pos_weights": dict(zip(map(str, horizons), job.pos_weights)), "markets": list(evidence.markets),
                       "fingerprint": job.fingerprint, "split_fingerprint": job.split.fingerprint(),
                       "anchor_run": job.anchor_run, "calibration_prior": calibration_card(calibration),
                       "selection": selection_card(job.selection, history, contents.state.best_epoch)})
    model_dir = write_model(store, layout, job.run, weights, card, calibration, history, job.split)
    throughputs = [entry["samples_per_second"] for entry in history if entry.get("samples_per_second")]
    return TrainResult(run=job.run, model_dir=model_dir, version=card["version"], split=job.split, history=history,
                       best_epoch=contents.state.best_epoch, calibration=calibration, seconds=seconds,
                       samples_per_second=float(np.mean(throughputs)) if throughputs else 0.0,
                       fingerprint=job.fingerprint, weights_sha256=card["weights_sha256"])


def run_config(run: str, store: ObjectStore, layout: Layout, max_failures: int, callbacks: list | None = None) -> RunConfig:
    """Ray's run directory is models/<run>/checkpoints: same run name, same place, so a matching rerun resumes."""
    storage_path, name = posixpath.split(layout.checkpoints_dir(run))
    return RunConfig(name=name, storage_path=storage_path, storage_filesystem=None if store.is_local else store.arrow_fs,
                     failure_config=FailureConfig(max_failures=max_failures),
                     checkpoint_config=CheckpointConfig(num_to_keep=CHECKPOINTS_KEPT), callbacks=callbacks)


def run_fingerprint(config: StormConfig, split: DateSplit, world: str) -> str:
    """Hash of what determines a run's result: model-side config, training settings, the split's dates, the world."""
    train = config.train.model_dump(mode="json")
    payload = {section: getattr(config, section).model_dump(mode="json", exclude=FINGERPRINT_EXCLUDED.get(section))
               for section in FINGERPRINT_SECTIONS}
    payload["train"] = {name: train[name] for name in FINGERPRINT_TRAIN_FIELDS}
    if config.train.samples_calm_days:  # sampling changes the result; models trained on every row keep their hash
        payload["train"] |= {name: train[name] for name in CALM_SAMPLING_FIELDS}
    payload["labels"] = label_fingerprint(config.labels)
    payload["split"] = split.fingerprint()
    payload["world"] = world
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


LABEL_KIND_FIELDS = {"drawdown": ("drawdown_threshold",), "vol_scaled": ("vol_multiple", "vol_lookback"),
                     "excess": ("excess_threshold", "index_market")}


def label_fingerprint(labels) -> dict:
    """The label settings that decide the labels: the horizons, the volatility window and the chosen kind's own
    parameters (a drawdown run hashes as it did before label kinds existed, so its models are reused)."""
    dumped = labels.model_dump(mode="json")
    chosen = {name: dumped[name] for name in ("horizons", "volatility_window", *LABEL_KIND_FIELDS[labels.kind])}
    return chosen if labels.kind == "drawdown" else {**chosen, "kind": labels.kind}


def world_hash(store: ObjectStore, layout: Layout) -> str:
    """The hash of the world manifest and of every import manifest ("" without any): a regenerated or
    re-imported world is another world, so no fold model trained on the old one is reused."""
    paths = [layout.world_manifest()] if store.exists(layout.world_manifest()) else []
    imports = layout.imports_dir()
    paths += sorted(store.list_files(imports, suffix=".json")) if store.exists(imports) else []
    if not paths:
        return ""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(store.read_bytes(path))
    return digest.hexdigest()[:16]


def stored_fingerprint(store: ObjectStore, layout: Layout, run: str) -> str | None:
    path = layout.run_fingerprint_file(run)
    return json.loads(store.read_text(path))["fingerprint"] if store.exists(path) else None


def claim_run(store: ObjectStore, layout: Layout, run: str, fingerprint: str, fresh: bool) -> None:
    """Start (or resume) `run` as `fingerprint`; a different earlier run under the name is an error unless `fresh`.

    `fresh` resets the run's checkpoints and fingerprint only: its published versions and current.json stay
    servable to scans until training publishes a new version (which switches the pointer).
    """
    earlier = stored_fingerprint(store, layout, run)
    has_files = store.exists(layout.model_dir(run)) and bool(store.list_files(layout.model_dir(run)))
    if has_files and earlier != fingerprint:
        if not fresh:
            raise RunConflict(
                f"run {run!r} at {layout.model_dir(run)} was started with a different config, split or world "
                f"(fingerprint {earlier or 'unknown'} vs {fingerprint}); resuming it would mix them. "
                f"Use another run name, or --fresh to discard it")
        store.delete([layout.checkpoints_dir(run), layout.run_fingerprint_file(run)])
    store.write_text(layout.run_fingerprint_file(run), json.dumps({"fingerprint": fingerprint}))


def calibrate(config: StormConfig, weights: dict[str, torch.Tensor], panel: EvidencePanel, validation_rows: np.ndarray,
              train_rows: np.ndarray) -> Calibration:
    """Probabilities and thresholds from the best weights' validation logits (the only days not trained on), held
    by the training rows' base rates (a validation block may hold no storm at some horizon)."""
    horizons = config.labels.horizons
    prior = calibration_prior(panel.market[train_rows], panel.labels[train_rows], horizons,
                              config.train.calibration_prior_episodes)  # panel rows: by market, in date order
    outputs = raw_outputs(config, weights, panel, validation_rows)
    return fit_calibration(outputs["storm_logits"], outputs["storm_labels"], horizons, config.train.false_alarm_rate,
                           method=config.train.calibration, prior=prior,
                           validation_markets=panel.market[validation_rows])


def calibration_card(calibration: Calibration) -> dict | None:
    """The model card's account of the calibration prior: base rates, strength, and how much it decided."""
    if calibration.prior is None:
        return None
    record = calibration.prior.to_json()
    return {key: record[key] for key in ("episodes", "base_rate", "days_per_episode", "validation_episodes",
                                         "shrinkage")}


def selection_card(rule: SelectionRule, history: list[dict[str, Any]], best_epoch: int) -> dict:
    """The model card's account of what chose the kept epoch and the evidence share."""
    kept = next((entry for entry in history if entry.get("epoch") == best_epoch), {})
    return {**rule.to_json(), "chose": ["epoch", "evidence_share"], "evidence_weight": kept.get("evidence_weight")}


def raw_outputs(config: StormConfig, weights: dict[str, torch.Tensor], panel: EvidencePanel, rows: np.ndarray) -> dict[str, np.ndarray]:
    model = build_model(config.model, config.features, config.labels.horizons)
    model.load_state_dict(weights)
    return predict(model, batches_of_rows(panel, rows, config.train.batch_size), config.labels.horizons)


def labelled_dates(panel: EvidencePanel) -> list[str]:
    """Dates on which some market's longest-horizon label is known."""
    known = ~np.isnan(panel.labels[:, -1])
    return sorted(set(panel.date[known]))


def evidence_over_all_prices(config: StormConfig, progress: StageReporter = SILENT) -> IngestedEvidence:
    """Every (market, trading day) the stored prices cover: the default training set."""
    store = open_store(config.storage)
    prices = stored_prices(store, Layout(store), config.ingest).prices
    refuse_excess_without_an_index(prices["market"].nunique(), config.labels)  # can never fire: say so first
    return ingested_evidence(config, str(prices["date"].min()), str(prices["date"].max()), progress, store=store)
