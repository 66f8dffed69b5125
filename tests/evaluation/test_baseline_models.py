"""Baselines of one fold through the store: prices from raw/prices, the oracle from truth/ (only when it exists)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from storm.config import StormConfig, TrainConfig
from storm.evaluation.runner import baseline_models, reference_tables
from storm.labels import label_table
from storm.store import Layout, open_store
from storm.splits import walk_forward_folds

N_DAYS = 400
DATES = list(pd.bdate_range("2018-01-01", periods=N_DAYS).strftime("%Y-%m-%d"))


def crashing_prices(seed: int) -> pd.DataFrame:
    """A random walk with a few 15% crashes, each preceded by a volatile stretch."""
    rng = np.random.default_rng(seed)
    returns = rng.standard_normal(N_DAYS) * 0.008
    for crash in (120, 250, 330, 370):
        returns[crash - 15:crash] *= 3
        returns[crash:crash + 5] = -0.035
    close = 100 * np.exp(np.cumsum(returns))
    return pd.DataFrame({"date": DATES, "open": close, "high": close, "low": close, "close": close, "volume": 1e6})


@pytest.fixture
def priced_store(local_storage):
    store = open_store(local_storage)
    layout = Layout(store)
    frames = []
    for seed, market in enumerate(["AAA", "BBB"]):
        prices = crashing_prices(seed)
        store.write_table(layout.prices(market), prices)
        frames.append(prices.assign(market=market))
    config = StormConfig(storage=local_storage, train=TrainConfig(validation_fraction=0.3, folds=1, warmup_fraction=0.7))
    split = walk_forward_folds(DATES, config.train, config.labels)[0]
    return config, store, layout, split, pd.concat(frames, ignore_index=True)


def write_truth(store, layout, prices: pd.DataFrame, config: StormConfig) -> None:
    """A 'fragility' that is the future storm label itself: the oracle must rank perfectly."""
    labels = label_table(prices, config.labels)
    store.write_table(layout.truth_fragility(), labels[["market", "date"]].assign(fragility=labels["storm_20d"].fillna(0)))


def test_oracle_reads_the_truth_file_and_baselines_score_the_given_test_rows(priced_store):
    config, store, layout, split, prices = priced_store
    write_truth(store, layout, prices, config)
    keys = pd.DataFrame([(m, d) for m in ["AAA", "BBB"] for d in split.test], columns=["market", "date"])
    references = reference_tables(config, prices, store, layout)
    models = {m.name: m for m in baseline_models(config, references, split, keys)}
    assert set(models) == {"trail-vol", "garch", "price-logit", "frag-oracle"}
    assert models["frag-oracle"].kind == "oracle"
    for model in models.values():
        assert len(model.predictions) == len(keys)
        assert set(model.predictions["date"]) == set(split.test)
    oracle = models["frag-oracle"].predictions
    known = oracle["storm_20d"].notna()
    assert roc_auc_score(oracle.loc[known, "storm_20d"], oracle.loc[known, "score_20d"]) == 1.0
    assert models["garch"].predictions["vol_pred"].notna().all()


def test_without_a_truth_file_there_is_no_oracle(priced_store):
    config, store, layout, split, prices = priced_store
    keys = pd.DataFrame({"market": "AAA", "date": split.test})
    names = [m.name for m in baseline_models(config, reference_tables(config, prices, store, layout), split, keys)]
    assert names == ["trail-vol", "garch", "price-logit"]
