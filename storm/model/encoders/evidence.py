"""Evidence accumulators: a few readings per day (or per call), averaged over the window with fixed half-lives.

A market's fragility moves over weeks (the synthetic world's is an OU process with a ~35-day
half-life; real stress builds as slowly), and each day's headlines or each call is a faint,
noisy reading of it. The best estimate of a slowly moving state from noisy readings is a
decayed average of them (a steady-state Kalman filter is an exponentially weighted mean). So
these encoders learn only what to read from one day, a linear probe of a few dimensions, and
average the readings with a bank of fixed half-lives. A few thousand parameters generalise where
a GRU over 60 days x 384 inputs memorised the training years (docs/MODEL.md has the measurements).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch
from torch import Tensor, nn

from storm.features.price_history import PRICE_FEATURES
from storm.model.encoders.image import ChartCnn
from storm.model.registry import register_calls_encoder, register_news_encoder, register_prices_encoder

TEXT_HALF_LIVES = (1.0, 5.0, 20.0, 60.0)  # trading days: the latest news, this week's tone, this month's, the window's
PRICE_HALF_LIVES = (5.0, 10.0, 20.0, 60.0)  # a GARCH(1,1) forecast is itself a decayed mean of squared returns
CALL_HALF_LIVES = (10.0, 30.0)  # calls are rarer (about two a month): longer memories
PRICE_SCALE_READINGS = ("abs_return", "range")  # averaged, then logged
PRICE_READINGS = PRICE_SCALE_READINGS + ("log_return",)
SCALE_FLOOR = 0.05  # log(mean + floor): a calm 0.1%-a-day market does not read as -inf


class DecayedMeans(nn.Module):
    """values [B, W, k] x weights [B, W] x age [B, W] (days) -> ([B, L*k] decayed means, [B, L] log1p mass).

    For each half-life h, a weighted mean of the readings with weight w_t * 0.5 ** (age_t / h); a row
    without any weight gets zeros, and its mass (log1p of the summed weights) says how much evidence there was.
    """

    def __init__(self, half_lives: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("half_lives", torch.tensor(list(half_lives), dtype=torch.float32), persistent=False)

    def forward(self, values: Tensor, weights: Tensor, age: Tensor) -> tuple[Tensor, Tensor]:
        decayed = weights.unsqueeze(-1) * torch.pow(0.5, age.unsqueeze(-1) / self.half_lives)  # [B, W, L]
        mass = decayed.sum(dim=1)  # [B, L]
        means = torch.einsum("bwl,bwk->blk", decayed, values) / mass.clamp(min=1e-6).unsqueeze(-1)
        return means.flatten(1), torch.log1p(mass)


def window_age(valid: Tensor) -> Tensor:
    """Age in trading days of each window position (oldest first): [B, W] = W-1, ..., 1, 0."""
    width = valid.shape[1]
    return torch.arange(width - 1, -1, -1, device=valid.device, dtype=torch.float32).expand(valid.shape[0], width)


@register_news_encoder("daily_evidence")
class DailyTextEvidenceEncoder(nn.Module):
    """Each news day's pooled embedding -> ``readings`` linear readings -> headline-weighted decayed means.

    A day's reading is linear in its headlines' embeddings, so the mean over a day's headlines and over
    days is the mean of per-headline readings: what the press said, weighted by how much it said.
    With ``wire``, the market-wide wire (headlines every market reads: wire_days, wire_day_count) is a context
    channel of its own, with its own readings and decayed means, concatenated before the projection; a window
    without wire headlines adds zeros there (its means and mass are 0), so the market's own news reads as without it.
    """

    def __init__(self, text_dim: int, hidden_dim: int, dropout: float = 0.1, readings: int = 8,
                 half_lives: Sequence[float] = TEXT_HALF_LIVES, wire: bool = False) -> None:
        super().__init__()
        self.input_keys = ("text_days", "text_day_count", "day_valid") + (("wire_days", "wire_day_count") if wire else ())
        self.input_scale = math.sqrt(text_dim)  # unit-length embeddings: each coordinate ~ 1/sqrt(dim)
        self.read = nn.Sequential(nn.Dropout(dropout), nn.Linear(text_dim, readings))
        self.read_wire = nn.Sequential(nn.Dropout(dropout), nn.Linear(text_dim, readings)) if wire else None
        self.means = DecayedMeans(half_lives)
        channels = 2 if wire else 1
        self.project = nn.Sequential(nn.Linear(channels * len(half_lives) * (readings + 1), hidden_dim), nn.GELU())

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        valid = inputs["day_valid"].float()
        age = window_age(valid)
        parts = list(self._channel(self.read, inputs["text_days"], inputs["text_day_count"], valid, age))
        if self.read_wire is not None:
            parts += self._channel(self.read_wire, inputs["wire_days"], inputs["wire_day_count"], valid, age)
        return self.project(torch.cat(parts, dim=1))

    def _channel(self, read: nn.Module, days: Tensor, count: Tensor, valid: Tensor, age: Tensor) -> tuple[Tensor, Tensor]:
        """(decayed means of the day readings [B, L * readings], log1p headline mass [B, L]) of one channel."""
        readings = read(days.float() * self.input_scale)
        return self.means(readings, count.float() * valid, age)


class PriceEvidence(nn.Module):
    """The last day's first ``price_inputs`` price columns (the daily readings, then the engineered features: the
    panel's PRICE_INPUTS) beside decayed means of daily scale and return: [B, W, F] -> [B, hidden]."""

    def __init__(self, hidden_dim: int, half_lives: Sequence[float] = PRICE_HALF_LIVES,
                 price_inputs: int = len(PRICE_FEATURES)) -> None:
        super().__init__()
        self.columns = [PRICE_FEATURES.index(name) for name in PRICE_READINGS]
        self.price_inputs = price_inputs
        self.means = DecayedMeans(half_lives)
        n_means = len(half_lives) * len(PRICE_READINGS)
        self.project = nn.Sequential(nn.Linear(price_inputs + n_means, hidden_dim), nn.GELU())

    def forward(self, price_days: Tensor, day_valid: Tensor) -> Tensor:
        valid = day_valid.float()
        readings = price_days[..., self.columns].float()
        means, _ = self.means(readings, valid, window_age(valid))
        means = means.unflatten(1, (-1, len(self.columns)))
        n_scales = len(PRICE_SCALE_READINGS)
        scales = torch.log(means[..., :n_scales].clamp(min=0.0) + SCALE_FLOOR)
        summary = torch.cat([scales, means[..., n_scales:]], dim=-1).flatten(1)
        return self.project(torch.cat([price_days[:, -1, :self.price_inputs].float(), summary], dim=1))


@register_prices_encoder("chart_evidence")
class ChartEvidenceEncoder(nn.Module):
    """The window's prices as decayed means, beside ``readings`` readings of the day's chart through a timm CNN.

    The chart draws the same prices, so the CNN gets a narrow, dropped-out path: a from-scratch CNN on
    a few thousand charts memorises fast, and the numbers already carry most of what it could see.
    """

    input_keys = ("image", "price_days", "day_valid")

    def __init__(self, hidden_dim: int, dropout: float = 0.1, model_name: str = "mobilenetv3_small_050",
                 readings: int = 4, price_inputs: int = len(PRICE_FEATURES)) -> None:
        super().__init__()
        self.chart = ChartCnn(hidden_dim, dropout, model_name)
        self.read_chart = nn.Sequential(nn.Linear(hidden_dim, readings), nn.Dropout(max(dropout, 0.5)))
        self.prices = PriceEvidence(hidden_dim, price_inputs=price_inputs)
        self.merge = nn.Sequential(nn.Linear(hidden_dim + readings, hidden_dim), nn.GELU())

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        prices = self.prices(inputs["price_days"], inputs["day_valid"])
        return self.merge(torch.cat([prices, self.read_chart(self.chart(inputs))], dim=1))


@register_prices_encoder("price_evidence")
class PriceEvidenceEncoder(nn.Module):
    """The window's prices as decayed means only: the default prices encoder (no chart pixels, no CNN)."""

    input_keys = ("price_days", "day_valid")

    def __init__(self, hidden_dim: int, dropout: float = 0.1, price_inputs: int = len(PRICE_FEATURES)) -> None:
        super().__init__()
        self.prices = PriceEvidence(hidden_dim, price_inputs=price_inputs)

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        return self.prices(inputs["price_days"], inputs["day_valid"])


@register_calls_encoder("conference_evidence")
class ConferenceEvidenceEncoder(nn.Module):
    """Each recent call's log-mel statistics (storm.features.audio.call_statistics: per band mean, spread, change)
    -> ``readings`` linear readings -> decayed means over the calls' ages."""

    input_keys = ("audio_stats", "audio_age", "audio_valid")

    def __init__(self, n_mels: int, hidden_dim: int, dropout: float = 0.1, readings: int = 4,
                 half_lives: Sequence[float] = CALL_HALF_LIVES, window_days: int = 60) -> None:
        super().__init__()
        self.read = nn.Sequential(nn.LayerNorm(3 * n_mels), nn.Dropout(dropout), nn.Linear(3 * n_mels, readings))
        self.window_days = window_days  # audio_age is a fraction of the window
        self.means = DecayedMeans(half_lives)
        self.project = nn.Sequential(nn.Linear(len(half_lives) * (readings + 1), hidden_dim), nn.GELU())

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        valid = inputs["audio_valid"].float()
        readings = self.read(inputs["audio_stats"].float())
        means, mass = self.means(readings, valid, inputs["audio_age"].float() * self.window_days)
        return self.project(torch.cat([means, mass], dim=1))
