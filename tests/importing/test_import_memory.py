"""Issue 38, finding 6: an import's memory follows the limits, never the file's shape (real files, real processes).

Peaks are read from a fresh interpreter (ru_maxrss) that has already imported storm's importers and run a tiny
import, so what is measured is what the hostile file adds.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from storm.importing.rows import CHUNK_BYTES, MAX_FIELDS, iter_chunks

GOOD = "2020-01-02T15:00:00Z,Fed holds rates\n"
PRELUDE = """
import json, resource, sys
from pathlib import Path
from storm.config import StorageConfig
from storm.importing.news import NewsColumns, NewsImport, import_news
from storm.store import Layout, open_store
store = open_store(StorageConfig(root=sys.argv[1]))
spec = NewsImport(name="feed", columns=NewsColumns(time="date", text="headline", market_name="SPX"))
warm = Path(sys.argv[1]) / "warm.csv"
warm.write_text("date,headline\\n" + "".join(f"2020-01-0{d}T15:00:00Z,item {d}\\n" for d in range(2, 6)))
import_news([warm], spec, store, Layout(store))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
report = import_news([Path(sys.argv[2])], spec, store, Layout(store))
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(json.dumps({"grown_mib": grown, "manifest": report.manifest()}))
"""


def import_peak(feed: Path, store: Path) -> tuple[float, dict]:
    """(MiB the import of ``feed`` added to its process's peak RSS, its manifest)."""
    store.mkdir(exist_ok=True)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(PRELUDE), str(store), str(feed)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return answer["grown_mib"], answer["manifest"]


def test_a_200_mb_line_is_rejected_without_ever_being_held(tmp_path):
    feed = tmp_path / "feed.csv.gz"
    with gzip.open(feed, "wt", compresslevel=1) as out:
        out.write("date,headline\n" + GOOD + "2020-01-02T15:00:00Z,")
        for _ in range(200):
            out.write("x" * 2 ** 20)
        out.write("\n" + GOOD.replace("Fed", "ECB"))
    grown, manifest = import_peak(feed, tmp_path / "store")
    assert grown < 48, f"a 200 MB line raised the peak by {grown:.0f} MiB"  # it was read whole: ~450 MiB
    assert manifest["counts"]["items_written"] == 2
    assert list(manifest["rejected_by_reason"]) == ["a row of more than 4,194,304 bytes"]


def test_a_row_of_more_fields_than_the_cap_is_rejected_before_it_is_parsed(tmp_path):
    feed = tmp_path / "feed.csv.gz"
    with gzip.open(feed, "wt") as out:  # 1.3 M fields in a 3.9 MB line: under the line limit, over the field cap
        out.write("date,headline\n" + GOOD + "ab," * 1_300_000 + "\n" + GOOD.replace("Fed", "ECB"))
    grown, manifest = import_peak(feed, tmp_path / "store")
    assert grown < 48, f"a row of 1.3 M fields raised the peak by {grown:.0f} MiB"
    assert manifest["counts"]["items_written"] == 2
    assert list(manifest["rejected_by_reason"]) == [f"a row of more than {MAX_FIELDS:,} fields"]


def test_a_header_of_more_fields_than_the_cap_is_no_table(tmp_path):
    feed = tmp_path / "feed.csv"
    feed.write_text("date,headline" + ",x" * MAX_FIELDS + "\n" + GOOD)
    try:
        list(iter_chunks(feed, ["date", "headline"]))
    except ValueError as refused:
        assert "first line is no header" in str(refused) and "field-count limit" in str(refused)
    else:
        raise AssertionError("a header of more fields than the cap was read")


def test_a_chunk_is_handed_on_at_its_byte_budget_whatever_its_row_count(tmp_path):
    feed = tmp_path / "feed.csv.gz"
    with gzip.open(feed, "wt", compresslevel=1) as out:  # 300 rows of 500 KB: 150 MB, far fewer rows than a chunk
        out.write("date,headline\n")
        for _ in range(300):
            out.write("2020-01-02T15:00:00Z," + "y" * 500_000 + "\n")
    held = [int(chunk.rows["headline"].str.len().sum()) for chunk in iter_chunks(feed, ["date", "headline"])]
    assert sum(held) == 300 * 500_000
    assert max(held) <= CHUNK_BYTES + 500_000


def test_a_tiny_parquet_of_dictionary_encoded_texts_is_decoded_in_bounded_pieces(tmp_path):
    feed = tmp_path / "feed.parquet"  # 1 KB on disk, 300 MB of text once decoded
    rows = 30_000
    texts = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array(["y" * 10_000]))
    dates = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array(["2020-01-02T15:00:00Z"]))
    pq.write_table(pa.table({"date": dates, "headline": texts}), feed, compression="zstd")
    assert feed.stat().st_size < 4096
    grown, manifest = import_peak(feed, tmp_path / "store")
    assert grown < 160, f"300 MB of dictionary-encoded texts raised the peak by {grown:.0f} MiB"  # was ~1.1 GiB
    assert manifest["counts"]["rows"] == rows
    assert manifest["rejected_by_reason"] == {"text of 10000 characters": rows}


def test_a_busy_day_of_news_is_written_without_holding_its_items(tmp_path):
    feed = tmp_path / "feed.csv"  # 60 MB of distinct items, all informing one day of one market
    with feed.open("w") as out:
        out.write("date,headline\n")
        for item in range(240_000):
            out.write(f"2020-01-02T{9 + item % 6:02d}:{item % 60:02d}:00Z,Item {item}: "
                      f"{'markets weigh the outlook for rates and earnings ' * 4}\n")
    grown, manifest = import_peak(feed, tmp_path / "store")
    day = (tmp_path / "store" / "raw" / "news" / "date=2020-01-02" / "feed.jsonl").stat().st_size
    assert manifest["counts"]["items_written"] == 240_000
    # its finished file once and the bounded buffers (here +140-165 MiB); its items as records took +530 MiB
    assert grown < day / 2 ** 20 + 192, f"a {day / 2 ** 20:.0f} MB day raised the peak by {grown:.0f} MiB"
