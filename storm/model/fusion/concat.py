"""Concat fusion: the baseline; masked embeddings and the mask itself through an MLP."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from storm.model.fusion.base import Fusion
from storm.model.registry import register_fusion


@register_fusion("concat")
class ConcatFusion(Fusion):
    """Missing embeddings are zeroed AND flagged by the appended mask, so the MLP can tell absent from zero.

    It learns no per-sample weights: modality_weights are equal over present modalities.
    """

    def __init__(self, hidden_dim: int, n_modalities: int = 3, dropout: float = 0.1) -> None:
        super().__init__(hidden_dim, n_modalities, dropout)
        self.mlp = nn.Sequential(
            nn.Linear(n_modalities * hidden_dim + n_modalities, hidden_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, hidden_dim),
            nn.LayerNorm(hidden_dim),
        )

    def fuse_present(self, embeddings: Tensor, present: Tensor) -> tuple[Tensor, Tensor]:
        flags = present.to(embeddings.dtype)
        masked = embeddings * flags.unsqueeze(-1)
        fused = self.mlp(torch.cat([masked.flatten(1), flags], dim=1))
        return fused, flags
