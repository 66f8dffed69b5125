"""The pixel chart: shape, what it draws where, and PNG bytes."""

import io

import numpy as np
import pandas as pd
from PIL import Image

from storm.charts import encode_png, render_chart


def ohlcv(closes, volumes=None) -> pd.DataFrame:
    closes = np.asarray(closes, dtype=float)
    opens = np.concatenate([[closes[0]], closes[:-1]])
    return pd.DataFrame({"open": opens, "high": np.maximum(opens, closes) * 1.01, "low": np.minimum(opens, closes) * 0.99,
                         "close": closes, "volume": np.ones_like(closes) if volumes is None else np.asarray(volumes, float)})


def test_chart_is_a_square_white_on_black_uint8_image():
    pixels = render_chart(ohlcv(np.linspace(100, 120, 20)), 64)
    assert pixels.shape == (64, 64) and pixels.dtype == np.uint8
    assert set(np.unique(pixels)) == {0, 255}


def test_rising_prices_put_the_last_close_tick_higher_than_the_first():
    pixels = render_chart(ohlcv(np.linspace(100, 150, 20)), 64)
    price_pane = pixels[: 64 - 14]
    columns_lit = np.flatnonzero(price_pane.any(axis=0))
    first_rows = np.flatnonzero(price_pane[:, columns_lit[0]])
    last_rows = np.flatnonzero(price_pane[:, columns_lit[-1]])
    assert last_rows.min() < first_rows.min() - 20  # row 0 is the top


def test_larger_volume_draws_a_taller_volume_bar():
    volumes = np.ones(20)
    volumes[-1] = 4.0
    pixels = render_chart(ohlcv(np.full(20, 100.0) + np.arange(20), volumes), 64)
    volume_pane = pixels[-13:]
    heights = volume_pane.sum(axis=0) // 255
    lit = heights[heights > 0]
    assert lit[-1] == 13 and lit[0] < lit[-1] / 2


def test_flat_prices_and_a_single_day_render_without_error():
    assert render_chart(ohlcv(np.full(20, 100.0)), 64).any()
    assert render_chart(ohlcv([100.0]), 32).shape == (32, 32)


def test_more_days_than_pixels_still_fit_the_square():
    pixels = render_chart(ohlcv(100 + np.sin(np.arange(60))), 64)
    assert pixels.shape == (64, 64) and pixels.any()


def test_png_round_trips_the_pixels_and_is_deterministic():
    pixels = render_chart(ohlcv(np.linspace(100, 90, 20)), 64)
    payload = encode_png(pixels)
    assert payload == encode_png(pixels)
    decoded = np.asarray(Image.open(io.BytesIO(payload)))
    assert decoded.dtype == np.uint8 and np.array_equal(decoded, pixels)
