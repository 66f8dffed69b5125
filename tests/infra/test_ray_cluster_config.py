"""ray_cluster.yaml validated offline against Ray's bundled cluster-launcher schema (ray-schema.json)."""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config  # private: Ray is pinned in pyproject

CLUSTER_YAML = Path(__file__).resolve().parents[2] / "ray_cluster.yaml"


@pytest.fixture
def raw_config() -> dict:
    return yaml.safe_load(CLUSTER_YAML.read_text())


def test_cluster_config_passes_rays_schema(raw_config):
    validate_config(prepare_config(raw_config))


def test_schema_check_would_catch_a_misspelled_key(raw_config):
    broken = copy.deepcopy(raw_config)
    broken["available_node_types"]["gpu_worker"]["max_worker"] = 4
    with pytest.raises(jsonschema.ValidationError):
        validate_config(prepare_config(broken))


def test_gpu_workers_autoscale_from_zero(raw_config):
    gpu = raw_config["available_node_types"]["gpu_worker"]
    assert gpu["min_workers"] == 0 and gpu["max_workers"] >= 1
    assert gpu["resources"]["GPU"] >= 1
    assert raw_config["provider"]["type"] == "aws" and raw_config["provider"]["region"]
    assert raw_config["idle_timeout_minutes"] > 0


def test_cluster_installs_the_project_and_keeps_the_dashboard_private(raw_config):
    assert any("pip install -e ." in command for command in raw_config["setup_commands"])
    assert "." in raw_config["file_mounts"].values()
    head_start = " ".join(raw_config["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head_start
