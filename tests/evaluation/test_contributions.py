"""The evaluation's contributions: Shapley values from the 8 coalition variants, summarised storm vs calm with intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
from rich.console import Console

from storm.config import EvaluationConfig
from storm.evaluation.ablation import coalition_variants, contribution_summary, with_contributions
from storm.evaluation.report import render_tables
from storm.explain.shapley import COALITIONS

HORIZONS = [5, 20]
PARTS = {"text": 0.05, "image": 0.2, "audio": 0.0}  # an additive game: each modality adds its own part on storm days


def coalition_tables(n_days: int = 80) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    dates = pd.bdate_range("2021-01-04", periods=n_days).strftime("%Y-%m-%d")
    keys = pd.DataFrame([(m, d) for m in ("AAA", "BBB", "CCC") for d in dates], columns=["market", "date"])
    storm = ((np.arange(len(keys)) // 10) % 4 == 0).astype(float)
    tables = {}
    for name, masked in coalition_variants().items():
        table = keys.copy()
        for h in HORIZONS:
            kept = sum(part for m, part in PARTS.items() if m not in masked)
            table[f"score_{h}d"] = 0.1 + kept * storm
            table[f"storm_{h}d"] = storm
        tables[name] = table
    return tables["coalition-7"], tables


def test_coalition_variants_mask_exactly_the_modalities_outside_each_coalition():
    variants = coalition_variants()
    assert len(variants) == len(COALITIONS) == 8
    assert variants["coalition-0"] == ["text", "image", "audio"] and variants["coalition-7"] == []


def test_contributions_recover_each_modalitys_part_and_the_summary_separates_storm_from_calm_days():
    fused, tables = coalition_tables()
    explained = with_contributions(fused, tables, HORIZONS)
    storm = explained["storm_20d"] == 1
    assert np.allclose(explained.loc[storm, "contribution_image_20d"], 0.2)
    assert np.allclose(explained.loc[~storm, "contribution_image_20d"], 0.0)
    total = explained[[f"contribution_{m}_5d" for m in PARTS]].sum(axis=1)
    assert np.allclose(total, explained["score_5d"] - 0.1)  # they add up to score - all-masked score
    settings = EvaluationConfig(bootstrap_resamples=100)
    summary = contribution_summary(explained, HORIZONS, settings)
    image = summary["20"]["storm"]["image"]
    assert abs(image["estimate"] - 0.2) < 1e-9 and image["low"] - 1e-9 <= 0.2 <= image["high"] + 1e-9
    assert summary["20"]["calm"]["image"]["estimate"] < 1e-12
    assert summary["5"]["storm"]["audio"]["estimate"] < 1e-12


def test_the_report_renders_the_contributions_table_at_80_columns():
    fused, tables = coalition_tables()
    summary = contribution_summary(with_contributions(fused, tables, HORIZONS), HORIZONS,
                                   EvaluationConfig(bootstrap_resamples=50))
    from storm.evaluation.report import _contributions_table

    console = Console(width=80, record=True, color_system=None)
    console.print(_contributions_table({"modality_contributions": summary}))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any(line.strip().startswith("image") and "20d" in line for line in lines)
    assert render_tables.__doc__  # the table joins render_tables when a report carries contributions
