"""Setting up a data folder and running the REST API: ``hawiya init``, ``hawiya serve``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from hawiya.cli.common import DataDir, JsonOut, emit, handles_errors, open_platform, out
from hawiya.errors import ConfigError, InvalidInput

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
              envvar="HAWIYA_ADMIN_PASSWORD", help="Password for the first admin")] = None,
          certfile: Annotated[Path | None, typer.Option(
              "--certfile", help="TLS certificate chain (PEM): serve HTTPS")] = None,
          keyfile: Annotated[Path | None, typer.Option(
              "--keyfile", help="TLS private key (PEM, unencrypted) of --certfile")] = None,
          ) -> None:
    """Run the REST API (initialising the data dir on first start); HTTPS with
    --certfile/--keyfile."""
    import uvicorn

    from hawiya import auth
    from hawiya.api.app import create_app

    platform = open_platform(data_dir, must_exist=False)
    tls = _tls_options(certfile or platform.settings.server.certfile,
                       keyfile or platform.settings.server.keyfile)
    platform.init()
    with platform.transaction() as session:
        password = auth.bootstrap_admin(session, admin_password)
    url = f"{'https' if tls else 'http'}://{host}:{port}"
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
                    port=port, log_level="info", **tls)
    else:
        uvicorn.run(create_app(platform), host=host, port=port, log_level="info", **tls)


def _tls_options(certfile: Path | None, keyfile: Path | None) -> dict:
    """uvicorn's TLS keywords, after checking that both files are there, readable, and a
    certificate with its key: a clear error now rather than a traceback at start-up."""
    import ssl

    if certfile is None and keyfile is None:
        return {}
    if certfile is None or keyfile is None:
        raise InvalidInput("HTTPS needs both --certfile and --keyfile")
    for what, path in (("certificate", certfile), ("key", keyfile)):
        try:
            with open(path, "rb") as fh:
                fh.read(1)
        except OSError as exc:
            raise ConfigError(f"TLS {what} file {path}: {exc.strerror or exc}") from None
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            str(certfile), str(keyfile), password=lambda: b"")
    except (ssl.SSLError, ValueError, OSError) as exc:
        raise ConfigError(f"TLS certificate {certfile} and key {keyfile} cannot be used "
                          f"together ({getattr(exc, 'reason', None) or exc}); both must be "
                          "PEM, the key unencrypted and matching the certificate") from None
    return {"ssl_certfile": str(certfile), "ssl_keyfile": str(keyfile)}
