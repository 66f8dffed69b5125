"""A real two-node Ray cluster on loopback: `storm submit train` and `storm submit scan` through the Jobs API.

Feature work (Ray Data's per-item featurize tasks) runs on both nodes; training workers and scan actors only on
the node that offers their resource.

The head (`ray start --head`, token auth) holds the job drivers; a second
node (`ray start --address …`) is the only one with the custom resource
`storm_worker`, which training workers and scan actors ask for
(`ray.worker_resources`). Storage is the moto S3 server: everything a later
step needs (checkpoints, the model, the feature cache, scores, quarantine)
must be in the bucket, nothing on either node's disk.

Each node runs in its own process group and is stopped by its pid; never `ray stop`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from typer.testing import CliRunner

from servers import free_port, stop_process_group, wait_until
from storm.cli import app
from storm.config import load_config
from storm.store import Layout, open_store
from storm.published.artifacts import MODEL_CARD, MODEL_WEIGHTS, read_model
from storm.worlds import generate_world

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RAY_BINARY = Path(sys.executable).parent / "ray"
WORKER_RESOURCE = "storm_worker"
RUN = "cluster-test"

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class TwoNodeCluster:
    dashboard: str          # Jobs API / state API address (http://127.0.0.1:port)
    token: str
    temp_dirs: tuple[Path, Path]  # head, worker: each node's own Ray folder

    def state(self, resource: str) -> list[dict]:
        """Rows of Ray's state API (`/api/v0/<resource>`), dead entries included."""
        request = urllib.request.Request(f"{self.dashboard}/api/v0/{resource}?limit=10000&detail=1",
                                         headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.load(reply)["data"]["result"]["result"]

    def worker_node_id(self) -> str:
        nodes = [n for n in self.state("nodes") if n["state"] == "ALIVE"]
        return next(n["node_id"] for n in nodes if WORKER_RESOURCE in n["resources_total"])


@contextmanager
def ray_node(arguments: list[str], env: dict[str, str], temp_dir: Path) -> Iterator[subprocess.Popen]:
    """`ray start --block …` in its own process group, stopped (SIGTERM, then SIGKILL) by its pid on exit."""
    ports = {"--node-manager-port": free_port(), "--object-manager-port": free_port(),
             "--metrics-export-port": free_port(), "--dashboard-agent-listen-port": free_port(),
             "--dashboard-agent-grpc-port": free_port(), "--runtime-env-agent-port": free_port()}
    command = [str(RAY_BINARY), "start", "--block", "--node-ip-address=127.0.0.1", f"--temp-dir={temp_dir}",
               "--disable-usage-stats", *arguments, *(f"{flag}={port}" for flag, port in ports.items())]
    with open(temp_dir / "ray-start.log", "wb") as sink:
        node = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield node
    finally:
        stop_process_group(node)


def _alive(node: subprocess.Popen, temp_dir: Path) -> None:
    if node.poll() is not None:
        raise RuntimeError(f"ray start exited with {node.returncode}:\n{(temp_dir / 'ray-start.log').read_text()[-3000:]}")


@pytest.fixture(scope="module")
def two_node_cluster():
    token = uuid.uuid4().hex
    head_dir, worker_dir = (Path(tempfile.mkdtemp(prefix=f"ray{role}-", dir="/tmp")) for role in ("h", "w"))
    from servers import S3_KEY, S3_SECRET

    # the S3 credentials reach the nodes as a cluster's secret store would give them (infra/k8s: envFrom), never
    # through a job's arguments: `ray job list` shows those to anyone who reaches the dashboard
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "RAY_USAGE_STATS_ENABLED": "0",
           "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET,
           "PATH": f"{RAY_BINARY.parent}{os.pathsep}{os.environ['PATH']}"}  # the jobs' `python` is this venv's
    gcs_port, dashboard_port = free_port(), free_port()
    head_args = ["--head", f"--port={gcs_port}", "--num-cpus=2", "--include-dashboard=true",
                 "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard_port}",
                 f"--ray-client-server-port={free_port()}"]
    worker_args = [f"--address=127.0.0.1:{gcs_port}", "--num-cpus=2",
                   f"--resources={json.dumps({WORKER_RESOURCE: 2})}"]
    cluster = TwoNodeCluster(f"http://127.0.0.1:{dashboard_port}", token, (head_dir, worker_dir))
    try:
        with ray_node(head_args, env, head_dir) as head:
            wait_until(lambda: _alive(head, head_dir) or _answers(cluster), timeout=180, interval=1, what="Ray head")
            with ray_node(worker_args, env, worker_dir) as worker:
                wait_until(lambda: _alive(worker, worker_dir) or _has_worker_node(cluster), timeout=180, interval=1,
                           what="the second Ray node")
                yield cluster
    finally:
        for folder in (head_dir, worker_dir):
            shutil.rmtree(folder, ignore_errors=True)


def _answers(cluster: TwoNodeCluster) -> bool:
    try:
        return bool(cluster.state("nodes"))
    except OSError:  # refused while the dashboard starts, or 5xx
        return False


def _has_worker_node(cluster: TwoNodeCluster) -> bool:
    try:
        return any(WORKER_RESOURCE in n["resources_total"] for n in cluster.state("nodes") if n["state"] == "ALIVE")
    except OSError:
        return False


@pytest.fixture(scope="module")
def world_on_s3(moto_endpoint, tmp_path_factory):
    """2 markets x 90 days of prices and charts (no text or audio: their encoders' start-up would double the
    run) on the S3 server; one chart of the last day is corrupt and must end in quarantine/."""
    import boto3

    from servers import S3_KEY, S3_REGION, S3_SECRET

    bucket = f"storm-cluster-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_endpoint, aws_access_key_id=S3_KEY, aws_secret_access_key=S3_SECRET,
                 region_name=S3_REGION).create_bucket(Bucket=bucket)
    overrides = {
        "storage.root": f"s3://{bucket}/world", "storage.endpoint_url": moto_endpoint, "storage.region": S3_REGION,
        "storage.access_key_id": S3_KEY, "storage.secret_access_key": S3_SECRET,
        "world.n_markets": 2, "world.n_days": 90, "world.with_text": False, "world.with_audio": False,
        # a chart encoder that reads pixels: the charts are feature work the two nodes share
        "model.prices_encoder": "chart_evidence", "model.chart_backbone": "resnet10t",
        "train.epochs": 1, "train.num_workers": 2, "train.batch_size": 32, "train.run_name": RUN,
        "ray.worker_resources": {WORKER_RESOURCE: 1},
        "metrics.textfile": str(tmp_path_factory.mktemp("metrics") / "storm.prom"),
    }
    config = load_config(environ={}, overrides=overrides)
    store = open_store(config.storage)
    world = generate_world(config, store, progress=False)
    corrupt_day, corrupt_market = world.end, world.markets[0]
    store.write_bytes(Layout(store).chart(corrupt_day, corrupt_market), b"not a png")
    secrets = ("storage.access_key_id", "storage.secret_access_key")
    job_args = [arg for key, value in overrides.items() if key not in secrets
                for arg in ("--set", f"{key}={json.dumps(value)}")]
    return config, world, store, job_args


def submit(cluster: TwoNodeCluster, kind: str, job_args: list[str]) -> str:
    result = CliRunner().invoke(app, ["submit", kind, "--address", cluster.dashboard, "--auth-token", cluster.token,
                                      "--follow", "--working-dir", str(PROJECT_ROOT), "--", *job_args])
    assert result.exit_code == 0, result.output[-6000:]
    return result.output


def test_train_and_scan_jobs_run_on_the_second_node_and_keep_everything_in_the_object_store(
        two_node_cluster, world_on_s3):
    config, world, store, job_args = world_on_s3
    cluster = two_node_cluster
    layout = Layout(store)

    trained = submit(cluster, "train", job_args)
    assert "epoch 1/1" in trained and f"models/{RUN}/versions/" in trained  # storm train's own output
    scanned = submit(cluster, "scan", job_args)
    assert f"{world.end}: " in scanned and "markets on alert" in scanned

    worker_node = cluster.worker_node_id()
    actors = cluster.state("actors")
    training_workers = [a for a in actors if a["class_name"] == "RayTrainWorker"]
    scoring_actors = [a for a in actors if "ScoringActor" in a["class_name"]]
    assert len(training_workers) == config.train.num_workers and scoring_actors
    assert {a["node_id"] for a in training_workers + scoring_actors} == {worker_node}
    feature_tasks = [t for t in cluster.state("tasks") if "featurize_new_items" in t.get("name", "")]
    nodes = {n["node_id"] for n in cluster.state("nodes") if n["state"] == "ALIVE"}
    assert len(nodes) == 2 and {t["node_id"] for t in feature_tasks} == nodes  # feature work spread over both

    assert store.list_files(layout.checkpoints_dir(RUN))
    published = read_model(store, layout, RUN)  # the pointer, the version and every file's hash, from the bucket
    assert store.exists(layout.model_version_file(RUN, published.version, MODEL_WEIGHTS))
    assert store.exists(layout.model_version_file(RUN, published.version, MODEL_CARD))
    assert store.list_files(store.path("features"), ".parquet")
    assert store.exists(layout.scores(world.end))
    quarantined = store.read_text(layout.quarantine(world.end, "ingest", "charts"))
    assert f"{world.markets[0]}.png" in quarantined

    left_on_nodes = [path for folder in cluster.temp_dirs for path in folder.rglob("*")
                     if path.suffix in (".parquet", ".safetensors", ".pt", ".jsonl") or path.name == "storm-data"]
    assert left_on_nodes == []
