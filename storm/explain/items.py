"""The items inside each modality (headlines, price readings, calls) and their Shapley values within it.

The modality's contribution is its exact Shapley value over the modalities (storm.explain.shapley). Its items share
it out by the game of storm.explain.item_shapley: v(T) is that contribution when the modality reads the items in T
as they are and the others at their reference, everything else as scored. References: a price reading at the
market's calm value over the whole window (storm.features.calm_reference; 0, the fixed scales' calm value, when no
reference is given); a headline taken out of its day (the day's mean and count recomputed without it); a call's slot
emptied. The items' values and the reference term v(no item) add up to the modality's contribution exactly (in
logit and in calibrated probability alike). The reference term is an item of its own: for prices "prices at this
market's calm", what the model reads from the market's usual price behaviour; for news the headlines that could not
be read back (0 when all were); for calls always 0 (no call present is no calls).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from storm.explain.item_shapley import PERMUTATIONS, item_design
from storm.explain.price_items import CALM_ITEM_KEY, CALM_ITEM_LABEL, driving_reading
from storm.features.price_history import PRICE_INPUTS
from storm.schema import MODALITIES

VARIANTS_PER_CHUNK = {"news": 256, "prices": 2048, "calls": 1024}  # a text variant copies its window [W, text_dim]
NEWS_PERMUTATIONS = 2  # a window holds ~40 headlines, each order re-encodes the window ~40 times: fewer orders
NEWS_REFERENCE_LABEL = "headlines not read back, the market's own or market-wide (their day did not match the panel's)"
# the news encoder's headline channels: the market's own headlines, then the market-wide wire (where it reads one)
HEADLINE_CHANNELS = (("text_days", "text_day_count"), ("wire_days", "wire_day_count"))
MARKET_WIDE_LABEL = "{headline} (market-wide)"
CALL_FAMILIES = (("audio_valid", "audio_age", "audio_stats"),   # recordings' log-mel slices
                 ("call_valid", "call_age", "call_features"))  # per-sentence call tables


@dataclass
class WindowHeadlines:
    """Every headline inside each sample's window: which sample, which window day (0 = oldest), its embedding."""

    sample: np.ndarray      # int64 [n]
    position: np.ndarray    # int64 [n]: index into the window's days
    embedding: np.ndarray   # float32 [n, text_dim]: the cached (name-masked) embedding, as pooled into the day's mean
    headline: np.ndarray    # str [n]: the headline as published
    date: np.ndarray        # str [n]: its date
    market_wide: np.ndarray | None = None  # bool [n]: a wire headline (every market's), read on the wire channel

    @classmethod
    def empty(cls, text_dim: int) -> "WindowHeadlines":
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, text_dim), np.float32),
                   np.zeros(0, dtype=object), np.zeros(0, dtype=object))


@dataclass
class Item:
    """One piece of evidence of one sample: a headline, a price reading, a call, or a modality's reference term."""

    sample: int
    modality: str
    label: str
    date: str = ""
    value: float = math.nan
    key: str = ""  # what identifies it from one day to the next (a price reading's name, a call's date; else the label)

    def __post_init__(self) -> None:
        self.key = self.key or self.label


@dataclass
class ItemSources:
    """What names a batch's items beyond the model inputs; each part optional."""

    headlines: WindowHeadlines | None = None  # storm.explain.headlines; none: no headline items
    call_dates: Mapping[str, Sequence[Sequence[str]]] | None = None  # valid key -> [sample][slot]: the call's date
    price_calm: np.ndarray | None = None      # [B, F]: each window's calm price reference; none: 0 (fixed scales)
    window_dates: np.ndarray | None = None    # [B, W] str: the window's dates, oldest first


@dataclass
class Players:
    """One modality's items in a batch and how a subset of them is read: ``apply(variant, samples, kept)`` sets the
    copied inputs of ``samples`` to read only the items ``kept`` [n, max players] (the rest at their reference) and
    returns whether the modality is still present."""

    items: list[list[Item]]             # per sample, its items in player order
    reference: list[Item | None]        # per sample, the item carrying v(no item); None where that is 0
    apply: Callable[[dict, np.ndarray, np.ndarray], Tensor]
    items_per_chunk: int
    permutations: int = PERMUTATIONS  # sampled orders (and their reverses) beyond EXACT_ITEMS items
    rebuilds: tuple[str, ...] = ()    # input keys ``apply`` builds itself (not copied from the inputs first)


@dataclass
class ItemValues:
    items: list[Item] = field(default_factory=list)
    logit: list[np.ndarray] = field(default_factory=list)        # each [H]
    probability: list[np.ndarray] = field(default_factory=list)  # each [H]


# (embeddings [n, M, hidden], present [n, 3]) -> the modalities' Shapley values (logit [n, 3, H], probability [n, 3, H])
ModalityValues = Callable[[Tensor, Tensor], tuple[np.ndarray, np.ndarray]]


def explain_items(model, inputs: Mapping[str, Tensor], present: Tensor, embeddings: Tensor,
                  modality_values: ModalityValues, sources: ItemSources,
                  modalities: Sequence[str] = MODALITIES) -> ItemValues:
    """Every modality's items (of ``modalities``) with their Shapley values within it, in logit and calibrated
    probability."""
    found = ItemValues()
    for index, modality in enumerate(MODALITIES):
        if modality not in modalities or modality not in model.encoders or not bool(present[:, index].any()):
            continue
        encoder = model.encoders[modality]
        players = PLAYERS[modality](encoder, inputs, present[:, index], sources)
        if players is not None:
            _share_out(model, encoder, index, inputs, present, embeddings, modality_values, players, found)
    return found


def _share_out(model, encoder, index: int, inputs, present: Tensor, embeddings: Tensor,
               modality_values: ModalityValues, players: Players, found: ItemValues) -> None:
    """Evaluate each sample's item design (its subsets of items) and turn the values into item values."""
    samples = [b for b, mine in enumerate(players.items) if mine]
    if not samples:
        return
    width = max(len(players.items[b]) for b in samples)
    designs = {b: item_design(len(players.items[b]), permutations=players.permutations) for b in samples}
    point_sample = np.concatenate([np.full(len(designs[b].subsets), b) for b in samples])
    point_subset = np.zeros((len(point_sample), width), dtype=bool)
    start = 0
    for b in samples:
        subsets = designs[b].subsets
        point_subset[start:start + len(subsets), :subsets.shape[1]] = subsets
        start += len(subsets)
    logits, probabilities = [], []
    device = embeddings.device
    for lo in range(0, len(point_sample), players.items_per_chunk):
        sample_np = point_sample[lo:lo + players.items_per_chunk]
        sample = torch.as_tensor(sample_np, device=device)
        variant = {key: inputs[key][sample] for key in encoder.input_keys if key not in players.rebuilds}  # copies
        still_present = players.apply(variant, sample_np, point_subset[lo:lo + players.items_per_chunk])
        replaced = embeddings[sample].clone()
        replaced[:, index] = encoder(variant).to(replaced.dtype)
        if model.anchor_model is not None and index == model.anchor_index:  # the anchor reads the prices too
            replaced[:, len(MODALITIES)] = model.anchor_model.encoders[MODALITIES[index]](variant).to(replaced.dtype)
        kept = present[sample].clone()
        kept[:, index] = still_present
        logit, probability = modality_values(replaced, kept)
        logits.append(logit[:, index])
        probabilities.append(probability[:, index])
    logit_values, probability_values = np.concatenate(logits), np.concatenate(probabilities)
    start = 0
    for b in samples:
        design = designs[b]
        rows = slice(start, start + len(design.subsets))
        start += len(design.subsets)
        if players.reference[b] is not None:
            found.items.append(players.reference[b])
            found.logit.append(logit_values[rows][0])
            found.probability.append(probability_values[rows][0])
        found.items.extend(players.items[b])
        found.logit.extend(design.weights.T @ logit_values[rows])
        found.probability.extend(design.weights.T @ probability_values[rows])


def price_players(encoder, inputs, present: Tensor, sources: ItemSources) -> Players | None:
    """Each price reading over the whole window, against the window's calm reference (valid days only)."""
    if "price_days" not in encoder.input_keys:
        return None
    actual = inputs["price_days"]
    batch, _, n_readings = actual.shape
    names = price_channel_names(n_readings)
    valid = inputs["day_valid"].float()
    calm_np = np.zeros((batch, n_readings), np.float32) if sources.price_calm is None else \
        np.nan_to_num(np.asarray(sources.price_calm, dtype=np.float32), nan=0.0)
    if calm_np.shape != (batch, n_readings):
        raise ValueError(f"calm price references of shape {calm_np.shape} for price windows of {n_readings} readings "
                         f"and {batch} samples: the panel's price_calm must come from the same price columns")
    calm = torch.as_tensor(calm_np, device=actual.device, dtype=actual.dtype)
    at_calm = calm[:, None, :] * valid[..., None].to(actual.dtype)  # masked days stay 0, as gathered
    window = actual.float().cpu().numpy()
    valid_np = valid.cpu().numpy() > 0.5
    moves = window[..., names.index("log_return")] if "log_return" in names else None
    keys = [name if name not in names[:c] else f"{name} (column {c})" for c, name in enumerate(names)]  # unique
    present_np = present.cpu().numpy()
    items: list[list[Item]] = [[] for _ in range(batch)]
    reference: list[Item | None] = [None] * batch
    for b in np.flatnonzero(present_np):
        dates = sources.window_dates[b] if sources.window_dates is not None else None
        for c, name in enumerate(names):
            reading = driving_reading(name, window[b, :, c], valid_np[b], float(calm_np[b, c]), dates,
                                      None if moves is None else moves[b])
            items[b].append(Item(int(b), "prices", reading.label, reading.date, reading.value, key=keys[c]))
        reference[b] = Item(int(b), "prices", CALM_ITEM_LABEL, key=CALM_ITEM_KEY)

    def apply(variant: dict, samples: np.ndarray, kept: np.ndarray) -> Tensor:
        keep = torch.as_tensor(kept[:, :n_readings], device=actual.device)[:, None, :]
        variant["price_days"] = torch.where(keep, variant["price_days"],
                                            at_calm[torch.as_tensor(samples, device=actual.device)])
        return torch.ones(len(samples), dtype=torch.bool, device=actual.device)

    return Players(items, reference, apply, VARIANTS_PER_CHUNK["prices"])


def price_channel_names(n_readings: int) -> tuple[str, ...]:
    """The names of the prices input's columns (the panel's PRICE_INPUTS, in order); unnamed extras by position."""
    return tuple(PRICE_INPUTS[c] if c < len(PRICE_INPUTS) else f"price column {c}" for c in range(n_readings))


def headline_players(encoder, inputs, present: Tensor, sources: ItemSources) -> Players | None:
    """Each headline in or out of its day: the day's mean and count recomputed from the headlines kept. A market-wide
    headline (the wire, where the encoder reads one) is an item of the news modality too, in or out of its wire day."""
    headlines = sources.headlines
    channels = [keys for keys in HEADLINE_CHANNELS if keys[0] in encoder.input_keys]
    if headlines is None or len(headlines.sample) == 0 or not channels:
        return None
    text = inputs["text_days"]
    device, batch = text.device, text.shape[0]
    market_wide = headlines.market_wide if headlines.market_wide is not None else np.zeros(len(headlines.sample), bool)
    readable = market_wide.astype(np.int64) < len(channels)  # a wire headline only where the encoder reads the wire
    chosen = np.flatnonzero(present.cpu().numpy()[headlines.sample] & readable)
    channel = torch.as_tensor(market_wide[chosen].astype(np.int64), device=device)
    sample = torch.as_tensor(headlines.sample[chosen], device=device)
    position = torch.as_tensor(headlines.position[chosen], device=device)
    embedding = torch.as_tensor(headlines.embedding[chosen], device=device, dtype=torch.float32)
    # what stays whatever the subset: each channel's headlines that are not items (days the book could not read back)
    bases = []
    for k, (days_key, count_key) in enumerate(channels):
        mine = channel == k
        days, count = inputs[days_key].float(), inputs[count_key].float()
        at = (sample[mine], position[mine])
        base_count = count.clone().index_put_(at, -torch.ones(int(mine.sum()), device=device), accumulate=True)
        base_sum = (days * count[..., None]).index_put_(at, -embedding[mine], accumulate=True)
        base_sum = torch.where(base_count[..., None] > 0.5, base_sum, torch.zeros_like(base_sum))
        bases.append((base_sum, base_count.clamp(min=0.0).round()))
    items: list[list[Item]] = [[] for _ in range(batch)]
    member: list[list[int]] = [[] for _ in range(batch)]  # per sample, its headlines' positions in ``chosen``
    for j, row in enumerate(chosen):
        b = int(headlines.sample[row])
        label = str(headlines.headline[row])
        items[b].append(Item(b, "news", MARKET_WIDE_LABEL.format(headline=label) if market_wide[row] else label,
                             str(headlines.date[row])))
        member[b].append(j)
    # what no subset takes away: headlines of either channel that are no items (not read back)
    unread = (sum(base_count.sum(dim=1) for _, base_count in bases) > 0).cpu().numpy()
    reference = [Item(b, "news", NEWS_REFERENCE_LABEL) if items[b] and unread[b] else None for b in range(batch)]
    width = max((len(m) for m in member), default=0)
    if width == 0:
        return None
    table = torch.as_tensor(np.array([m + [-1] * (width - len(m)) for m in member]), device=device)  # [B, width]

    def apply(variant: dict, samples: np.ndarray, kept: np.ndarray) -> Tensor:
        lines = torch.as_tensor(samples, device=device)
        players = table[lines][:, :kept.shape[1]]
        line, slot = torch.nonzero(torch.as_tensor(kept, device=device) & (players >= 0), as_tuple=True)
        chosen_rows = players[line, slot]
        still_present = torch.zeros(len(samples), dtype=torch.bool, device=device)
        for k, (days_key, count_key) in enumerate(channels):
            mine = channel[chosen_rows] == k
            rows_k, line_k = chosen_rows[mine], line[mine]
            sums, counts = bases[k][0][lines], bases[k][1][lines]  # gathered copies
            sums.index_put_((line_k, position[rows_k]), embedding[rows_k], accumulate=True)
            counts.index_put_((line_k, position[rows_k]), torch.ones(len(line_k), device=device), accumulate=True)
            variant[days_key] = sums.div_(counts.clamp(min=1.0)[..., None]).to(inputs[days_key].dtype)
            variant[count_key] = counts.to(inputs[count_key].dtype)
            still_present |= counts.sum(dim=1) > 0
        return still_present

    return Players(items, reference, apply, VARIANTS_PER_CHUNK["news"], permutations=NEWS_PERMUTATIONS,
                   rebuilds=tuple(key for keys in channels for key in keys))


def call_players(encoder, inputs, present: Tensor, sources: ItemSources) -> Players | None:
    """Each call in the window in or out of its slot: a recording's or a call table's, whichever the encoder reads."""
    families = [keys for keys in CALL_FAMILIES if keys[0] in encoder.input_keys]
    if not families:
        return None
    window = getattr(encoder, "window_days", 1)
    device = present.device
    present_np = present.cpu().numpy()
    batch = len(present_np)
    items: list[list[Item]] = [[] for _ in range(batch)]
    slots: list[list[tuple[int, int]]] = [[] for _ in range(batch)]  # per sample, its players' (family, slot)
    for f, (valid_key, age_key, _) in enumerate(families):
        ages = inputs[age_key].float().cpu().numpy() * window
        dates = (sources.call_dates or {}).get(valid_key)
        kind = "" if len(families) == 1 else (" (recording)" if valid_key == "audio_valid" else " (words and voice)")
        for b, k in zip(*np.nonzero((inputs[valid_key].cpu().numpy() > 0.5) & present_np[:, None])):
            date = _call_date(dates, int(b), int(k))
            label = (f"call of {date}" if date else f"call {ages[b, k]:.0f} trading days ago") + kind
            # a call keeps its key from one day to the next (its date), so it is never both new and gone
            items[b].append(Item(int(b), "calls", label, date, float(round(ages[b, k])),
                                 key=label if date else f"call slot {k}{kind}"))
            slots[b].append((f, int(k)))
    reference: list[Item | None] = [None] * batch  # no call present is no calls: v(no item) = 0
    width = max((len(s) for s in slots), default=0)
    family_of = np.full((batch, max(width, 1)), -1)
    slot_of = np.full((batch, max(width, 1)), -1)
    for b, mine in enumerate(slots):
        for j, (f, k) in enumerate(mine):
            family_of[b, j], slot_of[b, j] = f, k

    def apply(variant: dict, samples: np.ndarray, kept: np.ndarray) -> Tensor:
        dropped = ~kept & (slot_of[samples][:, :kept.shape[1]] >= 0)
        for f, keys in enumerate(families):
            line, player = np.nonzero(dropped & (family_of[samples][:, :kept.shape[1]] == f))
            at = (torch.as_tensor(line, device=device), torch.as_tensor(slot_of[samples][line, player], device=device))
            for key in keys:
                variant[key][at] = 0.0
        return sum(variant[keys[0]].sum(dim=1) for keys in families) > 0

    return Players(items, reference, apply, VARIANTS_PER_CHUNK["calls"])


def _call_date(dates, sample: int, slot: int) -> str:
    if dates is not None and sample < len(dates) and slot < len(dates[sample]) and dates[sample][slot]:
        return str(dates[sample][slot])
    return ""


PLAYERS = {"news": headline_players, "prices": price_players, "calls": call_players}
