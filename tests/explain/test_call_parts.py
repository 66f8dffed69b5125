"""A call opened into its sentences, words, voice and voice feature groups: parts that add up to the call's value."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from storm.config import StorageConfig
from storm.explain.attribution import ItemSources, explain_windows
from storm.explain.call_parts import (VOICE_GROUPS, CallSentences, OpenedCall, group_columns, pooled_vector,
                                      split_call)
from storm.explain.call_values import call_item_game
from storm.explain.open_calls import read_call_table
from storm.explain.report import breakdown_lines, opened_call_lines
from storm.features.calls import call_vector, call_vector_dim, text_slice
from storm.ingest.decode import content_hash
from storm.model import build_model
from storm.published.calibration import Calibration
from storm.published.predictor import Predictor
from storm.schema import N_PRAAT, PRAAT_COLUMNS
from storm.store import Layout, open_store

sys.path.insert(0, str(Path(__file__).parents[1] / "model"))
from model_batches import HORIZONS as MODEL_HORIZONS, make_batch, small_configs  # noqa: E402

TEXT_DIM = 8
HORIZONS = [5, 20]
CALIBRATION = Calibration(method="hazard", horizons=MODEL_HORIZONS, threshold={h: 0.5 for h in MODEL_HORIZONS},
                          false_alarm_rate=0.05, slope=0.8, intercept={5: -0.3, 10: -0.1, 20: 0.2})


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def a_call(n: int, seed: int = 0, silent: int = 0) -> CallSentences:
    """n sentences of plausible Praat values (some undefined), the last ``silent`` of them without a transcript."""
    rng = np.random.default_rng(seed)
    acoustics = np.exp(rng.normal(size=(n, N_PRAAT))).astype(np.float32) * 10
    acoustics[rng.random(size=(n, N_PRAAT)) < 0.1] = np.nan
    texts = [f"sentence {i}" if i < n - silent else None for i in range(n)]
    embeddings = unit(rng.normal(size=(n, TEXT_DIM)))
    embeddings[n - silent:] = 0.0
    return CallSentences(texts=texts, acoustics=acoustics, embeddings=embeddings)


def random_game(seed: int = 1):
    """A nonlinear value of the call vector, two columns per horizon (as logit and probability are)."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(call_vector_dim(TEXT_DIM), 16)) / 4
    out = rng.normal(size=(16, 2 * len(HORIZONS)))

    def game(vectors: np.ndarray) -> np.ndarray:
        return np.tanh(vectors.astype(np.float64) @ weights) @ out

    return game


@pytest.mark.parametrize("n", [1, 5, 40])
def test_the_parts_add_up_to_the_calls_value_whatever_the_game(n):
    call = a_call(n, seed=n, silent=min(2, n - 1))
    parts = split_call(call, random_game())
    assert np.allclose(parts.value, random_game()(pooled_vector(call, np.ones(n, bool))[None])[0])
    assert np.abs(parts.reference + parts.sentences.sum(axis=0) - parts.value).max() < 1e-5
    assert np.abs(parts.reference + parts.words + parts.voice - parts.value).max() < 1e-5
    assert np.abs(parts.voice_groups.sum(axis=0) - parts.voice).max() < 1e-5
    assert parts.sentences_exact == (n <= 7) and parts.voice_groups.shape == (len(VOICE_GROUPS), 2 * len(HORIZONS))


def test_the_whole_call_pooled_from_every_sentence_is_the_features_call_vector():
    call = a_call(12, silent=3)
    expected = call_vector(call.acoustics, call.embeddings[call.has_text], int(call.has_text.sum()), TEXT_DIM)
    assert np.array_equal(pooled_vector(call, np.ones(12, bool)), expected)
    nothing = pooled_vector(call, np.zeros(12, bool))  # no sentence read: no words, every voice feature undefined
    assert np.array_equal(nothing, pooled_vector(call, np.ones(12, bool), words=False,
                                                 voice_columns=np.zeros(N_PRAAT, bool)))
    assert nothing[-1] == expected[-1]  # the call keeps its length


def test_a_scored_vector_stands_for_the_whole_call_so_the_parts_add_up_to_the_stored_value():
    call, game = a_call(20), random_game()
    scored = pooled_vector(call, np.ones(20, bool)) + 1e-3  # as if the features' encoder differed a little
    parts = split_call(call, game, scored_vector=scored)
    assert np.allclose(parts.value, game(scored[None])[0])
    assert np.abs(parts.reference + parts.sentences.sum(axis=0) - parts.value).max() < 1e-5


def test_a_planted_alarming_sentence_far_from_the_rest_ranks_first():
    n, rng = 60, np.random.default_rng(3)
    call = a_call(n)
    calm = np.zeros(TEXT_DIM, np.float32)
    calm[0] = 1.0
    embeddings = unit(calm + 0.05 * rng.normal(size=(n, TEXT_DIM)))
    alarm = 37
    embeddings[alarm] = unit(np.eye(TEXT_DIM, dtype=np.float32)[1:2])[0]  # orthogonal to every other sentence
    call = CallSentences(call.texts, call.acoustics, embeddings)
    words = text_slice(TEXT_DIM)

    def game(vectors):  # the model alarms on words away from the call's usual direction
        text = vectors[:, words].astype(np.float64)
        return np.stack([np.tanh(4 * text[:, 1]) + 0.1 * text[:, 0]] * 2, axis=1)

    parts = split_call(call, game)
    assert int(np.argmax(parts.sentences[:, 0])) == alarm
    assert parts.sentences[alarm, 0] > 2 * np.abs(np.delete(parts.sentences[:, 0], alarm)).max()


def test_words_and_voice_are_exact_two_player_shapley_values():
    call = a_call(15)
    words, voice = text_slice(TEXT_DIM), slice(0, 3 * N_PRAAT)
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=TEXT_DIM), rng.normal(size=3 * N_PRAAT)

    def game(vectors):  # words times voice: all of the interaction is shared half and half
        v = vectors.astype(np.float64)
        return ((v[:, words] @ a + 1.0) * (v[:, voice] @ b + 2.0))[:, None]

    parts = split_call(call, game)
    every = np.ones(15, bool)
    none = np.zeros(N_PRAAT, bool)
    v = {key: game(vector[None])[0, 0] for key, vector in {
        "both": pooled_vector(call, every), "words": pooled_vector(call, every, voice_columns=none),
        "voice": pooled_vector(call, every, words=False), "none": pooled_vector(call, every, False, none)}.items()}
    assert parts.words[0] == pytest.approx(0.5 * (v["words"] - v["none"]) + 0.5 * (v["both"] - v["voice"]), abs=1e-9)
    assert parts.voice[0] == pytest.approx(0.5 * (v["voice"] - v["none"]) + 0.5 * (v["both"] - v["words"]), abs=1e-9)


def test_a_voice_group_that_alone_moves_the_score_carries_the_voice():
    call = a_call(10)
    jitter = [PRAAT_COLUMNS.index(c) for c in dict(VOICE_GROUPS)["jitter"]]
    assert group_columns()[[name for name, _ in VOICE_GROUPS].index("jitter"), jitter].all()

    def game(vectors):  # reads the jitter means (standardised) and the words, nothing else
        v = vectors.astype(np.float64)
        return (np.exp(v[:, jitter].sum(axis=1) / 5) + v[:, text_slice(TEXT_DIM)].sum(axis=1))[:, None]

    parts = split_call(call, game)
    groups = dict(zip((name for name, _ in VOICE_GROUPS), parts.voice_groups[:, 0]))
    assert groups["jitter"] == pytest.approx(parts.voice[0], abs=1e-9)
    assert all(abs(value) < 1e-12 for name, value in groups.items() if name != "jitter")


def test_the_opened_call_prints_under_its_item_its_top_sentences_voice_groups_and_that_the_parts_add_up():
    call = a_call(30)
    texts = [f"We see demand falling in quarter {i}" for i in range(30)]
    texts[4] = "Covenant breach \x1b[31mlikely"
    call = CallSentences(texts, call.acoustics, call.embeddings)
    parts = split_call(call, random_game())
    opened = OpenedCall("call of 2024-03-01", "call of 2024-03-01", HORIZONS, parts, texts, mismatch=2e-7)
    lines = opened_call_lines(opened, 20)
    top = int(np.argmax(np.abs(parts.sentences[:, 1])))
    assert f"sentence {top + 1}: \"{texts[top]}\"" in lines[1]
    assert "30 sentences" in lines[0] and "16 sampled orders" in lines[0]
    assert any(line.strip().startswith("voice by feature group") for line in lines)
    assert f"add up to the call's effect {parts.value[1]:+.4f}" in "\n".join(lines)
    assert "within 2.0e-07" in lines[-1]
    rows = pd.DataFrame([
        {"kind": "modality", "modality": m, "market": "ACME", "date": "2024-03-04", "horizon": 20, "rank": 1,
         "item": "", "item_key": "", "item_date": "", "contribution_logit": 0.1, "contribution": 0.01,
         "score": 0.3, "score_logit": -0.8, "baseline": 0.27, "baseline_logit": -1.0} for m in ("news", "prices", "calls")]
        + [{"kind": "item", "modality": "calls", "market": "ACME", "date": "2024-03-04", "horizon": 20, "rank": 1,
            "item": "call of 2024-03-01", "item_key": "call of 2024-03-01", "item_date": "2024-03-04",
            "contribution_logit": 0.1, "contribution": 0.01, "score": 0.3, "score_logit": -0.8, "baseline": 0.27,
            "baseline_logit": -1.0}])
    printed = breakdown_lines(rows, opened={"call of 2024-03-01": lines})
    at = printed.index(next(line for line in printed if line.endswith("call of 2024-03-01")))
    assert printed[at + 1:at + 1 + len(lines)] == lines


def test_a_call_whose_table_cannot_be_read_back_says_so(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    store = open_store(StorageConfig(root=str(tmp_path / "store")))
    layout = Layout(store)
    path = layout.call_table("2024-03-01", "ACME", "q1")
    table = pa.table({"sent_idx": [0, 1], "text": ["Revenue fell.", None],
                      **{name: [1.0, float("nan")] for name in PRAAT_COLUMNS}})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    store.write_bytes(path, sink.getvalue())
    texts, acoustics = read_call_table(store, path, content_hash(sink.getvalue()))
    assert texts == ["Revenue fell.", None] and acoustics.shape == (2, N_PRAAT)
    assert "changed since it was scored" in read_call_table(store, path, "0" * 64)
    store.write_bytes(path, b"PAR1 not a table")
    said = read_call_table(store, path, content_hash(b"PAR1 not a table"))
    assert isinstance(said, str) and "cannot be read back" in said and "not a readable Parquet file" in said
    store.delete([path])
    missing = read_call_table(store, path, "0" * 64)
    assert isinstance(missing, str) and "cannot be read back" in missing and path in missing
    opened = OpenedCall("call of 2024-03-01", "call of 2024-03-01", HORIZONS, note=missing)
    assert opened_call_lines(opened, 5) == [f"      not opened: {missing}"]


def test_the_call_game_values_the_scored_vector_as_the_explanation_values_the_call_and_others_as_if_scored():
    torch.manual_seed(4)
    model_config, features = small_configs(fusion="gated", calls_encoder="call_sentences")
    model = build_model(model_config, features, MODEL_HORIZONS).eval()
    batch = make_batch(features, [[1.0, 1.0, 1.0]], seed=9)
    batch["call_valid"] = torch.ones(1, features.max_conferences)  # two calls in the window
    batch["call_age"] = torch.tensor([[0.2, 0.7]])
    generator = torch.Generator().manual_seed(3)
    batch["call_features"] = torch.randn(1, features.max_conferences, call_vector_dim(features.text_dim),
                                         generator=generator)
    window = {key: value.numpy() for key, value in batch.items()}
    sources = ItemSources(call_dates={"call_valid": [["2024-03-01", "2024-02-01"]]})
    predictor = Predictor(model, CALIBRATION, card={}, device=torch.device("cpu"))
    game = call_item_game(predictor, window, sources, "call of 2024-02-01", slot=1)
    other = np.random.default_rng(0).normal(size=call_vector_dim(features.text_dim)).astype(np.float32)
    values = game(np.stack([batch["call_features"][0, 1].numpy(), other]))
    for row, vector in enumerate((batch["call_features"][0, 1], torch.as_tensor(other))):
        variant = {key: value.clone() for key, value in batch.items()}
        variant["call_features"][0, 1] = vector
        explanation = explain_windows(model, CALIBRATION, variant, sources)
        call = next(i for i, item in enumerate(explanation.items) if item.key == "call of 2024-02-01")
        assert np.abs(values[row, :3] - explanation.item_logit[call]).max() < 1e-5
        assert np.abs(values[row, 3:] - explanation.item[call]).max() < 1e-5
    assert np.abs(values[0] - values[1]).max() > 1e-4  # another vector, another value
