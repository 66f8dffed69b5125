"""Writing worlds into the raw layout: same seed same bytes, paths where Layout says, truth kept apart."""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from storm.config import StorageConfig, StormConfig
from storm.store import Layout, open_store
from storm.worlds import generate_world
from storm.worlds.generate import WorldRootError

TINY_WORLD = {"world.n_markets": 2, "world.n_days": 80, "world.conferences_per_month": 1.0}


def tiny_config(storage: StorageConfig, **overrides) -> StormConfig:
    return StormConfig(storage=storage).with_overrides({**TINY_WORLD, **overrides})


def file_hashes(store) -> dict[str, str]:
    """Relative path → sha256 of every file under the store's root."""
    return {path[len(store.root) + 1:]: hashlib.sha256(store.read_bytes(path)).hexdigest()
            for path in store.list_files(store.root)}


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory):
    config = tiny_config(StorageConfig(root=str(tmp_path_factory.mktemp("world") / "store")))
    store = open_store(config.storage)
    summary = generate_world(config, store, progress=False)
    return config, store, summary


def test_same_seed_writes_identical_bytes_and_another_seed_does_not(tiny_world, tmp_path):
    config, store, _ = tiny_world
    again = open_store(StorageConfig(root=str(tmp_path / "again")))
    generate_world(config.with_overrides({"storage.root": again.root}), again, progress=False)
    assert file_hashes(again) == file_hashes(store)
    other = open_store(StorageConfig(root=str(tmp_path / "other")))
    generate_world(config.with_overrides({"storage.root": other.root, "world.seed": 8, "world.with_audio": False}),
                   other, progress=False)
    assert file_hashes(other)["raw/prices/ARDEN.parquet"] != file_hashes(store)["raw/prices/ARDEN.parquet"]


def test_every_modality_lands_where_the_layout_says(tiny_world):
    config, store, summary = tiny_world
    layout = Layout(store)
    manifest = json.loads(store.read_text(layout.world_manifest()))
    dates = pd.bdate_range(config.world.start_date, periods=80).strftime("%Y-%m-%d").tolist()
    assert manifest["markets"] == list(summary.markets) == ["ARDEN", "BOREAL"]
    assert (manifest["start"], manifest["end"]) == (dates[0], dates[-1])
    for market in summary.markets:
        prices = store.read_table(layout.prices(market)).to_pandas()
        assert list(prices.columns) == ["date", "open", "high", "low", "close", "volume"]
        assert prices["date"].tolist() == dates and (prices.dtypes.iloc[1:] == np.float64).all()
        assert all(store.exists(layout.chart(date, market)) for date in dates)
    news = store.list_files(layout.raw_dir("news"), ".jsonl")
    assert len(news) == summary.counts["news_files"] > 0
    assert all(path.startswith(layout.raw_dir("news") + "/date=") and path.endswith("/headlines.jsonl") for path in news)
    records = [json.loads(line) for line in store.read_text(news[0]).splitlines()]
    assert all(record["date"] in news[0] and record["market"] in summary.markets for record in records)
    audio = store.list_files(layout.raw_dir("audio"), ".wav")
    assert len(audio) == summary.counts["audio"] > 0
    date = audio[0].split("date=")[1].split("/")[0]
    market, event = Layout.market_and_event_of_audio(audio[0])
    assert audio[0] == layout.audio(date, market, event)


def test_audio_is_16khz_mono_16bit_pcm(tiny_world):
    import io
    import wave

    _, store, _ = tiny_world
    path = store.list_files(Layout(store).raw_dir("audio"), ".wav")[0]
    with wave.open(io.BytesIO(store.read_bytes(path))) as recording:
        assert (recording.getframerate(), recording.getnchannels(), recording.getsampwidth()) == (16000, 1, 2)
        assert recording.getnframes() > 16000


def test_every_recording_has_its_transcript_and_voice_beside_it_as_a_call_table(tiny_world):
    from storm.features.voice import recording_voice_of
    from storm.schema import PRAAT_COLUMNS
    from storm.worlds.speech import CALM_LINES, CLOSERS, OPENERS, STRAINED_LINES

    _, store, summary = tiny_world
    layout = Layout(store)
    audio = store.list_files(layout.raw_dir("audio"), ".wav")
    assert summary.counts["call_tables"] == summary.counts["audio"] == len(audio)
    for path in audio[:3]:
        date = path.split("date=")[1].split("/")[0]
        market, event = Layout.market_and_event_of_audio(path)
        table = store.read_table(layout.call_table(date, market, event)).to_pandas()
        assert table["sent_idx"].tolist() == list(range(len(table)))
        words = table["text"].dropna().tolist()
        assert len(words) >= 4 and words[0] in {opener.format(market=market) for opener in OPENERS} and words[-1] in CLOSERS
        assert any(line.format(number=0)[:20].lower() in " ".join(words).lower()
                   for line in CALM_LINES + STRAINED_LINES)
        heard = recording_voice_of(store.read_bytes(path), ".wav")
        voiced = table.dropna(subset=["Audio Length"])[list(PRAAT_COLUMNS)].to_numpy(float)
        assert len(heard) >= 2 and np.array_equal(voiced, heard, equal_nan=True)  # Praat's report of the recording


def test_true_fragility_is_only_in_the_truth_file(tiny_world):
    _, store, summary = tiny_world
    layout = Layout(store)
    truth = store.read_table(layout.truth_fragility()).to_pandas()
    assert list(truth.columns) == ["market", "date", "fragility"] and len(truth) == 2 * 80
    assert not layout.truth_fragility().startswith(store.path("raw"))
    assert "fragility" not in store.read_text(layout.world_manifest())
    for path in store.list_files(store.path("raw"), ".parquet"):
        assert "fragility" not in store.read_table(path).column_names


def test_rerun_with_fewer_days_leaves_no_stale_files(tmp_path):
    config = tiny_config(StorageConfig(root=str(tmp_path / "store")), **{"world.with_audio": False})
    store = open_store(config.storage)
    generate_world(config, store, progress=False)
    generate_world(config.with_overrides({"world.n_days": 60}), store, progress=False)
    charts = store.list_files(Layout(store).raw_dir("charts"), ".png")
    assert len(charts) == 2 * 60


def test_a_root_with_raw_data_not_generated_by_storm_is_refused(tmp_path):
    config = tiny_config(StorageConfig(root=str(tmp_path / "store")), **{"world.with_audio": False})
    store = open_store(config.storage)
    store.write_text(Layout(store).news_file("2020-01-02"), '{"market": "REAL", "headline": "real news"}\n')
    with pytest.raises(WorldRootError, match="did not write"):
        generate_world(config, store, progress=False)
    assert store.exists(Layout(store).news_file("2020-01-02"))


def test_replay_world_from_arch_writes_prices_and_charts_without_truth(tmp_path):
    config = StormConfig(storage=StorageConfig(root=str(tmp_path / "store"))).with_overrides({
        "world.kind": "replay", "world.replay_start": "2008-09-02", "world.replay_end": "2008-10-15",
        "world.with_audio": False})
    store = open_store(config.storage)
    summary = generate_world(config, store, progress=False)
    layout = Layout(store)
    assert summary.markets == ("SPX",) and summary.counts["charts"] == summary.trading_days > 25
    assert summary.storm_rate[20] > 0.5  # autumn 2008
    assert not store.exists(layout.truth_fragility())
    assert store.exists(layout.chart(summary.end, "SPX")) and summary.counts["headlines"] > 0


def test_synthetic_world_on_s3_writes_the_same_files_as_locally(s3_storage, tmp_path):
    overrides = {"world.n_markets": 1, "world.n_days": 60, "world.conferences_per_month": 1.0}
    local = open_store(StorageConfig(root=str(tmp_path / "local")))
    generate_world(StormConfig(storage=StorageConfig(root=local.root)).with_overrides(overrides), local, progress=False)
    remote = open_store(s3_storage)
    generate_world(StormConfig(storage=s3_storage).with_overrides(overrides), remote, progress=False)
    assert file_hashes(remote) == file_hashes(local)
