"""Model weights as safetensors bytes and back: the one encoding of published weights and training checkpoints.

No pickle: a published version or a checkpoint holds tensors and JSON only.
"""

from __future__ import annotations

import hashlib

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors


def weights_to_bytes(state_dict: dict[str, torch.Tensor]) -> bytes:
    """safetensors bytes of a state dict (copied to CPU, contiguous, unshared)."""
    return save_safetensors({key: value.detach().to("cpu").contiguous().clone() for key, value in state_dict.items()})


def weights_from_bytes(payload: bytes) -> dict[str, torch.Tensor]:
    return load_safetensors(payload)


def weights_version(payload: bytes) -> str:
    """A short content hash of the weights: the model version scores and metrics carry."""
    return hashlib.sha256(payload).hexdigest()[:12]
