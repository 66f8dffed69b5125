"""Text encoder: each day's pooled headline embedding, read over the window by a masked GRU.

Input keys: ``text_days`` [B, W, D] (mean MiniLM embedding of the day's headlines, 0 without news),
``text_day_count`` [B, W] (headlines that day), ``day_valid`` [B, W]. A day without news is an
explicit "no news" step (its count says so), not a made-up embedding.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor, nn

from storm.model.encoders.temporal import MaskedDayGru
from storm.model.registry import register_text_encoder


@register_text_encoder("daily_gru")
class DailyTextGruEncoder(nn.Module):
    input_keys = ("text_days", "text_day_count", "day_valid")

    def __init__(self, text_dim: int, hidden_dim: int, dropout: float = 0.1, day_dim: int = 32) -> None:
        super().__init__()
        self.day = nn.Sequential(nn.LayerNorm(text_dim), nn.Dropout(dropout), nn.Linear(text_dim, day_dim), nn.GELU())
        self.days = MaskedDayGru(day_dim + 2, hidden_dim, hidden_dim, dropout)

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        count = inputs["text_day_count"].float()
        has_news = (count > 0).float().unsqueeze(-1)
        day = self.day(inputs["text_days"].float()) * has_news
        steps = torch.cat([day, has_news, torch.log1p(count).unsqueeze(-1)], dim=-1)
        return self.days(steps, inputs["day_valid"])
