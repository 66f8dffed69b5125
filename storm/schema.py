"""Column contracts between the stages: raw records, aligned samples, predictions, scores.

Stages exchange tables (pyarrow / pandas / Ray Datasets) with these columns.
Modalities are always ordered as MODALITIES; masks follow that order. A modality is what the model reads
(news, prices, calls); a source is a kind of raw input (storm.store.layout.SOURCES) that feeds one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from storm.names import SOURCES

__all__ = ["MODALITIES", "MODALITY_SOURCES", "SOURCES", "storm_column", "NEWS_FIELDS", "WIRE_FIELDS", "PRICE_COLUMNS", "QUARANTINE_FIELDS", "SCORE_COLUMNS", "PRODUCT_MEMBERS", "member_column", "score_column", "alert_column", "logit_column", "INPUT_STATUSES", "ScanStats", "FWD_VOL",
           "PRAAT_COLUMNS", "N_PRAAT"]

MODALITIES = ("news", "prices", "calls")
# the raw inputs each modality reads (besides raw/prices/, which every market has): a quarantined chart or recording
# is an input of prices or calls missing
MODALITY_SOURCES = {"news": ("news", "wire"), "prices": ("charts",), "calls": ("audio", "calls")}

# raw/prices/<market>.parquet
PRICE_COLUMNS = ("date", "open", "high", "low", "close", "volume")  # date as 'YYYY-MM-DD' string

# one JSON object per line in raw/news/date=D/*.jsonl; "market" and "headline" required, "date" optional
# (the partition gives it; if present it must agree), "id"/"source"/"body" optional
NEWS_FIELDS = ("id", "market", "date", "headline", "source")
# raw/wire/date=D/*.jsonl: the same without "market" (a market-wide line is every market's; one naming a market is
# rejected)
WIRE_FIELDS = ("id", "date", "headline", "source")

# raw/calls/date=D/<market>-<event>.sentences.parquet: sent_idx int64, text (null: no transcript), and Praat's voice
# report per sentence as float64, NaN where Praat wrote --undefined-- (MAEC's columns, in MAEC's order)
PRAAT_COLUMNS = (
    "Mean pitch", "Standard deviation", "Minimum pitch", "Maximum pitch", "Mean intensity", "Minimum intensity",
    "Maximum intensity", "Number of pulses", "Number of periods", "Mean period", "Standard deviation of period",
    "Fraction of unvoiced", "Number of voice breaks", "Degree of voice breaks", "Jitter local", "Jitter local absolute",
    "Jitter rap", "Jitter ppq5", "Jitter ddp", "Shimmer local", "Shimmer local dB", "Shimmer apq3", "Shimmer apq5",
    "Shimmer apq11", "Shimmer dda", "Mean autocorrelation", "Mean NHR", "Mean HNR", "Audio Length",
)
N_PRAAT = len(PRAAT_COLUMNS)

# quarantine/date=D/<stage>-<source>.jsonl, one object a line; "source" is the kind of input (SOURCES)
QUARANTINE_FIELDS = ("source_path", "source", "date", "market", "stage", "reason")

# a sample is a window of per-day evidence: storm.features.windows.WINDOW_INPUT_KEYS, plus labels
# storm_column(h) per horizon (float32 0/1, NaN where the future is not known yet) and "fwd_log_vol"


def storm_column(horizon: int) -> str:
    return f"storm_{horizon}d"


def score_column(horizon: int) -> str:
    """A model's calibrated probability at h in a predictions table."""
    return f"score_{horizon}d"


def alert_column(horizon: int) -> str:
    return f"alert_{horizon}d"


def logit_column(horizon: int) -> str:
    """A model's raw logit at h in a predictions table: what its calibration maps to score_{h}d."""
    return f"logit_{horizon}d"


FWD_VOL = "fwd_log_vol"


# scores/date=D/scores.parquet, one row per (market, horizon)
# the published score's possible members (storm.desk): the desk's price models and storm's neural model
PRODUCT_MEMBERS = ("trail-vol", "garch", "price-logit", "boosted", "fused")


def member_column(member: str) -> str:
    """A scores-table column: the member's exact Shapley value in the published score (NaN: not a stacked model)."""
    return "member_" + member.replace("-", "_")


SCORE_COLUMNS = (
    "date", "market", "horizon", "score", "alert", "threshold", "model_version",
    "weight_news", "weight_prices", "weight_calls", "present_news", "present_prices", "present_calls",
    *(member_column(m) for m in PRODUCT_MEMBERS),
)

INPUT_STATUSES = ("ok", "quarantined", "missing")


@dataclass(frozen=True)
class ScanStats:
    """What one scan of one date saw: handed from the scan to the metrics publisher."""

    date: str
    duration_seconds: float
    inputs: dict[str, dict[str, int]] = field(default_factory=dict)  # modality -> status -> count
    markets_missing: tuple[str, ...] = ()
    finished_at: float = 0.0  # unix seconds when the scan succeeded
