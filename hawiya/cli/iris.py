"""``hawiya iris``: look inside the iris engine, one capture at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hawiya.cli.common import JsonOut, emit, handles_errors, out, state
from hawiya.errors import InvalidInput

app = typer.Typer(help="Iris engine diagnostics.", no_args_is_help=True)


@app.command("explain")
@handles_errors
def iris_explain(image: Annotated[Path, typer.Argument(help="Iris image")],
                 out_dir: Annotated[Path, typer.Option("--out", help="Folder for the PNGs")],
                 as_json: JsonOut = False) -> None:
    """Segmentation overlay, mask, normalised strip, code and quality of one image, so a
    failure on a new camera can be seen stage by stage."""
    import cv2

    from hawiya.biometrics import modalities
    from hawiya.biometrics.iris_explain import explain
    from hawiya.config import load_settings

    if not image.is_file():
        raise InvalidInput(f"no such file: {image}")
    img = cv2.imread(str(image), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InvalidInput(f"not an image OpenCV can read: {image}")
    if img.ndim == 3:
        img = cv2.cvtColor(img[:, :, :3], cv2.COLOR_BGR2RGB)
    settings = load_settings(state["data_dir"])
    cfg = modalities.engine_for(settings, "iris").config
    res = explain(img, out_dir, cfg)

    def render(r: dict) -> None:
        out.print(("[green]usable[/green]" if r["ok"] else "[red]REJECTED[/red]")
                  + f" quality {r['score']}" + (f": {', '.join(r['reasons'])}"
                                                 if r["reasons"] else ""))
        for k, v in r["metrics"].items():
            out.print(f"  {k}: {v}")
        for k, v in r["files"].items():
            out.print(f"  {k}: {v}")
    emit(res, as_json, render)
