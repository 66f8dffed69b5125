"""Open a scored call into its sentences, on demand (`storm explain`): the scan stores each call's effect whole and
pays nothing for this.

For one market and date: the window is rebuilt as the scan built it (storm.features.panel, the published model's
window and features), each call-table call of the window is read back from the object store with the ingest's own
bounded decoder, its sentences are embedded in this process with the features' text encoder and settings (name
masking included), and storm.explain.call_parts splits the call's stored effect over its parts, valued by
storm.explain.call_values. The re-read sentences must pool back to the call vector the scan read (within
REPRODUCED); when they do not, that is said, and the parts still add up to the stored effect (the scored vector
stands for the whole call).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from storm.config import FeatureConfig, StormConfig
from storm.explain.call_parts import CallSentences, OpenedCall, pooled_vector, split_call
from storm.explain.call_values import call_item_game
from storm.explain.sources import item_sources
from storm.features.alignment import effective_day_index
from storm.features.panel import WindowEvidence, assemble_panel, ingest_window
from storm.features.text import cpu_has_native_bf16, embed_texts, embedding_dtype, load_text_model, mask_market_name
from storm.features.windows import gather_windows
from storm.ingest.calls import decode_call_table
from storm.ingest.decode import content_hash
from storm.ingest.errors import RejectedInput
from storm.ingest.window import stored_prices
from storm.published.artifacts import PublishedModel
from storm.published.predictor import Predictor, card_model_settings, predictor_from_published
from storm.store import Layout, ObjectStore

REPRODUCED = 1e-5   # largest difference from the scored call vector for the re-read sentences to count as the call
CALLS_OPENED = 3    # the market's call items with the largest effects, opened
RECORDING_SUFFIX = " (recording)"


def open_calls(config: StormConfig, store: ObjectStore, layout: Layout, published: PublishedModel, market: str,
               date: str, call_rows: pd.DataFrame) -> list[OpenedCall]:
    """The stored call items ``call_rows`` (kind "item", modality "calls", of one market, date and horizon) with the
    largest effects, each opened into its parts; recordings without a call table are left out."""
    tables = call_rows[~call_rows["item"].str.endswith(RECORDING_SUFFIX)]
    tables = tables.reindex(tables["contribution_logit"].abs().sort_values(ascending=False).index).head(CALLS_OPENED)
    if tables.empty:
        return []
    predictor = predictor_from_published(published)
    horizons = predictor.horizons
    if "calls" not in predictor.model.encoders or "call_valid" not in predictor.model.encoders["calls"].input_keys:
        return [OpenedCall(row.item_key, row.item, horizons, note="the model reads the call's recording, not its "
                           "sentences: there are no sentences to open") for row in tables.itertuples(index=False)]
    window = _scored_window(config, store, published, date)
    panel, _ = assemble_panel(window, [market])
    rows = panel.rows_on([date])
    if len(rows) != 1:
        raise ValueError(f"{market} has no window on {date} to open its calls in")
    inputs = gather_windows(panel, rows, with_labels=False)
    sources = item_sources(panel, rows)
    slot_dates = sources.call_dates["call_valid"][0]
    embedder = _Embedder(window.config.features)
    opened = []
    for row in tables.itertuples(index=False):
        slots = [k for k, day in enumerate(slot_dates) if day and day == row.item_date]
        if not slots:
            opened.append(OpenedCall(row.item_key, row.item, horizons, note="no call table of this call in the "
                                     "rebuilt window (its table was removed or replaced since the scan)"))
            continue
        slot = slots[0]
        call = int(panel.recent_calls[rows[0], slot])
        opened.append(_open_one(predictor, window, market, panel.call_vector[call], str(panel.date[panel.call_row[call]]),
                                inputs, sources, slot, row, embedder))
    return opened


def _scored_window(config: StormConfig, store: ObjectStore, published: PublishedModel, date: str) -> WindowEvidence:
    """The evidence the scan read for ``date``: the model's own window, features and encoders (as storm.scan does)."""
    card = published.card
    panel_config = config.with_overrides({
        "labels": card["labels"], "model": card_model_settings(card),
        "features": {**card["features"], "render_missing_charts": config.features.render_missing_charts}})
    layout = Layout(store)
    return ingest_window(panel_config, date, date, store=store, prices=stored_prices(store, layout, config.ingest))


def _open_one(predictor: Predictor, window: WindowEvidence, market: str, scored_vector: np.ndarray, evidence_day: str,
              inputs, sources, slot: int, row, embedder: "_Embedder") -> OpenedCall:
    opened = OpenedCall(row.item_key, row.item, predictor.horizons)
    found = _call_table_item(window, market, evidence_day, scored_vector)
    if found is None:
        opened.note = "its call table is no longer among the stored inputs: it cannot be read back"
        return opened
    table = read_call_table(window.store, window.layout.call_table(str(found.date), market, str(found.event)),
                            found.content_hash)
    if isinstance(table, str):
        opened.note = table
        return opened
    texts, acoustics = table
    embeddings, mismatch = embedder.sentences(texts, acoustics, market, scored_vector)
    sentences = CallSentences(texts=texts, acoustics=acoustics, embeddings=embeddings)
    game = call_item_game(predictor, inputs, sources, row.item_key, slot)
    opened.parts = split_call(sentences, game, scored_vector=scored_vector)
    opened.texts, opened.mismatch = texts, mismatch
    if not mismatch <= REPRODUCED:
        opened.note = (f"the re-read sentences pool to a vector {mismatch:.1e} from the one scored (over {REPRODUCED:g}"
                       ": features embedded in bfloat16 round each sentence by the batch it shared, so they reproduce "
                       "only to ~1e-3; features.embed_precision=float32 reproduces them); the scored vector stands for "
                       "the whole call, so the parts still add up to its effect")
    return opened


def read_call_table(store: ObjectStore, path: str, scored_hash: str) -> tuple[list[str | None], np.ndarray] | str:
    """(texts, acoustics) of the call table at ``path``, decoded with the ingest's bounded decoder, or why it cannot
    be read back as it was scored (missing, unreadable, or changed since)."""
    try:
        payload = store.read_bytes(path)
        texts, acoustics = decode_call_table(payload)
    except (RejectedInput, ValueError, OSError) as err:  # ValueError: a local path outside the store's root
        return f"its call table {path} cannot be read back ({err}); its effect stays whole"
    if content_hash(payload) != scored_hash:
        return f"its call table {path} changed since it was scored; its effect stays whole"
    return texts, acoustics


def _call_table_item(window: WindowEvidence, market: str, evidence_day: str, scored_vector: np.ndarray):
    """The ingested call table (its market, date, event, content hash) whose cached vector is the one scored."""
    calls = window.items.get("calls")
    if calls is None or calls.items.empty:
        return None
    mine = calls.items[calls.items["market"] == market]
    calendar = window.calendars.get(market)
    if calendar is None or mine.empty:
        return None
    day = effective_day_index(mine, {market: calendar}).to_numpy()
    mine = mine[(day < len(calendar)) & (calendar[np.minimum(day, len(calendar) - 1)] == evidence_day)]
    vectors = window.caches["calls"].load(mine["date"].astype(str).unique().tolist(), mine["content_hash"])
    for item in mine.itertuples(index=False):
        if item.content_hash in vectors and np.array_equal(vectors[item.content_hash], scored_vector):
            return item
    return None


class _Embedder:
    """The features' text encoder in this process, loaded once, at the precision the features were computed at."""

    def __init__(self, features: FeatureConfig):
        self.features = features
        self.loaded: dict[str, tuple] = {}

    def sentences(self, texts: list[str | None], acoustics: np.ndarray, market: str,
                  scored_vector: np.ndarray) -> tuple[np.ndarray, float]:
        """(embeddings [n, D], 0 rows without text; how far the vector they pool is from the scored one).

        A CPU with bf16 in hardware embedded the features in bf16 (features.embed_precision auto), a GPU or another
        CPU in float32: each is tried until one reproduces the scored vector."""
        best = None
        for dtype in dict.fromkeys([embedding_dtype(self.features.embed_precision, "cpu", cpu_has_native_bf16()),
                                    "float32"]):
            embeddings = self._embed(texts, market, dtype)
            every = np.ones(len(texts), dtype=bool)
            mismatch = float(np.abs(pooled_vector(CallSentences(texts, acoustics, embeddings), every)
                                    - scored_vector).max())
            if best is None or mismatch < best[1]:
                best = (embeddings, mismatch)
            if mismatch <= REPRODUCED:
                break
        return best

    def _embed(self, texts: list[str | None], market: str, dtype: str) -> np.ndarray:
        if dtype not in self.loaded:
            self.loaded[dtype] = load_text_model(self.features, "cpu", dtype)
        model, tokenizer = self.loaded[dtype]
        said = [text for text in texts if text]
        if self.features.mask_market_names:
            said = [mask_market_name(text, market) for text in said]
        vectors = embed_texts(model, tokenizer, said, self.features.max_text_tokens, self.features.embed_batch_size)
        embeddings = np.zeros((len(texts), self.features.text_dim), dtype=np.float32)
        embeddings[[i for i, text in enumerate(texts) if text]] = vectors
        return embeddings
