"""Model publishing: immutable content-addressed versions, verified on read, switched by a pointer written last.

The kill tests run a real publishing process (a child Python) and SIGKILL it mid-publish; a reader in this
process must then load the old version or the new one whole, never a mix.
"""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from storm.store import Layout, open_store
from storm.published.artifacts import (
    CALIBRATION, MODEL_CARD, MODEL_WEIGHTS, ModelIntegrityError, current_version, publish_model, read_model,
    read_weights, write_model,
)
from storm.published.calibration import Calibration
from storm.published.weights import weights_to_bytes
from storm.splits import DateSplit

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def model_parts(generation: int, threshold: float = 0.5):
    """A small but complete publish whose every file carries `generation`, so a mix is detectable."""
    weights = weights_to_bytes({"w": torch.full((64, 64), float(generation))})
    card = {"run": "prod", "horizons": [5], "generation": generation}
    calibration = Calibration(method="hazard", horizons=[5], slope=1.0 + generation, intercept={5: -2.0},
                              threshold={5: threshold}, false_alarm_rate=0.1)
    history = [{"epoch": 0, "generation": generation}]
    split = DateSplit(train=["2020-01-01"], validation=["2020-02-01"], test=[f"2020-03-{1 + generation % 28:02d}"],
                      embargo_days=5)
    return weights, card, calibration, history, split


def assert_whole(published, generation: int) -> None:
    """Every part of what was read belongs to one publish."""
    assert published.card["generation"] == generation
    assert float(published.weights["w"][0, 0]) == generation
    assert published.calibration.slope == 1.0 + generation
    assert published.history[0]["generation"] == generation
    assert published.split.test == [f"2020-03-{1 + generation % 28:02d}"]


@pytest.fixture(params=["local", "s3"])
def storage(request, local_storage):
    return local_storage if request.param == "local" else request.getfixturevalue("s3_storage")


def test_publish_then_read_gives_the_same_model_and_a_content_derived_version(storage):
    store = open_store(storage)
    layout = Layout(store)
    parts = model_parts(1)
    card = parts[1]
    prefix = write_model(store, layout, "prod", *parts)
    published = read_model(store, layout, "prod")
    assert_whole(published, 1)
    assert published.version == card["version"] == current_version(store, layout, "prod")
    assert prefix == layout.model_version_dir("prod", published.version)
    assert json.loads(store.read_text(layout.model_pointer("prod")))["version"] == published.version
    assert float(read_weights(store, layout, "prod")["w"][0, 0]) == 1.0
    recorded = json.loads(store.read_text(layout.model_version_file("prod", published.version, MODEL_CARD)))["files"]
    assert set(recorded) == {MODEL_WEIGHTS, CALIBRATION, "history.json", "split.json"}


def test_republishing_identical_content_is_idempotent_and_new_content_is_a_new_version(storage):
    store = open_store(storage)
    layout = Layout(store)
    first = publish_model(store, layout, "prod", *model_parts(1))
    files_before = {path: store.fs.info(path).get("mtime", store.fs.info(path).get("LastModified"))
                    for path in store.list_files(first.prefix)}
    pointer_before = store.read_bytes(layout.model_pointer("prod"))
    again = publish_model(store, layout, "prod", *model_parts(1))
    assert again.version == first.version and again.files == first.files
    assert store.read_bytes(layout.model_pointer("prod")) == pointer_before
    assert {path: store.fs.info(path).get("mtime", store.fs.info(path).get("LastModified"))
            for path in store.list_files(first.prefix)} == files_before  # nothing rewritten

    recalibrated = publish_model(store, layout, "prod", *model_parts(1, threshold=0.7))  # same weights, other threshold
    assert recalibrated.version != first.version
    assert read_model(store, layout, "prod").calibration.threshold[5] == 0.7
    assert read_model(store, layout, "prod", version=first.version).calibration.threshold[5] == 0.5  # old one kept


def test_a_file_altered_after_publishing_is_refused_naming_the_file_and_both_hashes(local_storage):
    store = open_store(local_storage)
    layout = Layout(store)
    published = publish_model(store, layout, "prod", *model_parts(1))
    calibration_path = layout.model_version_file("prod", published.version, CALIBRATION)
    store.write_text(calibration_path, store.read_text(calibration_path).replace("0.5", "0.9"))
    with pytest.raises(ModelIntegrityError) as refused:
        read_model(store, layout, "prod")
    message = str(refused.value)
    assert calibration_path in message and published.files[CALIBRATION] in message and "sha256" in message


def test_an_unpublished_run_says_how_to_train_it(local_storage):
    layout = Layout(open_store(local_storage))
    with pytest.raises(FileNotFoundError, match="storm train --run nothing"):
        read_model(layout.store, layout, "nothing")


CHILD = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from storm.config import StorageConfig
    from storm.store import Layout, ObjectStore, open_store
    from storm.published.artifacts import write_model
    sys.path.insert(0, {tests_dir!r})
    from test_artifacts import model_parts

    storage, pause_after, marker, first_generation = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    base = open_store(StorageConfig.model_validate_json(storage))

    class PausingStore(ObjectStore):
        '''The real store, stopping for the kill right after it writes a file named pause_after.'''
        def write_bytes(self, path, payload):
            super().write_bytes(path, payload)
            if path.endswith("/" + pause_after):
                marker.write_text(path)
                time.sleep(600)

    store = PausingStore(fs=base.fs, root=base.root, scheme=base.scheme)
    marker.with_suffix(".ready").write_text("ready")
    generation = first_generation
    while True:  # pause_after "-": publish generation after generation until killed
        write_model(store, Layout(store), "prod", *model_parts(generation))
        if pause_after != "-":
            break
        generation += 1
""")


def start_publisher(tmp_path: Path, storage, pause_after: str, generation: int) -> tuple[subprocess.Popen, Path]:
    script = tmp_path / "publish_child.py"
    script.write_text(CHILD.format(tests_dir=str(Path(__file__).parent)))
    marker = tmp_path / f"paused-{pause_after.replace('.', '_')}-{generation}"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen([sys.executable, str(script), storage.model_dump_json(), pause_after, str(marker),
                              str(generation)], env=environment, start_new_session=True)
    return child, marker


def kill(child: subprocess.Popen) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)


def wait_for(path: Path, child: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert child.poll() is None, f"publisher exited early with {child.returncode}"
        assert time.monotonic() < deadline, f"publisher never reached {path.name}"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("pause_after", [MODEL_WEIGHTS, MODEL_CARD])
def test_a_publish_killed_midway_leaves_readers_on_the_old_version_whole(storage, tmp_path, pause_after):
    """Killed after the new weights (or the whole new version) are written, before the pointer switch."""
    store = open_store(storage)
    layout = Layout(store)
    old = publish_model(store, layout, "prod", *model_parts(1))
    child, marker = start_publisher(tmp_path, storage, pause_after, generation=2)
    try:
        wait_for(marker, child)
    finally:
        kill(child)
    assert marker.read_text().endswith("/" + pause_after)  # the new version's file really was written
    published = read_model(store, layout, "prod")
    assert published.version == old.version
    assert_whole(published, 1)
    new = publish_model(store, layout, "prod", *model_parts(2))  # the rerun completes the interrupted version
    assert_whole(read_model(store, layout, "prod"), 2) and new.version != old.version


@pytest.mark.slow
def test_publishes_killed_at_random_moments_never_show_a_mix(local_storage, tmp_path):
    """A publisher loops over generations; killed at random, a reader always sees one whole generation."""
    store = open_store(local_storage)
    layout = Layout(store)
    publish_model(store, layout, "prod", *model_parts(0))
    rng = random.Random(9)
    seen = set()
    for attempt in range(3):
        child, marker = start_publisher(tmp_path, local_storage, "-", generation=100 * (attempt + 1))
        try:
            wait_for(marker.with_suffix(".ready"), child)
            deadline = time.monotonic() + rng.uniform(0.2, 1.5)
            while time.monotonic() < deadline:  # read while the child publishes
                published = read_model(store, layout, "prod")
                assert_whole(published, published.card["generation"])
        finally:
            kill(child)
        published = read_model(store, layout, "prod")
        assert_whole(published, published.card["generation"])
        seen.add(published.card["generation"])
    print(f"generations seen after kills: {sorted(seen)}")
    assert len(seen) > 1  # the kills did land while publishing went on


def test_a_product_republished_beside_the_weights_is_one_new_version_verified_on_read(local_storage):
    from storm.published.artifacts import PRODUCT, republish_with

    store = open_store(local_storage)
    layout = Layout(store)
    weights, card, calibration, history, split = model_parts(1)
    first = publish_model(store, layout, "prod", weights, card, calibration, history, split)
    second = republish_with(store, layout, "prod", {PRODUCT: b'{"members": ["fused"]}'}, {"product": {"members": ["fused"]}})
    assert second.version != first.version and current_version(store, layout, "prod") == second.version
    published = read_model(store, layout, "prod")
    assert published.product == {"members": ["fused"]} and published.card["product"] == {"members": ["fused"]}
    assert published.weights.keys() == read_model(store, layout, "prod", first.version).weights.keys()
    assert read_model(store, layout, "prod", first.version).product is None  # the old version is untouched
    path = layout.model_version_file("prod", second.version, PRODUCT)
    store.write_bytes(path, b'{"members": ["garch"]}')
    with pytest.raises(ModelIntegrityError, match=PRODUCT):
        read_model(store, layout, "prod")
