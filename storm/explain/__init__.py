"""Why a score is what it is: exact Shapley values over the modalities, and the items that moved each one.

``shapley``: the coalition arithmetic (pure numpy). ``attribution``: the model passes (plain torch:
StormModel.encode once, StormModel.fuse per coalition and per occluded item), of a bare model or of a published
predictor's scores (``explain_batch``). ``headlines``: the
day's headlines read back from the raw news and the text feature cache. ``table``: the stored
explanations table and what the scan and ``storm explain`` print from it.
"""

from storm.explain.attribution import Explanation, explain_batch, explain_windows
from storm.explain.shapley import COALITIONS, shapley_values

__all__ = ["COALITIONS", "Explanation", "explain_batch", "explain_windows", "shapley_values"]
