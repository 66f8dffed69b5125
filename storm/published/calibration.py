"""Turning raw storm logits into calibrated probabilities and alert thresholds, coherent across horizons.

A storm within 5 trading days is also one within 20, so every calibrated row must satisfy
P(≤ h_1) ≤ P(≤ h_2) ≤ ... . Both methods keep that order for ANY input logits:

1. The logits are first made coherent with a running maximum over horizons (the identity for
   `StormHeads`, which is coherent by construction; a guard for anything else).
2. ``"hazard"`` (default): Platt scaling on the complementary log-log scale of the heads'
   cumulative hazard Λ_j = softplus(logit_j):

       P_j = 1 − exp(−exp(α_j + β · log Λ_j)),   β > 0 shared,   α_1 ≤ α_2 ≤ ...

   fitted jointly by maximum likelihood over every known (day, horizon) label. A cloglog-linear
   map keeps P_j ≤ P_{j+1} for every Λ_j ≤ Λ_{j+1} exactly when the slopes are equal and the
   intercepts do not fall, so this is the widest such family that is order-preserving by
   construction. β undoes over-confidence (the old temperature); α_j is a per-horizon base-rate
   intercept (log hazard scale) that temperature scaling lacked, which is why raw scores of
   ≈ 0.3 sat over a 2.5% base rate. The problem is convex in (β, α), solved with L-BFGS-B.
   α = 0, β = 1 is the identity (P = sigmoid(logit)); a fit with one label class stays there.
3. ``"isotonic"``: a monotone map g_h(logit) per horizon, then P_j = max_{k≤j} g_k(logit_j).
   A running maximum of increasing maps is increasing and pointwise ordered, so the order
   holds; it needs more storms per horizon than the two-parameter-per-horizon hazard fit.

Base rate that differs between validation and test: fit on POOLED walk-forward validation
folds, so α reflects the base rate over several regimes rather than one window's. When the
base rate moves because risk moves (more or fewer fragile days, visible to the model), the
fitted map P(storm | logit) carries over unchanged and only the logit distribution shifts;
this is the case the intercept + shared slope handles and temperature scaling did not
(benchmarks/bench_calibration_shift.py). A change in P(storm | logit) itself is invisible to
any calibration fitted on past labels.

A calm validation block: validation holds 0–2 storm episodes per horizon on real data, and the unpenalised fit
then runs to its bounds (no storm at 5 days: α_5 → −30, nothing alerts; a few storms: β → 20, everything alerts).
With a `CalibrationPrior` (storm.published.calibration_prior: the training base rate per horizon, worth
`train.calibration_prior_episodes` storm episodes) the fit minimises

    NLL(days) + ½ Σ_h τ_h (α'_h − α⁰'_h)² + ½ τ_β (log β)²

with α⁰ the β = 1 intercepts whose mean probability on the validation logits is the base rate, intercepts
measured at the logits' centre (prior_target), τ_h = episodes × days per episode. A calm block then stays near
the training base rate; many validation episodes outweigh the prior. `Calibration.prior` records it all.

Alerts are nested: a storm expected within 5 days is also expected within 20, so
alert_j = (P_j ≥ t_j) OR alert_{j−1}. Thresholds are chosen shortest horizon first, each the
lowest whose nested alerts keep the false-alarm rate on non-storm validation days within
`train.false_alarm_rate`. Stored as plain JSON so a scan can load it without this code's classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression

from storm.labels import count_storm_episodes
from storm.published.calibration_prior import (  # noqa: F401 (CalibrationPrior, calibration_prior: re-exported)
    CalibrationPrior, PriorRecord, PriorTarget, calibration_prior, prior_target,
)

Method = Literal["hazard", "isotonic"]
METHODS = ("hazard", "isotonic")
UNFIT_THRESHOLD = 0.5  # a horizon with no known non-storm validation day: a neutral fallback
SLOPE_BOUNDS = (0.05, 20.0)  # as the old temperature's: 1/20 .. 20 times the model's confidence
INTERCEPT_BOUNDS = (-30.0, 30.0)  # log-hazard shifts; keeps a horizon with one label class finite


@dataclass(frozen=True)
class Calibration:
    """How logits [N, H] become coherent probabilities, and where a (nested) alert starts per horizon."""

    method: str
    horizons: list[int]
    threshold: dict[int, float]
    false_alarm_rate: float
    slope: float = 1.0  # "hazard": β, shared by all horizons
    intercept: dict[int, float] = field(default_factory=dict)  # "hazard": α_h, non-decreasing in h
    isotonic: dict[int, dict[str, list[float]]] = field(default_factory=dict)  # h -> {"x": logits, "y": probs}
    validation_false_alarm_rate: dict[int, float] = field(default_factory=dict)  # of the nested alerts
    prior: PriorRecord | None = None  # the prior fitted with and how much it decided; None: fitted without one

    def probability(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probability [N, H] from raw logits [N, H]; non-decreasing along each row."""
        coherent = coherent_logits(logits)
        if self.method == "isotonic":
            return self._isotonic_probability(coherent)
        intercepts = np.array([self.intercept.get(h, 0.0) for h in self.horizons])
        return probability_from_cloglog(intercepts[None, :] + self.slope * log_cumulative_hazard(coherent))

    def _isotonic_probability(self, coherent: np.ndarray) -> np.ndarray:
        """P_j = max_{k≤j} g_k(logit_j): increasing maps, pointwise ordered, on ordered logits."""
        columns = []
        for i in range(len(self.horizons)):
            maps = [self._isotonic_map(h) for h in self.horizons[: i + 1]]
            columns.append(np.max([apply(coherent[:, i]) for apply in maps], axis=0))
        return np.stack(columns, axis=1) if columns else np.zeros((len(coherent), 0))

    def _isotonic_map(self, horizon: int):
        if horizon not in self.isotonic:  # too few labels at that horizon: the model's own probability
            return expit
        points = self.isotonic[horizon]
        return lambda x: np.interp(x, points["x"], points["y"])

    def alerts(self, probabilities: np.ndarray) -> np.ndarray:
        """Nested alerts [N, H]: an alert at a horizon is also one at every longer horizon."""
        thresholds = np.array([self.threshold[h] for h in self.horizons])
        return np.logical_or.accumulate(np.asarray(probabilities) >= thresholds[None, :], axis=1)

    def to_json(self) -> dict:
        return {
            "method": self.method,
            "horizons": list(self.horizons),
            "slope": self.slope,
            "intercept": {str(h): a for h, a in self.intercept.items()},
            "threshold": {str(h): t for h, t in self.threshold.items()},
            "false_alarm_rate": self.false_alarm_rate,
            "validation_false_alarm_rate": {str(h): None if np.isnan(r) else r
                                            for h, r in self.validation_false_alarm_rate.items()},
            "isotonic": {str(h): points for h, points in self.isotonic.items()},
            "prior": None if self.prior is None else self.prior.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict) -> "Calibration":
        if data.get("method") not in METHODS:
            raise ValueError(f"calibration.json method {data.get('method')!r} is not one of {METHODS}: it was written "
                             "by an older storm whose per-horizon calibration could break the horizon order; retrain "
                             "the run (storm train) to get a coherent calibration")
        by_horizon = lambda mapping: {int(h): value for h, value in mapping.items()}  # noqa: E731
        return cls(
            method=data["method"], horizons=[int(h) for h in data["horizons"]],
            threshold={h: float(t) for h, t in by_horizon(data["threshold"]).items()},
            false_alarm_rate=float(data["false_alarm_rate"]),
            slope=float(data.get("slope", 1.0)),
            intercept={h: float(a) for h, a in by_horizon(data.get("intercept", {})).items()},
            isotonic=by_horizon(data.get("isotonic", {})),
            validation_false_alarm_rate={h: float("nan") if r is None else float(r)
                                         for h, r in by_horizon(data.get("validation_false_alarm_rate", {})).items()},
            prior=PriorRecord.from_json(data["prior"]) if data.get("prior") else None,  # absent: before priors
        )


def coherent_logits(logits: np.ndarray) -> np.ndarray:
    """Running maximum over horizons: the identity for coherent logits, the smallest coherent lift otherwise."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2:
        raise ValueError(f"logits must be [days, horizons], got shape {logits.shape}")
    return np.maximum.accumulate(logits, axis=1)


def log_cumulative_hazard(logits: np.ndarray) -> np.ndarray:
    """log Λ with Λ = softplus(logit) = −log(1 − sigmoid(logit)), stable for very negative logits (→ logit);
    NaN (a row a model could not score) stays NaN, quietly."""
    logits = np.asarray(logits, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(logits < -30.0, logits, np.log(np.logaddexp(0.0, np.maximum(logits, -30.0))))


def probability_from_cloglog(eta: np.ndarray) -> np.ndarray:
    """P = 1 − exp(−exp(η)), the inverse complementary log-log link."""
    return -np.expm1(-np.exp(np.minimum(eta, 700.0)))


def fit_hazard_calibration(logits: np.ndarray, labels: np.ndarray,
                           prior: PriorTarget | None = None) -> tuple[float, list[float]]:
    """(β, [α_h]) maximising the joint Bernoulli likelihood of all known labels, penalised toward `prior` when given.

    Without a prior a fit with one label class stays at the identity; with one, it stays near the prior."""
    log_hazard = log_cumulative_hazard(coherent_logits(logits))
    labels = np.asarray(labels, dtype=np.float64)
    known = ~np.isnan(labels) & np.isfinite(log_hazard)
    n_horizons = labels.shape[1]
    if prior is None and len(np.unique(labels[known])) < 2:
        return 1.0, [0.0] * n_horizons
    centre = prior.centre if prior is not None else 0.0
    rows, columns = np.nonzero(known)
    x, y = log_hazard[rows, columns] - centre, labels[rows, columns]
    # α'_j = a_1 + Σ_{2≤k≤j} δ_k with δ_k ≥ 0; cumulate[j, k] = 1 where parameter k adds to horizon j's intercept
    cumulate = np.tril(np.ones((n_horizons, n_horizons)))
    steps = cumulate[columns]
    scale = max(len(y), 1)

    def objective_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        eta = theta[0] * x + steps @ theta[1:]
        hazard = np.exp(np.minimum(eta, 700.0))
        log_p = np.where(eta < -30.0, eta, np.log(-np.expm1(-hazard)))
        objective = -np.sum(y * log_p - (1.0 - y) * hazard)
        d_eta = -(y * _hazard_over_expm1(hazard) - (1.0 - y) * hazard)  # d nll / d eta
        gradient = np.concatenate([[d_eta @ x], d_eta @ steps])
        if prior is not None:
            shift = cumulate @ theta[1:] - prior.centred_intercept
            objective += 0.5 * np.sum(prior.intercept_strength * shift ** 2) + 0.5 * prior.slope_strength * np.log(theta[0]) ** 2
            gradient[1:] += cumulate.T @ (prior.intercept_strength * shift)
            gradient[0] += prior.slope_strength * np.log(theta[0]) / theta[0]
        return objective / scale, gradient / scale

    bounds = [SLOPE_BOUNDS, INTERCEPT_BOUNDS] + [(0.0, INTERCEPT_BOUNDS[1] - INTERCEPT_BOUNDS[0])] * (n_horizons - 1)
    fitted = minimize(objective_and_gradient, _start(prior, n_horizons), jac=True, method="L-BFGS-B", bounds=bounds)
    slope, centred = float(fitted.x[0]), np.cumsum(fitted.x[1:])
    return slope, [float(a) for a in centred - slope * centre]


def _start(prior: PriorTarget | None, n_horizons: int) -> np.ndarray:
    """The identity, or the prior's own point (its intercepts made non-decreasing, within bounds)."""
    if prior is None:
        return np.concatenate([[1.0], np.zeros(n_horizons)])
    centred = np.maximum.accumulate(np.clip(prior.centred_intercept, *INTERCEPT_BOUNDS))
    return np.concatenate([[1.0], centred[:1], np.diff(centred)])


def intercept_information(logits: np.ndarray, labels: np.ndarray, slope: float, intercepts: list[float]) -> np.ndarray:
    """Per horizon, the curvature of the negative log-likelihood in α_h at (β, α): what the validation days say."""
    log_hazard = log_cumulative_hazard(coherent_logits(logits))
    labels = np.asarray(labels, dtype=np.float64)
    eta = np.asarray(intercepts)[None, :] + slope * log_hazard
    hazard = np.exp(np.minimum(eta, 700.0))
    with np.errstate(over="ignore", invalid="ignore"):  # storm day: −d² log(1 − e^−u)/dη², → u/2 as u → 0
        storm = np.where(hazard < 1e-4, hazard * (0.5 - hazard / 6.0),
                         np.where(hazard > 700.0, 0.0,
                                  hazard * (hazard * np.exp(hazard) - np.expm1(hazard)) / np.expm1(hazard) ** 2))
    curvature = np.where(labels == 1, storm, hazard)  # calm day: d² u / dη² = u
    return np.where(np.isnan(labels) | ~np.isfinite(log_hazard), 0.0, curvature).sum(axis=0)


def _hazard_over_expm1(hazard: np.ndarray) -> np.ndarray:
    """u / expm1(u), → 1 as u → 0 (d log P / d eta for the cloglog link)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(hazard < 1e-8, 1.0 - hazard / 2.0, hazard / np.expm1(hazard))


def fit_isotonic(logits: np.ndarray, labels: np.ndarray) -> dict[str, list[float]]:
    """A monotone map logit -> probability as interpolation knots (JSON-friendly)."""
    logits, labels = _known(logits, labels)
    regression = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(logits, labels)
    return {"x": regression.X_thresholds_.tolist(), "y": regression.y_thresholds_.tolist()}


def threshold_for_false_alarm_rate(scores: np.ndarray, labels: np.ndarray, false_alarm_rate: float) -> float:
    """The lowest threshold t such that the share of non-storm days with score >= t is <= false_alarm_rate."""
    scores = np.asarray(scores, dtype=np.float64)
    return nested_threshold(scores, labels, false_alarm_rate, np.zeros(len(scores), dtype=bool))


def nested_threshold(scores: np.ndarray, labels: np.ndarray, false_alarm_rate: float,
                     already_alerted: np.ndarray) -> float:
    """The lowest t such that (score >= t OR already_alerted) alerts at most false_alarm_rate of non-storm days.

    `already_alerted` are the days a shorter horizon alerts on: they alert here too and use up the allowance;
    if they alone exceed it, t lies above every other non-storm score (no alerts of this horizon's own).
    """
    values, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    keep = ~np.isnan(labels) & ~np.isnan(values)
    calm = keep & (labels < 0.5)
    if not calm.any():
        return UNFIT_THRESHOLD
    own = np.sort(values[calm & ~np.asarray(already_alerted, dtype=bool)])[::-1]
    allowed = int(np.floor(false_alarm_rate * calm.sum())) - int(np.sum(calm & already_alerted))
    if len(own) == 0:
        return UNFIT_THRESHOLD
    if allowed >= len(own):
        return float(own[-1])
    return float(np.nextafter(own[max(allowed, 0)], np.inf))  # just above the first calm day we must not alert on


def fit_calibration(logits: np.ndarray, labels: np.ndarray, horizons: list[int], false_alarm_rate: float,
                    method: Method = "hazard", prior: CalibrationPrior | None = None,
                    validation_markets: np.ndarray | None = None) -> Calibration:
    """Coherent calibration from validation logits [N, H] and labels [N, H] (NaN = unknown), horizons ascending.

    `prior`: the training base rates to shrink toward (storm always passes one; None fits the likelihood alone).
    `validation_markets` [N]: each row's market, rows grouped by market in date order, to count the validation
    storm episodes the calibration records (None: one market)."""
    if method not in METHODS:
        raise ValueError(f"calibration method {method!r} is not one of {METHODS} (train.calibration); per-horizon "
                         "temperature was removed because it could break the horizon order")
    if list(horizons) != sorted(horizons):
        raise ValueError(f"horizons {horizons} must be ascending: calibration keeps P(≤ h) non-decreasing in h")
    logits, labels = np.asarray(logits, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    if method == "hazard":
        fitted = _fit_hazard(logits, labels, horizons, prior, validation_markets)
    else:
        fitted = _fit_isotonic_maps(logits, labels, horizons, prior, validation_markets)
    draft = Calibration(method=method, horizons=list(horizons), threshold={}, false_alarm_rate=false_alarm_rate,
                        **fitted)
    threshold, realised = nested_thresholds(draft.probability(logits), labels, horizons, false_alarm_rate)
    return Calibration(method=method, horizons=list(horizons), threshold=threshold, false_alarm_rate=false_alarm_rate,
                       validation_false_alarm_rate=realised, **fitted)


def _fit_hazard(logits: np.ndarray, labels: np.ndarray, horizons: list[int], prior: CalibrationPrior | None,
                validation_markets: np.ndarray | None) -> dict:
    """slope, intercept and (with a prior) its record, for Calibration."""
    if prior is None:
        slope, intercepts = fit_hazard_calibration(logits, labels)
        return {"slope": slope, "intercept": dict(zip(horizons, intercepts))}
    target = prior_target(prior, log_cumulative_hazard(coherent_logits(logits)), labels, horizons)
    slope, intercepts = fit_hazard_calibration(logits, labels, target)
    information = intercept_information(logits, labels, slope, intercepts)
    shrinkage = target.intercept_strength / (target.intercept_strength + information)
    record = PriorRecord(prior=prior, intercept=dict(zip(horizons, map(float, target.intercept))),
                         centre=target.centre, intercept_strength=dict(zip(horizons, map(float, target.intercept_strength))),
                         slope_strength=target.slope_strength,
                         validation_episodes=validation_episodes(labels, horizons, validation_markets),
                         shrinkage=dict(zip(horizons, map(float, shrinkage))))
    return {"slope": slope, "intercept": dict(zip(horizons, intercepts)), "prior": record}


def _fit_isotonic_maps(logits: np.ndarray, labels: np.ndarray, horizons: list[int], prior: CalibrationPrior | None,
                       validation_markets: np.ndarray | None) -> dict:
    """One monotone map per horizon with both classes; with a prior, a horizon without a validation storm gets the
    training base rate (a constant map) rather than the model's own sigmoid(logit)."""
    coherent, isotonic, fallback = coherent_logits(logits), {}, set()
    for i, horizon in enumerate(horizons):
        known_labels = _known(coherent[:, i], labels[:, i])[1]
        if len(np.unique(known_labels)) == 2:
            isotonic[horizon] = fit_isotonic(coherent[:, i], labels[:, i])
        elif prior is not None and not np.any(known_labels == 1):
            isotonic[horizon] = {"x": [0.0], "y": [prior.base_rate[horizon]]}
            fallback.add(horizon)
        # else: sigmoid(logit) stands in
    if prior is None:
        return {"isotonic": isotonic, "intercept": {}}
    record = PriorRecord(prior=prior, intercept={}, centre=0.0, intercept_strength={}, slope_strength=0.0,
                         validation_episodes=validation_episodes(labels, horizons, validation_markets),
                         shrinkage={h: 1.0 if h in fallback else 0.0 for h in horizons})
    return {"isotonic": isotonic, "intercept": {}, "prior": record}


def validation_episodes(labels: np.ndarray, horizons: list[int], markets: np.ndarray | None = None) -> dict[int, int]:
    """Storm episodes per horizon in rows grouped by market in date order (markets None: one market)."""
    markets = np.zeros(len(labels), dtype=np.int64) if markets is None else np.asarray(markets)
    if len(markets) != len(labels):
        raise ValueError(f"validation_markets has {len(markets)} rows, the labels {len(labels)}: one market per row")
    return {h: count_storm_episodes(markets, labels[:, i]) for i, h in enumerate(horizons)}


def nested_thresholds(probabilities: np.ndarray, labels: np.ndarray, horizons: list[int],
                      false_alarm_rate: float) -> tuple[dict[int, float], dict[int, float]]:
    """Thresholds shortest horizon first, each accounting for the alerts it inherits; and their realised rate."""
    threshold, realised = {}, {}
    inherited = np.zeros(len(probabilities), dtype=bool)
    for i, horizon in enumerate(horizons):
        threshold[horizon] = nested_threshold(probabilities[:, i], labels[:, i], false_alarm_rate, inherited)
        inherited = inherited | (probabilities[:, i] >= threshold[horizon])
        realised[horizon] = observed_false_alarm_rate(inherited.astype(np.float64), labels[:, i], 0.5)
    return threshold, realised


def observed_false_alarm_rate(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    """Share of known non-storm days alerted at `threshold` (NaN when there are none)."""
    scores, labels = _known(scores, labels)
    calm = scores[labels < 0.5]
    return float(np.mean(calm >= threshold)) if len(calm) else float("nan")


def _known(values: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, labels = np.asarray(values, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    keep = ~np.isnan(labels) & ~np.isnan(values)
    return values[keep], labels[keep]
