"""Model publishing: what the read-back verification and the pointer cost, on a local store and on S3 (moto).

The plain alternative writes the files in place and reads the weights without checking them; storm writes an
immutable version, reads every file back to check its sha256, then switches the pointer, and every read
verifies all hashes again. Prints seconds per publish / read and the ratio to a plain write / read.

    .venv/bin/python benchmarks/bench_publish_model.py --megabytes 20 --repeats 3
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import time
import uuid

from common import offline  # noqa: E402

offline()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch

    from storm.config import StorageConfig
    from storm.store import Layout, open_store
    from storm.published.artifacts import publish_model, read_model
    from storm.published.calibration import Calibration
    from storm.published.weights import weights_to_bytes
    from storm.splits import DateSplit

    side = int((args.megabytes * 2**20 / 4) ** 0.5)
    calibration = Calibration(method="temperature", horizons=[5], temperature={5: 1.0}, threshold={5: 0.5},
                              false_alarm_rate=0.1)
    split = DateSplit(train=["2020-01-01"], validation=["2020-02-01"], test=["2020-03-01"], embargo_days=5)

    def measure(storage: StorageConfig, label: str) -> None:
        store = open_store(storage)
        layout = Layout(store)
        publish, read, plain_write, plain_read = [], [], [], []
        for repeat in range(args.repeats):
            weights = weights_to_bytes({"w": torch.randn(side, side)})
            started = time.perf_counter()
            published = publish_model(store, layout, "bench", weights, {"run": "bench", "repeat": repeat}, calibration,
                                      [{"epoch": 0}], split)
            publish.append(time.perf_counter() - started)
            started = time.perf_counter()
            read_model(store, layout, "bench")
            read.append(time.perf_counter() - started)
            started = time.perf_counter()
            store.write_bytes(layout.model_file("bench", "plain.safetensors"), weights)
            plain_write.append(time.perf_counter() - started)
            started = time.perf_counter()
            store.read_bytes(layout.model_file("bench", "plain.safetensors"))
            plain_read.append(time.perf_counter() - started)
        best = min
        print(f"{label}: {len(weights) / 2**20:.1f} MiB weights, version {published.version}: publish "
              f"{best(publish):.3f}s (plain write {best(plain_write):.3f}s, x{best(publish) / best(plain_write):.1f}), "
              f"verified read {best(read):.3f}s (plain read {best(plain_read):.3f}s, x{best(read) / best(plain_read):.1f})")

    with tempfile.TemporaryDirectory() as folder:
        measure(StorageConfig(root=folder), "local")
    from moto.server import ThreadedMotoServer
    import boto3

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint, bucket = f"http://127.0.0.1:{port}", f"bench-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="k", aws_secret_access_key="s",
                     region_name="us-east-1").create_bucket(Bucket=bucket)
        measure(StorageConfig(root=f"s3://{bucket}/store", endpoint_url=endpoint, region="us-east-1",
                              access_key_id="k", secret_access_key="s"), "s3 (moto)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
