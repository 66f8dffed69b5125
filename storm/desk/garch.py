"""GARCH(1,1) as a published member: parameters fitted per market once (arch), forecasts filtered each night (numpy).

The walk-forward evaluation refits GARCH every 20 days (storm.evaluation.baselines); a published model cannot
refit 2,400 markets inside a night's scan, so it keeps each market's parameters from its training days and runs
the variance recursion through every return since, which is what arch's forecast does with fixed parameters:
the same backcast (0.94-weighted mean of the first 75 squared residuals), the same recursion, the analytic
multi-step mean. A market with fewer than MIN_GARCH_RETURNS training returns has no parameters and no forecast.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from arch import arch_model
from scipy.signal import lfilter

from storm.series import TRADING_DAYS_PER_YEAR

GARCH_SCALE = 100.0  # arch fits best on returns in percent
MIN_GARCH_RETURNS = 100
BACKCAST_DAYS, BACKCAST_DECAY = 75, 0.94  # arch's VolatilityProcess.backcast


@dataclass(frozen=True)
class GarchParams:
    """One market's GARCH(1,1) with a constant mean, on returns in percent."""

    mu: float
    omega: float
    alpha: float
    beta: float

    def to_json(self) -> list[float]:
        return [self.mu, self.omega, self.alpha, self.beta]

    @classmethod
    def from_json(cls, values: list[float]) -> "GarchParams":
        return cls(*map(float, values))


def fit_garch(log_returns: np.ndarray) -> GarchParams | None:
    """Maximum-likelihood GARCH(1,1) on one market's daily log returns (None below MIN_GARCH_RETURNS)."""
    returns = np.asarray(log_returns, dtype=np.float64)
    returns = returns[np.isfinite(returns)] * GARCH_SCALE
    if len(returns) < MIN_GARCH_RETURNS:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on short windows; a poor fit is still a fair member
        fitted = arch_model(returns, mean="Constant", vol="GARCH", p=1, q=1, rescale=False).fit(disp="off",
                                                                                               show_warning=False)
    mu, omega, alpha, beta = (float(fitted.params[name]) for name in ("mu", "omega", "alpha[1]", "beta[1]"))
    return GarchParams(mu, omega, alpha, beta)


def garch_log_volatility_forecasts(log_returns: np.ndarray, params: GarchParams, horizons: list[int]) -> dict[int, np.ndarray]:
    """Per horizon h and per return t, log annualised volatility over the h days after t, from returns ≤ t.

    ``log_returns``: one market's daily log returns in date order (NaN-free). Out: arrays of len(log_returns).
    """
    residual = np.asarray(log_returns, dtype=np.float64) * GARCH_SCALE - params.mu
    n = len(residual)
    forecasts = {h: np.full(n, np.nan) for h in horizons}
    if n == 0:
        return forecasts
    tau = min(BACKCAST_DAYS, n)
    weights = BACKCAST_DECAY ** np.arange(tau)
    backcast = float(np.sum(residual[:tau] ** 2 * weights / weights.sum()))
    # σ²_t = ω + α e²_{t−1} + β σ²_{t−1}, with the backcast standing in for e² and σ² before the first day: a
    # first-order linear filter (lfilter), not a Python loop over every day of every market
    drive = np.empty(n)
    drive[0] = params.omega + (params.alpha + params.beta) * backcast
    drive[1:] = params.omega + params.alpha * residual[:-1] ** 2
    sigma2 = lfilter([1.0], [1.0, -params.beta], drive)
    step = params.omega + params.alpha * residual ** 2 + params.beta * sigma2  # E[σ²] one day after each t
    persistence = params.alpha + params.beta
    total, ahead = np.zeros(n), step
    for k in range(1, max(horizons) + 1):
        total = total + ahead
        if k in forecasts:
            forecasts[k] = 0.5 * np.log(np.maximum(total / k, 1e-12) * TRADING_DAYS_PER_YEAR) - np.log(GARCH_SCALE)
        ahead = params.omega + persistence * ahead
    return forecasts
