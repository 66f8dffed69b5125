"""Connecting to Ray: a local cluster by default, RAY_ADDRESS / --address for a real one."""

from __future__ import annotations

import ray

from storm.config import RayConfig


def ensure_ray(config: RayConfig) -> None:
    """Start or join Ray once per process; a session already running (tests, Ray jobs) is reused."""
    if ray.is_initialized():
        return
    if config.address:
        ray.init(address=config.address, log_to_driver=True)
    else:
        ray.init(num_cpus=config.num_cpus, include_dashboard=False, configure_logging=False)
