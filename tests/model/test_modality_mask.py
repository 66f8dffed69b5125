"""Modality dropout and the effective modality mask (pure tensor logic)."""

from __future__ import annotations

import torch

from storm.model import drop_modalities, present_modalities


def _random_present(rows: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(rows, 3, generator=torch.Generator().manual_seed(seed)) > 0.4


def test_dropout_never_drops_every_present_modality_of_a_sample():
    present = _random_present(5000)
    kept = drop_modalities(present, 0.95, generator=torch.Generator().manual_seed(1))
    assert (kept.any(dim=1) == present.any(dim=1)).all()


def test_dropout_only_removes_modalities_never_adds_missing_ones():
    present = _random_present(2000)
    kept = drop_modalities(present, 0.5, generator=torch.Generator().manual_seed(2))
    assert not (kept & ~present).any()
    assert (present & ~kept).any()


def test_dropout_rate_is_close_to_the_configured_probability_when_several_are_present():
    present = torch.ones(20000, 3, dtype=torch.bool)
    kept = drop_modalities(present, 0.2, generator=torch.Generator().manual_seed(3))
    dropped_fraction = 1 - kept.float().mean().item()
    # 0.2 less the rare all-three-dropped rows (0.2**3 = 0.8%) that keep one back
    assert 0.17 < dropped_fraction < 0.21


def test_zero_probability_keeps_the_mask_unchanged():
    present = _random_present(100)
    assert torch.equal(drop_modalities(present, 0.0), present)


def test_disabled_modalities_and_text_without_headlines_count_as_missing():
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    enabled = torch.tensor([True, True, False])
    present = present_modalities(mask, enabled, text_count=torch.tensor([3, 0]))
    assert present.tolist() == [[True, True, False], [False, True, False]]
