"""`storm ingest` prints modality x (ok, quarantined, missing) and where the quarantine records went."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from raw_inputs import EXPECTED_COUNTS, MAX_FILE_BYTES, RANGE, write_mixed_world
from storm.cli import app
from storm.store import Layout, open_store


def test_ingest_command_prints_counts_table_and_quarantine_files(ray_cluster, local_storage):
    layout = Layout(open_store(local_storage))
    write_mixed_world(layout)
    result = CliRunner().invoke(app, [
        "ingest", "--start", RANGE[0], "--end", RANGE[1], "--root", local_storage.root,
        "--set", f"ingest.max_file_bytes={MAX_FILE_BYTES}",
    ], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for modality, counts in EXPECTED_COUNTS.items():
        row = re.search(rf"{modality}\W+(\d+)\W+(\d+)\W+(\d+)", result.output)
        assert row and tuple(map(int, row.groups())) == (counts["ok"], counts["quarantined"], counts["missing"])
    assert layout.quarantine("2024-01-03", "ingest", "audio") in result.output
    assert "ingest took" in result.output


def test_ingest_command_rejects_a_bad_date_with_a_clear_message(ray_cluster, local_storage):
    result = CliRunner().invoke(app, ["ingest", "--start", "2024-1-2", "--end", "2024-01-04",
                                      "--root", local_storage.root])
    assert result.exit_code == 2
    assert "'2024-1-2' is not YYYY-MM-DD" in result.output
