"""Per-sentence call tables (raw/calls/date=D/<market>-<event>.sentences.parquet): validated, then read per call.

A table holds one row per sentence: ``sent_idx`` (integer, unique), ``text`` (string, null when the call has
no transcript for it) and the 29 Praat voice-report columns of storm.features.calls.PRAAT_COLUMNS as floats,
NaN where Praat said ``--undefined--``. ``storm import calls`` writes them. Every bound is checked from the
Parquet footer before a column is read; a bad table is quarantined with its file name and the rule it broke,
and the other calls flow. The recordings' reader (storm.ingest.readers) never lists this folder.
"""

from __future__ import annotations

import io
import json
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import ray
from ray.data.expressions import col

from storm.config import FeatureConfig, IngestConfig
from storm.ingest import decode
from storm.ingest.errors import RejectedInput, describe
from storm.ingest.quarantine import quarantine_record
from storm.ingest.readers import TASK_RETRIES, NothingListed, SourceIngest
from storm.schema import N_PRAAT, PRAAT_COLUMNS, QUARANTINE_FIELDS
from storm.store import Layout, ObjectStore
from storm.store.bounded_parquet import TableTooLarge, read_bounded
from storm.store.layout import CALL_TABLE_SUFFIX, check_call_event, check_market, date_of, partition, raw_key_date

SOURCE = "calls"
CALL_COLUMNS = ("sent_idx", "text", *PRAAT_COLUMNS)
MAX_SENTENCES = 20_000  # a 2-hour call is about 1,500 sentences
MAX_SENTENCE_CHARS = 20_000
# the decoded table's bytes, counted before decoding (storm.store.bounded_parquet): a 2-hour call's text is ~0.3 MB,
# while 20k copies of one 50 KB sentence fit a 68 KB file by dictionary encoding and decode to 1 GB
MAX_CALL_TABLE_BYTES = 64 * 2 ** 20
OK_COLUMNS = ("market", "date", "event", "source_path", "content_hash", "texts", "acoustics", "sentences")
_BATCH_ROWS = 16


def decode_call_table(payload: bytes) -> tuple[list[str | None], np.ndarray]:
    """Table bytes -> (text per sentence, None where absent; float32 [n, 29] Praat values, NaN undefined), by sent_idx."""
    try:
        parquet = pq.ParquetFile(io.BytesIO(payload))
    except Exception as err:  # noqa: BLE001 - pyarrow raises several types for a damaged footer
        raise RejectedInput(f"not a readable Parquet file ({describe(err)})") from None
    rows = parquet.metadata.num_rows
    if rows == 0:
        raise RejectedInput("the call table holds no sentences")
    if rows > MAX_SENTENCES:
        raise RejectedInput(f"the call table holds {rows} sentences, over {MAX_SENTENCES}")
    schema = parquet.schema_arrow
    missing = [name for name in CALL_COLUMNS if name not in schema.names]
    if missing:
        raise RejectedInput(f"missing column(s) {missing}; a call table has sent_idx, text and the 29 Praat columns")
    _check_types(schema)
    try:
        table = read_bounded(io.BytesIO(payload), "the call table", list(CALL_COLUMNS), MAX_SENTENCES,
                             MAX_CALL_TABLE_BYTES)
    except TableTooLarge as err:
        raise RejectedInput(str(err)) from None
    except Exception as err:  # noqa: BLE001
        raise RejectedInput(f"corrupt Parquet data ({describe(err)})") from None
    index = table.column("sent_idx").to_numpy(zero_copy_only=False)
    if table.column("sent_idx").null_count or (index < 0).any():
        raise RejectedInput("sent_idx holds a null or negative value")
    if len(np.unique(index)) != len(index):
        raise RejectedInput("sent_idx holds duplicate sentence numbers")
    order = np.argsort(index, kind="stable")
    acoustics = np.stack([table.column(name).to_numpy(zero_copy_only=False).astype(np.float32) for name in PRAAT_COLUMNS],
                         axis=1)[order]
    if np.isinf(acoustics).any():
        column = PRAAT_COLUMNS[int(np.argwhere(np.isinf(acoustics))[0, 1])]
        raise RejectedInput(f"column {column!r} holds an infinite value (undefined is NaN)")
    texts = [table.column("text")[int(i)].as_py() for i in order]
    longest = max((len(t) for t in texts if t), default=0)
    if longest > MAX_SENTENCE_CHARS:
        raise RejectedInput(f"a sentence of {longest} characters (limit {MAX_SENTENCE_CHARS})")
    return [t if t and t.strip() else None for t in texts], acoustics


def _check_types(schema: pa.Schema) -> None:
    if not pa.types.is_integer(schema.field("sent_idx").type):
        raise RejectedInput(f"sent_idx is {schema.field('sent_idx').type}, expected an integer")
    if not (pa.types.is_string(schema.field("text").type) or pa.types.is_large_string(schema.field("text").type)
            or pa.types.is_null(schema.field("text").type)):
        raise RejectedInput(f"text is {schema.field('text').type}, expected a string (null: no transcript)")
    for name in PRAAT_COLUMNS:
        kind = schema.field(name).type
        if not (pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_null(kind)):
            raise RejectedInput(f"column {name!r} is {kind}, expected a float (NaN where Praat said --undefined--)")


def ingest_call_tables(store: ObjectStore, layout: Layout, start: str, end: str, cfg: IngestConfig,
                       features: FeatureConfig | None = None, known: frozenset[str] = frozenset()) -> SourceIngest:
    """One ok row per good call table: OK_COLUMNS, with ``texts`` a JSON list (null: no text), ``acoustics``
    float32 bytes [sentences, 29]; a bad table is one quarantine row. ``known`` is not used: a table is read whole
    to be checked, and reading it is the decoding."""
    for date in (start, end):
        partition(date)
    if start > end:
        raise ValueError(f"date range {start}..{end} is empty: start must not be after end")
    prefix = "" if store.is_local else f"{store.scheme}://"
    sizes, unread = _listing(store, layout.call_tables_dir(), start, end, cfg, prefix)
    if not sizes and not unread:
        return NothingListed(_nothing_read)
    readable = sorted(path for path, size in sizes.items() if size <= cfg.max_file_bytes)
    if readable:
        raw = ray.data.read_binary_files(readable, filesystem=store.arrow_fs, include_paths=True)
        decoded = raw.map_batches(partial(_decode_batch, prefix=prefix), batch_format="numpy",
                                  batch_size=_BATCH_ROWS, max_retries=TASK_RETRIES).materialize()
        ok = decoded.filter(expr=col("reason") == "").select_columns(list(OK_COLUMNS))
        quarantined = decoded.filter(expr=col("reason") != "").select_columns(list(QUARANTINE_FIELDS))
    else:
        nothing = _nothing_read()
        ok, quarantined = nothing.ok, nothing.quarantined
    if unread:
        quarantined = quarantined.union(ray.data.from_arrow(_strings(unread, QUARANTINE_FIELDS)))
    return SourceIngest(ok=ok, quarantined=quarantined)


def _nothing_read() -> SourceIngest:
    return SourceIngest(ok=ray.data.from_arrow(_empty_ok()), quarantined=ray.data.from_arrow(_strings([], QUARANTINE_FIELDS)))


def _listing(store: ObjectStore, base: str, start: str, end: str, cfg: IngestConfig, prefix: str):
    """(path -> size of call tables dated in range, quarantine records of entries never to be read).

    As the other raw readers: only keys <raw>/calls/date=D/<file> are data; a bad key (dated the range's last
    day), a file of another type, an oversize object or (locally) anything but a regular file is quarantined unread.
    """
    store.fs.invalidate_cache(base)
    listing = store.list_objects(base)
    sizes, unread = {}, []
    for path, size in sorted(listing.files.items()):
        date = raw_key_date(base, path)
        if date is not None and not start <= date <= end:
            continue
        reason = _key_problem(path, base, date, size, cfg)
        if reason:
            unread.append(quarantine_record(prefix + path, SOURCE, date or end, _market_hint(path), reason))
        else:
            sizes[path] = size
    for path, kind in sorted(listing.refused.items()):
        date = raw_key_date(base, path)
        if date is None or start <= date <= end:
            unread.append(quarantine_record(prefix + path, SOURCE, date or end, None,
                                            f"{path.rsplit('/', 1)[-1]}: {kind}, not a regular file; it was not read"))
    return sizes, unread


def _key_problem(path: str, base: str, date: str | None, size: int, cfg: IngestConfig) -> str:
    name = path.rsplit("/", 1)[-1]
    if date is None:
        return f"{name}: bad key: call tables are named {base}/date=YYYY-MM-DD/<market>-<event>{CALL_TABLE_SUFFIX}"
    try:
        market_and_event(path)
        decode.check_size(size, cfg)
    except RejectedInput as rejected:
        return f"{name}: {rejected.reason}"
    return ""


def market_and_event(path: str) -> tuple[str, str]:
    """The call's market and event from its file name, or a rejection naming the expected form."""
    name = path.rsplit("/", 1)[-1]
    if not name.endswith(CALL_TABLE_SUFFIX):
        raise RejectedInput(f"unexpected file type: expected a <market>-<event>{CALL_TABLE_SUFFIX} file here")
    market, event = Layout.market_and_event_of_call_table(path)
    try:
        check_market(market)
        check_call_event(event)
    except ValueError as err:
        raise RejectedInput(f"bad call table name ({err}); expected <market>-<event>{CALL_TABLE_SUFFIX}") from None
    return market, event


def _market_hint(path: str) -> str | None:
    try:
        return market_and_event(path)[0]
    except RejectedInput:
        return None


def _decode_batch(batch: dict[str, np.ndarray], prefix: str) -> pa.Table:
    return _strings([_call_row(payload, str(path), prefix) for payload, path in zip(batch["bytes"], batch["path"])],
                    (*QUARANTINE_FIELDS, *OK_COLUMNS))


def _call_row(payload: bytes, path: str, prefix: str) -> dict:
    date = date_of(path.rsplit("/", 1)[0]) or ""
    row = {**quarantine_record(prefix + path, SOURCE, date, _market_hint(path), ""),
           "event": "", "content_hash": decode.content_hash(payload), "texts": "[]", "acoustics": b"", "sentences": 0}
    name = path.rsplit("/", 1)[-1]
    try:
        row["market"], row["event"] = market_and_event(path)
        texts, acoustics = decode_call_table(payload)
        row.update(texts=json.dumps(texts, ensure_ascii=False), acoustics=acoustics.astype(np.float32).tobytes(),
                   sentences=len(texts))
    except RejectedInput as rejected:
        row["reason"] = f"{name}: {rejected.reason}"
    except Exception as err:  # noqa: BLE001 - by contract one item's failure is its quarantine reason
        row["reason"] = f"{name}: decoder failed ({describe(err)})"
    return row


def call_acoustics(acoustics: bytes) -> np.ndarray:
    """The ok row's ``acoustics`` bytes back as float32 [sentences, 29]."""
    return np.frombuffer(acoustics, dtype=np.float32).reshape(-1, N_PRAAT)


_TYPES = {"acoustics": pa.binary(), "sentences": pa.int64()}


def _strings(rows: list[dict], columns) -> pa.Table:
    return pa.table({name: pa.array([row.get(name) for row in rows], type=_TYPES.get(name, pa.string()))
                     for name in dict.fromkeys(columns)})


def _empty_ok() -> pa.Table:
    return _strings([], OK_COLUMNS)
