"""Submitting storm's jobs to a Ray cluster through the Ray Jobs API.

The project folder travels as the job's working_dir (without the venv, the
data and git); the entrypoint runs with the cluster's `python`. Clusters
with token authentication (Ray's default for local clusters since 2.52+)
need the token as a bearer header: `resolve_auth_token` finds it where Ray
itself keeps it.
"""

from __future__ import annotations

import asyncio
import shlex
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping, Sequence

JOB_SCRIPTS = {"train": "jobs/train.py", "scan": "jobs/nightly_scan.py"}
WORKING_DIR_EXCLUDES = [
    ".venv", ".git", "storm-data", "storm-metrics.prom", "__pycache__", "*.pyc", ".pytest_cache",
    "ray_results", "*.egg-info", "tmp",
]
JOB_ENV_VARS = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0"}
DEFAULT_TOKEN_FILE = Path("~/.ray/auth_token")
NO_AGENT_YET = "No available agent to submit job"
AGENT_WAIT_ATTEMPTS = 30


@dataclass(frozen=True)
class SubmittedJob:
    submission_id: str
    address: str
    status: str  # a ray.job_submission.JobStatus value: PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED

    @property
    def failed(self) -> bool:
        return self.status in ("FAILED", "STOPPED")


def entrypoint_for(kind: str, extra_args: Sequence[str] = ()) -> str:
    """The shell command the cluster runs for a storm job kind ("train" or "scan")."""
    if kind not in JOB_SCRIPTS:
        raise ValueError(f"unknown job kind {kind!r}; choose one of {sorted(JOB_SCRIPTS)}")
    return shlex.join(["python", JOB_SCRIPTS[kind], *extra_args])


def submission_id_for(kind: str, now: datetime | None = None) -> str:
    """Unique per submission (Ray refuses a reused id): kind, UTC time, and a short random tail."""
    moment = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    return f"storm-{kind}-{moment}-{uuid.uuid4().hex[:6]}"


def runtime_env_for(project_root: Path, env_vars: Mapping[str, str] | None = None) -> dict:
    return {
        "working_dir": str(project_root),
        "excludes": list(WORKING_DIR_EXCLUDES),
        "env_vars": {**JOB_ENV_VARS, **(env_vars or {})},
    }


def resolve_auth_token(explicit: str | None, environ: Mapping[str, str]) -> str | None:
    """The cluster token: explicit, else RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token (Ray's order)."""
    if explicit:
        return explicit.strip()
    if environ.get("RAY_AUTH_TOKEN"):
        return environ["RAY_AUTH_TOKEN"].strip()
    path = Path(environ["RAY_AUTH_TOKEN_PATH"]) if environ.get("RAY_AUTH_TOKEN_PATH") else DEFAULT_TOKEN_FILE
    path = path.expanduser()
    if not path.is_file():
        return None
    return path.read_text().strip() or None


def auth_headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def submit_job(
    address: str,
    entrypoint: str,
    project_root: Path,
    submission_id: str,
    token: str | None = None,
    follow: bool = False,
    log_sink: Callable[[str], None] = print,
) -> SubmittedJob:
    """Submit entrypoint; with follow, stream its logs to log_sink and return the final status."""
    from ray.job_submission import JobSubmissionClient

    client = JobSubmissionClient(address, headers=auth_headers(token))
    _submit_when_agent_ready(client, entrypoint, submission_id, runtime_env_for(project_root))
    if not follow:
        return SubmittedJob(submission_id, address, str(client.get_job_status(submission_id).value))
    asyncio.run(_tail_logs(client, submission_id, log_sink))
    return SubmittedJob(submission_id, address, wait_for_terminal_status(client, submission_id))


def _submit_when_agent_ready(client, entrypoint: str, submission_id: str, runtime_env: dict,
                             attempts: int = AGENT_WAIT_ATTEMPTS, wait_seconds: float = 2.0) -> None:
    """Submit, retrying while a freshly started cluster has no job agent yet (Ray answers 500 "try again later")."""
    for attempt in range(1, attempts + 1):
        try:
            client.submit_job(entrypoint=entrypoint, submission_id=submission_id, runtime_env=runtime_env)
            return
        except RuntimeError as err:
            if NO_AGENT_YET not in str(err) or attempt == attempts:
                raise
            time.sleep(wait_seconds)


async def _tail_logs(client, submission_id: str, log_sink: Callable[[str], None]) -> None:
    async for chunk in client.tail_job_logs(submission_id):
        log_sink(chunk.rstrip("\n"))


def wait_for_terminal_status(client, submission_id: str, poll_seconds: float = 1.0) -> str:
    """The job's final status (the log stream can end a moment before the status settles)."""
    while True:
        status = client.get_job_status(submission_id)
        if status.is_terminal():
            return str(status.value)
        time.sleep(poll_seconds)


def find_project_root(start: Path | None = None) -> Path:
    """The checkout holding jobs/ and pyproject.toml: what a job's working_dir must carry."""
    here = (start or Path(__file__)).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").is_file() and (candidate / "jobs").is_dir():
            return candidate
    raise FileNotFoundError(
        f"no storm checkout (pyproject.toml + jobs/) above {here}; run from the project folder or pass --working-dir"
    )


def default_address(environ: Mapping[str, str]) -> str:
    """RAY_ADDRESS, else the local dashboard: the Jobs API lives on the dashboard port."""
    return environ.get("RAY_ADDRESS") or "http://127.0.0.1:8265"


__all__ = [
    "SubmittedJob", "entrypoint_for", "submission_id_for", "runtime_env_for", "resolve_auth_token",
    "auth_headers", "submit_job", "wait_for_terminal_status", "find_project_root", "default_address",
]
