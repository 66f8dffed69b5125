"""Every registered fusion keeps the fusion contract for every pattern of missing modalities."""

from __future__ import annotations

import pytest
import torch

from storm.model import FUSIONS, create_fusion
from model_batches import MASK_PATTERNS

HIDDEN = 16


def _fusion(name: str):
    torch.manual_seed(0)
    return create_fusion(name, hidden_dim=HIDDEN, n_modalities=3, dropout=0.1).eval()


def _inputs(pattern: list[int], size: int = 5):
    embeddings = torch.randn(size, 3, HIDDEN, generator=torch.Generator().manual_seed(1))
    return embeddings, torch.tensor([pattern] * size, dtype=torch.float32)


@pytest.mark.parametrize("pattern", list(MASK_PATTERNS.values()), ids=list(MASK_PATTERNS))
@pytest.mark.parametrize("name", sorted(FUSIONS))
def test_fusion_weights_are_zero_on_missing_and_sum_to_one_over_present(name, pattern):
    embeddings, mask = _inputs(pattern)
    fused, weights = _fusion(name)(embeddings, mask)
    assert fused.shape == (5, HIDDEN) and weights.shape == (5, 3)
    assert torch.isfinite(fused).all() and torch.isfinite(weights).all()
    assert (weights[mask == 0] == 0).all()
    expected_total = 1.0 if any(pattern) else 0.0
    assert torch.allclose(weights.sum(dim=1), torch.full((5,), expected_total), atol=1e-6)


@pytest.mark.parametrize("name", sorted(FUSIONS))
def test_sample_with_nothing_present_gets_the_learned_nothing_embedding(name):
    fusion = _fusion(name)
    embeddings, mask = _inputs([0, 0, 0], size=2)
    fused, _ = fusion(embeddings, mask)
    assert torch.equal(fused, fusion.nothing.expand(2, -1))
    fused.sum().backward()
    assert fusion.nothing.grad is not None and fusion.nothing.grad.abs().sum() > 0


@pytest.mark.parametrize("name", sorted(FUSIONS))
def test_missing_modality_embedding_does_not_change_fused_output(name):
    fusion = _fusion(name)
    embeddings, mask = _inputs([1, 0, 1])
    changed = embeddings.clone()
    changed[:, 1] += 100.0
    assert torch.allclose(fusion(embeddings, mask)[0], fusion(changed, mask)[0], atol=1e-6)
    changed_present = embeddings.clone()
    changed_present[:, 2] = torch.randn(5, HIDDEN)
    assert not torch.allclose(fusion(embeddings, mask)[0], fusion(changed_present, mask)[0], atol=1e-4)


@pytest.mark.parametrize("name", ["gated", "attention"])
def test_learned_weights_differ_between_samples(name):
    embeddings, mask = _inputs([1, 1, 1], size=4)
    _, weights = _fusion(name)(embeddings, mask)
    assert weights.std(dim=0).max() > 1e-4


def test_concat_weights_are_equal_over_present_modalities():
    embeddings, mask = _inputs([1, 0, 1], size=1)
    _, weights = _fusion("concat")(embeddings, mask)
    assert torch.allclose(weights, torch.tensor([[0.5, 0.0, 0.5]]))
