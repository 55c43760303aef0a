"""``hawiya anpr``: licence-plate recognition from camera images."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from hawiya.cli.common import JsonOut, emit, handles_errors, out, progress_bar
from hawiya.errors import HawiyaError, InvalidInput

app = typer.Typer(help="Licence-plate recognition (ANPR) from camera images.",
                  no_args_is_help=True)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
Country = Annotated[str | None, typer.Option(
    "--country", help="ISO 3166 code whose plate formats apply (a US state as US-XX); "
                      "default: none, the generic rule (4-10 characters, a reading that "
                      "fits any known format preferred)")]


def _render_plates(r: dict) -> None:
    if not r["plates"]:
        out.print("no plate found")
    for p in r["plates"]:
        x, y, w, h = p["box"]
        alt = ", ".join(f"{c['text']} {c['confidence']:.2f}" for c in p["candidates"][1:]
                        if c["confidence"] >= 0.01)
        out.print(f"[bold]{p['text']}[/bold] {p['confidence']:.2f} at {x},{y} {w}x{h}"
                  + (f" ({p['format']})" if p["format"] else "")
                  + (f"; also {alt}" if alt else ""), markup=True, highlight=False)


@app.command("read")
@handles_errors
def anpr_read(source: Annotated[Path, typer.Argument(
        help="An image, or a folder of images (each read in turn)")],
              country: Country = None,
              top: Annotated[int, typer.Option(min=1, max=20,
                                               help="Candidates per plate")] = 5,
              as_json: JsonOut = False) -> None:
    """Find every plate in a photo, read it and score the reading (top candidates too)."""
    from hawiya.vehicles.anpr import read_plates

    country = country.upper() if country else None
    if source.is_dir():
        files = sorted(p for p in source.iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InvalidInput(f"no images in {source}")
        results = []
        with progress_bar("Reading plates", eta=True,
                          disable=as_json and not sys.stderr.isatty()) as bar:
            task = bar.add_task("read", total=len(files))
            for path in files:
                try:
                    res = {"path": str(path), **read_plates(path, country=country, top=top)}
                except HawiyaError as exc:
                    if exc.code != "invalid_image":
                        raise
                    res = {"path": str(path), "plates": [], "error": exc.message}
                results.append(res)
                bar.advance(task)

        def render(r: dict) -> None:
            for res in r["images"]:
                out.print(f"[cyan]{res['path']}[/cyan]", highlight=False)
                if "error" in res:
                    out.print(f"  [red]{res['error']}[/red]", highlight=False)
                else:
                    _render_plates(res)
        emit({"images": results}, as_json, render)
        return
    if not source.exists():
        raise InvalidInput(f"no such file or folder: {source}")
    emit(read_plates(source, country=country, top=top), as_json, _render_plates)
