"""Tiny in-memory evidence panels with a planted signal (storm.features.planted), at tiny sizes, in the
IngestedEvidence shape ingested_evidence returns. Imported by the training and published tests as ``training_samples``
(pytest puts tests/, the folder of tests/conftest.py, on sys.path).
"""

from __future__ import annotations

import numpy as np

from storm.config import FeatureConfig, ModelConfig, StormConfig
from storm.features.evidence_panel import EvidencePanel
from storm.features.planted import HORIZONS as PLANTED_HORIZONS
from storm.features.planted import planted_panel as planted_evidence
from storm.features.planted import trading_dates
from storm.features.windows import batches_of_rows

HORIZONS = list(PLANTED_HORIZONS)
TINY_FEATURES = dict(text_dim=8, max_headlines=2, chart_size=16, n_mels=8, call_mel_frames=16, window_days=8,
                     max_conferences=2)
TINY_MODEL = dict(hidden_dim=16, chart_backbone="resnet10t", dropout=0.0, modality_dropout=0.1)


def tiny_config(storage, **train) -> StormConfig:
    settings = dict(run_name="tiny", num_workers=2, cpus_per_worker=1.0, epochs=4, batch_size=32, learning_rate=5e-3,
                    embargo_days=20, validation_fraction=0.2, early_stopping_patience=5)
    settings.update(train)
    return StormConfig(storage=storage, features=FeatureConfig(**TINY_FEATURES), model=ModelConfig(**TINY_MODEL),
                       train=settings)


def tiny_panel(n_markets: int = 4, n_days: int = 120, features: FeatureConfig | None = None, seed: int = 0,
               unknown_tail: int = 5):
    """planted_panel as the IngestedEvidence ingested_evidence returns (imports the Ray-side panel module)."""
    from storm.features.panel import IngestedEvidence
    from storm.ingest import IngestReport

    panel = planted_panel(n_markets, n_days, features, seed, unknown_tail)
    dates = trading_dates(n_days)
    return IngestedEvidence(panel=panel, report=IngestReport(start=dates[0], end=dates[-1], counts={}),
                      markets=sorted(set(panel.market)), dates=dates)


def planted_panel(n_markets: int = 4, n_days: int = 120, features: FeatureConfig | None = None, seed: int = 0,
                  unknown_tail: int = 5) -> EvidencePanel:
    """storm.features.planted.planted_panel at the tests' tiny feature sizes by default."""
    return planted_evidence(n_markets, n_days, features or FeatureConfig(**TINY_FEATURES), seed, unknown_tail)


def batches_of(panel: EvidencePanel, rows: np.ndarray, batch_size: int):
    """Gathered windows for the Ray-free loop tests."""
    return batches_of_rows(panel, np.asarray(rows), batch_size)
