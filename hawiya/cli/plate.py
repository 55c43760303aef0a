"""``hawiya plate``: signed electronic plates: issue (RFID tag bytes and windscreen QR),
verify (against the registry, or offline with an exported keyset and revocation list), and
revoke, report stolen or reinstate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from hawiya.cli.common import (
    DataDir,
    JsonOut,
    Operator,
    act_as,
    emit,
    handles_errors,
    open_platform,
    out,
    write_out,
)
from hawiya.errors import InvalidInput
from hawiya.roles import PLATE_CHECKERS, VEHICLE_REGISTRARS

app = typer.Typer(help="Signed electronic plates: issue, verify, status.",
                  no_args_is_help=True)

Country = Annotated[str | None, typer.Option(
    "--country", help="Plate country (default: the registry's own)")]
MAX_KEYSET_FILE = 4 * 2**20
MAX_LIST_FILE = 64 * 2**20


def _read(path: Path, limit: int, what: str) -> bytes:
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    with path.open("rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(f"{what} {path} is larger than {limit} bytes")
    return data


@app.command("issue")
@handles_errors
def plate_issue(plate: Annotated[str, typer.Argument(help="The vehicle's current plate")],
                country: Country = None,
                tag_out: Annotated[Path | None, typer.Option(
                    "--tag-out", help="Write the tag's user-memory image (binary) here")] = None,
                operator: Operator = None, data_dir: DataDir = None,
                as_json: JsonOut = False) -> None:
    """Issue a signed e-plate: the bytes for the RFID tag and the QR text for the sticker."""
    from hawiya.vehicles import registry

    platform = open_platform(data_dir)
    res = registry.issue_eplate(platform, plate, country=country,
                                actor=act_as(platform, operator, *VEHICLE_REGISTRARS))
    if tag_out is not None:
        write_out(tag_out, bytes.fromhex(res["tag_hex"]))

    def render(r):
        out.print(f"e-plate {r['serial']} for {r['plate']} ({r['country']}), VIN {r['vin']}, "
                  f"expires {r['expires_on']}", markup=False)
        out.print(f"  tag: {r['tag_bytes']} of {r['tag_budget_bytes']} bytes", markup=False)
        out.print(f"  QR: {r['qr_text']}", markup=False)

    emit(res, as_json, render)


def _render_verdict(r: dict) -> None:
    colour = "green" if r["valid"] else "red"
    payload = r.get("payload") or {}
    out.print(f"[{colour}][bold]{r['verdict'].upper()}[/bold][/{colour}] "
              f"{payload.get('plate', '')} {payload.get('country', '')}", markup=True)
    if r.get("alert"):
        out.print("[bold white on red] ALERT: reported stolen [/bold white on red]")
    vehicle = r.get("vehicle")
    if vehicle:
        out.print(f"  {vehicle['vin']} {vehicle['year'] or ''} {vehicle['make']} "
                  f"{vehicle['model']}, {vehicle['colour']}", markup=False)
    for c in r["checks"]:
        mark = {"pass": "[green]✓[/green]", "fail": "[red]✗[/red]"}.get(c["status"], "-")
        out.print(f"  {mark} {c['name']}: ", end="")
        out.print(c["reason"], markup=False)


@app.command("verify")
@handles_errors
def plate_verify(qr: Annotated[str | None, typer.Option("--qr", help="QR text (HP1:...)")] = None,
                 tag_hex: Annotated[str | None, typer.Option(
                     "--tag-hex", help="The tag's user memory as hex")] = None,
                 tag_file: Annotated[Path | None, typer.Option(
                     "--tag-file", help="File with the tag's user memory (binary)")] = None,
                 vin: Annotated[str | None, typer.Option(
                     help="The VIN read off the vehicle, to compare")] = None,
                 keyset: Annotated[Path | None, typer.Option(
                     help="Offline: an exported keyset (hawiya card keys export); no "
                          "registry needed")] = None,
                 revocation_list: Annotated[Path | None, typer.Option(
                     help="Offline: a signed revocation list (hawiya card "
                          "revocation-list)")] = None,
                 operator: Operator = None, data_dir: DataDir = None,
                 as_json: JsonOut = False) -> None:
    """Verify an e-plate check by check; exit code 1 when it is not valid."""
    given = [x for x in (qr, tag_hex, tag_file) if x is not None]
    if len(given) != 1:
        raise InvalidInput("give the e-plate as exactly one of --qr, --tag-hex, --tag-file")
    from hawiya.vehicles import eplate

    data = _read(tag_file, eplate.MAX_TAG_READ, "tag file") if tag_file is not None \
        else given[0]
    if keyset is not None:
        res = _offline(data, keyset, revocation_list, vin)
    else:
        if revocation_list is not None:
            raise InvalidInput("--revocation-list goes with --keyset (offline checks)")
        from hawiya.vehicles import registry

        platform = open_platform(data_dir)
        act_as(platform, operator, *PLATE_CHECKERS)
        res = registry.check_eplate(platform, data, vin_text=vin)
    emit(res, as_json, _render_verdict)
    if not res["valid"]:
        raise typer.Exit(1)


def _offline(data, keyset_file: Path, list_file: Path | None, vin: str | None) -> dict:
    """Verify with an exported keyset and (optionally) a signed revocation list only."""
    from hawiya.credentials import keys, revocation
    from hawiya.vehicles import eplate

    try:
        export = json.loads(_read(keyset_file, MAX_KEYSET_FILE, "keyset"))
    except ValueError:
        raise InvalidInput(f"keyset {keyset_file} is not JSON") from None
    trusted = keys.KeySet.from_export(export)
    entries, list_reason = None, None
    if list_file is not None:
        ok, entries, list_reason = revocation.verify_revocation_list(
            _read(list_file, MAX_LIST_FILE, "revocation list"), trusted)
        if not ok and not entries:
            raise InvalidInput(f"revocation list refused: {list_reason}")
    res = eplate.verify(data, trusted, revoked=entries, vin=vin).to_dict()
    alert = any(c["name"] == "not_revoked" and c["status"] == "fail" and "stolen" in c["reason"]
                for c in res["checks"])
    return {"verdict": "valid" if res["valid"] else "invalid", **res, "alert": alert,
            "vehicle": None, "offline": True, "revocation_list": list_reason}


@app.command("status")
@handles_errors
def plate_status(plate: Annotated[str, typer.Argument(help="The plate")],
                 status: Annotated[str, typer.Argument(
                     help="revoked | stolen | valid (reinstate)")],
                 reason: str | None = None, country: Country = None,
                 operator: Operator = None, data_dir: DataDir = None,
                 as_json: JsonOut = False) -> None:
    """Revoke, report stolen, or reinstate the plate's newest e-plate (it goes on, or off,
    the signed revocation list)."""
    from hawiya.vehicles import registry

    platform = open_platform(data_dir)
    res = registry.set_eplate_status(platform, plate, status, country=country, reason=reason,
                                     actor=act_as(platform, operator, *VEHICLE_REGISTRARS))
    emit(res, as_json, lambda r: out.print(f"{r['serial']} ({r['plate']}): {r['previous']} → "
                                           f"{r['status']}", markup=False))
