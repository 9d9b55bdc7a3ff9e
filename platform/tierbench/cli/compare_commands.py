"""``tierbench compare`` (tables, paired tests, chart, matbench files) and ``tierbench ui`` (the MLflow UI)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from tierbench.cli.main import app, fail

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
JOB_EXECUTION_VARIABLE = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"
"""MLflow's server starts GenAI job workers (seven more processes) unless this is false; tierbench has no jobs."""
DEFAULT_UI_PORT = 5000


@app.command("compare")
def compare_command(
    *,
    experiment: Annotated[
        str | None, typer.Option("--experiment", help="MLflow experiment (default: that of the newest suite run).")
    ] = None,
    suite_run: Annotated[
        str | None, typer.Option("--suite-run", help="Compare only this suite run's trials (its run id).")
    ] = None,
    metric: Annotated[
        str, typer.Option("--metric", help="Ranking metric; classification targets fall back to test_roc_auc.")
    ] = "test_mae",
    output: Annotated[
        Path | None, typer.Option("--output", help="Folder for the files (default .tierbench/compare/<experiment>).")
    ] = None,
    baseline: Annotated[str, typer.Option("--baseline", help="Combination the paired tests compare against.")] = "atom",
    log: Annotated[bool, typer.Option("--log/--no-log", help="Log the files to the suite run in MLflow.")] = True,
    tracking_uri: Annotated[
        str | None,
        typer.Option("--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db)."),
    ] = None,
) -> None:
    """Table of tier combination × dataset: mean ± std, trials, best combination, paired test vs atom."""
    from tierbench.report import compare

    try:
        result = compare(
            tracking_uri=tracking_uri,
            experiment=experiment,
            suite_run_id=suite_run,
            metric=metric,
            output=output,
            baseline=baseline,
            log_to_suite=log,
        )
    except ValueError as error:  # ComparisonError, MatbenchExportError, an unknown metric
        raise fail(str(error)) from error
    typer.echo(result.markdown)
    for path in result.files:
        typer.echo(f"wrote {path}")
    if result.logged_to:
        typer.echo(f"logged to suite run {result.logged_to} (experiment {result.experiment})")


def ui_command_line(
    store: str,
    *,
    host: str,
    port: int,
    workers: int = 1,
    artifacts_destination: str | None = None,
    allowed_hosts: str | None = None,
) -> list[str]:
    """The ``mlflow server`` command that serves ``store`` (UI and REST API) on ``host:port``.

    Raises:
        ValueError: ``store`` is already a tracking server (an http(s) URI).
    """
    if store.startswith(("http://", "https://")):
        raise ValueError(f"the tracking store {store} is a server already: open it in a browser")
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store]
    command += ["--host", host, "--port", str(port), "--workers", str(workers)]
    if artifacts_destination:
        command += ["--artifacts-destination", artifacts_destination]
    if allowed_hosts:
        command += ["--allowed-hosts", allowed_hosts]
    return command


def server_url(host: str, port: int) -> str:
    """``http://host:port``, with IPv6 addresses in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@app.command("ui")
def ui(
    *,
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = DEFAULT_UI_PORT,
    host: Annotated[
        str, typer.Option("--host", help="Interface to bind; anything but loopback exposes every run to the network.")
    ] = "127.0.0.1",
    tracking_uri: Annotated[
        str | None,
        typer.Option("--tracking-uri", help="Store to serve (default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db)."),
    ] = None,
    artifacts_destination: Annotated[
        str | None,
        typer.Option(
            "--artifacts-destination", help="Where artifacts uploaded through the server go (default ./mlartifacts)."
        ),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Server processes.")] = 1,
    allowed_hosts: Annotated[
        str | None,
        typer.Option("--allowed-hosts", help="Host headers to accept when not on loopback, e.g. mlflow.lab.org."),
    ] = None,
) -> None:
    """Start the MLflow UI and tracking server on the tierbench store, on loopback unless told otherwise.

    From another machine, reach it through an SSH tunnel rather than a public interface: run
    ssh -N -L 5000:127.0.0.1:5000 user@head-node on your machine, then open http://127.0.0.1:5000.
    """
    from tierbench.settings import tracking_uri as default_tracking_uri

    try:
        command = ui_command_line(
            tracking_uri or default_tracking_uri(),
            host=host,
            port=port,
            workers=workers,
            artifacts_destination=artifacts_destination,
            allowed_hosts=allowed_hosts,
        )
    except ValueError as error:
        raise fail(str(error)) from error
    if host not in LOOPBACK_HOSTS:
        typer.secho(
            f"warning: binding {host}: the MLflow server has no authentication, so anyone who reaches "
            f"{host}:{port} can read, change and delete runs; prefer loopback and an SSH tunnel",
            fg=typer.colors.YELLOW,
            err=True,
        )
    typer.echo(f"MLflow UI on {server_url(host, port)} (Ctrl-C stops it)", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.environ.setdefault(JOB_EXECUTION_VARIABLE, "false")
    os.execv(command[0], command)
