"""Issue 38, finding 10: an import's spool never outlives it, and a full disk ends it with one clear message.

Real `storm import` processes: one killed with SIGKILL mid-import, and ones whose file-size limit (RLIMIT_FSIZE,
the kernel's EFBIG: what a full disk looks like to the writer) is smaller than what they must write.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

STORM = str(Path(sys.executable).with_name("storm"))


def write_feed(path: Path, items: int, good: bool = True) -> Path:
    stamp = "2020-01-02T15:00:00Z" if good else "never"
    with path.open("w") as out:
        out.write("date,headline\n")
        out.writelines(f"{stamp},Item {item}: markets weigh the outlook for rates and earnings again\n"
                       for item in range(items))
    return path


def storm_import(feed: Path, root: Path, temp: Path, file_limit: int | None = None, **popen) -> subprocess.Popen:
    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    env = {**os.environ, "TMPDIR": str(temp)}
    return subprocess.Popen([STORM, "import", "news", str(feed), "--market", "SPX", "--root", str(root)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=limit_files if file_limit else None, **popen)


def spools(temp: Path) -> list[Path]:
    return sorted(temp.glob("storm-import-*"))


def test_a_spool_left_by_a_killed_import_is_removed_by_the_next_import(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    killed = storm_import(write_feed(tmp_path / "big.csv", 300_000), tmp_path / "store", temp)
    deadline = time.monotonic() + 60
    while not spools(temp) and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    left = spools(temp)
    killed.send_signal(signal.SIGKILL)
    killed.communicate()
    assert left and spools(temp) == left, "the import ended before it could be killed mid-spool"
    again = storm_import(write_feed(tmp_path / "small.csv", 10), tmp_path / "store", temp)
    _, errors = again.communicate(timeout=120)
    assert again.returncode == 0, errors
    assert spools(temp) == []


def test_a_full_disk_while_spooling_ends_with_one_clear_message_and_no_spool(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    full = storm_import(write_feed(tmp_path / "feed.csv", 40_000), tmp_path / "store", temp, file_limit=2 ** 20)
    output, errors = full.communicate(timeout=120)
    assert full.returncode == 2, errors[-3000:]
    assert "Traceback" not in errors and len(errors.strip().splitlines()) == 1
    assert "the disk is full" in errors and str(temp) in errors and "run the same command again" in errors
    assert spools(temp) == []


def test_a_full_disk_while_writing_the_store_ends_with_one_clear_message(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()  # 20k bad rows: nothing spooled, a 2 MB quarantine file to write
    full = storm_import(write_feed(tmp_path / "feed.csv", 20_000, good=False), tmp_path / "store", temp,
                        file_limit=2 ** 20)
    _, errors = full.communicate(timeout=120)
    assert full.returncode == 2 and "Traceback" not in errors and "the disk is full" in errors, errors[-3000:]
    assert str(tmp_path / "store") in errors


def test_a_full_disk_leaves_no_partial_object_in_the_store(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    full = storm_import(write_feed(tmp_path / "feed.csv", 20_000, good=False), tmp_path / "store", temp,
                        file_limit=2 ** 20)
    full.communicate(timeout=120)
    assert [path.name for path in (tmp_path / "store").rglob("*.tmp-*")] == []
