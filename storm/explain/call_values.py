"""One call's item value as a function of the call vector the model reads: the game storm.explain.call_parts opens
(plain torch).

The window is encoded once; each candidate vector takes the call's slot in a copy of the window's calls inputs and
the call items' game of storm.explain.items is played again (every call of the window in or out, the calls
modality's Shapley value recomputed on each subset), everything else as scored. So the whole call's vector gives
back the value the scan stored for the call, and any other vector the value the call would have had.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch

from storm.explain.attribution import modality_value_function
from storm.explain.call_parts import CallGame
from storm.explain.items import ItemSources, explain_items
from storm.model.modality_mask import present_modalities
from storm.published.inference import autocast_context, model_inputs
from storm.published.predictor import Predictor, masked_inputs

VECTORS_PER_CHUNK = 256  # candidate call vectors re-read at once (each plays the window's calls in and out)
CALL_SLOT_KEYS = ("call_features", "call_valid")


def call_item_game(predictor: Predictor, window: Mapping[str, np.ndarray], sources: ItemSources, item_key: str,
                   slot: int) -> CallGame:
    """vectors [m, call_vector_dim] -> [m, 2H]: the call item ``item_key`` (in call-table slot ``slot`` of the one
    window ``window``, storm.features.windows.gather_windows of one row) valued in logit (first H columns) and in
    calibrated probability (last H), as storm.explain.attribution values it."""
    model, device = predictor.model.eval(), predictor.device
    inputs = model_inputs(masked_inputs(window), device)
    if inputs["call_features"].shape[0] != 1:
        raise ValueError(f"a call is opened in one window at a time, not {inputs['call_features'].shape[0]}")
    if inputs["call_valid"][0, slot] < 0.5:
        raise ValueError(f"call-table slot {slot} of the window holds no call")
    encoder = model.encoders["calls"]
    occurrence = _occurrence(sources, slot)
    modality_values = modality_value_function(model, predictor.calibration)
    with torch.no_grad(), autocast_context(device, predictor.autocast_dtype):
        present = present_modalities(inputs["modality_mask"], model.enabled)
        embeddings = model.encode(inputs, present)

    @torch.no_grad()
    def game(vectors: np.ndarray) -> np.ndarray:
        values = []
        for lo in range(0, len(vectors), VECTORS_PER_CHUNK):
            chunk = torch.as_tensor(np.asarray(vectors[lo:lo + VECTORS_PER_CHUNK]), dtype=torch.float32, device=device)
            n = len(chunk)
            variant = {key: inputs[key].expand(n, *inputs[key].shape[1:]).clone() for key in encoder.input_keys}
            variant["call_features"][:, slot] = chunk.to(variant["call_features"].dtype)
            copies = ItemSources(call_dates={key: [dates[0]] * n for key, dates in (sources.call_dates or {}).items()})
            with autocast_context(device, predictor.autocast_dtype):
                found = explain_items(model, variant, present.expand(n, -1), embeddings.expand(n, *embeddings.shape[1:]),
                                      modality_values, copies, modalities=("calls",))
            values.append(_values_of(found, item_key, occurrence, n))
        return np.concatenate(values)

    return game


def _occurrence(sources: ItemSources, slot: int) -> int:
    """Which of the window's call items with the slot's key the slot is (two tables of one day share a label)."""
    dates = (sources.call_dates or {}).get("call_valid")
    if not dates:
        return 0
    return sum(1 for k in range(slot) if dates[0][k] == dates[0][slot])


def _values_of(found, item_key: str, occurrence: int, samples: int) -> np.ndarray:
    """[samples, 2H]: each sample's ``occurrence``-th item keyed ``item_key``, logit then probability."""
    seen = [0] * samples
    rows: list[np.ndarray | None] = [None] * samples
    for item, logit, probability in zip(found.items, found.logit, found.probability):
        if item.key != item_key:
            continue
        if seen[item.sample] == occurrence:
            rows[item.sample] = np.concatenate([logit, probability])
        seen[item.sample] += 1
    if any(row is None for row in rows):
        keys = sorted({item.key for item in found.items})
        raise ValueError(f"the window's call items are {keys}, none is {item_key!r}")
    return np.stack(rows)
