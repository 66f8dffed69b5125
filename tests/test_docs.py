"""README and BENCHMARKS.md stay references: short, every README figure the latest measured one, every benchmark
they name a script that exists (issue 37). Plain text checks, nothing imported from storm."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 100
BENCHMARKS_MAX_LINES = 400
BENCHMARK_SCRIPT = re.compile(r"\b(?:benchmarks/)?((?:bench_\w+|real_world_tables|common)\.py)\b")
VERDICT_HEADER = re.compile(r"^\| world \| h \| test episodes")
README_VERDICT_HEADER = re.compile(r"^\| world \| test episodes 5 / 10 / 20d")
HORIZONS = ("5d", "10d", "20d")


def _text(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def _first_table_after(text: str, header: re.Pattern[str]) -> list[list[str]]:
    """Rows (cells stripped, header and rule left out) of the first Markdown table whose header matches."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if header.match(line))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def test_readme_and_benchmarks_stay_short_enough_to_read():
    readme, benchmarks = _text("README.md").splitlines(), _text("BENCHMARKS.md").splitlines()
    assert len(readme) <= README_MAX_LINES, f"README.md has {len(readme)} lines (at most {README_MAX_LINES})"
    assert len(benchmarks) <= BENCHMARKS_MAX_LINES, \
        f"BENCHMARKS.md has {len(benchmarks)} lines (at most {BENCHMARKS_MAX_LINES}); superseded runs leave"


def test_every_benchmark_script_the_docs_name_exists():
    for doc in ("BENCHMARKS.md", "README.md"):
        named = set(BENCHMARK_SCRIPT.findall(_text(doc)))
        assert named, f"{doc} names no benchmark script: the pattern no longer matches how commands are written"
        missing = sorted(name for name in named if not (ROOT / "benchmarks" / name).is_file())
        assert not missing, f"{doc} names benchmark scripts that benchmarks/ does not hold: {missing}"


def test_readme_verdicts_are_the_latest_benchmarks_entry():
    """Each README results row (a world and storm kind, the horizons side by side) is BENCHMARKS.md's first verdict
    table's rows for that world, cell by cell: README may shorten a cell ('146' for '146 (14 / 79 / 53)', 'garch' for
    'garch 0.740', '-0.030 [-0.083, +0.013]' without its ' n.d.', '… too few' for '… too few storms to judge')."""
    readme_rows = _first_table_after(_text("README.md"), README_VERDICT_HEADER)
    latest = {(row[0], row[1]): row for row in _first_table_after(_text("BENCHMARKS.md"), VERDICT_HEADER)}
    assert readme_rows, "README has no results table"
    for world, episodes, best, *differences in readme_rows:
        assert len(differences) == 2 * len(HORIZONS), f"README's {world} row has {len(differences)} verdict cells"
        best_per_horizon = best.split(" / ") if " / " in best else [best] * len(HORIZONS)
        for i, horizon in enumerate(HORIZONS):
            key = (world, horizon)
            assert key in latest, f"README's {key} verdict is not in BENCHMARKS.md's latest verdict table"
            row = latest[key]
            readme_cells = [episodes.split(" / ")[i], best_per_horizon[i], differences[i],
                            differences[len(HORIZONS) + i]]
            for readme_cell, benchmarks_cell in zip(readme_cells, [row[2], row[4], row[5], row[6]], strict=True):
                assert benchmarks_cell.startswith(readme_cell), \
                    f"{key}: README says {readme_cell!r}, BENCHMARKS.md {benchmarks_cell!r}"


def test_readme_durations_are_measured_in_benchmarks():
    """'2 min 21 s', '8 min 54 s': every duration README quotes is one BENCHMARKS.md records."""
    benchmarks = _text("BENCHMARKS.md")
    durations = re.findall(r"\d+ min \d+ s", _text("README.md"))
    assert durations, "README quotes no duration (the demo's and the suite's are expected)"
    missing = [d for d in durations if d not in benchmarks]
    assert not missing, f"README quotes durations BENCHMARKS.md does not record: {missing}"


def test_readme_test_command_is_what_ci_runs():
    """README's `make test` is the suite CI runs, nothing weaker."""
    readme_commands = re.findall(r"^make (\w+)", _text("README.md"), flags=re.M)
    assert readme_commands == ["demo", "test"]
    assert re.search(r"^make test$", _text(".ci/run"), flags=re.M)
    assert re.search(r"^test:", _text("Makefile"), flags=re.M) and re.search(r"^demo:", _text("Makefile"), flags=re.M)
