"""What moved a score: Shapley values over the modalities, and the occlusion effect of each item (plain torch).

Method, the same whatever the fusion (concat, gated, attention): StormModel.encode runs once; then
StormModel.fuse runs on the 8 coalitions of modalities (Shapley, storm.explain.shapley) and on one
variant per item with that item taken out of its modality's input, re-encoded. An item's effect is
score - score without it, so taking the item out of the evidence moves the score by exactly that
(the headline's day mean and count are recomputed without it; a price reading is set to 0, its calm
value on the fixed scales of storm.features.price_history; a call's slot is emptied). Item effects
within a modality need not add up to the modality's Shapley value: pooling and the nonlinear fusion
make them interact. Gate or attention weights are not used: they are not explanations of the score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from storm.explain.shapley import EMPTY, FULL, coalition_masks, shapley_values
from storm.features.price_history import PRICE_FEATURES, RETURN_SCALE, TYPICAL_LOG_VOL
from storm.model.modality_mask import present_modalities
from storm.model.storm_model import StormModel
from storm.published.calibration import Calibration
from storm.published.inference import autocast_context, model_inputs
from storm.published.predictor import Predictor, masked_inputs
from storm.schema import MODALITIES

VARIANTS_PER_CHUNK = 256  # bounds memory: a text variant copies its whole window [W, text_dim]


@dataclass
class WindowHeadlines:
    """Every headline inside each sample's window: which sample, which window day (0 = oldest), its embedding."""

    sample: np.ndarray      # int64 [n]
    position: np.ndarray    # int64 [n]: index into the window's days
    embedding: np.ndarray   # float32 [n, text_dim]: the cached (name-masked) embedding, as pooled into the day's mean
    headline: np.ndarray    # str [n]: the headline as published
    date: np.ndarray        # str [n]: its date

    @classmethod
    def empty(cls, text_dim: int) -> "WindowHeadlines":
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, text_dim), np.float32),
                   np.zeros(0, dtype=object), np.zeros(0, dtype=object))


@dataclass
class Item:
    """One piece of evidence of one sample that can be taken out: a headline, a price reading, a call."""

    sample: int
    modality: str
    label: str
    date: str = ""
    value: float = math.nan
    key: str = ""  # what identifies it from one day to the next (a price reading's name; else the label)

    def __post_init__(self) -> None:
        self.key = self.key or self.label


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
    item_logit: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # [n_items, H]: score - score without it
    item: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))        # [n_items, H], calibrated
    evidence_weight: float = math.nan  # anchored models: the blend of news and calls over prices alone (else NaN)


def explain_batch(predictor: Predictor, batch: Mapping[str, np.ndarray], headlines: WindowHeadlines | None = None,
                  call_labels: Sequence[Sequence[str]] | None = None, items: bool = True) -> Explanation:
    """Attributions of a published model's scores for a batch of windows (storm.features.windows.gather_windows),
    computed as the predictor scores them: on its device, under its autocast."""
    inputs = model_inputs(masked_inputs(batch), predictor.device)
    with autocast_context(predictor.device, predictor.autocast_dtype):
        return explain_windows(predictor.model, predictor.calibration, inputs, headlines, call_labels, items)


@torch.no_grad()
def explain_windows(model: StormModel, calibration: Calibration, inputs: Mapping[str, Tensor],
                    headlines: WindowHeadlines | None = None, call_labels: Sequence[Sequence[str]] | None = None,
                    items: bool = True) -> Explanation:
    """Attributions for a batch of windows (storm.features.windows keys as float tensors on the model's device).

    ``calibration`` maps raw logits [N, H] to probabilities.
    ``headlines``: the headlines inside each window (storm.explain.headlines); none: no headline items.
    ``call_labels[b][k]``: a name for sample b's k-th call slot (most recent first); else its age is the name.
    """
    model.eval()
    present = present_modalities(inputs["modality_mask"], model.enabled)
    embeddings = model.encode(inputs, present)
    batch, _, hidden = embeddings.shape
    masks = torch.as_tensor(coalition_masks(present.cpu().numpy()), device=present.device)
    fused = model.fuse(embeddings.unsqueeze(1).expand(batch, len(masks[0]), *embeddings.shape[1:])
                       .reshape(-1, *embeddings.shape[1:]), masks.reshape(-1, 3))
    logits = published_coalition_values(model, fused, present, len(masks[0]))
    probabilities = calibration.probability(logits.reshape(-1, logits.shape[-1])).reshape(logits.shape)
    explanation = Explanation(
        horizons=list(calibration.horizons),
        score_logit=logits[:, FULL], baseline_logit=logits[:, EMPTY], modality_logit=shapley_values(logits),
        score=probabilities[:, FULL], baseline=probabilities[:, EMPTY], modality=shapley_values(probabilities),
        evidence_weight=float(model.evidence_weight) if model.anchor_index is not None else math.nan,
    )
    if items:
        _explain_items(model, calibration, inputs, present, embeddings, explanation, headlines, call_labels)
    return explanation


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


def _explain_items(model, calibration, inputs, present, embeddings, explanation: Explanation,
                   headlines: WindowHeadlines | None, call_labels) -> None:
    builders = {"news": _headline_variants, "prices": _price_variants, "calls": _call_variants}
    found: list[Item] = []
    without: list[np.ndarray] = []
    for index, modality in enumerate(MODALITIES):
        if modality not in model.encoders or not bool(present[:, index].any()):
            continue
        encoder = model.encoders[modality]
        source = headlines if modality == "news" else call_labels
        for chunk_items, sample, variant_inputs, still_present in builders[modality](encoder, inputs, present[:, index],
                                                                                      source):
            replaced = embeddings[sample].clone()
            replaced[:, index] = encoder(variant_inputs).to(replaced.dtype)
            if model.anchor_model is not None and index == model.anchor_index:  # the anchor reads the prices too
                replaced[:, len(MODALITIES)] = model.anchor_model.encoders[modality](variant_inputs).to(replaced.dtype)
            kept = present[sample].clone()
            kept[:, index] = still_present
            without.append(model.fuse(replaced, kept).storm_logits.float().cpu().numpy().astype(np.float64))
            found.extend(chunk_items)
    if not found:
        return
    logits = np.concatenate(without)
    samples = np.array([item.sample for item in found])
    explanation.items = found
    explanation.item_logit = explanation.score_logit[samples] - logits
    explanation.item = explanation.score[samples] - calibration.probability(logits)


def _chunks(n: int):
    for start in range(0, n, VARIANTS_PER_CHUNK):
        yield slice(start, min(n, start + VARIANTS_PER_CHUNK))


def _variant_chunks(encoder, inputs, samples: np.ndarray, slots: np.ndarray):
    """Per chunk of (sample, slot) pairs: the chunk's slice, samples and slots as tensors, a copy of those samples'
    inputs to alter, and the copy's row numbers. Every item variant (a headline, a price reading, a call) is one pair."""
    device = inputs[encoder.input_keys[0]].device
    for part in _chunks(len(samples)):
        sample = torch.as_tensor(samples[part], device=device)
        slot = torch.as_tensor(slots[part], device=device)
        variant = {key: inputs[key][sample].clone() for key in encoder.input_keys}
        yield part, sample, slot, variant, torch.arange(len(sample), device=device)


def _headline_variants(encoder, inputs, present: Tensor, headlines: WindowHeadlines | None):
    """Each headline out of its day: the day's mean and count recomputed without it (the reading is linear in it)."""
    if headlines is None or len(headlines.sample) == 0 or "text_days" not in encoder.input_keys:
        return
    order = np.flatnonzero(present.cpu().numpy()[headlines.sample])
    for part, sample, position, variant, line in _variant_chunks(encoder, inputs, headlines.sample[order],
                                                                 headlines.position[order]):
        rows = order[part]
        removed = torch.as_tensor(headlines.embedding[rows], device=sample.device, dtype=torch.float32)
        count = variant["text_day_count"][line, position]
        day_mean = variant["text_days"][line, position]
        remaining = (count - 1.0).clamp(min=0.0)
        new_mean = (day_mean * count[:, None] - removed) / remaining.clamp(min=1.0)[:, None]
        variant["text_days"][line, position] = torch.where(remaining[:, None] > 0, new_mean, torch.zeros_like(new_mean))
        variant["text_day_count"][line, position] = remaining
        still = variant["text_day_count"].sum(dim=1) > 0
        items = [Item(int(headlines.sample[r]), "news", str(headlines.headline[r]), str(headlines.date[r])) for r in rows]
        yield items, sample, variant, still


def price_reading_label(name: str, value: float) -> str:
    """The price reading as a desk reads it, from its scaled value on the scored day."""
    if name in ("log_vol_20", "log_vol_60"):
        return f"{name[-2:]}-day volatility {math.exp(value + TYPICAL_LOG_VOL):.0%} annualised"
    return {
        "log_return": f"daily returns (last {value / RETURN_SCALE:+.1%})",
        "abs_return": f"size of daily moves (last {value / RETURN_SCALE:.1%})",
        "range": f"intraday ranges (last {value / RETURN_SCALE:.1%})",
        "volume_surprise": f"volume vs its 60-day mean (last {value:+.2f} log)",
        "drawdown_60": f"drawdown from the 60-day peak {value / 5.0:.1%}",
    }.get(name, f"{name} {value:+.2f}")


def _price_variants(encoder, inputs, present: Tensor, _labels):
    """Each price reading set to 0 (its calm value) over the whole window."""
    if "price_days" not in encoder.input_keys:
        return
    n_readings = len(PRICE_FEATURES)
    samples = np.flatnonzero(present.cpu().numpy())
    last_day = inputs["price_days"][:, -1].float().cpu().numpy()
    for part, sample, column, variant, line in _variant_chunks(encoder, inputs, np.repeat(samples, n_readings),
                                                               np.tile(np.arange(n_readings), len(samples))):
        variant["price_days"][line, :, column] = 0.0
        items = [Item(b, "prices", price_reading_label(PRICE_FEATURES[c], float(last_day[b, c])), "", float(last_day[b, c]),
                      key=PRICE_FEATURES[c])
                 for b, c in zip(sample.tolist(), column.tolist())]
        yield items, sample, variant, torch.ones(len(items), dtype=torch.bool, device=sample.device)


CALL_SLOTS = (("audio_valid", "audio_age", "audio_stats"),      # recordings' log-mel slices
              ("call_valid", "call_age", "call_features"))     # per-sentence call tables


def _call_variants(encoder, inputs, present: Tensor, call_labels):
    """Each call in the window out of its slot: a recording's or a call table's, whichever the encoder reads."""
    families = [keys for keys in CALL_SLOTS if keys[0] in encoder.input_keys]
    window = getattr(encoder, "window_days", 1)
    for valid_key, age_key, value_key in families:
        valid = inputs[valid_key].cpu().numpy() > 0.5
        ages = inputs[age_key].float().cpu().numpy() * window
        samples, slots = np.nonzero(valid & present.cpu().numpy()[:, None])
        for part, sample, slot, variant, line in _variant_chunks(encoder, inputs, samples, slots):
            for key in (valid_key, age_key, value_key):
                variant[key][line, slot] = 0.0
            still = sum(variant[keys[0]].sum(dim=1) for keys in families) > 0
            labels = call_labels if valid_key == "audio_valid" else None
            kind = "" if len(families) == 1 else (" (recording)" if valid_key == "audio_valid" else " (words and voice)")
            items = [Item(b, "calls", _call_label(labels, b, k, ages[b, k]) + kind, "", float(round(ages[b, k])))
                     for b, k in zip(sample.tolist(), slot.tolist())]
            yield items, sample, variant, still


def _call_label(call_labels, sample: int, slot: int, age: float) -> str:
    if call_labels is not None and sample < len(call_labels) and slot < len(call_labels[sample]) \
            and call_labels[sample][slot]:
        return str(call_labels[sample][slot])
    return f"call {age:.0f} trading days ago"
