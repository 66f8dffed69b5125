import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from storm.config import FeatureConfig, ModelConfig
from storm.model import build_model
from storm.published.inference import predict
from storm.training.loop import evaluation_loss, train_epoch
from storm.training.losses import StormLoss, pos_weights_from_labels
from training_samples import HORIZONS, TINY_FEATURES, TINY_MODEL, batches_of, tiny_panel


def test_a_few_epochs_learn_the_planted_signal():
    torch.manual_seed(0)
    features = FeatureConfig(**TINY_FEATURES)
    panel = tiny_panel(n_markets=1, n_days=300, features=features, seed=3).panel
    train_rows, held_out = np.arange(220), np.arange(220, 300)
    loss_fn = StormLoss(pos_weights_from_labels(panel.labels[train_rows]))
    model = build_model(ModelConfig(**TINY_MODEL), features, HORIZONS)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    before = evaluation_loss(predict(model, batches_of(panel, held_out, 64), HORIZONS), loss_fn)
    shuffled = np.random.default_rng(0).permutation(train_rows)
    losses = [train_epoch(model, batches_of(panel, shuffled, 32), optimizer, loss_fn, HORIZONS).loss for _ in range(3)]
    outputs = predict(model, batches_of(panel, held_out, 64), HORIZONS)
    assert losses[-1] < losses[0]
    assert evaluation_loss(outputs, loss_fn) < before
    known = ~np.isnan(outputs["storm_labels"][:, -1])
    assert roc_auc_score(outputs["storm_labels"][known, -1], outputs["storm_logits"][known, -1]) > 0.75


def test_bf16_autocast_path_runs_the_model_in_bf16_and_still_updates_fp32_weights():
    """The GPU path (bf16 autocast) exercised on CPU; bf16 convolutions are slow here, so only a few rows."""
    features = FeatureConfig(**TINY_FEATURES)
    panel = tiny_panel(n_markets=1, n_days=24, features=features, unknown_tail=0).panel
    rows = np.arange(24)
    model = build_model(ModelConfig(**TINY_MODEL), features, HORIZONS)
    seen_dtypes = []
    model.heads.register_forward_hook(lambda module, args, output: seen_dtypes.append(output[0].dtype))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    before = {key: value.clone() for key, value in model.state_dict().items()}
    stats = train_epoch(model, batches_of(panel, rows, 12), optimizer, StormLoss([1.0, 1.0, 1.0]), HORIZONS, torch.bfloat16)
    assert seen_dtypes and all(dtype == torch.bfloat16 for dtype in seen_dtypes)
    assert np.isfinite(stats.loss) and stats.n_samples == 24
    assert all(value.dtype == before[key].dtype for key, value in model.state_dict().items())
    assert any(not torch.equal(value, before[key]) for key, value in model.state_dict().items())
    outputs = predict(model, batches_of(panel, rows, 12), HORIZONS, autocast_dtype=torch.bfloat16)
    assert outputs["storm_logits"].dtype == np.float32 and np.all(np.isfinite(outputs["storm_logits"]))


def test_predict_returns_outputs_and_labels_row_aligned():
    features = FeatureConfig(**TINY_FEATURES)
    panel = tiny_panel(n_markets=2, n_days=30, features=features, unknown_tail=5).panel
    model = build_model(ModelConfig(**TINY_MODEL), features, HORIZONS)
    outputs = predict(model, batches_of(panel, np.arange(60), 16), HORIZONS)
    assert outputs["storm_logits"].shape == (60, 3) and outputs["log_vol"].shape == (60,)
    assert outputs["modality_weights"].shape == (60, 3)
    np.testing.assert_array_equal(outputs["storm_labels"][:, 0], panel.labels[:, 0])


def test_the_loop_the_predictor_the_model_and_the_panel_arrays_import_without_ray():
    """A GPU machine for the AMP check (benchmarks/bench_gpu_training.py) has torch but no Ray."""
    import subprocess
    import sys

    probe = ("import sys; import storm.training.loop, storm.training.losses, storm.features.windows, storm.model; "
             "import storm.published.predictor; "
             "from storm.features.evidence_panel import EvidencePanel; "
             "print(sorted(name for name in sys.modules if name.split('.')[0] in ('ray', 'soundfile', 's3fs')))")
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert imported == "[]"
