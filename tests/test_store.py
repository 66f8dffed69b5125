import os
import stat

import pandas as pd
import pytest

from storm.config import StorageConfig
from storm.store import Layout, NotARegularFile, PathOutsideStore, open_store
from storm.store.layout import date_of, raw_key_date


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


def test_a_table_read_where_a_column_holds_given_values_returns_exactly_those_rows_on_local_and_s3(store):
    path = Layout(store).scores("2020-01-02")
    frame = pd.DataFrame({"model": ["garch", "fused", "storm", "garch"], "horizon": [5, 5, 10, 20],
                          "score": [0.1, 0.2, 0.3, 0.4]})
    store.write_table(path, frame)
    read = store.read_table(path, columns=["model", "score"], where={"model": ["garch", "fused"], "horizon": [5, 20]})
    assert read.column_names == ["model", "score"]
    assert sorted(zip(*read.to_pydict().values())) == [("fused", 0.2), ("garch", 0.1), ("garch", 0.4)]
    with pytest.raises(ValueError, match="without row or byte bounds"):
        store.read_table(path, where={"model": ["garch"]}, max_rows=10)


def test_atomic_local_write_leaves_no_temporary_files(local_storage):
    store = open_store(local_storage)
    path = store.path("a", "b.txt")
    store.write_text(path, "one")
    store.write_text(path, "two")
    assert store.read_text(path) == "two"
    assert store.list_files(store.path("a")) == [path]


def test_a_local_write_and_an_exclusive_create_fsync_the_file_and_then_its_folder(local_storage, monkeypatch):
    store = open_store(local_storage)
    synced = []
    real_fsync = os.fsync

    def recording_fsync(descriptor):
        synced.append(("folder" if stat.S_ISDIR(os.fstat(descriptor).st_mode) else "file", os.fstat(descriptor).st_ino))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    path = store.path("a", "b.txt")
    store.write_text(path, "one")
    assert [kind for kind, _ in synced] == ["file", "folder"]
    assert synced[1][1] == os.stat(os.path.dirname(path)).st_ino  # the folder holding the renamed name
    synced.clear()
    assert store.create_exclusive(store.path("a", "lease.json"), b"{}")
    assert [kind for kind, _ in synced] == ["file", "folder"]


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


# --- issue 21: keys anchored, local stores read regular files under the root only ---

@pytest.mark.parametrize("path, date", [
    ("r/scores/date=2024-01-02/scores.parquet", "2024-01-02"),
    ("r/raw/news/date=2024-01-01x/evil.jsonl", None),
    ("r/raw/news/xdate=2024-01-01/e.jsonl", None),
    ("r/raw/news/date=2024-02-30/e.jsonl", None),  # no such day
    ("r/raw/news/notes-date=2024-01-01.jsonl", None),
])
def test_date_of_matches_only_a_whole_date_segment(path, date):
    assert date_of(path) == date


@pytest.mark.parametrize("key, date", [
    ("date=2024-01-02/headlines.jsonl", "2024-01-02"),
    ("date=2024-01-01x/evil.jsonl", None),
    ("xdate=2024-01-01/e.jsonl", None),
    ("date=2024-01-02/deeper/e.jsonl", None),
    ("e.jsonl", None),
    ("date=2024-01-02", None),
])
def test_raw_keys_are_dated_only_when_exactly_base_slash_date_slash_file(key, date):
    assert raw_key_date("/s/raw/news", f"/s/raw/news/{key}") == date
    assert raw_key_date("/s/raw/news", f"/s/raw/other/{key}") is None


def test_local_listing_refuses_symlinks_fifos_and_devices_without_reading_them(local_storage, tmp_path):
    store = open_store(local_storage)
    folder = store.path("raw", "news", "date=2024-01-02")
    store.write_bytes(f"{folder}/good.jsonl", b"{}\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jsonl").write_text("outside the store\n")
    os.symlink("/dev/zero", f"{folder}/zero.jsonl")
    os.mkfifo(f"{folder}/pipe.jsonl")
    os.symlink(outside / "secret.jsonl", f"{folder}/linked.jsonl")
    os.symlink(outside, store.path("raw", "news", "date=2024-01-03"))

    listing = store.list_objects(store.path("raw", "news"))
    assert listing.files == {f"{folder}/good.jsonl": 3}
    assert listing.refused == {f"{folder}/zero.jsonl": "a symbolic link", f"{folder}/pipe.jsonl": "a FIFO",
                               f"{folder}/linked.jsonl": "a symbolic link",
                               store.path("raw", "news") + "/date=2024-01-03": "a symbolic link to a folder"}
    assert store.list_files(store.path("raw")) == [f"{folder}/good.jsonl"]


def test_local_reads_refuse_a_dev_zero_link_and_a_fifo_at_once(local_storage):
    store = open_store(local_storage)
    folder = store.path("raw", "charts", "date=2024-01-02")
    os.makedirs(folder)
    os.symlink("/dev/zero", f"{folder}/zero.png")
    os.mkfifo(f"{folder}/pipe.png")
    with pytest.raises(NotARegularFile, match="symbolic link"):
        store.read_bytes(f"{folder}/zero.png")
    with pytest.raises(NotARegularFile, match="FIFO"):  # would block forever if opened for reading
        store.read_table(f"{folder}/pipe.png")


def test_local_store_never_follows_a_symlinked_folder_out_of_the_root(local_storage, tmp_path):
    store = open_store(local_storage)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.txt").write_text("not the store's")
    os.makedirs(store.path("models"))
    os.symlink(outside, store.path("models") + "/run")
    target = f"{store.root}/models/run/current.json"
    assert not store.contains(target)
    with pytest.raises(PathOutsideStore, match="root"):
        store.path("models", "run", "current.json")
    with pytest.raises(PathOutsideStore, match="symbolic link"):
        store.write_bytes(target, b"{}")
    with pytest.raises(PathOutsideStore, match="symbolic link"):
        store.create_exclusive(target, b"{}")
    with pytest.raises(PathOutsideStore, match="symbolic link"):
        store.read_bytes(f"{store.root}/models/run/secret.txt")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]  # nothing written there
