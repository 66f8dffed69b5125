"""Tiny in-memory evidence panels with a planted signal, in the IngestedEvidence shape build_panel returns.

A hidden, slowly moving fragility per (market, day) drives the storm labels and shows,
noisily, in each day's text, prices, charts and conferences, so a model that reads its
window learns something and scores above chance on held-out dates.
Imported by this folder's tests as ``training_samples`` (pytest puts this folder on sys.path).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from storm.config import FeatureConfig, ModelConfig, StormConfig
from storm.features.evidence_panel import EvidencePanel, recent_conferences
from storm.features.price_history import PRICE_FEATURES
from storm.features.windows import batches_of_rows

HORIZONS = [5, 10, 20]
TINY_FEATURES = dict(text_dim=8, max_headlines=2, chart_size=16, n_mels=8, call_mel_frames=16, window_days=8,
                     max_conferences=2)
TINY_MODEL = dict(hidden_dim=16, chart_backbone="resnet10t", dropout=0.0, modality_dropout=0.1)
STORM_QUANTILE = {5: 0.85, 10: 0.8, 20: 0.75}  # share of calm days per horizon


def tiny_config(storage, **train) -> StormConfig:
    settings = dict(run_name="tiny", num_workers=2, cpus_per_worker=1.0, epochs=4, batch_size=32, learning_rate=5e-3,
                    embargo_days=20, validation_fraction=0.2, early_stopping_patience=5)
    settings.update(train)
    return StormConfig(storage=storage, features=FeatureConfig(**TINY_FEATURES), model=ModelConfig(**TINY_MODEL),
                       train=settings)


def trading_dates(n_days: int, start: str = "2020-01-01") -> list[str]:
    return [d.strftime("%Y-%m-%d") for d in pd.bdate_range(start, periods=n_days)]


def tiny_panel(n_markets: int = 4, n_days: int = 120, features: FeatureConfig | None = None, seed: int = 0,
               unknown_tail: int = 5):
    """planted_panel as the IngestedEvidence build_panel returns (imports the Ray-side panel module)."""
    from storm.features.panel import IngestedEvidence
    from storm.ingest import IngestReport

    panel = planted_panel(n_markets, n_days, features, seed, unknown_tail)
    dates = trading_dates(n_days)
    return IngestedEvidence(panel=panel, report=IngestReport(start=dates[0], end=dates[-1], counts={}),
                      markets=sorted(set(panel.market)), dates=dates)


def planted_panel(n_markets: int = 4, n_days: int = 120, features: FeatureConfig | None = None, seed: int = 0,
                  unknown_tail: int = 5) -> EvidencePanel:
    """A panel (markets contiguous, dates in order) whose last `unknown_tail` days have unknown labels. No Ray import."""
    features = features or FeatureConfig(**TINY_FEATURES)
    rng = np.random.default_rng(seed)
    n = n_markets * n_days
    fragility = np.concatenate([np.convolve(rng.normal(size=n_days + 9), np.ones(10) / np.sqrt(10), "valid")
                                for _ in range(n_markets)]).astype(np.float32)
    noisy = lambda scale: fragility + scale * rng.normal(size=n).astype(np.float32)  # noqa: E731
    text_count = rng.integers(0, 3, size=n).astype(np.float32)
    text_day = rng.normal(scale=0.3, size=(n, features.text_dim)).astype(np.float32)
    text_day[:, 0] += noisy(0.8)
    text_day *= (text_count > 0)[:, None]
    price = rng.normal(scale=0.3, size=(n, len(PRICE_FEATURES))).astype(np.float32)
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
    labels = np.stack([np.where(unknown, np.nan, (risk > np.quantile(risk, STORM_QUANTILE[h])).astype(np.float32))
                       for h in HORIZONS], axis=1).astype(np.float32)
    dates = trading_dates(n_days)
    return EvidencePanel(
        market=np.repeat([f"M{i}" for i in range(n_markets)], n_days), date=np.array(dates * n_markets),
        market_start=market_start, text_day=text_day, text_count=text_count, price=price, chart=chart,
        has_chart=rng.random(n) > 0.1, conference_mel=conference_mel, conference_row=conference_row,
        recent_conferences=recent_conferences(conference_row, market_start, features.window_days, features.max_conferences),
        labels=labels, fwd_log_vol=np.where(unknown, np.nan, 0.5 * fragility - 1.5).astype(np.float32),
        horizons=list(HORIZONS), window_days=features.window_days,
    )


def batches_of(panel: EvidencePanel, rows: np.ndarray, batch_size: int):
    """Gathered windows for the Ray-free loop tests."""
    return batches_of_rows(panel, np.asarray(rows), batch_size)
