"""`storm --help` shows every command's summary whole: rich markup must not swallow any of it."""

from __future__ import annotations

import click
import typer
from typer.testing import CliRunner

from storm.cli import app


def test_every_commands_summary_reaches_the_help_whole():
    shown = " ".join(CliRunner().invoke(app, ["--help"], env={"COLUMNS": "400"}).output.split())
    commands = typer.main.get_command(app).commands
    assert commands
    for name, command in commands.items():
        summary = (command.help or "").strip().split("\n")[0].rstrip(".")
        if isinstance(command, click.Group) or not summary:
            continue
        first_sentence = summary.split(";")[0]  # the help may end the line early, never cut words out of its middle
        assert first_sentence in shown, f"storm {name}: {first_sentence!r} not in the help"
