import math

import numpy as np
import torch

from storm.training.losses import StormLoss, masked_bce, pos_weights_from_labels


def test_pos_weight_is_negative_to_positive_ratio_ignoring_nan():
    labels = np.array([[1, 0], [0, 0], [0, np.nan], [0, 1], [np.nan, 0]], dtype=np.float32)
    assert pos_weights_from_labels(labels) == [3.0, 3.0]


def test_pos_weight_is_one_when_a_horizon_has_no_storms():
    assert pos_weights_from_labels(np.zeros((4, 1))) == [1.0]


def test_nan_labels_do_not_contribute_to_loss_or_gradient():
    logits = torch.tensor([[2.0, -1.0], [0.5, 3.0]], requires_grad=True)
    labels = torch.tensor([[1.0, float("nan")], [0.0, float("nan")]])
    loss = masked_bce(logits, labels, torch.ones(2))
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], labels[:, 0])
    assert torch.isclose(loss, expected)
    loss.backward()
    assert torch.all(logits.grad[:, 1] == 0) and torch.all(logits.grad[:, 0] != 0)


def test_pos_weight_raises_the_cost_of_missing_a_storm():
    logits, labels = torch.tensor([[-2.0]]), torch.tensor([[1.0]])
    assert masked_bce(logits, labels, torch.tensor([4.0])) > 3.9 * masked_bce(logits, labels, torch.tensor([1.0]))


def test_total_is_weighted_sum_and_volatility_ignores_unknown_targets():
    loss_fn = StormLoss([1.0], storm_weight=2.0, volatility_weight=0.5)
    parts = loss_fn(torch.zeros(2, 1), torch.tensor([1.0, 100.0]), torch.tensor([[1.0], [0.0]]),
                    torch.tensor([3.0, float("nan")]))
    assert math.isclose(float(parts.volatility), 4.0, rel_tol=1e-6)
    assert math.isclose(float(parts.total), 2.0 * math.log(2) + 0.5 * 4.0, rel_tol=1e-6)


def test_all_labels_unknown_gives_zero_loss_not_nan():
    parts = StormLoss([1.0])(torch.zeros(2, 1, requires_grad=True), torch.zeros(2, requires_grad=True),
                             torch.full((2, 1), float("nan")), torch.full((2,), float("nan")))
    assert float(parts.total.detach()) == 0.0
    parts.total.backward()
