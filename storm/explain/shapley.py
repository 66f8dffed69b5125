"""Exact Shapley values over the three modalities from the model's value on each of the 8 coalitions (pure numpy).

A coalition is the set of modalities the fusion is allowed to see; the others are masked exactly as a
missing modality is (StormModel.fuse ignores them). The value of the empty coalition is the baseline:
the score the model gives with every modality masked (its learned "nothing present" input), the same
for every market and day. Shapley values add up exactly: sum over modalities = v(all) - v(empty).
A modality absent from a sample never changes any coalition's value, so its Shapley value is exactly 0.
"""

from __future__ import annotations

from math import factorial

import numpy as np

from storm.schema import MODALITIES

N_PLAYERS = len(MODALITIES)
# coalition k holds modality i when bit i of k is set: k = 0 is the empty coalition, k = 7 all three
COALITIONS = np.array([[bool(k >> i & 1) for i in range(N_PLAYERS)] for k in range(2 ** N_PLAYERS)])
FULL = 2 ** N_PLAYERS - 1
EMPTY = 0


def _weight(size: int, players: int = N_PLAYERS) -> float:
    """|S|! (n - |S| - 1)! / n!: the weight of adding a player to a coalition of `size` others."""
    return factorial(size) * factorial(players - size - 1) / factorial(players)


def shapley_matrix(players: int = N_PLAYERS) -> np.ndarray:
    """[2^n, n]: phi = values @ matrix, for values indexed by coalition (bit i of the index: player i is in)."""
    matrix = np.zeros((2 ** players, players))
    for player in range(players):
        for coalition in range(2 ** players):
            if coalition >> player & 1:
                continue
            weight = _weight(bin(coalition).count("1"), players)
            matrix[coalition | 1 << player, player] += weight
            matrix[coalition, player] -= weight
    return matrix


def coalitions(players: int) -> np.ndarray:
    """[2^n, n] bool: coalition k holds player i when bit i of k is set."""
    return np.array([[bool(k >> i & 1) for i in range(players)] for k in range(2 ** players)], dtype=bool)


SHAPLEY_MATRIX = shapley_matrix()


def shapley_values(values: np.ndarray) -> np.ndarray:
    """values [..., 8, k] (coalition axis second to last) -> Shapley values [..., 3, k], in float64.

    sum over the modality axis equals values[..., FULL, :] - values[..., EMPTY, :] up to float64 rounding.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.shape[-2] != 2 ** N_PLAYERS:
        raise ValueError(f"expected {2 ** N_PLAYERS} coalition values on axis -2, got shape {values.shape}")
    return np.einsum("...ck,cp->...pk", values, SHAPLEY_MATRIX)


def coalition_masks(present: np.ndarray) -> np.ndarray:
    """present [B, 3] bool -> [B, 8, 3]: each coalition intersected with what the sample really has."""
    present = np.asarray(present, dtype=bool)
    return present[:, None, :] & COALITIONS[None, :, :]
