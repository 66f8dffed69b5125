"""The training loop in plain PyTorch: one epoch of training, the validation loss, the evidence weight's choice.

No Ray here: `batches` is any iterable of dicts of arrays/tensors with the
model's window inputs (storm.features.windows.WINDOW_INPUT_KEYS) and the label
columns, so the loop runs the same under Ray Train, in a unit test or in a notebook. Prediction is the published
model's (storm.published.inference).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from storm.model.storm_model import EVIDENCE_WEIGHTS
from storm.published.inference import autocast_context, batch_labels, model_inputs
from storm.training.losses import StormLoss

SAMPLE_WEIGHT = "sample_weight"  # optional batch key: per-row loss weights [B]


@dataclass(frozen=True)
class EpochStats:
    loss: float
    n_samples: int
    seconds: float

    @property
    def samples_per_second(self) -> float:
        return self.n_samples / self.seconds if self.seconds > 0 else 0.0


def train_epoch(model: torch.nn.Module, batches: Iterable[Mapping[str, torch.Tensor]], optimizer: torch.optim.Optimizer,
                loss_fn: StormLoss, horizons: list[int], autocast_dtype: torch.dtype | None = None,
                device: torch.device | None = None) -> EpochStats:
    """One pass over `batches`; returns the sample-weighted mean loss."""
    device = device or torch.device("cpu")
    model.train()
    started, total, count = time.perf_counter(), 0.0, 0
    for batch in batches:
        inputs = model_inputs(batch, device)
        storms, vols = batch_labels(batch, horizons, device)
        weights = batch.get(SAMPLE_WEIGHT)  # importance weights of sampled calm rows (storm.training.sampling)
        weights = None if weights is None else torch.as_tensor(weights).to(device).float()
        with autocast_context(device, autocast_dtype):
            output = model(inputs)
        loss = loss_fn(output.storm_logits, output.log_vol, storms, vols, weights).total
        if output.anchor_logits is not None:  # the anchor alone learns to score too (fusion never below prices)
            loss = loss + loss_fn.storm_term(output.anchor_logits, storms, weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        size = len(vols)
        total, count = total + float(loss.detach()) * size, count + size
    return EpochStats(loss=total / max(count, 1), n_samples=count, seconds=time.perf_counter() - started)


def evaluation_loss(outputs: Mapping[str, np.ndarray], loss_fn: StormLoss) -> float:
    """The loss on predictions from `predict(..., horizons=...)`, for validation and early stopping."""
    if len(outputs["log_vol"]) == 0:
        return float("nan")
    parts = loss_fn(*(torch.from_numpy(outputs[key]) for key in ("storm_logits", "log_vol", "storm_labels", "vol_labels")))
    return float(parts.total)


def evidence_weight_choice(outputs: dict[str, np.ndarray], weights=EVIDENCE_WEIGHTS, auroc_columns: list[int] | None = None,
                           loss_fn: StormLoss | None = None) -> tuple[float, list[float]]:
    """The blend anchor + w * (full - anchor) validation ranks best, and its per-horizon AUROCs.

    Ranked by the mean AUROC over `auroc_columns` (None: every horizon); with none (too few validation storm
    episodes anywhere, storm.training.selection), by the validation storm loss of the blended logits, the storm
    part of the loss the model trains with (`loss_fn`; unweighted BCE without one). Ties go to the smaller weight:
    evidence beyond prices must earn its place on data the model did not fit. Without anchor outputs (a
    single-modality model) the weight is 1.
    """
    if "anchor_logits" not in outputs or "full_logits" not in outputs:
        return 1.0, horizon_aurocs(outputs)
    columns = list(range(outputs["storm_labels"].shape[1])) if auroc_columns is None else list(auroc_columns)
    best = None
    for weight in weights:
        blended = outputs["anchor_logits"] + weight * (outputs["full_logits"] - outputs["anchor_logits"])
        aurocs = horizon_aurocs({**outputs, "storm_logits": blended})
        defined = [aurocs[column] for column in columns if np.isfinite(aurocs[column])]
        score = float(np.mean(defined)) if defined else -storm_log_loss(blended, outputs["storm_labels"], loss_fn)
        if best is None or score > best[0] + 1e-9:
            best = (score, weight, aurocs)
    return best[1], best[2]


def storm_log_loss(logits: np.ndarray, labels: np.ndarray, loss_fn: StormLoss | None = None) -> float:
    """The storm part of the training loss on known labels (BCE of sigmoid(logit)); +inf where none is known."""
    labels = np.asarray(labels, dtype=np.float32)
    if not np.any(~np.isnan(labels)):
        return float("inf")
    loss_fn = loss_fn or StormLoss([1.0] * labels.shape[1])
    return float(loss_fn.storm_term(torch.from_numpy(np.asarray(logits, dtype=np.float32)), torch.from_numpy(labels)))


def horizon_aurocs(outputs: dict[str, np.ndarray]) -> list[float]:
    """Validation AUROC per horizon (NaN where one class is missing)."""
    aurocs = []
    for column in range(outputs["storm_labels"].shape[1] if outputs["storm_labels"].ndim == 2 else 0):
        labels, logits = outputs["storm_labels"][:, column], outputs["storm_logits"][:, column]
        known = ~np.isnan(labels)
        defined = len(np.unique(labels[known])) == 2
        aurocs.append(float(roc_auc_score(labels[known], logits[known])) if defined else float("nan"))
    return aurocs
