"""Ray Train end to end on tiny data: 2 workers (DDP over gloo), real local Ray, a real store."""


import os

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from storm.config import StorageConfig
from storm.schema import storm_column
from storm.store import Layout, open_store
from storm.published.predictor import load_predictor
from storm.training.trainer import train
from storm.published.artifacts import read_model
from storm.published.calibration import INTERCEPT_BOUNDS, SLOPE_BOUNDS
from storm.published.inference import model_inputs
from storm.training.worker import FailOnce
from storm.features.windows import gather_windows
from storm.training.trainer import RunConflict
from training_samples import tiny_config, tiny_panel


@pytest.fixture(scope="module")
def trained_tiny(ray_cluster, tmp_path_factory):
    """One 2-worker run shared by the tests that inspect its outputs."""
    storage = StorageConfig(root=str(tmp_path_factory.mktemp("store")))
    evidence = tiny_panel()
    result = train(tiny_config(storage, epochs=4), evidence)
    return storage, evidence, result


def test_two_workers_learn_planted_signal_and_publish_a_calibrated_model(trained_tiny):
    storage, evidence, result = trained_tiny
    store = open_store(storage)
    layout = Layout(store)
    names = {path.rsplit("/", 1)[-1] for path in store.list_files(layout.model_dir("tiny"))}
    assert {"model.safetensors", "model.json", "calibration.json", "history.json", "split.json"} <= names
    assert not [name for name in names if name.endswith((".pkl", ".pt", ".pickle"))]
    card = read_model(store, layout, "tiny").card
    assert card["version"] == result.version and card["horizons"] == [5, 10, 20]
    assert card["trained_at"]["train"][1] < card["trained_at"]["validation"][0]
    assert [entry["epoch"] for entry in result.history] == [0, 1, 2, 3]
    assert all(entry["samples_per_second"] > 0 for entry in result.history)

    predictor = load_predictor(store, layout, "tiny")
    assert predictor.version == result.version and set(predictor.thresholds) == {5, 10, 20}
    assert result.split.test == [] and result.split.validation[-1] == evidence.dates[-6]  # the last labelled date
    held_out = gather_windows(evidence.panel, evidence.panel.rows_on(result.split.validation))
    scores = predictor.predict(held_out)
    known = ~np.isnan(held_out[storm_column(20)])
    auroc = roc_auc_score(held_out[storm_column(20)][known], scores["score_20d"][known])
    print(f"validation AUROC 20d {auroc:.3f}; {result.seconds:.1f}s, {result.samples_per_second:.0f} samples/s; {result.history}")
    assert auroc > 0.7
    assert scores["alert_20d"].dtype == bool and np.all((scores["score_20d"] >= 0) & (scores["score_20d"] <= 1))
    weights = np.stack([scores[f"weight_{m}"] for m in ("news", "prices", "calls")], axis=1)
    present = held_out["modality_mask"].sum(axis=1) > 0
    np.testing.assert_allclose(weights[present].sum(axis=1), 1.0, atol=1e-4)
    without_text = predictor.predict(held_out, mask_modalities=["news"])
    assert np.all(without_text["weight_news"] == 0)

    assert card["anchor_run"] == "tiny-only-prices"  # trained first, in the same worker group, and published
    prices_model = load_predictor(store, layout, "tiny-only-prices").model
    inputs = model_inputs(held_out, torch.device("cpu"))
    predictor.model.evidence_weight.fill_(0.0)
    priced = torch.as_tensor(held_out["modality_mask"][:, 1] > 0)  # without prices the fused model reads the rest
    assert priced.sum() > 0
    with torch.no_grad():
        assert torch.equal(predictor.model(inputs).storm_logits[priced], prices_model(inputs).storm_logits[priced])


def test_the_published_calibration_sits_inside_its_bounds_and_the_card_says_what_held_and_chose_it(trained_tiny):
    storage, _, result = trained_tiny
    store = open_store(storage)
    published = read_model(store, Layout(store), "tiny")
    calibration, card = published.calibration, published.card
    assert SLOPE_BOUNDS[0] < calibration.slope < SLOPE_BOUNDS[1]
    assert all(INTERCEPT_BOUNDS[0] < a < INTERCEPT_BOUNDS[1] for a in calibration.intercept.values())
    assert all(threshold >= 1e-6 for threshold in calibration.threshold.values())  # not "every score alerts"
    prior = card["calibration_prior"]
    assert prior["episodes"] == 5.0 and set(prior["base_rate"]) == set(prior["shrinkage"]) == {"5", "10", "20"}
    assert all(0 < rate < 1 for rate in prior["base_rate"].values())
    assert calibration.prior.validation_episodes == {int(h): n for h, n in prior["validation_episodes"].items()}
    selection = card["selection"]
    assert selection["chose"] == ["epoch", "evidence_share"] and selection["min_episodes"] == 10
    assert selection["criterion"] == result.history[result.best_epoch]["selection"]
    assert selection["evidence_weight"] == result.history[result.best_epoch]["evidence_weight"]


def test_only_the_anchored_model_reports_an_evidence_weight_per_epoch(trained_tiny):
    storage, _, result = trained_tiny
    store = open_store(storage)
    prices_only = read_model(store, Layout(store), "tiny-only-prices").history
    assert prices_only and not any("evidence_weight" in entry for entry in prices_only)  # it blends nothing
    assert all("evidence_weight" in entry for entry in result.history)


def test_init_from_another_run_starts_from_its_encoders_and_freezing_keeps_them(trained_tiny):
    storage, evidence, base = trained_tiny
    config = tiny_config(storage, run_name="transfer", epochs=1, init_from="tiny", freeze_encoders=True)
    result = train(config, evidence)
    store = open_store(storage)
    layout = Layout(store)
    base_weights = load_predictor(store, layout, "tiny").model.state_dict()
    new_weights = load_predictor(store, layout, "transfer").model.state_dict()
    encoder_keys = [key for key in base_weights if key.startswith("encoders.") and base_weights[key].is_floating_point()]
    head_keys = [key for key in base_weights if key.startswith("heads.")]
    assert encoder_keys and all(torch.equal(base_weights[key], new_weights[key]) for key in encoder_keys)
    assert any(not torch.equal(base_weights[key], new_weights[key]) for key in head_keys)
    assert read_model(store, layout, "transfer").card["init_from"] == "tiny"
    assert result.version != base.version


def test_too_few_dates_fail_before_any_worker_starts(ray_cluster, local_storage):
    with pytest.raises(ValueError, match="too few"):
        train(tiny_config(local_storage, embargo_days=20), tiny_panel(n_markets=1, n_days=25))


def test_rerunning_a_run_name_with_another_config_is_refused_unless_fresh(trained_tiny):
    storage, evidence, result = trained_tiny
    changed = tiny_config(storage, epochs=1, learning_rate=1e-3)
    with pytest.raises(RunConflict, match="--fresh"):
        train(changed, evidence)
    store = open_store(storage)
    assert load_predictor(store, Layout(store), "tiny").version == result.version  # untouched by the refusal


def test_fresh_resets_only_checkpoints_and_fingerprint_never_the_published_model(local_storage):
    from storm.training.trainer import claim_run, stored_fingerprint

    store = open_store(local_storage)
    layout = Layout(store)
    kept = [layout.model_pointer("prod"), layout.model_version_file("prod", "abcdef123456", "model.json")]
    for path in kept:
        store.write_text(path, "{}")
    store.write_text(f"{layout.checkpoints_dir('prod')}/checkpoint_000001/training_state.json", "{}")
    store.write_text(layout.run_fingerprint_file("prod"), '{"fingerprint": "old"}')

    with pytest.raises(RunConflict):
        claim_run(store, layout, "prod", "new", fresh=False)
    claim_run(store, layout, "prod", "new", fresh=True)
    assert all(store.exists(path) for path in kept)
    assert not store.list_files(layout.checkpoints_dir("prod"))
    assert stored_fingerprint(store, layout, "prod") == "new"


def test_a_fresh_retrain_that_fails_leaves_the_published_model_servable(trained_tiny, tmp_path):
    """--fresh used to delete models/<run> before training: scans had no model until it ended, or at all."""
    storage, evidence, result = trained_tiny
    store = open_store(storage)
    layout = Layout(store)
    changed = tiny_config(storage, epochs=1, learning_rate=5e-4, max_failures=0)
    with pytest.raises(Exception):
        train(changed, evidence, fresh=True, fault=FailOnce(str(tmp_path / "failed"), epoch=0))
    assert (tmp_path / "failed").exists()
    assert load_predictor(store, layout, "tiny").version == result.version


def test_a_model_trained_after_another_in_one_worker_group_equals_it_trained_alone_with_the_same_seed(ray_cluster,
                                                                                                   local_storage):
    """An evaluation trains its fold models together so Ray Train starts once; each must still be the model its
    own training gives, bit for bit. The second model of a group (trained in workers that already trained another)
    is compared with the same model trained in a worker group of its own: the same seed gives the same weights."""
    from storm.training.trainer import TrainingRequest, train_models

    evidence = tiny_panel(n_markets=2, n_days=60)
    alone = train(tiny_config(local_storage, run_name="alone", epochs=2, learning_rate=1e-3), evidence)
    together = train_models([TrainingRequest(tiny_config(local_storage, run_name=f"together-{i}", epochs=2,
                                                         learning_rate=rate)) for i, rate in enumerate((5e-3, 1e-3))],
                            evidence)
    assert [result.run for result in together] == ["together-0", "together-1"]
    assert together[1].weights_sha256 == alone.weights_sha256
    assert together[0].weights_sha256 != together[1].weights_sha256
    store = open_store(local_storage)
    layout = Layout(store)
    assert store.list_files(layout.checkpoints_dir("together-0"), suffix="batch.json")  # one run dir, the first's
    assert not store.exists(layout.checkpoints_dir("together-1"))


def test_a_worker_failure_in_a_later_model_of_a_batch_resumes_it_from_s3_without_the_finished_one(ray_cluster,
                                                                                               s3_storage, tmp_path):
    """Checkpoints go to the object store (here a real S3 server), as on a cluster; the model finished before the
    failure is not trained again.

    The worker dies at the start of batch-b's epoch 2. A worker's report queue holds one report, so its epoch-0
    report was collected before its epoch-1 report was queued; the epoch-1 report may die with the worker (Ray
    Train's semantics). The resumed attempt therefore starts at epoch 1 or 2, never 0.
    """
    from storm.training.trainer import TrainingRequest, train_models

    evidence = tiny_panel(n_markets=2, n_days=60)
    requests = [TrainingRequest(tiny_config(s3_storage, run_name=name, epochs=3, max_failures=1))
                for name in ("batch-a", "batch-b")]
    first, second = train_models(requests, evidence, fault=FailOnce(str(tmp_path / "failed"), epoch=2, run="batch-b"))
    assert (tmp_path / "failed").exists()
    assert [entry["epoch"] for entry in second.history] == [0, 1, 2]
    assert [entry["attempt_start_epoch"] for entry in first.history] == [0, 0, 0]  # finished before the failure
    starts = [entry["attempt_start_epoch"] for entry in second.history]
    assert starts[0] == 0 and starts[-1] in (1, 2), starts  # resumed from a checkpoint on S3, not from scratch
    store = open_store(s3_storage)
    layout = Layout(store)
    assert store.list_files(layout.checkpoints_dir("batch-a"), suffix="training_state.json")
    assert load_predictor(store, layout, "batch-b").version == second.version
