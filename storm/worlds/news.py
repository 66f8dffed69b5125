"""A headline grammar whose tone follows a market's stress, with noise and filler.

``pressure`` in [0, 1] is what the press sees of a market that day (already a
noisy view of the hidden state). High pressure skews headlines toward credit
stress, margin calls, liquidity and downgrades; calm days bring upbeat or
neutral news; every day mixes in filler, so one headline says little.
"""

from __future__ import annotations

import numpy as np

SOURCES = (
    "Ledger Wire", "Market Courier", "Harbor Financial News", "The Daily Ticker", "Meridian Press",
    "Capital Desk", "Bourse Journal", "Northgate Newswire", "Quarterly Observer", "Pinecrest Markets",
)
SUBJECTS = (
    "{market} banks", "{market} lenders", "Hedge funds in {market}", "{market} insurers", "Regional banks in {market}",
    "{market} corporate borrowers", "Brokers on the {market} exchange", "{market} property developers",
    "{market} money-market funds", "Pension funds", "{market} exporters", "Asset managers", "{market} utilities",
    "Shadow lenders", "{market} retailers", "Investors in {market}",
)
STRESS_EVENTS = (
    "face margin calls", "scramble for liquidity", "are hit by a wave of downgrades", "see credit spreads blow out",
    "struggle to roll over short-term debt", "report surging redemption requests", "draw on emergency credit lines",
    "warn of covenant breaches", "are forced into fire sales", "miss coupon payments", "face collateral shortfalls",
    "see funding costs spike", "suspend withdrawals", "cut exposure to leveraged loans", "brace for defaults",
)
STRESS_CONTEXTS = (
    "as repo rates jump", "amid a rush to cash", "after a ratings agency cut its outlook", "as volatility spikes",
    "while interbank lending dries up", "as bond yields surge", "after a large fund was liquidated",
    "as credit stress spreads", "amid liquidity fears", "as short sellers circle", "", "",
)
CALM_EVENTS = (
    "report quarterly results in line with estimates", "announce a leadership change", "hold annual meetings",
    "schedule an investor day", "unveil new products", "complete a merger review", "expand into new regions",
    "publish sustainability reports", "hire a new chief economist", "renew sponsorship deals",
    "update accounting policies", "open a new headquarters",
)
UPBEAT_EVENTS = (
    "rally to record highs", "win credit upgrades", "attract strong inflows", "beat earnings forecasts",
    "see spreads tighten as demand returns", "raise dividends", "issue bonds at record-low yields",
    "report healthy loan growth", "lift full-year guidance", "post their best week in months",
)
CALM_CONTEXTS = (
    "analysts say", "according to filings", "ahead of the holiday", "in a quiet session", "as expected",
    "a spokesperson said", "", "", "",
)
FORMS = (
    "{subject} {event} {context}", "{prefix}{subject} {event} {context}", "{context_lead}{subject_lower} {event}",
    "{subject} {event}, {source_note}",
)
PREFIXES = ("BREAKING: ", "Analysis: ", "Exclusive: ", "Update: ", "Markets: ")
SOURCE_NOTES = ("sources say", "people familiar said", "data show", "a survey finds", "traders report")


def stress_share(pressure: float) -> float:
    """Probability that one headline is about stress; never 0 (rumours) nor 1 (filler)."""
    return 0.06 + 0.6 * pressure


def headlines_for_day(rng: np.random.Generator, market: str, date: str, pressure: float,
                      mean_count: float, no_news_probability: float) -> list[dict]:
    """The NEWS_FIELDS records of one market-day: none on a quiet day, else a Poisson count."""
    if rng.uniform() < no_news_probability:
        return []
    count = int(rng.poisson(mean_count))
    return [
        {"id": f"{date}.{market}.{index:02d}", "market": market, "date": date,
         "headline": compose_headline(rng, market, pressure), "source": str(rng.choice(SOURCES))}
        for index in range(count)
    ]


def compose_headline(rng: np.random.Generator, market: str, pressure: float) -> str:
    tone = rng.uniform()
    if tone < stress_share(pressure):
        events, contexts = STRESS_EVENTS, STRESS_CONTEXTS
    elif tone < stress_share(pressure) + 0.45 * (1.0 - pressure):
        events, contexts = UPBEAT_EVENTS, CALM_CONTEXTS
    else:
        events, contexts = CALM_EVENTS, CALM_CONTEXTS
    subject = str(rng.choice(SUBJECTS)).format(market=market)
    context = str(rng.choice(contexts))
    form = str(rng.choice(FORMS))
    if "{context_lead}" in form and not context:
        form = FORMS[0]
    subject_lower = subject if subject.startswith(market) else subject[0].lower() + subject[1:]
    headline = form.format(
        subject=subject, subject_lower=subject_lower, event=str(rng.choice(events)),
        context=context, prefix=str(rng.choice(PREFIXES)), source_note=str(rng.choice(SOURCE_NOTES)),
        context_lead=f"{context[:1].upper()}{context[1:]}, " if context else "",
    )
    return " ".join(headline.split())
