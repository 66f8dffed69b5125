"""A call's effect opened into its parts: its sentences, its words against its voice, its voice feature groups
(pure numpy).

The call item's value (its Shapley value within the calls modality, storm.explain.items) is a function of the
call vector the model reads, and that vector pools the call's sentences (storm.features.calls.call_vector). Each
game below re-pools the vector from part of the call, everything else as scored:

- sentences: v(S) = the call's value when its vector is pooled from the sentences in S only (their words and
  voice), at the call's full length (the sentence-count slot is the call's, not the subset's: a call is as long as
  it was). Antithetic permutation sampling (storm.explain.item_shapley: exact over every subset up to 7 sentences),
  whose values telescope, so the sentences add up exactly to v(all) - v(none).
- words and voice: two players, exact: v(words, voice) with the voice read as undefined or the text left out.
- voice feature groups (pitch, intensity, jitter, shimmer, voice quality, length): exact Shapley over the 6 groups
  of the game that shares out the voice's own Shapley value, w(G) = 1/2 [v(voice G) - v(none)] + 1/2 [v(words and
  voice G) - v(words)]: the groups add up exactly to the voice's part.

v(none) is the call with nothing said read (no words, every voice feature undefined, its length kept): what the model
reads from the call having taken place. It is the parts' reference term, so reference + sentences = reference +
words + voice = the call's value, within float rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from storm.explain.item_shapley import SEED, item_design
from storm.features.calls import call_vector
from storm.schema import N_PRAAT, PRAAT_COLUMNS

SENTENCE_PERMUTATIONS = 8  # sampled orders of the sentences, each with its reverse (16 orders)
VOICE_GROUPS = (
    ("pitch", ("Mean pitch", "Standard deviation", "Minimum pitch", "Maximum pitch", "Mean period",
               "Standard deviation of period")),
    ("intensity", ("Mean intensity", "Minimum intensity", "Maximum intensity")),
    ("jitter", ("Jitter local", "Jitter local absolute", "Jitter rap", "Jitter ppq5", "Jitter ddp")),
    ("shimmer", ("Shimmer local", "Shimmer local dB", "Shimmer apq3", "Shimmer apq5", "Shimmer apq11", "Shimmer dda")),
    ("voice quality", ("Fraction of unvoiced", "Number of voice breaks", "Degree of voice breaks",
                       "Mean autocorrelation", "Mean NHR", "Mean HNR")),
    ("length", ("Number of pulses", "Number of periods", "Audio Length")),
)
assert sorted(c for _, columns in VOICE_GROUPS for c in columns) == sorted(PRAAT_COLUMNS), "every Praat column, once"

# call vectors [m, call_vector_dim] -> the call item's value [m, k] (any k columns: logit and probability per horizon)
CallGame = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class CallSentences:
    """One call as its table holds it, with the text embeddings its features pooled."""

    texts: list[str | None]   # per sentence, None where the transcript has none
    acoustics: np.ndarray     # float32 [n, 29] raw Praat values, NaN undefined
    embeddings: np.ndarray    # float32 [n, D]: unit embeddings of the sentences with text (rows of the others unused)

    def __post_init__(self) -> None:
        if not (len(self.texts) == len(self.acoustics) == len(self.embeddings)):
            raise ValueError(f"{len(self.texts)} sentences, {len(self.acoustics)} voice rows and "
                             f"{len(self.embeddings)} embeddings: one of each per sentence")

    @property
    def has_text(self) -> np.ndarray:
        return np.array([bool(text) for text in self.texts], dtype=bool)


@dataclass
class CallParts:
    """The call's value and its parts; every array's last axis is the game's k columns."""

    value: np.ndarray          # [k]: v(the call as scored)
    reference: np.ndarray      # [k]: v(nothing said read): the call having taken place
    sentences: np.ndarray      # [n, k]: Shapley values of the sentences; reference + their sum = value
    words: np.ndarray          # [k]
    voice: np.ndarray          # [k]; reference + words + voice = value
    voice_groups: np.ndarray   # [len(VOICE_GROUPS), k]; their sum = voice
    sentences_exact: bool      # every subset evaluated (few sentences) rather than sampled orders
    orders: int                # sampled orders of the sentences (with their reverses), 0 when exact


@dataclass
class OpenedCall:
    """One call item of the stored explanation, opened or with why it could not be."""

    item_key: str
    label: str
    horizons: list[int]
    parts: CallParts | None = None
    texts: list[str | None] | None = None
    mismatch: float = float("nan")  # largest difference of the re-pooled vector from the scored one
    note: str = ""                  # why it was not opened, or what to know about the parts


def pooled_vector(sentences: CallSentences, kept: np.ndarray, words: bool = True,
                  voice_columns: np.ndarray | None = None) -> np.ndarray:
    """The call vector pooled from the sentences ``kept`` only, at the whole call's length: their words (unless
    ``words`` is false) and their voice features in ``voice_columns`` (bool [29], default all; the others undefined)."""
    kept = np.asarray(kept, dtype=bool)
    acoustics = np.array(sentences.acoustics[kept], dtype=np.float32)
    if voice_columns is not None:
        acoustics[:, ~np.asarray(voice_columns, dtype=bool)] = np.nan
    texted = kept & sentences.has_text if words else np.zeros_like(kept)
    text_dim = sentences.embeddings.shape[1]
    vector = call_vector(acoustics, sentences.embeddings[texted], int(texted.sum()), text_dim)
    vector[-1] = np.float32(np.log1p(len(sentences.texts)) / 5.0)  # the call's own length, whatever is kept
    return vector


def group_columns() -> np.ndarray:
    """bool [len(VOICE_GROUPS), 29]: the Praat columns of each voice group."""
    return np.array([[column in columns for column in PRAAT_COLUMNS] for _, columns in VOICE_GROUPS], dtype=bool)


def split_call(sentences: CallSentences, game: CallGame, scored_vector: np.ndarray | None = None,
               permutations: int = SENTENCE_PERMUTATIONS, seed: int = SEED) -> CallParts:
    """The call's parts under the games of this module's docstring, from one batched evaluation of ``game``.

    ``scored_vector``: the call vector as the scan read it (the feature cache's), used for the whole call so the
    parts add up to the value the scan stored; default the vector pooled here from every sentence.
    """
    n = len(sentences.texts)
    if n == 0:
        raise ValueError("a call of no sentences has no parts")
    every = np.ones(n, dtype=bool)
    whole = pooled_vector(sentences, every) if scored_vector is None else np.asarray(scored_vector, np.float32)
    design = item_design(n, permutations=permutations, seed=seed)
    sentence_vectors = [whole if subset.all() else pooled_vector(sentences, subset) for subset in design.subsets]
    nothing = pooled_vector(sentences, every, words=False, voice_columns=np.zeros(N_PRAAT, bool))
    words_only = pooled_vector(sentences, every, voice_columns=np.zeros(N_PRAAT, bool))
    voice_only = pooled_vector(sentences, every, words=False)
    groups = group_columns()
    group_design = item_design(len(groups))  # exact: 2^6 subsets of the groups
    group_masks = group_design.subsets.astype(np.float64) @ groups.astype(np.float64) > 0.5  # [64, 29]
    voice_g = [pooled_vector(sentences, every, words=False, voice_columns=mask) for mask in group_masks]
    both_g = [whole if mask.all() else pooled_vector(sentences, every, voice_columns=mask) for mask in group_masks]
    vectors = np.stack([*sentence_vectors, nothing, words_only, voice_only, whole, *voice_g, *both_g])
    values = np.asarray(game(vectors), dtype=np.float64)
    values = values.reshape(len(vectors), -1)
    at = len(sentence_vectors)
    sentence_values = values[:at]
    v_none, v_words, v_voice, v_both = values[at:at + 4]
    g = len(group_masks)
    value_voice_g, value_both_g = values[at + 4:at + 4 + g], values[at + 4 + g:]
    shared_voice = 0.5 * (value_voice_g - v_none) + 0.5 * (value_both_g - v_words)  # w(G), w(no group) = 0
    return CallParts(
        value=v_both, reference=v_none,
        sentences=design.weights.T @ sentence_values,  # row 0, no sentence, is the call with nothing said read
        words=0.5 * (v_words - v_none) + 0.5 * (v_both - v_voice),
        voice=0.5 * (v_voice - v_none) + 0.5 * (v_both - v_words),
        voice_groups=group_design.weights.T @ shared_voice,
        sentences_exact=design.exact, orders=0 if design.exact else 2 * permutations)

