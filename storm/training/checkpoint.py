"""Training checkpoints as safetensors + JSON: no pickle anywhere.

A Ray Train checkpoint directory (one per epoch) holds the current weights, the best weights so far, the
optimizer state, and the training state (epoch, best loss, early-stopping counter, history) to resume from.
Weights are encoded as the published model's are (storm.published.weights).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from storm.published.weights import weights_from_bytes, weights_to_bytes

CURRENT_WEIGHTS = "model.safetensors"
BEST_WEIGHTS = "best_model.safetensors"
OPTIMIZER_TENSORS = "optimizer.safetensors"
TRAINING_STATE = "training_state.json"


def optimizer_to_parts(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state_dict into tensors (safetensors) and plain values (JSON)."""
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, Any] = {"param_groups": state["param_groups"], "state": {}}
    for param_id, slots in state["state"].items():
        plain["state"][str(param_id)] = {}
        for name, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{param_id}.{name}"] = value.detach().to("cpu").contiguous().clone()
            else:
                plain["state"][str(param_id)][name] = value
    return tensors, plain


def optimizer_from_parts(tensors: dict[str, torch.Tensor], plain: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(pid): dict(values) for pid, values in plain["state"].items()}
    for key, value in tensors.items():
        param_id, name = key.split(".", 1)
        state.setdefault(int(param_id), {})[name] = value
    groups = [{key: tuple(value) if isinstance(value, list) and key != "params" else value for key, value in group.items()}
              for group in plain["param_groups"]]  # JSON turned tuples (betas) into lists
    return {"state": state, "param_groups": groups}


@dataclass
class TrainingState:
    """What a resumed attempt needs besides weights: where it was and what it had seen."""

    epochs_done: int = 0
    best_selection: float = float("inf")  # the kept epoch's selection score: validation loss or minus mean AUROC
    best_epoch: int = -1
    epochs_without_improvement: int = 0
    history: list[dict[str, float]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["best_selection"] = None if self.best_selection == float("inf") else self.best_selection
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TrainingState":
        best = data.get("best_selection", data.get("best_val_loss"))  # best_val_loss: checkpoints before storm 0.2
        return cls(epochs_done=int(data["epochs_done"]), best_selection=float("inf") if best is None else float(best),
                   best_epoch=int(data["best_epoch"]), epochs_without_improvement=int(data["epochs_without_improvement"]),
                   history=list(data["history"]))


@dataclass
class CheckpointContents:
    weights: dict[str, torch.Tensor]
    best_weights: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    state: TrainingState


def write_checkpoint_dir(directory: str | Path, contents: CheckpointContents) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CURRENT_WEIGHTS).write_bytes(weights_to_bytes(contents.weights))
    (directory / BEST_WEIGHTS).write_bytes(weights_to_bytes(contents.best_weights))
    tensors, plain = optimizer_to_parts(contents.optimizer)
    (directory / OPTIMIZER_TENSORS).write_bytes(save_safetensors(tensors))
    payload = {"training": contents.state.to_json(), "optimizer": plain}
    (directory / TRAINING_STATE).write_text(json.dumps(payload, indent=1, allow_nan=False))


def read_checkpoint_dir(directory: str | Path) -> CheckpointContents:
    directory = Path(directory)
    payload = json.loads((directory / TRAINING_STATE).read_text())
    return CheckpointContents(
        weights=weights_from_bytes((directory / CURRENT_WEIGHTS).read_bytes()),
        best_weights=weights_from_bytes((directory / BEST_WEIGHTS).read_bytes()),
        optimizer=optimizer_from_parts(load_safetensors((directory / OPTIMIZER_TENSORS).read_bytes()), payload["optimizer"]),
        state=TrainingState.from_json(payload["training"]),
    )


BATCH_STATE = "batch.json"


@dataclass
class BatchCheckpoint:
    """A worker group training several models in turn (one Ray Train start-up for all): each job's contents so far,
    in job order, up to the job in progress. `fingerprints` name the jobs, so a resume never mixes two batches."""

    fingerprints: list[str]
    jobs: list[CheckpointContents]


def job_directory(directory: str | Path, index: int) -> Path:
    return Path(directory) / f"job-{index:03d}"


def write_batch_checkpoint_dir(directory: str | Path, batch: BatchCheckpoint) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for index, contents in enumerate(batch.jobs):
        write_checkpoint_dir(job_directory(directory, index), contents)
    (directory / BATCH_STATE).write_text(json.dumps({"fingerprints": batch.fingerprints, "jobs": len(batch.jobs)}))


def read_batch_checkpoint_dir(directory: str | Path) -> BatchCheckpoint:
    """A batch checkpoint; a checkpoint of one model (storm 0.2.0 and before) reads as a batch of one, unnamed."""
    directory = Path(directory)
    if not (directory / BATCH_STATE).exists():
        return BatchCheckpoint(fingerprints=[], jobs=[read_checkpoint_dir(directory)])
    state = json.loads((directory / BATCH_STATE).read_text())
    return BatchCheckpoint(fingerprints=list(state["fingerprints"]),
                           jobs=[read_checkpoint_dir(job_directory(directory, index)) for index in range(state["jobs"])])
