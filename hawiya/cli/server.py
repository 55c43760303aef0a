"""Setting up a data folder and running the REST API: ``hawiya init``, ``hawiya serve``."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from hawiya.cli.common import DataDir, JsonOut, emit, handles_errors, open_platform, out

app = typer.Typer()


@app.command()
@handles_errors
def init(data_dir: DataDir = None, admin_password: Annotated[str | None, typer.Option(
        envvar="HAWIYA_ADMIN_PASSWORD", help="Password for the first admin")] = None,
         as_json: JsonOut = False) -> None:
    """Create the data dir, template key, database schema and the first admin."""
    from hawiya import auth

    platform = open_platform(data_dir, must_exist=False)
    info = platform.init()
    with platform.transaction() as session:
        password = auth.bootstrap_admin(session, admin_password)
    info["admin_created"] = password is not None
    if password and not admin_password:
        info["admin_password"] = password
    emit(info, as_json, lambda r: out.print(
        f"Initialised {r['data_dir']} ({r['database']})."
        + (f"\nAdmin user: admin / {password}  (shown once; change it)" if password and
           not admin_password else "")))


@app.command()
@handles_errors
def serve(data_dir: DataDir = None, host: str = "127.0.0.1", port: int = 8000,
          workers: Annotated[int, typer.Option(
              help="Server processes (biometric extraction is CPU-bound: one per core)")] = 1,
          admin_password: Annotated[str | None, typer.Option(
              envvar="HAWIYA_ADMIN_PASSWORD", help="Password for the first admin")] = None
          ) -> None:
    """Run the REST API (initialising the data dir on first start)."""
    import uvicorn

    from hawiya import auth
    from hawiya.api.app import create_app

    platform = open_platform(data_dir, must_exist=False)
    platform.init()
    with platform.transaction() as session:
        password = auth.bootstrap_admin(session, admin_password)
    url = f"http://{host}:{port}"
    out.print(f"Hawiya API on [bold]{url}[/bold]  (OpenAPI: {url}/docs)")
    out.print(f"Data: {platform.settings.data_dir}")
    if password:
        out.print(f"First start: admin user [bold]admin[/bold] / [bold]{password}[/bold] "
                  "(shown once)")
    out.print(f"Log in: curl -X POST {url}/auth/token -d username=admin -d password=...  "
              "then send 'Authorization: Bearer <token>'")
    if workers > 1:
        # Each worker process builds its own Platform from the environment.
        os.environ["HAWIYA_DATA_DIR"] = str(platform.settings.data_dir)
        os.environ.setdefault("HAWIYA_DATABASE_URL", platform.settings.database_url)
        platform.close()
        uvicorn.run("hawiya.api.app:create_app", factory=True, workers=workers, host=host,
                    port=port, log_level="info")
    else:
        uvicorn.run(create_app(platform), host=host, port=port, log_level="info")
