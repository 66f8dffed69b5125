"""Which single-modality models a fold trains: all of the model's by default, a chosen subset, never a stranger."""

import pytest

from storm.config import StormConfig
from storm.evaluation.runner import FUSED, ModelVariant, fold_run, single_modalities


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


def test_model_variants_name_the_report_entries_and_only_single_modality_models_get_their_own_run():
    masked, only = ModelVariant("masked", "news"), ModelVariant("only", "calls")
    assert (FUSED.name, masked.name, only.name) == ("fused", "masked-news", "only-calls")
    assert (FUSED.masked_modalities, masked.masked_modalities, only.masked_modalities) == ([], ["news"], [])
    assert fold_run("demo", "fold1") == fold_run("demo", "fold1", masked) == "demo-fold1"
    assert fold_run("demo", "fold1", only) == "demo-fold1-only-calls"


def test_a_world_without_news_or_calls_has_only_prices_present():
    from storm.config import FeatureConfig
    from storm.features.planted import planted_panel

    panel = planted_panel(3, 80, FeatureConfig())
    assert panel.modalities_present() == ["news", "prices", "calls"]
    panel.text_count[:] = 0
    panel.conference_row = panel.conference_row[:0]
    panel.call_row = None
    assert panel.modalities_present() == ["prices"]
