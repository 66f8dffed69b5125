"""infra/k8s (KubeRay) and infra/cron: every manifest parses and holds what a GPU cluster and a nightly schedule need."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from croniter import croniter

from storm.submit import JOB_SCRIPTS

INFRA = Path(__file__).resolve().parents[2] / "infra"


def manifests() -> dict[str, dict]:
    found = {}
    for path in sorted((INFRA / "k8s").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            found[document["kind"]] = document
    return found


def cluster_specs() -> list[dict]:
    """Every RayCluster spec: the standalone cluster and those embedded in RayJob / RayCronJob."""
    docs = manifests()
    return [docs["RayCluster"]["spec"], docs["RayJob"]["spec"]["rayClusterSpec"],
            docs["RayCronJob"]["spec"]["jobTemplate"]["rayClusterSpec"]]


def test_every_infra_yaml_parses():
    files = [p for p in INFRA.rglob("*.y*ml")]
    assert len(files) >= 7
    for path in files:
        assert list(yaml.safe_load_all(path.read_text())), path


def test_kuberay_manifests_cover_cluster_training_and_nightly_scan():
    docs = manifests()
    assert {"RayCluster", "RayJob", "RayCronJob"} <= set(docs)
    assert all(doc["apiVersion"] == "ray.io/v1" for kind, doc in docs.items() if kind.startswith("Ray"))


@pytest.mark.parametrize("index", range(3))
def test_gpu_workers_request_and_limit_gpus_and_tolerate_gpu_taints(index):
    spec = cluster_specs()[index]
    gpu_groups = [g for g in spec["workerGroupSpecs"] if g["groupName"] == "gpu"]
    assert gpu_groups
    for group in gpu_groups:
        pod = group["template"]["spec"]
        for container in pod["containers"]:
            assert int(container["resources"]["limits"]["nvidia.com/gpu"]) >= 1
            assert container["resources"]["requests"]["nvidia.com/gpu"] == container["resources"]["limits"]["nvidia.com/gpu"]
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    head = spec["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert "nvidia.com/gpu" not in head["resources"]["limits"]


def test_job_entrypoints_run_the_projects_job_scripts():
    docs = manifests()
    assert docs["RayJob"]["spec"]["entrypoint"].startswith(f"python {JOB_SCRIPTS['train']}")
    assert docs["RayCronJob"]["spec"]["jobTemplate"]["entrypoint"].startswith(f"python {JOB_SCRIPTS['scan']}")


def test_nightly_scan_has_explicit_schedule_time_zone_and_bounded_runs():
    cron = manifests()["RayCronJob"]["spec"]
    assert croniter.is_valid(cron["schedule"])
    ZoneInfo(cron["timeZone"])  # raises for an unknown zone
    run = cron["jobTemplate"]
    assert 0 < run["activeDeadlineSeconds"] < 24 * 3600  # a stuck run ends before the next one starts
    assert run["ttlSecondsAfterFinished"] > 0 and run["shutdownAfterJobFinishes"] is True
    assert run["backoffLimit"] <= 1


def test_crontab_line_runs_storm_scan_on_a_valid_schedule():
    lines = [line for line in (INFRA / "cron" / "storm-nightly-scan.crontab").read_text().splitlines()
             if line.strip() and not line.startswith("#") and "=" not in line.split()[0]]
    assert len(lines) == 1
    fields = lines[0].split()
    assert croniter.is_valid(" ".join(fields[:5]))
    assert "storm scan" in lines[0]


def test_systemd_timer_triggers_the_scan_service():
    service = (INFRA / "cron" / "storm-nightly-scan.service").read_text()
    timer = (INFRA / "cron" / "storm-nightly-scan.timer").read_text()
    assert "ExecStart=" in service and "storm scan" in service and "Type=oneshot" in service
    assert "Unit=storm-nightly-scan.service" in timer
    calendar = next(line.split("=", 1)[1] for line in timer.splitlines() if line.startswith("OnCalendar="))
    if shutil.which("systemd-analyze"):
        result = subprocess.run(["systemd-analyze", "calendar", calendar], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("index", range(3))
def test_every_ray_cluster_requires_the_token_and_labels_its_pods_for_the_network_policy(index):
    spec = cluster_specs()[index]
    assert spec["authOptions"] == {"mode": "token"}
    pods = [spec["headGroupSpec"]["template"]] + [group["template"] for group in spec["workerGroupSpecs"]]
    for pod in pods:
        assert pod["metadata"]["labels"]["app.kubernetes.io/part-of"] == "storm"


def test_the_network_policy_opens_the_dashboard_only_to_submitters_and_ray_clients_never_to_everyone():
    policy = manifests()["NetworkPolicy"]["spec"]
    assert policy["podSelector"] == {"matchLabels": {"app.kubernetes.io/part-of": "storm"}}
    assert policy["policyTypes"] == ["Ingress"]
    for rule in policy["ingress"]:
        assert rule.get("from"), "a rule without `from` admits every source"
        sources = rule["from"]
        if any(s.get("podSelector", {}).get("matchLabels") == {"app.kubernetes.io/part-of": "storm"} for s in sources):
            continue  # Ray pods among themselves
        assert {p["port"] for p in rule["ports"]} <= {8265, 10001, 8080}
    dashboard = [rule for rule in policy["ingress"] if {"port": 8265, "protocol": "TCP"} in rule.get("ports", [])]
    assert dashboard and all("namespaceSelector" not in s for rule in dashboard for s in rule["from"])
