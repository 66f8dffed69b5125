"""Submitting storm's jobs to a Ray cluster through the Ray Jobs API.

An allowlist of the project travels as the job's working_dir (storm/, jobs/,
pyproject.toml: regular files only, no dotfiles, caches or anything behind a
symbolic link), copied into a staging folder first, so no `.env`, `.aws`,
`storm.yaml` or data folder of the checkout ever leaves this machine; the
entrypoint runs with the cluster's `python`. Clusters
with token authentication (Ray's default for local clusters since 2.52+)
need the token as a bearer header: `resolve_auth_token` finds it where Ray
itself keeps it.

Secrets never travel in the entrypoint or the job metadata: `ray job list`
shows both to anyone who can reach the dashboard. It shows the runtime_env's
env_vars too (Ray 2.60 masks them only for browser requests; its CLI and SDK
get the raw values), so the default is to refuse a secret among the job's
arguments and point to the cluster's secret store (infra/k8s: a Secret the
Ray pods load with envFrom). `secrets_via_runtime_env=True` moves them into
runtime_env env_vars as STORM_SECTION__KEY instead, knowingly.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import stat
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping, Sequence

from storm.config import is_known_key, is_secret_key, unknown_key_message
from storm.redact import redact_url_credentials

JOB_SCRIPTS = {"train": "jobs/train.py", "scan": "jobs/nightly_scan.py"}
WORKING_DIR_ALLOWLIST = ("storm", "jobs", "pyproject.toml")  # what a job needs of the checkout, nothing else
_SKIPPED_NAMES = ("__pycache__", "storm-data", "ray_results", "tmp")
_SKIPPED_SUFFIXES = (".pyc", ".pyo", ".egg-info", ".yaml", ".yml", ".env", ".pem", ".key")
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


class SecretInJobArguments(ValueError):
    """A secret among a job's arguments, which would show in `ray job list`; the message names the key only."""


class UnknownJobOverride(ValueError):
    """A job's `--set` names no config key (a typo, maybe of a secret key): refused, its value never shown."""


SET_FLAGS = ("--set", "-s")


def split_secret_arguments(extra_args: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The job's arguments without secret `--set` overrides, and those secrets as STORM_SECTION__KEY variables.

    Secret means a secret config key (storage.secret_access_key, …) or any value holding URL credentials.
    An argument with URL credentials that is not a `--set` cannot be moved: SecretInJobArguments. A `--set`
    of an unknown key (storage.secret_acess_key=…) would travel in the entrypoint and fail on the cluster:
    UnknownJobOverride, naming the key and the nearest known one, never the value.
    """
    public: list[str] = []
    secrets: dict[str, str] = {}
    args = list(extra_args)
    index = 0
    while index < len(args):
        arg = args[index]
        joined = _joined_set_item(arg)
        if joined is not None or (arg in SET_FLAGS and index + 1 < len(args)):
            item = joined if joined is not None else args[index + 1]
            key, has_value, value = item.partition("=")
            if not has_value:  # the item itself is not shown: it may be a secret pasted without its key
                position = index + 1 if joined is not None else index + 2
                raise UnknownJobOverride(f"job argument {position}: --set needs key=value; nothing was submitted")
            if not is_known_key(key.strip()):
                raise UnknownJobOverride(f"job argument --set {unknown_key_message(key.strip())}; nothing was "
                                         "submitted (its value is not shown)")
            if is_secret_key(key.strip()) or redact_url_credentials(value) != value:
                secrets[config_env_var(key.strip())] = value
            else:
                public.extend([arg] if joined is not None else [arg, item])
            index += 1 if joined is not None else 2
            continue
        if redact_url_credentials(arg) != arg:
            raise SecretInJobArguments(f"job argument {index + 1} holds URL credentials ({redact_url_credentials(arg)}); "
                                       "pass them as a --set override, or keep them in the cluster's secret store")
        public.append(arg)
        index += 1
    return public, secrets


def _joined_set_item(arg: str) -> str | None:
    """The ``key=value`` of a --set written as one argument (``--set=k=v``, or the short flag's ``-sk=v``), else
    None: every spelling the CLI parser accepts is recognised, so none carries a secret into the entrypoint."""
    if arg.startswith("--set="):
        return arg[len("--set="):]
    if arg.startswith("-s") and not arg.startswith("--") and len(arg) > 2:
        return arg[2:]
    return None


def config_env_var(dotted: str) -> str:
    """STORM_SECTION__KEY: the environment form of a config key (storm.config reads it at the job's entry point)."""
    return "STORM_" + "__".join(part.upper() for part in dotted.split("."))


def refuse_secrets(secrets: Mapping[str, str]) -> None:
    """The default: no secret leaves this machine with a job (`ray job list` would show it)."""
    if secrets:
        raise SecretInJobArguments(
            f"secret job arguments {sorted(secrets)} are not sent with the job: `ray job list` shows a job's "
            "entrypoint, metadata and runtime_env env_vars to anyone who can reach the dashboard. Keep them in the "
            "cluster's secret store (e.g. a Kubernetes Secret loaded by the Ray pods with envFrom, as in infra/k8s), "
            "or pass --secrets-via-runtime-env to send them as runtime_env env_vars knowingly.")


def submission_id_for(kind: str, now: datetime | None = None) -> str:
    """Unique per submission (Ray refuses a reused id): kind, UTC time, and a short random tail."""
    moment = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    return f"storm-{kind}-{moment}-{uuid.uuid4().hex[:6]}"


def runtime_env_for(working_dir: Path, env_vars: Mapping[str, str] | None = None) -> dict:
    """The job's runtime_env: working_dir is a folder staged by stage_working_dir, never the checkout itself."""
    return {"working_dir": str(working_dir), "env_vars": {**JOB_ENV_VARS, **(env_vars or {})}}


def stage_working_dir(project_root: Path, destination: Path) -> list[str]:
    """Copy the allowlisted parts of the checkout into destination; returns the files copied (relative, sorted).

    Regular files only: no symbolic link is followed or copied (a linked folder could hold anything), and no
    dotfile or dot-folder (.env, .aws, .git), cache, config file (*.yaml: storm.yaml may hold credentials),
    key file or data folder goes along.
    """
    copied = []
    for entry in WORKING_DIR_ALLOWLIST:
        source = project_root / entry
        if source.is_symlink() or not source.exists():
            continue
        if source.is_file():
            copied += _copy_if_plain(project_root, source, destination)
            continue
        for folder, folders, names in os.walk(source, followlinks=False):
            folders[:] = sorted(name for name in folders if _shipped_name(name))
            for name in sorted(names):
                copied += _copy_if_plain(project_root, Path(folder) / name, destination)
    return sorted(copied)


def _shipped_name(name: str) -> bool:
    return not name.startswith(".") and name not in _SKIPPED_NAMES and not name.endswith(_SKIPPED_SUFFIXES)


def _copy_if_plain(project_root: Path, source: Path, destination: Path) -> list[str]:
    """[relative path] after copying source when it is a regular file with a shipped name, else []."""
    if not _shipped_name(source.name) or not stat.S_ISREG(os.lstat(source).st_mode):
        return []
    relative = source.relative_to(project_root)
    (destination / relative).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination / relative, follow_symlinks=False)
    return [relative.as_posix()]


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
    env_vars: Mapping[str, str] | None = None,
) -> SubmittedJob:
    """Submit entrypoint (env_vars into its runtime_env); with follow, stream its logs to log_sink."""
    from ray.job_submission import JobSubmissionClient

    client = JobSubmissionClient(address, headers=auth_headers(token))
    with tempfile.TemporaryDirectory(prefix="storm-job-") as staging:  # uploaded by submit_job, then removed
        stage_working_dir(project_root, Path(staging))
        _submit_when_agent_ready(client, entrypoint, submission_id, runtime_env_for(Path(staging), env_vars))
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
    "SubmittedJob", "SecretInJobArguments", "split_secret_arguments", "config_env_var", "refuse_secrets",
    "entrypoint_for", "submission_id_for", "runtime_env_for", "stage_working_dir", "UnknownJobOverride", "resolve_auth_token",
    "auth_headers", "submit_job", "wait_for_terminal_status", "find_project_root", "default_address",
]
