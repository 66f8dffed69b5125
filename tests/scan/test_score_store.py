"""Per-date scores under a lease: one model version owns a date; reruns idempotent; candidates kept apart."""

import json
import os
import threading
import time

import pandas as pd
import pytest

from storm.scan.score_store import (
    ExclusiveWritesUnsupported, ScoresLease, ScoresOwnedByOtherVersion, read_day_scores, scores_owner,
    write_day_scores,
)
from storm.scan.scores import scores_table
from storm.store import Layout, open_store

DATE = "2020-01-02"


def day_scores(version: str, score: float = 0.9, date: str = DATE) -> pd.DataFrame:
    predictions = pd.DataFrame({
        "market": ["A", "B"], "date": [date, date], "score_5d": [score, 0.1], "alert_5d": [score > 0.5, False],
        "weight_news": [1.0, 1.0], "weight_prices": [0.0, 0.0], "weight_calls": [0.0, 0.0],
        "present_news": [True, True], "present_prices": [False, False], "present_calls": [False, False],
    })
    return scores_table(predictions, [5], {5: 0.5}, version)


@pytest.fixture(params=["local", "s3"])
def layout(request, local_storage):
    storage = local_storage if request.param == "local" else request.getfixturevalue("s3_storage")
    return Layout(open_store(storage))


def test_a_rerun_with_the_same_version_rewrites_byte_identical_scores(layout):
    store = layout.store
    path = write_day_scores(store, layout, DATE, day_scores("v1"), "v1")
    first = store.read_bytes(path)
    assert write_day_scores(store, layout, DATE, day_scores("v1"), "v1") == path
    assert store.read_bytes(path) == first
    assert scores_owner(store, layout, DATE) == "v1"


def test_another_version_is_refused_naming_the_date_the_owner_and_force(layout):
    store = layout.store
    path = write_day_scores(store, layout, DATE, day_scores("v1", 0.9), "v1")
    with pytest.raises(ScoresOwnedByOtherVersion) as refused:
        write_day_scores(store, layout, DATE, day_scores("v2", 0.2), "v2")
    message = str(refused.value)
    assert DATE in message and "v1" in message and "v2" in message and "--force" in message
    assert read_day_scores(store, layout, DATE)["score"].iloc[0] == 0.9  # untouched

    write_day_scores(store, layout, DATE, day_scores("v2", 0.2), "v2", force=True)
    assert read_day_scores(store, layout, DATE)["score"].iloc[0] == 0.2
    assert scores_owner(store, layout, DATE) == "v2"
    assert store.exists(path)


def test_scores_written_before_leases_are_owned_by_their_version_column(layout):
    store = layout.store
    store.write_table(layout.scores(DATE), day_scores("old"))
    with pytest.raises(ScoresOwnedByOtherVersion, match="old"):
        write_day_scores(store, layout, DATE, day_scores("new"), "new")
    write_day_scores(store, layout, DATE, day_scores("old"), "old")  # the same version may rerun


def test_a_candidate_run_scans_into_its_own_namespace_and_leaves_production_alone(layout):
    store = layout.store
    production = write_day_scores(store, layout, DATE, day_scores("prod", 0.9), "prod")
    before = store.read_bytes(production)
    candidate = write_day_scores(store, layout, DATE, day_scores("cand", 0.1), "cand", candidate="challenger")
    assert candidate != production and "/candidates/challenger/" in candidate
    assert store.read_bytes(production) == before
    assert read_day_scores(store, layout, DATE, candidate="challenger")["model_version"].iloc[0] == "cand"
    assert candidate not in store.list_files(layout.scores_dir(), ".parquet")  # production listings never see it


def test_two_scans_racing_on_each_date_with_different_versions_leave_one_whole_owner(layout):
    """Threads start together on each date; exactly one version wins, the other is refused, nothing mixed."""
    store = layout.store
    dates = [f"2020-02-{day:02d}" for day in range(1, 7)]
    outcomes: dict[tuple[str, str], str] = {}

    def scan(date: str, version: str, barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            write_day_scores(store, layout, date, day_scores(version, date=date), version)
            outcomes[(date, version)] = "written"
        except ScoresOwnedByOtherVersion:
            outcomes[(date, version)] = "refused"

    for date in dates:
        barrier = threading.Barrier(2)
        scans = [threading.Thread(target=scan, args=(date, version, barrier)) for version in ("v1", "v2")]
        for thread in scans:
            thread.start()
        for thread in scans:
            thread.join()
        winners = [version for version in ("v1", "v2") if outcomes[(date, version)] == "written"]
        assert len(winners) == 1, outcomes
        stored = read_day_scores(store, layout, date)
        assert set(stored["model_version"]) == set(winners) and scores_owner(store, layout, date) == winners[0]


def test_a_table_of_another_version_is_not_stored_under_this_one(local_storage):
    layout = Layout(open_store(local_storage))
    with pytest.raises(ValueError, match="v9"):
        write_day_scores(layout.store, layout, DATE, day_scores("v9"), "v1")


# --- issue 21: leases that expire and stay true ---

def lease_of(layout, version: str, age_seconds: float, date: str = DATE) -> None:
    lease = ScoresLease(date=date, model_version=version, holder="killed-host:1:dead", taken_at=time.time() - age_seconds)
    layout.store.write_bytes(layout.scores_lease(date), lease.to_bytes())


def test_a_lease_records_holder_version_and_time(layout):
    write_day_scores(layout.store, layout, DATE, day_scores("v1"), "v1")
    lease = json.loads(layout.store.read_text(layout.scores_lease(DATE)))
    assert lease["model_version"] == "v1" and str(os.getpid()) in lease["holder"]
    assert abs(lease["taken_at"] - time.time()) < 60


def test_a_stale_lease_without_scores_is_taken_over_but_a_live_one_or_one_with_scores_is_not(layout):
    """A scan killed between its lease and its scores (cron timeout) used to block every other version."""
    store = layout.store
    lease_of(layout, "v1", age_seconds=60)  # live: a scan of v1 may be writing right now
    with pytest.raises(ScoresOwnedByOtherVersion, match="v1"):
        write_day_scores(store, layout, DATE, day_scores("v2"), "v2", stale_after_seconds=600)
    lease_of(layout, "v1", age_seconds=3600)  # stale, no scores: the v1 scan died
    write_day_scores(store, layout, DATE, day_scores("v2"), "v2", stale_after_seconds=600)
    assert scores_owner(store, layout, DATE) == "v2" and set(read_day_scores(store, layout, DATE)["model_version"]) == {"v2"}
    lease_of(layout, "v2", age_seconds=3600)  # old, but its scores are there: not stale
    with pytest.raises(ScoresOwnedByOtherVersion, match="v2"):
        write_day_scores(store, layout, DATE, day_scores("v3"), "v3", stale_after_seconds=600)


def test_the_stale_limit_comes_from_the_storage_config(local_storage):
    store = open_store(local_storage.model_copy(update={"lease_stale_seconds": 5.0}))
    layout = Layout(store)
    lease_of(layout, "v1", age_seconds=10)
    write_day_scores(store, layout, DATE, day_scores("v2"), "v2")
    assert scores_owner(store, layout, DATE) == "v2"


# Scans racing on one lease (takeovers, withdrawals, explanations): tests/scan/test_lease_takeover.py


@pytest.mark.parametrize("ignored", ["If-None-Match", "If-Match on PUT", "If-Match on DELETE"])
def test_a_store_that_ignores_conditional_writes_refuses_leased_scans(s3_storage, ignored):
    store = open_store(s3_storage)
    layout = Layout(store)
    assert store.honours_conditional_writes(layout.exclusive_write_probe("t1"))  # moto honours all three

    careless = open_store(s3_storage)
    pipe_file, call_s3 = careless.fs.pipe_file, careless.fs.call_s3

    def put_ignoring_conditions(path, payload, **options):
        if ignored == "If-None-Match" and options.get("mode") == "create":
            options.pop("mode")
        if ignored == "If-Match on PUT":
            options.pop("IfMatch", None)
        return pipe_file(path, payload, **options)

    def delete_ignoring_if_match(method, **options):
        if ignored == "If-Match on DELETE" and method == "delete_object":
            options.pop("IfMatch", None)
        return call_s3(method, **options)

    careless.fs.pipe_file, careless.fs.call_s3 = put_ignoring_conditions, delete_ignoring_if_match
    with pytest.raises(ExclusiveWritesUnsupported, match="conditional writes"):
        write_day_scores(careless, Layout(careless), DATE, day_scores("v1"), "v1")
    assert not careless.list_files(careless.path("scores"))  # nothing written, probe removed


def test_an_s3_conflict_answered_as_a_plain_oserror_is_a_lost_race_not_a_crash(s3_storage):
    store = open_store(s3_storage)
    path = store.path("leases", "one.json")
    assert store.create_exclusive(path, b"first")
    pipe_file = store.fs.pipe_file

    def conflict_as_oserror(target, payload, **options):
        if options.get("mode") == "create" and store.fs.exists(target):
            raise OSError("An error occurred (ConditionalRequestConflict) when calling the PutObject operation")
        return pipe_file(target, payload, **options)

    store.fs.pipe_file = conflict_as_oserror
    try:
        assert not store.create_exclusive(path, b"second")
    finally:
        del store.fs.pipe_file
    assert store.read_bytes(path) == b"first"
