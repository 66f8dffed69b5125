"""Chart images as model tensors, and charts rendered from prices where no PNG was given.

Rendering is pure numpy and cheap, so rendered charts are drawn at alignment time, not cached.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from storm.charts import render_chart
from storm.schema import PRICE_COLUMNS

# Chart-modality encoders that read the prices, never the pixels: for them no chart is rendered. (The features layer
# sits below the model; tests/model/test_registry.py checks this against every registered encoder's input keys.)
PRICE_READING_CHART_ENCODERS = frozenset({"price_evidence"})


def chart_tensor(pixels: np.ndarray, image_size: int) -> np.ndarray:
    """uint8 [H, W] grayscale -> float32 [1, S, S] in [-1, 1]; resized (bilinear), never flipped: time runs left to right."""
    gray = np.asarray(pixels)
    if gray.ndim == 3:  # a colour or alpha image slipped through: keep luminance
        gray = np.asarray(Image.fromarray(gray.astype(np.uint8)).convert("L"))
    if gray.shape != (image_size, image_size):
        gray = np.asarray(Image.fromarray(gray.astype(np.uint8)).resize((image_size, image_size), Image.BILINEAR))
    scaled = gray.astype(np.float32) / 255.0
    return ((scaled - 0.5) / 0.5)[None, :, :]


def price_window(prices: pd.DataFrame, date: str, chart_days: int) -> pd.DataFrame:
    """The last ``chart_days`` rows of one market's OHLCV up to and including ``date`` (sorted by date)."""
    upto = prices[prices["date"] <= date]
    return upto.tail(chart_days).reset_index(drop=True)[list(PRICE_COLUMNS)]


def rendered_chart_tensor(window: pd.DataFrame, image_size: int) -> np.ndarray:
    """A chart drawn from prices by storm.charts (the renderer that draws synthetic worlds' raw charts), as a tensor."""
    return chart_tensor(render_chart(window, image_size), image_size)
