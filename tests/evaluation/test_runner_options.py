"""Which single-modality models a fold trains: all of the model's by default, a chosen subset, never a stranger."""

import pytest

from storm.config import StormConfig
from storm.evaluation.runner import single_modalities


def test_every_modality_of_the_model_by_default():
    config = StormConfig().with_overrides({"model.modalities": ["news", "prices"]})
    assert single_modalities(config) == ["news", "prices"]


def test_a_chosen_subset_is_trained_alone():
    config = StormConfig().with_overrides({"evaluation.single_modalities": ["prices"]})
    assert single_modalities(config) == ["prices"]


def test_a_modality_the_model_does_not_read_is_refused_by_name():
    config = StormConfig().with_overrides({"model.modalities": ["news", "prices"], "evaluation.single_modalities": ["calls"]})
    with pytest.raises(ValueError, match=r"\['calls'\], not among model.modalities"):
        single_modalities(config)
