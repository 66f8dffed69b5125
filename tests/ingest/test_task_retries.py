"""Every Ray Data stage in storm retries a failed task a bounded number of times, from one constant.

Ray Data's default for tasks is max_retries=-1: a worker killed for memory by a hostile item is retried forever
and the night never ends. A static check over the source (a runtime one would start Ray for every stage).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from storm.ingest.readers import TASK_RETRIES

STORM = Path(__file__).resolve().parents[2] / "storm"
RAY_DATA_STAGES = {"map_batches", "flat_map"}
# An actor-pool stage bounds its actor's restarts and task retries instead (Ray Data sets both to -1 unless given).
RETRY_KEYWORDS = ("max_retries", "max_task_retries")


def stage_calls(path: Path) -> list[ast.Call]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in RAY_DATA_STAGES]


def unbounded(path: Path) -> list[int]:
    """Lines of the file's Ray Data stages without max_retries (or, for actors, max_task_retries) = TASK_RETRIES."""
    lines = []
    for call in stage_calls(path):
        value = next((keyword.value for keyword in call.keywords if keyword.arg in RETRY_KEYWORDS), None)
        named = isinstance(value, ast.Name) and value.id == "TASK_RETRIES" or \
            isinstance(value, ast.Attribute) and value.attr == "TASK_RETRIES"
        if not named:
            lines.append(call.lineno)
    return lines


FILES_WITH_STAGES = sorted(str(path.relative_to(STORM.parent)) for path in STORM.rglob("*.py") if stage_calls(path))


def test_the_retry_bound_is_finite_and_small():
    assert 0 <= TASK_RETRIES <= 5


def test_the_call_tables_and_raw_readers_are_among_the_stages_checked():
    assert {"storm/ingest/calls.py", "storm/ingest/readers.py"} <= set(FILES_WITH_STAGES)


@pytest.mark.parametrize("relative", FILES_WITH_STAGES)
def test_every_ray_data_stage_passes_the_one_retry_bound(relative):
    assert unbounded(STORM.parent / relative) == [], f"{relative}: map_batches/flat_map without max_retries=TASK_RETRIES"
