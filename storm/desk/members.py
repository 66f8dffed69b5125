"""The desk's four price models as published members: fitted once on a split, scored on any later prices.

trail-vol (trailing volatility, standardised on the training rows and centred on the training base rate), garch
(GARCH(1,1) forecasts, standardised alike), price-logit (a logistic regression on price readings and the GARCH
forecast) and boosted (storm.desk.boosted on QUANT_FEATURES). Each emits a raw logit per horizon, which its own
calibration (fitted on the split's validation rows, as every storm model's is) maps to a probability. Parameters
are JSON: the published model version stores them, the scan rebuilds them, nothing is pickled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from storm.desk.boosted import BoostedModel, BoostedSettings, fit_boosted
from storm.desk.garch import GarchParams, fit_garch, garch_log_volatility_forecasts
from storm.features.price_history import (annualised_volatility, daily_log_returns, drawdown_from_peak,
                                          log_return_over, quant_price_features)
from storm.schema import logit_column, storm_column
from storm.published.calibration import Calibration, calibration_prior, fit_calibration

TRAIL_VOL, GARCH, PRICE_LOGIT, BOOSTED = "trail-vol", "garch", "price-logit", "boosted"
DESK_MEMBERS = (TRAIL_VOL, GARCH, PRICE_LOGIT, BOOSTED)
# what a risk desk already runs, GARCH first: the models a challenger (boosted trees, storm's neural model) must beat
# with a significant margin before it replaces them; GARCH ships where the validation rows can rank nobody
DESK_INCUMBENTS = (GARCH, TRAIL_VOL, PRICE_LOGIT)
LOGIT_FEATURES = ("trail_vol_20", "trail_vol_60", "drawdown_60", "return_5", "return_20")  # + garch_{h}d


def garch_column(horizon: int) -> str:
    return f"garch_{horizon}d"


def trailing_log_volatility(close: np.ndarray, window: int = 20) -> np.ndarray:  # one market's
    """Log annualised std of the last ``window`` daily log returns up to and including each day (NaN until a full
    window)."""
    volatility = annualised_volatility(np.diff(np.log(close)), window, min_periods=window)
    with np.errstate(divide="ignore"):
        log_vol = np.log(volatility)
    return np.concatenate([[np.nan], log_vol])


def log_return(close: np.ndarray, days: int) -> np.ndarray:
    """Log return over the last ``days`` days."""
    past = np.concatenate([np.full(days, np.nan), close[:-days]])
    return np.log(close / past)


def logit_readings(close: np.ndarray, market: np.ndarray, vol_window: int) -> dict[str, np.ndarray]:
    """The price readings trail-vol and the logistic read (GARCH's forecast comes separately), for rows grouped by
    market in date order, each market from its own rows: log trailing 20/60/vol_window-day vol, drawdown from the
    60-day peak, 5- and 20-day log returns."""
    returns = daily_log_returns(close, market)
    readings = {}
    for window in sorted({20, 60, vol_window}):
        with np.errstate(divide="ignore"):
            readings[f"trail_vol_{window}"] = np.log(annualised_volatility(returns, window, window, market=market))
    readings["drawdown_60"] = drawdown_from_peak(close, 60, market=market)
    readings["return_5"] = log_return_over(close, 5, market)
    readings["return_20"] = log_return_over(close, 20, market)
    return readings


@dataclass
class Standardisation:
    """(score − centre) / spread + offset: a volatility made a logit on the scale calibration expects."""

    centre: float
    spread: float
    offset: float  # logit of the training base rate

    def apply(self, scores: np.ndarray) -> np.ndarray:
        return (np.asarray(scores, dtype=np.float64) - self.centre) / self.spread + self.offset

    @classmethod
    def fit(cls, training_scores: np.ndarray, base_rate: float) -> "Standardisation":
        fitted = np.asarray(training_scores, dtype=np.float64)
        fitted = fitted[np.isfinite(fitted)]
        centre, spread = (float(fitted.mean()), float(fitted.std())) if len(fitted) > 1 else (0.0, 1.0)
        return cls(centre, spread if spread > 0 else 1.0, float(np.log(base_rate / (1 - base_rate))))


@dataclass
class LogisticFit:
    """A standardised logistic regression: log-odds = intercept + Σ coef · (x − mean) / scale."""

    columns: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float

    def decision(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        return self.intercept + z @ np.asarray(self.coef)

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, columns: list[str]) -> "LogisticFit":
        # scikit-learn's scaler: it treats a column constant up to rounding (std ~1e-17) as constant, where dividing
        # by that std would turn rounding noise into a feature of enormous scale
        scaler = StandardScaler().fit(x)
        model = LogisticRegression(max_iter=1000).fit(scaler.transform(x), y.astype(int))
        return cls(list(columns), scaler.mean_.tolist(), scaler.scale_.tolist(), model.coef_[0].tolist(),
                   float(model.intercept_[0]))


@dataclass
class DeskMembers:
    """The four members' parameters and calibrations, fitted on one split."""

    horizons: list[int]
    vol_window: int
    trail_vol: dict[int, Standardisation]
    garch_standardisation: dict[int, Standardisation]
    garch: dict[str, GarchParams]  # market -> its parameters (markets with too short a history are absent)
    logistic: dict[int, LogisticFit | None]  # None: one class in the training rows, no score
    boosted: BoostedModel | None
    calibrations: dict[str, Calibration] = field(default_factory=dict)  # the members that can score, each calibrated
    skipped: dict[str, str] = field(default_factory=dict)  # member -> why it could not be fitted

    def raw_logits(self, prices: pd.DataFrame, members=DESK_MEMBERS, dates=None,
                   quant: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
        """Per member (of ``members``), market, date and logit_{h}d for every row of ``prices`` (market, date, close;
        the boosted member also reads volume when present), each from that day's close and earlier only.

        ``quant``: the boosted member's features (quant_price_features) when the caller has them, e.g. the
        evidence window's table, so that the boosted member reads the universe index the neural encoder reads and
        the table is computed once; its rows are scored instead of ``prices``' (None: computed from ``prices``).

        ``dates``: score only rows on these dates (a night's scan), still reading every earlier price."""
        tables = {}
        wanted = None if dates is None else set(map(str, dates))
        if {TRAIL_VOL, GARCH, PRICE_LOGIT} & set(members):
            readings = price_readings(prices, self.garch, self.horizons, self.vol_window, wanted)
            keys = readings[["market", "date"]]
            tables = {
                TRAIL_VOL: _logit_table(keys, {h: self.trail_vol[h].apply(readings[f"trail_vol_{self.vol_window}"])
                                               for h in self.horizons}),
                GARCH: _logit_table(keys, {h: self.garch_standardisation[h].apply(readings[garch_column(h)])
                                           for h in self.horizons}),
                PRICE_LOGIT: _logit_table(keys, {h: _logistic_logits(self.logistic[h], readings)
                                                 for h in self.horizons}),
            }
        tables = {name: table for name, table in tables.items() if name in members}
        if self.boosted is not None and BOOSTED in members:
            quant = quant_price_features(prices) if quant is None else quant
            if wanted is not None:
                quant = quant[quant["date"].astype(str).isin(wanted)]
            logits = self.boosted.logits(quant)
            tables[BOOSTED] = _logit_table(quant[["market", "date"]],
                                           {h: logits[:, i] for i, h in enumerate(self.horizons)})
        return tables

    @property
    def scorable(self) -> list[str]:
        """The members fitted and calibrated (a member with no scored validation row is skipped)."""
        return [m for m in DESK_MEMBERS if m in self.calibrations]

    def probability(self, member: str, logits: np.ndarray) -> np.ndarray:
        """The member's calibrated probabilities [rows, horizons] from its raw logits; NaN stays NaN (no score)."""
        logits = np.asarray(logits, dtype=np.float64)
        scored = np.isfinite(logits).all(axis=1)
        out = np.full(logits.shape, np.nan)
        if scored.any():
            out[scored] = self.calibrations[member].probability(logits[scored])
        return out

    def to_json(self) -> dict:
        return {"horizons": self.horizons, "vol_window": self.vol_window,
                "trail_vol": {str(h): vars(s) for h, s in self.trail_vol.items()},
                "garch_standardisation": {str(h): vars(s) for h, s in self.garch_standardisation.items()},
                "garch": {market: params.to_json() for market, params in self.garch.items()},
                "logistic": {str(h): None if fit is None else vars(fit) for h, fit in self.logistic.items()},
                "boosted": None if self.boosted is None else self.boosted.to_json(),
                "calibrations": {name: calibration.to_json() for name, calibration in self.calibrations.items()},
                "skipped": self.skipped}

    @classmethod
    def from_json(cls, data: dict) -> "DeskMembers":
        return cls(horizons=[int(h) for h in data["horizons"]], vol_window=int(data["vol_window"]),
                   trail_vol={int(h): Standardisation(**s) for h, s in data["trail_vol"].items()},
                   garch_standardisation={int(h): Standardisation(**s) for h, s in data["garch_standardisation"].items()},
                   garch={market: GarchParams.from_json(v) for market, v in data["garch"].items()},
                   logistic={int(h): None if f is None else LogisticFit(**f) for h, f in data["logistic"].items()},
                   boosted=None if data["boosted"] is None else BoostedModel.from_json(data["boosted"]),
                   calibrations={name: Calibration.from_json(c) for name, c in data["calibrations"].items()},
                   skipped=dict(data.get("skipped", {})))


def price_readings(prices: pd.DataFrame, garch: dict[str, GarchParams], horizons: list[int],
                   vol_window: int, dates: set[str] | None = None) -> pd.DataFrame:
    """market, date, the logistic's readings and garch_{h}d for every row of ``prices`` (or only those on
    ``dates``), sorted by market and date. All markets at once; only GARCH's recursion runs market by market."""
    ordered = prices.sort_values(["market", "date"], kind="stable").reset_index(drop=True)
    market = ordered["market"].astype(str).to_numpy()
    close = ordered["close"].to_numpy(np.float64)
    returns = daily_log_returns(close, market)
    readings = {"market": market, "date": ordered["date"].astype(str).to_numpy(),
                **logit_readings(close, market, vol_window)}
    wanted = np.ones(len(close), dtype=bool) if dates is None else np.isin(readings["date"], list(dates))
    for h in horizons:
        readings[garch_column(h)] = np.full(len(close), np.nan)
    for name, index in pd.Series(np.arange(len(close))).groupby(market, sort=False).indices.items():
        params = garch.get(name)
        if params is None or len(index) < 2 or not wanted[index].any():
            continue
        forecasts = garch_log_volatility_forecasts(returns[index[1:]], params, horizons)
        for h in horizons:
            readings[garch_column(h)][index[1:]] = forecasts[h]  # day p's forecast: from return p and before
    return pd.DataFrame({name: values[wanted] for name, values in readings.items()}).reset_index(drop=True)


def fit_desk_members(prices: pd.DataFrame, labels: pd.DataFrame, train_dates: list[str],
                     validation_dates: list[str], horizons: list[int], vol_window: int, false_alarm_rate: float,
                     prior_episodes: float, boosted: BoostedSettings | None = BoostedSettings(),
                     quant: pd.DataFrame | None = None) -> DeskMembers:
    """Fit every member on the training dates (GARCH on each market's returns up to its last training day, the
    boosted trees stopped on the validation dates), then calibrate each on the validation dates.

    ``quant``: the boosted member's features, as DeskMembers.raw_logits takes them (None: from ``prices``)."""
    quant = quant_price_features(prices) if quant is None and boosted is not None else quant
    horizons = list(horizons)
    train, validation = set(map(str, train_dates)), set(map(str, validation_dates))
    last_train_day = max(train)
    ordered = prices.sort_values(["market", "date"], kind="stable")
    garch = {}
    for market, rows in ordered.groupby("market", sort=True):
        known = rows[rows["date"].astype(str) <= last_train_day]["close"].to_numpy(np.float64)
        params = fit_garch(np.diff(np.log(known))) if len(known) > 1 else None
        if params is not None:
            garch[str(market)] = params
    readings = price_readings(ordered, garch, horizons, vol_window).merge(labels, on=["market", "date"], how="left")
    in_train = readings["date"].isin(train).to_numpy()
    label_matrix = readings[[storm_column(h) for h in horizons]].to_numpy(float)
    prior = calibration_prior(readings["market"].to_numpy()[in_train], label_matrix[in_train], horizons, prior_episodes)
    members = DeskMembers(
        horizons=horizons, vol_window=vol_window,
        trail_vol={h: Standardisation.fit(readings.loc[in_train, f"trail_vol_{vol_window}"], prior.base_rate[h])
                   for h in horizons},
        garch_standardisation={h: Standardisation.fit(readings.loc[in_train, garch_column(h)], prior.base_rate[h])
                               for h in horizons},
        garch=garch, logistic={}, boosted=None)
    for i, h in enumerate(horizons):
        columns = [*LOGIT_FEATURES, garch_column(h)]
        x, y = readings[columns].to_numpy(float), label_matrix[:, i]
        rows = in_train & np.isfinite(x).all(axis=1) & ~np.isnan(y)
        members.logistic[h] = LogisticFit.fit(x[rows], y[rows], columns) if len(np.unique(y[rows])) == 2 else None
    if boosted is not None:
        members.boosted = fit_boosted(quant, labels, sorted(train), sorted(validation), horizons, boosted)
    for name, table in members.raw_logits(ordered, quant=quant).items():
        joined = table.merge(labels, on=["market", "date"], how="left")
        chosen = joined["date"].isin(validation).to_numpy()
        member_logits = joined[[logit_column(h) for h in horizons]].to_numpy(float)[chosen]
        member_labels = joined[[storm_column(h) for h in horizons]].to_numpy(float)[chosen]
        usable = np.isfinite(member_logits).all(axis=1)
        if not usable.any():  # e.g. GARCH where no market has MIN_GARCH_RETURNS training returns: not a member
            members.skipped[name] = "no validation row has a score"
            continue
        members.calibrations[name] = fit_calibration(
            member_logits[usable], member_labels[usable], horizons, false_alarm_rate, method="hazard", prior=prior,
            validation_markets=joined["market"].to_numpy()[chosen][usable])
    return members


def _logistic_logits(fit: LogisticFit | None, readings: pd.DataFrame) -> np.ndarray:
    if fit is None:
        return np.full(len(readings), np.nan)
    x = readings[fit.columns].to_numpy(float)
    complete = np.isfinite(x).all(axis=1)
    out = np.full(len(readings), np.nan)
    out[complete] = fit.decision(x[complete])
    return out


def _logit_table(keys: pd.DataFrame, logits: dict[int, np.ndarray]) -> pd.DataFrame:
    columns = {logit_column(h): np.asarray(v, dtype=np.float64) for h, v in logits.items()}
    return keys.assign(**columns).reset_index(drop=True)
