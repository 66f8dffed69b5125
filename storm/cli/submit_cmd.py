"""`storm submit train|scan [--address URL] [--follow] -- ARGS`: run a storm job on a Ray cluster (Ray Jobs API)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

AddressOption = typer.Option(None, "--address", help="Ray dashboard URL (default: RAY_ADDRESS, else http://127.0.0.1:8265).")
FollowOption = typer.Option(False, "--follow", "-f", help="Stream the job's logs and exit with its final status.")
TokenOption = typer.Option(None, "--auth-token", help="Cluster token (default: RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token).")
WorkingDirOption = typer.Option(None, "--working-dir", help="Project folder shipped to the cluster (default: this checkout).")
SecretsOption = typer.Option(False, "--secrets-via-runtime-env",
                             help="Send secret --set overrides as runtime_env env vars (shown by `ray job list` to "
                                  "dashboard users); by default they are refused: keep them in the cluster's secret store.")
ExtraArgs = typer.Argument(None, help="Arguments after `--` go to the job script unchanged.")


def register(app: typer.Typer) -> None:
    submit_app = typer.Typer(help="Submit storm jobs to a Ray cluster (Ray Jobs API).", no_args_is_help=True)
    app.add_typer(submit_app, name="submit")

    @submit_app.command("train")
    def train(address: Optional[str] = AddressOption, follow: bool = FollowOption, auth_token: Optional[str] = TokenOption,
              working_dir: Optional[Path] = WorkingDirOption, secrets_via_runtime_env: bool = SecretsOption,
              extra: Optional[list[str]] = ExtraArgs) -> None:
        """Submit jobs/train.py (training with Ray Train on the cluster)."""
        _submit("train", address, follow, auth_token, working_dir, extra or [], secrets_via_runtime_env)

    @submit_app.command("scan")
    def scan(address: Optional[str] = AddressOption, follow: bool = FollowOption, auth_token: Optional[str] = TokenOption,
             working_dir: Optional[Path] = WorkingDirOption, secrets_via_runtime_env: bool = SecretsOption,
              extra: Optional[list[str]] = ExtraArgs) -> None:
        """Submit jobs/nightly_scan.py (score a date and publish its metrics)."""
        _submit("scan", address, follow, auth_token, working_dir, extra or [], secrets_via_runtime_env)


def _submit(kind: str, address: str | None, follow: bool, auth_token: str | None,
            working_dir: Path | None, extra: list[str], secrets_via_runtime_env: bool = False) -> None:
    from storm import submit
    from storm.redact import redact

    environ = dict(os.environ)
    target = address or submit.default_address(environ)
    secrets: dict[str, str] = {}
    try:
        public_args, secrets = submit.split_secret_arguments(extra)
        if not secrets_via_runtime_env:
            submit.refuse_secrets(secrets)
        root = working_dir.resolve() if working_dir else submit.find_project_root(Path.cwd())
        job = submit.submit_job(
            address=target,
            entrypoint=submit.entrypoint_for(kind, public_args),
            env_vars=secrets,
            project_root=root,
            submission_id=submit.submission_id_for(kind),
            token=submit.resolve_auth_token(auth_token, environ),
            follow=follow,
            log_sink=typer.echo,
        )
    except (FileNotFoundError, ValueError, ConnectionError, RuntimeError) as err:
        typer.secho(redact(f"submitting {kind} to {target} failed: {err}", secrets.values()), fg="red", err=True)
        raise typer.Exit(1) from None
    shown_address = redact(job.address)
    typer.echo(f"job {job.submission_id} on {shown_address}: {job.status}")
    if not follow:
        typer.echo(f"follow it with: ray job logs --address {shown_address} --follow {job.submission_id}")
    if job.failed:
        raise typer.Exit(1)
