"""Data worlds for demo, tests and evaluation: `synthetic` (hidden fragility) and `replay` (real prices)."""

from storm.charts import encode_png, render_chart
from storm.worlds.generate import WorldSummary, generate_world, plan_world
from storm.worlds.replay import PricesFileError

__all__ = ["generate_world", "plan_world", "WorldSummary", "render_chart", "encode_png", "PricesFileError"]
