"""read_prices: market + OHLCV from raw/prices, with errors that name the bad file."""

from __future__ import annotations

import pandas as pd
import pytest

from raw_inputs import write_prices
from storm.ingest import PricesError, read_prices
from storm.ingest.prices import load_prices
from storm.schema import PRICE_COLUMNS
from storm.store import Layout, open_store


@pytest.fixture
def layout(local_storage) -> Layout:
    return Layout(open_store(local_storage))


def test_prices_of_every_market_come_back_with_market_and_ohlcv(layout):
    write_prices(layout, "BBB", ["2024-01-02", "2024-01-03"])
    write_prices(layout, "AAA", ["2024-01-02"])
    prices = read_prices(layout.store, layout)
    assert list(prices.columns) == ["market", *PRICE_COLUMNS]
    assert list(zip(prices["market"], prices["date"])) == [
        ("AAA", "2024-01-02"), ("BBB", "2024-01-02"), ("BBB", "2024-01-03")]
    assert prices["close"].dtype == "float64"
    assert list(read_prices(layout.store, layout, markets=["BBB"])["market"].unique()) == ["BBB"]


def test_no_prices_at_all_is_an_empty_table(layout):
    prices = read_prices(layout.store, layout)
    assert prices.empty and list(prices.columns) == ["market", *PRICE_COLUMNS]


def test_corrupt_prices_parquet_leaves_out_its_market_and_says_why(layout):
    layout.store.write_bytes(layout.prices("AAA"), b"PAR1 this is not parquet")
    write_prices(layout, "BBB", ["2024-01-02"])
    loaded = load_prices(layout.store, layout)
    assert list(loaded.prices["market"].unique()) == ["BBB"]
    assert list(loaded.rejected) == [layout.prices("AAA")]
    assert "raw/prices/AAA.parquet is not readable parquet" in loaded.rejected[layout.prices("AAA")]
    assert list(read_prices(layout.store, layout)["market"].unique()) == ["BBB"]


def test_corrupt_prices_of_a_market_asked_for_by_name_is_an_error_naming_the_file(layout):
    layout.store.write_bytes(layout.prices("AAA"), b"PAR1 this is not parquet")
    with pytest.raises(PricesError, match=r"raw/prices/AAA\.parquet is not readable parquet"):
        read_prices(layout.store, layout, markets=["AAA"])


def test_prices_without_close_column_is_an_error_naming_file_and_columns(layout):
    layout.store.write_table(layout.prices("AAA"), pd.DataFrame({"date": ["2024-01-02"], "open": [1.0]}))
    with pytest.raises(PricesError, match=r"AAA\.parquet lacks columns \['high', 'low', 'close', 'volume'\]"):
        read_prices(layout.store, layout, markets=["AAA"])


def test_asking_for_a_market_without_prices_names_the_expected_file(layout):
    write_prices(layout, "AAA", ["2024-01-02"])
    with pytest.raises(PricesError, match=r"no prices for market 'ZZZ'.*raw/prices/ZZZ\.parquet"):
        read_prices(layout.store, layout, markets=["ZZZ"])


@pytest.mark.parametrize("column, value, why", [
    ("close", float("nan"), "not a finite number"), ("high", float("inf"), "not a finite number"),
    ("volume", float("nan"), "not a finite number"), ("low", 0.0, "not above 0"), ("open", -5.0, "not above 0"),
    ("high", 90.0, "high is below low"), ("volume", -1.0, "volume is negative"),
])
def test_impossible_prices_leave_out_their_market_naming_file_day_and_why(layout, column, value, why):
    dates = ["2024-01-02", "2024-01-03", "2024-01-04"]
    write_prices(layout, "BBB", dates)
    table = layout.store.read_table(layout.prices("BBB")).to_pandas()
    table.loc[1, column] = value
    layout.store.write_table(layout.prices("AAA"), table)
    loaded = load_prices(layout.store, layout)
    assert list(loaded.prices["market"].unique()) == ["BBB"]
    reason = loaded.rejected[layout.prices("AAA")]
    assert "AAA.parquet" in reason and why in reason and "2024-01-03" in reason


def test_a_prices_file_promising_too_many_rows_or_bytes_is_rejected_before_decoding(layout, monkeypatch):
    from storm.ingest import prices as prices_module

    write_prices(layout, "BBB", ["2024-01-02", "2024-01-03"])
    dates = pd.date_range("2000-01-03", periods=3000, freq="D").strftime("%Y-%m-%d").tolist()
    write_prices(layout, "AAA", dates)
    monkeypatch.setattr(prices_module, "MAX_PRICE_ROWS", 1000)
    loaded = load_prices(layout.store, layout)
    assert list(loaded.prices["market"].unique()) == ["BBB"]
    assert "3000 rows, over the limit of 1000" in loaded.rejected[layout.prices("AAA")]

    bomb = layout.store.read_table(layout.prices("BBB")).to_pandas().assign(notes="x" * 1_000_000)
    layout.store.write_table(layout.prices("AAA"), bomb)  # compresses to little, decodes to megabytes
    assert layout.store.read_table(layout.prices("AAA"), columns=PRICE_COLUMNS).column_names == list(PRICE_COLUMNS)
    monkeypatch.setattr(prices_module, "MAX_PRICE_DECODED_BYTES", 10_000)
    assert list(load_prices(layout.store, layout).prices["market"].unique()) == ["AAA", "BBB"]  # notes never read
    layout.store.write_table(layout.prices("AAA"), bomb.drop(columns="notes").assign(date="2024-01-0" + "2" * 100_000))
    assert "decodes to" in load_prices(layout.store, layout).rejected[layout.prices("AAA")]


def test_files_of_different_schemas_are_read_alike_and_a_bad_date_rejects_only_its_file(layout):
    write_prices(layout, "AAA", ["2024-01-02", "2024-01-03"])  # dates as strings
    as_timestamps = layout.store.read_table(layout.prices("AAA")).to_pandas()
    as_timestamps["date"] = pd.to_datetime(as_timestamps["date"])
    layout.store.write_table(layout.prices("BBB"), as_timestamps)
    layout.store.write_table(layout.prices("CCC"), as_timestamps.assign(date=as_timestamps["date"].dt.strftime("%Y/%m/%d")))
    layout.store.write_table(layout.prices("DDD"), as_timestamps.assign(date=["2024-01-02", "not a day"]))
    layout.store.write_table(layout.prices("EEE"), as_timestamps.assign(date=["2024-01-02", None]))
    loaded = load_prices(layout.store, layout)
    assert sorted(loaded.rejected) == [layout.prices("DDD"), layout.prices("EEE")]
    assert "DDD.parquet has a bad date or price value" in loaded.rejected[layout.prices("DDD")]
    assert "a date is missing" in loaded.rejected[layout.prices("EEE")]
    by_market = loaded.prices.groupby("market")["date"].apply(list).to_dict()
    assert by_market == {"AAA": ["2024-01-02", "2024-01-03"], "BBB": ["2024-01-02", "2024-01-03"],
                         "CCC": ["2024-01-02", "2024-01-03"]}


def test_markets_come_back_in_order_with_each_market_sorted_by_date(layout):
    write_prices(layout, "BBB", ["2024-01-04", "2024-01-02", "2024-01-03"])
    write_prices(layout, "AAA", ["2024-01-03", "2024-01-02"])
    prices = read_prices(layout.store, layout)
    assert list(zip(prices["market"], prices["date"])) == [
        ("AAA", "2024-01-02"), ("AAA", "2024-01-03"), ("BBB", "2024-01-02"), ("BBB", "2024-01-03"), ("BBB", "2024-01-04")]


def test_stored_rows_dated_outside_the_range_are_left_out_at_load_and_said_so(layout):
    from storm.ingest.dates import DateRange

    write_prices(layout, "EVIL", ["2024-01-02", "2024-01-03", "9999-12-31"])
    write_prices(layout, "GOOD", ["2024-01-02", "2024-01-03"])
    loaded = load_prices(layout.store, layout, dates=DateRange("1900-01-01", "2024-12-31"))
    assert loaded.prices["date"].max() == "2024-01-03"
    assert list(loaded.prices["market"].unique()) == ["EVIL", "GOOD"] and not loaded.rejected
    [(path, reason)] = loaded.rows_left_out.items()
    assert path == layout.prices("EVIL") and "1 row(s) left out" in reason and "9999-12-31" in reason
    assert read_prices(layout.store, layout)["date"].max() == "2024-01-03"  # the default range: today + 1


def write_dictionary_bomb(layout: Layout, market: str, rows: int = 100_000, chars: int = 10_000,
                          stored_as_dictionary: bool = False) -> None:
    """A ~4 KB prices file of ``rows`` copies of one ``chars``-long date: dictionary pages, a footer saying ~12 KB.

    Written from a dictionary array, so this process never holds the decoded gigabyte; without the Arrow schema
    (``store_schema=False``) a reader sees a plain string column, as in a file pandas wrote.
    """
    import os

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    dates = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, np.int32)), pa.array(["2024-01-02" + "2" * chars]))
    table = pa.table({"date": dates, **{column: pa.array(np.full(rows, 1.0)) for column in PRICE_COLUMNS[1:]}})
    os.makedirs(layout.prices_dir(), exist_ok=True)
    pq.write_table(table, layout.prices(market), compression="zstd", store_schema=stored_as_dictionary)


@pytest.mark.parametrize("stored_as_dictionary", [False, True])
def test_a_dictionary_encoded_string_bomb_is_rejected_by_its_real_decoded_size(layout, stored_as_dictionary):
    import os

    import pyarrow.parquet as pq

    write_dictionary_bomb(layout, "EVIL", rows=20_000, chars=10_000, stored_as_dictionary=stored_as_dictionary)
    write_prices(layout, "GOOD", ["2024-01-02", "2024-01-03"])
    assert os.path.getsize(layout.prices("EVIL")) < 10_000
    assert str(pq.ParquetFile(layout.prices("EVIL")).schema_arrow.field("date").type) == (
        "dictionary<values=string, indices=int32, ordered=0>" if stored_as_dictionary else "string")
    loaded = load_prices(layout.store, layout)
    assert list(loaded.prices["market"].unique()) == ["GOOD"]
    reason = loaded.rejected[layout.prices("EVIL")]
    decoded = int(reason.split("decodes to ", 1)[1].split(" bytes", 1)[0])
    assert decoded >= 20_000 * 10_010 and "strings counted as they would be decoded" in reason


def test_loading_a_dictionary_bomb_stays_within_a_bounded_peak_memory(layout, tmp_path):
    """In a child process: the 100k x 10 KB bomb of the issue (1 GB decoded) must not raise the peak by 200 MiB."""
    import os
    import subprocess
    import sys

    write_dictionary_bomb(layout, "EVIL")
    script = tmp_path / "load.py"
    script.write_text(
        "import resource, sys\n"
        "from storm.config import StorageConfig\n"
        "from storm.store import Layout, open_store\n"
        "from storm.ingest.prices import load_prices\n"
        "store = open_store(StorageConfig(root=sys.argv[1]))\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "loaded = load_prices(store, Layout(store))\n"
        "print(len(loaded.rejected), (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n")
    result = subprocess.run([sys.executable, str(script), layout.store.root], capture_output=True, text=True,
                            timeout=300)
    rejected, grown_mib = (int(part) for part in result.stdout.split())
    assert rejected == 1 and grown_mib < 200, result.stdout + result.stderr
