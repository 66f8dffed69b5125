"""Audio encoder: log-mel -> strided 1-D convolutions over time -> GRU -> hidden_dim."""

from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor, nn

from storm.model.registry import register_audio_encoder


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """Halves the time axis; mel bands are the input channels."""
    return nn.Sequential(
        nn.Conv1d(in_channels, out_channels, kernel_size=5, stride=2, padding=2, bias=False),
        nn.BatchNorm1d(out_channels),
        nn.GELU(),
    )


@register_audio_encoder("conv_gru")
class ConvGruAudioEncoder(nn.Module):
    """``audio_mel`` [B, n_mels, T] -> 3 conv blocks (T/8 steps) -> GRU -> [last state, mean state] -> hidden_dim."""

    input_keys = ("audio_mel",)

    def __init__(self, n_mels: int, hidden_dim: int, dropout: float = 0.1, channels: int = 64) -> None:
        super().__init__()
        self.convs = nn.Sequential(_conv_block(n_mels, channels), _conv_block(channels, channels), _conv_block(channels, channels))
        self.gru = nn.GRU(channels, hidden_dim, batch_first=True)
        self.project = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * hidden_dim, hidden_dim), nn.LayerNorm(hidden_dim))

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        steps = self.convs(inputs["audio_mel"].float()).transpose(1, 2)  # [B, T/8, channels]
        states, last = self.gru(steps)
        return self.project(torch.cat([last[-1], states.mean(dim=1)], dim=1))
