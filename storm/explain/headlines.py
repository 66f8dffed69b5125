"""The headlines behind each panel day, read back so each one can be taken out of its day (I/O edge + pure placement).

The evidence panel keeps one mean embedding per (market, day). To say which headline moved a score,
the explanation needs each headline's own embedding: it reads the raw news lines of the explained
window (for their text), places each on its panel day exactly as storm.features.panel does (the next
trading day for a non-trading date, at most features.max_headlines a day, the latest kept), and takes
its embedding from the text feature cache by content hash. A day whose headlines do not average back
to the panel's mean (a cache or raw file changed since) is left out, never explained wrongly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from storm.config import FeatureConfig, IngestConfig
from storm.explain.attribution import WindowHeadlines
from storm.features.alignment import effective_day_index, evidence_start
from storm.features.cache import FeatureCache, feature_spec_id
from storm.features.evidence_panel import EvidencePanel
from storm.ingest import decode
from storm.ingest.errors import RejectedInput
from storm.store import Layout, ObjectStore
from storm.store.layout import date_of

log = logging.getLogger(__name__)
MEAN_TOLERANCE = 1e-4


@dataclass
class HeadlineBook:
    """Every placed headline of a panel, sorted by panel row."""

    row: np.ndarray        # int64 [n]
    embedding: np.ndarray  # float32 [n, text_dim]
    headline: np.ndarray   # object [n]
    date: np.ndarray       # object [n]

    def __len__(self) -> int:
        return len(self.row)

    def for_windows(self, panel: EvidencePanel, rows: np.ndarray) -> WindowHeadlines:
        """The headlines inside the windows ending on ``rows``, positioned like gather_windows (oldest day 0)."""
        samples, positions, picked = [], [], []
        window = panel.window_days
        for sample, row in enumerate(np.asarray(rows, dtype=np.int64)):
            first = max(int(panel.market_start[row]), int(row) - window + 1)
            lo, hi = np.searchsorted(self.row, [first, row + 1])
            picked.append(np.arange(lo, hi))
            samples.append(np.full(hi - lo, sample))
            positions.append(window - 1 - (row - self.row[lo:hi]))
        index = np.concatenate(picked) if picked else np.zeros(0, np.int64)
        return WindowHeadlines(sample=np.concatenate(samples).astype(np.int64) if samples else np.zeros(0, np.int64),
                               position=np.concatenate(positions).astype(np.int64) if positions else np.zeros(0, np.int64),
                               embedding=self.embedding[index], headline=self.headline[index], date=self.date[index])


def place_headlines(news: pd.DataFrame, panel: EvidencePanel, calendars: dict[str, np.ndarray],
                    max_headlines: int) -> pd.DataFrame:
    """news (market, date, headline, source_path, content_hash) -> the same plus ``row``: the panel day each counts on.

    The rule of storm.features.panel: the market's first trading day on or after the item's date, sorted by
    (row, date, source_path, content_hash), the last ``max_headlines`` of a day kept; items off the panel dropped.
    """
    if news.empty:
        return news.assign(row=np.zeros(0, np.int64))
    day = effective_day_index(news, calendars).to_numpy()
    trading_date = np.array([calendars[m][d] if m in calendars and 0 <= d < len(calendars[m]) else ""
                             for m, d in zip(news["market"], day)], dtype=object)
    lookup = {(m, d): r for r, (m, d) in enumerate(zip(panel.market, panel.date))}
    rows = np.array([lookup.get((m, d), -1) for m, d in zip(news["market"], trading_date)], dtype=np.int64)
    placed = news.assign(row=rows)
    placed = placed[placed["row"] >= 0].sort_values(["row", "date", "source_path", "content_hash"], kind="stable")
    return placed.groupby("row", sort=False).tail(max_headlines).reset_index(drop=True)


def read_news_lines(store: ObjectStore, layout: Layout, start: str, end: str, ingest: IngestConfig) -> pd.DataFrame:
    """Good raw news lines dated in [start, end]: market, date, headline, source_path, content_hash (as ingest keys them)."""
    records = []
    for path in store.list_files(layout.raw_dir("news"), ".jsonl"):
        date = date_of(path)
        if date is None or not start <= date <= end:
            continue
        for line in store.read_bytes(path).split(b"\n"):
            line = line.rstrip(b"\r")
            if not line.strip():
                continue
            try:
                item = decode.parse_news_line(line, date, ingest)
            except (RejectedInput, ValueError):
                continue  # quarantined by ingest: never evidence
            records.append({**item, "source_path": path, "content_hash": decode.content_hash(line)})
    return pd.DataFrame(records, columns=["market", "date", "headline", "source_path", "content_hash"])


def read_headline_book(store: ObjectStore, layout: Layout, panel: EvidencePanel, calendars: dict[str, np.ndarray],
                       features: FeatureConfig, ingest: IngestConfig, news: pd.DataFrame | None = None) -> HeadlineBook:
    """Each headline of the panel's days with its cached embedding; days that do not match the panel left out.

    ``news``: the raw headline lines (read_news_lines) when the caller has read them already, e.g. once for a
    scan that builds its panel a batch of markets at a time.
    """
    if news is None:
        dates = np.sort(panel.date)
        news = read_news_lines(store, layout, evidence_start(calendars, str(dates[0]), 0), str(dates[-1]), ingest)
    news = news[news["market"].isin(np.unique(panel.market))]
    placed = place_headlines(news, panel, calendars, features.max_headlines)
    cache = FeatureCache(store, layout, "news", feature_spec_id(features, "news"))
    embeddings = cache.load(placed["date"].astype(str).unique().tolist(), placed["content_hash"]) if len(placed) else {}
    placed = placed[placed["content_hash"].isin(embeddings.keys())]
    if placed.empty:
        return HeadlineBook(np.zeros(0, np.int64), np.zeros((0, features.text_dim), np.float32),
                            np.zeros(0, dtype=object), np.zeros(0, dtype=object))
    vectors = np.stack([embeddings[h] for h in placed["content_hash"]]).astype(np.float32)
    rows = placed["row"].to_numpy(np.int64)
    agrees = _days_matching_panel(panel, rows, vectors)
    if not agrees.all():
        log.warning("%d headline(s) on %d day(s) do not average back to the evidence panel's day mean; "
                    "those days' headlines are not explained", int((~agrees).sum()), len(np.unique(rows[~agrees])))
    return HeadlineBook(row=rows[agrees], embedding=vectors[agrees],
                        headline=placed["headline"].to_numpy(object)[agrees], date=placed["date"].to_numpy(object)[agrees])


def _days_matching_panel(panel: EvidencePanel, rows: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Per headline: whether its day's headlines average to the panel's text_day with the panel's count."""
    sums = np.zeros((len(panel), vectors.shape[1]), dtype=np.float64)
    counts = np.zeros(len(panel))
    np.add.at(sums, rows, vectors)
    np.add.at(counts, rows, 1.0)
    days = np.unique(rows)
    means = sums[days] / counts[days, None]
    good_day = (np.abs(means - panel.text_day[days]).max(axis=1) < MEAN_TOLERANCE) & (counts[days] == panel.text_count[days])
    good = np.zeros(len(panel), dtype=bool)
    good[days[good_day]] = True
    return good[rows]
