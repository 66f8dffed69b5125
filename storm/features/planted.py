"""An evidence panel with a planted signal: a known answer for checking that training learns.

A hidden, slowly moving fragility per (market, day) drives the storm labels and shows, noisily,
in each day's news, prices, charts and calls, so a model that reads its window scores above
chance on held-out dates. For the training tests and for checking a machine's training path
(benchmarks/bench_gpu_training.py) without Ray, files or a world.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from storm.config import FeatureConfig
from storm.features.audio import call_statistics
from storm.features.evidence_panel import EvidencePanel, recent_conferences
from storm.features.price_history import PRICE_INPUTS

HORIZONS = (5, 10, 20)


def storm_quantile(horizon: int) -> float:
    """Share of calm days at ``horizon``: storms are commoner over longer horizons (0.85, 0.8, 0.75 at 5, 10, 20)."""
    return {5: 0.85, 10: 0.8, 20: 0.75}.get(horizon, 0.8)


def trading_dates(n_days: int, start: str = "2020-01-01") -> list[str]:
    return [d.strftime("%Y-%m-%d") for d in pd.bdate_range(start, periods=n_days)]


def planted_panel(n_markets: int, n_days: int, features: FeatureConfig, seed: int = 0,
                  unknown_tail: int = 5, horizons: tuple[int, ...] = HORIZONS) -> EvidencePanel:
    """A panel (markets contiguous, dates in order) whose last `unknown_tail` days have unknown labels. No Ray import."""
    rng = np.random.default_rng(seed)
    n = n_markets * n_days
    fragility = np.concatenate([np.convolve(rng.normal(size=n_days + 9), np.ones(10) / np.sqrt(10), "valid")
                                for _ in range(n_markets)]).astype(np.float32)
    noisy = lambda scale: fragility + scale * rng.normal(size=n).astype(np.float32)  # noqa: E731
    text_count = rng.integers(0, 3, size=n).astype(np.float32)
    text_day = rng.normal(scale=0.3, size=(n, features.text_dim)).astype(np.float32)
    text_day[:, 0] += noisy(0.8)
    text_day *= (text_count > 0)[:, None]
    price = rng.normal(scale=0.3, size=(n, len(PRICE_INPUTS))).astype(np.float32)
    price[:, 1] += noisy(0.8)
    chart = np.clip(128 + 40 * noisy(0.8)[:, None, None] + rng.normal(0, 20, (n, features.chart_size, features.chart_size)),
                    0, 255).astype(np.uint8)
    market_start = np.repeat(np.arange(n_markets) * n_days, n_days)
    conference_row = np.sort(rng.choice(n, size=n // 6, replace=False))
    conference_mel = (rng.normal(scale=0.3, size=(len(conference_row), features.n_mels, features.call_mel_frames))
                      + noisy(0.5)[conference_row, None, None]).astype(np.float16)
    day = np.tile(np.arange(n_days), n_markets)
    unknown = day >= n_days - unknown_tail
    risk = noisy(0.4)
    labels = np.stack([np.where(unknown, np.nan, (risk > np.quantile(risk, storm_quantile(h))).astype(np.float32))
                       for h in horizons], axis=1).astype(np.float32)
    dates = trading_dates(n_days)
    return EvidencePanel(
        market=np.repeat([f"M{i}" for i in range(n_markets)], n_days), date=np.array(dates * n_markets),
        market_start=market_start, text_day=text_day, text_count=text_count, price=price, chart=chart,
        has_chart=rng.random(n) > 0.1, conference_row=conference_row,
        conference_stats=call_statistics(conference_mel, features.n_mels),
        recent_conferences=recent_conferences(conference_row, market_start, features.window_days, features.max_conferences),
        labels=labels, fwd_log_vol=np.where(unknown, np.nan, 0.5 * fragility - 1.5).astype(np.float32),
        horizons=list(horizons), window_days=features.window_days,
    )
