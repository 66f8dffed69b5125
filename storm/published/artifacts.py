"""The published model of a run: immutable versions under models/<run>/versions/, one pointer to the current one.

    models/<run>/versions/<version>/
        model.safetensors   best weights (unwrapped, no DDP prefix)
        calibration.json    order-preserving calibration and alert threshold per horizon
        history.json        per-epoch metrics
        split.json          the train / validation / test dates
        product.json        optional: the stacked product (storm.desk.product): the desk's members, per-horizon
                            stacks and their calibration, published by `storm train` beside the neural weights
        model.json          model card: configs, horizons, feature specs, dates trained on, the version, and
                            the sha256 of every file above (written last in the version)
    models/<run>/current.json   {"run", "version", "card_sha256"}: switched last, in one atomic write

The version is a hash of the content (the card and every file), so a
republish of identical content is the same version and rewrites nothing.
Publishing writes the version, reads every file back to check its hash, and
only then switches the pointer (local: temporary file + os.replace; S3: one
PUT). A reader reads the pointer once and verifies what it loads, so a
publish killed at any point leaves readers on the old version or the new
one, never a mix. JSON + safetensors only: nothing here is pickled.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable

from storm.config import StormConfig
from storm.features.cache import SPEC_SOURCES, feature_spec_id
from storm.store import Layout, ObjectStore
from storm.published.calibration import Calibration
from storm.published.weights import weights_from_bytes
from storm.splits import DateSplit

MODEL_WEIGHTS = "model.safetensors"
MODEL_CARD = "model.json"
CALIBRATION = "calibration.json"
HISTORY = "history.json"
SPLIT = "split.json"
PUBLISHED_FILES = (MODEL_WEIGHTS, CALIBRATION, HISTORY, SPLIT)  # each recorded by sha256 in the card
PRODUCT = "product.json"  # optional: the stacked product (storm.desk.product), recorded like the others when present
OPTIONAL_FILES = (PRODUCT,)
VERSION_CHARS = 12


def model_card(config: StormConfig, weights: bytes, split: DateSplit, best_epoch: int, trained_on: dict[str, Any]) -> dict:
    """What a reader needs to rebuild the model and know what it saw (no secrets: only model-side sections)."""
    return {
        "version": None,  # set at publish: the content version of the card and every file (content_version)
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        "run": config.train.run_name,
        "horizons": list(config.labels.horizons),
        "model": config.model.model_dump(mode="json"),
        "features": config.features.model_dump(mode="json"),
        "labels": config.labels.model_dump(mode="json"),
        "feature_specs": {s: feature_spec_id(config.features, s) for s in SPEC_SOURCES},
        "trained_at": {part: _date_range(getattr(split, part)) for part in ("train", "validation", "test")},
        "embargo_days": split.embargo_days,
        "best_epoch": best_epoch,
        "init_from": config.train.init_from,
        "frozen_encoders": config.train.freeze_encoders if config.train.init_from else False,
        **trained_on,
    }


def write_model(store: ObjectStore, layout: Layout, run: str, weights: bytes, card: dict, calibration: Calibration,
                history: list[dict], split: DateSplit, before_pointer: Callable[[str], None] | None = None) -> str:
    """Publish a new immutable version of `run` and switch the pointer to it; returns the version's prefix.

    Sets card["version"] to the content-derived version (the caller's card then names what was published).
    `before_pointer(version)` runs after the version is written and verified, just before the switch.
    """
    return publish_model(store, layout, run, weights, card, calibration, history, split, before_pointer).prefix


@dataclass(frozen=True)
class ModelVersion:
    run: str
    version: str
    prefix: str  # models/<run>/versions/<version>
    files: dict[str, str]  # file name -> sha256, the card included


def publish_model(store: ObjectStore, layout: Layout, run: str, weights: bytes, card: dict, calibration: Calibration,
                  history: list[dict], split: DateSplit,
                  before_pointer: Callable[[str], None] | None = None,
                  optional: dict[str, bytes] | None = None) -> ModelVersion:
    """write_model, returning what was published (run, version, prefix, hashes); ``optional``: OPTIONAL_FILES
    published inside the same version (the stacked product)."""
    unknown = set(optional or {}) - set(OPTIONAL_FILES)
    if unknown:
        raise ValueError(f"publish_model: {sorted(unknown)} are not files a model version may hold ({OPTIONAL_FILES})")
    files = {MODEL_WEIGHTS: weights, CALIBRATION: _json_bytes(calibration.to_json()), HISTORY: _json_bytes(history),
             SPLIT: _json_bytes(split.to_json()), **(optional or {})}
    hashes = {name: _sha256(payload) for name, payload in files.items()}
    version = content_version(card, hashes)
    card["version"] = version
    card_bytes = _json_bytes({**card, "files": hashes})
    files[MODEL_CARD] = card_bytes  # last: a version without its card is not published
    if not _version_intact(store, layout, run, version, card_bytes):
        for name, payload in files.items():
            store.write_bytes(layout.model_version_file(run, version, name), payload)
        verify_version(store, layout, run, version, expected_card_sha256=_sha256(card_bytes))
    if before_pointer is not None:
        before_pointer(version)
    pointer = {"run": run, "version": version, "card_sha256": _sha256(card_bytes)}
    store.write_bytes(layout.model_pointer(run), _json_bytes(pointer))
    return ModelVersion(run=run, version=version, prefix=layout.model_version_dir(run, version),
                        files={**hashes, MODEL_CARD: pointer["card_sha256"]})


def content_version(card: dict, file_hashes: dict[str, str]) -> str:
    """The version: a short hash of the card (without version/files) and every file's sha256."""
    described = {key: value for key, value in card.items() if key not in ("version", "files")}
    return _sha256(_json_bytes({"card": described, "files": file_hashes}))[:VERSION_CHARS]


class ModelIntegrityError(ValueError):
    """A published file does not match the hash recorded for it (altered, or a publish was interrupted)."""


@dataclass(frozen=True)
class PublishedModel:
    card: dict
    weights: dict
    calibration: Calibration
    run: str = ""
    version: str = ""
    split: DateSplit | None = None
    history: list[dict] | None = None
    product: dict | None = None  # product.json (storm.desk.product.ProductModel.to_json); None: the neural model alone


def read_model(store: ObjectStore, layout: Layout, run: str, version: str | None = None) -> PublishedModel:
    """The run's current version (the pointer read once), or the named version; every file's hash verified."""
    pointer = read_pointer(store, layout, run) if version is None else {"version": version}
    version = pointer["version"]
    contents = verify_version(store, layout, run, version, expected_card_sha256=pointer.get("card_sha256"))
    card = json.loads(contents[MODEL_CARD])
    return PublishedModel(
        card=card, weights=weights_from_bytes(contents[MODEL_WEIGHTS]),
        calibration=Calibration.from_json(json.loads(contents[CALIBRATION])), run=run, version=version,
        split=DateSplit.from_json(json.loads(contents[SPLIT])), history=json.loads(contents[HISTORY]),
        product=json.loads(contents[PRODUCT]) if PRODUCT in contents else None)


def republish_with(store: ObjectStore, layout: Layout, run: str, optional: dict[str, bytes],
                   card_update: dict) -> ModelVersion:
    """A new version of ``run``: its current version's files, plus ``optional`` files and ``card_update`` in the
    card, published and switched to as one version (a reader sees the old version whole or the new one whole)."""
    pointer = read_pointer(store, layout, run)
    contents = verify_version(store, layout, run, pointer["version"], pointer.get("card_sha256"))
    card = {key: value for key, value in json.loads(contents[MODEL_CARD]).items() if key != "files"}
    card.update(card_update)
    return publish_model(store, layout, run, contents[MODEL_WEIGHTS], card,
                         Calibration.from_json(json.loads(contents[CALIBRATION])), json.loads(contents[HISTORY]),
                         DateSplit.from_json(json.loads(contents[SPLIT])), optional=optional)


def read_weights(store: ObjectStore, layout: Layout, run: str, version: str | None = None) -> dict:
    """Just a run's weights (verified), e.g. to initialise encoders from (`--init-from`)."""
    if version is None and not model_exists(store, layout, run):
        raise FileNotFoundError(f"--init-from {run}: no published model at {layout.model_dir(run)}; train that run first")
    return read_model(store, layout, run, version).weights


def model_exists(store: ObjectStore, layout: Layout, run: str) -> bool:
    """Whether the run has a published version (its pointer exists)."""
    return store.exists(layout.model_pointer(run))


def current_version(store: ObjectStore, layout: Layout, run: str) -> str:
    return read_pointer(store, layout, run)["version"]


def read_pointer(store: ObjectStore, layout: Layout, run: str) -> dict:
    path = layout.model_pointer(run)
    if not store.exists(path):
        legacy = store.exists(layout.model_file(run, MODEL_CARD))
        hint = (" (it holds a model published before versioned models: retrain it, e.g. `storm demo --retrain` "
                f"or delete {layout.model_dir(run)})" if legacy else "")
        raise FileNotFoundError(f"no published model for run {run!r}: {path} does not exist{hint}; "
                                f"train one with `storm train --run {run}` or pick another run")
    try:
        pointer = json.loads(store.read_text(path))
        layout.model_version_dir(run, pointer["version"])  # a well-formed version name
    except (ValueError, KeyError, TypeError) as err:
        raise ModelIntegrityError(f"model pointer {path} is not valid ({err}); republish run {run}") from None
    return pointer


def verify_version(store: ObjectStore, layout: Layout, run: str, version: str,
                   expected_card_sha256: str | None = None) -> dict[str, bytes]:
    """Every file of the version read back and checked against its card (and the card against the pointer)."""
    card_path = layout.model_version_file(run, version, MODEL_CARD)
    if not store.exists(card_path):
        raise ModelIntegrityError(f"model version {version} of run {run!r} has no card at {card_path} "
                                  "(publish interrupted before it finished?); republish the run")
    contents = {MODEL_CARD: store.read_bytes(card_path)}
    _check_hash(card_path, contents[MODEL_CARD], expected_card_sha256, f"the pointer {layout.model_pointer(run)}")
    card = json.loads(contents[MODEL_CARD])
    recorded = card.get("files", {})
    for name in (*PUBLISHED_FILES, *(name for name in OPTIONAL_FILES if name in recorded)):
        path = layout.model_version_file(run, version, name)
        if name not in recorded:
            raise ModelIntegrityError(f"{card_path} records no sha256 for {name}; republish run {run}")
        if not store.exists(path):
            raise ModelIntegrityError(f"{path} is missing from model version {version}; republish run {run}")
        contents[name] = store.read_bytes(path)
        _check_hash(path, contents[name], recorded[name], card_path)
    if content_version(card, recorded) != version or card.get("version") != version:
        raise ModelIntegrityError(f"{card_path} does not describe version {version} (its content hashes to "
                                  f"{content_version(card, recorded)}); republish run {run}")
    return contents


def _version_intact(store: ObjectStore, layout: Layout, run: str, version: str, card_bytes: bytes) -> bool:
    """Whether the version is already published whole (a republish of identical content rewrites nothing)."""
    try:
        verify_version(store, layout, run, version, expected_card_sha256=_sha256(card_bytes))
    except ModelIntegrityError:
        return False
    return True


def _check_hash(path: str, payload: bytes, expected: str | None, recorded_in: str) -> None:
    if expected is None:
        return
    actual = _sha256(payload)
    if actual != expected:
        raise ModelIntegrityError(f"{path}: sha256 {actual} does not match {expected} recorded in {recorded_in} "
                                  "(file altered, or a publish was interrupted); republish the run")


def _sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _json_bytes(document: Any) -> bytes:
    return json.dumps(document, indent=1, sort_keys=True, allow_nan=False).encode("utf-8")


def _date_range(dates: list[str]) -> list[str] | None:
    return [dates[0], dates[-1]] if dates else None
