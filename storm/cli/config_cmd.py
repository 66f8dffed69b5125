"""`storm config`: the effective configuration, secrets redacted."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
import yaml

from storm.cli.common import ConfigOption, SetOption, build_config


def register(app: typer.Typer) -> None:
    @app.command("config")
    def show_config(config: Optional[Path] = ConfigOption, overrides: Optional[list[str]] = SetOption,
                    root: Optional[str] = typer.Option(None, help="Object store root (storage.root).")) -> None:
        """Print the effective config (file < STORM_* env < --set < --root), secrets as '**********'."""
        effective = build_config(config, overrides, **{"storage.root": root})
        typer.echo(yaml.safe_dump(effective.redacted(), sort_keys=False))
