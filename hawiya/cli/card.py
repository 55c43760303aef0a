"""``hawiya card``: signed ID cards: issue, render, verify, status, keys."""

from __future__ import annotations

import json
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
    write_out,
)
from hawiya.errors import InvalidInput
from hawiya.roles import DOCUMENT_CHECKERS as CHECKERS
from hawiya.roles import ISSUERS

app = typer.Typer(help="Signed ID cards: issue, render, verify, status, keys.",
                  no_args_is_help=True)


@app.command("issue")
@handles_errors
def card_issue(person_id: str, operator: Operator = None, data_dir: DataDir = None,
               as_json: JsonOut = False) -> None:
    """Issue a TD1 ID card with a signed QR bound to the person's enrolled face."""
    from hawiya.credentials import documents

    platform = open_platform(data_dir)
    res = documents.issue_card(platform, person_id, actor=act_as(platform, operator, *ISSUERS))
    emit(res, as_json, lambda r: out.print(f"document {r['document_number']} for "
                                           f"{r['person_id']}, expires {r['expires_on']}"))


@app.command("render")
@handles_errors
def card_render(document_number: str, output: Annotated[Path, typer.Option("--out")],
                fmt: Annotated[str, typer.Option("--format", help="png or pdf")] = "png",
                photo: Annotated[Path | None, typer.Option(
                    help="Portrait to print instead of the enrolment portrait: it must be a "
                         "face that matches the enrolled one")] = None,
                operator: Operator = None, data_dir: DataDir = None,
                as_json: JsonOut = False) -> None:
    """Render a card (portrait, fields, MRZ, QR) to PNG or PDF."""
    from hawiya.credentials import documents

    if fmt not in ("png", "pdf"):
        raise InvalidInput("format must be png or pdf")
    platform = open_platform(data_dir)
    actor = act_as(platform, operator, *ISSUERS)
    write_out(output, documents.render(platform, document_number, fmt, photo, actor=actor))
    emit({"file": str(output)}, as_json, lambda r: out.print(f"written {r['file']}"))


@app.command("verify")
@handles_errors
def card_verify(qr: QrText = None, qr_image: QrImage = None, mrz: MrzFile = None,
                mrz_image: MrzImage = None, face: LiveFace = None, chip: ChipDir = None,
                operator: Operator = None, data_dir: DataDir = None,
                as_json: JsonOut = False) -> None:
    """Verify a presented document (ours or foreign): every check with pass/fail and the
    reason, and what a valid verdict rests on."""
    from hawiya.credentials import desk

    platform = open_platform(data_dir)
    res = desk.verify_document(platform, actor=act_as(platform, operator, *CHECKERS),
                               **document_evidence(qr, qr_image, mrz, mrz_image, face, chip))
    emit(res, as_json, render_verdict)
    if res["verdict"] != "valid":
        raise typer.Exit(1)


@app.command("status")
@handles_errors
def card_status(document_number: str, status: Annotated[str, typer.Argument(
        help="revoked | lost | stolen | valid (reinstate)")], reason: str | None = None,
                operator: Operator = None, data_dir: DataDir = None,
                as_json: JsonOut = False) -> None:
    """Revoke, report lost or stolen, or reinstate a document."""
    from hawiya.credentials import documents

    platform = open_platform(data_dir)
    res = documents.set_status(platform, document_number, status,
                               actor=act_as(platform, operator, *ISSUERS), reason=reason)
    emit(res, as_json, lambda r: out.print(f"{r['document_number']}: {r['previous']} → "
                                           f"{r['status']}"))


@app.command("revocation-list")
@handles_errors
def card_revocation_list(output: Annotated[Path, typer.Option("--out")],
                         data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Write the signed revocation list (COSE_Sign1) for offline verifiers."""
    from hawiya.credentials import documents

    write_out(output, documents.revocation_list(open_platform(data_dir)))
    emit({"file": str(output)}, as_json, lambda r: out.print(f"written {r['file']}"))


@app.command("keys")
@handles_errors
def card_keys(action: Annotated[str, typer.Argument(help="list | rotate | retire | export")],
              key_id: Annotated[str | None, typer.Option(help="retire: the key id")] = None,
              algorithm: Annotated[str | None, typer.Option(help="rotate: Ed25519|ES256")] = None,
              output: Annotated[Path | None, typer.Option("--out", help="export: file")] = None,
              operator: Operator = None, data_dir: DataDir = None,
              as_json: JsonOut = False) -> None:
    """Issuer keys: list, rotate (new active key), retire, export public keys."""
    from hawiya import audit
    from hawiya.credentials import keys

    platform = open_platform(data_dir)
    actor = act_as(platform, operator, *(("auditor", "observer", *CHECKERS)
                                         if action in ("list", "export") else ()))
    folder = platform.issuer_keys
    if action == "list":
        res = {"keys": keys.list_keys(folder)}
    elif action == "rotate":
        res = {"active": keys.rotate(folder, algorithm)}
    elif action == "retire":
        if not key_id:
            raise InvalidInput("retire needs --key-id")
        keys.retire(folder, key_id)
        res = {"retired": key_id}
    elif action == "export":
        res = keys.public_keyset(folder)
        if output:
            write_out(output, json.dumps(res, indent=1))
    else:
        raise InvalidInput("action must be list, rotate, retire or export")
    if action in ("rotate", "retire"):
        with platform.transaction() as session:
            audit.append(session, actor, f"issuer_key.{action}", None, res)
    emit(res, as_json, lambda r: out.print_json(data=r))
