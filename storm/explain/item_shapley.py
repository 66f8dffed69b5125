"""Shapley values of the items inside one modality: which subsets of items to evaluate, and how their values add up
(pure numpy).

The game of a modality's items: v(T) is the modality's Shapley value (storm.explain.shapley) when the modality reads
the items in T as they are and every other item at its reference (a price reading at the market's calm value, a
headline or a call taken out). Its Shapley values add up to v(all) - v(none) exactly (efficiency), so the items and
the reference term v(none) add up to the modality's contribution. Up to EXACT_ITEMS items every subset is evaluated
(exact Shapley); beyond, PERMUTATIONS random orders and their reverses (antithetic sampling): each order's marginal
contributions telescope to v(all) - v(none), so the sum stays exact and each item's value is an unbiased estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from storm.explain.shapley import coalitions, shapley_matrix

EXACT_ITEMS = 7      # 2^7 = 128 subsets: the seven price readings exactly
PERMUTATIONS = 4     # sampled orders (each with its reverse) when a modality has more items than EXACT_ITEMS
SEED = 20240611      # fixed: a rerun of a date explains it with the same orders


@dataclass(frozen=True)
class ItemDesign:
    """The subsets to evaluate and the map from their values to item values.

    subsets: bool [P, n], row 0 the empty subset (every item at its reference), row 1 the full one (as scored).
    weights: [P, n]: item values = values @ weights, for values [P] (or [P, k]) in the subsets' order.
    """

    subsets: np.ndarray
    weights: np.ndarray
    exact: bool


def item_design(n_items: int, exact_items: int = EXACT_ITEMS, permutations: int = PERMUTATIONS,
                seed: int = SEED) -> ItemDesign:
    """Exact Shapley over every subset for up to ``exact_items`` items, else antithetic permutation sampling."""
    if n_items <= exact_items:
        return _exact_design(n_items)
    return _sampled_design(n_items, permutations, seed)


@lru_cache(maxsize=16)
def _exact_design(n_items: int) -> ItemDesign:
    subsets = coalitions(n_items)  # row k holds item i when bit i of k is set: row 0 empty, last row full
    weights = shapley_matrix(n_items)
    order = np.r_[0, len(subsets) - 1, np.arange(1, len(subsets) - 1)]
    return ItemDesign(subsets=subsets[order], weights=weights[order], exact=True)


@lru_cache(maxsize=256)
def _sampled_design(n_items: int, permutations: int, seed: int) -> ItemDesign:
    rng = np.random.default_rng([seed, n_items])
    orders = [rng.permutation(n_items) for _ in range(permutations)]
    orders += [order[::-1] for order in orders]
    rows = {(): 0, tuple(range(n_items)): 1}  # a subset (sorted item tuple) -> its row
    weights: dict[tuple[int, int], float] = {}
    share = 1.0 / len(orders)
    for order in orders:
        before = rows[()]
        for step in range(n_items):
            prefix = tuple(sorted(order[:step + 1].tolist()))
            after = rows.setdefault(prefix, len(rows))
            item = int(order[step])
            weights[after, item] = weights.get((after, item), 0.0) + share
            weights[before, item] = weights.get((before, item), 0.0) - share
            before = after
    subsets = np.zeros((len(rows), n_items), dtype=bool)
    for subset, row in rows.items():
        subsets[row, list(subset)] = True
    matrix = np.zeros((len(rows), n_items))
    for (row, item), weight in weights.items():
        matrix[row, item] = weight
    return ItemDesign(subsets=subsets, weights=matrix, exact=False)
