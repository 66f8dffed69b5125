"""StormHeads: horizon probabilities are non-decreasing for any input and any weights; logits stay trainable."""

import mpmath
import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from storm.model.heads import StormHeads, logit_of_cumulative_hazard

FLOAT_NOISE = 1e-6


def heads_with_random_weights(seed: int, hidden_dim: int, n_horizons: int, weight_scale: float) -> StormHeads:
    torch.manual_seed(seed)
    heads = StormHeads(hidden_dim, n_horizons, dropout=0.0)
    with torch.no_grad():
        for parameter in heads.parameters():
            parameter.normal_(0.0, weight_scale)
    return heads.eval()


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), hidden_dim=st.integers(1, 16), n_horizons=st.integers(1, 5),
       weight_scale=st.floats(0.01, 30.0), input_scale=st.floats(0.0, 100.0))
def test_storm_probabilities_never_fall_with_the_horizon(seed, hidden_dim, n_horizons, weight_scale, input_scale):
    heads = heads_with_random_weights(seed, hidden_dim, n_horizons, weight_scale)
    fused = torch.randn(32, hidden_dim, generator=torch.Generator().manual_seed(seed)) * input_scale
    logits, log_vol = heads(fused)
    assert logits.shape == (32, n_horizons) and log_vol.shape == (32,)
    assert torch.isfinite(logits).all()
    probabilities = torch.sigmoid(logits.double())
    assert (probabilities[:, 1:] - probabilities[:, :-1] >= -FLOAT_NOISE).all()
    assert (logits[:, 1:] >= logits[:, :-1]).all()  # the logit itself is monotone: cumulated hazards only grow


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), weight_scale=st.floats(0.01, 30.0), input_scale=st.floats(0.0, 100.0),
       label_seed=st.integers(0, 1000))
def test_bce_gradients_are_finite_for_any_weights(seed, weight_scale, input_scale, label_seed):
    heads = heads_with_random_weights(seed, 8, 3, weight_scale)
    fused = torch.randn(16, 8, generator=torch.Generator().manual_seed(seed)) * input_scale
    labels = (torch.rand(16, 3, generator=torch.Generator().manual_seed(label_seed)) < 0.3).float()
    logits, log_vol = heads(fused)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels) + log_vol.square().mean()
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in heads.parameters() if p.grad is not None)


def test_logit_equals_log_expm1_and_is_stable_at_both_ends():
    hazards = torch.tensor([1e-6, 1e-3, 0.5, 5.0, 19.9, 20.1, 60.0, 1e4], dtype=torch.float64)
    expected = [float(mpmath.log(mpmath.expm1(mpmath.mpf(h)))) for h in hazards.tolist()]  # exact reference
    np.testing.assert_allclose(logit_of_cumulative_hazard(hazards).numpy(), expected, rtol=1e-10)
    np.testing.assert_allclose(torch.sigmoid(logit_of_cumulative_hazard(hazards)).numpy(),
                               -np.expm1(-hazards.numpy()), rtol=1e-10)
    assert torch.isfinite(logit_of_cumulative_hazard(torch.tensor([1e-6, 1e4], dtype=torch.float32))).all()


def test_a_fresh_head_starts_near_rare_event_base_rates():
    heads = StormHeads(8, 3, dropout=0.0)
    with torch.no_grad():
        heads.interval_hazard.weight.zero_()
    probabilities = torch.sigmoid(heads(torch.randn(4, 8))[0])
    assert torch.allclose(probabilities[0], torch.tensor([0.03, 0.058, 0.086]), atol=0.002)


def test_a_head_can_learn_a_storm_rate_that_grows_with_the_horizon():
    torch.manual_seed(0)
    heads = StormHeads(4, 3, dropout=0.0)
    risky = torch.arange(512) % 2 == 0
    fused = torch.randn(512, 4) * 0.1
    fused[:, 0] = torch.where(risky, 2.0, -2.0)
    target = torch.where(risky[:, None], torch.tensor([0.3, 0.5, 0.8]), torch.tensor([0.01, 0.02, 0.05]))
    optimiser = torch.optim.Adam(heads.parameters(), lr=0.05)
    for _ in range(300):
        optimiser.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(heads(fused)[0], target)
        loss.backward()
        optimiser.step()
    learned = torch.sigmoid(heads(fused)[0]).detach()
    assert torch.allclose(learned[risky].mean(0), torch.tensor([0.3, 0.5, 0.8]), atol=0.05)
    assert torch.allclose(learned[~risky].mean(0), torch.tensor([0.01, 0.02, 0.05]), atol=0.02)


def test_the_volatility_loss_trains_its_own_head_but_not_the_storm_trunk():
    heads = StormHeads(hidden_dim=8, n_horizons=3)
    fused = torch.randn(4, 8, requires_grad=True)
    _, log_vol = heads(fused)
    log_vol.sum().backward()
    assert heads.volatility.weight.grad is not None and heads.volatility.weight.grad.abs().sum() > 0
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in heads.trunk.parameters())
    assert fused.grad is None or fused.grad.abs().sum() == 0
