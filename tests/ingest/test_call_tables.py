"""Per-sentence call tables: a good table decodes with NaN kept as missing; each broken one is a reason, never a crash."""

import io
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from storm.schema import PRAAT_COLUMNS
from storm.importing.calls import call_table
from storm.ingest.calls import decode_call_table, market_and_event
from storm.ingest.errors import RejectedInput


def table_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def good_table(n: int = 3) -> pa.Table:
    praat = [None] * len(PRAAT_COLUMNS)
    return call_table([{"sent_idx": n - 1 - i, "text": f"s{n - 1 - i}" if i else None, "praat": praat} for i in range(n)])


def test_a_good_table_decodes_in_sentence_order_with_undefined_as_nan():
    texts, acoustics = decode_call_table(table_bytes(good_table()))
    assert texts == ["s0", "s1", None] and acoustics.shape == (3, len(PRAAT_COLUMNS)) and np.isnan(acoustics).all()


@pytest.mark.parametrize("broken, reason", [
    (b"not parquet", "not a readable Parquet file"),
    (table_bytes(good_table().drop_columns(["Mean HNR"])), "missing column(s) ['Mean HNR']"),
    (table_bytes(good_table().set_column(0, "sent_idx", pa.array([1, 1, 2]))), "duplicate sentence numbers"),
    (table_bytes(good_table().set_column(2, PRAAT_COLUMNS[0], pa.array([1.0, math.inf, 2.0]))), "infinite value"),
    (table_bytes(good_table().set_column(2, PRAAT_COLUMNS[0], pa.array(["--undefined--"] * 3))), "expected a float"),
    (table_bytes(good_table().slice(0, 0)), "holds no sentences"),
])
def test_a_broken_table_is_rejected_with_its_reason(broken, reason):
    with pytest.raises(RejectedInput, match=reason.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        decode_call_table(broken)


def test_call_table_names_give_market_and_event():
    assert market_and_event("/s/raw/calls/date=2015-02-25/BF_B-20150225_BF-B.sentences.parquet") == ("BF_B", "20150225_BF-B")
    with pytest.raises(RejectedInput, match="unexpected file type"):
        market_and_event("/s/raw/calls/date=2015-02-25/AAA-q4.csv")


def test_a_small_table_whose_repeated_sentence_decodes_to_a_gigabyte_is_rejected_before_it_is_decoded():
    """Issue 38, finding 2: 20k copies of one 50 KB sentence are a 68 KB file by dictionary encoding."""
    rows = 20_000
    table = good_table(1)
    huge = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array(["x" * 50_000]))
    columns = {name: (pa.array(range(rows), pa.int64()) if name == "sent_idx" else huge if name == "text"
                      else pa.array([0.0] * rows)) for name in table.column_names}
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink, store_schema=False)  # read back as plain strings, dictionary-encoded
    payload = sink.getvalue()
    assert len(payload) < 200_000 and pq.ParquetFile(io.BytesIO(payload)).schema_arrow.field("text").type == pa.string()
    pool = pa.default_memory_pool()
    before = pool.max_memory()
    with pytest.raises(RejectedInput, match="decode"):
        decode_call_table(payload)
    assert pool.max_memory() - before < 100 * 2 ** 20  # the 1 GB of text was never materialised
