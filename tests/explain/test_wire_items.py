"""Market-wide headlines are named items of the news modality, labelled as market-wide (no Ray)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from storm.explain.attribution import ItemSources, WindowHeadlines, explain_windows
from storm.explain.headlines import HeadlineBook, place_headlines
from storm.explain.items import MARKET_WIDE_LABEL, NEWS_REFERENCE_LABEL
from storm.features.evidence_panel import EvidencePanel
from storm.model import build_model
from storm.published.calibration import Calibration

sys.path.insert(0, str(Path(__file__).parents[1] / "model"))
from model_batches import HORIZONS, make_batch, small_configs  # noqa: E402

CALIBRATION = Calibration(method="hazard", horizons=HORIZONS, threshold={h: 0.5 for h in HORIZONS},
                          false_alarm_rate=0.05, slope=0.8, intercept={5: -0.3, 10: -0.1, 20: 0.2})


def unit(rng, dim: int) -> np.ndarray:
    vector = rng.normal(size=dim)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def test_a_wire_headline_is_named_as_market_wide_and_the_headlines_add_up_to_the_news_contribution():
    torch.manual_seed(3)
    model_config, features = small_configs(fusion="gated")
    model = build_model(model_config, features, HORIZONS).eval()
    rng = np.random.default_rng(1)
    batch = make_batch(features, [[1.0, 1.0, 1.0]], seed=2)
    own = {features.window_days - 1: [unit(rng, features.text_dim)]}
    wire = {features.window_days - 2: [unit(rng, features.text_dim), unit(rng, features.text_dim)],
            features.window_days - 1: [unit(rng, features.text_dim)]}
    rows = []
    for key, channel, flag in (("text", own, False), ("wire", wire, True)):
        days, count = torch.zeros_like(batch["text_days"]), torch.zeros_like(batch["text_day_count"])
        for position, vectors in channel.items():
            days[0, position], count[0, position] = torch.as_tensor(np.mean(vectors, axis=0)), len(vectors)
            rows += [(position, vector, flag) for vector in vectors]
        batch[f"{key}_days"], batch[f"{key}_day_count"] = days, count
    headlines = WindowHeadlines(
        sample=np.zeros(len(rows), np.int64), position=np.array([p for p, _, _ in rows], np.int64),
        embedding=np.stack([v for _, v, _ in rows]), date=np.array(["2024-01-02"] * len(rows), dtype=object),
        headline=np.array(["Acme wins a contract", "Fed raises rates", "Oil jumps", "Payrolls miss"], dtype=object),
        market_wide=np.array([flag for _, _, flag in rows]))

    explanation = explain_windows(model, CALIBRATION, batch, ItemSources(headlines=headlines))
    news = [i for i, item in enumerate(explanation.items) if item.modality == "news"]
    labels = [explanation.items[i].label for i in news]
    assert sorted(labels) == sorted(["Acme wins a contract"] + [MARKET_WIDE_LABEL.format(headline=h)
                                                                for h in ("Fed raises rates", "Oil jumps", "Payrolls miss")])
    assert NEWS_REFERENCE_LABEL not in labels  # every headline, the market's and the wire's, was read back
    assert np.abs(explanation.item_logit[news].sum(axis=0) - explanation.modality_logit[0, 0]).max() < 1e-5
    wire_items = [i for i in news if explanation.items[i].label.endswith("(market-wide)")]
    assert np.abs(explanation.item_logit[wire_items]).max() > 1e-6  # the wire moves the score through the news channel


def test_a_wire_headline_is_placed_on_every_markets_own_day_in_the_explanations_book():
    panel = EvidencePanel(
        market=np.array(["AAA", "AAA", "BBB", "BBB"]), date=np.array(["2024-01-02", "2024-01-03"] * 2),
        market_start=np.array([0, 0, 2, 2]), text_day=np.zeros((4, 2), np.float32), text_count=np.zeros(4, np.float32),
        price=np.zeros((4, 1), np.float32), chart=np.zeros((4, 0, 0), np.uint8), has_chart=np.ones(4, bool),
        conference_stats=np.zeros((0, 3), np.float32), conference_row=np.zeros(0, np.int64),
        recent_conferences=np.full((4, 1), -1), labels=np.zeros((4, 1), np.float32), fwd_log_vol=np.zeros(4, np.float32),
        horizons=[5], window_days=2)
    calendars = {"AAA": np.array(["2024-01-02", "2024-01-03"]), "BBB": np.array(["2024-01-03"])}  # BBB shut on the 2nd
    wire = pd.DataFrame({"date": ["2024-01-02"], "headline": ["Fed holds"], "source_path": ["w"], "content_hash": ["h"]})
    every = wire.merge(pd.DataFrame({"market": ["AAA", "BBB"]}), how="cross")
    placed = place_headlines(every, panel, calendars, max_headlines=4)
    assert sorted(zip(panel.market[placed["row"]], panel.date[placed["row"]])) == [("AAA", "2024-01-02"),
                                                                                  ("BBB", "2024-01-03")]
    book = HeadlineBook(placed["row"].to_numpy(), np.ones((2, 2), np.float32), placed["headline"].to_numpy(object),
                        placed["date"].to_numpy(object), np.ones(2, bool))
    assert book.for_windows(panel, np.array([3])).market_wide.tolist() == [True]
