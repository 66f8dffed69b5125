"""`storm explain --market M --date D [--horizon H]`: why a market scored what it did, and what changed since yesterday.

Reads what the scan stored beside the scores (scores/date=D/explanations.parquet, storm.explain), so what it prints
is what the scan alerted on. The calls with the largest effects are then opened into their sentences and voice
features on demand (storm.explain.open_calls: the day's window rebuilt, the calls' tables re-read); their parts add
up to the stored effect. ``--whole-calls`` skips that.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from storm.cli.common import ConfigOption, SetOption, build_config
from storm.config import StormConfig
from storm.printable import printable


def register(app: typer.Typer) -> None:
    @app.command("explain")
    def explain_command(
        market: str = typer.Option(..., help="The market to explain."),
        date: str = typer.Option(..., help="The scored trading day (YYYY-MM-DD)."),
        horizon: Optional[int] = typer.Option(None, help="Horizon in trading days (default: the shortest on alert, "
                                              "else the longest)."),
        config: Optional[Path] = ConfigOption,
        overrides: Optional[list[str]] = SetOption,
        root: Optional[str] = typer.Option(None, help="Object store root (storage.root)."),
        candidate: Optional[str] = typer.Option(None, help="Explain a candidate run's scores (its namespace)."),
        open_calls: bool = typer.Option(True, "--open-calls/--whole-calls",
                                        help="Open the calls with the largest effects into their sentences and voice "
                                             "features (rebuilds the day's window and re-reads the calls' tables)."),
    ) -> None:
        """Print the full breakdown of one score: modalities, headlines, price readings, calls; and the change."""
        settings = build_config(config, overrides, **{"storage.root": root})
        raise typer.Exit(run_explain(settings, market, date, horizon, candidate, open_calls=open_calls))


def run_explain(settings: StormConfig, market: str, date: str, horizon: int | None = None,
                candidate: str | None = None, console: Console | None = None, open_calls: bool = True) -> int:
    """Print the explanation; returns the exit code (2 when there is nothing stored to explain)."""
    from storm.explain.report import breakdown_lines, change_lines, default_horizon, one_score
    from storm.ingest import read_prices
    from storm.scan.score_store import read_day_scores
    from storm.store import Layout, open_store

    console = console or Console(highlight=False)
    store = open_store(settings.storage)
    layout = Layout(store)
    path = layout.explanations(date, candidate)
    if not store.exists(path):
        typer.secho(f"no explanations stored for {date} at {path}; run `storm scan --date {date}` (scans before "
                    "explanations existed stored none)", fg="red", err=True)
        return 2
    scores = read_day_scores(store, layout, date, candidate)
    if market not in set(scores["market"]):
        typer.secho(f"{market} has no score on {date} (scored: {', '.join(sorted(set(scores['market'])))})",
                    fg="red", err=True)
        return 2
    horizon = horizon or default_horizon(scores, market)
    table = store.read_table(path).to_pandas()
    rows = one_score(table, market, horizon)
    if rows.empty:
        typer.secho(f"no {horizon}-day explanation of {market} on {date}; horizons: "
                    f"{sorted(set(table['horizon']))}", fg="red", err=True)
        return 2
    score_row = scores[(scores["market"] == market) & (scores["horizon"] == horizon)].iloc[0]
    opened = _opened_calls(settings, store, layout, market, date, horizon, rows, candidate) if open_calls else {}
    for line in breakdown_lines(rows, score_row, opened):
        console.print(printable(line), soft_wrap=True, markup=False)
    days = sorted(read_prices(store, layout, [market])["date"].astype(str))
    earlier = [d for d in days if d < date]
    if earlier:
        previous_path = layout.explanations(earlier[-1], candidate)
        previous = (one_score(store.read_table(previous_path).to_pandas(), market, horizon)
                    if store.exists(previous_path) else rows.iloc[0:0])
        for line in change_lines(rows, previous, earlier[-1]):
            console.print(printable(line), soft_wrap=True, markup=False)
    return 0


def _opened_calls(settings: StormConfig, store, layout, market: str, date: str, horizon: int, rows,
                  candidate: str | None) -> dict[str, list[str]]:
    """item key -> the lines under a call item: the calls with the largest effects opened into their parts."""
    from storm.explain.open_calls import open_calls
    from storm.explain.report import opened_call_lines
    from storm.explain.table import OTHER_ITEMS_KEY
    from storm.published.artifacts import read_model

    calls = rows[(rows["kind"] == "item") & (rows["modality"] == "calls") & (rows["item_key"] != OTHER_ITEMS_KEY)]
    if calls.empty:
        return {}
    # the version that scored the day, whatever the run's current one is
    published = read_model(store, layout, candidate or settings.train.run_name, str(rows["model_version"].iloc[0]))
    return {call.item_key: opened_call_lines(call, horizon)
            for call in open_calls(settings, store, layout, published, market, date, calls)}
