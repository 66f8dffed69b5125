"""`train`: samples -> time split -> Ray TorchTrainer -> best weights -> calibration -> models/<run>/.

The Ray plumbing stays here and thin: datasets are filtered by date and
handed to the trainer; the worker (storm.training.worker) only trains.
Checkpoints live under models/<run>/checkpoints (Ray's run directory), so
running the same run again resumes it, on a local store or on S3.
"""

from __future__ import annotations

import posixpath
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import ray.data
import torch
from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from storm.config import StormConfig
from storm.console import SILENT, StageReporter
from storm.model import build_model
from storm.ray_runtime import ensure_ray
from storm.schema import storm_column
from storm.store import Layout, ObjectStore, open_store
from storm.training.artifacts import model_card, read_weights, write_model
from storm.training.calibration import Calibration, fit_calibration
from storm.training.checkpoint import read_checkpoint_dir, weights_to_bytes
from storm.training.loop import numeric_keys, predict
from storm.training.losses import pos_weights_from_labels
from storm.training.splits import DateSplit, walk_forward_split
from storm.training.worker import train_loop_per_worker

CHECKPOINTS_KEPT = 2


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


def train(config: StormConfig, samples=None, fault: Callable[[int], None] | None = None,
          progress: StageReporter = SILENT) -> TrainResult:
    """Train `config.train.run_name` on `samples` (default: every sample the store's prices cover) and publish it.

    `fault` is a drill hook called by each worker at the start of every epoch (see worker.FailOnce).
    """
    started = time.perf_counter()
    ensure_ray(config.ray)
    store = open_store(config.storage)
    layout = Layout(store)
    run, horizons = config.train.run_name, config.labels.horizons
    if samples is None:
        with progress.stage("features for every market and day the prices cover"):
            samples = _samples_over_all_prices(config, store, layout)
    split = walk_forward_split(list(samples.dates), config.train, horizons)
    columns = ["date", *numeric_keys(horizons)]
    samples_by_date = samples.dataset.select_columns(columns).materialize()  # read once, not once per epoch
    datasets = {part: rows_on_dates(samples_by_date, getattr(split, part)) for part in ("train", "validation")}
    pos_weights = pos_weights_from_labels(_storm_labels(datasets["train"], horizons))
    init_weights = read_weights(store, layout, config.train.init_from) if config.train.init_from else None
    with progress.ray_train_epochs(config.train.epochs) as callbacks:
        trainer = TorchTrainer(
            train_loop_per_worker,
            train_loop_config={"config": config.model_dump(mode="json"), "pos_weights": pos_weights,
                               "init_weights": init_weights, "fault": fault},
            scaling_config=ScalingConfig(num_workers=config.train.num_workers, use_gpu=config.train.use_gpu,
                                         resources_per_worker={"CPU": config.train.cpus_per_worker,
                                                               **config.ray.worker_resources}),
            datasets=datasets,
            run_config=run_config(run, store, layout, config.train.max_failures, callbacks),
        )
        with progress.stage(f"training {run}: {config.train.num_workers} workers, {config.train.epochs} epochs"):
            result = trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError(f"run {run} finished without a checkpoint under {layout.checkpoints_dir(run)}; "
                           "check the worker logs above")
    with result.checkpoint.as_directory() as directory:
        contents = read_checkpoint_dir(directory)
    weights = weights_to_bytes(contents.best_weights)
    calibration = calibrate(config, contents.best_weights, datasets["validation"])
    history = contents.state.history
    card = model_card(config, weights, split, contents.state.best_epoch,
                      {"pos_weights": dict(zip(map(str, horizons), pos_weights)), "markets": list(getattr(samples, "markets", []))})
    model_dir = write_model(store, layout, run, weights, card, calibration, history, split)
    throughputs = [entry["samples_per_second"] for entry in history if entry.get("samples_per_second")]
    return TrainResult(run=run, model_dir=model_dir, version=card["version"], split=split, history=history,
                       best_epoch=contents.state.best_epoch, calibration=calibration,
                       seconds=time.perf_counter() - started,
                       samples_per_second=float(np.mean(throughputs)) if throughputs else 0.0)


def run_config(run: str, store: ObjectStore, layout: Layout, max_failures: int, callbacks: list | None = None) -> RunConfig:
    """Ray's run directory is models/<run>/checkpoints: same run name, same place, so a rerun resumes."""
    storage_path, name = posixpath.split(layout.checkpoints_dir(run))
    return RunConfig(name=name, storage_path=storage_path, storage_filesystem=None if store.is_local else store.arrow_fs,
                     failure_config=FailureConfig(max_failures=max_failures),
                     checkpoint_config=CheckpointConfig(num_to_keep=CHECKPOINTS_KEPT), callbacks=callbacks)


def rows_on_dates(dataset: ray.data.Dataset, dates: list[str]) -> ray.data.Dataset:
    """The rows whose date is in `dates`, without the date column (training batches are numeric only)."""
    wanted = pa.array(sorted(dates), type=pa.string())

    def keep(batch: pa.Table) -> pa.Table:
        return batch.filter(pc.is_in(batch["date"].cast(pa.string()), value_set=wanted)).drop_columns(["date"])

    return dataset.map_batches(keep, batch_format="pyarrow")


def calibrate(config: StormConfig, weights: dict[str, torch.Tensor], validation: ray.data.Dataset) -> Calibration:
    """Temperature and thresholds from the best weights' validation logits (the only days not trained on)."""
    horizons = config.labels.horizons
    model = build_model(config.model, config.features, horizons)
    model.load_state_dict(weights)
    outputs = predict(model, validation.iter_torch_batches(batch_size=config.train.batch_size), horizons)
    return fit_calibration(outputs["storm_logits"], outputs["storm_labels"], horizons, config.train.false_alarm_rate,
                           method=config.train.calibration)


def _storm_labels(dataset: ray.data.Dataset, horizons: list[int]) -> np.ndarray:
    frame = dataset.select_columns([storm_column(h) for h in horizons]).to_pandas()
    return frame.to_numpy(dtype=np.float64)


def _samples_over_all_prices(config: StormConfig, store: ObjectStore, layout: Layout):
    """Every (market, trading day) the stored prices cover: the default training set."""
    from storm.features import build_samples
    from storm.ingest import read_prices

    prices = read_prices(store, layout)
    if prices.empty:
        raise ValueError(f"no prices under {layout.prices_dir()}; generate a world first (`storm generate`)")
    return build_samples(config, str(prices["date"].min()), str(prices["date"].max()))
