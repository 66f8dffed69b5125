"""The nightly scan on real parts: a tiny generated world, a model trained with Ray Train,
Ray Data batch inference, the object store, and a real Pushgateway + Prometheus."""

from __future__ import annotations

import hashlib
import subprocess
import urllib.request

import pandas as pd
import pytest
from typer.testing import CliRunner

from servers import free_port, prometheus_query, prometheus_server, pushgateway_server, wait_until
from storm.cli import app
from storm.config import load_config
from storm.metrics import contract
from storm.scan import scan
from storm.scan.coherence import check_horizon_order
from storm.scan.score_store import ScoresOwnedByOtherVersion
from storm.schema import SCORE_COLUMNS
from storm.store import Layout, open_store
from storm.training import train
from storm.worlds import generate_world

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained_world(tmp_path_factory, ray_cluster):
    """3 markets x 90 days, one epoch of 2-worker training: enough to exercise every path, not to be accurate."""
    root = tmp_path_factory.mktemp("scan-world")
    config = load_config(environ={}, overrides={
        "storage.root": str(root / "store"),
        "world.n_markets": 3, "world.n_days": 90, "world.conferences_per_month": 4,
        "train.epochs": 1, "train.num_workers": 2, "train.batch_size": 32, "train.run_name": "scan-test",
        "metrics.textfile": str(root / "storm.prom"),
    })
    store = open_store(config.storage)
    world = generate_world(config, store, progress=False)
    recode_conferences(store, Layout(store))
    train(config)
    return config, world, store


def recode_conferences(store, layout: Layout) -> None:
    """Calls arrive as vendors publish them: every third as MP3, every third as FLAC, the rest WAV (libsndfile)."""
    import io

    import soundfile

    for index, path in enumerate(sorted(store.list_files(layout.raw_dir("audio"), ".wav"))):
        suffix = (".wav", ".mp3", ".flac")[index % 3]
        if suffix == ".wav":
            continue
        samples, rate = soundfile.read(io.BytesIO(store.read_bytes(path)), dtype="float32")
        sink = io.BytesIO()
        soundfile.write(sink, samples, rate, format=suffix[1:].upper())
        store.write_bytes(path.removesuffix(".wav") + suffix, sink.getvalue())
        store.delete([path])


def test_scan_of_the_last_day_scores_every_market_and_horizon(trained_world):
    config, world, store = trained_world
    outcome = scan(config, publish=False)
    assert outcome.dates == [world.end]
    scores = store.read_table(Layout(store).scores(world.end)).to_pandas()
    assert list(scores.columns) == list(SCORE_COLUMNS)
    assert sorted(set(scores.market)) == sorted(world.markets)
    assert sorted(set(scores.horizon)) == config.labels.horizons
    assert scores.score.between(0, 1).all()
    assert (scores.alert | (scores.score < scores.threshold)).all()  # over its threshold: an alert (nested, see below)
    check_horizon_order(scores)  # P(≤5d) ≤ P(≤10d) ≤ P(≤20d), and an alert at 5d is one at 20d too
    present = scores[["present_text", "present_image", "present_audio"]].to_numpy()
    weights = scores[["weight_text", "weight_image", "weight_audio"]].to_numpy()
    assert (weights[~present] == 0).all()
    assert abs(weights.sum(axis=1) - 1).max() < 1e-5


def test_mp3_and_flac_conferences_are_decoded_and_scored_like_wav(trained_world):
    from storm.features.panel import build_panel

    config, world, store = trained_world
    layout = Layout(store)
    suffixes = {path.rsplit(".", 1)[-1] for path in store.list_files(layout.raw_dir("audio"))}
    assert suffixes == {"wav", "mp3", "flac"}
    build = build_panel(config, world.start, world.end)
    assert build.report.counts["audio"]["quarantined"] == 0
    assert len(build.panel.conference_row) == len(store.list_files(layout.raw_dir("audio")))  # every call, any format
    outcome = scan(config, publish=False)
    assert outcome.scores[world.end]["present_audio"].any()


def test_rerunning_a_backfill_replaces_each_date_with_identical_bytes(trained_world):
    config, world, store = trained_world
    layout = Layout(store)
    days = sorted(store.read_table(layout.prices(world.markets[0])).to_pandas()["date"])[-3:]

    def digest() -> dict[str, str]:
        return {d: hashlib.sha256(store.read_bytes(layout.scores(d))).hexdigest() for d in days}

    scan(config, start=days[0], end=days[-1], publish=False)
    first = digest()
    scan(config, start=days[0], end=days[-1], publish=False)
    assert digest() == first
    assert len([p for p in store.list_files(layout.scores_dir(), ".parquet") if any(d in p for d in days)]) == 3


def test_market_with_no_inputs_that_day_is_reported_missing_not_silently_skipped(trained_world):
    config, world, store = trained_world
    layout = Layout(store)
    gone = world.markets[0]
    day = world.end
    # the scan sees a window of past days: take every chart, call and headline of the market out of the store
    for modality in ("image", "audio"):
        store.delete([p for p in store.list_files(layout.raw_dir(modality)) if f"/{gone}" in p])
    for news in store.list_files(layout.raw_dir("text"), ".jsonl"):
        kept = [line for line in store.read_text(news).splitlines() if f'"{gone}"' not in line]
        store.write_text(news, "\n".join(kept) + "\n")
    no_rendering = config.with_overrides({"features.render_missing_charts": False})  # no chart drawn from prices either
    outcome = scan(no_rendering, start=day, end=day, publish=False, force=True)
    stats = outcome.stats[day]
    assert gone in stats.markets_missing
    assert gone not in set(outcome.scores[day].market)
    assert stats.inputs["image"]["missing"] >= 1


def test_a_candidate_scans_into_its_own_namespace_and_another_version_may_not_overwrite_production(trained_world):
    config, world, store = trained_world
    layout = Layout(store)
    scan(config, publish=False)
    production = store.read_bytes(layout.scores(world.end))
    candidate = config.with_overrides({"train.run_name": "scan-candidate", "train.seed": 1})
    train(candidate)
    scan(candidate, publish=False, candidate=True)
    assert store.exists(layout.scores(world.end, "scan-candidate"))
    with pytest.raises(ScoresOwnedByOtherVersion, match="--force"):
        scan(candidate, publish=False)
    assert store.read_bytes(layout.scores(world.end)) == production


def test_scan_metrics_reach_prometheus_through_the_pushgateway_and_pass_promtool(trained_world, tmp_path):
    config, world, _ = trained_world
    (tmp_path / "gw").mkdir(), (tmp_path / "prom").mkdir()
    with pushgateway_server(tmp_path / "gw") as gateway, prometheus_server(tmp_path / "prom", gateway.address) as prom:
        outcome = scan(config.with_overrides({"metrics.pushgateway_url": gateway.url}))
        assert outcome.publish_error is None
        wait_until(lambda: prometheus_query(prom.url, contract.SCAN_INPUTS), what="the scan's metrics in Prometheus")
        for metric in contract.ALL_METRICS:
            assert prometheus_query(prom.url, metric), f"{metric} missing from Prometheus"
        scored_markets = {series["metric"]["market"] for series in prometheus_query(prom.url, contract.ALERT_SCORE)}
    assert scored_markets == set(world.markets)
    exposition = open(config.metrics.textfile, "rb").read()
    check = subprocess.run(["promtool", "check", "metrics"], input=exposition, capture_output=True)
    assert check.returncode == 0, check.stderr.decode() + check.stdout.decode()


def test_failed_push_keeps_the_scores_and_metrics_push_republishes_them(trained_world, tmp_path):
    config, world, store = trained_world
    dead = config.with_overrides({"metrics.pushgateway_url": f"http://127.0.0.1:{free_port()}",
                                  "metrics.push_retries": 1, "metrics.push_backoff_seconds": 0.01})
    outcome = scan(dead)
    assert outcome.publish_error is not None and "storm metrics push --date" in str(outcome.publish_error)
    stored = store.read_table(Layout(store).scores(world.end)).to_pandas()
    pd.testing.assert_frame_equal(stored, outcome.scores[world.end])

    (tmp_path / "gw").mkdir()
    with pushgateway_server(tmp_path / "gw") as gateway:
        result = CliRunner().invoke(app, [
            "metrics", "push", "--date", world.end,
            "--set", f"storage.root={config.storage.root}", "--set", f"metrics.pushgateway_url={gateway.url}",
            "--set", f"metrics.textfile={tmp_path / 'again.prom'}",
        ])
        assert result.exit_code == 0, result.output
        pushed = urllib.request.urlopen(f"{gateway.url}/metrics", timeout=10).read().decode()
        for market in world.markets:
            assert f'market="{market}"' in pushed
