"""Inference in plain PyTorch: a batch's model inputs on the device, bf16 autocast, raw outputs as numpy.

The same passes serve a published model (storm.published.predictor), the explanations (storm.explain) and
training's validation (storm.training): ``batches`` is any iterable of dicts of arrays/tensors with the
model's window inputs (storm.features.windows.WINDOW_INPUT_KEYS). No Ray here.
"""

from __future__ import annotations

import contextlib
from typing import Iterable, Mapping

import numpy as np
import torch

from storm.features.windows import WINDOW_INPUT_KEYS
from storm.schema import FWD_VOL, storm_column

MODEL_INPUT_KEYS = WINDOW_INPUT_KEYS


def model_inputs(batch: Mapping[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """The batch's model inputs as float32 tensors on ``device``; labels and other keys stay behind."""
    return {key: torch.as_tensor(batch[key]).to(device, non_blocking=True).float() for key in MODEL_INPUT_KEYS}


def batch_labels(batch: Mapping[str, torch.Tensor], horizons: list[int], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Storm labels [B, H] and forward log-vol [B], float32, NaN where unknown."""
    storms = torch.stack([torch.as_tensor(batch[storm_column(h)]).float() for h in horizons], dim=1)
    return storms.to(device), torch.as_tensor(batch[FWD_VOL]).float().to(device)


def autocast_context(device: torch.device, autocast_dtype: torch.dtype | None):
    """bf16 autocast when asked (GPU by default; CPU in tests), else a no-op."""
    if autocast_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=autocast_dtype)


@torch.no_grad()
def predict(model: torch.nn.Module, batches: Iterable[Mapping[str, torch.Tensor]], horizons: list[int] | None = None,
            autocast_dtype: torch.dtype | None = None, device: torch.device | None = None) -> dict[str, np.ndarray]:
    """Raw model outputs as numpy: storm_logits [N, H], log_vol [N], modality_weights [N, 3];
    with `horizons`, also the batches' labels storm_labels [N, H] and vol_labels [N]."""
    device = device or torch.device("cpu")
    model.eval()
    parts: dict[str, list[np.ndarray]] = {"storm_logits": [], "log_vol": [], "modality_weights": []}
    if horizons is not None:
        parts.update(storm_labels=[], vol_labels=[])
    for batch in batches:
        with autocast_context(device, autocast_dtype):
            output = model(model_inputs(batch, device))
        for name in ("anchor_logits", "full_logits"):
            if getattr(output, name) is not None:
                parts.setdefault(name, []).append(getattr(output, name).float().cpu().numpy())
        parts["storm_logits"].append(output.storm_logits.float().cpu().numpy())
        parts["log_vol"].append(output.log_vol.float().cpu().numpy())
        parts["modality_weights"].append(output.modality_weights.float().cpu().numpy())
        if horizons is not None:
            storms, vols = batch_labels(batch, horizons, torch.device("cpu"))
            parts["storm_labels"].append(storms.numpy())
            parts["vol_labels"].append(vols.numpy())
    return {key: np.concatenate(values) if values else np.zeros((0,), np.float32) for key, values in parts.items()}
