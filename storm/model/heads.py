"""Heads on the fused embedding: storm logit per horizon and, read off without training the trunk, forward log volatility.

The storm head is coherent by construction. It predicts a non-negative hazard for each
horizon interval (0, h_1], (h_1, h_2], ... and cumulates them, so the cumulative hazard
Λ_j = Σ_{k≤j} λ_k never falls with the horizon and neither does P(storm ≤ h_j) = 1 − exp(−Λ_j).
It still returns logits, logit(1 − e^{−Λ}) = log(expm1(Λ)), so BCE-with-logits per horizon
trains it as before, and sigmoid(logit_j) is non-decreasing in j for every input and weight.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

MIN_CUMULATIVE_HAZARD = 1e-6  # P ≥ ~1e-6: keeps logits finite and gradients bounded when hazards vanish
INITIAL_INTERVAL_HAZARD = 0.03  # a rare-event prior at init: P(≤ h_1) ≈ 3%, growing ≈ 3 points per interval


def logit_of_cumulative_hazard(cumulative_hazard: Tensor) -> Tensor:
    """logit(1 − e^{−Λ}) = log(expm1(Λ)), stable for small Λ (→ log Λ) and large Λ (→ Λ)."""
    small = cumulative_hazard < 20.0
    safe_small = torch.where(small, cumulative_hazard, torch.ones_like(cumulative_hazard))
    return torch.where(small, torch.log(torch.expm1(safe_small)),
                       cumulative_hazard + torch.log1p(-torch.exp(-cumulative_hazard)))


class StormHeads(nn.Module):
    """Shared trunk, then ``storm_logits`` [B, n_horizons] (pre-sigmoid, coherent) and ``log_vol`` [B]."""

    def __init__(self, hidden_dim: int, n_horizons: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(hidden_dim, hidden_dim), nn.GELU(), nn.Dropout(dropout))
        self.interval_hazard = nn.Linear(hidden_dim, n_horizons)  # pre-softplus hazard per horizon interval
        self.volatility = nn.Linear(hidden_dim, 1)
        with torch.no_grad():  # softplus(bias) = the prior hazard: training starts near rare-event base rates
            self.interval_hazard.bias.fill_(math.log(math.expm1(INITIAL_INTERVAL_HAZARD)))

    def cumulative_hazard(self, shared: Tensor) -> Tensor:
        """Λ [B, H]: softplus interval hazards cumulated over horizons, floored at MIN_CUMULATIVE_HAZARD."""
        return torch.cumsum(F.softplus(self.interval_hazard(shared)), dim=-1) + MIN_CUMULATIVE_HAZARD

    def forward(self, fused: Tensor) -> tuple[Tensor, Tensor]:
        shared = self.trunk(fused)
        # The volatility head reads the storm trunk but does not train it: as a shared task it moved the
        # representation without helping the storm scores (docs/MODEL.md, "The volatility head").
        return logit_of_cumulative_hazard(self.cumulative_hazard(shared)), self.volatility(shared.detach()).squeeze(-1)
