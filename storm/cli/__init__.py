"""The `storm` command. Each concern registers its own sub-commands from its own module."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # entry point: never reach for a model hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import typer  # noqa: E402

from storm.cli import config_cmd  # noqa: E402
from storm.cli import generate_cmd  # noqa: E402
from storm.cli import import_cmd  # noqa: E402
from storm.cli import ingest_cmd  # noqa: E402
from storm.cli import evaluate_cmd  # noqa: E402
from storm.cli import train_cmd  # noqa: E402
from storm.cli import metrics_cmd, submit_cmd  # noqa: E402
from storm.cli import demo_cmd, explain_cmd, scan_cmd  # noqa: E402

app = typer.Typer(help="storm: early warning of market storms from news, charts and conference audio, on Ray.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v",
                                      help="Show Ray's own logs and progress bars too (else only in Ray's log folder).")) -> None:
    """storm: early warning of market storms. Config: --config FILE, STORM_SECTION__KEY env, --set key=value."""
    if verbose:  # a shortcut for the config key, through the entry point's own override channel
        os.environ["STORM_RAY__LOG_TO_CONSOLE"] = "true"


# One line per command module; each defines register(app).
for module in (config_cmd, generate_cmd, import_cmd, ingest_cmd, train_cmd, evaluate_cmd, scan_cmd, metrics_cmd, submit_cmd,
               demo_cmd, explain_cmd):
    module.register(app)


def run_command(command: str, argv: list[str]) -> int:
    """`storm <command> <argv…>` in this process, returning its exit code: how a Ray job entrypoint (jobs/) runs a
    command with the very options the CLI declares."""
    try:
        app([command, *argv], prog_name="storm")
    except SystemExit as exited:
        return exited.code if isinstance(exited.code, int) else (0 if exited.code is None else 1)
    return 0
