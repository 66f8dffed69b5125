"""Which modalities a sample really has, and modality dropout while training (pure tensor logic)."""

from __future__ import annotations

import torch
from torch import Tensor


def present_modalities(mask: Tensor, enabled: Tensor, text_count: Tensor | None = None) -> Tensor:
    """Bool [B, n]: the batch's ``modality_mask`` AND the model's enabled modalities.

    Text (column 0) also needs at least one headline: a text flag with ``text_count == 0`` is treated as missing.
    """
    present = (mask > 0.5) & enabled[None, :]
    if text_count is not None:
        present = present.clone()
        present[:, 0] &= text_count.reshape(-1) > 0
    return present


def drop_modalities(present: Tensor, probability: float, generator: torch.Generator | None = None) -> Tensor:
    """Drop each present modality with ``probability``, but keep at least one per sample that had any.

    Teaches the fusion to cope with whatever subset a real day brings.
    """
    if probability <= 0:
        return present
    draws = torch.rand(present.shape, device=present.device, generator=generator)
    kept = present & (draws >= probability)
    emptied = present.any(dim=1) & ~kept.any(dim=1)
    # for emptied rows, keep the present modality with the highest draw (a uniform pick among present ones)
    rescue = draws.masked_fill(~present, -1.0).argmax(dim=1)
    kept[emptied, rescue[emptied]] = True
    return kept
