"""Audio encoder: each recent conference's log-mel through convolutions + GRU, pooled with attention and age.

Input keys: ``audio_mel`` [B, K, n_mels, T] (the K most recent conferences in the window),
``audio_age`` [B, K] (trading days since each, as a fraction of the window), ``audio_valid`` [B, K].
Only real conferences reach the convolutions; a fresh call can weigh more than an old one.
"""

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


class ConvGruMelEncoder(nn.Module):
    """One log-mel [N, n_mels, T] -> 3 conv blocks (T/8 steps) -> GRU -> [last state, mean state] -> hidden_dim."""

    def __init__(self, n_mels: int, hidden_dim: int, dropout: float = 0.1, channels: int = 48) -> None:
        super().__init__()
        self.convs = nn.Sequential(_conv_block(n_mels, channels), _conv_block(channels, channels), _conv_block(channels, channels))
        self.gru = nn.GRU(channels, hidden_dim, batch_first=True)
        self.project = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * hidden_dim, hidden_dim), nn.LayerNorm(hidden_dim))

    def forward(self, mel: Tensor) -> Tensor:
        steps = self.convs(mel.float()).transpose(1, 2)
        states, last = self.gru(steps)
        return self.project(torch.cat([last[-1], states.mean(dim=1)], dim=1))


@register_audio_encoder("conference_pool")
class ConferencePoolEncoder(nn.Module):
    input_keys = ("audio_mel", "audio_age", "audio_valid")

    def __init__(self, n_mels: int, hidden_dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.call = ConvGruMelEncoder(n_mels, hidden_dim, dropout)
        self.age = nn.Linear(1, hidden_dim)
        self.score = nn.Linear(hidden_dim, 1)
        self.norm = nn.LayerNorm(hidden_dim)

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        mel, age, valid = inputs["audio_mel"], inputs["audio_age"].float(), inputs["audio_valid"] > 0.5
        batch, slots = valid.shape
        real = valid.reshape(-1).nonzero().squeeze(1)
        if real.numel() == 0:  # keep every parameter in the graph (DDP) with a zero contribution
            real = torch.zeros(1, dtype=torch.long, device=mel.device)
            valid = valid.clone()
            valid[0, 0] = True
            scale = 0.0
        else:
            scale = 1.0
        encoded = self.call(mel.reshape(batch * slots, *mel.shape[2:])[real]) * scale
        calls = encoded.new_zeros(batch * slots, encoded.shape[1]).index_copy(0, real, encoded).reshape(batch, slots, -1)
        calls = calls + self.age(age.unsqueeze(-1))
        logits = self.score(torch.tanh(calls)).squeeze(-1).masked_fill(~valid, float("-inf"))
        weights = torch.softmax(logits.masked_fill(~valid.any(dim=1, keepdim=True), 0.0), dim=1) * valid
        return self.norm((weights.unsqueeze(-1) * calls).sum(dim=1))
