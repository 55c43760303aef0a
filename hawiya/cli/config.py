"""``hawiya config``: the effective configuration (defaults, HAWIYA_CONFIG file,
environment), validated as at start-up, with secrets masked."""

from __future__ import annotations

import typer

from hawiya.cli.common import DataDir, JsonOut, emit, handles_errors, out, state

app = typer.Typer(help="Deployment configuration: show the effective settings.",
                  no_args_is_help=True)


@app.command("show")
@handles_errors
def config_show(data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Print the effective configuration (secrets masked); a bad value is an error naming
    its key and the reason."""
    from hawiya.biometrics import modalities
    from hawiya.config import load_settings

    settings = load_settings(data_dir or state["data_dir"])
    modalities.validate(settings)
    shown = settings.public_dict()
    shown["algorithms"] = {m: modalities.algorithm_id(settings, m)
                           for m in modalities.enabled(settings)}

    def render(r):
        import yaml

        out.print(yaml.safe_dump(r, sort_keys=False, allow_unicode=True).rstrip())
    emit(shown, as_json, render)
