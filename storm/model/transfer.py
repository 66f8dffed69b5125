"""Transfer: start a model from the encoders of one trained on another market set."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from torch import Tensor

from storm.model.storm_model import StormModel

ENCODER_PREFIX = "encoders."
DDP_PREFIX = "module."


@dataclass
class TransferReport:
    """Which encoder tensors were copied, which were not and why, and which encoders were frozen."""

    loaded: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # key -> reason
    frozen_encoders: list[str] = field(default_factory=list)


def load_encoder_weights(model: StormModel, state_dict: Mapping[str, Tensor], freeze: bool = False) -> TransferReport:
    """Copy every ``encoders.*`` tensor whose name and shape match; optionally freeze the encoders that got weights.

    Fusion and heads are left as initialised: they are tied to the new task's horizons and market mix.
    A DDP ``module.`` prefix in ``state_dict`` is accepted. Frozen encoders get requires_grad False and
    stay in eval mode (BatchNorm statistics frozen too).
    """
    own = model.state_dict()
    report = TransferReport()
    matched: dict[str, Tensor] = {}
    for raw_key, tensor in state_dict.items():
        key = raw_key[len(DDP_PREFIX):] if raw_key.startswith(DDP_PREFIX) else raw_key
        if not key.startswith(ENCODER_PREFIX):
            continue
        reason = _mismatch(key, tensor, own)
        if reason:
            report.skipped[key] = reason
        else:
            matched[key] = tensor
    model.load_state_dict(matched, strict=False)
    report.loaded = sorted(matched)
    if freeze:
        report.frozen_encoders = sorted({key.split(".")[1] for key in matched})
        _freeze(model, report.frozen_encoders)
    return report


def _mismatch(key: str, tensor: Tensor, own: Mapping[str, Tensor]) -> str | None:
    if key not in own:
        return "not in this model (encoder or modality not built)"
    if own[key].shape != tensor.shape:
        return f"shape {tuple(tensor.shape)} != this model's {tuple(own[key].shape)}"
    return None


def _freeze(model: StormModel, encoder_names: list[str]) -> None:
    for name in encoder_names:
        for parameter in model.encoders[name].parameters():
            parameter.requires_grad_(False)
        model.frozen_encoders.add(name)
    model.train(model.training)
