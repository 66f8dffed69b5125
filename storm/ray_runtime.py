"""Connecting to Ray: a local cluster by default, RAY_ADDRESS / --address for a real one."""

from __future__ import annotations

import os

import ray

from storm.config import RayConfig


def ensure_ray(config: RayConfig) -> None:
    """Start or join Ray once per process; a session already running (tests, Ray jobs) is reused."""
    if ray.is_initialized():
        return
    if config.address:
        ray.init(address=config.address, log_to_driver=True)
    else:
        ray.init(num_cpus=config.num_cpus or local_logical_cpus(), include_dashboard=False, configure_logging=False)


def local_logical_cpus() -> int:
    """Logical CPUs to declare for a local cluster: at least 4.

    Ray Train workers each hold a CPU for the whole run; on a 2-core machine they
    would leave none for the Ray Data stages feeding them and the run hangs
    (PITFALLS). Declaring more logical CPUs than cores only oversubscribes.
    """
    return max(os.cpu_count() or 1, 4)
