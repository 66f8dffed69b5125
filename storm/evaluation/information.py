"""How much can any reader of a world's news and calls add to its prices? Held-out ideal readers, with intervals.

The press writes each market-day's headlines from its news pressure and speakers
deliver each call from its speech pressure (storm.worlds.news, .speech): a model
of the text or audio can know no more of fragility than those pressures carry.
Two ideal readers, each a logistic regression on the price logistic's features
plus decayed means of evidence:
- the *pressure reader* reads the pressures themselves (every day for news,
  conference days only for speech): what the generator writes from, a bound on
  any reader of what it wrote;
- the *grammar reader* reads what was written and said, knowing the grammar:
  the share of stress and of upbeat headlines among each day's real headlines,
  and each call's delivery (words per minute, pitch, pauses) and strained lines,
  regenerated from the world's own random streams.
Fitted on each walk-forward fold's training dates and scored on its test block
with the same paired block bootstrap as `storm evaluate`, they say whether
"fused beats prices-only with the interval above 0" is within reach of any model
in this world at this size, before a single model is trained.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from storm.config import EvaluationConfig, LabelConfig, TrainConfig, WorldConfig
from storm.evaluation.baselines import drawdown_from_peak, log_return, trailing_log_volatility
from storm.evaluation.bootstrap import BootstrapInput, paired_bootstrap
from storm.labels import storm_flags
from storm.splits import walk_forward_folds
from storm.worlds.generate import NEWS_STREAM, SPEECH_STREAM, conference_days
from storm.worlds.news import STRESS_EVENTS, UPBEAT_EVENTS, headlines_for_day
from storm.worlds.plan import WorldPlan, market_rng
from storm.worlds.speech import STRAINED_LINES, conference_script

EVIDENCE_HALF_LIVES = (5.0, 20.0, 60.0)  # trading days, as the model's decayed means (storm.model.encoders.evidence)
READERS = {  # reader -> the evidence kinds it reads; "prices" is the baseline the others must beat
    "prices": ("prices",),
    "prices+news pressure": ("prices", "news"),
    "prices+speech pressure": ("prices", "speech"),
    "prices+pressures": ("prices", "news", "speech"),
    "prices+headlines+calls": ("prices", "headlines", "calls"),
}
PRESSURE_READER, GRAMMAR_READER, PRICE_READER = "prices+pressures", "prices+headlines+calls", "prices"
ORACLE = "fragility oracle"


@dataclass(frozen=True)
class ReaderInputs:
    """[markets, days] feature arrays per evidence kind, storm labels per horizon (NaN where unknown), dates."""

    features: dict[str, list[np.ndarray]]
    labels: dict[int, np.ndarray]
    dates: tuple[str, ...]
    markets: tuple[str, ...]
    fragility: np.ndarray


def decayed_mean(values: np.ndarray, weights: np.ndarray, half_life: float) -> np.ndarray:
    """[markets, days] exponentially decayed weighted mean of the values up to each day (weight 0: not observed);
    NaN before the first observation."""
    keep = 0.5 ** (1.0 / half_life)
    total, weight = np.zeros(values.shape[0]), np.zeros(values.shape[0])
    result = np.full(values.shape, np.nan)
    for day in range(values.shape[1]):
        seen = weights[:, day].astype(float)
        total = keep * total + seen * np.where(seen > 0, values[:, day], 0.0)
        weight = keep * weight + seen
        result[:, day] = np.where(weight > 0, total / np.maximum(weight, 1e-12), np.nan)
    return result


def price_reader_features(closes: np.ndarray) -> list[np.ndarray]:
    """[markets, days] each: the price logistic's inputs (storm.evaluation.baselines.price_features, GARCH left
    out for speed): 20/60-day log vol, drawdown from the 60-day peak, 5/20-day log returns."""
    per_market = [(trailing_log_volatility(close, 20), trailing_log_volatility(close, 60), drawdown_from_peak(close, 60),
                   log_return(close, 5), log_return(close, 20)) for close in closes]
    return [np.stack(feature) for feature in zip(*per_market)]


def reader_inputs(plan: WorldPlan, world: WorldConfig, labels: LabelConfig) -> ReaderInputs:
    """What each ideal reader sees of a synthetic world written with ``world``'s news and call rates."""
    if plan.fragility is None:
        raise ValueError("ideal readers need a synthetic world: a replay has no hidden pressures")
    closes = np.stack([plan.prices[market]["close"].to_numpy() for market in plan.markets])
    conferences = np.zeros(plan.speech_pressure.shape, dtype=bool)
    for market, day in conference_days(plan, world.conferences_per_month):
        conferences[market, day] = True
    everyday = np.ones(plan.news_pressure.shape, dtype=bool)
    stress, upbeat, headline_count = written_tone(plan, world)
    strain, strained_share = spoken_strain(plan, conferences)
    storms = {h: np.stack([storm_flags(close, h, labels.drawdown_threshold) for close in closes]).astype(float)
              for h in labels.horizons}
    features = {
        "prices": price_reader_features(closes),
        "news": _decayed_means(plan.news_pressure, everyday),
        "speech": _heard(_decayed_means(plan.speech_pressure, conferences), conferences),
        "headlines": _decayed_means(stress, headline_count) + _decayed_means(upbeat, headline_count),
        "calls": _heard(_decayed_means(strain, conferences) + _decayed_means(strained_share, conferences), conferences),
    }
    return ReaderInputs(features, storms, plan.dates, plan.markets, plan.fragility)


def written_tone(plan: WorldPlan, world: WorldConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[markets, days] share of stress headlines, share of upbeat ones and the headline count, from the very
    headlines `storm generate` writes (same random streams), classified by the grammar's event phrases."""
    stress, upbeat = np.zeros(plan.news_pressure.shape), np.zeros(plan.news_pressure.shape)
    count = np.zeros(plan.news_pressure.shape)
    for index, market in enumerate(plan.markets):
        for day, date in enumerate(plan.dates):
            records = headlines_for_day(market_rng(plan.seed, NEWS_STREAM, index, day), market, date,
                                        float(plan.news_pressure[index, day]), world.headlines_per_day,
                                        world.no_news_day_probability)
            if not records:
                continue
            headlines = [record["headline"] for record in records]
            count[index, day] = len(headlines)
            stress[index, day] = np.mean([any(event in text for event in STRESS_EVENTS) for text in headlines])
            upbeat[index, day] = np.mean([any(event in text for event in UPBEAT_EVENTS) for text in headlines])
    return stress, upbeat, count


def spoken_strain(plan: WorldPlan, conferences: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[markets, days] on conference days: the speaker's delivery read as strain (slower, higher, longer gaps:
    each rescaled to move by 1 from calm to strained, averaged) and the share of strained lines in the script."""
    strain, strained_share = np.zeros(conferences.shape), np.zeros(conferences.shape)
    for market, day in zip(*np.nonzero(conferences)):
        script = conference_script(market_rng(plan.seed, SPEECH_STREAM, int(market), int(day)), plan.markets[market],
                                   float(plan.speech_pressure[market, day]))
        strain[market, day] = np.mean([(180.0 - script.words_per_minute) / 50.0, (script.pitch - 40.0) / 30.0,
                                       script.word_gap / 8.0])
        strained_share[market, day] = np.mean([line in script.text for line in STRAINED_LINES])
    return strain, strained_share


def _decayed_means(values: np.ndarray, weights: np.ndarray) -> list[np.ndarray]:
    """One decayed mean per EVIDENCE_HALF_LIVES."""
    return [decayed_mean(values, weights, half_life) for half_life in EVIDENCE_HALF_LIVES]


def _heard(means: list[np.ndarray], conferences: np.ndarray) -> list[np.ndarray]:
    """Before a market's first call its means are unknown: 0, and a flag saying nothing was heard yet."""
    heard = np.cumsum(conferences, axis=1) > 0
    return [np.where(heard, mean, 0.0) for mean in means] + [heard.astype(float)]


def held_out_readers(inputs: ReaderInputs, labels: LabelConfig, train: TrainConfig, folds: int | None = None) -> BootstrapInput:
    """Every ideal reader's storm probabilities, and the fragility oracle, on the walk-forward test blocks: each
    reader fitted on its fold's training and validation dates, as `storm evaluate` folds them."""
    splits = walk_forward_folds(list(inputs.dates), train, labels, folds)
    position = {date: index for index, date in enumerate(inputs.dates)}
    n_markets = len(inputs.markets)
    test_days = np.array([position[d] for split in splits for d in split.test])
    scores = {reader: {h: np.full(len(test_days) * n_markets, np.nan) for h in labels.horizons} for reader in READERS}
    tables = {reader: np.stack([feature for kind in kinds for feature in inputs.features[kind]], axis=-1)
              for reader, kinds in READERS.items()}
    offset = 0
    for split in splits:
        fit_days = np.array([position[d] for d in split.train + split.validation])
        score_days = np.array([position[d] for d in split.test])
        rows = slice(offset * n_markets, (offset + len(score_days)) * n_markets)
        for reader, table in tables.items():
            for h in labels.horizons:
                scores[reader][h][rows] = _fit_and_score(table, inputs.labels[h], fit_days, score_days)
        offset += len(score_days)
    day_of_row = np.repeat(test_days, n_markets)
    market_of_row = np.tile(np.arange(n_markets), len(test_days))
    scores[ORACLE] = {h: inputs.fragility[market_of_row, day_of_row] for h in labels.horizons}
    return BootstrapInput(
        markets=np.asarray(inputs.markets)[market_of_row], dates=np.asarray(inputs.dates)[day_of_row],
        labels={h: inputs.labels[h][market_of_row, day_of_row] for h in labels.horizons}, scores=scores,
        probabilistic={reader: {h: reader != ORACLE for h in labels.horizons} for reader in scores})


def reader_gains(data: BootstrapInput, horizons: list[int], settings: EvaluationConfig) -> dict[str, dict]:
    """paired_bootstrap with each evidence reader as the reference: {reader: {h: {"models", "vs_reference"}}};
    its "vs_reference"["prices"] is what that evidence adds to prices."""
    return {reader: paired_bootstrap(data, horizons, reader, settings) for reader in (PRESSURE_READER, GRAMMAR_READER)}


def _fit_and_score(table: np.ndarray, storms: np.ndarray, fit_days: np.ndarray, score_days: np.ndarray) -> np.ndarray:
    """Storm probabilities on score_days, day by day and each day's markets in order (NaN where a feature is missing)."""
    fit_x, fit_y = table[:, fit_days].reshape(-1, table.shape[-1]), storms[:, fit_days].reshape(-1)
    usable = np.isfinite(fit_x).all(axis=1) & np.isfinite(fit_y)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(fit_x[usable], fit_y[usable])
    score_x = table[:, score_days].transpose(1, 0, 2).reshape(-1, table.shape[-1])  # day-major, then market
    result = np.full(len(score_x), np.nan)
    known = np.isfinite(score_x).all(axis=1)
    result[known] = model.predict_proba(score_x[known])[:, 1]
    return result
