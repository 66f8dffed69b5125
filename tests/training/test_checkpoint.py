import json

import torch

from storm.config import FeatureConfig, ModelConfig
from storm.model import build_model
from storm.training.checkpoint import CheckpointContents, TrainingState, read_checkpoint_dir, write_checkpoint_dir
from training_samples import HORIZONS, TINY_FEATURES, TINY_MODEL


def tiny_model():
    return build_model(ModelConfig(**TINY_MODEL), FeatureConfig(**TINY_FEATURES), HORIZONS)


def stepped_optimizer(model):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for parameter in model.parameters():
        parameter.grad = torch.ones_like(parameter)
    optimizer.step()
    return optimizer


def test_checkpoint_directory_roundtrips_weights_optimizer_and_state_without_pickle(tmp_path):
    model = tiny_model()
    optimizer = stepped_optimizer(model)
    state = TrainingState(epochs_done=3, best_selection=0.42, best_epoch=1, epochs_without_improvement=2,
                          history=[{"epoch": 0, "loss": 1.0, "val_auroc_20d": None}])
    best = {key: value + 1 for key, value in model.state_dict().items() if value.is_floating_point()}
    write_checkpoint_dir(tmp_path, CheckpointContents(model.state_dict(), best, optimizer.state_dict(), state))

    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".safetensors", ".safetensors", ".safetensors"]
    json.loads((tmp_path / "training_state.json").read_text())  # plain JSON
    restored = read_checkpoint_dir(tmp_path)
    assert restored.state == state
    for key, value in model.state_dict().items():
        assert torch.equal(restored.weights[key], value)
    assert all(torch.equal(restored.best_weights[key], best[key]) for key in best)

    fresh = tiny_model()
    fresh_optimizer = torch.optim.AdamW(fresh.parameters(), lr=1e-3)
    fresh.load_state_dict(restored.weights)
    fresh_optimizer.load_state_dict(restored.optimizer)
    original, loaded = optimizer.state_dict(), fresh_optimizer.state_dict()
    assert loaded["param_groups"] == original["param_groups"]
    for param_id, slots in original["state"].items():
        for name, value in slots.items():
            assert torch.equal(torch.as_tensor(loaded["state"][param_id][name]), torch.as_tensor(value))


def test_a_batch_checkpoint_keeps_each_job_and_an_older_single_checkpoint_reads_as_a_batch_of_one(tmp_path):
    from storm.training.checkpoint import BatchCheckpoint, read_batch_checkpoint_dir, write_batch_checkpoint_dir

    model = tiny_model()
    optimizer = stepped_optimizer(model)
    jobs = [CheckpointContents(model.state_dict(), model.state_dict(), optimizer.state_dict(),
                               TrainingState(epochs_done=epochs, best_epoch=epochs - 1)) for epochs in (4, 2)]
    write_batch_checkpoint_dir(tmp_path / "batch", BatchCheckpoint(["fold1", "fold1-only-news"], jobs))
    restored = read_batch_checkpoint_dir(tmp_path / "batch")
    assert restored.fingerprints == ["fold1", "fold1-only-news"]
    assert [job.state.epochs_done for job in restored.jobs] == [4, 2]

    write_checkpoint_dir(tmp_path / "single", jobs[1])
    legacy = read_batch_checkpoint_dir(tmp_path / "single")
    assert legacy.fingerprints == [] and [job.state.epochs_done for job in legacy.jobs] == [2]
