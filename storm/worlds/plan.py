"""What a world holds before it is written: prices plus what press and speakers see of each market-day."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from storm.worlds.prices import FragilityFactors, PriceProcess, SyntheticPrices


@dataclass(frozen=True)
class HiddenState:
    """The whole simulator state of a synthetic world, day by day: what the real ceiling simulates forward from."""

    process: PriceProcess
    factors: FragilityFactors
    prices: SyntheticPrices


@dataclass(frozen=True)
class WorldPlan:
    """Everything the writer needs; ``fragility`` is the hidden truth (synthetic only, evaluation only).

    ``news_pressure`` and ``speech_pressure`` are [market, day] in [0, 1]: how strained each market
    looks to the press and to conference speakers that day. They may depend only on the past and the
    hidden state, never on future prices.
    """

    kind: str
    seed: int
    markets: tuple[str, ...]
    dates: tuple[str, ...]
    prices: dict[str, pd.DataFrame]  # market -> PRICE_COLUMNS, one row per date
    news_pressure: np.ndarray
    speech_pressure: np.ndarray
    fragility: np.ndarray | None = None
    hidden: HiddenState | None = None  # synthetic only; never written to raw/
    source: str = "synthetic"


def noisy_view(rng: np.random.Generator, state: np.ndarray, daily_noise: float, market_bias: float) -> np.ndarray:
    """A [0, 1] state seen through logit-scale noise: a persistent per-market bias plus fresh daily noise."""
    clipped = np.clip(state, 1e-4, 1.0 - 1e-4)
    logit = np.log(clipped / (1.0 - clipped))
    bias = rng.normal(0.0, market_bias, size=(state.shape[0], 1))
    noise = rng.normal(0.0, daily_noise, size=state.shape)
    return 1.0 / (1.0 + np.exp(-(logit + bias + noise)))


def market_rng(seed: int, stream: int, market_index: int, day_index: int = -1) -> np.random.Generator:
    """An independent generator per (seed, stream, market, day): results never depend on write order."""
    return np.random.default_rng([seed, stream, market_index, day_index + 1])
