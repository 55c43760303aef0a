"""``hawiya border``: border and desk document checks."""

from __future__ import annotations

from typing import Annotated

import typer

from hawiya.cli.common import (
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
    render_verdict,
)

app = typer.Typer(help="Border and desk document checks.", no_args_is_help=True)


@app.command("check")
@handles_errors
def border_check(location: Annotated[str, typer.Option(help="Border post or desk")],
                 direction: Annotated[str | None, typer.Option(help="in | out")] = None,
                 qr: QrText = None, qr_image: QrImage = None, mrz: MrzFile = None,
                 mrz_image: MrzImage = None, face: LiveFace = None, operator: Operator = None,
                 data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Verify a document, alert on lost/stolen ones and log the crossing."""
    from hawiya.credentials import documents

    platform = open_platform(data_dir)
    res = documents.border_check(platform, location=location, direction=direction,
                                 actor=act_as(platform, operator, "verifier"),
                                 **document_evidence(qr, qr_image, mrz, mrz_image, face))
    emit(res, as_json, render_verdict)
    if res["verdict"] != "valid":
        raise typer.Exit(1)
