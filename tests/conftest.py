"""Shared real parts for the suite: one local Ray cluster, one moto S3 server on loopback.

Both are started once per session (Ray start-up costs seconds on 2 cores) and
stopped at the end. Keep datasets tiny.
"""

from __future__ import annotations

import os
import socket
import uuid

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("PROMETHEUS_DISABLE_CREATED_SERIES", "True")

from storm.config import StorageConfig  # noqa: E402

from servers import S3_KEY, S3_REGION, S3_SECRET  # noqa: E402  (one place for the moto credentials)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def ray_cluster():
    """A real local Ray cluster shared by every test that needs one (4 logical CPUs: see docs/ARCHITECTURE.md, facts about the parts)."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def moto_endpoint():
    """A real S3-compatible HTTP server on loopback (moto server mode)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_storage(moto_endpoint) -> StorageConfig:
    """A fresh bucket on the moto server, as a storm storage config."""
    import boto3

    bucket = f"storm-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3", endpoint_url=moto_endpoint, aws_access_key_id=S3_KEY, aws_secret_access_key=S3_SECRET, region_name=S3_REGION
    )
    client.create_bucket(Bucket=bucket)
    return StorageConfig(
        root=f"s3://{bucket}/world",
        endpoint_url=moto_endpoint,
        region=S3_REGION,
        access_key_id=S3_KEY,
        secret_access_key=S3_SECRET,
    )


@pytest.fixture
def local_storage(tmp_path) -> StorageConfig:
    return StorageConfig(root=str(tmp_path / "store"))


@pytest.fixture(scope="session", autouse=True)
def every_stored_scores_file_keeps_the_horizon_order(tmp_path_factory):
    """After the session: every scores table any test stored locally has P(≤5d) ≤ P(≤10d) ≤ P(≤20d).

    Store tests that write other tables under a scores path (layout and lease mechanics) are not scores tables.
    """
    yield
    import pandas as pd

    from storm.scan.coherence import check_horizon_order
    from storm.schema import SCORE_COLUMNS

    for path in tmp_path_factory.getbasetemp().rglob("scores/**/scores.parquet"):
        table = pd.read_parquet(path)
        if set(SCORE_COLUMNS) <= set(table.columns):
            check_horizon_order(table, source=str(path))
