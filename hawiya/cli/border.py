"""``hawiya border``: border and desk document checks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hawiya.cli.common import (
    ChipDir,
    DataDir,
    JsonOut,
    LiveFace,
    MrzFile,
    MrzImage,
    Operator,
    QrImage,
    QrText,
    act_as,
    document_evidence,
    emit,
    handles_errors,
    open_platform,
    out,
    render_verdict,
)
from hawiya.credentials.emrtd_csca import MAX_IMPORT_BYTES
from hawiya.errors import InvalidInput

app = typer.Typer(help="Border and desk document checks, the crossing log, the watch list "
                       "and trusted CSCA certificates.", no_args_is_help=True)


@app.command("check")
@handles_errors
def border_check(location: Annotated[str, typer.Option(help="Border post or desk")],
                 direction: Annotated[str | None, typer.Option(help="in | out")] = None,
                 qr: QrText = None, qr_image: QrImage = None, mrz: MrzFile = None,
                 mrz_image: MrzImage = None, face: LiveFace = None, chip: ChipDir = None,
                 operator: Operator = None, data_dir: DataDir = None,
                 as_json: JsonOut = False) -> None:
    """Verify a document (ours or foreign), alert on lost/stolen or watch-listed ones and
    log the crossing."""
    from hawiya.credentials import desk

    platform = open_platform(data_dir)
    res = desk.border_check(platform, location=location, direction=direction,
                            actor=act_as(platform, operator, "verifier"),
                            **document_evidence(qr, qr_image, mrz, mrz_image, face, chip))
    emit(res, as_json, render_verdict)
    if res["verdict"] != "valid":
        raise typer.Exit(1)


@app.command("log")
@handles_errors
def border_log(location: Annotated[str | None, typer.Option(help="Only this post")] = None,
               document_number: Annotated[str | None, typer.Option(
                   help="Only this document")] = None,
               limit: int = 50, operator: Operator = None, data_dir: DataDir = None,
               as_json: JsonOut = False) -> None:
    """The crossing log, newest first."""
    from rich.table import Table

    from hawiya.credentials import desk

    platform = open_platform(data_dir)
    act_as(platform, operator, "verifier", "auditor")
    rows = desk.crossings(platform, location=location, document_number=document_number,
                          limit=max(1, min(limit, 1000)))

    def render(r):
        table = Table(title="Crossings")
        for col in ("at", "location", "direction", "state", "document", "verdict", "alert"):
            table.add_column(col)
        for c in r["crossings"]:
            table.add_row((c["at"] or "")[:19], c["location"], c["direction"] or "",
                          c["issuing_state"] or "", c["document_number"] or "", c["verdict"],
                          "ALERT" if c["alert"] else "")
        out.print(table)
    emit({"crossings": rows}, as_json, render)


@app.command("watchlist-import")
@handles_errors
def watchlist_import(csv_file: Annotated[Path, typer.Argument(
        help="CSV: document_number,document_type,issuing_state,status[,reported_on]")],
                     source: Annotated[str, typer.Option(
                         help="Where the list comes from, e.g. 'SLTD 2026-11-30'")],
                     operator: Operator = None, data_dir: DataDir = None,
                     as_json: JsonOut = False) -> None:
    """Import lost/stolen foreign documents (all rows or none; admin)."""
    from hawiya.credentials import watchlist

    if not csv_file.is_file():
        raise InvalidInput(f"no such file: {csv_file}")
    platform = open_platform(data_dir)
    actor = act_as(platform, operator)
    res = watchlist.import_csv(platform, csv_file.read_text("utf-8", "replace"), source=source,
                               actor=actor)
    emit(res, as_json, lambda r: out.print(f"{r['rows']} rows: {r['added']} added, "
                                           f"{r['updated']} updated ({r['source']})"))


@app.command("watchlist")
@handles_errors
def watchlist_list(issuing_state: str | None = None, document_number: str | None = None,
                   limit: int = 100, operator: Operator = None, data_dir: DataDir = None,
                   as_json: JsonOut = False) -> None:
    """List watch-listed documents."""
    from hawiya.credentials import watchlist

    platform = open_platform(data_dir)
    act_as(platform, operator, "verifier", "auditor")
    rows = watchlist.list_entries(platform, issuing_state=issuing_state,
                                  number=document_number, limit=max(1, min(limit, 1000)))
    emit({"entries": rows}, as_json, lambda r: [out.print(
        f"{e['issuing_state']} {e['document_type']} {e['document_number']}: {e['status']} "
        f"({e['source']})", markup=False) for e in r["entries"]])


@app.command("watchlist-remove")
@handles_errors
def watchlist_remove(issuing_state: str, document_number: str,
                     reason: Annotated[str, typer.Option(help="Why (audited)")],
                     operator: Operator = None, data_dir: DataDir = None,
                     as_json: JsonOut = False) -> None:
    """Take a recovered document off the watch list (admin)."""
    from hawiya.credentials import watchlist

    platform = open_platform(data_dir)
    res = watchlist.remove(platform, issuing_state, document_number,
                           actor=act_as(platform, operator), reason=reason)
    emit(res, as_json, lambda r: out.print(f"removed {r['issuing_state']} "
                                           f"{r['document_number']}"))


@app.command("csca-import")
@handles_errors
def csca_import(source: Annotated[Path, typer.Argument(
        help="CSCA certificate(s) as PEM or DER, or an ICAO master list")],
                operator: Operator = None, data_dir: DataDir = None,
                as_json: JsonOut = False) -> None:
    """Trust the CSCA certificates that passport chips are verified against (admin)."""
    from hawiya.credentials import desk_chip

    if not source.is_file():
        raise InvalidInput(f"no such file: {source}")
    platform = open_platform(data_dir)
    res = desk_chip.import_trust(platform, source.read_bytes()[:MAX_IMPORT_BYTES + 1],
                                 actor=act_as(platform, operator))
    emit(res, as_json, lambda r: out.print(
        f"{r['imported']} of {r['certificates']} CSCA certificate(s) from the {r['kind']}, "
        + ("trusted" if r["trusted"] else "NOT trusted: " + "; ".join(r["reasons"])),
        markup=False))


@app.command("csca")
@handles_errors
def csca_list(operator: Operator = None, data_dir: DataDir = None,
              as_json: JsonOut = False) -> None:
    """List the trusted CSCA certificates."""
    from hawiya.credentials import desk_chip

    platform = open_platform(data_dir)
    act_as(platform, operator, "verifier", "auditor")
    rows = desk_chip.describe(platform)
    emit({"certificates": rows}, as_json, lambda r: [out.print(
        f"{c.get('subject')}  until {c.get('not_after')}", markup=False)
        for c in r["certificates"]])
