"""Jiang–Kelly–Xiu style pixel charts of daily OHLCV, in pure numpy.

Each day is a 3-pixel column group: high–low bar in the middle, open tick on
the left, close tick on the right; a moving-average line runs through the
bars and volume bars fill the bottom fifth. White (255) on black (0), prices
scaled to the window's own min/max so the chart shows shape, not level.
Synthetic worlds draw their raw charts with it and the features stage renders
missing charts from prices with the same function, so its signature is a
contract (a leaf module: both layers import it).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from PIL import Image

PIXELS_PER_DAY = 3
VOLUME_FRACTION = 0.2
MOVING_AVERAGE_DAYS = 5
WHITE = 255


def render_chart(ohlcv: pd.DataFrame, image_size: int) -> np.ndarray:
    """uint8 [S, S] chart of the given rows (the last chart_days days up to and including the day)."""
    if len(ohlcv) == 0:
        return np.zeros((image_size, image_size), dtype=np.uint8)
    opens, highs, lows, closes, volumes = (ohlcv[c].to_numpy(dtype=np.float64) for c in ("open", "high", "low", "close", "volume"))
    moving_average = pd.Series(closes).rolling(MOVING_AVERAGE_DAYS, min_periods=1).mean().to_numpy()
    volume_rows = max(2, int(round(image_size * VOLUME_FRACTION)))
    price_rows = image_size - volume_rows - 1  # one black row between price and volume panes
    canvas = np.zeros((image_size, PIXELS_PER_DAY * len(ohlcv)), dtype=np.uint8)
    to_row = _price_scale(np.concatenate([highs, lows, opens, closes, moving_average]), price_rows)
    _draw_bars(canvas, to_row(opens), to_row(highs), to_row(lows), to_row(closes))
    _draw_moving_average(canvas, to_row(moving_average))
    _draw_volume(canvas, volumes, volume_rows)
    return _fit_width(canvas, image_size)


def encode_png(pixels: np.ndarray) -> bytes:
    """8-bit grayscale PNG bytes (same pixels give the same bytes)."""
    sink = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), mode="L").save(sink, format="PNG", optimize=False)
    return sink.getvalue()


def _price_scale(values: np.ndarray, price_rows: int):
    finite = values[np.isfinite(values)]
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    span = high - low

    def to_row(prices: np.ndarray) -> np.ndarray:
        if span <= 0:
            return np.full(prices.shape, price_rows // 2, dtype=np.int64)
        scaled = (high - np.nan_to_num(prices, nan=low)) / span * (price_rows - 1)
        return np.clip(np.rint(scaled), 0, price_rows - 1).astype(np.int64)

    return to_row


def _draw_bars(canvas: np.ndarray, open_row, high_row, low_row, close_row) -> None:
    days = np.arange(open_row.shape[0])
    rows = np.arange(canvas.shape[0])[:, None]
    bar = (rows >= high_row[None, :]) & (rows <= low_row[None, :])  # high is the upper (smaller) row
    canvas[:, PIXELS_PER_DAY * days + 1] = np.where(bar, WHITE, canvas[:, PIXELS_PER_DAY * days + 1])
    canvas[open_row, PIXELS_PER_DAY * days] = WHITE
    canvas[close_row, PIXELS_PER_DAY * days + 2] = WHITE


def _draw_moving_average(canvas: np.ndarray, average_row: np.ndarray) -> None:
    """One pixel per column, interpolated between day centres so the line is continuous."""
    columns = np.arange(canvas.shape[1])
    centres = PIXELS_PER_DAY * np.arange(average_row.shape[0]) + 1
    line_rows = np.rint(np.interp(columns, centres, average_row)).astype(np.int64)
    canvas[line_rows, columns] = WHITE


def _draw_volume(canvas: np.ndarray, volumes: np.ndarray, volume_rows: int) -> None:
    volumes = np.nan_to_num(np.maximum(volumes, 0.0))
    peak = volumes.max()
    heights = np.zeros(volumes.shape, dtype=np.int64) if peak <= 0 else np.rint(volumes / peak * volume_rows).astype(np.int64)
    rows_from_bottom = np.arange(canvas.shape[0])[::-1][:, None]
    bar = rows_from_bottom < heights[None, :]
    middle = PIXELS_PER_DAY * np.arange(volumes.shape[0]) + 1
    canvas[:, middle] = np.where(bar, WHITE, canvas[:, middle])


def _fit_width(canvas: np.ndarray, image_size: int) -> np.ndarray:
    """Centre a narrow chart on a black square; squeeze a wide one by max-pooling column bins."""
    width = canvas.shape[1]
    if width <= image_size:
        square = np.zeros((image_size, image_size), dtype=np.uint8)
        left = (image_size - width) // 2
        square[:, left:left + width] = canvas
        return square
    bin_starts = np.floor(np.arange(image_size) * width / image_size).astype(np.int64)
    return np.maximum.reduceat(canvas, bin_starts, axis=1)
