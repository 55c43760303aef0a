"""``hawiya vehicle``: the vehicle registry: register, show, list, transfer, deregister,
assign a plate."""

from __future__ import annotations

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
)
from hawiya.roles import VEHICLE_READERS, VEHICLE_REGISTRARS

app = typer.Typer(help="Vehicle registry: register, show, list, transfer, deregister, "
                       "assign-plate.", no_args_is_help=True)

Country = Annotated[str | None, typer.Option(
    "--country", help="Plate country, ISO 3166 (a US state as US-CA); default: the "
                      "registry's own (vehicles.country)")]


def _render(r: dict) -> None:
    owner = r["owner"]
    who = f"{owner['name']} ({owner['person_id']})" if owner["person_id"] else owner["name"]
    out.print(f"[bold]{r['vin']}[/bold] {r['year'] or ''} {r['make']} {r['model']}, "
              f"{r['colour']}, class {r['vehicle_class']}  [{r['status']}]", markup=True)
    out.print(f"  manufacturer {r['manufacturer'] or 'unknown WMI ' + r['wmi']} "
              f"({r['region']})", markup=False)
    out.print(f"  owner {who}", markup=False)
    out.print(f"  plate {r['plate'] or '-'} {r['plate_country'] or ''}", markup=False)
    for p in r.get("plates", []):
        out.print(f"    {p['plate']} {p['country']}  {(p['assigned_at'] or '')[:10]} → "
                  f"{(p['ended_at'] or 'now')[:10]}", markup=False)
    for e in r.get("eplates", []):
        out.print(f"  e-plate {e['serial']} {e['plate']} {e['status']} until "
                  f"{e['expires_on']}", markup=False)


@app.command("register")
@handles_errors
def vehicle_register(
        vin: Annotated[str, typer.Argument(help="17-character VIN (ISO 3779)")],
        make: Annotated[str, typer.Option(help="Make, e.g. Toyota")],
        model: Annotated[str, typer.Option(help="Model, e.g. Corolla")],
        colour: Annotated[str, typer.Option(help="Colour")],
        vehicle_class: Annotated[str, typer.Option(
            "--class", help="UNECE category: M1 car, N1 van, L3 motorcycle...")],
        owner: Annotated[str | None, typer.Option(help="Owner: person id")] = None,
        organisation: Annotated[str | None, typer.Option(
            help="Owner: an organisation's name (instead of --owner)")] = None,
        year: Annotated[int | None, typer.Option(
            help="Model year (default: from a North-American VIN)")] = None,
        plate: Annotated[str | None, typer.Option(help="First plate")] = None,
        country: Country = None, operator: Operator = None, data_dir: DataDir = None,
        as_json: JsonOut = False) -> None:
    """Register a vehicle to a person or an organisation (optionally with its plate)."""
    from hawiya.vehicles import registry

    platform = open_platform(data_dir)
    res = registry.register(platform, vin_text=vin, make=make, model=model, colour=colour,
                            vehicle_class=vehicle_class, year=year, owner_person=owner,
                            owner_organisation=organisation, plate=plate,
                            plate_country=country,
                            actor=act_as(platform, operator, *VEHICLE_REGISTRARS))
    emit(res, as_json, _render)


@app.command("show")
@handles_errors
def vehicle_show(key: Annotated[str, typer.Argument(help="VIN or current plate")],
                 country: Country = None, operator: Operator = None,
                 data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """A vehicle with its owner, plate history and e-plates."""
    from hawiya.vehicles import registry

    platform = open_platform(data_dir)
    act_as(platform, operator, *VEHICLE_READERS)
    emit(registry.find(platform, key, country=country), as_json, _render)


@app.command("list")
@handles_errors
def vehicle_list(owner: Annotated[str | None, typer.Option(help="Only this person's")] = None,
                 status: Annotated[str | None, typer.Option(
                     help="registered | deregistered")] = None,
                 limit: int = 100, offset: int = 0, operator: Operator = None,
                 data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Registered vehicles, in registration order."""
    from hawiya.vehicles import registry

    platform = open_platform(data_dir)
    act_as(platform, operator, *VEHICLE_READERS)
    rows = registry.list_vehicles(platform, owner=owner, status=status,
                                  limit=max(1, min(limit, 1000)), offset=max(0, offset))

    def render(r):
        for v in r["vehicles"]:
            out.print(f"{v['vin']}  {v['plate'] or '-':10s} {v['make']} {v['model']} "
                      f"[{v['status']}]", markup=False)

    emit({"vehicles": rows}, as_json, render)


@app.command("transfer")
@handles_errors
def vehicle_transfer(vin: Annotated[str, typer.Argument(help="VIN or current plate")],
                     to: Annotated[str | None, typer.Option(
                         "--to", help="New owner: person id")] = None,
                     to_organisation: Annotated[str | None, typer.Option(
                         help="New owner: an organisation's name")] = None,
                     reason: str | None = None, operator: Operator = None,
                     data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Transfer ownership to another person or an organisation (audited)."""
    from hawiya.vehicles import registry

    platform = open_platform(data_dir)
    res = registry.transfer(platform, vin, to_person=to, to_organisation=to_organisation,
                            reason=reason,
                            actor=act_as(platform, operator, *VEHICLE_REGISTRARS))
    emit(res, as_json, lambda r: out.print(f"{r['vin']}: {r['previous_owner']} → "
                                           f"{r['owner']['person_id'] or r['owner']['name']}",
                                           markup=False))


@app.command("deregister")
@handles_errors
def vehicle_deregister(vin: Annotated[str, typer.Argument(help="VIN or current plate")],
                       reason: Annotated[str, typer.Option(
                           help="Why: scrapped, exported, ...")],
                       operator: Operator = None, data_dir: DataDir = None,
                       as_json: JsonOut = False) -> None:
    """Deregister a vehicle: its plate is released and its e-plates revoked."""
    from hawiya.vehicles import registry

    platform = open_platform(data_dir)
    res = registry.deregister(platform, vin, reason=reason,
                              actor=act_as(platform, operator, *VEHICLE_REGISTRARS))
    emit(res, as_json, lambda r: out.print(
        f"{r['vin']} deregistered; plate {r['plate_released'] or '-'} released, "
        f"{len(r['eplates_revoked'])} e-plate(s) revoked", markup=False))


@app.command("assign-plate")
@handles_errors
def vehicle_assign_plate(vin: Annotated[str, typer.Argument(help="VIN")],
                         plate: Annotated[str, typer.Argument(help="The new plate")],
                         country: Country = None, operator: Operator = None,
                         data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Put a plate on a vehicle (checked against the country's formats)."""
    from hawiya.vehicles import registry

    platform = open_platform(data_dir)
    res = registry.assign_plate(platform, vin, plate, country=country,
                                actor=act_as(platform, operator, *VEHICLE_REGISTRARS))
    emit(res, as_json, lambda r: out.print(
        f"{r['vin']}: plate {r['plate']} ({r['country']})"
        + (f", was {r['previous_plate']}" if r["previous_plate"] else ""), markup=False))
