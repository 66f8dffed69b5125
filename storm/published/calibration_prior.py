"""The prior a hazard calibration shrinks toward: the training base rate per horizon, worth a few storm episodes.

A validation block is one stretch of time and holds 0–2 storm episodes per horizon on a real market. Fitted
unpenalised, a horizon without a validation storm sends its intercept to its bound (every score ≈ 0, no alert) and
a handful of storms can send the slope to its bound (every score alerts). The training rows already say how often
storms come; the prior holds the calibration there with a strength counted in storm episodes, so a validation
block overrules it only with more evidence than that (storm.published.calibration fits with it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from storm.labels import count_storm_episodes

INTERCEPT_SEARCH = (-200.0, 200.0)  # α⁰ bracket: wide enough for any logit the heads can give
# the slope prior never weaker than an intercept's: a factor e in β costs at least what a factor e in a horizon's base
# hazard does, however little log Λ varies (two separable days would otherwise send β to its bound)
MIN_SLOPE_VARIANCE = 1.0


@dataclass(frozen=True)
class CalibrationPrior:
    """What the training rows say about storms, per horizon, and how many storm episodes that is worth."""

    base_rate: dict[int, float]         # training share of storm days
    days_per_episode: dict[int, float]  # mean run of consecutive storm days of one market (≥ 1)
    episodes: float                     # prior strength, in storm episodes

    def strength(self, horizon: int) -> float:
        """τ_h: the prior's weight on the intercept, as many storm days as `episodes` episodes hold at this horizon.

        Near a small storm probability the likelihood's curvature in the intercept is about the number of storm
        days, and consecutive storm days of one fall are one event: so episodes × days per episode is a prior
        that counts like that many validation episodes."""
        return self.episodes * self.days_per_episode[horizon]

    def to_json(self) -> dict:
        return {"base_rate": {str(h): r for h, r in self.base_rate.items()},
                "days_per_episode": {str(h): d for h, d in self.days_per_episode.items()},
                "episodes": self.episodes}

    @classmethod
    def from_json(cls, data: dict) -> "CalibrationPrior":
        return cls(base_rate={int(h): float(r) for h, r in data["base_rate"].items()},
                   days_per_episode={int(h): float(d) for h, d in data["days_per_episode"].items()},
                   episodes=float(data["episodes"]))


def calibration_prior(market: np.ndarray, labels: np.ndarray, horizons: list[int], episodes: float) -> CalibrationPrior:
    """The prior from training rows grouped by market in date order (labels [N, H], NaN unknown).

    A horizon without a training storm gets base rate 0.5 / (n + 1) over its n known days (half a storm more than
    was seen: never 0, which no intercept reaches) and 1 day per episode; one without any known day gets 0.5. A
    horizon where every known day was a storm gets 1 − 0.5 / (n + 1) likewise.
    """
    market, labels = np.asarray(market), np.asarray(labels, dtype=np.float64)
    base_rate, days_per_episode = {}, {}
    for column, horizon in enumerate(horizons):
        known = ~np.isnan(labels[:, column])
        storm_days = int(np.sum(labels[known, column] == 1))
        runs = count_storm_episodes(market, labels[:, column])
        floor = 0.5 / (known.sum() + 1)
        base_rate[horizon] = float(np.clip(storm_days / known.sum() if storm_days else floor, floor, 1 - floor))
        days_per_episode[horizon] = float(storm_days / runs if runs else 1.0)
    return CalibrationPrior(base_rate=base_rate, days_per_episode=days_per_episode, episodes=float(episodes))


@dataclass(frozen=True)
class PriorTarget:
    """The prior made concrete on one validation block's logits: where it holds the hazard fit, and how hard.

    The fit is parameterised around `centre`, η = α'_h + β (log Λ − centre), and the prior holds α'_h at
    `intercept[h] + centre` (the β = 1 intercept) and log β at 0. The centre is the Fisher-weighted mean log Λ
    under the prior, where slope and intercept are nearly independent: turning the slope about it leaves the
    mean hazard almost where the base rate put it, so the two priors do not fight (about 0, a calm block's
    pull on the intercepts would drag the slope to its bound)."""

    intercept: np.ndarray          # α⁰_h [H]: at β = 1, the mean calibrated probability equals the base rate
    centre: float
    intercept_strength: np.ndarray  # τ_h [H]
    slope_strength: float           # τ_β

    @property
    def centred_intercept(self) -> np.ndarray:
        return self.intercept + self.centre


def prior_target(prior: CalibrationPrior, log_hazard: np.ndarray, labels: np.ndarray,
                 horizons: list[int]) -> PriorTarget:
    """α⁰, the centre and the strengths for validation log Λ [N, H] and labels [N, H] (NaN unknown).

    τ_β = mean over horizons of τ_h × the Fisher-weighted variance of log Λ within the horizon (at least
    MIN_SLOPE_VARIANCE): the likelihood's curvature in log β is about the storm days times that variance, so the
    slope is held by as many episodes as each intercept is."""
    log_hazard, labels = np.asarray(log_hazard, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    columns = [_fitted_on(log_hazard[:, j], labels[:, j]) for j in range(len(horizons))]
    intercept = np.array([_base_rate_intercept(x, prior.base_rate[h]) for x, h in zip(columns, horizons)])
    weights = [_fisher_weight(np.exp(np.minimum(a + x, 700.0))) for a, x in zip(intercept, columns)]
    pooled_x, pooled_w = np.concatenate(columns), np.concatenate(weights)
    centre = (float(np.average(pooled_x, weights=pooled_w)) if pooled_w.sum() > 0
              else float(np.mean(pooled_x)) if len(pooled_x) else 0.0)
    strength = np.array([prior.strength(h) for h in horizons])
    variances = [max(_weighted_variance(x, w), MIN_SLOPE_VARIANCE) for x, w in zip(columns, weights)]
    return PriorTarget(intercept=intercept, centre=centre, intercept_strength=strength,
                       slope_strength=float(np.mean(strength * np.array(variances))) if len(horizons) else 0.0)


def _fitted_on(log_hazard: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The finite log Λ of the days whose label is known (every day's where none is)."""
    finite = np.isfinite(log_hazard)
    known = finite & ~np.isnan(labels)
    return log_hazard[known] if known.any() else log_hazard[finite]


def _base_rate_intercept(log_hazard: np.ndarray, base_rate: float) -> float:
    """The α whose mean P = 1 − exp(−exp(α + log Λ)) over the days is the base rate (monotone in α: one root)."""
    if len(log_hazard) == 0:
        return float(np.log(-np.log1p(-base_rate)))
    mean_probability = lambda a: float(np.mean(-np.expm1(-np.exp(np.minimum(a + log_hazard, 700.0)))))  # noqa: E731
    low, high = INTERCEPT_SEARCH
    if mean_probability(low) >= base_rate:
        return low
    if mean_probability(high) <= base_rate:
        return high
    return float(brentq(lambda a: mean_probability(a) - base_rate, low, high, xtol=1e-10))


def _fisher_weight(hazard: np.ndarray) -> np.ndarray:
    """Fisher information of one Bernoulli day in η under the cloglog link: Λ² / (e^Λ − 1), ≈ Λ for small Λ."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(hazard < 1e-8, hazard, np.where(hazard > 700.0, 0.0, hazard ** 2 / np.expm1(hazard)))


def _weighted_variance(values: np.ndarray, weights: np.ndarray) -> float:
    if len(values) == 0 or weights.sum() <= 0:
        return float(np.var(values)) if len(values) else 0.0
    mean = np.average(values, weights=weights)
    return float(np.average((values - mean) ** 2, weights=weights))


@dataclass(frozen=True)
class PriorRecord:
    """What the prior was in a fitted calibration and how much of each intercept it decided (calibration.json).

    `shrinkage[h]` = τ_h / (τ_h + I_h), I_h the likelihood's curvature in α_h at the fitted optimum: the share of
    the intercept's information that came from the prior (1: the prior alone, 0: the validation days alone).
    Isotonic fits record 1 where a horizon without a validation storm fell back to the base rate, else 0."""

    prior: CalibrationPrior
    intercept: dict[int, float]           # α⁰_h (raw, at β = 1)
    centre: float
    intercept_strength: dict[int, float]  # τ_h
    slope_strength: float                 # τ_β
    validation_episodes: dict[int, int]
    shrinkage: dict[int, float]

    def to_json(self) -> dict:
        by_horizon = lambda mapping: {str(h): value for h, value in mapping.items()}  # noqa: E731
        return {**self.prior.to_json(), "intercept": by_horizon(self.intercept), "centre": self.centre,
                "intercept_strength": by_horizon(self.intercept_strength), "slope_strength": self.slope_strength,
                "validation_episodes": by_horizon(self.validation_episodes), "shrinkage": by_horizon(self.shrinkage)}

    @classmethod
    def from_json(cls, data: dict) -> "PriorRecord":
        by_horizon = lambda key, kind: {int(h): kind(v) for h, v in data[key].items()}  # noqa: E731
        return cls(prior=CalibrationPrior.from_json(data), intercept=by_horizon("intercept", float),
                   centre=float(data["centre"]), intercept_strength=by_horizon("intercept_strength", float),
                   slope_strength=float(data["slope_strength"]),
                   validation_episodes=by_horizon("validation_episodes", int),
                   shrinkage=by_horizon("shrinkage", float))
