"""``hawiya election``: geography, roll, check-in, offline sync, turnout."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hawiya.cli.common import (
    Captures,
    DataDir,
    Fingers,
    IrisLeft,
    IrisRight,
    JsonOut,
    Operator,
    act_as,
    capture_options,
    emit,
    handles_errors,
    open_platform,
    out,
    progress_bar,
    write_out,
)
from hawiya.errors import InvalidInput
from hawiya.roles import ELECTION_ADMINS as ADMIN
from hawiya.roles import ELECTION_WATCHERS as WATCHERS

app = typer.Typer(help="Elections: geography, roll, check-in, sync, turnout.",
                  no_args_is_help=True)

# Roles that may use each command once logged in, as the API's routes (admin always may).


@app.command("create")
@handles_errors
def election_create(code: str, name: Annotated[str, typer.Option()],
                    date: Annotated[str, typer.Option(help="Election day YYYY-MM-DD")],
                    eligibility_date: Annotated[str | None, typer.Option(
                        help="Age is counted on this day (default: election day)")] = None,
                    min_age: int = 18, operator: Operator = None, data_dir: DataDir = None,
                    as_json: JsonOut = False) -> None:
    """Create an election."""
    from hawiya.elections import geography

    platform = open_platform(data_dir)
    res = geography.create_election(platform, code, name, date, eligibility_date, min_age,
                                    actor=act_as(platform, operator, *ADMIN))
    emit(res, as_json, lambda r: out.print(f"election {r['code']} created"))


@app.command("withdraw")
@handles_errors
def election_withdraw(code: str, operator: Operator = None, data_dir: DataDir = None,
                      as_json: JsonOut = False) -> None:
    """Withdraw an election nobody has checked in to (its roll goes with it; audited)."""
    from hawiya.elections import roll

    platform = open_platform(data_dir)
    res = roll.withdraw_election(platform, code, actor=act_as(platform, operator, *ADMIN))
    emit(res, as_json, lambda r: out.print(f"election {r['election']} withdrawn"))


@app.command("add")
@handles_errors
def election_add(kind: Annotated[str, typer.Argument(help="district | centre | station")],
                 code: str, name: str = "",
                 parent: Annotated[str | None, typer.Option(
                     help="District of a centre, centre of a station")] = None,
                 key_out: Annotated[Path | None, typer.Option(
                     help="Write a new station's private key here (0600)")] = None,
                 operator: Operator = None, data_dir: DataDir = None,
                 as_json: JsonOut = False) -> None:
    """Add a district, polling centre or station (a station gets its own signing key)."""
    from hawiya.elections import geography

    platform = open_platform(data_dir)
    actor = act_as(platform, operator, *ADMIN)
    if kind == "district":
        res = geography.add_district(platform, code, name, actor=actor)
    elif kind in ("centre", "station"):
        if not parent:
            raise InvalidInput(f"a {kind} needs --parent")
        add = geography.add_centre if kind == "centre" else geography.add_station
        res = add(platform, code, name, parent, actor=actor)
    else:
        raise InvalidInput("kind must be district, centre or station")
    if key_out and "station_private_key" in res:
        fd = os.open(key_out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(res.pop("station_private_key"))
        res["station_private_key_file"] = str(key_out)
    emit(res, as_json, lambda r: out.print(f"{kind} {r['code']} added"))


@app.command("roll")
@handles_errors
def election_roll(action: Annotated[str, typer.Argument(
        help="build | freeze | export | pdf | exclusions")], code: str,
                  station: Annotated[str | None, typer.Option(help="export: one station")] = None,
                  output: Annotated[Path | None, typer.Option("--out", help="export: CSV file")
                                    ] = None,
                  operator: Operator = None, data_dir: DataDir = None,
                  as_json: JsonOut = False) -> None:
    """Build the roll from the registry, freeze (sign) it, export it (CSV, or one station's
    printable list as PDF), list exclusions."""
    from hawiya.elections import roll

    platform = open_platform(data_dir)
    actor = act_as(platform, operator, *(ADMIN if action in ("build", "freeze") else WATCHERS))
    if action == "build":
        with progress_bar("building roll", disable=as_json) as progress:
            task = progress.add_task("roll", total=None)
            res = roll.build_roll(platform, code, actor=actor, on_progress=lambda d, t:
                                  progress.update(task, completed=d, total=t))
    elif action == "freeze":
        res = roll.freeze_roll(platform, code, actor=actor)
    elif action == "export":
        text = roll.export_csv(platform, code, station)
        if output:
            write_out(output, text)
            res = {"file": str(output), "rows": text.count("\n") - 1}
        else:
            sys.stdout.write(text)
            return
    elif action == "pdf":
        from hawiya.elections.printing import station_list_pdf

        if not (station and output):
            raise InvalidInput("pdf needs --station and --out")
        write_out(output, station_list_pdf(platform, code, station))
        res = {"file": str(output)}
    elif action == "exclusions":
        res = {"exclusions": roll.exclusions(platform, code)}
    else:
        raise InvalidInput("action must be build, freeze, export, pdf or exclusions")
    emit(res, as_json, lambda r: out.print_json(data=r))


@app.command("check-in")
@handles_errors
def election_check_in(code: str, station: Annotated[str, typer.Option()],
                      voter_number: Annotated[str | None, typer.Option()] = None,
                      qr: Annotated[str | None, typer.Option(help="ID card QR text")] = None,
                      face: Annotated[Path | None, typer.Option()] = None,
                      iris_left: IrisLeft = None, iris_right: IrisRight = None,
                      finger: Fingers = None, capture: Captures = None,
                      operator: Operator = None, data_dir: DataDir = None,
                      as_json: JsonOut = False) -> None:
    """Check a voter in (voter number, QR or biometric search; biometric verification)."""
    from hawiya.elections import checkin

    platform = open_platform(data_dir)
    clerk = act_as(platform, operator, "polling_clerk", *ADMIN, station=station)
    res = checkin.check_in(platform, code, station, clerk=clerk,
                           voter_number=voter_number, qr_text=qr,
                           captures=capture_options(face, iris_left, iris_right, finger,
                                                    capture))
    emit(res, as_json, lambda r: out.print(f"[bold]{r['outcome']}[/bold] "
                                           f"{r.get('voter_number') or ''}"))


@app.command("package")
@handles_errors
def election_package(code: str, station: str, output: Annotated[Path, typer.Option("--out")],
                     operator: Operator = None, data_dir: DataDir = None,
                     as_json: JsonOut = False) -> None:
    """Write the roll copy a station takes offline (JSON)."""
    from hawiya.elections import offline

    platform = open_platform(data_dir)
    act_as(platform, operator, "polling_clerk", *ADMIN, station=station)
    pkg = offline.station_package(platform, code, station)
    write_out(output, json.dumps(pkg, ensure_ascii=False))
    res = {"file": str(output), "voters": len(pkg["roll"])}
    emit(res, as_json, lambda r: out.print(f"{r['voters']} voters written to {r['file']}"))


@app.command("sync")
@handles_errors
def election_sync(log_file: Path, operator: Operator = None, data_dir: DataDir = None,
                  as_json: JsonOut = False) -> None:
    """Take an offline station's signed check-in log (JSON)."""
    from hawiya.elections import offline

    try:
        log = json.loads(log_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read station log {log_file}: {exc}") from exc
    platform = open_platform(data_dir)
    actor = act_as(platform, operator, "polling_clerk", *ADMIN,
                   station=str(log.get("station")) if isinstance(log, dict) else None)
    res = offline.sync_station_log(platform, log, actor=actor)
    emit(res, as_json, lambda r: out.print_json(data=r))


@app.command("turnout")
@handles_errors
def election_turnout(code: str, data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Turnout by station, centre and district."""
    from hawiya.elections import turnout

    res = turnout.turnout(open_platform(data_dir), code)

    def render(r):
        out.print(f"{r['election']}: {r['checked_in']} of {r['roll']} "
                  f"({100 * r['turnout']:.1f}%)")
        table = Table()
        for col in ("district", "roll", "checked in", "turnout"):
            table.add_column(col)
        for d, agg in sorted(r["district"].items()):
            table.add_row(d, str(agg["roll"]), str(agg["checked_in"]),
                          f"{100 * agg['turnout']:.1f}%")
        out.print(table)
    emit(res, as_json, render)


@app.command("report")
@handles_errors
def election_report(code: str, data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Audit report: roll digest and signature, check-in digest, anomalies, audit chain."""
    from hawiya.elections import turnout

    res = turnout.audit_report(open_platform(data_dir), code)
    emit(res, as_json, lambda r: out.print_json(data=r))
