"""One ingest path: `storm ingest` and the evidence of evaluate, train and scan meet a bad prices file alike."""

import pytest

from storm.config import FeatureConfig, StormConfig
from storm.features.panel import ingested_evidence
from storm.ingest import NoPricesError, read_quarantine, run_ingest
from storm.store import Layout, open_store
from storm.training.trainer import evidence_over_all_prices

from features.test_panel import DATES, FEATURES, write_prices  # the tiny store's writers

START, END = DATES[5], DATES[9]


def prices_world(storage, good_markets: list[str]) -> tuple[StormConfig, Layout]:
    layout = Layout(open_store(storage))
    for market in good_markets:
        write_prices(layout, market, crash_from=None)
    layout.store.write_bytes(layout.prices("CCC"), b"PAR1 not parquet at all")
    return StormConfig(storage=storage, features=FeatureConfig(**FEATURES)), layout


def quarantined_prices(layout: Layout) -> list[dict]:
    """The prices quarantine of the window, removed once read (so the next entry point must write its own)."""
    records = read_quarantine(layout.store, layout, "prices", END)
    layout.store.delete(layout.store.list_files(layout.quarantine_dir()))
    return records


def test_an_unreadable_prices_file_gets_the_same_quarantine_record_from_storm_ingest_and_the_evidence_path(
        ray_cluster, local_storage):
    config, layout = prices_world(local_storage, ["AAA", "BBB"])

    ingested = run_ingest(config, START, END)
    by_ingest = quarantined_prices(layout)
    evidence = ingested_evidence(config, START, END)
    by_evidence = quarantined_prices(layout)

    assert len(by_ingest) == 1 and by_ingest[0]["market"] == "CCC" and "not readable parquet" in by_ingest[0]["reason"]
    assert by_evidence == by_ingest
    assert evidence.report.counts["prices"] == ingested.counts["prices"] == {"ok": 2, "quarantined": 1, "missing": 0}
    assert evidence.markets == ["AAA", "BBB"]


def test_with_no_readable_prices_every_entry_point_raises_the_one_error_after_quarantining(ray_cluster, local_storage):
    config, layout = prices_world(local_storage, [])

    with pytest.raises(NoPricesError, match="no prices under .*1 file.*storm generate"):
        run_ingest(config, START, END)
    by_ingest = quarantined_prices(layout)
    with pytest.raises(NoPricesError, match="no prices under"):
        ingested_evidence(config, START, END)  # evaluate, train and scan build their evidence with it
    by_evidence = quarantined_prices(layout)
    with pytest.raises(NoPricesError, match="no prices under"):
        evidence_over_all_prices(config)  # storm train's default: every stored price day

    assert by_ingest == by_evidence and [record["market"] for record in by_ingest] == ["CCC"]
