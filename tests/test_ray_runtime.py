"""storm.ray_runtime: Ray's own messages stay off the console by default, in a log file whose folder is returned."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent("""
    import logging, sys, warnings
    from storm.config import RayConfig
    from storm.ray_runtime import DRIVER_LOG_NAME, ensure_ray
    logs = ensure_ray(RayConfig(num_cpus=1, log_to_console=sys.argv[1] == "verbose"))
    logging.getLogger("ray.train").warning("ray-train-warning-marker")
    warnings.warn("ray-deprecation-marker")
    print("LOGS", logs)
""")


@pytest.fixture
def ray_temp_dir():
    """Short (Ray's unix sockets live under it) and this test's own."""
    folder = Path(tempfile.mkdtemp(prefix="rayrt-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def run_driver(mode: str, temp_dir: Path) -> tuple[str, Path | None]:
    """A fresh Python process starting its own one-CPU local Ray (the suite's shared session is already up)."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "",
           "RAY_TMPDIR": str(temp_dir)}
    env.pop("RAY_AUTH_MODE")  # unset: Ray then enables token auth by itself and logs a banner about it
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    folder = done.stdout.split("LOGS ", 1)[1].strip()
    return done.stdout + done.stderr, None if folder == "None" else Path(folder)


def test_ray_logs_go_to_a_file_in_the_session_folder_not_the_console(ray_temp_dir):
    console, logs = run_driver("quiet", ray_temp_dir)
    assert "ray-train-warning-marker" not in console and "ray-deprecation-marker" not in console
    assert "Token authentication" not in console
    kept = (logs / "storm-driver-ray.log").read_text()
    assert "ray-train-warning-marker" in kept and "ray-deprecation-marker" in kept


def test_verbose_shows_ray_logs_on_the_console(ray_temp_dir):
    console, logs = run_driver("verbose", ray_temp_dir)
    assert logs is None
    assert "ray-train-warning-marker" in console
