"""storm.submit: job requests built right, and one real submission to a token-protected `ray start --head`."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from servers import free_port, stop_process_group, wait_until
from storm import submit

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RAY_BINARY = Path(sys.executable).parent / "ray"


def test_entrypoints_run_the_job_scripts_with_extra_args_quoted():
    assert submit.entrypoint_for("train", ["--set", "train.epochs=2"]) == "python jobs/train.py --set train.epochs=2"
    assert shlex.split(submit.entrypoint_for("scan", ["--date", "2024-03-15", "a b"]))[-1] == "a b"
    with pytest.raises(ValueError, match="train"):
        submit.entrypoint_for("evaluate")


def test_submission_ids_carry_kind_and_time_and_never_repeat():
    moment = datetime(2024, 3, 15, 22, 30, tzinfo=timezone.utc)
    first, second = submit.submission_id_for("scan", moment), submit.submission_id_for("scan", moment)
    assert first.startswith("storm-scan-20240315T223000Z-") and first != second


def test_runtime_env_ships_the_staged_folder_offline(tmp_path):
    env = submit.runtime_env_for(tmp_path, {"STORM_X__Y": "1"})
    assert env["working_dir"] == str(tmp_path)
    assert env["env_vars"]["HF_HUB_OFFLINE"] == "1" and env["env_vars"]["STORM_X__Y"] == "1"


def test_the_working_dir_is_an_allowlist_never_dotfiles_configs_data_or_what_lies_behind_links(tmp_path):
    checkout, outside, staged = tmp_path / "checkout", tmp_path / "outside", tmp_path / "staged"
    for folder in (checkout / "storm" / "scan", checkout / "jobs", checkout / ".aws", checkout / "data", outside):
        folder.mkdir(parents=True)
    files = {"pyproject.toml": "[project]", "storm/__init__.py": "", "storm/scan/scan.py": "x = 1",
             "jobs/train.py": "", ".env": "AWS_SECRET_ACCESS_KEY=k", ".aws/credentials": "k", "storm.yaml": "k",
             "data/prices.parquet": "p", "storm/.env": "k", "storm/local.yaml": "k", "README.md": "r"}
    for name, text in files.items():
        (checkout / name).write_text(text)
    (outside / "credentials").write_text("k")
    os.symlink(outside, checkout / "storm" / "linked")  # a folder behind a link
    os.symlink(outside / "credentials", checkout / "jobs" / "creds.py")  # a file behind a link
    os.mkfifo(checkout / "jobs" / "pipe.py")

    shipped = submit.stage_working_dir(checkout, staged)
    assert shipped == ["jobs/train.py", "pyproject.toml", "storm/__init__.py", "storm/scan/scan.py"]
    on_disk = sorted(str(p.relative_to(staged)) for p in staged.rglob("*") if p.is_file() or p.is_symlink())
    assert on_disk == shipped


def test_the_real_checkout_ships_storm_and_jobs_only(tmp_path):
    shipped = submit.stage_working_dir(PROJECT_ROOT, tmp_path)
    assert "jobs/train.py" in shipped and "storm/submit.py" in shipped and "pyproject.toml" in shipped
    assert {name.split("/", 1)[0] for name in shipped} == {"storm", "jobs", "pyproject.toml"}
    assert not any(part.startswith(".") or part == "__pycache__" for name in shipped for part in name.split("/"))


def test_auth_token_comes_from_option_then_env_then_token_file(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    assert submit.resolve_auth_token("explicit", {"RAY_AUTH_TOKEN": "env"}) == "explicit"
    assert submit.resolve_auth_token(None, {"RAY_AUTH_TOKEN": "env", "RAY_AUTH_TOKEN_PATH": str(token_file)}) == "env"
    assert submit.resolve_auth_token(None, {"RAY_AUTH_TOKEN_PATH": str(token_file)}) == "from-file"
    assert submit.resolve_auth_token(None, {"RAY_AUTH_TOKEN_PATH": str(tmp_path / "absent")}) is None
    assert submit.auth_headers("t0k") == {"Authorization": "Bearer t0k"} and submit.auth_headers(None) == {}


@pytest.fixture(scope="module")
def token_protected_ray_head():
    """`ray start --head --block` on loopback ports with token auth, in its own process group; killed after."""
    token = uuid.uuid4().hex
    dashboard_port = free_port()
    temp_dir = tempfile.mkdtemp(prefix="rayst-", dir="/tmp")  # short: Ray's unix sockets live under it
    ports = {"--port": free_port(), "--dashboard-port": dashboard_port, "--ray-client-server-port": free_port(),
             "--node-manager-port": free_port(), "--object-manager-port": free_port(),
             "--dashboard-agent-listen-port": free_port(), "--dashboard-agent-grpc-port": free_port(),
             "--metrics-export-port": free_port(), "--runtime-env-agent-port": free_port()}
    command = [str(RAY_BINARY), "start", "--head", "--block", "--num-cpus=1", "--node-ip-address=127.0.0.1",
               "--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--temp-dir={temp_dir}",
               "--disable-usage-stats", *(f"{flag}={port}" for flag, port in ports.items())]
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token,
           "PATH": f"{RAY_BINARY.parent}{os.pathsep}{os.environ['PATH']}"}  # the job's `python` is this venv's
    log = Path(temp_dir) / "ray-start.log"
    with open(log, "wb") as sink:
        head = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    address = f"http://127.0.0.1:{dashboard_port}"
    try:
        wait_until(lambda: _jobs_api_up(address, token, head, log), timeout=180, interval=1.0, what="Ray Jobs API")
        yield address, token
    finally:
        stop_process_group(head)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _jobs_api_up(address: str, token: str, head: subprocess.Popen, log: Path) -> bool:
    if head.poll() is not None:
        raise RuntimeError(f"ray start exited with {head.returncode}:\n{log.read_text()[-3000:]}")
    from ray.job_submission import JobSubmissionClient

    try:
        JobSubmissionClient(address, headers=submit.auth_headers(token)).list_jobs()
        return True
    except Exception:  # not up yet: connection refused, 5xx while the dashboard starts
        time.sleep(1.0)
        return False


@pytest.mark.slow
def test_submitted_job_runs_on_a_token_protected_cluster_and_reports_succeeded(token_protected_ray_head):
    address, token = token_protected_ray_head
    with pytest.raises(Exception, match="(?i)auth|401|unauthori"):
        submit.submit_job(address, "python -c pass", PROJECT_ROOT, submit.submission_id_for("scan"), token=None)

    logs: list[str] = []
    job = submit.submit_job(
        address=address,
        entrypoint="python -c \"import os, storm; print('storm-ok', os.environ['HF_HUB_OFFLINE'])\"",
        project_root=PROJECT_ROOT,
        submission_id=submit.submission_id_for("scan"),
        token=token,
        follow=True,
        log_sink=logs.append,
    )
    assert job.status == "SUCCEEDED", "\n".join(logs)
    assert not job.failed
    assert "storm-ok 1" in "\n".join(logs)


def test_cli_submit_to_an_unreachable_cluster_fails_with_the_address(monkeypatch):
    from typer.testing import CliRunner

    from storm.cli import app

    monkeypatch.chdir(PROJECT_ROOT)
    address = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["submit", "scan", "--address", address, "--", "--date", "2024-03-15"])
    assert result.exit_code == 1
    assert f"submitting scan to {address} failed" in result.output


SECRET = "Sup3r-S3cret/value"


def test_secret_overrides_leave_the_job_arguments_for_environment_variables():
    args = ["--date", "2024-03-15", "--set", f"storage.secret_access_key={SECRET}", "--set", "train.epochs=2",
            f"--set=metrics.pushgateway_password={SECRET}", "-s", "metrics.pushgateway_url=http://u:pw@gw:9091"]
    public, secrets = submit.split_secret_arguments(args)
    assert public == ["--date", "2024-03-15", "--set", "train.epochs=2"]
    assert secrets == {"STORM_STORAGE__SECRET_ACCESS_KEY": SECRET, "STORM_METRICS__PUSHGATEWAY_PASSWORD": SECRET,
                       "STORM_METRICS__PUSHGATEWAY_URL": "http://u:pw@gw:9091"}
    assert SECRET not in submit.entrypoint_for("scan", public)
    with pytest.raises(submit.SecretInJobArguments) as refused:
        submit.split_secret_arguments(["--config", "http://user:pw@host/storm.yaml"])
    assert "pw" not in str(refused.value)


@pytest.mark.parametrize("spelling", [
    [f"-sstorage.secret_access_key={SECRET}"],            # short flag, value attached
    ["-s", f"storage.secret_access_key={SECRET}"],
    [f"--set=storage.secret_access_key={SECRET}"],
    ["--set", f"storage.secret_access_key={SECRET}"],
])
def test_every_cli_spelling_of_a_secret_set_leaves_the_entrypoint(spelling):
    public, secrets = submit.split_secret_arguments(["--date", "2024-03-15", *spelling, "-strain.epochs=2"])
    assert secrets == {"STORM_STORAGE__SECRET_ACCESS_KEY": SECRET}
    assert public == ["--date", "2024-03-15", "-strain.epochs=2"]
    assert SECRET not in submit.entrypoint_for("scan", public)


def test_an_attached_short_set_of_an_unknown_key_is_refused_without_its_value():
    with pytest.raises(submit.UnknownJobOverride) as refused:
        submit.split_secret_arguments([f"-sstorage.secret_acess_key={SECRET}"])
    assert SECRET not in str(refused.value)


def test_the_environment_form_of_a_secret_is_what_the_job_config_reads():
    from storm.config import load_config

    public, secrets = submit.split_secret_arguments(["--set", f"storage.secret_access_key={SECRET}"])
    assert load_config(environ=secrets).storage.secret_access_key.get_secret_value() == SECRET


def test_cli_refuses_to_send_a_secret_with_a_job_and_never_prints_it(monkeypatch):
    from typer.testing import CliRunner

    from storm.cli import app

    monkeypatch.chdir(PROJECT_ROOT)
    address = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["submit", "scan", "--address", address, "--",
                                      "--set", f"storage.secret_access_key={SECRET}"])
    assert result.exit_code == 1
    assert "STORM_STORAGE__SECRET_ACCESS_KEY" in result.output and "secret store" in result.output
    assert SECRET not in result.output


@pytest.mark.slow
def test_a_secret_sent_with_a_job_is_in_neither_its_entrypoint_nor_its_metadata_but_ray_job_list_shows_env_vars(
        token_protected_ray_head):
    """What `ray job list` shows of a job submitted with --secrets-via-runtime-env: why the default refuses."""
    from ray.job_submission import JobSubmissionClient

    address, token = token_protected_ray_head
    public, secrets = submit.split_secret_arguments(["--set", f"storage.secret_access_key={SECRET}"])
    logs: list[str] = []
    check = ("import hashlib, os; value = os.environ['STORM_STORAGE__SECRET_ACCESS_KEY']; "
             "print('secret-sha', hashlib.sha256(value.encode()).hexdigest()[:12])")
    job = submit.submit_job(address, shlex.join(["python", "-c", check, *public]), PROJECT_ROOT,
                            submit.submission_id_for("scan"), token=token, follow=True, log_sink=logs.append,
                            env_vars=secrets)
    import hashlib

    assert job.status == "SUCCEEDED" and f"secret-sha {hashlib.sha256(SECRET.encode()).hexdigest()[:12]}" in "".join(logs)
    details = [d for d in JobSubmissionClient(address, headers=submit.auth_headers(token)).list_jobs()
               if d.submission_id == job.submission_id][0]
    assert SECRET not in details.entrypoint and SECRET not in str(details.metadata)
    listed = subprocess.run([str(RAY_BINARY), "job", "list", "--address", address], capture_output=True, text=True,
                            env={**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}, timeout=120)
    assert listed.returncode == 0, listed.stderr[-2000:]
    shown = listed.stdout + listed.stderr
    assert job.submission_id in shown and SECRET in shown  # Ray 2.60's CLI prints runtime_env env_vars unmasked
    print(f"`ray job list` (exit {listed.returncode}, {len(shown)} chars) shows the entrypoint: "
          f"{job.submission_id in shown}, the runtime_env env var in clear: {SECRET in shown}; "
          f"SDK JobDetails.runtime_env: {details.runtime_env.get('env_vars') if details.runtime_env else None}")


def test_a_misspelled_secret_set_key_is_refused_naming_the_key_never_its_value(monkeypatch):
    from typer.testing import CliRunner

    from storm.cli import app

    for args in (["--set", f"storage.secret_acess_key={SECRET}"], [f"--set=storage.secret_acess_key={SECRET}"]):
        with pytest.raises(submit.UnknownJobOverride) as refused:
            submit.split_secret_arguments(["--date", "2024-03-15", *args])
        assert SECRET not in str(refused.value)
        assert "storage.secret_acess_key" in str(refused.value) and "storage.secret_access_key" in str(refused.value)
    with pytest.raises(submit.UnknownJobOverride) as refused:  # a value pasted without its key
        submit.split_secret_arguments(["--set", SECRET])
    assert SECRET not in str(refused.value)
    assert submit.split_secret_arguments(["--set", "ray.worker_resources.storm_worker=1"])[0][1].startswith("ray.")

    monkeypatch.chdir(PROJECT_ROOT)
    result = CliRunner().invoke(app, ["submit", "train", "--address", f"http://127.0.0.1:{free_port()}", "--",
                                      "--set", f"storage.secret_acess_key={SECRET}"])
    assert result.exit_code == 1 and SECRET not in result.output and "secret_access_key" in result.output
