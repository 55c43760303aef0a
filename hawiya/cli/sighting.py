"""``hawiya camera``, ``hawiya sighting``, ``hawiya hotlist`` and ``hawiya alerts``: plate
cameras, sightings (typed, or read from a camera image), the re-check for cloned plates,
the plate hotlist, and the vehicle alerts they raise."""

from __future__ import annotations

import datetime as dt
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
    progress_bar,
)
from hawiya.errors import InvalidInput
from hawiya.roles import (
    HOTLIST_EDITORS,
    PLATE_CHECKERS,
    SIGHTING_RECORDERS,
    VEHICLE_READERS,
    VEHICLE_REGISTRARS,
)

camera_app = typer.Typer(help="Plate cameras: add, list.", no_args_is_help=True)
app = typer.Typer(help="Plate sightings: add, image (ANPR), list, scan for cloned plates.",
                  no_args_is_help=True)
hotlist_app = typer.Typer(help="Plate hotlist: import (CSV), add, remove, list.",
                          no_args_is_help=True)
alerts_app = typer.Typer(help="Vehicle alerts: list, ack.", no_args_is_help=True)

Country = Annotated[str | None, typer.Option(
    "--country", help="Plate country, ISO 3166 (a US state as US-CA)")]
At = Annotated[str | None, typer.Option(
    "--at", help="When it was seen: ISO 8601 with a zone (default: now)")]
Make = Annotated[str | None, typer.Option("--make", help="Make the camera saw")]
Colour = Annotated[str | None, typer.Option("--colour", help="Colour the camera saw")]
Tag = Annotated[str | None, typer.Option(
    "--tag", help="An e-plate read at the same place: tag hex or QR text (HP1:...)")]
Limit = Annotated[int, typer.Option(min=1, max=1000, help="At most this many")]


def _read(path: Path, limit: int, what: str) -> bytes:
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    with path.open("rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(f"{what} {path} is larger than {limit // 2**20} MiB")
    return data


def _now(at: str | None) -> str:
    return at or dt.datetime.now(dt.UTC).isoformat()


def _render_alerts(items: list[dict]) -> None:
    for a in items:
        out.print(f"[bold white on red] ALERT {a['id']} {a['kind']} [/bold white on red] "
                  f"{a['plate']}  [{a['status']}]", markup=True)
        for reason in a["reasons"]:
            out.print(f"  - {reason}", markup=False)
        for e in a["evidence"]:
            out.print(f"    evidence: sighting {e['sighting_id']} at {e['camera_id']} "
                      f"{e['seen_at']}" + (" (image)" if e["image"] else ""), markup=False)


# =========================================================================== cameras

@camera_app.command("add")
@handles_errors
def camera_add(camera_id: Annotated[str, typer.Argument(help="e.g. CAM-A12")],
               name: Annotated[str, typer.Option(help="What people call it")],
               lat: Annotated[float, typer.Option(help="Latitude, degrees")],
               lon: Annotated[float, typer.Option(help="Longitude, degrees")],
               location: Annotated[str | None, typer.Option(help="Road, junction")] = None,
               operator: Operator = None, data_dir: DataDir = None,
               as_json: JsonOut = False) -> None:
    """Register a plate camera at a place."""
    from hawiya.vehicles import sightings

    platform = open_platform(data_dir)
    res = sightings.add_camera(platform, camera_id=camera_id, name=name, latitude=lat,
                               longitude=lon, location=location,
                               actor=act_as(platform, operator, *VEHICLE_REGISTRARS))
    emit(res, as_json, lambda r: out.print(
        f"camera {r['camera_id']} ({r['name']}) at {r['latitude']:.5f}, "
        f"{r['longitude']:.5f}", markup=False))


@camera_app.command("list")
@handles_errors
def camera_list(operator: Operator = None, data_dir: DataDir = None,
                as_json: JsonOut = False) -> None:
    """Plate cameras."""
    from hawiya.vehicles import sightings

    platform = open_platform(data_dir)
    act_as(platform, operator, *VEHICLE_READERS)

    def render(r):
        for c in r["cameras"]:
            out.print(f"{c['camera_id']:12} {c['latitude']:10.5f} {c['longitude']:11.5f}  "
                      f"{c['name']}" + ("" if c["active"] else "  (inactive)"), markup=False)

    emit({"cameras": sightings.list_cameras(platform)}, as_json, render)


# =========================================================================== sightings

def _render_sighting(r: dict) -> None:
    out.print(f"sighting {r['sighting_id']}: {r['plate']} at {r['camera_id']} {r['seen_at']}",
              markup=False)
    if r.get("tag"):
        out.print(f"  tag: {r['tag']['reason']}", markup=False)
    _render_alerts(r["alerts"])


@app.command("add")
@handles_errors
def sighting_add(camera_id: Annotated[str, typer.Argument(help="The camera (or post)")],
                 plate: Annotated[str, typer.Argument(help="The plate read")],
                 at: At = None, country: Country = None,
                 confidence: Annotated[float | None, typer.Option(min=0, max=1)] = None,
                 make: Make = None, colour: Colour = None, tag: Tag = None,
                 image: Annotated[Path | None, typer.Option(
                     help="Evidence photo (kept encrypted)")] = None,
                 source: Annotated[str, typer.Option(help="camera | manual")] = "manual",
                 operator: Operator = None, data_dir: DataDir = None,
                 as_json: JsonOut = False) -> None:
    """Record a plate sighting; prints the alerts it raised."""
    from hawiya.vehicles import sightings

    platform = open_platform(data_dir)
    data = _read(image, sightings.MAX_IMAGE_BYTES, "image") if image else None
    res = sightings.record_sighting(
        platform, camera_id=camera_id, plate=plate, seen_at=_now(at), country=country,
        confidence=confidence, observed_make=make, observed_colour=colour, tag=tag,
        image=data, source=source,
        actor=act_as(platform, operator, *SIGHTING_RECORDERS))
    emit(res, as_json, _render_sighting)


@app.command("image")
@handles_errors
def sighting_image(camera_id: Annotated[str, typer.Argument(help="The camera")],
                   image: Annotated[Path, typer.Argument(help="The camera's photo")],
                   at: At = None, country: Country = None,
                   min_confidence: Annotated[float, typer.Option(min=0, max=1)] = 0.5,
                   plate: Annotated[str | None, typer.Option(
                       help="The plate, when the camera read it (no ANPR)")] = None,
                   make: Make = None, colour: Colour = None, tag: Tag = None,
                   operator: Operator = None, data_dir: DataDir = None,
                   as_json: JsonOut = False) -> None:
    """Read the plates in a camera image (ANPR) and record a sighting of each."""
    from hawiya.vehicles import sightings

    platform = open_platform(data_dir)
    data = _read(image, sightings.MAX_IMAGE_BYTES, "image")
    res = sightings.record_image(
        platform, camera_id=camera_id, image=data, seen_at=_now(at), country=country,
        min_confidence=min_confidence, plate=plate, observed_make=make,
        observed_colour=colour, tag=tag,
        actor=act_as(platform, operator, *SIGHTING_RECORDERS))

    def render(r):
        out.print(f"{r['message']} ({r['ms']:.0f} ms)", markup=False)
        for p in r["plates"]:
            conf = "" if p["confidence"] is None else f" {p['confidence']:.2f}"
            out.print(f"  {p['text']}{conf} → sighting {p['sighting_id']}", markup=False)
        for s in r["skipped"]:
            out.print(f"  (not recorded: {s['text']} {s['confidence']:.2f})", markup=False)
        _render_alerts(r["alerts"])

    emit(res, as_json, render)


@app.command("list")
@handles_errors
def sighting_list(plate: Annotated[str | None, typer.Option(help="Only this plate")] = None,
                  camera: Annotated[str | None, typer.Option(help="Only this camera")] = None,
                  limit: Limit = 50, operator: Operator = None, data_dir: DataDir = None,
                  as_json: JsonOut = False) -> None:
    """Sightings, newest first."""
    from hawiya.vehicles import sightings

    platform = open_platform(data_dir)
    act_as(platform, operator, *VEHICLE_READERS)
    rows = sightings.list_sightings(platform, plate=plate, camera_id=camera, limit=limit)

    def render(r):
        for s in r["sightings"]:
            out.print(f"{s['id']:>8} {s['seen_at'][:19]} {s['camera_id']:12} {s['plate']:10} "
                      f"{s['observed_colour'] or ''} {s['observed_make'] or ''}"
                      + (" [image]" if s["has_image"] else ""), markup=False)

    emit({"sightings": rows}, as_json, render)


@app.command("scan")
@handles_errors
def sighting_scan(since: Annotated[str | None, typer.Option(
                      help="From this time (ISO 8601 with a zone)")] = None,
                  until: Annotated[str | None, typer.Option(help="Until this time")] = None,
                  max_kmh: Annotated[float | None, typer.Option(
                      min=1, max=2000, help="Fastest plausible speed (default 250)")] = None,
                  operator: Operator = None, data_dir: DataDir = None,
                  as_json: JsonOut = False) -> None:
    """Re-check stored sightings for impossible journeys (cloned plates), vectorised; raise
    the alerts not raised yet."""
    from hawiya.vehicles import sightings

    platform = open_platform(data_dir)
    actor = act_as(platform, operator, *PLATE_CHECKERS)
    with progress_bar("loading sightings", disable=as_json) as bar:
        task = bar.add_task("scan", total=None)
        limit = {} if max_kmh is None else {"max_kmh": max_kmh}
        res = sightings.scan(platform, actor=actor, since=since, until=until, **limit,
                             progress=lambda done, total: bar.update(task, completed=done,
                                                                     total=total))
    emit(res, as_json, lambda r: out.print(
        f"{r['sightings']} sightings, {r['pairs']} impossible journeys, {r['new_alerts']} "
        f"new alerts ({r['seconds']} s)", markup=False))


# =========================================================================== hotlist

@hotlist_app.command("import")
@handles_errors
def hotlist_import(csv_file: Annotated[Path, typer.Argument(
                       help="CSV: plate,country,reason[,note]")],
                   source: Annotated[str, typer.Option(help="Where it comes from")],
                   operator: Operator = None, data_dir: DataDir = None,
                   as_json: JsonOut = False) -> None:
    """Import hotlist entries (all rows or none; a re-import updates)."""
    from hawiya.vehicles import hotlist

    platform = open_platform(data_dir)
    text = _read(csv_file, 256 * 2**20, "CSV").decode("utf-8", "replace")
    res = hotlist.import_csv(platform, text, source=source,
                             actor=act_as(platform, operator, *VEHICLE_REGISTRARS))
    emit(res, as_json, lambda r: out.print(
        f"{r['rows']} rows: {r['added']} added, {r['updated']} updated", markup=False))


@hotlist_app.command("add")
@handles_errors
def hotlist_add(plate: Annotated[str, typer.Argument(help="The plate")],
                reason: Annotated[str, typer.Option(
                    help="stolen | wanted | registration_expired | plate_revoked")],
                country: Country = None, note: str | None = None, source: str = "manual",
                operator: Operator = None, data_dir: DataDir = None,
                as_json: JsonOut = False) -> None:
    """Put a plate on the hotlist."""
    from hawiya.vehicles import hotlist

    platform = open_platform(data_dir)
    res = hotlist.add(platform, plate=plate, reason=reason, country=country, note=note,
                      source=source,
                      actor=act_as(platform, operator, *HOTLIST_EDITORS))
    emit(res, as_json, lambda r: out.print(
        f"{r['plate']} ({r['country']}) on the hotlist: {r['reason']}", markup=False))


@hotlist_app.command("remove")
@handles_errors
def hotlist_remove(country: Annotated[str, typer.Argument(help="Plate country")],
                   plate: Annotated[str, typer.Argument(help="The plate")],
                   note: Annotated[str, typer.Option(help="Why (audited)")],
                   reason: Annotated[str | None, typer.Option(
                       help="Only this hotlist reason (default: all)")] = None,
                   operator: Operator = None, data_dir: DataDir = None,
                   as_json: JsonOut = False) -> None:
    """Take a plate off the hotlist."""
    from hawiya.vehicles import hotlist

    platform = open_platform(data_dir)
    res = hotlist.remove(platform, country, plate, note=note, reason=reason,
                         actor=act_as(platform, operator, *VEHICLE_REGISTRARS))
    emit(res, as_json, lambda r: out.print(
        f"{r['plate']} ({r['country']}) off the hotlist: {', '.join(r['removed'])}",
        markup=False))


@hotlist_app.command("list")
@handles_errors
def hotlist_list(plate: str | None = None, country: Country = None,
                 reason: str | None = None,
                 removed: Annotated[bool, typer.Option(
                     "--removed", help="Removed entries instead of active ones")] = False,
                 limit: Limit = 100, operator: Operator = None, data_dir: DataDir = None,
                 as_json: JsonOut = False) -> None:
    """Hotlist entries."""
    from hawiya.vehicles import hotlist

    platform = open_platform(data_dir)
    act_as(platform, operator, *VEHICLE_READERS)
    rows = hotlist.list_entries(platform, plate=plate, country=country, reason=reason,
                                active=not removed, limit=limit)
    emit({"entries": rows}, as_json, lambda r: [out.print(
        f"{e['country']:5} {e['plate']:12} {e['reason']:22} {e['note'] or ''}", markup=False)
        for e in r["entries"]])


# =========================================================================== alerts

@alerts_app.command("list")
@handles_errors
def alerts_list(status: Annotated[str | None, typer.Option(
                    help="open | acknowledged")] = "open",
                plate: str | None = None, kind: str | None = None, limit: Limit = 50,
                operator: Operator = None, data_dir: DataDir = None,
                as_json: JsonOut = False) -> None:
    """Vehicle alerts, newest first, with their reasons and evidence."""
    from hawiya.vehicles import alerts

    platform = open_platform(data_dir)
    act_as(platform, operator, *VEHICLE_READERS)
    rows = alerts.list_alerts(platform, status=status or None, plate=plate, kind=kind,
                              limit=limit)
    emit({"alerts": rows}, as_json, lambda r: _render_alerts(r["alerts"]))


@alerts_app.command("ack")
@handles_errors
def alerts_ack(alert_id: Annotated[int, typer.Argument(min=1, max=2**63 - 1)],
               note: str | None = None, operator: Operator = None,
               data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Acknowledge an alert (audited, once)."""
    from hawiya.vehicles import alerts

    platform = open_platform(data_dir)
    res = alerts.acknowledge(platform, alert_id, note=note,
                             actor=act_as(platform, operator, *PLATE_CHECKERS))
    emit(res, as_json, lambda r: out.print(f"alert {r['id']} acknowledged by "
                                           f"{r['acknowledged_by']}", markup=False))
