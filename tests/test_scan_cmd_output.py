"""What `storm scan` prints: the markets on alert first (every horizon of each, highest first), one summary line,
and tables that read whole at 80 columns."""

from __future__ import annotations

import pandas as pd
from rich.console import Console

from storm.cli.scan_cmd import alerts_table, scores_table
from storm.scan.night_report import scan_summary
from storm.schema import SCORE_COLUMNS

THRESHOLDS = {5: 0.4, 20: 0.5}
SCORES = {("ALPHA", 5): 0.1, ("ALPHA", 20): 0.2, ("BRAVO", 5): 0.45, ("BRAVO", 20): 0.3,
          ("CHARLIE", 5): 0.2, ("CHARLIE", 20): 0.9}


def scores_frame() -> pd.DataFrame:
    rows = [{"date": "2024-03-15", "market": market, "horizon": horizon, "score": score,
             "alert": score >= THRESHOLDS[horizon], "threshold": THRESHOLDS[horizon], "model_version": "v1",
             "weight_news": 0.5, "weight_prices": 0.5, "weight_calls": 0.0, "present_news": True,
             "present_prices": True, "present_calls": False}
            for (market, horizon), score in SCORES.items()]
    return pd.DataFrame(rows, columns=list(SCORE_COLUMNS))


def rendered(table) -> list[str]:
    console = Console(width=80, record=True, color_system=None)
    console.print(table)
    return console.export_text().splitlines()


def test_alerts_table_lists_only_alerting_markets_highest_score_first_with_all_their_horizons():
    lines = rendered(alerts_table(scores_frame(), "on alert 2024-03-15"))
    markets = [line.split("│")[1].strip() for line in lines if line.startswith("│")]
    assert markets == ["CHARLIE", "CHARLIE", "BRAVO", "BRAVO"]


def test_summary_counts_markets_on_alert_per_horizon_and_names_the_missing():
    line = scan_summary(scores_frame(), "2024-03-15", ("DELTA",), "v1")
    assert line == "2024-03-15: 2 of 4 markets on alert (5d 1, 20d 1), 1 with no inputs (DELTA); model v1"


def test_every_score_row_fits_80_columns_with_its_market_name_whole():
    lines = rendered(scores_table(scores_frame(), "storm scores for 2024-03-15"))
    assert max(len(line) for line in lines) <= 80
    assert sum("CHARLIE" in line for line in lines) == 2 and not any("…" in line for line in lines)


def test_an_alert_inherited_from_a_shorter_horizon_is_marked_and_explained():
    nested = scores_frame()
    bravo_20 = (nested["market"] == "BRAVO") & (nested["horizon"] == 20)
    nested.loc[bravo_20, "alert"] = True  # 0.30 < 0.50: on alert only because BRAVO is at 5 days
    table = scores_table(nested, "storm scores for 2024-03-15")
    lines = rendered(table)
    bravo = [line for line in lines if "BRAVO" in line]
    assert "ALERT*" in bravo[1] and "ALERT*" not in bravo[0]
    assert "shorter horizon" in table.caption


def test_a_stacked_scores_table_shows_its_members_instead_of_modalities():
    stacked = scores_frame().assign(member_garch=0.02, member_fused=-0.01)
    lines = rendered(scores_table(stacked, "storm scores for 2024-03-15"))
    header = next(line for line in lines if "market" in line)
    assert "garch" in header and "fused" in header and "news" not in header


def test_a_scan_of_a_store_without_prices_exits_2_with_what_to_do(ray_cluster, tmp_path, capsys):
    import io

    from rich.console import Console

    from storm.cli.scan_cmd import run_scan
    from storm.config import load_config

    settings = load_config(environ={}, overrides={"storage.root": str(tmp_path / "store")})
    assert run_scan(settings, None, None, publish=False, console=Console(file=io.StringIO())) == 2
    assert "no prices under" in capsys.readouterr().err.lower()  # one line saying what to do, not a traceback
