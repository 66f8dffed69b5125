"""The features layer's list of chart encoders that read prices agrees with what each registered encoder reads."""

from __future__ import annotations

from storm.features.image import PRICE_READING_CHART_ENCODERS
from storm.model import encoders  # noqa: F401  (registers the encoders)
from storm.model.registry import IMAGE_ENCODERS, image_encoder_reads_pixels


def test_charts_are_rendered_exactly_for_the_chart_encoders_that_read_pixels():
    names = list(IMAGE_ENCODERS)
    assert set(PRICE_READING_CHART_ENCODERS) <= set(names)
    for name in names:
        assert image_encoder_reads_pixels(name) == (name not in PRICE_READING_CHART_ENCODERS), name
