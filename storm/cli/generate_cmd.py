"""`storm generate`: write a synthetic or replay data world into the object store."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from storm.cli.common import ConfigOption, SetOption, build_config
from storm.store import open_store


class WorldKind(str, enum.Enum):
    synthetic = "synthetic"
    replay = "replay"


def register(app: typer.Typer) -> None:
    @app.command("generate")
    def generate(
        kind: Optional[WorldKind] = typer.Argument(None, help="synthetic or replay (default: world.kind; replay if --prices)."),
        config: Optional[Path] = ConfigOption,
        overrides: Optional[list[str]] = SetOption,
        root: Optional[str] = typer.Option(None, "--root", help="Object-store root (local path or s3://bucket/prefix)."),
        markets: Optional[int] = typer.Option(None, "--markets", help="Synthetic: number of markets."),
        days: Optional[int] = typer.Option(None, "--days", help="Synthetic: number of trading days."),
        seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (same seed, same bytes)."),
        prices: Optional[Path] = typer.Option(None, "--prices", help="Replay: csv/parquet with date, open, high, low, close, volume."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    ) -> None:
        """Generate a data world: prices, charts, news, conference audio (and, synthetic only, the hidden truth)."""
        from storm.worlds import PricesFileError, generate_world
        from storm.worlds.generate import WorldRootError

        chosen = kind.value if kind else ("replay" if prices else None)
        effective = build_config(config, overrides, **{
            "world.kind": chosen, "storage.root": root, "world.n_markets": markets, "world.n_days": days,
            "world.seed": seed, "world.prices_file": str(prices) if prices else None,
        })
        try:
            summary = generate_world(effective, open_store(effective.storage), progress=not quiet)
        except (PricesFileError, WorldRootError, RuntimeError) as err:
            typer.secho(str(err), fg="red", err=True)
            raise typer.Exit(2) from None
        Console().print(_summary_table(summary))


def _summary_table(summary) -> Table:
    table = Table(title=f"storm world: {summary.kind} → {summary.root}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("markets", f"{len(summary.markets)}: {', '.join(summary.markets)}")
    table.add_row("dates", f"{summary.start} … {summary.end} ({summary.trading_days} trading days)")
    for name, count in summary.counts.items():
        table.add_row(name, str(count))
    for horizon, rate in summary.storm_rate.items():
        table.add_row(f"storm_{horizon}d rate", f"{rate:.1%}")
    table.add_row("seconds", f"{summary.seconds:.1f}")
    return table
