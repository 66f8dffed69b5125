"""Fielded text measures per (market, trading day): what the finance literature reads from news before any model
of language (Loughran & McDonald 2011; Tetlock 2007), as features a logistic regression can weigh.

  lm_negative_share, lm_uncertainty_share  dictionary words / all words of the day's headlines
  headline_volume_surprise                 log1p(headlines today) − its mean over the market's previous 60 days
  novelty                                  share of today's headlines whose closest headline of the market's
                                           previous 20 trading days has cosine similarity below 0.8

Pure: tables in, a table out; every measure of a day reads that day and earlier days of its market only. The
dictionary is the user's file in the Loughran–McDonald master dictionary's CSV format (its licence is its
authors': storm ships none); without one the LM shares are NaN, as is novelty without embeddings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

TEXT_MEASURES = ("lm_negative_share", "lm_uncertainty_share", "headline_volume_surprise", "novelty")
VOLUME_WINDOW_DAYS = 60
NOVELTY_DAYS = 20
NOVELTY_THRESHOLD = 0.8
LM_COLUMNS = ("Word", "Negative", "Uncertainty")
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_WORD = re.compile(r"[A-Z]+")


@dataclass(frozen=True)
class LMDictionary:
    """The upper-case words of the Loughran–McDonald negative and uncertainty categories (inflections listed
    as the master dictionary lists them: matched exactly, never stemmed)."""

    negative: frozenset[str]
    uncertainty: frozenset[str]


def lm_dictionary_from_table(table: pd.DataFrame, source: str = "the dictionary") -> LMDictionary:
    """The master dictionary's rows -> its negative and uncertainty words.

    A category column holds the year the word entered it: a positive year means the word is in the category,
    0 that it never was, and a negative year (later editions) that it was taken out that year.
    """
    missing = [column for column in LM_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(f"{source} has no column(s) {missing}: expected the Loughran–McDonald master dictionary's "
                         f"CSV (columns Word, Negative, Uncertainty, …; a positive year marks a category's words)")
    words = table["Word"].astype(str).str.strip().str.upper()

    def category(column: str) -> frozenset[str]:
        years = pd.to_numeric(table[column], errors="coerce").fillna(0).to_numpy()
        return frozenset(words[years > 0])

    return LMDictionary(negative=category("Negative"), uncertainty=category("Uncertainty"))


def read_lm_dictionary(path: str | Path) -> LMDictionary:
    """The user's master dictionary CSV (the I/O edge of this module); the error names the file and what to give."""
    try:
        table = pd.read_csv(path, usecols=lambda column: column in LM_COLUMNS, keep_default_na=False)
    except FileNotFoundError:
        raise ValueError(f"evaluation.lm_dictionary: no file {path}; give the path of the Loughran–McDonald master "
                         "dictionary CSV (sraf.nd.edu), or leave the key unset to go without the LM shares") from None
    return lm_dictionary_from_table(table, source=str(path))


def headline_words(headline: str) -> list[str]:
    """The headline's words as the dictionary spells them: upper-case alphabetic runs, URLs not counted as words."""
    return _WORD.findall(_URL.sub(" ", headline).upper())


def text_measures(days: pd.DataFrame, headlines: pd.DataFrame, dictionary: LMDictionary | None = None,
                  embeddings: np.ndarray | None = None, volume_window: int = VOLUME_WINDOW_DAYS,
                  novelty_days: int = NOVELTY_DAYS, novelty_threshold: float = NOVELTY_THRESHOLD) -> pd.DataFrame:
    """market, date and TEXT_MEASURES for every row of ``days`` (in its order).

    ``days``: market, date — every trading day of every market (a market's days are its calendar).
    ``headlines``: market, date (the trading day each counts on), headline; ``embeddings``: one unit vector per
    headline row (None: novelty NaN). A day without headlines has NaN shares and novelty; a headline on a day
    not in ``days`` is ignored.
    """
    order = days[["market", "date"]].astype(str).reset_index(drop=True)
    headlines = headlines.assign(market=headlines["market"].astype(str),
                                 date=headlines["date"].astype(str)).reset_index(drop=True)
    sorted_days = order.sort_values(["market", "date"], kind="stable")
    position = sorted_days.groupby("market", sort=False).cumcount()
    day_index = pd.Series(position.to_numpy(), index=pd.MultiIndex.from_frame(sorted_days[["market", "date"]]))
    placed = pd.MultiIndex.from_frame(headlines[["market", "date"]])
    on_day = day_index.reindex(placed).to_numpy()
    known = ~np.isnan(on_day)
    counts = headlines.loc[known, ["market", "date"]].value_counts()
    keys = pd.MultiIndex.from_frame(order)
    count = counts.reindex(keys, fill_value=0).to_numpy(float)
    measures = order.copy()
    negative, uncertainty = _lm_shares(headlines.loc[known], keys, dictionary)
    measures["lm_negative_share"], measures["lm_uncertainty_share"] = negative, uncertainty
    measures["headline_volume_surprise"] = _volume_surprise(order, count, volume_window)
    measures["novelty"] = (np.full(len(order), np.nan) if embeddings is None else
                           _novelty(order, keys, headlines.loc[known, "market"].to_numpy(), on_day[known].astype(int),
                                    np.asarray(embeddings, np.float32)[known], day_index, novelty_days,
                                    novelty_threshold))
    return measures


def _lm_shares(headlines: pd.DataFrame, keys: pd.MultiIndex,
               dictionary: LMDictionary | None) -> tuple[np.ndarray, np.ndarray]:
    if dictionary is None:
        return np.full(len(keys), np.nan), np.full(len(keys), np.nan)
    words = [headline_words(str(text)) for text in headlines["headline"]]
    tally = headlines[["market", "date"]].assign(
        words=[len(w) for w in words],
        negative=[sum(word in dictionary.negative for word in w) for w in words],
        uncertainty=[sum(word in dictionary.uncertainty for word in w) for w in words])
    per_day = tally.groupby(["market", "date"]).sum().reindex(keys, fill_value=0)
    total = per_day["words"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = lambda column: np.where(total > 0, per_day[column].to_numpy(float) / total, np.nan)  # noqa: E731
        return share("negative"), share("uncertainty")


def _volume_surprise(order: pd.DataFrame, count: np.ndarray, window: int) -> np.ndarray:
    """log1p(count) less its mean over the market's previous ``window`` trading days (NaN on a market's first day)."""
    frame = order.assign(volume=np.log1p(count)).sort_values(["market", "date"], kind="stable")
    trailing = frame.groupby("market", sort=False)["volume"].transform(
        lambda volume: volume.shift(1).rolling(window, min_periods=1).mean())
    return (frame["volume"] - trailing).reindex(order.index).to_numpy(float)


def _novelty(order: pd.DataFrame, keys: pd.MultiIndex, markets: np.ndarray, on_day: np.ndarray,
             embeddings: np.ndarray, day_index: pd.Series, lookback: int, threshold: float) -> np.ndarray:
    """Per day with headlines: the share of them whose highest cosine similarity to any headline of the market's
    previous ``lookback`` trading days is below ``threshold`` (all of them when those days said nothing)."""
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    unit = embeddings / np.where(norms > 0, norms, 1.0)
    novelty = {}
    for market in np.unique(markets):
        mine = np.flatnonzero(markets == market)
        mine = mine[np.argsort(on_day[mine], kind="stable")]
        day, vectors = on_day[mine], unit[mine]
        for today in np.unique(day):
            lo, hi = np.searchsorted(day, [today - lookback, today])  # earlier days only: [today − lookback, today)
            now = np.searchsorted(day, today, side="right")
            if hi == lo:
                novelty[(market, today)] = 1.0
                continue
            closest = (vectors[hi:now] @ vectors[lo:hi].T).max(axis=1)
            novelty[(market, today)] = float(np.mean(closest < threshold))
    position = day_index.reindex(keys).to_numpy()
    return np.array([novelty.get((m, int(p)), np.nan) for m, p in zip(order["market"], position)])
