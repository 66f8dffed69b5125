"""Turning raw storm logits into calibrated probabilities and alert thresholds.

Fit on validation days only (never on training days, whose logits are
over-confident). Temperature scaling (one scalar per horizon) or isotonic
regression; then per horizon the lowest threshold whose false-alarm rate on
non-storm validation days stays within `train.false_alarm_rate`. Stored as
plain JSON so a scan can load it without this code's classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression

Method = Literal["temperature", "isotonic"]
UNFIT_THRESHOLD = 0.5  # a horizon with no known non-storm validation day: a neutral fallback


@dataclass(frozen=True)
class Calibration:
    """Per horizon: how logits become probabilities, and where an alert starts."""

    method: str
    horizons: list[int]
    temperature: dict[int, float]
    threshold: dict[int, float]
    false_alarm_rate: float
    isotonic: dict[int, dict[str, list[float]]] = field(default_factory=dict)  # h -> {"x": logits, "y": probs}
    validation_false_alarm_rate: dict[int, float] = field(default_factory=dict)

    def probability(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probability [N, H] from raw logits [N, H]."""
        logits = np.asarray(logits, dtype=np.float64)
        columns = [self.probability_for(h, logits[:, i]) for i, h in enumerate(self.horizons)]
        return np.stack(columns, axis=1) if columns else np.zeros((len(logits), 0))

    def probability_for(self, horizon: int, logits: np.ndarray) -> np.ndarray:
        if self.method == "isotonic" and horizon in self.isotonic:
            points = self.isotonic[horizon]
            return np.interp(logits, points["x"], points["y"])
        return expit(np.asarray(logits, dtype=np.float64) / self.temperature[horizon])

    def alerts(self, probabilities: np.ndarray) -> np.ndarray:
        thresholds = np.array([self.threshold[h] for h in self.horizons])
        return np.asarray(probabilities) >= thresholds[None, :]

    def to_json(self) -> dict:
        return {
            "method": self.method,
            "horizons": list(self.horizons),
            "temperature": {str(h): t for h, t in self.temperature.items()},
            "threshold": {str(h): t for h, t in self.threshold.items()},
            "false_alarm_rate": self.false_alarm_rate,
            "validation_false_alarm_rate": {str(h): None if np.isnan(r) else r
                                            for h, r in self.validation_false_alarm_rate.items()},
            "isotonic": {str(h): points for h, points in self.isotonic.items()},
        }

    @classmethod
    def from_json(cls, data: dict) -> "Calibration":
        by_horizon = lambda mapping: {int(h): value for h, value in mapping.items()}  # noqa: E731
        return cls(
            method=data["method"], horizons=[int(h) for h in data["horizons"]],
            temperature={h: float(t) for h, t in by_horizon(data["temperature"]).items()},
            threshold={h: float(t) for h, t in by_horizon(data["threshold"]).items()},
            false_alarm_rate=float(data["false_alarm_rate"]),
            isotonic=by_horizon(data.get("isotonic", {})),
            validation_false_alarm_rate={h: float("nan") if r is None else float(r) for h, r in by_horizon(data.get("validation_false_alarm_rate", {})).items()},
        )


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T minimising the NLL of sigmoid(logit / T); 1.0 if one class is missing."""
    logits, labels = _known(logits, labels)
    if len(np.unique(labels)) < 2:
        return 1.0

    def nll(log_temperature: float) -> float:
        scaled = logits / np.exp(log_temperature)
        return float(np.mean(np.logaddexp(0.0, scaled) - labels * scaled))  # stable BCE-with-logits

    fitted = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(fitted.x))


def fit_isotonic(logits: np.ndarray, labels: np.ndarray) -> dict[str, list[float]]:
    """A monotone map logit -> probability as interpolation knots (JSON-friendly)."""
    logits, labels = _known(logits, labels)
    regression = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(logits, labels)
    return {"x": regression.X_thresholds_.tolist(), "y": regression.y_thresholds_.tolist()}


def threshold_for_false_alarm_rate(scores: np.ndarray, labels: np.ndarray, false_alarm_rate: float) -> float:
    """The lowest threshold t such that the share of non-storm days with score >= t is <= false_alarm_rate."""
    scores, labels = _known(scores, labels)
    calm = np.sort(scores[labels < 0.5])[::-1]
    if len(calm) == 0:
        return UNFIT_THRESHOLD
    allowed = int(np.floor(false_alarm_rate * len(calm)))  # calm days we may alert on
    if allowed >= len(calm):
        return float(calm[-1])
    return float(np.nextafter(calm[allowed], np.inf))  # just above the first calm day we must not alert on


def fit_calibration(logits: np.ndarray, labels: np.ndarray, horizons: list[int], false_alarm_rate: float,
                    method: Method = "temperature") -> Calibration:
    """Calibration per horizon from validation logits [N, H] and labels [N, H] (NaN = unknown)."""
    if method not in ("temperature", "isotonic"):
        raise ValueError(f"calibration method {method!r} is not one of 'temperature', 'isotonic'")
    temperature, isotonic = {}, {}
    for i, horizon in enumerate(horizons):
        temperature[horizon] = fit_temperature(logits[:, i], labels[:, i])
        if method == "isotonic" and len(np.unique(_known(logits[:, i], labels[:, i])[1])) == 2:
            isotonic[horizon] = fit_isotonic(logits[:, i], labels[:, i])  # else: temperature 1.0 stands in
    draft = Calibration(method=method, horizons=list(horizons), temperature=temperature, threshold={},
                        false_alarm_rate=false_alarm_rate, isotonic=isotonic)
    probabilities = draft.probability(logits)
    threshold, realised = {}, {}
    for i, horizon in enumerate(horizons):
        threshold[horizon] = threshold_for_false_alarm_rate(probabilities[:, i], labels[:, i], false_alarm_rate)
        realised[horizon] = observed_false_alarm_rate(probabilities[:, i], labels[:, i], threshold[horizon])
    return Calibration(method=method, horizons=list(horizons), temperature=temperature, threshold=threshold,
                       false_alarm_rate=false_alarm_rate, isotonic=isotonic, validation_false_alarm_rate=realised)


def observed_false_alarm_rate(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    """Share of known non-storm days alerted at `threshold` (NaN when there are none)."""
    scores, labels = _known(scores, labels)
    calm = scores[labels < 0.5]
    return float(np.mean(calm >= threshold)) if len(calm) else float("nan")


def _known(values: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, labels = np.asarray(values, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    keep = ~np.isnan(labels) & ~np.isnan(values)
    return values[keep], labels[keep]
