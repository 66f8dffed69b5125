"""`storm metrics push|serve`: republish a scanned date's metrics, or serve the textfile on /metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from storm.cli.common import ConfigOption, SetOption, build_config
from storm.metrics.serve import DEFAULT_HOST
from storm.redact import redact_url_credentials


def register(app: typer.Typer) -> None:
    metrics_app = typer.Typer(help="Prometheus metrics of the nightly scan.", no_args_is_help=True)
    app.add_typer(metrics_app, name="metrics")

    @metrics_app.command("push")
    def push(
        date: str = typer.Option(..., "--date", help="Scanned date YYYY-MM-DD whose stored scores to publish."),
        config: Optional[Path] = ConfigOption,
        overrides: Optional[list[str]] = SetOption,
    ) -> None:
        """Publish scores/date=D (and its scan stats) to the textfile and the Pushgateway, with retries."""
        from storm.metrics import PushFailed, publish, registry_from_stored_scores, with_textfile
        from storm.store import Layout, open_store

        effective = build_config(config, overrides)
        store = open_store(effective.storage)
        try:
            registry = registry_from_stored_scores(store, Layout(store), date)
            result = publish(registry, with_textfile(effective.metrics, Layout(store)), date=date)
        except (FileNotFoundError, ValueError, PushFailed) as err:
            typer.secho(str(err), fg="red", err=True)
            raise typer.Exit(1) from None
        where = f"and pushed to {redact_url_credentials(effective.metrics.pushgateway_url)}" if result.pushed else "(no metrics.pushgateway_url set)"
        typer.echo(f"metrics for {date} written to {result.textfile} {where}")

    @metrics_app.command("serve")
    def serve(
        port: Optional[int] = typer.Option(None, "--port", help="Port (default: metrics.serve_port)."),
        host: str = typer.Option(DEFAULT_HOST, "--host",
                                 help="Interface to listen on (default: loopback only; 0.0.0.0 for every interface)."),
        config: Optional[Path] = ConfigOption,
        overrides: Optional[list[str]] = SetOption,
    ) -> None:
        """Serve metrics.textfile on http://HOST:PORT/metrics until interrupted."""
        from storm.metrics import with_textfile
        from storm.metrics.serve import serve_textfile
        from storm.store import Layout, open_store

        effective = build_config(config, overrides, **{"metrics.serve_port": port})
        metrics = with_textfile(effective.metrics, Layout(open_store(effective.storage)))
        typer.echo(f"serving {metrics.textfile} on http://{host}:{metrics.serve_port}/metrics")
        try:
            serve_textfile(metrics.textfile, metrics.serve_port, host)
        except KeyboardInterrupt:
            pass
