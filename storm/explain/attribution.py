"""What moved a score: Shapley values over the modalities, and of the items within each modality (plain torch).

Method, the same whatever the fusion (concat, gated, attention): StormModel.encode runs once; then
StormModel.fuse runs on the 8 coalitions of modalities (exact Shapley, storm.explain.shapley). Items (headlines,
price readings, calls) share out their modality's Shapley value by a Shapley game within the modality
(storm.explain.items): each subset of items re-encoded with the other items at their reference (a price reading at
the market's calm value, a headline or call taken out), and the modality's Shapley value recomputed on it. Exact
over every subset up to 7 items (the price readings), antithetic permutation sampling beyond (headlines): either
way the items and the reference term add up to the modality's contribution exactly, in logit and in probability.
Gate or attention weights are not used: they are not explanations of the score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import torch
from torch import Tensor

from storm.explain.items import Item, ItemSources, ModalityValues, WindowHeadlines, explain_items
from storm.explain.shapley import EMPTY, FULL, coalition_masks, shapley_values
from storm.model.modality_mask import present_modalities
from storm.model.storm_model import StormModel
from storm.published.calibration import Calibration
from storm.published.inference import autocast_context, model_inputs
from storm.published.predictor import Predictor, masked_inputs

__all__ = ["Explanation", "Item", "ItemSources", "WindowHeadlines", "explain_batch", "explain_windows"]


@dataclass
class Explanation:
    """A batch's attributions; probabilities are calibrated scores, logits the model's raw storm logits."""

    horizons: list[int]
    score_logit: np.ndarray      # [B, H]
    baseline_logit: np.ndarray   # [B, H]: every modality masked (the model's learned "nothing present")
    modality_logit: np.ndarray   # [B, 3, H]: Shapley values; sum over modalities = score_logit - baseline_logit
    score: np.ndarray            # [B, H] calibrated probability
    baseline: np.ndarray         # [B, H]
    modality: np.ndarray         # [B, 3, H]: Shapley values of the calibrated probability
    items: list[Item] = field(default_factory=list)
    item_logit: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # [n_items, H]: Shapley within the modality
    item: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))        # [n_items, H], calibrated
    evidence_weight: float = math.nan  # anchored models: the blend of news and calls over prices alone (else NaN)


def explain_batch(predictor: Predictor, batch: Mapping[str, np.ndarray], sources: ItemSources | None = None,
                  items: bool = True) -> Explanation:
    """Attributions of a published model's scores for a batch of windows (storm.features.windows.gather_windows),
    computed as the predictor scores them: on its device, under its autocast."""
    inputs = model_inputs(masked_inputs(batch), predictor.device)
    with autocast_context(predictor.device, predictor.autocast_dtype):
        return explain_windows(predictor.model, predictor.calibration, inputs, sources, items)


@torch.no_grad()
def explain_windows(model: StormModel, calibration: Calibration, inputs: Mapping[str, Tensor],
                    sources: ItemSources | None = None, items: bool = True) -> Explanation:
    """Attributions for a batch of windows (storm.features.windows keys as float tensors on the model's device).

    ``calibration`` maps raw logits [N, H] to probabilities. ``sources``: what names the items (the windows'
    headlines, calls' dates, calm price references, dates; storm.explain.items.ItemSources); none: no headline
    items, price readings against 0.
    """
    model.eval()
    present = present_modalities(inputs["modality_mask"], model.enabled)
    embeddings = model.encode(inputs, present)
    logits = coalition_logits(model, embeddings, present)
    probabilities = calibration.probability(logits.reshape(-1, logits.shape[-1])).reshape(logits.shape)
    explanation = Explanation(
        horizons=list(calibration.horizons),
        score_logit=logits[:, FULL], baseline_logit=logits[:, EMPTY], modality_logit=shapley_values(logits),
        score=probabilities[:, FULL], baseline=probabilities[:, EMPTY], modality=shapley_values(probabilities),
        evidence_weight=float(model.evidence_weight) if model.anchor_index is not None else math.nan,
    )
    if items:
        found = explain_items(model, inputs, present, embeddings, modality_value_function(model, calibration),
                              sources or ItemSources())
        if found.items:
            explanation.items = found.items
            explanation.item_logit = np.stack(found.logit)
            explanation.item = np.stack(found.probability)
    return explanation


def modality_value_function(model: StormModel, calibration: Calibration) -> ModalityValues:
    """(embeddings, present) -> the modalities' Shapley values in logit and calibrated probability: what an item
    game recomputes on each subset of a modality's items (storm.explain.items)."""
    def modality_values(variant_embeddings: Tensor, variant_present: Tensor) -> tuple[np.ndarray, np.ndarray]:
        values = coalition_logits(model, variant_embeddings, variant_present)
        calibrated = calibration.probability(values.reshape(-1, values.shape[-1])).reshape(values.shape)
        return shapley_values(values), shapley_values(calibrated)

    return modality_values


def coalition_logits(model: StormModel, embeddings: Tensor, present: Tensor) -> np.ndarray:
    """[B, 8, H]: the published score of each coalition of the modalities each sample has (float64)."""
    batch = embeddings.shape[0]
    masks = torch.as_tensor(coalition_masks(present.cpu().numpy()), device=present.device)
    fused = model.fuse(embeddings.unsqueeze(1).expand(batch, len(masks[0]), *embeddings.shape[1:])
                       .reshape(-1, *embeddings.shape[1:]), masks.reshape(-1, 3))
    return published_coalition_values(model, fused, present, len(masks[0]))


def published_coalition_values(model, fused, present: Tensor, n_coalitions: int) -> np.ndarray:
    """[B, 8, H] logits: the published score formula evaluated on each coalition.

    Without an anchor that is the fusion's output. With one (prices), the published score is
    anchor + w (full - anchor); on a coalition S the anchor reads S's prices only (nothing when S lacks
    them), so v(S) = f(S ∩ prices) + w (f(S) - f(S ∩ prices)). At w = 0 news and calls get exactly 0: they
    cannot move a score the model reads from prices alone, and Shapley does not credit them through the
    coalitions without prices. A sample without prices is scored on its full input (the model's fallback),
    so there v(S) = f(S). v(all) is the published score, v(empty) the baseline. When the anchor is the
    prices-only model g (model.anchor_model), f(S ∩ prices) above is g(prices), or g with nothing to read: the
    samples with prices share the baseline g(nothing) + w (f(empty) - g(nothing)), those without have f(empty).
    """
    batch = present.shape[0]
    if fused.full_logits is None or model.anchor_index is None:
        return fused.storm_logits.float().cpu().numpy().astype(np.float64).reshape(batch, n_coalitions, -1)
    full = fused.full_logits.float().cpu().numpy().astype(np.float64).reshape(batch, n_coalitions, -1)
    weight = float(model.evidence_weight)
    anchor_bit = 1 << model.anchor_index
    has_anchor = present[:, model.anchor_index].cpu().numpy().astype(bool)
    coalition = np.arange(n_coalitions)
    if model.anchor_model is not None:
        given = fused.anchor_logits.float().cpu().numpy().astype(np.float64).reshape(batch, n_coalitions, -1)
        nothing = model.empty_anchor_logits().float().cpu().numpy().astype(np.float64)
        lacks_prices = (coalition & anchor_bit) == 0
        anchor = np.where((has_anchor[:, None] & lacks_prices[None, :])[:, :, None], nothing, given)
        return anchor + weight * (full - anchor)
    anchor_of = np.where(has_anchor[:, None], (coalition & anchor_bit)[None, :], coalition[None, :])  # [B, 8]
    anchor = np.take_along_axis(full, anchor_of[:, :, None], axis=1)
    return anchor + weight * (full - anchor)
