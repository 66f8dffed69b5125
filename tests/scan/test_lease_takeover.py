"""Lease takeovers that race (issue 38, finding 4): of two scans exactly one wins a date, and the loser never costs the
winner its scores or explanations.

Each race is replayed deterministically on the real store (local and the moto S3 server): the other scan runs whole
at a chosen step of this one, through Interleaved, which runs it just before or after a given write or delete.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import pandas as pd
import pytest

from storm.scan.score_store import (
    LeaseLost, ScoresLease, read_day_scores, scores_owner, write_day_explanations, write_day_scores,
)
from storm.scan.scores import scores_table
from storm.store import Layout, open_store

DATE = "2020-01-02"
STALE_AFTER = 600.0
WRITES = frozenset({"write_bytes", "write_table", "write_if", "create_exclusive"})
DELETES = frozenset({"delete", "delete_if"})


@dataclass
class Step:
    when: str  # "before" or "after"
    kind: str  # "write" or "delete"
    path: str
    action: Callable[[], None]


class Interleaved:
    """The real store as one scan sees it; each step runs once, when this scan first writes or deletes its path."""

    def __init__(self, store):
        self._store = store
        self.pending: list[Step] = []

    def at(self, when: str, kind: str, path: str, action: Callable[[], None]) -> "Interleaved":
        self.pending.append(Step(when, kind, path, action))
        return self

    def __getattr__(self, name: str):
        attribute = getattr(self._store, name)
        kind = "write" if name in WRITES else "delete" if name in DELETES else None
        if kind is None:
            return attribute

        def call(*args, **kwargs):
            targets = args[0] if isinstance(args[0], list) else [args[0]]
            self._run("before", kind, targets)
            result = attribute(*args, **kwargs)
            self._run("after", kind, targets)
            return result
        return call

    def _run(self, when: str, kind: str, targets: list[str]) -> None:
        for step in [s for s in self.pending if (s.when, s.kind) == (when, kind) and s.path in targets]:
            self.pending.remove(step)
            step.action()


@pytest.fixture(params=["local", "s3"])
def layout(request, local_storage):
    storage = local_storage if request.param == "local" else request.getfixturevalue("s3_storage")
    return Layout(open_store(storage))


def day_scores(version: str, score: float) -> pd.DataFrame:
    predictions = pd.DataFrame({
        "market": ["A", "B"], "date": [DATE, DATE], "score_5d": [score, 0.1], "alert_5d": [score > 0.5, False],
        "weight_news": [1.0, 1.0], "weight_prices": [0.0, 0.0], "weight_calls": [0.0, 0.0],
        "present_news": [True, True], "present_prices": [False, False], "present_calls": [False, False],
    })
    return scores_table(predictions, [5], {5: 0.5}, version)


def lease_of(layout, version: str, age_seconds: float) -> None:
    """A lease another scan took age_seconds ago and has not written scores under yet."""
    lease = ScoresLease(DATE, version, holder="other-host:1:busy", taken_at=time.time() - age_seconds)
    layout.store.write_bytes(layout.scores_lease(DATE), lease.to_bytes())


def outcome_of(scan: Callable[[], object]) -> str:
    try:
        scan()
    except LeaseLost:
        return "LeaseLost"
    except Exception as err:  # noqa: BLE001 - the test reports which scan ended how
        return type(err).__name__
    return "OK"


def explanations(version: str) -> pd.DataFrame:
    return pd.DataFrame({"market": ["A", "B"], "date": [DATE, DATE], "model_version": [version, version]})


def assert_date_belongs_to(layout, version: str, score: float) -> None:
    stored = read_day_scores(layout.store, layout, DATE)
    assert scores_owner(layout.store, layout, DATE) == version
    assert set(stored["model_version"]) == {version} and stored["score"].iloc[0] == score


@pytest.mark.parametrize("takeover", ["stale", "force"])
def test_of_two_scans_that_take_over_one_lease_exactly_one_wins_and_keeps_its_scores(layout, takeover):
    """B and C both read v1's lease as stale (or both --force); C takes it between B's read and B's write."""
    store, lease = layout.store, layout.scores_lease(DATE)
    lease_of(layout, "v1", age_seconds=3600 if takeover == "stale" else 60)
    force = takeover == "force"
    outcomes: dict[str, str] = {}

    def scan_c():
        outcomes["C"] = outcome_of(lambda: write_day_scores(store, layout, DATE, day_scores("v3", 0.3), "v3",
                                                            force=force, stale_after_seconds=STALE_AFTER))

    b_view = Interleaved(store).at("before", "write", lease, scan_c)
    outcomes["B"] = outcome_of(lambda: write_day_scores(b_view, layout, DATE, day_scores("v2", 0.2), "v2",
                                                        force=force, stale_after_seconds=STALE_AFTER))
    assert not b_view.pending  # the race really happened
    assert outcomes == {"C": "OK", "B": "LeaseLost"}
    assert_date_belongs_to(layout, "v3", 0.3)


@pytest.mark.parametrize("takeover", ["stale", "force"])
def test_a_scan_overtaken_before_its_scores_land_leaves_the_winners_scores(layout, takeover):
    """B holds the lease; before B's scores land, C takes the date (B's lease went stale, or --force) and writes.

    Seen before the fix: "C OK", "B LeaseLost", the lease held by C, and no scores at all.
    """
    store, scores = layout.store, layout.scores(DATE)
    outcomes: dict[str, str] = {}

    def scan_c():
        outcomes["C"] = outcome_of(lambda: write_day_scores(store, layout, DATE, day_scores("v3", 0.3), "v3",
                                                            force=takeover == "force",
                                                            stale_after_seconds=STALE_AFTER))

    b_view = Interleaved(store).at("before", "write", scores, scan_c)
    b_took_lease_at = time.time() - (3600 if takeover == "stale" else 0)  # a slow scan: its lease went stale
    outcomes["B"] = outcome_of(lambda: write_day_scores(b_view, layout, DATE, day_scores("v2", 0.2), "v2",
                                                        stale_after_seconds=STALE_AFTER, now=b_took_lease_at))
    assert not b_view.pending
    assert outcomes == {"C": "OK", "B": "LeaseLost"}
    assert_date_belongs_to(layout, "v3", 0.3)


def test_a_losing_scan_withdraws_only_what_it_wrote_never_what_the_winner_wrote_since(layout):
    """B writes its scores; C takes the lease; B sees it lost; C's scores land; only then does B withdraw."""
    store, scores, lease = layout.store, layout.scores(DATE), layout.scores_lease(DATE)
    outcomes: dict[str, str] = {}

    def c_takes_the_lease():
        store.write_bytes(lease, ScoresLease(DATE, "v3", holder="scan-c", taken_at=time.time()).to_bytes())

    def c_writes_its_scores():
        outcomes["C"] = outcome_of(lambda: write_day_scores(store, layout, DATE, day_scores("v3", 0.3), "v3"))

    b_view = (Interleaved(store).at("after", "write", scores, c_takes_the_lease)
              .at("before", "delete", scores, c_writes_its_scores))
    with pytest.raises(LeaseLost, match="withdrawn") as lost:
        write_day_scores(b_view, layout, DATE, day_scores("v2", 0.2), "v2")
    assert not b_view.pending and outcomes == {"C": "OK"}
    assert DATE in str(lost.value) and "v3" in str(lost.value)
    assert_date_belongs_to(layout, "v3", 0.3)


def test_explanations_of_a_scan_that_lost_the_date_are_refused_and_the_winners_kept(layout):
    """A scored the date; B (--force) took it over and wrote scores and explanations; A's explanations come last.

    Seen before the fix: the lease and scores of B's version, the explanations of A's.
    """
    store, path = layout.store, layout.explanations(DATE)
    write_day_scores(store, layout, DATE, day_scores("v1", 0.9), "v1")
    write_day_scores(store, layout, DATE, day_scores("v2", 0.2), "v2", force=True)
    write_day_explanations(store, layout, DATE, explanations("v2"), "v2")
    with pytest.raises(LeaseLost, match="v2"):
        write_day_explanations(store, layout, DATE, explanations("v1"), "v1")
    assert set(store.read_table(path).column("model_version").to_pylist()) == {"v2"}
    assert_date_belongs_to(layout, "v2", 0.2)


def test_explanations_are_not_written_over_a_takeover_that_lands_while_they_are_written(layout):
    """A checked its lease for its explanations; B (--force) takes the date and writes both before A's write lands."""
    store, path = layout.store, layout.explanations(DATE)
    write_day_scores(store, layout, DATE, day_scores("v1", 0.9), "v1")
    outcomes: dict[str, str] = {}

    def b_takes_the_date():
        def scan_b():
            write_day_scores(store, layout, DATE, day_scores("v2", 0.2), "v2", force=True)
            write_day_explanations(store, layout, DATE, explanations("v2"), "v2")
        outcomes["B"] = outcome_of(scan_b)

    a_view = Interleaved(store).at("before", "write", path, b_takes_the_date)
    outcomes["A"] = outcome_of(lambda: write_day_explanations(a_view, layout, DATE, explanations("v1"), "v1"))
    assert not a_view.pending and outcomes == {"B": "OK", "A": "LeaseLost"}
    assert set(store.read_table(path).column("model_version").to_pylist()) == {"v2"}
    assert_date_belongs_to(layout, "v2", 0.2)


def test_a_scan_that_keeps_its_lease_writes_scores_and_explanations_once_each(layout):
    store = layout.store
    scores = write_day_scores(store, layout, DATE, day_scores("v1", 0.9), "v1")
    explained = write_day_explanations(store, layout, DATE, explanations("v1"), "v1")
    assert scores == layout.scores(DATE) and explained == layout.explanations(DATE)
    assert store.list_files(store.path("scores")) == sorted([scores, explained, layout.scores_lease(DATE)])
    assert_date_belongs_to(layout, "v1", 0.9)
