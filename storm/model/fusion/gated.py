"""Gated fusion: per-sample learned weights over the present modalities; the weights explain an alert."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from storm.model.fusion.base import Fusion, masked_softmax
from storm.model.registry import register_fusion


@register_fusion("gated")
class GatedFusion(Fusion):
    """Gate logits from all present embeddings (+ mask); softmax with missing modalities at -inf; weighted sum."""

    def __init__(self, hidden_dim: int, n_modalities: int = 3, dropout: float = 0.1) -> None:
        super().__init__(hidden_dim, n_modalities, dropout)
        self.gate = nn.Sequential(
            nn.Linear(n_modalities * hidden_dim + n_modalities, hidden_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, n_modalities),
        )
        self.value = nn.Linear(hidden_dim, hidden_dim)
        self.norm = nn.LayerNorm(hidden_dim)

    def fuse_present(self, embeddings: Tensor, present: Tensor) -> tuple[Tensor, Tensor]:
        flags = present.to(embeddings.dtype)
        masked = embeddings * flags.unsqueeze(-1)
        weights = masked_softmax(self.gate(torch.cat([masked.flatten(1), flags], dim=1)), present)
        fused = self.norm((weights.unsqueeze(-1) * self.value(masked)).sum(dim=1))
        return fused, weights
