"""`train_loop_per_worker`: what each Ray Train worker runs. Trains only.

The evidence panel arrives once per worker from the object store; each epoch
a seeded permutation of the training rows is cut into equal per-rank shares and
windows are gathered from the panel batch by batch (storm.features.windows), so
the same seed and worker count give the same run. The model is built from
config, epochs run through the plain-PyTorch loop (storm.training.loop). Every
epoch: validation metrics gathered from all workers, one `ray.train.report` per
rank, a checkpoint from rank 0. A restarted worker group resumes from
`ray.train.get_checkpoint()`.

One worker group can train several models in turn (an evaluation's fold models):
Ray Train's start-up, tens of seconds on a small machine, is then paid once. The
checkpoint holds every job's state so far; a resumed group skips finished jobs.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import ray.train
import ray.train.torch
import torch
import torch.distributed as dist

from storm.config import StormConfig
from storm.features.evidence_panel import EvidencePanel
from storm.features.windows import batches_of_rows
from storm.model import build_model, load_anchor_weights, load_encoder_weights
from storm.training.checkpoint import (BatchCheckpoint, CheckpointContents, TrainingState, read_batch_checkpoint_dir,
                                      write_batch_checkpoint_dir)
from storm.published.inference import predict
from storm.training.loop import SAMPLE_WEIGHT, evaluation_loss, evidence_weight_choice, train_epoch
from storm.training.losses import StormLoss
from storm.training.sampling import EpochRows, epoch_rows
from storm.training.selection import SelectionRule


@dataclass(frozen=True)
class FailOnce:
    """A fault drill: the first worker to reach `epoch` (of `run`, default any) raises, once per marker file
    (for resume tests and game days)."""

    marker: str
    epoch: int
    run: str | None = None

    def __call__(self, run: str, epoch: int) -> None:
        if epoch != self.epoch or self.run not in (None, run):
            return
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        raise RuntimeError(f"injected failure at epoch {epoch} (fault drill, marker {self.marker})")


def train_loop_per_worker(loop_config: dict[str, Any]) -> None:
    """Train each of ``loop_config["jobs"]`` in turn in this one worker group; jobs a resumed batch finished are
    skipped, the job in progress resumes from its last epoch."""
    panel = ray.get(loop_config["panel"])
    jobs = loop_config["jobs"]
    fingerprints = [job["fingerprint"] for job in jobs]
    trained = _resumed_jobs(fingerprints)
    for index, job in enumerate(jobs):
        config = StormConfig.model_validate(job["config"])
        resumed = trained[index] if index < len(trained) else None
        if resumed is not None and job_finished(resumed.state, config.train):
            continue

        def report(metrics: dict[str, Any], contents: CheckpointContents, earlier=tuple(trained[:index])) -> None:
            _report({"run": config.train.run_name, "job": index, **metrics},
                    BatchCheckpoint(fingerprints, [*earlier, contents]))

        anchor = (trained[job["anchor_job"]].best_weights if job.get("anchor_job") is not None
                  else job.get("anchor_weights"))
        contents = _train_job(panel, config, job, resumed, loop_config.get("fault"), report, anchor)
        trained[index:index + 1] = [contents]


def job_finished(state: TrainingState, train) -> bool:
    """Every epoch run, or early stopping reached: nothing left to resume."""
    return state.epochs_done >= train.epochs or state.epochs_without_improvement >= train.early_stopping_patience


def _train_job(panel: EvidencePanel, config: StormConfig, job: dict[str, Any], resumed: CheckpointContents | None, fault,
               report: Callable[[dict[str, Any], CheckpointContents], None],
               anchor_weights: dict | None = None) -> CheckpointContents:
    """One model's epochs, from scratch or from ``resumed``; returns its last checkpoint contents.

    ``anchor_weights``: the trained prices-only model a fused model is anchored on (model.anchored_fusion)."""
    horizons, train = config.labels.horizons, config.train
    context = ray.train.get_context()
    rank, world_size = context.get_world_rank(), context.get_world_size()
    torch.manual_seed(train.seed * 1000 + rank)
    device = ray.train.torch.get_device()
    autocast_dtype = torch.bfloat16 if device.type == "cuda" else None
    model = build_model(config.model, config.features, horizons)
    anchored = model.anchor_model is not None  # only an anchored model blends: evidence_weight means nothing else
    if anchored:
        if anchor_weights is None:
            raise RuntimeError(f"{config.train.run_name} is anchored on a prices-only model, and none was trained "
                               "before it (storm.training.trainer orders the anchor first)")
        load_anchor_weights(model, anchor_weights)
    if job.get("init_weights") is not None:
        load_encoder_weights(model, job["init_weights"], freeze=train.freeze_encoders)
    model = ray.train.torch.prepare_model(model)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=train.learning_rate, weight_decay=train.weight_decay)
    loss_fn = StormLoss(job["pos_weights"], train.storm_loss_weight, train.volatility_loss_weight)
    state, best_weights = _resume(unwrap(model), optimizer, resumed)
    attempt_start = state.epochs_done
    validation_rows = np.asarray(job["validation_rows"])[rank::world_size]
    rule = SelectionRule.from_json(job["selection"])  # episodes counted on the whole validation set by the trainer
    auroc_columns = rule.auroc_columns(horizons)
    contents = CheckpointContents(unwrap(model).state_dict(), best_weights, optimizer.state_dict(), state)
    for epoch in range(state.epochs_done, train.epochs):
        if fault is not None:
            fault(config.train.run_name, epoch)
        mine = epoch_rows(job["train_rows"], job.get("calm_adjacent"), train.calm_fraction, train.seed,
                          epoch).share(rank, world_size)
        stats = train_epoch(model, weighted_batches(panel, mine, train.batch_size), optimizer, loss_fn, horizons,
                            autocast_dtype, device)
        outputs = _gather(predict(model, batches_of_rows(panel, validation_rows, train.batch_size),
                                  horizons, autocast_dtype, device))
        val_loss = evaluation_loss(outputs, loss_fn)
        evidence_weight, aurocs = evidence_weight_choice(outputs, auroc_columns=auroc_columns, loss_fn=loss_fn)
        selection = rule.score(val_loss, aurocs, horizons)
        improved = selection < state.best_selection
        if improved:
            state.best_selection, state.best_epoch, state.epochs_without_improvement = selection, epoch, 0
            best_weights = _snapshot(unwrap(model))
            best_weights["evidence_weight"] = torch.tensor(float(evidence_weight))  # the published blend
        else:
            state.epochs_without_improvement += 1
        metrics = {
            "epoch": epoch, "loss": _sum_over_workers(stats.loss * stats.n_samples) / max(_sum_over_workers(stats.n_samples), 1),
            "val_loss": val_loss, **{f"val_auroc_{h}d": auroc for h, auroc in zip(horizons, aurocs)},
            **({"evidence_weight": evidence_weight} if anchored else {}), "selection": rule.criterion(),
            "samples_per_second": _sum_over_workers(stats.samples_per_second), "epoch_seconds": stats.seconds,
            "attempt_start_epoch": attempt_start,
        }
        state.history.append({key: _finite_or_none(value) for key, value in metrics.items()})
        state.epochs_done = epoch + 1
        contents = CheckpointContents(_snapshot(unwrap(model)), best_weights, optimizer.state_dict(), state)
        report(metrics, contents)
        if job_finished(state, train):  # early stopping: the same rule a resumed group skips finished jobs by
            break
    return contents


def weighted_batches(panel: EvidencePanel, epoch: EpochRows, batch_size: int):
    """Windows of the epoch's rows in order, each batch with its rows' loss weights."""
    for offset, batch in zip(range(0, len(epoch.rows), batch_size), batches_of_rows(panel, epoch.rows, batch_size)):
        batch[SAMPLE_WEIGHT] = epoch.weights[offset:offset + batch_size]
        yield batch


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside DDP (what gets saved: no `module.` prefix)."""
    return getattr(model, "module", model)


def _resumed_jobs(fingerprints: list[str]) -> list[CheckpointContents]:
    """What the last checkpoint of this batch holds, job by job ([] on a first attempt)."""
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is None:
        return []
    with checkpoint.as_directory() as directory:
        batch = read_batch_checkpoint_dir(directory)
    if batch.fingerprints and batch.fingerprints != fingerprints[:len(batch.fingerprints)]:
        raise RuntimeError(f"the checkpoint this training resumes from ({checkpoint.path}) was written for other "
                           "models; train under a new run name or delete that run's checkpoints")
    return list(batch.jobs)


def _resume(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
            resumed: CheckpointContents | None) -> tuple[TrainingState, dict]:
    if resumed is None:
        return TrainingState(), _snapshot(model)
    try:
        model.load_state_dict(resumed.weights)
        optimizer.load_state_dict(resumed.optimizer)
    except (RuntimeError, ValueError) as err:
        raise RuntimeError(f"the checkpoint this run resumes from was written by a different model config ({err}); "
                           "train under a new run name or delete that run's checkpoints") from None
    return resumed.state, resumed.best_weights


def _snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the weights now (state_dict() alone aliases the live tensors)."""
    return {key: value.detach().to("cpu", copy=True) for key, value in model.state_dict().items()}


def _report(metrics: dict[str, Any], batch: BatchCheckpoint) -> None:
    """Every rank reports; only rank 0 attaches the checkpoint."""
    if ray.train.get_context().get_world_rank() != 0:
        ray.train.report(metrics)
        return
    with tempfile.TemporaryDirectory() as directory:
        write_batch_checkpoint_dir(directory, batch)
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(directory))


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _gather(outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every worker's validation predictions, concatenated, on every worker (same metrics everywhere)."""
    if not _distributed():
        return outputs
    gathered: list[dict[str, np.ndarray]] = [None] * dist.get_world_size()  # type: ignore[list-item]
    dist.all_gather_object(gathered, outputs)
    parts = [part for part in gathered if len(part["log_vol"])]
    return {key: np.concatenate([part[key] for part in parts]) for key in outputs} if parts else outputs


def _sum_over_workers(value: float) -> float:
    if not _distributed():
        return float(value)
    values: list[float] = [0.0] * dist.get_world_size()
    dist.all_gather_object(values, float(value))  # object collectives work on gloo and nccl alike
    return float(sum(values))


def _finite_or_none(value: float) -> float | None:
    return None if isinstance(value, float) and not math.isfinite(value) else value
