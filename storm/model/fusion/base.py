"""What every fusion shares: the contract and the learned "nothing present" embedding."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Fusion(nn.Module):
    """Base of every fusion.

    ``forward(embeddings [B, n, H], mask [B, n] float 1/0) -> (fused [B, H], weights [B, n])``:
    weights are 0 on missing modalities and sum to 1 over present ones (all 0 when none is present).
    A sample with no modality present gets the learned ``nothing`` embedding, never NaN.
    Subclasses implement ``fuse_present`` and need not care about all-missing rows.
    """

    def __init__(self, hidden_dim: int, n_modalities: int = 3, dropout: float = 0.1) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        self.n_modalities = n_modalities
        self.nothing = nn.Parameter(torch.zeros(hidden_dim))
        nn.init.normal_(self.nothing, std=0.02)

    def fuse_present(self, embeddings: Tensor, present: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def forward(self, embeddings: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        present = mask > 0.5
        fused, weights = self.fuse_present(embeddings, present)
        weights = weights * present
        weights = weights / weights.sum(dim=1, keepdim=True).clamp(min=1e-12)
        empty = ~present.any(dim=1, keepdim=True)
        fused = torch.where(empty, self.nothing.expand_as(fused), fused)
        return fused, weights


def masked_softmax(logits: Tensor, present: Tensor) -> Tensor:
    """Softmax over present entries only; rows with nothing present give zeros instead of NaN."""
    any_present = present.any(dim=1, keepdim=True)
    safe = logits.masked_fill(~present, float("-inf")).masked_fill(~any_present, 0.0)
    return torch.softmax(safe, dim=1) * any_present
