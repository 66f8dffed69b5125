"""The multi-task loss: storm classification per horizon + forward volatility regression.

Labels near the end of the data are NaN (the future is unknown) and are
masked out, not filled. Storms are rare, so each horizon's positives are
up-weighted by the training set's negative/positive ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

MAX_POS_WEIGHT = 100.0  # a horizon with a handful of storms must not swamp the rest


def pos_weights_from_labels(storm_labels: np.ndarray) -> list[float]:
    """Negative/positive ratio per horizon (columns of [N, H]), NaNs ignored; 1.0 where a class is absent."""
    weights = []
    for column in np.asarray(storm_labels, dtype=np.float64).T:
        known = column[~np.isnan(column)]
        positives = float((known > 0.5).sum())
        negatives = float(len(known) - positives)
        weights.append(float(np.clip(negatives / positives, 1.0, MAX_POS_WEIGHT)) if positives and negatives else 1.0)
    return weights


@dataclass(frozen=True)
class LossParts:
    total: torch.Tensor
    storm: torch.Tensor
    volatility: torch.Tensor


class StormLoss:
    """Masked BCE-with-logits per horizon (with pos_weight) + masked volatility MSE, weighted."""

    def __init__(self, pos_weights: list[float], storm_weight: float = 1.0, volatility_weight: float = 0.5):
        self.pos_weights = torch.tensor(pos_weights, dtype=torch.float32)
        self.storm_weight = storm_weight
        self.volatility_weight = volatility_weight

    def __call__(self, storm_logits: torch.Tensor, log_vol: torch.Tensor,
                 storm_labels: torch.Tensor, vol_labels: torch.Tensor,
                 sample_weight: torch.Tensor | None = None) -> LossParts:
        """``sample_weight`` [B]: per-row importance weights (storm.training.sampling); None weighs rows equally."""
        storm = masked_bce(storm_logits.float(), storm_labels.float(), self.pos_weights.to(storm_logits.device),
                           sample_weight)
        volatility = masked_mse(log_vol.float(), vol_labels.float(), sample_weight)
        total = self.storm_weight * storm + self.volatility_weight * volatility
        return LossParts(total=total, storm=storm, volatility=volatility)


    def storm_term(self, storm_logits: torch.Tensor, storm_labels: torch.Tensor,
                   sample_weight: torch.Tensor | None = None) -> torch.Tensor:
        """The weighted storm part alone (for a second set of logits from the same model, e.g. its anchor)."""
        return self.storm_weight * masked_bce(storm_logits.float(), storm_labels.float(),
                                              self.pos_weights.to(storm_logits.device), sample_weight)


def masked_bce(logits: torch.Tensor, labels: torch.Tensor, pos_weight: torch.Tensor,
               sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    """(Row-weighted) mean BCE over known labels only ([B, H]); zero (still in the graph) when none is known."""
    known = ~torch.isnan(labels)
    per_item = F.binary_cross_entropy_with_logits(
        logits, torch.where(known, labels, torch.zeros_like(labels)), pos_weight=pos_weight, reduction="none"
    )
    return _weighted_mean(per_item, known, sample_weight)


def masked_mse(predicted: torch.Tensor, target: torch.Tensor, sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    known = ~torch.isnan(target)
    squared = (predicted - torch.where(known, target, predicted.detach())) ** 2
    return _weighted_mean(squared, known, sample_weight)


def _weighted_mean(values: torch.Tensor, known: torch.Tensor, sample_weight: torch.Tensor | None) -> torch.Tensor:
    """Sum of w * value over known entries / sum of w over them; a row's weight spans its horizons."""
    weight = known.float()
    if sample_weight is not None:
        weight = weight * sample_weight.to(values.device).float().reshape(-1, *([1] * (values.dim() - 1)))
    return (values * weight).sum() / weight.sum().clamp(min=1e-12)  # 0, still in the graph, when nothing is known
