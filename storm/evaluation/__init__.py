"""Honest evaluation: a trained run on its own test period, against trailing volatility, GARCH and the oracle."""

from storm.evaluation.runner import EvaluationError, EvaluationReport, evaluate

__all__ = ["EvaluationError", "EvaluationReport", "evaluate"]
