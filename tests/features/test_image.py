import numpy as np
import pandas as pd

from storm.features.image import chart_tensor, price_window, rendered_chart_tensor


def test_chart_tensor_is_float_in_minus_one_to_one_with_a_channel_axis():
    pixels = np.array([[0, 255], [128, 255]], dtype=np.uint8)
    tensor = chart_tensor(pixels, 2)
    assert tensor.shape == (1, 2, 2) and tensor.dtype == np.float32
    np.testing.assert_allclose(tensor[0], [[-1.0, 1.0], [128 / 255 * 2 - 1, 1.0]], atol=1e-6)


def test_chart_is_resized_to_image_size_without_flipping_time():
    pixels = np.zeros((32, 32), dtype=np.uint8)
    pixels[:, 24:] = 255  # the latest days are on the right
    tensor = chart_tensor(pixels, 16)
    assert tensor.shape == (1, 16, 16)
    assert tensor[0, :, -1].mean() > 0.9 and tensor[0, :, 0].mean() < -0.9


def prices(days: int) -> pd.DataFrame:
    dates = pd.bdate_range("2020-01-01", periods=days).strftime("%Y-%m-%d")
    close = np.linspace(100, 120, days)
    return pd.DataFrame({"date": dates, "open": close, "high": close + 1, "low": close - 1, "close": close,
                         "volume": np.full(days, 1e6)})


def test_price_window_ends_on_the_day_and_holds_chart_days_rows():
    history = prices(30)
    window = price_window(history, history["date"][19], 10)
    assert len(window) == 10 and window["date"].iloc[-1] == history["date"][19]


def test_rendered_chart_depends_on_the_prices_it_draws():
    history = prices(30)
    early, late = price_window(history, history["date"][10], 10), price_window(history, history["date"][25], 10)
    tensor = rendered_chart_tensor(early, 32)
    assert tensor.shape == (1, 32, 32) and tensor.max() == 1.0 and tensor.min() == -1.0
    assert not np.array_equal(tensor, rendered_chart_tensor(late.assign(close=late["close"][::-1].to_numpy()), 32))
