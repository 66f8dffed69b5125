"""Multi-task heads on the fused embedding: storm logit per horizon and forward log volatility."""

from __future__ import annotations

from torch import Tensor, nn


class StormHeads(nn.Module):
    """Shared trunk, then ``storm_logits`` [B, n_horizons] (pre-sigmoid) and ``log_vol`` [B]."""

    def __init__(self, hidden_dim: int, n_horizons: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(hidden_dim, hidden_dim), nn.GELU(), nn.Dropout(dropout))
        self.storm = nn.Linear(hidden_dim, n_horizons)
        self.volatility = nn.Linear(hidden_dim, 1)

    def forward(self, fused: Tensor) -> tuple[Tensor, Tensor]:
        shared = self.trunk(fused)
        return self.storm(shared), self.volatility(shared).squeeze(-1)
