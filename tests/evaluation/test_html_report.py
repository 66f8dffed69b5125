"""report.html: the console's tables (the headline first), every episode, the per-fold figures and the plots,
captioned, in one file whose data is escaped text."""

from __future__ import annotations

import base64
import copy

import numpy as np
import pytest

from storm.evaluation.html_report import HEADLINE_TABLE, Shown, evaluation_html, figure_caption
from storm.evaluation.plots import reliability_by_horizon_png, score_over_price_png
from storm.evaluation.report import build_report
from html_tables import PageReader
from test_report import HORIZONS, SETTINGS, folds, scored_table


@pytest.fixture(scope="module")
def report():
    return build_report("demo", folds(), HORIZONS, 20, SETTINGS)


@pytest.fixture(scope="module")
def figures(report):
    table = scored_table(markets=("AAA", "BBB", "CCC", "DDD"))
    prices = table[["market", "date"]].assign(close=np.linspace(100, 90, len(table)))
    return {"score_over_price_20d.png": score_over_price_png(prices, table, 20, None, ["AAA", "BBB", "CCC", "DDD"]),
            "reliability.png": reliability_by_horizon_png(report)}


def test_the_headline_table_lists_every_model_at_every_horizon_with_its_interval_and_verdict(report, figures):
    page = PageReader(evaluation_html(report, figures))
    headline = page.tables[HEADLINE_TABLE]
    assert headline[0][:3] == ["model", "h", "AUROC"] and headline[0][-1] == f"{report['reference']} is"
    rows = {(row[0], row[1]): row for row in headline[1:]}
    for h in HORIZONS:
        for model, figures_of in report["headline"][str(h)].items():
            auroc = figures_of["intervals"]["auroc"]
            assert rows[(model, f"{h}d")][2].startswith(f"{auroc['estimate']:.3f} ["), (model, h)
    assert rows[("garch", "20d")][-1] in ("better", "worse", "n.d.", "too few")


def test_every_plot_is_embedded_whole_and_captioned(report, figures):
    html = evaluation_html(report, figures)
    page = PageReader(html)
    assert sorted(base64.b64decode(src.split(",", 1)[1]) for src in page.images) == sorted(figures.values())
    assert html.count("<figcaption>") == len(figures)


def test_every_episode_is_listed_with_each_models_lead_not_only_the_ten_deepest(report, figures):
    many = copy.deepcopy(report)
    many["episodes"]["20"] = [dict(report["episodes"]["20"][0], market=f"M{i:02d}") for i in range(14)]
    page = PageReader(evaluation_html(many, figures))
    assert [row[0] for row in page.tables["episodes"][1:]] == [f"M{i:02d}" for i in range(14)]


def test_each_folds_own_figures_are_shown_per_model_and_horizon(report, figures):
    page = PageReader(evaluation_html(report, figures))
    per_fold = page.tables["per-fold"]
    assert per_fold[0] == ["model", "h", "fold1 AUROC", "fold2 AUROC", "fold1 Brier", "fold2 Brier"]
    fused_20 = next(row for row in per_fold if row[:2] == ["fused", "20d"])
    assert fused_20[2] == f"{report['folds'][0]['metrics']['20']['fused']['auroc']:.3f}"


def test_a_note_carrying_markup_reaches_the_page_as_text(report, figures):
    noted = copy.deepcopy(report)
    noted["models"]["garch"]["notes"] = ["<script>alert('x')</script>"]
    html = evaluation_html(noted, figures)
    assert "<script>alert" not in html and "garch: &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def test_the_score_plot_caption_says_which_markets_it_shows_and_why():
    report = {"main_horizon": 20, "reference": "storm", "best_price_baseline": "garch"}
    caption = figure_caption("score_over_price_20d.png", report, Shown(["QHC", "AMZN"], 508))
    assert "the 2 of 508 markets with the most 20-day storm days in the test blocks (QHC, AMZN)" in caption
    assert "all 2 markets" in figure_caption("score_over_price_20d.png", report, Shown(["QHC", "AMZN"], 2))
    episodes = figure_caption("episodes_20d.png", report, Shown(["QHC from 2020-03-02"], 31))
    assert "The 1 deepest of 31 20-day storm episodes" in episodes and "storm and garch" in episodes
