"""`storm config`: the effective configuration, with the options every command takes."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from storm.cli import app


def test_config_takes_root_like_every_other_command_and_shows_it_as_the_storage_root(tmp_path):
    shown = CliRunner().invoke(app, ["config", "--root", str(tmp_path / "store")])
    assert shown.exit_code == 0, shown.output
    assert yaml.safe_load(shown.output)["storage"]["root"] == str(tmp_path / "store")
