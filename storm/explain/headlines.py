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
from storm.features.wire import readable_wire
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
    market_wide: np.ndarray | None = None  # bool [n]: a wire headline (read by every market); None: none is

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
        market_wide = self.market_wide[index] if self.market_wide is not None else None
        return WindowHeadlines(sample=np.concatenate(samples).astype(np.int64) if samples else np.zeros(0, np.int64),
                               position=np.concatenate(positions).astype(np.int64) if positions else np.zeros(0, np.int64),
                               embedding=self.embedding[index], headline=self.headline[index], date=self.date[index],
                               market_wide=market_wide)


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


def read_news_lines(store: ObjectStore, layout: Layout, start: str, end: str, ingest: IngestConfig,
                    source: str = "news") -> pd.DataFrame:
    """Good raw news lines dated in [start, end]: market, date, headline, source_path, content_hash (as ingest keys them).
    ``source`` wire: the market-wide lines (market "")."""
    parse = decode.parse_wire_line if source == "wire" else decode.parse_news_line
    records = []
    for path in store.list_files(layout.raw_dir(source), ".jsonl"):
        date = date_of(path)
        if date is None or not start <= date <= end:
            continue
        for line in store.read_bytes(path).split(b"\n"):
            line = line.rstrip(b"\r")
            if not line.strip():
                continue
            try:
                item = parse(line, date, ingest)
            except (RejectedInput, ValueError):
                continue  # quarantined by ingest: never evidence
            records.append({**item, "source_path": path, "content_hash": decode.content_hash(line)})
    return pd.DataFrame(records, columns=["market", "date", "headline", "source_path", "content_hash"])


def read_headline_book(store: ObjectStore, layout: Layout, panel: EvidencePanel, calendars: dict[str, np.ndarray],
                       features: FeatureConfig, ingest: IngestConfig, news: pd.DataFrame | None = None,
                       wire: pd.DataFrame | None = None) -> HeadlineBook:
    """Each headline of the panel's days with its cached embedding, the market-wide wire's (on every market's day,
    flagged ``market_wide``) beside the market's own; days that do not match the panel left out.

    ``news``, ``wire``: the raw headline lines (read_news_lines, of source news and wire) when the caller has read
    them already, e.g. once for a scan that builds its panel a batch of markets at a time.
    """
    dates = np.sort(panel.date)
    first = evidence_start(calendars, str(dates[0]), 0) if len(dates) else ""
    if news is None:
        news = read_news_lines(store, layout, first, str(dates[-1]), ingest)
    news = news[news["market"].isin(np.unique(panel.market))]
    own = _book(place_headlines(news, panel, calendars, features.max_headlines), "news", panel.text_day,
                panel.text_count, store, layout, features)
    if not np.asarray(panel.wire_count).any():
        return own
    if wire is None:
        wire = read_news_lines(store, layout, first, str(dates[-1]), ingest, source="wire")
    wire = readable_wire(wire, features.max_headlines)
    on_every_market = wire.drop(columns="market").merge(pd.DataFrame({"market": np.unique(panel.market)}), how="cross")
    market_wide = _book(place_headlines(on_every_market, panel, calendars, features.max_headlines), "wire",
                        panel.wire_day, panel.wire_count, store, layout, features)
    return _merged(own, market_wide)


def _book(placed: pd.DataFrame, source: str, day_mean: np.ndarray, day_count: np.ndarray, store: ObjectStore,
          layout: Layout, features: FeatureConfig) -> HeadlineBook:
    """The placed headlines of one source with their cached embeddings, where their days average back to the panel's."""
    cache = FeatureCache(store, layout, source, feature_spec_id(features, source))
    embeddings = cache.load(placed["date"].astype(str).unique().tolist(), placed["content_hash"]) if len(placed) else {}
    placed = placed[placed["content_hash"].isin(embeddings.keys())]
    wide = source == "wire"
    if placed.empty:
        return HeadlineBook(np.zeros(0, np.int64), np.zeros((0, features.text_dim), np.float32),
                            np.zeros(0, dtype=object), np.zeros(0, dtype=object), np.zeros(0, dtype=bool))
    vectors = np.stack([embeddings[h] for h in placed["content_hash"]]).astype(np.float32)
    rows = placed["row"].to_numpy(np.int64)
    agrees = _days_matching_panel(day_mean, day_count, rows, vectors)
    if not agrees.all():
        log.warning("%d %sheadline(s) on %d day(s) do not average back to the evidence panel's day mean; "
                    "those days' headlines are not explained", int((~agrees).sum()), "market-wide " * wide,
                    len(np.unique(rows[~agrees])))
    return HeadlineBook(row=rows[agrees], embedding=vectors[agrees],
                        headline=placed["headline"].to_numpy(object)[agrees], date=placed["date"].to_numpy(object)[agrees],
                        market_wide=np.full(int(agrees.sum()), wide))


def _merged(own: HeadlineBook, market_wide: HeadlineBook) -> HeadlineBook:
    """Both books in one, sorted by panel row (a day's own headlines before its wire's)."""
    order = np.argsort(np.concatenate([own.row, market_wide.row]), kind="stable")
    return HeadlineBook(*(np.concatenate([a, b])[order] for a, b in (
        (own.row, market_wide.row), (own.embedding, market_wide.embedding), (own.headline, market_wide.headline),
        (own.date, market_wide.date), (own.market_wide, market_wide.market_wide))))


def _days_matching_panel(day_mean: np.ndarray, day_count: np.ndarray, rows: np.ndarray,
                         vectors: np.ndarray) -> np.ndarray:
    """Per headline: whether its day's headlines average to the panel's day mean with the panel's count."""
    sums = np.zeros((len(day_count), vectors.shape[1]), dtype=np.float64)
    counts = np.zeros(len(day_count))
    np.add.at(sums, rows, vectors)
    np.add.at(counts, rows, 1.0)
    days = np.unique(rows)
    means = sums[days] / counts[days, None]
    good_day = (np.abs(means - day_mean[days]).max(axis=1) < MEAN_TOLERANCE) & (counts[days] == day_count[days])
    good = np.zeros(len(day_count), dtype=bool)
    good[days[good_day]] = True
    return good[rows]
