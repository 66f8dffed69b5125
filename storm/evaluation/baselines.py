"""What the fused model must beat: trailing volatility, GARCH(1,1), a price-feature logistic regression,
and (synthetic worlds only) the fragility oracle and the ceiling.

Every baseline turns what was known at a day's close into one raw score per
(market, date) and horizon. ``score_baseline`` then treats it exactly like the model:
the score becomes a logit (a volatility is standardised on the fold's training rows and
centred on the training base rate; a regression's log-odds already is one), and the
model's own calibration (storm.published.calibration: the hazard map shrunk toward the
training base rate, nested alert thresholds at the model's false-alarm rate) is fitted on
the fold's validation rows. Where those hold no storm at any horizon, the validation rows
of the earlier folds join them (an expanding window). Every baseline reaches the report
as calibrated probabilities; no raw score is ever pooled beside a probability.
"""

from __future__ import annotations

import multiprocessing
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from arch import arch_model
from threadpoolctl import threadpool_limits

from storm.config import StormConfig
from storm.desk.boosted import BoostedSettings, fit_boosted
from storm.desk.garch import GARCH_SCALE, MIN_GARCH_RETURNS
from storm.desk.members import (LOGIT_FEATURES, LogisticFit, Standardisation, garch_column,  # noqa: F401
                                log_return, logit_readings, trailing_log_volatility)  # (log_return etc. re-exported)
from storm.evaluation.metrics import alert_column, logit_column, score_column
from storm.evaluation.report import BOOSTED_EVIDENCE, ScoredModel
from storm.features.evidence_panel import EvidencePanel
from storm.features.price_history import QUANT_FEATURES, drawdown_from_peak
from storm.features.text_measures import TEXT_MEASURES
from storm.labels import TRADING_DAYS_PER_YEAR
from storm.schema import FWD_VOL, storm_column
from storm.published.calibration import (  # the model's own calibration and alert rule: a fair comparison
    calibration_prior, fit_calibration, threshold_for_false_alarm_rate)
from storm.splits import DateSplit
from storm.store import Layout, ObjectStore

GARCH_WORKERS = 2
TRUTH_FRAGILITY, TRUTH_STORM_PROBABILITY = "fragility", "storm_probability"  # keys of truth_models' tables


def raw_score_column(horizon: int) -> str:
    return f"raw_{horizon}d"


def storm_probability_column(horizon: int) -> str:
    """truth/storm_probability.parquet: P(storm within h | full simulator state at D)."""
    return f"storm_probability_{horizon}d"


# ---- price features, each known at the day's close ------------------------------------------------------------

def garch_log_volatility(close: np.ndarray, positions: np.ndarray, horizons: list[int], refit_every: int = 20,
                         executor=None) -> dict[int, np.ndarray]:
    """GARCH(1,1) forecast of log annualised volatility over the next h days, for each day in ``positions``.

    Parameters are fitted on an expanding window of returns strictly before the first
    day of each block of ``refit_every`` days, then held fixed while the variance
    recursion runs through each day's own return: a day's forecast never sees a later
    price. Days with fewer than MIN_GARCH_RETURNS returns behind them stay NaN. Each
    block's fit starts from arch's defaults, so blocks are independent: ``executor``
    (anything with ``map``) may run them in parallel with the same result.
    """
    returns = np.diff(np.log(close)) * GARCH_SCALE
    blocks = _garch_blocks(positions, refit_every)
    tasks = [(returns[: block[-1]], block[0] - 1, max(horizons)) for block in blocks]
    paths = list((executor or _Serial()).map(_garch_variance_paths, *zip(*tasks))) if tasks else []
    return _forecasts_from_paths(len(close), blocks, paths, horizons)


def _garch_blocks(positions: np.ndarray, refit_every: int) -> list[list[int]]:
    todo = sorted(int(p) for p in positions if p - 1 >= MIN_GARCH_RETURNS)
    blocks = []
    while todo:
        blocks.append([p for p in todo if p < todo[0] + refit_every])
        todo = todo[len(blocks[-1]):]
    return blocks


def _forecasts_from_paths(n_days: int, blocks, paths, horizons: list[int]) -> dict[int, np.ndarray]:
    forecasts = {h: np.full(n_days, np.nan) for h in horizons}
    for block, variance in zip(blocks, paths):
        first_origin = block[0] - 1  # day p's return is returns[p - 1]
        for h in horizons:
            mean_variance = variance[:, :h].mean(axis=1)
            origins = np.asarray(block) - 1 - first_origin
            forecasts[h][block] = 0.5 * np.log(mean_variance[origins] * TRADING_DAYS_PER_YEAR) - np.log(GARCH_SCALE)
    return forecasts


def _garch_variance_paths(returns: np.ndarray, first_origin: int, horizon: int) -> np.ndarray:
    """Variance forecasts [origins first_origin..len(returns)-1, horizon] from GARCH(1,1) fitted on returns[:first_origin].

    The filter runs on ``returns`` (which ends at the block's last origin): later returns are not even handed to arch.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on short windows; a poor fit is still a fair baseline
        estimation = arch_model(returns[:first_origin], mean="Constant", vol="GARCH", p=1, q=1, rescale=False)
        fitted = estimation.fit(disp="off", show_warning=False)
        filtering = arch_model(returns, mean="Constant", vol="GARCH", p=1, q=1, rescale=False)
        forecast = filtering.fix(fitted.params).forecast(horizon=horizon, start=first_origin, reindex=False)
    return forecast.variance.to_numpy()


def _one_blas_thread() -> None:
    threadpool_limits(1)  # the workers are the parallelism: BLAS threads on top would oversubscribe the cores


class _Serial:
    def map(self, function, *iterables):
        return map(function, *iterables)


def price_features(prices: pd.DataFrame, horizons: list[int], vol_window: int, refit_every: int = 20,
                   workers: int = GARCH_WORKERS) -> pd.DataFrame:
    """Every price feature on every date: market, date, trail_vol_20/60, drawdown_60, return_5/20, garch_{h}d.

    garch_{h}d for each horizon and for ``vol_window`` (the volatility the model forecasts).
    Causal day by day, so one table serves every fold. GARCH fits run in ``workers``
    processes across markets and refit blocks (the same numbers with any worker count).
    """
    garch_horizons = sorted(set(horizons) | {vol_window})
    markets = [(market, rows) for market, rows in prices.sort_values(["market", "date"]).groupby("market", sort=False)]
    tasks, tables = [], []
    for market, rows in markets:
        close = rows["close"].to_numpy(float)
        blocks = _garch_blocks(np.arange(len(close)), refit_every)
        returns = np.diff(np.log(close)) * GARCH_SCALE
        tasks += [(returns[: block[-1]], block[0] - 1, max(garch_horizons)) for block in blocks]
        tables.append((market, rows, close, blocks))
    paths = _run_garch(tasks, workers)
    features, used = [], 0
    for market, rows, close, blocks in tables:
        garch = _forecasts_from_paths(len(close), blocks, paths[used: used + len(blocks)], garch_horizons)
        used += len(blocks)
        features.append(pd.DataFrame({"market": market, "date": rows["date"].to_numpy(),
                                      **{garch_column(h): garch[h] for h in garch_horizons}}))
    table = pd.concat(features, ignore_index=True)  # rows grouped by market in date order, as the readings want
    readings = logit_readings(np.concatenate([close for _, _, close, _ in tables]), table["market"].to_numpy(),
                              vol_window)
    return pd.concat([table[["market", "date"]], pd.DataFrame(readings), table.drop(columns=["market", "date"])],
                     axis=1)


def _run_garch(tasks: list[tuple], workers: int) -> list[np.ndarray]:
    if workers <= 1 or len(tasks) < 2:
        return [_garch_variance_paths(*task) for task in tasks]
    # fork, not spawn: a fresh interpreter would import storm (torch, Ray) for seconds before its first fit.
    # The children only run numpy/scipy/arch, none of the parent's thread pools.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"), initializer=_one_blas_thread) as pool:
        return list(pool.map(_garch_variance_paths, *zip(*tasks), chunksize=max(1, len(tasks) // (4 * workers))))


# ---- from raw scores to scored test rows ------------------------------------------------------------------------

def price_baselines(prices: pd.DataFrame, labels: pd.DataFrame, split: DateSplit, horizons: list[int],
                    vol_window: int, false_alarm_rate: float, features: pd.DataFrame | None = None,
                    workers: int = GARCH_WORKERS, calibration: "BaselineCalibration | None" = None) -> list[ScoredModel]:
    """trail-vol, garch and price-logit, scored on ``split.test`` (calibrated and thresholded on validation).

    ``prices``: market, date, close (all history); ``labels``: market, date, storm_{h}d, fwd_log_vol.
    ``features``: price_features(...) computed once for all folds (computed here if None).
    """
    if not split.validation:
        raise ValueError("price baselines need the fold's validation dates to fit their probability and threshold; "
                         "carve a validation block from the end of the fold's training part")
    if features is None:
        features = price_features(prices[["market", "date", "close"]], horizons, vol_window, workers=workers)
    trailing = features[f"trail_vol_{vol_window}"].to_numpy()
    raw = {
        "trail-vol": features[["market", "date"]].assign(**{raw_score_column(h): trailing for h in horizons},
                                                         vol_pred=trailing),
        "garch": features[["market", "date"]].assign(**{raw_score_column(h): features[garch_column(h)] for h in horizons},
                                                     vol_pred=features[garch_column(vol_window)]),
        "price-logit": price_logistic_scores(features, labels, split.train, horizons),
    }
    calibration = calibration or BaselineCalibration()
    return [_scored(name, "baseline", table, labels, split, horizons, false_alarm_rate, calibration,
                    log_odds=name == "price-logit") for name, table in raw.items()]


def price_logistic_scores(features: pd.DataFrame, labels: pd.DataFrame, train_dates: list[str],
                          horizons: list[int], extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per horizon, the log-odds of a standardised logistic regression on price features, fitted on ``train_dates``.

    Features: trailing 20/60-day vol, drawdown from the 60-day peak, 5/20-day returns and
    the GARCH forecast for h. A day missing any feature gets no score.
    """
    joined = features.merge(labels, on=["market", "date"], how="left")
    train = joined["date"].isin(set(train_dates)).to_numpy()
    table = joined[["market", "date"]].copy()
    for h in horizons:
        columns = [*LOGIT_FEATURES, garch_column(h), *extra]
        x = joined[columns].to_numpy(float)
        y = joined[storm_column(h)].to_numpy(float)
        complete = np.isfinite(x).all(axis=1)
        fit_rows = train & complete & ~np.isnan(y)
        raw = np.full(len(joined), np.nan)
        if len(np.unique(y[fit_rows])) == 2:
            raw[complete] = LogisticFit.fit(x[fit_rows], y[fit_rows], columns).decision(x[complete])
        table[raw_score_column(h)] = raw
    return table


EVIDENCE_ACTIVITY_FEATURES = ("news_items_5", "news_items_20", "news_surprise", "call_within_20", "days_since_call")


def boosted_model(features: pd.DataFrame, labels: pd.DataFrame, split: DateSplit, horizons: list[int],
                  false_alarm_rate: float, calibration: "BaselineCalibration | None" = None,
                  settings: BoostedSettings | None = None, activity: pd.DataFrame | None = None) -> ScoredModel:
    """The boosted candidate (storm.desk.boosted) on QUANT_FEATURES: trees fitted on the fold's training dates,
    stopped on its validation dates, then calibrated like every other model.

    ``activity``: evidence_activity's table (news and call activity, text measures): then the news-reading variant,
    "boosted-evidence", which also reads those columns (a day without a row reads 0: nothing said), so that
    boosted-evidence − boosted is what the words add to the strongest tabular model of prices."""
    read = QUANT_FEATURES
    if activity is not None:  # a name both tables hold (days_since_call) is the activity's as evidence_<name>
        extra = {name: f"evidence_{name}" if name in QUANT_FEATURES else name for name in evidence_features(activity)}
        features = features.merge(activity[["market", "date", *extra]].rename(columns=extra), on=["market", "date"],
                                  how="left")
        features[list(extra.values())] = features[list(extra.values())].fillna(0.0)
        read = QUANT_FEATURES + tuple(extra.values())
    fitted = fit_boosted(features, labels, split.train, split.validation, horizons, settings or BoostedSettings(), read)
    logits = fitted.logits(features)
    raw = features[["market", "date"]].assign(**{raw_score_column(h): logits[:, i] for i, h in enumerate(horizons)})
    model = _scored(BOOSTED_EVIDENCE if activity is not None else "boosted", "baseline", raw, labels, split, horizons,
                    false_alarm_rate, calibration or BaselineCalibration(), log_odds=True)
    model.notes += [f"storm_{h}d, {split.name}: {note}" for h, note in fitted.notes.items()]
    model.notes.append("trees per horizon: " + ", ".join(f"{h}d {n}" for h, n in fitted.iterations.items()))
    return model


def evidence_activity(panel: EvidencePanel, measures: pd.DataFrame | None = None) -> pd.DataFrame:
    """market, date and how much was said: decayed log1p item counts (5/20 days), today's count against the
    60-day mean, and whether/when a call was heard. What a quant reads from a feed before reading a word.

    ``measures``: storm.features.text_measures' table (headline_measures), whose measures join as columns: what
    the field reads from the words themselves.
    """
    frame = pd.DataFrame({"market": panel.market, "date": panel.date, "items": np.log1p(panel.text_count)})
    calls = np.zeros(len(frame), dtype=bool)
    for rows in (panel.conference_row, getattr(panel, "call_row", None)):
        if rows is not None and len(rows):
            calls[np.asarray(rows)] = True
    frame["call"] = calls.astype(float)
    grouped = frame.groupby("market", sort=False)
    frame["news_items_5"] = grouped["items"].transform(lambda x: x.ewm(halflife=5, min_periods=1).mean())
    frame["news_items_20"] = grouped["items"].transform(lambda x: x.ewm(halflife=20, min_periods=1).mean())
    frame["news_surprise"] = frame["items"] - grouped["items"].transform(lambda x: x.rolling(60, min_periods=1).mean())
    frame["call_within_20"] = grouped["call"].transform(lambda x: x.rolling(20, min_periods=1).max())
    since = grouped["call"].transform(lambda x: _days_since(x.to_numpy()))
    frame["days_since_call"] = np.log1p(since)
    activity = frame[["market", "date", *EVIDENCE_ACTIVITY_FEATURES]]
    return activity if measures is None else _with_text_measures(activity, measures)


def _with_text_measures(activity: pd.DataFrame, measures: pd.DataFrame) -> pd.DataFrame:
    """The activity with each text measure some day has; a measure no day has (the LM shares without a dictionary,
    novelty without embeddings) is left out, and a day without one reads 0 (nothing said, nothing new), so the
    logistic keeps every row."""
    present = [m for m in TEXT_MEASURES if m in measures.columns and np.isfinite(measures[m].to_numpy(float)).any()]
    joined = activity.merge(measures[["market", "date", *present]], on=["market", "date"], how="left")
    joined[present] = joined[present].fillna(0.0)
    return joined


def evidence_features(activity: pd.DataFrame) -> tuple[str, ...]:
    """The columns the evidence logistic reads: EVIDENCE_ACTIVITY_FEATURES and the text measures ``activity`` holds."""
    return EVIDENCE_ACTIVITY_FEATURES + tuple(m for m in TEXT_MEASURES if m in activity.columns)


def headline_measures(config: StormConfig, panel: EvidencePanel, prices: pd.DataFrame, store: ObjectStore,
                      layout: Layout) -> pd.DataFrame | None:
    """The text measures of the panel's days from its placed headlines (raw lines, cached embeddings: as the
    explanations read them) and the dictionary at evaluation.lm_dictionary; None for a panel without news.
    The I/O around storm.features.text_measures."""
    from storm.explain.headlines import read_headline_book
    from storm.features.alignment import trading_calendars
    from storm.features.text_measures import read_lm_dictionary, text_measures

    if not np.asarray(panel.text_count).sum():
        return None
    dictionary = read_lm_dictionary(config.evaluation.lm_dictionary) if config.evaluation.lm_dictionary else None
    book = read_headline_book(store, layout, panel, trading_calendars(prices), config.features, config.ingest)
    headlines = pd.DataFrame({"market": panel.market[book.row], "date": panel.date[book.row],
                              "headline": book.headline})
    days = pd.DataFrame({"market": panel.market, "date": panel.date})
    return text_measures(days, headlines, dictionary, book.embedding)


def _days_since(flags: np.ndarray, cap: float = 250.0) -> np.ndarray:
    out = np.full(len(flags), cap)
    last = None
    for index, flag in enumerate(flags):
        if flag:
            last = index
        if last is not None:
            out[index] = min(cap, index - last)
    return out


def evidence_logistic_model(features: pd.DataFrame, activity: pd.DataFrame, labels: pd.DataFrame, split: DateSplit,
                            horizons: list[int], false_alarm_rate: float,
                            calibration: "BaselineCalibration | None" = None) -> ScoredModel:
    """The price logistic plus evidence activity (evidence_features: EVIDENCE_ACTIVITY_FEATURES and any text
    measures): a reader of real feeds any team could build without a model of language or voice, fitted on the
    fold's past like the price logistic."""
    joined = features.merge(activity, on=["market", "date"], how="inner")
    raw = price_logistic_scores(joined, labels, split.train, horizons, extra=evidence_features(activity))
    return _scored("evidence-logit", "baseline", raw, labels, split, horizons, false_alarm_rate,
                   calibration or BaselineCalibration(), log_odds=True)


def truth_models(truth_tables: dict[str, pd.DataFrame], labels: pd.DataFrame, split: DateSplit, horizons: list[int],
                 false_alarm_rate: float, calibration: "BaselineCalibration | None" = None) -> list[ScoredModel]:
    """Synthetic worlds only: frag-oracle (the hidden fragility, calibrated) and ceiling (already a probability).

    ``truth_tables``: {"fragility": market, date, fragility; "storm_probability": market, date,
    storm_probability_{h}d}; either may be missing. The fragility oracle is no ceiling: it ignores
    falls already under way and noise-driven falls. The ceiling, P(storm | full simulator state),
    is only thresholded on validation.
    """
    models = []
    if TRUTH_FRAGILITY in truth_tables:
        fragility = truth_tables[TRUTH_FRAGILITY]
        raw = fragility[["market", "date"]].assign(**{raw_score_column(h): fragility["fragility"].to_numpy(float)
                                                      for h in horizons})
        models.append(_scored("frag-oracle", "oracle", raw, labels, split, horizons, false_alarm_rate,
                              calibration or BaselineCalibration()))
    if TRUTH_STORM_PROBABILITY in truth_tables:
        probability = truth_tables[TRUTH_STORM_PROBABILITY]
        raw = probability[["market", "date"]].assign(**{raw_score_column(h): probability[storm_probability_column(h)]
                                                        for h in horizons})
        models.append(_scored("ceiling", "ceiling", raw, labels, split, horizons, false_alarm_rate,
                              calibration or BaselineCalibration(), probability=True))
    return models


@dataclass(frozen=True)
class BaselineCalibration:
    """How a fold's baselines are calibrated: the prior's strength (train.calibration_prior_episodes) and the
    validation dates of the earlier folds, which join a validation block that holds no storm at any horizon."""

    prior_episodes: float = 5.0
    earlier_validation: tuple[str, ...] = ()


def _scored(name, kind, raw, labels, split: DateSplit, horizons, false_alarm_rate, calibration: BaselineCalibration,
            log_odds: bool = False, probability: bool = False) -> ScoredModel:
    scored = score_baseline(raw, labels, split, horizons, false_alarm_rate, calibration, log_odds=log_odds,
                            probability=probability)
    return ScoredModel(name=name, kind=kind, predictions=scored.test, probabilistic={h: True for h in horizons},
                       notes=scored.notes, validation=scored.validation)


class BaselineScores(NamedTuple):
    """A baseline's calibrated tables on the fold's test and validation rows (the latter feed the stack)."""

    test: pd.DataFrame
    validation: pd.DataFrame
    notes: list[str]


def score_baseline(raw: pd.DataFrame, labels: pd.DataFrame, split: DateSplit, horizons: list[int],
                   false_alarm_rate: float, calibration: BaselineCalibration, log_odds: bool = False,
                   probability: bool = False) -> BaselineScores:
    """Raw baseline scores -> predictions tables on ``split.test`` and ``split.validation``: logit_{h}d, score_{h}d
    (calibrated), alert_{h}d, storm_{h}d.

    ``log_odds``: the raw score already is a logit (a regression's); otherwise it is standardised on the training
    rows and centred on the training base rate (a monotone map per fold: its ranking is the raw score's).
    ``probability``: the raw score already is a calibrated probability (the ceiling): only thresholded.
    """
    joined = raw.merge(labels, on=["market", "date"], how="left").sort_values(["market", "date"], ignore_index=True)
    label_matrix = joined[[storm_column(h) for h in horizons]].to_numpy(float)
    train = joined["date"].isin(set(split.train)).to_numpy()
    prior = calibration_prior(joined["market"].to_numpy()[train], label_matrix[train], horizons,
                              calibration.prior_episodes)
    scores = joined[[raw_score_column(h) for h in horizons]].to_numpy(float)
    if probability:
        logits = np.log(np.clip(scores, 1e-12, 1.0)) - np.log1p(-np.clip(scores, 0.0, 1.0 - 1e-12))
    elif log_odds:
        logits = scores
    else:
        logits = _standardised_logits(scores, train, prior.base_rate, horizons)
    rows, notes = _calibration_rows(joined, label_matrix, split, calibration, horizons)
    usable = rows & np.isfinite(logits).all(axis=1)
    if probability:
        probabilities = np.clip(scores, 0.0, 1.0)
        thresholds = np.array([threshold_for_false_alarm_rate(probabilities[usable, i], label_matrix[usable, i],
                                                              false_alarm_rate) for i in range(len(horizons))])
        alerts = np.logical_or.accumulate(probabilities >= thresholds[None, :], axis=1)
    else:
        fitted = fit_calibration(logits[usable], label_matrix[usable], horizons, false_alarm_rate, method="hazard",
                                 prior=prior, validation_markets=joined["market"].to_numpy()[usable])
        probabilities = fitted.probability(logits)
        alerts = fitted.alerts(np.nan_to_num(probabilities, nan=-1.0))
    tables = {}
    for part in ("test", "validation"):
        chosen = joined["date"].isin(set(getattr(split, part))).to_numpy()
        table = joined.loc[chosen, ["market", "date"]].reset_index(drop=True)
        for i, h in enumerate(horizons):
            missing = ~np.isfinite(logits[chosen, i])
            table[logit_column(h)] = logits[chosen, i]
            table[score_column(h)] = np.where(missing, np.nan, probabilities[chosen, i])
            table[alert_column(h)] = alerts[chosen, i] & ~missing
            table[storm_column(h)] = label_matrix[chosen, i]
        for column in ("vol_pred", FWD_VOL):
            if column in joined.columns:
                table[column] = joined.loc[chosen, column].to_numpy()
        tables[part] = table
    return BaselineScores(tables["test"], tables["validation"], notes)


def _standardised_logits(scores: np.ndarray, train: np.ndarray, base_rate: dict[int, float],
                         horizons: list[int]) -> np.ndarray:
    """(score − training mean) / training sd + logit(training base rate), per horizon: a logit on the scale the
    calibration expects, increasing in the score."""
    return np.column_stack([Standardisation.fit(scores[train, i], base_rate[h]).apply(scores[:, i])
                            for i, h in enumerate(horizons)])


def _calibration_rows(joined: pd.DataFrame, label_matrix: np.ndarray, split: DateSplit,
                      calibration: BaselineCalibration, horizons: list[int]) -> tuple[np.ndarray, list[str]]:
    """The fold's validation rows, widened to the earlier folds' validation rows where they hold no storm."""
    validation = joined["date"].isin(set(split.validation)).to_numpy()
    if np.nansum(label_matrix[validation]) > 0 or not calibration.earlier_validation:
        return validation, []
    widened = validation | joined["date"].isin(set(calibration.earlier_validation)).to_numpy()
    return widened, ["validation block without a storm at any horizon: calibrated on it and the earlier folds' "
                     "validation blocks pooled"]


