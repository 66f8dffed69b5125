"""The published model under models/<run>/: what a scan or an evaluation loads.

    model.safetensors   best weights (unwrapped, no DDP prefix)
    model.json          model card: configs, horizons, feature specs, version, dates trained on
    calibration.json    order-preserving calibration and alert threshold per horizon
    history.json        per-epoch metrics
    split.json          the train / validation / test dates

JSON + safetensors only: nothing here is pickled, so any reader can trust it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from storm.config import StormConfig
from storm.features.cache import feature_spec_id
from storm.schema import MODALITIES
from storm.store import Layout, ObjectStore
from storm.training.calibration import Calibration
from storm.training.checkpoint import weights_from_bytes, weights_version
from storm.training.splits import DateSplit

MODEL_WEIGHTS = "model.safetensors"
MODEL_CARD = "model.json"
CALIBRATION = "calibration.json"
HISTORY = "history.json"
SPLIT = "split.json"


def model_card(config: StormConfig, weights: bytes, split: DateSplit, best_epoch: int, trained_on: dict[str, Any]) -> dict:
    """What a reader needs to rebuild the model and know what it saw (no secrets: only model-side sections)."""
    return {
        "version": weights_version(weights),
        "run": config.train.run_name,
        "horizons": list(config.labels.horizons),
        "model": config.model.model_dump(mode="json"),
        "features": config.features.model_dump(mode="json"),
        "labels": config.labels.model_dump(mode="json"),
        "feature_specs": {m: feature_spec_id(config.features, m) for m in MODALITIES},
        "trained_at": {part: _date_range(getattr(split, part)) for part in ("train", "validation", "test")},
        "embargo_days": split.embargo_days,
        "best_epoch": best_epoch,
        "init_from": config.train.init_from,
        "frozen_encoders": config.train.freeze_encoders if config.train.init_from else False,
        **trained_on,
    }


def write_model(store: ObjectStore, layout: Layout, run: str, weights: bytes, card: dict, calibration: Calibration,
                history: list[dict], split: DateSplit) -> str:
    """Write every artifact; the weights go last but the card names their hash, so a half-written run is detectable."""
    documents = {MODEL_CARD: card, CALIBRATION: calibration.to_json(), HISTORY: history, SPLIT: split.to_json()}
    store.write_bytes(layout.model_file(run, MODEL_WEIGHTS), weights)
    for name, document in documents.items():
        store.write_text(layout.model_file(run, name), json.dumps(document, indent=1, allow_nan=False))
    return layout.model_dir(run)


@dataclass(frozen=True)
class PublishedModel:
    card: dict
    weights: dict
    calibration: Calibration


def read_model(store: ObjectStore, layout: Layout, run: str) -> PublishedModel:
    card_path = layout.model_file(run, MODEL_CARD)
    if not store.exists(card_path):
        raise FileNotFoundError(f"no trained model at {layout.model_dir(run)} (missing {MODEL_CARD}); "
                                f"train one with `storm train --run {run}` or pick another run")
    payload = store.read_bytes(layout.model_file(run, MODEL_WEIGHTS))
    card = json.loads(store.read_text(card_path))
    if weights_version(payload) != card["version"]:
        raise ValueError(f"{layout.model_file(run, MODEL_WEIGHTS)} does not match the version {card['version']} in "
                         f"{MODEL_CARD} (interrupted write?); retrain run {run}")
    calibration = Calibration.from_json(json.loads(store.read_text(layout.model_file(run, CALIBRATION))))
    return PublishedModel(card=card, weights=weights_from_bytes(payload), calibration=calibration)


def read_weights(store: ObjectStore, layout: Layout, run: str) -> dict:
    """Just a run's weights, e.g. to initialise encoders from (`--init-from`)."""
    path = layout.model_file(run, MODEL_WEIGHTS)
    if not store.exists(path):
        raise FileNotFoundError(f"--init-from {run}: no {MODEL_WEIGHTS} at {layout.model_dir(run)}; train that run first")
    return weights_from_bytes(store.read_bytes(path))


def _date_range(dates: list[str]) -> list[str] | None:
    return [dates[0], dates[-1]] if dates else None
