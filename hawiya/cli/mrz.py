"""``hawiya mrz``: ICAO 9303 machine-readable zones: parse, build, read."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from hawiya.cli.common import JsonOut, emit, handles_errors, out
from hawiya.errors import InvalidInput

app = typer.Typer(help="ICAO 9303 machine-readable zones: parse, build, read.",
                  no_args_is_help=True)


def _render_mrz(r: dict) -> None:
    out.print(f"{r.get('document_type') or '?'}: "
              + ("[green]valid[/green]" if r["valid"] else "[red]NOT VALID[/red]"))
    for k, v in (r.get("fields") or {}).items():
        out.print(f"  {k}: {v}")
    for e in r.get("errors") or []:
        out.print(f"  [red]{e['field']}[/red]: {e['reason']}")
    for fix in r.get("repaired") or []:
        out.print(f"  repaired line {fix['line']} col {fix['column']}: {fix['from']}→{fix['to']}"
                  + ("" if fix.get("unique") else " (not unique)"))


@app.command("parse")
@handles_errors
def mrz_parse(source: Annotated[Path | None, typer.Argument(
        help="File with the MRZ lines (default: standard input)")] = None,
              as_json: JsonOut = False) -> None:
    """Parse and check MRZ lines (TD1, TD2, TD3): every check digit, dates, characters."""
    from hawiya.credentials.mrz import parse_mrz

    if source is None:
        text = sys.stdin.read(4096)
    else:
        if not source.is_file():
            raise InvalidInput(f"no such file: {source}")
        text = source.read_bytes()[:4096].decode("utf-8", "replace")
    res = parse_mrz(text).to_dict()
    emit(res, as_json, _render_mrz)
    if not res["valid"]:
        raise typer.Exit(1)


@app.command("build")
@handles_errors
def mrz_build(document_type: Annotated[str, typer.Argument(help="TD1, TD2 or TD3")],
              document_number: Annotated[str, typer.Option()],
              issuing_state: Annotated[str, typer.Option()],
              nationality: Annotated[str, typer.Option()],
              date_of_birth: Annotated[str, typer.Option(help="YYYY-MM-DD")],
              sex: Annotated[str, typer.Option(help="F, M or X")],
              date_of_expiry: Annotated[str, typer.Option(help="YYYY-MM-DD")],
              surname: Annotated[str, typer.Option(help="Any script; transliterated")],
              given_names: Annotated[str, typer.Option()] = "",
              optional_data: Annotated[str, typer.Option()] = "",
              as_json: JsonOut = False) -> None:
    """Build MRZ lines with all check digits (names transliterated per ICAO 9303 Part 3)."""
    from hawiya.credentials.mrz import build

    text = build(document_type.upper(), document_number=document_number,
                 issuing_state=issuing_state, nationality=nationality,
                 date_of_birth=date_of_birth, sex=sex, date_of_expiry=date_of_expiry,
                 surname=surname, given_names=given_names, optional_data=optional_data)
    res = {"document_type": document_type.upper(), "lines": text.split("\n")}
    emit(res, as_json, lambda r: out.print("\n".join(r["lines"]), markup=False))


@app.command("read")
@handles_errors
def mrz_read(image: Path, as_json: JsonOut = False) -> None:
    """Read the MRZ from a photo or scan of a document (OCR + check-digit-guided repair)."""
    from hawiya.credentials.mrz_ocr import read_mrz
    from hawiya.imaging import load_image

    res = read_mrz(load_image(image))
    emit(res, as_json, lambda r: (out.print("\n".join(r["lines"] or []), markup=False),
                                  _render_mrz(r)) if r["found"] else out.print(
        "[red]no MRZ found[/red]"))
    if not res["valid"]:
        raise typer.Exit(1)
