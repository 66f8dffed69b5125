import numpy as np
import pandas as pd

from storm.config import FeatureConfig
from storm.features.cache import FeatureCache, feature_spec_id
from storm.store import Layout, open_store


def test_spec_changes_only_with_the_settings_of_its_modality():
    base = FeatureConfig()
    assert feature_spec_id(base, "news") == feature_spec_id(FeatureConfig(), "news")
    assert feature_spec_id(base, "news") != feature_spec_id(FeatureConfig(max_text_tokens=32), "news")
    assert feature_spec_id(base, "news") == feature_spec_id(FeatureConfig(chart_size=32), "news")
    assert feature_spec_id(base, "charts") != feature_spec_id(FeatureConfig(chart_size=32), "charts")
    assert feature_spec_id(base, "audio") != feature_spec_id(FeatureConfig(n_mels=32), "audio")
    assert feature_spec_id(base, "audio") == feature_spec_id(FeatureConfig(max_headlines=2), "audio")
    assert len({feature_spec_id(base, m) for m in ("news", "charts", "audio")}) == 3


def rows(hashes, date, value):
    return pd.DataFrame({"content_hash": hashes, "market": "AAA", "date": date,
                         "feature": [np.full((2, 3), value + i, dtype=np.float32) for i in range(len(hashes))]})


def test_cached_features_round_trip_with_their_shape_and_merge_by_hash(local_storage):
    store = open_store(local_storage)
    cache = FeatureCache(store, Layout(store), "audio", "spec1")
    cache.add(rows(["a", "b"], "2020-01-02", 1.0))
    cache.add(rows(["b", "c"], "2020-01-02", 10.0))  # b again: replaced, not duplicated
    cache.add(rows(["d"], "2020-01-03", 5.0))
    assert cache.cached_hashes(["2020-01-02"]) == {"a", "b", "c"}
    assert cache.dates_between("2020-01-01", "2020-01-02") == ["2020-01-02"]
    loaded = cache.load(["2020-01-02", "2020-01-03"])
    assert sorted(loaded) == ["a", "b", "c", "d"]
    assert loaded["a"].shape == (2, 3) and loaded["a"].dtype == np.float32
    np.testing.assert_array_equal(loaded["c"], np.full((2, 3), 11.0))
    assert store.read_table(cache.partition("2020-01-02")).num_rows == 3
    assert not store.list_files(store.path("features"), suffix=".tmp")  # atomic writes leave no temporaries


def test_cache_reads_nothing_for_dates_without_partitions(local_storage):
    store = open_store(local_storage)
    cache = FeatureCache(store, Layout(store), "news", "spec1")
    assert cache.load(["2020-01-02"]) == {} and cache.cached_hashes(["2020-01-02"]) == set()


def test_loading_some_hashes_reads_only_those_features(local_storage):
    store = open_store(local_storage)
    cache = FeatureCache(store, Layout(store), "audio", "spec1")
    cache.add(rows(["a", "b", "c"], "2020-01-02", 1.0))
    cache.add(rows(["d"], "2020-01-03", 5.0))
    loaded = cache.load(["2020-01-02", "2020-01-03"], hashes=["b", "d", "not-cached"])
    assert sorted(loaded) == ["b", "d"]
    np.testing.assert_array_equal(loaded["d"], cache.load(["2020-01-03"])["d"])
    assert cache.load(["2020-01-02"], hashes=[]) == {}
