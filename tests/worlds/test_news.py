"""The headline grammar: tone follows pressure, with variety and quiet days."""

import numpy as np

from storm.worlds.news import STRESS_EVENTS, headlines_for_day


def stress_share_of_headlines(pressure: float) -> float:
    rng = np.random.default_rng(0)
    headlines = [h["headline"] for _ in range(300) for h in headlines_for_day(rng, "ARDEN", "2024-01-02", pressure, 4.0, 0.0)]
    return np.mean([any(event in headline for event in STRESS_EVENTS) for headline in headlines])


def test_strained_markets_get_more_stress_headlines_but_not_only_those():
    calm, strained = stress_share_of_headlines(0.05), stress_share_of_headlines(0.9)
    assert strained > calm + 0.35
    assert 0.02 < calm and strained < 0.8


def test_headlines_vary_and_carry_the_news_fields():
    rng = np.random.default_rng(1)
    records = [r for _ in range(100) for r in headlines_for_day(rng, "ARDEN", "2024-01-02", 0.5, 3.0, 0.0)]
    assert len({r["headline"] for r in records}) > 0.8 * len(records)
    assert set(records[0]) == {"id", "market", "date", "headline", "source"}
    assert len({r["source"] for r in records}) >= 5


def test_a_no_news_day_has_no_headlines():
    rng = np.random.default_rng(2)
    assert all(headlines_for_day(rng, "ARDEN", "2024-01-02", 0.9, 5.0, 1.0) == [] for _ in range(20))
