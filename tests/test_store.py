import pandas as pd
import pytest

from storm.config import StorageConfig
from storm.store import Layout, PathOutsideStore, open_store


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


def test_exclusive_create_lets_only_the_first_writer_in_on_local_and_s3(store):
    path = store.path("leases", "one.json")
    assert store.create_exclusive(path, b"first")
    assert not store.create_exclusive(path, b"second")
    assert store.read_bytes(path) == b"first"
    assert store.list_files(store.path("leases")) == [path]  # no temporary left behind


@pytest.mark.parametrize("run", ["../../x", "/abs", "..", ".hidden", "a/b", "a\\b", "x\n", "", "a..b"])
def test_run_names_that_could_leave_the_store_are_refused(store, run):
    layout = Layout(store)
    with pytest.raises(ValueError, match="run name"):
        layout.model_dir(run)
    with pytest.raises(ValueError, match="not allowed"):
        layout.model_pointer(run)


@pytest.mark.parametrize("market", ["../x", ".SPX", "SP/X", "SPX\n", "", "S-PX"])
def test_market_names_are_matched_whole(local_storage, market):
    with pytest.raises(ValueError, match="market name"):
        Layout(open_store(local_storage)).prices(market)


def test_store_paths_outside_the_root_are_refused_also_into_another_bucket(store):
    for parts in (("..", "other-bucket", "x"), ("/etc", "passwd"), ("scores", "../../elsewhere")):
        with pytest.raises(PathOutsideStore, match="root"):
            store.path(*parts)
    assert store.path("scores", "date=2020-01-02") == f"{store.root}/scores/date=2020-01-02"


def test_an_s3_root_that_climbs_out_of_its_bucket_is_refused():
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        open_store(StorageConfig(root="s3://bucket/../other/prefix"))


def test_an_s3_root_with_credentials_in_it_is_refused_without_showing_them():
    with pytest.raises(ValueError, match="storage.secret_access_key") as refused:
        open_store(StorageConfig(root="s3://AKIDEXAMPLE:wJalrSECRET@bucket/prefix"))
    assert "wJalrSECRET" not in str(refused.value) and "AKIDEXAMPLE" not in str(refused.value)
