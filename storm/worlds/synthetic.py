"""The synthetic world: many markets whose hidden fragility drives both crashes and every modality's evidence."""

from __future__ import annotations

import numpy as np
import pandas as pd

from storm.config import WorldConfig
from storm.schema import PRICE_COLUMNS
from storm.worlds.plan import WorldPlan, market_rng, noisy_view
from storm.worlds.prices import PriceProcess, simulate_fragility, simulate_prices

MARKET_NAMES = ("ARDEN", "BOREAL", "CALDERA", "DUNMORE", "ESKER", "FJORD", "GARNET", "HALCYON",
                "ISTRA", "JUNIPER", "KESTREL", "LUMEN", "MISTRAL", "NADIR", "ORIEL", "PELAGIA")
PRICE_STREAM, NEWS_VIEW_STREAM, SPEECH_VIEW_STREAM = 0, 1, 2
NEWS_DAILY_NOISE, NEWS_MARKET_BIAS = 1.0, 0.5  # the press: noisy every day, gloomier in some markets
SPEECH_DAILY_NOISE, SPEECH_MARKET_BIAS = 0.8, 0.3  # speakers: independent noise, rarer but a bit sharper


def market_names(n_markets: int) -> tuple[str, ...]:
    """Fictional index names; beyond the list they repeat with a number (ARDEN2, …)."""
    return tuple(MARKET_NAMES[i % len(MARKET_NAMES)] + (str(i // len(MARKET_NAMES) + 1) if i >= len(MARKET_NAMES) else "")
                 for i in range(n_markets))


def trading_dates(start_date: str, n_days: int) -> tuple[str, ...]:
    return tuple(pd.bdate_range(start=start_date, periods=n_days).strftime("%Y-%m-%d"))


def synthetic_world(world: WorldConfig, process: PriceProcess = PriceProcess()) -> WorldPlan:
    markets = market_names(world.n_markets)
    dates = trading_dates(world.start_date, world.n_days)
    price_rng = market_rng(world.seed, PRICE_STREAM, 0)
    fragility = simulate_fragility(price_rng, world.n_markets, world.n_days, process)
    simulated = simulate_prices(price_rng, fragility, process)
    prices = {
        market: pd.DataFrame({"date": list(dates), "open": simulated.open[i], "high": simulated.high[i],
                              "low": simulated.low[i], "close": simulated.close[i], "volume": simulated.volume[i]},
                             columns=list(PRICE_COLUMNS))
        for i, market in enumerate(markets)
    }
    return WorldPlan(
        kind="synthetic", seed=world.seed, markets=markets, dates=dates, prices=prices,
        news_pressure=noisy_view(market_rng(world.seed, NEWS_VIEW_STREAM, 0), fragility, NEWS_DAILY_NOISE, NEWS_MARKET_BIAS),
        speech_pressure=noisy_view(market_rng(world.seed, SPEECH_VIEW_STREAM, 0), fragility,
                                   SPEECH_DAILY_NOISE, SPEECH_MARKET_BIAS),
        fragility=fragility,
    )
