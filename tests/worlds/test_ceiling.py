"""The real ceiling: forward paths from the full simulator state give calibrated storm probabilities
that beat the fragility oracle, grow with the horizon, see a crash under way, and leave the world untouched."""

import hashlib

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss

from storm.config import StorageConfig, StormConfig, WorldConfig
from storm.labels import storm_flags
from storm.store import Layout, open_store
from storm.worlds import generate_world
from storm.worlds.ceiling import storm_probabilities, storm_probability_column
from storm.worlds.synthetic import synthetic_world

HORIZONS = [5, 10, 20]


@pytest.fixture(scope="module")
def world_and_ceiling():
    plan = synthetic_world(WorldConfig(seed=311, n_markets=8, n_days=400))
    ceiling = storm_probabilities(plan.hidden, HORIZONS, 0.10, 200, np.random.default_rng(0))
    storms = {h: np.stack([storm_flags(plan.prices[m]["close"].to_numpy(), h, 0.10) for m in plan.markets])
              for h in HORIZONS}
    return plan, ceiling, storms


def test_ceiling_probabilities_are_monotone_in_horizon(world_and_ceiling):
    _, ceiling, _ = world_and_ceiling
    assert ceiling.shape == (3, 8, 400) and ((ceiling >= 0) & (ceiling <= 1)).all()
    assert (ceiling[0] <= ceiling[1]).all() and (ceiling[1] <= ceiling[2]).all()
    assert (ceiling[2] > ceiling[0]).mean() > 0.5


@pytest.mark.parametrize("horizon", HORIZONS)
def test_ceiling_has_a_lower_brier_score_than_the_platt_scaled_fragility_oracle(world_and_ceiling, horizon):
    """The oracle is even Platt-scaled in sample, on the very labels it is scored on."""
    plan, ceiling, storms = world_and_ceiling
    label = storms[horizon].reshape(-1)
    known = np.isfinite(label)
    fragility = plan.fragility.reshape(-1, 1)[known]
    platt = LogisticRegression(C=np.inf).fit(fragility, label[known])
    oracle_brier = brier_score_loss(label[known], platt.predict_proba(fragility)[:, 1])
    ceiling_brier = brier_score_loss(label[known], ceiling[HORIZONS.index(horizon)].reshape(-1)[known])
    assert ceiling_brier < oracle_brier


def test_ceiling_is_calibrated_on_average(world_and_ceiling):
    _, ceiling, storms = world_and_ceiling
    for index, horizon in enumerate(HORIZONS):
        known = np.isfinite(storms[horizon])
        assert abs(ceiling[index][known].mean() - storms[horizon][known].mean()) < 0.5 * storms[horizon][known].mean()


def test_ceiling_sees_the_rest_of_a_crash_under_way(world_and_ceiling):
    """On the first day of a deep crash, most of the fall is still to come and already in the state."""
    plan, ceiling, _ = world_and_ceiling
    prices = plan.hidden.prices
    deep_days = [(market, start) for market, start in zip(*np.nonzero(prices.crash_start))
                 if prices.crash_return[market, start + 1:prices.crash_end[market, start]].sum() < np.log(0.82)]
    assert len(deep_days) >= 5
    assert np.mean([ceiling[2][market, day] for market, day in deep_days]) > 0.9


def file_hashes(store, folder: str) -> dict[str, str]:
    return {path[len(store.root) + 1:]: hashlib.sha256(store.read_bytes(path)).hexdigest()
            for path in store.list_files(store.path(folder))}


def test_ceiling_is_written_as_truth_and_leaves_the_world_unchanged(tmp_path):
    overrides = {"world.n_markets": 2, "world.n_days": 80, "world.with_audio": False, "world.ceiling_paths": 50}
    stores = []
    for name, paths in (("with", 50), ("without", 0)):
        config = StormConfig(storage=StorageConfig(root=str(tmp_path / name))).with_overrides(
            {**overrides, "world.ceiling_paths": paths})
        stores.append(open_store(config.storage))
        generate_world(config, stores[-1], progress=False)
    with_ceiling, without = stores
    raw = {path: digest for path, digest in file_hashes(with_ceiling, "raw").items() if path != "raw/world.json"}
    assert raw == {path: digest for path, digest in file_hashes(without, "raw").items() if path != "raw/world.json"}
    layout = Layout(with_ceiling)
    table = with_ceiling.read_table(layout.truth_storm_probability()).to_pandas()
    assert list(table.columns) == ["market", "date", *map(storm_probability_column, HORIZONS)] and len(table) == 160
    assert not Layout(without).store.exists(Layout(without).truth_storm_probability())
