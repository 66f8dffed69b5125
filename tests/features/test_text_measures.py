"""Fielded text measures: LM shares by hand count, novelty and volume from earlier days only, and an evidence
logistic that still fits without a dictionary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from storm.features.text_measures import TEXT_MEASURES, read_lm_dictionary, text_measures

DATES = list(pd.bdate_range("2019-01-01", periods=40).strftime("%Y-%m-%d"))


def write_dictionary(path) -> str:
    """A few rows in the master dictionary's format: a positive year puts a word in a category, a negative year
    took it out."""
    pd.DataFrame({
        "Word": ["LOSS", "LOSSES", "DECLINE", "UNCERTAIN", "MAY", "PROFIT", "ABANDONED"],
        "Sequence Number": range(1, 8),
        "Negative": [2009, 2009, 2009, 0, 0, 0, -2020],
        "Positive": [0, 0, 0, 0, 0, 2009, 0],
        "Uncertainty": [0, 0, 0, 2009, 2009, 0, 0],
    }).to_csv(path / "lm.csv", index=False)
    return str(path / "lm.csv")


def days_of(markets=("AAA",), dates=DATES) -> pd.DataFrame:
    return pd.DataFrame([(m, d) for m in markets for d in dates], columns=["market", "date"])


def test_lm_shares_of_headlines_of_known_words_equal_a_hand_count(tmp_path):
    dictionary = read_lm_dictionary(write_dictionary(tmp_path))
    headlines = pd.DataFrame({"market": "AAA", "date": [DATES[1], DATES[1], DATES[2]], "headline": [
        "Loss widens as outlook uncertain",                   # 5 words: LOSS negative, UNCERTAIN uncertain
        "Losses may decline; declines loom https://t.co/x1",  # 5 words: LOSSES, DECLINE; MAY (DECLINES: unlisted)
        "Profit abandoned",                                   # 2 words, ABANDONED taken out of the category
    ]})
    measures = text_measures(days_of(), headlines, dictionary).set_index("date")
    assert measures.loc[DATES[1], "lm_negative_share"] == pytest.approx(3 / 10)
    assert measures.loc[DATES[1], "lm_uncertainty_share"] == pytest.approx(2 / 10)
    assert measures.loc[DATES[2], ["lm_negative_share", "lm_uncertainty_share"]].tolist() == [0.0, 0.0]
    assert measures.loc[DATES[0], ["lm_negative_share", "lm_uncertainty_share"]].isna().all()  # nothing said


def test_novelty_is_the_share_of_headlines_unlike_any_of_the_last_20_trading_days():
    first, second = np.eye(4, dtype=np.float32)[:2]
    rows = [(0, first), (1, first), (1, second), (21, second), (22, first)]
    headlines = pd.DataFrame({"market": "AAA", "date": [DATES[d] for d, _ in rows], "headline": "x"})
    embeddings = np.stack([vector for _, vector in rows])
    novelty = text_measures(days_of(), headlines, None, embeddings).set_index("date")["novelty"]
    assert novelty[DATES[0]] == 1.0  # nothing earlier to resemble
    assert novelty[DATES[1]] == 0.5  # the first repeats day 0; the second is new (same-day headlines not compared)
    assert novelty[DATES[21]] == 0.0  # day 1 said it, 20 trading days before
    assert novelty[DATES[22]] == 1.0  # last said on day 1: 21 days back, outside the window
    assert np.isnan(novelty[DATES[2]])


def test_volume_surprise_is_todays_log_count_against_the_previous_days_mean():
    counts = {0: 1, 1: 0, 2: 3, 3: 1}
    headlines = pd.DataFrame({"market": "AAA", "date": [DATES[d] for d, n in counts.items() for _ in range(n)],
                              "headline": "x"})
    surprise = text_measures(days_of(dates=DATES[:4]), headlines, volume_window=2)["headline_volume_surprise"]
    volume = np.log1p([1, 0, 3, 1])
    assert np.isnan(surprise[0])
    np.testing.assert_allclose(surprise[1:], [volume[1] - volume[0], volume[2] - volume[:2].mean(),
                                              volume[3] - volume[1:3].mean()])


def random_headlines(seed: int, dates: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """A few headlines a day for two markets, some repeating earlier ones (near-duplicate embeddings)."""
    rng = np.random.default_rng(seed)
    words = ["loss", "may", "decline", "uncertain", "profit", "shares", "rally", "bank"]
    rows, vectors = [], []
    for market in ("AAA", "BBB"):
        for date in dates:
            for _ in range(rng.integers(0, 4)):
                rows.append((market, date, " ".join(rng.choice(words, 5))))
                repeat = vectors and rng.random() < 0.4
                vectors.append(vectors[rng.integers(len(vectors))] + 0.05 * rng.standard_normal(8) if repeat
                               else rng.standard_normal(8))
    return pd.DataFrame(rows, columns=["market", "date", "headline"]), np.stack(vectors)


def test_changing_later_days_headlines_changes_no_earlier_days_measures(tmp_path):
    dictionary = read_lm_dictionary(write_dictionary(tmp_path))
    headlines, embeddings = random_headlines(0, DATES)
    cut = DATES[25]
    later_headlines, later_embeddings = random_headlines(1, DATES[25:])  # a different future from day 25 on
    earlier = (headlines["date"] < cut).to_numpy()
    changed = pd.concat([headlines[earlier], later_headlines], ignore_index=True)
    changed_embeddings = np.concatenate([embeddings[earlier], later_embeddings])
    days = days_of(("AAA", "BBB"))
    before = text_measures(days, headlines, dictionary, embeddings)
    after = text_measures(days, changed, dictionary, changed_embeddings)
    up_to_cut = (days["date"] < cut).to_numpy()
    pd.testing.assert_frame_equal(before[up_to_cut], after[up_to_cut])
    assert not before[~up_to_cut].equals(after[~up_to_cut])  # the later days did read the new headlines
    assert before[list(TEXT_MEASURES)].notna().any().all()


def test_without_a_dictionary_the_lm_shares_are_nan_and_the_evidence_logistic_still_fits():
    from types import SimpleNamespace

    from storm.config import LabelConfig
    from storm.evaluation.baselines import evidence_activity, evidence_features, evidence_logistic_model, price_features
    from storm.labels import label_table
    from storm.splits import DateSplit

    dates = list(pd.bdate_range("2018-01-01", periods=420).strftime("%Y-%m-%d"))
    rng = np.random.default_rng(0)
    prices = []
    for seed, market in enumerate(["AAA", "BBB"]):
        returns = rng.standard_normal(len(dates)) * 0.008
        for crash in range(130 + 7 * seed, len(dates) - 10, 45):
            returns[crash - 15:crash] *= 3
            returns[crash:crash + 5] = -0.035
        prices.append(pd.DataFrame({"market": market, "date": dates, "close": 100 * np.exp(np.cumsum(returns))}))
    prices = pd.concat(prices, ignore_index=True)
    labels = label_table(prices, LabelConfig(horizons=[5, 20]))
    headlines, embeddings = random_headlines(2, dates)
    measures = text_measures(labels[["market", "date"]], headlines, None, embeddings)
    assert measures[["lm_negative_share", "lm_uncertainty_share"]].isna().all().all()
    panel = SimpleNamespace(market=labels["market"].to_numpy(), date=labels["date"].to_numpy(),
                            text_count=rng.poisson(2.0, len(labels)).astype(np.float32),
                            conference_row=np.zeros(0, np.int64), call_row=None)
    activity = evidence_activity(panel, measures)
    assert evidence_features(activity)[-2:] == ("headline_volume_surprise", "novelty")
    assert "lm_negative_share" not in activity.columns
    split = DateSplit(train=dates[:250], validation=dates[270:330], test=dates[350:], embargo_days=20)
    model = evidence_logistic_model(price_features(prices, [5, 20], vol_window=20, workers=1), activity, labels,
                                    split, [5, 20], 0.1)
    scored = model.predictions.dropna(subset=["storm_20d"])
    assert len(scored) and scored["score_20d"].between(0, 1).all()
