import pandas as pd
import pytest

from storm.store import Layout, open_store


@pytest.fixture(params=["local", "s3"])
def store(request, local_storage):
    config = local_storage if request.param == "local" else request.getfixturevalue("s3_storage")
    return open_store(config)


def test_table_roundtrip_and_listing_on_local_and_s3(store):
    layout = Layout(store)
    path = layout.scores("2020-01-02")
    store.write_table(path, pd.DataFrame({"market": ["A", "B"], "score": [0.1, 0.9]}))
    assert store.read_table(path).to_pandas()["score"].tolist() == [0.1, 0.9]
    assert store.list_files(layout.scores_dir(), ".parquet") == [path]


def test_atomic_local_write_leaves_no_temporary_files(local_storage):
    store = open_store(local_storage)
    path = store.path("a", "b.txt")
    store.write_text(path, "one")
    store.write_text(path, "two")
    assert store.read_text(path) == "two"
    assert store.list_files(store.path("a")) == [path]


def test_layout_rejects_a_malformed_date_and_a_market_with_a_dash(local_storage):
    layout = Layout(open_store(local_storage))
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        layout.chart("2020-1-2", "SPX")
    with pytest.raises(ValueError, match="no '-'"):
        layout.chart("2020-01-02", "S-PX")
