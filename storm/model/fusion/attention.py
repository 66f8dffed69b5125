"""Attention fusion: a small pre-norm transformer over modality tokens plus a CLS token."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from storm.model.fusion.base import Fusion
from storm.model.registry import register_fusion


class _Block(nn.Module):
    """Pre-norm transformer block that also returns its head-averaged attention map."""

    def __init__(self, hidden_dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_dim)
        self.attention = nn.MultiheadAttention(hidden_dim, heads, batch_first=True)  # no attention dropout: weights explain
        self.norm2 = nn.LayerNorm(hidden_dim)
        self.mlp = nn.Sequential(nn.Linear(hidden_dim, 2 * hidden_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * hidden_dim, hidden_dim))

    def forward(self, tokens: Tensor, padding: Tensor) -> tuple[Tensor, Tensor]:
        normed = self.norm1(tokens)
        attended, attention = self.attention(
            normed, normed, normed, key_padding_mask=padding, need_weights=True, average_attn_weights=True
        )
        tokens = tokens + attended
        return tokens + self.mlp(self.norm2(tokens)), attention


@register_fusion("attention")
class AttentionFusion(Fusion):
    """Tokens = embedding + learned modality embedding; missing modalities are key-padding.

    The CLS token is never padded, so a row with no modality stays finite. modality_weights are the last
    block's CLS attention over the modality tokens (head-averaged), renormalised over present ones.
    """

    def __init__(self, hidden_dim: int, n_modalities: int = 3, dropout: float = 0.1, layers: int = 2, heads: int = 4) -> None:
        super().__init__(hidden_dim, n_modalities, dropout)
        heads = heads if hidden_dim % heads == 0 else 1
        self.modality_embedding = nn.Parameter(torch.randn(n_modalities, hidden_dim) * 0.02)
        self.cls = nn.Parameter(torch.randn(hidden_dim) * 0.02)
        self.blocks = nn.ModuleList(_Block(hidden_dim, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(hidden_dim)

    def fuse_present(self, embeddings: Tensor, present: Tensor) -> tuple[Tensor, Tensor]:
        batch = embeddings.shape[0]
        tokens = torch.cat([self.cls.expand(batch, 1, -1), embeddings + self.modality_embedding], dim=1)
        padding = torch.cat([present.new_zeros(batch, 1), ~present], dim=1)
        attention = tokens.new_zeros(batch, tokens.shape[1], tokens.shape[1])
        for block in self.blocks:
            tokens, attention = block(tokens, padding)
        return self.norm(tokens[:, 0]), attention[:, 0, 1:]
