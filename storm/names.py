"""Names that become object-store path segments: run names and market names.

Both are matched whole (`re.fullmatch`: no trailing newline sneaks past `$`),
start with a letter, digit or `_` (never a dot), and never hold a path
separator or `..`, so no name can lead a path out of the store's root.
Kept apart from the layout so the config can check names at the entry point.
"""

from __future__ import annotations

import re

# The kinds of raw input, each in its own raw/<source>/ folder: headlines, chart images, call recordings,
# per-sentence call tables, and market-wide headlines read by every market (prices, one file per market, are apart:
# raw/prices/).
SOURCES = ("news", "charts", "audio", "calls", "wire")
RUN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
MARKET_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.]{0,63}")


def check_run_name(run: str, what: str = "run name") -> str:
    """`run` if it is a safe run name; else a ValueError saying what is allowed."""
    if not isinstance(run, str) or not RUN_NAME.fullmatch(run) or ".." in run:
        raise ValueError(f"{what} {run!r} is not allowed: use 1-128 letters, digits, '_', '-' or '.', starting with a "
                         "letter, digit or '_', without '..', '/' or '\\' (it names a folder in the object store)")
    return run


def check_market_name(market: str) -> str:
    """`market` if it is a safe market name; else a ValueError saying what is allowed."""
    if not isinstance(market, str) or not MARKET_NAME.fullmatch(market) or ".." in market:
        raise ValueError(f"market name {market!r} must be 1-64 letters, digits, '_' or '.', not starting with '.', "
                         "without '..' (no '-': it separates the event; no '/')")
    return market
