"""Per-date scores under a lease: one model version owns a date; reruns idempotent; candidates kept apart."""

import threading

import pandas as pd
import pytest

from storm.scan.score_store import ScoresOwnedByOtherVersion, read_day_scores, scores_owner, write_day_scores
from storm.scan.scores import scores_table
from storm.store import Layout, open_store

DATE = "2020-01-02"


def day_scores(version: str, score: float = 0.9, date: str = DATE) -> pd.DataFrame:
    predictions = pd.DataFrame({
        "market": ["A", "B"], "date": [date, date], "score_5d": [score, 0.1], "alert_5d": [score > 0.5, False],
        "weight_text": [1.0, 1.0], "weight_image": [0.0, 0.0], "weight_audio": [0.0, 0.0],
        "present_text": [True, True], "present_image": [False, False], "present_audio": [False, False],
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
