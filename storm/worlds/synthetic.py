"""The synthetic world: many markets whose hidden fragility drives both crashes and every modality's evidence.

A profile names the process and how loudly fragility shows in the press and in
conference calls. ``realistic`` (default): crashes feed volatility, and each
day's news or speech is a faint, noisy view of fragility that only weeks of it
make clear. ``legacy``: the first world, same seed same bytes, for tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from storm.config import WorldConfig
from storm.schema import PRICE_COLUMNS
from storm.worlds.plan import HiddenState, WorldPlan, market_rng, noisy_view
from storm.worlds.prices import (LEGACY_PROCESS, PriceProcess, fragility_from_factors, simulate_fragility_factors,
                                 simulate_prices)

MARKET_NAMES = ("ARDEN", "BOREAL", "CALDERA", "DUNMORE", "ESKER", "FJORD", "GARNET", "HALCYON",
                "ISTRA", "JUNIPER", "KESTREL", "LUMEN", "MISTRAL", "NADIR", "ORIEL", "PELAGIA")
PRICE_STREAM, NEWS_VIEW_STREAM, SPEECH_VIEW_STREAM = 0, 1, 2


@dataclass(frozen=True)
class WorldProfile:
    """The price process and the logit-scale noise through which press and speakers see fragility."""

    process: PriceProcess
    news_daily_noise: float  # fresh noise every day: one day's headlines say little
    news_market_bias: float  # persistent: the press is gloomier about some markets
    speech_daily_noise: float  # speakers: independent of the press, rarer but a bit sharper
    speech_market_bias: float


PROFILES = {
    "realistic": WorldProfile(PriceProcess(), news_daily_noise=3.0, news_market_bias=0.5,
                              speech_daily_noise=2.5, speech_market_bias=0.3),
    "legacy": WorldProfile(LEGACY_PROCESS, news_daily_noise=1.0, news_market_bias=0.5,
                           speech_daily_noise=0.8, speech_market_bias=0.3),
}


def market_names(n_markets: int) -> tuple[str, ...]:
    """Fictional index names; beyond the list they repeat with a number (ARDEN2, …)."""
    return tuple(MARKET_NAMES[i % len(MARKET_NAMES)] + (str(i // len(MARKET_NAMES) + 1) if i >= len(MARKET_NAMES) else "")
                 for i in range(n_markets))


def trading_dates(start_date: str, n_days: int) -> tuple[str, ...]:
    return tuple(pd.bdate_range(start=start_date, periods=n_days).strftime("%Y-%m-%d"))


def synthetic_world(world: WorldConfig, profile: WorldProfile | None = None) -> WorldPlan:
    """The plan of a synthetic world; ``profile`` overrides ``world.profile`` (benchmarks try variants)."""
    profile = profile or PROFILES[world.profile]
    markets = market_names(world.n_markets)
    dates = trading_dates(world.start_date, world.n_days)
    price_rng = market_rng(world.seed, PRICE_STREAM, 0)
    factors = simulate_fragility_factors(price_rng, world.n_markets, world.n_days, profile.process)
    fragility = fragility_from_factors(factors, profile.process)
    simulated = simulate_prices(price_rng, fragility, profile.process)
    prices = {
        market: pd.DataFrame({"date": list(dates), "open": simulated.open[i], "high": simulated.high[i],
                              "low": simulated.low[i], "close": simulated.close[i], "volume": simulated.volume[i]},
                             columns=list(PRICE_COLUMNS))
        for i, market in enumerate(markets)
    }
    return WorldPlan(
        kind="synthetic", seed=world.seed, markets=markets, dates=dates, prices=prices,
        news_pressure=noisy_view(market_rng(world.seed, NEWS_VIEW_STREAM, 0), fragility,
                                 profile.news_daily_noise, profile.news_market_bias),
        speech_pressure=noisy_view(market_rng(world.seed, SPEECH_VIEW_STREAM, 0), fragility,
                                   profile.speech_daily_noise, profile.speech_market_bias),
        fragility=fragility,
        hidden=HiddenState(profile.process, factors, simulated),
    )

