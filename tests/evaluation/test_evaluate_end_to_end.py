"""Walk-forward `evaluate` through the real trainer and predictor on a tiny hand-written world (real local Ray)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from sklearn.metrics import roc_auc_score

from storm.config import LabelConfig, StorageConfig, StormConfig
from storm.evaluation import evaluate
from storm.evaluation.runner import fold_run
from storm.ingest import read_prices
from storm.labels import label_table
from storm.store import Layout, ObjectStore, open_store
from storm.published.artifacts import read_model

N_DAYS = 200
DATES = list(pd.bdate_range("2019-01-07", periods=N_DAYS).strftime("%Y-%m-%d"))
TINY = {
    "features.chart_size": 32, "features.chart_days": 10, "features.n_mels": 16, "features.call_mel_frames": 32,
    "features.window_days": 10, "model.modalities": ["prices", "calls"], "model.hidden_dim": 16,
    "model.chart_backbone": "resnet10t", "train.epochs": 1, "train.num_workers": 1, "train.batch_size": 32,
    "train.folds": 2, "train.validation_fraction": 0.3, "labels.horizons": [5, 20],
}


def write_world(layout: Layout, scramble_from: int | None = None) -> None:
    """Two markets of random-walk prices with 15% crashes spread over the history; the truth is the storm label.

    `scramble_from`: shuffle the daily returns from that day on (the labels there change, nothing before does).
    """
    for seed, market in enumerate(["AAA", "BBB"]):
        rng = np.random.default_rng(seed)
        returns = rng.standard_normal(N_DAYS) * 0.01
        for crash in (30 + 7 * seed, 68 + 5 * seed, 110 + 3 * seed, 150 + 4 * seed, 185):
            returns[crash:crash + 4] = -0.045
        if scramble_from is not None:
            returns[scramble_from:] = np.random.default_rng(99 + seed).permutation(returns[scramble_from:])
        close = 100 * np.exp(np.cumsum(returns))
        frame = pd.DataFrame({"date": DATES, "open": close, "high": close * 1.01, "low": close * 0.99, "close": close,
                              "volume": 1e6})
        layout.store.write_table(layout.prices(market), frame)
    labels = label_table(read_prices(layout.store, layout), LabelConfig(horizons=[20]))
    layout.store.write_table(layout.truth_fragility(),
                             labels[["market", "date"]].assign(fragility=labels["storm_20d"].fillna(0.5)))


def calibration_of(layout: Layout, run: str) -> dict:
    return read_model(layout.store, layout, run).calibration.to_json()


def evaluate_counting_stores(opened: list, monkeypatch):
    """`evaluate`, appending to ``opened`` how many object stores each call opened in this process."""
    original = ObjectStore.__init__
    count = [0]

    def counting(self, *args, **kwargs):
        count[0] += 1
        original(self, *args, **kwargs)

    monkeypatch.setattr(ObjectStore, "__init__", counting)

    def counted(*args, **kwargs):
        count[0] = 0
        result = evaluate(*args, **kwargs)
        opened.append(count[0])
        return result

    return counted


def count_ray_train_fits(monkeypatch) -> list[int]:
    """Appends, per Ray Train fit, how many models its worker group trained."""
    from storm.training import trainer

    fits: list[int] = []

    class CountingTrainer(trainer.TorchTrainer):
        def __init__(self, *args, train_loop_config, **kwargs):
            fits.append(len(train_loop_config["jobs"]))
            super().__init__(*args, train_loop_config=train_loop_config, **kwargs)

    monkeypatch.setattr(trainer, "TorchTrainer", CountingTrainer)
    return fits


@pytest.fixture(scope="module")
def evaluated_tiny(ray_cluster, tmp_path_factory):
    """The tiny world evaluated once: 2 folds and the final model, the Ray Train fits and opened stores counted."""
    config = StormConfig(storage=StorageConfig(root=str(tmp_path_factory.mktemp("evaluated") / "store"))).with_overrides(TINY)
    layout = Layout(open_store(config.storage))
    write_world(layout)
    opened: list[int] = []
    with pytest.MonkeyPatch.context() as monkeypatch:
        counted = evaluate_counting_stores(opened, monkeypatch)
        fits = count_ray_train_fits(monkeypatch)
        outcome = counted(config, "tiny", skip_single_modality=True, final_model=True)  # 3 fused models: 2 cores
    return config, layout, outcome, fits, opened


def test_walk_forward_report_has_folds_pooled_figures_and_baselines_and_reruns_reuse_the_folds(evaluated_tiny,
                                                                                               monkeypatch):
    config, layout, outcome, fits, opened = evaluated_tiny
    assert fits == [6]  # two folds and the final model, each after its prices anchor: Ray Train started once
    assert outcome.final.summary["run"] == "tiny" and not outcome.final.summary["reused"]
    published = read_model(layout.store, layout, "tiny")  # the final model, republished with the stacked product
    assert published.version == outcome.product.version and published.product is not None
    assert published.card["weights_sha256"] == outcome.final.summary["weights_sha256"]
    for table in outcome.tables():
        Console(width=80).print(table)

    report = json.loads(layout.store.read_text(layout.report_file("tiny", "report.json")))
    assert [fold["periods"]["name"] for fold in report["folds"]] == ["fold1", "fold2"]
    tested = [fold["periods"]["test"] for fold in report["folds"]]
    assert tested[0]["end"] < tested[1]["start"] and tested[1]["end"] == DATES[-1]
    assert {"fused", "trail-vol", "garch", "price-logit", "frag-oracle"} <= set(report["headline"]["20"])
    pooled_rows = report["headline"]["20"]["fused"]["n_rows"]
    assert pooled_rows == sum(fold["metrics"]["20"]["fused"]["n_rows"] for fold in report["folds"]) > 0
    assert report["headline"]["20"]["frag-oracle"]["auroc"] == 1.0
    interval = report["versus_reference"]["20"]["garch"]["auroc"]
    assert interval["low"] <= interval["estimate"] <= interval["high"]
    expected = {"better", "worse", "not distinguishable"} if report["storms"]["20"]["judged"] else {"too few storms"}
    assert interval["verdict"] in expected
    # every headline AUROC is recomputed from predictions.parquet with scikit-learn
    predictions = layout.store.read_table(report["predictions"]).to_pandas()
    for (name, h), rows in predictions.groupby(["model", "horizon"]):
        by_fold = [(roc_auc_score(f["label"], f["probability"]), f["label"].sum() * (1 - f["label"]).sum())
                   for _, f in rows.dropna(subset=["label", "probability"]).groupby("fold") if f["label"].nunique() == 2]
        if by_fold:
            within = sum(a * p for a, p in by_fold) / sum(p for _, p in by_fold)
            assert report["headline"][str(h)][name]["auroc"] == pytest.approx(within, abs=1e-6), (name, h)
    assert predictions.loc[predictions["model"] == "fused", "logit"].notna().all()
    assert set(report["ablation"]["20"]["masked"]) == {"prices", "calls"}
    runs = report["fold_runs"]
    assert runs["fold1"]["fused"]["run"] == fold_run("tiny", "fold1") and not runs["fold1"]["fused"]["reused"]
    assert set(report["stage_seconds"]) == {"panel", "baselines", "boosted", "train", "predict", "stack"}
    # the product is the stack (or its best member), the reference of every verdict, chosen on rows no member was
    # selected on: fold 1 among the incumbents on validation, fold 2 on fold 1's test block; the published one on both
    assert report["reference"] == "storm" and set(report["stack"]) == {"fold1", "fold2"}
    assert all(fit["shipped"] in fit["weights"] or fit["shipped"] == "stack"
               for by_horizon in report["stack"].values() for fit in by_horizon.values())
    assert all("incumbents only" in fit["judged_on"] for fit in report["stack"]["fold1"].values())
    assert all("test blocks of fold1," in fit["judged_on"] for fit in report["stack"]["fold2"].values())
    assert "test blocks of fold1, fold2," in published.card["product"]["notes"][0]
    assert all(seconds > 0 for seconds in report["stage_seconds"].values())
    assert all(layout.store.read_bytes(path).startswith(b"\x89PNG") for path in outcome.plot_paths)

    counted = evaluate_counting_stores(opened, monkeypatch)
    refits = count_ray_train_fits(monkeypatch)
    again = counted(config, "tiny", skip_single_modality=True, final_model=True)
    assert all(again.content["fold_runs"][f]["fused"]["reused"] for f in ("fold1", "fold2"))
    assert again.final.summary["reused"] and refits == []  # nothing trained, Ray Train not started
    assert opened == [1, 1]  # one object store per evaluation in this process, for the panel and every fold
    assert again.content["headline"] == report["headline"]  # same folds, same predictions, same figures and intervals


@pytest.mark.slow
def test_scrambling_the_test_period_changes_neither_the_folds_weights_nor_its_calibration(evaluated_tiny,
                                                                                        local_storage):
    """The same world with fold 1's test block (and all after it) shuffled, evaluated in a store of its own."""
    config, layout, first, _, _ = evaluated_tiny
    scrambled_layout = Layout(open_store(local_storage))
    fold1_test_start = DATES.index(first.content["folds"][0]["periods"]["test"]["start"])
    write_world(scrambled_layout, scramble_from=fold1_test_start)
    second = evaluate(config.with_overrides({"storage.root": local_storage.root}), "scrambled", folds=2,
                      skip_single_modality=True)
    plain, scrambled = first.content["fold_runs"]["fold1"]["fused"], second.content["fold_runs"]["fold1"]["fused"]
    assert plain["weights_sha256"] == scrambled["weights_sha256"]  # nothing of the test block reached training
    assert calibration_of(layout, fold_run("tiny", "fold1")) == calibration_of(scrambled_layout,
                                                                             fold_run("scrambled", "fold1"))
    assert first.content["folds"][0]["metrics"]["20"]["fused"] != second.content["folds"][0]["metrics"]["20"]["fused"]


def test_no_published_model_has_a_calibration_parameter_at_its_bound_or_an_alert_threshold_below_1e_6(evaluated_tiny):
    """A 1-epoch model on a 2-market world once published slope 20 (the bound) and thresholds of 1e-17: every score
    alerted. The prior toward the training base rate keeps every fold model and the final model inside."""
    from storm.published.calibration import INTERCEPT_BOUNDS, SLOPE_BOUNDS

    config, layout, outcome, _, _ = evaluated_tiny
    runs = [run["fused"]["run"] for run in outcome.content["fold_runs"].values()] + ["tiny"]
    for run in runs:
        calibration = read_model(layout.store, layout, run).calibration
        assert SLOPE_BOUNDS[0] + 1e-6 < calibration.slope < SLOPE_BOUNDS[1] - 1e-6, run
        assert all(INTERCEPT_BOUNDS[0] + 1e-6 < a < INTERCEPT_BOUNDS[1] - 1e-6 for a in calibration.intercept.values())
        assert min(calibration.threshold.values()) >= 1e-6, (run, calibration.threshold)
        assert calibration.prior is not None and set(calibration.prior.prior.base_rate) == {5, 20}


CHROMIUM = "/usr/bin/chromium"  # Debian's, installed by `make apt-test` (APT_TEST)


@pytest.mark.slow
def test_report_html_opens_in_headless_chromium_with_its_headline_table_and_every_plot_loaded(evaluated_tiny,
                                                                                             tmp_path):
    """The page a user opens: a real browser loads report.html from the store, runs its figure check on load, and
    the DOM it dumps holds the headline table (storm against every baseline) and every plot, decoded."""
    _, layout, outcome, _, _ = evaluated_tiny
    page = Path(outcome.content["html"])
    assert page.parent == Path(outcome.report_path).parent and Path(CHROMIUM).exists(), "run `make apt-test`"
    dom = subprocess.run([CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", f"--user-data-dir={tmp_path}",
                          "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    headline = re.search(r'<table id="headline">(.*?)</table>', dom, re.S)
    assert headline, dom[:2000]
    rows = re.findall(r"<tr><td>([^<]+)</td><td class=\"right\">(\d+d)</td>", headline.group(1))
    assert {(model, f"{h}d") for model in ("storm", "garch", "trail-vol") for h in (5, 20)} <= set(rows)
    images = re.findall(r"<img [^>]*>", dom)
    assert len(images) == len(outcome.plot_paths)
    assert all('data-loaded="yes"' in image for image in images), images
    assert '<p class="broken">' not in dom  # the page's own note under a figure that did not load
