"""Options every command shares: the config file and dotted overrides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from storm.config import ConfigError, StormConfig, load_config, parse_value

ConfigOption = typer.Option(None, "--config", "-c", help="YAML config file (default: built-in defaults).",
                            exists=True, dir_okay=False)
SetOption = typer.Option(None, "--set", "-s", help="Override a config key, e.g. --set train.epochs=3 (repeatable).")


def build_config(config_file: Optional[Path], overrides: Optional[list[str]] = None, **named) -> StormConfig:
    """Config from file + STORM_ env + --set + named CLI options (dotted key → value, None ignored)."""
    parsed: dict[str, object] = {}
    try:
        for item in overrides or []:
            key, sep, raw = item.partition("=")
            if not sep:  # the item itself is not echoed: it may be a secret pasted without its key
                raise typer.BadParameter("--set needs key=value, e.g. train.epochs=3 (one of the --set values has no '=')")
            parsed[key.strip()] = parse_value(key.strip(), raw)
        parsed.update({key: value for key, value in named.items() if value is not None})
        if "ray.address" not in parsed and os.environ.get("RAY_ADDRESS"):
            parsed["ray.address"] = os.environ["RAY_ADDRESS"]  # the Ray convention, honoured at the entry point only
        return load_config(config_file, overrides=parsed)
    except ConfigError as err:
        typer.secho(str(err), fg="red", err=True)
        raise typer.Exit(2) from None


def start_ray(settings: StormConfig, console: Console) -> None:
    """Start or join Ray now and say where its own logs went (they stay off the console unless --verbose)."""
    from storm.ray_runtime import ensure_ray

    logs = ensure_ray(settings.ray)
    if logs is not None:
        console.print(f"[dim]Ray's own logs: {logs} (storm --verbose shows them here)[/]", soft_wrap=True)
