"""The realistic synthetic world: volatility warns about as well as on real indices, and evidence is faint
on one day but informative over weeks (benchmarks/bench_world_realism.py prints the full table)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from storm.config import WorldConfig
from storm.evaluation.baselines import trailing_log_volatility
from storm.labels import storm_flags
from storm.worlds.synthetic import synthetic_world

SEEDS = (301, 302, 303)  # used by no default and no other test


def auroc(score: np.ndarray, label: np.ndarray) -> float:
    known = np.isfinite(score) & np.isfinite(label)
    return float(roc_auc_score(label[known], score[known]))


def storms_20d(plan) -> np.ndarray:
    return np.stack([storm_flags(plan.prices[m]["close"].to_numpy(), 20, 0.10) for m in plan.markets])


@pytest.fixture(scope="module")
def realistic_plans():
    return [synthetic_world(WorldConfig(seed=seed, n_markets=16, n_days=750)) for seed in SEEDS]


def test_realistic_world_trailing_volatility_warns_about_as_well_as_on_real_indices(realistic_plans):
    """The S&P 500 1999–2018 gives about 0.76; real indices land in 0.70–0.80."""
    scores = [auroc(np.stack([trailing_log_volatility(plan.prices[m]["close"].to_numpy(), 20) for m in plan.markets]),
                    storms_20d(plan)) for plan in realistic_plans]
    assert 0.70 <= np.mean(scores) <= 0.80


def test_one_day_of_news_is_faint_but_weeks_of_it_are_informative(realistic_plans):
    one_day, forty_days, oracle = [], [], []
    for plan in realistic_plans:
        storms = storms_20d(plan)
        weeks = pd.DataFrame(plan.news_pressure.T).rolling(40, min_periods=1).mean().to_numpy().T
        one_day.append(auroc(plan.news_pressure, storms))
        forty_days.append(auroc(weeks, storms))
        oracle.append(auroc(plan.fragility, storms))
    assert np.mean(one_day) < 0.70
    assert np.mean(forty_days) > np.mean(one_day) + 0.07
    assert np.mean(forty_days) < np.mean(oracle)


def test_realistic_news_and_speech_are_fainter_than_legacy_ones():
    realistic = synthetic_world(WorldConfig(seed=SEEDS[0], n_markets=8, n_days=400))
    legacy = synthetic_world(WorldConfig(seed=SEEDS[0], n_markets=8, n_days=400, profile="legacy"))

    def agreement(plan, pressure: str) -> float:
        return float(np.corrcoef(getattr(plan, pressure).reshape(-1), plan.fragility.reshape(-1))[0, 1])

    for pressure in ("news_pressure", "speech_pressure"):
        assert agreement(realistic, pressure) < agreement(legacy, pressure) - 0.1
