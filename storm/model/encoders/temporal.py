"""A masked GRU over days: the temporal encoder every windowed modality shares.

Fragility moves over weeks, so an encoder reads the window's days oldest first
and summarises them as [last state, mean over real days]; days before a
market's history began are masked out of the mean and fed as zeros.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class MaskedDayGru(nn.Module):
    """[B, W, in_dim] x valid [B, W] -> [B, out_dim]."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.gru = nn.GRU(in_dim, hidden_dim, batch_first=True)
        self.project = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * hidden_dim, out_dim), nn.LayerNorm(out_dim))

    def forward(self, days: Tensor, valid: Tensor) -> Tensor:
        valid = valid.float()
        states, last = self.gru(days * valid.unsqueeze(-1))
        mean = (states * valid.unsqueeze(-1)).sum(dim=1) / valid.sum(dim=1, keepdim=True).clamp(min=1.0)
        return self.project(torch.cat([last[-1], mean], dim=1))
