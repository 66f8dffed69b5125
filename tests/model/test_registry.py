"""The features layer's list of chart encoders that read prices agrees with what each registered encoder reads."""

from __future__ import annotations

from storm.features.calls import RECORDING_READING_CALL_ENCODERS, TABLE_READING_CALL_ENCODERS
from storm.features.image import PRICE_READING_CHART_ENCODERS
from storm.model import encoders  # noqa: F401  (registers the encoders)
from storm.model.registry import CALL_ENCODERS, NEWS_ENCODERS, PRICE_ENCODERS, prices_encoder_reads_pixels


def test_charts_are_rendered_exactly_for_the_chart_encoders_that_read_pixels():
    names = list(PRICE_ENCODERS)
    assert set(PRICE_READING_CHART_ENCODERS) <= set(names)
    for name in names:
        assert prices_encoder_reads_pixels(name) == (name not in PRICE_READING_CHART_ENCODERS), name


def test_the_panel_reads_recordings_and_call_tables_exactly_for_the_calls_encoders_that_read_them():
    for name, encoder in CALL_ENCODERS.items():
        assert ("audio_valid" in encoder.input_keys) == (name in RECORDING_READING_CALL_ENCODERS), name
        assert ("call_valid" in encoder.input_keys) == (name in TABLE_READING_CALL_ENCODERS), name


def test_every_registered_encoder_is_a_default_or_a_documented_choice():
    """No encoder kept only for history: each one is the default or one the config comments offer."""
    assert set(NEWS_ENCODERS) == {"daily_evidence"}
    assert set(PRICE_ENCODERS) == {"price_evidence", "chart_evidence"}
    assert set(CALL_ENCODERS) == {"conference_evidence", "call_evidence", "call_sentences"}
