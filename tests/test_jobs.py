"""The Ray job entrypoints (jobs/) are the CLI's own commands: the same options, the same exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script, command", [("jobs/nightly_scan.py", "scan"), ("jobs/train.py", "train")])
def test_a_job_script_offers_exactly_the_options_of_its_storm_command(script, command):
    job = subprocess.run([sys.executable, script, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    storm = Path(sys.executable).with_name("storm")  # the console script beside this interpreter
    cli = subprocess.run([str(storm), command, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert job.returncode == 0 == cli.returncode, job.stderr + cli.stderr
    assert job.stdout.replace("storm " + command, "") == cli.stdout.replace("storm " + command, "")
    assert "--set" in job.stdout and "--config" in job.stdout


def test_a_refused_scan_returns_its_exit_code_instead_of_raising():
    sys.path.insert(0, str(ROOT / "jobs"))
    try:
        import nightly_scan
    finally:
        sys.path.remove(str(ROOT / "jobs"))
    assert nightly_scan.main(["--date", "2024-01-02", "--start", "2024-01-01"]) == 2  # --date with a range: refused
    assert nightly_scan.main(["--no-such-option"]) == 2
